/* yaml_schema.h - internal: loads one YAML document with libyaml and checks it
 * against a schema written in C (manifest.c, config.c).
 *
 * Every check reports the first problem as a ride_parse_error at the offending
 * node, prefixed with the node's path ("spec.stages[1].partitions: ..."), so that
 * the type, range, unknown-key and duplicate-key rules read the same everywhere.
 *
 * Typing is strict and YAML 1.2-like: integers are plain decimal scalars, booleans
 * are plain true/false, null is a plain empty value, ~ or null, and a quoted
 * scalar is always a string. Anchors, aliases, tags and multi-document streams
 * are rejected: a value shared between places would make "the error is at
 * line:column" ambiguous, and aliases allow exponential expansion. */
#ifndef RIDE_YAML_SCHEMA_H
#define RIDE_YAML_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "base/arena.h"
#include "base/parse.h"

/* Largest input accepted, in bytes. */
#define RIDE_YAML_MAX_BYTES (1u << 20)
/* Deepest nesting of sequences and mappings accepted. */
#define RIDE_YAML_MAX_DEPTH 32
/* Room for a node path such as "spec.stages[12].resources.threads". */
#define RIDE_YAML_PATH_MAX 256

typedef struct ride_yaml {
    yaml_document_t doc;
    bool loaded;
    const char *file; /* name used in messages */
    const char *what; /* names the whole input in messages: "manifest", ... */
    ride_arena *arena; /* owns every string and array copied out of the document */
    ride_parse_error *err;
} ride_yaml;

/* Reads a whole file of at most RIDE_YAML_MAX_BYTES into *buf (malloc'd, caller
 * frees). Works for pipes too. */
int ride_yaml_read_file(const char *path, char **buf, size_t *len, ride_parse_error *err);

/* Parses buf as exactly one non-empty YAML document. On failure err is set and
 * nothing needs closing. */
int ride_yaml_open(ride_yaml *y, const char *file, const char *what, const void *buf, size_t len,
                   ride_arena *arena, ride_parse_error *err);
void ride_yaml_close(ride_yaml *y);
yaml_node_t *ride_yaml_root(ride_yaml *y);

ride_pos ride_yaml_pos(const yaml_node_t *node);
/* Sets the error "path: message" (or "message" when path is empty) at pos; returns -1. */
int ride_yaml_fail(ride_yaml *y, ride_pos pos, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Error for a node of the wrong type or value: "path: expected E, got D" where D
 * describes the node ("a mapping", "null", "\"six\"", ...). */
int ride_yaml_fail_expected(ride_yaml *y, const yaml_node_t *node, const char *path,
                            const char *expected);

/* "parent.key" / "parent[index]" into buf; returns buf. */
const char *ride_yaml_path_key(char *buf, size_t len, const char *parent, const char *key);
const char *ride_yaml_path_index(char *buf, size_t len, const char *parent, size_t index);

/* Zeroed arena memory for n elements of size bytes; sets "out of memory". */
void *ride_yaml_alloc(ride_yaml *y, size_t n, size_t size);
/* NUL-terminated arena copy of the first len bytes of s. */
char *ride_yaml_strndup(ride_yaml *y, const char *s, size_t len);

bool ride_yaml_is_null(const yaml_node_t *node);
/* The text of a scalar node; NULL for other nodes. */
const char *ride_yaml_text(const yaml_node_t *node, size_t *len);
/* The scalar's text equals s (a scalar with an embedded NUL never does). */
bool ride_yaml_text_is(const yaml_node_t *node, const char *s);

/* Flags of string values. */
enum {
    RIDE_YAML_REQUIRED = 1u << 0, /* a missing key is an error */
    RIDE_YAML_MAY_BE_EMPTY = 1u << 1,
    RIDE_YAML_MULTILINE = 1u << 2, /* line breaks and tabs allowed (PEM certificates) */
};

/* A non-null scalar of at most max_len bytes, NUL-free and, unless
 * RIDE_YAML_MULTILINE, free of control characters; copied into the arena. */
int ride_yaml_string(ride_yaml *y, const yaml_node_t *node, const char *path, unsigned flags,
                     size_t max_len, const char **out);
int ride_yaml_int(ride_yaml *y, const yaml_node_t *node, const char *path, int64_t min, int64_t max,
                  int64_t *out);
/* A sequence of min_items..max_items items; *count receives the length. */
int ride_yaml_seq(ride_yaml *y, const yaml_node_t *node, const char *path, size_t min_items,
                  size_t max_items, size_t *count);
yaml_node_t *ride_yaml_seq_item(ride_yaml *y, const yaml_node_t *seq, size_t index);

/* A mapping whose keys were checked: strings, no duplicates and, when `keys` (a
 * NULL-terminated list) is given, each one of `keys`. A map with no node stands
 * for an absent optional section: every lookup finds nothing. */
typedef struct ride_yaml_map {
    const yaml_node_t *node;
    char path[RIDE_YAML_PATH_MAX];
} ride_yaml_map;

int ride_yaml_map_open(ride_yaml *y, const yaml_node_t *node, const char *path,
                       const char *const *keys, ride_yaml_map *map);
/* The optional mapping under key in parent, opened as above; an absent key gives
 * the empty stand-in, so that the section's values all take their defaults. */
int ride_yaml_map_open_key(ride_yaml *y, const ride_yaml_map *parent, const char *key,
                           const char *const *keys, ride_yaml_map *map);
/* Sets the error at the value of key in map, with the value's path; returns -1. */
int ride_yaml_fail_key(ride_yaml *y, const ride_yaml_map *map, const char *key, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
/* The value of key, or NULL when the key is absent. */
yaml_node_t *ride_yaml_map_get(ride_yaml *y, const ride_yaml_map *map, const char *key);
/* The value of key; a missing key is the error "path: missing required key 'key'". */
int ride_yaml_map_require(ride_yaml *y, const ride_yaml_map *map, const char *key,
                          yaml_node_t **out);

/* Typed values of a mapping's keys. An absent optional key leaves *out as it is
 * (the caller's default); the value's path is "map.path.key". */
int ride_yaml_get_string(ride_yaml *y, const ride_yaml_map *map, const char *key, unsigned flags,
                         size_t max_len, const char **out);
int ride_yaml_get_int(ride_yaml *y, const ride_yaml_map *map, const char *key, int min, int max,
                      int *out);
int ride_yaml_get_i64(ride_yaml *y, const ride_yaml_map *map, const char *key, int64_t min,
                      int64_t max, int64_t *out);
/* A number (integer or decimal fraction) in (above, max]. */
int ride_yaml_get_number(ride_yaml *y, const ride_yaml_map *map, const char *key, double above,
                         double max, double *out);
int ride_yaml_get_bool(ride_yaml *y, const ride_yaml_map *map, const char *key, bool *out);
/* One of the NULL-terminated names; *out receives its index. */
int ride_yaml_get_enum(ride_yaml *y, const ride_yaml_map *map, const char *key,
                       const char *const *names, int *out);

/* Limits of a mapping of scalars kept as ride_kv entries. */
typedef struct ride_yaml_kv_rules {
    size_t max_entries;
    size_t key_max;
    size_t value_max;
    unsigned value_flags; /* RIDE_YAML_MAY_BE_EMPTY, RIDE_YAML_MULTILINE */
} ride_yaml_kv_rules;

/* Labels and selectors: up to 256 entries, keys up to 253 bytes, values up to 1024. */
extern const ride_yaml_kv_rules ride_yaml_label_rules;

/* A mapping of scalar values into file-ordered entries with their positions;
 * values keep their exact text (numbers and booleans as written). */
int ride_yaml_kv(ride_yaml *y, const yaml_node_t *node, const char *path,
                 const ride_yaml_kv_rules *rules, ride_kv **out, size_t *count);
int ride_yaml_get_kv(ride_yaml *y, const ride_yaml_map *map, const char *key,
                     const ride_yaml_kv_rules *rules, ride_kv **out, size_t *count);

#endif
