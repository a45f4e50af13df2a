/*
 * A program linked against libsmalloc the way a user links it: through the
 * installed CMake package (shared and static), through pkg-config, or through
 * add_subdirectory(). tests/package builds it each way and runs it.
 *
 *   consumer VERSION MODE      MODE: override (malloc is libsmalloc's) or api
 *
 * It checks that the header, the library and the build agree on VERSION, that
 * smalloc_malloc blocks of every class are counted by smalloc_stats_get, and
 * in override mode that plain malloc's small blocks are too. Last line on
 * stdout: "library: PATH" (the libsmalloc*.so mapped, or "none" when linked
 * statically), which the script compares with the copy it meant to use.
 * Exit 0 when all checks pass, 1 with one line per failed check otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smalloc.h>

#include "../../support/loaded_library.h"

#define NBLOCKS 100

static int failures;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            fprintf(stderr, "consumer: FAILED %s: ", #cond); \
            fprintf(stderr, __VA_ARGS__);                  \
            fputc('\n', stderr);                           \
            failures++;                                    \
        }                                                  \
    } while (0)

/* Global, so the compiler must assume the stats calls can see the blocks and
 * may not drop an allocation whose result looks unused. */
static void *blocks[NBLOCKS];

static size_t total_in_use(const struct smalloc_stats *s)
{
    size_t n = 0;
    for (unsigned cls = 0; cls < SMALLOC_NCLASSES; cls++)
        n += s->classes[cls].blocks_in_use;
    return n;
}

static void check_version(const char *want)
{
    char header[64];
    snprintf(header, sizeof header, "%d.%d.%d", SMALLOC_VERSION_MAJOR, SMALLOC_VERSION_MINOR,
             SMALLOC_VERSION_PATCH);
    CHECK(strcmp(header, want) == 0, "header macros say %s, the build says %s", header, want);
    CHECK(strcmp(SMALLOC_VERSION_STRING, want) == 0, "SMALLOC_VERSION_STRING is %s, want %s",
          SMALLOC_VERSION_STRING, want);
    CHECK(strcmp(smalloc_version(), want) == 0, "smalloc_version() is %s, want %s", smalloc_version(),
          want);
}

/* NBLOCKS smalloc_malloc blocks of each class: each shows up in its class's
 * blocks_in_use, and freeing them brings the count back. */
static void check_api_classes(void)
{
    for (unsigned cls = 0; cls < SMALLOC_NCLASSES; cls++) {
        size_t size = (cls + 1) * 8;
        struct smalloc_stats before, during, after;
        smalloc_stats_get(&before);
        for (int i = 0; i < NBLOCKS; i++) {
            blocks[i] = smalloc_malloc(size);
            CHECK(blocks[i] != NULL, "smalloc_malloc(%zu) returned NULL", size);
            if (blocks[i] != NULL)
                memset(blocks[i], 0xA5, size);
        }
        smalloc_stats_get(&during);
        CHECK(during.classes[cls].block_size == size, "class %u has block size %zu, want %zu", cls,
              during.classes[cls].block_size, size);
        CHECK(during.classes[cls].blocks_in_use - before.classes[cls].blocks_in_use == NBLOCKS,
              "class %u: %zu blocks in use before, %zu after %d smalloc_malloc(%zu)", cls,
              before.classes[cls].blocks_in_use, during.classes[cls].blocks_in_use, NBLOCKS, size);
        for (int i = 0; i < NBLOCKS; i++) {
            CHECK(smalloc_usable_size(blocks[i]) == size, "smalloc_usable_size of a %zu-byte block is %zu",
                  size, smalloc_usable_size(blocks[i]));
            smalloc_free(blocks[i]);
        }
        smalloc_stats_get(&after);
        CHECK(after.classes[cls].blocks_in_use == before.classes[cls].blocks_in_use,
              "class %u: %zu blocks in use before, %zu after freeing", cls,
              before.classes[cls].blocks_in_use, after.classes[cls].blocks_in_use);
    }
}

/* With the malloc family replaced, malloc(n) for every n in 1..512 is one more
 * libsmalloc block, and a request above 512 bytes one more fallback call. */
static void check_override(void)
{
    for (size_t n = 1; n <= SMALLOC_SMALL_MAX; n++) {
        struct smalloc_stats before, during, after;
        smalloc_stats_get(&before);
        blocks[0] = malloc(n);
        CHECK(blocks[0] != NULL, "malloc(%zu) returned NULL", n);
        smalloc_stats_get(&during);
        CHECK(total_in_use(&during) == total_in_use(&before) + 1,
              "malloc(%zu): %zu blocks in use before, %zu after", n, total_in_use(&before),
              total_in_use(&during));
        free(blocks[0]);
        smalloc_stats_get(&after);
        CHECK(total_in_use(&after) == total_in_use(&before), "free of malloc(%zu): %zu blocks in use, want %zu",
              n, total_in_use(&after), total_in_use(&before));
    }
    struct smalloc_stats before, during;
    smalloc_stats_get(&before);
    blocks[0] = malloc(SMALLOC_SMALL_MAX + 1);
    CHECK(blocks[0] != NULL, "malloc(%d) returned NULL", SMALLOC_SMALL_MAX + 1);
    smalloc_stats_get(&during);
    CHECK(during.fallback_calls == before.fallback_calls + 1, "malloc(%d): %zu fallback calls, want %zu",
          SMALLOC_SMALL_MAX + 1, during.fallback_calls, before.fallback_calls + 1);
    free(blocks[0]);
}

/* The path of the libsmalloc shared object in this process, or "none". */
static void print_library(void)
{
    char found[4096];
    int readable = loaded_libsmalloc(found, sizeof found) == 0;
    CHECK(readable, "cannot open /proc/self/maps");
    if (!readable)
        return;
    printf("library: %s\n", found);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "override") != 0 && strcmp(argv[2], "api") != 0)) {
        fprintf(stderr, "usage: consumer VERSION override|api\n");
        return 2;
    }
    check_version(argv[1]);
    check_api_classes();
    if (strcmp(argv[2], "override") == 0)
        check_override();
    printf("consumer: %s, %d failures\n", smalloc_version(), failures);
    print_library();
    return failures == 0 ? 0 : 1;
}
