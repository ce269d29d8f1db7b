/* squall: the pure codecs of the web layer (Tornado's httputil and escape).
 *
 * Percent-encoding, form and query strings, header parameters,
 * multipart/form-data, cookies (parsing and Set-Cookie), signed values
 * (Tornado's "secure cookies"), XSRF tokens, HTML and JSON escaping and
 * ETags. Every function here is pure: no I/O, no global state, and no
 * allocation of its own. The only exception is the cryptography (HMAC,
 * SHA-1), which calls OpenSSL 3; OpenSSL may allocate internally and a
 * failure there is reported as SQ_ENOMEM.
 *
 * Conventions shared by every function below:
 *
 * - Input is (pointer, length); it need not be NUL-terminated and may hold
 *   any bytes. A NULL pointer is allowed with a length of 0.
 * - Output goes to a caller-provided buffer (out, cap). When the buffer is
 *   too small the function answers SQ_ELIMIT and sets *out_len to the size
 *   it needs, so a caller may ask first with (NULL, 0). Output is never
 *   NUL-terminated unless the comment says so.
 * - Parsed spans point into the caller's input (zero copy) and live as long
 *   as that input. Where decoding changes the bytes (percent-escapes,
 *   backslash-escapes) the decoded form is written into a caller buffer
 *   instead; the comment of each iterator says how long that copy lives.
 * - Behaviour follows Tornado 6.2 as Debian ships it, byte for byte, unless
 *   docs/reference/codec.md lists a difference. Where Tornado would log a
 *   warning and drop malformed input, squall reports an error (SQ_EPROTO,
 *   SQ_ELIMIT) so that the web layer can answer 400.
 *
 * Nothing here is thread-safe in the sense of sharing one iterator between
 * threads; distinct calls on distinct data may run on any thread.
 */
#ifndef SQUALL_CODEC_H
#define SQUALL_CODEC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Percent-encoding (Tornado's url_escape / url_unescape)                   */
/* ------------------------------------------------------------------------ */

/* Decodes %XY escapes (hex digits in either case) in the len bytes at in,
 * writing the result to out, and returns its length (never more than len).
 * out may equal in (decoding in place); otherwise the two must not overlap.
 * With plus_as_space, '+' becomes ' ' first (form and query style, Tornado's
 * url_unescape(plus=True)); without it '+' stays (path style). An invalid
 * escape ("%", "%4", "%zz") is kept literally, as Python's unquote does.
 * The result is bytes: no character-set decoding happens here. */
SQ_EXTERN size_t sq_url_unescape(const char *in, size_t len, char *out, bool plus_as_space);

/* Percent-encodes len bytes as Tornado's url_escape does: letters, digits
 * and "_.-~" stay; with plus (quote_plus, Tornado's default) ' ' becomes '+'
 * and '/' is escaped; without plus (quote) ' ' becomes "%20" and '/' stays.
 * Every other byte becomes %XY with uppercase hex. Writes to out (cap
 * bytes); *out_len gets the encoded length. Returns 0, or SQ_ELIMIT when cap
 * is too small (*out_len is then the size needed: at most 3 * len). */
SQ_EXTERN int sq_url_escape(const char *in, size_t len, char *out, size_t cap, bool plus,
                            size_t *out_len);

/* ------------------------------------------------------------------------ */
/* application/x-www-form-urlencoded and query strings                      */
/* ------------------------------------------------------------------------ */

/* An iterator over name=value pairs, Python's parse_qsl(keep_blank_values=
 * True) as Tornado's parse_qs_bytes uses it: split on '&' only, empty
 * segments skipped, a segment without '=' gives an empty value, names and
 * values are '+'-to-space and percent decoded. Initialise with
 * sq_form_init(); the fields are private. */
typedef struct sq_form_iter {
    const char *p;
    const char *end;
    char *buf;
    size_t cap;
    uint32_t pairs;
    uint32_t max_pairs;
    int err;
} sq_form_iter;

/* Prepares it to walk the len bytes at data (a query string without its '?',
 * or a form body). buf (cap bytes, owned by the caller) receives names and
 * values that decoding changes; a buffer of len bytes always suffices, and
 * one as large as the longest pair does too. max_pairs bounds the number of
 * pairs returned (0: no bound). data and buf must outlive the iteration. */
SQ_EXTERN void sq_form_init(sq_form_iter *it, const char *data, size_t len, char *buf, size_t cap,
                            uint32_t max_pairs);

/* Returns the next pair: 1 and the decoded name and value, 0 at the end, or
 * a negative error: SQ_ELIMIT when there are more than max_pairs pairs or a
 * pair that needs decoding does not fit in buf. An error is sticky. The
 * spans point into data when decoding changed nothing and into buf
 * otherwise; those in buf are valid until the next call. */
SQ_EXTERN int sq_form_next(sq_form_iter *it, const char **name, size_t *name_len,
                           const char **value, size_t *value_len);

/* ------------------------------------------------------------------------ */
/* Header values with parameters (Tornado's httputil._parse_header)         */
/* ------------------------------------------------------------------------ */

/* The main value of a header like Content-Type or Content-Disposition: the
 * text before the first ';' that is outside a quoted string, without
 * surrounding whitespace. Returns a pointer into value and sets *main_len. */
SQ_EXTERN const char *sq_header_main(const char *value, size_t len, size_t *main_len);

/* An iterator over the parameters after the main value. Private fields. */
typedef struct sq_header_params {
    const char *p;
    const char *end;
} sq_header_params;

/* Prepares it to walk the parameters of the len bytes at value, which must
 * outlive the iteration. */
SQ_EXTERN void sq_header_params_init(sq_header_params *it, const char *value, size_t len);

/* Returns 1 with the next parameter, or 0 at the end. *name is the text
 * before '=' without surrounding whitespace (compare it case-insensitively);
 * *raw is the text after '=' without surrounding whitespace, still quoted;
 * decode it with sq_header_param_unquote(). A parameter without '=' gives
 * *raw == NULL (Tornado's _parse_header drops those). Spans point into
 * the value. */
SQ_EXTERN int sq_header_params_next(sq_header_params *it, const char **name, size_t *name_len,
                                    const char **raw, size_t *raw_len);

/* Decodes a raw parameter value as _parse_header does: a value in double
 * quotes loses them and has "\\" then "\"" unescaped (email.utils.unquote),
 * one in angle brackets loses them, and a result still in double quotes
 * loses those too. Writes to out (room for len bytes; out may equal raw) and
 * returns the decoded length; with out NULL it only measures. */
SQ_EXTERN size_t sq_header_param_unquote(const char *raw, size_t len, char *out);

/* Looks up one parameter of a header value by name (ASCII case-insensitive;
 * the last one wins, like Tornado's dict) and writes its decoded value to
 * out. Returns 1 when found (*out_len set), 0 when absent, SQ_ELIMIT when
 * cap is too small (*out_len is the size needed; len bytes always suffice).
 * RFC 2231 names ("filename*", "name*0") are not decoded: look them up by
 * their literal name. */
SQ_EXTERN int sq_header_param(const char *value, size_t len, const char *name, char *out,
                              size_t cap, size_t *out_len);

/* ------------------------------------------------------------------------ */
/* multipart/form-data (Tornado's parse_multipart_form_data)                */
/* ------------------------------------------------------------------------ */

/* The longest boundary accepted (RFC 2046 allows 70). */
#define SQ_MULTIPART_MAX_BOUNDARY 200

/* Finds the boundary in a Content-Type value as Tornado does: the value is
 * split on ';', and the first field that reads "boundary=..." after
 * trimming (the name is case-sensitive, with no space before '=') gives the
 * text after '='; surrounding double quotes are removed. *boundary points
 * into content_type. Returns 0, SQ_EPROTO when there is no non-empty
 * boundary, or SQ_ELIMIT when it is longer than SQ_MULTIPART_MAX_BOUNDARY.
 * Checking that the type is multipart/form-data is the caller's job. */
SQ_EXTERN int sq_multipart_boundary(const char *content_type, size_t len, const char **boundary,
                                    size_t *boundary_len);

/* Bounds for a multipart body; 0 in a field means no bound. */
typedef struct sq_multipart_limits {
    uint32_t max_parts;      /* parts in the body */
    size_t max_part_size;    /* data bytes in one part */
    size_t max_header_bytes; /* header block of one part */
} sq_multipart_limits;

/* One part. Every span points into the body, except name and filename
 * when unescaping them changed their bytes: those are in the scratch buffer
 * and valid until the next sq_multipart_next() call. */
typedef struct sq_multipart_part {
    const char *name; /* Content-Disposition name (never empty) */
    size_t name_len;
    const char *filename; /* NULL unless a non-empty filename was given: a file */
    size_t filename_len;
    const char *content_type; /* Content-Type of the part; for a file without one
                                 "application/unknown" (static); else NULL */
    size_t content_type_len;
    const char *data; /* the part's content */
    size_t data_len;
    const char *headers; /* the raw header block, without the blank line */
    size_t headers_len;
} sq_multipart_part;

/* A multipart parser over a whole body. Private fields. */
typedef struct sq_multipart {
    const char *body;
    const char *p;   /* start of the next part */
    const char *end; /* the final delimiter "--boundary--" */
    char *scratch;
    size_t scratch_cap;
    sq_multipart_limits limits;
    uint32_t parts;
    uint32_t delim_len;
    int err;
    char delim[SQ_MULTIPART_MAX_BOUNDARY + 4];
} sq_multipart;

/* Prepares mp to parse the len bytes of body with the given boundary (from
 * sq_multipart_boundary(); it is copied). limits may be NULL (no bounds).
 * scratch (scratch_cap bytes, the caller's) receives names and filenames
 * that have backslash-escapes; max_header_bytes bytes always suffice, and
 * NULL is fine when no part has escaped names. body and scratch must outlive
 * the parts. Returns 0, SQ_EPROTO when the body has no final delimiter
 * "--boundary--", or SQ_EINVAL / SQ_ELIMIT for an empty or too long
 * boundary. */
SQ_EXTERN int sq_multipart_init(sq_multipart *mp, const char *body, size_t len,
                                const char *boundary, size_t boundary_len,
                                const sq_multipart_limits *limits, char *scratch,
                                size_t scratch_cap);

/* Returns 1 and the next part, 0 after the last one, or a negative error
 * (sticky): SQ_EPROTO for a malformed part (no blank line after its headers,
 * a header line without ':', folded or non-UTF-8 headers, a repeated
 * Content-Disposition or Content-Type, a disposition other than "form-data",
 * a missing name, a part not ending in CRLF) and SQ_ELIMIT when a bound of
 * the limits or the scratch buffer is exceeded. Tornado rejects such a body
 * as a whole; so should the caller (400), discarding the parts already
 * returned. */
SQ_EXTERN int sq_multipart_next(sq_multipart *mp, sq_multipart_part *part);

/* ------------------------------------------------------------------------ */
/* Cookies                                                                  */
/* ------------------------------------------------------------------------ */

/* An iterator over the pairs of a Cookie request header, exactly as
 * Tornado's httputil.parse_cookie reads it: split on ';', a chunk without
 * '=' is a value with an empty name, names and values are trimmed of
 * whitespace (Python's, on the latin-1 text: also 0x1c-0x1f, 0x85, 0xa0),
 * chunks with an empty name and value are skipped, and a value in double
 * quotes is unquoted (\" and \\ and octal \012 escapes). Private fields. */
typedef struct sq_cookie_iter {
    const char *p;
    const char *end;
    char *buf;
    size_t cap;
} sq_cookie_iter;

/* Prepares it to walk the len bytes of a Cookie header value. buf (cap
 * bytes, the caller's) receives values whose unquoting changed more than
 * the surrounding quotes; len bytes always suffice. header and buf must
 * outlive the iteration. */
SQ_EXTERN void sq_cookie_init(sq_cookie_iter *it, const char *header, size_t len, char *buf,
                              size_t cap);

/* Returns 1 with the next pair, 0 at the end, or SQ_ELIMIT when a value
 * that needs unescaping does not fit in buf (that pair is skipped; the
 * iteration may go on). The name points into the header; the value points
 * into the header or into buf, valid until the next call. Pairs come in
 * header order, duplicates included: Tornado keeps the last value of a
 * name (sq_cookie_get() does that), and its request.cookies drops names
 * that sq_cookie_name_valid() refuses. */
SQ_EXTERN int sq_cookie_next(sq_cookie_iter *it, const char **name, size_t *name_len,
                             const char **value, size_t *value_len);

/* True when name is a cookie name Python's SimpleCookie accepts, and thus
 * one Tornado can read or set: one or more of the letters, digits and
 * !#$%&'*+-.^_`|~: and not an attribute name (expires, path, comment,
 * domain, max-age, secure, httponly, version, samesite; any case). */
SQ_EXTERN bool sq_cookie_name_valid(const char *name, size_t len);

/* Finds a cookie by name in a Cookie header value, as Tornado's get_cookie
 * does: the last pair with that name wins, and a name that
 * sq_cookie_name_valid() refuses is never found. Writes the unquoted value
 * to out. Returns 1 when found (*out_len set), 0 when absent, SQ_ELIMIT
 * when cap is too small (*out_len is the size needed). */
SQ_EXTERN int sq_cookie_get(const char *header, size_t len, const char *name, size_t name_len,
                            char *out, size_t cap, size_t *out_len);

/* SameSite attribute of a Set-Cookie. */
typedef enum {
    SQ_SAMESITE_UNSET = 0, /* no SameSite attribute */
    SQ_SAMESITE_STRICT,
    SQ_SAMESITE_LAX,
    SQ_SAMESITE_NONE,
} sq_samesite;

/* Attributes of a Set-Cookie header; a zeroed struct means none. */
typedef struct sq_cookie_attrs {
    const char *domain; /* NULL or "": no Domain */
    const char *path;   /* NULL or "": no Path (Tornado's set_cookie defaults to "/") */
    int64_t expires;    /* Unix seconds; 0: none, a session cookie (Tornado skips a
                           falsy expires too) */
    int64_t max_age;    /* seconds, written when has_max_age */
    bool has_max_age;
    bool secure;
    bool httponly;
    sq_samesite samesite;
} sq_cookie_attrs;

/* Formats the value of a Set-Cookie header as Tornado's set_cookie and
 * Python's Morsel.OutputString() do, byte for byte:
 *     name=value; Domain=d; expires=Sun, 27 Jan 2013 18:43:20 GMT; HttpOnly;
 *     Max-Age=60; Path=/; SameSite=Lax; Secure
 * (attributes in that order, the ones not set left out). A value with a
 * byte outside the letters, digits and !#$%&'*+-.^_`|~: (or an empty value)
 * is double-quoted, with '"' and '\' backslash-escaped and bytes outside
 * the printable set " ()/<=>?@[]{}" and the above written as octal \ooo;
 * every byte of value counts as one latin-1 character.
 * name and value are NUL-terminated; attrs may be NULL. The output in buf
 * is NUL-terminated: cap must exceed the length, which goes to *out_len.
 * Returns 0; SQ_EHEADER when name or value has a byte in 0x00-0x20
 * (Tornado's ValueError), the name is not valid (sq_cookie_name_valid()),
 * or domain or path holds a control byte or ';'; SQ_EINVAL for expires out
 * of the years 1-9999; SQ_ELIMIT when cap is too small (*out_len is the
 * length needed, without the NUL). */
SQ_EXTERN int sq_cookie_format(char *buf, size_t cap, const char *name, const char *value,
                               const sq_cookie_attrs *attrs, size_t *out_len);

/* Bytes needed for sq_format_timestamp(), NUL included. */
#define SQ_HTTP_DATE_SIZE 30

/* Writes t (Unix seconds) as an HTTP date, "Sun, 27 Jan 2013 18:43:20 GMT",
 * NUL-terminated, to out (Tornado's httputil.format_timestamp). Returns 0,
 * or SQ_EINVAL when t is outside the years 1 to 9999. */
SQ_EXTERN int sq_format_timestamp(int64_t t, char out[SQ_HTTP_DATE_SIZE]);

/* ------------------------------------------------------------------------ */
/* Signed values (Tornado's create_signed_value / decode_signed_value)      */
/* ------------------------------------------------------------------------ */

/* One secret of a key table, for key rotation. */
typedef struct sq_signing_key {
    int key_version;
    const char *secret;
    size_t secret_len;
} sq_signing_key;

/* Tornado's cookie_secret: either one secret (keys == NULL), or a table of
 * secrets by key version (Tornado's dict form; version 2 values only). The
 * strings belong to the caller. */
typedef struct sq_cookie_secret {
    const char *secret;
    size_t secret_len;
    const sq_signing_key *keys;
    size_t nkeys;
} sq_cookie_secret;

/* Signs and timestamps a value as Tornado's create_signed_value does.
 * version 2 (the default in Tornado) gives
 *     2|1:<key_version>|<n>:<now>|<n>:<name>|<n>:<base64 value>|<HMAC-SHA256 hex>
 * and version 1 the legacy "<base64>|<now>|<HMAC-SHA1 hex>". With a single
 * secret, key_version is only written into the value (Tornado's
 * "key_version or 0"); with a key table it selects the secret. now is the
 * Unix time in seconds (the injected clock). Writes to out; *out_len gets
 * the length. Returns 0, SQ_EINVAL (no secret, a version other than 1 or
 * 2, version 1 with a key table, a key_version not in the table), SQ_ELIMIT
 * (cap too small; *out_len is the size needed), or SQ_ENOMEM (OpenSSL
 * failed). */
SQ_EXTERN int sq_signed_value_create(const sq_cookie_secret *secret, int version, int key_version,
                                     const char *name, size_t name_len, const void *value,
                                     size_t value_len, int64_t now, char *out, size_t cap,
                                     size_t *out_len);

/* Verifies a signed value as Tornado's decode_signed_value does and writes
 * the original value to out. Versions 1 and 2 are read (a version below
 * min_version is refused; min_version 0 means Tornado's default, 1). The
 * signature is checked in constant time. A value older than max_age_days
 * (relative to now, Unix seconds) is expired; a version 1 value more than
 * 31 days in the future, or with a timestamp starting with '0', is refused.
 * Returns 0 (*out_len set), SQ_ETIMEDOUT when the value is authentic but
 * expired, SQ_EINVAL for every other reason it is not valid (malformed,
 * wrong signature, other name, unknown key version or format version,
 * min_version above 2), SQ_ELIMIT when cap is too small (after checking;
 * *out_len is the size needed, at most 3/4 of len), SQ_ENOMEM when OpenSSL
 * failed. */
SQ_EXTERN int sq_signed_value_decode(const sq_cookie_secret *secret, const char *name,
                                     size_t name_len, const char *signed_value, size_t len,
                                     double max_age_days, int min_version, int64_t now, void *out,
                                     size_t cap, size_t *out_len);

/* The key version of a version 2 signed value, without verifying anything
 * (Tornado's get_signature_key_version). Returns 0 and sets *key_version,
 * or SQ_EINVAL when the value is not a well-formed version 2 value. */
SQ_EXTERN int sq_signed_value_key_version(const char *signed_value, size_t len, int *key_version);

/* ------------------------------------------------------------------------ */
/* XSRF tokens (Tornado's xsrf_token / check_xsrf_cookie)                   */
/* ------------------------------------------------------------------------ */

/* Size of the random token Tornado creates (os.urandom(16)). */
#define SQ_XSRF_TOKEN_SIZE 16

/* Masks a raw token as Tornado's xsrf_token property does (version 2):
 * "2|" hex(mask) "|" hex(token XOR mask, byte i with mask[i % 4]) "|" timestamp,
 * lowercase hex and decimal seconds. The caller draws token (once per
 * browser) and mask (fresh for every response: the masking defeats BREACH)
 * from a CSPRNG. Writes to out; returns 0 (*out_len set) or SQ_ELIMIT (cap
 * too small; *out_len is the size needed: 2 * token_len + 32 bytes always
 * suffice). */
SQ_EXTERN int sq_xsrf_encode(const uint8_t *token, size_t token_len, const uint8_t mask[4],
                             int64_t timestamp, char *out, size_t cap, size_t *out_len);

/* Decodes an _xsrf cookie or argument as Tornado's _decode_xsrf_token does.
 * "2|mask|masked|timestamp" is unmasked (version 2); any other text not
 * starting with "<digits>|" is version 1: the hex-decoded bytes, or the text
 * itself when it is not hex. Writes the raw token to token (cap bytes; len
 * always suffices; *token_len may be 0), the version to *version and the
 * timestamp (0 for version 1, which has none: Tornado substitutes the
 * current time) to *timestamp; any of the three may be NULL. Returns 0,
 * SQ_EINVAL when Tornado would return no token (another version prefix, a
 * field that is not hex or not a number, not four fields), or SQ_ELIMIT
 * (cap too small). A mask shorter than 4 bytes counts as padded with zero
 * bytes, which is what Tornado's C extension does in practice. */
SQ_EXTERN int sq_xsrf_decode(const char *s, size_t len, uint8_t *token, size_t cap,
                             size_t *token_len, int *version, int64_t *timestamp);

/* Checks an XSRF argument (from the _xsrf field or the X-Xsrftoken or
 * X-Csrftoken header) against the _xsrf cookie as check_xsrf_cookie does,
 * comparing the raw tokens in time independent of their content.
 * Returns 1 when they match, 0 when they do not (also when the cookie is
 * absent or invalid: Tornado would then make a new token), SQ_EINVAL when
 * the argument is missing (len 0), cannot be decoded, or decodes to an
 * empty token (Tornado answers 403 in every case but a match). */
SQ_EXTERN int sq_xsrf_check(const char *arg, size_t arg_len, const char *cookie, size_t cookie_len);

/* ------------------------------------------------------------------------ */
/* Escaping (Tornado's escape module)                                       */
/* ------------------------------------------------------------------------ */

/* Escapes & < > " ' as &amp; &lt; &gt; &quot; &#39; (Tornado's xhtml_escape);
 * other bytes are copied. Writes to out; returns 0 (*out_len set) or
 * SQ_ELIMIT (*out_len is the size needed: at most 6 * len). */
SQ_EXTERN int sq_xhtml_escape(const char *in, size_t len, char *out, size_t cap, size_t *out_len);

/* Replaces character references as Tornado's xhtml_unescape does: the 252
 * HTML 4 named entities (case-sensitive: &amp; but not &AMP;), &#DDD; and
 * &#xHHH; (Python's int() syntax: underscores between digits, an optional
 * 0x after the x) written as UTF-8. Anything else, including code points
 * above U+10FFFF and surrogates, stays as it is. Writes to out (room for
 * len bytes; out may equal in) and returns the length: the result is never
 * longer than the input. Bytes are passed through; no UTF-8 check. */
SQ_EXTERN size_t sq_xhtml_unescape(const char *in, size_t len, char *out);

/* Escapes UTF-8 text for the inside of a JSON string (without the quotes)
 * exactly as Tornado's json_encode does: Python's json.dumps with
 * ensure_ascii (\" \\ \n \r \t \b \f, other controls and every non-ASCII
 * character as \uXXXX, with surrogate pairs above U+FFFF), then "</" as
 * "<\/" so that the JSON is safe inside <script>. Writes to out; returns 0
 * (*out_len set), SQ_EINVAL when in is not valid UTF-8 (strict: no
 * overlongs, no surrogates), or SQ_ELIMIT (*out_len is the size needed, or
 * 0 when the input is also invalid). */
SQ_EXTERN int sq_json_escape(const char *in, size_t len, char *out, size_t cap, size_t *out_len);

/* ------------------------------------------------------------------------ */
/* ETags (Tornado's compute_etag / check_etag_header)                       */
/* ------------------------------------------------------------------------ */

/* Bytes of an ETag from sq_etag_compute(): '"', 40 hex digits, '"', NUL. */
#define SQ_ETAG_SIZE 43

/* Writes Tornado's default ETag of a body, '"' + hex(SHA-1(body)) + '"',
 * NUL-terminated, to out. Returns 0 or SQ_ENOMEM (OpenSSL failed). */
SQ_EXTERN int sq_etag_compute(const void *body, size_t len, char out[SQ_ETAG_SIZE]);

/* The same over a body held in nbufs pieces, as Tornado hashes its write
 * buffer. */
SQ_EXTERN int sq_etag_compute_bufs(const uv_buf_t *bufs, size_t nbufs, char out[SQ_ETAG_SIZE]);

/* True when an If-None-Match value matches etag, as Tornado's
 * check_etag_header decides: the entity-tags ('*' or optionally W/-prefixed
 * quoted strings) are picked out of the value, anything between them
 * ignored; '*' as the first one matches anything; otherwise the weak
 * comparison (W/ ignored on both sides) of any of them with etag. An empty
 * etag or a value without entity-tags never matches. */
SQ_EXTERN bool sq_etag_matches(const char *if_none_match, size_t len, const char *etag,
                               size_t etag_len);

#ifdef __cplusplus
}
#endif
#endif
