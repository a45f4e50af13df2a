/*
 * The large-block cache (see large_cache.h): class arithmetic, the
 * per-thread records and their registry, the check of glibc's chunk
 * header, each thread's room, malloc (borrowing from the classes above),
 * free and realloc through the cache.
 */
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <string.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "fallback.h"
#include "freelist.h"
#include "large_cache.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "tcache.h"
#include "track.h"

#define GROUP_CLASSES 32 /* classes per power of two */
#define FIRST_SHIFT 9    /* the first group rounds (512, 1024] */
#define NCLASSES 160     /* (512, 16384]: five groups */
#ifndef GROW_DIVISOR
#define GROW_DIVISOR 8   /* realloc grows a block by at least 1/8 (large_cache.h) */
#endif

_Static_assert((SM_LARGE_CACHE_MAX >> FIRST_SHIFT) == 1 << (NCLASSES / GROUP_CLASSES),
               "five groups of classes up to SM_LARGE_CACHE_MAX");

/* glibc's chunk header (malloc/malloc.c): the size of the chunk, a
 * multiple of 16, in the word before the block, with flags in its low bits. */
#define CHUNK_MMAPPED 2u
#define CHUNK_FLAGS 7u

typedef struct cache_block {
    struct cache_block *next;
    uintptr_t mark; /* SM_FREED_MARK while cached */
} cache_block_t;

/* A thread's cache. Written by its thread only; bytes and blocks are read
 * by statistics from other threads (relaxed atomics). */
typedef struct sm_large_cache {
    cache_block_t *head[NCLASSES];
    uint16_t count[NCLASSES];
    uint32_t until_update;  /* requests and frees before the room is set again */
    ptrdiff_t live;         /* class sizes of the blocks the thread got less those it freed,
                             * since it last added them to records.live */
    size_t room;            /* bytes the cache may hold now: room_min .. cache_bytes */
    _Atomic size_t bytes;  /* class sizes of the cached blocks */
    _Atomic size_t blocks;
    _Atomic size_t hits;   /* requests served, over the record's life */
    _Atomic size_t fallback_calls, fallback_bytes; /* requests passed to glibc, idem */
    uint64_t left_ms;      /* on the free list since (sm_os_now_ms) */
    bool attached;         /* a running thread's (set and cleared by it) */
    struct sm_large_cache *all_next, *free_next;
} sm_large_cache_t;

/* The calling thread's cache: NULL before its first use, DEAD after it
 * exited or when the cache is off. */
static sm_tls sm_large_cache_t *my_cache;
static sm_large_cache_t dead_cache; /* every bin empty and full */
#define DEAD (&dead_cache)
static sm_tls bool creating; /* the calling thread is making its record */

/* Tables filled once, by the first thread to use a cache, before
 * header_ok is published: the class of a request, by (n - 1) / 16; the
 * class a block of u usable bytes serves, plus one (0: none), by u / 16;
 * each class's size and most blocks. */
#define REQUEST_SLOTS (SM_LARGE_CACHE_MAX / 16)
#define USABLE_SLOTS ((SM_LARGE_CACHE_MAX + SM_LARGE_CACHE_MAX / GROUP_CLASSES) / 16)
static struct {
    uint8_t request_class[REQUEST_SLOTS];
    uint8_t usable_class[USABLE_SLOTS];
    uint32_t size[NCLASSES];
    uint16_t limit[NCLASSES];
} table;

static struct {
    sm_lock_t lock;          /* guards the lists and the first check */
    sm_large_cache_t *all;   /* every record ever made (never unmapped) */
    sm_large_cache_t *free;  /* records of exited threads, the latest first */
    _Atomic unsigned nleft;  /* free records that hold blocks (written under
                              * the lock, peeked at without it) */
    _Atomic int header_ok;   /* 0 not checked yet, 1 usable, -1 off */
    _Atomic ptrdiff_t live;  /* class bytes of blocks in use, as room updates add them */
    _Atomic unsigned users;  /* records of running threads */
    bool tables_filled;
} records = {.lock = SM_LOCK_INITIALIZER};

/* ---- classes ------------------------------------------------------------ */

static unsigned log2_floor(size_t x)
{
    return 63u - (unsigned)__builtin_clzll(x);
}

/* pre: SM_LARGE_CACHE_MIN <= n <= SM_LARGE_CACHE_MAX */
static unsigned class_of_request(size_t n)
{
    unsigned j = log2_floor(n - 1); /* n - 1 in [2^j, 2^(j+1)) */
    return (j - FIRST_SHIFT) * GROUP_CLASSES + (unsigned)((n - 1 - ((size_t)1 << j)) >> (j - 5));
}

static size_t class_size(unsigned k)
{
    unsigned j = FIRST_SHIFT + k / GROUP_CLASSES;
    return ((size_t)1 << j) + (size_t)(k % GROUP_CLASSES + 1) * ((size_t)1 << (j - 5));
}

/* The largest class whose size a block of usable bytes holds, or -1. */
static int class_of_usable(size_t usable)
{
    if (usable < class_size(0))
        return -1;
    if (usable >= SM_LARGE_CACHE_MAX)
        return usable - SM_LARGE_CACHE_MAX < SM_LARGE_CACHE_MAX / GROUP_CLASSES ? NCLASSES - 1 : -1;
    unsigned j = log2_floor(usable);
    return (int)((j - FIRST_SHIFT) * GROUP_CLASSES) +
           (int)((usable - ((size_t)1 << j)) >> (j - 5)) - 1;
}

/* Bytes a thread may cache (SMALLOC_LARGE_CACHE), and the room a thread
 * starts with, written with the tables. */
static size_t cache_bytes, room_min;

static size_t class_limit(unsigned k)
{
    size_t n = cache_bytes / 4 / class_size(k);
    n = n < 4 ? 4 : n;
    return n > UINT16_MAX ? UINT16_MAX : n;
}

static void table_fill(void)
{
    cache_bytes = sm_opt.large_cache;
    room_min = cache_bytes < SM_LARGE_CACHE_ROOM_MIN ? cache_bytes : SM_LARGE_CACHE_ROOM_MIN;
    for (unsigned k = 0; k < NCLASSES; k++) {
        table.size[k] = (uint32_t)class_size(k);
        table.limit[k] = (uint16_t)class_limit(k);
    }
    for (size_t i = 0; i < REQUEST_SLOTS; i++) {
        size_t n = i * 16 + 1; /* every n of the slot has the same class */
        table.request_class[i] = (uint8_t)(n < SM_LARGE_CACHE_MIN ? 0 : class_of_request(n));
    }
    for (size_t i = 0; i < USABLE_SLOTS; i++)
        table.usable_class[i] = (uint8_t)(class_of_usable(i * 16) + 1);
}

/* ---- glibc's chunk header ---------------------------------------------- */

/* Usable bytes of p by its chunk header, or 0 when the header is not that
 * of a plain heap chunk (mmapped, misaligned, implausible). */
static size_t chunk_usable(const void *p)
{
    if ((uintptr_t)p % 16 != 0)
        return 0;
    size_t head = ((const size_t *)p)[-1];
    size_t chunk = head & ~(size_t)CHUNK_FLAGS;
    if ((head & CHUNK_MMAPPED) || chunk % 16 != 0 || chunk < 32 || chunk > ((size_t)1 << 30))
        return 0;
    return chunk - sizeof(size_t);
}

static int find_malloc_tool(struct dl_phdr_info *info, size_t size, void *found)
{
    (void)size;
    const char *name = info->dlpi_name;
    if (name != NULL && strstr(name, "vgpreload_") != NULL && strstr(name, "vgpreload_core") == NULL)
        *(bool *)found = true;
    return 0;
}

/* Under valgrind, is the tool one that replaces malloc (memcheck, massif,
 * helgrind, drd, dhat: they load a vgpreload_<tool> object), rather than
 * one that watches glibc's own (callgrind, cachegrind)? */
static bool malloc_replaced_by_valgrind(void)
{
    if (!sm_running_on_valgrind())
        return false;
    bool found = false;
    dl_iterate_phdr(find_malloc_tool, &found);
    return found;
}

/* Does the word before a block of glibc's say its size, as glibc's own
 * malloc_usable_size does? Not under valgrind, whose malloc replaces
 * __libc_malloc, nor behind another allocator. */
static bool header_check(void)
{
#ifndef SMALLOC_OVERRIDE
    return false; /* the system malloc is whatever the process has: not known to be glibc's */
#endif
    if (SM_TRACK_VALGRIND || malloc_replaced_by_valgrind())
        return false; /* Memcheck's malloc: no such header, and reading it is an error */
    static const size_t sizes[] = {600, 1500, 9000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = sm_fallback_malloc_uncounted(sizes[i]);
        if (p == NULL)
            return false;
        size_t usable = chunk_usable(p);
        bool ok = usable >= sizes[i] && usable == sm_fallback_usable_size(p);
        sm_fallback_free(p);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- records ------------------------------------------------------------ */

/* pre: records.lock held. */
static void nleft_add(int delta)
{
    atomic_store_explicit(&records.nleft,
                          atomic_load_explicit(&records.nleft, memory_order_relaxed) + (unsigned)delta,
                          memory_order_relaxed);
}

static sm_large_cache_t *record_take(void)
{
    sm_lock(&records.lock);
    sm_large_cache_t *c = records.free; /* the most recent: its blocks come along */
    if (c != NULL) {
        records.free = c->free_next;
        if (atomic_load_explicit(&c->blocks, memory_order_relaxed) > 0)
            nleft_add(-1);
    }
    sm_unlock(&records.lock);
    if (c == NULL) {
        c = sm_os_map((sizeof *c + 4095) & ~(size_t)4095);
        if (c == NULL)
            return NULL;
        sm_lock(&records.lock);
        c->all_next = records.all;
        records.all = c;
        sm_unlock(&records.lock);
    }
    return c;
}

/* The calling thread's cache, made on its first use; DEAD when there is
 * none (off, out of memory, the thread exited). */
static sm_noinline sm_large_cache_t *cache_attach(void)
{
    if (creating)
        return DEAD; /* the header check or the mapping called malloc */
    /* The thread-exit hook that flushes this cache is the thread cache's
     * (tcache.c): no cache for a thread without one, or whose one is gone. */
    if (sm_tcache_get() == NULL) {
        my_cache = DEAD;
        return DEAD;
    }
    creating = true;
    int ok = atomic_load_explicit(&records.header_ok, memory_order_acquire);
    if (ok == 0) {
        /* Outside the lock: the check calls into glibc and the loader. Two
         * threads may both check; both fill the same tables first. */
        sm_lock(&records.lock);
        if (!records.tables_filled) {
            table_fill();
            records.tables_filled = true;
        }
        sm_unlock(&records.lock);
        ok = cache_bytes > 0 && header_check() ? 1 : -1;
        atomic_store_explicit(&records.header_ok, ok, memory_order_release);
    }
    sm_large_cache_t *c = ok > 0 ? record_take() : NULL;
    if (c != NULL) {
        c->attached = true;
        atomic_fetch_add_explicit(&records.users, 1, memory_order_relaxed);
        if (c->room == 0)
            c->room = room_min; /* a new record; an adopted one keeps its room */
    }
    creating = false;
    my_cache = c != NULL ? c : DEAD;
    return my_cache;
}

static sm_always_inline sm_large_cache_t *cache_get(void)
{
    sm_large_cache_t *c = my_cache;
    return sm_likely(c != NULL) ? c : cache_attach();
}

static void counters_add(sm_large_cache_t *c, long blocks, long bytes)
{
    atomic_store_explicit(&c->blocks, atomic_load_explicit(&c->blocks, memory_order_relaxed) + (size_t)blocks,
                          memory_order_relaxed);
    atomic_store_explicit(&c->bytes, atomic_load_explicit(&c->bytes, memory_order_relaxed) + (size_t)bytes,
                          memory_order_relaxed);
}

/* ---- malloc and free ---------------------------------------------------- */

/* The room of a thread's cache, set again every SM_LARGE_CACHE_UPDATE_EVENTS
 * requests and frees through it: its share of an eighth of the bytes in use
 * in the classes, over all threads, within [room_min, cache_bytes]
 * (large_cache.h). The thread adds what it got and freed since the last
 * time to the process-wide sum: one atomic add per update. */
static sm_noinline void room_update(sm_large_cache_t *c)
{
    c->until_update = SM_LARGE_CACHE_UPDATE_EVENTS;
    ptrdiff_t live = atomic_fetch_add_explicit(&records.live, c->live, memory_order_relaxed) + c->live;
    c->live = 0;
    unsigned users = atomic_load_explicit(&records.users, memory_order_relaxed);
    size_t share = live > 0 ? (size_t)live / SM_LARGE_CACHE_LIVE_SHARE / (users > 0 ? users : 1) : 0;
    c->room = share < room_min ? room_min : share > cache_bytes ? cache_bytes : share;
}

static sm_always_inline void update_tick(sm_large_cache_t *c)
{
    if (sm_unlikely(c->until_update == 0))
        room_update(c);
    c->until_update--;
}

/* A request the cache does not serve, to glibc, counted in the thread's
 * record: no atomic read-modify-write on a line all threads share. */
static void *system_malloc_counted(sm_large_cache_t *c, size_t n)
{
    if (n > PTRDIFF_MAX)
        return sm_fallback_malloc(n); /* ENOMEM */
    atomic_store_explicit(&c->fallback_calls,
                          atomic_load_explicit(&c->fallback_calls, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&c->fallback_bytes,
                          atomic_load_explicit(&c->fallback_bytes, memory_order_relaxed) + n,
                          memory_order_relaxed);
    return sm_fallback_malloc_uncounted(n);
}

/* The nearest of the SM_LARGE_CACHE_NEIGHBORS classes above k whose bin
 * holds a block, or k when none does. */
static unsigned nearest_larger(const sm_large_cache_t *c, unsigned k)
{
    unsigned last = k + SM_LARGE_CACHE_NEIGHBORS < NCLASSES ? k + SM_LARGE_CACHE_NEIGHBORS : NCLASSES - 1;
    for (unsigned j = k + 1; j <= last; j++)
        if (c->head[j] != NULL)
            return j;
    return k;
}

/* A block of class k from c's bin, one borrowed from the classes above,
 * or glibc's. pre: c != DEAD. */
static sm_always_inline void *cache_take(sm_large_cache_t *c, unsigned k)
{
    update_tick(c);
    if (sm_unlikely(c->head[k] == NULL))
        k = nearest_larger(c, k);
    cache_block_t *b = c->head[k];
    c->live += (ptrdiff_t)table.size[k];
    if (b == NULL)
        return system_malloc_counted(c, table.size[k]);
    c->head[k] = b->next;
    c->count[k]--;
    b->mark = 0;
    counters_add(c, -1, -(long)table.size[k]);
    atomic_store_explicit(&c->hits, atomic_load_explicit(&c->hits, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return b;
}

void *sm_large_cache_malloc(size_t n)
{
    sm_large_cache_t *c = cache_get();
    if (c == DEAD)
        return sm_fallback_malloc(n);
    if (n > SM_LARGE_CACHE_MAX)
        return system_malloc_counted(c, n);
    return cache_take(c, table.request_class[(n - 1) / 16]);
}

static bool bin_holds(const sm_large_cache_t *c, unsigned k, const cache_block_t *b)
{
    for (const cache_block_t *f = c->head[k]; f != NULL; f = f->next)
        if (f == b)
            return true;
    return false;
}

/* Abort when p, about to be freed or reallocated by func, is a block of
 * c's bin k (a double free). */
static sm_always_inline void check_not_cached(const sm_large_cache_t *c, unsigned k, const cache_block_t *b, const char *func)
{
    if (sm_unlikely(b->mark == SM_FREED_MARK) && bin_holds(c, k, b))
        sm_fatal(func, b, func[0] == 'f' ? "double free detected (block is in the large-block cache)"
                                         : "block already freed (it is in the large-block cache)");
}

/* The class a block of usable bytes goes back to, or NO_CLASS when the
 * cache does not keep such blocks. */
#define NO_CLASS UINT_MAX
static unsigned class_of_freed(size_t usable)
{
    if (usable / 16 >= USABLE_SLOTS)
        return NO_CLASS;
    return table.usable_class[usable / 16] - 1u; /* 0: none */
}

/* Keep p, of class k, in c's cache, or false (to glibc). pre: c != DEAD. */
static sm_always_inline bool cache_put(sm_large_cache_t *c, void *p, unsigned k)
{
    update_tick(c);
    size_t size = table.size[k];
    c->live -= (ptrdiff_t)size;
    if (c->count[k] >= table.limit[k])
        return false;
    if (atomic_load_explicit(&c->bytes, memory_order_relaxed) + size > c->room)
        return false;
    cache_block_t *b = p;
    b->mark = SM_FREED_MARK;
    b->next = c->head[k];
    c->head[k] = b;
    c->count[k]++;
    counters_add(c, 1, (long)size);
    return true;
}

bool sm_large_cache_free(void *p)
{
    sm_large_cache_t *c = cache_get();
    if (c == DEAD)
        return false;
    unsigned k = class_of_freed(chunk_usable(p));
    if (k == NO_CLASS)
        return false;
    check_not_cached(c, k, p, "free");
    return cache_put(c, p, k);
}

/* The request a block of usable bytes growing to n is moved to: n, or the
 * usable size and 1/GROW_DIVISOR more when that is larger,
 * within the cache's sizes (large_cache.h: a string growing by a few bytes
 * at a time moves O(log) times, not at every chunk). */
static size_t grow_target(size_t usable, size_t n)
{
    size_t roomy = usable + usable / GROW_DIVISOR;
    size_t target = n > roomy ? n : roomy;
    return target < SM_LARGE_CACHE_MAX ? target : SM_LARGE_CACHE_MAX;
}

/* The move of a growing block p of usable bytes to a block of the cache
 * (or glibc's) with headroom, p going to the cache. pre: c != DEAD,
 * usable < n <= SM_LARGE_CACHE_MAX. */
static sm_noinline void *realloc_move(sm_large_cache_t *c, void *p, size_t usable, size_t n)
{
    size_t target = grow_target(usable, n);
    if (target < SM_LARGE_CACHE_MIN)
        return sm_fallback_realloc(p, n); /* a small block of glibc's stays glibc's */
    unsigned k = class_of_freed(usable);
    if (k != NO_CLASS)
        check_not_cached(c, k, p, "realloc");
    void *q = cache_take(c, table.request_class[(target - 1) / 16]);
    if (q == NULL)
        return NULL; /* ENOMEM from glibc; p untouched */
    memcpy(q, p, usable);
    if (k == NO_CLASS || !cache_put(c, p, k))
        sm_fallback_free(p);
    return q;
}

void *sm_large_cache_realloc(void *p, size_t n)
{
    sm_large_cache_t *c = cache_get();
    size_t usable = c == DEAD ? 0 : chunk_usable(p);
    if (usable == 0 || n > SM_LARGE_CACHE_MAX)
        return sm_fallback_realloc(p, n);
    if (n > usable)
        return realloc_move(c, p, usable, n);
    if (n < usable / 2)
        return sm_fallback_realloc(p, n); /* glibc shrinks it in place */
    if (sm_unlikely(((const cache_block_t *)p)->mark == SM_FREED_MARK)) {
        unsigned k = class_of_freed(usable);
        if (k != NO_CLASS)
            check_not_cached(c, k, p, "realloc");
    }
    return p;
}

/* Every block of c back to glibc. pre: c is the caller's, or off every
 * list (taken out under the lock). */
static void record_flush(sm_large_cache_t *c)
{
    for (unsigned k = 0; k < NCLASSES; k++) {
        cache_block_t *b = c->head[k];
        c->head[k] = NULL;
        c->count[k] = 0;
        while (b != NULL) {
            cache_block_t *next = b->next;
            b->mark = 0;
            sm_fallback_free(b);
            b = next;
        }
    }
    atomic_store_explicit(&c->blocks, 0, memory_order_relaxed);
    atomic_store_explicit(&c->bytes, 0, memory_order_relaxed);
}

/* A thread that exits leaves its cache, blocks and all, at the front of
 * the free records, for the next thread to start with (at most
 * SM_LEGACY_SLOTS of them hold blocks, as the thread caches' legacies,
 * tcache.c); one left unused for a release delay is flushed by a release
 * round (sm_large_cache_release). */
void sm_large_cache_flush(bool exiting)
{
    sm_large_cache_t *c = my_cache;
    if (c == NULL || c == DEAD) {
        if (exiting)
            my_cache = DEAD;
        return;
    }
    if (!exiting) {
        record_flush(c);
        return;
    }
    my_cache = DEAD;
    c->attached = false;
    atomic_fetch_add_explicit(&records.live, c->live, memory_order_relaxed);
    c->live = 0;
    atomic_fetch_sub_explicit(&records.users, 1, memory_order_relaxed);
    /* The slot is reserved here, so two threads exiting at once cannot
     * both take the last one. */
    sm_lock(&records.lock);
    bool keep = atomic_load_explicit(&c->blocks, memory_order_relaxed) > 0 &&
                atomic_load_explicit(&records.nleft, memory_order_relaxed) < SM_LEGACY_SLOTS;
    if (keep)
        nleft_add(1);
    sm_unlock(&records.lock);
    if (!keep)
        record_flush(c);
    sm_lock(&records.lock);
    c->left_ms = sm_os_now_ms();
    c->free_next = records.free;
    records.free = c;
    sm_unlock(&records.lock);
}

/* The other threads of the parent are gone in the child: their records'
 * blocks go back to glibc (unlocked by then) and the records to the free
 * list, and the threads with a cache are the calling one or none, so the
 * room of the child's cache is reckoned on its own threads. */
void sm_large_cache_fork_child(void)
{
    unsigned users = 0;
    for (sm_large_cache_t *c = records.all; c != NULL; c = c->all_next) {
        if (!c->attached)
            continue;
        if (c == my_cache) {
            users++;
            continue;
        }
        c->attached = false;
        atomic_fetch_add_explicit(&records.live, c->live, memory_order_relaxed);
        c->live = 0;
        record_flush(c);
        c->left_ms = sm_os_now_ms();
        c->free_next = records.free;
        records.free = c;
    }
    atomic_store_explicit(&records.users, users, memory_order_relaxed);
}

void sm_large_cache_release(uint64_t now_ms, uint64_t delay_ms)
{
    if (atomic_load_explicit(&records.nleft, memory_order_relaxed) == 0)
        return;
    sm_large_cache_t *old[SM_LEGACY_SLOTS];
    unsigned n = 0;
    sm_lock(&records.lock);
    for (sm_large_cache_t **link = &records.free; *link != NULL && n < SM_LEGACY_SLOTS;) {
        sm_large_cache_t *c = *link;
        if (atomic_load_explicit(&c->blocks, memory_order_relaxed) > 0 && now_ms - c->left_ms >= delay_ms) {
            *link = c->free_next; /* off the list while its blocks go back */
            old[n++] = c;
            nleft_add(-1);
        } else {
            link = &c->free_next;
        }
    }
    sm_unlock(&records.lock);
    for (unsigned i = 0; i < n; i++)
        record_flush(old[i]);
    sm_lock(&records.lock);
    for (unsigned i = 0; i < n; i++) {
        old[i]->free_next = records.free;
        records.free = old[i];
    }
    sm_unlock(&records.lock);
}

bool sm_large_cache_has_left(void)
{
    return atomic_load_explicit(&records.nleft, memory_order_relaxed) != 0;
}

sm_lock_t *sm_large_cache_lock(void)
{
    return &records.lock;
}

void sm_large_cache_fallback_totals(size_t *calls, size_t *bytes)
{
    size_t nc = 0, nb = 0;
    sm_lock(&records.lock);
    for (sm_large_cache_t *c = records.all; c != NULL; c = c->all_next) {
        nc += atomic_load_explicit(&c->fallback_calls, memory_order_relaxed);
        nb += atomic_load_explicit(&c->fallback_bytes, memory_order_relaxed);
    }
    sm_unlock(&records.lock);
    *calls = nc;
    *bytes = nb;
}

void sm_large_cache_totals(size_t *hits, size_t *blocks, size_t *bytes)
{
    size_t nh = 0, nb = 0, nbytes = 0;
    sm_lock(&records.lock);
    for (sm_large_cache_t *c = records.all; c != NULL; c = c->all_next) {
        nh += atomic_load_explicit(&c->hits, memory_order_relaxed);
        nb += atomic_load_explicit(&c->blocks, memory_order_relaxed);
        nbytes += atomic_load_explicit(&c->bytes, memory_order_relaxed);
    }
    sm_unlock(&records.lock);
    *hits = nh;
    *blocks = nb;
    *bytes = nbytes;
}
