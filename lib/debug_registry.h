/*
 * The registry of the debug mode's system-backed blocks (debug_registry.c):
 * which pointers outside the arenas are debug blocks, live or quarantined,
 * so that free tells them from the system malloc's own. Called by debug.c
 * only, with its debug_lock held.
 */
#ifndef SM_DEBUG_REGISTRY_H
#define SM_DEBUG_REGISTRY_H

#include <stdint.h>

#include "compiler.h"

/* Or'ed into a slot whose block is in the quarantine (pointers are
 * 16-aligned, so bit 0 is free). */
#define SM_DEBUG_REG_QUARANTINED 1

/* The slot holding the program pointer p (live or quarantined), or NULL. */
sm_hidden uintptr_t *sm_debug_registry_find(uintptr_t p);

/* Register p, live. 0, or -1 when the table could not grow. */
sm_hidden int sm_debug_registry_insert(uintptr_t p);

/* Forget the block of slot (from sm_debug_registry_find). */
sm_hidden void sm_debug_registry_remove(uintptr_t *slot);

#endif
