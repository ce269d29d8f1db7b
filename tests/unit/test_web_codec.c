/* Unit tests for the web layer's pure codecs (include/squall/codec.h).
 *
 * Two kinds of tests: hand-written cases (each input is copied into a
 * buffer of exactly its size, so that AddressSanitizer sees any read past
 * the end, and output buffers are tried one byte too small), and
 * cross-checks against Tornado itself: a Python script run with
 * /usr/bin/python3 generates seeded random inputs, feeds them to Tornado
 * 6.2 (python3-tornado) and prints the inputs with Tornado's answers; the
 * test compares squall's answers with those. When python3-tornado is
 * missing the cross-checks fail with a message saying how to install it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "squall/codec.h"

/* ---- helpers --------------------------------------------------------------- */

/* A heap copy of exactly n bytes (never NUL-terminated), for bounds checks. */
static char *dup_exact(const void *s, size_t n) {
    char *p = malloc(n ? n : 1);
    cr_assert(p);
    if (n) memcpy(p, s, n);
    return p;
}

#define S(lit) lit, sizeof(lit) - 1

static void assert_span(const char *p, size_t n, const char *want, size_t want_len,
                        const char *what) {
    cr_assert(n == want_len && (n == 0 || memcmp(p, want, n) == 0),
              "%s: got [%.*s] (%zu), want [%.*s] (%zu)", what, (int)n, p ? p : "", n,
              (int)want_len, want, want_len);
}

/* Runs a Python script with /usr/bin/python3 and returns its standard output
 * (malloc'ed, NUL-terminated). Exit status 3 means tornado is missing. */
static char *py_run(const char *script) {
    cr_assert(access("/usr/bin/python3", X_OK) == 0,
              "/usr/bin/python3 is missing: the Tornado cross-checks need it "
              "(scripts/install-deps test installs python3 and python3-tornado)");
    char path[] = "/tmp/sq_codec_py_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t n = strlen(script);
    cr_assert(write(fd, script, n) == (ssize_t)n);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", path);
    FILE *f = popen(cmd, "r");
    cr_assert(f);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    size_t got;
    while ((got = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) out = realloc(out, cap *= 2);
    }
    out[len] = 0;
    int st = pclose(f);
    unlink(path);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 3,
              "python3-tornado is not installed for /usr/bin/python3: the Tornado "
              "cross-checks cannot run. Install it with: scripts/install-deps test "
              "(apt-get install python3-tornado)");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the Python generator failed (status %d)",
              st);
    cr_assert(len > 0, "the Python generator printed nothing");
    return out;
}

/* The common start of every generator script. */
#define PY_PRELUDE                                                                 \
    "import sys, random, binascii\n"                                               \
    "try:\n"                                                                       \
    "    import tornado, tornado.web, tornado.httputil, tornado.escape\n"          \
    "except Exception as e:\n"                                                     \
    "    sys.stderr.write('python3-tornado is not importable: %s\\n' % e)\n"       \
    "    sys.exit(3)\n"                                                            \
    "def H(b):\n"                                                                  \
    "    if isinstance(b, str): b = b.encode('latin1')\n"                          \
    "    return binascii.hexlify(b).decode() if b else '-'\n"                      \
    "def out(*f): sys.stdout.write(' '.join(str(x) for x in f) + '\\n')\n"         \
    "R = random.Random(20240601)\n"                                                \
    "import logging\n"                                                            \
    "logging.disable(logging.CRITICAL)\n"                                                \
    "from unittest import mock\n"                                                  \
    "from tornado.httputil import HTTPServerRequest, HTTPHeaders\n"                \
    "app = tornado.web.Application()\n"                                            \
    "def handler(headers=None, method='GET'):\n"                                   \
    "    req = HTTPServerRequest(method=method, uri='/', "                         \
    "headers=HTTPHeaders(headers or {}), connection=mock.Mock())\n"                \
    "    return tornado.web.RequestHandler(app, req)\n"

/* Splits a line into space-separated fields (in place). */
static size_t fields(char *line, char **f, size_t max) {
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t && n < max; t = strtok_r(NULL, " ", &save))
        f[n++] = t;
    return n;
}

/* Decodes a hex field ("-" is empty) into a malloc'ed buffer of exactly its
 * size plus a NUL (the NUL is outside the reported length). */
static char *unhex(const char *h, size_t *len) {
    size_t n = strcmp(h, "-") == 0 ? 0 : strlen(h) / 2;
    char *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        p[i] = (char)v;
    }
    p[n] = 0;
    *len = n;
    return p;
}

/* Iterates over the lines of a generator's output that start with tag. */
#define FOR_LINES(out, tag, line)                                                  \
    for (char *save_ = NULL, *line = strtok_r(out, "\n", &save_); line;            \
         line = strtok_r(NULL, "\n", &save_))                                      \
        if (strncmp(line, tag " ", strlen(tag) + 1) == 0)

/* ---- percent-encoding ------------------------------------------------------ */

static void check_unescape(const char *in, size_t len, bool plus, const char *want,
                           size_t want_len) {
    char *src = dup_exact(in, len);
    char *out = malloc(len ? len : 1);
    size_t n = sq_url_unescape(src, len, out, plus);
    assert_span(out, n, want, want_len, "sq_url_unescape");
    /* In place gives the same. */
    n = sq_url_unescape(src, len, src, plus);
    assert_span(src, n, want, want_len, "sq_url_unescape in place");
    free(src);
    free(out);
}

Test(url, unescape_cases) {
    check_unescape(S(""), true, S(""));
    check_unescape(S("abc"), true, S("abc"));
    check_unescape(S("a+b"), true, S("a b"));
    check_unescape(S("a+b"), false, S("a+b"));
    check_unescape(S("%41%42%63"), false, S("ABc"));
    check_unescape(S("%e9%E9"), false, S("\xe9\xe9"));
    check_unescape(S("%2B"), true, S("+"));
    check_unescape(S("%"), true, S("%"));
    check_unescape(S("%4"), true, S("%4"));
    check_unescape(S("%zz"), true, S("%zz"));
    check_unescape(S("%%41"), true, S("%A"));
    check_unescape(S("%4%41"), true, S("%4A"));
    check_unescape(S("%2+"), true, S("%2 "));
    check_unescape(S("100%"), true, S("100%"));
    check_unescape(S("%00x"), true, "\0x", 2);
    check_unescape(S("a%2Fb%2fc"), false, S("a/b/c"));
}

Test(url, escape_cases) {
    struct {
        const char *in;
        bool plus;
        const char *want;
    } cases[] = {
        {"", true, ""},
        {"abcXYZ019_.-~", true, "abcXYZ019_.-~"},
        {"a b", true, "a+b"},
        {"a b", false, "a%20b"},
        {"a/b", true, "a%2Fb"},
        {"a/b", false, "a/b"},
        {"a+b=c&d", true, "a%2Bb%3Dc%26d"},
        {"\xe9\xff\x01", true, "%E9%FF%01"},
        {"?#[]@!$'()*,;:%", false, "%3F%23%5B%5D%40%21%24%27%28%29%2A%2C%3B%3A%25"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = strlen(cases[i].in), wl = strlen(cases[i].want), n = 0;
        char *src = dup_exact(cases[i].in, len);
        char *out = malloc(wl + 1);
        cr_assert_eq(sq_url_escape(src, len, out, wl, cases[i].plus, &n), 0);
        assert_span(out, n, cases[i].want, wl, "sq_url_escape");
        if (wl) {
            cr_assert_eq(sq_url_escape(src, len, out, wl - 1, cases[i].plus, &n), SQ_ELIMIT);
            cr_assert_eq(n, wl);
        }
        cr_assert_eq(sq_url_escape(src, len, NULL, 0, cases[i].plus, &n), wl ? SQ_ELIMIT : 0);
        cr_assert_eq(n, wl);
        free(src);
        free(out);
    }
}

Test(url, round_trip_every_byte) {
    char in[256], enc[768], dec[768];
    for (int i = 0; i < 256; i++) in[i] = (char)i;
    for (int plus = 0; plus < 2; plus++) {
        size_t n;
        cr_assert_eq(sq_url_escape(in, 256, enc, sizeof enc, plus, &n), 0);
        size_t m = sq_url_unescape(enc, n, dec, plus);
        assert_span(dec, m, in, 256, "round trip");
    }
}

static const char py_url[] = PY_PRELUDE
    "from tornado.escape import url_escape, url_unescape\n"
    "units = [b'%', b'+', b' ', b'/', b'a', b'Z', b'0', b'9', b'~', b'_', b'.', b'-',\n"
    "         b'\\x00', b'\\x7f', 'é'.encode(), '€'.encode(), '😀'.encode(), b'f', b'F', b'G',\n"
    "         b'&', b'=', b'%2', b'%2B', b'%zz', b'%e9', b'%C3%A9', b'%%', b'?', b'#']\n"
    "for i in range(600):\n"
    "    s = b''.join(R.choice(units) for _ in range(R.randint(0, 12)))\n"
    "    out('U', H(s), H(url_escape(s, plus=True)), H(url_escape(s, plus=False)),\n"
    "        H(url_unescape(s, encoding=None, plus=True)),\n"
    "        H(url_unescape(s, encoding=None, plus=False)))\n";

Test(url, tornado_cross_check) {
    char *out = py_run(py_url);
    int count = 0;
    FOR_LINES(out, "U", line) {
        char *f[8];
        cr_assert_eq(fields(line, f, 8), 6);
        size_t n, l[4];
        char *in = unhex(f[1], &n), *w[4];
        for (int k = 0; k < 4; k++) w[k] = unhex(f[2 + k], &l[k]);
        char buf[512];
        size_t got;
        cr_assert_eq(sq_url_escape(in, n, buf, sizeof buf, true, &got), 0);
        assert_span(buf, got, w[0], l[0], "url_escape(plus=True)");
        cr_assert_eq(sq_url_escape(in, n, buf, sizeof buf, false, &got), 0);
        assert_span(buf, got, w[1], l[1], "url_escape(plus=False)");
        got = sq_url_unescape(in, n, buf, true);
        assert_span(buf, got, w[2], l[2], "url_unescape(plus=True)");
        got = sq_url_unescape(in, n, buf, false);
        assert_span(buf, got, w[3], l[3], "url_unescape(plus=False)");
        free(in);
        for (int k = 0; k < 4; k++) free(w[k]);
        count++;
    }
    cr_assert_eq(count, 600);
    free(out);
}

/* ---- forms and query strings ------------------------------------------------ */

typedef struct {
    const char *name, *value;
} pair;

/* Iterates over data with a decode buffer of cap bytes; checks the pairs. */
static void check_form(const char *data, const pair *want, size_t nwant) {
    size_t len = strlen(data);
    char *src = dup_exact(data, len);
    char *buf = malloc(len ? len : 1);
    sq_form_iter it;
    sq_form_init(&it, src, len, buf, len, 0);
    const char *n, *v;
    size_t nl, vl, i = 0;
    int r;
    while ((r = sq_form_next(&it, &n, &nl, &v, &vl)) == 1) {
        cr_assert(i < nwant, "%s: too many pairs", data);
        assert_span(n, nl, want[i].name, strlen(want[i].name), "form name");
        assert_span(v, vl, want[i].value, strlen(want[i].value), "form value");
        /* Spans point into the input or into the buffer, nowhere else. */
        cr_assert((n >= src && n + nl <= src + len) || (n >= buf && n + nl <= buf + len));
        cr_assert((v >= src && v + vl <= src + len) || (v >= buf && v + vl <= buf + len));
        i++;
    }
    cr_assert_eq(r, 0);
    cr_assert_eq(i, nwant, "%s: %zu pairs, want %zu", data, i, nwant);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 0, "the end is sticky");
    free(src);
    free(buf);
}

Test(form, cases) {
    check_form("", NULL, 0);
    check_form("&&&", NULL, 0);
    check_form("a=1", (pair[]){{"a", "1"}}, 1);
    check_form("a=&b", (pair[]){{"a", ""}, {"b", ""}}, 2);
    check_form("a&&b=2&", (pair[]){{"a", ""}, {"b", "2"}}, 2);
    check_form("=", (pair[]){{"", ""}}, 1);
    check_form("=x", (pair[]){{"", "x"}}, 1);
    check_form("a=b=c", (pair[]){{"a", "b=c"}}, 1);
    check_form("a=1;b=2", (pair[]){{"a", "1;b=2"}}, 1);
    check_form("x+y=%41+%2B", (pair[]){{"x y", "A +"}}, 1);
    check_form("a=%zz&a=%", (pair[]){{"a", "%zz"}, {"a", "%"}}, 2);
    check_form("%26=%3D&k=v", (pair[]){{"&", "="}, {"k", "v"}}, 2);
}

Test(form, zero_copy_when_plain) {
    const char data[] = "name=value&x=a%20b";
    char buf[32];
    sq_form_iter it;
    sq_form_init(&it, data, strlen(data), buf, sizeof buf, 0);
    const char *n, *v;
    size_t nl, vl;
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 1);
    cr_assert(n == data && v == data + 5, "plain pairs are spans of the input");
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 1);
    cr_assert(n == data + 11, "a plain name stays in the input");
    cr_assert(v == buf, "a decoded value is in the buffer");
    assert_span(v, vl, S("a b"), "decoded");
}

Test(form, limits) {
    const char data[] = "a=1&b=2&c=3";
    char buf[16];
    sq_form_iter it;
    const char *n, *v;
    size_t nl, vl;
    sq_form_init(&it, data, strlen(data), buf, sizeof buf, 2);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 1);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 1);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), SQ_ELIMIT);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), SQ_ELIMIT, "errors are sticky");
    /* Exactly max_pairs pairs are fine; empty segments do not count. */
    sq_form_init(&it, "a&&&b", 5, buf, sizeof buf, 2);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 1);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 1);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 0);
    /* A pair that must be decoded needs room in the buffer... */
    sq_form_init(&it, "k%41=v%42", 9, buf, 7, 0);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), SQ_ELIMIT);
    sq_form_init(&it, "k%41=v%42", 9, buf, 8, 0);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 1);
    assert_span(n, nl, S("kA"), "name");
    assert_span(v, vl, S("vB"), "value");
    /* ...but plain pairs need none. */
    sq_form_init(&it, "plain=pair", 10, NULL, 0, 0);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 1);
    sq_form_init(&it, NULL, 0, NULL, 0, 0);
    cr_assert_eq(sq_form_next(&it, &n, &nl, &v, &vl), 0);
}

static const char py_form[] = PY_PRELUDE
    "from tornado.escape import parse_qs_bytes\n"
    "from urllib.parse import parse_qsl\n"
    "units = [b'a', b'b', b'=', b'&', b'&&', b'+', b'%', b'%41', b'%2B', b'%26', b'%3D',\n"
    "         b'%zz', b'%4', b' ', b'x', b'\\xe9', b';', b'%e9', b'==']\n"
    "for i in range(800):\n"
    "    s = b''.join(R.choice(units) for _ in range(R.randint(0, 12)))\n"
    "    pairs = parse_qsl(s.decode('latin1'), keep_blank_values=True, encoding='latin1',\n"
    "                      errors='strict')\n"
    "    f = ['F', H(s), len(pairs)]\n"
    "    for k, v in pairs: f += [H(k), H(v)]\n"
    "    out(*f)\n"
    "    d = parse_qs_bytes(s, keep_blank_values=True)\n"
    "    f = ['D', H(s), len(d)]\n"
    "    for k, vs in d.items(): f += [H(k), len(vs)] + [H(v) for v in vs]\n"
    "    out(*f)\n";

Test(form, tornado_cross_check) {
    char *out = py_run(py_form);
    int count = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[400];
        size_t nf = fields(line, f, 400), dl;
        char *data = unhex(f[1], &dl);
        char *buf = malloc(dl + 1);
        /* Collect squall's pairs. */
        const char *pn[64], *pv[64];
        size_t pnl[64], pvl[64], np = 0;
        sq_form_iter it;
        sq_form_init(&it, data, dl, buf, dl, 0);
        const char *n, *v;
        size_t nl, vl;
        char *copies = malloc(2 * dl + 2), *cp = copies;
        while (sq_form_next(&it, &n, &nl, &v, &vl) == 1) {
            cr_assert(np < 64);
            memcpy(cp, n, nl), pn[np] = cp, pnl[np] = nl, cp += nl;
            memcpy(cp, v, vl), pv[np] = cp, pvl[np] = vl, cp += vl;
            np++;
        }
        if (f[0][0] == 'F') {
            size_t want = (size_t)atoi(f[2]);
            cr_assert_eq(np, want, "pairs of [%.*s]: %zu, Tornado %zu", (int)dl, data, np, want);
            for (size_t i = 0; i < np; i++) {
                size_t wl;
                char *w = unhex(f[3 + 2 * i], &wl);
                assert_span(pn[i], pnl[i], w, wl, "name vs parse_qsl");
                free(w);
                w = unhex(f[4 + 2 * i], &wl);
                assert_span(pv[i], pvl[i], w, wl, "value vs parse_qsl");
                free(w);
            }
        } else {
            /* parse_qs_bytes: a dict from each name (first-seen order) to
             * all its values in order. */
            size_t k = 3;
            bool seen[64] = {0};
            size_t groups = 0;
            for (size_t i = 0; i < np; i++) {
                if (seen[i]) continue;
                groups++;
                size_t wl;
                char *w = unhex(f[k++], &wl);
                assert_span(pn[i], pnl[i], w, wl, "dict key");
                free(w);
                size_t nv = (size_t)atoi(f[k++]);
                for (size_t j = i; j < np; j++) {
                    if (pnl[j] != pnl[i] || memcmp(pn[j], pn[i], pnl[i]) != 0) continue;
                    seen[j] = true;
                    cr_assert(nv-- > 0, "more values than Tornado");
                    w = unhex(f[k++], &wl);
                    assert_span(pv[j], pvl[j], w, wl, "dict value");
                    free(w);
                }
                cr_assert_eq(nv, 0);
            }
            cr_assert_eq(groups, (size_t)atoi(f[2]));
            cr_assert_eq(k, nf);
        }
        free(copies);
        free(buf);
        free(data);
        count++;
    }
    cr_assert_eq(count, 1600);
    free(out);
}

/* ---- header parameters ------------------------------------------------------ */

static void check_param(const char *value, const char *name, int want_r, const char *want) {
    size_t len = strlen(value), wl = want ? strlen(want) : 0, n = 0;
    char *src = dup_exact(value, len);
    char *out = malloc(len + 1);
    int r = sq_header_param(src, len, name, out, len, &n);
    cr_assert_eq(r, want_r, "[%s] %s: %d, want %d", value, name, r, want_r);
    if (r == 1) {
        assert_span(out, n, want, wl, "sq_header_param");
        if (wl) {
            cr_assert_eq(sq_header_param(src, len, name, out, wl - 1, &n), SQ_ELIMIT);
            cr_assert_eq(n, wl);
        }
        cr_assert_eq(sq_header_param(src, len, name, out, wl, &n), 1, "exact fit");
    }
    free(src);
    free(out);
}

Test(header, main_value) {
    size_t n;
    const char *m = sq_header_main(S("  text/html ; charset=utf-8"), &n);
    assert_span(m, n, S("text/html"), "main");
    m = sq_header_main(S("form-data"), &n);
    assert_span(m, n, S("form-data"), "main");
    m = sq_header_main(S("\"a;b\"; c=d"), &n);
    assert_span(m, n, S("\"a;b\""), "a quoted ';' does not split");
    m = sq_header_main(S(""), &n);
    cr_assert_eq(n, 0);
    m = sq_header_main(NULL, 0, &n);
    cr_assert_eq(n, 0);
}

Test(header, param_cases) {
    check_param("multipart/form-data; boundary=abc", "boundary", 1, "abc");
    check_param("multipart/form-data; BOUNDARY=abc", "boundary", 1, "abc");
    check_param("multipart/form-data; boundary=\"a b;c\"", "boundary", 1, "a b;c");
    check_param("form-data; name=\"a\\\"b\"", "name", 1, "a\"b");
    check_param("form-data; name=\"a\\\\b\"", "name", 1, "a\\b");
    /* email.utils.unquote's two passes: "\\\"" ends as '"', not '\"'. */
    check_param("x; p=\"\\\\\"\"", "p", 1, "\"");
    check_param("x; p=<angle>", "p", 1, "angle");
    check_param("x; p=<\"q\">", "p", 1, "q");
    check_param("x; p=\"\\\"q\\\"\"", "p", 1, "q");
    check_param("x; p=\"", "p", 1, "\"");
    check_param("x; p=\"\"", "p", 1, "");
    check_param("x; p=", "p", 1, "");
    check_param("x; p = v ; q=w", "p", 1, "v");
    check_param("x; p=1; p=2", "p", 1, "2");
    check_param("x; p", "p", 0, NULL);
    check_param("x; pp=1", "p", 0, NULL);
    check_param("x", "p", 0, NULL);
    check_param("x;;; p=1;", "p", 1, "1");
    check_param("x; a=\"1;p=2\"", "p", 0, NULL);
    check_param("x; a=\"1\\\";p=2\"", "p", 0, NULL);
    check_param("x; filename*=utf-8''a%20b", "filename", 0, NULL);
    check_param("x; filename*=utf-8''a%20b", "filename*", 1, "utf-8''a%20b");
}

Test(header, params_iterator) {
    const char v[] = "form-data; name=\"n\"; flag; filename=f.txt";
    sq_header_params it;
    const char *n, *raw;
    size_t nl, rl;
    sq_header_params_init(&it, v, strlen(v));
    cr_assert_eq(sq_header_params_next(&it, &n, &nl, &raw, &rl), 1);
    assert_span(n, nl, S("name"), "name");
    assert_span(raw, rl, S("\"n\""), "raw");
    cr_assert_eq(sq_header_params_next(&it, &n, &nl, &raw, &rl), 1);
    assert_span(n, nl, S("flag"), "valueless");
    cr_assert_null(raw);
    cr_assert_eq(sq_header_params_next(&it, &n, &nl, &raw, &rl), 1);
    assert_span(raw, rl, S("f.txt"), "raw");
    cr_assert_eq(sq_header_params_next(&it, &n, &nl, &raw, &rl), 0);
    char buf[8];
    size_t k = sq_header_param_unquote(S("\"a\\\"b\""), buf);
    assert_span(buf, k, S("a\"b"), "unquote");
    char inplace[] = "\"x\\\\y\"";
    k = sq_header_param_unquote(inplace, strlen(inplace), inplace);
    assert_span(inplace, k, S("x\\y"), "unquote in place");
    cr_assert_eq(sq_header_param_unquote(S("\"a\\\"b\""), NULL), 3);
}

static const char py_header[] = PY_PRELUDE
    "from tornado.httputil import _parse_header\n"
    "units = ['a', 'b', 'N', ';', '=', '\"', '\\\\', ' ', '\\t', '<', '>', 'name', 'filename',\n"
    "         'form-data', 'x y', ',', '=\"\"', '\"a;b\"', '\\\\\"', 'p=', '; q=\"', '\\\\\\\\']\n"
    "n = 0\n"
    "while n < 2000:\n"
    "    s = ''.join(R.choice(units) for _ in range(R.randint(0, 14)))\n"
    "    key, d = _parse_header(s)\n"
    "    f = ['P', H(s), H(key), len(d)]\n"
    "    for k, v in d.items(): f += [H(k), H(v)]\n"
    "    out(*f)\n"
    "    n += 1\n";

Test(header, tornado_cross_check) {
    char *out = py_run(py_header);
    int count = 0;
    FOR_LINES(out, "P", line) {
        char *f[200];
        size_t nf = fields(line, f, 200), len, kl;
        char *v = unhex(f[1], &len), *key = unhex(f[2], &kl);
        size_t ml;
        const char *m = sq_header_main(v, len, &ml);
        assert_span(m, ml, key, kl, "main value vs _parse_header");
        size_t np = (size_t)atoi(f[3]);
        cr_assert_eq(nf, 4 + 2 * np);
        for (size_t i = 0; i < np; i++) {
            size_t nl, wl, got;
            char *name = unhex(f[4 + 2 * i], &nl), *want = unhex(f[5 + 2 * i], &wl);
            char buf[128];
            int r = sq_header_param(v, len, name, buf, sizeof buf, &got);
            cr_assert_eq(r, 1, "[%.*s]: param [%s] not found", (int)len, v, name);
            assert_span(buf, got, want, wl, "param vs _parse_header");
            free(name);
            free(want);
        }
        /* And no parameter with a value that Tornado does not have. */
        sq_header_params it;
        const char *pn, *raw;
        size_t pnl, rl, with_value = 0;
        sq_header_params_init(&it, v, len);
        while (sq_header_params_next(&it, &pn, &pnl, &raw, &rl)) {
            if (!raw) continue;
            bool found = false;
            for (size_t i = 0; i < np && !found; i++) {
                size_t nl;
                char *name = unhex(f[4 + 2 * i], &nl);
                found = nl == pnl && strncasecmp(name, pn, nl) == 0;
                free(name);
            }
            cr_assert(found, "[%.*s]: extra param [%.*s]", (int)len, v, (int)pnl, pn);
            with_value++;
        }
        cr_assert(with_value >= np);
        free(v);
        free(key);
        count++;
    }
    cr_assert_eq(count, 2000);
    free(out);
}

/* ---- multipart ---------------------------------------------------------------- */

Test(multipart, boundary) {
    struct {
        const char *ct;
        int r;
        const char *b;
    } cases[] = {
        {"multipart/form-data; boundary=abc", 0, "abc"},
        {"multipart/form-data;boundary=abc", 0, "abc"},
        {"multipart/form-data; boundary=\"a b\"", 0, "a b"},
        {"multipart/form-data; boundary=\"abc", 0, "\"abc"},
        {"multipart/form-data; boundary=\"", SQ_EPROTO, NULL},
        {"multipart/form-data; boundary=\"\"", SQ_EPROTO, NULL},
        {"multipart/form-data; boundary=", SQ_EPROTO, NULL},
        {"multipart/form-data; boundary=; boundary=x", 0, "x"},
        {"multipart/form-data; boundary=x; boundary=y", 0, "x"},
        {"multipart/form-data; Boundary=abc", SQ_EPROTO, NULL},
        {"multipart/form-data; boundary = abc", SQ_EPROTO, NULL},
        {"multipart/form-data; charset=utf-8; boundary=q=1 ", 0, "q=1"},
        {"multipart/form-data", SQ_EPROTO, NULL},
        {"boundary=abc", 0, "abc"},
        {"multipart/form-data; boundary=\xe9t\xe9", SQ_EPROTO, NULL},
        {"multipart/form-data;\xa0" "boundary=abc\x85", 0, "abc"},
        {"multipart/form-data; boundary=\xa0" "abc", SQ_EPROTO, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = strlen(cases[i].ct), bl = 0;
        char *src = dup_exact(cases[i].ct, len);
        const char *b = NULL;
        int r = sq_multipart_boundary(src, len, &b, &bl);
        cr_assert_eq(r, cases[i].r, "[%s]: %d", cases[i].ct, r);
        if (r == 0) assert_span(b, bl, cases[i].b, strlen(cases[i].b), "boundary");
        free(src);
    }
    char longct[300] = "multipart/form-data; boundary=";
    memset(longct + strlen(longct), 'x', 201);
    const char *b;
    size_t bl;
    cr_assert_eq(sq_multipart_boundary(longct, strlen(longct), &b, &bl), SQ_ELIMIT);
    longct[strlen(longct) - 1] = 0;
    cr_assert_eq(sq_multipart_boundary(longct, strlen(longct), &b, &bl), 0);
    cr_assert_eq(bl, 200);
}

typedef struct {
    const char *name, *filename, *ctype, *data;
    size_t data_len;
} mpart;

/* Parses body (copied to an exact-size buffer) and compares with want;
 * returns the final code (0 after all parts, or the error). */
static int run_multipart(const char *body, size_t len, const char *boundary,
                         const sq_multipart_limits *lim, size_t scratch_cap, const mpart *want,
                         size_t nwant) {
    char *src = dup_exact(body, len);
    char *scratch = scratch_cap ? malloc(scratch_cap) : NULL;
    sq_multipart mp;
    int r = sq_multipart_init(&mp, src, len, boundary, strlen(boundary), lim, scratch,
                              scratch_cap);
    size_t i = 0;
    sq_multipart_part p;
    while (r == 0 && (r = sq_multipart_next(&mp, &p)) == 1) {
        cr_assert(i < nwant, "more parts than expected");
        assert_span(p.name, p.name_len, want[i].name, strlen(want[i].name), "part name");
        if (want[i].filename)
            assert_span(p.filename, p.filename_len, want[i].filename,
                        strlen(want[i].filename), "filename");
        else
            cr_assert_null(p.filename, "not a file");
        if (want[i].ctype)
            assert_span(p.content_type, p.content_type_len, want[i].ctype,
                        strlen(want[i].ctype), "content type");
        else
            cr_assert_null(p.content_type);
        size_t dl = want[i].data_len ? want[i].data_len : strlen(want[i].data);
        assert_span(p.data, p.data_len, want[i].data, dl, "data");
        cr_assert(p.data >= src && p.data + p.data_len <= src + len, "data is zero copy");
        i++;
        r = 0;
    }
    if (r == 0) cr_assert_eq(i, nwant, "%zu parts, want %zu", i, nwant);
    free(src);
    free(scratch);
    return r;
}

#define BODY(lit) lit, sizeof(lit) - 1

Test(multipart, well_formed) {
    const char body[] = "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"title\"\r\n"
                        "\r\n"
                        "Hello\r\n"
                        "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
                        "Content-Type: text/plain\r\n"
                        "\r\n"
                        "line1\r\nline2\r\n--XyZ-not-a-delimiter\r\n"
                        "\r\n"
                        "--XyZ\r\n"
                        "content-disposition: form-data; name=empty\r\n"
                        "\r\n"
                        "\r\n"
                        "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"up\"; filename=\"b.bin\"\r\n"
                        "\r\n"
                        "\x00\xff\r\n"
                        "--XyZ--\r\n"
                        "epilogue is ignored";
    mpart want[] = {
        {"title", NULL, NULL, "Hello", 0},
        {"file", "a.txt", "text/plain", "line1\r\nline2\r\n--XyZ-not-a-delimiter\r\n", 0},
        {"empty", NULL, NULL, "", 0},
        {"up", "b.bin", "application/unknown", "\x00\xff", 2},
    };
    cr_assert_eq(run_multipart(BODY(body), "XyZ", NULL, 0, want, 4), 0);
}

Test(multipart, tornado_quirks) {
    /* Only the LAST "--B--" ends the body. */
    const char b1[] = "--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx--B--y\r\n--B--";
    cr_assert_eq(run_multipart(BODY(b1), "B", NULL, 0, (mpart[]){{"a", 0, 0, "x--B--y", 0}}, 1), 0);
    /* Empty pieces are skipped; header lines may end in a bare LF. */
    const char b2[] = "--B\r\n--B\r\nContent-Disposition: form-data; name=a\n"
                      "X-Other: 1\r\n\r\nv\r\n--B--";
    cr_assert_eq(run_multipart(BODY(b2), "B", NULL, 0, (mpart[]){{"a", 0, 0, "v", 0}}, 1), 0);
    /* A filename="" part is a plain argument (what browsers send for an empty file input). */
    const char b3[] = "--B\r\nContent-Disposition: form-data; name=f; filename=\"\"\r\n\r\n\r\n--B--";
    cr_assert_eq(run_multipart(BODY(b3), "B", NULL, 0, (mpart[]){{"f", 0, 0, "", 0}}, 1), 0);
    /* Data overlapping the header end: "h\r\n\r\n" is both, the data is empty. */
    const char b4[] = "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n--B--";
    cr_assert_eq(run_multipart(BODY(b4), "B", NULL, 0, (mpart[]){{"a", 0, 0, "", 0}}, 1), 0);
    /* No parts at all. */
    cr_assert_eq(run_multipart(BODY("--B--"), "B", NULL, 0, NULL, 0), 0);
    /* The separator need not start a line. */
    const char b5[] = "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                      "--B\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n--B--";
    cr_assert_eq(run_multipart(BODY(b5), "B", NULL, 0,
                               (mpart[]){{"a", 0, 0, "1", 0}, {"b", 0, 0, "2", 0}}, 2),
                 0);
    /* Escaped names are decoded into the scratch buffer. */
    const char b6[] = "--B\r\nContent-Disposition: form-data; name=\"a\\\"b\"; "
                      "filename=\"c\\\\d\"\r\n\r\nv\r\n--B--";
    cr_assert_eq(run_multipart(BODY(b6), "B", NULL, 16, (mpart[]){{"a\"b", "c\\d", "application/unknown", "v", 0}}, 1), 0);
    cr_assert_eq(run_multipart(BODY(b6), "B", NULL, 5, NULL, 0), SQ_ELIMIT, "scratch too small");
    cr_assert_eq(run_multipart(BODY(b6), "B", NULL, 0, NULL, 0), SQ_ELIMIT, "no scratch");
}

Test(multipart, malformed) {
    struct {
        const char *body;
        int r;
    } cases[] = {
        {"", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--B-", SQ_EPROTO},
        {"preamble\r\n--B\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=a\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=a\r\n\r\nv--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: Form-Data; name=a\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Type: text/plain\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=a\r\nbroken\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\n Content-Disposition: form-data; name=a\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=\xff\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=\xc0\xaf\r\n\r\nv\r\n--B--", SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; "
         "name=b\r\n\r\nv\r\n--B--",
         SQ_EPROTO},
        {"--B\r\nContent-Disposition: form-data; name=a\r\nContent-Type: a\r\nContent-Type: "
         "b\r\n\r\nv\r\n--B--",
         SQ_EPROTO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int r = run_multipart(cases[i].body, strlen(cases[i].body), "B", NULL, 64, NULL, 0);
        cr_assert_eq(r, cases[i].r, "case %zu: %d", i, r);
    }
    /* UTF-8 in headers is fine. */
    const char ok[] = "--B\r\nContent-Disposition: form-data; name=\"\xc3\xa9t\xc3\xa9\"\r\n\r\nv\r\n--B--";
    cr_assert_eq(run_multipart(BODY(ok), "B", NULL, 0, (mpart[]){{"\xc3\xa9t\xc3\xa9", 0, 0, "v", 0}}, 1), 0);
    sq_multipart mp;
    cr_assert_eq(sq_multipart_init(&mp, S("--B--"), "", 0, NULL, NULL, 0), SQ_EINVAL);
    char big[SQ_MULTIPART_MAX_BOUNDARY + 2];
    memset(big, 'b', sizeof big);
    cr_assert_eq(sq_multipart_init(&mp, S("--B--"), big, sizeof big, NULL, NULL, 0), SQ_ELIMIT);
    sq_multipart_part p;
    cr_assert_eq(sq_multipart_next(&mp, &p), SQ_ELIMIT, "a failed init stays failed");
}

Test(multipart, limits) {
    const char body[] = "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n12345\r\n"
                        "--B\r\nContent-Disposition: form-data; name=b\r\n\r\n1\r\n"
                        "--B\r\nContent-Disposition: form-data; name=c\r\n\r\n1\r\n--B--";
    mpart three[] = {{"a", 0, 0, "12345", 0}, {"b", 0, 0, "1", 0}, {"c", 0, 0, "1", 0}};
    sq_multipart_limits lim = {.max_parts = 3};
    cr_assert_eq(run_multipart(BODY(body), "B", &lim, 0, three, 3), 0);
    lim.max_parts = 2;
    cr_assert_eq(run_multipart(BODY(body), "B", &lim, 0, three, 3), SQ_ELIMIT);
    lim = (sq_multipart_limits){.max_part_size = 5};
    cr_assert_eq(run_multipart(BODY(body), "B", &lim, 0, three, 3), 0);
    lim.max_part_size = 4;
    cr_assert_eq(run_multipart(BODY(body), "B", &lim, 0, three, 3), SQ_ELIMIT);
    size_t hl = strlen("Content-Disposition: form-data; name=a");
    lim = (sq_multipart_limits){.max_header_bytes = hl};
    cr_assert_eq(run_multipart(BODY(body), "B", &lim, 0, three, 3), 0);
    lim.max_header_bytes = hl - 1;
    cr_assert_eq(run_multipart(BODY(body), "B", &lim, 0, three, 3), SQ_ELIMIT);
}

Test(multipart, adversarial_final_search_is_linear) {
    /* A long body of near-misses for a boundary of 200 dashes: a naive
     * backwards search would take seconds; this one is linear. */
    size_t n = 8u << 20;
    char *body = malloc(n);
    memset(body, '-', n);
    char boundary[200];
    memset(boundary, '-', 199);
    boundary[199] = 'x';
    sq_multipart mp;
    cr_assert_eq(sq_multipart_init(&mp, body, n, boundary, 200, NULL, NULL, 0), SQ_EPROTO);
    free(body);
}

/* Generates bodies from building blocks, some broken, and records what
 * Tornado's parse_body_arguments makes of them. Cases where squall is
 * documented to differ (folded or repeated part headers) are left out. */
static const char py_multipart[] = PY_PRELUDE
    "from tornado.httputil import parse_body_arguments\n"
    "def folds_or_repeats(body, B):\n"
    "    end = body.rfind(b'--' + B + b'--')\n"
    "    if end < 0: return False\n"
    "    for part in body[:end].split(b'--' + B + b'\\r\\n'):\n"
    "        eoh = part.find(b'\\r\\n\\r\\n')\n"
    "        if eoh < 0: continue\n"
    "        names = []\n"
    "        for line in part[:eoh].split(b'\\n'):\n"
    "            if line.endswith(b'\\r'): line = line[:-1]\n"
    "            if not line: continue\n"
    "            if line[:1].isspace() or line[:1] in (b'\\x1c', b'\\x1d', b'\\x1e', b'\\x1f'):\n"
    "                return True\n"
    "            names.append(line.split(b':', 1)[0].lower())\n"
    "        for h in (b'content-disposition', b'content-type'):\n"
    "            if names.count(h) > 1: return True\n"
    "    return False\n"
    "names = [b'a', b'title', b'x y', b'\"q\"', b'na\\\\\"me', b'\\xc3\\xa9', b'', b'n;m']\n"
    "datas = [b'', b'v', b'line1\\r\\nline2', b'\\x00\\xff', b'--', b'\\r\\n', b'--XyZ']\n"
    "def part():\n"
    "    k = R.randint(0, 12)\n"
    "    name = R.choice(names)\n"
    "    hs = []\n"
    "    if k == 0: hs.append(b'Content-Disposition: form-data; name=' + name)\n"
    "    elif k == 1: hs.append(b'Content-Disposition: attachment; name=\"' + name + b'\"')\n"
    "    elif k == 2: hs.append(b'Content-Disposition: form-data')\n"
    "    elif k == 3: hs.append(b'X-Broken')\n"
    "    elif k == 4: hs.append(b'Content-Disposition: form-data; name=\"' + name + b'\"; '\n"
    "                           b'filename=\"' + R.choice([b'', b'f.txt', b'a\\\\\"b']) + b'\"')\n"
    "    else: hs.append(b'Content-Disposition: form-data; name=\"' + name + b'\"')\n"
    "    if R.random() < 0.3: hs.append(b'Content-Type: ' + R.choice([b'text/plain', b'', b'a/b; c=d']))\n"
    "    if R.random() < 0.2: hs.insert(0, b'X-Other: 1')\n"
    "    sep = b'\\n' if R.random() < 0.1 else b'\\r\\n'\n"
    "    end = b'\\r\\n' if R.random() < 0.1 else b'\\r\\n\\r\\n'\n"
    "    return sep.join(hs) + end + R.choice(datas) + (b'\\r\\n' if R.random() < 0.95 else b'')\n"
    "count = 0\n"
    "while count < 1500:\n"
    "    B = R.choice([b'XyZ', b'----WebKitFormBoundary7MA4YWxkTrZu0gW', b'a', b'b c'])\n"
    "    ct = R.choice([b'multipart/form-data; boundary=' + B,\n"
    "                   b'multipart/form-data; boundary=\"' + B + b'\"',\n"
    "                   b'multipart/form-data; charset=utf-8; boundary=' + B])\n"
    "    body = R.choice([b'', b'', b'', b'junk\\r\\n'])\n"
    "    for _ in range(R.randint(0, 4)):\n"
    "        body += b'--' + B + b'\\r\\n' + part()\n"
    "    body += R.choice([b'--' + B + b'--', b'--' + B + b'--\\r\\n', b'--' + B + b'--\\r\\nepi',\n"
    "                      b'--' + B, b''])\n"
    "    if R.random() < 0.3 and body:\n"
    "        i = R.randrange(len(body))\n"
    "        op = R.randint(0, 2)\n"
    "        if op == 0: body = body[:i]\n"
    "        elif op == 1: body = body[:i] + body[i+1:]\n"
    "        else: body = body[:i] + R.choice([b'\\r', b'\\n', b'-', b'\"', b';', b'x', b':']) + body[i:]\n"
    "    if folds_or_repeats(body, B): continue\n"
    "    args, files = {}, {}\n"
    "    try:\n"
    "        parse_body_arguments(ct.decode('latin1'), body, args, files)\n"
    "    except Exception:\n"
    "        out('M', H(ct), H(body), 'ERR')\n"
    "    else:\n"
    "        f = ['M', H(ct), H(body), 'OK', len(args)]\n"
    "        for k, vs in args.items(): f += [H(k.encode()), len(vs)] + [H(v) for v in vs]\n"
    "        f += [len(files)]\n"
    "        for k, fs in files.items():\n"
    "            f += [H(k.encode()), len(fs)]\n"
    "            for x in fs: f += [H(x.filename.encode()), H(x.content_type.encode()), H(x.body)]\n"
    "        out(*f)\n"
    "    count += 1\n";

typedef struct {
    char *name, *filename, *ctype, *data;
    size_t nl, fl, cl, dl;
} got_part;

Test(multipart, tornado_cross_check) {
    char *out = py_run(py_multipart);
    int count = 0, ok_cases = 0;
    FOR_LINES(out, "M", line) {
        char *f[300];
        size_t nf = fields(line, f, 300), ctl, bl;
        char *ct = unhex(f[1], &ctl), *body = unhex(f[2], &bl);
        bool tornado_ok = strcmp(f[3], "OK") == 0;
        const char *b;
        size_t blen;
        got_part parts[16];
        size_t np = 0;
        int r = sq_multipart_boundary(ct, ctl, &b, &blen);
        char scratch[256];
        sq_multipart mp;
        if (r == 0) r = sq_multipart_init(&mp, body, bl, b, blen, NULL, scratch, sizeof scratch);
        sq_multipart_part p;
        while (r == 0 && (r = sq_multipart_next(&mp, &p)) == 1) {
            cr_assert(np < 16);
            got_part *g = &parts[np++];
            g->name = dup_exact(p.name, p.name_len), g->nl = p.name_len;
            g->filename = p.filename ? dup_exact(p.filename, p.filename_len) : NULL;
            g->fl = p.filename_len;
            g->ctype = p.content_type ? dup_exact(p.content_type, p.content_type_len) : NULL;
            g->cl = p.content_type_len;
            g->data = dup_exact(p.data, p.data_len), g->dl = p.data_len;
            r = 0;
        }
        cr_assert_eq(r == 0, tornado_ok, "body [%.*s] (boundary %.*s): squall %d, Tornado %s",
                     (int)bl, body, (int)ctl, ct, r, f[3]);
        if (tornado_ok) {
            ok_cases++;
            /* Arguments, grouped by name in first-seen order, then files. */
            size_t k = 4;
            bool seen[16] = {0};
            for (int files = 0; files < 2; files++) {
                size_t want_groups = (size_t)atoi(f[k++]), groups = 0;
                for (size_t i = 0; i < np; i++) {
                    if (seen[i] || (parts[i].filename != NULL) != files) continue;
                    groups++;
                    size_t wl;
                    char *w = unhex(f[k++], &wl);
                    assert_span(parts[i].name, parts[i].nl, w, wl, "name");
                    free(w);
                    size_t nv = (size_t)atoi(f[k++]);
                    for (size_t j = i; j < np; j++) {
                        if (seen[j] || (parts[j].filename != NULL) != files ||
                            parts[j].nl != parts[i].nl ||
                            memcmp(parts[j].name, parts[i].name, parts[i].nl) != 0)
                            continue;
                        seen[j] = true;
                        cr_assert(nv-- > 0);
                        if (files) {
                            w = unhex(f[k++], &wl);
                            assert_span(parts[j].filename, parts[j].fl, w, wl, "filename");
                            free(w);
                            w = unhex(f[k++], &wl);
                            assert_span(parts[j].ctype, parts[j].cl, w, wl, "content type");
                            free(w);
                        }
                        w = unhex(f[k++], &wl);
                        assert_span(parts[j].data, parts[j].dl, w, wl, "data");
                        free(w);
                    }
                    cr_assert_eq(nv, 0);
                }
                cr_assert_eq(groups, want_groups, "%s", files ? "file names" : "argument names");
            }
            cr_assert_eq(k, nf, "every Tornado field consumed");
        }
        for (size_t i = 0; i < np; i++) {
            free(parts[i].name);
            free(parts[i].filename);
            free(parts[i].ctype);
            free(parts[i].data);
        }
        free(ct);
        free(body);
        count++;
    }
    cr_assert_eq(count, 1500);
    cr_assert(ok_cases > 200, "only %d well-formed cases", ok_cases);
    free(out);
}

/* ---- cookies ------------------------------------------------------------------ */

static void check_cookies(const char *header, size_t len, const pair *want, size_t nwant) {
    char *src = dup_exact(header, len);
    char *buf = malloc(len + 1);
    sq_cookie_iter it;
    sq_cookie_init(&it, src, len, buf, len);
    const char *n, *v;
    size_t nl, vl, i = 0;
    int r;
    while ((r = sq_cookie_next(&it, &n, &nl, &v, &vl)) == 1) {
        cr_assert(i < nwant, "[%.*s]: too many cookies", (int)len, header);
        assert_span(n, nl, want[i].name, strlen(want[i].name), "cookie name");
        assert_span(v, vl, want[i].value, strlen(want[i].value), "cookie value");
        i++;
    }
    cr_assert_eq(r, 0);
    cr_assert_eq(i, nwant, "[%.*s]: %zu cookies, want %zu", (int)len, header, i, nwant);
    free(src);
    free(buf);
}

#define CK(lit, ...)                                                                \
    check_cookies(lit, sizeof(lit) - 1, (pair[]){__VA_ARGS__},                       \
                  sizeof((pair[]){__VA_ARGS__}) / sizeof(pair))

Test(cookie, parse_cases) {
    check_cookies(S(""), NULL, 0);
    check_cookies(S(" ; ;;"), NULL, 0);
    CK("a=1", {"a", "1"});
    CK("a=1; b=2;c=3", {"a", "1"}, {"b", "2"}, {"c", "3"});
    CK("  a  =  1  ", {"a", "1"});
    CK("lone", {"", "lone"});
    CK("=v", {"", "v"});
    CK("k=", {"k", ""});
    CK("a=b=c", {"a", "b=c"});
    CK("a=\"q\"", {"a", "q"});
    CK("a=\"q", {"a", "\"q"});
    CK("a=\"", {"a", "\""});
    CK("a=\"\"", {"a", ""});
    CK("a=\"x\\\"y\"", {"a", "x\"y"});
    CK("a=\"\\012\\377\\400\"", {"a", "\n\xff" "400"});
    CK("a=\"\\\\\"", {"a", "\\"});
    CK("a=\"b\\\"", {"a", "b\\"});
    CK("a=\"b\\\nc\"", {"a", "b\\\nc"});
    CK("a=1, b=2", {"a", "1, b=2"});
    CK("a=1; a=2", {"a", "1"}, {"a", "2"});
    CK("\xa0" "a=1\x85;\x1c b=\t2\x0b", {"a", "1"}, {"b", "2"});
    CK("a=\xc3\xa0", {"a", "\xc3"}); /* latin-1 NBSP is stripped: Tornado does it too */
}

Test(cookie, get_and_names) {
    const char h[] = "a=1; b=\"x\\\"y\"; a=2; path=/; =v; bad name=3";
    char out[16];
    size_t n;
    cr_assert_eq(sq_cookie_get(S(h), "a", 1, out, sizeof out, &n), 1);
    assert_span(out, n, S("2"), "last wins");
    cr_assert_eq(sq_cookie_get(S(h), "b", 1, out, sizeof out, &n), 1);
    assert_span(out, n, S("x\"y"), "unquoted");
    cr_assert_eq(sq_cookie_get(S(h), "b", 1, out, 2, &n), SQ_ELIMIT);
    cr_assert_eq(n, 3);
    cr_assert_eq(sq_cookie_get(S(h), "path", 4, out, sizeof out, &n), 0, "reserved");
    cr_assert_eq(sq_cookie_get(S(h), "", 0, out, sizeof out, &n), 0, "empty name");
    cr_assert_eq(sq_cookie_get(S(h), "bad name", 8, out, sizeof out, &n), 0, "illegal");
    cr_assert_eq(sq_cookie_get(S(h), "c", 1, out, sizeof out, &n), 0);
    cr_assert_eq(sq_cookie_get(NULL, 0, "c", 1, out, sizeof out, &n), 0);

    cr_assert(sq_cookie_name_valid(S("session_id")));
    cr_assert(sq_cookie_name_valid(S("!#$%&'*+-.^_`|~:")));
    cr_assert(!sq_cookie_name_valid(S("")));
    cr_assert(!sq_cookie_name_valid(S("a b")));
    cr_assert(!sq_cookie_name_valid(S("a=b")));
    cr_assert(!sq_cookie_name_valid(S("a\"")));
    cr_assert(!sq_cookie_name_valid(S("Max-Age")));
    cr_assert(!sq_cookie_name_valid(S("HTTPONLY")));
    cr_assert(sq_cookie_name_valid(S("expiresx")));
    cr_assert(!sq_cookie_name_valid(S("\xe9")));
}

Test(cookie, iterator_buffer_too_small) {
    const char h[] = "a=\"x\\\"y\"; b=2";
    char buf[2];
    sq_cookie_iter it;
    const char *n, *v;
    size_t nl, vl;
    sq_cookie_init(&it, h, strlen(h), buf, sizeof buf);
    cr_assert_eq(sq_cookie_next(&it, &n, &nl, &v, &vl), SQ_ELIMIT);
    cr_assert_eq(sq_cookie_next(&it, &n, &nl, &v, &vl), 1, "the next pair still comes");
    assert_span(n, nl, S("b"), "name");
    cr_assert_eq(sq_cookie_next(&it, &n, &nl, &v, &vl), 0);
}

Test(cookie, format_cases) {
    char buf[512];
    size_t n;
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "b", NULL, &n), 0);
    cr_assert_str_eq(buf, "a=b");
    cr_assert_eq(n, 3);
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "", NULL, &n), 0);
    cr_assert_str_eq(buf, "a=\"\"");
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "x=y", NULL, &n), 0);
    cr_assert_str_eq(buf, "a=\"x=y\"");
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "q\"b\\,;\x7f\xe9", NULL, &n), 0);
    cr_assert_str_eq(buf, "a=\"q\\\"b\\\\\\054\\073\\177\\351\"");
    sq_cookie_attrs at = {.domain = "example.com", .path = "/app", .expires = 1359312200,
                          .max_age = 0, .has_max_age = true, .secure = true, .httponly = true,
                          .samesite = SQ_SAMESITE_STRICT};
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "sid", "abc", &at, &n), 0);
    cr_assert_str_eq(buf, "sid=abc; Domain=example.com; expires=Sun, 27 Jan 2013 18:43:20 GMT; "
                          "HttpOnly; Max-Age=0; Path=/app; SameSite=Strict; Secure");
    cr_assert_eq(n, strlen(buf));
    /* Too small by one (the NUL counts), then every smaller size. */
    for (size_t cap = 0; cap <= n; cap++) {
        size_t m = 0;
        cr_assert_eq(sq_cookie_format(buf, cap, "sid", "abc", &at, &m), SQ_ELIMIT);
        cr_assert_eq(m, n);
    }
    at = (sq_cookie_attrs){.max_age = -5, .has_max_age = true, .samesite = SQ_SAMESITE_NONE};
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "b", &at, &n), 0);
    cr_assert_str_eq(buf, "a=b; Max-Age=-5; SameSite=None");
    at = (sq_cookie_attrs){.domain = "", .path = "", .samesite = SQ_SAMESITE_LAX};
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "b", &at, &n), 0);
    cr_assert_str_eq(buf, "a=b; SameSite=Lax");
    /* Refused as Tornado refuses them, plus header injection through attributes. */
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a b", "v", NULL, &n), SQ_EHEADER);
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "v w", NULL, &n), SQ_EHEADER);
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "v\r\nX: y", NULL, &n), SQ_EHEADER);
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "\x01", NULL, &n), SQ_EHEADER);
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "", "v", NULL, &n), SQ_EHEADER);
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a;", "v", NULL, &n), SQ_EHEADER);
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "Path", "v", NULL, &n), SQ_EHEADER);
    at = (sq_cookie_attrs){.path = "/a;b"};
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "v", &at, &n), SQ_EHEADER);
    at = (sq_cookie_attrs){.domain = "x\r\ny"};
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "v", &at, &n), SQ_EHEADER);
    at = (sq_cookie_attrs){.expires = INT64_C(253402300800)};
    cr_assert_eq(sq_cookie_format(buf, sizeof buf, "a", "v", &at, &n), SQ_EINVAL);
}

Test(cookie, http_dates) {
    struct {
        int64_t t;
        const char *s;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {1359312200, "Sun, 27 Jan 2013 18:43:20 GMT"},
        {-1, "Wed, 31 Dec 1969 23:59:59 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"},
        {INT64_C(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT"},
        {INT64_C(-62135596800), "Mon, 01 Jan 0001 00:00:00 GMT"},
    };
    char out[SQ_HTTP_DATE_SIZE];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(sq_format_timestamp(cases[i].t, out), 0);
        cr_assert_str_eq(out, cases[i].s);
    }
    cr_assert_eq(sq_format_timestamp(INT64_C(-62135596801), out), SQ_EINVAL);
    cr_assert_eq(sq_format_timestamp(INT64_C(253402300800), out), SQ_EINVAL);
}

static const char py_cookie[] = PY_PRELUDE
    "import http.cookies\n"
    "from tornado.httputil import parse_cookie\n"
    "units = ['a', 'b', '=', ';', ' ', '\"', '\\\\', '\\\\\"', '\\\\012', '\\\\377', '\\\\400', 'x',\n"
    "         '\\t', '\\x85', '\\xa0', '\\x1c', ',', 'name', '\\\\\\n', 'path', 'Max-Age', '\\xe9',\n"
    "         '\\\\\\\\', '==', '\"v\"']\n"
    "for i in range(1500):\n"
    "    s = ''.join(R.choice(units) for _ in range(R.randint(0, 12)))\n"
    "    d = parse_cookie(s)\n"
    "    f = ['C', H(s), len(d)]\n"
    "    for k, v in d.items(): f += [H(k), H(v)]\n"
    "    out(*f)\n"
    "    req = HTTPServerRequest(method='GET', uri='/', headers=HTTPHeaders({'Cookie': s}))\n"
    "    f = ['G', H(s), len(d)]\n"
    "    for k in d:\n"
    "        m = req.cookies.get(k)\n"
    "        f += [H(k), 'NONE' if m is None else H(m.value)]\n"
    "    out(*f)\n"
    "for i in range(800):\n"
    "    n = ''.join(R.choice(['a', 'Z', '9', '!', ':', '~', ' ', '=', ';', '\"', '\\xe9', '(', ',',\n"
    "                          'path', 'PATH', 'max-age', 'httponly', 'expires', '-', ''])\n"
    "                for _ in range(R.randint(0, 3)))\n"
    "    c = http.cookies.SimpleCookie()\n"
    "    try:\n"
    "        c[n] = 'v'\n"
    "        ok = 1\n"
    "    except http.cookies.CookieError:\n"
    "        ok = 0\n"
    "    out('N', H(n), ok)\n";

Test(cookie, tornado_cross_check) {
    char *out = py_run(py_cookie);
    char *copy = strdup(out);
    int count = 0;
    FOR_LINES(out, "C", line) {
        char *f[64];
        size_t nf = fields(line, f, 64), len;
        char *h = unhex(f[1], &len);
        size_t nwant = (size_t)atoi(f[2]);
        cr_assert_eq(nf, 3 + 2 * nwant);
        /* Tornado's dict: the last value of each name, in first-seen order. */
        const char *names[64], *vals[64];
        size_t nls[64], vls[64], np = 0;
        char *buf = malloc(len + 1), *store = malloc(2 * len + 2), *sp = store;
        sq_cookie_iter it;
        sq_cookie_init(&it, h, len, buf, len);
        const char *n, *v;
        size_t nl, vl;
        int r;
        while ((r = sq_cookie_next(&it, &n, &nl, &v, &vl)) == 1) {
            size_t k = 0;
            while (k < np && !(nls[k] == nl && memcmp(names[k], n, nl) == 0)) k++;
            if (k == np) names[np] = n, nls[np] = nl, np++;
            memcpy(sp, v, vl);
            vals[k] = sp, vls[k] = vl, sp += vl;
        }
        cr_assert_eq(r, 0);
        cr_assert_eq(np, nwant, "[%.*s]: %zu names, Tornado %zu", (int)len, h, np, nwant);
        for (size_t k = 0; k < np; k++) {
            size_t wl;
            char *w = unhex(f[3 + 2 * k], &wl);
            assert_span(names[k], nls[k], w, wl, "cookie name vs parse_cookie");
            free(w);
            w = unhex(f[4 + 2 * k], &wl);
            assert_span(vals[k], vls[k], w, wl, "cookie value vs parse_cookie");
            free(w);
        }
        free(buf);
        free(store);
        free(h);
        count++;
    }
    cr_assert_eq(count, 1500);
    strcpy(out, copy);
    count = 0;
    int found = 0, dropped = 0;
    FOR_LINES(out, "G", line) {
        char *f[64];
        size_t nf = fields(line, f, 64), len;
        char *h = unhex(f[1], &len);
        size_t nn = (size_t)atoi(f[2]);
        cr_assert_eq(nf, 3 + 2 * nn);
        for (size_t k = 0; k < nn; k++) {
            size_t nl, wl, got;
            char *name = unhex(f[3 + 2 * k], &nl);
            char buf[64];
            int r = sq_cookie_get(h, len, name, nl, buf, sizeof buf, &got);
            if (strcmp(f[4 + 2 * k], "NONE") == 0) {
                cr_assert_eq(r, 0, "[%.*s]: %s should not be found", (int)len, h, name);
                dropped++;
            } else {
                char *w = unhex(f[4 + 2 * k], &wl);
                cr_assert_eq(r, 1, "[%.*s]: %s not found", (int)len, h, name);
                assert_span(buf, got, w, wl, "get_cookie");
                free(w);
                found++;
            }
            free(name);
        }
        free(h);
        count++;
    }
    cr_assert_eq(count, 1500);
    cr_assert(found > 40 && dropped > 50, "found %d, dropped %d", found, dropped);
    strcpy(out, copy);
    count = 0;
    FOR_LINES(out, "N", line) {
        char *f[4];
        cr_assert_eq(fields(line, f, 4), 3);
        size_t nl;
        char *name = unhex(f[1], &nl);
        cr_assert_eq(sq_cookie_name_valid(name, nl), atoi(f[2]) == 1, "name [%s]", name);
        free(name);
        count++;
    }
    cr_assert_eq(count, 800);
    free(copy);
    free(out);
}

static const char py_setcookie[] = PY_PRELUDE
    "import http.cookies\n"
    "vals = ['abc', '', 'a=b', '2|1:0|10:1300000000|3:key|8:dmFsdWU=|3d4e', 'q\"b', 'x\\\\y',\n"
    "        ',;', '\\x7f', '\\xe9', '()/<=>?@[]{}', \"!#$%&'*+-.^_`|~:\", 'a b', 'a\\x01']\n"
    "names = ['a', 'session_id', 'a b', 'Path', 'max-age', 'x;', 'ok!', '']\n"
    "for i in range(600):\n"
    "    name = R.choice(names); value = R.choice(vals)\n"
    "    domain = R.choice([None, 'example.com', ''])\n"
    "    path = R.choice([None, '/', '/a/b c', ''])\n"
    "    expires = R.choice([None, 0, 1359312200, R.randint(-10**9, 10**10)])\n"
    "    max_age = R.choice([None, 0, 60, -1, 10**12])\n"
    "    httponly = R.random() < 0.5; secure = R.random() < 0.5\n"
    "    samesite = R.choice([None, 'Strict', 'Lax', 'None'])\n"
    "    kw = {}\n"
    "    if max_age is not None: kw['max_age'] = max_age\n"
    "    if httponly: kw['httponly'] = True\n"
    "    if secure: kw['secure'] = True\n"
    "    if samesite: kw['samesite'] = samesite\n"
    "    h = handler()\n"
    "    f = ['S', H(name), H(value), H(domain or ''), H(path or ''), expires or 0,\n"
    "         '-' if max_age is None else max_age, int(httponly), int(secure), samesite or '-']\n"
    "    try:\n"
    "        h.set_cookie(name, value, domain=domain, expires=expires, path=path, **kw)\n"
    "        out(*(f + ['OK', H(list(h._new_cookie.values())[0].OutputString(None))]))\n"
    "    except (ValueError, http.cookies.CookieError):\n"
    "        out(*(f + ['ERR']))\n";

Test(cookie, set_cookie_tornado_cross_check) {
    char *out = py_run(py_setcookie);
    int count = 0, ok = 0;
    FOR_LINES(out, "S", line) {
        char *f[16];
        size_t nf = fields(line, f, 16), l;
        cr_assert(nf == 11 || nf == 12);
        char *name = unhex(f[1], &l), *value = unhex(f[2], &l), *domain = unhex(f[3], &l),
             *path = unhex(f[4], &l);
        sq_cookie_attrs at = {.domain = domain, .path = path, .expires = atoll(f[5])};
        if (strcmp(f[6], "-") != 0) at.has_max_age = true, at.max_age = atoll(f[6]);
        at.httponly = atoi(f[7]), at.secure = atoi(f[8]);
        at.samesite = strcmp(f[9], "Strict") == 0 ? SQ_SAMESITE_STRICT
                      : strcmp(f[9], "Lax") == 0  ? SQ_SAMESITE_LAX
                      : strcmp(f[9], "None") == 0 ? SQ_SAMESITE_NONE
                                                  : SQ_SAMESITE_UNSET;
        char buf[512];
        size_t n;
        int r = sq_cookie_format(buf, sizeof buf, name, value, &at, &n);
        if (strcmp(f[10], "ERR") == 0) {
            cr_assert_eq(r, SQ_EHEADER, "[%s]=[%s] should be refused, got %d", name, value, r);
        } else {
            size_t wl;
            char *w = unhex(f[11], &wl);
            cr_assert_eq(r, 0, "[%s]=[%s]: %d", name, value, r);
            assert_span(buf, n, w, wl, "Set-Cookie vs Tornado");
            free(w);
            ok++;
        }
        free(name), free(value), free(domain), free(path);
        count++;
    }
    cr_assert_eq(count, 600);
    cr_assert(ok > 150);
    free(out);
}

/* ---- signed values --------------------------------------------------------------- */

static const sq_cookie_secret plain = {.secret = "It's a secret to everybody", .secret_len = 26};
static const sq_signing_key rot_keys[] = {{0, "asdfbasdf", 9}, {1, "12312312", 8}};
static const sq_cookie_secret rotating = {.keys = rot_keys, .nkeys = 2};

static const char v2_vector[] = "2|1:0|10:1300000000|3:key|8:dmFsdWU=|"
                                "3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152";
static const char v1_vector[] = "dmFsdWU=|1300000000|31c934969f53e48164c50768b40cbd7e2daaaa4f";
static const char v2_key1_vector[] = "2|1:1|10:1300000000|3:key|8:dmFsdWU=|"
                                     "864cf798dbb452a1a5ca4ace02e450f003794cafdb3f5055951df1be9a85910a";

static int decode_at(const sq_cookie_secret *s, const char *name, const char *v, int64_t now,
                     int min_version, char *out, size_t *n) {
    size_t len = strlen(v);
    char *src = dup_exact(v, len);
    int r = sq_signed_value_decode(s, name, strlen(name), src, len, 31, min_version, now, out,
                                   64, n);
    free(src);
    return r;
}

Test(signed, tornado_md_vectors) {
    char out[256];
    size_t n;
    cr_assert_eq(sq_signed_value_create(&plain, 2, 0, S("key"), "value", 5, 1300000000, out,
                                        sizeof out, &n),
                 0);
    assert_span(out, n, S(v2_vector), "v2 vector");
    cr_assert_eq(sq_signed_value_create(&plain, 1, 0, S("key"), "value", 5, 1300000000, out,
                                        sizeof out, &n),
                 0);
    assert_span(out, n, S(v1_vector), "v1 vector");
    cr_assert_eq(sq_signed_value_create(&rotating, 2, 1, S("key"), "value", 5, 1300000000, out,
                                        sizeof out, &n),
                 0);
    assert_span(out, n, S(v2_key1_vector), "key version 1 vector");
    /* Too small, and measuring. */
    cr_assert_eq(sq_signed_value_create(&plain, 2, 0, S("key"), "value", 5, 1300000000, out,
                                        strlen(v2_vector) - 1, &n),
                 SQ_ELIMIT);
    cr_assert_eq(n, strlen(v2_vector));
    cr_assert_eq(sq_signed_value_create(&plain, 1, 0, S("key"), "value", 5, 1300000000, NULL, 0,
                                        &n),
                 SQ_ELIMIT);
    cr_assert_eq(n, strlen(v1_vector));
}

Test(signed, decode_rules) {
    char out[64];
    size_t n;
    const int64_t ts = 1300000000, day = 86400;
    cr_assert_eq(decode_at(&plain, "key", v2_vector, ts, 0, out, &n), 0);
    assert_span(out, n, S("value"), "v2");
    cr_assert_eq(decode_at(&plain, "key", v1_vector, ts, 0, out, &n), 0);
    assert_span(out, n, S("value"), "v1");
    cr_assert_eq(decode_at(&rotating, "key", v2_key1_vector, ts, 0, out, &n), 0);
    /* Boundaries from tornado.md: valid at TS + 31 days - 1, expired at + 1. */
    cr_assert_eq(decode_at(&plain, "key", v2_vector, ts + 31 * day - 1, 0, out, &n), 0);
    cr_assert_eq(decode_at(&plain, "key", v2_vector, ts + 31 * day + 1, 0, out, &n), SQ_ETIMEDOUT);
    cr_assert_eq(decode_at(&plain, "key", v1_vector, ts + 31 * day + 1, 0, out, &n), SQ_ETIMEDOUT);
    /* v2 has no future check; v1 refuses more than 31 days ahead. */
    cr_assert_eq(decode_at(&plain, "key", v2_vector, ts - 400 * day, 0, out, &n), 0);
    cr_assert_eq(decode_at(&plain, "key", v1_vector, ts - 31 * day + 1, 0, out, &n), 0);
    cr_assert_eq(decode_at(&plain, "key", v1_vector, ts - 31 * day - 1, 0, out, &n), SQ_EINVAL);
    /* Wrong name, tampering, unknown key, versions. */
    cr_assert_eq(decode_at(&plain, "other", v2_vector, ts, 0, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "other", v1_vector, ts, 0, out, &n), SQ_EINVAL);
    char bad[sizeof v2_vector];
    memcpy(bad, v2_vector, sizeof bad);
    bad[sizeof bad - 2] ^= 1;
    cr_assert_eq(decode_at(&plain, "key", bad, ts, 0, out, &n), SQ_EINVAL);
    memcpy(bad, v2_vector, sizeof bad);
    bad[30] = 'x'; /* in the base64 */
    cr_assert_eq(decode_at(&plain, "key", bad, ts, 0, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&rotating, "key", v2_vector, ts, 0, out, &n), SQ_EINVAL,
                 "key version 0 signed with another secret");
    const sq_cookie_secret only0 = {.keys = rot_keys, .nkeys = 1};
    cr_assert_eq(decode_at(&only0, "key", v2_key1_vector, ts, 0, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&rotating, "key", v1_vector, ts, 0, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "key", v1_vector, ts, 2, out, &n), SQ_EINVAL, "min_version 2");
    cr_assert_eq(decode_at(&plain, "key", v2_vector, ts, 2, out, &n), 0);
    cr_assert_eq(decode_at(&plain, "key", v2_vector, ts, 3, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "key", "", ts, 0, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "key", "3|whatever", ts, 0, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "key", "2|", ts, 0, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "key", "2|1:0|10:1300000000|3:key|8:dmFsdWU=|", ts, 0, out, &n),
                 SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "key", "2|1:0|10:1300000000|3:key|99:dmFsdWU=|", ts, 0, out, &n),
                 SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "key", "2|x:0|", ts, 0, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "key", "a|b", ts, 0, out, &n), SQ_EINVAL);
    cr_assert_eq(decode_at(&plain, "key", "a|b|c|d", ts, 0, out, &n), SQ_EINVAL);
    /* Output buffer: checked after the signature. */
    cr_assert_eq(sq_signed_value_decode(&plain, S("key"), S(v2_vector), 31, 0, ts, out, 4, &n),
                 SQ_ELIMIT);
    cr_assert_eq(n, 5);
    cr_assert_eq(sq_signed_value_decode(&plain, S("key"), S(v2_vector), 31, 0, ts, out, 5, &n), 0);
    /* Create refuses what Tornado refuses. */
    cr_assert_eq(sq_signed_value_create(&plain, 3, 0, S("k"), "v", 1, ts, out, 64, &n), SQ_EINVAL);
    cr_assert_eq(sq_signed_value_create(&rotating, 1, 0, S("k"), "v", 1, ts, out, 64, &n),
                 SQ_EINVAL);
    cr_assert_eq(sq_signed_value_create(&rotating, 2, 7, S("k"), "v", 1, ts, out, 64, &n),
                 SQ_EINVAL);
    int kv = -1;
    cr_assert_eq(sq_signed_value_key_version(S(v2_key1_vector), &kv), 0);
    cr_assert_eq(kv, 1);
    cr_assert_eq(sq_signed_value_key_version(S(v2_vector), &kv), 0);
    cr_assert_eq(kv, 0);
    cr_assert_eq(sq_signed_value_key_version(S(v1_vector), &kv), SQ_EINVAL);
    cr_assert_eq(sq_signed_value_key_version(S("2|1:0|"), &kv), SQ_EINVAL);
}

Test(signed, binary_and_empty_values) {
    char sv[512], out[300];
    size_t n, m;
    unsigned char value[256];
    for (int i = 0; i < 256; i++) value[i] = (unsigned char)i;
    for (size_t len = 0; len <= 256; len += 37) {
        for (int version = 1; version <= 2; version++) {
            cr_assert_eq(sq_signed_value_create(&plain, version, 0, S("n"), value, len, 1700000000,
                                                sv, sizeof sv, &n),
                         0);
            cr_assert_eq(sq_signed_value_decode(&plain, S("n"), sv, n, 31, 0, 1700000000, out,
                                                sizeof out, &m),
                         0);
            assert_span(out, m, (const char *)value, len, "round trip");
        }
    }
    /* An empty secret works as in Python (HMAC pads the key). */
    const sq_cookie_secret empty = {.secret = "", .secret_len = 0};
    cr_assert_eq(sq_signed_value_create(&empty, 2, 0, S("n"), "v", 1, 1, sv, sizeof sv, &n), 0);
    cr_assert_eq(sq_signed_value_decode(&empty, S("n"), sv, n, 31, 0, 1, out, sizeof out, &m), 0);
}

static const char py_signed[] = PY_PRELUDE
    "from tornado.web import create_signed_value, decode_signed_value, get_signature_key_version\n"
    "plain = \"It's a secret to everybody\"\n"
    "keys = {0: 'asdfbasdf', 1: '12312312', 7: ''}\n"
    "def spec(secret):\n"
    "    if isinstance(secret, dict):\n"
    "        return 'D:' + ','.join('%d=%s' % (k, H(v.encode())) for k, v in secret.items())\n"
    "    return 'P:' + H(secret.encode())\n"
    "def dec(secret, name, sv, now, max_age, min_version):\n"
    "    try:\n"
    "        r = decode_signed_value(secret, name, sv, max_age_days=max_age, clock=lambda: now,\n"
    "                                min_version=min_version)\n"
    "    except Exception:\n"
    "        r = 'EXC'\n"
    "    out('D', spec(secret), H(name), H(sv), now, max_age, min_version or 0,\n"
    "        'NONE' if r is None else 'EXC' if r == 'EXC' else 'V' + H(r))\n"
    "for i in range(60):\n"
    "    version = R.choice([1, 2, 2])\n"
    "    secret = plain if version == 1 or R.random() < 0.5 else keys\n"
    "    if R.random() < 0.2 and version == 2 and secret == plain: secret = R.choice(['', 'k\\xe9y'])\n"
    "    kv = R.choice([0, 1, 7]) if isinstance(secret, dict) else R.choice([None, 0, 3])\n"
    "    name = R.choice(['key', 'user', '_xsrf', 'a|b', 'n:1', ''])\n"
    "    value = bytes(R.randrange(256) for _ in range(R.randint(0, 40)))\n"
    "    ts = R.randint(10**9, 2 * 10**9)\n"
    "    sv = create_signed_value(secret, name, value, version=version, clock=lambda: ts,\n"
    "                             key_version=kv)\n"
    "    out('S', spec(secret), H(name), H(value), ts, version, kv or 0, H(sv))\n"
    "    out('K', H(sv), get_signature_key_version(sv))\n"
    "    for now, age in [(ts, 31), (ts + 31*86400 - 1, 31), (ts + 31*86400 + 1, 31),\n"
    "                     (ts - 31*86400 - 5, 31), (ts + 86400, 0.5), (ts + 3600, 0.5)]:\n"
    "        dec(secret, name, sv, now, age, None)\n"
    "    dec(secret, name, sv, ts, 31, 2)\n"
    "    dec(secret, name + 'x', sv, ts, 31, None)\n"
    "    dec(plain, name, sv, ts, 31, None)\n"
    "    for k in range(3):\n"
    "        j = R.randrange(len(sv))\n"
    "        t = sv[:j] + bytes([R.choice(b'0123456789|:abcdef=+/x')]) + sv[j+1:]\n"
    "        dec(secret, name, t, ts, 31, None)\n"
    "        t = sv[:j] + sv[j+1:]\n"
    "        dec(secret, name, t, ts, 31, None)\n";

/* Parses "P:<hex>" or "D:<kv>=<hex>,..." into a secret; frees with free_spec. */
static sq_cookie_secret parse_spec(char *spec, sq_signing_key *keys) {
    sq_cookie_secret s = {0};
    if (spec[0] == 'P') {
        s.secret = unhex(spec + 2, &s.secret_len);
        return s;
    }
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(spec + 2, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        *eq = 0;
        keys[n].key_version = atoi(t);
        keys[n].secret = unhex(eq + 1, &keys[n].secret_len);
        n++;
    }
    s.keys = keys;
    s.nkeys = n;
    return s;
}

static void free_spec(sq_cookie_secret *s) {
    free((char *)s->secret);
    for (size_t i = 0; i < s->nkeys; i++) free((char *)s->keys[i].secret);
}

Test(signed, tornado_cross_check) {
    char *out = py_run(py_signed);
    char *copy = strdup(out);
    int created = 0, decoded = 0, valid = 0;
    FOR_LINES(out, "S", line) {
        char *f[10];
        cr_assert_eq(fields(line, f, 10), 8);
        sq_signing_key keys[4];
        sq_cookie_secret s = parse_spec(f[1], keys);
        size_t nl, vl, wl, n;
        char *name = unhex(f[2], &nl), *value = unhex(f[3], &vl), *want = unhex(f[7], &wl);
        char sv[512];
        int r = sq_signed_value_create(&s, atoi(f[5]), atoi(f[6]), name, nl, value, vl,
                                       atoll(f[4]), sv, sizeof sv, &n);
        cr_assert_eq(r, 0);
        assert_span(sv, n, want, wl, "create_signed_value");
        free(name), free(value), free(want);
        free_spec(&s);
        created++;
    }
    strcpy(out, copy);
    FOR_LINES(out, "K", line) {
        char *f[4];
        cr_assert_eq(fields(line, f, 4), 3);
        size_t l;
        char *sv = unhex(f[1], &l);
        int kv = -1, r = sq_signed_value_key_version(sv, l, &kv);
        if (strcmp(f[2], "None") == 0) {
            cr_assert_eq(r, SQ_EINVAL);
        } else {
            cr_assert_eq(r, 0);
            cr_assert_eq(kv, atoi(f[2]));
        }
        free(sv);
    }
    strcpy(out, copy);
    FOR_LINES(out, "D", line) {
        char *f[10];
        cr_assert_eq(fields(line, f, 10), 8);
        sq_signing_key keys[4];
        sq_cookie_secret s = parse_spec(f[1], keys);
        size_t nl, svl, n;
        char *name = unhex(f[2], &nl), *sv = unhex(f[3], &svl);
        char buf[128];
        int r = sq_signed_value_decode(&s, name, nl, sv, svl, atof(f[5]), atoi(f[6]),
                                       atoll(f[4]), buf, sizeof buf, &n);
        if (f[7][0] == 'V') {
            size_t wl;
            char *w = unhex(f[7] + 1, &wl);
            cr_assert_eq(r, 0, "[%.*s] at %s: %d, Tornado decodes it", (int)svl, sv, f[4], r);
            assert_span(buf, n, w, wl, "decode_signed_value");
            free(w);
            valid++;
        } else {
            cr_assert(r == SQ_EINVAL || r == SQ_ETIMEDOUT,
                      "[%.*s] at %s: %d, Tornado refuses it (%s)", (int)svl, sv, f[4], r, f[7]);
        }
        free(name), free(sv);
        free_spec(&s);
        decoded++;
    }
    cr_assert_eq(created, 60);
    cr_assert_eq(decoded, 60 * 15);
    cr_assert(valid > 100);
    free(copy);
    free(out);
}

/* ---- XSRF -------------------------------------------------------------------------- */

Test(xsrf, encode_decode) {
    uint8_t tok[16], mask[4] = {1, 2, 3, 4};
    for (int i = 0; i < 16; i++) tok[i] = (uint8_t)i;
    char s[64];
    size_t n;
    cr_assert_eq(sq_xsrf_encode(tok, 16, mask, 1300000000, s, sizeof s, &n), 0);
    assert_span(s, n, S("2|01020304|0103010705070503090b090f0d0f0d0b|1300000000"), "tornado.md");
    cr_assert_eq(sq_xsrf_encode(tok, 16, mask, 1300000000, s, n - 1, &n), SQ_ELIMIT);
    uint8_t t[64];
    size_t tl;
    int ver;
    int64_t ts;
    cr_assert_eq(sq_xsrf_decode(S("2|01020304|0103010705070503090b090f0d0f0d0b|1300000000"), t,
                                sizeof t, &tl, &ver, &ts),
                 0);
    cr_assert_eq(tl, 16);
    cr_assert(memcmp(t, tok, 16) == 0);
    cr_assert_eq(ver, 2);
    cr_assert_eq(ts, 1300000000);
    cr_assert_eq(sq_xsrf_decode(S("000102030405060708090A0B0C0D0E0F"), t, sizeof t, &tl, &ver, &ts), 0);
    cr_assert_eq(tl, 16);
    cr_assert(memcmp(t, tok, 16) == 0);
    cr_assert_eq(ver, 1);
    cr_assert_eq(sq_xsrf_decode(S("not-hex"), t, sizeof t, &tl, &ver, NULL), 0);
    assert_span((char *)t, tl, S("not-hex"), "raw v1 token");
    cr_assert_eq(sq_xsrf_decode(S("not-hex"), t, 3, &tl, NULL, NULL), SQ_ELIMIT);
    const char *bad[] = {"3|a|b|c", "2|01020304|0102|x", "2|0102030|0102|1", "2|01020304|010|1",
                         "2|01020304|0102", "2|01020304|0102|1|5", "2|010|01020304|1",
                         "2|zz020304|0102|1", "10|a"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(sq_xsrf_decode(bad[i], strlen(bad[i]), t, sizeof t, &tl, NULL, NULL),
                     SQ_EINVAL, "%s", bad[i]);
    /* Tornado quirks: whitespace and underscores in the timestamp, a short
     * mask with a short token, an empty token. */
    cr_assert_eq(sq_xsrf_decode(S("2|01020304|0102| 1_0 "), t, sizeof t, &tl, NULL, &ts), 0);
    cr_assert_eq(ts, 10);
    cr_assert_eq(sq_xsrf_decode(S("2|0102|03040506|1"), t, sizeof t, &tl, NULL, NULL), 0);
    cr_assert_eq(tl, 4);
    cr_assert(memcmp(t, "\x02\x06\x05\x06", 4) == 0, "a short mask is padded with zeros");
    cr_assert_eq(sq_xsrf_decode(S("2||0304|1"), t, sizeof t, &tl, NULL, NULL), 0);
    cr_assert(tl == 2 && t[0] == 3 && t[1] == 4, "an empty mask masks nothing");
    cr_assert_eq(sq_xsrf_decode(S("2|01020304||1"), t, sizeof t, &tl, NULL, NULL), 0);
    cr_assert_eq(tl, 0);
    cr_assert_eq(sq_xsrf_decode(S("2|0102030405|0000000000|1"), t, sizeof t, &tl, NULL, NULL), 0);
    cr_assert_eq(t[4], 1, "a longer mask: its first four bytes repeat");
}

Test(xsrf, check) {
    const char cookie_v2[] = "2|01020304|0103010705070503090b090f0d0f0d0b|1300000000";
    const char same_v2[] = "2|00000000|000102030405060708090a0b0c0d0e0f|1";
    const char same_v1[] = "000102030405060708090a0b0c0d0e0f";
    const char other_v1[] = "000102030405060708090a0b0c0d0e00";
    cr_assert_eq(sq_xsrf_check(S(same_v2), S(cookie_v2)), 1);
    cr_assert_eq(sq_xsrf_check(S(same_v1), S(cookie_v2)), 1);
    cr_assert_eq(sq_xsrf_check(S(cookie_v2), S(same_v1)), 1);
    cr_assert_eq(sq_xsrf_check(S(other_v1), S(cookie_v2)), 0);
    cr_assert_eq(sq_xsrf_check(S("0001"), S(cookie_v2)), 0, "length differs");
    cr_assert_eq(sq_xsrf_check(S(same_v1), NULL, 0), 0, "no cookie");
    cr_assert_eq(sq_xsrf_check(S(same_v1), S("3|x|y|z")), 0, "invalid cookie");
    cr_assert_eq(sq_xsrf_check(NULL, 0, S(cookie_v2)), SQ_EINVAL, "missing");
    cr_assert_eq(sq_xsrf_check(S("3|x|y|z"), S(cookie_v2)), SQ_EINVAL, "bad format");
    cr_assert_eq(sq_xsrf_check(S("2|01020304||1"), S("2|01020304||1")), SQ_EINVAL, "empty token");
    cr_assert_eq(sq_xsrf_check(S("raw"), S("raw")), 1, "raw v1 tokens");
}

static const char py_xsrf[] = PY_PRELUDE
    "import time\n"
    "def rhex(n): return binascii.hexlify(bytes(R.randrange(256) for _ in range(n))).decode()\n"
    "def candidate():\n"
    "    k = R.randint(0, 9)\n"
    "    if k == 0: return rhex(16)\n"
    "    if k == 1: return rhex(R.randint(0, 5)) + R.choice(['', 'g', 'x', '|', '-'])\n"
    "    if k == 2: return R.choice(['3', '02', '12', '2', '1']) + '|' + rhex(4)\n"
    "    parts = ['2', rhex(R.choice([4, 4, 4, 2, 5, 0])), rhex(R.choice([16, 16, 0, 1, 3])),\n"
    "             str(R.randint(0, 2**31))]\n"
    "    if R.random() < 0.3:\n"
    "        j = R.randrange(4)\n"
    "        parts[j] = R.choice(['', 'ZZ', ' 12 ', '1_0', '+5', '-5', '1__0', 'A0', '0x1',\n"
    "                             parts[j].upper(), parts[j] + '0', parts[j] + '\\n'])\n"
    "    if R.random() < 0.1: parts.append('9')\n"
    "    if R.random() < 0.1: parts = parts[:3]\n"
    "    s = '|'.join(parts)\n"
    "    # A mask under 4 bytes makes Tornado's C extension read past the end of\n"
    "    # the mask (its NUL terminator, then whatever follows): only the bytes up\n"
    "    # to the terminator are deterministic.\n"
    "    f = s.split('|')\n"
    "    if len(f) == 4 and f[0] == '2' and len(f[1]) < 8 and len(f[2]) // 2 > len(f[1]) // 2 + 1:\n"
    "        return candidate()\n"
    "    return s\n"
    "h = handler()\n"
    "for i in range(1500):\n"
    "    s = candidate()\n"
    "    v, tok, ts = h._decode_xsrf_token(s)\n"
    "    if tok is None: out('X', H(s), 'NONE')\n"
    "    else: out('X', H(s), 'T' + H(tok), v, ts if v == 2 else 0)\n"
    "for i in range(400):\n"
    "    cookie = candidate() if R.random() < 0.8 else R.choice(['', '2|01020304|' + rhex(16) + '|5'])\n"
    "    arg = candidate() if R.random() < 0.7 else cookie\n"
    "    if R.random() < 0.2:\n"
    "        v, tok, ts = h._decode_xsrf_token(cookie)\n"
    "        if tok is not None and len(tok) > 0:\n"
    "            m = bytes(R.randrange(256) for _ in range(4))\n"
    "            arg = '2|' + m.hex() + '|' + bytes(b ^ m[j % 4] for j, b in enumerate(tok)).hex() + '|7'\n"
    "    if any(c in cookie for c in ';\" \\\\,\\n\\t'): continue\n"
    "    hs = {'X-Xsrftoken': arg}\n"
    "    if cookie: hs['Cookie'] = '_xsrf=' + cookie\n"
    "    hh = handler(hs, 'POST')\n"
    "    try:\n"
    "        hh.check_xsrf_cookie(); r = 'PASS'\n"
    "    except tornado.web.HTTPError as e:\n"
    "        r = 'FAIL%d' % e.status_code\n"
    "    out('C', H(arg), H(cookie), r)\n"
    "for i in range(100):\n"
    "    tok = bytes(R.randrange(256) for _ in range(16)); mask = bytes(R.randrange(256) for _ in range(4))\n"
    "    ts = R.randint(0, 2**33)\n"
    "    def urandom(n): return tok if n == 16 else mask\n"
    "    with mock.patch('tornado.web.os.urandom', urandom), mock.patch('tornado.web.time.time', lambda: ts + 0.5):\n"
    "        t = handler().xsrf_token\n"
    "    out('E', H(tok), H(mask), ts, H(t))\n";

Test(xsrf, tornado_cross_check) {
    char *out = py_run(py_xsrf);
    char *copy = strdup(out);
    int decoded = 0, checks = 0, encoded = 0, passes = 0;
    FOR_LINES(out, "X", line) {
        char *f[6];
        size_t nf = fields(line, f, 6), l;
        char *s = unhex(f[1], &l);
        uint8_t tok[64];
        size_t tl;
        int ver;
        int64_t ts;
        int r = sq_xsrf_decode(s, l, tok, sizeof tok, &tl, &ver, &ts);
        if (strcmp(f[2], "NONE") == 0) {
            cr_assert_eq(r, SQ_EINVAL, "[%.*s]: Tornado returns no token, squall %d", (int)l, s, r);
        } else {
            cr_assert_eq(nf, 5);
            size_t wl;
            char *w = unhex(f[2] + 1, &wl);
            cr_assert_eq(r, 0, "[%.*s]: %d", (int)l, s, r);
            assert_span((char *)tok, tl, w, wl, "_decode_xsrf_token");
            cr_assert_eq(ver, atoi(f[3]));
            if (ver == 2) cr_assert_eq(ts, atoll(f[4]));
            free(w);
        }
        free(s);
        decoded++;
    }
    strcpy(out, copy);
    FOR_LINES(out, "C", line) {
        char *f[6];
        cr_assert_eq(fields(line, f, 6), 4);
        size_t al, cl;
        char *arg = unhex(f[1], &al), *cookie = unhex(f[2], &cl);
        int r = sq_xsrf_check(arg, al, cookie, cl);
        bool pass = strcmp(f[3], "PASS") == 0;
        cr_assert_eq(r == 1, pass, "arg [%s] cookie [%s]: squall %d, Tornado %s", arg, cookie, r,
                     f[3]);
        passes += pass;
        free(arg), free(cookie);
        checks++;
    }
    strcpy(out, copy);
    FOR_LINES(out, "E", line) {
        char *f[6];
        cr_assert_eq(fields(line, f, 6), 5);
        size_t tl, ml, wl, n;
        char *tok = unhex(f[1], &tl), *mask = unhex(f[2], &ml), *w = unhex(f[4], &wl);
        char s[128];
        cr_assert_eq(sq_xsrf_encode((uint8_t *)tok, tl, (uint8_t *)mask, atoll(f[3]), s,
                                    sizeof s, &n),
                     0);
        assert_span(s, n, w, wl, "xsrf_token");
        free(tok), free(mask), free(w);
        encoded++;
    }
    cr_assert_eq(decoded, 1500);
    cr_assert(checks > 300);
    cr_assert(passes > 20, "only %d passing checks", passes);
    cr_assert_eq(encoded, 100);
    free(copy);
    free(out);
}

/* ---- escaping ---------------------------------------------------------------------- */

Test(escape, xhtml_escape_cases) {
    struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"<a href=\"x\">'&'</a>", "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"},
        {"\xc3\xa9&", "\xc3\xa9&amp;"},
        {"&amp;", "&amp;amp;"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = strlen(cases[i].in), wl = strlen(cases[i].want), n;
        char *src = dup_exact(cases[i].in, len);
        char *out = malloc(wl + 1);
        cr_assert_eq(sq_xhtml_escape(src, len, out, wl, &n), 0);
        assert_span(out, n, cases[i].want, wl, "xhtml_escape");
        if (wl) cr_assert_eq(sq_xhtml_escape(src, len, out, wl - 1, &n), SQ_ELIMIT);
        cr_assert_eq(n, wl);
        free(src);
        free(out);
    }
}

Test(escape, xhtml_unescape_cases) {
    struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},
        {"&lt;b&gt; &amp;amp; &quot;&#39;", "<b> &amp; \"'"},
        {"&AMP; &Amp; &amp", "&AMP; &Amp; &amp"},
        {"&nbsp;&hearts;&thetasym;&Dagger;", "\xc2\xa0\xe2\x99\xa5\xcf\x91\xe2\x80\xa1"},
        {"&#65;&#x41;&#X41;&#0065;&#x0x41;&#x0X4_1;&#6_5;", "AAAAAAA"},
        {"&#x10FFFF;&#1114111;", "\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf"},
        {"&#1114112;&#x110000;&#xD800;&#55296;", "&#1114112;&#x110000;&#xD800;&#55296;"},
        {"&#;&#x;&#_1;&#1_;&#1__0;&#x_1;&#0x1;", "&#;&#x;&#_1;&#1_;&#1__0;&#x_1;&#0x1;"},
        {"&#0;", "\0"},
        {"&&lt;;", "&<;"},
        {"&lt", "&lt"},
        {"&l t;", "&l t;"},
        {"&#999999999999999999999999;", "&#999999999999999999999999;"},
        {"&unknown; &lt;", "&unknown; <"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = strlen(cases[i].in), wl = strlen(cases[i].want);
        if (strcmp(cases[i].in, "&#0;") == 0) wl = 1;
        char *src = dup_exact(cases[i].in, len);
        char *out = malloc(len + 1);
        size_t n = sq_xhtml_unescape(src, len, out);
        assert_span(out, n, cases[i].want, wl, "xhtml_unescape");
        n = sq_xhtml_unescape(src, len, src);
        assert_span(src, n, cases[i].want, wl, "xhtml_unescape in place");
        free(src);
        free(out);
    }
}

Test(escape, json_cases) {
    struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},
        {"plain /", "plain /"},
        {"</script>", "<\\/script>"},
        {"<</", "<<\\/"},
        {"\"\\\n\r\t\b\f\x01\x1f\x7f", "\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f"},
        {"\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80", "\\u00e9\\u2028\\ud83d\\ude00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = strlen(cases[i].in), wl = strlen(cases[i].want), n;
        char *src = dup_exact(cases[i].in, len);
        char *out = malloc(wl + 1);
        cr_assert_eq(sq_json_escape(src, len, out, wl, &n), 0);
        assert_span(out, n, cases[i].want, wl, "json");
        if (wl) cr_assert_eq(sq_json_escape(src, len, out, wl - 1, &n), SQ_ELIMIT);
        cr_assert_eq(n, wl);
        free(src);
        free(out);
    }
    const char *bad[] = {"\xff", "\xc0\x80", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "a\xe2\x82", "\x80"};
    char out[64];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(sq_json_escape(bad[i], strlen(bad[i]), out, sizeof out, &n), SQ_EINVAL);
    cr_assert_eq(sq_json_escape(S("\0"), out, sizeof out, &n), 0);
    assert_span(out, n, S("\\u0000"), "NUL");
}

static const char py_escape[] = PY_PRELUDE
    "from tornado.escape import xhtml_escape, xhtml_unescape, json_encode\n"
    "eu = ['&', '<', '>', '\"', \"'\", 'a', 'é', '😀', '\\x00', ';', '#', ' ', '\\n']\n"
    "for i in range(600):\n"
    "    s = ''.join(R.choice(eu) for _ in range(R.randint(0, 12)))\n"
    "    out('E', H(s.encode()), H(xhtml_escape(s).encode()))\n"
    "uu = ['&', '#', 'x', 'X', ';', 'amp', 'lt', 'AMP', 'nbsp', 'hearts', 'thetasym', '39', '0',\n"
    "      '_', '1', 'ff', '10FFFF', '110000', 'D800', 'é', 'a', ' ', '0x', '&#', '&#x', '65']\n"
    "n = 0\n"
    "while n < 1500:\n"
    "    s = ''.join(R.choice(uu) for _ in range(R.randint(0, 10)))\n"
    "    try:\n"
    "        r = xhtml_unescape(s).encode('utf-8')\n"
    "    except (OverflowError, UnicodeEncodeError):\n"
    "        continue\n"
    "    out('U', H(s.encode()), H(r))\n"
    "    n += 1\n"
    "ju = ['</', '<', '/', '\\\\', '\"', '\\n', '\\x7f', '\\u2028', '😀', 'é', '\\x1f', '\\ud7ff',\n"
    "      '\\ue000', '\\uffff', 'a', '\\x00', '\\b', '\\f', '\\t', '\\r', '\\U0010ffff', '>']\n"
    "for i in range(600):\n"
    "    s = ''.join(R.choice(ju) for _ in range(R.randint(0, 10)))\n"
    "    out('J', H(s.encode()), H(json_encode(s)[1:-1].encode()))\n";

Test(escape, tornado_cross_check) {
    char *out = py_run(py_escape);
    int count = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[4];
        cr_assert_eq(fields(line, f, 4), 3);
        size_t l, wl, n = 0;
        char *in = unhex(f[1], &l), *w = unhex(f[2], &wl);
        char *buf = malloc(8 * l + 16);
        if (f[0][0] == 'E') {
            cr_assert_eq(sq_xhtml_escape(in, l, buf, 8 * l + 16, &n), 0);
            assert_span(buf, n, w, wl, "xhtml_escape vs Tornado");
        } else if (f[0][0] == 'U') {
            n = sq_xhtml_unescape(in, l, buf);
            assert_span(buf, n, w, wl, "xhtml_unescape vs Tornado");
        } else {
            cr_assert_eq(sq_json_escape(in, l, buf, 8 * l + 16, &n), 0);
            assert_span(buf, n, w, wl, "json_encode vs Tornado");
        }
        free(buf), free(in), free(w);
        count++;
    }
    cr_assert_eq(count, 2700);
    free(out);
}

/* ---- ETags --------------------------------------------------------------------------- */

Test(etag, compute) {
    char e[SQ_ETAG_SIZE];
    cr_assert_eq(sq_etag_compute("hello", 5, e), 0);
    cr_assert_str_eq(e, "\"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"");
    cr_assert_eq(sq_etag_compute(NULL, 0, e), 0);
    cr_assert_str_eq(e, "\"da39a3ee5e6b4b0d3255bfef95601890afd80709\"");
    uv_buf_t bufs[3];
    bufs[0].base = "he", bufs[0].len = 2;
    bufs[1].base = NULL, bufs[1].len = 0;
    bufs[2].base = "llo", bufs[2].len = 3;
    cr_assert_eq(sq_etag_compute_bufs(bufs, 3, e), 0);
    cr_assert_str_eq(e, "\"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"");
}

Test(etag, matches) {
    struct {
        const char *inm, *etag;
        bool want;
    } cases[] = {
        {"\"abc\"", "\"abc\"", true},
        {"W/\"abc\"", "\"abc\"", true},
        {"\"abc\"", "W/\"abc\"", true},
        {"\"x\", W/\"abc\"", "\"abc\"", true},
        {"\"x\",\"y\"", "\"abc\"", false},
        {"*", "\"abc\"", true},
        {" * ", "\"anything\"", true},
        {"\"x\", *", "\"abc\"", false},
        {"*", "", false},
        {"", "\"abc\"", false},
        {"abc", "abc", false},
        {"\"abc", "\"abc\"", false},
        {"junk\"abc\"junk", "\"abc\"", true},
        {"W/W/\"abc\"", "\"abc\"", true},
        {"w/\"abc\"", "\"abc\"", true},
        {"\"a\"\"b\"", "\"b\"", true},
        {"\"unterminated *", "\"abc\"", true},
        {"\"\"", "\"\"", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t l = strlen(cases[i].inm);
        char *src = dup_exact(cases[i].inm, l);
        bool r = sq_etag_matches(src, l, cases[i].etag, strlen(cases[i].etag));
        cr_assert_eq(r, cases[i].want, "[%s] vs [%s]", cases[i].inm, cases[i].etag);
        free(src);
    }
}

static const char py_etag[] = PY_PRELUDE
    "for i in range(100):\n"
    "    body = bytes(R.randrange(256) for _ in range(R.randint(0, 100)))\n"
    "    h = handler(); h.write(body)\n"
    "    out('T', H(body), H(h.compute_etag()))\n"
    "units = ['*', 'W/', '\"', 'abc', '\"abc\"', 'W/\"abc\"', ',', ' ', '\"x\"', 'W', '/', 'w/']\n"
    "for i in range(1500):\n"
    "    inm = ''.join(R.choice(units) for _ in range(R.randint(0, 6)))\n"
    "    etag = R.choice(['\"abc\"', 'W/\"abc\"', '\"x\"', '', '*', 'abc'])\n"
    "    h = handler({'If-None-Match': inm})\n"
    "    h.set_header('Etag', etag)\n"
    "    out('M', H(inm), H(etag), int(h.check_etag_header()))\n";

Test(etag, tornado_cross_check) {
    char *out = py_run(py_etag);
    int count = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[5];
        size_t nf = fields(line, f, 5), l, wl;
        char *a = unhex(f[1], &l), *b = unhex(f[2], &wl);
        if (f[0][0] == 'T') {
            cr_assert_eq(nf, 3);
            char e[SQ_ETAG_SIZE];
            cr_assert_eq(sq_etag_compute(a, l, e), 0);
            assert_span(e, strlen(e), b, wl, "compute_etag");
        } else {
            cr_assert_eq(nf, 4);
            cr_assert_eq(sq_etag_matches(a, l, b, wl), atoi(f[3]) == 1,
                         "If-None-Match [%s] Etag [%s]: Tornado %s", a, b, f[3]);
        }
        free(a), free(b);
        count++;
    }
    cr_assert_eq(count, 1600);
    free(out);
}
