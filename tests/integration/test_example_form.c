/* examples/form, in-process through the harness: the form with its XSRF
 * field, a multipart post with files echoed HTML-escaped, XSRF refusals. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../examples/form/app.c"

static form_app cfg;
static sq_test *t;

static sq_app *make_app(sq_loop *loop, void *arg) { return form_app_new(loop, arg); }

static void setup(void) {
    cfg = (form_app){.xsrf = true};
    t = sq_test_start(make_app, &cfg);
    cr_assert_not_null(t);
}

static void teardown(void) { cr_assert_eq(sq_test_free(t), 0); }

TestSuite(form, .init = setup, .fini = teardown);

/* GETs the form; copies the _xsrf cookie's value to cookie and the hidden
 * field's value to field. */
static void get_form(char *cookie, size_t ccap, char *field, size_t fcap) {
    sq_test_response *r = sq_test_get(t, "/");
    cr_assert_eq(r->status, 200, "%s", r->error_message);
    cr_assert(strstr(r->body, "enctype=\"multipart/form-data\""));
    cr_assert(strstr(r->body, "type=\"file\" name=\"upload\""));
    const char *sc = sq_test_header_get(r, "Set-Cookie");
    cr_assert_not_null(sc);
    cr_assert(strncmp(sc, "_xsrf=", 6) == 0, "%s", sc);
    size_t n = strcspn(sc + 6, ";");
    cr_assert(n < ccap);
    memcpy(cookie, sc + 6, n);
    cookie[n] = '\0';
    const char *v = strstr(r->body, "name=\"_xsrf\" value=\"");
    cr_assert_not_null(v, "%s", r->body);
    v += strlen("name=\"_xsrf\" value=\"");
    n = strcspn(v, "\"");
    cr_assert(n < fcap);
    memcpy(field, v, n);
    field[n] = '\0';
}

#define BOUNDARY "----squallboundary"

static size_t multipart(char *out, size_t cap, const char *xsrf, const char *name,
                        const char *filename, size_t file_len) {
    size_t n = (size_t)snprintf(out, cap,
                                "--" BOUNDARY "\r\n"
                                "Content-Disposition: form-data; name=\"_xsrf\"\r\n\r\n%s\r\n"
                                "--" BOUNDARY "\r\n"
                                "Content-Disposition: form-data; name=\"name\"\r\n\r\n%s\r\n"
                                "--" BOUNDARY "\r\n"
                                "Content-Disposition: form-data; name=\"comment\"\r\n\r\n"
                                "it's & \"that\"\r\n"
                                "--" BOUNDARY "\r\n"
                                "Content-Disposition: form-data; name=\"upload\"; "
                                "filename=\"%s\"\r\n"
                                "Content-Type: text/plain\r\n\r\n",
                                xsrf, name, filename);
    cr_assert(n + file_len + 64 < cap);
    memset(out + n, 'x', file_len);
    n += file_len;
    n += (size_t)snprintf(out + n, cap - n, "\r\n--" BOUNDARY "--\r\n");
    return n;
}

Test(form, upload_is_echoed_escaped) {
    char cookie[256], field[256], cookie_hdr[300], body[8192];
    get_form(cookie, sizeof cookie, field, sizeof field);
    snprintf(cookie_hdr, sizeof cookie_hdr, "Cookie: _xsrf=%s", cookie);
    const char *hdrs[] = {"Content-Type: multipart/form-data; boundary=" BOUNDARY, cookie_hdr,
                          NULL};
    size_t len = multipart(body, sizeof body, field, "<b>Ann</b>", "a<x>.txt", 1000);
    sq_test_response *r = sq_test_fetch(t, "POST", "/", hdrs, body, len);
    cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
    cr_assert(strstr(r->body, "Thanks, &lt;b&gt;Ann&lt;/b&gt;</h1>"), "%s", r->body);
    cr_assert(strstr(r->body, "<pre>it&#39;s &amp; &quot;that&quot;</pre>"), "%s", r->body);
    cr_assert(strstr(r->body, "<li>a&lt;x&gt;.txt (text/plain, 1000 bytes)</li>"), "%s", r->body);
    cr_assert_null(strstr(r->body, "<b>Ann"));
}

Test(form, urlencoded_post_without_file) {
    char cookie[256], field[256], cookie_hdr[300], body[512];
    get_form(cookie, sizeof cookie, field, sizeof field);
    snprintf(cookie_hdr, sizeof cookie_hdr, "Cookie: _xsrf=%s", cookie);
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", cookie_hdr, NULL};
    int n = snprintf(body, sizeof body, "_xsrf=%s&name=Bo+%%26+Co", field);
    sq_test_response *r = sq_test_fetch(t, "POST", "/", hdrs, body, (size_t)n);
    cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
    cr_assert(strstr(r->body, "Thanks, Bo &amp; Co</h1>"), "%s", r->body);
    cr_assert(strstr(r->body, "No file uploaded."), "%s", r->body);
}

Test(form, post_without_xsrf_is_403) {
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    sq_test_response *r = sq_test_fetch(t, "POST", "/", hdrs, "name=x", 6);
    cr_assert_eq(r->status, 403);
}

Test(form, malformed_multipart_is_400) {
    char cookie[256], field[256], cookie_hdr[300];
    get_form(cookie, sizeof cookie, field, sizeof field);
    snprintf(cookie_hdr, sizeof cookie_hdr, "Cookie: _xsrf=%s", cookie);
    char xsrf_hdr[300];
    snprintf(xsrf_hdr, sizeof xsrf_hdr, "X-Xsrftoken: %s", field);
    const char *hdrs[] = {"Content-Type: multipart/form-data; boundary=" BOUNDARY, cookie_hdr,
                          xsrf_hdr, NULL};
    const char *bad = "--" BOUNDARY "\r\nno headers end";
    sq_test_response *r = sq_test_fetch(t, "POST", "/", hdrs, bad, strlen(bad));
    cr_assert_eq(r->status, 400, "%d %s", r->status, r->body);
}
