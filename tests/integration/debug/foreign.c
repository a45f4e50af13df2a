/*
 * Blocks libsmalloc did not make, handed to its malloc family in debug mode
 * (run by foreign.sh under LD_PRELOAD=libsmalloc.so SMALLOC_DEBUG=1). The
 * program knows nothing of libsmalloc; glibc's own entry points make the
 * foreign blocks, as a library that calls them directly, or a block made
 * before libsmalloc was loaded, would.
 *   foreign   free, realloc (growing, shrinking, to 0) and
 *             malloc_usable_size of glibc blocks; prints "foreign: ok"
 *             in the main thread and in a second one
 *   inside    free() of a pointer 16 bytes into a live block: must abort
 *             with debug mode's report (the checks inside the arenas stay)
 *   stack     free() of a local variable's address in a second thread:
 *             must abort with the report too (the stack is never foreign)
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t count, size_t n);

static _Atomic int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}

static int filled(const unsigned char *p, unsigned char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != c)
            return 0;
    return 1;
}

static void *free_local(void *arg)
{
    char local[32];
    void *volatile p = local;
    (void)arg;
    free(p);
    printf("stack: free(&local) returned\n");
    return NULL;
}

static void glibc_blocks(void);

static void *glibc_blocks_thread(void *arg)
{
    (void)arg;
    glibc_blocks();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: foreign foreign|inside\n");
        return 2;
    }
    /* Debug mode is on: a debug block is sized exactly. */
    void *mine = malloc(1);
    check(malloc_usable_size(mine) == 1, "debug mode on (malloc_usable_size(malloc(1)) == 1)");

    if (strcmp(argv[1], "inside") == 0) {
        char *p = malloc(32);
        free(p + 16);
        printf("inside: free(p + 16) returned\n");
        return 1;
    }

    pthread_t t;
    if (strcmp(argv[1], "stack") == 0) {
        pthread_create(&t, NULL, free_local, NULL);
        pthread_join(t, NULL);
        return 1;
    }
    glibc_blocks();
    pthread_create(&t, NULL, glibc_blocks_thread, NULL);
    pthread_join(t, NULL);
    free(mine);
    if (failures != 0)
        return 1;
    printf("foreign: ok\n");
    return 0;
}

/* Small and large glibc blocks: both sides of libsmalloc's 512 bytes. */
static void glibc_blocks(void)
{
    static const size_t sizes[] = {1, 24, 100, 512, 513, 4096, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *p = __libc_malloc(n);
        memset(p, 0x5a, n);
        check(malloc_usable_size(p) >= n, "malloc_usable_size of a glibc block");
        unsigned char *q = realloc(p, 2 * n + 100); /* grows */
        check(q != NULL && filled(q, 0x5a, n), "realloc of a glibc block keeps its bytes");
        check(malloc_usable_size(q) >= 2 * n + 100, "malloc_usable_size after realloc");
        q = realloc(q, n / 2 + 1); /* shrinks */
        check(q != NULL && filled(q, 0x5a, n / 2 + 1), "shrinking realloc keeps its bytes");
        free(q);
        free(__libc_calloc(1, n));
        check(realloc(__libc_malloc(n), 0) == NULL, "realloc(glibc block, 0) frees it");
    }
}
