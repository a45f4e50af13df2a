/*
 * producer_consumer: every block is freed by another thread than the one
 * that allocated it. The calling thread allocates blocks of 16..256 bytes and
 * pushes them into a single-producer single-consumer ring of `arg` slots; a
 * second thread pops, reads and frees them. This is the remote-free path
 * (a message queue, a logging thread, a work pipeline).
 * n = blocks, arg = ring slots.
 */
#include "../support.h"
#include "../workloads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define PUBLISH_EVERY 16

struct ring {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer only */
    _Alignas(64) _Atomic uint64_t tail; /* written by the consumer only */
    _Alignas(64) uint64_t n;            /* blocks to pass */
    size_t cap;
    void **slot;
};

/* Back off politely: on a machine with fewer cores than threads a pure spin
 * would eat the other side's time slice. */
static void ring_wait(unsigned *spins)
{
    if (++*spins >= 64) {
        *spins = 0;
        sched_yield();
    } else {
        __builtin_ia32_pause();
    }
}

static void *consumer(void *arg)
{
    struct ring *r = arg;
    uint64_t tail = 0;
    unsigned spins = 0;

    while (tail < r->n) {
        uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (head == tail) {
            ring_wait(&spins);
            continue;
        }
        for (; tail < head; tail++) {
            void *p = r->slot[tail % r->cap];
            (void)wl_peek(p);
            free(p);
        }
        atomic_store_explicit(&r->tail, tail, memory_order_release);
    }
    return NULL;
}

uint64_t wl_producer_consumer(const struct wl_args *a)
{
    struct ring *r = wl_map(sizeof(*r));
    r->n = a->n;
    r->cap = a->arg > 2 * PUBLISH_EVERY ? (size_t)a->arg : 1024;
    r->slot = wl_map(r->cap * sizeof(void *));
    struct wl_rng rng;
    wl_rng_seed(&rng, a->seed, 0);

    pthread_t th;
    if (pthread_create(&th, NULL, consumer, r) != 0) {
        fprintf(stderr, "producer_consumer: pthread_create failed\n");
        return 0;
    }
    uint64_t tail = 0;
    unsigned spins = 0;
    for (uint64_t head = 0; head < a->n; head++) {
        size_t size = (size_t)wl_rng_range(&rng, 16, 256);
        void *p = malloc(size);
        WL_CHECK(p, "producer_consumer");
        wl_touch(p, size);
        while (head - tail >= r->cap - PUBLISH_EVERY) {
            tail = atomic_load_explicit(&r->tail, memory_order_acquire);
            if (head - tail >= r->cap - PUBLISH_EVERY)
                ring_wait(&spins);
        }
        r->slot[head % r->cap] = p;
        /* Publish in groups of PUBLISH_EVERY: one shared cache-line write
         * per item would cost more than the malloc being measured. */
        if ((head + 1) % PUBLISH_EVERY == 0 || head + 1 == a->n)
            atomic_store_explicit(&r->head, head + 1, memory_order_release);
    }
    pthread_join(th, NULL);
    wl_unmap(r->slot, r->cap * sizeof(void *));
    wl_unmap(r, sizeof(*r));
    return 2 * a->n;
}
