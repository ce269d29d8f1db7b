/* Cookies: the Cookie request header as Tornado's httputil.parse_cookie
 * reads it, and Set-Cookie values as Tornado's set_cookie and Python's
 * Morsel.OutputString() write them. Pure: no I/O, no allocation. */
#include <string.h>

#include "squall/codec.h"

/* Python's str.strip() whitespace on the latin-1 text Tornado makes of a
 * header: ASCII whitespace, the separators 0x1c-0x1f, NEL and NBSP. */
static bool latin1_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) || c == 0x85 ||
           c == 0xa0;
}

static void trim(const char **s, const char **e) {
    while (*s < *e && latin1_space((unsigned char)**s))
        (*s)++;
    while (*e > *s && latin1_space((unsigned char)(*e)[-1]))
        (*e)--;
}

/* The next raw pair: name and value trimmed, value still quoted. */
static bool next_raw(const char **pp, const char *end, const char **n, size_t *nl, const char **v,
                     size_t *vl) {
    while (*pp && *pp <= end) {
        const char *c = *pp;
        const char *semi = memchr(c, ';', (size_t)(end - c));
        const char *ce = semi ? semi : end;
        *pp = semi ? semi + 1 : NULL;
        const char *eq = memchr(c, '=', (size_t)(ce - c));
        const char *ks = c, *ke = eq ? eq : c, *vs = eq ? eq + 1 : c, *ve = ce;
        trim(&ks, &ke);
        trim(&vs, &ve);
        if (ks == ke && vs == ve) continue;
        *n = ks;
        *nl = (size_t)(ke - ks);
        *v = vs;
        *vl = (size_t)(ve - vs);
        return true;
    }
    return false;
}

/* http.cookies._unquote on a value in double quotes: the regex
 * \\(?:([0-3][0-7][0-7])|(.)) replaced left to right, where '.' is any
 * character but '\n'. Writes to out (or only measures when out is NULL). */
static size_t unescape_quoted(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            if (n - i > 3 && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                c = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
                i += 3;
            } else if (s[i + 1] != '\n') {
                c = s[++i];
            }
        }
        if (out) out[o] = c;
        o++;
    }
    return o;
}

/* Unquotes a raw value: zero copy unless it is quoted and has a backslash.
 * Returns 0, or SQ_ELIMIT when the copy does not fit (*need set). */
static int unquote_value(const char *v, size_t vl, char *buf, size_t cap, const char **out,
                         size_t *out_len) {
    if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
        v++, vl -= 2;
        if (memchr(v, '\\', vl)) {
            size_t need = unescape_quoted(v, vl, NULL);
            *out_len = need;
            if (need > cap) return SQ_ELIMIT;
            unescape_quoted(v, vl, buf);
            *out = buf;
            return 0;
        }
    }
    *out = v;
    *out_len = vl;
    return 0;
}

void sq_cookie_init(sq_cookie_iter *it, const char *header, size_t len, char *buf, size_t cap) {
    it->p = header;
    it->end = header ? header + len : header;
    it->buf = buf;
    it->cap = cap;
}

int sq_cookie_next(sq_cookie_iter *it, const char **name, size_t *name_len, const char **value,
                   size_t *value_len) {
    const char *v;
    size_t vl;
    if (!next_raw(&it->p, it->end, name, name_len, &v, &vl)) return 0;
    return unquote_value(v, vl, it->buf, it->cap, value, value_len) ? SQ_ELIMIT : 1;
}

/* The characters of Python's http.cookies._LegalChars. */
static bool legal_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~:", c));
}

static bool ieq(const char *a, size_t alen, const char *b) {
    if (alen != strlen(b)) return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (x != (unsigned char)b[i]) return false;
    }
    return true;
}

bool sq_cookie_name_valid(const char *name, size_t len) {
    static const char *const reserved[] = {"expires", "path",     "comment", "domain",  "max-age",
                                           "secure",  "httponly", "version", "samesite"};
    if (!name || len == 0) return false;
    for (size_t i = 0; i < len; i++)
        if (!legal_char((unsigned char)name[i])) return false;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (ieq(name, len, reserved[i])) return false;
    return true;
}

int sq_cookie_get(const char *header, size_t len, const char *name, size_t name_len, char *out,
                  size_t cap, size_t *out_len) {
    if (!sq_cookie_name_valid(name, name_len)) return 0;
    const char *p = header, *end = header ? header + len : header, *n, *v, *fv = NULL;
    size_t nl, vl, fvl = 0;
    while (next_raw(&p, end, &n, &nl, &v, &vl))
        if (nl == name_len && memcmp(n, name, nl) == 0) fv = v, fvl = vl;
    if (!fv) return 0;
    const char *val;
    size_t val_len;
    if (unquote_value(fv, fvl, out, cap, &val, &val_len)) {
        *out_len = val_len;
        return SQ_ELIMIT;
    }
    *out_len = val_len;
    if (val_len > cap) return SQ_ELIMIT;
    if (val != out && val_len) memmove(out, val, val_len);
    return 1;
}

/* ---- Set-Cookie ---------------------------------------------------------- */

int sq_format_timestamp(int64_t t, char out[SQ_HTTP_DATE_SIZE]) {
    static const char days[] = "ThuFriSatSunMonTueWed";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (t < INT64_C(-62135596800) || t > INT64_C(253402300799)) return SQ_EINVAL;
    int64_t d = t / 86400, s = t % 86400;
    if (s < 0) s += 86400, d--;
    int wd = (int)(((d % 7) + 7) % 7); /* 1970-01-01 was a Thursday */
    /* Civil date from days since 1970-01-01 (proleptic Gregorian), in eras
     * of 400 years starting on March 1st. */
    int64_t z = d + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int day = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    if (mon <= 2) y++;
    int hh = (int)(s / 3600), mm = (int)(s / 60 % 60), ss = (int)(s % 60);
    int yr = (int)y;
    char *o = out;
    memcpy(o, days + 3 * wd, 3), o += 3;
    *o++ = ',', *o++ = ' ';
    *o++ = (char)('0' + day / 10), *o++ = (char)('0' + day % 10), *o++ = ' ';
    memcpy(o, months + 3 * (mon - 1), 3), o += 3;
    *o++ = ' ';
    *o++ = (char)('0' + yr / 1000), *o++ = (char)('0' + yr / 100 % 10);
    *o++ = (char)('0' + yr / 10 % 10), *o++ = (char)('0' + yr % 10), *o++ = ' ';
    *o++ = (char)('0' + hh / 10), *o++ = (char)('0' + hh % 10), *o++ = ':';
    *o++ = (char)('0' + mm / 10), *o++ = (char)('0' + mm % 10), *o++ = ':';
    *o++ = (char)('0' + ss / 10), *o++ = (char)('0' + ss % 10);
    memcpy(o, " GMT", 5);
    return 0;
}

/* A writer that measures everything and copies what fits. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} out_t;

static void put(out_t *w, const char *s, size_t n) {
    if (w->len < w->cap && n) {
        size_t room = w->cap - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static void puts_(out_t *w, const char *s) { put(w, s, strlen(s)); }

/* Bytes Python's cookie quoting leaves as they are inside quotes
 * (_UnescapedChars, less '"' and '\' which get a backslash). */
static bool unescaped_char(unsigned char c) {
    return legal_char(c) || (c && strchr(" ()/<=>?@[]{}", c));
}

static bool attr_ok(const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == ';') return false;
    }
    return true;
}

int sq_cookie_format(char *buf, size_t cap, const char *name, const char *value,
                     const sq_cookie_attrs *attrs, size_t *out_len) {
    static const sq_cookie_attrs none;
    if (!name || !value) return SQ_EINVAL;
    if (!attrs) attrs = &none;
    size_t nl = strlen(name), vl = strlen(value);
    /* Tornado: re.search(r"[\x00-\x20]", name + value) raises ValueError. */
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] <= 0x20) return SQ_EHEADER;
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)value[i] <= 0x20) return SQ_EHEADER;
    if (!sq_cookie_name_valid(name, nl)) return SQ_EHEADER;
    bool has_domain = attrs->domain && attrs->domain[0];
    bool has_path = attrs->path && attrs->path[0];
    if ((has_domain && !attr_ok(attrs->domain)) || (has_path && !attr_ok(attrs->path)))
        return SQ_EHEADER;
    char date[SQ_HTTP_DATE_SIZE];
    if (attrs->expires && sq_format_timestamp(attrs->expires, date)) return SQ_EINVAL;

    out_t w = {buf, cap, 0};
    put(&w, name, nl);
    put(&w, "=", 1);
    bool legal = vl > 0;
    for (size_t i = 0; legal && i < vl; i++)
        legal = legal_char((unsigned char)value[i]);
    if (legal) {
        put(&w, value, vl);
    } else {
        put(&w, "\"", 1);
        for (size_t i = 0; i < vl; i++) {
            unsigned char c = (unsigned char)value[i];
            if (c == '"' || c == '\\') {
                char e[2] = {'\\', (char)c};
                put(&w, e, 2);
            } else if (unescaped_char(c)) {
                put(&w, (const char *)&value[i], 1);
            } else {
                char e[4] = {'\\', (char)('0' + (c >> 6)), (char)('0' + (c >> 3 & 7)),
                             (char)('0' + (c & 7))};
                put(&w, e, 4);
            }
        }
        put(&w, "\"", 1);
    }
    /* Morsel.OutputString() writes the attributes sorted by their key:
     * domain, expires, httponly, max-age, path, samesite, secure. */
    if (has_domain) puts_(&w, "; Domain="), puts_(&w, attrs->domain);
    if (attrs->expires) puts_(&w, "; expires="), puts_(&w, date);
    if (attrs->httponly) puts_(&w, "; HttpOnly");
    if (attrs->has_max_age) {
        char num[24];
        int64_t v = attrs->max_age;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        size_t k = sizeof num;
        do
            num[--k] = (char)('0' + u % 10);
        while (u /= 10);
        if (v < 0) num[--k] = '-';
        puts_(&w, "; Max-Age=");
        put(&w, num + k, sizeof num - k);
    }
    if (has_path) puts_(&w, "; Path="), puts_(&w, attrs->path);
    switch (attrs->samesite) {
    case SQ_SAMESITE_STRICT: puts_(&w, "; SameSite=Strict"); break;
    case SQ_SAMESITE_LAX: puts_(&w, "; SameSite=Lax"); break;
    case SQ_SAMESITE_NONE: puts_(&w, "; SameSite=None"); break;
    default: break;
    }
    if (attrs->secure) puts_(&w, "; Secure");
    *out_len = w.len;
    if (w.len >= cap) return SQ_ELIMIT;
    buf[w.len] = 0;
    return 0;
}
