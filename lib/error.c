/*
 * A printf subset that writes into a caller's buffer, so that messages can
 * be produced from inside malloc without allocating.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "os.h"

typedef struct out {
    char *buf;
    size_t cap, len;
} out_t;

static void put_char(out_t *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void put_str(out_t *o, const char *s)
{
    while (*s)
        put_char(o, *s++);
}

static void put_unsigned(out_t *o, uintmax_t v, unsigned base)
{
    char digits[32];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0);
    while (n > 0)
        put_char(o, digits[--n]);
}

size_t sm_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    out_t o = {buf, cap, 0};
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put_char(&o, *f);
            continue;
        }
        f++;
        int size_t_arg = 0;
        if (*f == 'z') {
            size_t_arg = 1;
            f++;
        }
        switch (*f) {
        case 's': put_str(&o, va_arg(ap, const char *)); break;
        case 'c': put_char(&o, (char)va_arg(ap, int)); break;
        case 'd': {
            long v = size_t_arg ? (long)va_arg(ap, size_t) : va_arg(ap, int);
            if (v < 0) {
                put_char(&o, '-');
                put_unsigned(&o, (uintmax_t)(-(v + 1)) + 1, 10);
            } else {
                put_unsigned(&o, (uintmax_t)v, 10);
            }
            break;
        }
        case 'u': put_unsigned(&o, size_t_arg ? va_arg(ap, size_t) : va_arg(ap, unsigned), 10); break;
        case 'x': put_unsigned(&o, size_t_arg ? va_arg(ap, size_t) : va_arg(ap, unsigned), 16); break;
        case 'p':
            put_str(&o, "0x");
            put_unsigned(&o, (uintptr_t)va_arg(ap, void *), 16);
            break;
        case '%': put_char(&o, '%'); break;
        default: put_char(&o, '?'); break;
        }
        if (*f == '\0')
            break;
    }
    if (cap > 0)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len < cap ? o.len : (cap ? cap - 1 : 0);
}

size_t sm_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = sm_vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

void sm_fatal(const char *func, const void *p, const char *what)
{
    char line[256];
    size_t n = sm_snprintf(line, sizeof line, "smalloc: %s(): %s: %p\n", func, what, p);
    sm_os_write(STDERR_FILENO, line, n);
    abort();
}

/* prefix, the formatted text and a newline, in one write to fd. */
static void say_line(int fd, const char *prefix, const char *fmt, va_list ap)
{
    if (fd < 0)
        return;
    char line[512];
    size_t n = sm_snprintf(line, sizeof line, "%s", prefix);
    n += sm_vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    line[n++] = '\n';
    sm_os_write(fd, line, n);
}

void sm_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_line(STDERR_FILENO, "smalloc: warning: ", fmt, ap);
    va_end(ap);
}

void sm_warn_to(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_line(fd, "smalloc: warning: ", fmt, ap);
    va_end(ap);
}

void sm_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_line(STDERR_FILENO, "smalloc: ", fmt, ap);
    va_end(ap);
}

void sm_assert_fail(const char *expr, const char *file, int line)
{
    char buf[512];
    size_t n = sm_snprintf(buf, sizeof buf, "smalloc: assertion failed: %s (%s:%d)\n", expr, file, line);
    sm_os_write(STDERR_FILENO, buf, n);
    abort();
}
