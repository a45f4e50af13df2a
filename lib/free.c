/*
 * smalloc_free and the reports of bad frees (see free.h).
 */
#include <smalloc.h>

#include "debug.h"
#include "error.h"
#include "free.h"

/* malloc+free pair of a 32-byte block: see the README ("Fast path cost")
 * for the callgrind count and the command that measures it. */
sm_public void smalloc_free(void *p)
{
    sm_free(p);
}

void sm_free_invalid(const char *func, const void *p)
{
    if (sm_debug_routed())
        sm_debug_invalid(func, p);
    sm_fatal(func, p, "invalid pointer");
}

void sm_free_foreign(void *p)
{
    if (p != NULL && sm_debug_routed()) {
        sm_debug_free(p, "free");
        return;
    }
    sm_fallback_free(p);
}

size_t sm_free_usable_size(void *p)
{
    if (sm_debug_routed())
        return sm_debug_usable_size(p);
    uintptr_t a = (uintptr_t)p;
    if (!sm_arena_map_contains(a))
        return p == NULL ? 0 : sm_fallback_usable_size(p);
    return sm_class_size(sm_free_class_of(a, "malloc_usable_size"));
}

sm_public size_t smalloc_usable_size(void *p)
{
    return sm_free_usable_size(p);
}

sm_public void smalloc_collect(void)
{
    sm_heap_collect();
}
