/*
 * Out-of-line helpers for the workloads (support.h) and the workload table
 * generated from workloads.h.
 */
#include "support.h"
#include "workloads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

const struct wl_desc wl_table[] = {
#define X(name, fn, n, arg, desc) { #name, fn, n, arg, desc },
    SM_WORKLOADS(X)
#undef X
};

const size_t wl_count = sizeof(wl_table) / sizeof(wl_table[0]);

const struct wl_desc *wl_find(const char *name)
{
    for (size_t i = 0; i < wl_count; i++)
        if (strcmp(wl_table[i].name, name) == 0)
            return &wl_table[i];
    return NULL;
}

void *wl_map(size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("workload: mmap");
        exit(2);
    }
    return p;
}

void wl_unmap(void *p, size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    munmap(p, bytes);
}

void wl_oom(const char *what)
{
    fprintf(stderr, "workload: out of memory (%s)\n", what);
    exit(2);
}

/*
 * Sizes of CPython objects under PYTHONMALLOC=malloc, roughly: ints and
 * floats 24-32 bytes, small tuples and instances 40-64 with the GC header,
 * short strings 50-90, lists and dict key tables above that.
 *
 *   share   bytes
 *    40%    16..32
 *    30%    33..64
 *    15%    65..128
 *    10%   129..256
 *     5%   257..512
 */
/* One line of a size mix: this share (percent) of requests, uniform in
 * [lo, hi]. The shares of a mix add up to 100. */
struct size_share {
    unsigned percent;
    size_t lo, hi;
};

static size_t size_from_mix(struct wl_rng *r, const struct size_share *mix)
{
    uint64_t pick = wl_rng_below(r, 100);
    unsigned below = 0;
    for (;; mix++) {
        below += mix->percent;
        if (pick < below || below >= 100)
            return (size_t)wl_rng_range(r, mix->lo, mix->hi);
    }
}

size_t wl_size_python(struct wl_rng *r)
{
    static const struct size_share mix[] = {
        {40, 16, 32}, {30, 33, 64}, {15, 65, 128}, {10, 129, 256}, {5, 257, 512},
    };
    return size_from_mix(r, mix);
}

/*
 * The "mixed, heavy tail" mix of mixed_tail and thread_churn: what a server
 * or a compiler asks for, mostly small objects but a real share of buffers,
 * strings and arrays above the small-object limit (512), up to 16 KiB.
 *
 *   share   bytes
 *    80%    8..512
 *    15%    513..4096
 *     5%    4097..16384
 */
size_t wl_size_tail(struct wl_rng *r)
{
    static const struct size_share mix[] = {{80, 8, 512}, {15, 513, 4096}, {5, 4097, 16384}};
    return size_from_mix(r, mix);
}

void *wl_alloc_touched(size_t size, int zeroed, const char *what)
{
    void *p = zeroed ? calloc(1, size) : malloc(size);
    WL_CHECK(p, what);
    wl_touch(p, size);
    return p;
}

uint64_t wl_replace_at_random(struct wl_rng *rng, size_t live, uint64_t n,
                              void *(*alloc)(struct wl_rng *), int peek)
{
    void **slots = wl_map(live * sizeof(void *));
    for (size_t i = 0; i < live; i++)
        slots[i] = alloc(rng);
    for (uint64_t s = 0; s < n; s++) {
        size_t i = (size_t)wl_rng_below(rng, live);
        if (peek)
            (void)wl_peek(slots[i]);
        free(slots[i]);
        slots[i] = alloc(rng);
    }
    for (size_t i = 0; i < live; i++)
        free(slots[i]);
    wl_unmap(slots, live * sizeof(void *));
    return 2 * (uint64_t)live + 2 * n;
}

int wl_run_threads(unsigned nthreads, void *(*fn)(void *), void *jobs, size_t job_size,
                   const char *what)
{
    pthread_t th[WL_MAX_THREADS];
    if (nthreads > WL_MAX_THREADS)
        nthreads = WL_MAX_THREADS;
    for (unsigned t = 0; t < nthreads; t++) {
        if (pthread_create(&th[t], NULL, fn, (char *)jobs + t * job_size) != 0) {
            fprintf(stderr, "%s: pthread_create failed\n", what);
            for (unsigned u = 0; u < t; u++)
                pthread_join(th[u], NULL);
            return 0;
        }
    }
    for (unsigned t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    return 1;
}

long wl_status_kb(const char *key)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0)
        return -1;
    buf[len] = '\0';
    size_t klen = strlen(key);
    for (char *line = buf; line != NULL && *line; ) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            return strtol(line + klen + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return -1;
}

int wl_reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, "5", 1);
    close(fd);
    return w == 1 ? 0 : -1;
}
