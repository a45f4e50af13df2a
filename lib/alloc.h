/*
 * The allocation entry points shared by the smalloc_* API (alloc.c) and the
 * replaced malloc family (override.c). They differ only in the size-class
 * table: sm_size_class_api (8-byte classes) or sm_size_class_abi (16-byte
 * aligned from 16 bytes up).
 */
#ifndef SM_ALLOC_H
#define SM_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"
#include "debug.h"
#include "fallback.h"
#include "size_class.h"
#include "tcache.h"
#include "track.h"

/* Start-up if needed, then whether debug mode is on (debug.h). */
sm_hidden bool sm_alloc_debug_start(void) sm_noinline sm_cold;

/* Debug-mode routing of the entry points other than malloc and free: one
 * load of a flag that is 0 once start-up found the mode off. */
static inline bool sm_alloc_debug_routed(void)
{
    return sm_unlikely(atomic_load_explicit(&sm_g_debug_route, memory_order_relaxed) != 0) && sm_alloc_debug_start();
}

/* Requests above SM_SMALL_MAX: the system malloc, or the debug mode. */
sm_hidden void *sm_alloc_large(size_t n) sm_noinline;

/* A missed fast path: start-up on the first call, debug mode, a refill of
 * the thread cache (sm_tcache_alloc_refill), and the system malloc when the
 * arena space is full. A block of class cls for a request of n bytes (n
 * for the debug mode only), or NULL with errno = ENOMEM. */
sm_hidden void *sm_alloc_slow(size_t n, sm_cls_t cls) sm_noinline sm_cold;

/* A block of class cls: the head of the calling thread's bin, or the slow
 * path when the bin is empty (a new thread's, a debug-mode one's, always). */
static sm_always_inline void *sm_alloc_small(sm_cls_t cls, size_t n)
{
    sm_block_t *b = sm_tcache.head[cls];
    if (sm_unlikely(b == NULL))
        return sm_alloc_slow(n, cls);
    return sm_tcache_pop(&sm_tcache, cls, b);
}

/* malloc fast path: a class lookup and a bin pop (tcache.h). sm_track_alloc
 * is empty unless built for valgrind (track.h). */
static sm_always_inline void *sm_alloc(const uint8_t *table, size_t n)
{
    if (sm_likely(n <= SM_SMALL_MAX)) {
        sm_cls_t cls = sm_size_class_of(table, n);
        void *p = sm_alloc_small(cls, n);
        sm_track_alloc(p, sm_class_size(cls));
        return p;
    }
    return sm_alloc_large(n);
}

sm_hidden void *sm_alloc_calloc(const uint8_t *table, size_t count, size_t size);
sm_hidden void *sm_alloc_realloc(const uint8_t *table, void *p, size_t n);
sm_hidden void *sm_alloc_reallocarray(const uint8_t *table, void *p, size_t count, size_t size);

/* Aligned allocation (aligned.c). pre: align is a power of two.
 * NULL with errno = ENOMEM on failure. */
sm_hidden void *sm_alloc_aligned(size_t align, size_t n);

/* valloc and pvalloc (page-aligned; pvalloc rounds n up to pages). */
sm_hidden void *sm_alloc_valloc(size_t n);
sm_hidden void *sm_alloc_pvalloc(size_t n);

#endif
