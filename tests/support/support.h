/*
 * Helpers shared by the test suites, each written once: byte patterns tied
 * to a seed, the block sizes the allocator promises, /proc/self/statm,
 * tables mapped outside the allocator, a small random generator, and
 * running a function in a child to capture how it died and what it printed
 * on stderr. Plain C without Criterion and without allocating, so that the
 * standalone test programs and the fuzz target link it too.
 */
#ifndef SMALLOC_TEST_SUPPORT_H
#define SMALLOC_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Fill n bytes at p with a pattern derived from seed; check it back.
 * check returns the index of the first wrong byte, or -1. */
void fill_pattern(void *p, size_t n, uint64_t seed);
long check_pattern(const void *p, size_t n, uint64_t seed);

/* The block a small request of n <= 512 bytes gets: n rounded up to a
 * multiple of alignment (a power of two), 0 counting as 1. The contract of
 * include/smalloc.h:
 *   api_block_size     smalloc_malloc & co.: multiples of 8, at least 8
 *   malloc_block_size  the replaced malloc family with SMALLOC_ALIGNMENT=16
 *                      (the default): multiples of 16, at least 16 */
size_t block_size(size_t n, size_t alignment);
size_t api_block_size(size_t n);
size_t malloc_block_size(size_t n);

/* The first two fields of /proc/self/statm (address space and resident
 * set), in bytes, read with read(2): stdio's FILE and buffer would be
 * allocated by the allocator under test. Returns 0, or -1 (errno set) when
 * the file cannot be read. */
int statm_read(size_t *size_bytes, size_t *resident_bytes);

/* Resident set size of this process in bytes, 0 if statm cannot be read. */
size_t statm_resident_bytes(void);

/* bytes of zeroed memory from mmap, for a test's own bookkeeping (pointer
 * tables), so it stays outside the allocator under test; aborts with a
 * message on stderr when mmap fails. */
void *map_table(size_t bytes);

/* xorshift64: the next value of the generator whose state is *s (not 0). */
uint64_t xorshift64(uint64_t *s);

struct captured {
    int signal;      /* terminating signal, 0 if the child exited */
    int exit_code;   /* exit status if it exited */
    char err[4096];  /* what the child wrote on stderr (NUL-terminated) */
};

/* Run fn(arg) in a forked child with stderr captured. */
void fork_and_capture(void (*fn)(void *), void *arg, struct captured *out);

#endif
