/* HTTP responses: status, headers, body, flush (chunked when the length is
 * unknown), finish, and the server's own error answers.
 *
 * A response is assembled straight into the connection's output buffer at
 * finish (or at the first flush), so a small response costs one copy of its
 * headers and body and, with the other responses of the same read, one
 * write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server_internal.h"

int sq__conn_out_reserve(sq_conn *c, size_t extra);

const char *sq_http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* RFC 9110 tchar. */
static const uint8_t tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

bool sq__is_token(const char *s, size_t len) {
    if (len == 0) return false;
    for (size_t i = 0; i < len; i++)
        if (!tchar[(unsigned char)s[i]]) return false;
    return true;
}

/* A field value may hold visible bytes, obs-text, SP and HTAB; never CR, LF,
 * NUL or other controls (the response splitting guard). Eight bytes at a time
 * first: a word with no byte below 0x20 and none equal to 0x7f is fine
 * (the classic "has a byte less than n" and "has a zero byte" word tricks);
 * only a word that may hold one is checked byte by byte, since HTAB is
 * allowed. */
static bool valid_value(const char *s, size_t len) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t below = (w - ones * 0x20) & ~w & highs;
        uint64_t del = w ^ (ones * 0x7f);
        uint64_t is_del = (del - ones) & ~del & highs;
        if (below | is_del) break;
    }
    for (; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return false;
    }
    return true;
}

static inline void put(sq_buf *b, const void *p, size_t n) {
    if (n == 0) return; /* p may be NULL for an empty buffer */
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

#define PUT_LIT(b, s) put((b), (s), sizeof(s) - 1)

int sq__append_status_line(sq_buf *b, int minor, int status, const char *reason) {
    size_t rlen = strlen(reason);
    if (sq__buf_reserve(b, 16 + rlen)) return SQ_ENOMEM;
    PUT_LIT(b, "HTTP/1.1 ");
    if (minor == 0) b->data[b->len - 2] = '0';
    char *p = b->data + b->len;
    p[0] = (char)('0' + status / 100);
    p[1] = (char)('0' + status / 10 % 10);
    p[2] = (char)('0' + status % 10);
    p[3] = ' ';
    b->len += 4;
    put(b, reason, rlen);
    PUT_LIT(b, "\r\n");
    return 0;
}

/* Should the connection close after this response? */
static bool closes_after(sq_http_req *req) {
    sq_conn *c = req->conn;
    if (req->upgrading) return false;
    return !(req->head.flags & SQ_HTTP_F_KEEP_ALIVE) || c->srv->cfg.no_keep_alive ||
           c->srv->shutting_down || c->end_after_write || req->until_close ||
           ((req->head.flags & SQ_HTTP_F_UPGRADE) && req->status != 101);
}

/* Writes the response head into the connection's output. final: the whole
 * body is known (finish without an earlier flush), so its length is sent. */
int sq__emit_head(sq_http_req *req, bool final, size_t body_len) {
    sq_conn *c = req->conn;
    sq_http_server *srv = c->srv;
    int status = req->status;
    req->no_body = (status < 200 || status == 204 || status == 304 || req->upgrading);
    if (!final && !req->has_cl && !req->no_body && !req->is_head) {
        if (req->head.version_minor >= 1) req->chunked = 1;
        else req->until_close = 1;
    }
    bool close = closes_after(req);
    const char *reason = NULL;
    size_t rlen = 0;
    if (status != 200 || req->reason) {
        reason = req->reason ? req->reason : sq_http_reason(status);
        rlen = strlen(reason);
    }
    size_t fixed_len;
    const char *fixed = sq__server_fixed_headers(srv, &fixed_len);
    size_t need = 16 + rlen + fixed_len + req->rhead.len + req->ctype_len + 16 + 40 + 28 + 2;
    if (sq__conn_out_reserve(c, need)) return SQ_ENOMEM;
    sq_buf *o = &c->out;
    size_t start = o->len;
    if (status == 200 && !req->reason) {
        PUT_LIT(o, "HTTP/1.1 200 OK\r\n");
    } else {
        PUT_LIT(o, "HTTP/1.1 ");
        char *p = o->data + o->len;
        p[0] = (char)('0' + status / 100);
        p[1] = (char)('0' + status / 10 % 10);
        p[2] = (char)('0' + status % 10);
        p[3] = ' ';
        o->len += 4;
        put(o, reason, rlen);
        PUT_LIT(o, "\r\n");
    }
    put(o, fixed, fixed_len);
    if (req->ctype) {
        PUT_LIT(o, "Content-Type: ");
        put(o, req->ctype, req->ctype_len);
        PUT_LIT(o, "\r\n");
    }
    put(o, req->rhead.data, req->rhead.len);
    if (!req->no_body && !req->has_cl) {
        if (final) {
            PUT_LIT(o, "Content-Length: ");
            o->len += sq__u64toa(body_len, o->data + o->len);
            PUT_LIT(o, "\r\n");
        } else if (req->chunked) {
            PUT_LIT(o, "Transfer-Encoding: chunked\r\n");
        }
    }
    if (close) {
        PUT_LIT(o, "Connection: close\r\n");
        c->end_after_write = 1;
    } else if (req->head.version_minor == 0 && !req->upgrading) {
        PUT_LIT(o, "Connection: keep-alive\r\n");
    }
    PUT_LIT(o, "\r\n");
    c->bytes_queued += o->len - start;
    req->head_sent = 1;
    return 0;
}

/* Moves body bytes into the output, framed as the head decided. */
static int emit_body(sq_http_req *req, const char *data, size_t len) {
    if (len == 0 || req->is_head || req->no_body) return 0;
    sq_conn *c = req->conn;
    size_t need = len + (req->chunked ? 24 : 0);
    if (sq__conn_out_reserve(c, need)) return SQ_ENOMEM;
    sq_buf *o = &c->out;
    size_t start = o->len;
    if (req->chunked) {
        o->len += (size_t)snprintf(o->data + o->len, 20, "%zx\r\n", len);
        put(o, data, len);
        PUT_LIT(o, "\r\n");
    } else {
        put(o, data, len);
    }
    c->bytes_queued += o->len - start;
    return 0;
}

static int check_open(sq_http_req *req) {
    if (req->state != SQ_REQ_APP) return SQ_ESTATE;
    if (!req->conn) return SQ_ECLOSED;
    return 0;
}

int sq_http_set_status(sq_http_req *req, int status, const char *reason) {
    int err = check_open(req);
    if (err && err != SQ_ECLOSED) return err;
    if (req->head_sent) return SQ_ESTATE;
    if (status < 100 || status > 599) return SQ_EINVAL;
    if (reason && !valid_value(reason, strlen(reason))) return SQ_EINVAL;
    free(req->reason);
    req->reason = NULL;
    if (reason && !(req->reason = strdup(reason))) return SQ_ENOMEM;
    req->status = (uint16_t)status;
    return 0;
}

static bool name_is(const char *name, size_t len, const char *lit, size_t n) {
    if (len != n) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        if (ch != lit[i]) return false;
    }
    return true;
}

int sq_http_add_header(sq_http_req *req, const char *name, size_t name_len, const char *value,
                       size_t value_len) {
    int err = check_open(req);
    if (err && err != SQ_ECLOSED) return err;
    if (req->head_sent) return SQ_ESTATE;
    if (!sq__is_token(name, name_len) || !valid_value(value, value_len)) return SQ_EHEADER;
    if (name_is(name, name_len, "content-length", 14)) {
        uint64_t v = 0;
        if (value_len == 0 || value_len > 19) return SQ_EHEADER;
        for (size_t i = 0; i < value_len; i++) {
            if (value[i] < '0' || value[i] > '9') return SQ_EHEADER;
            v = v * 10 + (uint64_t)(value[i] - '0');
        }
        req->has_cl = 1;
        req->resp_cl = v;
    }
    sq_buf *b = &req->rhead;
    if (sq__buf_reserve(b, name_len + value_len + 4)) return SQ_ENOMEM;
    put(b, name, name_len);
    PUT_LIT(b, ": ");
    put(b, value, value_len);
    PUT_LIT(b, "\r\n");
    return 0;
}

int sq_http_add_header_str(sq_http_req *req, const char *name, const char *value) {
    return sq_http_add_header(req, name, strlen(name), value, strlen(value));
}

int sq_http_write(sq_http_req *req, const void *data, size_t len) {
    int err = check_open(req);
    if (err) return err;
    if (len == 0) return 0;
    return sq__buf_append(&req->rbody, data, len);
}

bool sq_http_headers_sent(const sq_http_req *req) { return req->head_sent; }

int sq_http_flush(sq_http_req *req, void (*done)(sq_http_req *req, int status, void *arg),
                  void *arg) {
    int err = check_open(req);
    if (err) return err;
    if (done && req->flush_cb) return SQ_EBUSY;
    sq_conn *c = req->conn;
    if (!req->head_sent && (err = sq__emit_head(req, false, 0))) return err;
    if ((err = emit_body(req, req->rbody.data, req->rbody.len))) return err;
    req->rbody.len = 0;
    if (done) {
        req->flush_cb = done;
        req->flush_arg = arg;
        req->flush_target = c->bytes_queued;
    }
    if (!c->in_read) sq__conn_flush(c);
    if (done && !c->closing && c->bytes_out >= req->flush_target) sq__conn_defer(c);
    return 0;
}

static int finish_common(sq_http_req *req, const char *body, size_t len) {
    sq_conn *c = req->conn;
    int err = 0;
    /* Answered before its body arrived: the rest of the body would be read
     * as the next request, so the connection ends with this response. */
    if (req->body_pending) c->end_after_write = 1;
    if (!req->head_sent) err = sq__emit_head(req, true, req->has_cl ? req->resp_cl : len);
    if (!err) err = emit_body(req, body, len);
    if (!err && req->chunked) {
        static const char last[] = "0\r\n\r\n";
        if (!(err = sq__conn_out_reserve(c, sizeof last - 1))) {
            put(&c->out, last, sizeof last - 1);
            c->bytes_queued += sizeof last - 1;
        }
    }
    if (err) c->end_after_write = 1;
    if (req->flush_cb) {
        /* A pending flush completes with the rest of the response. */
        void (*cb)(sq_http_req *, int, void *) = req->flush_cb;
        req->flush_cb = NULL;
        cb(req, 0, req->flush_arg);
    }
    req->state = SQ_REQ_DONE;
    sq__req_release(req);
    sq__conn_request_done(c);
    return err;
}

int sq_http_finish(sq_http_req *req) {
    if (req->state != SQ_REQ_APP) return SQ_ESTATE;
    if (!req->conn) {
        req->state = SQ_REQ_DONE;
        /* Inside the server's own notification of the disconnect, the
         * server releases it once the callback has returned. */
        if (!req->notifying) sq__req_release(req);
        return SQ_ECLOSED;
    }
    return finish_common(req, req->rbody.data, req->rbody.len);
}

int sq_http_respond(sq_http_req *req, int status, const char *content_type, const void *body,
                    size_t len) {
    if (req->state != SQ_REQ_APP) return SQ_ESTATE;
    if (!req->conn) return sq_http_finish(req);
    int err = 0;
    if (!req->head_sent) {
        if ((err = sq_http_set_status(req, status, NULL))) return err;
        if (content_type) {
            /* Written straight into the head at finish, not via rhead. */
            size_t n = strlen(content_type);
            if (!valid_value(content_type, n)) return SQ_EHEADER;
            req->ctype = content_type;
            req->ctype_len = n;
        }
    }
    if (req->rbody.len) {
        if ((err = sq_http_write(req, body, len))) return err;
        return sq_http_finish(req);
    }
    /* Nothing buffered: the body goes straight to the connection. */
    return finish_common(req, body, len);
}

int sq__write_error_response(sq_conn *c, int status, const char *detail) {
    sq_http_server *srv = c->srv;
    const char *reason = sq_http_reason(status);
    char body[160];
    int blen = snprintf(body, sizeof body, "%d %s: %s\n", status, reason, detail ? detail : "");
    if (blen < 0 || (size_t)blen >= sizeof body) blen = (int)sizeof body - 1;
    size_t fixed_len;
    const char *fixed = sq__server_fixed_headers(srv, &fixed_len);
    if (sq__conn_out_reserve(c, 256 + (size_t)blen + fixed_len)) {
        sq__conn_close(c);
        return SQ_ENOMEM;
    }
    sq_buf *o = &c->out;
    size_t start = o->len;
    sq__append_status_line(o, 1, status, reason);
    put(o, fixed, fixed_len);
    PUT_LIT(o, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ");
    o->len += sq__u64toa((uint64_t)blen, o->data + o->len);
    PUT_LIT(o, "\r\n\r\n");
    put(o, body, (size_t)blen);
    c->bytes_queued += o->len - start;
    c->end_after_write = 1;
    if (!c->in_read) sq__conn_flush(c);
    return 0;
}
