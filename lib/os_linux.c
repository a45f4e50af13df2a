/*
 * Linux implementation of os.h: mmap, munmap, madvise, mprotect, getrandom,
 * clock_gettime and write(2).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "os.h"

#ifdef SMALLOC_TESTING
static long fail_after = -1; /* single-threaded test hook */

void sm_os_fail_after(long n)
{
    fail_after = n;
}

static int test_refuses_map(void)
{
    if (fail_after < 0)
        return 0;
    if (fail_after == 0)
        return 1;
    fail_after--;
    return 0;
}
#else
static int test_refuses_map(void)
{
    return 0;
}
#endif

static void *map_anywhere(size_t size, void *hint)
{
    void *p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux 4.17; older kernels take it as a hint */
#endif

/* Map size bytes exactly at addr if that range is free; NULL otherwise. */
static void *map_exactly(void *addr, size_t size)
{
    void *p = mmap(addr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (p != addr) { /* a kernel that ignored the flag put it elsewhere */
        munmap(p, size);
        return NULL;
    }
    return p;
}

void *sm_os_map(size_t size)
{
    int saved = errno;
    void *p = test_refuses_map() ? NULL : map_anywhere(size, NULL);
    errno = saved;
    return p;
}

/* Where the next aligned mapping is tried first: just below the last one
 * made. Shared by all shards without a lock; a stale value costs one failed
 * mmap. */
static uintptr_t next_aligned_hint;

/* Three tries, cheapest first (strace of a program mapping arenas one after
 * another: a plain mmap often lands in an unaligned hole between shared
 * libraries, and over-mapping then costs 4 syscalls per arena):
 *   1. exactly below the previous aligned mapping (1 syscall, mostly);
 *   2. a plain mapping, if the kernel happens to align it, else exactly at
 *      the aligned address below it (new mappings go downwards);
 *   3. over-map by align and trim both ends.
 * 1 and 2 need no more address space than size, which matters under
 * RLIMIT_AS. */
static void *map_aligned(size_t size, size_t align)
{
    uintptr_t mask = ~(uintptr_t)(align - 1);
    uintptr_t hint = __atomic_load_n(&next_aligned_hint, __ATOMIC_RELAXED);
    void *p = NULL;
    if (hint != 0 && (p = map_exactly((void *)hint, size)) != NULL)
        return p;
    p = map_anywhere(size, NULL);
    if (p == NULL)
        return NULL;
    if (((uintptr_t)p & ~mask) == 0)
        return p;
    munmap(p, size);
    void *q = map_exactly((void *)((uintptr_t)p & mask), size);
    if (q != NULL)
        return q;
    char *over = map_anywhere(size + align, NULL);
    if (over == NULL)
        return NULL;
    uintptr_t start = ((uintptr_t)over + align - 1) & mask;
    size_t head = start - (uintptr_t)over;
    size_t tail = align - head;
    if (head != 0)
        munmap(over, head);
    if (tail != 0)
        munmap((char *)start + size, tail);
    return (void *)start;
}

void *sm_os_map_aligned(size_t size, size_t align)
{
    int saved = errno;
    void *p = test_refuses_map() ? NULL : map_aligned(size, align);
    if (p != NULL && (uintptr_t)p >= size)
        __atomic_store_n(&next_aligned_hint, (uintptr_t)p - size, __ATOMIC_RELAXED);
    errno = saved;
    return p;
}

void sm_os_unmap(void *p, size_t size)
{
    int saved = errno;
    munmap(p, size);
    errno = saved;
}

void sm_os_discard(void *p, size_t size)
{
    int saved = errno;
    madvise(p, size, MADV_DONTNEED);
    errno = saved;
}

int sm_os_protect_none(void *p, size_t size)
{
    int saved = errno;
    int err = mprotect(p, size, PROT_NONE) == 0 ? 0 : errno;
    errno = saved;
    return err;
}

void sm_os_random(void *buf, size_t len)
{
    int saved = errno;
    char *out = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(out + done, len - done, GRND_NONBLOCK);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (done < len) {
        /* No kernel randomness this early (or no getrandom): a weak seed
         * is still better than a fixed one. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
                     (uint64_t)(uintptr_t)&ts ^ ((uint64_t)getpid() << 32);
        for (; done < len; done++) {
            x ^= x >> 33;
            x *= 0xFF51AFD7ED558CCDull;
            out[done] = (char)(x >> 56);
        }
    }
    errno = saved;
}

uint64_t sm_os_now_ms(void)
{
    int saved = errno;
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    errno = saved;
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void sm_os_write(int fd, const char *buf, size_t len)
{
    int saved = errno;
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        buf += n;
        len -= (size_t)n;
    }
    errno = saved;
}
