/*
 * Statistics in debug mode (run with SMALLOC_DEBUG=1 by CTest): every
 * block's request size is known there, so the bytes requested and the
 * bytes a normal run loses to rounding must move by exactly what a known
 * sequence of allocations asks for.
 */
#include <criterion/criterion.h>

#include <smalloc.h>

#include "support.h"

Test(stats_debug, requested_and_rounding_are_exact)
{
    enum { N = 100 };
    static void *blocks[N];
    struct smalloc_stats before, during, after;

    smalloc_stats_get(&before);
    cr_assert_neq(before.bytes_requested, SMALLOC_STATS_UNKNOWN,
                  "not in debug mode: run with SMALLOC_DEBUG=1");
    size_t requested = 0, rounding = 0;
    for (size_t i = 0; i < N; i++) {
        size_t n = 1 + i * 4; /* 1..397: every one in a pool-backed debug block */
        blocks[i] = smalloc_malloc(n);
        requested += n;
        rounding += api_block_size(n) - n; /* smalloc_* classes: multiples of 8 */
    }
    smalloc_stats_get(&during);
    cr_assert_eq(during.bytes_requested - before.bytes_requested, requested);
    cr_assert_eq(during.bytes_rounding - before.bytes_rounding, rounding);
    /* Each debug block carries a 64-byte header (and guard bytes). */
    cr_assert(during.bytes_debug - before.bytes_debug >= N * 64,
              "debug overhead grew by %zu", during.bytes_debug - before.bytes_debug);
    size_t parts = during.bytes_requested + during.bytes_rounding + during.bytes_debug +
                   during.bytes_quarantine;
    cr_assert_eq(parts, during.bytes_in_use, "in use %zu, parts %zu", during.bytes_in_use, parts);

    for (size_t i = 0; i < N; i++)
        smalloc_free(blocks[i]);
    smalloc_stats_get(&after);
    cr_assert_eq(after.bytes_requested, before.bytes_requested);
    cr_assert_eq(after.bytes_rounding, before.bytes_rounding);
    /* The freed blocks wait in the quarantine, still in use for the pools. */
    parts = after.bytes_requested + after.bytes_rounding + after.bytes_debug +
            after.bytes_quarantine;
    cr_assert_eq(parts, after.bytes_in_use, "in use %zu, parts %zu", after.bytes_in_use, parts);
    cr_assert(after.bytes_quarantine > 0);
}
