/*
 * alloc: realloc's own paths (alloc.c). A move frees the old block
 * straight onto its bin without the head and mark tests free makes, since
 * realloc made them at entry: the block must still head its bin, carry the
 * freed mark (a second free of it is caught), and go through the flush when
 * the bin is full. A live block whose mark word holds the mark's value by
 * chance (the program's data) passes the entry test and moves or stays.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "freelist.h"
#include "size_class.h"
#include "space.h"
#include "support.h"
#include "tcache.h"

static sm_cls_t class_of(const void *p)
{
    return sm_space_class((uintptr_t)p);
}

Test(alloc, a_moved_block_heads_its_bin_with_the_freed_mark)
{
    unsigned char *p = smalloc_malloc(200);
    fill_pattern(p, 200, 3);
    sm_cls_t cls = class_of(p);
    unsigned char *q = smalloc_realloc(p, 40);
    cr_assert_neq(q, p, "a 200-byte block shrunk to 40 bytes moves");
    cr_assert_eq(check_pattern(q, 40, 3), -1, "byte %ld lost", check_pattern(q, 40, 3));
    cr_assert_eq(sm_tcache.head[cls], (sm_block_t *)p, "the old block heads its bin");
    cr_assert(sm_freelist_is_marked((sm_block_t *)p, cls), "the old block carries the freed mark");
    cr_assert_eq(smalloc_malloc(200), p, "the next malloc of its class gets it back");
    smalloc_free(p);
    smalloc_free(q);
}

static void free_moved_block_again(void *arg)
{
    void *other = smalloc_malloc(200);
    unsigned char *p = smalloc_malloc(200);
    unsigned char *q = smalloc_realloc(p, 40);
    smalloc_free(other); /* p is no longer the bin's head: only the mark tells */
    (void)q;
    (void)arg;
    smalloc_free(p);
    _exit(0);
}

Test(alloc, a_second_free_of_a_moved_block_is_caught)
{
    struct captured c;
    fork_and_capture(free_moved_block_again, NULL, &c);
    cr_assert_eq(c.signal, SIGABRT, "child: signal %d, exit %d; stderr:\n%s", c.signal, c.exit_code, c.err);
    cr_assert(strstr(c.err, "free(): double free detected") != NULL, "stderr: %s", c.err);
}

Test(alloc, a_move_out_of_a_full_bin_flushes_it)
{
    enum { N = 2 * SM_BIN_MAX_BLOCKS + 2 };
    static void *held[N];
    for (size_t i = 0; i < N; i++)
        held[i] = smalloc_malloc(64);
    sm_cls_t cls = class_of(held[0]);
    for (size_t i = 1; i < N && sm_tcache.room[cls] > 0; i++) {
        smalloc_free(held[i]);
        held[i] = NULL;
    }
    cr_assert_eq(sm_tcache.room[cls], 0, "the bin of class %zu is full", cls);
    fill_pattern(held[0], 64, 5);
    unsigned char *q = smalloc_realloc(held[0], 8);
    cr_assert_eq(check_pattern(q, 8, 5), -1, "byte %ld lost", check_pattern(q, 8, 5));
    cr_assert_gt(sm_tcache.room[cls], 0, "the flush made room");
    cr_assert(sm_freelist_is_marked(held[0], cls), "the old block is free");
    smalloc_free(q);
    for (size_t i = 1; i < N; i++)
        smalloc_free(held[i]);
}

Test(alloc, a_live_block_ending_in_the_freed_mark_resizes)
{
    unsigned char *p = smalloc_malloc(64);
    sm_cls_t cls = class_of(p);
    fill_pattern(p, 56, 9);
    sm_freelist_set_mark((sm_block_t *)p, cls, SM_FREED_MARK); /* program data that looks freed */
    cr_assert_eq(smalloc_realloc(p, 60), p, "a block that fits stays");
    unsigned char *q = smalloc_realloc(p, 16);
    cr_assert_neq(q, p, "a 64-byte block shrunk to 16 bytes moves");
    cr_assert_eq(check_pattern(q, 16, 9), -1, "byte %ld lost", check_pattern(q, 16, 9));
    smalloc_free(q);
}
