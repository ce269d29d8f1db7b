/* reqs: a fixed number of keep-alive HTTP/1.1 requests, for counting the
 * server's instructions per request under callgrind.
 *
 *   reqs [-a ADDR] [-P PATH] [-t SECONDS] [-q] PORT CONNS REQS_PER_CONN
 *
 * Opens CONNS connections and sends REQS_PER_CONN requests on each, strictly
 * one at a time per connection (send a request, read the whole response, send
 * the next: no pipelining). The connections run side by side, so up to CONNS
 * requests are in flight at once. Every response must be a 200 with a
 * Content-Length body; anything else (close, chunked, other status, timeout)
 * makes the run fail. Prints "ok RESPONSES SECONDS" on success. Exit status 0
 * on success, 1 on failure, 2 on bad usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 65536

struct conn {
    int fd;
    long left;   /* requests still to send after the one in flight */
    size_t have; /* bytes buffered */
    char buf[BUFSZ];
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void) {
    fprintf(stderr, "usage: reqs [-a ADDR] [-P PATH] [-t SECONDS] [-q] PORT CONNS REQS_PER_CONN\n");
    exit(2);
}

/* Returns the length of one complete response at the start of b, 0 if more
 * bytes are needed, -1 if the response is not acceptable. */
static long response_len(const char *b, size_t n, const char **why) {
    const char *end = memmem(b, n, "\r\n\r\n", 4);
    if (!end) {
        if (n >= BUFSZ) { *why = "response head too large"; return -1; }
        return 0;
    }
    size_t head = (size_t)(end - b) + 4;
    if (n < 12 || memcmp(b, "HTTP/1.", 7) != 0) { *why = "not an HTTP/1.x response"; return -1; }
    if (memcmp(b + 9, "200", 3) != 0) { *why = "status is not 200"; return -1; }
    long clen = -1;
    const char *p = memchr(b, '\n', head);
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end + 2 - line));
        if (!eol) break;
        if ((size_t)(eol - line) > 15 && strncasecmp(line, "content-length:", 15) == 0)
            clen = strtol(line + 15, NULL, 10);
        else if ((size_t)(eol - line) > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
            *why = "chunked responses are not supported";
            return -1;
        }
        p = eol;
    }
    if (clen < 0) { *why = "response without Content-Length"; return -1; }
    if (head + (size_t)clen > BUFSZ) { *why = "response too large"; return -1; }
    if (n < head + (size_t)clen) return 0;
    return (long)(head + (size_t)clen);
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1", *path = "/";
    double timeout = 60;
    int quiet = 0, opt;
    while ((opt = getopt(argc, argv, "a:P:t:q")) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 'P': path = optarg; break;
        case 't': timeout = atof(optarg); break;
        case 'q': quiet = 1; break;
        default: usage();
        }
    }
    if (argc - optind != 3) usage();
    int port = atoi(argv[optind]);
    int nconn = atoi(argv[optind + 1]);
    long per = atol(argv[optind + 2]);
    if (port <= 0 || port > 65535 || nconn <= 0 || nconn > 4096 || per <= 0) usage();

    char req[1024];
    int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path, addr, port);
    if (reqlen <= 0 || (size_t)reqlen >= sizeof req) usage();

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) usage();

    struct conn *c = calloc((size_t)nconn, sizeof *c);
    struct pollfd *pf = calloc((size_t)nconn, sizeof *pf);
    if (!c || !pf) { perror("calloc"); return 1; }
    double t0 = now(), deadline = t0 + timeout;
    long done = 0, total = (long)nconn * per;
    int one = 1;
    for (int i = 0; i < nconn; i++) {
        c[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c[i].fd < 0) { perror("socket"); return 1; }
        setsockopt(c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* A blocking connect: fine on loopback, and bounded by the kernel. */
        if (connect(c[i].fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            fprintf(stderr, "reqs: connect %s:%d: %s\n", addr, port, strerror(errno));
            return 1;
        }
        if (send(c[i].fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen) {
            fprintf(stderr, "reqs: send: %s\n", strerror(errno));
            return 1;
        }
        c[i].left = per - 1;
        pf[i].fd = c[i].fd;
        pf[i].events = POLLIN;
    }
    while (done < total) {
        double rem = deadline - now();
        if (rem <= 0) {
            fprintf(stderr, "reqs: timed out after %.1fs with %ld/%ld responses\n", timeout, done, total);
            return 1;
        }
        int n = poll(pf, (nfds_t)nconn, (int)(rem * 1000) + 1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("poll");
            return 1;
        }
        for (int i = 0; i < nconn && n > 0; i++) {
            if (!pf[i].revents) continue;
            n--;
            struct conn *k = &c[i];
            ssize_t r = recv(k->fd, k->buf + k->have, BUFSZ - k->have, 0);
            if (r <= 0) {
                fprintf(stderr, "reqs: connection %d %s after %ld/%ld responses\n", i,
                        r == 0 ? "closed by the server" : strerror(errno), done, total);
                return 1;
            }
            k->have += (size_t)r;
            for (;;) {
                const char *why = NULL;
                long len = response_len(k->buf, k->have, &why);
                if (len < 0) {
                    fprintf(stderr, "reqs: bad response on connection %d: %s\n", i, why);
                    fwrite(k->buf, 1, k->have < 300 ? k->have : 300, stderr);
                    fputc('\n', stderr);
                    return 1;
                }
                if (len == 0) break;
                memmove(k->buf, k->buf + len, k->have - (size_t)len);
                k->have -= (size_t)len;
                done++;
                if (k->left > 0) {
                    if (k->have) {
                        fprintf(stderr, "reqs: unsolicited bytes on connection %d\n", i);
                        return 1;
                    }
                    k->left--;
                    if (send(k->fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen) {
                        fprintf(stderr, "reqs: send: %s\n", strerror(errno));
                        return 1;
                    }
                } else {
                    pf[i].fd = -1; /* this connection is finished */
                }
            }
        }
    }
    double dt = now() - t0;
    if (!quiet) printf("ok %ld %.3f\n", done, dt);
    for (int i = 0; i < nconn; i++) close(c[i].fd);
    return 0;
}
