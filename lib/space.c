/*
 * The arena space (see space.h): picking the range, its slots, the
 * pool classes and the block-start tests.
 *
 * Slots are claimed and released with atomic OR/AND on two bitmaps, so
 * shards map arenas without a common lock (and fork has nothing to reset):
 *   taken  the slot holds one of our arenas, or something else was mapped
 *          there when we tried (such a slot stays taken);
 *   ours   the slot holds one of our arenas (sm_space_contains).
 */
#include <errno.h>

#include "os.h"
#include "size_class.h"
#include "space.h"

#define SLOT_WORDS (SM_SPACE_SLOTS / 64)
/* Range candidates: 64 GiB boundaries in [4 TiB, 64 TiB). */
#define SPACE_LOW ((uintptr_t)4 << 40)
#define SPACE_HIGH ((uintptr_t)64 << 40)
#define SPACE_TRIES 16
/* Slots found mapped by someone else, in a row, before the range counts as
 * full (a kernel that ignores MAP_FIXED_NOREPLACE refuses every slot). */
#define BLOCKED_MAX 64

sm_space_t sm_g_space;

/* The two bitmaps word by word, side by side, after the full flag: the
 * first arenas' bits and the flag share one page of .bss, which start-up
 * touches (two bitmaps of their own took a page each). */
static struct {
    atomic_bool full;
    struct {
        _Atomic uint64_t taken, ours;
    } word[SLOT_WORDS];
} slot_map;

static size_t slot_of(uintptr_t a)
{
    return (a - sm_g_space.base) >> SM_ARENA_SHIFT;
}

bool sm_space_contains(uintptr_t a)
{
    if (a - sm_g_space.base >= sm_g_space.size)
        return false;
    size_t slot = slot_of(a);
    uint64_t word = atomic_load_explicit(&slot_map.word[slot / 64].ours, memory_order_acquire);
    return (word >> (slot % 64)) & 1;
}

/* A 64 GiB-aligned range that nothing maps now. A candidate whose probe the
 * kernel refuses (RLIMIT_AS below 64 GiB) is taken as it is: the range is
 * unlikely to be used, and each arena is mapped without replacing anything.
 * When every candidate is mapped already (e.g. under valgrind, which keeps
 * its clients low), the kernel's choice; failing that, the last candidate. */
static uintptr_t pick_base(void)
{
    uintptr_t candidates = (SPACE_HIGH - SPACE_LOW) / SM_SPACE_SIZE;
    uintptr_t base = 0;
    for (int i = 0; i < SPACE_TRIES; i++) {
        uint64_t r;
        sm_os_random(&r, sizeof r);
        base = SPACE_LOW + (uintptr_t)(r % candidates) * SM_SPACE_SIZE;
        if (sm_os_range_is_free((void *)base, SM_SPACE_SIZE) != 0)
            return base;
    }
    uintptr_t found = sm_os_find_range(SM_SPACE_SIZE);
    return found != 0 ? found : base;
}

void sm_space_init(bool debug)
{
    for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++) {
        uint32_t size = (uint32_t)sm_class_size(cls);
        uint32_t mul = (uint32_t)((((uint64_t)1 << 32) + size - 1) / size);
        uint32_t e = (uint32_t)((uint64_t)mul * size - ((uint64_t)1 << 32));
        sm_block_test_t *t = &sm_g_space.test[cls];
        t->mul = debug ? 0 : mul;
        t->limit = debug ? 1 : (sm_class_nblocks(cls) - 1) * e + 1;
    }
    /* test[SM_CLASS_NONE] stays {0, 0}: no product is below 0. */
    sm_g_space.base = pick_base();
    sm_g_space.size = SM_SPACE_SIZE;
}

/* Claim the lowest slot not taken; SM_SPACE_SLOTS when none is left. */
static size_t claim_slot(void)
{
    for (size_t w = 0; w < SLOT_WORDS; w++) {
        uint64_t bits = atomic_load_explicit(&slot_map.word[w].taken, memory_order_relaxed);
        while (bits != ~(uint64_t)0) {
            uint64_t bit = (uint64_t)1 << __builtin_ctzll(~bits);
            bits = atomic_fetch_or_explicit(&slot_map.word[w].taken, bit, memory_order_relaxed);
            if (!(bits & bit))
                return w * 64 + (size_t)__builtin_ctzll(bit);
        }
    }
    return SM_SPACE_SLOTS;
}

/* Clear the bit of slot in word, its word of one of the bitmaps. */
static void release_slot(_Atomic uint64_t *word, size_t slot)
{
    atomic_fetch_and_explicit(word, ~((uint64_t)1 << (slot % 64)), memory_order_release);
}

void *sm_space_new_arena(void)
{
    for (int blocked = 0; blocked < BLOCKED_MAX; blocked++) {
        size_t slot = claim_slot();
        if (slot == SM_SPACE_SLOTS)
            break;
        void *arena = (void *)(sm_g_space.base + slot * SM_ARENA_SIZE);
        int err = sm_os_map_at(arena, SM_ARENA_SIZE);
        if (err == 0) {
            atomic_fetch_or_explicit(&slot_map.word[slot / 64].ours, (uint64_t)1 << (slot % 64),
                                     memory_order_release);
            atomic_store_explicit(&slot_map.full, false, memory_order_relaxed);
            return arena;
        }
        if (err != EEXIST) {
            release_slot(&slot_map.word[slot / 64].taken, slot);
            return NULL;
        }
        /* Mapped by someone else: the slot stays taken, try the next. */
    }
    atomic_store_explicit(&slot_map.full, true, memory_order_relaxed);
    return NULL;
}

void sm_space_unmap_arena(void *arena)
{
    size_t slot = slot_of((uintptr_t)arena);
    release_slot(&slot_map.word[slot / 64].ours, slot);
    sm_os_unmap(arena, SM_ARENA_SIZE);
    release_slot(&slot_map.word[slot / 64].taken, slot); /* only now: the slot may be mapped again */
}

void sm_space_set_class(const void *pool_base, sm_cls_t cls)
{
    uintptr_t d = (uintptr_t)pool_base - sm_g_space.base;
    sm_g_space.pool_cls[d >> SM_POOL_SHIFT] = (uint8_t)cls;
}

bool sm_space_full(void)
{
    return atomic_load_explicit(&slot_map.full, memory_order_relaxed);
}
