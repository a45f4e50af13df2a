/*
 * See shard.h.
 */
#include <pthread.h>

#include <criterion/criterion.h>

#include "arena.h"
#include "tcache.h"
#include "init.h"
#include "os.h"
#include "pool.h"
#include "transfer.h"
#include "shard.h"

static int shard_is_clean(unsigned shard)
{
    if (sm_g_arena[shard].all != NULL)
        return 0;
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        if (sm_g_central[shard][cls].used != NULL)
            return 0;
    }
    return 1;
}

unsigned clean_shard(void)
{
    return clean_shard_except(0);
}

unsigned clean_shard_except(unsigned taken)
{
    sm_init_process();
    /* From the last shard down: heaps are given shards from 0 upwards. */
    for (unsigned shard = SM_SHARDS; shard-- > 1;) {
        if (shard == taken)
            continue;
        sm_lock(&sm_g_arena[shard].lock);
        int clean = shard_is_clean(shard);
        sm_unlock(&sm_g_arena[shard].lock);
        if (clean)
            return shard;
    }
    cr_assert_fail("every shard but 0 is in use: no clean shard for an exact test");
    return 0;
}

unsigned shard_arena_count(unsigned shard)
{
    unsigned n = 0;
    sm_lock(&sm_g_arena[shard].lock);
    for (sm_arena_t *a = sm_g_arena[shard].all; a != NULL; a = a->all_next)
        n++;
    sm_unlock(&sm_g_arena[shard].lock);
    return n;
}

struct pinned {
    unsigned shard;
    void (*fn)(void *);
    void *arg;
};

static void *pinned_main(void *arg)
{
    struct pinned *p = arg;
    sm_tcache_t *h = sm_tcache_get();
    cr_assert_not_null(h, "the test thread got no heap");
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++)
        cr_assert_null(h->head[cls], "a new thread's bin %u is not empty", cls);
    h->shard = p->shard;
    p->fn(p->arg);
    return NULL;
}

/* The caches exited threads left for the next thread (tcache.c), and the
 * batches parked between threads, go back to the pools, so that the next
 * thread starts empty and counts are exact. */
void release_legacies(void)
{
    sm_tcache_release_legacies(sm_os_now_ms(), 0);
    sm_transfer_release_unused(sm_os_now_ms(), 0);
}

void clean_shard_run(unsigned shard, void (*fn)(void *), void *arg)
{
    struct pinned p = {shard, fn, arg};
    pthread_t t;
    release_legacies();
    cr_assert_eq(pthread_create(&t, NULL, pinned_main, &p), 0, "pthread_create");
    cr_assert_eq(pthread_join(t, NULL), 0, "pthread_join");
    release_legacies();
}
