/* metrics.c - the Prometheus registry and its text exposition (http/metrics.h).
 * Families are kept sorted by name and children are sorted when rendered, so the
 * same values always render to the same text. */
#define _POSIX_C_SOURCE 200809L

#include "http/metrics.h"

#include "base/buffer.h"
#include "base/error.h"
#include "http/http.h"

#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_PREFIX "ride_"
#define MAX_NAME_LEN 200
#define INITIAL_TABLE_SIZE 16

typedef enum metric_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind;

/* What every child starts with: its place in the family's hash table and its label
 * values (pointers into the same allocation). */
typedef struct child {
    struct child *next;
    uint64_t hash;
    const char **values;
} child;

struct ride_counter {
    child base;
    atomic_uint_least64_t value;
};

/* Doubles live as their bit patterns so that plain 64-bit atomics carry them. */
struct ride_gauge {
    child base;
    atomic_uint_least64_t bits;
};

/* counts[i] holds observations in bucket i alone (the last one is +Inf); they are
 * made cumulative when rendered, and the count is their total, so _count always
 * equals the +Inf bucket. */
struct ride_histogram {
    child base;
    const double *bounds;
    size_t n_bounds;
    atomic_uint_least64_t sum_bits;
    atomic_uint_least64_t counts[];
};

struct ride_metric_family {
    metric_kind kind;
    char *name;
    char *help;
    char **labels;
    size_t n_labels;
    double *buckets;
    size_t n_buckets;
    bool in_ns; /* a counter of seconds kept in nanoseconds */
    pthread_mutex_t mu; /* children and the collect callback */
    child **table;
    size_t table_size;
    size_t n_children;
    ride_metrics_collect_fn collect;
    void *collect_ctx;
};

struct ride_metrics {
    pthread_mutex_t mu;        /* the family list */
    pthread_mutex_t render_mu; /* one rendering (and its collect callbacks) at a time */
    ride_metric_family **families; /* sorted by name */
    size_t n_families;
    size_t cap_families;
};

static const double latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

const double *ride_metrics_latency_buckets(size_t *n)
{
    if (n != NULL)
        *n = sizeof latency_buckets / sizeof latency_buckets[0];
    return latency_buckets;
}

static uint64_t double_bits(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

static double bits_double(uint64_t bits)
{
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static void atomic_double_add(atomic_uint_least64_t *bits, double delta)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old,
                                                  double_bits(bits_double(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Length of the UTF-8 sequence at s, or 0 when it is malformed (overlong forms,
 * surrogates and code points above U+10FFFF included): promtool rejects those. */
static size_t utf8_sequence(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, cp = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, cp = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, cp = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        size_t n = utf8_sequence(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool lower_snake_case(const char *s, bool digit_first)
{
    if (*s == '\0' || (!digit_first && *s >= '0' && *s <= '9'))
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* RIDE's names are a subset of Prometheus's [a-zA-Z_:][a-zA-Z0-9_:]*: the ride_
 * prefix, lower snake_case, no colons (reserved for recording rules), and suffixes
 * that say the type, so no family's name clashes with a histogram's series. */
static int check_name(const char *name, metric_kind kind, char *err, size_t err_len)
{
    if (name == NULL || strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0 ||
        strlen(name) > MAX_NAME_LEN ||
        !lower_snake_case(name + strlen(NAME_PREFIX), true)) {
        ride_set_error(err, err_len,
                "invalid metric name '%s': expected ride_ followed by lower snake_case "
                "([a-z0-9_]), at most %d characters",
                name ? name : "(null)", MAX_NAME_LEN);
        return -1;
    }
    if (kind == KIND_COUNTER && !ends_with(name, "_total")) {
        ride_set_error(err, err_len, "invalid counter name '%s': counters end in _total", name);
        return -1;
    }
    static const char *const reserved[] = {"_total", "_count", "_sum", "_bucket"};
    for (size_t i = 0; kind != KIND_COUNTER && i < sizeof reserved / sizeof reserved[0]; i++) {
        if (ends_with(name, reserved[i])) {
            ride_set_error(err, err_len, "invalid %s name '%s': the suffix %s is reserved",
                    kind == KIND_GAUGE ? "gauge" : "histogram", name, reserved[i]);
            return -1;
        }
    }
    return 0;
}

static int check_labels(const char *name, metric_kind kind, const char *const *labels,
                        size_t n_labels, char *err, size_t err_len)
{
    if (n_labels > 0 && labels == NULL) {
        ride_set_error(err, err_len, "metric '%s': %zu label names expected, none given", name,
                n_labels);
        return -1;
    }
    for (size_t i = 0; i < n_labels; i++) {
        const char *l = labels[i];
        if (l == NULL || !lower_snake_case(l, false) || strncmp(l, "__", 2) == 0) {
            ride_set_error(err, err_len,
                    "metric '%s': invalid label name '%s': expected lower snake_case "
                    "([a-z_][a-z0-9_]*) not starting with __",
                    name, l ? l : "(null)");
            return -1;
        }
        if (kind == KIND_HISTOGRAM && strcmp(l, "le") == 0) {
            ride_set_error(err, err_len, "metric '%s': the label name 'le' is reserved for buckets",
                    name);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(labels[j], l) == 0) {
                ride_set_error(err, err_len, "metric '%s': label name '%s' appears twice", name, l);
                return -1;
            }
        }
    }
    return 0;
}

static int check_buckets(const char *name, const double *buckets, size_t n_buckets, char *err,
                         size_t err_len)
{
    if (n_buckets == 0 || buckets == NULL) {
        ride_set_error(err, err_len, "histogram '%s': at least one bucket bound is needed", name);
        return -1;
    }
    for (size_t i = 0; i < n_buckets; i++) {
        if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1]))) {
            ride_set_error(err, err_len,
                    "histogram '%s': bucket bounds must be finite and strictly increasing "
                    "(bound %zu is %g)",
                    name, i, buckets[i]);
            return -1;
        }
    }
    return 0;
}

static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i];; p++) {
            h = (h ^ *p) * 1099511628211ULL;
            if (*p == '\0')
                break; /* the terminator separates values: ("ab","c") != ("a","bc") */
        }
    }
    return h;
}

static bool same_values(const child *c, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->values[i], values[i]) != 0)
            return false;
    return true;
}

static child **find_slot(ride_metric_family *fam, const char *const *values, uint64_t hash)
{
    child **slot = &fam->table[hash % fam->table_size];
    while (*slot != NULL && !((*slot)->hash == hash && same_values(*slot, values, fam->n_labels)))
        slot = &(*slot)->next;
    return slot;
}

static size_t kind_size(const ride_metric_family *fam)
{
    switch (fam->kind) {
    case KIND_COUNTER:
        return sizeof(ride_counter);
    case KIND_GAUGE:
        return sizeof(ride_gauge);
    case KIND_HISTOGRAM:
        break;
    }
    return sizeof(ride_histogram) + (fam->n_buckets + 1) * sizeof(atomic_uint_least64_t);
}

/* One allocation: the kind's struct, then the value pointers, then the values. */
static child *child_new(const ride_metric_family *fam, const char *const *values, uint64_t hash)
{
    size_t head = kind_size(fam);
    head = (head + alignof(const char *) - 1) / alignof(const char *) * alignof(const char *);
    size_t text = 0;
    for (size_t i = 0; i < fam->n_labels; i++)
        text += strlen(values[i]) + 1;
    char *mem = calloc(1, head + fam->n_labels * sizeof(const char *) + text);
    if (mem == NULL)
        return NULL;
    child *c = (child *)mem;
    c->hash = hash;
    c->values = (const char **)(mem + head);
    char *p = mem + head + fam->n_labels * sizeof(const char *);
    for (size_t i = 0; i < fam->n_labels; i++) {
        size_t n = strlen(values[i]) + 1;
        memcpy(p, values[i], n);
        c->values[i] = p;
        p += n;
    }
    switch (fam->kind) {
    case KIND_COUNTER:
        atomic_init(&((ride_counter *)c)->value, 0);
        break;
    case KIND_GAUGE:
        atomic_init(&((ride_gauge *)c)->bits, double_bits(0.0));
        break;
    case KIND_HISTOGRAM: {
        ride_histogram *h = (ride_histogram *)c;
        h->bounds = fam->buckets;
        h->n_bounds = fam->n_buckets;
        atomic_init(&h->sum_bits, double_bits(0.0));
        for (size_t i = 0; i <= fam->n_buckets; i++)
            atomic_init(&h->counts[i], 0);
        break;
    }
    }
    return c;
}

/* Doubles the table when it holds more children than slots; on allocation failure
 * the table stays as it is (longer chains, still correct). */
static void grow_table(ride_metric_family *fam)
{
    if (fam->n_children <= fam->table_size)
        return;
    size_t size = fam->table_size * 2;
    child **table = calloc(size, sizeof *table);
    if (table == NULL)
        return;
    for (size_t i = 0; i < fam->table_size; i++) {
        child *c = fam->table[i];
        while (c != NULL) {
            child *next = c->next;
            c->next = table[c->hash % size];
            table[c->hash % size] = c;
            c = next;
        }
    }
    free(fam->table);
    fam->table = table;
    fam->table_size = size;
}

static bool valid_values(const ride_metric_family *fam, const char *const *values, size_t n)
{
    if (n != fam->n_labels || (n > 0 && values == NULL))
        return false;
    for (size_t i = 0; i < n; i++)
        if (values[i] == NULL || !valid_utf8(values[i]))
            return false;
    return true;
}

static child *child_get(ride_metric_family *fam, metric_kind kind, const char *const *values,
                        size_t n_values)
{
    if (fam == NULL || fam->kind != kind || !valid_values(fam, values, n_values))
        return NULL;
    uint64_t hash = hash_values(values, n_values);
    pthread_mutex_lock(&fam->mu);
    child **slot = find_slot(fam, values, hash);
    child *c = *slot;
    if (c == NULL) {
        c = child_new(fam, values, hash);
        if (c != NULL) {
            *slot = c;
            fam->n_children++;
            grow_table(fam);
        }
    }
    pthread_mutex_unlock(&fam->mu);
    return c;
}

ride_counter *ride_counter_get(ride_metric_family *fam, const char *const *values,
                               size_t n_values)
{
    return (ride_counter *)child_get(fam, KIND_COUNTER, values, n_values);
}

ride_gauge *ride_gauge_get(ride_metric_family *fam, const char *const *values, size_t n_values)
{
    return (ride_gauge *)child_get(fam, KIND_GAUGE, values, n_values);
}

ride_histogram *ride_histogram_get(ride_metric_family *fam, const char *const *values,
                                   size_t n_values)
{
    return (ride_histogram *)child_get(fam, KIND_HISTOGRAM, values, n_values);
}

int ride_metric_family_remove(ride_metric_family *fam, const char *const *values,
                              size_t n_values)
{
    if (fam == NULL || !valid_values(fam, values, n_values))
        return -1;
    uint64_t hash = hash_values(values, n_values);
    pthread_mutex_lock(&fam->mu);
    child **slot = find_slot(fam, values, hash);
    child *c = *slot;
    if (c != NULL) {
        *slot = c->next;
        fam->n_children--;
    }
    pthread_mutex_unlock(&fam->mu);
    free(c);
    return c != NULL ? 0 : -1;
}

static void free_children(ride_metric_family *fam)
{
    for (size_t i = 0; i < fam->table_size; i++) {
        child *c = fam->table[i];
        while (c != NULL) {
            child *next = c->next;
            free(c);
            c = next;
        }
        fam->table[i] = NULL;
    }
    fam->n_children = 0;
}

void ride_metric_family_clear(ride_metric_family *fam)
{
    if (fam == NULL)
        return;
    pthread_mutex_lock(&fam->mu);
    free_children(fam);
    pthread_mutex_unlock(&fam->mu);
}

void ride_metric_family_set_collect(ride_metric_family *fam, ride_metrics_collect_fn fn,
                                    void *ctx)
{
    if (fam == NULL)
        return;
    pthread_mutex_lock(&fam->mu);
    fam->collect = fn;
    fam->collect_ctx = ctx;
    pthread_mutex_unlock(&fam->mu);
}

void ride_counter_inc(ride_counter *c)
{
    ride_counter_add(c, 1);
}

void ride_counter_add(ride_counter *c, uint64_t n)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void ride_counter_set(ride_counter *c, uint64_t value)
{
    if (c != NULL)
        atomic_store_explicit(&c->value, value, memory_order_relaxed);
}

uint64_t ride_counter_value(const ride_counter *c)
{
    return c != NULL ? atomic_load_explicit(&c->value, memory_order_relaxed) : 0;
}

void ride_gauge_set(ride_gauge *g, double value)
{
    if (g != NULL)
        atomic_store_explicit(&g->bits, double_bits(value), memory_order_relaxed);
}

void ride_gauge_add(ride_gauge *g, double delta)
{
    if (g != NULL)
        atomic_double_add(&g->bits, delta);
}

double ride_gauge_value(const ride_gauge *g)
{
    return g != NULL ? bits_double(atomic_load_explicit(&g->bits, memory_order_relaxed)) : 0.0;
}

void ride_histogram_observe(ride_histogram *h, double value)
{
    if (h == NULL || isnan(value))
        return;
    /* Linear: a handful of buckets, and the small ones (fast frames) come first. */
    size_t i = 0;
    while (i < h->n_bounds && value > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_double_add(&h->sum_bits, value);
}

uint64_t ride_histogram_count(const ride_histogram *h)
{
    uint64_t total = 0;
    for (size_t i = 0; h != NULL && i <= h->n_bounds; i++)
        total += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    return total;
}

double ride_histogram_sum(const ride_histogram *h)
{
    return h != NULL ? bits_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed))
                     : 0.0;
}

ride_metrics *ride_metrics_new(void)
{
    ride_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->render_mu, NULL);
    return m;
}

static void family_free(ride_metric_family *fam)
{
    if (fam == NULL)
        return;
    if (fam->table != NULL)
        free_children(fam);
    free(fam->table);
    for (size_t i = 0; fam->labels != NULL && i < fam->n_labels; i++)
        free(fam->labels[i]);
    free(fam->labels);
    free(fam->buckets);
    free(fam->name);
    free(fam->help);
    pthread_mutex_destroy(&fam->mu);
    free(fam);
}

void ride_metrics_free(ride_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_families; i++)
        family_free(m->families[i]);
    free(m->families);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->render_mu);
    free(m);
}

static ride_metric_family *family_new(metric_kind kind, const char *name, const char *help,
                                      const char *const *labels, size_t n_labels,
                                      const double *buckets, size_t n_buckets, bool in_ns)
{
    ride_metric_family *fam = calloc(1, sizeof *fam);
    if (fam == NULL)
        return NULL;
    pthread_mutex_init(&fam->mu, NULL);
    fam->kind = kind;
    fam->in_ns = in_ns;
    fam->name = strdup(name);
    fam->help = strdup(help);
    fam->n_labels = n_labels;
    fam->labels = calloc(n_labels > 0 ? n_labels : 1, sizeof *fam->labels);
    fam->n_buckets = n_buckets;
    fam->buckets = malloc((n_buckets > 0 ? n_buckets : 1) * sizeof *fam->buckets);
    fam->table_size = INITIAL_TABLE_SIZE;
    fam->table = calloc(fam->table_size, sizeof *fam->table);
    bool ok = fam->name && fam->help && fam->labels && fam->buckets && fam->table;
    for (size_t i = 0; ok && i < n_labels; i++)
        ok = (fam->labels[i] = strdup(labels[i])) != NULL;
    if (ok && n_buckets > 0)
        memcpy(fam->buckets, buckets, n_buckets * sizeof *buckets);
    if (!ok) {
        family_free(fam);
        return NULL;
    }
    return fam;
}

static bool same_definition(const ride_metric_family *fam, metric_kind kind,
                            const char *const *labels, size_t n_labels, const double *buckets,
                            size_t n_buckets, bool in_ns)
{
    if (fam->kind != kind || fam->in_ns != in_ns || fam->n_labels != n_labels ||
        fam->n_buckets != n_buckets)
        return false;
    for (size_t i = 0; i < n_labels; i++)
        if (strcmp(fam->labels[i], labels[i]) != 0)
            return false;
    for (size_t i = 0; i < n_buckets; i++)
        if (fam->buckets[i] != buckets[i])
            return false;
    return true;
}

/* Index of the first family whose name is >= name. */
static size_t family_position(const ride_metrics *m, const char *name)
{
    size_t lo = 0, hi = m->n_families;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->families[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int insert_family(ride_metrics *m, size_t pos, ride_metric_family *fam)
{
    if (m->n_families == m->cap_families) {
        size_t cap = m->cap_families ? m->cap_families * 2 : 16;
        ride_metric_family **families = realloc(m->families, cap * sizeof *families);
        if (families == NULL)
            return -1;
        m->families = families;
        m->cap_families = cap;
    }
    memmove(&m->families[pos + 1], &m->families[pos],
            (m->n_families - pos) * sizeof *m->families);
    m->families[pos] = fam;
    m->n_families++;
    return 0;
}

static ride_metric_family *family_register(ride_metrics *m, metric_kind kind, const char *name,
                                           const char *help, const char *const *labels,
                                           size_t n_labels, const double *buckets,
                                           size_t n_buckets, bool in_ns, char *err,
                                           size_t err_len)
{
    if (m == NULL) {
        ride_set_error(err, err_len, "no registry");
        return NULL;
    }
    if (check_name(name, kind, err, err_len) != 0 ||
        check_labels(name, kind, labels, n_labels, err, err_len) != 0 ||
        (kind == KIND_HISTOGRAM && check_buckets(name, buckets, n_buckets, err, err_len) != 0))
        return NULL;
    if (help == NULL || help[0] == '\0' || !valid_utf8(help)) {
        ride_set_error(err, err_len, "metric '%s': help text must be non-empty UTF-8", name);
        return NULL;
    }
    pthread_mutex_lock(&m->mu);
    size_t pos = family_position(m, name);
    ride_metric_family *fam = NULL;
    if (pos < m->n_families && strcmp(m->families[pos]->name, name) == 0) {
        fam = m->families[pos];
        if (!same_definition(fam, kind, labels, n_labels, buckets, n_buckets, in_ns)) {
            ride_set_error(err, err_len,
                    "metric '%s' is already registered with another type, labels or buckets",
                    name);
            fam = NULL;
        }
    } else {
        fam = family_new(kind, name, help, labels, n_labels, buckets, n_buckets, in_ns);
        if (fam != NULL && n_labels == 0 && child_get(fam, kind, NULL, 0) == NULL) {
            family_free(fam);
            fam = NULL;
        }
        if (fam != NULL && insert_family(m, pos, fam) != 0) {
            family_free(fam);
            fam = NULL;
        }
        if (fam == NULL)
            ride_set_error(err, err_len, "metric '%s': out of memory", name);
    }
    pthread_mutex_unlock(&m->mu);
    return fam;
}

ride_metric_family *ride_metrics_counter(ride_metrics *m, const char *name, const char *help,
                                         const char *const *labels, size_t n_labels,
                                         char *err, size_t err_len)
{
    return family_register(m, KIND_COUNTER, name, help, labels, n_labels, NULL, 0, false, err,
                           err_len);
}

ride_metric_family *ride_metrics_counter_seconds(ride_metrics *m, const char *name,
                                                 const char *help, const char *const *labels,
                                                 size_t n_labels, char *err, size_t err_len)
{
    if (name != NULL && !ends_with(name, "_seconds_total")) {
        ride_set_error(err, err_len, "invalid counter name '%s': a counter of seconds ends in "
                       "_seconds_total", name);
        return NULL;
    }
    return family_register(m, KIND_COUNTER, name, help, labels, n_labels, NULL, 0, true, err,
                           err_len);
}

ride_metric_family *ride_metrics_gauge(ride_metrics *m, const char *name, const char *help,
                                       const char *const *labels, size_t n_labels,
                                       char *err, size_t err_len)
{
    return family_register(m, KIND_GAUGE, name, help, labels, n_labels, NULL, 0, false, err,
                           err_len);
}

ride_metric_family *ride_metrics_histogram(ride_metrics *m, const char *name, const char *help,
                                           const char *const *labels, size_t n_labels,
                                           const double *buckets, size_t n_buckets,
                                           char *err, size_t err_len)
{
    return family_register(m, KIND_HISTOGRAM, name, help, labels, n_labels, buckets, n_buckets,
                           false, err, err_len);
}

/* A growing text; after an allocation failure it only remembers that. */
typedef struct text {
    ride_buffer b;
    bool failed;
} text;

static void text_append(text *t, const char *s, size_t n)
{
    if (!t->failed && ride_buffer_append(&t->b, s, n, SIZE_MAX) != 0)
        t->failed = true;
}

static void text_puts(text *t, const char *s)
{
    text_append(t, s, strlen(s));
}

/* Escapes per the exposition format: backslash and newline everywhere, and the
 * double quote inside label values. */
static void text_escaped(text *t, const char *s, bool quote)
{
    const char *run = s;
    for (; *s != '\0'; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n"
                                            : quote && *s == '"' ? "\\\""
                                                                 : NULL;
        if (esc != NULL) {
            text_append(t, run, (size_t)(s - run));
            text_puts(t, esc);
            run = s + 1;
        }
    }
    text_append(t, run, (size_t)(s - run));
}

/* Prometheus parses floats with Go's ParseFloat: integral values are written
 * without exponent or fraction, others with the fewest digits that read back
 * exactly, infinities as +Inf/-Inf. */
static void format_double(char *buf, size_t len, double v)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    } else if (v == trunc(v) && fabs(v) < 1e15) {
        snprintf(buf, len, "%.0f", v);
    } else {
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(buf, len, "%.*g", digits, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
}

static void text_double(text *t, double v)
{
    char buf[64];
    format_double(buf, sizeof buf, v);
    text_puts(t, buf);
}

static void text_u64(text *t, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    text_puts(t, buf);
}

/* name{l1="v1",...,extra="value"} with `suffix` after the name; braces only when
 * there is a label. */
static void text_series(text *t, const ride_metric_family *fam, const char *suffix,
                        const child *c, const char *extra, const char *extra_value)
{
    text_puts(t, fam->name);
    text_puts(t, suffix);
    if (fam->n_labels == 0 && extra == NULL) {
        text_puts(t, " ");
        return;
    }
    text_puts(t, "{");
    for (size_t i = 0; i < fam->n_labels; i++) {
        if (i > 0)
            text_puts(t, ",");
        text_puts(t, fam->labels[i]);
        text_puts(t, "=\"");
        text_escaped(t, c->values[i], true);
        text_puts(t, "\"");
    }
    if (extra != NULL) {
        if (fam->n_labels > 0)
            text_puts(t, ",");
        text_puts(t, extra);
        text_puts(t, "=\"");
        text_puts(t, extra_value);
        text_puts(t, "\"");
    }
    text_puts(t, "} ");
}

static void render_histogram(text *t, const ride_metric_family *fam, const ride_histogram *h)
{
    uint64_t cumulative = 0;
    char le[64];
    for (size_t i = 0; i <= h->n_bounds; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        format_double(le, sizeof le, i < h->n_bounds ? h->bounds[i] : INFINITY);
        text_series(t, fam, "_bucket", &h->base, "le", le);
        text_u64(t, cumulative);
        text_puts(t, "\n");
    }
    text_series(t, fam, "_sum", &h->base, NULL, NULL);
    text_double(t, ride_histogram_sum(h));
    text_puts(t, "\n");
    text_series(t, fam, "_count", &h->base, NULL, NULL);
    text_u64(t, cumulative);
    text_puts(t, "\n");
}

static void render_child(text *t, const ride_metric_family *fam, const child *c)
{
    switch (fam->kind) {
    case KIND_COUNTER:
        text_series(t, fam, "", c, NULL, NULL);
        if (fam->in_ns)
            text_double(t, (double)ride_counter_value((const ride_counter *)c) / 1e9);
        else
            text_u64(t, ride_counter_value((const ride_counter *)c));
        text_puts(t, "\n");
        break;
    case KIND_GAUGE:
        text_series(t, fam, "", c, NULL, NULL);
        text_double(t, ride_gauge_value((const ride_gauge *)c));
        text_puts(t, "\n");
        break;
    case KIND_HISTOGRAM:
        render_histogram(t, fam, (const ride_histogram *)c);
        break;
    }
}

/* qsort has no context argument: the family's label count reaches the comparison
 * through a thread-local. */
static _Thread_local size_t sort_n_values;

static int compare_children(const void *a, const void *b)
{
    const child *ca = *(const child *const *)a, *cb = *(const child *const *)b;
    for (size_t i = 0; i < sort_n_values; i++) {
        int d = strcmp(ca->values[i], cb->values[i]);
        if (d != 0)
            return d;
    }
    return 0;
}

static void render_family(text *t, ride_metric_family *fam)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&fam->mu);
    ride_metrics_collect_fn collect = fam->collect;
    void *collect_ctx = fam->collect_ctx;
    pthread_mutex_unlock(&fam->mu);
    if (collect != NULL)
        collect(fam, collect_ctx);

    text_puts(t, "# HELP ");
    text_puts(t, fam->name);
    text_puts(t, " ");
    text_escaped(t, fam->help, false);
    text_puts(t, "\n# TYPE ");
    text_puts(t, fam->name);
    text_puts(t, " ");
    text_puts(t, type_names[fam->kind]);
    text_puts(t, "\n");

    pthread_mutex_lock(&fam->mu);
    child **sorted = malloc((fam->n_children ? fam->n_children : 1) * sizeof *sorted);
    if (sorted == NULL) {
        t->failed = true;
    } else {
        size_t n = 0;
        for (size_t i = 0; i < fam->table_size; i++)
            for (child *c = fam->table[i]; c != NULL; c = c->next)
                sorted[n++] = c;
        sort_n_values = fam->n_labels;
        qsort(sorted, n, sizeof *sorted, compare_children);
        for (size_t i = 0; i < n; i++)
            render_child(t, fam, sorted[i]);
    }
    pthread_mutex_unlock(&fam->mu);
    free(sorted);
}

char *ride_metrics_render(ride_metrics *m, size_t *len)
{
    if (m == NULL)
        return NULL;
    pthread_mutex_lock(&m->render_mu);
    /* A snapshot of the list, so collect callbacks and registrations on other
     * threads never wait for a rendering; families are never freed before m. */
    pthread_mutex_lock(&m->mu);
    size_t n = m->n_families;
    ride_metric_family **families = malloc((n ? n : 1) * sizeof *families);
    if (families != NULL && n > 0)
        memcpy(families, m->families, n * sizeof *families);
    pthread_mutex_unlock(&m->mu);

    text t = {.failed = families == NULL};
    text_append(&t, "", 0);
    for (size_t i = 0; i < n && !t.failed; i++)
        render_family(&t, families[i]);
    pthread_mutex_unlock(&m->render_mu);
    free(families);
    if (t.failed) {
        ride_buffer_free(&t.b);
        return NULL;
    }
    if (len != NULL)
        *len = t.b.len;
    return t.b.data;
}

static void metrics_handler(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    (void)req;
    size_t len;
    char *body = ride_metrics_render(ctx, &len);
    if (body == NULL) {
        ride_http_response_text(res, 500, "cannot render metrics: out of memory\n");
        return;
    }
    ride_http_response_body_take(res, RIDE_METRICS_CONTENT_TYPE, body, len);
}

int ride_metrics_serve(ride_metrics *m, ride_http_server *srv)
{
    if (m == NULL || srv == NULL)
        return -1;
    return ride_http_server_route(srv, "GET", "/metrics", false, metrics_handler, m);
}
