/*
 * heap: a thread cache refills with half a bin, carving only that many
 * blocks from a fresh pool; a full bin parks its older half in the transfer
 * cache, or keeps its 8 newest blocks and frees the rest to the pools when
 * the slots are full; frees from another thread land in the freeing
 * thread's bin; a thread's exit returns its bins to the pools, and later
 * TLS destructors still allocate; a fork child gets the other threads'
 * cached blocks back.
 *
 * The bin capacity is tcache.c's rule, restated here so that a change to it
 * is a visible decision: SM_BIN_BYTES / class size, clamped to
 * [SM_BIN_MIN_BLOCKS, SM_BIN_MAX_BLOCKS], rounded down to even; a batch is
 * half of it.
 */
#include <limits.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "arena.h"
#include "space.h"
#include "fork.h"
#include "tcache.h"
#include "os.h"
#include "pool.h"
#include "size_class.h"
#include "support.h"
#include "transfer.h"
#include "shard.h"

static unsigned capacity(unsigned cls)
{
    size_t n = SM_BIN_BYTES / sm_class_size(cls);
    if (n < SM_BIN_MIN_BLOCKS)
        n = SM_BIN_MIN_BLOCKS;
    if (n > SM_BIN_MAX_BLOCKS)
        n = SM_BIN_MAX_BLOCKS;
    return (unsigned)n & ~1u;
}

static unsigned bin_count(const sm_tcache_t *h, unsigned cls)
{
    unsigned n = 0;
    for (const sm_block_t *b = h->head[cls]; b != NULL; b = sm_freelist_next(b))
        n++;
    return n;
}

static void refill_thread(void *arg)
{
    unsigned shard = *(unsigned *)arg;
    sm_tcache_t *h = sm_tcache_get();
    static void *held[2 * SM_BIN_MAX_BLOCKS];
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        size_t size = sm_class_size(cls);
        unsigned cap = capacity(cls), batch = cap / 2;
        unsigned nblocks = sm_class_nblocks(cls);
        cr_assert_eq(h->room[cls], cap, "class %u: room %u of an empty bin, want %u", cls, h->room[cls], cap);
        cr_assert_leq(batch, nblocks, "class %u: a batch is more than a pool; the test assumes less", cls);

        held[0] = smalloc_malloc(size);
        sm_pool_t *pool = sm_pool_of((uintptr_t)held[0]);
        cr_assert_eq(sm_arena_of((uintptr_t)pool)->shard, shard, "class %u: block from another shard", cls);
        cr_assert_eq(pool->nused, batch, "class %u: the first refill took %u blocks, want %u", cls, pool->nused, batch);
        cr_assert_eq(pool->nextoffset, batch * size, "class %u: carved %u bytes, want %zu", cls,
                     pool->nextoffset, batch * size);
        cr_assert_eq(bin_count(h, cls), batch - 1, "class %u: bin holds %u", cls, bin_count(h, cls));
        cr_assert_eq(h->room[cls], cap - (batch - 1), "class %u: room %u", cls, h->room[cls]);

        /* The rest of the batch comes from the bin: the pool does not move. */
        for (unsigned i = 1; i < batch; i++) {
            held[i] = smalloc_malloc(size);
            cr_assert_eq(pool->nextoffset, batch * size, "class %u: the pool moved on malloc %u", cls, i + 1);
        }
        cr_assert_null(h->head[cls], "class %u: bin not empty after a whole batch", cls);
        /* The next malloc refills again: the rest of the pool, or a new one. */
        held[batch] = smalloc_malloc(size);
        if (2 * batch <= nblocks) {
            cr_assert_eq(sm_pool_of((uintptr_t)held[batch]), pool, "class %u: second batch left the pool", cls);
            cr_assert_eq(pool->nextoffset, 2 * batch * size, "class %u: second refill carved to %u", cls,
                         pool->nextoffset);
        } else {
            /* The rest of the first pool, then the second pool for the
             * remainder of the batch; the malloc's block is the first one
             * taken (a batch ascends, pool.c): the first pool's next, if
             * the first batch left any. */
            unsigned rest = nblocks - batch;
            sm_pool_t *second = rest > 0 ? sm_g_central[shard][cls].used : sm_pool_of((uintptr_t)held[batch]);
            cr_assert_not_null(second, "class %u: no second pool in use", cls);
            char *start = rest > 0 ? sm_pool_base(pool) + batch * size : sm_pool_base(second);
            cr_assert_eq((char *)held[batch], start, "class %u: the refill did not start at the next block", cls);
            cr_assert_neq(second, pool, "class %u: second batch from the full pool", cls);
            cr_assert_eq(pool->nused, nblocks, "class %u: the first pool is not full", cls);
            cr_assert_eq(second->nextoffset, (batch - rest) * size, "class %u: second pool carved to %u", cls,
                         second->nextoffset);
        }
        for (unsigned i = 0; i <= batch; i++)
            smalloc_free(held[i]);
    }
}

Test(tcache, refill_takes_half_a_bin_and_carves_only_that)
{
    if (SM_SECURE)
        cr_skip_test("the hardened build links a new pool's blocks at once, in a random order");
    unsigned shard = clean_shard();
    clean_shard_run(shard, refill_thread, &shard);
}

static void flush_thread(void *arg)
{
    (void)arg;
    sm_tcache_t *h = sm_tcache_get();
    static void *held[2 * SM_BIN_MAX_BLOCKS + 1];
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        size_t size = sm_class_size(cls);
        unsigned cap = capacity(cls), batch = cap / 2;
        size_t parked0 = sm_transfer_parked_blocks(cls, 1);
        for (unsigned i = 0; i <= cap; i++)
            held[i] = smalloc_malloc(size);
        cr_assert_eq(bin_count(h, cls), batch - 1, "class %u: bin after %u mallocs", cls, cap + 1);
        /* Fill the bin to the brim: cap - (batch - 1) frees. */
        unsigned i = 0;
        for (; bin_count(h, cls) < cap; i++)
            smalloc_free(held[i]);
        cr_assert_eq(h->room[cls], 0, "class %u: a full bin has room %u", cls, h->room[cls]);
        cr_assert_eq(sm_transfer_parked_blocks(cls, 1), parked0, "class %u: parked before the bin was full", cls);
        /* One more free: the older half leaves, the new block is pushed. */
        smalloc_free(held[i]);
        i++;
        cr_assert_eq(h->head[cls], held[i - 1], "class %u: the freed block is not at the bin head", cls);
        cr_assert_eq(bin_count(h, cls), batch + 1, "class %u: bin holds %u after a flush", cls, bin_count(h, cls));
        cr_assert_eq(h->room[cls], cap - batch - 1, "class %u: room %u after a flush", cls, h->room[cls]);
        cr_assert_eq(sm_transfer_parked_blocks(cls, 1), parked0 + 1, "class %u: the older half was not parked", cls);
        for (; i <= cap; i++)
            smalloc_free(held[i]);
    }
}

Test(tcache, full_bin_parks_its_older_half)
{
    unsigned shard = clean_shard();
    clean_shard_run(shard, flush_thread, NULL);
}

/* With the transfer slots of its shard full, a full bin goes back to the
 * pools but for its 8 newest blocks, in one flush (tcache.c bin_flush):
 * the bin is left with those and the freed block, and every other block of
 * the old bin is free in its pool (or its pool is empty, back in its
 * arena). */
static void whole_flush_thread(void *arg)
{
    unsigned shard = *(unsigned *)arg;
    sm_tcache_t *h = sm_tcache_get();
    static void *held[2 * SM_BIN_MAX_BLOCKS + 1];
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        size_t size = sm_class_size(cls);
        unsigned cap = capacity(cls), batch = cap / 2;
        for (unsigned i = 0; i <= cap; i++)
            held[i] = smalloc_malloc(size);
        /* Filled after the mallocs, whose refills would take a batch. */
        sm_block_t *parked[SM_TRANSFER_SLOTS];
        for (unsigned s = 0; s < SM_TRANSFER_SLOTS; s++) {
            cr_assert_eq(sm_pool_alloc_batch(shard, cls, batch, &parked[s]), batch, "class %u: batch", cls);
            cr_assert(sm_transfer_put(shard, cls, parked[s]), "class %u: slot %u not free", cls, s);
        }
        cr_assert_not(sm_transfer_has_room(shard, cls), "class %u: the slots are not full", cls);
        size_t parked0 = sm_transfer_parked_blocks(cls, 1);
        unsigned i = 0;
        for (; bin_count(h, cls) < cap; i++)
            smalloc_free(held[i]);
        cr_assert_eq(h->room[cls], 0, "class %u: a full bin has room %u", cls, h->room[cls]);
        sm_block_t *old_bin[2 * SM_BIN_MAX_BLOCKS];
        unsigned n = 0;
        for (sm_block_t *b = h->head[cls]; b != NULL; b = sm_freelist_next(b))
            old_bin[n++] = b;
        smalloc_free(held[i]);
        i++;
        cr_assert_eq(h->head[cls], held[i - 1], "class %u: the freed block is not at the bin head", cls);
        cr_assert_eq(bin_count(h, cls), 9, "class %u: bin holds %u after a flush to the pools", cls,
                     bin_count(h, cls));
        cr_assert_eq(h->room[cls], cap - 9, "class %u: room %u after a flush to the pools", cls, h->room[cls]);
        for (unsigned j = 0; j < 8; j++)
            cr_assert_eq(sm_freelist_next(j == 0 ? h->head[cls] : old_bin[j - 1]), old_bin[j],
                         "class %u: the bin does not keep its newest block %u", cls, j);
        cr_assert_eq(sm_transfer_parked_blocks(cls, 1), parked0, "class %u: something was parked", cls);
        /* Free in its pool, or its pool emptied and went back to its arena. */
        for (unsigned j = 8; j < n; j++)
            cr_assert(sm_pool_holds_free(cls, old_bin[j]) ||
                          sm_pool_of((uintptr_t)old_bin[j])->cls == SM_CLASS_NONE,
                      "class %u: block %u of the bin is not free in its pool", cls, j);
        for (; i <= cap; i++)
            smalloc_free(held[i]);
        sm_block_t *b;
        while ((b = sm_transfer_take(shard, cls)) != NULL)
            sm_pool_free_batch(cls, b, "free");
    }
}

Test(tcache, full_bin_keeps_8_blocks_and_frees_the_rest_when_the_slots_are_full)
{
    unsigned shard = clean_shard();
    clean_shard_run(shard, whole_flush_thread, &shard);
}

/* Cross-thread frees and thread exit. */
struct handoff {
    unsigned shard;
    unsigned cls;
    unsigned n;
    void *blocks[64];
    sm_pool_t *pools[64];
};

static void producer_thread(void *arg)
{
    struct handoff *ho = arg;
    for (unsigned i = 0; i < ho->n; i++) {
        ho->blocks[i] = smalloc_malloc(sm_class_size(ho->cls));
        ho->pools[i] = sm_pool_of((uintptr_t)ho->blocks[i]);
    }
}

static void consumer_thread(void *arg)
{
    struct handoff *ho = arg;
    sm_tcache_t *h = sm_tcache_get();
    for (unsigned i = 0; i < ho->n; i++) {
        smalloc_free(ho->blocks[i]);
        cr_assert_eq(h->head[ho->cls], ho->blocks[i], "block %u freed by another thread is not in this thread's bin", i);
    }
    cr_assert_eq(bin_count(h, ho->cls), ho->n, "consumer bin");
    /* nused still counts them: cached blocks are handed out of the pools. */
    cr_assert_geq(ho->pools[0]->nused, ho->n, "pool nused %u", ho->pools[0]->nused);
}

Test(tcache, free_from_another_thread_goes_to_its_bin_and_exit_flushes)
{
    struct handoff ho = {.shard = clean_shard(), .cls = 11, .n = 40};
    size_t cached0 = sm_tcache_cached_blocks(ho.cls); /* the main thread's bin, if any */
    clean_shard_run(ho.shard, producer_thread, &ho);
    /* The producer exited: its bin (the rest of its batch) went back. */
    sm_pool_t *pool = ho.pools[0];
    for (unsigned i = 0; i < ho.n; i++)
        cr_assert_eq(ho.pools[i], pool, "one pool serves the 40 blocks of class 11 (42 per pool)");
    cr_assert_eq(pool->nused, ho.n, "after the producer's exit its pool has %u blocks out, want %u", pool->nused, ho.n);
    cr_assert_eq(sm_tcache_cached_blocks(ho.cls), cached0, "blocks of class %u still cached", ho.cls);
    clean_shard_run(ho.shard, consumer_thread, &ho);
    /* The consumer exited too: every block is back and the pool is empty. */
    cr_assert_eq(pool->nused, 0, "pool nused %u after both threads exited", pool->nused);
    cr_assert_eq(pool->cls, SM_CLASS_NONE, "the emptied pool went back to its arena");
}

/* fork: the child has one thread; the other threads' caches go back to the
 * pools there (tcache.c, sm_tcache_fork_child). */
struct forked {
    unsigned shard;
    unsigned cls;
    sm_pool_t *pool;
    unsigned held_nused;          /* pool->nused while the thread caches its batch */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int cached, release;
};

static void caching_thread(void *arg)
{
    struct forked *f = arg;
    void *p = smalloc_malloc(sm_class_size(f->cls)); /* one block held, the rest of the batch cached */
    f->pool = sm_pool_of((uintptr_t)p);
    pthread_mutex_lock(&f->lock);
    f->cached = 1;
    pthread_cond_broadcast(&f->cond);
    while (!f->release)
        pthread_cond_wait(&f->cond, &f->lock);
    pthread_mutex_unlock(&f->lock);
    smalloc_free(p);
}

static void *caching_thread_main(void *arg)
{
    struct forked *f = arg;
    clean_shard_run(f->shard, caching_thread, f);
    return NULL;
}

/* In the child: the other thread's cached blocks are back in their pool,
 * its held block still counts. Exit 0 when so. */
static void fork_child_check(void *arg)
{
    struct forked *f = arg;
    sm_lock(&sm_g_central[f->shard][f->cls].lock);
    unsigned nused = f->pool->nused;
    int ok = sm_pool_check(f->pool);
    sm_unlock(&sm_g_central[f->shard][f->cls].lock);
    if (nused != 1 || !ok) {
        fprintf(stderr, "child: pool nused %u (want 1), check %d\n", nused, ok);
        _exit(1);
    }
    /* The child allocates from that shard too, and its block is usable. */
    void *q = smalloc_malloc(sm_class_size(f->cls));
    memset(q, 0x77, sm_class_size(f->cls));
    smalloc_free(q);
    _exit(0);
}

Test(tcache, fork_child_returns_other_threads_caches)
{
    struct forked f = {.shard = clean_shard(), .cls = 11, .lock = PTHREAD_MUTEX_INITIALIZER,
                       .cond = PTHREAD_COND_INITIALIZER};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, caching_thread_main, &f), 0, "pthread_create");
    pthread_mutex_lock(&f.lock);
    while (!f.cached)
        pthread_cond_wait(&f.cond, &f.lock);
    pthread_mutex_unlock(&f.lock);
    unsigned batch = capacity(f.cls) / 2;
    cr_assert_eq(f.pool->nused, batch, "the thread took one batch: nused %u, want %u", f.pool->nused, batch);

    struct captured c;
    fork_and_capture(fork_child_check, &f, &c);
    cr_assert_eq(c.signal, 0, "the child died of signal %d: %s", c.signal, c.err);
    cr_assert_eq(c.exit_code, 0, "the child found the other thread's cache still held: %s", c.err);
    /* The parent is unchanged: the thread still caches its batch. */
    cr_assert_eq(f.pool->nused, batch, "parent pool nused %u after the fork", f.pool->nused);

    pthread_mutex_lock(&f.lock);
    f.release = 1;
    pthread_cond_broadcast(&f.cond);
    pthread_mutex_unlock(&f.lock);
    cr_assert_eq(pthread_join(t, NULL), 0, "pthread_join");
    release_legacies();
    cr_assert_eq(f.pool->nused, 0, "after the thread's exit its pool is empty (nused %u)", f.pool->nused);
}

/* Thread exit: TLS destructors that run after the heap's own (a key made
 * later) still allocate and free. The heap's destructor re-arms itself in
 * each round of TSD destructors, so the cache serves the first rounds, and
 * retires in the last: there, blocks go straight to the pools. */
struct late {
    pthread_key_t key;
    int rounds, heap_in_round[PTHREAD_DESTRUCTOR_ITERATIONS];
    int heap_gone, in_arena, returned_directly;
};

static void late_destructor(void *arg)
{
    struct late *l = arg;
    l->heap_in_round[l->rounds++] = sm_tcache_get() != NULL;
    if (l->rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
        free(smalloc_malloc(40));
        pthread_setspecific(l->key, l); /* again in the next round */
        return;
    }
    l->heap_gone = sm_tcache_get() == NULL;
    void *p = smalloc_malloc(40);
    l->in_arena = p != NULL && sm_space_contains((uintptr_t)p);
    if (!l->in_arena)
        return;
    memset(p, 0x42, 40);
    sm_pool_t *pool = sm_pool_of((uintptr_t)p);
    unsigned shard = sm_arena_of((uintptr_t)p)->shard;
    sm_lock(&sm_g_central[shard][4].lock);
    unsigned before = pool->nused;
    sm_unlock(&sm_g_central[shard][4].lock);
    smalloc_free(p);
    sm_lock(&sm_g_central[shard][4].lock);
    unsigned after = pool->nused;
    sm_unlock(&sm_g_central[shard][4].lock);
    l->returned_directly = after + 1 == before;
}

static void *late_thread(void *arg)
{
    struct late *l = arg;
    free(smalloc_malloc(16)); /* this thread gets a heap */
    pthread_setspecific(l->key, l);
    return NULL;
}

Test(tcache, allocation_after_the_heap_is_gone_goes_to_the_pools)
{
    struct late l = {0};
    free(smalloc_malloc(16)); /* the heap's thread-exit key exists before ours */
    cr_assert_eq(pthread_key_create(&l.key, late_destructor), 0, "pthread_key_create");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, late_thread, &l), 0, "pthread_create");
    cr_assert_eq(pthread_join(t, NULL), 0, "pthread_join");
    cr_assert_eq(l.rounds, PTHREAD_DESTRUCTOR_ITERATIONS, "TSD destructor rounds");
    for (int r = 0; r < PTHREAD_DESTRUCTOR_ITERATIONS - 1; r++)
        cr_assert(l.heap_in_round[r], "no heap in TSD destructor round %d", r + 1);
    cr_assert(l.heap_gone, "the thread still had a heap in the last TSD destructor round");
    cr_assert(l.in_arena, "malloc in a late TLS destructor did not come from an arena");
    cr_assert(l.returned_directly, "free in a late TLS destructor did not go straight to the pool");
}

/* A thread exits while another forks: the exiting thread's flush is half
 * done, blocked on a class lock (here held by the test), when the fork
 * happens. The child must not return the already returned blocks again.
 *
 * The fork is _Fork(), which runs no atfork handlers (fork() would wait for
 * the lock the test holds); the child runs init.c's child handlers itself,
 * in their order. Regression test for tcache_flush_all (found by
 * tests/stress: 1 fork child in 600 aborted in free(): invalid pointer). */
struct midflush {
    unsigned s1, s2, cls;
    void *theirs[5];         /* blocks of shard s2, made by another thread */
    sm_pool_t *p1, *p2;
};

static void midflush_maker(void *arg)
{
    struct midflush *m = arg;
    for (int i = 0; i < 5; i++)
        m->theirs[i] = smalloc_malloc(sm_class_size(m->cls));
    m->p2 = sm_pool_of((uintptr_t)m->theirs[0]);
}

static void midflush_exiter(void *arg)
{
    struct midflush *m = arg;
    size_t size = sm_class_size(m->cls);
    void *mine[2] = {smalloc_malloc(size), smalloc_malloc(size)}; /* one batch from s1 */
    m->p1 = sm_pool_of((uintptr_t)mine[0]);
    for (int i = 0; i < 5; i++)
        smalloc_free(m->theirs[i]);
    smalloc_free(mine[0]);
    smalloc_free(mine[1]);
    /* Bin now: 2 blocks of s1, 5 of s2, the rest of the s1 batch. At exit
     * the flush returns the first two, then waits for s2's class lock. */
}

static void *midflush_thread(void *arg)
{
    struct midflush *m = arg;
    clean_shard_run(m->s1, midflush_exiter, m);
    return NULL;
}

static unsigned nused_locked(unsigned shard, unsigned cls, const sm_pool_t *pool)
{
    sm_lock(&sm_g_central[shard][cls].lock);
    unsigned n = pool->nused;
    sm_unlock(&sm_g_central[shard][cls].lock);
    return n;
}

Test(tcache, fork_during_an_exit_flush_frees_nothing_twice)
{
    struct midflush m = {.cls = 11};
    sm_tcache_legacy_slots = 0; /* the exiting thread flushes its own cache */
    m.s1 = clean_shard();
    m.s2 = clean_shard_except(m.s1);
    unsigned batch = capacity(m.cls) / 2;
    clean_shard_run(m.s2, midflush_maker, &m);
    cr_assert_eq(m.p2->nused, 5, "shard s2 pool: 5 blocks out, nused %u", m.p2->nused);

    sm_lock(&sm_g_central[m.s2][m.cls].lock);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, midflush_thread, &m), 0, "pthread_create");
    /* Wait until the exiting thread has returned its first two blocks. */
    for (;;) {
        if (m.p1 != NULL && nused_locked(m.s1, m.cls, m.p1) == batch - 2)
            break;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    pid_t pid = _Fork();
    cr_assert_geq(pid, 0, "_Fork");
    if (pid == 0) {
        sm_fork_child();
        /* The exiting thread's other blocks are lost to the child (it is
         * not there to return them): a leak, never a second return. */
        unsigned n1 = nused_locked(m.s1, m.cls, m.p1), n2 = nused_locked(m.s2, m.cls, m.p2);
        int ok1 = sm_pool_check(m.p1), ok2 = sm_pool_check(m.p2);
        if (n1 != batch - 2 || n2 != 5 || !ok1 || !ok2) {
            fprintf(stderr, "child: s1 pool nused %u (want %u, check %d), s2 pool nused %u (want 5, check %d)\n",
                    n1, batch - 2, ok1, n2, ok2);
            _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid");
    sm_unlock(&sm_g_central[m.s2][m.cls].lock);
    cr_assert_eq(pthread_join(t, NULL), 0, "pthread_join");
    cr_assert(WIFEXITED(status), "the child died of signal %d (a block returned twice?)",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "the child found its pools wrong (see stderr)");
    /* In the parent the flush completed: both pools are empty again. */
    cr_assert_eq(m.p1->nused, 0, "s1 pool nused %u after the exit", m.p1->nused);
    cr_assert_eq(m.p2->nused, 0, "s2 pool nused %u after the exit", m.p2->nused);
    sm_tcache_legacy_slots = SM_LEGACY_SLOTS;
}

/* An exiting thread leaves its bins to the next thread to start, which
 * adopts them (blocks, room and shard) instead of starting empty; nobody
 * adopting them within a release delay, they go back to the pools. */
struct legacy_run {
    unsigned cls;
    void *freed[8];
    unsigned cached_at_start; /* the next thread's bin on its first call */
    void *got;
};

static void *leave_thread(void *arg)
{
    struct legacy_run *r = arg;
    for (unsigned i = 0; i < 8; i++)
        r->freed[i] = smalloc_malloc(sm_class_size(r->cls));
    for (unsigned i = 0; i < 8; i++)
        smalloc_free(r->freed[i]);
    return NULL;
}

static void *adopt_thread(void *arg)
{
    struct legacy_run *r = arg;
    sm_tcache_t *h = sm_tcache_get();
    r->cached_at_start = bin_count(h, r->cls);
    r->got = smalloc_malloc(sm_class_size(r->cls));
    smalloc_free(r->got);
    return NULL;
}

Test(tcache, an_exited_threads_cache_goes_to_the_next_thread)
{
    struct legacy_run r = {.cls = 21};
    release_legacies();
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, leave_thread, &r), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert(sm_tcache_has_legacies(), "the exited thread left no cache");
    size_t cached = sm_tcache_cached_blocks(r.cls);
    cr_assert_geq(cached, 8, "its 8 freed blocks count as cached: %zu", cached);
    cr_assert_eq(pthread_create(&t, NULL, adopt_thread, &r), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_geq(r.cached_at_start, 8, "the next thread started with %u blocks", r.cached_at_start);
    int reused = 0;
    for (unsigned i = 0; i < 8; i++)
        reused |= r.got == r.freed[i];
    cr_assert(reused, "the next thread's malloc did not come from the adopted cache");
    /* That thread left it again; a release round a delay later returns it. */
    cr_assert(sm_tcache_has_legacies());
    sm_tcache_release_legacies(sm_os_now_ms() + 10 * 1000, 1000);
    cr_assert(!sm_tcache_has_legacies(), "a cache left a delay ago is still held");
}

/* A batch is parked with the shard of its first block, whatever the others'
 * (bin_flush): a block freed again while it waits in a batch parked
 * under another shard's slots is found there too. */
struct parked_elsewhere {
    unsigned home, other;
    sm_cls_t cls;
    void *p;
};

static void alloc_in_home(void *arg)
{
    struct parked_elsewhere *e = arg;
    e->p = smalloc_malloc(sm_class_size(e->cls));
}

static void free_parked_block(void *arg)
{
    struct parked_elsewhere *e = arg;
    sm_block_t *b = e->p;
    sm_freelist_set_mark(b, e->cls, SM_FREED_MARK); /* as a push on a bin does */
    sm_freelist_set_next(b, NULL);
    if (!sm_transfer_put(e->other, e->cls, b))
        _exit(3);
    smalloc_free(e->p); /* the second free */
    _exit(0);
}

Test(tcache, double_free_of_a_block_parked_under_another_shard)
{
    struct parked_elsewhere e = {.cls = 7};
    e.home = clean_shard();
    e.other = clean_shard_except(e.home);
    clean_shard_run(e.home, alloc_in_home, &e);
    cr_assert_eq(sm_arena_of((uintptr_t)e.p)->shard, e.home, "the block comes from its home shard");
    struct captured c;
    fork_and_capture(free_parked_block, &e, &c);
    cr_assert_eq(c.signal, SIGABRT, "child: signal %d, exit %d; stderr:\n%s", c.signal, c.exit_code, c.err);
    cr_assert(strstr(c.err, "double free detected (block is in the transfer cache)") != NULL,
              "stderr: %s", c.err);
    smalloc_free(e.p);
}
