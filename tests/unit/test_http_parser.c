/* The HTTP/1.1 parser: every strict rule of RFC 9112 / 9110 it enforces,
 * framing, keep-alive, upgrades, limits, the chunked decoder, and its
 * behaviour when input arrives in pieces.
 *
 * Almost every test goes through go(): the input is parsed whole, then split
 * in two at every byte offset (each call gets a fresh buffer of exactly the
 * bytes it may read, the way a server re-reads a growing head), then one
 * byte at a time; the three must give the same messages, bodies, trailers
 * and errors, and the test then checks the whole run's result. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squall/http_parser.h"

/* ------------------------------------------------------------------------ */
/* Harness.                                                                 */

typedef struct {
    sq_http_kind kind;
    uint32_t set, clear; /* options to add to and remove from the defaults */
    uint32_t max_head, max_line, max_headers;
    uint64_t max_body;
    bool eof; /* report EOF at the end of the input */
} cfg;

typedef struct {
    char method[32], target[128], reason[64], host[64];
    unsigned vmaj, vmin, status, method_id;
    uint32_t flags;
    sq_http_body_kind body;
    uint64_t cl;
    unsigned nh;
    char name[8][32], value[8][64];
    char data[256];
    size_t data_len;
    char trailers[256];
    size_t trailers_len;
    bool complete;
    size_t head_end, end;
} msg;

enum { END_IDLE, END_HEAD, END_BODY, END_ERROR, END_UPGRADE };

typedef struct {
    msg m[4];
    int n;
    int end;
    int ret;           /* with END_ERROR: SQ_EPROTO or SQ_ELIMIT */
    sq_http_error err; /* with END_ERROR */
    int eof;           /* sq_http_parse_eof() at the end, when cfg.eof */
    size_t pos;        /* bytes used */
} run_t;

static run_t R;

static void copy_str(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, s, n);
    dst[n] = 0;
}

static void init(sq_http_parser *p, const cfg *c) {
    sq_http_parser_init(p, c->kind);
    p->options = (p->options | c->set) & ~c->clear;
    if (c->max_head) p->max_head = c->max_head;
    if (c->max_line) p->max_line = c->max_line;
    if (c->max_body) p->max_body = c->max_body;
}

/* Parses s[0, len) arriving as [0, split) then the rest (split 0: whole), or
 * one byte at a time. */
static void run(const cfg *c, const char *s, size_t len, size_t split, bool bytewise, run_t *r) {
    sq_http_parser p;
    sq_http_header hs[16];
    sq_http_head h;
    size_t avail = bytewise ? (len ? 1 : 0) : split ? split : len, pos = 0;
    bool in_body = false;
    msg *m = NULL;

    memset(r, 0, sizeof *r);
    init(&p, c);
    for (;;) {
        if (!in_body) {
            if (m && (m->flags & SQ_HTTP_F_UPGRADE)) {
                r->end = END_UPGRADE;
                break;
            }
            memset(&h, 0, sizeof h);
            h.headers = hs;
            h.max_headers = c->max_headers ? c->max_headers : 16;
            char *buf = malloc(avail - pos + 1);
            memcpy(buf, s + pos, avail - pos);
            int n = sq_http_parse_head(&p, buf, avail - pos, &h);
            if (n == SQ_INCOMPLETE) {
                cr_assert_eq(p.scanned, avail - pos, "an incomplete head is validated to its end");
                free(buf);
                if (avail < len) {
                    avail = bytewise ? avail + 1 : len;
                    continue;
                }
                /* Between messages when nothing but empty lines is left. */
                sq_http_parser copy = p;
                r->end = sq_http_parse_eof(&copy) == 0 ? END_IDLE : END_HEAD;
                break;
            }
            if (n < 0) {
                free(buf);
                r->end = END_ERROR;
                r->ret = n;
                r->err = p.error;
                pos = 0;
                break;
            }
            cr_assert_lt(r->n, 4);
            m = &r->m[r->n++];
            copy_str(m->method, sizeof m->method, h.method, h.method_len);
            copy_str(m->target, sizeof m->target, h.target, h.target_len);
            copy_str(m->reason, sizeof m->reason, h.reason, h.reason_len);
            copy_str(m->host, sizeof m->host, h.host, h.host_len);
            m->vmaj = h.version_major;
            m->vmin = h.version_minor;
            m->status = h.status;
            m->method_id = h.method_id;
            m->flags = h.flags;
            m->body = h.body;
            m->cl = h.content_length;
            m->nh = h.num_headers;
            for (unsigned i = 0; i < h.num_headers && i < 8; i++) {
                cr_assert(hs[i].name >= buf && hs[i].name + hs[i].name_len <= buf + n, "zero copy");
                cr_assert(hs[i].value >= buf && hs[i].value + hs[i].value_len <= buf + n);
                copy_str(m->name[i], sizeof m->name[i], hs[i].name, hs[i].name_len);
                copy_str(m->value[i], sizeof m->value[i], hs[i].value, hs[i].value_len);
            }
            free(buf);
            pos += (size_t)n;
            m->head_end = pos;
            if (sq_http_body_done(&p)) {
                m->complete = true;
                m->end = pos;
            } else {
                in_body = true;
            }
            continue;
        }
        if (pos == avail) {
            if (avail < len) {
                avail = bytewise ? avail + 1 : len;
                continue;
            }
            r->end = END_BODY;
            break;
        }
        char *buf = malloc(avail - pos);
        memcpy(buf, s + pos, avail - pos);
        sq_http_span sp;
        int64_t n = sq_http_parse_body(&p, buf, avail - pos, &sp);
        if (n < 0) {
            free(buf);
            r->end = END_ERROR;
            r->ret = (int)n;
            r->err = p.error;
            /* Where the error is seen, and how much of a bad trailer
             * section was passed on before it, depend on the pieces. */
            pos = 0;
            m->trailers_len = 0;
            memset(m->trailers, 0, sizeof m->trailers);
            break;
        }
        cr_assert_leq((size_t)n, avail - pos);
        if (sp.kind == SQ_HTTP_SPAN_DATA) {
            cr_assert(sp.data >= buf && sp.data + sp.len <= buf + n, "zero copy");
            cr_assert_leq(m->data_len + sp.len, sizeof m->data);
            memcpy(m->data + m->data_len, sp.data, sp.len);
            m->data_len += sp.len;
        } else if (sp.kind == SQ_HTTP_SPAN_TRAILER) {
            cr_assert_leq(m->trailers_len + sp.len, sizeof m->trailers);
            memcpy(m->trailers + m->trailers_len, sp.data, sp.len);
            m->trailers_len += sp.len;
        }
        free(buf);
        pos += (size_t)n;
        if (sq_http_body_done(&p)) {
            in_body = false;
            m->complete = true;
            m->end = pos;
        } else {
            cr_assert(n > 0, "progress");
        }
    }
    if (c->eof) {
        r->eof = sq_http_parse_eof(&p);
        if (r->eof == 0 && m && !m->complete && r->end == END_BODY) {
            m->complete = true;
            m->end = pos;
            r->end = END_IDLE;
        }
    }
    r->pos = pos;
}

/* Runs s whole, split at every offset and byte by byte; all must agree. The
 * whole run is left in R. */
static void go_n(cfg c, const char *s, size_t len) {
    static run_t other;
    run(&c, s, len, 0, false, &R);
    for (size_t k = 1; k < len; k++) {
        run(&c, s, len, k, false, &other);
        cr_assert(memcmp(&R, &other, sizeof R) == 0, "split at %zu differs from the whole run", k);
    }
    run(&c, s, len, 0, true, &other);
    cr_assert(memcmp(&R, &other, sizeof R) == 0, "byte by byte differs from the whole run");
}

#define go(c, s) go_n(c, s, strlen(s))
#define REQ ((cfg){.kind = SQ_HTTP_REQUEST})
#define REQ_NOHOST ((cfg){.kind = SQ_HTTP_REQUEST, .clear = SQ_HTTP_OPT_REQUIRE_HOST})
#define RES ((cfg){.kind = SQ_HTTP_RESPONSE})
#define RES_EOF ((cfg){.kind = SQ_HTTP_RESPONSE, .eof = true})

#define expect_error(code)                                                                         \
    do {                                                                                           \
        cr_assert_eq(R.end, END_ERROR, "expected error %s", #code);                                \
        cr_assert_eq(R.err, code, "error %d (%s), expected %s", R.err, sq_http_error_str(R.err),   \
                     #code);                                                                       \
    } while (0)

#define expect_ok(nmsgs)                                                                           \
    do {                                                                                           \
        cr_assert_neq(R.end, END_ERROR, "unexpected error %d (%s)", R.err,                         \
                      sq_http_error_str(R.err));                                                   \
        cr_assert_eq(R.n, nmsgs, "%d messages, expected %d", R.n, nmsgs);                          \
    } while (0)

/* ------------------------------------------------------------------------ */
/* A plain request.                                                         */

Test(http_parser, typical_request) {
    const char *s = "GET /index.html?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n\r\n";
    go(REQ, s);
    expect_ok(1);
    msg *m = &R.m[0];
    cr_assert_str_eq(m->method, "GET");
    cr_assert_eq(m->method_id, SQ_HTTP_GET);
    cr_assert_str_eq(m->target, "/index.html?q=1");
    cr_assert_eq(m->vmaj, 1);
    cr_assert_eq(m->vmin, 1);
    cr_assert_eq(m->nh, 2);
    cr_assert_str_eq(m->name[0], "Host");
    cr_assert_str_eq(m->value[0], "127.0.0.1:8080");
    cr_assert_str_eq(m->host, "127.0.0.1:8080");
    cr_assert_str_eq(m->name[1], "Accept");
    cr_assert_str_eq(m->value[1], "*/*");
    cr_assert_eq(m->body, SQ_HTTP_BODY_NONE);
    cr_assert_eq(m->flags, SQ_HTTP_F_KEEP_ALIVE | SQ_HTTP_F_HAS_HOST);
    cr_assert(m->complete);
    cr_assert_eq(m->head_end, strlen(s));
    cr_assert_eq(R.end, END_IDLE);
}

Test(http_parser, value_whitespace_is_trimmed) {
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nX:   a \t b \t \r\nY:\r\nZ: \t\r\n\r\n");
    expect_ok(1);
    cr_assert_str_eq(R.m[0].value[1], "a \t b");
    cr_assert_str_eq(R.m[0].value[2], "");
    cr_assert_str_eq(R.m[0].value[3], "");
}

Test(http_parser, obs_text_and_tabs_in_values) {
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nX: D\xc3\xbcsseldorf\t\xff!\r\n\r\n");
    expect_ok(1);
    cr_assert_str_eq(R.m[0].value[1], "D\xc3\xbcsseldorf\t\xff!");
}

Test(http_parser, leading_empty_lines_are_skipped) {
    go(REQ, "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_ok(1);
    cr_assert_eq(R.m[0].head_end, 4 + 27);
    go(REQ, "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
}

Test(http_parser, all_methods) {
    for (int m = 0; m < SQ_HTTP_METHOD_COUNT; m++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s / HTTP/1.1\r\nHost: a\r\n\r\n", sq_http_method_name(m));
        go(REQ, buf);
        expect_ok(1);
        cr_assert_eq(R.m[0].method_id, (unsigned)m, "%s", buf);
    }
    cr_assert_str_eq(sq_http_method_name(SQ_HTTP_MSEARCH), "M-SEARCH");
    cr_assert_null(sq_http_method_name(SQ_HTTP_METHOD_COUNT));
}

Test(http_parser, request_targets) {
    go(REQ, "GET /with_\"quotes\"|{}^`\\?a=b#frag HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_ok(1);
    cr_assert_str_eq(R.m[0].target, "/with_\"quotes\"|{}^`\\?a=b#frag");
    go(REQ, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_ok(1);
    go(REQ, "GET http://example.com:8080/x HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
    expect_ok(1);
    static const char *bad[] = {
        "GET /a\x01 HTTP/1.1\r\n", "GET /a\x7f HTTP/1.1\r\n", "GET /\xc3\xa9 HTTP/1.1\r\n",
        "GET  / HTTP/1.1\r\n",     "GET /a\tb HTTP/1.1\r\n",  "GET /a\nb HTTP/1.1\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        go(REQ, bad[i]);
        expect_error(SQ_HTTP_E_TARGET);
    }
    go(REQ, "GET /foo bar HTTP/1.1\r\n\r\n");
    expect_error(SQ_HTTP_E_VERSION);
}

/* The scanners look at eight bytes at a time: put the byte that stops them
 * at every position of a word, and a tab (valid in values) too. */
Test(http_parser, word_scanning_at_every_alignment) {
    for (size_t k = 0; k < 24; k++) {
        char val[40], buf[128];
        memset(val, 'v', sizeof val);
        val[30] = 0;
        val[k + 1] = '\t';
        snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n", val);
        go(REQ, buf);
        expect_ok(1);
        cr_assert_str_eq(R.m[0].value[1], val);

        val[k + 1] = 0x7f;
        snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n", val);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_HEADER_VALUE);
        val[k + 1] = '\x01';
        snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\nX: \t%s\r\n\r\n", val);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_HEADER_VALUE);

        char tgt[40];
        memset(tgt, 'a', sizeof tgt);
        tgt[0] = '/';
        tgt[30] = 0;
        tgt[k + 1] = (char)0x80;
        snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", tgt);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_TARGET);
        tgt[k + 1] = '~';
        snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", tgt);
        go(REQ, buf);
        expect_ok(1);

        char name[40];
        memset(name, 'n', sizeof name);
        name[30] = 0;
        name[k + 1] = '@';
        snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\n%s: v\r\n\r\n", name);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_HEADER_NAME);

        /* Host values: the Host check reads four bytes at a time. */
        char host[40];
        memset(host, 'h', sizeof host);
        host[k + 1] = 0;
        host[k] = '/';
        snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_HOST_INVALID);
    }
}

/* ------------------------------------------------------------------------ */
/* Line endings, folding, whitespace.                                       */

Test(http_parser, bare_lf) {
    go(REQ, "GET / HTTP/1.1\nHost: a\n\n");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
    go(REQ, "GET / HTTP/1.1\r\nHost: a\n\r\n");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\n\n");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
    go(RES, "HTTP/1.1 200 OK\nContent-Length: 0\n\n");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
}

Test(http_parser, bare_cr) {
    go(REQ, "GET / HTTP/1.1\rHost: a\r\n\r\n");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
    go(REQ, "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\n\rX");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
    go(REQ, "\rGET / HTTP/1.1\r\n");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
    go(REQ, "GET / HTTP/1.1\r\nContent\rLength: 3\r\n\r\n");
    expect_error(SQ_HTTP_E_HEADER_NAME);
    go(RES, "HTTP/1.1 200 OK\r\rContent-Length: 0\r\n\r\n");
    expect_error(SQ_HTTP_E_LF_EXPECTED);
}

Test(http_parser, obs_fold) {
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n");
    expect_error(SQ_HTTP_E_OBS_FOLD);
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n");
    expect_error(SQ_HTTP_E_OBS_FOLD);
    /* Whitespace between the start line and the first field (RFC 9112 2.2). */
    go(REQ, "GET / HTTP/1.1\r\n Host: a\r\n\r\n");
    expect_error(SQ_HTTP_E_OBS_FOLD);
    /* Rejected as soon as the fold is seen, without waiting for the end. */
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n ");
    expect_error(SQ_HTTP_E_OBS_FOLD);
}

Test(http_parser, whitespace_before_colon) {
    go(REQ, "GET / HTTP/1.1\r\nHost : a\r\n\r\n");
    expect_error(SQ_HTTP_E_SPACE_BEFORE_COLON);
    go(REQ, "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n");
    expect_error(SQ_HTTP_E_SPACE_BEFORE_COLON);
    go(RES, "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n");
    expect_error(SQ_HTTP_E_SPACE_BEFORE_COLON);
}

/* ------------------------------------------------------------------------ */
/* Tokens and field values.                                                 */

Test(http_parser, bad_method_tokens) {
    go(REQ, "G(T / HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_error(SQ_HTTP_E_REQUEST_LINE);
    go(REQ, " GET / HTTP/1.1\r\n\r\n");
    expect_error(SQ_HTTP_E_REQUEST_LINE);
    go(REQ, "GET\t/ HTTP/1.1\r\n\r\n");
    expect_error(SQ_HTTP_E_REQUEST_LINE);
    cr_assert_eq(sq_http_error_status(SQ_HTTP_E_REQUEST_LINE), 400);
}

Test(http_parser, unknown_method_is_501) {
    go(REQ, "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_error(SQ_HTTP_E_METHOD);
    cr_assert_eq(sq_http_error_status(R.err), 501);
    go(REQ, "get / HTTP/1.1\r\nHost: a\r\n\r\n"); /* methods are case-sensitive */
    expect_error(SQ_HTTP_E_METHOD);
    go(REQ, "MKCOLA / HTTP/1.1\r\n\r\n");
    expect_error(SQ_HTTP_E_METHOD);
    /* Known as soon as the method's SP arrives. */
    go(REQ, "BREW ");
    expect_error(SQ_HTTP_E_METHOD);
}

Test(http_parser, bad_header_name_tokens) {
    static const char *bad[] = {"X@Y: z", "X\"Y: z", "X(Y): z", ": z", "X\x01: z", "\xc3\xa9: z",
                                "X/Y: z", "X{Y}: z", "X\x7f: z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n\r\n", bad[i]);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_HEADER_NAME);
    }
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nX-$Odd_Name.~!#%&'*+^`|: ok\r\n\r\n");
    expect_ok(1);
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n");
    expect_error(SQ_HTTP_E_HEADER_NAME);
}

Test(http_parser, ctls_in_values) {
    static const char bad[] = {0x00, 0x01, 0x08, 0x0b, 0x0c, 0x1f, 0x7f};
    for (size_t i = 0; i < sizeof bad; i++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\nX: a?b\r\n\r\n");
        *strchr(buf, '?') = bad[i];
        go_n(REQ, buf, (size_t)n);
        expect_error(SQ_HTTP_E_HEADER_VALUE);
    }
    go(RES, "HTTP/1.1 200 O\x01K\r\n\r\n");
    expect_error(SQ_HTTP_E_STATUS);
}

/* ------------------------------------------------------------------------ */
/* Content-Length and Transfer-Encoding.                                    */

Test(http_parser, content_length_body) {
    go(REQ, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhelloGET / HTTP/1.1\r\nHost: "
            "b\r\n\r\n");
    expect_ok(2);
    cr_assert_eq(R.m[0].body, SQ_HTTP_BODY_LENGTH);
    cr_assert_eq(R.m[0].cl, 5);
    cr_assert(R.m[0].flags & SQ_HTTP_F_HAS_CL);
    cr_assert_eq(R.m[0].data_len, 5);
    cr_assert(memcmp(R.m[0].data, "hello", 5) == 0);
    cr_assert_str_eq(R.m[1].host, "b");
    cr_assert_eq(R.end, END_IDLE);
}

Test(http_parser, content_length_zero_is_no_body) {
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    expect_ok(1);
    cr_assert_eq(R.m[0].body, SQ_HTTP_BODY_NONE);
    cr_assert_eq(R.m[0].cl, 0);
    cr_assert(R.m[0].flags & SQ_HTTP_F_HAS_CL);
    cr_assert(R.m[0].complete);
}

Test(http_parser, content_length_syntax) {
    static const char *bad[] = {"", "+5", "-1", "5 5", "0x5", "5,5", "5, 5", "5;", "1e3",
                                "18446744073709551616", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n", bad[i]);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_CONTENT_LENGTH);
    }
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t 3 \t\r\n\r\nabc");
    expect_ok(1);
    cr_assert_eq(R.m[0].cl, 3);
}

/* RFC 9110 8.6 lets a recipient either reject repeated Content-Length
 * fields or collapse identical ones; squall rejects every repetition, even
 * with the same value, so that no two parsers can disagree on framing. */
Test(http_parser, repeated_content_length) {
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
    expect_error(SQ_HTTP_E_CL_CONFLICT);
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello");
    expect_error(SQ_HTTP_E_CL_CONFLICT);
    /* Known as soon as the second field's line is complete. */
    go(REQ, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n");
    expect_error(SQ_HTTP_E_CL_CONFLICT);
}

Test(http_parser, content_length_over_max_body_is_413) {
    go(((cfg){.kind = SQ_HTTP_REQUEST, .max_body = 10}),
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n");
    expect_error(SQ_HTTP_E_BODY_TOO_LARGE);
    cr_assert_eq(R.ret, SQ_ELIMIT);
    cr_assert_eq(sq_http_error_status(R.err), 413);
    go(((cfg){.kind = SQ_HTTP_REQUEST, .max_body = 10}),
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789");
    expect_ok(1);
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n");
    expect_error(SQ_HTTP_E_BODY_TOO_LARGE);
}

Test(http_parser, content_length_with_transfer_encoding) {
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    expect_error(SQ_HTTP_E_CL_AND_TE);
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
    expect_error(SQ_HTTP_E_CL_AND_TE);
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n\r\n");
    expect_error(SQ_HTTP_E_CL_AND_TE);
    go(RES, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
    expect_error(SQ_HTTP_E_CL_AND_TE);
}

Test(http_parser, transfer_encoding_must_end_with_chunked) {
    static const char *bad[] = {"gzip",        "identity",         "chunked, gzip",
                                "chunked,",    "chunked, chunked", "chunked;q=1",
                                "chunkedchunked", "chunked chunked", "",
                                "\"chunked\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n", bad[i]);
        go(REQ, buf);
        /* "chunked,": RFC 9110 5.6.1 would skip the empty element, but
         * node's llhttp refuses it and squall is never more lenient. */
        expect_error(SQ_HTTP_E_TRANSFER_ENCODING);
        cr_assert_eq(sq_http_error_status(R.err), 400);
    }
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
            "gzip\r\n\r\n");
    expect_error(SQ_HTTP_E_TRANSFER_ENCODING);
    /* Empty elements and a trailing HTAB are refused (node refuses them). */
    static const char *empty[] = {",chunked", "gzip,,chunked", "chunked\t", ", chunked"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n", empty[i]);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_TRANSFER_ENCODING);
    }
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;level=\"1,2\", CHUNKED\r\n\r\n");
    expect_ok(1);
    cr_assert_eq(R.m[0].body, SQ_HTTP_BODY_CHUNKED);
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
            "chunked\r\n\r\n0\r\n\r\n");
    expect_ok(1);
    cr_assert_eq(R.m[0].body, SQ_HTTP_BODY_CHUNKED);
    cr_assert(R.m[0].flags & SQ_HTTP_F_CHUNKED);
}

Test(http_parser, response_transfer_encoding_not_chunked_reads_to_eof) {
    go(RES_EOF, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabc");
    expect_ok(1);
    cr_assert_eq(R.m[0].body, SQ_HTTP_BODY_EOF);
    cr_assert_eq(R.m[0].data_len, 3);
    cr_assert(R.m[0].complete);
    cr_assert_eq(R.eof, 0);
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_KEEP_ALIVE);
}

/* RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding is decoded, but
 * its connection must close after it. */
Test(http_parser, transfer_encoding_in_http10) {
    go(REQ, "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
            "1\r\nx\r\n0\r\n\r\n");
    expect_ok(1);
    cr_assert_eq(R.m[0].body, SQ_HTTP_BODY_CHUNKED);
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_KEEP_ALIVE);
    cr_assert_eq(R.m[0].data_len, 1);
}

/* ------------------------------------------------------------------------ */
/* Chunked bodies.                                                          */

#define CHUNKED_HEAD "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

Test(http_parser, chunked_body) {
    const char *body = "5\r\nhello\r\n6\r\n world\r\n000\r\n\r\n";
    char buf[256];
    snprintf(buf, sizeof buf, "%s%s%s", CHUNKED_HEAD, body, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    go(REQ, buf);
    expect_ok(2);
    cr_assert_eq(R.m[0].data_len, 11);
    cr_assert(memcmp(R.m[0].data, "hello world", 11) == 0);
    cr_assert_eq(R.m[0].trailers_len, 0);
    cr_assert(R.m[0].complete);
    cr_assert_eq(R.m[0].end, strlen(CHUNKED_HEAD) + strlen(body));
    go(REQ, CHUNKED_HEAD "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
    expect_ok(1);
    cr_assert_eq(R.m[0].data_len, 20);
}

Test(http_parser, chunk_size_rules) {
    static const char *bad[] = {"0x5\r\nhello\r\n0\r\n\r\n", "\r\n", "-1\r\n", " 5\r\nhello\r\n",
                                "g\r\n",
                                /* 2^64 and 2^63: more than any body can be */
                                "10000000000000000\r\n", "8000000000000000\r\n",
                                "5 \r\nhello\r\n", "5\n", "5\r\r"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, CHUNKED_HEAD "%s", bad[i]);
        go(REQ, buf);
        cr_assert_eq(R.end, END_ERROR, "%s", bad[i]);
        cr_assert(R.err == SQ_HTTP_E_CHUNK_SIZE || R.err == SQ_HTTP_E_LF_EXPECTED, "%s: %s", bad[i],
                  sq_http_error_str(R.err));
    }
    /* Leading zeros are fine; the largest size is 2^63 - 1. */
    go(REQ, CHUNKED_HEAD "0000000000000000000005\r\nhello\r\n0\r\n\r\n");
    expect_ok(1);
    cr_assert_eq(R.m[0].data_len, 5);
    go(((cfg){.kind = SQ_HTTP_REQUEST, .max_body = UINT64_MAX}), CHUNKED_HEAD "7fffffffffffffff\r\nab");
    expect_ok(1);
    cr_assert_eq(R.end, END_BODY);
    cr_assert_eq(R.m[0].data_len, 2);
}

Test(http_parser, chunk_data_must_end_with_crlf) {
    go(REQ, CHUNKED_HEAD "5\r\nhelloX\r\n0\r\n\r\n");
    expect_error(SQ_HTTP_E_CHUNK_DATA);
    go(REQ, CHUNKED_HEAD "5\r\nhello\rX0\r\n\r\n");
    expect_error(SQ_HTTP_E_CHUNK_DATA);
    go(REQ, CHUNKED_HEAD "3\r\nfoo\r\n\r\n"); /* the last chunk is missing */
    expect_error(SQ_HTTP_E_CHUNK_SIZE);
}

Test(http_parser, chunk_extensions) {
    static const char *good[] = {
        ";a",         ";a=b",        ";a=\"quoted \\\" \\\\ string; with, specials\"",
        ";a;b=c;d=\"e\"", ";ilovew3;somuchlove=aretheseparametersfor",
        ";a=\"\xff\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, CHUNKED_HEAD "1%s\r\nx\r\n0%s\r\n\r\n", good[i], good[i]);
        go(REQ, buf);
        cr_assert_neq(R.end, END_ERROR, "'%s': %s", good[i], sq_http_error_str(R.err));
        cr_assert_eq(R.m[0].data_len, 1);
        cr_assert(R.m[0].complete);
    }
    /* Whitespace around ";" and "=" (RFC 9112's BWS) is refused: node's
     * llhttp refuses it, and squall is never more lenient than node. */
    static const char *ws[] = {" ; a = b", "\t;\ta\t=\t\"\"", " ;a"};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, CHUNKED_HEAD "1%s\r\nx\r\n0\r\n\r\n", ws[i]);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_CHUNK_SIZE); /* whitespace right after the size */
    }
    static const char *bad[] = {";x=y ;z", "; a", ";a =b", ";a= b",
                                ";",        ";=b",          ";a=",        ";a=\"open\r\n",
                                ";a=b c",   ";a b",         ";a ",        ";a=b ",
                                ";a=\"\x01\"", ";a=\"\\\x01\"", ";a=\"x\"y", ";a=@",
                                ";@"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, CHUNKED_HEAD "1%s\r\nx\r\n0\r\n\r\n", bad[i]);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_CHUNK_EXTENSION);
    }
}

Test(http_parser, chunk_line_is_bounded) {
    char buf[256];
    snprintf(buf, sizeof buf, CHUNKED_HEAD "1;%s\r\nx\r\n0\r\n\r\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    go(((cfg){.kind = SQ_HTTP_REQUEST, .max_line = 16}), buf);
    expect_error(SQ_HTTP_E_CHUNK_EXTENSION);
    cr_assert_eq(R.ret, SQ_ELIMIT);
}

Test(http_parser, trailers) {
    go(REQ, CHUNKED_HEAD "5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum:  abc \t\r\n\r\n");
    expect_ok(1);
    cr_assert(R.m[0].complete);
    const char *raw = "Expires: never\r\nX-Sum:  abc \t\r\n";
    cr_assert_eq(R.m[0].trailers_len, strlen(raw));
    cr_assert(memcmp(R.m[0].trailers, raw, strlen(raw)) == 0);
    sq_http_header t[4];
    int n = sq_http_parse_trailers(R.m[0].trailers, R.m[0].trailers_len, t, 4);
    cr_assert_eq(n, 2);
    cr_assert(sq_http_header_is(&t[0], "expires"));
    cr_assert_eq(t[1].value_len, 3);
    cr_assert(memcmp(t[1].value, "abc", 3) == 0);
    cr_assert_eq(sq_http_parse_trailers(R.m[0].trailers, R.m[0].trailers_len, t, 1), SQ_ELIMIT);
    cr_assert_eq(sq_http_parse_trailers("X\r\n", 3, t, 4), SQ_EPROTO);

    static const char *bad[] = {"X: a\r\n b\r\n", "X : a\r\n", "X a\r\n", " X: a\r\n", "X: a\x01\r\n",
                                "X: a\n", "X: a\rb\r\n", "@: a\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, CHUNKED_HEAD "0\r\n%s\r\n", bad[i]);
        go(REQ, buf);
        cr_assert_eq(R.end, END_ERROR, "%s", bad[i]);
        cr_assert(R.err == SQ_HTTP_E_TRAILER || R.err == SQ_HTTP_E_LF_EXPECTED, "%s", bad[i]);
    }
}

Test(http_parser, trailer_section_is_bounded) {
    go(((cfg){.kind = SQ_HTTP_REQUEST, .max_head = 100}),
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
       "X: 0123456789012345678901234567890123456789012345678901234567890123456789"
       "0123456789012345678901234567890123456789\r\n\r\n");
    expect_error(SQ_HTTP_E_HEAD_TOO_LARGE);
    cr_assert_eq(R.ret, SQ_ELIMIT);
}

Test(http_parser, chunked_max_body) {
    cfg c = {.kind = SQ_HTTP_REQUEST, .max_body = 8};
    go(c, CHUNKED_HEAD "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
    expect_ok(1);
    go(c, CHUNKED_HEAD "5\r\nhello\r\n4\r\nabcd\r\n0\r\n\r\n");
    expect_error(SQ_HTTP_E_BODY_TOO_LARGE);
    cr_assert_eq(R.ret, SQ_ELIMIT);
    cr_assert_eq(R.m[0].data_len, 5); /* refused at the size line, before the data */
}

/* ------------------------------------------------------------------------ */
/* Host.                                                                    */

Test(http_parser, host_required_in_http11) {
    go(REQ, "GET / HTTP/1.1\r\n\r\n");
    expect_error(SQ_HTTP_E_HOST_MISSING);
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n");
    expect_error(SQ_HTTP_E_HOST_REPEATED);
    go(REQ, "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n");
    expect_error(SQ_HTTP_E_HOST_REPEATED);
    go(REQ, "GET / HTTP/1.0\r\n\r\n");
    expect_ok(1);
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_HAS_HOST);
    go(REQ, "GET / HTTP/1.1\r\nHost:\r\n\r\n"); /* empty: allowed (RFC 9112 3.2) */
    expect_ok(1);
    cr_assert(R.m[0].flags & SQ_HTTP_F_HAS_HOST);
    go(REQ, "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
    expect_ok(1);
    static const char *bad[] = {"a b", "a/b", "a@b\"", "\xc3\xa9", "a\tb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_HOST_INVALID);
    }
}

Test(http_parser, host_not_required) {
    go(REQ_NOHOST, "GET / HTTP/1.1\r\n\r\n");
    expect_ok(1);
    go(REQ_NOHOST, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    expect_ok(1);
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_HAS_HOST);
    cr_assert_str_eq(R.m[0].host, "a");
}

/* ------------------------------------------------------------------------ */
/* Keep-alive (RFC 9112 9.3).                                               */

Test(http_parser, keep_alive_rules) {
    struct {
        const char *req;
        bool keep;
    } cases[] = {
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\t\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: ,,keep-alive , \r\n\r\n", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        go(REQ, cases[i].req);
        expect_ok(1);
        cr_assert_eq((R.m[0].flags & SQ_HTTP_F_KEEP_ALIVE) != 0, cases[i].keep, "%s", cases[i].req);
    }
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, keep-alive, upgrade\r\n\r\n");
    cr_assert_eq(R.m[0].flags & (SQ_HTTP_F_CONN_CLOSE | SQ_HTTP_F_CONN_KEEP_ALIVE | SQ_HTTP_F_CONN_UPGRADE),
                 SQ_HTTP_F_CONN_CLOSE | SQ_HTTP_F_CONN_KEEP_ALIVE | SQ_HTTP_F_CONN_UPGRADE);
}

Test(http_parser, nothing_after_a_closing_message) {
    go(REQ, "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    expect_error(SQ_HTTP_E_CLOSED);
    cr_assert_eq(R.n, 1);
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n\r\n\r\n");
    expect_ok(1);
    cr_assert_eq(R.end, END_IDLE);
    go(REQ, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    expect_ok(2);
}

Test(http_parser, response_keep_alive) {
    go(RES, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
            "HTTP/1.0 204 No Content\r\n\r\n");
    expect_ok(2);
    cr_assert(R.m[0].flags & SQ_HTTP_F_KEEP_ALIVE);
    cr_assert_not(R.m[1].flags & SQ_HTTP_F_KEEP_ALIVE);
    go(RES, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n\r\n");
    expect_error(SQ_HTTP_E_CLOSED);
}

/* ------------------------------------------------------------------------ */
/* Upgrade, CONNECT, Expect.                                                */

Test(http_parser, upgrade_request) {
    go(REQ, "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: "
            "websocket\r\n\r\n\x81\x05hello");
    expect_ok(1);
    cr_assert(R.m[0].flags & SQ_HTTP_F_UPGRADE);
    cr_assert(R.m[0].flags & SQ_HTTP_F_CONN_UPGRADE);
    cr_assert_eq(R.end, END_UPGRADE);
    cr_assert_eq(R.pos, R.m[0].head_end, "the bytes after the head are the caller's");

    /* A body first, then the switch. */
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: "
            "4\r\n\r\nbodyPRI * HTTP/2.0");
    expect_ok(1);
    cr_assert_eq(R.m[0].data_len, 4);
    cr_assert_eq(R.end, END_UPGRADE);
    cr_assert_eq(R.pos, R.m[0].end);

    go(REQ, "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    expect_ok(1);
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_UPGRADE, "RFC 9110 7.8: ignored in HTTP/1.0");
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
    expect_ok(1);
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_UPGRADE);
    go(REQ, "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n");
    expect_ok(1);
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_UPGRADE);
}

Test(http_parser, parsing_stops_after_upgrade) {
    sq_http_parser p;
    sq_http_header hs[4];
    sq_http_head h = {.headers = hs, .max_headers = 4};
    const char *s = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: "
                    "10\r\n\r\n";
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    cr_assert_eq(sq_http_parse_head(&p, s, strlen(s), &h), (int)strlen(s));
    cr_assert(h.flags & SQ_HTTP_F_UPGRADE);
    cr_assert_eq(h.body, SQ_HTTP_BODY_NONE); /* CONNECT has no body: the tunnel follows */
    cr_assert_eq(h.method_id, SQ_HTTP_CONNECT);
    cr_assert_eq(h.target_len, 15);
    cr_assert(memcmp(h.target, "example.com:443", 15) == 0);
    cr_assert(sq_http_body_done(&p));
    cr_assert_eq(sq_http_parse_head(&p, "GET / HTTP/1.1\r\n\r\n", 18, &h), SQ_EPROTO);
    cr_assert_eq(p.error, SQ_HTTP_E_CLOSED);
}

Test(http_parser, expect_continue) {
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx");
    expect_ok(1);
    cr_assert(R.m[0].flags & SQ_HTTP_F_EXPECT_CONTINUE);
    go(REQ, "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
    expect_ok(1);
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_EXPECT_CONTINUE); /* RFC 9110 10.1.1 */
    go(REQ, "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-ish\r\n\r\n");
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_EXPECT_CONTINUE);
}

/* ------------------------------------------------------------------------ */
/* Limits.                                                                  */

Test(http_parser, max_head_is_431) {
    cfg c = {.kind = SQ_HTTP_REQUEST, .max_head = 40};
    go(c, "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n"); /* 42 bytes */
    expect_error(SQ_HTTP_E_HEAD_TOO_LARGE);
    cr_assert_eq(R.ret, SQ_ELIMIT);
    cr_assert_eq(sq_http_error_status(R.err), 431);
    go(c, "GET / HTTP/1.1\r\nHost: a\r\nX: 01234567\r\n\r\n"); /* 40 bytes: fits */
    expect_ok(1);
    /* An endless head is refused once it passes the limit. */
    go(c, "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789012345678901234567890123456789");
    expect_error(SQ_HTTP_E_HEAD_TOO_LARGE);
    go(c, "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n");
    expect_error(SQ_HTTP_E_HEAD_TOO_LARGE);
}

Test(http_parser, long_request_line_is_414) {
    cfg c = {.kind = SQ_HTTP_REQUEST, .max_line = 20};
    go(c, "GET /0123456 HTTP/1.1\r\nHost: a\r\n\r\n"); /* 21 bytes */
    expect_error(SQ_HTTP_E_TARGET_TOO_LONG);
    cr_assert_eq(R.ret, SQ_ELIMIT);
    cr_assert_eq(sq_http_error_status(R.err), 414);
    go(c, "GET /012345 HTTP/1.1\r\nHost: a\r\n\r\n"); /* 20 bytes: fits */
    expect_ok(1);
    go(c, "GET /0123456789012345678901234567890123456789");
    expect_error(SQ_HTTP_E_TARGET_TOO_LONG);
}

Test(http_parser, too_many_headers_is_431) {
    cfg c = {.kind = SQ_HTTP_REQUEST, .max_headers = 3};
    go(c, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    expect_error(SQ_HTTP_E_TOO_MANY_HEADERS);
    cr_assert_eq(R.ret, SQ_ELIMIT);
    cr_assert_eq(sq_http_error_status(R.err), 431);
    go(c, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n");
    expect_ok(1);
}

/* ------------------------------------------------------------------------ */
/* Versions.                                                                */

Test(http_parser, http2_preface) {
    go(REQ, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    expect_error(SQ_HTTP_E_HTTP2_PREFACE);
    cr_assert_eq(sq_http_error_status(R.err), 0, "close without an answer");
    go(REQ, "PRI * HTTP/1.1\r\n\r\n");
    expect_error(SQ_HTTP_E_METHOD);
    go(REQ, "PRI / HTTP/2.0\r\n\r\n");
    expect_error(SQ_HTTP_E_METHOD);
    /* Found by fuzz_chunked: the version digits after PRI, whole and split. */
    go(REQ, "PRI * HTTP/2.9\r\n\r\n");
    expect_error(SQ_HTTP_E_METHOD);
    go(REQ, "PRI * HTTP/2.9 101 Switch HTTP/1.1\r\nls\r\n");
    expect_error(SQ_HTTP_E_VERSION);
}

Test(http_parser, http09) {
    go(REQ, "GET /\r\n\r\n");
    expect_error(SQ_HTTP_E_HTTP09);
    go(REQ, "GET /\r\n");
    expect_error(SQ_HTTP_E_HTTP09);
    cr_assert_eq(sq_http_error_status(R.err), 400);
}

Test(http_parser, versions) {
    static const char *unsupported[] = {"HTTP/2.0", "HTTP/3.0", "HTTP/0.9", "HTTP/5.6"};
    for (size_t i = 0; i < 4; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "GET / %s\r\nHost: a\r\n\r\n", unsupported[i]);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_VERSION_UNSUPPORTED);
        cr_assert_eq(sq_http_error_status(R.err), 505);
    }
    /* Refused at the digit, not at the end of the head. */
    go(REQ, "GET / HTTP/2");
    expect_error(SQ_HTTP_E_VERSION_UNSUPPORTED);
    static const char *bad[] = {"HTTP/1.10", "HTTP/11.1", "http/1.1", "HTTP/1", "HTTP/1.x",
                                "HTTP/1.1 ", "ICE/1.0", "RTSP/1.0", "HTTP 1.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "GET / %s\r\nHost: a\r\n\r\n", bad[i]);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_VERSION);
    }
    /* HTTP/1.2 to 1.9: RFC 9110 2.5 would serve them as 1.1, but node's
     * llhttp refuses them and squall is never more lenient than node. */
    go(REQ, "GET / HTTP/1.2\r\nHost: a\r\n\r\n");
    expect_error(SQ_HTTP_E_VERSION_UNSUPPORTED);
    go(REQ, "GET / HTTP/1.9\r\nHost: a\r\n\r\n");
    expect_error(SQ_HTTP_E_VERSION_UNSUPPORTED);
}

/* ------------------------------------------------------------------------ */
/* Responses.                                                               */

Test(http_parser, status_lines) {
    go(RES, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    expect_ok(1);
    cr_assert_eq(R.m[0].status, 200);
    cr_assert_str_eq(R.m[0].reason, "OK");
    cr_assert_eq(R.m[0].data_len, 2);
    go(RES, "HTTP/1.1 404 Not \tFound \xff\r\nContent-Length: 0\r\n\r\n");
    expect_ok(1);
    cr_assert_str_eq(R.m[0].reason, "Not \tFound \xff");
    go(RES, "HTTP/1.1 301\r\nContent-Length: 0\r\n\r\n");
    expect_ok(1);
    cr_assert_str_eq(R.m[0].reason, "");
    go(RES, "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
    expect_ok(1);
    cr_assert_str_eq(R.m[0].reason, "");
    go(RES, "HTTP/1.1 200  OK\r\nContent-Length: 0\r\n\r\n");
    expect_ok(1);
    cr_assert_str_eq(R.m[0].reason, " OK");
    static const char *bad[] = {"HTTP/1.1 2 OK", "HTTP/1.1 20x OK", "HTTP/1.1 099 X",
                                "HTTP/1.1 600 X", "HTTP/1.1 2000 OK", "HTTP/1.1  200 OK"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s\r\n\r\n", bad[i]);
        go(RES, buf);
        expect_error(SQ_HTTP_E_STATUS);
    }
    go(RES, "HTTP/1.1\t200 OK\r\n\r\n");
    expect_error(SQ_HTTP_E_VERSION);
    go(RES, "HTTPS/1.1 200 OK\r\n\r\n");
    expect_error(SQ_HTTP_E_VERSION);
    go(RES, "HTTP/2.0 200 OK\r\n\r\n");
    expect_error(SQ_HTTP_E_VERSION_UNSUPPORTED);
}

Test(http_parser, responses_without_body) {
    go(RES, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
            "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
            "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n");
    expect_ok(4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(R.m[i].body, SQ_HTTP_BODY_NONE);
        cr_assert(R.m[i].complete);
    }
    cr_assert(R.m[0].flags & SQ_HTTP_F_KEEP_ALIVE, "an interim response never ends the exchange");
    cr_assert_eq(R.end, END_IDLE);
}

Test(http_parser, head_response_has_no_body) {
    cfg c = {.kind = SQ_HTTP_RESPONSE, .set = SQ_HTTP_OPT_HEAD_RESPONSE};
    go(c, "HTTP/1.1 200 OK\r\nContent-Length: 123\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: "
          "chunked\r\n\r\n");
    expect_ok(2);
    cr_assert_eq(R.m[0].body, SQ_HTTP_BODY_NONE);
    cr_assert_eq(R.m[0].cl, 0);
    cr_assert(R.m[0].flags & SQ_HTTP_F_HAS_CL);
    cr_assert_eq(R.m[1].body, SQ_HTTP_BODY_NONE);
}

Test(http_parser, response_read_until_eof) {
    go(RES_EOF, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld");
    expect_ok(1);
    cr_assert_eq(R.m[0].body, SQ_HTTP_BODY_EOF);
    cr_assert_eq(R.m[0].data_len, 12);
    cr_assert(R.m[0].complete, "EOF ends the body");
    cr_assert_eq(R.eof, 0);
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_KEEP_ALIVE);
    go(RES, "HTTP/1.1 200 OK\r\n\r\nabc");
    cr_assert_eq(R.end, END_BODY, "without EOF the body never ends");
    go(((cfg){.kind = SQ_HTTP_RESPONSE, .max_body = 4}), "HTTP/1.1 200 OK\r\n\r\n01234");
    expect_error(SQ_HTTP_E_BODY_TOO_LARGE);
    cr_assert_eq(R.m[0].data_len, 4, "the bytes within the limit are delivered");
}

Test(http_parser, switching_protocols) {
    go(RES, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
            "websocket\r\nContent-Length: 4\r\n\r\n\x81\x02hi");
    expect_ok(1);
    cr_assert(R.m[0].flags & SQ_HTTP_F_UPGRADE);
    cr_assert_eq(R.m[0].body, SQ_HTTP_BODY_NONE);
    cr_assert_eq(R.end, END_UPGRADE);
    go(RES, "HTTP/1.1 200 OK\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n");
    cr_assert_not(R.m[0].flags & SQ_HTTP_F_UPGRADE);
}

Test(http_parser, http09_status_line) {
    go(RES_EOF, "HTTP/0.9 200 OK\r\n\r\nx");
    expect_ok(1);
    cr_assert_eq(R.m[0].vmaj, 0);
    cr_assert_eq(R.m[0].vmin, 9);
    go(RES, "HTTP/0.8 200 OK\r\n\r\n");
    expect_error(SQ_HTTP_E_VERSION_UNSUPPORTED);
}

/* ------------------------------------------------------------------------ */
/* Arriving in pieces.                                                      */

Test(http_parser, incremental_head_is_linear) {
    sq_http_parser p;
    sq_http_header hs[8];
    sq_http_head h = {.headers = hs, .max_headers = 8};
    const char *s = "GET /a/long/path HTTP/1.1\r\nHost: example.com\r\nUser-Agent: a-rather-long-"
                    "user-agent-value/1.0\r\nAccept: */*\r\n\r\n";
    size_t len = strlen(s);
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    for (size_t n = 1; n < len; n++) {
        cr_assert_eq(sq_http_parse_head(&p, s, n, &h), SQ_INCOMPLETE);
        /* Every byte given has been validated and will not be looked at by
         * the scanner again. */
        cr_assert_eq(p.scanned, n);
    }
    cr_assert_eq(sq_http_parse_head(&p, s, len, &h), (int)len);
    cr_assert_eq(h.num_headers, 3);
    cr_assert_eq(h.target_len, 12);
    cr_assert_eq(p.scanned, 0);
}

Test(http_parser, incremental_response_head) {
    sq_http_parser p;
    sq_http_header hs[8];
    sq_http_head h = {.headers = hs, .max_headers = 8};
    const char *s = "\r\nHTTP/1.1 200 Fine\r\nContent-Length: 2\r\nX: y\r\n\r\nok";
    size_t head = strlen(s) - 2;
    sq_http_parser_init(&p, SQ_HTTP_RESPONSE);
    sq_http_span sp;
    cr_assert_eq(sq_http_parse_body(&p, s, 1, &sp), 0, "nothing to do between messages");
    for (size_t n = 0; n < head; n++) {
        cr_assert_eq(sq_http_parse_head(&p, s, n, &h), SQ_INCOMPLETE);
        cr_assert_eq(p.scanned, n);
        cr_assert_eq(sq_http_parse_body(&p, s, n, &sp), SQ_ESTATE, "a head is being read");
    }
    cr_assert_eq(sq_http_parse_head(&p, s, strlen(s), &h), (int)head);
    cr_assert_eq(h.status, 200);
    cr_assert_eq(h.reason_len, 4);
    cr_assert_eq(h.body, SQ_HTTP_BODY_LENGTH);
}

Test(http_parser, garbage_is_rejected_early) {
    sq_http_parser p;
    sq_http_header hs[8];
    sq_http_head h = {.headers = hs, .max_headers = 8};
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    cr_assert_eq(sq_http_parse_head(&p, "\x01", 1, &h), SQ_EPROTO);
    cr_assert_eq(p.error, SQ_HTTP_E_REQUEST_LINE);

    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    cr_assert_eq(sq_http_parse_head(&p, "\x16\x03\x01", 3, &h), SQ_EPROTO, "a TLS hello");

    sq_http_parser_init(&p, SQ_HTTP_RESPONSE);
    cr_assert_eq(sq_http_parse_head(&p, "X", 1, &h), SQ_EPROTO);

    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX\x01";
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    cr_assert_eq(sq_http_parse_head(&p, s, 10, &h), SQ_INCOMPLETE);
    cr_assert_eq(sq_http_parse_head(&p, s, strlen(s), &h), SQ_EPROTO);
    cr_assert_eq(p.error, SQ_HTTP_E_HEADER_NAME);
    /* An error sticks until the parser is initialised again. */
    cr_assert_eq(sq_http_parse_head(&p, "GET / HTTP/1.1\r\n\r\n", 18, &h), SQ_EPROTO);
}

Test(http_parser, head_struct_may_change_between_calls) {
    sq_http_parser p;
    sq_http_header hs1[8], hs2[8];
    sq_http_head h1 = {.headers = hs1, .max_headers = 8}, h2 = {.headers = hs2, .max_headers = 8};
    char *a = strdup("GET /x HTTP/1.1\r\nHo");
    char *b = strdup("GET /x HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n");
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    cr_assert_eq(sq_http_parse_head(&p, a, strlen(a), &h1), SQ_INCOMPLETE);
    free(a);
    cr_assert_eq(sq_http_parse_head(&p, b, strlen(b), &h2), (int)strlen(b));
    cr_assert_eq(h2.num_headers, 2);
    cr_assert(h2.headers[1].value >= b && h2.headers[1].value < b + strlen(b));
    cr_assert_eq(h2.target, b + 4);
    free(b);
}

Test(http_parser, body_arrives_in_pieces) {
    sq_http_parser p;
    sq_http_header hs[8];
    sq_http_head h = {.headers = hs, .max_headers = 8};
    const char *s = CHUNKED_HEAD "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    int n = sq_http_parse_head(&p, s, strlen(s), &h);
    cr_assert_gt(n, 0);
    char out[16];
    size_t out_len = 0, tr = 0;
    for (size_t i = (size_t)n; i < strlen(s); i++) { /* one byte per call */
        sq_http_span sp;
        int64_t k = sq_http_parse_body(&p, s + i, 1, &sp);
        cr_assert_eq(k, 1);
        if (sp.kind == SQ_HTTP_SPAN_DATA) out[out_len++] = sp.data[0];
        if (sp.kind == SQ_HTTP_SPAN_TRAILER) tr += sp.len;
    }
    cr_assert(sq_http_body_done(&p));
    cr_assert_eq(out_len, 5);
    cr_assert(memcmp(out, "abcde", 5) == 0);
    cr_assert_eq(tr, 6);
}

Test(http_parser, pipelined_messages) {
    go(REQ, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: "
            "3\r\n\r\nabc\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\nGET /4 HTTP/1.1\r\nHo");
    expect_ok(3);
    cr_assert_str_eq(R.m[0].target, "/1");
    cr_assert_str_eq(R.m[1].target, "/2");
    cr_assert_str_eq(R.m[2].target, "/3");
    cr_assert_eq(R.end, END_HEAD);
}

/* ------------------------------------------------------------------------ */
/* EOF, misuse, helpers.                                                    */

Test(http_parser, eof) {
    sq_http_parser p;
    sq_http_header hs[8];
    sq_http_head h = {.headers = hs, .max_headers = 8};
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    cr_assert_eq(sq_http_parse_eof(&p), 0, "between messages");
    cr_assert_eq(sq_http_parse_head(&p, "\r\n", 2, &h), SQ_INCOMPLETE);
    cr_assert_eq(sq_http_parse_eof(&p), 0, "only empty lines");
    cr_assert_eq(sq_http_parse_head(&p, "\r\nGE", 4, &h), SQ_INCOMPLETE);
    cr_assert_eq(sq_http_parse_eof(&p), SQ_EPROTO, "inside a head");

    const char *s = "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab";
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    int n = sq_http_parse_head(&p, s, strlen(s), &h);
    sq_http_span sp;
    cr_assert_eq(sq_http_parse_body(&p, s + n, 2, &sp), 2);
    cr_assert_eq(sq_http_parse_eof(&p), SQ_EPROTO, "inside a body");
}

Test(http_parser, misuse) {
    sq_http_parser p;
    sq_http_header hs[8];
    sq_http_head h = {.headers = hs, .max_headers = 8};
    sq_http_span sp;
    const char *s = "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    cr_assert_eq(sq_http_parse_body(&p, "x", 1, &sp), 0, "no body between messages");
    cr_assert_eq(sp.kind, SQ_HTTP_SPAN_NONE);
    cr_assert_eq(sq_http_parse_head(&p, s, strlen(s), &h), (int)strlen(s));
    cr_assert_not(sq_http_body_done(&p));
    cr_assert_eq(sq_http_parse_head(&p, s, strlen(s), &h), SQ_ESTATE, "the body is not done");
    cr_assert_eq(sq_http_parse_body(&p, "hello", 5, &sp), 5);
    cr_assert(sq_http_body_done(&p));
    cr_assert_eq(sq_http_parse_body(&p, "x", 1, &sp), 0);
}

Test(http_parser, helpers) {
    cr_assert_str_eq(sq_http_error_str(SQ_HTTP_E_OBS_FOLD), "obsolete line folding");
    cr_assert_eq(sq_http_error_status(SQ_HTTP_E_TOO_MANY_HEADERS), 431);
    cr_assert_eq(sq_http_error_status(SQ_HTTP_E_VERSION_UNSUPPORTED), 505);
    cr_assert_eq(sq_http_error_status(SQ_HTTP_E_HOST_INVALID), 400);
    sq_http_parser p;
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    p.error = SQ_HTTP_E_METHOD;
    cr_assert_eq(sq_http_parser_status(&p), 501);

    sq_http_header hs[8];
    sq_http_head h = {.headers = hs, .max_headers = 8};
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: b\r\n\r\n";
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    cr_assert_gt(sq_http_parse_head(&p, s, strlen(s), &h), 0);
    const sq_http_header *x = sq_http_head_find(&h, "x-forwarded-FOR");
    cr_assert_not_null(x);
    cr_assert_eq(x->value_len, 1);
    cr_assert_null(sq_http_head_find(&h, "x-forwarded"));
    cr_assert(sq_http_header_is(&hs[0], "HOST"));
    cr_assert_not(sq_http_header_is(&hs[0], "hos"));
}

/* Found by the differential test against node: request targets that are not
 * one of RFC 9112's four forms, and framing fields in trailers. */
Test(http_parser, target_forms) {
    static const char *bad[] = {"0", "?", "%", "a", "m3", "h:80", "p://\"", "p://#", "p://<",
                                "h0://x", "ht-tp://x/", "p:/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", bad[i]);
        go(REQ, buf);
        expect_error(SQ_HTTP_E_TARGET);
    }
    static const char *good[] = {"/", "*", "http://example.com/a?b", "HTTP://EX.COM:8080",
                                 "ws://[::1]:80/x", "p://u:p@h/p?q#f"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", good[i]);
        go(REQ, buf);
        expect_ok(1);
    }
    go(REQ, "CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_ok(1);
    go(REQ, "CONNECT a/b HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_error(SQ_HTTP_E_TARGET);
}

Test(http_parser, no_framing_fields_in_trailers) {
    go(REQ, CHUNKED_HEAD "0\r\nContent-Length: 1\r\n\r\n");
    expect_error(SQ_HTTP_E_TRAILER);
    go(REQ, CHUNKED_HEAD "0\r\ntransfer-ENCODING: chunked\r\n\r\n");
    expect_error(SQ_HTTP_E_TRAILER);
    go(REQ, CHUNKED_HEAD "0\r\nContent-Lengthy: 1\r\nX-Transfer-Encoding: c\r\n\r\n");
    expect_ok(1);
}
