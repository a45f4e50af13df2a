/*
 * A library that lifecycle.c dlopen()s under LD_PRELOAD: its constructor and
 * destructor allocate, it hands out blocks that the program frees, and its
 * __thread variable is general-dynamic TLS, so the first access from each
 * thread makes the dynamic loader allocate that thread's TLS block with the
 * replaced malloc (from inside __tls_get_addr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *made_at_load[64];
static __thread char tls_buffer[4096];
static __thread int tls_calls;

__attribute__((constructor)) static void plugin_load(void)
{
    for (int i = 0; i < 64; i++) {
        made_at_load[i] = malloc((size_t)i * 8 + 1);
        if (made_at_load[i] == NULL)
            abort();
        memset(made_at_load[i], 'a' + i % 26, (size_t)i * 8 + 1);
    }
}

__attribute__((destructor)) static void plugin_unload(void)
{
    for (int i = 0; i < 64; i++) {
        for (size_t k = 0; k < (size_t)i * 8 + 1; k++)
            if (made_at_load[i][k] != 'a' + i % 26)
                abort();
        free(made_at_load[i]);
    }
}

/* A new string the caller frees; touches this thread's TLS block. */
char *plugin_describe(int n)
{
    tls_calls++;
    snprintf(tls_buffer, sizeof tls_buffer, "plugin call %d from a thread with %d calls", n,
             tls_calls);
    return strdup(tls_buffer);
}

/* This thread's call count: each thread has its own. */
int plugin_calls(void)
{
    return tls_calls;
}
