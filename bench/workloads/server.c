/*
 * server: a threaded server in the spirit of larson (mimalloc-bench), written
 * for this harness. `arg` lanes run at once; each lane owns a set of 2000
 * slots holding blocks of 8..1000 bytes. The thread serving a lane does
 * 10000 steps; a step frees the block of a random slot and puts a new block
 * of a random size there. One step in 8 instead swaps the slot's block into a
 * shared exchange table of 1024 entries (atomic exchange) and frees the block
 * it gets back, which another thread most likely allocated: a request handed
 * from one worker to another. After its steps the thread starts a successor,
 * hands it the lane's slot set and exits, so threads start and stop all
 * through the run and most frees meet a block whose allocating thread is
 * gone. The last thread of a lane frees the set; the calling thread fills the
 * exchange table first and empties it at the end.
 *
 *   lane 0:  T0 --10000 steps--> T4 --> T8 ...   (each joins its predecessor)
 *   lane 1:  T1 ---------------> T5 --> T9 ...
 *              \__ swap through the exchange table __/
 *
 * n = steps of all threads together, arg = lanes (threads at once).
 * The steps are the same for every allocator; which block comes back from
 * the exchange table depends on the scheduling, the number of calls does not.
 */
#include "../support.h"
#include "../workloads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define SERVER_SLOTS 2000
#define SERVER_STEPS 10000 /* per thread, before it hands over */
#define SERVER_XCHG 1024
#define SERVER_MAX_LANES 64
#define SERVER_MIN 8
#define SERVER_MAX 1000

struct server;

struct lane {
    struct server *srv;
    unsigned idx;
    uint64_t left;   /* steps the lane still has to do */
    uint32_t gen;    /* threads of this lane so far */
    int has_prev;
    pthread_t prev;  /* the thread that handed over, joined by its successor */
    pthread_t last;  /* the lane's last thread, joined by the caller */
    void *slot[SERVER_SLOTS];
};

struct server {
    _Atomic(void *) xchg[SERVER_XCHG];
    uint64_t seed;
    pthread_mutex_t lock; /* guards done and failed */
    pthread_cond_t cond;
    unsigned done;        /* lanes finished */
    int failed;           /* a pthread_create failed */
    struct lane lane[];
};

static void *server_block(struct wl_rng *rng)
{
    return wl_alloc_touched((size_t)wl_rng_range(rng, SERVER_MIN, SERVER_MAX), 0, "server");
}

static void lane_finish(struct lane *l, int failed)
{
    struct server *srv = l->srv;
    for (size_t i = 0; i < SERVER_SLOTS; i++)
        free(l->slot[i]);
    l->last = pthread_self();
    pthread_mutex_lock(&srv->lock);
    srv->done++;
    srv->failed |= failed;
    pthread_cond_signal(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
}

static void *server_thread(void *arg)
{
    struct lane *l = arg;
    struct server *srv = l->srv;
    if (l->has_prev)
        pthread_join(l->prev, NULL);
    struct wl_rng rng;
    wl_rng_seed(&rng, srv->seed, ((uint64_t)l->idx << 32) | l->gen);

    if (l->gen == 0)
        for (size_t i = 0; i < SERVER_SLOTS; i++)
            l->slot[i] = server_block(&rng);
    uint64_t steps = l->left < SERVER_STEPS ? l->left : SERVER_STEPS;
    l->left -= steps;
    for (uint64_t s = 0; s < steps; s++) {
        size_t i = (size_t)wl_rng_below(&rng, SERVER_SLOTS);
        void *old = l->slot[i];
        if ((wl_rng_next(&rng) & 7) == 0) {
            size_t x = (size_t)wl_rng_below(&rng, SERVER_XCHG);
            old = atomic_exchange_explicit(&srv->xchg[x], old, memory_order_acq_rel);
        }
        (void)wl_peek(old);
        free(old);
        l->slot[i] = server_block(&rng);
    }
    l->gen++;

    if (l->left > 0) {
        pthread_t next;
        l->prev = pthread_self();
        l->has_prev = 1;
        if (pthread_create(&next, NULL, server_thread, l) == 0)
            return NULL;
        fprintf(stderr, "server: pthread_create failed\n");
        lane_finish(l, 1);
        return NULL;
    }
    lane_finish(l, 0);
    return NULL;
}

uint64_t wl_server(const struct wl_args *a)
{
    unsigned lanes = a->arg ? (unsigned)a->arg : 4;
    if (lanes > SERVER_MAX_LANES)
        lanes = SERVER_MAX_LANES;
    uint64_t per_lane = (a->n + lanes - 1) / lanes;
    size_t bytes = sizeof(struct server) + lanes * sizeof(struct lane);
    struct server *srv = wl_map(bytes);
    srv->seed = a->seed;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);

    struct wl_rng rng;
    wl_rng_seed(&rng, a->seed, 0);
    for (size_t x = 0; x < SERVER_XCHG; x++)
        atomic_init(&srv->xchg[x], server_block(&rng));

    unsigned started = 0;
    for (unsigned t = 0; t < lanes; t++) {
        struct lane *l = &srv->lane[t];
        *l = (struct lane){ .srv = srv, .idx = t, .left = per_lane };
        pthread_t th;
        if (pthread_create(&th, NULL, server_thread, l) != 0) {
            fprintf(stderr, "server: pthread_create failed\n");
            pthread_mutex_lock(&srv->lock);
            srv->failed = 1;
            pthread_mutex_unlock(&srv->lock);
            break;
        }
        started++;
    }
    pthread_mutex_lock(&srv->lock);
    while (srv->done < started)
        pthread_cond_wait(&srv->cond, &srv->lock);
    int failed = srv->failed;
    pthread_mutex_unlock(&srv->lock);
    for (unsigned t = 0; t < started; t++)
        pthread_join(srv->lane[t].last, NULL);

    for (size_t x = 0; x < SERVER_XCHG; x++)
        free(atomic_load_explicit(&srv->xchg[x], memory_order_relaxed));
    pthread_cond_destroy(&srv->cond);
    pthread_mutex_destroy(&srv->lock);
    wl_unmap(srv, bytes);
    if (failed)
        return 0;
    return 2 * (uint64_t)SERVER_XCHG + (uint64_t)lanes * (2 * (uint64_t)SERVER_SLOTS + 2 * per_lane);
}
