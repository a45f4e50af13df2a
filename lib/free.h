/*
 * The free fast path, shared by smalloc_free and the replaced free:
 *   1. not inside an arena (arena_map.h)  -> the system malloc's free;
 *   2. not the start of a block of its pool (pool.h: one multiply and one
 *      rotate; a pool that serves no class rejects all)
 *                                          -> report and abort;
 *   3. push on the calling thread's bin (heap.h).
 */
#ifndef SM_FREE_H
#define SM_FREE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "arena_map.h"
#include "compiler.h"
#include "fallback.h"
#include "heap.h"
#include "size_class.h"
#include "track.h"

/* "<func>(): invalid pointer: <p>" on stderr, then abort(). */
sm_hidden void sm_free_invalid(const char *func, const void *p) sm_noreturn sm_cold sm_noinline;

/* p is not in an arena: the system malloc's, or a debug-mode block. */
sm_hidden void sm_free_foreign(void *p) sm_noinline;

/* The class of a libsmalloc block, checked; func names the caller for the
 * report. pre: sm_arena_map_contains(a). */
static sm_always_inline size_t sm_free_class_of(uintptr_t a, const char *func)
{
    const sm_pool_t *pool = sm_pool_of(a);
    if (sm_unlikely(!sm_pool_is_block_start(pool, a)))
        sm_free_invalid(func, (const void *)a);
    return pool->cls;
}

/* sm_track_free is empty unless built for valgrind (track.h). */
static sm_always_inline void sm_free(void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (sm_unlikely(!sm_arena_map_contains(a))) {
        sm_free_foreign(p);
        return;
    }
    size_t cls = sm_free_class_of(a, "free");
    sm_track_free(p);
    sm_heap_free(cls, p);
}

/* Usable bytes at p (class size for small blocks); 0 for NULL. */
sm_hidden size_t sm_free_usable_size(void *p);

#endif
