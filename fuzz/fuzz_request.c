/* libFuzzer target: the HTTP/1.1 parser reading requests (server side).
 *
 * Input: 4 bytes of settings (options, small limits, split point), then a
 * byte stream of pipelined requests. The stream is parsed whole, split in
 * two at the chosen offset, and byte by byte; the three transcripts must be
 * identical and every invariant in fuzz_http.h must hold; a first head the
 * parser accepts must also pass the reference grammar in fuzz_http.h. */
#include "fuzz_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    fz_cfg c;
    fz_config(&c, SQ_HTTP_REQUEST, data);
    size_t len = size - 4;
    fz_compare(&c, data + 4, len, (size_t)data[3] * (len + 1) / 256);
    fz_check_first_head(&c, data + 4, len);
    return 0;
}
