/*
 * The free fast path, shared by smalloc_free and the replaced free:
 *   1. not in the arena space (space.h)       -> the system malloc's free;
 *   2. its pool's class, and whether p starts a block of it (one byte
 *      load, one multiply); if not, a slow path tells a foreign pointer in
 *      the space (-> system free) from an invalid one (-> report, abort);
 *   3. push on the calling thread's bin (tcache.h).
 */
#ifndef SM_FREE_H
#define SM_FREE_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "fallback.h"
#include "size_class.h"
#include "space.h"
#include "tcache.h"
#include "track.h"

/* p, in the arena space, failed the block-start test of its pool's class:
 * the system malloc's free when p is in none of libsmalloc's arenas (some
 * other mapping lies in the space); otherwise "<func>(): invalid pointer:
 * <p>" on stderr, then abort(). */
sm_hidden void sm_free_not_block_start(void *p, const char *func) sm_cold sm_noinline;

/* The test of sm_free_not_block_start alone: returns when p is in none of
 * libsmalloc's arenas; aborts as it does otherwise. */
sm_hidden void sm_free_check_foreign(void *p, const char *func) sm_cold sm_noinline;

/* p is in none of libsmalloc's arenas: the system malloc's, or a
 * debug-mode block. */
sm_hidden void sm_free_foreign(void *p) sm_noinline;

/* The class of the block at a, SM_CLASS_NONE when a is not libsmalloc's
 * (NULL included); aborts when a is inside an arena but starts no block
 * there. func names the caller for the report. */
sm_hidden sm_cls_t sm_free_class_of(uintptr_t a, const char *func);

/* A missed free fast path (bin full, or b possibly free already): debug
 * mode, else the thread cache's flush and double-free checks
 * (sm_tcache_free_flush). Entered with room[cls] already decremented; it
 * undoes that first. */
sm_hidden void sm_free_slow(sm_cls_t cls, sm_block_t *b) sm_noinline;

/* Push b on the bin; the slow path when the bin is full, or when b may
 * have been freed already: it is the bin's head, or carries the freed mark
 * (freelist.h). */
static sm_always_inline void sm_free_small(sm_cls_t cls, sm_block_t *b)
{
    if (sm_unlikely(--sm_tcache.room[cls] < 0) || sm_unlikely(sm_tcache.head[cls] == b) ||
        sm_unlikely(sm_freelist_is_marked(b, cls))) {
        sm_free_slow(cls, b);
        return;
    }
    sm_tcache_push(cls, b);
}

/* Give back p, a block of class cls. sm_track_free is empty unless built
 * for valgrind (track.h). */
static sm_always_inline void sm_free_block(void *p, sm_cls_t cls)
{
    sm_track_free(p);
    sm_free_small(cls, p);
}

static sm_always_inline void sm_free(void *p)
{
    uintptr_t a = (uintptr_t)p;
    uintptr_t d = a - sm_g_space.base;
    if (sm_unlikely(d >= sm_g_space.size)) {
        sm_free_foreign(p);
        return;
    }
    sm_cls_t cls = sm_g_space.pool_cls[d >> SM_POOL_SHIFT];
    if (sm_unlikely(!sm_space_is_block_start(a, cls))) {
        sm_free_not_block_start(p, "free");
        return;
    }
    sm_free_block(p, cls);
}

/* Usable bytes at p (class size for small blocks); 0 for NULL. */
sm_hidden size_t sm_free_usable_size(void *p);

#endif
