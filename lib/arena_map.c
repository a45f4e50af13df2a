/*
 * The arena bitmap (see arena_map.h). Writers hold the arena lock; the
 * atomic OR/AND keeps concurrent lock-free readers of the same word exact.
 */
#include "arena_map.h"

_Atomic uint64_t sm_arena_map_bits[SM_ARENA_MAP_WORDS];

void sm_arena_map_add(void *arena)
{
    uintptr_t bit = (uintptr_t)arena >> SM_ARENA_SHIFT;
    atomic_fetch_or_explicit(&sm_arena_map_bits[bit / 64], (uint64_t)1 << (bit % 64),
                             memory_order_release);
}

void sm_arena_map_remove(void *arena)
{
    uintptr_t bit = (uintptr_t)arena >> SM_ARENA_SHIFT;
    atomic_fetch_and_explicit(&sm_arena_map_bits[bit / 64], ~((uint64_t)1 << (bit % 64)),
                              memory_order_release);
}
