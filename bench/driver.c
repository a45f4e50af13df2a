/*
 * driver: runs one workload of workloads.h and prints one JSON line per
 * repetition. Linked against plain libc; the allocator is chosen from
 * outside with LD_PRELOAD, so the same binary measures every allocator:
 *
 *   driver --workload python_churn [--scale 0.1] [--reps 3] [--seed 42]
 *   LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 driver --workload single
 *   driver --list
 *
 * Each line holds the time per operation, the peak RSS (VmHWM) and the RSS
 * at the end (VmRSS), and `malloc_from`: the object that really provides
 * malloc here (dladdr), so a preload that did not take is caught.
 * Peak RSS is per process; before each repetition the driver resets it
 * through /proc/self/clear_refs, but run.sh still runs one workload per
 * process so nothing of an earlier run stays in the heap.
 * The driver itself allocates nothing while a workload runs.
 */
#define _GNU_SOURCE
#include "support.h"
#include "workloads.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SMALLOC_BENCH_TRACE_DEFAULT
#define SMALLOC_BENCH_TRACE_DEFAULT ""
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: driver --workload NAME [--scale X] [--reps N] [--seed S]\n"
            "              [--n N] [--arg A] [--trace FILE] [--label L]\n"
            "       driver --list\n"
            "  --scale X   multiply the default amount of work by X (default 1)\n"
            "  --reps N    repetitions in this process, one JSON line each (default 1)\n"
            "  --n, --arg  override the workload's work units / parameter\n"
            "  --trace F   trace for `replay` (default $SMBENCH_TRACE or\n"
            "              %s)\n"
            "  --label L   copied into the JSON as \"allocator\" (default $SMBENCH_LABEL)\n",
            SMALLOC_BENCH_TRACE_DEFAULT[0] ? SMALLOC_BENCH_TRACE_DEFAULT : "none");
}

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The file that provides the malloc this process calls. */
static const char *malloc_provider(void)
{
    Dl_info info;
    void *(*volatile fn)(size_t) = malloc;
    if (dladdr((void *)fn, &info) != 0 && info.dli_fname != NULL)
        return info.dli_fname;
    return "?";
}

/* Print s as a JSON string (the few characters that need escaping). */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = NULL;
    const char *trace = getenv("SMBENCH_TRACE");
    const char *label = getenv("SMBENCH_LABEL");
    double scale = 1.0;
    uint64_t reps = 1, seed = 42, n = 0, arg = 0;
    int have_n = 0, have_arg = 0;

    if (trace == NULL || *trace == '\0')
        trace = SMALLOC_BENCH_TRACE_DEFAULT;
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(o, "--list") == 0) {
            for (size_t w = 0; w < wl_count; w++)
                printf("%-18s n=%-9llu arg=%-7llu %s\n", wl_table[w].name,
                       (unsigned long long)wl_table[w].n,
                       (unsigned long long)wl_table[w].arg, wl_table[w].desc);
            return 0;
        } else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (v == NULL) {
            bad = 1;
        } else if (strcmp(o, "--workload") == 0 || strcmp(o, "-w") == 0) {
            name = v;
        } else if (strcmp(o, "--scale") == 0) {
            char *end;
            scale = strtod(v, &end);
            bad = *end != '\0' || !(scale > 0);
        } else if (strcmp(o, "--reps") == 0) {
            bad = parse_u64(v, &reps) != 0 || reps == 0;
        } else if (strcmp(o, "--seed") == 0) {
            bad = parse_u64(v, &seed) != 0;
        } else if (strcmp(o, "--n") == 0) {
            bad = parse_u64(v, &n) != 0;
            have_n = 1;
        } else if (strcmp(o, "--arg") == 0) {
            bad = parse_u64(v, &arg) != 0;
            have_arg = 1;
        } else if (strcmp(o, "--trace") == 0) {
            trace = v;
        } else if (strcmp(o, "--label") == 0) {
            label = v;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "driver: bad option or value: %s\n", o);
            usage(stderr);
            return 2;
        }
    }
    const struct wl_desc *w = name ? wl_find(name) : NULL;
    if (w == NULL) {
        fprintf(stderr, "driver: %s workload%s%s (try --list)\n",
                name ? "unknown" : "no", name ? " " : "", name ? name : "");
        return 2;
    }

    struct wl_args a = {
        .n = have_n ? n : (uint64_t)((double)w->n * scale + 0.5),
        .arg = have_arg ? arg : w->arg,
        .seed = seed,
        .trace = trace,
    };
    if (!have_n && a.n == 0 && w->n != 0) /* a tiny --scale still runs */
        a.n = 1;
    const char *provider = malloc_provider();
    if (label == NULL || *label == '\0')
        label = "unlabelled";

    for (uint64_t r = 0; r < reps; r++) {
        int reset = wl_reset_peak_rss();
        long rss_start = wl_status_kb("VmRSS");
        uint64_t cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
        uint64_t t0 = now_ns(CLOCK_MONOTONIC);
        uint64_t ops = w->fn(&a);
        uint64_t t1 = now_ns(CLOCK_MONOTONIC);
        uint64_t cpu1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
        long peak = wl_status_kb("VmHWM");
        long rss_end = wl_status_kb("VmRSS");
        if (ops == 0) {
            fprintf(stderr, "driver: workload %s failed\n", w->name);
            return 1;
        }
        printf("{\"workload\":");
        json_str(w->name);
        printf(",\"allocator\":");
        json_str(label);
        printf(",\"rep\":%llu,\"n\":%llu,\"arg\":%llu,\"seed\":%llu,\"ops\":%llu,"
               "\"wall_ns\":%llu,\"cpu_ns\":%llu,\"ns_per_op\":%.3f,"
               "\"rss_start_kb\":%ld,\"peak_rss_kb\":%ld,\"rss_end_kb\":%ld,"
               "\"peak_reset\":%s,\"malloc_from\":",
               (unsigned long long)r, (unsigned long long)a.n,
               (unsigned long long)a.arg, (unsigned long long)seed,
               (unsigned long long)ops, (unsigned long long)(t1 - t0),
               (unsigned long long)(cpu1 - cpu0), (double)(t1 - t0) / (double)ops,
               rss_start, peak, rss_end, reset == 0 ? "true" : "false");
        json_str(provider);
        printf("}\n");
        fflush(stdout);
    }
    return 0;
}
