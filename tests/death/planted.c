/*
 * A program with planted heap errors, run by the debug tests under
 * LD_PRELOAD=libsmalloc.so SMALLOC_DEBUG=1 (test_debug.c) and under
 * valgrind with a libsmalloc built for Memcheck (memcheck.sh).
 *   planted MODE
 * Each planting function prints "planted <pointer> <size>" on stderr, then
 * commits its error; the allocation is made inside the named function, so
 * a report's "allocated at" must name it (the program is linked with
 * -rdynamic so dladdr finds its symbols). Modes that plant nothing exit 0.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

/* Keep the compiler from seeing through the planted errors. */
static void *volatile sink;

static void planted(const void *p, size_t n)
{
    fprintf(stderr, "planted %p %zu\n", p, n);
}

NOINLINE void plant_overflow(size_t n)
{
    char *p = malloc(n);
    planted(p, n);
    ((volatile char *)p)[n] = 'A'; /* one byte past the end */
    free(p);
}

NOINLINE void plant_underflow(void)
{
    char *p = malloc(24);
    planted(p, 24);
    ((volatile char *)p)[-1] = 'U';
    free(p);
}

NOINLINE void plant_double_free(void)
{
    char *p = malloc(40);
    planted(p, 40);
    free(p);
    sink = p;
    free(sink);
}

NOINLINE void plant_free_stack(void)
{
    char local[32];
    sink = local;
    planted(local, 0);
    free(sink);
}

NOINLINE void plant_free_interior(void)
{
    char *p = malloc(64);
    planted(p + 16, 64);
    free(p + 16);
}

/* Write after free; the block is checked when it leaves the quarantine,
 * which the frees that follow force. */
NOINLINE void plant_write_after_free(void)
{
    char *p = malloc(24);
    planted(p, 24);
    free(p);
    ((volatile char *)p)[5] = 'X';
    for (int i = 0; i < 5000; i++) {
        sink = malloc(16);
        free(sink);
    }
}

NOINLINE void plant_realloc_overflow(void)
{
    char *p = realloc(NULL, 10);
    planted(p, 10);
    ((volatile char *)p)[10] = 'R';
    sink = realloc(p, 20);
}

/* Memcheck: a block nobody points to at exit. */
NOINLINE void plant_leak(void)
{
    char *p = malloc(32);
    memset(p, 1, 32);
    planted(p, 32);
    sink = NULL;
}

/* Memcheck: a write into a block after free (no quarantine needed). */
NOINLINE void plant_use_after_free(void)
{
    char *p = malloc(32);
    planted(p, 32);
    free(p);
    ((volatile char *)p)[8] = 'X';
}

/* Memcheck: a branch on bytes malloc never initialised. */
NOINLINE void plant_uninitialised(void)
{
    char *p = malloc(32);
    planted(p, 32);
    if (((volatile char *)p)[3] == 42)
        puts("42");
    free(p);
}

/* Every entry point, every size class and the fallback, with checks that
 * the fill patterns and sizes are as documented. Exits 1 on a mismatch. */
static int clean_run(void)
{
    int bad = 0;
    for (size_t n = 0; n <= 1100; n++) {
        unsigned char *p = malloc(n);
        unsigned char *z = calloc(1, n);
        for (size_t i = 0; i < n; i++) {
            if (z[i] != 0) {
                fprintf(stderr, "calloc(1, %zu): byte %zu is %u\n", n, i, z[i]);
                bad = 1;
                break;
            }
        }
        memset(p, 0x5a, n);
        p = realloc(p, n + 7);
        for (size_t i = 0; i < n; i++) {
            if (p[i] != 0x5a) {
                fprintf(stderr, "realloc(%zu -> %zu): byte %zu lost\n", n, n + 7, i);
                bad = 1;
                break;
            }
        }
        memset(p, 1, n + 7);
        free(z);
        free(p);
    }
    for (size_t align = 8; align <= 8192; align *= 2) {
        void *p = NULL;
        if (posix_memalign(&p, align, 100) != 0 || (uintptr_t)p % align != 0) {
            fprintf(stderr, "posix_memalign(%zu) misaligned: %p\n", align, p);
            bad = 1;
        }
        memset(p, 2, 100);
        free(p);
        p = aligned_alloc(align, align * 2);
        memset(p, 3, align * 2);
        free(p);
        p = memalign(align, 33);
        memset(p, 4, 33);
        free(p);
    }
    void *v = valloc(100);
    memset(v, 5, 100);
    free(v);
    /* Valgrind aborts on pvalloc (its own replacement refuses it). */
    if (getenv("PLANTED_NO_PVALLOC") == NULL) {
        void *pv = pvalloc(100);
        memset(pv, 6, 100);
        free(pv);
    }
    void *u = malloc(13);
    size_t usable = malloc_usable_size(u);
    free(u);
    fprintf(stderr, "usable %zu\n", usable);
    return bad;
}

/* The fill bytes of the debug mode: a new block, then the same block
 * freed (still in the quarantine, so reading it is safe there). */
static int fill_run(void)
{
    volatile unsigned char *p = malloc(24);
    unsigned new_byte = p[0], freed_byte;
    for (int i = 1; i < 24; i++)
        if (p[i] != new_byte)
            return 1;
    free((void *)p);
    freed_byte = p[0];
    for (int i = 1; i < 24; i++)
        if (p[i] != freed_byte)
            return 1;
    fprintf(stderr, "new 0x%x freed 0x%x\n", new_byte, freed_byte);
    return 0;
}

/* Hold blocks until exit, for the statistics at exit: 1000 of 40 bytes. */
static int stats_run(void)
{
    static void *held[1000];
    for (int i = 0; i < 1000; i++)
        held[i] = malloc(40);
    sink = held;
    return 0;
}

/* Map and return arenas, for SMALLOC_VERBOSE. */
static int arenas_run(void)
{
    enum { N = 3 * 2048 };
    static void *blocks[N];
    for (int i = 0; i < N; i++)
        blocks[i] = malloc(512);
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: planted MODE\n");
        return 2;
    }
    const char *m = argv[1];
    if (strcmp(m, "overflow") == 0)
        plant_overflow(13);
    else if (strcmp(m, "overflow_large") == 0)
        plant_overflow(1000);
    else if (strcmp(m, "underflow") == 0)
        plant_underflow();
    else if (strcmp(m, "double_free") == 0)
        plant_double_free();
    else if (strcmp(m, "free_stack") == 0)
        plant_free_stack();
    else if (strcmp(m, "free_interior") == 0)
        plant_free_interior();
    else if (strcmp(m, "write_after_free") == 0)
        plant_write_after_free();
    else if (strcmp(m, "realloc_overflow") == 0)
        plant_realloc_overflow();
    else if (strcmp(m, "leak") == 0)
        plant_leak();
    else if (strcmp(m, "use_after_free") == 0)
        plant_use_after_free();
    else if (strcmp(m, "uninitialised") == 0)
        plant_uninitialised();
    else if (strcmp(m, "overflow_block") == 0)
        plant_overflow(32);
    else if (strcmp(m, "fill") == 0)
        return fill_run();
    else if (strcmp(m, "clean") == 0)
        return clean_run();
    else if (strcmp(m, "stats") == 0)
        return stats_run();
    else if (strcmp(m, "arenas") == 0)
        return arenas_run();
    else {
        fprintf(stderr, "planted: unknown mode %s\n", m);
        return 2;
    }
    return 0;
}
