/* yaml_schema.c - loads a YAML document and checks it node by node for manifest.c
 * and config.c (spec/yaml_schema.h). A libyaml event pass first rejects what the
 * document API would hide (aliases, anchors, tags, extra documents). */
#include "spec/yaml_schema.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---------------------------------------------------------------- */

/* No structure parsed from a 1 MiB document needs more; larger requests are bugs. */
#define ALLOC_MAX ((size_t)64 << 20)

void *ride_yaml_alloc(ride_yaml *y, size_t n, size_t size)
{
    void *p = NULL;
    if (size == 0 || n <= ALLOC_MAX / size)
        p = ride_arena_array(y->arena, n, size);
    if (!p)
        ride_yaml_fail(y, (ride_pos){0, 0}, "", "out of memory");
    return p;
}

char *ride_yaml_strndup(ride_yaml *y, const char *s, size_t len)
{
    char *copy = ride_yaml_alloc(y, len + 1, 1);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

/* ---- errors and paths ----------------------------------------------------- */

static ride_pos mark_pos(yaml_mark_t mark)
{
    /* Inputs are at most RIDE_YAML_MAX_BYTES, so lines and columns fit an int. */
    return (ride_pos){(int)mark.line + 1, (int)mark.column + 1};
}

ride_pos ride_yaml_pos(const yaml_node_t *node)
{
    return node ? mark_pos(node->start_mark) : (ride_pos){0, 0};
}

int ride_yaml_fail(ride_yaml *y, ride_pos pos, const char *path, const char *fmt, ...)
{
    char message[sizeof y->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (path && path[0])
        return ride_parse_fail(y->err, y->file, pos, "%s: %s", path, message);
    return ride_parse_fail(y->err, y->file, pos, "%s", message);
}

const char *ride_yaml_path_key(char *buf, size_t len, const char *parent, const char *key)
{
    snprintf(buf, len, "%s%s%s", parent, parent[0] ? "." : "", key);
    return buf;
}

const char *ride_yaml_path_index(char *buf, size_t len, const char *parent, size_t index)
{
    snprintf(buf, len, "%s[%zu]", parent, index);
    return buf;
}

/* Copies text for a message: quotes and backslashes escaped, control bytes as
 * \xHH, cut after max bytes (never inside a UTF-8 sequence) with "..." appended. */
static const char *escape_text(const char *s, size_t n, size_t max, char *buf, size_t len)
{
    size_t cut = n;
    if (n > max) {
        cut = max;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    size_t o = 0;
    for (size_t i = 0; i < cut && o + 5 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, len - o, "\\x%02X", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    if (cut < n && o + 4 < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static const char *describe(const yaml_node_t *node, char *buf, size_t len)
{
    if (!node)
        snprintf(buf, len, "nothing");
    else if (node->type == YAML_MAPPING_NODE)
        snprintf(buf, len, "a mapping");
    else if (node->type == YAML_SEQUENCE_NODE)
        snprintf(buf, len, "a sequence");
    else if (ride_yaml_is_null(node))
        snprintf(buf, len, "null");
    else {
        char text[200];
        escape_text((const char *)node->data.scalar.value, node->data.scalar.length, 60, text,
                    sizeof text);
        bool quoted = node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        snprintf(buf, len, "%s\"%s\"", quoted ? "a quoted string " : "", text);
    }
    return buf;
}

int ride_yaml_fail_expected(ride_yaml *y, const yaml_node_t *node, const char *path,
                            const char *expected)
{
    char got[256];
    describe(node, got, sizeof got);
    if (path[0])
        return ride_yaml_fail(y, ride_yaml_pos(node), path, "expected %s, got %s", expected, got);
    return ride_yaml_fail(y, ride_yaml_pos(node), "", "top level of %s: expected %s, got %s",
                          y->what, expected, got);
}

/* ---- loading -------------------------------------------------------------- */

/* libyaml gives a byte offset, not a mark, for invalid UTF-8. */
static ride_pos offset_pos(const unsigned char *buf, size_t len, size_t offset)
{
    ride_pos pos = {1, 1};
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            pos.line++;
            pos.column = 1;
        } else if ((buf[i] & 0xC0) != 0x80) {
            pos.column++;
        }
    }
    return pos;
}

static int syntax_error(ride_yaml *y, const yaml_parser_t *p, const unsigned char *buf, size_t len)
{
    const char *problem = p->problem ? p->problem : "syntax error";
    if (p->error == YAML_MEMORY_ERROR)
        return ride_yaml_fail(y, (ride_pos){0, 0}, "", "out of memory");
    if (p->error == YAML_READER_ERROR)
        return ride_yaml_fail(y, offset_pos(buf, len, p->problem_offset), "", "invalid YAML: %s",
                              problem);
    if (p->context) {
        ride_pos ctx = mark_pos(p->context_mark);
        return ride_yaml_fail(y, mark_pos(p->problem_mark), "",
                              "invalid YAML: %s (%s at line %d, column %d)", problem, p->context,
                              ctx.line, ctx.column);
    }
    return ride_yaml_fail(y, mark_pos(p->problem_mark), "", "invalid YAML: %s", problem);
}

static int check_node_event(ride_yaml *y, const yaml_event_t *ev, const yaml_char_t *anchor,
                            const yaml_char_t *tag)
{
    ride_pos pos = mark_pos(ev->start_mark);
    if (anchor)
        return ride_yaml_fail(y, pos, "", "anchors and aliases are not supported (&%s)",
                              (const char *)anchor);
    if (tag)
        return ride_yaml_fail(y, pos, "", "tags are not supported (%s)", (const char *)tag);
    return 0;
}

static int check_event(ride_yaml *y, const yaml_event_t *ev, int *documents, int *depth)
{
    ride_pos pos = mark_pos(ev->start_mark);
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*documents > 1)
            return ride_yaml_fail(
                y, pos, "", "a second YAML document starts here; %s must be one document", y->what);
        return 0;
    case YAML_ALIAS_EVENT:
        return ride_yaml_fail(y, pos, "", "anchors and aliases are not supported (*%s)",
                              (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return check_node_event(y, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        const yaml_char_t *anchor = ev->type == YAML_SEQUENCE_START_EVENT
                                        ? ev->data.sequence_start.anchor
                                        : ev->data.mapping_start.anchor;
        const yaml_char_t *tag = ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.tag
                                                                       : ev->data.mapping_start.tag;
        if (++*depth > RIDE_YAML_MAX_DEPTH)
            return ride_yaml_fail(y, pos, "", "nested deeper than %d levels", RIDE_YAML_MAX_DEPTH);
        return check_node_event(y, ev, anchor, tag);
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        --*depth;
        return 0;
    default:
        return 0;
    }
}

/* A pass over the events finds what the document API cannot show: aliases
 * (resolved into shared nodes), anchors, explicit tags and extra documents. */
static int prescan(ride_yaml *y, const unsigned char *buf, size_t len)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return ride_yaml_fail(y, (ride_pos){0, 0}, "", "out of memory");
    yaml_parser_set_input_string(&p, buf, len);
    int documents = 0, depth = 0, rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(y, &p, buf, len);
            break;
        }
        rc = check_event(y, &ev, &documents, &depth);
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (rc || end)
            break;
    }
    yaml_parser_delete(&p);
    if (!rc && documents == 0)
        rc = ride_yaml_fail(y, (ride_pos){1, 1}, "", "%s is empty", y->what);
    return rc;
}

int ride_yaml_read_file(const char *path, char **buf, size_t *len, ride_parse_error *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ride_parse_fail(err, path, (ride_pos){0, 0}, "cannot open: %s", strerror(errno));
    char *data = malloc(RIDE_YAML_MAX_BYTES + 1);
    if (!data) {
        fclose(f);
        return ride_parse_fail(err, path, (ride_pos){0, 0}, "out of memory");
    }
    size_t n = fread(data, 1, RIDE_YAML_MAX_BYTES + 1, f);
    int read_errno = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (read_errno || n > RIDE_YAML_MAX_BYTES) {
        free(data);
        if (read_errno)
            return ride_parse_fail(err, path, (ride_pos){0, 0}, "cannot read: %s",
                                   strerror(read_errno));
        return ride_parse_fail(err, path, (ride_pos){0, 0}, "larger than %u bytes",
                               RIDE_YAML_MAX_BYTES);
    }
    *buf = data;
    *len = n;
    return 0;
}

int ride_yaml_open(ride_yaml *y, const char *file, const char *what, const void *buf, size_t len,
                   ride_arena *arena, ride_parse_error *err)
{
    memset(y, 0, sizeof *y);
    y->file = file;
    y->what = what;
    y->arena = arena;
    y->err = err;
    if (len > RIDE_YAML_MAX_BYTES)
        return ride_yaml_fail(y, (ride_pos){0, 0}, "", "larger than %u bytes", RIDE_YAML_MAX_BYTES);
    const unsigned char *text = len ? (const unsigned char *)buf : (const unsigned char *)"";
    if (prescan(y, text, len))
        return -1;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return ride_yaml_fail(y, (ride_pos){0, 0}, "", "out of memory");
    yaml_parser_set_input_string(&p, text, len);
    int loaded = yaml_parser_load(&p, &y->doc);
    if (!loaded)
        syntax_error(y, &p, text, len);
    yaml_parser_delete(&p);
    if (!loaded)
        return -1;
    y->loaded = true;
    yaml_node_t *root = ride_yaml_root(y);
    if (!root || ride_yaml_is_null(root)) {
        ride_pos pos = root ? ride_yaml_pos(root) : (ride_pos){1, 1};
        ride_yaml_close(y);
        return ride_yaml_fail(y, pos, "", "%s is empty", what);
    }
    return 0;
}

void ride_yaml_close(ride_yaml *y)
{
    if (y->loaded)
        yaml_document_delete(&y->doc);
    y->loaded = false;
}

yaml_node_t *ride_yaml_root(ride_yaml *y) { return yaml_document_get_root_node(&y->doc); }

/* ---- scalars -------------------------------------------------------------- */

const char *ride_yaml_text(const yaml_node_t *node, size_t *len)
{
    if (!node || node->type != YAML_SCALAR_NODE)
        return NULL;
    if (len)
        *len = node->data.scalar.length;
    return (const char *)node->data.scalar.value;
}

bool ride_yaml_text_is(const yaml_node_t *node, const char *s)
{
    size_t len;
    const char *text = ride_yaml_text(node, &len);
    return text && len == strlen(s) && memcmp(text, s, len) == 0;
}

static bool is_plain(const yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE &&
           node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool ride_yaml_is_null(const yaml_node_t *node)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (!is_plain(node))
        return false;
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++) {
        if (ride_yaml_text_is(node, nulls[i]))
            return true;
    }
    return false;
}

static int scalar_string(ride_yaml *y, const yaml_node_t *node, const char *path, unsigned flags,
                         size_t max_len, const char *expected, const char **out)
{
    size_t len;
    const char *text = ride_yaml_text(node, &len);
    if (!text || ride_yaml_is_null(node))
        return ride_yaml_fail_expected(y, node, path, expected);
    ride_pos pos = ride_yaml_pos(node);
    if (len == 0 && !(flags & RIDE_YAML_MAY_BE_EMPTY))
        return ride_yaml_fail(y, pos, path, "must not be empty");
    if (len > max_len)
        return ride_yaml_fail(y, pos, path, "longer than %zu bytes", max_len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == 0)
            return ride_yaml_fail(y, pos, path, "must not contain NUL characters");
        bool layout = c == '\n' || c == '\r' || c == '\t';
        if ((c < 0x20 || c == 0x7f) && !(layout && (flags & RIDE_YAML_MULTILINE)))
            return ride_yaml_fail(y, pos, path, "must not contain control characters");
    }
    *out = ride_yaml_strndup(y, text, len);
    return *out ? 0 : -1;
}

int ride_yaml_string(ride_yaml *y, const yaml_node_t *node, const char *path, unsigned flags,
                     size_t max_len, const char **out)
{
    return scalar_string(y, node, path, flags, max_len, "a string", out);
}

/* libyaml refuses NUL in its input and terminates scalar text with one, so a
 * plain scalar's text is all of it. */
static bool parse_decimal_int(const yaml_node_t *node, int64_t min, int64_t max, int64_t *out)
{
    const char *text = ride_yaml_text(node, NULL);
    return text && is_plain(node) &&
           ride_parse_int64(text, RIDE_PARSE_MINUS | RIDE_PARSE_PLUS, min, max, out);
}

int ride_yaml_int(ride_yaml *y, const yaml_node_t *node, const char *path, int64_t min, int64_t max,
                  int64_t *out)
{
    if (parse_decimal_int(node, min, max, out))
        return 0;
    char expected[96];
    if (max == INT64_MAX)
        snprintf(expected, sizeof expected, "an integer >= %" PRId64, min);
    else
        snprintf(expected, sizeof expected, "an integer in %" PRId64 "..%" PRId64, min, max);
    return ride_yaml_fail_expected(y, node, path, expected);
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static size_t skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && is_digit(s[i]))
        i++;
    return i;
}

/* Decimal notation only: strtod alone would also take "inf", "nan" and hex. */
static bool parse_decimal_number(const yaml_node_t *node, double *out)
{
    size_t len;
    const char *text = ride_yaml_text(node, &len);
    if (!text || !is_plain(node))
        return false;
    size_t i = (len > 0 && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
    size_t int_end = skip_digits(text, i, len);
    size_t frac_digits = 0;
    size_t end = int_end;
    if (end < len && text[end] == '.') {
        size_t frac_end = skip_digits(text, end + 1, len);
        frac_digits = frac_end - end - 1;
        end = frac_end;
    }
    if (int_end == i && frac_digits == 0)
        return false;
    if (end < len && (text[end] == 'e' || text[end] == 'E')) {
        size_t exp = end + 1;
        if (exp < len && (text[exp] == '-' || text[exp] == '+'))
            exp++;
        size_t exp_end = skip_digits(text, exp, len);
        if (exp_end == exp)
            return false;
        end = exp_end;
    }
    if (end != len)
        return false;
    double v = strtod(text, NULL);
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

/* ---- sequences and mappings ----------------------------------------------- */

int ride_yaml_seq(ride_yaml *y, const yaml_node_t *node, const char *path, size_t min_items,
                  size_t max_items, size_t *count)
{
    if (!node || node->type != YAML_SEQUENCE_NODE)
        return ride_yaml_fail_expected(y, node, path, "a sequence");
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    ride_pos pos = ride_yaml_pos(node);
    if (n < min_items) {
        if (min_items == 1)
            return ride_yaml_fail(y, pos, path, "must not be empty");
        return ride_yaml_fail(y, pos, path, "expected at least %zu items, got %zu", min_items, n);
    }
    if (n > max_items)
        return ride_yaml_fail(y, pos, path, "more than %zu items", max_items);
    *count = n;
    return 0;
}

yaml_node_t *ride_yaml_seq_item(ride_yaml *y, const yaml_node_t *seq, size_t index)
{
    return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[index]);
}

static bool same_text(const yaml_node_t *a, const yaml_node_t *b)
{
    return a->data.scalar.length == b->data.scalar.length &&
           memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length) == 0;
}

static bool key_allowed(const yaml_node_t *key, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++) {
        if (ride_yaml_text_is(key, keys[i]))
            return true;
    }
    return false;
}

static int unknown_key(ride_yaml *y, const yaml_node_t *key, const char *path,
                       const char *const *keys)
{
    char name[200], list[320];
    escape_text((const char *)key->data.scalar.value, key->data.scalar.length, 60, name,
                sizeof name);
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; keys[i] && o < sizeof list; i++) {
        int n = snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", keys[i]);
        o += n > 0 ? (size_t)n : 0;
    }
    ride_pos pos = ride_yaml_pos(key);
    if (path[0])
        return ride_yaml_fail(y, pos, path, "unknown key '%s'; expected one of %s", name, list);
    return ride_yaml_fail(y, pos, "", "unknown key '%s' in %s; expected one of %s", name, y->what,
                          list);
}

static int check_key(ride_yaml *y, const yaml_node_t *key, const char *path)
{
    if (!key || key->type != YAML_SCALAR_NODE || ride_yaml_is_null(key))
        return ride_yaml_fail_expected(y, key, path, "a string key");
    return 0;
}

int ride_yaml_map_open(ride_yaml *y, const yaml_node_t *node, const char *path,
                       const char *const *keys, ride_yaml_map *map)
{
    if (!node || node->type != YAML_MAPPING_NODE)
        return ride_yaml_fail_expected(y, node, path, "a mapping");
    const yaml_node_pair_t *start = node->data.mapping.pairs.start;
    const yaml_node_pair_t *top = node->data.mapping.pairs.top;
    for (const yaml_node_pair_t *p = start; p < top; p++) {
        const yaml_node_t *key = yaml_document_get_node(&y->doc, p->key);
        if (check_key(y, key, path))
            return -1;
        if (keys && !key_allowed(key, keys))
            return unknown_key(y, key, path, keys);
        for (const yaml_node_pair_t *q = start; q < p; q++) {
            const yaml_node_t *earlier = yaml_document_get_node(&y->doc, q->key);
            if (same_text(key, earlier)) {
                char name[200];
                ride_pos first = ride_yaml_pos(earlier);
                escape_text((const char *)key->data.scalar.value, key->data.scalar.length, 60, name,
                            sizeof name);
                return ride_yaml_fail(y, ride_yaml_pos(key), path,
                                      "duplicate key '%s' (first at line %d, column %d)", name,
                                      first.line, first.column);
            }
        }
    }
    map->node = node;
    snprintf(map->path, sizeof map->path, "%s", path);
    return 0;
}

int ride_yaml_map_open_key(ride_yaml *y, const ride_yaml_map *parent, const char *key,
                           const char *const *keys, ride_yaml_map *map)
{
    char path[RIDE_YAML_PATH_MAX];
    ride_yaml_path_key(path, sizeof path, parent->path, key);
    yaml_node_t *node = ride_yaml_map_get(y, parent, key);
    if (node)
        return ride_yaml_map_open(y, node, path, keys, map);
    map->node = NULL;
    snprintf(map->path, sizeof map->path, "%s", path);
    return 0;
}

yaml_node_t *ride_yaml_map_get(ride_yaml *y, const ride_yaml_map *map, const char *key)
{
    if (!map->node)
        return NULL;
    const yaml_node_pair_t *top = map->node->data.mapping.pairs.top;
    for (const yaml_node_pair_t *p = map->node->data.mapping.pairs.start; p < top; p++) {
        if (ride_yaml_text_is(yaml_document_get_node(&y->doc, p->key), key))
            return yaml_document_get_node(&y->doc, p->value);
    }
    return NULL;
}

int ride_yaml_map_require(ride_yaml *y, const ride_yaml_map *map, const char *key,
                          yaml_node_t **out)
{
    *out = ride_yaml_map_get(y, map, key);
    if (*out)
        return 0;
    if (map->path[0])
        return ride_yaml_fail(y, ride_yaml_pos(map->node), map->path, "missing required key '%s'",
                              key);
    return ride_yaml_fail(y, ride_yaml_pos(map->node), "", "missing required key '%s' in %s", key,
                          y->what);
}

int ride_yaml_fail_key(ride_yaml *y, const ride_yaml_map *map, const char *key, const char *fmt,
                       ...)
{
    char path[RIDE_YAML_PATH_MAX], message[sizeof y->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return ride_yaml_fail(y, ride_yaml_pos(ride_yaml_map_get(y, map, key)),
                          ride_yaml_path_key(path, sizeof path, map->path, key), "%s", message);
}

int ride_yaml_get_string(ride_yaml *y, const ride_yaml_map *map, const char *key, unsigned flags,
                         size_t max_len, const char **out)
{
    yaml_node_t *v = ride_yaml_map_get(y, map, key);
    if (!v)
        return (flags & RIDE_YAML_REQUIRED) ? ride_yaml_map_require(y, map, key, &v) : 0;
    char path[RIDE_YAML_PATH_MAX];
    return ride_yaml_string(y, v, ride_yaml_path_key(path, sizeof path, map->path, key), flags,
                            max_len, out);
}

int ride_yaml_get_i64(ride_yaml *y, const ride_yaml_map *map, const char *key, int64_t min,
                      int64_t max, int64_t *out)
{
    yaml_node_t *v = ride_yaml_map_get(y, map, key);
    if (!v)
        return 0;
    char path[RIDE_YAML_PATH_MAX];
    return ride_yaml_int(y, v, ride_yaml_path_key(path, sizeof path, map->path, key), min, max,
                         out);
}

int ride_yaml_get_int(ride_yaml *y, const ride_yaml_map *map, const char *key, int min, int max,
                      int *out)
{
    int64_t v = *out;
    if (ride_yaml_get_i64(y, map, key, min, max, &v))
        return -1;
    *out = (int)v;
    return 0;
}

int ride_yaml_get_number(ride_yaml *y, const ride_yaml_map *map, const char *key, double above,
                         double max, double *out)
{
    yaml_node_t *v = ride_yaml_map_get(y, map, key);
    if (!v)
        return 0;
    double d;
    if (parse_decimal_number(v, &d) && d > above && d <= max) {
        *out = d;
        return 0;
    }
    char path[RIDE_YAML_PATH_MAX], expected[96];
    snprintf(expected, sizeof expected, "a number in (%g, %g]", above, max);
    return ride_yaml_fail_expected(y, v, ride_yaml_path_key(path, sizeof path, map->path, key),
                                   expected);
}

int ride_yaml_get_bool(ride_yaml *y, const ride_yaml_map *map, const char *key, bool *out)
{
    static const char *const truths[] = {"true", "True", "TRUE"};
    static const char *const falsehoods[] = {"false", "False", "FALSE"};
    yaml_node_t *v = ride_yaml_map_get(y, map, key);
    if (!v)
        return 0;
    for (size_t i = 0; is_plain(v) && i < sizeof truths / sizeof truths[0]; i++) {
        if (ride_yaml_text_is(v, truths[i]) || ride_yaml_text_is(v, falsehoods[i])) {
            *out = ride_yaml_text_is(v, truths[i]);
            return 0;
        }
    }
    char path[RIDE_YAML_PATH_MAX];
    return ride_yaml_fail_expected(y, v, ride_yaml_path_key(path, sizeof path, map->path, key),
                                   "true or false");
}

int ride_yaml_get_enum(ride_yaml *y, const ride_yaml_map *map, const char *key,
                       const char *const *names, int *out)
{
    yaml_node_t *v = ride_yaml_map_get(y, map, key);
    if (!v)
        return 0;
    for (int i = 0; names[i]; i++) {
        if (ride_yaml_text_is(v, names[i])) {
            *out = i;
            return 0;
        }
    }
    char path[RIDE_YAML_PATH_MAX], expected[200];
    size_t o = (size_t)snprintf(expected, sizeof expected, "one of");
    for (int i = 0; names[i] && o < sizeof expected; i++) {
        int n = snprintf(expected + o, sizeof expected - o, "%s %s", i ? "," : "", names[i]);
        o += n > 0 ? (size_t)n : 0;
    }
    return ride_yaml_fail_expected(y, v, ride_yaml_path_key(path, sizeof path, map->path, key),
                                   expected);
}

const ride_yaml_kv_rules ride_yaml_label_rules = {
    .max_entries = 256, .key_max = 253, .value_max = 1024, .value_flags = RIDE_YAML_MAY_BE_EMPTY};

int ride_yaml_kv(ride_yaml *y, const yaml_node_t *node, const char *path,
                 const ride_yaml_kv_rules *rules, ride_kv **out, size_t *count)
{
    /* Counted before the quadratic duplicate-key check. */
    if (node && node->type == YAML_MAPPING_NODE &&
        (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start) >
            rules->max_entries)
        return ride_yaml_fail(y, ride_yaml_pos(node), path, "more than %zu entries",
                              rules->max_entries);
    ride_yaml_map map;
    if (ride_yaml_map_open(y, node, path, NULL, &map))
        return -1;
    size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    ride_kv *kv = ride_yaml_alloc(y, n, sizeof *kv);
    if (!kv)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_pair_t *pair = &node->data.mapping.pairs.start[i];
        const yaml_node_t *key = yaml_document_get_node(&y->doc, pair->key);
        const yaml_node_t *value = yaml_document_get_node(&y->doc, pair->value);
        char child[RIDE_YAML_PATH_MAX];
        if (scalar_string(y, key, path, 0, rules->key_max, "a string key", &kv[i].key))
            return -1;
        ride_yaml_path_key(child, sizeof child, path, kv[i].key);
        if (scalar_string(y, value, child, rules->value_flags, rules->value_max, "a scalar value",
                          &kv[i].value))
            return -1;
        kv[i].key_pos = ride_yaml_pos(key);
        kv[i].value_pos = ride_yaml_pos(value);
    }
    *out = kv;
    *count = n;
    return 0;
}

int ride_yaml_get_kv(ride_yaml *y, const ride_yaml_map *map, const char *key,
                     const ride_yaml_kv_rules *rules, ride_kv **out, size_t *count)
{
    yaml_node_t *v = ride_yaml_map_get(y, map, key);
    if (!v)
        return 0;
    char path[RIDE_YAML_PATH_MAX];
    return ride_yaml_kv(y, v, ride_yaml_path_key(path, sizeof path, map->path, key), rules, out,
                        count);
}
