/* The loop: creation, run and stop, close, call_soon, clocks, read buffer. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "loop/loop_impl.h"

#define SQ__RING_MIN 64

static sq_loop *g_default; /* sq_loop_default(); loop-thread state like the rest */

/* A loop created by sq_loop_new() owns its uv_loop_t and allocates both at
 * once; the default loop borrows uv_default_loop(). */
typedef struct {
    sq_loop loop;
    uv_loop_t uv;
} sq__owned_loop;

static void on_idle(uv_idle_t *h);

/* A write to a connection the peer has reset must be an EPIPE error, not the
 * death of the process; libuv writes with write(2), which raises SIGPIPE.
 * Like Python (and so Tornado) and Node, ignore it, unless the application
 * has installed a handler of its own. */
static void ignore_sigpipe(void) {
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

static int loop_init(sq_loop *loop, uv_loop_t *uv) {
    ignore_sigpipe();
    memset(loop, 0, sizeof *loop);
    loop->uv = uv;
    uv->data = loop;
    loop->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)loop) | 1;
    int err = sq__threadsafe_init(loop);
    if (err) return err;
    uv_idle_init(uv, &loop->idle);
    sq__timers_init(loop);
    return 0;
}

sq_loop *sq_loop_new(void) {
    sq__owned_loop *o = malloc(sizeof *o);
    if (!o) return NULL;
    if (uv_loop_init(&o->uv) != 0) {
        free(o);
        return NULL;
    }
    if (loop_init(&o->loop, &o->uv) != 0) {
        uv_loop_close(&o->uv);
        free(o);
        return NULL;
    }
    return &o->loop;
}

sq_loop *sq_loop_default(void) {
    if (g_default) return g_default;
    uv_loop_t *uv = uv_default_loop();
    if (!uv) return NULL;
    sq_loop *loop = malloc(sizeof *loop);
    if (!loop) return NULL;
    if (loop_init(loop, uv) != 0) {
        free(loop);
        return NULL;
    }
    loop->is_default = 1;
    g_default = loop;
    return loop;
}

int sq_loop_run(sq_loop *loop) {
    if (loop->closing) return SQ_ECLOSED;
    if (loop->running) return SQ_ESTATE;
    loop->running = 1;
    sq__shutdown_reset(loop);
    /* The async handle stays referenced, so uv_run only returns on
     * uv_stop(): the loop waits for work like Tornado's, including work
     * posted from other threads. */
    uv_run(loop->uv, UV_RUN_DEFAULT);
    loop->running = 0;
    return 0;
}

void sq_loop_stop(sq_loop *loop) { uv_stop(loop->uv); }

uv_loop_t *sq_loop_uv(sq_loop *loop) { return loop->uv; }
sq_loop *sq__loop_from_uv(uv_loop_t *uv) { return uv->data; }
uint64_t sq_loop_now(const sq_loop *loop) { return uv_now(loop->uv); }

/* uv_now() is uv_hrtime() in ms, or the coarse variant of the same clock
 * when that is precise to 1 ms; either way it never runs ahead of this. */
uint64_t sq_loop_time(const sq_loop *loop) { return uv_hrtime() / 1000000u; }

uint64_t sq__loop_rand(sq_loop *loop) {
    uint64_t x = loop->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    loop->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

char *sq__loop_readbuf(sq_loop *loop, size_t *size) {
    if (!loop->readbuf) loop->readbuf = malloc(SQ__READBUF_SIZE);
    *size = loop->readbuf ? SQ__READBUF_SIZE : 0;
    return loop->readbuf;
}

/* ---- call_soon ---- */

static int ring_grow(sq_loop *loop) {
    uint32_t cap = loop->ring_cap ? loop->ring_cap * 2 : SQ__RING_MIN;
    if (cap <= loop->ring_cap) return SQ_ENOMEM;
    sq__call *ring = malloc((size_t)cap * sizeof *ring);
    if (!ring) return SQ_ENOMEM;
    for (uint32_t i = 0; i < loop->ring_count; i++)
        ring[i] = loop->ring[(loop->ring_head + i) & (loop->ring_cap - 1)];
    free(loop->ring);
    loop->ring = ring;
    loop->ring_cap = cap;
    loop->ring_head = 0;
    return 0;
}

int sq__loop_call_soon(sq_loop *loop, sq_callback fn, void *arg) {
    if (loop->ring_count == loop->ring_cap && ring_grow(loop) != 0) return SQ_ENOMEM;
    sq__call *c = &loop->ring[(loop->ring_head + loop->ring_count) & (loop->ring_cap - 1)];
    c->fn = fn;
    c->arg = arg;
    loop->ring_count++;
    sq__loop_wake(loop);
    return 0;
}

void sq__loop_wake(sq_loop *loop) {
    if (!uv_is_active((uv_handle_t *)&loop->idle)) uv_idle_start(&loop->idle, on_idle);
}

int sq_loop_call_soon(sq_loop *loop, sq_callback fn, void *arg) {
    if (!loop || !fn) return SQ_EINVAL;
    if (loop->closing) return SQ_ECLOSED;
    return sq__loop_call_soon(loop, fn, arg);
}

/* Runs the calls queued before this iteration reached the idle phase; calls
 * queued by them wait for the next iteration, as in Tornado's _run_once. */
static void on_idle(uv_idle_t *h) {
    sq_loop *loop = (sq_loop *)((char *)h - offsetof(sq_loop, idle));
    for (uint32_t n = loop->ring_count; n > 0 && loop->ring_count > 0; n--) {
        sq__call c = loop->ring[loop->ring_head];
        loop->ring_head = (loop->ring_head + 1) & (loop->ring_cap - 1);
        loop->ring_count--;
        c.fn(c.arg);
    }
    if (loop->ready_overflow) sq__futures_run_overflow(loop);
    if (loop->ring_count == 0 && !loop->ready_overflow) uv_idle_stop(h);
}

/* ---- close ---- */

static bool is_internal(const sq_loop *loop, const uv_handle_t *h) {
    return h == (const uv_handle_t *)&loop->idle || h == (const uv_handle_t *)&loop->timer ||
           h == (const uv_handle_t *)&loop->async || sq__ext_owns(loop, h);
}

typedef struct {
    const sq_loop *loop;
    size_t open;
} handle_count;

static void count_handle(uv_handle_t *h, void *arg) {
    handle_count *c = arg;
    if (!is_internal(c->loop, h) && !uv_is_closing(h)) c->open++;
}

int sq_loop_close(sq_loop *loop) {
    if (!loop) return SQ_EINVAL;
    if (loop->closing) return SQ_ECLOSED;
    if (loop->running) return SQ_ESTATE;
    handle_count count = {loop, 0};
    uv_walk(loop->uv, count_handle, &count);
    if (count.open > 0 || loop->nwork > 0) return SQ_EBUSY;

    /* From here every scheduling call fails with SQ_ECLOSED. */
    loop->closing = 1;
    sq__threadsafe_close(loop);
    uv_idle_stop(&loop->idle);
    uv_close((uv_handle_t *)&loop->idle, NULL);
    uv_timer_stop(&loop->timer);
    uv_close((uv_handle_t *)&loop->timer, NULL);
    sq__ext_close_handles(loop);
    /* Only closing handles (ours and the user's) and their requests remain:
     * this runs their close callbacks. The loop is repeated in case one of
     * them calls sq_loop_stop(). */
    while (uv_run(loop->uv, UV_RUN_DEFAULT) != 0) {
    }

    /* Drop everything queued. The overflow list is abandoned first because
     * detaching the futures may free them. */
    loop->ready_overflow = NULL;
    sq__futures_detach_all(loop);
    sq__timers_drop_all(loop);
    loop->ring_count = 0;

    int err = uv_loop_close(loop->uv);
    if (err) return err; /* a close callback opened a new handle */
    sq__threadsafe_free(loop);
    sq__timers_free(loop);
    sq__ext_free(loop);
    free(loop->ring);
    free(loop->readbuf);
    if (loop->is_default) {
        g_default = NULL;
        free(loop);
    } else {
        free((sq__owned_loop *)((char *)loop - offsetof(sq__owned_loop, loop)));
    }
    return 0;
}
