/*
 * The whole malloc family through the preloaded library, from a program that
 * is built without libsmalloc (it links neither the library nor its header):
 * CTest runs it with LD_PRELOAD=libsmalloc.so. The same source is also
 * built linked with libsmalloc.so and with libsmalloc.a (link-time
 * replacement), and run without LD_PRELOAD. Which allocator owns a block
 * is told from the outside: libsmalloc gives a small request exactly its
 * class size (malloc(1) -> 8 usable bytes, glibc gives 24), and glibc's own
 * malloc_usable_size, looked up inside libc.so.6, must agree with the
 * replaced one on every block that glibc made. glibc blocks come from
 * glibc's real entry points (__libc_malloc, __libc_memalign, ...), from
 * requests above 512 bytes, and from valloc/pvalloc, which libsmalloc passes
 * to glibc. That free() gave a glibc block back to glibc is seen in glibc's
 * own accounting (glibc's mallinfo2, looked up inside libc.so.6, since
 * libsmalloc's adds its own heap): its bytes in use drop by exactly the
 * block's chunk. CTest sets
 * GLIBC_TUNABLES=glibc.malloc.tcache_count=0, since glibc counts blocks
 * parked in its tcache as in use.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void __libc_free(void *);

#define SMALL_MAX 512
#define PAGE 4096

typedef size_t (*usable_fn)(void *);

/* glibc's malloc_usable_size, from libc.so.6 itself (a handle lookup does
 * not see the preloaded definition). */
/* glibc's own definition of name, from libc.so.6 itself (a handle lookup
 * does not see the preloaded one, preloaded). */
static void *glibc_own(const char *name, void *preloaded)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    cr_assert_not_null(libc, "libc.so.6 not loaded?");
    void *fn = dlsym(libc, name);
    cr_assert_not_null(fn, "no %s in libc.so.6", name);
    cr_assert_neq(fn, preloaded, "libc's %s is the preloaded one: not preloaded?", name);
    return fn;
}

static size_t glibc_usable(void *p)
{
    static usable_fn fn;
    if (fn == NULL)
        fn = (usable_fn)glibc_own("malloc_usable_size", (void *)malloc_usable_size);
    return fn(p);
}

typedef struct mallinfo2 (*mallinfo2_fn)(void);

/* Bytes glibc's malloc holds for the program (arena chunks and mmapped). */
static size_t glibc_in_use(void)
{
    static mallinfo2_fn fn;
    if (fn == NULL)
        fn = (mallinfo2_fn)glibc_own("mallinfo2", (void *)mallinfo2);
    struct mallinfo2 mi = fn();
    return mi.uordblks + mi.hblkhd;
}

/* smalloc_collect(), looked up: this program is not linked with libsmalloc
 * when it runs preloaded. */
static void collect(void)
{
    void (*fn)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "smalloc_collect");
    cr_assert_not_null(fn, "smalloc_collect not found: not preloaded?");
    fn();
}

/* free(p) of a glibc block: glibc's bytes in use drop by exactly its chunk
 * (usable bytes plus the size word; plus the prev_size word when mmapped),
 * once the large-block cache, which may keep it, is flushed. */
static void expect_free_reaches_glibc(void *p, const char *what)
{
    size_t header = (((const size_t *)p)[-1] & 2) ? 16 : 8; /* IS_MMAPPED */
    size_t chunk = glibc_usable(p) + header;
    collect();
    size_t before = glibc_in_use();
    int saved = errno = 1234;
    free(p);
    cr_assert_eq(errno, saved, "free(%s) changed errno", what);
    collect();
    size_t after = glibc_in_use();
    cr_assert_eq(before - after, chunk, "free(%s %p): glibc in use %zu -> %zu, want -%zu", what, p,
                 before, after, chunk);
}

/* What libsmalloc's malloc gives a request of n <= 512 bytes. */
#define abi_class_size malloc_block_size

/* libsmalloc made p: its usable size is a class size and glibc's
 * malloc_usable_size would be wrong for it, so it is not asked. */
static void expect_small(void *p, size_t class_size, const char *what)
{
    cr_assert_not_null(p, "%s returned NULL", what);
    cr_assert_eq(malloc_usable_size(p), class_size, "%s: usable %zu, want class size %zu", what,
                 malloc_usable_size(p), class_size);
}

/* glibc made p: the replaced malloc_usable_size forwards to glibc's. */
static void expect_glibc(void *p, size_t n, const char *what)
{
    cr_assert_not_null(p, "%s returned NULL", what);
    size_t g = glibc_usable(p);
    cr_assert_geq(g, n, "%s: glibc usable %zu < %zu", what, g, n);
    cr_assert_eq(malloc_usable_size(p), g, "%s: usable %zu, glibc says %zu", what,
                 malloc_usable_size(p), g);
}

/* Where the malloc family must come from: libsmalloc.so (preloaded or
 * linked), or, for a program linked with libsmalloc.a (FAMILY_OWNER=self),
 * the program itself: the object that holds this function. */
static const char *family_owner(void)
{
    const char *owner = getenv("FAMILY_OWNER");
    if (owner == NULL)
        return "libsmalloc";
    Dl_info self;
    cr_assert_str_eq(owner, "self");
    cr_assert_neq(dladdr((void *)family_owner, &self), 0);
    return self.dli_fname;
}

Test(family, libsmalloc_is_preloaded_and_owns_every_name)
{
    static const char *const names[] = {
        "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
        "memalign", "valloc", "pvalloc", "malloc_usable_size", "cfree", "free_sized",
        "free_aligned_sized",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *fn = dlsym(RTLD_DEFAULT, names[i]);
        cr_assert_not_null(fn, "%s not found", names[i]);
        Dl_info info;
        cr_assert_neq(dladdr(fn, &info), 0, "dladdr(%s)", names[i]);
        cr_assert_not_null(strstr(info.dli_fname, family_owner()),
                           "%s resolves to %s, not %s (run with LD_PRELOAD)", names[i],
                           info.dli_fname, family_owner());
    }
}

Test(family, malloc_every_small_size_gets_its_class)
{
    for (size_t n = 0; n <= SMALL_MAX; n++) {
        unsigned char *p = malloc(n);
        expect_small(p, abi_class_size(n), "malloc");
        if (n >= 16)
            cr_assert_eq((uintptr_t)p % 16, 0, "malloc(%zu) = %p not 16-aligned", n, (void *)p);
        else
            cr_assert_eq((uintptr_t)p % 8, 0, "malloc(%zu) = %p not 8-aligned", n, (void *)p);
        fill_pattern(p, abi_class_size(n), n);
        cr_assert_eq(check_pattern(p, abi_class_size(n), n), -1, "malloc(%zu)", n);
        free(p);
    }
}

Test(family, malloc_above_512_goes_to_glibc_and_free_gives_it_back)
{
    for (size_t n = SMALL_MAX + 1; n <= 4 * SMALL_MAX; n++) {
        void *p = malloc(n);
        expect_glibc(p, n, "malloc(>512)");
        fill_pattern(p, n, n);
        expect_free_reaches_glibc(p, "malloc(>512)");
    }
    void *big = malloc(1 << 20); /* mmapped by glibc */
    expect_glibc(big, 1 << 20, "malloc(1 MiB)");
    expect_free_reaches_glibc(big, "malloc(1 MiB)");
}

Test(family, blocks_from_glibc_entry_points_go_back_to_glibc)
{
    for (size_t n = 1; n <= 2 * SMALL_MAX; n++) {
        void *p = __libc_malloc(n);
        expect_glibc(p, n, "__libc_malloc");
        expect_free_reaches_glibc(p, "__libc_malloc");
        /* realloc of a glibc block stays with glibc, whatever the size */
        void *q = __libc_malloc(n);
        fill_pattern(q, n, n);
        void *r = realloc(q, n / 2 + 1);
        expect_glibc(r, n / 2 + 1, "realloc(__libc_malloc block, small)");
        cr_assert_eq(check_pattern(r, n / 2 + 1, n), -1, "contents lost, n %zu", n);
        expect_free_reaches_glibc(r, "realloc'd __libc_malloc block");
    }
    void *c = __libc_calloc(10, 10);
    expect_glibc(c, 100, "__libc_calloc");
    expect_free_reaches_glibc(c, "__libc_calloc");
    void *m = __libc_memalign(64, 40);
    expect_glibc(m, 40, "__libc_memalign");
    cr_assert_eq((uintptr_t)m % 64, 0);
    expect_free_reaches_glibc(m, "__libc_memalign");
    void *r = __libc_realloc(NULL, 77);
    expect_glibc(r, 77, "__libc_realloc");
    expect_free_reaches_glibc(r, "__libc_realloc");
}

Test(family, calloc_zeroes_every_small_size_and_checks_overflow)
{
    for (size_t n = 1; n <= SMALL_MAX + 64; n++) {
        unsigned char *dirty = malloc(n);
        memset(dirty, 0xa5, malloc_usable_size(dirty));
        free(dirty); /* the next request of this class gets it back */
        unsigned char *p = calloc(1, n);
        cr_assert_not_null(p);
        if (n <= SMALL_MAX)
            expect_small(p, abi_class_size(n), "calloc");
        else
            expect_glibc(p, n, "calloc(>512)");
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(p[i], 0, "calloc(1, %zu) byte %zu is %#x", n, i, p[i]);
        free(p);
    }
    errno = 0;
    cr_assert_null(calloc(SIZE_MAX / 2, 3), "calloc overflow must fail");
    cr_assert_eq(errno, ENOMEM);
}

/* The kinds of blocks a program may hold, by who makes them. */
enum kind {
    K_SMALL, K_LARGE, K_CALLOC, K_MEMALIGN_SMALL, K_MEMALIGN_PAGE, K_POSIX_MEMALIGN,
    K_ALIGNED_ALLOC, K_VALLOC, K_PVALLOC, K_REALLOCARRAY, K_LIBC_MALLOC, K_STRDUP, NKINDS
};
static const char *const kind_name[NKINDS] = {
    "malloc(40)", "malloc(3000)", "calloc(5,8)", "memalign(64,100)", "memalign(4096,100)",
    "posix_memalign(32,200)", "aligned_alloc(128,300)", "valloc(100)", "pvalloc(100)",
    "reallocarray(NULL,10,20)", "__libc_malloc(60)", "strdup",
};

/* A block of kind k, its requested size in *n, and whether libsmalloc
 * makes it. */
static void *make(enum kind k, size_t *n, int *small)
{
    void *p = NULL;
    *small = 1;
    switch (k) {
    case K_SMALL: *n = 40; p = malloc(40); break;
    case K_LARGE: *n = 3000; p = malloc(3000); *small = 0; break;
    case K_CALLOC: *n = 40; p = calloc(5, 8); break;
    case K_MEMALIGN_SMALL: *n = 100; p = memalign(64, 100); break;
    case K_MEMALIGN_PAGE: *n = 100; p = memalign(PAGE, 100); *small = 0; break;
    case K_POSIX_MEMALIGN:
        *n = 200;
        cr_assert_eq(posix_memalign(&p, 32, 200), 0);
        break;
    case K_ALIGNED_ALLOC: *n = 300; p = aligned_alloc(128, 300); break;
    case K_VALLOC: *n = 100; p = valloc(100); *small = 0; break;
    case K_PVALLOC: *n = 100; p = pvalloc(100); *small = 0; break;
    case K_REALLOCARRAY: *n = 200; p = reallocarray(NULL, 10, 20); break;
    case K_LIBC_MALLOC: *n = 60; p = __libc_malloc(60); *small = 0; break;
    case K_STRDUP: /* glibc calls the replaced malloc */
        *n = 31;
        p = strdup("thirty characters and a NUL...");
        break;
    default: break;
    }
    cr_assert_not_null(p, "%s returned NULL", kind_name[k]);
    return p;
}

Test(family, usable_size_and_free_of_every_kind)
{
    for (int k = 0; k < NKINDS; k++) {
        size_t n;
        int small;
        void *p = make((enum kind)k, &n, &small);
        if (small) {
            size_t u = malloc_usable_size(p);
            cr_assert_geq(u, n, "%s: usable %zu", kind_name[k], u);
            cr_assert_leq(u, SMALL_MAX, "%s: usable %zu is not a class", kind_name[k], u);
            cr_assert_eq(u % 8, 0, "%s: usable %zu is not a class", kind_name[k], u);
            int saved = errno = 1234;
            free(p);
            cr_assert_eq(errno, saved, "free(%s) changed errno", kind_name[k]);
            /* back in its bin: the next request of the class gets it */
            void *again = malloc(u);
            cr_assert_eq(again, p, "free(%s) did not give the block back to libsmalloc",
                         kind_name[k]);
            free(again);
        } else {
            expect_glibc(p, n, kind_name[k]);
            expect_free_reaches_glibc(p, kind_name[k]);
        }
    }
    cr_assert_eq(malloc_usable_size(NULL), 0);
}

Test(family, alignment_of_aligned_kinds)
{
    static const struct {
        int kind;
        size_t align;
    } kinds[] = {
        {K_MEMALIGN_SMALL, 64}, {K_MEMALIGN_PAGE, PAGE}, {K_POSIX_MEMALIGN, 32},
        {K_ALIGNED_ALLOC, 128}, {K_VALLOC, PAGE},
    };
    size_t n;
    int small;
    void *p;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        p = make(kinds[i].kind, &n, &small);
        cr_assert_eq((uintptr_t)p % kinds[i].align, 0, "kind %d: %p", kinds[i].kind, p);
        free(p);
    }
    p = make(K_PVALLOC, &n, &small);
    cr_assert_eq((uintptr_t)p % PAGE, 0);
    cr_assert_geq(malloc_usable_size(p), PAGE, "pvalloc rounds up to a page");
    free(p);
}

/* realloc from every kind of block to a small, a large and a zero size:
 * contents kept up to the smaller size, the result owned by the right
 * allocator (glibc blocks stay with glibc, libsmalloc blocks go wherever the
 * new size belongs), and the result freed by free. */
Test(family, realloc_every_kind_into_every_size)
{
    static const size_t sizes[] = {1, 24, 40, 200, 512, 513, 3000, 100000};
    for (int k = 0; k < NKINDS; k++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n, to = sizes[s];
            int small;
            unsigned char *p = make((enum kind)k, &n, &small);
            uint64_t seed = (uint64_t)k * 100 + s;
            fill_pattern(p, n, seed);
            unsigned char *q = realloc(p, to);
            cr_assert_not_null(q, "realloc(%s, %zu)", kind_name[k], to);
            size_t keep = n < to ? n : to;
            cr_assert_eq(check_pattern(q, keep, seed), -1, "realloc(%s, %zu) lost contents",
                         kind_name[k], to);
            if (!small)
                expect_glibc(q, to, kind_name[k]);
            else if (to <= SMALL_MAX)
                cr_assert_geq(malloc_usable_size(q), to);
            else
                expect_glibc(q, to, "small block grown past 512");
            free(q);
        }
        size_t n;
        int small;
        void *p = make((enum kind)k, &n, &small);
        cr_assert_null(realloc(p, 0), "realloc(%s, 0) frees and returns NULL", kind_name[k]);
    }
}

Test(family, realloc_within_a_class_keeps_the_block)
{
    for (size_t n = 1; n <= SMALL_MAX; n++) {
        unsigned char *p = malloc(n);
        size_t cs = abi_class_size(n);
        void *q = realloc(p, cs);
        cr_assert_eq(q, (void *)p, "realloc(%zu -> %zu) moved within class", n, cs);
        free(q);
    }
    void *r = realloc(NULL, 24);
    expect_small(r, 32, "realloc(NULL, 24)");
    free(r);
}

Test(family, reallocarray_overflow_leaves_the_block)
{
    unsigned char *p = malloc(48);
    fill_pattern(p, 48, 7);
    errno = 0;
    cr_assert_null(reallocarray(p, SIZE_MAX / 2, 4));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_eq(check_pattern(p, 48, 7), -1, "overflowing reallocarray touched the block");
    unsigned char *q = reallocarray(p, 100, 5);
    expect_small(q, 512, "reallocarray(p, 100, 5)");
    cr_assert_eq(check_pattern(q, 48, 7), -1);
    free(q);
}

Test(family, posix_memalign_every_alignment_and_size)
{
    for (size_t align = sizeof(void *); align <= PAGE; align *= 2) {
        for (size_t n = 0; n <= SMALL_MAX + 8; n++) {
            void *p = (void *)1;
            cr_assert_eq(posix_memalign(&p, align, n), 0, "align %zu n %zu", align, n);
            cr_assert_eq((uintptr_t)p % align, 0, "align %zu n %zu: %p", align, n, p);
            cr_assert_geq(malloc_usable_size(p), n);
            free(p);
        }
    }
    void *untouched = (void *)0x1234;
    cr_assert_eq(posix_memalign(&untouched, 24, 10), EINVAL);
    cr_assert_eq(posix_memalign(&untouched, 4, 10), EINVAL);
    cr_assert_eq(posix_memalign(&untouched, 0, 10), EINVAL);
    cr_assert_eq(untouched, (void *)0x1234, "*out written on failure");
}

Test(family, aligned_alloc_and_memalign_every_alignment)
{
    for (size_t align = 1; align <= PAGE; align *= 2) {
        for (size_t n = 1; n <= SMALL_MAX + 8; n++) {
            void *a = aligned_alloc(align, n);
            cr_assert_not_null(a);
            cr_assert_eq((uintptr_t)a % align, 0, "aligned_alloc(%zu, %zu) = %p", align, n, a);
            cr_assert_geq(malloc_usable_size(a), n);
            void *m = memalign(align, n);
            cr_assert_not_null(m);
            cr_assert_eq((uintptr_t)m % align, 0, "memalign(%zu, %zu) = %p", align, n, m);
            free(a);
            free(m);
        }
    }
    /* memalign rounds an alignment up to a power of two; aligned_alloc refuses it */
    void *m = memalign(24, 10);
    cr_assert_eq((uintptr_t)m % 32, 0, "memalign(24) = %p", m);
    free(m);
    errno = 0;
    cr_assert_null(aligned_alloc(24, 10));
    cr_assert_eq(errno, EINVAL);
}

Test(family, valloc_and_pvalloc_blocks_freed_realloced_and_measured)
{
    for (size_t n = 1; n <= 3 * PAGE; n += 97) {
        unsigned char *v = valloc(n);
        unsigned char *pv = pvalloc(n);
        expect_glibc(v, n, "valloc");
        expect_glibc(pv, (n + PAGE - 1) & ~(size_t)(PAGE - 1), "pvalloc");
        cr_assert_eq((uintptr_t)v % PAGE, 0);
        cr_assert_eq((uintptr_t)pv % PAGE, 0);
        fill_pattern(v, n, n);
        v = realloc(v, n + 1000);
        cr_assert_eq(check_pattern(v, n, n), -1, "realloc of a valloc block lost contents");
        expect_glibc(v, n + 1000, "realloc'd valloc block");
        expect_free_reaches_glibc(v, "realloc'd valloc block");
        expect_free_reaches_glibc(pv, "pvalloc");
    }
}

Test(family, cfree_and_sized_frees_take_every_kind)
{
    typedef void (*cfree_fn)(void *);
    typedef void (*sized_fn)(void *, size_t);
    typedef void (*aligned_sized_fn)(void *, size_t, size_t);
    cfree_fn my_cfree = (cfree_fn)dlsym(RTLD_DEFAULT, "cfree");
    sized_fn my_free_sized = (sized_fn)dlsym(RTLD_DEFAULT, "free_sized");
    aligned_sized_fn my_free_aligned_sized =
        (aligned_sized_fn)dlsym(RTLD_DEFAULT, "free_aligned_sized");
    cr_assert(my_cfree && my_free_sized && my_free_aligned_sized);
    for (int k = 0; k < NKINDS; k++) {
        size_t n;
        int small;
        my_cfree(make((enum kind)k, &n, &small));
        void *p = make((enum kind)k, &n, &small);
        my_free_sized(p, n);
        p = make((enum kind)k, &n, &small);
        my_free_aligned_sized(p, 1, n);
    }
    /* a small block given back by cfree is the next one of its class */
    void *p = malloc(40);
    my_cfree(p);
    void *q = malloc(40);
    cr_assert_eq(q, p, "cfree did not return the block to libsmalloc");
    free(q);
}

Test(family, glibc_internal_allocations_use_the_replaced_malloc)
{
    char *s = NULL;
    cr_assert_gt(asprintf(&s, "%s-%d", "block", 42), 0);
    expect_small(s, 16, "asprintf");
    free(s);
    char *line = NULL;
    size_t cap = 0;
    FILE *f = fmemopen((void *)"one line\n", 9, "r");
    cr_assert_not_null(f);
    cr_assert_eq(getline(&line, &cap, f), 9);
    cr_assert_str_eq(line, "one line\n");
    expect_small(line, abi_class_size(cap), "getline's buffer");
    fclose(f);
    free(line);
    char *real = realpath("/", NULL);
    cr_assert_str_eq(real, "/");
    expect_small(real, abi_class_size(2), "realpath");
    free(real);
}

Test(family, huge_requests_fail_with_enomem)
{
    errno = 0;
    cr_assert_null(malloc((size_t)PTRDIFF_MAX + 1));
    cr_assert_eq(errno, ENOMEM);
    void *p = malloc(16);
    errno = 0;
    cr_assert_null(realloc(p, SIZE_MAX - 4096));
    cr_assert_eq(errno, ENOMEM);
    expect_small(p, 16, "block kept by a failed realloc");
    free(p);
}
