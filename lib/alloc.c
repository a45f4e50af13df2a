/*
 * smalloc_malloc, calloc, realloc, reallocarray, and the shared calloc and
 * realloc logic used by the replaced malloc family too (see alloc.h); the
 * smalloc_stats_* entry points (start-up, then stats.c).
 */
#include <errno.h>
#include <string.h>

#include <smalloc.h>

#include "alloc.h"
#include "debug.h"
#include "error.h"
#include "free.h"
#include "init.h"
#include "large_cache.h"
#include "options.h"
#include "stats.h"

bool sm_alloc_debug_start(void)
{
    sm_init_process();
    return sm_debug_on();
}

void *sm_alloc_slow(size_t n, sm_cls_t cls)
{
    sm_init_process();
    sm_tcache_t *h = sm_tcache_get(); /* NULL once the thread has exited */
    if (sm_unlikely(sm_opt.debug))
        return sm_debug_malloc(n, cls);
    void *p = sm_tcache_alloc_refill(h, cls);
    if (sm_likely(p != NULL))
        return p;
    /* The pools have no block and no arena can be mapped: out of memory,
     * or the arena space has no slot left (space.h), when the system
     * malloc serves the request, a whole class size so that calloc may
     * clear it. */
    if (h == NULL || !sm_space_full()) {
        errno = ENOMEM;
        return NULL;
    }
    return sm_fallback_malloc(sm_class_size(cls));
}

void *sm_alloc_large(size_t n)
{
    if (sm_alloc_debug_routed())
        return sm_debug_malloc(n, SM_CLASS_NONE);
    return sm_large_cache_malloc(n);
}

/* calloc, realloc: the debug test (sm_alloc_debug_routed) is one load of a flag that is
 * 0 once start-up found the debug mode off; the malloc and free fast paths
 * have no such test. */
void *sm_alloc_calloc(const uint8_t *table, size_t count, size_t size)
{
    if (sm_alloc_debug_routed())
        return sm_debug_calloc(table, count, size);
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    if (n > SM_SMALL_MAX)
        return sm_fallback_calloc(n);
    sm_cls_t cls = sm_size_class_of(table, n);
    void *p = sm_alloc_small(cls, n);
    if (p != NULL) {
        size_t size = sm_class_size(cls);
        sm_track_open(p, size);
        memset(p, 0, size);
        sm_track_alloc_zeroed(p, size);
    }
    return p;
}

/* The size a small block growing from old to n bytes is moved to. Classes
 * step by 8 bytes, so a string growing a few bytes at a time would move at
 * every step; growing by at least a quarter (jemalloc's class spacing)
 * moves it 12 times on its way from 16 to 512 bytes instead of 62.
 * The headroom is a multiple of 16, so the block is never less aligned
 * than n's own class would be (a 48-byte class is 16-aligned, a 56-byte
 * one is not). bench/driver -w realloc_strings measures it. */
static size_t realloc_target(size_t old, size_t n)
{
    if (n <= old || n > SM_SMALL_MAX)
        return n;
    size_t roomy = (old + old / 4 + 15) & ~(size_t)15;
    if (roomy > SM_SMALL_MAX)
        roomy = SM_SMALL_MAX;
    return n > roomy ? n : roomy;
}

/* Whether a block of class cls may serve a request of n bytes in place:
 * n maps to cls, or to a smaller class while filling more than half of the
 * block (a block given headroom by realloc_target must not move back down
 * at the next step), and the block is aligned as n's own class would be. */
static int fits_in_place(const uint8_t *table, sm_cls_t cls, size_t n)
{
    sm_cls_t want = sm_size_class_of(table, n);
    if (want == cls)
        return 1;
    size_t size = sm_class_size(cls);
    return want < cls && n > size / 2 && (size % 16 == 0 || sm_class_size(want) % 16 != 0);
}

/* glibc's rules: realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and
 * returns NULL; on failure p is untouched. A small block stays in place
 * when it fits (fits_in_place). */
void *sm_alloc_realloc(const uint8_t *table, void *p, size_t n)
{
    if (sm_alloc_debug_routed())
        return sm_debug_realloc(table, p, n);
    if (p == NULL)
        return sm_alloc(table, n);
    sm_cls_t cls = sm_free_class_of((uintptr_t)p, "realloc");
    if (cls == SM_CLASS_NONE) {
        if (n == 0) {
            sm_fallback_free(p);
            return NULL;
        }
        return sm_large_cache_realloc(p, n);
    }
    /* A freed block in this thread's bin: realloc would hand it out again
     * (same class) or report the free() below as the culprit. The same
     * checks free makes, under its own name. (Not in a valgrind build:
     * there the mark word of a live block is the program's, and Memcheck
     * itself reports a realloc of a freed block.) */
    if (sm_unlikely(sm_tcache.head[cls] == (sm_block_t *)p) ||
        sm_unlikely(!SM_TRACK_VALGRIND && sm_freelist_is_marked(p, cls)))
        sm_tcache_check_not_free(&sm_tcache, cls, p, "realloc");
    sm_secure_check_live(p, cls, "realloc"); /* hardened build: p must be in use */
    if (n == 0) {
        sm_free_block(p, cls);
        return NULL;
    }
    if (n <= SM_SMALL_MAX && fits_in_place(table, cls, n))
        return p;
    size_t old = sm_class_size(cls);
    void *q = sm_alloc(table, realloc_target(old, n));
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    sm_free_block(p, cls);
    return q;
}

void *sm_alloc_reallocarray(const uint8_t *table, void *p, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return sm_alloc_realloc(table, p, n);
}

sm_public void *smalloc_malloc(size_t n)
{
    return sm_alloc(sm_size_class_api, n);
}

sm_public void *smalloc_calloc(size_t count, size_t size)
{
    return sm_alloc_calloc(sm_size_class_api, count, size);
}

sm_public void *smalloc_realloc(void *p, size_t n)
{
    return sm_alloc_realloc(sm_size_class_api, p, n);
}

sm_public void *smalloc_reallocarray(void *p, size_t count, size_t size)
{
    return sm_alloc_reallocarray(sm_size_class_api, p, count, size);
}

sm_public const char *smalloc_version(void)
{
    return SMALLOC_VERSION_STRING;
}

/* ---- statistics (stats.c), after start-up ---------------------------------------------- */

sm_public void smalloc_stats_get_sized(struct smalloc_stats *out, size_t size)
{
    sm_init_process();
    sm_stats_get(out, size);
}

/* The real function behind the smalloc_stats_get() macro (smalloc.h). */
sm_public void (smalloc_stats_get)(struct smalloc_stats *out)
{
    smalloc_stats_get_sized(out, sizeof *out);
}

sm_public void smalloc_stats_print(FILE *f)
{
    sm_init_process();
    sm_stats_print(f, false);
}

sm_public void smalloc_stats_print_json(FILE *f)
{
    sm_init_process();
    sm_stats_print(f, true);
}
