/* Futures: settling, callbacks, references, cancel, then, follow, gather,
 * with_timeout, run_sync, and loop close. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <squall.h>

static void stop_cb(void *arg) { sq_loop_stop(arg); }

static void run(sq_loop *loop) {
    sq_timer_id guard;
    cr_assert_eq(sq_loop_call_later(loop, 30000, stop_cb, loop, &guard), 0);
    cr_assert_eq(sq_loop_run(loop), 0);
    sq_loop_cancel(loop, guard);
}

/* Runs the loop for a few iterations' worth of time. */
static void spin(sq_loop *loop, uint64_t ms) {
    sq_loop_call_later(loop, ms, stop_cb, loop, NULL);
    run(loop);
}

static int frees;
static void count_free(void *p) {
    frees++;
    free(p);
}

static int *new_int(int v) {
    int *p = malloc(sizeof *p);
    *p = v;
    return p;
}

typedef struct {
    int calls;
    int order[16];
    int n;
    int last_err;
    void *last_value;
} cb_rec;

static void on_done(sq_future *f, void *arg) {
    cb_rec *r = arg;
    r->calls++;
    r->last_err = sq_future_error(f);
    r->last_value = sq_future_value(f);
}

/* ---- basics ---- */

Test(future, resolve_runs_callbacks_later_not_inside) {
    sq_loop *loop = sq_loop_new();
    sq_future *f = sq_future_new(loop);
    cr_assert_not_null(f);
    cb_rec r = {0};
    cr_assert_eq(sq_future_add_done(f, on_done, &r), 0);
    cr_assert_not(sq_future_done(f));
    cr_assert_eq(sq_future_error(f), SQ_EPENDING);
    cr_assert_null(sq_future_value(f));
    int *v = new_int(7);
    cr_assert_eq(sq_future_resolve(f, v, count_free), 0);
    cr_assert_eq(r.calls, 0, "never synchronously inside resolve");
    cr_assert(sq_future_done(f));
    spin(loop, 5);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.last_err, 0);
    cr_assert_eq(r.last_value, v);
    /* Added after it is done: on the next iteration, not now. */
    cr_assert_eq(sq_future_add_done(f, on_done, &r), 0);
    cr_assert_eq(r.calls, 1);
    spin(loop, 5);
    cr_assert_eq(r.calls, 2);
    cr_assert_eq(sq_future_add_done(f, NULL, NULL), SQ_EINVAL);
    frees = 0;
    sq_future_unref(f);
    cr_assert_eq(frees, 1, "the value is freed with the future");
    cr_assert_eq(sq_loop_close(loop), 0);
}

typedef struct {
    cb_rec *r;
    int id;
} ord_item;

static void on_done_ordered(sq_future *f, void *arg) {
    ord_item *it = arg;
    it->r->order[it->r->n++] = it->id;
}

Test(future, callbacks_in_order) {
    sq_loop *loop = sq_loop_new();
    sq_future *f = sq_future_new(loop);
    cb_rec r = {0};
    ord_item items[10];
    for (int i = 0; i < 10; i++) {
        items[i] = (ord_item){&r, i};
        sq_future_add_done(f, on_done_ordered, &items[i]);
    }
    sq_future_resolve(f, NULL, NULL);
    spin(loop, 5);
    cr_assert_eq(r.n, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(r.order[i], i);
    sq_future_unref(f);
    sq_loop_close(loop);
}

static ord_item late = {0};
static void adds_another(sq_future *f, void *arg) {
    cb_rec *r = arg;
    r->calls++;
    late.r = r;
    late.id = 42;
    sq_future_add_done(f, on_done_ordered, &late);
    cr_assert_eq(r->n, 0, "not run inside add_done, even during a dispatch");
}

Test(future, callback_added_during_dispatch_runs_later) {
    sq_loop *loop = sq_loop_new();
    sq_future *f = sq_future_new(loop);
    cb_rec r = {0};
    sq_future_add_done(f, adds_another, &r);
    sq_future_resolve(f, NULL, NULL);
    spin(loop, 5);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.order[0], 42);
    sq_future_unref(f);
    sq_loop_close(loop);
}

Test(future, reject_and_settle_once) {
    sq_loop *loop = sq_loop_new();
    sq_future *f = sq_future_new(loop);
    cb_rec r = {0};
    sq_future_add_done(f, on_done, &r);
    cr_assert_eq(sq_future_reject(f, 5), SQ_EINVAL);
    cr_assert_eq(sq_future_reject(f, SQ_ECONNRESET), 0);
    frees = 0;
    cr_assert_eq(sq_future_resolve(f, new_int(1), count_free), SQ_ESTATE);
    cr_assert_eq(frees, 1, "a late value is freed at once");
    cr_assert_eq(sq_future_reject(f, SQ_EPIPE), SQ_ESTATE);
    spin(loop, 5);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.last_err, SQ_ECONNRESET);
    cr_assert_null(r.last_value);
    cr_assert_not(sq_future_cancelled(f));
    cr_assert_eq(sq_future_cancel(f), SQ_ESTATE);
    sq_future_unref(f);
    sq_loop_close(loop);
}

static int hook_calls;
static void cancel_hook(sq_future *f, void *arg) {
    hook_calls++;
    cr_assert(sq_future_cancelled(f), "settled before the hook runs");
    *(bool *)arg = true;
}

Test(future, cancel) {
    sq_loop *loop = sq_loop_new();
    sq_future *f = sq_future_new(loop);
    bool stopped = false;
    cb_rec r = {0};
    sq_future_set_cancel_hook(f, cancel_hook, &stopped);
    sq_future_add_done(f, on_done, &r);
    hook_calls = 0;
    cr_assert_eq(sq_future_cancel(f), 0);
    cr_assert(stopped, "the hook runs synchronously");
    cr_assert_eq(hook_calls, 1);
    cr_assert(sq_future_cancelled(f));
    cr_assert_eq(sq_future_error(f), SQ_ECANCELED);
    cr_assert_eq(sq_future_cancel(f), SQ_ESTATE);
    cr_assert_eq(hook_calls, 1);
    frees = 0;
    cr_assert_eq(sq_future_resolve(f, new_int(3), count_free), SQ_ECANCELED, "harmless");
    cr_assert_eq(frees, 1);
    spin(loop, 5);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.last_err, SQ_ECANCELED);
    sq_future_unref(f);

    /* The hook never runs once the future settled normally. */
    sq_future *g = sq_future_new(loop);
    sq_future_set_cancel_hook(g, cancel_hook, &stopped);
    sq_future_resolve(g, NULL, NULL);
    sq_future_cancel(g);
    cr_assert_eq(hook_calls, 1);
    sq_future_unref(g);
    sq_loop_close(loop);
}

static void must_not_run(sq_future *f, void *arg) {
    cr_assert_fail("callback of a freed future ran");
}

Test(future, freed_pending_future_never_calls_back) {
    sq_loop *loop = sq_loop_new();
    sq_future *f = sq_future_new(loop);
    sq_future_add_done(f, must_not_run, NULL);
    sq_future_unref(f);
    spin(loop, 10);
    sq_loop_close(loop);
}

Test(future, refs_keep_it_alive) {
    sq_loop *loop = sq_loop_new();
    sq_future *f = sq_future_new(loop);
    cr_assert_eq(sq_future_ref(f), f);
    cb_rec r = {0};
    sq_future_add_done(f, on_done, &r);
    frees = 0;
    sq_future_resolve(f, new_int(1), count_free);
    sq_future_unref(f);
    sq_future_unref(f); /* the dispatch still holds it */
    cr_assert_eq(frees, 0);
    spin(loop, 5);
    cr_assert_eq(r.calls, 1, "callbacks of a settled future run even if the user let go");
    cr_assert_eq(frees, 1);
    sq_future_unref(NULL);
    sq_loop_close(loop);
}

/* ---- then and follow ---- */

static void double_it(sq_future *src, sq_future *next, void *arg) {
    int *v = sq_future_value(src);
    sq_future_resolve(next, new_int(*v * 2), count_free);
}

static sq_future *g_other;
static void follow_other(sq_future *src, sq_future *next, void *arg) {
    cr_assert_eq(sq_future_follow(next, g_other), 0);
}

static void never_called(sq_future *src, sq_future *next, void *arg) {
    cr_assert_fail("then fn called for a failed source");
}

static void resolve_other(void *arg) { sq_future_resolve(arg, new_int(100), count_free); }

Test(future, then_chains_values_and_futures) {
    sq_loop *loop = sq_loop_new();
    frees = 0;
    sq_future *a = sq_future_new(loop);
    sq_future *b = sq_future_then(a, double_it, NULL);
    g_other = sq_future_new(loop);
    sq_future *c = sq_future_then(b, follow_other, NULL);
    sq_future *d = sq_future_then(c, double_it, NULL);
    cr_assert(b && c && d);
    sq_future_resolve(a, new_int(5), count_free);
    sq_loop_call_later(loop, 10, resolve_other, g_other, NULL);
    cr_assert_eq(sq_future_run_sync(d, 0), 0);
    cr_assert_eq(*(int *)sq_future_value(b), 10);
    cr_assert_eq(sq_future_value(c), sq_future_value(g_other), "follow shares the value");
    cr_assert_eq(*(int *)sq_future_value(d), 200);
    sq_future_unref(g_other); /* c keeps it alive for its value */
    cr_assert_eq(*(int *)sq_future_value(c), 100);
    sq_future_unref(a);
    sq_future_unref(b);
    sq_future_unref(c);
    sq_future_unref(d);
    cr_assert_eq(frees, 4);
    sq_loop_close(loop);
}

Test(future, then_propagates_errors) {
    sq_loop *loop = sq_loop_new();
    sq_future *a = sq_future_new(loop);
    sq_future *b = sq_future_then(a, never_called, NULL);
    sq_future *c = sq_future_then(b, never_called, NULL);
    sq_future_reject(a, SQ_ECONNRESET);
    cr_assert_eq(sq_future_run_sync(c, 0), SQ_ECONNRESET);
    cr_assert_eq(sq_future_error(b), SQ_ECONNRESET);
    cr_assert_null(sq_future_then(a, NULL, NULL));
    sq_future_unref(a);
    sq_future_unref(b);
    sq_future_unref(c);
    sq_loop_close(loop);
}

Test(future, cancelled_then_never_calls_fn) {
    sq_loop *loop = sq_loop_new();
    sq_future *a = sq_future_new(loop);
    sq_future *b = sq_future_then(a, never_called, NULL);
    cr_assert_eq(sq_future_cancel(b), 0);
    cr_assert_not(sq_future_done(a), "cancelling next does not cancel the source");
    sq_future_resolve(a, new_int(1), free);
    spin(loop, 5);
    sq_future_unref(a);
    sq_future_unref(b);
    sq_loop_close(loop);
}

Test(future, follow_errors) {
    sq_loop *loop = sq_loop_new();
    sq_future *a = sq_future_new(loop), *b = sq_future_new(loop);
    cr_assert_eq(sq_future_follow(a, a), SQ_EINVAL);
    cr_assert_eq(sq_future_follow(b, a), 0);
    sq_future_reject(a, SQ_EPIPE);
    cr_assert_eq(sq_future_run_sync(b, 0), SQ_EPIPE);
    cr_assert_eq(sq_future_follow(b, a), SQ_ESTATE);
    sq_loop *other = sq_loop_new();
    sq_future *x = sq_future_new(other);
    sq_future *y = sq_future_new(loop);
    cr_assert_eq(sq_future_follow(y, x), SQ_EINVAL, "different loops");
    sq_future_unref(x);
    sq_future_unref(y);
    sq_future_unref(a);
    sq_future_unref(b);
    sq_loop_close(loop);
    sq_loop_close(other);
}

/* ---- gather ---- */

typedef struct {
    sq_future *f;
    int v;
} settle_item;

static void resolve_item(void *arg) {
    settle_item *it = arg;
    sq_future_resolve(it->f, new_int(it->v), count_free);
}

Test(future, gather_all) {
    sq_loop *loop = sq_loop_new();
    sq_future *fs[3];
    settle_item items[3];
    for (int i = 0; i < 3; i++)
        fs[i] = sq_future_new(loop);
    /* Settle out of order. */
    int delays[3] = {30, 10, 20};
    for (int i = 0; i < 3; i++) {
        items[i] = (settle_item){fs[i], i + 1};
        sq_loop_call_later(loop, (uint64_t)delays[i], resolve_item, &items[i], NULL);
    }
    sq_future *g = sq_future_gather(loop, fs, 3);
    cr_assert_not_null(g);
    for (int i = 0; i < 3; i++)
        sq_future_unref(fs[i]); /* gather holds its own */
    cr_assert_eq(sq_future_run_sync(g, 0), 0);
    sq_future **vals = sq_future_value(g);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(*(int *)sq_future_value(vals[i]), i + 1);
    frees = 0;
    sq_future_unref(g);
    cr_assert_eq(frees, 3, "the inputs go with the gather future");

    sq_future *empty = sq_future_gather(loop, NULL, 0);
    cr_assert_not_null(empty);
    cr_assert_eq(sq_future_run_sync(empty, 0), 0);
    sq_future_unref(empty);
    sq_loop_close(loop);
}

static void reject_item(void *arg) { sq_future_reject(arg, SQ_ENOENT); }

Test(future, gather_first_error_rejects_others_keep_running) {
    sq_loop *loop = sq_loop_new();
    sq_future *fs[3];
    for (int i = 0; i < 3; i++)
        fs[i] = sq_future_new(loop);
    sq_future *g = sq_future_gather(loop, fs, 3);
    sq_loop_call_later(loop, 5, reject_item, fs[1], NULL);
    cr_assert_eq(sq_future_run_sync(g, 0), SQ_ENOENT);
    cr_assert_not(sq_future_done(fs[0]), "others are not cancelled");
    cr_assert_not(sq_future_done(fs[2]));
    sq_future_resolve(fs[0], NULL, NULL);
    sq_future_reject(fs[2], SQ_EPIPE);
    spin(loop, 5);
    cr_assert_eq(sq_future_error(g), SQ_ENOENT, "the first error stays");
    for (int i = 0; i < 3; i++)
        sq_future_unref(fs[i]);
    sq_future_unref(g);
    sq_loop_close(loop);
}

Test(future, cancelling_gather_cancels_inputs) {
    sq_loop *loop = sq_loop_new();
    sq_future *fs[2] = {sq_future_new(loop), sq_future_new(loop)};
    bool stopped = false;
    hook_calls = 0;
    sq_future_set_cancel_hook(fs[1], cancel_hook, &stopped);
    sq_future_resolve(fs[0], NULL, NULL);
    sq_future *g = sq_future_gather(loop, fs, 2);
    cr_assert_eq(sq_future_cancel(g), 0);
    cr_assert(sq_future_cancelled(fs[1]));
    cr_assert(stopped, "the producer heard of it");
    cr_assert_not(sq_future_cancelled(fs[0]));
    spin(loop, 5);
    sq_future_unref(fs[0]);
    sq_future_unref(fs[1]);
    sq_future_unref(g);
    sq_loop_close(loop);
}

Test(future, gather_rejects_bad_input) {
    sq_loop *loop = sq_loop_new();
    sq_future *fs[2] = {sq_future_new(loop), NULL};
    cr_assert_null(sq_future_gather(loop, fs, 2));
    cr_assert_null(sq_future_gather(loop, NULL, 1));
    sq_future_unref(fs[0]);
    sq_loop_close(loop);
}

/* ---- with_timeout ---- */

Test(future, with_timeout_times_out_and_cancels_inner) {
    sq_loop *loop = sq_loop_new();
    sq_future *inner = sq_future_new(loop);
    bool stopped = false;
    hook_calls = 0;
    sq_future_set_cancel_hook(inner, cancel_hook, &stopped);
    uint64_t t0 = sq_loop_time(loop);
    sq_future *t = sq_future_with_timeout(inner, 30);
    cr_assert_not_null(t);
    cr_assert_eq(sq_future_run_sync(t, 0), SQ_ETIMEDOUT);
    cr_assert_geq(sq_loop_time(loop), t0 + 30, "not early");
    cr_assert(sq_future_cancelled(inner));
    cr_assert(stopped);
    frees = 0;
    cr_assert_eq(sq_future_resolve(inner, new_int(1), count_free), SQ_ECANCELED);
    cr_assert_eq(frees, 1);
    sq_future_unref(inner);
    sq_future_unref(t);
    sq_loop_close(loop);
}

Test(future, with_timeout_in_time) {
    sq_loop *loop = sq_loop_new();
    sq_future *inner = sq_future_new(loop);
    settle_item it = {inner, 9};
    sq_loop_call_later(loop, 5, resolve_item, &it, NULL);
    sq_future *t = sq_future_with_timeout(inner, 10000);
    cr_assert_eq(sq_future_run_sync(t, 0), 0);
    cr_assert_eq(*(int *)sq_future_value(t), 9);
    cr_assert_not(sq_future_cancelled(inner));
    sq_future_unref(inner);
    sq_future_unref(t);
    /* Already settled: follows at once, no timer. */
    sq_future *done = sq_future_new(loop);
    sq_future_reject(done, SQ_EPIPE);
    sq_future *t2 = sq_future_with_timeout(done, 0);
    cr_assert_eq(sq_future_error(t2), SQ_EPIPE);
    sq_future_unref(done);
    sq_future_unref(t2);
    sq_loop_close(loop);
}

Test(future, cancelling_with_timeout_cancels_inner) {
    sq_loop *loop = sq_loop_new();
    sq_future *inner = sq_future_new(loop);
    sq_future *t = sq_future_with_timeout(inner, 10000);
    cr_assert_eq(sq_future_cancel(t), 0);
    cr_assert(sq_future_cancelled(inner));
    spin(loop, 5);
    sq_future_unref(t);
    sq_future_unref(inner);
    sq_loop_close(loop); /* the timer was withdrawn: nothing leaks */
}

/* ---- run_sync ---- */

Test(future, run_sync_timeout_cancels) {
    sq_loop *loop = sq_loop_new();
    sq_future *f = sq_future_new(loop);
    cr_assert_eq(sq_future_run_sync(f, 20), SQ_ETIMEDOUT);
    cr_assert(sq_future_cancelled(f));
    sq_future_unref(f);

    sq_future *g = sq_future_new(loop);
    sq_loop_call_later(loop, 5, stop_cb, loop, NULL);
    cr_assert_eq(sq_future_run_sync(g, 0), SQ_EPENDING, "stopped some other way");
    settle_item it = {g, 1};
    sq_loop_call_soon(loop, resolve_item, &it);
    cr_assert_eq(sq_future_run_sync(g, 1000), 0, "and again, now it settles");
    sq_future_unref(g);
    sq_loop_close(loop);
}

static void nested_run_sync(void *arg) {
    cr_assert_eq(sq_future_run_sync(arg, 0), SQ_ESTATE);
    sq_future_resolve(arg, NULL, NULL);
}

Test(future, run_sync_refused_inside_loop) {
    sq_loop *loop = sq_loop_new();
    sq_future *f = sq_future_new(loop);
    sq_loop_call_soon(loop, nested_run_sync, f);
    cr_assert_eq(sq_future_run_sync(f, 0), 0);
    sq_future_unref(f);
    sq_loop_close(loop);
}

/* ---- loop close ---- */

Test(future, loop_close_drops_everything_without_leaks) {
    /* Run under ASan/LSan: every internal link must be released. */
    sq_loop *loop = sq_loop_new();
    sq_future *a = sq_future_new(loop), *b = sq_future_new(loop);
    sq_future *t = sq_future_with_timeout(a, 100000);
    sq_future *fs[2] = {a, b};
    sq_future *g = sq_future_gather(loop, fs, 2);
    sq_future *th = sq_future_then(b, double_it, NULL);
    sq_future_add_done(g, must_not_run, NULL);
    sq_future_add_done(t, must_not_run, NULL);
    sq_future_add_done(th, must_not_run, NULL);
    sq_future_resolve(b, new_int(1), free); /* dispatch queued, never run */
    sq_future_unref(g);
    sq_future_unref(t);
    sq_future_unref(th);
    cr_assert_eq(sq_loop_close(loop), 0);
    cr_assert_null(sq_future_loop(a));
    cr_assert_eq(sq_future_resolve(a, NULL, NULL), 0);
    cr_assert_eq(sq_future_cancel(b), SQ_ESTATE);
    sq_future_unref(a);
    sq_future_unref(b);
}
