/*
 * threads_N: N threads of independent churn, nothing shared but the
 * allocator. Each thread keeps 20000 objects of 8..256 bytes and, for n
 * steps, frees a random one and allocates another. Per-thread caches and
 * locks show here: with perfect scaling, ns per op falls with N up to the
 * number of cores (the driver divides wall time by the ops of all threads).
 * n = steps per thread, arg = threads.
 */
#include "../support.h"
#include "../workloads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREAD_LIVE 20000

struct churn {
    uint64_t n;
    uint64_t seed;
    unsigned idx;
};

static void *alloc_small(struct wl_rng *rng)
{
    return wl_alloc_touched((size_t)wl_rng_range(rng, 8, 256), 0, "threads");
}

static void *churn_thread(void *arg)
{
    const struct churn *c = arg;
    struct wl_rng rng;
    wl_rng_seed(&rng, c->seed, c->idx + 1);
    wl_replace_at_random(&rng, THREAD_LIVE, c->n, alloc_small, 0);
    return NULL;
}

uint64_t wl_threads(const struct wl_args *a)
{
    unsigned nthreads = a->arg ? (unsigned)a->arg : 1;
    if (nthreads > WL_MAX_THREADS)
        nthreads = WL_MAX_THREADS;
    struct churn job[WL_MAX_THREADS];
    for (unsigned t = 0; t < nthreads; t++)
        job[t] = (struct churn){ .n = a->n, .seed = a->seed, .idx = t };
    if (!wl_run_threads(nthreads, churn_thread, job, sizeof job[0], "threads"))
        return 0;
    return (uint64_t)nthreads * (2 * (uint64_t)THREAD_LIVE + 2 * a->n);
}
