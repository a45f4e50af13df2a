/*
 * pool: lazy carving, the used/full/empty state machine of pool.h with sm_pool_check at every
 * step, and sm_pool_check itself catching broken descriptors.
 *
 * Pool-level tests call sm_pool_alloc_batch/sm_pool_free_batch directly on
 * a shard nothing else uses (shard.h), so no thread cache sits in between
 * and every count is exact.
 */
#include <criterion/criterion.h>

#include "arena.h"
#include "space.h"
#include "init.h"
#include "pool.h"
#include "size_class.h"
#include "shard.h"

static sm_block_t *take(unsigned shard, unsigned cls, unsigned want)
{
    sm_block_t *chain = NULL;
    unsigned got = sm_pool_alloc_batch(shard, cls, want, &chain);
    cr_assert_eq(got, want, "class %u: asked for %u blocks, got %u", cls, want, got);
    return chain;
}

static void give_one(unsigned cls, sm_block_t *b)
{
    sm_freelist_set_next(b, NULL);
    sm_pool_free_batch(cls, b, "free");
}

static int pool_is_checked_ok(const sm_pool_t *pool, unsigned cls)
{
    sm_lock(&sm_g_central[sm_arena_of((uintptr_t)pool)->shard][cls].lock);
    int ok = sm_pool_check(pool);
    sm_unlock(&sm_g_central[sm_arena_of((uintptr_t)pool)->shard][cls].lock);
    return ok;
}

/* A clean shard for a test of the order pools hand blocks out in, which
 * the hardened build randomises (it links a new pool's blocks at once):
 * the test is skipped there. */
static unsigned ordered_clean_shard(void)
{
    if (SM_SECURE)
        cr_skip_test("the hardened build links a new pool's blocks at once, in a random order");
    return clean_shard();
}

Test(pool, carving_is_lazy_one_block_at_a_time)
{
    unsigned shard = ordered_clean_shard();
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        size_t size = sm_class_size(cls);
        unsigned nblocks = sm_class_nblocks(cls);
        sm_block_t *first = take(shard, cls, 1);
        sm_pool_t *pool = sm_pool_of((uintptr_t)first);
        char *base = sm_pool_base(pool);
        cr_assert_eq((char *)first, base, "class %u: first block is not at the pool start", cls);
        cr_assert_eq(pool->nextoffset, size, "class %u: a new pool carved %u bytes for one block",
                     cls, pool->nextoffset);
        sm_block_t *held[SM_POOL_SIZE / 8];
        held[0] = first;
        for (unsigned j = 1; j < nblocks; j++) {
            held[j] = take(shard, cls, 1);
            cr_assert_eq((char *)held[j], base + j * size, "class %u: block %u out of order", cls, j);
            cr_assert_eq(pool->nextoffset, (j + 1) * size, "class %u: after %u blocks nextoffset %u",
                         cls, j + 1, pool->nextoffset);
            cr_assert_eq(pool->nused, j + 1, "class %u: nused %u after %u blocks", cls, pool->nused, j + 1);
            cr_assert(pool_is_checked_ok(pool, cls), "class %u: sm_pool_check after %u blocks", cls, j + 1);
        }
        /* A returned block is handed out again before any new carving;
         * here the pool is fully carved, so free one and take it back. */
        give_one(cls, held[nblocks / 2]);
        cr_assert_eq(pool->freeblock, (nblocks / 2) * size, "class %u: freeblock %u", cls, pool->freeblock);
        sm_block_t *again = take(shard, cls, 1);
        cr_assert_eq(again, held[nblocks / 2], "class %u: a freed block was not reused first", cls);
        for (unsigned j = 0; j < nblocks; j++)
            give_one(cls, held[j]);
    }
}

Test(pool, returned_blocks_are_reused_before_carving)
{
    unsigned shard = ordered_clean_shard();
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        size_t size = sm_class_size(cls);
        unsigned nblocks = sm_class_nblocks(cls);
        if (nblocks < 4)
            continue; /* needs a pool with room left after 3 blocks (all do: 8 at least) */
        sm_block_t *a = take(shard, cls, 1);
        sm_block_t *b = take(shard, cls, 1);
        sm_block_t *c = take(shard, cls, 1);
        sm_pool_t *pool = sm_pool_of((uintptr_t)a);
        cr_assert_eq(pool->nextoffset, 3 * size, "class %u", cls);
        give_one(cls, b);
        sm_block_t *d = take(shard, cls, 1);
        cr_assert_eq(d, b, "class %u: carved instead of reusing the returned block", cls);
        cr_assert_eq(pool->nextoffset, 3 * size, "class %u: nextoffset moved although a block was free", cls);
        give_one(cls, a);
        give_one(cls, c);
        give_one(cls, d);
    }
}

/* Thread caches pop a batch from its head: a batch must hand out blocks
 * in pymalloc's order, so consecutive mallocs get ascending addresses. */
Test(pool, a_batch_from_a_fresh_pool_ascends)
{
    unsigned shard = ordered_clean_shard();
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        size_t size = sm_class_size(cls);
        unsigned nblocks = sm_class_nblocks(cls);
        sm_block_t *chain = take(shard, cls, nblocks);
        char *base = sm_pool_base(sm_pool_of((uintptr_t)chain));
        unsigned j = 0;
        for (sm_block_t *b = chain; b != NULL; b = sm_freelist_next(b), j++)
            cr_assert_eq((char *)b, base + j * size, "class %u: block %u of the batch is at offset %td",
                         cls, j, (char *)b - base);
        cr_assert_eq(j, nblocks, "class %u: chain length %u", cls, j);
        sm_pool_free_batch(cls, chain, "free");
    }
}

Test(pool, a_batch_takes_the_free_list_as_linked_then_carves_ascending)
{
    unsigned shard = ordered_clean_shard();
    unsigned cls = 4; /* 32 bytes: 128 blocks per pool */
    size_t size = sm_class_size(cls);
    sm_block_t *held[12];
    for (unsigned j = 0; j < 12; j++)
        held[j] = take(shard, cls, 1);
    sm_pool_t *pool = sm_pool_of((uintptr_t)held[0]);
    char *base = sm_pool_base(pool);
    give_one(cls, held[5]);
    give_one(cls, held[2]);
    give_one(cls, held[9]); /* the pool's free list: 9, 2, 5 */
    sm_block_t *chain = take(shard, cls, 5);
    sm_block_t *want[5] = {held[9], held[2], held[5], (sm_block_t *)(base + 12 * size),
                           (sm_block_t *)(base + 13 * size)};
    sm_block_t *b = chain;
    for (unsigned j = 0; j < 5; j++, b = sm_freelist_next(b))
        cr_assert_eq(b, want[j], "block %u of the batch is at offset %td", j, (char *)b - base);
    cr_assert_null(b, "the batch is longer than 5");
    cr_assert_eq(pool->freeblock, SM_POOL_NO_BLOCK, "the free list was not used up");
    cr_assert_eq(pool->nextoffset, 14 * size, "nextoffset %u", pool->nextoffset);
    cr_assert_eq(pool->nused, 14, "nused %u", pool->nused);
    cr_assert(pool_is_checked_ok(pool, cls), "sm_pool_check after the batch");
    /* A batch smaller than the free list leaves the rest of it linked. */
    sm_pool_free_batch(cls, chain, "free"); /* free list: 13, 12, 5, 2, 9 */
    chain = take(shard, cls, 2);
    cr_assert_eq((char *)chain, base + 13 * size, "first of a 2-block batch");
    cr_assert_eq((char *)sm_freelist_next(chain), base + 12 * size, "second of a 2-block batch");
    cr_assert_null(sm_freelist_next(sm_freelist_next(chain)), "the batch is longer than 2");
    cr_assert_eq(pool->freeblock, 5 * size, "the pool's free list goes on at block 5, not %u",
                 pool->freeblock);
    cr_assert(pool_is_checked_ok(pool, cls), "sm_pool_check after a partial batch");
    sm_pool_free_batch(cls, chain, "free");
    for (unsigned j = 0; j < 12; j++) {
        if (j != 2 && j != 5 && j != 9)
            give_one(cls, held[j]);
    }
    cr_assert_null(sm_g_central[shard][cls].used, "the pool emptied");
}

/* Is pool in the shard's used list of cls, and at which position? -1: no. */
static int used_position(unsigned shard, unsigned cls, const sm_pool_t *pool)
{
    int pos = 0;
    for (const sm_pool_t *p = sm_g_central[shard][cls].used; p != NULL; p = p->next, pos++) {
        if (p == pool)
            return pos;
    }
    return -1;
}

Test(pool, state_machine_used_full_used_empty)
{
    unsigned shard = clean_shard();
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        unsigned nblocks = sm_class_nblocks(cls);
        /* empty -> used: the refill finds no used pool and takes one. */
        sm_block_t *chain = take(shard, cls, 1);
        sm_pool_t *pool = sm_pool_of((uintptr_t)chain);
        sm_arena_t *arena = sm_arena_of((uintptr_t)pool);
        cr_assert_eq(pool->cls, cls, "class %u: pool serves class %u", cls, pool->cls);
        cr_assert_eq(sm_space_class((uintptr_t)chain), cls, "class %u: the arena space says class %u", cls,
                     sm_space_class((uintptr_t)chain));
        cr_assert_eq(used_position(shard, cls, pool), 0, "class %u: a used pool is not at the list front", cls);
        cr_assert(pool_is_checked_ok(pool, cls), "class %u: check in state used", cls);

        /* used -> full: the last free block is handed out. */
        sm_block_t *rest = take(shard, cls, nblocks - 1);
        cr_assert_eq(pool->nused, nblocks, "class %u: nused %u", cls, pool->nused);
        cr_assert_eq(used_position(shard, cls, pool), -1, "class %u: a full pool is still in the used list", cls);
        cr_assert_null(sm_g_central[shard][cls].used, "class %u: used list not empty", cls);
        cr_assert(pool_is_checked_ok(pool, cls), "class %u: check in state full", cls);
        for (sm_block_t *b = rest; b != NULL; b = sm_freelist_next(b))
            cr_assert_eq(sm_pool_of((uintptr_t)b), pool, "class %u: a batch crossed into another pool", cls);

        /* full -> used: one block comes back; the pool is linked at the
         * front, so the next refill takes that very block. */
        sm_block_t *next = sm_freelist_next(rest);
        give_one(cls, rest);
        cr_assert_eq(pool->nused, nblocks - 1, "class %u", cls);
        cr_assert_eq(used_position(shard, cls, pool), 0, "class %u: full -> used must link at the front", cls);
        cr_assert(pool_is_checked_ok(pool, cls), "class %u: check after full -> used", cls);
        sm_block_t *back = take(shard, cls, 1);
        cr_assert_eq(back, rest, "class %u: the refill did not take the returned block", cls);
        cr_assert_eq(used_position(shard, cls, pool), -1, "class %u: full again but still listed", cls);
        give_one(cls, back);

        /* used -> empty: every block returns; the pool goes to its arena. */
        give_one(cls, chain);
        while (next != NULL) {
            sm_block_t *after = sm_freelist_next(next);
            cr_assert_neq(pool->cls, SM_CLASS_NONE, "class %u: emptied with blocks still out", cls);
            give_one(cls, next);
            next = after;
        }
        cr_assert_eq(pool->nused, 0, "class %u", cls);
        cr_assert_eq(pool->cls, SM_CLASS_NONE, "class %u: an empty pool keeps its class", cls);
        cr_assert_eq(sm_space_class((uintptr_t)chain), SM_CLASS_NONE,
                     "class %u: an empty pool must refuse every free", cls);
        cr_assert_eq(used_position(shard, cls, pool), -1, "class %u: an empty pool is still in the used list", cls);
        cr_assert_eq(arena->freepools, pool, "class %u: the empty pool is not on its arena's free pools", cls);
        cr_assert(pool_is_checked_ok(pool, cls), "class %u: check in state empty", cls);
        for (uintptr_t offset = 0; offset < SM_POOL_SIZE; offset++) {
            uintptr_t a = (uintptr_t)sm_pool_base(pool) + offset;
            cr_assert(!sm_space_is_block_start(a, sm_space_class(a)),
                      "class %u: emptied pool accepts offset %zu", cls, (size_t)offset);
        }
    }
}

Test(pool, full_pool_regains_front_of_used_list)
{
    unsigned shard = clean_shard();
    unsigned cls = 64; /* 512 bytes: 8 blocks per pool */
    unsigned nblocks = sm_class_nblocks(cls);
    sm_block_t *a = take(shard, cls, nblocks);     /* pool A, full */
    sm_block_t *b = take(shard, cls, 1);           /* pool B, used */
    sm_pool_t *pa = sm_pool_of((uintptr_t)a), *pb = sm_pool_of((uintptr_t)b);
    cr_assert_neq(pa, pb, "the second batch should need a second pool");
    cr_assert_eq(used_position(shard, cls, pb), 0, "B is the used pool");
    cr_assert_eq(used_position(shard, cls, pa), -1, "A is full");
    sm_block_t *a_rest = sm_freelist_next(a);
    give_one(cls, a);
    cr_assert_eq(used_position(shard, cls, pa), 0, "A came back in front");
    cr_assert_eq(used_position(shard, cls, pb), 1, "B behind it");
    cr_assert_eq(take(shard, cls, 1), a, "the next block comes from A");
    sm_freelist_set_next(a, a_rest);
    sm_pool_free_batch(cls, a, "free");
    give_one(cls, b);
    cr_assert_null(sm_g_central[shard][cls].used, "every pool of the class is empty again");
}

Test(pool, a_batch_spans_pools)
{
    unsigned shard = clean_shard();
    unsigned cls = 8; /* 64 bytes: 64 blocks per pool */
    unsigned nblocks = sm_class_nblocks(cls);
    sm_block_t *chain = take(shard, cls, 2 * nblocks + 5);
    unsigned counted = 0;
    for (sm_block_t *b = chain; b != NULL; b = sm_freelist_next(b))
        counted++;
    cr_assert_eq(counted, 2 * nblocks + 5, "chain length");
    sm_pool_t *front = sm_g_central[shard][cls].used;
    cr_assert_not_null(front, "the third pool is in use");
    cr_assert_eq(front->nused, 5, "the third pool gave 5 blocks");
    cr_assert_null(front->next, "the two full pools are in no list");
    sm_pool_free_batch(cls, chain, "free");
    cr_assert_null(sm_g_central[shard][cls].used, "all three pools emptied");
}

Test(pool, check_catches_broken_descriptors)
{
    unsigned shard = clean_shard();
    unsigned cls = 3; /* 32 bytes */
    size_t size = sm_class_size(cls);
    sm_block_t *chain = take(shard, cls, 10);
    sm_pool_t *pool = sm_pool_of((uintptr_t)chain);
    /* Free blocks 2 and 3 of the ten, so the pool has a free list. */
    sm_block_t *b1 = sm_freelist_next(chain), *b2 = sm_freelist_next(b1);
    sm_block_t *b3 = sm_freelist_next(b2);
    sm_freelist_set_next(b1, b3);
    give_one(cls, b2);
    cr_assert(pool_is_checked_ok(pool, cls), "a sound pool passes");

    sm_lock(&sm_g_central[shard][cls].lock);
    sm_pool_t saved = *pool;
    pool->nused++;
    cr_assert(!sm_pool_check(pool), "nused one too high passes");
    *pool = saved;
    pool->nused--;
    cr_assert(!sm_pool_check(pool), "nused one too low passes");
    *pool = saved;
    pool->freeblock = (uint16_t)(pool->freeblock + 8);
    cr_assert(!sm_pool_check(pool), "a free list starting inside a block passes");
    *pool = saved;
    pool->nextoffset = (uint16_t)(pool->nextoffset - size * 9);
    cr_assert(!sm_pool_check(pool), "a free block beyond nextoffset passes");
    *pool = saved;
    /* A cycle: the free block links to itself. */
    sm_block_t *fb = (sm_block_t *)(sm_pool_base(pool) + pool->freeblock);
    sm_block_t *link = sm_freelist_next(fb);
    sm_freelist_set_next(fb, fb);
    cr_assert(!sm_pool_check(pool), "a cyclic free list passes");
    sm_freelist_set_next(fb, link);
    cr_assert(sm_pool_check(pool), "restored pool fails");
    sm_unlock(&sm_g_central[shard][cls].lock);

    sm_pool_free_batch(cls, chain, "free");
    cr_assert_eq(pool->cls, SM_CLASS_NONE, "pool emptied");
}
