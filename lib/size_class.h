/*
 * Size classes: request size -> class, and class -> block size.
 *
 *   request n (bytes)   smalloc_* class     malloc family class (16-aligned)
 *   0 .. 8              1  (8 bytes)        2  (16 bytes)
 *   9 .. 16             2  (16)             2  (16)
 *   17 .. 24            3  (24)             4  (32)
 *   25 .. 32            4  (32)             4  (32)
 *   ...                 ...                 ...
 *   505 .. 512          64 (512)            64 (512)
 *
 * Class cls serves blocks of cls * 8 bytes; class 0 (SM_CLASS_NONE) is "no
 * class". The request-to-class mapping is one byte load from a 513-entry
 * table indexed by n itself, so both policies cost the same on the fast
 * path and it needs no rounding. A block whose class size is a multiple of
 * 16 is 16-aligned: pools are 4 KiB aligned and blocks start at multiples
 * of the class size from the pool start (there is no header inside a pool;
 * pool descriptors live in the arena header, arena.h).
 *
 * Whether a pointer starts a block is a per-class test (space.h).
 */
#ifndef SM_SIZE_CLASS_H
#define SM_SIZE_CLASS_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"

#define SM_SIZE_TABLE_LEN (SM_SMALL_MAX + 1)

extern sm_hidden const uint8_t sm_size_class_api[SM_SIZE_TABLE_LEN];
extern sm_hidden uint8_t sm_size_class_abi[SM_SIZE_TABLE_LEN];

static inline size_t sm_class_size(sm_cls_t cls)
{
    return (size_t)cls * SM_QUANTUM;
}

/* Blocks in a pool of class cls (slow paths: it divides). */
static inline unsigned sm_class_nblocks(sm_cls_t cls)
{
    return (unsigned)(SM_POOL_SIZE / sm_class_size(cls));
}

/* pre: n <= SM_SMALL_MAX */
static inline sm_cls_t sm_size_class_of(const uint8_t *table, size_t n)
{
    return table[n];
}

#endif
