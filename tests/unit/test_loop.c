/* The IOLoop: callbacks, timers, periodic callbacks, thread-safe calls, the
 * executor, close, signals and graceful shutdown.
 *
 * Timing: assertions only ever check that something did not happen too
 * early (a lower bound), never that it happened quickly, so a slow or busy
 * machine cannot break them. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <squall.h>
#include "loop/loop_impl.h"

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void stop_cb(void *arg) { sq_loop_stop(arg); }

/* Runs the loop, with a generous safety stop so a bug fails instead of
 * hanging; the tests stop the loop themselves long before. */
static void run(sq_loop *loop) {
    sq_timer_id guard;
    cr_assert_eq(sq_loop_call_later(loop, 30000, stop_cb, loop, &guard), 0);
    cr_assert_eq(sq_loop_run(loop), 0);
    sq_loop_cancel(loop, guard);
}

static void close_loop(sq_loop *loop) { cr_assert_eq(sq_loop_close(loop), 0); }

/* ---- creation, clocks, accessors ---- */

Test(loop, new_close_accessors) {
    sq_loop *loop = sq_loop_new();
    cr_assert_not_null(loop);
    uv_loop_t *uv = sq_loop_uv(loop);
    cr_assert_not_null(uv);
    cr_assert_eq(sq__loop_from_uv(uv), loop);
    size_t size = 0;
    char *buf = sq__loop_readbuf(loop, &size);
    cr_assert_not_null(buf);
    cr_assert_eq(size, 65536);
    memset(buf, 'x', size);
    size_t size2;
    cr_assert_eq(sq__loop_readbuf(loop, &size2), buf);
    uint64_t now = sq_loop_now(loop), t = sq_loop_time(loop);
    cr_assert_geq(t, now);
    cr_assert_geq(sq_loop_time(loop), t);
    close_loop(loop);
}

static void my_sigpipe(int sig) {}

Test(loop, sigpipe_ignored_unless_handled) {
    signal(SIGPIPE, SIG_DFL);
    sq_loop *loop = sq_loop_new();
    struct sigaction sa;
    sigaction(SIGPIPE, NULL, &sa);
    cr_assert_eq(sa.sa_handler, SIG_IGN);
    close_loop(loop);
    /* An application's own handler stays. */
    signal(SIGPIPE, my_sigpipe);
    loop = sq_loop_new();
    sigaction(SIGPIPE, NULL, &sa);
    cr_assert_eq(sa.sa_handler, my_sigpipe);
    close_loop(loop);
}

Test(loop, default_loop) {
    sq_loop *a = sq_loop_default();
    cr_assert_not_null(a);
    cr_assert_eq(sq_loop_default(), a);
    cr_assert_eq(sq_loop_uv(a), uv_default_loop());
    cr_assert_eq(sq_loop_call_soon(a, stop_cb, a), 0);
    run(a);
    close_loop(a);
    sq_loop *b = sq_loop_default();
    cr_assert_not_null(b);
    cr_assert_eq(sq_loop_call_soon(b, stop_cb, b), 0);
    run(b);
    close_loop(b);
}

/* ---- call_soon ---- */

typedef struct {
    sq_loop *loop;
    int order[256];
    int n;
    int iteration; /* counted by a prepare handle */
    int iter_of[256];
} rec;

typedef struct {
    rec *r;
    int id;
} rec_item;

static void record(void *arg) {
    rec_item *it = arg;
    it->r->iter_of[it->r->n] = it->r->iteration;
    it->r->order[it->r->n++] = it->id;
}

Test(loop, call_soon_fifo) {
    sq_loop *loop = sq_loop_new();
    rec r = {.loop = loop};
    rec_item items[100];
    for (int i = 0; i < 100; i++) {
        items[i] = (rec_item){&r, i};
        cr_assert_eq(sq_loop_call_soon(loop, record, &items[i]), 0);
    }
    cr_assert_eq(r.n, 0, "call_soon must never run synchronously");
    cr_assert_eq(sq_loop_call_soon(loop, stop_cb, loop), 0);
    run(loop);
    cr_assert_eq(r.n, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(r.order[i], i);
    cr_assert_eq(sq_loop_call_soon(loop, NULL, NULL), SQ_EINVAL);
    close_loop(loop);
}

static void count_iteration(uv_prepare_t *h) { ((rec *)h->data)->iteration++; }

static rec_item later_item;
static void schedules_another(void *arg) {
    rec_item *it = arg;
    record(it);
    later_item = (rec_item){it->r, 99};
    sq_loop_call_soon(it->r->loop, record, &later_item);
    sq_loop_call_soon(it->r->loop, stop_cb, it->r->loop);
}

Test(loop, call_soon_from_callback_waits_next_iteration) {
    sq_loop *loop = sq_loop_new();
    rec r = {.loop = loop};
    uv_prepare_t prep;
    uv_prepare_init(sq_loop_uv(loop), &prep);
    prep.data = &r;
    uv_prepare_start(&prep, count_iteration);
    rec_item a = {&r, 1}, c = {&r, 2};
    sq_loop_call_soon(loop, schedules_another, &a);
    sq_loop_call_soon(loop, record, &c);
    run(loop);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.order[0], 1);
    cr_assert_eq(r.order[1], 2);
    cr_assert_eq(r.order[2], 99);
    cr_assert_eq(r.iter_of[0], r.iter_of[1], "queued together, run together");
    cr_assert_gt(r.iter_of[2], r.iter_of[0], "queued by a callback: next iteration");
    cr_assert_eq(sq_loop_close(loop), SQ_EBUSY, "the prepare handle is still open");
    uv_close((uv_handle_t *)&prep, NULL);
    close_loop(loop);
}

static int hot_count;
static void hot_cb(void *arg) {
    sq_loop *loop = arg;
    if (++hot_count % 100 == 0) {
        if (hot_count == 100000) {
            sq_loop_stop(loop);
            return;
        }
        for (int i = 0; i < 100; i++)
            sq_loop_call_soon(loop, hot_cb, loop);
    }
}

Test(loop, call_soon_steady_state_does_not_grow) {
    sq_loop *loop = sq_loop_new();
    for (int i = 0; i < 100; i++)
        sq_loop_call_soon(loop, hot_cb, loop);
    uint32_t cap0 = loop->ring_cap;
    run(loop);
    cr_assert_eq(hot_count, 100000);
    cr_assert_eq(loop->ring_cap, cap0, "the ring must not grow in steady state");
    close_loop(loop);
}

static void try_nested_run(void *arg) {
    sq_loop *loop = arg;
    cr_assert_eq(sq_loop_run(loop), SQ_ESTATE);
    cr_assert_eq(sq_loop_close(loop), SQ_ESTATE);
    sq_loop_stop(loop);
}

Test(loop, run_and_close_refused_inside_callback) {
    sq_loop *loop = sq_loop_new();
    sq_loop_call_soon(loop, try_nested_run, loop);
    run(loop);
    close_loop(loop);
}

static int stop_seen;
static void stopper(void *arg) {
    sq_loop *loop = arg;
    stop_seen++;
    sq_loop_stop(loop);
    sq_loop_call_soon(loop, stopper, loop); /* next iteration: after the stop */
}
static void also_runs(void *arg) { (*(int *)arg)++; }

Test(loop, stop_takes_effect_after_iteration) {
    sq_loop *loop = sq_loop_new();
    int other = 0;
    sq_loop_call_soon(loop, stopper, loop);
    sq_loop_call_soon(loop, also_runs, &other);
    run(loop);
    cr_assert_eq(stop_seen, 1);
    cr_assert_eq(other, 1, "the rest of the iteration still runs");
    run(loop); /* the callback queued before the stop runs now, and stops again */
    cr_assert_eq(stop_seen, 2);
    close_loop(loop);
}

Test(loop, stop_before_run_returns_at_once) {
    sq_loop *loop = sq_loop_new();
    sq_loop_stop(loop);
    cr_assert_eq(sq_loop_run(loop), 0);
    close_loop(loop);
}

/* ---- timers ---- */

typedef struct {
    sq_loop *loop;
    int order[8];
    int n;
    uint64_t fired_at[8], fired_mono[8];
    int stop_after;
} timer_rec;

typedef struct {
    timer_rec *r;
    int id;
} timer_item;

static void on_timer_rec(void *arg) {
    timer_item *it = arg;
    timer_rec *r = it->r;
    r->fired_at[r->n] = sq_loop_time(r->loop);
    r->fired_mono[r->n] = mono_ms();
    r->order[r->n++] = it->id;
    if (r->n == r->stop_after) sq_loop_stop(r->loop);
}

Test(loop, timers_fire_in_deadline_order_and_not_early) {
    sq_loop *loop = sq_loop_new();
    timer_rec r = {.loop = loop, .stop_after = 3};
    timer_item a = {&r, 30}, b = {&r, 10}, c = {&r, 20};
    uint64_t t0 = sq_loop_time(loop), m0 = mono_ms();
    cr_assert_eq(sq_loop_call_later(loop, 30, on_timer_rec, &a, NULL), 0);
    cr_assert_eq(sq_loop_call_later(loop, 10, on_timer_rec, &b, NULL), 0);
    cr_assert_eq(sq_loop_call_later(loop, 20, on_timer_rec, &c, NULL), 0);
    run(loop);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.order[0], 10);
    cr_assert_eq(r.order[1], 20);
    cr_assert_eq(r.order[2], 30);
    for (int i = 0; i < 3; i++) {
        cr_assert_geq(r.fired_at[i], t0 + (uint64_t)r.order[i], "timer %d fired early", r.order[i]);
        /* Against an independent clock, allowing for millisecond truncation. */
        cr_assert_geq(r.fired_mono[i] + 1, m0 + (uint64_t)r.order[i]);
    }
    close_loop(loop);
}

Test(loop, same_deadline_runs_in_creation_order) {
    sq_loop *loop = sq_loop_new();
    timer_rec r = {.loop = loop, .stop_after = 5};
    timer_item items[5];
    uint64_t when = sq_loop_time(loop) + 5;
    for (int i = 0; i < 5; i++) {
        items[i] = (timer_item){&r, i};
        cr_assert_eq(sq_loop_call_at(loop, when, on_timer_rec, &items[i], NULL), 0);
    }
    run(loop);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(r.order[i], i);
    close_loop(loop);
}

Test(loop, call_at_in_the_past_fires) {
    sq_loop *loop = sq_loop_new();
    timer_rec r = {.loop = loop, .stop_after = 1};
    timer_item it = {&r, 1};
    cr_assert_eq(sq_loop_call_at(loop, 0, on_timer_rec, &it, NULL), 0);
    run(loop);
    cr_assert_eq(r.n, 1);
    close_loop(loop);
}

static void must_not_run(void *arg) { cr_assert_fail("a cancelled or dropped callback ran"); }

Test(loop, cancel_before_and_after_firing) {
    sq_loop *loop = sq_loop_new();
    timer_rec r = {.loop = loop, .stop_after = 2};
    timer_item a = {&r, 1}, b = {&r, 2};
    sq_timer_id dead, ida, idb;
    cr_assert_eq(sq_loop_call_later(loop, 5, must_not_run, NULL, &dead), 0);
    cr_assert_neq(dead, 0);
    cr_assert_eq(sq_loop_call_later(loop, 1, on_timer_rec, &a, &ida), 0);
    cr_assert_eq(sq_loop_call_later(loop, 40, on_timer_rec, &b, &idb), 0);
    cr_assert_eq(sq_loop_cancel(loop, dead), 0);
    cr_assert_eq(sq_loop_cancel(loop, dead), SQ_ENOENT, "twice");
    run(loop);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(sq_loop_cancel(loop, ida), SQ_ENOENT, "after firing");
    cr_assert_eq(sq_loop_cancel(loop, idb), SQ_ENOENT, "after firing");
    cr_assert_eq(sq_loop_cancel(loop, 0), SQ_ENOENT);
    cr_assert_eq(sq_loop_cancel(loop, 0xdeadbeef00000123ull), SQ_ENOENT);

    /* A stale id must not reach the timer that reuses its slot: slots are
     * reused most recently freed first. */
    sq_timer_id old, fresh;
    r.n = 0;
    r.stop_after = 1;
    cr_assert_eq(sq_loop_call_later(loop, 1, must_not_run, NULL, &old), 0);
    cr_assert_eq(sq_loop_cancel(loop, old), 0);
    cr_assert_eq(sq_loop_call_later(loop, 1, on_timer_rec, &a, &fresh), 0);
    cr_assert_eq(fresh & 0xffffffffu, old & 0xffffffffu, "the slot is reused");
    cr_assert_neq(fresh, old);
    cr_assert_eq(sq_loop_cancel(loop, old), SQ_ENOENT);
    run(loop);
    cr_assert_eq(r.n, 1, "the new timer still fired");
    close_loop(loop);
}

static sq_timer_id self_id;
static void cancels_itself(void *arg) {
    sq_loop *loop = arg;
    cr_assert_eq(sq_loop_cancel(loop, self_id), SQ_ENOENT);
    sq_loop_stop(loop);
}

Test(loop, cancel_from_own_callback) {
    sq_loop *loop = sq_loop_new();
    sq_loop_call_later(loop, 1, cancels_itself, loop, &self_id);
    run(loop);
    close_loop(loop);
}

static int zero_chain;
static void zero_again(void *arg) {
    sq_loop *loop = arg;
    if (++zero_chain < 50) sq_loop_call_later(loop, 0, zero_again, loop, NULL);
}
static void note_io_turn(void *arg) { (*(int *)arg) = zero_chain; }

Test(loop, zero_delay_timers_do_not_starve_the_loop) {
    /* A timer that keeps adding zero-delay timers must let call_soon
     * callbacks (and I/O) run between them. */
    sq_loop *loop = sq_loop_new();
    int seen_at = -1;
    sq_loop_call_later(loop, 0, zero_again, loop, NULL);
    sq_loop_call_soon(loop, note_io_turn, &seen_at);
    sq_loop_call_later(loop, 200, stop_cb, loop, NULL);
    run(loop);
    cr_assert_eq(zero_chain, 50);
    cr_assert_lt(seen_at, 50);
    close_loop(loop);
}

Test(loop, many_timers_heap) {
    /* Exercise the heap with interleaved adds and cancels. */
    sq_loop *loop = sq_loop_new();
    sq_timer_id ids[500];
    static int fired[500];
    memset(fired, 0, sizeof fired);
    for (int i = 0; i < 500; i++) {
        uint64_t delay = (uint64_t)((i * 7919) % 50);
        cr_assert_eq(sq_loop_call_later(loop, delay, also_runs, &fired[i], &ids[i]), 0);
    }
    for (int i = 0; i < 500; i += 3)
        cr_assert_eq(sq_loop_cancel(loop, ids[i]), 0);
    sq_loop_call_later(loop, 120, stop_cb, loop, NULL);
    run(loop);
    for (int i = 0; i < 500; i++)
        cr_assert_eq(fired[i], i % 3 == 0 ? 0 : 1, "timer %d", i);
    close_loop(loop);
}

/* ---- periodic callbacks ---- */

typedef struct {
    sq_loop *loop;
    int ticks, stop_at, closed;
    uint64_t start, at[16];
    int sleep_on_tick; /* ms to sleep on tick 1 */
    int sleep_ms;
    bool restart_in_tick;
    bool close_in_tick;
} per_rec;

static void per_tick(sq_periodic *p, void *arg) {
    per_rec *r = arg;
    r->at[r->ticks] = sq_loop_time(r->loop);
    r->ticks++;
    cr_assert(sq_periodic_is_running(p));
    if (r->ticks == 1 && r->sleep_ms) usleep((useconds_t)r->sleep_ms * 1000);
    if (r->ticks == 1 && r->restart_in_tick) {
        sq_periodic_stop(p);
        cr_assert_not(sq_periodic_is_running(p));
        cr_assert_eq(sq_periodic_start(p), 0);
    }
    if (r->close_in_tick) {
        sq_periodic_close(p, NULL);
        sq_loop_call_later(r->loop, 100, stop_cb, r->loop, NULL);
        return;
    }
    if (r->ticks == r->stop_at) {
        sq_periodic_stop(p);
        cr_assert_not(sq_periodic_is_running(p));
        sq_loop_call_later(r->loop, 100, stop_cb, r->loop, NULL); /* watch for extra ticks */
    }
}

static void per_closed(sq_periodic *p, void *arg) {
    per_rec *r = arg;
    r->closed++;
    sq_loop_stop(r->loop);
}

static void close_periodic(sq_loop *loop, sq_periodic *p, per_rec *r) {
    sq_periodic_close(p, per_closed);
    sq_periodic_close(p, per_closed); /* twice: ignored */
    run(loop);
    cr_assert_eq(r->closed, 1);
}

Test(periodic, counts_and_stops_from_callback) {
    sq_loop *loop = sq_loop_new();
    per_rec r = {.loop = loop, .stop_at = 5};
    sq_periodic *p = sq_periodic_new(loop, 20, per_tick, &r);
    cr_assert_not_null(p);
    cr_assert_not(sq_periodic_is_running(p));
    r.start = sq_loop_time(loop);
    cr_assert_eq(sq_periodic_start(p), 0);
    cr_assert_eq(sq_periodic_start(p), 0, "starting twice is harmless");
    run(loop);
    cr_assert_eq(r.ticks, 5, "no tick after stop");
    cr_assert_geq(r.at[0], r.start + 20, "the first tick is one interval after start");
    for (int i = 0; i < 5; i++)
        cr_assert_geq(r.at[i], r.start + 20 * (uint64_t)(i + 1));
    cr_assert_eq(sq_loop_close(loop), SQ_EBUSY, "an open periodic keeps the loop from closing");
    close_periodic(loop, p, &r);
    close_loop(loop);
}

Test(periodic, skips_missed_beats) {
    /* Interval 50 ms; the first tick (at >= 50) takes 175 ms. Tornado's
     * schedule skips the beats at 100, 150 and 200: the next ticks are at
     * 250 and 300 or later. Running the missed beats to catch up would put
     * ticks 2 and 3 right after the slow one, near 225. */
    sq_loop *loop = sq_loop_new();
    per_rec r = {.loop = loop, .stop_at = 3, .sleep_ms = 175};
    sq_periodic *p = sq_periodic_new(loop, 50, per_tick, &r);
    r.start = sq_loop_time(loop);
    sq_periodic_start(p);
    run(loop);
    cr_assert_eq(r.ticks, 3);
    cr_assert_geq(r.at[0] - r.start, 50);
    cr_assert_geq(r.at[1] - r.start, 250, "tick 2 at %llu",
                  (unsigned long long)(r.at[1] - r.start));
    cr_assert_geq(r.at[2] - r.start, 300, "tick 3 at %llu",
                  (unsigned long long)(r.at[2] - r.start));
    close_periodic(loop, p, &r);
    close_loop(loop);
}

Test(periodic, jitter) {
    sq_loop *loop = sq_loop_new();
    per_rec r = {.loop = loop, .stop_at = 6};
    sq_periodic *p = sq_periodic_new(loop, 40, per_tick, &r);
    cr_assert_eq(sq_periodic_set_jitter(p, -0.1), SQ_EINVAL);
    cr_assert_eq(sq_periodic_set_jitter(p, 1.5), SQ_EINVAL);
    cr_assert_eq(sq_periodic_set_jitter(p, 0.5), 0);
    r.start = sq_loop_time(loop);
    sq_periodic_start(p);
    run(loop);
    cr_assert_eq(r.ticks, 6);
    /* With ±25 %, each interval is at least 30 ms. */
    cr_assert_geq(r.at[0], r.start + 30);
    for (int i = 1; i < 6; i++)
        cr_assert_geq(r.at[i], r.start + 30 * (uint64_t)(i + 1));
    close_periodic(loop, p, &r);
    close_loop(loop);
}

Test(periodic, restart_inside_callback) {
    sq_loop *loop = sq_loop_new();
    per_rec r = {.loop = loop, .stop_at = 3, .restart_in_tick = true};
    sq_periodic *p = sq_periodic_new(loop, 30, per_tick, &r);
    r.start = sq_loop_time(loop);
    sq_periodic_start(p);
    run(loop);
    cr_assert_eq(r.ticks, 3);
    /* Restarted during tick 1: tick 2 comes one interval after that. */
    cr_assert_geq(r.at[1], r.at[0] + 30);
    cr_assert_geq(r.at[2], r.at[1] + 29);
    close_periodic(loop, p, &r);
    close_loop(loop);
}

Test(periodic, close_inside_callback) {
    sq_loop *loop = sq_loop_new();
    per_rec r = {.loop = loop, .close_in_tick = true};
    sq_periodic *p = sq_periodic_new(loop, 10, per_tick, &r);
    sq_periodic_start(p);
    run(loop);
    cr_assert_eq(r.ticks, 1);
    close_loop(loop); /* the periodic is gone: nothing keeps the loop */
}

Test(periodic, invalid) {
    sq_loop *loop = sq_loop_new();
    cr_assert_null(sq_periodic_new(loop, 0, per_tick, NULL));
    cr_assert_null(sq_periodic_new(loop, 10, NULL, NULL));
    close_loop(loop);
}

/* ---- thread-safe calls ---- */

#define NTHREADS 8
#define NCALLS 10000

typedef struct {
    sq_loop *loop;
    pthread_t loop_thread;
    long count;
    int threads_done;
    bool wrong_thread;
    _Atomic int errors; /* worker threads cannot use cr_assert */
} ts_state;

static void ts_inc(void *arg) {
    ts_state *s = arg;
    if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread = true;
    s->count++;
}

static void ts_thread_done(void *arg) {
    ts_state *s = arg;
    if (++s->threads_done == NTHREADS) sq_loop_stop(s->loop);
}

static void *ts_worker(void *arg) {
    ts_state *s = arg;
    for (int i = 0; i < NCALLS; i++) {
        int err;
        while ((err = sq_loop_call_threadsafe(s->loop, ts_inc, s)) == SQ_ENOMEM)
            usleep(100);
        if (err) s->errors++;
        if (i % 1000 == 0) sched_yield();
    }
    /* Calls from one thread run in order: this one comes after all of ours. */
    if (sq_loop_call_threadsafe(s->loop, ts_thread_done, s) != 0) s->errors++;
    return NULL;
}

Test(threadsafe, eight_threads_none_lost) {
    sq_loop *loop = sq_loop_new();
    ts_state s = {.loop = loop, .loop_thread = pthread_self()};
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, ts_worker, &s), 0);
    run(loop);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(s.errors, 0);
    cr_assert_eq(s.count, (long)NTHREADS * NCALLS);
    cr_assert_not(s.wrong_thread);
    close_loop(loop);
}

static void *late_worker(void *arg) {
    ts_state *s = arg;
    usleep(20000); /* the loop is already waiting in poll */
    sq_loop_call_threadsafe(s->loop, ts_inc, s);
    sq_loop_call_threadsafe(s->loop, stop_cb, s->loop);
    return NULL;
}

Test(threadsafe, wakes_an_idle_loop) {
    sq_loop *loop = sq_loop_new();
    ts_state s = {.loop = loop, .loop_thread = pthread_self()};
    pthread_t th;
    pthread_create(&th, NULL, late_worker, &s);
    run(loop);
    pthread_join(th, NULL);
    cr_assert_eq(s.count, 1);
    cr_assert_eq(sq_loop_call_threadsafe(loop, NULL, NULL), SQ_EINVAL);
    close_loop(loop);
}

/* ---- executor ---- */

typedef struct {
    pthread_t worker;
    int input, output;
} job_data;

typedef struct {
    sq_loop *loop;
    pthread_t loop_thread;
    int done, expected;
    bool wrong_thread, ran_on_loop_thread;
} exec_state;

static exec_state *g_exec;

static int square_work(void *arg, void **result) {
    job_data *d = arg;
    d->worker = pthread_self();
    d->output = d->input * d->input;
    *result = d;
    return 0;
}

static void square_done(sq_loop *loop, int status, void *result, void *arg) {
    exec_state *s = g_exec;
    job_data *d = arg;
    cr_assert_eq(status, 0);
    cr_assert_eq(result, d);
    cr_assert_eq(d->output, d->input * d->input);
    if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread = true;
    if (pthread_equal(d->worker, s->loop_thread)) s->ran_on_loop_thread = true;
    if (++s->done == s->expected) sq_loop_stop(loop);
}

Test(executor, results_on_loop_thread) {
    sq_loop *loop = sq_loop_new();
    exec_state s = {.loop = loop, .loop_thread = pthread_self(), .expected = 16};
    g_exec = &s;
    job_data jobs[16];
    for (int i = 0; i < 16; i++) {
        jobs[i] = (job_data){.input = i};
        cr_assert_eq(sq_loop_run_in_executor(loop, square_work, &jobs[i], square_done), 0);
    }
    cr_assert_eq(sq_loop_close(loop), SQ_EBUSY, "jobs in flight");
    run(loop);
    cr_assert_eq(s.done, 16);
    cr_assert_not(s.wrong_thread, "done callbacks run on the loop thread");
    cr_assert_not(s.ran_on_loop_thread, "work runs on a pool thread");
    cr_assert_eq(sq_loop_run_in_executor(loop, NULL, NULL, square_done), SQ_EINVAL);
    close_loop(loop);
}

static int fail_work(void *arg, void **result) { return SQ_ENOENT; }
static void fail_done(sq_loop *loop, int status, void *result, void *arg) {
    *(int *)arg = status;
    sq_loop_stop(loop);
}

Test(executor, error_status) {
    sq_loop *loop = sq_loop_new();
    int status = 1;
    cr_assert_eq(sq_loop_run_in_executor(loop, fail_work, &status, fail_done), 0);
    run(loop);
    cr_assert_eq(status, SQ_ENOENT);
    close_loop(loop);
}

static int frees;
static void count_free(void *p) {
    frees++;
    free(p);
}
static int alloc_work(void *arg, void **result) {
    int *v = malloc(sizeof *v);
    *v = *(int *)arg * 2;
    *result = v;
    return 0;
}
static void stop_on_done(sq_future *f, void *arg) { sq_loop_stop(arg); }

Test(executor, future_variant) {
    sq_loop *loop = sq_loop_new();
    int in = 21;
    sq_future *f = sq_loop_run_in_executor_future(loop, alloc_work, &in, count_free);
    cr_assert_not_null(f);
    sq_future_add_done(f, stop_on_done, loop);
    run(loop);
    cr_assert_eq(sq_future_error(f), 0);
    cr_assert_eq(*(int *)sq_future_value(f), 42);
    cr_assert_eq(frees, 0);
    sq_future_unref(f);
    cr_assert_eq(frees, 1, "the future owns the result");

    sq_future *g = sq_loop_run_in_executor_future(loop, fail_work, NULL, count_free);
    sq_future_add_done(g, stop_on_done, loop);
    run(loop);
    cr_assert_eq(sq_future_error(g), SQ_ENOENT);
    sq_future_unref(g);
    close_loop(loop);
}

/* Blocks pool threads until released, so a later job is still queued. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int gate_entered;

static int gate_work(void *arg, void **result) {
    pthread_mutex_lock(&gate_lock);
    gate_entered++;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return 0;
}
static int gate_done_count;
static void gate_done(sq_loop *loop, int status, void *result, void *arg) {
    if (++gate_done_count == 4) sq_loop_stop(loop);
}
static bool queued_ran;
static int queued_work(void *arg, void **result) {
    queued_ran = true;
    return 0;
}

Test(executor, cancel_queued_job_through_future) {
    setenv("UV_THREADPOOL_SIZE", "4", 1); /* read when the pool starts */
    sq_loop *loop = sq_loop_new();
    for (int i = 0; i < 4; i++)
        sq_loop_run_in_executor(loop, gate_work, NULL, gate_done);
    pthread_mutex_lock(&gate_lock);
    while (gate_entered < 4)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    /* All four pool threads are busy: this job waits in the queue. */
    sq_future *f = sq_loop_run_in_executor_future(loop, queued_work, NULL, NULL);
    cr_assert_eq(sq_future_cancel(f), 0);
    cr_assert(sq_future_cancelled(f));
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    run(loop);
    /* The withdrawn job's completion comes through the loop too. */
    while (loop->nwork > 0) {
        sq_loop_call_later(loop, 5, stop_cb, loop, NULL);
        run(loop);
    }
    cr_assert_not(queued_ran, "a withdrawn job never runs");
    sq_future_unref(f);
    close_loop(loop);
}

/* ---- close ---- */

static bool user_closed;
static void on_user_closed(uv_handle_t *h) {
    user_closed = true;
    sq_loop *loop = sq__loop_from_uv(h->loop);
    /* Inside sq_loop_close: every scheduling call is refused. */
    cr_assert_eq(sq_loop_call_soon(loop, must_not_run, NULL), SQ_ECLOSED);
    cr_assert_eq(sq_loop_call_later(loop, 0, must_not_run, NULL, NULL), SQ_ECLOSED);
    cr_assert_eq(sq_loop_call_threadsafe(loop, must_not_run, NULL), SQ_ECLOSED);
    cr_assert_null(sq_future_new(loop));
    cr_assert_null(sq_periodic_new(loop, 10, per_tick, NULL));
    cr_assert_eq(sq_loop_close(loop), SQ_ECLOSED);
}

Test(close, refused_while_handles_remain) {
    sq_loop *loop = sq_loop_new();
    uv_timer_t t;
    uv_timer_init(sq_loop_uv(loop), &t);
    cr_assert_eq(sq_loop_close(loop), SQ_EBUSY);
    /* Refusing changed nothing: the loop still works. */
    cr_assert_eq(sq_loop_call_soon(loop, stop_cb, loop), 0);
    run(loop);
    cr_assert_eq(sq_loop_close(loop), SQ_EBUSY);
    /* A handle whose close has begun no longer blocks: its close callback
     * runs inside sq_loop_close. */
    uv_close((uv_handle_t *)&t, on_user_closed);
    close_loop(loop);
    cr_assert(user_closed);
}

static void future_cb_must_not_run(sq_future *f, void *arg) {
    cr_assert_fail("future callback ran");
}

Test(close, no_callback_after_close) {
    sq_loop *loop = sq_loop_new();
    cr_assert_eq(sq_loop_call_soon(loop, must_not_run, NULL), 0);
    cr_assert_eq(sq_loop_call_later(loop, 0, must_not_run, NULL, NULL), 0);
    cr_assert_eq(sq_loop_call_later(loop, 1000000, must_not_run, NULL, NULL), 0);
    cr_assert_eq(sq_loop_call_threadsafe(loop, must_not_run, NULL), 0);
    sq_future *f = sq_future_new(loop);
    sq_future_add_done(f, future_cb_must_not_run, NULL);
    sq_future *g = sq_future_new(loop);
    sq_future_add_done(g, future_cb_must_not_run, NULL);
    sq_future_resolve(g, malloc(8), free); /* its dispatch is queued */
    sq_future_unref(g);
    close_loop(loop);
    /* f outlives its loop: usable, inert. */
    cr_assert_null(sq_future_loop(f));
    cr_assert_eq(sq_future_add_done(f, future_cb_must_not_run, NULL), SQ_ECLOSED);
    cr_assert_eq(sq_future_resolve(f, malloc(8), free), 0);
    cr_assert_not_null(sq_future_value(f));
    sq_future_unref(f);
}

/* ---- signals and graceful shutdown ---- */

typedef struct {
    sq_loop *loop;
    int hook1, hook2, done2;
    sq_shutdown_done done;
    void *token;
    bool stopped_before_done;
} sd_state;

static void hook_sync(sq_loop *loop, void *arg, sq_shutdown_done done, void *token) {
    sd_state *s = arg;
    s->hook1++;
    cr_assert(sq_loop_is_shutting_down(loop));
    done(token);
    done(token); /* twice: harmless */
}

static void finish_later(void *arg) {
    sd_state *s = arg;
    s->done2++;
    s->done(s->token);
}

static void hook_async(sq_loop *loop, void *arg, sq_shutdown_done done, void *token) {
    sd_state *s = arg;
    s->hook2++;
    s->done = done;
    s->token = token;
    sq_loop_call_later(loop, 50, finish_later, s, NULL);
}

static void raise_term(void *arg) { raise(SIGTERM); }

Test(signals, sigterm_runs_hooks_then_stops) {
    sq_loop *loop = sq_loop_new();
    sd_state s = {.loop = loop};
    cr_assert_eq(sq_loop_handle_signals(loop), 0);
    cr_assert_eq(sq_loop_handle_signals(loop), 0, "idempotent");
    cr_assert_eq(sq_loop_add_shutdown_hook(loop, hook_sync, &s), 0);
    cr_assert_eq(sq_loop_add_shutdown_hook(loop, hook_async, &s), 0);
    cr_assert_eq(sq_loop_add_shutdown_hook(loop, hook_async, &s), SQ_EALREADY);
    sq_loop_call_later(loop, 10, raise_term, NULL, NULL);
    uint64_t t0 = sq_loop_time(loop);
    run(loop);
    cr_assert_eq(s.hook1, 1);
    cr_assert_eq(s.hook2, 1);
    cr_assert_eq(s.done2, 1, "the loop waited for the slow hook");
    cr_assert_geq(sq_loop_time(loop), t0 + 60);
    cr_assert_not(sq_loop_is_shutting_down(loop));
    close_loop(loop); /* the signal handles are the loop's own */
}

static void hook_never_done(sq_loop *loop, void *arg, sq_shutdown_done done, void *token) {
    (*(int *)arg)++;
}

Test(signals, second_signal_stops_at_once) {
    sq_loop *loop = sq_loop_new();
    int called = 0;
    sq_loop_handle_signals(loop);
    sq_loop_add_shutdown_hook(loop, hook_never_done, &called);
    sq_loop_call_later(loop, 10, raise_term, NULL, NULL);
    sq_loop_call_later(loop, 60, raise_term, NULL, NULL);
    uint64_t t0 = sq_loop_time(loop);
    run(loop);
    cr_assert_eq(called, 1, "hooks are called once");
    cr_assert_geq(sq_loop_time(loop), t0 + 60);
    close_loop(loop);
}

static void raise_int(void *arg) { raise(SIGINT); }

Test(signals, sigint_without_hooks_stops) {
    sq_loop *loop = sq_loop_new();
    sq_loop_handle_signals(loop);
    sq_loop_call_later(loop, 10, raise_int, NULL, NULL);
    run(loop);
    close_loop(loop);
}

static void shutdown_cb(void *arg) { sq_loop_shutdown(arg); }

Test(shutdown, deadline_stops_the_loop) {
    sq_loop *loop = sq_loop_new();
    int called = 0;
    sq_loop_add_shutdown_hook(loop, hook_never_done, &called);
    cr_assert_eq(sq_loop_set_shutdown_timeout(loop, 100), 0);
    sq_loop_call_soon(loop, shutdown_cb, loop);
    uint64_t t0 = sq_loop_time(loop);
    run(loop);
    cr_assert_eq(called, 1);
    cr_assert_geq(sq_loop_time(loop), t0 + 100);
    /* A new run starts afresh: another shutdown calls the hooks again. */
    sq_loop_call_soon(loop, shutdown_cb, loop);
    run(loop);
    cr_assert_eq(called, 2);
    close_loop(loop);
}

typedef struct {
    sq_loop *loop;
    int called;
} rm_state;

static void hook_removed_later(sq_loop *loop, void *arg, sq_shutdown_done done, void *token);
static void remove_it(void *arg) {
    rm_state *s = arg;
    cr_assert_eq(sq_loop_remove_shutdown_hook(s->loop, hook_removed_later, s), 0);
}
static void hook_removed_later(sq_loop *loop, void *arg, sq_shutdown_done done, void *token) {
    rm_state *s = arg;
    s->called++;
    sq_loop_call_later(loop, 20, remove_it, s, NULL);
}

Test(shutdown, removing_a_waited_hook_counts_as_done) {
    sq_loop *loop = sq_loop_new();
    rm_state s = {loop, 0};
    int never = 0;
    sq_loop_add_shutdown_hook(loop, hook_never_done, &never);
    cr_assert_eq(sq_loop_remove_shutdown_hook(loop, hook_never_done, &never), 0);
    cr_assert_eq(sq_loop_remove_shutdown_hook(loop, hook_never_done, &never), SQ_ENOENT);
    sq_loop_add_shutdown_hook(loop, hook_removed_later, &s);
    sq_loop_call_soon(loop, shutdown_cb, loop);
    run(loop);
    cr_assert_eq(s.called, 1);
    cr_assert_eq(never, 0, "a removed hook is not called");
    close_loop(loop);
}
