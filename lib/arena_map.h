/*
 * "Is p inside a libsmalloc arena?" in O(1) for any pointer, reading only
 * libsmalloc's own memory: one bit per 1 MiB of the 47-bit address space
 * (2^27 bits, a 16 MiB array in .bss whose untouched pages cost nothing).
 * Arenas are 1 MiB aligned, so bit (p >> 20) answers for p.
 *
 * Bits are set by sm_arena_map_add() before an arena's first block is
 * handed out and cleared by sm_arena_map_remove() before it is unmapped,
 * both under the arena lock. Readers (free, realloc, usable_size) take no
 * lock: a pointer that a program may legally free lies in an arena whose
 * bit was set before the block was handed out (happens-before via the
 * program's own synchronisation), and that cannot be cleared while the
 * block is live.
 */
#ifndef SM_ARENA_MAP_H
#define SM_ARENA_MAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"

#define SM_ARENA_MAP_BITS ((uintptr_t)1 << (SM_ADDRESS_BITS - SM_ARENA_SHIFT))
#define SM_ARENA_MAP_WORDS (SM_ARENA_MAP_BITS / 64)

extern sm_hidden _Atomic uint64_t sm_arena_map_bits[SM_ARENA_MAP_WORDS];

static inline bool sm_arena_map_contains(uintptr_t a)
{
    uintptr_t bit = a >> SM_ARENA_SHIFT;
    if (sm_unlikely(bit >= SM_ARENA_MAP_BITS))
        return false;
    uint64_t word = atomic_load_explicit(&sm_arena_map_bits[bit / 64], memory_order_relaxed);
    return (word >> (bit % 64)) & 1;
}

/* pre: arena lock held; arena is SM_ARENA_SIZE aligned. */
sm_hidden void sm_arena_map_add(void *arena);
sm_hidden void sm_arena_map_remove(void *arena);

#endif
