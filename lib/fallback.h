/*
 * Requests above SM_SMALL_MAX and pointers libsmalloc did not make go to
 * the system malloc. With the override built in (SMALLOC_OVERRIDE), "system
 * malloc" means glibc's own entry points (__libc_malloc, ...), since the
 * names malloc and free are libsmalloc's; without it, it means whatever
 * malloc the process has. Every entry point but _uncounted counts calls
 * and bytes (sm_fallback_totals). It calls nothing else of libsmalloc, so
 * any floor may use it, like the OS layer (lib/README.md).
 */
#ifndef SM_FALLBACK_H
#define SM_FALLBACK_H

#include <stddef.h>

#include "compiler.h"

/* NULL with errno = ENOMEM when n > PTRDIFF_MAX or the system refuses. */
sm_hidden void *sm_fallback_malloc(size_t n) sm_noinline;
sm_hidden void *sm_fallback_calloc(size_t n) sm_noinline;
sm_hidden void *sm_fallback_realloc(void *p, size_t n) sm_noinline;
sm_hidden void *sm_fallback_memalign(size_t align, size_t n) sm_noinline;
sm_hidden void *sm_fallback_valloc(size_t n) sm_noinline;
sm_hidden void *sm_fallback_pvalloc(size_t n) sm_noinline;
/* The system malloc's malloc, not counted in the statistics (libsmalloc's
 * own probes, large_cache.c). */
sm_hidden void *sm_fallback_malloc_uncounted(size_t n) sm_noinline;
/* p may be NULL. errno is kept. */
sm_hidden void sm_fallback_free(void *p) sm_noinline;
sm_hidden size_t sm_fallback_usable_size(void *p) sm_noinline;

/* Requests sent so far and their bytes (relaxed: a statistic). */
sm_hidden void sm_fallback_totals(size_t *calls, size_t *bytes);

#endif
