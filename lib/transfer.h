/*
 * Transfer cache: whole batches of free blocks passed from one thread's
 * cache to another's without touching the pools (tcmalloc's idea).
 *
 * When a bin overflows, its older half (one batch) is parked here if there
 * is a free slot; when a bin runs dry, it takes a parked batch before
 * carving from the pools. A producer/consumer pair of threads then moves
 * blocks in O(1) per batch instead of returning every block to its pool and
 * taking it out again. Blocks parked here still count as handed out by
 * their pools (nused), so at most SM_TRANSFER_SLOTS batches per class and
 * shard (SM_TRANSFER_SLOTS * 4 KiB) are held back from the pools.
 *
 * A batch is a NULL-terminated chain of exactly the refill size of its class
 * (tcache.c), whatever the shards of its blocks; each (shard, class) has its
 * own lock, taken alone.
 *
 * A batch nobody takes would pin its pools, and arenas with them, for as
 * long as the program runs (after a scattered free, a few hundred blocks
 * here and in the thread caches can pin one arena each). So each batch
 * records when it was parked, and release rounds (release.h) give back to
 * the pools those parked for the release delay; parking one tells the
 * release policy that there is something to wait for
 * (sm_release_note_parked).
 */
#ifndef SM_TRANSFER_H
#define SM_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"
#include "freelist.h"
#include "lock.h"

/* Park a batch; false when the slots are full (the caller frees it to the
 * pools instead; the lock is taken, so a stale peek is harmless). pre: no
 * lock held (it may wake the release thread); call sm_transfer_has_room
 * first, which answers most calls without the clock and the lock. */
sm_hidden bool sm_transfer_put(unsigned shard, sm_cls_t cls, sm_block_t *batch);

/* Is a slot of (shard, cls) free? An unlocked peek: the answer may be
 * stale by the time the caller acts on it. */
sm_hidden bool sm_transfer_has_room(unsigned shard, sm_cls_t cls);

/* A parked batch, or NULL. */
sm_hidden sm_block_t *sm_transfer_take(unsigned shard, sm_cls_t cls);

/* Is b in one of the batches of class cls parked in the shard? (The
 * double-free check of a block carrying the freed mark, tcache.h.) */
sm_hidden bool sm_transfer_holds(unsigned shard, sm_cls_t cls, const sm_block_t *b);

/* A release round: the batches of every shard and class parked at least
 * delay_ms before now_ms (sm_os_now_ms() time) go back to the pools.
 * pre: no lock held. */
sm_hidden void sm_transfer_release_unused(uint64_t now_ms, uint64_t delay_ms);

/* Is some batch parked? An unlocked peek (release.c). */
sm_hidden bool sm_transfer_has_parked(void);

/* Blocks of class cls parked in all shards (for statistics). */
sm_hidden size_t sm_transfer_parked_blocks(sm_cls_t cls, size_t batch_blocks);

/* The lock of one (shard, class), for the lock table (fork.h). */
sm_hidden sm_lock_t *sm_transfer_lock(unsigned shard, sm_cls_t cls);

#endif
