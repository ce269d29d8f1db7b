/* permessage-deflate (RFC 7692): negotiation, and per-message compression
 * and bounded decompression over zlib.
 *
 * Negotiation is pure string work over Sec-WebSocket-Extensions values. The
 * compression context owns two zlib streams (raw deflate, negative
 * windowBits), created on first use so that a connection that never sends
 * or never receives a compressed message pays nothing for that direction. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "squall/ws_codec.h"

/* ------------------------------------------------------------------------ */
/* Sec-WebSocket-Extensions parsing.                                        */

/* RFC 7230 tchar. */
static bool is_tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

typedef struct {
    const char *s;
    size_t n, i;
} lex;

static void ows(lex *l) {
    while (l->i < l->n && (l->s[l->i] == ' ' || l->s[l->i] == '\t')) l->i++;
}

static size_t token(lex *l, const char **t) {
    size_t b = l->i;
    while (l->i < l->n && is_tchar((unsigned char)l->s[l->i])) l->i++;
    *t = l->s + b;
    return l->i - b;
}

/* The parameters of one extension offer or response, as parsed. */
typedef struct {
    bool is_pmd;     /* the extension is permessage-deflate */
    bool bad;        /* unknown, repeated or invalid parameter */
    bool snct, cnct; /* *_no_context_takeover present */
    int8_t smwb;     /* server_max_window_bits: -1 absent, else 8-15 */
    int8_t cmwb;     /* client_max_window_bits: -1 absent, 0 without a value, else 8-15 */
} ext;

/* A window-bits value: "8" to "15" without leading zeros (RFC 7692 section
 * 7.1.2). Returns the value or -1. */
static int wbits_value(const char *v, size_t n) {
    if (n == 1 && v[0] >= '8' && v[0] <= '9') return v[0] - '0';
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + v[1] - '0';
    return -1;
}

static bool name_is(const char *t, size_t n, const char *name) {
    return strlen(name) == n && strncasecmp(t, name, n) == 0;
}

/* Parses the next extension of the list. Returns 1 with *e filled, 0 at
 * the end of the list, -1 on a syntax error. */
static int next_ext(lex *l, ext *e) {
    memset(e, 0, sizeof *e);
    e->smwb = e->cmwb = -1;
    for (;;) { /* skip empty list elements */
        ows(l);
        if (l->i < l->n && l->s[l->i] == ',') {
            l->i++;
            continue;
        }
        break;
    }
    if (l->i == l->n) return 0;
    const char *t;
    size_t tn = token(l, &t);
    if (!tn) return -1;
    e->is_pmd = name_is(t, tn, "permessage-deflate");
    for (;;) {
        ows(l);
        if (l->i == l->n) return 1;
        if (l->s[l->i] == ',') {
            l->i++;
            return 1;
        }
        if (l->s[l->i] != ';') return -1;
        l->i++;
        ows(l);
        const char *pn;
        size_t pnl = token(l, &pn);
        if (!pnl) return -1;
        ows(l);
        char vbuf[16];
        const char *v = NULL;
        size_t vn = 0;
        if (l->i < l->n && l->s[l->i] == '=') {
            l->i++;
            ows(l);
            if (l->i < l->n && l->s[l->i] == '"') {
                /* quoted-string; its content must still be a token (RFC 6455
                 * section 9.1). */
                l->i++;
                while (l->i < l->n && l->s[l->i] != '"') {
                    char c = l->s[l->i];
                    if (c == '\\') {
                        if (++l->i == l->n) return -1;
                        c = l->s[l->i];
                    }
                    if (!is_tchar((unsigned char)c)) return -1;
                    if (vn < sizeof vbuf) vbuf[vn] = c;
                    vn++;
                    l->i++;
                }
                if (l->i == l->n) return -1;
                l->i++;
                if (vn == 0) return -1;
                if (vn > sizeof vbuf) vn = sizeof vbuf; /* too long to be valid anyway */
                v = vbuf;
            } else {
                vn = token(l, &v);
                if (!vn) return -1;
            }
        }
        if (!e->is_pmd) continue;
        if (name_is(pn, pnl, "server_no_context_takeover")) {
            if (e->snct || v) e->bad = true;
            e->snct = true;
        } else if (name_is(pn, pnl, "client_no_context_takeover")) {
            if (e->cnct || v) e->bad = true;
            e->cnct = true;
        } else if (name_is(pn, pnl, "server_max_window_bits")) {
            int w = v ? wbits_value(v, vn) : -1;
            if (e->smwb != -1 || w < 0) e->bad = true;
            e->smwb = (int8_t)(w < 0 ? 15 : w);
        } else if (name_is(pn, pnl, "client_max_window_bits")) {
            int w = v ? wbits_value(v, vn) : 0;
            if (e->cmwb != -1 || w < 0) e->bad = true;
            e->cmwb = (int8_t)(w < 0 ? 15 : w);
        } else {
            e->bad = true;
        }
    }
}

static int wb(uint8_t v) { return v >= 8 && v <= 15 ? v : 15; }

void sq_ws_pmd_config_init(sq_ws_pmd_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->server_max_window_bits = 15;
    cfg->client_max_window_bits = 15;
    cfg->level = -1;
}

/* Bounded appends for the header values we build. */
typedef struct {
    char *p;
    size_t cap, len;
    bool over;
} sbuf;

static void put(sbuf *b, const char *s) {
    size_t n = strlen(s);
    if (b->over || n >= b->cap - b->len) {
        b->over = true;
        return;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static void put_wbits(sbuf *b, const char *name, int v) {
    char num[4] = {0};
    if (v >= 10) {
        num[0] = '1';
        num[1] = (char)('0' + v - 10);
    } else {
        num[0] = (char)('0' + v);
    }
    put(b, "; ");
    put(b, name);
    put(b, "=");
    put(b, num);
}

int sq_ws_pmd_accept(const sq_ws_pmd_config *cfg, const char *offer, size_t offer_len,
                     sq_ws_pmd_params *out, char *resp, size_t resp_cap, size_t *resp_len) {
    lex l = {offer ? offer : "", offer ? offer_len : 0, 0};
    int smax = wb(cfg->server_max_window_bits), cmax = wb(cfg->client_max_window_bits);
    ext e;
    int rc;
    *resp_len = 0;
    while ((rc = next_ext(&l, &e)) == 1) {
        if (!e.is_pmd || e.bad) continue;
        /* The client can only be limited when it said it can be. */
        if (cmax < 15 && e.cmwb < 0) continue;
        sq_ws_pmd_params p;
        p.server_no_context_takeover = e.snct || cfg->server_no_context_takeover;
        p.client_no_context_takeover = e.cnct || cfg->client_no_context_takeover;
        bool send_smwb = e.smwb >= 0 || smax < 15;
        p.server_max_window_bits = (uint8_t)(e.smwb >= 0 && e.smwb < smax ? e.smwb : smax);
        bool send_cmwb = e.cmwb >= 8 || (e.cmwb == 0 && cmax < 15);
        p.client_max_window_bits = (uint8_t)(e.cmwb >= 8 && e.cmwb < cmax ? e.cmwb : cmax);
        sbuf b = {resp, resp_cap, 0, resp_cap == 0};
        put(&b, "permessage-deflate");
        if (p.server_no_context_takeover) put(&b, "; server_no_context_takeover");
        if (p.client_no_context_takeover) put(&b, "; client_no_context_takeover");
        if (send_smwb) put_wbits(&b, "server_max_window_bits", p.server_max_window_bits);
        if (send_cmwb) put_wbits(&b, "client_max_window_bits", p.client_max_window_bits);
        if (b.over) return SQ_ENOSPC;
        *out = p;
        *resp_len = b.len;
        return 1;
    }
    return rc < 0 ? SQ_EPROTO : 0;
}

int sq_ws_pmd_offer(const sq_ws_pmd_config *cfg, char *out, size_t cap) {
    sbuf b = {out, cap, 0, cap == 0};
    int smax = wb(cfg->server_max_window_bits), c = cfg->client_max_window_bits;
    put(&b, "permessage-deflate");
    if (cfg->server_no_context_takeover) put(&b, "; server_no_context_takeover");
    if (cfg->client_no_context_takeover) put(&b, "; client_no_context_takeover");
    if (smax < 15) put_wbits(&b, "server_max_window_bits", smax);
    if (c >= 8 && c < 15)
        put_wbits(&b, "client_max_window_bits", c);
    else
        put(&b, "; client_max_window_bits");
    return b.over ? SQ_ENOSPC : (int)b.len;
}

int sq_ws_pmd_check_response(const sq_ws_pmd_config *cfg, const char *resp, size_t len,
                             sq_ws_pmd_params *out) {
    lex l = {resp ? resp : "", resp ? len : 0, 0};
    ext e, e2;
    int rc = next_ext(&l, &e);
    if (rc == 0) return 0;
    if (rc < 0 || !e.is_pmd || e.bad) return SQ_EPROTO;
    if (next_ext(&l, &e2) != 0) return SQ_EPROTO; /* a second extension, or junk */
    int smax = wb(cfg->server_max_window_bits), c = cfg->client_max_window_bits;
    int coffer = c >= 8 && c < 15 ? c : 15;
    /* What the client asked of the server must be granted. */
    if (cfg->server_no_context_takeover && !e.snct) return SQ_EPROTO;
    if (smax < 15 && (e.smwb < 0 || e.smwb > smax)) return SQ_EPROTO;
    /* client_max_window_bits was always offered (with or without a value);
     * the server may lower it but never raise it, and must give a value. */
    if (e.cmwb == 0 || e.cmwb > coffer) return SQ_EPROTO;
    out->server_no_context_takeover = e.snct;
    out->client_no_context_takeover = e.cnct || cfg->client_no_context_takeover;
    out->server_max_window_bits = (uint8_t)(e.smwb >= 8 ? e.smwb : 15);
    out->client_max_window_bits = (uint8_t)(e.cmwb >= 8 ? e.cmwb : coffer);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Compression context.                                                     */

struct sq_ws_pmd {
    z_stream def, inf;
    bool def_ready, inf_ready;
    bool def_reset, inf_reset; /* no context takeover for what we send / receive */
    uint8_t def_wbits, inf_wbits;
    int level, mem_level;
    uint32_t threshold;
    uint64_t max_message;
    uint64_t msg_out;          /* decompressed bytes of the current message */
    uint8_t tail_fed;          /* bytes of 00 00 FF FF fed for the current message */
    bool broken;
};

static const uint8_t pmd_tail[4] = {0x00, 0x00, 0xff, 0xff};

/* zlib counts in uInt: larger buffers go in pieces of this size. */
#define CHUNK ((size_t)1 << 30)

int sq_ws_pmd_new(sq_ws_pmd **out, const sq_ws_pmd_params *params, sq_ws_role role,
                  const sq_ws_pmd_config *cfg, uint64_t max_message) {
    sq_ws_pmd *z = calloc(1, sizeof *z);
    if (!z) return SQ_ENOMEM;
    bool server = role == SQ_WS_SERVER;
    int sw = wb(params->server_max_window_bits), cw = wb(params->client_max_window_bits);
    z->def_reset = server ? params->server_no_context_takeover : params->client_no_context_takeover;
    z->inf_reset = server ? params->client_no_context_takeover : params->server_no_context_takeover;
    z->def_wbits = (uint8_t)(server ? sw : cw);
    z->inf_wbits = (uint8_t)(server ? cw : sw);
    /* zlib refuses a raw deflate window of 8 bits; see the header. */
    if (z->def_wbits < 9) z->def_wbits = 9;
    z->level = cfg && cfg->level >= 0 && cfg->level <= 9 ? cfg->level : Z_DEFAULT_COMPRESSION;
    z->mem_level = cfg && cfg->mem_level >= 1 && cfg->mem_level <= 9 ? cfg->mem_level : 8;
    z->threshold = cfg ? cfg->threshold : 0;
    z->max_message = max_message;
    *out = z;
    return 0;
}

void sq_ws_pmd_free(sq_ws_pmd *z) {
    if (!z) return;
    if (z->def_ready) deflateEnd(&z->def);
    if (z->inf_ready) inflateEnd(&z->inf);
    free(z);
}

bool sq_ws_pmd_should_compress(const sq_ws_pmd *z, size_t len) { return len >= z->threshold; }

size_t sq_ws_pmd_compress_bound(const sq_ws_pmd *z, size_t len) {
    /* zlib's own worst case for any settings (stored blocks of at least
     * 8 bytes of overhead per 64 KiB and more), plus room for the empty
     * stored block of the sync flush. */
    (void)z;
    return len + (len >> 3) + (len >> 6) + 64;
}

int64_t sq_ws_pmd_compress(sq_ws_pmd *z, const void *in, size_t len, void *out, size_t cap) {
    if (z->broken) return SQ_ESTATE;
    if (!z->def_ready) {
        memset(&z->def, 0, sizeof z->def);
        int rc = deflateInit2(&z->def, z->level, Z_DEFLATED, -(int)z->def_wbits, z->mem_level,
                              Z_DEFAULT_STRATEGY);
        if (rc != Z_OK) return rc == Z_MEM_ERROR ? SQ_ENOMEM : SQ_EINVAL;
        z->def_ready = true;
    }
    z_stream *s = &z->def;
    if (len == 0) {
        /* An empty message is one byte, the start of an empty stored block
         * that the receiver's 00 00 FF FF completes (RFC 7692 section
         * 7.2.3.6). zlib would write nothing: a second flush in a row has
         * nothing to flush. */
        if (cap < 1) return SQ_ENOSPC;
        ((uint8_t *)out)[0] = 0;
        if (z->def_reset) deflateReset(s);
        return 1;
    }
    size_t done_in = 0, done_out = 0;
    const uint8_t *ip = in;
    uint8_t *op = out;
    /* zlib counts in uInt: feed huge buffers in pieces. */
    for (;;) {
        size_t ci = len - done_in, co = cap - done_out;
        if (ci > CHUNK) ci = CHUNK;
        if (co > CHUNK) co = CHUNK;
        bool last = done_in + ci == len;
        s->next_in = (Bytef *)(uintptr_t)(ip + done_in);
        s->avail_in = (uInt)ci;
        s->next_out = op + done_out;
        s->avail_out = (uInt)co;
        int rc = deflate(s, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
        done_in += ci - s->avail_in;
        done_out += co - s->avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            z->broken = true;
            return SQ_EINVAL;
        }
        if (s->avail_out == 0) {
            /* zlib may have more to write: only more room tells. */
            if (done_out == cap) {
                z->broken = true;
                return SQ_ENOSPC;
            }
            continue;
        }
        /* With room left, deflate took all the input it was given and, on
         * the last piece, completed the flush. */
        if (last && s->avail_in == 0) break;
    }
    /* A sync flush ends with an empty stored block: 00 00 FF FF. */
    if (done_out < 4 || memcmp(op + done_out - 4, pmd_tail, 4) != 0) {
        z->broken = true;
        return SQ_EINVAL;
    }
    done_out -= 4;
    if (z->def_reset) deflateReset(s);
    return (int64_t)done_out;
}

int sq_ws_pmd_decompress(sq_ws_pmd *z, const void *in, size_t in_len, bool fin, void *out,
                         size_t out_cap, size_t *in_used, size_t *out_used) {
    *in_used = 0;
    *out_used = 0;
    if (z->broken) return SQ_ESTATE;
    if (!z->inf_ready) {
        memset(&z->inf, 0, sizeof z->inf);
        int rc = inflateInit2(&z->inf, -(int)z->inf_wbits);
        if (rc != Z_OK) return rc == Z_MEM_ERROR ? SQ_ENOMEM : SQ_EINVAL;
        z->inf_ready = true;
    }
    z_stream *s = &z->inf;
    const uint8_t *ip = in;
    uint8_t *op = out;
    size_t used = 0, made = 0;
    bool drained = false;
    int ret = 0;
    for (;;) {
        /* Room: the caller's buffer, but never more than one byte past the
         * message bound, so that a bomb stops as soon as it is one. Room is
         * 0 only when the caller's buffer is full. */
        size_t room = out_cap - made;
        if (z->max_message) {
            uint64_t left = z->max_message - z->msg_out + 1;
            if (room > left) room = (size_t)left;
        }
        if (room > CHUNK) room = CHUNK;
        if (room == 0) break;
        /* Input: the caller's bytes, then (with fin) the 00 00 FF FF the
         * sender removed, then nothing, to collect output zlib holds back. */
        const uint8_t *src;
        size_t avail;
        int kind;
        if (used < in_len) {
            src = ip + used;
            avail = in_len - used < CHUNK ? in_len - used : CHUNK;
            kind = 0;
        } else if (fin && z->tail_fed < 4) {
            src = pmd_tail + z->tail_fed;
            avail = (size_t)(4 - z->tail_fed);
            kind = 1;
        } else {
            src = pmd_tail;
            avail = 0;
            kind = 2;
        }
        s->next_in = (Bytef *)(uintptr_t)src;
        s->avail_in = (uInt)avail;
        s->next_out = op + made;
        s->avail_out = (uInt)room;
        int rc = inflate(s, Z_SYNC_FLUSH);
        size_t ate = avail - s->avail_in, wrote = room - s->avail_out;
        if (kind == 0)
            used += ate;
        else if (kind == 1)
            z->tail_fed = (uint8_t)(z->tail_fed + ate);
        made += wrote;
        z->msg_out += wrote;
        if (z->max_message && z->msg_out > z->max_message) {
            ret = SQ_ELIMIT;
            break;
        }
        if (rc == Z_STREAM_END) {
            /* The peer ended the deflate stream (a block with BFINAL set):
             * what follows starts a new one. The window goes with it. */
            inflateReset(s);
            if (kind == 1) z->tail_fed = 4;
            continue;
        }
        if (rc == Z_MEM_ERROR) {
            ret = SQ_ENOMEM;
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            ret = SQ_EPROTO;
            break;
        }
        if (s->avail_out == 0) continue; /* maybe more output: re-check the room */
        if (kind == 2) {
            drained = true;
            break;
        }
        if (s->avail_in == 0) continue;
        /* Room and input left, yet zlib stopped: cannot happen with a
         * healthy stream; refuse rather than spin. */
        ret = SQ_EPROTO;
        break;
    }
    *in_used = used;
    *out_used = made;
    if (ret < 0) {
        z->broken = true;
        return ret;
    }
    if (!drained) return SQ_EAGAIN;
    if (fin) {
        z->msg_out = 0;
        z->tail_fed = 0;
        if (z->inf_reset) inflateReset(s);
    }
    return 0;
}
