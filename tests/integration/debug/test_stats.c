/*
 * Statistics through the public API (linked with libsmalloc.so): a known
 * sequence of allocations must show up exactly, class by class; the bytes
 * must add up to the bytes mapped; arenas must be returned once everything
 * is freed; the table and the JSON must carry every field of the X-macro
 * lists in smalloc.h. Each Test runs in its own process, single-threaded,
 * so snapshots taken around the planted allocations are exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <smalloc.h>

static void expect_bytes_add_up(const struct smalloc_stats *s, const char *when)
{
    size_t sum = s->bytes_in_use + s->bytes_free_blocks + s->bytes_pool_free + s->bytes_headers +
                 s->bytes_pool_tail;
    cr_assert_eq(sum, s->bytes_mapped, "%s: parts add up to %zu, mapped %zu", when, sum,
                 s->bytes_mapped);
    cr_assert_eq(s->bytes_mapped, s->arenas_now * s->arena_size, "%s", when);
}

/* A request size served by class cls through the smalloc_* API. */
static size_t size_of_class(unsigned cls)
{
    return cls == 0 ? 1 : (size_t)cls * 8 + 1;
}

Test(stats, counts_every_class_exactly)
{
    enum { PER_CLASS_MAX = 5, LARGE = 3 };
    static void *blocks[SMALLOC_NCLASSES][PER_CLASS_MAX];
    void *large[LARGE];
    struct smalloc_stats before, during, after;

    smalloc_collect();
    smalloc_stats_get(&before);
    expect_bytes_add_up(&before, "before");
    for (unsigned cls = 0; cls < SMALLOC_NCLASSES; cls++)
        for (unsigned i = 0; i < cls % PER_CLASS_MAX + 1; i++)
            blocks[cls][i] = smalloc_malloc(size_of_class(cls));
    for (unsigned i = 0; i < LARGE; i++)
        large[i] = smalloc_malloc(1000 * (i + 1));
    smalloc_stats_get(&during);
    expect_bytes_add_up(&during, "during");

    for (unsigned cls = 0; cls < SMALLOC_NCLASSES; cls++) {
        cr_assert_eq(during.classes[cls].block_size, (size_t)(cls + 1) * 8, "class %u", cls);
        size_t got = during.classes[cls].blocks_in_use - before.classes[cls].blocks_in_use;
        cr_assert_eq(got, cls % PER_CLASS_MAX + 1, "class %u: %zu more blocks in use, want %u",
                     cls, got, cls % PER_CLASS_MAX + 1);
        cr_assert(during.classes[cls].pools_in_use >= 1, "class %u has no pool", cls);
    }
    cr_assert_eq(during.fallback_calls - before.fallback_calls, LARGE);
    /* Asked of the system malloc: each request rounded up to its class of
     * the large-block cache (lib/large_cache.h), which is empty here; as
     * asked where the cache is off (without SMALLOC_OVERRIDE). */
    size_t asked = during.fallback_bytes - before.fallback_bytes;
    cr_assert(asked == 1008 + 2016 + 3008 || asked == 1000 + 2000 + 3000, "fallback bytes %zu", asked);
    /* Outside debug mode the request sizes of small blocks are not kept. */
    cr_assert_eq(during.bytes_requested, SMALLOC_STATS_UNKNOWN);
    cr_assert_eq(during.bytes_rounding, SMALLOC_STATS_UNKNOWN);
    cr_assert_eq(during.bytes_debug, 0);
    cr_assert_eq(during.bytes_quarantine, 0);

    for (unsigned cls = 0; cls < SMALLOC_NCLASSES; cls++)
        for (unsigned i = 0; i < cls % PER_CLASS_MAX + 1; i++)
            smalloc_free(blocks[cls][i]);
    for (unsigned i = 0; i < LARGE; i++)
        smalloc_free(large[i]);
    smalloc_collect();
    smalloc_stats_get(&after);
    expect_bytes_add_up(&after, "after");
    for (unsigned cls = 0; cls < SMALLOC_NCLASSES; cls++) {
        cr_assert_eq(after.classes[cls].blocks_in_use, before.classes[cls].blocks_in_use,
                     "class %u", cls);
        /* Our cache is back in the pools; another thread's (Criterion's
         * runner may have one) did not move. */
        cr_assert_eq(after.classes[cls].blocks_cached, before.classes[cls].blocks_cached,
                     "class %u: %zu cached before, %zu after", cls,
                     before.classes[cls].blocks_cached, after.classes[cls].blocks_cached);
    }
}

Test(stats, arenas_are_returned_once_everything_is_freed)
{
    enum { N = 8192 }; /* 4 MiB of 512-byte blocks: 1024 pools of 8 */
    static void *blocks[N];
    struct smalloc_stats before, during, after;

    smalloc_collect();
    smalloc_stats_get(&before);
    for (int i = 0; i < N; i++)
        blocks[i] = smalloc_malloc(512);
    smalloc_stats_get(&during);
    expect_bytes_add_up(&during, "during");

    size_t pools_per_arena = (during.arena_size - during.bytes_headers / during.arenas_now) /
                             during.pool_size;
    size_t pools = N / (during.pool_size / 512);
    size_t short_by = pools > before.pools_free ? pools - before.pools_free : 0;
    size_t new_min = (short_by + pools_per_arena - 1) / pools_per_arena;
    size_t new_max = (pools + pools_per_arena - 1) / pools_per_arena;
    size_t got = during.arenas_allocated - before.arenas_allocated;
    /* Free pools of other shards' arenas (another thread's) are not ours
     * to take, so the count is exact only between these bounds. */
    cr_assert(got >= new_min && got <= new_max,
              "%zu pools needed, %zu free before, %zu per arena: %zu..%zu new arenas "
              "expected, %zu mapped",
              pools, before.pools_free, pools_per_arena, new_min, new_max, got);
    cr_assert_eq(during.classes[63].blocks_in_use - before.classes[63].blocks_in_use, N);
    if (before.classes[63].pools_in_use == 0)
        cr_assert_eq(during.classes[63].pools_in_use, pools, "one pool per 8 blocks");
    cr_assert(during.arenas_highest >= during.arenas_now);

    for (int i = 0; i < N; i++)
        smalloc_free(blocks[i]);
    smalloc_collect();
    smalloc_stats_get(&after);
    expect_bytes_add_up(&after, "after");
    /* Every arena that was not in use before is empty again: returned, or
     * kept empty for reuse (arenas_cached). */
    cr_assert_eq(after.arenas_now - after.arenas_cached, before.arenas_now - before.arenas_cached,
                 "non-empty arenas: %zu after, %zu before", after.arenas_now - after.arenas_cached,
                 before.arenas_now - before.arenas_cached);
    size_t returned = after.arenas_freed - before.arenas_freed;
    size_t mapped = after.arenas_allocated - before.arenas_allocated;
    cr_assert_eq(returned, mapped - (after.arenas_cached - before.arenas_cached),
                 "%zu mapped, %zu returned, kept empty %zu -> %zu", mapped, returned,
                 before.arenas_cached, after.arenas_cached);
    cr_assert(returned >= 1, "no arena returned (%zu mapped)", mapped);
    cr_assert_eq(after.classes[63].blocks_in_use, before.classes[63].blocks_in_use);
}

static char *printed(void (*print)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    print(f);
    fclose(f);
    return buf;
}

Test(stats, table_prints_every_field)
{
    void *p = smalloc_malloc(24);
    char *out = printed(smalloc_stats_print);
    char first[64];
    snprintf(first, sizeof first, "libsmalloc %s statistics\n", smalloc_version());
    cr_assert_eq(strncmp(out, first, strlen(first)), 0, "first line:\n%s", out);
#define CHECK_LABEL(field, group, label, unit, doc) \
    cr_assert(strstr(out, "\n  " label " ") != NULL, "no line for " #field ":\n%s", out);
    SMALLOC_STATS_FIELDS(CHECK_LABEL)
#undef CHECK_LABEL
#define CHECK_HEAD(field, group, label, unit, doc) \
    cr_assert(strstr(out, label) != NULL, "no column for " #field ":\n%s", out);
    SMALLOC_CLASS_STATS_FIELDS(CHECK_HEAD)
#undef CHECK_HEAD
    /* The 24-byte block's class has a row, named by its block size. */
    cr_assert(strstr(out, "\n         24 ") != NULL, "no row for the 24-byte class:\n%s", out);
    free(out);
    smalloc_free(p);
}

Test(stats, json_prints_every_field_on_one_line)
{
    void *p = smalloc_malloc(24);
    char *out = printed(smalloc_stats_print_json);
    size_t len = strlen(out);
    cr_assert(len > 2 && out[0] == '{' && out[len - 2] == '}' && out[len - 1] == '\n',
              "not one object on one line:\n%s", out);
    cr_assert_null(memchr(out, '\n', len - 1), "more than one line:\n%s", out);
#define CHECK_KEY(field, group, label, unit, doc) \
    cr_assert(strstr(out, "\"" #field "\":") != NULL, "no key " #field ":\n%s", out);
    SMALLOC_STATS_FIELDS(CHECK_KEY)
    SMALLOC_CLASS_STATS_FIELDS(CHECK_KEY)
#undef CHECK_KEY
    cr_assert(strstr(out, "\"bytes_requested\":null,\"bytes_rounding\":null,") != NULL,
              "unknown values are not null:\n%s", out);
    cr_assert(strstr(out, "{\"block_size\":24,") != NULL, "no 24-byte class:\n%s", out);
    int depth = 0;
    for (const char *c = out; *c; c++) {
        depth += (*c == '{' || *c == '[') - (*c == '}' || *c == ']');
        cr_assert(depth >= 0, "unbalanced at offset %td:\n%s", c - out, out);
    }
    cr_assert_eq(depth, 0, "unbalanced:\n%s", out);
    free(out);
    smalloc_free(p);
}
