/*
 * Thread caches: creation on first use, refill and flush, thread exit and
 * fork (see tcache.h for the design).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#include "arena.h"
#include "error.h"
#include "large_cache.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "pool.h"
#include "release.h"
#include "size_class.h"
#include "space.h"
#include "tcache.h"
#include "transfer.h"

sm_tls sm_tcache_t sm_tcache;

/* The registry of attached thread caches, for statistics and the fork child: one
 * slot per thread cache, in chunks mapped from the OS and never unmapped, outside
 * every thread's TLS. A thread cache is normally removed by its own thread-exit
 * destructor (tcache_retire). A thread may also die with its thread cache still
 * registered: its first allocation came after the destructor's last call
 * (in the last round of TSD destructors, or in libc's own clean-up after
 * them). Its TLS is then gone or reused by the next thread on that stack,
 * so a slot never links through a thread cache, and the registry knows whether the
 * thread lives without reading its thread cache: the slot's robust mutex, locked by
 * the thread at attach, is marked "owner died" by the kernel when the
 * thread ends, before glibc can reuse or unmap its stack. Such a slot is
 * freed by the next walk; the thread cache's cached blocks (one refill per class
 * it used, at most) stay allocated: a bounded leak. */
typedef struct sm_tcache_slot {
    pthread_mutex_t alive;          /* robust; held by the thread cache's thread */
    sm_tcache_t *tcache;                /* NULL: the slot is free */
    struct sm_tcache_slot *next_free; /* free slots, while tcache is NULL */
} sm_tcache_slot_t;

typedef struct slot_chunk {
    struct slot_chunk *next;
    unsigned nslots; /* slots initialised so far, the first ones */
    sm_tcache_slot_t slots[];
} slot_chunk_t;

#define SLOT_CHUNK_BYTES (64 * 1024)
#define SLOTS_PER_CHUNK ((SLOT_CHUNK_BYTES - sizeof(slot_chunk_t)) / sizeof(sm_tcache_slot_t))

static struct {
    sm_lock_t lock;           /* guards everything below */
    slot_chunk_t *chunks;     /* registry slots, the newest chunk first */
    sm_tcache_slot_t *free;     /* slots known to be free */
    unsigned nassigned;       /* thread caches attached so far, for shard assignment */
    pthread_key_t key;        /* runs tcache_thread_exit */
    bool key_ok;
} tcaches = {.lock = SM_LOCK_INITIALIZER};

/* A free slot with an unlocked robust mutex (not on the free list). */
static void slot_init(sm_tcache_slot_t *s)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s->alive, &attr);
    pthread_mutexattr_destroy(&attr);
    s->tcache = NULL;
}

/* s's mutex is unlocked: onto the free list. */
static void slot_free(sm_tcache_slot_t *s)
{
    s->tcache = NULL;
    s->next_free = tcaches.free;
    tcaches.free = s;
}

/* The thread cache of slot s if its thread is alive; NULL when the slot is free
 * or its thread died without retiring it (the slot is freed then). In a
 * fork child, the parent's other threads count as alive: their memory was
 * copied. pre: registry lock held. */
static sm_tcache_t *slot_tcache(sm_tcache_slot_t *s)
{
    if (s->tcache == NULL)
        return NULL;
    int err = pthread_mutex_trylock(&s->alive);
    if (err == EBUSY)
        return s->tcache;
    if (err == EOWNERDEAD)
        pthread_mutex_consistent(&s->alive);
    if (err == 0 || err == EOWNERDEAD)
        pthread_mutex_unlock(&s->alive);
    slot_free(s);
    return NULL;
}

/* Every registered thread cache of a live thread, as h (a for-loop header). */
#define for_each_live_tcache(c, i, h)                                    \
    for (slot_chunk_t *c = tcaches.chunks; c != NULL; c = c->next)      \
        for (unsigned i = 0; i < c->nslots; i++)                       \
            if (((h) = slot_tcache(&c->slots[i])) != NULL)

/* A free slot, claimed for h and locked by the calling thread (h's);
 * NULL when no chunk can be mapped (h is then not registered). Takes a
 * known free slot, else a new one of the newest chunk; when that is full,
 * walks the registry once, which frees the slots of dead threads, before
 * mapping another chunk: O(1) per thread, amortised. pre: registry lock
 * held. */
static sm_tcache_slot_t *slot_claim(sm_tcache_t *h)
{
    slot_chunk_t *c = tcaches.chunks;
    if (tcaches.free == NULL && (c == NULL || c->nslots == SLOTS_PER_CHUNK)) {
        sm_tcache_t *live;
        for_each_live_tcache(w, i, live) {
            /* the walk itself frees the slots of dead threads */
        }
    }
    sm_tcache_slot_t *s = tcaches.free;
    if (s != NULL) {
        tcaches.free = s->next_free;
    } else {
        if (c == NULL || c->nslots == SLOTS_PER_CHUNK) {
            c = sm_os_map(SLOT_CHUNK_BYTES);
            if (c == NULL)
                return NULL;
            c->next = tcaches.chunks;
            tcaches.chunks = c;
        }
        s = &c->slots[c->nslots++];
        slot_init(s);
    }
    pthread_mutex_lock(&s->alive);
    s->tcache = h;
    return s;
}

/* In debug mode every bin has capacity 0: it stays empty and full (head
 * NULL, room 0), so every call takes the entry layer's slow path, which
 * hands it to the debug layer (tcache.h). */
static unsigned bin_capacity(sm_cls_t cls)
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
static unsigned batch_blocks(sm_cls_t cls)
{
    return bin_capacity(cls) / 2;
}

/* ---- caches left by exited threads ------------------------------------ *
 *
 * A thread that exits leaves its bins, as they are, in one of
 * SM_LEGACY_SLOTS legacies, and the next thread to start adopts the most
 * recent one instead of starting empty: a program that runs short-lived
 * threads (a server's workers, a thread pool that shrinks and grows) moves
 * the cached blocks from each thread to the next with two copies of the
 * bins, instead of returning every block to its pool at exit and carving
 * it again, pool by pool and page fault by page fault, in the next thread
 * (bench/driver -w thread_churn --scale 0.1 under callgrind: 136.4M
 * instructions with the exit flush, 60.9M with legacies; glibc 137.2M).
 * A legacy nobody adopts within a release delay goes back to the pools
 * (sm_tcache_release_legacies, release.h), and smalloc_collect() gives
 * them all back. When every slot is taken, the exiting thread's cache
 * goes to the pools.
 *
 * The slots are static; legacies.lock guards them and is taken alone. */
enum legacy_state { LEGACY_FREE, LEGACY_HELD, LEGACY_RETURNING };

/* RETURNING: its blocks are on their way to the pools, by a release; they
 * still count as cached for the statistics until they are all back. */
typedef struct legacy {
    sm_block_t *head[SM_NCLASSES + 1];
    int8_t room[SM_NCLASSES + 1];
    unsigned shard;
    uint64_t left_ms;  /* sm_os_now_ms() when its thread exited */
    uint8_t state;     /* enum legacy_state */
} legacy_t;

static struct {
    sm_lock_t lock;
    _Atomic unsigned nheld; /* peeked at without the lock */
    legacy_t slot[SM_LEGACY_SLOTS];
} legacies = {.lock = SM_LOCK_INITIALIZER};

#ifdef SMALLOC_TESTING
unsigned sm_tcache_legacy_slots = SM_LEGACY_SLOTS;
#define LEGACY_SLOTS sm_tcache_legacy_slots
#else
#define LEGACY_SLOTS SM_LEGACY_SLOTS
#endif

static bool bins_empty(const sm_block_t *const *head)
{
    for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++)
        if (head[cls] != NULL)
            return false;
    return true;
}

/* Move h's bins into a free legacy slot; false when none is free. */
static bool legacy_leave(sm_tcache_t *h)
{
    bool left = false;
    uint64_t now = sm_os_now_ms();
    sm_lock(&legacies.lock);
    unsigned nslots = LEGACY_SLOTS < SM_LEGACY_SLOTS ? LEGACY_SLOTS : SM_LEGACY_SLOTS;
    for (unsigned i = 0; i < nslots && !left; i++) {
        legacy_t *l = &legacies.slot[i];
        if (l->state != LEGACY_FREE)
            continue;
        for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++) {
            l->head[cls] = h->head[cls];
            l->room[cls] = h->room[cls];
            h->head[cls] = NULL;
            h->room[cls] = (int8_t)bin_capacity(cls);
        }
        l->shard = h->shard;
        l->left_ms = now;
        l->state = LEGACY_HELD;
        atomic_store_explicit(&legacies.nheld, atomic_load_explicit(&legacies.nheld, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        left = true;
    }
    sm_unlock(&legacies.lock);
    return left;
}

/* Give h, a new thread cache, the most recent legacy's bins and shard; false when
 * there is none. */
static bool legacy_adopt(sm_tcache_t *h)
{
    if (atomic_load_explicit(&legacies.nheld, memory_order_relaxed) == 0)
        return false;
    legacy_t *newest = NULL;
    sm_lock(&legacies.lock);
    for (unsigned i = 0; i < SM_LEGACY_SLOTS; i++) {
        legacy_t *l = &legacies.slot[i];
        if (l->state == LEGACY_HELD && (newest == NULL || l->left_ms > newest->left_ms))
            newest = l;
    }
    if (newest != NULL) {
        for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++) {
            h->head[cls] = newest->head[cls];
            h->room[cls] = newest->room[cls];
        }
        h->shard = newest->shard;
        newest->state = LEGACY_FREE;
        atomic_store_explicit(&legacies.nheld, atomic_load_explicit(&legacies.nheld, memory_order_relaxed) - 1,
                              memory_order_relaxed);
    }
    sm_unlock(&legacies.lock);
    return newest != NULL;
}

/* Give back to the pools every legacy left at least delay_ms before now
 * (all with delay_ms 0); how many. */
static unsigned legacy_release(uint64_t now, uint64_t delay_ms)
{
    legacy_t *out[SM_LEGACY_SLOTS];
    unsigned n = 0;
    sm_lock(&legacies.lock);
    for (unsigned i = 0; i < SM_LEGACY_SLOTS; i++) {
        legacy_t *l = &legacies.slot[i];
        if (l->state == LEGACY_HELD && now - l->left_ms >= delay_ms) {
            l->state = LEGACY_RETURNING;
            out[n++] = l;
        }
    }
    sm_unlock(&legacies.lock);
    /* A RETURNING slot is this thread's alone: nobody adopts or reuses it. */
    for (unsigned i = 0; i < n; i++)
        for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++)
            if (out[i]->head[cls] != NULL)
                sm_pool_free_batch(cls, out[i]->head[cls], "free");
    sm_lock(&legacies.lock);
    for (unsigned i = 0; i < n; i++) {
        out[i]->state = LEGACY_FREE;
        atomic_store_explicit(&legacies.nheld,
                              atomic_load_explicit(&legacies.nheld, memory_order_relaxed) - 1,
                              memory_order_relaxed);
    }
    sm_unlock(&legacies.lock);
    return n;
}

void sm_tcache_release_legacies(uint64_t now_ms, uint64_t delay_ms)
{
    if (atomic_load_explicit(&legacies.nheld, memory_order_relaxed) != 0)
        legacy_release(now_ms, delay_ms);
}

bool sm_tcache_has_legacies(void)
{
    return atomic_load_explicit(&legacies.nheld, memory_order_relaxed) != 0;
}

sm_lock_t *sm_tcache_legacy_lock(void)
{
    return &legacies.lock;
}

/* Blocks of class cls in legacies (statistics). */
static size_t legacy_cached_blocks(sm_cls_t cls)
{
    size_t n = 0;
    sm_lock(&legacies.lock);
    for (unsigned i = 0; i < SM_LEGACY_SLOTS; i++)
        if (legacies.slot[i].state != LEGACY_FREE)
            n += bin_capacity(cls) - (unsigned)legacies.slot[i].room[cls];
    sm_unlock(&legacies.lock);
    return n;
}

/* Bins empty with their full capacity, or a legacy's; registered. */
static void tcache_start(sm_tcache_t *h)
{
    for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++) {
        h->head[cls] = NULL;
        h->room[cls] = (int8_t)bin_capacity(cls);
    }
    h->exit_calls = 0;
    bool adopted = !sm_opt.debug && legacy_adopt(h);
    sm_lock(&tcaches.lock);
    /* Round-robin over the shards; the first thread cache (usually the main
     * thread's) gets shard 0. An adopted cache brings its own. */
    if (!adopted)
        h->shard = tcaches.nassigned++ % SM_SHARDS;
    h->slot = slot_claim(h);
    h->state = SM_TCACHE_LIVE;
    sm_unlock(&tcaches.lock);
}

/* Give every cached block back to the pools; the bins end empty. Each chain
 * is detached from its bin before it is returned: another thread may fork
 * while this one is half way (blocked on a lock the fork holds), and the
 * child then flushes this thread cache again (sm_tcache_fork_child); a chain still
 * on the bin would be freed twice there. Detached, the child only leaks
 * the blocks not returned yet. tests/stress forks under load to check it
 * (a chain freed twice aborts the child in free(): invalid pointer, about
 * 1 fork in 600). */
static void tcache_flush_all(sm_tcache_t *h)
{
    for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++) {
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
static void tcache_retire(sm_tcache_t *h)
{
    sm_lock(&tcaches.lock);
    if (h->slot != NULL) {
        if (h == &sm_tcache)
            pthread_mutex_unlock(&h->slot->alive);
        else
            slot_init(h->slot);
        slot_free(h->slot);
        h->slot = NULL;
    }
    for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++) {
        h->head[cls] = NULL;
        h->room[cls] = 0;
    }
    h->state = SM_TCACHE_DEAD;
    sm_unlock(&tcaches.lock);
}

/* Give every batch parked in the transfer cache back to the pools. */
static void transfer_drain(const char *func)
{
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++) {
            sm_block_t *batch;
            while ((batch = sm_transfer_take(shard, cls)) != NULL)
                sm_pool_free_batch(cls, batch, func);
        }
    }
}

/* The release policy on a slow path (release.h): a cache whose thread took
 * no slow path for a release delay is emptied, so it does not pin pools. */
static void tcache_release_tick(sm_tcache_t *h)
{
    if (sm_release_tick()) {
        tcache_flush_all(h);
        sm_release_poke();
    }
}

/* pthread key destructor: the thread is exiting. Blocks it allocated stay
 * valid: they belong to pools, not to the thread. Other keys' destructors
 * may still allocate and free, in up to PTHREAD_DESTRUCTOR_ITERATIONS
 * rounds: the destructor re-arms itself and flushes the cache in each
 * round, and retires the thread cache in the last one, so the cache serves those
 * destructors and nothing stays in it. (A thread cache attached during the rounds
 * counts late and may miss its last call: the registry copes, see above.)
 * Every later call, from libc's own clean-up, goes to the pools. */
static void tcache_thread_exit(void *arg)
{
    sm_tcache_t *h = arg;
    if (h->state != SM_TCACHE_LIVE)
        return;
    sm_large_cache_flush(true);
    /* The first call leaves the cache to the next thread; what later TSD
     * destructors cache goes to the pools, not to another legacy slot. */
    if (h->exit_calls > 0 || bins_empty((const sm_block_t *const *)h->head) || !legacy_leave(h))
        tcache_flush_all(h);
    if (++h->exit_calls < PTHREAD_DESTRUCTOR_ITERATIONS && pthread_setspecific(tcaches.key, h) == 0)
        return;
    tcache_retire(h);
    /* Parked batches and the legacy go back to the pools a release delay
     * after they were last used (release.h), even when no thread is left
     * to take them. */
    sm_release_poke();
}

int sm_tcache_init(void)
{
    int err = pthread_key_create(&tcaches.key, tcache_thread_exit);
    tcaches.key_ok = (err == 0);
    return err;
}

sm_tcache_t *sm_tcache_attach(void)
{
    /* Start-up may have allocated, and so attached this thread already. */
    if (sm_tcache.state != SM_TCACHE_NEW)
        return sm_tcache.state == SM_TCACHE_LIVE ? &sm_tcache : NULL;
    tcache_start(&sm_tcache);
    /* Live before pthread_setspecific, which may itself call malloc. */
    if (tcaches.key_ok)
        pthread_setspecific(tcaches.key, &sm_tcache);
    return &sm_tcache;
}

static void *alloc_direct(sm_cls_t cls)
{
    sm_block_t *b;
    if (sm_pool_alloc_batch(0, cls, 1, &b) == 0)
        return NULL;
    sm_freelist_set_mark(b, cls, 0); /* it may have left a thread cache before */
    return b;
}

void *sm_tcache_alloc_refill(sm_tcache_t *h, sm_cls_t cls)
{
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
        tcache_release_tick(h);
        /* The tick may have started the release thread, and pthread_create
         * may have allocated, refilling this very bin. */
        b = h->head[cls];
    }
    if (b == NULL) {
        unsigned got = batch_blocks(cls);
        b = sm_transfer_take(h->shard, cls);
        if (b == NULL)
            got = sm_pool_alloc_batch(h->shard, cls, got, &b);
        if (got == 0)
            return NULL;
        h->room[cls] = (int8_t)(h->room[cls] - (int)got);
    }
    return sm_tcache_pop(h, cls, b);
}

/* Blocks a flush to the pools leaves in the bin: the newest, the most
 * likely to be in the cache, for the next mallocs (tests/integration/api
 * test_malloc.c relies on 8). At most a batch: a bin holds 16 or more. */
#define FLUSH_KEEPS_NEWEST 8
_Static_assert(FLUSH_KEEPS_NEWEST <= SM_BIN_MIN_BLOCKS / 2, "a flush keeps at most a batch");

/*
 * The bin is full. When a transfer slot is free, its older half (one
 * batch) is parked there: another thread's refill, or this one's, takes it
 * in O(1). When the slots are full, all of the bin but its
 * FLUSH_KEEPS_NEWEST newest blocks goes back to the pools in one call.
 *
 * Why not always the older half: finding where it starts walks the newer
 * half's links (batch - 1 of them, up to 62 cold ones), and a program that
 * frees a large container (python3.11 dropping a dict of lists) finds the
 * slots full at nearly every flush: in bench/python/dicts_lists.py 0.2,
 * 11,703 of 11,817 flushes went to the pools, each after its walk and
 * with a call of sm_pool_free_batch, its locks and its release tick.
 * Flushing all but 8 blocks takes about half as many flushes (6,460, of
 * which 6,342 to the pools) and walks 7 links. The cost is hysteresis: a
 * program that turns from freeing to allocating finds 8 blocks instead of
 * a batch and refills sooner. The figures and the command: tcache.h.
 */
static void bin_flush(sm_tcache_t *h, sm_cls_t cls)
{
    sm_block_t *head = h->head[cls];
    /* Parked with the shard of the bin's newest block: in a
     * producer/consumer pair that is where the producer refills. */
    unsigned home = sm_arena_of((uintptr_t)head)->shard;
    bool park = sm_transfer_has_room(home, cls);
    unsigned keep = park ? batch_blocks(cls) : FLUSH_KEEPS_NEWEST;
    sm_block_t *last = head;
    for (unsigned i = 1; i < keep; i++) /* room 0: the bin holds 2 * batch */
        last = sm_freelist_next(last);
    sm_block_t *older = sm_freelist_next(last);
    sm_assert(older != NULL);
    /* Detached before it is returned (tcache_flush_all says why). */
    sm_freelist_set_next(last, NULL);
    h->room[cls] = (int8_t)(bin_capacity(cls) - keep);
    if (!park || !sm_transfer_put(home, cls, older))
        sm_pool_free_batch(cls, older, "free");
}

/* Is b among the blocks of the bin? (At most its capacity to walk.) */
static bool bin_holds(const sm_tcache_t *h, sm_cls_t cls, const sm_block_t *b)
{
    for (const sm_block_t *f = h->head[cls]; f != NULL; f = sm_freelist_next(f))
        if (f == b)
            return true;
    return false;
}

void sm_tcache_check_not_free(const sm_tcache_t *h, sm_cls_t cls, sm_block_t *b, const char *func)
{
    if (h->head[cls] == b)
        sm_fatal(func, b, "double free detected (block is at the head of the thread cache)");
    if (sm_likely(!sm_freelist_is_marked(b, cls)))
        return;
    if (bin_holds(h, cls, b))
        sm_fatal(func, b, "double free detected (block is in the thread cache)");
    /* A batch is parked with the shard of its bin's newest block, whatever
     * its own blocks' (bin_flush): look in every shard. */
    for (unsigned shard = 0; shard < SM_SHARDS; shard++)
        if (sm_transfer_holds(shard, cls, b))
            sm_fatal(func, b, "double free detected (block is in the transfer cache)");
    if (sm_pool_holds_free(cls, b))
        sm_fatal(func, b, "double free detected");
    /* A live block whose last word the program set to the mark. */
}

void sm_tcache_free_flush(sm_cls_t cls, sm_block_t *b)
{
    sm_tcache_t *h = &sm_tcache;
    sm_tcache_check_not_free(h, cls, b, "free");
    sm_secure_on_free(b, cls, "free");
    h = sm_tcache_get();
    if (h == NULL) {
        sm_freelist_set_next(b, NULL);
        sm_pool_free_batch(cls, b, "free");
        return;
    }
    tcache_release_tick(h);
    bool flushed = h->room[cls] == 0;
    if (flushed)
        bin_flush(h, cls);
    sm_freelist_set_mark(b, cls, SM_FREED_MARK);
    sm_freelist_set_next(b, h->head[cls]);
    h->head[cls] = b;
    h->room[cls]--;
    if (flushed)
        sm_release_poke(); /* what the flush freed or parked waits for release */
}

void sm_tcache_collect(void)
{
    if (sm_tcache.state == SM_TCACHE_LIVE)
        tcache_flush_all(&sm_tcache);
    legacy_release(sm_os_now_ms(), 0);
    transfer_drain("smalloc_collect");
    sm_arena_release_all(); /* and the pages of every free pool (arena.h) */
}

size_t sm_tcache_cached_blocks(sm_cls_t cls)
{
    size_t n = sm_transfer_parked_blocks(cls, batch_blocks(cls)) + legacy_cached_blocks(cls);
    sm_tcache_t *h;
    sm_lock(&tcaches.lock);
    for_each_live_tcache(c, i, h)
        n += bin_capacity(cls) - (unsigned)__atomic_load_n(&h->room[cls], __ATOMIC_RELAXED); /* plain field: tcache.h */
    sm_unlock(&tcaches.lock);
    return n;
}

sm_lock_t *sm_tcache_registry_lock(void)
{
    return &tcaches.lock;
}

/* In the child only the forking thread survives: the other threads' caches
 * go back to the pools (every lock is re-created already). Its own slot is
 * re-created and locked again: the parent's thread owned it, and glibc
 * starts the child's list of robust mutexes empty. */
void sm_tcache_fork_child(void)
{
    sm_tcache_t *self = &sm_tcache;
    if (self->slot != NULL) {
        slot_init(self->slot);
        pthread_mutex_lock(&self->slot->alive);
        self->slot->tcache = self;
    }
    sm_tcache_t *h;
    for_each_live_tcache(c, i, h) {
        if (h != self) {
            tcache_flush_all(h);
            tcache_retire(h);
        }
    }
    /* A legacy a release round was returning when the parent forked: its
     * returner is not here; the blocks not yet back stay in use (a bounded
     * leak), the slot is free again. */
    for (unsigned i = 0; i < SM_LEGACY_SLOTS; i++) {
        if (legacies.slot[i].state == LEGACY_RETURNING) {
            legacies.slot[i].state = LEGACY_FREE;
            atomic_store_explicit(&legacies.nheld,
                                  atomic_load_explicit(&legacies.nheld, memory_order_relaxed) - 1,
                                  memory_order_relaxed);
        }
    }
}
