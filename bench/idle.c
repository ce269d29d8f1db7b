/* idle: hold many idle keep-alive HTTP/1.1 connections open, for measuring
 * the server's memory per idle connection.
 *
 *   idle [-a FIRST_ADDR] [-s SOURCES] [-f INFLIGHT] [-P PATH] [-t SECONDS] [-H HOLD]
 *        PORT COUNT
 *
 * Opens COUNT connections to 127.0.0.1:PORT (non-blocking, at most INFLIGHT
 * not yet answered at a time), sends one GET on each and reads the whole
 * response, so each ends up an idle keep-alive connection. The source address
 * cycles over SOURCES loopback addresses starting at FIRST_ADDR (127.0.0.1,
 * 127.0.0.2, ...) so that ephemeral ports never run out. Connections the kernel
 * refuses or resets are retried (up to 5 times each).
 *
 * When all COUNT are idle, or -t SECONDS passed, it prints "READY IDLE" (the
 * number of idle connections) on stdout, flushes, and holds the connections
 * until SIGTERM/SIGINT or HOLD seconds pass; then prints how many the server
 * closed meanwhile ("CLOSED n") and exits. Exit status 0 when all COUNT were
 * idle, 1 otherwise, 2 on bad usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { FREE, CONNECTING, READING, IDLE, CLOSED };

struct conn {
    int fd;
    int state;
    int tries;
    size_t have;
    char buf[512];
};

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void) {
    fprintf(stderr, "usage: idle [-a FIRST_ADDR] [-s SOURCES] [-f INFLIGHT] [-P PATH] "
                    "[-t SECONDS] [-H HOLD] PORT COUNT\n");
    exit(2);
}

static int port, nsrc = 8, epfd;
static struct in_addr first_src;
static struct sockaddr_in dst;
static char req[512];
static int reqlen;
static long started; /* connection attempts, for cycling the source address */

static int open_conn(struct conn *c, int idx) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(ntohl(first_src.s_addr) + (uint32_t)(started++ % nsrc));
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)idx};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    c->fd = fd;
    c->state = CONNECTING;
    c->have = 0;
    return 0;
}

/* 1: a complete response is buffered; 0: need more; -1: bad response. */
static int complete(struct conn *c) {
    const char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
    if (!end) return c->have >= sizeof c->buf ? -1 : 0;
    if (c->have < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0 || memcmp(c->buf + 9, "200", 3) != 0)
        return -1;
    size_t head = (size_t)(end - c->buf) + 4;
    long clen = -1;
    for (const char *p = c->buf; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
        if (*p == '\n') p++;
        if (strncasecmp(p, "content-length:", 15) == 0) clen = strtol(p + 15, NULL, 10);
        if (p >= end) break;
    }
    if (clen < 0) return -1;
    if (c->have > head + (size_t)clen) return -1; /* more than one response */
    return c->have == head + (size_t)clen;
}

int main(int argc, char **argv) {
    const char *path = "/";
    int inflight = 128, opt;
    double timeout = 60, hold = 120;
    inet_pton(AF_INET, "127.0.0.1", &first_src);
    while ((opt = getopt(argc, argv, "a:s:f:P:t:H:")) != -1) {
        switch (opt) {
        case 'a': if (inet_pton(AF_INET, optarg, &first_src) != 1) usage(); break;
        case 's': nsrc = atoi(optarg); break;
        case 'f': inflight = atoi(optarg); break;
        case 'P': path = optarg; break;
        case 't': timeout = atof(optarg); break;
        case 'H': hold = atof(optarg); break;
        default: usage();
        }
    }
    if (argc - optind != 2 || nsrc < 1 || inflight < 1) usage();
    port = atoi(argv[optind]);
    int count = atoi(argv[optind + 1]);
    if (port <= 0 || port > 65535 || count <= 0) usage();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)count + 16) {
        fprintf(stderr, "idle: open-files limit %llu is too low for %d connections\n",
                (unsigned long long)rl.rlim_cur, count);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    if (reqlen <= 0 || (size_t)reqlen >= sizeof req) usage();

    struct conn *c = calloc((size_t)count, sizeof *c);
    if (!c) { perror("calloc"); return 1; }
    epfd = epoll_create1(0);
    int next = 0, pending = 0, idle = 0, failed = 0, closed = 0;
    double deadline = now() + timeout;
    struct epoll_event evs[256];

    while (idle + failed < count && !stop && now() < deadline) {
        while (pending < inflight && next < count) {
            if (open_conn(&c[next], next) != 0) {
                fprintf(stderr, "idle: cannot open connection %d: %s\n", next, strerror(errno));
                c[next].state = CLOSED;
                failed++;
            } else {
                pending++;
            }
            next++;
        }
        int n = epoll_wait(epfd, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            int idx = (int)evs[i].data.u32;
            struct conn *k = &c[idx];
            int bad = 0;
            if (k->state == CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err || send(k->fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen) {
                    bad = 1;
                } else {
                    k->state = READING;
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)idx};
                    epoll_ctl(epfd, EPOLL_CTL_MOD, k->fd, &ev);
                }
            } else if (k->state == READING) {
                ssize_t r = recv(k->fd, k->buf + k->have, sizeof k->buf - k->have, 0);
                int st = r > 0 ? (k->have += (size_t)r, complete(k)) : -1;
                if (st < 0) {
                    bad = 1;
                } else if (st == 1) {
                    k->state = IDLE;
                    idle++;
                    pending--;
                    /* Keep watching: a close by the server now is counted. */
                    struct epoll_event ev = {.events = EPOLLRDHUP, .data.u32 = (uint32_t)idx};
                    epoll_ctl(epfd, EPOLL_CTL_MOD, k->fd, &ev);
                }
            } else if (k->state == IDLE) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, k->fd, NULL);
                k->state = CLOSED;
                idle--;
                closed++;
            }
            if (bad) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, k->fd, NULL);
                close(k->fd);
                pending--;
                if (++k->tries < 5 && open_conn(k, idx) == 0) {
                    pending++;
                } else {
                    k->state = CLOSED;
                    failed++;
                }
            }
        }
    }
    if (idle < count)
        fprintf(stderr, "idle: only %d of %d connections idle (%d failed, %d closed by the server%s)\n",
                idle, count, failed, closed, now() >= deadline ? ", timed out" : "");
    printf("READY %d\n", idle);
    fflush(stdout);

    double until = now() + hold;
    while (!stop && now() < until) {
        int n = epoll_wait(epfd, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            struct conn *k = &c[evs[i].data.u32];
            epoll_ctl(epfd, EPOLL_CTL_DEL, k->fd, NULL);
            if (k->state == IDLE) { idle--; closed++; }
            k->state = CLOSED;
        }
    }
    printf("CLOSED %d\n", closed);
    fflush(stdout);
    return idle == count ? 0 : 1;
}
