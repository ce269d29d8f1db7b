/* libFuzzer target: the chunked body decoder.
 *
 * Input: 2 bytes of settings (max_body, split point), then the bytes that
 * follow the head "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:
 * chunked\r\n\r\n": a chunked body and whatever comes after it.
 *
 * The decoder is checked three ways:
 *   - against a reference decoder written independently below, straight
 *     from RFC 9112 section 7.1 (less its BWS, see ref_decode) on a complete
 *     buffer (recursive descent, no state machine): the verdict (done / needs more / invalid), the bytes
 *     consumed, the decoded body and the raw trailer section must agree;
 *   - fed whole, split at a chosen offset and byte by byte, the decoder must
 *     write identical transcripts (fuzz_http.h);
 *   - the invariants of fuzz_http.h (spans inside their buffer, progress).
 */
#include "fuzz_http.h"

#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

enum { REF_DONE, REF_MORE, REF_BAD };

typedef struct {
    const uint8_t *b;
    size_t n, i;
    uint64_t max_body;
    tbuf body, trailers;
} ref;

static bool is_tchar(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}
static bool is_hexdig(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static bool is_ws(uint8_t c) { return c == ' ' || c == '\t'; }
static bool is_vchar_obs(uint8_t c) { return (c >= 0x21 && c <= 0x7e) || c >= 0x80; }

/* Each helper returns REF_DONE when it matched, REF_MORE when the input ran
 * out first, REF_BAD when it cannot match. */
static int r_token(ref *r) {
    size_t s = r->i;
    while (r->i < r->n && is_tchar(r->b[r->i])) r->i++;
    if (r->i == r->n) return REF_MORE;
    return r->i > s ? REF_DONE : REF_BAD;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE */
static int r_quoted(ref *r) {
    r->i++; /* the opening quote */
    for (;;) {
        if (r->i >= r->n) return REF_MORE;
        uint8_t c = r->b[r->i];
        if (c == '"') {
            r->i++;
            return REF_DONE;
        }
        if (c == '\\') {
            if (r->i + 1 >= r->n) return REF_MORE;
            uint8_t d = r->b[r->i + 1];
            if (!(is_ws(d) || is_vchar_obs(d))) return REF_BAD;
            r->i += 2;
            continue;
        }
        if (!(is_ws(c) || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) ||
              c >= 0x80))
            return REF_BAD;
        r->i++;
    }
}

static int r_crlf(ref *r) {
    if (r->i >= r->n) return REF_MORE;
    if (r->b[r->i] != '\r') return REF_BAD;
    if (r->i + 1 >= r->n) return REF_MORE;
    if (r->b[r->i + 1] != '\n') return REF_BAD;
    r->i += 2;
    return REF_DONE;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int t_ = (x);                                                                              \
        if (t_ != REF_DONE) return t_;                                                             \
    } while (0)

/* chunked-body = *chunk last-chunk trailer-section CRLF
 * chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 * chunk-ext    = *( ";" chunk-ext-name [ "=" chunk-ext-val ] )
 * RFC 9112 allows BWS around ";" and "="; squall does not (it is never more
 * lenient than node's llhttp), and neither does this reference. Trailer
 * fields may not be Content-Length or Transfer-Encoding (RFC 9110 6.5.1). */
static int ref_decode(ref *r) {
    uint64_t seen = 0;
    for (;;) {
        /* chunk-size: hex digits worth less than 2^63 */
        uint64_t size = 0;
        size_t s = r->i;
        while (r->i < r->n && is_hexdig(r->b[r->i])) {
            uint8_t c = r->b[r->i];
            unsigned v = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
            if (size > (UINT64_C(0x7fffffffffffffff) - v) / 16) return REF_BAD;
            size = size * 16 + v;
            r->i++;
        }
        if (r->i == r->n) return REF_MORE;
        if (r->i == s) return REF_BAD;
        /* chunk-ext */
        while (r->b[r->i] == ';') {
            r->i++;
            TRY(r_token(r));
            if (r->b[r->i] == '=') {
                r->i++;
                if (r->i >= r->n) return REF_MORE;
                if (r->b[r->i] == '"') TRY(r_quoted(r));
                else TRY(r_token(r));
                if (r->i >= r->n) return REF_MORE;
            }
        }
        TRY(r_crlf(r));
        if (size == 0) break;
        if (size > r->max_body - seen) return REF_BAD; /* a limit, but still a refusal */
        uint64_t have = r->n - r->i;
        if (have < size) {
            t_add(&r->body, r->b + r->i, (size_t)have);
            r->i = r->n;
            return REF_MORE;
        }
        t_add(&r->body, r->b + r->i, (size_t)size);
        r->i += (size_t)size;
        seen += size;
        TRY(r_crlf(r));
    }
    /* trailer-section = *( field-line CRLF ) */
    size_t ts = r->i;
    for (;;) {
        if (r->i >= r->n) return REF_MORE;
        if (r->b[r->i] == '\r') {
            t_add(&r->trailers, r->b + ts, r->i - ts);
            return r_crlf(r);
        }
        size_t name = r->i;
        TRY(r_token(r));
        if (r->b[r->i] != ':') return REF_BAD;
        size_t nl = r->i - name;
        if ((nl == 14 && !strncasecmp((const char *)r->b + name, "content-length", 14)) ||
            (nl == 17 && !strncasecmp((const char *)r->b + name, "transfer-encoding", 17)))
            return REF_BAD;
        r->i++;
        while (r->i < r->n && (is_ws(r->b[r->i]) || is_vchar_obs(r->b[r->i]))) r->i++;
        TRY(r_crlf(r));
    }
}

/* Feeds the body to the parser in pieces: [0, k), then one byte per call
 * when bytewise, else the rest. */
static int dut_decode(const uint8_t *in, size_t len, uint64_t max_body, size_t k, bool bytewise,
                      tbuf *body, tbuf *trailers, size_t *consumed) {
    sq_http_parser p;
    sq_http_header hs[4];
    sq_http_head h = {.headers = hs, .max_headers = 4};
    sq_http_parser_init(&p, SQ_HTTP_REQUEST);
    p.max_body = max_body;
    CHECK(sq_http_parse_head(&p, head, sizeof head - 1, &h) == (int)(sizeof head - 1));
    CHECK(h.body == SQ_HTTP_BODY_CHUNKED);
    size_t pos = 0, avail = k < len ? k : len;
    for (;;) {
        if (sq_http_body_done(&p)) {
            *consumed = pos;
            return REF_DONE;
        }
        if (pos == avail) {
            if (avail == len) {
                *consumed = pos;
                CHECK(sq_http_parse_eof(&p) == SQ_EPROTO);
                return REF_MORE;
            }
            avail = bytewise ? avail + 1 : len;
            continue;
        }
        size_t n = avail - pos;
        char *buf = fz_copy(in + pos, n);
        sq_http_span sp;
        int64_t r = sq_http_parse_body(&p, buf, n, &sp);
        if (r < 0) {
            check_err(&p, r);
            free(buf);
            return REF_BAD;
        }
        CHECK((size_t)r <= n);
        if (sp.kind != SQ_HTTP_SPAN_NONE) CHECK(in_buf(sp.data, sp.len, buf, (size_t)r) && sp.len);
        if (sp.kind == SQ_HTTP_SPAN_DATA) t_add(body, sp.data, sp.len);
        if (sp.kind == SQ_HTTP_SPAN_TRAILER) t_add(trailers, sp.data, sp.len);
        free(buf);
        CHECK(r > 0 || sq_http_body_done(&p));
        pos += (size_t)r;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint64_t max_body = data[0] < 0x80 ? data[0] : (uint64_t)-1;
    const uint8_t *in = data + 2;
    size_t len = size - 2, k = (size_t)data[1] * (len + 1) / 256;

    ref r = {.b = in, .n = len, .max_body = max_body};
    int want = ref_decode(&r);

    for (int mode = 0; mode < 3; mode++) {
        if (mode == 2 && len > 1024) break;
        tbuf body = {0}, trailers = {0};
        size_t consumed = 0;
        int got = dut_decode(in, len, max_body, mode == 0 ? len : mode == 1 ? k : 1, mode == 2,
                             &body, &trailers, &consumed);
        CHECK(got == want);
        if (want != REF_BAD) {
            CHECK(body.len == r.body.len && (!body.len || !memcmp(body.p, r.body.p, body.len)));
        }
        if (want == REF_DONE) {
            CHECK(consumed == r.i);
            CHECK(trailers.len == r.trailers.len &&
                  (!trailers.len || !memcmp(trailers.p, r.trailers.p, trailers.len)));
        }
        free(body.p);
        free(trailers.p);
    }
    free(r.body.p);
    free(r.trailers.p);

    /* The same bytes behind a head, through the generic transcript check. */
    fz_cfg c;
    memset(&c, 0, sizeof c);
    c.kind = SQ_HTTP_REQUEST;
    c.options = SQ_HTTP_OPT_REQUIRE_HOST;
    c.max_head = 65536;
    c.max_line = 8192;
    c.max_headers = 8;
    c.max_body = max_body;
    uint8_t *all = malloc(sizeof head - 1 + len);
    CHECK(all);
    memcpy(all, head, sizeof head - 1);
    if (len) memcpy(all + sizeof head - 1, in, len);
    fz_compare(&c, all, sizeof head - 1 + len, sizeof head - 1 + k);
    free(all);
    return 0;
}
