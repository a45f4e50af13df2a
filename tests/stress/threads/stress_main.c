/*
 * The stress as a standalone program, for long runs:
 *   stress [--seconds N] [--threads N] [--seed N] [--slots N] [--fork-ms N]
 * Prints the figures at the end; exits 1 if a corruption was found or a
 * fork child failed, 2 on bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress.h"

static void usage(void)
{
    fprintf(stderr, "usage: stress [--seconds N] [--threads N] [--seed N] [--slots N] [--fork-ms N]\n"
                    "  defaults: 20 s, 4 threads, seed 1, 8192 slots, a fork every 250 ms\n");
    exit(2);
}

static unsigned long long number(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0')
        usage();
    return v;
}

int main(int argc, char **argv)
{
    struct stress_config cfg;
    stress_defaults(&cfg, 20);
    cfg.progress = stderr;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            usage();
        if (i + 1 >= argc)
            usage();
        const char *val = argv[++i];
        if (strcmp(arg, "--seconds") == 0)
            cfg.seconds = (double)number(val);
        else if (strcmp(arg, "--threads") == 0)
            cfg.threads = (unsigned)number(val);
        else if (strcmp(arg, "--seed") == 0)
            cfg.seed = number(val);
        else if (strcmp(arg, "--slots") == 0)
            cfg.slots = (unsigned)number(val);
        else if (strcmp(arg, "--fork-ms") == 0)
            cfg.fork_ms = (unsigned)number(val);
        else
            usage();
    }
    if (cfg.threads == 0 || cfg.slots == 0)
        usage();
    struct stress_report r;
    int rc = stress_run(&cfg, &r);
    stress_print(stdout, &cfg, &r);
    return rc == 0 ? 0 : 1;
}
