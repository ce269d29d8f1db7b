/* squall: common definitions shared by every public header.
 *
 * Errors are negative integers; 0 means success. libuv's codes are reused
 * where they fit (SQ_EAGAIN == UV_EAGAIN and so on) so that a libuv error
 * can be returned unchanged. squall's own codes live below -4200, out of
 * libuv's range. A call that fails never calls its callback.
 *
 * Threading rule: nothing in squall is thread-safe except the functions
 * whose comment says so (sq_loop_call_threadsafe and its friends).
 */
#ifndef SQUALL_COMMON_H
#define SQUALL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#if defined(SQ_BUILDING) && defined(__GNUC__)
#define SQ_EXTERN __attribute__((visibility("default")))
#else
#define SQ_EXTERN /* nothing */
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The error list: X(name, value, message). libuv's codes come first. */
#define SQ_ERRNO_MAP(X)                                                        \
    X(EOF, UV_EOF, "end of file")                                              \
    X(EAGAIN, UV_EAGAIN, "resource temporarily unavailable")                   \
    X(EINVAL, UV_EINVAL, "invalid argument")                                   \
    X(ENOMEM, UV_ENOMEM, "not enough memory")                                  \
    X(EBUSY, UV_EBUSY, "resource busy or locked")                              \
    X(ECANCELED, UV_ECANCELED, "operation canceled")                           \
    X(ETIMEDOUT, UV_ETIMEDOUT, "timed out")                                    \
    X(ECONNRESET, UV_ECONNRESET, "connection reset by peer")                   \
    X(EPIPE, UV_EPIPE, "broken pipe")                                          \
    X(ENOTCONN, UV_ENOTCONN, "not connected")                                  \
    X(EADDRINUSE, UV_EADDRINUSE, "address already in use")                     \
    X(EMFILE, UV_EMFILE, "too many open files")                                \
    X(ENOSPC, UV_ENOSPC, "no space left")                                      \
    X(E2BIG, UV_E2BIG, "argument list too long")                               \
    X(EALREADY, UV_EALREADY, "operation already in progress")                  \
    X(ENOENT, UV_ENOENT, "no such file or directory")                          \
    X(ENOSYS, UV_ENOSYS, "function not implemented")                           \
    X(INCOMPLETE, -4201, "more input is needed")                               \
    X(ECLOSED, -4202, "object is closing or closed")                            \
    X(ELIMIT, -4203, "a configured limit was exceeded")                         \
    X(EPROTO, -4204, "protocol error")                                          \
    X(ESTATE, -4205, "operation not allowed in the current state")              \
    X(EHEADER, -4206, "header name or value not allowed")                       \
    X(EPENDING, -4207, "the result is not available yet")

enum {
#define SQ__ERR_ENUM(name, value, msg) SQ_##name = value,
    SQ_ERRNO_MAP(SQ__ERR_ENUM)
#undef SQ__ERR_ENUM
    SQ_OK = 0
};

/* Transitional spellings used while the parser lands; use SQ_ELIMIT and
 * SQ_EPROTO. */
#define SQ_LIMIT SQ_ELIMIT
#define SQ_PROTO SQ_EPROTO

/* The message for an error code ("unknown error" for a code not in the
 * list). The returned string is static: never free it. */
SQ_EXTERN const char *sq_strerror(int err);

/* The symbolic name of an error code without the SQ_ prefix ("EINVAL",
 * "LIMIT"), or "UNKNOWN". The returned string is static. */
SQ_EXTERN const char *sq_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
