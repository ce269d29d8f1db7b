/* Conformance: squall's HTTP/1.1 parser against llhttp's Markdown test
 * vectors (shared/conformance/llhttp, see PROVENANCE.md there).
 *
 * Usage: conformance_llhttp CONFORMANCE_DIR
 *
 * Every ```http block of the request and response Markdown files is one case. Cases
 * whose meta type names one of llhttp's leniency flags are skipped (squall
 * has no lenient modes). Every strict case is parsed whole and, unless its
 * meta says noScan, split at every byte offset into two feeds the way a
 * server reads: a head is re-parsed from its start with the longer buffer
 * after SQ_INCOMPLETE, a body is fed as it arrives. Each feed is copied into
 * a buffer of its exact size, so that AddressSanitizer catches a read past
 * it or a pointer kept from an earlier call.
 *
 * The expected outcome comes from the ```log block (llhttp's trace): accept
 * or reject, and for every message whose head llhttp completed its method,
 * target, version, status and reason, header fields, trailer fields, body
 * bytes, where its head ends and where (whether) it completes; then how the
 * input ends (between messages, inside a head or a body, an error, an
 * upgrade that hands the rest of the bytes over, or llhttp_finish()'s
 * verdict at EOF). Field values are compared without trailing whitespace,
 * which llhttp keeps in its spans and RFC 9110 excludes from a field value.
 *
 * llhttp's test harness reads the Markdown as JavaScript strings and feeds
 * them UTF-8 encoded, so an escape \xHH or \OOO above 0x7f stands for the
 * two UTF-8 bytes of that code point (the logged offsets and lengths
 * confirm it); the decoder here does the same.
 *
 * Prints one line per failing case and ends with "N passed, N failed,
 * N skipped"; exits non-zero on any failure.
 */
#include "squall/http_parser.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Small growable byte strings.                                             */

typedef struct {
    char *p;
    size_t len, cap;
} str;

static void s_add(str *s, const void *d, size_t n) {
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 32;
        while (cap < s->len + n + 1) cap *= 2;
        s->p = realloc(s->p, cap);
        if (!s->p) abort();
        s->cap = cap;
    }
    if (n) memcpy(s->p + s->len, d, n);
    s->len += n;
    s->p[s->len] = 0;
}
static void s_addc(str *s, char c) { s_add(s, &c, 1); }
static void s_free(str *s) {
    free(s->p);
    memset(s, 0, sizeof *s);
}
static bool s_eq(const str *a, const str *b) {
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* ------------------------------------------------------------------------ */
/* What a parse produced, or what the log says it should produce.           */

typedef struct {
    str name, value;
} field;

typedef struct {
    field *v;
    size_t n, cap;
} fields;

static void f_add(fields *f, const str *name, const str *value) {
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->v = realloc(f->v, f->cap * sizeof *f->v);
        if (!f->v) abort();
    }
    field *x = &f->v[f->n++];
    memset(x, 0, sizeof *x);
    s_add(&x->name, name->p, name->len);
    s_add(&x->value, value->p, value->len);
}

static void f_free(fields *f) {
    for (size_t i = 0; i < f->n; i++) {
        s_free(&f->v[i].name);
        s_free(&f->v[i].value);
    }
    free(f->v);
    memset(f, 0, sizeof *f);
}

typedef struct {
    str method, url, version, reason;
    int status;
    fields headers, trailers;
    str body;
    bool head_done;
    size_t head_end;
    bool complete;
    size_t complete_off;
} msg;

enum { END_IDLE, END_HEAD, END_BODY, END_ERROR, END_UPGRADE };
static const char *const end_names[] = {"between messages", "inside a head", "inside a body",
                                        "error", "upgrade"};

typedef struct {
    msg *m;
    size_t n, cap;
    int end;
    size_t upgrade_off;
    int finish; /* -1: not asked; 0: clean EOF; 2: EOF cut a message short */
} result;

static msg *r_new(result *r) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 4;
        r->m = realloc(r->m, r->cap * sizeof *r->m);
        if (!r->m) abort();
    }
    msg *m = &r->m[r->n++];
    memset(m, 0, sizeof *m);
    return m;
}

static void r_free(result *r) {
    for (size_t i = 0; i < r->n; i++) {
        msg *m = &r->m[i];
        s_free(&m->method);
        s_free(&m->url);
        s_free(&m->version);
        s_free(&m->reason);
        f_free(&m->headers);
        f_free(&m->trailers);
        s_free(&m->body);
    }
    free(r->m);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------ */
/* Decoding the Markdown.                                                   */

static void put_code_point(str *o, unsigned v) {
    if (v < 0x80) {
        s_addc(o, (char)v);
    } else {
        s_addc(o, (char)(0xc0 | (v >> 6)));
        s_addc(o, (char)(0x80 | (v & 0x3f)));
    }
}

static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Replaces \r \n \t \f \xHH \OOO; any other backslash stays as it is. */
static void unescape(const char *s, size_t n, str *o) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            s_addc(o, s[i]);
            continue;
        }
        char c = s[i + 1];
        if (c == 'r' || c == 'n' || c == 't' || c == 'f') {
            s_addc(o, c == 'r' ? '\r' : c == 'n' ? '\n' : c == 't' ? '\t' : '\f');
            i++;
        } else if (c == 'x' && i + 3 < n && is_hex(s[i + 2]) && is_hex(s[i + 3])) {
            char hex[3] = {s[i + 2], s[i + 3], 0};
            put_code_point(o, (unsigned)strtoul(hex, NULL, 16));
            i += 3;
        } else if (c >= '0' && c <= '7') {
            unsigned v = 0;
            size_t k = i + 1;
            while (k < n && k < i + 4 && s[k] >= '0' && s[k] <= '7') v = v * 8 + (unsigned)(s[k++] - '0');
            put_code_point(o, v);
            i = k - 1;
        } else {
            s_addc(o, s[i]);
        }
    }
}

/* The input of a case: drop one trailing newline; delete backslash-newline
 * pairs; newline becomes CRLF; then the escapes. */
static void decode_input(const str *raw, str *o) {
    size_t n = raw->len;
    if (n && raw->p[n - 1] == '\n') n--;
    str a = {0};
    for (size_t i = 0; i < n; i++) {
        if (raw->p[i] == '\\' && i + 1 < n && raw->p[i + 1] == '\n') {
            i++;
            continue;
        }
        if (raw->p[i] == '\n') s_add(&a, "\r\n", 2);
        else s_addc(&a, raw->p[i]);
    }
    unescape(a.p ? a.p : "", a.len, o);
    s_free(&a);
}

static void trim_ows(str *s) {
    while (s->len && (s->p[s->len - 1] == ' ' || s->p[s->len - 1] == '\t')) s->p[--s->len] = 0;
}

/* One log line: "off=N ..." */
static bool parse_log(const str *log, result *r, bool *ok) {
    msg *m = NULL;
    str fname = {0}, fvalue = {0};
    bool trailers = false, error = false, upgrade = false;
    r->finish = -1;
    *ok = true;
    const char *p = log->p ? log->p : "", *end = p + log->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        size_t ll = (size_t)(nl - p);
        char *line = strndup(p, ll);
        p = nl + 1;
        if (strncmp(line, "off=", 4) != 0) {
            free(line);
            continue;
        }
        char *rest = strchr(line, ' ');
        size_t off = strtoul(line + 4, NULL, 10);
        if (!rest) {
            free(line);
            continue;
        }
        rest++;
        if (strcmp(rest, "message begin") == 0) {
            m = r_new(r);
            trailers = false;
        } else if (strncmp(rest, "len=", 4) == 0) {
            char *sp = strstr(rest, "span[");
            char *close = sp ? strchr(sp, ']') : NULL;
            if (!sp || !close || close[1] != '=' || !m) {
                *ok = false;
            } else {
                char kind[64];
                snprintf(kind, sizeof kind, "%.*s", (int)(close - sp - 5), sp + 5);
                str v = {0};
                const char *q = close + 2;
                if (strcmp(q, "cr") == 0) s_addc(&v, '\r');
                else if (strcmp(q, "lf") == 0) s_addc(&v, '\n');
                else {
                    const char *a = strchr(q, '"'), *b = strrchr(q, '"');
                    if (!a || b <= a) *ok = false;
                    else unescape(a + 1, (size_t)(b - a - 1), &v);
                }
                str *dst = NULL;
                if (!strcmp(kind, "method")) dst = &m->method;
                else if (!strcmp(kind, "url")) dst = &m->url;
                else if (!strcmp(kind, "version")) dst = &m->version;
                else if (!strcmp(kind, "status")) dst = &m->reason;
                else if (!strcmp(kind, "header_field")) dst = &fname;
                else if (!strcmp(kind, "header_value")) dst = &fvalue;
                else if (!strcmp(kind, "body")) dst = &m->body;
                if (dst) s_add(dst, v.p, v.len);
                s_free(&v);
            }
        } else if (strcmp(rest, "header_value complete") == 0 && m) {
            trim_ows(&fvalue);
            f_add(trailers ? &m->trailers : &m->headers, &fname, &fvalue);
            fname.len = fvalue.len = 0;
        } else if (strncmp(rest, "headers complete", 16) == 0 && m) {
            m->head_done = true;
            m->head_end = off;
            char *st = strstr(rest, "status=");
            if (st) m->status = atoi(st + 7);
        } else if (strcmp(rest, "chunk header len=0") == 0) {
            trailers = true;
        } else if (strcmp(rest, "message complete") == 0 && m) {
            m->complete = true;
            m->complete_off = off;
        } else if (strncmp(rest, "error code=", 11) == 0) {
            if (atoi(rest + 11) == 22) {
                upgrade = true; /* "Pause on CONNECT/Upgrade": the rest is not HTTP */
                r->upgrade_off = off;
            } else {
                error = true;
                /* An error raised by llhttp's on_headers_complete (an
                 * invalid Transfer-Encoding) refuses the head it follows. */
                if (m && m->head_done && !m->complete && off == m->head_end && m->body.len == 0)
                    m->head_done = false;
            }
        } else if (strncmp(line, "off=NULL finish=", 16) == 0) {
            r->finish = atoi(line + 16);
        }
        free(line);
    }
    s_free(&fname);
    s_free(&fvalue);
    if (error) r->end = END_ERROR;
    else if (upgrade) r->end = END_UPGRADE;
    else if (r->n == 0 || r->m[r->n - 1].complete) r->end = END_IDLE;
    else if (!r->m[r->n - 1].head_done) r->end = END_HEAD;
    else r->end = END_BODY;
    /* llhttp_finish() on a body read until EOF completes the message. */
    if (r->finish == 1 && r->n && r->m[r->n - 1].head_done && !r->m[r->n - 1].complete) {
        r->m[r->n - 1].complete = true;
        r->m[r->n - 1].complete_off = SIZE_MAX; /* filled in with the input length */
        r->end = END_IDLE;
    }
    return *ok;
}

/* ------------------------------------------------------------------------ */
/* Running squall's parser.                                                 */

typedef struct {
    bool response, skip_body;
    int finish;
} run_opts;

static char *dup_exact(const char *s, size_t n) {
    char *d = malloc(n ? n : 1);
    if (!d) abort();
    if (n) memcpy(d, s, n);
    return d;
}

static void init_parser(sq_http_parser *p, const run_opts *o) {
    sq_http_parser_init(p, o->response ? SQ_HTTP_RESPONSE : SQ_HTTP_REQUEST);
    /* llhttp leaves the Host check to the server. */
    p->options &= ~(uint32_t)SQ_HTTP_OPT_REQUIRE_HOST;
    /* skipBody in a response vector is llhttp's way of saying the request
     * was HEAD. */
    if (o->response && o->skip_body) p->options |= SQ_HTTP_OPT_HEAD_RESPONSE;
}

/* Parses in[0, len) fed as [0, split) then the rest (split 0: whole). */
static void run(const char *in, size_t len, size_t split, const run_opts *o, result *r) {
    sq_http_parser p;
    sq_http_header hdrs[128];
    sq_http_head head;
    size_t avail = split ? split : len, pos = 0;
    msg *m = NULL;
    bool upgrade = false, in_body = false;
    str trailer_raw = {0};

    memset(r, 0, sizeof *r);
    r->finish = -1;
    init_parser(&p, o);
    for (;;) {
        if (!in_body) {
            if (m && upgrade) {
                r->end = END_UPGRADE;
                r->upgrade_off = pos;
                break;
            }
            memset(&head, 0, sizeof head);
            head.headers = hdrs;
            head.max_headers = 128;
            char *buf = dup_exact(in + pos, avail - pos);
            int n = sq_http_parse_head(&p, buf, avail - pos, &head);
            if (n == SQ_INCOMPLETE) {
                free(buf);
                if (avail < len) {
                    avail = len;
                    continue;
                }
                /* Between messages when only empty lines are left. */
                sq_http_parser copy = p;
                r->end = sq_http_parse_eof(&copy) == 0 ? END_IDLE : END_HEAD;
                break;
            }
            if (n <= 0) {
                free(buf);
                r->end = END_ERROR;
                break;
            }
            m = r_new(r);
            s_add(&m->method, head.method, head.method_len);
            s_add(&m->url, head.target, head.target_len);
            char ver[8];
            snprintf(ver, sizeof ver, "%u.%u", head.version_major, head.version_minor);
            s_add(&m->version, ver, strlen(ver));
            s_add(&m->reason, head.reason, head.reason_len);
            m->status = head.status;
            for (uint32_t i = 0; i < head.num_headers; i++) {
                str a = {0}, b = {0};
                s_add(&a, hdrs[i].name, hdrs[i].name_len);
                s_add(&b, hdrs[i].value, hdrs[i].value_len);
                f_add(&m->headers, &a, &b);
                s_free(&a);
                s_free(&b);
            }
            free(buf);
            m->head_done = true;
            pos += (size_t)n;
            m->head_end = pos;
            upgrade = (head.flags & SQ_HTTP_F_UPGRADE) != 0;
            trailer_raw.len = 0;
            if (o->skip_body && !o->response) {
                /* The caller decided the request has no body; a parser
                 * re-initialised between messages is how it says so. */
                init_parser(&p, o);
            }
            if (sq_http_body_done(&p)) {
                m->complete = true;
                m->complete_off = pos;
            } else {
                in_body = true;
            }
            continue;
        }
        if (pos == avail) {
            if (avail < len) {
                avail = len;
                continue;
            }
            r->end = END_BODY;
            break;
        }
        char *buf = dup_exact(in + pos, avail - pos);
        sq_http_span span;
        int64_t n = sq_http_parse_body(&p, buf, avail - pos, &span);
        if (n < 0) {
            free(buf);
            r->end = END_ERROR;
            break;
        }
        if (span.kind == SQ_HTTP_SPAN_DATA) s_add(&m->body, span.data, span.len);
        else if (span.kind == SQ_HTTP_SPAN_TRAILER) s_add(&trailer_raw, span.data, span.len);
        free(buf);
        pos += (size_t)n;
        if (sq_http_body_done(&p)) {
            in_body = false;
            m->complete = true;
            m->complete_off = pos;
            if (trailer_raw.len) {
                sq_http_header t[64];
                int k = sq_http_parse_trailers(trailer_raw.p, trailer_raw.len, t, 64);
                for (int i = 0; i < k; i++) {
                    str a = {0}, b = {0};
                    s_add(&a, t[i].name, t[i].name_len);
                    s_add(&b, t[i].value, t[i].value_len);
                    f_add(&m->trailers, &a, &b);
                    s_free(&a);
                    s_free(&b);
                }
                if (k < 0) s_add(&m->body, "<bad trailers>", 14);
            }
        } else if (n == 0 && span.kind == SQ_HTTP_SPAN_NONE) {
            /* No progress though bytes are there: a parser bug. */
            r->end = END_ERROR;
            s_add(&m->body, "<stuck>", 7);
            break;
        }
    }
    s_free(&trailer_raw);
    if (o->finish >= 0) {
        int e = sq_http_parse_eof(&p);
        r->finish = e == 0 ? 0 : 2;
        if (e == 0 && m && m->head_done && !m->complete && r->end == END_BODY) {
            m->complete = true;
            m->complete_off = len;
            r->end = END_IDLE;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Comparing.                                                               */

static char why[512];

static bool mismatch(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return false;
}

static bool same_fields(const char *what, size_t mi, const fields *a, const fields *b) {
    if (a->n != b->n) return mismatch("message %zu: %zu %s, expected %zu", mi, b->n, what, a->n);
    for (size_t i = 0; i < a->n; i++) {
        if (!s_eq(&a->v[i].name, &b->v[i].name) || !s_eq(&a->v[i].value, &b->v[i].value))
            return mismatch("message %zu: %s %zu is '%s: %s', expected '%s: %s'", mi, what, i,
                            b->v[i].name.p ? b->v[i].name.p : "", b->v[i].value.p ? b->v[i].value.p : "",
                            a->v[i].name.p ? a->v[i].name.p : "", a->v[i].value.p ? a->v[i].value.p : "");
    }
    return true;
}

/* Does the run `got` match the expectation `exp` for an input of len bytes? */
static bool compare(const result *exp, const result *got, size_t len, bool response) {
    size_t ne = 0, ng = 0;
    for (size_t i = 0; i < exp->n; i++) ne += exp->m[i].head_done;
    for (size_t i = 0; i < got->n; i++) ng += got->m[i].head_done;
    if (exp->end != got->end)
        return mismatch("ends %s, expected %s", end_names[got->end], end_names[exp->end]);
    if (ne != ng) return mismatch("%zu heads parsed, expected %zu", ng, ne);
    size_t k = 0;
    for (size_t i = 0; i < exp->n; i++) {
        const msg *a = &exp->m[i];
        if (!a->head_done) continue;
        const msg *b = &got->m[k++];
        size_t mi = k;
        if (!response) {
            if (!s_eq(&a->method, &b->method))
                return mismatch("message %zu: method '%s', expected '%s'", mi, b->method.p, a->method.p);
            if (!s_eq(&a->url, &b->url))
                return mismatch("message %zu: target '%s', expected '%s'", mi, b->url.p, a->url.p);
        } else {
            if (a->status != b->status)
                return mismatch("message %zu: status %d, expected %d", mi, b->status, a->status);
            if (!s_eq(&a->reason, &b->reason))
                return mismatch("message %zu: reason '%s', expected '%s'", mi,
                                b->reason.p ? b->reason.p : "", a->reason.p ? a->reason.p : "");
        }
        if (!s_eq(&a->version, &b->version))
            return mismatch("message %zu: version %s, expected %s", mi, b->version.p, a->version.p);
        if (!same_fields("header", mi, &a->headers, &b->headers)) return false;
        if (a->head_end != b->head_end)
            return mismatch("message %zu: head ends at %zu, expected %zu", mi, b->head_end, a->head_end);
        bool last = k == ng;
        if (last && exp->end == END_ERROR) continue; /* llhttp may have passed on part of it */
        if (!s_eq(&a->body, &b->body))
            return mismatch("message %zu: body of %zu bytes, expected %zu", mi, b->body.len, a->body.len);
        if (!same_fields("trailer", mi, &a->trailers, &b->trailers)) return false;
        if (a->complete != b->complete)
            return mismatch("message %zu: %scomplete, expected %scomplete", mi, b->complete ? "" : "not ",
                            a->complete ? "" : "not ");
        size_t aoff = a->complete_off == SIZE_MAX ? len : a->complete_off;
        if (a->complete && aoff != b->complete_off)
            return mismatch("message %zu: ends at %zu, expected %zu", mi, b->complete_off, aoff);
    }
    if (exp->end == END_UPGRADE && exp->upgrade_off != got->upgrade_off)
        return mismatch("upgrade at %zu, expected %zu", got->upgrade_off, exp->upgrade_off);
    if (exp->finish >= 0 && (exp->finish == 2) != (got->finish == 2))
        return mismatch("EOF %s, expected %s", got->finish == 2 ? "unsafe" : "safe",
                        exp->finish == 2 ? "unsafe" : "safe");
    return true;
}

/* ------------------------------------------------------------------------ */
/* Cases where squall is stricter than llhttp on purpose. Each must be
 * rejected before any message is accepted.                                 */

static const struct {
    const char *file, *heading, *rule;
} stricter[] = {
    /* RFC 9112 section 2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT;
     * a request line without one is HTTP/0.9, which squall refuses (400). */
    {"request/sample.md", "No HTTP version", "RFC 9112 2.3: HTTP/0.9 request refused"},
    /* RFC 9112 section 2.3: HTTP-name = %s"HTTP". llhttp also speaks
     * Icecast's ICE/1.0 and RTSP/1.0, which are not HTTP. */
    {"request/method.md", "SOURCE request with ICE", "RFC 9112 2.3: HTTP-name is \"HTTP\""},
    {"request/method.md", "OPTIONS request with RTSP", "RFC 9112 2.3: HTTP-name is \"HTTP\""},
    {"request/method.md", "ANNOUNCE request with RTSP", "RFC 9112 2.3: HTTP-name is \"HTTP\""},
    {"response/sample.md", "RTSP response", "RFC 9112 2.3: HTTP-name is \"HTTP\""},
    {"response/sample.md", "ICE response", "RFC 9112 2.3: HTTP-name is \"HTTP\""},
};

static const char *stricter_rule(const char *file, const char *heading) {
    for (size_t i = 0; i < sizeof stricter / sizeof stricter[0]; i++)
        if (!strcmp(stricter[i].file, file) && !strcmp(stricter[i].heading, heading))
            return stricter[i].rule;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Driving.                                                                 */

static int n_pass, n_fail, n_skip, n_stricter;
static size_t n_runs;

static void meta_str(const char *meta, const char *key, char *out, size_t cap) {
    out[0] = 0;
    const char *k = strstr(meta, key);
    if (!k) return;
    k = strchr(k + strlen(key), ':');
    if (!k) return;
    k++;
    while (*k == ' ') k++;
    if (*k == '"') {
        const char *e = strchr(k + 1, '"');
        if (e) snprintf(out, cap, "%.*s", (int)(e - k - 1), k + 1);
    } else {
        size_t n = strcspn(k, ",} ");
        snprintf(out, cap, "%.*s", (int)n, k);
    }
}

static void run_case(const char *file, const char *heading, const char *meta, const str *raw,
                     const str *log) {
    char type[64], noscan[16], skipbody[16];
    meta_str(meta, "\"type\"", type, sizeof type);
    meta_str(meta, "\"noScan\"", noscan, sizeof noscan);
    meta_str(meta, "\"skipBody\"", skipbody, sizeof skipbody);
    if (strstr(type, "lenient")) {
        n_skip++;
        return;
    }
    run_opts o = {.response = strncmp(type, "response", 8) == 0,
                  .skip_body = strcmp(skipbody, "true") == 0};
    if (strncmp(type, "request", 7) && strncmp(type, "response", 8)) {
        printf("FAIL %s: %s: unknown type '%s'\n", file, heading, type);
        n_fail++;
        return;
    }

    str in = {0};
    decode_input(raw, &in);
    result exp;
    memset(&exp, 0, sizeof exp);
    bool ok;
    if (!parse_log(log, &exp, &ok)) {
        printf("FAIL %s: %s: cannot read the log\n", file, heading);
        n_fail++;
        r_free(&exp);
        s_free(&in);
        return;
    }
    o.finish = exp.finish;

    const char *rule = stricter_rule(file, heading);
    bool pass = true;
    size_t splits = strcmp(noscan, "true") == 0 ? 0 : in.len;
    for (size_t split = 0; split < (splits ? splits : 1) && pass; split++) {
        result got;
        run(in.p ? in.p : "", in.len, split, &o, &got);
        n_runs++;
        if (rule) {
            size_t heads = 0;
            for (size_t i = 0; i < got.n; i++) heads += got.m[i].head_done;
            if (got.end != END_ERROR || heads) {
                snprintf(why, sizeof why, "meant to be rejected (%s) but was not", rule);
                pass = false;
            }
        } else if (!compare(&exp, &got, in.len, o.response)) {
            pass = false;
            if (split) {
                char tmp[sizeof why + 64];
                snprintf(tmp, sizeof tmp, "split at %zu: %s", split, why);
                snprintf(why, sizeof why, "%.500s", tmp);
            }
        }
        r_free(&got);
    }
    if (pass) {
        n_pass++;
        if (rule) {
            n_stricter++;
            printf("stricter than llhttp: %s: %s (%s)\n", file, heading, rule);
        }
    } else {
        n_fail++;
        printf("FAIL %s: %s: %s\n", file, heading, why);
    }
    r_free(&exp);
    s_free(&in);
}

static void run_file(const char *dir, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/llhttp/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FAIL %s: cannot open\n", path);
        n_fail++;
        return;
    }
    char heading[512] = "", meta[512] = "";
    str raw = {0}, log = {0}, *cur = NULL;
    bool have_input = false;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (cur) {
            if (strncmp(line, "```", 3) == 0) {
                if (cur == &log) {
                    if (have_input) run_case(rel, heading, meta, &raw, &log);
                    have_input = false;
                } else {
                    have_input = true;
                }
                cur = NULL;
            } else {
                s_add(cur, line, (size_t)n);
            }
            continue;
        }
        if (line[0] == '#') {
            size_t k = strspn(line, "#");
            while (line[k] == ' ') k++;
            snprintf(heading, sizeof heading, "%s", line + k);
            heading[strcspn(heading, "\n")] = 0;
            meta[0] = 0;
        } else if (strncmp(line, "<!-- meta=", 10) == 0) {
            snprintf(meta, sizeof meta, "%s", line);
        } else if (strncmp(line, "```http", 7) == 0) {
            raw.len = 0;
            cur = &raw;
        } else if (strncmp(line, "```log", 6) == 0) {
            log.len = 0;
            cur = &log;
        }
    }
    free(line);
    fclose(f);
    s_free(&raw);
    s_free(&log);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir, const char *sub) {
    char path[4096];
    snprintf(path, sizeof path, "%s/llhttp/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d) {
        printf("FAIL %s: cannot open\n", path);
        n_fail++;
        return;
    }
    char *names[256];
    size_t k = 0;
    struct dirent *e;
    while ((e = readdir(d)) && k < 256) {
        size_t l = strlen(e->d_name);
        if (l > 3 && !strcmp(e->d_name + l - 3, ".md")) names[k++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, k, sizeof names[0], cmp_str);
    for (size_t i = 0; i < k; i++) {
        char rel[1024];
        snprintf(rel, sizeof rel, "%s/%s", sub, names[i]);
        run_file(dir, rel);
        free(names[i]);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CONFORMANCE_DIR\n", argv[0]);
        return 2;
    }
    run_dir(argv[1], "request");
    run_dir(argv[1], "response");
    printf("%zu parses; %d of the passed cases are rejected on purpose (stricter than llhttp)\n",
           n_runs, n_stricter);
    printf("%d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
    return n_fail || n_pass == 0 ? 1 : 0;
}
