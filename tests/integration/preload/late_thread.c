/*
 * A thread whose first malloc comes in the last round of thread-specific
 * data destructors (glibc runs PTHREAD_DESTRUCTOR_ITERATIONS = 4 rounds; a
 * value set in the 4th is never destroyed), so libsmalloc's own thread-exit
 * destructor never runs for it. Then many threads reuse its stack and TLS,
 * then a fork child that allocates and must exit promptly, and the
 * program's exit (run with SMALLOC_STATS=1: the report walks every heap).
 * Run under a timeout: a cycle in libsmalloc's heap registry is a hang.
 * Exit 0 on success.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_key_t key;
static __thread int rounds;
static int allocated_in_round;

static void late_destructor(void *value)
{
    if (++rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
        pthread_setspecific(key, value); /* once more, in the next round */
        return;
    }
    /* The last round: this thread's first allocation. */
    allocated_in_round = rounds;
    void *p[40];
    for (int i = 0; i < 40; i++)
        p[i] = malloc((size_t)(i % 4) * 16 + 16);
    for (int i = 0; i < 40; i += 2)
        free(p[i]);
}

static void *late_thread(void *arg)
{
    (void)arg;
    pthread_setspecific(key, (void *)1); /* no allocation before exit */
    return NULL;
}

static void *short_thread(void *arg)
{
    void *p[16];
    for (int i = 0; i < 16; i++)
        p[i] = malloc((size_t)i * 8 + 8);
    for (int i = 0; i < 16; i++)
        free(p[i]);
    return arg;
}

static int run(void *(*fn)(void *))
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, NULL) != 0)
        return 1;
    return pthread_join(t, NULL);
}

int main(void)
{
    free(malloc(1)); /* libsmalloc starts up, and its key is made, first */
    if (pthread_key_create(&key, late_destructor) != 0)
        return 1;
    for (int round = 0; round < 3; round++) {
        /* Two late threads, so that the second one reuses the first one's
         * stack while the first one's heap may still be registered. */
        for (int i = 0; i < 2; i++)
            if (run(late_thread) != 0)
                return 1;
        for (int i = 0; i < 50; i++)
            if (run(short_thread) != 0)
                return 1;
    }
    if (allocated_in_round != PTHREAD_DESTRUCTOR_ITERATIONS) {
        fprintf(stderr, "late_thread: the destructor allocated in round %d\n", allocated_in_round);
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        char *s = strdup("child");
        free(s);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "late_thread: fork child failed (status %#x)\n", status);
        return 1;
    }
    printf("late_thread: 6 late threads, 150 reusing threads, 1 fork child\n");
    return 0;
}
