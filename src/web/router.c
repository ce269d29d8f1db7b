/* Routing: PCRE2 patterns compiled once (with the JIT when the platform has
 * one), anchored at both ends as Tornado anchors its patterns, matched
 * against the raw percent-encoded path with one match_data per app, and
 * Tornado's reverse_url for simple patterns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_internal.h"

static pcre2_code *compile(const char *pattern) {
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_ANCHORED | PCRE2_ENDANCHORED, &errcode, &erroff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        fprintf(stderr, "squall: route pattern \"%s\" does not compile at offset %zu: %s\n",
                pattern, (size_t)erroff, (const char *)msg);
        return NULL;
    }
    /* Without a JIT (an unsupported CPU, a hardened kernel) pcre2_match
     * interprets the pattern: slower, still correct. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

static const char META[] = "\\^$.|?*+()[]{}";

/* The commonest REST shape, "literal(CLASS+)literal" with one of a few
 * classes, needs no regex engine: anchored at both ends with a single
 * group, the group must span exactly what lies between the two literals.
 * PCRE2 (without UTF or UCP) gives the same answer for these shapes. */
static void detect_fast(sq_route_rt *rt, const char *pat) {
    const char *open = strchr(pat, '(');
    if (!open) return;
    size_t pl = (size_t)(open - pat);
    for (size_t i = 0; i < pl; i++)
        if (strchr(META, pat[i])) return;
    static const struct {
        const char *text;
        char cls;
    } classes[] = {{"\\d", 'd'}, {"[0-9]", 'd'}, {"\\w", 'w'}, {"[^/]", 's'}, {".", '.'}};
    const char *q = open + 1;
    char cls = 0;
    for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++) {
        size_t n = strlen(classes[k].text);
        if (strncmp(q, classes[k].text, n) == 0) {
            cls = classes[k].cls;
            q += n;
            break;
        }
    }
    if (!cls || (q[0] != '+' && q[0] != '*') || q[1] != ')') return;
    const char *suffix = q + 2;
    for (const char *c = suffix; *c; c++)
        if (strchr(META, *c)) return;
    rt->fast = true;
    rt->fast_class = (uint8_t)cls;
    rt->fast_plus = q[0] == '+';
    rt->prefix = pat;
    rt->prefix_len = pl;
    rt->suffix = suffix;
    rt->suffix_len = strlen(suffix);
}

static bool in_class(uint8_t cls, unsigned char c) {
    switch (cls) {
    case 'd': return c >= '0' && c <= '9';
    case 'w': return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c == '_';
    case 's': return c != '/';
    default: return c != '\n';
    }
}

/* Returns true and the group's extent [*a, *b) when the path matches. */
static bool match_fast(const sq_route_rt *rt, const char *s, size_t len, size_t *a, size_t *b) {
    if (len < rt->prefix_len + rt->suffix_len) return false;
    if (memcmp(s, rt->prefix, rt->prefix_len) != 0) return false;
    if (memcmp(s + len - rt->suffix_len, rt->suffix, rt->suffix_len) != 0) return false;
    size_t from = rt->prefix_len, to = len - rt->suffix_len;
    if (rt->fast_plus && to == from) return false;
    for (size_t i = from; i < to; i++)
        if (!in_class(rt->fast_class, (unsigned char)s[i])) return false;
    *a = from;
    *b = to;
    return true;
}

int sq__router_compile(sq_route_group *g, const sq_route *routes, const char *host_pattern) {
    memset(g, 0, sizeof *g);
    if (host_pattern && !(g->host_re = compile(host_pattern))) return SQ_EINVAL;
    size_t n = 0;
    while (routes && routes[n].pattern) n++;
    if (n && !(g->routes = calloc(n, sizeof *g->routes))) {
        sq__router_free_group(g);
        return SQ_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        sq_route_rt *rt = &g->routes[i];
        rt->route = &routes[i];
        if (!routes[i].handler || !(rt->re = compile(routes[i].pattern))) {
            if (!routes[i].handler)
                fprintf(stderr, "squall: route \"%s\" has no handler\n", routes[i].pattern);
            sq__router_free_group(g);
            return SQ_EINVAL;
        }
        g->nroutes = i + 1;
        /* Most routes ("/", "/api/users") are plain text: a memcmp instead of
         * a regex match. Anchors and escapes are left to PCRE2. */
        const char *pat = routes[i].pattern;
        if (!pat[strcspn(pat, META)]) {
            rt->literal = pat;
            rt->literal_len = strlen(pat);
        }
        detect_fast(rt, pat);
        pcre2_pattern_info(rt->re, PCRE2_INFO_CAPTURECOUNT, &rt->ngroups);
        pcre2_pattern_info(rt->re, PCRE2_INFO_NAMECOUNT, &rt->namecount);
        pcre2_pattern_info(rt->re, PCRE2_INFO_NAMEENTRYSIZE, &rt->name_entry_size);
        pcre2_pattern_info(rt->re, PCRE2_INFO_NAMETABLE, &rt->nametable);
    }
    return 0;
}

void sq__router_free_group(sq_route_group *g) {
    for (size_t i = 0; i < g->nroutes; i++) pcre2_code_free(g->routes[i].re);
    free(g->routes);
    pcre2_code_free(g->host_re);
    memset(g, 0, sizeof *g);
}

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF), as
 * Python's decode('utf-8') accepts it. */
bool sq__utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += len;
    }
    return true;
}

static int match_one(const sq_route_rt *rt, pcre2_match_data *md, const char *s, size_t len) {
    int rc = pcre2_jit_match(rt->re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
    if (rc == PCRE2_ERROR_JIT_BADOPTION) rc = pcre2_match(rt->re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
    return rc;
}

static int match_host(pcre2_code *re, pcre2_match_data *md, const char *s, size_t len) {
    int rc = pcre2_jit_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
    if (rc == PCRE2_ERROR_JIT_BADOPTION) rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
    return rc;
}

/* Decodes the captures of a match into the request's arena. Returns false
 * when a capture is not valid UTF-8 once decoded (Tornado answers 400). */
static bool take_captures(sq_req *r, const sq_route_rt *rt, const PCRE2_SIZE *ov, const char *path) {
    r->nargs = rt->ngroups;
    if (!rt->ngroups) return true;
    r->path_args = sq__arena_alloc(&r->arena, (rt->ngroups + 1) * sizeof(char *));
    if (!r->path_args) {
        r->nargs = 0;
        return false;
    }
    r->path_args[0] = NULL;
    bool ok = true;
    for (uint32_t i = 1; i <= rt->ngroups; i++) {
        PCRE2_SIZE a = ov[2 * i], b = ov[2 * i + 1];
        if (a == PCRE2_UNSET) {
            r->path_args[i] = NULL;
            continue;
        }
        char *d = sq__arena_alloc(&r->arena, b - a + 1);
        if (!d) return false;
        /* Plain ASCII without escapes (an id, a slug) is copied as is. */
        bool plain = true;
        for (size_t k = a; k < b && plain; k++) plain = path[k] != '%' && (unsigned char)path[k] < 0x80;
        size_t n;
        if (plain) {
            n = b - a;
            memcpy(d, path + a, n);
        } else {
            n = sq_url_unescape(path + a, b - a, d, false);
            if (!sq__utf8_valid((const unsigned char *)d, n)) ok = false;
        }
        d[n] = 0;
        r->path_args[i] = d;
    }
    return ok;
}

/* The host name for host rules: the Host header lowercased, without a port
 * (IPv6 literals keep their brackets). */
static size_t host_name(sq_http_req *hreq, char *out, size_t cap) {
    const sq_http_head *h = sq_http_req_head(hreq);
    if (!h->host) return 0;
    size_t n = h->host_len;
    const char *s = h->host;
    size_t end = n;
    if (n && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (rb) end = (size_t)(rb - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon) end = (size_t)(colon - s);
    }
    if (end > cap) end = cap;
    for (size_t i = 0; i < end; i++) {
        char c = s[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    return end;
}

const sq_route_rt *sq__router_match(sq_app *app, sq_http_req *hreq, sq_req *r) {
    size_t plen;
    const char *path = sq_http_req_path(hreq, &plen);
    char host[256];
    size_t hlen = 0;
    bool have_host = false;
    for (size_t gi = 0; gi < app->ngroups; gi++) {
        sq_route_group *g = &app->groups[gi];
        if (g->host_re) {
            if (!have_host) {
                hlen = host_name(hreq, host, sizeof host);
                have_host = true;
            }
            if (match_host(g->host_re, app->md, host, hlen) < 0) continue;
        }
        for (size_t i = 0; i < g->nroutes; i++) {
            const sq_route_rt *rt = &g->routes[i];
            if (rt->literal) {
                if (rt->literal_len == plen && memcmp(rt->literal, path, plen) == 0) {
                    r->nargs = 0;
                    return rt;
                }
                continue;
            }
            const PCRE2_SIZE *ov;
            PCRE2_SIZE fov[4];
            if (rt->fast) {
                size_t a, b;
                if (!match_fast(rt, path, plen, &a, &b)) continue;
                fov[0] = 0, fov[1] = plen, fov[2] = a, fov[3] = b;
                ov = fov;
            } else {
                if (match_one(rt, app->md, path, plen) < 0) continue;
                ov = pcre2_get_ovector_pointer(app->md);
            }
            if (!take_captures(r, rt, ov, path)) r->err_detail = "invalid UTF-8 in the path";
            return rt;
        }
    }
    r->nargs = 0;
    return &app->default_route;
}

const char *sq_path_arg(const sq_req *req, int i) {
    if (i < 1 || (uint32_t)i > req->nargs) return NULL;
    return req->path_args[i];
}

int sq_path_nargs(const sq_req *req) { return (int)req->nargs; }

const char *sq_path_kwarg(const sq_req *req, const char *name) {
    const sq_route_rt *rt = req->rt;
    if (!rt || !rt->namecount || !req->nargs) return NULL;
    PCRE2_SPTR e = rt->nametable;
    for (uint32_t k = 0; k < rt->namecount; k++, e += rt->name_entry_size) {
        int num = (e[0] << 8) | e[1];
        if (strcmp((const char *)e + 2, name) == 0) return sq_path_arg(req, num);
    }
    return NULL;
}

/* ---- reverse_url ---- */

static const sq_route *find_named(const sq_app *app, const char *name) {
    for (size_t gi = 0; gi < app->ngroups; gi++)
        for (size_t i = 0; i < app->groups[gi].nroutes; i++) {
            const sq_route *rt = app->groups[gi].routes[i].route;
            if (rt->name && strcmp(rt->name, name) == 0) return rt;
        }
    return NULL;
}

/* Appends the literal text of a fragment with its backslash escapes
 * removed (Tornado's re_unescape: an escaped letter or digit makes the
 * pattern irreversible). */
static int put_literal(const char *s, size_t n, char *out, size_t cap, size_t *len) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\') {
            if (++i >= n) return SQ_EINVAL;
            c = s[i];
            if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
                return SQ_EINVAL;
        }
        if (*len + 1 < cap) out[*len] = c;
        (*len)++;
    }
    return 0;
}

int sq_reverse_url(const sq_app *app, const char *name, const char *const *args, size_t nargs,
                   char *out, size_t cap) {
    const sq_route *route = find_named(app, name);
    if (!route) return SQ_ENOENT;
    const char *p = route->pattern;
    size_t n = strlen(p);
    if (n && p[0] == '^') p++, n--;
    if (n && p[n - 1] == '$') n--;
    size_t parens = 0;
    for (size_t i = 0; i < n; i++) parens += p[i] == '(';
    /* The group count of the compiled route. */
    uint32_t groups = 0;
    for (size_t gi = 0; gi < app->ngroups; gi++)
        for (size_t i = 0; i < app->groups[gi].nroutes; i++)
            if (app->groups[gi].routes[i].route == route) groups = app->groups[gi].routes[i].ngroups;
    if (parens != groups || nargs != groups) return SQ_EINVAL;
    size_t len = 0, argi = 0;
    const char *frag = p, *end = p + n;
    bool first = true;
    while (frag <= end) {
        const char *open = memchr(frag, '(', (size_t)(end - frag));
        const char *fend = open ? open : end;
        const char *close = first ? NULL : memchr(frag, ')', (size_t)(fend - frag));
        const char *lit = frag;
        if (!first) {
            if (close) {
                /* A group: its argument, url-escaped, then the literal after ')'. */
                const char *a = args[argi++];
                size_t alen = a ? strlen(a) : 0, elen;
                char *dst = len < cap ? out + len : NULL;
                int err = sq_url_escape(a, alen, dst, dst ? cap - len : 0, false, &elen);
                if (err && err != SQ_ELIMIT) return err;
                len += elen;
                lit = close + 1;
            }
        }
        int err = put_literal(lit, (size_t)(fend - lit), out, cap, &len);
        if (err) return err;
        first = false;
        if (!open) break;
        frag = open + 1;
    }
    if (argi != nargs) return SQ_EINVAL;
    if (len + 1 > cap) return SQ_ELIMIT;
    out[len] = 0;
    return (int)len;
}
