/* A complete test of a small app with squall's harness and Criterion.
 * Build: cc test_app.c $(pkg-config --cflags --libs squall) -lcriterion */
#include <criterion/criterion.h>
#include <squall.h>
#include <stdlib.h>
#include <string.h>

/* ---- the app under test (in a real project: its own file) ---- */

static void hello_get(sq_req *req) { sq_write_str(req, "Hello, world"); }

static void user_get(sq_req *req) {
    long id = strtol(sq_path_arg(req, 1), NULL, 10);
    if (id != 7) {
        sq_send_error(req, 404, NULL);
        return;
    }
    json_t *user = json_pack("{s:i, s:s}", "id", 7, "name", "ann");
    sq_write_json(req, user);
    json_decref(user);
}

static void user_post(sq_req *req) {
    json_t *body = sq_get_json(req); /* answers 400 itself on bad JSON */
    if (!body) return;
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!name) {
        sq_send_error(req, 400, "name missing");
        return;
    }
    sq_set_status(req, 201, NULL);
    sq_set_header(req, "Location", "/api/users/8");
    sq_writef(req, "created %s", name);
}

/* Waits forever: a bug the harness's deadline catches. */
static void slow_get(sq_req *req) { sq_finish_later(req); }
static void slow_closed(sq_req *req) { sq_finish(req); }

static const sq_handler hello = {.get = hello_get, .head = hello_get};
static const sq_handler users = {.get = user_get, .post = user_post};
static const sq_handler slow = {.get = slow_get, .on_connection_close = slow_closed};

/* Tornado's get_app(): builds the app on the loop the harness made. */
static sq_app *make_app(sq_loop *loop, void *arg) {
    static const sq_route routes[] = {
        {.pattern = "/", .handler = &hello},
        {.pattern = "/api/users/(\\d+)", .handler = &users},
        {.pattern = "/slow", .handler = &slow},
        {.pattern = NULL},
    };
    return sq_app_new(loop, routes, NULL);
}

/* ---- the tests ---- */

static sq_test *t;

static void start(void) {
    t = sq_test_start(make_app, NULL); /* 127.0.0.1, a free port */
    cr_assert_not_null(t);
}

static void stop(void) { cr_assert_eq(sq_test_free(t), 0); }

TestSuite(app, .init = start, .fini = stop);

Test(app, hello) {
    sq_test_response *r = sq_test_get(t, "/");
    cr_assert_eq(r->error, 0, "%s", r->error_message);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(r->body, "Hello, world");
    cr_assert_str_eq(sq_test_header_get(r, "content-type"), "text/html; charset=UTF-8");
}

Test(app, json_user) {
    sq_test_response *r = sq_test_get(t, "/api/users/7");
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(r->body, "{\"id\": 7, \"name\": \"ann\"}");
    cr_assert_eq(sq_test_get(t, "/api/users/8")->status, 404);
}

Test(app, post_json) {
    const char *headers[] = {"Content-Type: application/json", NULL};
    const char *body = "{\"name\": \"bob\"}";
    sq_test_response *r = sq_test_fetch(t, "POST", "/api/users/0", headers, body, strlen(body));
    cr_assert_eq(r->status, 201);
    cr_assert_str_eq(sq_test_header_get(r, "Location"), "/api/users/8");
    cr_assert_str_eq(r->body, "created bob");
    r = sq_test_fetch(t, "POST", "/api/users/0", headers, "{oops", 5);
    cr_assert_eq(r->status, 400);
}

Test(app, head_has_headers_only) {
    sq_test_response *r = sq_test_fetch(t, "HEAD", "/", NULL, NULL, 0);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(sq_test_header_get(r, "Content-Length"), "12");
    cr_assert_eq(r->body_len, 0);
}

Test(app, hung_handler_fails_instead_of_hanging) {
    sq_test_set_timeout(t, 200); /* default 5 s, or SQ_TEST_TIMEOUT seconds */
    sq_test_response *r = sq_test_get(t, "/slow");
    cr_assert_eq(r->error, SQ_ETIMEDOUT);
    cr_assert_eq(r->status, 0);
}

Test(app, raw_bytes) {
    sq_test_conn *c = sq_test_connect(t);
    cr_assert_not_null(c);
    sq_test_conn_send_str(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /api/users/7 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_str_eq(sq_test_conn_recv_response(c, false)->body, "Hello, world");
    cr_assert_eq(sq_test_conn_recv_response(c, false)->status, 200);
    sq_test_conn_send_str(c, "BREW / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_str_eq(sq_test_conn_recv_until(c, "\r\n", NULL), "HTTP/1.1 501 Not Implemented\r\n");
    cr_assert(sq_test_conn_wait_closed(c, 0));
}
