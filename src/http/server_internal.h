/* The HTTP server's private structures, shared by server.c and response.c.
 *
 * Ownership in one paragraph: the server owns its listeners and connections.
 * A connection owns at most one request at a time (HTTP/1.1 answers in
 * order, so the next pipelined request waits in the connection's input
 * buffer). A request handed to the application belongs to it until it calls
 * sq_http_finish(); if the connection goes away first, the request is
 * orphaned (req->conn == NULL), its writes fail with SQ_ECLOSED, and finish
 * releases it. Requests and output buffers are recycled through free lists
 * on the server, so a keep-alive request allocates nothing in steady state.
 */
#ifndef SQ_HTTP_SERVER_INTERNAL_H
#define SQ_HTTP_SERVER_INTERNAL_H

#include "core/buf.h"
#include "squall/http.h"

typedef struct sq_conn sq_conn;

typedef struct sq_listener {
    uv_tcp_t tcp;
    unsigned paused : 1; /* holds a connection we have not accepted (at the cap) */
} sq_listener;

/* Which timeout list a connection is in. */
enum { SQ_LIST_NONE = 0, SQ_LIST_HEAD, SQ_LIST_IDLE, SQ_LIST_BUSY, SQ_LIST_COUNT };

typedef struct sq_conn_list {
    sq_conn *first;
    sq_conn *last;
} sq_conn_list;

/* Request states. */
enum {
    SQ_REQ_BODY = 1,   /* head parsed, body still arriving */
    SQ_REQ_APP,        /* handed to the application */
    SQ_REQ_DONE,       /* finished, waiting to be recycled */
};

struct sq_http_req {
    sq_conn *conn;             /* NULL once orphaned */
    sq_http_server *srv;       /* NULL once the server is gone */
    sq_loop *loop;
    sq_http_req *next_free;

    sq_http_head head;
    const char *path;
    const char *query;
    uint32_t path_len;
    uint32_t query_len;
    const char *body;          /* the whole body, when buffered */
    size_t body_len;

    sq_buf headbuf;            /* copy of the head once the request outlives a read */
    sq_buf bodybuf;            /* request body assembled across reads */

    /* The response. */
    sq_buf rhead;              /* "Name: value\r\n" lines set by the application */
    const char *ctype;         /* Content-Type given to sq_http_respond (validated) */
    size_t ctype_len;
    sq_buf rbody;              /* body written but not yet flushed */
    uint64_t resp_cl;          /* Content-Length set by the application */
    uint16_t status;
    uint8_t state;
    unsigned has_cl : 1;       /* the application set Content-Length */
    unsigned head_sent : 1;
    unsigned chunked : 1;      /* the body goes out chunked */
    unsigned until_close : 1;  /* HTTP/1.0 body without a length: close ends it */
    unsigned is_head : 1;      /* a HEAD request: count the body, send none */
    unsigned no_body : 1;      /* 1xx, 204, 304: no body at all */
    unsigned detached : 1;     /* head copied into headbuf */
    unsigned in_app : 1;       /* inside an application callback */
    unsigned body_pending : 1; /* the body is still arriving */
    unsigned dispatched : 1;   /* the request callback has run */
    unsigned upgrading : 1;    /* the head being sent switches protocols */
    unsigned notifying : 1;    /* inside the disconnect notification: finish defers release */
    char *reason;              /* custom reason phrase (malloc'd) or NULL */

    const char *raw_head;      /* where the head was parsed (valid inside process_input) */
    uint32_t raw_len;
    uint64_t max_body;         /* this request's body limit */
    void (*stream_cb)(sq_http_req *, const char *, size_t, void *);
    void *stream_arg;

    void *data;
    void (*close_cb)(sq_http_req *, void *);
    void *close_arg;
    void (*flush_cb)(sq_http_req *, int, void *);
    void *flush_arg;
    uint64_t flush_target;     /* conn->bytes_out value that completes the flush */

    sq_http_header headers[];  /* max_headers entries */
};

struct sq_conn {
    uv_tcp_t tcp;
    sq_http_server *srv;
    sq_conn *prev;
    sq_conn *next;
    sq_http_req *req;          /* request being read or served */
    sq_http_parser parser;
    char *in;                  /* unconsumed input: a partial head or pipelined requests */
    uint32_t in_len;
    uint32_t in_cap;
    sq_buf out;                /* output not yet handed to the kernel */
    uint64_t bytes_queued;     /* all output ever queued on this connection */
    uint64_t bytes_out;        /* all output the kernel has accepted */
    uint64_t deadline;         /* loop time (ms) when the current list's timeout fires */
    uint8_t list;
    unsigned writing : 1;      /* a uv_write is in flight */
    unsigned reading : 1;      /* uv_read_start is active */
    unsigned closing : 1;      /* uv_close was called */
    unsigned end_after_write : 1; /* close once the output is written */
    unsigned lingering : 1;    /* FIN sent; discarding input until EOF or timeout */
    unsigned in_read : 1;      /* inside on_read: output is flushed at its end */
    unsigned deferred : 1;     /* on the server's deferred list */
    unsigned any_input : 1;    /* bytes of the current head have arrived */
    unsigned upgraded : 1;     /* an sq_stream now: raw bytes, no HTTP */
    unsigned paused : 1;       /* sq_stream_pause: do not restart reading */
    unsigned waited : 1;       /* a write had to wait: call on_drain when done */
    sq_conn *next_deferred;
    const sq_stream_cbs *ucbs; /* upgraded: the protocol's callbacks */
    void *uarg;
};

struct sq_http_server {
    sq_loop *loop;
    uv_loop_t *uv;
    sq_http_server_config cfg;
    sq_http_request_cb cb;
    sq_http_request_cb head_cb;
    void *cb_arg;

    sq_listener **listeners;
    size_t nlisteners;
    size_t paused_accepts;     /* listeners holding a connection we have not accepted */

    sq_conn_list lists[SQ_LIST_COUNT];
    size_t nconns;
    uint64_t nwrites;          /* write calls made (tests check batching with it) */
    uv_timer_t timer;
    uint64_t timer_due;        /* 0 when the timer is not armed */

    uv_idle_t idle;            /* runs deferred work on the next iteration */
    sq_conn *deferred_first;
    sq_conn *deferred_last;

    sq_http_req *free_reqs;
    size_t nfree_reqs;
    sq_buf *free_bufs;         /* recycled output buffers (a stack) */
    size_t nfree_bufs;
    size_t cap_free_bufs;

    /* "Server: ...\r\nDate: ...\r\n": the headers every response starts
     * with, one copy per response; the date part is refreshed at most once
     * a second. */
    char fixed[176];
    size_t fixed_len;
    size_t server_len;         /* length of the Server line (0: none) */
    uint64_t date_ms;          /* loop time of the last refresh */

    uint32_t shutdown_timeout;
    void (*shutdown_cb)(sq_http_server *, void *);
    void *shutdown_arg;
    unsigned shutting_down : 1;
    unsigned closing : 1;
    unsigned shutdown_notified : 1;
    void (*close_cb)(sq_http_server *, void *);
    void *close_arg;
    size_t pending_handle_closes;
    void *drain_hook;          /* the shutdown hook of sq_http_server_drain_on_signal */
};

/* server.c */
void sq__conn_flush(sq_conn *c);
void sq__conn_request_done(sq_conn *c);
void sq__conn_close(sq_conn *c);
void sq__conn_defer(sq_conn *c);
void sq__conn_list_busy(sq_conn *c);
const char *sq__server_fixed_headers(sq_http_server *srv, size_t *len);
void sq__req_release(sq_http_req *req);

/* stream.c */
void sq__stream_on_read(sq_conn *c, char *data, size_t len);
void sq__stream_deferred(sq_conn *c);
void sq__stream_closed(sq_conn *c);

/* response.c */
int sq__emit_head(sq_http_req *req, bool final, size_t body_len);
int sq__append_status_line(sq_buf *b, int minor, int status, const char *reason);
int sq__write_error_response(sq_conn *c, int status, const char *detail);
bool sq__is_token(const char *s, size_t len);

#endif
