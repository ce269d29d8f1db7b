/* squall: the web framework (Tornado's tornado.web and tornado.routing).
 *
 * An sq_app holds a table of routes (PCRE2 regexes, anchored at both ends,
 * matched against the raw percent-encoded path) and the settings; each
 * request that matches a route is served by the route's sq_handler, a
 * struct of function pointers that plays the part of Tornado's
 * RequestHandler subclass. The lifecycle is Tornado's, in its exact order:
 *
 *     set_default_headers, initialize(route data), [XSRF check], prepare,
 *     the verb (get, post, ...), finish, on_finish
 *
 * - prepare may finish the request (sq_finish, sq_send_error, sq_redirect):
 *   the verb is then skipped.
 * - A method the handler does not implement answers 405 with an Allow
 *   header; a method outside GET HEAD POST DELETE PATCH PUT OPTIONS answers
 *   405 before prepare, as Tornado's SUPPORTED_METHODS check does.
 * - When the verb returns, the response is finished automatically unless
 *   the handler called sq_finish_later(): then any later callback (a timer,
 *   a future, an executor result) writes, flushes and calls sq_finish().
 * - on_connection_close runs when the client goes away before the response
 *   was finished. From then on writes fail with SQ_ECLOSED; a handler that
 *   said sq_finish_later() must still call sq_finish() exactly once (it
 *   returns SQ_ECLOSED). The request object lives until it is finished, so
 *   a late timer never touches freed memory.
 * - sq_send_error() anywhere in the lifecycle clears the output, sets the
 *   status, calls write_error (default: Tornado's small HTML page, or JSON
 *   when the request's Accept header asks for application/json) and
 *   finishes; the remaining lifecycle steps are skipped.
 *
 * Lifetime of an sq_req: from set_default_headers until the request is
 * finished. When sq_finish() (or sq_send_error, sq_redirect) is called from
 * inside one of the handler's functions, the request stays valid until
 * that function returns, so code after it may still read its state (but
 * writes fail with SQ_ESTATE). Called from anywhere else (a timer), sq_finish
 * releases the request before it returns: do not use it afterwards.
 *
 * Memory: every string the input functions return is NUL-terminated and
 * lives in the request's arena, which is released when the request ends.
 * Request objects and arenas are recycled across requests, so a plain
 * request allocates nothing in steady state, and input (arguments, cookies,
 * bodies) is parsed only when first asked for.
 *
 * Nothing here is thread-safe: every function runs on the app's loop.
 */
#ifndef SQUALL_WEB_H
#define SQUALL_WEB_H

#include <jansson.h>
#include <stdarg.h>

#include "codec.h"
#include "common.h"
#include "http.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sq_app sq_app;
typedef struct sq_req sq_req;

/* ------------------------------------------------------------------------ */
/* Handlers and routes                                                      */
/* ------------------------------------------------------------------------ */

/* A request handler: Tornado's RequestHandler as a table of functions.
 * Every member may be NULL. A verb left NULL answers 405 (with Allow). */
typedef struct sq_handler {
    /* Bytes of per-request state, zeroed, in the request's arena; reach it
     * with sq_req_state(). */
    size_t state_size;
    /* After set_default_headers, with the route's data (Tornado's
     * initialize(**kwargs)). */
    void (*initialize)(sq_req *req, void *route_data);
    /* Sets headers every response of this handler carries; runs again
     * after sq_send_error() cleared the output (Tornado's clear()). */
    void (*set_default_headers)(sq_req *req);
    /* Runs before the verb; may finish the request, which skips the verb. */
    void (*prepare)(sq_req *req);
    /* The verbs. delete_ has a trailing underscore so that the header stays
     * usable from C++. */
    void (*get)(sq_req *req);
    void (*head)(sq_req *req);
    void (*post)(sq_req *req);
    void (*put)(sq_req *req);
    void (*delete_)(sq_req *req);
    void (*patch)(sq_req *req);
    void (*options)(sq_req *req);
    /* After the response was finished (and logged); must not write. */
    void (*on_finish)(sq_req *req);
    /* The client went away before the response was finished. */
    void (*on_connection_close)(sq_req *req);
    /* Writes the body of an error response; the status is already set and
     * the output cleared. NULL: the default page (see sq_send_error). */
    void (*write_error)(sq_req *req, int status);
    /* Tornado's @stream_request_body: prepare runs as soon as the head has
     * arrived, data_received gets the body piece by piece (the data lives
     * only during the call), and the verb runs after the last piece. */
    bool stream_request_body;
    void (*data_received)(sq_req *req, const char *data, size_t len);
    /* This handler's body limit in bytes (413 above it); 0: the server's. */
    uint64_t max_body_size;
    /* Skip the XSRF check for this handler (Tornado's ErrorHandler does). */
    bool no_xsrf_check;
    /* Tornado's get_current_user: called at most once per request, by the
     * first sq_current_user(); the pointer it returns is the handler's
     * (keep it in the arena or the per-request state). NULL: anonymous. */
    void *(*get_current_user)(sq_req *req);
} sq_handler;

/* One route: a regex over the raw (percent-encoded) path, the handler, the
 * data handed to initialize, and an optional name for sq_reverse_url. A
 * route table ends with an entry whose pattern is NULL. */
typedef struct sq_route {
    const char *pattern;
    const sq_handler *handler;
    void *data;
    const char *name;
} sq_route;

/* ------------------------------------------------------------------------ */
/* Built-in handlers                                                        */
/* ------------------------------------------------------------------------ */

/* Route data of sq_static_file_handler. */
typedef struct sq_static_spec {
    const char *root;             /* the directory served */
    const char *default_filename; /* served for a directory ("index.html"), or NULL */
} sq_static_spec;

/* Tornado's StaticFileHandler: serves the file named by group 1 of the
 * route (percent-decoded) under spec->root, for GET and HEAD. The resolved
 * path must stay under the root (symbolic links resolved): 403 otherwise;
 * 404 when it does not exist; a directory without default_filename, or
 * anything but a regular file, is 403; a directory URL without a trailing
 * slash is redirected (301) to one. Sends Accept-Ranges, an ETag from the
 * file's modification time and size, Last-Modified, a Content-Type from
 * the extension, and, when the query has a "v" argument, ten-year caching
 * headers. If-None-Match (alone when present) and If-Modified-Since give
 * 304; one "bytes=" Range gives 206 (or 416 when it cannot be satisfied).
 * The file is read in 64 KiB pieces, each flushed before the next is read.
 * Route data: a const sq_static_spec * that outlives the app. */
SQ_EXTERN extern const sq_handler sq_static_file_handler;

/* Tornado's static_url: settings.static_url_prefix + path, and with
 * include_version "?v=" + the SHA-512 of the file under
 * settings.static_path (computed once per path and cached for the app's
 * life, or recomputed every time with settings.debug, as Tornado's
 * static_hash_cache). Without the file (or static_path) the URL has no
 * version. path is relative to static_path, not escaped. Lives in the
 * request's arena; NULL when out of memory. */
SQ_EXTERN const char *sq_static_url(sq_req *req, const char *path, bool include_version);

/* Route data of sq_redirect_handler. */
typedef struct sq_redirect_spec {
    const char *url; /* "{0}", "{1}"... are the route's groups, "{name}" a named one */
    bool temporary;  /* 302 instead of Tornado's default 301 */
} sq_redirect_spec;

/* Tornado's RedirectHandler: GET redirects to spec->url with the route's
 * groups substituted and the request's query string appended. Route data:
 * a const sq_redirect_spec * that outlives the app. */
SQ_EXTERN extern const sq_handler sq_redirect_handler;

/* ------------------------------------------------------------------------ */
/* Settings                                                                 */
/* ------------------------------------------------------------------------ */

typedef enum { SQ_LOG_DEBUG = 10, SQ_LOG_INFO = 20, SQ_LOG_WARNING = 30, SQ_LOG_ERROR = 40 } sq_log_level;

/* An access-log sink: one call per finished request with the level (INFO
 * below 400, WARNING below 500, ERROR otherwise) and Tornado's line
 * "200 GET /path?q (127.0.0.1) 0.52ms" (NUL-terminated, valid during the
 * call). */
typedef void (*sq_log_fn)(sq_req *req, sq_log_level level, const char *line, void *arg);

/* Application settings, with Tornado's names where they apply. A zeroed
 * struct means Tornado's defaults; every string must outlive the app. */
typedef struct sq_app_settings {
    /* Detailed error pages (the reason the framework refused a request). */
    bool debug;
    /* Tornado's GZipContentEncoding: every response gets Vary:
     * Accept-Encoding, and one to an HTTP/1.1 client whose Accept-Encoding
     * names gzip is compressed (level 6) when its type is text/... or a
     * JavaScript, JSON, XML, XHTML, Atom or SVG type, it has no
     * Content-Encoding of its own, and a body finished in one piece has at
     * least 1024 bytes (flushed responses are compressed from the first
     * flush, as one gzip stream). HEAD responses are never compressed. */
    bool compress_response;
    /* The secret for signed cookies (sq_set_signed_cookie), or a key table
     * with key_version choosing the signing key (Tornado's dict form). */
    const char *cookie_secret;
    const sq_signing_key *cookie_keys;
    size_t ncookie_keys;
    int key_version;
    /* XSRF protection for every method except GET, HEAD and OPTIONS. */
    bool xsrf_cookies;
    /* Attributes of the _xsrf cookie (Tornado's xsrf_cookie_kwargs); path
     * defaults to "/". */
    sq_cookie_attrs xsrf_cookie_attrs;
    /* Where sq_authenticated() sends anonymous GET and HEAD requests. */
    const char *login_url;
    /* Serve the files under static_path at static_url_prefix (default
     * "/static/") and /favicon.ico and /robots.txt with
     * sq_static_file_handler, before the app's own routes (Tornado's
     * static_path). */
    const char *static_path;
    const char *static_url_prefix;
    /* Not yet implemented: templates, WebSockets (fields only). */
    const char *template_path;
    uint32_t websocket_ping_interval_ms;
    uint32_t websocket_ping_timeout_ms;
    uint64_t websocket_max_message_size;
    /* Handler for requests no route matches (default: 404). */
    const sq_handler *default_handler;
    void *default_handler_data;
    /* Trust X-Real-Ip, X-Forwarded-For, X-Scheme and X-Forwarded-Proto. */
    bool xheaders;
    /* Like Tornado, squall adds an ETag to every finished 200 GET or HEAD
     * response and answers 304 to a matching If-None-Match. The tag is a
     * fast 128-bit hash of the body ('"' + 32 hex digits + '"'), which
     * costs a few instructions per byte; etag_sha1 makes it Tornado's
     * exact value, the SHA-1 of the body (about 1,000 instructions more
     * per response), for a cache shared with Tornado servers. no_etag
     * turns ETags off. */
    bool etag_sha1;
    bool no_etag;
    /* Access log sink; NULL: no access log. */
    sq_log_fn access_log;
    void *access_log_arg;
    /* Bounds on multipart/form-data bodies (zero fields: 1000 parts, parts
     * up to the body limit, 16 KiB of headers per part) and on the number
     * of query or form arguments (0: 10000). */
    sq_multipart_limits multipart;
    uint32_t max_arguments;
    /* The HTTP server's limits; a zero field takes the default of
     * sq_http_server_config_init (server_name NULL: "squall"; "" sends no
     * Server header). */
    sq_http_server_config server;
} sq_app_settings;

/* ------------------------------------------------------------------------ */
/* The application                                                          */
/* ------------------------------------------------------------------------ */

/* Creates an application on loop with a route table (ending with a NULL
 * pattern; may be NULL) and settings (copied; NULL for the defaults). Every
 * pattern is compiled with PCRE2 (and its JIT when available), anchored at
 * both ends. Routes are tried in order, the first match wins. The route
 * table and the strings in it must outlive the app. Returns NULL when a
 * pattern does not compile (a message naming it goes to stderr) or when
 * out of memory. */
SQ_EXTERN sq_app *sq_app_new(sq_loop *loop, const sq_route *routes, const sq_app_settings *settings);

/* Adds routes that apply only to requests whose host (the Host header
 * without its port, lowercased) matches host_pattern, a regex anchored at
 * both ends (Tornado's add_handlers). Host rules are tried in the order
 * added, before the routes given to sq_app_new; a request whose host
 * matches but whose path matches none of that rule's routes goes on to the
 * next rule. Returns 0, SQ_EINVAL for a pattern that does not compile,
 * SQ_ENOMEM, or SQ_ESTATE once the app listens. */
SQ_EXTERN int sq_app_add_handlers(sq_app *app, const char *host_pattern, const sq_route *routes);

/* Creates the HTTP server (first call only) with the settings' server
 * limits and listens on host:port, as sq_http_server_listen() does (port 0
 * picks a free port: see sq_app_port). May be called several times. Returns
 * 0 or the server's error. */
SQ_EXTERN int sq_app_listen(sq_app *app, const char *host, int port);

/* The port of the first listening socket, or a negative error. */
SQ_EXTERN int sq_app_port(const sq_app *app);

/* The HTTP server under the app (NULL before sq_app_listen), e.g. for
 * sq_http_server_drain_on_signal(). */
SQ_EXTERN sq_http_server *sq_app_server(const sq_app *app);

/* Closes the app: the server closes (requests in flight get
 * on_connection_close), and once it is closed and every request the
 * handlers still hold was finished, done(app, arg) is called on the loop
 * and the app's memory is released. done may be NULL. Calling it twice is
 * a bug. */
SQ_EXTERN void sq_app_close(sq_app *app, void (*done)(sq_app *app, void *arg), void *arg);

/* The app's settings (the copy it keeps). */
SQ_EXTERN const sq_app_settings *sq_app_get_settings(const sq_app *app);

/* Builds the path of the route named name with args substituted for its
 * groups (Tornado's reverse_url), each url-escaped (spaces as %20). Only
 * "simple" patterns reverse: as many '(' as groups, no nesting, literal
 * text otherwise (backslash escapes of punctuation allowed). Writes a
 * NUL-terminated path to out (cap bytes). Returns the length, SQ_ENOENT
 * (no such name), SQ_EINVAL (wrong number of args, or a pattern that does
 * not reverse) or SQ_ELIMIT (cap too small). */
SQ_EXTERN int sq_reverse_url(const sq_app *app, const char *name, const char *const *args,
                             size_t nargs, char *out, size_t cap);

/* ------------------------------------------------------------------------ */
/* The request: lifecycle                                                   */
/* ------------------------------------------------------------------------ */

/* The handler's per-request state (state_size zeroed bytes), or NULL when
 * state_size is 0. Lives until the request ends. */
SQ_EXTERN void *sq_req_state(const sq_req *req);

/* n bytes (16-byte aligned, not zeroed) from the request's arena; freed
 * when the request ends. NULL when out of memory. */
SQ_EXTERN void *sq_req_alloc(sq_req *req, size_t n);

/* A NUL-terminated copy of len bytes of s in the request's arena. */
SQ_EXTERN char *sq_req_strndup(sq_req *req, const char *s, size_t len);

/* The app, the underlying HTTP request and the loop of a request. */
SQ_EXTERN sq_app *sq_req_app(const sq_req *req);

/* The underlying HTTP request (http.h); NULL once the request finished. */
SQ_EXTERN sq_http_req *sq_req_http(const sq_req *req);

/* The loop the request runs on. */
SQ_EXTERN sq_loop *sq_req_loop(const sq_req *req);

/* Says the handler will finish the response itself later (from a timer, a
 * future, an executor result...): the response is not finished when the
 * verb returns. The handler must then call sq_finish() (or sq_send_error,
 * sq_redirect) exactly once, also after on_connection_close. */
SQ_EXTERN void sq_finish_later(sq_req *req);

/* From prepare: pauses the lifecycle after prepare returns, as an async
 * prepare that Tornado awaits (an authentication lookup, a database
 * query). The verb runs when a later callback calls sq_resume(); the
 * callback may instead finish the request (sq_send_error, sq_finish). A
 * paused request whose client leaves gets on_connection_close and must
 * still be resumed or finished. Does nothing outside prepare (and in a
 * request already finished). For a streamed body, data_received goes on
 * being called while paused. */
SQ_EXTERN void sq_pause(sq_req *req);

/* Ends a pause: runs the verb now (or, for a streamed body still arriving,
 * after its last piece), then finishes unless sq_finish_later was called.
 * With the verb run from here, req is released before this returns if the
 * response got finished. Returns 0, or SQ_ESTATE when the request is not
 * paused or is finished. */
SQ_EXTERN int sq_resume(sq_req *req);

/* Finishes the response (Tornado's finish()): an ETag and a 304 for a
 * matching If-None-Match on a 200 GET or HEAD whose body was not flushed
 * (unless settings.no_etag; the response had no Etag header of its own), Content-Length when nothing was flushed, the
 * rest of the body, the access log line, then on_finish. Returns 0,
 * SQ_ECLOSED when the client was gone (the request is finished all the
 * same), or SQ_ESTATE when it was already finished. See the top of this
 * header for how long req stays valid afterwards. */
SQ_EXTERN int sq_finish(sq_req *req);

/* True once the response was finished. */
SQ_EXTERN bool sq_finished(const sq_req *req);

/* True once the client went away (on_connection_close has run or is
 * running). */
SQ_EXTERN bool sq_req_closed(const sq_req *req);

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

/* Sets the status (100-599) and reason phrase (NULL: the standard one;
 * copied). SQ_EINVAL for a status out of range or a reason with control
 * bytes; SQ_ESTATE after the headers were flushed or the request
 * finished. */
SQ_EXTERN int sq_set_status(sq_req *req, int status, const char *reason);

/* The current status. */
SQ_EXTERN int sq_get_status(const sq_req *req);

/* Sets a response header, replacing every earlier value of that name
 * (case-insensitive). Both strings are copied. SQ_EHEADER when the name is
 * not a token or the value holds CR, LF or another control byte (nothing is
 * set: never sent); SQ_EINVAL for Date, Server, Transfer-Encoding and
 * Connection, which the server writes itself; SQ_ESTATE once the headers
 * were flushed or the request finished. The default Content-Type is
 * "text/html; charset=UTF-8". */
SQ_EXTERN int sq_set_header(sq_req *req, const char *name, const char *value);

/* Adds a response header, keeping earlier values of that name. Errors as
 * sq_set_header. */
SQ_EXTERN int sq_add_header(sq_req *req, const char *name, const char *value);

/* Removes every value of a response header set so far. Returns 0 (also
 * when there was none) or SQ_ESTATE. */
SQ_EXTERN int sq_clear_header(sq_req *req, const char *name);

/* Appends bytes (copied) to the response body. They are sent at the next
 * sq_flush or at sq_finish. SQ_ECLOSED when the client is gone, SQ_ESTATE
 * after finish, SQ_ENOMEM. */
SQ_EXTERN int sq_write(sq_req *req, const void *data, size_t len);

/* sq_write of a NUL-terminated string. */
SQ_EXTERN int sq_write_str(sq_req *req, const char *s);

/* sq_write of printf-style formatted text. */
SQ_EXTERN int sq_writef(sq_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sq_writef with a va_list. */
SQ_EXTERN int sq_vwritef(sq_req *req, const char *fmt, va_list ap);

/* Writes a JSON object as Tornado's write(dict) does: Python's json.dumps
 * layout (", " and ": "), non-ASCII as \u escapes, "</" as "<\/", and
 * Content-Type "application/json; charset=UTF-8". The caller keeps its
 * reference. SQ_EINVAL for anything but an object (Tornado refuses lists,
 * which JSON hijacking exploits; write those with sq_write_json_str). */
SQ_EXTERN int sq_write_json(sq_req *req, const json_t *json);

/* Writes ready JSON text and sets Content-Type "application/json;
 * charset=UTF-8". The text is not checked. */
SQ_EXTERN int sq_write_json_str(sq_req *req, const char *json);

/* Sends the headers (first time) and the body written so far; without a
 * Content-Length header the body goes out chunked (HTTP/1.1). done, if not
 * NULL, is called once these bytes were handed to the kernel (status 0) or
 * the connection failed (negative status); it is not called when sq_flush
 * returns an error. One flush with a callback at a time: SQ_EBUSY
 * otherwise. SQ_ECLOSED, SQ_ESTATE as sq_write. */
SQ_EXTERN int sq_flush(sq_req *req, void (*done)(sq_req *req, int status, void *arg), void *arg);

/* Redirects to url (Tornado's redirect): status 0 means 302; 301, 302,
 * 303, 307 and 308 are accepted (SQ_EINVAL otherwise). Sets Location and
 * finishes. SQ_ESTATE when the headers were already flushed; SQ_EHEADER
 * for a url with control bytes. */
SQ_EXTERN int sq_redirect(sq_req *req, const char *url, int status);

/* Answers an error (Tornado's send_error): clears the headers and body,
 * runs set_default_headers again, sets status and reason (NULL: the
 * standard phrase), calls the handler's write_error or the default page,
 * and finishes. The default page is
 *     <html><title>404: Not Found</title><body>404: Not Found</body></html>
 * or, when the request's Accept header names application/json,
 *     {"error": {"code": 404, "message": "Not Found"}}
 * With settings.debug it also says why the framework refused a request.
 * When the headers were already flushed it only finishes, and so does a
 * send_error from inside write_error (no recursion). Returns what
 * sq_finish returns. */
SQ_EXTERN int sq_send_error(sq_req *req, int status, const char *reason);

/* Sets a cookie (a Set-Cookie header, Tornado's set_cookie formatting byte
 * for byte). attrs NULL means Path=/ and nothing else; in a given attrs a
 * NULL path also means "/". SQ_EHEADER for a name or value Tornado would
 * refuse (control bytes, spaces, an invalid name), SQ_EINVAL for a bad
 * expiry, SQ_ESTATE once the headers were flushed. */
SQ_EXTERN int sq_set_cookie(sq_req *req, const char *name, const char *value,
                            const sq_cookie_attrs *attrs);

/* Deletes a cookie: an empty value that expired a year ago, with the given
 * path (NULL: "/") and domain (may be NULL). */
SQ_EXTERN int sq_clear_cookie(sq_req *req, const char *name, const char *path, const char *domain);

/* Deletes every cookie the request sent (Tornado's clear_all_cookies),
 * with the given path (NULL: "/") and domain. Returns 0 or the first
 * error. */
SQ_EXTERN int sq_clear_all_cookies(sq_req *req, const char *path, const char *domain);

/* Sets a cookie signed and timestamped with settings.cookie_secret
 * (Tornado's set_signed_cookie, version 2), expiring after expires_days (0:
 * Tornado's default, 30). SQ_EINVAL when no secret is configured; other
 * errors as sq_set_cookie. */
SQ_EXTERN int sq_set_signed_cookie(sq_req *req, const char *name, const void *value, size_t len,
                                   double expires_days);

/* The value of a signed cookie if its signature is valid and it is younger
 * than max_age_days (0: Tornado's default, 31), else NULL. NUL-terminated
 * (*len, when not NULL, gets the length: the value may hold any bytes);
 * lives in the request's arena. */
SQ_EXTERN const char *sq_get_signed_cookie(sq_req *req, const char *name, double max_age_days,
                                           size_t *len);

/* The masked XSRF token of this request (Tornado's xsrf_token property):
 * creates the _xsrf cookie on first use when the request has no valid one.
 * NULL when out of memory or the headers were already flushed and a cookie
 * would be needed. Lives in the arena. */
SQ_EXTERN const char *sq_xsrf_token(sq_req *req);

/* `<input type="hidden" name="_xsrf" value="TOKEN"/>` for a form (Tornado's
 * xsrf_form_html). Lives in the arena. */
SQ_EXTERN const char *sq_xsrf_form_html(sq_req *req);

/* Tornado's current_user: the value set with sq_set_current_user, else
 * what the handler's get_current_user returns (computed once, cached), or
 * NULL for an anonymous request. */
SQ_EXTERN void *sq_current_user(sq_req *req);

/* Sets current_user, as assigning self.current_user in an async prepare
 * does in Tornado. */
SQ_EXTERN void sq_set_current_user(sq_req *req, void *user);

/* sq_authenticated(req, sq_current_user(req)): Tornado's @authenticated
 * for handlers with get_current_user. */
SQ_EXTERN bool sq_require_user(sq_req *req);

/* Tornado's @authenticated, as a call at the top of prepare or a verb:
 * returns true when current_user is not NULL. Otherwise it answers the
 * request and returns false: GET and HEAD are redirected to
 * settings.login_url with ?next=<uri> (or &next= when login_url has a '?'),
 * other methods (or no login_url) get 403. */
SQ_EXTERN bool sq_authenticated(sq_req *req, const void *current_user);

/* Tornado's @removeslash, as a call at the top of prepare or a verb:
 * returns true when the path does not end with '/'. Otherwise it answers
 * and returns false: GET and HEAD are redirected (301) to the path without
 * its trailing slashes (query kept), other methods, and a path of slashes
 * only, get 404. */
SQ_EXTERN bool sq_removeslash(sq_req *req);

/* Tornado's @addslash: true when the path ends with '/'; otherwise GET and
 * HEAD are redirected (301) to the path with a slash added (query kept),
 * other methods get 404, and false is returned. */
SQ_EXTERN bool sq_addslash(sq_req *req);

/* ------------------------------------------------------------------------ */
/* Input                                                                    */
/* ------------------------------------------------------------------------ */

/* The method name ("GET"), the request target ("/a?b=c"), the raw path
 * ("/a") and the raw query ("b=c", "" when absent); NUL-terminated, in the
 * arena. These, sq_req_remote_ip, sq_get_status, sq_req_time and anything
 * already parsed stay readable in on_finish; headers, the body and
 * sq_req_http() do not (NULL there). */
SQ_EXTERN const char *sq_req_method(sq_req *req);

/* The request target ("/a?b=c"), as described above. */
SQ_EXTERN const char *sq_req_uri(sq_req *req);

/* The raw path ("/a"), as described above. */
SQ_EXTERN const char *sq_req_path(sq_req *req);

/* The raw query ("b=c", "" when absent), as described above. */
SQ_EXTERN const char *sq_req_query(sq_req *req);

/* Capture group i (1-based, as in the regex) of the route's match,
 * percent-decoded (a '+' stays a '+') and NUL-terminated; NULL when the
 * group did not take part in the match or i is out of range. Named groups
 * have numbers too. */
SQ_EXTERN const char *sq_path_arg(const sq_req *req, int i);

/* Number of capture groups of the matched route. */
SQ_EXTERN int sq_path_nargs(const sq_req *req);

/* The named capture group name, as sq_path_arg. */
SQ_EXTERN const char *sq_path_kwarg(const sq_req *req, const char *name);

/* The first value of a request header (case-insensitive name), or NULL. */
SQ_EXTERN const char *sq_req_header(sq_req *req, const char *name);

/* Every value of a request header, in order: up to max pointers go to
 * out; returns the number of values (which may exceed max). */
SQ_EXTERN size_t sq_req_headers(sq_req *req, const char *name, const char **out, size_t max);

/* The request body and its length (NULL for a streamed body). Valid until
 * the request ends. */
SQ_EXTERN const char *sq_req_body(sq_req *req, size_t *len);

/* The last value of a query or body argument named name, whitespace
 * stripped, control characters other than TAB, LF and CR replaced by
 * spaces (Tornado's get_argument), or def when absent. A body that cannot
 * be parsed answers 400: NULL is returned and sq_finished() is then true. */
SQ_EXTERN const char *sq_get_argument(sq_req *req, const char *name, const char *def);

/* sq_get_argument for an argument that must be present: when it is
 * absent, answers 400 ("Missing argument name") and returns NULL. */
SQ_EXTERN const char *sq_require_argument(sq_req *req, const char *name);

/* Every value of an argument, query values first, in order: up to max go
 * to out; returns how many there are. */
SQ_EXTERN size_t sq_get_arguments(sq_req *req, const char *name, const char **out, size_t max);

/* The same, limited to the query string or the body. */
SQ_EXTERN const char *sq_get_query_argument(sq_req *req, const char *name, const char *def);

/* sq_get_arguments limited to the query string. */
SQ_EXTERN size_t sq_get_query_arguments(sq_req *req, const char *name, const char **out,
                                        size_t max);

/* sq_get_argument limited to the body (form or multipart fields). */
SQ_EXTERN const char *sq_get_body_argument(sq_req *req, const char *name, const char *def);

/* sq_get_arguments limited to the body. */
SQ_EXTERN size_t sq_get_body_arguments(sq_req *req, const char *name, const char **out,
                                       size_t max);

/* An uploaded file of a multipart/form-data body. */
typedef struct sq_file {
    const char *filename;     /* NUL-terminated */
    const char *content_type; /* NUL-terminated; "application/unknown" when not given */
    const char *body;         /* the content (NUL-terminated too) */
    size_t len;
} sq_file;

/* The files uploaded under field (n gets their number; NULL and 0 when
 * none). A malformed body answers 400 and returns NULL. Lives in the
 * arena. */
SQ_EXTERN const sq_file *sq_get_files(sq_req *req, const char *field, size_t *n);

/* The body parsed as JSON (borrowed: valid until the request ends; take a
 * reference to keep it). A missing or invalid body answers 400 and returns
 * NULL. */
SQ_EXTERN json_t *sq_get_json(sq_req *req);

/* The value of a cookie sent by the client (quotes and escapes removed),
 * or def. */
SQ_EXTERN const char *sq_get_cookie(sq_req *req, const char *name, const char *def);

/* The client's IP address as text; with settings.xheaders, X-Real-Ip or
 * the last address of X-Forwarded-For when present and valid. */
SQ_EXTERN const char *sq_req_remote_ip(sq_req *req);

/* "http", or with settings.xheaders the X-Scheme or X-Forwarded-Proto
 * header when it says "http" or "https". */
SQ_EXTERN const char *sq_req_protocol(sq_req *req);

/* The Host header (or "" when absent), and the host name alone, lowercased,
 * without the port. */
SQ_EXTERN const char *sq_req_host(sq_req *req);

/* The host name alone: lowercased, without the port (see above). */
SQ_EXTERN const char *sq_req_host_name(sq_req *req);

/* Seconds since the request's head arrived (Tornado's request_time()),
 * or its total duration once finished. */
SQ_EXTERN double sq_req_time(const sq_req *req);

/* An access-log sink writing each line to stderr (arg unused). */
SQ_EXTERN void sq_access_log_stderr(sq_req *req, sq_log_level level, const char *line, void *arg);

#ifdef __cplusplus
}
#endif
#endif
