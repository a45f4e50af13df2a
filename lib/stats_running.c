/*
 * Statistics reports while the program runs: SMALLOC_STATS_INTERVAL and
 * SMALLOC_STATS_SIGNAL (the report itself: stats.c).
 *
 * The background thread (release.c) writes them, as a job it runs every
 * interval and on request; the signal handler only requests (an atomic
 * store and sem_post, both async-signal-safe; errno kept), so it takes no
 * lock and allocates nothing whatever the interrupted code held. Policy
 * for the signal: libsmalloc takes it at start-up only when its action is
 * the default one (an inherited SIG_IGN, as nohup's, or a handler already
 * there are left alone, with a warning), and does not chain: a program
 * that installs its own handler later replaces libsmalloc's and keeps its
 * own behaviour (tests/debug/running_reports.sh). Signals whose default
 * action is the program's death by its own fault (SEGV, BUS, FPE, ILL,
 * TRAP, SYS, ABRT, which sm_fatal raises) and KILL/STOP are refused.
 */
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "options.h"
#include "release.h"
#include "stats.h"

static int stats_signal; /* 0: none */

static void running_report(enum sm_release_job_why why)
{
    sm_stats_write_report(why == SM_RELEASE_JOB_INTERVAL ? "interval" : "signal");
}

static void on_stats_signal(int sig)
{
    (void)sig;
    sm_release_job_request(); /* keeps errno */
}

/* USR1, SIGUSR1, 10, RTMIN+2, RTMAX-1 -> the number; 0 when not one. */
static int parse_signal(const char *v)
{
    if (strncasecmp(v, "SIG", 3) == 0)
        v += 3;
    int sig = 0;
    if (*v >= '0' && *v <= '9') {
        for (; *v >= '0' && *v <= '9' && sig < NSIG; v++)
            sig = sig * 10 + (*v - '0');
        return *v == '\0' && sig < NSIG ? sig : 0;
    }
    if (strncasecmp(v, "RTMIN", 5) == 0 || strncasecmp(v, "RTMAX", 5) == 0) {
        bool min = strncasecmp(v, "RTMIN", 5) == 0;
        int base = min ? SIGRTMIN : SIGRTMAX, off = 0;
        v += 5;
        if (*v == (min ? '+' : '-'))
            for (v++; *v >= '0' && *v <= '9' && off < NSIG; v++)
                off = off * 10 + (*v - '0');
        sig = min ? base + off : base - off;
        return *v == '\0' && sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : 0;
    }
    for (int i = 1; i < SIGRTMIN; i++) {
        const char *name = sigabbrev_np(i);
        if (name != NULL && strcasecmp(name, v) == 0)
            return i;
    }
    return 0;
}

static bool signal_refused(int sig)
{
    switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGFPE:
    case SIGILL: case SIGTRAP: case SIGSYS: case SIGABRT:
        return true;
    default:
        return false;
    }
}

/* Has sig still its default action? Else a warning: it is left alone. */
static bool signal_free(int sig)
{
    struct sigaction old;
    if (sigaction(sig, NULL, &old) != 0)
        return false;
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
        return true;
    sm_warn("SMALLOC_STATS_SIGNAL=%s: the signal is %s already; libsmalloc leaves it, and "
            "writes no report on it", sm_opt.stats_signal,
            !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN ? "ignored" : "handled");
    return false;
}

static void install_signal(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stats_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) == 0)
        stats_signal = sig;
}

void sm_stats_running_init(void)
{
    int sig = 0;
    if (sm_opt.stats_signal != NULL) {
        sig = parse_signal(sm_opt.stats_signal);
        if (sig == 0 || signal_refused(sig)) {
            sm_warn("SMALLOC_STATS_SIGNAL=%s: %s; no report on a signal", sm_opt.stats_signal,
                    sig == 0 ? "not a signal name or number" : "a signal libsmalloc does not take");
            sig = 0;
        }
    }
    bool running = sig != 0 || sm_opt.stats_interval != 0;
    if (running && sm_opt.stats == SM_FORMAT_OFF)
        sm_opt.stats = SM_FORMAT_TABLE;
    if (!running)
        return;
    if (!sm_opt.background) {
        sm_warn("SMALLOC_STATS_INTERVAL and SMALLOC_STATS_SIGNAL need the background thread, "
                "which SMALLOC_BACKGROUND=0 turns off: only the exit report is written");
        return;
    }
    if (sig != 0 && !signal_free(sig))
        sig = 0;
    if (sig == 0 && sm_opt.stats_interval == 0)
        return;
    /* Seconds to ms, kept far from overflow (a year at most). */
    size_t secs = sm_opt.stats_interval < 366u * 86400 ? sm_opt.stats_interval : 366u * 86400;
    sm_release_set_job(running_report, (uint64_t)secs * 1000); /* before the handler: its semaphore */
    if (sig != 0)
        install_signal(sig);
}

/* From the load-time constructor (init.c), start-up DONE, no lock held and
 * not inside the allocator: the thread starts now, so that a program that never frees (or never
 * allocates) gets its running reports too. */
void sm_stats_running_start(void)
{
    if (!sm_opt.background || (sm_opt.stats_interval == 0 && stats_signal == 0))
        return;
    if (!sm_release_start_for_job())
        sm_warn("SMALLOC_STATS_INTERVAL/SMALLOC_STATS_SIGNAL: the background thread could not "
                "be started: only the exit report is written");
}
