/*
 * arena.h's release of free pools and transfer.h's of parked batches
 * (and the release policy of release.h), white-box: which dirty
 * pools are released (madvise) and when. Pools come and go through
 * sm_pool_alloc_batch / sm_pool_free_batch on a shard no other thread
 * touches (shard.h). Rounds are called with an explicit "now" and
 * delay, so nothing here depends on how long a step takes; the background
 * thread's own rounds are kept out of the way by a release delay no pool
 * reaches (sm_opt.release_delay_ms).
 */
#include <limits.h>
#include <string.h>
#include <sys/mman.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "arena.h"
#include "options.h"
#include "os.h"
#include "pool.h"
#include "release.h"
#include "shard.h"
#include "support.h"
#include "transfer.h"

#define CLS 64 /* 512-byte blocks, 8 per pool */
#define MAXARENAS 8

struct pinned_arenas {
    unsigned shard;
    unsigned narenas;
    sm_block_t *pins[MAXARENAS]; /* one live block per arena */
    size_t freed_pools;          /* pools emptied by the test */
};

/* Fill narenas arenas of the shard with class CLS blocks, touch them,
 * keep one block per arena and free every other: every pool but the
 * pinned ones becomes a dirty free pool. */
static void fill_and_free(struct pinned_arenas *pa)
{
    unsigned per_pool = SM_POOL_SIZE / 512;
    unsigned want = pa->narenas * SM_ARENA_USABLE_POOLS * per_pool;
    sm_block_t *chain = NULL;
    unsigned got = sm_pool_alloc_batch(pa->shard, CLS, want, &chain);
    cr_assert_eq(got, want, "got %u of %u blocks", got, want);
    cr_assert_eq(shard_arena_count(pa->shard), pa->narenas);
    sm_block_t *rest = NULL;
    unsigned npins = 0;
    while (chain != NULL) {
        sm_block_t *b = chain;
        chain = sm_freelist_next(b);
        memset((char *)b + sizeof(sm_block_t), 0x77, 512 - sizeof(sm_block_t)); /* resident */
        sm_arena_t *arena = sm_arena_of((uintptr_t)b);
        int pinned = 0;
        for (unsigned i = 0; i < npins; i++)
            pinned |= sm_arena_of((uintptr_t)pa->pins[i]) == arena;
        if (!pinned && npins < MAXARENAS) {
            pa->pins[npins++] = b;
        } else {
            sm_freelist_set_next(b, rest);
            rest = b;
        }
    }
    cr_assert_eq(npins, pa->narenas, "one pin per arena");
    sm_pool_free_batch(CLS, rest, "free");
    pa->freed_pools = (size_t)pa->narenas * (SM_ARENA_USABLE_POOLS - 1);
}

static void free_pins(struct pinned_arenas *pa)
{
    for (unsigned i = 0; i < pa->narenas; i++) {
        sm_freelist_set_next(pa->pins[i], NULL);
        sm_pool_free_batch(CLS, pa->pins[i], "free");
    }
}

/* No round of the background thread (or of a slow path) releases
 * anything while a test runs. */
static void quiet_rounds(void)
{
    sm_opt.release_delay_ms = UINT32_MAX;
}

/* The coarse clock after it has moved past t. */
static uint64_t clock_after(uint64_t t)
{
    uint64_t now;
    while ((now = sm_os_now_ms()) <= t)
        ;
    return now;
}

static size_t shard_dirty(unsigned shard)
{
    sm_lock(&sm_g_arena[shard].lock);
    size_t n = sm_g_arena[shard].ndirty;
    sm_unlock(&sm_g_arena[shard].lock);
    return n;
}

/* A round releases the pools free for the delay, and every one of them:
 * the resident set shrinks accordingly. */
Test(purge, pools_free_for_the_delay_are_released)
{
    struct pinned_arenas pa = {.shard = clean_shard(), .narenas = MAXARENAS};
    quiet_rounds();
    size_t rss_before = statm_resident_bytes();
    fill_and_free(&pa);
    cr_assert_eq(shard_dirty(pa.shard), pa.freed_pools, "every freed pool is dirty");
    uint64_t now = sm_os_now_ms();
    sm_arena_release_unused(now + 1000, 1000); /* a second later */
    size_t dirty = shard_dirty(pa.shard);
    size_t rss_after = statm_resident_bytes();

    cr_assert_eq(dirty, 0, "%zu dirty pools left of %zu freed", dirty, pa.freed_pools);
    /* The pages went: the resident set grew by at most the headers and
     * the pinned pools (plus 1 MiB for the rest of the process). */
    size_t kept = pa.narenas * (1 + SM_ARENA_HEADER_POOLS) * SM_POOL_SIZE;
    cr_assert_leq(rss_after, rss_before + kept + ((size_t)1 << 20),
                  "RSS grew by %zu KiB, %zu KiB of pools are not released",
                  (rss_after - rss_before) / 1024, kept / 1024);
    free_pins(&pa);
}

/* Pools freed less than the delay before "now" stay dirty, those freed
 * earlier go: the pools freed before a clock tick are released, the ones
 * freed after it are not. */
Test(purge, no_release_before_the_delay)
{
    struct pinned_arenas pa = {.shard = clean_shard(), .narenas = MAXARENAS};
    quiet_rounds();
    fill_and_free(&pa);
    uint64_t cut = sm_os_now_ms();
    sm_arena_release_unused(cut, UINT64_MAX);
    cr_assert_eq(shard_dirty(pa.shard), pa.freed_pools, "a delay no pool reached releases none");
    /* A second set of pools, all freed after the clock moved past cut:
     * the pins go first (their arenas empty: one is kept, its pools
     * released at once, the others unmapped), then the same fill again. */
    clock_after(cut);
    free_pins(&pa);
    struct pinned_arenas pb = {.shard = pa.shard, .narenas = MAXARENAS};
    fill_and_free(&pb);
    size_t before = shard_dirty(pb.shard);
    /* At cut + delay, only pools given back at cut or before are old
     * enough: none of pb's, all freed after cut. */
    sm_arena_release_unused(cut + 1000, 1000);
    cr_assert_eq(shard_dirty(pb.shard), before, "pools freed after the cut are not released");
    sm_arena_release_all();
    cr_assert_eq(shard_dirty(pb.shard), 0, "dirty pools after sm_arena_release_all");
    free_pins(&pb);
}

/* An arena that empties and is kept as the shard's cached empty arena has
 * its pools released at once, whatever the delay. */
Test(purge, an_arena_entering_the_cache_is_released_at_once)
{
    struct pinned_arenas pa = {.shard = clean_shard(), .narenas = 1};
    quiet_rounds();
    fill_and_free(&pa);
    sm_arena_t *arena = sm_arena_of((uintptr_t)pa.pins[0]);
    free_pins(&pa); /* the last pool: the arena empties and is kept */
    sm_lock(&sm_g_arena[pa.shard].lock);
    unsigned nfree = arena->nfreepools, ndirty = arena->ndirty;
    size_t nempty = sm_g_arena[pa.shard].nempty;
    unsigned dirty_pools = 0;
    for (size_t idx = SM_ARENA_HEADER_POOLS; idx < SM_ARENA_HEADER_POOLS + SM_ARENA_USABLE_POOLS; idx++)
        dirty_pools += arena->pools[idx].nextoffset != 0;
    sm_unlock(&sm_g_arena[pa.shard].lock);

    cr_assert_eq(nempty, 1, "the arena is the shard's kept empty arena");
    cr_assert_eq(nfree, SM_ARENA_USABLE_POOLS, "all pools back: %u", nfree);
    cr_assert_eq(ndirty, 0, "dirty count %u", ndirty);
    cr_assert_eq(dirty_pools, 0, "%u pools still marked dirty", dirty_pools);
    /* Its pages are gone: mincore says none of the usable pools is resident. */
    unsigned char vec[SM_POOLS_PER_ARENA * (SM_POOL_SIZE / 4096)];
    cr_assert_eq(mincore(arena, SM_ARENA_SIZE, vec), 0, "mincore");
    unsigned resident = 0;
    for (size_t page = SM_ARENA_HEADER_POOLS * (SM_POOL_SIZE / 4096);
         page < (SM_ARENA_HEADER_POOLS + SM_ARENA_USABLE_POOLS) * (SM_POOL_SIZE / 4096); page++)
        resident += vec[page] & 1;
    cr_assert_eq(resident, 0, "%u pages of the kept empty arena are resident", resident);
}

/* A batch parked in the transfer cache for the delay goes back to its
 * pools; one parked after the cut stays. */
Test(purge, batches_parked_for_the_delay_go_back_to_the_pools)
{
    unsigned shard = clean_shard();
    quiet_rounds();
    sm_block_t *old = NULL, *young = NULL;
    cr_assert_eq(sm_pool_alloc_batch(shard, CLS, 4, &old), 4);
    cr_assert_eq(sm_pool_alloc_batch(shard, CLS, 4, &young), 4);
    cr_assert(sm_transfer_put(shard, CLS, old));
    uint64_t cut = clock_after(sm_os_now_ms());
    clock_after(cut);
    cr_assert(sm_transfer_put(shard, CLS, young));
    sm_transfer_release_unused(cut + 1000, 1000);
    sm_block_t *left = sm_transfer_take(shard, CLS);
    cr_assert_eq(left, young, "the young batch stays parked, the old one went back");
    cr_assert_null(sm_transfer_take(shard, CLS), "one batch was left");
    sm_pool_free_batch(CLS, young, "free");
    cr_assert_eq(shard_arena_count(shard), 1, "the blocks went back: one cached arena");
    sm_lock(&sm_g_arena[shard].lock);
    size_t nempty = sm_g_arena[shard].nempty;
    sm_unlock(&sm_g_arena[shard].lock);
    cr_assert_eq(nempty, 1, "its arena is empty again");
}

/* A thread whose previous slow path was a delay ago is told to empty its
 * cache (release.h); one within the delay is not. */
Test(purge, a_cache_idle_for_the_delay_is_emptied)
{
    sm_opt.release_delay_ms = UINT32_MAX;
    sm_release_tick();
    cr_assert_not(sm_release_tick(), "a delay not reached");
    sm_opt.release_delay_ms = 0;
    cr_assert(sm_release_tick(), "a delay of 0 has always passed");
}
