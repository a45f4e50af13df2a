/*
 * size_class: both request-to-class tables entry by entry, the per-class
 * constants of the block-start test, and every request size 0..4096
 * through the two entry points that use the tables (smalloc_malloc with the
 * API table, the replaced malloc with the ABI table): sizes up to 512 land
 * in an arena block of the expected class, larger ones in the fallback.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "arena.h"
#include "space.h"
#include "init.h"
#include "size_class.h"
#include "support.h"

/* The card's rules (support.h): smalloc_* the next multiple of 8, 0
 * taking 8; malloc the next multiple of 16, at least 16. */
#define api_class_size api_block_size
#define abi_class_size malloc_block_size

/* Every entry of table: a class in range, holding n, of the rule's size. */
static void assert_table_follows(const uint8_t *table, size_t (*rule)(size_t), const char *name)
{
    for (size_t n = 0; n <= SM_SMALL_MAX; n++) {
        size_t cls = sm_size_class_of(table, n);
        cr_assert(cls >= 1 && cls <= SM_NCLASSES, "%s, size %zu: class %zu out of range", name, n, cls);
        size_t size = sm_class_size((unsigned)cls);
        cr_assert_geq(size, n, "%s, size %zu: class %zu holds only %zu bytes", name, n, cls, size);
        cr_assert_eq(size, rule(n), "%s, size %zu: class size %zu, want %zu", name, n, size, rule(n));
    }
    cr_assert_eq(sm_class_size((unsigned)sm_size_class_of(table, 0)), rule(1),
                 "%s: size 0 takes the smallest block", name);
}

Test(size_class, api_table_gives_smallest_multiple_of_8)
{
    assert_table_follows(sm_size_class_api, api_class_size, "api");
    /* Smallest: the class below cannot hold n. */
    for (size_t n = 0; n <= SM_SMALL_MAX; n++) {
        size_t cls = sm_size_class_of(sm_size_class_api, n);
        if (cls > 1)
            cr_assert_lt(sm_class_size((unsigned)cls - 1), n, "size %zu: class %zu is not the smallest", n, cls);
    }
}

Test(size_class, abi_table_gives_multiples_of_16)
{
    sm_init_process(); /* SMALLOC_ALIGNMENT is applied to the table here */
    assert_table_follows(sm_size_class_abi, abi_class_size, "abi");
    for (size_t n = 0; n <= SM_SMALL_MAX; n++) {
        size_t size = sm_class_size((unsigned)sm_size_class_of(sm_size_class_abi, n));
        cr_assert_eq(size % 16, 0, "size %zu: class size %zu is not a multiple of 16", n, size);
    }
}

/* The free fast path's test (space.h) against plain division, for
 * every offset of a pool and every class: it accepts exactly the block
 * starts, and its high half is the block index. Only the low 12 bits of
 * the address count; pools at several places of the address space. */
Test(size_class, block_start_test_is_exact_division)
{
    sm_init_process();
    static const uintptr_t bases[] = {0, 0x3000, 0x7f12345ff000, 0x7ffffffff000};
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        size_t size = sm_class_size(cls);
        size_t nblocks = SM_POOL_SIZE / size;
        cr_assert_eq(sm_class_nblocks(cls), nblocks, "class %u: nblocks", cls);
        for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
            for (uintptr_t offset = 0; offset < SM_POOL_SIZE; offset++) {
                uintptr_t a = bases[b] + offset;
                int want = offset % size == 0 && offset / size < nblocks;
                int got = sm_space_is_block_start(a, cls);
                cr_assert_eq(got, want, "class %u (size %zu), offset %zu: got %d, want %d", cls, size,
                             (size_t)offset, got, want);
                cr_assert_eq(sm_space_block_index(a, cls), offset / size,
                             "class %u, offset %zu: block index %u", cls, (size_t)offset,
                             sm_space_block_index(a, cls));
            }
        }
    }
    /* "No class" refuses every offset. */
    for (uintptr_t offset = 0; offset < SM_POOL_SIZE; offset++)
        cr_assert(!sm_space_is_block_start(offset, SM_CLASS_NONE), "no class accepts offset %zu",
                  (size_t)offset);
}

/* p came from an arena block of class size want, or from the fallback. */
static void check_served(void *p, size_t n, size_t want, const char *api)
{
    cr_assert_not_null(p, "%s(%zu) returned NULL", api, n);
    int ours = sm_space_contains((uintptr_t)p);
    if (n <= SM_SMALL_MAX) {
        cr_assert(ours, "%s(%zu) = %p is not in an arena", api, n, p);
        const sm_pool_t *pool = sm_pool_of((uintptr_t)p);
        cr_assert_eq(sm_class_size(pool->cls), want, "%s(%zu): pool of class size %zu, want %zu",
                     api, n, sm_class_size(pool->cls), want);
        cr_assert_eq(sm_space_class((uintptr_t)p), pool->cls, "%s(%zu): the arena space says class %u",
                     api, n, sm_space_class((uintptr_t)p));
        cr_assert_eq(smalloc_usable_size(p), want, "%s(%zu): usable size %zu, want %zu", api, n,
                     smalloc_usable_size(p), want);
    } else {
        cr_assert(!ours, "%s(%zu) = %p is in an arena; sizes above 512 go to the fallback", api, n, p);
        cr_assert_geq(smalloc_usable_size(p), n, "%s(%zu): usable size %zu", api, n,
                      smalloc_usable_size(p));
    }
    memset(p, 0x5a, n);
}

Test(size_class, smalloc_malloc_serves_every_size_to_4096)
{
    for (size_t n = 0; n <= 4096; n++) {
        void *p = smalloc_malloc(n);
        check_served(p, n, api_class_size(n), "smalloc_malloc");
        smalloc_free(p);
    }
}

#ifdef SMALLOC_OVERRIDE
Test(size_class, malloc_serves_every_size_to_4096)
{
    for (size_t n = 0; n <= 4096; n++) {
        void *p = malloc(n);
        check_served(p, n, abi_class_size(n), "malloc");
        free(p);
    }
}
#endif
