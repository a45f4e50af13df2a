/*
 * Arena life cycle and the pymalloc arena policy (see arena.h).
 */
#include <string.h>

#include "arena.h"
#include "arena_map.h"
#include "os.h"

_Static_assert(SM_ARENA_HEADER_POOLS == 3, "header layout changed: update the picture in arena.h");

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
    arena->prev = NULL;
    arena->next = st->buckets[n];
    if (arena->next)
        arena->next->prev = arena;
    st->buckets[n] = arena;
    st->nonempty[n / 64] |= (uint64_t)1 << (n % 64);
}

static void bucket_remove(sm_arena_t *arena)
{
    struct sm_arena_state *st = shard_of(arena);
    unsigned n = arena->nfreepools;
    if (arena->prev)
        arena->prev->next = arena->next;
    else
        st->buckets[n] = arena->next;
    if (arena->next)
        arena->next->prev = arena->prev;
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

static sm_arena_t *arena_map_new(unsigned shard)
{
    struct sm_arena_state *st = &sm_g_arena[shard];
    sm_arena_t *arena = sm_os_map_aligned(SM_ARENA_SIZE, SM_ARENA_SIZE);
    if (arena == NULL)
        return NULL;
    /* Fresh mmap memory is zero: links NULL, counts 0; set what is not. */
    for (size_t idx = 0; idx < SM_POOLS_PER_ARENA; idx++)
        arena->pools[idx].cls = SM_CLASS_NONE;
    arena->nfreepools = SM_ARENA_USABLE_POOLS;
    arena->ncarved = SM_ARENA_HEADER_POOLS;
    arena->shard = (uint16_t)shard;
    arena->all_next = st->all;
    if (arena->all_next)
        arena->all_next->all_prev = arena;
    st->all = arena;
    sm_arena_map_add(arena);
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

sm_pool_t *sm_arena_take_pool(unsigned shard)
{
    struct sm_arena_state *st = &sm_g_arena[shard];
    sm_arena_t *arena = fullest_usable_arena(st);
    if (arena == NULL && (arena = arena_map_new(shard)) == NULL)
        return NULL;
    if (arena->nfreepools == SM_ARENA_USABLE_POOLS) {
        st->nempty--;
        totals_sub(&sm_g_arena_totals.cached, 1);
    }
    bucket_remove(arena);
    sm_pool_t *pool = arena->freepools;
    if (pool != NULL)
        arena->freepools = pool->next;
    else
        pool = &arena->pools[arena->ncarved++];
    arena->nfreepools--;
    if (arena->nfreepools > 0)
        bucket_insert(arena);
    pool->next = pool->prev = NULL;
    return pool;
}

sm_arena_t *sm_arena_give_pool(sm_pool_t *pool)
{
    sm_arena_t *arena = sm_arena_of((uintptr_t)pool);
    struct sm_arena_state *st = shard_of(arena);
    pool->cls = SM_CLASS_NONE;
    pool->nblocks = 0; /* from now on every free into this pool is refused */
    pool->next = arena->freepools;
    arena->freepools = pool;
    if (arena->nfreepools > 0)
        bucket_remove(arena);
    arena->nfreepools++;
    if (arena->nfreepools < SM_ARENA_USABLE_POOLS) {
        bucket_insert(arena);
        return NULL;
    }
    if (st->nempty < SM_ARENA_CACHE_MAX) {
        st->nempty++;
        totals_add(&sm_g_arena_totals.cached, 1);
        bucket_insert(arena);
        return NULL;
    }
    /* Unlink it entirely; the caller unmaps it outside the locks. */
    if (arena->all_prev)
        arena->all_prev->all_next = arena->all_next;
    else
        st->all = arena->all_next;
    if (arena->all_next)
        arena->all_next->all_prev = arena->all_prev;
    sm_arena_map_remove(arena);
    totals_sub(&sm_g_arena_totals.now, 1);
    totals_add(&sm_g_arena_totals.freed, 1);
    return arena;
}

void sm_arena_unmap(sm_arena_t *arena)
{
    sm_os_unmap(arena, SM_ARENA_SIZE);
}

void sm_arena_fork_prepare(void)
{
    for (unsigned shard = 0; shard < SM_SHARDS; shard++)
        sm_lock(&sm_g_arena[shard].lock);
}

void sm_arena_fork_parent(void)
{
    for (unsigned shard = SM_SHARDS; shard-- > 0;)
        sm_unlock(&sm_g_arena[shard].lock);
}

void sm_arena_fork_child(void)
{
    for (unsigned shard = 0; shard < SM_SHARDS; shard++)
        sm_lock_reinit(&sm_g_arena[shard].lock);
}
