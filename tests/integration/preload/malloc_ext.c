/*
 * glibc's malloc extensions (malloc_trim, mallinfo2, mallinfo, malloc_stats,
 * malloc_info) from a program that knows nothing of libsmalloc: it gets it
 * from LD_PRELOAD, or (built a second time) linked with libsmalloc.so.
 * malloc_ext.sh runs it and checks what it prints.
 *   malloc_ext trim    32 MiB of 64-byte blocks: mallinfo2/mallinfo see
 *                      them; freed in random order, malloc_trim(0) returns
 *                      1 and the resident set drops; again, it returns 0.
 *                      One line per figure, "name value".
 *   malloc_ext info    malloc_info(0, stdout) with small and large blocks
 *                      live; malloc_info(1, ...) must return EINVAL.
 *   malloc_ext stats   malloc_stats() with small and large blocks live.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support.h"

#define LIVE_BYTES ((size_t)32 << 20)
#define BLOCK 64

/* From /proc/self/statm with read(2) (statm_read): stdio would allocate
 * its buffer in glibc's heap, growing glibc's top chunk between two
 * malloc_trim calls. */
static size_t resident_bytes(void)
{
    size_t resident;
    if (statm_read(NULL, &resident) != 0) {
        fprintf(stderr, "cannot read /proc/self/statm\n");
        exit(2);
    }
    return resident;
}

static void print_mallinfo2(const char *when)
{
    struct mallinfo2 m = mallinfo2();
    printf("mallinfo2.%s arena=%zu ordblks=%zu smblks=%zu hblks=%zu hblkhd=%zu usmblks=%zu "
           "fsmblks=%zu uordblks=%zu fordblks=%zu keepcost=%zu\n",
           when, m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks, m.fsmblks,
           m.uordblks, m.fordblks, m.keepcost);
}

static int trim(void)
{
    size_t n = LIVE_BYTES / BLOCK;
    void **p = map_table(n * sizeof *p); /* outside both heaps */
    size_t rss_start = resident_bytes();
    for (size_t i = 0; i < n; i++) {
        p[i] = malloc(BLOCK);
        if (p[i] == NULL)
            return 2;
        memset(p[i], 0xa5, BLOCK);
    }
    printf("live_bytes %zu\n", LIVE_BYTES);
    print_mallinfo2("live");
    struct mallinfo2 m = mallinfo2();
    printf("mallinfo2_uordblks %zu\n", m.uordblks);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    struct mallinfo mi = mallinfo();
#pragma GCC diagnostic pop
    printf("mallinfo_uordblks %d\n", mi.uordblks);
    printf("mallinfo_arena %d\n", mi.arena);
    /* Fisher-Yates with a fixed LCG: a random but repeatable free order. */
    uint64_t x = 12345;
    for (size_t i = n - 1; i > 0; i--) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        size_t j = (size_t)(x >> 33) % (i + 1);
        void *t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    size_t rss_live = resident_bytes();
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    size_t rss_freed = resident_bytes();
    print_mallinfo2("freed");
    int first = malloc_trim(0);
    size_t rss_trimmed = resident_bytes();
    print_mallinfo2("trimmed");
    int second = malloc_trim(0);
    printf("rss_start %zu\nrss_live %zu\nrss_freed %zu\nrss_trimmed %zu\n", rss_start, rss_live,
           rss_freed, rss_trimmed);
    printf("trim_first %d\ntrim_second %d\n", first, second);
    munmap(p, n * sizeof *p);
    return 0;
}

/* Blocks of a few libsmalloc classes and a few of glibc's, held live. */
void *held[64]; /* not static: the mallocs must not be optimised away */

static void hold_some(void)
{
    static const size_t sizes[] = {8, 64, 200, 512, 4096, 100000, 1 << 20};
    size_t k = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int j = 0; j < 8 && k < 64; j++)
            held[k++] = malloc(sizes[i]);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "trim") == 0)
        return trim();
    if (strcmp(mode, "info") == 0) {
        hold_some();
        int bad = malloc_info(1, stdout);
        int rc = malloc_info(0, stdout);
        fprintf(stderr, "malloc_info(1) %d\nmalloc_info(0) %d\n", bad, rc);
        return bad == EINVAL && rc == 0 ? 0 : 1;
    }
    if (strcmp(mode, "stats") == 0) {
        hold_some();
        malloc_stats();
        return 0;
    }
    fprintf(stderr, "usage: %s trim|info|stats\n", argv[0]);
    return 2;
}
