/*
 * Process start-up. There is no constructor to rely on: malloc may be
 * called by the dynamic loader, during TLS set-up, from inside dlsym or
 * from the constructor of a library initialised before libsmalloc. So
 * start-up happens on the first slow path of an entry point (alloc.c,
 * free.c), runs once, and allocates nothing:
 *
 *   NONE --first slow path--> RUNNING --options, arena space, key--> DONE
 *
 * Other threads arriving during RUNNING wait; the initialising thread
 * re-entering (a libc call that allocates) goes through, since the arena
 * space (space.h) is picked right after the options, which allocate
 * nothing. pthread_atfork is registered after DONE: it may allocate.
 *
 * The arena space's base and size are written here, once, and read by
 * every free without a lock: start-up runs before any second thread can
 * call libsmalloc (from the first allocation, which precedes
 * pthread_create, or from the load-time constructor, which precedes main
 * and any dlopen() returning). libsmalloc's own constructor runs start-up too, so that a
 * program that never allocates still gets SMALLOC_VERBOSE and
 * SMALLOC_STATS.
 *
 * Options are read once, before the first block is handed out. libc sets
 * environ before it runs any constructor, and on glibc 2.36 nothing
 * allocates earlier (tests/preload/options.sh, early.c); should a first malloc
 * ever come before that, the environment is taken from the initial process
 * stack instead (init.c), never by allocating.
 *
 * Tear-down: there is none. Blocks freed by atexit handlers, destructors,
 * TLS destructors or libc's own clean-up after libsmalloc's destructor has
 * run are handled as before; a thread that exits flushes its cache (tcache.c).
 */
#ifndef SM_INIT_H
#define SM_INIT_H

#include <stdbool.h>

#include "compiler.h"

/* Start-up, once; returns at once when DONE, or when called again by the
 * initialising thread. Called by the entry layer only: sm_alloc_slow and
 * sm_alloc_debug_routed (alloc.h), the smalloc_stats_* functions, the
 * load-time constructor. On DONE it tells the release thread it may
 * start (sm_release_allow_start). */
sm_hidden void sm_init_process(void);

#endif
