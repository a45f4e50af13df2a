/*
 * Arena life cycle and the pymalloc arena policy (see arena.h).
 */
#include <stdbool.h>

#include "arena.h"
#include "list.h"
#include "options.h"
#include "os.h"
#include "secure.h"
#include "space.h"

_Static_assert(SM_ARENA_HEADER_POOLS == (SM_SECURE ? 8 : 3),
               "header layout changed: update the pictures in arena.h");

struct sm_arena_state sm_g_arena[SM_SHARDS] = {
    [0 ... SM_SHARDS - 1] = {.lock = SM_LOCK_INITIALIZER},
};
struct sm_arena_totals sm_g_arena_totals;

static struct sm_arena_state *shard_of(const sm_arena_t *arena)
{
    return &sm_g_arena[arena->shard];
}

static void bucket_insert(sm_arena_t *arena)
{
    struct sm_arena_state *st = shard_of(arena);
    unsigned n = arena->nfreepools;
    sm_assert(n > 0);
    SM_LIST_PUSH(st->buckets[n], arena, prev, next);
    st->nonempty[n / 64] |= (uint64_t)1 << (n % 64);
}

static void bucket_remove(sm_arena_t *arena)
{
    struct sm_arena_state *st = shard_of(arena);
    unsigned n = arena->nfreepools;
    SM_LIST_UNLINK(st->buckets[n], arena, prev, next);
    if (st->buckets[n] == NULL)
        st->nonempty[n / 64] &= ~((uint64_t)1 << (n % 64));
}

/* The arena with the fewest free pools, or NULL when none has any. */
static sm_arena_t *fullest_usable_arena(struct sm_arena_state *st)
{
    for (unsigned w = 0; w < SM_POOLS_PER_ARENA / 64; w++) {
        uint64_t bits = st->nonempty[w];
        if (bits)
            return st->buckets[w * 64 + (unsigned)__builtin_ctzll(bits)];
    }
    return NULL;
}

static void totals_add(_Atomic size_t *counter, size_t delta)
{
    atomic_fetch_add_explicit(counter, delta, memory_order_relaxed);
}

static void totals_sub(_Atomic size_t *counter, size_t delta)
{
    atomic_fetch_sub_explicit(counter, delta, memory_order_relaxed);
}

static sm_arena_t *arena_new_in_space(unsigned shard)
{
    struct sm_arena_state *st = &sm_g_arena[shard];
    if (SM_SECURE)
        sm_secure_init(); /* the link key, before the first link exists */
    sm_arena_t *arena = sm_space_new_arena();
    if (arena == NULL)
        return NULL;
    if (SM_SECURE && (sm_os_protect_none((char *)arena + (SM_ARENA_HEADER_POOLS - 1) * SM_POOL_SIZE,
                                         SM_POOL_SIZE) != 0 ||
                      sm_os_protect_none((char *)arena + SM_ARENA_SIZE - SM_POOL_SIZE,
                                         SM_POOL_SIZE) != 0)) {
        /* No guard pages (the count of mappings is at its limit): no arena. */
        sm_space_unmap_arena(arena);
        return NULL;
    }
    /* Fresh mmap memory is zero: links NULL, counts 0, every pool of no
     * class (SM_CLASS_NONE is 0); set what is not. */
    arena->nfreepools = SM_ARENA_USABLE_POOLS;
    arena->ncarved = SM_ARENA_HEADER_POOLS;
    arena->shard = (uint16_t)shard;
    SM_LIST_PUSH(st->all, arena, all_prev, all_next);
    st->nempty++;
    totals_add(&sm_g_arena_totals.cached, 1);
    totals_add(&sm_g_arena_totals.allocated, 1);
    size_t now = atomic_fetch_add_explicit(&sm_g_arena_totals.now, 1, memory_order_relaxed) + 1;
    size_t highest = atomic_load_explicit(&sm_g_arena_totals.highest, memory_order_relaxed);
    while (now > highest &&
           !atomic_compare_exchange_weak_explicit(&sm_g_arena_totals.highest, &highest, now,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
    bucket_insert(arena);
    return arena;
}

/* A free pool is dirty (its pages may be resident) while nextoffset, how
 * far its blocks were carved when it last served a class, is not 0; a pool
 * never carved, or released by sm_arena_purge(), has nextoffset 0. A dirty
 * pool's epoch is the coarse clock (milliseconds, low 32 bits) when it was
 * given back. */
static int pool_is_dirty(const sm_pool_t *pool)
{
    return pool->nextoffset != 0;
}

/* The shard's count of dirty pools, peeked at without the lock by
 * sm_arena_has_dirty(): stored atomically, written under the lock. */
static void shard_ndirty_add(struct sm_arena_state *st, size_t delta)
{
    atomic_store_explicit(&st->ndirty, atomic_load_explicit(&st->ndirty, memory_order_relaxed) + delta, memory_order_relaxed);
}

static void shard_ndirty_sub(struct sm_arena_state *st, size_t delta)
{
    atomic_store_explicit(&st->ndirty, atomic_load_explicit(&st->ndirty, memory_order_relaxed) - delta, memory_order_relaxed);
}

static void dirty_add(sm_arena_t *arena)
{
    struct sm_arena_state *st = shard_of(arena);
    shard_ndirty_add(st, 1);
    if (arena->ndirty++ > 0)
        return;
    SM_LIST_PUSH(st->dirty, arena, dirty_prev, dirty_next);
}

static void dirty_unlink(sm_arena_t *arena)
{
    struct sm_arena_state *st = shard_of(arena);
    SM_LIST_UNLINK(st->dirty, arena, dirty_prev, dirty_next);
}

static void dirty_sub(sm_arena_t *arena)
{
    shard_ndirty_sub(shard_of(arena), 1);
    if (--arena->ndirty == 0)
        dirty_unlink(arena);
}

sm_pool_t *sm_arena_take_pool(unsigned shard)
{
    struct sm_arena_state *st = &sm_g_arena[shard];
    sm_arena_t *arena = fullest_usable_arena(st);
    if (arena == NULL && (arena = arena_new_in_space(shard)) == NULL)
        return NULL;
    if (arena->nfreepools == SM_ARENA_USABLE_POOLS) {
        st->nempty--;
        totals_sub(&sm_g_arena_totals.cached, 1);
    }
    bucket_remove(arena);
    sm_pool_t *pool = arena->freepools;
    if (pool != NULL) {
        arena->freepools = pool->next;
        if (pool_is_dirty(pool))
            dirty_sub(arena);
    } else {
        pool = &arena->pools[arena->ncarved++];
    }
    arena->nfreepools--;
    if (arena->nfreepools > 0)
        bucket_insert(arena);
    pool->next = pool->prev = NULL;
    return pool;
}

/* Unlink an arena whose pools are all free from every list; the caller
 * unmaps it outside the locks. */
static sm_arena_t *arena_unlink(sm_arena_t *arena)
{
    struct sm_arena_state *st = shard_of(arena);
    SM_LIST_UNLINK(st->all, arena, all_prev, all_next);
    if (arena->ndirty > 0) {
        shard_ndirty_sub(st, arena->ndirty);
        dirty_unlink(arena);
    }
    totals_sub(&sm_g_arena_totals.now, 1);
    totals_add(&sm_g_arena_totals.freed, 1);
    return arena;
}

/* Move dirty free pools of the arena onto the shard's purge list: all of
 * them (older == NULL), or those given back at least older->delay
 * milliseconds before older->now. They count as in use until
 * sm_arena_purge() gives them back, which also keeps the arena mapped
 * meanwhile; they stay together in the list, so a purge locks each arena's
 * shard once. pre: arena->ndirty > 0. */
struct older {
    uint32_t now, delay; /* coarse clock, low 32 bits (pool epochs) */
};

static int pool_is_old(const sm_pool_t *pool, const struct older *older)
{
    /* Unsigned differences: right across a wrap of the 32-bit clock. */
    return older == NULL || (uint32_t)(older->now - pool->epoch) >= older->delay;
}

static void arena_take_dirty(sm_arena_t *arena, const struct older *older)
{
    struct sm_arena_state *st = shard_of(arena);
    int was_empty = arena->nfreepools == SM_ARENA_USABLE_POOLS;
    unsigned taken = 0;
    bucket_remove(arena);
    sm_pool_t **link = &arena->freepools;
    while (*link != NULL) {
        sm_pool_t *pool = *link;
        if (!pool_is_dirty(pool) || !pool_is_old(pool, older)) {
            link = &pool->next;
            continue;
        }
        *link = pool->next;
        pool->next = atomic_load_explicit(&st->purge, memory_order_relaxed);
        atomic_store_explicit(&st->purge, pool, memory_order_relaxed);
        taken++;
    }
    arena->nfreepools = (uint16_t)(arena->nfreepools - taken);
    arena->ndirty = (uint16_t)(arena->ndirty - taken);
    shard_ndirty_sub(st, taken);
    atomic_store_explicit(&st->npurging, atomic_load_explicit(&st->npurging, memory_order_relaxed) + taken, memory_order_relaxed);
    if (arena->ndirty == 0)
        dirty_unlink(arena);
    if (was_empty && taken > 0) {
        st->nempty--;
        totals_sub(&sm_g_arena_totals.cached, 1);
    }
    if (arena->nfreepools > 0)
        bucket_insert(arena);
}

/* Put k free pools, chained first..last through next, on the arena's free
 * list. Returns the arena when that empties it and the cache is full (the
 * caller unmaps it), else NULL. With may_purge, an arena that enters the
 * empty-arena cache has all its dirty pools set aside for release. */
static sm_arena_t *arena_pools_in(sm_arena_t *arena, sm_pool_t *first, sm_pool_t *last,
                                  unsigned k, int may_purge)
{
    struct sm_arena_state *st = shard_of(arena);
    last->next = arena->freepools;
    arena->freepools = first;
    if (arena->nfreepools > 0)
        bucket_remove(arena);
    arena->nfreepools = (uint16_t)(arena->nfreepools + k);
    int empty = arena->nfreepools == SM_ARENA_USABLE_POOLS;
    if (empty && st->nempty >= SM_ARENA_CACHE_MAX)
        return arena_unlink(arena);
    if (empty) {
        st->nempty++;
        totals_add(&sm_g_arena_totals.cached, 1);
    }
    bucket_insert(arena);
    if (!may_purge)
        return NULL;
    if (empty && arena->ndirty > 0)
        arena_take_dirty(arena, NULL);
    return NULL;
}

sm_arena_t *sm_arena_give_pool(sm_pool_t *pool)
{
    sm_arena_t *arena = sm_arena_of((uintptr_t)pool);
    pool->cls = SM_CLASS_NONE;
    sm_space_set_class(sm_pool_base(pool), SM_CLASS_NONE); /* every free into it is refused */
    if (pool_is_dirty(pool)) {
        pool->epoch = (uint32_t)sm_os_now_ms(); /* a vDSO read */
        dirty_add(arena);
    }
    return arena_pools_in(arena, pool, pool, 1, 1);
}

/* madvise the pools of arena marked in mask, one call per run. */
static void discard_runs(sm_arena_t *arena, const uint64_t *mask)
{
    size_t idx = 0;
    while (idx < SM_POOLS_PER_ARENA) {
        if (!(mask[idx / 64] >> (idx % 64) & 1)) {
            idx++;
            continue;
        }
        size_t end = idx + 1;
        while (end < SM_POOLS_PER_ARENA && (mask[end / 64] >> (end % 64) & 1))
            end++;
        sm_os_discard((char *)arena + idx * SM_POOL_SIZE, (end - idx) * SM_POOL_SIZE);
        idx = end;
    }
}

sm_arena_event_fn *sm_g_arena_event;

void sm_arena_unmap(sm_arena_t *arena)
{
    if (sm_unlikely(sm_g_arena_event != NULL))
        sm_g_arena_event(arena, false);
    sm_space_unmap_arena(arena);
}

/* Release one shard's set-aside pools and give them back. Not inlined:
 * sm_arena_purge, called after every batch that emptied a pool, stays a
 * loop of four peeks without this function's frame. */
static sm_noinline void purge_shard(struct sm_arena_state *st)
{
    sm_lock(&st->lock);
    sm_pool_t *chain = atomic_load_explicit(&st->purge, memory_order_relaxed);
    atomic_store_explicit(&st->purge, NULL, memory_order_relaxed);
    sm_unlock(&st->lock);
    while (chain != NULL) {
        /* The pools of one arena are consecutive in the chain. */
        sm_arena_t *arena = sm_arena_of((uintptr_t)chain);
        uint64_t mask[SM_POOLS_PER_ARENA / 64] = {0};
        sm_pool_t *first = chain, *last = chain;
        unsigned k = 0;
        for (; chain != NULL && sm_arena_of((uintptr_t)chain) == arena; chain = chain->next) {
            size_t idx = (size_t)(chain - arena->pools);
            mask[idx / 64] |= (uint64_t)1 << (idx % 64);
            chain->nextoffset = 0; /* clean from here on */
            last = chain;
            k++;
        }
        discard_runs(arena, mask);
        sm_lock(&st->lock);
        atomic_store_explicit(&st->npurging, atomic_load_explicit(&st->npurging, memory_order_relaxed) - k, memory_order_relaxed);
        sm_arena_t *gone = arena_pools_in(arena, first, last, k, 0);
        sm_unlock(&st->lock);
        if (gone != NULL)
            sm_arena_unmap(gone);
    }
}

void sm_arena_release_all(void)
{
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        struct sm_arena_state *st = &sm_g_arena[shard];
        sm_lock(&st->lock);
        while (st->dirty != NULL)
            arena_take_dirty(st->dirty, NULL);
        sm_unlock(&st->lock);
    }
    sm_arena_purge();
}

void sm_arena_release_unused(uint64_t now_ms, uint64_t delay_ms)
{
    struct older older = {(uint32_t)now_ms, delay_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)delay_ms};
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        struct sm_arena_state *st = &sm_g_arena[shard];
        if (atomic_load_explicit(&st->ndirty, memory_order_relaxed) == 0)
            continue;
        sm_lock(&st->lock);
        sm_arena_t *next;
        for (sm_arena_t *arena = st->dirty; arena != NULL; arena = next) {
            next = arena->dirty_next; /* arena_take_dirty may unlink it */
            arena_take_dirty(arena, &older);
        }
        sm_unlock(&st->lock);
    }
    sm_arena_purge();
}

bool sm_arena_has_dirty(void)
{
    for (unsigned shard = 0; shard < SM_SHARDS; shard++)
        if (atomic_load_explicit(&sm_g_arena[shard].ndirty, memory_order_relaxed) != 0)
            return true;
    return false;
}

void sm_arena_purge(void)
{
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        struct sm_arena_state *st = &sm_g_arena[shard];
        /* An unlocked peek: a stale NULL leaves the pools to the next call. */
        if (atomic_load_explicit(&st->purge, memory_order_relaxed) != NULL)
            purge_shard(st);
    }
}
