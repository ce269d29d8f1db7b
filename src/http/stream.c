/* Upgraded connections: after a 101 (or any protocol switch) the HTTP
 * connection object carries raw bytes for the new protocol. It keeps the
 * server's machinery: the loop's shared read buffer, pooled output buffers,
 * one write per read callback, the busy list (so shutdown and close find
 * it). */
#include <stdlib.h>
#include <string.h>

#include "http/server_internal.h"

int sq__conn_out_reserve(sq_conn *c, size_t extra);

sq_stream *sq_http_upgrade(sq_http_req *req, const sq_stream_cbs *cbs, void *arg) {
    if (!cbs || !cbs->on_read || !cbs->on_close) return NULL;
    if (req->state != SQ_REQ_APP || req->head_sent || req->body_pending) return NULL;
    sq_conn *c = req->conn;
    if (!c || c->closing || c->end_after_write) {
        sq_http_finish(req);
        return NULL;
    }
    req->upgrading = 1;
    if (sq__emit_head(req, false, 0) != 0) {
        req->upgrading = 0;
        c->end_after_write = 1;
        sq_http_respond(req, 500, NULL, NULL, 0);
        return NULL;
    }
    req->state = SQ_REQ_DONE;
    sq__req_release(req);
    c->req = NULL;
    c->upgraded = 1;
    c->ucbs = cbs;
    c->uarg = arg;
    /* No timeout: the protocol keeps its own (WebSocket pings). */
    sq__conn_list_busy(c);
    if (!c->in_read) sq__conn_flush(c);
    /* Bytes after the request head wait in conn->in (process_input keeps
     * them); hand them over on the next iteration. */
    sq__conn_defer(c);
    return (sq_stream *)c;
}

void sq__stream_on_read(sq_conn *c, char *data, size_t len) {
    c->ucbs->on_read((sq_stream *)c, data, len, c->uarg);
}

/* On the server's idle pass: pending input from before the upgrade, and
 * output written outside a read callback. */
void sq__stream_deferred(sq_conn *c) {
    if (c->in_len) {
        char *in = c->in;
        size_t len = c->in_len;
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        c->in_read = 1;
        sq__stream_on_read(c, in, len);
        c->in_read = 0;
        free(in);
    }
    if (!c->closing) sq__conn_flush(c);
}

void sq__stream_closed(sq_conn *c) {
    const sq_stream_cbs *cbs = c->ucbs;
    c->ucbs = NULL;
    if (cbs) cbs->on_close((sq_stream *)c, c->uarg);
}

int sq_stream_write(sq_stream *s, const void *data, size_t len) {
    sq_conn *c = (sq_conn *)s;
    if (c->closing || c->end_after_write || c->lingering) return SQ_ECLOSED;
    if (len == 0) return 0;
    if (sq__conn_out_reserve(c, len)) return SQ_ENOMEM;
    memcpy(c->out.data + c->out.len, data, len);
    c->out.len += len;
    c->bytes_queued += len;
    /* Outside a read callback, writes of this iteration share one write. */
    if (!c->in_read) sq__conn_defer(c);
    return 0;
}

size_t sq_stream_pending(const sq_stream *s) {
    const sq_conn *c = (const sq_conn *)s;
    return (size_t)(c->bytes_queued - c->bytes_out);
}

int sq_stream_pause(sq_stream *s) {
    sq_conn *c = (sq_conn *)s;
    if (c->closing) return SQ_ECLOSED;
    c->paused = 1;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    return 0;
}

int sq_stream_resume(sq_stream *s) {
    sq_conn *c = (sq_conn *)s;
    if (c->closing || c->lingering || c->end_after_write) return SQ_ECLOSED;
    c->paused = 0;
    if (!c->reading) sq__conn_defer(c); /* restarts reading on the idle pass */
    return 0;
}

void sq_stream_close(sq_stream *s) {
    sq_conn *c = (sq_conn *)s;
    if (c->closing || c->end_after_write) return;
    c->end_after_write = 1;
    if (!c->in_read) sq__conn_flush(c); /* ends the connection once written */
}

void sq_stream_abort(sq_stream *s) { sq__conn_close((sq_conn *)s); }

sq_loop *sq_stream_loop(const sq_stream *s) { return ((const sq_conn *)s)->srv->loop; }

int sq_stream_peer(const sq_stream *s, struct sockaddr_storage *addr) {
    const sq_conn *c = (const sq_conn *)s;
    if (c->closing) return SQ_ECLOSED;
    int len = sizeof *addr;
    return uv_tcp_getpeername(&c->tcp, (struct sockaddr *)addr, &len);
}
