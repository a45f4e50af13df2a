/*
 * Thread caches: creation on first use, refill and flush, thread exit and
 * fork (see heap.h for the design).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#include "arena.h"
#include "arena_map.h"
#include "debug.h"
#include "error.h"
#include "fallback.h"
#include "heap.h"
#include "init.h"
#include "large_cache.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "pool.h"
#include "release.h"
#include "size_class.h"
#include "transfer.h"

sm_tls sm_heap_t sm_heap;

/* The registry of attached heaps, for statistics and the fork child: one
 * slot per heap, in chunks mapped from the OS and never unmapped, outside
 * every thread's TLS. A heap is normally removed by its own thread-exit
 * destructor (heap_retire). A thread may also die with its heap still
 * registered: its first allocation came after the destructor's last call
 * (in the last round of TSD destructors, or in libc's own clean-up after
 * them). Its TLS is then gone or reused by the next thread on that stack,
 * so a slot never links through a heap, and the registry knows whether the
 * thread lives without reading its heap: the slot's robust mutex, locked by
 * the thread at attach, is marked "owner died" by the kernel when the
 * thread ends, before glibc can reuse or unmap its stack. Such a slot is
 * freed by the next walk; the heap's cached blocks (one refill per class
 * it used, at most) stay allocated: a bounded leak. */
typedef struct sm_heap_slot {
    pthread_mutex_t alive;          /* robust; held by the heap's thread */
    sm_heap_t *heap;                /* NULL: the slot is free */
    struct sm_heap_slot *next_free; /* free slots, while heap is NULL */
} sm_heap_slot_t;

typedef struct slot_chunk {
    struct slot_chunk *next;
    unsigned nslots; /* slots initialised so far, the first ones */
    sm_heap_slot_t slots[];
} slot_chunk_t;

#define SLOT_CHUNK_BYTES (64 * 1024)
#define SLOTS_PER_CHUNK ((SLOT_CHUNK_BYTES - sizeof(slot_chunk_t)) / sizeof(sm_heap_slot_t))

static struct {
    sm_lock_t lock;           /* guards everything below */
    slot_chunk_t *chunks;     /* registry slots, the newest chunk first */
    sm_heap_slot_t *free;     /* slots known to be free */
    size_t retired_fallback_calls, retired_fallback_bytes;
    unsigned nassigned;       /* heaps attached so far, for shard assignment */
    pthread_key_t key;        /* runs heap_thread_exit */
    bool key_ok;
} heaps = {.lock = SM_LOCK_INITIALIZER};

/* A free slot with an unlocked robust mutex (not on the free list). */
static void slot_init(sm_heap_slot_t *s)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s->alive, &attr);
    pthread_mutexattr_destroy(&attr);
    s->heap = NULL;
}

/* s's mutex is unlocked: onto the free list. */
static void slot_free(sm_heap_slot_t *s)
{
    s->heap = NULL;
    s->next_free = heaps.free;
    heaps.free = s;
}

/* The heap of slot s if its thread is alive; NULL when the slot is free
 * or its thread died without retiring it (the slot is freed then). In a
 * fork child, the parent's other threads count as alive: their memory was
 * copied. pre: registry lock held. */
static sm_heap_t *slot_heap(sm_heap_slot_t *s)
{
    if (s->heap == NULL)
        return NULL;
    int err = pthread_mutex_trylock(&s->alive);
    if (err == EBUSY)
        return s->heap;
    if (err == EOWNERDEAD)
        pthread_mutex_consistent(&s->alive);
    if (err == 0 || err == EOWNERDEAD)
        pthread_mutex_unlock(&s->alive);
    slot_free(s);
    return NULL;
}

/* A free slot, claimed for h and locked by the calling thread (h's);
 * NULL when no chunk can be mapped (h is then not registered). Takes a
 * known free slot, else a new one of the newest chunk; when that is full,
 * walks the registry once, which frees the slots of dead threads, before
 * mapping another chunk: O(1) per thread, amortised. pre: registry lock
 * held. */
static sm_heap_slot_t *slot_claim(sm_heap_t *h)
{
    slot_chunk_t *c = heaps.chunks;
    if (heaps.free == NULL && (c == NULL || c->nslots == SLOTS_PER_CHUNK)) {
        for (slot_chunk_t *w = heaps.chunks; w != NULL; w = w->next)
            for (unsigned i = 0; i < w->nslots; i++)
                slot_heap(&w->slots[i]);
    }
    sm_heap_slot_t *s = heaps.free;
    if (s != NULL) {
        heaps.free = s->next_free;
    } else {
        if (c == NULL || c->nslots == SLOTS_PER_CHUNK) {
            c = sm_os_map(SLOT_CHUNK_BYTES);
            if (c == NULL)
                return NULL;
            c->next = heaps.chunks;
            heaps.chunks = c;
        }
        s = &c->slots[c->nslots++];
        slot_init(s);
    }
    pthread_mutex_lock(&s->alive);
    s->heap = h;
    return s;
}

/* Every registered heap of a live thread, as h (a for-loop header). */
#define for_each_live_heap(c, i, h)                                    \
    for (slot_chunk_t *c = heaps.chunks; c != NULL; c = c->next)      \
        for (unsigned i = 0; i < c->nslots; i++)                       \
            if (((h) = slot_heap(&c->slots[i])) != NULL)

/* In debug mode every bin has capacity 0: it stays empty and full (head
 * NULL, room 0), so every call takes the slow path, which hands it to the
 * debug layer (heap.h). */
static unsigned bin_capacity(unsigned cls)
{
    if (sm_opt.debug)
        return 0;
    size_t n = SM_BIN_BYTES / sm_class_size(cls);
    if (n < SM_BIN_MIN_BLOCKS)
        n = SM_BIN_MIN_BLOCKS;
    if (n > SM_BIN_MAX_BLOCKS)
        n = SM_BIN_MAX_BLOCKS;
    return (unsigned)n & ~1u; /* even: a full bin splits into two batches */
}

/* Blocks moved by one refill or one flush: half a bin. */
static unsigned batch_blocks(unsigned cls)
{
    return bin_capacity(cls) / 2;
}

/* Bins empty with their full capacity, and registered. */
static void heap_start(sm_heap_t *h)
{
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        h->head[cls] = NULL;
        h->room[cls] = (int8_t)bin_capacity(cls);
    }
    h->fallback_calls = h->fallback_bytes = 0;
    h->exit_calls = 0;
    sm_lock(&heaps.lock);
    /* Round-robin over the shards; the first heap (usually the main
     * thread's) gets shard 0. */
    h->shard = heaps.nassigned++ % SM_SHARDS;
    h->slot = slot_claim(h);
    h->state = SM_HEAP_LIVE;
    sm_unlock(&heaps.lock);
}

/* Give every cached block back to the pools; the bins end empty. Each chain
 * is detached from its bin before it is returned: another thread may fork
 * while this one is half way (blocked on a lock the fork holds), and the
 * child then flushes this heap again (sm_heap_fork_child); a chain still
 * on the bin would be freed twice there. Detached, the child only leaks
 * the blocks not returned yet. Found by tests/stress (a child aborting in
 * free(): invalid pointer, 1 fork in 600). */
static void heap_flush_all(sm_heap_t *h)
{
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        sm_block_t *chain = h->head[cls];
        h->head[cls] = NULL;
        h->room[cls] = (int8_t)bin_capacity(cls);
        if (chain != NULL)
            sm_pool_free_batch(cls, chain, "free");
    }
}

/* Out of the registry, bins zeroed: every later call takes the slow path,
 * which sends it to the pools. Called by h's thread, or in a fork child
 * for the parent's other threads (whose slot mutex the child re-creates:
 * only its owner could unlock it). */
static void heap_retire(sm_heap_t *h)
{
    sm_lock(&heaps.lock);
    if (h->slot != NULL) {
        if (h == &sm_heap)
            pthread_mutex_unlock(&h->slot->alive);
        else
            slot_init(h->slot);
        slot_free(h->slot);
        h->slot = NULL;
    }
    heaps.retired_fallback_calls += h->fallback_calls;
    heaps.retired_fallback_bytes += h->fallback_bytes;
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        h->head[cls] = NULL;
        h->room[cls] = 0;
    }
    h->state = SM_HEAP_DEAD;
    sm_unlock(&heaps.lock);
}

/* Give every batch parked in the transfer cache back to the pools. */
static void transfer_drain(const char *func)
{
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
            sm_block_t *batch;
            while ((batch = sm_transfer_take(shard, cls)) != NULL)
                sm_pool_free_batch(cls, batch, func);
        }
    }
}

/* The release policy on a slow path (release.h): a cache whose thread took
 * no slow path for a release delay is emptied, so it does not pin pools. */
static void heap_release_tick(sm_heap_t *h)
{
    if (sm_release_tick()) {
        heap_flush_all(h);
        sm_release_poke();
    }
}

/* pthread key destructor: the thread is exiting. Blocks it allocated stay
 * valid: they belong to pools, not to the thread. Other keys' destructors
 * may still allocate and free, in up to PTHREAD_DESTRUCTOR_ITERATIONS
 * rounds: the destructor re-arms itself and flushes the cache in each
 * round, and retires the heap in the last one, so the cache serves those
 * destructors and nothing stays in it. (A heap attached during the rounds
 * counts late and may miss its last call: the registry copes, see above.)
 * Every later call, from libc's own clean-up, goes to the pools. */
static void heap_thread_exit(void *arg)
{
    sm_heap_t *h = arg;
    if (h->state != SM_HEAP_LIVE)
        return;
    sm_large_cache_flush(true);
    heap_flush_all(h);
    if (++h->exit_calls < PTHREAD_DESTRUCTOR_ITERATIONS && pthread_setspecific(heaps.key, h) == 0)
        return;
    heap_retire(h);
    /* Batches parked in the transfer cache would otherwise pin their pools,
     * and whole arenas with them, once the threads that could take them
     * have gone (issue #6: a program that frees everything gets its memory
     * back). Other threads lose their parked batches too, which costs them
     * a refill from the pools; thread exits are rare. */
    transfer_drain("free");
    sm_release_poke(); /* the pools this emptied wait for release */
}

int sm_heap_init(void)
{
    int err = pthread_key_create(&heaps.key, heap_thread_exit);
    heaps.key_ok = (err == 0);
    return err;
}

sm_heap_t *sm_heap_attach(void)
{
    sm_init_process();
    /* Start-up may have allocated, and so attached this thread already. */
    if (sm_heap.state != SM_HEAP_NEW)
        return sm_heap.state == SM_HEAP_LIVE ? &sm_heap : NULL;
    heap_start(&sm_heap);
    /* Live before pthread_setspecific, which may itself call malloc. */
    if (heaps.key_ok)
        pthread_setspecific(heaps.key, &sm_heap);
    return &sm_heap;
}

static void *alloc_direct(unsigned cls)
{
    sm_block_t *b;
    if (sm_pool_alloc_batch(0, cls, 1, &b) == 0) {
        errno = ENOMEM;
        return NULL;
    }
    sm_freelist_set_mark(b, cls, 0); /* it may have left a thread cache before */
    return b;
}

/* The pools have no block and no arena can be mapped: out of memory, or
 * the arena space has no slot left (arena_map.h), when the system malloc
 * serves the request, a whole class size so that calloc may clear it. */
static void *alloc_when_no_arena(unsigned cls)
{
    if (!sm_arena_map_full()) {
        errno = ENOMEM;
        return NULL;
    }
    return sm_fallback_malloc(sm_class_size(cls));
}

void *sm_heap_alloc_slow(size_t n, size_t cls_index)
{
    unsigned cls = (unsigned)cls_index;
    sm_heap_t *h = sm_heap_get(); /* initialises the process on the first call */
    if (sm_unlikely(sm_opt.debug))
        return sm_debug_malloc(n, cls);
    if (h == NULL) {
        void *p = alloc_direct(cls);
        if (p != NULL)
            sm_secure_on_alloc(p, cls);
        return p;
    }
    sm_block_t *b = h->head[cls];
    if (b == NULL) {
        /* Refill with one batch (half a bin): a parked one if there is one,
         * else from the pools. Keep one block for the caller. */
        heap_release_tick(h);
        unsigned got = batch_blocks(cls);
        b = sm_transfer_take(h->shard, cls);
        if (b == NULL)
            got = sm_pool_alloc_batch(h->shard, cls, got, &b);
        if (got == 0)
            return alloc_when_no_arena(cls);
        h->room[cls] = (int8_t)(h->room[cls] - (int)got);
    }
    return sm_heap_pop(h, cls, b);
}

/* The bin is full: park its older half (one batch) in the transfer cache,
 * or give it back to the pools when no slot is free. */
static void bin_flush_half(sm_heap_t *h, unsigned cls)
{
    unsigned keep = batch_blocks(cls);
    sm_block_t *last = h->head[cls];
    for (unsigned i = 1; i < keep; i++) /* room 0: the bin holds 2 * keep */
        last = sm_freelist_next(last);
    sm_block_t *older = sm_freelist_next(last);
    sm_assert(older != NULL);
    sm_freelist_set_next(last, NULL);
    h->room[cls] = (int8_t)(bin_capacity(cls) - keep);
    /* Park it with the shard its blocks came from (judged by the first):
     * in a producer/consumer pair that is where the producer refills. */
    unsigned home = sm_arena_of((uintptr_t)older)->shard;
    if (!sm_transfer_put(home, cls, older))
        sm_pool_free_batch(cls, older, "free");
}

/* Is b among the blocks of the bin? (At most its capacity to walk.) */
static bool bin_holds(const sm_heap_t *h, unsigned cls, const sm_block_t *b)
{
    for (const sm_block_t *f = h->head[cls]; f != NULL; f = sm_freelist_next(f))
        if (f == b)
            return true;
    return false;
}

void sm_heap_check_not_free(const sm_heap_t *h, size_t cls_index, sm_block_t *b, const char *func)
{
    unsigned cls = (unsigned)cls_index;
    if (h->head[cls] == b)
        sm_fatal(func, b, "double free detected (block is at the head of the thread cache)");
    if (sm_likely(!sm_freelist_is_marked(b, cls)))
        return;
    if (bin_holds(h, cls, b))
        sm_fatal(func, b, "double free detected (block is in the thread cache)");
    if (sm_transfer_holds(sm_arena_of((uintptr_t)b)->shard, cls, b))
        sm_fatal(func, b, "double free detected (block is in the transfer cache)");
    if (sm_pool_holds_free(cls, b))
        sm_fatal(func, b, "double free detected");
    /* A live block whose last word the program set to the mark. */
}

void sm_heap_free_slow(size_t cls_index, sm_block_t *b)
{
    unsigned cls = (unsigned)cls_index;
    sm_heap_t *h = &sm_heap;
    h->room[cls]++; /* the fast path's decrement */
    if (sm_unlikely(sm_opt.debug)) {
        sm_debug_free(b, "free");
        return;
    }
    sm_heap_check_not_free(h, cls, b, "free");
    sm_secure_on_free(b, cls, "free");
    h = sm_heap_get();
    if (h == NULL) {
        sm_freelist_set_next(b, NULL);
        sm_pool_free_batch(cls, b, "free");
        return;
    }
    heap_release_tick(h);
    if (h->room[cls] == 0)
        bin_flush_half(h, cls);
    sm_freelist_set_mark(b, cls, SM_FREED_MARK);
    sm_freelist_set_next(b, h->head[cls]);
    h->head[cls] = b;
    h->room[cls]--;
    sm_release_poke(); /* what the flush freed or parked waits for release */
}

void sm_heap_collect(void)
{
    if (sm_heap.state == SM_HEAP_LIVE)
        heap_flush_all(&sm_heap);
    transfer_drain("smalloc_collect");
    sm_arena_release_all(); /* and the pages of every free pool (arena.h) */
}

size_t sm_heap_cached_blocks(unsigned cls)
{
    size_t n = sm_transfer_parked_blocks(cls, batch_blocks(cls));
    sm_heap_t *h;
    sm_lock(&heaps.lock);
    for_each_live_heap(c, i, h)
        n += bin_capacity(cls) - (unsigned)__atomic_load_n(&h->room[cls], __ATOMIC_RELAXED);
    sm_unlock(&heaps.lock);
    return n;
}

void sm_heap_fallback_totals(size_t *calls, size_t *bytes)
{
    sm_lock(&heaps.lock);
    size_t c = heaps.retired_fallback_calls, b = heaps.retired_fallback_bytes;
    sm_heap_t *h;
    for_each_live_heap(chunk, i, h) {
        c += __atomic_load_n(&h->fallback_calls, __ATOMIC_RELAXED);
        b += __atomic_load_n(&h->fallback_bytes, __ATOMIC_RELAXED);
    }
    sm_unlock(&heaps.lock);
    *calls = c;
    *bytes = b;
}

sm_lock_t *sm_heap_registry_lock(void)
{
    return &heaps.lock;
}

/* In the child only the forking thread survives: the other threads' caches
 * go back to the pools (every lock is re-created already). Its own slot is
 * re-created and locked again: the parent's thread owned it, and glibc
 * starts the child's list of robust mutexes empty. */
void sm_heap_fork_child(void)
{
    sm_heap_t *self = &sm_heap;
    if (self->slot != NULL) {
        slot_init(self->slot);
        pthread_mutex_lock(&self->slot->alive);
        self->slot->heap = self;
    }
    for (slot_chunk_t *c = heaps.chunks; c != NULL; c = c->next) {
        for (unsigned i = 0; i < c->nslots; i++) {
            sm_heap_t *h = slot_heap(&c->slots[i]);
            if (h != NULL && h != self) {
                heap_flush_all(h);
                heap_retire(h);
            }
        }
    }
}
