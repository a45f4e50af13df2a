/*
 * smalloc_free, the free slow path (debug mode, then the thread cache's
 * flush) and the reports of bad frees (see free.h).
 */
#include <smalloc.h>

#include "alloc.h"
#include "debug.h"
#include "error.h"
#include "free.h"
#include "large_cache.h"
#include "options.h"
#include "os.h"

/* malloc+free pair of a 32-byte block: see the README ("Fast path cost")
 * for the callgrind count and the command that measures it. */
sm_public void smalloc_free(void *p)
{
    sm_free(p);
}

void sm_free_slow(sm_cls_t cls, sm_block_t *b)
{
    sm_tcache.room[cls]++; /* the fast path's decrement */
    if (sm_unlikely(sm_opt.debug)) {
        sm_debug_free(b, "free");
        return;
    }
    sm_tcache_free_flush(cls, b);
}

/* Foreign (SM_CLASS_NONE) or invalid (does not return). Out of line, so
 * that sm_free_class_of needs no stack frame. */
static sm_noinline sm_cold sm_cls_t not_block_start(uintptr_t a, const char *func)
{
    if (!sm_space_contains(a))
        return SM_CLASS_NONE;
    if (sm_alloc_debug_routed())
        sm_debug_invalid(func, (const void *)a);
    sm_fatal(func, (const void *)a, "invalid pointer");
}

void sm_free_check_foreign(void *p, const char *func)
{
    not_block_start((uintptr_t)p, func);
}

void sm_free_not_block_start(void *p, const char *func)
{
    not_block_start((uintptr_t)p, func);
    sm_free_foreign(p);
}

sm_cls_t sm_free_class_of(uintptr_t a, const char *func)
{
    sm_cls_t cls = sm_space_class(a);
    if (sm_unlikely(!sm_space_is_block_start(a, cls)))
        return not_block_start(a, func);
    return cls;
}

void sm_free_foreign(void *p)
{
    if (p == NULL)
        return;
    if (sm_alloc_debug_routed()) {
        sm_debug_free(p, "free");
        return;
    }
    if (sm_large_cache_free(p))
        return;
    sm_fallback_free(p);
}

size_t sm_free_usable_size(void *p)
{
    if (sm_alloc_debug_routed())
        return sm_debug_usable_size(p);
    sm_cls_t cls = sm_free_class_of((uintptr_t)p, "malloc_usable_size");
    if (cls == SM_CLASS_NONE)
        return p == NULL ? 0 : sm_fallback_usable_size(p);
    return sm_class_size(cls);
}

sm_public size_t smalloc_usable_size(void *p)
{
    return sm_free_usable_size(p);
}

sm_public void smalloc_collect(void)
{
    sm_large_cache_flush(false);
    sm_large_cache_release(sm_os_now_ms(), 0); /* and those exited threads left */
    sm_tcache_collect();
}
