/* harness_cluster.c - a RIDE cluster of real processes for integration tests. */
#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ride_harness_cluster.h"
#include "cluster/cluster.h"
#include "http/http_client.h"

#define BIN(name) RIDE_BIN_DIR "/" name

ride_cluster_fx *ride_cluster_fx_new(const char *name)
{
    static int instance;
    ride_cluster_fx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    assert_non_null(fx->dir = ride_harness_tempdir("ride-cluster-"));
    snprintf(fx->connect, sizeof fx->connect, "%s/%s%d",
             ride_harness_zk_connect(ride_harness_zk_shared()), name, instance++);
    snprintf(fx->token_file, sizeof fx->token_file, "%s/token", fx->dir);
    assert_int_equal(ride_harness_write_file(fx->token_file, RIDE_CLUSTER_TOKEN "\n"), 0);
    chmod(fx->token_file, 0600);
    char err[512];
    ride_zk_options zo = {.connect = fx->connect};
    if (ride_zk_connect(&zo, &fx->zk, err, sizeof err) != RIDE_ZK_OK)
        fail_msg("zookeeper %s: %s", fx->connect, err);
    return fx;
}

void ride_cluster_fx_free(ride_cluster_fx *fx)
{
    if (!fx)
        return;
    ride_zk_close(fx->zk);
    ride_harness_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
}

static ride_proc *spawn(ride_cluster_fx *fx, const char *id, const char *const *argv)
{
    char log[700];
    snprintf(log, sizeof log, "%s/%s-%d.log", fx->dir, id, fx->spawned++);
    ride_proc *p = ride_harness_spawn(argv, NULL, log);
    assert_non_null(p);
    return p;
}

static void write_config(ride_cluster_fx *fx, const char *id, const char *extra, char *path,
                         size_t len)
{
    char yaml[1536];
    snprintf(path, len, "%s/%s.yaml", fx->dir, id);
    int n = snprintf(yaml, sizeof yaml,
                     "zookeeper:\n  connect: \"%s\"\nmetrics:\n  listen: \"127.0.0.1:0\"\n%s",
                     fx->connect, extra);
    assert_true(n > 0 && (size_t)n < sizeof yaml);
    assert_int_equal(ride_harness_write_file(path, yaml), 0);
}

void ride_cluster_fx_use_kafka(ride_cluster_fx *fx, const char *bootstrap,
                               const char *master_extra)
{
    snprintf(fx->kafka, sizeof fx->kafka, "%s", bootstrap);
    snprintf(fx->master_extra, sizeof fx->master_extra, "%s", master_extra ? master_extra : "");
}

void ride_cluster_fx_kafka_props(ride_cluster_fx *fx, const ride_kv *props, size_t count)
{
    fx->kafka_props = props;
    fx->kafka_prop_count = count;
}

/* The cluster's Kafka properties as lines of a `kafka` mapping. */
static const char *kafka_prop_lines(const ride_cluster_fx *fx, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < fx->kafka_prop_count; i++) {
        int n = snprintf(buf + used, len - used, "  %s: \"%s\"\n", fx->kafka_props[i].key,
                         fx->kafka_props[i].value);
        assert_true(n > 0 && (size_t)n < len - used);
        used += (size_t)n;
    }
    return buf;
}

/* The `kafka` mapping of a worker's or producer's config: "" without properties. */
static const char *member_kafka(const ride_cluster_fx *fx, char *buf, size_t len)
{
    char lines[512];
    snprintf(buf, len, "%s%s", fx->kafka_prop_count ? "kafka:\n" : "",
             kafka_prop_lines(fx, lines, sizeof lines));
    return buf;
}

ride_proc *ride_cluster_fx_master(ride_cluster_fx *fx, const char *id, bool broker_only)
{
    char config[600] = "", extra[1024], lines[512];
    if (fx->kafka[0]) {
        snprintf(extra, sizeof extra, "kafka:\n  bootstrap.servers: \"%s\"\n%s%s", fx->kafka,
                 kafka_prop_lines(fx, lines, sizeof lines), fx->master_extra);
        write_config(fx, id, extra, config, sizeof config);
    }
    const char *argv[] = {BIN("ride-master"), "--zookeeper", fx->connect, "--id", id,
                          "--api-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                          "--token-file", fx->token_file,
                          broker_only ? "--broker-only" : config[0] ? "--config" : NULL,
                          config[0] ? config : NULL, NULL};
    return spawn(fx, id, argv);
}

ride_proc *ride_cluster_fx_worker(ride_cluster_fx *fx, const char *id)
{
    return ride_cluster_fx_labeled_worker(fx, id, NULL);
}

ride_proc *ride_cluster_fx_labeled_worker(ride_cluster_fx *fx, const char *id,
                                          const char *labels)
{
    char config[600], extra[1100], kafka[600];
    snprintf(extra, sizeof extra, "%sworker:\n  threads: 1\n%s%s%s%s",
             member_kafka(fx, kafka, sizeof kafka), labels ? "  labels: " : "",
             labels ? labels : "", labels ? "\n" : "", fx->worker_extra);
    write_config(fx, id, extra, config, sizeof config);
    const char *argv[] = {BIN("ride-worker"), "--config", config, "--id", id, NULL};
    return spawn(fx, id, argv);
}

ride_proc *ride_cluster_fx_producer(ride_cluster_fx *fx, const char *id)
{
    return ride_cluster_fx_chunking_producer(fx, id, 0);
}

ride_proc *ride_cluster_fx_chunking_producer(ride_cluster_fx *fx, const char *id,
                                             int max_message_bytes)
{
    char config[600], extra[900], kafka[600];
    int n = snprintf(extra, sizeof extra, "%sproducer:\n  id: \"%s\"\n",
                     member_kafka(fx, kafka, sizeof kafka), id);
    if (max_message_bytes > 0)
        snprintf(extra + n, sizeof extra - (size_t)n, "  message_max_bytes: %d\n",
                 max_message_bytes);
    write_config(fx, id, extra, config, sizeof config);
    const char *argv[] = {BIN("ride-producer"), "-c", config, NULL};
    return spawn(fx, id, argv);
}

void ride_cluster_fx_workers(ride_cluster_fx *fx, int count, ride_proc **procs, int timeout_ms)
{
    for (int i = 0; i < count; i++) {
        char id[16];
        snprintf(id, sizeof id, "w%d", i + 1);
        ride_proc *p = ride_cluster_fx_worker(fx, id);
        if (procs)
            procs[i] = p;
    }
    ride_cluster_fx_wait_members(fx, true, (size_t)count, timeout_ms);
}

ride_cluster_fx *ride_cluster_fx_start(const char *name, int workers, ride_proc **procs,
                                       int timeout_ms)
{
    return ride_cluster_fx_start_on(name, NULL, NULL, workers, procs, timeout_ms);
}

ride_cluster_fx *ride_cluster_fx_start_on(const char *name, const char *bootstrap,
                                          const char *master_extra, int workers,
                                          ride_proc **procs, int timeout_ms)
{
    ride_cluster_fx *fx = ride_cluster_fx_new(name);
    if (bootstrap)
        ride_cluster_fx_use_kafka(fx, bootstrap, master_extra);
    ride_cluster_fx_master(fx, "m1", false);
    ride_cluster_fx_wait_api(fx, NULL, timeout_ms);
    ride_cluster_fx_workers(fx, workers, procs, timeout_ms);
    return fx;
}

int ride_cluster_fx_run(ride_cluster_fx *fx, const char *name, const char *const argv[],
                        char **out, int timeout_ms)
{
    return ride_harness_run(argv, NULL, fx->dir, name, timeout_ms, out);
}

void ride_cluster_fx_print_logs(const ride_cluster_fx *fx)
{
    DIR *d = opendir(fx->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0)
            continue;
        char path[700];
        snprintf(path, sizeof path, "%s/%s", fx->dir, e->d_name);
        char *log = ride_harness_read_file(path, NULL);
        fprintf(stderr, "---- %s ----\n%s\n", e->d_name, log ? log : "(none)");
        free(log);
    }
    if (d)
        closedir(d);
}

void ride_cluster_fx_fail(const ride_cluster_fx *fx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ride_cluster_fx_print_logs(fx);
    fail_msg("%s", msg);
    abort();
}

/* ---- discovery ---- */

typedef struct api_probe {
    ride_cluster_fx *fx;
    const char *not_leader;
} api_probe;

static bool read_api(void *ctx)
{
    api_probe *ap = ctx;
    ride_cluster_fx *fx = ap->fx;
    char *data = NULL;
    size_t len = 0;
    char err[512];
    bool ok = false;
    ride_cluster_api api;
    if (ride_zk_get(fx->zk, RIDE_CLUSTER_PATH_API, &data, &len, NULL) == RIDE_ZK_OK &&
        ride_cluster_api_decode(RIDE_CLUSTER_PATH_API, data, len, &api, err, sizeof err) == 0) {
        if (!ap->not_leader || strcmp(api.master, ap->not_leader) != 0) {
            snprintf(fx->api, sizeof fx->api, "%s", api.url);
            snprintf(fx->leader, sizeof fx->leader, "%s", api.master);
            ok = true;
        }
        ride_cluster_api_free(&api);
    }
    free(data);
    data = NULL;
    ride_cluster_kafka k;
    if (ok && ride_zk_get(fx->zk, RIDE_CLUSTER_PATH_KAFKA, &data, &len, NULL) == RIDE_ZK_OK &&
        ride_cluster_kafka_decode(RIDE_CLUSTER_PATH_KAFKA, data, len, &k, err, sizeof err) == 0) {
        snprintf(fx->bootstrap, sizeof fx->bootstrap, "%s", k.bootstrap_servers);
        fx->embedded = k.embedded;
        ride_cluster_kafka_free(&k);
    } else {
        ok = false;
    }
    free(data);
    return ok;
}

void ride_cluster_fx_wait_api(ride_cluster_fx *fx, const char *not_leader, int timeout_ms)
{
    api_probe ap = {fx, not_leader};
    if (!ride_harness_wait_until(read_api, &ap, timeout_ms))
        ride_cluster_fx_fail(fx, "no leader%s%s published its API and Kafka within %d ms",
                             not_leader ? " other than " : "", not_leader ? not_leader : "",
                             timeout_ms);
}

typedef struct members_probe {
    ride_cluster_fx *fx;
    bool workers;
    size_t count;
} members_probe;

static bool enough_members(void *ctx)
{
    members_probe *mp = ctx;
    ride_zk_strings s = {0};
    const char *dir = mp->workers ? RIDE_CLUSTER_PATH_WORKERS : RIDE_CLUSTER_PATH_PRODUCERS;
    bool ok = ride_zk_get_children(mp->fx->zk, dir, &s) == RIDE_ZK_OK && s.count >= mp->count;
    ride_zk_strings_free(&s);
    return ok;
}

void ride_cluster_fx_wait_members(ride_cluster_fx *fx, bool workers, size_t count,
                                  int timeout_ms)
{
    members_probe mp = {fx, workers, count};
    if (!ride_harness_wait_until(enough_members, &mp, timeout_ms))
        ride_cluster_fx_fail(fx, "fewer than %zu %s registered within %d ms", count,
                             workers ? "workers" : "producers", timeout_ms);
}

/* ---- the control API ---- */

int ride_cluster_fx_call(ride_cluster_fx *fx, const char *method, const char *path,
                         const char *payload, const char *token, char **body)
{
    char url[600], err[512];
    snprintf(url, sizeof url, "%s%s", fx->api, path);
    ride_http_client_request req = {.url = url,
                                    .method = method,
                                    .token = token,
                                    .body = payload,
                                    .body_len = payload ? strlen(payload) : 0,
                                    .content_type = "application/yaml",
                                    .timeout_ms = 10000};
    ride_http_client_response res = {0};
    if (ride_http_client_do(&req, &res, err, sizeof err) != RIDE_HTTP_CLIENT_OK)
        ride_cluster_fx_fail(fx, "%s %s: %s", method, url, err);
    if (body)
        *body = res.body;
    else
        free(res.body);
    return res.status;
}

json_t *ride_cluster_fx_get(ride_cluster_fx *fx, const char *path)
{
    char *body = NULL;
    int status = ride_cluster_fx_call(fx, "GET", path, NULL, NULL, &body);
    json_error_t jerr;
    json_t *j = status == 200 ? json_loads(body, 0, &jerr) : NULL;
    if (!j)
        ride_cluster_fx_fail(fx, "GET %s: HTTP %d %s", path, status, body ? body : "");
    free(body);
    return j;
}

int ride_cluster_fx_apply(ride_cluster_fx *fx, const char *yaml, char **body)
{
    return ride_cluster_fx_call(fx, "POST", "/v1/apps", yaml, RIDE_CLUSTER_TOKEN, body);
}

const char *ride_cluster_app_manifest(const ride_cluster_app *app, char *buf, size_t len)
{
    char workers[64], sd[256] = "", delivery[64] = "", topics[256] = "";
    const char *size = app->size ? app->size : "160x120";
    if (app->delivery)
        snprintf(delivery, sizeof delivery, "  delivery: %s\n", app->delivery);
    snprintf(workers, sizeof workers, "{min: 1, max: %d, spares: %d}", app->max_workers,
             app->spares);
    if (app->stddev)
        snprintf(sd, sizeof sd,
                 "    - name: sd\n"
                 "      input: [gray]\n"
                 "      task: stddev\n"
                 "      params: {ksize: 5}\n"
                 "      partitions: %d\n"
                 "      workers: %s\n",
                 app->partitions, workers);
    if (app->topics)
        snprintf(topics, sizeof topics, "  topics: %s\n", app->topics);
    int n = snprintf(buf, len,
                     "apiVersion: ride/v1\n"
                     "kind: Application\n"
                     "metadata: {name: %s}\n"
                     "spec:\n"
                     "%s"
                     "  sources:\n"
                     "    - {name: cam0, uri: \"synthetic:%s@%d\"}\n"
                     "    - {name: cam1, uri: \"synthetic:%s@%d\"}\n"
                     "  stages:\n"
                     "    - name: gray\n"
                     "      input: [cam0, cam1]\n"
                     "      task: grayscale\n"
                     "      partitions: %d\n"
                     "      workers: %s\n"
                     "%s"
                     "  sink: {type: kafka, stage: %s%s%s}\n"
                     "%s",
                     app->name, delivery, size, app->fps, size, app->fps, app->partitions,
                     workers, sd, app->stddev ? "sd" : "gray",
                     app->sink_group ? ", group: " : "", app->sink_group ? app->sink_group : "",
                     topics);
    assert_true(n > 0 && (size_t)n < len);
    return buf;
}

void ride_cluster_fx_run_app(ride_cluster_fx *fx, const ride_cluster_app *app, int timeout_ms)
{
    char buf[2048], *body = NULL;
    const char *yaml = ride_cluster_app_manifest(app, buf, sizeof buf);
    int status = ride_cluster_fx_apply(fx, yaml, &body);
    if (status != 201)
        ride_cluster_fx_fail(fx, "apply %s: HTTP %d %s", app->name, status, body ? body : "");
    free(body);
    ride_cluster_fx_wait_owned(fx, app->name, timeout_ms);
}

typedef struct owned_probe {
    ride_cluster_fx *fx;
    const char *app;
} owned_probe;

static bool all_owned(void *ctx)
{
    owned_probe *op = ctx;
    char path[256];
    snprintf(path, sizeof path, "/v1/apps/%s", op->app);
    char *body = NULL;
    if (ride_cluster_fx_call(op->fx, "GET", path, NULL, NULL, &body) != 200) {
        free(body);
        return false;
    }
    json_error_t jerr;
    json_t *j = json_loads(body, 0, &jerr);
    free(body);
    bool ok = j && strcmp(json_string_value(json_object_get(j, "phase")), "running") == 0 &&
              json_integer_value(json_object_get(j, "owned")) ==
                  json_integer_value(json_object_get(j, "partitions"));
    json_decref(j);
    return ok;
}

void ride_cluster_fx_wait_owned(ride_cluster_fx *fx, const char *app, int timeout_ms)
{
    owned_probe op = {fx, app};
    if (!ride_harness_wait_until(all_owned, &op, timeout_ms))
        ride_cluster_fx_fail(fx, "application %s not running with every partition owned "
                             "within %d ms", app, timeout_ms);
}

const char *ride_cluster_fx_owner(ride_cluster_fx *fx, const char *app, const char *stage,
                                  int partition, char *buf, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/partitions?app=%s", app);
    json_t *j = ride_cluster_fx_get(fx, path);
    json_t *parts = json_object_get(j, "partitions");
    size_t i;
    json_t *p;
    buf[0] = '\0';
    json_array_foreach(parts, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "stage")), stage) == 0 &&
            json_integer_value(json_object_get(p, "partition")) == partition &&
            json_is_string(json_object_get(p, "owner")))
            snprintf(buf, len, "%s", json_string_value(json_object_get(p, "owner")));
    }
    json_decref(j);
    return buf;
}

/* ---- the sink ---- */

static ride_audit_reader *open_reader(ride_cluster_fx *fx, const char *topic, const char *group,
                                      ride_audit_frame_fn on_frame, void *ctx)
{
    char err[512];
    ride_audit_options o = {.bootstrap = fx->bootstrap, .embedded = fx->embedded, .topic = topic,
                            .props = fx->kafka_props, .prop_count = fx->kafka_prop_count,
                            .group = group, .on_frame = on_frame, .ctx = ctx};
    ride_audit_reader *r = ride_audit_reader_new(&o, err, sizeof err);
    if (!r)
        ride_cluster_fx_fail(fx, "reader on %s: %s", topic, err);
    return r;
}

ride_audit_reader *ride_cluster_fx_reader(ride_cluster_fx *fx, const char *topic,
                                          ride_audit_frame_fn on_frame, void *ctx)
{
    return open_reader(fx, topic, NULL, on_frame, ctx);
}

ride_audit_reader *ride_cluster_fx_group_reader(ride_cluster_fx *fx, const char *topic,
                                                const char *group)
{
    return open_reader(fx, topic, group, NULL, NULL);
}

typedef struct flow_probe {
    ride_audit_reader *r;
    uint64_t want;
} flow_probe;

static bool sink_reached(void *ctx)
{
    flow_probe *fp = ctx;
    char err[256];
    ride_audit_reader_poll(fp->r, 50, 0, err, sizeof err);
    ride_seqtrack_stream total;
    ride_seqtrack_totals(ride_audit_reader_seqs(fp->r), &total);
    return total.unique >= fp->want;
}

void ride_cluster_fx_wait_sink(ride_cluster_fx *fx, ride_audit_reader *r, uint64_t more,
                               int timeout_ms)
{
    ride_seqtrack_stream total;
    ride_seqtrack_totals(ride_audit_reader_seqs(r), &total);
    flow_probe fp = {r, total.unique + more};
    if (!ride_harness_wait_until(sink_reached, &fp, timeout_ms))
        ride_cluster_fx_fail(fx, "the sink stopped below %" PRIu64 " frames", fp.want);
}

static void parse_summaries(const char *log, ride_cluster_stream_counts *counts, size_t streams)
{
    for (const char *line = strstr(log, "event=source_summary"); line;
         line = strstr(line + 1, "event=source_summary")) {
        const char *s = strstr(line, " stream=");
        const char *o = strstr(line, " offered=");
        const char *d = strstr(line, " delivered=");
        const char *u = strstr(line, " dropped_delivery_unknown=");
        const char *eol = strchr(line, '\n');
        if (!s || !o || !d || !u || (eol && (s > eol || o > eol || d > eol || u > eol)))
            continue;
        unsigned long stream = strtoul(s + 8, NULL, 10);
        if (stream < streams) {
            counts[stream].offered += strtoull(o + 9, NULL, 10);
            counts[stream].delivered += strtoull(d + 11, NULL, 10);
            counts[stream].unknown += strtoull(u + 26, NULL, 10);
        }
    }
}

void ride_cluster_fx_stop_producer(ride_cluster_fx *fx, ride_proc *p, const char *id,
                                   ride_cluster_stream_counts *counts, size_t streams)
{
    int status = ride_harness_proc_stop(p, 20000);
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        ride_cluster_fx_fail(fx, "producer %s did not stop cleanly (status %d)", id, status);
    memset(counts, 0, streams * sizeof *counts);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s-", id);
    DIR *d = opendir(fx->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || !strstr(e->d_name, ".log"))
            continue;
        char path[700];
        snprintf(path, sizeof path, "%s/%s", fx->dir, e->d_name);
        char *log = ride_harness_read_file(path, NULL);
        if (log)
            parse_summaries(log, counts, streams);
        free(log);
    }
    if (d)
        closedir(d);
}

typedef struct drain_probe {
    ride_audit_reader *r;
    const ride_cluster_stream_counts *counts;
    size_t streams;
} drain_probe;

static bool drained(void *ctx)
{
    drain_probe *dp = ctx;
    char err[256];
    ride_audit_reader_poll(dp->r, 100, 0, err, sizeof err);
    for (size_t s = 0; s < dp->streams; s++) {
        ride_seqtrack_stream st[64];
        size_t n = ride_seqtrack_streams(ride_audit_reader_seqs(dp->r), st, 64);
        uint64_t unique = 0;
        for (size_t i = 0; i < n && i < 64; i++)
            if (st[i].stream == s)
                unique = st[i].unique;
        if (unique < dp->counts[s].delivered)
            return false;
    }
    return true;
}

uint64_t ride_cluster_fx_drain(ride_cluster_fx *fx, ride_audit_reader *r,
                               const ride_cluster_stream_counts *counts, size_t streams,
                               int timeout_ms)
{
    drain_probe dp = {r, counts, streams};
    bool complete = ride_harness_wait_until(drained, &dp, timeout_ms);
    ride_seqtrack_stream st[64];
    size_t n = ride_seqtrack_streams(ride_audit_reader_seqs(r), st, 64);
    uint64_t duplicates = 0;
    for (size_t s = 0; s < streams; s++) {
        uint64_t unique = 0, missing = 0, first = 0, last = 0;
        for (size_t i = 0; i < n && i < 64; i++)
            if (st[i].stream == s) {
                unique = st[i].unique;
                missing = st[i].missing;
                first = st[i].first_seq;
                last = st[i].last_seq;
                duplicates += st[i].duplicates;
            }
        const ride_cluster_stream_counts *c = &counts[s];
        uint64_t dropped = c->offered - c->delivered;
        printf("stream %zu: offered=%" PRIu64 " delivered=%" PRIu64 " dropped=%" PRIu64
               " (delivery_unknown %" PRIu64 ") at_sink=%" PRIu64 " gaps=%" PRIu64
               " seq=%" PRIu64 "..%" PRIu64 "\n",
               s, c->offered, c->delivered, dropped, c->unknown, unique, missing, first, last);
        /* Every delivered frame is at the sink and none beyond the offered ones:
         * the gaps (inside, before the first, after the last) are then the frames
         * the producer counted as dropped, less those of unknown delivery that
         * Kafka kept all the same. */
        if (!complete || unique < c->delivered || unique > c->delivered + c->unknown ||
            c->delivered > c->offered ||
            (unique && last >= c->offered))
            ride_cluster_fx_fail(fx, "stream %zu: %" PRIu64 " of %" PRIu64 " delivered frames at "
                                 "the sink, %" PRIu64 " gaps, %" PRIu64 " counted drops",
                                 s, unique, c->delivered, missing, dropped);
    }
    printf("duplicates=%" PRIu64 " rejected=%" PRIu64 "\n", duplicates,
           ride_audit_reader_rejected(r));
    return duplicates;
}

uint64_t ride_cluster_fx_finish(ride_cluster_fx *fx, ride_audit_reader *r, ride_proc *producer,
                                const char *producer_id, size_t streams, int timeout_ms)
{
    ride_cluster_stream_counts counts[64] = {{0}};
    assert_true(streams <= 64);
    ride_cluster_fx_stop_producer(fx, producer, producer_id, counts, streams);
    uint64_t duplicates = ride_cluster_fx_drain(fx, r, counts, streams, timeout_ms);
    ride_audit_reader_free(r);
    ride_cluster_fx_free(fx);
    return duplicates;
}

int ride_cluster_fx_metrics_port(const ride_cluster_fx *fx, const char *log_name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.log", fx->dir, log_name);
    char *log = ride_harness_read_file(path, NULL);
    const char *hit = log ? strstr(log, "metrics_port=") : NULL;
    int port = hit ? atoi(hit + strlen("metrics_port=")) : 0;
    free(log);
    return port;
}

char *ride_cluster_fx_scrape(const ride_cluster_fx *fx, const char *log_name)
{
    int port = ride_cluster_fx_metrics_port(fx, log_name);
    if (port <= 0)
        return NULL;
    char url[128], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    ride_http_client_request req = {.url = url, .timeout_ms = 5000};
    ride_http_client_response res = {0};
    if (ride_http_client_do(&req, &res, err, sizeof err) != RIDE_HTTP_CLIENT_OK)
        return NULL;
    if (res.status != 200) {
        free(res.body);
        return NULL;
    }
    return res.body;
}

