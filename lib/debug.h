/*
 * Runtime debug mode (SMALLOC_DEBUG=1, no rebuild), after CPython's
 * PYTHONMALLOC=debug: every block carries a header and guard bytes, new
 * memory is filled with one byte and freed memory with another, every free
 * and realloc checks the block, and freed blocks wait in a quarantine
 * before they are reused, so that writes to them are found. An error is
 * reported with the pointer, the size requested, the byte offset that was
 * hit and where the block was allocated, then the process aborts.
 *
 * Routing, decided once at start-up, without a branch on the malloc/free
 * fast path (STYLE.md "Fast path and slow path"):
 *   malloc, small   thread caches have capacity 0 in debug mode, so the
 *                   entry slow path gets every call (sm_alloc_slow) -> sm_debug_malloc
 *   free, small     the same; in debug mode every class accepts any offset
 *                   in the block-start test (sm_space_init), so a debug
 *                   pointer, which is not a block start, reaches the slow
 *                   path too
 *   malloc, large   alloc.c's large path, free of a pointer outside the
 *                   arenas: free.c, both already off the fast path
 *   calloc, realloc, memalign and friends, malloc_usable_size: one
 *                   test of sm_g_debug_route at their top (sm_alloc_debug_routed, alloc.h)
 * Debug blocks and normal blocks never meet: the mode is fixed before the
 * first block is handed out, and in debug mode every block is a debug
 * block.
 * Foreign blocks (glibc's, from __libc_malloc or made before libsmalloc
 * was loaded) are let through as in a normal run: a pointer outside the
 * arenas that is not in the registry, nor on the calling thread's stack,
 * goes to the system free, realloc and malloc_usable_size (debug.c
 * block_of).
 *
 * Layout of a debug block (the header is 64 bytes, so the program's bytes
 * stay 16-byte aligned):
 *
 *   +------+-------+---------+------+----------+-------+---------+-----------+
 *   | link | magic | cls,sys | size | trace[4] | guard | n bytes | guard ... |
 *   +------+-------+---------+------+----------+-------+---------+-----------+
 *   ^ pool block, or system block (+ alignment)          ^ p      ^ p + n: at least
 *                                                                   8 bytes, to the end
 *   guard bytes 0xfd, new bytes 0xcd, freed bytes 0xdd (CPython's values).
 * Requests whose debug block fits in 512 bytes take a pool block; larger
 * ones, and alignments above 16, come from the system malloc (fallback.h)
 * and are kept in a registry so that a foreign pointer is recognised
 * without reading memory around it.
 */
#ifndef SM_DEBUG_MODULE_H
#define SM_DEBUG_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"
#include "lock.h"

/* Nonzero until start-up has decided the mode and it is off: the entry
 * points other than malloc and free test it (see above). */
extern sm_hidden _Atomic unsigned char sm_g_debug_route; /* cleared by sm_debug_on */

/* True in debug mode (and then the caller takes the sm_debug_* path); once
 * the options are parsed and the mode is off, clears sm_g_debug_route. pre:
 * start-up done or running in this thread (the entry layer starts it,
 * sm_alloc_debug_routed in alloc.h). */
sm_hidden bool sm_debug_on(void) sm_noinline sm_cold;

/* From the load-time constructor (init.c), start-up done: in debug mode,
 * the first backtrace and the main thread's stack, outside any malloc. */
sm_hidden void sm_debug_start(void);

/* The debug entry points, with the semantics of their public
 * counterparts. cls: the class a normal run gives the request
 * (SM_CLASS_NONE above 512 bytes), for the rounding statistics. table: the
 * request-to-class table of the calling API. func names the public
 * function in reports. */
sm_hidden void *sm_debug_malloc(size_t n, sm_cls_t cls) sm_noinline;
sm_hidden void *sm_debug_calloc(const uint8_t *table, size_t count, size_t size) sm_noinline;
sm_hidden void *sm_debug_realloc(const uint8_t *table, void *p, size_t n) sm_noinline;
sm_hidden void *sm_debug_memalign(size_t align, size_t n) sm_noinline;
sm_hidden void sm_debug_free(void *p, const char *func) sm_noinline;
sm_hidden size_t sm_debug_usable_size(void *p) sm_noinline;

/* Report p as not a live block of libsmalloc and abort. */
sm_hidden void sm_debug_invalid(const char *func, const void *p) sm_noreturn sm_cold;

/* Debug-mode totals for the statistics (stats.c), over pool-backed blocks
 * the program holds: requested bytes, and the bytes a normal run would add
 * by rounding each request up to its class; quarantined blocks. */
struct sm_debug_totals {
    size_t pool_requested;    /* bytes requested, pool-backed blocks */
    size_t pool_rounding;     /* class size - request, same blocks */
    size_t quarantine_bytes;  /* their pool blocks' class sizes (pool-backed only) */
};
sm_hidden void sm_debug_totals(struct sm_debug_totals *out);

/* The debug lock, for the lock table (fork.h). */
sm_hidden sm_lock_t *sm_debug_lock(void);

#endif
