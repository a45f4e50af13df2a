/*
 * libsmalloc: CPython's pymalloc as a thread-safe small-object allocator for C.
 *
 * Requests of 1..512 bytes are served from 1 MiB arenas cut into 4 KiB pools,
 * each pool holding blocks of one size class (8, 16, 24, ..., 512 bytes).
 * Larger requests, and pointers libsmalloc did not make, go to the system
 * malloc (glibc's __libc_* entry points).
 *
 * Alignment: the smalloc_* API rounds a request up to a multiple of 8, so a
 * 24-byte request gets a 24-byte block that is only guaranteed to be 8-byte
 * aligned. Blocks whose size is a multiple of 16 are always 16-byte aligned.
 * The replaced malloc family (LD_PRELOAD or link-time override) gives every
 * request of 16 bytes or more a 16-byte aligned block, as glibc does.
 *
 * Semantics follow glibc: NULL with errno = ENOMEM on failure, free never
 * changes errno, realloc(p, 0) frees p and returns NULL.
 */
#ifndef SMALLOC_H
#define SMALLOC_H

#include <stddef.h>
#include <stdio.h>

#define SMALLOC_VERSION_MAJOR 0
#define SMALLOC_VERSION_MINOR 1
#define SMALLOC_VERSION_PATCH 0

/* Largest request served by the pools; larger ones go to the system malloc. */
#define SMALLOC_SMALL_MAX 512
/* Number of size classes: 8, 16, ..., 512. */
#define SMALLOC_NCLASSES 64

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define SMALLOC_ATTR_MALLOC __attribute__((malloc, malloc(smalloc_free, 1)))
#elif defined(__GNUC__)
#define SMALLOC_ATTR_MALLOC __attribute__((malloc))
#else
#define SMALLOC_ATTR_MALLOC
#endif

#if defined(__GNUC__)
#define SMALLOC_ATTR_SIZE(...) __attribute__((alloc_size(__VA_ARGS__)))
#define SMALLOC_ATTR_ALIGN(i) __attribute__((alloc_align(i)))
#define SMALLOC_NOTHROW __attribute__((nothrow))
#define SMALLOC_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define SMALLOC_ATTR_SIZE(...)
#define SMALLOC_ATTR_ALIGN(i)
#define SMALLOC_NOTHROW
#define SMALLOC_WARN_UNUSED
#endif

void smalloc_free(void *p) SMALLOC_NOTHROW;

SMALLOC_ATTR_MALLOC SMALLOC_ATTR_SIZE(1) SMALLOC_NOTHROW SMALLOC_WARN_UNUSED
void *smalloc_malloc(size_t size);

SMALLOC_ATTR_MALLOC SMALLOC_ATTR_SIZE(1, 2) SMALLOC_NOTHROW SMALLOC_WARN_UNUSED
void *smalloc_calloc(size_t count, size_t size);

SMALLOC_ATTR_SIZE(2) SMALLOC_NOTHROW SMALLOC_WARN_UNUSED
void *smalloc_realloc(void *p, size_t size);

SMALLOC_ATTR_SIZE(2, 3) SMALLOC_NOTHROW SMALLOC_WARN_UNUSED
void *smalloc_reallocarray(void *p, size_t count, size_t size);

/* Bytes usable at p: the class size for a small block; 0 for NULL. */
size_t smalloc_usable_size(void *p) SMALLOC_NOTHROW;

/* 0 on success; EINVAL if alignment is not a power of two multiple of
 * sizeof(void *); ENOMEM when out of memory. *out is untouched on failure. */
int smalloc_posix_memalign(void **out, size_t alignment, size_t size) SMALLOC_NOTHROW;

SMALLOC_ATTR_MALLOC SMALLOC_ATTR_ALIGN(1) SMALLOC_ATTR_SIZE(2) SMALLOC_NOTHROW SMALLOC_WARN_UNUSED
void *smalloc_aligned_alloc(size_t alignment, size_t size);

SMALLOC_ATTR_MALLOC SMALLOC_ATTR_ALIGN(1) SMALLOC_ATTR_SIZE(2) SMALLOC_NOTHROW SMALLOC_WARN_UNUSED
void *smalloc_memalign(size_t alignment, size_t size);

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
const char *smalloc_version(void);

/* Per size class, a snapshot taken by walking the arenas. */
struct smalloc_class_stats {
    size_t block_size;   /* bytes per block */
    size_t pools_in_use; /* pools of this class holding at least one block */
    size_t blocks_in_use; /* blocks handed out to the program */
    size_t blocks_cached; /* blocks parked in thread caches (free, not in pools) */
    size_t free_blocks;  /* free blocks in the pools in use, carved or not */
};

struct smalloc_stats {
    size_t arena_size;       /* bytes per arena (1 MiB) */
    size_t pool_size;        /* bytes per pool (4 KiB) */
    size_t arenas_now;       /* arenas mapped now */
    size_t arenas_highest;   /* most arenas mapped at once */
    size_t arenas_allocated; /* arenas ever mapped */
    size_t arenas_freed;     /* arenas ever returned to the OS */
    size_t arenas_cached;    /* empty arenas kept for reuse (part of arenas_now) */
    size_t pools_in_use;     /* pools serving a size class */
    size_t pools_free;       /* empty pools inside mapped arenas */
    size_t bytes_mapped;     /* arenas_now * arena_size */
    size_t bytes_in_use;     /* sum of class size * blocks in use */
    size_t bytes_free_blocks; /* free and cached blocks in pools in use */
    size_t bytes_pool_free;  /* empty pools and never-carved pools */
    size_t bytes_headers;    /* arena headers (pool descriptors) */
    size_t bytes_pool_tail;  /* ends of used pools too short for one more block */
    size_t fallback_calls;   /* requests passed to the system malloc */
    size_t fallback_bytes;   /* bytes requested from the system malloc */
    struct smalloc_class_stats classes[SMALLOC_NCLASSES];
};

/* Fill *out with a snapshot of the allocator's state. Counters of other
 * threads' caches are read without stopping them, so a snapshot taken while
 * other threads allocate is approximate; it is exact in a quiet program. */
void smalloc_stats_get(struct smalloc_stats *out);

/* Print the statistics as an aligned table. */
void smalloc_stats_print(FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* SMALLOC_H */
