/*
 * The locks of the allocator: plain pthread mutexes (futex based, never
 * allocate). Wrapped so that every lock site reads the same, and so that
 * the thread that forks can allocate between the fork handlers.
 *
 * Every lock is in one table with one order (fork.c); a thread that holds
 * several took them in that order. fork() holds them all from libsmalloc's
 * prepare handler to its parent or child handler. Meanwhile the forking
 * thread owns every lock, and other libraries' fork handlers run on it and
 * may allocate: sm_lock_owns_all is set for that thread alone, and makes
 * its sm_lock/sm_unlock no-ops. That test costs 3 instructions per call,
 * on slow paths only: +0.6% instructions in random_batch (callgrind,
 * bench/driver --workload random_batch --scale 0.05, 44.42 -> 44.69 M).
 */
#ifndef SM_LOCK_H
#define SM_LOCK_H

#include <pthread.h>
#include <stdbool.h>

#include "compiler.h"

typedef pthread_mutex_t sm_lock_t;

#define SM_LOCK_INITIALIZER PTHREAD_MUTEX_INITIALIZER

/* This thread holds every lock of the table (fork.c writes it). */
extern sm_hidden sm_tls bool sm_lock_owns_all;

static inline void sm_lock(sm_lock_t *l)
{
    if (sm_unlikely(sm_lock_owns_all))
        return;
    pthread_mutex_lock(l);
}

static inline void sm_unlock(sm_lock_t *l)
{
    if (sm_unlikely(sm_lock_owns_all))
        return;
    pthread_mutex_unlock(l);
}

/* In a fork child only: the parent's holder is gone, start afresh. */
static inline void sm_lock_reinit(sm_lock_t *l)
{
    pthread_mutex_init(l, NULL);
}

#endif
