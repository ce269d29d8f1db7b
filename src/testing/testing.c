/* The test harness: an app on a fresh loop in the test's thread, a small
 * HTTP/1.1 client on that loop (libuv TCP and squall's response parser),
 * raw connections, and loop runs with deadlines. */
#include "squall/testing.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "squall/http_parser.h"

#define SQT_DEFAULT_TIMEOUT_MS 5000u
#define SQT_MAX_HEADERS 256
#define SQT_READ_CHUNK 65536

/* A response being read, with the storage behind the public fields. */
typedef struct resp_impl {
    sq_test_response pub; /* first: a sq_test_response * is a resp_impl * */
    struct resp_impl *next;
    sq_http_parser parser;
    bool head_done;
    bool head_request;
    char *method_path; /* "GET /x", for messages */
    sq_buf body;
    sq_test_header *headers;
    char *strings; /* reason and header names and values, one block */
    char errmsg[256];
    uint64_t started;
    struct sq_test_conn *conn; /* a fetch's own connection, until done */
} resp_impl;

struct sq_test_conn {
    uv_tcp_t tcp;
    sq_test *t;
    struct sq_test_conn *next, *prev;
    uv_connect_t creq;
    sq_buf in; /* received bytes; [off, len) not yet returned */
    size_t off;
    char *out; /* the last bytes returned to the caller */
    bool connected;
    bool eof;
    bool closing;
    bool owned_by_user; /* a raw connection (not a fetch's) */
    int error;          /* connect, read or write error */
    size_t req_len;     /* a fetch: length of the request waiting in out */
    int writes;         /* writes in flight */
    int write_error;
    resp_impl *fetch; /* the fetch this connection carries, if any */
};

struct sq_test {
    sq_loop *loop;
    sq_app *app;
    int port;
    uint32_t timeout_ms;
    uv_prepare_t prepare;
    uv_check_t check;
    bool (*cond)(void *);
    void *cond_arg;
    bool cond_met;
    bool deadline_passed;
    bool stopped;
    bool app_closed;
    sq_test_conn *conns; /* open connections */
    resp_impl *responses;
    char url[512];
};

typedef struct write_req {
    uv_write_t req;
    sq_test_conn *c;
    char data[];
} write_req;

static void conn_close(sq_test_conn *c);
static void resp_fail(resp_impl *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- running the loop ---------------------------------------------------- */

static void eval_cond(sq_test *t) {
    if (t->cond && !t->cond_met && t->cond(t->cond_arg)) {
        t->cond_met = true;
        sq_loop_stop(t->loop);
    }
}

/* Evaluated before the poll (so that a timer or call_soon that made the
 * condition true does not let the loop sleep: a stopped libuv loop polls
 * with a zero timeout) and after it (to see I/O callbacks at once). */
static void on_prepare(uv_prepare_t *h) { eval_cond(h->data); }
static void on_check(uv_check_t *h) { eval_cond(h->data); }

static void on_deadline(void *arg) {
    sq_test *t = arg;
    t->deadline_passed = true;
    sq_loop_stop(t->loop);
}

static uint32_t eff_timeout(const sq_test *t, uint32_t ms) { return ms ? ms : t->timeout_ms; }

int sq_test_run_until(sq_test *t, bool (*cond)(void *), void *arg, uint32_t timeout_ms) {
    if (cond && cond(arg)) return 0;
    if (t->cond) return SQ_ESTATE; /* nested: called from a loop callback */
    t->cond = cond;
    t->cond_arg = arg;
    t->cond_met = false;
    t->deadline_passed = false;
    sq_timer_id id = 0;
    int err = sq_loop_call_later(t->loop, eff_timeout(t, timeout_ms), on_deadline, t, &id);
    if (err) {
        t->cond = NULL;
        return err;
    }
    uv_prepare_start(&t->prepare, on_prepare);
    uv_check_start(&t->check, on_check);
    while (!t->cond_met && !t->deadline_passed) {
        err = sq_loop_run(t->loop);
        if (err) break;
    }
    uv_prepare_stop(&t->prepare);
    uv_check_stop(&t->check);
    sq_loop_cancel(t->loop, id);
    bool met = t->cond_met || (cond && cond(arg));
    t->cond = NULL;
    if (err) return err;
    return met ? 0 : SQ_ETIMEDOUT;
}

static bool never(void *arg) { return false; }

void sq_test_run_for(sq_test *t, uint32_t ms) { sq_test_run_until(t, never, NULL, ms ? ms : 1); }

void sq_test_stop(sq_test *t) { t->stopped = true; }

static bool is_stopped(void *arg) { return ((sq_test *)arg)->stopped; }

int sq_test_wait(sq_test *t, uint32_t timeout_ms) {
    int err = sq_test_run_until(t, is_stopped, t, timeout_ms);
    if (err == SQ_ETIMEDOUT)
        fprintf(stderr, "sq_test_wait: sq_test_stop() was not called within %u ms\n",
                eff_timeout(t, timeout_ms));
    t->stopped = false;
    return err;
}

/* ---- starting and stopping ------------------------------------------------ */

static uint32_t default_timeout(void) {
    const char *env = getenv("SQ_TEST_TIMEOUT");
    if (env && *env) {
        double s = strtod(env, NULL);
        if (s > 0 && s < 86400) return (uint32_t)(s * 1000);
    }
    return SQT_DEFAULT_TIMEOUT_MS;
}

sq_test *sq_test_start(sq_test_make_app make_app, void *arg) {
    sq_test *t = calloc(1, sizeof *t);
    if (!t) {
        fprintf(stderr, "sq_test_start: out of memory\n");
        return NULL;
    }
    t->timeout_ms = default_timeout();
    t->loop = sq_loop_new();
    if (!t->loop) {
        fprintf(stderr, "sq_test_start: cannot create a loop\n");
        free(t);
        return NULL;
    }
    uv_prepare_init(sq_loop_uv(t->loop), &t->prepare);
    uv_check_init(sq_loop_uv(t->loop), &t->check);
    t->prepare.data = t;
    t->check.data = t;
    /* These two only watch: they must not keep the loop alive. */
    uv_unref((uv_handle_t *)&t->prepare);
    uv_unref((uv_handle_t *)&t->check);
    t->app = make_app ? make_app(t->loop, arg) : NULL;
    if (!t->app) {
        fprintf(stderr, "sq_test_start: the app could not be made\n");
        sq_test_free(t);
        return NULL;
    }
    int err = sq_app_listen(t->app, "127.0.0.1", 0);
    if (err) {
        fprintf(stderr, "sq_test_start: cannot listen on 127.0.0.1: %s\n", sq_strerror(err));
        sq_test_free(t);
        return NULL;
    }
    t->port = sq_app_port(t->app);
    return t;
}

typedef struct new_args {
    const sq_route *routes;
    const sq_app_settings *settings;
} new_args;

static sq_app *make_from_routes(sq_loop *loop, void *arg) {
    new_args *a = arg;
    return sq_app_new(loop, a->routes, a->settings);
}

sq_test *sq_test_new(const sq_route *routes, const sq_app_settings *settings) {
    new_args a = {routes, settings};
    return sq_test_start(make_from_routes, &a);
}

static void on_app_closed(sq_app *app, void *arg) { ((sq_test *)arg)->app_closed = true; }

static bool app_is_closed(void *arg) { return ((sq_test *)arg)->app_closed; }

static bool no_conns(void *arg) { return ((sq_test *)arg)->conns == NULL; }

static void handle_closed(uv_handle_t *h) {}

static void stop_loop(void *arg) { sq_loop_stop(arg); }

/* Runs the loop for ms without the condition handles (they are closing). */
static void run_plain(sq_test *t, uint32_t ms) {
    if (sq_loop_call_later(t->loop, ms, stop_loop, t->loop, NULL) == 0) sq_loop_run(t->loop);
}

int sq_test_free(sq_test *t) {
    if (!t) return 0;
    if (t->cond) return SQ_ESTATE;
    int result = 0;
    for (resp_impl *r = t->responses; r; r = r->next)
        if (!r->pub.done) resp_fail(r, SQ_ECANCELED, "the test ended first");
    for (sq_test_conn *c = t->conns; c; c = c->next)
        conn_close(c);
    if (t->app) {
        sq_app_close(t->app, on_app_closed, t);
        if (sq_test_run_until(t, app_is_closed, t, 0) != 0) {
            fprintf(stderr,
                    "sq_test_free: the app did not close within %u ms: a handler that called "
                    "sq_finish_later() never finished its request; leaking the loop\n",
                    t->timeout_ms);
            result = SQ_ETIMEDOUT;
        }
    }
    sq_test_run_until(t, no_conns, t, 0);
    if (result == 0) {
        uv_close((uv_handle_t *)&t->prepare, handle_closed);
        uv_close((uv_handle_t *)&t->check, handle_closed);
        /* Executor jobs and handles still closing keep the loop busy for a
         * little while: run it in short steps until it agrees to close. */
        uint64_t end = sq_loop_time(t->loop) + t->timeout_ms;
        int err;
        while ((err = sq_loop_close(t->loop)) == SQ_EBUSY && sq_loop_time(t->loop) < end)
            run_plain(t, 10);
        if (err) {
            fprintf(stderr, "sq_test_free: the loop did not close: %s\n", sq_strerror(err));
            result = err;
        }
    }
    if (result == 0) {
        while (t->responses) {
            resp_impl *r = t->responses;
            t->responses = r->next;
            sq__buf_free(&r->body);
            free(r->headers);
            free(r->strings);
            free(r->method_path);
            free(r);
        }
        free(t);
    }
    return result;
}

sq_app *sq_test_app(const sq_test *t) { return t->app; }
sq_loop *sq_test_loop(const sq_test *t) { return t->loop; }
int sq_test_port(const sq_test *t) { return t->port; }

const char *sq_test_url(sq_test *t, const char *path) {
    snprintf(t->url, sizeof t->url, "http://127.0.0.1:%d%s", t->port, path ? path : "");
    return t->url;
}

void sq_test_set_timeout(sq_test *t, uint32_t timeout_ms) {
    t->timeout_ms = timeout_ms ? timeout_ms : default_timeout();
}

uint32_t sq_test_timeout(const sq_test *t) { return t->timeout_ms; }

/* ---- connections ----------------------------------------------------------- */

static void conn_free(uv_handle_t *h) {
    sq_test_conn *c = (sq_test_conn *)h;
    sq_test *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    sq__buf_free(&c->in);
    free(c->out);
    free(c);
}

static void conn_close(sq_test_conn *c) {
    if (c->closing) return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, conn_free);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    sq_test_conn *c = (sq_test_conn *)h;
    if (c->in.cap - c->in.len < SQT_READ_CHUNK && sq__buf_reserve(&c->in, SQT_READ_CHUNK) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    /* Keep one byte spare so that the buffer can always be NUL-terminated. */
    buf->base = c->in.data + c->in.len;
    buf->len = c->in.cap - c->in.len - 1;
}

static void resp_progress(resp_impl *r, sq_test_conn *c);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    sq_test_conn *c = (sq_test_conn *)s;
    if (n > 0) {
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = '\0';
    } else if (n == UV_EOF) {
        c->eof = true;
        uv_read_stop(s);
    } else if (n < 0) {
        c->error = (int)n;
        c->eof = true;
        uv_read_stop(s);
    }
    if (c->fetch) resp_progress(c->fetch, c);
}

static sq_test_conn *conn_new(sq_test *t) {
    sq_test_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (uv_tcp_init(sq_loop_uv(t->loop), &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    c->t = t;
    c->next = t->conns;
    if (t->conns) t->conns->prev = c;
    t->conns = c;
    return c;
}

static void write_request(sq_test_conn *c);

static void on_connect(uv_connect_t *req, int status) {
    sq_test_conn *c = req->data;
    if (status < 0) {
        c->error = status;
        c->eof = true;
        if (c->fetch)
            resp_fail(c->fetch, status, "cannot connect to 127.0.0.1:%d: %s", c->t->port,
                      uv_strerror(status));
        return;
    }
    if (c->closing) return;
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    int err = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (err) {
        c->error = err;
        c->eof = true;
    }
    if (c->fetch) write_request(c);
}

static int conn_start(sq_test_conn *c) {
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", c->t->port, &addr);
    c->creq.data = c;
    return uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&addr, on_connect);
}

static bool conn_settled(void *arg) {
    sq_test_conn *c = arg;
    return c->connected || c->error;
}

sq_test_conn *sq_test_connect(sq_test *t) {
    if (t->cond) return NULL;
    sq_test_conn *c = conn_new(t);
    if (!c) return NULL;
    c->owned_by_user = true;
    int err = conn_start(c);
    if (!err) err = sq_test_run_until(t, conn_settled, c, 0);
    if (!err) err = c->error;
    if (err) {
        fprintf(stderr, "sq_test_connect: cannot connect to 127.0.0.1:%d: %s\n", t->port,
                sq_strerror(err));
        conn_close(c);
        return NULL;
    }
    return c;
}

static void on_write(uv_write_t *req, int status) {
    write_req *w = (write_req *)req;
    sq_test_conn *c = w->c;
    c->writes--;
    if (status < 0 && !c->write_error) c->write_error = status;
    free(w);
}

static int conn_write(sq_test_conn *c, const void *data, size_t len) {
    write_req *w = malloc(sizeof *w + len);
    if (!w) return SQ_ENOMEM;
    w->c = c;
    if (len) memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int err = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (err) {
        free(w);
        return err;
    }
    c->writes++;
    return 0;
}

static bool writes_done(void *arg) {
    sq_test_conn *c = arg;
    return c->writes == 0;
}

int sq_test_conn_send(sq_test_conn *c, const void *data, size_t len) {
    if (c->closing) return SQ_ECLOSED;
    if (c->t->cond) return SQ_ESTATE;
    if (c->write_error) return c->write_error;
    int err = conn_write(c, data, len);
    if (err) return err;
    err = sq_test_run_until(c->t, writes_done, c, 0);
    if (err == SQ_ETIMEDOUT)
        fprintf(stderr, "sq_test_conn_send: %zu bytes not written within %u ms\n", len,
                c->t->timeout_ms);
    return err ? err : c->write_error;
}

int sq_test_conn_send_str(sq_test_conn *c, const char *s) {
    return sq_test_conn_send(c, s, strlen(s));
}

/* Hands bytes [off, off + n) to the caller as a NUL-terminated copy that
 * lives until the next read call, and consumes them. */
static const char *conn_take(sq_test_conn *c, size_t n, size_t *len) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    if (n) memcpy(out, c->in.data + c->off, n);
    out[n] = '\0';
    free(c->out);
    c->out = out;
    c->off += n;
    if (c->off == c->in.len) c->off = c->in.len = 0;
    if (len) *len = n;
    return out;
}

static bool has_bytes(void *arg) {
    sq_test_conn *c = arg;
    return c->in.len > c->off || c->eof;
}

const char *sq_test_conn_recv(sq_test_conn *c, size_t *len) {
    if (len) *len = 0;
    if (c->closing || c->t->cond) return NULL;
    if (sq_test_run_until(c->t, has_bytes, c, 0) != 0) {
        fprintf(stderr, "sq_test_conn_recv: nothing received within %u ms\n", c->t->timeout_ms);
        return NULL;
    }
    return conn_take(c, c->in.len - c->off, len);
}

typedef struct until_arg {
    sq_test_conn *c;
    const char *delim;
    size_t dlen;
    const char *found;
} until_arg;

static bool has_delim(void *arg) {
    until_arg *u = arg;
    sq_test_conn *c = u->c;
    u->found = c->in.len > c->off
                   ? memmem(c->in.data + c->off, c->in.len - c->off, u->delim, u->dlen)
                   : NULL;
    return u->found != NULL || c->eof;
}

const char *sq_test_conn_recv_until(sq_test_conn *c, const char *delim, size_t *len) {
    if (len) *len = 0;
    if (c->closing || c->t->cond || !delim || !*delim) return NULL;
    until_arg u = {c, delim, strlen(delim), NULL};
    int err = sq_test_run_until(c->t, has_delim, &u, 0);
    if (err || !u.found) {
        fprintf(stderr, "sq_test_conn_recv_until: \"%s\" not received (%s)\n", delim,
                err ? "deadline passed" : "connection closed");
        return NULL;
    }
    return conn_take(c, (size_t)(u.found - (c->in.data + c->off)) + u.dlen, len);
}

static bool is_eof(void *arg) { return ((sq_test_conn *)arg)->eof; }

const char *sq_test_conn_recv_all(sq_test_conn *c, size_t *len) {
    if (len) *len = 0;
    if (c->closing || c->t->cond) return NULL;
    if (sq_test_run_until(c->t, is_eof, c, 0) != 0) {
        fprintf(stderr, "sq_test_conn_recv_all: the peer did not close within %u ms\n",
                c->t->timeout_ms);
        return NULL;
    }
    return conn_take(c, c->in.len - c->off, len);
}

bool sq_test_conn_wait_closed(sq_test_conn *c, uint32_t timeout_ms) {
    if (c->closing || c->t->cond) return false;
    return sq_test_run_until(c->t, is_eof, c, timeout_ms) == 0;
}

void sq_test_conn_close(sq_test_conn *c) {
    if (c) conn_close(c);
}

/* ---- responses ------------------------------------------------------------- */

static resp_impl *resp_new(sq_test *t, bool head_request) {
    resp_impl *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    sq_http_parser_init(&r->parser, SQ_HTTP_RESPONSE);
    if (head_request) r->parser.options |= SQ_HTTP_OPT_HEAD_RESPONSE;
    r->head_request = head_request;
    r->pub.error_message = "";
    r->pub.reason = "";
    r->pub.body = "";
    r->started = uv_hrtime();
    r->next = t->responses;
    t->responses = r;
    return r;
}

static void resp_done(resp_impl *r) {
    if (r->pub.done) return;
    r->pub.done = true;
    r->pub.elapsed_ms = (double)(uv_hrtime() - r->started) / 1e6;
    if (r->body.data) {
        r->pub.body = r->body.data;
        r->pub.body_len = r->body.len;
    }
    if (r->conn) {
        r->conn->fetch = NULL;
        conn_close(r->conn);
        r->conn = NULL;
    }
}

static void resp_fail(resp_impl *r, int err, const char *fmt, ...) {
    if (r->pub.done) return;
    va_list ap;
    va_start(ap, fmt);
    int n = 0;
    if (r->method_path) n = snprintf(r->errmsg, sizeof r->errmsg, "%s: ", r->method_path);
    if (n < 0 || (size_t)n >= sizeof r->errmsg) n = 0;
    vsnprintf(r->errmsg + n, sizeof r->errmsg - (size_t)n, fmt, ap);
    va_end(ap);
    r->pub.error = err;
    r->pub.error_message = r->errmsg;
    r->pub.status = 0;
    resp_done(r);
}

/* Copies the parsed head out of the connection's buffer (which moves as it
 * grows). */
static int resp_take_head(resp_impl *r, const sq_http_head *h) {
    size_t total = h->reason_len + 1;
    for (uint32_t i = 0; i < h->num_headers; i++)
        total += h->headers[i].name_len + 1 + h->headers[i].value_len + 1;
    char *s = malloc(total);
    sq_test_header *hs = calloc(h->num_headers ? h->num_headers : 1, sizeof *hs);
    if (!s || !hs) {
        free(s);
        free(hs);
        return SQ_ENOMEM;
    }
    free(r->strings);
    free(r->headers);
    r->strings = s;
    r->headers = hs;
    if (h->reason_len) memcpy(s, h->reason, h->reason_len);
    s[h->reason_len] = '\0';
    r->pub.reason = s;
    s += h->reason_len + 1;
    for (uint32_t i = 0; i < h->num_headers; i++) {
        const sq_http_header *f = &h->headers[i];
        if (f->name_len) memcpy(s, f->name, f->name_len);
        s[f->name_len] = '\0';
        hs[i].name = s;
        s += f->name_len + 1;
        if (f->value_len) memcpy(s, f->value, f->value_len);
        s[f->value_len] = '\0';
        hs[i].value = s;
        s += f->value_len + 1;
    }
    r->pub.headers = hs;
    r->pub.nheaders = h->num_headers;
    r->pub.status = h->status;
    return 0;
}

/* Parses what the connection has buffered into r; marks r done when the
 * response is complete or cannot be. */
static void resp_progress(resp_impl *r, sq_test_conn *c) {
    while (!r->pub.done) {
        const char *p = c->in.data + c->off;
        size_t avail = c->in.len - c->off;
        if (!r->head_done) {
            sq_http_header hdrs[SQT_MAX_HEADERS];
            sq_http_head head;
            memset(&head, 0, sizeof head);
            head.headers = hdrs;
            head.max_headers = SQT_MAX_HEADERS;
            int n = avail ? sq_http_parse_head(&r->parser, p, avail, &head) : SQ_INCOMPLETE;
            if (n == SQ_INCOMPLETE) {
                if (c->eof) {
                    if (c->error && avail == 0)
                        resp_fail(r, c->error, "connection failed: %s", sq_strerror(c->error));
                    else
                        resp_fail(r, SQ_EPROTO, "connection closed %s",
                                  avail ? "in the middle of the response head"
                                        : "before any response");
                }
                return;
            }
            if (n < 0) {
                resp_fail(r, SQ_EPROTO, "malformed response: %s",
                          sq_http_error_str(r->parser.error));
                return;
            }
            c->off += (size_t)n;
            /* An interim response (100 Continue) is skipped. */
            if (head.status >= 100 && head.status < 200 && head.status != 101) {
                continue;
            }
            int err = resp_take_head(r, &head);
            if (err) {
                resp_fail(r, err, "out of memory");
                return;
            }
            r->head_done = true;
            if (sq_http_body_done(&r->parser) && head.body != SQ_HTTP_BODY_EOF) {
                resp_done(r);
                return;
            }
            continue;
        }
        if (avail == 0) {
            if (c->eof) {
                if (sq_http_parse_eof(&r->parser) == 0)
                    resp_done(r);
                else
                    resp_fail(r, SQ_EPROTO, "connection closed in the middle of the body");
            }
            return;
        }
        sq_http_span span;
        int64_t n = sq_http_parse_body(&r->parser, p, avail, &span);
        if (n < 0) {
            resp_fail(r, SQ_EPROTO, "malformed response body: %s",
                      sq_http_error_str(r->parser.error));
            return;
        }
        c->off += (size_t)n;
        if (span.kind == SQ_HTTP_SPAN_DATA && span.len &&
            sq__buf_append(&r->body, span.data, span.len) != 0) {
            resp_fail(r, SQ_ENOMEM, "out of memory");
            return;
        }
        if (sq__buf_reserve(&r->body, 1) == 0) r->body.data[r->body.len] = '\0';
        if (sq_http_body_done(&r->parser)) {
            resp_done(r);
            return;
        }
        if (n == 0 && span.kind == SQ_HTTP_SPAN_NONE) return;
    }
}

static bool resp_is_done(void *arg) { return ((resp_impl *)arg)->pub.done; }

static bool header_given(const char *const *headers, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':') return true;
    return false;
}

static char *build_request(sq_test *t, const char *method, const char *path,
                           const char *const *headers, const void *body, size_t body_len,
                           size_t *out_len) {
    sq_buf b = {0};
    char line[256];
    int ok = 0;
    ok |= sq__buf_append(&b, method, strlen(method));
    ok |= sq__buf_append(&b, " ", 1);
    ok |= sq__buf_append(&b, path, strlen(path));
    ok |= sq__buf_append(&b, " HTTP/1.1\r\n", 11);
    if (!header_given(headers, "Host")) {
        int n = snprintf(line, sizeof line, "Host: 127.0.0.1:%d\r\n", t->port);
        ok |= sq__buf_append(&b, line, (size_t)n);
    }
    for (size_t i = 0; headers && headers[i]; i++) {
        ok |= sq__buf_append(&b, headers[i], strlen(headers[i]));
        ok |= sq__buf_append(&b, "\r\n", 2);
    }
    bool wants_body =
        body || !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
    if (wants_body && !header_given(headers, "Content-Length") &&
        !header_given(headers, "Transfer-Encoding")) {
        int n = snprintf(line, sizeof line, "Content-Length: %zu\r\n", body ? body_len : 0);
        ok |= sq__buf_append(&b, line, (size_t)n);
    }
    if (!header_given(headers, "Connection")) ok |= sq__buf_append(&b, "Connection: close\r\n", 19);
    ok |= sq__buf_append(&b, "\r\n", 2);
    if (body && body_len) ok |= sq__buf_append(&b, body, body_len);
    if (ok) {
        sq__buf_free(&b);
        return NULL;
    }
    *out_len = b.len;
    return b.data;
}

/* The request bytes wait in c->out until the connection is up. */
static void write_request(sq_test_conn *c) {
    int err = conn_write(c, c->out, c->req_len);
    free(c->out);
    c->out = NULL;
    if (err) resp_fail(c->fetch, err, "cannot send the request: %s", sq_strerror(err));
}

sq_test_response *sq_test_fetch_start(sq_test *t, const char *method, const char *path,
                                      const char *const *headers, const void *body,
                                      size_t body_len) {
    if (t->cond || !method || !path) return NULL;
    resp_impl *r = resp_new(t, !strcmp(method, "HEAD"));
    if (!r) return NULL;
    size_t mp = strlen(method) + 1 + strlen(path) + 1;
    r->method_path = malloc(mp);
    if (r->method_path) snprintf(r->method_path, mp, "%s %s", method, path);
    size_t req_len = 0;
    char *req = build_request(t, method, path, headers, body, body_len, &req_len);
    sq_test_conn *c = req ? conn_new(t) : NULL;
    if (!c) {
        free(req);
        resp_fail(r, SQ_ENOMEM, "out of memory");
        return &r->pub;
    }
    c->fetch = r;
    r->conn = c;
    c->out = req;
    c->req_len = req_len;
    int err = conn_start(c);
    if (err) resp_fail(r, err, "cannot connect to 127.0.0.1:%d: %s", t->port, sq_strerror(err));
    return &r->pub;
}

int sq_test_fetch_wait(sq_test *t, sq_test_response *pub, uint32_t timeout_ms) {
    resp_impl *r = (resp_impl *)pub;
    if (!r) return SQ_EINVAL;
    if (t->cond) return SQ_ESTATE;
    if (sq_test_run_until(t, resp_is_done, r, timeout_ms) != 0) {
        resp_fail(r, SQ_ETIMEDOUT, "no complete response within %u ms", eff_timeout(t, timeout_ms));
        fprintf(stderr, "sq_test: %s\n", r->errmsg);
    }
    return r->pub.error;
}

sq_test_response *sq_test_fetch(sq_test *t, const char *method, const char *path,
                                const char *const *headers, const void *body, size_t body_len) {
    sq_test_response *r = sq_test_fetch_start(t, method, path, headers, body, body_len);
    if (r) sq_test_fetch_wait(t, r, 0);
    return r;
}

sq_test_response *sq_test_get(sq_test *t, const char *path) {
    return sq_test_fetch(t, "GET", path, NULL, NULL, 0);
}

typedef struct conn_resp {
    sq_test_conn *c;
    resp_impl *r;
} conn_resp;

static bool conn_resp_done(void *arg) {
    conn_resp *cr = arg;
    resp_progress(cr->r, cr->c);
    return cr->r->pub.done;
}

sq_test_response *sq_test_conn_recv_response(sq_test_conn *c, bool head_request) {
    sq_test *t = c->t;
    if (t->cond) return NULL;
    resp_impl *r = resp_new(t, head_request);
    if (!r) return NULL;
    if (c->closing) {
        resp_fail(r, SQ_ECLOSED, "the connection was closed");
        return &r->pub;
    }
    conn_resp cr = {c, r};
    if (sq_test_run_until(t, conn_resp_done, &cr, 0) != 0) {
        resp_fail(r, SQ_ETIMEDOUT, "no complete response within %u ms", t->timeout_ms);
        fprintf(stderr, "sq_test_conn_recv_response: %s\n", r->errmsg);
    }
    if (c->off == c->in.len) c->off = c->in.len = 0;
    return &r->pub;
}

const char *sq_test_header_get(const sq_test_response *r, const char *name) {
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}

size_t sq_test_header_all(const sq_test_response *r, const char *name, const char **out,
                          size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) {
            if (n < max) out[n] = r->headers[i].value;
            n++;
        }
    return n;
}
