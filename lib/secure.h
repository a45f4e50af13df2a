/*
 * The hardened build (CMake option SMALLOC_SECURE; SM_SECURE in config.h),
 * apart from the link encoding, which lives in freelist.h:
 *
 *   live-block bitmap   one bit per block slot of every pool, in the arena
 *                       header (arena.h): set when a block is handed to the
 *                       program, cleared when it comes back. Every free
 *                       checks and clears it, so a double free is caught
 *                       wherever the first free put the block (a thread
 *                       cache, the transfer cache, a pool); every malloc
 *                       checks the block it hands out (in an arena, a block
 *                       start of the right class, not live already), which
 *                       catches a free-list link forged to point at a live
 *                       block or outside the pools. Atomic bit operations:
 *                       blocks of one pool may be freed by several threads.
 *   guard pages         arena.h: PROT_NONE between the header and the first
 *                       pool and at the arena's end.
 *   random carving      pool.c: a new pool's blocks go out in a random
 *                       order (sm_secure_shuffle), so neighbours are not
 *                       predictable from allocation order.
 *
 * Each helper here compiles to nothing in the default build, so the fast
 * paths (tcache.h) call them without an #if.
 */
#ifndef SM_SECURE_H
#define SM_SECURE_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"

/* Called before the first arena is mapped (arena.c): takes the free-list
 * key from the kernel. Idempotent, safe to call from several shards. */
sm_hidden void sm_secure_init(void);

/* Put the n values of order[] in a random order (Fisher-Yates). */
sm_hidden void sm_secure_shuffle(uint16_t *order, unsigned n);

/* "func(): what: p" and abort. */
sm_hidden void sm_secure_fail(const char *func, const void *p, const char *what)
    sm_noreturn sm_cold sm_noinline;

#if SM_SECURE
#include <stdatomic.h>

#include "arena.h"
#include "size_class.h"
#include "space.h"

/* The live bit of a block start p of class cls, or NULL when p is not one
 * (outside the arenas, not a block start, another class). */
static sm_always_inline _Atomic uint64_t *sm_secure_live_word(uintptr_t a, sm_cls_t cls, uint64_t *bit)
{
    if (sm_unlikely(sm_space_class(a) != cls || !sm_space_is_block_start(a, cls)))
        return NULL;
    uint32_t j = sm_space_block_index(a, cls);
    *bit = (uint64_t)1 << (j % 64);
    size_t idx = (a >> SM_POOL_SHIFT) & (SM_POOLS_PER_ARENA - 1);
    return &sm_arena_of(a)->live[idx][j / 64];
}

/* Where a block's live bit is: what sm_secure_check_block found, for
 * sm_secure_mark_live (the two halves of a pop from a free list). */
typedef struct sm_secure_slot {
    _Atomic uint64_t *word;
    uint64_t bit;
} sm_secure_slot_t;

/* p, about to be popped from a free list, is a block start of class cls
 * (checked before its link is read, so a forged pointer is not followed). */
static sm_always_inline sm_secure_slot_t sm_secure_check_block(void *p, sm_cls_t cls)
{
    sm_secure_slot_t s;
    s.word = sm_secure_live_word((uintptr_t)p, cls, &s.bit);
    if (sm_unlikely(s.word == NULL))
        sm_secure_fail("malloc", p, "corrupted free list (not a free block of its class)");
    return s;
}

/* p leaves the allocator for the program: called after it is off every
 * free list. The order matters for fork(): a child made between the two
 * halves sees the block neither free nor live (lost to the child), never
 * both, which a later malloc in the child would report. Release order
 * keeps the compiler from moving the list update after the bit. */
static sm_always_inline void sm_secure_mark_live(sm_secure_slot_t s, void *p)
{
    if (sm_unlikely(atomic_fetch_or_explicit(s.word, s.bit, memory_order_release) & s.bit))
        sm_secure_fail("malloc", p, "corrupted free list (block is already in use)");
}

/* Both halves, for a block that is already off every list. */
static sm_always_inline void sm_secure_on_alloc(void *p, sm_cls_t cls)
{
    sm_secure_mark_live(sm_secure_check_block(p, cls), p);
}

/* p comes back from the program: called before it goes on a free list
 * (acquire: the list update is not moved before the bit). pre: p is a
 * block start of class cls. */
static sm_always_inline void sm_secure_on_free(void *p, sm_cls_t cls, const char *func)
{
    uint64_t bit;
    _Atomic uint64_t *w = sm_secure_live_word((uintptr_t)p, cls, &bit);
    if (sm_unlikely(w == NULL))
        sm_secure_fail(func, p, "invalid pointer");
    if (sm_unlikely(!(atomic_fetch_and_explicit(w, ~bit, memory_order_acquire) & bit)))
        sm_secure_fail(func, p, "double free detected");
}

/* realloc of p: it must be in use. pre: p is a block start of class cls. */
static sm_always_inline void sm_secure_check_live(void *p, sm_cls_t cls, const char *func)
{
    uint64_t bit;
    _Atomic uint64_t *w = sm_secure_live_word((uintptr_t)p, cls, &bit);
    if (sm_unlikely(w == NULL || !(atomic_load_explicit(w, memory_order_relaxed) & bit)))
        sm_secure_fail(func, p, "use after free (block is not in use)");
}
#else
typedef struct sm_secure_slot {
    char unused;
} sm_secure_slot_t;

static sm_always_inline sm_secure_slot_t sm_secure_check_block(void *p, sm_cls_t cls)
{
    (void)p;
    (void)cls;
    return (sm_secure_slot_t){0};
}

static sm_always_inline void sm_secure_mark_live(sm_secure_slot_t s, void *p)
{
    (void)s;
    (void)p;
}

static sm_always_inline void sm_secure_on_alloc(void *p, sm_cls_t cls)
{
    (void)p;
    (void)cls;
}

static sm_always_inline void sm_secure_on_free(void *p, sm_cls_t cls, const char *func)
{
    (void)p;
    (void)cls;
    (void)func;
}

static sm_always_inline void sm_secure_check_live(void *p, sm_cls_t cls, const char *func)
{
    (void)p;
    (void)cls;
    (void)func;
}
#endif

#endif
