/*
 * Which libsmalloc shared object this process has mapped: for the programs
 * that check an installed or preloaded library is the one in use
 * (tests/package, tests/preload). Header-only, so that programs built
 * outside the test tree (the installed-package consumers) can include it
 * by its relative path.
 */
#ifndef LOADED_LIBRARY_H
#define LOADED_LIBRARY_H

#include <stdio.h>
#include <string.h>

/* The path of the first mapping of a file named libsmalloc* into found, or
 * "none"; -1 when /proc/self/maps cannot be read, else 0. */
static inline int loaded_libsmalloc(char *found, size_t len)
{
    char line[4096];
    snprintf(found, len, "none");
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL)
        return -1;
    while (fgets(line, sizeof line, maps) != NULL) {
        char *path = strchr(line, '/');
        if (path != NULL && strstr(path, "/libsmalloc") != NULL) {
            path[strcspn(path, "\n")] = '\0';
            snprintf(found, len, "%s", path);
            break;
        }
    }
    fclose(maps);
    return 0;
}

#endif
