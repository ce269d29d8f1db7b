#include "core/buf.h"

#include <stdlib.h>

#include "squall/common.h"

int sq__buf_reserve(sq_buf *b, size_t extra) {
    if (b->cap - b->len >= extra) return 0;
    if (extra > SIZE_MAX / 2 - b->len) return SQ_ENOMEM;
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return SQ_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void sq__buf_free(sq_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

size_t sq__u64toa(uint64_t v, char *p) {
    /* Short numbers (most Content-Lengths) without a loop. */
    if (v < 10) {
        p[0] = (char)('0' + v);
        return 1;
    }
    if (v < 100) {
        p[0] = (char)('0' + v / 10);
        p[1] = (char)('0' + v % 10);
        return 2;
    }
    /* Count the digits first, then fill from the end: no reversal. */
    size_t n = 1;
    for (uint64_t t = v; t >= 10; t /= 10) n++;
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return n;
}
