/*
 * Options from the environment, read once at start-up (init.c) into plain
 * fields of sm_opt. One X-macro list below generates the struct, the parser
 * table, the SMALLOC_VERBOSE listing and the README table
 * (sm_options_print_table; tests/debug checks the README against it).
 *
 *   X(field, ENV NAME, kind, default, default as shown, description)
 * kinds: bool   (1/0/yes/no/on/off/true/false),
 *        uint   (decimal, K/M/G suffix),
 *        format (a bool word, or table / json: enum sm_format),
 *        string (taken as is).
 *
 * Readers on slow paths read sm_opt.<field> directly: it is written once,
 * by the initialising thread, before any block is handed out.
 *
 * A set-user-ID or set-group-ID program (getauxval(AT_SECURE) != 0, which
 * is also what makes glibc drop its MALLOC_* tunables) reads no SMALLOC_*
 * variable at all: the environment belongs to the unprivileged caller, and
 * SMALLOC_STATS_FILE would let it create or append to any file as the
 * program's owner, SMALLOC_VERBOSE would print addresses, SMALLOC_DEBUG
 * would change how the program's heap behaves. Every option keeps its
 * default there, silently (tests/debug/setuid.sh).
 */
#ifndef SM_OPTIONS_H
#define SM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"
#include "config.h"

#define SM_OPTIONS(X)                                                                          \
    X(alignment, "SMALLOC_ALIGNMENT", uint, 16, "16",                                          \
      "alignment of the replaced malloc family's blocks: 16 (glibc's, the x86-64 ABI) or 8 " \
      "(8-byte steps: a 24-byte request gets a 24-byte block)") \
    X(background, "SMALLOC_BACKGROUND", bool, true, "1",                                     \
      "a background thread (started when freed memory first waits for release, or at "        \
      "start-up for `SMALLOC_STATS_INTERVAL` and `SMALLOC_STATS_SIGNAL`) gives free "          \
      "pools, parked batches and empty arenas back to the OS once they stay unused for the "  \
      "release delay, and writes the running reports; `0`: the malloc and free slow paths "    \
      "release, when the program calls, and no running report is written")                   \
    X(debug, "SMALLOC_DEBUG", bool, false, "0",                                                \
      "debug mode: guard bytes around every block, fill patterns, checks on every free and "   \
      "realloc, freed blocks held in a quarantine; an error is reported with the block's "     \
      "allocation backtrace, then the process aborts")                                         \
    X(large_cache, "SMALLOC_LARGE_CACHE", uint, SM_LARGE_CACHE_BYTES, "2M",                    \
      "most bytes of free blocks of 513 bytes to 16 KiB a thread keeps for reuse in front of "  \
      "the system malloc: 128K, more while its share of an eighth of the bytes in use at "      \
      "those sizes is more (`0`: none)")                                                       \
    X(release_delay_ms, "SMALLOC_RELEASE_DELAY_MS", uint, 1000, "1000",                       \
      "milliseconds a free pool or a batch parked between threads stays unused before its "  \
      "memory goes back to the OS; a thread cache that saw no slow path for as long is "      \
      "emptied on its next one")                                                              \
    X(release_interval_ms, "SMALLOC_RELEASE_INTERVAL_MS", uint, 250, "250",                   \
      "milliseconds between two looks for memory that has waited the release delay; memory "  \
      "goes back between one delay and one delay plus one interval after its last use")       \
    X(stats, "SMALLOC_STATS", format, SM_FORMAT_OFF, "0",                                      \
      "print statistics when the program exits: `1` (or `table`) an aligned table, `json` "    \
      "one JSON object on one line")                                                           \
    X(stats_file, "SMALLOC_STATS_FILE", string, NULL, "stderr",                                \
      "file the statistics reports are appended to; `%p` in the name becomes the process id")  \
    X(stats_interval, "SMALLOC_STATS_INTERVAL", uint, 0, "0",                                  \
      "seconds between two statistics reports written while the program runs, by the "        \
      "background thread (`0`: none); implies `SMALLOC_STATS=table` when that is unset")       \
    X(stats_signal, "SMALLOC_STATS_SIGNAL", string, NULL, "off",                               \
      "a signal (`USR1`, `SIGUSR2`, a number) on which the background thread writes a "         \
      "statistics report; taken only while the program leaves it at its default action; "     \
      "implies `SMALLOC_STATS=table` when that is unset")                                      \
    X(verbose, "SMALLOC_VERBOSE", bool, false, "0",                                            \
      "say what libsmalloc does on stderr: version and options in force at start-up, "         \
      "one line per arena mapped or returned to the OS")

/* SMALLOC_STATS values. */
enum sm_format { SM_FORMAT_OFF, SM_FORMAT_TABLE, SM_FORMAT_JSON };

#define SM_OPTION_CTYPE_bool bool
#define SM_OPTION_CTYPE_uint size_t
#define SM_OPTION_CTYPE_format unsigned
#define SM_OPTION_CTYPE_string const char *

struct sm_options {
#define SM_OPTION_FIELD(field, name, kind, def, shown, doc) SM_OPTION_CTYPE_##kind field;
    SM_OPTIONS(SM_OPTION_FIELD)
#undef SM_OPTION_FIELD
};

extern sm_hidden struct sm_options sm_opt;

/* The value in force of the i-th option of SM_OPTIONS, for listings that
 * must follow the list by themselves (SMALLOC_VERBOSE, the statistics
 * reports). value: bool "0"/"1", uint in decimal, format "0"/"table"/
 * "json" (those three formatted into buf), string as given, NULL when
 * unset. */
enum sm_option_kind { SM_OPTION_KIND_bool, SM_OPTION_KIND_uint, SM_OPTION_KIND_format, SM_OPTION_KIND_string };
struct sm_option_value {
    const char *name;
    enum sm_option_kind kind;
    const char *value;
    char buf[24];
};
/* false when i is past the end of the list. */
sm_hidden bool sm_options_get(size_t i, struct sm_option_value *out);

/* Set once sm_options_init has filled sm_opt. */
extern sm_hidden bool sm_options_parsed;

/* Parse SMALLOC_* from env (a NULL-terminated environment, or NULL: every
 * option keeps its default); start-up passes environ or the initial stack's
 * (init.h). One warning line per unknown name or bad
 * value, which keeps its default. Nothing at all in a set-user-ID or
 * set-group-ID program (AT_SECURE, above). Never allocates. */
sm_hidden void sm_options_init(char **env);

/* With SMALLOC_VERBOSE: version and the options in force, on stderr. */
sm_hidden void sm_options_announce(void);

/* The README's options table (markdown), written to fd. */
sm_hidden void sm_options_print_table(int fd);

#endif
