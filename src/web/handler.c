/* The handler lifecycle, in Tornado's order: set_default_headers,
 * initialize, [path argument check], [405 for an unsupported method],
 * [XSRF check], prepare, the verb, finish, on_finish; on_connection_close
 * when the client leaves first.
 *
 * A request object is released when it is finished and no handler
 * function is running (depth 0): sq_finish() from inside prepare or a verb
 * leaves the object valid until that function returns.
 */
#include <stdlib.h>
#include <string.h>

#include "web/web_internal.h"

void sq__app_maybe_free(sq_app *app);
void sq__gzip_end(sq_req *r);

#define SQ_MAX_FREE_WEB_REQS 1024
#define SQ_KEEP_OUT_CAP (64 * 1024)

static const char default_ctype[] = "text/html; charset=UTF-8";

static sq_req *req_get(sq_app *app) {
    sq_req *r = app->free_reqs;
    if (r) {
        app->free_reqs = r->next_free;
        app->nfree_reqs--;
    } else {
        r = malloc(sizeof *r);
        if (!r) return NULL;
        r->out = (sq_buf){0};
    }
    sq_buf out = r->out;
    memset(r, 0, offsetof(sq_req, arena));
    r->out = out;
    r->out.len = 0;
    sq__arena_init(&r->arena, r->arena_inline, sizeof r->arena_inline);
    r->app = app;
    r->status = 200;
    r->ctype = default_ctype;
    app->live_reqs++;
    return r;
}

void sq__reset_output(sq_req *r) {
    r->status = 200;
    r->reason = NULL;
    r->ctype = default_ctype;
    r->nhdrs = 0;
    r->has_etag = false;
    r->out.len = 0;
}

void sq__req_release_maybe(sq_req *r) {
    if (!r->finished || r->depth || r->released || r->http_pending) return;
    r->released = true;
    sq_app *app = r->app;
    if (r->json) json_decref(r->json);
    if (r->gz) sq__gzip_end(r);
    sq__arena_reset(&r->arena, r->arena_inline, sizeof r->arena_inline);
    if (r->out.cap > SQ_KEEP_OUT_CAP) sq__buf_free(&r->out);
    app->live_reqs--;
    if (app->closing || app->nfree_reqs >= SQ_MAX_FREE_WEB_REQS) {
        sq__buf_free(&r->out);
        free(r);
    } else {
        r->next_free = app->free_reqs;
        app->free_reqs = r;
        app->nfree_reqs++;
    }
    sq__app_maybe_free(app);
}

/* ---- accessors ---- */

void *sq_req_state(const sq_req *req) { return req->state; }
sq_app *sq_req_app(const sq_req *req) { return req->app; }
sq_http_req *sq_req_http(const sq_req *req) { return req->http; }
sq_loop *sq_req_loop(const sq_req *req) { return req->app->loop; }
void sq_finish_later(sq_req *req) { req->async = true; }
bool sq_finished(const sq_req *req) { return req->finished; }
bool sq_req_closed(const sq_req *req) { return req->closed; }

double sq_req_time(const sq_req *req) {
    /* The end is taken at finish only for the access log; on_finish, where
     * this is usually read, runs right after finish anyway. */
    uint64_t end = req->end_ns;
    if (!end) end = uv_hrtime();
    return end > req->start_ns ? (double)(end - req->start_ns) / 1e9 : 0.0;
}

/* ---- the lifecycle ---- */

typedef void (*verb_fn)(sq_req *);

/* The handler's function for a method Tornado supports; *supported tells
 * whether the method is one of GET HEAD POST DELETE PATCH PUT OPTIONS. */
static verb_fn verb_for(const sq_handler *h, sq_http_method m, bool *supported) {
    *supported = true;
    switch (m) {
    case SQ_HTTP_GET: return h->get;
    case SQ_HTTP_HEAD: return h->head;
    case SQ_HTTP_POST: return h->post;
    case SQ_HTTP_PUT: return h->put;
    case SQ_HTTP_DELETE: return h->delete_;
    case SQ_HTTP_PATCH: return h->patch;
    case SQ_HTTP_OPTIONS: return h->options;
    default: *supported = false; return NULL;
    }
}

static void method_not_allowed(sq_req *r) {
    sq__send_error_detail(r, 405, NULL, "method not implemented by this handler");
}

/* The Allow header of a 405: the verbs the handler implements. send_error
 * adds it after clearing the output. */
const char *sq__allow_header(sq_req *r, char *buf, size_t cap) {
    const sq_handler *h = r->handler;
    size_t n = 0;
    const char *names[] = {"GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"};
    verb_fn fns[] = {h->get, h->head, h->post, h->delete_, h->patch, h->put, h->options};
    buf[0] = 0;
    for (size_t i = 0; i < 7; i++) {
        if (!fns[i]) continue;
        size_t l = strlen(names[i]);
        if (n + l + 3 > cap) break;
        if (n) {
            memcpy(buf + n, ", ", 2);
            n += 2;
        }
        memcpy(buf + n, names[i], l);
        n += l;
        buf[n] = 0;
    }
    return buf;
}

/* Runs set_default_headers ... prepare. The caller holds a depth. */
static void run_start(sq_req *r) {
    const sq_handler *h = r->handler;
    r->phase = SQ_PH_STARTED;
    if (h->state_size) {
        r->state = sq__arena_alloc(&r->arena, h->state_size);
        if (!r->state) {
            sq__send_error_detail(r, 500, NULL, "out of memory");
            return;
        }
        memset(r->state, 0, h->state_size);
    }
    if (h->set_default_headers) h->set_default_headers(r);
    if (r->finished) return;
    if (h->initialize) h->initialize(r, r->rt->route->data);
    if (r->finished) return;
    if (r->err_detail) { /* a path capture that is not UTF-8 */
        sq__send_error_detail(r, 400, NULL, r->err_detail);
        return;
    }
    bool supported;
    sq_http_method m = sq_http_req_method(r->http);
    (void)verb_for(h, m, &supported);
    if (!supported) {
        sq__send_error_detail(r, 405, NULL, "unsupported method");
        return;
    }
    if (r->app->settings.xsrf_cookies && !h->no_xsrf_check && m != SQ_HTTP_GET &&
        m != SQ_HTTP_HEAD && m != SQ_HTTP_OPTIONS) {
        if (sq__check_xsrf(r) || r->finished) return;
    }
    if (h->prepare) h->prepare(r);
}

/* Runs the verb and finishes unless the handler said it finishes later. */
static void run_verb(sq_req *r) {
    r->phase = SQ_PH_VERB;
    bool supported;
    verb_fn f = verb_for(r->handler, sq_http_req_method(r->http), &supported);
    if (!f) {
        method_not_allowed(r);
        return;
    }
    f(r);
    if (!r->finished && !r->async) sq_finish(r);
}

static void on_close(sq_http_req *hreq, void *arg) {
    sq_req *r = arg;
    if (r->finished) {
        /* Finished from a flush callback that reported this close: the HTTP
         * request is finished here, where the server no longer touches it. */
        if (r->http_pending) {
            r->http_pending = false;
            r->http = NULL;
            sq_http_finish(hreq);
            sq__req_release_maybe(r);
        }
        return;
    }
    r->closed = true;
    if (r->phase == SQ_PH_HEAD) {
        /* The body was still arriving: no handler code ran, nothing to tell. */
        r->finished = true;
        r->http = NULL;
        sq_http_finish(hreq);
        sq__req_release_maybe(r);
        return;
    }
    r->depth++;
    if (r->handler->on_connection_close) r->handler->on_connection_close(r);
    r->depth--;
    /* A streaming request whose body will never complete: its verb will not
     * run, so unless the handler finishes it later, it ends here. */
    if (!r->finished && r->phase == SQ_PH_STARTED && !r->async && !r->paused && r->depth == 0)
        sq_finish(r);
    sq__req_release_maybe(r);
}

static void on_data(sq_http_req *hreq, const char *data, size_t len, void *arg) {
    sq_req *r = arg;
    if (r->finished || !r->handler->data_received) return;
    r->depth++;
    r->handler->data_received(r, data, len);
    r->depth--;
    sq__req_release_maybe(r);
}

void sq__head_cb(sq_http_req *hreq, void *arg) {
    sq_app *app = arg;
    sq_req *r = req_get(app);
    if (!r) {
        sq_http_respond(hreq, 500, "text/plain", "out of memory\n", 14);
        return;
    }
    r->http = hreq;
    r->start_ns = app->settings.access_log ? uv_hrtime() : sq_loop_now(app->loop) * 1000000ull;
    sq_http_req_set_data(hreq, r);
    sq_http_req_on_close(hreq, on_close, r);
    r->rt = sq__router_match(app, hreq, r);
    const sq_handler *h = r->handler = r->rt->route->handler;
    if (h->max_body_size) (void)sq_http_req_set_max_body(hreq, h->max_body_size);
    if (h->stream_request_body) {
        (void)sq_http_req_stream_body(hreq, on_data, r);
        r->depth++;
        run_start(r);
        r->depth--;
        if (!r->finished && r->closed && !r->async && !r->paused) sq_finish(r);
        sq__req_release_maybe(r);
    }
}

void sq__request_cb(sq_http_req *hreq, void *arg) {
    sq_req *r = sq_http_req_get_data(hreq);
    if (!r) { /* no head callback ran (cannot happen with sq_app_listen) */
        sq_http_respond(hreq, 500, "text/plain", "no route\n", 9);
        return;
    }
    r->depth++;
    r->body_done = true;
    if (r->phase == SQ_PH_HEAD) run_start(r);
    if (!r->finished && !r->paused) run_verb(r);
    r->depth--;
    sq__req_release_maybe(r);
}

void sq_pause(sq_req *req) {
    if (req->phase == SQ_PH_STARTED && !req->finished) req->paused = true;
}

int sq_resume(sq_req *req) {
    if (req->finished) return SQ_ESTATE;
    if (!req->paused) return SQ_ESTATE;
    req->paused = false;
    /* A streamed body still arriving: the verb runs after its last piece. */
    if (!req->body_done) return 0;
    req->depth++;
    run_verb(req);
    req->depth--;
    sq__req_release_maybe(req);
    return 0;
}
