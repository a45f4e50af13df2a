/*
 * The release policy: free memory nobody uses goes back to the OS within a
 * bounded delay, whether or not the program calls the allocator again.
 * The case it is built for: a scattered free (2 GiB of 32-byte blocks
 * freed in random order) leaves a few hundred blocks in the thread cache
 * and the transfer cache, each pinning an arena; if rounds ran only on
 * later pool releases, those arenas, and the dirty pages of a fragmented
 * heap, would stay resident until smalloc_collect().
 *
 * What waits, and what happens to it once unused for the release delay D
 * (SMALLOC_RELEASE_DELAY_MS, 1000):
 *   dirty free pools (arena.h)        pages released (madvise);
 *   batches parked between threads    back to their pools (transfer.h), so
 *                                     the arenas they pinned can empty;
 *   empty arenas                      unmapped at once, beyond the one per
 *                                     shard kept with its pages released;
 *   a thread cache (tcache.h)           emptied by its own thread on its next
 *                                     slow path when its previous slow path
 *                                     was D ago (no other thread may touch
 *                                     it: the fast path has no atomics).
 * A release round (release_round in release.c) does the first two; rounds
 * run every SMALLOC_RELEASE_INTERVAL_MS (I, 250) while something waits, so
 * memory goes back between D and D + I after its last use (a pool emptied
 * by a drained batch waits its own delay after that).
 *
 * Who runs the rounds:
 *   SMALLOC_BACKGROUND=1 (default): one background thread per process
 *     (jemalloc's background_thread), started the first time something
 *     waits, which sleeps while nothing does. Measured in bench/results/studies/memory-release.md.
 *   SMALLOC_BACKGROUND=0, or when the thread cannot be created: the slow
 *     paths of malloc and free (refills and flushes of a thread cache)
 *     read the coarse clock and run a round when I has passed. A program
 *     that stops calling then keeps what waits until it calls again.
 *
 * What stays resident for a thread that never calls again: its cache,
 * at most SM_BIN_BYTES (8 KiB) of blocks per class, and the pools holding
 * them with their arenas' headers (at most 126 pools per class; 2 MiB in
 * the scattered 32-byte case above); every other pool of those arenas is
 * released.
 *
 * The cost on the slow paths: one coarse-clock read (vDSO, no system call),
 * one fence and one load per refill or flush of a thread cache; the fast
 * paths are untouched (the release policy adds nothing to bench/callgrind.sh's count).
 */
#ifndef SM_RELEASE_H
#define SM_RELEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"

/* On a thread cache's slow path (a refill or a flush), no lock held: reads
 * the clock; without a background thread, runs a release round when one
 * is due. Returns true when the calling thread's previous slow path was a
 * release delay ago or more: the caller then empties its cache (an idle
 * cache must not pin memory), and calls sm_release_poke() after. */
sm_hidden bool sm_release_tick(void);

/* After the calling thread may have freed pools or parked batches (end of
 * a slow path, thread exit), no lock held and the thread's cache
 * consistent: starts the background thread, or wakes it if it sleeps
 * without a timeout, when something waits for release. One fence and one
 * load when the thread is already running. */
sm_hidden void sm_release_poke(void);

/* Start-up is DONE (init.c): from now on the thread may be started. Before,
 * a poke or sm_release_start_for_job starts nothing. */
sm_hidden void sm_release_allow_start(void);

/* A batch was just parked (transfer.c), no lock held: wakes a sleeping
 * background thread, or has the next sm_release_poke() start it. */
sm_hidden void sm_release_note_parked(void);

/* Work of a higher floor the background thread runs for it (the running
 * statistics reports, stats.c): every interval_ms (0: never) from the
 * thread's start, and soon after each sm_release_job_request(). The job
 * runs on the thread with every signal blocked and no lock held, and must
 * not allocate (the thread has no thread cache worth keeping). */
enum sm_release_job_why { SM_RELEASE_JOB_INTERVAL, SM_RELEASE_JOB_REQUESTED };
typedef void sm_release_job_fn(enum sm_release_job_why why);

/* Start-up, before any second thread: registers the job (one only). The
 * thread itself starts with sm_release_start_for_job(). */
sm_hidden void sm_release_set_job(sm_release_job_fn *job, uint64_t interval_ms);

/* After start-up is DONE, no lock held, not inside the allocator (the load
 * time start of stats_running.c): starts the thread now for the job. false
 * when it cannot run: SMALLOC_BACKGROUND=0, or pthread_create refused (the
 * caller says so). */
sm_hidden bool sm_release_start_for_job(void);

/* Async-signal-safe (an atomic store and sem_post; errno kept): has the
 * thread run the job once more, as soon as it can. Before the thread runs
 * (a fork child that has not started its own yet), the request waits. */
sm_hidden void sm_release_job_request(void);

/* In a fork child (the parent's thread does not exist there): the state
 * goes back to "never started", the lock and semaphore are re-created.
 * Called by the fork child handler (fork.c). With a job, the child's
 * thread starts on its first sm_release_poke (end of a free slow path,
 * thread exit). */
sm_hidden void sm_release_fork_child(void);

#endif
