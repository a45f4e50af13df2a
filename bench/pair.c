/*
 * pair: N malloc(32)+free pairs and nothing else, for callgrind.sh, which
 * runs it with N and 2N under each allocator and takes
 * (Ir(2N) - Ir(N)) / N as the instructions of one pair on the fast path,
 * so start-up and exit costs cancel out.
 *
 *   pair [N [SIZE [loop]]]     (default N = 1000000, SIZE = 32)
 *
 * With "loop" it runs the same loop and stores on a static buffer without
 * calling malloc or free: callgrind.sh subtracts that baseline.
 */
#include <stdlib.h>
#include <string.h>

static unsigned char buf[4096];

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000ul;
    size_t size = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 32;
    int loop_only = argc > 3 && strcmp(argv[3], "loop") == 0;
    if (size == 0 || size > sizeof(buf))
        size = 32;

    for (unsigned long i = 0; i < n; i++) {
        unsigned char *p = loop_only ? buf : malloc(size);
        if (p == NULL)
            return 1;
        p[0] = 1;
        p[size - 1] = 2;
        /* keep the pair: the compiler may not pair up malloc and free */
        __asm__ volatile("" : : "r"(p) : "memory");
        if (!loop_only)
            free(p);
    }
    return 0;
}
