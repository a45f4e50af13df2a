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
    void *p = malloc(size);
    WL_CHECK(p, "fallback_mix");
    wl_touch(p, size);
    return p;
}

uint64_t wl_fallback_mix(const struct wl_args *a)
{
    size_t live = a->arg ? (size_t)a->arg : 20000;
    void **slots = wl_map(live * sizeof(void *));
    struct wl_rng rng;
    wl_rng_seed(&rng, a->seed, 0);

    for (size_t i = 0; i < live; i++)
        slots[i] = alloc_mixed(&rng);
    for (uint64_t s = 0; s < a->n; s++) {
        size_t i = (size_t)wl_rng_below(&rng, live);
        free(slots[i]);
        slots[i] = alloc_mixed(&rng);
    }
    for (size_t i = 0; i < live; i++)
        free(slots[i]);
    wl_unmap(slots, live * sizeof(void *));
    return 2 * (uint64_t)live + 2 * a->n;
}
