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
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return n;
}
