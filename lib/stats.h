/*
 * Statistics: a snapshot computed on demand by walking the arenas under the
 * class and arena locks (nothing is counted on the fast path), plus the
 * thread caches' fill levels and the fallback counters kept in each heap.
 */
#ifndef SM_STATS_H
#define SM_STATS_H

#include "compiler.h"

/* Print the table at exit when SMALLOC_STATS is set (a destructor). */
sm_hidden void sm_stats_at_exit(void);

#endif
