/* squall: the IOLoop.
 *
 * An sq_loop wraps a libuv loop (uv_loop_t) and adds what Tornado's IOLoop
 * offers: callbacks on the next iteration (call_soon), one-shot timers
 * (call_later, call_at) with safe cancellation, periodic callbacks, calls
 * from other threads, work on libuv's thread pool, and a graceful shutdown
 * on SIGINT/SIGTERM that lets servers drain.
 *
 * The clock. Every time in this header is a count of milliseconds on one
 * monotonic clock, the clock libuv's timers use (uv_now). It is not the wall
 * clock (Tornado's IOLoop.time() is): it never jumps when the system time is
 * set, which is what deadlines and timeouts need. Its origin is arbitrary;
 * only differences mean something. sq_loop_now() is the time cached at the
 * start of the current iteration (cheap, what libuv uses); sq_loop_time()
 * reads the clock afresh. Divide by 1000.0 for seconds.
 *
 * Threading: an sq_loop and everything attached to it belong to the thread
 * that runs it. The only functions that may be called from any thread are
 * sq_loop_call_threadsafe() and the work function given to the executor,
 * which runs on a pool thread by design.
 *
 * Lifetime: sq_loop_new() (or sq_loop_default()) → sq_loop_run() /
 * sq_loop_stop() as often as wanted → sq_loop_close(), which frees it.
 * Callbacks that are still queued when the loop closes are dropped without
 * being called: no callback ever runs after sq_loop_close() returns.
 */
#ifndef SQUALL_LOOP_H
#define SQUALL_LOOP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sq_loop sq_loop;
#ifndef SQ__FUTURE_TYPEDEF
#define SQ__FUTURE_TYPEDEF
typedef struct sq_future sq_future;
#endif

/* A callback: a function and the pointer it is called with. squall never
 * frees arg; a callback that is dropped (its loop closed first, its timer was
 * cancelled) is simply never called, so free arg where you cancel. */
typedef void (*sq_callback)(void *arg);

/* ------------------------------------------------------------------------ */
/* Creating, running, stopping, closing                                     */
/* ------------------------------------------------------------------------ */

/* The process-wide default loop, over uv_default_loop(), created on first
 * call. Not thread-safe: call it first from the main thread. The default
 * loop is closed like any other with sq_loop_close(); a later call then
 * creates a fresh one. Returns NULL only when out of memory. */
SQ_EXTERN sq_loop *sq_loop_default(void);

/* A new loop with its own uv_loop_t. Returns NULL when out of memory (or if
 * libuv cannot create its internal descriptors). The caller owns the loop
 * and releases it with sq_loop_close().
 *
 * Creating a loop (this or sq_loop_default) sets SIGPIPE to "ignore" when
 * it is still at its default, as Python and Node do, so that writing to a
 * connection the peer closed is an SQ_EPIPE error instead of killing the
 * process. A handler you installed yourself is left alone. */
SQ_EXTERN sq_loop *sq_loop_new(void);

/* Runs the loop on the calling thread until sq_loop_stop() is called, like
 * Tornado's IOLoop.start(). Unlike a bare uv_run(), it does not return just
 * because there is nothing to do: the loop keeps waiting for timers, I/O and
 * calls from other threads. Returns 0 once stopped, SQ_ESTATE when called
 * from inside one of this loop's callbacks (the loop is already running),
 * SQ_ECLOSED when the loop is closing. */
SQ_EXTERN int sq_loop_run(sq_loop *loop);

/* Asks a running loop to stop. It takes effect after the current iteration:
 * callbacks already due in this iteration still run, then sq_loop_run()
 * returns. Queued callbacks and timers are kept; the next sq_loop_run()
 * carries on with them. A stop requested while the loop is not running makes
 * the next sq_loop_run() return at once. */
SQ_EXTERN void sq_loop_stop(sq_loop *loop);

/* Closes the loop and frees it.
 *
 * Refused with SQ_EBUSY, changing nothing, while any handle that is not the
 * loop's own is still open and not closing (a TCP server, a uv_timer_t of
 * yours, an sq_periodic that was not closed) or while executor jobs are in
 * flight. Refused with SQ_ESTATE when called while the loop is running
 * (from inside one of its callbacks): stop it and close after sq_loop_run()
 * returns.
 *
 * Otherwise: the close callbacks of handles whose close has already begun
 * run now, inside this call (those are the only callbacks that can); then
 * every queued callback, timer, thread-safe call and future callback is
 * dropped without being called; futures that are still referenced stay valid
 * (see sq_future_loop()) but never run a callback again. Returns 0, after
 * which the loop pointer is invalid. Calls from other threads made during
 * the close get SQ_ECLOSED; making one after this returned is a bug (join
 * your threads first). */
SQ_EXTERN int sq_loop_close(sq_loop *loop);

/* The underlying libuv loop, so any libuv-based library (hiredis, c-ares,
 * libcurl's multi interface, your own handles) runs on the same loop. Its
 * `data` field belongs to squall: do not change it. Valid until
 * sq_loop_close(). */
SQ_EXTERN uv_loop_t *sq_loop_uv(sq_loop *loop);

/* The loop time in milliseconds, cached at the start of the current
 * iteration (uv_now). Cheap; the reference for timers. squall refreshes it
 * when it arms a timer, so that a callback that blocked for a while does not
 * make the next poll sleep past a deadline; it never goes backwards. */
SQ_EXTERN uint64_t sq_loop_now(const sq_loop *loop);

/* The loop clock read now, in milliseconds: the same monotonic clock and
 * origin as sq_loop_now(), never behind it. Tornado's IOLoop.time(), except
 * that it is monotonic and in milliseconds (see the top of this header). Use
 * it to compute absolute deadlines for sq_loop_call_at(). */
SQ_EXTERN uint64_t sq_loop_time(const sq_loop *loop);

/* ------------------------------------------------------------------------ */
/* Callbacks and timers                                                     */
/* ------------------------------------------------------------------------ */

/* Schedules fn(arg) to run soon on the loop (Tornado's add_callback): in
 * the callback phase of the current iteration if it has not been reached
 * yet (when called from a timer), otherwise of the next one. Callbacks run
 * in the order they were scheduled; one scheduled from inside such a
 * callback waits for the following iteration, so a callback that
 * reschedules itself never starves I/O. Never runs fn synchronously.
 * Allocation-free once the queue has grown to its working size. Loop thread
 * only: from another thread use sq_loop_call_threadsafe(). Returns 0,
 * SQ_EINVAL (fn is NULL), SQ_ENOMEM (the queue could not grow), SQ_ECLOSED
 * (the loop is closing). */
SQ_EXTERN int sq_loop_call_soon(sq_loop *loop, sq_callback fn, void *arg);

/* A timer's handle: 64 bits holding a slot index and that slot's generation.
 * A slot's generation changes every time the slot is released, so an old id
 * never matches a newer timer: sq_loop_cancel() on an id that fired, was
 * cancelled, or is garbage touches nothing and returns SQ_ENOENT. 0 is never
 * a valid id; use it for "no timer". */
typedef uint64_t sq_timer_id;

/* Schedules fn(arg) once, delay_ms milliseconds from now (on the
 * sq_loop_time() clock; the timer never fires before that, at millisecond
 * resolution). Timers run in deadline order; timers with the same deadline
 * run in the order they were created. A zero delay runs on the next timer
 * phase, never synchronously. If id is not NULL it receives the timer's id
 * for sq_loop_cancel(). Returns 0, SQ_EINVAL, SQ_ENOMEM or SQ_ECLOSED; on
 * error *id is set to 0. */
SQ_EXTERN int sq_loop_call_later(sq_loop *loop, uint64_t delay_ms, sq_callback fn, void *arg,
                                 sq_timer_id *id);

/* Like sq_loop_call_later() with an absolute deadline when_ms on the loop
 * clock (sq_loop_time() / sq_loop_now()). A deadline in the past fires on
 * the next timer phase. */
SQ_EXTERN int sq_loop_call_at(sq_loop *loop, uint64_t when_ms, sq_callback fn, void *arg,
                              sq_timer_id *id);

/* Cancels a timer made by sq_loop_call_later() or sq_loop_call_at(). Safe
 * at any time, also after the timer fired or from inside its own callback.
 * Returns 0 when the timer was pending and will now never run (its arg is
 * yours to free), SQ_ENOENT when there was nothing to cancel. */
SQ_EXTERN int sq_loop_cancel(sq_loop *loop, sq_timer_id id);

/* Schedules fn(arg) on the loop from any thread: the only thread-safe
 * function of the loop, and safe from many threads at once. Calls from one
 * thread run in the order made; calls are never lost even though libuv
 * coalesces wake-ups. fn runs on the loop thread during a later iteration
 * (no order is promised relative to sq_loop_call_soon()). Not
 * async-signal-safe (it takes a mutex). Returns 0, SQ_EINVAL, SQ_ENOMEM, or
 * SQ_ECLOSED once sq_loop_close() has begun (fn will then never run). */
SQ_EXTERN int sq_loop_call_threadsafe(sq_loop *loop, sq_callback fn, void *arg);

/* ------------------------------------------------------------------------ */
/* Executor: blocking or CPU-heavy work on libuv's thread pool              */
/* ------------------------------------------------------------------------ */

/* Runs on a pool thread. Put the result in *result (squall only carries the
 * pointer) and return 0, or return a negative error code. It must not touch
 * the loop except through sq_loop_call_threadsafe(). */
typedef int (*sq_work_fn)(void *arg, void **result);

/* Runs on the loop thread when the work is over. status is what the work
 * function returned, or SQ_ECANCELED when the job was cancelled before it
 * started (result is then NULL). result is yours. */
typedef void (*sq_work_done_cb)(sq_loop *loop, int status, void *result, void *arg);

/* Runs work(arg, &result) on libuv's thread pool (uv_queue_work; size set by
 * the UV_THREADPOOL_SIZE environment variable, 4 by default) and then
 * done(loop, status, result, arg) on the loop thread. The loop refuses to
 * close while jobs are in flight. Returns 0, SQ_EINVAL (work or done NULL),
 * SQ_ENOMEM, SQ_ECLOSED; on error done is never called. */
SQ_EXTERN int sq_loop_run_in_executor(sq_loop *loop, sq_work_fn work, void *arg,
                                      sq_work_done_cb done);

/* The same, delivered as a future (see future.h): it resolves with the
 * work's result, which the future then owns and frees with free_result (may
 * be NULL), or is rejected with the work's negative status. Cancelling the
 * future (sq_future_cancel) withdraws the job if no pool thread has picked
 * it up yet; a job already running finishes, and its result is then freed
 * with free_result. The caller owns the one reference returned. Returns NULL
 * on SQ_ENOMEM / SQ_EINVAL / SQ_ECLOSED. */
SQ_EXTERN sq_future *sq_loop_run_in_executor_future(sq_loop *loop, sq_work_fn work, void *arg,
                                                    void (*free_result)(void *));

/* ------------------------------------------------------------------------ */
/* Periodic callbacks (Tornado's PeriodicCallback)                          */
/* ------------------------------------------------------------------------ */

typedef struct sq_periodic sq_periodic;

/* The tick callback, and also the close callback. arg is the one given to
 * sq_periodic_new(). */
typedef void (*sq_periodic_cb)(sq_periodic *p, void *arg);

/* A periodic callback that calls cb(p, arg) every interval_ms milliseconds
 * once started. It is a libuv handle: the loop refuses to close until it was
 * closed with sq_periodic_close(). Returns NULL when interval_ms is 0 or cb
 * is NULL, when out of memory, or when the loop is closing. */
SQ_EXTERN sq_periodic *sq_periodic_new(sq_loop *loop, uint64_t interval_ms, sq_periodic_cb cb,
                                       void *arg);

/* Randomises every interval by ±jitter/2 of itself, as Tornado does
 * (jitter 0.1: each interval between 95% and 105% of interval_ms), so that
 * many processes started together do not tick in step. 0 (the default)
 * disables it. Takes effect from the next scheduled tick. Returns 0 or
 * SQ_EINVAL when jitter is outside [0, 1]. */
SQ_EXTERN int sq_periodic_set_jitter(sq_periodic *p, double jitter);

/* Starts ticking. The first tick is one interval after this call. Each later
 * tick is scheduled from the previous tick's deadline, not from when the
 * callback finished; if a callback overran one or more intervals the missed
 * ticks are skipped, so the callback stays on its original schedule and
 * never runs twice in a burst to catch up. Starting a running periodic does
 * nothing. Returns 0 or SQ_ECLOSED (it is closing). */
SQ_EXTERN int sq_periodic_start(sq_periodic *p);

/* Stops ticking; start again with sq_periodic_start(). Legal from inside the
 * periodic's own callback (no further tick happens). */
SQ_EXTERN void sq_periodic_stop(sq_periodic *p);

/* Whether the periodic is started (between start and stop). */
SQ_EXTERN bool sq_periodic_is_running(const sq_periodic *p);

/* Stops the periodic and releases it: close_cb(p, arg) (may be NULL) runs on
 * a later iteration, after which p is freed. Legal from inside the tick
 * callback. Calling it twice does nothing the second time. */
SQ_EXTERN void sq_periodic_close(sq_periodic *p, sq_periodic_cb close_cb);

/* ------------------------------------------------------------------------ */
/* Signals and graceful shutdown                                            */
/* ------------------------------------------------------------------------ */

/* The function a shutdown hook calls, exactly once, when its part of the
 * shutdown is finished; pass it the token the hook received. Loop thread
 * only. Calling it late (after the shutdown deadline) or twice is harmless;
 * calling it after sq_loop_close() is not. */
typedef void (*sq_shutdown_done)(void *token);

/* A shutdown hook: starts a graceful shutdown of something (stop accepting,
 * let in-flight requests finish, close idle connections) and calls
 * done(token) when it is finished, either before returning or later from any
 * callback on the loop. */
typedef void (*sq_shutdown_hook)(sq_loop *loop, void *arg, sq_shutdown_done done, void *token);

/* Installs SIGINT and SIGTERM handlers (uv_signal) on this loop. The first
 * signal starts sq_loop_shutdown(); a second one while that is in progress
 * stops the loop at once (after the current iteration). The handlers stay
 * until the loop closes and do not keep it alive. Calling it again does
 * nothing. Use it on one loop per process. Returns 0, SQ_ENOMEM or a libuv
 * error. */
SQ_EXTERN int sq_loop_handle_signals(sq_loop *loop);

/* Registers hook(loop, arg, done, token) to be called when a shutdown
 * starts. Hooks are called in registration order. The HTTP server registers
 * one per server to drain it. The same (hook, arg) pair may be registered
 * once; a second registration returns SQ_EALREADY. Returns 0, SQ_ENOMEM,
 * SQ_EINVAL, SQ_EALREADY or SQ_ECLOSED. */
SQ_EXTERN int sq_loop_add_shutdown_hook(sq_loop *loop, sq_shutdown_hook hook, void *arg);

/* Unregisters a hook (for example when its server is freed before any
 * shutdown). If a shutdown is waiting for it, it counts as done. Its token
 * stays safe to pass to done() until the loop closes. Returns 0 or
 * SQ_ENOENT. */
SQ_EXTERN int sq_loop_remove_shutdown_hook(sq_loop *loop, sq_shutdown_hook hook, void *arg);

/* How long a shutdown waits for its hooks before stopping the loop anyway:
 * 10 000 ms by default; 0 means wait forever. Returns 0 or SQ_ENOMEM. */
SQ_EXTERN int sq_loop_set_shutdown_timeout(sq_loop *loop, uint64_t timeout_ms);

/* Starts a graceful shutdown from code, exactly as the first signal does:
 * calls every registered hook before returning, then stops the loop (after
 * the current iteration) once all hooks have called done, or when the
 * shutdown timeout expires, whichever is first. With no hooks the loop
 * stops at once. Called again while a shutdown is in progress, it stops the
 * loop at once. A new sq_loop_run() starts afresh (another shutdown may be
 * requested). Returns 0, SQ_ENOMEM or SQ_ECLOSED. */
SQ_EXTERN int sq_loop_shutdown(sq_loop *loop);

/* Whether a graceful shutdown is in progress (hooks called, not all done).
 * Servers may use it to refuse new work. */
SQ_EXTERN bool sq_loop_is_shutting_down(const sq_loop *loop);

#ifdef __cplusplus
}
#endif
#endif
