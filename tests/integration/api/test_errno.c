/*
 * Error cases and errno through the public API: impossible sizes fail with
 * ENOMEM (malloc, calloc overflow, reallocarray overflow), and free never
 * changes errno, whatever path the block takes back (thread cache, pool,
 * arena returned to the OS, system malloc).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <criterion/criterion.h>
#include <smalloc.h>

/* Hides a constant from the compiler, which would warn about (or fold) a
 * size it can see is impossible: the point is what the library does. */
static size_t opaque(size_t x)
{
    volatile size_t v = x;
    return v;
}

static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 7, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX};

Test(errors, malloc_of_impossible_sizes_is_enomem)
{
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        cr_assert_null(malloc(huge[i]), "malloc(%#zx)", huge[i]);
        cr_assert_eq(errno, ENOMEM, "malloc(%#zx): errno %d", huge[i], errno);
        errno = 0;
        cr_assert_null(smalloc_malloc(huge[i]), "smalloc_malloc(%#zx)", huge[i]);
        cr_assert_eq(errno, ENOMEM, "smalloc_malloc(%#zx): errno %d", huge[i], errno);
    }
}

Test(errors, calloc_overflow_is_enomem)
{
    static const size_t pairs[][2] = {
        {SIZE_MAX, 2}, {2, SIZE_MAX}, {SIZE_MAX / 2 + 1, 2}, {(size_t)1 << 32, (size_t)1 << 32},
        {SIZE_MAX, SIZE_MAX}, {3, SIZE_MAX / 3 + 1}, {(size_t)PTRDIFF_MAX + 1, 1}, {1, SIZE_MAX},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        errno = 0;
        cr_assert_null(calloc(pairs[i][0], pairs[i][1]), "calloc(%#zx, %#zx)", pairs[i][0], pairs[i][1]);
        cr_assert_eq(errno, ENOMEM, "calloc(%#zx, %#zx): errno %d", pairs[i][0], pairs[i][1], errno);
        errno = 0;
        cr_assert_null(smalloc_calloc(pairs[i][0], pairs[i][1]), "smalloc_calloc(%#zx, %#zx)", pairs[i][0],
                       pairs[i][1]);
        cr_assert_eq(errno, ENOMEM, "smalloc_calloc(%#zx, %#zx): errno %d", pairs[i][0], pairs[i][1], errno);
    }
}

Test(errors, reallocarray_of_null_overflow_is_enomem)
{
    errno = 0;
    cr_assert_null(reallocarray(NULL, opaque(SIZE_MAX / 8 + 1), 8), "reallocarray(NULL, overflow)");
    cr_assert_eq(errno, ENOMEM, "reallocarray errno %d", errno);
    errno = 0;
    cr_assert_null(smalloc_reallocarray(NULL, opaque(SIZE_MAX / 8 + 1), 8), "smalloc_reallocarray(NULL, overflow)");
    cr_assert_eq(errno, ENOMEM, "smalloc_reallocarray errno %d", errno);
}

Test(errors, success_leaves_errno_alone)
{
    for (size_t n = 0; n <= 2048; n++) {
        errno = 99;
        void *p = malloc(n);
        void *q = calloc(1, n);
        p = realloc(p, n + 300);
        cr_assert(p != NULL && q != NULL, "allocation of %zu failed", n);
        cr_assert_eq(errno, 99, "a successful allocation of %zu bytes changed errno to %d", n, errno);
        free(p);
        free(q);
    }
}

/* free of each block, errno set to a sentinel before and checked after. */
static void free_all_checking_errno(void **blocks, size_t n, void (*release)(void *), const char *name)
{
    for (size_t i = 0; i < n; i++) {
        errno = 1234;
        release(blocks[i]);
        cr_assert_eq(errno, 1234, "%s of block %zu (%p) changed errno to %d", name, i, blocks[i], errno);
    }
}

Test(errors, free_never_changes_errno)
{
    errno = 1234;
    free(NULL);
    cr_assert_eq(errno, 1234, "free(NULL) changed errno to %d", errno);
    smalloc_free(NULL);
    cr_assert_eq(errno, 1234, "smalloc_free(NULL) changed errno to %d", errno);

    /* Enough 512-byte blocks for several arenas: freeing them overflows the
     * thread cache, empties pools and returns arenas with munmap. Then
     * blocks of every size, small and large. */
    enum { N = 6 * 256 * 8 };
    static void *blocks[N];
    for (size_t i = 0; i < N; i++)
        blocks[i] = malloc(512);
    free_all_checking_errno(blocks, N, free, "free");
    for (size_t i = 0; i < N; i++)
        blocks[i] = smalloc_malloc(512);
    free_all_checking_errno(blocks, N, smalloc_free, "smalloc_free");
    for (size_t i = 0; i < N; i++)
        blocks[i] = malloc(i % 5000);
    free_all_checking_errno(blocks, N, free, "free");
    struct smalloc_stats s;
    smalloc_stats_get(&s);
    cr_assert_gt(s.arenas_freed, 0, "no arena was returned: the munmap path was not exercised");
}
