/*
 * The benchmark workloads: one X-macro list here, one file per workload in
 * workloads/. driver.c and gbench_shim.cc both run them from this list.
 *
 * A workload is plain C that calls only the malloc family (malloc, calloc,
 * realloc, free) and never knows which allocator serves it: the harness picks
 * the allocator from outside with LD_PRELOAD. Every block it gets is touched
 * (first and last byte at least) so an allocator that maps lazily pays for
 * its pages like the others. Requests come from a seeded PRNG (support.h):
 * every allocator sees the same sequence.
 *
 * A workload returns the number of operations it did, one per call to the
 * malloc family (malloc, calloc, realloc and free each count one), or 0 when
 * it could not run (message on stderr).
 */
#ifndef SMALLOC_BENCH_WORKLOADS_H
#define SMALLOC_BENCH_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wl_args {
    uint64_t n;        /* work units (see the list), already multiplied by --scale */
    uint64_t arg;      /* workload parameter (see the list) */
    uint64_t seed;     /* PRNG seed, the same for every allocator */
    const char *trace; /* replay: path of the uncompressed trace file */
};

typedef uint64_t (*wl_fn_t)(const struct wl_args *a);

/*
 * X(name, function, n, arg, description): n is the default amount of work
 * at --scale 1 (sized for roughly 0.2-1 s under glibc on a 2020s core), arg
 * the workload's own parameter, not scaled.
 */
#define SM_WORKLOADS(X)                                                        \
    X(single, wl_single, 50000000, 32,                                        \
      "n malloc(arg)+free pairs, freed at once: the fast path")               \
    X(random_batch, wl_random_batch, 8000, 1000,                              \
      "n batches of arg blocks of 8..512 bytes, freed in shuffled order")     \
    X(python_churn, wl_python_churn, 5000000, 300000,                         \
      "live set of arg objects, CPython size mix; n steps free one, "        \
      "allocate one")                                                         \
    X(producer_consumer, wl_producer_consumer, 2000000, 1024,                 \
      "n blocks of 16..256 bytes allocated by one thread, freed by another "  \
      "through a ring of arg slots")                                          \
    X(threads_1, wl_threads, 6000000, 1,                                      \
      "arg threads, each n steps of churn over its own 20000 objects")        \
    X(threads_2, wl_threads, 6000000, 2,                                      \
      "arg threads, each n steps of churn over its own 20000 objects")        \
    X(threads_4, wl_threads, 3000000, 4,                                      \
      "arg threads, each n steps of churn over its own 20000 objects")        \
    X(realloc_strings, wl_realloc_strings, 6000000, 2000,                     \
      "arg string builders; n appends of 1..16 bytes, each a realloc")        \
    X(fallback_mix, wl_fallback_mix, 5000000, 20000,                          \
      "live set of arg blocks; half 8..512 bytes, half 513..2048")            \
    X(replay, wl_replay, 12000000, 0,                                         \
      "n events of the recorded python3 trace (3.0M events a pass, "         \
      "everything freed between passes)")                                     \
    X(server, wl_server, 6000000, 4,                                          \
      "arg lanes of 2000 slots of 8..1000 bytes; n steps in all; 1 in 8 "     \
      "swaps with other threads; a new thread every 10000 steps")             \
    X(mixed_tail, wl_mixed_tail, 4000000, 1,                                  \
      "arg threads, each n steps over 20000 blocks: 80% 8..512 bytes, "      \
      "15% to 4096, 5% to 16384")                                             \
    X(mixed_tail_2, wl_mixed_tail, 1500000, 2,                                \
      "arg threads, each n steps over 20000 blocks: 80% 8..512 bytes, "      \
      "15% to 4096, 5% to 16384")                                             \
    X(thread_churn, wl_thread_churn, 8000, 2,                                 \
      "n short threads, arg at once: 300 mixed blocks each, 30 left live "   \
      "for the next thread or the caller")

#define X(name, fn, n, arg, desc) uint64_t fn(const struct wl_args *a);
SM_WORKLOADS(X)
#undef X

struct wl_desc {
    const char *name;
    wl_fn_t fn;
    uint64_t n;
    uint64_t arg;
    const char *desc;
};

extern const struct wl_desc wl_table[];
extern const size_t wl_count;

/* The workload called name, or NULL. */
const struct wl_desc *wl_find(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* SMALLOC_BENCH_WORKLOADS_H */
