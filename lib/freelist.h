/*
 * A free block's first word links it to the next free block. This file is
 * the only place a link is read or written, so that an encoded form (a
 * hardened build) changes one place.
 *
 *   free block of class cls:  [ next | (rest of the block, unspecified) ]
 */
#ifndef SM_FREELIST_H
#define SM_FREELIST_H

#include "track.h"

typedef struct sm_block {
    struct sm_block *next;
} sm_block_t;

/* The link word of a free block is no-access to Memcheck in a valgrind
 * build (track.h); the open/close helpers are empty otherwise. */
static inline sm_block_t *sm_freelist_next(const sm_block_t *b)
{
    sm_track_link_open(b);
    sm_block_t *next = b->next;
    sm_track_link_close(b);
    return next;
}

static inline void sm_freelist_set_next(sm_block_t *b, sm_block_t *next)
{
    sm_track_link_open(b);
    b->next = next;
    sm_track_link_close(b);
}

#endif
