/*
 * Another library with fork handlers that allocate, registered before
 * libsmalloc's (its constructor runs before libsmalloc's start-up, and
 * allocates nothing before pthread_atfork). Handlers run: prepare in
 * reverse order of registration, so this prepare runs after libsmalloc's;
 * parent and child in order, so these run before libsmalloc's. Each one
 * allocates and frees enough blocks of several classes to refill and flush
 * the thread cache, i.e. to need the central locks libsmalloc holds.
 * atfork_other_calls() counts the handlers that ran (in this process).
 *
 * Linked with -nostdlib, so it has no DT_NEEDED entry and the dynamic
 * loader runs its constructor before libsmalloc's, linked or preloaded
 * (as tests/integration/preload/early.c). Without libc_nonshared.a there is no
 * pthread_atfork to link: it registers with __register_atfork, what
 * pthread_atfork calls.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                      void *dso_handle);

static int calls;

static void churn(const char *who)
{
    enum { N = 600 };
    static void *blocks[N];
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(i % 8) * 40 + 16;
        blocks[i] = malloc(n);
        if (blocks[i] == NULL)
            abort();
        memset(blocks[i], i & 0xff, n);
    }
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    char *s = strdup(who);
    free(s);
    calls++;
}

static void prepare(void) { churn("prepare"); }
static void parent(void) { churn("parent"); }
static void child(void) { churn("child"); }

int atfork_other_calls(void)
{
    return calls;
}

__attribute__((constructor)) static void atfork_other_load(void)
{
    __register_atfork(prepare, parent, child, NULL);
    static const char line[] = "atfork_other: handlers registered\n";
    write(STDERR_FILENO, line, sizeof line - 1);
}
