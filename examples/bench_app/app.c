/* bench_app: three routes, each answering what its Tornado twin answers
 * byte for byte (Tornado's write() of a dict formats JSON as below):
 *
 *   GET /                  Hello, world            (text/html, as Tornado's default)
 *   GET /json              {"message": "Hello, World!"}
 *   GET /api/users/(\d+)   {"id": 42, "name": "user42"}
 *
 * The JSON is formatted straight into the response (sq_write_json_str)
 * rather than built as a jansson object: it is fixed in shape, and this is
 * the hot path the benchmark measures. */
#include "app.h"

#include <string.h>

static void hello_get(sq_req *req) { sq_write(req, "Hello, world", 12); }

static void json_get(sq_req *req) { sq_write_json_str(req, "{\"message\": \"Hello, World!\"}"); }

static void user_get(sq_req *req) {
    const char *id = sq_path_arg(req, 1);
    /* Leading zeros and very long ids are served as Tornado's int() would
     * print them: without the zeros, and 404 beyond 18 digits. */
    while (id[0] == '0' && id[1])
        id++;
    if (strlen(id) > 18) {
        sq_send_error(req, 404, NULL);
        return;
    }
    /* {"id": ID, "name": "userID"} by hand: snprintf alone would cost a
     * quarter of the request. */
    size_t n = strlen(id);
    char out[96], *p = out;
    memcpy(p, "{\"id\": ", 7), p += 7;
    memcpy(p, id, n), p += n;
    memcpy(p, ", \"name\": \"user", 15), p += 15;
    memcpy(p, id, n), p += n;
    memcpy(p, "\"}", 3); /* with the NUL */
    sq_write_json_str(req, out);
}

static const sq_handler hello_handler = {.get = hello_get};
static const sq_handler json_handler = {.get = json_get};
static const sq_handler user_handler = {.get = user_get};

static const sq_route routes[] = {
    {.pattern = "/", .handler = &hello_handler},
    {.pattern = "/json", .handler = &json_handler},
    {.pattern = "/api/users/(\\d+)", .handler = &user_handler},
    {.pattern = NULL},
};

sq_app *bench_app_new(sq_loop *loop) {
    /* The defaults: no access log, ETags on (as Tornado). */
    return sq_app_new(loop, routes, NULL);
}
