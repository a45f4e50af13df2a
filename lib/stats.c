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
 *
 * A report is formatted whole into a buffer mapped for it (sm_os_map, so
 * the pools it describes do not move while it is written, and it grows by
 * remapping), then written at once: one fwrite for the printers, one
 * write(2) for the exit report. SMALLOC_STATS_FILE is opened with O_APPEND,
 * so the reports of many processes sharing one file (a shell pipeline, a
 * make run, forked workers) follow each other whole, each naming its pid,
 * program and options. Besides write, the statistics call open, read,
 * fcntl and close themselves: /proc/self/statm, the statistics file and the
 * duplicate of stderr are theirs alone. Reports while the program runs:
 * stats_running.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <smalloc.h>

#include "arena.h"
#include "debug.h"
#include "error.h"
#include "fallback.h"
#include "large_cache.h"
#include "options.h"
#include "os.h"
#include "pool.h"
#include "size_class.h"
#include "stats.h"
#include "tcache.h"

/* Resident set of the whole process, from /proc/self/statm's second
 * number (pages); SMALLOC_STATS_UNKNOWN when it cannot be read. */
static size_t process_rss(void)
{
    int saved = errno;
    size_t rss = SMALLOC_STATS_UNKNOWN;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[128];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            const char *p = buf;
            while (*p >= '0' && *p <= '9') /* total size */
                p++;
            if (*p == ' ' && p[1] >= '0' && p[1] <= '9') {
                size_t pages = 0;
                for (p++; *p >= '0' && *p <= '9'; p++)
                    pages = pages * 10 + (size_t)(*p - '0');
                rss = pages * (size_t)getpagesize();
            }
        }
    }
    errno = saved;
    return rss;
}

/* Every module's lock, in the fork order: passed in by start-up (fork.h). */
static void (*lock_all)(void), (*unlock_all)(void);

/* The whole snapshot, in this library's layout. */
static void stats_snapshot(struct smalloc_stats *out)
{
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->pid = (size_t)getpid();
    out->rss_bytes = process_rss();
    out->arena_size = SM_ARENA_SIZE;
    out->pool_size = SM_POOL_SIZE;

    size_t nused[SM_NCLASSES + 1] = {0};
    lock_all();
    out->arenas_now = atomic_load_explicit(&sm_g_arena_totals.now, memory_order_relaxed);
    out->arenas_highest = atomic_load_explicit(&sm_g_arena_totals.highest, memory_order_relaxed);
    out->arenas_allocated = atomic_load_explicit(&sm_g_arena_totals.allocated, memory_order_relaxed);
    out->arenas_freed = atomic_load_explicit(&sm_g_arena_totals.freed, memory_order_relaxed);
    out->arenas_cached = atomic_load_explicit(&sm_g_arena_totals.cached, memory_order_relaxed);
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        out->pools_free += atomic_load_explicit(&sm_g_arena[shard].npurging, memory_order_relaxed); /* being released */
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
    unlock_all();

    out->bytes_mapped = out->arenas_now * SM_ARENA_SIZE;
    /* Headers, and the guard pages of the hardened build (arena.h). */
    out->bytes_headers =
        out->arenas_now * (SM_POOLS_PER_ARENA - SM_ARENA_USABLE_POOLS) * SM_POOL_SIZE;
    out->bytes_pool_free = out->pools_free * SM_POOL_SIZE;
    for (sm_cls_t cls = 1; cls <= SM_NCLASSES; cls++) {
        struct smalloc_class_stats *c = &out->classes[cls - 1];
        size_t size = sm_class_size(cls);
        size_t nblocks = sm_class_nblocks(cls);
        size_t cached = sm_tcache_cached_blocks(cls);
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
    sm_fallback_totals(&out->fallback_calls, &out->fallback_bytes);
    size_t calls, bytes;
    sm_large_cache_fallback_totals(&calls, &bytes);
    out->fallback_calls += calls;
    out->fallback_bytes += bytes;
    sm_large_cache_totals(&out->large_cache_hits, &out->large_cache_blocks,
                          &out->large_cache_bytes);

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

void sm_stats_get(struct smalloc_stats *out, size_t size)
{
    struct smalloc_stats s;
    stats_snapshot(&s);
    s.struct_size = size < sizeof s ? size : sizeof s;
    memcpy(out, &s, s.struct_size);
}


/* ---- the report buffer ------------------------------------------------ */

enum { REPORT_CHUNK = 64 * 1024 };

typedef struct report {
    char *buf; /* sm_os_map'd, cap bytes; NULL when mapping failed */
    size_t len, cap;
} report_t;

/* Room for need more bytes and a NUL; false when out of memory. */
static bool report_reserve(report_t *r, size_t need)
{
    if (r->buf != NULL && r->len + need < r->cap)
        return true;
    size_t cap = r->cap ? r->cap : REPORT_CHUNK;
    while (cap <= r->len + need)
        cap *= 2;
    char *buf = sm_os_map(cap);
    if (buf == NULL)
        return false;
    if (r->buf != NULL) {
        memcpy(buf, r->buf, r->len);
        sm_os_unmap(r->buf, r->cap);
    }
    r->buf = buf;
    r->cap = cap;
    return true;
}

static void put(report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(report_t *r, const char *fmt, ...)
{
    for (size_t need = 256;;) {
        if (!report_reserve(r, need))
            return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(r->buf + r->len, r->cap - r->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < r->cap - r->len) {
            r->len += (size_t)n;
            return;
        }
        need = (size_t)n + 1;
    }
}

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void put_json_string(report_t *r, const char *s)
{
    put(r, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            put(r, "\\%c", *c);
        else if (*c < 0x20)
            put(r, "\\u%04x", *c);
        else
            put(r, "%c", *c);
    }
    put(r, "\"");
}

static void report_release(report_t *r)
{
    if (r->buf != NULL)
        sm_os_unmap(r->buf, r->cap);
    r->buf = NULL;
    r->len = r->cap = 0;
}

/* ---- the emitter: one walk over the fields, two back ends ------------- */

typedef struct emitter {
    report_t *r;
    bool json;
    bool first;        /* JSON: nothing written yet in the current object */
    const char *group; /* table: the group whose heading was printed last */
    size_t mapped;     /* table: bytes_mapped, for the % column */
} emitter_t;

enum unit { UNIT_count, UNIT_bytes };

static void emit_key(emitter_t *e, const char *key)
{
    put(e->r, "%s\"%s\":", e->first ? "" : ",", key);
    e->first = false;
}

static void emit_field(emitter_t *e, const char *key, const char *group, const char *label,
                       enum unit unit, size_t v)
{
    if (e->json) {
        emit_key(e, key);
        if (v == SMALLOC_STATS_UNKNOWN)
            put(e->r, "null");
        else
            put(e->r, "%zu", v);
        return;
    }
    bool bytes_group = strcmp(group, "bytes") == 0, process_group = strcmp(group, "process") == 0;
    if (e->group == NULL || strcmp(e->group, group) != 0) {
        e->group = group;
        if (bytes_group)
            put(e->r, "%-34s %14s %14s %7s\n", group, "", "MiB", "%");
        else if (strcmp(group, "fallback") == 0)
            put(e->r, "fallback (requests above %d bytes, to the system malloc)\n", SMALLOC_SMALL_MAX);
        else if (process_group)
            put(e->r, "%-34s %14s %14s\n", group, "", "MiB");
        else
            put(e->r, "%s\n", group);
    }
    if (v == SMALLOC_STATS_UNKNOWN)
        put(e->r, "  %-32s %14s%s\n", label, "n/a", bytes_group ? "  (SMALLOC_DEBUG=1 measures it)" : "");
    else if (unit == UNIT_bytes && bytes_group)
        put(e->r, "  %-32s %14zu %14.3f %6.1f%%\n", label, v, (double)v / (1024.0 * 1024.0),
            e->mapped ? 100.0 * (double)v / (double)e->mapped : 0.0);
    else if (unit == UNIT_bytes && process_group)
        put(e->r, "  %-32s %14zu %14.3f\n", label, v, (double)v / (1024.0 * 1024.0));
    else
        put(e->r, "  %-32s %14zu\n", label, v);
    /* What is resident next to what libsmalloc holds. */
    if (strcmp(key, "rss_bytes") == 0)
        put(e->r, "  %-32s %14zu %14.3f\n", "mapped by libsmalloc (above)", e->mapped,
            (double)e->mapped / (1024.0 * 1024.0));
}

static void emit_classes(emitter_t *e, const struct smalloc_stats *s)
{
    if (e->json) {
        emit_key(e, "classes");
        put(e->r, "[");
    } else {
        /* A class is named by its block size (the first column). */
#define SM_STATS_CLASS_HEAD(field, group, label, unit, doc) put(e->r, " %10s", label);
        SMALLOC_CLASS_STATS_FIELDS(SM_STATS_CLASS_HEAD)
#undef SM_STATS_CLASS_HEAD
        put(e->r, "\n");
    }
    bool first_class = true;
    for (sm_cls_t cls = 0; cls < SMALLOC_NCLASSES; cls++) {
        const struct smalloc_class_stats *c = &s->classes[cls];
        if (c->pools_in_use == 0)
            continue;
        if (e->json) {
            put(e->r, "%s{", first_class ? "" : ",");
            const char *sep = "";
#define SM_STATS_CLASS_JSON(field, group, label, unit, doc) \
    put(e->r, "%s\"" #field "\":%zu", sep, c->field);          \
    sep = ",";
            SMALLOC_CLASS_STATS_FIELDS(SM_STATS_CLASS_JSON)
#undef SM_STATS_CLASS_JSON
            put(e->r, "}");
        } else {
#define SM_STATS_CLASS_ROW(field, group, label, unit, doc) put(e->r, " %10zu", c->field);
            SMALLOC_CLASS_STATS_FIELDS(SM_STATS_CLASS_ROW)
#undef SM_STATS_CLASS_ROW
            put(e->r, "\n");
        }
        first_class = false;
    }
    if (e->json)
        put(e->r, "]");
}

/* The options in force, from the SM_OPTIONS list: a JSON object of typed
 * values, or NAME=value words on one table line. */
static void emit_options(emitter_t *e)
{
    struct sm_option_value v;
    if (e->json) {
        emit_key(e, "options");
        put(e->r, "{");
    } else {
        put(e->r, "options");
    }
    for (size_t i = 0; sm_options_get(i, &v); i++) {
        if (!e->json) {
            put(e->r, " %s=%s", v.name, v.value ? v.value : "(unset)");
            continue;
        }
        put(e->r, "%s", i ? "," : "");
        put_json_string(e->r, v.name);
        put(e->r, ":");
        if (v.value == NULL)
            put(e->r, "null");
        else if (v.kind == SM_OPTION_KIND_bool)
            put(e->r, "%s", v.value[0] == '1' ? "true" : "false");
        else if (v.kind == SM_OPTION_KIND_uint)
            put(e->r, "%s", v.value);
        else
            put_json_string(e->r, v.value);
    }
    put(e->r, e->json ? "}" : "\n");
}

static const char *program_name(void)
{
    const char *name = program_invocation_short_name;
    return name != NULL && *name != '\0' ? name : "?";
}

/* CLOCK_MONOTONIC at start-up (sm_stats_init), for "elapsed". */
static struct timespec start_time;

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* t (CLOCK_REALTIME) as 2026-12-04T18:40:01.123Z into buf, by hand:
 * gmtime_r may read the time zone files, which allocates. buf: 80 bytes. */
static void format_utc(const struct timespec *t, char *buf)
{
    long long days = t->tv_sec / 86400, secs = t->tv_sec % 86400;
    /* Civil date from days since 1970-01-01 (H. Hinnant's algorithm). */
    long long z = days + 719468, era = z / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    long long day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
    long long year = yoe + era * 400 + (month <= 2);
    snprintf(buf, 80, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03dZ", year, month, day,
                secs / 3600, secs / 60 % 60, secs % 60, (int)(t->tv_nsec / 1000000 % 1000));
}

/* The whole report into r (empty when out of memory); reason: "exit",
 * "interval" or "signal". */
static void report_build(report_t *r, bool json, const char *reason)
{
    struct smalloc_stats s;
    struct timespec wall, mono;
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    stats_snapshot(&s);
    double elapsed = seconds_between(&start_time, &mono);
    emitter_t e = {.r = r, .json = json, .first = true, .group = NULL, .mapped = s.bytes_mapped};
    if (json) {
        put(r, "{\"version\":\"%s\",\"debug\":%s,\"program\":", smalloc_version(),
            sm_opt.debug ? "true" : "false");
        put_json_string(r, program_name());
        put(r, ",\"reason\":\"%s\",\"time\":%lld.%03ld,\"elapsed\":%.3f", reason,
            (long long)wall.tv_sec, wall.tv_nsec / 1000000, elapsed);
        e.first = false;
        emit_options(&e);
    } else {
        char utc[80];
        format_utc(&wall, utc);
        /* The first line is exactly this: scripts look for it. */
        put(r, "libsmalloc %s statistics\n", smalloc_version());
        put(r, "pid %d (%s)%s\n", (int)getpid(), program_name(),
            sm_opt.debug ? ", debug mode (SMALLOC_DEBUG=1)" : "");
        emit_options(&e);
        put(r, "report %s, at %s, %.3f s after start-up\n", reason, utc, elapsed);
        emit_classes(&e, &s);
    }
#define SM_STATS_EMIT(field, group, label, unit, doc) \
    emit_field(&e, #field, #group, label, UNIT_##unit, s.field);
    SMALLOC_STATS_FIELDS(SM_STATS_EMIT)
#undef SM_STATS_EMIT
    if (json) {
        emit_classes(&e, &s);
        put(r, "}\n");
    }
}

static void print_report(FILE *f, bool json)
{
    report_t r = {0};
    report_build(&r, json, "call");
    if (r.len > 0)
        fwrite(r.buf, 1, r.len, f);
    fflush(f);
    report_release(&r);
}

void sm_stats_print(FILE *f, bool json)
{
    print_report(f, json);
}

/* ---- exit report and verbose lines ------------------------------------ */

static int saved_stderr = -1; /* a duplicate of fd 2 made at start-up */

/* stderr, or its duplicate if the program closed its own; -1 if neither. */
static int report_stderr(void)
{
    if (fcntl(STDERR_FILENO, F_GETFD) != -1)
        return STDERR_FILENO;
    return saved_stderr;
}

/* SMALLOC_STATS_FILE with each %p replaced by the process id, opened for
 * appending (never through a symbolic link, owner-only if created). -1
 * after a warning on err_fd saying why not. */
static int open_stats_file(int err_fd)
{
    char path[PATH_MAX], pid[24];
    size_t npid = sm_snprintf(pid, sizeof pid, "%d", (int)getpid());
    size_t n = 0;
    for (const char *s = sm_opt.stats_file; *s != '\0'; s++) {
        bool is_pid = s[0] == '%' && s[1] == 'p';
        for (size_t i = 0; i < (is_pid ? npid : 1); i++, n++) {
            if (n < sizeof path)
                path[n] = is_pid ? pid[i] : *s;
        }
        s += is_pid;
    }
    if (n >= sizeof path) {
        sm_warn_to(err_fd, "SMALLOC_STATS_FILE is %zu bytes long with %%p expanded, more than PATH_MAX "
                           "(%d with its NUL) allows; statistics go to stderr",
                   n, PATH_MAX);
        return -1;
    }
    path[n] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        sm_warn_to(err_fd, "cannot open SMALLOC_STATS_FILE=%s: %s; statistics go to stderr", path,
                   strerrordesc_np(errno));
    return fd;
}

void sm_stats_write_report(const char *reason)
{
    int saved = errno;
    int err_fd = report_stderr(), fd = err_fd;
    if (sm_opt.stats_file != NULL) {
        int file = open_stats_file(err_fd);
        if (file >= 0)
            fd = file;
    }
    if (fd >= 0) {
        report_t r = {0};
        report_build(&r, sm_opt.stats == SM_FORMAT_JSON, reason);
        sm_os_write(fd, r.buf, r.len);
        report_release(&r);
        if (fd != err_fd)
            close(fd);
    }
    errno = saved;
}

__attribute__((destructor)) static void stats_at_exit(void)
{
    if (sm_opt.stats != SM_FORMAT_OFF)
        sm_stats_write_report("exit");
}

void sm_stats_init(void (*lock)(void), void (*unlock)(void))
{
    lock_all = lock;
    unlock_all = unlock;
    if (sm_opt.verbose)
        sm_g_arena_event = sm_stats_arena_event;
    clock_gettime(CLOCK_MONOTONIC, &start_time);
    sm_stats_running_init(); /* may turn SMALLOC_STATS on */
    if (sm_opt.stats != SM_FORMAT_OFF)
        saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
}

void sm_stats_arena_event(const void *arena, bool mapped)
{
    char line[128];
    size_t now = atomic_load_explicit(&sm_g_arena_totals.now, memory_order_relaxed);
    size_t n = sm_snprintf(line, sizeof line, "smalloc: arena %p %s (%zu mapped now)\n", arena,
                           mapped ? "mapped" : "returned to the OS", now);
    sm_os_write(STDERR_FILENO, line, n);
}
