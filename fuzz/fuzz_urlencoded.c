/* libFuzzer target: percent-encoding, form/query pairs and the escapes
 * (src/web/codec_url.c, src/web/codec_escape.c).
 *
 * Input: 1 byte of settings (bit 0: plus_as_space, bits 1-3: max pairs,
 * bits 4-7: decode-buffer shortfall), then the text. Checks:
 * - sq_url_unescape against a plain reference decoder, out of place and in
 *   place, and unescape(escape(x)) == x in both styles;
 * - sq_form_next against a reference split-and-decode, with the full buffer
 *   (every pair must come), with a short buffer and a pair bound (each call
 *   gives the reference pair or SQ_ELIMIT, and errors are sticky);
 * - xhtml_unescape(xhtml_escape(x)) == x, unescape in place and never longer;
 * - sq_json_escape: measuring agrees with writing, valid UTF-8 always
 *   escapes to printable ASCII with no "</", invalid UTF-8 is refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "squall/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

static int ref_hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Python's unquote_to_bytes after replace('+', ' ') when plus. */
static size_t ref_unescape(const char *s, size_t n, char *out, bool plus) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && ref_hex((unsigned char)s[i + 1]) >= 0 &&
            ref_hex((unsigned char)s[i + 2]) >= 0) {
            out[o++] =
                (char)(ref_hex((unsigned char)s[i + 1]) * 16 + ref_hex((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[o++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    return o;
}

typedef struct {
    char *name, *value;
    size_t nl, vl;
} ref_pair;

/* parse_qsl(keep_blank_values=True): split on '&', skip empty segments,
 * split each on the first '=', decode both halves. */
static size_t ref_form(const char *s, size_t n, ref_pair *pairs, char *store) {
    size_t np = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '&') continue;
        if (i > start) {
            const char *seg = s + start;
            size_t sl = i - start, eq = sl;
            for (size_t k = 0; k < sl; k++)
                if (seg[k] == '=') {
                    eq = k;
                    break;
                }
            pairs[np].name = store;
            pairs[np].nl = ref_unescape(seg, eq, store, true);
            store += pairs[np].nl;
            pairs[np].value = store;
            pairs[np].vl = eq < sl ? ref_unescape(seg + eq + 1, sl - eq - 1, store, true) : 0;
            store += pairs[np].vl;
            np++;
        }
        start = i + 1;
    }
    return np;
}

static void check_url(const char *s, size_t n, bool plus) {
    char *out = malloc(n + 1), *ref = malloc(n + 1), *copy = malloc(n + 1);
    size_t got = sq_url_unescape(s, n, out, plus);
    size_t want = ref_unescape(s, n, ref, plus);
    CHECK(got == want && memcmp(out, ref, got) == 0);
    memcpy(copy, s, n);
    got = sq_url_unescape(copy, n, copy, plus);
    CHECK(got == want && memcmp(copy, ref, got) == 0);
    free(out), free(ref), free(copy);

    for (int p = 0; p < 2; p++) {
        size_t need = 0;
        int r = sq_url_escape(s, n, NULL, 0, p, &need);
        CHECK(r == (need ? SQ_ELIMIT : 0) && need >= n && need <= 3 * n);
        char *enc = malloc(need + 1), *dec = malloc(need + 1);
        size_t el = 0;
        CHECK(sq_url_escape(s, n, enc, need, p, &el) == 0 && el == need);
        if (need) CHECK(sq_url_escape(s, n, enc, need - 1, p, &el) == SQ_ELIMIT);
        for (size_t i = 0; i < need; i++) {
            unsigned char c = (unsigned char)enc[i];
            CHECK(c > 0x20 && c < 0x7f && c != '&' && c != '=' && c != '?' && c != '#');
        }
        size_t dl = sq_url_unescape(enc, need, dec, p);
        CHECK(dl == n && memcmp(dec, s, n) == 0);
        free(enc), free(dec);
    }
}

static void check_form(const char *s, size_t n, const uint8_t cfg) {
    ref_pair *pairs = malloc(sizeof(ref_pair) * (n / 2 + 2));
    char *store = malloc(n + 1);
    size_t np = ref_form(s, n, pairs, store);
    /* The full buffer: every pair, equal to the reference. */
    char *buf = malloc(n + 1);
    sq_form_iter it;
    sq_form_init(&it, s, n, buf, n, 0);
    const char *nm, *v;
    size_t nl, vl, i = 0;
    int r;
    while ((r = sq_form_next(&it, &nm, &nl, &v, &vl)) == 1) {
        CHECK(i < np);
        CHECK(nl == pairs[i].nl && memcmp(nm, pairs[i].name, nl) == 0);
        CHECK(vl == pairs[i].vl && memcmp(v, pairs[i].value, vl) == 0);
        CHECK((nm >= s && nm + nl <= s + n) || (nm >= buf && nm + nl <= buf + n));
        CHECK((v >= s && v + vl <= s + n) || (v >= buf && v + vl <= buf + n));
        i++;
    }
    CHECK(r == 0 && i == np);
    /* A short buffer and a bound: a prefix of the same pairs, then a sticky
     * SQ_ELIMIT or the end. */
    uint32_t max_pairs = (cfg >> 1) & 7;
    size_t shortfall = (size_t)(cfg >> 4) * 3;
    size_t cap = n > shortfall ? n - shortfall : 0;
    sq_form_init(&it, s, n, buf, cap, max_pairs);
    i = 0;
    while ((r = sq_form_next(&it, &nm, &nl, &v, &vl)) == 1) {
        CHECK(i < np && (max_pairs == 0 || i < max_pairs));
        CHECK(nl == pairs[i].nl && memcmp(nm, pairs[i].name, nl) == 0);
        CHECK(vl == pairs[i].vl && memcmp(v, pairs[i].value, vl) == 0);
        i++;
    }
    if (r == 0)
        CHECK(i == np);
    else
        CHECK(r == SQ_ELIMIT && sq_form_next(&it, &nm, &nl, &v, &vl) == SQ_ELIMIT);
    free(pairs), free(store), free(buf);
}

static bool utf8_ok(const unsigned char *s, size_t n) {
    /* A second, table-free validator: decode and check the ranges. */
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i], cp, k;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            k = 1, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            k = 2, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            k = 3, cp = c & 0x07;
        else
            return false;
        if (i + k >= n) return false;
        for (uint32_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        uint32_t min = k == 1 ? 0x80 : k == 2 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += k + 1;
    }
    return true;
}

static void check_escapes(const char *s, size_t n) {
    size_t need = 0;
    sq_xhtml_escape(s, n, NULL, 0, &need);
    CHECK(need >= n && need <= 6 * n);
    char *esc = malloc(need + 1), *back = malloc(need + 1), *copy = malloc(n + 1);
    size_t el;
    CHECK(sq_xhtml_escape(s, n, esc, need, &el) == 0 && el == need);
    for (size_t i = 0; i < el; i++)
        CHECK(esc[i] != '<' && esc[i] != '>' && esc[i] != '"' && esc[i] != '\'');
    size_t bl = sq_xhtml_unescape(esc, el, back);
    CHECK(bl == n && memcmp(back, s, n) == 0);
    size_t ul = sq_xhtml_unescape(s, n, back);
    CHECK(ul <= n);
    memcpy(copy, s, n);
    size_t il = sq_xhtml_unescape(copy, n, copy);
    CHECK(il == ul && memcmp(copy, back, ul) == 0);
    free(esc), free(back), free(copy);

    size_t jn = 0;
    int r = sq_json_escape(s, n, NULL, 0, &jn);
    bool valid = utf8_ok((const unsigned char *)s, n);
    if (!valid) {
        CHECK(r == SQ_EINVAL);
        return;
    }
    CHECK(r == (jn ? SQ_ELIMIT : 0) && jn >= n);
    char *js = malloc(jn + 1);
    size_t jl;
    CHECK(sq_json_escape(s, n, js, jn, &jl) == 0 && jl == jn);
    for (size_t i = 0; i < jl; i++) {
        unsigned char c = (unsigned char)js[i];
        CHECK(c >= 0x20 && c < 0x7f);
        if (c == '"') CHECK(i > 0 && js[i - 1] == '\\');
        if (c == '/' && i > 0) CHECK(js[i - 1] != '<');
    }
    free(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t cfg = data[0];
    size_t n = size - 1;
    char *s = malloc(n ? n : 1); /* exact size: ASan sees any overread */
    memcpy(s, data + 1, n);
    check_url(s, n, cfg & 1);
    check_form(s, n, cfg);
    check_escapes(s, n);
    free(s);
    return 0;
}
