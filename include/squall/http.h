/* squall: the HTTP/1.1 server (Tornado's HTTPServer and HTTP1Connection).
 *
 * The server accepts connections, parses requests with the strict parser of
 * http_parser.h, hands each request to one callback, and writes responses in
 * order. It keeps connections alive, answers pipelined requests in one write
 * per batch, speaks HTTP/1.0 and 1.1, handles HEAD, Expect: 100-continue and
 * chunked request bodies, and applies the limits and timeouts of
 * sq_http_server_config (defaults: 64 KiB heads, 100 headers, 8 KiB request
 * lines, 100 MiB bodies, 10 s to receive a head, 60 s idle keep-alive).
 * Bad input gets its status code (400, 408, 413, 414, 431, 501, 505) and the
 * connection is closed after it.
 *
 * Memory: an idle keep-alive connection holds only its own small struct;
 * reads land in a buffer owned by the loop and only a partial head is ever
 * copied. Request objects and output buffers are recycled, so a keep-alive
 * request allocates nothing in steady state.
 *
 * Lifetime of a request: the request callback receives an sq_http_req that
 * belongs to the application until it calls sq_http_finish() (or
 * sq_http_respond()), exactly once, whether the client is still there or not.
 * Everything a request points to (method, target, headers, body) lives as
 * long as the request. Nothing is thread-safe.
 */
#ifndef SQUALL_HTTP_H
#define SQUALL_HTTP_H

#include "common.h"
#include "http_parser.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sq_http_server sq_http_server;
typedef struct sq_http_req sq_http_req;

/* Called once per request, after its whole body has arrived (or, for a
 * request whose body is streamed, right after the head). */
typedef void (*sq_http_request_cb)(sq_http_req *req, void *arg);

/* Server settings. Call sq_http_server_config_init() first, then change what
 * you need; zero in a limit never means "unlimited". */
typedef struct sq_http_server_config {
    uint32_t max_head_size;      /* request line + headers, bytes (64 KiB) -> 431 */
    uint32_t max_line_size;      /* request line alone, bytes (8 KiB) -> 414 */
    uint32_t max_headers;        /* header fields per request (100) -> 431 */
    uint64_t max_body_size;      /* request body, bytes (100 MiB) -> 413 */
    uint32_t header_timeout_ms;  /* to receive a whole head once it has begun (10 s) -> 408 */
    uint32_t idle_timeout_ms;    /* keep-alive idle time between requests (60 s) -> close */
    uint32_t max_connections;    /* 0: the open-files limit less a reserve of 64 */
    int backlog;                 /* listen backlog (511) */
    bool no_keep_alive;          /* close every connection after one response */
    bool reuse_port;             /* SO_REUSEPORT on the listening sockets */
    const char *server_name;     /* the Server header, or NULL for none ("squall") */
} sq_http_server_config;

/* Fills *cfg with the defaults listed in sq_http_server_config. */
SQ_EXTERN void sq_http_server_config_init(sq_http_server_config *cfg);

/* Creates a server on loop. cb is called for every request with arg. cfg may
 * be NULL for the defaults; it is copied (server_name is not: it must outlive
 * the server). Returns NULL when out of memory. The server listens only after
 * sq_http_server_listen(). Free it with sq_http_server_close(). */
SQ_EXTERN sq_http_server *sq_http_server_new(sq_loop *loop, const sq_http_server_config *cfg,
                                             sq_http_request_cb cb, void *arg);

/* Sets a callback run when a request's head has been parsed, before its body
 * is read (for a request without a body, the request callback follows at
 * once). In it the application may answer at once (then the body is not
 * read, and the connection closes after the response when a body was
 * announced), raise the body limit (sq_http_req_set_max_body), or take the
 * body in pieces (sq_http_req_stream_body). The request belongs to the
 * application from this callback on, as from the request callback: it is
 * finished exactly once. One exception: when the request fails before its
 * request callback (the body is too large or malformed, the client leaves)
 * and no close callback was set, the server releases it itself; an
 * application that keeps the pointer past the head callback sets a close
 * callback. NULL removes it. */
SQ_EXTERN void sq_http_server_set_head_cb(sq_http_server *srv, sq_http_request_cb head_cb);

/* Binds and listens on host:port. host is a numeric IPv4 or IPv6 address
 * ("127.0.0.1", "::1", "0.0.0.0", "::") or a name resolved synchronously
 * (every address it resolves to is bound); NULL means all IPv4 and IPv6
 * addresses. port 0 picks a free port: read it with sq_http_server_port().
 * May be called several times for several addresses. Returns 0, or a libuv
 * error (SQ_EADDRINUSE, SQ_EINVAL for a bad host, ...); nothing is bound
 * after an error. */
SQ_EXTERN int sq_http_server_listen(sq_http_server *srv, const char *host, int port);

/* The port of the first listening socket, or a negative error when the
 * server does not listen. */
SQ_EXTERN int sq_http_server_port(const sq_http_server *srv);

/* Number of open client connections. */
SQ_EXTERN size_t sq_http_server_connections(const sq_http_server *srv);

/* Graceful shutdown: stops accepting, closes idle connections at once, lets
 * requests in flight finish (their responses carry Connection: close) and
 * closes every connection still open after timeout_ms. done(srv, arg) is
 * called once, on the loop, when no connection remains; then the server may
 * be closed. Calling it again while it runs returns SQ_EALREADY. */
SQ_EXTERN int sq_http_server_shutdown(sq_http_server *srv, uint32_t timeout_ms,
                                      void (*done)(sq_http_server *srv, void *arg), void *arg);

/* Registers a shutdown hook on the server's loop (see sq_loop_add_shutdown_hook)
 * that drains this server with sq_http_server_shutdown(srv, timeout_ms) on
 * SIGINT or SIGTERM. Returns 0 or an error from the loop. */
SQ_EXTERN int sq_http_server_drain_on_signal(sq_http_server *srv, uint32_t timeout_ms);

/* Closes the server now: every listener and connection is closed (requests
 * in flight get their close callbacks), then close_cb(srv, arg) is called on
 * the loop and the server's memory is released after it returns. close_cb
 * may be NULL. */
SQ_EXTERN void sq_http_server_close(sq_http_server *srv, void (*close_cb)(sq_http_server *srv, void *arg),
                                    void *arg);

/* ---- The request: what came in. Pointers live as long as the request. ---- */

/* The parsed head: method, target, version, headers, flags (http_parser.h). */
SQ_EXTERN const sq_http_head *sq_http_req_head(const sq_http_req *req);

/* The method as a known value; the name is in sq_http_req_head(req)->method. */
SQ_EXTERN sq_http_method sq_http_req_method(const sq_http_req *req);

/* The path of the request target: everything before the first '?' (never
 * empty for origin-form), its length in *len. Raw (not percent-decoded),
 * not NUL-terminated. */
SQ_EXTERN const char *sq_http_req_path(const sq_http_req *req, size_t *len);

/* The query of the request target: everything after the first '?', without
 * it (length 0 when there is none). Raw, not NUL-terminated. */
SQ_EXTERN const char *sq_http_req_query(const sq_http_req *req, size_t *len);

/* The value of the first header named name (case-insensitive), its length in
 * *len when len is not NULL; NULL when absent. Not NUL-terminated. */
SQ_EXTERN const char *sq_http_req_header(const sq_http_req *req, const char *name, size_t *len);

/* The whole request body (length in *len); an empty body gives a non-NULL
 * pointer and 0. For a streamed body, NULL. */
SQ_EXTERN const char *sq_http_req_body(const sq_http_req *req, size_t *len);

/* From the head callback: deliver the body to on_data(req, data, len, arg)
 * as it arrives (de-chunked, in pieces of at most the read size) instead of
 * buffering it; the request callback then runs after the last piece, and
 * sq_http_req_body() returns NULL. The data lives only during the call.
 * on_data may answer the request (the rest of the body is then not read).
 * SQ_ESTATE outside the head callback or for a request without a body. */
SQ_EXTERN int sq_http_req_stream_body(sq_http_req *req,
                                      void (*on_data)(sq_http_req *req, const char *data,
                                                      size_t len, void *arg),
                                      void *arg);

/* From the head callback: this request's body limit in bytes, instead of
 * the server's max_body_size (Tornado's set_max_body_size). A larger body is
 * answered 413 and the connection closed. SQ_ESTATE outside the head
 * callback or for a request without a body; SQ_EINVAL for 0. */
SQ_EXTERN int sq_http_req_set_max_body(sq_http_req *req, uint64_t max);

/* The peer's address, as the socket reports it. Returns 0 or an error. */
SQ_EXTERN int sq_http_req_peer(const sq_http_req *req, struct sockaddr_storage *addr);

/* The server the request came through; NULL once the server was closed
 * while the application still held the request. */
SQ_EXTERN sq_http_server *sq_http_req_server(const sq_http_req *req);

/* The loop the request runs on (valid for the request's whole life). */
SQ_EXTERN sq_loop *sq_http_req_loop(const sq_http_req *req);

/* A pointer-sized slot for the layer above (the web framework keeps its
 * handler state here). NULL for every new request. */
SQ_EXTERN void *sq_http_req_get_data(const sq_http_req *req);

/* Sets the slot read by sq_http_req_get_data(); squall never frees it. */
SQ_EXTERN void sq_http_req_set_data(sq_http_req *req, void *data);

/* Sets the callback run when the client goes away (or the server is closed)
 * before the response was finished: Tornado's on_connection_close. From then
 * on writes and flushes fail with SQ_ECLOSED, but the request stays valid
 * until the application calls sq_http_finish() (which then returns
 * SQ_ECLOSED): call it exactly once, from this callback or later, so that a
 * timer or other late callback holding the request never touches freed
 * memory. One callback per request; NULL removes it. */
SQ_EXTERN void sq_http_req_on_close(sq_http_req *req, void (*cb)(sq_http_req *req, void *arg), void *arg);

/* ---- The response ---- */

/* Sets the status and optional reason phrase (NULL: the standard phrase;
 * copied). Only before the head has been sent: SQ_ESTATE after. SQ_EINVAL for
 * a status outside 100-599 or a reason with CR, LF or other control bytes. */
SQ_EXTERN int sq_http_set_status(sq_http_req *req, int status, const char *reason);

/* Adds a response header (copied). Names must be tokens and values must not
 * hold CR, LF or NUL: SQ_EHEADER otherwise, and nothing is added. The
 * server adds Date, Content-Length or Transfer-Encoding, and Connection
 * itself; setting Content-Length yourself is allowed (the body written must
 * then match it). SQ_ESTATE once the head was sent. */
SQ_EXTERN int sq_http_add_header(sq_http_req *req, const char *name, size_t name_len,
                                 const char *value, size_t value_len);

/* sq_http_add_header with NUL-terminated strings. */
SQ_EXTERN int sq_http_add_header_str(sq_http_req *req, const char *name, const char *value);

/* Appends body bytes (copied) to the response. They are sent at the next
 * sq_http_flush or at sq_http_finish. SQ_ECLOSED when the client is gone,
 * SQ_ESTATE after finish. For HEAD requests the bytes are counted for
 * Content-Length but not sent. */
SQ_EXTERN int sq_http_write(sq_http_req *req, const void *data, size_t len);

/* Sends what was written so far. The first flush sends the head; when the
 * length is not known by then (no Content-Length header) the body goes out
 * with chunked transfer coding (HTTP/1.1) or until close (HTTP/1.0). done, if
 * not NULL, is called on the loop once these bytes have been handed to the
 * kernel (status 0) or the connection failed (a negative error); it is not
 * called when flush itself returns an error. */
SQ_EXTERN int sq_http_flush(sq_http_req *req, void (*done)(sq_http_req *req, int status, void *arg),
                            void *arg);

/* Finishes the response: sends the head (with Content-Length when nothing was
 * flushed yet) and the body, then the request is released and must not be
 * used again. Returns 0, or SQ_ECLOSED when the client was gone (the request
 * is released all the same), or SQ_ESTATE when the request is not the
 * application's to finish (a second finish on a recycled request is a bug
 * this cannot always catch). */
SQ_EXTERN int sq_http_finish(sq_http_req *req);

/* One-call response: status, an optional Content-Type (NULL for none), the
 * body, finish. Returns what sq_http_finish returns. */
SQ_EXTERN int sq_http_respond(sq_http_req *req, int status, const char *content_type,
                              const void *body, size_t len);

/* True once the head of the response has been sent. */
SQ_EXTERN bool sq_http_headers_sent(const sq_http_req *req);

/* ---- Upgraded connections (WebSocket and other protocols after a 101) ----
 *
 * sq_http_upgrade() sends the response head and turns the request's
 * connection into an sq_stream: raw bytes in, raw bytes out, on the same
 * connection object (so an idle upgraded connection still costs only its
 * small struct: reads land in the loop's buffer, output buffers come from
 * the server's pool). Writes made during a read callback go out in one
 * write at its end; writes made elsewhere go out together on the next loop
 * iteration. */
typedef struct sq_stream sq_stream;

typedef struct sq_stream_cbs {
    /* Bytes arrived. data lives in a buffer of the loop's, valid only during
     * the call; it may be modified in place (e.g. to unmask). */
    void (*on_read)(sq_stream *s, char *data, size_t len, void *arg);
    /* The connection is closed, for any reason (peer, error, sq_stream_close,
     * the server closing). Called once; the stream is freed after it. */
    void (*on_close)(sq_stream *s, void *arg);
    /* Optional: everything written so far has been handed to the kernel
     * after a write had to wait (backpressure relief). */
    void (*on_drain)(sq_stream *s, void *arg);
    /* Optional: the server began a graceful shutdown; the protocol should
     * say goodbye (a WebSocket close frame) and call sq_stream_close. */
    void (*on_shutdown)(sq_stream *s, void *arg);
} sq_stream_cbs;

/* From a request callback (or later, before anything was sent): sends the
 * response head as set so far (usually status 101 with Upgrade and
 * Connection headers; no Content-Length or Connection header is added) and
 * hands the connection over. The request is finished by this call and must
 * not be used again. cbs must outlive the stream. Bytes the client sent
 * after the request head are delivered to on_read on the next iteration.
 * Returns the stream, or NULL (and the request is finished with the error
 * answered as 500) when the connection is gone or memory ran out. */
SQ_EXTERN sq_stream *sq_http_upgrade(sq_http_req *req, const sq_stream_cbs *cbs, void *arg);

/* Queues len bytes (copied) for sending. Returns 0, SQ_ECLOSED once the
 * stream is closing, or SQ_ENOMEM. */
SQ_EXTERN int sq_stream_write(sq_stream *s, const void *data, size_t len);

/* Bytes queued but not yet handed to the kernel (the backpressure gauge). */
SQ_EXTERN size_t sq_stream_pending(const sq_stream *s);

/* Stops (pause) or restarts (resume) reading from the peer. */
SQ_EXTERN int sq_stream_pause(sq_stream *s);

/* Restarts reading after sq_stream_pause(). */
SQ_EXTERN int sq_stream_resume(sq_stream *s);

/* Closes gracefully: queued output is sent, then FIN, then the connection
 * closes and on_close runs. Further writes fail with SQ_ECLOSED. */
SQ_EXTERN void sq_stream_close(sq_stream *s);

/* Closes at once, dropping queued output; on_close runs. */
SQ_EXTERN void sq_stream_abort(sq_stream *s);

/* The loop the stream runs on. */
SQ_EXTERN sq_loop *sq_stream_loop(const sq_stream *s);

/* The peer's address. Returns 0 or an error. */
SQ_EXTERN int sq_stream_peer(const sq_stream *s, struct sockaddr_storage *addr);

/* The standard reason phrase for a status ("Not Found"), or "Unknown". */
SQ_EXTERN const char *sq_http_reason(int status);

#ifdef __cplusplus
}
#endif
#endif
