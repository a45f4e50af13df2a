/*
 * mixed_tail, mixed_tail_2: a live set where most requests are small but a
 * heavy tail goes up to 16 KiB (support.c wl_size_tail: 80% 8..512, 15%
 * 513..4096, 5% 4097..16384), as in a server or a compiler: objects next to
 * buffers, strings and arrays. Each thread keeps its own live set of 20000
 * blocks and, for n steps, frees one at random and allocates another in its
 * slot. For libsmalloc a fifth of the calls leave the small-object pools
 * (dispatch, the "is this pointer mine?" test, the system malloc's own cost
 * on sizes it serves beside ours).
 * n = steps per thread, arg = threads.
 */
#include "../support.h"
#include "../workloads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define TAIL_LIVE 20000

struct tail_job {
    uint64_t n;
    uint64_t seed;
    unsigned idx;
};

static void *alloc_tail(struct wl_rng *rng)
{
    return wl_alloc_touched(wl_size_tail(rng), 0, "mixed_tail");
}

static void *tail_thread(void *arg)
{
    const struct tail_job *j = arg;
    struct wl_rng rng;
    wl_rng_seed(&rng, j->seed, j->idx + 1);
    wl_replace_at_random(&rng, TAIL_LIVE, j->n, alloc_tail, 1);
    return NULL;
}

uint64_t wl_mixed_tail(const struct wl_args *a)
{
    unsigned nthreads = a->arg ? (unsigned)a->arg : 1;
    if (nthreads > WL_MAX_THREADS)
        nthreads = WL_MAX_THREADS;
    struct tail_job job[WL_MAX_THREADS];
    for (unsigned t = 0; t < nthreads; t++)
        job[t] = (struct tail_job){ .n = a->n, .seed = a->seed, .idx = t };
    if (nthreads == 1) /* in the calling thread, like the other one-thread workloads */
        tail_thread(&job[0]);
    else if (!wl_run_threads(nthreads, tail_thread, job, sizeof job[0], "mixed_tail"))
        return 0;
    return (uint64_t)nthreads * (2 * (uint64_t)TAIL_LIVE + 2 * a->n);
}
