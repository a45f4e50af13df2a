/*
 * The lock table and the fork handlers (see fork.h).
 */
#include <pthread.h>

#include "arena.h"
#include "config.h"
#include "debug.h"
#include "fork.h"
#include "large_cache.h"
#include "lock.h"
#include "pool.h"
#include "release.h"
#include "tcache.h"
#include "transfer.h"

sm_tls bool sm_lock_owns_all;

static sm_lock_t *large_cache_lock(unsigned i)
{
    (void)i;
    return sm_large_cache_lock();
}

static sm_lock_t *legacy_lock(unsigned i)
{
    (void)i;
    return sm_tcache_legacy_lock();
}

static sm_lock_t *registry_lock(unsigned i)
{
    (void)i;
    return sm_tcache_registry_lock();
}

/* i = shard * SM_NCLASSES + cls - 1 for the shard x class locks */
static sm_lock_t *transfer_lock(unsigned i)
{
    return sm_transfer_lock(i / SM_NCLASSES, i % SM_NCLASSES + 1);
}

static sm_lock_t *class_lock(unsigned i)
{
    return &sm_g_central[i / SM_NCLASSES][i % SM_NCLASSES + 1].lock;
}

static sm_lock_t *arena_lock(unsigned i)
{
    return &sm_g_arena[i].lock;
}

static sm_lock_t *debug_lock(unsigned i)
{
    (void)i;
    return sm_debug_lock();
}

/* The lock order (fork.h), first to last. */
static const struct lock_range {
    unsigned count;
    sm_lock_t *(*at)(unsigned i);
} lock_table[] = {
    {1, large_cache_lock}, /* a leaf: nothing else is taken under it */
    {1, registry_lock},
    {1, legacy_lock},
    {SM_SHARDS * SM_NCLASSES, transfer_lock},
    {SM_SHARDS * SM_NCLASSES, class_lock},
    {SM_SHARDS, arena_lock},
    {1, debug_lock},
};

#define NRANGES (sizeof lock_table / sizeof lock_table[0])

void sm_fork_lock_all(void)
{
    for (unsigned r = 0; r < NRANGES; r++)
        for (unsigned i = 0; i < lock_table[r].count; i++)
            sm_lock(lock_table[r].at(i));
}

void sm_fork_unlock_all(void)
{
    for (unsigned r = NRANGES; r-- > 0;)
        for (unsigned i = lock_table[r].count; i-- > 0;)
            sm_unlock(lock_table[r].at(i));
}

static void fork_prepare(void)
{
    sm_fork_lock_all();
    sm_lock_owns_all = true;
}

static void fork_parent(void)
{
    sm_lock_owns_all = false;
    sm_fork_unlock_all();
}

void sm_fork_child(void)
{
    for (unsigned r = 0; r < NRANGES; r++)
        for (unsigned i = 0; i < lock_table[r].count; i++)
            sm_lock_reinit(lock_table[r].at(i));
    sm_lock_owns_all = false;
    sm_tcache_fork_child();
    sm_large_cache_fork_child();
    sm_release_fork_child(); /* the parent's background thread is not here */
}

void sm_fork_init(void)
{
    pthread_atfork(fork_prepare, fork_parent, sm_fork_child);
}
