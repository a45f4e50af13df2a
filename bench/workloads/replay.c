/*
 * replay: plays back the allocation trace recorded from Debian's python3
 * running bench/python/trace_source.py (PYTHONMALLOC=malloc), shipped as
 * bench/replay/python.trace.gz and decompressed at build time. Real sizes,
 * real lifetimes, real order: the closest thing to a program in a
 * microbenchmark. The replayer is in bench/replay/replayer.c.
 * n = events to replay (0: the whole trace once; more than the trace holds:
 * whole passes again), arg unused.
 */
#include "../replay/replayer.h"
#include "../workloads.h"

uint64_t wl_replay(const struct wl_args *a)
{
    return trace_replay(a->trace, a->n);
}
