/* The web framework's private structures, shared by app.c, router.c,
 * handler.c, input.c and output.c.
 *
 * Ownership: the app owns its route groups (compiled regexes), one PCRE2
 * match_data, and a free list of request objects. A request object
 * (sq_req) belongs to the HTTP request it serves (sq_http_req_set_data)
 * from the head callback until it is finished and no handler function is
 * running (depth == 0); then it goes back to the free list with its arena
 * reset and its output buffer kept. The app is freed only when its server
 * is closed and no request object is live, so a late timer holding a
 * request always finds its app.
 */
#ifndef SQ_WEB_INTERNAL_H
#define SQ_WEB_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/buf.h"
#include "squall/web.h"

/* ---- arena ---- */

#define SQ_ARENA_INLINE 2048

typedef struct sq_arena_blk {
    struct sq_arena_blk *next;
    size_t cap;
    char data[];
} sq_arena_blk;

typedef struct sq_arena {
    char *p;
    char *end;
    sq_arena_blk *blocks; /* extra blocks, freed at reset */
} sq_arena;

void *sq__arena_alloc(sq_arena *a, size_t n);
void sq__arena_init(sq_arena *a, char *inline_buf, size_t cap);
void sq__arena_reset(sq_arena *a, char *inline_buf, size_t cap);

/* ---- routing ---- */

typedef struct sq_route_rt {
    const sq_route *route;
    const char *literal; /* the pattern is plain text: compared with memcmp */
    size_t literal_len;
    /* "prefix(CLASS+)suffix" or with '*': matched without PCRE2. */
    bool fast;
    uint8_t fast_class; /* 'd' digits, 'w' word, 's' not '/', '.' not '\n' */
    bool fast_plus;     /* '+' (at least one) rather than '*' */
    const char *prefix, *suffix;
    size_t prefix_len, suffix_len;
    pcre2_code *re;
    uint32_t ngroups;
    uint32_t namecount;
    uint32_t name_entry_size;
    PCRE2_SPTR nametable;
} sq_route_rt;

typedef struct sq_route_group {
    pcre2_code *host_re; /* NULL: any host */
    sq_route_rt *routes;
    size_t nroutes;
} sq_route_group;

/* ---- response headers ---- */

typedef struct sq_hdr {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
} sq_hdr;

/* ---- arguments ---- */

typedef struct sq_arg {
    const char *name;
    const char *value;
    size_t value_len; /* the value may hold NUL bytes */
} sq_arg;

typedef struct sq_file_rt {
    const char *field;
    sq_file file;
} sq_file_rt;

struct sq_app {
    sq_loop *loop;
    sq_app_settings settings;
    sq_http_server *server;
    sq_route_group *groups; /* host groups in order, the default group last */
    size_t ngroups;
    pcre2_match_data *md;
    uint32_t max_groups;
    sq_req *free_reqs;
    size_t nfree_reqs;
    size_t live_reqs;
    bool closing;
    bool server_closed;
    void (*close_cb)(sq_app *, void *);
    void *close_arg;
    sq_cookie_secret secret;
    sq_route_rt default_route;
    sq_route default_route_def;
    sq_route *own_routes;     /* static routes + the app's, when static_path is set */
    char *static_pattern;
    sq_static_spec static_spec;
    struct sq_static_version *versions; /* static_url's hash cache */
    struct evp_md_ctx_st *md_ctx; /* reused SHA-1 context for Tornado's ETags */
    struct evp_md_st *sha1;
};

/* Lifecycle phases. */
enum {
    SQ_PH_HEAD = 0,  /* routed, nothing of the handler ran yet */
    SQ_PH_STARTED,   /* set_default_headers ... prepare ran or run */
    SQ_PH_VERB,      /* the verb ran */
};

struct sq_req {
    sq_app *app;
    sq_http_req *http;
    sq_req *next_free;
    const sq_handler *handler;
    const sq_route_rt *rt;
    void *state;

    /* Lifecycle. */
    uint8_t phase;
    uint8_t depth;        /* handler functions running (release is deferred) */
    bool finished;
    bool async;           /* sq_finish_later */
    bool paused;          /* sq_pause: the verb waits for sq_resume */
    bool body_done;       /* the request callback ran: the whole body is in */
    bool in_flush_error;  /* inside a flush callback reporting a dead connection */
    bool gz_decided;      /* compress_response: the first flush or finish decided */
    struct z_stream_s *gz; /* the gzip stream when the response is compressed */
    bool http_pending;    /* finished, but the HTTP request is finished by on_close */
    bool closed;          /* the client went away */
    bool flushed;         /* the head was sent */
    bool error_sent;
    bool in_error;        /* inside send_error (write_error, set_default_headers) */
    bool released;

    /* Path captures: offsets into the path, decoded lazily into args. */
    uint32_t nargs;
    const char **path_args; /* [nargs + 1], index = group number */

    /* Response. */
    int status;
    const char *reason;   /* arena, or NULL */
    const char *ctype;    /* Content-Type, NULL when cleared */
    sq_hdr *hdrs;
    uint32_t nhdrs;
    uint32_t hdrs_cap;
    bool has_etag;
    sq_buf out;           /* body written and not yet flushed */
    void (*flush_cb)(sq_req *, int, void *);
    void *flush_arg;
    const char *err_detail; /* why the framework refused (shown with debug) */

    /* Input, parsed lazily. */
    bool query_parsed, body_parsed, body_bad;
    sq_arg *qargs;
    size_t nqargs;
    sq_arg *bargs;
    size_t nbargs;
    sq_file_rt *files;
    size_t nfiles;
    json_t *json;
    const char *remote_ip;
    const char *protocol;
    const char *method_s, *uri_s, *path_s, *query_s; /* copies, readable in on_finish */
    const char *xsrf_token;
    uint8_t xsrf_raw[SQ_XSRF_TOKEN_SIZE];
    bool xsrf_raw_ok;
    bool user_known;
    void *current_user;

    uint64_t start_ns;
    uint64_t end_ns;

    sq_arena arena;
    char arena_inline[SQ_ARENA_INLINE];
};

/* router.c */
int sq__router_compile(sq_route_group *g, const sq_route *routes, const char *host_pattern);
void sq__router_free_group(sq_route_group *g);
const sq_route_rt *sq__router_match(sq_app *app, sq_http_req *hreq, sq_req *r);

/* handler.c */
void sq__req_release_maybe(sq_req *r);
void sq__head_cb(sq_http_req *hreq, void *arg);
void sq__request_cb(sq_http_req *hreq, void *arg);
int sq__check_xsrf(sq_req *r);
const char *sq__allow_header(sq_req *r, char *buf, size_t cap);
bool sq__utf8_valid(const unsigned char *s, size_t n);

/* output.c */
void sq__reset_output(sq_req *r);
int sq__send_error_detail(sq_req *r, int status, const char *reason, const char *detail);

/* input.c */
const char *sq__header_n(sq_req *r, const char *name, size_t *len);

/* Case-insensitive ASCII comparison of two byte strings. */
static inline bool sq__ieq(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if ((unsigned)(x - 'A') < 26u) x = (unsigned char)(x + 32);
        if ((unsigned)(y - 'A') < 26u) y = (unsigned char)(y + 32);
        if (x != y) return false;
    }
    return true;
}

#endif
