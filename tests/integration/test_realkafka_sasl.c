/* realkafka SASL: a real broker whose second listener takes SASL_PLAINTEXT with
 * PLAIN and SCRAM-SHA-256/512 and one user. A master, a worker and a producer,
 * each with the credentials in its own config's `kafka` mapping, run a one-stage
 * application on that listener and lose nothing, with PLAIN and with SCRAM; a worker and a producer with a wrong password each
 * log librdkafka's "SASL authentication error" once, keep running without
 * spinning, and log little else; so does a master with a wrong password, whose
 * application says why it is pending. No password reaches a log or ZooKeeper. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ride_harness_cluster.h"

#define USER "ride"
#define PASSWORD "ride-sasl-pw-4711"
#define WRONG_PASSWORD "not-the-pw-0815"
#define AUTH_ERROR "SASL authentication error"
#define WAIT_MS 30000
#define WATCH_MS 10000
#define MAX_AUTH_LINES 3
/* Lines a refused daemon may add while watched: the auth error, "brokers down",
 * a few of its own. A retry storm writes hundreds. */
#define MAX_WATCHED_LINES 20
/* CPU seconds a refused daemon may burn while watched (a spinning one burns
 * about the whole window). */
#define MAX_WATCHED_CPU_MS 3000
#define STREAMS 2

static const ride_kv GOOD[] = {
    {"security.protocol", "SASL_PLAINTEXT", {0, 0}, {0, 0}},
    {"sasl.mechanisms", "PLAIN", {0, 0}, {0, 0}},
    {"sasl.username", USER, {0, 0}, {0, 0}},
    {"sasl.password", PASSWORD, {0, 0}, {0, 0}},
};
static const ride_kv SCRAM[] = {
    {"security.protocol", "SASL_PLAINTEXT", {0, 0}, {0, 0}},
    {"sasl.mechanisms", "SCRAM-SHA-256", {0, 0}, {0, 0}},
    {"sasl.username", USER, {0, 0}, {0, 0}},
    {"sasl.password", PASSWORD, {0, 0}, {0, 0}},
};
static const ride_kv WRONG[] = {
    {"security.protocol", "SASL_PLAINTEXT", {0, 0}, {0, 0}},
    {"sasl.mechanisms", "PLAIN", {0, 0}, {0, 0}},
    {"sasl.username", USER, {0, 0}, {0, 0}},
    {"sasl.password", WRONG_PASSWORD, {0, 0}, {0, 0}},
};
#define PROP_COUNT (sizeof GOOD / sizeof GOOD[0])

static ride_kafka_server *broker;

static int group_setup(void **state)
{
    ride_harness_kafka_require();
    if (ride_harness_zk_group_setup(state))
        return -1;
    broker = ride_harness_kafka_start_sasl(ride_harness_zk_shared(), USER, PASSWORD);
    return broker ? 0 : -1;
}

static int group_teardown(void **state)
{
    ride_harness_kafka_stop(broker);
    return ride_harness_zk_group_teardown(state);
}

/* A cluster whose master uses the SASL listener with these credentials. */
static ride_cluster_fx *sasl_cluster_with(const char *name, const ride_kv *props,
                                          ride_proc **master)
{
    ride_cluster_fx *fx = ride_cluster_fx_new(name);
    ride_cluster_fx_kafka_props(fx, props, PROP_COUNT);
    ride_cluster_fx_use_kafka(fx, ride_harness_kafka_sasl_bootstrap(broker), NULL);
    ride_proc *m = ride_cluster_fx_master(fx, "m1", false);
    if (master)
        *master = m;
    ride_cluster_fx_wait_api(fx, NULL, WAIT_MS);
    return fx;
}

static ride_cluster_fx *sasl_cluster(const char *name)
{
    return sasl_cluster_with(name, GOOD, NULL);
}

/* Every log in the cluster's dir whose name starts with prefix ("" for all),
 * concatenated (malloc'd). */
static char *logs_of(const ride_cluster_fx *fx, const char *prefix)
{
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    char *all = calloc(1, 1);
    size_t used = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || n < 4 ||
            strcmp(e->d_name + n - 4, ".log") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", fx->dir, e->d_name);
        size_t len = 0;
        char *text = ride_harness_read_file(path, &len);
        if (!text)
            continue;
        all = realloc(all, used + len + 1);
        assert_non_null(all);
        memcpy(all + used, text, len);
        used += len;
        all[used] = '\0';
        free(text);
    }
    closedir(d);
    return all;
}

static size_t count_of(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void assert_no_secret_in_logs(const ride_cluster_fx *fx)
{
    char *logs = logs_of(fx, "");
    assert_true(strlen(logs) > 0);
    if (strstr(logs, PASSWORD) || strstr(logs, WRONG_PASSWORD))
        ride_cluster_fx_fail(fx, "a password is in a daemon's log");
    free(logs);
}

/* Every node under path (data included) of the cluster's chroot. */
static void assert_no_secret_below(ride_cluster_fx *fx, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (ride_zk_get(fx->zk, path, &data, &len, NULL) == RIDE_ZK_OK && data) {
        char *text = strndup(data, len);
        if (strstr(text, PASSWORD) || strstr(text, WRONG_PASSWORD) ||
            strstr(text, "sasl.password"))
            ride_cluster_fx_fail(fx, "ZooKeeper node %s holds a secret: %s", path, text);
        free(text);
    }
    free(data);
    ride_zk_strings kids = {0};
    if (ride_zk_get_children(fx->zk, path, &kids) != RIDE_ZK_OK)
        return;
    for (size_t i = 0; i < kids.count; i++) {
        char child[RIDE_ZK_PATH_MAX];
        snprintf(child, sizeof child, "%s/%s", strcmp(path, "/") ? path : "", kids.items[i]);
        assert_no_secret_below(fx, child);
    }
    ride_zk_strings_free(&kids);
}

static void run_pipeline_with(const char *name, const ride_kv *props)
{
    const ride_cluster_app app = {.name = name, .fps = 20, .partitions = 2, .max_workers = 1};
    ride_cluster_fx *fx = sasl_cluster_with(name, props, NULL);
    ride_cluster_fx_workers(fx, 1, NULL, WAIT_MS);
    ride_cluster_fx_run_app(fx, &app, WAIT_MS);
    assert_string_equal(fx->bootstrap, ride_harness_kafka_sasl_bootstrap(broker));

    char sink[96];
    snprintf(sink, sizeof sink, "%s.gray.out", name);
    ride_audit_reader *r = ride_cluster_fx_reader(fx, sink, NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 100, WAIT_MS);
    ride_cluster_stream_counts counts[STREAMS];
    ride_cluster_fx_stop_producer(fx, producer, "p1", counts, STREAMS);
    assert_int_equal(ride_cluster_fx_drain(fx, r, counts, STREAMS, WAIT_MS), 0);

    assert_no_secret_in_logs(fx);
    assert_no_secret_below(fx, "/");
    ride_audit_reader_free(r);
    ride_cluster_fx_free(fx);
}

static void test_pipeline_on_sasl_listener(void **state)
{
    (void)state;
    run_pipeline_with("rksasl", GOOD);
}

static void test_pipeline_with_scram(void **state)
{
    (void)state;
    run_pipeline_with("rkscram", SCRAM);
}

/* CPU time (user + system) of a process in ms, from /proc/PID/stat. */
static int64_t cpu_ms(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    char *stat = ride_harness_read_file(path, NULL);
    assert_non_null(stat);
    /* Fields 14 and 15 follow the command, which ends with the last ')'. */
    const char *p = strrchr(stat, ')');
    unsigned long long utime = 0, stime = 0;
    assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &utime, &stime),
                     2);
    free(stat);
    return (int64_t)((utime + stime) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

typedef struct refused {
    const ride_cluster_fx *fx;
    const char *prefix; /* of its log's name */
    ride_proc *proc;
    size_t lines_before;
    int64_t cpu_before;
} refused;

static bool auth_error_logged(void *ctx)
{
    refused *d = ctx;
    char *log = logs_of(d->fx, d->prefix);
    bool seen = strstr(log, AUTH_ERROR) != NULL;
    free(log);
    return seen;
}

/* True as soon as either daemon has logged too much: the watch must time out. */
static bool storm(void *ctx)
{
    refused *d = ctx;
    for (int i = 0; i < 2; i++) {
        char *log = logs_of(d[i].fx, d[i].prefix);
        bool too_many = count_of(log, AUTH_ERROR) > MAX_AUTH_LINES ||
                        count_of(log, "\n") - d[i].lines_before > MAX_WATCHED_LINES;
        free(log);
        if (too_many)
            return true;
    }
    return false;
}

static void test_wrong_password_one_line_no_spin(void **state)
{
    (void)state;
    static const ride_cluster_app app = {
        .name = "rkbad", .fps = 20, .partitions = 2, .max_workers = 1};
    ride_cluster_fx *fx = sasl_cluster("rkbad");
    ride_cluster_fx_kafka_props(fx, WRONG, PROP_COUNT);
    refused d[2] = {{fx, "wbad-", ride_cluster_fx_worker(fx, "wbad"), 0, 0},
                    {fx, "pbad-", ride_cluster_fx_producer(fx, "pbad"), 0, 0}};
    ride_cluster_fx_wait_members(fx, true, 1, WAIT_MS);
    ride_cluster_fx_wait_members(fx, false, 1, WAIT_MS);
    ride_cluster_fx_run_app(fx, &app, WAIT_MS);
    for (int i = 0; i < 2; i++)
        if (!ride_harness_wait_until(auth_error_logged, &d[i], WAIT_MS))
            ride_cluster_fx_fail(fx, "%s: no \"" AUTH_ERROR "\" line", d[i].prefix);
    for (int i = 0; i < 2; i++) {
        char *log = logs_of(fx, d[i].prefix);
        const char *line = strstr(log, AUTH_ERROR);
        while (line > log && line[-1] != '\n')
            line--;
        printf("%s: %.*s\n", d[i].prefix, (int)strcspn(line, "\n"), line);
        d[i].lines_before = count_of(log, "\n");
        d[i].cpu_before = cpu_ms(ride_harness_proc_pid(d[i].proc));
        free(log);
    }

    if (ride_harness_wait_until(storm, d, WATCH_MS))
        ride_cluster_fx_fail(fx, "a daemon refused by the broker logs too much");
    for (int i = 0; i < 2; i++) {
        if (!ride_harness_proc_alive(d[i].proc))
            ride_cluster_fx_fail(fx, "%s exited", d[i].prefix);
        int64_t cpu = cpu_ms(ride_harness_proc_pid(d[i].proc)) - d[i].cpu_before;
        printf("%s: %" PRId64 " ms of CPU in %d ms refused\n", d[i].prefix, cpu, WATCH_MS);
        if (cpu > MAX_WATCHED_CPU_MS)
            ride_cluster_fx_fail(fx, "%s spins: %" PRId64 " ms of CPU", d[i].prefix, cpu);
    }

    assert_no_secret_in_logs(fx);
    assert_no_secret_below(fx, "/");
    ride_cluster_fx_free(fx);
}

/* The first application's message (GET /v1/apps) names the refused credentials;
 * the call fails the test when the API does not answer. */
static bool app_says_auth_failed(void *ctx)
{
    json_t *apps = ride_cluster_fx_get(ctx, "/v1/apps");
    const char *message = json_string_value(
        json_object_get(json_array_get(json_object_get(apps, "apps"), 0), "message"));
    bool says = message && strstr(message, AUTH_ERROR);
    if (says)
        printf("application message: %s\n", message);
    json_decref(apps);
    return says;
}

/* The master creates the topics with the Admin API: refused credentials are said
 * once, as by the other daemons, the application says why it does not run, and
 * the control API keeps answering while every Kafka request waits for its
 * timeout. */
static void test_master_wrong_password_one_line_no_spin(void **state)
{
    (void)state;
    static const ride_cluster_app app = {
        .name = "rkmbad", .fps = 20, .partitions = 2, .max_workers = 1};
    ride_proc *master = NULL;
    ride_cluster_fx *fx = sasl_cluster_with("rkmbad", WRONG, &master);
    char manifest[4096];
    assert_int_equal(ride_cluster_fx_apply(fx, ride_cluster_app_manifest(&app, manifest,
                                                                         sizeof manifest),
                                           NULL),
                     201);
    refused d[2] = {{fx, "m1-", master, 0, 0}, {fx, "m1-", master, 0, 0}};
    if (!ride_harness_wait_until(auth_error_logged, &d[0], WAIT_MS))
        ride_cluster_fx_fail(fx, "master: no \"" AUTH_ERROR "\" line");
    char *log = logs_of(fx, "m1-");
    d[0].lines_before = d[1].lines_before = count_of(log, "\n");
    d[0].cpu_before = cpu_ms(ride_harness_proc_pid(d[0].proc));
    free(log);
    if (ride_harness_wait_until(storm, d, WATCH_MS))
        ride_cluster_fx_fail(fx, "a master refused by the broker logs too much");
    int64_t cpu = cpu_ms(ride_harness_proc_pid(d[0].proc)) - d[0].cpu_before;
    printf("master: %" PRId64 " ms of CPU in %d ms refused\n", cpu, WATCH_MS);
    assert_true(cpu <= MAX_WATCHED_CPU_MS);
    if (!ride_harness_wait_until(app_says_auth_failed, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "the application does not say why its topics are missing");
    assert_no_secret_in_logs(fx);
    ride_cluster_fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_on_sasl_listener),
        cmocka_unit_test(test_pipeline_with_scram),
        cmocka_unit_test(test_wrong_password_one_line_no_spin),
        cmocka_unit_test(test_master_wrong_password_one_line_no_spin),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
