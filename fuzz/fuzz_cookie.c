/* libFuzzer target: cookies, signed values, XSRF tokens, ETags and HTTP
 * dates (src/web/codec_cookie.c, codec_signed.c, codec_header.c).
 *
 * Input: 1 byte of settings, then text used as a Cookie header, as a signed
 * value, as an XSRF token, as an If-None-Match value and (split in two) as
 * a cookie name and value to format. Checks:
 * - the Cookie iterator against a naive reference of parse_cookie, with a
 *   full and a short buffer; sq_cookie_get gives the last value of a valid
 *   name and nothing for an invalid one;
 * - Set-Cookie: refused exactly when Tornado refuses (a byte <= 0x20, an
 *   invalid name) and otherwise parsed back to the same name and value;
 * - signed values: garbage never verifies under a secret it was not made
 *   with, and create/decode round-trips any value in both versions;
 * - XSRF: decode/encode round-trips, a token always matches itself;
 * - ETag matching against a naive reference of the regex scan;
 * - HTTP dates against gmtime_r/strftime. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "squall/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

static bool sp(unsigned char c) {
    return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xa0;
}

typedef struct {
    size_t ns, nl, vs, vl; /* trimmed spans in the header */
} ref_cookie;

static size_t ref_cookies(const char *h, size_t n, ref_cookie *out) {
    size_t np = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && h[i] != ';') continue;
        size_t eq = start;
        while (eq < i && h[eq] != '=')
            eq++;
        size_t ks = start, ke = eq < i ? eq : start, vs = eq < i ? eq + 1 : start, ve = i;
        while (ks < ke && sp((unsigned char)h[ks]))
            ks++;
        while (ke > ks && sp((unsigned char)h[ke - 1]))
            ke--;
        while (vs < ve && sp((unsigned char)h[vs]))
            vs++;
        while (ve > vs && sp((unsigned char)h[ve - 1]))
            ve--;
        if (ke > ks || ve > vs) out[np++] = (ref_cookie){ks, ke - ks, vs, ve - vs};
        start = i + 1;
    }
    return np;
}

/* http.cookies._unquote. */
static size_t ref_unquote(const char *v, size_t n, char *out) {
    if (n < 2 || v[0] != '"' || v[n - 1] != '"') {
        memcpy(out, v, n);
        return n;
    }
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        size_t left = n - 1 - i; /* bytes up to the closing quote */
        if (v[i] == '\\' && left >= 4 && v[i + 1] >= '0' && v[i + 1] <= '3' && v[i + 2] >= '0' &&
            v[i + 2] <= '7' && v[i + 3] >= '0' && v[i + 3] <= '7') {
            out[o++] = (char)((v[i + 1] - '0') * 64 + (v[i + 2] - '0') * 8 + (v[i + 3] - '0'));
            i += 3;
        } else if (v[i] == '\\' && left >= 2 && v[i + 1] != '\n') {
            out[o++] = v[++i];
        } else {
            out[o++] = v[i];
        }
    }
    return o;
}

static void check_cookie_header(const char *h, size_t n, uint8_t cfg) {
    ref_cookie *ref = malloc(sizeof *ref * (n + 1));
    size_t nref = ref_cookies(h, n, ref);
    char *buf = malloc(n + 1), *want = malloc(n + 1);
    sq_cookie_iter it;
    const char *nm, *v;
    size_t nl, vl, i = 0;
    int r;
    sq_cookie_init(&it, h, n, buf, n);
    while ((r = sq_cookie_next(&it, &nm, &nl, &v, &vl)) == 1) {
        CHECK(i < nref);
        CHECK(nm == h + ref[i].ns && nl == ref[i].nl);
        size_t wl = ref_unquote(h + ref[i].vs, ref[i].vl, want);
        CHECK(vl == wl && memcmp(v, want, wl) == 0);
        CHECK((v >= h && v + vl <= h + n) || (v >= buf && v + vl <= buf + n));
        /* sq_cookie_get: the last pair of that name. */
        size_t last = i;
        for (size_t j = i + 1; j < nref; j++)
            if (ref[j].nl == nl && memcmp(h + ref[j].ns, nm, nl) == 0) last = j;
        char got[64];
        size_t gl = 0;
        int g = sq_cookie_get(h, n, nm, nl, got, sizeof got, &gl);
        if (!sq_cookie_name_valid(nm, nl)) {
            CHECK(g == 0);
        } else {
            size_t ll = ref_unquote(h + ref[last].vs, ref[last].vl, want);
            CHECK(gl == ll);
            CHECK(g == (ll <= sizeof got ? 1 : SQ_ELIMIT));
            if (g == 1) CHECK(memcmp(got, want, ll) == 0);
        }
        i++;
    }
    CHECK(r == 0 && i == nref);
    /* A short buffer: the same pairs, some replaced by SQ_ELIMIT. */
    size_t cap = cfg & 7;
    sq_cookie_init(&it, h, n, buf, cap);
    i = 0;
    while ((r = sq_cookie_next(&it, &nm, &nl, &v, &vl)) != 0) {
        CHECK(i < nref);
        if (r == 1) {
            size_t wl = ref_unquote(h + ref[i].vs, ref[i].vl, want);
            CHECK(vl == wl && memcmp(v, want, wl) == 0);
        } else {
            CHECK(r == SQ_ELIMIT);
        }
        i++;
    }
    CHECK(i == nref);
    free(ref), free(buf), free(want);
}

static void check_format(const char *s, size_t n, uint8_t cfg) {
    size_t cut = n ? (size_t)cfg * n / 256 : 0;
    char *name = malloc(cut + 1), *value = malloc(n - cut + 1);
    memcpy(name, s, cut);
    name[cut] = 0;
    memcpy(value, s + cut, n - cut);
    value[n - cut] = 0;
    size_t nl = strlen(name), vl = strlen(value);
    bool bad = !sq_cookie_name_valid(name, nl);
    for (size_t i = 0; i < nl; i++)
        bad |= (unsigned char)name[i] <= 0x20;
    for (size_t i = 0; i < vl; i++)
        bad |= (unsigned char)value[i] <= 0x20;
    sq_cookie_attrs at = {.path = (cfg & 1) ? "/" : NULL,
                          .domain = (cfg & 2) ? "x.io" : NULL,
                          .expires = (cfg & 4) ? 1359312200 : 0,
                          .has_max_age = cfg & 8,
                          .max_age = -7,
                          .secure = cfg & 16,
                          .httponly = cfg & 32,
                          .samesite = (sq_samesite)(cfg >> 6)};
    size_t need = 0;
    int r = sq_cookie_format(NULL, 0, name, value, &at, &need);
    if (bad) {
        CHECK(r == SQ_EHEADER);
    } else {
        CHECK(r == SQ_ELIMIT);
        char *out = malloc(need + 1);
        size_t got;
        CHECK(sq_cookie_format(out, need, name, value, &at, &got) == SQ_ELIMIT);
        CHECK(sq_cookie_format(out, need + 1, name, value, &at, &got) == 0 && got == need);
        CHECK(out[need] == 0 && strlen(out) == need);
        /* Parse it back: the first pair is the name and the value. */
        char *buf = malloc(need + 1);
        sq_cookie_iter it;
        const char *pn, *pv;
        size_t pnl, pvl;
        sq_cookie_init(&it, out, need, buf, need);
        CHECK(sq_cookie_next(&it, &pn, &pnl, &pv, &pvl) == 1);
        CHECK(pnl == nl && memcmp(pn, name, nl) == 0);
        CHECK(pvl == vl && memcmp(pv, value, vl) == 0);
        free(buf), free(out);
    }
    free(name), free(value);
}

static void check_signed(const char *s, size_t n, uint8_t cfg) {
    static const sq_signing_key keys[] = {{0, "zero", 4}, {3, "three", 5}};
    const sq_cookie_secret plain = {.secret = "k", .secret_len = 1};
    const sq_cookie_secret table = {.keys = keys, .nkeys = 2};
    const sq_cookie_secret *sec = (cfg & 1) ? &table : &plain;
    char *out = malloc(n + 1);
    size_t ol;
    int r = sq_signed_value_decode(sec, "n", 1, s, n, 31, 0, 1700000000, out, n, &ol);
    CHECK(r == 0 || r == SQ_EINVAL || r == SQ_ETIMEDOUT || r == SQ_ELIMIT);
    if (r == 0) CHECK(ol <= n);
    int kv;
    r = sq_signed_value_key_version(s, n, &kv);
    CHECK(r == 0 || r == SQ_EINVAL);
    /* Round trip with the input as the value. */
    int version = (cfg & 2) && sec == &plain ? 1 : 2;
    size_t need;
    CHECK(sq_signed_value_create(sec, version, 3, "n", 1, s, n, 1700000000, NULL, 0, &need) ==
          SQ_ELIMIT);
    char *sv = malloc(need);
    size_t svl, back_len;
    CHECK(sq_signed_value_create(sec, version, 3, "n", 1, s, n, 1700000000, sv, need, &svl) == 0);
    char *back = malloc(n + 1);
    CHECK(sq_signed_value_decode(sec, "n", 1, sv, svl, 31, 0, 1700000000, back, n, &back_len) == 0);
    CHECK(back_len == n && memcmp(back, s, n) == 0);
    CHECK(sq_signed_value_decode(sec, "m", 1, sv, svl, 31, 0, 1700000000, back, n, &back_len) ==
          SQ_EINVAL);
    CHECK(sq_signed_value_decode(sec, "n", 1, sv, svl, 31, 0, 1700000000 + 32 * 86400, back, n,
                                 &back_len) == SQ_ETIMEDOUT);
    if (svl) {
        sv[(cfg * 7u) % svl] ^= 1 << (cfg & 7);
        CHECK(sq_signed_value_decode(sec, "n", 1, sv, svl, 31, 0, 1700000000, back, n, &back_len) !=
              0);
    }
    free(out), free(sv), free(back);
}

static void check_xsrf(const char *s, size_t n, uint8_t cfg) {
    uint8_t *tok = malloc(n + 1);
    size_t tl;
    int ver;
    int64_t ts;
    int r = sq_xsrf_decode(s, n, tok, n, &tl, &ver, &ts);
    if (r != 0) {
        CHECK(r == SQ_EINVAL);
        CHECK(sq_xsrf_check(s, n, s, n) == SQ_EINVAL || n == 0);
        free(tok);
        return;
    }
    CHECK(tl <= n && (ver == 1 || ver == 2));
    int c = sq_xsrf_check(s, n, s, n);
    CHECK(tl == 0 ? c == SQ_EINVAL : c == 1);
    uint8_t mask[4] = {cfg, (uint8_t)(cfg * 3), 0, 0xff};
    size_t need;
    CHECK(sq_xsrf_encode(tok, tl, mask, ts, NULL, 0, &need) == SQ_ELIMIT);
    char *enc = malloc(need);
    size_t el;
    CHECK(sq_xsrf_encode(tok, tl, mask, ts, enc, need, &el) == 0 && el == need);
    uint8_t *tok2 = malloc(tl + 1);
    size_t tl2;
    int64_t ts2;
    CHECK(sq_xsrf_decode(enc, el, tok2, tl, &tl2, &ver, &ts2) == 0);
    CHECK(ver == 2 && tl2 == tl && memcmp(tok2, tok, tl) == 0 && ts2 == ts);
    if (tl) CHECK(sq_xsrf_check(enc, el, s, n) == 1);
    free(tok), free(tok2), free(enc);
}

/* re.findall(r'\*|(?:W/)?"[^"]*"') done the slow, obvious way. */
static bool ref_etag(const char *s, size_t n, const char *e, size_t el) {
    if (el == 0) return false;
    if (el >= 2 && e[0] == 'W' && e[1] == '/') e += 2, el -= 2;
    bool first = true;
    for (size_t i = 0; i < n;) {
        size_t ts = i, te = 0;
        if (s[i] == '*') {
            te = i + 1;
        } else {
            size_t q = (s[i] == 'W' && i + 2 < n && s[i + 1] == '/' && s[i + 2] == '"') ? i + 2
                       : s[i] == '"'                                                    ? i
                                                                                        : n;
            for (size_t j = q + 1; q < n && j < n; j++)
                if (s[j] == '"') {
                    te = j + 1;
                    break;
                }
        }
        if (!te) {
            i++;
            continue;
        }
        if (first && te - ts == 1 && s[ts] == '*') return true;
        first = false;
        if (te - ts >= 2 && s[ts] == 'W' && s[ts + 1] == '/') ts += 2;
        if (te - ts == el && memcmp(s + ts, e, el) == 0) return true;
        i = te;
    }
    return false;
}

static void check_etag(const char *s, size_t n, uint8_t cfg) {
    static const char *const tags[] = {"\"abc\"", "W/\"abc\"", "\"\"", "*", "", "\"x\""};
    const char *e = tags[cfg % 6];
    CHECK(sq_etag_matches(s, n, e, strlen(e)) == ref_etag(s, n, e, strlen(e)));
    /* The value's own first quoted string or token, as an ETag. */
    size_t k = 0;
    while (k < n && s[k] != ',')
        k++;
    CHECK(sq_etag_matches(s, n, s, k) == ref_etag(s, n, s, k));
}

static void check_date(const uint8_t *d, size_t n) {
    if (n < 8) return;
    int64_t t;
    memcpy(&t, d, 8);
    t %= INT64_C(400000000000);
    char out[SQ_HTTP_DATE_SIZE];
    int r = sq_format_timestamp(t, out);
    if (t < INT64_C(-62135596800) || t > INT64_C(253402300799)) {
        CHECK(r == SQ_EINVAL);
        return;
    }
    CHECK(r == 0);
    time_t tt = (time_t)t;
    struct tm tm;
    CHECK(gmtime_r(&tt, &tm));
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char want[64];
    int year = tm.tm_year + 1900;
    snprintf(want, sizeof want, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             mons[tm.tm_mon], year, tm.tm_hour, tm.tm_min, tm.tm_sec);
    CHECK(strcmp(out, want) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t cfg = data[0];
    size_t n = size - 1;
    char *s = malloc(n ? n : 1); /* exact size: ASan sees any overread */
    memcpy(s, data + 1, n);
    check_cookie_header(s, n, cfg);
    check_format(s, n, cfg);
    check_signed(s, n, cfg);
    check_xsrf(s, n, cfg);
    check_etag(s, n, cfg);
    check_date(data + 1, n);
    free(s);
    return 0;
}
