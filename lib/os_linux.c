/*
 * Linux implementation of os.h: mmap, munmap, madvise and write(2).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
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

void *sm_os_map(size_t size)
{
    int saved = errno;
    void *p = test_refuses_map() ? NULL : map_anywhere(size, NULL);
    errno = saved;
    return p;
}

void *sm_os_map_aligned(size_t size, size_t align)
{
    int saved = errno;
    void *result = NULL;
    if (test_refuses_map())
        goto out;
    /* Usually the kernel places a new mapping right below the previous one,
     * so a plain map of size bytes is often aligned already. */
    void *p = map_anywhere(size, NULL);
    if (p == NULL)
        goto out;
    if (((uintptr_t)p & (align - 1)) == 0) {
        result = p;
        goto out;
    }
    munmap(p, size);
    /* Over-map by align and trim both ends. */
    char *q = map_anywhere(size + align, NULL);
    if (q == NULL)
        goto out;
    uintptr_t start = ((uintptr_t)q + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)q;
    size_t tail = align - head;
    if (head != 0)
        munmap(q, head);
    if (tail != 0)
        munmap((char *)start + size, tail);
    result = (void *)start;
out:
    errno = saved;
    return result;
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
