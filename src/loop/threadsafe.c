/* Calls from other threads: a mutex-protected queue and a uv_async_t.
 *
 * libuv coalesces uv_async_send(): many sends may produce one callback. The
 * callback therefore drains the whole queue, and a sender only needs to wake
 * the loop when it puts the first call into an empty queue: a non-empty queue
 * means a wake-up is already on its way and the drain that follows it takes
 * this call too (the drain empties the queue under the same lock). libuv
 * clears its pending flag before running the callback, so a send that comes
 * after the drain always produces another callback.
 *
 * uv_async_send() happens under the lock. That makes closing safe: once
 * sq_loop_close() has set ts_closing under the lock, no thread can still be
 * inside uv_async_send() on a handle about to be closed.
 */
#include <stdlib.h>

#include "loop/loop_impl.h"

static void on_async(uv_async_t *a) {
    sq_loop *loop = (sq_loop *)((char *)a - offsetof(sq_loop, async));
    uv_mutex_lock(&loop->ts_lock);
    sq__call *calls = loop->ts_q;
    size_t n = loop->ts_n, cap = loop->ts_cap;
    /* Swap in the spare array so that senders never wait on callbacks. */
    loop->ts_q = loop->ts_spare;
    loop->ts_cap = loop->ts_spare_cap;
    loop->ts_n = 0;
    loop->ts_spare = NULL;
    loop->ts_spare_cap = 0;
    uv_mutex_unlock(&loop->ts_lock);

    for (size_t i = 0; i < n; i++) {
        calls[i].fn(calls[i].arg);
        /* A callback cannot close the loop (it is running), but keep the
         * drain honest if the loop is driven by hand. */
        if (loop->closing) break;
    }

    uv_mutex_lock(&loop->ts_lock);
    if (loop->ts_spare == NULL && !loop->ts_closing) {
        loop->ts_spare = calls;
        loop->ts_spare_cap = cap;
        calls = NULL;
    }
    uv_mutex_unlock(&loop->ts_lock);
    free(calls);
}

int sq__threadsafe_init(sq_loop *loop) {
    if (uv_mutex_init(&loop->ts_lock) != 0) return SQ_ENOMEM;
    int err = uv_async_init(loop->uv, &loop->async, on_async);
    if (err) {
        uv_mutex_destroy(&loop->ts_lock);
        return err;
    }
    return 0;
}

int sq_loop_call_threadsafe(sq_loop *loop, sq_callback fn, void *arg) {
    if (!loop || !fn) return SQ_EINVAL;
    int err = 0;
    uv_mutex_lock(&loop->ts_lock);
    if (loop->ts_closing) {
        err = SQ_ECLOSED;
    } else {
        if (loop->ts_n == loop->ts_cap) {
            size_t cap = loop->ts_cap ? loop->ts_cap * 2 : 64;
            sq__call *q = realloc(loop->ts_q, cap * sizeof *q);
            if (!q)
                err = SQ_ENOMEM;
            else {
                loop->ts_q = q;
                loop->ts_cap = cap;
            }
        }
        if (!err) {
            loop->ts_q[loop->ts_n].fn = fn;
            loop->ts_q[loop->ts_n].arg = arg;
            if (loop->ts_n++ == 0) uv_async_send(&loop->async);
        }
    }
    uv_mutex_unlock(&loop->ts_lock);
    return err;
}

void sq__threadsafe_close(sq_loop *loop) {
    uv_mutex_lock(&loop->ts_lock);
    loop->ts_closing = true;
    loop->ts_n = 0; /* dropped, never run */
    uv_mutex_unlock(&loop->ts_lock);
    uv_close((uv_handle_t *)&loop->async, NULL);
}

void sq__threadsafe_free(sq_loop *loop) {
    free(loop->ts_q);
    free(loop->ts_spare);
    uv_mutex_destroy(&loop->ts_lock);
}
