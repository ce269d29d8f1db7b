/* squall: what other squall modules (net, http) may use of the loop beyond
 * its public header. The loop's own private parts live in loop_impl.h. */
#ifndef SQUALL_LOOP_INTERNAL_H
#define SQUALL_LOOP_INTERNAL_H

#include "squall/loop.h"

/* The sq_loop that owns a libuv loop (uv_loop_t.data points to it). Use it
 * to get from any libuv handle back to squall: sq__loop_from_uv(h->loop). */
sq_loop *sq__loop_from_uv(uv_loop_t *uv);

/* The loop's shared read buffer: 64 KiB, allocated on first use and freed
 * when the loop closes, for uv_read_start alloc callbacks. Reads are
 * processed synchronously in the read callback, so one buffer serves every
 * stream on the loop: whatever must outlive the callback is copied out.
 * Stores the size in *size and returns the buffer, or NULL (and *size = 0)
 * when out of memory, which libuv reports to the read callback as UV_ENOBUFS. */
char *sq__loop_readbuf(sq_loop *loop, size_t *size);

#endif
