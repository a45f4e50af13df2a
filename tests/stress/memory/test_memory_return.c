/*
 * Memory goes back to the OS: after a program frees what it
 * allocated, its resident set returns to within a few MiB of where it
 * started. Measured with /proc/self/statm (statm_resident_bytes) and
 * smalloc_stats_get. The programs here use the smalloc_* API so that the
 * allocator under test is libsmalloc whatever the link order; their own
 * bookkeeping (pointer tables) lives in mmap'd memory, outside it, and is
 * unmapped before the last measurement.
 *
 * How the memory comes back (arena.h, release.h): arenas whose pools all
 * empty are unmapped, except one cached per shard whose pages are released
 * with madvise; free pools of arenas that stay mapped are released once
 * they stay free for the release delay (by the background thread), and all
 * of them on smalloc_collect(); exiting threads flush their caches and the
 * blocks parked in the transfer cache. release_idle.c checks the release
 * of a program that stops calling.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <smalloc.h>

#include "support.h"

#define MIB ((size_t)1 << 20)
#define NTHREADS 4
#define THREAD_BYTES (256 * MIB)
/* Slack allowed over the starting resident set: the cached empty arenas'
 * headers, a few pools pinned by blocks of the main thread's cache, pools
 * freed last in arenas that stay mapped, page tables. */
#define RSS_SLACK (4 * MIB)

struct worker {
    pthread_t tid;
    unsigned id;
    unsigned char **blocks; /* mmap'd table */
    size_t nblocks, table_bytes, bytes;
    struct worker *victim;  /* whose blocks this thread frees */
    pthread_barrier_t *allocated, *measured;
    int failed;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = 0x9E3779B97F4A7C15ull * (w->id + 1);
    size_t cap = w->table_bytes / sizeof *w->blocks;
    while (w->bytes < THREAD_BYTES && w->nblocks < cap) {
        size_t n = 16 + (size_t)(xorshift64(&rng) % (512 - 16 + 1));
        unsigned char *p = smalloc_malloc(n);
        if (p == NULL) {
            w->failed = 1;
            break;
        }
        /* Touch every page the block spans (blocks are at most 512 bytes). */
        p[0] = (unsigned char)w->id;
        p[n - 1] = (unsigned char)n;
        w->blocks[w->nblocks++] = p;
        w->bytes += n;
    }
    pthread_barrier_wait(w->allocated);
    pthread_barrier_wait(w->measured);
    /* Free another thread's blocks, in a shuffled order: frees cross
     * threads and shards, and pools empty only at the very end. */
    struct worker *v = w->victim;
    for (size_t i = v->nblocks; i > 1; i--) {
        size_t j = (size_t)(xorshift64(&rng) % i);
        unsigned char *t = v->blocks[i - 1];
        v->blocks[i - 1] = v->blocks[j];
        v->blocks[j] = t;
    }
    for (size_t i = 0; i < v->nblocks; i++) {
        if (v->blocks[i][0] != (unsigned char)v->id)
            w->failed = 2;
        smalloc_free(v->blocks[i]);
    }
    return NULL;
}

Test(memory_return, gigabyte_of_small_blocks_from_four_threads)
{
    struct smalloc_stats before, peak, after;
    smalloc_stats_get(&before);
    size_t rss_before = statm_resident_bytes();

    pthread_barrier_t allocated, measured;
    pthread_barrier_init(&allocated, NULL, NTHREADS + 1);
    pthread_barrier_init(&measured, NULL, NTHREADS + 1);
    struct worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (unsigned i = 0; i < NTHREADS; i++) {
        w[i].id = i;
        w[i].table_bytes = 16 * MIB; /* 2M pointers: 256 MiB / 16 bytes at most */
        w[i].blocks = map_table(w[i].table_bytes);
        w[i].victim = &w[(i + 1) % NTHREADS];
        w[i].allocated = &allocated;
        w[i].measured = &measured;
    }
    for (unsigned i = 0; i < NTHREADS; i++)
        cr_assert_eq(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);

    pthread_barrier_wait(&allocated);
    smalloc_stats_get(&peak);
    size_t rss_peak = statm_resident_bytes();
    pthread_barrier_wait(&measured);
    for (unsigned i = 0; i < NTHREADS; i++)
        pthread_join(w[i].tid, NULL);

    size_t requested = 0;
    for (unsigned i = 0; i < NTHREADS; i++) {
        cr_assert_eq(w[i].failed, 0, "thread %u: %s", i,
                     w[i].failed == 1 ? "malloc failed" : "a block lost its first byte");
        requested += w[i].bytes;
        munmap(w[i].blocks, w[i].table_bytes);
    }
    /* The release thread (release.h) may be half way through a round that
     * holds free pools of an arena about to be unmapped: let it finish
     * (a bounded wait for the state to settle, not a timing assertion). */
    smalloc_stats_get(&after);
    for (int i = 0; i < 100 && after.arenas_now > before.arenas_now + after.arenas_cached + 1; i++) {
        usleep(20 * 1000);
        smalloc_stats_get(&after);
    }
    size_t rss_after = statm_resident_bytes();

    fprintf(stderr, "memory_return: RSS before %.1f MiB, peak %.1f MiB, after %.1f MiB; "
            "requested %.1f MiB; arenas %zu -> %zu -> %zu (cached %zu); in use %zu -> %zu -> %zu bytes\n",
            (double)rss_before / MIB, (double)rss_peak / MIB, (double)rss_after / MIB,
            (double)requested / MIB, before.arenas_now, peak.arenas_now, after.arenas_now,
            after.arenas_cached, before.bytes_in_use, peak.bytes_in_use, after.bytes_in_use);

    /* The gigabyte was really there... */
    cr_assert_geq(requested, NTHREADS * THREAD_BYTES, "requested %zu bytes", requested);
    cr_assert_geq(peak.bytes_in_use, before.bytes_in_use + requested,
                  "stats at the peak: %zu bytes in use for %zu requested", peak.bytes_in_use,
                  requested);
    cr_assert_geq(rss_peak, rss_before + requested, "RSS at the peak %zu, before %zu, requested %zu",
                  rss_peak, rss_before, requested);
    /* ...and it is gone: the blocks, the arenas and the pages. */
    /* glibc keeps the exited threads' descriptors and TLS vectors (made
     * with our calloc) for reuse: a few hundred bytes per thread. */
    cr_assert_leq(after.bytes_in_use, before.bytes_in_use + 64 * 1024,
                  "bytes in use before %zu, after %zu", before.bytes_in_use, after.bytes_in_use);
    /* One more for the block pthread_create allocated for the release
     * thread (release.h; its TLS vector, made with our calloc by whichever
     * worker first freed a pool), which pins the arena it came from. */
    cr_assert_leq(after.arenas_now, before.arenas_now + after.arenas_cached + 1,
                  "arenas before %zu, after %zu (%zu cached empty)", before.arenas_now,
                  after.arenas_now, after.arenas_cached);
    cr_assert_leq(rss_after, rss_before + RSS_SLACK,
                  "RSS before %zu, after %zu: %zu KiB not returned", rss_before, rss_after,
                  (rss_after - rss_before) / 1024);
}

struct unpin {
    unsigned char **blocks;
    size_t n;
};

static void *unpin_main(void *arg)
{
    struct unpin *u = arg;
    for (size_t j = 0; j < u->n; j++)
        smalloc_free(u->blocks[j]);
    return NULL;
}

/* Arenas that stay mapped because one block in each is still live release
 * their free pools: the program keeps one 64-byte block per arena out of
 * 64 MiB and, after smalloc_collect(), its resident set is about one page
 * per arena plus the arena headers, not 64 MiB. */
Test(memory_return, pinned_arenas_release_their_free_pools)
{
    const size_t size = 64, total = 64 * MIB, count = total / size;
    struct smalloc_stats before, pinned, after;
    smalloc_stats_get(&before);
    size_t rss_before = statm_resident_bytes();

    size_t table_bytes = count * sizeof(unsigned char *);
    unsigned char **blocks = map_table(table_bytes);
    for (size_t i = 0; i < count; i++) {
        blocks[i] = smalloc_malloc(size);
        cr_assert_not_null(blocks[i], "malloc #%zu", i);
        memset(blocks[i], 0xa5, size);
    }
    /* Keep the first block met in each arena, free the rest. */
    size_t npinned = 0;
    uintptr_t last_arena = 0;
    for (size_t i = 0; i < count; i++) {
        uintptr_t arena = (uintptr_t)blocks[i] & ~(MIB - 1);
        int keep = 1;
        for (size_t j = 0; j < npinned && keep; j++)
            keep = ((uintptr_t)blocks[j] & ~(MIB - 1)) != arena;
        if (arena != last_arena && keep) {
            blocks[npinned++] = blocks[i]; /* i >= npinned: nothing lost */
            last_arena = arena;
        } else {
            smalloc_free(blocks[i]);
        }
    }
    smalloc_stats_get(&pinned);
    /* Less the pointer table, which is all resident. Pools freed within
     * the last second or two are released by smalloc_collect (or by a later
     * release round, arena.h; test_purge.c checks the rounds). */
    size_t rss_pinned = statm_resident_bytes() - table_bytes;
    smalloc_collect();
    size_t rss_collected = statm_resident_bytes() - table_bytes;
    /* The pins are freed by a thread that then exits, so they do not stay
     * in the main thread's cache; the cache it leaves for the next thread
     * goes back with smalloc_collect(). */
    struct unpin u = {blocks, npinned};
    pthread_t tid;
    cr_assert_eq(pthread_create(&tid, NULL, unpin_main, &u), 0);
    pthread_join(tid, NULL);
    smalloc_collect(); /* the thread left its cache for the next thread */
    munmap(blocks, table_bytes);
    smalloc_stats_get(&after);
    size_t rss_after = statm_resident_bytes();

    fprintf(stderr, "pinned_arenas: %zu arenas pinned; RSS before %.1f MiB, pinned %.1f MiB, "
            "collected %.1f MiB, after %.1f MiB; arenas %zu -> %zu -> %zu\n", npinned,
            (double)rss_before / MIB, (double)rss_pinned / MIB, (double)rss_collected / MIB,
            (double)rss_after / MIB, before.arenas_now, pinned.arenas_now, after.arenas_now);
    cr_assert_geq(npinned, total / MIB, "64 MiB of blocks span at least 64 arenas, got %zu",
                  npinned);
    cr_assert_geq(pinned.arenas_now, before.arenas_now + npinned - 1,
                  "the pinned arenas stay mapped: %zu before, %zu pinned, %zu now",
                  before.arenas_now, npinned, pinned.arenas_now);
    /* Per pinned arena: its header (12 KiB) and the pinned block's pool;
     * and 1 MiB for the thread cache and the rest of the process. */
    size_t allowed = npinned * 16 * 1024 + MIB;
    cr_assert_leq(rss_collected, rss_before + allowed,
                  "RSS with %zu arenas pinned, after smalloc_collect: %zu KiB over the start, "
                  "allowed %zu KiB", npinned, (rss_collected - rss_before) / 1024, allowed / 1024);
    cr_assert_leq(rss_after, rss_before + RSS_SLACK, "RSS before %zu, after %zu", rss_before,
                  rss_after);
    /* The main thread's cache keeps the last 64-byte blocks it freed (at
     * most a bin, 128 blocks, in the last arena or two filled). */
    cr_assert_leq(after.arenas_now, before.arenas_now + after.arenas_cached + 2,
                  "arenas before %zu, after %zu (%zu cached)", before.arenas_now, after.arenas_now,
                  after.arenas_cached);
}
