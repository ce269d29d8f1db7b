/* SIGINT/SIGTERM and the graceful shutdown they start.
 *
 * A shutdown calls every registered hook with a token, a pointer to the
 * hook's record. Records that took part in a shutdown are kept until the
 * loop closes even if their hook is removed, so a late or repeated done()
 * with such a token always finds valid memory; its `waiting` flag tells
 * whether the call still counts.
 */
#include <stdlib.h>

#include "loop/loop_impl.h"

#define SQ__SHUTDOWN_TIMEOUT_DEFAULT 10000

typedef struct sq__hook {
    struct sq__hook *next;
    sq_loop *loop;
    sq_shutdown_hook fn;
    void *arg;
    bool removed, waiting, called;
} sq__hook;

enum { SHUTDOWN_IDLE, SHUTDOWN_DRAINING, SHUTDOWN_DONE };

struct sq__loop_ext {
    uv_signal_t sigint, sigterm;
    bool signals;
    uint8_t state;
    unsigned waiting; /* hooks not done yet, +1 while they are being called */
    sq__hook *hooks;
    uint64_t timeout_ms;
    sq_timer_id deadline;
};

static sq__loop_ext *ext_get(sq_loop *loop) {
    if (!loop->ext) {
        loop->ext = calloc(1, sizeof *loop->ext);
        if (loop->ext) loop->ext->timeout_ms = SQ__SHUTDOWN_TIMEOUT_DEFAULT;
    }
    return loop->ext;
}

bool sq__ext_owns(const sq_loop *loop, const uv_handle_t *h) {
    const sq__loop_ext *x = loop->ext;
    return x && x->signals &&
           (h == (const uv_handle_t *)&x->sigint || h == (const uv_handle_t *)&x->sigterm);
}

void sq__ext_close_handles(sq_loop *loop) {
    sq__loop_ext *x = loop->ext;
    if (!x || !x->signals) return;
    uv_close((uv_handle_t *)&x->sigint, NULL);
    uv_close((uv_handle_t *)&x->sigterm, NULL);
}

void sq__ext_free(sq_loop *loop) {
    sq__loop_ext *x = loop->ext;
    if (!x) return;
    while (x->hooks) {
        sq__hook *h = x->hooks;
        x->hooks = h->next;
        free(h);
    }
    free(x);
    loop->ext = NULL;
}

void sq__shutdown_reset(sq_loop *loop) {
    if (loop->ext && loop->ext->state == SHUTDOWN_DONE) loop->ext->state = SHUTDOWN_IDLE;
}

/* ---- the shutdown itself ---- */

static void shutdown_finish(sq_loop *loop) {
    sq__loop_ext *x = loop->ext;
    x->state = SHUTDOWN_DONE;
    x->waiting = 0;
    for (sq__hook *h = x->hooks; h; h = h->next)
        h->waiting = false;
    if (x->deadline) {
        sq_loop_cancel(loop, x->deadline);
        x->deadline = 0;
    }
    sq_loop_stop(loop);
}

static void hook_done(void *token) {
    sq__hook *h = token;
    if (!h || !h->waiting) return;
    h->waiting = false;
    sq__loop_ext *x = h->loop->ext;
    if (--x->waiting == 0) shutdown_finish(h->loop);
}

static void on_deadline(void *arg) {
    sq_loop *loop = arg;
    loop->ext->deadline = 0;
    if (loop->ext->state == SHUTDOWN_DRAINING) shutdown_finish(loop);
}

int sq_loop_shutdown(sq_loop *loop) {
    if (!loop) return SQ_EINVAL;
    if (loop->closing) return SQ_ECLOSED;
    sq__loop_ext *x = ext_get(loop);
    if (!x) return SQ_ENOMEM;
    if (x->state != SHUTDOWN_IDLE) {
        /* A second request: stop now, without waiting for the hooks. */
        sq_loop_stop(loop);
        return 0;
    }
    x->state = SHUTDOWN_DRAINING;
    if (x->timeout_ms) {
        uint64_t now = sq_loop_time(loop);
        if (sq__timer_add(loop, now + x->timeout_ms, on_deadline, loop, NULL, &x->deadline) != 0)
            x->deadline = 0; /* no deadline: the hooks still run */
    }
    /* The extra count keeps a hook that finishes synchronously from ending
     * the shutdown before the later hooks were even called. Hooks added by
     * a hook are not part of this shutdown: only the records present now are
     * marked. */
    x->waiting = 1;
    for (sq__hook *h = x->hooks; h; h = h->next) {
        if (h->removed) continue;
        h->waiting = true;
        h->called = true;
        x->waiting++;
    }
    for (sq__hook *h = x->hooks; h; h = h->next) {
        if (h->removed || !h->waiting) continue;
        h->fn(loop, h->arg, hook_done, h);
        if (x->state != SHUTDOWN_DRAINING) break; /* finished by the deadline meanwhile */
    }
    if (x->state == SHUTDOWN_DRAINING && --x->waiting == 0) shutdown_finish(loop);
    return 0;
}

bool sq_loop_is_shutting_down(const sq_loop *loop) {
    return loop->ext && loop->ext->state == SHUTDOWN_DRAINING;
}

int sq_loop_set_shutdown_timeout(sq_loop *loop, uint64_t timeout_ms) {
    sq__loop_ext *x = ext_get(loop);
    if (!x) return SQ_ENOMEM;
    x->timeout_ms = timeout_ms;
    return 0;
}

int sq_loop_add_shutdown_hook(sq_loop *loop, sq_shutdown_hook hook, void *arg) {
    if (!loop || !hook) return SQ_EINVAL;
    if (loop->closing) return SQ_ECLOSED;
    sq__loop_ext *x = ext_get(loop);
    if (!x) return SQ_ENOMEM;
    sq__hook **tail = &x->hooks;
    for (; *tail; tail = &(*tail)->next)
        if (!(*tail)->removed && (*tail)->fn == hook && (*tail)->arg == arg) return SQ_EALREADY;
    sq__hook *h = calloc(1, sizeof *h);
    if (!h) return SQ_ENOMEM;
    h->loop = loop;
    h->fn = hook;
    h->arg = arg;
    *tail = h;
    return 0;
}

int sq_loop_remove_shutdown_hook(sq_loop *loop, sq_shutdown_hook hook, void *arg) {
    sq__loop_ext *x = loop ? loop->ext : NULL;
    if (!x) return SQ_ENOENT;
    for (sq__hook **p = &x->hooks; *p; p = &(*p)->next) {
        sq__hook *h = *p;
        if (h->removed || h->fn != hook || h->arg != arg) continue;
        if (h->called) {
            /* Its token may still be out there: keep the record. */
            h->removed = true;
            hook_done(h);
        } else {
            *p = h->next;
            free(h);
        }
        return 0;
    }
    return SQ_ENOENT;
}

/* ---- signals ---- */

static void on_signal(uv_signal_t *s, int signum) {
    sq_loop *loop = sq__loop_from_uv(s->loop);
    sq_loop_shutdown(loop);
}

int sq_loop_handle_signals(sq_loop *loop) {
    if (!loop) return SQ_EINVAL;
    if (loop->closing) return SQ_ECLOSED;
    sq__loop_ext *x = ext_get(loop);
    if (!x) return SQ_ENOMEM;
    if (!x->signals) {
        int err = uv_signal_init(loop->uv, &x->sigint);
        if (err) return err;
        /* Cannot fail once the first succeeded: libuv sets up the loop's
         * signal pipe once and only initialises the handle after that. */
        uv_signal_init(loop->uv, &x->sigterm);
        uv_unref((uv_handle_t *)&x->sigint);
        uv_unref((uv_handle_t *)&x->sigterm);
        x->signals = true; /* both closed by sq__ext_close_handles */
    }
    int err = uv_signal_start(&x->sigint, on_signal, SIGINT);
    if (!err) err = uv_signal_start(&x->sigterm, on_signal, SIGTERM);
    if (err) {
        uv_signal_stop(&x->sigint);
        uv_signal_stop(&x->sigterm);
    }
    return err;
}
