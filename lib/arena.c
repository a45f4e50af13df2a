/*
 * Arena life cycle and the pymalloc arena policy (see arena.h).
 */
#include <string.h>

#include "arena.h"
#include "arena_map.h"
#include "os.h"

_Static_assert(SM_ARENA_HEADER_POOLS == 3, "header layout changed: update the picture in arena.h");

struct sm_arena_state sm_g_arena = {.lock = SM_LOCK_INITIALIZER};

static void bucket_insert(sm_arena_t *arena)
{
    unsigned n = arena->nfreepools;
    sm_assert(n > 0);
    arena->prev = NULL;
    arena->next = sm_g_arena.buckets[n];
    if (arena->next)
        arena->next->prev = arena;
    sm_g_arena.buckets[n] = arena;
    sm_g_arena.nonempty[n / 64] |= (uint64_t)1 << (n % 64);
}

static void bucket_remove(sm_arena_t *arena)
{
    unsigned n = arena->nfreepools;
    if (arena->prev)
        arena->prev->next = arena->next;
    else
        sm_g_arena.buckets[n] = arena->next;
    if (arena->next)
        arena->next->prev = arena->prev;
    if (sm_g_arena.buckets[n] == NULL)
        sm_g_arena.nonempty[n / 64] &= ~((uint64_t)1 << (n % 64));
}

/* The arena with the fewest free pools, or NULL when none has any. */
static sm_arena_t *fullest_usable_arena(void)
{
    for (unsigned w = 0; w < SM_POOLS_PER_ARENA / 64; w++) {
        uint64_t bits = sm_g_arena.nonempty[w];
        if (bits)
            return sm_g_arena.buckets[w * 64 + (unsigned)__builtin_ctzll(bits)];
    }
    return NULL;
}

static sm_arena_t *arena_map_new(void)
{
    sm_arena_t *arena = sm_os_map_aligned(SM_ARENA_SIZE, SM_ARENA_SIZE);
    if (arena == NULL)
        return NULL;
    /* Fresh mmap memory is zero: links NULL, counts 0; set what is not. */
    for (size_t idx = 0; idx < SM_POOLS_PER_ARENA; idx++)
        arena->pools[idx].cls = SM_CLASS_NONE;
    arena->nfreepools = SM_ARENA_USABLE_POOLS;
    arena->ncarved = SM_ARENA_HEADER_POOLS;
    arena->all_next = sm_g_arena.all;
    if (arena->all_next)
        arena->all_next->all_prev = arena;
    sm_g_arena.all = arena;
    sm_arena_map_add(arena);
    sm_g_arena.nempty++;
    sm_g_arena.now++;
    sm_g_arena.allocated++;
    if (sm_g_arena.now > sm_g_arena.highest)
        sm_g_arena.highest = sm_g_arena.now;
    bucket_insert(arena);
    return arena;
}

sm_pool_t *sm_arena_take_pool(void)
{
    sm_arena_t *arena = fullest_usable_arena();
    if (arena == NULL && (arena = arena_map_new()) == NULL)
        return NULL;
    if (arena->nfreepools == SM_ARENA_USABLE_POOLS)
        sm_g_arena.nempty--;
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
    if (sm_g_arena.nempty < SM_ARENA_CACHE_MAX) {
        sm_g_arena.nempty++;
        bucket_insert(arena);
        return NULL;
    }
    /* Unlink it entirely; the caller unmaps it outside the locks. */
    if (arena->all_prev)
        arena->all_prev->all_next = arena->all_next;
    else
        sm_g_arena.all = arena->all_next;
    if (arena->all_next)
        arena->all_next->all_prev = arena->all_prev;
    sm_arena_map_remove(arena);
    sm_g_arena.now--;
    sm_g_arena.freed++;
    return arena;
}

void sm_arena_unmap(sm_arena_t *arena)
{
    sm_os_unmap(arena, SM_ARENA_SIZE);
}

void sm_arena_fork_prepare(void)
{
    sm_lock(&sm_g_arena.lock);
}

void sm_arena_fork_parent(void)
{
    sm_unlock(&sm_g_arena.lock);
}

void sm_arena_fork_child(void)
{
    sm_lock_reinit(&sm_g_arena.lock);
}
