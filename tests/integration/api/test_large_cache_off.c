/*
 * With SMALLOC_LARGE_CACHE=0 (set by CMake for this program) the
 * large-block cache is off, and realloc of a block above 512 bytes is
 * glibc's realloc, as before the cache had a realloc: each call is one
 * request to glibc (fallback_calls) and a shrink splits the chunk.
 */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdlib.h>

#include <smalloc.h>

#include "support.h"

Test(large_cache_off, realloc_is_glibcs)
{
    unsigned char *p = malloc(4000);
    cr_assert_not_null(p);
    size_t usable = malloc_usable_size(p);
    fill_pattern(p, 4000, 6);
    struct smalloc_stats before;
    smalloc_stats_get(&before);
    unsigned char *q = realloc(p, 3000); /* within half: the cache would keep it whole */
    cr_assert_not_null(q);
    cr_assert_lt(malloc_usable_size(q), usable, "realloc(3000) kept all %zu usable bytes", usable);
    unsigned char *r = realloc(q, 6000);
    cr_assert_not_null(r);
    struct smalloc_stats after;
    smalloc_stats_get(&after);
    cr_assert_eq(after.fallback_calls, before.fallback_calls + 2, "%zu calls to glibc for 2 reallocs",
                 after.fallback_calls - before.fallback_calls);
    cr_assert_eq(after.large_cache_hits, 0);
    cr_assert_eq(after.large_cache_blocks, 0);
    cr_assert_eq(check_pattern(r, 3000, 6), -1, "contents lost");
    free(r);
}
