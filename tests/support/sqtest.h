/* Test support for squall's own tests: a server running on its own loop in
 * a background thread, and blocking raw-socket clients with timeouts. */
#ifndef SQTEST_H
#define SQTEST_H

#include <squall.h>
#include <stddef.h>

typedef struct sqt_server sqt_server;

/* Starts an HTTP server on 127.0.0.1 (or host) port 0 in a new thread with its
 * own loop. cb runs on that thread. cfg may be NULL. Aborts the test on
 * failure. */
sqt_server *sqt_start(sq_http_request_cb cb, void *arg, const sq_http_server_config *cfg);
sqt_server *sqt_start_on(const char *host, sq_http_request_cb cb, void *arg,
                         const sq_http_server_config *cfg);
int sqt_port(const sqt_server *s);
sq_http_server *sqt_http(const sqt_server *s);
sq_loop *sqt_loop(const sqt_server *s);
/* Runs fn(arg) on the server's loop thread and waits for it to return. */
void sqt_run_on_loop(sqt_server *s, void (*fn)(void *), void *arg);
/* Closes the server, stops the loop, joins the thread and frees everything. */
void sqt_stop(sqt_server *s);

/* A blocking client socket connected to host:port with 5 s timeouts. */
int sqt_connect(int port);
int sqt_connect_host(const char *host, int port);
void sqt_send(int fd, const char *data);
void sqt_sendn(int fd, const void *data, size_t len);
/* Reads until the peer closes or the timeout; returns bytes read (NUL-terminated). */
size_t sqt_recv_all(int fd, char *buf, size_t cap);
/* Reads exactly one HTTP/1.1 response (Content-Length, chunked, or no body
 * for 1xx/204/304/HEAD when head_only) into buf; returns its length, 0 on
 * EOF before any byte, -1 on timeout or error. */
long sqt_recv_response(int fd, char *buf, size_t cap, int head_only);
/* True when the peer has closed (reads EOF within the timeout). */
int sqt_peer_closed(int fd, int timeout_ms);
/* Status code of a response in buf, or -1. */
int sqt_status(const char *resp);
/* The body of a response (after the blank line), or NULL. */
const char *sqt_body(const char *resp);

#endif
