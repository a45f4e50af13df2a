/*
 * fallback_mix: requests just above the small-object limit (513..2048
 * bytes) mixed half and half with small ones (8..512), in a live set of
 * `arg` blocks where each step frees a random block and allocates another.
 * For libsmalloc this is the dispatch to the system malloc and the "is this
 * pointer mine?" test on every free.
 * n = steps, arg = live blocks.
 */
#include "../support.h"
#include "../workloads.h"

#include <stdlib.h>

static void *alloc_mixed(struct wl_rng *rng)
{
    size_t size = (wl_rng_next(rng) >> 63) ? (size_t)wl_rng_range(rng, 513, 2048)
                                           : (size_t)wl_rng_range(rng, 8, 512);
    return wl_alloc_touched(size, 0, "fallback_mix");
}

uint64_t wl_fallback_mix(const struct wl_args *a)
{
    size_t live = a->arg ? (size_t)a->arg : 20000;
    struct wl_rng rng;
    wl_rng_seed(&rng, a->seed, 0);
    return wl_replace_at_random(&rng, live, a->n, alloc_mixed, 0);
}
