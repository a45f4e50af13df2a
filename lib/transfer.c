/*
 * The transfer cache (see transfer.h).
 */
#include "lock.h"
#include "transfer.h"

typedef struct transfer_slots {
    sm_lock_t lock;
    unsigned nbatches;
    sm_block_t *batches[SM_TRANSFER_SLOTS];
} sm_cacheline_aligned transfer_slots_t;

static transfer_slots_t slots[SM_SHARDS][SM_NCLASSES + 1] = {
    [0 ... SM_SHARDS - 1] = {[0 ... SM_NCLASSES] = {.lock = SM_LOCK_INITIALIZER}},
};

bool sm_transfer_put(unsigned shard, unsigned cls, sm_block_t *batch)
{
    transfer_slots_t *t = &slots[shard][cls];
    bool parked = false;
    sm_lock(&t->lock);
    if (t->nbatches < SM_TRANSFER_SLOTS) {
        t->batches[t->nbatches] = batch;
        __atomic_store_n(&t->nbatches, t->nbatches + 1, __ATOMIC_RELAXED); /* peeked at */
        parked = true;
    }
    sm_unlock(&t->lock);
    return parked;
}

sm_block_t *sm_transfer_take(unsigned shard, unsigned cls)
{
    transfer_slots_t *t = &slots[shard][cls];
    sm_block_t *batch = NULL;
    /* An unlocked peek: a wrong "empty" only sends the caller to the pools. */
    if (__atomic_load_n(&t->nbatches, __ATOMIC_RELAXED) == 0)
        return NULL;
    sm_lock(&t->lock);
    if (t->nbatches > 0) {
        batch = t->batches[t->nbatches - 1];
        __atomic_store_n(&t->nbatches, t->nbatches - 1, __ATOMIC_RELAXED);
    }
    sm_unlock(&t->lock);
    return batch;
}

size_t sm_transfer_parked_blocks(unsigned cls, size_t batch_blocks)
{
    size_t n = 0;
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        transfer_slots_t *t = &slots[shard][cls];
        sm_lock(&t->lock);
        n += t->nbatches * batch_blocks;
        sm_unlock(&t->lock);
    }
    return n;
}

sm_lock_t *sm_transfer_lock(unsigned shard, unsigned cls)
{
    return &slots[shard][cls].lock;
}
