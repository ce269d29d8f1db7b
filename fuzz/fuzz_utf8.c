/* libFuzzer target: the incremental UTF-8 validator.
 *
 * Input: 1 byte choosing a split point (as a fraction of the rest), then the
 * text. The validator's verdict, its failing position and its final state
 * are compared with a reference written independently from RFC 3629's table
 * (decode each character, then check its range), fed whole and split in two.
 */
#include <assert.h>
#include <string.h>

#include "squall/ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns the index of the first byte at which p[0, n) stops being a prefix
 * of valid UTF-8, or n; *complete tells whether it ends on a boundary. */
static size_t ref(const uint8_t *p, size_t n, bool *complete) {
    size_t i = 0;
    *complete = true;
    while (i < n) {
        uint8_t c = p[i];
        size_t need;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        /* The lead byte alone already rules some out: C0, C1, F5-F7. */
        if (need == 1 && cp < 2) return i;
        if (need == 3 && cp > 4) return i;
        for (size_t k = 1; k <= need; k++) {
            if (i + k == n) {
                *complete = false;
                return n;
            }
            uint8_t cc = p[i + k];
            if ((cc & 0xc0) != 0x80) return i + k;
            cp = cp << 6 | (cc & 0x3f);
            /* With k of need continuation bytes known, the smallest and
             * largest values still possible: */
            unsigned rest = 6 * (unsigned)(need - k);
            uint32_t lo = cp << rest, hi = lo | ((1u << rest) - 1);
            if (hi < min || lo > 0x10ffff || (lo >= 0xd800 && hi <= 0xdfff)) return i + k;
        }
        i += need + 1;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t n = size - 1;
    const uint8_t *p = data + 1;
    size_t split = n ? (size_t)data[0] * n / 255 : 0;
    bool complete;
    size_t want = ref(p, n, &complete);

    sq_utf8_state s = 0;
    size_t got = sq_utf8_scan(&s, p, n);
    assert(got == want);
    if (got == n) assert((s == 0) == complete);
    assert(sq_utf8_valid(p, n) == (want == n && complete));

    s = 0;
    size_t r1 = sq_utf8_scan(&s, p, split), pos;
    if (r1 < split) {
        pos = r1;
    } else {
        pos = split + sq_utf8_scan(&s, p + split, n - split);
    }
    assert(pos == want);
    if (pos == n) assert((s == 0) == complete);
    return 0;
}
