/* WebSocket server connections end to end: a real server and a raw-socket
 * client that speaks RFC 6455 bytes (masked frames out, frames decoded with
 * squall's own client-role decoder in). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqtest.h"

static sq_ws_settings settings;
static atomic_int close_code_seen, closes, opens;
static char close_reason_seen[128];

static void ws_open(sq_ws *ws) { atomic_fetch_add(&opens, 1); }

static void ws_message(sq_ws *ws, const char *data, size_t len, bool binary) {
    if (!binary && len == 8 && !memcmp(data, "close-me", 8)) {
        cr_assert_eq(sq_ws_close(ws, 1000, "as asked"), 0);
        cr_assert_eq(sq_ws_write_message(ws, "late", 4, false), SQ_ECLOSED);
        return;
    }
    if (!binary && len == 5 && !memcmp(data, "flood", 5)) {
        static char big[64 * 1024];
        int r = 0;
        for (int i = 0; i < 64 && r == 0; i++) r = sq_ws_write_message(ws, big, sizeof big, true);
        cr_assert_eq(r, SQ_ELIMIT);
        return;
    }
    sq_ws_write_message(ws, data, len, binary);
}

static void ws_closed(sq_ws *ws, int code, const char *reason, size_t len) {
    snprintf(close_reason_seen, sizeof close_reason_seen, "%.*s", (int)len, reason);
    atomic_store(&close_code_seen, code);
    atomic_fetch_add(&closes, 1);
}

static const sq_ws_handler echo = {
    .open = ws_open, .on_message = ws_message, .on_close = ws_closed};

static void app(sq_http_req *req, void *arg) { sq_ws_accept(req, &echo, &settings, NULL); }

static void reset(void) {
    sq_ws_settings_init(&settings);
    atomic_store(&close_code_seen, 0);
    atomic_store(&closes, 0);
    atomic_store(&opens, 0);
    close_reason_seen[0] = 0;
}

static char resp[1 << 16];

#define SAMPLE_KEY "dGhlIHNhbXBsZSBub25jZQ=="

static int handshake(sqt_server *s, const char *extra) {
    int fd = sqt_connect(sqt_port(s));
    char req[1024];
    snprintf(req, sizeof req,
             "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
             extra ? extra : "");
    sqt_send(fd, req);
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 1), 0);
    cr_assert_eq(sqt_status(resp), 101, "%s", resp);
    cr_assert(strstr(resp, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    cr_assert(strstr(resp, "Upgrade: websocket\r\n"));
    return fd;
}

/* Sends one client frame (masked unless unmasked is set). */
static void send_frame(int fd, unsigned op, unsigned flags, const void *data, size_t len, bool unmasked) {
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t *buf = malloc(len + SQ_WS_MAX_HEADER);
    size_t hl = sq_ws_frame_header(buf, op, flags, len, unmasked ? NULL : key);
    if (unmasked) memcpy(buf + hl, data, len);
    else sq_ws_mask_copy(buf + hl, data, len, key, 0);
    sqt_sendn(fd, buf, hl + len);
    free(buf);
}

typedef struct {
    int kind; /* 0: message, 1: control, -1: EOF */
    unsigned opcode;
    unsigned flags;
    unsigned close_code;
    char data[1 << 16];
    size_t len;
} frame;

/* Reads the next whole frame from the server (unmasked frames). */
static void recv_frame(int fd, frame *f) {
    static sq_ws_decoder d;
    static uint8_t pending[1 << 17];
    static size_t have, off;
    static int inited_fd = -1;
    if (inited_fd != fd) {
        sq_ws_decoder_init(&d, SQ_WS_CLIENT);
        d.options |= SQ_WS_DEC_DEFLATE | SQ_WS_DEC_NO_UTF8;
        d.max_message = 0;
        have = off = 0;
        inited_fd = fd;
    }
    f->len = 0;
    for (;;) {
        while (off < have) {
            sq_ws_event ev;
            int64_t n = sq_ws_decode(&d, pending + off, have - off, &ev);
            cr_assert_geq(n, 0, "bad frame from the server: %s", d.error);
            off += (size_t)n;
            if (ev.kind == SQ_WS_EV_DATA) {
                memcpy(f->data + f->len, ev.data, ev.len);
                f->len += ev.len;
                if (ev.flags & SQ_WS_F_MSG_END) {
                    f->kind = 0;
                    f->opcode = ev.opcode;
                    f->flags = ev.flags;
                    return;
                }
            } else if (ev.kind == SQ_WS_EV_CONTROL) {
                f->kind = 1;
                f->opcode = ev.opcode;
                f->close_code = ev.close_code;
                memcpy(f->data, ev.opcode == SQ_WS_OP_CLOSE ? ev.reason : ev.data,
                       ev.opcode == SQ_WS_OP_CLOSE ? ev.reason_len : ev.len);
                f->len = ev.opcode == SQ_WS_OP_CLOSE ? ev.reason_len : ev.len;
                if (ev.opcode == SQ_WS_OP_CLOSE) sq_ws_decoder_init(&d, SQ_WS_CLIENT), d.options |= SQ_WS_DEC_DEFLATE | SQ_WS_DEC_NO_UTF8, d.max_message = 0;
                return;
            }
        }
        have = off = 0;
        ssize_t n = recv(fd, pending, sizeof pending, 0);
        if (n <= 0) {
            f->kind = -1;
            inited_fd = -1;
            return;
        }
        have = (size_t)n;
    }
}

static frame F;

static void wait_closes(int n) {
    for (int i = 0; i < 300 && atomic_load(&closes) < n; i++) usleep(10000);
    cr_assert_eq(atomic_load(&closes), n);
}

Test(websocket, echo_text_binary_fragments_and_clean_close) {
    reset();
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = handshake(s, NULL);
    send_frame(fd, SQ_WS_OP_TEXT, SQ_WS_F_FIN, "hello", 5, false);
    recv_frame(fd, &F);
    cr_assert_eq(F.kind, 0);
    cr_assert_eq(F.opcode, SQ_WS_OP_TEXT);
    cr_assert_eq(F.len, 5);
    cr_assert(!memcmp(F.data, "hello", 5));
    uint8_t bin[300];
    for (size_t i = 0; i < sizeof bin; i++) bin[i] = (uint8_t)i;
    send_frame(fd, SQ_WS_OP_BINARY, SQ_WS_F_FIN, bin, sizeof bin, false);
    recv_frame(fd, &F);
    cr_assert_eq(F.opcode, SQ_WS_OP_BINARY);
    cr_assert_eq(F.len, sizeof bin);
    cr_assert(!memcmp(F.data, bin, sizeof bin));
    /* A fragmented message with a ping between its fragments. */
    send_frame(fd, SQ_WS_OP_TEXT, 0, "frag", 4, false);
    send_frame(fd, SQ_WS_OP_PING, SQ_WS_F_FIN, "p", 1, false);
    usleep(20000);
    send_frame(fd, SQ_WS_OP_CONT, 0, "men", 3, false);
    send_frame(fd, SQ_WS_OP_CONT, SQ_WS_F_FIN, "ted", 3, false);
    recv_frame(fd, &F);
    cr_assert_eq(F.kind, 1);
    cr_assert_eq(F.opcode, SQ_WS_OP_PONG);
    cr_assert_eq(F.len, 1);
    recv_frame(fd, &F);
    cr_assert_eq(F.kind, 0);
    cr_assert_eq(F.len, 10);
    cr_assert(!memcmp(F.data, "fragmented", 10));
    /* The client closes: the server echoes its code, then closes TCP. */
    uint8_t payload[16];
    int n = sq_ws_close_payload(payload, 1000, "bye", 3);
    send_frame(fd, SQ_WS_OP_CLOSE, SQ_WS_F_FIN, payload, (size_t)n, false);
    recv_frame(fd, &F);
    cr_assert_eq(F.kind, 1);
    cr_assert_eq(F.opcode, SQ_WS_OP_CLOSE);
    cr_assert_eq(F.close_code, 1000);
    recv_frame(fd, &F);
    cr_assert_eq(F.kind, -1, "the server closes the TCP connection after the close frame");
    close(fd);
    wait_closes(1);
    cr_assert_eq(atomic_load(&close_code_seen), 1000);
    cr_assert_str_eq(close_reason_seen, "bye");
    sqt_stop(s);
}

static void expect_close(int fd, unsigned code) {
    recv_frame(fd, &F);
    cr_assert_eq(F.kind, 1, "expected a close frame %u", code);
    cr_assert_eq(F.opcode, SQ_WS_OP_CLOSE);
    cr_assert_eq(F.close_code, code);
    recv_frame(fd, &F);
    cr_assert_eq(F.kind, -1);
}

Test(websocket, protocol_violations_get_their_close_codes) {
    reset();
    settings.max_message_size = 1000;
    sqt_server *s = sqt_start(app, NULL, NULL);

    int fd = handshake(s, NULL);
    send_frame(fd, SQ_WS_OP_TEXT, SQ_WS_F_FIN, "unmasked", 8, true);
    expect_close(fd, 1002);
    close(fd);

    fd = handshake(s, NULL);
    send_frame(fd, SQ_WS_OP_TEXT, SQ_WS_F_FIN, "bad \xff utf-8", 11, false);
    expect_close(fd, 1007);
    close(fd);

    fd = handshake(s, NULL);
    static char big[2000];
    send_frame(fd, SQ_WS_OP_BINARY, SQ_WS_F_FIN, big, sizeof big, false);
    expect_close(fd, 1009);
    close(fd);

    fd = handshake(s, NULL);
    send_frame(fd, SQ_WS_OP_CONT, SQ_WS_F_FIN, "x", 1, false);
    expect_close(fd, 1002);
    close(fd);

    fd = handshake(s, NULL);
    send_frame(fd, SQ_WS_OP_TEXT, SQ_WS_F_FIN | SQ_WS_F_COMPRESSED, "x", 1, false); /* RSV1, no deflate */
    expect_close(fd, 1002);
    close(fd);

    wait_closes(5);
    sqt_stop(s);
}

static void expect_refusal(sqt_server *s, const char *req, int status) {
    int fd = sqt_connect(sqt_port(s));
    sqt_send(fd, req);
    cr_assert_gt(sqt_recv_response(fd, resp, sizeof resp, 0), 0);
    cr_assert_eq(sqt_status(resp), status, "%s -> %s", req, resp);
    close(fd);
}

Test(websocket, handshake_refusals_as_tornado) {
    reset();
    sqt_server *s = sqt_start(app, NULL, NULL);
#define WS_HEAD "Host: 127.0.0.1:1\r\nSec-WebSocket-Key: " SAMPLE_KEY "\r\n"
    expect_refusal(s, "GET /ws HTTP/1.1\r\n" WS_HEAD "Sec-WebSocket-Version: 13\r\n\r\n", 400);
    expect_refusal(s, "GET /ws HTTP/1.1\r\n" WS_HEAD "Upgrade: websocket\r\nConnection: keep-alive\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n", 400);
    expect_refusal(s, "GET /ws HTTP/1.1\r\n" WS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Origin: http://evil.example\r\nSec-WebSocket-Version: 13\r\n\r\n", 403);
    expect_refusal(s, "GET /ws HTTP/1.1\r\n" WS_HEAD "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Version: 8\r\n\r\n", 426);
    cr_assert(strstr(resp, "Sec-WebSocket-Version: 13\r\n"));
    expect_refusal(s, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", 400);
    /* The same origin as Host is fine. */
    int fd = handshake(s, "Origin: http://127.0.0.1\r\n");
    close(fd);
    wait_closes(1);
    cr_assert_eq(atomic_load(&opens), 1);
    sqt_stop(s);
}

Test(websocket, server_close_handshake) {
    reset();
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = handshake(s, NULL);
    send_frame(fd, SQ_WS_OP_TEXT, SQ_WS_F_FIN, "close-me", 8, false);
    recv_frame(fd, &F);
    cr_assert_eq(F.opcode, SQ_WS_OP_CLOSE);
    cr_assert_eq(F.close_code, 1000);
    cr_assert_eq(F.len, 8);
    cr_assert(!memcmp(F.data, "as asked", 8));
    /* The client answers; the server then closes the TCP connection. */
    uint8_t payload[4];
    int n = sq_ws_close_payload(payload, 1000, NULL, 0);
    send_frame(fd, SQ_WS_OP_CLOSE, SQ_WS_F_FIN, payload, (size_t)n, false);
    recv_frame(fd, &F);
    cr_assert_eq(F.kind, -1);
    close(fd);
    wait_closes(1);
    cr_assert_eq(atomic_load(&close_code_seen), 1000);
    sqt_stop(s);
}

Test(websocket, dead_peer_is_closed_by_ping_timeout) {
    reset();
    settings.ping_interval_ms = 100;
    settings.ping_timeout_ms = 150;
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = handshake(s, NULL);
    /* Never answer: the pings come, then the connection goes. */
    recv_frame(fd, &F);
    cr_assert_eq(F.kind, 1);
    cr_assert_eq(F.opcode, SQ_WS_OP_PING);
    do recv_frame(fd, &F);
    while (F.kind == 1 && F.opcode == SQ_WS_OP_PING);
    cr_assert_eq(F.kind, -1);
    wait_closes(1);
    cr_assert_eq(atomic_load(&close_code_seen), 1006);
    close(fd);

    /* A peer that answers stays. */
    fd = handshake(s, NULL);
    for (int i = 0; i < 4; i++) {
        recv_frame(fd, &F);
        cr_assert_eq(F.opcode, SQ_WS_OP_PING);
        send_frame(fd, SQ_WS_OP_PONG, SQ_WS_F_FIN, F.data, F.len, false);
    }
    send_frame(fd, SQ_WS_OP_TEXT, SQ_WS_F_FIN, "alive", 5, false);
    do recv_frame(fd, &F);
    while (F.kind == 1 && F.opcode == SQ_WS_OP_PING);
    cr_assert_eq(F.kind, 0);
    cr_assert_eq(F.len, 5);
    close(fd);
    wait_closes(2);
    sqt_stop(s);
}

Test(websocket, slow_reader_hits_the_send_queue_bound) {
    reset();
    settings.max_send_queue = 256 * 1024;
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = handshake(s, NULL);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    send_frame(fd, SQ_WS_OP_TEXT, SQ_WS_F_FIN, "flood", 5, false);
    /* The handler's writes hit the bound (asserted there), the server
     * closes with 1008; the client eventually sees the end. */
    wait_closes(1);
    cr_assert_eq(atomic_load(&close_code_seen), 1008);
    close(fd);
    sqt_stop(s);
}

Test(websocket, permessage_deflate_both_ways) {
    reset();
    settings.compression = true;
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fd = handshake(s, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    cr_assert(strstr(resp, "Sec-WebSocket-Extensions: permessage-deflate"), "%s", resp);
    sq_ws_pmd_config cfg;
    sq_ws_pmd_config_init(&cfg);
    sq_ws_pmd_params params = {.server_max_window_bits = 15, .client_max_window_bits = 15};
    sq_ws_pmd *z;
    cr_assert_eq(sq_ws_pmd_new(&z, &params, SQ_WS_CLIENT, &cfg, 0), 0);
    const char *text = "compress me, compress me, compress me, compress me please";
    uint8_t comp[256];
    int64_t cl = sq_ws_pmd_compress(z, text, strlen(text), comp, sizeof comp);
    cr_assert_gt(cl, 0);
    for (int round = 0; round < 2; round++) { /* context takeover across messages */
        send_frame(fd, SQ_WS_OP_TEXT, SQ_WS_F_FIN | SQ_WS_F_COMPRESSED, comp, (size_t)cl, false);
        recv_frame(fd, &F);
        cr_assert_eq(F.kind, 0);
        cr_assert(F.flags & SQ_WS_F_COMPRESSED, "the echo is compressed too");
        char out[256];
        size_t iu = 0, ou = 0;
        cr_assert_eq(sq_ws_pmd_decompress(z, F.data, F.len, true, out, sizeof out, &iu, &ou), 0);
        cr_assert_eq(ou, strlen(text));
        cr_assert(!memcmp(out, text, ou));
        cl = sq_ws_pmd_compress(z, text, strlen(text), comp, sizeof comp);
    }
    sq_ws_pmd_free(z);
    close(fd);
    wait_closes(1);
    sqt_stop(s);
}

static void begin_shutdown(void *p) { sq_http_server_shutdown(sqt_http(p), 2000, NULL, NULL); }

Test(websocket, many_idle_connections_then_server_shutdown_says_going_away) {
    reset();
    sqt_server *s = sqt_start(app, NULL, NULL);
    int fds[20];
    for (int i = 0; i < 20; i++) fds[i] = handshake(s, NULL);
    cr_assert_eq(atomic_load(&opens), 20);
    sqt_run_on_loop(s, begin_shutdown, s);
    for (int i = 0; i < 20; i++) {
        recv_frame(fds[i], &F);
        cr_assert_eq(F.kind, 1);
        cr_assert_eq(F.opcode, SQ_WS_OP_CLOSE);
        cr_assert_eq(F.close_code, 1001);
        close(fds[i]);
    }
    wait_closes(20);
    sqt_stop(s);
}
