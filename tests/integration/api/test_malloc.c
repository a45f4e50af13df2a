/*
 * malloc, smalloc_malloc, calloc, smalloc_calloc and usable sizes through the
 * public API: alignment of every size, malloc(0), class sizes as usable
 * sizes, calloc zeroing blocks that were dirty when freed.
 *
 * The program links libsmalloc.so, which exports the malloc family, so
 * malloc() here is libsmalloc's (checked first, by the statistics).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "support.h"

/* Class size for smalloc_malloc(n) (8-byte steps) and malloc(n) (16-byte
 * steps, at least 16): the contract in smalloc.h (support.h). */
#define api_size api_block_size
#define abi_size malloc_block_size

Test(malloc, malloc_is_libsmalloc)
{
    struct smalloc_stats s0, s1;
    smalloc_stats_get(&s0);
    void *p = malloc(64);
    smalloc_stats_get(&s1);
    cr_assert_eq(s1.classes[7].blocks_in_use, s0.classes[7].blocks_in_use + 1,
                 "malloc(64) is not served by libsmalloc's 64-byte class");
    free(p);
}

Test(malloc, usable_size_is_the_class_size)
{
    for (size_t n = 0; n <= SMALLOC_SMALL_MAX; n++) {
        void *p = smalloc_malloc(n);
        cr_assert_eq(smalloc_usable_size(p), api_size(n), "smalloc_malloc(%zu): usable %zu", n, smalloc_usable_size(p));
        smalloc_free(p);
        p = malloc(n);
        cr_assert_eq(smalloc_usable_size(p), abi_size(n), "malloc(%zu): usable %zu", n, smalloc_usable_size(p));
        cr_assert_eq(malloc_usable_size(p), abi_size(n), "malloc(%zu): malloc_usable_size %zu", n, malloc_usable_size(p));
        free(p);
    }
    for (size_t n = SMALLOC_SMALL_MAX + 1; n <= 8192; n++) {
        void *p = smalloc_malloc(n);
        cr_assert_geq(smalloc_usable_size(p), n, "smalloc_malloc(%zu): usable %zu", n, smalloc_usable_size(p));
        smalloc_free(p);
    }
    cr_assert_eq(smalloc_usable_size(NULL), 0, "usable size of NULL");
}

Test(malloc, alignment_of_every_size)
{
    enum { N = 1024 };
    static void *api[N + 1], *abi[N + 1];
    for (size_t n = 0; n <= N; n++) {
        api[n] = smalloc_malloc(n);
        abi[n] = malloc(n);
        uintptr_t a = (uintptr_t)api[n], b = (uintptr_t)abi[n];
        cr_assert_eq(a % 8, 0, "smalloc_malloc(%zu) = %p is not 8-aligned", n, api[n]);
        if (smalloc_usable_size(api[n]) % 16 == 0)
            cr_assert_eq(a % 16, 0, "smalloc_malloc(%zu) = %p: a block of %zu bytes must be 16-aligned",
                         n, api[n], smalloc_usable_size(api[n]));
        cr_assert_eq(b % 8, 0, "malloc(%zu) = %p is not 8-aligned", n, abi[n]);
        if (n >= 16)
            cr_assert_eq(b % 16, 0, "malloc(%zu) = %p is not 16-aligned", n, abi[n]);
        fill_pattern(api[n], n, n);
        fill_pattern(abi[n], n, n + 1000000);
        /* The rest of the family follows malloc's rule. */
        void *c = calloc(1, n), *r = realloc(NULL, n), *ra = reallocarray(NULL, 1, n);
        if (n >= 16) {
            cr_assert_eq((uintptr_t)c % 16, 0, "calloc(1, %zu) = %p is not 16-aligned", n, c);
            cr_assert_eq((uintptr_t)r % 16, 0, "realloc(NULL, %zu) = %p is not 16-aligned", n, r);
            cr_assert_eq((uintptr_t)ra % 16, 0, "reallocarray(NULL, 1, %zu) = %p is not 16-aligned", n, ra);
        }
        free(c);
        free(r);
        free(ra);
    }
    for (size_t n = 0; n <= N; n++) {
        cr_assert_eq(check_pattern(api[n], n, n), -1, "smalloc_malloc(%zu) block overwritten", n);
        cr_assert_eq(check_pattern(abi[n], n, n + 1000000), -1, "malloc(%zu) block overwritten", n);
        smalloc_free(api[n]);
        free(abi[n]);
    }
}

Test(malloc, smalloc_malloc_keeps_8_byte_classes)
{
    /* smalloc_malloc(24) takes the 24-byte class: blocks at 24-byte steps
     * in a pool, so some are 8 but not 16 aligned. malloc(24) never is. */
    enum { N = 64 };
    void *p[N], *q[N];
    int odd = 0;
    for (int i = 0; i < N; i++) {
        p[i] = smalloc_malloc(24);
        q[i] = malloc(24);
        cr_assert_eq(smalloc_usable_size(p[i]), 24, "smalloc_malloc(24) usable %zu", smalloc_usable_size(p[i]));
        cr_assert_eq((uintptr_t)q[i] % 16, 0, "malloc(24) = %p", q[i]);
        odd += (uintptr_t)p[i] % 16 == 8;
    }
    cr_assert_gt(odd, 0, "64 blocks of 24 bytes and none only 8-aligned: not 24-byte classes");
    for (int i = 0; i < N; i++) {
        smalloc_free(p[i]);
        free(q[i]);
    }
}

Test(malloc, malloc_0_gives_unique_blocks)
{
    enum { N = 3000 };
    static void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = (i % 2) ? malloc(0) : smalloc_malloc(0);
        cr_assert_not_null(p[i], "malloc(0) #%d returned NULL", i);
        *(char *)p[i] = (char)i; /* one byte is ours to use: the class is 8 */
    }
    /* Sort-free uniqueness check: the blocks are 8-byte class blocks, so
     * distinct pointers are distinct blocks. */
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            cr_assert_neq(p[i], p[j], "malloc(0) #%d and #%d returned the same block", i, j);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(*(char *)p[i], (char)i, "block %d overwritten", i);
        free(p[i]);
    }
}

/* Dirty n-byte blocks, free them, calloc the same class: all zero. */
static void calloc_after_dirty(size_t n, void *(*alloc)(size_t), void *(*zalloc)(size_t, size_t),
                               void (*release)(void *), const char *name)
{
    enum { K = 40 };
    void *p[K];
    for (int i = 0; i < K; i++) {
        p[i] = alloc(n);
        memset(p[i], 0xa5, smalloc_usable_size(p[i]));
    }
    for (int i = K; i-- > 0;)
        release(p[i]);
    for (int i = 0; i < K; i++) {
        unsigned char *q = zalloc(1, n);
        cr_assert_not_null(q, "%s(1, %zu)", name, n);
        /* The thread cache is LIFO and keeps at least its 8 newest blocks
         * when it overflows: the first 8 callocs get the last 8 freed, so
         * the zeroing is tested on blocks known to be dirty. */
        if (n <= SMALLOC_SMALL_MAX && i < 8)
            cr_assert_eq(q, p[i], "%s(1, %zu) #%d did not reuse the block just freed", name, n, i);
        size_t usable = smalloc_usable_size(q);
        for (size_t j = 0; j < usable; j++)
            cr_assert_eq(q[j], 0, "%s(1, %zu) #%d: byte %zu of %zu is %#x", name, n, i, j, usable, q[j]);
        p[i] = q;
    }
    for (int i = 0; i < K; i++)
        release(p[i]);
}

Test(malloc, calloc_zeroes_reused_blocks)
{
    for (size_t n = 1; n <= 1024; n++) {
        calloc_after_dirty(n, smalloc_malloc, smalloc_calloc, smalloc_free, "smalloc_calloc");
        calloc_after_dirty(n, malloc, calloc, free, "calloc");
    }
}

Test(malloc, calloc_count_times_size)
{
    for (size_t count = 1; count <= 64; count++) {
        for (size_t size = 1; size <= 16; size++) {
            unsigned char *p = calloc(count, size);
            cr_assert_not_null(p, "calloc(%zu, %zu)", count, size);
            cr_assert_geq(smalloc_usable_size(p), count * size, "calloc(%zu, %zu) too small", count, size);
            for (size_t j = 0; j < count * size; j++)
                cr_assert_eq(p[j], 0, "calloc(%zu, %zu) byte %zu", count, size, j);
            free(p);
        }
    }
    void *z = calloc(0, 16);
    cr_assert_not_null(z, "calloc(0, 16) returns a unique block, like malloc(0)");
    free(z);
}
