/*
 * The OS contract: the only functions in lib/ that talk to the kernel.
 * All of them are safe before main() and from inside malloc: they never
 * allocate, and they leave errno as they found it.
 */
#ifndef SM_OS_H
#define SM_OS_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

/* Map size bytes of zeroed memory anywhere; NULL on failure. */
sm_hidden void *sm_os_map(size_t size);

/* Map size bytes of zeroed read-write memory exactly at addr, never over
 * an existing mapping (MAP_FIXED_NOREPLACE). Returns 0, EEXIST when some
 * of the range is mapped already, or ENOMEM (out of memory, RLIMIT_AS).
 * pre: addr and size page aligned. */
sm_hidden int sm_os_map_at(void *addr, size_t size);

/* Is [addr, addr + size) unmapped? 1 yes, 0 no, -1 the kernel would not
 * say (a probe mapping was refused, e.g. under RLIMIT_AS). Maps nothing
 * that stays. */
sm_hidden int sm_os_range_is_free(void *addr, size_t size);

/* An address where size bytes are unmapped now, as the kernel would place
 * them; 0 when it finds none. Maps nothing that stays. */
sm_hidden uintptr_t sm_os_find_range(size_t size);

/* Give back a mapping made by sm_os_map*; pre: p and size page aligned. */
sm_hidden void sm_os_unmap(void *p, size_t size);

/* Tell the kernel the pages may be dropped; they read back as zero. */
sm_hidden void sm_os_discard(void *p, size_t size);

/* Make size bytes at p inaccessible (PROT_NONE): a guard page. pre: p and
 * size page aligned, inside a mapping made by sm_os_map*. Returns 0 or an
 * errno (ENOMEM when the process's count of mappings is at its limit). */
sm_hidden int sm_os_protect_none(void *p, size_t size);

/* Fill buf with len random bytes from the kernel (getrandom(2), without
 * waiting for the entropy pool); falls back to a mix of the clock, the
 * stack address and the pid when the kernel refuses. */
sm_hidden void sm_os_random(void *buf, size_t len);

/* A coarse monotonic clock in milliseconds (CLOCK_MONOTONIC_COARSE: a
 * vDSO read, no syscall), for decisions that need "a while", not precision. */
sm_hidden uint64_t sm_os_now_ms(void);

/* write(2) all of buf to fd, retrying on EINTR; errors are ignored. */
sm_hidden void sm_os_write(int fd, const char *buf, size_t len);

#ifdef SMALLOC_TESTING
/* Test hook: after n more successful maps, every map fails (n < 0: never). */
sm_hidden void sm_os_fail_after(long n);
#endif

#endif
