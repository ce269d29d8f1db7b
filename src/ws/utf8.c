/* Incremental UTF-8 validation (RFC 3629), failing at the first byte that
 * can no longer be part of valid UTF-8.
 *
 * A small deterministic automaton: every byte falls into one of twelve
 * classes, and a state says what the rest of the current character must
 * look like. The states that follow the lead bytes E0, ED, F0 and F4 exist
 * so that overlong forms, surrogates (U+D800-DFFF) and code points above
 * U+10FFFF are refused at their second byte, the first one that gives them
 * away, which is what "fail fast" (Autobahn case 6.x) requires. Runs of
 * ASCII between characters are skipped 8 bytes at a time. */
#include <string.h>

#include "squall/ws_codec.h"

/* Byte classes. */
enum {
    C_ASCII,   /* 00-7F */
    C_80,      /* 80-8F continuation */
    C_90,      /* 90-9F continuation */
    C_A0,      /* A0-BF continuation */
    C_BAD,     /* C0, C1, F5-FF: never in UTF-8 */
    C_L2,      /* C2-DF: lead of 2 */
    C_E0,      /* E0: lead of 3, second byte A0-BF (no overlong) */
    C_L3,      /* E1-EC, EE-EF: lead of 3 */
    C_ED,      /* ED: lead of 3, second byte 80-9F (no surrogate) */
    C_F0,      /* F0: lead of 4, second byte 90-BF (no overlong) */
    C_L4,      /* F1-F3: lead of 4 */
    C_F4,      /* F4: lead of 4, second byte 80-8F (at most U+10FFFF) */
};

static const uint8_t byte_class[256] = {
    [0x00 ... 0x7f] = C_ASCII, [0x80 ... 0x8f] = C_80, [0x90 ... 0x9f] = C_90,
    [0xa0 ... 0xbf] = C_A0,    [0xc0 ... 0xc1] = C_BAD, [0xc2 ... 0xdf] = C_L2,
    [0xe0] = C_E0,             [0xe1 ... 0xec] = C_L3, [0xed] = C_ED,
    [0xee ... 0xef] = C_L3,    [0xf0] = C_F0,           [0xf1 ... 0xf3] = C_L4,
    [0xf4] = C_F4,             [0xf5 ... 0xff] = C_BAD,
};

/* States: S_OK is the boundary between characters (and must be 0, the
 * public initial state); S_N1..S_N3 expect that many plain continuation
 * bytes; the others expect a restricted second byte. R rejects. */
enum { S_OK, S_N1, S_N2, S_N3, S_E0, S_ED, S_F0, S_F4, R };

static const uint8_t next_state[8][12] = {
    /*          ASCII 80   90   A0   BAD  L2    E0    L3    ED    F0    L4    F4 */
    [S_OK] = {S_OK, R,    R,    R,    R, S_N1, S_E0, S_N2, S_ED, S_F0, S_N3, S_F4},
    [S_N1] = {R,    S_OK, S_OK, S_OK, R, R,    R,    R,    R,    R,    R,    R},
    [S_N2] = {R,    S_N1, S_N1, S_N1, R, R,    R,    R,    R,    R,    R,    R},
    [S_N3] = {R,    S_N2, S_N2, S_N2, R, R,    R,    R,    R,    R,    R,    R},
    [S_E0] = {R,    R,    R,    S_N1, R, R,    R,    R,    R,    R,    R,    R},
    [S_ED] = {R,    S_N1, S_N1, R,    R, R,    R,    R,    R,    R,    R,    R},
    [S_F0] = {R,    R,    S_N2, S_N2, R, R,    R,    R,    R,    R,    R,    R},
    [S_F4] = {R,    S_N2, R,    R,    R, R,    R,    R,    R,    R,    R,    R},
};

size_t sq_utf8_scan(sq_utf8_state *state, const void *data, size_t len) {
    const uint8_t *p = data;
    uint32_t s = *state;
    size_t i = 0;
    if (s >= R) return 0; /* a state no scan ever leaves behind */
    while (i < len) {
        if (s == S_OK) {
            /* Between characters: skip ASCII, 8 bytes at a time. */
            while (len - i >= 8) {
                uint64_t v;
                memcpy(&v, p + i, 8);
                if (v & 0x8080808080808080ull) break;
                i += 8;
            }
            while (i < len && p[i] < 0x80) i++;
            if (i == len) break;
        }
        uint32_t n = next_state[s][byte_class[p[i]]];
        if (n == R) {
            *state = s;
            return i;
        }
        s = n;
        i++;
    }
    *state = s;
    return len;
}

bool sq_utf8_valid(const void *p, size_t len) {
    sq_utf8_state s = 0;
    return sq_utf8_scan(&s, p, len) == len && s == 0;
}
