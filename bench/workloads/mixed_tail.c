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
#define TAIL_MAX_THREADS 64

struct tail_job {
    uint64_t n;
    uint64_t seed;
    unsigned idx;
};

static void *alloc_tail(struct wl_rng *rng)
{
    size_t size = wl_size_tail(rng);
    void *p = malloc(size);
    WL_CHECK(p, "mixed_tail");
    wl_touch(p, size);
    return p;
}

static void *tail_thread(void *arg)
{
    const struct tail_job *j = arg;
    void **slots = wl_map(TAIL_LIVE * sizeof(void *));
    struct wl_rng rng;
    wl_rng_seed(&rng, j->seed, j->idx + 1);

    for (size_t i = 0; i < TAIL_LIVE; i++)
        slots[i] = alloc_tail(&rng);
    for (uint64_t s = 0; s < j->n; s++) {
        size_t i = (size_t)wl_rng_below(&rng, TAIL_LIVE);
        (void)wl_peek(slots[i]);
        free(slots[i]);
        slots[i] = alloc_tail(&rng);
    }
    for (size_t i = 0; i < TAIL_LIVE; i++)
        free(slots[i]);
    wl_unmap(slots, TAIL_LIVE * sizeof(void *));
    return NULL;
}

uint64_t wl_mixed_tail(const struct wl_args *a)
{
    unsigned nthreads = a->arg ? (unsigned)a->arg : 1;
    if (nthreads > TAIL_MAX_THREADS)
        nthreads = TAIL_MAX_THREADS;
    struct tail_job job[TAIL_MAX_THREADS];
    pthread_t th[TAIL_MAX_THREADS];

    if (nthreads == 1) { /* in the calling thread, like the other one-thread workloads */
        job[0] = (struct tail_job){ .n = a->n, .seed = a->seed, .idx = 0 };
        tail_thread(&job[0]);
        return 2 * (uint64_t)TAIL_LIVE + 2 * a->n;
    }
    for (unsigned t = 0; t < nthreads; t++) {
        job[t] = (struct tail_job){ .n = a->n, .seed = a->seed, .idx = t };
        if (pthread_create(&th[t], NULL, tail_thread, &job[t]) != 0) {
            fprintf(stderr, "mixed_tail: pthread_create failed\n");
            for (unsigned u = 0; u < t; u++)
                pthread_join(th[u], NULL);
            return 0;
        }
    }
    for (unsigned t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    return (uint64_t)nthreads * (2 * (uint64_t)TAIL_LIVE + 2 * a->n);
}
