/*
 * Process start-up. There is no constructor to rely on: malloc may be
 * called by the dynamic loader, during TLS set-up or from inside dlsym
 * before any constructor runs. So start-up happens on the first slow path
 * (heap.c), runs once, and allocates nothing:
 *
 *   NONE --first slow path--> RUNNING --tables, options, key--> DONE
 *
 * Other threads arriving during RUNNING wait; the initialising thread
 * re-entering (a libc call that allocates) goes through, since the size
 * tables are filled first. pthread_atfork is registered after DONE: it may
 * allocate.
 */
#ifndef SM_INIT_H
#define SM_INIT_H

#include "compiler.h"

sm_hidden void sm_init_process(void);

#endif
