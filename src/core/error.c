/* Error codes: messages and names from the one X-macro list in common.h. */
#include "squall/common.h"

const char *sq_strerror(int err) {
    switch (err) {
    case 0: return "success";
#define SQ__ERR_MSG(name, value, msg) case value: return msg;
    SQ_ERRNO_MAP(SQ__ERR_MSG)
#undef SQ__ERR_MSG
    default: {
        /* Any other libuv code: uv_strerror_r does not leak for unknown
         * codes as uv_strerror does. The buffer is per thread. */
        static _Thread_local char buf[96];
        if (err >= 0) return "unknown error";
        return uv_strerror_r(err, buf, sizeof buf);
    }
    }
}

const char *sq_err_name(int err) {
    switch (err) {
    case 0: return "OK";
#define SQ__ERR_NAME(name, value, msg) case value: return #name;
    SQ_ERRNO_MAP(SQ__ERR_NAME)
#undef SQ__ERR_NAME
    default: return "UNKNOWN";
    }
}
