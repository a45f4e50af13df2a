/*
 * The locks of the central allocator: plain pthread mutexes (futex based,
 * never allocate). Wrapped so that every lock site reads the same and the
 * fork handlers (init.c) can re-create them in the child.
 */
#ifndef SM_LOCK_H
#define SM_LOCK_H

#include <pthread.h>

typedef pthread_mutex_t sm_lock_t;

#define SM_LOCK_INITIALIZER PTHREAD_MUTEX_INITIALIZER

static inline void sm_lock(sm_lock_t *l)
{
    pthread_mutex_lock(l);
}

static inline void sm_unlock(sm_lock_t *l)
{
    pthread_mutex_unlock(l);
}

/* In a fork child only: the parent's holder is gone, start afresh. */
static inline void sm_lock_reinit(sm_lock_t *l)
{
    pthread_mutex_init(l, NULL);
}

#endif
