/* Input: request line and headers, query and body arguments (urlencoded
 * and multipart), uploaded files, JSON bodies, cookies, the client's
 * address and scheme. Everything is parsed when first asked for and copied
 * into the request's arena: the HTTP layer may move a request's head and
 * body (when the request outlives a read), so no pointer into them is
 * kept across calls.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "web/web_internal.h"

const char *sq__header_n(sq_req *r, const char *name, size_t *len) {
    if (!r->http) return NULL;
    return sq_http_req_header(r->http, name, len);
}

/* The request line's parts are copied once and kept, so that on_finish
 * (after the HTTP request is gone) can still read them. */
const char *sq_req_method(sq_req *req) {
    if (req->method_s || !req->http) return req->method_s ? req->method_s : "";
    const sq_http_head *h = sq_http_req_head(req->http);
    return req->method_s = sq_req_strndup(req, h->method, h->method_len);
}

const char *sq_req_uri(sq_req *req) {
    if (req->uri_s || !req->http) return req->uri_s ? req->uri_s : "";
    const sq_http_head *h = sq_http_req_head(req->http);
    return req->uri_s = sq_req_strndup(req, h->target, h->target_len);
}

const char *sq_req_path(sq_req *req) {
    if (req->path_s || !req->http) return req->path_s ? req->path_s : "";
    size_t n;
    const char *p = sq_http_req_path(req->http, &n);
    return req->path_s = sq_req_strndup(req, p, n);
}

const char *sq_req_query(sq_req *req) {
    if (req->query_s || !req->http) return req->query_s ? req->query_s : "";
    size_t n;
    const char *p = sq_http_req_query(req->http, &n);
    return req->query_s = sq_req_strndup(req, p, n);
}

const char *sq_req_header(sq_req *req, const char *name) {
    size_t n;
    const char *v = sq__header_n(req, name, &n);
    return v ? sq_req_strndup(req, v, n) : NULL;
}

size_t sq_req_headers(sq_req *req, const char *name, const char **out, size_t max) {
    if (!req->http) return 0;
    const sq_http_head *h = sq_http_req_head(req->http);
    size_t nl = strlen(name), count = 0;
    for (uint32_t i = 0; i < h->num_headers; i++) {
        const sq_http_header *f = &h->headers[i];
        if (!sq__ieq(f->name, f->name_len, name, nl)) continue;
        if (count < max) out[count] = sq_req_strndup(req, f->value, f->value_len);
        count++;
    }
    return count;
}

const char *sq_req_body(sq_req *req, size_t *len) {
    size_t n = 0;
    const char *b = req->http ? sq_http_req_body(req->http, &n) : NULL;
    if (len) *len = n;
    return b;
}

/* ---- arguments ---- */

typedef struct {
    sq_arg *v;
    size_t n, cap;
} arg_vec;

static int vec_push(sq_req *r, arg_vec *a, const char *name, size_t nl, const char *val, size_t vl) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        sq_arg *nv = sq__arena_alloc(&r->arena, cap * sizeof *nv);
        if (!nv) return SQ_ENOMEM;
        if (a->n) memcpy(nv, a->v, a->n * sizeof *nv);
        a->v = nv;
        a->cap = cap;
    }
    char *n = sq_req_strndup(r, name, nl), *v = sq_req_strndup(r, val, vl);
    if (!n || !v) return SQ_ENOMEM;
    a->v[a->n++] = (sq_arg){n, v, vl};
    return 0;
}

static int parse_form(sq_req *r, const char *data, size_t len, arg_vec *out) {
    char *buf = len ? sq__arena_alloc(&r->arena, len) : NULL;
    if (len && !buf) return SQ_ENOMEM;
    sq_form_iter it;
    sq_form_init(&it, data, len, buf, len, r->app->settings.max_arguments);
    const char *n, *v;
    size_t nl, vl;
    int rc;
    while ((rc = sq_form_next(&it, &n, &nl, &v, &vl)) == 1) {
        int err = vec_push(r, out, n, nl, v, vl);
        if (err) return err;
    }
    return rc;
}

static bool parse_query(sq_req *r) {
    if (r->query_parsed) return true;
    if (!r->http) return true; /* finished before it was asked for */
    r->query_parsed = true;
    size_t n;
    const char *q = sq_http_req_query(r->http, &n);
    arg_vec a = {0};
    if (parse_form(r, q, n, &a) < 0) {
        sq__send_error_detail(r, 400, NULL, "malformed query string");
        return false;
    }
    r->qargs = a.v;
    r->nqargs = a.n;
    return true;
}

static bool starts_with_ci(const char *s, size_t n, const char *lit) {
    size_t l = strlen(lit);
    return n >= l && sq__ieq(s, l, lit, l);
}

static int parse_multipart(sq_req *r, const char *ct, size_t ctl, const char *body, size_t len,
                           arg_vec *args) {
    const char *bnd;
    size_t bl;
    int err = sq_multipart_boundary(ct, ctl, &bnd, &bl);
    if (err) return err;
    sq_multipart_limits lim = r->app->settings.multipart;
    size_t scap = lim.max_header_bytes;
    char *scratch = sq__arena_alloc(&r->arena, scap);
    if (!scratch) return SQ_ENOMEM;
    sq_multipart mp;
    if ((err = sq_multipart_init(&mp, body, len, bnd, bl, &lim, scratch, scap))) return err;
    sq_multipart_part part;
    size_t fcap = 0;
    while ((err = sq_multipart_next(&mp, &part)) == 1) {
        if (!part.filename) {
            if ((err = vec_push(r, args, part.name, part.name_len, part.data, part.data_len)))
                return err;
            continue;
        }
        if (r->nfiles == fcap) {
            size_t cap = fcap ? fcap * 2 : 4;
            sq_file_rt *nf = sq__arena_alloc(&r->arena, cap * sizeof *nf);
            if (!nf) return SQ_ENOMEM;
            if (r->nfiles) memcpy(nf, r->files, r->nfiles * sizeof *nf);
            r->files = nf;
            fcap = cap;
        }
        sq_file_rt *f = &r->files[r->nfiles];
        f->field = sq_req_strndup(r, part.name, part.name_len);
        f->file.filename = sq_req_strndup(r, part.filename, part.filename_len);
        f->file.content_type = sq_req_strndup(r, part.content_type, part.content_type_len);
        f->file.body = sq_req_strndup(r, part.data, part.data_len);
        f->file.len = part.data_len;
        if (!f->field || !f->file.filename || !f->file.content_type || !f->file.body)
            return SQ_ENOMEM;
        r->nfiles++;
    }
    return err;
}

static bool parse_body(sq_req *r) {
    if (r->body_parsed) return !r->body_bad;
    if (!r->http) return true;
    r->body_parsed = true;
    size_t len;
    const char *body = sq_req_body(r, &len);
    size_t ctl;
    const char *ct = sq__header_n(r, "Content-Type", &ctl);
    if (!body || !len || !ct) return true;
    arg_vec a = {0};
    int err = 0;
    const char *detail = NULL;
    if (starts_with_ci(ct, ctl, "application/x-www-form-urlencoded")) {
        err = parse_form(r, body, len, &a);
        detail = "malformed form body";
    } else if (starts_with_ci(ct, ctl, "multipart/form-data")) {
        err = parse_multipart(r, ct, ctl, body, len, &a);
        detail = "malformed multipart/form-data body";
    }
    if (err < 0) {
        r->body_bad = true;
        sq__send_error_detail(r, err == SQ_ENOMEM ? 500 : 400, NULL, detail);
        return false;
    }
    r->bargs = a.v;
    r->nbargs = a.n;
    return true;
}

/* Tornado's get_argument cleaning: control characters except TAB, LF, CR
 * become spaces, then surrounding whitespace goes. An invalid UTF-8 value
 * answers 400 (Tornado's decode_argument). */
static const char *clean(sq_req *r, const sq_arg *arg) {
    const char *v = arg->value;
    size_t n = arg->value_len;
    if (!sq__utf8_valid((const unsigned char *)v, n)) {
        sq__send_error_detail(r, 400, NULL, "invalid UTF-8 in an argument");
        return NULL;
    }
    char *c = sq_req_strndup(r, v, n);
    if (!c) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c[i];
        if (ch <= 0x08 || (ch >= 0x0e && ch <= 0x1f)) c[i] = ' ';
    }
    size_t a = 0, b = n;
    while (a < b && (c[a] == ' ' || (c[a] >= '\t' && c[a] <= '\r'))) a++;
    while (b > a && (c[b - 1] == ' ' || (c[b - 1] >= '\t' && c[b - 1] <= '\r'))) b--;
    c[b] = 0;
    return c + a;
}

static const sq_arg *last_of(const sq_arg *v, size_t n, const char *name) {
    for (size_t i = n; i-- > 0;)
        if (strcmp(v[i].name, name) == 0) return &v[i];
    return NULL;
}

static size_t all_of(sq_req *r, const sq_arg *v, size_t n, const char *name, const char **out,
                     size_t max, size_t count) {
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, name)) continue;
        if (count < max) out[count] = clean(r, &v[i]);
        count++;
    }
    return count;
}

const char *sq_get_argument(sq_req *req, const char *name, const char *def) {
    if (!parse_query(req) || !parse_body(req)) return NULL;
    const sq_arg *v = last_of(req->bargs, req->nbargs, name);
    if (!v) v = last_of(req->qargs, req->nqargs, name);
    return v ? clean(req, v) : def;
}

const char *sq_require_argument(sq_req *req, const char *name) {
    const char *v = sq_get_argument(req, name, NULL);
    if (!v && !req->finished) {
        size_t n = strlen(name) + 32;
        char *d = sq__arena_alloc(&req->arena, n);
        if (d) snprintf(d, n, "Missing argument %s", name);
        sq__send_error_detail(req, 400, d, d);
    }
    return v;
}

size_t sq_get_arguments(sq_req *req, const char *name, const char **out, size_t max) {
    if (!parse_query(req) || !parse_body(req)) return 0;
    size_t c = all_of(req, req->qargs, req->nqargs, name, out, max, 0);
    return all_of(req, req->bargs, req->nbargs, name, out, max, c);
}

const char *sq_get_query_argument(sq_req *req, const char *name, const char *def) {
    if (!parse_query(req)) return NULL;
    const sq_arg *v = last_of(req->qargs, req->nqargs, name);
    return v ? clean(req, v) : def;
}

size_t sq_get_query_arguments(sq_req *req, const char *name, const char **out, size_t max) {
    if (!parse_query(req)) return 0;
    return all_of(req, req->qargs, req->nqargs, name, out, max, 0);
}

const char *sq_get_body_argument(sq_req *req, const char *name, const char *def) {
    if (!parse_body(req)) return NULL;
    const sq_arg *v = last_of(req->bargs, req->nbargs, name);
    return v ? clean(req, v) : def;
}

size_t sq_get_body_arguments(sq_req *req, const char *name, const char **out, size_t max) {
    if (!parse_body(req)) return 0;
    return all_of(req, req->bargs, req->nbargs, name, out, max, 0);
}

const sq_file *sq_get_files(sq_req *req, const char *field, size_t *n) {
    *n = 0;
    if (!parse_body(req)) return NULL;
    size_t count = 0;
    for (size_t i = 0; i < req->nfiles; i++) count += strcmp(req->files[i].field, field) == 0;
    if (!count) return NULL;
    sq_file *out = sq__arena_alloc(&req->arena, count * sizeof *out);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < req->nfiles; i++)
        if (strcmp(req->files[i].field, field) == 0) out[k++] = req->files[i].file;
    *n = count;
    return out;
}

json_t *sq_get_json(sq_req *req) {
    if (req->json) return req->json;
    if (req->finished) return NULL;
    size_t len;
    const char *body = sq_req_body(req, &len);
    if (!body || !len) {
        sq__send_error_detail(req, 400, NULL, "a JSON body is required");
        return NULL;
    }
    json_error_t e;
    req->json = json_loadb(body, len, JSON_DECODE_ANY, &e);
    if (!req->json) {
        size_t n = strlen(e.text) + 64;
        char *d = sq__arena_alloc(&req->arena, n);
        if (d) snprintf(d, n, "invalid JSON body: %s (line %d, column %d)", e.text, e.line, e.column);
        sq__send_error_detail(req, 400, NULL, d ? d : "invalid JSON body");
    }
    return req->json;
}

const char *sq_get_cookie(sq_req *req, const char *name, const char *def) {
    size_t hl;
    const char *h = sq__header_n(req, "Cookie", &hl);
    if (!h) return def;
    char *buf = sq__arena_alloc(&req->arena, hl + 1);
    if (!buf) return def;
    size_t n = 0;
    if (sq_cookie_get(h, hl, name, strlen(name), buf, hl + 1, &n) != 1) return def;
    buf[n] = 0;
    return buf;
}

const char *sq_get_signed_cookie(sq_req *req, const char *name, double max_age_days, size_t *len) {
    const char *v = sq_get_cookie(req, name, NULL);
    sq_app *app = req->app;
    if (!v || (!app->secret.secret && !app->secret.keys)) return NULL;
    if (max_age_days <= 0) max_age_days = 31;
    size_t vl = strlen(v), n = 0;
    char *out = sq__arena_alloc(&req->arena, vl + 1);
    if (!out) return NULL;
    if (sq_signed_value_decode(&app->secret, name, strlen(name), v, vl, max_age_days, 0,
                               (int64_t)time(NULL), out, vl, &n))
        return NULL;
    out[n] = 0;
    if (len) *len = n;
    return out;
}

/* ---- client address and scheme ---- */

static bool valid_ip(const char *s) {
    unsigned char buf[sizeof(struct in6_addr)];
    return *s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* The last comma-separated element of a header value, trimmed, NUL-terminated. */
static const char *last_elem(sq_req *r, const char *v, size_t n) {
    const char *start = v;
    for (size_t i = n; i-- > 0;)
        if (v[i] == ',') {
            start = v + i + 1;
            break;
        }
    const char *end = v + n;
    while (start < end && (*start == ' ' || *start == '\t')) start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
    return sq_req_strndup(r, start, (size_t)(end - start));
}

const char *sq_req_remote_ip(sq_req *req) {
    if (req->remote_ip) return req->remote_ip;
    if (!req->http) return "";
    if (req->app->settings.xheaders) {
        size_t n;
        const char *v = sq__header_n(req, "X-Real-Ip", &n);
        const char *ip = v ? sq_req_strndup(req, v, n) : NULL;
        if (!ip) {
            v = sq__header_n(req, "X-Forwarded-For", &n);
            if (v) ip = last_elem(req, v, n);
        }
        if (ip && valid_ip(ip)) return req->remote_ip = ip;
    }
    struct sockaddr_storage ss;
    char buf[INET6_ADDRSTRLEN] = "";
    if (sq_http_req_peer(req->http, &ss) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, sizeof buf);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf, sizeof buf);
    }
    req->remote_ip = sq_req_strndup(req, buf, strlen(buf));
    return req->remote_ip ? req->remote_ip : "";
}

const char *sq_req_protocol(sq_req *req) {
    if (req->protocol) return req->protocol;
    req->protocol = "http";
    if (req->app->settings.xheaders) {
        size_t n;
        const char *v = sq__header_n(req, "X-Scheme", &n);
        if (!v) v = sq__header_n(req, "X-Forwarded-Proto", &n);
        if (v) {
            const char *p = last_elem(req, v, n);
            if (p && strcmp(p, "http") == 0) req->protocol = "http";
            else if (p && strcmp(p, "https") == 0) req->protocol = "https";
        }
    }
    return req->protocol;
}

const char *sq_req_host(sq_req *req) {
    if (!req->http) return "";
    const sq_http_head *h = sq_http_req_head(req->http);
    if (!h->host) return "127.0.0.1";
    return sq_req_strndup(req, h->host, h->host_len);
}

const char *sq_req_host_name(sq_req *req) {
    const char *host = sq_req_host(req);
    size_t n = strlen(host), end = n;
    if (n && host[0] == '[') {
        const char *rb = strchr(host, ']');
        if (rb) end = (size_t)(rb - host) + 1;
    } else {
        const char *c = strchr(host, ':');
        if (c) end = (size_t)(c - host);
    }
    char *out = sq_req_strndup(req, host, end);
    if (!out) return "";
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
    return out;
}
