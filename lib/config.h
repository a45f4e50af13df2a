/*
 * Constants of the design card, and the abbreviations used across lib/.
 *
 * Abbreviations: cls  size class (1..64; class cls serves blocks of
 *                     cls * 8 bytes; 0 is SM_CLASS_NONE, "no class", so
 *                     that zeroed memory means "serves no class");
 *                idx  pool index inside its arena (0..255);
 *                nblocks  blocks per pool of a class;
 *                nused    blocks of a pool handed out (to a program or a
 *                         thread cache);
 *                thread cache     a thread's cache of free blocks (tcache.h);
 *                shard    one of SM_SHARDS independent central allocators.
 */
#ifndef SM_CONFIG_H
#define SM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define SM_ARENA_SHIFT 20
#define SM_ARENA_SIZE ((uintptr_t)1 << SM_ARENA_SHIFT)   /* 1 MiB, from mmap */
#define SM_POOL_SHIFT 12
#define SM_POOL_SIZE ((uintptr_t)1 << SM_POOL_SHIFT)     /* 4 KiB, one class */
#define SM_POOLS_PER_ARENA (SM_ARENA_SIZE / SM_POOL_SIZE) /* 256 */

#define SM_QUANTUM 8            /* class sizes step by 8 bytes */
#define SM_SMALL_MAX 512        /* largest request served by the pools */
#define SM_NCLASSES (SM_SMALL_MAX / SM_QUANTUM) /* 64 */
#define SM_CLASS_NONE 0          /* cls of a pool that serves no class */
/* A class index, everywhere in lib/ (variables, parameters, returns);
 * stored as a byte in tables and headers. size_t, not unsigned: the
 * malloc+free fast path indexes bins with it, and an unsigned index costs
 * it 4 more instructions (48 net instead of 44: bench/callgrind.sh
 * --allocators smalloc). */
typedef size_t sm_cls_t;
/* Arrays indexed by class have SM_NCLASSES + 1 entries; [SM_CLASS_NONE] is
 * never used for blocks. */

/* Hardened build (CMake option SMALLOC_SECURE): encoded free-list links
 * (freelist.h), a bitmap of live blocks that catches every double free and
 * every corrupted link (secure.h), guard pages in each arena (arena.h),
 * randomised block order in new pools (pool.c). Written as 0/1 so that
 * code can test it with a plain if and still compile both ways. */
#ifdef SMALLOC_SECURE
#define SM_SECURE 1
#else
#define SM_SECURE 0
#endif

/* User-space pointers on x86-64 Linux are below 2^47 (4-level paging; with
 * 5-level paging mmap stays below 2^47 unless asked for more). */
#define SM_ADDRESS_BITS 47

/* Empty arenas kept mapped, per shard, so a program hovering at a boundary
 * does not mmap/munmap in a loop. */
#define SM_ARENA_CACHE_MAX 1

/* Release policy (release.h): how long free memory waits before it goes
 * back to the OS, and how often that is looked at, are run-time options
 * (options.h: SMALLOC_RELEASE_DELAY_MS 1000, SMALLOC_RELEASE_INTERVAL_MS
 * 250); arena.h gives the measurements behind them. A background thread
 * sleeps at least this long between two looks, whatever the options say. */
#define SM_RELEASE_MIN_SLEEP_MS 1

/* The central allocator (arenas and class lists, each with its locks) is
 * split into shards; threads are spread over them round-robin (tcache.c), so
 * threads that allocate at once mostly take different locks and touch
 * different pools. A single-threaded program uses shard 0 only. Measured
 * with bench/driver -w threads_2: one shared central state made 2 threads
 * slower per operation than 1 (lock and cache-line traffic). */
#define SM_SHARDS 4

/* Caches of exited threads kept for the next threads to adopt (tcache.c),
 * each at most a whole thread cache, for at most a release delay. */
#define SM_LEGACY_SLOTS 4

/* Batches parked per class and shard in the transfer cache (transfer.h). */
#define SM_TRANSFER_SLOTS 2

/* A thread caches at most this many bytes of free blocks per class (but at
 * least SM_BIN_MIN_BLOCKS and at most SM_BIN_MAX_BLOCKS blocks: a bin's
 * room is a signed byte, tcache.h, so the largest even count below 128).
 * 8 KiB bins make half the trips to the central lists that 4 KiB bins
 * make, which is what limits two threads sharing a central part
 * (bench/driver -w threads_1, -w threads_2 compare them). */
#define SM_BIN_BYTES 8192
#define SM_BIN_MIN_BLOCKS 16
#define SM_BIN_MAX_BLOCKS 126

/* Default of SMALLOC_LARGE_CACHE (options.h): bytes a thread's large-block
 * cache may hold (large_cache.h). */
#define SM_LARGE_CACHE_BYTES ((size_t)2 << 20)

/* The room of a thread's large-block cache (large_cache.h): at least
 * SM_LARGE_CACHE_ROOM_MIN bytes (or SMALLOC_LARGE_CACHE when smaller), else
 * its share of 1/SM_LARGE_CACHE_LIVE_SHARE of the bytes in use in the
 * cache's classes, set again every SM_LARGE_CACHE_UPDATE_EVENTS requests
 * and frees through the cache. A request whose bin is empty takes a block
 * of one of the SM_LARGE_CACHE_NEIGHBORS classes above, when one has any. */
#define SM_LARGE_CACHE_ROOM_MIN ((size_t)128 << 10)
#define SM_LARGE_CACHE_LIVE_SHARE 8
#define SM_LARGE_CACHE_UPDATE_EVENTS 1024
#define SM_LARGE_CACHE_NEIGHBORS 12

_Static_assert(SM_POOLS_PER_ARENA == 256, "pool index must fit a byte");
_Static_assert(SM_NCLASSES == 64, "the card fixes 64 classes");
_Static_assert(SM_POOL_SIZE % SM_SMALL_MAX == 0, "largest class divides a pool");

#endif
