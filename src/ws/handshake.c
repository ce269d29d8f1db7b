/* WebSocket handshake helpers (RFC 6455 section 4): pure functions over
 * header values. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#include "squall/ws_codec.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding; out receives 4 * ceil(n / 3) characters and
 * a NUL. */
static void b64_encode(const uint8_t *in, size_t n, char *out) {
    size_t i = 0, o = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_chars[v >> 18];
        out[o++] = b64_chars[(v >> 12) & 63];
        out[o++] = b64_chars[(v >> 6) & 63];
        out[o++] = b64_chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_chars[v >> 18];
        out[o++] = b64_chars[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_chars[v >> 18];
        out[o++] = b64_chars[(v >> 12) & 63];
        out[o++] = b64_chars[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = 0;
}

static bool is_b64(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

void sq_ws_accept_key(const char *key, size_t key_len, char *out) {
    uint8_t md[SHA_DIGEST_LENGTH];
    char buf[256];
    if (key_len + sizeof ws_guid - 1 <= sizeof buf) {
        memcpy(buf, key, key_len);
        memcpy(buf + key_len, ws_guid, sizeof ws_guid - 1);
        SHA1((const unsigned char *)buf, key_len + sizeof ws_guid - 1, md);
    } else {
        /* An absurdly long key (never valid): hash it in two parts. */
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        unsigned mdlen = 0;
        if (!c || !EVP_DigestInit_ex(c, EVP_sha1(), NULL) || !EVP_DigestUpdate(c, key, key_len) ||
            !EVP_DigestUpdate(c, ws_guid, sizeof ws_guid - 1) || !EVP_DigestFinal_ex(c, md, &mdlen))
            memset(md, 0, sizeof md);
        EVP_MD_CTX_free(c);
    }
    b64_encode(md, sizeof md, out);
}

bool sq_ws_key_valid(const char *key, size_t key_len) {
    if (key_len != 24 || key[22] != '=' || key[23] != '=') return false;
    for (int i = 0; i < 22; i++)
        if (!is_b64(key[i])) return false;
    /* The last character carries 2 bits of data and 4 padding bits. Like
     * python3-websockets (and most base64 decoders) the padding bits are not
     * required to be zero. */
    return true;
}

static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

bool sq_ws_accept_valid(const char *key, size_t key_len, const char *accept, size_t accept_len) {
    char want[29];
    trim(&key, &key_len);
    trim(&accept, &accept_len);
    if (accept_len != 28) return false;
    sq_ws_accept_key(key, key_len, want);
    return CRYPTO_memcmp(want, accept, 28) == 0;
}

void sq_ws_make_key(const uint8_t random16[16], char *out) { b64_encode(random16, 16, out); }

bool sq_ws_list_next(const char *list, size_t len, size_t *pos, const char **item, size_t *item_len) {
    size_t i = *pos;
    while (i < len) {
        size_t s = i;
        while (i < len && list[i] != ',') i++;
        const char *e = list + s;
        size_t n = i - s;
        if (i < len) i++; /* the comma */
        trim(&e, &n);
        if (n) {
            *item = e;
            *item_len = n;
            *pos = i;
            return true;
        }
    }
    *pos = len;
    return false;
}

int sq_ws_pick_subprotocol(const char *offered, size_t offered_len, const char *const *supported,
                           size_t n) {
    if (!offered) return -1;
    for (size_t k = 0; k < n; k++) {
        size_t sl = strlen(supported[k]), pos = 0, il;
        const char *it;
        while (sq_ws_list_next(offered, offered_len, &pos, &it, &il))
            if (il == sl && memcmp(it, supported[k], sl) == 0) return (int)k;
    }
    return -1;
}

/* Appends to a bounded buffer; remembers overflow. */
typedef struct {
    char *p;
    size_t cap, len;
    bool over;
} obuf;

static void put(obuf *b, const char *s, size_t n) {
    if (b->over || n > b->cap - b->len) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(obuf *b, const char *s) { put(b, s, strlen(s)); }

static bool value_ok(const char *s) {
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') return false;
    return true;
}

static void header(obuf *b, const char *name, const char *value) {
    puts_(b, name);
    puts_(b, ": ");
    puts_(b, value);
    put(b, "\r\n", 2);
}

int sq_ws_client_request(char *out, size_t cap, const sq_ws_client_request_opts *o) {
    const char *path = o->path ? o->path : "/";
    if (!o->host || !o->key || !value_ok(o->host) || !value_ok(path) || !value_ok(o->key) ||
        strchr(path, ' ') || (o->origin && !value_ok(o->origin)) ||
        (o->protocols && !value_ok(o->protocols)) || (o->extensions && !value_ok(o->extensions)))
        return SQ_EHEADER;
    if (o->extra_headers) {
        size_t n = strlen(o->extra_headers);
        if (n && (n < 4 || o->extra_headers[0] == '\r' ||
                  memcmp(o->extra_headers + n - 2, "\r\n", 2) != 0))
            return SQ_EHEADER;
        /* Every line break must be a CRLF. */
        for (size_t i = 0; i < n; i++)
            if ((o->extra_headers[i] == '\n' && (i == 0 || o->extra_headers[i - 1] != '\r')) ||
                (o->extra_headers[i] == '\r' && (i + 1 == n || o->extra_headers[i + 1] != '\n')) ||
                (o->extra_headers[i] == '\n' && i + 2 < n && o->extra_headers[i + 1] == '\r'))
                return SQ_EHEADER;
    }
    obuf b = {out, cap, 0, false};
    puts_(&b, "GET ");
    puts_(&b, path);
    puts_(&b, " HTTP/1.1\r\n");
    header(&b, "Host", o->host);
    puts_(&b, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    header(&b, "Sec-WebSocket-Key", o->key);
    puts_(&b, "Sec-WebSocket-Version: 13\r\n");
    if (o->origin) header(&b, "Origin", o->origin);
    if (o->protocols) header(&b, "Sec-WebSocket-Protocol", o->protocols);
    if (o->extensions) header(&b, "Sec-WebSocket-Extensions", o->extensions);
    if (o->extra_headers) puts_(&b, o->extra_headers);
    put(&b, "\r\n", 2);
    if (b.over) return SQ_ENOSPC;
    if (b.len > (size_t)INT32_MAX) return SQ_ENOSPC;
    return (int)b.len;
}
