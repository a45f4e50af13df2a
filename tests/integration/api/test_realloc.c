/*
 * realloc, reallocarray and their smalloc_* twins through the public API:
 * contents kept across the 512-byte line in both directions, in place
 * within a class, glibc's realloc(p, 0) and realloc(NULL, n), and failures
 * that leave the old block as it was.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "support.h"

struct api {
    const char *name;
    void *(*alloc)(size_t);
    void *(*resize)(void *, size_t);
    void *(*resize_array)(void *, size_t, size_t);
    void (*release)(void *);
};

static const struct api apis[] = {
    {"realloc", malloc, realloc, reallocarray, free},
    {"smalloc_realloc", smalloc_malloc, smalloc_realloc, smalloc_reallocarray, smalloc_free},
};

Test(realloc, keeps_contents_across_512_both_ways)
{
    for (size_t k = 0; k < 2; k++) {
        const struct api *a = &apis[k];
        for (size_t n = 1; n <= 600; n++) {
            size_t big = (n > 512 ? n : 512) + 1 + (n * 37) % 4000; /* above the line, above n */
            unsigned char *p = a->alloc(n);
            fill_pattern(p, n, n);
            unsigned char *q = a->resize(p, big);
            cr_assert_not_null(q, "%s(%zu -> %zu)", a->name, n, big);
            cr_assert_eq(check_pattern(q, n, n), -1, "%s(%zu -> %zu) lost byte %ld", a->name, n, big,
                         check_pattern(q, n, n));
            fill_pattern(q, big, big);
            /* Down to n, which for n <= 512 is an arena block again. */
            unsigned char *r = a->resize(q, n);
            cr_assert_not_null(r, "%s(%zu -> %zu)", a->name, big, n);
            cr_assert_eq(check_pattern(r, n, big), -1, "%s(%zu -> %zu) lost byte %ld", a->name, big, n,
                         check_pattern(r, n, big));
            cr_assert_geq(smalloc_usable_size(r), n, "%s(%zu -> %zu) too small", a->name, big, n);
            /* And between small classes: up by one class and back. */
            if (n + 8 <= SMALLOC_SMALL_MAX) {
                fill_pattern(r, n, 7 * n);
                unsigned char *s = a->resize(r, n + 8);
                cr_assert_eq(check_pattern(s, n, 7 * n), -1, "%s(%zu -> %zu)", a->name, n, n + 8);
                r = a->resize(s, n);
                cr_assert_eq(check_pattern(r, n, 7 * n), -1, "%s(%zu -> %zu)", a->name, n + 8, n);
            }
            a->release(r);
        }
    }
}

Test(realloc, stays_in_place_within_its_class)
{
    for (size_t k = 0; k < 2; k++) {
        const struct api *a = &apis[k];
        for (size_t n = 1; n <= SMALLOC_SMALL_MAX; n++) {
            void *p = a->alloc(n);
            size_t usable = smalloc_usable_size(p);
            /* Every size that maps to the same class: from usable - 7 (8-byte
             * classes) or usable - 15 (16-byte classes) up to usable. */
            for (size_t m = usable; m > 0 && m + 16 > usable; m--) {
                void *q = a->resize(p, m);
                if (smalloc_usable_size(q) == usable)
                    cr_assert_eq(q, p, "%s(%zu -> %zu): moved within class %zu", a->name, n, m, usable);
                p = q;
            }
            a->release(p);
        }
    }
}

Test(realloc, null_is_malloc_and_zero_is_free)
{
    for (size_t k = 0; k < 2; k++) {
        const struct api *a = &apis[k];
        void *p = a->resize(NULL, 40);
        cr_assert_not_null(p, "%s(NULL, 40)", a->name);
        cr_assert_geq(smalloc_usable_size(p), 40, "%s(NULL, 40)", a->name);
        void *z = a->resize(NULL, 0);
        cr_assert_not_null(z, "%s(NULL, 0) is malloc(0)", a->name);
        a->release(z);

        /* realloc(p, 0) frees p: the class's blocks in use drop by one. */
        size_t cls = smalloc_usable_size(p) / 8 - 1;
        struct smalloc_stats s0, s1;
        smalloc_stats_get(&s0);
        errno = 4321;
        void *r = a->resize(p, 0);
        cr_assert_null(r, "%s(p, 0) must return NULL (glibc)", a->name);
        cr_assert_eq(errno, 4321, "%s(p, 0) changed errno to %d", a->name, errno);
        smalloc_stats_get(&s1);
        cr_assert_eq(s1.classes[cls].blocks_in_use + 1, s0.classes[cls].blocks_in_use,
                     "%s(p, 0) did not free p (class %zu in use %zu -> %zu)", a->name, cls,
                     s0.classes[cls].blocks_in_use, s1.classes[cls].blocks_in_use);
        /* Same for a block from the fallback: no crash, NULL. */
        void *big = a->alloc(5000);
        cr_assert_null(a->resize(big, 0), "%s(big, 0)", a->name);
    }
}

/* A failed resize returns NULL with ENOMEM and leaves p as it was. */
static void assert_failed_resize_keeps(const struct api *a, size_t n, size_t to)
{
    unsigned char *p = a->alloc(n);
    fill_pattern(p, n, n ^ to);
    size_t usable = smalloc_usable_size(p);
    errno = 0;
    void *q = a->resize(p, to);
    cr_assert_null(q, "%s(%zu -> %#zx) succeeded", a->name, n, to);
    cr_assert_eq(errno, ENOMEM, "%s(%zu -> %#zx): errno %d", a->name, n, to, errno);
    cr_assert_eq(check_pattern(p, n, n ^ to), -1, "%s(%zu -> %#zx) damaged the old block", a->name, n, to);
    cr_assert_eq(smalloc_usable_size(p), usable, "%s(%zu -> %#zx) changed the old block", a->name, n, to);
    /* Still a live block: it can grow for real, then be freed. */
    unsigned char *r = a->resize(p, n + 100);
    cr_assert_not_null(r, "%s after a failure", a->name);
    cr_assert_eq(check_pattern(r, n, n ^ to), -1, "%s after a failure lost the contents", a->name);
    a->release(r);
}

Test(realloc, failure_leaves_the_old_block_intact)
{
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX};
    static const size_t from[] = {1, 8, 24, 100, 512, 513, 4096, 100000};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < sizeof from / sizeof from[0]; i++)
            for (size_t j = 0; j < sizeof huge / sizeof huge[0]; j++)
                assert_failed_resize_keeps(&apis[k], from[i], huge[j]);
}

Test(realloc, reallocarray_overflow_keeps_the_block)
{
    for (size_t k = 0; k < 2; k++) {
        const struct api *a = &apis[k];
        for (size_t n = 8; n <= 1024; n *= 2) {
            unsigned char *p = a->alloc(n);
            fill_pattern(p, n, n);
            errno = 0;
            cr_assert_null(a->resize_array(p, SIZE_MAX / 2 + 1, 2), "%s: count * size overflows", a->name);
            cr_assert_eq(errno, ENOMEM, "%s overflow: errno %d", a->name, errno);
            errno = 0;
            cr_assert_null(a->resize_array(p, (size_t)1 << 32, (size_t)1 << 32), "%s: 2^64", a->name);
            cr_assert_eq(errno, ENOMEM, "%s 2^64: errno %d", a->name, errno);
            cr_assert_eq(check_pattern(p, n, n), -1, "%s overflow damaged the block", a->name);
            /* A product that fits resizes as realloc would. */
            unsigned char *q = a->resize_array(p, 3, n);
            cr_assert_not_null(q, "%s(p, 3, %zu)", a->name, n);
            cr_assert_geq(smalloc_usable_size(q), 3 * n, "%s(p, 3, %zu)", a->name, n);
            cr_assert_eq(check_pattern(q, n, n), -1, "%s(p, 3, %zu) lost contents", a->name, n);
            a->release(q);
        }
    }
}
