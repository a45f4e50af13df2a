/*
 * The allocation trace format, written by the recorder (trace_shim.c) and
 * read by the replayer (replayer.c).
 *
 * A trace is a 32-byte header and a stream of events, nothing else:
 *
 *   header   "SMTRACE1" | u64 events | u64 slots | u64 dropped   (little endian)
 *   event    varint (size << 2 | 0)                 malloc(size)
 *            varint (size << 2 | 2)                 calloc(1, size)  (count * size)
 *            varint (id << 2 | 1)                   free(block id)
 *            varint (id << 2 | 3) varint size       realloc(block id, size), same id
 *
 * Pointers are never stored: each live block has an object id. A new block
 * takes the id freed last, or the next unused id when none is free (a LIFO
 * stack), so ids stay below the largest number of blocks live at once and
 * malloc/calloc need not name theirs: the replayer runs the same rule.
 * `slots` is one more than the largest id, so the replayer's id -> pointer
 * table is a flat array of `slots` entries. A varint is 7 bits per byte, low
 * bits first, high bit set on all bytes but the last. An event takes 2.5
 * bytes on average in the python3 trace.
 * `dropped` counts calls the recorder saw but could not map (free of a
 * pointer allocated before recording started, for instance).
 */
#ifndef SMALLOC_BENCH_TRACE_H
#define SMALLOC_BENCH_TRACE_H

#include <stdint.h>

/* The id rule shared by recorder and replayer: free ids are a LIFO stack. */
struct trace_ids {
    uint64_t next;  /* ids 0..next-1 have been used */
    uint64_t nfree; /* entries in stack */
    uint64_t *stack;
};

static inline uint64_t trace_id_take(struct trace_ids *t)
{
    return t->nfree ? t->stack[--t->nfree] : t->next++;
}

static inline void trace_id_give(struct trace_ids *t, uint64_t id)
{
    t->stack[t->nfree++] = id;
}

#define TRACE_MAGIC "SMTRACE1"
#define TRACE_HEADER_SIZE 32

/* The low two bits of an event's first varint. */
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
