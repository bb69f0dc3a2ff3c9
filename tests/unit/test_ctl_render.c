/* ridectl's rendering of the control API's answers (docs/control-api.md): the exact
 * text of every table and of describe, nulls shown as <none>, ages, and malformed
 * answers (not JSON objects, missing keys, wrong types) refused with a message
 * naming the field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "ride_test.h"
#include "table.h"

#define NOW 1700000000000LL

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (j == NULL)
        fail_msg("bad test JSON: %s", jerr.text);
    return j;
}

/* Renders text with fn and compares the result exactly. */
static void expect_render(ride_ctl_renderer fn, const char *answer, const char *golden)
{
    char err[512] = "";
    json_t *j = load(answer);
    char *out = fn(j, NOW, err, sizeof err);
    json_decref(j);
    if (out == NULL)
        fail_msg("render failed: %s", err);
    if (strcmp(out, golden) != 0)
        fail_msg("got:\n%s\nexpected:\n%s", out, golden);
    free(out);
}

static void expect_reject(ride_ctl_renderer fn, const char *answer, const char *message)
{
    char err[512] = "";
    json_t *j = load(answer);
    char *out = fn(j, NOW, err, sizeof err);
    json_decref(j);
    if (out != NULL)
        fail_msg("rendered a malformed answer:\n%s", out);
    assert_string_equal(err, message);
}

static void test_table_layout(void **state)
{
    (void)state;
    const char *headers[] = {"NAME", "VALUE", "NOTE"};
    ride_ctl_table *t = ride_ctl_table_new(3, headers);
    assert_non_null(t);
    assert_int_equal(ride_ctl_table_add(t, (const char *[]){"a-long-name", "1", NULL}), 0);
    assert_int_equal(ride_ctl_table_add(t, (const char *[]){"b", "caf\xc3\xa9", "x\ny\x1b"}), 0);
    char *text = ride_ctl_table_render(t, "  ");
    assert_string_equal(text, "  NAME          VALUE   NOTE\n"
                              "  a-long-name   1       <none>\n"
                              "  b             caf\xc3\xa9    x?y?\n");
    free(text);
    ride_ctl_table_free(t);
}

static void test_ages(void **state)
{
    (void)state;
    static const struct {
        long long ms;
        const char *text;
    } cases[] = {{-5, "0ms"},          {0, "0ms"},        {999, "999ms"},       {1000, "1s"},
                 {59999, "59s"},      {60000, "1m"},     {3599999, "59m"},     {3600000, "1h"},
                 {86399999, "23h"},   {86400000, "1d"},  {864000000, "10d"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        ride_ctl_format_age(cases[i].ms, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
}

static void test_apps(void **state)
{
    (void)state;
    expect_render(ride_ctl_render_apps,
                  "{\"apps\": ["
                  "{\"name\": \"cctv-edges\", \"phase\": \"running\", \"generation\": 5,"
                  " \"created_ms\": 1699999700000, \"updated_ms\": 1699999990000,"
                  " \"message\": null, \"stages\": 2, \"partitions\": 12, \"owned\": 12,"
                  " \"lag\": 42},"
                  "{\"name\": \"lobby\", \"phase\": \"pending\", \"generation\": 1,"
                  " \"created_ms\": 1699999995000, \"updated_ms\": 1699999995000,"
                  " \"message\": \"waiting for workers\", \"stages\": 1, \"partitions\": 4,"
                  " \"owned\": 0, \"lag\": null}]}",
                  "NAME         PHASE     STAGES   PARTITIONS   OWNED   LAG      AGE\n"
                  "cctv-edges   running   2        12           12      42       5m\n"
                  "lobby        pending   1        4            0       <none>   5s\n");
    expect_render(ride_ctl_render_apps, "{\"apps\": []}",
                  "NAME   PHASE   STAGES   PARTITIONS   OWNED   LAG   AGE\n");
}

static void test_workers(void **state)
{
    (void)state;
    expect_render(ride_ctl_render_workers,
                  "{\"workers\": ["
                  "{\"id\": \"w1\", \"host\": \"node-a\", \"pid\": 4242, \"version\": \"0.1.0\","
                  " \"cores\": 16, \"memory_mb\": 64000, \"gpus\": 1,"
                  " \"labels\": {\"zone\": \"a\", \"gpu\": \"t4\"}, \"state\": \"active\","
                  " \"partitions\": 6, \"heartbeat_age_ms\": 350},"
                  "{\"id\": \"w2\", \"host\": \"node-b\", \"pid\": 77, \"version\": \"0.1.0\","
                  " \"cores\": 8, \"memory_mb\": 32000, \"gpus\": 0, \"labels\": {},"
                  " \"state\": \"dead\", \"partitions\": 0, \"heartbeat_age_ms\": null}]}",
                  "ID   STATE    PARTITIONS   HOST     PID    CORES   MEMORY    GPUS   "
                  "HEARTBEAT   VERSION   LABELS\n"
                  "w1   active   6            node-a   4242   16      64000Mi   1      "
                  "350ms       0.1.0     zone=a,gpu=t4\n"
                  "w2   dead     0            node-b   77     8       32000Mi   0      "
                  "<none>      0.1.0     <none>\n");
}

static void test_producers(void **state)
{
    (void)state;
    expect_render(ride_ctl_render_producers,
                  "{\"producers\": [{\"id\": \"p1\", \"host\": \"cam-host\", \"pid\": 900,"
                  " \"version\": \"0.1.0\", \"state\": \"active\", \"sources\": 2,"
                  " \"heartbeat_age_ms\": 1500}]}",
                  "ID   STATE    SOURCES   HOST       PID   HEARTBEAT   VERSION\n"
                  "p1   active   2         cam-host   900   1s          0.1.0\n");
}

static const char PARTITIONS[] =
    "[{\"app\": \"cctv-edges\", \"stage\": \"gray\", \"partition\": 0, \"owner\": \"w1\","
    " \"epoch\": 3, \"end_offset\": 120, \"committed\": 118, \"lag\": 2},"
    "{\"app\": \"cctv-edges\", \"stage\": \"gray\", \"partition\": 1, \"owner\": null,"
    " \"epoch\": 0, \"end_offset\": null, \"committed\": null, \"lag\": null}]";

static void test_partitions(void **state)
{
    (void)state;
    char answer[1024];
    snprintf(answer, sizeof answer, "{\"partitions\": %s}", PARTITIONS);
    expect_render(ride_ctl_render_partitions, answer,
                  "APP          STAGE   PARTITION   OWNER    EPOCH   END      COMMITTED   LAG\n"
                  "cctv-edges   gray    0           w1       3       120      118         2\n"
                  "cctv-edges   gray    1           <none>   0       <none>   <none>      "
                  "<none>\n");
}

static const char EVENTS[] =
    "{\"events\": ["
    "{\"seq\": 1, \"ts_ms\": 1699996400000, \"type\": \"worker_dead\", \"app\": null,"
    " \"stage\": null, \"partition\": null, \"member\": \"w3\","
    " \"message\": \"no heartbeat for 6 s\"},"
    "{\"seq\": 2, \"ts_ms\": 1699999998000, \"type\": \"failover\", \"app\": \"cctv-edges\","
    " \"stage\": \"gray\", \"partition\": 4, \"member\": \"w2\","
    " \"message\": \"moved from w3\"},"
    "{\"seq\": 3, \"ts_ms\": 1699999999000, \"type\": \"scaled\", \"app\": \"cctv-edges\","
    " \"stage\": \"gray\", \"partition\": null, \"member\": null,"
    " \"message\": \"workers 2 -> 3\"}]}";

static void test_events(void **state)
{
    (void)state;
    expect_render(ride_ctl_render_events, EVENTS,
                  "AGE   TYPE          APP          STAGE    PARTITION   MEMBER   MESSAGE\n"
                  "1h    worker_dead   <none>       <none>   <none>      w3       no heartbeat "
                  "for 6 s\n"
                  "2s    failover      cctv-edges   gray     4           w2       moved from w3\n"
                  "1s    scaled        cctv-edges   gray     <none>      <none>   workers 2 -> "
                  "3\n");
}

static void test_events_for_app(void **state)
{
    (void)state;
    char err[256];
    json_t *all = load(EVENTS);
    json_t *mine = ride_ctl_events_for_app(all, "cctv-edges", 0, err, sizeof err);
    assert_non_null(mine);
    json_t *list = json_object_get(mine, "events");
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "seq")), 2);
    json_decref(mine);
    /* The limit keeps the newest. */
    mine = ride_ctl_events_for_app(all, "cctv-edges", 1, err, sizeof err);
    list = json_object_get(mine, "events");
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "seq")), 3);
    json_decref(mine);
    mine = ride_ctl_events_for_app(all, "other", 0, err, sizeof err);
    assert_int_equal(json_array_size(json_object_get(mine, "events")), 0);
    json_decref(mine);
    json_decref(all);
    json_t *bad = load("{\"events\": [{\"app\": 7}]}");
    assert_null(ride_ctl_events_for_app(bad, "a", 0, err, sizeof err));
    assert_string_equal(err, "malformed answer from the control API: events[0]: field 'app': "
                             "expected a string or null");
    json_decref(bad);
}

static void test_describe(void **state)
{
    (void)state;
    char answer[4096];
    snprintf(answer, sizeof answer,
             "{\"name\": \"cctv-edges\", \"phase\": \"running\", \"generation\": 5,"
             " \"created_ms\": 1699992800000, \"updated_ms\": 1699999990000, \"message\": null,"
             " \"stages\": [{\"name\": \"gray\", \"task\": \"grayscale\","
             "   \"input_topic\": \"ride.cctv-edges.gray\", \"output\": \"ride.cctv-edges.sd\","
             "   \"partitions\": 2, \"min\": 1, \"max\": 4, \"spares\": 1, \"target\": 2,"
             "   \"active\": [\"w1\", \"w2\"], \"spare\": [], \"lag\": 2,"
             "   \"measures\": {\"input_fps\": 30.0, \"service_fps\": 24.5, \"busy_ratio\": 0.75,"
             "     \"lag_frames\": 2, \"lag_seconds\": 0.0816, \"workers\": ["
             "       {\"worker\": \"w1\", \"partitions\": 1, \"service_fps\": 20, \"busy_ratio\": 1},"
             "       {\"worker\": \"w2\", \"partitions\": 1, \"service_fps\": 4.5,"
             "        \"busy_ratio\": null}]}}],"
             " \"partitions\": 2, \"partition_status\": %s, \"owned\": 1, \"lag\": 2,"
             " \"manifest\": \"apiVersion: ride/v1\\n\","
             " \"sources\": [{\"name\": \"cam1\", \"uri\": \"synthetic:64x48@30\","
             "   \"producer\": null, \"epoch\": 0, \"stream_id\": 0}]}",
             PARTITIONS);
    expect_render(ride_ctl_render_app_detail, answer,
                  "Name:         cctv-edges\n"
                  "Phase:        running\n"
                  "Message:      <none>\n"
                  "Generation:   5\n"
                  "Age:          2h\n"
                  "Partitions:   2 (1 owned)\n"
                  "Lag:          2\n"
                  "Sources:\n"
                  "  NAME   URI                  PRODUCER   EPOCH   STREAM\n"
                  "  cam1   synthetic:64x48@30   <none>     0       0\n"
                  "Stages:\n"
                  "  gray:\n"
                  "    Task:         grayscale\n"
                  "    Input topic:  ride.cctv-edges.gray\n"
                  "    Output:       ride.cctv-edges.sd\n"
                  "    Partitions:   2\n"
                  "    Workers:      target 2 (min 1, max 4, spares 1)\n"
                  "    Active:       w1, w2\n"
                  "    Spare:        <none>\n"
                  "    Lag:          2\n"
                  "    Input:        30.0 frames/s\n"
                  "    Service:      24.5 frames/s, busy 75%\n"
                  "    Per worker:   w1: 20.0 frames/s, busy 100%, partitions 1; w2: 4.5 frames/s, "
                  "busy <none>, partitions 1\n"
                  "    Lag time:     0.1 s\n"
                  "Partitions:\n"
                  "  STAGE   PARTITION   OWNER    EPOCH   END      COMMITTED   LAG\n"
                  "  gray    0           w1       3       120      118         2\n"
                  "  gray    1           <none>   0       <none>   <none>      <none>\n");
    expect_render(ride_ctl_render_app_detail,
                  "{\"name\": \"a\", \"phase\": \"pending\", \"generation\": null,"
                  " \"created_ms\": null, \"message\": \"no workers\", \"owned\": 0,"
                  " \"lag\": null, \"sources\": [], \"stages\": [], \"partition_status\": []}",
                  "Name:         a\n"
                  "Phase:        pending\n"
                  "Message:      no workers\n"
                  "Generation:   <none>\n"
                  "Age:          <none>\n"
                  "Partitions:   0 (0 owned)\n"
                  "Lag:          <none>\n"
                  "Sources:      <none>\n"
                  "Stages:       <none>\n"
                  "Partitions:   <none>\n");
}

static void test_change_results(void **state)
{
    (void)state;
    expect_render(ride_ctl_render_applied, "{\"app\": \"a\", \"result\": \"created\"}",
                  "application/a created\n");
    expect_render(ride_ctl_render_applied, "{\"app\": \"a\", \"result\": \"unchanged\"}",
                  "application/a unchanged\n");
    expect_render(ride_ctl_render_deleted, "{\"app\": \"a\", \"result\": \"deleted\"}",
                  "application/a deleted\n");
    expect_render(ride_ctl_render_scaled, "{\"app\": \"a\", \"stage\": \"s\", \"workers\": 3}",
                  "application/a stage s scaled to 3 workers\n");
    expect_render(ride_ctl_render_scaled, "{\"app\": \"a\", \"stage\": \"s\", \"workers\": 1}",
                  "application/a stage s scaled to 1 worker\n");
    expect_render(ride_ctl_render_scaled,
                  "{\"app\": \"a\", \"stage\": \"s\", \"workers\": \"auto\"}",
                  "application/a stage s scaled automatically\n");
}

static void test_malformed(void **state)
{
    (void)state;
    expect_reject(ride_ctl_render_apps, "[]",
                  "malformed answer from the control API: expected a JSON object");
    expect_reject(ride_ctl_render_apps, "{}",
                  "malformed answer from the control API: field 'apps' is missing");
    expect_reject(ride_ctl_render_apps, "{\"apps\": {}}",
                  "malformed answer from the control API: field 'apps': expected an array");
    expect_reject(ride_ctl_render_apps, "{\"apps\": [3]}",
                  "malformed answer from the control API: apps[0]: expected an object");
    expect_reject(ride_ctl_render_apps,
                  "{\"apps\": [{\"name\": \"a\", \"phase\": \"running\", \"stages\": 1,"
                  " \"partitions\": 1, \"owned\": 1, \"lag\": \"7\", \"created_ms\": 0}]}",
                  "malformed answer from the control API: apps[0]: field 'lag': expected an "
                  "integer or null");
    expect_reject(ride_ctl_render_workers, "{\"workers\": [{\"id\": \"w\"}]}",
                  "malformed answer from the control API: workers[0]: field 'state' is missing");
    expect_reject(ride_ctl_render_workers,
                  "{\"workers\": [{\"id\": \"w\", \"state\": \"idle\", \"partitions\": 0,"
                  " \"host\": \"h\", \"pid\": 1, \"cores\": 1, \"memory_mb\": 1, \"gpus\": 0,"
                  " \"heartbeat_age_ms\": 1, \"version\": \"v\", \"labels\": {\"a\": 1}}]}",
                  "malformed answer from the control API: workers[0]: field 'labels': expected "
                  "an object of strings or null");
    expect_reject(ride_ctl_render_partitions, "{\"partitions\": [{\"app\": 1.5}]}",
                  "malformed answer from the control API: partitions[0]: field 'app': expected "
                  "a string or null");
    expect_reject(ride_ctl_render_app_detail,
                  "{\"name\": \"a\", \"phase\": \"x\", \"message\": null, \"generation\": 1,"
                  " \"created_ms\": 1, \"owned\": 0, \"lag\": 0, \"partition_status\": [],"
                  " \"sources\": [], \"stages\": [{\"name\": \"s\", \"task\": \"t\","
                  " \"input_topic\": \"i\", \"output\": \"o\", \"partitions\": 1, \"min\": 1,"
                  " \"max\": 1, \"spares\": 0, \"target\": 1, \"active\": [1], \"spare\": [],"
                  " \"lag\": 0}]}",
                  "malformed answer from the control API: stages[0]: field 'active': expected "
                  "an array of strings");
    expect_reject(ride_ctl_render_app_detail, "{\"name\": \"a\"}",
                  "malformed answer from the control API: field 'phase' is missing");
    expect_reject(ride_ctl_render_applied, "{\"app\": \"a\", \"result\": \"exploded\"}",
                  "malformed answer from the control API: field 'result': expected created, "
                  "configured or unchanged");
    expect_reject(ride_ctl_render_applied, "{\"app\": null, \"result\": \"created\"}",
                  "malformed answer from the control API: field 'app': expected a string");
    expect_reject(ride_ctl_render_scaled, "{\"app\": \"a\", \"stage\": \"s\"}",
                  "malformed answer from the control API: field 'workers' is missing");
    expect_reject(ride_ctl_render_deleted, "\"deleted\"",
                  "malformed answer from the control API: expected a JSON object");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_layout),   cmocka_unit_test(test_ages),
        cmocka_unit_test(test_apps),           cmocka_unit_test(test_workers),
        cmocka_unit_test(test_producers),      cmocka_unit_test(test_partitions),
        cmocka_unit_test(test_events),         cmocka_unit_test(test_events_for_app),
        cmocka_unit_test(test_describe),       cmocka_unit_test(test_change_results),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
