/*
 * The release policy's rounds and its background thread (see release.h).
 *
 * The thread's life:
 *
 *   NONE --first poke that finds something waiting--> RUNNING
 *     (or OFF: SMALLOC_BACKGROUND=0, or pthread_create refused)
 *   RUNNING: sleep I, run a round; nothing waits any more --> IDLE
 *   IDLE: sleep with no timeout (no wake-ups at all) until a poke or a
 *     parked batch finds it IDLE --> RUNNING
 * With a job (sm_release_set_job: the running statistics reports), the
 * thread starts at load time instead (sm_release_start_for_job) and its
 * sleeps, RUNNING or IDLE, also end at the job's next time and on a job
 * request; the job runs between rounds, without bg.lock.
 *
 * The thread sleeps on a semaphore (bg.wake), not a condition: the job
 * request comes from a signal handler, and sem_post is async-signal-safe.
 * A post wakes it at most once too often (a request while RUNNING, a
 * signal burst): it looks at what is due, and sleeps again.
 *
 * No wake-up is lost. Whoever makes something wait (a dirty pool: its
 * shard's ndirty; a parked batch: its slot's nbatches) stores that, then
 * issues a seq_cst fence and loads the state (sm_release_poke,
 * sm_release_note_parked). The thread stores IDLE, issues a seq_cst fence
 * and looks at every ndirty and nbatches. One of the two sees the other's
 * store: either the thread stays RUNNING or the poker wakes it (a post
 * made before the thread sleeps is counted, and ends that sleep at once).
 *
 * Started from a thread cache's slow path with no lock held, after
 * start-up is DONE (init.h): pthread_create may call malloc, which comes
 * back here and finds STARTING. The thread is detached, has every signal
 * blocked (so no handler of the program runs on it) and is named
 * "smalloc-release"; a program that counts its threads sees one more once
 * it has freed memory (or from the start, with a job). It never calls
 * libsmalloc's malloc: a round frees to pools, releases pages and hands
 * large-block caches to glibc's free (which may set up glibc's own
 * per-thread state the first time), and a report is built in a buffer of
 * its own mapping (stats.c).
 *
 * Locks: bg.lock guards the IDLE <-> RUNNING changes;
 * nothing else is locked while it is held and a round runs without it, so
 * it has no place in the allocator's lock order. Fork: the child has no
 * thread; sm_release_fork_child (called by the fork child handler,
 * fork.c) re-creates the lock and semaphore and sets NONE, so a child
 * starts its own thread when something waits there, or with a job, on its
 * first poke (its reports then name its own pid). Pools or batches the
 * parent's thread had in hand at that moment stay counted as in use in the
 * child (as for any thread caught half way through a flush, tcache.c).
 * Exit: a destructor sets bg.exiting; the thread starts no more rounds or
 * jobs once it wakes, and waits for exit_group to end it (a round under way finishes: it
 * touches free pools and the allocator's headers only, under their locks).
 * dlclose: libsmalloc is linked -z nodelete, so the thread's code stays.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "arena.h"
#include "config.h"
#include "large_cache.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "release.h"
#include "tcache.h"
#include "transfer.h"

enum { BG_NONE, BG_STARTING, BG_RUNNING, BG_IDLE, BG_OFF };

#define NEVER UINT64_MAX

static struct {
    pthread_mutex_t lock;         /* a pthread mutex, not an sm_lock: it is in no
                                   * lock table, so the forking thread takes it */
    sem_t wake;                   /* posted: IDLE -> RUNNING (under lock), job requests */
    _Atomic int state;            /* BG_*: NONE -> STARTING by CAS, IDLE -> RUNNING under lock */
    _Atomic bool start_wanted;    /* a batch was parked, or a job is set, while NONE */
    _Atomic bool exiting;         /* set by the destructor */
    _Atomic bool may_start;       /* set by start-up once DONE (sm_release_allow_start) */
    _Atomic bool job_requested;   /* set by sm_release_job_request, cleared by the thread */
    _Atomic uint64_t last_round_ms; /* rounds run by slow paths (OFF) */
    sm_release_job_fn *job;       /* written at start-up, before any thread */
    uint64_t job_interval_ms;     /* idem; 0: only on request */
    bool wake_ready;              /* bg.wake initialised (the STARTING thread, or the job) */
} bg = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The calling thread's previous slow path (sm_os_now_ms time; 0: none). */
static sm_tls uint64_t last_slow_ms;

static int state_now(void)
{
    return atomic_load_explicit(&bg.state, memory_order_relaxed);
}

/* The thread's own deadlines: CLOCK_MONOTONIC itself, not the coarse clock,
 * which trails it by up to a tick and would have the thread wake before a
 * deadline it then waits for again, at once. */
static uint64_t mono_ms(void)
{
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A round: batches parked for the delay go back to their pools first, so
 * that arenas they alone pinned are unmapped now; then pools free for the
 * delay are released. */
static void release_round(uint64_t now)
{
    uint64_t delay = sm_opt.release_delay_ms;
    sm_tcache_release_legacies(now, delay);
    sm_large_cache_release(now, delay);
    sm_transfer_release_unused(now, delay);
    sm_arena_release_unused(now, delay);
}

static bool something_waits(void)
{
    return sm_arena_has_dirty() || sm_transfer_has_parked() || sm_tcache_has_legacies() ||
           sm_large_cache_has_left();
}

/* Without the thread: a round when the interval has passed since the last
 * one; a thread that loses the race for it goes on. */
static void round_if_due(uint64_t now)
{
    uint64_t last = atomic_load_explicit(&bg.last_round_ms, memory_order_relaxed);
    if (now - last < sm_opt.release_interval_ms)
        return;
    if (!atomic_compare_exchange_strong_explicit(&bg.last_round_ms, &last, now,
                                                 memory_order_relaxed, memory_order_relaxed))
        return;
    release_round(now);
}

bool sm_release_tick(void)
{
    uint64_t now = sm_os_now_ms();
    uint64_t last = last_slow_ms;
    last_slow_ms = now;
    if (state_now() == BG_OFF)
        round_if_due(now);
    return last != 0 && now - last >= sm_opt.release_delay_ms;
}

static uint64_t round_interval_ms(void)
{
    uint64_t ms = sm_opt.release_interval_ms;
    if (ms < SM_RELEASE_MIN_SLEEP_MS)
        ms = SM_RELEASE_MIN_SLEEP_MS;
    if (ms > 86400000) /* a day: keeps the deadline far from overflow */
        ms = 86400000;
    return ms;
}

/* No lock held. Returns at the deadline (mono_ms time; NEVER: none), on a
 * post, or spuriously; the caller looks at what is due. */
static void wait_until(uint64_t deadline)
{
    if (deadline == NEVER) {
        sem_wait(&bg.wake);
        return;
    }
    struct timespec ts = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000};
    sem_clockwait(&bg.wake, CLOCK_MONOTONIC, &ts);
}

/* After a round, bg.lock not held: IDLE unless something still waits. */
static bool go_idle(void)
{
    pthread_mutex_lock(&bg.lock);
    atomic_store_explicit(&bg.state, BG_IDLE, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    bool idle = !something_waits();
    if (!idle)
        atomic_store_explicit(&bg.state, BG_RUNNING, memory_order_relaxed);
    pthread_mutex_unlock(&bg.lock);
    return idle;
}

static void *release_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "smalloc-release");
    uint64_t now = mono_ms();
    uint64_t interval = round_interval_ms(), every = bg.job ? bg.job_interval_ms : 0;
    uint64_t next_round = now + interval, next_job = every ? now + every : NEVER;
    bool idle = false;
    for (;;) {
        uint64_t deadline = next_job;
        if (!idle && next_round < deadline)
            deadline = next_round;
        wait_until(deadline);
        if (atomic_load_explicit(&bg.exiting, memory_order_relaxed))
            break;
        now = mono_ms();
        if (bg.job != NULL && atomic_exchange_explicit(&bg.job_requested, false, memory_order_acquire))
            bg.job(SM_RELEASE_JOB_REQUESTED);
        if (now >= next_job) {
            bg.job(SM_RELEASE_JOB_INTERVAL);
            next_job += every;
            if (next_job <= now) /* stopped for longer (SIGSTOP, a suspend): skip */
                next_job = now + every;
        }
        if (idle) {
            if (state_now() != BG_RUNNING)
                continue;
            idle = false; /* woken by a poke: one interval, then a round */
            next_round = now + interval;
            continue;
        }
        if (now < next_round)
            continue;
        release_round(sm_os_now_ms());
        next_round = mono_ms() + interval;
        idle = go_idle();
    }
    /* Exiting: touch nothing more; exit_group ends the thread. */
    for (;;)
        sem_wait(&bg.wake);
    return NULL;
}

/* pre: this thread moved the state NONE -> STARTING; no lock held. */
static void start_thread(void)
{
    if (!bg.wake_ready) {
        sem_init(&bg.wake, 0, 0);
        bg.wake_ready = true;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits it */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* RUNNING first: pokes from mallocs inside pthread_create return. */
    atomic_store_explicit(&bg.state, BG_RUNNING, memory_order_relaxed);
    pthread_t tid;
    int err = pthread_create(&tid, &attr, release_thread, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) /* EAGAIN: a thread limit; the slow paths do the rounds */
        atomic_store_explicit(&bg.state, BG_OFF, memory_order_relaxed);
}

static void wake_thread(void)
{
    pthread_mutex_lock(&bg.lock);
    if (state_now() == BG_IDLE) {
        atomic_store_explicit(&bg.state, BG_RUNNING, memory_order_relaxed);
        sem_post(&bg.wake);
    }
    pthread_mutex_unlock(&bg.lock);
}

/* Something waits and the thread is NONE or IDLE. */
static sm_noinline sm_cold void poke_slow(int state)
{
    if (state == BG_IDLE) {
        wake_thread();
        return;
    }
    if (!atomic_load_explicit(&bg.may_start, memory_order_acquire))
        return;
    int expected = BG_NONE;
    if (!sm_opt.background) {
        atomic_compare_exchange_strong_explicit(&bg.state, &expected, BG_OFF,
                                                memory_order_relaxed, memory_order_relaxed);
        return;
    }
    if (atomic_compare_exchange_strong_explicit(&bg.state, &expected, BG_STARTING,
                                                memory_order_relaxed, memory_order_relaxed))
        start_thread();
}

void sm_release_allow_start(void)
{
    atomic_store_explicit(&bg.may_start, true, memory_order_release);
}

void sm_release_poke(void)
{
    atomic_thread_fence(memory_order_seq_cst);
    int state = state_now();
    if (sm_likely(state != BG_NONE && state != BG_IDLE))
        return;
    /* Everything a round waits for (something_waits): dirty pools, parked
     * batches, the caches exited threads left. Only reached when the
     * thread is NONE or IDLE. */
    if (something_waits() ||
        (state == BG_NONE && atomic_load_explicit(&bg.start_wanted, memory_order_relaxed)))
        poke_slow(state);
}

void sm_release_note_parked(void)
{
    atomic_thread_fence(memory_order_seq_cst);
    int state = state_now();
    if (sm_likely(state != BG_NONE && state != BG_IDLE))
        return;
    if (state == BG_IDLE)
        wake_thread(); /* allocates nothing: safe inside a flush */
    else if (!atomic_load_explicit(&bg.start_wanted, memory_order_relaxed))
        atomic_store_explicit(&bg.start_wanted, true, memory_order_relaxed);
}

void sm_release_set_job(sm_release_job_fn *job, uint64_t interval_ms)
{
    sem_init(&bg.wake, 0, 0);
    bg.wake_ready = true;
    bg.job = job;
    bg.job_interval_ms = interval_ms;
    atomic_store_explicit(&bg.start_wanted, true, memory_order_relaxed);
}

bool sm_release_start_for_job(void)
{
    if (bg.job == NULL || !atomic_load_explicit(&bg.may_start, memory_order_acquire))
        return false;
    poke_slow(BG_NONE);
    int state = state_now();
    return state != BG_OFF && state != BG_NONE;
}

void sm_release_job_request(void)
{
    int saved = errno;
    atomic_store_explicit(&bg.job_requested, true, memory_order_release);
    if (bg.job != NULL) /* else no semaphore yet (sm_release_set_job) */
        sem_post(&bg.wake);
    errno = saved;
}

void sm_release_fork_child(void)
{
    pthread_mutex_init(&bg.lock, NULL);
    sem_init(&bg.wake, 0, 0); /* the parent's, copied, may have had waiters */
    bg.wake_ready = true;
    atomic_store_explicit(&bg.state, BG_NONE, memory_order_relaxed);
    atomic_store_explicit(&bg.start_wanted, bg.job != NULL || something_waits(),
                          memory_order_relaxed);
}

__attribute__((destructor)) static void release_at_exit(void)
{
    atomic_store_explicit(&bg.exiting, true, memory_order_relaxed);
}
