/*
 * The allocation trace format, written by the recorder (trace_shim.c) and
 * read by the replayer (replayer.c).
 *
 * A trace is a 32-byte header and a stream of events, nothing else:
 *
 *   header   "SMTRACE1" | u64 events | u64 slots | u64 dropped   (little endian)
 *   event    varint (id << 2 | op) [varint size]
 *
 *   op   0 malloc(size)      -> object id     size follows
 *        1 free(id)                           no size
 *        2 calloc(1, size)   -> object id     size follows (count * size)
 *        3 realloc(id, size) -> same id       size follows
 *
 * Pointers are never stored: each live block gets an object id, and ids are
 * recycled (last freed, first reused) so they stay below the largest number
 * of blocks live at once. `slots` is one more than the largest id, so the
 * replayer's id -> pointer table is a flat array of `slots` entries.
 * A varint is 7 bits per byte, low bits first, high bit set on all bytes but
 * the last. A typical event takes 3-4 bytes and gzip halves that again.
 * `dropped` counts calls the recorder saw but could not map (free of a
 * pointer allocated before recording started, for instance).
 */
#ifndef SMALLOC_BENCH_TRACE_H
#define SMALLOC_BENCH_TRACE_H

#include <stdint.h>

#define TRACE_MAGIC "SMTRACE1"
#define TRACE_HEADER_SIZE 32

enum trace_op {
    TRACE_MALLOC = 0,
    TRACE_FREE = 1,
    TRACE_CALLOC = 2,
    TRACE_REALLOC = 3,
};

struct trace_header {
    char magic[8];
    uint64_t events;
    uint64_t slots;
    uint64_t dropped;
};

_Static_assert(sizeof(struct trace_header) == TRACE_HEADER_SIZE, "header layout");

#endif /* SMALLOC_BENCH_TRACE_H */
