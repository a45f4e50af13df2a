/*
 * glibc's malloc extensions, answering for both heaps of a process that
 * runs libsmalloc (built with SMALLOC_OVERRIDE, like override.c): blocks of
 * up to 512 bytes live in libsmalloc's arenas, larger ones in glibc's heap
 * (fallback.h). glibc's own malloc_trim, mallinfo2, mallinfo, malloc_stats
 * and malloc_info see only the second, so a program that trims its heap
 * (JVM's System.trim_native_heap, Ruby's GC) or a monitoring agent reading
 * mallinfo2 would miss the small blocks entirely. Each function here adds
 * libsmalloc's part to glibc's, which it calls through the pointer found
 * once with dlsym(RTLD_NEXT) (or inside libc.so.6 when RTLD_NEXT finds
 * nothing else, e.g. libsmalloc.so linked after libc).
 *
 * malloc_trim(pad): smalloc_collect() (the calling thread's cached blocks
 * and the parked batches back to their pools; every dirty free pool
 * released with madvise, empty arenas unmapped), then glibc's
 * malloc_trim(pad). Returns 1 when either released memory: for libsmalloc,
 * when an arena was returned to the OS, or a free pool that may have been
 * resident was released (dirty pools before the call, plus the pools the
 * flush emptied, exceed the dirty pools after it; exact in a quiet
 * program, a guess while other threads free). pad concerns glibc's top
 * chunk only: libsmalloc keeps nothing back.
 *
 * mallinfo2(): glibc's figures plus libsmalloc's (smalloc_stats_get), so
 * that, as in glibc, arena = uordblks + fordblks for the non-mmapped part:
 *   arena     glibc's arena            + bytes_mapped (arenas, 1 MiB each)
 *   ordblks   glibc's free chunks      + empty pools (pools_free)
 *   smblks    glibc's fastbin chunks   + free small blocks (in pools in use
 *                                        and in the caches: free + cached)
 *   hblks     glibc's mmapped chunks   (libsmalloc's arenas are in arena)
 *   hblkhd    glibc's mmapped bytes
 *   usmblks   glibc's (always 0)
 *   fsmblks   glibc's fastbin bytes    + bytes_free_blocks
 *   uordblks  glibc's bytes in use     + bytes_in_use + bytes_headers +
 *                                        bytes_pool_tail (glibc counts its
 *                                        chunk headers as in use too)
 *   fordblks  glibc's free bytes       + bytes_free_blocks + bytes_pool_free
 *   keepcost  glibc's releasable top   + dirty free pools * 4 KiB (what
 *                                        malloc_trim would give back now)
 * mallinfo(): the same figures in int fields, each clamped to INT_MAX.
 * glibc truncates (a 5 GiB arena reads as 1 GiB, or negative); a clamped
 * value is at least never smaller than a smaller true value.
 *
 * malloc_stats(): smalloc_stats_print(stderr), then glibc's malloc_stats
 * ("Arena 0:" ..., on stderr).
 *
 * malloc_info(0, fp): glibc's XML, captured in a memory stream, with one
 * more <heap nr="N" allocator="libsmalloc"> after glibc's heaps (N = their
 * count), and the closing totals summed over both. libsmalloc's heap has a
 * <size> per class with a pool in use, from/to the sizes the class serves;
 * total and count are its free blocks (as glibc's <size> entries count free
 * chunks), and in_use_count/in_use_total its blocks held by the program.
 * Its <total type="fast"> is the free blocks, "rest" the empty pools,
 * <system> and <aspace> the arenas mapped (now, and at most). options != 0:
 * EINVAL, nothing written, as glibc.
 *
 * mallopt is not replaced: glibc's tunes glibc's heap, i.e. the requests
 * above 512 bytes (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_ARENA_MAX, ...);
 * libsmalloc's own knobs are its SMALLOC_* variables (options.h).
 */
#include <dlfcn.h>
#include <errno.h>
#include <gnu/lib-names.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smalloc.h>

#include "arena.h"
#include "compiler.h"

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 33)
#define HAVE_MALLINFO2 1
#else
#define HAVE_MALLINFO2 0
/* glibc before 2.33: the size_t form is ours alone to declare. */
struct mallinfo2 {
    size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
struct mallinfo2 mallinfo2(void);
#endif

/* ---- glibc's originals, looked up once -------------------------------- */

static struct {
    int (*trim)(size_t);
    struct mallinfo2 (*info2)(void);
    void (*stats)(void);
    int (*xml)(int, FILE *);
} glibc;
static pthread_once_t glibc_once = PTHREAD_ONCE_INIT;

/* The next definition of name after ours; inside libc.so.6 when RTLD_NEXT
 * gives nothing or ours. NULL when glibc has none (mallinfo2 before 2.33). */
static void *glibc_symbol(const char *name, void *ours)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (fn != NULL && fn != ours)
        return fn;
    void *libc = dlopen(LIBC_SO, RTLD_LAZY | RTLD_NOLOAD);
    if (libc == NULL)
        return NULL;
    fn = dlsym(libc, name);
    dlclose(libc); /* RTLD_NOLOAD took a reference; libc stays loaded */
    return fn == ours ? NULL : fn;
}

static void glibc_lookup(void)
{
    glibc.trim = (int (*)(size_t))glibc_symbol("malloc_trim", (void *)malloc_trim);
    glibc.info2 = (struct mallinfo2 (*)(void))glibc_symbol("mallinfo2", (void *)mallinfo2);
    glibc.stats = (void (*)(void))glibc_symbol("malloc_stats", (void *)malloc_stats);
    glibc.xml = (int (*)(int, FILE *))glibc_symbol("malloc_info", (void *)malloc_info);
}

static void glibc_get(void)
{
    pthread_once(&glibc_once, glibc_lookup);
}

/* ---- libsmalloc's side ------------------------------------------------ */

/* Free pools that may be resident (dirty, or being released): what
 * smalloc_collect() would madvise now. Read without the arena locks. */
static size_t dirty_pools(void)
{
    size_t n = 0;
    for (unsigned shard = 0; shard < SM_SHARDS; shard++) {
        n += atomic_load_explicit(&sm_g_arena[shard].ndirty, memory_order_relaxed);
        n += atomic_load_explicit(&sm_g_arena[shard].npurging, memory_order_relaxed);
    }
    return n;
}

static size_t free_small_blocks(const struct smalloc_stats *s)
{
    size_t n = 0;
    for (unsigned i = 0; i < SMALLOC_NCLASSES; i++)
        n += s->classes[i].free_blocks + s->classes[i].blocks_cached;
    return n;
}

/* What releases memory in smalloc_collect(), seen from outside. */
struct trim_mark {
    size_t arenas_freed, pools_in_use, dirty;
};

static void trim_mark(struct trim_mark *m)
{
    struct smalloc_stats s;
    smalloc_stats_get(&s);
    m->arenas_freed = s.arenas_freed;
    m->pools_in_use = s.pools_in_use;
    m->dirty = dirty_pools();
}

static int trim_released(const struct trim_mark *before, const struct trim_mark *after)
{
    size_t emptied = before->pools_in_use > after->pools_in_use
                         ? before->pools_in_use - after->pools_in_use : 0;
    return after->arenas_freed > before->arenas_freed || before->dirty + emptied > after->dirty;
}

/* ---- the exported functions ------------------------------------------- */

sm_public int malloc_trim(size_t pad)
{
    glibc_get();
    struct trim_mark before, after;
    trim_mark(&before);
    smalloc_collect();
    trim_mark(&after);
    int ours = trim_released(&before, &after);
    int theirs = glibc.trim != NULL ? glibc.trim(pad) : 0;
    return ours || theirs;
}

sm_public struct mallinfo2 mallinfo2(void)
{
    glibc_get();
    struct mallinfo2 m = {0};
    if (glibc.info2 != NULL)
        m = glibc.info2();
    struct smalloc_stats s;
    smalloc_stats_get(&s);
    m.arena += s.bytes_mapped;
    m.ordblks += s.pools_free;
    m.smblks += free_small_blocks(&s);
    m.fsmblks += s.bytes_free_blocks;
    m.uordblks += s.bytes_in_use + s.bytes_headers + s.bytes_pool_tail;
    m.fordblks += s.bytes_free_blocks + s.bytes_pool_free;
    m.keepcost += dirty_pools() * s.pool_size;
    return m;
}

static int clamp_int(size_t v)
{
    return v > INT_MAX ? INT_MAX : (int)v;
}

sm_public struct mallinfo mallinfo(void)
{
    struct mallinfo2 m = mallinfo2();
    return (struct mallinfo){
        .arena = clamp_int(m.arena),
        .ordblks = clamp_int(m.ordblks),
        .smblks = clamp_int(m.smblks),
        .hblks = clamp_int(m.hblks),
        .hblkhd = clamp_int(m.hblkhd),
        .usmblks = clamp_int(m.usmblks),
        .fsmblks = clamp_int(m.fsmblks),
        .uordblks = clamp_int(m.uordblks),
        .fordblks = clamp_int(m.fordblks),
        .keepcost = clamp_int(m.keepcost),
    };
}

sm_public void malloc_stats(void)
{
    glibc_get();
    smalloc_stats_print(stderr);
    if (glibc.stats != NULL)
        glibc.stats();
}

/* ---- malloc_info ------------------------------------------------------- */

/* libsmalloc's part of the closing totals. */
struct xml_totals {
    size_t fast_count, fast_size, rest_count, rest_size, current, max;
};

static void xml_heap(FILE *fp, int nr, const struct smalloc_stats *s, struct xml_totals *t)
{
    fprintf(fp, "<heap nr=\"%d\" allocator=\"libsmalloc\">\n<sizes>\n", nr);
    size_t from = 1;
    for (unsigned i = 0; i < SMALLOC_NCLASSES; i++) {
        const struct smalloc_class_stats *c = &s->classes[i];
        if (c->pools_in_use > 0) {
            size_t nfree = c->free_blocks + c->blocks_cached;
            fprintf(fp,
                    "  <size from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\""
                    " in_use_count=\"%zu\" in_use_total=\"%zu\"/>\n",
                    from, c->block_size, nfree * c->block_size, nfree, c->blocks_in_use,
                    c->blocks_in_use * c->block_size);
        }
        from = c->block_size + 1;
    }
    fputs("</sizes>\n", fp);
    t->fast_count = free_small_blocks(s);
    t->fast_size = s->bytes_free_blocks;
    t->rest_count = s->pools_free;
    t->rest_size = s->bytes_pool_free;
    t->current = s->bytes_mapped;
    t->max = s->arenas_highest * s->arena_size;
    fprintf(fp,
            "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n"
            "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
            "<system type=\"current\" size=\"%zu\"/>\n"
            "<system type=\"max\" size=\"%zu\"/>\n"
            "<aspace type=\"total\" size=\"%zu\"/>\n"
            "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
            "</heap>\n",
            t->fast_count, t->fast_size, t->rest_count, t->rest_size, t->current, t->max,
            t->current, t->current);
}

/* One line of glibc's closing totals, with libsmalloc's part added to the
 * types it has; any other line as it is. */
static void xml_total_line(FILE *fp, const char *line, size_t len, const struct xml_totals *t)
{
    char type[16];
    size_t count, size;
    if (sscanf(line, "<total type=\"%15[^\"]\" count=\"%zu\" size=\"%zu\"/>", type, &count,
               &size) == 3) {
        if (strcmp(type, "fast") == 0) {
            count += t->fast_count;
            size += t->fast_size;
        } else if (strcmp(type, "rest") == 0) {
            count += t->rest_count;
            size += t->rest_size;
        }
        fprintf(fp, "<total type=\"%s\" count=\"%zu\" size=\"%zu\"/>\n", type, count, size);
        return;
    }
    char tag[16];
    if (sscanf(line, "<%15[a-z] type=\"%15[^\"]\" size=\"%zu\"/>", tag, type, &size) == 3 &&
        (strcmp(tag, "system") == 0 || strcmp(tag, "aspace") == 0)) {
        if (strcmp(type, "max") == 0)
            size += t->max;
        else if (strcmp(type, "current") == 0 || strcmp(type, "total") == 0 ||
                 strcmp(type, "mprotect") == 0)
            size += t->current;
        fprintf(fp, "<%s type=\"%s\" size=\"%zu\"/>\n", tag, type, size);
        return;
    }
    fwrite(line, 1, len, fp);
}

/* glibc's text (NUL-terminated) with libsmalloc's heap spliced in after its
 * last </heap>; 0, or -1 when the text is not shaped as expected. */
static int xml_splice(FILE *fp, const char *text, const struct smalloc_stats *s)
{
    const char *end = NULL;
    int nheaps = 0;
    for (const char *p = strstr(text, "<heap nr="); p != NULL; p = strstr(p + 1, "<heap nr="))
        nheaps++;
    for (const char *p = strstr(text, "</heap>\n"); p != NULL; p = strstr(p + 1, "</heap>\n"))
        end = p + strlen("</heap>\n");
    if (end == NULL || strncmp(text, "<malloc", 7) != 0)
        return -1;
    fwrite(text, 1, (size_t)(end - text), fp);
    struct xml_totals t;
    xml_heap(fp, nheaps, s, &t);
    for (const char *line = end; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) + 1 : strlen(line);
        xml_total_line(fp, line, len, &t);
        line += len;
    }
    return 0;
}

sm_public int malloc_info(int options, FILE *fp)
{
    if (options != 0)
        return EINVAL;
    glibc_get();
    char *text = NULL;
    size_t len = 0;
    if (glibc.xml != NULL) {
        FILE *mem = open_memstream(&text, &len);
        if (mem != NULL) {
            int rc = glibc.xml(0, mem);
            if (fclose(mem) != 0 || rc != 0) {
                free(text);
                text = NULL;
            }
        }
    }
    struct smalloc_stats s;
    smalloc_stats_get(&s);
    if (text == NULL || xml_splice(fp, text, &s) != 0) {
        /* glibc said nothing usable: libsmalloc's heap alone. */
        struct xml_totals t;
        fputs("<malloc version=\"1\">\n", fp);
        xml_heap(fp, 0, &s, &t);
        fprintf(fp,
                "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n"
                "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
                "<total type=\"mmap\" count=\"0\" size=\"0\"/>\n"
                "<system type=\"current\" size=\"%zu\"/>\n"
                "<system type=\"max\" size=\"%zu\"/>\n"
                "<aspace type=\"total\" size=\"%zu\"/>\n"
                "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
                "</malloc>\n",
                t.fast_count, t.fast_size, t.rest_count, t.rest_size, t.current, t.max,
                t.current, t.current);
    }
    free(text);
    return 0;
}
