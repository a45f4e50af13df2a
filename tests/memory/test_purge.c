/*
 * arena.h's release of free pools (issue #6), white-box: which dirty pools
 * are released (madvise) and when. Pools come and go through
 * sm_pool_alloc_batch / sm_pool_free_batch on a shard no other thread
 * touches (../unit/shard.h); the delay between release rounds is set per
 * test through sm_arena_purge_delay_ms (0: a round every
 * SM_PURGE_INTERVAL releases), so nothing here depends on the clock.
 */
#include <limits.h>
#include <string.h>
#include <sys/mman.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "arena.h"
#include "pool.h"
#include "shard.h"
#include "support.h"

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

static size_t shard_dirty(unsigned shard)
{
    sm_lock(&sm_g_arena[shard].lock);
    size_t n = sm_g_arena[shard].ndirty;
    sm_unlock(&sm_g_arena[shard].lock);
    return n;
}

/* Rounds with no delay: a pool left free through a whole round (at least
 * SM_PURGE_INTERVAL later releases) is released; only the pools of the
 * last two rounds stay dirty, and the resident set shrinks accordingly. */
Test(purge, pools_left_free_through_a_round_are_released)
{
    struct pinned_arenas pa = {.shard = clean_shard(), .narenas = MAXARENAS};
    sm_arena_purge_delay_ms = 0;
    size_t rss_before = statm_resident_bytes();
    fill_and_free(&pa);
    size_t dirty = shard_dirty(pa.shard);
    size_t rss_after = statm_resident_bytes();
    sm_arena_purge_delay_ms = SM_PURGE_DELAY_MS;

    cr_assert_leq(dirty, 2 * SM_PURGE_INTERVAL, "%zu dirty pools left of %zu freed", dirty,
                  pa.freed_pools);
    size_t released = pa.freed_pools - dirty;
    cr_assert_geq(released, pa.freed_pools - 2 * SM_PURGE_INTERVAL, "released %zu", released);
    /* The pages went: the resident set grew by at most what is not
     * released (plus 1 MiB for the rest of the process). */
    size_t kept = (dirty + pa.narenas) * SM_POOL_SIZE + pa.narenas * SM_ARENA_HEADER_POOLS * SM_POOL_SIZE;
    cr_assert_leq(rss_after, rss_before + kept + ((size_t)1 << 20),
                  "RSS grew by %zu KiB, %zu KiB of pools are not released",
                  (rss_after - rss_before) / 1024, kept / 1024);

    /* smalloc_collect's release: nothing dirty is left. */
    sm_arena_release_all();
    cr_assert_eq(shard_dirty(pa.shard), 0, "dirty pools after sm_arena_release_all");
    free_pins(&pa);
}

/* With a delay no round reaches, a program that frees and reallocates
 * keeps its pools resident: rounds release nothing. */
Test(purge, no_release_before_the_delay)
{
    struct pinned_arenas pa = {.shard = clean_shard(), .narenas = MAXARENAS};
    sm_arena_purge_delay_ms = UINT_MAX;
    fill_and_free(&pa);
    size_t dirty = shard_dirty(pa.shard);
    sm_arena_purge_delay_ms = SM_PURGE_DELAY_MS;
    /* No round runs: the delay has not passed since the (never run) last
     * one, the clock's zero. */
    cr_assert_eq(dirty, pa.freed_pools, "%zu of %zu freed pools still dirty", dirty, pa.freed_pools);
    sm_arena_release_all();
    free_pins(&pa);
}

/* An arena that empties and is kept as the shard's cached empty arena has
 * its pools released at once, whatever the delay. */
Test(purge, an_arena_entering_the_cache_is_released_at_once)
{
    struct pinned_arenas pa = {.shard = clean_shard(), .narenas = 1};
    sm_arena_purge_delay_ms = UINT_MAX;
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
    sm_arena_purge_delay_ms = SM_PURGE_DELAY_MS;

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
