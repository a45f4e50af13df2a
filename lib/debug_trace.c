/*
 * Debug mode's allocation backtraces (see debug_trace.h): a few return
 * addresses per block, libsmalloc's own frames left out, printed with
 * dladdr in reports; and the calling thread's stack bounds, which tell a
 * free(&local) from a foreign pointer. Only debug.c calls it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "debug_trace.h"
#include "error.h"

/* Backtraces: libsmalloc's own text, so its frames can be left out. */
static uintptr_t own_text_lo, own_text_hi;
static _Atomic int trace_ready; /* set once by sm_debug_trace_start */
static sm_tls int in_trace;

/* ---- the calling thread's stack ---------------------------------------- */

/* A pointer outside the arenas and the registry is foreign: the system
 * malloc's, or a wild one, and memory around it is not read to tell. One
 * kind of wild pointer is told apart all the same: an address in the
 * calling thread's live stack, between the current frame and the stack's
 * top (free(&local)), where no heap block can be. The top is asked of
 * pthread_getattr_np once per thread: by sm_debug_trace_start for the thread that
 * loads libsmalloc (the main thread's answer reads /proc/self/maps), by the
 * first foreign free of any other thread. It allocates, which debug mode
 * serves, so not before start-up is over. */
static sm_tls uintptr_t stack_top; /* 0: not asked yet; 1: unknown */
static sm_tls int stack_asking;

static void stack_top_ask(void)
{
    int saved = errno;
    stack_asking = 1;
    uintptr_t top = 1;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *lo;
        size_t size;
        if (pthread_attr_getstack(&attr, &lo, &size) == 0)
            top = (uintptr_t)lo + size;
        pthread_attr_destroy(&attr);
    }
    stack_asking = 0;
    stack_top = top;
    errno = saved;
}

bool sm_debug_trace_on_own_stack(uintptr_t a)
{
    if (stack_top == 0) {
        if (!atomic_load_explicit(&trace_ready, memory_order_acquire) || stack_asking)
            return false;
        stack_top_ask();
    }
    return a >= (uintptr_t)__builtin_frame_address(0) && a < stack_top;
}

/* ---- backtraces ------------------------------------------------------- */

static int find_own_text(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t me = (uintptr_t)arg;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || me < lo || me >= lo + ph->p_memsz)
            continue;
        /* Linked into the program itself: its frames are the program's
         * too, so none are left out. */
        if (info->dlpi_name != NULL && info->dlpi_name[0] != '\0') {
            own_text_lo = lo;
            own_text_hi = lo + ph->p_memsz;
        }
        return 1;
    }
    return 0;
}

void sm_debug_trace_start(const void *own_function)
{
    dl_iterate_phdr(find_own_text, (void *)(uintptr_t)own_function);
    void *frames[2];
    in_trace = 1;
    backtrace(frames, 2);
    in_trace = 0;
    atomic_store_explicit(&trace_ready, 1, memory_order_release);
    stack_top_ask(); /* the main thread's, from here rather than inside a free */
}

void sm_debug_trace_capture(void **out)
{
    memset(out, 0, SM_DEBUG_TRACE * sizeof(void *));
    if (!atomic_load_explicit(&trace_ready, memory_order_acquire) || in_trace)
        return;
    int saved = errno;
    void *frames[SM_DEBUG_TRACE + 12];
    in_trace = 1; /* an allocation inside backtrace() gets no trace */
    int n = backtrace(frames, (int)(sizeof frames / sizeof frames[0]));
    in_trace = 0;
    errno = saved;
    int i = 0;
    while (i < n && (uintptr_t)frames[i] >= own_text_lo && (uintptr_t)frames[i] < own_text_hi)
        i++;
    for (int k = 0; k < SM_DEBUG_TRACE && i < n; k++, i++)
        out[k] = frames[i];
}

void sm_debug_trace_print(void *const *trace)
{
    if (trace[0] == NULL) {
        sm_say("  allocated at: (no backtrace: allocated while libsmalloc started)");
        return;
    }
    sm_say("  allocated at:");
    for (unsigned k = 0; k < SM_DEBUG_TRACE && trace[k] != NULL; k++) {
        Dl_info info;
        /* A return address: look up the call instruction before it. */
        if (dladdr((char *)trace[k] - 1, &info) == 0 || info.dli_fname == NULL) {
            sm_say("    #%u %p", k, trace[k]);
        } else if (info.dli_sname != NULL) {
            sm_say("    #%u %p %s+0x%zx (%s)", k, trace[k], info.dli_sname,
                (size_t)((char *)trace[k] - (char *)info.dli_saddr), info.dli_fname);
        } else {
            sm_say("    #%u %p (%s+0x%zx)", k, trace[k], info.dli_fname,
                (size_t)((char *)trace[k] - (char *)info.dli_fbase));
        }
    }
}
