/*
 * realloc_strings: `arg` naive string builders that grow by realloc on
 * every append of 1..16 bytes, the way many C programs build strings. A
 * builder is freed when it reaches its target length (70% 16..128 bytes,
 * 25% up to 512, 5% up to 4096, so some cross into the large sizes) and
 * starts again. Growth in place, class-to-class moves and copies show here.
 * The first byte is checked before every free: realloc must keep contents.
 * n = appends, arg = builders.
 */
#include "../support.h"
#include "../workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct builder {
    char *s;
    size_t len;
    size_t target;
};

static size_t pick_target(struct wl_rng *rng)
{
    uint64_t pick = wl_rng_below(rng, 100);
    if (pick < 70)
        return (size_t)wl_rng_range(rng, 16, 128);
    if (pick < 95)
        return (size_t)wl_rng_range(rng, 129, 512);
    return (size_t)wl_rng_range(rng, 513, 4096);
}

static void check_and_free(struct builder *b)
{
    if (b->s[0] != 'S') {
        fprintf(stderr, "realloc_strings: contents lost by realloc\n");
        abort();
    }
    free(b->s);
    b->s = NULL;
    b->len = 0;
}

uint64_t wl_realloc_strings(const struct wl_args *a)
{
    size_t nb = a->arg ? (size_t)a->arg : 2000;
    struct builder *b = wl_map(nb * sizeof(*b));
    struct wl_rng rng;
    wl_rng_seed(&rng, a->seed, 0);
    uint64_t ops = 0;

    for (size_t i = 0; i < nb; i++)
        b[i].target = pick_target(&rng);
    for (uint64_t step = 0; step < a->n; step++) {
        struct builder *sb = &b[wl_rng_below(&rng, nb)];
        size_t k = (size_t)wl_rng_range(&rng, 1, 16);
        size_t len = sb->len + k;
        char *s = realloc(sb->s, len); /* realloc(NULL, n) is malloc(n) */
        WL_CHECK(s, "realloc_strings");
        memset(s + sb->len, 'a' + (int)(k & 15), k);
        s[0] = 'S';
        sb->s = s;
        sb->len = len;
        ops++;
        if (len >= sb->target) {
            check_and_free(sb);
            sb->target = pick_target(&rng);
            ops++;
        }
    }
    for (size_t i = 0; i < nb; i++) {
        if (b[i].s != NULL) {
            check_and_free(&b[i]);
            ops++;
        }
    }
    wl_unmap(b, nb * sizeof(*b));
    return ops;
}
