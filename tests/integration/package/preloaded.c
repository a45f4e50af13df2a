/*
 * A plain C program that knows nothing of libsmalloc, run by tests/package
 * under the installed smalloc-run. It allocates small blocks with the
 * ordinary malloc family, checks their contents, and prints which
 * libsmalloc*.so the launcher put into it ("library: PATH" or "none"), so
 * the script can tell the installed copy from the build tree's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../support/loaded_library.h"

#define NBLOCKS 1000

static unsigned char *blocks[NBLOCKS];

int main(void)
{
    int bad = 0;
    for (int i = 0; i < NBLOCKS; i++) {
        size_t n = (size_t)(i % 512) + 1;
        blocks[i] = malloc(n);
        if (blocks[i] == NULL) {
            fprintf(stderr, "preloaded: malloc(%zu) returned NULL\n", n);
            return 1;
        }
        memset(blocks[i], i & 0xff, n);
    }
    for (int i = 0; i < NBLOCKS; i++) {
        size_t n = (size_t)(i % 512) + 1;
        for (size_t k = 0; k < n; k++)
            bad += blocks[i][k] != (unsigned char)(i & 0xff);
        free(blocks[i]);
    }
    if (bad != 0) {
        fprintf(stderr, "preloaded: %d bytes changed under the program\n", bad);
        return 1;
    }

    char found[4096];
    if (loaded_libsmalloc(found, sizeof found) != 0) {
        fprintf(stderr, "preloaded: cannot open /proc/self/maps\n");
        return 1;
    }
    printf("library: %s\n", found);
    return 0;
}
