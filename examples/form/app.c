/* form: an HTML form with a file upload, GET and POST.
 *
 *   GET  /   the form (multipart/form-data, with Tornado's _xsrf field)
 *   POST /   echoes the fields and every uploaded file's name, type and
 *            size, everything HTML-escaped
 *
 * Works for application/x-www-form-urlencoded posts too (no files then). */
#include "app.h"

#include <stdio.h>
#include <string.h>

/* Writes s HTML-escaped (Tornado's xhtml_escape: & < > " '). */
static void write_escaped(sq_req *req, const char *s) {
    size_t len = strlen(s), out_len = 0;
    char *out = sq_req_alloc(req, 6 * len + 1);
    if (out && sq_xhtml_escape(s, len, out, 6 * len + 1, &out_len) == 0)
        sq_write(req, out, out_len);
}

static void form_get(sq_req *req) {
    sq_write_str(req, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Upload</title>"
                      "</head><body>\n<h1>Tell us about yourself</h1>\n"
                      "<form method=\"post\" action=\"/\" enctype=\"multipart/form-data\">\n");
    /* Tornado's xsrf_form_html(): a hidden _xsrf field matching the cookie. */
    if (sq_app_get_settings(sq_req_app(req))->xsrf_cookies) {
        const char *xsrf = sq_xsrf_form_html(req);
        if (xsrf) sq_write_str(req, xsrf);
    }
    sq_write_str(req, "\n<p><label>Name <input name=\"name\"></label></p>\n"
                      "<p><label>Comment<br><textarea name=\"comment\"></textarea></label></p>\n"
                      "<p><label>File <input type=\"file\" name=\"upload\" multiple></label></p>\n"
                      "<p><button>Send</button></p>\n</form>\n</body></html>\n");
}

static void form_post(sq_req *req) {
    const char *name = sq_get_argument(req, "name", "");
    if (sq_finished(req)) return; /* a malformed body was answered with 400 */
    const char *comment = sq_get_argument(req, "comment", "");
    size_t nfiles = 0;
    const sq_file *files = sq_get_files(req, "upload", &nfiles);
    if (sq_finished(req)) return;

    sq_write_str(req, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Thanks</title>"
                      "</head><body>\n<h1>Thanks, ");
    write_escaped(req, *name ? name : "stranger");
    sq_write_str(req, "</h1>\n<p>Your comment:</p>\n<pre>");
    write_escaped(req, comment);
    sq_write_str(req, "</pre>\n");
    size_t shown = 0;
    for (size_t i = 0; i < nfiles; i++) {
        if (!files[i].filename[0]) continue; /* the browser's empty file field */
        if (!shown++) sq_write_str(req, "<ul>\n");
        sq_write_str(req, "<li>");
        write_escaped(req, files[i].filename);
        sq_write_str(req, " (");
        write_escaped(req, files[i].content_type);
        sq_writef(req, ", %zu bytes)</li>\n", files[i].len);
    }
    sq_write_str(req, shown ? "</ul>\n" : "<p>No file uploaded.</p>\n");
    sq_write_str(req, "<p><a href=\"/\">Again</a></p>\n</body></html>\n");
}

static const sq_handler form_handler = {.get = form_get, .post = form_post};

sq_app *form_app_new(sq_loop *loop, form_app *cfg) {
    cfg->routes[0] = (sq_route){.pattern = "/", .handler = &form_handler};
    cfg->routes[1] = (sq_route){.pattern = NULL};
    sq_app_settings settings = {
        .xsrf_cookies = cfg->xsrf,
        /* Uploads up to 10 MiB, at most 20 parts. */
        .server = {.max_body_size = 10u << 20},
        .multipart = {.max_parts = 20},
    };
    return sq_app_new(loop, cfg->routes, &settings);
}
