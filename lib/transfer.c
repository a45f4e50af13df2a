/*
 * The transfer cache (see transfer.h).
 */
#include <stdatomic.h>

#include "lock.h"
#include "os.h"
#include "pool.h"
#include "release.h"
#include "transfer.h"

/* batches[0] is the oldest: put pushes and take pops at nbatches - 1. */
typedef struct transfer_slots {
    sm_lock_t lock;
    _Atomic unsigned nbatches; /* written under lock, peeked at without it */
    sm_block_t *batches[SM_TRANSFER_SLOTS];
    uint32_t parked_ms[SM_TRANSFER_SLOTS]; /* coarse clock when parked, low 32 bits */
} sm_cacheline_aligned transfer_slots_t;

static transfer_slots_t slots[SM_SHARDS][SM_NCLASSES + 1] = {
    [0 ... SM_SHARDS - 1] = {[0 ... SM_NCLASSES] = {.lock = SM_LOCK_INITIALIZER}},
};

bool sm_transfer_has_room(unsigned shard, sm_cls_t cls)
{
    return atomic_load_explicit(&slots[shard][cls].nbatches, memory_order_relaxed) < SM_TRANSFER_SLOTS;
}

/* The locked part of sm_transfer_put and sm_transfer_take, out of line:
 * the callers' peeks, which answer most calls, then run without this
 * part's saved registers (python3 dicts_lists.py: a take that finds
 * nothing cost 30 instructions with it inlined). */
static sm_noinline bool put_locked(transfer_slots_t *t, sm_block_t *batch)
{
    bool parked = false;
    uint32_t now = (uint32_t)sm_os_now_ms(); /* a vDSO read, outside the lock */
    sm_lock(&t->lock);
    unsigned n = atomic_load_explicit(&t->nbatches, memory_order_relaxed);
    if (n < SM_TRANSFER_SLOTS) {
        t->batches[n] = batch;
        t->parked_ms[n] = now;
        atomic_store_explicit(&t->nbatches, n + 1, memory_order_relaxed);
        parked = true;
    }
    sm_unlock(&t->lock);
    if (parked)
        sm_release_note_parked(); /* someone must drain it if nobody takes it */
    return parked;
}

static sm_noinline sm_block_t *take_locked(transfer_slots_t *t)
{
    sm_block_t *batch = NULL;
    sm_lock(&t->lock);
    unsigned n = atomic_load_explicit(&t->nbatches, memory_order_relaxed);
    if (n > 0) {
        batch = t->batches[n - 1];
        atomic_store_explicit(&t->nbatches, n - 1, memory_order_relaxed);
    }
    sm_unlock(&t->lock);
    return batch;
}

bool sm_transfer_put(unsigned shard, sm_cls_t cls, sm_block_t *batch)
{
    /* The caller peeked first (sm_transfer_has_room, transfer.h): when a
     * program drops a large container the slots are full for nearly every
     * flush (python3.11 dicts_lists.py: 114 of 11,817 parked). */
    return put_locked(&slots[shard][cls], batch);
}

sm_block_t *sm_transfer_take(unsigned shard, sm_cls_t cls)
{
    transfer_slots_t *t = &slots[shard][cls];
    /* An unlocked peek: a wrong "empty" only sends the caller to the pools. */
    if (atomic_load_explicit(&t->nbatches, memory_order_relaxed) == 0)
        return NULL;
    return take_locked(t);
}

bool sm_transfer_holds(unsigned shard, sm_cls_t cls, const sm_block_t *b)
{
    transfer_slots_t *t = &slots[shard][cls];
    bool found = false;
    sm_lock(&t->lock);
    unsigned n = atomic_load_explicit(&t->nbatches, memory_order_relaxed);
    for (unsigned i = 0; i < n && !found; i++)
        for (const sm_block_t *f = t->batches[i]; f != NULL && !found; f = sm_freelist_next(f))
            found = f == b;
    sm_unlock(&t->lock);
    return found;
}

/* Take the batches of t parked at least delay before now into out; how
 * many. The oldest are at the bottom, so they are a prefix. */
static unsigned take_unused(transfer_slots_t *t, uint32_t now, uint32_t delay,
                            sm_block_t *out[SM_TRANSFER_SLOTS])
{
    unsigned old = 0;
    sm_lock(&t->lock);
    unsigned n = atomic_load_explicit(&t->nbatches, memory_order_relaxed);
    while (old < n && (uint32_t)(now - t->parked_ms[old]) >= delay) {
        out[old] = t->batches[old];
        old++;
    }
    for (unsigned i = old; i < n; i++) {
        t->batches[i - old] = t->batches[i];
        t->parked_ms[i - old] = t->parked_ms[i];
    }
    atomic_store_explicit(&t->nbatches, n - old, memory_order_relaxed);
    sm_unlock(&t->lock);
    return old;
}

void sm_transfer_release_unused(uint64_t now_ms, uint64_t delay_ms)
{
    uint32_t now = (uint32_t)now_ms, delay = delay_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)delay_ms;
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++) {
            transfer_slots_t *t = &slots[shard][cls];
            if (atomic_load_explicit(&t->nbatches, memory_order_relaxed) == 0)
                continue;
            sm_block_t *old[SM_TRANSFER_SLOTS];
            unsigned n = take_unused(t, now, delay, old);
            for (unsigned i = 0; i < n; i++)
                sm_pool_free_batch(cls, old[i], "free");
        }
    }
}

bool sm_transfer_has_parked(void)
{
    for (unsigned shard = 0; shard < SM_SHARDS; shard++)
        for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++)
            if (atomic_load_explicit(&slots[shard][cls].nbatches, memory_order_relaxed) != 0)
                return true;
    return false;
}

size_t sm_transfer_parked_blocks(sm_cls_t cls, size_t batch_blocks)
{
    size_t n = 0;
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        transfer_slots_t *t = &slots[shard][cls];
        sm_lock(&t->lock);
        n += atomic_load_explicit(&t->nbatches, memory_order_relaxed) * batch_blocks;
        sm_unlock(&t->lock);
    }
    return n;
}

sm_lock_t *sm_transfer_lock(unsigned shard, sm_cls_t cls)
{
    return &slots[shard][cls].lock;
}
