/*
 * arena: pool hand-out order inside an arena (freed pools first, then the
 * never-used frontier), pymalloc's fullest-arena-first policy, what happens
 * to an arena whose last pool returns (kept once, unmapped after), and the
 * whole life cycle through smalloc_malloc: several arenas mapped, all
 * returned, memory given back to the OS.
 *
 * Everything runs on a shard no other thread touches (shard.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "arena.h"
#include "space.h"
#include "pool.h"
#include "transfer.h"
#include "shard.h"
#include "support.h"

static sm_pool_t *take_pool(unsigned shard)
{
    sm_lock(&sm_g_arena[shard].lock);
    sm_pool_t *pool = sm_arena_take_pool(shard);
    sm_unlock(&sm_g_arena[shard].lock);
    cr_assert_not_null(pool, "sm_arena_take_pool refused");
    cr_assert_eq(pool->cls, SM_CLASS_NONE, "a taken pool must serve no class yet");
    return pool;
}

/* Give a pool back; unmap the arena if that is what the arena asks. */
static sm_arena_t *give_pool(sm_pool_t *pool)
{
    unsigned shard = sm_arena_of((uintptr_t)pool)->shard;
    sm_lock(&sm_g_arena[shard].lock);
    sm_arena_t *gone = sm_arena_give_pool(pool);
    sm_unlock(&sm_g_arena[shard].lock);
    if (gone != NULL)
        sm_arena_unmap(gone);
    return gone;
}

static size_t pool_idx(const sm_pool_t *pool)
{
    return (size_t)(pool - sm_arena_of((uintptr_t)pool)->pools);
}

static size_t totals(_Atomic size_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

Test(arena, pools_come_from_freed_list_then_frontier)
{
    unsigned shard = clean_shard();
    size_t allocated = totals(&sm_g_arena_totals.allocated);
    sm_pool_t *p[6];
    for (unsigned i = 0; i < 6; i++) {
        p[i] = take_pool(shard);
        cr_assert_eq(pool_idx(p[i]), SM_ARENA_HEADER_POOLS + i, "pool %u has index %zu", i, pool_idx(p[i]));
    }
    sm_arena_t *arena = sm_arena_of((uintptr_t)p[0]);
    cr_assert_eq(totals(&sm_g_arena_totals.allocated), allocated + 1, "six pools need one arena");
    cr_assert_eq(arena->ncarved, SM_ARENA_HEADER_POOLS + 6, "ncarved %u", arena->ncarved);
    cr_assert_eq(arena->nfreepools, SM_ARENA_USABLE_POOLS - 6, "nfreepools %u", arena->nfreepools);
    cr_assert_eq(arena->shard, shard, "arena shard");
    /* Freed pools are reused, last freed first, before the frontier moves. */
    give_pool(p[1]);
    give_pool(p[4]);
    cr_assert_eq(take_pool(shard), p[4], "the last freed pool comes back first");
    cr_assert_eq(take_pool(shard), p[1], "then the one freed before");
    cr_assert_eq(arena->ncarved, SM_ARENA_HEADER_POOLS + 6, "frontier moved although pools were free");
    cr_assert_eq(pool_idx(take_pool(shard)), SM_ARENA_HEADER_POOLS + 6, "then the frontier");
    for (unsigned i = 0; i < 6; i++)
        give_pool(p[i]);
    give_pool(&arena->pools[SM_ARENA_HEADER_POOLS + 6]);
    cr_assert_eq(arena->nfreepools, SM_ARENA_USABLE_POOLS, "arena empty again");
}

/* Fill `count` pools of the shard; returns them in arr. */
static void take_pools(unsigned shard, sm_pool_t **arr, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        arr[i] = take_pool(shard);
}

Test(arena, new_pools_come_from_the_fullest_arena)
{
    unsigned shard = clean_shard();
    enum { N = SM_ARENA_USABLE_POOLS };
    static sm_pool_t *a[N], *b[N], *c[N];
    take_pools(shard, a, N);           /* arena A full */
    take_pools(shard, b, N);           /* arena B full */
    take_pools(shard, c, N);           /* arena C full */
    sm_arena_t *A = sm_arena_of((uintptr_t)a[0]), *B = sm_arena_of((uintptr_t)b[0]),
               *C = sm_arena_of((uintptr_t)c[0]);
    cr_assert(A != B && B != C && A != C, "three arenas");
    for (unsigned i = 0; i < N; i++) {
        cr_assert_eq(sm_arena_of((uintptr_t)a[i]), A, "pool %u of A", i);
        cr_assert_eq(sm_arena_of((uintptr_t)b[i]), B, "pool %u of B", i);
    }
    /* A: 100 free, B: 7 free, C: 40 free -> B, the most used, serves. */
    for (unsigned i = 0; i < 100; i++)
        give_pool(a[i]);
    for (unsigned i = 0; i < 7; i++)
        give_pool(b[i]);
    for (unsigned i = 0; i < 40; i++)
        give_pool(c[i]);
    for (unsigned i = 0; i < 7; i++) {
        sm_pool_t *p = take_pool(shard);
        cr_assert_eq(sm_arena_of((uintptr_t)p), B, "take %u: not from B (7 free), the fullest", i);
        b[i] = p;
    }
    /* B is full again: C (40 free) before A (100 free). */
    for (unsigned i = 0; i < 40; i++) {
        sm_pool_t *p = take_pool(shard);
        cr_assert_eq(sm_arena_of((uintptr_t)p), C, "take %u: not from C (%u free)", i, 40 - i);
        c[i] = p;
    }
    for (unsigned i = 0; i < 5; i++) {
        sm_pool_t *p = take_pool(shard);
        cr_assert_eq(sm_arena_of((uintptr_t)p), A, "take %u: not from A, the only one with room", i);
        a[i] = p;
    }
    /* Drain C below A (A has 95 free): now A is the fuller one. */
    for (unsigned i = 0; i < 120; i++)
        give_pool(c[i]);
    cr_assert_eq(sm_arena_of((uintptr_t)take_pool(shard)), A, "A (95 free) before C (120 free)");
    /* No clean-up: each test runs in its own process. */
}

Test(arena, first_empty_arena_is_kept_the_next_is_unmapped)
{
    unsigned shard = clean_shard();
    enum { N = SM_ARENA_USABLE_POOLS };
    static sm_pool_t *a[N], *b[N];
    size_t now0 = totals(&sm_g_arena_totals.now);
    size_t freed0 = totals(&sm_g_arena_totals.freed);
    size_t cached0 = totals(&sm_g_arena_totals.cached);
    take_pools(shard, a, N);
    take_pools(shard, b, N);
    sm_arena_t *A = sm_arena_of((uintptr_t)a[0]), *B = sm_arena_of((uintptr_t)b[0]);
    cr_assert_eq(totals(&sm_g_arena_totals.now), now0 + 2, "two arenas mapped");
    cr_assert_eq(sm_g_arena[shard].nempty, 0, "no empty arena while both are full");
    cr_assert_eq(shard_arena_count(shard), 2, "two arenas in the shard");

    for (unsigned i = 0; i < N; i++)
        cr_assert_null(give_pool(a[i]), "A is the first to empty: it must be kept (pool %u)", i);
    cr_assert_eq(sm_g_arena[shard].nempty, 1, "A kept as the empty arena");
    cr_assert_eq(totals(&sm_g_arena_totals.cached), cached0 + 1, "arenas_cached counts A");
    cr_assert(sm_space_contains((uintptr_t)A), "a kept arena stays in the arena space");

    for (unsigned i = 0; i + 1 < N; i++)
        cr_assert_null(give_pool(b[i]), "B is not empty yet (pool %u)", i);
    sm_lock(&sm_g_arena[shard].lock);
    sm_arena_t *gone = sm_arena_give_pool(b[N - 1]);
    cr_assert_eq(gone, B, "B emptied while A is kept: B must be returned for unmapping");
    /* Until it is unmapped, a free into B is an invalid pointer, not a
     * system malloc's one. */
    cr_assert(sm_space_contains((uintptr_t)B), "B left the arena space before its unmap");
    sm_unlock(&sm_g_arena[shard].lock);
    sm_arena_unmap(gone);
    cr_assert(!sm_space_contains((uintptr_t)B), "B is still in the arena map after its unmap");
    cr_assert_eq(shard_arena_count(shard), 1, "only A remains in the shard");
    cr_assert_eq(totals(&sm_g_arena_totals.now), now0 + 1, "arenas_now");
    cr_assert_eq(totals(&sm_g_arena_totals.freed), freed0 + 1, "arenas_freed");
    cr_assert_eq(totals(&sm_g_arena_totals.cached), cached0 + 1, "arenas_cached");
    cr_assert_leq(sm_g_arena[shard].nempty, SM_ARENA_CACHE_MAX, "more empty arenas kept than the cap");

    /* The kept arena serves the next pool; nothing new is mapped. */
    size_t allocated = totals(&sm_g_arena_totals.allocated);
    sm_pool_t *p = take_pool(shard);
    cr_assert_eq(sm_arena_of((uintptr_t)p), A, "a new pool must come from the kept arena");
    cr_assert_eq(totals(&sm_g_arena_totals.allocated), allocated, "an arena was mapped although one was kept");
    cr_assert_eq(sm_g_arena[shard].nempty, 0, "A is no longer empty");
    cr_assert_eq(totals(&sm_g_arena_totals.cached), cached0, "arenas_cached after reuse");
}

/* statm_resident_bytes reads /proc/self/statm without stdio: fopen's FILE
 * would be a small block of the pinned shard and, with every arena full,
 * map one more arena. */
static size_t resident_bytes(void)
{
    size_t resident = statm_resident_bytes();
    cr_assert_gt(resident, 0, "read /proc/self/statm");
    return resident;
}

/* The life cycle through the allocator, on a pinned thread. */
struct lifecycle {
    unsigned shard;
    size_t nblocks;
    size_t rss_before, rss_peak;
    size_t arenas_peak;
};

static void lifecycle_thread(void *arg)
{
    struct lifecycle *lc = arg;
    void **blocks = smalloc_malloc(lc->nblocks * sizeof(void *)); /* large: from the fallback */
    cr_assert_not_null(blocks, "block array");
    for (size_t i = 0; i < lc->nblocks; i++) {
        blocks[i] = smalloc_malloc(512);
        cr_assert_not_null(blocks[i], "block %zu", i);
        cr_assert_eq(sm_arena_of((uintptr_t)blocks[i])->shard, lc->shard, "block %zu from another shard", i);
        memset(blocks[i], (int)(i & 0xff), 512); /* make every page resident */
    }
    lc->arenas_peak = shard_arena_count(lc->shard);
    lc->rss_peak = resident_bytes();
    for (size_t i = 0; i < lc->nblocks; i++)
        smalloc_free(blocks[i]);
    smalloc_free(blocks);
}

Test(arena, life_cycle_maps_several_arenas_and_returns_them)
{
    struct lifecycle lc = {.shard = clean_shard()};
    /* Five arenas' worth of 512-byte blocks (8 per pool). */
    lc.nblocks = 5 * SM_ARENA_USABLE_POOLS * (SM_POOL_SIZE / 512);
    struct smalloc_stats before, after;
    smalloc_stats_get(&before);
    lc.rss_before = resident_bytes();
    clean_shard_run(lc.shard, lifecycle_thread, &lc);
    /* The thread's bins went back to the pools at its exit; up to
     * SM_TRANSFER_SLOTS batches may still be parked: return them too. */
    sm_block_t *batch;
    while ((batch = sm_transfer_take(lc.shard, 63)) != NULL)
        sm_pool_free_batch(63, batch, "free");
    smalloc_stats_get(&after);
    size_t rss_after = resident_bytes();

    cr_assert_eq(lc.arenas_peak, 5, "5 arenas' worth of blocks mapped %zu arenas", lc.arenas_peak);
    cr_assert_eq(shard_arena_count(lc.shard), 1, "all but the kept empty arena returned");
    cr_assert_eq(sm_g_arena[lc.shard].nempty, 1, "the remaining arena is the kept empty one");
    cr_assert_eq(after.arenas_allocated - before.arenas_allocated, 5, "arenas_allocated grew by %zu",
                 after.arenas_allocated - before.arenas_allocated);
    cr_assert_eq(after.arenas_freed - before.arenas_freed, 4, "arenas_freed grew by %zu",
                 after.arenas_freed - before.arenas_freed);
    cr_assert_eq(after.arenas_now, before.arenas_now + 1, "arenas_now %zu -> %zu", before.arenas_now,
                 after.arenas_now);
    cr_assert_geq(after.arenas_highest, before.arenas_now + 5, "arenas_highest %zu", after.arenas_highest);
    cr_assert_leq(after.arenas_cached, 2, "arenas_cached %zu", after.arenas_cached);
    cr_assert_eq(after.classes[63].pools_in_use, before.classes[63].pools_in_use, "class 63 pools left in use");
    /* Memory: 5 MiB were made resident, 4 arenas unmapped. */
    cr_assert_geq(lc.rss_peak, lc.rss_before + 4 * SM_ARENA_SIZE,
                  "RSS rose only from %zu to %zu", lc.rss_before, lc.rss_peak);
    cr_assert_leq(rss_after + 4 * SM_ARENA_SIZE - SM_ARENA_SIZE / 4, lc.rss_peak,
                  "RSS fell only from %zu to %zu after 4 arenas were unmapped", lc.rss_peak, rss_after);
}
