/* The HTTP/1.1 server end to end: a real server on 127.0.0.1 and raw
 * sockets speaking to it. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/server_internal.h"
#include "sqtest.h"

/* The application used by most tests:
 *   /            "Hello, world"
 *   /echo        the request body
 *   /path...     the path and query as the body
 *   /later       answered 100 ms later from a timer
 *   /stream      three flushed chunks
 *   /badheader   tries to set a header with CR LF
 */
static atomic_int closes_seen;
static atomic_int finish_result;

typedef struct later {
    sq_http_req *req;
    uv_timer_t timer;
    int closed;
} later;

static void later_free(uv_handle_t *h) { free(h->data); }

static void later_fire(uv_timer_t *t) {
    later *l = t->data;
    int r = sq_http_respond(l->req, 200, "text/plain", "later", 5);
    atomic_store(&finish_result, r == 0 ? 1 : (r == SQ_ECLOSED ? 2 : 3));
    t->data = l;
    uv_close((uv_handle_t *)t, later_free);
}

static void later_closed(sq_http_req *req, void *arg) {
    later *l = arg;
    l->closed = 1;
    atomic_fetch_add(&closes_seen, 1);
}

static void app(sq_http_req *req, void *arg) {
    size_t plen;
    const char *path = sq_http_req_path(req, &plen);
    if (plen == 1) {
        sq_http_respond(req, 200, "text/plain", "Hello, world", 12);
    } else if (plen == 5 && !memcmp(path, "/echo", 5)) {
        size_t blen;
        const char *body = sq_http_req_body(req, &blen);
        sq_http_respond(req, 200, "application/octet-stream", body, blen);
    } else if (plen == 6 && !memcmp(path, "/later", 6)) {
        later *l = calloc(1, sizeof *l);
        l->req = req;
        uv_timer_init(sq_loop_uv(sq_http_req_loop(req)), &l->timer);
        l->timer.data = l;
        uv_timer_start(&l->timer, later_fire, 150, 0);
        sq_http_req_on_close(req, later_closed, l);
    } else if (plen == 7 && !memcmp(path, "/stream", 7)) {
        sq_http_write(req, "one,", 4);
        sq_http_flush(req, NULL, NULL);
        sq_http_write(req, "two,", 4);
        sq_http_flush(req, NULL, NULL);
        sq_http_write(req, "three", 5);
        sq_http_finish(req);
    } else if (plen == 10 && !memcmp(path, "/badheader", 10)) {
        int r1 = sq_http_add_header_str(req, "X-Evil", "a\r\nSet-Cookie: x=1");
        int r2 = sq_http_add_header_str(req, "Bad Name", "v");
        int r3 = sq_http_add_header_str(req, "X-Good", "fine");
        char body[64];
        int n = snprintf(body, sizeof body, "%s %s %d", sq_err_name(r1), sq_err_name(r2), r3);
        sq_http_respond(req, 200, "text/plain", body, (size_t)n);
    } else {
        size_t qlen;
        const char *q = sq_http_req_query(req, &qlen);
        char body[512];
        int n = snprintf(body, sizeof body, "%.*s|%.*s", (int)plen, path, (int)qlen, q);
        sq_http_respond(req, 200, "text/plain", body, (size_t)n);
    }
}

static char resp[1 << 16];
static sqt_server *g_server;

static void read_nwrites(void *p) { *(uint64_t *)p = sqt_http(g_server)->nwrites; }

Test(http_server, hello_and_keep_alive) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    for (int i = 0; i < 3; i++) {
        sqt_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
        cr_assert_eq(sqt_status(resp), 200);
        cr_assert_str_eq(sqt_body(resp), "Hello, world");
        cr_assert(strstr(resp, "\r\nContent-Length: 12\r\n"));
        cr_assert(strstr(resp, "\r\nDate: "));
        cr_assert(strstr(resp, "\r\nContent-Type: text/plain\r\n"));
        cr_assert_null(strstr(resp, "Connection: close"));
    }
    close(fd);
    sqt_stop(s);
}

Test(http_server, ipv6) {
    sqt_server *s = sqt_start_on("::1", app, NULL, NULL);
    int fd = sqt_connect_host("::1", sqt_port(s));
    sqt_send(fd, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "Hello, world");
    close(fd);
    sqt_stop(s);
}

Test(http_server, pipelined_in_order_one_write) {
    sqt_server *s = g_server = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    /* Warm up so the connection exists, then send 16 requests at once. */
    sqt_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    uint64_t before = 0, after = 0;
    sqt_run_on_loop(s, read_nwrites, &before);
    char batch[4096] = "";
    for (int i = 0; i < 16; i++) {
        char one[128];
        snprintf(one, sizeof one, "GET /p%d?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i, i);
        strcat(batch, one);
    }
    sqt_send(fd, batch);
    for (int i = 0; i < 16; i++) {
        cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
        char want[64];
        snprintf(want, sizeof want, "/p%d|i=%d", i, i);
        cr_assert_str_eq(sqt_body(resp), want);
    }
    /* All 16 responses went out in one write: the server counts writes. */
    sqt_run_on_loop(s, read_nwrites, &after);
    cr_assert_eq(after - before, 1, "16 pipelined responses took %llu writes",
                 (unsigned long long)(after - before));
    close(fd);
    sqt_stop(s);
}

Test(http_server, http10_closes_unless_keep_alive) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET / HTTP/1.0\r\n\r\n");
    sqt_recv_all(fd, resp, sizeof resp);
    cr_assert_eq(sqt_status(resp), 200);
    cr_assert(strstr(resp, "Connection: close"));
    cr_assert_str_eq(sqt_body(resp), "Hello, world");
    close(fd);

    fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert(strstr(resp, "Connection: keep-alive"));
    sqt_send(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "Hello, world");
    close(fd);
    sqt_stop(s);
}

Test(http_server, connection_close_header) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    sqt_recv_all(fd, resp, sizeof resp);
    cr_assert_eq(sqt_status(resp), 200);
    cr_assert(strstr(resp, "Connection: close"));
    close(fd);
    sqt_stop(s);
}

Test(http_server, head_has_length_but_no_body) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 1), 0);
    cr_assert(strstr(resp, "Content-Length: 12\r\n"));
    cr_assert_str_eq(sqt_body(resp), "");
    /* The next response starts right after the head: no body was sent. */
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "Hello, world");
    close(fd);
    sqt_stop(s);
}

Test(http_server, post_body_and_expect_continue) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "hello");

    sqt_send(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_eq(sqt_status(resp), 100);
    sqt_send(fd, "goodbye");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_eq(sqt_status(resp), 200);
    cr_assert_str_eq(sqt_body(resp), "goodbye");
    close(fd);
    sqt_stop(s);
}

Test(http_server, chunked_request_body_split_across_reads) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    usleep(50 * 1000);
    sqt_send(fd, "lo\r\n6;ext=1\r\n, worl\r\n");
    usleep(50 * 1000);
    sqt_send(fd, "1\r\nd\r\n0\r\nX-Trailer: t\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "hello, world");
    close(fd);
    sqt_stop(s);
}

Test(http_server, head_split_at_every_byte) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    const char *req = "GET /slow?x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
    for (size_t i = 0; req[i]; i++) {
        sqt_sendn(fd, req + i, 1);
        usleep(2000);
    }
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "/slow|x=1");
    close(fd);
    sqt_stop(s);
}

static void expect_error(sqt_server *s, const char *req, int status) {
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, req);
    size_t n = sqt_recv_all(fd, resp, sizeof resp);
    if (status == 0) {
        cr_assert_eq(n, 0, "expected a bare close for %s, got %s", req, resp);
    } else {
        cr_assert_eq(sqt_status(resp), status, "for %s got %s", req, resp);
        cr_assert(strstr(resp, "Connection: close"));
    }
    close(fd);
}

Test(http_server, bad_input_gets_the_right_status_then_close) {
    sq_http_server_config cfg;
    sq_http_server_config_init(&cfg);
    cfg.max_body_size = 1000;
    cfg.max_head_size = 4096;
    cfg.max_line_size = 1024;
    sqt_server *s = sqt_start(app, NULL, &cfg);
    expect_error(s, "GET / HTTP/1.1\nHost: x\n\n", 400);
    expect_error(s, "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400);
    expect_error(s, "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
    expect_error(s, "GET / HTTP/1.1\r\n\r\n", 400);
    expect_error(s, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    expect_error(s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    expect_error(s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400);
    expect_error(s, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", 400);
    expect_error(s, "FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501);
    expect_error(s, "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
    expect_error(s, "GET /\r\n\r\n", 400);
    expect_error(s, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0);
    expect_error(s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", 413);
    char big[8192];
    snprintf(big, sizeof big, "GET /%01500d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    expect_error(s, big, 414);
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: x\r\nX: %05000d\r\n\r\n", 0);
    expect_error(s, big, 431);
    /* Chunked bodies count against the limit too. */
    expect_error(s, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3e9\r\n", 413);
    sqt_stop(s);
}

Test(http_server, too_many_headers_is_431) {
    sq_http_server_config cfg;
    sq_http_server_config_init(&cfg);
    cfg.max_headers = 5;
    sqt_server *s = sqt_start(app, NULL, &cfg);
    expect_error(s, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431);
    sqt_stop(s);
}

Test(http_server, app_cannot_send_crlf_in_headers) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET /badheader HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "EHEADER EHEADER 0");
    cr_assert_null(strstr(resp, "Set-Cookie"));
    cr_assert(strstr(resp, "X-Good: fine\r\n"));
    close(fd);
    sqt_stop(s);
}

Test(http_server, streamed_response_is_chunked) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert(strstr(resp, "Transfer-Encoding: chunked\r\n"));
    cr_assert_str_eq(sqt_body(resp), "4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n");
    /* The connection is still usable. */
    sqt_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "Hello, world");
    close(fd);

    /* HTTP/1.0 has no chunked coding: the body ends with the connection. */
    fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET /stream HTTP/1.0\r\n\r\n");
    sqt_recv_all(fd, resp, sizeof resp);
    cr_assert_str_eq(sqt_body(resp), "one,two,three");
    close(fd);
    sqt_stop(s);
}

Test(http_server, async_response_and_pipelined_request_behind_it) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    int fd2 = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    /* Another connection is served while the first waits. */
    sqt_send(fd2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd2, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "Hello, world");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "later");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "/after|");
    cr_assert_eq(atomic_load(&finish_result), 1);
    close(fd);
    close(fd2);
    sqt_stop(s);
}

Test(http_server, client_disconnect_while_waiting_is_safe) {
    atomic_store(&closes_seen, 0);
    atomic_store(&finish_result, 0);
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(20 * 1000);
    close(fd);
    /* The timer fires after the disconnect and finishes the orphaned request. */
    for (int i = 0; i < 100 && atomic_load(&finish_result) == 0; i++) usleep(10 * 1000);
    cr_assert_eq(atomic_load(&closes_seen), 1);
    cr_assert_eq(atomic_load(&finish_result), 2, "finish after disconnect returns SQ_ECLOSED");
    cr_assert_eq(sq_http_server_connections(sqt_http(s)), 0);
    sqt_stop(s);
}

Test(http_server, header_timeout_sends_408) {
    sq_http_server_config cfg;
    sq_http_server_config_init(&cfg);
    cfg.header_timeout_ms = 200;
    sqt_server *s = sqt_start(app, NULL, &cfg);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET / HTTP/1.1\r\nHost:");
    sqt_recv_all(fd, resp, sizeof resp);
    cr_assert_eq(sqt_status(resp), 408);
    close(fd);
    /* A connection that never sent anything is closed without a word. */
    fd = sqt_connect(sqt_port(s));
    cr_assert_eq(sqt_recv_all(fd, resp, sizeof resp), 0);
    close(fd);
    sqt_stop(s);
}

Test(http_server, idle_timeout_closes_keep_alive) {
    sq_http_server_config cfg;
    sq_http_server_config_init(&cfg);
    cfg.idle_timeout_ms = 200;
    sqt_server *s = sqt_start(app, NULL, &cfg);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert(sqt_peer_closed(fd, 3000));
    close(fd);
    sqt_stop(s);
}

typedef struct {
    sqt_server *s;
    size_t in_cap, out_cap;
    int list;
} idle_probe;

static void probe_idle(void *p) {
    idle_probe *ip = p;
    sq_conn *c = sqt_http(ip->s)->lists[SQ_LIST_IDLE].first;
    ip->list = c ? c->list : -1;
    ip->in_cap = c ? c->in_cap : 999;
    ip->out_cap = c ? c->out.cap : 999;
}

Test(http_server, idle_connection_keeps_no_buffers) {
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    /* A head split in two reads, then an answer: the partial-head buffer and
     * the output buffer are both gone once the connection is idle. */
    sqt_send(fd, "GET / HTTP/1.1\r\nHo");
    usleep(30 * 1000);
    sqt_send(fd, "st: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    usleep(30 * 1000);
    idle_probe ip = {.s = s};
    sqt_run_on_loop(s, probe_idle, &ip);
    cr_assert_eq(ip.list, SQ_LIST_IDLE);
    cr_assert_eq(ip.in_cap, 0);
    cr_assert_eq(ip.out_cap, 0);
    cr_assert_leq(sizeof(sq_conn), 512, "sq_conn is %zu bytes", sizeof(sq_conn));
    close(fd);
    sqt_stop(s);
}

Test(http_server, connection_cap_defers_accept) {
    sq_http_server_config cfg;
    sq_http_server_config_init(&cfg);
    cfg.max_connections = 2;
    sqt_server *s = sqt_start(app, NULL, &cfg);
    int a = sqt_connect(sqt_port(s));
    int b = sqt_connect(sqt_port(s));
    sqt_send(a, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(a, resp, sizeof resp, 0), 0);
    sqt_send(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(b, resp, sizeof resp, 0), 0);
    /* The third waits in the backlog: no answer until one closes. */
    int c = sqt_connect(sqt_port(s));
    sqt_send(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(sqt_peer_closed(c, 300), 0);
    cr_assert_eq(sq_http_server_connections(sqt_http(s)), 2);
    close(a);
    cr_assert_gt(sqt_recv_response(c, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "Hello, world");
    close(b);
    close(c);
    sqt_stop(s);
}

static atomic_int shutdown_done;
static void on_drained(sq_http_server *srv, void *arg) { atomic_store(&shutdown_done, 1); }
static void start_shutdown(void *p) {
    sqt_server *s = p;
    cr_assert_eq(sq_http_server_shutdown(sqt_http(s), 5000, on_drained, NULL), 0);
}

Test(http_server, graceful_shutdown_finishes_in_flight) {
    atomic_store(&shutdown_done, 0);
    sqt_server *s = sqt_start(app, NULL, NULL);
    int idle = sqt_connect(sqt_port(s));
    sqt_send(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(idle, resp, sizeof resp, 0), 0);
    int busy = sqt_connect(sqt_port(s));
    sqt_send(busy, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(30 * 1000);
    sqt_run_on_loop(s, start_shutdown, s);
    /* The idle connection closes at once; the busy one gets its answer with
     * Connection: close. */
    cr_assert(sqt_peer_closed(idle, 2000));
    cr_assert_gt(sqt_recv_response(busy, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "later");
    cr_assert(strstr(resp, "Connection: close"));
    cr_assert(sqt_peer_closed(busy, 2000));
    for (int i = 0; i < 200 && !atomic_load(&shutdown_done); i++) usleep(10 * 1000);
    cr_assert_eq(atomic_load(&shutdown_done), 1);
    close(idle);
    close(busy);
    sqt_stop(s);
}

/* ---- head callback and streamed request bodies ---- */

typedef struct {
    size_t total;
    unsigned pieces;
} stream_acc;

static void on_piece(sq_http_req *req, const char *data, size_t len, void *arg) {
    stream_acc *acc = arg;
    acc->total += len;
    acc->pieces++;
}

static void head_app(sq_http_req *req, void *arg) {
    size_t plen;
    const char *path = sq_http_req_path(req, &plen);
    if (plen == 7 && !memcmp(path, "/denied", 7)) {
        /* Answer before the body: the connection must close after it. */
        sq_http_respond(req, 401, "text/plain", "no", 2);
    } else if (plen == 7 && !memcmp(path, "/stream", 7)) {
        stream_acc *acc = calloc(1, sizeof *acc);
        sq_http_req_set_data(req, acc);
        cr_assert_eq(sq_http_req_set_max_body(req, 1 << 20), 0);
        cr_assert_eq(sq_http_req_stream_body(req, on_piece, acc), 0);
    }
}

static void body_app(sq_http_req *req, void *arg) {
    stream_acc *acc = sq_http_req_get_data(req);
    char out[64];
    int n;
    if (acc) {
        cr_assert_null(sq_http_req_body(req, NULL));
        n = snprintf(out, sizeof out, "%zu bytes", acc->total);
        free(acc);
    } else {
        size_t len;
        sq_http_req_body(req, &len);
        n = snprintf(out, sizeof out, "buffered %zu", len);
    }
    sq_http_respond(req, 200, "text/plain", out, (size_t)n);
}

static void set_head_cb(void *p) { sq_http_server_set_head_cb(sqt_http(p), head_app); }

Test(http_server, head_callback_streams_and_limits_bodies) {
    sq_http_server_config cfg;
    sq_http_server_config_init(&cfg);
    cfg.max_body_size = 100;
    sqt_server *s = sqt_start(body_app, NULL, &cfg);
    sqt_run_on_loop(s, set_head_cb, s);

    /* A streamed body larger than the server's limit, allowed by the route. */
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 5; i++) {
        sqt_sendn(fd, chunk, sizeof chunk);
        usleep(5000);
    }
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "5000 bytes");
    /* Chunked too, on the same connection. */
    sqt_send(fd, "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3e8\r\n");
    sqt_sendn(fd, chunk, sizeof chunk);
    sqt_send(fd, "\r\n0\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "1000 bytes");
    /* Other routes keep the server's limit. */
    sqt_send(fd, "POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n");
    sqt_sendn(fd, chunk, 50);
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_str_eq(sqt_body(resp), "buffered 50");
    close(fd);
    expect_error(s, "POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413);

    /* Answered in the head callback with a body announced: close after. */
    fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "POST /denied HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
    sqt_recv_all(fd, resp, sizeof resp);
    cr_assert_eq(sqt_status(resp), 401);
    cr_assert(strstr(resp, "Connection: close"));
    cr_assert_str_eq(sqt_body(resp), "no");
    close(fd);
    sqt_stop(s);
}

/* ---- upgraded connections ---- */

static atomic_int stream_closed, stream_shutdown;

static void echo_read(sq_stream *s, char *data, size_t len, void *arg) {
    if (len >= 4 && !memcmp(data, "quit", 4)) {
        sq_stream_write(s, "bye", 3);
        sq_stream_close(s);
        return;
    }
    for (size_t i = 0; i < len; i++)
        if (data[i] >= 'a' && data[i] <= 'z') data[i] = (char)(data[i] - 32);
    cr_assert_eq(sq_stream_write(s, data, len), 0);
}
static void echo_close(sq_stream *s, void *arg) { atomic_fetch_add(&stream_closed, 1); }
static void echo_shutdown(sq_stream *s, void *arg) {
    atomic_fetch_add(&stream_shutdown, 1);
    sq_stream_write(s, "going away", 10);
    sq_stream_close(s);
}
static const sq_stream_cbs echo_cbs = {
    .on_read = echo_read, .on_close = echo_close, .on_shutdown = echo_shutdown};

static void upgrade_app(sq_http_req *req, void *arg) {
    if (!(sq_http_req_head(req)->flags & SQ_HTTP_F_UPGRADE)) {
        sq_http_respond(req, 426, "text/plain", "upgrade", 7);
        return;
    }
    sq_http_set_status(req, 101, NULL);
    sq_http_add_header_str(req, "Upgrade", "shout");
    sq_http_add_header_str(req, "Connection", "Upgrade");
    cr_assert_not_null(sq_http_upgrade(req, &echo_cbs, NULL));
}

static const char upgrade_req[] =
    "GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\n";

Test(http_server, upgrade_hands_over_the_connection) {
    atomic_store(&stream_closed, 0);
    sqt_server *s = sqt_start(upgrade_app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    /* Protocol bytes right behind the head are not lost. */
    char first[256];
    snprintf(first, sizeof first, "%shello", upgrade_req);
    sqt_send(fd, first);
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 1), 0);
    cr_assert_eq(sqt_status(resp), 101);
    cr_assert(strstr(resp, "Upgrade: shout\r\n"));
    cr_assert_null(strstr(resp, "Content-Length"));
    cr_assert_null(strstr(resp, "Transfer-Encoding"));
    char buf[64] = {0};
    size_t got = 0;
    while (got < 5) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        cr_assert_gt(n, 0);
        got += (size_t)n;
    }
    cr_assert_str_eq(buf, "HELLO");
    sqt_send(fd, "again");
    memset(buf, 0, sizeof buf);
    cr_assert_eq(recv(fd, buf, 5, MSG_WAITALL), 5);
    cr_assert_str_eq(buf, "AGAIN");
    /* The protocol closes gracefully: its last bytes arrive, then EOF. */
    sqt_send(fd, "quit");
    size_t n = sqt_recv_all(fd, resp, sizeof resp);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(resp, "bye");
    /* The server lingers until the client closes too, then on_close runs. */
    close(fd);
    for (int i = 0; i < 100 && atomic_load(&stream_closed) == 0; i++) usleep(10000);
    cr_assert_eq(atomic_load(&stream_closed), 1);

    /* A plain request still gets HTTP. */
    fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_eq(sqt_status(resp), 426);
    close(fd);
    sqt_stop(s);
}

static void shutdown_now(void *p) {
    sq_http_server_shutdown(sqt_http(p), 2000, NULL, NULL);
}

Test(http_server, upgraded_streams_on_shutdown_and_close) {
    atomic_store(&stream_closed, 0);
    atomic_store(&stream_shutdown, 0);
    sqt_server *s = sqt_start(upgrade_app, NULL, NULL);
    int a = sqt_connect(sqt_port(s));
    int b = sqt_connect(sqt_port(s));
    sqt_send(a, upgrade_req);
    sqt_send(b, upgrade_req);
    cr_assert_gt(sqt_recv_response(a, resp, sizeof resp, 1), 0);
    cr_assert_gt(sqt_recv_response(b, resp, sizeof resp, 1), 0);
    /* A peer that leaves is seen. */
    close(b);
    for (int i = 0; i < 100 && atomic_load(&stream_closed) == 0; i++) usleep(10000);
    cr_assert_eq(atomic_load(&stream_closed), 1);
    /* A graceful shutdown asks the protocol to say goodbye. */
    sqt_run_on_loop(s, shutdown_now, s);
    cr_assert_eq(sqt_recv_all(a, resp, sizeof resp), 10);
    cr_assert_str_eq(resp, "going away");
    cr_assert_eq(atomic_load(&stream_shutdown), 1);
    close(a);
    for (int i = 0; i < 100 && atomic_load(&stream_closed) < 2; i++) usleep(10000);
    cr_assert_eq(atomic_load(&stream_closed), 2);
    sqt_stop(s);
}

/* Regression: a flush callback that learns of the disconnect and finishes
 * the request must not be followed by the close callback on the released
 * request. */
static atomic_int big_flush_status, big_close_calls;

static void big_closed(sq_http_req *req, void *arg) { atomic_fetch_add(&big_close_calls, 1); }

static void big_flushed(sq_http_req *req, int status, void *arg) {
    atomic_store(&big_flush_status, status == 0 ? 1 : 2);
    sq_http_finish(req);
}

static void big_app(sq_http_req *req, void *arg) {
    static char chunk[1 << 20];
    sq_http_req_on_close(req, big_closed, NULL);
    for (int i = 0; i < 16; i++) sq_http_write(req, chunk, sizeof chunk);
    cr_assert_eq(sq_http_flush(req, big_flushed, NULL), 0);
}

Test(http_server, flush_callback_finishing_on_disconnect) {
    atomic_store(&big_flush_status, 0);
    atomic_store(&big_close_calls, 0);
    sqt_server *s = sqt_start(big_app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /* 16 MiB cannot all go into the socket while nobody reads: leave. */
    char buf[4096];
    cr_assert_gt(recv(fd, buf, sizeof buf, 0), 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* RST */
    close(fd);
    for (int i = 0; i < 300 && atomic_load(&big_flush_status) == 0; i++) usleep(10000);
    cr_assert_eq(atomic_load(&big_flush_status), 2, "the flush reports the dead connection");
    usleep(50000);
    cr_assert_eq(atomic_load(&big_close_calls), 0, "no close callback after finish");
    cr_assert_eq(sq_http_server_connections(sqt_http(s)), 0);
    sqt_stop(s);
}

/* Regression: the same while the server itself closes (released requests
 * are freed, not recycled, then): nothing may read the finished request. */
Test(http_server, flush_callback_finishing_when_the_server_closes) {
    atomic_store(&big_flush_status, 0);
    atomic_store(&big_close_calls, 0);
    sqt_server *s = sqt_start(big_app, NULL, NULL);
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[4096];
    cr_assert_gt(recv(fd, buf, sizeof buf, 0), 0);
    sqt_stop(s); /* closes the connection under the pending flush */
    cr_assert_eq(atomic_load(&big_flush_status), 2);
    cr_assert_eq(atomic_load(&big_close_calls), 0);
    close(fd);
}
