/*
 * libsmalloc_trace.so: an LD_PRELOAD shim that records malloc, calloc,
 * realloc, reallocarray and free calls of a program into SMALLOC_TRACE=FILE
 * (format in trace.h) and forwards every call to glibc (__libc_malloc ...).
 *
 *   SMALLOC_TRACE=/tmp/py.trace PYTHONMALLOC=malloc \
 *     LD_PRELOAD=build/bench/libsmalloc_trace.so /usr/bin/python3 script.py
 *
 * SMALLOC_TRACE_MAX=N stops recording after N events (default 3,000,000);
 * the program runs on unrecorded. Without SMALLOC_TRACE the shim only
 * forwards.
 *
 * Never allocates: the pointer -> id table, the id stack and the output
 * buffer are mmap'd or static, output goes through write(2). One spin lock
 * covers the table and the buffer; a free is recorded before glibc frees the
 * block and a malloc after glibc returns it, and realloc holds the lock
 * across the call, so another thread can never be handed an address that is
 * still mapped to a live id. Only the process that loaded the shim records:
 * a forked child stops (pthread_atfork). An exec'd child would load the shim
 * again and truncate the file: record programs that do not spawn others.
 */
#define _GNU_SOURCE
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

#define EXPORT __attribute__((visibility("default")))

#define TABLE_BITS 23                       /* 8M entries: 4M live blocks max */
#define TABLE_SIZE ((size_t)1 << TABLE_BITS)
#define TABLE_MAX_LIVE (TABLE_SIZE / 2)
#define OUT_SIZE (1u << 20)
#define DEFAULT_MAX_EVENTS 3000000ull

struct entry {
    uintptr_t key; /* block address, 0 = empty */
    uint64_t id;
};

static struct {
    atomic_flag lock;
    int on;                /* recording; written under the lock */
    int fd;
    uint64_t max_events;
    uint64_t events;
    uint64_t dropped;
    uint64_t live;
    struct trace_ids ids;  /* same rule as the replayer's */
    struct entry *table;   /* linear probing, backward-shift deletion */
    size_t out_len;
    unsigned char *out;    /* out_buf */
} tr = { .lock = ATOMIC_FLAG_INIT, .fd = -1 };

static unsigned char out_buf[OUT_SIZE]; /* in .bss, not in the file */

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&tr.lock, memory_order_acquire))
        __builtin_ia32_pause();
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&tr.lock, memory_order_release);
}

static void say(const char *msg)
{
    ssize_t r = write(2, msg, strlen(msg));
    (void)r;
}

/* ---- output ---------------------------------------------------------- */

static void out_flush(void)
{
    size_t off = 0;
    while (off < tr.out_len) {
        ssize_t w = write(tr.fd, tr.out + off, tr.out_len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            say("smalloc_trace: write failed, recording stopped\n");
            tr.on = 0;
            break;
        }
        off += (size_t)w;
    }
    tr.out_len = 0;
}

static void out_varint(uint64_t v)
{
    while (v >= 0x80) {
        tr.out[tr.out_len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tr.out[tr.out_len++] = (unsigned char)v;
}

/* One event (trace.h): malloc/calloc carry the size only, free the id,
 * realloc both. pre: lock held, tr.on. */
static void out_event(enum trace_op op, uint64_t id, uint64_t size)
{
    if (tr.out_len > OUT_SIZE - 32)
        out_flush();
    if (op == TRACE_MALLOC || op == TRACE_CALLOC) {
        out_varint(size << 2 | (uint64_t)op);
    } else {
        out_varint(id << 2 | (uint64_t)op);
        if (op == TRACE_REALLOC)
            out_varint(size);
    }
    if (++tr.events >= tr.max_events)
        tr.on = 0;
}

/* ---- pointer -> id ---------------------------------------------------- */

static size_t slot_of(uintptr_t key)
{
    uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> (64 - TABLE_BITS));
}

/* Record the live block at key under id. pre: lock held. */
static void table_put(uintptr_t key, uint64_t id)
{
    size_t i = slot_of(key);
    while (tr.table[i].key != 0)
        i = (i + 1) & (TABLE_SIZE - 1);
    tr.table[i].key = key;
    tr.table[i].id = id;
    tr.live++;
}

/* The id of a new live block at key. pre: lock held. */
static uint64_t table_insert(uintptr_t key)
{
    uint64_t id = trace_id_take(&tr.ids);
    table_put(key, id);
    return id;
}

/* Remove key; its id, or UINT64_MAX when key is not a recorded block.
 * recycle = 0 keeps the id out of the free stack (realloc moves it). */
static uint64_t table_remove(uintptr_t key, int recycle)
{
    size_t i = slot_of(key);
    while (tr.table[i].key != key) {
        if (tr.table[i].key == 0)
            return UINT64_MAX;
        i = (i + 1) & (TABLE_SIZE - 1);
    }
    uint64_t id = tr.table[i].id;
    /* Backward-shift deletion: pull later entries of the run into the hole
     * when their home slot is not after the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & (TABLE_SIZE - 1); tr.table[j].key != 0;
         j = (j + 1) & (TABLE_SIZE - 1)) {
        size_t home = slot_of(tr.table[j].key);
        if (((j - home) & (TABLE_SIZE - 1)) >= ((j - hole) & (TABLE_SIZE - 1))) {
            tr.table[hole] = tr.table[j];
            hole = j;
        }
    }
    tr.table[hole].key = 0;
    tr.live--;
    if (recycle)
        trace_id_give(&tr.ids, id);
    return id;
}

/* Re-key a live block after realloc moved it; same id. pre: lock held. */
static void table_rekey(uint64_t id, uintptr_t key)
{
    table_put(key, id);
}

/* ---- recording --------------------------------------------------------- */

static int recording(void)
{
    if (!tr.on)
        return 0;
    if (tr.live >= TABLE_MAX_LIVE) {
        tr.on = 0;
        return 0;
    }
    return 1;
}

static void record_alloc(enum trace_op op, void *p, size_t size)
{
    if (p == NULL)
        return;
    lock();
    if (recording())
        out_event(op, table_insert((uintptr_t)p), size);
    unlock();
}

EXPORT void *malloc(size_t size)
{
    void *p = __libc_malloc(size);
    if (tr.on)
        record_alloc(TRACE_MALLOC, p, size);
    return p;
}

EXPORT void *calloc(size_t count, size_t size)
{
    void *p = __libc_calloc(count, size);
    if (tr.on)
        record_alloc(TRACE_CALLOC, p, count * size); /* no overflow: p != NULL */
    return p;
}

EXPORT void free(void *p)
{
    if (p != NULL && tr.on) {
        lock();
        if (recording()) {
            uint64_t id = table_remove((uintptr_t)p, 1);
            if (id == UINT64_MAX)
                tr.dropped++;
            else
                out_event(TRACE_FREE, id, 0);
        }
        unlock();
    }
    __libc_free(p);
}

EXPORT void *realloc(void *p, size_t size)
{
    if (!tr.on)
        return __libc_realloc(p, size);
    if (p == NULL) {
        void *q = __libc_realloc(NULL, size);
        record_alloc(TRACE_MALLOC, q, size);
        return q;
    }
    lock();
    void *q = __libc_realloc(p, size);
    if (recording()) {
        if (q == NULL && size != 0) {
            /* failed: p is still live and unchanged */
        } else if (q == NULL) {
            /* realloc(p, 0) freed p */
            uint64_t id = table_remove((uintptr_t)p, 1);
            if (id == UINT64_MAX)
                tr.dropped++;
            else
                out_event(TRACE_FREE, id, 0);
        } else {
            uint64_t id = table_remove((uintptr_t)p, 0);
            if (id == UINT64_MAX) {
                /* p came from before the recording: start q as a malloc */
                tr.dropped++;
                out_event(TRACE_MALLOC, table_insert((uintptr_t)q), size);
            } else {
                table_rekey(id, (uintptr_t)q);
                out_event(TRACE_REALLOC, id, size);
            }
        }
    }
    unlock();
    return q;
}

EXPORT void *reallocarray(void *p, size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

/* ---- start and finish ------------------------------------------------- */

static uint64_t parse_u64(const char *s, uint64_t dflt)
{
    if (s == NULL || *s == '\0')
        return dflt;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    return v ? v : dflt;
}

/* In a forked child: stop, and leave the file to the parent. */
static void trace_forked(void)
{
    tr.on = 0;
    tr.fd = -1;
    atomic_flag_clear_explicit(&tr.lock, memory_order_relaxed);
}

__attribute__((constructor)) static void trace_start(void)
{
    const char *path = getenv("SMALLOC_TRACE");
    if (path == NULL || *path == '\0')
        return;
    tr.max_events = parse_u64(getenv("SMALLOC_TRACE_MAX"), DEFAULT_MAX_EVENTS);
    tr.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (tr.fd < 0) {
        say("smalloc_trace: cannot open SMALLOC_TRACE, not recording\n");
        return;
    }
    tr.table = mmap(NULL, TABLE_SIZE * sizeof(struct entry), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    tr.ids.stack = mmap(NULL, TABLE_MAX_LIVE * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (tr.table == MAP_FAILED || tr.ids.stack == MAP_FAILED) {
        say("smalloc_trace: mmap failed, not recording\n");
        close(tr.fd);
        tr.fd = -1;
        return;
    }
    struct trace_header h = { .magic = TRACE_MAGIC };
    tr.out = out_buf;
    memcpy(tr.out, &h, sizeof(h)); /* real counts are written at exit */
    tr.out_len = sizeof(h);
    pthread_atfork(NULL, NULL, trace_forked);
    tr.on = 1;
}

__attribute__((destructor)) static void trace_finish(void)
{
    if (tr.fd < 0)
        return;
    lock();
    tr.on = 0;
    out_flush();
    struct trace_header h = { .magic = TRACE_MAGIC };
    h.events = tr.events;
    h.slots = tr.ids.next;
    h.dropped = tr.dropped;
    if (pwrite(tr.fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
        say("smalloc_trace: cannot write the header\n");
    close(tr.fd);
    tr.fd = -1;
    char msg[160];
    snprintf(msg, sizeof(msg), "smalloc_trace: %llu events, %llu slots, %llu dropped\n",
             (unsigned long long)h.events, (unsigned long long)h.slots,
             (unsigned long long)h.dropped);
    say(msg);
    unlock();
}
