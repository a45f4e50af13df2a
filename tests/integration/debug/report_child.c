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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <smalloc.h>

static void *blocks[100];

static void hold_blocks(void)
{
    for (int i = 0; i < 100; i++)
        blocks[i] = malloc(40);
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
