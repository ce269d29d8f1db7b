/* Periodic callbacks, scheduled as Tornado's PeriodicCallback does.
 *
 * Deadlines are kept as fractional milliseconds on the loop clock so that
 * jitter does not drift through rounding. After each tick the next deadline
 * advances from the previous deadline, not from "now": a callback that took
 * longer than an interval skips the ticks it overran instead of running
 * them in a burst (Tornado's _update_next).
 */
#include <math.h>
#include <stdlib.h>

#include "loop/loop_impl.h"

struct sq_periodic {
    uv_timer_t timer;
    sq_loop *loop;
    sq_periodic_cb cb, close_cb;
    void *arg;
    double interval, jitter, next; /* ms */
    uint32_t start_gen;            /* detects a stop + start inside the callback */
    bool running, closing;
};

static void on_tick(uv_timer_t *t);

sq_periodic *sq_periodic_new(sq_loop *loop, uint64_t interval_ms, sq_periodic_cb cb, void *arg) {
    if (!loop || !cb || interval_ms == 0 || loop->closing) return NULL;
    sq_periodic *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    uv_timer_init(loop->uv, &p->timer);
    p->loop = loop;
    p->cb = cb;
    p->arg = arg;
    p->interval = (double)interval_ms;
    return p;
}

int sq_periodic_set_jitter(sq_periodic *p, double jitter) {
    if (!(jitter >= 0.0 && jitter <= 1.0)) return SQ_EINVAL;
    p->jitter = jitter;
    return 0;
}

static void update_next(sq_periodic *p, double now) {
    double t = p->interval;
    if (p->jitter > 0.0) {
        double r = (double)(sq__loop_rand(p->loop) >> 11) * (1.0 / 9007199254740992.0);
        t *= 1.0 + p->jitter * (r - 0.5);
    }
    if (p->next <= now)
        p->next += (floor((now - p->next) / t) + 1.0) * t;
    else
        p->next += t; /* the clock is behind the schedule: still advance */
}

static void arm(sq_periodic *p) {
    /* Refresh the cached loop time first: libuv computes this iteration's
     * poll timeout from it, so after a slow callback a stale time would make
     * the poll sleep the callback's duration too long. next > now, so the
     * timeout is at least 1 ms and libuv never runs the tick again in the
     * pass that is running it. */
    uv_update_time(p->loop->uv);
    uint64_t due = (uint64_t)ceil(p->next), now = uv_now(p->loop->uv);
    uv_timer_start(&p->timer, on_tick, due > now ? due - now : 0, 0);
}

static void on_tick(uv_timer_t *t) {
    sq_periodic *p = (sq_periodic *)t;
    uint32_t gen = p->start_gen;
    p->cb(p, p->arg);
    /* The callback may have stopped, restarted or closed p; p itself stays
     * valid until the close callback, which runs in a later phase. */
    if (p->running && !p->closing && p->start_gen == gen) {
        update_next(p, (double)sq_loop_time(p->loop));
        arm(p);
    }
}

int sq_periodic_start(sq_periodic *p) {
    if (p->closing) return SQ_ECLOSED;
    if (p->running) return 0;
    p->running = true;
    p->start_gen++;
    p->next = (double)sq_loop_time(p->loop);
    update_next(p, p->next);
    arm(p);
    return 0;
}

void sq_periodic_stop(sq_periodic *p) {
    p->running = false;
    if (!p->closing) uv_timer_stop(&p->timer);
}

bool sq_periodic_is_running(const sq_periodic *p) { return p->running; }

static void on_closed(uv_handle_t *h) {
    sq_periodic *p = (sq_periodic *)h;
    if (p->close_cb) p->close_cb(p, p->arg);
    free(p);
}

void sq_periodic_close(sq_periodic *p, sq_periodic_cb close_cb) {
    if (!p || p->closing) return;
    p->running = false;
    p->closing = true;
    p->close_cb = close_cb;
    uv_close((uv_handle_t *)&p->timer, on_closed);
}
