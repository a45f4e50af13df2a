/*
 * runprog: run a program, print one JSON line with its wall time, CPU time
 * and peak RSS (wait4 rusage). Used by run.sh for the real-program column:
 *
 *   runprog [--label L] [--name N] [--out FILE] -- env LD_PRELOAD=... python3 x.py
 *
 * The program's own stdout goes to /dev/null, its stderr is kept. The JSON
 * line goes to stdout (or is appended to --out FILE). Exit status: the
 * program's, or 127 when it could not be started.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
    const char *label = "unlabelled", *name = "program", *out = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "runprog: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--label") == 0)
            label = argv[++i];
        else if (strcmp(argv[i], "--name") == 0)
            name = argv[++i];
        else if (strcmp(argv[i], "--out") == 0)
            out = argv[++i];
        else {
            fprintf(stderr, "runprog: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: runprog [--label L] [--name N] [--out F] -- PROGRAM ARGS...\n");
        return 2;
    }

    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        perror("runprog: fork");
        return 127;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execvp(argv[i], argv + i);
        perror("runprog: exec");
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("runprog: wait4");
        return 127;
    }
    double wall = now_s() - t0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

    FILE *f = out ? fopen(out, "a") : stdout;
    if (f == NULL) {
        perror("runprog: --out");
        return 2;
    }
    fputs("{\"program\":", f);
    put_json_string(f, name);
    fputs(",\"allocator\":", f);
    put_json_string(f, label);
    fprintf(f, ",\"wall_s\":%.6f,\"user_s\":%.6f,\"sys_s\":%.6f,\"peak_rss_kb\":%ld,\"exit\":%d}\n", wall,
            tv_s(ru.ru_utime), tv_s(ru.ru_stime), ru.ru_maxrss, code);
    if (f != stdout)
        fclose(f);
    return code;
}
