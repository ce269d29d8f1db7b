/* squall: WebSocket connections, server side (Tornado's WebSocketHandler).
 *
 * sq_ws_accept() performs the opening handshake on an HTTP request (from a
 * request callback, or a web handler's get) and turns its connection into
 * an sq_ws. Messages arrive whole (fragments reassembled, permessage-deflate
 * inflated, text validated as UTF-8) in on_message; write_message, ping and
 * close go the other way. Protocol violations are answered with the right
 * close code (1002, 1007, 1009) before the TCP connection is closed.
 *
 * Lifetime: an sq_ws lives from sq_ws_accept() until on_close has returned.
 * on_close is called exactly once, whether the close was clean (the peer's
 * code and reason) or not (SQ_WS_CLOSE_ABNORMAL, 1006); after it the sq_ws
 * and its state are freed. Writes after the close handshake began return
 * SQ_ECLOSED. Nothing is thread-safe.
 *
 * Memory: an idle connection holds its connection object and this one (no
 * buffers); a message buffer exists only while a message arrives in pieces,
 * and a timer only when pings are configured or a close is pending.
 */
#ifndef SQUALL_WEBSOCKET_H
#define SQUALL_WEBSOCKET_H

#include "common.h"
#include "http.h"
#include "ws_codec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sq_ws sq_ws;

/* What a WebSocket endpoint does. Every callback is optional except
 * on_message. */
typedef struct sq_ws_handler {
    size_t state_size; /* bytes of per-connection state (sq_ws_state), zeroed */
    /* The handshake is done; messages may be written. */
    void (*open)(sq_ws *ws);
    /* A whole message: text (valid UTF-8) or binary. data lives during the
     * call only (it may be in the loop's read buffer). */
    void (*on_message)(sq_ws *ws, const char *data, size_t len, bool binary);
    /* The connection is closed: the peer's close code and reason when it
     * sent a close frame (1005 when the frame had no code), 1006 when the
     * connection ended without one. Called once; the sq_ws is freed after. */
    void (*on_close)(sq_ws *ws, int code, const char *reason, size_t reason_len);
    /* A ping arrived (the pong was already sent), or a pong. */
    void (*on_ping)(sq_ws *ws, const char *data, size_t len);
    void (*on_pong)(sq_ws *ws, const char *data, size_t len);
    /* What was queued has gone to the kernel after a write had to wait:
     * the send queue is empty again (backpressure relief). */
    void (*on_drain)(sq_ws *ws);
} sq_ws_handler;

/* Per-endpoint settings. Call sq_ws_settings_init() first. The struct and
 * what it points to must outlive every connection accepted with it. */
typedef struct sq_ws_settings {
    uint64_t max_message_size;   /* bytes of one message, after inflating (10 MiB) -> 1009 */
    uint32_t ping_interval_ms;   /* send a ping this often (0: never) */
    uint32_t ping_timeout_ms;    /* close when a ping is unanswered this long
                                    (0: max(3 x interval, 30 s), as Tornado) */
    size_t max_send_queue;       /* bytes queued for a slow reader (1 MiB): a write made
                                    while more than this waits fails with SQ_ELIMIT and
                                    the connection is closed with 1008 */
    bool compression;            /* accept permessage-deflate when the client offers it */
    sq_ws_pmd_config pmd;        /* its parameters: level, memory level, threshold, windows */
    const char *const *subprotocols; /* the server's, in its order of preference */
    size_t nsubprotocols;
    /* Decides whether a browser page from `origin` may connect (Tornado's
     * check_origin). NULL: Tornado's default, the Origin's host[:port] must
     * equal the Host header. Requests without an Origin header are allowed
     * either way. Return false to answer 403. */
    bool (*check_origin)(sq_http_req *req, const char *origin, size_t origin_len, void *arg);
    void *check_origin_arg;
} sq_ws_settings;

/* Fills *s with the defaults above: 10 MiB messages, no pings, 1 MiB send
 * queue, no compression (as Tornado), Tornado's origin check. */
SQ_EXTERN void sq_ws_settings_init(sq_ws_settings *s);

/* Performs the server handshake on req and, on success, sends 101 and
 * returns the new connection, after calling h->open. On failure it answers
 * as Tornado does and returns NULL: 400 for a missing or wrong Upgrade,
 * Connection, Host or Sec-WebSocket-Key, 403 for a refused Origin, 426 (with
 * Sec-WebSocket-Version: 13) for another version, 405 for a method other
 * than GET. Either way req is finished and must not be used again. Headers
 * already added to req (sq_http_add_header) go out with the 101. arg is
 * the application's (sq_ws_arg). h and s must outlive the connection. */
SQ_EXTERN sq_ws *sq_ws_accept(sq_http_req *req, const sq_ws_handler *h, const sq_ws_settings *s,
                              void *arg);

/* Sends one message (a single frame, FIN set), compressed when
 * permessage-deflate is on and the message reaches the threshold. data is
 * copied. Returns 0; SQ_ECLOSED once the close handshake began; SQ_ELIMIT
 * when more than max_send_queue bytes already wait (the connection is then
 * closed with 1008); SQ_ENOMEM. */
SQ_EXTERN int sq_ws_write_message(sq_ws *ws, const void *data, size_t len, bool binary);

/* Sends a ping with up to 125 bytes of data. SQ_EINVAL when longer,
 * SQ_ECLOSED once closing. */
SQ_EXTERN int sq_ws_ping(sq_ws *ws, const void *data, size_t len);

/* Starts the close handshake: sends a close frame with code (0: none, or
 * 1000 when a reason is given) and reason (NUL-terminated, may be NULL, at
 * most 123 bytes of UTF-8), then waits up to 5 s for the peer's close frame
 * before closing the connection. on_close follows. SQ_EINVAL for a code
 * that may not be sent, SQ_ECLOSED when already closing. */
SQ_EXTERN int sq_ws_close(sq_ws *ws, int code, const char *reason);

/* Bytes queued for sending but not yet in the kernel. */
SQ_EXTERN size_t sq_ws_buffered(const sq_ws *ws);

/* True once the close handshake has begun (either side) or the connection
 * is gone. */
SQ_EXTERN bool sq_ws_is_closing(const sq_ws *ws);

/* The connection's state block (handler->state_size bytes, zeroed at
 * accept), freed after on_close. NULL when state_size is 0. */
SQ_EXTERN void *sq_ws_state(const sq_ws *ws);

/* The arg given to sq_ws_accept. */
SQ_EXTERN void *sq_ws_arg(const sq_ws *ws);

/* The subprotocol chosen at the handshake, or NULL. Static for the
 * connection's life (it points into the settings' list). */
SQ_EXTERN const char *sq_ws_subprotocol(const sq_ws *ws);

/* True when permessage-deflate was negotiated. */
SQ_EXTERN bool sq_ws_compressed(const sq_ws *ws);

/* The loop the connection runs on. */
SQ_EXTERN sq_loop *sq_ws_loop(const sq_ws *ws);

#ifdef __cplusplus
}
#endif
#endif
