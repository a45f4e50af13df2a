/*
 * fork() and the lock table: every lock of libsmalloc, in the one order in
 * which a thread may take several of them:
 *
 *   1  large-block cache records (large_cache.c)  per-thread records (a leaf)
 *   2  thread-cache registry     (tcache.c)       live thread caches, retired counters
 *   3  legacies                  (tcache.c)       caches exited threads left (a leaf)
 *   4  transfer, shard x class   (transfer.c)     parked batches
 *   5  class, shard x class      (pool.c)         central used-pool lists
 *   6  arena, shard              (arena.c)        arenas of a shard
 *   7  debug                     (debug.c)        quarantine, registry of system blocks
 *
 * In normal operation a thread nests at most class -> arena; the others are
 * taken alone. Statistics and fork take the whole table in this order.
 *
 * fork(): one pthread_atfork registration, made at start-up (init.c).
 * prepare takes every lock, so the child inherits consistent pools,
 * arenas, caches and registry, then marks the forking thread as owning
 * them all (lock.h): the fork handlers of libraries registered before
 * libsmalloc run after its prepare and before its parent/child handlers,
 * and may allocate and free on that thread. parent releases every lock;
 * child re-creates them and gives the other threads' caches back to the
 * pools (sm_tcache_fork_child) and their large-block caches back to glibc
 * (sm_large_cache_fork_child). Another thread that allocates meanwhile
 * waits until the fork is over.
 *
 * Floor: with statistics (it names every module's lock); the modules below
 * only hand it their locks (sm_tcache_registry_lock, sm_transfer_lock,
 * sm_debug_lock; the class and arena locks are in sm_g_central/sm_g_arena).
 */
#ifndef SM_FORK_H
#define SM_FORK_H

#include "compiler.h"

/* Register the fork handlers (once, from start-up, which may allocate). */
sm_hidden void sm_fork_init(void);

/* Every lock of the table, in order, and back in reverse order. For a
 * consistent view of the whole allocator (statistics). No-ops in the
 * thread that is forking, which holds them already. pre: no lock held. */
sm_hidden void sm_fork_lock_all(void);
sm_hidden void sm_fork_unlock_all(void);

/* The child handler: re-create every lock, end the forking state, return
 * the other threads' caches. Tests call it after _Fork(), which runs no
 * handler. */
sm_hidden void sm_fork_child(void);

#endif
