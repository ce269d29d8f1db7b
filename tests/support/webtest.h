/* Test support: a web application (sq_app) on its own loop thread, and
 * one-request-per-connection helpers over raw sockets. Used by the web
 * framework's integration tests. */
#ifndef WEBTEST_H
#define WEBTEST_H

#include <pthread.h>
#include <squall.h>

typedef struct wapp {
    sq_loop *loop;
    sq_app *app;
    pthread_t th;
    int port;
    const sq_route *routes;
    sq_app_settings settings;
    void (*setup)(sq_app *);
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
} wapp;

/* Starts routes with settings s (NULL: defaults) on 127.0.0.1, port 0, in a
 * new thread; setup, when not NULL, runs on the app before it listens. */
wapp *wapp_start2(const sq_route *routes, const sq_app_settings *s, void (*setup)(sq_app *));
wapp *wapp_start(const sq_route *routes, const sq_app_settings *s);
/* Closes the app, joins its thread, closes the loop. */
void wapp_stop(wapp *w);
/* One raw request on a fresh connection; the response goes to buf.
 * Returns the status. */
int wapp_fetch(wapp *w, const char *raw, char *buf, size_t cap);
/* A GET of path. */
int wapp_get(wapp *w, const char *path, char *buf, size_t cap);
/* The first value of a response header, copied to out; NULL if absent. */
const char *resp_header(const char *resp, const char *name, char *out, size_t cap);

#endif
