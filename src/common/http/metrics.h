/* http/metrics.h - a Prometheus metrics registry and its text exposition (format
 * 0.0.4), served on every daemon's /metrics.
 *
 * A registry holds families (counter, gauge, histogram), each with a name, help
 * text and a fixed list of label names; a family's children are its label-value
 * combinations. Names follow RIDE's conventions (docs/metrics.md), checked at
 * registration: "ride_" prefix, lower snake_case, counters end in "_total".
 *
 * Threading: every function except ride_metrics_serve (which follows http/http.h's
 * rules) may be called from any thread. Updates on a child (ride_counter_add,
 * ride_gauge_set, ride_histogram_observe, ...) are lock-free atomics; looking a child up by label values takes the family's mutex, so hot
 * paths look a child up once and keep the pointer. A child pointer stays valid
 * until the child is removed (ride_metric_family_remove/clear) or the registry is
 * freed; whoever removes a child makes sure no thread still uses its pointer.
 * Every update function accepts NULL and then does nothing, so a failed lookup
 * (allocation failure) costs a metric, never a crash. */
#ifndef RIDE_METRICS_H
#define RIDE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ride_metrics ride_metrics;
typedef struct ride_metric_family ride_metric_family;
typedef struct ride_counter ride_counter;
typedef struct ride_gauge ride_gauge;
typedef struct ride_histogram ride_histogram;
/* From http/http.h, declared here so that code which only updates metrics does not
 * need libuv's and jansson's headers. */
typedef struct ride_http_server ride_http_server;

/* Content-Type of the rendering (Prometheus text exposition format 0.0.4). */
#define RIDE_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* An empty registry, or NULL on allocation failure. */
ride_metrics *ride_metrics_new(void);

/* Releases the registry, its families and children. NULL is a no-op. */
void ride_metrics_free(ride_metrics *m);

/* Registers a family. `labels` holds n_labels label names (lower snake_case, not
 * starting with "__"; "le" is reserved for histograms). Registering a family whose
 * name, kind, label names and buckets equal an existing one's returns that family,
 * so modules may declare the metrics they share independently; any other clash
 * with an existing name is an error. A family without labels has its single child
 * from the start, so it renders (as 0) before its first update. Returns NULL with a
 * message in err on an invalid name, help text or label name, or on allocation
 * failure. Families live until the registry is freed. */
ride_metric_family *ride_metrics_counter(ride_metrics *m, const char *name, const char *help,
                                         const char *const *labels, size_t n_labels,
                                         char *err, size_t err_len);
/* A counter of seconds kept in whole nanoseconds (CPU time, time spent in a step):
 * ride_counter_add and ride_counter_set take nanoseconds, the rendering writes
 * seconds. Its name ends in _seconds_total. */
ride_metric_family *ride_metrics_counter_seconds(ride_metrics *m, const char *name,
                                                 const char *help, const char *const *labels,
                                                 size_t n_labels, char *err, size_t err_len);
ride_metric_family *ride_metrics_gauge(ride_metrics *m, const char *name, const char *help,
                                       const char *const *labels, size_t n_labels,
                                       char *err, size_t err_len);
/* `buckets`: n_buckets (>= 1) finite upper bounds in strictly increasing order, in
 * the metric's base unit (seconds for latencies); the +Inf bucket is implicit. */
ride_metric_family *ride_metrics_histogram(ride_metrics *m, const char *name, const char *help,
                                           const char *const *labels, size_t n_labels,
                                           const double *buckets, size_t n_buckets,
                                           char *err, size_t err_len);

/* Frame latency buckets in seconds: 1 ms, 2.5 ms, 5 ms, ... 5 s, 10 s (13 bounds;
 * their number in *n). */
const double *ride_metrics_latency_buckets(size_t *n);

/* The child for `values` (n_values label values, in the order of the family's label
 * names; any UTF-8 text), created on first use. Returns NULL when the family has
 * another kind, n_values differs from its label count, a value is NULL or not valid
 * UTF-8, or on allocation failure. */
ride_counter *ride_counter_get(ride_metric_family *fam, const char *const *values,
                               size_t n_values);
ride_gauge *ride_gauge_get(ride_metric_family *fam, const char *const *values, size_t n_values);
ride_histogram *ride_histogram_get(ride_metric_family *fam, const char *const *values,
                                   size_t n_values);

/* Removes the child for `values` (e.g. a partition that moved to another worker).
 * Returns 0, or -1 when there is no such child. */
int ride_metric_family_remove(ride_metric_family *fam, const char *const *values,
                              size_t n_values);

/* Removes every child (a collect callback rebuilding the set it reports). */
void ride_metric_family_clear(ride_metric_family *fam);

/* Called at every rendering, just before the family is written, to fill values read
 * elsewhere at scrape time (a partition's lag from Kafka, a count kept by another
 * module). It runs on the rendering thread, one rendering at a time; it may get,
 * update, remove and clear children of any family, and must not register families. */
typedef void (*ride_metrics_collect_fn)(ride_metric_family *fam, void *ctx);

/* Sets (or with fn NULL removes) the family's collect callback. */
void ride_metric_family_set_collect(ride_metric_family *fam, ride_metrics_collect_fn fn,
                                    void *ctx);

/* Counters: monotonic uint64. */
void ride_counter_inc(ride_counter *c);
void ride_counter_add(ride_counter *c, uint64_t n);
/* Mirrors a monotonic count kept elsewhere (from a collect callback); never lower a
 * counter other than by removing the child. */
void ride_counter_set(ride_counter *c, uint64_t value);
uint64_t ride_counter_value(const ride_counter *c);

/* Gauges: double. */
void ride_gauge_set(ride_gauge *g, double value);
void ride_gauge_add(ride_gauge *g, double delta);
double ride_gauge_value(const ride_gauge *g);

/* Histograms: counts `value` in the first bucket whose bound is >= value (and every
 * larger one when rendered) and adds it to the sum. NaN is ignored. */
void ride_histogram_observe(ride_histogram *h, double value);
/* Observations so far, and their sum. */
uint64_t ride_histogram_count(const ride_histogram *h);
double ride_histogram_sum(const ride_histogram *h);

/* Renders the registry in the text exposition format: families sorted by name, each
 * with # HELP and # TYPE lines, children sorted by label values; collect callbacks
 * run first. Returns a malloc'd NUL-terminated text (its length in *len when len is
 * not NULL), or NULL on allocation failure. */
char *ride_metrics_render(ride_metrics *m, size_t *len);

/* Routes GET /metrics on srv (before ride_http_server_start) to a rendering of m
 * with RIDE_METRICS_CONTENT_TYPE; m must outlive the server. Returns 0, or -1. */
int ride_metrics_serve(ride_metrics *m, ride_http_server *srv);

#ifdef __cplusplus
}
#endif

#endif
