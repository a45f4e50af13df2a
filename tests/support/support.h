/*
 * Helpers shared by the test suites: byte patterns tied to an owner,
 * /proc/self/statm, tables mapped outside the allocator, and running a function in a child to capture how it
 * died and what it printed on stderr.
 */
#ifndef SMALLOC_TEST_SUPPORT_H
#define SMALLOC_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Fill n bytes at p with a pattern derived from seed; check it back.
 * check returns the index of the first wrong byte, or -1. */
void fill_pattern(void *p, size_t n, uint64_t seed);
long check_pattern(const void *p, size_t n, uint64_t seed);

/* The block the replaced malloc family gives a request of n <= 512 bytes
 * (SMALLOC_ALIGNMENT=16, the default): the next multiple of 16, at least 16. */
size_t malloc_block_size(size_t n);

/* Resident set size of this process in bytes (from /proc/self/statm). */
size_t statm_resident_bytes(void);

/* bytes of zeroed memory from mmap, for a test's own bookkeeping (pointer
 * tables), so it stays outside the allocator under test; asserts. */
void *map_table(size_t bytes);

struct captured {
    int signal;      /* terminating signal, 0 if the child exited */
    int exit_code;   /* exit status if it exited */
    char err[4096];  /* what the child wrote on stderr (NUL-terminated) */
};

/* Run fn(arg) in a forked child with stderr captured. */
void fork_and_capture(void (*fn)(void *), void *arg, struct captured *out);

#endif
