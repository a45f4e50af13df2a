/*
 * fork() in a process where a library registered before libsmalloc has
 * fork handlers that allocate (atfork_other.c): from the main thread and
 * from a second thread while others allocate. Each child allocates, checks
 * that its handlers ran, and exits 0. Run under a timeout: a deadlock is a
 * hang. Exit 0 on success.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int atfork_other_calls(void);

static atomic_int stop;

static void *churner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        void *p[64];
        for (int i = 0; i < 64; i++)
            p[i] = malloc((size_t)i * 4 + 8);
        for (int i = 0; i < 64; i++)
            free(p[i]);
    }
    return NULL;
}

static int fork_once(void)
{
    int before = atfork_other_calls();
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        /* prepare and child ran (2 more than before) */
        char *s = malloc(100);
        if (s == NULL || atfork_other_calls() != before + 2)
            _exit(3);
        strcpy(s, "child");
        free(s);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;
    return atfork_other_calls() == before + 2 ? 0 : 1; /* prepare and parent */
}

static void *forker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++)
        if (fork_once() != 0)
            return (void *)1;
    return NULL;
}

int main(void)
{
    for (int i = 0; i < 20; i++)
        if (fork_once() != 0) {
            fprintf(stderr, "atfork: fork %d from the main thread failed\n", i);
            return 1;
        }
    pthread_t churn[2], fk;
    for (int i = 0; i < 2; i++)
        pthread_create(&churn[i], NULL, churner, NULL);
    void *res;
    pthread_create(&fk, NULL, forker, NULL);
    pthread_join(fk, &res);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(churn[i], NULL);
    if (res != NULL) {
        fprintf(stderr, "atfork: a fork from a thread failed\n");
        return 1;
    }
    printf("atfork: 40 forks with allocating handlers\n");
    return 0;
}
