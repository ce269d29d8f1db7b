/* squall: the HTTP/1.1 message parser (see include/squall/http_parser.h).
 *
 * Pure: no I/O, no allocation, no global mutable state; every pointer it
 * hands out points into the caller's input.
 *
 * Heads are read by two pieces of code that must agree byte for byte:
 *
 *   - The fast path (head_fast) parses a whole head in one pass, line by
 *     line, with table-driven scanning loops. It runs first on every call
 *     that may hold a complete head and is the only code that fills the
 *     caller's sq_http_head.
 *   - The incremental scanner (head_scan) validates an incomplete head one
 *     byte at a time from where the previous call stopped (p->scanned), so
 *     that a head arriving in small pieces costs linear time and garbage is
 *     rejected at its first bad byte. Every line it completes is handed to
 *     the fast path's line functions, so the meaning of the header fields
 *     (and the errors they raise) comes from one piece of code. When it sees
 *     the end of the head, the fast path parses the whole head once more to
 *     fill the caller's struct: the buffer may have moved since the earlier
 *     calls, and the caller may pass a different struct each time.
 *
 * Both report the same error for the same input whatever the split: they
 * check the same rules in the same order (the fuzz targets hold them to it).
 *
 * Bodies are decoded by a byte-level state machine (chunked) or by counting
 * (Content-Length, read until EOF).
 */
#include "squall/http_parser.h"

#include <limits.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Character classes: one 256-byte table, one bit per class.                */

enum {
    T_TOKEN = 0x01,  /* tchar (RFC 9110 section 5.6.2) */
    T_VALUE = 0x02,  /* field-vchar, SP, HTAB: VCHAR, obs-text, SP, HTAB */
    T_TARGET = 0x04, /* request-target bytes: VCHAR (0x21-0x7e) */
    T_HEX = 0x08,    /* HEXDIG */
    T_QDTEXT = 0x10, /* qdtext: HTAB, SP, VCHAR but '"' and '\\', obs-text */
    T_WS = 0x20,     /* SP, HTAB */
    T_HOST = 0x40,   /* characters of uri-host [":" port], IP literals included */
};

static const uint8_t ctab[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 00 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 10 */
    0x32, 0x57, 0x06, 0x17, 0x57, 0x57, 0x57, 0x57, 0x56, 0x56, 0x57, 0x57, 0x56, 0x57, 0x57, 0x16, /* 20 */
    0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x56, 0x56, 0x16, 0x56, 0x16, 0x16, /* 30 */
    0x16, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, /* 40 */
    0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x56, 0x06, 0x56, 0x17, 0x57, /* 50 */
    0x17, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, /* 60 */
    0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x57, 0x16, 0x17, 0x16, 0x57, 0x00, /* 70 */
    0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, /* 80 */
    0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, /* 90 */
    0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, /* a0 */
    0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, /* b0 */
    0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, /* c0 */
    0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, /* d0 */
    0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, /* e0 */
    0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, /* f0 */
};

#define CT(c) ctab[(uint8_t)(c)]

/* The line functions are inlined into the fast path, where the head is
 * filled (fill is constant there), and into the incremental scanner. */
#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

/* ------------------------------------------------------------------------ */
/* Names, errors.                                                           */

static const struct {
    char name[12];
    uint8_t len;
} methods[SQ_HTTP_METHOD_COUNT] = {
    [SQ_HTTP_DELETE] = {"DELETE", 6},       [SQ_HTTP_GET] = {"GET", 3},
    [SQ_HTTP_HEAD] = {"HEAD", 4},           [SQ_HTTP_POST] = {"POST", 4},
    [SQ_HTTP_PUT] = {"PUT", 3},             [SQ_HTTP_CONNECT] = {"CONNECT", 7},
    [SQ_HTTP_OPTIONS] = {"OPTIONS", 7},     [SQ_HTTP_TRACE] = {"TRACE", 5},
    [SQ_HTTP_COPY] = {"COPY", 4},           [SQ_HTTP_LOCK] = {"LOCK", 4},
    [SQ_HTTP_MKCOL] = {"MKCOL", 5},         [SQ_HTTP_MOVE] = {"MOVE", 4},
    [SQ_HTTP_PROPFIND] = {"PROPFIND", 8},   [SQ_HTTP_PROPPATCH] = {"PROPPATCH", 9},
    [SQ_HTTP_SEARCH] = {"SEARCH", 6},       [SQ_HTTP_UNLOCK] = {"UNLOCK", 6},
    [SQ_HTTP_BIND] = {"BIND", 4},           [SQ_HTTP_REBIND] = {"REBIND", 6},
    [SQ_HTTP_UNBIND] = {"UNBIND", 6},       [SQ_HTTP_ACL] = {"ACL", 3},
    [SQ_HTTP_REPORT] = {"REPORT", 6},       [SQ_HTTP_MKACTIVITY] = {"MKACTIVITY", 10},
    [SQ_HTTP_CHECKOUT] = {"CHECKOUT", 8},   [SQ_HTTP_MERGE] = {"MERGE", 5},
    [SQ_HTTP_MSEARCH] = {"M-SEARCH", 8},    [SQ_HTTP_NOTIFY] = {"NOTIFY", 6},
    [SQ_HTTP_SUBSCRIBE] = {"SUBSCRIBE", 9}, [SQ_HTTP_UNSUBSCRIBE] = {"UNSUBSCRIBE", 11},
    [SQ_HTTP_PATCH] = {"PATCH", 5},         [SQ_HTTP_PURGE] = {"PURGE", 5},
    [SQ_HTTP_MKCALENDAR] = {"MKCALENDAR", 10}, [SQ_HTTP_LINK] = {"LINK", 4},
    [SQ_HTTP_UNLINK] = {"UNLINK", 6},       [SQ_HTTP_SOURCE] = {"SOURCE", 6},
    [SQ_HTTP_QUERY] = {"QUERY", 5},
};

const char *sq_http_method_name(sq_http_method m) {
    if ((unsigned)m >= SQ_HTTP_METHOD_COUNT) return NULL;
    return methods[m].name;
}

static const char *const error_strs[] = {
#define SQ__E(name, status, msg) msg,
    SQ_HTTP_ERROR_MAP(SQ__E)
#undef SQ__E
};

static const uint16_t error_statuses[] = {
#define SQ__E(name, status, msg) status,
    SQ_HTTP_ERROR_MAP(SQ__E)
#undef SQ__E
};

const char *sq_http_error_str(sq_http_error e) {
    if ((unsigned)e >= sizeof error_strs / sizeof error_strs[0]) return "unknown error";
    return error_strs[e];
}

int sq_http_error_status(sq_http_error e) {
    if ((unsigned)e >= sizeof error_statuses / sizeof error_statuses[0]) return 400;
    return error_statuses[e];
}

/* ------------------------------------------------------------------------ */
/* States.                                                                  */

enum {
    S_IDLE = 0,     /* fresh, or after a keep-alive message */
    S_CLOSED,       /* after a message that ends the connection: only empty lines may follow */
    S_UPGRADED,     /* after a message that switches protocols: nothing is HTTP any more */
    S_HEAD,         /* inside an incomplete head (sub: H_*, RQ_*, ST_*, HD_*) */
    S_BODY_LENGTH,  /* Content-Length body; remaining = bytes left */
    S_BODY_CHUNKED, /* chunked body (sub: C_*) */
    S_BODY_EOF,     /* response body read until the connection closes */
    S_ERROR,        /* a call failed (sub: 1 for a limit, 0 otherwise) */
};

/* Sub-states of the incremental head scanner. */
enum {
    H_LEAD,            /* before the start line: empty lines may come */
    H_LEAD_LF,         /* ... after their CR */
    H_LEAD_CLOSED,     /* the same after a message that closed the connection */
    H_LEAD_LF_CLOSED,
    RQ_METHOD,         /* request line: method */
    RQ_TARGET0,        /* first byte of the request-target */
    RQ_TARGET,         /* request-target */
    RQ_09LF,           /* "METHOD target\r": HTTP/0.9 */
    RQ_VERSION,        /* "HTTP/1.1\r\n", mark_ = its first byte */
    ST_VERSION,        /* status line: "HTTP/1.1 " */
    ST_CODE,           /* status code and the byte after it */
    ST_REASON,         /* reason phrase */
    ST_LF,
    HD_START,          /* first byte of a field line, or CR of the final empty line */
    HD_NAME,
    HD_VALUE,
    HD_LF,
    HD_END_LF,
};

/* Sub-states of the chunked decoder. */
enum {
    C_SIZE0,       /* first hex digit of a chunk size */
    C_SIZE,        /* more hex digits */
    C_EXT0,        /* after ";": optional whitespace, then a name */
    C_EXT_NAME,
    C_EXT_VAL0,    /* after "=": optional whitespace, then a token or a quoted string */
    C_EXT_TOKEN,
    C_EXT_QS,      /* inside a quoted string */
    C_EXT_QP,      /* after a backslash in a quoted string */
    C_EXT_VAL_END, /* after a closing quote */
    C_SIZE_LF,     /* the LF ending the chunk-size line */
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    C_TR_START,    /* first byte of a trailer line, or CR of the final empty line */
    C_TR_NAME,
    C_TR_VALUE,
    C_TR_LF,
    C_END_LF,
};

/* Per-message bits in flags_ while a head is parsed. */
enum {
    P_UPGRADE_HDR = 0x01, /* an Upgrade field with a value */
    P_TE = 0x02,          /* a Transfer-Encoding field */
    P_TE_SEEN = 0x04,     /* chunked was among its codings */
    P_TE_LAST = 0x08,     /* the last coding so far is chunked */
    P_TE_BAD = 0x10,      /* unparseable, or chunked applied twice */
    P_HOST_SEEN = 0x20,
    P_HOST_MULTI = 0x40,
};

/* What happens when the message ends, in flags_ once the head is parsed. */
enum { P_KEEP = 0x01, P_UPG = 0x02 };

/* method_lookup's answer for "PRI", the start of the HTTP/2 preface. */
#define PRI_METHOD 0xff

static int fail(sq_http_parser *p, sq_http_error e) {
    p->error = e;
    p->state = S_ERROR;
    p->sub = 0;
    return SQ_EPROTO;
}

static int limit(sq_http_parser *p, sq_http_error e) {
    p->error = e;
    p->state = S_ERROR;
    p->sub = 1;
    return SQ_ELIMIT;
}

void sq_http_parser_init(sq_http_parser *p, sq_http_kind kind) {
    memset(p, 0, sizeof *p);
    p->kind = (uint8_t)kind;
    p->options = kind == SQ_HTTP_REQUEST ? SQ_HTTP_OPT_REQUIRE_HOST : 0;
    p->max_head = 64u * 1024;
    p->max_line = 8u * 1024;
    p->max_body = 100u * 1024 * 1024;
    p->state = S_IDLE;
}

/* The message ends: decide what may follow it. */
static void msg_end(sq_http_parser *p) {
    p->state = (p->flags_ & P_UPG) ? S_UPGRADED : (p->flags_ & P_KEEP) ? S_IDLE : S_CLOSED;
}

/* ------------------------------------------------------------------------ */
/* Scanning helpers.                                                        */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t load8(const char *b) {
    uint64_t x;
    memcpy(&x, b, 8);
    return x;
}

static inline uint32_t load4(const char *b) {
    uint32_t x;
    memcpy(&x, b, 4);
    return x;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SQ_LE 1
/* The index of the first byte flagged in a mask built by the word tricks
 * below: each of them flags the first matching byte exactly (a borrow can
 * only spill into the bytes after it). */
#define FIRST_BYTE(m) ((size_t)__builtin_ctzll(m) >> 3)
#else
#define SQ_LE 0
#endif

static inline size_t scan_token(const char *b, size_t i, size_t lim) {
    while (lim - i >= 4) {
        if (!(CT(b[i]) & T_TOKEN)) return i;
        if (!(CT(b[i + 1]) & T_TOKEN)) return i + 1;
        if (!(CT(b[i + 2]) & T_TOKEN)) return i + 2;
        if (!(CT(b[i + 3]) & T_TOKEN)) return i + 3;
        i += 4;
    }
    while (i < lim && (CT(b[i]) & T_TOKEN)) i++;
    return i;
}

/* Skips field-value bytes. Eight at a time: a word with no control byte and
 * no DEL is skipped whole, otherwise the first such byte is found at once
 * (a tab among them is valid and skipped). */
static inline size_t scan_value(const char *b, size_t i, size_t lim) {
    while (lim - i >= 8) {
        uint64_t x = load8(b + i), y = x ^ (ONES * 0x7f);
        uint64_t m = ((x - ONES * 0x20) & ~x & HIGHS) | ((y - ONES) & ~y & HIGHS);
        if (!m) {
            i += 8;
            continue;
        }
#if SQ_LE
        i += FIRST_BYTE(m);
        if (b[i] != '\t') return i;
        i++;
#else
        break;
#endif
    }
    while (i < lim && (CT(b[i]) & T_VALUE)) i++;
    return i;
}

/* Skips request-target bytes (VCHAR), eight at a time where possible. */
static inline size_t scan_target(const char *b, size_t i, size_t lim) {
    while (lim - i >= 8) {
        uint64_t x = load8(b + i), y = x ^ (ONES * 0x7f);
        uint64_t m = ((x - ONES * 0x21) & ~x & HIGHS) | ((y - ONES) & ~y & HIGHS) | (x & HIGHS);
        if (!m) {
            i += 8;
            continue;
        }
#if SQ_LE
        return i + FIRST_BYTE(m);
#else
        break;
#endif
    }
    while (i < lim && (CT(b[i]) & T_TARGET)) i++;
    return i;
}

/* Compares n >= 4 validated field bytes with a lower-case literal made of
 * letters, digits and '-', a word at a time: among tchar and field-vchar
 * bytes, OR-ing 0x20 maps exactly the upper-case letters to their lower
 * case and leaves the literal's bytes as they are. */
static inline bool lower_eq(const char *s, const char *lit, size_t n) {
    if (n < 8) {
        return ((load4(s) | 0x20202020u) == load4(lit)) &&
               ((load4(s + n - 4) | 0x20202020u) == load4(lit + n - 4));
    }
    size_t i = 0;
    for (; i + 8 < n; i += 8)
        if ((load8(s + i) | ONES * 0x20) != load8(lit + i)) return false;
    return (load8(s + n - 8) | ONES * 0x20) == load8(lit + n - 8);
}

static int method_lookup(const char *m, size_t n) {
    if (n == 3 && m[0] == 'G' && m[1] == 'E' && m[2] == 'T') return SQ_HTTP_GET;
    if (n == 4 && memcmp(m, "POST", 4) == 0) return SQ_HTTP_POST;
    for (int i = 0; i < SQ_HTTP_METHOD_COUNT; i++)
        if (methods[i].len == n && memcmp(methods[i].name, m, n) == 0) return i;
    if (n == 3 && memcmp(m, "PRI", 3) == 0) return PRI_METHOD;
    return -1;
}

/* Characters of an authority (RFC 3986 host, port and userinfo): unreserved,
 * sub-delims, ":", "@", "[", "]" and "%" of percent-encodings. */
static bool authority_char(uint8_t c) {
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    if (c >= '0' && c <= '9') return true;
    return c != 0 && strchr("-._~!$&'()*+,;=:@[]%", c) != NULL;
}

/* A request target that is not origin-form (origin-form starts with "/"):
 * "*" (asterisk-form), an authority for CONNECT (authority-form), or
 * absolute-form "scheme://authority[/path][?query]" (RFC 9112 section 3.2).
 * Anything else is refused, as node's llhttp refuses it. */
static bool target_form_ok(const char *t, size_t n, int method) {
    if (n == 1 && t[0] == '*') return true;
    size_t i = 0;
    if (method == SQ_HTTP_CONNECT) {
        for (; i < n; i++)
            if (!authority_char((uint8_t)t[i])) return false;
        return true;
    }
    /* The scheme: letters only (RFC 3986 also allows digits, "+", "-" and
     * "." after the first letter, but llhttp does not, and squall is never
     * more lenient than node). */
    for (i = 0; i < n && t[i] != ':'; i++)
        if (!(((uint8_t)t[i] | 0x20) >= 'a' && ((uint8_t)t[i] | 0x20) <= 'z')) return false;
    if (i == 0) return false;
    if (n - i < 3 || t[i + 1] != '/' || t[i + 2] != '/') return false;
    for (i += 3; i < n && t[i] != '/' && t[i] != '?'; i++)
        if (!authority_char((uint8_t)t[i])) return false;
    return true;
}

/* Byte k of `"HTTP/" DIGIT "." DIGIT CR LF` ending a request line, which
 * starts at v. Both head parsers use it so that they fail at the same byte
 * with the same error: a major version other than 1 is refused as soon as
 * it is seen (2 only after "PRI", whose line is checked once complete). */
static sq_http_error rq_version_byte(const char *v, size_t k, bool pri) {
    static const char pat[] = "HTTP/0.0\r\n";
    uint8_t c = (uint8_t)v[k];
    switch (k) {
    case 5:
        if (c < '0' || c > '9') return SQ_HTTP_E_VERSION;
        return c == '1' || (pri && c == '2') ? SQ_HTTP_E_OK : SQ_HTTP_E_VERSION_UNSUPPORTED;
    case 7:
        /* HTTP/1.0 and 1.1 only: llhttp (and so node) refuses 1.2 to 1.9, and
         * squall is never more lenient than node. */
        if (c < '0' || c > '9') return SQ_HTTP_E_VERSION;
        return c <= '1' || (pri && v[5] == '2') ? SQ_HTTP_E_OK : SQ_HTTP_E_VERSION_UNSUPPORTED;
    case 8: return c == '\r' ? SQ_HTTP_E_OK : c == '\n' ? SQ_HTTP_E_LF_EXPECTED : SQ_HTTP_E_VERSION;
    case 9: return c == '\n' ? SQ_HTTP_E_OK : SQ_HTTP_E_LF_EXPECTED;
    default: return c == (uint8_t)pat[k] ? SQ_HTTP_E_OK : SQ_HTTP_E_VERSION;
    }
}

/* Byte k of `"HTTP/" DIGIT "." DIGIT SP` starting a status line at v:
 * HTTP/1.x, and HTTP/0.9 as a courtesy to very old servers. */
static sq_http_error st_version_byte(const char *v, size_t k) {
    static const char pat[] = "HTTP/0.0 ";
    uint8_t c = (uint8_t)v[k];
    switch (k) {
    case 5:
        if (c < '0' || c > '9') return SQ_HTTP_E_VERSION;
        return c <= '1' ? SQ_HTTP_E_OK : SQ_HTTP_E_VERSION_UNSUPPORTED;
    case 7:
        if (c < '0' || c > '9') return SQ_HTTP_E_VERSION;
        return v[5] == '1' || c == '9' ? SQ_HTTP_E_OK : SQ_HTTP_E_VERSION_UNSUPPORTED;
    default: return c == (uint8_t)pat[k] ? SQ_HTTP_E_OK : SQ_HTTP_E_VERSION;
    }
}

/* ------------------------------------------------------------------------ */
/* Lines of a head: shared by both head parsers.                            */

/* Parses the request line at b[*pos, lim); on success *pos moves past its
 * CRLF. SQ_INCOMPLETE when lim comes first. */
static inline ALWAYS_INLINE int request_line(sq_http_parser *p, const char *b, size_t *pos,
                                             size_t lim, sq_http_head *h, bool fill) {
    size_t s = *pos, i;
    int m;
    if (lim - s >= 4 && memcmp(b + s, "GET ", 4) == 0) {
        i = s + 3;
        m = SQ_HTTP_GET;
    } else {
        i = scan_token(b, s, lim);
        if (i >= lim) return SQ_INCOMPLETE;
        if (b[i] != ' ' || i == s) return fail(p, SQ_HTTP_E_REQUEST_LINE);
        m = method_lookup(b + s, i - s);
        if (m < 0) return fail(p, SQ_HTTP_E_METHOD);
    }
    size_t t = ++i;
    i = scan_target(b, i, lim);
    if (i >= lim) return SQ_INCOMPLETE;
    if (i == t) return fail(p, SQ_HTTP_E_TARGET);
    if (b[i] != ' ') {
        if (b[i] != '\r') return fail(p, SQ_HTTP_E_TARGET);
        if (i + 1 >= lim) return SQ_INCOMPLETE;
        return fail(p, b[i + 1] == '\n' ? SQ_HTTP_E_HTTP09 : SQ_HTTP_E_LF_EXPECTED);
    }
    /* The target's form is checked at the space that ends it, here and in
     * the incremental scanner alike. */
    if (b[t] != '/' && !target_form_ok(b + t, i - t, m)) return fail(p, SQ_HTTP_E_TARGET);
    size_t te = i++;
    if (!(lim - i >= 10 && memcmp(b + i, "HTTP/1.1\r\n", 10) == 0)) {
        for (size_t k = 0; k < 10; k++) {
            if (i + k >= lim) return SQ_INCOMPLETE;
            sq_http_error e = rq_version_byte(b + i, k, m == PRI_METHOD);
            if (e) return fail(p, e);
        }
    }
    unsigned maj = (unsigned)(b[i + 5] - '0'), min = (unsigned)(b[i + 7] - '0');
    *pos = i + 10;
    if (m == PRI_METHOD) {
        bool preface = te - t == 1 && b[t] == '*' && maj == 2 && min == 0;
        return fail(p, preface ? SQ_HTTP_E_HTTP2_PREFACE : SQ_HTTP_E_METHOD);
    }
    p->vmajor_ = (uint8_t)maj;
    p->vminor_ = (uint8_t)min;
    p->method_ = (uint8_t)m;
    if (fill) {
        h->method = b + s;
        h->method_len = (uint32_t)(t - 1 - s);
        h->method_id = (sq_http_method)m;
        h->target = b + t;
        h->target_len = (uint32_t)(te - t);
    }
    return 0;
}

/* Parses the status line at b[*pos, lim) like request_line(). */
static int status_line(sq_http_parser *p, const char *b, size_t *pos, size_t lim,
                       sq_http_head *h, bool fill) {
    size_t s = *pos, i = s + 9;
    if (!(lim - s >= 9 && memcmp(b + s, "HTTP/1.1 ", 9) == 0)) {
        for (size_t k = 0; k < 9; k++) {
            if (s + k >= lim) return SQ_INCOMPLETE;
            sq_http_error e = st_version_byte(b + s, k);
            if (e) return fail(p, e);
        }
    }
    unsigned code = 0;
    for (size_t k = 0; k < 3; k++, i++) {
        if (i >= lim) return SQ_INCOMPLETE;
        unsigned d = (unsigned)((uint8_t)b[i] - '0');
        if (d > 9) return fail(p, SQ_HTTP_E_STATUS);
        code = code * 10 + d;
    }
    if (i >= lim) return SQ_INCOMPLETE;
    size_t rs = i, re = i;
    if (b[i] == ' ') {
        rs = ++i;
        i = scan_value(b, i, lim);
        if (i >= lim) return SQ_INCOMPLETE;
        re = i;
    }
    if (b[i] != '\r') return fail(p, b[i] == '\n' ? SQ_HTTP_E_LF_EXPECTED : SQ_HTTP_E_STATUS);
    if (i + 1 >= lim) return SQ_INCOMPLETE;
    if (b[i + 1] != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
    *pos = i + 2;
    unsigned maj = (unsigned)(b[s + 5] - '0'), min = (unsigned)(b[s + 7] - '0');
    if (code < 100 || code > 599) return fail(p, SQ_HTTP_E_STATUS);
    p->vmajor_ = (uint8_t)maj;
    p->vminor_ = (uint8_t)min;
    p->status_ = (uint16_t)code;
    if (fill) {
        h->reason = b + rs;
        h->reason_len = (uint32_t)(re - rs);
    }
    return 0;
}

static void on_connection(sq_http_parser *p, const char *v, size_t vl) {
    size_t i = 0;
    while (i < vl) {
        while (i < vl && (v[i] == ',' || v[i] == ' ' || v[i] == '\t')) i++;
        size_t s = i;
        while (i < vl && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        size_t n = e - s;
        if (n == 5 && lower_eq(v + s, "close", 5)) p->hflags_ |= SQ_HTTP_F_CONN_CLOSE;
        else if (n == 10 && lower_eq(v + s, "keep-alive", 10)) p->hflags_ |= SQ_HTTP_F_CONN_KEEP_ALIVE;
        else if (n == 7 && lower_eq(v + s, "upgrade", 7)) p->hflags_ |= SQ_HTTP_F_CONN_UPGRADE;
    }
}

static int on_content_length(sq_http_parser *p, const char *v, size_t vl) {
    if (p->hflags_ & SQ_HTTP_F_HAS_CL) return fail(p, SQ_HTTP_E_CL_CONFLICT);
    if (p->flags_ & P_TE) return fail(p, SQ_HTTP_E_CL_AND_TE);
    if (vl == 0) return fail(p, SQ_HTTP_E_CONTENT_LENGTH);
    uint64_t x = 0;
    for (size_t i = 0; i < vl; i++) {
        unsigned d = (unsigned)((uint8_t)v[i] - '0');
        if (d > 9 || x > (UINT64_MAX - d) / 10) return fail(p, SQ_HTTP_E_CONTENT_LENGTH);
        x = x * 10 + d;
    }
    p->remaining = x;
    p->hflags_ |= SQ_HTTP_F_HAS_CL;
    return 0;
}

/* Transfer-Encoding: a list of transfer-codings, each a token with optional
 * parameters; several fields make one list. What matters is whether the
 * last coding is a bare "chunked" applied once. */
static int on_transfer_encoding(sq_http_parser *p, const char *v, size_t vl) {
    if (p->hflags_ & SQ_HTTP_F_HAS_CL) return fail(p, SQ_HTTP_E_CL_AND_TE);
    p->flags_ |= P_TE;
    size_t i = 0;
    for (bool first = true;; first = false) {
        /* One comma between elements, with optional whitespace around it:
         * an empty element (",chunked", "chunked,", "a,,b") is refused, as
         * node's llhttp refuses it. */
        while (i < vl && (v[i] == ' ' || v[i] == '\t')) i++;
        if (!first) {
            if (i >= vl) break;
            i++; /* the comma that ended the previous element */
            while (i < vl && (v[i] == ' ' || v[i] == '\t')) i++;
        }
        if (i >= vl || v[i] == ',') {
            p->flags_ |= P_TE_BAD;
            break;
        }
        size_t s = i;
        i = scan_token(v, i, vl);
        size_t e = i;
        while (i < vl && (v[i] == ' ' || v[i] == '\t')) i++;
        bool params = i < vl && v[i] == ';';
        if (params) {
            /* Skip the parameters up to the next comma outside quotes. */
            bool q = false;
            for (; i < vl; i++) {
                if (q) {
                    if (v[i] == '\\') i++;
                    else if (v[i] == '"') q = false;
                } else if (v[i] == '"') {
                    q = true;
                } else if (v[i] == ',') {
                    break;
                }
            }
        }
        if (e == s || (i < vl && v[i] != ',')) {
            p->flags_ |= P_TE_BAD;
            break;
        }
        if (!params && e - s == 7 && lower_eq(v + s, "chunked", 7)) {
            if (p->flags_ & P_TE_SEEN) p->flags_ |= P_TE_BAD;
            p->flags_ |= P_TE_SEEN | P_TE_LAST;
        } else {
            p->flags_ &= (uint8_t)~P_TE_LAST;
        }
    }
    return 0;
}

static inline ALWAYS_INLINE int on_host(sq_http_parser *p, sq_http_head *h, bool fill, const char *v,
                                        size_t vl) {
    if (p->flags_ & P_HOST_SEEN) {
        if (p->options & SQ_HTTP_OPT_REQUIRE_HOST) return fail(p, SQ_HTTP_E_HOST_REPEATED);
        p->flags_ |= P_HOST_MULTI;
        return 0;
    }
    p->flags_ |= P_HOST_SEEN;
    if (p->options & SQ_HTTP_OPT_REQUIRE_HOST) {
        unsigned all = T_HOST;
        size_t i = 0;
        for (; i + 4 <= vl; i += 4) all &= CT(v[i]) & CT(v[i + 1]) & CT(v[i + 2]) & CT(v[i + 3]);
        for (; i < vl; i++) all &= CT(v[i]);
        if (!all) return fail(p, SQ_HTTP_E_HOST_INVALID);
    }
    if (fill) {
        h->host = v;
        h->host_len = (uint32_t)vl;
    }
    return 0;
}

/* Whether the whitespace between a trimmed value's end and its line's CR
 * holds an HTAB: node's llhttp allows only SP after Content-Length and
 * Transfer-Encoding values, and squall is never more lenient than node. */
static bool tab_after(const char *q) {
    for (; *q != '\r'; q++)
        if (*q == '\t') return true;
    return false;
}

/* One field of a head: store it, and note the fields that frame the message.
 * The well-known names are found by length, then compared. */
static inline ALWAYS_INLINE int on_header(sq_http_parser *p, sq_http_head *h, bool fill,
                                          const char *n, size_t nl, const char *v, size_t vl) {
    if (p->nhdr_ >= h->max_headers) return limit(p, SQ_HTTP_E_TOO_MANY_HEADERS);
    if (fill) {
        sq_http_header *x = &h->headers[p->nhdr_];
        x->name = n;
        x->name_len = (uint32_t)nl;
        x->value = v;
        x->value_len = (uint32_t)vl;
    }
    p->nhdr_++;
    switch (nl) {
    case 4:
        if (p->kind == SQ_HTTP_REQUEST && lower_eq(n, "host", 4)) return on_host(p, h, fill, v, vl);
        break;
    case 6:
        if (p->kind == SQ_HTTP_REQUEST && lower_eq(n, "expect", 6) && vl == 12 &&
            lower_eq(v, "100-continue", 12))
            p->hflags_ |= SQ_HTTP_F_EXPECT_CONTINUE;
        break;
    case 7:
        if (vl && lower_eq(n, "upgrade", 7)) p->flags_ |= P_UPGRADE_HDR;
        break;
    case 10:
        if (lower_eq(n, "connection", 10)) on_connection(p, v, vl);
        break;
    case 14:
        /* HTAB around the value is accepted here: llhttp 9.4.2's vectors
         * accept it, although the llhttp 9.3.1 inside node 20 refuses a
         * trailing one (the differential test lists this as a documented
         * version difference). */
        if (lower_eq(n, "content-length", 14)) return on_content_length(p, v, vl);
        break;
    case 17:
        if (lower_eq(n, "transfer-encoding", 17)) {
            if (tab_after(v + vl)) return fail(p, SQ_HTTP_E_TRANSFER_ENCODING);
            return on_transfer_encoding(p, v, vl);
        }
        break;
    }
    return 0;
}

/* Parses one field line at b[*pos, lim) (its first byte is not CR). */
static inline ALWAYS_INLINE int header_line(sq_http_parser *p, const char *b, size_t *pos,
                                            size_t lim, sq_http_head *h, bool fill) {
    size_t s = *pos;
    uint8_t c = (uint8_t)b[s];
    if (!(CT(c) & T_TOKEN)) {
        return fail(p, c == '\n'            ? SQ_HTTP_E_LF_EXPECTED
                       : (CT(c) & T_WS) ? SQ_HTTP_E_OBS_FOLD
                                        : SQ_HTTP_E_HEADER_NAME);
    }
    size_t i = scan_token(b, s + 1, lim);
    if (i >= lim) return SQ_INCOMPLETE;
    if (b[i] != ':')
        return fail(p, (CT(b[i]) & T_WS) ? SQ_HTTP_E_SPACE_BEFORE_COLON : SQ_HTTP_E_HEADER_NAME);
    size_t ne = i++;
    while (i < lim && (CT(b[i]) & T_WS)) i++; /* OWS, not part of the value */
    size_t vs = i;
    i = scan_value(b, i, lim);
    if (i >= lim) return SQ_INCOMPLETE;
    if (b[i] != '\r') return fail(p, b[i] == '\n' ? SQ_HTTP_E_LF_EXPECTED : SQ_HTTP_E_HEADER_VALUE);
    if (i + 1 >= lim) return SQ_INCOMPLETE;
    if (b[i + 1] != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
    *pos = i + 2;
    size_t ve = i;
    while (ve > vs && (CT(b[ve - 1]) & T_WS)) ve--;
    return on_header(p, h, fill, b + s, ne - s, b + vs, ve - vs);
}

/* ------------------------------------------------------------------------ */
/* Heads.                                                                   */

/* Decides how the message is framed once its head is complete. */
static int finish_head(sq_http_parser *p, sq_http_head *h, size_t n) {
    uint32_t f = p->hflags_;
    uint8_t pf = p->flags_;
    bool v11 = p->vmajor_ == 1 && p->vminor_ >= 1;

    /* The common case, decided in a few steps: an HTTP/1.1 request with one
     * Host and no field that touches framing or the connection. */
    if (f == 0 && pf == P_HOST_SEEN && v11 && p->kind == SQ_HTTP_REQUEST &&
        p->method_ != SQ_HTTP_CONNECT) {
        h->num_headers = p->nhdr_;
        h->version_major = 1;
        h->version_minor = p->vminor_;
        h->status = 0;
        h->flags = SQ_HTTP_F_KEEP_ALIVE | SQ_HTTP_F_HAS_HOST;
        h->body = SQ_HTTP_BODY_NONE;
        h->content_length = 0;
        p->flags_ = P_KEEP;
        p->scanned = 0;
        p->body_seen = 0;
        p->line_len = 0;
        p->state = S_IDLE;
        return (int)n;
    }
    bool chunked = (pf & P_TE_LAST) && !(pf & P_TE_BAD);
    bool upgrade = false;
    sq_http_body_kind body;

    if (p->kind == SQ_HTTP_REQUEST) {
        if (pf & P_HOST_SEEN) {
            if (!(pf & P_HOST_MULTI)) f |= SQ_HTTP_F_HAS_HOST;
        } else if ((p->options & SQ_HTTP_OPT_REQUIRE_HOST) && v11) {
            return fail(p, SQ_HTTP_E_HOST_MISSING);
        }
        if (pf & P_TE) {
            if (!chunked) return fail(p, SQ_HTTP_E_TRANSFER_ENCODING);
            body = SQ_HTTP_BODY_CHUNKED;
        } else {
            body = p->remaining ? SQ_HTTP_BODY_LENGTH : SQ_HTTP_BODY_NONE;
        }
        if (p->method_ == SQ_HTTP_CONNECT) {
            body = SQ_HTTP_BODY_NONE; /* what follows belongs to the tunnel */
            upgrade = true;
        } else if ((f & SQ_HTTP_F_CONN_UPGRADE) && (pf & P_UPGRADE_HDR) && v11) {
            upgrade = true; /* RFC 9110 7.8: Upgrade is ignored in HTTP/1.0 */
        }
        if (!v11) f &= ~(uint32_t)SQ_HTTP_F_EXPECT_CONTINUE;
    } else {
        unsigned st = p->status_;
        if (st < 200) {
            body = SQ_HTTP_BODY_NONE;
            upgrade = st == 101;
        } else if (st == 204 || st == 304 || (p->options & SQ_HTTP_OPT_HEAD_RESPONSE)) {
            body = SQ_HTTP_BODY_NONE;
        } else if (pf & P_TE) {
            body = chunked ? SQ_HTTP_BODY_CHUNKED : SQ_HTTP_BODY_EOF;
        } else if (f & SQ_HTTP_F_HAS_CL) {
            body = p->remaining ? SQ_HTTP_BODY_LENGTH : SQ_HTTP_BODY_NONE;
        } else {
            body = SQ_HTTP_BODY_EOF;
        }
    }
    if (chunked) f |= SQ_HTTP_F_CHUNKED;

    bool keep;
    if (v11) keep = !(f & SQ_HTTP_F_CONN_CLOSE);
    else keep = (f & SQ_HTTP_F_CONN_KEEP_ALIVE) && !(f & SQ_HTTP_F_CONN_CLOSE);
    if (body == SQ_HTTP_BODY_EOF || ((pf & P_TE) && !v11)) keep = false;
    if (p->kind == SQ_HTTP_RESPONSE && p->status_ < 200 && !upgrade) keep = true; /* interim */
    if (keep) f |= SQ_HTTP_F_KEEP_ALIVE;
    if (upgrade) f |= SQ_HTTP_F_UPGRADE;

    uint64_t cl = body == SQ_HTTP_BODY_LENGTH ? p->remaining : 0;
    if (cl > p->max_body) return limit(p, SQ_HTTP_E_BODY_TOO_LARGE);

    h->num_headers = p->nhdr_;
    h->version_major = p->vmajor_;
    h->version_minor = p->vminor_;
    h->status = p->status_;
    h->flags = f;
    h->body = body;
    h->content_length = cl;

    p->flags_ = (uint8_t)((keep ? P_KEEP : 0) | (upgrade ? P_UPG : 0));
    p->scanned = 0;
    p->body_seen = 0;
    p->line_len = 0;
    p->remaining = cl;
    switch (body) {
    case SQ_HTTP_BODY_NONE: msg_end(p); break;
    case SQ_HTTP_BODY_LENGTH: p->state = S_BODY_LENGTH; break;
    case SQ_HTTP_BODY_CHUNKED:
        p->state = S_BODY_CHUNKED;
        p->sub = C_SIZE0;
        break;
    case SQ_HTTP_BODY_EOF: p->state = S_BODY_EOF; break;
    }
    return (int)n;
}

static int head_scan(sq_http_parser *p, const char *b, size_t len, sq_http_head *h);

/* The fast path ran out of bytes in the line that starts at ls: the
 * incremental scanner takes over from there (unless it called). */
static int head_incomplete(sq_http_parser *p, const char *b, size_t len, sq_http_head *h,
                           size_t ls, unsigned sub, bool scan) {
    p->state = S_HEAD;
    p->sub = (uint8_t)sub;
    p->saved_ = (uint32_t)ls;
    p->mark_ = (uint32_t)ls;
    p->scanned = (uint32_t)ls;
    return scan ? head_scan(p, b, len, h) : SQ_INCOMPLETE;
}

/* The limits as offsets: a head's length must fit an int (the return
 * value), and the request line bound must not wrap a 32-bit size_t. */
static size_t max_head(const sq_http_parser *p) {
    return p->max_head < (uint32_t)INT_MAX ? p->max_head : (size_t)INT_MAX;
}

static size_t max_line(const sq_http_parser *p) {
    return p->max_line < (uint32_t)INT_MAX - 2 ? (size_t)p->max_line + 2 : (size_t)INT_MAX;
}

/* Parses a whole head from b[0, len) in one pass. When it is incomplete,
 * the incremental scanner validates the rest unless `scan` is false (the
 * scanner itself calling). */
static int head_fast(sq_http_parser *p, const char *b, size_t len, sq_http_head *h, bool closed,
                     bool scan) {
    size_t mh = max_head(p), lim = len < mh ? len : mh, i = 0;
    int r;

    p->hflags_ = 0;
    p->flags_ = 0;
    p->nhdr_ = 0;
    p->status_ = 0;
    p->vmajor_ = p->vminor_ = 0;
    p->method_ = 0;
    p->remaining = 0;
    h->method = h->target = h->reason = h->host = NULL;
    h->method_len = h->target_len = h->reason_len = h->host_len = 0;
    h->method_id = (sq_http_method)0;

    /* Empty lines before the start line are skipped (RFC 9112 section 2.2). */
    for (;;) {
        if (i >= lim || (b[i] == '\r' && i + 1 >= lim)) {
            if (lim < len) return limit(p, SQ_HTTP_E_HEAD_TOO_LARGE);
            return head_incomplete(p, b, len, h, i, closed ? H_LEAD_CLOSED : H_LEAD, scan);
        }
        if (b[i] != '\r') break;
        if (b[i + 1] != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
        i += 2;
    }
    if (b[i] == '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
    if (closed) return fail(p, SQ_HTTP_E_CLOSED);

    size_t ls = i;
    if (p->kind == SQ_HTTP_REQUEST) {
        size_t ml = max_line(p);
        size_t rlim = lim - ls > ml ? ls + ml : lim;
        r = request_line(p, b, &i, rlim, h, true);
        if (r == SQ_INCOMPLETE) {
            if (rlim >= len) return head_incomplete(p, b, len, h, ls, RQ_METHOD, scan);
            return limit(p, rlim == mh ? SQ_HTTP_E_HEAD_TOO_LARGE : SQ_HTTP_E_TARGET_TOO_LONG);
        }
    } else {
        r = status_line(p, b, &i, lim, h, true);
        if (r == SQ_INCOMPLETE) {
            if (lim >= len) return head_incomplete(p, b, len, h, ls, ST_VERSION, scan);
            return limit(p, SQ_HTTP_E_HEAD_TOO_LARGE);
        }
    }
    if (r) return r;

    for (;;) {
        if (i >= lim) break;
        if (b[i] == '\r') {
            if (i + 1 >= lim) break;
            if (b[i + 1] != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
            return finish_head(p, h, i + 2);
        }
        size_t s = i;
        r = header_line(p, b, &i, lim, h, true);
        if (r == SQ_INCOMPLETE) {
            i = s;
            break;
        }
        if (r) return r;
    }
    if (lim < len) return limit(p, SQ_HTTP_E_HEAD_TOO_LARGE);
    return head_incomplete(p, b, len, h, i, HD_START, scan);
}

/* Validates an incomplete head byte by byte from p->scanned. Completed
 * lines go through the fast path's line functions; the final empty line
 * hands the whole head to head_fast(). */
static int head_scan(sq_http_parser *p, const char *b, size_t len, sq_http_head *h) {
    size_t mh = max_head(p), ml = max_line(p);
    size_t i = p->scanned, ls = p->saved_, mk = p->mark_, pos;
    unsigned sub = p->sub;
    sq_http_error e;
    int r;

    for (; i < len; i++) {
        if (i >= mh) return limit(p, SQ_HTTP_E_HEAD_TOO_LARGE);
        if (sub >= RQ_METHOD && sub <= RQ_VERSION && i - ls >= ml)
            return limit(p, SQ_HTTP_E_TARGET_TOO_LONG);
        uint8_t c = (uint8_t)b[i], t = ctab[c];
        switch (sub) {
        case H_LEAD:
        case H_LEAD_CLOSED:
            if (c == '\r') {
                sub++;
                continue;
            }
            if (c == '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
            if (sub == H_LEAD_CLOSED) return fail(p, SQ_HTTP_E_CLOSED);
            ls = mk = i;
            if (p->kind == SQ_HTTP_RESPONSE) {
                sub = ST_VERSION;
                goto st_version;
            }
            sub = RQ_METHOD;
            /* fall through */
        case RQ_METHOD:
            if (t & T_TOKEN) continue;
            if (c != ' ' || i == ls) return fail(p, SQ_HTTP_E_REQUEST_LINE);
            if (method_lookup(b + ls, i - ls) < 0) return fail(p, SQ_HTTP_E_METHOD);
            sub = RQ_TARGET0;
            continue;
        case H_LEAD_LF:
        case H_LEAD_LF_CLOSED:
            if (c != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
            sub--;
            continue;
        case RQ_TARGET0:
            if (!(t & T_TARGET)) return fail(p, SQ_HTTP_E_TARGET);
            sub = RQ_TARGET;
            continue;
        case RQ_TARGET:
            if (t & T_TARGET) continue;
            if (c == ' ') {
                /* The method ends at the line's first space. */
                const char *sp = memchr(b + ls, ' ', i - ls);
                size_t ts = (size_t)(sp - b) + 1;
                if (b[ts] != '/' && !target_form_ok(b + ts, i - ts, method_lookup(b + ls, ts - 1 - ls)))
                    return fail(p, SQ_HTTP_E_TARGET);
                sub = RQ_VERSION;
                mk = i + 1;
                continue;
            }
            if (c == '\r') {
                sub = RQ_09LF;
                continue;
            }
            return fail(p, SQ_HTTP_E_TARGET);
        case RQ_09LF: return fail(p, c == '\n' ? SQ_HTTP_E_HTTP09 : SQ_HTTP_E_LF_EXPECTED);
        case RQ_VERSION:
            /* Bytes 5 and 7 (the digits) depend on whether the method is
             * PRI, as they do in request_line(). */
            if ((e = rq_version_byte(b + mk, i - mk, (i - mk == 5 || i - mk == 7) &&
                                                          memcmp(b + ls, "PRI ", 4) == 0)))
                return fail(p, e);
            if (i - mk < 9) continue;
            pos = ls;
            if ((r = request_line(p, b, &pos, i + 1, h, false))) goto line_failed;
            ls = i + 1;
            sub = HD_START;
            continue;
        case ST_VERSION:
        st_version:
            if ((e = st_version_byte(b + ls, i - ls))) return fail(p, e);
            if (i - ls == 8) sub = ST_CODE;
            continue;
        case ST_CODE:
            if (i - ls < 12) {
                if (c < '0' || c > '9') return fail(p, SQ_HTTP_E_STATUS);
                continue;
            }
            if (c == ' ') sub = ST_REASON;
            else if (c == '\r') sub = ST_LF;
            else return fail(p, c == '\n' ? SQ_HTTP_E_LF_EXPECTED : SQ_HTTP_E_STATUS);
            continue;
        case ST_REASON:
            if (t & T_VALUE) continue;
            if (c != '\r') return fail(p, c == '\n' ? SQ_HTTP_E_LF_EXPECTED : SQ_HTTP_E_STATUS);
            sub = ST_LF;
            continue;
        case ST_LF:
            if (c != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
            pos = ls;
            if ((r = status_line(p, b, &pos, i + 1, h, false))) goto line_failed;
            ls = i + 1;
            sub = HD_START;
            continue;
        case HD_START:
            if (c == '\r') {
                sub = HD_END_LF;
                continue;
            }
            if (!(t & T_TOKEN)) {
                return fail(p, c == '\n'    ? SQ_HTTP_E_LF_EXPECTED
                               : (t & T_WS) ? SQ_HTTP_E_OBS_FOLD
                                            : SQ_HTTP_E_HEADER_NAME);
            }
            sub = HD_NAME;
            continue;
        case HD_NAME:
            if (t & T_TOKEN) continue;
            if (c != ':')
                return fail(p, (t & T_WS) ? SQ_HTTP_E_SPACE_BEFORE_COLON : SQ_HTTP_E_HEADER_NAME);
            sub = HD_VALUE;
            continue;
        case HD_VALUE:
            if (t & T_VALUE) continue;
            if (c != '\r') return fail(p, c == '\n' ? SQ_HTTP_E_LF_EXPECTED : SQ_HTTP_E_HEADER_VALUE);
            sub = HD_LF;
            continue;
        case HD_LF:
            if (c != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
            pos = ls;
            if ((r = header_line(p, b, &pos, i + 1, h, false))) goto line_failed;
            ls = i + 1;
            sub = HD_START;
            continue;
        case HD_END_LF:
            if (c != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
            /* The head is complete: parse it whole to fill *h. */
            r = head_fast(p, b, i + 1, h, false, false);
            if (r == SQ_INCOMPLETE) return fail(p, SQ_HTTP_E_HEADER_NAME); /* cannot happen */
            return r;
        }
    }
    p->scanned = (uint32_t)i;
    p->saved_ = (uint32_t)ls;
    p->mark_ = (uint32_t)mk;
    p->sub = (uint8_t)sub;
    return SQ_INCOMPLETE;

line_failed:
    /* A line the scanner accepted byte by byte failed its meaning checks;
     * SQ_INCOMPLETE here would mean the two parsers disagree. */
    if (r == SQ_INCOMPLETE) return fail(p, SQ_HTTP_E_HEADER_NAME);
    return r;
}

int sq_http_parse_head(sq_http_parser *p, const char *buf, size_t len, sq_http_head *head) {
    switch (p->state) {
    case S_IDLE:
    case S_CLOSED: return head_fast(p, buf, len, head, p->state == S_CLOSED, true);
    case S_HEAD:
        if (len < p->scanned) return SQ_ESTATE; /* the caller dropped bytes it had to keep */
        return head_scan(p, buf, len, head);
    case S_UPGRADED: return fail(p, SQ_HTTP_E_CLOSED);
    case S_ERROR: return p->sub ? SQ_ELIMIT : SQ_EPROTO;
    default: return SQ_ESTATE;
    }
}

/* ------------------------------------------------------------------------ */
/* Bodies.                                                                  */

static inline unsigned hexval(uint8_t c) {
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* Decodes chunked framing from b[0, len); stops after a data span. */
/* Trailer names are matched against "content-length" and
 * "transfer-encoding" a byte at a time (a name may span reads): the low 8
 * bits of the state count the bytes seen (saturating), bits 8 and 9 say
 * whether each literal still matches. */
#define TR_CL 0x100u
#define TR_TE 0x200u
#define TR_BOTH (TR_CL | TR_TE)

static uint32_t tr_name_step(uint32_t flags, uint32_t k, uint8_t c) {
    static const char cl[] = "content-length", te[] = "transfer-encoding";
    uint8_t lc = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if ((flags & TR_CL) && (k >= sizeof cl - 1 || (uint8_t)cl[k] != lc)) flags &= ~TR_CL;
    if ((flags & TR_TE) && (k >= sizeof te - 1 || (uint8_t)te[k] != lc)) flags &= ~TR_TE;
    return flags | (k < 255 ? k + 1 : 255);
}

static bool tr_name_framing(uint32_t st) {
    uint32_t k = st & 0xffu;
    return ((st & TR_CL) && k == 14) || ((st & TR_TE) && k == 17);
}

static int64_t chunked(sq_http_parser *p, const char *b, size_t len, sq_http_span *sp) {
    size_t i = 0, ts = SIZE_MAX, te = 0;
    unsigned sub = p->sub;
    if (sub == C_TR_NAME || sub == C_TR_VALUE || sub == C_TR_LF) ts = 0;

    while (i < len) {
        if (sub == C_DATA) {
            uint64_t n = p->remaining;
            if (n > len - i) n = len - i;
            sp->kind = SQ_HTTP_SPAN_DATA;
            sp->data = b + i;
            sp->len = (size_t)n;
            p->remaining -= n;
            p->body_seen += n;
            i += (size_t)n;
            if (!p->remaining) sub = C_DATA_CR;
            break; /* one span per call */
        }
        uint8_t c = (uint8_t)b[i], t = ctab[c];
        /* The chunk-size line (CRLF included) may take max_line + 2 bytes,
         * the trailer section max_head. */
        if (sub <= C_SIZE_LF) {
            if (p->line_len >= max_line(p)) return limit(p, SQ_HTTP_E_CHUNK_EXTENSION);
            p->line_len++;
        } else if (sub >= C_TR_START) {
            if (p->line_len >= max_head(p)) return limit(p, SQ_HTTP_E_HEAD_TOO_LARGE);
            p->line_len++;
        }
        switch (sub) {
        case C_SIZE0:
            if (!(t & T_HEX)) return fail(p, SQ_HTTP_E_CHUNK_SIZE);
            p->remaining = hexval(c);
            sub = C_SIZE;
            break;
        case C_SIZE:
            if (t & T_HEX) {
                /* The size must stay below 2^63. */
                if (p->remaining >> 59) return fail(p, SQ_HTTP_E_CHUNK_SIZE);
                p->remaining = p->remaining << 4 | hexval(c);
            } else if (c == '\r') {
                sub = C_SIZE_LF;
            } else if (c == ';') {
                sub = C_EXT0;
            } else {
                return fail(p, SQ_HTTP_E_CHUNK_SIZE);
            }
            break;
        /* Chunk extensions: ";name[=token|quoted-string]" with no whitespace
         * around ";" or "=": RFC 9112 allows BWS there, but node's llhttp
         * refuses it, and squall is never more lenient than node. */
        case C_EXT0:
            if (t & T_TOKEN) sub = C_EXT_NAME;
            else return fail(p, SQ_HTTP_E_CHUNK_EXTENSION);
            break;
        case C_EXT_NAME:
            if (t & T_TOKEN) break;
            if (c == '=') sub = C_EXT_VAL0;
            else if (c == ';') sub = C_EXT0;
            else if (c == '\r') sub = C_SIZE_LF;
            else return fail(p, SQ_HTTP_E_CHUNK_EXTENSION);
            break;
        case C_EXT_VAL0:
            if (c == '"') sub = C_EXT_QS;
            else if (t & T_TOKEN) sub = C_EXT_TOKEN;
            else return fail(p, SQ_HTTP_E_CHUNK_EXTENSION);
            break;
        case C_EXT_TOKEN:
            if (t & T_TOKEN) break;
            /* fall through */
        case C_EXT_VAL_END:
            if (c == ';') sub = C_EXT0;
            else if (c == '\r') sub = C_SIZE_LF;
            else return fail(p, SQ_HTTP_E_CHUNK_EXTENSION);
            break;
        case C_EXT_QS:
            if (c == '"') sub = C_EXT_VAL_END;
            else if (c == '\\') sub = C_EXT_QP;
            else if (!(t & T_QDTEXT)) return fail(p, SQ_HTTP_E_CHUNK_EXTENSION);
            break;
        case C_EXT_QP:
            if (!(t & T_VALUE)) return fail(p, SQ_HTTP_E_CHUNK_EXTENSION);
            sub = C_EXT_QS;
            break;
        case C_SIZE_LF:
            if (c != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
            p->line_len = 0;
            if (p->remaining == 0) {
                sub = C_TR_START;
            } else {
                if (p->remaining > p->max_body - p->body_seen)
                    return limit(p, SQ_HTTP_E_BODY_TOO_LARGE);
                sub = C_DATA;
            }
            break;
        case C_DATA_CR:
            if (c != '\r') return fail(p, SQ_HTTP_E_CHUNK_DATA);
            sub = C_DATA_LF;
            break;
        case C_DATA_LF:
            if (c != '\n') return fail(p, SQ_HTTP_E_CHUNK_DATA);
            p->line_len = 0;
            sub = C_SIZE0;
            break;
        case C_TR_START:
            if (c == '\r') {
                sub = C_END_LF;
                break;
            }
            if (!(t & T_TOKEN)) return fail(p, c == '\n' ? SQ_HTTP_E_LF_EXPECTED : SQ_HTTP_E_TRAILER);
            if (ts == SIZE_MAX) ts = i;
            te = i + 1;
            sub = C_TR_NAME;
            p->saved_ = tr_name_step(TR_BOTH, 0, c);
            break;
        case C_TR_NAME:
            if (c == ':') {
                /* Framing fields may not hide in trailers (RFC 9110 6.5.1);
                 * node refuses them too. */
                if (tr_name_framing(p->saved_)) return fail(p, SQ_HTTP_E_TRAILER);
                sub = C_TR_VALUE;
            } else if (!(t & T_TOKEN)) {
                return fail(p, SQ_HTTP_E_TRAILER);
            } else {
                p->saved_ = tr_name_step(p->saved_ & ~0xffu, (p->saved_ & 0xffu), c);
            }
            te = i + 1;
            break;
        case C_TR_VALUE:
            if (c == '\r') sub = C_TR_LF;
            else if (!(t & T_VALUE)) return fail(p, c == '\n' ? SQ_HTTP_E_LF_EXPECTED : SQ_HTTP_E_TRAILER);
            te = i + 1;
            break;
        case C_TR_LF:
            if (c != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
            sub = C_TR_START;
            te = i + 1;
            break;
        case C_END_LF:
            if (c != '\n') return fail(p, SQ_HTTP_E_LF_EXPECTED);
            i++;
            goto done;
        }
        i++;
    }
    p->sub = (uint8_t)sub;
    if (ts != SIZE_MAX && te > ts) {
        sp->kind = SQ_HTTP_SPAN_TRAILER;
        sp->data = b + ts;
        sp->len = te - ts;
    }
    return (int64_t)i;

done:
    if (ts != SIZE_MAX && te > ts) {
        sp->kind = SQ_HTTP_SPAN_TRAILER;
        sp->data = b + ts;
        sp->len = te - ts;
    }
    msg_end(p);
    return (int64_t)i;
}

int64_t sq_http_parse_body(sq_http_parser *p, const char *buf, size_t len, sq_http_span *span) {
    span->kind = SQ_HTTP_SPAN_NONE;
    span->data = NULL;
    span->len = 0;
    switch (p->state) {
    case S_BODY_LENGTH: {
        uint64_t n = p->remaining < len ? p->remaining : len;
        if (n) {
            span->kind = SQ_HTTP_SPAN_DATA;
            span->data = buf;
            span->len = (size_t)n;
        }
        p->remaining -= n;
        p->body_seen += n;
        if (!p->remaining) msg_end(p);
        return (int64_t)n;
    }
    case S_BODY_CHUNKED: return chunked(p, buf, len, span);
    case S_BODY_EOF: {
        /* Up to max_body bytes are delivered, whatever the pieces they come
         * in; a byte beyond them is the error. */
        uint64_t room = p->max_body - p->body_seen, n = len < room ? len : room;
        if (len && !room) return limit(p, SQ_HTTP_E_BODY_TOO_LARGE);
        if (n) {
            span->kind = SQ_HTTP_SPAN_DATA;
            span->data = buf;
            span->len = (size_t)n;
        }
        p->body_seen += n;
        return (int64_t)n;
    }
    case S_IDLE:
    case S_CLOSED:
    case S_UPGRADED: return 0;
    case S_ERROR: return p->sub ? SQ_ELIMIT : SQ_EPROTO;
    default: return SQ_ESTATE;
    }
}

bool sq_http_body_done(const sq_http_parser *p) {
    return p->state == S_IDLE || p->state == S_CLOSED || p->state == S_UPGRADED;
}

int sq_http_parse_eof(sq_http_parser *p) {
    switch (p->state) {
    case S_IDLE:
    case S_CLOSED:
    case S_UPGRADED: return 0;
    case S_HEAD:
        /* Only empty lines so far: nothing was cut short. */
        return p->sub <= H_LEAD_LF_CLOSED ? 0 : SQ_EPROTO;
    case S_BODY_EOF:
        p->state = S_CLOSED;
        return 0;
    default: return SQ_EPROTO;
    }
}

int sq_http_parse_trailers(const char *b, size_t len, sq_http_header *hs, size_t max) {
    size_t i = 0;
    int n = 0;
    while (i < len) {
        size_t s = i;
        i = scan_token(b, i, len);
        if (i == s || i >= len || b[i] != ':') return SQ_EPROTO;
        size_t ne = i++;
        i = scan_value(b, i, len);
        if (i + 1 >= len || b[i] != '\r' || b[i + 1] != '\n') return SQ_EPROTO;
        size_t vs = ne + 1, ve = i;
        while (vs < ve && (b[vs] == ' ' || b[vs] == '\t')) vs++;
        while (ve > vs && (b[ve - 1] == ' ' || b[ve - 1] == '\t')) ve--;
        if ((size_t)n >= max || n == INT_MAX) return SQ_ELIMIT;
        hs[n].name = b + s;
        hs[n].name_len = (uint32_t)(ne - s);
        hs[n].value = b + vs;
        hs[n].value_len = (uint32_t)(ve - vs);
        n++;
        i += 2;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Header lookup.                                                           */

static inline uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c; }

bool sq_http_header_is(const sq_http_header *h, const char *name) {
    size_t n = strlen(name);
    if (n != h->name_len) return false;
    for (size_t i = 0; i < n; i++)
        if (lower((uint8_t)h->name[i]) != lower((uint8_t)name[i])) return false;
    return true;
}

const sq_http_header *sq_http_head_find(const sq_http_head *head, const char *name) {
    for (uint32_t i = 0; i < head->num_headers; i++)
        if (sq_http_header_is(&head->headers[i], name)) return &head->headers[i];
    return NULL;
}
