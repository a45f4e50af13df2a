/*
 * The pool state machine and the per-class central lists (see pool.h).
 * Lock order: class lock, then arena lock.
 */
#include <stddef.h>

#include "arena.h"
#include "error.h"
#include "list.h"
#include "options.h"
#include "pool.h"
#include "secure.h"
#include "size_class.h"
#include "space.h"
#include "track.h"

sm_central_t sm_g_central[SM_SHARDS][SM_NCLASSES + 1] = {
    [0 ... SM_SHARDS - 1] = {[0 ... SM_NCLASSES] = {.lock = SM_LOCK_INITIALIZER, .used = NULL}},
};

static void used_link_front(sm_central_t *c, sm_pool_t *pool)
{
    SM_LIST_PUSH(c->used, pool, prev, next);
}

static void used_unlink(sm_central_t *c, sm_pool_t *pool)
{
    SM_LIST_UNLINK(c->used, pool, prev, next);
    pool->next = pool->prev = NULL;
}

static sm_block_t *pool_freeblock(const sm_pool_t *pool)
{
    if (pool->freeblock == SM_POOL_NO_BLOCK)
        return NULL;
    return (sm_block_t *)(sm_pool_base(pool) + pool->freeblock);
}

static void pool_set_freeblock(sm_pool_t *pool, const sm_block_t *b)
{
    pool->freeblock = b ? (uint16_t)((uintptr_t)b & (SM_POOL_SIZE - 1)) : SM_POOL_NO_BLOCK;
}

/* pool_freeblock for a caller that has the pool's address (base) already:
 * no sm_pool_base arithmetic. */
static sm_block_t *pool_freeblock_at(const sm_pool_t *pool, uintptr_t base)
{
    if (pool->freeblock == SM_POOL_NO_BLOCK)
        return NULL;
    return (sm_block_t *)(base + pool->freeblock);
}

static unsigned pool_limit(sm_cls_t cls)
{
    return sm_class_nblocks(cls) * (unsigned)sm_class_size(cls);
}

/* Hardened build: every block of a new pool goes on its free list at
 * once, in a random order, instead of being carved in address order. */
static void pool_carve_random(sm_pool_t *pool, sm_cls_t cls)
{
    size_t size = sm_class_size(cls);
    char *base = sm_pool_base(pool);
    unsigned nblocks = sm_class_nblocks(cls);
    uint16_t order[SM_POOL_SIZE / SM_QUANTUM];
    for (unsigned j = 0; j < nblocks; j++)
        order[j] = (uint16_t)j;
    sm_secure_shuffle(order, nblocks);
    sm_block_t *next = NULL;
    for (unsigned j = nblocks; j-- > 0;) {
        sm_block_t *b = (sm_block_t *)(base + order[j] * size);
        sm_freelist_set_next(b, next);
        next = b;
    }
    pool_set_freeblock(pool, next);
    pool->nextoffset = (uint16_t)pool_limit(cls);
}

/* Is next, read from a free block of pool, NULL or a carved block of the
 * same pool? (Checked in the hardened build.) */
static int pool_link_ok(const sm_pool_t *pool, const sm_block_t *next)
{
    uintptr_t a = (uintptr_t)next;
    return next == NULL || (sm_pool_of(a) == pool && sm_space_is_block_start(a, pool->cls) &&
                            (a & (SM_POOL_SIZE - 1)) < pool->nextoffset);
}

/* A used pool for cls: the front of the class list, or a new one. */
static sm_pool_t *used_pool(sm_central_t *c, unsigned shard, sm_cls_t cls)
{
    if (c->used != NULL)
        return c->used;
    sm_lock(&sm_g_arena[shard].lock);
    sm_arena_t *newest = sm_g_arena[shard].all; /* a new arena goes in front */
    sm_pool_t *pool = sm_arena_take_pool(shard);
    sm_arena_t *mapped = sm_g_arena[shard].all != newest ? sm_g_arena[shard].all : NULL;
    if (mapped != NULL) /* before another thread can take one of its pools */
        sm_track_unused((char *)mapped + SM_ARENA_HEADER_POOLS * SM_POOL_SIZE,
                        SM_ARENA_SIZE - SM_ARENA_HEADER_POOLS * SM_POOL_SIZE);
    sm_unlock(&sm_g_arena[shard].lock);
    if (sm_unlikely(mapped != NULL) && sm_g_arena_event != NULL)
        sm_g_arena_event(mapped, true);
    if (pool == NULL)
        return NULL;
    sm_track_unused(sm_pool_base(pool), SM_POOL_SIZE);
    pool->freeblock = SM_POOL_NO_BLOCK;
    pool->nused = 0;
    pool->nextoffset = 0;
    pool->cls = (uint8_t)cls;
    sm_space_set_class(sm_pool_base(pool), cls); /* frees into it pass from now on */
    if (SM_SECURE)
        pool_carve_random(pool, cls);
    used_link_front(c, pool);
    return pool;
}

/* The next block of pool's free list after b, checked in the hardened build. */
static sm_block_t *pool_next_free(const sm_pool_t *pool, const sm_block_t *b)
{
    sm_block_t *next = sm_freelist_next(b);
    if (SM_SECURE && sm_unlikely(!pool_link_ok(pool, next)))
        sm_secure_fail("malloc", b, "corrupted free list (a link leaves its pool)");
    return next;
}

/* Put first..last, linked among themselves already, at the end of the
 * batch head..*tail. */
static void batch_append(sm_block_t **head, sm_block_t **tail, sm_block_t *first, sm_block_t *last)
{
    if (*tail != NULL)
        sm_freelist_set_next(*tail, first);
    else
        *head = first;
    *tail = last;
}

/*
 * A batch comes out in the order pymalloc would hand the same blocks out:
 * from each pool first a prefix of its free list, as it is linked (the
 * block freed last first), then never-carved blocks in ascending address
 * order. The thread cache pops a batch from its head, so consecutive
 * mallocs of one class get consecutive addresses, and objects built
 * together (a list's items, a tree's nodes) are walked forwards in memory.
 * The free-list prefix is cut off the pool in one piece (its links are
 * kept) and a carved run is linked once, block to next block, so each
 * block costs one link read or one link write, and the pool's counters are
 * written once per pool, not once per block.
 *
 * Why not push each block on the front of the batch, with one pointer
 * less (bench/results/studies/python-placement.md has the commands): that hands every run out in
 * descending order. Cachegrind, which models no prefetcher, counts the
 * same misses for both orders, but the hardware follows ascending
 * streams: walking 1M 32-byte nodes in the order they were malloc'd takes
 * 2.2 ns a node instead of 12.5. In
 * python3.11 (PYTHONMALLOC=malloc), consecutive objects of the collector's
 * list lie forwards in the same 4 KiB for 96% of pairs instead of 0% (91%
 * backwards), and CPU-time medians against pymalloc are, descending then
 * ascending: sort_live 1.03x, 0.92x; gc_graph 1.54x, 1.32x; dicts_lists
 * 1.24x, 0.97x. Cut in runs, a batch costs 9.4 instructions a block
 * (12.7 when the carving loop tested two bounds a block), 16.3 pushed one
 * by one (callgrind, a program that mallocs 500k 32-byte blocks then frees
 * them, LD_PRELOAD=build/lib/libsmalloc.so SMALLOC_BACKGROUND=0:
 * sm_pool_alloc_batch's instructions / 500k).
 */
unsigned sm_pool_alloc_batch(unsigned shard, sm_cls_t cls, unsigned want, sm_block_t **chain)
{
    sm_central_t *c = &sm_g_central[shard][cls];
    size_t size = sm_class_size(cls);
    unsigned limit = pool_limit(cls);
    unsigned nblocks = sm_class_nblocks(cls);
    sm_block_t *head = NULL, *tail = NULL;
    unsigned got = 0;

    sm_lock(&c->lock);
    while (got < want) {
        sm_pool_t *pool = used_pool(c, shard, cls);
        if (pool == NULL)
            break;
        unsigned before = got;
        sm_block_t *first = pool_freeblock(pool);
        if (first != NULL) {
            sm_block_t *last = first;
            sm_block_t *next = pool_next_free(pool, last);
            for (got++; next != NULL && got < want; got++) {
                last = next;
                next = pool_next_free(pool, last);
            }
            pool_set_freeblock(pool, next);
            batch_append(&head, &tail, first, last);
        }
        unsigned offset = pool->nextoffset;
        if (got < want && offset < limit) {
            /* How many first (one division when the pool ends, not per
             * block), then a loop with one bound. */
            unsigned n = want - got;
            if (n * size > limit - offset)
                n = (limit - offset) / (unsigned)size;
            char *run = sm_pool_base(pool) + offset, *last = run;
            for (unsigned i = 1; i < n; i++, last += size)
                sm_freelist_set_next((sm_block_t *)last, (sm_block_t *)(last + size));
            pool->nextoffset = (uint16_t)(offset + n * size);
            got += n;
            batch_append(&head, &tail, (sm_block_t *)run, (sm_block_t *)last);
        }
        pool->nused = (uint16_t)(pool->nused + (got - before));
        if (pool->nused == nblocks)
            used_unlink(c, pool); /* used -> full */
        sm_assert_expensive(sm_pool_check(pool));
    }
    sm_unlock(&c->lock);
    if (tail != NULL)
        sm_freelist_set_next(tail, NULL);
    *chain = head;
    return got;
}

/* used -> empty: pool, left empty by a flushed run, goes back to its arena;
 * returns the arena to unmap, if that emptied it. Out of line, so that the
 * run's loop keeps its registers (1 run in 20 empties its pool in
 * python3 dicts_lists.py). pre: c, the pool's class list, locked. */
static sm_noinline sm_arena_t *pool_give_back(sm_central_t *c, sm_pool_t *pool)
{
    used_unlink(c, pool);
    sm_lock_t *arena_lock = &sm_g_arena[sm_arena_of((uintptr_t)pool)->shard].lock;
    sm_lock(arena_lock);
    sm_arena_t *gone = sm_arena_give_pool(pool);
    sm_unlock(arena_lock);
    return gone;
}

/* Return the blocks at the head of *chain that belong to one pool (a
 * batch holds runs of them: a refill takes a pool's blocks together, and a
 * program frees neighbours together), advancing *chain past them: every
 * block is checked and pushed on the pool's free list, the pool's count
 * and state change once for the run. Python dropping a large container
 * flushes most of its frees through here, in short runs: in python3.11
 * bench/python/dicts_lists.py 0.2, 677k blocks in 160k runs of 134k
 * distinct pools (callgrind's counts of this function's lines, command in
 * tcache.h; the pools counted by a build that counted them), in gc_graph
 * 0.3, 371k blocks in 247k runs. So the run's own cost counts as much as
 * the block's: the pool's fields are read into locals once (a store
 * through a block could alias them), and a block is in the run while it
 * lies in the run's 4 KiB (one xor, which gives its offset too, and one
 * compare, which also ends the run at NULL). A block costs 15
 * instructions (17 before; objdump -d of sm_pool_free_batch), and
 * sm_pool_free_batch went from 27.9M to 18.9M instructions in
 * dicts_lists (with pool_give_back). Sets *emptied when the run left the pool empty (given to
 * its arena); returns the arena to unmap, if that emptied it. pre: c, the
 * pool's class list, locked. */
static sm_arena_t *pool_free_run(sm_central_t *c, sm_cls_t cls, unsigned nblocks,
                                 sm_block_t **chain, bool *emptied, const char *func)
{
    sm_block_t *b = *chain;
    uintptr_t base = (uintptr_t)b & ~(SM_POOL_SIZE - 1);
    sm_pool_t *pool = sm_pool_of(base);
    if (sm_unlikely(pool->cls != cls))
        sm_fatal(func, b, "invalid pointer");
    sm_block_t *first = pool_freeblock_at(pool, base);
    uintptr_t limit = pool->nextoffset;
    unsigned nused = pool->nused, k = 0;
    uintptr_t offset = (uintptr_t)b - base;
    do {
        sm_block_t *next = sm_freelist_next(b);
        if (sm_unlikely(offset >= limit))
            sm_fatal(func, b, "invalid pointer");
        if (sm_unlikely(first == b || k >= nused))
            sm_fatal(func, b, "double free detected");
        k++;
        sm_freelist_set_next(b, first);
        first = b;
        b = next;
        offset = (uintptr_t)b ^ base; /* b's offset when b is in the pool */
    } while (offset < SM_POOL_SIZE);  /* NULL is not: base is not 0 */
    *chain = b;
    pool->freeblock = (uint16_t)((uintptr_t)first - base); /* first is b's: not NULL */
    if (nused == nblocks)
        used_link_front(c, pool); /* full -> used */
    pool->nused = (uint16_t)(nused - k);
    if (nused != k)
        return NULL;
    *emptied = true;
    return pool_give_back(c, pool);
}

void sm_pool_free_batch(sm_cls_t cls, sm_block_t *chain, const char *func)
{
    unsigned nblocks = sm_class_nblocks(cls);
    sm_central_t *c = NULL;         /* the central list whose lock is held */
    unsigned shard = SM_SHARDS;     /* c's shard (none yet) */
    uintptr_t arena = 0;            /* an arena of that shard: the last run's */
    sm_arena_t *unmap = NULL;
    bool emptied = false;           /* a pool went back to its arena */

    while (chain != NULL) {
        /* A block's shard is its arena's, fixed when the arena was mapped:
         * read only when the run is in another arena than the last (in
         * python3 dicts_lists.py, 101k of 160k runs), c looked up only
         * when that arena's shard is another. */
        if (((uintptr_t)chain & ~(SM_ARENA_SIZE - 1)) != arena) {
            arena = (uintptr_t)chain & ~(SM_ARENA_SIZE - 1);
            if (((sm_arena_t *)arena)->shard != shard) {
                shard = ((sm_arena_t *)arena)->shard;
                if (c != NULL)
                    sm_unlock(&c->lock);
                c = &sm_g_central[shard][cls];
                sm_lock(&c->lock);
            }
        }
        sm_arena_t *gone = pool_free_run(c, cls, nblocks, &chain, &emptied, func);
        if (gone != NULL) {
            gone->next = unmap;
            unmap = gone;
        }
    }
    if (c != NULL)
        sm_unlock(&c->lock);
    while (unmap != NULL) {
        sm_arena_t *next = unmap->next;
        sm_arena_unmap(unmap);
        unmap = next;
    }
    /* Only a pool given back can have set pools aside (sm_arena_give_pool);
     * those set aside by others are purged by them. */
    if (emptied)
        sm_arena_purge();
}

bool sm_pool_holds_free(sm_cls_t cls, const sm_block_t *b)
{
    const sm_pool_t *pool = sm_pool_of((uintptr_t)b);
    sm_central_t *c = &sm_g_central[sm_arena_of((uintptr_t)b)->shard][cls];
    bool found = false;
    sm_lock(&c->lock);
    if (pool->cls == cls)
        for (const sm_block_t *f = pool_freeblock(pool); f != NULL && !found; f = sm_freelist_next(f))
            found = f == b;
    sm_unlock(&c->lock);
    return found;
}

int sm_pool_check(const sm_pool_t *pool)
{
    if (pool->cls == SM_CLASS_NONE)
        return pool->nused == 0;
    sm_cls_t cls = pool->cls;
    size_t size = sm_class_size(cls);
    unsigned nfree = 0;
    for (const sm_block_t *b = pool_freeblock(pool); b != NULL; b = sm_freelist_next(b)) {
        uintptr_t offset = (uintptr_t)b & (SM_POOL_SIZE - 1);
        if (sm_pool_of((uintptr_t)b) != pool || offset % size != 0 || offset >= pool->nextoffset)
            return 0;
        if (++nfree > sm_class_nblocks(cls))
            return 0;
    }
    return nfree + pool->nused == pool->nextoffset / size;
}
