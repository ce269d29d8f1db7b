/* The WebSocket frame decoder and encoder (RFC 6455 section 5).
 *
 * The decoder is a small state machine that never needs the caller to keep
 * input: header bytes of a header cut by a read boundary are gathered in the
 * decoder (14 bytes at most), control payloads (125 bytes at most) too, and
 * data payloads are unmasked in place and handed back as spans of the
 * caller's buffer. A header and the payload that follows it in the same
 * buffer are reported by one call, so a small frame that arrives whole costs
 * one call. */
#include <string.h>

#include "squall/ws_codec.h"

enum { ST_HEADER, ST_PAYLOAD, ST_CONTROL, ST_CLOSED, ST_ERROR };

bool sq_ws_close_code_valid(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

void sq_ws_decoder_init(sq_ws_decoder *d, sq_ws_role role) {
    memset(d, 0, sizeof *d);
    d->max_message = SQ_WS_DEFAULT_MAX_MESSAGE;
    d->role_ = (uint8_t)role;
    d->state_ = ST_HEADER;
}

bool sq_ws_decoder_idle(const sq_ws_decoder *d) {
    return (d->state_ == ST_HEADER && d->hdr_have_ == 0 && d->msg_op_ == 0) ||
           d->state_ == ST_CLOSED;
}

static int fail(sq_ws_decoder *d, uint16_t code, const char *why) {
    d->state_ = ST_ERROR;
    d->close_code = code;
    d->error = why;
    return code == SQ_WS_CLOSE_TOO_BIG ? SQ_ELIMIT : SQ_EPROTO;
}

/* ------------------------------------------------------------------------ */
/* Masking.                                                                 */

/* The 4-byte key repeated over 8 bytes, starting at key byte (offset & 3),
 * as it lies in memory. */
static inline uint64_t key64(const uint8_t key[4], uint64_t offset) {
    unsigned r = (unsigned)(offset & 3);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t k;
    memcpy(&k, key, 4);
    if (r) k = (k >> (8 * r)) | (k << (32 - 8 * r)); /* byte j becomes key[(j + r) & 3] */
    return (uint64_t)k | (uint64_t)k << 32;
#else
    uint8_t b[8];
    for (unsigned j = 0; j < 8; j++) b[j] = key[(j + r) & 3];
    uint64_t k;
    memcpy(&k, b, 8);
    return k;
#endif
}

/* XORs with a key laid out by key64(), 8 bytes at a time; the tail (fewer
 * than 8 bytes) goes through a zero-padded word. Returns the OR of every
 * output byte's top bit (0: the output is all ASCII), which the decoder's
 * fast path gets for free as it unmasks. */
static inline uint64_t xor64(uint8_t *dst, const uint8_t *src, size_t len, uint64_t k) {
    size_t i = 0;
    uint64_t acc = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k;
        acc |= v;
        memcpy(dst + i, &v, 8);
    }
    if (i < len) {
        /* i is a multiple of 8: the key lines up with its start. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* 4, 2 and 1 bytes: at most three steps whatever the tail. */
        uint64_t t = 0;
        if (len - i >= 4) {
            uint32_t v;
            memcpy(&v, src + i, 4);
            v ^= (uint32_t)k;
            memcpy(dst + i, &v, 4);
            t |= v;
            i += 4;
            k >>= 32;
        }
        if (len - i >= 2) {
            uint16_t v;
            memcpy(&v, src + i, 2);
            v ^= (uint16_t)k;
            memcpy(dst + i, &v, 2);
            t |= v;
            i += 2;
            k >>= 16;
        }
        if (i < len) {
            uint8_t v = src[i] ^ (uint8_t)k;
            dst[i] = v;
            t |= v;
        }
        acc |= t;
#else
        uint8_t kb[8], c = 0;
        memcpy(kb, &k, 8);
        for (size_t j = 0; i + j < len; j++) {
            uint8_t x = src[i + j] ^ kb[j];
            dst[i + j] = x;
            c |= x;
        }
        acc |= c;
#endif
    }
    return acc & 0x8080808080808080ull;
}

void sq_ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                     uint64_t offset) {
    (void)xor64(dst, src, len, key64(key, offset));
}

void sq_ws_mask(uint8_t *p, size_t len, const uint8_t key[4], uint64_t offset) {
    sq_ws_mask_copy(p, p, len, key, offset);
}

/* Unmasks a span and rotates the decoder's key so that mask_[0] applies to
 * the byte after it. */
static inline void unmask_span(sq_ws_decoder *d, uint8_t *p, size_t n) {
    if (!d->masked_ || n == 0) return;
    sq_ws_mask(p, n, d->mask_, 0);
    unsigned r = (unsigned)(n & 3);
    if (r) {
        uint8_t k[4];
        for (unsigned i = 0; i < 4; i++) k[i] = d->mask_[(i + r) & 3];
        memcpy(d->mask_, k, 4);
    }
}

/* ------------------------------------------------------------------------ */
/* Header.                                                                  */

/* Checks the first header byte as soon as it is known. */
static int check_b0(sq_ws_decoder *d, uint8_t b0) {
    unsigned op = b0 & 0x0f;
    if (b0 & 0x30) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "reserved bit RSV2 or RSV3 set");
    if (op >= 8) {
        if (op > SQ_WS_OP_PONG) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "unknown opcode");
        if (!(b0 & 0x80)) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "fragmented control frame");
        if (b0 & 0x40) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "RSV1 set on a control frame");
        return 0;
    }
    if (op > SQ_WS_OP_BINARY) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "unknown opcode");
    if (op == SQ_WS_OP_CONT) {
        if (!d->msg_op_) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "continuation without a message");
        if (b0 & 0x40) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "RSV1 set on a continuation frame");
    } else {
        if (d->msg_op_) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one");
        if ((b0 & 0x40) && !(d->options & SQ_WS_DEC_DEFLATE))
            return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "reserved bit RSV1 set");
    }
    return 0;
}

/* Checks the second header byte; returns the header's full length. */
static int check_b1(sq_ws_decoder *d, uint8_t b0, uint8_t b1) {
    unsigned len7 = b1 & 0x7f;
    bool masked = b1 & 0x80;
    if (masked != (d->role_ == SQ_WS_SERVER))
        return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR,
                    masked ? "masked frame from a server" : "unmasked frame from a client");
    if ((b0 & 0x08) && len7 > 125) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "control frame over 125 bytes");
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
}

/* The header h (complete, already checked by check_b0/check_b1) starts a
 * frame. */
static int start_frame(sq_ws_decoder *d, const uint8_t *h) {
    uint8_t b0 = h[0], b1 = h[1];
    unsigned len7 = b1 & 0x7f, p = 2;
    uint64_t len = len7;
    if (len7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        p = 4;
        if (len < 126 && (d->options & SQ_WS_DEC_STRICT_LENGTH))
            return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "length not minimally encoded");
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
        p = 10;
        if (len >> 63) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "64-bit length with the top bit set");
        if (len < 65536 && (d->options & SQ_WS_DEC_STRICT_LENGTH))
            return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "length not minimally encoded");
    }
    d->masked_ = (b1 & 0x80) != 0;
    if (d->masked_) memcpy(d->mask_, h + p, 4);
    d->b0_ = b0;
    d->op_ = b0 & 0x0f;
    d->frame_len_ = len;
    d->remaining_ = len;
    if (d->op_ >= 8) {
        d->ctrl_have_ = 0;
        d->state_ = ST_CONTROL;
        return 0;
    }
    if (d->op_ != SQ_WS_OP_CONT) {
        d->msg_op_ = d->op_;
        d->msg_z_ = (b0 & 0x40) != 0;
        d->msg_size_ = 0;
        d->utf8_ = 0;
    }
    if (d->max_message && len > d->max_message - d->msg_size_)
        return fail(d, SQ_WS_CLOSE_TOO_BIG, "message too big");
    d->msg_size_ += len;
    d->state_ = ST_PAYLOAD;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Payload.                                                                 */

/* Reports up to n bytes at p of the current data frame. */
static int data_span(sq_ws_decoder *d, uint8_t *p, size_t n, bool start, sq_ws_event *ev) {
    size_t take = d->remaining_ < n ? (size_t)d->remaining_ : n;
    unmask_span(d, p, take);
    d->remaining_ -= take;
    unsigned f = (d->b0_ & 0x80) ? SQ_WS_F_FIN : 0;
    if (d->msg_z_) f |= SQ_WS_F_COMPRESSED;
    if (start) {
        f |= SQ_WS_F_FRAME_START;
        if (d->op_ != SQ_WS_OP_CONT) f |= SQ_WS_F_MSG_START;
    }
    bool text = d->msg_op_ == SQ_WS_OP_TEXT && !d->msg_z_ && !(d->options & SQ_WS_DEC_NO_UTF8);
    if (text && take && sq_utf8_scan(&d->utf8_, p, take) != take)
        return fail(d, SQ_WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
    ev->kind = SQ_WS_EV_DATA;
    ev->opcode = d->msg_op_;
    ev->data = p;
    ev->len = take;
    ev->frame_len = d->frame_len_;
    if (d->remaining_ == 0) {
        f |= SQ_WS_F_FRAME_END;
        d->state_ = ST_HEADER;
        d->hdr_have_ = 0;
        if (f & SQ_WS_F_FIN) {
            f |= SQ_WS_F_MSG_END;
            if (text && d->utf8_ != 0)
                return fail(d, SQ_WS_CLOSE_INVALID_DATA, "text message ends inside a character");
            d->msg_op_ = 0;
            d->msg_z_ = 0;
        }
    }
    ev->flags = (uint8_t)f;
    return 0;
}

/* Reports the whole control frame whose payload is p[0, n). */
static int control_done(sq_ws_decoder *d, uint8_t *p, size_t n, sq_ws_event *ev) {
    ev->kind = SQ_WS_EV_CONTROL;
    ev->opcode = d->op_;
    ev->flags = SQ_WS_F_FIN | SQ_WS_F_FRAME_START | SQ_WS_F_FRAME_END;
    ev->data = p;
    ev->len = n;
    ev->frame_len = n;
    d->state_ = ST_HEADER;
    d->hdr_have_ = 0;
    if (d->op_ == SQ_WS_OP_CLOSE) {
        if (n == 1) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
        if (n >= 2) {
            unsigned code = (unsigned)p[0] << 8 | p[1];
            if (!sq_ws_close_code_valid(code)) return fail(d, SQ_WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
            if (!sq_utf8_valid(p + 2, n - 2))
                return fail(d, SQ_WS_CLOSE_INVALID_DATA, "close reason is not UTF-8");
            ev->close_code = (uint16_t)code;
            ev->reason = p + 2;
            ev->reason_len = n - 2;
        } else {
            ev->close_code = SQ_WS_CLOSE_NO_STATUS;
        }
        d->state_ = ST_CLOSED;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The decoder.                                                             */

/* Everything but the fast path: the state machine. Kept out of line so that
 * the fast path stays a small leaf function. */
__attribute__((noinline)) static int64_t decode_slow(sq_ws_decoder *d, uint8_t *buf, size_t len,
                                                     sq_ws_event *ev) {
    size_t i = 0;
    int rc;
    ev->kind = SQ_WS_EV_NONE;
    ev->flags = 0;
    ev->len = 0;
    ev->data = NULL;
    ev->close_code = 0;
    ev->reason = NULL;
    ev->reason_len = 0;

    switch (d->state_) {
    case ST_HEADER: {
        const uint8_t *h;
        if (d->hdr_have_ == 0 && len >= 2) {
            /* Fast path: the header's first two bytes are in the buffer. */
            if ((rc = check_b0(d, buf[0])) < 0) return rc;
            if ((rc = check_b1(d, buf[0], buf[1])) < 0) return rc;
            if ((size_t)rc <= len) {
                h = buf;
                i = (size_t)rc;
                goto have_header;
            }
        }
        /* Slow path: gather the header byte by byte, checking as it grows. */
        while (i < len) {
            uint8_t c = buf[i++];
            d->hdr_[d->hdr_have_++] = c;
            if (d->hdr_have_ == 1) {
                if ((rc = check_b0(d, c)) < 0) return rc;
            } else if (d->hdr_have_ >= 2) {
                if ((rc = check_b1(d, d->hdr_[0], d->hdr_[1])) < 0) return rc;
                if (d->hdr_have_ == rc) {
                    h = d->hdr_;
                    goto have_header;
                }
            }
        }
        return (int64_t)i;
    have_header:
        if ((rc = start_frame(d, h)) < 0) return rc;
        d->hdr_have_ = 0;
        if (d->state_ == ST_PAYLOAD) {
            if ((rc = data_span(d, buf + i, len - i, true, ev)) < 0) return rc;
            return (int64_t)(i + ev->len);
        }
        /* A control frame: report it from the buffer when it is all there. */
        if (len - i >= d->remaining_) {
            size_t n = (size_t)d->remaining_;
            unmask_span(d, buf + i, n);
            if ((rc = control_done(d, buf + i, n, ev)) < 0) return rc;
            return (int64_t)(i + n);
        }
        break; /* gather it in ctrl_ */
    }
    case ST_PAYLOAD:
        if (len == 0) return 0;
        if ((rc = data_span(d, buf, len, false, ev)) < 0) return rc;
        return (int64_t)ev->len;
    case ST_CONTROL:
        break;
    case ST_CLOSED:
        return (int64_t)len;
    default:
        return SQ_ESTATE;
    }

    /* ST_CONTROL: gather the payload. */
    size_t n = len - i;
    if (n > d->remaining_) n = (size_t)d->remaining_;
    memcpy(d->ctrl_ + d->ctrl_have_, buf + i, n);
    unmask_span(d, d->ctrl_ + d->ctrl_have_, n);
    d->ctrl_have_ = (uint8_t)(d->ctrl_have_ + n);
    d->remaining_ -= n;
    i += n;
    if (d->remaining_ == 0 && (rc = control_done(d, d->ctrl_, d->ctrl_have_, ev)) < 0) return rc;
    return (int64_t)i;
}

/* Fills *ev for a whole single-frame message. */
static inline void fill_whole(sq_ws_event *ev, unsigned b0, uint8_t *p, size_t n) {
    ev->kind = SQ_WS_EV_DATA;
    ev->opcode = (uint8_t)(b0 & 0x0f);
    ev->flags = SQ_WS_F_FIN | SQ_WS_F_FRAME_START | SQ_WS_F_FRAME_END | SQ_WS_F_MSG_START | SQ_WS_F_MSG_END;
    ev->close_code = 0;
    ev->data = p;
    ev->len = n;
    ev->reason = NULL;
    ev->reason_len = 0;
    ev->frame_len = n;
}

/* The fast path's end for text that is not pure ASCII. */
__attribute__((noinline)) static int64_t fast_text(sq_ws_decoder *d, uint8_t *p, size_t n, size_t hl,
                                                   sq_ws_event *ev) {
    if (!sq_utf8_valid(p, n)) return fail(d, SQ_WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
    fill_whole(ev, SQ_WS_OP_TEXT, p, n);
    return (int64_t)(hl + n);
}

int64_t sq_ws_decode(sq_ws_decoder *d, uint8_t *buf, size_t len, sq_ws_event *ev) {
    /* Fast path: a whole single-frame text or binary message with a 7-bit
     * length, masked as the role requires, between messages: the common
     * case of small messages, decoded without touching the state machine.
     * Everything it accepts, the general path below would accept alike. */
    if (d->state_ == ST_HEADER && d->hdr_have_ == 0 && d->msg_op_ == 0 && len >= 2) {
        unsigned b0 = buf[0], b1 = buf[1], n = b1 & 0x7f;
        bool server = d->role_ == SQ_WS_SERVER;
        size_t hl = server ? 6 : 2;
        if ((b0 == 0x81 || b0 == 0x82) && (b1 >> 7) == (unsigned)server && n < 126 && len >= hl + n &&
            (n <= d->max_message || !d->max_message)) {
            uint8_t *p = buf + hl;
            uint64_t high = xor64(p, p, n, server ? key64(buf + 2, 0) : 0);
            if (high && b0 == 0x81 && !(d->options & SQ_WS_DEC_NO_UTF8))
                return fast_text(d, p, n, hl, ev); /* a tail call: keeps this path a leaf */
            fill_whole(ev, b0, p, n);
            return (int64_t)(hl + n);
        }
    }
    return decode_slow(d, buf, len, ev);
}

/* ------------------------------------------------------------------------ */
/* Encoder.                                                                 */

size_t sq_ws_frame_header(uint8_t *out, unsigned opcode, unsigned flags, uint64_t len,
                          const uint8_t *mask_key) {
    size_t n;
    uint8_t m = mask_key ? 0x80 : 0;
    out[0] = (uint8_t)(((flags & SQ_WS_F_FIN) ? 0x80 : 0) | ((flags & SQ_WS_F_COMPRESSED) ? 0x40 : 0) |
                       (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)(m | len);
        n = 2;
    } else if (len <= 0xffff) {
        out[1] = m | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = m | 127;
        for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask_key) {
        memcpy(out + n, mask_key, 4);
        n += 4;
    }
    return n;
}

int sq_ws_close_payload(uint8_t *out, unsigned code, const char *reason, size_t reason_len) {
    if (code == 0) return reason_len ? SQ_EINVAL : 0;
    if (!sq_ws_close_code_valid(code) || reason_len > 123) return SQ_EINVAL;
    if (reason_len && !sq_utf8_valid(reason, reason_len)) return SQ_EINVAL;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (reason_len) memcpy(out + 2, reason, reason_len);
    return (int)(2 + reason_len);
}
