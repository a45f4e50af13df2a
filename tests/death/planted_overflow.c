/*
 * A planted heap overflow into a free block's link, caught by the hardened
 * build. Run under LD_PRELOAD=libsmalloc.so; uses only the malloc family.
 *
 *   planted_overflow forge     8 bytes past the end of block a overwrite the
 *                              link of its free neighbour b with the address
 *                              of a static buffer
 *   planted_overflow partial   one byte of b's link is changed (bit 5): the
 *                              link now names a neighbour of the free block
 *                              it named, a block still in use
 *
 * Then malloc twice. Default build: the first malloc returns b, the second
 * whatever the overwritten link says: the static buffer or a block the
 * program still holds: exit 3 ("corrupted"). Hardened build: malloc aborts
 * with a message before handing anything out. Exit 2: no adjacent pair
 * found (cannot happen with 512 blocks of 32 bytes in 4 KiB pools).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 512
#define SIZE 32

static char target[64] __attribute__((aligned(64)));
static unsigned char *blocks[N];

int main(int argc, char **argv)
{
    int partial = argc > 1 && strcmp(argv[1], "partial") == 0;
    for (int i = 0; i < N; i++)
        blocks[i] = malloc(SIZE);
    /* a and b adjacent, b right after a; c another block of the class. */
    int ia = -1, ib = -1;
    for (int i = 0; i < N && ia < 0; i++)
        for (int j = 0; j < N; j++)
            if (blocks[j] == blocks[i] + SIZE && i != 0 && j != 0) {
                ia = i;
                ib = j;
                break;
            }
    if (ia < 0) {
        printf("no adjacent pair of blocks\n");
        return 2;
    }
    unsigned char *a = blocks[ia], *b = blocks[ib], *c = blocks[0];
    free(c);
    free(b); /* b heads this thread's cache; its link names c */
    uintptr_t link;
    if (partial) {
        memcpy(&link, a + SIZE, sizeof link);
        link ^= SIZE; /* now names c's neighbour */
    } else {
        link = (uintptr_t)target;
    }
    memcpy(a + SIZE, &link, sizeof link); /* the overflow: past a, over b's link */
    unsigned char *x = malloc(SIZE);
    unsigned char *y = malloc(SIZE);
    if (y == (unsigned char *)target) {
        printf("corrupted: malloc returned %p, the planted address\n", (void *)y);
        return 3;
    }
    if (y == x) {
        printf("corrupted: malloc returned %p twice\n", (void *)y);
        return 3;
    }
    for (int i = 0; i < N; i++)
        if (i != ib && blocks[i] != c && y == blocks[i]) {
            printf("corrupted: malloc returned %p, a block still in use\n", (void *)y);
            return 3;
        }
    printf("not corrupted: %p %p\n", (void *)x, (void *)y);
    return 0;
}
