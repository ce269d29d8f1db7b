/* Shared by the HTTP fuzz targets: parse a byte stream as a server or a
 * client reads it, and write down everything the parser says, so that runs
 * fed in different pieces can be compared byte for byte.
 *
 * A run checks invariants as it goes and traps on any violation:
 *   - every pointer of a head or a span lies inside the buffer of that call;
 *   - header names are non-empty tokens, values carry no CR, LF or edge
 *     whitespace, num_headers <= max_headers;
 *   - an incomplete head leaves p->scanned at the end of what it was given
 *     (a head fed byte by byte is validated in linear time);
 *   - a call never consumes more than it was given, and always makes
 *     progress while the body is not done;
 *   - a Content-Length body delivers exactly content_length bytes;
 *   - a failed call names an error, with the class (SQ_ELIMIT or SQ_EPROTO)
 *     that matches it.
 */
#ifndef SQUALL_FUZZ_HTTP_H
#define SQUALL_FUZZ_HTTP_H

#include "squall/http_parser.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

typedef struct {
    uint8_t *p;
    size_t len, cap;
} tbuf;

static void t_add(tbuf *t, const void *d, size_t n) {
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n) cap *= 2;
        t->p = realloc(t->p, cap);
        CHECK(t->p);
        t->cap = cap;
    }
    if (n) memcpy(t->p + t->len, d, n);
    t->len += n;
}

static void t_u64(tbuf *t, uint64_t v) { t_add(t, &v, sizeof v); }
static void t_tag(tbuf *t, char c) { t_add(t, &c, 1); }
static void t_str(tbuf *t, const char *s, size_t n) {
    t_u64(t, n);
    t_add(t, s, n);
}

typedef struct {
    sq_http_kind kind;
    uint32_t options, max_head, max_line, max_headers;
    uint64_t max_body;
    int eof; /* tell the parser the connection closed at the end */
} fz_cfg;

/* How the input arrives. */
enum { FEED_WHOLE, FEED_SPLIT, FEED_BYTES };

static bool in_buf(const char *x, size_t n, const char *buf, size_t len) {
    if (n == 0) return true;
    return x >= buf && x + n <= buf + len && x + n >= x;
}

static bool is_limit(sq_http_error e) {
    return e == SQ_HTTP_E_TARGET_TOO_LONG || e == SQ_HTTP_E_TOO_MANY_HEADERS ||
           e == SQ_HTTP_E_HEAD_TOO_LARGE || e == SQ_HTTP_E_BODY_TOO_LARGE ||
           e == SQ_HTTP_E_CHUNK_EXTENSION;
}

static void check_err(const sq_http_parser *p, int64_t r) {
    CHECK(r == SQ_EPROTO || r == SQ_ELIMIT);
    CHECK(p->error != SQ_HTTP_E_OK);
    if (r == SQ_ELIMIT) CHECK(is_limit(p->error));
    else CHECK(p->error != SQ_HTTP_E_TOO_MANY_HEADERS && p->error != SQ_HTTP_E_HEAD_TOO_LARGE &&
               p->error != SQ_HTTP_E_BODY_TOO_LARGE && p->error != SQ_HTTP_E_TARGET_TOO_LONG);
}

static void check_field(const char *n, size_t nl, const char *v, size_t vl) {
    CHECK(nl > 0);
    for (size_t i = 0; i < nl; i++) CHECK(n[i] > 0x20 && n[i] != ':' && n[i] != 0x7f);
    for (size_t i = 0; i < vl; i++) CHECK(v[i] != '\r' && v[i] != '\n' && v[i] != 0);
    if (vl) {
        CHECK(v[0] != ' ' && v[0] != '\t');
        CHECK(v[vl - 1] != ' ' && v[vl - 1] != '\t');
    }
}

static void record_head(tbuf *t, const sq_http_head *h, const char *buf, size_t n) {
    t_tag(t, 'H');
    t_u64(t, n);
    CHECK(in_buf(h->method, h->method_len, buf, n));
    CHECK(in_buf(h->target, h->target_len, buf, n));
    CHECK(in_buf(h->reason, h->reason_len, buf, n));
    CHECK(in_buf(h->host, h->host_len, buf, n));
    CHECK(h->num_headers <= h->max_headers);
    t_str(t, h->method ? h->method : "", h->method_len);
    t_str(t, h->target ? h->target : "", h->target_len);
    t_str(t, h->reason ? h->reason : "", h->reason_len);
    t_str(t, h->host ? h->host : "", h->host_len);
    t_u64(t, (uint64_t)h->method_id << 32 | (uint64_t)h->status << 16 | h->version_major << 8 |
                 h->version_minor);
    t_u64(t, h->flags);
    t_u64(t, h->body);
    t_u64(t, h->content_length);
    t_u64(t, h->num_headers);
    for (uint32_t i = 0; i < h->num_headers; i++) {
        const sq_http_header *x = &h->headers[i];
        CHECK(in_buf(x->name, x->name_len, buf, n));
        CHECK(in_buf(x->value, x->value_len, buf, n));
        check_field(x->name, x->name_len, x->value, x->value_len);
        t_str(t, x->name, x->name_len);
        t_str(t, x->value, x->value_len);
    }
    if (h->body == SQ_HTTP_BODY_LENGTH) CHECK(h->content_length > 0);
    else CHECK(h->content_length == 0);
    if (h->flags & SQ_HTTP_F_HAS_HOST) CHECK(h->host != NULL);
}

static char *fz_copy(const uint8_t *s, size_t n) {
    char *d = malloc(n ? n : 1);
    CHECK(d);
    if (n) memcpy(d, s, n);
    return d;
}

/* Parses in[0, len) and writes what happens into t. FEED_SPLIT delivers
 * [0, k) then the rest, each call getting a fresh buffer of exactly the
 * bytes it may read; FEED_BYTES delivers one more byte per call. */
static void fz_run(const fz_cfg *c, const uint8_t *in, size_t len, int mode, size_t k, tbuf *t) {
    sq_http_parser p;
    sq_http_header hdrs[64];
    sq_http_head head;
    size_t avail, pos = 0, messages = 0;
    bool in_body = false, upgrade = false;
    tbuf body = {0}, trailers = {0};
    uint64_t want = 0;
    sq_http_body_kind kind = SQ_HTTP_BODY_NONE;

    sq_http_parser_init(&p, c->kind);
    p.options = c->options;
    p.max_head = c->max_head;
    p.max_line = c->max_line;
    p.max_body = c->max_body;
    avail = mode == FEED_WHOLE ? len : mode == FEED_SPLIT ? (k < len ? k : len) : (len ? 1 : 0);

    for (;;) {
        if (!in_body) {
            if (messages && upgrade) {
                t_tag(t, 'U');
                t_u64(t, pos);
                break;
            }
            if (messages > 1000) break;
            memset(&head, 0xa5, sizeof head); /* nothing but the in-fields may be trusted */
            head.headers = hdrs;
            head.max_headers = c->max_headers;
            size_t n = avail - pos;
            char *buf = mode == FEED_BYTES ? (char *)in + pos : fz_copy(in + pos, n);
            int r = sq_http_parse_head(&p, buf, n, &head);
            if (r == SQ_INCOMPLETE) {
                CHECK(p.scanned == n); /* validated up to the end: linear time */
                if (mode != FEED_BYTES) free(buf);
                if (avail < len) {
                    avail = mode == FEED_BYTES ? avail + 1 : len;
                    continue;
                }
                t_tag(t, 'i');
                if (c->eof) t_u64(t, (uint64_t)sq_http_parse_eof(&p));
                break;
            }
            if (r < 0) {
                check_err(&p, r);
                if (mode != FEED_BYTES) free(buf);
                t_tag(t, 'E');
                t_u64(t, (uint64_t)(int64_t)r);
                t_u64(t, p.error);
                break;
            }
            CHECK((size_t)r <= n);
            record_head(t, &head, buf, (size_t)r);
            if (mode != FEED_BYTES) free(buf);
            messages++;
            pos += (size_t)r;
            upgrade = (head.flags & SQ_HTTP_F_UPGRADE) != 0;
            kind = head.body;
            want = head.content_length;
            body.len = trailers.len = 0;
            if (kind == SQ_HTTP_BODY_NONE) CHECK(sq_http_body_done(&p));
            if (sq_http_body_done(&p)) {
                t_tag(t, 'M');
                t_u64(t, pos);
            } else {
                in_body = true;
            }
            continue;
        }
        if (pos == avail) {
            if (avail < len) {
                avail = mode == FEED_BYTES ? avail + 1 : len;
                continue;
            }
            t_tag(t, 'b');
            t_str(t, (const char *)body.p, body.len);
            if (c->eof) t_u64(t, (uint64_t)sq_http_parse_eof(&p));
            break;
        }
        size_t n = avail - pos;
        char *buf = mode == FEED_BYTES ? (char *)in + pos : fz_copy(in + pos, n);
        sq_http_span span;
        int64_t r = sq_http_parse_body(&p, buf, n, &span);
        if (r < 0) {
            check_err(&p, r);
            if (mode != FEED_BYTES) free(buf);
            t_tag(t, 'e');
            t_u64(t, (uint64_t)r);
            t_u64(t, p.error);
            break;
        }
        CHECK((size_t)r <= n);
        if (span.kind != SQ_HTTP_SPAN_NONE) {
            CHECK(in_buf(span.data, span.len, buf, (size_t)r));
            CHECK(span.len > 0);
        }
        if (span.kind == SQ_HTTP_SPAN_DATA) t_add(&body, span.data, span.len);
        else if (span.kind == SQ_HTTP_SPAN_TRAILER) t_add(&trailers, span.data, span.len);
        if (mode != FEED_BYTES) free(buf);
        pos += (size_t)r;
        if (sq_http_body_done(&p)) {
            in_body = false;
            if (kind == SQ_HTTP_BODY_LENGTH) CHECK(body.len == want);
            t_tag(t, 'M');
            t_u64(t, pos);
            t_str(t, (const char *)body.p, body.len);
            t_str(t, (const char *)trailers.p, trailers.len);
            if (trailers.len) {
                sq_http_header tr[64];
                int k2 = sq_http_parse_trailers((const char *)trailers.p, trailers.len, tr, 64);
                CHECK(k2 > 0 || k2 == SQ_ELIMIT);
                for (int i = 0; i < k2; i++) {
                    CHECK(in_buf(tr[i].name, tr[i].name_len, (const char *)trailers.p, trailers.len));
                    check_field(tr[i].name, tr[i].name_len, tr[i].value, tr[i].value_len);
                }
            }
        } else {
            CHECK(r > 0 || span.kind != SQ_HTTP_SPAN_NONE); /* progress */
        }
    }
    free(body.p);
    free(trailers.p);
}

/* Runs the input whole, split at k, and byte by byte (when short enough),
 * and traps unless the three transcripts agree. */
static inline void fz_compare(const fz_cfg *c, const uint8_t *in, size_t len, size_t k) {
    tbuf a = {0}, b = {0}, d = {0};
    fz_run(c, in, len, FEED_WHOLE, 0, &a);
    fz_run(c, in, len, FEED_SPLIT, k, &b);
    CHECK(a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0));
    if (len <= 1024) {
        fz_run(c, in, len, FEED_BYTES, 0, &d);
        CHECK(a.len == d.len && (a.len == 0 || memcmp(a.p, d.p, a.len) == 0));
    }
    free(a.p);
    free(b.p);
    free(d.p);
}

/* ------------------------------------------------------------------------ */
/* A reference for the grammar of a head (RFC 9112 sections 2-5), written
 * independently of the parser and as plainly as possible: whatever head the
 * parser accepts must be grammatical here and give the same fields. (The
 * converse does not hold: the parser also refuses grammatical heads, for
 * their meaning or a limit.) */

typedef struct {
    size_t len; /* of the head, 0 when not grammatical or incomplete */
    size_t m0, m1, t0, t1, r0, r1;
    unsigned vmaj, vmin, status, nh;
    size_t n0[64], n1[64], v0[64], v1[64];
} ref_head;

static bool rh_tchar(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}
static bool rh_vchar(uint8_t c) { return c >= 0x21 && c <= 0x7e; }
static bool rh_fchar(uint8_t c) { return rh_vchar(c) || c >= 0x80 || c == ' ' || c == '\t'; }
static bool rh_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static bool rh_crlf(const uint8_t *b, size_t len, size_t *i) {
    if (*i + 1 >= len || b[*i] != '\r' || b[*i + 1] != '\n') return false;
    *i += 2;
    return true;
}

static bool rh_version(const uint8_t *b, size_t len, size_t *i, ref_head *r) {
    if (*i + 8 > len || memcmp(b + *i, "HTTP/", 5) || !rh_digit(b[*i + 5]) || b[*i + 6] != '.' ||
        !rh_digit(b[*i + 7]))
        return false;
    r->vmaj = b[*i + 5] - '0';
    r->vmin = b[*i + 7] - '0';
    *i += 8;
    return true;
}

static void ref_parse_head(sq_http_kind kind, const uint8_t *b, size_t len, ref_head *r) {
    size_t i = 0;
    memset(r, 0, sizeof *r);
    while (i + 1 < len && b[i] == '\r' && b[i + 1] == '\n') i += 2;
    if (kind == SQ_HTTP_REQUEST) {
        r->m0 = i;
        while (i < len && rh_tchar(b[i])) i++;
        r->m1 = i;
        if (r->m1 == r->m0 || i >= len || b[i++] != ' ') return;
        r->t0 = i;
        while (i < len && rh_vchar(b[i])) i++;
        r->t1 = i;
        if (r->t1 == r->t0 || i >= len || b[i++] != ' ') return;
        if (!rh_version(b, len, &i, r) || !rh_crlf(b, len, &i)) return;
    } else {
        if (!rh_version(b, len, &i, r) || i + 4 > len || b[i] != ' ') return;
        if (!rh_digit(b[i + 1]) || !rh_digit(b[i + 2]) || !rh_digit(b[i + 3])) return;
        r->status = (unsigned)(b[i + 1] - '0') * 100 + (unsigned)(b[i + 2] - '0') * 10 + (b[i + 3] - '0');
        i += 4;
        r->r0 = r->r1 = i;
        if (i < len && b[i] == ' ') {
            r->r0 = ++i;
            while (i < len && rh_fchar(b[i])) i++;
            r->r1 = i;
        }
        if (!rh_crlf(b, len, &i)) return;
    }
    for (;;) {
        if (rh_crlf(b, len, &i)) {
            r->len = i;
            return;
        }
        if (r->nh == 64) return;
        size_t n0 = i;
        while (i < len && rh_tchar(b[i])) i++;
        if (i == n0 || i >= len || b[i] != ':') return;
        r->n0[r->nh] = n0;
        r->n1[r->nh] = i++;
        while (i < len && (b[i] == ' ' || b[i] == '\t')) i++;
        size_t v0 = i;
        while (i < len && rh_fchar(b[i])) i++;
        size_t v1 = i;
        while (v1 > v0 && (b[v1 - 1] == ' ' || b[v1 - 1] == '\t')) v1--;
        r->v0[r->nh] = v0;
        r->v1[r->nh++] = v1;
        if (!rh_crlf(b, len, &i)) return;
    }
}

/* Parses the first head of in[0, len) whole; when the parser accepts it, the
 * reference must agree on every field. */
static inline void fz_check_first_head(const fz_cfg *c, const uint8_t *in, size_t len) {
    sq_http_parser p;
    sq_http_header hs[64];
    sq_http_head h = {.headers = hs, .max_headers = c->max_headers};
    sq_http_parser_init(&p, c->kind);
    p.options = c->options;
    p.max_head = c->max_head;
    p.max_line = c->max_line;
    p.max_body = c->max_body;
    int n = sq_http_parse_head(&p, (const char *)in, len, &h);
    if (n <= 0) return;
    static ref_head r;
    ref_parse_head(c->kind, in, len, &r);
    const char *b = (const char *)in;
    CHECK(r.len == (size_t)n);
    CHECK(h.version_major == r.vmaj && h.version_minor == r.vmin);
    CHECK(h.num_headers == r.nh);
    if (c->kind == SQ_HTTP_REQUEST) {
        CHECK(h.method == b + r.m0 && h.method_len == r.m1 - r.m0);
        CHECK(h.target == b + r.t0 && h.target_len == r.t1 - r.t0);
    } else {
        CHECK(h.status == r.status);
        CHECK(h.reason == b + r.r0 && h.reason_len == r.r1 - r.r0);
    }
    for (unsigned i = 0; i < r.nh; i++) {
        CHECK(hs[i].name == b + r.n0[i] && hs[i].name_len == r.n1[i] - r.n0[i]);
        CHECK(hs[i].value == b + r.v0[i] && hs[i].value_len == r.v1[i] - r.v0[i]);
    }
}

/* The first three bytes of a fuzz input choose the settings and the split. */
static inline void fz_config(fz_cfg *c, sq_http_kind kind, const uint8_t *d) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->options = d[0] & (SQ_HTTP_OPT_REQUIRE_HOST | SQ_HTTP_OPT_HEAD_RESPONSE);
    c->eof = (d[0] >> 2) & 1;
    c->max_headers = (d[0] & 0x08) ? 3 : 64;
    c->max_head = (d[0] & 0x10) ? 48 + (d[1] & 0x3f) : 65536;
    c->max_line = (d[0] & 0x20) ? 8 + (d[1] >> 6) * 8 : 8192;
    c->max_body = (d[0] & 0x40) ? d[2] : 100u << 20;
}

#endif
