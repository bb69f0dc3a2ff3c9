/* base/error.h - error messages into caller-provided buffers.
 *
 * RIDE's functions that can fail take (char *err, size_t errlen) and write one line
 * saying what went wrong; err may be NULL when the caller does not want it. */
#ifndef RIDE_ERROR_H
#define RIDE_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Formats the message into err (truncating to errlen) when err is not NULL.
 * Returns -1, so that a failing function can end with `return ride_set_error(...)`. */
int ride_set_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
