/* squall side of the HTTP request parser differential check.
 *
 * Reads a case file written by gen.js (u32le count, then per case u32le
 * length and the bytes), parses every case with squall's pure request parser
 * fed whole, and writes one JSON record per line:
 *
 *   {"s":"end|incomplete|error|upgrade","e":"<sq_http_error name>",
 *    "m":[{"method":..,"url":..,"v":[1,1],"h":[[name,value],..],
 *          "b":"<body hex>","t":[[name,value],..],"ka":true,"up":false},..],
 *    "hs":"<state under default options>","he":"<error>","hn":<messages>,
 *    "split":{<the same record, present only when it differs>}}
 *
 * Strings are bytes, written as JSON \u00XX escapes outside printable ASCII so
 * that JSON.parse() yields the same latin1 strings that node's parser
 * reports. The main run turns SQ_HTTP_OPT_REQUIRE_HOST off (node's bare
 * parser leaves that rule to its server) and caps the head at 16 KiB as node
 * does (node counts fewer bytes of a head than squall, so squall always hits
 * the limit first); the "hs"/"he"/"hn" run uses the default options
 * (REQUIRE_HOST on) with the same cap, for the Host-rule accounting. A third
 * run feeds the same input one byte at a time; "split" appears only when that
 * changes anything (the parser promises byte-exact results across splits).
 *
 * Usage: diff_driver CASES [OUT]   (OUT defaults to stdout)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <squall/http_parser.h>

#define MAX_HEADERS 512
#define MAX_MSGS 64
#define NODE_MAX_HEADER_SIZE 16384

static const char *err_names[] = {
#define SQ__N(name, status, msg) #name,
    SQ_HTTP_ERROR_MAP(SQ__N)
#undef SQ__N
};

static const char *err_name(sq_http_error e)
{
    if ((unsigned)e < sizeof err_names / sizeof err_names[0])
        return err_names[e];
    return "UNKNOWN";
}

/* A growable output buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        fprintf(stderr, "diff_driver: out of memory\n");
        exit(2);
    }
    b->p = np;
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_jstr(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_reserve(b, n * 6 + 2);
    b->p[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            b->p[b->len++] = (char)c;
        } else {
            memcpy(b->p + b->len, "\\u00", 4);
            b->len += 4;
            b->p[b->len++] = hex[c >> 4];
            b->p[b->len++] = hex[c & 15];
        }
    }
    b->p[b->len++] = '"';
}

static void sb_hex(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_reserve(b, n * 2);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        b->p[b->len++] = hex[c >> 4];
        b->p[b->len++] = hex[c & 15];
    }
}

static void sb_headers(sbuf *b, const sq_http_header *h, size_t n)
{
    sb_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_puts(b, ",");
        sb_puts(b, "[");
        sb_jstr(b, h[i].name, h[i].name_len);
        sb_puts(b, ",");
        sb_jstr(b, h[i].value, h[i].value_len);
        sb_puts(b, "]");
    }
    sb_puts(b, "]");
}

typedef struct {
    const char *state; /* end, incomplete, error, upgrade */
    const char *err;   /* sq_http_error name, "" when none */
    int nmsgs;
} outcome;

/* Parses buf[0, len) as a request stream. When out is not NULL, appends the
 * "m" array of messages to it. With split, the parser sees the input the
 * hard way instead: each head grows one byte per call, and the body comes
 * one byte per call (more only when the parser consumes nothing). */
static outcome parse_all(const char *buf, size_t len, bool require_host, bool split, sbuf *out)
{
    static sq_http_header hdrs[MAX_HEADERS];
    static sq_http_header trl[MAX_HEADERS];
    static char trailer_buf[1 << 17];
    sbuf body = {0};
    sq_http_parser p;
    sq_http_head head;
    outcome o = {"end", "", 0};
    size_t pos = 0;

    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    if (!require_host)
        p.options &= ~(uint32_t)SQ_HTTP_OPT_REQUIRE_HOST;
    p.max_head = NODE_MAX_HEADER_SIZE;

    if (out)
        sb_puts(out, "\"m\":[");
    for (;;) {
        if (pos == len) {
            /* Between messages: the end of the input must end cleanly. */
            if (sq_http_parse_eof(&p) != 0) {
                o.state = "eof-inconsistent";
                o.err = err_name(p.error);
            }
            break;
        }
        memset(&head, 0, sizeof head);
        head.headers = hdrs;
        head.max_headers = MAX_HEADERS;
        int n;
        if (!split) {
            n = sq_http_parse_head(&p, buf + pos, len - pos, &head);
        } else {
            for (size_t k = 1;; k++) {
                n = sq_http_parse_head(&p, buf + pos, k, &head);
                if (n != SQ_INCOMPLETE || k == len - pos)
                    break;
                memset(&head, 0, sizeof head);
                head.headers = hdrs;
                head.max_headers = MAX_HEADERS;
            }
        }
        if (n == SQ_INCOMPLETE) {
            /* The input ends inside a head, or in stray empty lines between
             * messages, which sq_http_parse_eof() lets end cleanly. */
            o.state = sq_http_parse_eof(&p) == 0 ? "end" : "incomplete";
            break;
        }
        if (n <= 0) {
            o.state = "error";
            o.err = err_name(p.error);
            if (n == 0)
                o.err = "ZERO_LENGTH_HEAD";
            break;
        }
        pos += (size_t)n;

        /* The body, fed whole (in as many calls as the parser wants). */
        body.len = 0;
        size_t tlen = 0;
        int body_err = 0, stuck = 0;
        size_t win = 1;
        while (!sq_http_body_done(&p)) {
            if (pos == len)
                break;
            sq_http_span span = {0};
            size_t avail = split && win < len - pos ? win : len - pos;
            int64_t c = sq_http_parse_body(&p, buf + pos, avail, &span);
            if (c < 0) {
                body_err = 1;
                break;
            }
            if (span.kind == SQ_HTTP_SPAN_DATA) {
                sb_put(&body, span.data, span.len);
            } else if (span.kind == SQ_HTTP_SPAN_TRAILER) {
                if (tlen + span.len <= sizeof trailer_buf) {
                    memcpy(trailer_buf + tlen, span.data, span.len);
                    tlen += span.len;
                }
            }
            if (c == 0 && span.kind == SQ_HTTP_SPAN_NONE && avail < len - pos) {
                win++; /* split: the parser wants more bytes at once */
            } else if (c == 0 && span.kind == SQ_HTTP_SPAN_NONE) {
                if (++stuck > 4) {
                    o.state = "stuck";
                    o.err = "parse_body made no progress";
                    body_err = 2;
                    break;
                }
            } else {
                stuck = 0;
                win = 1;
            }
            pos += (size_t)c;
        }
        if (body_err == 1) {
            o.state = "error";
            o.err = err_name(p.error);
            break;
        }
        if (body_err)
            break;
        if (!sq_http_body_done(&p)) {
            o.state = "incomplete";
            if (sq_http_parse_eof(&p) == 0)
                o.state = "eof-inconsistent";
            break;
        }

        /* A complete message. */
        if (out) {
            if (o.nmsgs)
                sb_puts(out, ",");
            sb_puts(out, "{\"method\":");
            sb_jstr(out, head.method, head.method_len);
            sb_puts(out, ",\"mid\":");
            const char *mname = sq_http_method_name(head.method_id);
            sb_jstr(out, mname ? mname : "?", mname ? strlen(mname) : 1);
            sb_puts(out, ",\"url\":");
            sb_jstr(out, head.target, head.target_len);
            sb_printf(out, ",\"v\":[%u,%u],\"h\":", head.version_major, head.version_minor);
            sb_headers(out, hdrs, head.num_headers);
            sb_puts(out, ",\"b\":\"");
            sb_hex(out, body.p ? body.p : "", body.len);
            sb_puts(out, "\",\"t\":");
            if (tlen) {
                int nt = sq_http_parse_trailers(trailer_buf, tlen, trl, MAX_HEADERS);
                if (nt < 0) {
                    sb_printf(out, "\"sq_http_parse_trailers failed: %d\"", nt);
                } else {
                    sb_headers(out, trl, (size_t)nt);
                }
            } else {
                sb_puts(out, "[]");
            }
            sb_printf(out, ",\"ka\":%s,\"up\":%s,\"bk\":%d,\"cl\":%" PRIu64 "}",
                      (head.flags & SQ_HTTP_F_KEEP_ALIVE) ? "true" : "false",
                      (head.flags & SQ_HTTP_F_UPGRADE) ? "true" : "false", (int)head.body,
                      head.content_length);
        }
        o.nmsgs++;
        if (head.flags & SQ_HTTP_F_UPGRADE) {
            o.state = "upgrade";
            break;
        }
        if (o.nmsgs >= MAX_MSGS) {
            o.state = "too-many-messages";
            break;
        }
    }
    if (out)
        sb_puts(out, "]");
    free(body.p);
    return o;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CASES [OUT]\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "diff_driver: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long fsize = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(fsize > 0 ? (size_t)fsize : 1);
    if (!data || fread(data, 1, (size_t)fsize, f) != (size_t)fsize) {
        fprintf(stderr, "diff_driver: cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(f);
    FILE *out = stdout;
    if (argc > 2 && !(out = fopen(argv[2], "wb"))) {
        fprintf(stderr, "diff_driver: %s: %s\n", argv[2], strerror(errno));
        return 2;
    }

    size_t off = 0, size = (size_t)fsize;
    if (size < 4) {
        fprintf(stderr, "diff_driver: truncated case file\n");
        return 2;
    }
    uint32_t count = rd32(data);
    off = 4;
    sbuf line = {0}, splitrec = {0};
    for (uint32_t i = 0; i < count; i++) {
        if (off + 4 > size) {
            fprintf(stderr, "diff_driver: truncated case file at case %u\n", i);
            return 2;
        }
        uint32_t n = rd32(data + off);
        off += 4;
        if (off + n > size) {
            fprintf(stderr, "diff_driver: truncated case file at case %u\n", i);
            return 2;
        }
        /* Copy each case into its own allocation so that ASan sees any read
         * past its end. */
        char *c = malloc(n ? n : 1);
        memcpy(c, data + off, n);
        off += n;

        line.len = 0;
        sb_puts(&line, "{");
        outcome o = parse_all(c, n, false, false, &line);
        sb_puts(&line, ",\"s\":");
        sb_jstr(&line, o.state, strlen(o.state));
        sb_puts(&line, ",\"e\":");
        sb_jstr(&line, o.err, strlen(o.err));
        /* The same input split as finely as possible must give the same
         * record. */
        splitrec.len = 0;
        sb_puts(&splitrec, "{");
        outcome so = parse_all(c, n, false, true, &splitrec);
        sb_puts(&splitrec, ",\"s\":");
        sb_jstr(&splitrec, so.state, strlen(so.state));
        sb_puts(&splitrec, ",\"e\":");
        sb_jstr(&splitrec, so.err, strlen(so.err));
        if (splitrec.len != line.len || memcmp(splitrec.p, line.p, line.len) != 0) {
            sb_puts(&line, ",\"split\":");
            sb_put(&line, splitrec.p, splitrec.len);
            sb_puts(&line, "}");
        }
        outcome h = parse_all(c, n, true, false, NULL);
        sb_puts(&line, ",\"hs\":");
        sb_jstr(&line, h.state, strlen(h.state));
        sb_puts(&line, ",\"he\":");
        sb_jstr(&line, h.err, strlen(h.err));
        sb_printf(&line, ",\"hn\":%d}\n", h.nmsgs);
        fwrite(line.p, 1, line.len, out);
        free(c);
    }
    free(line.p);
    free(splitrec.p);
    free(data);
    if (fclose(out) != 0) {
        fprintf(stderr, "diff_driver: write failed\n");
        return 2;
    }
    return 0;
}
