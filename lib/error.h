/*
 * Reports that never allocate: format into a stack buffer, write(2) to
 * stderr. sm_fatal() is for misuse a program must not survive (invalid or
 * double free): one line naming the function and the pointer, then abort(),
 * in the spirit of glibc's "free(): invalid pointer".
 */
#ifndef SM_ERROR_H
#define SM_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "compiler.h"

/* "smalloc: <func>(): <what>: <ptr>" then abort(). */
sm_hidden void sm_fatal(const char *func, const void *p, const char *what) sm_noreturn sm_cold;

/* "smalloc: warning: ..." with a tiny printf: %s %d %u %zu %zx %p %c %%. */
sm_hidden void sm_warn(const char *fmt, ...) sm_cold __attribute__((format(printf, 1, 2)));
/* The same line to fd rather than stderr (fd < 0: nowhere). */
sm_hidden void sm_warn_to(int fd, const char *fmt, ...) sm_cold __attribute__((format(printf, 2, 3)));
/* "smalloc: ..." (reports of the debug mode), same printf. */
sm_hidden void sm_say(const char *fmt, ...) sm_cold __attribute__((format(printf, 1, 2)));

/* Same tiny printf into buf (always NUL-terminated); returns the length. */
sm_hidden size_t sm_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
sm_hidden size_t sm_snprintf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
