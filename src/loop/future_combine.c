/* Futures: follow, then, gather, with_timeout, run_sync.
 *
 * Each combinator links futures with internal done callbacks whose arg is a
 * reference to the future they settle; the callback releases it when it
 * runs, and its drop function when it is discarded unrun, so no reference
 * survives the loop's close.
 */
#include <stdlib.h>

#include "loop/loop_impl.h"

/* ---- follow ---- */

static void follow_cb(sq_future *src, void *arg) {
    sq__future_settle_from(arg, src);
    sq_future_unref(arg);
}

int sq_future_follow(sq_future *f, sq_future *src) {
    if (!f || !src || f == src) return SQ_EINVAL;
    if (!sq_future_loop(f) || !sq_future_loop(src)) return SQ_ECLOSED;
    if (sq_future_loop(f) != sq_future_loop(src)) return SQ_EINVAL;
    if (sq_future_done(f)) return SQ_ESTATE;
    int err = sq__future_add_cb(src, follow_cb, sq_future_ref(f), sq__future_unref_cb);
    if (err) sq_future_unref(f);
    return err;
}

/* ---- then ---- */

typedef struct {
    sq_future_then_fn fn;
    void *arg;
} then_extra;

static void then_cb(sq_future *src, void *arg) {
    sq_future *next = arg;
    if (!sq_future_done(next)) {
        int err = sq_future_error(src);
        if (err) {
            sq_future_reject(next, err);
        } else {
            then_extra *x = sq__future_extra(next);
            x->fn(src, next, x->arg);
        }
    }
    sq_future_unref(next);
}

sq_future *sq_future_then(sq_future *f, sq_future_then_fn fn, void *arg) {
    if (!f || !fn) return NULL;
    sq_future *next = sq__future_alloc(sq_future_loop(f), sizeof(then_extra));
    if (!next) return NULL;
    then_extra *x = sq__future_extra(next);
    x->fn = fn;
    x->arg = arg;
    if (sq__future_add_cb(f, then_cb, sq_future_ref(next), sq__future_unref_cb) != 0) {
        sq_future_unref(next);
        sq_future_unref(next);
        return NULL;
    }
    return next;
}

/* ---- gather ---- */

typedef struct {
    size_t n, remaining;
    sq_future *items[];
} gather_extra;

static void gather_cb(sq_future *item, void *arg) {
    sq_future *g = arg;
    if (!sq_future_done(g)) {
        gather_extra *x = sq__future_extra(g);
        int err = sq_future_error(item);
        if (err)
            sq_future_reject(g, err);
        else if (--x->remaining == 0)
            sq_future_resolve(g, x->items, NULL);
    }
    sq_future_unref(g);
}

static void gather_cancel(sq_future *g, void *arg) {
    gather_extra *x = sq__future_extra(g);
    for (size_t i = 0; i < x->n; i++)
        sq_future_cancel(x->items[i]);
}

static void gather_fini(sq_future *g) {
    gather_extra *x = sq__future_extra(g);
    for (size_t i = 0; i < x->n; i++)
        sq_future_unref(x->items[i]);
}

sq_future *sq_future_gather(sq_loop *loop, sq_future *const *futures, size_t n) {
    if (!loop || (n > 0 && !futures)) return NULL;
    if (n > (SIZE_MAX - sizeof(gather_extra)) / sizeof(sq_future *)) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!futures[i] || sq_future_loop(futures[i]) != loop) return NULL;
    sq_future *g = sq__future_alloc(loop, sizeof(gather_extra) + n * sizeof(sq_future *));
    if (!g) return NULL;
    gather_extra *x = sq__future_extra(g);
    for (size_t i = 0; i < n; i++)
        x->items[i] = sq_future_ref(futures[i]);
    x->n = x->remaining = n;
    sq__future_set_fini(g, gather_fini);
    if (n == 0) {
        sq_future_resolve(g, NULL, NULL);
        return g;
    }
    for (size_t i = 0; i < n; i++) {
        if (sq__future_add_cb(x->items[i], gather_cb, sq_future_ref(g), sq__future_unref_cb)) {
            sq_future_unref(g);
            while (i-- > 0)
                if (sq__future_forget_cb(x->items[i], gather_cb, g)) sq_future_unref(g);
            sq_future_unref(g);
            return NULL;
        }
    }
    sq_future_set_cancel_hook(g, gather_cancel, NULL);
    return g;
}

/* ---- with_timeout ---- */

typedef struct {
    sq_future *inner;
    sq_timer_id timer;
} timeout_extra;

static void timeout_stop_timer(sq_future *out) {
    timeout_extra *x = sq__future_extra(out);
    sq_timer_id id = x->timer;
    x->timer = 0;
    /* The timer's drop releases its reference to out; the caller holds
     * another. */
    if (id) sq_loop_cancel(sq_future_loop(out), id);
}

static void timeout_fired(void *arg) {
    sq_future *out = arg;
    timeout_extra *x = sq__future_extra(out);
    x->timer = 0;
    if (!sq_future_done(out)) {
        if (sq_future_done(x->inner)) {
            /* Settled in time; only its callbacks had not run yet. */
            sq__future_settle_from(out, x->inner);
        } else {
            sq_future_reject(out, SQ_ETIMEDOUT);
            sq_future_cancel(x->inner);
        }
    }
    sq_future_unref(out);
}

static void timeout_inner_done(sq_future *inner, void *arg) {
    sq_future *out = arg;
    timeout_stop_timer(out);
    sq__future_settle_from(out, inner);
    sq_future_unref(out);
}

static void timeout_cancel(sq_future *out, void *arg) {
    timeout_extra *x = sq__future_extra(out);
    timeout_stop_timer(out);
    sq_future_cancel(x->inner);
}

static void timeout_fini(sq_future *out) {
    timeout_extra *x = sq__future_extra(out);
    sq_future_unref(x->inner);
}

sq_future *sq_future_with_timeout(sq_future *f, uint64_t timeout_ms) {
    if (!f) return NULL;
    sq_loop *loop = sq_future_loop(f);
    sq_future *out = sq__future_alloc(loop, sizeof(timeout_extra));
    if (!out) return NULL;
    timeout_extra *x = sq__future_extra(out);
    x->inner = sq_future_ref(f);
    sq__future_set_fini(out, timeout_fini);
    if (sq_future_done(f)) {
        sq__future_settle_from(out, f);
        return out;
    }
    if (sq__future_add_cb(f, timeout_inner_done, sq_future_ref(out), sq__future_unref_cb)) {
        sq_future_unref(out);
        sq_future_unref(out);
        return NULL;
    }
    uint64_t now = sq_loop_time(loop);
    uint64_t deadline = now + timeout_ms < now ? UINT64_MAX : now + timeout_ms;
    if (sq__timer_add(loop, deadline, timeout_fired, sq_future_ref(out), sq__future_unref_cb,
                      &x->timer)) {
        sq_future_unref(out); /* the timer's */
        if (sq__future_forget_cb(f, timeout_inner_done, out)) sq_future_unref(out);
        sq_future_unref(out);
        return NULL;
    }
    sq_future_set_cancel_hook(out, timeout_cancel, NULL);
    return out;
}

/* ---- run_sync ---- */

typedef struct {
    sq_loop *loop;
    bool done, timed_out;
} run_sync_state;

static void run_sync_done(sq_future *f, void *arg) {
    run_sync_state *s = arg;
    s->done = true;
    sq_loop_stop(s->loop);
}

static void run_sync_timeout(void *arg) {
    run_sync_state *s = arg;
    s->timed_out = true;
    sq_loop_stop(s->loop);
}

int sq_future_run_sync(sq_future *f, uint64_t timeout_ms) {
    if (!f) return SQ_EINVAL;
    sq_loop *loop = sq_future_loop(f);
    if (!loop || loop->closing) return SQ_ECLOSED;
    if (loop->running) return SQ_ESTATE;
    run_sync_state s = {loop, false, false};
    sq_timer_id timer = 0;
    sq_future_ref(f);
    int err = sq__future_add_cb(f, run_sync_done, &s, NULL);
    if (!err && timeout_ms) {
        uint64_t now = sq_loop_time(loop);
        uint64_t deadline = now + timeout_ms < now ? UINT64_MAX : now + timeout_ms;
        err = sq__timer_add(loop, deadline, run_sync_timeout, &s, NULL, &timer);
        if (err) sq__future_forget_cb(f, run_sync_done, &s);
    }
    if (!err) {
        err = sq_loop_run(loop);
        /* s lives on this stack: nothing may point to it afterwards. */
        if (!s.done) sq__future_forget_cb(f, run_sync_done, &s);
        if (!s.timed_out && timer) sq_loop_cancel(loop, timer);
        if (!err) {
            if (sq_future_done(f)) {
                err = sq_future_error(f);
            } else if (s.timed_out) {
                sq_future_cancel(f);
                err = SQ_ETIMEDOUT;
            } else {
                err = SQ_EPENDING;
            }
        }
    }
    sq_future_unref(f);
    return err;
}
