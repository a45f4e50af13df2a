/*
 * thread_churn: many short-lived threads, as in a program that starts a
 * thread per task (or a pool that keeps shrinking and growing). Threads run
 * in waves of `arg` at once. Each one first frees the 30 blocks its
 * predecessor in the same seat left behind, then allocates 300 blocks of the
 * mixed, heavy-tailed sizes (support.c wl_size_tail: 80% 8..512, 15% to 4096,
 * 5% to 16 KiB), frees 270 of them in a scattered order and exits with 30
 * still live. Every 4th wave the calling thread frees the leftovers instead.
 * So every thread's heap is set up and torn down while some of its blocks
 * are still in use, and those blocks are freed by a thread that did not
 * allocate them, after their owner has exited.
 * n = threads in all, arg = threads at once.
 */
#include "../support.h"
#include "../workloads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CHURN_BLOCKS 300
#define CHURN_KEEP 30   /* every 10th block stays live when the thread exits */
#define CHURN_STRIDE 7  /* free order: i * 7 mod 300 visits every block once */
#define CHURN_MAX_SEATS 64
#define CHURN_MAIN_EVERY 4

struct seat {
    uint64_t seed;
    uint64_t stream;
    void *left[CHURN_KEEP]; /* the blocks the last thread here left live */
    int has_left;
    void *block[CHURN_BLOCKS];
};

static void *alloc_churn(struct wl_rng *rng)
{
    return wl_alloc_touched(wl_size_tail(rng), 0, "thread_churn");
}

static void free_left(struct seat *s)
{
    if (!s->has_left)
        return;
    for (size_t i = 0; i < CHURN_KEEP; i++) {
        (void)wl_peek(s->left[i]);
        free(s->left[i]);
    }
    s->has_left = 0;
}

static void *churn_thread(void *arg)
{
    struct seat *s = arg;
    struct wl_rng rng;
    wl_rng_seed(&rng, s->seed, s->stream);

    free_left(s);
    for (size_t i = 0; i < CHURN_BLOCKS; i++)
        s->block[i] = alloc_churn(&rng);
    size_t kept = 0;
    for (size_t k = 0; k < CHURN_BLOCKS; k++) {
        size_t i = (k * CHURN_STRIDE) % CHURN_BLOCKS;
        if (i % (CHURN_BLOCKS / CHURN_KEEP) == 0) {
            s->left[kept++] = s->block[i];
            continue;
        }
        (void)wl_peek(s->block[i]);
        free(s->block[i]);
    }
    s->has_left = 1;
    return NULL;
}

uint64_t wl_thread_churn(const struct wl_args *a)
{
    unsigned seats = a->arg ? (unsigned)a->arg : 2;
    if (seats > CHURN_MAX_SEATS)
        seats = CHURN_MAX_SEATS;
    size_t bytes = seats * sizeof(struct seat);
    struct seat *seat = wl_map(bytes);
    pthread_t th[CHURN_MAX_SEATS];
    uint64_t threads = 0;

    for (uint64_t wave = 0; threads < a->n; wave++) {
        if (wave % CHURN_MAIN_EVERY == CHURN_MAIN_EVERY - 1)
            for (unsigned k = 0; k < seats; k++)
                free_left(&seat[k]);
        unsigned now = 0;
        for (; now < seats && threads < a->n; now++, threads++) {
            seat[now].seed = a->seed;
            seat[now].stream = threads + 1;
            if (pthread_create(&th[now], NULL, churn_thread, &seat[now]) != 0) {
                fprintf(stderr, "thread_churn: pthread_create failed\n");
                for (unsigned u = 0; u < now; u++)
                    pthread_join(th[u], NULL);
                for (unsigned k = 0; k < seats; k++)
                    free_left(&seat[k]);
                wl_unmap(seat, bytes);
                return 0;
            }
        }
        for (unsigned u = 0; u < now; u++)
            pthread_join(th[u], NULL);
    }
    for (unsigned k = 0; k < seats; k++)
        free_left(&seat[k]);
    wl_unmap(seat, bytes);
    return 2 * (uint64_t)CHURN_BLOCKS * threads;
}
