/*
 * The malloc family under its standard names, so that libsmalloc replaces
 * the system malloc when preloaded or linked (built with SMALLOC_OVERRIDE).
 * glibc's manual, "Replacing malloc", lists what must be provided: malloc,
 * free, calloc, realloc; aligned_alloc, malloc_usable_size, memalign,
 * posix_memalign, pvalloc, valloc. reallocarray, cfree and C23's
 * free_sized/free_aligned_sized are provided too: glibc's own versions would
 * hand a libsmalloc block to glibc's free.
 *
 * malloc, calloc, realloc and reallocarray use sm_size_class_abi (16-byte
 * alignment from 16 bytes up, or the card's classes under
 * SMALLOC_ALIGNMENT=8); the rest share the smalloc_* code, which takes
 * its alignment as an argument.
 *
 * Whose block is whose: valloc and pvalloc (page-aligned, so never a pool
 * block), requests above 512 bytes and aligned requests that round up past
 * 512 are glibc's (fallback.h); free, realloc and malloc_usable_size send
 * every pointer outside the arenas to glibc, which also covers blocks glibc
 * made itself (__libc_malloc callers). tests/preload/family.c checks each
 * pairing.
 * malloc_trim, mallinfo2, mallinfo, malloc_stats and malloc_info, which
 * must answer for both heaps, are in malloc_ext.c; mallopt stays glibc's
 * (it tunes glibc's heap, which holds the large blocks).
 *
 * Link-time replacement works with libsmalloc.so and with libsmalloc.a in a
 * dynamically linked program. A fully static program (-static) cannot use
 * it: the fallback calls __libc_malloc, whose object in libc.a defines
 * malloc too, so the link fails with duplicate definitions.
 */
#include <stddef.h>

#include <smalloc.h>

#include "alloc.h"
#include "free.h"

sm_public void *malloc(size_t n)
{
    return sm_alloc(sm_size_class_abi, n);
}

sm_public void *calloc(size_t count, size_t size)
{
    return sm_alloc_calloc(sm_size_class_abi, count, size);
}

sm_public void *realloc(void *p, size_t n)
{
    return sm_alloc_realloc(sm_size_class_abi, p, n);
}

sm_public void *reallocarray(void *p, size_t count, size_t size)
{
    return sm_alloc_reallocarray(sm_size_class_abi, p, count, size);
}

sm_public void *valloc(size_t n)
{
    return sm_alloc_valloc(n);
}

sm_public void *pvalloc(size_t n)
{
    return sm_alloc_pvalloc(n);
}

sm_public void free(void *p)
{
    sm_free(p);
}

sm_public void cfree(void *p)
{
    sm_free(p);
}

sm_public int posix_memalign(void **out, size_t align, size_t n)
{
    return smalloc_posix_memalign(out, align, n);
}

sm_public void *aligned_alloc(size_t align, size_t n)
{
    return smalloc_aligned_alloc(align, n);
}

sm_public void *memalign(size_t align, size_t n)
{
    return smalloc_memalign(align, n);
}

sm_public size_t malloc_usable_size(void *p)
{
    return sm_free_usable_size(p);
}

sm_public void free_sized(void *p, size_t size)
{
    (void)size;
    sm_free(p);
}

sm_public void free_aligned_sized(void *p, size_t align, size_t size)
{
    (void)align;
    (void)size;
    sm_free(p);
}
