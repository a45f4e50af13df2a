/*
 * random_batch: batches of `arg` blocks of random sizes 8..512 bytes, all
 * allocated, then all freed in a shuffled order, so frees land on pools in
 * an order unrelated to the allocation order.
 * n = batches, arg = blocks per batch.
 */
#include "../support.h"
#include "../workloads.h"

#include <stdlib.h>

uint64_t wl_random_batch(const struct wl_args *a)
{
    size_t batch = a->arg ? (size_t)a->arg : 1000;
    void **ptrs = wl_map(batch * sizeof(void *));
    struct wl_rng rng;
    wl_rng_seed(&rng, a->seed, 0);

    for (uint64_t b = 0; b < a->n; b++) {
        for (size_t i = 0; i < batch; i++) {
            size_t size = (size_t)wl_rng_range(&rng, 8, 512);
            void *p = malloc(size);
            WL_CHECK(p, "random_batch");
            wl_touch(p, size);
            ptrs[i] = p;
        }
        /* Fisher-Yates shuffle of the batch. */
        for (size_t i = batch - 1; i > 0; i--) {
            size_t j = (size_t)wl_rng_below(&rng, i + 1);
            void *t = ptrs[i];
            ptrs[i] = ptrs[j];
            ptrs[j] = t;
        }
        for (size_t i = 0; i < batch; i++)
            free(ptrs[i]);
    }
    wl_unmap(ptrs, batch * sizeof(void *));
    return 2 * a->n * batch;
}
