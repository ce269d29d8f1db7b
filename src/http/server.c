/* The HTTP/1.1 server: listeners, connections, reading and dispatching
 * requests, timeouts, output batching and graceful shutdown.
 *
 * Reads land in the loop's shared 64 KiB buffer. A head that is complete in
 * that buffer is parsed in place and, when the application answers at once,
 * never copied. Only what must survive the read callback is copied: a
 * partial head (into conn->in) or the head of a request the application
 * answers later (into the request's own buffer).
 *
 * Output of every request answered during one read callback accumulates in
 * conn->out and goes to the kernel in one write at the end of the callback,
 * so a batch of pipelined requests costs one write.
 *
 * Timeouts need no timer per connection: a connection waiting for a head or
 * idle between requests sits in a list ordered by deadline (every deadline
 * in a list is "now + the same timeout" when appended), and one timer per
 * server fires for the earliest.
 */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "http/server_internal.h"
#include "loop/loop_internal.h"

#define SQ_MAX_FREE_REQS 1024
#define SQ_MAX_FREE_BUFS 256
#define SQ_KEEP_BUF_CAP (64 * 1024) /* larger buffers are freed, not recycled */
#define SQ_LINGER_MS 2000

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void read_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void process_input(sq_conn *c, char *data, size_t len);
static void conn_end(sq_conn *c);
static void server_maybe_shutdown_done(sq_http_server *srv);
static void resume_accept(sq_http_server *srv);
static int req_detach(sq_http_req *req, const char *start, size_t len);

/* ---- configuration ---- */

void sq_http_server_config_init(sq_http_server_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_head_size = 64 * 1024;
    cfg->max_line_size = 8 * 1024;
    cfg->max_headers = 100;
    cfg->max_body_size = 100u * 1024 * 1024;
    cfg->header_timeout_ms = 10 * 1000;
    cfg->idle_timeout_ms = 60 * 1000;
    cfg->backlog = 511;
    cfg->server_name = "squall";
}

/* ---- timeout lists ---- */

static void timer_arm(sq_http_server *srv, uint64_t due);

static void list_remove(sq_conn *c) {
    if (c->list == SQ_LIST_NONE) return;
    sq_conn_list *l = &c->srv->lists[c->list];
    if (c->prev) c->prev->next = c->next; else l->first = c->next;
    if (c->next) c->next->prev = c->prev; else l->last = c->prev;
    c->prev = c->next = NULL;
    c->list = SQ_LIST_NONE;
}

/* Appends c to list `which` with a deadline `timeout_ms` from now (0: none). */
static void list_put(sq_conn *c, int which, uint32_t timeout_ms) {
    sq_http_server *srv = c->srv;
    if (c->list != SQ_LIST_NONE) list_remove(c);
    sq_conn_list *l = &srv->lists[which];
    c->list = (uint8_t)which;
    c->prev = l->last;
    c->next = NULL;
    if (l->last) l->last->next = c; else l->first = c;
    l->last = c;
    if (timeout_ms) {
        c->deadline = uv_now(srv->uv) + timeout_ms;
        if (srv->timer_due == 0 || c->deadline < srv->timer_due) timer_arm(srv, c->deadline);
    } else {
        c->deadline = 0;
    }
}

static void on_timer(uv_timer_t *t) {
    sq_http_server *srv = t->data;
    uint64_t now = uv_now(srv->uv);
    srv->timer_due = 0;
    uint64_t next = 0;
    for (int which = SQ_LIST_HEAD; which <= SQ_LIST_IDLE; which++) {
        sq_conn *c;
        while ((c = srv->lists[which].first) != NULL && c->deadline <= now) {
            if (which == SQ_LIST_HEAD && c->any_input && !c->lingering && !c->closing) {
                /* A head began but did not finish in time: 408, then close. */
                list_remove(c);
                sq__write_error_response(c, 408, "timed out waiting for the request head");
            } else {
                sq__conn_close(c);
            }
        }
        if (c && (next == 0 || c->deadline < next)) next = c->deadline;
    }
    if (next) timer_arm(srv, next);
}

static void timer_arm(sq_http_server *srv, uint64_t due) {
    uint64_t now = uv_now(srv->uv);
    srv->timer_due = due;
    uv_timer_start(&srv->timer, on_timer, due > now ? due - now : 0, 0);
}

void sq__conn_list_busy(sq_conn *c) { list_put(c, SQ_LIST_BUSY, 0); }

/* ---- deferred work: resuming pipelined input, flush callbacks ---- */

static void on_idle(uv_idle_t *h) {
    sq_http_server *srv = h->data;
    sq_conn *c = srv->deferred_first;
    srv->deferred_first = srv->deferred_last = NULL;
    uv_idle_stop(&srv->idle);
    while (c) {
        sq_conn *next = c->next_deferred;
        c->next_deferred = NULL;
        c->deferred = 0;
        if (!c->closing && c->upgraded) {
            sq__stream_deferred(c);
            if (!c->closing && !c->reading && !c->paused && !c->lingering && !c->end_after_write) {
                c->reading = 1;
                uv_read_start((uv_stream_t *)&c->tcp, read_alloc, on_read);
            }
        } else if (!c->closing) {
            sq_http_req *req = c->req;
            /* A flush callback whose bytes have left. */
            if (req && req->flush_cb && c->bytes_out >= req->flush_target) {
                void (*cb)(sq_http_req *, int, void *) = req->flush_cb;
                req->flush_cb = NULL;
                cb(req, 0, req->flush_arg);
            } else if (!c->req && c->in_len && !c->end_after_write) {
                /* Pipelined requests that waited for an asynchronous answer. */
                char *in = c->in;
                size_t len = c->in_len;
                c->in = NULL;
                c->in_len = c->in_cap = 0;
                c->in_read = 1;
                process_input(c, in, len);
                c->in_read = 0;
                free(in);
                if (!c->closing) sq__conn_flush(c);
            }
            if (!c->closing && !c->reading && !c->req && !c->lingering && !c->end_after_write) {
                c->reading = 1;
                uv_read_start((uv_stream_t *)&c->tcp, read_alloc, on_read);
            }
        }
        c = next;
    }
    server_maybe_shutdown_done(srv);
}

void sq__conn_defer(sq_conn *c) {
    if (c->deferred) return;
    sq_http_server *srv = c->srv;
    c->deferred = 1;
    c->next_deferred = NULL;
    if (srv->deferred_last) srv->deferred_last->next_deferred = c; else srv->deferred_first = c;
    srv->deferred_last = c;
    uv_idle_start(&srv->idle, on_idle);
}

static void undefer(sq_conn *c) {
    if (!c->deferred) return;
    sq_http_server *srv = c->srv;
    sq_conn *prev = NULL;
    for (sq_conn *it = srv->deferred_first; it; prev = it, it = it->next_deferred) {
        if (it != c) continue;
        if (prev) prev->next_deferred = it->next_deferred; else srv->deferred_first = it->next_deferred;
        if (srv->deferred_last == c) srv->deferred_last = prev;
        break;
    }
    c->deferred = 0;
}

/* ---- Date header, refreshed at most once a second ---- */

const char *sq__server_fixed_headers(sq_http_server *srv, size_t *len) {
    uint64_t now = uv_now(srv->uv);
    if (srv->fixed_len == 0 || now - srv->date_ms >= 1000) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        srv->fixed_len = srv->server_len +
                         strftime(srv->fixed + srv->server_len, sizeof srv->fixed - srv->server_len,
                                  "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        srv->date_ms = now;
    }
    *len = srv->fixed_len;
    return srv->fixed;
}

/* ---- output ---- */

typedef struct sq_write {
    uv_write_t req;
    sq_buf buf;
} sq_write;

static void buf_recycle(sq_http_server *srv, sq_buf *b) {
    if (b->cap == 0) return;
    if (b->cap <= SQ_KEEP_BUF_CAP && srv->nfree_bufs < SQ_MAX_FREE_BUFS && !srv->closing) {
        if (srv->nfree_bufs == srv->cap_free_bufs) {
            size_t ncap = srv->cap_free_bufs ? srv->cap_free_bufs * 2 : 16;
            sq_buf *nb = realloc(srv->free_bufs, ncap * sizeof *nb);
            if (!nb) goto drop;
            srv->free_bufs = nb;
            srv->cap_free_bufs = ncap;
        }
        b->len = 0;
        srv->free_bufs[srv->nfree_bufs++] = *b;
        b->data = NULL;
        b->cap = 0;
        return;
    }
drop:
    sq__buf_free(b);
}

/* Makes sure c->out has room for `extra` more bytes, taking a recycled buffer
 * when it has none. */
static int out_reserve(sq_conn *c, size_t extra) {
    sq_http_server *srv = c->srv;
    if (c->out.cap == 0 && srv->nfree_bufs) {
        c->out = srv->free_bufs[--srv->nfree_bufs];
        c->out.len = 0;
    }
    if (c->out.cap - c->out.len >= extra) return 0;
    return sq__buf_reserve(&c->out, extra < 4096 ? 4096 : extra);
}

int sq__conn_out_reserve(sq_conn *c, size_t extra);
int sq__conn_out_reserve(sq_conn *c, size_t extra) { return out_reserve(c, extra); }

static void conn_notify_flushed(sq_conn *c) {
    sq_http_req *req = c->req;
    if (req && req->flush_cb && c->bytes_out >= req->flush_target) sq__conn_defer(c);
}

static void on_write(uv_write_t *w, int status) {
    sq_write *wr = (sq_write *)w;
    sq_conn *c = w->data;
    size_t n = wr->buf.len;
    buf_recycle(c->srv, &wr->buf);
    free(wr);
    c->writing = 0;
    if (c->closing) return;
    if (status < 0) {
        sq__conn_close(c);
        return;
    }
    c->bytes_out += n;
    conn_notify_flushed(c);
    if (c->out.len) {
        sq__conn_flush(c);
    } else if (c->end_after_write) {
        conn_end(c);
    } else if (c->upgraded && c->ucbs && c->ucbs->on_drain) {
        c->ucbs->on_drain((sq_stream *)c, c->uarg);
    }
}

void sq__conn_flush(sq_conn *c) {
    if (c->writing || c->closing) return;
    if (c->out.len == 0) {
        if (c->end_after_write) conn_end(c);
        return;
    }
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    c->srv->nwrites++;
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)c->out.len) {
        c->bytes_out += (uint64_t)n;
        c->out.len = 0;
        /* An idle connection keeps no output buffer. */
        if (!c->req) buf_recycle(c->srv, &c->out);
        conn_notify_flushed(c);
        if (c->end_after_write) conn_end(c);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        sq__conn_close(c);
        return;
    }
    if (n < 0) n = 0;
    /* The kernel took part of it: hand the rest to a uv_write that owns it. */
    sq_write *wr = malloc(sizeof *wr);
    if (!wr) {
        sq__conn_close(c);
        return;
    }
    c->bytes_out += (uint64_t)n;
    wr->buf = c->out;
    c->out.data = NULL;
    c->out.len = c->out.cap = 0;
    if (n) {
        memmove(wr->buf.data, wr->buf.data + n, wr->buf.len - (size_t)n);
        wr->buf.len -= (size_t)n;
    }
    wr->req.data = c;
    b = uv_buf_init(wr->buf.data, (unsigned)wr->buf.len);
    int err = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (err) {
        buf_recycle(c->srv, &wr->buf);
        free(wr);
        sq__conn_close(c);
        return;
    }
    c->writing = 1;
}

/* ---- closing ---- */

static void server_maybe_free(sq_http_server *srv);

static void on_conn_closed(uv_handle_t *h) {
    sq_conn *c = (sq_conn *)h;
    sq_http_server *srv = c->srv;
    free(c);
    srv->nconns--;
    /* Below the cap again: take the connections the kernel holds for us. */
    while (srv->paused_accepts && srv->nconns < srv->cfg.max_connections && !srv->shutting_down &&
           !srv->closing) {
        resume_accept(srv);
    }
    server_maybe_shutdown_done(srv);
    server_maybe_free(srv);
}

void sq__conn_close(sq_conn *c) {
    if (c->closing) return;
    c->closing = 1;
    list_remove(c);
    undefer(c);
    sq_http_req *req = c->req;
    c->req = NULL;
    if (req) {
        req->conn = NULL;
        if (req->state == SQ_REQ_APP && (req->dispatched || req->close_cb)) {
            if (!req->detached && req->raw_head) req_detach(req, req->raw_head, req->raw_len);
            /* The application still holds it: tell it the client is gone.
             * It stays allocated until the application calls finish. */
            /* A callback below may finish the request: while notifying,
             * finish only marks it done and the release happens here, after
             * the callbacks, so nothing reads freed memory. */
            req->notifying = 1;
            if (req->flush_cb) {
                void (*fcb)(sq_http_req *, int, void *) = req->flush_cb;
                req->flush_cb = NULL;
                fcb(req, SQ_ECONNRESET, req->flush_arg);
            }
            if (req->state == SQ_REQ_APP && req->close_cb) {
                void (*cb)(sq_http_req *, void *) = req->close_cb;
                req->close_cb = NULL;
                cb(req, req->close_arg);
            }
            req->notifying = 0;
            if (req->state == SQ_REQ_DONE) sq__req_release(req);
        } else {
            sq__req_release(req);
        }
    }
    if (c->upgraded) sq__stream_closed(c);
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    buf_recycle(c->srv, &c->out);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_linger_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    if (nread < 0) sq__conn_close((sq_conn *)s);
}

static void linger_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    sq_conn *c = (sq_conn *)h;
    size_t size;
    buf->base = sq__loop_readbuf(c->srv->loop, &size);
    buf->len = size;
}

static void on_shutdown(uv_shutdown_t *r, int status) {
    sq_conn *c = r->data;
    free(r);
    if (c->closing) return;
    if (status < 0) {
        sq__conn_close(c);
        return;
    }
    /* Lingering close: read and drop what the client still sends, so that
     * closing with unread data does not reset the connection and destroy
     * the response before the client has read it. */
    if (uv_read_start((uv_stream_t *)&c->tcp, linger_alloc, on_linger_read) != 0) {
        sq__conn_close(c);
        return;
    }
    c->reading = 1;
    list_put(c, SQ_LIST_HEAD, SQ_LINGER_MS);
}

/* Ends the connection once its output is written: FIN, then a lingering
 * read, then close. */
static void conn_end(sq_conn *c) {
    if (c->closing || c->lingering) return;
    c->end_after_write = 1;
    if (c->writing || c->out.len) {
        if (!c->writing) sq__conn_flush(c);
        return;
    }
    if (c->req) return; /* the request in flight ends it when it finishes */
    uv_shutdown_t *r = malloc(sizeof *r);
    if (r) r->data = c;
    if (!r || uv_shutdown(r, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(r);
        sq__conn_close(c);
        return;
    }
    c->lingering = 1; /* no more requests on this connection */
    list_remove(c);
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* ---- requests ---- */

static sq_http_req *req_get(sq_conn *c) {
    sq_http_server *srv = c->srv;
    sq_http_req *req = srv->free_reqs;
    if (req) {
        srv->free_reqs = req->next_free;
        srv->nfree_reqs--;
    } else {
        req = calloc(1, sizeof *req + srv->cfg.max_headers * sizeof(sq_http_header));
        if (!req) return NULL;
    }
    req->conn = c;
    req->srv = srv;
    req->loop = srv->loop;
    req->next_free = NULL;
    req->head.headers = req->headers;
    req->head.max_headers = srv->cfg.max_headers;
    req->head.num_headers = 0;
    req->status = 200;
    req->state = 0;
    req->has_cl = req->head_sent = req->chunked = req->until_close = 0;
    req->is_head = req->no_body = req->detached = req->in_app = 0;
    req->body = NULL;
    req->body_len = 0;
    req->data = NULL;
    req->close_cb = NULL;
    req->flush_cb = NULL;
    req->stream_cb = NULL;
    req->ctype = NULL;
    req->ctype_len = 0;
    req->raw_head = NULL;
    req->body_pending = 0;
    req->dispatched = 0;
    req->notifying = 0;
    return req;
}

static void req_free(sq_http_req *req) {
    sq__buf_free(&req->headbuf);
    sq__buf_free(&req->bodybuf);
    sq__buf_free(&req->rhead);
    sq__buf_free(&req->rbody);
    free(req->reason);
    free(req);
}

static void buf_trim(sq_buf *b) {
    if (b->cap > SQ_KEEP_BUF_CAP) sq__buf_free(b);
    b->len = 0;
}

void sq__req_release(sq_http_req *req) {
    sq_http_server *srv = req->srv;
    free(req->reason);
    req->reason = NULL;
    if (!srv || srv->closing || srv->nfree_reqs >= SQ_MAX_FREE_REQS) {
        req_free(req);
        return;
    }
    buf_trim(&req->headbuf);
    buf_trim(&req->bodybuf);
    buf_trim(&req->rhead);
    buf_trim(&req->rbody);
    req->state = SQ_REQ_DONE;
    req->next_free = srv->free_reqs;
    srv->free_reqs = req;
    srv->nfree_reqs++;
}

/* Copies the head (and a body still in the read buffer) into the request's
 * own memory, so that it survives the read callback. */
static int req_detach(sq_http_req *req, const char *start, size_t len) {
    if (req->detached || !start) return 0;
    req->headbuf.len = 0;
    if (sq__buf_append(&req->headbuf, start, len)) return SQ_ENOMEM;
    const char *base = req->headbuf.data;
#define REBASE(p) if (p) (p) = base + ((p) - start)
    sq_http_head *h = &req->head;
    REBASE(h->method);
    REBASE(h->target);
    REBASE(h->reason);
    REBASE(h->host);
    REBASE(req->path);
    REBASE(req->query);
    for (uint32_t i = 0; i < h->num_headers; i++) {
        REBASE(h->headers[i].name);
        REBASE(h->headers[i].value);
    }
#undef REBASE
    if (req->body && req->body != req->bodybuf.data) {
        req->bodybuf.len = 0;
        if (sq__buf_append(&req->bodybuf, req->body, req->body_len)) return SQ_ENOMEM;
        req->body = req->bodybuf.data ? req->bodybuf.data : "";
    }
    req->detached = 1;
    return 0;
}

/* Hands a complete request to the application. Returns true when the
 * application answered before returning. */
static bool dispatch(sq_conn *c, sq_http_req *req) {
    req->state = SQ_REQ_APP;
    req->dispatched = 1;
    if (!req->body && !req->stream_cb) req->body = "";
    req->in_app = 1;
    c->srv->cb(req, c->srv->cb_arg);
    req->in_app = 0;
    return c->req != req;
}

static void split_target(sq_http_req *req) {
    const char *t = req->head.target;
    uint32_t n = req->head.target_len;
    const char *q = memchr(t, '?', n);
    req->path = t;
    if (q) {
        req->path_len = (uint32_t)(q - t);
        req->query = q + 1;
        req->query_len = (uint32_t)(n - req->path_len - 1);
    } else {
        req->path_len = n;
        req->query = t + n;
        req->query_len = 0;
    }
}

static void keep_input(sq_conn *c, const char *data, size_t len) {
    if (len == 0) return;
    if (data == c->in) { /* already there: move to the front */
        c->in_len = (uint32_t)len;
        return;
    }
    if (c->in && data >= c->in && data < c->in + c->in_cap) {
        memmove(c->in, data, len);
        c->in_len = (uint32_t)len;
        return;
    }
    if (c->in_cap < len) {
        char *p = realloc(c->in, len);
        if (!p) {
            sq__conn_close(c);
            return;
        }
        c->in = p;
        c->in_cap = (uint32_t)len;
    }
    memcpy(c->in, data, len);
    c->in_len = (uint32_t)len;
}

/* Gives up on a request because the connection is failing: a request the
 * application holds is orphaned (its close callback runs), any other is
 * released. */
static void req_abandon(sq_conn *c, sq_http_req *req) {
    if (c->req == req) c->req = NULL;
    if (req->state != SQ_REQ_APP || (!req->dispatched && !req->close_cb)) {
        sq__req_release(req);
        return;
    }
    if (!req->detached && req->raw_head) req_detach(req, req->raw_head, req->raw_len);
    req->conn = NULL;
    if (req->close_cb) {
        void (*cb)(sq_http_req *, void *) = req->close_cb;
        req->close_cb = NULL;
        cb(req, req->close_arg);
    }
}

static void parse_failed(sq_conn *c, sq_http_req *req) {
    sq_http_error e = c->parser.error;
    int status = sq_http_error_status(e);
    if (req) req_abandon(c, req);
    if (status == 0) { /* an HTTP/2 preface: no HTTP/1 answer makes sense */
        sq__conn_close(c);
        return;
    }
    sq__write_error_response(c, status, sq_http_error_str(e));
}

/* Reads body bytes into the request (or hands them to its stream
 * callback). Returns bytes consumed, or -1 when the request ended or the
 * connection failed (already handled). */
static int64_t read_body(sq_conn *c, sq_http_req *req, char *data, size_t len) {
    size_t used = 0;
    while (used < len && !sq_http_body_done(&c->parser)) {
        sq_http_span span;
        int64_t n = sq_http_parse_body(&c->parser, data + used, len - used, &span);
        if (n < 0) {
            parse_failed(c, req);
            return -1;
        }
        used += (size_t)n;
        if (span.kind == SQ_HTTP_SPAN_DATA && span.len) {
            if (req->stream_cb) {
                req->in_app = 1;
                req->stream_cb(req, span.data, span.len, req->stream_arg);
                req->in_app = 0;
                if (c->req != req || c->closing) return -1; /* answered or gone */
            } else if (!req->body && req->bodybuf.len == 0 &&
                       req->head.body == SQ_HTTP_BODY_LENGTH &&
                       span.len == req->head.content_length) {
                /* A body wholly inside this buffer is used in place. */
                req->body = span.data;
                req->body_len = span.len;
            } else {
                if (sq__buf_append(&req->bodybuf, span.data, span.len)) {
                    req_abandon(c, req);
                    sq__write_error_response(c, 500, "out of memory");
                    return -1;
                }
                req->body = req->bodybuf.data;
                req->body_len = req->bodybuf.len;
            }
        }
        if (n == 0 && span.kind == SQ_HTTP_SPAN_NONE) break;
    }
    if (sq_http_body_done(&c->parser)) req->body_pending = 0;
    return (int64_t)used;
}

static void write_continue(sq_conn *c) {
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (out_reserve(c, sizeof msg - 1) == 0) {
        memcpy(c->out.data + c->out.len, msg, sizeof msg - 1);
        c->out.len += sizeof msg - 1;
        c->bytes_queued += sizeof msg - 1;
    }
}

/* Keeps input that arrives while a request is being answered (pipelined
 * requests), and stops reading when it piles up. Returns false when the
 * connection failed. */
static bool keep_pipelined(sq_conn *c, const char *data, size_t len) {
    size_t old = c->in_len;
    if ((size_t)c->in_len + len > c->srv->cfg.max_head_size && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    if (c->in && data >= c->in && data < c->in + c->in_cap) {
        keep_input(c, data, len);
        return !c->closing;
    }
    if (c->in_cap < old + len) {
        char *p = realloc(c->in, old + len);
        if (!p) {
            sq__conn_close(c);
            return false;
        }
        c->in = p;
        c->in_cap = (uint32_t)(old + len);
    }
    memcpy(c->in + old, data, len);
    c->in_len = (uint32_t)(old + len);
    return true;
}

/* A head is complete: tell the application (head callback), check the body
 * limit, and start on the body. Returns false when the request was answered
 * or the connection failed before its body. */
static bool head_done(sq_conn *c, sq_http_req *req) {
    sq_http_server *srv = c->srv;
    req->max_body = srv->cfg.max_body_size;
    req->body_pending = req->head.body != SQ_HTTP_BODY_NONE;
    if (srv->head_cb) {
        req->state = SQ_REQ_APP;
        req->in_app = 1;
        srv->head_cb(req, srv->cb_arg);
        req->in_app = 0;
        if (c->req != req || c->closing) return false;
    }
    if (req->body_pending) {
        if (req->head.body == SQ_HTTP_BODY_LENGTH && req->head.content_length > req->max_body) {
            c->parser.error = SQ_HTTP_E_BODY_TOO_LARGE;
            parse_failed(c, req);
            return false;
        }
        c->parser.max_body = req->max_body;
        if (req->state != SQ_REQ_APP) req->state = SQ_REQ_BODY;
    }
    return true;
}

/* Parses and serves as many requests as `data` holds. Whatever cannot be
 * used yet is kept in conn->in. On return, a request that outlives this
 * call owns a copy of its head. */
static void process_input(sq_conn *c, char *data, size_t len) {
    sq_http_server *srv = c->srv;
    while (len && !c->closing && !c->end_after_write && !c->lingering) {
        sq_http_req *req = c->req;
        if (c->upgraded) {
            /* Bytes behind an upgrade belong to the new protocol. */
            keep_pipelined(c, data, len);
            return;
        }
        if (req && !req->body_pending) {
            /* Pipelined bytes behind a request still being answered. */
            keep_pipelined(c, data, len);
            break;
        }
        if (!req) {
            req = req_get(c);
            if (!req) {
                sq__conn_close(c);
                return;
            }
            c->req = req;
            c->any_input = 1;
            int n = sq_http_parse_head(&c->parser, data, len, &req->head);
            if (n == SQ_INCOMPLETE) {
                c->req = NULL;
                sq__req_release(req);
                keep_input(c, data, len);
                if (c->list != SQ_LIST_HEAD) list_put(c, SQ_LIST_HEAD, srv->cfg.header_timeout_ms);
                return;
            }
            if (n < 0) {
                parse_failed(c, req);
                return;
            }
            split_target(req);
            req->is_head = req->head.method_id == SQ_HTTP_HEAD;
            req->raw_head = data;
            req->raw_len = (uint32_t)n;
            data += n;
            len -= (size_t)n;
            c->any_input = 0;
            if (!head_done(c, req)) continue;
            if (req->body_pending && (req->head.flags & SQ_HTTP_F_EXPECT_CONTINUE) &&
                req->head.version_minor >= 1 &&
                (req->head.body == SQ_HTTP_BODY_CHUNKED || len < req->head.content_length))
                write_continue(c);
        }
        if (req->body_pending) {
            int64_t used = read_body(c, req, data, len);
            if (used < 0) continue; /* answered or failed: the loop condition decides */
            data += used;
            len -= (size_t)used;
            if (req->body_pending) {
                /* The body continues in later reads; the whole body has the
                 * head timeout to arrive. */
                if (c->list != SQ_LIST_HEAD) list_put(c, SQ_LIST_HEAD, srv->cfg.header_timeout_ms);
                break;
            }
        }
        dispatch(c, req);
    }
    /* A request that outlives this call must not point into `data`, and
     * waits in the busy list (requests answered at once never enter it). */
    sq_http_req *req = c->req;
    if (req && !c->closing) {
        if (!req->detached && req_detach(req, req->raw_head, req->raw_len)) {
            sq__conn_close(c);
            return;
        }
        if (!req->body_pending && c->list != SQ_LIST_BUSY) list_put(c, SQ_LIST_BUSY, 0);
    }
}

/* Called by response.c when a request's response is complete and the
 * request has been released. Decides what the connection does next. */
void sq__conn_request_done(sq_conn *c) {
    sq_http_server *srv = c->srv;
    c->req = NULL;
    sq_http_parser_init(&c->parser, SQ_HTTP_REQUEST);
    c->parser.max_head = srv->cfg.max_head_size;
    c->parser.max_line = srv->cfg.max_line_size;
    c->parser.max_body = UINT64_MAX; /* head_done applies the request's limit */
    if (c->end_after_write) {
        sq__conn_flush(c);
        return;
    }
    list_put(c, c->in_len ? SQ_LIST_HEAD : SQ_LIST_IDLE,
             c->in_len ? srv->cfg.header_timeout_ms : srv->cfg.idle_timeout_ms);
    if (!c->in_read) {
        /* Answered from outside a read callback: write now, and pick up
         * pipelined input (or restart reading) on the next iteration. */
        sq__conn_flush(c);
        if (!c->closing && (c->in_len || !c->reading)) sq__conn_defer(c);
    }
}

static void read_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    sq_conn *c = (sq_conn *)h;
    size_t size;
    buf->base = sq__loop_readbuf(c->srv->loop, &size);
    buf->len = size;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    sq_conn *c = (sq_conn *)s;
    if (nread <= 0) {
        if (nread < 0) sq__conn_close(c);
        return;
    }
    c->in_read = 1;
    if (c->upgraded) {
        sq__stream_on_read(c, buf->base, (size_t)nread);
        c->in_read = 0;
        if (!c->closing) sq__conn_flush(c);
        return;
    }
    if (c->in_len && !(c->req && !c->req->body_pending)) {
        /* A partial head is waiting: append and parse the whole. */
        size_t total = (size_t)c->in_len + (size_t)nread;
        if (c->in_cap < total) {
            size_t cap = c->in_cap ? c->in_cap : 1024;
            while (cap < total) cap *= 2;
            char *p = realloc(c->in, cap);
            if (!p) {
                c->in_read = 0;
                sq__conn_close(c);
                return;
            }
            c->in = p;
            c->in_cap = (uint32_t)cap;
        }
        memcpy(c->in + c->in_len, buf->base, (size_t)nread);
        char *in = c->in;
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        process_input(c, in, total);
        /* process_input kept what it needs in a fresh conn->in. */
        free(in);
    } else {
        process_input(c, buf->base, (size_t)nread);
    }
    c->in_read = 0;
    if (!c->closing) {
        sq__conn_flush(c);
        if (!c->req && c->in_len == 0 && c->in) {
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    }
}

/* ---- accepting ---- */

static void accept_one(sq_http_server *srv, uv_stream_t *listener) {
    sq_conn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->srv = srv;
    uv_tcp_init(srv->uv, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    srv->nconns++;
    uv_tcp_nodelay(&c->tcp, 1);
    sq_http_parser_init(&c->parser, SQ_HTTP_REQUEST);
    c->parser.max_head = srv->cfg.max_head_size;
    c->parser.max_line = srv->cfg.max_line_size;
    c->parser.max_body = UINT64_MAX; /* head_done applies the request's limit */
    if (uv_read_start((uv_stream_t *)&c->tcp, read_alloc, on_read) != 0) {
        sq__conn_close(c);
        return;
    }
    c->reading = 1;
    /* A new connection gets the head timeout to send its first request. */
    list_put(c, SQ_LIST_HEAD, srv->cfg.header_timeout_ms);
}

static void on_connection(uv_stream_t *listener, int status) {
    sq_http_server *srv = listener->data;
    if (status < 0) return; /* EMFILE and friends: libuv retries; keep serving */
    if (srv->nconns >= srv->cfg.max_connections || srv->shutting_down) {
        /* Not accepting: libuv stops watching this listener until
         * uv_accept is called (sq__server_resume_accept). */
        sq_listener *l = (sq_listener *)listener;
        if (!l->paused) {
            l->paused = 1;
            srv->paused_accepts++;
        }
        return;
    }
    accept_one(srv, listener);
}

static void resume_accept(sq_http_server *srv) {
    for (size_t i = 0; i < srv->nlisteners && srv->paused_accepts; i++) {
        sq_listener *l = srv->listeners[i];
        if (!l->paused || srv->nconns >= srv->cfg.max_connections) continue;
        l->paused = 0;
        srv->paused_accepts--;
        /* uv_accept takes the held connection and restarts watching. */
        accept_one(srv, (uv_stream_t *)&l->tcp);
    }
}

/* ---- the server object ---- */

/* Frees the server once it is closing and every handle it owns is closed. */
static void server_maybe_free(sq_http_server *srv) {
    if (!srv->closing || srv->pending_handle_closes || srv->nconns) return;
    if (srv->close_cb) srv->close_cb(srv, srv->close_arg);
    for (size_t i = 0; i < srv->nfree_bufs; i++) sq__buf_free(&srv->free_bufs[i]);
    free(srv->free_bufs);
    while (srv->free_reqs) {
        sq_http_req *r = srv->free_reqs;
        srv->free_reqs = r->next_free;
        r->srv = NULL;
        req_free(r);
    }
    free(srv->listeners);
    free(srv);
}

static void on_handle_closed(uv_handle_t *h) {
    sq_http_server *srv = h->data;
    if (h != (uv_handle_t *)&srv->timer && h != (uv_handle_t *)&srv->idle) free(h);
    srv->pending_handle_closes--;
    server_maybe_free(srv);
}

sq_http_server *sq_http_server_new(sq_loop *loop, const sq_http_server_config *cfg,
                                   sq_http_request_cb cb, void *arg) {
    if (!loop || !cb) return NULL;
    sq_http_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->loop = loop;
    srv->uv = sq_loop_uv(loop);
    if (cfg) srv->cfg = *cfg; else sq_http_server_config_init(&srv->cfg);
    if (srv->cfg.max_headers == 0) srv->cfg.max_headers = 100;
    if (srv->cfg.max_connections == 0) {
        struct rlimit rl;
        uint64_t lim = 1024;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) lim = rl.rlim_cur;
        srv->cfg.max_connections = lim > 128 ? (uint32_t)(lim - 64) : (uint32_t)(lim / 2);
    }
    if (srv->cfg.backlog <= 0) srv->cfg.backlog = 511;
    srv->cb = cb;
    srv->cb_arg = arg;
    uv_timer_init(srv->uv, &srv->timer);
    srv->timer.data = srv;
    uv_idle_init(srv->uv, &srv->idle);
    srv->idle.data = srv;
    if (srv->cfg.server_name && *srv->cfg.server_name) {
        int n = snprintf(srv->fixed, 128, "Server: %s\r\n", srv->cfg.server_name);
        bool ok = n > 0 && n < 128;
        for (const char *p = srv->cfg.server_name; ok && *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) ok = false;
        srv->server_len = ok ? (size_t)n : 0;
    }
    return srv;
}

static int listen_addr(sq_http_server *srv, const struct sockaddr *sa) {
    sq_listener *l = calloc(1, sizeof *l);
    if (!l) return SQ_ENOMEM;
    sq_listener **arr = realloc(srv->listeners, (srv->nlisteners + 1) * sizeof *arr);
    if (!arr) {
        free(l);
        return SQ_ENOMEM;
    }
    srv->listeners = arr;
    uv_tcp_init(srv->uv, &l->tcp);
    l->tcp.data = srv;
    int err = 0;
    if (srv->cfg.reuse_port) {
        /* libuv 1.44 has no UV_TCP_REUSEPORT: set it on the socket ourselves. */
        err = uv_tcp_init_ex(srv->uv, &l->tcp, sa->sa_family);
        if (!err) {
            uv_os_fd_t fd;
            uv_fileno((uv_handle_t *)&l->tcp, &fd);
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        }
    }
    unsigned flags = sa->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
    if (!err) err = uv_tcp_bind(&l->tcp, sa, flags);
    if (!err) err = uv_listen((uv_stream_t *)&l->tcp, srv->cfg.backlog, on_connection);
    if (err) {
        srv->pending_handle_closes++;
        l->tcp.data = srv;
        uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
        return err;
    }
    srv->listeners[srv->nlisteners++] = l;
    return 0;
}

int sq_http_server_listen(sq_http_server *srv, const char *host, int port) {
    if (!srv || port < 0 || port > 65535 || srv->closing || srv->shutting_down) return SQ_EINVAL;
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } a;
    size_t before = srv->nlisteners;
    if (host && uv_ip4_addr(host, port, &a.in4) == 0) return listen_addr(srv, &a.sa);
    if (host && uv_ip6_addr(host, port, &a.in6) == 0) return listen_addr(srv, &a.sa);
    if (!host) {
        /* All addresses: IPv4 and IPv6, as Tornado's bind_sockets does. */
        uv_ip4_addr("0.0.0.0", port, &a.in4);
        int err = listen_addr(srv, &a.sa);
        if (err) return err;
        if (port == 0) port = sq_http_server_port(srv);
        uv_ip6_addr("::", port, &a.in6);
        (void)listen_addr(srv, &a.sa); /* a host without IPv6 still serves IPv4 */
        return 0;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res) return SQ_EINVAL;
    int err = 0;
    for (struct addrinfo *ai = res; ai && !err; ai = ai->ai_next) {
        if (port == 0 && srv->nlisteners > before) {
            /* Later addresses share the port the first one got. */
            int p = sq_http_server_port(srv);
            if (ai->ai_family == AF_INET) ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)p);
            else ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)p);
        }
        err = listen_addr(srv, ai->ai_addr);
    }
    freeaddrinfo(res);
    if (err) {
        while (srv->nlisteners > before) {
            sq_listener *l = srv->listeners[--srv->nlisteners];
            srv->pending_handle_closes++;
            uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
        }
    }
    return err;
}

int sq_http_server_port(const sq_http_server *srv) {
    if (!srv || srv->nlisteners == 0) return SQ_ENOTCONN;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int err = uv_tcp_getsockname(&srv->listeners[0]->tcp, (struct sockaddr *)&ss, &len);
    if (err) return err;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

size_t sq_http_server_connections(const sq_http_server *srv) { return srv ? srv->nconns : 0; }

static void close_listeners(sq_http_server *srv) {
    for (size_t i = 0; i < srv->nlisteners; i++) {
        sq_listener *l = srv->listeners[i];
        srv->pending_handle_closes++;
        uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
    }
    srv->nlisteners = 0;
    srv->paused_accepts = 0;
}

static void server_maybe_shutdown_done(sq_http_server *srv) {
    if (!srv->shutting_down || srv->shutdown_notified || srv->nconns != 0) return;
    srv->shutdown_notified = 1;
    uv_timer_stop(&srv->timer);
    srv->timer_due = 0;
    if (srv->shutdown_cb) srv->shutdown_cb(srv, srv->shutdown_arg);
}

static void on_shutdown_deadline(uv_timer_t *t) {
    sq_http_server *srv = t->data;
    srv->timer_due = 0;
    for (int which = SQ_LIST_HEAD; which < SQ_LIST_COUNT; which++) {
        while (srv->lists[which].first) sq__conn_close(srv->lists[which].first);
    }
}

int sq_http_server_shutdown(sq_http_server *srv, uint32_t timeout_ms,
                            void (*done)(sq_http_server *srv, void *arg), void *arg) {
    if (!srv || srv->closing) return SQ_EINVAL;
    if (srv->shutting_down) return SQ_EALREADY;
    srv->shutting_down = 1;
    srv->shutdown_cb = done;
    srv->shutdown_arg = arg;
    close_listeners(srv);
    /* Idle connections and connections still waiting for a head close now
     * (one whose request is being answered right now, when shutdown is
     * called from a request callback, finishes it first). */
    for (int which = SQ_LIST_HEAD; which <= SQ_LIST_IDLE; which++) {
        for (sq_conn *c = srv->lists[which].first, *next; c; c = next) {
            next = c->next;
            if (!c->req && !c->lingering) sq__conn_close(c);
        }
    }
    /* Busy ones finish their request, then close. */
    for (int which = SQ_LIST_HEAD; which < SQ_LIST_COUNT; which++)
        for (sq_conn *c = srv->lists[which].first; c; c = c->next)
            if (!c->upgraded) c->end_after_write = 1;
    /* Upgraded connections say goodbye in their own protocol. A callback
     * may close other connections, so work from a snapshot: a closed one
     * stays allocated until its close callback on a later iteration. */
    size_t n = 0;
    for (sq_conn *c = srv->lists[SQ_LIST_BUSY].first; c; c = c->next) n += c->upgraded;
    sq_conn **snap = n ? malloc(n * sizeof *snap) : NULL;
    if (snap) {
        size_t k = 0;
        for (sq_conn *c = srv->lists[SQ_LIST_BUSY].first; c; c = c->next)
            if (c->upgraded) snap[k++] = c;
        for (size_t i = 0; i < k; i++) {
            sq_conn *c = snap[i];
            if (c->closing) continue;
            if (c->ucbs && c->ucbs->on_shutdown) c->ucbs->on_shutdown((sq_stream *)c, c->uarg);
            else sq_stream_close((sq_stream *)c);
        }
        free(snap);
    }
    srv->timer_due = UINT64_MAX; /* list_put must not re-arm the deadline timer */
    uv_timer_start(&srv->timer, on_shutdown_deadline, timeout_ms, 0);
    if (srv->nconns == 0) {
        /* Report on the next iteration, never from inside this call. */
        uv_idle_start(&srv->idle, on_idle);
    }
    return 0;
}

typedef struct drain_hook {
    sq_http_server *srv;
    uint32_t timeout_ms;
    void (*done)(void *);
    void *token;
} drain_hook;

static void drain_done(sq_http_server *srv, void *arg) {
    drain_hook *h = arg;
    h->done(h->token);
}

static void drain_hook_fn(sq_loop *loop, void *arg, void (*done)(void *), void *token) {
    drain_hook *h = arg;
    h->done = done;
    h->token = token;
    if (sq_http_server_shutdown(h->srv, h->timeout_ms, drain_done, h) != 0) done(token);
}

int sq_http_server_drain_on_signal(sq_http_server *srv, uint32_t timeout_ms) {
    if (!srv || srv->closing) return SQ_EINVAL;
    if (srv->drain_hook) return SQ_EALREADY;
    drain_hook *h = calloc(1, sizeof *h);
    if (!h) return SQ_ENOMEM;
    h->srv = srv;
    h->timeout_ms = timeout_ms;
    int err = sq_loop_add_shutdown_hook(srv->loop, drain_hook_fn, h);
    if (err) free(h);
    else srv->drain_hook = h;
    return err;
}

void sq_http_server_close(sq_http_server *srv, void (*close_cb)(sq_http_server *srv, void *arg),
                          void *arg) {
    if (!srv || srv->closing) return;
    srv->closing = 1;
    srv->shutting_down = 1;
    srv->shutdown_notified = 1;
    srv->close_cb = close_cb;
    srv->close_arg = arg;
    if (srv->drain_hook) {
        /* Removing a hook a shutdown waits on counts as its "done". */
        drain_hook *h = srv->drain_hook;
        srv->drain_hook = NULL;
        sq_loop_remove_shutdown_hook(srv->loop, drain_hook_fn, h);
        free(h);
    }
    close_listeners(srv);
    for (int which = SQ_LIST_HEAD; which < SQ_LIST_COUNT; which++) {
        while (srv->lists[which].first) {
            sq_conn *c = srv->lists[which].first;
            if (c->req) c->req->srv = NULL; /* orphaned requests free themselves */
            sq__conn_close(c);
        }
    }
    srv->pending_handle_closes += 2;
    uv_close((uv_handle_t *)&srv->timer, on_handle_closed);
    uv_close((uv_handle_t *)&srv->idle, on_handle_closed);
}

/* ---- request accessors ---- */

const sq_http_head *sq_http_req_head(const sq_http_req *req) { return &req->head; }
sq_http_method sq_http_req_method(const sq_http_req *req) { return req->head.method_id; }

const char *sq_http_req_path(const sq_http_req *req, size_t *len) {
    if (len) *len = req->path_len;
    return req->path;
}

const char *sq_http_req_query(const sq_http_req *req, size_t *len) {
    if (len) *len = req->query_len;
    return req->query;
}

const char *sq_http_req_header(const sq_http_req *req, const char *name, size_t *len) {
    const sq_http_header *h = sq_http_head_find(&req->head, name);
    if (!h) return NULL;
    if (len) *len = h->value_len;
    return h->value;
}

const char *sq_http_req_body(const sq_http_req *req, size_t *len) {
    if (len) *len = req->body_len;
    return req->body;
}

int sq_http_req_peer(const sq_http_req *req, struct sockaddr_storage *addr) {
    if (!req->conn) return SQ_ECLOSED;
    int len = sizeof *addr;
    return uv_tcp_getpeername(&req->conn->tcp, (struct sockaddr *)addr, &len);
}

sq_http_server *sq_http_req_server(const sq_http_req *req) { return req->srv; }
sq_loop *sq_http_req_loop(const sq_http_req *req) { return req->loop; }
void *sq_http_req_get_data(const sq_http_req *req) { return req->data; }
void sq_http_req_set_data(sq_http_req *req, void *data) { req->data = data; }

void sq_http_server_set_head_cb(sq_http_server *srv, sq_http_request_cb head_cb) {
    srv->head_cb = head_cb;
}

int sq_http_req_stream_body(sq_http_req *req,
                            void (*on_data)(sq_http_req *req, const char *data, size_t len, void *arg),
                            void *arg) {
    if (!req->conn) return SQ_ECLOSED;
    if (!req->in_app || req->head_sent || !req->body_pending || req->stream_cb) return SQ_ESTATE;
    req->stream_cb = on_data;
    req->stream_arg = arg;
    req->body = NULL;
    req->body_len = 0;
    return 0;
}

int sq_http_req_set_max_body(sq_http_req *req, uint64_t max) {
    if (!req->conn) return SQ_ECLOSED;
    if (!req->body_pending || !req->in_app) return SQ_ESTATE;
    if (max == 0) return SQ_EINVAL;
    req->max_body = max;
    return 0;
}

void sq_http_req_on_close(sq_http_req *req, void (*cb)(sq_http_req *req, void *arg), void *arg) {
    req->close_cb = cb;
    req->close_arg = arg;
}
