/*
 * A free block's first word links it to the next free block. This file is
 * the only place a link is read or written, so that the encoded form of the
 * hardened build (SMALLOC_SECURE) changes one place.
 *
 *   free block of class cls:  [ link | (rest of the block, unspecified) ]
 *
 * Default build: link = next.
 * Hardened build: link = next ^ key ^ address of the link (in the manner of
 * glibc's safe-linking, plus a per-process random key taken from
 * getrandom(2) when the first arena is mapped, before any link exists). A
 * decoded link must be NULL or an 8-byte aligned address below 2^47; bytes
 * written over a free block by an overflow decode to something else with
 * probability 1 - 2^-20 unless the writer knows the key and the block's
 * address, and the process aborts with a message instead of handing out a
 * forged pointer. (An attacker who can read a freed block's link and knows
 * its address learns the key: this stops blind overwrites, not that.) The
 * live-block bitmap (secure.h) then checks every block before it is handed
 * out, which catches links rewritten in their low bytes only.
 */
#ifndef SM_FREELIST_H
#define SM_FREELIST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"
#include "track.h"

typedef struct sm_block {
    struct sm_block *next;
} sm_block_t;

/* The key of the hardened build (secure.c); 0 until the first arena, set
 * once (compare-exchange) before any link is encoded, then only read. */
extern sm_hidden _Atomic uintptr_t sm_g_freelist_key;

/* "malloc(): corrupted free list" and abort; b is the block whose link
 * did not decode. */
sm_hidden void sm_freelist_corrupt(const sm_block_t *b) sm_noreturn sm_cold sm_noinline;

static inline uintptr_t sm_freelist_mask(const sm_block_t *b)
{
    return atomic_load_explicit(&sm_g_freelist_key, memory_order_relaxed) ^ (uintptr_t)b;
}

/* The link word of a free block is no-access to Memcheck in a valgrind
 * build (track.h); the open/close helpers are empty otherwise. */
static inline sm_block_t *sm_freelist_next(const sm_block_t *b)
{
    sm_track_link_open(b);
    uintptr_t link = (uintptr_t)b->next;
    sm_track_link_close(b);
    if (SM_SECURE) {
        link ^= sm_freelist_mask(b);
        /* Bits 47..63 and 0..2 of a block address are 0. */
        if (sm_unlikely(link & ~(((uintptr_t)1 << SM_ADDRESS_BITS) - SM_QUANTUM)))
            sm_freelist_corrupt(b);
    }
    return (sm_block_t *)link;
}

static inline void sm_freelist_set_next(sm_block_t *b, sm_block_t *next)
{
    uintptr_t link = (uintptr_t)next;
    if (SM_SECURE)
        link ^= sm_freelist_mask(b);
    sm_track_link_open(b);
    b->next = (sm_block_t *)link;
    sm_track_link_close(b);
}

/* The freed mark (glibc's tcache key, at the other end of the block): a
 * block pushed on a thread cache gets SM_FREED_MARK in its last word, and
 * loses it when popped. free() of a block that carries the mark takes the
 * slow path, which looks for the block in the thread cache, the transfer
 * cache and its pool's free list, and reports a double free if it is in one
 * of them; a live block whose last word the program happened to set to the
 * mark is only looked for, and freed. So free(a); free(b); free(a) is caught
 * in every build, not only with a at the head of the bin.
 *
 *   block of class cls >= 2, freed:  [ link | ...              | mark ]
 *   block of class 1 (8 bytes):      [ link ]   (the mark is overwritten)
 *
 * The last word, not the second: an 8-byte block has no second word, and
 * its last word is its link, which the push writes after the mark, so class
 * 1 costs nothing and is covered by the bin-head test alone. The mark is a
 * sign-extended 32-bit immediate (one cmpq, one movq each way) with the top
 * bits set, so it is never a user-space address, hence never a link; the
 * fast paths grow by 3 instructions (free) and 1 (malloc). */
#define SM_FREED_MARK ((uintptr_t)(intptr_t)(int32_t)0xdead10ccu)

static inline uintptr_t *sm_freelist_mark_word(sm_block_t *b, sm_cls_t cls)
{
    return (uintptr_t *)((char *)b + cls * SM_QUANTUM) - 1;
}

static inline bool sm_freelist_is_marked(sm_block_t *b, sm_cls_t cls)
{
    uintptr_t *w = sm_freelist_mark_word(b, cls);
    sm_track_link_open(w);
    bool marked = *w == SM_FREED_MARK;
    sm_track_link_close(w);
    return marked;
}

static inline void sm_freelist_set_mark(sm_block_t *b, sm_cls_t cls, uintptr_t mark)
{
    uintptr_t *w = sm_freelist_mark_word(b, cls);
    sm_track_link_open(w);
    *w = mark;
    sm_track_link_close(w);
}

#endif
