/*
 * Isolation for white-box tests that assert exact pool and arena numbers.
 *
 * A Criterion worker is not a quiet process: its own threads (nanomsg) and
 * the runner code allocate, from whatever shard their heaps were given
 * (tcache.c assigns shards round-robin). A test that counts pools or arenas
 * therefore works on a shard nothing else has touched: clean_shard() finds
 * one, and clean_shard_run() runs a function on a new thread whose heap is
 * pinned to it, so every refill and flush of that thread goes to that shard.
 */
#ifndef SMALLOC_TEST_SHARD_H
#define SMALLOC_TEST_SHARD_H

/* A shard other than 0 with no arena, no used pool of any class and no
 * parked batch; fails the test when there is none. */
unsigned clean_shard(void);

/* Another clean shard, not `taken` (for tests that need two). */
unsigned clean_shard_except(unsigned taken);

/* Run fn(arg) on a new thread whose heap refills from shard, and join it.
 * pre: the shard is clean. The thread starts with every bin empty (checked). */
void clean_shard_run(unsigned shard, void (*fn)(void *), void *arg);

/* Number of arenas of the shard (its "all" list), read under its lock. */
unsigned shard_arena_count(unsigned shard);

/* Give the caches of exited threads, and every parked batch, back to the
 * pools now. */
void release_legacies(void);

#endif
