/*
 * Arenas: 1 MiB of address space from the OS, mapped into a 1 MiB slot of
 * the arena space (space.h), cut into 256 pools of 4 KiB. The first
 * pools hold the arena header, which carries one descriptor per pool
 * (pool.h), so pools themselves are all blocks:
 *
 *   arena (1 MiB aligned)
 *   +------------------------+------+------+-----+------+
 *   | header: sm_arena_t     | pool | pool | ... | pool |
 *   | links, counts,         |  3   |  4   |     | 255  |
 *   | pools[256] descriptors |      |      |     |      |
 *   +------------------------+------+------+-----+------+
 *     pools 0..2 (12 KiB)      4 KiB each, carved on first use
 *
 * The hardened build (SM_SECURE) adds a live-block bitmap to the header
 * (secure.h; 64 bytes per pool, so the header takes pools 0..6) and two
 * PROT_NONE guard pages, which leaves 247 pools:
 *
 *   | header + live bitmap (0..6) | guard 7 | pool 8 | ... | pool 254 | guard 255 |
 *
 * The guard after the header stops a write running backwards off the first
 * pool into the descriptors; the one at the end stops a write running off
 * the last pool into whatever follows (mostly the next arena's header:
 * arenas fill the lowest free slots of the arena space, space.h). A
 * linear overflow between pools of one arena is caught by the encoded
 * links and the bitmap instead.
 *
 * Which arena a new pool comes from is pymalloc's policy: the most used
 * arena that still has a free pool, so the least used arenas drain and can
 * be returned. Arenas with free pools sit in buckets by their count of free
 * pools; a bitmap of non-empty buckets finds the fullest in a few word scans.
 * Full arenas are in no bucket. An arena whose pools are all free is kept
 * (at most SM_ARENA_CACHE_MAX of them, in the top bucket) or unmapped.
 *
 * Pools inside an arena are handed out from its list of freed pools first,
 * then from the never-used frontier (ncarved), so untouched pages of a new
 * arena cost nothing.
 *
 * Memory goes back to the OS in two ways. An arena whose pools
 * are all free is unmapped, unless it is kept in the empty-arena cache. A
 * free pool that served a class is "dirty" (its pages may be resident);
 * dirty pools are released with madvise(MADV_DONTNEED) (sm_os_discard), one
 * call per run of adjacent pools:
 *   - all of an arena's when it enters the empty-arena cache;
 *   - those that stayed free for the release delay (SMALLOC_RELEASE_DELAY_MS,
 *     1 s), on sm_arena_release_unused(): the release policy (release.h)
 *     calls it every SMALLOC_RELEASE_INTERVAL_MS from its background
 *     thread, or from the slow paths when that thread is off;
 *   - all of them on smalloc_collect() (sm_arena_release_all()).
 * A dirty pool's epoch is the coarse clock when it was given back, so "free
 * for the delay" is one subtraction (32 bits of milliseconds: 49 days
 * before it wraps, and a wrap only delays a release by one more delay).
 * Releasing a pool costs a page fault when it is used again, so pools that
 * are reused within the delay are not released: a program whose footprint
 * breathes pays nothing, one that shrinks or stops gets its pages back one
 * to one and a quarter seconds later. Release by count instead, measured
 * with bench/driver (scale 0.5, 5 runs, 2-core VM) against no release:
 * releasing every dirty pool of a shard each time 256 had piled up made
 * python_churn 1.7x, threads_4 1.9x and replay 3.5x slower; releasing
 * pools unused for 512 releases still made replay 1.8x slower, as its
 * passes free everything and allocate it again. A delay of a second is
 * longer than any pass of those workloads. mimalloc waits 10 ms, jemalloc
 * decays over 10 s.
 * Arenas with dirty pools are on a per-shard list, so a round visits only
 * them. The madvise runs outside every lock: the pools are taken out of
 * their arena first (they count as in use, so no other thread takes them
 * and the arena is not unmapped), then given back clean (sm_arena_purge()).
 *
 * Arenas belong to a shard (config.h SM_SHARDS); everything here runs under
 * that shard's sm_g_arena[shard].lock, taken after a class lock when both
 * are held (pool.c).
 */
#ifndef SM_ARENA_H
#define SM_ARENA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"
#include "lock.h"
#include "pool.h"

typedef struct sm_arena {
    struct sm_arena *next, *prev;         /* bucket list */
    struct sm_arena *all_next, *all_prev; /* every mapped arena */
    struct sm_arena *dirty_next, *dirty_prev; /* arenas with ndirty > 0 */
    sm_pool_t *freepools;   /* empty pools that served a class before */
    uint16_t nfreepools;    /* empty pools, freed or never carved */
    uint16_t ncarved;       /* pools below this index were used at least once */
    uint16_t shard;         /* the shard whose locks guard this arena */
    uint16_t ndirty;        /* free pools on freepools that may be resident */
    sm_pool_t pools[SM_POOLS_PER_ARENA];
#if SM_SECURE
    /* Bit j of live[idx]: block j of pool idx is held by the program. */
    _Atomic uint64_t live[SM_POOLS_PER_ARENA][SM_POOL_SIZE / SM_QUANTUM / 64];
#endif
} sm_arena_t;

/* Guard pages of the hardened build: one after the header, one at the end. */
#define SM_ARENA_GUARD_FRONT SM_SECURE
#define SM_ARENA_GUARD_BACK SM_SECURE
/* Pools before the first usable one: the header and the front guard. */
#define SM_ARENA_HEADER_POOLS \
    ((sizeof(sm_arena_t) + SM_POOL_SIZE - 1) / SM_POOL_SIZE + SM_ARENA_GUARD_FRONT)
#define SM_ARENA_USABLE_POOLS (SM_POOLS_PER_ARENA - SM_ARENA_HEADER_POOLS - SM_ARENA_GUARD_BACK)

/* The arenas of one shard. */
struct sm_arena_state {
    sm_lock_t lock;
    sm_arena_t *buckets[SM_POOLS_PER_ARENA]; /* by nfreepools; [0] unused */
    uint64_t nonempty[SM_POOLS_PER_ARENA / 64];
    sm_arena_t *all;       /* every mapped arena of the shard */
    sm_arena_t *dirty;     /* arenas with dirty free pools */
    /* The three atomics are written under lock, read without it (relaxed
     * peeks by sm_arena_purge, sm_arena_has_dirty, malloc_ext.c). */
    _Atomic(sm_pool_t *) purge; /* pools set aside for release (arena.c) */
    _Atomic size_t npurging;    /* pools out of their arenas for release: free
                                 * pools that no arena's nfreepools counts */
    size_t nempty;              /* arenas with every pool free */
    _Atomic size_t ndirty;      /* dirty free pools of all its arenas */
} sm_cacheline_aligned;

extern sm_hidden struct sm_arena_state sm_g_arena[SM_SHARDS];

/* Process-wide arena counts (all shards); written under a shard's arena
 * lock with atomic adds, read by statistics. */
struct sm_arena_totals {
    _Atomic size_t now, highest, allocated, freed, cached;
};
extern sm_hidden struct sm_arena_totals sm_g_arena_totals;

static inline sm_arena_t *sm_arena_of(uintptr_t a)
{
    return (sm_arena_t *)(a & ~(SM_ARENA_SIZE - 1));
}

static inline sm_pool_t *sm_pool_of(uintptr_t a)
{
    return &sm_arena_of(a)->pools[(a >> SM_POOL_SHIFT) & (SM_POOLS_PER_ARENA - 1)];
}

static inline char *sm_pool_base(const sm_pool_t *pool)
{
    uintptr_t arena = (uintptr_t)pool & ~(SM_ARENA_SIZE - 1);
    size_t idx = (size_t)(pool - ((const sm_arena_t *)arena)->pools);
    return (char *)(arena + idx * SM_POOL_SIZE);
}

/* An empty pool of the shard, cls SM_CLASS_NONE, or NULL when the OS
 * refuses memory. pre: the shard's arena lock held. */
sm_hidden sm_pool_t *sm_arena_take_pool(unsigned shard);

/* Return an empty pool to its arena. When that empties an arena which is
 * not kept, it is unlinked and returned: the caller unmaps it with
 * sm_arena_unmap() after dropping every lock. When the pool fills the
 * empty-arena cache, the arena's dirty pools are set aside in the shard's
 * purge list: the caller then calls sm_arena_purge() after dropping every
 * lock. pre: arena lock held. */
sm_hidden sm_arena_t *sm_arena_give_pool(sm_pool_t *pool);

/* smalloc_collect(): release every dirty free pool of every shard now.
 * pre: no lock held. */
sm_hidden void sm_arena_release_all(void);

/* A release round: the dirty free pools of every shard given back at least
 * delay_ms before now_ms (sm_os_now_ms() time) are released, and arenas
 * this empties are unmapped. pre: no lock held. */
sm_hidden void sm_arena_release_unused(uint64_t now_ms, uint64_t delay_ms);

/* Is some free pool dirty? An unlocked peek (a stale answer is corrected by
 * the next look; release.c says why none is lost). */
sm_hidden bool sm_arena_has_dirty(void);

/* Release the pages of the pools set aside by sm_arena_give_pool() (in any
 * shard, by any thread) and give them back to their arenas, unmapping
 * arenas that this empties. Costs four loads when nothing is set aside.
 * pre: no lock held. */
sm_hidden void sm_arena_purge(void);

/* Told of every arena mapped (true) or returned to the OS (false), no lock
 * held: set once at start-up by the statistics module when SMALLOC_VERBOSE
 * is on (stats.c prints the line), NULL otherwise. */
typedef void sm_arena_event_fn(const void *arena, bool mapped);
extern sm_hidden sm_arena_event_fn *sm_g_arena_event;

/* Return an arena to the OS (told to sm_g_arena_event). pre: no lock
 * held; arena came from sm_arena_give_pool() or a purge. */
sm_hidden void sm_arena_unmap(sm_arena_t *arena);

#endif
