#include "sqtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct sqt_server {
    sq_loop *loop;
    sq_http_server *http;
    pthread_t thread;
    int port;
    const char *host;
    sq_http_request_cb cb;
    void *arg;
    sq_http_server_config cfg;
    int has_cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
    int err;
};

static void die(const char *what) {
    fprintf(stderr, "sqtest: %s\n", what);
    abort();
}

static void *server_thread(void *p) {
    sqt_server *s = p;
    s->loop = sq_loop_new();
    if (!s->loop) die("sq_loop_new failed");
    s->http = sq_http_server_new(s->loop, s->has_cfg ? &s->cfg : NULL, s->cb, s->arg);
    if (!s->http) die("sq_http_server_new failed");
    s->err = sq_http_server_listen(s->http, s->host, 0);
    pthread_mutex_lock(&s->mu);
    s->port = s->err ? -1 : sq_http_server_port(s->http);
    s->ready = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->err) return NULL;
    sq_loop_run(s->loop);
    return NULL;
}

sqt_server *sqt_start_on(const char *host, sq_http_request_cb cb, void *arg,
                         const sq_http_server_config *cfg) {
    sqt_server *s = calloc(1, sizeof *s);
    s->host = host;
    s->cb = cb;
    s->arg = arg;
    if (cfg) {
        s->cfg = *cfg;
        s->has_cfg = 1;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_create(&s->thread, NULL, server_thread, s);
    pthread_mutex_lock(&s->mu);
    while (!s->ready) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->err) {
        fprintf(stderr, "sqtest: listen failed: %s\n", sq_strerror(s->err));
        abort();
    }
    return s;
}

sqt_server *sqt_start(sq_http_request_cb cb, void *arg, const sq_http_server_config *cfg) {
    return sqt_start_on("127.0.0.1", cb, arg, cfg);
}

int sqt_port(const sqt_server *s) { return s->port; }
sq_http_server *sqt_http(const sqt_server *s) { return s->http; }
sq_loop *sqt_loop(const sqt_server *s) { return s->loop; }

typedef struct {
    void (*fn)(void *);
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} run_ctx;

static void run_cb(void *p) {
    run_ctx *r = p;
    r->fn(r->arg);
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void sqt_run_on_loop(sqt_server *s, void (*fn)(void *), void *arg) {
    run_ctx r = {.fn = fn, .arg = arg};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    if (sq_loop_call_threadsafe(s->loop, run_cb, &r) != 0) die("call_threadsafe failed");
    pthread_mutex_lock(&r.mu);
    while (!r.done) pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
}

static void on_closed(sq_http_server *srv, void *arg) {
    sqt_server *s = arg;
    sq_loop_stop(s->loop);
}

static void close_on_loop(void *p) {
    sqt_server *s = p;
    sq_http_server_close(s->http, on_closed, s);
}

void sqt_stop(sqt_server *s) {
    if (sq_loop_call_threadsafe(s->loop, close_on_loop, s) != 0) die("call_threadsafe failed");
    pthread_join(s->thread, NULL);
    int err = sq_loop_close(s->loop);
    if (err) {
        fprintf(stderr, "sqtest: sq_loop_close: %s\n", sq_strerror(err));
        abort();
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int sqt_connect_host(const char *host, int port) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &a->sin_addr);
        len = sizeof *a;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) die("connect");
    return fd;
}

int sqt_connect(int port) { return sqt_connect_host("127.0.0.1", port); }

void sqt_sendn(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) return; /* the peer may have closed: tests check responses */
        p += n;
        len -= (size_t)n;
    }
}

void sqt_send(int fd, const char *data) { sqt_sendn(fd, data, strlen(data)); }

size_t sqt_recv_all(int fd, char *buf, size_t cap) {
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    return len;
}

static long find_head_end(const char *buf, size_t len) {
    for (size_t i = 3; i < len; i++)
        if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' && buf[i] == '\n')
            return (long)i + 1;
    return -1;
}

/* Reads one byte at a time past the head so that nothing of the next
 * response is consumed: simple and exact, and tests are small. */
long sqt_recv_response(int fd, char *buf, size_t cap, int head_only) {
    size_t len = 0;
    long head_end = -1;
    while (head_end < 0) {
        if (len + 1 >= cap) return -1;
        ssize_t n = recv(fd, buf + len, 1, 0);
        if (n == 0 && len == 0) return 0;
        if (n <= 0) return -1;
        len++;
        head_end = find_head_end(buf, len);
    }
    buf[len] = 0;
    int status = sqt_status(buf);
    if (head_only || status < 200 || status == 204 || status == 304) return (long)len;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (cl) {
        size_t want = (size_t)strtoul(cl + 17, NULL, 10);
        if (len + want + 1 > cap) return -1;
        while (want) {
            ssize_t n = recv(fd, buf + len, want, 0);
            if (n <= 0) return -1;
            len += (size_t)n;
            want -= (size_t)n;
        }
        buf[len] = 0;
        return (long)len;
    }
    if (strcasestr(buf, "\r\ntransfer-encoding: chunked")) {
        /* Read until the terminating "0\r\n\r\n". */
        while (1) {
            if (len + 1 >= cap) return -1;
            ssize_t n = recv(fd, buf + len, 1, 0);
            if (n <= 0) return -1;
            len++;
            buf[len] = 0;
            if (len >= 5 && memcmp(buf + len - 5, "0\r\n\r\n", 5) == 0 &&
                (len == (size_t)head_end + 5 || buf[len - 6] == '\n'))
                return (long)len;
        }
    }
    /* Until close. */
    len += sqt_recv_all(fd, buf + len, cap - len);
    return (long)len;
}

int sqt_peer_closed(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0) return 0;
    char ch;
    ssize_t n = recv(fd, &ch, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

int sqt_status(const char *resp) {
    if (strncmp(resp, "HTTP/1.", 7) != 0 || strlen(resp) < 12) return -1;
    return atoi(resp + 9);
}

const char *sqt_body(const char *resp) {
    const char *p = strstr(resp, "\r\n\r\n");
    return p ? p + 4 : NULL;
}
