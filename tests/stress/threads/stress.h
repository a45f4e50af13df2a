/*
 * The multi-thread stress test, shared by the standalone program
 * (stress_main.c: `stress --seconds 600 --threads 4`) and the
 * Criterion test (test_stress.c, the short form run by every tests/run.sh).
 *
 * Worker threads run a seeded random mix of malloc, calloc, realloc,
 * reallocarray, aligned allocation and free, through both the malloc family
 * and the smalloc_* API, over one array of shared slots swapped with atomic
 * exchanges, so blocks are allocated by one thread and resized or freed by
 * another. Every block carries a pattern derived from a seed tied to its
 * owner, checked before each resize and free. Workers exit after a random
 * number of operations, leaving their blocks in the slots and in an orphan
 * list, and are replaced by new threads that adopt them. Meanwhile the
 * supervising thread forks: each child checks every block it inherited,
 * frees, allocates and runs its own short threaded round, and exits 0 only
 * if nothing was corrupt.
 */
#ifndef SMALLOC_STRESS_H
#define SMALLOC_STRESS_H

#include <stdint.h>
#include <stdio.h>

struct stress_config {
    double seconds;       /* run time */
    unsigned threads;     /* workers running at once */
    uint64_t seed;        /* everything random derives from it */
    unsigned slots;       /* shared block slots */
    unsigned fork_ms;     /* fork a checking child this often; 0: never */
    unsigned ops_min, ops_max; /* a worker exits after this many operations */
    FILE *progress;       /* a line every 10 s, or NULL */
};

/* Defaults: 4 threads, 8192 slots, a fork every 250 ms, workers living
 * 20,000 to 400,000 operations. */
void stress_defaults(struct stress_config *cfg, double seconds);

struct stress_report {
    uint64_t operations;       /* all of the below */
    uint64_t mallocs, callocs, reallocs, aligned, frees;
    uint64_t threads_started;  /* workers, including replacements */
    uint64_t threads_replaced; /* workers that exited early and were replaced */
    uint64_t orphans;          /* blocks left live by an exiting worker */
    uint64_t forks, fork_failures; /* children that did not exit 0 */
    uint64_t checks;           /* blocks whose pattern was checked */
    uint64_t corruptions;      /* blocks found damaged: must be 0 */
    double seconds;            /* measured run time */
};

/* Run the stress; 0 when no corruption was found and every child exited 0. */
int stress_run(const struct stress_config *cfg, struct stress_report *out);

void stress_print(FILE *f, const struct stress_config *cfg, const struct stress_report *r);

#endif
