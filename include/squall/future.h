/* squall: futures.
 *
 * An sq_future is a one-shot result: it starts pending and is settled once,
 * either resolved with a value (a void pointer) or rejected with a negative
 * error code. Cancelling is rejecting with SQ_ECANCELED. Settling again is a
 * harmless no-op.
 *
 * Callbacks. sq_future_add_done() callbacks always run on the loop thread
 * through the loop's call_soon queue, never synchronously inside resolve,
 * reject or add_done (as in Tornado and asyncio): code that settles a future
 * is never re-entered by its consumers. A callback added to a future that is
 * already settled runs on the next iteration. Callbacks run in the order
 * they were added.
 *
 * Reference counting. A future is freed when its last reference goes. The
 * function that creates one gives the caller one reference; producers and
 * consumers that keep a future take their own with sq_future_ref(). While a
 * future's callbacks are scheduled, the loop holds a reference, so they
 * always find the future alive. A future whose last reference goes while it
 * is pending is freed with its callbacks, which then never run.
 *
 * Values. sq_future_resolve() hands the value to the future, which frees it
 * with the given free function when the future itself is freed. Readers
 * borrow it with sq_future_value(): the pointer is valid while they hold a
 * reference (inside a done callback, always). Futures built by then(),
 * follow() and with_timeout() share their source's value and keep the source
 * alive instead of copying.
 *
 * Loop close. When its loop closes, a future still referenced stays valid:
 * it can be read, settled and unreferenced, but runs no callback again and
 * sq_future_loop() returns NULL.
 *
 * Threading: futures belong to their loop's thread. To settle one from
 * another thread, post a call with sq_loop_call_threadsafe().
 */
#ifndef SQUALL_FUTURE_H
#define SQUALL_FUTURE_H

#include "common.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SQ__FUTURE_TYPEDEF
#define SQ__FUTURE_TYPEDEF
typedef struct sq_future sq_future;
#endif

/* A done callback or a cancel hook: f is valid for the whole call. */
typedef void (*sq_future_cb)(sq_future *f, void *arg);

/* The function of sq_future_then(): src has resolved (read it with
 * sq_future_value(src)); fn must settle next, either now, with
 * sq_future_resolve(next, ...) (a plain value) or sq_future_reject(next, err),
 * or by making it follow another future with sq_future_follow(next, other)
 * (a "new future"), or later, after taking a reference with
 * sq_future_ref(next). */
typedef void (*sq_future_then_fn)(sq_future *src, sq_future *next, void *arg);

/* A new pending future on loop. The caller owns the one reference. Returns
 * NULL when out of memory or when the loop is closing. */
SQ_EXTERN sq_future *sq_future_new(sq_loop *loop);

/* Takes a reference; returns f. */
SQ_EXTERN sq_future *sq_future_ref(sq_future *f);

/* Drops a reference; the last one frees the future, its value (through its
 * free function) and any callbacks that have not run. NULL is ignored. */
SQ_EXTERN void sq_future_unref(sq_future *f);

/* Resolves f with value. The future owns value from this call on, whatever
 * it returns: it calls free_value(value) (when free_value is not NULL) as it
 * is freed, or at once if f was already settled. Schedules f's callbacks.
 * Returns 0; SQ_ECANCELED when f had been cancelled and SQ_ESTATE when it
 * was otherwise already settled (both harmless: the late result is
 * discarded). */
SQ_EXTERN int sq_future_resolve(sq_future *f, void *value, void (*free_value)(void *));

/* Rejects f with err, a negative error code. Schedules f's callbacks. Does
 * not run the cancel hook even when err is SQ_ECANCELED (only
 * sq_future_cancel() does). Returns 0, SQ_EINVAL (err >= 0), or, as above,
 * SQ_ECANCELED / SQ_ESTATE when f was already settled. */
SQ_EXTERN int sq_future_reject(sq_future *f, int err);

/* Cancels a pending future: rejects it with SQ_ECANCELED, then runs its
 * cancel hook (if any) synchronously, before returning, so that the
 * producer can stop its work. Whoever later resolves it gets a harmless
 * SQ_ECANCELED. Returns 0, or SQ_ESTATE when f was already settled (nothing
 * happens). */
SQ_EXTERN int sq_future_cancel(sq_future *f);

/* Sets the hook sq_future_cancel() runs: the producer's way to stop work
 * nobody waits for any more (close a connection, withdraw a job). Replaces
 * any previous hook; NULL removes it. It runs at most once, and never once
 * the future is settled otherwise. Futures made by then(), gather(),
 * with_timeout() and the executor come with their own hook: do not replace
 * it. */
SQ_EXTERN void sq_future_set_cancel_hook(sq_future *f, sq_future_cb hook, void *arg);

/* Adds cb(f, arg) to run on the loop once f is settled (on the next
 * iteration if it already is). Callbacks run in the order added. Returns 0,
 * SQ_EINVAL (cb NULL), SQ_ENOMEM, or SQ_ECLOSED when f's loop has closed;
 * on error cb never runs. */
SQ_EXTERN int sq_future_add_done(sq_future *f, sq_future_cb cb, void *arg);

/* Whether f is settled (resolved, rejected or cancelled). */
SQ_EXTERN bool sq_future_done(const sq_future *f);

/* Whether f was rejected with SQ_ECANCELED (by sq_future_cancel() or
 * because a future it followed was cancelled). */
SQ_EXTERN bool sq_future_cancelled(const sq_future *f);

/* f's outcome: 0 when resolved, the negative error when rejected,
 * SQ_EPENDING while pending. */
SQ_EXTERN int sq_future_error(const sq_future *f);

/* f's value: the pointer it was resolved with, or NULL while pending or when
 * rejected. Borrowed: valid while you hold a reference to f. */
SQ_EXTERN void *sq_future_value(const sq_future *f);

/* The loop f belongs to, or NULL once that loop has closed. */
SQ_EXTERN sq_loop *sq_future_loop(const sq_future *f);

/* Makes f settle as src settles: with src's value (shared: f keeps src
 * alive and frees nothing of its own) or with src's error. Whichever comes
 * first wins if f is also settled some other way. Cancelling f does not
 * cancel src. Both must be on the same loop. Returns 0, SQ_EINVAL,
 * SQ_ESTATE (f already settled), SQ_ENOMEM, SQ_ECLOSED. */
SQ_EXTERN int sq_future_follow(sq_future *f, sq_future *src);

/* A future for "f, then fn": when f resolves, fn(f, next, arg) runs on the
 * loop and settles next (see sq_future_then_fn). When f is rejected, fn is
 * not called and next is rejected with the same error (errors propagate
 * down a chain, as do cancellations). Cancelling next does not cancel f but
 * guarantees fn is not called. Free an allocated arg from a done callback on
 * next, which runs in every case. The caller owns the one reference to
 * next. Returns NULL when out of memory, when fn is NULL or when the loop is
 * closing. */
SQ_EXTERN sq_future *sq_future_then(sq_future *f, sq_future_then_fn fn, void *arg);

/* A future that resolves when all n futures have resolved; its value is an
 * array of the n input futures in the given order (sq_future **, owned by
 * the gather future and valid while you hold it), so read each result with
 * sq_future_value(values[i]). With n == 0 it is resolved at once (value
 * NULL; its callbacks still run on a later iteration, as always). The first
 * input to fail rejects it with that error at once; the other inputs are NOT
 * cancelled and keep running (as asyncio.gather): cancel them yourself if
 * their work is now useless. Cancelling the gather future cancels every
 * input still pending. The gather future holds its own reference to each
 * input; the caller keeps its own. All must be on loop. Returns NULL on
 * SQ_ENOMEM / SQ_EINVAL / SQ_ECLOSED. */
SQ_EXTERN sq_future *sq_future_gather(sq_loop *loop, sq_future *const *futures, size_t n);

/* A future that follows f (same value or error) unless timeout_ms elapses
 * first: then it is rejected with SQ_ETIMEDOUT and f is cancelled
 * (sq_future_cancel, so f's producer is told through its cancel hook).
 * Cancelling the returned future cancels f too. If f is already settled
 * there is no timer. The caller owns the one reference to the result.
 * Returns NULL on SQ_ENOMEM / SQ_ECLOSED. */
SQ_EXTERN sq_future *sq_future_with_timeout(sq_future *f, uint64_t timeout_ms);

/* Tornado's IOLoop.run_sync(): runs f's loop until f is settled and returns
 * f's outcome (0, or its error). With a timeout_ms other than 0, gives up
 * after that long, cancels f and returns SQ_ETIMEDOUT. Returns SQ_EPENDING
 * when the loop was stopped some other way before f settled, and SQ_ESTATE
 * when the loop is already running (called from a callback). The loop is
 * stopped again when this returns. When f settled, the done callbacks it had
 * have run; after a timeout, its callbacks run on the loop's next run. */
SQ_EXTERN int sq_future_run_sync(sq_future *f, uint64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
