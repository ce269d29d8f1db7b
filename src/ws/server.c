/* WebSocket connections, server side: the handshake on an HTTP request, then
 * frames over the upgraded connection (sq_stream).
 *
 * Reads are decoded in the loop's read buffer: a whole, uncompressed message
 * inside one read is handed to on_message where it lies (unmasked in
 * place), with no copy. Only a message arriving in pieces, or a compressed
 * one, is assembled in a buffer that is freed once the message is
 * delivered.
 *
 * Callbacks may close or abort the connection from anywhere; the object is
 * freed only when no callback of ours is on the stack (the busy count), so
 * a loop that is decoding never touches freed memory.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "squall/websocket.h"

#define SQ_WS_CLOSE_WAIT_MS 5000

struct sq_ws {
    sq_stream *stream;             /* NULL once the connection is gone */
    const sq_ws_handler *h;
    const sq_ws_settings *s;
    void *arg;
    sq_loop *loop;
    sq_ws_pmd *pmd;                /* permessage-deflate, when negotiated */
    sq_buf msg;                    /* a message arriving in pieces */
    uv_timer_t *timer;             /* pings and the close wait; allocated when needed */
    uint64_t next_ping;            /* loop times (ms); 0: none */
    uint64_t pong_deadline;
    uint64_t close_deadline;
    char *close_reason;            /* reported to on_close (malloc'd) */
    const char *subprotocol;
    uint32_t close_reason_len;
    uint16_t close_code;           /* reported to on_close */
    uint8_t busy;                  /* our callbacks on the stack */
    unsigned close_sent : 1;       /* our close frame is queued */
    unsigned close_rcvd : 1;       /* the peer's close frame arrived */
    unsigned gone : 1;             /* the stream closed; on_close is due */
    unsigned reported : 1;         /* on_close was called */
    unsigned msg_binary : 1;
    unsigned msg_z : 1;
    sq_ws_decoder dec;
    max_align_t state[];           /* handler->state_size bytes */
};

/* A scratch buffer for compressed output, one per thread (loops are per
 * thread), kept between messages and freed when the thread exits. */
static _Thread_local sq_buf scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p) { sq__buf_free(p); }
static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static int scratch_reserve(size_t n) {
    if (scratch.cap >= n) return 0;
    if (!scratch.data) {
        pthread_once(&scratch_once, scratch_init);
        pthread_setspecific(scratch_key, &scratch);
    }
    scratch.len = 0;
    return sq__buf_reserve(&scratch, n);
}

void sq_ws_settings_init(sq_ws_settings *s) {
    memset(s, 0, sizeof *s);
    s->max_message_size = SQ_WS_DEFAULT_MAX_MESSAGE;
    s->max_send_queue = 1024 * 1024;
    sq_ws_pmd_config_init(&s->pmd);
}

/* ---- lifetime ---- */

static void free_after_timer(uv_handle_t *t) {
    sq_ws *ws = t->data;
    free(t);
    free(ws);
}

static void ws_free(sq_ws *ws) {
    sq_ws_pmd_free(ws->pmd);
    sq__buf_free(&ws->msg);
    free(ws->close_reason);
    if (ws->timer) {
        uv_timer_stop(ws->timer);
        uv_close((uv_handle_t *)ws->timer, free_after_timer);
        return;
    }
    free(ws);
}

/* Reports on_close and frees, once the stream is gone and no callback of
 * ours is running. */
static void ws_settle(sq_ws *ws) {
    if (ws->busy || !ws->gone || ws->reported) return;
    ws->reported = 1;
    ws->busy++;
    if (ws->h->on_close) {
        int code = ws->close_code ? ws->close_code : SQ_WS_CLOSE_ABNORMAL;
        ws->h->on_close(ws, code, ws->close_reason ? ws->close_reason : "", ws->close_reason_len);
    }
    ws->busy--;
    ws_free(ws);
}

static void set_close_info(sq_ws *ws, unsigned code, const char *reason, size_t len) {
    if (ws->close_code) return; /* the first word stands */
    ws->close_code = (uint16_t)code;
    if (len) {
        ws->close_reason = malloc(len + 1);
        if (ws->close_reason) {
            memcpy(ws->close_reason, reason, len);
            ws->close_reason[len] = 0;
            ws->close_reason_len = (uint32_t)len;
        }
    }
}

/* ---- timers: pings and the close wait ---- */

static void on_timer(uv_timer_t *t);

static void timer_rearm(sq_ws *ws) {
    uint64_t due = 0;
    uint64_t d[3] = {ws->next_ping, ws->pong_deadline, ws->close_deadline};
    for (int i = 0; i < 3; i++)
        if (d[i] && (!due || d[i] < due)) due = d[i];
    if (!due) {
        if (ws->timer) uv_timer_stop(ws->timer);
        return;
    }
    uv_loop_t *uv = sq_loop_uv(ws->loop);
    if (!ws->timer) {
        ws->timer = malloc(sizeof *ws->timer);
        if (!ws->timer) return;
        uv_timer_init(uv, ws->timer);
        ws->timer->data = ws;
    }
    uint64_t now = uv_now(uv);
    uv_timer_start(ws->timer, on_timer, due > now ? due - now : 0, 0);
}

static void on_timer(uv_timer_t *t) {
    sq_ws *ws = t->data;
    if (!ws->stream) return;
    uint64_t now = uv_now(sq_loop_uv(ws->loop));
    if ((ws->close_deadline && now >= ws->close_deadline) ||
        (ws->pong_deadline && now >= ws->pong_deadline)) {
        /* The peer did not answer our close, or our ping: it is gone. */
        ws->close_deadline = ws->pong_deadline = ws->next_ping = 0;
        sq_stream_abort(ws->stream);
        return;
    }
    if (ws->next_ping && now >= ws->next_ping && !ws->close_sent) {
        sq_ws_ping(ws, NULL, 0);
        if (!ws->pong_deadline) {
            uint32_t timeout = ws->s->ping_timeout_ms;
            if (!timeout) {
                uint64_t three = 3ull * ws->s->ping_interval_ms;
                timeout = (uint32_t)(three > 30000 ? three : 30000);
            }
            ws->pong_deadline = now + timeout;
        }
        ws->next_ping = now + ws->s->ping_interval_ms;
    }
    timer_rearm(ws);
}

/* ---- writing ---- */

static int send_frame(sq_ws *ws, unsigned op, unsigned flags, const void *data, size_t len) {
    uint8_t hdr[SQ_WS_MAX_HEADER];
    size_t hl = sq_ws_frame_header(hdr, op, flags | SQ_WS_F_FIN, len, NULL);
    int err = sq_stream_write(ws->stream, hdr, hl);
    if (!err && len) err = sq_stream_write(ws->stream, data, len);
    return err;
}

/* Sends a close frame (once) and ends the connection without waiting:
 * the answer to a protocol violation, or to the peer's close. */
static void close_now(sq_ws *ws, unsigned code, const char *reason) {
    if (!ws->stream) return;
    if (!ws->close_sent) {
        ws->close_sent = 1;
        uint8_t payload[125];
        int n = code ? sq_ws_close_payload(payload, code, reason, reason ? strlen(reason) : 0) : 0;
        if (n < 0) n = sq_ws_close_payload(payload, code, NULL, 0);
        if (n >= 0) send_frame(ws, SQ_WS_OP_CLOSE, 0, payload, (size_t)n);
    }
    ws->next_ping = ws->pong_deadline = 0;
    timer_rearm(ws);
    sq_stream_close(ws->stream);
}

static void fail(sq_ws *ws, unsigned code, const char *reason) {
    set_close_info(ws, code, reason, reason ? strlen(reason) : 0);
    close_now(ws, code, reason);
}

int sq_ws_write_message(sq_ws *ws, const void *data, size_t len, bool binary) {
    if (!ws->stream || ws->close_sent) return SQ_ECLOSED;
    const void *payload = data;
    size_t plen = len;
    unsigned flags = 0;
    if (ws->pmd && sq_ws_pmd_should_compress(ws->pmd, len)) {
        size_t bound = sq_ws_pmd_compress_bound(ws->pmd, len);
        if (scratch_reserve(bound)) return SQ_ENOMEM;
        int64_t n = sq_ws_pmd_compress(ws->pmd, data, len, scratch.data, scratch.cap);
        if (n < 0) {
            fail(ws, SQ_WS_CLOSE_INTERNAL_ERROR, "compression failed");
            return (int)n;
        }
        payload = scratch.data;
        plen = (size_t)n;
        flags = SQ_WS_F_COMPRESSED;
    }
    /* The bound applies to what is already waiting: one message of any
     * allowed size can always be queued behind a drained queue. */
    if (sq_stream_pending(ws->stream) > ws->s->max_send_queue) {
        /* A reader this slow would make us buffer without bound. */
        fail(ws, SQ_WS_CLOSE_POLICY, "send queue full");
        return SQ_ELIMIT;
    }
    return send_frame(ws, binary ? SQ_WS_OP_BINARY : SQ_WS_OP_TEXT, flags, payload, plen);
}

int sq_ws_ping(sq_ws *ws, const void *data, size_t len) {
    if (len > 125) return SQ_EINVAL;
    if (!ws->stream || ws->close_sent) return SQ_ECLOSED;
    return send_frame(ws, SQ_WS_OP_PING, 0, data, len);
}

int sq_ws_close(sq_ws *ws, int code, const char *reason) {
    if (!ws->stream || ws->close_sent) return SQ_ECLOSED;
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen && !code) code = SQ_WS_CLOSE_NORMAL;
    uint8_t payload[125];
    int n = code ? sq_ws_close_payload(payload, (unsigned)code, reason, rlen) : 0;
    if (n < 0) return SQ_EINVAL;
    ws->close_sent = 1;
    send_frame(ws, SQ_WS_OP_CLOSE, 0, payload, (size_t)n);
    if (ws->close_rcvd) {
        sq_stream_close(ws->stream);
        return 0;
    }
    /* Wait for the peer's close frame, but not for ever. */
    ws->next_ping = ws->pong_deadline = 0;
    ws->close_deadline = uv_now(sq_loop_uv(ws->loop)) + SQ_WS_CLOSE_WAIT_MS;
    timer_rearm(ws);
    return 0;
}

/* ---- reading ---- */

static void deliver(sq_ws *ws, const char *data, size_t len, bool binary) {
    if (ws->close_sent && ws->close_code) return; /* failing: no more messages */
    ws->h->on_message(ws, data, len, binary);
}

/* Inflates the assembled compressed message and delivers it. */
static void deliver_compressed(sq_ws *ws) {
    sq_buf out = {0};
    size_t used = 0;
    uint64_t max = ws->s->max_message_size;
    size_t cap = ws->msg.len * 4 + 64;
    if (max && cap > max + 1) cap = (size_t)max + 1;
    for (;;) {
        if (sq__buf_reserve(&out, cap - out.len)) {
            fail(ws, SQ_WS_CLOSE_INTERNAL_ERROR, "out of memory");
            goto done;
        }
        size_t in_used = 0, out_used = 0;
        int r = sq_ws_pmd_decompress(ws->pmd, ws->msg.data + used, ws->msg.len - used, true,
                                     out.data + out.len, out.cap - out.len, &in_used, &out_used);
        used += in_used;
        out.len += out_used;
        if (r == 0) break;
        if (r == SQ_EAGAIN) {
            cap = out.cap * 2;
            if (max && cap > max + 1) cap = (size_t)max + 1;
            if (cap <= out.cap) cap = out.cap + 4096;
            continue;
        }
        if (r == SQ_ELIMIT) fail(ws, SQ_WS_CLOSE_TOO_BIG, "message too big after decompression");
        else if (r == SQ_EPROTO) fail(ws, SQ_WS_CLOSE_INVALID_DATA, "invalid compressed data");
        else fail(ws, SQ_WS_CLOSE_INTERNAL_ERROR, "decompression failed");
        goto done;
    }
    if (!ws->msg_binary && !sq_utf8_valid(out.data, out.len)) {
        fail(ws, SQ_WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
        goto done;
    }
    deliver(ws, out.data ? out.data : "", out.len, ws->msg_binary);
done:
    sq__buf_free(&out);
}

static void on_data(sq_ws *ws, const sq_ws_event *ev) {
    bool binary = ev->opcode == SQ_WS_OP_BINARY;
    if ((ev->flags & SQ_WS_F_MSG_START) && (ev->flags & SQ_WS_F_MSG_END) &&
        !(ev->flags & SQ_WS_F_COMPRESSED)) {
        /* The common case: a whole message in one read, used in place. */
        deliver(ws, (const char *)ev->data, ev->len, binary);
        return;
    }
    if (ev->flags & SQ_WS_F_MSG_START) {
        ws->msg.len = 0;
        ws->msg_binary = binary;
        ws->msg_z = (ev->flags & SQ_WS_F_COMPRESSED) != 0;
    }
    if (ev->len && sq__buf_append(&ws->msg, ev->data, ev->len)) {
        fail(ws, SQ_WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    if (!(ev->flags & SQ_WS_F_MSG_END)) return;
    if (ws->msg_z) deliver_compressed(ws);
    else deliver(ws, ws->msg.data ? ws->msg.data : "", ws->msg.len, ws->msg_binary);
    /* An idle connection keeps no message buffer. */
    sq__buf_free(&ws->msg);
}

static void on_control(sq_ws *ws, const sq_ws_event *ev) {
    switch (ev->opcode) {
    case SQ_WS_OP_PING:
        if (!ws->close_sent) send_frame(ws, SQ_WS_OP_PONG, 0, ev->data, ev->len);
        if (ws->h->on_ping) ws->h->on_ping(ws, (const char *)ev->data, ev->len);
        break;
    case SQ_WS_OP_PONG:
        ws->pong_deadline = 0; /* any pong counts, as in Tornado */
        if (ws->h->on_pong) ws->h->on_pong(ws, (const char *)ev->data, ev->len);
        break;
    case SQ_WS_OP_CLOSE:
        ws->close_rcvd = 1;
        set_close_info(ws, ev->close_code, (const char *)ev->reason, ev->reason_len);
        ws->close_deadline = 0;
        /* Echo the code (or an empty close), then the server closes the TCP
         * connection first, as RFC 6455 section 7.1.1 asks. */
        close_now(ws, ev->close_code == SQ_WS_CLOSE_NO_STATUS ? 0 : ev->close_code, NULL);
        break;
    }
}

static void ws_on_read(sq_stream *s, char *data, size_t len, void *arg) {
    sq_ws *ws = arg;
    uint8_t *p = (uint8_t *)data;
    ws->busy++;
    while (len && ws->stream && !ws->close_rcvd && !(ws->close_sent && ws->close_code)) {
        sq_ws_event ev;
        int64_t n = sq_ws_decode(&ws->dec, p, len, &ev);
        if (n < 0) {
            fail(ws, ws->dec.close_code, ws->dec.error);
            break;
        }
        p += n;
        len -= (size_t)n;
        if (ev.kind == SQ_WS_EV_DATA) on_data(ws, &ev);
        else if (ev.kind == SQ_WS_EV_CONTROL) on_control(ws, &ev);
    }
    ws->busy--;
    ws_settle(ws);
}

static void ws_on_close(sq_stream *s, void *arg) {
    sq_ws *ws = arg;
    ws->stream = NULL;
    ws->gone = 1;
    ws->next_ping = ws->pong_deadline = ws->close_deadline = 0;
    if (ws->timer) uv_timer_stop(ws->timer);
    ws_settle(ws);
}

static void ws_on_drain(sq_stream *s, void *arg) {
    sq_ws *ws = arg;
    if (!ws->h->on_drain || ws->close_sent) return;
    ws->busy++;
    ws->h->on_drain(ws);
    ws->busy--;
    ws_settle(ws);
}

static void ws_on_shutdown(sq_stream *s, void *arg) {
    sq_ws *ws = arg;
    if (sq_ws_close(ws, SQ_WS_CLOSE_GOING_AWAY, "server shutting down") != 0 && ws->stream)
        sq_stream_close(ws->stream);
}

static const sq_stream_cbs ws_stream_cbs = {
    .on_read = ws_on_read,
    .on_close = ws_on_close,
    .on_drain = ws_on_drain,
    .on_shutdown = ws_on_shutdown,
};

/* ---- the handshake ---- */

/* Whether a comma-separated header value holds token (case-insensitive). */
static bool list_has(const char *v, size_t len, const char *token) {
    size_t pos = 0, tl = strlen(token);
    const char *item;
    size_t il;
    while (sq_ws_list_next(v, len, &pos, &item, &il))
        if (il == tl && strncasecmp(item, token, tl) == 0) return true;
    return false;
}

/* Tornado's default check_origin: the Origin's lower-cased host[:port] must
 * equal the Host header. */
static bool default_check_origin(sq_http_req *req, const char *origin, size_t len) {
    const char *sep = len >= 3 ? memmem(origin, len, "://", 3) : NULL;
    if (!sep) return false;
    const char *netloc = sep + 3;
    size_t nl = (size_t)(origin + len - netloc);
    const char *slash = memchr(netloc, '/', nl);
    if (slash) nl = (size_t)(slash - netloc);
    size_t hl;
    const char *host = sq_http_req_header(req, "Host", &hl);
    if (!host || hl != nl) return false;
    for (size_t i = 0; i < nl; i++) {
        char c = netloc[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c != host[i]) return false;
    }
    return true;
}

static sq_ws *refuse(sq_http_req *req, int status, const char *msg) {
    if (status == 426) sq_http_add_header_str(req, "Sec-WebSocket-Version", "13");
    if (status == 405) sq_http_add_header_str(req, "Allow", "GET");
    sq_http_respond(req, status, "text/plain; charset=utf-8", msg, strlen(msg));
    return NULL;
}

sq_ws *sq_ws_accept(sq_http_req *req, const sq_ws_handler *h, const sq_ws_settings *s, void *arg) {
    if (!h || !h->on_message || !s) return refuse(req, 500, "WebSocket handler misconfigured");
    if (sq_http_req_method(req) != SQ_HTTP_GET) return refuse(req, 405, "Method Not Allowed");
    size_t len;
    const char *v = sq_http_req_header(req, "Upgrade", &len);
    if (!v || len != 9 || strncasecmp(v, "websocket", 9) != 0)
        return refuse(req, 400, "Can \"Upgrade\" only to \"WebSocket\".");
    v = sq_http_req_header(req, "Connection", &len);
    if (!v || !list_has(v, len, "upgrade")) return refuse(req, 400, "\"Connection\" must be \"Upgrade\".");
    v = sq_http_req_header(req, "Origin", &len);
    if (!v) v = sq_http_req_header(req, "Sec-WebSocket-Origin", &len);
    if (v) {
        bool ok = s->check_origin ? s->check_origin(req, v, len, s->check_origin_arg)
                                  : default_check_origin(req, v, len);
        if (!ok) return refuse(req, 403, "Cross origin websockets not allowed");
    }
    v = sq_http_req_header(req, "Sec-WebSocket-Version", &len);
    if (!v || len != 2 || memcmp(v, "13", 2) != 0) return refuse(req, 426, "Upgrade Required");
    const char *key = sq_http_req_header(req, "Sec-WebSocket-Key", &len);
    if (!key || !sq_ws_key_valid(key, len) || !sq_http_req_header(req, "Host", NULL))
        return refuse(req, 400, "Missing/Invalid WebSocket headers");
    char accept[29];
    sq_ws_accept_key(key, len, accept);

    const char *proto = NULL;
    if (s->nsubprotocols) {
        v = sq_http_req_header(req, "Sec-WebSocket-Protocol", &len);
        int i = v ? sq_ws_pick_subprotocol(v, len, s->subprotocols, s->nsubprotocols) : -1;
        if (i >= 0) proto = s->subprotocols[i];
    }
    sq_ws_pmd_params params;
    char ext[160];
    size_t ext_len = 0;
    int z = 0;
    if (s->compression && (v = sq_http_req_header(req, "Sec-WebSocket-Extensions", &len))) {
        z = sq_ws_pmd_accept(&s->pmd, v, len, &params, ext, sizeof ext, &ext_len);
        if (z < 0) return refuse(req, 400, "Invalid Sec-WebSocket-Extensions");
    }

    sq_ws *ws = calloc(1, sizeof *ws + h->state_size);
    if (!ws) return refuse(req, 500, "out of memory");
    ws->h = h;
    ws->s = s;
    ws->arg = arg;
    ws->loop = sq_http_req_loop(req);
    ws->subprotocol = proto;
    if (z == 1 && sq_ws_pmd_new(&ws->pmd, &params, SQ_WS_SERVER, &s->pmd, s->max_message_size)) {
        free(ws);
        return refuse(req, 500, "out of memory");
    }
    sq_ws_decoder_init(&ws->dec, SQ_WS_SERVER);
    ws->dec.max_message = s->max_message_size;
    if (ws->pmd) ws->dec.options |= SQ_WS_DEC_DEFLATE;

    sq_http_set_status(req, 101, NULL);
    sq_http_add_header_str(req, "Upgrade", "websocket");
    sq_http_add_header_str(req, "Connection", "Upgrade");
    sq_http_add_header_str(req, "Sec-WebSocket-Accept", accept);
    if (proto) sq_http_add_header_str(req, "Sec-WebSocket-Protocol", proto);
    if (ws->pmd) sq_http_add_header(req, "Sec-WebSocket-Extensions", 24, ext, ext_len);
    ws->stream = sq_http_upgrade(req, &ws_stream_cbs, ws);
    if (!ws->stream) {
        sq_ws_pmd_free(ws->pmd);
        free(ws);
        return NULL;
    }
    if (s->ping_interval_ms) {
        ws->next_ping = uv_now(sq_loop_uv(ws->loop)) + s->ping_interval_ms;
        timer_rearm(ws);
    }
    ws->busy++;
    if (h->open) h->open(ws);
    ws->busy--;
    if (ws->gone) {
        /* Closed during open: report and free now; the caller gets NULL. */
        ws_settle(ws);
        return NULL;
    }
    return ws;
}

/* ---- accessors ---- */

size_t sq_ws_buffered(const sq_ws *ws) { return ws->stream ? sq_stream_pending(ws->stream) : 0; }
bool sq_ws_is_closing(const sq_ws *ws) { return !ws->stream || ws->close_sent || ws->close_rcvd; }
void *sq_ws_state(const sq_ws *ws) { return ws->h->state_size ? (void *)ws->state : NULL; }
void *sq_ws_arg(const sq_ws *ws) { return ws->arg; }
const char *sq_ws_subprotocol(const sq_ws *ws) { return ws->subprotocol; }
bool sq_ws_compressed(const sq_ws *ws) { return ws->pmd != NULL; }
sq_loop *sq_ws_loop(const sq_ws *ws) { return ws->loop; }
