/* examples/rest_api, in-process through the harness: its app.c is compiled
 * into this test, as a user would test their own app. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../examples/rest_api/app.c"

static rest_api api;
static sq_test *t;
static char logbuf[4096];

static void capture(const char *line, void *arg) {
    strncat(logbuf, line, sizeof logbuf - strlen(logbuf) - 2);
    strcat(logbuf, "\n");
}

static sq_app *make_app(sq_loop *loop, void *arg) { return rest_api_app_new(loop, arg); }

static void setup(void) {
    logbuf[0] = '\0';
    cr_assert_eq(rest_api_init(&api, "tok"), 0);
    api.log = capture;
    t = sq_test_start(make_app, &api);
    cr_assert_not_null(t);
}

static void teardown(void) {
    cr_assert_eq(sq_test_free(t), 0);
    rest_api_free(&api);
}

TestSuite(rest_api, .init = setup, .fini = teardown);

static const char *auth[] = {"Authorization: Bearer tok", NULL};

static json_t *body_json(const sq_test_response *r) {
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    cr_assert_not_null(j, "not JSON: %s", r->body);
    return j;
}

Test(rest_api, get_user) {
    sq_test_response *r = sq_test_fetch(t, "GET", "/api/users/1", auth, NULL, 0);
    cr_assert_eq(r->status, 200, "%d %s", r->status, r->error_message);
    cr_assert_str_eq(r->body, "{\"id\": 1, \"name\": \"ann\"}");
    cr_assert_str_eq(sq_test_header_get(r, "Content-Type"), "application/json; charset=UTF-8");
}

Test(rest_api, missing_or_wrong_token_is_401_json) {
    sq_test_response *r = sq_test_get(t, "/api/users/1");
    cr_assert_eq(r->status, 401);
    cr_assert_str_eq(sq_test_header_get(r, "Content-Type"), "application/json; charset=UTF-8");
    cr_assert_str_eq(sq_test_header_get(r, "WWW-Authenticate"), "Bearer");
    json_t *j = body_json(r);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "error"), "code")), 401);
    json_decref(j);
    const char *wrong[] = {"Authorization: Bearer nope", NULL};
    r = sq_test_fetch(t, "GET", "/api/users/1", wrong, NULL, 0);
    cr_assert_eq(r->status, 401);
    cr_assert(strstr(r->body, "invalid token"), "%s", r->body);
    /* prepare finished the request: the verb never ran, nothing was created. */
    r = sq_test_fetch(t, "POST", "/api/users", wrong, "{\"name\": \"x\"}", 13);
    cr_assert_eq(r->status, 401);
    cr_assert_eq(api.next_id, 3);
}

Test(rest_api, unknown_user_is_404_json) {
    sq_test_response *r = sq_test_fetch(t, "GET", "/api/users/99", auth, NULL, 0);
    cr_assert_eq(r->status, 404);
    cr_assert_str_eq(r->body, "{\"error\": {\"code\": 404, \"message\": \"no such user\"}}");
}

Test(rest_api, post_creates_with_201_and_location) {
    const char *hdrs[] = {"Authorization: Bearer tok", "Content-Type: application/json", NULL};
    const char *body = "{\"name\": \"cy\"}";
    sq_test_response *r = sq_test_fetch(t, "POST", "/api/users", hdrs, body, strlen(body));
    cr_assert_eq(r->status, 201, "%d %s", r->status, r->body);
    cr_assert_str_eq(sq_test_header_get(r, "Location"), "/api/users/3");
    cr_assert_str_eq(r->body, "{\"id\": 3, \"name\": \"cy\"}");
    r = sq_test_fetch(t, "GET", "/api/users/3", auth, NULL, 0);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(r->body, "{\"id\": 3, \"name\": \"cy\"}");
    r = sq_test_fetch(t, "GET", "/api/users", auth, NULL, 0);
    cr_assert(strstr(r->body, "\"cy\""), "%s", r->body);
}

Test(rest_api, bad_bodies_are_400_json) {
    sq_test_response *r = sq_test_fetch(t, "POST", "/api/users", auth, "{oops", 5);
    cr_assert_eq(r->status, 400);
    cr_assert_str_eq(sq_test_header_get(r, "Content-Type"), "application/json; charset=UTF-8");
    r = sq_test_fetch(t, "POST", "/api/users", auth, "{\"name\": 5}", 11);
    cr_assert_eq(r->status, 400);
    cr_assert(strstr(r->body, "name must be"), "%s", r->body);
    r = sq_test_fetch(t, "DELETE", "/api/users/1", auth, NULL, 0);
    cr_assert_eq(r->status, 405);
}

Test(rest_api, on_finish_logs_method_uri_status_time) {
    sq_test_fetch(t, "GET", "/api/users/1?x=1", auth, NULL, 0);
    sq_test_get(t, "/api/users/2");
    cr_assert(strstr(logbuf, "GET /api/users/1?x=1 200 ") != NULL, "%s", logbuf);
    cr_assert(strstr(logbuf, "GET /api/users/2 401 ") != NULL, "%s", logbuf);
    cr_assert(strstr(logbuf, "ms\n") != NULL, "%s", logbuf);
}
