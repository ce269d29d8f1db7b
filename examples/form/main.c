/* form: an HTML form with a file upload (GET shows it, POST echoes it),
 * protected by Tornado's XSRF cookie and hidden field.
 *
 *     build/examples/form --port 8888 --host 127.0.0.1
 *
 * then open http://127.0.0.1:8888/ in a browser. curl does not carry the
 * XSRF token; for it, run with --no-xsrf:
 *
 *     curl -F name=ann -F upload=@README.md http://127.0.0.1:8888/
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
    bool xsrf = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(argv[i], "--no-xsrf"))
            xsrf = false;
        else {
            fprintf(stderr, "usage: %s [--port N] [--host H] [--no-xsrf]\n", argv[0]);
            return 2;
        }
    }
    form_app cfg = {.xsrf = xsrf};
    sq_loop *loop = sq_loop_default();
    sq_app *app = form_app_new(loop, &cfg);
    int err = app ? sq_app_listen(app, host, port) : SQ_ENOMEM;
    if (err) {
        fprintf(stderr, "form: cannot listen on %s:%d: %s\n", host, port, sq_strerror(err));
        return 1;
    }
    sq_loop_handle_signals(loop);
    sq_http_server_drain_on_signal(sq_app_server(app), 5000);
    printf("form: listening on http://%s:%d/\n", host, sq_app_port(app));
    fflush(stdout);
    sq_loop_run(loop);
    /* Stopped by the signal: close the app, let its close finish. */
    sq_app_close(app, on_closed, loop);
    sq_loop_run(loop);
    sq_loop_close(loop);
    return 0;
}
