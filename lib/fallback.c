/*
 * The path to the system malloc (see fallback.h).
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <stdatomic.h>

#include "fallback.h"

#ifdef SMALLOC_OVERRIDE
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void __libc_free(void *);
#define system_malloc __libc_malloc
#define system_calloc __libc_calloc
#define system_realloc __libc_realloc
#define system_memalign __libc_memalign
#define system_valloc __libc_valloc
#define system_pvalloc __libc_pvalloc
#define system_free __libc_free
#else
#define system_malloc malloc
#define system_calloc calloc
#define system_realloc realloc
#define system_memalign memalign
#define system_valloc valloc
#define system_pvalloc pvalloc
#define system_free free
#endif

/* Requests admitted and their bytes, for the statistics. Written by every
 * thread with relaxed adds: the system malloc behind them costs far more
 * than the add, and no thread state is needed to count. */
static struct {
    _Atomic size_t calls;
    _Atomic size_t bytes;
} counted;

/* A request for the system malloc: ENOMEM above PTRDIFF_MAX (false), else
 * counted (true). */
static bool admit(size_t n)
{
    if (n > PTRDIFF_MAX) {
        errno = ENOMEM;
        return false;
    }
    atomic_fetch_add_explicit(&counted.calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&counted.bytes, n, memory_order_relaxed);
    return true;
}

void sm_fallback_totals(size_t *calls, size_t *bytes)
{
    *calls = atomic_load_explicit(&counted.calls, memory_order_relaxed);
    *bytes = atomic_load_explicit(&counted.bytes, memory_order_relaxed);
}

void *sm_fallback_malloc(size_t n)
{
    return admit(n) ? system_malloc(n) : NULL;
}

void *sm_fallback_malloc_uncounted(size_t n)
{
    return system_malloc(n);
}

void *sm_fallback_calloc(size_t n)
{
    return admit(n) ? system_calloc(n, 1) : NULL;
}

void *sm_fallback_realloc(void *p, size_t n)
{
    return admit(n) ? system_realloc(p, n) : NULL;
}

void *sm_fallback_memalign(size_t align, size_t n)
{
    return admit(n) ? system_memalign(align, n) : NULL;
}

void *sm_fallback_valloc(size_t n)
{
    return admit(n) ? system_valloc(n) : NULL;
}

void *sm_fallback_pvalloc(size_t n)
{
    return admit(n) ? system_pvalloc(n) : NULL;
}

/* glibc's free keeps errno since 2.33; another system malloc may not. */
#if defined(SMALLOC_OVERRIDE) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define SYSTEM_FREE_KEEPS_ERRNO 1
#else
#define SYSTEM_FREE_KEEPS_ERRNO 0
#endif

void sm_fallback_free(void *p)
{
    if (SYSTEM_FREE_KEEPS_ERRNO || p == NULL) {
        system_free(p);
        return;
    }
    int saved = errno;
    system_free(p);
    errno = saved;
}

#ifdef SMALLOC_OVERRIDE
/* glibc has no __libc_ name for it; find the next definition after ours. */
typedef size_t (*usable_size_fn)(void *);
static _Atomic usable_size_fn system_usable_size_fn; /* found once, by any thread */

size_t sm_fallback_usable_size(void *p)
{
    usable_size_fn fn = atomic_load_explicit(&system_usable_size_fn, memory_order_acquire);
    if (fn == NULL) {
        fn = (usable_size_fn)dlsym(RTLD_NEXT, "malloc_usable_size");
        if (fn == NULL)
            return 0;
        atomic_store_explicit(&system_usable_size_fn, fn, memory_order_release);
    }
    return fn(p);
}
#else
size_t sm_fallback_usable_size(void *p)
{
    return malloc_usable_size(p);
}
#endif
