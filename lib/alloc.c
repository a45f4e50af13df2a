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

/* Whether a block of class cls may serve a request of n bytes in place
 * when n maps to another class, want (n mapping to cls stays, tested
 * first by realloc_small): want is smaller and n fills more than half of
 * the block (a block given headroom by realloc_target must not move back
 * down at the next step), and the block is aligned as want's would be. */
static int fits_in_place(sm_cls_t cls, sm_cls_t want, size_t n)
{
    size_t size = sm_class_size(cls);
    return want < cls && n > size / 2 && (size % 16 == 0 || sm_class_size(want) % 16 != 0);
}

/* realloc of a pointer that is not libsmalloc's block: the system malloc's,
 * or NULL (malloc). */
static sm_noinline void *realloc_foreign(const uint8_t *table, void *p, size_t n)
{
    if (p == NULL)
        return sm_alloc(table, n);
    if (n == 0) {
        sm_fallback_free(p);
        return NULL;
    }
    return sm_large_cache_realloc(p, n);
}

/* p, in the arena space, failed the block-start test: foreign, or invalid
 * (sm_free_check_foreign does not return then). */
static sm_noinline sm_cold void *realloc_not_block_start(const uint8_t *table, void *p, size_t n)
{
    sm_free_check_foreign(p, "realloc");
    return realloc_foreign(table, p, n);
}

/* Give back p, a block of class cls that realloc has checked live (the
 * head and mark tests sm_free_small would repeat). Not in a valgrind build,
 * which skips the mark test at entry (see realloc_routed_out). */
static sm_always_inline void realloc_free_checked(void *p, sm_cls_t cls)
{
    if (SM_TRACK_VALGRIND) {
        sm_free_block(p, cls);
        return;
    }
    if (sm_unlikely(--sm_tcache.room[cls] < 0)) {
        sm_free_slow(cls, p);
        return;
    }
    sm_tcache_push(cls, p);
}

/* Copy len bytes of p, a live block of class cls, to q, then free p: the
 * move's one call (memcpy), so the one function of it that keeps registers
 * across a call (q, p and cls). */
static sm_noinline void *realloc_move(void *q, void *p, sm_cls_t cls, size_t len)
{
    /* GCC knows cls < 256 here (a pool_cls[] byte) and then expands the
     * memcpy into rep movsq, which starts slowly and, under callgrind,
     * counts one instruction a word; glibc's memcpy copies 33 to 64 bytes
     * in two overlapping vector moves. The empty asm hides the bound. */
    __asm__("" : "+r"(len));
    memcpy(q, p, len);
    realloc_free_checked(p, cls);
    return q;
}

/* realloc_small's rarer cases: n is 0 (free p) or above SM_SMALL_MAX
 * (move p to the system malloc). */
static sm_noinline void *realloc_zero_or_large(void *p, sm_cls_t cls, size_t n)
{
    if (n == 0) {
        realloc_free_checked(p, cls);
        return NULL;
    }
    void *q = sm_alloc_large(n);
    if (q == NULL)
        return NULL;
    return realloc_move(q, p, cls, sm_class_size(cls));
}

/* The move when the bin of the new block's class is empty: sm_alloc's slow
 * path. */
static sm_noinline void *realloc_move_refill(const uint8_t *table, void *p, sm_cls_t cls, size_t n,
                                             size_t target)
{
    void *q = sm_alloc(table, target);
    if (q == NULL)
        return NULL;
    size_t old = sm_class_size(cls);
    return realloc_move(q, p, cls, old < n ? old : n);
}

/* p, a live block of class cls, to serve n bytes (0 < n <= SM_SMALL_MAX),
 * which map to class want, not cls: kept (fits_in_place) or moved. With
 * tail calls only, so that sm_alloc_realloc saves no register: the bin pop
 * is sm_alloc's (alloc.h) spelled out, its slow path realloc_move_refill,
 * and the copy, the one call, realloc_move. */
static sm_always_inline void *realloc_resize(const uint8_t *table, void *p, sm_cls_t cls, sm_cls_t want,
                                        size_t n)
{
    if (fits_in_place(cls, want, n))
        return p;
    size_t old = sm_class_size(cls);
    size_t target = realloc_target(old, n);
    sm_cls_t to = target == n ? want : sm_size_class_of(table, target);
    sm_block_t *b = sm_tcache.head[to];
    if (sm_unlikely(b == NULL))
        return realloc_move_refill(table, p, cls, n, target);
    void *q = sm_tcache_pop(&sm_tcache, to, b);
    sm_track_alloc(q, sm_class_size(to));
    return realloc_move(q, p, cls, old < n ? old : n);
}

/* p, a block of class cls: the hardened build's check, then in place when
 * n maps to cls, else realloc_resize or realloc_zero_or_large. */
static sm_always_inline void *realloc_small(const uint8_t *table, void *p, sm_cls_t cls, size_t n)
{
    sm_secure_check_live(p, cls, "realloc"); /* hardened build: p must be in use */
    if (sm_unlikely(n - 1 >= SM_SMALL_MAX))
        return realloc_zero_or_large(p, cls, n);
    sm_cls_t want = sm_size_class_of(table, n);
    if (want == cls)
        return p;
    return realloc_resize(table, p, cls, want, n);
}

/* p, a block of class cls, is its bin's head or carries the freed mark:
 * abort if it is free, else go on (the mark word was the program's). */
static sm_noinline sm_cold void *realloc_suspect(const uint8_t *table, void *p, sm_cls_t cls, size_t n)
{
    sm_tcache_check_not_free(&sm_tcache, cls, p, "realloc");
    return realloc_small(table, p, cls, n);
}

/* The realloc of a process out of debug mode. */
static sm_always_inline void *realloc_routed_out(const uint8_t *table, void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    uintptr_t d = a - sm_g_space.base;
    if (sm_unlikely(d >= sm_g_space.size)) /* NULL too */
        return realloc_foreign(table, p, n);
    sm_cls_t cls = sm_g_space.pool_cls[d >> SM_POOL_SHIFT];
    if (sm_unlikely(!sm_space_is_block_start(a, cls)))
        return realloc_not_block_start(table, p, n);
    /* A freed block in this thread's bin: realloc would hand it out again
     * (same class) or report the free() below as the culprit. The same
     * checks free makes, under its own name. (Not in a valgrind build:
     * there the mark word of a live block is the program's, and Memcheck
     * itself reports a realloc of a freed block.) */
    if (sm_unlikely(sm_tcache.head[cls] == (sm_block_t *)p) ||
        sm_unlikely(!SM_TRACK_VALGRIND && sm_freelist_is_marked(p, cls)))
        return realloc_suspect(table, p, cls, n);
    return realloc_small(table, p, cls, n);
}

/* Before start-up, or in debug mode (sm_alloc_debug_routed, alloc.h). */
static sm_noinline sm_cold void *realloc_debug_routed(const uint8_t *table, void *p, size_t n)
{
    if (sm_alloc_debug_start())
        return sm_debug_realloc(table, p, n);
    return realloc_routed_out(table, p, n);
}

/* glibc's rules: realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and
 * returns NULL; on failure p is untouched. A small block stays in place
 * when it fits (fits_in_place).
 *
 * The shape is that of free (free.h): the arena space says whose p is and
 * its class, and every rarer case is a tail call (the debug routing too:
 * the test of sm_alloc_debug_routed, with its call to the start-up, is
 * spelled out here so that it needs no stack frame), so that this function
 * saves no register and only the copy (realloc_move) saves three. The move
 * frees p without the head and mark tests made at entry.
 *
 * CPython grows lists and shrinks strings (its string writers
 * over-allocate) through realloc: in bench/python/dicts_lists.py 0.2,
 * 119k of its 123k calls move a string to a smaller class. Instructions
 * inside libsmalloc per call there, memcpy aside (issue 14, callgrind,
 * command below): 98 when realloc called sm_free_class_of and then freed
 * p through the free fast path, saving six registers; 71 in this shape
 * (sm_alloc_realloc 50, realloc_move 21).
 *   env PYTHONHASHSEED=0 PYTHONMALLOC=malloc LD_PRELOAD=build/lib/libsmalloc.so \
 *     SMALLOC_BACKGROUND=0 valgrind --tool=callgrind /usr/bin/python3 \
 *     bench/python/dicts_lists.py 0.2; callgrind_annotate callgrind.out.* | grep realloc
 */
void *sm_alloc_realloc(const uint8_t *table, void *p, size_t n)
{
    if (sm_unlikely(atomic_load_explicit(&sm_g_debug_route, memory_order_relaxed) != 0))
        return realloc_debug_routed(table, p, n);
    return realloc_routed_out(table, p, n);
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
