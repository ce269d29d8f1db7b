/* libFuzzer target: the WebSocket frame decoder.
 *
 * Input: 4 bytes of settings, then the bytes of a stream of frames.
 *   byte 0: bit 0 client role, bit 1 permessage-deflate, bit 2 strict
 *           lengths, bit 3 no UTF-8 validation
 *   byte 1: the message limit (0: the default 10 MiB, else 1 to 255 bytes
 *           times 4)
 *   bytes 2-3: a split point
 *
 * The stream is decoded whole, split in two at the chosen point, and one
 * byte at a time. Invariants: every call makes progress and stays within its
 * input; every span lies inside the bytes the call consumed; a DATA span
 * never exceeds its frame; the three feeds give the same transcript
 * (messages with their bytes, control frames, the error and its close code);
 * a close code reported on error is 1002, 1007 or 1009 and matches the
 * return value.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squall/ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REC 64

typedef struct {
    uint8_t kind, opcode, z;
    uint16_t code;
    uint64_t len;
    uint32_t hash;
} rec;

typedef struct {
    rec r[MAX_REC];
    int n;
    int err;
    uint16_t code;
    bool failed;
    /* The message being assembled: only its length and hash. */
    uint64_t mlen;
    uint32_t mhash;
    uint8_t mop, mz;
} tr;

static uint32_t hash(uint32_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static void add(tr *t, rec r) {
    if (t->n < MAX_REC) t->r[t->n] = r;
    t->n++;
}

static void setup(sq_ws_decoder *d, const uint8_t *cfg) {
    sq_ws_decoder_init(d, (cfg[0] & 1) ? SQ_WS_CLIENT : SQ_WS_SERVER);
    d->options = ((cfg[0] & 2) ? SQ_WS_DEC_DEFLATE : 0) | ((cfg[0] & 4) ? SQ_WS_DEC_STRICT_LENGTH : 0) |
                 ((cfg[0] & 8) ? SQ_WS_DEC_NO_UTF8 : 0);
    if (cfg[1]) d->max_message = (uint64_t)cfg[1] * 4;
}

static void feed(sq_ws_decoder *d, tr *t, uint8_t *buf, size_t len) {
    size_t i = 0;
    while (i < len && !t->failed) {
        sq_ws_event ev;
        int64_t n = sq_ws_decode(d, buf + i, len - i, &ev);
        if (n < 0) {
            t->failed = true;
            t->err = (int)n;
            t->code = d->close_code;
            assert(d->error != NULL);
            assert((n == SQ_ELIMIT && d->close_code == 1009) ||
                   (n == SQ_EPROTO && (d->close_code == 1002 || d->close_code == 1007)));
            return;
        }
        assert(n > 0 && (size_t)n <= len - i);
        if (ev.kind == SQ_WS_EV_DATA) {
            assert(ev.data >= buf + i && ev.data + ev.len <= buf + i + n);
            assert(ev.len <= ev.frame_len);
            assert(ev.opcode == SQ_WS_OP_TEXT || ev.opcode == SQ_WS_OP_BINARY);
            if (ev.flags & SQ_WS_F_MSG_START) {
                t->mlen = 0;
                t->mhash = 2166136261u;
                t->mop = ev.opcode;
                t->mz = (ev.flags & SQ_WS_F_COMPRESSED) != 0;
            }
            assert(ev.opcode == t->mop);
            t->mlen += ev.len;
            t->mhash = hash(t->mhash, ev.data, ev.len);
            if (d->max_message) assert(t->mlen <= d->max_message);
            if (ev.flags & SQ_WS_F_MSG_END) {
                assert(ev.flags & SQ_WS_F_FRAME_END);
                add(t, (rec){1, t->mop, t->mz, 0, t->mlen, t->mhash});
            }
        } else if (ev.kind == SQ_WS_EV_CONTROL) {
            assert(ev.len <= 125);
            assert(ev.opcode >= SQ_WS_OP_CLOSE && ev.opcode <= SQ_WS_OP_PONG);
            if (ev.opcode == SQ_WS_OP_CLOSE) {
                assert(ev.close_code == SQ_WS_CLOSE_NO_STATUS || sq_ws_close_code_valid(ev.close_code));
                assert(sq_utf8_valid(ev.reason, ev.reason_len));
            }
            add(t, (rec){2, ev.opcode, 0, ev.close_code, ev.len, hash(2166136261u, ev.data, ev.len)});
        } else {
            assert(ev.kind == SQ_WS_EV_NONE);
        }
        i += (size_t)n;
    }
}

static void same(const tr *a, const tr *b) {
    assert(a->n == b->n);
    assert(a->failed == b->failed);
    if (a->failed) assert(a->code == b->code && a->err == b->err);
    /* Field by field: the struct has padding, which assignments leave undefined. */
    for (int i = 0; i < a->n && i < MAX_REC; i++) {
        const rec *x = &a->r[i], *y = &b->r[i];
        assert(x->kind == y->kind && x->opcode == y->opcode && x->z == y->z && x->code == y->code &&
               x->len == y->len && x->hash == y->hash);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    const uint8_t *cfg = data;
    size_t split = (size_t)(data[2] | data[3] << 8);
    data += 4;
    size -= 4;
    if (split > size) split = size ? split % (size + 1) : 0;
    uint8_t *copy = malloc(size ? size : 1);
    sq_ws_decoder d;
    static tr whole, parts, bytes;

    memset(&whole, 0, sizeof whole);
    memcpy(copy, data, size);
    setup(&d, cfg);
    feed(&d, &whole, copy, size);

    memset(&parts, 0, sizeof parts);
    memcpy(copy, data, size);
    setup(&d, cfg);
    feed(&d, &parts, copy, split);
    if (!parts.failed) feed(&d, &parts, copy + split, size - split);
    same(&whole, &parts);

    memset(&bytes, 0, sizeof bytes);
    memcpy(copy, data, size);
    setup(&d, cfg);
    for (size_t i = 0; i < size && !bytes.failed; i++) feed(&d, &bytes, copy + i, 1);
    same(&whole, &bytes);

    free(copy);
    return 0;
}
