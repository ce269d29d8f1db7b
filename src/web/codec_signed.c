/* Signed values (Tornado's create_signed_value / decode_signed_value,
 * formats 1 and 2) and XSRF tokens (xsrf_token, _decode_xsrf_token,
 * check_xsrf_cookie). HMAC comes from OpenSSL 3; everything else is plain
 * byte work on caller buffers.
 *
 * Base64 is written here rather than taken from OpenSSL's EVP_EncodeBlock /
 * EVP_DecodeBlock because decoding must be exactly Python's lenient
 * binascii.a2b_base64 (which Tornado's b64decode uses), and OpenSSL's
 * decoder differs in padding and whitespace handling. */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "squall/codec.h"

static const char hexdig[] = "0123456789abcdef";

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ---- Python semantics the formats depend on ---------------------------- */

/* Python's int() on a string: optional whitespace, an optional sign, decimal
 * digits with single underscores between them, optional whitespace. The
 * whitespace of bytes is " \t\n\v\f\r"; latin1 adds NEL and NBSP (a str
 * made from a latin-1 header). Returns 0, 1 when the value does not fit
 * (*v saturated), or -1 when Python raises ValueError. */
static int py_int(const char *s, size_t n, bool latin1, int64_t *v) {
#define WS(c)                                                                                      \
    ((c) == ' ' || ((c) >= 0x09 && (c) <= 0x0d) || (latin1 && ((c) == 0x85 || (c) == 0xa0)))
    size_t i = 0;
    while (i < n && WS((unsigned char)s[i]))
        i++;
    while (n > i && WS((unsigned char)s[n - 1]))
        n--;
#undef WS
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i == n) return -1;
    uint64_t acc = 0;
    bool over = false, prev_digit = false;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '_') {
            if (!prev_digit || i + 1 == n) return -1;
            prev_digit = false;
            continue;
        }
        if (c < '0' || c > '9') return -1;
        prev_digit = true;
        if (acc > (UINT64_C(1) << 63) / 10) over = true;
        acc = acc * 10 + (uint64_t)(c - '0');
        if (acc > (UINT64_C(1) << 63)) over = true;
    }
    if (!prev_digit) return -1;
    if (!over && !neg && acc == (UINT64_C(1) << 63)) over = true;
    if (over) {
        *v = neg ? INT64_MIN : INT64_MAX;
        return 1;
    }
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* Does value match ^([1-9][0-9]*)\|(.*)$ ? '.' is any byte but '\n', and
 * '$' also matches before a final '\n'. On a match *digits_len is the
 * length of the number. */
static bool version_prefix(const char *v, size_t n, size_t *digits_len) {
    if (n == 0 || v[0] < '1' || v[0] > '9') return false;
    size_t i = 1;
    while (i < n && v[i] >= '0' && v[i] <= '9')
        i++;
    if (i == n || v[i] != '|') return false;
    const char *nl = memchr(v + i + 1, '\n', n - i - 1);
    if (nl && nl != v + n - 1) return false;
    *digits_len = i;
    return true;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_len(size_t n) { return (n + 2) / 3 * 4; }

static void b64_encode(const unsigned char *s, size_t n, char *out) {
    size_t i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *out++ = b64chars[v >> 18];
        *out++ = b64chars[v >> 12 & 63];
        *out++ = b64chars[v >> 6 & 63];
        *out++ = b64chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *out++ = b64chars[v >> 18];
        *out++ = b64chars[v >> 12 & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        *out++ = b64chars[v >> 18];
        *out++ = b64chars[v >> 12 & 63];
        *out++ = b64chars[v >> 6 & 63];
        *out++ = '=';
    }
}

static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Python's base64.b64decode(s) (binascii.a2b_base64, not strict): bytes
 * outside the alphabet are skipped; '=' ends the input once it completes a
 * quad; a quad left incomplete is an error. Writes to out (or measures when
 * out is NULL); returns the length, or -1 on error. */
static int64_t b64_decode(const char *s, size_t n, unsigned char *out) {
    int quad = 0, pads = 0;
    unsigned left = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') {
            if (quad >= 2 && quad + ++pads >= 4) return (int64_t)o;
            continue;
        }
        int v = b64_val(c);
        if (v < 0) continue;
        pads = 0;
        switch (quad) {
        case 0:
            left = (unsigned)v;
            quad = 1;
            break;
        case 1:
            if (out) out[o] = (unsigned char)(left << 2 | (unsigned)v >> 4);
            o++;
            left = (unsigned)v & 15;
            quad = 2;
            break;
        case 2:
            if (out) out[o] = (unsigned char)(left << 4 | (unsigned)v >> 2);
            o++;
            left = (unsigned)v & 3;
            quad = 3;
            break;
        default:
            if (out) out[o] = (unsigned char)(left << 6 | (unsigned)v);
            o++;
            quad = 0;
            break;
        }
    }
    return quad ? -1 : (int64_t)o;
}

static size_t u64_len(uint64_t v) {
    size_t n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

static size_t i64_len(int64_t v) {
    return v < 0 ? 1 + u64_len((uint64_t)0 - (uint64_t)v) : u64_len((uint64_t)v);
}

static char *put_i64(char *p, int64_t v) {
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) *p++ = '-';
    size_t n = u64_len(u);
    for (size_t k = n; k-- > 0; u /= 10)
        p[k] = (char)('0' + u % 10);
    return p + n;
}

/* ---- HMAC ---------------------------------------------------------------- */

static EVP_MAC *hmac_algo;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void) { hmac_algo = EVP_MAC_fetch(NULL, "HMAC", NULL); }

typedef struct {
    const void *p;
    size_t n;
} piece;

/* Lowercase hex of HMAC-<digest>(key, the pieces concatenated) into hex
 * (2 * the digest size bytes). Returns 0 or SQ_ENOMEM. */
static int hmac_hex(const char *digest, const char *key, size_t key_len, const piece *parts,
                    int nparts, char *hex) {
    pthread_once(&hmac_once, hmac_fetch);
    if (!hmac_algo) return SQ_ENOMEM;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_algo);
    if (!ctx) return SQ_ENOMEM;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    /* HMAC pads a short key with zero bytes, so an empty key is the same
     * as one zero byte; OpenSSL refuses a zero-length key. */
    static const unsigned char zero = 0;
    const unsigned char *k = key_len ? (const unsigned char *)key : &zero;
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    int ok = EVP_MAC_init(ctx, k, key_len ? key_len : 1, params);
    for (int i = 0; ok && i < nparts; i++)
        if (parts[i].n) ok = EVP_MAC_update(ctx, parts[i].p, parts[i].n);
    if (ok) ok = EVP_MAC_final(ctx, md, &mdlen, sizeof md);
    EVP_MAC_CTX_free(ctx);
    if (!ok) return SQ_ENOMEM;
    for (size_t i = 0; i < mdlen; i++) {
        hex[2 * i] = hexdig[md[i] >> 4];
        hex[2 * i + 1] = hexdig[md[i] & 15];
    }
    return 0;
}

/* The secret for key_version; NULL when the table has none. */
static const sq_signing_key *find_key(const sq_cookie_secret *s, int64_t key_version) {
    for (size_t i = 0; i < s->nkeys; i++)
        if (s->keys[i].key_version == key_version) return &s->keys[i];
    return NULL;
}

/* ---- Signed values ------------------------------------------------------- */

int sq_signed_value_create(const sq_cookie_secret *secret, int version, int key_version,
                           const char *name, size_t name_len, const void *value, size_t value_len,
                           int64_t now, char *out, size_t cap, size_t *out_len) {
    if (!secret || (version != 1 && version != 2)) return SQ_EINVAL;
    const char *key = secret->secret;
    size_t key_len = secret->secret_len;
    if (secret->keys) {
        if (version == 1) return SQ_EINVAL;
        const sq_signing_key *k = find_key(secret, key_version);
        if (!k) return SQ_EINVAL;
        key = k->secret;
        key_len = k->secret_len;
    }
    size_t bl = b64_len(value_len), tl = i64_len(now), need;
    if (version == 1) {
        need = bl + 1 + tl + 1 + 40;
    } else {
        size_t kl = i64_len(key_version);
        need = 2 + (u64_len(kl) + 1 + kl + 1) + (u64_len(tl) + 1 + tl + 1) +
               (u64_len(name_len) + 1 + name_len + 1) + (u64_len(bl) + 1 + bl + 1) + 64;
    }
    *out_len = need;
    if (need > cap) return SQ_ELIMIT;
    char *p = out;
    if (version == 1) {
        b64_encode(value, value_len, p);
        p += bl;
        *p++ = '|';
        char *ts = p;
        p = put_i64(p, now);
        *p++ = '|';
        piece parts[3] = {{name, name_len}, {out, bl}, {ts, tl}};
        return hmac_hex("SHA1", key, key_len, parts, 3, p);
    }
    *p++ = '2';
    *p++ = '|';
    p = put_i64(p, (int64_t)i64_len(key_version)), *p++ = ':';
    p = put_i64(p, key_version), *p++ = '|';
    p = put_i64(p, (int64_t)tl), *p++ = ':';
    p = put_i64(p, now), *p++ = '|';
    p = put_i64(p, (int64_t)name_len), *p++ = ':';
    if (name_len) memcpy(p, name, name_len);
    p += name_len, *p++ = '|';
    p = put_i64(p, (int64_t)bl), *p++ = ':';
    b64_encode(value, value_len, p);
    p += bl, *p++ = '|';
    piece part = {out, (size_t)(p - out)};
    return hmac_hex("SHA256", key, key_len, &part, 1, p);
}

/* The fields of a version 2 value, as Tornado's _decode_fields_v2 reads
 * them from value[2:]: each is "<length>:<bytes>|", the rest is the
 * signature. A negative length (which Python would slice from the end) is
 * refused; only a holder of the secret could sign such a value. */
typedef struct {
    int64_t key_version;
    bool key_version_over;
    const char *ts, *name, *value, *sig;
    size_t ts_len, name_len, value_len, sig_len;
} v2_fields;

static bool consume_field(const char **pp, const char *end, const char **f, size_t *fl) {
    const char *p = *pp;
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon) return false; /* Python: the rest is then empty, so no '|' */
    int64_t n;
    if (py_int(p, (size_t)(colon - p), false, &n) != 0 || n < 0) return false;
    const char *rest = colon + 1;
    if ((uint64_t)n >= (uint64_t)(end - rest) || rest[n] != '|') return false;
    *f = rest;
    *fl = (size_t)n;
    *pp = rest + n + 1;
    return true;
}

static bool decode_fields_v2(const char *v, size_t n, v2_fields *f) {
    if (n < 2) return false;
    const char *p = v + 2, *end = v + n, *kv;
    size_t kvl;
    if (!consume_field(&p, end, &kv, &kvl) || !consume_field(&p, end, &f->ts, &f->ts_len) ||
        !consume_field(&p, end, &f->name, &f->name_len) ||
        !consume_field(&p, end, &f->value, &f->value_len))
        return false;
    int r = py_int(kv, kvl, false, &f->key_version);
    if (r < 0) return false;
    f->key_version_over = r > 0;
    f->sig = p;
    f->sig_len = (size_t)(end - p);
    return true;
}

static int signed_version(const char *v, size_t n) {
    size_t dl;
    if (!version_prefix(v, n, &dl)) return 1;
    if (dl > 3) return 1; /* above 999: a v1 value whose base64 looks numeric */
    int ver = 0;
    for (size_t i = 0; i < dl; i++)
        ver = ver * 10 + (v[i] - '0');
    return ver;
}

static bool expired(int64_t ts, int64_t now, double max_age_days) {
    return (double)ts < (double)now - max_age_days * 86400.0;
}

static int finish_value(const char *b64, size_t bl, void *out, size_t cap, size_t *out_len) {
    int64_t need = b64_decode(b64, bl, NULL);
    if (need < 0) return SQ_EINVAL;
    *out_len = (size_t)need;
    if ((size_t)need > cap) return SQ_ELIMIT;
    b64_decode(b64, bl, out);
    return 0;
}

int sq_signed_value_decode(const sq_cookie_secret *secret, const char *name, size_t name_len,
                           const char *v, size_t n, double max_age_days, int min_version,
                           int64_t now, void *out, size_t cap, size_t *out_len) {
    if (!secret) return SQ_EINVAL;
    if (min_version == 0) min_version = 1;
    if (min_version > 2 || !v || n == 0) return SQ_EINVAL;
    int version = signed_version(v, n);
    if (version < min_version) return SQ_EINVAL;
    char expect[64];
    if (version == 1) {
        if (secret->keys) return SQ_EINVAL; /* Tornado asserts: v1 has no key version */
        const char *b1 = memchr(v, '|', n);
        const char *b2 = b1 ? memchr(b1 + 1, '|', (size_t)(v + n - b1 - 1)) : NULL;
        if (!b2 || memchr(b2 + 1, '|', (size_t)(v + n - b2 - 1))) return SQ_EINVAL;
        const char *ts = b1 + 1, *sig = b2 + 1;
        size_t bl = (size_t)(b1 - v), tl = (size_t)(b2 - ts), sl = (size_t)(v + n - sig);
        piece parts[3] = {{name, name_len}, {v, bl}, {ts, tl}};
        int err = hmac_hex("SHA1", secret->secret, secret->secret_len, parts, 3, expect);
        if (err) return err;
        if (sl != 40 || CRYPTO_memcmp(sig, expect, 40) != 0) return SQ_EINVAL;
        int64_t t;
        if (py_int(ts, tl, false, &t) < 0) return SQ_EINVAL;
        if (expired(t, now, max_age_days)) return SQ_ETIMEDOUT;
        /* The v1 signature has no separators, so digits could move from the
         * value to the timestamp: Tornado refuses far-future and
         * zero-led timestamps. */
        if ((double)t > (double)now + 31 * 86400.0) return SQ_EINVAL;
        if (tl && ts[0] == '0') return SQ_EINVAL;
        return finish_value(v, bl, out, cap, out_len);
    }
    if (version != 2) return SQ_EINVAL;
    v2_fields f;
    if (!decode_fields_v2(v, n, &f)) return SQ_EINVAL;
    const char *key = secret->secret;
    size_t key_len = secret->secret_len;
    if (secret->keys) {
        const sq_signing_key *k = f.key_version_over ? NULL : find_key(secret, f.key_version);
        if (!k) return SQ_EINVAL;
        key = k->secret;
        key_len = k->secret_len;
    }
    /* Tornado signs value[:-len(sig)]; an empty signature never matches. */
    piece part = {v, n - f.sig_len};
    int err = hmac_hex("SHA256", key, key_len, &part, 1, expect);
    if (err) return err;
    if (f.sig_len != 64 || CRYPTO_memcmp(f.sig, expect, 64) != 0) return SQ_EINVAL;
    if (f.name_len != name_len || (name_len && memcmp(f.name, name, name_len) != 0))
        return SQ_EINVAL;
    int64_t t;
    if (py_int(f.ts, f.ts_len, false, &t) < 0) return SQ_EINVAL;
    if (expired(t, now, max_age_days)) return SQ_ETIMEDOUT;
    return finish_value(f.value, f.value_len, out, cap, out_len);
}

int sq_signed_value_key_version(const char *v, size_t n, int *key_version) {
    if (!v || n == 0 || signed_version(v, n) < 2) return SQ_EINVAL;
    v2_fields f;
    if (!decode_fields_v2(v, n, &f) || f.key_version_over || f.key_version < INT32_MIN ||
        f.key_version > INT32_MAX)
        return SQ_EINVAL;
    *key_version = (int)f.key_version;
    return 0;
}

/* ---- XSRF tokens --------------------------------------------------------- */

int sq_xsrf_encode(const uint8_t *token, size_t token_len, const uint8_t mask[4], int64_t timestamp,
                   char *out, size_t cap, size_t *out_len) {
    size_t need = 2 + 8 + 1 + 2 * token_len + 1 + i64_len(timestamp);
    *out_len = need;
    if (need > cap) return SQ_ELIMIT;
    char *p = out;
    *p++ = '2', *p++ = '|';
    for (int i = 0; i < 4; i++)
        *p++ = hexdig[mask[i] >> 4], *p++ = hexdig[mask[i] & 15];
    *p++ = '|';
    for (size_t i = 0; i < token_len; i++) {
        uint8_t b = token[i] ^ mask[i % 4];
        *p++ = hexdig[b >> 4], *p++ = hexdig[b & 15];
    }
    *p++ = '|';
    put_i64(p, timestamp);
    return 0;
}

/* A decoded token, read byte by byte straight from its text, so that
 * decoding and comparing need no buffer. */
typedef struct {
    enum { TOK_RAW, TOK_HEX, TOK_MASKED } kind;
    const char *s;
    size_t len; /* decoded length */
    uint8_t mask[4];
    int version;
    int64_t timestamp;
} token_view;

static bool hex_ok(const char *s, size_t n) {
    if (n % 2) return false;
    for (size_t i = 0; i < n; i++)
        if (hexval((unsigned char)s[i]) < 0) return false;
    return true;
}

static uint8_t hex_byte(const char *s, size_t i) {
    return (uint8_t)(hexval((unsigned char)s[2 * i]) << 4 | hexval((unsigned char)s[2 * i + 1]));
}

static uint8_t token_at(const token_view *t, size_t i) {
    switch (t->kind) {
    case TOK_RAW: return (uint8_t)t->s[i];
    case TOK_HEX: return hex_byte(t->s, i);
    default: return hex_byte(t->s, i) ^ t->mask[i % 4];
    }
}

/* Tornado's _decode_xsrf_token; false where it returns (None, None, None). */
static bool xsrf_view(const char *s, size_t n, token_view *t) {
    size_t dl;
    t->timestamp = 0;
    if (version_prefix(s, n, &dl)) {
        if (dl != 1 || s[0] != '2') return false; /* unknown versions: absent */
        const char *f[4];
        size_t fl[4], k = 0;
        const char *p = s, *end = s + n;
        for (;;) {
            const char *bar = memchr(p, '|', (size_t)(end - p));
            if (k == 4) return false;
            f[k] = p;
            fl[k] = (size_t)((bar ? bar : end) - p);
            k++;
            if (!bar) break;
            p = bar + 1;
        }
        if (k != 4 || !hex_ok(f[1], fl[1]) || !hex_ok(f[2], fl[2])) return false;
        size_t mask_len = fl[1] / 2;
        t->len = fl[2] / 2;
        /* Tornado's C websocket_mask uses mask[i % 4] without checking the
         * mask's length; a shorter mask behaves as if padded with zero
         * bytes (Python's bytes end in a NUL), and so it does here. */
        memset(t->mask, 0, 4);
        for (size_t i = 0; i < 4 && i < mask_len; i++)
            t->mask[i] = hex_byte(f[1], i);
        if (py_int(f[3], fl[3], true, &t->timestamp) < 0) return false;
        t->kind = TOK_MASKED;
        t->s = f[2];
        t->version = 2;
        return true;
    }
    t->version = 1;
    if (hex_ok(s, n)) {
        t->kind = TOK_HEX;
        t->s = s;
        t->len = n / 2;
    } else {
        t->kind = TOK_RAW;
        t->s = s;
        t->len = n;
    }
    return true;
}

int sq_xsrf_decode(const char *s, size_t len, uint8_t *token, size_t cap, size_t *token_len,
                   int *version, int64_t *timestamp) {
    token_view t;
    if (!s || !xsrf_view(s, len, &t)) return SQ_EINVAL;
    if (token_len) *token_len = t.len;
    if (t.len > cap) return SQ_ELIMIT;
    for (size_t i = 0; i < t.len; i++)
        token[i] = token_at(&t, i);
    if (version) *version = t.version;
    if (timestamp) *timestamp = t.timestamp;
    return 0;
}

int sq_xsrf_check(const char *arg, size_t arg_len, const char *cookie, size_t cookie_len) {
    token_view a, c;
    if (!arg || arg_len == 0) return SQ_EINVAL;
    if (!xsrf_view(arg, arg_len, &a) || a.len == 0) return SQ_EINVAL;
    if (!cookie || cookie_len == 0 || !xsrf_view(cookie, cookie_len, &c)) return 0;
    /* hmac.compare_digest: the length may leak, the content may not. */
    if (a.len != c.len) return 0;
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < a.len; i++)
        diff |= (uint8_t)(token_at(&a, i) ^ token_at(&c, i));
    return diff == 0;
}
