/* prometheus: the shipped scrape config passes `promtool check config`, and a real
 * Prometheus server scraping a running cluster (master, two workers, producer with a
 * two-stage application, one corrupt message written with kcat so that a drop is
 * counted) through file-based discovery, with one `job` per daemon kind set by the
 * targets file as deploy/prometheus/prometheus.yml does, answers every query of the
 * Grafana dashboard deploy/grafana/ride.json (template variables substituted as
 * Grafana would) with status success and a non-empty result, and every template
 * variable's label_values() with the application and its stages. Skipped (77)
 * without prometheus or promtool. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ride_harness_cluster.h"
#include "base/clock.h"
#include "http/http_client.h"

#define PROMETHEUS "/usr/bin/prometheus"
#define PROMTOOL "/usr/bin/promtool"
#define DASHBOARD RIDE_SOURCE_DIR "/deploy/grafana/ride.json"
#define SCRAPE_CONFIG RIDE_SOURCE_DIR "/deploy/prometheus/prometheus.yml"
#define WAIT_MS 30000
#define STREAMS 2
#define MAX_QUERIES 64

static const ride_cluster_app APP = {
    .name = "prom", .fps = 20, .partitions = 2, .max_workers = 2, .stddev = true};

/* The daemons in spawn order (their logs are <dir>/<log>.log) and the job the targets
 * file gives each. */
static const struct {
    const char *log;
    const char *job;
} DAEMONS[] = {
    {"m1-0", "ride-master"}, {"w1-1", "ride-worker"}, {"w2-2", "ride-worker"},
    {"p1-3", "ride-producer"}};
#define DAEMON_COUNT (sizeof DAEMONS / sizeof *DAEMONS)

/* Grafana's values for the dashboard's variables: one application, both stages
 * selected (a multi-value regex), and intervals for a 1 s scrape. */
static const struct {
    const char *name;
    const char *value;
} VARIABLES[] = {
    {"__rate_interval", "5s"}, {"__interval", "1s"}, {"app", "prom"}, {"stage", "(gray|sd)"}};

typedef struct prom_fx {
    ride_cluster_fx *fx;
    ride_proc *server;
    char base[64]; /* http://127.0.0.1:PORT */
    char dir[700];
} prom_fx;

/* ---- the dashboard ---- */

typedef struct dashboard_queries {
    char *expr[MAX_QUERIES];  /* panel target expressions, variables substituted */
    size_t count;
    char *label_selector[8];  /* a variable's label_values(SELECTOR, LABEL) */
    char *label_name[8];
    size_t labels;
} dashboard_queries;

/* text with every $name of VARIABLES replaced; NULL when a variable is unknown. */
static char *substitute(const char *text)
{
    size_t cap = strlen(text) * 4 + 64, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (const char *p = text; *p;) {
        if (*p != '$') {
            out[n++] = *p++;
            continue;
        }
        size_t len = 0;
        while (isalnum((unsigned char)p[1 + len]) || p[1 + len] == '_')
            len++;
        const char *value = NULL;
        for (size_t v = 0; v < sizeof VARIABLES / sizeof *VARIABLES; v++)
            if (strlen(VARIABLES[v].name) == len && strncmp(p + 1, VARIABLES[v].name, len) == 0)
                value = VARIABLES[v].value;
        if (!value) {
            free(out);
            return NULL;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s", value);
        p += 1 + len;
    }
    out[n] = '\0';
    return out;
}

static void add_expr(dashboard_queries *q, const char *expr)
{
    char *s = substitute(expr);
    if (!s)
        fail_msg("dashboard query uses an unknown variable: %s", expr);
    assert_true(q->count < MAX_QUERIES);
    q->expr[q->count++] = s;
}

/* Panels, and the panels of collapsed rows. */
static void collect_panels(dashboard_queries *q, json_t *panels)
{
    size_t i, k;
    json_t *panel, *target;
    json_array_foreach(panels, i, panel)
    {
        collect_panels(q, json_object_get(panel, "panels"));
        json_array_foreach(json_object_get(panel, "targets"), k, target)
        {
            const char *expr = json_string_value(json_object_get(target, "expr"));
            if (!expr)
                fail_msg("panel \"%s\": a target without expr",
                         json_string_value(json_object_get(panel, "title")));
            add_expr(q, expr);
        }
    }
}

/* label_values(SELECTOR, LABEL) of every query variable. */
static void collect_variables(dashboard_queries *q, json_t *list)
{
    size_t i;
    json_t *var;
    json_array_foreach(list, i, var)
    {
        const char *def = json_string_value(json_object_get(var, "definition"));
        const char *type = json_string_value(json_object_get(var, "type"));
        if (!type || strcmp(type, "query") != 0)
            continue;
        const char *comma = def ? strrchr(def, ',') : NULL;
        if (!def || strncmp(def, "label_values(", 13) != 0 || !comma ||
            def[strlen(def) - 1] != ')')
            fail_msg("variable %s: expected label_values(SELECTOR, LABEL), got %s",
                     json_string_value(json_object_get(var, "name")), def ? def : "nothing");
        assert_true(q->labels < 8);
        char *selector = strndup(def + 13, (size_t)(comma - def - 13));
        const char *label = comma + 1;
        while (*label == ' ')
            label++;
        q->label_selector[q->labels] = substitute(selector);
        if (!q->label_selector[q->labels])
            fail_msg("variable query uses an unknown variable: %s", def);
        q->label_name[q->labels++] = strndup(label, strlen(label) - 1);
        free(selector);
    }
}

static void load_dashboard(dashboard_queries *q)
{
    json_error_t jerr;
    json_t *d = json_load_file(DASHBOARD, 0, &jerr);
    if (!d)
        fail_msg(DASHBOARD ":%d:%d: %s", jerr.line, jerr.column, jerr.text);
    collect_panels(q, json_object_get(d, "panels"));
    collect_variables(q, json_object_get(json_object_get(d, "templating"), "list"));
    json_decref(d);
    assert_true(q->count > 0);
    assert_true(q->labels > 0);
}

static void free_dashboard(dashboard_queries *q)
{
    for (size_t i = 0; i < q->count; i++)
        free(q->expr[i]);
    for (size_t i = 0; i < q->labels; i++) {
        free(q->label_selector[i]);
        free(q->label_name[i]);
    }
}

/* ---- the Prometheus server ---- */

/* Percent-encoding of a query parameter (RFC 3986 unreserved characters kept). */
static void url_encode(const char *s, char *out, size_t len)
{
    size_t n = 0;
    for (; *s && n + 4 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c))
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, len - n, "%%%02X", c);
    }
    assert_true(!*s);
    out[n] = '\0';
}

/* GET base+path: the "data" of a 200 answer with status success (a new reference),
 * else NULL. */
static json_t *prom_get(const prom_fx *pf, const char *path)
{
    char url[8192], err[256];
    snprintf(url, sizeof url, "%s%s", pf->base, path);
    ride_http_client_request req = {.url = url, .timeout_ms = 5000};
    ride_http_client_response res = {0};
    if (ride_http_client_do(&req, &res, err, sizeof err) != RIDE_HTTP_CLIENT_OK)
        return NULL;
    json_t *j = res.status == 200 ? json_loads(res.body, 0, NULL) : NULL;
    free(res.body);
    const char *status = json_string_value(json_object_get(j, "status"));
    json_t *data = status && strcmp(status, "success") == 0 ? json_object_get(j, "data") : NULL;
    json_incref(data);
    json_decref(j);
    return data;
}


static bool ports_logged(void *ctx)
{
    for (size_t d = 0; d < DAEMON_COUNT; d++)
        if (ride_cluster_fx_metrics_port(ctx, DAEMONS[d].log) <= 0)
            return false;
    return true;
}

/* targets/ride.json: one target group per daemon, its job a label as in
 * deploy/prometheus/targets/example.json. */
static void write_targets(prom_fx *pf)
{
    json_t *groups = json_array();
    for (size_t d = 0; d < DAEMON_COUNT; d++) {
        char target[64];
        snprintf(target, sizeof target, "127.0.0.1:%d",
                 ride_cluster_fx_metrics_port(pf->fx, DAEMONS[d].log));
        json_array_append_new(groups, json_pack("{s:[s], s:{s:s}}", "targets", target, "labels",
                                                "job", DAEMONS[d].job));
    }
    char path[800];
    snprintf(path, sizeof path, "%s/targets", pf->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/targets/ride.json", pf->dir);
    assert_int_equal(json_dump_file(groups, path, JSON_INDENT(2)), 0);
    json_decref(groups);
}

static const char CONFIG[] = "global:\n"
                             "  scrape_interval: 1s\n"
                             "  scrape_timeout: 1s\n"
                             "  evaluation_interval: 1s\n"
                             "scrape_configs:\n"
                             "  - job_name: ride\n"
                             "    file_sd_configs:\n"
                             "      - files: [\"targets/*.json\"]\n"
                             "        refresh_interval: 1s\n";

static void start_prometheus(prom_fx *pf)
{
    snprintf(pf->dir, sizeof pf->dir, "%s/prometheus", pf->fx->dir);
    assert_int_equal(mkdir(pf->dir, 0700), 0);
    write_targets(pf);
    char config[800], storage[800], config_arg[850], storage_arg[850], listen_arg[64],
        log[800];
    snprintf(config, sizeof config, "%s/prometheus.yml", pf->dir);
    assert_int_equal(ride_harness_write_file(config, CONFIG), 0);
    snprintf(storage, sizeof storage, "%s/data", pf->dir);
    uint16_t port = ride_harness_free_port();
    snprintf(pf->base, sizeof pf->base, "http://127.0.0.1:%u", port);
    snprintf(config_arg, sizeof config_arg, "--config.file=%s", config);
    snprintf(storage_arg, sizeof storage_arg, "--storage.tsdb.path=%s", storage);
    snprintf(listen_arg, sizeof listen_arg, "--web.listen-address=127.0.0.1:%u", port);
    snprintf(log, sizeof log, "%s/prometheus.log", pf->fx->dir);
    const char *argv[] = {PROMETHEUS, config_arg, storage_arg, listen_arg, NULL};
    pf->server = ride_harness_spawn(argv, NULL, log);
    assert_non_null(pf->server);
}

/* Every daemon is an active target, up, with the job its targets file gave it. */
static bool targets_up(void *ctx)
{
    prom_fx *pf = ctx;
    json_t *data = prom_get(pf, "/api/v1/targets?state=active");
    json_t *active = json_object_get(data, "activeTargets");
    size_t i, up = 0;
    json_t *t;
    json_array_foreach(active, i, t)
    {
        const char *health = json_string_value(json_object_get(t, "health"));
        const char *job = json_string_value(json_object_get(json_object_get(t, "labels"), "job"));
        const char *instance =
            json_string_value(json_object_get(json_object_get(t, "labels"), "instance"));
        for (size_t d = 0; health && job && instance && d < DAEMON_COUNT; d++) {
            char want[64];
            snprintf(want, sizeof want, "127.0.0.1:%d",
                     ride_cluster_fx_metrics_port(pf->fx, DAEMONS[d].log));
            up += strcmp(instance, want) == 0 && strcmp(job, DAEMONS[d].job) == 0 &&
                  strcmp(health, "up") == 0;
        }
    }
    bool all = json_array_size(active) == DAEMON_COUNT && up == DAEMON_COUNT;
    json_decref(data);
    return all;
}

/* ---- the queries ---- */

typedef struct query_probe {
    prom_fx *pf;
    const char *expr;
    size_t min_series;
    bool counts_drops; /* the corrupt message must be among the results */
    json_t *result;    /* the last answer's result */
} query_probe;

/* The sum over the result's series of those whose label has the value. */
static double sum_where(json_t *result, const char *label, const char *value)
{
    double sum = 0;
    size_t i;
    json_t *r;
    json_array_foreach(result, i, r)
    {
        const char *v = json_string_value(json_object_get(json_object_get(r, "metric"), label));
        if (v && strcmp(v, value) == 0)
            sum += atof(json_string_value(json_array_get(json_object_get(r, "value"), 1)));
    }
    return sum;
}

static bool query_answers(void *ctx)
{
    query_probe *qp = ctx;
    char enc[4096], path[4200];
    url_encode(qp->expr, enc, sizeof enc);
    snprintf(path, sizeof path, "/api/v1/query?query=%s", enc);
    json_t *data = prom_get(qp->pf, path);
    json_decref(qp->result);
    qp->result = json_incref(json_object_get(data, "result"));
    json_decref(data);
    return json_array_size(qp->result) >= qp->min_series &&
           (!qp->counts_drops || sum_where(qp->result, "app", APP.name) >= 1);
}

static void print_result(const char *expr, json_t *result)
{
    printf("query %s\n", expr);
    size_t i;
    json_t *r;
    json_array_foreach(result, i, r)
    {
        char *metric = json_dumps(json_object_get(r, "metric"), JSON_COMPACT | JSON_SORT_KEYS);
        printf("  %s %s\n", metric,
               json_string_value(json_array_get(json_object_get(r, "value"), 1)));
        free(metric);
    }
}

/* Waits until the query has a result: a series per worker for the per-worker panel,
 * the corrupt message for the drops panel, one series for any other; fails the test
 * after WAIT_MS. */
static void query(prom_fx *pf, const char *expr)
{
    query_probe qp = {pf, expr, strstr(expr, "by (instance)") ? 2 : 1,
                      strstr(expr, "ride_frames_dropped_total") != NULL, NULL};
    if (!ride_harness_wait_until(query_answers, &qp, WAIT_MS))
        ride_cluster_fx_fail(pf->fx, "dashboard query has no (or too little) result: %s",
                             expr);
    print_result(expr, qp.result);
    json_decref(qp.result);
}

/* The values Prometheus knows for label among the series of selector include want. */
static void expect_label_values(prom_fx *pf, const char *selector, const char *label,
                                const char *const *want, size_t wants)
{
    char enc[1024], path[1200];
    url_encode(selector, enc, sizeof enc);
    snprintf(path, sizeof path, "/api/v1/label/%s/values?match[]=%s", label, enc);
    json_t *values = prom_get(pf, path);
    char *text = json_dumps(values, JSON_COMPACT);
    printf("label_values(%s, %s) = %s\n", selector, label, text ? text : "(no answer)");
    for (size_t w = 0; w < wants; w++) {
        bool found = false;
        size_t i;
        json_t *v;
        json_array_foreach(values, i, v) found |= strcmp(json_string_value(v), want[w]) == 0;
        if (!found)
            ride_cluster_fx_fail(pf->fx, "label_values(%s, %s) lacks %s", selector, label,
                                 want[w]);
    }
    free(text);
    json_decref(values);
}

/* One corrupt message into partition 0 of the first stage: the worker counts it as a
 * dropped frame, which gives the drops panel a series. */
static void write_corrupt_message(ride_cluster_fx *fx)
{
    char path[600], *out = NULL;
    snprintf(path, sizeof path, "%s/garbage.txt", fx->dir);
    assert_int_equal(ride_harness_write_file(path, "RIDF this is not a frame\n"), 0);
    const char *argv[] = {"kcat", "-P", "-b", fx->bootstrap, "-t", "ride.prom.gray",
                          "-p", "0", "-l", path, NULL};
    assert_int_equal(ride_cluster_fx_run(fx, "kcat", argv, &out, WAIT_MS), 0);
    free(out);
}

static void check_scrape_config(ride_cluster_fx *fx)
{
    char *out = NULL;
    const char *argv[] = {PROMTOOL, "check", "config", SCRAPE_CONFIG, NULL};
    int rc = ride_cluster_fx_run(fx, "promtool-check-config", argv, &out, WAIT_MS);
    bool warned = out && strstr(out, "WARNING");
    free(out);
    if (rc != 0 || warned)
        ride_cluster_fx_fail(fx, "promtool check config rejected " SCRAPE_CONFIG);
}

static void test_dashboard_queries(void **state)
{
    (void)state;
    if (access(PROMETHEUS, X_OK) != 0 || access(PROMTOOL, X_OK) != 0)
        skip();
    dashboard_queries q = {0};
    load_dashboard(&q);
    int64_t t0 = ride_clock_mono_ns();

    prom_fx pf = {.fx = ride_cluster_fx_start("prometheus", 2, NULL, WAIT_MS)};
    check_scrape_config(pf.fx);
    ride_cluster_fx_run_app(pf.fx, &APP, WAIT_MS);
    ride_audit_reader *r = ride_cluster_fx_reader(pf.fx, "prom.sd.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(pf.fx, "p1");
    ride_cluster_fx_wait_sink(pf.fx, r, 20, WAIT_MS);
    write_corrupt_message(pf.fx);
    if (!ride_harness_wait_until(ports_logged, pf.fx, WAIT_MS))
        ride_cluster_fx_fail(pf.fx, "a daemon did not log its metrics port");

    start_prometheus(&pf);
    if (!ride_harness_wait_until(targets_up, &pf, WAIT_MS))
        ride_cluster_fx_fail(pf.fx, "Prometheus does not scrape every daemon");
    int64_t t_up = ride_clock_mono_ns();

    for (size_t i = 0; i < q.count; i++)
        query(&pf, q.expr[i]);
    static const char *const app_values[] = {"prom"}, *const stage_values[] = {"gray", "sd"};
    for (size_t i = 0; i < q.labels; i++) {
        bool is_app = strcmp(q.label_name[i], "app") == 0;
        expect_label_values(&pf, q.label_selector[i], q.label_name[i],
                            is_app ? app_values : stage_values, is_app ? 1 : 2);
    }
    int64_t t_done = ride_clock_mono_ns();
    printf("dashboard_queries=%zu variables=%zu targets_up_s=%.1f queries_s=%.1f\n", q.count,
           q.labels, (double)(t_up - t0) / 1e9, (double)(t_done - t_up) / 1e9);

    assert_int_equal(ride_harness_proc_stop(pf.server, 10000), 0);
    free_dashboard(&q);
    ride_cluster_fx_finish(pf.fx, r, producer, "p1", STREAMS, WAIT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dashboard_queries),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
