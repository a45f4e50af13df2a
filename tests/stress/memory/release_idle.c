/*
 * Memory goes back to the OS when a program stops (release.h): the two
 * scenarios (scattered frees, a fragmented heap), as one standalone program.
 *
 *   release_idle random MIB [options]      MIB of 32-byte blocks, freed in
 *                                          a random order
 *   release_idle fragmented MIB [options]  MIB of 64-byte blocks, 1 in 4096
 *                                          kept, the others freed
 * options:
 *   --wait MS     poll the resident set every 20 ms for up to MS after the
 *                 last free (default 3000), with no allocator call at all
 *                 (statm is read with read(2) into a stack buffer);
 *   --calls       between polls, 40 malloc/free of 256 bytes (slow paths
 *                 that give no pool back: for SMALLOC_BACKGROUND=0, where
 *                 only calls release);
 *   --pairs N     after the frees, N malloc/free pairs of 64 bytes (the
 *                 fragmented case goes on with 38,400 of them);
 *   --fork        start the release thread first (free 8 MiB of blocks and
 *                 wait for them to go back), then run the scenario in a
 *                 forked child, which has no thread until it starts its own;
 *   --check       exit 1 unless the resident set comes back to within
 *                 4 MiB of the start, plus, for what stays in use, 32 KiB
 *                 per arena holding a kept block (its header and pools).
 * It prints the resident set at the start, at the peak, right after the
 * last free and at the end of the wait. The allocator is libsmalloc through
 * the smalloc_* API; pointer tables are mmap'd, outside it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <smalloc.h>

#include "support.h"

#define MIB ((size_t)1 << 20)
#define ARENA ((uintptr_t)1 << 20)
#define KEEP_EVERY 4096
#define MAX_KEPT 65536

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A refill and a flush of the 256-byte bin (32 blocks, batches of 16)
 * that park and take one batch: slow paths that give no pool back. */
static void some_calls(void)
{
    void *p[40];
    for (int i = 0; i < 40; i++)
        p[i] = smalloc_malloc(256);
    for (int i = 0; i < 40; i++)
        smalloc_free(p[i]);
}

/* Free pools appear, so the release thread starts; wait (bounded) until
 * it has given them back. */
static void start_release_thread(void)
{
    enum { N = 8 * 1024 * 1024 / 64 };
    size_t before = statm_resident_bytes();
    void **p = map_table(N * sizeof(void *));
    for (size_t i = 0; i < N; i++) {
        p[i] = smalloc_malloc(64);
        memset(p[i], 1, 64);
    }
    for (size_t i = 0; i < N; i++)
        smalloc_free(p[i]);
    munmap(p, N * sizeof(void *));
    for (int i = 0; i < 250 && statm_resident_bytes() > before + 4 * MIB; i++)
        sleep_ms(20);
}

static void *kept[MAX_KEPT];
static uintptr_t kept_arenas[MAX_KEPT];

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: release_idle random|fragmented MIB [--wait MS] [--calls] "
                        "[--pairs N] [--check] [--fork]\n");
        return 2;
    }
    if (strcmp(argv[1], "random") != 0 && strcmp(argv[1], "fragmented") != 0) {
        fprintf(stderr, "release_idle: unknown scenario %s (random or fragmented)\n", argv[1]);
        return 2;
    }
    int fragmented = strcmp(argv[1], "fragmented") == 0;
    size_t total = strtoul(argv[2], NULL, 10) * MIB;
    long wait = 3000, pairs = 0;
    int calls = 0, check = 0, in_child = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc)
            wait = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--pairs") == 0 && i + 1 < argc)
            pairs = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--calls") == 0)
            calls = 1;
        else if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (strcmp(argv[i], "--fork") == 0)
            in_child = 1;
    }
    if (in_child) {
        start_release_thread();
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid > 0) {
            int status;
            if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return 2;
            return WEXITSTATUS(status);
        }
        printf("in a fork child: ");
    }
    size_t size = fragmented ? 64 : 32, count = total / size;
    size_t rss_start = statm_resident_bytes();

    size_t table_bytes = count * sizeof(void *);
    void **blocks = map_table(table_bytes);
    for (size_t i = 0; i < count; i++) {
        blocks[i] = smalloc_malloc(size);
        if (blocks[i] == NULL) {
            fprintf(stderr, "malloc #%zu failed\n", i);
            return 2;
        }
        memset(blocks[i], 0x5a, size);
    }
    size_t rss_peak = statm_resident_bytes() - table_bytes;
    size_t nkept = 0, narenas = 0;
    if (fragmented) {
        for (size_t i = 0; i < count; i++) {
            if (i % KEEP_EVERY == 0 && nkept < MAX_KEPT) {
                kept[nkept++] = blocks[i];
                uintptr_t a = (uintptr_t)blocks[i] & ~(ARENA - 1);
                if (narenas == 0 || kept_arenas[narenas - 1] != a)
                    kept_arenas[narenas++] = a;
            } else {
                smalloc_free(blocks[i]);
            }
        }
    } else {
        uint64_t rng = 0x9E3779B97F4A7C15ull;
        for (size_t i = count; i > 1; i--) {
            size_t j = (size_t)(xorshift64(&rng) % i);
            void *t = blocks[i - 1];
            blocks[i - 1] = blocks[j];
            blocks[j] = t;
        }
        for (size_t i = 0; i < count; i++)
            smalloc_free(blocks[i]);
    }
    munmap(blocks, table_bytes);
    for (long i = 0; i < pairs; i++) {
        void *p = smalloc_malloc(64);
        *(volatile char *)p = 1;
        smalloc_free(p);
    }
    size_t rss_freed = statm_resident_bytes();
    /* Arenas holding kept blocks stay: per arena its 12 KiB header and the
     * pools of its kept blocks (4 in 1 MiB at 1 in 4096 64-byte blocks). */
    size_t allowed = rss_start + 4 * MIB + narenas * 32 * 1024;
    long start = now_ms(), waited = 0;
    size_t rss_end = rss_freed;
    while (waited < wait) {
        if (rss_end <= allowed && check)
            break;
        sleep_ms(20);
        if (calls)
            some_calls();
        rss_end = statm_resident_bytes();
        waited = now_ms() - start;
    }
    printf("release_idle %s %zu MiB: RSS start %.1f MiB, peak %.1f MiB, after the last free "
           "%.1f MiB, %ld ms later %.1f MiB (%zu blocks kept in %zu arenas; allowed %.1f MiB)\n",
           argv[1], total / MIB, (double)rss_start / MIB, (double)rss_peak / MIB,
           (double)rss_freed / MIB, waited, (double)rss_end / MIB, nkept, narenas,
           (double)allowed / MIB);
    for (size_t i = 0; i < nkept; i++)
        smalloc_free(kept[i]);
    if (check && rss_end > allowed) {
        printf("FAILED: %.1f MiB over the start after %ld ms\n",
               (double)(rss_end - rss_start) / MIB, waited);
        return 1;
    }
    return 0;
}
