/* The web framework end to end: an sq_app on its own loop thread, raw
 * sockets speaking to it. Lifecycle order, routing, errors, async
 * handlers, disconnects, streaming bodies, output. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sqtest.h"
#include "webtest.h"

static int count_hdr(const char *resp, const char *name) {
    int c = 0;
    size_t nl = strlen(name);
    const char *end = strstr(resp, "\r\n\r\n");
    for (const char *p = strstr(resp, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') c++;
    return c;
}

/* A record of lifecycle calls, written on the loop thread. */
static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static char rec[1024];

static void record(const char *what) {
    pthread_mutex_lock(&rec_mu);
    strncat(rec, what, sizeof rec - strlen(rec) - 1);
    strncat(rec, ",", sizeof rec - strlen(rec) - 1);
    pthread_mutex_unlock(&rec_mu);
}

/* Waits until the record equals want (on_finish may run just after the
 * response left). */
static void expect_record(const char *want) {
    char got[1024];
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&rec_mu);
        strcpy(got, rec);
        pthread_mutex_unlock(&rec_mu);
        if (strcmp(got, want) == 0) return;
        usleep(10000);
    }
    cr_assert_str_eq(got, want);
}

static void reset_record(void) {
    pthread_mutex_lock(&rec_mu);
    rec[0] = 0;
    pthread_mutex_unlock(&rec_mu);
}

/* ---- handlers ---- */

static void hello_get(sq_req *req) { sq_write_str(req, "Hello, world"); }
static const sq_handler hello = {.get = hello_get};

typedef struct {
    int x;
    void *data;
} life_state;

static void life_default_headers(sq_req *req) {
    record("default_headers");
    sq_set_header(req, "X-Default", "1");
}
static void life_initialize(sq_req *req, void *data) {
    life_state *s = sq_req_state(req);
    record(s->x == 0 ? "initialize" : "initialize-dirty");
    s->data = data;
}
static void life_prepare(sq_req *req) {
    record("prepare");
    const char *q = sq_get_query_argument(req, "stop", NULL);
    if (q && !strcmp(q, "finish")) {
        sq_write_str(req, "stopped");
        sq_finish(req);
        /* The request stays readable until prepare returns. */
        life_state *s = sq_req_state(req);
        s->x = 1;
        cr_assert_eq(sq_write_str(req, "more"), SQ_ESTATE);
    } else if (q && !strcmp(q, "error")) {
        sq_send_error(req, 401, NULL);
    }
}
static void life_get(sq_req *req) {
    record("get");
    life_state *s = sq_req_state(req);
    sq_writef(req, "get %s", (const char *)s->data);
}
static void life_post(sq_req *req) {
    record("post");
    sq_write_str(req, "posted");
}
static void life_on_finish(sq_req *req) {
    /* What a logging on_finish reads, after the HTTP request is gone. */
    const char *m = sq_req_method(req);
    cr_assert(!strcmp(m, "GET") || !strcmp(m, "DELETE") || !strcmp(m, "PROPFIND"), "%s", m);
    cr_assert(strncmp(sq_req_uri(req), "/life", 5) == 0);
    cr_assert_str_eq(sq_req_path(req), "/life");
    cr_assert_str_eq(sq_req_remote_ip(req), "127.0.0.1");
    cr_assert(sq_get_status(req) == 200 || sq_get_status(req) == 401 || sq_get_status(req) == 405);
    cr_assert(sq_req_time(req) >= 0.0 && sq_req_time(req) < 5.0);
    cr_assert_null(sq_req_header(req, "Host"));
    cr_assert_null(sq_req_http(req));
    record("on_finish");
}

static const sq_handler life = {
    .state_size = sizeof(life_state),
    .set_default_headers = life_default_headers,
    .initialize = life_initialize,
    .prepare = life_prepare,
    .get = life_get,
    .post = life_post,
    .on_finish = life_on_finish,
};

static void args_get(sq_req *req) {
    int n = sq_path_nargs(req);
    sq_writef(req, "n=%d", n);
    for (int i = 1; i <= n; i++) {
        const char *a = sq_path_arg(req, i);
        sq_writef(req, "|%s", a ? a : "(null)");
    }
    const char *k = sq_path_kwarg(req, "id");
    if (k) sq_writef(req, "|id=%s", k);
}
static const sq_handler args_handler = {.get = args_get};

static void host_init(sq_req *req, void *data) { *(const char **)sq_req_state(req) = data; }
static void host_get2(sq_req *req) { sq_writef(req, "host:%s", *(const char **)sq_req_state(req)); }
static const sq_handler host_handler = {
    .state_size = sizeof(char *), .initialize = host_init, .get = host_get2};

static char other_data[] = "the data";

static const sq_route routes[] = {
    {"/", &hello, NULL, "home"},
    {"/life", &life, other_data, NULL},
    {"/args/([^/]+)/(\\d+)?x", &args_handler, NULL, "args"},
    {"/named/(?<id>[a-z%0-9+]+)", &args_handler, NULL, NULL},
    {"/host", &host_handler, "default", NULL},
    {NULL},
};

Test(web, hello_defaults) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192], v[256];
    cr_assert_eq(wapp_get(w, "/", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "Hello, world");
    cr_assert_str_eq(resp_header(buf, "Content-Type", v, sizeof v), "text/html; charset=UTF-8");
    /* The default ETag: a quoted 128-bit hash. */
    cr_assert_not_null(resp_header(buf, "Etag", v, sizeof v));
    cr_assert_eq(strlen(v), 34);
    cr_assert(v[0] == '"' && v[33] == '"' && strspn(v + 1, "0123456789abcdef") == 32, "%s", v);
    char first[64];
    strcpy(first, v);
    cr_assert_eq(wapp_get(w, "/", buf, sizeof buf), 200);
    cr_assert_str_eq(resp_header(buf, "Etag", v, sizeof v), first);
    cr_assert_eq(count_hdr(buf, "Server"), 1);
    cr_assert_eq(count_hdr(buf, "Date"), 1);
    cr_assert_str_eq(resp_header(buf, "Content-Length", v, sizeof v), "12");
    /* Keep-alive: many requests on one connection reuse request objects. */
    int fd = sqt_connect(w->port);
    for (int i = 0; i < 50; i++) {
        sqt_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(sqt_recv_response(fd, buf, sizeof buf, 0) > 0);
        cr_assert_str_eq(sqt_body(buf), "Hello, world");
    }
    close(fd);
    wapp_stop(w);
}

Test(web, lifecycle_order) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192], v[64];
    reset_record();
    cr_assert_eq(wapp_get(w, "/life", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "get the data");
    cr_assert_str_eq(resp_header(buf, "X-Default", v, sizeof v), "1");
    expect_record("default_headers,initialize,prepare,get,on_finish,");

    reset_record();
    cr_assert_eq(wapp_get(w, "/life?stop=finish", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "stopped");
    expect_record("default_headers,initialize,prepare,on_finish,");

    /* send_error from prepare: set_default_headers runs again (Tornado's
     * clear()), the verb is skipped. */
    reset_record();
    cr_assert_eq(wapp_get(w, "/life?stop=error", buf, sizeof buf), 401);
    cr_assert_str_eq(sqt_body(buf),
                     "<html><title>401: Unauthorized</title><body>401: Unauthorized</body></html>");
    cr_assert_str_eq(resp_header(buf, "X-Default", v, sizeof v), "1");
    expect_record("default_headers,initialize,prepare,default_headers,on_finish,");

    /* State is zeroed for every request even though objects are reused. */
    reset_record();
    cr_assert_eq(wapp_get(w, "/life", buf, sizeof buf), 200);
    expect_record("default_headers,initialize,prepare,get,on_finish,");
    wapp_stop(w);
}

Test(web, method_not_allowed) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192], v[128];
    reset_record();
    cr_assert_eq(wapp_fetch(w, "DELETE /life HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 405);
    cr_assert_str_eq(resp_header(buf, "Allow", v, sizeof v), "GET, POST");
    /* A verb Tornado supports but the handler lacks: prepare runs first. */
    expect_record("default_headers,initialize,prepare,default_headers,on_finish,");
    /* A method outside SUPPORTED_METHODS: 405 before prepare. */
    reset_record();
    cr_assert_eq(wapp_fetch(w, "PROPFIND /life HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 405);
    expect_record("default_headers,initialize,default_headers,on_finish,");
    /* HEAD is not implicit. */
    cr_assert_eq(wapp_fetch(w, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 405);
    cr_assert_str_eq(resp_header(buf, "Allow", v, sizeof v), "GET");
    wapp_stop(w);
}

Test(web, not_found_default_and_custom) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192], v[128];
    cr_assert_eq(wapp_get(w, "/nowhere", buf, sizeof buf), 404);
    cr_assert_str_eq(sqt_body(buf),
                     "<html><title>404: Not Found</title><body>404: Not Found</body></html>");
    /* Anchored at both ends: a prefix or a longer path does not match. */
    cr_assert_eq(wapp_get(w, "/lifex", buf, sizeof buf), 404);
    cr_assert_eq(wapp_get(w, "/x/life", buf, sizeof buf), 404);
    /* JSON when asked for. */
    cr_assert_eq(wapp_fetch(w, "GET /nope HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n", buf,
                       sizeof buf),
                 404);
    cr_assert_str_eq(sqt_body(buf), "{\"error\": {\"code\": 404, \"message\": \"Not Found\"}}");
    cr_assert_str_eq(resp_header(buf, "Content-Type", v, sizeof v), "application/json; charset=UTF-8");
    wapp_stop(w);

    sq_app_settings s = {.default_handler = &hello};
    w = wapp_start(routes, &s);
    cr_assert_eq(wapp_get(w, "/nowhere", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "Hello, world");
    wapp_stop(w);
}

Test(web, path_captures) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192];
    cr_assert_eq(wapp_get(w, "/args/a%20b+c%2F/12x", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "n=2|a b+c/|12");
    cr_assert_eq(wapp_get(w, "/args/%C3%A9/x", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "n=2|\xc3\xa9|(null)");
    cr_assert_eq(wapp_get(w, "/named/ab%41", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "n=1|abA|id=abA");
    /* Invalid UTF-8 once decoded: 400. */
    cr_assert_eq(wapp_get(w, "/args/%C3%28/1x", buf, sizeof buf), 400);
    cr_assert_eq(wapp_get(w, "/named/%ff", buf, sizeof buf), 400);
    wapp_stop(w);
}

static const sq_route host_routes[] = {
    {"/host", &host_handler, "example", NULL},
    {NULL},
};
static const sq_route host_routes2[] = {
    {"/host", &host_handler, "api", NULL},
    {NULL},
};

static void add_hosts(sq_app *app) {
    cr_assert_eq(sq_app_add_handlers(app, "(www\\.)?example\\.com", host_routes), 0);
    cr_assert_eq(sq_app_add_handlers(app, "api\\..*", host_routes2), 0);
    cr_assert_eq(sq_app_add_handlers(app, "bad(", host_routes2), SQ_EINVAL);
}

Test(web, host_rules) {
    wapp *w = wapp_start2(routes, NULL, add_hosts);
    char buf[8192];
    cr_assert_eq(wapp_fetch(w, "GET /host HTTP/1.1\r\nHost: WWW.Example.com:8080\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "host:example");
    cr_assert_eq(wapp_fetch(w, "GET /host HTTP/1.1\r\nHost: api.foo\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "host:api");
    cr_assert_eq(wapp_fetch(w, "GET /host HTTP/1.1\r\nHost: example.com.evil\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "host:default");
    /* A host rule without the path falls through to the default routes. */
    cr_assert_eq(wapp_fetch(w, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "Hello, world");
    wapp_stop(w);
}

Test(web, reverse_url) {
    sq_loop *loop = sq_loop_new();
    static const sq_route rr[] = {
        {"/", &hello, NULL, "home"},
        {"/users/(\\d+)/posts/([^/]+)$", &hello, NULL, "post"},
        {"^/a\\.b/(.*)", &hello, NULL, "dot"},
        {"/x/(?:a|b)/(\\d+)", &hello, NULL, "complex"},
        {"/d/\\d+", &hello, NULL, "escaped"},
        {NULL},
    };
    sq_app *app = sq_app_new(loop, rr, NULL);
    cr_assert_not_null(app);
    char out[128];
    cr_assert_eq(sq_reverse_url(app, "home", NULL, 0, out, sizeof out), 1);
    cr_assert_str_eq(out, "/");
    const char *a[] = {"42", "hello world/é"};
    int n = sq_reverse_url(app, "post", a, 2, out, sizeof out);
    cr_assert_str_eq(out, "/users/42/posts/hello%20world/%C3%A9");
    cr_assert_eq(n, (int)strlen(out));
    const char *b[] = {"x y"};
    sq_reverse_url(app, "dot", b, 1, out, sizeof out);
    cr_assert_str_eq(out, "/a.b/x%20y");
    cr_assert_eq(sq_reverse_url(app, "post", a, 1, out, sizeof out), SQ_EINVAL);
    cr_assert_eq(sq_reverse_url(app, "complex", b, 1, out, sizeof out), SQ_EINVAL);
    cr_assert_eq(sq_reverse_url(app, "escaped", NULL, 0, out, sizeof out), SQ_EINVAL);
    cr_assert_eq(sq_reverse_url(app, "nope", NULL, 0, out, sizeof out), SQ_ENOENT);
    cr_assert_eq(sq_reverse_url(app, "post", a, 2, out, 10), SQ_ELIMIT);
    sq_app_close(app, NULL, NULL);
    cr_assert_eq(sq_loop_close(loop), 0);

    /* A pattern that does not compile. */
    loop = sq_loop_new();
    static const sq_route bad[] = {{"/(", &hello, NULL, NULL}, {NULL}};
    cr_assert_null(sq_app_new(loop, bad, NULL));
    cr_assert_eq(sq_loop_close(loop), 0);
}

/* ---- async handlers and disconnects ---- */

static atomic_int closes, late_finish_result, finishes;

static void slow_fire(void *arg) {
    sq_req *req = arg;
    sq_write_str(req, "slow done");
    atomic_store(&late_finish_result, sq_finish(req) == 0 ? 1 : 2);
}
static void slow_get(sq_req *req) {
    sq_finish_later(req);
    uint64_t ms = 300;
    const char *d = sq_get_query_argument(req, "ms", NULL);
    if (d) ms = (uint64_t)atoi(d);
    sq_loop_call_later(sq_req_loop(req), ms, slow_fire, req, NULL);
}
static void slow_close(sq_req *req) {
    atomic_fetch_add(&closes, 1);
    cr_assert(sq_req_closed(req));
    cr_assert_eq(sq_write_str(req, "x"), SQ_ECLOSED);
}
static void slow_finish(sq_req *req) { atomic_fetch_add(&finishes, 1); }
static const sq_handler slow = {
    .get = slow_get, .on_connection_close = slow_close, .on_finish = slow_finish};

static const sq_route async_routes[] = {
    {"/", &hello, NULL, NULL},
    {"/slow", &slow, NULL, NULL},
    {NULL},
};

Test(web, async_finish_from_timer) {
    wapp *w = wapp_start(async_routes, NULL);
    atomic_store(&late_finish_result, 0);
    int slowfd = sqt_connect(w->port);
    sqt_send(slowfd, "GET /slow?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n");
    /* Other requests are served meanwhile. */
    char buf[8192];
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(wapp_get(w, "/", buf, sizeof buf), 200);
    }
    cr_assert_eq(atomic_load(&late_finish_result), 0, "served after the slow one?");
    cr_assert(sqt_recv_response(slowfd, buf, sizeof buf, 0) > 0);
    cr_assert_eq(sqt_status(buf), 200);
    cr_assert_str_eq(sqt_body(buf), "slow done");
    close(slowfd);
    for (int i = 0; i < 100 && atomic_load(&late_finish_result) == 0; i++) usleep(10000);
    cr_assert_eq(atomic_load(&late_finish_result), 1);
    wapp_stop(w);
}

Test(web, disconnect_mid_wait) {
    wapp *w = wapp_start(async_routes, NULL);
    atomic_store(&closes, 0);
    atomic_store(&finishes, 0);
    atomic_store(&late_finish_result, 0);
    for (int i = 0; i < 5; i++) {
        int fd = sqt_connect(w->port);
        sqt_send(fd, "GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n");
        usleep(30000);
        close(fd);
    }
    for (int i = 0; i < 300 && atomic_load(&finishes) < 5; i++) usleep(10000);
    cr_assert_eq(atomic_load(&closes), 5);
    cr_assert_eq(atomic_load(&finishes), 5);
    cr_assert_eq(atomic_load(&late_finish_result), 2, "late finish must return SQ_ECLOSED");
    /* One still waiting when the app closes: on_connection_close, then the
     * app waits for the late finish before it frees itself. */
    int fd = sqt_connect(w->port);
    sqt_send(fd, "GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(50000);
    wapp_stop(w);
    close(fd);
    cr_assert_eq(atomic_load(&closes), 6);
}

/* ---- streaming request bodies ---- */

typedef struct {
    size_t got;
    int pieces;
} stream_state;

static void stream_prepare(sq_req *req) {
    record("prepare");
    if (sq_get_query_argument(req, "deny", NULL)) sq_send_error(req, 403, NULL);
}
static void stream_data(sq_req *req, const char *data, size_t len) {
    stream_state *s = sq_req_state(req);
    s->got += len;
    s->pieces++;
}
static void stream_put(sq_req *req) {
    record("put");
    stream_state *s = sq_req_state(req);
    size_t len = 0;
    cr_assert_null(sq_req_body(req, &len));
    sq_writef(req, "got %zu", s->got);
}
static const sq_handler streamer = {
    .state_size = sizeof(stream_state),
    .prepare = stream_prepare,
    .put = stream_put,
    .stream_request_body = true,
    .data_received = stream_data,
    .max_body_size = 1000000,
};

static void small_post(sq_req *req) { sq_writef(req, "len %zu", (size_t)0); }
static const sq_handler small_limit = {.post = small_post, .max_body_size = 10};

static const sq_route stream_routes[] = {
    {"/stream", &streamer, NULL, NULL},
    {"/small", &small_limit, NULL, NULL},
    {NULL},
};

Test(web, streaming_body) {
    sq_app_settings s = {0};
    s.server.max_body_size = 1000;
    wapp *w = wapp_start(stream_routes, &s);
    char buf[8192];
    /* 500 KB: above the server's limit, within the handler's. */
    size_t total = 500000;
    char *body = malloc(total);
    memset(body, 'a', total);
    int fd = sqt_connect(w->port);
    reset_record();
    sqt_send(fd, "PUT /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n");
    sqt_sendn(fd, body, total);
    cr_assert(sqt_recv_response(fd, buf, sizeof buf, 0) > 0);
    cr_assert_eq(sqt_status(buf), 200);
    cr_assert_str_eq(sqt_body(buf), "got 500000");
    close(fd);
    expect_record("prepare,put,");
    /* Over the handler's own limit: 413. */
    fd = sqt_connect(w->port);
    sqt_send(fd, "PUT /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
    cr_assert(sqt_recv_response(fd, buf, sizeof buf, 0) > 0);
    cr_assert_eq(sqt_status(buf), 413);
    close(fd);
    /* prepare refusing at head time. */
    cr_assert_eq(wapp_fetch(w, "PUT /stream?deny=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
                       buf, sizeof buf),
                 403);
    /* A handler limit below the server's. */
    cr_assert_eq(wapp_fetch(w, "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
                       buf, sizeof buf),
                 413);
    /* A client leaving in the middle of a streamed body. */
    fd = sqt_connect(w->port);
    sqt_send(fd, "PUT /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    sqt_sendn(fd, body, 5000);
    usleep(50000);
    close(fd);
    usleep(50000);
    /* A client leaving in the middle of a buffered body: no handler code
     * ran, the request is dropped. */
    fd = sqt_connect(w->port);
    sqt_send(fd, "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc");
    usleep(30000);
    close(fd);
    usleep(30000);
    free(body);
    cr_assert_eq(wapp_get(w, "/nothing", buf, sizeof buf), 404);
    wapp_stop(w);
}

/* ---- errors ---- */

static void err_get(sq_req *req) {
    sq_write_str(req, "this is dropped");
    sq_set_header(req, "X-Dropped", "1");
    const char *code = sq_get_query_argument(req, "code", "500");
    sq_send_error(req, atoi(code), sq_get_query_argument(req, "reason", NULL));
}
static void json_write_error(sq_req *req, int status) {
    /* A nested send_error only finishes what is there. */
    if (status == 418) {
        sq_write_str(req, "partial");
        sq_send_error(req, 500, NULL);
        return;
    }
    sq_writef(req, "{\"status\": %d}", status);
    sq_set_header(req, "Content-Type", "application/json");
}
static const sq_handler err_default = {.get = err_get};
static const sq_handler err_custom = {.get = err_get, .write_error = json_write_error};

static void missing_get(sq_req *req) {
    const char *v = sq_require_argument(req, "name");
    if (!v) return;
    sq_writef(req, "name=%s", v);
}
static const sq_handler missing = {.get = missing_get};

static const sq_route err_routes[] = {
    {"/default", &err_default, NULL, NULL},
    {"/custom", &err_custom, NULL, NULL},
    {"/missing", &missing, NULL, NULL},
    {NULL},
};

Test(web, errors) {
    wapp *w = wapp_start(err_routes, NULL);
    char buf[8192], v[128];
    cr_assert_eq(wapp_get(w, "/default?code=503", buf, sizeof buf), 503);
    cr_assert_str_eq(sqt_body(buf), "<html><title>503: Service Unavailable</title><body>503: "
                                    "Service Unavailable</body></html>");
    cr_assert_null(resp_header(buf, "X-Dropped", v, sizeof v));
    cr_assert_null(resp_header(buf, "Etag", v, sizeof v));
    cr_assert_eq(wapp_get(w, "/default?code=418&reason=I%27m+a+<teapot>", buf, sizeof buf), 418);
    cr_assert(strstr(buf, "HTTP/1.1 418 I'm a <teapot>\r\n"));
    cr_assert_str_eq(sqt_body(buf), "<html><title>418: I&#39;m a &lt;teapot&gt;</title><body>418: "
                                    "I&#39;m a &lt;teapot&gt;</body></html>");
    cr_assert_eq(wapp_get(w, "/custom?code=418", buf, sizeof buf), 418);
    cr_assert_str_eq(sqt_body(buf), "partial");
    cr_assert_eq(wapp_get(w, "/custom?code=409", buf, sizeof buf), 409);
    cr_assert_str_eq(sqt_body(buf), "{\"status\": 409}");
    cr_assert_str_eq(resp_header(buf, "Content-Type", v, sizeof v), "application/json");
    cr_assert_eq(wapp_get(w, "/missing", buf, sizeof buf), 400);
    cr_assert(strstr(buf, "HTTP/1.1 400 Missing argument name\r\n"));
    cr_assert_eq(wapp_get(w, "/missing?name=+bob+", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "name=bob");
    wapp_stop(w);

    /* Details only with debug. */
    sq_app_settings s = {.debug = true};
    w = wapp_start(routes, &s);
    cr_assert_eq(wapp_get(w, "/args/%C3%28/1x", buf, sizeof buf), 400);
    cr_assert(strstr(sqt_body(buf), "<pre>invalid UTF-8 in the path</pre>"));
    wapp_stop(w);
}

/* ---- output ---- */

static void redirect_get(sq_req *req) {
    int code = atoi(sq_get_query_argument(req, "code", "0"));
    int r = sq_redirect(req, "/target?x=1", code);
    if (r == SQ_EINVAL) sq_send_error(req, 400, NULL);
}
static const sq_handler redirector = {.get = redirect_get};

static void headers_get(sq_req *req) {
    cr_assert_eq(sq_set_header(req, "X-Evil", "a\r\nSet-Cookie: x=1"), SQ_EHEADER);
    cr_assert_eq(sq_set_header(req, "Bad Name", "v"), SQ_EHEADER);
    cr_assert_eq(sq_set_header(req, "Date", "today"), SQ_EINVAL);
    cr_assert_eq(sq_set_status(req, 200, "bad\nreason"), SQ_EINVAL);
    cr_assert_eq(sq_set_status(req, 99, NULL), SQ_EINVAL);
    sq_set_header(req, "X-A", "1");
    sq_set_header(req, "x-a", "2");
    sq_add_header(req, "X-B", "1");
    sq_add_header(req, "X-B", "2");
    sq_add_header(req, "X-C", "gone");
    sq_clear_header(req, "x-c");
    sq_set_header(req, "Content-Type", "text/plain");
    sq_set_status(req, 201, "Made");
    sq_writef(req, "%d-%s", 7, "x");
}
static const sq_handler headers_handler = {.get = headers_get};

static void json_get(sq_req *req) {
    json_t *o = json_pack("{s:s, s:i, s:s}", "message", "Hello, World!", "n", 5, "html",
                          "</script>\xc3\xa9");
    cr_assert_eq(sq_write_json(req, o), 0);
    json_decref(o);
    json_t *arr = json_array();
    cr_assert_eq(sq_write_json(req, arr), SQ_EINVAL);
    json_decref(arr);
}
static const sq_handler json_handler = {.get = json_get};

/* Byte for byte what Tornado's json_encode (Python's json.dumps) writes. */
static void json_full_get(sq_req *req) {
    json_t *o = json_pack("{s:[i,i,f,f,f,f,f,f,f,f,f,b,b,n], s:s, s:{}, s:[], s:I, s:s}", "a", 1, -2, 3.5,
                          0.1, 1e16, 1e15, 1e-05, 0.0001, 1.0, -0.0, 123456789.123, 1, 0, "s",
                          "\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80</x\n\"", "n", "e", "big",
                          (json_int_t)INT64_MIN, "p", "a</p>");
    cr_assert_not_null(o);
    cr_assert_eq(sq_write_json(req, o), 0);
    json_decref(o);
}
static const sq_handler json_full = {.get = json_full_get};

static void stream_out_done(sq_req *req, int status, void *arg) {
    sq_write_str(req, "three");
    sq_finish(req);
}
static void stream_out_get(sq_req *req) {
    sq_finish_later(req);
    sq_write_str(req, "one,");
    cr_assert_eq(sq_flush(req, NULL, NULL), 0);
    cr_assert_eq(sq_set_header(req, "X-Late", "1"), SQ_ESTATE);
    sq_write_str(req, "two,");
    cr_assert_eq(sq_flush(req, stream_out_done, NULL), 0);
}
static const sq_handler stream_out = {.get = stream_out_get};

static void cookies_get(sq_req *req) {
    if (sq_get_query_argument(req, "all", NULL)) {
        sq_clear_all_cookies(req, NULL, NULL);
        return;
    }
    sq_cookie_attrs a = {.domain = "example.com", .path = "/app", .max_age = 60, .has_max_age = true,
                         .secure = true, .httponly = true, .samesite = SQ_SAMESITE_LAX,
                         .expires = 1359312200};
    cr_assert_eq(sq_set_cookie(req, "full", "v", &a), 0);
    cr_assert_eq(sq_set_cookie(req, "plain", "1", NULL), 0);
    cr_assert_eq(sq_set_cookie(req, "plain", "2", NULL), 0); /* replaces */
    cr_assert_eq(sq_set_cookie(req, "quoted", "a=b;c", NULL), 0);
    cr_assert_eq(sq_set_cookie(req, "bad name", "x", NULL), SQ_EHEADER);
    cr_assert_eq(sq_clear_cookie(req, "old", NULL, "example.com"), 0);
    const char *in = sq_get_cookie(req, "in", "none");
    sq_writef(req, "in=%s", in);
}
static const sq_handler cookies_handler = {.get = cookies_get};

static void etag_get(sq_req *req) { sq_write_str(req, "etag body"); }
static void etag_post(sq_req *req) { sq_write_str(req, "etag body"); }
static const sq_handler etag_handler = {.get = etag_get, .post = etag_post};

static const sq_route out_routes[] = {
    {"/redirect", &redirector, NULL, NULL},
    {"/headers", &headers_handler, NULL, NULL},
    {"/json", &json_handler, NULL, NULL},
    {"/json-full", &json_full, NULL, NULL},
    {"/stream", &stream_out, NULL, NULL},
    {"/cookies", &cookies_handler, NULL, NULL},
    {"/etag", &etag_handler, NULL, NULL},
    {NULL},
};

Test(web, redirects) {
    wapp *w = wapp_start(out_routes, NULL);
    char buf[8192], v[128];
    cr_assert_eq(wapp_get(w, "/redirect", buf, sizeof buf), 302);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "/target?x=1");
    int codes[] = {301, 302, 303, 307, 308};
    for (int i = 0; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof path, "/redirect?code=%d", codes[i]);
        cr_assert_eq(wapp_get(w, path, buf, sizeof buf), codes[i]);
        cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "/target?x=1");
    }
    cr_assert_eq(wapp_get(w, "/redirect?code=200", buf, sizeof buf), 400);
    wapp_stop(w);
}

Test(web, headers_status_body) {
    wapp *w = wapp_start(out_routes, NULL);
    char buf[8192], v[128];
    cr_assert_eq(wapp_get(w, "/headers", buf, sizeof buf), 201);
    cr_assert(strstr(buf, "HTTP/1.1 201 Made\r\n"));
    cr_assert_str_eq(resp_header(buf, "X-A", v, sizeof v), "2");
    cr_assert_eq(count_hdr(buf, "X-A"), 1);
    cr_assert_eq(count_hdr(buf, "X-B"), 2);
    cr_assert_eq(count_hdr(buf, "X-C"), 0);
    cr_assert_eq(count_hdr(buf, "X-Evil"), 0);
    cr_assert_str_eq(resp_header(buf, "Content-Type", v, sizeof v), "text/plain");
    cr_assert_str_eq(sqt_body(buf), "7-x");
    cr_assert_eq(wapp_get(w, "/json", buf, sizeof buf), 200);
    cr_assert_str_eq(resp_header(buf, "Content-Type", v, sizeof v), "application/json; charset=UTF-8");
    cr_assert_str_eq(sqt_body(buf),
                     "{\"message\": \"Hello, World!\", \"n\": 5, \"html\": \"<\\/script>\\u00e9\"}");
    cr_assert_eq(wapp_get(w, "/json-full", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf),
                     "{\"a\": [1, -2, 3.5, 0.1, 1e+16, 1000000000000000.0, 1e-05, 0.0001, 1.0, -0.0, "
                     "123456789.123, true, false, null], \"s\": \"\\u00e9\\u2603\\ud83d\\ude00<\\/x\\n\\\"\", "
                     "\"n\": {}, \"e\": [], \"big\": -9223372036854775808, \"p\": \"a<\\/p>\"}");
    /* Flushed output goes chunked. */
    cr_assert_eq(wapp_get(w, "/stream", buf, sizeof buf), 200);
    cr_assert_str_eq(resp_header(buf, "Transfer-Encoding", v, sizeof v), "chunked");
    cr_assert(strstr(sqt_body(buf), "4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n"));
    cr_assert_null(resp_header(buf, "Etag", v, sizeof v));
    wapp_stop(w);
}

Test(web, cookies_out_and_in) {
    wapp *w = wapp_start(out_routes, NULL);
    char buf[8192];
    cr_assert_eq(wapp_fetch(w, "GET /cookies HTTP/1.1\r\nHost: x\r\nCookie: a=1; in=\"q\\\"v\"\r\n\r\n",
                       buf, sizeof buf),
                 200);
    cr_assert_str_eq(sqt_body(buf), "in=q\"v");
    cr_assert(strstr(buf, "Set-Cookie: full=v; Domain=example.com; expires=Sun, 27 Jan 2013 "
                          "18:43:20 GMT; HttpOnly; Max-Age=60; Path=/app; SameSite=Lax; Secure\r\n"));
    cr_assert(strstr(buf, "Set-Cookie: plain=2; Path=/\r\n"));
    cr_assert(!strstr(buf, "plain=1"));
    cr_assert(strstr(buf, "Set-Cookie: quoted=\"a=b\\073c\"; Path=/\r\n"), "%s", buf);
    cr_assert(strstr(buf, "Set-Cookie: old=\"\"; Domain=example.com; expires="));
    cr_assert_eq(count_hdr(buf, "Set-Cookie"), 4);
    cr_assert_eq(wapp_fetch(w, "GET /cookies?all=1 HTTP/1.1\r\nHost: x\r\nCookie: a=1; b=2; bad name=3\r\n\r\n",
                       buf, sizeof buf),
                 200);
    cr_assert(strstr(buf, "Set-Cookie: a=\"\"; expires="));
    cr_assert(strstr(buf, "Set-Cookie: b=\"\"; expires="));
    cr_assert_eq(count_hdr(buf, "Set-Cookie"), 2, "%s", buf);
    wapp_stop(w);
}

static void etag_304(bool sha1) {
    sq_app_settings s0 = {.etag_sha1 = sha1};
    wapp *w = wapp_start(out_routes, &s0);
    char buf[8192], v[128], raw[512], etag[SQ_ETAG_SIZE];
    cr_assert_eq(wapp_get(w, "/etag", buf, sizeof buf), 200);
    cr_assert_not_null(resp_header(buf, "Etag", etag, sizeof etag));
    if (sha1) {
        /* Tornado's exact value. */
        char want[SQ_ETAG_SIZE];
        sq_etag_compute("etag body", 9, want);
        cr_assert_str_eq(etag, want);
    }
    /* Another body gives another tag. */
    cr_assert_eq(wapp_get(w, "/json", buf, sizeof buf), 200);
    cr_assert_str_neq(resp_header(buf, "Etag", v, sizeof v), etag);
    cr_assert_eq(strlen(v), strlen(etag));
    snprintf(raw, sizeof raw, "GET /etag HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"zz\", %s\r\n\r\n", etag);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 304);
    cr_assert_str_eq(sqt_body(buf), "");
    cr_assert_null(resp_header(buf, "Content-Type", v, sizeof v));
    snprintf(raw, sizeof raw, "GET /etag HTTP/1.1\r\nHost: x\r\nIf-None-Match: W/%s\r\n\r\n", etag);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 304);
    cr_assert_eq(wapp_fetch(w, "GET /etag HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\n\r\n", buf,
                       sizeof buf),
                 200);
    /* No ETag on POST. */
    cr_assert_eq(wapp_fetch(w, "POST /etag HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_null(resp_header(buf, "Etag", v, sizeof v));
    wapp_stop(w);
}

Test(web, etag_and_304) {
    etag_304(false);
    etag_304(true);
    char buf[8192], v[128];
    sq_app_settings s = {.no_etag = true};
    wapp *w = wapp_start(out_routes, &s);
    cr_assert_eq(wapp_get(w, "/etag", buf, sizeof buf), 200);
    cr_assert_null(resp_header(buf, "Etag", v, sizeof v));
    wapp_stop(w);
}

/* ---- asynchronous prepare, HEAD, big state, errors after a flush ---- */

static atomic_int paused_closes;

static void resume_fire(void *arg) {
    sq_req *req = arg;
    record("timer");
    if (sq_req_closed(req)) {
        /* The client left while paused: resuming runs the verb, whose
         * writes fail, and the request finishes all the same. */
        cr_assert_eq(sq_resume(req), 0);
        return;
    }
    const char *deny = sq_get_query_argument(req, "deny", NULL);
    if (deny) sq_send_error(req, 401, NULL);
    else cr_assert_eq(sq_resume(req), 0);
}
static void pause_prepare(sq_req *req) {
    record("prepare");
    sq_pause(req);
    sq_loop_call_later(sq_req_loop(req), 60, resume_fire, req, NULL);
}
static void pause_get(sq_req *req) {
    record("get");
    cr_assert_eq(sq_resume(req), SQ_ESTATE);
    sq_write_str(req, "resumed");
}
static void pause_close(sq_req *req) {
    record("close");
    atomic_fetch_add(&paused_closes, 1);
}
static void pause_finish(sq_req *req) { record("on_finish"); }
static const sq_handler pauser = {.prepare = pause_prepare,
                                  .get = pause_get,
                                  .on_connection_close = pause_close,
                                  .on_finish = pause_finish};

typedef struct {
    char big[10000];
} big_state;
static void big_get(sq_req *req) {
    big_state *s = sq_req_state(req);
    for (size_t i = 0; i < sizeof s->big; i++) cr_assert_eq(s->big[i], 0);
    memset(s->big, 'x', sizeof s->big);
    char name[32], val[64];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "X-H%d", i);
        snprintf(val, sizeof val, "value %d", i);
        cr_assert_eq(sq_set_header(req, name, val), 0);
    }
    void *blob = sq_req_alloc(req, 100000);
    cr_assert_not_null(blob);
    memset(blob, 1, 100000);
    for (int i = 0; i < 5000; i++) sq_writef(req, "%04d", i % 10000);
}
static void big_head(sq_req *req) { sq_write_str(req, "not sent"); }
static const sq_handler bigh = {.state_size = sizeof(big_state), .get = big_get, .head = big_head};

static atomic_int flush_status;
static void flushed_then_error(sq_req *req, int status, void *arg) {
    atomic_store(&flush_status, status == 0 ? 1 : 2);
    /* After a flush an error can only end the response. */
    cr_assert_eq(sq_send_error(req, 500, NULL), 0);
    cr_assert_eq(sq_finish(req), SQ_ESTATE);
}
static void flush_get(sq_req *req) {
    sq_finish_later(req);
    sq_write_str(req, "partial");
    cr_assert_eq(sq_flush(req, flushed_then_error, NULL), 0);
    cr_assert_eq(sq_flush(req, flushed_then_error, NULL), SQ_EBUSY);
}
static const sq_handler flusher = {.get = flush_get};

static const sq_route more_routes[] = {
    {"/pause", &pauser, NULL, NULL},
    {"/big", &bigh, NULL, NULL},
    {"/flush", &flusher, NULL, NULL},
    {NULL},
};

Test(web, async_prepare) {
    wapp *w = wapp_start(more_routes, NULL);
    char buf[8192];
    reset_record();
    cr_assert_eq(wapp_get(w, "/pause", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "resumed");
    expect_record("prepare,timer,get,on_finish,");
    reset_record();
    cr_assert_eq(wapp_get(w, "/pause?deny=1", buf, sizeof buf), 401);
    expect_record("prepare,timer,on_finish,");
    /* The client leaves while paused. */
    reset_record();
    int fd = sqt_connect(w->port);
    sqt_send(fd, "GET /pause HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(20000);
    close(fd);
    expect_record("prepare,close,timer,get,on_finish,");
    cr_assert_eq(atomic_load(&paused_closes), 1);
    wapp_stop(w);
}

Test(web, big_state_head_and_flush_errors) {
    wapp *w = wapp_start(more_routes, NULL);
    static char buf[65536];
    char v[64];
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(wapp_get(w, "/big", buf, sizeof buf), 200);
        cr_assert_eq(strlen(sqt_body(buf)), 20000);
        cr_assert_str_eq(resp_header(buf, "X-H99", v, sizeof v), "value 99");
    }
    cr_assert_eq(wapp_fetch(w, "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(resp_header(buf, "Content-Length", v, sizeof v), "8");
    cr_assert_str_eq(sqt_body(buf), "");
    cr_assert_eq(wapp_get(w, "/flush", buf, sizeof buf), 200);
    cr_assert(strstr(sqt_body(buf), "7\r\npartial\r\n0\r\n\r\n"));
    cr_assert_eq(atomic_load(&flush_status), 1);
    wapp_stop(w);
}

/* ---- a streamed response whose client leaves: the flush callback sees
 * the error and finishes from inside it ---- */

static atomic_int stream_errors, stream_closes;
static void pump(sq_req *req, int status, void *arg);
static void pump_more(sq_req *req) {
    static char chunk[65536];
    memset(chunk, 'z', sizeof chunk);
    sq_write(req, chunk, sizeof chunk);
    if (sq_flush(req, pump, NULL) != 0) sq_finish(req);
}
static void pump(sq_req *req, int status, void *arg) {
    if (status < 0) {
        atomic_fetch_add(&stream_errors, 1);
        cr_assert_eq(sq_finish(req), SQ_ECLOSED);
        return;
    }
    pump_more(req);
}
static void endless_get(sq_req *req) {
    sq_finish_later(req);
    pump_more(req);
}
static void endless_close(sq_req *req) { atomic_fetch_add(&stream_closes, 1); }
static const sq_handler endless = {.get = endless_get, .on_connection_close = endless_close};
static const sq_route endless_routes[] = {{"/endless", &endless, NULL, NULL}, {NULL}};

Test(web, streamed_response_client_leaves) {
    wapp *w = wapp_start(endless_routes, NULL);
    for (int i = 0; i < 3; i++) {
        int fd = sqt_connect(w->port);
        sqt_send(fd, "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n");
        char buf[4096];
        cr_assert(read(fd, buf, sizeof buf) > 0);
        close(fd);
    }
    for (int i = 0; i < 300 && atomic_load(&stream_errors) < 3; i++) usleep(10000);
    cr_assert_eq(atomic_load(&stream_errors), 3);
    wapp_stop(w);
}

Test(web, streamed_response_app_closes) {
    wapp *w = wapp_start(endless_routes, NULL);
    atomic_store(&stream_errors, 0);
    int fd = sqt_connect(w->port);
    sqt_send(fd, "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[4096];
    cr_assert(read(fd, buf, sizeof buf) > 0);
    wapp_stop(w);
    close(fd);
    cr_assert_eq(atomic_load(&stream_errors), 1);
}

/* ---- built-in handlers: static files and redirects ---- */

static char static_root[256];

static void make_static_tree(void) {
    snprintf(static_root, sizeof static_root, "/tmp/sqweb-static-%d", (int)getpid());
    static char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "rm -rf %s %s-outside && mkdir -p %s/sub %s/empty %s-outside && printf 'hello static' > %s/a.txt && "
             "printf '<p>index</p>' > %s/sub/index.html && printf 'secret' > %s-outside/s.txt && "
             "ln -s %s-outside/s.txt %s/link.txt && head -c 300000 /dev/urandom > %s/big.bin",
             static_root, static_root, static_root, static_root, static_root, static_root,
             static_root, static_root, static_root, static_root, static_root);
    cr_assert_eq(system(cmd), 0);
}

static void remove_static_tree(void) {
    static char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s-outside", static_root, static_root);
    cr_assert_eq(system(cmd), 0);
}

static sq_static_spec static_spec;
static const sq_redirect_spec redir_spec = {"/users/{1}/{0}", false};
static const sq_redirect_spec redir_named = {"/n/{id}?x=1", true};
static const sq_route builtin_routes[] = {
    {"/files/(.*)", &sq_static_file_handler, &static_spec, NULL},
    {"/r/([a-z]+)/(\\d+)", &sq_redirect_handler, (void *)&redir_spec, NULL},
    {"/rn/(?<id>\\d+)", &sq_redirect_handler, (void *)&redir_named, NULL},
    {NULL},
};

Test(web, static_files) {
    make_static_tree();
    static_spec.root = static_root;
    static_spec.default_filename = "index.html";
    wapp *w = wapp_start(builtin_routes, NULL);
    static char buf[400000];
    char v[128], raw[512], etag[64], lm[64];
    cr_assert_eq(wapp_get(w, "/files/a.txt", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "hello static");
    cr_assert_str_eq(resp_header(buf, "Content-Type", v, sizeof v), "text/plain");
    cr_assert_str_eq(resp_header(buf, "Accept-Ranges", v, sizeof v), "bytes");
    cr_assert_not_null(resp_header(buf, "Etag", etag, sizeof etag));
    cr_assert_not_null(resp_header(buf, "Last-Modified", lm, sizeof lm));
    cr_assert_null(resp_header(buf, "Cache-Control", v, sizeof v));
    /* Conditional requests. */
    snprintf(raw, sizeof raw, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n", etag);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 304);
    snprintf(raw, sizeof raw, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: %s\r\n\r\n", lm);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 304);
    cr_assert_eq(wapp_fetch(w, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n\r\n",
                       buf, sizeof buf),
                 200);
    /* Ranges. */
    cr_assert_eq(wapp_fetch(w, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\n\r\n", buf, sizeof buf), 206);
    cr_assert_str_eq(sqt_body(buf), "hello");
    cr_assert_str_eq(resp_header(buf, "Content-Range", v, sizeof v), "bytes 0-4/12");
    cr_assert_eq(wapp_fetch(w, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-6\r\n\r\n", buf, sizeof buf), 206);
    cr_assert_str_eq(sqt_body(buf), "static");
    cr_assert_eq(wapp_fetch(w, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=6-\r\n\r\n", buf, sizeof buf), 206);
    cr_assert_str_eq(sqt_body(buf), "static");
    cr_assert_eq(wapp_fetch(w, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_eq(wapp_fetch(w, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=12-\r\n\r\n", buf, sizeof buf), 416);
    cr_assert_str_eq(resp_header(buf, "Content-Range", v, sizeof v), "bytes */12");
    cr_assert_eq(wapp_fetch(w, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-0\r\n\r\n", buf, sizeof buf), 416);
    cr_assert_eq(wapp_fetch(w, "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2,4-5\r\n\r\n", buf, sizeof buf), 200);
    /* HEAD: the length, no body. */
    cr_assert_eq(wapp_fetch(w, "HEAD /files/a.txt HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(resp_header(buf, "Content-Length", v, sizeof v), "12");
    /* Versioned URLs are cached for ten years. */
    cr_assert_eq(wapp_get(w, "/files/a.txt?v=1", buf, sizeof buf), 200);
    cr_assert_str_eq(resp_header(buf, "Cache-Control", v, sizeof v), "max-age=315360000");
    /* Safety. */
    cr_assert_eq(wapp_get(w, "/files/../a.txt", buf, sizeof buf), 404);
    cr_assert_eq(wapp_get(w, "/files/%2e%2e/sqweb-static-x", buf, sizeof buf), 404);
    char esc[512];
    snprintf(esc, sizeof esc, "/files/..%%2F%s-outside%%2Fs.txt", strrchr(static_root, '/') + 1);
    cr_assert_eq(wapp_get(w, esc, buf, sizeof buf), 403);
    cr_assert_eq(wapp_get(w, "/files/link.txt", buf, sizeof buf), 403);
    cr_assert_eq(wapp_get(w, "/files/nope.txt", buf, sizeof buf), 404);
    cr_assert_eq(wapp_get(w, "/files/a.txt%00.png", buf, sizeof buf), 400);
    cr_assert_eq(wapp_get(w, "/files/empty/", buf, sizeof buf), 404);
    /* Directories. */
    cr_assert_eq(wapp_get(w, "/files/sub", buf, sizeof buf), 301);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "/files/sub/");
    cr_assert_eq(wapp_get(w, "/files/sub/", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "<p>index</p>");
    cr_assert_str_eq(resp_header(buf, "Content-Type", v, sizeof v), "text/html");
    /* A big file in pieces, compared with the original. */
    cr_assert_eq(wapp_get(w, "/files/big.bin", buf, sizeof buf), 200);
    char path[512];
    snprintf(path, sizeof path, "%s/big.bin", static_root);
    FILE *f = fopen(path, "rb");
    static char want[300000];
    cr_assert_eq(fread(want, 1, sizeof want, f), sizeof want);
    fclose(f);
    const char *body = strstr(buf, "\r\n\r\n") + 4;
    cr_assert_eq(memcmp(body, want, sizeof want), 0);
    /* A client leaving in the middle of a big file. */
    int fd = sqt_connect(w->port);
    sqt_send(fd, "GET /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(read(fd, buf, 1000) > 0);
    close(fd);
    usleep(50000);
    cr_assert_eq(wapp_get(w, "/files/a.txt", buf, sizeof buf), 200);
    wapp_stop(w);
    remove_static_tree();
}

static void static_url_get(sq_req *req) {
    sq_writef(req, "%s|%s|%s", sq_static_url(req, "a.txt", true), sq_static_url(req, "a.txt", false),
              sq_static_url(req, "missing.txt", true));
}
static const sq_handler static_url_handler = {.get = static_url_get};
static const sq_route static_url_routes[] = {{"/url", &static_url_handler, NULL, NULL}, {NULL}};

Test(web, static_path_setting) {
    make_static_tree();
    sq_app_settings s = {.static_path = static_root};
    wapp *w = wapp_start(static_url_routes, &s);
    char buf[8192];
    for (int i = 0; i < 2; i++) { /* computed, then cached */
        cr_assert_eq(wapp_get(w, "/url", buf, sizeof buf), 200);
        /* sha512("hello static") */
        cr_assert_str_eq(sqt_body(buf),
                         "/static/a.txt?v=06214bdba964936060ee7ec72af3902b62974ff5bec82ea0158f0a4f9796753f"
                         "09c303677c3fd93d3f2e76ff174dcadda318114c17fbd18046feb55a70af54de|/static/a.txt|"
                         "/static/missing.txt");
    }
    wapp_stop(w);
    w = wapp_start(routes, &s);
    cr_assert_eq(wapp_get(w, "/static/a.txt", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "hello static");
    cr_assert_eq(wapp_get(w, "/robots.txt", buf, sizeof buf), 404);
    cr_assert_eq(wapp_get(w, "/", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "Hello, world");
    wapp_stop(w);
    s.static_url_prefix = "/s.x/";
    w = wapp_start(routes, &s);
    cr_assert_eq(wapp_get(w, "/s.x/a.txt", buf, sizeof buf), 200);
    cr_assert_eq(wapp_get(w, "/sXx/a.txt", buf, sizeof buf), 404);
    wapp_stop(w);
    remove_static_tree();
}

Test(web, redirect_handler) {
    wapp *w = wapp_start(builtin_routes, NULL);
    char buf[8192], v[128];
    cr_assert_eq(wapp_get(w, "/r/abc/42?q=1", buf, sizeof buf), 301);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "/users/42/abc?q=1");
    cr_assert_eq(wapp_get(w, "/rn/7?y=2", buf, sizeof buf), 302);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "/n/7?x=1&y=2");
    cr_assert_eq(wapp_fetch(w, "POST /r/abc/42 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf), 405);
    wapp_stop(w);
}

/* ---- routes matched without PCRE2 agree with PCRE2 ---- */

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static const sq_route fast_routes[] = {
    {"/f/(\\d+)", &args_handler, NULL, NULL},
    {"/g/([^/]+)/x", &args_handler, NULL, NULL},
    {"/h/(\\w*)", &args_handler, NULL, NULL},
    {"/i/(.+)", &args_handler, NULL, NULL},
    {"/j/([0-9]+)1", &args_handler, NULL, NULL},
    {"/k/(.*)", &args_handler, NULL, NULL},
    {NULL},
};

Test(web, fast_routes_agree_with_pcre2) {
    wapp *w = wapp_start(fast_routes, NULL);
    static const char *paths[] = {
        "/f/", "/f/12", "/f/12a", "/f/0", "/f/x1", "/g//x", "/g/a/x", "/g/a/b/x", "/g/a%2Fb/x",
        "/g/a/xx", "/h/", "/h/a_b9", "/h/a-b", "/h/%41", "/i/", "/i/a/b", "/i/%C3%A9", "/j/1231",
        "/j/1", "/j/11", "/j/a1", "/j/01", "/k/", "/k/a+b", "/k/%2F/", "/f/12/", "/f/123456789",
    };
    char buf[8192], want[512];
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        /* The expected answer, from PCRE2 itself. */
        int status = 404;
        want[0] = 0;
        for (size_t r = 0; fast_routes[r].pattern && status == 404; r++) {
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)fast_routes[r].pattern, PCRE2_ZERO_TERMINATED,
                                           PCRE2_ANCHORED | PCRE2_ENDANCHORED, &ec, &eo, NULL);
            pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
            if (pcre2_match(re, (PCRE2_SPTR)paths[p], strlen(paths[p]), 0, 0, md, NULL) >= 0) {
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                char dec[256];
                size_t n = sq_url_unescape(paths[p] + ov[2], ov[3] - ov[2], dec, false);
                snprintf(want, sizeof want, "n=1|%.*s", (int)n, dec);
                status = 200;
            }
            pcre2_match_data_free(md);
            pcre2_code_free(re);
        }
        char raw[512];
        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", paths[p]);
        int got = wapp_fetch(w, raw, buf, sizeof buf);
        cr_assert_eq(got, status, "%s: %d, PCRE2 says %d", paths[p], got, status);
        if (status == 200) cr_assert_str_eq(sqt_body(buf), want, "%s", paths[p]);
    }
    wapp_stop(w);
}

/* ---- compress_response ---- */

#include <zlib.h>

static void gz_text(sq_req *req) {
    const char *n = sq_get_query_argument(req, "n", "2000");
    const char *type = sq_get_query_argument(req, "type", NULL);
    if (type) sq_set_header(req, "Content-Type", type);
    int count = atoi(n);
    for (int i = 0; i < count; i++) sq_write(req, "abcdefghij" + (i % 10), 1);
    if (sq_get_query_argument(req, "flush", NULL)) {
        sq_finish_later(req);
        sq_flush(req, NULL, NULL);
        for (int i = 0; i < count; i++) sq_write(req, "0123456789" + (i % 10), 1);
        sq_flush(req, NULL, NULL);
        sq_write_str(req, "end");
        sq_finish(req);
    }
}
static const sq_handler gz_handler = {.get = gz_text};
static const sq_route gz_routes[] = {{"/gz", &gz_handler, NULL, NULL}, {NULL}};

/* Inflates a gzip body; returns its length. */
static size_t gunzip(const char *in, size_t len, char *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int r = inflate(&z, Z_FINISH);
    cr_assert_eq(r, Z_STREAM_END, "inflate: %d", r);
    size_t n = z.total_out;
    inflateEnd(&z);
    return n;
}

/* De-chunks a chunked body in place; returns its length. */
static size_t dechunk(const char *body, char *out) {
    size_t n = 0;
    for (;;) {
        unsigned long sz = strtoul(body, NULL, 16);
        body = strstr(body, "\r\n") + 2;
        if (!sz) return n;
        memcpy(out + n, body, sz);
        n += sz;
        body += sz + 2;
    }
}

Test(web, compress_response) {
    sq_app_settings s = {.compress_response = true};
    wapp *w = wapp_start(gz_routes, &s);
    static char buf[65536], plain[65536], want[65536], raw[65536];
    char v[128];
    for (int i = 0; i < 2000; i++) want[i] = "abcdefghij"[i % 10];
    want[2000] = 0;
    cr_assert_eq(wapp_fetch(w, "GET /gz HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, deflate\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(resp_header(buf, "Content-Encoding", v, sizeof v), "gzip");
    cr_assert_str_eq(resp_header(buf, "Vary", v, sizeof v), "Accept-Encoding");
    long clen = atol(resp_header(buf, "Content-Length", v, sizeof v));
    cr_assert(clen > 0 && clen < 200, "%ld", clen);
    const char *body = strstr(buf, "\r\n\r\n") + 4;
    size_t n = gunzip(body, (size_t)clen, plain, sizeof plain);
    cr_assert_eq(n, 2000);
    cr_assert_eq(memcmp(plain, want, 2000), 0);
    /* Not asked for, too small, not compressible, HTTP/1.0: plain, with Vary. */
    cr_assert_eq(wapp_fetch(w, "GET /gz HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_null(resp_header(buf, "Content-Encoding", v, sizeof v));
    cr_assert_str_eq(resp_header(buf, "Vary", v, sizeof v), "Accept-Encoding");
    cr_assert_str_eq(sqt_body(buf), want);
    cr_assert_eq(wapp_fetch(w, "GET /gz?n=1000 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_null(resp_header(buf, "Content-Encoding", v, sizeof v));
    cr_assert_eq(wapp_fetch(w, "GET /gz?type=image/png HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_null(resp_header(buf, "Content-Encoding", v, sizeof v));
    cr_assert_eq(wapp_fetch(w, "GET /gz?type=application/json;%20charset=UTF-8 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(resp_header(buf, "Content-Encoding", v, sizeof v), "gzip");
    int fd = sqt_connect(w->port);
    sqt_send(fd, "GET /gz HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
    sqt_recv_all(fd, buf, sizeof buf);
    close(fd);
    cr_assert_null(resp_header(buf, "Content-Encoding", v, sizeof v));
    /* Flushed in pieces (even small ones): one gzip stream across chunks. */
    cr_assert_eq(wapp_fetch(w, "GET /gz?n=50&flush=1 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(resp_header(buf, "Content-Encoding", v, sizeof v), "gzip");
    cr_assert_str_eq(resp_header(buf, "Transfer-Encoding", v, sizeof v), "chunked");
    n = dechunk(strstr(buf, "\r\n\r\n") + 4, raw);
    n = gunzip(raw, n, plain, sizeof plain);
    plain[n] = 0;
    cr_assert_eq(n, 103);
    cr_assert(strncmp(plain, "abcdefghij", 10) == 0 && strncmp(plain + 50, "0123456789", 10) == 0 &&
              strcmp(plain + 100, "end") == 0, "%s", plain);
    wapp_stop(w);
}
