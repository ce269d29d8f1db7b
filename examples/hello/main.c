/* hello: the smallest squall server. GET / answers "Hello, world".
 *
 *     build/examples/hello --port 8888 --host 127.0.0.1
 *
 * SIGINT or SIGTERM drains the server gracefully and exits. */
#include <squall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_request(sq_http_req *req, void *arg) {
    size_t len;
    const char *path = sq_http_req_path(req, &len);
    if (len == 1 && path[0] == '/') {
        sq_http_respond(req, 200, "text/plain; charset=utf-8", "Hello, world", 12);
    } else {
        sq_http_respond(req, 404, "text/plain; charset=utf-8", "Not Found", 9);
    }
}

static void on_closed(sq_http_server *srv, void *arg) { sq_loop_stop(arg); }

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 8888;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--port N] [--host H]\n", argv[0]);
            return 2;
        }
    }
    sq_loop *loop = sq_loop_default();
    sq_http_server *srv = sq_http_server_new(loop, NULL, on_request, NULL);
    int err = sq_http_server_listen(srv, host, port);
    if (err) {
        fprintf(stderr, "hello: cannot listen on %s:%d: %s\n", host, port, sq_strerror(err));
        return 1;
    }
    sq_loop_handle_signals(loop);
    sq_http_server_drain_on_signal(srv, 5000);
    printf("hello: listening on http://%s:%d/\n", host, sq_http_server_port(srv));
    fflush(stdout);
    sq_loop_run(loop); /* until SIGINT or SIGTERM has drained the server */
    sq_http_server_close(srv, on_closed, loop);
    sq_loop_run(loop); /* until the server's handles are closed */
    return 0;
}
