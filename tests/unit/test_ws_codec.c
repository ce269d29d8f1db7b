/* The WebSocket codecs: the frame decoder's every rule with the close code it
 * yields, the RFC 6455 section 5.7 examples, the encoder, incremental UTF-8
 * validation, the handshake helpers, permessage-deflate negotiation and
 * (bounded) compression, including the RFC 7692 section 7.2.3 examples and a
 * cross-check against python3-websockets.
 *
 * Decoder tests go through check(): the input is decoded whole, split in two
 * at every byte offset (a sample of offsets for large inputs) and one byte
 * at a time; the three must produce the same transcript (messages, control
 * frames, the error and its close code), and it must be the expected one.
 * Each feed gets a private copy of the input, since the decoder unmasks in
 * place. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "squall/ws_codec.h"

/* ------------------------------------------------------------------------ */
/* Decoder harness.                                                         */

typedef struct {
    sq_ws_role role;
    uint32_t options;
    uint64_t max_message; /* 0: the default */
    bool no_limit;
} dcfg;

#define LOG_CAP 4096
typedef struct {
    char log[LOG_CAP];
    size_t loglen;
    uint8_t *msg; /* the message being assembled */
    size_t msg_len, msg_cap;
    uint8_t msg_op;
    bool msg_z;
    int err;
    unsigned code;
    size_t err_at; /* bytes fed before the failing call's input, plus its length */
    bool failed;
} tr;

static void logf_(tr *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(tr *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->log + t->loglen, LOG_CAP - t->loglen, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < LOG_CAP - t->loglen, "transcript overflow");
    t->loglen += (size_t)n;
}

static void log_bytes(tr *t, const uint8_t *p, size_t n) {
    if (n <= 40) {
        for (size_t i = 0; i < n; i++) {
            if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '|')
                logf_(t, "%c", p[i]);
            else
                logf_(t, "\\x%02x", p[i]);
        }
    } else {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
        logf_(t, "<%zu bytes %08x>", n, h);
    }
}

static void tr_init(tr *t) {
    memset(t, 0, sizeof *t);
    t->msg_cap = 1 << 20;
    t->msg = malloc(t->msg_cap);
}

static void tr_free(tr *t) { free(t->msg); }

static void dinit(sq_ws_decoder *d, const dcfg *c) {
    sq_ws_decoder_init(d, c->role);
    d->options = c->options;
    if (c->max_message) d->max_message = c->max_message;
    if (c->no_limit) d->max_message = 0;
}

/* Feeds buf[0, len) (a private copy) in one go; fed is the offset of buf in
 * the whole input. */
static void feed(sq_ws_decoder *d, tr *t, uint8_t *buf, size_t len, size_t fed) {
    size_t i = 0;
    while (i < len && !t->failed) {
        sq_ws_event ev;
        int64_t n = sq_ws_decode(d, buf + i, len - i, &ev);
        if (n < 0) {
            t->failed = true;
            t->err = (int)n;
            t->code = d->close_code;
            t->err_at = fed + len;
            logf_(t, "E%u|", d->close_code);
            return;
        }
        cr_assert(n > 0 && (size_t)n <= len - i, "no progress or overrun: %lld of %zu", (long long)n, len - i);
        if (ev.kind == SQ_WS_EV_DATA) {
            cr_assert(ev.data >= buf + i && ev.data + ev.len <= buf + i + n, "span out of bounds");
            if (ev.flags & SQ_WS_F_MSG_START) {
                t->msg_len = 0;
                t->msg_op = ev.opcode;
                t->msg_z = ev.flags & SQ_WS_F_COMPRESSED;
            }
            cr_assert_eq(ev.opcode, t->msg_op);
            cr_assert(t->msg_len + ev.len <= t->msg_cap);
            memcpy(t->msg + t->msg_len, ev.data, ev.len);
            t->msg_len += ev.len;
            if (ev.flags & SQ_WS_F_MSG_END) {
                logf_(t, "%c%s:", t->msg_op == SQ_WS_OP_TEXT ? 'T' : 'B', t->msg_z ? "z" : "");
                log_bytes(t, t->msg, t->msg_len);
                logf_(t, "|");
            }
        } else if (ev.kind == SQ_WS_EV_CONTROL) {
            if (ev.opcode == SQ_WS_OP_CLOSE) {
                logf_(t, "X%u:", ev.close_code);
                log_bytes(t, ev.reason, ev.reason_len);
            } else {
                logf_(t, "%s:", ev.opcode == SQ_WS_OP_PING ? "PING" : "PONG");
                log_bytes(t, ev.data, ev.len);
            }
            logf_(t, "|");
        }
        i += (size_t)n;
    }
}

/* Decodes in[0, len) arriving as pieces: split 0 means whole, otherwise
 * [0, split) then the rest; bytewise means one byte per call. */
static void run(const dcfg *c, const uint8_t *in, size_t len, size_t split, bool bytewise, tr *t) {
    sq_ws_decoder d;
    dinit(&d, c);
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, in, len);
    if (bytewise) {
        for (size_t i = 0; i < len && !t->failed; i++) feed(&d, t, copy + i, 1, i);
    } else if (split) {
        feed(&d, t, copy, split, 0);
        if (!t->failed) feed(&d, t, copy + split, len - split, split);
    } else {
        feed(&d, t, copy, len, 0);
    }
    if (!t->failed && !sq_ws_decoder_idle(&d)) logf_(t, "...");
    free(copy);
}

/* Runs every way and checks the transcript; returns the byte-by-byte run's
 * failing offset (the index of the byte that made the decoder fail) or
 * (size_t)-1. */
static size_t check(const dcfg *c, const uint8_t *in, size_t len, const char *expect) {
    tr whole, t;
    tr_init(&whole);
    run(c, in, len, 0, false, &whole);
    cr_assert_str_eq(whole.log, expect, "whole: got %s, want %s", whole.log, expect);
    size_t step = len <= 4096 ? 1 : len / 257 + 1;
    for (size_t s = 1; s < len; s += step) {
        tr_init(&t);
        run(c, in, len, s, false, &t);
        cr_assert_str_eq(t.log, expect, "split at %zu: got %s, want %s", s, t.log, expect);
        tr_free(&t);
    }
    tr_init(&t);
    run(c, in, len, 0, true, &t);
    cr_assert_str_eq(t.log, expect, "byte by byte: got %s, want %s", t.log, expect);
    size_t at = t.failed ? t.err_at - 1 : (size_t)-1;
    if (t.failed) cr_assert_eq(t.err, t.code == 1009 ? SQ_ELIMIT : SQ_EPROTO);
    tr_free(&t);
    tr_free(&whole);
    return at;
}

static const dcfg SERVER = {SQ_WS_SERVER, 0, 0, false};
static const dcfg CLIENT = {SQ_WS_CLIENT, 0, 0, false};

/* Builds a frame independently of the encoder under test. */
static size_t mk(uint8_t *out, unsigned b0, const void *payload, size_t n, const uint8_t *key) {
    size_t p = 0;
    out[p++] = (uint8_t)b0;
    uint8_t m = key ? 0x80 : 0;
    if (n < 126) {
        out[p++] = (uint8_t)(m | n);
    } else if (n < 65536) {
        out[p++] = m | 126;
        out[p++] = (uint8_t)(n >> 8);
        out[p++] = (uint8_t)n;
    } else {
        out[p++] = m | 127;
        for (int i = 7; i >= 0; i--) out[p++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    if (key) {
        memcpy(out + p, key, 4);
        p += 4;
    }
    for (size_t i = 0; i < n; i++) out[p + i] = ((const uint8_t *)payload)[i] ^ (key ? key[i & 3] : 0);
    return p + n;
}

static const uint8_t K[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A masked (client to server) frame appended at *pos. */
static void cf(uint8_t *buf, size_t *pos, unsigned b0, const char *s, size_t n) {
    *pos += mk(buf + *pos, b0, s, n, K);
}

/* ------------------------------------------------------------------------ */
/* RFC 6455 section 5.7 examples.                                           */

Test(ws_rfc, single_frame_unmasked_hello) {
    static const uint8_t f[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    check(&CLIENT, f, sizeof f, "T:Hello|");
}

Test(ws_rfc, single_frame_masked_hello) {
    static const uint8_t f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    check(&SERVER, f, sizeof f, "T:Hello|");
}

Test(ws_rfc, fragmented_unmasked) {
    static const uint8_t f[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    check(&CLIENT, f, sizeof f, "T:Hello|");
}

Test(ws_rfc, ping_and_masked_pong) {
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    check(&CLIENT, ping, sizeof ping, "PING:Hello|");
    static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    check(&SERVER, pong, sizeof pong, "PONG:Hello|");
}

Test(ws_rfc, binary_256_and_64k) {
    uint8_t *f = malloc(70000), *pl = malloc(65536);
    for (size_t i = 0; i < 65536; i++) pl[i] = (uint8_t)(i * 7 + 3);
    size_t n = mk(f, 0x82, pl, 256, NULL);
    cr_assert_eq(f[1], 0x7e);
    cr_assert_eq(f[2], 0x01);
    cr_assert_eq(f[3], 0x00);
    tr t;
    tr_init(&t);
    log_bytes(&t, pl, 256);
    char want[LOG_CAP + 16];
    snprintf(want, sizeof want, "B:%s|", t.log);
    check(&CLIENT, f, n, want);
    n = mk(f, 0x82, pl, 65536, NULL);
    static const uint8_t h64[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    cr_assert(memcmp(f, h64, 10) == 0);
    tr_free(&t);
    tr_init(&t);
    log_bytes(&t, pl, 65536);
    snprintf(want, sizeof want, "B:%s|", t.log);
    check(&CLIENT, f, n, want);
    /* The same masked, towards a server. */
    n = mk(f, 0x82, pl, 65536, K);
    check(&SERVER, f, n, want);
    tr_free(&t);
    free(f);
    free(pl);
}

/* ------------------------------------------------------------------------ */
/* Framing rules.                                                           */

Test(ws_rules, masking_depends_on_role) {
    uint8_t f[32];
    size_t n = mk(f, 0x81, "hi", 2, NULL);
    cr_assert_eq(check(&SERVER, f, n, "E1002|"), 1);
    n = mk(f, 0x81, "hi", 2, K);
    cr_assert_eq(check(&CLIENT, f, n, "E1002|"), 1);
    /* Control frames too. */
    n = mk(f, 0x89, "", 0, NULL);
    check(&SERVER, f, n, "E1002|");
}

Test(ws_rules, reserved_bits) {
    uint8_t f[32];
    size_t n;
    n = mk(f, 0x81 | 0x40, "hi", 2, K);
    cr_assert_eq(check(&SERVER, f, n, "E1002|"), 0, "RSV1 fails at the first byte");
    n = mk(f, 0x81 | 0x20, "hi", 2, K);
    check(&SERVER, f, n, "E1002|");
    n = mk(f, 0x81 | 0x10, "hi", 2, K);
    check(&SERVER, f, n, "E1002|");
    dcfg z = SERVER;
    z.options = SQ_WS_DEC_DEFLATE;
    /* With permessage-deflate, RSV1 marks the first frame of a message. */
    n = mk(f, 0x81 | 0x40, "hi", 2, K);
    check(&z, f, n, "Tz:hi|");
    n = mk(f, 0x82 | 0x40, "hi", 2, K);
    check(&z, f, n, "Bz:hi|");
    /* ... and never a continuation or a control frame, nor RSV2/RSV3. */
    uint8_t g[64];
    size_t m = 0;
    cf(g, &m, 0x01 | 0x40, "a", 1);
    cf(g, &m, 0x80 | 0x40, "b", 1);
    check(&z, g, m, "E1002|");
    m = 0;
    cf(g, &m, 0x01 | 0x40, "a", 1);
    cf(g, &m, 0x80, "b", 1);
    check(&z, g, m, "Tz:ab|");
    n = mk(f, 0x89 | 0x40, "", 0, K);
    check(&z, f, n, "E1002|");
    n = mk(f, 0x81 | 0x20, "hi", 2, K);
    check(&z, f, n, "E1002|");
}

Test(ws_rules, opcodes) {
    uint8_t f[32];
    for (unsigned op = 0; op < 16; op++) {
        size_t n = mk(f, 0x80 | op, "", 0, K);
        const char *want = op == 1   ? "T:|"
                           : op == 2 ? "B:|"
                           : op == 8 ? "X1005:|"
                           : op == 9 ? "PING:|"
                           : op == 10 ? "PONG:|"
                                      : "E1002|"; /* 0: continuation without a message */
        check(&SERVER, f, n, want);
    }
}

Test(ws_rules, control_frames) {
    uint8_t f[300], pl[200];
    memset(pl, 'p', sizeof pl);
    size_t n = mk(f, 0x89, pl, 125, K);
    char want[LOG_CAP + 16];
    tr t;
    tr_init(&t);
    log_bytes(&t, pl, 125);
    snprintf(want, sizeof want, "PING:%s|", t.log);
    tr_free(&t);
    check(&SERVER, f, n, want);
    n = mk(f, 0x89, pl, 126, K);
    cr_assert_eq(check(&SERVER, f, n, "E1002|"), 1, "too long: fails at the length byte");
    n = mk(f, 0x8a, pl, 126, K);
    check(&SERVER, f, n, "E1002|");
    n = mk(f, 0x09, "x", 1, K); /* ping without FIN */
    cr_assert_eq(check(&SERVER, f, n, "E1002|"), 0);
    n = mk(f, 0x08, "", 0, K);
    check(&SERVER, f, n, "E1002|");
}

Test(ws_rules, fragmentation) {
    uint8_t f[256];
    size_t n = 0;
    /* Control frames between fragments; a message in three frames. */
    cf(f, &n, 0x01, "Hel", 3);
    cf(f, &n, 0x89, "p", 1);
    cf(f, &n, 0x00, "l", 1);
    cf(f, &n, 0x8a, "q", 1);
    cf(f, &n, 0x80, "o", 1);
    cf(f, &n, 0x82, "bin", 3);
    check(&SERVER, f, n, "PING:p|PONG:q|T:Hello|B:bin|");
    /* Empty fragments. */
    n = 0;
    cf(f, &n, 0x02, "", 0);
    cf(f, &n, 0x00, "", 0);
    cf(f, &n, 0x80, "", 0);
    check(&SERVER, f, n, "B:|");
    /* A continuation with no message. */
    n = 0;
    cf(f, &n, 0x80, "x", 1);
    check(&SERVER, f, n, "E1002|");
    n = 0;
    cf(f, &n, 0x81, "a", 1);
    cf(f, &n, 0x80, "x", 1);
    check(&SERVER, f, n, "T:a|E1002|");
    /* A new data frame inside a fragmented message. */
    n = 0;
    cf(f, &n, 0x01, "a", 1);
    cf(f, &n, 0x81, "b", 1);
    check(&SERVER, f, n, "E1002|");
    n = 0;
    cf(f, &n, 0x01, "a", 1);
    cf(f, &n, 0x02, "b", 1);
    check(&SERVER, f, n, "E1002|");
    /* Unfinished message at the end of input: not idle. */
    n = 0;
    cf(f, &n, 0x01, "a", 1);
    check(&SERVER, f, n, "...");
}

Test(ws_rules, length_encodings) {
    /* Non-minimal 16- and 64-bit lengths: accepted by default. */
    static const uint8_t f16[] = {0x81, 0xfe, 0x00, 0x02, 0, 0, 0, 0, 'h', 'i'};
    static const uint8_t f64[] = {0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 'h', 'i'};
    check(&SERVER, f16, sizeof f16, "T:hi|");
    check(&SERVER, f64, sizeof f64, "T:hi|");
    dcfg s = SERVER;
    s.options = SQ_WS_DEC_STRICT_LENGTH;
    check(&s, f16, sizeof f16, "E1002|");
    check(&s, f64, sizeof f64, "E1002|");
    /* The top bit of a 64-bit length: 1002 even with no limit. */
    static const uint8_t top[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0};
    s = SERVER;
    s.no_limit = true;
    check(&s, top, sizeof top, "E1002|");
    /* A huge but legal length with no limit: waits for the payload. */
    static const uint8_t big[] = {0x82, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0};
    check(&s, big, sizeof big, "...");
}

Test(ws_rules, message_size_limit) {
    /* Default 10 MiB: a header announcing one byte more fails at once. */
    uint8_t h[14];
    size_t n = mk(h, 0x82, "", 0, NULL);
    uint64_t L = SQ_WS_DEFAULT_MAX_MESSAGE + 1;
    uint8_t f[] = {0x82, 0xff, 0, 0, 0, 0, (uint8_t)(L >> 24), (uint8_t)(L >> 16), (uint8_t)(L >> 8),
                   (uint8_t)L, 1, 2, 3, 4};
    (void)n;
    cr_assert_eq(check(&SERVER, f, sizeof f, "E1009|"), 13, "fails when the header is complete");
    L = SQ_WS_DEFAULT_MAX_MESSAGE;
    uint8_t g[] = {0x82, 0xff, 0, 0, 0, 0, (uint8_t)(L >> 24), (uint8_t)(L >> 16), (uint8_t)(L >> 8),
                   (uint8_t)L, 1, 2, 3, 4};
    check(&SERVER, g, sizeof g, "...");
    /* A small limit over fragments: 10 bytes allowed. */
    dcfg s = SERVER;
    s.max_message = 10;
    uint8_t m[128];
    n = 0;
    cf(m, &n, 0x02, "12345", 5);
    cf(m, &n, 0x89, "ping-is-not-counted", 19);
    cf(m, &n, 0x80, "67890", 5);
    check(&s, m, n, "PING:ping-is-not-counted|B:1234567890|");
    n = 0;
    cf(m, &n, 0x02, "12345", 5);
    cf(m, &n, 0x00, "67890", 5);
    cf(m, &n, 0x80, "x", 1);
    check(&s, m, n, "E1009|");
    /* The limit counts per message. */
    n = 0;
    cf(m, &n, 0x82, "1234567890", 10);
    cf(m, &n, 0x82, "1234567890", 10);
    check(&s, m, n, "B:1234567890|B:1234567890|");
}

Test(ws_rules, close_frames) {
    uint8_t f[256], pl[200];
    size_t n;
    n = mk(f, 0x88, "", 0, K);
    check(&SERVER, f, n, "X1005:|");
    n = mk(f, 0x88, "\x03", 1, K);
    check(&SERVER, f, n, "E1002|");
    n = mk(f, 0x88, "\x03\xe8" "bye", 5, K);
    check(&SERVER, f, n, "X1000:bye|");
    /* Autobahn 7.7: valid codes; 7.9: invalid ones. */
    static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                     1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const unsigned invalid[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
        pl[0] = (uint8_t)(valid[i] >> 8);
        pl[1] = (uint8_t)valid[i];
        n = mk(f, 0x88, pl, 2, K);
        char want[32];
        snprintf(want, sizeof want, "X%u:|", valid[i]);
        check(&SERVER, f, n, want);
        cr_assert(sq_ws_close_code_valid(valid[i]));
    }
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        pl[0] = (uint8_t)(invalid[i] >> 8);
        pl[1] = (uint8_t)invalid[i];
        n = mk(f, 0x88, pl, 2, K);
        check(&SERVER, f, n, "E1002|");
        cr_assert(!sq_ws_close_code_valid(invalid[i]));
    }
    /* The reason must be UTF-8. */
    n = mk(f, 0x88, "\x03\xe8\xce\xba\xe1\xbd\xb9", 7, K);
    check(&SERVER, f, n, "X1000:\\xce\\xba\\xe1\\xbd\\xb9|");
    n = mk(f, 0x88, "\x03\xe8\xed\xa0\x80", 5, K);
    check(&SERVER, f, n, "E1007|");
    n = mk(f, 0x88, "\x03\xe8\xce", 3, K);
    check(&SERVER, f, n, "E1007|");
    /* A close reason of the maximum size, arriving in pieces. */
    memset(pl, 'r', sizeof pl);
    pl[0] = 0x0f;
    pl[1] = 0xa0; /* 4000 */
    n = mk(f, 0x88, pl, 125, K);
    tr t;
    tr_init(&t);
    log_bytes(&t, pl + 2, 123);
    char want[LOG_CAP + 16];
    snprintf(want, sizeof want, "X4000:%s|", t.log);
    tr_free(&t);
    check(&SERVER, f, n, want);
    /* After a close frame everything is ignored, even garbage. */
    n = mk(f, 0x88, "", 0, K);
    memset(f + n, 0xff, 20);
    check(&SERVER, f, n + 20, "X1005:|");
}

Test(ws_rules, text_utf8) {
    uint8_t f[256];
    size_t n = 0;
    /* A character split across fragments, and a ping in between. */
    cf(f, &n, 0x01, "\xce", 1);
    cf(f, &n, 0x89, "", 0);
    cf(f, &n, 0x80, "\xba", 1);
    check(&SERVER, f, n, "PING:|T:\\xce\\xba|");
    /* Invalid: fails at the first bad byte, before the frame ends. */
    n = 0;
    cf(f, &n, 0x81, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 20);
    cr_assert_eq(check(&SERVER, f, n, "E1007|"), 6 + 12, "fail fast at the second byte of the surrogate");
    /* Fail fast across fragments: the first frame is fine, the second's
     * first byte is not. */
    n = 0;
    cf(f, &n, 0x01, "ab\xf4", 3);
    cf(f, &n, 0x80, "\x90\x80\x80", 3);
    cr_assert_eq(check(&SERVER, f, n, "E1007|"), 9 + 6);
    /* A message ending inside a character. */
    n = 0;
    cf(f, &n, 0x01, "ab", 2);
    cf(f, &n, 0x80, "\xe2\x82", 2);
    check(&SERVER, f, n, "E1007|");
    /* Binary is never validated; nor text with NO_UTF8 or compressed. */
    n = 0;
    cf(f, &n, 0x82, "\xff\xfe", 2);
    check(&SERVER, f, n, "B:\\xff\\xfe|");
    dcfg s = SERVER;
    s.options = SQ_WS_DEC_NO_UTF8;
    n = 0;
    cf(f, &n, 0x81, "\xff\xfe", 2);
    check(&s, f, n, "T:\\xff\\xfe|");
    s.options = SQ_WS_DEC_DEFLATE;
    n = 0;
    cf(f, &n, 0xc1, "\xff\xfe", 2);
    check(&s, f, n, "Tz:\\xff\\xfe|");
    n = 0;
    cf(f, &n, 0x81, "\xff\xfe", 2);
    check(&s, f, n, "E1007|");
}

Test(ws_rules, mask_rotation_across_pieces) {
    uint8_t pl[1000], f[1100];
    for (size_t i = 0; i < sizeof pl; i++) pl[i] = (uint8_t)(i * 31 + 1);
    size_t n = mk(f, 0x82, pl, sizeof pl, K);
    /* Random piece sizes: the reassembled payload must be exact. */
    srand(7);
    for (int round = 0; round < 200; round++) {
        uint8_t copy[1100];
        memcpy(copy, f, n);
        sq_ws_decoder d;
        sq_ws_decoder_init(&d, SQ_WS_SERVER);
        uint8_t got[1000];
        size_t got_n = 0, pos = 0;
        while (pos < n) {
            size_t piece = 1 + (size_t)rand() % 23;
            if (piece > n - pos) piece = n - pos;
            size_t i = 0;
            while (i < piece) {
                sq_ws_event ev;
                int64_t r = sq_ws_decode(&d, copy + pos + i, piece - i, &ev);
                cr_assert(r > 0);
                if (ev.kind == SQ_WS_EV_DATA) {
                    memcpy(got + got_n, ev.data, ev.len);
                    got_n += ev.len;
                }
                i += (size_t)r;
            }
            pos += piece;
        }
        cr_assert_eq(got_n, sizeof pl);
        cr_assert(memcmp(got, pl, sizeof pl) == 0);
    }
}

Test(ws_rules, event_flags) {
    uint8_t f[64];
    size_t n = 0;
    cf(f, &n, 0x01, "ab", 2);
    cf(f, &n, 0x80, "cd", 2);
    sq_ws_decoder d;
    sq_ws_decoder_init(&d, SQ_WS_SERVER);
    sq_ws_event ev;
    int64_t r = sq_ws_decode(&d, f, n, &ev);
    cr_assert_eq(r, 8);
    cr_assert_eq(ev.kind, SQ_WS_EV_DATA);
    cr_assert_eq(ev.flags, SQ_WS_F_FRAME_START | SQ_WS_F_FRAME_END | SQ_WS_F_MSG_START);
    cr_assert_eq(ev.frame_len, 2);
    cr_assert(!sq_ws_decoder_idle(&d));
    r = sq_ws_decode(&d, f + 8, 7, &ev); /* header and one byte */
    cr_assert_eq(r, 7);
    cr_assert_eq(ev.flags, SQ_WS_F_FIN | SQ_WS_F_FRAME_START);
    cr_assert_eq(ev.opcode, SQ_WS_OP_TEXT);
    cr_assert_eq(ev.len, 1);
    r = sq_ws_decode(&d, f + 15, 1, &ev);
    cr_assert_eq(r, 1);
    cr_assert_eq(ev.flags, SQ_WS_F_FIN | SQ_WS_F_FRAME_END | SQ_WS_F_MSG_END);
    cr_assert(sq_ws_decoder_idle(&d));
    /* A header alone: an empty span that starts the frame. */
    n = mk(f, 0x82, "xyz", 3, K);
    r = sq_ws_decode(&d, f, 6, &ev);
    cr_assert_eq(r, 6);
    cr_assert_eq(ev.kind, SQ_WS_EV_DATA);
    cr_assert_eq(ev.len, 0);
    cr_assert_eq(ev.frame_len, 3);
    /* Part of a header: nothing. */
    sq_ws_decoder_init(&d, SQ_WS_SERVER);
    r = sq_ws_decode(&d, f, 3, &ev);
    cr_assert_eq(r, 3);
    cr_assert_eq(ev.kind, SQ_WS_EV_NONE);
}

/* ------------------------------------------------------------------------ */
/* Encoder.                                                                 */

Test(ws_encode, headers) {
    uint8_t h[SQ_WS_MAX_HEADER];
    cr_assert_eq(sq_ws_frame_header(h, SQ_WS_OP_TEXT, SQ_WS_F_FIN, 5, NULL), 2);
    cr_assert(h[0] == 0x81 && h[1] == 0x05);
    cr_assert_eq(sq_ws_frame_header(h, SQ_WS_OP_BINARY, SQ_WS_F_FIN, 125, NULL), 2);
    cr_assert(h[1] == 125);
    cr_assert_eq(sq_ws_frame_header(h, SQ_WS_OP_BINARY, SQ_WS_F_FIN, 126, NULL), 4);
    cr_assert(h[1] == 126 && h[2] == 0 && h[3] == 126);
    cr_assert_eq(sq_ws_frame_header(h, SQ_WS_OP_BINARY, SQ_WS_F_FIN, 256, NULL), 4);
    cr_assert(h[0] == 0x82 && h[1] == 0x7e && h[2] == 0x01 && h[3] == 0x00);
    cr_assert_eq(sq_ws_frame_header(h, SQ_WS_OP_BINARY, SQ_WS_F_FIN, 65535, NULL), 4);
    cr_assert_eq(sq_ws_frame_header(h, SQ_WS_OP_BINARY, SQ_WS_F_FIN, 65536, NULL), 10);
    static const uint8_t h64[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    cr_assert(memcmp(h, h64, 10) == 0);
    cr_assert_eq(sq_ws_frame_header(h, SQ_WS_OP_TEXT, SQ_WS_F_FIN | SQ_WS_F_COMPRESSED, 1ull << 40, K), 14);
    cr_assert(h[0] == 0xc1 && h[1] == 0xff && h[4] == 0x01 && memcmp(h + 10, K, 4) == 0);
    cr_assert_eq(sq_ws_frame_header(h, SQ_WS_OP_CONT, 0, 0, NULL), 2);
    cr_assert(h[0] == 0x00 && h[1] == 0x00);
    /* RFC 6455 5.7 masked "Hello". */
    uint8_t f[16];
    size_t n = sq_ws_frame_header(f, SQ_WS_OP_TEXT, SQ_WS_F_FIN, 5, K);
    memcpy(f + n, "Hello", 5);
    sq_ws_mask(f + n, 5, K, 0);
    static const uint8_t want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    cr_assert_eq(n + 5, sizeof want);
    cr_assert(memcmp(f, want, sizeof want) == 0);
}

Test(ws_encode, mask_matches_naive) {
    uint8_t a[100], b[100], c[100];
    for (size_t len = 0; len < 40; len++)
        for (uint64_t off = 0; off < 8; off++) {
            for (size_t i = 0; i < len; i++) a[i] = b[i] = (uint8_t)(i * 13 + len);
            sq_ws_mask(a, len, K, off);
            sq_ws_mask_copy(c, b, len, K, off);
            for (size_t i = 0; i < len; i++) b[i] ^= K[(off + i) & 3];
            cr_assert(memcmp(a, b, len) == 0);
            cr_assert(memcmp(c, b, len) == 0);
        }
}

Test(ws_encode, round_trip_through_decoder) {
    static uint8_t pl[70000], f[70100];
    for (size_t i = 0; i < sizeof pl; i++) pl[i] = (uint8_t)('a' + i % 26);
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t len = sizes[k];
        for (int client = 0; client < 2; client++) {
            size_t n = sq_ws_frame_header(f, SQ_WS_OP_TEXT, SQ_WS_F_FIN, len, client ? K : NULL);
            sq_ws_mask_copy(f + n, pl, len, K, 0);
            if (!client) memcpy(f + n, pl, len);
            sq_ws_decoder d;
            sq_ws_decoder_init(&d, client ? SQ_WS_SERVER : SQ_WS_CLIENT);
            sq_ws_event ev;
            int64_t r = sq_ws_decode(&d, f, n + len, &ev);
            cr_assert_eq(r, (int64_t)(n + len));
            cr_assert_eq(ev.len, len);
            cr_assert(ev.flags & SQ_WS_F_MSG_END);
            cr_assert(memcmp(ev.data, pl, len) == 0);
        }
    }
}

Test(ws_encode, close_payload) {
    uint8_t out[125];
    cr_assert_eq(sq_ws_close_payload(out, 1000, "bye", 3), 5);
    cr_assert(out[0] == 0x03 && out[1] == 0xe8 && memcmp(out + 2, "bye", 3) == 0);
    cr_assert_eq(sq_ws_close_payload(out, 0, NULL, 0), 0);
    cr_assert_eq(sq_ws_close_payload(out, 0, "x", 1), SQ_EINVAL);
    cr_assert_eq(sq_ws_close_payload(out, 1005, NULL, 0), SQ_EINVAL);
    cr_assert_eq(sq_ws_close_payload(out, 1006, NULL, 0), SQ_EINVAL);
    cr_assert_eq(sq_ws_close_payload(out, 4999, NULL, 0), 2);
    char r[124];
    memset(r, 'x', sizeof r);
    cr_assert_eq(sq_ws_close_payload(out, 1001, r, 123), 125);
    cr_assert_eq(sq_ws_close_payload(out, 1001, r, 124), SQ_EINVAL);
    cr_assert_eq(sq_ws_close_payload(out, 1001, "\xc0\xaf", 2), SQ_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* UTF-8.                                                                   */

/* A reference validator written straight from RFC 3629's table. */
static size_t ref_utf8(const uint8_t *p, size_t n, bool *complete) {
    size_t i = 0;
    *complete = true;
    while (i < n) {
        uint8_t c = p[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k == n) {
                *complete = false;
                return n;
            }
            uint8_t cc = p[i + k];
            if ((cc & 0xc0) != 0x80) return i + k;
            cp = cp << 6 | (cc & 0x3f);
            /* The earliest byte at which the value is known to be bad. */
            if (k == 1) {
                uint32_t lo = cp << (6 * (need - 1)), hi = lo | ((1u << (6 * (need - 1))) - 1);
                uint32_t min = need == 2 ? 0x800 : need == 3 ? 0x10000 : 0;
                if (hi < min || lo > 0x10ffff || (lo >= 0xd800 && hi <= 0xdfff)) return i + k;
            }
        }
        i += need + 1;
    }
    return n;
}

static void utf8_case(const char *s, size_t n, size_t bad_at /* n: valid */, bool complete) {
    sq_utf8_state st = 0;
    size_t r = sq_utf8_scan(&st, s, n);
    cr_assert_eq(r, bad_at, "%zu-byte input: bad at %zu, want %zu", n, r, bad_at);
    if (r == n) cr_assert_eq(st == 0, complete);
    cr_assert_eq(sq_utf8_valid(s, n), bad_at == n && complete);
    /* Split at every point: same verdict and position. */
    for (size_t k = 0; k <= n; k++) {
        sq_utf8_state s2 = 0;
        size_t r1 = sq_utf8_scan(&s2, s, k), pos;
        if (r1 < k) {
            pos = r1;
        } else {
            size_t r2 = sq_utf8_scan(&s2, s + k, n - k);
            pos = k + r2;
        }
        cr_assert_eq(pos, bad_at, "split at %zu", k);
    }
    bool c2;
    cr_assert_eq(ref_utf8((const uint8_t *)s, n, &c2), bad_at, "reference disagrees");
}

#define OK(s) utf8_case(s, sizeof s - 1, sizeof s - 1, true)
#define TRUNC(s) utf8_case(s, sizeof s - 1, sizeof s - 1, false)
#define BAD(s, at) utf8_case(s, sizeof s - 1, at, false)

Test(utf8, valid) {
    OK("");
    OK("hello, world");
    OK("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"); /* κόσμε */
    OK("\x7f");
    OK("\xc2\x80");
    OK("\xdf\xbf");
    OK("\xe0\xa0\x80");
    OK("\xed\x9f\xbf"); /* U+D7FF */
    OK("\xee\x80\x80"); /* U+E000 */
    OK("\xef\xbf\xbf"); /* U+FFFF */
    OK("\xef\xbf\xbe"); /* U+FFFE: a noncharacter, still valid */
    OK("\xf0\x90\x80\x80");
    OK("\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    OK("abcdefghijklmnop\xf0\x9f\x98\x80qrstuvwxyz0123456789");
}

Test(utf8, truncated) {
    TRUNC("\xc2");
    TRUNC("\xe0\xa0");
    TRUNC("\xf0\x90\x80");
    TRUNC("abcdefgh\xe2\x82");
}

Test(utf8, invalid_fail_fast) {
    BAD("\x80", 0);
    BAD("\xbf", 0);
    BAD("a\x80", 1);
    BAD("\xc0\x80", 0);  /* overlong NUL */
    BAD("\xc1\xbf", 0);
    BAD("\xe0\x80\x80", 1);
    BAD("\xe0\x9f\xbf", 1);
    BAD("\xf0\x80\x80\x80", 1);
    BAD("\xf0\x8f\xbf\xbf", 1);
    BAD("\xed\xa0\x80", 1); /* U+D800 */
    BAD("\xed\xbf\xbf", 1); /* U+DFFF */
    BAD("\xf4\x90\x80\x80", 1); /* U+110000 */
    BAD("\xf5\x80\x80\x80", 0);
    BAD("\xfe", 0);
    BAD("\xff", 0);
    BAD("\xc2\x41", 1);
    BAD("\xe1\x80\x41", 2);
    BAD("\xf1\x80\x80\x41", 3);
    BAD("\xc2\xc2\x80", 1);
    BAD("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 12);
}

Test(utf8, ascii_fast_path_positions) {
    char s[80];
    for (size_t len = 1; len < 70; len++)
        for (size_t bad = 0; bad < len; bad++) {
            memset(s, 'a', len);
            s[bad] = (char)0x80;
            sq_utf8_state st = 0;
            cr_assert_eq(sq_utf8_scan(&st, s, len), bad);
            s[bad] = 'a';
            st = 0;
            cr_assert_eq(sq_utf8_scan(&st, s, len), len);
        }
}

Test(utf8, random_against_reference) {
    uint8_t buf[64];
    uint32_t x = 12345;
    static const uint8_t pick[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
                                   0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3,
                                   0xf4, 0xf5, 0xff};
    for (int round = 0; round < 200000; round++) {
        size_t n = (size_t)(round % 12);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = pick[(x >> 16) % sizeof pick];
        }
        bool complete;
        size_t want = ref_utf8(buf, n, &complete);
        sq_utf8_state st = 0;
        size_t got = sq_utf8_scan(&st, buf, n);
        cr_assert_eq(got, want, "round %d", round);
        if (got == n) cr_assert_eq(st == 0, complete, "round %d", round);
    }
}

/* ------------------------------------------------------------------------ */
/* Handshake helpers.                                                       */

Test(ws_handshake, accept_key) {
    char out[29];
    sq_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
    cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    cr_assert(sq_ws_accept_valid("dGhlIHNhbXBsZSBub25jZQ==", 24, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28));
    cr_assert(sq_ws_accept_valid("dGhlIHNhbXBsZSBub25jZQ==", 24, " s3pPLMBiTxaQ9kYGzzhZRbK+xOo= ", 30));
    cr_assert(!sq_ws_accept_valid("dGhlIHNhbXBsZSBub25jZQ==", 24, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo", 27));
    cr_assert(!sq_ws_accept_valid("dGhlIHNhbXBsZSBub25jZQ==", 24, "s3pPLMBiTxaQ9kYGzzhZRbK+xOp=", 28));
    /* A long key still hashes (through the other path). */
    char longkey[400];
    memset(longkey, 'A', sizeof longkey);
    sq_ws_accept_key(longkey, sizeof longkey, out);
    cr_assert_eq(strlen(out), 28);
}

Test(ws_handshake, key_validity) {
    cr_assert(sq_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 24));
    cr_assert(sq_ws_key_valid("AAECAwQFBgcICQoLDA0ODw==", 24));
    cr_assert(!sq_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=", 23));
    cr_assert(!sq_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ", 22));
    cr_assert(!sq_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==x", 25));
    cr_assert(!sq_ws_key_valid("dGhlIHNhbXBsZSBub25jZ*==", 24));
    cr_assert(!sq_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=A", 24));
    cr_assert(!sq_ws_key_valid("dGhlIHNhbXBsZSBub25jZSA=", 24)); /* 17 bytes */
    cr_assert(!sq_ws_key_valid("", 0));
    char key[25];
    uint8_t rnd[16];
    for (int i = 0; i < 16; i++) rnd[i] = (uint8_t)i;
    sq_ws_make_key(rnd, key);
    cr_assert_str_eq(key, "AAECAwQFBgcICQoLDA0ODw==");
    cr_assert(sq_ws_key_valid(key, 24));
}

Test(ws_handshake, lists_and_subprotocols) {
    const char *l = " chat , ,superchat,v2.json ,";
    size_t pos = 0, n;
    const char *it;
    const char *want[] = {"chat", "superchat", "v2.json"};
    for (int i = 0; i < 3; i++) {
        cr_assert(sq_ws_list_next(l, strlen(l), &pos, &it, &n));
        cr_assert(n == strlen(want[i]) && memcmp(it, want[i], n) == 0);
    }
    cr_assert(!sq_ws_list_next(l, strlen(l), &pos, &it, &n));
    const char *sup[] = {"v2.json", "chat"};
    cr_assert_eq(sq_ws_pick_subprotocol(l, strlen(l), sup, 2), 0);
    const char *sup2[] = {"mqtt", "CHAT", "chat"};
    cr_assert_eq(sq_ws_pick_subprotocol(l, strlen(l), sup2, 3), 2);
    cr_assert_eq(sq_ws_pick_subprotocol(l, strlen(l), sup2, 2), -1);
    cr_assert_eq(sq_ws_pick_subprotocol(NULL, 0, sup, 2), -1);
    cr_assert_eq(sq_ws_pick_subprotocol("chatty", 6, sup, 2), -1);
}

Test(ws_handshake, client_request) {
    char out[512];
    sq_ws_client_request_opts o = {.host = "server.example.com", .path = "/chat",
                                   .key = "dGhlIHNhbXBsZSBub25jZQ==", .origin = "http://example.com",
                                   .protocols = "chat, superchat",
                                   .extensions = "permessage-deflate; client_max_window_bits",
                                   .extra_headers = "Cookie: a=b\r\n"};
    int n = sq_ws_client_request(out, sizeof out, &o);
    const char *want = "GET /chat HTTP/1.1\r\n"
                       "Host: server.example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Origin: http://example.com\r\n"
                       "Sec-WebSocket-Protocol: chat, superchat\r\n"
                       "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                       "Cookie: a=b\r\n"
                       "\r\n";
    cr_assert_eq(n, (int)strlen(want));
    cr_assert(memcmp(out, want, (size_t)n) == 0);
    cr_assert_eq(sq_ws_client_request(out, (size_t)n - 1, &o), SQ_ENOSPC);
    cr_assert_eq(sq_ws_client_request(out, (size_t)n, &o), n);
    sq_ws_client_request_opts m = {.host = "h", .key = "k"};
    n = sq_ws_client_request(out, sizeof out, &m);
    cr_assert(n > 0 && memcmp(out, "GET / HTTP/1.1\r\nHost: h\r\n", 25) == 0);
    m.host = "h\r\nX: y";
    cr_assert_eq(sq_ws_client_request(out, sizeof out, &m), SQ_EHEADER);
    m.host = "h";
    m.path = "/a b";
    cr_assert_eq(sq_ws_client_request(out, sizeof out, &m), SQ_EHEADER);
    m.path = NULL;
    m.extra_headers = "X: y";
    cr_assert_eq(sq_ws_client_request(out, sizeof out, &m), SQ_EHEADER);
    m.extra_headers = "X: y\r\n\r\nZ: w\r\n";
    cr_assert_eq(sq_ws_client_request(out, sizeof out, &m), SQ_EHEADER);
    m.extra_headers = "X: y\nZ: w\r\n";
    cr_assert_eq(sq_ws_client_request(out, sizeof out, &m), SQ_EHEADER);
    m.extra_headers = "\r\n";
    cr_assert_eq(sq_ws_client_request(out, sizeof out, &m), SQ_EHEADER);
}

/* ------------------------------------------------------------------------ */
/* permessage-deflate negotiation.                                          */

typedef struct {
    const char *offer;
    int rc;
    const char *resp;
} neg_case;

static void server_neg(const sq_ws_pmd_config *cfg, const neg_case *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char resp[160];
        size_t rl = 99;
        sq_ws_pmd_params p;
        int rc = sq_ws_pmd_accept(cfg, c[i].offer, strlen(c[i].offer), &p, resp, sizeof resp, &rl);
        cr_assert_eq(rc, c[i].rc, "offer '%s': rc %d, want %d", c[i].offer, rc, c[i].rc);
        if (rc == 1) {
            cr_assert_str_eq(resp, c[i].resp, "offer '%s'", c[i].offer);
            cr_assert_eq(rl, strlen(resp));
            /* The client that made the offer accepts the response. */
        } else {
            cr_assert_eq(rl, 0);
        }
    }
}

Test(ws_pmd_negotiation, server_defaults) {
    sq_ws_pmd_config cfg;
    sq_ws_pmd_config_init(&cfg);
    static const neg_case c[] = {
        {"permessage-deflate", 1, "permessage-deflate"},
        {"permessage-deflate; client_max_window_bits", 1, "permessage-deflate"},
        {"PerMessage-Deflate", 1, "permessage-deflate"},
        {"permessage-deflate; client_max_window_bits=10", 1,
         "permessage-deflate; client_max_window_bits=10"},
        {"permessage-deflate; client_max_window_bits=\"10\"", 1,
         "permessage-deflate; client_max_window_bits=10"},
        {"permessage-deflate; server_max_window_bits=12", 1,
         "permessage-deflate; server_max_window_bits=12"},
        {"permessage-deflate;server_no_context_takeover;client_no_context_takeover", 1,
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
        {"x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8", 1,
         "permessage-deflate; server_max_window_bits=8"},
        /* Invalid offers are declined; the next one is taken. */
        {"permessage-deflate; server_max_window_bits=7, permessage-deflate", 1, "permessage-deflate"},
        {"permessage-deflate; server_max_window_bits", 0, NULL},
        {"permessage-deflate; server_max_window_bits=16", 0, NULL},
        {"permessage-deflate; server_max_window_bits=010", 0, NULL},
        {"permessage-deflate; client_max_window_bits=1", 0, NULL},
        {"permessage-deflate; client_max_window_bits=8; client_max_window_bits=9", 0, NULL},
        {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", 0, NULL},
        {"permessage-deflate; server_no_context_takeover=1", 0, NULL},
        {"permessage-deflate; foo=bar", 0, NULL},
        {"permessage-deflate; foo", 0, NULL},
        {"x-other; a=1", 0, NULL},
        {"", 0, NULL},
        /* Syntax errors. */
        {"permessage-deflate; =5", SQ_EPROTO, NULL},
        {"permessage-deflate; a=\"x", SQ_EPROTO, NULL},
        {"permessage-deflate x", SQ_EPROTO, NULL},
        {"permessage-deflate; client_max_window_bits=\"1 0\"", SQ_EPROTO, NULL},
    };
    server_neg(&cfg, c, sizeof c / sizeof *c);
}

Test(ws_pmd_negotiation, server_settings) {
    sq_ws_pmd_config cfg;
    sq_ws_pmd_config_init(&cfg);
    cfg.server_no_context_takeover = true;
    cfg.client_no_context_takeover = true;
    static const neg_case c1[] = {
        {"permessage-deflate", 1,
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
    };
    server_neg(&cfg, c1, 1);
    sq_ws_pmd_config_init(&cfg);
    cfg.server_max_window_bits = 10;
    cfg.client_max_window_bits = 11;
    static const neg_case c2[] = {
        /* The client cannot be limited without the parameter: declined. */
        {"permessage-deflate", 0, NULL},
        {"permessage-deflate; client_max_window_bits", 1,
         "permessage-deflate; server_max_window_bits=10; client_max_window_bits=11"},
        {"permessage-deflate; client_max_window_bits=9; server_max_window_bits=12", 1,
         "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"},
        {"permessage-deflate; client_max_window_bits=15; server_max_window_bits=9", 1,
         "permessage-deflate; server_max_window_bits=9; client_max_window_bits=11"},
    };
    server_neg(&cfg, c2, sizeof c2 / sizeof *c2);
    char small[20];
    size_t rl;
    sq_ws_pmd_params p;
    cr_assert_eq(sq_ws_pmd_accept(&cfg, "permessage-deflate; client_max_window_bits", 42, &p, small,
                                  sizeof small, &rl),
                 SQ_ENOSPC);
    cr_assert_eq(sq_ws_pmd_accept(&cfg, "permessage-deflate; client_max_window_bits=9", 44, &p, small,
                                  0, &rl),
                 SQ_ENOSPC);
    char resp[160];
    const char *o = "permessage-deflate; client_max_window_bits=9; server_max_window_bits=12";
    cr_assert_eq(sq_ws_pmd_accept(&cfg, o, strlen(o), &p, resp, sizeof resp, &rl), 1);
    cr_assert_eq(p.server_max_window_bits, 10);
    cr_assert_eq(p.client_max_window_bits, 9);
    cr_assert(!p.server_no_context_takeover && !p.client_no_context_takeover);
}

Test(ws_pmd_negotiation, client_side) {
    sq_ws_pmd_config cfg;
    sq_ws_pmd_config_init(&cfg);
    char offer[160];
    cr_assert_eq(sq_ws_pmd_offer(&cfg, offer, sizeof offer), 42);
    cr_assert_str_eq(offer, "permessage-deflate; client_max_window_bits");
    sq_ws_pmd_params p;
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, "permessage-deflate", 18, &p), 1);
    cr_assert(p.server_max_window_bits == 15 && p.client_max_window_bits == 15);
    const char *r = "permessage-deflate; server_no_context_takeover; client_max_window_bits=9";
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, r, strlen(r), &p), 1);
    cr_assert(p.server_no_context_takeover && !p.client_no_context_takeover && p.client_max_window_bits == 9);
    r = "permessage-deflate; server_max_window_bits=8; client_no_context_takeover";
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, r, strlen(r), &p), 1);
    cr_assert(p.server_max_window_bits == 8 && p.client_no_context_takeover);
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, "", 0, &p), 0);
    static const char *bad[] = {
        "x-other",
        "permessage-deflate, permessage-deflate",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; foo",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate;",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(sq_ws_pmd_check_response(&cfg, bad[i], strlen(bad[i]), &p), SQ_EPROTO, "%s", bad[i]);
    /* An offer with limits: the server must honour them. */
    cfg.server_no_context_takeover = true;
    cfg.server_max_window_bits = 10;
    cfg.client_max_window_bits = 12;
    cr_assert(sq_ws_pmd_offer(&cfg, offer, sizeof offer) > 0);
    cr_assert_str_eq(offer, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; "
                            "client_max_window_bits=12");
    r = "permessage-deflate; server_no_context_takeover; server_max_window_bits=10";
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, r, strlen(r), &p), 1);
    cr_assert_eq(p.client_max_window_bits, 12);
    r = "permessage-deflate; server_max_window_bits=10";
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, r, strlen(r), &p), SQ_EPROTO);
    r = "permessage-deflate; server_no_context_takeover; server_max_window_bits=11";
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, r, strlen(r), &p), SQ_EPROTO);
    r = "permessage-deflate; server_no_context_takeover";
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, r, strlen(r), &p), SQ_EPROTO);
    r = "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=13";
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, r, strlen(r), &p), SQ_EPROTO);
    cr_assert_eq(sq_ws_pmd_offer(&cfg, offer, 10), SQ_ENOSPC);
    /* Server and client agree through the real functions. */
    sq_ws_pmd_config srv;
    sq_ws_pmd_config_init(&srv);
    srv.client_no_context_takeover = true;
    char resp[160];
    size_t rl;
    sq_ws_pmd_params sp, cp;
    cr_assert_eq(sq_ws_pmd_accept(&srv, offer, strlen(offer), &sp, resp, sizeof resp, &rl), 1);
    cr_assert_eq(sq_ws_pmd_check_response(&cfg, resp, rl, &cp), 1);
    cr_assert(memcmp(&sp, &cp, sizeof sp) == 0);
}

/* ------------------------------------------------------------------------ */
/* permessage-deflate compression.                                          */

static sq_ws_pmd *pmd(sq_ws_role role, bool snct, bool cnct, int sbits, int cbits, uint64_t max) {
    sq_ws_pmd_params p = {snct, cnct, (uint8_t)sbits, (uint8_t)cbits};
    sq_ws_pmd *z = NULL;
    cr_assert_eq(sq_ws_pmd_new(&z, &p, role, NULL, max), 0);
    return z;
}

/* Decompresses a whole message in one call. */
static size_t inflate_msg(sq_ws_pmd *z, const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    size_t iu, ou;
    int rc = sq_ws_pmd_decompress(z, in, n, true, out, cap, &iu, &ou);
    cr_assert_eq(rc, 0, "decompress: %d", rc);
    cr_assert_eq(iu, n);
    return ou;
}

static size_t deflate_msg(sq_ws_pmd *z, const void *in, size_t n, uint8_t *out, size_t cap) {
    cr_assert(cap >= sq_ws_pmd_compress_bound(z, n));
    int64_t r = sq_ws_pmd_compress(z, in, n, out, cap);
    cr_assert(r >= 0, "compress: %lld", (long long)r);
    return (size_t)r;
}

Test(ws_pmd, rfc7692_examples) {
    uint8_t out[128], c[128];
    /* 7.2.3.1: a message compressed in one block. */
    static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    sq_ws_pmd *z = pmd(SQ_WS_SERVER, false, false, 15, 15, 0);
    cr_assert_eq(inflate_msg(z, hello, sizeof hello, out, sizeof out), 5);
    cr_assert(memcmp(out, "Hello", 5) == 0);
    /* 7.2.3.2: sharing the LZ77 window: the second "Hello" refers back. */
    static const uint8_t hello2[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    cr_assert_eq(inflate_msg(z, hello2, sizeof hello2, out, sizeof out), 5);
    cr_assert(memcmp(out, "Hello", 5) == 0);
    /* Our compressor produces the same bytes. */
    sq_ws_pmd *cz = pmd(SQ_WS_CLIENT, false, false, 15, 15, 0);
    size_t n = deflate_msg(cz, "Hello", 5, c, sizeof c);
    cr_assert(n == sizeof hello && memcmp(c, hello, n) == 0);
    n = deflate_msg(cz, "Hello", 5, c, sizeof c);
    cr_assert(n == sizeof hello2 && memcmp(c, hello2, n) == 0);
    sq_ws_pmd_free(cz);
    sq_ws_pmd_free(z);
    /* Without context takeover both messages compress alike. */
    cz = pmd(SQ_WS_CLIENT, false, true, 15, 15, 0);
    z = pmd(SQ_WS_SERVER, false, true, 15, 15, 0);
    for (int i = 0; i < 3; i++) {
        n = deflate_msg(cz, "Hello", 5, c, sizeof c);
        cr_assert(n == sizeof hello && memcmp(c, hello, n) == 0);
        cr_assert_eq(inflate_msg(z, c, n, out, sizeof out), 5);
        cr_assert(memcmp(out, "Hello", 5) == 0);
    }
    sq_ws_pmd_free(cz);
    sq_ws_pmd_free(z);
    /* 7.2.3.3: a stored block; 7.2.3.4: BFINAL set; 7.2.3.5: two blocks. */
    static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00};
    static const uint8_t bfinal[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    static const uint8_t two[] = {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
    z = pmd(SQ_WS_SERVER, false, false, 15, 15, 0);
    cr_assert_eq(inflate_msg(z, stored, sizeof stored, out, sizeof out), 5);
    cr_assert(memcmp(out, "Hello", 5) == 0);
    cr_assert_eq(inflate_msg(z, bfinal, sizeof bfinal, out, sizeof out), 5);
    cr_assert(memcmp(out, "Hello", 5) == 0);
    cr_assert_eq(inflate_msg(z, two, sizeof two, out, sizeof out), 5);
    cr_assert(memcmp(out, "Hello", 5) == 0);
    /* An empty message compresses to one 0x00 byte and back. */
    sq_ws_pmd *e = pmd(SQ_WS_CLIENT, false, false, 15, 15, 0);
    n = deflate_msg(e, "", 0, c, sizeof c);
    cr_assert(n == 1 && c[0] == 0x00);
    cr_assert_eq(inflate_msg(z, c, n, out, sizeof out), 0);
    sq_ws_pmd_free(e);
    sq_ws_pmd_free(z);
}

Test(ws_pmd, round_trip_pieces_and_windows) {
    size_t cap = 300000;
    uint8_t *msg = malloc(cap), *c = malloc(cap + cap / 4 + 100), *out = malloc(cap + 1000);
    uint32_t x = 99;
    for (size_t i = 0; i < cap; i++) {
        x = x * 1103515245u + 12345u;
        msg[i] = (uint8_t)((i % 1000 < 500) ? 'a' + (x >> 16) % 4 : (x >> 16));
    }
    static const size_t sizes[] = {1, 10, 1000, 70000, 300000};
    for (int bits = 8; bits <= 15; bits++) {
        for (int takeover = 0; takeover < 2; takeover++) {
            sq_ws_pmd *cz = pmd(SQ_WS_CLIENT, false, !takeover, 15, bits, 0);
            sq_ws_pmd *sz = pmd(SQ_WS_SERVER, false, !takeover, 15, bits, 400000);
            for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
                size_t len = sizes[k];
                size_t n = deflate_msg(cz, msg, len, c, cap + cap / 4 + 100);
                /* Feed in pieces of 7 bytes with an output window of 333. */
                size_t ip = 0, op = 0;
                for (;;) {
                    size_t piece = n - ip < 7 ? n - ip : 7;
                    bool fin = ip + piece == n;
                    size_t iu, ou;
                    size_t room = cap + 1000 - op < 333 ? cap + 1000 - op : 333;
                    int rc = sq_ws_pmd_decompress(sz, c + ip, piece, fin, out + op, room, &iu, &ou);
                    cr_assert(rc == 0 || rc == SQ_EAGAIN, "rc %d", rc);
                    ip += iu;
                    op += ou;
                    if (rc == 0 && fin) break;
                }
                cr_assert_eq(op, len, "bits %d takeover %d len %zu", bits, takeover, len);
                cr_assert(memcmp(out, msg, len) == 0);
            }
            sq_ws_pmd_free(cz);
            sq_ws_pmd_free(sz);
        }
    }
    free(msg);
    free(c);
    free(out);
}

/* Raw-deflates n zeros with a sync flush, minus the 00 00 FF FF. */
static uint8_t *zeros_bomb(size_t n, size_t *out_len) {
    z_stream s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = n / 500 + 1024;
    uint8_t *out = malloc(cap), *zero = calloc(1, 1 << 20);
    s.next_out = out;
    s.avail_out = (uInt)cap;
    for (size_t done = 0; done < n; done += 1 << 20) {
        s.next_in = zero;
        s.avail_in = 1 << 20;
        cr_assert_eq(deflate(&s, done + (1 << 20) >= n ? Z_SYNC_FLUSH : Z_NO_FLUSH), Z_OK);
    }
    *out_len = cap - s.avail_out - 4;
    deflateEnd(&s);
    free(zero);
    return out;
}

Test(ws_pmd, decompression_bomb) {
    size_t n;
    uint8_t *bomb = zeros_bomb(100u << 20, &n); /* 100 MiB of zeros */
    cr_assert(n < 200000, "the bomb is %zu bytes", n);
    const size_t limit = 1u << 20;
    /* A caller buffer as large as the limit (plus the one byte). */
    sq_ws_pmd *z = pmd(SQ_WS_SERVER, false, false, 15, 15, limit);
    uint8_t *out = malloc(limit + 1);
    size_t iu, ou;
    int rc = sq_ws_pmd_decompress(z, bomb, n, true, out, limit + 1, &iu, &ou);
    cr_assert_eq(rc, SQ_ELIMIT);
    cr_assert_eq(ou, limit + 1);
    cr_assert(iu < n / 50, "stopped early: %zu of %zu input bytes", iu, n);
    sq_ws_pmd_free(z);
    /* A huge caller buffer: still stops one byte past the limit. */
    uint8_t *huge = malloc(8u << 20);
    z = pmd(SQ_WS_SERVER, false, false, 15, 15, limit);
    rc = sq_ws_pmd_decompress(z, bomb, n, true, huge, 8u << 20, &iu, &ou);
    cr_assert_eq(rc, SQ_ELIMIT);
    cr_assert_eq(ou, limit + 1);
    sq_ws_pmd_free(z);
    /* Small output windows: EAGAIN until the total passes the limit. */
    z = pmd(SQ_WS_SERVER, false, false, 15, 15, limit);
    size_t total = 0, ip = 0;
    for (;;) {
        rc = sq_ws_pmd_decompress(z, bomb + ip, n - ip, true, out, 4096, &iu, &ou);
        ip += iu;
        total += ou;
        if (rc != SQ_EAGAIN) break;
        cr_assert(total <= limit);
    }
    cr_assert_eq(rc, SQ_ELIMIT);
    cr_assert_eq(total, limit + 1);
    sq_ws_pmd_free(z);
    /* Exactly at the limit: fine. */
    free(bomb);
    bomb = zeros_bomb(limit, &n);
    z = pmd(SQ_WS_SERVER, false, false, 15, 15, limit);
    rc = sq_ws_pmd_decompress(z, bomb, n, true, out, limit + 1, &iu, &ou);
    cr_assert_eq(rc, 0);
    cr_assert_eq(ou, limit);
    sq_ws_pmd_free(z);
    free(bomb);
    free(out);
    free(huge);
}

Test(ws_pmd, corrupt_and_misuse) {
    uint8_t out[64];
    size_t iu, ou;
    sq_ws_pmd *z = pmd(SQ_WS_SERVER, false, false, 15, 15, 0);
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(sq_ws_pmd_decompress(z, junk, sizeof junk, true, out, sizeof out, &iu, &ou), SQ_EPROTO);
    cr_assert_eq(sq_ws_pmd_decompress(z, junk, sizeof junk, true, out, sizeof out, &iu, &ou), SQ_ESTATE);
    sq_ws_pmd_free(z);
    sq_ws_pmd_free(NULL);
    /* Too small an output for compression. */
    z = pmd(SQ_WS_SERVER, false, false, 15, 15, 0);
    uint8_t big[4096];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7919 >> 3);
    cr_assert_eq(sq_ws_pmd_compress(z, big, sizeof big, out, sizeof out), SQ_ENOSPC);
    sq_ws_pmd_free(z);
    /* The threshold. */
    sq_ws_pmd_config cfg;
    sq_ws_pmd_config_init(&cfg);
    cfg.threshold = 100;
    sq_ws_pmd_params p = {false, false, 15, 15};
    cr_assert_eq(sq_ws_pmd_new(&z, &p, SQ_WS_SERVER, &cfg, 0), 0);
    cr_assert(!sq_ws_pmd_should_compress(z, 99));
    cr_assert(sq_ws_pmd_should_compress(z, 100));
    sq_ws_pmd_free(z);
}

/* ------------------------------------------------------------------------ */
/* Cross-check with python3-websockets.                                     */

static const char py_script[] =
    "import sys\n"
    "from websockets.extensions.permessage_deflate import PerMessageDeflate\n"
    "from websockets.frames import Frame, Opcode\n"
    "mode, nct, bits = sys.argv[1], sys.argv[2] == '1', int(sys.argv[3])\n"
    "# remote_nct, local_nct, remote_bits, local_bits\n"
    "ext = PerMessageDeflate(nct, nct, bits, bits)\n"
    "for line in sys.stdin:\n"
    "    data = bytes.fromhex(line.strip())\n"
    "    if mode == 'fenc':\n"
    "        print(Frame(Opcode.BINARY, data).serialize(mask=True).hex(), flush=True)\n"
    "        continue\n"
    "    if mode == 'fdec':\n"
    "        from websockets.streams import StreamReader\n"
    "        r = StreamReader()\n"
    "        r.feed_data(data)\n"
    "        r.feed_eof()\n"
    "        g = Frame.parse(r.read_exact, mask=False)\n"
    "        try:\n"
    "            next(g)\n"
    "        except StopIteration as e:\n"
    "            print(e.value.data.hex(), flush=True)\n"
    "        continue\n"
    "    if mode == 'encode':\n"
    "        f = ext.encode(Frame(Opcode.BINARY, data))\n"
    "        assert f.rsv1\n"
    "        print(f.data.hex(), flush=True)\n"
    "    else:\n"
    "        f = ext.decode(Frame(Opcode.BINARY, data, rsv1=True))\n"
    "        print(f.data.hex(), flush=True)\n";

static bool have_websockets(void) {
    return system("/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1") == 0;
}

static void hex(FILE *f, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) fprintf(f, "%02x", p[i]);
    fputc('\n', f);
}

static size_t unhex(const char *s, uint8_t *out) {
    size_t n = 0;
    while (s[0] && s[1] && s[0] != '\n') {
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* Runs the python side over msgs, one hex line each, and returns its lines. */
static void py_run(const char *mode, int nct, int bits, char lines[][140000], const uint8_t msgs[][2000],
                   const size_t *lens, int n) {
    char in_path[] = "/tmp/sq-ws-py-in-XXXXXX", script_path[] = "/tmp/sq-ws-py-XXXXXX";
    int fd = mkstemp(in_path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < n; i++) hex(f, msgs[i], lens[i]);
    fclose(f);
    fd = mkstemp(script_path);
    cr_assert(fd >= 0);
    f = fdopen(fd, "w");
    fputs(py_script, f);
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %d %d < %s", script_path, mode, nct, bits, in_path);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    for (int i = 0; i < n; i++) cr_assert(fgets(lines[i], 140000, p), "python gave too few lines");
    cr_assert_eq(pclose(p), 0, "python failed");
    unlink(in_path);
    unlink(script_path);
}

Test(ws_pmd_peer, python_websockets_both_ways, .timeout = 120) {
    if (!have_websockets()) cr_skip_test("python3-websockets is not installed");
    static uint8_t msgs[6][2000];
    size_t lens[6];
    const char *texts[] = {"Hello", "Hello", "", "abcabcabcabcabcabcabcabc", "Hello, Hello, Hello"};
    for (int i = 0; i < 5; i++) {
        lens[i] = strlen(texts[i]);
        memcpy(msgs[i], texts[i], lens[i]);
    }
    lens[5] = 1500;
    for (int i = 0; i < 1500; i++) msgs[5][i] = (uint8_t)("squall "[i % 7] + (i / 100));
    static char lines[6][140000];
    static const int cases[][2] = {{0, 15}, {1, 15}, {0, 9}, {1, 12}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int nct = cases[k][0], bits = cases[k][1];
        /* python compresses, squall decompresses. */
        py_run("encode", nct, bits, lines, msgs, lens, 6);
        sq_ws_pmd *z = pmd(SQ_WS_SERVER, nct, nct, bits, bits, 0);
        for (int i = 0; i < 6; i++) {
            uint8_t c[4096], out[4096];
            size_t n = unhex(lines[i], c);
            size_t m = inflate_msg(z, c, n, out, sizeof out);
            cr_assert(m == lens[i] && memcmp(out, msgs[i], m) == 0, "case %zu message %d", k, i);
        }
        sq_ws_pmd_free(z);
        /* squall compresses, python decompresses. */
        static uint8_t comp[6][2000];
        size_t clen[6];
        z = pmd(SQ_WS_SERVER, nct, nct, bits, bits, 0);
        for (int i = 0; i < 6; i++) clen[i] = deflate_msg(z, msgs[i], lens[i], comp[i], sizeof comp[i]);
        sq_ws_pmd_free(z);
        py_run("decode", nct, bits, lines, comp, clen, 6);
        for (int i = 0; i < 6; i++) {
            uint8_t out[4096];
            size_t m = unhex(lines[i], out);
            cr_assert(m == lens[i] && memcmp(out, msgs[i], m) == 0, "case %zu message %d", k, i);
        }
    }
}

Test(ws_rules, after_error_and_close) {
    uint8_t f[32];
    size_t n = mk(f, 0x81, "\xff", 1, NULL); /* invalid text, through the fast path */
    sq_ws_decoder d;
    sq_ws_decoder_init(&d, SQ_WS_CLIENT);
    sq_ws_event ev;
    cr_assert_eq(sq_ws_decode(&d, f, n, &ev), SQ_EPROTO);
    cr_assert_eq(d.close_code, 1007);
    cr_assert_not_null(d.error);
    cr_assert(!sq_ws_decoder_idle(&d));
    cr_assert_eq(sq_ws_decode(&d, f, n, &ev), SQ_ESTATE, "a failed decoder stays failed");
    /* Non-ASCII text through the fast path, both roles. */
    n = mk(f, 0x81, "\xce\xba\xcf\x83", 4, NULL);
    check(&CLIENT, f, n, "T:\\xce\\xba\\xcf\\x83|");
    n = mk(f, 0x81, "caf\xc3\xa9 \xe2\x82\xac", 9, K);
    check(&SERVER, f, n, "T:caf\\xc3\\xa9 \\xe2\\x82\\xac|");
    /* A close leaves the decoder idle. */
    n = mk(f, 0x88, "", 0, K);
    sq_ws_decoder_init(&d, SQ_WS_SERVER);
    cr_assert_eq(sq_ws_decode(&d, f, n, &ev), (int64_t)n);
    cr_assert(sq_ws_decoder_idle(&d));
}

Test(ws_pmd_peer, python_websockets_frames, .timeout = 120) {
    if (!have_websockets()) cr_skip_test("python3-websockets is not installed");
    /* Payloads of 0, 5, 125, 126, 1000 and 1999 bytes: every length form but
     * the 64-bit one, which python writes the same way. */
    static uint8_t msgs[6][2000];
    static const size_t lens[6] = {0, 5, 125, 126, 1000, 1999};
    for (int i = 0; i < 6; i++)
        for (size_t j = 0; j < lens[i]; j++) msgs[i][j] = (uint8_t)(j * 7 + (size_t)i);
    static char lines[6][140000];
    /* python masks as a client; squall's server decoder reads it. */
    py_run("fenc", 0, 15, lines, msgs, lens, 6);
    for (int i = 0; i < 6; i++) {
        static uint8_t f[4100];
        size_t n = unhex(lines[i], f);
        sq_ws_decoder d;
        sq_ws_decoder_init(&d, SQ_WS_SERVER);
        sq_ws_event ev;
        cr_assert_eq(sq_ws_decode(&d, f, n, &ev), (int64_t)n);
        cr_assert(ev.len == lens[i] && memcmp(ev.data, msgs[i], lens[i]) == 0, "message %d", i);
        cr_assert(ev.flags & SQ_WS_F_MSG_END);
    }
    /* squall writes server frames; python parses them. */
    static uint8_t frames[6][2000 + 14];
    static uint8_t frames2k[6][2000];
    size_t flen[6];
    for (int i = 0; i < 6; i++) {
        size_t h = sq_ws_frame_header(frames[i], SQ_WS_OP_BINARY, SQ_WS_F_FIN, lens[i], NULL);
        memcpy(frames[i] + h, msgs[i], lens[i]);
        flen[i] = h + lens[i] < 2000 ? h + lens[i] : 2000;
        memcpy(frames2k[i], frames[i], flen[i]);
    }
    /* The 1999-byte payload's frame is 2003 bytes: leave it to the
     * direction above. */
    py_run("fdec", 0, 15, lines, (const uint8_t(*)[2000])frames2k, flen, 5);
    for (int i = 0; i < 5; i++) {
        static uint8_t out[2000];
        size_t m = unhex(lines[i], out);
        cr_assert(m == lens[i] && memcmp(out, msgs[i], m) == 0, "message %d", i);
    }
}
