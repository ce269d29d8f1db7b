/* Tornado's built-in handlers: StaticFileHandler and RedirectHandler.
 *
 * Static files are read with plain read() on the loop thread, in 64 KiB
 * pieces with a flush (and its completion callback) after each, as
 * Tornado's StaticFileHandler does on its IOLoop: the loop is never held
 * for more than one piece, and a slow client slows only its own transfer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "web/web_internal.h"

#define SQ_STATIC_CHUNK (64 * 1024)
#define SQ_STATIC_CACHE_TIME 315360000 /* ten years, Tornado's CACHE_MAX_AGE */

/* ---- RedirectHandler ---- */

typedef struct {
    const sq_redirect_spec *spec;
} redirect_state;

static void redirect_init(sq_req *req, void *data) {
    ((redirect_state *)sq_req_state(req))->spec = data;
}

/* Tornado's url.format(*path_args, **path_kwargs): "{0}" is the first
 * group, "{name}" a named one; "{{" and "}}" are literal braces. */
static void redirect_get(sq_req *req) {
    const sq_redirect_spec *spec = ((redirect_state *)sq_req_state(req))->spec;
    if (!spec || !spec->url) {
        sq_send_error(req, 500, NULL);
        return;
    }
    sq_buf b = {0};
    const char *u = spec->url;
    int err = 0;
    while (*u && !err) {
        if (u[0] == '{' && u[1] == '{') {
            err = sq__buf_append(&b, "{", 1);
            u += 2;
        } else if (u[0] == '}' && u[1] == '}') {
            err = sq__buf_append(&b, "}", 1);
            u += 2;
        } else if (u[0] == '{') {
            const char *close = strchr(u, '}');
            if (!close) break;
            char key[64];
            size_t kl = (size_t)(close - u - 1);
            if (kl >= sizeof key) kl = sizeof key - 1;
            memcpy(key, u + 1, kl);
            key[kl] = 0;
            const char *v;
            if (kl && strspn(key, "0123456789") == kl) v = sq_path_arg(req, atoi(key) + 1);
            else v = sq_path_kwarg(req, key);
            if (v) err = sq__buf_append(&b, v, strlen(v));
            u = close + 1;
        } else {
            err = sq__buf_append(&b, u, 1);
            u++;
        }
    }
    size_t qn;
    const char *q = sq_http_req_query(sq_req_http(req), &qn);
    if (!err && qn) {
        bool has_q = b.len && memchr(b.data, '?', b.len);
        err = sq__buf_append(&b, has_q ? "&" : "?", 1);
        if (!err) err = sq__buf_append(&b, q, qn);
    }
    char *url = err ? NULL : sq_req_strndup(req, b.data, b.len);
    sq__buf_free(&b);
    if (!url || sq_redirect(req, url, spec->temporary ? 302 : 301)) sq_send_error(req, 500, NULL);
}

const sq_handler sq_redirect_handler = {
    .state_size = sizeof(redirect_state),
    .initialize = redirect_init,
    .get = redirect_get,
};

/* ---- StaticFileHandler ---- */

typedef struct {
    const sq_static_spec *spec;
    int fd;
    uint64_t remaining;
    char *chunk;
} static_state;

static void static_init(sq_req *req, void *data) {
    static_state *s = sq_req_state(req);
    s->spec = data;
    s->fd = -1;
}

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {"html", "text/html"},        {"htm", "text/html"},          {"css", "text/css"},
    {"js", "application/javascript"}, {"mjs", "application/javascript"},
    {"json", "application/json"}, {"map", "application/json"},   {"txt", "text/plain"},
    {"xml", "application/xml"},   {"svg", "image/svg+xml"},      {"png", "image/png"},
    {"jpg", "image/jpeg"},        {"jpeg", "image/jpeg"},        {"gif", "image/gif"},
    {"ico", "image/vnd.microsoft.icon"}, {"webp", "image/webp"}, {"pdf", "application/pdf"},
    {"wasm", "application/wasm"}, {"woff", "font/woff"},         {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},          {"otf", "font/otf"},           {"mp4", "video/mp4"},
    {"webm", "video/webm"},       {"mp3", "audio/mpeg"},         {"ogg", "audio/ogg"},
    {"wav", "audio/x-wav"},       {"zip", "application/zip"},    {"gz", "application/gzip"},
    {"tar", "application/x-tar"}, {"csv", "text/csv"},           {"md", "text/markdown"},
};

static const char *content_type_of(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot) return "application/octet-stream";
    for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
        if (strcasecmp(dot + 1, mime_types[i].ext) == 0) return mime_types[i].type;
    return "application/octet-stream";
}

/* Tornado's _parse_request_range: one "bytes=" range; *start may be
 * negative (a suffix), *end is exclusive; has_* say which are present.
 * Returns false for anything else (the whole file is then served). */
static bool parse_range(const char *v, int64_t *start, bool *has_start, int64_t *end,
                        bool *has_end) {
    if (strncmp(v, "bytes=", 6) != 0) return false;
    v += 6;
    const char *dash = strchr(v, '-');
    if (!dash || strchr(dash + 1, '-') || strchr(v, ',')) return false;
    char *e;
    *has_start = dash > v;
    *has_end = dash[1] != 0;
    *start = *end = 0;
    if (*has_start) {
        *start = strtoll(v, &e, 10);
        if (e != dash || *start < 0) return false;
    }
    if (*has_end) {
        *end = strtoll(dash + 1, &e, 10);
        if (*e || *end < 0) return false;
    }
    if (!*has_start && !*has_end) return false;
    if (*has_end) {
        if (!*has_start) {
            if (*end != 0) {
                *start = -*end;
                *has_start = true;
                *has_end = false;
            }
        } else {
            *end += 1;
        }
    }
    return true;
}

static time_t parse_http_date(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end) return (time_t)-1;
    return timegm(&tm);
}

static void static_end(sq_req *req) {
    static_state *s = sq_req_state(req);
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    sq_finish(req);
}

static void static_pump(sq_req *req, int status, void *arg) {
    static_state *s = sq_req_state(req);
    if (status < 0) { /* the client left */
        static_end(req);
        return;
    }
    while (s->remaining) {
        size_t want = s->remaining < SQ_STATIC_CHUNK ? (size_t)s->remaining : SQ_STATIC_CHUNK;
        ssize_t n = read(s->fd, s->chunk, want);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { /* the file shrank: the response cannot be completed */
            static_end(req);
            return;
        }
        s->remaining -= (uint64_t)n;
        if (sq_write(req, s->chunk, (size_t)n)) {
            static_end(req);
            return;
        }
        if (s->remaining) {
            if (sq_flush(req, static_pump, NULL)) static_end(req);
            return;
        }
    }
    static_end(req);
}

static void static_get(sq_req *req) {
    static_state *s = sq_req_state(req);
    const sq_static_spec *spec = s->spec;
    if (!spec || !spec->root) {
        sq_send_error(req, 500, NULL);
        return;
    }
    const char *rel = sq_path_arg(req, 1);
    if (!rel) rel = "";
    /* A NUL byte would cut the path short: refuse it. */
    const char *raw = sq_req_path(req);
    if (strstr(raw, "%00")) {
        sq_send_error(req, 400, NULL);
        return;
    }
    char root[PATH_MAX], full[PATH_MAX], joined[PATH_MAX * 2];
    if (!realpath(spec->root, root)) {
        sq_send_error(req, 404, NULL);
        return;
    }
    snprintf(joined, sizeof joined, "%s/%s", root, rel);
    if (!realpath(joined, full)) {
        sq_send_error(req, errno == ENOENT || errno == ENOTDIR ? 404 : 403, NULL);
        return;
    }
    size_t rl = strlen(root);
    /* Symbolic links are resolved first, so a link out of the root is 403
     * too (Tornado checks the path as written). */
    if (strncmp(full, root, rl) != 0 || (full[rl] != '/' && full[rl] != 0)) {
        sq_send_error(req, 403, NULL);
        return;
    }
    struct stat st;
    if (stat(full, &st) != 0) {
        sq_send_error(req, 404, NULL);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!spec->default_filename) {
            sq_send_error(req, 403, NULL);
            return;
        }
        size_t pl = strlen(raw);
        if (!pl || raw[pl - 1] != '/') {
            if (raw[0] == '/' && raw[1] == '/') { /* an open-redirect guard */
                sq_send_error(req, 403, NULL);
                return;
            }
            char *to = sq_req_alloc(req, pl + 2);
            if (!to) return;
            memcpy(to, raw, pl);
            memcpy(to + pl, "/", 2);
            sq_redirect(req, to, 301);
            return;
        }
        size_t fl = strlen(full);
        if (fl + 1 + strlen(spec->default_filename) >= sizeof full) {
            sq_send_error(req, 404, NULL);
            return;
        }
        full[fl] = '/';
        strcpy(full + fl + 1, spec->default_filename);
        if (stat(full, &st) != 0) {
            sq_send_error(req, 404, NULL);
            return;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        sq_send_error(req, 403, NULL);
        return;
    }

    uint64_t size = (uint64_t)st.st_size;
    char etag[64], date[SQ_HTTP_DATE_SIZE], num[128];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_mtime,
             (unsigned long long)size);
    sq_set_header(req, "Accept-Ranges", "bytes");
    sq_set_header(req, "Etag", etag);
    if (sq_format_timestamp((int64_t)st.st_mtime, date) == 0) sq_set_header(req, "Last-Modified", date);
    if (sq_get_query_argument(req, "v", NULL)) {
        if (sq_format_timestamp((int64_t)time(NULL) + SQ_STATIC_CACHE_TIME, date) == 0)
            sq_set_header(req, "Expires", date);
        snprintf(num, sizeof num, "max-age=%d", SQ_STATIC_CACHE_TIME);
        sq_set_header(req, "Cache-Control", num);
    }
    /* Conditional requests: If-None-Match decides alone when present. */
    const char *inm = sq_req_header(req, "If-None-Match");
    const char *ims = inm ? NULL : sq_req_header(req, "If-Modified-Since");
    bool not_modified = false;
    if (inm) not_modified = sq_etag_matches(inm, strlen(inm), etag, strlen(etag));
    else if (ims) {
        time_t t = parse_http_date(ims);
        not_modified = t != (time_t)-1 && t >= st.st_mtime;
    }
    if (not_modified) {
        sq_set_status(req, 304, NULL);
        return;
    }

    int64_t start = 0, end = 0;
    bool has_start = false, has_end = false;
    const char *range = sq_req_header(req, "Range");
    if (range && parse_range(range, &start, &has_start, &end, &has_end)) {
        if (has_start && start < 0) {
            start += (int64_t)size;
            if (start < 0) start = 0;
        }
        if ((has_start && ((uint64_t)start >= size || (has_end && start >= end))) ||
            (has_end && end == 0)) {
            sq_set_status(req, 416, NULL);
            sq_set_header(req, "Content-Type", "text/plain");
            snprintf(num, sizeof num, "bytes */%llu", (unsigned long long)size);
            sq_set_header(req, "Content-Range", num);
            return;
        }
        if (has_end && (uint64_t)end > size) end = (int64_t)size;
        uint64_t e = has_end ? (uint64_t)end : size, b0 = has_start ? (uint64_t)start : 0;
        if (size != e - b0) {
            sq_set_status(req, 206, NULL);
            snprintf(num, sizeof num, "bytes %llu-%llu/%llu", (unsigned long long)b0,
                     (unsigned long long)(e - 1), (unsigned long long)size);
            sq_set_header(req, "Content-Range", num);
        }
    } else {
        has_start = has_end = false;
    }
    uint64_t from = has_start ? (uint64_t)start : 0;
    uint64_t to = has_end ? (uint64_t)end : size;
    uint64_t len = to > from ? to - from : 0;
    snprintf(num, sizeof num, "%llu", (unsigned long long)len);
    sq_set_header(req, "Content-Length", num);
    sq_set_header(req, "Content-Type", content_type_of(full));
    if (sq_http_req_method(sq_req_http(req)) == SQ_HTTP_HEAD || len == 0) return;

    s->fd = open(full, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        sq_send_error(req, 403, NULL);
        return;
    }
    if (from && lseek(s->fd, (off_t)from, SEEK_SET) < 0) {
        close(s->fd);
        s->fd = -1;
        sq_send_error(req, 500, NULL);
        return;
    }
    s->chunk = sq_req_alloc(req, len < SQ_STATIC_CHUNK ? (size_t)len : SQ_STATIC_CHUNK);
    if (!s->chunk) {
        close(s->fd);
        s->fd = -1;
        sq_send_error(req, 500, NULL);
        return;
    }
    s->remaining = len;
    sq_finish_later(req);
    static_pump(req, 0, NULL);
}

static void static_on_finish(sq_req *req) {
    static_state *s = sq_req_state(req);
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}

const sq_handler sq_static_file_handler = {
    .state_size = sizeof(static_state),
    .initialize = static_init,
    .get = static_get,
    .head = static_get,
    .on_finish = static_on_finish,
};

/* ---- static_url ---- */

struct sq_static_version {
    struct sq_static_version *next;
    char *path;
    char hash[2 * 64 + 1]; /* SHA-512 hex, Tornado's get_content_version */
};

void sq__static_versions_free(sq_app *app);
void sq__static_versions_free(sq_app *app) {
    struct sq_static_version *v = app->versions;
    while (v) {
        struct sq_static_version *next = v->next;
        free(v->path);
        free(v);
        v = next;
    }
    app->versions = NULL;
}

/* SHA-512 of a whole file as lowercase hex; false when it cannot be read. */
static bool file_sha512(const char *path, char out[129]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL);
    char buf[16384];
    while (ok) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) ok = false;
        if (n <= 0) break;
        ok = EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (ok) ok = EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 64;
    EVP_MD_CTX_free(ctx);
    close(fd);
    if (!ok) return false;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 64; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[128] = 0;
    return true;
}

const char *sq_static_url(sq_req *req, const char *path, bool include_version) {
    sq_app *app = req->app;
    const sq_app_settings *st = &app->settings;
    const char *prefix = st->static_url_prefix;
    size_t pl = strlen(prefix), l = strlen(path);
    const char *hash = NULL;
    char fresh[129];
    if (include_version && st->static_path) {
        struct sq_static_version *v = app->versions;
        while (v && strcmp(v->path, path) != 0) v = v->next;
        if (v && !st->debug) {
            hash = v->hash;
        } else {
            char full[PATH_MAX];
            snprintf(full, sizeof full, "%s/%s", st->static_path, path);
            if (file_sha512(full, fresh)) {
                hash = fresh;
                if (!v && (v = calloc(1, sizeof *v)) && (v->path = strdup(path))) {
                    v->next = app->versions;
                    app->versions = v;
                } else if (v && !v->path) {
                    free(v);
                    v = NULL;
                }
                if (v) memcpy(v->hash, fresh, sizeof fresh);
            }
        }
    }
    size_t n = pl + l + (hash ? 3 + 128 : 0) + 1;
    char *out = sq_req_alloc(req, n);
    if (!out) return NULL;
    if (hash) snprintf(out, n, "%s%s?v=%s", prefix, path, hash);
    else snprintf(out, n, "%s%s", prefix, path);
    return out;
}
