/*
 * arena_map: every address inside a live arena is found; addresses libsmalloc
 * does not own (the stack, static data, code, the system malloc's blocks,
 * pointers at or above 2^47) are not; arenas sit in the arena space, and
 * the pool-class table gives classes to pools in use and to nothing else.
 */
#include <stdint.h>
#include <stdlib.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "arena.h"
#include "space.h"
#include "init.h"
#include "pool.h"
#include "shard.h"

/* Every pool start, every pool end and a few bytes between. */
static void assert_whole_arena(uintptr_t arena, int want)
{
    for (uintptr_t off = 0; off < SM_ARENA_SIZE; off += SM_POOL_SIZE) {
        for (uintptr_t d = 0; d < SM_POOL_SIZE; d += 1000)
            cr_assert_eq(sm_space_contains(arena + off + d), want, "arena %#zx + %#zx: got %d",
                         (size_t)arena, (size_t)(off + d), !want);
        cr_assert_eq(sm_space_contains(arena + off + SM_POOL_SIZE - 1), want, "arena %#zx + %#zx",
                     (size_t)arena, (size_t)(off + SM_POOL_SIZE - 1));
    }
}

Test(space, blocks_and_their_arenas_are_found)
{
    enum { N = 2000 };
    static void *blocks[N];
    for (size_t i = 0; i < N; i++) {
        blocks[i] = smalloc_malloc(1 + i % SM_SMALL_MAX);
        cr_assert(sm_space_contains((uintptr_t)blocks[i]), "block %zu (%p) not found", i, blocks[i]);
        /* Last byte of the block too. */
        uintptr_t last = (uintptr_t)blocks[i] + smalloc_usable_size(blocks[i]) - 1;
        cr_assert(sm_space_contains(last), "last byte of block %zu not found", i);
    }
    assert_whole_arena((uintptr_t)sm_arena_of((uintptr_t)blocks[0]), 1);
    for (size_t i = 0; i < N; i++)
        smalloc_free(blocks[i]);
}

static int static_object;

Test(space, foreign_pointers_are_not_found)
{
    int on_stack = 0;
    cr_assert(!sm_space_contains((uintptr_t)&on_stack), "stack address found");
    cr_assert(!sm_space_contains((uintptr_t)&static_object), "static data found");
    cr_assert(!sm_space_contains((uintptr_t)&sm_space_contains), "code found");
    cr_assert(!sm_space_contains(0), "NULL found");
    for (size_t n = 513; n <= 4096; n += 97) {
        void *big = malloc(n); /* above 512: the system malloc */
        cr_assert_not_null(big, "malloc(%zu)", n);
        cr_assert(!sm_space_contains((uintptr_t)big), "system block of %zu bytes found", n);
        free(big);
    }
    void *big = smalloc_malloc(4096);
    cr_assert(!sm_space_contains((uintptr_t)big), "smalloc_malloc(4096) found (it is glibc's)");
    smalloc_free(big);
    /* At and above 2^47, where no user mapping lives: the map must answer
     * without reading past its end. */
    static const uintptr_t high[] = {
        (uintptr_t)1 << 47, ((uintptr_t)1 << 47) + SM_ARENA_SIZE, (uintptr_t)1 << 48,
        (uintptr_t)1 << 63, 0xffff800000000000u, 0xffffffffff600000u, UINTPTR_MAX,
    };
    for (size_t i = 0; i < sizeof high / sizeof high[0]; i++)
        cr_assert(!sm_space_contains(high[i]), "%#zx found", (size_t)high[i]);
}

Test(space, arenas_live_in_the_space_in_the_lowest_slots)
{
    sm_init_process();
    uintptr_t base = sm_g_space.base;
    cr_assert_eq(sm_g_space.size, SM_SPACE_SIZE, "no arena space after start-up");
    cr_assert_eq(base % SM_ARENA_SIZE, 0, "space base %#zx is not arena aligned", (size_t)base);
    cr_assert_lt(base + SM_SPACE_SIZE, (uintptr_t)1 << SM_ADDRESS_BITS, "space above user addresses");
    void *p = smalloc_malloc(64);
    uintptr_t arena = (uintptr_t)sm_arena_of((uintptr_t)p);
    cr_assert(arena >= base && arena < base + SM_SPACE_SIZE, "arena %#zx outside the space %#zx",
              (size_t)arena, (size_t)base);
    /* Slots are taken lowest first: a test process has few arenas. */
    cr_assert_lt(arena - base, 64 * SM_ARENA_SIZE, "arena %#zx is slot %zu", (size_t)arena,
                 (size_t)((arena - base) >> SM_ARENA_SHIFT));
    smalloc_free(p);
}

Test(space, pool_classes_cover_pools_and_nothing_else)
{
    sm_init_process();
    unsigned char *p = smalloc_malloc(100); /* class 13, 104 bytes */
    uintptr_t a = (uintptr_t)p;
    cr_assert_eq(sm_space_class(a), 13, "class of a 100-byte block: %u", sm_space_class(a));
    cr_assert_eq(sm_space_class(a + 103), 13, "last byte of the block");
    /* Arena headers serve no class. */
    uintptr_t arena = (uintptr_t)sm_arena_of(a);
    for (uintptr_t off = 0; off < SM_ARENA_HEADER_POOLS * SM_POOL_SIZE; off += 512)
        cr_assert_eq(sm_space_class(arena + off), SM_CLASS_NONE, "header offset %#zx has a class",
                     (size_t)off);
    /* Outside the space: no class, and no read past the table. */
    int on_stack;
    static const uintptr_t outside[] = {0, 4096, (uintptr_t)1 << 47, UINTPTR_MAX};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++)
        cr_assert_eq(sm_space_class(outside[i]), SM_CLASS_NONE, "%#zx has a class", (size_t)outside[i]);
    cr_assert_eq(sm_space_class((uintptr_t)&on_stack), SM_CLASS_NONE, "the stack has a class");
    cr_assert_eq(sm_space_class(sm_g_space.base - 1), SM_CLASS_NONE, "byte before the space");
    cr_assert_eq(sm_space_class(sm_g_space.base + sm_g_space.size), SM_CLASS_NONE,
                 "byte after the space");
    smalloc_free(p);
}

Test(space, unmapped_arena_leaves_the_map)
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
    assert_whole_arena(B, 1); /* until it is unmapped: a free into it is invalid, not foreign */
    sm_arena_unmap(gone);
    assert_whole_arena(B, 0);
}
