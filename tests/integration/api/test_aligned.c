/*
 * posix_memalign, aligned_alloc, memalign and their smalloc_* twins, valloc
 * and pvalloc, through the public API: every power of two 8..4096 with every size 1..1024 is
 * aligned, big enough and independent of its neighbours; bad alignments and
 * impossible sizes fail with the errno glibc gives.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "support.h"

/* Hides a constant from the compiler, which would warn about a size it can
 * see is impossible: the point is what the library does. */
static size_t opaque(size_t x)
{
    volatile size_t v = x;
    return v;
}

static void *via_posix_memalign(size_t align, size_t n)
{
    void *p = NULL;
    int rc = posix_memalign(&p, align, n);
    cr_assert_eq(rc, 0, "posix_memalign(%zu, %zu) = %d", align, n, rc);
    return p;
}

static void *via_smalloc_posix_memalign(size_t align, size_t n)
{
    void *p = NULL;
    int rc = smalloc_posix_memalign(&p, align, n);
    cr_assert_eq(rc, 0, "smalloc_posix_memalign(%zu, %zu) = %d", align, n, rc);
    return p;
}

static const struct {
    const char *name;
    void *(*alloc)(size_t align, size_t n);
    void (*release)(void *);
} aligned_apis[] = {
    {"posix_memalign", via_posix_memalign, free},
    {"aligned_alloc", aligned_alloc, free},
    {"memalign", memalign, free},
    {"smalloc_posix_memalign", via_smalloc_posix_memalign, smalloc_free},
    {"smalloc_aligned_alloc", smalloc_aligned_alloc, smalloc_free},
    {"smalloc_memalign", smalloc_memalign, smalloc_free},
};

Test(aligned, every_power_of_two_with_every_size)
{
    enum { MAXN = 1024 };
    static void *p[MAXN + 1];
    for (size_t k = 0; k < sizeof aligned_apis / sizeof aligned_apis[0]; k++) {
        const char *name = aligned_apis[k].name;
        for (size_t align = 8; align <= 4096; align *= 2) {
            for (size_t n = 1; n <= MAXN; n++) {
                p[n] = aligned_apis[k].alloc(align, n);
                cr_assert_not_null(p[n], "%s(%zu, %zu)", name, align, n);
                cr_assert_eq((uintptr_t)p[n] % align, 0, "%s(%zu, %zu) = %p", name, align, n, p[n]);
                cr_assert_geq(smalloc_usable_size(p[n]), n, "%s(%zu, %zu): usable %zu", name, align, n,
                              smalloc_usable_size(p[n]));
                fill_pattern(p[n], n, align * 4096 + n);
            }
            /* All 1024 live at once: no block overlaps another. */
            for (size_t n = 1; n <= MAXN; n++) {
                cr_assert_eq(check_pattern(p[n], n, align * 4096 + n), -1, "%s(%zu, %zu) overwritten",
                             name, align, n);
                aligned_apis[k].release(p[n]);
            }
        }
    }
}

Test(aligned, size_zero_gives_a_unique_aligned_block)
{
    for (size_t k = 0; k < sizeof aligned_apis / sizeof aligned_apis[0]; k++) {
        for (size_t align = 8; align <= 4096; align *= 2) {
            void *a = aligned_apis[k].alloc(align, 0);
            void *b = aligned_apis[k].alloc(align, 0);
            cr_assert(a != NULL && b != NULL && a != b, "%s(%zu, 0): %p %p", aligned_apis[k].name, align, a, b);
            cr_assert_eq((uintptr_t)a % align, 0, "%s(%zu, 0) = %p", aligned_apis[k].name, align, a);
            aligned_apis[k].release(a);
            aligned_apis[k].release(b);
        }
    }
}

Test(aligned, posix_memalign_rejects_bad_alignments)
{
    /* Not a power of two, or not a multiple of sizeof(void *). */
    static const size_t bad[] = {0, 1, 2, 3, 4, 12, 24, 48, 100, 4095, 4097, SIZE_MAX};
    int (*fns[2])(void **, size_t, size_t) = {posix_memalign, smalloc_posix_memalign};
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            void *p = (void *)0x1234;
            errno = 777;
            int rc = fns[f](&p, bad[i], 16);
            cr_assert_eq(rc, EINVAL, "%s(%zu): returned %d, want EINVAL", f ? "smalloc_posix_memalign" : "posix_memalign",
                         bad[i], rc);
            cr_assert_eq(p, (void *)0x1234, "*out written on failure");
            cr_assert_eq(errno, 777, "errno changed to %d", errno);
        }
        static const size_t huge[] = {SIZE_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX};
        for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
            for (size_t align = 8; align <= 8192; align *= 4) {
                void *p = (void *)0x1234;
                errno = 777;
                int rc = fns[f](&p, align, huge[i]);
                cr_assert_eq(rc, ENOMEM, "posix_memalign(%zu, %#zx) = %d, want ENOMEM", align, huge[i], rc);
                cr_assert_eq(p, (void *)0x1234, "*out written on failure");
                cr_assert_eq(errno, 777, "errno changed to %d", errno);
            }
        }
    }
}

Test(aligned, aligned_alloc_rejects_non_powers_of_two)
{
    static const size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 100, 4095, 4097, SIZE_MAX};
    void *(*fns[2])(size_t, size_t) = {aligned_alloc, smalloc_aligned_alloc};
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            errno = 0;
            cr_assert_null(fns[f](bad[i], 64), "aligned_alloc(%zu, 64) succeeded", bad[i]);
            cr_assert_eq(errno, EINVAL, "aligned_alloc(%zu, 64): errno %d", bad[i], errno);
        }
        for (size_t align = 8; align <= 8192; align *= 4) {
            errno = 0;
            cr_assert_null(fns[f](align, SIZE_MAX), "aligned_alloc(%zu, SIZE_MAX)", align);
            cr_assert_eq(errno, ENOMEM, "aligned_alloc(%zu, SIZE_MAX): errno %d", align, errno);
        }
    }
}

Test(aligned, memalign_rounds_the_alignment_up)
{
    void *(*fns[2])(size_t, size_t) = {memalign, smalloc_memalign};
    for (int f = 0; f < 2; f++) {
        for (size_t align = 1; align <= 5000; align++) {
            size_t pow2 = 1;
            while (pow2 < align)
                pow2 <<= 1;
            void *p = fns[f](align, 40);
            cr_assert_not_null(p, "memalign(%zu, 40)", align);
            cr_assert_eq((uintptr_t)p % pow2, 0, "memalign(%zu, 40) = %p, not %zu-aligned", align, p, pow2);
            cr_assert_geq(smalloc_usable_size(p), 40, "memalign(%zu, 40)", align);
            free(p);
        }
        errno = 0;
        cr_assert_null(fns[f](SIZE_MAX, 16), "memalign(SIZE_MAX, 16): cannot be rounded up");
        cr_assert_eq(errno, EINVAL, "memalign(SIZE_MAX, 16): errno %d", errno);
        errno = 0;
        cr_assert_null(fns[f](64, SIZE_MAX), "memalign(64, SIZE_MAX)");
        cr_assert_eq(errno, ENOMEM, "memalign(64, SIZE_MAX): errno %d", errno);
    }
}

Test(aligned, valloc_and_pvalloc_give_pages)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t n = 0; n <= 3 * page; n += 97) {
        void *v = valloc(n);
        cr_assert_not_null(v, "valloc(%zu)", n);
        cr_assert_eq((uintptr_t)v % page, 0, "valloc(%zu) = %p", n, v);
        cr_assert_geq(malloc_usable_size(v), n, "valloc(%zu) usable %zu", n, malloc_usable_size(v));
        void *p = pvalloc(n);
        cr_assert_not_null(p, "pvalloc(%zu)", n);
        cr_assert_eq((uintptr_t)p % page, 0, "pvalloc(%zu) = %p", n, p);
        size_t rounded = (n + page - 1) / page * page; /* glibc: pvalloc(0) is a minimal block */
        cr_assert_geq(malloc_usable_size(p), rounded, "pvalloc(%zu) usable %zu, want %zu", n,
                      malloc_usable_size(p), rounded);
        free(v);
        free(p);
    }
    errno = 0;
    cr_assert_null(valloc(opaque(SIZE_MAX)), "valloc(SIZE_MAX)");
    cr_assert_eq(errno, ENOMEM, "valloc(SIZE_MAX): errno %d", errno);
    errno = 0;
    cr_assert_null(pvalloc(opaque(SIZE_MAX - 100)), "pvalloc(SIZE_MAX - 100)");
    cr_assert_eq(errno, ENOMEM, "pvalloc(SIZE_MAX - 100): errno %d", errno);
}
