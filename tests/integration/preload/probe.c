/*
 * A small program that knows nothing of libsmalloc, for launcher.sh and
 * options.sh. It allocates a little, then does what its first argument
 * says:
 *   usable N        print "usable N U": U = malloc_usable_size of a fresh
 *                   malloc(N) (8 for malloc(1) from libsmalloc, 24 from glibc)
 *   library         print "library PATH" of the libsmalloc*.so mapped, or "none"
 *   env NAME        print "NAME=value" or "NAME unset"
 *   args A...       print each argument on its own line, in brackets
 *   early           print "early U": malloc_usable_size of the block early.c's
 *                   constructor made (probe_early only)
 *   return|exit|_exit   leave main by return, exit(0) or _exit(0)
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../support/loaded_library.h"

static void *blocks[1000];

/* Defined by early.c when probe_early links it. */
extern void *early_block __attribute__((weak));

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: probe usable N | library | env NAME | args A... | early | return | exit | _exit\n");
        return 2;
    }
    for (int i = 0; i < 1000; i++)
        blocks[i] = malloc((size_t)(i % 512) + 1);
    for (int i = 0; i < 1000; i += 2)
        free(blocks[i]);

    const char *cmd = argv[1];
    if (strcmp(cmd, "usable") == 0 && argc == 3) {
        size_t n = strtoul(argv[2], NULL, 10);
        void *p = malloc(n);
        printf("usable %zu %zu\n", n, malloc_usable_size(p));
        free(p);
    } else if (strcmp(cmd, "library") == 0) {
        char found[4096];
        if (loaded_libsmalloc(found, sizeof found) != 0)
            return 1;
        printf("library %s\n", found);
    } else if (strcmp(cmd, "env") == 0 && argc == 3) {
        const char *v = getenv(argv[2]);
        if (v != NULL)
            printf("%s=%s\n", argv[2], v);
        else
            printf("%s unset\n", argv[2]);
    } else if (strcmp(cmd, "args") == 0) {
        for (int i = 2; i < argc; i++)
            printf("[%s]\n", argv[i]);
    } else if (strcmp(cmd, "early") == 0) {
        if (&early_block == NULL || early_block == NULL)
            printf("early none\n");
        else
            printf("early %zu\n", malloc_usable_size(early_block));
    } else if (strcmp(cmd, "return") == 0) {
        printf("probe: return\n");
        return 0;
    } else if (strcmp(cmd, "exit") == 0) {
        printf("probe: exit\n");
        exit(0);
    } else if (strcmp(cmd, "_exit") == 0) {
        printf("probe: _exit\n");
        fflush(stdout);
        _exit(0);
    } else {
        fprintf(stderr, "probe: unknown command %s\n", cmd);
        return 2;
    }
    for (int i = 1; i < 1000; i += 2)
        free(blocks[i]);
    return 0;
}
