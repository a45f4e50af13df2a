/*
 * Replays a trace recorded by libsmalloc_trace.so (format in trace.h).
 * Used by the `replay` workload (workloads/replay.c).
 */
#include "replayer.h"
#include "trace.h"
#include "../support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DROP_CHUNK ((size_t)1 << 20) /* pages read are dropped 1 MiB at a time */

struct cursor {
    const unsigned char *base; /* whole mapping */
    size_t pos, end;
    size_t dropped_to;         /* [base, base + dropped_to) already dropped */
};

/* Next varint; 0 when the stream ends or the varint is cut off. */
static int next_varint(struct cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (c->pos >= c->end)
            return 0;
        unsigned char b = c->base[c->pos++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

static void drop_read_pages(struct cursor *c)
{
    if (c->pos - c->dropped_to >= 2 * DROP_CHUNK) {
        madvise((void *)(c->base + c->dropped_to), DROP_CHUNK, MADV_DONTNEED);
        c->dropped_to += DROP_CHUNK;
    }
}

static uint64_t free_all(void **slot, uint64_t nslots)
{
    uint64_t ops = 0;
    for (uint64_t i = 0; i < nslots; i++) {
        if (slot[i] != NULL) {
            free(slot[i]);
            slot[i] = NULL;
            ops++;
        }
    }
    return ops;
}

/* Report a bad trace; returns 0 for `return bad(...)` in either caller. */
static unsigned bad(const char *path, const char *why)
{
    fprintf(stderr, "replay: %s: %s\n", path, why);
    return 0;
}

/* One pass over at most `budget` events; adds the events played to *played.
 * 0 on a malformed trace. */
static unsigned play(const char *path, struct cursor *c, void **slot, struct trace_ids *ids,
                uint64_t nslots, uint64_t budget, uint64_t *played, uint64_t *ops)
{
    for (uint64_t e = 0; e < budget; e++) {
        uint64_t word, size, id;
        void *p;
        if (!next_varint(c, &word))
            return e == 0 ? bad(path, "no events") : 1;
        switch ((unsigned)(word & 3)) {
        case TRACE_MALLOC:
        case TRACE_CALLOC:
            size = word >> 2;
            id = trace_id_take(ids);
            if (id >= nslots)
                return bad(path, "more live objects than slots");
            p = (word & 3) == TRACE_MALLOC ? malloc(size) : calloc(1, size);
            if (size != 0) {
                WL_CHECK(p, "replay");
                wl_touch(p, size);
            }
            slot[id] = p;
            break;
        case TRACE_REALLOC:
            id = word >> 2;
            if (id >= nslots || !next_varint(c, &size))
                return bad(path, "bad realloc event");
            p = realloc(slot[id], size);
            if (size != 0) {
                WL_CHECK(p, "replay");
                wl_touch(p, size);
            }
            slot[id] = p;
            break;
        default: /* TRACE_FREE */
            id = word >> 2;
            if (id >= nslots)
                return bad(path, "bad free event");
            free(slot[id]);
            slot[id] = NULL;
            trace_id_give(ids, id);
            break;
        }
        (*ops)++;
        (*played)++;
        drop_read_pages(c);
    }
    return 1;
}

uint64_t trace_replay(const char *path, uint64_t events)
{
    if (path == NULL || *path == '\0')
        return bad("(none)", "no trace file given (--trace or SMBENCH_TRACE)");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bad(path, "cannot open (was the trace decompressed at build time?)");
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < TRACE_HEADER_SIZE) {
        close(fd);
        return bad(path, "too short for a trace");
    }
    size_t len = (size_t)st.st_size;
    const unsigned char *base = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return bad(path, "mmap failed");
    madvise((void *)base, len, MADV_SEQUENTIAL);

    struct trace_header h;
    memcpy(&h, base, sizeof(h));
    if (memcmp(h.magic, TRACE_MAGIC, sizeof(h.magic)) != 0 || h.slots == 0) {
        munmap((void *)base, len);
        return bad(path, "not a trace (bad magic or no objects)");
    }
    if (events == 0)
        events = h.events;

    void **slot = wl_map(h.slots * sizeof(void *));
    uint64_t *stack = wl_map(h.slots * sizeof(uint64_t));
    uint64_t ops = 0, played = 0;
    unsigned ok = 1;
    while (ok && played < events) {
        struct cursor c = { base, TRACE_HEADER_SIZE, len, 0 };
        struct trace_ids ids = { 0, 0, stack };
        uint64_t before = played;
        ok = play(path, &c, slot, &ids, h.slots, events - played, &played, &ops);
        ops += free_all(slot, h.slots);
        if (played == before)
            break;
    }
    wl_unmap(slot, h.slots * sizeof(void *));
    wl_unmap(stack, h.slots * sizeof(uint64_t));
    munmap((void *)base, len);
    return ok ? ops : 0;
}
