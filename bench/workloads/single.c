/*
 * single: one size, malloc then free at once. Measures the fast path of
 * both calls and nothing else: the same block is usually handed back
 * every time, so it stays in L1 and no list ever runs dry.
 * n = pairs, arg = request size in bytes.
 */
#include "../support.h"
#include "../workloads.h"

#include <stdlib.h>

uint64_t wl_single(const struct wl_args *a)
{
    size_t size = a->arg ? (size_t)a->arg : 32;

    for (uint64_t i = 0; i < a->n; i++) {
        void *p = malloc(size);
        WL_CHECK(p, "single");
        wl_touch(p, size);
        free(p);
    }
    return 2 * a->n;
}
