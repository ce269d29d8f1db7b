/* Growable byte buffers for squall's internals. Not part of the public API. */
#ifndef SQ_CORE_BUF_H
#define SQ_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct sq_buf {
    char *data;
    size_t len;
    size_t cap;
} sq_buf;

/* Makes room for extra more bytes; 0 or SQ_ENOMEM (the buffer is unchanged
 * on failure). Growth is geometric so appends are amortised O(1). */
int sq__buf_reserve(sq_buf *b, size_t extra);

/* Appends len bytes; 0 or SQ_ENOMEM. */
static inline int sq__buf_append(sq_buf *b, const void *p, size_t len) {
    if (b->cap - b->len < len) {
        int err = sq__buf_reserve(b, len);
        if (err) return err;
    }
    if (len) memcpy(b->data + b->len, p, len);
    b->len += len;
    return 0;
}

/* Releases the memory; the buffer is empty and reusable afterwards. */
void sq__buf_free(sq_buf *b);

/* Writes the decimal form of v at p (room for 20 bytes); returns its length. */
size_t sq__u64toa(uint64_t v, char *p);

#endif
