/*
 * The stress engine (see stress.h).
 *
 * A slot holds a block as one word, swapped with atomic exchanges, so a
 * block belongs to exactly one thread between taking it out and putting it
 * back: the one that checks it, resizes it or frees it.
 *
 *   slot word:  pointer | tag      tag 1..7: a tiny block of tag bytes
 *                                  (malloc family), filled from its address
 *                                  tag 0: a block of 8 bytes or more whose
 *                                  first word is its header:
 *   header:     [ seed (47 bits) | api (1 bit) | size (16 bits) ]
 *   block:      [ header | pattern(seed), size - 8 bytes ]
 *
 * seed = worker id << 32 | that worker's block counter, so every block's
 * bytes depend on the thread that wrote them and when; api says which
 * family made it (1: smalloc_*), so it is freed by the matching call.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <smalloc.h>

#include "stress.h"
#include "support.h"

#define MAX_SIZE 20000        /* largest request; fits the 16-bit size */
#define HOARD 64              /* blocks a worker keeps to itself */
#define ORPHAN_SLOTS 4096     /* blocks left by exited workers */
#define MAX_REPORTS 20        /* corruption lines printed per process */

/* Process-wide state; a fork child works on its copy. */
static struct {
    _Atomic uintptr_t *slots;
    unsigned nslots;
    _Atomic uintptr_t orphans[ORPHAN_SLOTS];
    _Atomic int stop;
    _Atomic unsigned next_id;
    _Atomic uint64_t corruptions, checks, orphaned, reports;
} G;

struct worker {
    pthread_t tid;
    unsigned id;
    uint64_t rng;
    uint64_t budget;          /* operations left before exiting */
    uint32_t counter;         /* blocks made, for seeds */
    _Atomic int done;
    uintptr_t hoard[HOARD];
    uint64_t ops, mallocs, callocs, reallocs, aligned, frees;
};

/* ---- random numbers (the byte patterns are support.h's) ----------------- */

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t rnd(struct worker *w)
{
    w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull;
    return mix(w->rng);
}

/* ---- corruption reports (no allocation: also used in fork children) ---- */

static void report(const char *where, const char *what, const void *p, size_t size, long detail)
{
    atomic_fetch_add(&G.corruptions, 1);
    if (atomic_fetch_add(&G.reports, 1) >= MAX_REPORTS)
        return;
    char line[256];
    int n = snprintf(line, sizeof line, "stress: CORRUPTION (pid %d): %s: %s: block %p, size %zu, %ld\n",
                     (int)getpid(), where, what, p, size, detail);
    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

/* ---- blocks ------------------------------------------------------------ */

struct block {
    unsigned char *p;
    size_t size;
    int api;       /* made by smalloc_*: freed by smalloc_free */
    int tiny;
    uint64_t seed;
    uint64_t header;
};

static uintptr_t encode(struct worker *w, unsigned char *p, size_t size, int api)
{
    if (size < 8) {
        fill_pattern(p, size, (uintptr_t)p);
        return (uintptr_t)p | size;
    }
    uint64_t seed = ((uint64_t)w->id << 32) | w->counter++;
    uint64_t header = size | (uint64_t)api << 16 | seed << 17;
    memcpy(p, &header, 8);
    fill_pattern(p + 8, size - 8, seed);
    return (uintptr_t)p;
}

/* Decode and check a block taken out of a slot. 0: corrupt (leave it). */
static __thread uint64_t checks; /* folded into G.checks by each thread */

static void checks_fold(void)
{
    atomic_fetch_add(&G.checks, checks);
    checks = 0;
}

static int verify(uintptr_t v, struct block *b, const char *where)
{
    checks++;
    unsigned tag = v & 7;
    b->p = (unsigned char *)(v & ~(uintptr_t)7);
    if (tag != 0) {
        b->size = tag;
        b->api = 0;
        b->tiny = 1;
        b->seed = (uintptr_t)b->p;
    } else {
        memcpy(&b->header, b->p, 8);
        b->size = b->header & 0xffff;
        b->api = (b->header >> 16) & 1;
        b->tiny = 0;
        b->seed = b->header >> 17;
        unsigned owner = (unsigned)(b->seed >> 32);
        if (b->size < 8 || b->size > MAX_SIZE || owner >= atomic_load(&G.next_id)) {
            report(where, "bad header (size, owner id)", b->p, b->size, (long)owner);
            return 0;
        }
    }
    size_t usable = smalloc_usable_size(b->p);
    if (usable < b->size) {
        report(where, "usable size below the size asked", b->p, b->size, (long)usable);
        return 0;
    }
    long bad = b->tiny ? check_pattern(b->p, b->size, b->seed)
                       : check_pattern(b->p + 8, b->size - 8, b->seed);
    if (bad >= 0) {
        report(where, "pattern broken at byte", b->p, b->size, b->tiny ? bad : bad + 8);
        return 0;
    }
    return 1;
}

static size_t pick_size(struct worker *w)
{
    unsigned r = rnd(w) % 100;
    if (r < 5)
        return 1 + rnd(w) % 7;
    if (r < 60)
        return 8 + rnd(w) % 121;
    if (r < 88)
        return 129 + rnd(w) % 384;
    if (r < 98)
        return 513 + rnd(w) % 3584;
    return 4097 + rnd(w) % (MAX_SIZE - 4096);
}

enum kind { K_MALLOC, K_CALLOC, K_ALIGNED };

/* A new block, filled; 0 if the allocator refused (counted as corrupt:
 * the stress never comes near running out of memory). */
static uintptr_t make(struct worker *w, enum kind kind)
{
    size_t size = pick_size(w);
    int api = size >= 8 && (rnd(w) & 1);
    unsigned char *p = NULL;
    switch (kind) {
    case K_MALLOC:
        w->mallocs++;
        p = api ? smalloc_malloc(size) : malloc(size);
        break;
    case K_CALLOC: {
        w->callocs++;
        size_t elem = (size % 4 == 0 && (rnd(w) & 1)) ? 4 : 1;
        p = api ? smalloc_calloc(size / elem, elem) : calloc(size / elem, elem);
        if (p != NULL) {
            for (size_t i = 0; i < size; i++) {
                if (p[i] != 0) {
                    report("calloc", "dirty byte at", p, size, (long)i);
                    break;
                }
            }
        }
        break;
    }
    case K_ALIGNED: {
        w->aligned++;
        size_t align = (size_t)8 << (rnd(w) % 10); /* 8 .. 4096 */
        void *q = NULL;
        switch (rnd(w) % 3) {
        case 0:
            if ((api ? smalloc_posix_memalign(&q, align, size) : posix_memalign(&q, align, size)) != 0)
                q = NULL;
            break;
        case 1:
            q = api ? smalloc_aligned_alloc(align, size) : aligned_alloc(align, size);
            break;
        default:
            q = api ? smalloc_memalign(align, size) : memalign(align, size);
            break;
        }
        p = q;
        if (p != NULL && (uintptr_t)p % align != 0)
            report("aligned allocation", "not aligned to", p, size, (long)align);
        break;
    }
    }
    if (p == NULL) {
        report("allocation", "failed with errno", NULL, size, errno);
        return 0;
    }
    return encode(w, p, size, api);
}

static void release(struct worker *w, const struct block *b)
{
    w->frees++;
    if (rnd(w) % 4 == 0) {
        void *r = b->api ? smalloc_realloc(b->p, 0) : realloc(b->p, 0);
        if (r != NULL)
            report("realloc(p, 0)", "returned a block", r, b->size, 0);
    } else if (b->api) {
        smalloc_free(b->p);
    } else {
        free(b->p);
    }
}

/* Check and free whatever a slot held. */
static void dispose(struct worker *w, uintptr_t v, const char *where)
{
    struct block b;
    if (v != 0 && verify(v, &b, where))
        release(w, &b);
}

/* Resize a checked block; the old contents must survive up to the smaller
 * size. Returns the re-encoded block, or the old one if realloc refused. */
static uintptr_t resize(struct worker *w, const struct block *b)
{
    w->reallocs++;
    size_t n = pick_size(w);
    if (b->api && n < 8)
        n = 8;
    size_t elem = (n % 8 == 0) ? 8 : (n % 2 == 0) ? 2 : 1;
    unsigned char *q;
    if (rnd(w) & 1)
        q = b->api ? smalloc_reallocarray(b->p, n / elem, elem) : reallocarray(b->p, n / elem, elem);
    else
        q = b->api ? smalloc_realloc(b->p, n) : realloc(b->p, n);
    if (q == NULL) {
        report("realloc", "failed with errno", b->p, n, errno);
        return 0;
    }
    size_t keep = b->size < n ? b->size : n;
    long bad = -1;
    if (b->tiny) {
        bad = check_pattern(q, keep, b->seed);
    } else if (memcmp(q, &b->header, keep < 8 ? keep : 8) != 0) {
        bad = 0;
    } else if (keep > 8) {
        long d = check_pattern(q + 8, keep - 8, b->seed);
        bad = d < 0 ? -1 : d + 8;
    }
    if (bad >= 0)
        report("realloc", "contents lost at byte", q, keep, bad);
    return encode(w, q, n, b->api);
}

/* ---- operations -------------------------------------------------------- */

static _Atomic uintptr_t *slot_of(struct worker *w)
{
    return &G.slots[rnd(w) % G.nslots];
}

static void put(struct worker *w, _Atomic uintptr_t *slot, uintptr_t v)
{
    uintptr_t old = atomic_exchange_explicit(slot, v, memory_order_acq_rel);
    dispose(w, old, "block found in a slot");
}

/* Many blocks of one size made and freed by one thread at once: bins fill,
 * flush and refill. */
static void burst(struct worker *w)
{
    enum { MAXB = 128 };
    uintptr_t v[MAXB];
    size_t size = 8 + rnd(w) % 505;
    unsigned k = 16 + (unsigned)(rnd(w) % (MAXB - 15));
    for (unsigned i = 0; i < k; i++) {
        unsigned char *p = malloc(size);
        w->mallocs++;
        if (p == NULL) {
            report("allocation", "failed with errno", NULL, size, errno);
            k = i;
            break;
        }
        v[i] = encode(w, p, size, 0);
    }
    int forward = rnd(w) & 1;
    for (unsigned j = 0; j < k; j++) {
        unsigned i = forward ? j : k - 1 - j;
        dispose(w, v[i], "burst block");
    }
}

static void hoard_op(struct worker *w)
{
    unsigned i = (unsigned)(rnd(w) % HOARD);
    dispose(w, w->hoard[i], "hoarded block");
    w->hoard[i] = make(w, (enum kind)(rnd(w) % 3));
}

static void one_op(struct worker *w)
{
    unsigned r = (unsigned)(rnd(w) % 100);
    w->ops++;
    if (r < 30) {
        put(w, slot_of(w), make(w, K_MALLOC));
    } else if (r < 40) {
        put(w, slot_of(w), make(w, K_CALLOC));
    } else if (r < 48) {
        put(w, slot_of(w), make(w, K_ALIGNED));
    } else if (r < 63) {
        _Atomic uintptr_t *slot = slot_of(w);
        uintptr_t v = atomic_exchange_explicit(slot, 0, memory_order_acq_rel);
        struct block b;
        if (v != 0 && verify(v, &b, "block to resize"))
            put(w, slot, resize(w, &b));
    } else if (r < 90) {
        dispose(w, atomic_exchange_explicit(slot_of(w), 0, memory_order_acq_rel), "block to free");
    } else if (r < 96) {
        hoard_op(w);
    } else {
        burst(w);
    }
}

/* Take over blocks that exited workers left behind. */
static void adopt(struct worker *w)
{
    unsigned start = (unsigned)(rnd(w) % ORPHAN_SLOTS);
    for (unsigned i = 0, got = 0; i < ORPHAN_SLOTS && got < HOARD / 2; i++) {
        uintptr_t v = atomic_exchange_explicit(&G.orphans[(start + i) % ORPHAN_SLOTS], 0, memory_order_acq_rel);
        if (v == 0)
            continue;
        struct block b;
        if (verify(v, &b, "orphan block"))
            w->hoard[got] = v;
        got++;
    }
}

/* Leave the hoard live for others; free what finds no orphan slot. */
static void abandon(struct worker *w)
{
    unsigned start = (unsigned)(rnd(w) % ORPHAN_SLOTS);
    for (unsigned h = 0; h < HOARD; h++) {
        uintptr_t v = w->hoard[h];
        if (v == 0)
            continue;
        for (unsigned i = 0; i < ORPHAN_SLOTS && v != 0; i++) {
            uintptr_t expected = 0;
            if (atomic_compare_exchange_strong(&G.orphans[(start + h + i) % ORPHAN_SLOTS], &expected, v)) {
                atomic_fetch_add(&G.orphaned, 1);
                v = 0;
            }
        }
        dispose(w, v, "hoarded block at exit");
        w->hoard[h] = 0;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    adopt(w);
    while (w->budget > 0) {
        for (unsigned i = 0; i < 64 && w->budget > 0; i++, w->budget--)
            one_op(w);
        if (atomic_load_explicit(&G.stop, memory_order_relaxed))
            break;
    }
    abandon(w);
    checks_fold();
    atomic_store_explicit(&w->done, 1, memory_order_release);
    return NULL;
}

static void worker_start(struct worker *w, uint64_t seed, const struct stress_config *cfg)
{
    memset(w, 0, sizeof *w);
    w->id = atomic_fetch_add(&G.next_id, 1);
    w->rng = mix(seed ^ mix(w->id));
    uint64_t span = cfg->ops_max > cfg->ops_min ? cfg->ops_max - cfg->ops_min : 0;
    w->budget = cfg->ops_min + (span ? rnd(w) % (span + 1) : 0);
    if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
        report("pthread_create", "failed", NULL, 0, 0);
        atomic_store(&w->done, 2); /* nothing to join */
    }
}

static void worker_join(struct worker *w, struct stress_report *r)
{
    if (atomic_load(&w->done) != 2)
        pthread_join(w->tid, NULL);
    r->operations += w->ops;
    r->mallocs += w->mallocs;
    r->callocs += w->callocs;
    r->reallocs += w->reallocs;
    r->aligned += w->aligned;
    r->frees += w->frees;
}

/* Check and free every block left in the slots and the orphan list. */
static void drain_all(struct worker *w)
{
    for (unsigned i = 0; i < G.nslots; i++)
        dispose(w, atomic_exchange(&G.slots[i], 0), "block left at the end");
    for (unsigned i = 0; i < ORPHAN_SLOTS; i++)
        dispose(w, atomic_exchange(&G.orphans[i], 0), "orphan left at the end");
}

/* ---- fork -------------------------------------------------------------- */

/* The child: only this thread exists; the other workers' blocks are in the
 * slots as they were at fork time. */
static int child_main(uint64_t seed)
{
    alarm(30); /* a lock inherited held would hang the child: die instead */
    uint64_t before = atomic_load(&G.corruptions);
    struct block b;
    for (unsigned i = 0; i < G.nslots; i++) {
        uintptr_t v = atomic_load(&G.slots[i]);
        if (v != 0)
            verify(v, &b, "inherited block (fork child)");
    }
    /* Allocate and free from the child, on two new threads. */
    atomic_store(&G.stop, 0);
    static struct worker kids[2];
    struct stress_config small = {.ops_min = 5000, .ops_max = 5000};
    for (int i = 0; i < 2; i++)
        worker_start(&kids[i], seed + (uint64_t)i, &small);
    struct stress_report ignored = {0};
    for (int i = 0; i < 2; i++)
        worker_join(&kids[i], &ignored);
    struct worker self;
    memset(&self, 0, sizeof self);
    self.id = atomic_fetch_add(&G.next_id, 1);
    self.rng = mix(seed);
    drain_all(&self);
    checks_fold();
    return atomic_load(&G.corruptions) == before ? 0 : 3;
}

static void fork_once(uint64_t seed, struct stress_report *r)
{
    pid_t pid = fork();
    if (pid < 0) {
        report("fork", "failed with errno", NULL, 0, errno);
        return;
    }
    if (pid == 0)
        _exit(child_main(seed));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    r->forks++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        r->fork_failures++;
        char line[160];
        int n = snprintf(line, sizeof line, "stress: fork child %d %s %d\n", (int)pid,
                         WIFSIGNALED(status) ? "killed by signal" : "exited with", WIFSIGNALED(status)
                             ? WTERMSIG(status) : WEXITSTATUS(status));
        if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
            return;
    }
}

/* ---- the supervisor ---------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void stress_defaults(struct stress_config *cfg, double seconds)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seconds = seconds;
    cfg->threads = 4;
    cfg->seed = 1;
    cfg->slots = 8192;
    cfg->fork_ms = 250;
    cfg->ops_min = 20000;
    cfg->ops_max = 400000;
}

int stress_run(const struct stress_config *cfg, struct stress_report *r)
{
    memset(r, 0, sizeof *r);
    G.nslots = cfg->slots ? cfg->slots : 1;
    G.slots = calloc(G.nslots, sizeof *G.slots);
    if (G.slots == NULL)
        return -1;
    for (unsigned i = 0; i < ORPHAN_SLOTS; i++)
        atomic_store(&G.orphans[i], 0);
    atomic_store(&G.stop, 0);
    atomic_store(&G.next_id, 1);
    atomic_store(&G.corruptions, 0);
    atomic_store(&G.checks, 0);
    atomic_store(&G.orphaned, 0);
    atomic_store(&G.reports, 0);

    unsigned nthreads = cfg->threads ? cfg->threads : 1;
    struct worker *workers = calloc(nthreads, sizeof *workers);
    if (workers == NULL)
        return -1;
    uint64_t seed = cfg->seed;
    double start = now_seconds(), end = start + cfg->seconds;
    double next_fork = start + cfg->fork_ms / 1000.0, next_progress = start + 10;
    for (unsigned i = 0; i < nthreads; i++) {
        worker_start(&workers[i], seed, cfg);
        r->threads_started++;
    }
    for (;;) {
        double now = now_seconds();
        if (now >= end)
            break;
        for (unsigned i = 0; i < nthreads; i++) {
            if (atomic_load_explicit(&workers[i].done, memory_order_acquire)) {
                worker_join(&workers[i], r);
                r->threads_replaced++;
                worker_start(&workers[i], seed, cfg);
                r->threads_started++;
            }
        }
        if (cfg->fork_ms != 0 && now >= next_fork) {
            fork_once(mix(seed ^ (uint64_t)r->forks), r);
            next_fork = now_seconds() + cfg->fork_ms / 1000.0;
        }
        if (cfg->progress != NULL && now >= next_progress) {
            fprintf(cfg->progress, "stress: %.0f s, %llu threads started, %llu forks, %llu corruptions\n",
                    now - start, (unsigned long long)r->threads_started, (unsigned long long)r->forks,
                    (unsigned long long)atomic_load(&G.corruptions));
            fflush(cfg->progress);
            next_progress += 10;
        }
        struct timespec nap = {0, 5 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    atomic_store(&G.stop, 1);
    for (unsigned i = 0; i < nthreads; i++)
        worker_join(&workers[i], r);
    r->seconds = now_seconds() - start;

    struct worker self;
    memset(&self, 0, sizeof self);
    self.id = atomic_fetch_add(&G.next_id, 1);
    self.rng = mix(seed + 12345);
    drain_all(&self);
    checks_fold();
    r->frees += self.frees;
    free(workers);
    free((void *)G.slots);
    G.slots = NULL;
    smalloc_collect();

    r->orphans = atomic_load(&G.orphaned);
    r->checks = atomic_load(&G.checks);
    r->corruptions = atomic_load(&G.corruptions);
    return r->corruptions == 0 && r->fork_failures == 0 ? 0 : 1;
}

void stress_print(FILE *f, const struct stress_config *cfg, const struct stress_report *r)
{
    fprintf(f, "stress: seed %llu, %u threads at a time, %.1f s (asked %.1f s)\n",
            (unsigned long long)cfg->seed, cfg->threads, r->seconds, cfg->seconds);
    fprintf(f, "stress: %llu operations: %llu malloc, %llu calloc, %llu realloc, %llu aligned, %llu free\n",
            (unsigned long long)r->operations, (unsigned long long)r->mallocs, (unsigned long long)r->callocs,
            (unsigned long long)r->reallocs, (unsigned long long)r->aligned, (unsigned long long)r->frees);
    fprintf(f, "stress: %llu threads started (%llu exited and were replaced), %llu blocks left live by "
               "exiting threads\n",
            (unsigned long long)r->threads_started, (unsigned long long)r->threads_replaced,
            (unsigned long long)r->orphans);
    fprintf(f, "stress: %llu forks, %llu children failed\n", (unsigned long long)r->forks,
            (unsigned long long)r->fork_failures);
    fprintf(f, "stress: %llu blocks checked, corruptions found: %llu\n", (unsigned long long)r->checks,
            (unsigned long long)r->corruptions);
}
