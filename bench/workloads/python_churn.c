/*
 * python_churn: the steady state of a CPython process. A live set of `arg`
 * objects with CPython's size mix (support.c: mostly 16..64 bytes, a tail to
 * 512) is built first; then each step frees one object picked at random and
 * allocates a new one in its slot. One allocation in 16 is a calloc, as for
 * CPython's zeroed containers. Random slots mean the frees scatter over all
 * pools: this is where fragmentation and pool recycling show.
 * n = steps, arg = live objects.
 */
#include "../support.h"
#include "../workloads.h"

#include <stdlib.h>

static void *alloc_object(struct wl_rng *rng)
{
    size_t size = wl_size_python(rng);
    return wl_alloc_touched(size, (wl_rng_next(rng) & 15) == 0, "python_churn");
}

uint64_t wl_python_churn(const struct wl_args *a)
{
    size_t live = a->arg ? (size_t)a->arg : 300000;
    struct wl_rng rng;
    wl_rng_seed(&rng, a->seed, 0);
    return wl_replace_at_random(&rng, live, a->n, alloc_object, 0);
}
