/*
 * SMALLOC_DEBUG=1: each planted error of tests/death/planted.c, run under
 * LD_PRELOAD of the built libsmalloc.so, must abort with a report that names
 * the error, the pointer, the size requested, the byte offset hit and the
 * function that allocated the block; clean runs must print nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support.h"

struct planted_run {
    const char *mode;
    int debug; /* SMALLOC_DEBUG=1, else no option */
};

static void exec_planted(void *arg)
{
    const struct planted_run *r = arg;
    char *argv[] = {PLANTED_PATH, (char *)r->mode, NULL};
    char *debug_env[] = {"LD_PRELOAD=" LIBSMALLOC_PATH, "SMALLOC_DEBUG=1", NULL};
    char *plain_env[] = {"LD_PRELOAD=" LIBSMALLOC_PATH, NULL};
    execve(PLANTED_PATH, argv, r->debug ? debug_env : plain_env);
    _exit(127);
}

/* Runs a planted error; returns the "planted <pointer> <size>" the helper
 * printed first, as "<pointer>" in ptr. */
static void run_planted(const char *mode, struct captured *c, char *ptr, size_t *size)
{
    struct planted_run r = {mode, 1};
    fork_and_capture(exec_planted, &r, c);
    cr_assert_eq(c->exit_code, 0, "planted %s exited with %d; stderr:\n%s", mode, c->exit_code,
                 c->err);
    cr_assert_eq(c->signal, SIGABRT, "planted %s: signal %d, expected SIGABRT; stderr:\n%s", mode,
                 c->signal, c->err);
    cr_assert_eq(sscanf(c->err, "planted %63s %zu", ptr, size), 2,
                 "planted %s printed no pointer; stderr:\n%s", mode, c->err);
}

static void expect_text(const struct captured *c, const char *mode, const char *text)
{
    cr_assert(strstr(c->err, text) != NULL, "planted %s: report lacks \"%s\"; stderr:\n%s", mode,
              text, c->err);
}

/* The report's block line and the allocation site. */
static void expect_block(const struct captured *c, const char *mode, const char *ptr, size_t size,
                         const char *allocator)
{
    char line[160];
    snprintf(line, sizeof line, "smalloc:   pointer %s, %zu bytes requested\n", ptr, size);
    expect_text(c, mode, line);
    expect_text(c, mode, "smalloc:   allocated at:\n");
    snprintf(line, sizeof line, " %s+0x", allocator);
    const char *at = strstr(c->err, "allocated at:");
    cr_assert(at != NULL && strstr(at, line) != NULL,
              "planted %s: the allocation backtrace does not name %s; stderr:\n%s", mode,
              allocator, c->err);
}

/* A planted error and what its report must say: the first line, the block
 * (size requested and the allocating function) or, for a pointer that is
 * no block, the pointer line, and the byte hit when there is one. */
struct expected_report {
    const char *mode;
    const char *what;       /* text of the first report line */
    size_t size;            /* bytes requested; 0: no block line */
    const char *allocator;  /* function named in the allocation backtrace */
    const char *offset;     /* "smalloc:   byte offset ..." line, or NULL */
};

static void expect_report(const struct expected_report *e)
{
    struct captured c;
    char ptr[64], line[160];
    size_t size;
    run_planted(e->mode, &c, ptr, &size);
    expect_text(&c, e->mode, e->what);
    if (e->size != 0) {
        cr_assert_eq(size, e->size, "planted %s: %zu bytes, want %zu", e->mode, size, e->size);
        expect_block(&c, e->mode, ptr, e->size, e->allocator);
    } else {
        snprintf(line, sizeof line, "smalloc:   pointer %s\n", ptr);
        expect_text(&c, e->mode, line);
    }
    if (e->offset != NULL)
        expect_text(&c, e->mode, e->offset);
}

/* What each planted error's report says. */
static const struct expected_report reports[] = {
#define OVERFLOW_SMALL 0
    {"overflow", "smalloc: debug: free(): buffer overflow: a guard byte after the block was overwritten\n",
     13, "plant_overflow", "smalloc:   byte offset 13: 0x41 found, 0xfd expected\n"},
#define OVERFLOW_LARGE 1
    {"overflow_large", "smalloc: debug: free(): buffer overflow: ", 1000, "plant_overflow",
     "smalloc:   byte offset 1000: 0x41 found, 0xfd expected\n"},
#define UNDERFLOW 2
    {"underflow", "smalloc: debug: free(): buffer underflow: a guard byte before the block was overwritten\n",
     24, "plant_underflow", "smalloc:   byte offset -1: 0x55 found, 0xfd expected\n"},
#define DOUBLE_FREE 3
    {"double_free", "smalloc: debug: free(): double free (the block was already freed)\n", 40,
     "plant_double_free", NULL},
#define FREE_STACK 4
    {"free_stack", "smalloc: debug: free(): pointer not returned by libsmalloc (no live block starts there)\n",
     0, NULL, NULL},
#define FREE_INTERIOR 5
    {"free_interior", "smalloc: debug: free(): pointer not returned by libsmalloc", 0, NULL, NULL},
#define WRITE_AFTER_FREE 6
    {"write_after_free",
     "smalloc: debug: free(): write to freed memory (found when the block left the quarantine)\n", 24,
     "plant_write_after_free", "smalloc:   byte offset 5: 0x58 found, 0xdd expected\n"},
#define REALLOC_OVERFLOW 7
    {"realloc_overflow", "smalloc: debug: realloc(): buffer overflow: ", 10, "plant_realloc_overflow",
     "smalloc:   byte offset 10: 0x52 found, 0xfd expected\n"},
};

Test(debug, overflow_by_one_byte_of_a_small_block) { expect_report(&reports[OVERFLOW_SMALL]); }
Test(debug, overflow_by_one_byte_of_a_large_block) { expect_report(&reports[OVERFLOW_LARGE]); }
Test(debug, underflow_by_one_byte) { expect_report(&reports[UNDERFLOW]); }
Test(debug, double_free) { expect_report(&reports[DOUBLE_FREE]); }
Test(debug, free_of_a_stack_address) { expect_report(&reports[FREE_STACK]); }
Test(debug, free_of_an_interior_pointer) { expect_report(&reports[FREE_INTERIOR]); }
Test(debug, write_after_free_found_when_the_block_leaves_the_quarantine)
{
    expect_report(&reports[WRITE_AFTER_FREE]);
}
Test(debug, realloc_checks_the_block) { expect_report(&reports[REALLOC_OVERFLOW]); }

/* A run of the planted program that must exit 0 and print exactly want on
 * stderr. */
static void expect_clean(const char *mode, int debug, const char *want)
{
    struct captured c;
    struct planted_run r = {mode, debug};
    fork_and_capture(exec_planted, &r, &c);
    cr_assert_eq(c.signal, 0, "%s: signal %d; stderr:\n%s", mode, c.signal, c.err);
    cr_assert_eq(c.exit_code, 0, "%s: exit %d; stderr:\n%s", mode, c.exit_code, c.err);
    cr_assert_str_eq(c.err, want, "%s (debug %d)", mode, debug);
}

/* Every entry point and size 0..1100 in debug mode, then without it;
 * malloc_usable_size is the size requested in debug mode. */
Test(debug, clean_run_reports_nothing)
{
    expect_clean("clean", 1, "usable 13\n");
    expect_clean("clean", 0, "usable 16\n");
}

/* The bytes of a new block are 0xcd, of a freed one 0xdd (else exit 1). */
Test(debug, new_and_freed_memory_are_filled)
{
    expect_clean("fill", 1, "new 0xcd freed 0xdd\n");
}
