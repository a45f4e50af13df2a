/*
 * The debug mode's registry of system-backed blocks (see
 * debug_registry.h): an open-addressing set of program pointers, mapped
 * with sm_os_map so that it never allocates through the malloc it serves.
 * Every function runs under debug.c's debug_lock.
 */
#include <stddef.h>
#include <stdint.h>

#include "debug_registry.h"
#include "os.h"

/* Registry of system-backed blocks: open addressing on the program
 * pointer, which is 16-aligned, so bit 0 carries the state. */
#define REG_EMPTY 0
#define REG_TOMB 1
static struct {
    uintptr_t *slots;
    size_t cap;
    size_t used; /* slots not empty: live, quarantined and tombstones */
    size_t live; /* slots holding a block */
} reg;

static size_t reg_hash(uintptr_t p, size_t cap)
{
    uint64_t x = (uint64_t)(p >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32) & (cap - 1);
}

/* The slot holding p (either state), or NULL. */
uintptr_t *sm_debug_registry_find(uintptr_t p)
{
    if (reg.cap == 0)
        return NULL;
    for (size_t i = reg_hash(p, reg.cap);; i = (i + 1) & (reg.cap - 1)) {
        uintptr_t s = reg.slots[i];
        if (s == REG_EMPTY)
            return NULL;
        if ((s & ~(uintptr_t)SM_DEBUG_REG_QUARANTINED) == p && s != REG_TOMB)
            return &reg.slots[i];
    }
}

/* Rehash into a table at most half full, dropping tombstones. */
static int reg_grow(void)
{
    size_t cap = reg.cap ? reg.cap : 4096;
    while ((reg.live + 1) * 2 > cap)
        cap *= 2;
    uintptr_t *slots = sm_os_map(cap * sizeof(uintptr_t));
    if (slots == NULL)
        return -1;
    size_t used = 0;
    for (size_t i = 0; i < reg.cap; i++) {
        uintptr_t s = reg.slots[i];
        if (s == REG_EMPTY || s == REG_TOMB)
            continue;
        size_t j = reg_hash(s & ~(uintptr_t)SM_DEBUG_REG_QUARANTINED, cap);
        while (slots[j] != REG_EMPTY)
            j = (j + 1) & (cap - 1);
        slots[j] = s;
        used++;
    }
    if (reg.slots != NULL)
        sm_os_unmap(reg.slots, reg.cap * sizeof(uintptr_t));
    reg.slots = slots;
    reg.cap = cap;
    reg.used = used;
    return 0;
}

int sm_debug_registry_insert(uintptr_t p)
{
    if ((reg.used + 1) * 4 > reg.cap * 3 && reg_grow() != 0)
        return -1;
    size_t i = reg_hash(p, reg.cap);
    while (reg.slots[i] != REG_EMPTY && reg.slots[i] != REG_TOMB)
        i = (i + 1) & (reg.cap - 1);
    if (reg.slots[i] == REG_EMPTY)
        reg.used++;
    reg.slots[i] = p;
    reg.live++;
    return 0;
}

void sm_debug_registry_remove(uintptr_t *slot)
{
    *slot = REG_TOMB;
    reg.live--;
}
