/*
 * A program linked with libsmalloc.so (so its malloc is libsmalloc's) for
 * the tests of the exit reports (reports.sh) and of set-user-ID programs
 * (setuid.sh). It writes nothing itself unless asked to, so that every
 * write(2) it makes is libsmalloc's.
 *
 *   report_child plain          hold 100 blocks of 40 bytes, exit
 *   report_child ids            the same, and print "euid=E debug=D" on
 *                               stdout (D: 1 when SMALLOC_DEBUG=1 took)
 *   report_child close-stderr   the same as plain after close(2), as
 *                               coreutils' close_stdout does
 *   report_child fork N         N children, each holding blocks, exit all
 *                               at once (a pipe as the barrier); the
 *                               parent exits after them
 * For the running reports (running_reports.sh), each writing "ready" on
 * stdout once in main, then allocating and freeing 1000 blocks of 32
 * bytes every 20 ms (the frees fill the thread cache: free slow paths):
 *   report_child run MS         for MS milliseconds, then exit
 *   report_child run-fork MS    the same in a child and its parent; the
 *                               parent waits for the child, then exits
 *   report_child until-term     until SIGTERM (the default action)
 *   report_child own-usr1       its own SIGUSR1 handler installed in main,
 *                               which writes "own handler"; then until
 *                               that signal came, then exit
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <smalloc.h>

static void *blocks[100];

static void hold_blocks(void)
{
    for (int i = 0; i < 100; i++)
        blocks[i] = malloc(40);
}

static volatile sig_atomic_t got_usr1;

static void own_usr1(int sig)
{
    (void)sig;
    got_usr1 = 1;
    (void)!write(STDOUT_FILENO, "own handler\n", 12);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Allocate and free for ms milliseconds (forever when ms < 0), or until
 * the program's own SIGUSR1 handler ran. */
static void churn(long ms)
{
    static void *p[1000];
    long end = now_ms() + ms;
    while ((ms < 0 || now_ms() < end) && !got_usr1) {
        for (int i = 0; i < 1000; i++)
            p[i] = malloc(32);
        for (int i = 0; i < 1000; i++)
            free(p[i]);
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

static void ready(void)
{
    (void)!write(STDOUT_FILENO, "ready\n", 6);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "plain";
    hold_blocks();
    if (strcmp(mode, "plain") == 0)
        return 0;
    if (strcmp(mode, "ids") == 0) {
        struct smalloc_stats s;
        smalloc_stats_get(&s);
        printf("euid=%d debug=%d\n", (int)geteuid(), s.bytes_requested != SMALLOC_STATS_UNKNOWN);
        return 0;
    }
    if (strcmp(mode, "close-stderr") == 0) {
        close(STDERR_FILENO);
        return 0;
    }
    if (strcmp(mode, "run") == 0 && argc > 2) {
        ready();
        churn(atol(argv[2]));
        return 0;
    }
    if (strcmp(mode, "run-fork") == 0 && argc > 2) {
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        ready();
        churn(atol(argv[2]));
        if (pid == 0)
            exit(0);
        int status;
        return waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    if (strcmp(mode, "until-term") == 0) {
        ready();
        churn(-1);
        return 0;
    }
    if (strcmp(mode, "own-usr1") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = own_usr1;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGUSR1, &sa, NULL) != 0)
            return 2;
        ready();
        churn(-1);
        return 0;
    }
    if (strcmp(mode, "fork") == 0 && argc > 2) {
        int n = atoi(argv[2]);
        int barrier[2];
        if (pipe(barrier) != 0)
            return 2;
        for (int i = 0; i < n; i++) {
            pid_t pid = fork();
            if (pid < 0)
                return 2;
            if (pid == 0) {
                char c;
                close(barrier[1]);
                for (int j = 0; j < 1000 * (i + 1); j++) /* a different report each */
                    (void)!malloc((size_t)(8 * (j % 64 + 1)));
                (void)!read(barrier[0], &c, 1); /* returns when the parent closes its end */
                exit(0);
            }
        }
        close(barrier[0]);
        close(barrier[1]);
        int status, failed = 0;
        while (wait(&status) > 0)
            failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        return failed;
    }
    return 2;
}
