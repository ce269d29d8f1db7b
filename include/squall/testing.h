/* squall: the test harness for your own apps (Tornado's AsyncHTTPTestCase).
 *
 * An sq_test starts your sq_app on 127.0.0.1 on a free port, on a fresh
 * sq_loop, in the thread of the test. Every call that waits (a fetch, a
 * read from a raw connection, sq_test_run_until) runs that loop until what
 * it waits for has happened or its deadline has passed, exactly as
 * Tornado's fetch() runs the IOLoop until the response arrives. Nothing
 * runs in another thread, so a test may look at the app's state between
 * calls without locks.
 *
 *     sq_test *t = sq_test_new(routes, NULL);
 *     sq_test_response *r = sq_test_get(t, "/");
 *     assert(r->status == 200 && strcmp(r->body, "Hello, world") == 0);
 *     assert(sq_test_free(t) == 0);
 *
 * Deadlines. Every waiting call has one: 5 seconds by default, the
 * environment variable SQ_TEST_TIMEOUT (seconds, as Tornado's
 * ASYNC_TEST_TIMEOUT) or sq_test_set_timeout() change it. A call whose
 * deadline passes returns an error (SQ_ETIMEDOUT) and writes a message
 * naming what it waited for to stderr, so a hung handler fails its test
 * instead of hanging CI.
 *
 * Memory. Responses and the bytes returned by the raw-connection reads
 * belong to the sq_test and are released by sq_test_free(); a test never
 * frees them. sq_test_free() closes the app, runs the loop until every
 * handle is closed and closes the loop, so a test that frees its sq_test
 * leaves nothing for LeakSanitizer.
 *
 * Framework-neutral: the harness only returns values and writes messages
 * to stderr; check them with Criterion's cr_assert, assert() or anything
 * else. None of the functions below may be called from inside a callback
 * of the test's loop (they return SQ_ESTATE, or NULL, there).
 */
#ifndef SQUALL_TESTING_H
#define SQUALL_TESTING_H

#include "common.h"
#include "loop.h"
#include "web.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sq_test sq_test;
typedef struct sq_test_conn sq_test_conn;

/* A response header: NUL-terminated name and value, as received. */
typedef struct sq_test_header {
    const char *name;
    const char *value;
} sq_test_header;

/* A response read by sq_test_fetch() or sq_test_conn_recv_response(). All
 * strings are NUL-terminated and owned by the sq_test (valid until
 * sq_test_free). Read it only once done is true (the blocking calls return
 * it done). */
typedef struct sq_test_response {
    /* 0, or why no complete response arrived: SQ_ETIMEDOUT (the deadline
     * passed), SQ_EPROTO (a malformed response, or the connection closed in
     * the middle of one), a libuv error such as UV_ECONNREFUSED, SQ_ECANCELED
     * (the sq_test was freed first). status is then 0. */
    int error;
    /* A one-line description of error ("" when error is 0). */
    const char *error_message;
    int status;         /* e.g. 200 */
    const char *reason; /* e.g. "OK" */
    const sq_test_header *headers;
    size_t nheaders;
    const char *body; /* de-chunked; "" when there is none */
    size_t body_len;
    bool done;         /* the response is complete, or failed (error) */
    double elapsed_ms; /* from the request being started to done */
} sq_test_response;

/* ------------------------------------------------------------------------ */
/* Starting and stopping                                                    */
/* ------------------------------------------------------------------------ */

/* Builds the app under test on the given loop (Tornado's get_app). Return
 * NULL on failure. The harness makes it listen and closes it. */
typedef sq_app *(*sq_test_make_app)(sq_loop *loop, void *arg);

/* Creates a fresh loop, calls make_app(loop, arg) on it and makes the app
 * listen on 127.0.0.1 on a free port. The caller owns the result and
 * releases it with sq_test_free(). Returns NULL (with a message on stderr)
 * when make_app returns NULL, the app cannot listen, or out of memory. */
SQ_EXTERN sq_test *sq_test_start(sq_test_make_app make_app, void *arg);

/* sq_test_start() for an app made by sq_app_new(loop, routes, settings):
 * routes (ending with a NULL pattern) and the strings of settings (may be
 * NULL) must outlive the sq_test. */
SQ_EXTERN sq_test *sq_test_new(const sq_route *routes, const sq_app_settings *settings);

/* Closes every raw connection and fetch still open, closes the app (its
 * requests in flight get on_connection_close), runs the loop until the app
 * has closed and every handle and executor job is gone, closes the loop
 * and frees everything, responses included. Returns 0, or SQ_ETIMEDOUT
 * when the app did not close within the deadline (a handler that said
 * sq_finish_later() never finished its request: a bug the test should
 * fail on; the loop and app are then leaked on purpose rather than
 * freed while in use). NULL does nothing and returns 0. */
SQ_EXTERN int sq_test_free(sq_test *t);

/* The app under test (made by make_app); owned by t, closed by
 * sq_test_free. */
SQ_EXTERN sq_app *sq_test_app(const sq_test *t);

/* The loop the app and the harness run on: schedule timers or start your
 * own clients on it. Owned by t, closed by sq_test_free. */
SQ_EXTERN sq_loop *sq_test_loop(const sq_test *t);

/* The port the app listens on, on 127.0.0.1. */
SQ_EXTERN int sq_test_port(const sq_test *t);

/* "http://127.0.0.1:PORT" followed by path (Tornado's get_url), in a buffer
 * owned by t that the next call overwrites. */
SQ_EXTERN const char *sq_test_url(sq_test *t, const char *path);

/* Sets the deadline of every later waiting call to timeout_ms milliseconds
 * (0 restores the default: SQ_TEST_TIMEOUT seconds, or 5 s). */
SQ_EXTERN void sq_test_set_timeout(sq_test *t, uint32_t timeout_ms);

/* The current deadline of a waiting call, in milliseconds. */
SQ_EXTERN uint32_t sq_test_timeout(const sq_test *t);

/* ------------------------------------------------------------------------ */
/* Running the loop                                                         */
/* ------------------------------------------------------------------------ */

/* Runs the loop until cond(arg) returns true or timeout_ms milliseconds
 * have passed (0: the test's timeout). cond is evaluated first, then
 * before and after every poll for I/O, so it sees the effect of every
 * callback (I/O, timers, call_soon, executor results). Returns 0 when cond
 * became true, SQ_ETIMEDOUT otherwise (without a message: a test may wait
 * on purpose for something that must not happen), SQ_ESTATE when called
 * from a callback of the loop. */
SQ_EXTERN int sq_test_run_until(sq_test *t, bool (*cond)(void *arg), void *arg,
                                uint32_t timeout_ms);

/* Runs the loop for ms milliseconds, whatever happens. */
SQ_EXTERN void sq_test_run_for(sq_test *t, uint32_t ms);

/* Tornado's stop(): makes the current or next sq_test_wait() return. Call
 * it from a callback the test is waiting for (or anywhere on the loop's
 * thread). */
SQ_EXTERN void sq_test_stop(sq_test *t);

/* Tornado's wait(): runs the loop until sq_test_stop() was called, then
 * resets that flag and returns 0; SQ_ETIMEDOUT (with a message on stderr)
 * after timeout_ms (0: the test's timeout); SQ_ESTATE from a loop
 * callback. */
SQ_EXTERN int sq_test_wait(sq_test *t, uint32_t timeout_ms);

/* ------------------------------------------------------------------------ */
/* HTTP requests                                                            */
/* ------------------------------------------------------------------------ */

/* Sends "method path HTTP/1.1" to the app on a new connection and runs the
 * loop until the whole response has arrived or the deadline has passed
 * (Tornado's fetch with raise_error=False). headers is NULL or an array of
 * "Name: value" strings ending with NULL; Host (127.0.0.1:PORT) and
 * "Connection: close" are added unless given, and Content-Length when body
 * is not NULL (or the method is POST, PUT or PATCH) unless a Content-Length
 * or Transfer-Encoding header is given. body may be NULL. A HEAD response
 * is read without a body. Returns the response, owned by t; check its
 * error field (a timed-out fetch has error SQ_ETIMEDOUT, the message went
 * to stderr, and its connection is closed so the app sees the client go
 * away). NULL only when out of memory or called from a loop callback. */
SQ_EXTERN sq_test_response *sq_test_fetch(sq_test *t, const char *method, const char *path,
                                          const char *const *headers, const void *body,
                                          size_t body_len);

/* sq_test_fetch(t, "GET", path, NULL, NULL, 0). */
SQ_EXTERN sq_test_response *sq_test_get(sq_test *t, const char *path);

/* Starts a fetch without waiting for it (for tests that run several
 * requests at once): the response's done becomes true while a later call
 * runs the loop. No deadline applies until sq_test_fetch_wait(). Same
 * arguments, ownership and errors as sq_test_fetch. */
SQ_EXTERN sq_test_response *sq_test_fetch_start(sq_test *t, const char *method, const char *path,
                                                const char *const *headers, const void *body,
                                                size_t body_len);

/* Runs the loop until a started fetch is done or the deadline (timeout_ms,
 * 0: the test's timeout) passes; then the response has error SQ_ETIMEDOUT
 * and its connection is closed. Returns r->error. */
SQ_EXTERN int sq_test_fetch_wait(sq_test *t, sq_test_response *r, uint32_t timeout_ms);

/* The first value of a response header (case-insensitive name), or NULL. */
SQ_EXTERN const char *sq_test_header_get(const sq_test_response *r, const char *name);

/* Every value of a response header in order: up to max go to out; returns
 * how many there are. */
SQ_EXTERN size_t sq_test_header_all(const sq_test_response *r, const char *name, const char **out,
                                    size_t max);

/* ------------------------------------------------------------------------ */
/* Raw connections: tests that speak bytes                                  */
/* ------------------------------------------------------------------------ */

/* Opens a TCP connection to the app and runs the loop until it is
 * connected. Owned by t (closed by sq_test_free if not before). Returns
 * NULL, with a message on stderr, when the connection fails or the
 * deadline passes. */
SQ_EXTERN sq_test_conn *sq_test_connect(sq_test *t);

/* Writes len bytes (copied) and runs the loop until the kernel has taken
 * them. Returns 0, the write's error, SQ_ETIMEDOUT, or SQ_ECLOSED after
 * sq_test_conn_close. */
SQ_EXTERN int sq_test_conn_send(sq_test_conn *c, const void *data, size_t len);

/* sq_test_conn_send of a NUL-terminated string. */
SQ_EXTERN int sq_test_conn_send_str(sq_test_conn *c, const char *s);

/* Runs the loop until at least one byte not yet returned has arrived, then
 * returns all of them (NUL-terminated; *len gets the count when len is not
 * NULL). At end of stream with nothing new it returns "" with *len 0.
 * NULL (message on stderr) when the deadline passes first. The bytes live
 * until the next read call on c or sq_test_free. */
SQ_EXTERN const char *sq_test_conn_recv(sq_test_conn *c, size_t *len);

/* Runs the loop until the bytes not yet returned contain delim, and returns
 * them up to and including delim; what follows is kept for the next read.
 * NULL (message on stderr) when the peer closes or the deadline passes
 * first. Lifetime as sq_test_conn_recv. */
SQ_EXTERN const char *sq_test_conn_recv_until(sq_test_conn *c, const char *delim, size_t *len);

/* Runs the loop until the peer closes the connection and returns every
 * byte not yet returned. NULL (message on stderr) when the deadline passes
 * first. Lifetime as sq_test_conn_recv. */
SQ_EXTERN const char *sq_test_conn_recv_all(sq_test_conn *c, size_t *len);

/* Reads one HTTP response from the bytes not yet returned (so several
 * pipelined responses are read one call each); head_request says the
 * request was HEAD (no body follows). Returns a response owned by t, with
 * error set on a malformed or cut response or at the deadline. NULL only
 * when out of memory. */
SQ_EXTERN sq_test_response *sq_test_conn_recv_response(sq_test_conn *c, bool head_request);

/* Runs the loop until the peer closes the connection (bytes arriving
 * meanwhile are kept for the reads). Returns true when it did within
 * timeout_ms (0: the test's timeout), false otherwise (no message). */
SQ_EXTERN bool sq_test_conn_wait_closed(sq_test_conn *c, uint32_t timeout_ms);

/* Closes the connection (the app sees the client go away on its next
 * loop iteration). c must not be used afterwards. */
SQ_EXTERN void sq_test_conn_close(sq_test_conn *c);

#ifdef __cplusplus
}
#endif
#endif
