/*
 * libFuzzer target: the input bytes are decoded into a sequence of
 * allocator operations, each checked against a simple model of what the
 * allocator promised.
 *
 * The model keeps, per slot, the pointer, the size asked for, the usable
 * size seen and a seed; every block is filled over its whole usable size
 * with a pattern derived from its seed, so a block handed out twice, two
 * blocks that overlap, or a free-list link written into a live block shows
 * up as a pattern mismatch. Checked on every call:
 *   - small requests and moderate large ones succeed; requests above
 *     PTRDIFF_MAX and overflowing count * size fail with ENOMEM;
 *   - alignment: the class rules of include/smalloc.h (8 or 16 for the
 *     smalloc_* API, 16 from 16 bytes up for the malloc family) and the
 *     alignment asked for by the aligned functions;
 *   - usable size: exactly the class size for small blocks (realloc may
 *     give a larger class of the same table, less than twice n), >= n
 *     otherwise;
 *   - calloc memory reads zero; realloc keeps min(old usable, new) bytes;
 *   - bad alignments give EINVAL and leave *out untouched;
 *   - after the input, every block is freed and (when the fuzzer is the
 *     only user of the pools) the statistics show no block in use, and the
 *     byte accounting adds up to the bytes mapped.
 *
 * Two builds (project/CMakeLists.txt, run_fuzz.sh):
 *   FUZZ_OVERRIDE=1  libsmalloc replaces malloc: the malloc family ops
 *                    are ours, libFuzzer itself allocates from libsmalloc;
 *                    UBSan only (ASan would replace malloc itself).
 *   FUZZ_OVERRIDE=0  smalloc_* API only, under ASan + UBSan; the "malloc
 *                    family" ops allocate from the system (ASan's) malloc
 *                    and hand the blocks to smalloc_free/realloc/
 *                    usable_size: the foreign-pointer paths.
 *
 * Opcodes (one byte, then arguments; a short input just ends the run):
 *   malloc calloc realloc reallocarray posix_memalign aligned_alloc
 *   memalign free usable_size check_all burst thread free_all
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smalloc.h>

#include "support.h"

#ifndef FUZZ_OVERRIDE
#define FUZZ_OVERRIDE 0
#endif

#define NSLOTS 64
#define BURST_MAX 2048
#define THREAD_DEPTH_MAX 2

enum family { FAM_API, FAM_LIBC };

struct slot {
    unsigned char *p;
    size_t asked;    /* bytes asked for */
    size_t usable;   /* usable bytes reported when it was made */
    uint64_t seed;   /* pattern over [0, usable) */
    enum family fam;
    int ours;        /* a libsmalloc block (else the system malloc's) */
};

struct decoder {
    const uint8_t *data;
    size_t len, pos;
    int thread_depth;
};

static struct slot slots[NSLOTS];
static unsigned char *burst[BURST_MAX];
static uint64_t next_seed = 1;
static size_t libc_alignment = 16; /* SMALLOC_ALIGNMENT */

/* ---- failing loudly -------------------------------------------------- */

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fuzz_alloc: MODEL VIOLATION: %s\n", buf);
    abort();
}

/* ---- input decoding -------------------------------------------------- */

static int more(const struct decoder *d)
{
    return d->pos < d->len;
}

static uint8_t u8(struct decoder *d)
{
    return d->pos < d->len ? d->data[d->pos++] : 0;
}

static uint16_t u16(struct decoder *d)
{
    uint16_t lo = u8(d);
    return (uint16_t)(lo | (uint16_t)u8(d) << 8);
}

static const size_t edge_sizes[] = {
    0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 63, 64, 65, 255, 256, 257,
    496, 503, 504, 505, 511, 512, 513, 1024, 4095, 4096, 4097, 32768, 65536,
    SIZE_MAX, SIZE_MAX - 7, SIZE_MAX / 2, (size_t)PTRDIFF_MAX + 1,
};
#define NEDGE (sizeof edge_sizes / sizeof edge_sizes[0])

/* Mostly small sizes (the pools), some medium (the fallback), some edges. */
static size_t decode_size(struct decoder *d)
{
    uint8_t sel = u8(d);
    switch (sel >> 6) {
    case 0:
    case 1: return u16(d) % 513;
    case 2: return u16(d) % 8193;
    default: return edge_sizes[(sel & 63) % NEDGE];
    }
}

static const size_t edge_aligns[] = {
    0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 8192, 65536,
    3, 12, 24, 48, 100, 513, (size_t)1 << 63, SIZE_MAX,
};
#define NALIGN (sizeof edge_aligns / sizeof edge_aligns[0])

static size_t decode_align(struct decoder *d)
{
    size_t a = edge_aligns[u8(d) % NALIGN];
    /* ASan's memalign fails an internal CHECK on 2^63 (LLVM 14) instead of
     * returning NULL: keep that one for the builds where glibc answers. */
    if (!FUZZ_OVERRIDE && a == ((size_t)1 << 63))
        a = 65536;
    return a;
}

/* ---- patterns -------------------------------------------------------- */

/* The pattern loops are most of the target's time and carry no decisions
 * worth steering by: no coverage or comparison tracing in them (support.c,
 * fill_pattern and check_pattern, is compiled without, project/). */
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))

/* Index of the first non-zero byte of p[0, n), or -1. */
NO_COVERAGE static long nonzero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return (long)i;
    return -1;
}

static void check_slot(const struct slot *s, const char *when)
{
    long at = check_pattern(s->p, s->usable, s->seed);
    if (at >= 0)
        fail("%s: block %p (asked %zu, usable %zu) changed at byte %ld", when, (void *)s->p,
             s->asked, s->usable, at);
}

/* ---- the rules the allocator promised -------------------------------- */

/* Class size of a small request, or 0 when it goes to the system malloc. */
static size_t class_size(enum family fam, size_t n)
{
    if (n > SMALLOC_SMALL_MAX)
        return 0;
    return block_size(n, fam == FAM_LIBC ? libc_alignment : 8);
}

static size_t natural_alignment(size_t block)
{
    return block % 16 == 0 ? 16 : 8;
}

/* Largest request made: 64 slots of it stay well within memory. Larger
 * requests made are the impossible ones (above PTRDIFF_MAX), which fail. */
#define LARGEST ((size_t)65536)

/* A request that must succeed on a machine that is not out of memory. */
static int must_succeed(size_t n)
{
    return n <= LARGEST;
}

static size_t usable_of(enum family fam, void *p)
{
#if FUZZ_OVERRIDE
    if (fam == FAM_LIBC)
        return malloc_usable_size(p);
#else
    (void)fam;
#endif
    return smalloc_usable_size(p);
}

/* A new block p of n bytes: check alignment and usable size, fill it.
 * cs is the class size n maps to, or 0 for a system malloc block (usable
 * >= n). With roomier, a larger class of the same table passes too (what
 * a realloc may give), aligned as that class. */
static void adopt(struct slot *s, void *p, size_t n, enum family fam, size_t align, size_t cs,
                  int roomier, const char *what)
{
    if ((uintptr_t)p % align != 0)
        fail("%s(%zu): %p is not %zu-aligned", what, n, p, align);
    size_t usable = usable_of(fam, p);
    if (cs != 0 && roomier) {
        if (usable < cs || usable > SMALLOC_SMALL_MAX || class_size(fam, usable) != usable)
            fail("%s(%zu): usable size %zu is not a class of its table", what, n, usable);
        if (usable > cs && usable >= 2 * n)
            fail("%s(%zu): usable size %zu, twice the request or more", what, n, usable);
        if ((uintptr_t)p % natural_alignment(usable) != 0)
            fail("%s(%zu): %p is not aligned as its %zu-byte class", what, n, p, usable);
    } else if (usable < n || (cs != 0 && usable != cs)) {
        fail("%s(%zu): usable size %zu, want %s %zu", what, n, usable, cs ? "exactly" : ">=",
             cs ? cs : n);
    }
    s->p = p;
    s->asked = n;
    s->usable = usable;
    s->seed = next_seed++;
    s->fam = fam;
    s->ours = cs != 0;
    fill_pattern(s->p, usable, s->seed);
}

static void expect_failure(void *p, int err, size_t n, const char *what)
{
    if (p != NULL)
        fail("%s(%zu) succeeded, want failure", what, n);
    if (errno != err)
        fail("%s(%zu): errno %d, want %d", what, n, errno, err);
}

/* ---- operations ------------------------------------------------------ */

static void release(struct slot *s, int via_libc)
{
    if (s->p == NULL)
        return;
    check_slot(s, "before free");
#if FUZZ_OVERRIDE
    if (via_libc) {
        free(s->p);
        s->p = NULL;
        return;
    }
#else
    (void)via_libc; /* the system free must not see our blocks */
#endif
    smalloc_free(s->p);
    s->p = NULL;
}

static void op_malloc(struct decoder *d, struct slot *s, enum family fam)
{
    size_t n = decode_size(d);
    release(s, fam == FAM_LIBC);
    errno = 0;
    void *p = fam == FAM_LIBC ? malloc(n) : smalloc_malloc(n);
    if (n > PTRDIFF_MAX) {
        expect_failure(p, ENOMEM, n, "malloc");
        return;
    }
    if (p == NULL) {
        if (must_succeed(n))
            fail("malloc(%zu) failed, errno %d", n, errno);
        if (errno != ENOMEM)
            fail("malloc(%zu) failed with errno %d, want ENOMEM", n, errno);
        return;
    }
    size_t cs = FUZZ_OVERRIDE || fam == FAM_API ? class_size(fam, n) : 0;
    adopt(s, p, n, fam, cs ? natural_alignment(cs) : 16, cs, 0, "malloc");
}

static void op_calloc(struct decoder *d, struct slot *s, enum family fam)
{
    size_t count = u8(d) & 1 ? decode_size(d) : u8(d) % 9;
    size_t size = decode_size(d);
    release(s, fam == FAM_LIBC);
    size_t n;
    int overflow = __builtin_mul_overflow(count, size, &n);
    if (!overflow && n > LARGEST && n <= PTRDIFF_MAX)
        return; /* would succeed, and 64 of them exhaust the machine */
    errno = 0;
    void *p = fam == FAM_LIBC ? calloc(count, size) : smalloc_calloc(count, size);
    if (overflow || n > PTRDIFF_MAX) {
        expect_failure(p, ENOMEM, n, "calloc");
        return;
    }
    if (p == NULL) {
        if (must_succeed(n))
            fail("calloc(%zu, %zu) failed, errno %d", count, size, errno);
        return;
    }
    long at = nonzero(p, n);
    if (at >= 0)
        fail("calloc(%zu, %zu): byte %ld of %p is not zero", count, size, at, p);
    size_t cs = FUZZ_OVERRIDE || fam == FAM_API ? class_size(fam, n) : 0;
    adopt(s, p, n, fam, cs ? natural_alignment(cs) : 16, cs, 0, "calloc");
}

/* realloc and reallocarray: the result keeps min(old usable, n) bytes. */
static void op_realloc(struct decoder *d, struct slot *s, enum family fam, int array)
{
    size_t count = 1, size = decode_size(d), n = size;
    if (array) {
        count = u8(d) % 5;
        if (__builtin_mul_overflow(count, size, &n))
            n = SIZE_MAX;
    }
    /* Which table the resize uses: the smalloc_* classes, or (override)
     * the malloc family's; without the override, libc blocks go through
     * smalloc_realloc, whose small classes are the API ones. */
    enum family rfam = FUZZ_OVERRIDE ? fam : FAM_API;
    if (n > LARGEST && n <= PTRDIFF_MAX)
        return;
    if (s->p != NULL)
        check_slot(s, "before realloc");
    errno = 0;
    void *p;
    int overflow = array && __builtin_mul_overflow(count, size, &(size_t){0});
#if FUZZ_OVERRIDE
    if (fam == FAM_LIBC)
        p = array ? reallocarray(s->p, count, size) : realloc(s->p, size);
    else
#endif
        p = array ? smalloc_reallocarray(s->p, count, size) : smalloc_realloc(s->p, size);
    if (overflow || n > PTRDIFF_MAX) {
        expect_failure(p, ENOMEM, n, "realloc");
        if (s->p != NULL)
            check_slot(s, "after a failed realloc");
        return;
    }
    if (n == 0 && s->p != NULL) {
        if (p != NULL)
            fail("realloc(%p, 0) returned %p, want NULL (the block is freed)", (void *)s->p, p);
        s->p = NULL;
        return;
    }
    if (p == NULL) {
        if (must_succeed(n))
            fail("realloc(%p, %zu) failed, errno %d", (void *)s->p, n, errno);
        return;
    }
    if (s->p != NULL) {
        size_t keep = s->usable < n ? s->usable : n;
        long at = check_pattern(p, keep, s->seed);
        if (at >= 0)
            fail("realloc(%p, %zu) -> %p lost byte %ld of %zu kept", (void *)s->p, n, p, at, keep);
    }
    /* A system malloc block stays with the system malloc. */
    int foreign = s->p != NULL && !s->ours;
    size_t cs = foreign ? 0 : class_size(rfam, n);
    enum family nfam = FUZZ_OVERRIDE ? fam : foreign ? FAM_LIBC : FAM_API;
    /* A resized small block may be of a larger class of the same table
     * than n's, never less aligned: headroom given to a growing block, or
     * a block kept in place while n fills more than half of it. */
    int resized = s->p != NULL;
    s->p = NULL;
    adopt(s, p, n, nfam, cs ? natural_alignment(cs) : 16, cs, resized, "realloc");
}

/* memalign takes any alignment (rounded up to a power of two), but its
 * declaration carries alloc_align(1): a call with 3 or 0 would let the
 * compiler (and UBSan) assume a 3- or 0-aligned result. Calls go through
 * pointers that carry no attribute. */
static void *(*volatile call_memalign)(size_t, size_t) = smalloc_memalign;
static void *(*volatile call_aligned_alloc)(size_t, size_t) = smalloc_aligned_alloc;

static int power_of_two(size_t a)
{
    return a != 0 && (a & (a - 1)) == 0;
}

/* The block an aligned request of a, n gets: class size, or 0 (system). */
static size_t aligned_class(size_t a, size_t n)
{
    if (a <= 8)
        return class_size(FAM_API, n);
    if (a > SMALLOC_SMALL_MAX || n > SMALLOC_SMALL_MAX)
        return 0;
    size_t size = block_size(n, a);
    return size <= SMALLOC_SMALL_MAX ? size : 0;
}

static void op_aligned(struct decoder *d, struct slot *s, int kind)
{
    size_t align = decode_align(d);
    size_t n = decode_size(d);
    release(s, 0);
    errno = 0;
    void *p = (void *)0x5a5a; /* posix_memalign must not touch it on failure */
    int ret = 0;
    const char *what;
    size_t a = align; /* the alignment actually promised */
    int valid;
    switch (kind) {
    case 0:
        what = "posix_memalign";
        valid = power_of_two(align) && align % sizeof(void *) == 0;
#if FUZZ_OVERRIDE
        if (n & 1)
            ret = posix_memalign(&p, align, n);
        else
#endif
            ret = smalloc_posix_memalign(&p, align, n);
        if (!valid) {
            if (ret != EINVAL || p != (void *)0x5a5a)
                fail("posix_memalign(%zu, %zu) = %d, out %p: want EINVAL, out untouched", align, n,
                     ret, p);
            return;
        }
        if (ret != 0) {
            if (p != (void *)0x5a5a)
                fail("posix_memalign(%zu, %zu) failed but wrote *out", align, n);
            if (n <= PTRDIFF_MAX && must_succeed(n) && align <= 65536)
                fail("posix_memalign(%zu, %zu) failed with %d", align, n, ret);
            if (ret != ENOMEM)
                fail("posix_memalign(%zu, %zu) = %d, want ENOMEM", align, n, ret);
            return;
        }
        break;
    case 1:
        what = "aligned_alloc";
        valid = power_of_two(align);
        p = call_aligned_alloc(align, n);
        if (!valid) {
            expect_failure(p, EINVAL, n, what);
            return;
        }
        break;
    default:
        what = "memalign";
        valid = align <= ((size_t)1 << 63);
        for (a = 1; valid && a < align; a <<= 1)
            ;
        p = call_memalign(align, n);
        if (!valid) {
            expect_failure(p, EINVAL, n, what);
            return;
        }
        break;
    }
    if (p == NULL) {
        if (n <= PTRDIFF_MAX && must_succeed(n) && a <= 65536)
            fail("%s(%zu, %zu) failed, errno %d", what, align, n, errno);
        if (errno != ENOMEM && errno != EINVAL)
            fail("%s(%zu, %zu): errno %d", what, align, n, errno);
        return;
    }
    if (n > PTRDIFF_MAX)
        fail("%s(%zu, %zu) succeeded", what, align, n);
    size_t cs = aligned_class(a, n);
    size_t want_align = a < 8 ? 8 : a;
    if (cs != 0 && natural_alignment(cs) > want_align)
        want_align = natural_alignment(cs);
    adopt(s, p, n, FAM_API, cs ? want_align : (a < 16 ? 16 : a), cs, 0, what);
}

static void op_usable(struct slot *s)
{
    if (s->p == NULL) {
        if (smalloc_usable_size(NULL) != 0)
            fail("usable_size(NULL) != 0");
        return;
    }
    size_t u = usable_of(s->fam, s->p);
    if (u != s->usable)
        fail("usable size of %p changed from %zu to %zu", (void *)s->p, s->usable, u);
    check_slot(s, "usable_size");
}

/* Many blocks of one size at once: refills, bin flushes, pools that fill
 * and empty. Freed in the order the input picks. */
static void op_burst(struct decoder *d)
{
    size_t count = 1 + u16(d) % BURST_MAX;
    size_t n = u16(d) % 513;
    uint8_t order = u8(d);
    int libc = FUZZ_OVERRIDE && (order & 8);
    size_t cs = class_size(libc ? FAM_LIBC : FAM_API, n);
    uint64_t seed = next_seed;
    next_seed += count;
    for (size_t i = 0; i < count; i++) {
        burst[i] = libc ? malloc(n) : smalloc_malloc(n);
        if (burst[i] == NULL)
            fail("burst malloc(%zu) #%zu failed", n, i);
        if ((uintptr_t)burst[i] % natural_alignment(cs) != 0)
            fail("burst malloc(%zu) = %p misaligned", n, (void *)burst[i]);
        fill_pattern(burst[i], cs, seed + i);
    }
    for (size_t k = 0; k < count; k++) {
        size_t i;
        switch (order & 3) {
        case 0: i = k; break;
        case 1: i = count - 1 - k; break;
        case 2: i = k < (count + 1) / 2 ? 2 * k : 2 * (k - (count + 1) / 2) + 1; break;
        default: i = (k * 7919) % count; break; /* 7919 is a prime > BURST_MAX */
        }
        long at = check_pattern(burst[i], cs, seed + i);
        if (at >= 0)
            fail("burst block %zu (%p, %zu bytes) changed at byte %ld", i, (void *)burst[i], n, at);
        smalloc_free(burst[i]);
    }
}

static void run(struct decoder *d, size_t budget);

struct thread_arg {
    struct decoder *d;
    size_t budget;
};

static void *thread_main(void *arg)
{
    struct thread_arg *t = arg;
    run(t->d, t->budget);
    return NULL;
}

/* The next few operations run in a new thread, which then exits (its cache
 * is flushed); blocks made there are freed by others and vice versa. */
static void op_thread(struct decoder *d)
{
    size_t budget = 1 + u8(d) % 32;
    if (d->thread_depth >= THREAD_DEPTH_MAX)
        return;
    d->thread_depth++;
    struct thread_arg t = {d, budget};
    pthread_t tid;
    if (pthread_create(&tid, NULL, thread_main, &t) != 0)
        fail("pthread_create");
    pthread_join(tid, NULL);
    d->thread_depth--;
}

static void free_all(void)
{
    for (int i = 0; i < NSLOTS; i++)
        release(&slots[i], slots[i].fam == FAM_LIBC && (i & 1));
}

static void run(struct decoder *d, size_t budget)
{
    while (more(d) && budget-- > 0) {
        uint8_t op = u8(d);
        struct slot *s = &slots[u8(d) % NSLOTS];
        enum family fam = (op & 0x80) ? FAM_LIBC : FAM_API;
        switch ((op & 0x7f) % 14) {
        case 0: op_malloc(d, s, fam); break;
        case 1: op_calloc(d, s, fam); break;
        case 2: op_realloc(d, s, fam, 0); break;
        case 3: op_realloc(d, s, fam, 1); break;
        case 4: op_aligned(d, s, 0); break;
        case 5: op_aligned(d, s, 1); break;
        case 6: op_aligned(d, s, 2); break;
        case 7: release(s, fam == FAM_LIBC); break;
        case 8: op_usable(s); break;
        case 9:
            for (int i = 0; i < NSLOTS; i++)
                if (slots[i].p != NULL)
                    check_slot(&slots[i], "check_all");
            break;
        case 10: op_burst(d); break;
        case 11: op_thread(d); break;
        case 12: free_all(); break;
        default: op_malloc(d, s, fam); break;
        }
    }
}

/* After an input: no block of ours is in use (only the fuzzer uses the
 * pools without the override), and the byte accounting adds up. */
static void check_stats(void)
{
    struct smalloc_stats st;
    smalloc_stats_get(&st);
    size_t parts = st.bytes_headers + st.bytes_pool_free + st.bytes_in_use +
                   st.bytes_free_blocks + st.bytes_pool_tail;
    if (parts != st.bytes_mapped)
        fail("stats: parts add up to %zu, bytes mapped %zu", parts, st.bytes_mapped);
    if (!FUZZ_OVERRIDE && st.bytes_in_use != 0)
        fail("stats: %zu bytes still in use after every block was freed", st.bytes_in_use);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *a = getenv("SMALLOC_ALIGNMENT");
    if (a != NULL && strcmp(a, "8") == 0)
        libc_alignment = 8;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    struct decoder d = {data, len, 0, 0};
    run(&d, (size_t)-1);
    free_all();
    check_stats();
    return 0;
}
