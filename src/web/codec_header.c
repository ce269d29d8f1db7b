/* Header values with parameters (Tornado's httputil._parse_header) and
 * ETags (compute_etag, check_etag_header). Pure apart from OpenSSL's SHA-1. */
#include <string.h>

#include <openssl/evp.h>

#include "squall/codec.h"

/* Python's str.strip() on ASCII: space, \t \n \v \f \r and the separators
 * 0x1c-0x1f. Non-ASCII whitespace is left alone: these values may be UTF-8,
 * where 0x85 and 0xa0 are continuation bytes. */
static bool py_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
}

static void trim(const char **s, const char **e) {
    while (*s < *e && py_space((unsigned char)**s))
        (*s)++;
    while (*e > *s && py_space((unsigned char)(*e)[-1]))
        (*e)--;
}

/* The end of the segment starting at p: the first ';' at which the double
 * quotes seen so far in the segment (not counting a '"' right after a
 * backslash) are balanced. This is what _parseparam computes, without its
 * rescanning. */
static const char *segment_end(const char *p, const char *end) {
    const char *start = p;
    bool open = false;
    for (; p < end; p++) {
        if (*p == '"') {
            if (!(p > start && p[-1] == '\\')) open = !open;
        } else if (*p == ';' && !open) {
            return p;
        }
    }
    return end;
}

const char *sq_header_main(const char *value, size_t len, size_t *main_len) {
    if (!value) {
        *main_len = 0;
        return value;
    }
    const char *end = value + len;
    const char *s = value, *e = segment_end(value, end);
    trim(&s, &e);
    *main_len = (size_t)(e - s);
    return s;
}

void sq_header_params_init(sq_header_params *it, const char *value, size_t len) {
    const char *end = value ? value + len : value;
    it->p = value ? segment_end(value, end) : value;
    it->end = end;
}

int sq_header_params_next(sq_header_params *it, const char **name, size_t *name_len,
                          const char **raw, size_t *raw_len) {
    while (it->p && it->p < it->end) {
        /* it->p is at the ';' that ends the previous segment. */
        const char *s = it->p + 1;
        const char *e = segment_end(s, it->end);
        it->p = e;
        trim(&s, &e);
        if (s == e) continue;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        const char *ns = s, *ne = eq ? eq : e;
        trim(&ns, &ne);
        *name = ns;
        *name_len = (size_t)(ne - ns);
        if (eq) {
            const char *vs = eq + 1, *ve = e;
            trim(&vs, &ve);
            *raw = vs;
            *raw_len = (size_t)(ve - vs);
        } else {
            *raw = NULL;
            *raw_len = 0;
        }
        return 1;
    }
    return 0;
}

/* Decodes a raw parameter value (see sq_header_param_unquote).
 * _parse_header runs email.utils.unquote(), which for "..." replaces every
 * "\\" by "\" and then, in a second pass over that result, every "\""
 * by '"'; both passes are fused here into one stream with one pending
 * backslash. Only the characters whose index in that stream lies in
 * [lo, hi) are written, to out[index - lo]; the return value is the length
 * of the whole stream and *first / *last its end characters. The output
 * never runs ahead of the input, so out may equal raw. */
static size_t unquote_stream(const char *raw, size_t len, char *out, size_t lo, size_t hi,
                             char *first, char *last) {
    const char *s = raw;
    size_t n = len;
    bool escapes = false;
    if (n > 1 && s[0] == '"' && s[n - 1] == '"') {
        s++, n -= 2, escapes = true;
    } else if (n > 1 && s[0] == '<' && s[n - 1] == '>') {
        s++, n -= 2;
    }
    size_t o = 0;
    *first = *last = 0;
#define EMIT(ch)                                                                                   \
    do {                                                                                           \
        char c_ = (ch);                                                                            \
        if (o == 0) *first = c_;                                                                   \
        *last = c_;                                                                                \
        if (out && o >= lo && o < hi) out[o - lo] = c_;                                            \
        o++;                                                                                       \
    } while (0)
    if (!escapes) {
        for (size_t i = 0; i < n; i++)
            EMIT(s[i]);
    } else {
        bool pending = false; /* a backslash from pass 1 waiting for a '"' */
        for (size_t i = 0; i < n;) {
            char c;
            if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\\') {
                c = '\\';
                i += 2;
            } else {
                c = s[i++];
            }
            if (pending) {
                pending = false;
                if (c == '"') {
                    EMIT('"');
                    continue;
                }
                EMIT('\\');
            }
            if (c == '\\')
                pending = true;
            else
                EMIT(c);
        }
        if (pending) EMIT('\\');
    }
#undef EMIT
    return o;
}

/* The decoded value: the stream above, less one more pair of double quotes
 * around it, which _parse_header strips at the end. Measures only when out
 * is NULL. */
static size_t unquote_param(const char *raw, size_t len, char *out) {
    char first, last;
    size_t n = unquote_stream(raw, len, NULL, 0, 0, &first, &last);
    bool strip = n >= 2 && first == '"' && last == '"';
    size_t lo = strip ? 1 : 0, hi = strip ? n - 1 : n;
    if (out) unquote_stream(raw, len, out, lo, hi, &first, &last);
    return hi - lo;
}

size_t sq_header_param_unquote(const char *raw, size_t len, char *out) {
    return unquote_param(raw, len, out);
}

static bool name_eq(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return false;
    }
    return true;
}

int sq_header_param(const char *value, size_t len, const char *name, char *out, size_t cap,
                    size_t *out_len) {
    sq_header_params it;
    const char *pn, *raw, *found = NULL;
    size_t pnl, rawl, foundl = 0;
    sq_header_params_init(&it, value, len);
    while (sq_header_params_next(&it, &pn, &pnl, &raw, &rawl)) {
        if (raw && name_eq(pn, pnl, name)) {
            found = raw;
            foundl = rawl;
        }
    }
    if (!found) return 0;
    size_t need = unquote_param(found, foundl, NULL);
    *out_len = need;
    if (need > cap) return SQ_ELIMIT;
    unquote_param(found, foundl, out);
    return 1;
}

/* ---- ETags ------------------------------------------------------------- */

static void etag_hex(const unsigned char md[20], char out[SQ_ETAG_SIZE]) {
    static const char hex[] = "0123456789abcdef";
    out[0] = '"';
    for (int i = 0; i < 20; i++) {
        out[1 + 2 * i] = hex[md[i] >> 4];
        out[2 + 2 * i] = hex[md[i] & 15];
    }
    out[41] = '"';
    out[42] = 0;
}

int sq_etag_compute(const void *body, size_t len, char out[SQ_ETAG_SIZE]) {
    uv_buf_t b;
    b.base = (char *)(uintptr_t)body;
    b.len = len;
    return sq_etag_compute_bufs(&b, 1, out);
}

int sq_etag_compute_bufs(const uv_buf_t *bufs, size_t nbufs, char out[SQ_ETAG_SIZE]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return SQ_ENOMEM;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    for (size_t i = 0; ok && i < nbufs; i++)
        if (bufs[i].len) ok = EVP_DigestUpdate(ctx, bufs[i].base, bufs[i].len);
    if (ok) ok = EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok || mdlen != 20) return SQ_ENOMEM;
    etag_hex(md, out);
    return 0;
}

/* The next entity-tag in an If-None-Match value, as
 * re.findall(r'\*|(?:W/)?"[^"]*"') finds them: at each position '*', or
 * W/"...", or "..."; anything else is skipped one byte at a time. Once a
 * '"' has no closing partner no later one has either, which *no_close
 * remembers so that the scan stays linear. */
static bool next_etag(const char **pp, const char *end, bool *no_close, const char **tag,
                      size_t *tag_len) {
    for (const char *p = *pp; p < end; p++) {
        if (*p == '*') {
            *tag = p;
            *tag_len = 1;
            *pp = p + 1;
            return true;
        }
        const char *q = NULL;
        if (*p == 'W' && end - p >= 3 && p[1] == '/' && p[2] == '"')
            q = p + 2;
        else if (*p == '"')
            q = p;
        if (q && !*no_close) {
            const char *close = memchr(q + 1, '"', (size_t)(end - q - 1));
            if (close) {
                *tag = p;
                *tag_len = (size_t)(close + 1 - p);
                *pp = close + 1;
                return true;
            }
            *no_close = true;
        }
    }
    *pp = end;
    return false;
}

bool sq_etag_matches(const char *if_none_match, size_t len, const char *etag, size_t etag_len) {
    if (!etag || etag_len == 0 || !if_none_match) return false;
    const char *p = if_none_match, *end = if_none_match + len, *tag;
    size_t tag_len;
    bool no_close = false;
    if (etag_len >= 2 && etag[0] == 'W' && etag[1] == '/') etag += 2, etag_len -= 2;
    bool first = true;
    while (next_etag(&p, end, &no_close, &tag, &tag_len)) {
        if (first && tag_len == 1 && tag[0] == '*') return true;
        first = false;
        if (tag_len >= 2 && tag[0] == 'W' && tag[1] == '/') tag += 2, tag_len -= 2;
        if (tag_len == etag_len && memcmp(tag, etag, etag_len) == 0) return true;
    }
    return false;
}
