#include "webtest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sqtest.h"


static void *wapp_thread(void *p) {
    wapp *w = p;
    w->loop = sq_loop_new();
    w->app = sq_app_new(w->loop, w->routes, &w->settings);
    if (w->app && w->setup) w->setup(w->app);
    int err = w->app ? sq_app_listen(w->app, "127.0.0.1", 0) : -1;
    pthread_mutex_lock(&w->mu);
    w->port = err ? -1 : sq_app_port(w->app);
    w->ready = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (!err) sq_loop_run(w->loop);
    return NULL;
}

wapp *wapp_start2(const sq_route *routes, const sq_app_settings *s, void (*setup)(sq_app *)) {
    wapp *w = calloc(1, sizeof *w);
    w->routes = routes;
    if (s) w->settings = *s;
    w->setup = setup;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_create(&w->th, NULL, wapp_thread, w);
    pthread_mutex_lock(&w->mu);
    while (!w->ready) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    cr_assert(w->port > 0, "app failed to start");
    return w;
}

wapp *wapp_start(const sq_route *routes, const sq_app_settings *s) {
    return wapp_start2(routes, s, NULL);
}

static void app_closed(sq_app *app, void *arg) {
    wapp *w = arg;
    sq_loop_stop(w->loop);
}

static void close_on_loop(void *p) {
    wapp *w = p;
    sq_app_close(w->app, app_closed, w);
}

void wapp_stop(wapp *w) {
    sq_loop_call_threadsafe(w->loop, close_on_loop, w);
    pthread_join(w->th, NULL);
    cr_assert_eq(sq_loop_close(w->loop), 0);
    free(w);
}

/* One request on a fresh connection; the response goes to buf. Returns the
 * status. */
int wapp_fetch(wapp *w, const char *raw, char *buf, size_t cap) {
    int fd = sqt_connect(w->port);
    sqt_send(fd, raw);
    int head_only = strncmp(raw, "HEAD ", 5) == 0;
    long n = sqt_recv_response(fd, buf, cap, head_only);
    close(fd);
    cr_assert(n > 0, "no response to %s", raw);
    return sqt_status(buf);
}

int wapp_get(wapp *w, const char *path, char *buf, size_t cap) {
    char raw[1024];
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    return wapp_fetch(w, raw, buf, cap);
}

/* The value of a response header (first one), copied to out. */
const char *resp_header(const char *resp, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    const char *end = strstr(resp, "\r\n\r\n");
    for (const char *p = strstr(resp, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ') v++;
            const char *e = strstr(v, "\r\n");
            size_t n = (size_t)(e - v);
            if (n >= cap) n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return out;
        }
    }
    return NULL;}
