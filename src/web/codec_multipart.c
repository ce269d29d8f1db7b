/* multipart/form-data over a whole body (Tornado's parse_body_arguments and
 * parse_multipart_form_data). Pure: no I/O, no allocation; every span points
 * into the body.
 *
 * Tornado's algorithm, which this follows so that squall accepts and
 * rejects the same bodies: the body ends at the LAST "--boundary--"; what
 * precedes it is split on "--boundary\r\n"; every non-empty piece is a part
 * made of headers, a blank line, and the data, and must end with CRLF,
 * which is not part of the data. A preamble is therefore a (malformed)
 * part, and the epilogue is ignored. */
#include <string.h>

#include "squall/codec.h"

/* Python's str.strip() whitespace on latin-1 text (a request header as
 * Tornado decodes it). */
static bool latin1_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) || c == 0x85 ||
           c == 0xa0;
}

/* The same on UTF-8 text, ASCII part only (part headers are UTF-8). */
static bool ascii_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
}

int sq_multipart_boundary(const char *content_type, size_t len, const char **boundary,
                          size_t *boundary_len) {
    const char *p = content_type, *end = content_type ? content_type + len : content_type;
    while (p && p <= end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *fe = semi ? semi : end, *fs = p;
        p = semi ? semi + 1 : NULL;
        while (fs < fe && latin1_space((unsigned char)*fs))
            fs++;
        while (fe > fs && latin1_space((unsigned char)fe[-1]))
            fe--;
        const char *eq = memchr(fs, '=', (size_t)(fe - fs));
        if (!eq || eq - fs != 8 || memcmp(fs, "boundary", 8) != 0 || eq + 1 == fe) continue;
        const char *b = eq + 1;
        size_t bl = (size_t)(fe - b);
        if (b[0] == '"' && b[bl - 1] == '"') {
            /* A lone '"' both starts and ends with '"': it becomes empty. */
            b++;
            bl = bl >= 2 ? bl - 2 : 0;
        }
        if (bl == 0) return SQ_EPROTO;
        if (bl > SQ_MULTIPART_MAX_BOUNDARY) return SQ_ELIMIT;
        /* Tornado encodes the latin-1 text of the header as UTF-8, so a
         * non-ASCII boundary would not be the bytes the client sent. RFC
         * 2046 allows ASCII only; refuse the rest. */
        for (size_t i = 0; i < bl; i++)
            if ((unsigned char)b[i] >= 0x80) return SQ_EPROTO;
        *boundary = b;
        *boundary_len = bl;
        return 0;
    }
    return SQ_EPROTO;
}

/* The last occurrence of pat (m bytes, 1 <= m <= SQ_MULTIPART_MAX_BOUNDARY
 * + 4) in s (n bytes): Knuth-Morris-Pratt run backwards, so that a body made
 * to defeat a naive search still costs linear time. */
static const char *rfind(const char *s, size_t n, const char *pat, size_t m) {
    if (m > n) return NULL;
    /* fail[i]: length of the longest proper border of the reversed pattern's
     * first i+1 bytes. The reversed pattern's byte k is pat[m - 1 - k]. */
    uint16_t fail[SQ_MULTIPART_MAX_BOUNDARY + 4];
    fail[0] = 0;
    for (size_t i = 1, k = 0; i < m; i++) {
        while (k > 0 && pat[m - 1 - i] != pat[m - 1 - k])
            k = fail[k - 1];
        if (pat[m - 1 - i] == pat[m - 1 - k]) k++;
        fail[i] = (uint16_t)k;
    }
    size_t k = 0;
    for (size_t j = n; j-- > 0;) {
        while (k > 0 && s[j] != pat[m - 1 - k])
            k = fail[k - 1];
        if (s[j] == pat[m - 1 - k]) k++;
        if (k == m) return s + j;
    }
    return NULL;
}

int sq_multipart_init(sq_multipart *mp, const char *body, size_t len, const char *boundary,
                      size_t boundary_len, const sq_multipart_limits *limits, char *scratch,
                      size_t scratch_cap) {
    memset(mp, 0, sizeof *mp);
    if (!boundary || boundary_len == 0) return mp->err = SQ_EINVAL;
    if (boundary_len > SQ_MULTIPART_MAX_BOUNDARY) return mp->err = SQ_ELIMIT;
    if (limits) mp->limits = *limits;
    mp->scratch = scratch;
    mp->scratch_cap = scratch_cap;
    /* delim holds "--boundary--" while looking for the end, then
     * "--boundary\r\n", the separator between parts. */
    mp->delim[0] = mp->delim[1] = '-';
    memcpy(mp->delim + 2, boundary, boundary_len);
    memcpy(mp->delim + 2 + boundary_len, "--", 2);
    mp->delim_len = (uint32_t)boundary_len + 4;
    const char *final = body ? rfind(body, len, mp->delim, mp->delim_len) : NULL;
    if (!final) return mp->err = SQ_EPROTO;
    memcpy(mp->delim + 2 + boundary_len, "\r\n", 2);
    mp->body = body;
    mp->p = body;
    mp->end = final;
    return 0;
}

/* Strict UTF-8 (what Python's bytes.decode("utf-8") accepts). */
static bool utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            return false;
        }
        if (n - i <= need) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) return false;
        i += need + 1;
    }
    return true;
}

static bool ieq(const char *a, size_t alen, const char *b) {
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

/* Decodes a Content-Disposition parameter: zero copy when the decoded value
 * is a slice of the raw one (no backslash inside a quoted value), else into
 * the scratch buffer at *used. */
static int param_value(sq_multipart *mp, const char *raw, size_t rawl, size_t *used,
                       const char **out, size_t *out_len) {
    const char *s = raw;
    size_t n = rawl;
    if (n > 1 && s[0] == '"' && s[n - 1] == '"') {
        if (memchr(s + 1, '\\', n - 2)) {
            size_t need = sq_header_param_unquote(raw, rawl, NULL);
            if (mp->scratch_cap - *used < need) return SQ_ELIMIT;
            char *dst = mp->scratch + *used;
            *out_len = sq_header_param_unquote(raw, rawl, dst);
            *out = dst;
            *used += need;
            return 0;
        }
        s++, n -= 2;
    } else if (n > 1 && s[0] == '<' && s[n - 1] == '>') {
        s++, n -= 2;
    }
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') s++, n -= 2;
    *out = s;
    *out_len = n;
    return 0;
}

/* Parses one part's header block into part; 0 or a negative error. */
static int part_headers(sq_multipart *mp, const char *h, size_t hl, sq_multipart_part *part) {
    if (!utf8_valid((const unsigned char *)h, hl)) return SQ_EPROTO;
    const char *disp = NULL, *ctype = NULL;
    size_t disp_len = 0, ctype_len = 0;
    const char *p = h, *end = h + hl;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *ls = p, *le = nl ? nl : end;
        p = nl ? nl + 1 : end;
        if (le > ls && le[-1] == '\r') le--;
        if (le == ls) continue;
        /* Tornado reads a line starting with whitespace as a continuation
         * (obs-fold) of the previous one; squall refuses folding, as its
         * HTTP parser does, which no browser sends. */
        if (ascii_space((unsigned char)*ls)) return SQ_EPROTO;
        const char *colon = memchr(ls, ':', (size_t)(le - ls));
        if (!colon) return SQ_EPROTO;
        const char *vs = colon + 1, *ve = le;
        while (vs < ve && ascii_space((unsigned char)*vs))
            vs++;
        while (ve > vs && ascii_space((unsigned char)ve[-1]))
            ve--;
        size_t nlen = (size_t)(colon - ls);
        if (ieq(ls, nlen, "content-disposition")) {
            /* Tornado would join repeated fields with ','; refuse them. */
            if (disp) return SQ_EPROTO;
            disp = vs;
            disp_len = (size_t)(ve - vs);
        } else if (ieq(ls, nlen, "content-type")) {
            if (ctype) return SQ_EPROTO;
            ctype = vs;
            ctype_len = (size_t)(ve - vs);
        }
    }
    if (!disp) return SQ_EPROTO;
    size_t main_len;
    const char *main = sq_header_main(disp, disp_len, &main_len);
    if (main_len != 9 || memcmp(main, "form-data", 9) != 0) return SQ_EPROTO;

    const char *name_raw = NULL, *file_raw = NULL, *pn, *raw;
    size_t name_rawl = 0, file_rawl = 0, pnl, rawl;
    sq_header_params it;
    sq_header_params_init(&it, disp, disp_len);
    while (sq_header_params_next(&it, &pn, &pnl, &raw, &rawl)) {
        if (!raw) continue;
        if (ieq(pn, pnl, "name"))
            name_raw = raw, name_rawl = rawl;
        else if (ieq(pn, pnl, "filename"))
            file_raw = raw, file_rawl = rawl;
    }
    if (!name_raw) return SQ_EPROTO;
    size_t used = 0;
    int err = param_value(mp, name_raw, name_rawl, &used, &part->name, &part->name_len);
    if (err) return err;
    if (part->name_len == 0) return SQ_EPROTO;
    part->filename = NULL;
    part->filename_len = 0;
    if (file_raw) {
        const char *f;
        size_t fl;
        err = param_value(mp, file_raw, file_rawl, &used, &f, &fl);
        if (err) return err;
        if (fl) part->filename = f, part->filename_len = fl;
    }
    if (ctype) {
        part->content_type = ctype;
        part->content_type_len = ctype_len;
    } else if (part->filename) {
        part->content_type = "application/unknown";
        part->content_type_len = 19;
    } else {
        part->content_type = NULL;
        part->content_type_len = 0;
    }
    return 0;
}

int sq_multipart_next(sq_multipart *mp, sq_multipart_part *part) {
    if (mp->err) return mp->err;
    for (;;) {
        if (!mp->p || mp->p >= mp->end) return 0;
        const char *piece = mp->p;
        const char *sep = memmem(piece, (size_t)(mp->end - piece), mp->delim, mp->delim_len);
        const char *pe = sep ? sep : mp->end;
        mp->p = sep ? sep + mp->delim_len : mp->end;
        size_t plen = (size_t)(pe - piece);
        if (plen == 0) continue;

        if (mp->limits.max_parts && mp->parts >= mp->limits.max_parts) return mp->err = SQ_ELIMIT;
        mp->parts++;

        /* Look for the blank line only as far as the header bound allows. */
        size_t scan = plen, maxh = mp->limits.max_header_bytes;
        if (maxh && plen > 4 && plen - 4 > maxh) scan = maxh + 4;
        const char *eoh = memmem(piece, scan, "\r\n\r\n", 4);
        if (!eoh) return mp->err = scan < plen ? SQ_ELIMIT : SQ_EPROTO;
        size_t hl = (size_t)(eoh - piece);
        if (plen < 2 || piece[plen - 2] != '\r' || piece[plen - 1] != '\n')
            return mp->err = SQ_EPROTO;
        int err = part_headers(mp, piece, hl, part);
        if (err) return mp->err = err;
        /* The data is piece[hl + 4 : plen - 2], empty when those overlap
         * (a part that is only "headers\r\n\r\n"). */
        size_t ds = hl + 4, de = plen - 2;
        part->data = piece + ds;
        part->data_len = de > ds ? de - ds : 0;
        if (mp->limits.max_part_size && part->data_len > mp->limits.max_part_size)
            return mp->err = SQ_ELIMIT;
        part->headers = piece;
        part->headers_len = hl;
        return 1;
    }
}
