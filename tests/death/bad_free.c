/*
 * Bad frees abort with one line on stderr naming the function and the
 * pointer (lib/error.c sm_fatal, lib/free.h, lib/tcache.c, lib/pool.c):
 *   smalloc: free(): invalid pointer: 0x...
 *   smalloc: free(): double free detected (block is at the head of the thread cache): 0x...
 *   smalloc: free(): double free detected: 0x...          (pool free-list head)
 *   smalloc: realloc(): invalid pointer: 0x...
 *   smalloc: realloc(): double free detected (block is at the head of the thread cache): 0x...
 *   smalloc: malloc_usable_size(): invalid pointer: 0x...
 * This program links libsmalloc.so at link time (its malloc family replaces
 * glibc's, Criterion's included) and runs each bad call in a forked child
 * (fork_and_capture), checking that the child died of SIGABRT and that its
 * whole stderr is exactly the expected line. Where a test needs to know
 * the state of a pool (unused, or a block at the head of its free list) it
 * reads the pool descriptor with lib/arena.h's inline address arithmetic,
 * and checks that precondition before relying on it.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <smalloc.h>

#include "arena.h"
#include "freelist.h"
#include "support.h"

/* Exit codes of a child whose precondition failed (never a libsmalloc
 * verdict): the parent reports them as such. */
#define CHILD_NO_UNUSED_POOL 3
#define CHILD_NO_POOL_HEAD 4
#define CHILD_SURVIVED 5

struct bad_call {
    void *p;       /* the pointer handed to the bad call */
    size_t offset; /* for the interior-pointer loop */
};

static void expect_abort(const struct captured *c, const char *func, const char *what,
                         const void *p)
{
    char want[256];
    snprintf(want, sizeof want, "smalloc: %s(): %s: %p\n", func, what, p);
    cr_assert_neq(c->exit_code, CHILD_NO_UNUSED_POOL, "test precondition: no unused pool found");
    cr_assert_neq(c->exit_code, CHILD_NO_POOL_HEAD, "test precondition: no pool free-list head found");
    cr_assert_eq(c->signal, SIGABRT, "%s(%p): child ended by signal %d, exit code %d; stderr:\n%s",
                 func, p, c->signal, c->exit_code, c->err);
    cr_assert_str_eq(c->err, want, "stderr of the child: %s, want %s", c->err, want);
}

/* Run bad({p, offset}) in a child, which must abort with the message for
 * func, what and the reported pointer (not const: GCC 12 would take a const
 * pointer to a fresh malloc block as a read of uninitialised memory). */
static void expect_bad_call(void (*bad)(void *), void *p, size_t offset, const char *func,
                            const char *what, void *reported)
{
    struct bad_call call = {p, offset};
    struct captured c;
    fork_and_capture(bad, &call, &c);
    expect_abort(&c, func, what, reported);
}

/* ---- invalid pointers inside an arena ---- */

static void free_p(void *arg)
{
    free(((struct bad_call *)arg)->p);
    _exit(CHILD_SURVIVED);
}

static void realloc_p(void *arg)
{
    void *q = realloc(((struct bad_call *)arg)->p, 100);
    (void)q;
    _exit(CHILD_SURVIVED);
}

static void usable_size_p(void *arg)
{
    volatile size_t n = malloc_usable_size(((struct bad_call *)arg)->p);
    (void)n;
    _exit(CHILD_SURVIVED);
}

Test(death, free_of_every_interior_pointer_of_a_block)
{
    unsigned char *p = malloc(48); /* a 48-byte block: offsets 1..47 are inside it */
    cr_assert_eq(malloc_usable_size(p), 48);
    for (size_t off = 1; off < 48; off++) {
        expect_bad_call(free_p, p + off, off, "free", "invalid pointer", p + off);
    }
    free(p);
}

Test(death, realloc_of_an_interior_pointer_names_realloc)
{
    unsigned char *p = malloc(100);
    expect_bad_call(realloc_p, p + 8, 8, "realloc", "invalid pointer", p + 8);
    free(p);
}

Test(death, malloc_usable_size_of_an_interior_pointer_names_itself)
{
    unsigned char *p = malloc(200);
    expect_bad_call(usable_size_p, p + 16, 16, "malloc_usable_size", "invalid pointer", p + 16);
    free(p);
}

/* A pool of p's arena that serves no class (never carved, or given back):
 * the arena map gives it no class, which refuses every pointer. */
static void *pointer_into_unused_pool(void *p)
{
    sm_arena_t *arena = sm_arena_of((uintptr_t)p);
    for (size_t idx = SM_POOLS_PER_ARENA; idx-- > SM_ARENA_HEADER_POOLS;) {
        const sm_pool_t *pool = &arena->pools[idx];
        if (pool->cls == SM_CLASS_NONE)
            return (char *)arena + idx * SM_POOL_SIZE + 64;
    }
    return NULL;
}

static void free_into_unused_pool(void *arg)
{
    void *q = pointer_into_unused_pool(((struct bad_call *)arg)->p);
    if (q == NULL)
        _exit(CHILD_NO_UNUSED_POOL);
    ((struct bad_call *)arg)->p = q;
    free(q);
    _exit(CHILD_SURVIVED);
}

Test(death, free_of_a_pointer_into_an_unused_pool)
{
    void *p = malloc(32);
    void *q = pointer_into_unused_pool(p); /* the child inherits this layout */
    cr_assert_not_null(q, "no unused pool in the arena of %p", p);
    expect_bad_call(free_into_unused_pool, p, 0, "free", "invalid pointer", q);
    free(p);
}

Test(death, free_of_a_pointer_into_an_arena_header)
{
    void *p = malloc(32);
    void *header = (char *)sm_arena_of((uintptr_t)p) + 16; /* pool descriptors live here */
    expect_bad_call(free_p, header, 0, "free", "invalid pointer", header);
    free(p);
}

/* ---- double frees ---- */

static void free_twice(void *arg)
{
    void *p = ((struct bad_call *)arg)->p;
    free(p);
    free(p);
    _exit(CHILD_SURVIVED);
}

Test(death, double_free_at_the_head_of_the_thread_cache)
{
    for (size_t n = 1; n <= SMALLOC_SMALL_MAX; n++) {
        void *p = malloc(n);
        expect_bad_call(free_twice, p, 0, "free",
                        "double free detected (block is at the head of the thread cache)", p);
        free(p);
    }
}

/* glibc 2.36 catches this one with the key word of its tcache ("free():
 * double free detected in tcache 2"); a is no longer at the head of the
 * thread cache when it is freed again, and without the check the next two
 * mallocs of its class would both return it. */
static void free_a_b_a(void *arg)
{
    struct bad_call *call = arg;
    void *b = malloc(call->offset);
    free(call->p);
    free(b);
    free(call->p);
    _exit(CHILD_SURVIVED);
}

Test(death, double_free_with_another_free_between)
{
    for (size_t n = 0; n <= SMALLOC_SMALL_MAX; n++) {
        void *p = malloc(n);
        expect_bad_call(free_a_b_a, p, n, "free", "double free detected (block is in the thread cache)", p);
        free(p);
    }
}

/* Deeper in the cache, and after the thread cache gave it to the transfer
 * cache or to its pool: freed, then many frees of its class after it. */
static void free_a_then_many_then_a(void *arg)
{
    struct bad_call *call = arg;
    enum { MANY = 300 };
    void *others[MANY];
    for (size_t i = 0; i < MANY; i++)
        others[i] = malloc(call->offset);
    free(call->p);
    for (size_t i = 0; i < MANY; i++)
        free(others[i]);
    free(call->p);
    _exit(CHILD_SURVIVED);
}

Test(death, double_free_after_the_block_left_the_thread_cache)
{
    static const size_t sizes[] = {16, 24, 100, 512};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        struct bad_call call = {p, sizes[i]};
        struct captured c;
        fork_and_capture(free_a_then_many_then_a, &call, &c);
        cr_assert_eq(c.signal, SIGABRT, "size %zu: child ended by signal %d, exit code %d; stderr:\n%s",
                     sizes[i], c.signal, c.exit_code, c.err);
        cr_assert(strstr(c.err, "smalloc: free(): double free detected") == c.err,
                  "size %zu: stderr of the child: %s", sizes[i], c.err);
        free(p);
    }
}

/* A block above 512 bytes freed twice while the large-block cache of its
 * thread holds it (lib/large_cache.h). */
static void free_large_twice(void *arg)
{
    struct bad_call *call = arg;
    smalloc_collect(); /* room in the cache, whatever the tests before left there */
    void *b = malloc(call->offset);
    free(call->p);
    free(b);
    free(call->p);
    _exit(CHILD_SURVIVED);
}

Test(death, double_free_in_the_large_block_cache)
{
    static const size_t sizes[] = {513, 1000, 4096, 16384};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        expect_bad_call(free_large_twice, p, sizes[i], "free",
                        "double free detected (block is in the large-block cache)", p);
        free(p);
    }
}

/* A live block whose last word holds the mark's value is only looked for:
 * freeing it is not an error, and it is handed out again. */
Test(death, a_live_block_holding_the_mark_value_frees_normally)
{
    for (size_t n = 16; n <= SMALLOC_SMALL_MAX; n += 16) {
        uint64_t *p = malloc(n);
        p[n / 8 - 1] = SM_FREED_MARK;
        free(p);
        void *q = malloc(n);
        cr_assert_eq((void *)p, q, "size %zu: the block is reused", n);
        free(q);
    }
}

static void free_then_realloc(void *arg)
{
    struct bad_call *call = arg;
    free(call->p);
    void *q = realloc(call->p, call->offset); /* offset: the new size here */
    (void)q;
    _exit(CHILD_SURVIVED);
}

/* Same class (realloc would hand the freed block out again), another small
 * class, and a size for glibc (realloc would copy, then free it again). */
Test(death, realloc_of_a_just_freed_block_names_realloc)
{
    static const size_t sizes[] = {40, 48, 8, 300, 5000, 0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(40);
        expect_bad_call(free_then_realloc, p, sizes[i], "realloc",
                        "double free detected (block is at the head of the thread cache)", p);
        free(p);
    }
}

/* Is b, a freed block of the class of 200-byte requests, the first block
 * of its pool's free list, in a pool that still has blocks in use? */
static int at_pool_head(const void *b)
{
    const sm_pool_t *pool = sm_pool_of((uintptr_t)b);
    return pool->cls == smalloc_usable_size((void *)b) / 8 && pool->nused > 0 &&
           pool->freeblock == ((uintptr_t)b & (SM_POOL_SIZE - 1));
}

#define NBLOCKS 1000

/* Where a child says which block it chose (a shared page, set up by the
 * parent before fork). */
static void *volatile *chosen;

/* Allocate NBLOCKS blocks of one class, free every other one and give
 * everything cached back to the pools (smalloc_collect): each pool they came
 * from keeps blocks in use and has one of the freed ones at the head of its
 * free list. Free that block again: it lands in the empty thread cache,
 * unnoticed, until the next flush to the pools finds it at the head of its
 * pool's list. */
static void *block_at_pool_head(void)
{
    static void *blocks[NBLOCKS];
    for (size_t i = 0; i < NBLOCKS; i++)
        blocks[i] = malloc(200);
    for (size_t i = 0; i < NBLOCKS; i += 2)
        free(blocks[i]);
    smalloc_collect();
    for (size_t i = 0; i < NBLOCKS; i += 2)
        if (at_pool_head(blocks[i])) {
            *chosen = blocks[i];
            return blocks[i];
        }
    return NULL;
}

static void double_free_found_by_collect(void *arg)
{
    (void)arg;
    void *p = block_at_pool_head();
    if (p == NULL)
        _exit(CHILD_NO_POOL_HEAD);
    free(p);           /* the second free: into the empty thread cache */
    smalloc_collect(); /* the flush that finds it */
    _exit(CHILD_SURVIVED);
}

static void *exiting_thread_frees(void *p)
{
    free(p); /* into this thread's empty cache; flushed to the pools at its exit */
    return NULL;
}

static void double_free_found_at_thread_exit(void *arg)
{
    (void)arg;
    void *p = block_at_pool_head();
    if (p == NULL)
        _exit(CHILD_NO_POOL_HEAD);
    pthread_t t;
    if (pthread_create(&t, NULL, exiting_thread_frees, p) != 0)
        _exit(CHILD_SURVIVED);
    pthread_join(t, NULL);
    _exit(CHILD_SURVIVED);
}

static void run_pool_head_case(void (*fn)(void *))
{
    chosen = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq((void *)chosen, MAP_FAILED);
    *chosen = NULL;
    struct captured c;
    fork_and_capture(fn, NULL, &c);
    cr_assert_neq(c.exit_code, CHILD_NO_POOL_HEAD, "test precondition: no pool free-list head found");
    cr_assert_not_null(*chosen, "the child chose no block");
    expect_abort(&c, "free", "double free detected", *chosen);
    munmap((void *)chosen, 4096);
}

Test(death, double_free_at_the_head_of_a_pool_free_list)
{
    run_pool_head_case(double_free_found_by_collect);
}

Test(death, double_free_flushed_by_an_exiting_thread)
{
    run_pool_head_case(double_free_found_at_thread_exit);
}
