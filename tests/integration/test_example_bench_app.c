/* examples/bench_app, in-process through the harness: each route answers
 * what its Tornado twin (bench/peers) answers. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../examples/bench_app/app.c"

static sq_test *t;

static sq_app *make_app(sq_loop *loop, void *arg) { return bench_app_new(loop); }

static void setup(void) {
    t = sq_test_start(make_app, NULL);
    cr_assert_not_null(t);
}

static void teardown(void) { cr_assert_eq(sq_test_free(t), 0); }

TestSuite(bench_app, .init = setup, .fini = teardown);

static void expect(const char *path, int status, const char *type, const char *body) {
    sq_test_response *r = sq_test_get(t, path);
    cr_assert_eq(r->status, status, "%s: %d %s", path, r->status, r->error_message);
    if (type) cr_assert_str_eq(sq_test_header_get(r, "Content-Type"), type);
    if (body) cr_assert_str_eq(r->body, body, "%s", path);
}

Test(bench_app, routes) {
    expect("/", 200, "text/html; charset=UTF-8", "Hello, world");
    expect("/json", 200, "application/json; charset=UTF-8", "{\"message\": \"Hello, World!\"}");
    expect("/api/users/42", 200, "application/json; charset=UTF-8",
           "{\"id\": 42, \"name\": \"user42\"}");
    expect("/api/users/007", 200, NULL, "{\"id\": 7, \"name\": \"user7\"}");
    expect("/api/users/0", 200, NULL, "{\"id\": 0, \"name\": \"user0\"}");
    expect("/api/users/1234567890123456789", 404, NULL, NULL);
    expect("/api/users/x", 404, NULL, NULL);
    expect("/api/users/", 404, NULL, NULL);
}

Test(bench_app, keep_alive_pipelined) {
    sq_test_conn *c = sq_test_connect(t);
    cr_assert_not_null(c);
    cr_assert_eq(sq_test_conn_send_str(c, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
                                          "GET /api/users/5 HTTP/1.1\r\nHost: x\r\n\r\n"),
                 0);
    cr_assert_str_eq(sq_test_conn_recv_response(c, false)->body,
                     "{\"message\": \"Hello, World!\"}");
    cr_assert_str_eq(sq_test_conn_recv_response(c, false)->body,
                     "{\"id\": 5, \"name\": \"user5\"}");
}
