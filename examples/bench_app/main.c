/* bench_app: the web-framework app `make bench` runs (/, /json and
 * /api/users/(\d+)) against the same app in Tornado.
 *
 *     build/examples/bench_app --port 8888 --host 127.0.0.1
 *     curl http://127.0.0.1:8888/json
 *     curl http://127.0.0.1:8888/api/users/42
 *
 * SIGINT or SIGTERM drains the server and exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

static void on_closed(sq_app *app, void *loop) { sq_loop_stop(loop); }

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 8888;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--port N] [--host H]\n", argv[0]);
            return 2;
        }
    }
    sq_loop *loop = sq_loop_default();
    sq_app *app = bench_app_new(loop);
    int err = app ? sq_app_listen(app, host, port) : SQ_ENOMEM;
    if (err) {
        fprintf(stderr, "bench_app: cannot listen on %s:%d: %s\n", host, port, sq_strerror(err));
        return 1;
    }
    sq_loop_handle_signals(loop);
    sq_http_server_drain_on_signal(sq_app_server(app), 5000);
    printf("bench_app: listening on http://%s:%d/\n", host, sq_app_port(app));
    fflush(stdout);
    sq_loop_run(loop);
    sq_app_close(app, on_closed, loop);
    sq_loop_run(loop);
    sq_loop_close(loop);
    return 0;
}
