/*
 * Thread caches (tcache): a per-thread cache of free blocks in front of
 * the central pools, in the manner of tcmalloc, jemalloc's tcache and
 * glibc's tcache.
 *
 *   thread A tcache        thread B tcache
 *   head[cls], room[cls]   head[cls], room[cls]
 *        |  refill / flush in batches  |
 *        v  (class lock)               v
 *   sm_g_central[shard][cls]: used pools  --(arena lock)-->  arenas
 *
 * malloc pops the head of its bin; free pushes onto the bin of the calling
 * thread, whichever thread allocated the block. Neither takes a lock or an
 * atomic read-modify-write. When a bin is empty, malloc refills it with half
 * a bin of blocks (a batch) from the transfer cache (transfer.h) or the
 * class's pools; when a bin is full (room == 0), free parks its older half
 * in the transfer cache if a slot is free there, or else keeps the bin's 8
 * newest blocks and returns all the others to the pools in one call
 * (tcache.c bin_flush says why). A bin holds at most SM_BIN_BYTES of
 * blocks (between 16 and 126 blocks), so a thread never caches more than
 * 64 * 8 KiB.
 *
 * What the round trip bin -> pools -> bin costs, for a program that builds
 * large containers and drops them (CPython 3.11 with PYTHONMALLOC=malloc):
 * total instructions, libsmalloc's own in brackets, before the flush to
 * the pools kept 8 blocks (it walked to the older half, and flushed runs
 * were slower, pool.c) and after; pymalloc for comparison:
 *   dicts_lists.py 0.2    824.2M (101.4M) -> 806.5M (84.9M)   pymalloc 772.4M
 *   gc_graph.py 0.3       592.0M  (59.2M) -> 580.9M (48.7M)   pymalloc 556.2M
 *   sort_live.py 0.3      941.8M  (58.6M) -> 932.5M (49.8M)   pymalloc 911.7M
 *   object_churn.py 0.2  1558.0M (117.9M) -> 1545.8M (106.5M) pymalloc 1534.2M
 *   strings.py 0.2        709.0M  (69.2M) -> 698.9M (59.7M)   pymalloc 680.5M
 * measured with
 *   env PYTHONHASHSEED=0 PYTHONMALLOC=malloc LD_PRELOAD=build/lib/libsmalloc.so \
 *     SMALLOC_BACKGROUND=0 valgrind --tool=callgrind /usr/bin/python3 bench/python/SCRIPT SCALE
 * (pymalloc: the same without PYTHONMALLOC and LD_PRELOAD; libsmalloc's
 * share: the sum of its functions in callgrind_annotate). In dicts_lists
 * sm_tcache_free_flush went from 5.0M to 0.9M and sm_pool_free_batch from
 * 27.9M to 18.9M (with pool_give_back); in gc_graph the D1 read misses of
 * libsmalloc's functions from 600k to 406k (valgrind --tool=cachegrind
 * --cache-sim=yes, the same command), the walk's 107k gone. The C workload
 * python_churn (valgrind --tool=callgrind build/bench/driver -w
 * python_churn --scale 0.05, LD_PRELOAD as above) went from 115.1M to
 * 105.8M.
 *
 * Why this design rather than per-thread pools with remote frees
 * (mimalloc): a block freed by another thread needs no owner to collect it,
 * a thread that exits just flushes its bins (its blocks stay valid, they
 * belong to pools, not to threads), and the central part stays pymalloc's
 * pool/arena policy under a lock, which is what keeps memory low. The cost
 * is one lock per half bin on the slow path.
 *
 * Each thread's thread cache is a thread-local variable (initial-exec TLS), so
 * the fast paths reach a bin with one load of the TLS offset. A thread
 * starts with its thread cache zeroed (state SM_TCACHE_NEW): every bin empty and full
 * (head NULL, room 0), so its first malloc and first free land in the slow
 * path, which attaches the thread cache. On thread exit the thread cache is flushed in
 * each round of TSD destructors (other keys' destructors may allocate and
 * free through it meanwhile) and, in the last round, becomes SM_TCACHE_DEAD,
 * bins zeroed again, which sends every later call (libc's own clean-up)
 * straight to the pools. Attached thread caches are found through a registry
 * (tcache.c) that outlives their threads' TLS: statistics read them, a fork
 * child flushes them.
 *
 * The TLS costs 656 bytes per thread (readelf -l: the TLS segment; 8 of them
 * are release.c's time of the last slow path), all
 * in the static TLS block, as jemalloc's does. Linked or preloaded that is
 * always there; dlopen() of libsmalloc takes it from glibc's small static
 * TLS surplus (Python's ctypes.CDLL of it works on Debian 12), which a
 * process that has used the surplus up would refuse.
 */
#ifndef SM_TCACHE_H
#define SM_TCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"
#include "freelist.h"
#include "lock.h"
#include "secure.h"

enum sm_tcache_state { SM_TCACHE_NEW = 0, SM_TCACHE_LIVE, SM_TCACHE_DEAD };

/* A bin is head[cls] and room[cls]: two arrays rather than an array of
 * pairs, so that both are reached with a scaled index and the fast path
 * needs no multiply-and-add to find its bin. room is a signed byte: free
 * decrements it and tests the sign in one instruction pair (subb; js), and
 * bins hold at most SM_BIN_MAX_BLOCKS (126) blocks. room stays a plain
 * byte, read by statistics with __atomic_load_n (sm_tcache_cached_blocks):
 * as an _Atomic, the free fast path's decrement would be a load and a
 * store instead of one subb (callgrind counts it, bench/callgrind.sh). */
typedef struct sm_tcache {
    sm_block_t *head[SM_NCLASSES + 1]; /* free blocks of each class, LIFO */
    int8_t room[SM_NCLASSES + 1];      /* blocks that may still be pushed: capacity - cached;
                                        * written by the owner only, plain (see above) */
    uint8_t state;                     /* enum sm_tcache_state */
    unsigned shard;                    /* central shard its refills come from */
    uint8_t exit_calls;                /* thread-exit destructor calls so far */
    struct sm_tcache_slot *slot;         /* its registry entry (tcache.c), or NULL */
} sm_tcache_t;

/* The calling thread's thread cache. */
extern sm_hidden sm_tls sm_tcache_t sm_tcache;

/* The thread cache's part of the slow paths; the fast paths themselves
 * and the routing around these (start-up, debug mode, the system malloc)
 * are the entry layer's (alloc.h, free.h). Runtime debug mode
 * (SMALLOC_DEBUG=1) never reaches them: its thread caches have bins of capacity 0
 * (head NULL, room 0), so every small malloc and free lands in the entry
 * layer's slow path, which hands it to the debug layer.
 *
 * alloc_refill: a block of class cls for the calling thread, whose thread cache h
 * is NULL once the thread has exited (then straight from the pools). The
 * bin is refilled with a batch from the transfer cache or the pools. NULL
 * when the pools have no block and no arena can be mapped; errno is left
 * to the caller. pre: start-up done.
 *
 * free_flush: b, a block of class cls, freed by the calling thread when the
 * fast path found its bin full or b possibly free; entered with the fast
 * path's decrement of room[cls] undone (sm_free_slow). Aborts on a double free (sm_tcache_check_not_free),
 * flushes half of a full bin, pushes b. */
sm_hidden void *sm_tcache_alloc_refill(sm_tcache_t *h, sm_cls_t cls);
sm_hidden void sm_tcache_free_flush(sm_cls_t cls, sm_block_t *b);

/* Abort with "<func>(): double free detected ..." when b, a block start of
 * class cls, is free: at the head of h's bin, or, when it carries the freed
 * mark (freelist.h), anywhere in h's bin, in the transfer cache or in its
 * pool's free list. Returns when b is live. */
sm_hidden void sm_tcache_check_not_free(const sm_tcache_t *h, sm_cls_t cls, sm_block_t *b,
                                      const char *func) sm_cold;

/* Take b, the head of h's bin of class cls, off the bin. */
static sm_always_inline void *sm_tcache_pop(sm_tcache_t *h, sm_cls_t cls, sm_block_t *b)
{
    sm_secure_slot_t live = sm_secure_check_block(b, cls); /* hardened build (secure.h) */
    h->head[cls] = sm_freelist_next(b);
    h->room[cls]++;
    sm_freelist_set_mark(b, cls, 0); /* live again (freelist.h) */
    sm_secure_mark_live(live, b);
    return b;
}

/* Push b, a live block of class cls, on the calling thread's bin. pre: the
 * bin has room and b is not its head (sm_free_small, free.h, tests). */
static sm_always_inline void sm_tcache_push(sm_cls_t cls, sm_block_t *b)
{
    sm_secure_on_free(b, cls, "free");
    sm_freelist_set_mark(b, cls, SM_FREED_MARK);
    sm_freelist_set_next(b, sm_tcache.head[cls]);
    sm_tcache.head[cls] = b;
}

/* Attach the calling thread's thread cache (its first call); NULL when the
 * thread has exited. Called by sm_tcache_get only. pre: start-up done or
 * running in this thread (the entry layer starts it). */
sm_hidden sm_tcache_t *sm_tcache_attach(void) sm_noinline;

/* The calling thread's thread cache, attached if needed; NULL when the thread has
 * exited. pre: as sm_tcache_attach. */
static sm_always_inline sm_tcache_t *sm_tcache_get(void)
{
    if (sm_unlikely(sm_tcache.state != SM_TCACHE_LIVE))
        return sm_tcache_attach();
    return &sm_tcache;
}

/* Give the calling thread's cached blocks and every parked batch back to
 * the pools, so that arenas left empty are returned (smalloc_collect). */
sm_hidden void sm_tcache_collect(void);

/* Blocks of class cls cached by all live threads and parked in the
 * transfer cache (approximate while threads run). */
sm_hidden size_t sm_tcache_cached_blocks(sm_cls_t cls);

/* Process start-up: the thread-exit key. Returns 0 or an errno. */
sm_hidden int sm_tcache_init(void);

/* The registry lock, for the lock table (fork.h). */
sm_hidden sm_lock_t *sm_tcache_registry_lock(void);

/* Caches left by exited threads for the next thread to adopt (tcache.c):
 * those left at least delay_ms before now_ms go back to the pools (a
 * release round, release.h); an unlocked peek; their lock (fork.c). */
sm_hidden void sm_tcache_release_legacies(uint64_t now_ms, uint64_t delay_ms);
sm_hidden bool sm_tcache_has_legacies(void);
sm_hidden sm_lock_t *sm_tcache_legacy_lock(void);
#ifdef SMALLOC_TESTING
/* Test hook: how many legacy slots an exiting thread may use (0: its
 * cache always goes to the pools at exit). */
extern sm_hidden unsigned sm_tcache_legacy_slots;
#endif

/* Fork child: the other threads' caches go back to the pools. pre: every
 * lock re-created (sm_fork_child). */
sm_hidden void sm_tcache_fork_child(void);

#endif
