/* base/parse.h - what manifests, daemon configs and command lines share: source
 * positions, compiler-style parse errors, ordered key/value lists and the strict
 * integer parser.
 *
 * An error prints as "file:line:column: message", e.g.
 *   app.yaml:12:7: spec.stages[1].partitions: expected an integer in 1..4096, got "0"
 * Daemons and ridectl print it verbatim. */
#ifndef RIDE_PARSE_H
#define RIDE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A position in a text file, both 1-based; line 0 means "no position". */
typedef struct ride_pos {
    int line;
    int column;
} ride_pos;

typedef struct ride_parse_error {
    char file[256];    /* the name given to the parser (a path or, e.g., "<api>") */
    int line;          /* 1-based; 0 when the error is about the whole input */
    int column;        /* 1-based */
    char message[512]; /* no trailing newline */
} ride_parse_error;

/* Fills err (when not NULL) and returns -1, so that a failing check can be
 * written `return ride_parse_fail(...)`. file may be NULL. */
int ride_parse_fail(ride_parse_error *err, const char *file, ride_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "file:line:column: message", or "file: message" without a position, into buf;
 * returns buf. Truncates to fit. */
const char *ride_parse_error_format(const ride_parse_error *err, char *buf, size_t len);

/* One entry of a YAML mapping of scalars (labels, task params, Kafka properties),
 * kept as the exact text written and in file order. */
typedef struct ride_kv {
    const char *key;
    const char *value;
    ride_pos key_pos;
    ride_pos value_pos;
} ride_kv;

/* The entry with this key, or NULL. */
const ride_kv *ride_kv_find(const ride_kv *kv, size_t count, const char *key);

/* The signs ride_parse_int64 accepts in front of the digits; without either,
 * none. Callers differ on purpose: task parameters and command-line options take
 * "-5" but not "+5", YAML takes both, ridectl's counts take neither. */
enum {
    RIDE_PARSE_MINUS = 1 << 0,
    RIDE_PARSE_PLUS = 1 << 1,
};

/* A decimal integer in min..max that is the whole of s: an optional sign (as
 * `signs` allows), then one or more digits, nothing else (no spaces, no "0x").
 * Leading zeros are fine. False, *out untouched, for anything else, an
 * overflow included. */
bool ride_parse_int64(const char *s, unsigned signs, int64_t min, int64_t max, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif
