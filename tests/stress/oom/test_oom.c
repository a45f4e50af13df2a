/*
 * Out of memory: when the OS refuses memory, every allocation
 * function fails cleanly (NULL or ENOMEM, errno = ENOMEM, the old block of
 * a failed realloc untouched), nothing crashes, no arena or pool is left
 * half built, and allocation works again once memory is freed or the OS
 * gives again.
 *
 * Two ways to refuse memory:
 *   sm_os_fail_after(n)   test hook (os.h, SMALLOC_TESTING): the next n
 *                         maps succeed, then every map fails;
 *   RLIMIT_AS             the kernel's own limit, in a forked child.
 * Exact counts run on a shard no other thread touches (../../unit/shard.h):
 * a Criterion worker has threads of its own that allocate.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <smalloc.h>

#include "arena.h"
#include "space.h"
#include "free.h"
#include "tcache.h"
#include "init.h"
#include "os.h"
#include "pool.h"
#include "shard.h"
#include "size_class.h"
#include "support.h"

#define MIB ((size_t)1 << 20)

static void reset_hook(void)
{
    sm_os_fail_after(-1);
}

/* Every pool of every arena of the shard serves cls and is full; the
 * class's used list is empty: nothing half built, nothing lost. Read under
 * the arena lock, asserted after it (a failed assertion ends the test, and
 * the exiting process must not find the lock held). */
static void assert_shard_full(unsigned shard, unsigned cls, unsigned narenas)
{
    char bad[160] = "";
    unsigned n = 0;
    sm_lock(&sm_g_arena[shard].lock);
    for (sm_arena_t *a = sm_g_arena[shard].all; a != NULL && !bad[0]; a = a->all_next, n++) {
        if (a->nfreepools != 0)
            snprintf(bad, sizeof bad, "arena %p has %u free pools", (void *)a, a->nfreepools);
        for (size_t idx = SM_ARENA_HEADER_POOLS; idx < SM_ARENA_HEADER_POOLS + SM_ARENA_USABLE_POOLS && !bad[0];
             idx++) {
            const sm_pool_t *p = &a->pools[idx];
            if (p->cls != cls || p->nused != sm_class_nblocks(cls) || !sm_pool_check(p))
                snprintf(bad, sizeof bad, "pool %zu: class %u, %u of %u used, check %d", idx, p->cls,
                         p->nused, sm_class_nblocks(cls), sm_pool_check(p));
        }
    }
    sm_unlock(&sm_g_arena[shard].lock);
    cr_assert_str_empty(bad, "%s", bad);
    cr_assert_eq(n, narenas, "%u arenas in shard %u, want %u", n, shard, narenas);
    cr_assert_null(sm_g_central[shard][cls].used, "a pool of class %u is still on the used list", cls);
}

/* ---- the test hook, through the allocator ------------------------------- */

struct refuse {
    unsigned shard;
    size_t got;        /* 64-byte blocks obtained */
    int err;           /* errno of the failing malloc */
    unsigned char **blocks;
    size_t cap;
};

#define REFUSE_ARENAS 2

static void refuse_thread(void *arg)
{
    struct refuse *r = arg;
    const unsigned cls = 8; /* 64-byte blocks, 64 per pool */
    const size_t want = (size_t)REFUSE_ARENAS * SM_ARENA_USABLE_POOLS * sm_class_nblocks(cls);
    cr_assert_eq(sm_class_size(cls), 64);

    sm_os_fail_after(REFUSE_ARENAS);
    void *p;
    errno = 0;
    while (r->got < r->cap && (p = smalloc_malloc(64)) != NULL) {
        memset(p, (int)(r->got & 0xff), 64);
        r->blocks[r->got++] = p;
    }
    r->err = errno;
    /* Every other entry point fails too; a fallback request still works. */
    errno = 0;
    void *small8 = smalloc_malloc(8);
    int err_small8 = errno;
    errno = 0;
    void *big = smalloc_malloc(512);
    int err_big = errno;
    errno = 0;
    void *zeroed = smalloc_calloc(4, 25);
    int err_calloc = errno;
    errno = 0;
    void *grown = smalloc_realloc(r->blocks[0], 200);
    int err_realloc = errno;
    void *same = smalloc_realloc(r->blocks[1], 60); /* same class: stays in place */
    void *aligned = (void *)1;
    int ret_memalign = smalloc_posix_memalign(&aligned, 64, 64);
    errno = 0;
    void *al = smalloc_aligned_alloc(32, 96);
    int err_al = errno;
    void *fallback = smalloc_malloc(4096);
    reset_hook();

    cr_assert_eq(r->got, want, "%zu blocks from %d arenas, want %zu", r->got, REFUSE_ARENAS, want);
    cr_assert_eq(r->err, ENOMEM, "errno %d after the first refused malloc", r->err);
    cr_assert(small8 == NULL && err_small8 == ENOMEM, "malloc(8) %p errno %d", small8, err_small8);
    cr_assert(big == NULL && err_big == ENOMEM, "malloc(512) %p errno %d", big, err_big);
    cr_assert(zeroed == NULL && err_calloc == ENOMEM, "calloc %p errno %d", zeroed, err_calloc);
    cr_assert(grown == NULL && err_realloc == ENOMEM, "realloc grow %p errno %d", grown, err_realloc);
    for (size_t i = 0; i < 64; i++)
        cr_assert_eq(r->blocks[0][i], 0, "a failed realloc changed byte %zu of the old block", i);
    cr_assert_eq(same, r->blocks[1], "realloc within the class must not need memory");
    cr_assert_eq(ret_memalign, ENOMEM, "posix_memalign returned %d", ret_memalign);
    cr_assert_eq(aligned, (void *)1, "a failed posix_memalign wrote *out");
    cr_assert(al == NULL && err_al == ENOMEM, "aligned_alloc %p errno %d", al, err_al);
    cr_assert_not_null(fallback, "a request for the system malloc does not depend on arenas");
    smalloc_free(fallback);
    assert_shard_full(r->shard, cls, REFUSE_ARENAS);

    /* The OS gives again: the next malloc maps a new arena. */
    p = smalloc_malloc(64);
    cr_assert_not_null(p, "malloc after the hook was reset");
    cr_assert_eq(shard_arena_count(r->shard), REFUSE_ARENAS + 1, "one more arena");
    smalloc_free(p);
    for (size_t i = 0; i < r->got; i++) {
        cr_assert_eq(r->blocks[i][63], (unsigned char)(i & 0xff), "block %zu changed", i);
        smalloc_free(r->blocks[i]);
    }
}

Test(oom, refused_arenas_give_enomem_and_leave_nothing_half_built)
{
    struct refuse r = {.shard = clean_shard()};
    r.cap = 4 * SM_ARENA_USABLE_POOLS * 64;
    r.blocks = map_table(r.cap * sizeof *r.blocks);
    struct smalloc_stats before, after;
    smalloc_stats_get(&before);
    clean_shard_run(r.shard, refuse_thread, &r);
    smalloc_stats_get(&after);
    munmap(r.blocks, r.cap * sizeof *r.blocks);
    /* The thread's exit returned everything: one arena is kept empty. */
    cr_assert_eq(shard_arena_count(r.shard), 1, "arenas left in the shard");
    cr_assert_eq(after.arenas_allocated - before.arenas_allocated, REFUSE_ARENAS + 1,
                 "arenas mapped: %zu", after.arenas_allocated - before.arenas_allocated);
    cr_assert_eq(sm_g_arena[r.shard].nempty, 1, "the remaining arena is the kept empty one");
}

/* ---- a batch cut short ---------------------------------------------------- */

/* A refill that asks for more blocks than the one mappable arena holds gets
 * every block of that arena, each exactly once, and the pools are left full
 * and consistent; the next refill gets nothing. */
Test(oom, batch_cut_short_when_the_next_arena_is_refused)
{
    unsigned shard = clean_shard();
    const unsigned cls = 64; /* 512-byte blocks, 8 per pool */
    const unsigned per_arena = SM_ARENA_USABLE_POOLS * sm_class_nblocks(cls);
    sm_block_t *chain = NULL, *more = NULL;
    sm_os_fail_after(1);
    unsigned got = sm_pool_alloc_batch(shard, cls, per_arena + 100, &chain);
    unsigned got_more = sm_pool_alloc_batch(shard, cls, 10, &more);
    reset_hook();

    cr_assert_eq(got, per_arena, "batch of %u from one arena, want %u", got, per_arena);
    cr_assert_eq(got_more, 0, "a batch with no arena left got %u", got_more);
    cr_assert_null(more);
    assert_shard_full(shard, cls, 1);
    /* Each block of the arena exactly once. */
    sm_arena_t *arena = sm_arena_of((uintptr_t)chain);
    static uint8_t seen[SM_POOLS_PER_ARENA][8];
    memset(seen, 0, sizeof seen);
    unsigned n = 0;
    for (sm_block_t *b = chain; b != NULL; b = sm_freelist_next(b), n++) {
        uintptr_t a = (uintptr_t)b;
        cr_assert_eq(sm_arena_of(a), arena, "block %p from another arena", (void *)b);
        size_t idx = (a >> SM_POOL_SHIFT) & (SM_POOLS_PER_ARENA - 1), j = (a & (SM_POOL_SIZE - 1)) / 512;
        cr_assert_eq(a % 512, 0, "block %p is not a block start", (void *)b);
        cr_assert_eq(seen[idx][j], 0, "block %p handed out twice", (void *)b);
        seen[idx][j] = 1;
    }
    cr_assert_eq(n, got, "the chain holds %u blocks, the count says %u", n, got);

    /* All back: the arena empties and is kept, its pools released. */
    sm_pool_free_batch(cls, chain, "free");
    cr_assert_eq(shard_arena_count(shard), 1);
    sm_lock(&sm_g_arena[shard].lock);
    unsigned nfree = arena->nfreepools, ndirty = arena->ndirty;
    size_t nempty = sm_g_arena[shard].nempty;
    sm_unlock(&sm_g_arena[shard].lock);
    cr_assert_eq(nfree, SM_ARENA_USABLE_POOLS, "free pools %u", nfree);
    cr_assert_eq(nempty, 1, "the arena is the shard's kept empty arena");
    cr_assert_eq(ndirty, 0, "a kept empty arena has its pools released, %u dirty", ndirty);
}

#define LIMIT_ROOM (64 * MIB)

static void child_fail(const char *msg, size_t a, size_t b)
{
    char line[256];
    int n = snprintf(line, sizeof line, "child: %s (%zu, %zu)\n", msg, a, b);
    write(STDERR_FILENO, line, (size_t)n);
    _exit(1);
}

/* ---- the arena space runs out of slots ----------------------------------- */

/* Map something of our own (PROT_NONE, no memory) into every free 1 MiB
 * slot of the arena space (space.h), as other libraries might: new
 * arenas find no slot, and small requests go to the system malloc. */
static void space_full_child(void *arg)
{
    (void)arg;
    sm_init_process();
    size_t blocked = 0;
    for (size_t slot = 0; slot < SM_SPACE_SLOTS; slot++) {
        void *want = (void *)(sm_g_space.base + slot * SM_ARENA_SIZE);
        void *got = mmap(want, SM_ARENA_SIZE, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (got == want)
            blocked++;
        else if (got != MAP_FAILED)
            munmap(got, SM_ARENA_SIZE);
    }
    if (blocked < SM_SPACE_SLOTS / 2)
        child_fail("could not map into the arena space", blocked, SM_SPACE_SLOTS);
    /* A foreign mapping inside the space is not libsmalloc's. */
    uintptr_t foreign = sm_g_space.base + (SM_SPACE_SLOTS - 1) * SM_ARENA_SIZE + 4096;
    if (sm_space_contains(foreign) || sm_free_class_of(foreign, "test") != SM_CLASS_NONE)
        child_fail("a foreign mapping in the arena space counts as an arena", 0, 0);

    struct smalloc_stats before, after;
    smalloc_stats_get(&before);
    /* Fill the arenas there are; then a request must come from the system
     * malloc, as many as wanted, each usable and freeable. */
    enum { MAX_BLOCKS = 64 * 256 * 64 };
    static unsigned char *blocks[MAX_BLOCKS];
    size_t n = 0, outside = 0;
    while (n < MAX_BLOCKS && outside < 1000) {
        unsigned char *p = smalloc_malloc(64);
        if (p == NULL)
            child_fail("malloc(64) failed with the arena space full", n, (size_t)errno);
        memset(p, (int)(n & 0xff), 64);
        if (!sm_space_contains((uintptr_t)p)) {
            outside++;
            if (smalloc_usable_size(p) < 64)
                child_fail("a system block of a small request is too small", smalloc_usable_size(p), 64);
        }
        blocks[n++] = p;
    }
    if (outside < 1000)
        child_fail("the space never ran out", n, outside);
    smalloc_stats_get(&after);
    if (after.fallback_calls < before.fallback_calls + outside)
        child_fail("small requests sent to the system malloc are not counted", after.fallback_calls,
                   before.fallback_calls);
    unsigned char *z = smalloc_calloc(1, 200);
    for (size_t i = 0; z != NULL && i < 200; i++)
        if (z[i] != 0)
            child_fail("calloc from the system malloc is not zeroed", i, z[i]);
    unsigned char *r = smalloc_realloc(blocks[n - 1], 300);
    if (r == NULL || r[63] != (unsigned char)((n - 1) & 0xff))
        child_fail("realloc of a system block lost its contents", 0, 0);
    blocks[n - 1] = r;
    smalloc_free(z);
    for (size_t i = 0; i < n; i++) {
        if (blocks[i][0] != (unsigned char)(i & 0xff))
            child_fail("a block changed", i, blocks[i][0]);
        smalloc_free(blocks[i]);
    }
    char line[160];
    int len = snprintf(line, sizeof line, "space child: %zu slots blocked, %zu blocks, the last %zu "
                       "from the system malloc\n", blocked, n, outside);
    write(STDERR_FILENO, line, (size_t)len);
    _exit(0);
}

/* Run fn in a forked child that must exit 0; its stderr line is logged. */
static void run_child(void (*fn)(void *))
{
    struct captured c;
    fork_and_capture(fn, NULL, &c);
    cr_assert_eq(c.signal, 0, "the child died of signal %d: %s", c.signal, c.err);
    cr_assert_eq(c.exit_code, 0, "the child failed: %s", c.err);
    cr_log_info("%s", c.err);
    fprintf(stderr, "%s", c.err);
}

Test(oom, arena_space_out_of_slots_sends_small_requests_to_the_system)
{
    run_child(space_full_child);
}

/* ---- RLIMIT_AS ------------------------------------------------------------- */

/* Fill all the address space RLIMIT_AS leaves, free it, fill it again. */
static void rlimit_child(void *arg)
{
    (void)arg;
    size_t cap = 2 * LIMIT_ROOM / 64;
    unsigned char **blocks = mmap(NULL, cap * sizeof *blocks, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (blocks == MAP_FAILED)
        child_fail("mmap of the table", 0, 0);
    size_t mapped = 0;
    if (statm_read(&mapped, NULL) != 0)
        child_fail("statm", 0, 0);
    struct smalloc_stats before, full, after;
    smalloc_stats_get(&before);
    struct rlimit rl = {mapped + LIMIT_ROOM, RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        child_fail("setrlimit", 0, 0);

    size_t got[2] = {0, 0};
    for (int round = 0; round < 2; round++) {
        unsigned char *p;
        errno = 0;
        while (got[round] < cap && (p = smalloc_malloc(64)) != NULL) {
            p[0] = (unsigned char)got[round];
            blocks[got[round]++] = p;
        }
        if (got[round] == cap)
            child_fail("RLIMIT_AS never refused", got[round], cap);
        if (errno != ENOMEM)
            child_fail("errno after the refused malloc is not ENOMEM", (size_t)errno, 0);
        errno = 0;
        /* As large as the whole room: the system malloc cannot serve it
         * from memory it already holds (it might a few MiB, when the
         * process's own malloc is the system's, without the override). */
        if (smalloc_malloc(LIMIT_ROOM) != NULL || errno != ENOMEM)
            child_fail("a fallback request of 64 MiB did not fail with ENOMEM", (size_t)errno, 0);
        if (round == 0) {
            smalloc_stats_get(&full);
            size_t parts = full.bytes_headers + full.bytes_pool_free + full.bytes_in_use +
                           full.bytes_free_blocks + full.bytes_pool_tail;
            if (parts != full.bytes_mapped)
                child_fail("stats do not add up at the limit", parts, full.bytes_mapped);
            if ((full.arenas_now - before.arenas_now) * MIB > LIMIT_ROOM)
                child_fail("more arenas than the limit allows", full.arenas_now, before.arenas_now);
        }
        for (size_t i = 0; i < got[round]; i++) {
            if (blocks[i][0] != (unsigned char)i)
                child_fail("a block changed", i, blocks[i][0]);
            smalloc_free(blocks[i]);
        }
    }
    smalloc_stats_get(&after);
    /* Most of the room holds arenas: at least 3/4 of it in 64-byte blocks. */
    if (got[0] < LIMIT_ROOM / 64 / 4 * 3)
        child_fail("too few blocks under the limit", got[0], LIMIT_ROOM / 64);
    /* Freed memory is usable again (within the arenas lost to address
     * space that the thread cache and fragmentation hold). */
    if (got[1] + got[1] / 8 < got[0])
        child_fail("the second fill got much less than the first", got[1], got[0]);
    char line[256];
    int n = snprintf(line, sizeof line,
                     "rlimit child: %zu then %zu blocks of 64 bytes under RLIMIT_AS = +%zu MiB; "
                     "arenas %zu -> %zu -> %zu\n", got[0], got[1], LIMIT_ROOM / MIB,
                     before.arenas_now, full.arenas_now, after.arenas_now);
    write(STDERR_FILENO, line, (size_t)n);
    _exit(0);
}

Test(oom, rlimit_as_gives_enomem_and_memory_comes_back)
{
    run_child(rlimit_child);
}
