/*
 * Aligned allocation. A small request of alignment a (a power of two up to
 * SM_SMALL_MAX) is served from the class whose size is the request rounded
 * up to a multiple of a: blocks of that class start at multiples of their
 * size from a 4 KiB aligned pool, hence at multiples of a. Larger
 * alignments or sizes go to the system malloc.
 */
#include <errno.h>
#include <unistd.h>

#include <smalloc.h>

#include "alloc.h"
#include "debug.h"

void *sm_alloc_aligned(size_t align, size_t n)
{
    if (sm_alloc_debug_routed())
        return sm_debug_memalign(align, n);
    if (align <= SM_QUANTUM)
        return sm_alloc(sm_size_class_api, n);
    if (align <= SM_SMALL_MAX && n <= SM_SMALL_MAX) {
        size_t size = n == 0 ? align : (n + align - 1) & ~(align - 1);
        if (size <= SM_SMALL_MAX)
            return sm_alloc(sm_size_class_api, size);
    }
    return sm_fallback_memalign(align, n);
}

void *sm_alloc_valloc(size_t n)
{
    if (sm_alloc_debug_routed())
        return sm_debug_memalign((size_t)sysconf(_SC_PAGESIZE), n);
    return sm_fallback_valloc(n);
}

void *sm_alloc_pvalloc(size_t n)
{
    if (sm_alloc_debug_routed()) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t rounded = (n + page - 1) & ~(page - 1);
        if (rounded < n) {
            errno = ENOMEM;
            return NULL;
        }
        return sm_debug_memalign(page, rounded == 0 ? page : rounded);
    }
    return sm_fallback_pvalloc(n);
}

static int is_power_of_two(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

sm_public int smalloc_posix_memalign(void **out, size_t align, size_t n)
{
    if (!is_power_of_two(align) || align % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno;
    void *p = sm_alloc_aligned(align, n);
    errno = saved;
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

/* C11: alignment must be a power of two (glibc 2.38 rule). */
sm_public void *smalloc_aligned_alloc(size_t align, size_t n)
{
    if (!is_power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    return sm_alloc_aligned(align, n);
}

/* glibc's rule: an alignment that is not a power of two is rounded up to
 * the next one; one too large to round fails with EINVAL. */
sm_public void *smalloc_memalign(size_t align, size_t n)
{
    if (align > ((size_t)1 << (sizeof(size_t) * 8 - 1))) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = 1;
    while (a < align)
        a <<= 1;
    return sm_alloc_aligned(a, n);
}
