/*
 * The release policy's rounds and its background thread (see release.h).
 *
 * The thread's life:
 *
 *   NONE --first poke that finds something waiting--> RUNNING
 *     (or OFF: SMALLOC_BACKGROUND=0, or pthread_create refused)
 *   RUNNING: sleep I (timed wait on bg.cond), run a round; nothing waits
 *     any more --> IDLE
 *   IDLE: wait on bg.cond without a timeout (no wake-ups at all) until a
 *     poke or a parked batch finds it IDLE --> RUNNING
 *
 * No wake-up is lost. Whoever makes something wait (a dirty pool: its
 * shard's ndirty; a parked batch: its slot's nbatches) stores that, then
 * issues a seq_cst fence and loads the state (sm_release_poke,
 * sm_release_note_parked). The thread stores IDLE, issues a seq_cst fence
 * and looks at every ndirty and nbatches. One of the two sees the other's
 * store: either the thread stays RUNNING or the poker wakes it.
 *
 * Started from a thread cache's slow path with no lock held, after
 * start-up is DONE (init.h): pthread_create may call malloc, which comes
 * back here and finds STARTING. The thread is detached, has every signal
 * blocked (so no handler of the program runs on it) and is named
 * "smalloc-release"; a program that counts its threads sees one more once
 * it has freed memory. It never allocates: a round only frees to pools and
 * releases pages.
 *
 * Locks: bg.lock guards the condition wait and the IDLE -> RUNNING change;
 * nothing else is locked while it is held and a round runs without it, so
 * it has no place in the allocator's lock order. Fork: the child has no
 * thread; sm_release_fork_child (called by the fork child handler,
 * fork.c) re-creates the lock and condition and sets NONE, so a child
 * starts its own thread when something waits there. Pools or batches the
 * parent's thread had in hand at that moment stay counted as in use in the
 * child (as for any thread caught half way through a flush, heap.c).
 * Exit: a destructor sets bg.exiting; the thread starts no more rounds
 * and waits for exit_group to end it (a round under way finishes: it
 * touches free pools and the allocator's headers only, under their locks).
 * dlclose: libsmalloc is linked -z nodelete, so the thread's code stays.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "arena.h"
#include "config.h"
#include "init.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "heap.h"
#include "large_cache.h"
#include "release.h"
#include "transfer.h"

enum { BG_NONE, BG_STARTING, BG_RUNNING, BG_IDLE, BG_OFF };

static struct {
    sm_lock_t lock;
    pthread_cond_t cond;
    _Atomic int state;            /* BG_*: NONE -> STARTING by CAS, IDLE -> RUNNING under lock */
    _Atomic bool start_wanted;    /* a batch was parked while NONE */
    _Atomic bool exiting;         /* set by the destructor */
    _Atomic uint64_t last_round_ms; /* rounds run by slow paths (OFF) */
} bg = {.lock = SM_LOCK_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* The calling thread's previous slow path (sm_os_now_ms time; 0: none). */
static sm_tls uint64_t last_slow_ms;

static int state_now(void)
{
    return atomic_load_explicit(&bg.state, memory_order_relaxed);
}

/* A round: batches parked for the delay go back to their pools first, so
 * that arenas they alone pinned are unmapped now; then pools free for the
 * delay are released. */
static void release_round(uint64_t now)
{
    uint64_t delay = sm_opt.release_delay_ms;
    sm_heap_release_legacies(now, delay);
    sm_large_cache_release(now, delay);
    sm_transfer_release_unused(now, delay);
    sm_arena_release_unused(now, delay);
}

static bool something_waits(void)
{
    return sm_arena_has_dirty() || sm_transfer_has_parked() || sm_heap_has_legacies() ||
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

/* pre: bg.lock held. Returns on the timeout or at exit. */
static void sleep_one_interval(void)
{
    uint64_t ms = sm_opt.release_interval_ms;
    if (ms < SM_RELEASE_MIN_SLEEP_MS)
        ms = SM_RELEASE_MIN_SLEEP_MS;
    if (ms > 86400000) /* a day: keeps the deadline far from overflow */
        ms = 86400000;
    /* The coarse clock trails CLOCK_MONOTONIC by under a tick: the
     * deadline is at most that early. */
    uint64_t deadline = sm_os_now_ms() + ms;
    struct timespec ts = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000};
    while (!atomic_load_explicit(&bg.exiting, memory_order_relaxed) &&
           pthread_cond_clockwait(&bg.cond, &bg.lock, CLOCK_MONOTONIC, &ts) != ETIMEDOUT)
        ; /* nobody signals a RUNNING thread: a spurious return */
}

static void *release_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "smalloc-release");
    sm_lock(&bg.lock);
    for (;;) {
        sleep_one_interval();
        if (atomic_load_explicit(&bg.exiting, memory_order_relaxed))
            break;
        sm_unlock(&bg.lock);
        release_round(sm_os_now_ms());
        sm_lock(&bg.lock);
        atomic_store_explicit(&bg.state, BG_IDLE, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        if (something_waits()) {
            atomic_store_explicit(&bg.state, BG_RUNNING, memory_order_relaxed);
            continue;
        }
        while (state_now() == BG_IDLE && !atomic_load_explicit(&bg.exiting, memory_order_relaxed))
            pthread_cond_wait(&bg.cond, &bg.lock);
    }
    /* Exiting: touch nothing more; exit_group ends the thread. */
    for (;;)
        pthread_cond_wait(&bg.cond, &bg.lock);
    return NULL;
}

/* pre: this thread moved the state NONE -> STARTING; no lock held. */
static void start_thread(void)
{
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
    sm_lock(&bg.lock);
    if (state_now() == BG_IDLE) {
        atomic_store_explicit(&bg.state, BG_RUNNING, memory_order_relaxed);
        pthread_cond_signal(&bg.cond);
    }
    sm_unlock(&bg.lock);
}

/* Something waits and the thread is NONE or IDLE. */
static sm_noinline sm_cold void poke_slow(int state)
{
    if (state == BG_IDLE) {
        wake_thread();
        return;
    }
    if (!sm_init_done())
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

void sm_release_poke(void)
{
    atomic_thread_fence(memory_order_seq_cst);
    int state = state_now();
    if (sm_likely(state != BG_NONE && state != BG_IDLE))
        return;
    if (sm_arena_has_dirty() ||
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

void sm_release_fork_child(void)
{
    sm_lock_reinit(&bg.lock);
    pthread_cond_init(&bg.cond, NULL);
    atomic_store_explicit(&bg.state, BG_NONE, memory_order_relaxed);
    atomic_store_explicit(&bg.start_wanted, sm_transfer_has_parked(), memory_order_relaxed);
}

__attribute__((destructor)) static void release_at_exit(void)
{
    atomic_store_explicit(&bg.exiting, true, memory_order_relaxed);
}
