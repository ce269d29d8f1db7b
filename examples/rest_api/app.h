/* rest_api: the app, separate from main() so that its test builds the same
 * app in-process (tests/integration/test_example_rest_api.c). */
#ifndef REST_API_APP_H
#define REST_API_APP_H

#include <squall.h>

/* The app's configuration and in-memory store; the route data of every
 * handler. Must outlive the app. */
typedef struct rest_api {
    const char *token; /* the Bearer token every request must carry */
    json_t *users;     /* id (as a string) -> {"id": n, "name": "..."} */
    long next_id;
    /* One line per finished request (on_finish); NULL: stderr. */
    void (*log)(const char *line, void *arg);
    void *log_arg;
    sq_route routes[3]; /* filled by rest_api_app_new */
} rest_api;

/* Fills *api with token and two users (1: ann, 2: bob). 0 or SQ_ENOMEM. */
int rest_api_init(rest_api *api, const char *token);

/* Releases the store. */
void rest_api_free(rest_api *api);

/* The app on loop; NULL on failure. */
sq_app *rest_api_app_new(sq_loop *loop, rest_api *api);

#endif
