/*
 * The large-block cache (lib/large_cache.h) through the public API: freed
 * blocks of 513 bytes to 16 KiB come back to the next request of their
 * class, the cache stays within its bounds, and it is emptied by
 * smalloc_collect() and by the exit of its thread. The program's malloc is
 * libsmalloc's (linked), so the system malloc behind it is glibc's.
 */
#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

#include <smalloc.h>

static struct smalloc_stats snapshot(void)
{
    struct smalloc_stats s;
    smalloc_stats_get(&s);
    return s;
}

Test(large_cache, a_freed_block_serves_the_next_request_of_its_class)
{
    for (size_t n = 513; n <= 16384; n += 97) {
        smalloc_collect(); /* each class on its own */
        void *p = malloc(n);
        cr_assert_not_null(p);
        cr_assert_geq(malloc_usable_size(p), n, "malloc(%zu)", n);
        struct smalloc_stats before = snapshot();
        free(p);
        struct smalloc_stats cached = snapshot();
        cr_assert_eq(cached.large_cache_blocks, before.large_cache_blocks + 1, "free of %zu bytes", n);
        void *q = malloc(n);
        struct smalloc_stats after = snapshot();
        cr_assert_eq(q, p, "malloc(%zu) after free: %p, want the cached %p", n, q, p);
        cr_assert_eq(after.large_cache_hits, cached.large_cache_hits + 1, "malloc(%zu)", n);
        cr_assert_eq(after.fallback_calls, cached.fallback_calls, "malloc(%zu) reached glibc", n);
        free(q);
    }
    smalloc_collect();
    struct smalloc_stats empty = snapshot();
    cr_assert_eq(empty.large_cache_blocks, 0, "after smalloc_collect: %zu blocks", empty.large_cache_blocks);
    cr_assert_eq(empty.large_cache_bytes, 0);
}

/* A request whose bin is empty takes a cached block of one of the 12
 * classes above it (at most 40% larger), never a smaller one. */
Test(large_cache, an_empty_bin_borrows_from_the_nearest_larger_classes)
{
    smalloc_collect();
    void *p = malloc(2000); /* class 62: 1985..2016 */
    cr_assert_not_null(p);
    free(p);
    void *smaller_too_far = malloc(1590); /* class 49: 13 below */
    cr_assert_neq(smaller_too_far, p, "a block 13 classes up served malloc(1590)");
    void *larger = malloc(2040); /* class 63 */
    cr_assert_neq(larger, p, "a smaller block served malloc(2040)");
    size_t hits = snapshot().large_cache_hits;
    void *q = malloc(1800); /* class 56: 6 below */
    cr_assert_eq(q, p, "malloc(1800) did not take the cached 2000-byte block");
    cr_assert_eq(snapshot().large_cache_hits, hits + 1);
    cr_assert_geq(malloc_usable_size(q), 2000);
    free(q);
    free(larger);
    free(smaller_too_far);
    smalloc_collect();
}

/* The room of a thread's cache follows the bytes in use at the cache's
 * sizes (an eighth of them, at least 128 KiB, at most SMALLOC_LARGE_CACHE,
 * 2 MiB), looked at every 1024 requests and frees: with 14 MiB in use the
 * frees fill far more than 128 KiB; with little in use it is 128 KiB. */
Test(large_cache, its_room_follows_the_bytes_in_use)
{
    enum { N = 2000 };
    static void *blocks[N];
    smalloc_collect();
    for (size_t i = 0; i < N; i++)
        blocks[i] = malloc(600 + (i % 20) * 700);
    for (size_t i = 0; i < N; i++)
        free(blocks[i]);
    struct smalloc_stats grown = snapshot();
    cr_assert_gt(grown.large_cache_bytes, (size_t)512 << 10, "%zu bytes cached", grown.large_cache_bytes);
    cr_assert_leq(grown.large_cache_bytes, (size_t)2 << 20, "%zu bytes cached", grown.large_cache_bytes);

    /* Two looks at the room with (nearly) nothing in use: back to 128 KiB. */
    smalloc_collect();
    for (size_t i = 0; i < 1100; i++)
        free(malloc(600 + (i % 20) * 700));
    for (size_t i = 0; i < 100; i++)
        blocks[i] = malloc(600 + (i % 20) * 700);
    for (size_t i = 0; i < 100; i++)
        free(blocks[i]);
    struct smalloc_stats small = snapshot();
    cr_assert_leq(small.large_cache_bytes, (size_t)128 << 10, "%zu bytes cached", small.large_cache_bytes);
    cr_assert_gt(small.large_cache_blocks, 0);

    /* Larger than the cache serves: always glibc's. */
    void *big = malloc(16385);
    struct smalloc_stats before = snapshot();
    free(big);
    cr_assert_eq(snapshot().large_cache_blocks, before.large_cache_blocks, "a 16385-byte block was cached");
    smalloc_collect();
}

static void *churn_and_exit(void *arg)
{
    (void)arg;
    void *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = malloc(2000);
    for (int i = 0; i < 10; i++)
        free(p[i]);
    return NULL;
}

static void *malloc_2000(void *arg)
{
    *(void **)arg = malloc(2000);
    return NULL;
}

/* An exiting thread leaves its cache to the next thread to start, which
 * reuses its blocks; smalloc_collect() gives back what is left. */
Test(large_cache, a_thread_exit_leaves_its_cache_to_the_next_thread)
{
    smalloc_collect();
    size_t before = snapshot().large_cache_blocks;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, churn_and_exit, NULL), 0);
    pthread_join(t, NULL);
    size_t left = snapshot().large_cache_blocks;
    cr_assert_eq(left, before + 10, "blocks cached %zu -> %zu across a thread that exited", before, left);
    size_t hits = snapshot().large_cache_hits;
    void *p = NULL;
    cr_assert_eq(pthread_create(&t, NULL, malloc_2000, &p), 0);
    pthread_join(t, NULL);
    cr_assert_eq(snapshot().large_cache_hits, hits + 1, "the next thread did not reuse a left block");
    free(p);
    smalloc_collect();
    cr_assert_eq(snapshot().large_cache_blocks, 0, "after smalloc_collect: %zu blocks cached",
                 snapshot().large_cache_blocks);
}

/* calloc of a block the cache handed out before is zeroed like any other. */
Test(large_cache, calloc_and_realloc_of_cached_blocks)
{
    unsigned char *p = malloc(3000);
    for (size_t i = 0; i < 3000; i++)
        p[i] = 0xab;
    free(p);
    unsigned char *c = calloc(1, 3000);
    for (size_t i = 0; i < 3000; i++)
        cr_assert_eq(c[i], 0, "calloc byte %zu", i);
    unsigned char *r = realloc(c, 9000);
    cr_assert_not_null(r);
    for (size_t i = 0; i < 3000; i++)
        cr_assert_eq(r[i], 0, "realloc byte %zu", i);
    free(r);
}
