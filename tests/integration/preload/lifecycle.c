/*
 * Start-up and tear-down of a program that knows nothing of libsmalloc, run
 * under LD_PRELOAD (lifecycle_run in CMakeLists.txt):
 *   before main   a constructor allocates a block of every small size;
 *   threads       blocks made by threads that have exited stay valid; a
 *                 thread's own pthread key destructor, which runs after
 *                 libsmalloc's (its key is older), still allocates and frees;
 *   fork          children forked while other threads allocate, from the
 *                 main thread and from one of them, get a working allocator;
 *   dlopen        a library allocating in its constructor and destructor,
 *                 with general-dynamic TLS that the loader allocates on each
 *                 thread's first access (plugin.c); dlerror's message;
 *   after main    an atexit handler and a destructor free what main and the
 *                 constructor left, and allocate again.
 * Each stage prints "lifecycle: <stage> ok"; the last line is the
 * destructor's. Any failure prints "lifecycle: FAILED ..." and _exit(1)s.
 * Usage: lifecycle PATH/TO/plugin.so
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define SMALL_MAX 512
#define NTHREADS 4
#define PER_THREAD 2000
#define NFORKS 16

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lifecycle: FAILED ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    _exit(1);
}

static void ok(const char *stage)
{
    printf("lifecycle: %s ok\n", stage);
    fflush(stdout);
}

static unsigned char *make(size_t n, size_t seed)
{
    unsigned char *p = malloc(n);
    if (p == NULL)
        fail("malloc(%zu) returned NULL", n);
    fill_pattern(p, n, seed);
    return p;
}

static void check(const unsigned char *p, size_t n, size_t seed, const char *what)
{
    long at = check_pattern(p, n, seed);
    if (at >= 0)
        fail("%s: block %p of %zu bytes changed at byte %ld", what, (const void *)p, n, at);
}

/* malloc_block_size(n), the usable size libsmalloc gives malloc(n),
 * n <= 512: proof that a block came from it rather than from glibc (which
 * gives n + 8 rounded to 16, at least 24). */
static void check_ours(void *p, size_t n, const char *what)
{
    if (malloc_usable_size(p) != malloc_block_size(n))
        fail("%s: malloc(%zu) has %zu usable bytes, libsmalloc gives %zu: not preloaded?", what,
             n, malloc_usable_size(p), malloc_block_size(n));
}

/* ---- before main and after it ---- */

static unsigned char *ctor_blocks[SMALL_MAX + 1];
static unsigned char *main_blocks[SMALL_MAX + 1];

__attribute__((constructor)) static void before_main(void)
{
    for (size_t n = 1; n <= SMALL_MAX; n++)
        ctor_blocks[n] = make(n, n);
}

static void at_exit(void)
{
    for (size_t n = 1; n <= SMALL_MAX; n++) {
        check(main_blocks[n], n, n + 1000, "atexit");
        free(main_blocks[n]);
        unsigned char *p = make(n, n + 2000);
        check_ours(p, n, "atexit");
        check(p, n, n + 2000, "atexit");
        free(p);
    }
    ok("atexit");
}

__attribute__((destructor)) static void after_main(void)
{
    for (size_t n = 1; n <= SMALL_MAX; n += 2) {
        check(ctor_blocks[n], n, n, "destructor");
        free(ctor_blocks[n]);
    }
    char *s = strdup("allocated in a destructor");
    check_ours(s, strlen(s) + 1, "destructor");
    free(s);
    ok("destructor");
}

static void stage_before_main(void)
{
    for (size_t n = 1; n <= SMALL_MAX; n++) {
        check_ours(ctor_blocks[n], n, "constructor");
        check(ctor_blocks[n], n, n, "constructor block read in main");
        if (n % 2 == 0) { /* the odd ones are freed by the destructor */
            free(ctor_blocks[n]);
            ctor_blocks[n] = NULL;
        }
    }
    for (size_t n = 1; n <= SMALL_MAX; n++)
        main_blocks[n] = make(n, n + 1000);
    if (atexit(at_exit) != 0)
        fail("atexit");
    ok("constructor");
}

/* ---- threads ---- */

struct worker {
    pthread_t tid;
    size_t index;
    unsigned char *made[PER_THREAD];   /* made by the thread, freed by main */
    unsigned char *given[PER_THREAD];  /* made by main, freed by the thread */
};

static pthread_key_t late_key;
static unsigned char *late_blocks[NTHREADS];

/* Runs at thread exit after libsmalloc's own key destructor (libsmalloc's
 * key was created first, at start-up, and destructors run in key order). */
static void late_destructor(void *arg)
{
    struct worker *w = arg;
    for (size_t n = 1; n <= SMALL_MAX; n++) {
        unsigned char *p = make(n, n + 3000);
        check(p, n, n + 3000, "key destructor");
        free(p);
    }
    late_blocks[w->index] = make(100, 4000 + w->index); /* outlives the thread */
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_setspecific(late_key, w);
    for (size_t i = 0; i < PER_THREAD; i++)
        w->made[i] = make(i % SMALL_MAX + 1, w->index * PER_THREAD + i);
    for (size_t i = 0; i < PER_THREAD; i++) {
        check(w->given[i], i % SMALL_MAX + 1, 100000 + w->index * PER_THREAD + i, "cross-thread");
        free(w->given[i]);
    }
    return NULL;
}

static void stage_threads(void)
{
    static struct worker workers[NTHREADS];
    if (pthread_key_create(&late_key, late_destructor) != 0)
        fail("pthread_key_create");
    for (size_t t = 0; t < NTHREADS; t++) {
        workers[t].index = t;
        for (size_t i = 0; i < PER_THREAD; i++)
            workers[t].given[i] = make(i % SMALL_MAX + 1, 100000 + t * PER_THREAD + i);
        if (pthread_create(&workers[t].tid, NULL, worker_main, &workers[t]) != 0)
            fail("pthread_create");
    }
    for (size_t t = 0; t < NTHREADS; t++)
        pthread_join(workers[t].tid, NULL);
    /* Every thread has exited and flushed its cache: its blocks are intact
     * and belong to the program until it frees them. */
    for (size_t t = 0; t < NTHREADS; t++) {
        for (size_t i = 0; i < PER_THREAD; i++) {
            size_t n = i % SMALL_MAX + 1;
            check_ours(workers[t].made[i], n, "block of an exited thread");
            check(workers[t].made[i], n, t * PER_THREAD + i, "block of an exited thread");
            free(workers[t].made[i]);
        }
        if (late_blocks[t] == NULL)
            fail("key destructor of thread %zu did not run", t);
        check(late_blocks[t], 100, 4000 + t, "block made in a key destructor");
        free(late_blocks[t]);
    }
    ok("threads");
}

/* ---- fork while other threads allocate ---- */

static atomic_int churn_stop;

static void child_work(void)
{
    /* Every class, many blocks, some freed out of order, and a thread. */
    static unsigned char *blocks[4 * SMALL_MAX];
    for (size_t i = 0; i < 4 * SMALL_MAX; i++)
        blocks[i] = make(i % SMALL_MAX + 1, i);
    for (size_t i = 0; i < 4 * SMALL_MAX; i += 2)
        free(blocks[i]);
    for (size_t i = 1; i < 4 * SMALL_MAX; i += 2) {
        check(blocks[i], i % SMALL_MAX + 1, i, "fork child");
        free(blocks[i]);
    }
    pthread_t t;
    struct worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        fail("calloc in fork child");
    for (size_t i = 0; i < PER_THREAD; i++)
        w->given[i] = make(i % SMALL_MAX + 1, 100000 + i);
    if (pthread_create(&t, NULL, worker_main, w) != 0)
        fail("pthread_create in fork child");
    pthread_join(t, NULL);
    for (size_t i = 0; i < PER_THREAD; i++)
        free(w->made[i]);
    free(w);
}

static void fork_one(const char *from)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        fail("fork from %s", from);
    if (pid == 0) {
        child_work();
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("child forked from %s ended with status %#x", from, status);
}

static void *churn(void *arg)
{
    size_t seed = (size_t)(uintptr_t)arg;
    unsigned char *live[64] = {0};
    for (size_t round = 0; !atomic_load(&churn_stop) || round < 1000; round++) {
        size_t slot = (seed * 7 + round) % 64;
        if (live[slot] != NULL)
            free(live[slot]);
        live[slot] = make((seed + round * 13) % SMALL_MAX + 1, round);
        if (seed == 1 && round == 500)
            fork_one("a churning thread");
    }
    for (size_t i = 0; i < 64; i++)
        free(live[i]);
    return NULL;
}

static void stage_fork(void)
{
    pthread_t t[2];
    for (size_t i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)) != 0)
            fail("pthread_create");
    for (int i = 0; i < NFORKS; i++)
        fork_one("the main thread");
    atomic_store(&churn_stop, 1);
    for (size_t i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ok("fork");
}

/* ---- dlopen ---- */

typedef char *(*describe_fn)(int);
typedef int (*calls_fn)(void);
static describe_fn plugin_describe;
static calls_fn plugin_calls;

static void *plugin_thread(void *arg)
{
    int n = (int)(uintptr_t)arg;
    for (int i = 1; i <= n; i++) {
        char *s = plugin_describe(i);
        check_ours(s, strlen(s) + 1, "plugin string");
        free(s);
    }
    if (plugin_calls() != n)
        fail("plugin TLS: %d calls counted in a thread that made %d", plugin_calls(), n);
    return NULL;
}

static void stage_dlopen(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        fail("dlopen(%s): %s", path, dlerror());
    plugin_describe = (describe_fn)dlsym(h, "plugin_describe");
    plugin_calls = (calls_fn)dlsym(h, "plugin_calls");
    if (plugin_describe == NULL || plugin_calls == NULL)
        fail("dlsym in plugin");
    if (dlsym(h, "no_such_symbol") != NULL)
        fail("dlsym found a missing symbol");
    const char *err = dlerror(); /* a message the loader allocated */
    if (err == NULL || strstr(err, "no_such_symbol") == NULL)
        fail("dlerror: %s", err ? err : "(null)");
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        if (pthread_create(&t[i], NULL, plugin_thread, (void *)(uintptr_t)(10 * (i + 1))) != 0)
            fail("pthread_create");
    plugin_thread((void *)(uintptr_t)5);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    if (dlclose(h) != 0)
        fail("dlclose: %s", dlerror());
    ok("dlopen");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lifecycle PATH/TO/plugin.so\n");
        return 2;
    }
    stage_before_main();
    stage_threads();
    stage_fork();
    stage_dlopen(argv[1]);
    return 0;
}
