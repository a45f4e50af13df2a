/*
 * The runtime debug mode (see debug.h for the routing and the block
 * layout): debug blocks, their checks, the quarantine of freed blocks and
 * the reports. The registry of system-backed blocks is debug_registry.c,
 * allocation backtraces and the stack test debug_trace.c.
 *
 * One lock (debug_lock) guards the quarantine, the registry and the totals;
 * it is never held while calling into the pools or the system malloc, so
 * it nests with no other lock. Debug mode is for finding bugs, not speed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "debug.h"
#include "debug_registry.h"
#include "debug_trace.h"
#include "error.h"
#include "fallback.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "pool.h"
#include "size_class.h"
#include "space.h"

#define DEBUG_GUARD 8     /* guard bytes before the block, and at least after */
#define DEBUG_ALIGN 16    /* alignment of every debug block */

#define BYTE_GUARD 0xfd   /* CPython's FORBIDDENBYTE */
#define BYTE_CLEAN 0xcd   /* new memory (CLEANBYTE) */
#define BYTE_DEAD 0xdd    /* freed memory (DEADBYTE) */

#define MAGIC_LIVE 0xa110c8edu
#define MAGIC_FREED 0xf4eeb10cu

/* A freed block stays out of use until this many blocks or bytes were
 * freed after it. */
#define QUARANTINE_SLOTS 4096
#define QUARANTINE_BYTES ((size_t)32 << 20)

typedef struct debug_header {
    uintptr_t link;  /* pool block: the pool's free-list link while the block is
                        back in its pool; system block: bytes from the system
                        block's start to this header */
    uint32_t magic;  /* MAGIC_LIVE or MAGIC_FREED */
    uint8_t cls;     /* class a normal run gives the request; SM_CLASS_NONE */
    uint8_t system;  /* 1: from the system malloc, 0: a pool block */
    uint16_t unused;
    size_t size;     /* bytes requested */
    void *trace[SM_DEBUG_TRACE]; /* allocation site, innermost first */
    uint8_t front[DEBUG_GUARD]; /* BYTE_GUARD */
} debug_header_t;

#define HDR sizeof(debug_header_t)
_Static_assert(sizeof(debug_header_t) == 64, "the header keeps blocks 16-byte aligned");

_Atomic unsigned char sm_g_debug_route = 1;

static sm_lock_t debug_lock = SM_LOCK_INITIALIZER;

static struct {
    void *ring[QUARANTINE_SLOTS]; /* program pointers, oldest at head */
    size_t head, count, bytes;
} quarantine;

static struct sm_debug_totals totals;

/* ---- start-up ---------------------------------------------------------- */

bool sm_debug_on(void)
{
    /* Only the initialising thread, re-entering, can get here before the
     * options are parsed (start-up allocates nothing before that): decide
     * nothing then. */
    if (sm_options_parsed && !sm_opt.debug)
        atomic_store_explicit(&sm_g_debug_route, 0, memory_order_relaxed);
    return sm_opt.debug;
}

sm_lock_t *sm_debug_lock(void)
{
    return &debug_lock;
}

/* backtrace() loads libgcc_s (and allocates) the first time it runs: do it
 * here, once, after libc is up, rather than inside some malloc called from
 * the dynamic loader. Blocks allocated before this have no backtrace. */
void sm_debug_start(void)
{
    if (!sm_debug_on())
        return;
    sm_debug_trace_start((const void *)(uintptr_t)&sm_debug_malloc);
}

/* ---- reports ----------------------------------------------------------- */

/* "smalloc: debug: <func>(): <what>", the block, the byte hit (when
 * has_offset), where it was allocated; then abort(). h may be NULL. */
static void sm_noreturn sm_cold report(const char *func, const char *what, const void *p,
                                       const debug_header_t *h, bool has_offset, ptrdiff_t offset,
                                       unsigned found, unsigned expected)
{
    sm_say("debug: %s(): %s", func, what);
    if (h != NULL)
        sm_say("  pointer %p, %zu bytes requested", p, h->size);
    else
        sm_say("  pointer %p", p);
    if (has_offset)
        sm_say("  byte offset %zd: 0x%x found, 0x%x expected", offset, found, expected);
    if (h != NULL)
        sm_debug_trace_print(h->trace);
    abort();
}

void sm_debug_invalid(const char *func, const void *p)
{
    report(func, "pointer not returned by libsmalloc (no live block starts there)", p, NULL,
           false, 0, 0, 0);
}


/* ---- blocks ------------------------------------------------------------ */

static char *user_of(debug_header_t *h)
{
    return (char *)h + HDR;
}

static size_t pool_block_size(const debug_header_t *h)
{
    return sm_class_size(sm_pool_of((uintptr_t)h)->cls);
}

static size_t tail_len(const debug_header_t *h)
{
    return h->system ? DEBUG_GUARD : pool_block_size(h) - HDR - h->size;
}

static unsigned class_for(const uint8_t *table, size_t n)
{
    return n <= SM_SMALL_MAX ? (unsigned)sm_size_class_of(table, n) : SM_CLASS_NONE;
}

static void *debug_alloc(size_t n, sm_cls_t cls, size_t align, bool zero)
{
    if (n > PTRDIFF_MAX / 2) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = HDR + n + DEBUG_GUARD;
    debug_header_t *h;
    if (align <= DEBUG_ALIGN && total <= SM_SMALL_MAX) {
        size_t rounded = (total + DEBUG_ALIGN - 1) & ~(size_t)(DEBUG_ALIGN - 1);
        sm_cls_t ucls = sm_size_class_of(sm_size_class_api, rounded);
        sm_block_t *b;
        if (sm_pool_alloc_batch(0, ucls, 1, &b) == 0) {
            errno = ENOMEM;
            return NULL;
        }
        h = (debug_header_t *)b;
        h->system = 0;
    } else {
        size_t pad = align > HDR ? align - HDR : 0;
        char *base = align <= DEBUG_ALIGN ? sm_fallback_malloc(total)
                                          : sm_fallback_memalign(align, pad + total);
        if (base == NULL)
            return NULL;
        h = (debug_header_t *)(base + pad);
        h->link = pad;
        h->system = 1;
    }
    h->magic = MAGIC_LIVE;
    h->cls = (uint8_t)cls;
    h->unused = 0;
    h->size = n;
    sm_debug_trace_capture(h->trace);
    memset(h->front, BYTE_GUARD, DEBUG_GUARD);
    char *p = user_of(h);
    memset(p, zero ? 0 : BYTE_CLEAN, n);
    memset(p + n, BYTE_GUARD, tail_len(h));

    sm_lock(&debug_lock);
    if (h->system && sm_debug_registry_insert((uintptr_t)p) != 0) {
        sm_unlock(&debug_lock);
        sm_fallback_free((char *)h - h->link);
        errno = ENOMEM;
        return NULL;
    }
    if (!h->system && cls != SM_CLASS_NONE) {
        totals.pool_requested += n;
        totals.pool_rounding += sm_class_size(cls) - n;
    }
    sm_unlock(&debug_lock);
    return p;
}

/* The header of live block p; NULL when p is foreign: outside every arena,
 * not in the registry and not on the calling thread's stack, so taken to be
 * the system malloc's (a block from __libc_malloc, or one made before
 * libsmalloc was loaded), which the caller hands to it as a normal run
 * would. Reports and aborts when p is inside an arena but no live debug
 * block, on the stack, or a registered block freed or damaged. */
static debug_header_t *block_of(void *p, const char *func)
{
    uintptr_t a = (uintptr_t)p;
    debug_header_t *h = (debug_header_t *)(a - HDR);
    if (sm_space_contains(a)) {
        const sm_pool_t *pool = sm_pool_of(a);
        uintptr_t offset = a & (SM_POOL_SIZE - 1);
        sm_cls_t ucls = pool->cls;
        if (ucls == SM_CLASS_NONE || offset < HDR ||
            (offset - HDR) % sm_class_size(ucls) != 0 || offset - HDR >= pool->nextoffset)
            sm_debug_invalid(func, p);
        if (h->magic == MAGIC_FREED)
            report(func, "double free (the block was already freed)", p, h, false, 0, 0, 0);
        if (h->magic != MAGIC_LIVE || h->system != 0 || h->size > SM_SMALL_MAX)
            report(func, "buffer underflow: the block's header was overwritten", p, NULL, false,
                   0, 0, 0);
        return h;
    }
    sm_lock(&debug_lock);
    uintptr_t *slot = sm_debug_registry_find(a);
    uintptr_t state = slot ? *slot : 0;
    sm_unlock(&debug_lock);
    if (slot == NULL) {
        if (sm_debug_trace_on_own_stack(a))
            sm_debug_invalid(func, p);
        return NULL;
    }
    if (state & SM_DEBUG_REG_QUARANTINED)
        report(func, "double free (the block was already freed)", p, h, false, 0, 0, 0);
    if (h->magic != MAGIC_LIVE || h->system != 1)
        report(func, "buffer underflow: the block's header was overwritten", p, NULL, false, 0,
               0, 0);
    return h;
}

/* Guards around a live block (the nearest damaged byte is reported). */
static void check_guards(debug_header_t *h, const char *func)
{
    const uint8_t *p = (const uint8_t *)user_of(h);
    for (size_t i = DEBUG_GUARD; i-- > 0;) {
        if (h->front[i] != BYTE_GUARD)
            report(func, "buffer underflow: a guard byte before the block was overwritten", p, h,
                   true, (ptrdiff_t)i - DEBUG_GUARD, h->front[i], BYTE_GUARD);
    }
    size_t tail = tail_len(h);
    for (size_t i = 0; i < tail; i++) {
        if (p[h->size + i] != BYTE_GUARD)
            report(func, "buffer overflow: a guard byte after the block was overwritten", p, h,
                   true, (ptrdiff_t)(h->size + i), p[h->size + i], BYTE_GUARD);
    }
}

/* A block leaving the quarantine: anything written since its free? */
static void check_dead(debug_header_t *h, const char *func)
{
    const uint8_t *p = (const uint8_t *)user_of(h);
    for (size_t i = 0; i < h->size; i++) {
        if (p[i] != BYTE_DEAD)
            report(func, "write to freed memory (found when the block left the quarantine)",
                   p, h, true, (ptrdiff_t)i, p[i], BYTE_DEAD);
    }
    if (h->magic != MAGIC_FREED)
        report(func, "write to freed memory: the freed block's header was overwritten", p,
               NULL, false, 0, 0, 0);
    check_guards(h, func);
}

/* Back to the pool or the system malloc, for good. */
static void release(debug_header_t *h)
{
    if (h->system) {
        sm_lock(&debug_lock);
        uintptr_t *slot = sm_debug_registry_find((uintptr_t)user_of(h));
        if (slot != NULL)
            sm_debug_registry_remove(slot);
        sm_unlock(&debug_lock);
        sm_fallback_free((char *)h - h->link);
        return;
    }
    sm_cls_t ucls = sm_pool_of((uintptr_t)h)->cls;
    sm_block_t *b = (sm_block_t *)h;
    sm_freelist_set_next(b, NULL);
    sm_pool_free_batch(ucls, b, "free");
}

static size_t quarantine_cost(const debug_header_t *h)
{
    return h->system ? h->link + HDR + h->size + DEBUG_GUARD : pool_block_size(h);
}

/* Free a checked live block: fill it, park it, and release what leaves
 * the quarantine to make room. */
static void quarantine_put(debug_header_t *h, const char *func)
{
    h->magic = MAGIC_FREED;
    memset(user_of(h), BYTE_DEAD, h->size);
    size_t cost = quarantine_cost(h);

    debug_header_t *evicted[8];
    unsigned nevicted = 0;
    sm_lock(&debug_lock);
    if (h->system) {
        uintptr_t *slot = sm_debug_registry_find((uintptr_t)user_of(h));
        if (slot != NULL)
            *slot |= SM_DEBUG_REG_QUARANTINED;
    }
    if (!h->system && h->cls != SM_CLASS_NONE) {
        totals.pool_requested -= h->size;
        totals.pool_rounding -= sm_class_size(h->cls) - h->size;
    }
    while (quarantine.count > 0 && nevicted < 8 &&
           (quarantine.count == QUARANTINE_SLOTS || quarantine.bytes + cost > QUARANTINE_BYTES)) {
        debug_header_t *old = (debug_header_t *)((char *)quarantine.ring[quarantine.head] - HDR);
        quarantine.head = (quarantine.head + 1) % QUARANTINE_SLOTS;
        quarantine.count--;
        quarantine.bytes -= quarantine_cost(old);
        if (!old->system)
            totals.quarantine_bytes -= pool_block_size(old);
        evicted[nevicted++] = old;
    }
    if (quarantine.count < QUARANTINE_SLOTS) {
        quarantine.ring[(quarantine.head + quarantine.count) % QUARANTINE_SLOTS] = user_of(h);
        quarantine.count++;
        quarantine.bytes += cost;
        if (!h->system)
            totals.quarantine_bytes += pool_block_size(h);
    } else {
        evicted[nevicted++] = h; /* cannot happen: a slot was just freed */
    }
    sm_unlock(&debug_lock);
    for (unsigned i = 0; i < nevicted; i++) {
        check_dead(evicted[i], func);
        release(evicted[i]);
    }
}

/* ---- entry points ------------------------------------------------------ */

void *sm_debug_malloc(size_t n, sm_cls_t cls)
{
    return debug_alloc(n, cls, DEBUG_ALIGN, false);
}

void *sm_debug_calloc(const uint8_t *table, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return debug_alloc(n, class_for(table, n), DEBUG_ALIGN, true);
}

void *sm_debug_memalign(size_t align, size_t n)
{
    size_t rounded = n == 0 ? align : (n + align - 1) & ~(align - 1);
    sm_cls_t cls = align <= SM_SMALL_MAX && rounded <= SM_SMALL_MAX && rounded >= n
                       ? class_for(sm_size_class_api, rounded)
                       : SM_CLASS_NONE;
    return debug_alloc(n, cls, align, false);
}

void sm_debug_free(void *p, const char *func)
{
    if (p == NULL)
        return;
    int saved = errno;
    debug_header_t *h = block_of(p, func);
    if (h == NULL) {
        sm_fallback_free(p);
        errno = saved;
        return;
    }
    check_guards(h, func);
    quarantine_put(h, func);
    errno = saved;
}

/* Always moves the block, so that stale pointers to the old one are found. */
void *sm_debug_realloc(const uint8_t *table, void *p, size_t n)
{
    if (p == NULL)
        return debug_alloc(n, class_for(table, n), DEBUG_ALIGN, false);
    debug_header_t *h = block_of(p, "realloc");
    if (h == NULL) { /* foreign: glibc's rules, glibc's block */
        if (n == 0) {
            sm_fallback_free(p);
            return NULL;
        }
        return sm_fallback_realloc(p, n);
    }
    check_guards(h, "realloc");
    if (n == 0) {
        quarantine_put(h, "realloc");
        return NULL;
    }
    void *q = debug_alloc(n, class_for(table, n), DEBUG_ALIGN, false);
    if (q == NULL)
        return NULL;
    memcpy(q, p, h->size < n ? h->size : n);
    quarantine_put(h, "realloc");
    return q;
}

size_t sm_debug_usable_size(void *p)
{
    if (p == NULL)
        return 0;
    debug_header_t *h = block_of(p, "malloc_usable_size");
    if (h == NULL)
        return sm_fallback_usable_size(p);
    check_guards(h, "malloc_usable_size");
    return h->size;
}

void sm_debug_totals(struct sm_debug_totals *out)
{
    sm_lock(&debug_lock);
    *out = totals;
    sm_unlock(&debug_lock);
}
