/* parse.c - the "file:line:column: message" errors and key/value lookups that
 * manifests and daemon configs share, and the one strict integer parser. Line 0
 * means an error is about the whole input; strtoll is only trusted after the
 * text has been checked to be sign and digits (alone it skips spaces). */
#include "base/parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

static bool is_sign_allowed(char c, unsigned signs)
{
    return (c == '-' && (signs & RIDE_PARSE_MINUS)) || (c == '+' && (signs & RIDE_PARSE_PLUS));
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

bool ride_parse_int64(const char *s, unsigned signs, int64_t min, int64_t max, int64_t *out)
{
    if (!all_digits(is_sign_allowed(s[0], signs) ? s + 1 : s))
        return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return false;
    *out = (int64_t)v;
    return true;
}
