/*
 * Compiler attributes used across lib/. Nothing here generates code.
 */
#ifndef SM_COMPILER_H
#define SM_COMPILER_H

#define sm_likely(x) __builtin_expect(!!(x), 1)
#define sm_unlikely(x) __builtin_expect(!!(x), 0)
#define sm_noinline __attribute__((noinline))
#define sm_cold __attribute__((cold))
#define sm_noreturn __attribute__((noreturn))
#define sm_hidden __attribute__((visibility("hidden")))
#define sm_public __attribute__((visibility("default")))
#define sm_always_inline inline __attribute__((always_inline))
/* Initial-exec TLS: one %fs-relative load, and no allocation by the dynamic
 * loader on first access (general-dynamic TLS may call malloc). */
#define sm_tls __thread __attribute__((tls_model("initial-exec")))
#define sm_cacheline_aligned __attribute__((aligned(64)))

#ifndef SM_DEBUG
#define SM_DEBUG 0
#endif

void sm_assert_fail(const char *expr, const char *file, int line) sm_noreturn sm_cold;
#define sm_assert(e) \
    ((SM_DEBUG >= 1 && !(e)) ? sm_assert_fail(#e, __FILE__, __LINE__) : (void)0)
#define sm_assert_expensive(e) \
    ((SM_DEBUG >= 2 && !(e)) ? sm_assert_fail(#e, __FILE__, __LINE__) : (void)0)

#endif
