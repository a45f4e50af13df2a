/*
 * smalloc_stats_get, the printers and the exit report (see stats.h).
 *
 * Byte accounting, which adds up to bytes_mapped exactly (asserted):
 *   bytes_mapped = bytes_in_use           blocks the program holds
 *                + bytes_free_blocks      free blocks of used pools, and
 *                                         blocks parked in thread caches
 *                + bytes_pool_free        empty and never-used pools
 *                + bytes_headers          arena headers (pool descriptors)
 *                + bytes_pool_tail        ends of pools too short for a block
 * and, in debug mode, bytes_in_use = requested + rounding + debug + quarantine.
 * Outside debug mode the split of bytes_in_use into requested and rounding
 * is not known: it would take the request size of every block, which the
 * fast path does not keep (no counter there), so those two are reported as
 * SMALLOC_STATS_UNKNOWN, and SMALLOC_DEBUG=1 measures them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <smalloc.h>

#include "arena.h"
#include "debug.h"
#include "error.h"
#include "fork.h"
#include "heap.h"
#include "init.h"
#include "options.h"
#include "os.h"
#include "pool.h"
#include "size_class.h"
#include "stats.h"

sm_public void smalloc_stats_get(struct smalloc_stats *out)
{
    sm_init_process();
    memset(out, 0, sizeof *out);
    out->arena_size = SM_ARENA_SIZE;
    out->pool_size = SM_POOL_SIZE;

    size_t nused[SM_NCLASSES + 1] = {0};
    sm_fork_lock_all();
    out->arenas_now = atomic_load_explicit(&sm_g_arena_totals.now, memory_order_relaxed);
    out->arenas_highest = atomic_load_explicit(&sm_g_arena_totals.highest, memory_order_relaxed);
    out->arenas_allocated = atomic_load_explicit(&sm_g_arena_totals.allocated, memory_order_relaxed);
    out->arenas_freed = atomic_load_explicit(&sm_g_arena_totals.freed, memory_order_relaxed);
    out->arenas_cached = atomic_load_explicit(&sm_g_arena_totals.cached, memory_order_relaxed);
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        out->pools_free += sm_g_arena[shard].npurging; /* being released (arena.h) */
        for (sm_arena_t *arena = sm_g_arena[shard].all; arena != NULL; arena = arena->all_next) {
            out->pools_free += arena->nfreepools;
            for (size_t idx = SM_ARENA_HEADER_POOLS; idx < arena->ncarved; idx++) {
                const sm_pool_t *pool = &arena->pools[idx];
                if (pool->cls == SM_CLASS_NONE)
                    continue;
                out->classes[pool->cls - 1].pools_in_use++; /* public array: from 0 */
                nused[pool->cls] += pool->nused;
            }
        }
    }
    sm_fork_unlock_all();

    out->bytes_mapped = out->arenas_now * SM_ARENA_SIZE;
    /* Headers, and the guard pages of the hardened build (arena.h). */
    out->bytes_headers =
        out->arenas_now * (SM_POOLS_PER_ARENA - SM_ARENA_USABLE_POOLS) * SM_POOL_SIZE;
    out->bytes_pool_free = out->pools_free * SM_POOL_SIZE;
    for (unsigned cls = 1; cls <= SM_NCLASSES; cls++) {
        struct smalloc_class_stats *c = &out->classes[cls - 1];
        size_t size = sm_class_size(cls);
        size_t nblocks = sm_class_nblocks(cls);
        size_t cached = sm_heap_cached_blocks(cls);
        if (cached > nused[cls]) /* caches read while threads run */
            cached = nused[cls];
        c->block_size = size;
        c->blocks_cached = cached;
        c->blocks_in_use = nused[cls] - cached;
        c->free_blocks = c->pools_in_use * nblocks - nused[cls];
        out->pools_in_use += c->pools_in_use;
        out->bytes_in_use += c->blocks_in_use * size;
        out->bytes_free_blocks += (c->free_blocks + cached) * size;
        out->bytes_pool_tail += c->pools_in_use * (SM_POOL_SIZE - nblocks * size);
    }
    sm_assert(out->bytes_mapped == out->bytes_in_use + out->bytes_free_blocks +
                                       out->bytes_pool_free + out->bytes_headers +
                                       out->bytes_pool_tail);
    sm_heap_fallback_totals(&out->fallback_calls, &out->fallback_bytes);

    if (sm_opt.debug) {
        struct sm_debug_totals t;
        sm_debug_totals(&t);
        out->bytes_requested = t.pool_requested;
        out->bytes_rounding = t.pool_rounding;
        out->bytes_quarantine = t.quarantine_bytes;
        size_t known = t.pool_requested + t.pool_rounding + t.quarantine_bytes;
        /* Equal in a quiet program; a block being allocated by another
         * thread may be in the pools and not yet in the totals. */
        out->bytes_debug = out->bytes_in_use > known ? out->bytes_in_use - known : 0;
    } else {
        out->bytes_requested = SMALLOC_STATS_UNKNOWN;
        out->bytes_rounding = SMALLOC_STATS_UNKNOWN;
    }
}

/* ---- the emitter: one walk over the fields, two back ends ------------- */

typedef struct emitter {
    FILE *f;
    bool json;
    bool first;        /* JSON: nothing written yet in the current object */
    const char *group; /* table: the group whose heading was printed last */
    size_t mapped;     /* table: bytes_mapped, for the % column */
} emitter_t;

enum unit { UNIT_count, UNIT_bytes };

static void emit_key(emitter_t *e, const char *key)
{
    fprintf(e->f, "%s\"%s\":", e->first ? "" : ",", key);
    e->first = false;
}

static void emit_field(emitter_t *e, const char *key, const char *group, const char *label,
                       enum unit unit, size_t v)
{
    if (e->json) {
        emit_key(e, key);
        if (v == SMALLOC_STATS_UNKNOWN)
            fputs("null", e->f);
        else
            fprintf(e->f, "%zu", v);
        return;
    }
    if (e->group == NULL || strcmp(e->group, group) != 0) {
        e->group = group;
        if (strcmp(group, "bytes") == 0)
            fprintf(e->f, "%-34s %14s %14s %7s\n", group, "", "MiB", "%");
        else if (strcmp(group, "fallback") == 0)
            fprintf(e->f, "fallback (requests above %d bytes, to the system malloc)\n",
                    SMALLOC_SMALL_MAX);
        else
            fprintf(e->f, "%s\n", group);
    }
    if (v == SMALLOC_STATS_UNKNOWN)
        fprintf(e->f, "  %-32s %14s  (SMALLOC_DEBUG=1 measures it)\n", label, "n/a");
    else if (unit == UNIT_bytes && strcmp(group, "bytes") == 0)
        fprintf(e->f, "  %-32s %14zu %14.3f %6.1f%%\n", label, v, (double)v / (1024.0 * 1024.0),
                e->mapped ? 100.0 * (double)v / (double)e->mapped : 0.0);
    else
        fprintf(e->f, "  %-32s %14zu\n", label, v);
}

static void emit_classes(emitter_t *e, const struct smalloc_stats *s)
{
    if (e->json) {
        emit_key(e, "classes");
        fputc('[', e->f);
    } else {
        fprintf(e->f, "%5s", "class");
#define SM_STATS_CLASS_HEAD(field, group, label, unit, doc) fprintf(e->f, " %10s", label);
        SMALLOC_CLASS_STATS_FIELDS(SM_STATS_CLASS_HEAD)
#undef SM_STATS_CLASS_HEAD
        fputc('\n', e->f);
    }
    bool first_class = true;
    for (unsigned cls = 0; cls < SMALLOC_NCLASSES; cls++) {
        const struct smalloc_class_stats *c = &s->classes[cls];
        if (c->pools_in_use == 0)
            continue;
        if (e->json) {
            fprintf(e->f, "%s{\"class\":%u", first_class ? "" : ",", cls);
#define SM_STATS_CLASS_JSON(field, group, label, unit, doc) \
    fprintf(e->f, ",\"" #field "\":%zu", c->field);
            SMALLOC_CLASS_STATS_FIELDS(SM_STATS_CLASS_JSON)
#undef SM_STATS_CLASS_JSON
            fputc('}', e->f);
        } else {
            fprintf(e->f, "%5u", cls);
#define SM_STATS_CLASS_ROW(field, group, label, unit, doc) fprintf(e->f, " %10zu", c->field);
            SMALLOC_CLASS_STATS_FIELDS(SM_STATS_CLASS_ROW)
#undef SM_STATS_CLASS_ROW
            fputc('\n', e->f);
        }
        first_class = false;
    }
    if (e->json)
        fputc(']', e->f);
}

static void emit_all(FILE *f, bool json)
{
    struct smalloc_stats s;
    smalloc_stats_get(&s);
    emitter_t e = {.f = f, .json = json, .first = true, .group = NULL, .mapped = s.bytes_mapped};
    if (json) {
        fprintf(f, "{\"version\":\"%s\",\"debug\":%s", smalloc_version(),
                sm_opt.debug ? "true" : "false");
        e.first = false;
    } else {
        /* The first line is exactly this: scripts look for it. */
        fprintf(f, "libsmalloc %s statistics\n", smalloc_version());
        fprintf(f, "pid %d%s\n", (int)getpid(), sm_opt.debug ? ", debug mode (SMALLOC_DEBUG=1)" : "");
        emit_classes(&e, &s);
    }
#define SM_STATS_EMIT(field, group, label, unit, doc) \
    emit_field(&e, #field, #group, label, UNIT_##unit, s.field);
    SMALLOC_STATS_FIELDS(SM_STATS_EMIT)
#undef SM_STATS_EMIT
    if (json) {
        emit_classes(&e, &s);
        fputs("}\n", f);
    }
    fflush(f);
}

sm_public void smalloc_stats_print(FILE *f)
{
    emit_all(f, false);
}

sm_public void smalloc_stats_print_json(FILE *f)
{
    emit_all(f, true);
}

/* ---- exit report and verbose lines ------------------------------------ */

/* SMALLOC_STATS_FILE with each %p replaced by the process id. */
static FILE *open_stats_file(void)
{
    char path[4096];
    size_t n = 0;
    for (const char *s = sm_opt.stats_file; *s != '\0' && n < sizeof path - 24; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += sm_snprintf(path + n, sizeof path - n, "%d", (int)getpid());
            s++;
        } else {
            path[n++] = *s;
        }
    }
    path[n] = '\0';
    return fopen(path, "w");
}

static int saved_stderr = -1; /* a duplicate of fd 2 made at start-up */

void sm_stats_init(void)
{
    if (sm_opt.stats != SM_FORMAT_OFF && sm_opt.stats_file == NULL)
        saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
}

/* Where exit statistics go without SMALLOC_STATS_FILE: the duplicate of
 * stderr if the program closed its own, else stderr. */
static FILE *exit_report_stream(void)
{
    if (saved_stderr >= 0 && fcntl(STDERR_FILENO, F_GETFD) == -1) {
        FILE *f = fdopen(saved_stderr, "w");
        if (f != NULL)
            return f;
    }
    return stderr;
}

/* At exit, with SMALLOC_STATS set: the table or the JSON, to stderr or
 * SMALLOC_STATS_FILE. */
__attribute__((destructor)) static void stats_at_exit(void)
{
    if (sm_opt.stats == SM_FORMAT_OFF)
        return;
    FILE *f = exit_report_stream();
    if (sm_opt.stats_file != NULL) {
        f = open_stats_file();
        if (f == NULL) {
            sm_warn("cannot open SMALLOC_STATS_FILE=%s; statistics go to stderr", sm_opt.stats_file);
            f = stderr;
        }
    }
    emit_all(f, sm_opt.stats == SM_FORMAT_JSON);
    if (f != stderr)
        fclose(f);
}

void sm_stats_arena_event(const void *arena, bool mapped)
{
    char line[128];
    size_t now = atomic_load_explicit(&sm_g_arena_totals.now, memory_order_relaxed);
    size_t n = sm_snprintf(line, sizeof line, "smalloc: arena %p %s (%zu mapped now)\n", arena,
                           mapped ? "mapped" : "returned to the OS", now);
    sm_os_write(STDERR_FILENO, line, n);
}
