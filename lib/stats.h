/*
 * Statistics: a snapshot computed on demand, in the spirit of CPython's
 * sys._debugmallocstats(). Per-class pools and blocks come from walking the
 * arenas under the class and arena locks (nothing is counted on the fast
 * path); per-thread counters kept on slow paths (the fallback's calls and
 * bytes, in each thread cache) are folded when asked; the debug mode adds what only
 * it can know (requested bytes, hence the rounding loss). Every field is
 * named once, in the X-macro lists of include/smalloc.h, from which the
 * struct, the table and the JSON are generated (one emitter, two back ends,
 * as jemalloc's).
 */
#ifndef SM_STATS_H
#define SM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "compiler.h"

/* Start-up, after the options: the running reports (below), then, with
 * SMALLOC_STATS set or implied by them, keep a duplicate of
 * stderr, because many programs (coreutils' sort, ls, echo) close stderr
 * before they exit, and the exit report goes there, or, when
 * SMALLOC_STATS_FILE cannot be opened, the report and the reason why.
 * lock and unlock take and drop every module's lock (the fork order,
 * fork.h) around a snapshot. Sets sm_g_arena_event (arena.h) under
 * SMALLOC_VERBOSE. Never allocates. */
sm_hidden void sm_stats_init(void (*lock)(void), void (*unlock)(void));

struct smalloc_stats;
/* The snapshot behind smalloc_stats_get_sized (malloc_ext.c); the first
 * size bytes of it. pre: start-up done. */
sm_hidden void sm_stats_get(struct smalloc_stats *out, size_t size);
/* smalloc_stats_print (table) and _json. pre: start-up done. */
sm_hidden void sm_stats_print(FILE *f, bool json);

/* The background thread's reports, for a program that never allocates
 * (stats_running.c). pre: start-up done, no lock held. */
sm_hidden void sm_stats_running_start(void);

/* With SMALLOC_STATS set (or implied): the report, table or JSON, to
 * SMALLOC_STATS_FILE or stderr, in one write(2); reason: "exit",
 * "interval", "signal". No lock held; allocates nothing; keeps errno. */
sm_hidden void sm_stats_write_report(const char *reason);

/* From sm_stats_init: SMALLOC_STATS_INTERVAL and SMALLOC_STATS_SIGNAL
 * parsed (a warning for a bad one), SMALLOC_STATS turned to table when
 * unset and one of them is set, the signal handler installed and the
 * background thread's job registered (stats_running.c). */
sm_hidden void sm_stats_running_init(void);

/* SMALLOC_VERBOSE: "arena <p> mapped/returned" on stderr (the arena module
 * calls it through sm_g_arena_event). Writes with sm_os_write and never
 * allocates, so it may run under a class lock. */
sm_hidden void sm_stats_arena_event(const void *arena, bool mapped) sm_cold;

#endif
