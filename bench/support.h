/*
 * Helpers shared by the workloads: the seeded PRNG, bookkeeping memory that
 * does not come from the allocator under test, and the "touch" that keeps
 * lazy allocators honest.
 *
 * Bookkeeping (pointer tables, rings, size tables) comes from wl_map(), which
 * is mmap: it costs every allocator the same and never shows in its counters.
 * The PRNG is splitmix64 for seeding and xorshift64* for the stream, so every
 * allocator sees exactly the same sequence of requests for a given seed.
 */
#ifndef SMALLOC_BENCH_SUPPORT_H
#define SMALLOC_BENCH_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PRNG ------------------------------------------------------------- */

struct wl_rng {
    uint64_t s; /* never 0 */
};

/* splitmix64 step: turns any seed (0 included) into a well mixed word. */
static inline uint64_t wl_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Seed a stream; `stream` separates threads that share one seed. */
static inline void wl_rng_seed(struct wl_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    r->s = wl_splitmix64(&x);
    if (r->s == 0)
        r->s = 1;
}

/* xorshift64*: fast, good enough for picking sizes and slots. */
static inline uint64_t wl_rng_next(struct wl_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, n), n > 0, without modulo bias worth mentioning
 * (multiply-high: the bias is below n / 2^64). */
static inline uint64_t wl_rng_below(struct wl_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)wl_rng_next(r) * n) >> 64);
}

/* Uniform in [lo, hi], lo <= hi. */
static inline uint64_t wl_rng_range(struct wl_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + wl_rng_below(r, hi - lo + 1);
}

/* ---- touching blocks --------------------------------------------------- */

/* Tell the compiler p escapes, so a malloc/free pair is not optimised away. */
static inline void wl_escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* Write the first and the last byte of a fresh block of n > 0 bytes. */
static inline void wl_touch(void *p, size_t n)
{
    unsigned char *b = (unsigned char *)p;
    b[0] = (unsigned char)n;
    b[n - 1] = (unsigned char)(n >> 3);
    wl_escape(p);
}

/* Read the first byte back before a free: a consumer really uses the block. */
static inline unsigned wl_peek(const void *p)
{
    return *(const volatile unsigned char *)p;
}

/* ---- outside the allocator ---------------------------------------------- */

/* Zeroed bookkeeping memory from mmap; exits with a message on failure. */
void *wl_map(size_t bytes);
void wl_unmap(void *p, size_t bytes);

/* Exit with "workload: out of memory (what)" when p is NULL. Cold. */
void wl_oom(const char *what) __attribute__((noreturn, cold));
#define WL_CHECK(p, what)              \
    do {                               \
        if (__builtin_expect((p) == NULL, 0)) \
            wl_oom(what);              \
    } while (0)

/* The value in kB of the "Key:  123 kB" line of /proc/self/status
 * ("VmRSS", "VmHWM"), -1 if absent. read(2) into a stack buffer: never
 * allocates, so it is safe between a workload's calls. */
long wl_status_kb(const char *key);

/* Reset the peak RSS (VmHWM) to the current RSS through /proc/self/clear_refs
 * (Linux >= 4.0); 0 when it worked. */
int wl_reset_peak_rss(void);

/* malloc(size) (calloc when zeroed), checked and touched. */
void *wl_alloc_touched(size_t size, int zeroed, const char *what);

/* A live set of `live` blocks from alloc, then n steps that each free one
 * at random (reading it first when peek) and allocate another in its slot,
 * then everything freed. The slot table is wl_map'ed. Returns the calls
 * made: 2 * live + 2 * n. */
uint64_t wl_replace_at_random(struct wl_rng *rng, size_t live, uint64_t n,
                              void *(*alloc)(struct wl_rng *), int peek);

#define WL_MAX_THREADS 64

/* Run fn on each of nthreads jobs (job_size bytes apart from jobs) in its
 * own thread and join them; 0 when a thread could not be created (the
 * created ones are joined), with a message naming what. */
int wl_run_threads(unsigned nthreads, void *(*fn)(void *), void *jobs, size_t job_size,
                   const char *what);

/* A size drawn from the "CPython object" mix: mostly 16..64 bytes, a tail
 * up to 512 (see support.c for the table). */
size_t wl_size_python(struct wl_rng *r);

/* A size drawn from the "mixed, heavy tail" mix: 80% 8..512 bytes, 15%
 * 513..4096, 5% 4097..16384 (see support.c). */
size_t wl_size_tail(struct wl_rng *r);

#ifdef __cplusplus
}
#endif

#endif /* SMALLOC_BENCH_SUPPORT_H */
