/* squall: the HTTP/1.1 message parser (pure: no I/O, no allocation).
 *
 * One parser reads requests (server side) or responses (client side) as
 * RFC 9112 defines them, strictly: bare LF, obs-fold, whitespace before a
 * colon, bad token characters, Content-Length together with
 * Transfer-Encoding, conflicting Content-Lengths, a Transfer-Encoding other
 * than a final "chunked", chunk sizes that overflow or carry a 0x prefix are
 * all errors.
 *
 * Zero copy: a parsed head points into the caller's buffer. The head is
 * parsed when it is complete in one contiguous buffer; until then
 * sq_http_parse_head() answers SQ_INCOMPLETE and remembers how far it has
 * validated, so that a head arriving one byte at a time costs linear time
 * and a prefix that can never become a valid head is rejected as soon as it
 * is seen. Bodies are decoded incrementally, byte-exact across any split,
 * with every data span pointing into the input.
 *
 * Typical use (server side):
 *
 *     sq_http_parser p; sq_http_header hdrs[100]; sq_http_head head;
 *     sq_http_parser_init(&p, SQ_HTTP_REQUEST);
 *     head.headers = hdrs; head.max_headers = 100;
 *     int n = sq_http_parse_head(&p, buf, len, &head);
 *     if (n == SQ_INCOMPLETE) ... keep buf, read more, call again with the longer buffer
 *     else if (n < 0) ... answer sq_http_parser_status(&p) and close
 *     else body starts at buf + n: call sq_http_parse_body() until sq_http_body_done()
 */
#ifndef SQUALL_HTTP_PARSER_H
#define SQUALL_HTTP_PARSER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The methods the parser knows (llhttp's HTTP list). A request with any
 * other method is rejected with SQ_HTTP_E_METHOD (a server answers 501). */
#define SQ_HTTP_METHOD_MAP(X)                                                  \
    X(DELETE) X(GET) X(HEAD) X(POST) X(PUT) X(CONNECT) X(OPTIONS) X(TRACE)     \
    X(COPY) X(LOCK) X(MKCOL) X(MOVE) X(PROPFIND) X(PROPPATCH) X(SEARCH)        \
    X(UNLOCK) X(BIND) X(REBIND) X(UNBIND) X(ACL) X(REPORT) X(MKACTIVITY)       \
    X(CHECKOUT) X(MERGE) X(MSEARCH) X(NOTIFY) X(SUBSCRIBE) X(UNSUBSCRIBE)      \
    X(PATCH) X(PURGE) X(MKCALENDAR) X(LINK) X(UNLINK) X(SOURCE) X(QUERY)

typedef enum {
#define SQ__M(name) SQ_HTTP_##name,
    SQ_HTTP_METHOD_MAP(SQ__M)
#undef SQ__M
    SQ_HTTP_METHOD_COUNT
} sq_http_method;

/* The method's name as sent on the wire ("M-SEARCH" for SQ_HTTP_MSEARCH);
 * static storage. NULL for a value out of range. */
SQ_EXTERN const char *sq_http_method_name(sq_http_method m);

/* What went wrong, in detail, when a parse call returns a negative code. */
#define SQ_HTTP_ERROR_MAP(X)                                                   \
    X(OK, 0, "no error")                                                       \
    X(METHOD, 501, "unknown method")                                           \
    X(TARGET, 400, "invalid request target")                                   \
    X(TARGET_TOO_LONG, 414, "request line too long")                           \
    X(VERSION, 400, "invalid HTTP version")                                    \
    X(VERSION_UNSUPPORTED, 505, "HTTP version not supported")                  \
    X(HTTP09, 400, "HTTP/0.9 request")                                         \
    X(HTTP2_PREFACE, 0, "HTTP/2 connection preface")                           \
    X(STATUS, 400, "invalid status line")                                      \
    X(LF_EXPECTED, 400, "bare CR or LF: CRLF expected")                        \
    X(HEADER_NAME, 400, "invalid character in a header name")                  \
    X(HEADER_VALUE, 400, "invalid character in a header value")                \
    X(OBS_FOLD, 400, "obsolete line folding")                                  \
    X(SPACE_BEFORE_COLON, 400, "whitespace between a header name and colon")   \
    X(TOO_MANY_HEADERS, 431, "too many header fields")                         \
    X(HEAD_TOO_LARGE, 431, "request head too large")                           \
    X(CONTENT_LENGTH, 400, "invalid Content-Length")                           \
    X(CL_CONFLICT, 400, "conflicting Content-Length values")                   \
    X(CL_AND_TE, 400, "both Content-Length and Transfer-Encoding")             \
    X(TRANSFER_ENCODING, 400, "Transfer-Encoding not ending with chunked")     \
    X(HOST_MISSING, 400, "HTTP/1.1 request without Host")                      \
    X(HOST_REPEATED, 400, "more than one Host header")                         \
    X(CHUNK_SIZE, 400, "invalid chunk size")                                   \
    X(CHUNK_EXTENSION, 400, "invalid chunk extension")                         \
    X(CHUNK_DATA, 400, "chunk data not followed by CRLF")                      \
    X(TRAILER, 400, "invalid trailer field")                                   \
    X(BODY_TOO_LARGE, 413, "body too large")                                   \
    X(CLOSED, 400, "data after the message on a closing connection")          \
    X(REQUEST_LINE, 400, "malformed request line")                             \
    X(HOST_INVALID, 400, "invalid Host header value")

typedef enum {
#define SQ__E(name, status, msg) SQ_HTTP_E_##name,
    SQ_HTTP_ERROR_MAP(SQ__E)
#undef SQ__E
} sq_http_error;

/* A short English description of an sq_http_error; static storage. */
SQ_EXTERN const char *sq_http_error_str(sq_http_error e);

/* The status a server should answer for an sq_http_error, or 0 when the
 * right answer is to close without a response (an HTTP/2 preface). */
SQ_EXTERN int sq_http_error_status(sq_http_error e);

/* One header field. Both strings point into the parsed buffer and are not
 * NUL-terminated; the value has no leading or trailing whitespace. */
typedef struct sq_http_header {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
} sq_http_header;

/* How the body of a parsed message is delimited. */
typedef enum {
    SQ_HTTP_BODY_NONE = 0, /* no body: the message ended with its head */
    SQ_HTTP_BODY_LENGTH,   /* exactly content_length bytes */
    SQ_HTTP_BODY_CHUNKED,  /* chunked transfer coding */
    SQ_HTTP_BODY_EOF,      /* responses only: everything until the connection closes */
} sq_http_body_kind;

/* Flags of a parsed head. */
enum {
    SQ_HTTP_F_KEEP_ALIVE = 1u << 0,   /* the connection may carry another message after this one */
    SQ_HTTP_F_UPGRADE = 1u << 1,      /* a protocol switch follows this message (Upgrade, CONNECT, 101) */
    SQ_HTTP_F_HAS_CL = 1u << 2,       /* a Content-Length header was present */
    SQ_HTTP_F_CHUNKED = 1u << 3,      /* Transfer-Encoding ends with chunked */
    SQ_HTTP_F_CONN_CLOSE = 1u << 4,   /* Connection: close */
    SQ_HTTP_F_CONN_KEEP_ALIVE = 1u << 5, /* Connection: keep-alive */
    SQ_HTTP_F_CONN_UPGRADE = 1u << 6, /* Connection: upgrade */
    SQ_HTTP_F_EXPECT_CONTINUE = 1u << 7, /* Expect: 100-continue */
    SQ_HTTP_F_HAS_HOST = 1u << 8,     /* exactly one Host header */
};

/* A parsed message head. Set headers and max_headers before parsing; the
 * parser fills the rest when sq_http_parse_head() succeeds. All pointers
 * point into the parsed buffer. */
typedef struct sq_http_head {
    sq_http_header *headers; /* in: caller's array of max_headers entries */
    uint32_t max_headers;    /* in: its capacity; more fields give SQ_HTTP_E_TOO_MANY_HEADERS */
    uint32_t num_headers;    /* out: fields parsed */

    /* Requests. */
    const char *method;      /* as sent, e.g. "GET" */
    const char *target;      /* request-target, e.g. "/a?b=c": origin-form ("/..."),
                                absolute-form ("scheme://authority..."), "*", or an
                                authority for CONNECT; anything else is SQ_HTTP_E_TARGET */
    uint32_t method_len;
    uint32_t target_len;
    sq_http_method method_id;

    /* Responses. */
    const char *reason;      /* reason phrase, possibly empty */
    uint32_t reason_len;
    uint16_t status;

    uint8_t version_major;   /* 1 (0 for an "HTTP/0.9" status line) */
    uint8_t version_minor;   /* as sent: 0 to 9 */
    uint32_t flags;          /* SQ_HTTP_F_* */
    sq_http_body_kind body;
    uint64_t content_length; /* with SQ_HTTP_BODY_LENGTH; 0 otherwise */
    const char *host;        /* the Host header's value, or NULL */
    uint32_t host_len;
} sq_http_head;

typedef enum { SQ_HTTP_REQUEST = 0, SQ_HTTP_RESPONSE = 1 } sq_http_kind;

/* Parser options (bit flags in sq_http_parser.options). */
enum {
    /* Requests: HTTP/1.1 without exactly one Host header is an error
     * (RFC 9112 section 3.2). On by default; the pure llhttp-compatible mode
     * used by the conformance suite turns it off, as llhttp leaves this check
     * to the server. */
    SQ_HTTP_OPT_REQUIRE_HOST = 1u << 0,
    /* Responses: the request was HEAD, so the response has no body whatever
     * its headers say. Set before parsing each response head. */
    SQ_HTTP_OPT_HEAD_RESPONSE = 1u << 1,
};

/* The parser state. Treat every field not documented as private; the struct
 * is public only so that it can live inside a connection without a separate
 * allocation. */
typedef struct sq_http_parser {
    /* Settings: sq_http_parser_init() sets the defaults; change them after
     * init and before the first parse call. */
    uint32_t options;        /* SQ_HTTP_OPT_* */
    uint32_t max_head;       /* bytes of a head, leading empty lines included (default 65536);
                                also bounds a chunked trailer section */
    uint32_t max_line;       /* bytes of the request line alone, CRLF excluded (default 8192);
                                also bounds a chunk-size line with its extensions */
    uint64_t max_body;       /* decoded body bytes (default 100 MiB) */

    /* Result of the last failed call. */
    sq_http_error error;

    /* Private. */
    uint8_t kind;            /* sq_http_kind */
    uint8_t state;           /* where the parser is: between messages, in a head, in a body */
    uint8_t sub;             /* sub-state of the incremental head scanner or the chunked decoder */
    uint8_t flags_;          /* per-message bits gathered from the header fields */
    uint32_t scanned;        /* bytes of an incomplete head already validated */
    uint32_t saved_;         /* incomplete head: where its current line starts */
    uint32_t mark_;          /* incomplete head: where the current token starts */
    uint32_t hflags_;        /* SQ_HTTP_F_* of the message being parsed */
    uint32_t nhdr_;          /* header fields seen so far */
    uint16_t status_;        /* responses: the status code */
    uint8_t vmajor_;         /* HTTP version of the message being parsed */
    uint8_t vminor_;
    uint8_t method_;         /* requests: sq_http_method of the message being parsed */
    uint64_t remaining;      /* Content-Length, bytes left in the body or the current chunk */
    uint64_t body_seen;      /* decoded body bytes so far */
    uint32_t line_len;       /* length of the current chunk-size line or trailer section */
} sq_http_parser;

/* Initialises a parser for requests or responses with the default limits
 * and SQ_HTTP_OPT_REQUIRE_HOST for requests. Re-initialising is also how a
 * parser is reset after an error or an upgrade. */
SQ_EXTERN void sq_http_parser_init(sq_http_parser *p, sq_http_kind kind);

/* Parses the head of the next message from buf[0, len). Empty lines (CRLF)
 * before the start line are skipped and counted in the returned length.
 * Returns:
 *   > 0            the head's length in bytes; *head is filled; the body (if
 *                  any, per head->body) begins at buf + return value. The
 *                  parser is now ready for sq_http_parse_body().
 *   SQ_INCOMPLETE  buf holds a valid prefix of a head; call again with the
 *                  same bytes followed by more (the buffer may have moved,
 *                  and head may be another struct). Only *head's in-fields
 *                  are read then; nothing in it is meaningful.
 *   SQ_ELIMIT      a limit was exceeded (p->error says which).
 *   SQ_EPROTO      the bytes are not a valid head (p->error says why).
 *   SQ_ESTATE      misuse: the previous message's body is not done yet.
 * After an error the parser must be re-initialised before reuse.
 *
 * What a head means, beyond RFC 9112's grammar:
 *   - Content-Length: digits only. A second Content-Length field is an error
 *     (SQ_HTTP_E_CL_CONFLICT) even when it repeats the same value, and the
 *     list form "5, 5" is an error too: RFC 9110 section 8.6 lets a recipient
 *     reject both, and doing so leaves no room for request smuggling. A value
 *     over max_body is SQ_ELIMIT / SQ_HTTP_E_BODY_TOO_LARGE (413) at once.
 *     Content-Length: 0 gives SQ_HTTP_BODY_NONE (with SQ_HTTP_F_HAS_CL).
 *   - Transfer-Encoding with Content-Length is an error in both directions.
 *     In a request, a Transfer-Encoding whose final coding is not chunked (or
 *     that applies chunked twice) is an error (400); in a response it means
 *     the body runs until the connection closes (RFC 9112 section 6.3). An
 *     HTTP/1.0 message with Transfer-Encoding is decoded as its header says
 *     but is never keep-alive (RFC 9112 section 6.1).
 *   - CONNECT: the request has no body whatever its headers say, and
 *     SQ_HTTP_F_UPGRADE is set: the bytes after the head are the tunnel's.
 *     An HTTP/1.1 request with "Connection: upgrade" and an Upgrade field
 *     (RFC 9110 section 7.8 ignores Upgrade in HTTP/1.0), and a 101
 *     response, also set SQ_HTTP_F_UPGRADE; the body (requests: per their
 *     headers; 101: none) comes first, then parsing stops and
 *     sq_http_parse_head() answers SQ_EPROTO / SQ_HTTP_E_CLOSED: the caller
 *     owns the bytes that follow.
 *   - Versions: requests accept HTTP/1.0 and HTTP/1.1 (RFC 9110 section 2.5
 *     would serve 1.2 to 1.9 as 1.1, but node's llhttp refuses them and
 *     squall is never more lenient than node: they are
 *     SQ_HTTP_E_VERSION_UNSUPPORTED, 505, as is any other major version),
 *     a request line without a version is SQ_HTTP_E_HTTP09, and the HTTP/2
 *     preface "PRI * HTTP/2.0" is SQ_HTTP_E_HTTP2_PREFACE. Responses accept
 *     HTTP/1.x and, treated as HTTP/1.0, the old "HTTP/0.9" status line.
 *   - Keep-alive (RFC 9112 section 9.3): HTTP/1.1 unless "Connection: close";
 *     HTTP/1.0 only with "Connection: keep-alive" and no "close"; never for a
 *     body read until EOF. After a message that is not keep-alive, anything
 *     but empty lines is SQ_HTTP_E_CLOSED.
 *   - Responses: 1xx, 204 and 304 have no body, nor has any response while
 *     SQ_HTTP_OPT_HEAD_RESPONSE is set; status codes must be 100 to 599 and
 *     the reason phrase may be empty or missing.
 *   - Expect: 100-continue sets SQ_HTTP_F_EXPECT_CONTINUE in HTTP/1.1
 *     requests only (RFC 9110 section 10.1.1 says to ignore it in 1.0).
 *   - With SQ_HTTP_OPT_REQUIRE_HOST, an HTTP/1.1 request needs exactly one
 *     Host field whose value holds only URI host and port characters
 *     (SQ_HTTP_E_HOST_MISSING, SQ_HTTP_E_HOST_REPEATED, SQ_HTTP_E_HOST_INVALID);
 *     two Host fields are an error in HTTP/1.0 too. */
SQ_EXTERN int sq_http_parse_head(sq_http_parser *p, const char *buf, size_t len, sq_http_head *head);

/* Kinds of span that sq_http_parse_body() reports. */
typedef enum {
    SQ_HTTP_SPAN_NONE = 0,
    SQ_HTTP_SPAN_DATA,    /* body bytes (already de-chunked) */
    SQ_HTTP_SPAN_TRAILER, /* raw bytes of the chunked trailer section, "Name: value\r\n" lines
                             (validated); join the spans and use sq_http_parse_trailers() */
} sq_http_span_kind;

typedef struct sq_http_span {
    sq_http_span_kind kind;
    const char *data; /* inside the input buffer */
    size_t len;
} sq_http_span;

/* Decodes body bytes from buf[0, len). Returns the number of bytes consumed
 * (it consumes framing bytes as it goes, so nothing needs to be kept between
 * calls), or SQ_EPROTO / SQ_ELIMIT on error (p->error says why). At most one
 * span is reported per call in *span (kind SQ_HTTP_SPAN_NONE when there is
 * none); call again with the rest of the input while the return value is
 * less than len and the body is not done. When the message ends,
 * sq_http_body_done() becomes true and the bytes after it belong to the next
 * message: call sq_http_parse_head() on them. Called when the body is done
 * it consumes nothing and returns 0; called in the middle of a head it
 * answers SQ_ESTATE.
 *
 * Chunked bodies: chunk-size is hex digits (no "0x") worth less than 2^63,
 * optionally followed by extensions ";name" or ";name=token" or
 * ";name=\"quoted string\"", with no whitespace anywhere in the line
 * (RFC 9112 section 7.1.1 allows BWS around ";" and "=", but node's llhttp
 * refuses it and squall is never more lenient than node); trailers may not
 * carry Content-Length or Transfer-Encoding;
 * the chunk-size line may not exceed max_line bytes. Extensions are
 * validated and skipped. Decoded bytes beyond max_body are SQ_ELIMIT /
 * SQ_HTTP_E_BODY_TOO_LARGE, detected at the chunk-size line; a body read
 * until EOF delivers up to max_body bytes and fails on the next one. */
SQ_EXTERN int64_t sq_http_parse_body(sq_http_parser *p, const char *buf, size_t len, sq_http_span *span);

/* True once the current message's body (if any) has been read whole, and
 * between messages. For SQ_HTTP_BODY_EOF it becomes true only through
 * sq_http_parse_eof(). */
SQ_EXTERN bool sq_http_body_done(const sq_http_parser *p);

/* Tells the parser the connection closed. Returns 0 when that ends the
 * current message cleanly (a body read until EOF, or between messages, where
 * stray empty lines do not count) and SQ_EPROTO when a message was cut
 * short. */
SQ_EXTERN int sq_http_parse_eof(sq_http_parser *p);

/* Parses a complete trailer section (the concatenated SQ_HTTP_SPAN_TRAILER
 * bytes, without the final empty line) into headers[0, max). Values are
 * trimmed as in a head; pointers point into buf. Returns the number of
 * fields, or SQ_EPROTO / SQ_ELIMIT (more than max fields). */
SQ_EXTERN int sq_http_parse_trailers(const char *buf, size_t len, sq_http_header *headers, size_t max);

/* The status a server should answer after a failed parse (see
 * sq_http_error_status). */
static inline int sq_http_parser_status(const sq_http_parser *p) { return sq_http_error_status(p->error); }

/* Case-insensitive comparison of a header name with a NUL-terminated
 * lower- or mixed-case string. */
SQ_EXTERN bool sq_http_header_is(const sq_http_header *h, const char *name);

/* Finds the first header named name (case-insensitive) in a parsed head;
 * NULL when there is none. The pointer lives as long as the head. */
SQ_EXTERN const sq_http_header *sq_http_head_find(const sq_http_head *head, const char *name);

#ifdef __cplusplus
}
#endif
#endif
