/*
 * smalloc_stats_get / smalloc_stats_print (see stats.h).
 *
 * Byte accounting, which adds up to bytes_mapped exactly:
 *   bytes_mapped = bytes_headers          arena headers (pool descriptors)
 *                + bytes_pool_free        empty and never-used pools
 *                + bytes_in_use           blocks a program holds
 *                + bytes_free_blocks      free blocks of used pools, and
 *                                         blocks parked in thread caches
 *                + bytes_pool_tail        ends of pools too short for a block
 */
#include <stdio.h>
#include <string.h>

#include <smalloc.h>

#include "arena.h"
#include "heap.h"
#include "init.h"
#include "options.h"
#include "pool.h"
#include "size_class.h"
#include "stats.h"

sm_public void smalloc_stats_get(struct smalloc_stats *out)
{
    sm_init_process();
    memset(out, 0, sizeof *out);
    out->arena_size = SM_ARENA_SIZE;
    out->pool_size = SM_POOL_SIZE;

    size_t nused[SM_NCLASSES] = {0};
    sm_pool_lock_all();
    for (unsigned shard = 0; shard < SM_SHARDS; shard++)
        sm_lock(&sm_g_arena[shard].lock);
    out->arenas_now = atomic_load_explicit(&sm_g_arena_totals.now, memory_order_relaxed);
    out->arenas_highest = atomic_load_explicit(&sm_g_arena_totals.highest, memory_order_relaxed);
    out->arenas_allocated = atomic_load_explicit(&sm_g_arena_totals.allocated, memory_order_relaxed);
    out->arenas_freed = atomic_load_explicit(&sm_g_arena_totals.freed, memory_order_relaxed);
    out->arenas_cached = atomic_load_explicit(&sm_g_arena_totals.cached, memory_order_relaxed);
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        for (sm_arena_t *arena = sm_g_arena[shard].all; arena != NULL; arena = arena->all_next) {
            out->pools_free += arena->nfreepools;
            for (size_t idx = SM_ARENA_HEADER_POOLS; idx < arena->ncarved; idx++) {
                const sm_pool_t *pool = &arena->pools[idx];
                if (pool->cls == SM_CLASS_NONE)
                    continue;
                out->classes[pool->cls].pools_in_use++;
                nused[pool->cls] += pool->nused;
            }
        }
    }
    for (unsigned shard = SM_SHARDS; shard-- > 0;)
        sm_unlock(&sm_g_arena[shard].lock);
    sm_pool_unlock_all();

    out->bytes_mapped = out->arenas_now * SM_ARENA_SIZE;
    out->bytes_headers = out->arenas_now * SM_ARENA_HEADER_POOLS * SM_POOL_SIZE;
    out->bytes_pool_free = out->pools_free * SM_POOL_SIZE;
    for (unsigned cls = 0; cls < SM_NCLASSES; cls++) {
        struct smalloc_class_stats *c = &out->classes[cls];
        size_t size = sm_class_size(cls);
        size_t nblocks = sm_class_info[cls].nblocks;
        size_t cached = sm_heap_cached_blocks(cls);
        if (cached > nused[cls]) /* caches read while threads run */
            cached = nused[cls];
        c->block_size = size;
        c->blocks_cached = cached;
        c->blocks_in_use = nused[cls] - cached;
        c->free_blocks = c->pools_in_use * nblocks - nused[cls];
        out->pools_in_use += c->pools_in_use;
        out->bytes_in_use += c->blocks_in_use * size;
        out->bytes_free_blocks += (c->free_blocks + cached) * size;
        out->bytes_pool_tail += c->pools_in_use * (SM_POOL_SIZE - nblocks * size);
    }
    sm_heap_fallback_totals(&out->fallback_calls, &out->fallback_bytes);
}

static double mib(size_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

sm_public void smalloc_stats_print(FILE *f)
{
    struct smalloc_stats s;
    smalloc_stats_get(&s);
    fprintf(f, "libsmalloc %s statistics\n", smalloc_version());
    fprintf(f, "arena size %zu, pool size %zu\n", s.arena_size, s.pool_size);
    fprintf(f, "arenas: %zu now (%zu cached empty), %zu highest, %zu allocated, %zu freed\n",
            s.arenas_now, s.arenas_cached, s.arenas_highest, s.arenas_allocated, s.arenas_freed);
    fprintf(f, "%5s %6s %10s %12s %12s %12s\n", "class", "size", "pools", "in use", "cached",
            "free");
    for (unsigned cls = 0; cls < SMALLOC_NCLASSES; cls++) {
        const struct smalloc_class_stats *c = &s.classes[cls];
        if (c->pools_in_use == 0)
            continue;
        fprintf(f, "%5u %6zu %10zu %12zu %12zu %12zu\n", cls, c->block_size, c->pools_in_use,
                c->blocks_in_use, c->blocks_cached, c->free_blocks);
    }
    fprintf(f, "bytes mapped      %12zu  %9.3f MiB\n", s.bytes_mapped, mib(s.bytes_mapped));
    fprintf(f, "  in use          %12zu  %9.3f MiB\n", s.bytes_in_use, mib(s.bytes_in_use));
    fprintf(f, "  free blocks     %12zu  %9.3f MiB\n", s.bytes_free_blocks, mib(s.bytes_free_blocks));
    fprintf(f, "  empty pools     %12zu  %9.3f MiB\n", s.bytes_pool_free, mib(s.bytes_pool_free));
    fprintf(f, "  arena headers   %12zu  %9.3f MiB\n", s.bytes_headers, mib(s.bytes_headers));
    fprintf(f, "  pool tails      %12zu  %9.3f MiB\n", s.bytes_pool_tail, mib(s.bytes_pool_tail));
    fprintf(f, "fallback (> %d bytes): %zu calls, %zu bytes requested\n", SMALLOC_SMALL_MAX,
            s.fallback_calls, s.fallback_bytes);
}

__attribute__((destructor)) void sm_stats_at_exit(void)
{
    if (!sm_opt.stats)
        return;
    FILE *f = stderr;
    if (sm_opt.stats_file != NULL) {
        f = fopen(sm_opt.stats_file, "w");
        if (f == NULL)
            f = stderr;
    }
    smalloc_stats_print(f);
    if (f != stderr)
        fclose(f);
    else
        fflush(f);
}
