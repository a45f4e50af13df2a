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

static void *map_anywhere(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
    void *p = test_refuses_map() ? NULL : map_anywhere(size);
    errno = saved;
    return p;
}

int sm_os_map_at(void *addr, size_t size)
{
    int saved = errno;
    int err = 0;
    if (test_refuses_map())
        err = ENOMEM;
    else if (map_exactly(addr, size) == NULL)
        err = errno == ENOMEM ? ENOMEM : EEXIST;
    errno = saved;
    return err;
}

/* PROT_NONE and MAP_NORESERVE: a probe that costs no memory. */
static void *probe(void *hint, size_t size, int flags)
{
    return mmap(hint, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags, -1, 0);
}

int sm_os_range_is_free(void *addr, size_t size)
{
    int saved = errno;
    void *p = probe(addr, size, MAP_FIXED_NOREPLACE);
    int answer = p == addr ? 1 : p == MAP_FAILED && errno != EEXIST ? -1 : 0;
    if (p != MAP_FAILED)
        munmap(p, size);
    errno = saved;
    return answer;
}

uintptr_t sm_os_find_range(size_t size)
{
    int saved = errno;
    void *p = probe(NULL, size, 0);
    uintptr_t found = 0;
    if (p != MAP_FAILED) {
        found = (uintptr_t)p;
        munmap(p, size);
    }
    errno = saved;
    return found;
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

/* Read on every slow path of the thread caches (the release tick,
 * release.h) and on every pool given back (arena.c). errno is kept without
 * a save: clock_gettime fails only for a bad clock id or a bad pointer
 * (EINVAL, EFAULT), neither of which this call can pass, and the vDSO and
 * the system call both leave errno alone on success. Saving it anyway cost
 * a call of __errno_location and 7 instructions of this function's 24 (issue
 * 14: 26.6k calls, 0.64M instructions, in bench/python/dicts_lists.py 0.2;
 * command in alloc.c above sm_alloc_realloc). */
uint64_t sm_os_now_ms(void)
{
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
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
