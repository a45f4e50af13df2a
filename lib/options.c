/*
 * The option table generated from SM_OPTIONS (options.h), its parser, which
 * walks environ directly (getenv is fine too, but this way one pass also
 * finds misspelt SMALLOC_* names), and the listings made from it: the
 * SMALLOC_VERBOSE start-up lines, the options in every statistics report
 * (both through sm_options_get) and the README table.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <smalloc_version.h>

#include "error.h"
#include "options.h"
#include "os.h"
#include "track.h"

struct sm_options sm_opt = {
#define SM_OPTION_DEFAULT(field, name, kind, def, shown, doc) .field = def,
    SM_OPTIONS(SM_OPTION_DEFAULT)
#undef SM_OPTION_DEFAULT
};

bool sm_options_parsed;

static const struct option_desc {
    const char *name;
    enum sm_option_kind kind;
    void *field;
    const char *shown; /* the default as the README shows it */
    const char *doc;
} options[] = {
#define SM_OPTION_DESC(field, name, kind, def, shown, doc) \
    {name, SM_OPTION_KIND_##kind, &sm_opt.field, shown, doc},
    SM_OPTIONS(SM_OPTION_DESC)
#undef SM_OPTION_DESC
};

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "yes", "on", "true"};
    static const char *const no[] = {"0", "no", "off", "false"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int parse_format(const char *v, unsigned *out)
{
    bool on;
    if (strcasecmp(v, "json") == 0) {
        *out = SM_FORMAT_JSON;
        return 0;
    }
    if (strcasecmp(v, "table") == 0) {
        *out = SM_FORMAT_TABLE;
        return 0;
    }
    if (parse_bool(v, &on) != 0)
        return -1;
    *out = on ? SM_FORMAT_TABLE : SM_FORMAT_OFF;
    return 0;
}

static int parse_uint(const char *v, size_t *out)
{
    size_t n = 0;
    const char *s = v;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, (size_t)(*s - '0'), &n))
            return -1;
    }
    unsigned shift = 0;
    switch (*s) {
    case 'k': case 'K': shift = 10; s++; break;
    case 'm': case 'M': shift = 20; s++; break;
    case 'g': case 'G': shift = 30; s++; break;
    default: break;
    }
    if (*s != '\0' || (shift && n > (SIZE_MAX >> shift)))
        return -1;
    *out = n << shift;
    return 0;
}

/* Option-specific rules beyond the kind. */
static int value_allowed(const struct option_desc *o)
{
    if (o->field == &sm_opt.alignment)
        return sm_opt.alignment == 8 || sm_opt.alignment == 16;
    return 1;
}

static void parse_one(const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (eq == NULL)
        return;
    size_t len = (size_t)(eq - entry);
    const char *value = eq + 1;
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const struct option_desc *o = &options[i];
        if (strlen(o->name) != len || memcmp(o->name, entry, len) != 0)
            continue;
        int err = 0;
        switch (o->kind) {
        case SM_OPTION_KIND_bool: {
            bool saved = *(bool *)o->field;
            err = parse_bool(value, o->field);
            if (err)
                *(bool *)o->field = saved;
            break;
        }
        case SM_OPTION_KIND_uint: {
            size_t saved = *(size_t *)o->field;
            err = parse_uint(value, o->field) || !value_allowed(o);
            if (err)
                *(size_t *)o->field = saved;
            break;
        }
        case SM_OPTION_KIND_format: {
            unsigned parsed;
            err = parse_format(value, &parsed);
            if (!err)
                *(unsigned *)o->field = parsed;
            break;
        }
        case SM_OPTION_KIND_string:
            *(const char **)o->field = *value ? value : NULL;
            break;
        }
        if (err)
            sm_warn("%s=%s is not a valid value; keeping the default", o->name, value);
        return;
    }
    char name[64];
    size_t n = len < sizeof name - 1 ? len : sizeof name - 1;
    memcpy(name, entry, n);
    name[n] = '\0';
    sm_warn("unknown option %s ignored", name);
}

void sm_options_init(char **env)
{
    /* Set-user-ID or set-group-ID (or file capabilities): the environment
     * is not the program owner's to trust (options.h). */
    if (getauxval(AT_SECURE) != 0) {
        sm_options_parsed = true;
        return;
    }
    for (char **e = env; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, "SMALLOC_", 8) == 0)
            parse_one(*e);
    }
    /* Memcheck already checks every block, better than the debug mode, and
     * the debug layer's headers and patterns would need client requests of
     * their own: one or the other. */
    if (SM_TRACK_VALGRIND && sm_opt.debug) {
        sm_warn("SMALLOC_DEBUG is ignored by a build with SMALLOC_VALGRIND: run under valgrind instead");
        sm_opt.debug = false;
    }
    sm_options_parsed = true;
}

bool sm_options_get(size_t i, struct sm_option_value *out)
{
    static const char *const formats[] = {"0", "table", "json"};
    if (i >= sizeof options / sizeof options[0])
        return false;
    const struct option_desc *o = &options[i];
    out->name = o->name;
    out->kind = o->kind;
    out->value = out->buf;
    switch (o->kind) {
    case SM_OPTION_KIND_bool:
        out->value = *(bool *)o->field ? "1" : "0";
        break;
    case SM_OPTION_KIND_uint:
        sm_snprintf(out->buf, sizeof out->buf, "%zu", *(size_t *)o->field);
        break;
    case SM_OPTION_KIND_format:
        out->value = formats[*(unsigned *)o->field];
        break;
    case SM_OPTION_KIND_string:
        out->value = *(const char **)o->field;
        break;
    }
    return true;
}

void sm_options_announce(void)
{
    if (!sm_opt.verbose)
        return;
    char line[512];
    size_t n = sm_snprintf(line, sizeof line, "smalloc: libsmalloc %s, pid %d\n", SMALLOC_VERSION_STRING,
                           (int)getpid());
    sm_os_write(STDERR_FILENO, line, n);
    struct sm_option_value v;
    for (size_t i = 0; sm_options_get(i, &v); i++) {
        n = sm_snprintf(line, sizeof line, "smalloc:   %s=%s\n", v.name, v.value ? v.value : "(unset)");
        sm_os_write(STDERR_FILENO, line, n);
    }
}

void sm_options_print_table(int fd)
{
    static const char head[] = "| variable | default | meaning |\n|---|---|---|\n";
    sm_os_write(fd, head, sizeof head - 1);
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        char line[1024];
        size_t n = sm_snprintf(line, sizeof line, "| `%s` | %s | %s |\n", options[i].name,
                               options[i].shown, options[i].doc);
        sm_os_write(fd, line, n);
    }
}
