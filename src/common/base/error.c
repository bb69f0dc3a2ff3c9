/* error.c - ride_set_error(), the one writer of (err, errlen) messages. It always
 * returns -1, so that failing functions end with `return ride_set_error(...)`. */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>

int ride_set_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}
