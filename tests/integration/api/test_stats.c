/*
 * smalloc_stats_get and smalloc_stats_print through the public API: the
 * constants (arena size, pool size, block size of every class), the arena
 * counters through a life cycle, exact per-class counts after a known
 * allocation sequence, the byte breakdown adding up to the bytes mapped,
 * and the printed table saying what the snapshot says.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <smalloc.h>

static void assert_identities(const struct smalloc_stats *s, const char *when)
{
    size_t pools = 0, bytes_in_use = 0;
    for (size_t c = 0; c < SMALLOC_NCLASSES; c++) {
        const struct smalloc_class_stats *k = &s->classes[c];
        size_t nblocks = s->pool_size / k->block_size;
        cr_assert_eq(k->blocks_in_use + k->blocks_cached + k->free_blocks, k->pools_in_use * nblocks,
                     "%s: class %zu: in use %zu + cached %zu + free %zu != %zu pools * %zu blocks", when, c,
                     k->blocks_in_use, k->blocks_cached, k->free_blocks, k->pools_in_use, nblocks);
        pools += k->pools_in_use;
        bytes_in_use += k->blocks_in_use * k->block_size;
    }
    cr_assert_eq(s->pools_in_use, pools, "%s: pools_in_use %zu, classes sum to %zu", when, s->pools_in_use, pools);
    cr_assert_eq(s->bytes_in_use, bytes_in_use, "%s: bytes_in_use", when);
    cr_assert_eq(s->bytes_mapped, s->arenas_now * s->arena_size, "%s: bytes_mapped", when);
    cr_assert_eq(s->bytes_headers + s->bytes_pool_free + s->bytes_in_use + s->bytes_free_blocks + s->bytes_pool_tail,
                 s->bytes_mapped, "%s: the byte breakdown does not add up to bytes_mapped %zu", when, s->bytes_mapped);
    cr_assert_eq(s->arenas_allocated - s->arenas_freed, s->arenas_now, "%s: allocated %zu - freed %zu != now %zu",
                 when, s->arenas_allocated, s->arenas_freed, s->arenas_now);
    cr_assert_geq(s->arenas_highest, s->arenas_now, "%s: highest below now", when);
    cr_assert_leq(s->arenas_cached, s->arenas_now, "%s: more cached than mapped", when);
}

Test(stats, constants_and_identities)
{
    struct smalloc_stats s;
    smalloc_stats_get(&s);
    cr_assert_eq(s.arena_size, 1024 * 1024, "arena size %zu", s.arena_size);
    cr_assert_eq(s.pool_size, 4096, "pool size %zu", s.pool_size);
    for (size_t c = 0; c < SMALLOC_NCLASSES; c++)
        cr_assert_eq(s.classes[c].block_size, (c + 1) * 8, "class %zu block size %zu", c, s.classes[c].block_size);
    assert_identities(&s, "at start");
}

Test(stats, arena_counters_follow_a_life_cycle)
{
    enum { N = 4 * 256 * 8 }; /* 512-byte blocks for about four arenas */
    static void *blocks[N];
    struct smalloc_stats s0, s1, s2;
    smalloc_stats_get(&s0);
    for (size_t i = 0; i < N; i++)
        blocks[i] = smalloc_malloc(512);
    smalloc_stats_get(&s1);
    assert_identities(&s1, "after the mallocs");
    cr_assert_geq(s1.arenas_now, s0.arenas_now + 3, "arenas_now %zu -> %zu for 4 MiB of blocks", s0.arenas_now,
                  s1.arenas_now);
    cr_assert_geq(s1.arenas_allocated, s0.arenas_allocated + 3, "arenas_allocated");
    cr_assert_geq(s1.arenas_highest, s1.arenas_now, "arenas_highest");
    cr_assert_eq(s1.classes[63].blocks_in_use, s0.classes[63].blocks_in_use + N, "class 63 in use");
    for (size_t i = 0; i < N; i++)
        smalloc_free(blocks[i]);
    smalloc_stats_get(&s2);
    assert_identities(&s2, "after the frees");
    cr_assert_eq(s2.classes[63].blocks_in_use, s0.classes[63].blocks_in_use, "class 63 in use after the frees");
    cr_assert_geq(s2.arenas_freed, s1.arenas_freed + 2, "arenas_freed %zu -> %zu", s1.arenas_freed, s2.arenas_freed);
    cr_assert_eq(s2.arenas_highest, s1.arenas_highest, "arenas_highest must not fall");
    cr_assert_leq(s2.arenas_cached, 2, "arenas_cached %zu", s2.arenas_cached);
}

/* A known sequence on a new thread (empty thread cache): k blocks of a
 * class nobody else uses. */
struct sequence {
    size_t cls, k;
    struct smalloc_stats before, held, released;
};

static void *sequence_thread(void *arg)
{
    struct sequence *sq = arg;
    size_t size = (sq->cls + 1) * 8;
    void *blocks[200];
    smalloc_stats_get(&sq->before);
    for (size_t i = 0; i < sq->k; i++)
        blocks[i] = smalloc_malloc(size);
    smalloc_stats_get(&sq->held);
    for (size_t i = 0; i < sq->k; i++)
        smalloc_free(blocks[i]);
    smalloc_stats_get(&sq->released);
    return NULL;
}

Test(stats, exact_class_counts_after_a_known_sequence)
{
    struct sequence sq = {.cls = 45, .k = 150}; /* 368-byte blocks, 11 per pool */
    struct smalloc_stats start, end;
    smalloc_stats_get(&start);
    cr_assert_eq(start.classes[sq.cls].pools_in_use, 0, "class %zu already in use: pick another", sq.cls);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, sequence_thread, &sq), 0, "pthread_create");
    cr_assert_eq(pthread_join(t, NULL), 0, "pthread_join");
    smalloc_stats_get(&end);

    const size_t nblocks = 4096 / 368;
    const struct smalloc_class_stats *b = &sq.before.classes[sq.cls], *h = &sq.held.classes[sq.cls],
                                     *r = &sq.released.classes[sq.cls], *e = &end.classes[sq.cls];
    cr_assert_eq(b->pools_in_use + b->blocks_in_use + b->blocks_cached + b->free_blocks, 0,
                 "class %zu not untouched before", sq.cls);
    /* Held: exactly k in use; the pools were filled in order, so the
     * blocks handed out (in use + cached) fill all pools but the last. */
    cr_assert_eq(h->block_size, 368, "block size");
    cr_assert_eq(h->blocks_in_use, sq.k, "in use %zu, want %zu", h->blocks_in_use, sq.k);
    size_t out = h->blocks_in_use + h->blocks_cached;
    cr_assert_eq(h->pools_in_use, (out + nblocks - 1) / nblocks, "pools %zu for %zu blocks out", h->pools_in_use, out);
    cr_assert_eq(h->free_blocks, h->pools_in_use * nblocks - out, "free blocks %zu", h->free_blocks);
    cr_assert_lt(h->blocks_cached, nblocks * 4, "cached %zu: more than a thread cache holds", h->blocks_cached);
    cr_assert_eq(sq.held.bytes_in_use - sq.before.bytes_in_use, sq.k * 368, "bytes in use grew by %zu",
                 sq.held.bytes_in_use - sq.before.bytes_in_use);
    assert_identities(&sq.held, "blocks held");
    /* Released (by the same thread): nothing in use, the rest cached or free. */
    cr_assert_eq(r->blocks_in_use, 0, "in use %zu after freeing all", r->blocks_in_use);
    cr_assert_eq(r->blocks_cached + r->free_blocks, r->pools_in_use * nblocks, "released: cached + free");
    assert_identities(&sq.released, "blocks released");
    /* The thread exited: its cache went back to the pools. What may remain
     * cached is only what was parked for other threads (whole batches). */
    cr_assert_eq(e->blocks_in_use, 0, "in use %zu after the thread's exit", e->blocks_in_use);
    cr_assert_lt(e->blocks_cached, r->blocks_cached + 1, "the exited thread's cache was not released");
    cr_assert_eq(e->pools_in_use * nblocks, e->blocks_cached + e->free_blocks, "after exit: cached + free");
    assert_identities(&end, "after the thread's exit");
    /* smalloc_collect() drains the parked batches: the class is empty. */
    smalloc_collect();
    struct smalloc_stats collected;
    smalloc_stats_get(&collected);
    const struct smalloc_class_stats *z = &collected.classes[sq.cls];
    cr_assert(z->pools_in_use == 0 && z->blocks_in_use == 0 && z->blocks_cached == 0 && z->free_blocks == 0,
              "after smalloc_collect class %zu has %zu pools, %zu in use, %zu cached, %zu free", sq.cls,
              z->pools_in_use, z->blocks_in_use, z->blocks_cached, z->free_blocks);
    assert_identities(&collected, "after smalloc_collect");
}

Test(stats, fallback_counts_calls_and_bytes)
{
    struct smalloc_stats s0, s1;
    smalloc_stats_get(&s0);
    void *p = smalloc_malloc(1000);
    void *q = malloc(70000);
    smalloc_stats_get(&s1);
    /* 1000 bytes: the large-block cache serves it, or asks the system
     * malloc for its class size (less than 1/32 more). */
    size_t served0 = s0.fallback_calls + s0.large_cache_hits;
    size_t served1 = s1.fallback_calls + s1.large_cache_hits;
    cr_assert_eq(served1, served0 + 2, "fallback calls + cache hits %zu -> %zu", served0, served1);
    cr_assert(s1.fallback_bytes - s0.fallback_bytes <= 71000 + 1000 / 32 &&
                  s1.fallback_bytes - s0.fallback_bytes >= (s1.large_cache_hits > s0.large_cache_hits ? 70000 : 71000),
              "fallback bytes %zu -> %zu", s0.fallback_bytes, s1.fallback_bytes);
    smalloc_free(p);
    free(q);
}

/* The first number on a line after the end of label; -1 if none, -2 for n/a. */
static long long value_after(const char *line, const char *label)
{
    const char *at = strstr(line, label);
    if (at == NULL)
        return -1;
    at += strlen(label);
    while (*at == ' ')
        at++;
    if (strncmp(at, "n/a", 3) == 0)
        return -2;
    char *end;
    long long v = strtoll(at, &end, 10);
    return end == at ? -1 : v;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

Test(stats, print_shows_the_snapshot)
{
    void *keep[100];
    for (size_t i = 0; i < 100; i++)
        keep[i] = smalloc_malloc(8 * (i % 64 + 1));
    static char buf[1 << 16];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    cr_assert_not_null(f, "fmemopen");
    struct smalloc_stats s;
    smalloc_stats_get(&s); /* after fmemopen's own allocation */
    smalloc_stats_print(f);
    cr_assert_eq(fclose(f), 0, "fclose");

    /* Split into lines once; fields are then looked for in order. */
    static char *lines[4096];
    size_t nlines = 0;
    for (char *line = strtok(buf, "\n"); line != NULL && nlines < 4096; line = strtok(NULL, "\n"))
        lines[nlines++] = line;

    /* Every field of the X-macro list, in its order, with its value. */
    size_t at = 0;
#define CHECK_FIELD(field, group, label, unit, doc)                                               \
    {                                                                                             \
        const char *want_label = skip_spaces(label);                                              \
        size_t found = at;                                                                        \
        while (found < nlines && value_after(lines[found], want_label) == -1)                     \
            found++;                                                                              \
        cr_assert_lt(found, nlines, "no line for %s (\"%s\") after line %zu", #field, want_label, at); \
        long long v = value_after(lines[found], want_label);                                      \
        if (strcmp(#field, "rss_bytes") == 0) /* the process's, moves between snapshots */     \
            cr_assert_gt(v, 0, "rss_bytes: printed \"%s\"", lines[found]);                      \
        else if (s.field == SMALLOC_STATS_UNKNOWN)                                                \
            cr_assert_eq(v, -2, "%s: printed \"%s\", want n/a", #field, lines[found]);            \
        else                                                                                      \
            cr_assert_eq(v, (long long)s.field, "%s: printed \"%s\", want %zu", #field, lines[found], \
                         s.field);                                                                \
        at = found + 1;                                                                           \
    }
    SMALLOC_STATS_FIELDS(CHECK_FIELD)
#undef CHECK_FIELD

    /* Class rows: the class fields in their order, the block size first,
     * which names the class. One row per class with a pool in use. */
    enum { NFIELDS = 0
#define COUNT_FIELD(field, group, label, unit, doc) +1
        SMALLOC_CLASS_STATS_FIELDS(COUNT_FIELD)
#undef COUNT_FIELD
    };
    size_t rows = 0, classes_in_use = 0;
    for (size_t c = 0; c < SMALLOC_NCLASSES; c++)
        classes_in_use += s.classes[c].pools_in_use > 0;
    for (size_t i = 0; i < nlines; i++) {
        long long v[NFIELDS + 1];
        const char *p = lines[i];
        size_t n = 0;
        char *end;
        while (n < NFIELDS) {
            v[n] = strtoll(p, &end, 10);
            if (end == p)
                break;
            n++;
            p = end;
        }
        if (n != NFIELDS || *skip_spaces(p) != '\0')
            continue; /* not a class row */
        cr_assert(v[0] >= 8 && v[0] <= SMALLOC_SMALL_MAX && v[0] % 8 == 0, "row \"%s\": block size %lld",
                  lines[i], v[0]);
        const struct smalloc_class_stats *k = &s.classes[v[0] / 8 - 1];
        size_t j = 0;
#define CHECK_CLASS(field, group, label, unit, doc)                                            \
        cr_assert_eq(v[j], (long long)k->field, "row \"%s\": %s is %zu in the snapshot", lines[i], \
                     #field, k->field);                                                         \
        j++;
        SMALLOC_CLASS_STATS_FIELDS(CHECK_CLASS)
#undef CHECK_CLASS
        rows++;
    }
    cr_assert_eq(rows, classes_in_use, "%zu class rows, %zu classes have pools in use", rows, classes_in_use);
    cr_assert_geq(rows, 64, "the 100 blocks cover all 64 classes");
    for (size_t i = 0; i < 100; i++)
        smalloc_free(keep[i]);
}

/* A program compiled against an older, shorter struct smalloc_stats (here:
 * struct_size, the classes and the first two fields) gets those filled and
 * not one byte more: guard bytes after its copy stay as they were. */
struct old_stats {
    size_t struct_size;
    struct smalloc_class_stats classes[SMALLOC_NCLASSES];
    size_t arena_size, pool_size;
};

Test(stats, an_older_smaller_struct_is_filled_to_its_size_only)
{
    enum { GUARD = 4096 };
    static unsigned char mem[sizeof(struct old_stats) + GUARD];
    memset(mem, 0xa5, sizeof mem);
    struct old_stats *old = (struct old_stats *)mem;
    smalloc_stats_get_sized((struct smalloc_stats *)old, sizeof *old);
    for (size_t i = sizeof *old; i < sizeof mem; i++)
        cr_assert_eq(mem[i], 0xa5, "byte %zu past the caller's %zu-byte struct written", i, sizeof *old);
    cr_assert_eq(old->struct_size, sizeof *old, "struct_size %zu, want the caller's %zu", old->struct_size,
                 sizeof *old);
    cr_assert_eq(old->arena_size, 1024 * 1024, "arena_size %zu", old->arena_size);
    cr_assert_eq(old->pool_size, 4096, "pool_size %zu", old->pool_size);
    cr_assert_eq(old->classes[2].block_size, 24, "class 2 block size %zu", old->classes[2].block_size);

    /* The current header's size: all of it, struct_size says so. */
    struct smalloc_stats s;
    memset(&s, 0xa5, sizeof s);
    smalloc_stats_get(&s);
    cr_assert_eq(s.struct_size, sizeof s, "struct_size %zu, sizeof %zu", s.struct_size, sizeof s);
    cr_assert_eq(s.pid, (size_t)getpid(), "pid %zu", s.pid);
    cr_assert(s.rss_bytes > 0 && s.rss_bytes != SMALLOC_STATS_UNKNOWN, "rss_bytes %zu", s.rss_bytes);

    /* Smaller than struct_size itself: nothing is written. */
    memset(mem, 0xa5, sizeof mem);
    smalloc_stats_get_sized((struct smalloc_stats *)mem, 3);
    for (size_t i = 3; i < sizeof mem; i++)
        cr_assert_eq(mem[i], 0xa5, "byte %zu written for a 3-byte struct", i);
}

/* The report is built whole, then written with one fwrite: a stream with
 * no buffer of its own sees exactly one write. */
static size_t nwrites;
static ssize_t count_write(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    (void)buf;
    nwrites++;
    return (ssize_t)size;
}

Test(stats, print_is_one_write)
{
    cookie_io_functions_t io = {.write = count_write};
    for (int json = 0; json <= 1; json++) {
        FILE *f = fopencookie(NULL, "w", io);
        cr_assert_not_null(f, "fopencookie");
        setvbuf(f, NULL, _IONBF, 0);
        nwrites = 0;
        (json ? smalloc_stats_print_json : smalloc_stats_print)(f);
        cr_assert_eq(nwrites, 1, "%s: %zu writes", json ? "json" : "table", nwrites);
        fclose(f);
    }
}
