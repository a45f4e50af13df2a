/*
 * Options from the environment, read once at start-up (init.c) into plain
 * fields of sm_opt. One X-macro list below generates the struct, the parser
 * table, the SMALLOC_VERBOSE listing and the README table.
 *
 *   X(field, ENV NAME, kind, default, description)
 * kinds: bool (1/0/yes/no/on/off/true/false), uint (decimal, K/M/G suffix),
 *        string (taken as is).
 */
#ifndef SM_OPTIONS_H
#define SM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

#define SM_OPTIONS(X)                                                                      \
    X(alignment, "SMALLOC_ALIGNMENT", uint, 16,                                            \
      "alignment of replaced-malloc blocks of 16 bytes or more: 16 (x86-64 ABI) or 8 "     \
      "(the card's 8-byte classes)")                                                       \
    X(stats, "SMALLOC_STATS", bool, false, "print the statistics table when the program exits") \
    X(stats_file, "SMALLOC_STATS_FILE", string, NULL, "file the exit statistics go to (default stderr)") \
    X(verbose, "SMALLOC_VERBOSE", bool, false, "say what libsmalloc is doing: version, options in force")

#define SM_OPTION_CTYPE_bool bool
#define SM_OPTION_CTYPE_uint size_t
#define SM_OPTION_CTYPE_string const char *

struct sm_options {
#define SM_OPTION_FIELD(field, name, kind, def, doc) SM_OPTION_CTYPE_##kind field;
    SM_OPTIONS(SM_OPTION_FIELD)
#undef SM_OPTION_FIELD
};

extern sm_hidden struct sm_options sm_opt;

/* Parse SMALLOC_* from environ; one warning line per unknown name or bad
 * value, which keeps its default. Never allocates. */
sm_hidden void sm_options_init(void);

/* With SMALLOC_VERBOSE: version and the options in force, on stderr. */
sm_hidden void sm_options_announce(void);

#endif
