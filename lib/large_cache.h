/*
 * The large-block cache: a bounded per-thread cache of free system-malloc
 * blocks of 513 bytes to 16 KiB, in front of glibc, in the manner of
 * glibc's own tcache and tcmalloc's thread caches (built with
 * SMALLOC_OVERRIDE only, where the system malloc is glibc's).
 *
 * Why: blocks above 512 bytes are glibc's (the design card). In a program
 * that mixes sizes, glibc then serves only the larger half, whose chunks
 * are not separated by small ones: nearly every free coalesces with
 * a free neighbour and every malloc splits again, and glibc's tcache keeps
 * only 7 chunks per size. Measured with callgrind on a random-replacement
 * loop of 513..1000-byte blocks (1000 slots): glibc spends about 150
 * instructions per malloc+free pair there (malloc 40, _int_malloc 25,
 * free 20, _int_free 67); a pop and a push here cost about 15.
 *
 * Classes: 32 per power of two, so a request is rounded up by less than
 * 1/32 (16 bytes between 513 and 1024, 32 to 2048, ..., 256 to 16384):
 *
 *   request n      class k                      block asked of glibc
 *   513 .. 528     0                            528
 *   ...            ...                          ...
 *   1009 .. 1024   31                           1024
 *   1025 .. 1056   32                           1056
 *   ...            ...                          ...
 *   16129 .. 16384 159                          16384
 *
 * A miss asks glibc for the class size, so every block comes back to the
 * class it left (glibc's usable size is the class size plus 8, rounded to
 * 16). A freed glibc block goes to the largest class whose size its usable
 * size holds, whoever made it (blocks glibc made before libsmalloc was
 * loaded, memalign'ed ones): each block of class k has room for k's size.
 *
 * A block's size comes from glibc's chunk header, the word before it, as
 * glibc's malloc_usable_size reads it. Whether the header says the truth
 * is checked once, at the first use in the process (under valgrind, or
 * with another malloc behind __libc_malloc, it does not, and the cache
 * stays off). A block that is mmapped, misaligned or of an implausible
 * size is left to glibc's free, which reports it.
 *
 *   free block in the cache:  [ link | SM_FREED_MARK | ...  ]
 *
 * The freed mark in the second word catches a double free of a cached
 * block, as the pools' mark does (freelist.h).
 *
 * Room: a thread caches at most its room, and a bin at most a quarter of
 * SMALLOC_LARGE_CACHE (at least 4 blocks); beyond them a free goes to glibc.
 * The room follows the data in use at the cache's sizes: every
 * SM_LARGE_CACHE_UPDATE_EVENTS (1024) requests and frees through its cache,
 * a thread adds the class bytes it got less those it freed since its last
 * look to a process-wide sum (one atomic add) and takes as room its share
 * of an eighth of it (sum / 8 / threads with a cache), at least 128 KiB
 * (SM_LARGE_CACHE_ROOM_MIN) and at most SMALLOC_LARGE_CACHE (default
 * SM_LARGE_CACHE_BYTES, 2 MiB; 0 turns the cache off). The sum is an
 * estimate (glibc's realloc, for shrinks and sizes above 16 KiB, changes
 * a block's size unseen; blocks made before libsmalloc count when freed), summed over threads so that one
 * thread's frees of another's blocks cancel out.
 *
 * Borrowing: a request whose bin is empty takes a block of the nearest of
 * the SM_LARGE_CACHE_NEIGHBORS (12) classes above that has one, at most 40%
 * larger than the request (720 bytes for 513); freed, it returns to its own
 * class.
 *
 * Why: when sizes come at random, a bin's count is a random walk (a free
 * adds one, a request takes one) and a request misses when the walk is at
 * zero, so bins of few blocks miss often; borrowing pools 13 bins into
 * one walk, and the room gives a program with much data at these sizes a
 * cache in proportion while one with little keeps 128 KiB. Fewer misses
 * also mean fewer sizes for glibc to split and coalesce, which lowered
 * peak RSS below glibc's own on mixed_tail. Measured with callgrind
 * (`valgrind --tool=callgrind build/bench/driver -w W --scale 0.05`,
 * instructions of the whole run) and peak_rss_kb of `build/bench/driver -w
 * W --scale 0.5` (median of 7 runs, interleaved), before (128 KiB a thread,
 * no borrowing) -> now, glibc and mimalloc beside:
 *
 *   workload         instructions (M)             peak RSS (MiB)
 *                    before  now   glibc mimalloc before  now  glibc mimalloc
 *   mixed_tail       50.6   38.5   71.0   42.9    25.1  21.3  22.9   25.1
 *   mixed_tail_2     46.9   38.3   68.7   38.6    46.6  39.1  40.5   46.3
 *   server           54.1   53.7   79.5  109.5    12.9  10.0  11.8   27.6
 *   fallback_mix     66.6   50.7   90.9   55.7    18.3  18.1  17.3   19.7
 *   realloc_strings  56.4   56.5   95.3   49.1     3.8   4.0   3.3    4.6
 *   thread_churn     32.5   30.6   70.3  477.6     4.3   4.2   2.7    6.7
 *
 * (server's RSS varies by a fifth with the machine's load.) Tried and
 * dropped: a flat 2 MiB a thread (mixed_tail 39.9M instructions, but peak
 * RSS of server +2.7 MiB, realloc_strings +2.1, thread_churn +5.1); on top
 * of it, giving back every 1024 events half of what a bin held unused
 * (server's RSS back to that of 128 KiB, mixed_tail 42.2M; alone, at 128
 * KiB, it cost realloc_strings 0.2 MiB); a room grown on misses in bins
 * that had turned blocks away (realloc_strings +1.8); a room from each
 * thread's own balance (thread_churn +2.1: blocks freed by other threads
 * never leave their allocator's balance). Borrowing from 8 classes above
 * instead of 12: fallback_mix 18.6 MiB (1.055 times glibc's); from 16:
 * realloc_strings 4.1 MiB. (realloc_strings' peak RSS now varies between
 * 3.8 and 4.1 MiB from run to run, before between 3.8 and 3.9.)
 *
 * Realloc (sm_large_cache_realloc): glibc's realloc moves a block whose
 * chunk cannot grow in place by malloc, copy and free inside glibc, past
 * the cache, at nearly every 16 bytes of growth when other blocks sit
 * behind it. Here a block stays put while n fits its usable size (glibc's
 * chunk header, as malloc_usable_size says) and fills at least half of it;
 * one that grows past it, up to 16 KiB, moves to a block of the cache (or
 * glibc's) for the larger of n and its usable size plus an eighth, and the
 * old block goes to the cache, so a string growing a few bytes at a time
 * moves O(log) times (25 from 600 to 16000 bytes, 8 at a time). A shrink
 * below half, a size above 16 KiB and a block the cache cannot read
 * (mmapped, the cache off, valgrind's malloc) are glibc's realloc's.
 * Measured with `SMALLOC_BACKGROUND=0 LD_PRELOAD=build/lib/libsmalloc.so
 * valgrind --tool=callgrind build/bench/driver -w W --scale 0.05` (M
 * instructions of the whole run) and peak_rss_kb of `LD_PRELOAD=...
 * build/bench/driver -w W` (realloc_strings at scale 1, median of 9
 * interleaved runs; the others at --scale 0.5, median of 7), before
 * (glibc's realloc) -> now, with glibc beside:
 *
 *   workload         instructions (M)                peak RSS (KiB)
 *                    before  now   glibc            before  now   glibc
 *   realloc_strings  56.1   50.0   95.3              4044   4088   3444
 *   fallback_mix     50.3   50.2   90.9              18528  18576  17672
 *   mixed_tail       37.8   37.8   71.0              21844  21844  23368
 *   server           53.4   53.4   79.6              10644  10252  13184
 *
 * realloc_strings under tcmalloc 53.4M instructions, 9828 KiB; mimalloc
 * 49.1M, 4644 KiB. fallback_mix, mixed_tail and server call no realloc:
 * their RSS differences are run-to-run noise. What is left of
 * realloc_strings is the pools' realloc (sm_alloc_realloc and its class
 * lookup, 22.5M of the 50.0M; the workload's own loop 21.8M); glibc's
 * realloc and its callees took about 6.9M before, the cache's realloc
 * takes 1.2M now. The headroom, tried: a quarter, 49.9M and 4240 KiB; an
 * eighth, 50.0M and 4088 KiB; a sixteenth, 50.3M and 4048 KiB.
 *
 * A cache is flushed to glibc by smalloc_collect() (the calling thread's);
 * a thread that exits leaves it, and its room, to the next thread to start
 * (at most SM_LEGACY_SLOTS such caches wait, for at most a release delay,
 * release.h).
 *
 * Each thread's cache lives in memory of libsmalloc's own (a slab of
 * mmap'ed records, recycled when threads exit), reached through one TLS
 * pointer, so the static TLS block grows by 8 bytes only.
 */
#ifndef SM_LARGE_CACHE_H
#define SM_LARGE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "lock.h"

#define SM_LARGE_CACHE_MIN 513
#define SM_LARGE_CACHE_MAX 16384

/* A block of at least n bytes (SM_LARGE_CACHE_MIN <= n), from the calling
 * thread's cache or from glibc (larger ones too, counted per thread); NULL
 * with errno = ENOMEM. */
sm_hidden void *sm_large_cache_malloc(size_t n);

/* realloc of p, a block of glibc's, to n > 0 bytes: p itself when n fits
 * in its usable size and fills at least half of it; a block of the cache
 * (or glibc's) with headroom when it grows within the cache's sizes, p
 * going to the cache; glibc's realloc otherwise (a shrink below half, n
 * above SM_LARGE_CACHE_MAX, a block the cache cannot read, the cache off).
 * NULL with errno = ENOMEM and p untouched on failure. Aborts on a realloc
 * of a cached block. pre: p outside libsmalloc's arenas. */
sm_hidden void *sm_large_cache_realloc(void *p, size_t n);

/* Keep p, a block of glibc's, in the calling thread's cache; false when it
 * is not kept (the caller gives it to glibc's free). Aborts on a double
 * free of a cached block. pre: p != NULL, outside libsmalloc's arenas. */
sm_hidden bool sm_large_cache_free(void *p);

/* Give the calling thread's cached blocks back to glibc; with exiting, the
 * thread keeps no cache from now on. */
sm_hidden void sm_large_cache_flush(bool exiting);

/* A release round (release.h): caches left by exited threads at least
 * delay_ms before now_ms go back to glibc; an unlocked peek for them. */
sm_hidden void sm_large_cache_release(uint64_t now_ms, uint64_t delay_ms);
sm_hidden bool sm_large_cache_has_left(void);

/* Fork child: the records of the parent's other threads give their blocks
 * back to glibc and go to the free list. pre: every lock re-created
 * (sm_fork_child). */
sm_hidden void sm_large_cache_fork_child(void);

/* The lock of the registry of per-thread records (the fork lock table). */
sm_hidden sm_lock_t *sm_large_cache_lock(void);

/* Requests of threads with a cache passed to glibc, and their bytes (the
 * fallback counts the others, fallback.h). */
sm_hidden void sm_large_cache_fallback_totals(size_t *calls, size_t *bytes);

/* Requests served from the caches, blocks and bytes cached, over all
 * threads (approximate while they run). */
sm_hidden void sm_large_cache_totals(size_t *hits, size_t *blocks, size_t *bytes);

#endif
