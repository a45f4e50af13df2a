/*
 * The replayer: plays a recorded trace (trace.h) against whatever malloc
 * the process has, touching every block like the other workloads.
 */
#ifndef SMALLOC_BENCH_REPLAYER_H
#define SMALLOC_BENCH_REPLAYER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Replay the trace at path: `events` events (0: the whole trace once; more
 * than the trace holds: whole passes again, everything freed between
 * passes). Blocks still live at the end are freed. Returns the number of
 * malloc-family calls made, or 0 with a message on stderr when the file is
 * missing or malformed. The trace is mmap'd and the pages already read are
 * dropped as it goes, so it adds at most about 1 MiB to the RSS; the id ->
 * pointer table (8 bytes per slot) comes from mmap too.
 */
uint64_t trace_replay(const char *path, uint64_t events);

#ifdef __cplusplus
}
#endif

#endif /* SMALLOC_BENCH_REPLAYER_H */
