/*
 * Allocation backtraces of the debug mode (debug_trace.c), and the calling
 * thread's stack. Called by debug.c only; allocates through backtrace()
 * and pthread_getattr_np, which debug mode serves, so used only after
 * start-up.
 */
#ifndef SM_DEBUG_TRACE_H
#define SM_DEBUG_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"

#define SM_DEBUG_TRACE 4 /* frames kept per block */

/* Once, from sm_debug_start: find libsmalloc's text (the object holding
 * own_function), run backtrace() once (it loads libgcc_s and allocates),
 * ask the calling thread's stack. Blocks allocated before have no trace. */
sm_hidden void sm_debug_trace_start(const void *own_function);

/* The caller's allocation site into out[SM_DEBUG_TRACE], innermost first,
 * zeros when unknown (before sm_debug_trace_start, or re-entered). Keeps
 * errno. */
sm_hidden void sm_debug_trace_capture(void **out);

/* "  allocated at:" and the frames, with sm_say (error.h). */
sm_hidden void sm_debug_trace_print(void *const *trace);

/* Is a in the calling thread's live stack (current frame to top)? */
sm_hidden bool sm_debug_trace_on_own_stack(uintptr_t a);

#endif
