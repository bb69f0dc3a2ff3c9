/* The Prometheus registry: rendering of every metric kind, counters of seconds
 * kept in nanoseconds, escaping, refused definitions, concurrent updates, collect
 * callbacks, removal, promtool's check (skipped when promtool is absent) and
 * serving /metrics. */
#define _POSIX_C_SOURCE 200809L

#include "ride_test.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/http.h"
#include "http/http_client.h"
#include "http/metrics.h"

#define PROMTOOL "/usr/bin/promtool"

static const char *const app_stage[] = {"app", "stage"};

static ride_metrics *new_registry(void)
{
    ride_metrics *m = ride_metrics_new();
    assert_non_null(m);
    return m;
}

static char *render(ride_metrics *m)
{
    size_t len = 0;
    char *text = ride_metrics_render(m, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    return text;
}

static void expect_render(ride_metrics *m, const char *expected)
{
    char *text = render(m);
    if (strcmp(text, expected) != 0)
        print_error("rendered:\n%s\nexpected:\n%s\n", text, expected);
    assert_string_equal(text, expected);
    free(text);
}

static void test_render_every_kind(void **state)
{
    (void)state;
    char err[256];
    ride_metrics *m = new_registry();
    static const double buckets[] = {0.005, 0.1, 1};
    /* Registered out of order: the rendering sorts families by name and children by
     * label values. */
    ride_metric_family *lat = ride_metrics_histogram(m, "ride_frame_latency_seconds",
                                                     "Capture to stage done.", app_stage, 1,
                                                     buckets, 3, err, sizeof err);
    ride_metric_family *dropped = ride_metrics_counter(m, "ride_frames_dropped_total",
                                                       "Frames dropped.", app_stage, 2, err,
                                                       sizeof err);
    ride_metric_family *up = ride_metrics_gauge(m, "ride_worker_up", "1 while the worker runs.",
                                                NULL, 0, err, sizeof err);
    ride_metric_family *lag = ride_metrics_gauge(m, "ride_consumer_lag_frames", "Lag.",
                                                 app_stage, 1, err, sizeof err);
    assert_non_null(lat);
    assert_non_null(dropped);
    assert_non_null(up);
    assert_non_null(lag);

    ride_counter_add(ride_counter_get(dropped, (const char *[]){"b", "s"}, 2), 3);
    ride_counter_inc(ride_counter_get(dropped, (const char *[]){"a", "t"}, 2));
    ride_counter_inc(ride_counter_get(dropped, (const char *[]){"a", "s"}, 2));
    ride_gauge_set(ride_gauge_get(lag, (const char *[]){"x"}, 1), 12);
    ride_gauge_set(ride_gauge_get(lag, (const char *[]){"y"}, 1), -0.25);
    ride_gauge_set(ride_gauge_get(lag, (const char *[]){"z"}, 1), INFINITY);
    ride_gauge_set(ride_gauge_get(lag, (const char *[]){"w"}, 1), NAN);
    ride_histogram *h = ride_histogram_get(lat, (const char *[]){"a"}, 1);
    ride_histogram_observe(h, 0.001);
    ride_histogram_observe(h, 0.005); /* on a bound: counted in it (le = less or equal) */
    ride_histogram_observe(h, 0.5);
    ride_histogram_observe(h, 20);

    expect_render(m, "# HELP ride_consumer_lag_frames Lag.\n"
                     "# TYPE ride_consumer_lag_frames gauge\n"
                     "ride_consumer_lag_frames{app=\"w\"} NaN\n"
                     "ride_consumer_lag_frames{app=\"x\"} 12\n"
                     "ride_consumer_lag_frames{app=\"y\"} -0.25\n"
                     "ride_consumer_lag_frames{app=\"z\"} +Inf\n"
                     "# HELP ride_frame_latency_seconds Capture to stage done.\n"
                     "# TYPE ride_frame_latency_seconds histogram\n"
                     "ride_frame_latency_seconds_bucket{app=\"a\",le=\"0.005\"} 2\n"
                     "ride_frame_latency_seconds_bucket{app=\"a\",le=\"0.1\"} 2\n"
                     "ride_frame_latency_seconds_bucket{app=\"a\",le=\"1\"} 3\n"
                     "ride_frame_latency_seconds_bucket{app=\"a\",le=\"+Inf\"} 4\n"
                     "ride_frame_latency_seconds_sum{app=\"a\"} 20.506\n"
                     "ride_frame_latency_seconds_count{app=\"a\"} 4\n"
                     "# HELP ride_frames_dropped_total Frames dropped.\n"
                     "# TYPE ride_frames_dropped_total counter\n"
                     "ride_frames_dropped_total{app=\"a\",stage=\"s\"} 1\n"
                     "ride_frames_dropped_total{app=\"a\",stage=\"t\"} 1\n"
                     "ride_frames_dropped_total{app=\"b\",stage=\"s\"} 3\n"
                     "# HELP ride_worker_up 1 while the worker runs.\n"
                     "# TYPE ride_worker_up gauge\n"
                     "ride_worker_up 0\n");
    ride_metrics_free(m);
}

static void test_values_and_formatting(void **state)
{
    (void)state;
    ride_metrics *m = new_registry();
    ride_metric_family *g = ride_metrics_gauge(m, "ride_g", "g", NULL, 0, NULL, 0);
    ride_metric_family *c = ride_metrics_counter(m, "ride_c_total", "c", NULL, 0, NULL, 0);
    ride_gauge *gauge = ride_gauge_get(g, NULL, 0);
    ride_counter *counter = ride_counter_get(c, NULL, 0);
    assert_non_null(gauge);
    assert_non_null(counter);
    assert_ptr_equal(gauge, ride_gauge_get(g, NULL, 0));

    ride_gauge_set(gauge, 1.5);
    ride_gauge_add(gauge, 2.25);
    ride_gauge_add(gauge, -1);
    assert_true(ride_gauge_value(gauge) == 2.75);
    ride_counter_add(counter, UINT64_C(18446744073709551615) - 1);
    ride_counter_inc(counter);
    expect_render(m, "# HELP ride_c_total c\n# TYPE ride_c_total counter\n"
                     "ride_c_total 18446744073709551615\n"
                     "# HELP ride_g g\n# TYPE ride_g gauge\nride_g 2.75\n");

    /* Large integral and non-representable decimals: no precision lost, and 0.1 is
     * not written as 0.10000000000000001. */
    static const struct {
        double v;
        const char *text;
    } cases[] = {{1e15, "1e+15"},  {123456789012345, "123456789012345"}, {0.1, "0.1"},
                 {1.0 / 3, "0.3333333333333333"}, {-INFINITY, "-Inf"}, {1e-9, "1e-09"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ride_gauge_set(gauge, cases[i].v);
        char expected[256];
        snprintf(expected, sizeof expected,
                 "# HELP ride_c_total c\n# TYPE ride_c_total counter\n"
                 "ride_c_total 18446744073709551615\n"
                 "# HELP ride_g g\n# TYPE ride_g gauge\nride_g %s\n",
                 cases[i].text);
        expect_render(m, expected);
        char *text = render(m);
        assert_true(strtod(strrchr(text, ' ') + 1, NULL) == cases[i].v);
        free(text);
    }

    /* Updates through NULL (a failed lookup) do nothing. */
    ride_counter_inc(NULL);
    ride_gauge_add(NULL, 1);
    ride_histogram_observe(NULL, 1);
    assert_int_equal(ride_counter_value(NULL), 0);
    ride_metrics_free(m);

    ride_metrics *empty = new_registry();
    expect_render(empty, "");
    ride_metrics_free(empty);
}

/* Updated in nanoseconds, rendered in seconds; its name must say seconds, and it
 * is another definition than a plain counter of the same name. */
static void test_counter_of_seconds(void **state)
{
    (void)state;
    ride_metrics *m = new_registry();
    char err[256] = "";
    ride_metric_family *cpu =
        ride_metrics_counter_seconds(m, "ride_cpu_seconds_total", "cpu", NULL, 0, err, sizeof err);
    assert_non_null(cpu);
    ride_counter_add(ride_counter_get(cpu, NULL, 0), UINT64_C(1500000000));
    ride_counter_add(ride_counter_get(cpu, NULL, 0), 250);
    expect_render(m, "# HELP ride_cpu_seconds_total cpu\n# TYPE ride_cpu_seconds_total counter\n"
                     "ride_cpu_seconds_total 1.50000025\n");
    assert_ptr_equal(ride_metrics_counter_seconds(m, "ride_cpu_seconds_total", "cpu", NULL, 0,
                                                  err, sizeof err),
                     cpu);
    assert_null(ride_metrics_counter(m, "ride_cpu_seconds_total", "cpu", NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "already registered"));
    assert_null(ride_metrics_counter_seconds(m, "ride_cpu_total", "cpu", NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "_seconds_total"));
    ride_metrics_free(m);
}

static void test_escaping(void **state)
{
    (void)state;
    ride_metrics *m = new_registry();
    ride_metric_family *f = ride_metrics_counter(m, "ride_errors_total",
                                                 "Errors \\ by \"reason\"\nsecond line",
                                                 (const char *[]){"reason"}, 1, NULL, 0);
    assert_non_null(f);
    ride_counter_inc(ride_counter_get(f, (const char *[]){"a\\b\"c\nd"}, 1));
    ride_counter_inc(ride_counter_get(f, (const char *[]){"caf\xc3\xa9 \xe2\x82\xac"}, 1));
    ride_counter_inc(ride_counter_get(f, (const char *[]){""}, 1));
    expect_render(m, "# HELP ride_errors_total Errors \\\\ by \"reason\"\\nsecond line\n"
                     "# TYPE ride_errors_total counter\n"
                     "ride_errors_total{reason=\"\"} 1\n"
                     "ride_errors_total{reason=\"a\\\\b\\\"c\\nd\"} 1\n"
                     "ride_errors_total{reason=\"caf\xc3\xa9 \xe2\x82\xac\"} 1\n");

    /* Invalid UTF-8 (a stray continuation byte, an overlong '/', a surrogate) cannot
     * become a label value. */
    assert_null(ride_counter_get(f, (const char *[]){"\x80"}, 1));
    assert_null(ride_counter_get(f, (const char *[]){"\xc0\xaf"}, 1));
    assert_null(ride_counter_get(f, (const char *[]){"\xed\xa0\x80"}, 1));
    assert_null(ride_counter_get(f, (const char *[]){"\xe2\x82"}, 1));
    ride_metrics_free(m);
}

static void expect_rejected(ride_metric_family *fam, const char *err, const char *part)
{
    assert_null(fam);
    if (strstr(err, part) == NULL)
        print_error("error '%s' does not mention '%s'\n", err, part);
    assert_non_null(strstr(err, part));
}

static void test_invalid_definitions(void **state)
{
    (void)state;
    char err[256];
    ride_metrics *m = new_registry();
    static const double buckets[] = {0.1, 1};
    static const struct {
        const char *name;
        const char *part;
    } bad_gauges[] = {
        {"frames", "invalid metric name"},     {"ride_", "invalid metric name"},
        {"ride_Frames", "invalid metric name"}, {"ride_a:b", "invalid metric name"},
        {"ride_a-b", "invalid metric name"},   {"ride_x_total", "reserved"},
        {"ride_x_count", "reserved"},          {"ride_x_bucket", "reserved"},
        {"ride_x_sum", "reserved"},
    };
    for (size_t i = 0; i < sizeof bad_gauges / sizeof bad_gauges[0]; i++)
        expect_rejected(ride_metrics_gauge(m, bad_gauges[i].name, "h", NULL, 0, err, sizeof err),
                        err, bad_gauges[i].part);
    expect_rejected(ride_metrics_gauge(m, NULL, "h", NULL, 0, err, sizeof err), err,
                    "invalid metric name");
    expect_rejected(ride_metrics_counter(m, "ride_frames", "h", NULL, 0, err, sizeof err), err,
                    "_total");

    static const char *const bad_labels[] = {"App", "1st", "__x", "a-b", ""};
    for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++)
        expect_rejected(ride_metrics_gauge(m, "ride_g", "h", &bad_labels[i], 1, err, sizeof err),
                        err, "invalid label name");
    expect_rejected(ride_metrics_gauge(m, "ride_g", "h", (const char *[]){"a", "a"}, 2, err,
                                       sizeof err),
                    err, "twice");
    expect_rejected(ride_metrics_gauge(m, "ride_g", "h", NULL, 1, err, sizeof err), err,
                    "label names expected");
    expect_rejected(ride_metrics_histogram(m, "ride_h_seconds", "h", (const char *[]){"le"}, 1,
                                           buckets, 2, err, sizeof err),
                    err, "reserved");
    expect_rejected(ride_metrics_gauge(m, "ride_g", "", NULL, 0, err, sizeof err), err,
                    "help text");
    expect_rejected(ride_metrics_gauge(m, "ride_g", "\xff", NULL, 0, err, sizeof err), err,
                    "help text");

    expect_rejected(ride_metrics_histogram(m, "ride_h_seconds", "h", NULL, 0, buckets, 0, err,
                                           sizeof err),
                    err, "at least one");
    expect_rejected(ride_metrics_histogram(m, "ride_h_seconds", "h", NULL, 0,
                                           (const double[]){1, 1}, 2, err, sizeof err),
                    err, "strictly increasing");
    expect_rejected(ride_metrics_histogram(m, "ride_h_seconds", "h", NULL, 0,
                                           (const double[]){1, INFINITY}, 2, err, sizeof err),
                    err, "finite");
    expect_rejected(ride_metrics_histogram(m, "ride_h_seconds", "h", NULL, 0,
                                           (const double[]){NAN}, 1, err, sizeof err),
                    err, "finite");

    /* Same definition again: the same family; any difference: an error. */
    ride_metric_family *f = ride_metrics_gauge(m, "ride_g", "h", app_stage, 2, err, sizeof err);
    assert_non_null(f);
    assert_ptr_equal(ride_metrics_gauge(m, "ride_g", "other help", app_stage, 2, err, sizeof err),
                     f);
    expect_rejected(ride_metrics_gauge(m, "ride_g", "h", app_stage, 1, err, sizeof err), err,
                    "already registered");
    expect_rejected(ride_metrics_histogram(m, "ride_g", "h", app_stage, 2, buckets, 2, err,
                                           sizeof err),
                    err, "already registered");
    ride_metric_family *h = ride_metrics_histogram(m, "ride_h_seconds", "h", NULL, 0, buckets, 2,
                                                   err, sizeof err);
    assert_non_null(h);
    expect_rejected(ride_metrics_histogram(m, "ride_h_seconds", "h", NULL, 0,
                                           (const double[]){0.1, 2}, 2, err, sizeof err),
                    err, "already registered");

    /* Lookups with the wrong kind or label count, or a NULL value, fail cleanly. */
    assert_null(ride_counter_get(f, (const char *[]){"a", "b"}, 2));
    assert_null(ride_gauge_get(f, (const char *[]){"a"}, 1));
    assert_null(ride_gauge_get(f, (const char *[]){"a", NULL}, 2));
    assert_null(ride_gauge_get(f, NULL, 2));
    assert_null(ride_gauge_get(NULL, NULL, 0));
    assert_int_equal(ride_metric_family_remove(f, (const char *[]){"a"}, 1), -1);
    assert_null(ride_metrics_render(NULL, NULL));

    /* Nothing invalid was registered. */
    expect_render(m, "# HELP ride_g h\n# TYPE ride_g gauge\n"
                     "# HELP ride_h_seconds h\n# TYPE ride_h_seconds histogram\n"
                     "ride_h_seconds_bucket{le=\"0.1\"} 0\n"
                     "ride_h_seconds_bucket{le=\"1\"} 0\n"
                     "ride_h_seconds_bucket{le=\"+Inf\"} 0\n"
                     "ride_h_seconds_sum 0\n"
                     "ride_h_seconds_count 0\n");
    ride_metrics_free(m);
}

#define THREADS 8
#define PER_THREAD 100000

typedef struct worker_arg {
    ride_metric_family *counters;
    ride_metric_family *gauges;
    ride_metric_family *hist;
    int index;
} worker_arg;

/* Half the increments go through a kept pointer, half through a lookup each time,
 * so both the atomics and the lookup's locking are exercised. */
static void *increment(void *p)
{
    worker_arg *a = p;
    const char *values[] = {"shared"};
    ride_counter *c = ride_counter_get(a->counters, values, 1);
    ride_gauge *g = ride_gauge_get(a->gauges, values, 1);
    ride_histogram *h = ride_histogram_get(a->hist, values, 1);
    char own[16];
    snprintf(own, sizeof own, "t%d", a->index);
    for (int i = 0; i < PER_THREAD; i++) {
        if (i % 2 == 0)
            ride_counter_inc(c);
        else
            ride_counter_inc(ride_counter_get(a->counters, values, 1));
        if (i % 1000 == 0)
            ride_counter_inc(ride_counter_get(a->counters, (const char *[]){own}, 1));
        ride_gauge_add(g, 0.5);
        ride_histogram_observe(h, (i % 4) * 0.5);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    ride_metrics *m = new_registry();
    static const double buckets[] = {0.25, 0.75};
    const char *labels[] = {"who"};
    worker_arg args[THREADS];
    pthread_t threads[THREADS];
    ride_metric_family *counters = ride_metrics_counter(m, "ride_ops_total", "o", labels, 1,
                                                        NULL, 0);
    ride_metric_family *gauges = ride_metrics_gauge(m, "ride_level", "l", labels, 1, NULL, 0);
    ride_metric_family *hist = ride_metrics_histogram(m, "ride_op_seconds", "s", labels, 1,
                                                      buckets, 2, NULL, 0);
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){counters, gauges, hist, i};
        assert_int_equal(pthread_create(&threads[i], NULL, increment, &args[i]), 0);
    }
    /* Renderings while the threads run see consistent histograms (count = +Inf). */
    for (int i = 0; i < 20; i++) {
        char *text = render(m);
        const char *inf = strstr(text, "le=\"+Inf\"} ");
        const char *count = strstr(text, "ride_op_seconds_count{who=\"shared\"} ");
        if (inf != NULL && count != NULL)
            assert_int_equal(strtoull(inf + strlen("le=\"+Inf\"} "), NULL, 10),
                             strtoull(strchr(count, ' ') + 1, NULL, 10));
        free(text);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);

    const char *shared[] = {"shared"};
    assert_int_equal(ride_counter_value(ride_counter_get(counters, shared, 1)),
                     (uint64_t)THREADS * PER_THREAD);
    for (int i = 0; i < THREADS; i++) {
        char own[16];
        snprintf(own, sizeof own, "t%d", i);
        assert_int_equal(ride_counter_value(ride_counter_get(counters, (const char *[]){own}, 1)),
                         PER_THREAD / 1000);
    }
    /* Halves add exactly in binary floating point, so the CAS loop lost nothing. */
    assert_true(ride_gauge_value(ride_gauge_get(gauges, shared, 1)) ==
                THREADS * PER_THREAD * 0.5);
    ride_histogram *h = ride_histogram_get(hist, shared, 1);
    assert_int_equal(ride_histogram_count(h), (uint64_t)THREADS * PER_THREAD);
    assert_true(ride_histogram_sum(h) == THREADS * (PER_THREAD / 4) * (0 + 0.5 + 1 + 1.5));

    char *text = render(m);
    assert_non_null(strstr(text, "ride_op_seconds_bucket{who=\"shared\",le=\"0.25\"} 200000\n"
                                 "ride_op_seconds_bucket{who=\"shared\",le=\"0.75\"} 400000\n"
                                 "ride_op_seconds_bucket{who=\"shared\",le=\"+Inf\"} 800000\n"
                                 "ride_op_seconds_sum{who=\"shared\"} 600000\n"
                                 "ride_op_seconds_count{who=\"shared\"} 800000\n"));
    free(text);
    ride_metrics_free(m);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    size_t n;
    const double *latency = ride_metrics_latency_buckets(&n);
    assert_int_equal(n, 13);
    assert_true(latency[0] == 0.001 && latency[n - 1] == 10);
    ride_metrics *m = new_registry();
    ride_metric_family *f = ride_metrics_histogram(m, "ride_frame_latency_seconds", "l", NULL, 0,
                                                   latency, n, NULL, 0);
    ride_histogram *h = ride_histogram_get(f, NULL, 0);
    assert_non_null(h);
    int observed = 0;
    for (double v = -1; v < 30; v += 0.0173, observed++)
        ride_histogram_observe(h, v);
    ride_histogram_observe(h, NAN);
    assert_int_equal(ride_histogram_count(h), observed);

    /* Every bucket line is cumulative (never decreasing), the +Inf bucket and _count
     * equal the number of observations. */
    char *text = render(m);
    uint64_t previous = 0;
    size_t buckets = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "ride_frame_latency_seconds_bucket", 33) == 0) {
            uint64_t v = strtoull(strrchr(line, ' ') + 1, NULL, 10);
            assert_true(v >= previous);
            previous = v;
            buckets++;
            if (strstr(line, "le=\"+Inf\"") != NULL)
                assert_int_equal(v, observed);
        } else if (strncmp(line, "ride_frame_latency_seconds_count ", 33) == 0) {
            assert_int_equal(strtoull(line + 33, NULL, 10), observed);
        }
    }
    assert_int_equal(buckets, n + 1);
    free(text);
    ride_metrics_free(m);
}

typedef struct lag_source {
    int calls;
    int partitions; /* the collect callback reports partitions 0..partitions-1 */
} lag_source;

static void collect_lag(ride_metric_family *fam, void *ctx)
{
    lag_source *src = ctx;
    src->calls++;
    ride_metric_family_clear(fam);
    for (int p = 0; p < src->partitions; p++) {
        char part[16];
        snprintf(part, sizeof part, "%d", p);
        ride_gauge_set(ride_gauge_get(fam, (const char *[]){"a", part}, 2), p * 10 + src->calls);
    }
}

static void test_collect_callback(void **state)
{
    (void)state;
    ride_metrics *m = new_registry();
    lag_source src = {.partitions = 2};
    ride_metric_family *f = ride_metrics_gauge(m, "ride_lag_frames", "lag",
                                               (const char *[]){"app", "partition"}, 2, NULL, 0);
    ride_metric_family_set_collect(f, collect_lag, &src);
    expect_render(m, "# HELP ride_lag_frames lag\n# TYPE ride_lag_frames gauge\n"
                     "ride_lag_frames{app=\"a\",partition=\"0\"} 1\n"
                     "ride_lag_frames{app=\"a\",partition=\"1\"} 11\n");
    src.partitions = 1;
    expect_render(m, "# HELP ride_lag_frames lag\n# TYPE ride_lag_frames gauge\n"
                     "ride_lag_frames{app=\"a\",partition=\"0\"} 2\n");
    ride_metric_family_set_collect(f, NULL, NULL);
    expect_render(m, "# HELP ride_lag_frames lag\n# TYPE ride_lag_frames gauge\n"
                     "ride_lag_frames{app=\"a\",partition=\"0\"} 2\n");
    assert_int_equal(src.calls, 2);
    ride_metrics_free(m);
}

static void test_remove_child(void **state)
{
    (void)state;
    ride_metrics *m = new_registry();
    ride_metric_family *f = ride_metrics_counter(m, "ride_frames_processed_total", "p",
                                                 (const char *[]){"partition"}, 1, NULL, 0);
    /* Enough children to grow the hash table several times. */
    for (int p = 0; p < 200; p++) {
        char part[16];
        snprintf(part, sizeof part, "%d", p);
        ride_counter_add(ride_counter_get(f, (const char *[]){part}, 1), (uint64_t)p);
    }
    for (int p = 0; p < 200; p++) {
        char part[16];
        snprintf(part, sizeof part, "%d", p);
        assert_int_equal(ride_counter_value(ride_counter_get(f, (const char *[]){part}, 1)),
                         p);
        if (p != 7 && p != 42)
            assert_int_equal(ride_metric_family_remove(f, (const char *[]){part}, 1), 0);
    }
    assert_int_equal(ride_metric_family_remove(f, (const char *[]){"0"}, 1), -1);
    expect_render(m, "# HELP ride_frames_processed_total p\n"
                     "# TYPE ride_frames_processed_total counter\n"
                     "ride_frames_processed_total{partition=\"42\"} 42\n"
                     "ride_frames_processed_total{partition=\"7\"} 7\n");
    /* A removed child comes back from zero. */
    assert_int_equal(ride_counter_value(ride_counter_get(f, (const char *[]){"0"}, 1)), 0);
    ride_metric_family_clear(f);
    expect_render(m, "# HELP ride_frames_processed_total p\n"
                     "# TYPE ride_frames_processed_total counter\n");
    ride_metrics_free(m);
}

/* A registry with every kind, labels, escapes and special values. */
static ride_metrics *full_registry(void)
{
    ride_metrics *m = new_registry();
    size_t n;
    const double *latency = ride_metrics_latency_buckets(&n);
    ride_metric_family *dropped = ride_metrics_counter(
        m, "ride_frames_dropped_total", "Frames dropped, by reason.",
        (const char *[]){"app", "stage", "reason"}, 3, NULL, 0);
    ride_counter_add(ride_counter_get(dropped, (const char *[]){"a", "s", "bad_payload_crc"}, 3),
                     5);
    ride_counter_inc(ride_counter_get(dropped, (const char *[]){"a\"q", "s\\\n", "x"}, 3));
    ride_metric_family *lag = ride_metrics_gauge(m, "ride_consumer_lag_frames",
                                                 "Frames behind \"log end\"\nper partition.",
                                                 (const char *[]){"app", "partition"}, 2, NULL, 0);
    ride_gauge_set(ride_gauge_get(lag, (const char *[]){"a", "0"}, 2), 12);
    ride_gauge_set(ride_gauge_get(lag, (const char *[]){"a", "1"}, 2), 0.1);
    ride_gauge_set(ride_gauge_get(lag, (const char *[]){"a", "2"}, 2), NAN);
    ride_gauge_set(ride_gauge_get(lag, (const char *[]){"a", "3"}, 2), -INFINITY);
    ride_gauge_set(ride_gauge_get(ride_metrics_gauge(m, "ride_worker_up", "Up.", NULL, 0, NULL, 0),
                                  NULL, 0),
                   1);
    ride_metric_family *lat = ride_metrics_histogram(m, "ride_frame_latency_seconds",
                                                     "Capture to stage done.", app_stage, 2,
                                                     latency, n, NULL, 0);
    ride_histogram *h = ride_histogram_get(lat, (const char *[]){"a", "s"}, 2);
    for (int i = 0; i < 100; i++)
        ride_histogram_observe(h, i * 0.137);
    ride_histogram_get(lat, (const char *[]){"b", "s"}, 2);
    ride_metrics_counter(m, "ride_failovers_total", "No children yet.", app_stage, 1, NULL, 0);
    ride_metric_family *cpu = ride_metrics_counter_seconds(m, "ride_worker_cpu_seconds_total",
                                                           "CPU time.", NULL, 0, NULL, 0);
    ride_counter_add(ride_counter_get(cpu, NULL, 0), 1234567);
    return m;
}

/* Writes text to promtool's stdin; returns its exit status. */
static int promtool_check(const char *text)
{
    FILE *p = popen(PROMTOOL " check metrics", "w");
    assert_non_null(p);
    fputs(text, p);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_promtool_accepts(void **state)
{
    (void)state;
    if (access(PROMTOOL, X_OK) != 0) {
        print_message("skipped: " PROMTOOL " not found (package prometheus)\n");
        skip();
        return;
    }
    ride_metrics *m = full_registry();
    char *text = render(m);
    assert_int_equal(promtool_check(text), 0);
    free(text);
    ride_metrics_free(m);
    /* The check can fail: a counter without _total (which the registry refuses to
     * produce) is a lint problem. */
    assert_int_not_equal(promtool_check("# HELP x_y x\n# TYPE x_y counter\nx_y 1\n"), 0);
}

typedef struct server {
    uv_loop_t loop;
    uv_async_t stop;
    ride_http_server *srv;
    pthread_t thread;
} server;

static void *run_loop(void *arg)
{
    server *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_stop(uv_async_t *async)
{
    server *s = async->data;
    ride_http_server_free(s->srv);
    uv_close((uv_handle_t *)async, NULL);
}

/* The response head of a raw GET (ride_http_client does not expose headers). */
static void raw_get_head(int port, char *head, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval timeout = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    size_t got = 0;
    ssize_t n;
    while (got < len - 1 && (n = read(fd, head + got, len - 1 - got)) > 0)
        got += (size_t)n;
    head[got] = '\0';
    close(fd);
    char *end = strstr(head, "\r\n\r\n");
    assert_non_null(end);
    *end = '\0';
}

static void test_serve(void **state)
{
    (void)state;
    char err[256], url[128];
    ride_metrics *m = full_registry();
    server s;
    memset(&s, 0, sizeof s);
    assert_int_equal(uv_loop_init(&s.loop), 0);
    s.srv = ride_http_server_new(&s.loop, "127.0.0.1:0", NULL, err, sizeof err);
    assert_non_null(s.srv);
    assert_int_equal(ride_metrics_serve(m, s.srv), 0);
    assert_int_equal(ride_metrics_serve(NULL, s.srv), -1);
    assert_int_equal(ride_http_server_start(s.srv, err, sizeof err), 0);
    uv_async_init(&s.loop, &s.stop, on_stop);
    s.stop.data = &s;
    assert_int_equal(pthread_create(&s.thread, NULL, run_loop, &s), 0);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", ride_http_server_port(s.srv));
    ride_http_client_request req = {.url = url, .timeout_ms = 5000};
    ride_http_client_response res;
    int rc = ride_http_client_do(&req, &res, err, sizeof err);
    if (rc != RIDE_HTTP_CLIENT_OK)
        print_error("GET %s: %s\n", url, err);
    assert_int_equal(rc, RIDE_HTTP_CLIENT_OK);
    assert_int_equal(res.status, 200);
    char *expected = render(m);
    assert_string_equal(res.body, expected);
    assert_int_equal(res.body_len, strlen(expected));
    free(expected);
    free(res.body);

    char head[65536];
    raw_get_head(ride_http_server_port(s.srv), head, sizeof head);
    assert_non_null(strstr(head, "HTTP/1.1 200"));
    assert_non_null(strstr(head, "\r\nContent-Type: " RIDE_METRICS_CONTENT_TYPE "\r\n"));

    req.method = "POST";
    assert_int_equal(ride_http_client_do(&req, &res, err, sizeof err), RIDE_HTTP_CLIENT_OK);
    assert_int_equal(res.status, 405);
    free(res.body);

    uv_async_send(&s.stop);
    pthread_join(s.thread, NULL);
    assert_int_equal(uv_loop_close(&s.loop), 0);
    ride_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_every_kind),
        cmocka_unit_test(test_values_and_formatting),
        cmocka_unit_test(test_counter_of_seconds),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_invalid_definitions),
        cmocka_unit_test(test_concurrent_updates),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_collect_callback),
        cmocka_unit_test(test_remove_child),
        cmocka_unit_test(test_promtool_accepts),
        cmocka_unit_test(test_serve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
