/* libFuzzer target: permessage-deflate decompression with a bounded output,
 * and compression round trips.
 *
 * Input: 4 bytes of settings, then data.
 *   byte 0: bits 0-2 window bits - 8, bit 3 no context takeover, bit 4
 *           also round-trip the data through the compressor
 *   byte 1: the message limit in units of 64 bytes (0: no limit)
 *   byte 2: the output window per call (1 to 256 bytes)
 *   byte 3: the input piece size (1 to 256 bytes)
 * The data is split into messages at each 0xFE 0xFD pair; each message is
 * decompressed in pieces with small output windows. Invariants: a call
 * never reports more output than its window nor consumes more than its
 * input; a message never yields more than limit + 1 bytes, and it yields
 * limit + 1 exactly when SQ_ELIMIT is reported; after an error the context
 * refuses further use. With bit 4, every message is compressed and
 * decompressed by a second pair of contexts and must come back unchanged.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "squall/ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[256];

/* Decompresses one message; returns 0, or the error that ended it. */
static int inflate_msg(sq_ws_pmd *z, const uint8_t *in, size_t n, uint64_t limit, size_t window,
                       size_t piece, uint8_t *keep, size_t keep_cap, size_t *kept) {
    size_t ip = 0;
    uint64_t total = 0;
    *kept = 0;
    for (;;) {
        size_t len = n - ip < piece ? n - ip : piece;
        bool fin = ip + len == n;
        size_t iu = 99, ou = 99;
        int rc = sq_ws_pmd_decompress(z, in + ip, len, fin, out, window, &iu, &ou);
        assert(iu <= len && ou <= window);
        ip += iu;
        total += ou;
        if (keep && *kept + ou <= keep_cap) {
            memcpy(keep + *kept, out, ou);
            *kept += ou;
        }
        if (limit) assert(total <= limit + 1);
        if (rc == SQ_ELIMIT) {
            assert(limit && total == limit + 1);
            return rc;
        }
        if (limit) assert(total <= limit);
        if (rc < 0 && rc != SQ_EAGAIN) {
            assert(rc == SQ_EPROTO);
            return rc;
        }
        if (rc == 0 && fin) return 0;
        if (rc == SQ_EAGAIN) assert(iu < len || ou == window || fin);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    int bits = 8 + (data[0] & 7);
    bool nct = data[0] & 8, trip = data[0] & 16;
    uint64_t limit = (uint64_t)data[1] * 64;
    size_t window = (size_t)data[2] + 1, piece = (size_t)data[3] + 1;
    data += 4;
    size -= 4;

    sq_ws_pmd_params p = {nct, nct, (uint8_t)bits, (uint8_t)bits};
    sq_ws_pmd *z = NULL;
    assert(sq_ws_pmd_new(&z, &p, SQ_WS_SERVER, NULL, limit) == 0);
    sq_ws_pmd *tx = NULL, *rx = NULL;
    if (trip) {
        assert(sq_ws_pmd_new(&tx, &p, SQ_WS_CLIENT, NULL, 0) == 0);
        assert(sq_ws_pmd_new(&rx, &p, SQ_WS_SERVER, NULL, 0) == 0);
    }
    bool dead = false;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        bool end = i == size || (i + 1 < size && data[i] == 0xfe && data[i + 1] == 0xfd);
        if (!end) continue;
        const uint8_t *msg = data + start;
        size_t n = i - start;
        start = i + 2;
        if (!dead) {
            size_t kept;
            int rc = inflate_msg(z, msg, n, limit, window, piece, NULL, 0, &kept);
            if (rc < 0) {
                dead = true;
                size_t iu, ou;
                assert(sq_ws_pmd_decompress(z, msg, n, true, out, sizeof out, &iu, &ou) == SQ_ESTATE);
            }
        }
        if (trip) {
            size_t cap = sq_ws_pmd_compress_bound(tx, n);
            uint8_t *c = malloc(cap), *back = malloc(n + 1);
            int64_t cn = sq_ws_pmd_compress(tx, msg, n, c, cap);
            assert(cn >= 0 && (size_t)cn <= cap);
            size_t kept;
            assert(inflate_msg(rx, c, (size_t)cn, 0, window, piece, back, n + 1, &kept) == 0);
            assert(kept == n && memcmp(back, msg, n) == 0);
            free(c);
            free(back);
        }
        if (i == size) break;
    }
    sq_ws_pmd_free(z);
    sq_ws_pmd_free(tx);
    sq_ws_pmd_free(rx);
    return 0;
}
