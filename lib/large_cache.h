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
 * Bounds: a thread caches at most SMALLOC_LARGE_CACHE bytes (default
 * SM_LARGE_CACHE_BYTES, 128 KiB; 0 turns the cache off), and at most a
 * quarter of that, and at least 4 blocks, per class; beyond them a free
 * goes to glibc. Why 128 KiB: a bigger cache hits more often but keeps
 * free blocks glibc could have reused for other sizes. Measured with
 * bench/driver (callgrind at --scale 0.05, peak RSS at --scale 0.5) for
 * SMALLOC_LARGE_CACHE = 128K / 512K / 2M: mixed_tail 50.6M / 45.3M / 39.9M
 * instructions (mimalloc 42.9M) at 25.7 / 26.1 / 25.9 MiB; server 50.4M /
 * 47.0M / 45.8M at 10.9 / 12.9 / 12.8 MiB (glibc 9.1 MiB). A cache is
 * flushed to glibc by smalloc_collect() (the
 * calling thread's); a thread that exits leaves it to the next thread to
 * start (at most SM_LEGACY_SLOTS such caches wait, for at most a release
 * delay, release.h).
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

/* The lock of the registry of per-thread records (the fork lock table). */
sm_hidden sm_lock_t *sm_large_cache_lock(void);

/* Requests of threads with a cache passed to glibc, and their bytes (the
 * fallback counts the others, fallback.h). */
sm_hidden void sm_large_cache_fallback_totals(size_t *calls, size_t *bytes);

/* Requests served from the caches, blocks and bytes cached, over all
 * threads (approximate while they run). */
sm_hidden void sm_large_cache_totals(size_t *hits, size_t *blocks, size_t *bytes);

#endif
