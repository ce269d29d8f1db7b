/* squall: the WebSocket codecs (pure: no I/O).
 *
 * Four independent pieces that the WebSocket server and client are built on:
 *
 *   - the frame decoder and encoder (RFC 6455 section 5): resumable and
 *     zero-copy. The decoder unmasks payload in place in the caller's buffer
 *     and reports it as spans as it arrives; it enforces every framing rule
 *     and answers, on a violation, the close code to send (1002, 1007, 1009).
 *     The encoder writes a header of at most 14 bytes into a caller buffer so
 *     that a payload is sent without copying;
 *   - an incremental UTF-8 validator that fails at the first byte that can no
 *     longer start or continue a valid sequence;
 *   - permessage-deflate (RFC 7692): negotiation (pure) and the per-message
 *     compressor and bounded decompressor (zlib: these objects allocate, see
 *     sq_ws_pmd_new());
 *   - handshake helpers (RFC 6455 section 4): Sec-WebSocket-Accept, key
 *     checks, subprotocol choice and the client's upgrade request.
 *
 * Nothing here allocates except sq_ws_pmd_new() (and zlib inside the
 * sq_ws_pmd object), and nothing does I/O. Nothing is thread-safe; distinct
 * objects may be used from distinct threads.
 *
 * Typical decoding loop (server side):
 *
 *     sq_ws_decoder d; sq_ws_event ev;
 *     sq_ws_decoder_init(&d, SQ_WS_SERVER);
 *     while (len > 0) {
 *         int64_t n = sq_ws_decode(&d, buf, len, &ev);
 *         if (n < 0) { send a close frame with d.close_code, then close; break; }
 *         buf += n; len -= n;
 *         if (ev.kind == SQ_WS_EV_DATA) ... append ev.data[0, ev.len) to the message;
 *                                            complete when ev.flags & SQ_WS_F_MSG_END
 *         else if (ev.kind == SQ_WS_EV_CONTROL) ... ping, pong or close: ev.data is the whole payload
 *     }
 */
#ifndef SQUALL_WS_CODEC_H
#define SQUALL_WS_CODEC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Constants.                                                               */

/* Frame opcodes (RFC 6455 section 5.2). */
enum {
    SQ_WS_OP_CONT = 0x0,
    SQ_WS_OP_TEXT = 0x1,
    SQ_WS_OP_BINARY = 0x2,
    SQ_WS_OP_CLOSE = 0x8,
    SQ_WS_OP_PING = 0x9,
    SQ_WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 section 7.4.1 and the IANA registry). */
enum {
    SQ_WS_CLOSE_NORMAL = 1000,
    SQ_WS_CLOSE_GOING_AWAY = 1001,
    SQ_WS_CLOSE_PROTOCOL_ERROR = 1002,
    SQ_WS_CLOSE_UNSUPPORTED_DATA = 1003,
    SQ_WS_CLOSE_NO_STATUS = 1005,      /* never sent: "the close frame had no code" */
    SQ_WS_CLOSE_ABNORMAL = 1006,       /* never sent: "no close frame at all" */
    SQ_WS_CLOSE_INVALID_DATA = 1007,
    SQ_WS_CLOSE_POLICY = 1008,
    SQ_WS_CLOSE_TOO_BIG = 1009,
    SQ_WS_CLOSE_MANDATORY_EXT = 1010,
    SQ_WS_CLOSE_INTERNAL_ERROR = 1011,
    SQ_WS_CLOSE_SERVICE_RESTART = 1012,
    SQ_WS_CLOSE_TRY_AGAIN_LATER = 1013,
    SQ_WS_CLOSE_BAD_GATEWAY = 1014,
};

/* Which end of the connection a decoder or encoder works for. A server
 * receives masked frames and sends unmasked ones; a client the reverse. */
typedef enum { SQ_WS_SERVER = 0, SQ_WS_CLIENT = 1 } sq_ws_role;

/* The default bound on one message's payload (10 MiB, as Tornado). */
#define SQ_WS_DEFAULT_MAX_MESSAGE (10u * 1024u * 1024u)

/* The longest frame header: 2 bytes, a 64-bit length and a mask key. */
#define SQ_WS_MAX_HEADER 14

/* True when code may appear in a close frame received from a peer:
 * 1000-1003, 1007-1014 and 3000-4999 (RFC 6455 section 7.4; 1012-1014 are
 * registered with IANA and accepted by node ws and python3-websockets;
 * Autobahn case 7.9 rejects 0, 999, 1004-1006, 1015, 1016, 1100, 2000 and
 * 2999). The same set is what sq_ws_close_payload() lets a sender use. */
SQ_EXTERN bool sq_ws_close_code_valid(unsigned code);

/* ------------------------------------------------------------------------ */
/* UTF-8 validation (incremental, fail-fast).                               */

/* The validator's state between calls: 0 at a character boundary (the
 * initial state). Any other value means "inside a multi-byte sequence". */
typedef uint32_t sq_utf8_state;

/* Validates p[0, len) continuing from *state. Returns the number of bytes
 * that are a valid continuation of what came before: len when all of them
 * are (then *state tells whether the input ends mid-character), or the index
 * of the first byte at which the input can no longer be valid UTF-8 (an
 * overlong form, a surrogate, a code point above U+10FFFF, a stray
 * continuation byte, a missing continuation byte, or a byte never used in
 * UTF-8); *state is then left where it was before that byte. ASCII runs are
 * checked 8 bytes at a time. */
SQ_EXTERN size_t sq_utf8_scan(sq_utf8_state *state, const void *p, size_t len);

/* True when p[0, len) is complete, valid UTF-8 on its own. */
SQ_EXTERN bool sq_utf8_valid(const void *p, size_t len);

/* True when the state is at a character boundary (a message may end here). */
static inline bool sq_utf8_complete(sq_utf8_state state) { return state == 0; }

/* ------------------------------------------------------------------------ */
/* Frame decoder.                                                           */

/* Decoder options (bit flags in sq_ws_decoder.options). */
enum {
    /* permessage-deflate was negotiated: RSV1 is allowed on the first frame
     * of a data message and marks the message as compressed. */
    SQ_WS_DEC_DEFLATE = 1u << 0,
    /* Do not validate text messages as UTF-8 (the caller does it, or the
     * messages are compressed and validated after inflating: the decoder
     * never validates a compressed message whatever this says). */
    SQ_WS_DEC_NO_UTF8 = 1u << 1,
    /* Reject a 16- or 64-bit length that would fit a shorter form (1002).
     * RFC 6455 section 5.2 asks senders for the minimal encoding but does not
     * ask receivers to check; node ws and python3-websockets accept such
     * frames and Autobahn case 1.x never sends one, so the default is to
     * accept them. */
    SQ_WS_DEC_STRICT_LENGTH = 1u << 2,
};

/* What one sq_ws_decode() call reports. */
typedef enum {
    SQ_WS_EV_NONE = 0, /* nothing yet: the input was consumed into the decoder's state */
    SQ_WS_EV_DATA,     /* a span of a data frame's payload (possibly empty) */
    SQ_WS_EV_CONTROL,  /* a whole ping, pong or close frame */
} sq_ws_event_kind;

/* Event flags (sq_ws_event.flags). */
enum {
    SQ_WS_F_FIN = 1u << 0,         /* the frame has FIN set */
    SQ_WS_F_COMPRESSED = 1u << 1,  /* data: the message has RSV1 set (permessage-deflate) */
    SQ_WS_F_FRAME_START = 1u << 2, /* data: first span of a frame (its header was just read) */
    SQ_WS_F_FRAME_END = 1u << 3,   /* data: last span of a frame */
    SQ_WS_F_MSG_START = 1u << 4,   /* data: first span of a message */
    SQ_WS_F_MSG_END = 1u << 5,     /* data: last span of a message (FIN and FRAME_END) */
};

/* One decoded event. data points into the caller's buffer (already
 * unmasked there), except for a control frame whose payload arrived in more
 * than one call: then it points into the decoder, valid until the next call
 * on it. */
typedef struct sq_ws_event {
    sq_ws_event_kind kind;
    uint8_t opcode;        /* DATA: the message's opcode (TEXT or BINARY) even in a
                              continuation frame; CONTROL: CLOSE, PING or PONG */
    uint8_t flags;         /* SQ_WS_F_* */
    uint16_t close_code;   /* CLOSE: the peer's code, SQ_WS_CLOSE_NO_STATUS when the frame had none */
    uint8_t *data;         /* DATA: the span; CONTROL: the whole payload */
    size_t len;
    const uint8_t *reason; /* CLOSE: the reason (valid UTF-8, not NUL-terminated) */
    size_t reason_len;
    uint64_t frame_len;    /* the current frame's payload length as its header says */
} sq_ws_event;

/* The decoder. Every field not documented is private; the struct is public
 * only so that it can live inside a connection without an allocation. */
typedef struct sq_ws_decoder {
    /* Settings: sq_ws_decoder_init() sets the defaults; change them between
     * messages. */
    uint64_t max_message;  /* payload bytes of one message, all its frames (default
                              SQ_WS_DEFAULT_MAX_MESSAGE; 0: no limit). For a compressed
                              message this bounds the compressed size; the inflater
                              bounds the rest (sq_ws_pmd_decompress). */
    uint32_t options;      /* SQ_WS_DEC_* */

    /* After a failed call: the close code to send (1002, 1007 or 1009) and
     * a short static English reason. */
    uint16_t close_code;
    const char *error;

    /* Private. */
    uint8_t role_;
    uint8_t state_;
    uint8_t hdr_have_;     /* header bytes gathered in hdr_ */
    uint8_t op_;           /* opcode of the current frame */
    uint8_t b0_;           /* first header byte of the current frame */
    uint8_t msg_op_;       /* TEXT or BINARY while a fragmented message is open, else 0 */
    uint8_t msg_z_;        /* the open message is compressed */
    uint8_t ctrl_have_;    /* control payload bytes gathered in ctrl_ */
    uint8_t masked_;       /* the current frame is masked */
    uint8_t mask_[4];      /* its key, rotated to the next payload byte */
    sq_utf8_state utf8_;   /* validator state of the open text message */
    uint64_t remaining_;   /* payload bytes of the current frame still to come */
    uint64_t frame_len_;
    uint64_t msg_size_;    /* payload bytes of the open message so far */
    uint8_t hdr_[SQ_WS_MAX_HEADER];
    uint8_t ctrl_[125];
} sq_ws_decoder;

/* Initialises a decoder for a server (expects masked frames) or a client
 * (expects unmasked frames) with the default limit and no extension.
 * Re-initialising is how a decoder is reset. */
SQ_EXTERN void sq_ws_decoder_init(sq_ws_decoder *d, sq_ws_role role);

/* Decodes from buf[0, len), which it may modify: payload bytes are unmasked
 * in place. Returns the number of bytes consumed (call again with the rest
 * while it is less than len) and fills *ev; or, on a protocol violation,
 * SQ_EPROTO (d->close_code 1002 or 1007) or SQ_ELIMIT (1009), after which
 * the decoder must be re-initialised before reuse (until then every call
 * answers SQ_ESTATE).
 *
 * At most one event per call. A data frame is reported as one or more
 * SQ_WS_EV_DATA spans as its payload arrives (an empty span when a header
 * arrives with no payload byte after it, so that the caller learns of each
 * frame start); a control frame is reported once, whole, as
 * SQ_WS_EV_CONTROL. Header bytes of an incomplete header are kept in the
 * decoder: the caller never has to keep any input. A call that only
 * consumes header bytes reports SQ_WS_EV_NONE.
 *
 * Rules (close code of a violation in brackets): masking as the role
 * requires [1002]; RSV2 and RSV3 never, RSV1 only on the first frame of a
 * data message with SQ_WS_DEC_DEFLATE [1002]; opcodes 3-7 and 0xB-0xF
 * [1002]; control frames over 125 bytes or without FIN [1002]; a
 * continuation with no message open, or a new TEXT or BINARY frame while one
 * is open [1002]; a 64-bit length with its top bit set [1002]; a message
 * longer than max_message, detected from the header before its payload
 * arrives [1009]; a close payload of 1 byte or with a code that
 * sq_ws_close_code_valid() refuses [1002] or a reason that is not UTF-8
 * [1007]; text that is not UTF-8, found at the first bad byte, including a
 * message ending inside a character [1007] (unless SQ_WS_DEC_NO_UTF8 or the
 * message is compressed). Control frames may come between the frames of a
 * fragmented message. After a close frame the decoder reports nothing more:
 * further bytes are consumed and ignored. */
SQ_EXTERN int64_t sq_ws_decode(sq_ws_decoder *d, uint8_t *buf, size_t len, sq_ws_event *ev);

/* True when no frame is partially decoded and no fragmented message is
 * open: the stream could end here without losing anything. */
SQ_EXTERN bool sq_ws_decoder_idle(const sq_ws_decoder *d);

/* ------------------------------------------------------------------------ */
/* Frame encoder.                                                           */

/* Writes a frame header into out (at least SQ_WS_MAX_HEADER bytes) and
 * returns its length (2 to 14). flags: SQ_WS_F_FIN and/or
 * SQ_WS_F_COMPRESSED (RSV1). mask_key NULL writes an unmasked (server)
 * frame; otherwise the 4-byte key is written and the caller masks the
 * payload with sq_ws_mask(..., key, 0). The length uses the shortest form.
 * Nothing is checked: the caller keeps control frames FIN and within 125
 * bytes. */
SQ_EXTERN size_t sq_ws_frame_header(uint8_t *out, unsigned opcode, unsigned flags, uint64_t len,
                                    const uint8_t *mask_key);

/* XORs p[0, len) in place with key, starting at key byte (offset & 3): pass
 * the payload offset of p when a payload is masked in pieces. Unmasking is
 * the same operation. Works 8 bytes at a time. */
SQ_EXTERN void sq_ws_mask(uint8_t *p, size_t len, const uint8_t key[4], uint64_t offset);

/* As sq_ws_mask() but writes dst[0, len) = src[0, len) masked (the regions
 * must be equal or not overlap), for a client that must not modify the
 * caller's payload. */
SQ_EXTERN void sq_ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                               uint64_t offset);

/* Builds a close frame's payload into out (at least 125 bytes): the code in
 * network order followed by the reason. Returns its length, or SQ_EINVAL
 * when the code may not be sent (see sq_ws_close_code_valid()) or the
 * reason is longer than 123 bytes or not valid UTF-8. code 0 builds an empty
 * payload (a close frame without a code; reason must then be empty). */
SQ_EXTERN int sq_ws_close_payload(uint8_t *out, unsigned code, const char *reason, size_t reason_len);

/* ------------------------------------------------------------------------ */
/* Handshake helpers (RFC 6455 section 4).                                  */

/* Computes Sec-WebSocket-Accept for a client's Sec-WebSocket-Key:
 * base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). Writes 28
 * characters and a NUL into out (at least 29 bytes). The key is used as
 * given; check it first with sq_ws_key_valid(). */
SQ_EXTERN void sq_ws_accept_key(const char *key, size_t key_len, char *out);

/* True when key is a valid Sec-WebSocket-Key: the base64 (with padding) of
 * exactly 16 bytes, i.e. 22 base64 characters then "==". As in
 * python3-websockets, the 4 unused bits of the last character are not
 * required to be zero. */
SQ_EXTERN bool sq_ws_key_valid(const char *key, size_t key_len);

/* Client side: true when accept (surrounding whitespace ignored) is the
 * right Sec-WebSocket-Accept for the key the client sent. Constant time in
 * the accept value. */
SQ_EXTERN bool sq_ws_accept_valid(const char *key, size_t key_len, const char *accept,
                                  size_t accept_len);

/* Client side: encodes 16 random bytes (the caller's, e.g. from
 * RAND_bytes) as a Sec-WebSocket-Key: 24 characters and a NUL into out (at
 * least 25 bytes). */
SQ_EXTERN void sq_ws_make_key(const uint8_t random16[16], char *out);

/* Iterates over a comma-separated header list ("a, b ,c"): from *pos within
 * list[0, len), finds the next non-empty element, trims it, stores it in
 * *item / *item_len, advances *pos and returns true; false at the end.
 * Start with *pos = 0. The element points into list. */
SQ_EXTERN bool sq_ws_list_next(const char *list, size_t len, size_t *pos, const char **item,
                               size_t *item_len);

/* Server side: picks a subprotocol. offered is a Sec-WebSocket-Protocol
 * value (the client's list, in its order of preference); supported[0, n) is
 * the server's list in its own order of preference. Returns the index in
 * supported of the first protocol the server prefers that the client
 * offered (compared exactly, as RFC 6455 tokens are case-sensitive), or -1
 * when there is none (then no Sec-WebSocket-Protocol is sent). */
SQ_EXTERN int sq_ws_pick_subprotocol(const char *offered, size_t offered_len,
                                     const char *const *supported, size_t n);

/* What sq_ws_client_request() writes. */
typedef struct sq_ws_client_request_opts {
    const char *host;          /* Host header value, with ":port" when not the default */
    const char *path;          /* request target, e.g. "/chat?room=1" ("/" when NULL) */
    const char *key;           /* Sec-WebSocket-Key (sq_ws_make_key) */
    const char *origin;        /* Origin header, or NULL */
    const char *protocols;     /* Sec-WebSocket-Protocol value, or NULL */
    const char *extensions;    /* Sec-WebSocket-Extensions value, or NULL (sq_ws_pmd_offer) */
    const char *extra_headers; /* "Name: value\r\n" lines added as they are, or NULL */
} sq_ws_client_request_opts;

/* Client side: writes the upgrade request (GET, HTTP/1.1, Host, Upgrade:
 * websocket, Connection: Upgrade, Sec-WebSocket-Key, Sec-WebSocket-Version:
 * 13, then the optional headers, then the empty line) into out[0, cap).
 * Returns its length, SQ_ENOSPC when it does not fit (nothing useful is in
 * out then), or SQ_EHEADER when host or key is missing, a value holds CR
 * or LF, the path holds a space, or extra_headers is not a sequence of
 * whole "Name: value\r\n" lines. */
SQ_EXTERN int sq_ws_client_request(char *out, size_t cap, const sq_ws_client_request_opts *o);

/* ------------------------------------------------------------------------ */
/* permessage-deflate (RFC 7692).                                           */

/* One side's permessage-deflate settings, and the negotiated result. */
typedef struct sq_ws_pmd_config {
    /* Negotiation. Window bits are 8 to 15 (0 means 15). */
    bool server_no_context_takeover; /* server: always ask for it; client: offer it */
    bool client_no_context_takeover; /* server: ask the client for it; client: offer it */
    uint8_t server_max_window_bits;  /* server: the largest window it compresses with;
                                        client: the value to offer (15: not offered) */
    uint8_t client_max_window_bits;  /* server: the largest window it accepts from the
                                        client (below 15 needs a client that offered
                                        client_max_window_bits); client: the value it
                                        offers (0: offer the parameter without a value) */
    /* Compression (not negotiated). */
    int8_t level;                    /* zlib level 0-9; -1: the default (6) */
    int8_t mem_level;                /* zlib memLevel 1-9; 0: the default (8) */
    uint32_t threshold;              /* messages shorter than this are sent uncompressed
                                        (sq_ws_pmd_should_compress) */
} sq_ws_pmd_config;

/* The parameters agreed for one connection. */
typedef struct sq_ws_pmd_params {
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    uint8_t server_max_window_bits; /* 8-15 */
    uint8_t client_max_window_bits; /* 8-15 */
} sq_ws_pmd_params;

/* Fills cfg with the defaults: context takeover both ways, 15-bit windows,
 * zlib's default level (6) and memLevel 8, no threshold. */
SQ_EXTERN void sq_ws_pmd_config_init(sq_ws_pmd_config *cfg);

/* Server side: reads a client's Sec-WebSocket-Extensions value (join
 * several such headers with ", " first) and accepts the first
 * permessage-deflate offer it can (RFC 7692 section 5 and 7.1): an offer
 * with an unknown or repeated parameter or an invalid value is declined, as
 * is one whose client_max_window_bits the server needs (cfg below 15) but
 * that lacks the parameter. Returns 1 when an offer was accepted (*out holds
 * the agreed parameters and resp[0, *resp_len) the response's
 * Sec-WebSocket-Extensions value, NUL-terminated), 0 when there was no
 * acceptable offer (send no extension), SQ_ENOSPC when resp_cap is too small
 * (160 bytes always suffice); SQ_EPROTO when the header is not valid
 * Sec-WebSocket-Extensions syntax (answer 400). The response names every parameter the server
 * needs: server_no_context_takeover when offered or required,
 * client_no_context_takeover when offered or asked for, server_max_window_bits
 * when offered (lowered to the server's maximum) or when the server's maximum
 * is below 15, client_max_window_bits when the server's maximum is below 15
 * or the client offered a value. Other extensions in the list are ignored. */
SQ_EXTERN int sq_ws_pmd_accept(const sq_ws_pmd_config *cfg, const char *offer, size_t offer_len,
                               sq_ws_pmd_params *out, char *resp, size_t resp_cap,
                               size_t *resp_len);

/* Client side: writes the offer for cfg into out (NUL-terminated), e.g.
 * "permessage-deflate; client_max_window_bits". Returns its length or
 * SQ_ENOSPC (160 bytes always suffice). */
SQ_EXTERN int sq_ws_pmd_offer(const sq_ws_pmd_config *cfg, char *out, size_t cap);

/* Client side: validates the server's Sec-WebSocket-Extensions response
 * against the offer made from cfg (RFC 7692 section 5 and 7.1) and fills
 * *out. Returns 1 when permessage-deflate was accepted, 0 when the response
 * names no extension (empty), SQ_EPROTO when the connection must be failed:
 * another extension, more than one, an unknown, repeated or invalid
 * parameter, a server_max_window_bits above what was offered, or a
 * client_max_window_bits that was not offered. */
SQ_EXTERN int sq_ws_pmd_check_response(const sq_ws_pmd_config *cfg, const char *resp, size_t len,
                                       sq_ws_pmd_params *out);

/* A permessage-deflate context for one connection: a compressor for what it
 * sends and a decompressor for what it receives, over zlib. Opaque. */
typedef struct sq_ws_pmd sq_ws_pmd;

/* Allocates a context for the agreed params, for a server or a client, with
 * the compression settings of cfg (level, mem_level, threshold; NULL: the
 * defaults) and the bound max_message on one decompressed message (0: no
 * bound; SQ_WS_DEFAULT_MAX_MESSAGE is the usual choice). The zlib streams
 * are created lazily, on first use. Returns 0 and *out, or SQ_ENOMEM. The
 * caller owns the context and frees it with sq_ws_pmd_free().
 *
 * A window of 8 bits is honoured as 9 by the compressor because zlib refuses
 * 8 for a raw deflate stream; this is safe, since zlib's deflate never
 * refers back further than the window less 262 bytes (250 bytes with a
 * 9-bit window), within what an 8-bit decoder keeps. */
SQ_EXTERN int sq_ws_pmd_new(sq_ws_pmd **out, const sq_ws_pmd_params *params, sq_ws_role role,
                            const sq_ws_pmd_config *cfg, uint64_t max_message);

/* Frees a context and its zlib streams. NULL is allowed. */
SQ_EXTERN void sq_ws_pmd_free(sq_ws_pmd *z);

/* True when a message of len bytes should be compressed (len is at least
 * the configured threshold). Sending small messages uncompressed is always
 * allowed and does not disturb the compressor's context. */
SQ_EXTERN bool sq_ws_pmd_should_compress(const sq_ws_pmd *z, size_t len);

/* The output capacity that sq_ws_pmd_compress() needs for len input bytes. */
SQ_EXTERN size_t sq_ws_pmd_compress_bound(const sq_ws_pmd *z, size_t len);

/* Compresses one whole message in[0, len) into out[0, cap) (cap at least
 * sq_ws_pmd_compress_bound(z, len)), flushed and without the trailing
 * 00 00 FF FF, ready to be sent with RSV1 on its first frame. The context is
 * kept for the next message unless no-context-takeover applies to this
 * side. Returns the compressed length, SQ_ENOSPC when cap is too small (the
 * context is then unusable: free it), or SQ_ENOMEM. */
SQ_EXTERN int64_t sq_ws_pmd_compress(sq_ws_pmd *z, const void *in, size_t len, void *out, size_t cap);

/* Decompresses the next piece in[0, in_len) of a compressed message into
 * out[0, out_cap); fin says that the piece ends the message (the call then
 * also feeds the 00 00 FF FF that the sender removed and, without context
 * takeover for the peer, resets the context afterwards). *in_used and
 * *out_used receive the bytes consumed and produced. Returns:
 *   0             all of the input is consumed (and with fin, the message
 *                 is complete);
 *   SQ_EAGAIN     out is full: call again with more room and the input
 *                 from in + *in_used (with the same fin);
 *   SQ_ELIMIT     the message would exceed max_message once decompressed
 *                 (close 1009); at most one byte past the bound was written
 *                 to out, and only within out_cap;
 *   SQ_EPROTO     the data is not a valid deflate stream (close 1007);
 *   SQ_ENOMEM.
 * After SQ_ELIMIT or SQ_EPROTO the context is unusable: free it. */
SQ_EXTERN int sq_ws_pmd_decompress(sq_ws_pmd *z, const void *in, size_t in_len, bool fin, void *out,
                                   size_t out_cap, size_t *in_used, size_t *out_used);

#ifdef __cplusplus
}
#endif
#endif
