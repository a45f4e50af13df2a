/*
 * Test helpers (see support.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

/* The pattern, 8 bytes at a time: word i / 8 of the seed's sequence,
 * copied in memory order, so the byte at i is the same whatever the
 * alignment of p. */
static uint64_t pattern_word(uint64_t seed, size_t i)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + i;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 29);
}

void fill_pattern(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pattern_word(seed, i);
        memcpy(b + i, &w, 8);
    }
    uint64_t w = pattern_word(seed, i);
    memcpy(b + i, &w, n - i);
}

long check_pattern(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != pattern_word(seed, i))
            break;
    }
    for (; i < n; i++) {
        uint64_t w = pattern_word(seed, i & ~(size_t)7);
        unsigned char want;
        memcpy(&want, (unsigned char *)&w + (i & 7), 1);
        if (b[i] != want)
            return (long)i;
    }
    return -1;
}

size_t block_size(size_t n, size_t alignment)
{
    return ((n == 0 ? 1 : n) + alignment - 1) & ~(alignment - 1);
}

size_t api_block_size(size_t n)
{
    return block_size(n, 8);
}

size_t malloc_block_size(size_t n)
{
    return block_size(n, 16);
}

int statm_read(size_t *size_bytes, size_t *resident_bytes)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    unsigned long size = 0, resident = 0;
    if (len <= 0)
        return -1;
    buf[len] = '\0';
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2) {
        errno = EINVAL;
        return -1;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size_bytes != NULL)
        *size_bytes = size * page;
    if (resident_bytes != NULL)
        *resident_bytes = resident * page;
    return 0;
}

size_t statm_resident_bytes(void)
{
    size_t resident = 0;
    return statm_read(NULL, &resident) == 0 ? resident : 0;
}

uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

void fork_and_capture(void (*fn)(void *), void *arg, struct captured *out)
{
    memset(out, 0, sizeof *out);
    int fds[2];
    if (pipe(fds) != 0)
        return;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out->err + len, sizeof out->err - 1 - len)) > 0)
        len += (size_t)n;
    out->err[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        out->signal = WTERMSIG(status);
    else if (WIFEXITED(status))
        out->exit_code = WEXITSTATUS(status);
}

void *map_table(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "map_table: mmap of %zu bytes for a pointer table: %s\n", bytes, strerror(errno));
        abort();
    }
    return p;
}
