/* async: handlers that finish later without blocking anyone.
 *
 *   GET /               answers at once
 *   GET /wait           waits 2 s on a timer, then answers; meanwhile the
 *                       loop serves every other request at full speed
 *   GET /primes?n=N     counts the primes below N on the executor (libuv's
 *                       thread pool) and answers {"n": N, "primes": count}
 *
 * The pattern is Tornado's async handler in C: the verb calls
 * sq_finish_later() and returns; a later callback writes and calls
 * sq_finish(). */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void index_get(sq_req *req) { sq_write_str(req, "async example: /wait, /primes?n=N\n"); }

/* ---- /wait: a timer ---- */

typedef struct wait_state {
    const async_app *cfg;
    sq_timer_id timer;
} wait_state;

static void wait_initialize(sq_req *req, void *route_data) {
    ((wait_state *)sq_req_state(req))->cfg = route_data;
}

static void wait_done(void *arg) {
    sq_req *req = arg;
    ((wait_state *)sq_req_state(req))->timer = 0;
    sq_write_str(req, "waited\n");
    sq_finish(req); /* releases req: do not touch it afterwards */
}

static void wait_get(sq_req *req) {
    wait_state *s = sq_req_state(req);
    sq_finish_later(req);
    if (sq_loop_call_later(sq_req_loop(req), s->cfg->wait_ms, wait_done, req, &s->timer) != 0)
        sq_send_error(req, 503, NULL);
}

/* The client left: no need to wait any longer. A request that said
 * sq_finish_later() must still be finished exactly once. */
static void wait_closed(sq_req *req) {
    wait_state *s = sq_req_state(req);
    if (s->timer && sq_loop_cancel(sq_req_loop(req), s->timer) == 0) {
        s->timer = 0;
        sq_finish(req);
    }
}

/* ---- /primes: the executor ---- */

long async_count_primes(long n) {
    long count = 0;
    for (long i = 2; i < n; i++) {
        bool prime = true;
        for (long d = 2; d * d <= i; d++)
            if (i % d == 0) {
                prime = false;
                break;
            }
        count += prime;
    }
    return count;
}

typedef struct primes_job {
    sq_req *req;
    long n;
    long count;
} primes_job;

/* On a pool thread: touches nothing but the job. */
static int primes_work(void *arg, void **result) {
    primes_job *job = arg;
    job->count = async_count_primes(job->n);
    *result = job;
    return 0;
}

/* Back on the loop. The request is still valid even if the client left
 * (it lives until finished); the write then fails harmlessly. */
static void primes_done(sq_loop *loop, int status, void *result, void *arg) {
    primes_job *job = arg;
    sq_req *req = job->req;
    if (status == 0) {
        json_t *out =
            json_pack("{s:I, s:I}", "n", (json_int_t)job->n, "primes", (json_int_t)job->count);
        sq_write_json(req, out);
        json_decref(out);
        sq_finish(req);
    } else {
        sq_send_error(req, 500, NULL);
    }
    free(job);
}

static void primes_get(sq_req *req) {
    const char *arg = sq_get_argument(req, "n", "100000");
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || n < 0 || n > 50000000) {
        sq_send_error(req, 400, "n must be an integer from 0 to 50000000");
        return;
    }
    primes_job *job = malloc(sizeof *job);
    if (!job) {
        sq_send_error(req, 503, NULL);
        return;
    }
    *job = (primes_job){.req = req, .n = n};
    sq_finish_later(req);
    if (sq_loop_run_in_executor(sq_req_loop(req), primes_work, job, primes_done) != 0) {
        free(job);
        sq_send_error(req, 503, NULL);
    }
}

static const sq_handler index_handler = {.get = index_get};
static const sq_handler wait_handler = {
    .state_size = sizeof(wait_state),
    .initialize = wait_initialize,
    .get = wait_get,
    .on_connection_close = wait_closed,
};
static const sq_handler primes_handler = {.get = primes_get};

sq_app *async_app_new(sq_loop *loop, async_app *cfg) {
    cfg->routes[0] = (sq_route){.pattern = "/", .handler = &index_handler};
    cfg->routes[1] = (sq_route){.pattern = "/wait", .handler = &wait_handler, .data = cfg};
    cfg->routes[2] = (sq_route){.pattern = "/primes", .handler = &primes_handler};
    cfg->routes[3] = (sq_route){.pattern = NULL};
    return sq_app_new(loop, cfg->routes, NULL);
}
