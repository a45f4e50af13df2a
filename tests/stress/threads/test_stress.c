/*
 * The stress as a Criterion test. Short form: 15 s, in every tests/run.sh.
 * STRESS_SECONDS sets the duration (the long form registered when
 * SMALLOC_LONG_TESTS is ON uses it).
 */
#include <stdlib.h>

#include <criterion/criterion.h>

#include "stress.h"

Test(stress, threads_resizes_exits_and_forks)
{
    const char *env = getenv("STRESS_SECONDS");
    double seconds = env != NULL ? atof(env) : 15.0;
    cr_assert_gt(seconds, 0, "STRESS_SECONDS=%s", env);
    struct stress_config cfg;
    stress_defaults(&cfg, seconds);
    struct stress_report r;
    int rc = stress_run(&cfg, &r);
    stress_print(stdout, &cfg, &r);
    fflush(stdout);
    cr_assert_eq(r.corruptions, 0, "%llu corrupt blocks (details on stderr)", (unsigned long long)r.corruptions);
    cr_assert_eq(r.fork_failures, 0, "%llu of %llu fork children failed", (unsigned long long)r.fork_failures,
                 (unsigned long long)r.forks);
    cr_assert_eq(rc, 0, "stress_run returned %d", rc);
    /* The run did what it is for: work, replaced threads, forks, checks. */
    cr_assert_gt(r.operations, 100000, "only %llu operations", (unsigned long long)r.operations);
    cr_assert_gt(r.threads_replaced, 0, "no worker exited and was replaced");
    cr_assert_gt(r.orphans, 0, "no exiting worker left live blocks");
    cr_assert_gt(r.forks, 0, "no fork happened");
    cr_assert_gt(r.checks, r.frees / 2, "blocks checked %llu, frees %llu", (unsigned long long)r.checks,
                 (unsigned long long)r.frees);
}
