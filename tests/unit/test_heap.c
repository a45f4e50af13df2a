/*
 * heap: a thread cache refills with half a bin, carving only that many
 * blocks from a fresh pool; a full bin sends its older half away (transfer
 * cache first, pools after); frees from another thread land in the freeing
 * thread's bin; a thread's exit returns its bins to the pools.
 *
 * The bin capacity is heap.c's rule, restated here so that a change to it
 * is a visible decision: SM_BIN_BYTES / class size, clamped to
 * [SM_BIN_MIN_BLOCKS, SM_BIN_MAX_BLOCKS], rounded down to even; a batch is
 * half of it.
 */
#include <pthread.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "arena.h"
#include "heap.h"
#include "pool.h"
#include "size_class.h"
#include "transfer.h"
#include "shard.h"

static unsigned capacity(unsigned cls)
{
    size_t n = SM_BIN_BYTES / sm_class_size(cls);
    if (n < SM_BIN_MIN_BLOCKS)
        n = SM_BIN_MIN_BLOCKS;
    if (n > SM_BIN_MAX_BLOCKS)
        n = SM_BIN_MAX_BLOCKS;
    return (unsigned)n & ~1u;
}

static unsigned bin_count(const sm_heap_t *h, unsigned cls)
{
    unsigned n = 0;
    for (const sm_block_t *b = h->head[cls]; b != NULL; b = sm_freelist_next(b))
        n++;
    return n;
}

static void refill_thread(void *arg)
{
    unsigned shard = *(unsigned *)arg;
    sm_heap_t *h = sm_heap_current;
    static void *held[2 * SM_BIN_MAX_BLOCKS];
    for (unsigned cls = 0; cls < SM_NCLASSES; cls++) {
        size_t size = sm_class_size(cls);
        unsigned cap = capacity(cls), batch = cap / 2;
        unsigned nblocks = sm_class_info[cls].nblocks;
        cr_assert_eq(h->room[cls], cap, "class %u: room %u of an empty bin, want %u", cls, h->room[cls], cap);
        cr_assert_leq(batch, nblocks, "class %u: a batch is more than a pool; the test assumes less", cls);

        held[0] = smalloc_malloc(size);
        sm_pool_t *pool = sm_pool_of((uintptr_t)held[0]);
        cr_assert_eq(sm_arena_of((uintptr_t)pool)->shard, shard, "class %u: block from another shard", cls);
        cr_assert_eq(pool->nused, batch, "class %u: the first refill took %u blocks, want %u", cls, pool->nused, batch);
        cr_assert_eq(pool->nextoffset, batch * size, "class %u: carved %u bytes, want %zu", cls,
                     pool->nextoffset, batch * size);
        cr_assert_eq(bin_count(h, cls), batch - 1, "class %u: bin holds %u", cls, bin_count(h, cls));
        cr_assert_eq(h->room[cls], cap - (batch - 1), "class %u: room %u", cls, h->room[cls]);

        /* The rest of the batch comes from the bin: the pool does not move. */
        for (unsigned i = 1; i < batch; i++) {
            held[i] = smalloc_malloc(size);
            cr_assert_eq(pool->nextoffset, batch * size, "class %u: the pool moved on malloc %u", cls, i + 1);
        }
        cr_assert_null(h->head[cls], "class %u: bin not empty after a whole batch", cls);
        /* The next malloc refills again: the rest of the pool, or a new one. */
        held[batch] = smalloc_malloc(size);
        if (2 * batch <= nblocks) {
            cr_assert_eq(sm_pool_of((uintptr_t)held[batch]), pool, "class %u: second batch left the pool", cls);
            cr_assert_eq(pool->nextoffset, 2 * batch * size, "class %u: second refill carved to %u", cls,
                         pool->nextoffset);
        } else {
            sm_pool_t *second = sm_pool_of((uintptr_t)held[batch]);
            cr_assert_neq(second, pool, "class %u: second batch from the full pool", cls);
            cr_assert_eq(second->nextoffset, batch * size, "class %u: second pool carved to %u", cls,
                         second->nextoffset);
        }
        for (unsigned i = 0; i <= batch; i++)
            smalloc_free(held[i]);
    }
}

Test(heap, refill_takes_half_a_bin_and_carves_only_that)
{
    unsigned shard = clean_shard();
    clean_shard_run(shard, refill_thread, &shard);
}

static void flush_thread(void *arg)
{
    (void)arg;
    sm_heap_t *h = sm_heap_current;
    static void *held[2 * SM_BIN_MAX_BLOCKS + 1];
    for (unsigned cls = 0; cls < SM_NCLASSES; cls++) {
        size_t size = sm_class_size(cls);
        unsigned cap = capacity(cls), batch = cap / 2;
        size_t parked0 = sm_transfer_parked_blocks(cls, 1);
        for (unsigned i = 0; i <= cap; i++)
            held[i] = smalloc_malloc(size);
        cr_assert_eq(bin_count(h, cls), batch - 1, "class %u: bin after %u mallocs", cls, cap + 1);
        /* Fill the bin to the brim: cap - (batch - 1) frees. */
        unsigned i = 0;
        for (; bin_count(h, cls) < cap; i++)
            smalloc_free(held[i]);
        cr_assert_eq(h->room[cls], 0, "class %u: a full bin has room %u", cls, h->room[cls]);
        cr_assert_eq(sm_transfer_parked_blocks(cls, 1), parked0, "class %u: parked before the bin was full", cls);
        /* One more free: the older half leaves, the new block is pushed. */
        smalloc_free(held[i]);
        i++;
        cr_assert_eq(h->head[cls], held[i - 1], "class %u: the freed block is not at the bin head", cls);
        cr_assert_eq(bin_count(h, cls), batch + 1, "class %u: bin holds %u after a flush", cls, bin_count(h, cls));
        cr_assert_eq(h->room[cls], cap - batch - 1, "class %u: room %u after a flush", cls, h->room[cls]);
        cr_assert_eq(sm_transfer_parked_blocks(cls, 1), parked0 + 1, "class %u: the older half was not parked", cls);
        for (; i <= cap; i++)
            smalloc_free(held[i]);
    }
}

Test(heap, full_bin_parks_its_older_half)
{
    unsigned shard = clean_shard();
    clean_shard_run(shard, flush_thread, NULL);
}

/* Cross-thread frees and thread exit. */
struct handoff {
    unsigned shard;
    unsigned cls;
    unsigned n;
    void *blocks[64];
    sm_pool_t *pools[64];
};

static void producer_thread(void *arg)
{
    struct handoff *ho = arg;
    for (unsigned i = 0; i < ho->n; i++) {
        ho->blocks[i] = smalloc_malloc(sm_class_size(ho->cls));
        ho->pools[i] = sm_pool_of((uintptr_t)ho->blocks[i]);
    }
}

static void consumer_thread(void *arg)
{
    struct handoff *ho = arg;
    sm_heap_t *h = sm_heap_current;
    for (unsigned i = 0; i < ho->n; i++) {
        smalloc_free(ho->blocks[i]);
        cr_assert_eq(h->head[ho->cls], ho->blocks[i], "block %u freed by another thread is not in this thread's bin", i);
    }
    cr_assert_eq(bin_count(h, ho->cls), ho->n, "consumer bin");
    /* nused still counts them: cached blocks are handed out of the pools. */
    cr_assert_geq(ho->pools[0]->nused, ho->n, "pool nused %u", ho->pools[0]->nused);
}

Test(heap, free_from_another_thread_goes_to_its_bin_and_exit_flushes)
{
    struct handoff ho = {.shard = clean_shard(), .cls = 11, .n = 40};
    size_t cached0 = sm_heap_cached_blocks(ho.cls); /* the main thread's bin, if any */
    clean_shard_run(ho.shard, producer_thread, &ho);
    /* The producer exited: its bin (the rest of its batch) went back. */
    sm_pool_t *pool = ho.pools[0];
    for (unsigned i = 0; i < ho.n; i++)
        cr_assert_eq(ho.pools[i], pool, "one pool serves the 40 blocks of class 11 (42 per pool)");
    cr_assert_eq(pool->nused, ho.n, "after the producer's exit its pool has %u blocks out, want %u", pool->nused, ho.n);
    cr_assert_eq(sm_heap_cached_blocks(ho.cls), cached0, "blocks of class %u still cached", ho.cls);
    clean_shard_run(ho.shard, consumer_thread, &ho);
    /* The consumer exited too: every block is back and the pool is empty. */
    cr_assert_eq(pool->nused, 0, "pool nused %u after both threads exited", pool->nused);
    cr_assert_eq(pool->cls, SM_CLASS_NONE, "the emptied pool went back to its arena");
}
