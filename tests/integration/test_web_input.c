/* The web framework's input side end to end: query and body arguments,
 * multipart files, JSON bodies, headers, cookies (plain and signed), XSRF,
 * xheaders, @authenticated, the access log. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sqtest.h"
#include "webtest.h"


/* ---- handlers ---- */

static void args_any(sq_req *req) {
    const char *vals[8];
    const char *a = sq_get_argument(req, "a", "def");
    if (sq_finished(req)) return;
    size_t n = sq_get_arguments(req, "a", vals, 8);
    sq_writef(req, "a=%s n=%zu", a, n);
    for (size_t i = 0; i < n && i < 8; i++) sq_writef(req, " [%s]", vals[i]);
    const char *q = sq_get_query_argument(req, "a", "-");
    const char *b = sq_get_body_argument(req, "a", "-");
    sq_writef(req, " q=%s b=%s", q, b);
    n = sq_get_query_arguments(req, "a", vals, 8);
    sq_writef(req, " qn=%zu", n);
    n = sq_get_body_arguments(req, "a", vals, 8);
    sq_writef(req, " bn=%zu", n);
    size_t nf = 0;
    const sq_file *f = sq_get_files(req, "up", &nf);
    for (size_t i = 0; i < nf; i++)
        sq_writef(req, " file[%s|%s|%zu|%s]", f[i].filename, f[i].content_type, f[i].len, f[i].body);
}
static const sq_handler args_handler = {.get = args_any, .post = args_any};

static void json_post(sq_req *req) {
    json_t *j = sq_get_json(req);
    if (!j) return;
    json_t *name = json_object_get(j, "name");
    json_t *out = json_pack("{s:s, s:b}", "hello", name ? json_string_value(name) : "?", "ok", 1);
    sq_set_status(req, 201, NULL);
    sq_write_json(req, out);
    json_decref(out);
    cr_assert_eq(sq_get_json(req), j); /* parsed once */
}
static const sq_handler json_handler = {.post = json_post};

static void info_get(sq_req *req) {
    const char *vals[4];
    size_t n = sq_req_headers(req, "x-multi", vals, 4);
    sq_writef(req, "ip=%s proto=%s host=%s hostname=%s method=%s uri=%s path=%s query=%s multi=%zu",
              sq_req_remote_ip(req), sq_req_protocol(req), sq_req_host(req),
              sq_req_host_name(req), sq_req_method(req), sq_req_uri(req), sq_req_path(req),
              sq_req_query(req), n);
    for (size_t i = 0; i < n; i++) sq_writef(req, ",%s", vals[i]);
    const char *ua = sq_req_header(req, "USER-AGENT");
    sq_writef(req, " ua=%s", ua ? ua : "(none)");
    cr_assert(sq_req_time(req) >= 0.0);
}
static const sq_handler info_handler = {.get = info_get};

static void signed_get(sq_req *req) {
    const char *set = sq_get_query_argument(req, "set", NULL);
    if (set) {
        cr_assert_eq(sq_set_signed_cookie(req, "user", set, strlen(set), 0), 0);
        sq_write_str(req, "set");
        return;
    }
    size_t len = 0;
    const char *v = sq_get_signed_cookie(req, "user", 0, &len);
    sq_writef(req, "user=%s", v ? v : "(invalid)");
}
static const sq_handler signed_handler = {.get = signed_get};

static void form_get(sq_req *req) { sq_write_str(req, sq_xsrf_form_html(req)); }
static void form_post(sq_req *req) { sq_write_str(req, "accepted"); }
static const sq_handler form_handler = {.get = form_get, .post = form_post};

typedef struct {
    const char *user;
} auth_state;
static void auth_prepare(sq_req *req) {
    auth_state *s = sq_req_state(req);
    s->user = sq_req_header(req, "X-User");
    if (!sq_authenticated(req, s->user)) return;
}
static void auth_get(sq_req *req) {
    auth_state *s = sq_req_state(req);
    sq_writef(req, "hi %s", s->user);
}
static void *user_from_header(sq_req *req) { return (void *)sq_req_header(req, "X-User"); }
static void cu_prepare(sq_req *req) {
    if (!sq_require_user(req)) return;
}
static void cu_get(sq_req *req) {
    cr_assert_eq(sq_current_user(req), sq_current_user(req)); /* cached */
    sq_writef(req, "user %s", (const char *)sq_current_user(req));
}
static const sq_handler cu_handler = {
    .get_current_user = user_from_header, .prepare = cu_prepare, .get = cu_get};

static const sq_handler auth_handler = {
    .state_size = sizeof(auth_state), .prepare = auth_prepare, .get = auth_get, .post = auth_get};

static void rm_get(sq_req *req) {
    if (!sq_removeslash(req)) return;
    sq_write_str(req, "rm ok");
}
static void add_get(sq_req *req) {
    if (!sq_addslash(req)) return;
    sq_write_str(req, "add ok");
}
static const sq_handler rm_handler = {.get = rm_get, .post = rm_get};
static const sq_handler add_handler = {.get = add_get, .post = add_get};

static const sq_route routes[] = {
    {"/rm/?.*", &rm_handler, NULL, NULL},
    {"/add.*", &add_handler, NULL, NULL},
    {"/args", &args_handler, NULL, NULL},
    {"/json", &json_handler, NULL, NULL},
    {"/info", &info_handler, NULL, NULL},
    {"/signed", &signed_handler, NULL, NULL},
    {"/form", &form_handler, NULL, NULL},
    {"/auth", &auth_handler, NULL, NULL},
    {"/cu", &cu_handler, NULL, NULL},
    {NULL},
};

static int post(wapp *w, const char *path, const char *ctype, const char *body, char *buf,
                size_t cap) {
    char raw[16384];
    snprintf(raw, sizeof raw,
             "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
             path, ctype, strlen(body), body);
    return wapp_fetch(w, raw, buf, cap);
}

Test(web_input, query_and_form_arguments) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192];
    cr_assert_eq(wapp_get(w, "/args", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "a=def n=0 q=- b=- qn=0 bn=0");
    cr_assert_eq(wapp_get(w, "/args?a=1&a=+two+&b=3&a=%E2%82%AC%00x", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "a=\xe2\x82\xac x n=3 [1] [two] [\xe2\x82\xac x] q=\xe2\x82\xac x "
                                    "b=- qn=3 bn=0");
    cr_assert_eq(post(w, "/args?a=q", "application/x-www-form-urlencoded", "a=b1&c=2&a=b+2", buf,
                      sizeof buf),
                 200);
    cr_assert_str_eq(sqt_body(buf), "a=b 2 n=3 [q] [b1] [b 2] q=q b=b 2 qn=1 bn=2");
    /* Invalid UTF-8 in a value: 400 when it is read. */
    cr_assert_eq(wapp_get(w, "/args?a=%ff", buf, sizeof buf), 400);
    /* A body of another type is not parsed. */
    cr_assert_eq(post(w, "/args", "text/plain", "a=1", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "a=def n=0 q=- b=- qn=0 bn=0");
    wapp_stop(w);

    /* Too many arguments: 400. */
    sq_app_settings s = {.max_arguments = 3};
    w = wapp_start(routes, &s);
    cr_assert_eq(wapp_get(w, "/args?a=1&a=2&a=3&a=4", buf, sizeof buf), 400);
    cr_assert_eq(wapp_get(w, "/args?a=1&a=2&a=3", buf, sizeof buf), 200);
    wapp_stop(w);
}

#define MP_CT "multipart/form-data; boundary=XyZ"

Test(web_input, multipart) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192];
    const char *body = "--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                       "field value\r\n"
                       "--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"up\"; filename=\"a.txt\"\r\n"
                       "Content-Type: text/plain\r\n\r\n"
                       "file one\r\n"
                       "--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"up\"; filename=\"b.bin\"\r\n\r\n"
                       "two\r\n"
                       "--XyZ--\r\n";
    cr_assert_eq(post(w, "/args", MP_CT, body, buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "a=field value n=1 [field value] q=- b=field value qn=0 bn=1 "
                                    "file[a.txt|text/plain|8|file one] "
                                    "file[b.bin|application/unknown|3|two]");
    /* Malformed: no final boundary, a part without a name. */
    cr_assert_eq(post(w, "/args", MP_CT, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n",
                      buf, sizeof buf),
                 400);
    cr_assert_eq(post(w, "/args", MP_CT, "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--\r\n",
                      buf, sizeof buf),
                 400);
    cr_assert_eq(post(w, "/args", "multipart/form-data", "x", buf, sizeof buf), 400);
    wapp_stop(w);

    /* Bounds on parts and part size. */
    sq_app_settings s = {0};
    s.multipart.max_parts = 2;
    s.multipart.max_part_size = 8;
    w = wapp_start(routes, &s);
    cr_assert_eq(post(w, "/args", MP_CT, body, buf, sizeof buf), 400);
    const char *two = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n12345678\r\n"
                      "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n123456789\r\n--XyZ--\r\n";
    cr_assert_eq(post(w, "/args", MP_CT, two, buf, sizeof buf), 400);
    wapp_stop(w);
}

Test(web_input, json_body) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192], v[128];
    cr_assert_eq(post(w, "/json", "application/json", "{\"name\": \"ann\"}", buf, sizeof buf), 201);
    cr_assert_str_eq(sqt_body(buf), "{\"hello\": \"ann\", \"ok\": true}");
    cr_assert_str_eq(resp_header(buf, "Content-Type", v, sizeof v), "application/json; charset=UTF-8");
    cr_assert_eq(post(w, "/json", "application/json", "{\"name\": ", buf, sizeof buf), 400);
    cr_assert_eq(post(w, "/json", "application/json", "", buf, sizeof buf), 400);
    wapp_stop(w);
}

Test(web_input, headers_and_xheaders) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192];
    const char *raw = "GET /info?x=1 HTTP/1.1\r\nHost: Example.COM:81\r\nX-Multi: a\r\nX-Multi: b\r\n"
                      "User-Agent: t\r\nX-Real-Ip: 10.0.0.9\r\nX-Scheme: https\r\n\r\n";
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "ip=127.0.0.1 proto=http host=Example.COM:81 "
                                    "hostname=example.com method=GET uri=/info?x=1 path=/info "
                                    "query=x=1 multi=2,a,b ua=t");
    wapp_stop(w);

    sq_app_settings s = {.xheaders = true};
    w = wapp_start(routes, &s);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 200);
    cr_assert(strstr(sqt_body(buf), "ip=10.0.0.9 proto=https "));
    cr_assert_eq(wapp_fetch(w, "GET /info HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4, ::1\r\n"
                          "X-Forwarded-Proto: http, https\r\n\r\n",
                       buf, sizeof buf),
                 200);
    cr_assert(strstr(sqt_body(buf), "ip=::1 proto=https "));
    /* Invalid values are ignored. */
    cr_assert_eq(wapp_fetch(w, "GET /info HTTP/1.1\r\nHost: x\r\nX-Real-Ip: nonsense\r\n"
                          "X-Scheme: gopher\r\n\r\n",
                       buf, sizeof buf),
                 200);
    cr_assert(strstr(sqt_body(buf), "ip=127.0.0.1 proto=http "));
    wapp_stop(w);
}

/* The Set-Cookie value of a response, as a Cookie header would carry it. */
static void cookie_of(const char *resp, const char *name, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "Set-Cookie: %s=", name);
    const char *p = strstr(resp, pat);
    cr_assert_not_null(p, "no cookie %s in %s", name, resp);
    p += strlen("Set-Cookie: ");
    const char *e = p;
    bool q = false;
    while (*e && (q || *e != ';') && *e != '\r') {
        if (*e == '"') q = !q;
        e++;
    }
    size_t n = (size_t)(e - p);
    cr_assert(n < cap);
    memcpy(out, p, n);
    out[n] = 0;
}

Test(web_input, signed_cookies) {
    sq_app_settings s = {.cookie_secret = "It's a secret to everybody"};
    wapp *w = wapp_start(routes, &s);
    char buf[8192], c[512], raw[1024];
    cr_assert_eq(wapp_get(w, "/signed?set=alice", buf, sizeof buf), 200);
    cookie_of(buf, "user", c, sizeof c);
    cr_assert(strstr(buf, "expires="));
    snprintf(raw, sizeof raw, "GET /signed HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n", c);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "user=alice");
    /* Tampered: the signature no longer matches. */
    char *p = strstr(c, "YWxpY2U=");
    cr_assert_not_null(p, "%s", c);
    p[0] = 'Z';
    snprintf(raw, sizeof raw, "GET /signed HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n", c);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "user=(invalid)");
    /* Tornado's own test vector (an old timestamp) has expired. */
    cr_assert_eq(wapp_fetch(w, "GET /signed HTTP/1.1\r\nHost: x\r\nCookie: user=\"2|1:0|10:1300000000|3:key|"
                          "8:dmFsdWU=|3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152\"\r\n\r\n",
                       buf, sizeof buf),
                 200);
    cr_assert_str_eq(sqt_body(buf), "user=(invalid)");
    wapp_stop(w);
}

Test(web_input, xsrf) {
    sq_app_settings s = {.xsrf_cookies = true};
    wapp *w = wapp_start(routes, &s);
    char buf[8192], c[256], raw[2048];
    cr_assert_eq(wapp_get(w, "/form", buf, sizeof buf), 200);
    cookie_of(buf, "_xsrf", c, sizeof c);
    const char *tok = c + strlen("_xsrf=");
    cr_assert_eq(strncmp(tok, "2|", 2), 0, "%s", tok);
    /* The form carries a differently masked copy of the same token. */
    const char *html = sqt_body(buf);
    cr_assert(strncmp(html, "<input type=\"hidden\" name=\"_xsrf\" value=\"2|", 43) == 0, "%s", html);
    char formtok[128];
    sscanf(html + 41, "%127[^\"]", formtok);
    /* POST without a token: 403. */
    snprintf(raw, sizeof raw, "POST /form HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nContent-Length: 0\r\n\r\n", c);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 403);
    /* With the token in the form body. */
    char body[256];
    snprintf(body, sizeof body, "_xsrf=%s", formtok);
    snprintf(raw, sizeof raw,
             "POST /form HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nContent-Type: "
             "application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
             c, strlen(body), body);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "accepted");
    /* With the token in a header. */
    snprintf(raw, sizeof raw,
             "POST /form HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nX-Xsrftoken: %s\r\nContent-Length: 0\r\n\r\n",
             c, formtok);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 200);
    /* A token from another browser: 403. */
    snprintf(raw, sizeof raw,
             "POST /form HTTP/1.1\r\nHost: x\r\nCookie: _xsrf=2|01020304|0103010705070503090b090f0d0f0d0b|1300000000\r\n"
             "X-Xsrftoken: %s\r\nContent-Length: 0\r\n\r\n",
             formtok);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 403);
    /* No cookie at all. */
    snprintf(raw, sizeof raw, "POST /form HTTP/1.1\r\nHost: x\r\nX-Csrftoken: %s\r\nContent-Length: 0\r\n\r\n",
             formtok);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 403);
    /* GET is never checked; a request with a valid cookie gets no new one. */
    snprintf(raw, sizeof raw, "GET /form HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n", c);
    cr_assert_eq(wapp_fetch(w, raw, buf, sizeof buf), 200);
    cr_assert_null(strstr(buf, "Set-Cookie"));
    /* Unknown URLs answer 404, not 403 (the 404 handler skips the check). */
    cr_assert_eq(wapp_fetch(w, "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf), 404);
    wapp_stop(w);
}

Test(web_input, authenticated) {
    sq_app_settings s = {.login_url = "/login"};
    wapp *w = wapp_start(routes, &s);
    char buf[8192], v[256];
    cr_assert_eq(wapp_get(w, "/auth?a=b%20c", buf, sizeof buf), 302);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "/login?next=%2Fauth%3Fa%3Db%2520c");
    cr_assert_eq(wapp_fetch(w, "POST /auth HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf), 403);
    cr_assert_eq(wapp_fetch(w, "GET /auth HTTP/1.1\r\nHost: x\r\nX-User: bo\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "hi bo");
    cr_assert_eq(wapp_fetch(w, "GET /cu HTTP/1.1\r\nHost: x\r\nX-User: zed\r\n\r\n", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "user zed");
    cr_assert_eq(wapp_get(w, "/cu", buf, sizeof buf), 302);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "/login?next=%2Fcu");
    wapp_stop(w);
    s.login_url = "https://login.example/?app=1";
    w = wapp_start(routes, &s);
    cr_assert_eq(wapp_get(w, "/auth", buf, sizeof buf), 302);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "https://login.example/?app=1");
    wapp_stop(w);
    s.login_url = "https://login.example/";
    w = wapp_start(routes, &s);
    cr_assert_eq(wapp_get(w, "/auth", buf, sizeof buf), 302);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "https://login.example/?next=http%3A%2F%2Fx%2Fauth");
    wapp_stop(w);
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[4096];
static int log_levels[8];
static int nlog;

static void sink(sq_req *req, sq_log_level level, const char *line, void *arg) {
    pthread_mutex_lock(&log_mu);
    strncat(log_lines, line, sizeof log_lines - strlen(log_lines) - 2);
    strcat(log_lines, "\n");
    if (nlog < 8) log_levels[nlog] = level;
    nlog++;
    pthread_mutex_unlock(&log_mu);
}

Test(web_input, access_log) {
    sq_app_settings s = {.access_log = sink};
    wapp *w = wapp_start(routes, &s);
    char buf[8192];
    wapp_get(w, "/info?z=1", buf, sizeof buf);
    wapp_get(w, "/missing", buf, sizeof buf);
    post(w, "/json", "application/json", "{", buf, sizeof buf);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&log_mu);
        int n = nlog;
        pthread_mutex_unlock(&log_mu);
        if (n >= 3) break;
        usleep(10000);
    }
    pthread_mutex_lock(&log_mu);
    cr_assert_eq(nlog, 3);
    char l1[256], l2[256], l3[256];
    double ms;
    cr_assert_eq(sscanf(log_lines, "%255[^\n]\n%255[^\n]\n%255[^\n]", l1, l2, l3), 3);
    cr_assert(strncmp(l1, "200 GET /info?z=1 (127.0.0.1) ", 30) == 0, "%s", l1);
    cr_assert_eq(sscanf(l1 + 30, "%lfms", &ms), 1);
    cr_assert(strncmp(l2, "404 GET /missing (127.0.0.1) ", 29) == 0, "%s", l2);
    cr_assert(strncmp(l3, "400 POST /json (127.0.0.1) ", 27) == 0, "%s", l3);
    cr_assert_eq(log_levels[0], SQ_LOG_INFO);
    cr_assert_eq(log_levels[1], SQ_LOG_WARNING);
    cr_assert_eq(log_levels[2], SQ_LOG_WARNING);
    pthread_mutex_unlock(&log_mu);
    wapp_stop(w);
}

Test(web_input, slashes) {
    wapp *w = wapp_start(routes, NULL);
    char buf[8192], v[256];
    cr_assert_eq(wapp_get(w, "/rm/a//?x=1", buf, sizeof buf), 301);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "/rm/a?x=1");
    cr_assert_eq(wapp_get(w, "/rm/a", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "rm ok");
    cr_assert_eq(wapp_fetch(w, "POST /rm/a/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf), 404);
    cr_assert_eq(wapp_get(w, "/add/b?y=2", buf, sizeof buf), 301);
    cr_assert_str_eq(resp_header(buf, "Location", v, sizeof v), "/add/b/?y=2");
    cr_assert_eq(wapp_get(w, "/add/b/", buf, sizeof buf), 200);
    cr_assert_str_eq(sqt_body(buf), "add ok");
    wapp_stop(w);
}
