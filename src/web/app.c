/* The application: settings, route groups, the HTTP server under it, the
 * request arena, and closing once every request is done.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_internal.h"

/* ---- arena ---- */

void sq__arena_init(sq_arena *a, char *inline_buf, size_t cap) {
    a->p = inline_buf;
    a->end = inline_buf + cap;
    a->blocks = NULL;
}

void sq__arena_reset(sq_arena *a, char *inline_buf, size_t cap) {
    sq_arena_blk *b = a->blocks;
    while (b) {
        sq_arena_blk *next = b->next;
        free(b);
        b = next;
    }
    sq__arena_init(a, inline_buf, cap);
}

void *sq__arena_alloc(sq_arena *a, size_t n) {
    uintptr_t p = ((uintptr_t)a->p + 15) & ~(uintptr_t)15;
    if (n <= (size_t)((uintptr_t)a->end - p) && p <= (uintptr_t)a->end) {
        a->p = (char *)(p + n);
        return (void *)p;
    }
    if (n > SIZE_MAX / 2) return NULL;
    /* A large request gets a block of its own; small ones share a new 8 KiB
     * block and leave the rest of the current one unused. */
    size_t cap = n + 16 > 8192 ? n + 16 : 8192;
    sq_arena_blk *b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = a->blocks;
    b->cap = cap;
    a->blocks = b;
    p = ((uintptr_t)b->data + 15) & ~(uintptr_t)15;
    if (cap - n > 2048 || n + 16 <= 8192) {
        a->p = (char *)(p + n);
        a->end = b->data + cap;
    }
    return (void *)p;
}

void *sq_req_alloc(sq_req *req, size_t n) { return sq__arena_alloc(&req->arena, n ? n : 1); }

char *sq_req_strndup(sq_req *req, const char *s, size_t len) {
    char *d = sq__arena_alloc(&req->arena, len + 1);
    if (!d) return NULL;
    if (len) memcpy(d, s, len);
    d[len] = 0;
    return d;
}

/* ---- the built-in 404 handler ---- */

static void not_found_prepare(sq_req *req) { sq_send_error(req, 404, NULL); }

static const sq_handler not_found_handler = {
    .prepare = not_found_prepare,
    .no_xsrf_check = true,
};

/* ---- app ---- */

static void apply_server_defaults(sq_http_server_config *s) {
    sq_http_server_config d;
    sq_http_server_config_init(&d);
#define DEF(f) if (!s->f) s->f = d.f
    DEF(max_head_size);
    DEF(max_line_size);
    DEF(max_headers);
    DEF(max_body_size);
    DEF(header_timeout_ms);
    DEF(idle_timeout_ms);
    DEF(backlog);
#undef DEF
    if (!s->server_name) s->server_name = d.server_name;
}

sq_app *sq_app_new(sq_loop *loop, const sq_route *routes, const sq_app_settings *settings) {
    if (!loop) return NULL;
    sq_app *app = calloc(1, sizeof *app);
    if (!app) return NULL;
    app->loop = loop;
    if (settings) app->settings = *settings;
    sq_app_settings *s = &app->settings;
    apply_server_defaults(&s->server);
    if (!s->max_arguments) s->max_arguments = 10000;
    if (!s->multipart.max_parts) s->multipart.max_parts = 1000;
    if (!s->multipart.max_header_bytes) s->multipart.max_header_bytes = 16384;
    if (!s->static_url_prefix) s->static_url_prefix = "/static/";
    if (s->cookie_secret) {
        app->secret.secret = s->cookie_secret;
        app->secret.secret_len = strlen(s->cookie_secret);
    }
    if (s->cookie_keys) {
        app->secret.keys = s->cookie_keys;
        app->secret.nkeys = s->ncookie_keys;
    }
    if (s->static_path) {
        /* Tornado inserts the static routes before the application's. */
        size_t n = 0;
        while (routes && routes[n].pattern) n++;
        const char *pre = s->static_url_prefix;
        size_t pl = strlen(pre);
        app->static_pattern = malloc(2 * pl + 5);
        app->own_routes = calloc(n + 4, sizeof *app->own_routes);
        if (!app->static_pattern || !app->own_routes) goto fail;
        char *d = app->static_pattern;
        for (size_t i = 0; i < pl; i++) {
            if (strchr("\\^$.|?*+()[]{}", pre[i])) *d++ = '\\';
            *d++ = pre[i];
        }
        memcpy(d, "(.*)", 5);
        app->static_spec.root = s->static_path;
        sq_route st[3] = {
            {app->static_pattern, &sq_static_file_handler, &app->static_spec, NULL},
            {"/(favicon\\.ico)", &sq_static_file_handler, &app->static_spec, NULL},
            {"/(robots\\.txt)", &sq_static_file_handler, &app->static_spec, NULL},
        };
        memcpy(app->own_routes, st, sizeof st);
        if (n) memcpy(app->own_routes + 3, routes, n * sizeof *routes);
        routes = app->own_routes;
    }
    app->groups = calloc(1, sizeof *app->groups);
    if (!app->groups) goto fail;
    app->ngroups = 1;
    if (sq__router_compile(&app->groups[0], routes, NULL)) goto fail;
    app->default_route_def.pattern = "";
    app->default_route_def.handler = s->default_handler ? s->default_handler : &not_found_handler;
    app->default_route_def.data = s->default_handler_data;
    app->default_route.route = &app->default_route_def;
    uint32_t maxg = 0;
    for (size_t i = 0; i < app->groups[0].nroutes; i++)
        if (app->groups[0].routes[i].ngroups > maxg) maxg = app->groups[0].routes[i].ngroups;
    app->max_groups = maxg;
    app->md = pcre2_match_data_create(maxg + 1, NULL);
    if (!app->md) goto fail;
    if (s->etag_sha1) {
        /* Fetched once: EVP_sha1() would be looked up on every digest. */
        app->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
        app->md_ctx = EVP_MD_CTX_new();
        if (!app->sha1 || !app->md_ctx) goto fail;
    }
    return app;
fail:
    for (size_t i = 0; app->groups && i < app->ngroups; i++) sq__router_free_group(&app->groups[i]);
    free(app->groups);
    pcre2_match_data_free(app->md);
    EVP_MD_CTX_free(app->md_ctx);
    EVP_MD_free(app->sha1);
    free(app->own_routes);
    free(app->static_pattern);
    free(app);
    return NULL;
}

int sq_app_add_handlers(sq_app *app, const char *host_pattern, const sq_route *routes) {
    if (app->server) return SQ_ESTATE;
    if (!host_pattern) return SQ_EINVAL;
    sq_route_group g;
    int err = sq__router_compile(&g, routes, host_pattern);
    if (err) return err;
    sq_route_group *ng = realloc(app->groups, (app->ngroups + 1) * sizeof *ng);
    if (!ng) {
        sq__router_free_group(&g);
        return SQ_ENOMEM;
    }
    app->groups = ng;
    /* Host rules go before the default group, in the order added. */
    ng[app->ngroups] = ng[app->ngroups - 1];
    ng[app->ngroups - 1] = g;
    app->ngroups++;
    uint32_t maxg = app->max_groups;
    for (size_t i = 0; i < g.nroutes; i++)
        if (g.routes[i].ngroups > maxg) maxg = g.routes[i].ngroups;
    if (maxg > app->max_groups) {
        pcre2_match_data *md = pcre2_match_data_create(maxg + 1, NULL);
        if (!md) return SQ_ENOMEM;
        pcre2_match_data_free(app->md);
        app->md = md;
        app->max_groups = maxg;
    }
    return 0;
}

int sq_app_listen(sq_app *app, const char *host, int port) {
    if (app->closing) return SQ_ECLOSED;
    if (!app->server) {
        sq_http_server_config cfg = app->settings.server;
        if (cfg.server_name && !*cfg.server_name) cfg.server_name = NULL;
        app->server = sq_http_server_new(app->loop, &cfg, sq__request_cb, app);
        if (!app->server) return SQ_ENOMEM;
        sq_http_server_set_head_cb(app->server, sq__head_cb);
    }
    return sq_http_server_listen(app->server, host, port);
}

int sq_app_port(const sq_app *app) {
    return app->server ? sq_http_server_port(app->server) : SQ_ENOTCONN;
}

sq_http_server *sq_app_server(const sq_app *app) { return app->server; }

const sq_app_settings *sq_app_get_settings(const sq_app *app) { return &app->settings; }

void sq__static_versions_free(sq_app *app);

static void app_free(sq_app *app) {
    void (*cb)(sq_app *, void *) = app->close_cb;
    void *arg = app->close_arg;
    if (cb) cb(app, arg);
    while (app->free_reqs) {
        sq_req *r = app->free_reqs;
        app->free_reqs = r->next_free;
        sq__buf_free(&r->out);
        free(r);
    }
    for (size_t i = 0; i < app->ngroups; i++) sq__router_free_group(&app->groups[i]);
    free(app->groups);
    pcre2_match_data_free(app->md);
    EVP_MD_CTX_free(app->md_ctx);
    EVP_MD_free(app->sha1);
    free(app->own_routes);
    free(app->static_pattern);
    sq__static_versions_free(app);
    free(app);
}

/* Called when a request object is released while the app is closing. */
void sq__app_maybe_free(sq_app *app);
void sq__app_maybe_free(sq_app *app) {
    if (app->closing && app->server_closed && app->live_reqs == 0) app_free(app);
}

static void server_closed(sq_http_server *srv, void *arg) {
    sq_app *app = arg;
    app->server_closed = true;
    app->server = NULL;
    sq__app_maybe_free(app);
}

void sq_app_close(sq_app *app, void (*done)(sq_app *app, void *arg), void *arg) {
    if (app->closing) return;
    app->closing = true;
    app->close_cb = done;
    app->close_arg = arg;
    if (app->server) {
        sq_http_server_close(app->server, server_closed, app);
    } else {
        app->server_closed = true;
        sq__app_maybe_free(app);
    }
}

void sq_access_log_stderr(sq_req *req, sq_log_level level, const char *line, void *arg) {
    const char *lv = level >= SQ_LOG_ERROR ? "ERROR" : level >= SQ_LOG_WARNING ? "WARNING" : "INFO";
    fprintf(stderr, "[%s squall.access] %s\n", lv, line);
}
