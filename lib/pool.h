/*
 * Pools: 4 KiB of an arena serving one size class, and the per-class
 * central lists that thread caches refill from and flush to.
 *
 * A pool's descriptor lives in its arena's header (arena.h), so a pool is
 * blocks only: block j of class cls starts at offset j * size.
 *
 *   pool of class 3 (24-byte blocks), 170 blocks, 16 bytes never usable
 *   +-----+-----+-----+-----+-----+ ... +-----+-----+-----+--+
 *   | B0  | B1  | B2  | B3  | B4  |     |B167 |B168 |B169 |  |
 *   +-----+-----+-----+-----+-----+ ... +-----+-----+-----+--+
 *   used  free  used  used  ^nextoffset: never carved yet
 *          \-- freeblock list (links inside free blocks, freelist.h)
 *
 * Blocks are carved lazily, as pymalloc does: nextoffset moves forward only
 * when the freeblock list is empty, so a new pool costs nothing until used.
 *
 * A pool is in one of three states (pymalloc's):
 *   used   0 < nused < nblocks, or nused == 0 right after it was taken:
 *          linked in sm_g_central[shard][cls].used, where refills look
 *          first (shard: that of the pool's arena);
 *   full   nused == nblocks: in no list;
 *   empty  nused == 0: back on its arena's free pools, cls SM_CLASS_NONE.
 * Transitions, all under the class lock:
 *   empty -> used   refill finds no used pool and takes one from an arena;
 *   used  -> full   refill hands out its last free block (unlink);
 *   full  -> used   a flushed block returns to it (link at the front,
 *                   where the next refill will find it);
 *   used  -> empty  its last block returns (unlink, give to the arena).
 * nused counts blocks handed out of the pool, whether a program holds them
 * or a thread cache does (tcache.h).
 */
#ifndef SM_POOL_H
#define SM_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"
#include "freelist.h"
#include "lock.h"
#include "size_class.h"

typedef struct sm_pool {
    struct sm_pool *next, *prev; /* used: class list; empty: arena's free pools */
    uint32_t epoch;              /* empty and dirty: coarse clock (ms) when given back (arena.c) */
    uint16_t freeblock;          /* offset of the first returned block, or SM_POOL_NO_BLOCK */
    uint16_t nused;              /* blocks handed out */
    uint16_t nextoffset;         /* offset of the first never-carved block */
    uint8_t cls;                 /* class served, SM_CLASS_NONE when empty */
} sm_pool_t;

#define SM_POOL_NO_BLOCK 0xffff

_Static_assert(sizeof(sm_pool_t) == 32, "pool descriptors are 32 bytes");

typedef struct sm_central {
    sm_lock_t lock;
    sm_pool_t *used; /* pools of this class with a free block */
} sm_cacheline_aligned sm_central_t;

extern sm_hidden sm_central_t sm_g_central[SM_SHARDS][SM_NCLASSES + 1];

/* Hand out up to want blocks of class cls from the shard's pools, linked
 * through their first word into *chain in pymalloc's order (each pool's
 * free list as linked, then new blocks by ascending address; pool.c).
 * Returns how many (0: out of memory). Takes the shard's class lock. */
sm_hidden unsigned sm_pool_alloc_batch(unsigned shard, sm_cls_t cls, unsigned want,
                                       sm_block_t **chain);

/* Return a NULL-terminated chain of blocks of class cls to their pools,
 * whatever their shards, unmapping arenas that empty. Aborts with a message
 * naming func on a block that is not a live block of class cls (double or
 * invalid free). Takes the class lock of each block's shard. */
sm_hidden void sm_pool_free_batch(sm_cls_t cls, sm_block_t *chain, const char *func);

/* Is b, a block start of class cls, on its pool's free list? Takes the
 * class lock of b's shard. (The double-free check, tcache.h.) */
sm_hidden bool sm_pool_holds_free(sm_cls_t cls, const sm_block_t *b);

/* Recount a pool's free list against its counters (SM_DEBUG >= 2 checks). */
sm_hidden int sm_pool_check(const sm_pool_t *pool);

#endif
