/* parse.c - the "file:line:column: message" errors and key/value lookups that
 * manifests and daemon configs share (base/parse.h). Line 0 means the error is
 * about the whole input and prints without a position. */
#include "base/parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ride_parse_fail(ride_parse_error *err, const char *file, ride_pos pos, const char *fmt, ...)
{
    if (!err)
        return -1;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = pos.line;
    err->column = pos.column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

const char *ride_parse_error_format(const ride_parse_error *err, char *buf, size_t len)
{
    if (!len)
        return buf;
    if (err->line > 0)
        snprintf(buf, len, "%s:%d:%d: %s", err->file, err->line, err->column, err->message);
    else
        snprintf(buf, len, "%s: %s", err->file, err->message);
    return buf;
}

const ride_kv *ride_kv_find(const ride_kv *kv, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(kv[i].key, key) == 0)
            return &kv[i];
    }
    return NULL;
}
