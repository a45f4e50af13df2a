/*
 * arena_map: every address inside a live arena is found; addresses libsmalloc
 * does not own (the stack, static data, code, the system malloc's blocks,
 * pointers at or above 2^47) are not; bits follow arenas as they are mapped
 * and unmapped.
 */
#include <stdint.h>
#include <stdlib.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "arena.h"
#include "arena_map.h"
#include "pool.h"
#include "shard.h"

/* Every pool start, every pool end and a few bytes between. */
static void assert_whole_arena(uintptr_t arena, int want)
{
    for (uintptr_t off = 0; off < SM_ARENA_SIZE; off += SM_POOL_SIZE) {
        for (uintptr_t d = 0; d < SM_POOL_SIZE; d += 1000)
            cr_assert_eq(sm_arena_map_contains(arena + off + d), want, "arena %#zx + %#zx: got %d",
                         (size_t)arena, (size_t)(off + d), !want);
        cr_assert_eq(sm_arena_map_contains(arena + off + SM_POOL_SIZE - 1), want, "arena %#zx + %#zx",
                     (size_t)arena, (size_t)(off + SM_POOL_SIZE - 1));
    }
}

Test(arena_map, blocks_and_their_arenas_are_found)
{
    enum { N = 2000 };
    static void *blocks[N];
    for (size_t i = 0; i < N; i++) {
        blocks[i] = smalloc_malloc(1 + i % SM_SMALL_MAX);
        cr_assert(sm_arena_map_contains((uintptr_t)blocks[i]), "block %zu (%p) not found", i, blocks[i]);
        /* Last byte of the block too. */
        uintptr_t last = (uintptr_t)blocks[i] + smalloc_usable_size(blocks[i]) - 1;
        cr_assert(sm_arena_map_contains(last), "last byte of block %zu not found", i);
    }
    assert_whole_arena((uintptr_t)sm_arena_of((uintptr_t)blocks[0]), 1);
    for (size_t i = 0; i < N; i++)
        smalloc_free(blocks[i]);
}

static int static_object;

Test(arena_map, foreign_pointers_are_not_found)
{
    int on_stack = 0;
    cr_assert(!sm_arena_map_contains((uintptr_t)&on_stack), "stack address found");
    cr_assert(!sm_arena_map_contains((uintptr_t)&static_object), "static data found");
    cr_assert(!sm_arena_map_contains((uintptr_t)&sm_arena_map_contains), "code found");
    cr_assert(!sm_arena_map_contains(0), "NULL found");
    for (size_t n = 513; n <= 4096; n += 97) {
        void *big = malloc(n); /* above 512: the system malloc */
        cr_assert_not_null(big, "malloc(%zu)", n);
        cr_assert(!sm_arena_map_contains((uintptr_t)big), "system block of %zu bytes found", n);
        free(big);
    }
    void *big = smalloc_malloc(4096);
    cr_assert(!sm_arena_map_contains((uintptr_t)big), "smalloc_malloc(4096) found (it is glibc's)");
    smalloc_free(big);
    /* At and above 2^47, where no user mapping lives: the map must answer
     * without reading past its end. */
    static const uintptr_t high[] = {
        (uintptr_t)1 << 47, ((uintptr_t)1 << 47) + SM_ARENA_SIZE, (uintptr_t)1 << 48,
        (uintptr_t)1 << 63, 0xffff800000000000u, 0xffffffffff600000u, UINTPTR_MAX,
    };
    for (size_t i = 0; i < sizeof high / sizeof high[0]; i++)
        cr_assert(!sm_arena_map_contains(high[i]), "%#zx found", (size_t)high[i]);
}

Test(arena_map, bits_follow_add_and_remove)
{
    /* An aligned address nothing is mapped at; only the bit matters. */
    uintptr_t fake = (uintptr_t)0x5a5a5 << SM_ARENA_SHIFT;
    uintptr_t top = (((uintptr_t)1 << 47) - SM_ARENA_SIZE); /* the last arena slot of the map */
    uintptr_t cases[] = {fake, top, SM_ARENA_SIZE};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uintptr_t a = cases[i];
        cr_assert(!sm_arena_map_contains(a - 1) && !sm_arena_map_contains(a + SM_ARENA_SIZE),
                  "neighbours of %#zx are arenas; pick another address", (size_t)a);
        assert_whole_arena(a, 0);
        sm_lock(&sm_g_arena[0].lock);
        sm_arena_map_add((void *)a);
        sm_unlock(&sm_g_arena[0].lock);
        assert_whole_arena(a, 1);
        cr_assert(!sm_arena_map_contains(a - 1), "byte before %#zx found", (size_t)a);
        cr_assert(!sm_arena_map_contains(a + SM_ARENA_SIZE), "byte after %#zx found", (size_t)a);
        sm_lock(&sm_g_arena[0].lock);
        sm_arena_map_remove((void *)a);
        sm_unlock(&sm_g_arena[0].lock);
        assert_whole_arena(a, 0);
    }
}

Test(arena_map, unmapped_arena_leaves_the_map)
{
    unsigned shard = clean_shard();
    enum { N = SM_ARENA_USABLE_POOLS };
    static sm_pool_t *a[N], *b[N];
    for (int which = 0; which < 2; which++) {
        for (unsigned i = 0; i < N; i++) {
            sm_lock(&sm_g_arena[shard].lock);
            (which ? b : a)[i] = sm_arena_take_pool(shard);
            sm_unlock(&sm_g_arena[shard].lock);
        }
    }
    uintptr_t A = (uintptr_t)sm_arena_of((uintptr_t)a[0]), B = (uintptr_t)sm_arena_of((uintptr_t)b[0]);
    assert_whole_arena(A, 1);
    assert_whole_arena(B, 1);
    sm_arena_t *gone = NULL;
    sm_lock(&sm_g_arena[shard].lock);
    for (unsigned i = 0; i < N; i++)
        cr_assert_null(sm_arena_give_pool(a[i]), "the first empty arena is kept");
    for (unsigned i = 0; i < N; i++)
        gone = sm_arena_give_pool(b[i]);
    sm_unlock(&sm_g_arena[shard].lock);
    cr_assert_eq((uintptr_t)gone, B, "the second empty arena is returned");
    assert_whole_arena(A, 1);
    assert_whole_arena(B, 0);
    sm_arena_unmap(gone);
}
