/*
 * Size classes: request size <-> class index, and the per-class constants.
 *
 *   request n (bytes)   smalloc_* class     malloc family class (16-aligned)
 *   0 .. 8              0  (8 bytes)        0  (8 bytes)
 *   9 .. 16             1  (16)             1  (16)
 *   17 .. 24            2  (24)             3  (32)
 *   25 .. 32            3  (32)             3  (32)
 *   ...                 ...                 ...
 *   505 .. 512          63 (512)            63 (512)
 *
 * Class cls serves blocks of (cls + 1) * 8 bytes. The request-to-class
 * mapping is one byte load from a 65-entry table indexed by (n + 7) / 8, so
 * both policies cost the same on the fast path. A block whose class size is
 * a multiple of 16 is 16-aligned: pools are 4 KiB aligned and blocks start
 * at multiples of the class size from the pool start (there is no header
 * inside a pool; pool descriptors live in the arena header, arena.h).
 *
 * A pointer is the start of a block of class cls when its offset in the pool
 * is j * size for some j < nblocks. That test is one multiply and one rotate:
 * with size = odd << shift and inverse = odd^-1 mod 2^32,
 *     rotr32(offset * inverse, shift) == j          when offset == j * size,
 * and is >= 2^32 / size otherwise (exact division by multiplication, as in
 * Granlund and Montgomery), which exceeds every nblocks. Each pool
 * descriptor carries a copy of its class's constants (pool.h), and a pool
 * serving no class has nblocks 0, which rejects every pointer.
 */
#ifndef SM_SIZE_CLASS_H
#define SM_SIZE_CLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"

#define SM_SIZE_TABLE_LEN (SM_SMALL_MAX / SM_QUANTUM + 1)

typedef struct sm_class_info {
    uint32_t inverse;  /* odd part of the class size, inverted mod 2^32 */
    uint16_t nblocks;  /* blocks per pool; 0 for SM_CLASS_NONE */
    uint8_t shift;     /* trailing zero bits of the class size */
    uint8_t unused;
} sm_class_info_t;

extern sm_hidden const uint8_t sm_size_class_api[SM_SIZE_TABLE_LEN];
extern sm_hidden uint8_t sm_size_class_abi[SM_SIZE_TABLE_LEN];
extern sm_hidden sm_class_info_t sm_class_info[SM_NCLASSES + 1];

/* Fills sm_class_info; called once by sm_init_process() before any arena
 * exists, so every reader of a pool sees a filled table. */
sm_hidden void sm_size_class_init(void);

static inline size_t sm_class_size(unsigned cls)
{
    return ((size_t)cls + 1) * SM_QUANTUM;
}

/* pre: n <= SM_SMALL_MAX */
static inline size_t sm_size_class_of(const uint8_t *table, size_t n)
{
    return table[(n + SM_QUANTUM - 1) / SM_QUANTUM];
}

static inline uint32_t sm_rotr32(uint32_t x, unsigned r)
{
    return (x >> r) | (x << ((32 - r) & 31));
}

#endif
