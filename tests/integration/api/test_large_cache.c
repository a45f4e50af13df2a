/*
 * The large-block cache (lib/large_cache.h) through the public API: freed
 * blocks of 513 bytes to 16 KiB come back to the next request of their
 * class, the cache stays within its bounds, and it is emptied by
 * smalloc_collect() and by the exit of its thread; realloc of such a block
 * stays in place within its usable size and moves through the cache with
 * headroom. The program's malloc is
 * libsmalloc's (linked), so the system malloc behind it is glibc's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <smalloc.h>

#include "support.h"

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

/* A thread that caches 10 blocks and waits, alive, while the main thread
 * forks. */
struct holder {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int cached, release;
};

static void *cache_10_and_wait(void *arg)
{
    struct holder *h = arg;
    void *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = malloc(3000);
    for (int i = 0; i < 10; i++)
        free(p[i]);
    pthread_mutex_lock(&h->lock);
    h->cached = 1;
    pthread_cond_broadcast(&h->cond);
    while (!h->release)
        pthread_cond_wait(&h->cond, &h->lock);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* The other threads of a forking process are not in its child: the blocks
 * their caches hold go back to glibc there, so the child's statistics show
 * none, and the child's own cache still works. */
Test(large_cache, a_fork_child_gives_back_the_other_threads_caches)
{
    smalloc_collect();
    struct holder h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, cache_10_and_wait, &h), 0);
    pthread_mutex_lock(&h.lock);
    while (!h.cached)
        pthread_cond_wait(&h.cond, &h.lock);
    pthread_mutex_unlock(&h.lock);
    size_t parent = snapshot().large_cache_blocks;
    cr_assert_geq(parent, 10, "the waiting thread caches %zu blocks", parent);

    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        size_t child = snapshot().large_cache_blocks;
        void *p = malloc(3000);
        free(p);
        size_t after = snapshot().large_cache_blocks;
        _exit(child == 0 && after == 1 ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child still counted the other thread's cached blocks (status %#x)", status);
    cr_assert_eq(snapshot().large_cache_blocks, parent, "the parent's caches changed");

    pthread_mutex_lock(&h.lock);
    h.release = 1;
    pthread_cond_broadcast(&h.cond);
    pthread_mutex_unlock(&h.lock);
    pthread_join(t, NULL);
    smalloc_collect();
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

/* ---- realloc of a block of glibc's (sm_large_cache_realloc) ------------ */

/* Within its usable size, down to half of it, a block stays where it is,
 * as large as it was, without a call to glibc (whose realloc would split
 * the chunk at every shrink and is counted in fallback_calls). */
Test(large_cache_realloc, stays_in_place_within_its_usable_size_down_to_half)
{
    unsigned char *p = malloc(4000);
    cr_assert_not_null(p);
    size_t usable = malloc_usable_size(p);
    fill_pattern(p, 4000, 1);
    struct smalloc_stats before = snapshot();
    size_t sizes[] = {usable, 4001, 3000, usable / 2 + 1, usable / 2, usable};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *q = realloc(p, sizes[i]);
        cr_assert_eq(q, p, "realloc(%zu) of a block of %zu usable bytes moved it", sizes[i], usable);
        cr_assert_eq(malloc_usable_size(q), usable, "realloc(%zu) changed the usable size to %zu", sizes[i],
                     malloc_usable_size(q));
    }
    cr_assert_eq(check_pattern(p, usable / 2, 1), -1, "contents changed");
    struct smalloc_stats after = snapshot();
    cr_assert_eq(after.fallback_calls, before.fallback_calls, "%zu calls to glibc",
                 after.fallback_calls - before.fallback_calls);
    free(p);
}

/* Below half of its usable size, glibc's realloc shrinks it. */
Test(large_cache_realloc, shrinks_below_half_of_its_usable_size)
{
    unsigned char *p = malloc(8000);
    cr_assert_not_null(p);
    size_t usable = malloc_usable_size(p);
    fill_pattern(p, 8000, 2);
    unsigned char *q = realloc(p, usable / 2 - 600);
    cr_assert_not_null(q);
    cr_assert_lt(malloc_usable_size(q), usable / 2, "realloc(%zu) of %zu usable bytes kept %zu", usable / 2 - 600,
                 usable, malloc_usable_size(q));
    cr_assert_eq(check_pattern(q, usable / 2 - 600, 2), -1, "contents lost");
    free(q);
}

/* Growing past its usable size, a block moves to one with at least an
 * eighth more room (glibc's realloc gives it the next 16 bytes), and the
 * old one goes to the cache. */
Test(large_cache_realloc, a_growing_block_moves_with_headroom_and_the_old_one_is_cached)
{
    smalloc_collect();
    unsigned char *p = malloc(1000);
    cr_assert_not_null(p);
    size_t usable = malloc_usable_size(p);
    fill_pattern(p, usable, 3);
    struct smalloc_stats before = snapshot();
    unsigned char *q = realloc(p, usable + 1);
    cr_assert_not_null(q);
    struct smalloc_stats after = snapshot();
    cr_assert_neq(q, p, "realloc(%zu) of a block of %zu usable bytes did not move it", usable + 1, usable);
    cr_assert_geq(malloc_usable_size(q), usable + usable / 8, "moved to a block of %zu usable bytes",
                  malloc_usable_size(q));
    cr_assert_eq(check_pattern(q, usable, 3), -1, "contents lost");
    cr_assert_eq(after.large_cache_blocks, before.large_cache_blocks + 1, "the old block was not cached");
    void *r = malloc(1000);
    cr_assert_eq(r, p, "malloc(1000) did not get the old block back from the cache");
    free(r);
    free(q);
    smalloc_collect();
}

/* A string growing by 8 bytes from 600 to 16000 moves O(log) times, each
 * move at most one call to glibc, and keeps its contents. */
Test(large_cache_realloc, a_string_growing_by_small_steps_moves_few_times_and_keeps_its_contents)
{
    smalloc_collect();
    size_t len = 600;
    unsigned char *s = malloc(len);
    cr_assert_not_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = (unsigned char)(i * 7 + 1);
    struct smalloc_stats before = snapshot();
    size_t moves = 0;
    while (len + 8 <= 16000) {
        unsigned char *t = realloc(s, len + 8);
        cr_assert_not_null(t);
        if (t != s) {
            moves++;
            for (size_t i = 0; i < len; i++)
                cr_assert_eq(t[i], (unsigned char)(i * 7 + 1), "byte %zu of %zu lost by a move", i, len);
        }
        for (size_t i = len; i < len + 8; i++)
            t[i] = (unsigned char)(i * 7 + 1);
        s = t;
        len += 8;
    }
    struct smalloc_stats after = snapshot();
    cr_assert_leq(moves, 40, "%zu moves growing from 600 to %zu bytes", moves, len);
    cr_assert_leq(after.fallback_calls - before.fallback_calls, moves, "%zu calls to glibc for %zu moves",
                  after.fallback_calls - before.fallback_calls, moves);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(s[i], (unsigned char)(i * 7 + 1), "byte %zu of %zu", i, len);
    free(s);
    smalloc_collect();
}

/* Failure is glibc's realloc's: NULL, errno = ENOMEM, the block untouched,
 * for a size no one can serve. */
Test(large_cache_realloc, a_huge_size_fails_with_enomem_and_leaves_the_block)
{
    unsigned char *p = malloc(2000);
    cr_assert_not_null(p);
    fill_pattern(p, 2000, 4);
    size_t sizes[] = {PTRDIFF_MAX, SIZE_MAX, (size_t)1 << 60};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        errno = 0;
        cr_assert_null(realloc(p, sizes[i]), "realloc(%zu)", sizes[i]);
        cr_assert_eq(errno, ENOMEM, "realloc(%zu): errno %d", sizes[i], errno);
        cr_assert_eq(check_pattern(p, 2000, 4), -1, "realloc(%zu) changed the block", sizes[i]);
    }
    free(p);
}

/* Failure within the cache's sizes: with the address space exhausted
 * (RLIMIT_AS) and the cache empty, a move finds no block: NULL, ENOMEM,
 * the block untouched and still usable in place. The hoard of blocks that
 * exhausted it is a list threaded through the blocks themselves. */
Test(large_cache_realloc, a_move_without_memory_fails_with_enomem_and_leaves_the_block)
{
    smalloc_collect();
    unsigned char *p = malloc(1000);
    cr_assert_not_null(p);
    size_t usable = malloc_usable_size(p);
    fill_pattern(p, usable, 5);
    size_t vm = 0, rss = 0;
    cr_assert_eq(statm_read(&vm, &rss), 0);
    struct rlimit old;
    cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
    struct rlimit tight = {vm + ((size_t)32 << 20), old.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_AS, &tight), 0);
    void *hoard = NULL;
    static const size_t sizes[] = {(size_t)1 << 20, 65536, 16000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void **b;
        while ((b = malloc(sizes[i])) != NULL) {
            *b = hoard;
            hoard = b;
        }
    }
    errno = 0;
    void *q = realloc(p, 16000);
    int saved_errno = errno;
    void *in_place = realloc(p, usable);
    while (hoard != NULL) {
        void *next = *(void **)hoard;
        free(hoard);
        hoard = next;
    }
    setrlimit(RLIMIT_AS, &old);
    cr_assert_null(q, "realloc(16000) succeeded with no memory left");
    cr_assert_eq(saved_errno, ENOMEM, "errno %d", saved_errno);
    cr_assert_eq(in_place, p, "realloc within its usable size after the failure moved it");
    cr_assert_eq(check_pattern(p, usable, 5), -1, "the failed realloc changed the block");
    free(p);
    smalloc_collect();
}

/* A block that realloc moved is in the large-block cache: freeing it
 * again, or reallocating it, is reported as libsmalloc's cached blocks are
 * (glibc's realloc would have freed it inside glibc, whose own report
 * differs). */
static void free_after_move(void *arg)
{
    (void)arg;
    void *p = malloc(1000);
    void *q = realloc(p, 3000);
    free(p);
    free(q);
    _exit(0);
}

static void realloc_after_move(void *arg)
{
    size_t n = *(const size_t *)arg;
    void *p = malloc(1000);
    void *q = realloc(p, 3000);
    void *r = realloc(p, n);
    free(q);
    free(r);
    _exit(0);
}

Test(large_cache_realloc, a_double_free_of_a_moved_block_is_caught)
{
    struct captured c;
    fork_and_capture(free_after_move, NULL, &c);
    cr_assert_eq(c.signal, SIGABRT, "child: signal %d, exit %d; stderr:\n%s", c.signal, c.exit_code, c.err);
    cr_assert(strstr(c.err, "smalloc: free(): double free detected (block is in the large-block cache)") == c.err,
              "stderr of the child: %s", c.err);
    static const size_t sizes[] = {900, 2000}; /* in place, moving */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        fork_and_capture(realloc_after_move, &n, &c);
        cr_assert_eq(c.signal, SIGABRT, "realloc(%zu): signal %d, exit %d; stderr:\n%s", n, c.signal, c.exit_code,
                     c.err);
        cr_assert(strstr(c.err, "smalloc: realloc(): block already freed (it is in the large-block cache)") == c.err,
                  "realloc(%zu): stderr of the child: %s", n, c.err);
    }
}
