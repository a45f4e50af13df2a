/*
 * The hardened build's key, random numbers and reports (secure.h,
 * freelist.h). Compiled in every build: the default build only carries the
 * key, which stays 0 and is never read.
 */
#include <stdatomic.h>

#include "error.h"
#include "freelist.h"
#include "os.h"
#include "secure.h"

_Atomic uintptr_t sm_g_freelist_key;

/* Seeds of sm_secure_shuffle: a counter mixed with the key (splitmix64). */
static _Atomic uint64_t shuffle_counter; /* any thread, relaxed adds */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void sm_secure_init(void)
{
    if (atomic_load_explicit(&sm_g_freelist_key, memory_order_acquire) != 0)
        return;
    uintptr_t key = 0;
    while (key == 0)
        sm_os_random(&key, sizeof key);
    /* Two shards mapping their first arenas at once: the first key wins,
     * before either arena (and so any link) exists. */
    uintptr_t none = 0;
    atomic_compare_exchange_strong_explicit(&sm_g_freelist_key, &none, key, memory_order_acq_rel,
                                            memory_order_acquire);
}

void sm_secure_shuffle(uint16_t *order, unsigned n)
{
    uint64_t state = mix64(atomic_fetch_add_explicit(&shuffle_counter, 1, memory_order_relaxed) ^
                           (uint64_t)atomic_load_explicit(&sm_g_freelist_key, memory_order_relaxed));
    for (unsigned i = n; i > 1; i--) {
        state += 0x9E3779B97F4A7C15ull;
        unsigned j = (unsigned)(mix64(state) % i);
        uint16_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

void sm_secure_fail(const char *func, const void *p, const char *what)
{
    sm_fatal(func, p, what);
}

void sm_freelist_corrupt(const sm_block_t *b)
{
    sm_fatal("malloc", b, "corrupted free list (a free block's link was overwritten)");
}
