/* squall: the loop's private parts, shared by the files of src/loop only.
 * Other modules use loop_internal.h. */
#ifndef SQUALL_LOOP_IMPL_H
#define SQUALL_LOOP_IMPL_H

#include "squall/loop.h"
#include "squall/future.h"
#include "loop/loop_internal.h"

#define SQ__READBUF_SIZE (64 * 1024)

/* One queued call: call_soon ring entries and thread-safe queue entries. */
typedef struct {
    sq_callback fn;
    void *arg;
} sq__call;

/* A one-shot timer slot. Slots live in one array and are found by index;
 * the generation makes stale ids harmless (see sq_timer_id). */
typedef struct {
    uint64_t deadline; /* on the uv_now clock, ms */
    uint64_t seq;      /* creation order: ties on deadline run FIFO */
    sq_callback fn;    /* NULL while the slot is free */
    void *arg;
    sq_callback drop; /* internal timers: releases arg when dropped unrun */
    uint32_t gen;
    uint32_t pos; /* heap position in use; next free slot when free */
} sq__tslot;

typedef struct sq__loop_ext sq__loop_ext;

struct sq_loop {
    uv_loop_t *uv;

    /* call_soon: a ring of calls, grown by doubling and never shrunk, so
     * steady state allocates nothing. Drained from an idle handle, which
     * also keeps the poll phase from blocking while calls are queued. */
    sq__call *ring;
    uint32_t ring_cap, ring_head, ring_count;

    /* One-shot timers: a binary min-heap of slot indices driven by one
     * uv_timer_t, so timers cost no handle and no close callback. */
    uint32_t heap_n, nslots, slot_cap, free_slot;
    uint32_t *heap; /* slot_cap entries */
    sq__tslot *slots;
    uint64_t timer_seq;

    /* Thread-safe calls: a mutex-protected queue swapped with a spare on
     * every drain, so steady state allocates nothing either. */
    uv_mutex_t ts_lock;
    sq__call *ts_q, *ts_spare;
    size_t ts_n, ts_cap, ts_spare_cap;
    bool ts_closing;

    sq_future *futures;        /* every live future of this loop */
    sq_future *ready_overflow; /* futures to dispatch when the ring could not grow */

    uint32_t nwork; /* executor jobs in flight */
    uint64_t rng;   /* xorshift state for periodic jitter */
    char *readbuf;
    sq__loop_ext *ext; /* signals and shutdown hooks, allocated on first use */

    unsigned running : 1, closing : 1, in_timer : 1, is_default : 1;

    uv_idle_t idle;
    uv_timer_t timer;
    uv_async_t async;
};

/* loop.c */
int sq__loop_call_soon(sq_loop *loop, sq_callback fn, void *arg);
void sq__loop_wake(sq_loop *loop); /* make the next idle phase run */
uint64_t sq__loop_rand(sq_loop *loop);

/* timer.c */
void sq__timers_init(sq_loop *loop);
int sq__timer_add(sq_loop *loop, uint64_t deadline, sq_callback fn, void *arg, sq_callback drop,
                  sq_timer_id *id);
void sq__timers_drop_all(sq_loop *loop);
void sq__timers_free(sq_loop *loop);

/* threadsafe.c */
int sq__threadsafe_init(sq_loop *loop);
void sq__threadsafe_close(sq_loop *loop);
void sq__threadsafe_free(sq_loop *loop);

/* signal.c */
bool sq__ext_owns(const sq_loop *loop, const uv_handle_t *h);
void sq__ext_close_handles(sq_loop *loop);
void sq__ext_free(sq_loop *loop);
void sq__shutdown_reset(sq_loop *loop);

/* future.c */
sq_future *sq__future_alloc(sq_loop *loop, size_t extra);
void *sq__future_extra(sq_future *f);
void sq__future_set_fini(sq_future *f, void (*fini)(sq_future *f));
/* Adds an internal done callback whose arg is a reference the callback
 * owns: fn releases it when it runs, drop releases it when the callback is
 * discarded unrun (the future freed pending, or its loop closed). */
int sq__future_add_cb(sq_future *f, sq_future_cb fn, void *arg, sq_callback drop);
/* Removes a callback added with (fn, arg) that has not run yet, without
 * calling it or its drop. Returns whether one was found. */
bool sq__future_forget_cb(sq_future *f, sq_future_cb fn, void *arg);
/* Settles f as src is settled (src must be); no-op if f is settled. */
void sq__future_settle_from(sq_future *f, sq_future *src);
void sq__future_unref_cb(void *f); /* sq_future_unref as an sq_callback */
void sq__futures_detach_all(sq_loop *loop);
void sq__futures_run_overflow(sq_loop *loop);

#endif
