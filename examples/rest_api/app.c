/* rest_api: a JSON API over an in-memory store.
 *
 *   GET  /api/users        the list      {"users": [...]}
 *   GET  /api/users/(\d+)  one user      {"id": 1, "name": "ann"}, or 404
 *   POST /api/users        {"name": ...} 201 with Location: /api/users/N
 *
 * Every request needs "Authorization: Bearer <token>" (401 otherwise),
 * checked in prepare() before the verb runs; every error is answered in
 * JSON by write_error; on_finish logs the method, URI, status and time. */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-request state, zeroed, in the request's arena. */
typedef struct api_req {
    rest_api *api;
    const char *error; /* a message for write_error, or NULL */
} api_req;

static void api_initialize(sq_req *req, void *route_data) {
    ((api_req *)sq_req_state(req))->api = route_data;
}

/* Answers status with a JSON message through write_error. */
static void fail(sq_req *req, int status, const char *message) {
    ((api_req *)sq_req_state(req))->error = message;
    sq_send_error(req, status, NULL);
}

static void api_prepare(sq_req *req) {
    api_req *s = sq_req_state(req);
    const char *auth = sq_req_header(req, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || strcmp(auth + 7, s->api->token) != 0)
        fail(req, 401, auth ? "invalid token" : "missing Authorization: Bearer token");
    /* Finishing here skips the verb. */
}

static void api_write_error(sq_req *req, int status) {
    api_req *s = sq_req_state(req);
    if (status == 401) sq_set_header(req, "WWW-Authenticate", "Bearer");
    json_t *err = json_pack("{s:{s:i, s:s}}", "error", "code", status, "message",
                            s->error ? s->error : sq_http_reason(status));
    sq_write_json(req, err);
    json_decref(err);
}

static void api_on_finish(sq_req *req) {
    api_req *s = sq_req_state(req);
    char line[512];
    snprintf(line, sizeof line, "%s %s %d %.2fms", sq_req_method(req), sq_req_uri(req),
             sq_get_status(req), sq_req_time(req) * 1000.0);
    if (s->api->log)
        s->api->log(line, s->api->log_arg);
    else
        fprintf(stderr, "rest_api: %s\n", line);
}

static void user_get(sq_req *req) {
    api_req *s = sq_req_state(req);
    json_t *user = json_object_get(s->api->users, sq_path_arg(req, 1));
    if (!user) {
        fail(req, 404, "no such user");
        return;
    }
    sq_write_json(req, user);
}

static void users_get(sq_req *req) {
    api_req *s = sq_req_state(req);
    json_t *list = json_array();
    for (long id = 1; id < s->api->next_id; id++) {
        char key[24];
        snprintf(key, sizeof key, "%ld", id);
        json_t *user = json_object_get(s->api->users, key);
        if (user) json_array_append(list, user);
    }
    json_t *out = json_pack("{s:o}", "users", list);
    sq_write_json(req, out);
    json_decref(out);
}

static json_t *add_user(rest_api *api, const char *name) {
    long id = api->next_id++;
    char key[24];
    snprintf(key, sizeof key, "%ld", id);
    json_t *user = json_pack("{s:i, s:s}", "id", (json_int_t)id, "name", name);
    if (user) json_object_set_new(api->users, key, user);
    return user;
}

static void users_post(sq_req *req) {
    api_req *s = sq_req_state(req);
    json_t *body = sq_get_json(req); /* 400 through write_error on bad JSON */
    if (!body) return;
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!name || !*name || strlen(name) > 100) {
        fail(req, 400, "name must be a string of 1 to 100 bytes");
        return;
    }
    json_t *user = add_user(s->api, name);
    if (!user) {
        fail(req, 500, NULL);
        return;
    }
    char location[64];
    snprintf(location, sizeof location, "/api/users/%lld",
             (long long)json_integer_value(json_object_get(user, "id")));
    sq_set_status(req, 201, NULL);
    sq_set_header(req, "Location", location);
    sq_write_json(req, user);
}

static const sq_handler user_handler = {
    .state_size = sizeof(api_req),
    .initialize = api_initialize,
    .prepare = api_prepare,
    .get = user_get,
    .on_finish = api_on_finish,
    .write_error = api_write_error,
};

static const sq_handler users_handler = {
    .state_size = sizeof(api_req),
    .initialize = api_initialize,
    .prepare = api_prepare,
    .get = users_get,
    .post = users_post,
    .on_finish = api_on_finish,
    .write_error = api_write_error,
};

int rest_api_init(rest_api *api, const char *token) {
    memset(api, 0, sizeof *api);
    api->token = token;
    api->next_id = 1;
    api->users = json_object();
    if (!api->users || !add_user(api, "ann") || !add_user(api, "bob")) {
        json_decref(api->users);
        return SQ_ENOMEM;
    }
    return 0;
}

void rest_api_free(rest_api *api) {
    json_decref(api->users);
    api->users = NULL;
}

sq_app *rest_api_app_new(sq_loop *loop, rest_api *api) {
    /* The table lives in api, which outlives the app, and hands api to
     * every handler's initialize (Tornado's dict of initialize kwargs). */
    api->routes[0] = (sq_route){
        .pattern = "/api/users/(\\d+)", .handler = &user_handler, .data = api, .name = "user"};
    api->routes[1] = (sq_route){.pattern = "/api/users", .handler = &users_handler, .data = api};
    api->routes[2] = (sq_route){.pattern = NULL};
    return sq_app_new(loop, api->routes, NULL);
}
