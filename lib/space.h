/*
 * The arena space: where arenas are mapped, and "does p start a block of
 * ours, and of which class?" for any pointer, in a few instructions,
 * reading only libsmalloc's own memory.
 *
 * Start-up picks a range of SM_SPACE_SIZE (64 GiB) of address space, at a
 * random 64 GiB boundary between 4 and 64 TiB: below the program and its
 * heap, far below where the kernel puts mappings (down from just under the
 * stack). Nothing is reserved: an arena is mapped into the lowest free
 * 1 MiB slot of the range (MAP_FIXED_NOREPLACE, so a slot that something
 * else mapped is skipped) and unmapped when it empties, so RLIMIT_AS and
 * the memory counters see only the arenas.
 *
 *   base                                                  base + 64 GiB
 *   | arena | arena | free slot | arena | ...   free slots ...   |
 *   |<-------------- pool_cls[]: one byte per 4 KiB -------------->|
 *
 * pool_cls[] holds the class each pool of the range serves, 0 (no class)
 * for the rest: arena headers, empty pools, free slots, foreign mappings.
 * It is 16 MiB of .bss of which only touched pages cost memory (256 bytes
 * per arena). The free fast path is then:
 *   d = p - base          d >= size: not in the range, the system malloc's
 *   cls = pool_cls[d >> 12]
 *   (p % 4096) * test[cls].mul mod 2^32 < test[cls].limit
 *                         else not a block start of cls, or class 0: a
 *                         slow path decides between foreign and invalid
 *                         with the slot bitmap (sm_space_contains).
 * The test is exact division by multiplication ("faster remainder by
 * direct computation", Lemire, Kaser and Kurz 2019): with mul =
 * ceil(2^32 / size), the product is j * e (e = mul * size - 2^32 < size)
 * when the offset is j * size and at least mul otherwise, so
 * limit = (nblocks - 1) * e + 1 accepts exactly the nblocks block starts;
 * for the "no class" entry limit is 0 and nothing passes. The high half of
 * the same product is the block index (the hardened build uses it).
 * tests/unit/test_size_class.c checks both for every offset of every class.
 *
 * base and size are written once, by start-up, before any block exists and
 * before any other thread can call libsmalloc (init.h); until then size is
 * 0 and every pointer is foreign. pool_cls[] entries are plain bytes,
 * written under the class lock and read without one: an entry changes only
 * while its pool holds no block, and a pointer a program may free was
 * handed out after its pool's entry was set (happens-before via the lock
 * and the program's own synchronisation), so a valid free never reads an
 * entry while it is written. (An atomic load here would cost the fast path
 * an instruction: GCC does not fold it into an address.)
 */
#ifndef SM_SPACE_H
#define SM_SPACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"

#define SM_SPACE_SHIFT 36
#define SM_SPACE_SIZE ((uintptr_t)1 << SM_SPACE_SHIFT) /* 64 GiB */
#define SM_SPACE_POOLS (SM_SPACE_SIZE >> SM_POOL_SHIFT)
#define SM_SPACE_SLOTS (SM_SPACE_SIZE >> SM_ARENA_SHIFT)

typedef struct sm_block_test {
    uint32_t mul;   /* ceil(2^32 / class size) */
    uint32_t limit; /* products below this are block starts */
} sm_block_test_t;

/* One object, so that the free fast path finds the test and the pool's
 * class from one address. */
typedef struct sm_space {
    uintptr_t base; /* start of the range; written once by start-up */
    uintptr_t size; /* SM_SPACE_SIZE once start-up picked base, 0 before */
    sm_block_test_t test[SM_NCLASSES + 1];
    uint8_t pool_cls[SM_SPACE_POOLS];
} sm_space_t;

extern sm_hidden sm_space_t sm_g_space;

/* The class pool_cls[] gives for a, or SM_CLASS_NONE when a is outside the
 * range. */
static sm_always_inline sm_cls_t sm_space_class(uintptr_t a)
{
    uintptr_t d = a - sm_g_space.base;
    if (sm_unlikely(d >= sm_g_space.size))
        return SM_CLASS_NONE;
    return sm_g_space.pool_cls[d >> SM_POOL_SHIFT];
}

static sm_always_inline uint32_t sm_space_product(uintptr_t a, sm_cls_t cls)
{
    return (uint32_t)(a & (SM_POOL_SIZE - 1)) * sm_g_space.test[cls].mul;
}

/* Does a start a block, given that its pool serves cls? */
static sm_always_inline bool sm_space_is_block_start(uintptr_t a, sm_cls_t cls)
{
    return sm_space_product(a, cls) < sm_g_space.test[cls].limit;
}

/* The index of the block of class cls containing a, in its pool. */
static inline uint32_t sm_space_block_index(uintptr_t a, sm_cls_t cls)
{
    return (uint32_t)(((uint64_t)(a & (SM_POOL_SIZE - 1)) * sm_g_space.test[cls].mul) >> 32);
}

/* Is a inside one of libsmalloc's arenas? (Slow paths: a bitmap of slots.) */
sm_hidden bool sm_space_contains(uintptr_t a);

/* Start-up: pick the range and fill the block tests. With debug (the
 * runtime debug mode, debug.h), every offset passes the test of a class,
 * so that debug pointers (a block start + 64) reach the free slow path
 * (sm_free_slow, free.c). */
sm_hidden void sm_space_init(bool debug);

/* Map an arena (SM_ARENA_SIZE, zeroed) into the lowest free slot; NULL
 * when the OS refuses memory or the range has no slot left
 * (sm_space_full() tells which). */
sm_hidden void *sm_space_new_arena(void);

/* Unmap an arena made by sm_space_new_arena; its slot is free again.
 * pre: no pool of it serves a class. */
sm_hidden void sm_space_unmap_arena(void *arena);

/* The pool at pool_base serves cls from now on (SM_CLASS_NONE: no class).
 * pre: the pool holds no block. */
sm_hidden void sm_space_set_class(const void *pool_base, sm_cls_t cls);

/* Did the last sm_space_new_arena() find the range out of slots? (Then
 * small requests go to the system malloc, tcache.c.) */
sm_hidden bool sm_space_full(void);

#endif
