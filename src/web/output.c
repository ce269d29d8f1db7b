/* Output: status, headers, body, JSON, flush, finish (ETag and 304),
 * errors, redirects, cookies (plain and signed), XSRF tokens, the access
 * log.
 *
 * The response is kept in the request object until the first flush or the
 * finish, so that send_error can still clear it (Tornado's clear()) and
 * finish can hash it for the ETag; then it goes to the HTTP layer in one
 * piece (sq_http_respond when it can, which copies the body once, straight
 * into the connection's output).
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "web/web_internal.h"

static const char json_ctype[] = "application/json; charset=UTF-8";

static int check_writable(const sq_req *r) {
    if (r->finished) return SQ_ESTATE;
    return 0;
}

static int check_head_open(const sq_req *r) {
    if (r->finished || r->flushed) return SQ_ESTATE;
    return 0;
}

/* RFC 9110 token characters. */
static bool is_token(const char *s, size_t n) {
    if (!n) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
        if (!strchr("!#$%&'*+-.^_`|~", c) || c == 0) return false;
    }
    return true;
}

static bool value_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

int sq_set_status(sq_req *req, int status, const char *reason) {
    int err = check_head_open(req);
    if (err) return err;
    if (status < 100 || status > 599) return SQ_EINVAL;
    if (reason) {
        size_t n = strlen(reason);
        if (!value_ok(reason, n)) return SQ_EINVAL;
        if (!(reason = sq_req_strndup(req, reason, n))) return SQ_ENOMEM;
    }
    req->status = status;
    req->reason = reason;
    return 0;
}

int sq_get_status(const sq_req *req) { return req->status; }

static void remove_headers(sq_req *r, const char *name, size_t n) {
    uint32_t j = 0;
    for (uint32_t i = 0; i < r->nhdrs; i++)
        if (!sq__ieq(r->hdrs[i].name, r->hdrs[i].name_len, name, n)) r->hdrs[j++] = r->hdrs[i];
    r->nhdrs = j;
}

static int header_common(sq_req *r, const char *name, const char *value, bool replace) {
    int err = check_head_open(r);
    if (err) return err;
    size_t n = strlen(name), vn = strlen(value);
    if (!is_token(name, n) || !value_ok(value, vn)) return SQ_EHEADER;
    if (sq__ieq(name, n, "date", 4) || sq__ieq(name, n, "server", 6) ||
        sq__ieq(name, n, "transfer-encoding", 17) || sq__ieq(name, n, "connection", 10))
        return SQ_EINVAL;
    char *v = sq_req_strndup(r, value, vn);
    if (!v) return SQ_ENOMEM;
    if (sq__ieq(name, n, "content-type", 12)) {
        r->ctype = v;
        return 0;
    }
    if (replace) remove_headers(r, name, n);
    if (r->nhdrs == r->hdrs_cap) {
        uint32_t cap = r->hdrs_cap ? r->hdrs_cap * 2 : 8;
        sq_hdr *h = sq__arena_alloc(&r->arena, cap * sizeof *h);
        if (!h) return SQ_ENOMEM;
        if (r->nhdrs) memcpy(h, r->hdrs, r->nhdrs * sizeof *h);
        r->hdrs = h;
        r->hdrs_cap = cap;
    }
    char *nm = sq_req_strndup(r, name, n);
    if (!nm) return SQ_ENOMEM;
    r->hdrs[r->nhdrs++] = (sq_hdr){nm, v, (uint32_t)n, (uint32_t)vn};
    if (sq__ieq(name, n, "etag", 4)) r->has_etag = true;
    return 0;
}

int sq_set_header(sq_req *req, const char *name, const char *value) {
    return header_common(req, name, value, true);
}

int sq_add_header(sq_req *req, const char *name, const char *value) {
    return header_common(req, name, value, false);
}

int sq_clear_header(sq_req *req, const char *name) {
    int err = check_head_open(req);
    if (err) return err;
    size_t n = strlen(name);
    if (sq__ieq(name, n, "content-type", 12)) req->ctype = NULL;
    remove_headers(req, name, n);
    if (sq__ieq(name, n, "etag", 4)) req->has_etag = false;
    return 0;
}

int sq_write(sq_req *req, const void *data, size_t len) {
    int err = check_writable(req);
    if (err) return err;
    if (req->closed) return SQ_ECLOSED;
    return sq__buf_append(&req->out, data, len);
}

int sq_write_str(sq_req *req, const char *s) { return sq_write(req, s, strlen(s)); }

int sq_vwritef(sq_req *req, const char *fmt, va_list ap) {
    int err = check_writable(req);
    if (err) return err;
    if (req->closed) return SQ_ECLOSED;
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return SQ_EINVAL;
    }
    if ((size_t)n < sizeof small) {
        va_end(ap2);
        return sq__buf_append(&req->out, small, (size_t)n);
    }
    if ((err = sq__buf_reserve(&req->out, (size_t)n + 1))) {
        va_end(ap2);
        return err;
    }
    vsnprintf(req->out.data + req->out.len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    req->out.len += (size_t)n;
    return 0;
}

int sq_writef(sq_req *req, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = sq_vwritef(req, fmt, ap);
    va_end(ap);
    return r;
}

/* JSON output exactly as Tornado's json_encode writes it: Python's
 * json.dumps (", " and ": " separators, ensure_ascii, floats as repr) with
 * "</" written as "<\/". Written here rather than with jansson's dumper,
 * whose output differs in details (upper-case \u escapes, %.17g floats)
 * and which costs several thousand instructions for a small object (one
 * callback per token). */

static int put_str(sq_buf *b, const char *s, size_t n) {
    if (b->cap - b->len < n + 2) {
        int err = sq__buf_reserve(b, n + 2);
        if (err) return err;
    }
    /* Plain printable ASCII without '"', '\\' or "</" is written as is. */
    bool plain = true;
    for (size_t i = 0; i < n && plain; i++) {
        unsigned char c = (unsigned char)s[i];
        plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && !(c == '/' && i && s[i - 1] == '<');
    }
    if (plain) {
        b->data[b->len] = '"';
        if (n) memcpy(b->data + b->len + 1, s, n);
        b->data[b->len + 1 + n] = '"';
        b->len += n + 2;
        return 0;
    }
    size_t out = 0;
    b->data[b->len] = '"';
    int err = sq_json_escape(s, n, b->data + b->len + 1, b->cap - b->len - 2, &out);
    if (err == SQ_ELIMIT) {
        if (out == 0) return SQ_EINVAL; /* too small and not UTF-8 */
        if ((err = sq__buf_reserve(b, out + 2))) return err;
        err = sq_json_escape(s, n, b->data + b->len + 1, b->cap - b->len - 2, &out);
    }
    if (err) return err;
    b->data[b->len + 1 + out] = '"';
    b->len += out + 2;
    return 0;
}

/* Python's repr(float): the shortest digits that read back as the same
 * double, in fixed notation for exponents -4 to 15 (with ".0" when
 * integral), otherwise d.ddde+XX. */
static int put_real(sq_buf *b, double v) {
    char e[40], out[64];
    if (v != v) return sq__buf_append(b, "NaN", 3);
    if (v == 1.0 / 0.0) return sq__buf_append(b, "Infinity", 8);
    if (v == -1.0 / 0.0) return sq__buf_append(b, "-Infinity", 9);
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e: [-]D[.DDD]e[+-]XX */
    const char *q = e;
    size_t n = 0;
    if (*q == '-') out[n++] = *q++;
    char digits[20];
    size_t nd = 0;
    while (*q && *q != 'e') {
        if (*q != '.') digits[nd++] = *q;
        q++;
    }
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++) out[n++] = (size_t)i < nd ? digits[i] : '0';
            out[n++] = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t i = (size_t)exp + 1; i < nd; i++) out[n++] = digits[i];
            else
                out[n++] = '0';
        } else {
            out[n++] = '0';
            out[n++] = '.';
            for (int i = 0; i < -exp - 1; i++) out[n++] = '0';
            for (size_t i = 0; i < nd; i++) out[n++] = digits[i];
        }
    } else {
        out[n++] = digits[0];
        if (nd > 1) {
            out[n++] = '.';
            for (size_t i = 1; i < nd; i++) out[n++] = digits[i];
        }
        n += (size_t)snprintf(out + n, sizeof out - n, "e%c%02d", exp < 0 ? '-' : '+',
                              exp < 0 ? -exp : exp);
    }
    return sq__buf_append(b, out, n);
}

static int put_json(sq_buf *b, const json_t *j, int depth) {
    int err = 0;
    if (depth > 1000) return SQ_EINVAL; /* Python's recursion limit, roughly */
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if ((err = sq__buf_append(b, "{", 1))) return err;
        const char *key;
        json_t *val;
        bool first = true;
        void *it = json_object_iter((json_t *)j);
        for (; it; it = json_object_iter_next((json_t *)j, it)) {
            key = json_object_iter_key(it);
            val = json_object_iter_value(it);
            if (!first && (err = sq__buf_append(b, ", ", 2))) return err;
            first = false;
            if ((err = put_str(b, key, strlen(key))) || (err = sq__buf_append(b, ": ", 2)) ||
                (err = put_json(b, val, depth + 1)))
                return err;
        }
        return sq__buf_append(b, "}", 1);
    }
    case JSON_ARRAY: {
        if ((err = sq__buf_append(b, "[", 1))) return err;
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i && (err = sq__buf_append(b, ", ", 2))) return err;
            if ((err = put_json(b, json_array_get(j, i), depth + 1))) return err;
        }
        return sq__buf_append(b, "]", 1);
    }
    case JSON_STRING: return put_str(b, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: {
        char num[24];
        json_int_t v = json_integer_value(j);
        size_t n = 0;
        uint64_t u = (uint64_t)v;
        if (v < 0) {
            num[n++] = '-';
            u = 0 - u;
        }
        n += sq__u64toa(u, num + n);
        return sq__buf_append(b, num, n);
    }
    case JSON_REAL: return put_real(b, json_real_value(j));
    case JSON_TRUE: return sq__buf_append(b, "true", 4);
    case JSON_FALSE: return sq__buf_append(b, "false", 5);
    case JSON_NULL: return sq__buf_append(b, "null", 4);
    }
    return SQ_EINVAL;
}

int sq_write_json(sq_req *req, const json_t *json) {
    int err = check_writable(req);
    if (err) return err;
    if (req->closed) return SQ_ECLOSED;
    if (!json || !json_is_object(json)) return SQ_EINVAL;
    size_t mark = req->out.len;
    if ((err = put_json(&req->out, json, 0))) {
        req->out.len = mark;
        return err;
    }
    req->ctype = json_ctype;
    return 0;
}

int sq_write_json_str(sq_req *req, const char *json) {
    int err = sq_write(req, json, strlen(json));
    if (!err) req->ctype = json_ctype;
    return err;
}

/* ---- sending ---- */

static bool no_body_status(int s) { return s < 200 || s == 204 || s == 304; }

/* Headers and status to the HTTP request; Content-Type too unless
 * with_ctype is false (sq_http_respond takes it separately). */
static int emit_head(sq_req *r, bool with_ctype) {
    sq_http_req *h = r->http;
    int err = 0;
    if ((r->status != 200 || r->reason) && (err = sq_http_set_status(h, r->status, r->reason)))
        return err;
    if (with_ctype && r->ctype && !no_body_status(r->status) &&
        (err = sq_http_add_header(h, "Content-Type", 12, r->ctype, strlen(r->ctype))))
        return err;
    for (uint32_t i = 0; i < r->nhdrs; i++)
        if ((err = sq_http_add_header(h, r->hdrs[i].name, r->hdrs[i].name_len, r->hdrs[i].value,
                                      r->hdrs[i].value_len)))
            return err;
    return 0;
}

/* ---- compress_response: Tornado's GZipContentEncoding ---- */

#define SQ_GZIP_MIN_LENGTH 1024

static bool compressible(const char *ctype) {
    if (!ctype) return false;
    size_t n = strcspn(ctype, ";");
    while (n && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t')) n--;
    if (n > 5 && sq__ieq(ctype, 5, "text/", 5)) return true;
    static const char *const types[] = {"application/javascript", "application/x-javascript",
                                        "application/xml",        "application/atom+xml",
                                        "application/json",       "application/xhtml+xml",
                                        "image/svg+xml"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (sq__ieq(ctype, n, types[i], strlen(types[i]))) return true;
    return false;
}

void sq__gzip_end(sq_req *r);
void sq__gzip_end(sq_req *r) {
    if (!r->gz) return;
    deflateEnd(r->gz);
    free(r->gz);
    r->gz = NULL;
}

static sq_hdr *find_hdr(sq_req *r, const char *name) {
    size_t n = strlen(name);
    for (uint32_t i = 0; i < r->nhdrs; i++)
        if (sq__ieq(r->hdrs[i].name, r->hdrs[i].name_len, name, n)) return &r->hdrs[i];
    return NULL;
}

/* Compresses the pending output in place (out holds gzip bytes after). */
static int gz_run(sq_req *r, int mode) {
    sq_buf z = {0};
    size_t bound = deflateBound(r->gz, r->out.len) + 64;
    if (sq__buf_reserve(&z, bound)) return SQ_ENOMEM;
    r->gz->next_in = (Bytef *)r->out.data;
    r->gz->avail_in = (uInt)r->out.len;
    int zr;
    do {
        if (z.cap - z.len < 64 && sq__buf_reserve(&z, 4096)) {
            sq__buf_free(&z);
            return SQ_ENOMEM;
        }
        r->gz->next_out = (Bytef *)z.data + z.len;
        r->gz->avail_out = (uInt)(z.cap - z.len);
        zr = deflate(r->gz, mode);
        z.len = z.cap - r->gz->avail_out;
    } while (zr == Z_OK && (r->gz->avail_in || r->gz->avail_out == 0 || mode == Z_FINISH));
    if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
        sq__buf_free(&z);
        return SQ_ENOMEM;
    }
    sq__buf_free(&r->out);
    r->out = z;
    return 0;
}

/* The first flush or the finish: Vary always, and gzip when the client
 * takes it (HTTP/1.1, "gzip" in Accept-Encoding), the type compresses,
 * the response has no Content-Encoding of its own, and a finished body
 * has at least 1024 bytes. */
static int gz_decide(sq_req *r, bool finishing) {
    r->gz_decided = true;
    if (!r->app->settings.compress_response) return 0;
    sq_hdr *vary = find_hdr(r, "Vary");
    if (vary) {
        size_t n = vary->value_len + 18;
        char *v = sq__arena_alloc(&r->arena, n);
        if (!v) return SQ_ENOMEM;
        snprintf(v, n, "%s, Accept-Encoding", vary->value);
        vary->value = v;
        vary->value_len = (uint32_t)strlen(v);
    } else if (header_common(r, "Vary", "Accept-Encoding", false)) {
        return SQ_ENOMEM;
    }
    if (no_body_status(r->status) || sq_http_req_method(r->http) == SQ_HTTP_HEAD) return 0;
    const sq_http_head *h = sq_http_req_head(r->http);
    size_t ael;
    const char *ae = sq__header_n(r, "Accept-Encoding", &ael);
    bool takes = false;
    for (size_t i = 0; ae && i + 4 <= ael && !takes; i++) takes = memcmp(ae + i, "gzip", 4) == 0;
    if (!takes || h->version_minor < 1 || !compressible(r->ctype) || find_hdr(r, "Content-Encoding") ||
        (finishing && r->out.len < SQ_GZIP_MIN_LENGTH))
        return 0;
    r->gz = calloc(1, sizeof *r->gz);
    if (!r->gz) return SQ_ENOMEM;
    if (deflateInit2(r->gz, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(r->gz);
        r->gz = NULL;
        return SQ_ENOMEM;
    }
    /* On failure the response goes out uncompressed. */
    if (header_common(r, "Content-Encoding", "gzip", true)) {
        sq__gzip_end(r);
        return SQ_ENOMEM;
    }
    if (gz_run(r, finishing ? Z_FINISH : Z_SYNC_FLUSH)) { /* out is left as it was */
        remove_headers(r, "Content-Encoding", 16);
        sq__gzip_end(r);
        return SQ_ENOMEM;
    }
    sq_hdr *cl = find_hdr(r, "Content-Length");
    if (cl && finishing) {
        char num[24];
        size_t n = sq__u64toa(r->out.len, num);
        char *v = sq_req_strndup(r, num, n);
        if (!v) return SQ_ENOMEM;
        cl->value = v;
        cl->value_len = (uint32_t)n;
    } else if (cl) {
        remove_headers(r, "Content-Length", 14);
    }
    return 0;
}

static void flush_tramp(sq_http_req *h, int status, void *arg) {
    sq_req *r = arg;
    void (*cb)(sq_req *, int, void *) = r->flush_cb;
    r->flush_cb = NULL;
    if (!cb) return;
    r->depth++;
    /* The server reports a dead connection to the flush callback, then
     * calls the close callback on the same request: a finish from inside
     * the first must leave the HTTP request alive for the second. */
    bool dead = status < 0 && !r->in_flush_error;
    if (dead) r->in_flush_error = r->closed = true;
    cb(r, status, r->flush_arg);
    if (dead) r->in_flush_error = false;
    r->depth--;
    sq__req_release_maybe(r);
}

int sq_flush(sq_req *req, void (*done)(sq_req *req, int status, void *arg), void *arg) {
    int err = check_writable(req);
    if (err) return err;
    if (req->closed) return SQ_ECLOSED;
    if (done && req->flush_cb) return SQ_EBUSY;
    if (!req->flushed) {
        if (!req->gz_decided && (err = gz_decide(req, false))) return err;
        if ((err = emit_head(req, true))) return err;
        req->flushed = true;
    } else if (req->gz && req->out.len && (err = gz_run(req, Z_SYNC_FLUSH))) {
        return err;
    }
    if (req->out.len) {
        if ((err = sq_http_write(req->http, req->out.data, req->out.len))) return err;
        req->out.len = 0;
    }
    if (done) {
        req->flush_cb = done;
        req->flush_arg = arg;
        err = sq_http_flush(req->http, flush_tramp, req);
        if (err) req->flush_cb = NULL;
        return err;
    }
    return sq_http_flush(req->http, NULL, NULL);
}

static const char hexd[] = "0123456789abcdef";

/* Tornado's compute_etag over the unflushed body, with the app's reused
 * digest context (no allocation per request). */
static size_t etag_sha1(sq_req *r, char out[SQ_ETAG_SIZE]) {
    sq_app *app = r->app;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_DigestInit_ex(app->md_ctx, app->sha1, NULL) ||
        (r->out.len && !EVP_DigestUpdate(app->md_ctx, r->out.data, r->out.len)) ||
        !EVP_DigestFinal_ex(app->md_ctx, md, &mdlen) || mdlen != 20)
        return 0;
    out[0] = '"';
    for (unsigned i = 0; i < 20; i++) {
        out[1 + 2 * i] = hexd[md[i] >> 4];
        out[2 + 2 * i] = hexd[md[i] & 15];
    }
    out[41] = '"';
    out[42] = 0;
    return 42;
}

/* 8 lowercase hex digits of x, most significant first, without a loop:
 * each nibble is spread into a byte, then turned into '0'-'9' or 'a'-'f'
 * with one add and a carry mask. */
static inline void hex32(uint32_t x, char *out) {
    uint64_t v = x;
    v = (v | (v << 16)) & 0x0000ffff0000ffffull;
    v = (v | (v << 8)) & 0x00ff00ff00ff00ffull;
    v = (v | (v << 4)) & 0x0f0f0f0f0f0f0f0full;
    uint64_t letters = ((v + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
    v += 0x3030303030303030ull + letters * ('a' - '0' - 10);
    v = __builtin_bswap64(v); /* the most significant nibble first in memory */
    memcpy(out, &v, 8);
}

/* 16 lowercase hex digits of v, most significant first. */
static inline void hex64(uint64_t v, char *out) {
    hex32((uint32_t)(v >> 32), out);
    hex32((uint32_t)v, out + 8);
}

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t fmix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

/* The default ETag: a 128-bit hash of the body (two multiply-rotate lanes
 * over 8-byte words, MurmurHash3's finaliser), '"' + 32 hex digits + '"'.
 * Not cryptographic: it only has to change when the body changes, and an
 * accidental collision between two versions of one resource is a 2^-128
 * event. Stable across processes and builds (little-endian word order). */
static size_t etag_fast(const char *p, size_t n, char out[SQ_ETAG_SIZE]) {
    uint64_t h1 = 0x9e3779b97f4a7c15ull ^ n, h2 = 0xc2b2ae3d27d4eb4full + n;
    const uint64_t c1 = 0x87c37b91114253d5ull, c2 = 0x4cf5ad432745937full;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint64_t a, b;
        memcpy(&a, p + i, 8);
        memcpy(&b, p + i + 8, 8);
        h1 = rotl64(h1 ^ (a * c1), 31) * c2 + h2;
        h2 = rotl64(h2 ^ (b * c2), 33) * c1 + h1;
    }
    uint64_t a = 0, b = 0;
    size_t rest = n - i;
    if (rest > 8) {
        memcpy(&a, p + i, 8);
        memcpy(&b, p + i + 8, rest - 8);
    } else if (rest) {
        memcpy(&a, p + i, rest);
    }
    h1 = rotl64(h1 ^ (a * c1), 31) * c2 + h2;
    h2 = rotl64(h2 ^ (b * c2), 33) * c1 + h1;
    h1 = fmix64(h1 + h2);
    h2 = fmix64(h2 + h1);
    out[0] = '"';
    hex64(h1, out + 1);
    hex64(h2, out + 17);
    out[33] = '"';
    out[34] = 0;
    return 34;
}

static void access_log(sq_req *r) {
    sq_app *app = r->app;
    int st = r->status;
    const sq_http_head *h = sq_http_req_head(r->http);
    const char *ip = sq_req_remote_ip(r);
    r->end_ns = uv_hrtime();
    double ms = sq_req_time(r) * 1000.0;
    char line[1024];
    int n = snprintf(line, sizeof line, "%d %.*s %.*s (%s) %.2fms", st, (int)h->method_len,
                     h->method, (int)(h->target_len > 800 ? 800 : h->target_len), h->target,
                     ip ? ip : "", ms);
    (void)n;
    sq_log_level lv = st < 400 ? SQ_LOG_INFO : st < 500 ? SQ_LOG_WARNING : SQ_LOG_ERROR;
    app->settings.access_log(r, lv, line, app->settings.access_log_arg);
}

int sq_finish(sq_req *req) {
    sq_req *r = req;
    if (r->finished) return SQ_ESTATE;
    r->depth++;
    sq_http_req *h = r->http;
    int err = 0;
    sq_http_method m = sq_http_req_method(h);
    if (!r->flushed && !r->closed) {
        if (r->status == 200 && (m == SQ_HTTP_GET || m == SQ_HTTP_HEAD) && !r->has_etag &&
            !r->app->settings.no_etag) {
            char etag[SQ_ETAG_SIZE];
            size_t elen = r->app->sha1 ? etag_sha1(r, etag) : etag_fast(r->out.data, r->out.len, etag);
            if (elen) {
                size_t inm_len;
                const char *inm = sq_http_req_header(h, "If-None-Match", &inm_len);
                if (sq_http_add_header(h, "Etag", 4, etag, elen) == 0 && inm &&
                    sq_etag_matches(inm, inm_len, etag, elen)) {
                    r->status = 304;
                    r->out.len = 0;
                }
            }
        }
        if (no_body_status(r->status)) r->out.len = 0;
        if (!r->gz_decided && r->app->settings.compress_response) (void)gz_decide(r, true);
    } else if (r->gz && !r->closed) {
        (void)gz_run(r, Z_FINISH);
    }
    if (r->app->settings.access_log) access_log(r);
    if (r->handler && r->handler->on_finish) {
        /* on_finish runs after the HTTP request is gone: keep what it
         * usually logs. */
        sq_req_method(r);
        sq_req_uri(r);
        sq_req_path(r);
        sq_req_query(r);
        sq_req_remote_ip(r);
    }
    r->finished = true;
    if (!r->in_flush_error) sq_http_req_on_close(h, NULL, NULL);
    if (r->in_flush_error) {
        r->http_pending = true; /* on_close, which follows, finishes it */
        err = SQ_ECLOSED;
    } else if (r->closed) {
        err = sq_http_finish(h);
    } else if (r->flushed) {
        if (r->out.len) (void)sq_http_write(h, r->out.data, r->out.len);
        err = sq_http_finish(h);
    } else if (!r->reason) {
        if ((err = emit_head(r, false)) == 0)
            err = sq_http_respond(h, r->status, no_body_status(r->status) ? NULL : r->ctype,
                                  r->out.data, r->out.len);
        else
            (void)sq_http_respond(h, 500, NULL, NULL, 0);
    } else {
        if ((err = emit_head(r, true)) == 0) err = sq_http_write(h, r->out.data, r->out.len);
        int ferr = sq_http_finish(h);
        if (!err) err = ferr;
    }
    r->out.len = 0;
    r->http = NULL;
    if (r->handler && r->handler->on_finish && r->phase != SQ_PH_HEAD) r->handler->on_finish(r);
    r->depth--;
    sq__req_release_maybe(r);
    return err;
}

/* ---- errors ---- */

static bool wants_json(sq_req *r) {
    size_t n;
    const char *a = sq__header_n(r, "Accept", &n);
    if (!a) return false;
    static const char needle[] = "application/json";
    for (size_t i = 0; i + sizeof needle - 1 <= n; i++)
        if (sq__ieq(a + i, sizeof needle - 1, needle, sizeof needle - 1)) return true;
    return false;
}

static void default_write_error(sq_req *r, int status) {
    const char *reason = r->reason ? r->reason : sq_http_reason(status);
    const char *detail = r->app->settings.debug ? r->err_detail : NULL;
    char esc[512], desc[1024];
    size_t el = 0, dl = 0;
    if (wants_json(r)) {
        if (sq_json_escape(reason, strlen(reason), esc, sizeof esc, &el)) el = 0;
        if (detail && sq_json_escape(detail, strlen(detail), desc, sizeof desc, &dl)) dl = 0;
        if (detail)
            sq_writef(r, "{\"error\": {\"code\": %d, \"message\": \"%.*s\", \"detail\": \"%.*s\"}}",
                      status, (int)el, esc, (int)dl, desc);
        else
            sq_writef(r, "{\"error\": {\"code\": %d, \"message\": \"%.*s\"}}", status, (int)el, esc);
        r->ctype = json_ctype;
        return;
    }
    if (sq_xhtml_escape(reason, strlen(reason), esc, sizeof esc, &el)) el = 0;
    if (detail) {
        if (sq_xhtml_escape(detail, strlen(detail), desc, sizeof desc, &dl)) dl = 0;
        sq_writef(r, "<html><title>%d: %.*s</title><body>%d: %.*s<pre>%.*s</pre></body></html>",
                  status, (int)el, esc, status, (int)el, esc, (int)dl, desc);
    } else {
        sq_writef(r, "<html><title>%d: %.*s</title><body>%d: %.*s</body></html>", status, (int)el,
                  esc, status, (int)el, esc);
    }
}

int sq__send_error_detail(sq_req *r, int status, const char *reason, const char *detail) {
    if (r->finished) return SQ_ESTATE;
    if (detail) r->err_detail = detail;
    /* Sent again from write_error or from the set_default_headers it runs:
     * finish with what is there rather than recurse. */
    if (r->flushed || r->closed || r->in_error) return sq_finish(r);
    r->depth++;
    r->in_error = true;
    sq__reset_output(r);
    if (r->handler->set_default_headers && r->phase != SQ_PH_HEAD) r->handler->set_default_headers(r);
    if (!r->finished) {
        if (sq_set_status(r, status, reason)) sq_set_status(r, 500, NULL);
        r->error_sent = true;
        if (r->status == 405) {
            char allow[80];
            sq_set_header(r, "Allow", sq__allow_header(r, allow, sizeof allow));
        }
        if (r->status != 304) {
            if (r->handler->write_error) r->handler->write_error(r, r->status);
            else default_write_error(r, r->status);
        }
    }
    r->in_error = false;
    r->depth--;
    if (!r->finished) return sq_finish(r);
    sq__req_release_maybe(r);
    return 0;
}

int sq_send_error(sq_req *req, int status, const char *reason) {
    return sq__send_error_detail(req, status, reason, NULL);
}

int sq_redirect(sq_req *req, const char *url, int status) {
    if (req->finished || req->flushed) return SQ_ESTATE;
    if (status == 0) status = 302;
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
        return SQ_EINVAL;
    int err = sq_set_header(req, "Location", url);
    if (err) return err;
    req->status = status;
    req->reason = NULL;
    return sq_finish(req);
}

/* ---- cookies ---- */

int sq_set_cookie(sq_req *req, const char *name, const char *value, const sq_cookie_attrs *attrs) {
    int err = check_head_open(req);
    if (err) return err;
    sq_cookie_attrs a = {0};
    if (attrs) a = *attrs;
    if (!a.path) a.path = "/";
    size_t need = 0;
    char small[512];
    err = sq_cookie_format(small, sizeof small, name, value, &a, &need);
    const char *line = small;
    if (err == SQ_ELIMIT) {
        char *big = sq__arena_alloc(&req->arena, need + 1);
        if (!big) return SQ_ENOMEM;
        err = sq_cookie_format(big, need + 1, name, value, &a, &need);
        line = big;
    }
    if (err) return err;
    /* Tornado keeps one Set-Cookie per name: a later set replaces it. */
    size_t nl = strlen(name);
    uint32_t j = 0;
    for (uint32_t i = 0; i < req->nhdrs; i++) {
        sq_hdr *h = &req->hdrs[i];
        if (sq__ieq(h->name, h->name_len, "set-cookie", 10) && h->value_len > nl &&
            memcmp(h->value, name, nl) == 0 && h->value[nl] == '=')
            continue;
        req->hdrs[j++] = *h;
    }
    req->nhdrs = j;
    return sq_add_header(req, "Set-Cookie", line);
}

int sq_clear_cookie(sq_req *req, const char *name, const char *path, const char *domain) {
    sq_cookie_attrs a = {0};
    a.path = path ? path : "/";
    a.domain = domain;
    a.expires = (int64_t)time(NULL) - 365 * 86400;
    return sq_set_cookie(req, name, "", &a);
}

int sq_clear_all_cookies(sq_req *req, const char *path, const char *domain) {
    size_t hl;
    const char *h = sq__header_n(req, "Cookie", &hl);
    if (!h) return 0;
    char *buf = sq__arena_alloc(&req->arena, hl + 1);
    if (!buf) return SQ_ENOMEM;
    sq_cookie_iter it;
    sq_cookie_init(&it, h, hl, buf, hl + 1);
    const char *n, *v;
    size_t nl, vl;
    int rc, err = 0;
    while ((rc = sq_cookie_next(&it, &n, &nl, &v, &vl)) != 0) {
        if (rc < 0 || !sq_cookie_name_valid(n, nl)) continue;
        char *name = sq_req_strndup(req, n, nl);
        if (!name) return SQ_ENOMEM;
        int e = sq_clear_cookie(req, name, path, domain);
        if (e && !err) err = e;
    }
    return err;
}

int sq_set_signed_cookie(sq_req *req, const char *name, const void *value, size_t len,
                         double expires_days) {
    sq_app *app = req->app;
    if (!app->secret.secret && !app->secret.keys) return SQ_EINVAL;
    if (expires_days <= 0) expires_days = 30;
    int64_t now = (int64_t)time(NULL);
    size_t need = 0;
    int err = sq_signed_value_create(&app->secret, 2, app->settings.key_version, name, strlen(name),
                                     value, len, now, NULL, 0, &need);
    if (err != SQ_ELIMIT && err) return err;
    char *buf = sq__arena_alloc(&req->arena, need + 1);
    if (!buf) return SQ_ENOMEM;
    err = sq_signed_value_create(&app->secret, 2, app->settings.key_version, name, strlen(name),
                                 value, len, now, buf, need + 1, &need);
    if (err) return err;
    buf[need] = 0;
    sq_cookie_attrs a = {0};
    a.expires = now + (int64_t)(expires_days * 86400);
    return sq_set_cookie(req, name, buf, &a);
}

/* ---- XSRF ---- */

const char *sq_xsrf_token(sq_req *req) {
    if (req->xsrf_token) return req->xsrf_token;
    const char *cookie = sq_get_cookie(req, "_xsrf", NULL);
    uint8_t token[64];
    size_t tlen = 0;
    int64_t ts = 0;
    int version = 0;
    bool have = false;
    if (cookie && sq_xsrf_decode(cookie, strlen(cookie), token, sizeof token, &tlen, &version,
                                 &ts) == 0 && tlen > 0)
        have = true;
    if (!have) {
        if (RAND_bytes(token, SQ_XSRF_TOKEN_SIZE) != 1) return NULL;
        tlen = SQ_XSRF_TOKEN_SIZE;
        ts = (int64_t)time(NULL);
    } else if (version == 1 || ts == 0) {
        ts = (int64_t)time(NULL);
    }
    uint8_t mask[4];
    if (RAND_bytes(mask, 4) != 1) return NULL;
    size_t cap = 2 * tlen + 40, n = 0;
    char *out = sq__arena_alloc(&req->arena, cap);
    if (!out || sq_xsrf_encode(token, tlen, mask, ts, out, cap - 1, &n)) return NULL;
    out[n] = 0;
    if (!have) {
        sq_cookie_attrs a = req->app->settings.xsrf_cookie_attrs;
        /* Tornado: a logged-in user's token lasts 30 days, otherwise it is
         * a session cookie. */
        if (!a.expires && sq_current_user(req)) a.expires = (int64_t)time(NULL) + 30 * 86400;
        if (sq_set_cookie(req, "_xsrf", out, &a)) return NULL;
    }
    req->xsrf_token = out;
    return out;
}

const char *sq_xsrf_form_html(sq_req *req) {
    const char *t = sq_xsrf_token(req);
    if (!t) return NULL;
    size_t tl = strlen(t), el = 0;
    size_t cap = 6 * tl + 64;
    char *out = sq__arena_alloc(&req->arena, cap);
    if (!out) return NULL;
    static const char pre[] = "<input type=\"hidden\" name=\"_xsrf\" value=\"";
    memcpy(out, pre, sizeof pre - 1);
    if (sq_xhtml_escape(t, tl, out + sizeof pre - 1, cap - sizeof pre - 4, &el)) return NULL;
    memcpy(out + sizeof pre - 1 + el, "\"/>", 4);
    return out;
}

int sq__check_xsrf(sq_req *r) {
    const char *tok = sq_get_argument(r, "_xsrf", NULL);
    if (r->finished) return SQ_ESTATE;
    if (!tok) tok = sq_req_header(r, "X-Xsrftoken");
    if (!tok) tok = sq_req_header(r, "X-Csrftoken");
    if (!tok) {
        sq__send_error_detail(r, 403, NULL, "'_xsrf' argument missing from POST");
        return SQ_EPROTO;
    }
    const char *cookie = sq_get_cookie(r, "_xsrf", NULL);
    int rc = sq_xsrf_check(tok, strlen(tok), cookie, cookie ? strlen(cookie) : 0);
    if (rc != 1) {
        sq__send_error_detail(r, 403, NULL,
                              rc == 0 ? "XSRF cookie does not match POST argument"
                                      : "'_xsrf' argument has invalid format");
        return SQ_EPROTO;
    }
    return 0;
}

void *sq_current_user(sq_req *req) {
    if (!req->user_known) {
        req->user_known = true;
        if (req->handler && req->handler->get_current_user)
            req->current_user = req->handler->get_current_user(req);
    }
    return req->current_user;
}

void sq_set_current_user(sq_req *req, void *user) {
    req->user_known = true;
    req->current_user = user;
}

bool sq_require_user(sq_req *req) { return sq_authenticated(req, sq_current_user(req)); }

bool sq_authenticated(sq_req *req, const void *current_user) {
    if (current_user) return true;
    if (req->finished) return false;
    sq_http_method m = sq_http_req_method(req->http);
    const char *login = req->app->settings.login_url;
    if ((m == SQ_HTTP_GET || m == SQ_HTTP_HEAD) && login) {
        if (strchr(login, '?')) {
            sq_redirect(req, login, 302);
            return false;
        }
        const char *uri = sq_req_uri(req);
        char *next = (char *)uri;
        if (strstr(login, "://")) { /* an absolute login URL gets the full URL back */
            const char *proto = sq_req_protocol(req), *host = sq_req_host(req);
            size_t n = strlen(proto) + strlen(host) + strlen(uri) + 4;
            next = sq__arena_alloc(&req->arena, n);
            if (!next) return false;
            snprintf(next, n, "%s://%s%s", proto, host, uri);
        }
        size_t nl = strlen(next), el = 0, ll = strlen(login);
        char *url = sq__arena_alloc(&req->arena, ll + 6 + 3 * nl + 1);
        if (!url) return false;
        memcpy(url, login, ll);
        memcpy(url + ll, "?next=", 6);
        sq_url_escape(next, nl, url + ll + 6, 3 * nl + 1, true, &el);
        url[ll + 6 + el] = 0;
        sq_redirect(req, url, 302);
        return false;
    }
    sq_send_error(req, 403, NULL);
    return false;
}

/* Tornado's @removeslash and @addslash. */
static bool slash_rule(sq_req *req, bool add) {
    if (req->finished) return false;
    size_t pl, ql;
    const char *path = sq_http_req_path(req->http, &pl);
    const char *q = sq_http_req_query(req->http, &ql);
    bool ends = pl && path[pl - 1] == '/';
    if (add ? ends : !ends) return true;
    sq_http_method m = sq_http_req_method(req->http);
    if (m != SQ_HTTP_GET && m != SQ_HTTP_HEAD) {
        sq_send_error(req, 404, NULL);
        return false;
    }
    size_t keep = pl;
    if (!add)
        while (keep && path[keep - 1] == '/') keep--;
    if (!add && keep == 0) {
        sq_send_error(req, 404, NULL);
        return false;
    }
    char *uri = sq__arena_alloc(&req->arena, keep + ql + 3);
    if (!uri) return false;
    size_t n = 0;
    memcpy(uri, path, keep), n = keep;
    if (add) uri[n++] = '/';
    if (ql) {
        uri[n++] = '?';
        memcpy(uri + n, q, ql);
        n += ql;
    }
    uri[n] = 0;
    if (sq_redirect(req, uri, 301)) sq_send_error(req, 400, NULL);
    return false;
}

bool sq_removeslash(sq_req *req) { return slash_rule(req, false); }
bool sq_addslash(sq_req *req) { return slash_rule(req, true); }
