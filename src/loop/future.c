/* Futures: the core (state, references, callbacks, dispatch, cancel). The
 * combinators live in future_combine.c.
 *
 * Settling a future schedules one dispatch on the loop's call_soon queue;
 * the dispatch holds a reference and runs the callbacks present when it
 * starts. Callbacks added meanwhile get a dispatch of their own, on the next
 * iteration, never synchronously.
 */
#include <stdlib.h>
#include <string.h>

#include "loop/loop_impl.h"

enum { PENDING, RESOLVED, REJECTED };

typedef struct {
    sq_future_cb fn; /* NULL: removed */
    void *arg;
    sq_callback drop; /* internal callbacks: releases arg when discarded unrun */
} sq__fcb;

struct sq_future {
    sq_loop *loop;          /* NULL once the loop has closed */
    sq_future *prev, *next; /* the loop's list of live futures */
    sq_future *ready_next;  /* the loop's overflow list, see dispatch_schedule */
    uint32_t refs;
    uint8_t state;
    bool dispatch_pending;
    int err;
    void *value;
    void (*free_value)(void *);
    sq_future *value_owner; /* the future whose value this one shares */
    sq__fcb *cbs;           /* == &one while it suffices */
    uint32_t ncb, cbcap;
    sq__fcb one;
    sq_future_cb cancel_hook;
    void *cancel_arg;
    void (*fini)(sq_future *f); /* combinators: releases what extra holds */
    /* followed by `extra` bytes for the combinators, suitably aligned */
};

#define EXTRA_OFFSET ((sizeof(sq_future) + 15) & ~(size_t)15)

sq_future *sq__future_alloc(sq_loop *loop, size_t extra) {
    if (!loop || loop->closing) return NULL;
    sq_future *f = calloc(1, EXTRA_OFFSET + extra);
    if (!f) return NULL;
    f->loop = loop;
    f->refs = 1;
    f->cbs = &f->one;
    f->cbcap = 1;
    f->next = loop->futures;
    if (f->next) f->next->prev = f;
    loop->futures = f;
    return f;
}

void *sq__future_extra(sq_future *f) { return (char *)f + EXTRA_OFFSET; }
void sq__future_set_fini(sq_future *f, void (*fini)(sq_future *f)) { f->fini = fini; }

sq_future *sq_future_new(sq_loop *loop) { return sq__future_alloc(loop, 0); }

sq_future *sq_future_ref(sq_future *f) {
    f->refs++;
    return f;
}

static void unlink_from_loop(sq_future *f) {
    if (!f->loop) return;
    if (f->prev)
        f->prev->next = f->next;
    else
        f->loop->futures = f->next;
    if (f->next) f->next->prev = f->prev;
    f->prev = f->next = NULL;
}

/* Discards the callbacks that have not run, releasing what internal ones
 * hold. Drops only release references; they never add callbacks here. */
static void drop_callbacks(sq_future *f) {
    for (uint32_t i = 0; i < f->ncb; i++) {
        sq__fcb cb = f->cbs[i];
        f->cbs[i].fn = NULL;
        if (cb.fn && cb.drop) cb.drop(cb.arg);
    }
    f->ncb = 0;
}

static void future_free(sq_future *f) {
    unlink_from_loop(f);
    drop_callbacks(f);
    if (f->cbs != &f->one) free(f->cbs);
    if (f->free_value) f->free_value(f->value);
    if (f->fini) f->fini(f);
    sq_future *owner = f->value_owner;
    free(f);
    sq_future_unref(owner);
}

void sq_future_unref(sq_future *f) {
    if (f && --f->refs == 0) future_free(f);
}

void sq__future_unref_cb(void *f) { sq_future_unref(f); }

/* ---- dispatch ---- */

static void dispatch(void *arg) {
    sq_future *f = arg;
    f->dispatch_pending = false;
    /* Run the callbacks present now, reading through f->cbs each time since
     * a callback may add more (the array may move); those run in a later
     * dispatch, scheduled by sq_future_add_done. */
    uint32_t n = f->ncb;
    for (uint32_t i = 0; i < n && f->loop; i++) {
        sq__fcb cb = f->cbs[i];
        f->cbs[i].fn = NULL;
        if (cb.fn) cb.fn(f, cb.arg);
    }
    if (f->loop) {
        /* Keep the callbacks added while running, in order. */
        uint32_t rest = f->ncb - n;
        memmove(f->cbs, f->cbs + n, rest * sizeof *f->cbs);
        f->ncb = rest;
    }
    sq_future_unref(f);
}

static void dispatch_schedule(sq_future *f) {
    sq_loop *loop = f->loop;
    if (!loop || loop->closing || f->dispatch_pending || f->ncb == 0) return;
    f->dispatch_pending = true;
    f->refs++;
    if (sq__loop_call_soon(loop, dispatch, f) != 0) {
        /* The queue could not grow: fall back on an intrusive list, so a
         * settled future's callbacks still run, after this iteration's
         * queued calls. */
        f->ready_next = loop->ready_overflow;
        loop->ready_overflow = f;
        sq__loop_wake(loop);
    }
}

void sq__futures_run_overflow(sq_loop *loop) {
    sq_future *list = loop->ready_overflow;
    loop->ready_overflow = NULL;
    while (list) {
        sq_future *f = list;
        list = f->ready_next;
        f->ready_next = NULL;
        dispatch(f);
    }
}

/* ---- settling ---- */

static int settled_code(const sq_future *f) {
    return f->state == REJECTED && f->err == SQ_ECANCELED ? SQ_ECANCELED : SQ_ESTATE;
}

static void settle(sq_future *f, int state, int err) {
    f->state = (uint8_t)state;
    f->err = err;
    f->cancel_hook = NULL;
    f->cancel_arg = NULL;
    dispatch_schedule(f);
}

int sq_future_resolve(sq_future *f, void *value, void (*free_value)(void *)) {
    if (f->state != PENDING) {
        if (free_value) free_value(value);
        return settled_code(f);
    }
    f->value = value;
    f->free_value = free_value;
    settle(f, RESOLVED, 0);
    return 0;
}

int sq_future_reject(sq_future *f, int err) {
    if (err >= 0) return SQ_EINVAL;
    if (f->state != PENDING) return settled_code(f);
    settle(f, REJECTED, err);
    return 0;
}

void sq__future_settle_from(sq_future *f, sq_future *src) {
    if (f->state != PENDING || src->state == PENDING) return;
    if (src->state == REJECTED) {
        settle(f, REJECTED, src->err);
        return;
    }
    f->value = src->value;
    f->value_owner = sq_future_ref(src);
    settle(f, RESOLVED, 0);
}

int sq_future_cancel(sq_future *f) {
    if (f->state != PENDING) return SQ_ESTATE;
    sq_future_cb hook = f->cancel_hook;
    void *arg = f->cancel_arg;
    f->refs++; /* the hook may drop the caller's last reference */
    settle(f, REJECTED, SQ_ECANCELED);
    if (hook) hook(f, arg);
    sq_future_unref(f);
    return 0;
}

void sq_future_set_cancel_hook(sq_future *f, sq_future_cb hook, void *arg) {
    if (f->state != PENDING) return;
    f->cancel_hook = hook;
    f->cancel_arg = arg;
}

/* ---- callbacks ---- */

int sq__future_add_cb(sq_future *f, sq_future_cb fn, void *arg, sq_callback drop) {
    if (!f->loop) return SQ_ECLOSED;
    if (f->ncb == f->cbcap) {
        uint32_t cap = f->cbcap * 2;
        sq__fcb *cbs = malloc(cap * sizeof *cbs);
        if (!cbs) return SQ_ENOMEM;
        memcpy(cbs, f->cbs, f->ncb * sizeof *cbs);
        if (f->cbs != &f->one) free(f->cbs);
        f->cbs = cbs;
        f->cbcap = cap;
    }
    f->cbs[f->ncb].fn = fn;
    f->cbs[f->ncb].arg = arg;
    f->cbs[f->ncb].drop = drop;
    f->ncb++;
    if (f->state != PENDING) dispatch_schedule(f);
    return 0;
}

int sq_future_add_done(sq_future *f, sq_future_cb cb, void *arg) {
    if (!f || !cb) return SQ_EINVAL;
    return sq__future_add_cb(f, cb, arg, NULL);
}

bool sq__future_forget_cb(sq_future *f, sq_future_cb fn, void *arg) {
    for (uint32_t i = 0; i < f->ncb; i++) {
        if (f->cbs[i].fn == fn && f->cbs[i].arg == arg) {
            f->cbs[i].fn = NULL;
            return true;
        }
    }
    return false;
}

/* ---- accessors ---- */

bool sq_future_done(const sq_future *f) { return f->state != PENDING; }
bool sq_future_cancelled(const sq_future *f) {
    return f->state == REJECTED && f->err == SQ_ECANCELED;
}
int sq_future_error(const sq_future *f) { return f->state == PENDING ? SQ_EPENDING : f->err; }
void *sq_future_value(const sq_future *f) { return f->state == RESOLVED ? f->value : NULL; }
sq_loop *sq_future_loop(const sq_future *f) { return f->loop; }

/* ---- loop close ---- */

void sq__futures_detach_all(sq_loop *loop) {
    /* Take each future off the list before touching it: dropping its
     * callbacks may free other futures, which then unlink themselves. */
    sq_future *f;
    while ((f = loop->futures) != NULL) {
        unlink_from_loop(f);
        f->loop = NULL;
        f->cancel_hook = NULL;
        f->cancel_arg = NULL;
        f->refs++;
        if (f->dispatch_pending) {
            f->dispatch_pending = false;
            f->refs--; /* the reference the dropped dispatch held */
        }
        drop_callbacks(f);
        sq_future_unref(f);
    }
}
