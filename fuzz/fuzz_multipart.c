/* libFuzzer target: multipart/form-data and header parameters
 * (src/web/codec_multipart.c, src/web/codec_header.c).
 *
 * Input: 1 byte of settings (bits 0-1: part bound, bits 2-3: size bound,
 * bits 4-5: header bound, bit 6: tiny scratch buffer), then a Content-Type
 * value up to the first '\n', then the body. Checks:
 * - header parameters: measuring agrees with decoding, decoding never grows,
 *   in place agrees with out of place, the main value and parameter names
 *   are spans of the value;
 * - the body against a naive reference of Tornado's framing (last
 *   "--B--", split on "--B\r\n", a blank line, a final CRLF): every part
 *   squall returns has exactly the reference's data span, a body squall
 *   accepts has exactly the reference's pieces, and a piece the reference
 *   finds malformed is never returned;
 * - with bounds, the parts are a prefix of the unbounded ones and the
 *   parse ends in 0 or a sticky SQ_ELIMIT / SQ_EPROTO;
 * - every span points into the body (or the scratch buffer, or the static
 *   default content type). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "squall/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

static bool inside(const char *p, size_t n, const char *base, size_t len) {
    return n == 0 || (p >= base && p + n <= base + len);
}

static void check_params(const char *v, size_t n) {
    size_t ml;
    const char *m = sq_header_main(v, n, &ml);
    CHECK(inside(m, ml, v, n));
    sq_header_params it;
    const char *pn, *raw;
    size_t pnl, rl;
    char *buf = malloc(n + 1), *copy = malloc(n + 1);
    sq_header_params_init(&it, v, n);
    while (sq_header_params_next(&it, &pn, &pnl, &raw, &rl)) {
        CHECK(inside(pn, pnl, v, n));
        if (!raw) continue;
        CHECK(inside(raw, rl, v, n));
        size_t need = sq_header_param_unquote(raw, rl, NULL);
        CHECK(need <= rl);
        size_t got = sq_header_param_unquote(raw, rl, buf);
        CHECK(got == need);
        memcpy(copy, raw, rl);
        CHECK(sq_header_param_unquote(copy, rl, copy) == need && memcmp(copy, buf, need) == 0);
    }
    static const char *const names[] = {"boundary", "name", "filename", "charset", ""};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t need = 0, got = 0;
        int r = sq_header_param(v, n, names[i], NULL, 0, &need);
        if (r == 0) continue;
        CHECK(r == 1 ? need == 0 : r == SQ_ELIMIT);
        CHECK(need <= n);
        CHECK(sq_header_param(v, n, names[i], buf, need, &got) == 1 && got == need);
    }
    free(buf), free(copy);
}

/* The naive reference of Tornado's framing. */
typedef struct {
    size_t start, len; /* the piece */
    bool ok;           /* has a blank line and ends in CRLF */
    size_t data, data_len;
} ref_piece;

static const char *naive_find(const char *s, size_t n, const char *p, size_t m) {
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(s + i, p, m) == 0) return s + i;
    return NULL;
}

static size_t reference(const char *body, size_t len, const char *b, size_t bl, ref_piece *out,
                        bool *found_end) {
    char delim[SQ_MULTIPART_MAX_BOUNDARY + 4];
    memcpy(delim, "--", 2);
    memcpy(delim + 2, b, bl);
    memcpy(delim + 2 + bl, "--", 2);
    size_t m = bl + 4;
    const char *end = NULL;
    for (size_t i = len >= m ? len - m + 1 : 0; i-- > 0;)
        if (memcmp(body + i, delim, m) == 0) {
            end = body + i;
            break;
        }
    *found_end = end != NULL;
    if (!end) return 0;
    memcpy(delim + 2 + bl, "\r\n", 2);
    size_t np = 0;
    const char *p = body;
    while (p < end) {
        const char *sep = naive_find(p, (size_t)(end - p), delim, m);
        const char *pe = sep ? sep : end;
        size_t pl = (size_t)(pe - p);
        if (pl) {
            ref_piece *r = &out[np++];
            r->start = (size_t)(p - body);
            r->len = pl;
            const char *eoh = naive_find(p, pl, "\r\n\r\n", 4);
            r->ok = eoh && pl >= 2 && p[pl - 2] == '\r' && p[pl - 1] == '\n';
            if (r->ok) {
                size_t ds = (size_t)(eoh - p) + 4, de = pl - 2;
                r->data = r->start + ds;
                r->data_len = de > ds ? de - ds : 0;
            }
        }
        p = sep ? sep + m : end;
    }
    return np;
}

static void check_part(const sq_multipart_part *p, const char *body, size_t len,
                       const char *scratch, size_t scap) {
    CHECK(p->name_len > 0);
    CHECK(inside(p->name, p->name_len, body, len) || inside(p->name, p->name_len, scratch, scap));
    if (p->filename) {
        CHECK(p->filename_len > 0);
        CHECK(inside(p->filename, p->filename_len, body, len) ||
              inside(p->filename, p->filename_len, scratch, scap));
    }
    if (p->content_type && !inside(p->content_type, p->content_type_len, body, len))
        CHECK(p->filename && p->content_type_len == 19 &&
              memcmp(p->content_type, "application/unknown", 19) == 0);
    CHECK(inside(p->data, p->data_len, body, len));
    CHECK(inside(p->headers, p->headers_len, body, len));
    CHECK(p->data == p->headers + p->headers_len + 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t cfg = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(in, '\n', n);
    size_t ctl = nl ? (size_t)(nl - in) : n;
    char *ct = malloc(ctl ? ctl : 1);
    memcpy(ct, in, ctl);
    size_t len = nl ? n - ctl - 1 : 0;
    char *body = malloc(len ? len : 1);
    if (len) memcpy(body, nl + 1, len);

    check_params(ct, ctl);

    const char *b = "B";
    size_t bl = 1;
    const char *cb;
    size_t cbl;
    int r = sq_multipart_boundary(ct, ctl, &cb, &cbl);
    if (r == 0) {
        CHECK(cbl > 0 && cbl <= SQ_MULTIPART_MAX_BOUNDARY && inside(cb, cbl, ct, ctl));
        b = cb, bl = cbl;
    } else {
        CHECK(r == SQ_EPROTO || r == SQ_ELIMIT);
    }

    ref_piece *ref = malloc(sizeof *ref * (len / 2 + 2));
    bool ref_end;
    size_t nref = reference(body, len, b, bl, ref, &ref_end);

    size_t scap = (cfg & 0x40) ? 8 : 4096;
    char *scratch = malloc(scap);
    sq_multipart mp;
    sq_multipart_part p;
    r = sq_multipart_init(&mp, body, len, b, bl, NULL, scratch, scap);
    CHECK(r == 0 ? ref_end : r == SQ_EPROTO && !ref_end);
    size_t np = 0, k = 0; /* k: index into the reference pieces */
    const char **datas = malloc(sizeof *datas * (nref + 1));
    size_t *dls = malloc(sizeof *dls * (nref + 1));
    while (r == 0 && (r = sq_multipart_next(&mp, &p)) == 1) {
        check_part(&p, body, len, scratch, scap);
        CHECK(k < nref && ref[k].ok);
        CHECK(p.data == body + ref[k].data && p.data_len == ref[k].data_len);
        datas[np] = p.data, dls[np] = p.data_len;
        np++, k++;
        r = 0;
    }
    if (r == 0) {
        CHECK(np == nref);
    } else {
        CHECK(r == SQ_EPROTO || r == SQ_ELIMIT);
        CHECK(sq_multipart_next(&mp, &p) == r);
    }

    /* Bounded: a prefix of the same parts. */
    static const uint32_t parts_b[] = {0, 1, 2, 5};
    static const size_t size_b[] = {0, 0, 3, 64}, head_b[] = {0, 10, 40, 200};
    sq_multipart_limits lim = {parts_b[cfg & 3], size_b[(cfg >> 2) & 3], head_b[(cfg >> 4) & 3]};
    int r2 = sq_multipart_init(&mp, body, len, b, bl, &lim, scratch, scap);
    size_t i = 0;
    while (r2 == 0 && (r2 = sq_multipart_next(&mp, &p)) == 1) {
        CHECK(i < np && p.data == datas[i] && p.data_len == dls[i]);
        CHECK(!lim.max_parts || i < lim.max_parts);
        CHECK(!lim.max_part_size || p.data_len <= lim.max_part_size);
        CHECK(!lim.max_header_bytes || p.headers_len <= lim.max_header_bytes);
        i++;
        r2 = 0;
    }
    if (r2 == 0)
        CHECK(r == 0 && i == np);
    else
        CHECK((r2 == SQ_ELIMIT || r2 == r) && sq_multipart_next(&mp, &p) == r2);

    free(datas), free(dls), free(scratch), free(ref), free(ct), free(body);
    return 0;
}
