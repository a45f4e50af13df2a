/*
 * The start-up state machine (init.h), the environment options are read
 * from, the load-time constructor; the fork handlers are registered here
 * (fork.h).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "debug.h"
#include "error.h"
#include "fork.h"
#include "init.h"
#include "options.h"
#include "release.h"
#include "size_class.h"
#include "space.h"
#include "stats.h"
#include "tcache.h"

enum { INIT_NONE, INIT_RUNNING, INIT_DONE };

extern char **environ;
/* ld.so's record of the initial stack pointer, which points at argc. Weak,
 * so that a static link without it still works (the fallback is then off). */
extern void *__libc_stack_end __attribute__((weak));

static _Atomic int init_state = INIT_NONE;
static sm_tls int init_in_progress; /* this thread is the initialiser */

/* The System V initial stack: argc, argv[0..argc-1], NULL, envp..., NULL.
 * __libc_stack_end points at argc in a dynamically linked program; anything
 * that does not look like that layout (a static program, where it points
 * elsewhere) gives NULL, and the options keep their defaults. */
static char **initial_environ(void)
{
    if (&__libc_stack_end == NULL || __libc_stack_end == NULL)
        return NULL;
    const long *sp = __libc_stack_end;
    long argc = sp[0];
    if (argc < 0 || argc > (1L << 24))
        return NULL;
    char **argv = (char **)(sp + 1);
    if (argv[argc] != NULL)
        return NULL;
    return argv + argc + 1;
}

/* The environment to read SMALLOC_* from: environ, or when libc has not set
 * it yet, the one the kernel put on the initial stack. May be NULL. */
static char **init_environ(void)
{
    char **env = environ;
    return env != NULL ? env : initial_environ();
}

static void init_run(void)
{
    sm_options_init(init_environ());
    sm_space_init(sm_opt.debug);
    sm_stats_init(sm_fork_lock_all, sm_fork_unlock_all);
    if (sm_opt.alignment == 8)
        memcpy(sm_size_class_abi, sm_size_class_api, sizeof sm_size_class_abi);
    if (sm_tcache_init() != 0)
        sm_warn("no pthread key left: thread caches are not flushed at thread exit");
}

void sm_init_process(void)
{
    if (sm_likely(atomic_load_explicit(&init_state, memory_order_acquire) == INIT_DONE))
        return;
    if (init_in_progress)
        return;
    int expected = INIT_NONE;
    if (atomic_compare_exchange_strong_explicit(&init_state, &expected, INIT_RUNNING,
                                                memory_order_acq_rel, memory_order_acquire)) {
        init_in_progress = 1;
        init_run();
        atomic_store_explicit(&init_state, INIT_DONE, memory_order_release);
        sm_release_allow_start();
        sm_fork_init();
        init_in_progress = 0;
        sm_options_announce();
        return;
    }
    while (atomic_load_explicit(&init_state, memory_order_acquire) != INIT_DONE)
        sched_yield();
}

/* Load time (or, linked statically, before main): start-up for a program
 * that never allocates, so that SMALLOC_VERBOSE and SMALLOC_STATS apply to
 * it too. Usually a malloc has run start-up already and this returns at
 * once. */
__attribute__((constructor)) static void init_at_load(void)
{
    sm_init_process();
    sm_debug_start();
    sm_stats_running_start();
}
