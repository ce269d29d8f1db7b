/* Percent-encoding and form/query-string pairs (Tornado's url_escape,
 * url_unescape and parse_qs_bytes). Pure: no I/O, no allocation. */
#include <string.h>

#include "squall/codec.h"

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t sq_url_unescape(const char *in, size_t len, char *out, bool plus_as_space) {
    /* Left to right, the output index never passes the input index, so
     * decoding in place is safe. An invalid escape is copied as it is and
     * scanning resumes right after its '%', as Python's unquote does
     * ("%%41" gives "%A"). */
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%' && len - i > 2) {
            int hi = hexval((unsigned char)in[i + 1]);
            int lo = hexval((unsigned char)in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out[o++] = (char)(hi << 4 | lo);
                i += 2;
                continue;
            }
        } else if (c == '+' && plus_as_space) {
            c = ' ';
        }
        out[o++] = (char)c;
    }
    return o;
}

/* Bytes that Python's quote never escapes (_ALWAYS_SAFE). */
static bool url_always_safe(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == '~';
}

int sq_url_escape(const char *in, size_t len, char *out, size_t cap, bool plus, size_t *out_len) {
    static const char hex[] = "0123456789ABCDEF";
    size_t need = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        bool keep = url_always_safe(c) || (plus ? c == ' ' : c == '/');
        need += keep ? 1 : 3;
    }
    *out_len = need;
    if (need > cap) return SQ_ELIMIT;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (url_always_safe(c) || (!plus && c == '/')) {
            out[o++] = (char)c;
        } else if (plus && c == ' ') {
            out[o++] = '+';
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    return 0;
}

void sq_form_init(sq_form_iter *it, const char *data, size_t len, char *buf, size_t cap,
                  uint32_t max_pairs) {
    it->p = data;
    it->end = data ? data + len : data;
    it->buf = buf;
    it->cap = cap;
    it->pairs = 0;
    it->max_pairs = max_pairs;
    it->err = 0;
}

/* True when decoding s would change it ('+' or a valid %XY). A lone '%'
 * that starts no valid escape changes nothing, so such text stays zero
 * copy. */
static bool needs_decoding(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') return true;
        if (s[i] == '%' && n - i > 2 && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0)
            return true;
    }
    return false;
}

int sq_form_next(sq_form_iter *it, const char **name, size_t *name_len, const char **value,
                 size_t *value_len) {
    if (it->err) return it->err;
    for (;;) {
        if (it->p >= it->end) return 0;
        const char *seg = it->p;
        const char *amp = memchr(seg, '&', (size_t)(it->end - seg));
        const char *seg_end = amp ? amp : it->end;
        it->p = amp ? amp + 1 : it->end;
        if (seg_end == seg) continue; /* "a&&b": empty segments are skipped */

        if (it->max_pairs && it->pairs >= it->max_pairs) return it->err = SQ_ELIMIT;
        it->pairs++;

        size_t seg_len = (size_t)(seg_end - seg);
        const char *eq = memchr(seg, '=', seg_len);
        const char *n = seg, *v = eq ? eq + 1 : seg_end;
        size_t nl = eq ? (size_t)(eq - seg) : seg_len;
        size_t vl = eq ? (size_t)(seg_end - v) : 0;

        /* Decode into buf only what changes: most names and many values
         * are plain and are returned as spans of the input. */
        bool dn = needs_decoding(n, nl), dv = needs_decoding(v, vl);
        size_t used = (dn ? nl : 0) + (dv ? vl : 0);
        if (used > it->cap) return it->err = SQ_ELIMIT;
        size_t o = 0;
        if (dn) {
            nl = sq_url_unescape(n, nl, it->buf, true);
            n = it->buf;
            o = nl;
        }
        if (dv) {
            vl = sq_url_unescape(v, vl, it->buf + o, true);
            v = it->buf + o;
        }
        *name = n;
        *name_len = nl;
        *value = v;
        *value_len = vl;
        return 1;
    }
}
