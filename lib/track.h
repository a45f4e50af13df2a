/*
 * Valgrind hooks: Memcheck client requests that make each libsmalloc pool
 * block look like a malloc'd block to Memcheck, so that leaks, reads of
 * uninitialised memory, use after free and overflows into a neighbouring
 * block are reported as they are for glibc's malloc. Built with the CMake
 * option SMALLOC_VALGRIND (defines SMALLOC_VALGRIND); without it every
 * helper is empty and compiles to nothing, so callers on the fast path
 * (alloc.h, free.h, freelist.h) need no #if.
 *
 * What Memcheck is told:
 *   an arena is mapped, a pool       its pools (all of them, or that one)
 *   starts serving a class           no-access: no block there is the program's
 *   a block is handed out            MALLOCLIKE(p, class size): addressable,
 *                                    undefined (calloc: defined)
 *   a block is freed                 FREELIKE(p): no-access again
 *   the allocator reads or writes    the link word is opened (defined) for
 *   a free block's link (freelist.h) the access and closed (no-access) after
 * A block is described by its class size, which is what malloc_usable_size
 * reports and a program may use: an overflow past the class size, into the
 * next block, is reported; one into the rounding slack is not (the runtime
 * debug mode, SMALLOC_DEBUG=1, checks to the byte). That keeps realloc
 * within a class a no-op for Memcheck too. Blocks above 512 bytes come from
 * glibc's __libc_malloc, which Memcheck replaces and tracks itself.
 */
#ifndef SM_TRACK_H
#define SM_TRACK_H

#include <stddef.h>

#ifdef SMALLOC_VALGRIND
#include <valgrind/memcheck.h>
#define SM_TRACK_VALGRIND 1
#else
#define SM_TRACK_VALGRIND 0
#endif

/* Is the process running under valgrind? (Its tools that replace malloc
 * give blocks without glibc's chunk header, large_cache.c.) Needs
 * valgrind/valgrind.h at build time; without it, false. */
#if defined(SMALLOC_HAVE_VALGRIND_H) || SM_TRACK_VALGRIND
#include <valgrind/valgrind.h>
static inline int sm_running_on_valgrind(void)
{
    return RUNNING_ON_VALGRIND != 0;
}
#else
static inline int sm_running_on_valgrind(void)
{
    return 0;
}
#endif

/* p (may be NULL) now holds size bytes for the program, contents undefined. */
static inline void sm_track_alloc(void *p, size_t size)
{
#if SM_TRACK_VALGRIND
    if (p != NULL)
        VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, 0);
#else
    (void)p;
    (void)size;
#endif
}

/* calloc: before its memset, the block must be writable by the allocator. */
static inline void sm_track_open(void *p, size_t size)
{
#if SM_TRACK_VALGRIND
    if (p != NULL)
        VALGRIND_MAKE_MEM_UNDEFINED(p, size);
#else
    (void)p;
    (void)size;
#endif
}

/* calloc: p holds size zeroed bytes for the program. */
static inline void sm_track_alloc_zeroed(void *p, size_t size)
{
#if SM_TRACK_VALGRIND
    if (p != NULL)
        VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, 1);
#else
    (void)p;
    (void)size;
#endif
}

/* The program gave p back. */
static inline void sm_track_free(void *p)
{
#if SM_TRACK_VALGRIND
    VALGRIND_FREELIKE_BLOCK(p, 0);
#else
    (void)p;
#endif
}

/* Around the allocator's own access to a free block's link word. */
static inline void sm_track_link_open(const void *b)
{
#if SM_TRACK_VALGRIND
    VALGRIND_MAKE_MEM_DEFINED(b, sizeof(void *));
#else
    (void)b;
#endif
}

static inline void sm_track_link_close(const void *b)
{
#if SM_TRACK_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(b, sizeof(void *));
#else
    (void)b;
#endif
}

/* A new arena's pools, or a pool taking a class: no program block there. */
static inline void sm_track_unused(void *base, size_t size)
{
#if SM_TRACK_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(base, size);
#else
    (void)base;
    (void)size;
#endif
}

#endif
