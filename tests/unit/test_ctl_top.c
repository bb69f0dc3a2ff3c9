/* ridectl top's pure parts: the sparkline's scaling in UTF-8 and ASCII, the locale
 * test, one refresh rendered from canned control API answers (text and JSON), the
 * rate and history carried to the next refresh, and malformed answers refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_test.h"
#include "top.h"

static void test_sparkline_scaling(void **state)
{
    (void)state;
    char buf[128];
    assert_int_equal(ride_ctl_sparkline(NULL, 0, true, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    const int64_t zeros[] = {0, 0, 0};
    assert_int_equal(ride_ctl_sparkline(zeros, 3, true, buf, sizeof buf), 3);
    assert_string_equal(buf, "▁▁▁");
    assert_int_equal(ride_ctl_sparkline(zeros, 3, false, buf, sizeof buf), 3);
    assert_string_equal(buf, "___");
    const int64_t rising[] = {0, 1, 2, 3, 4, 5, 6, 7};
    ride_ctl_sparkline(rising, 8, true, buf, sizeof buf);
    assert_string_equal(buf, "▁▂▃▄▅▆▇█");
    const int64_t ascii[] = {0, 1, 2, 3, 4};
    ride_ctl_sparkline(ascii, 5, false, buf, sizeof buf);
    assert_string_equal(buf, "_.-=#");
    /* Scaled to the window's largest value, however large; unknown is a gap. */
    const int64_t big[] = {INT64_MAX, INT64_MAX / 2, -1, 0};
    ride_ctl_sparkline(big, 4, true, buf, sizeof buf);
    assert_string_equal(buf, "█▅ ▁");
    ride_ctl_sparkline(big, 4, false, buf, sizeof buf);
    assert_string_equal(buf, "#- _");
    /* A short buffer holds whole characters only. */
    char small[8];
    assert_int_equal(ride_ctl_sparkline(rising, 8, true, small, sizeof small), 2);
    assert_string_equal(small, "▁▂");
}

static void test_locale(void **state)
{
    (void)state;
    assert_true(ride_ctl_utf8_locale(NULL, NULL, "en_US.UTF-8"));
    assert_true(ride_ctl_utf8_locale("C.utf8", NULL, NULL));
    assert_false(ride_ctl_utf8_locale("C", NULL, "en_US.UTF-8"));
    assert_true(ride_ctl_utf8_locale("", "de_DE.UTF-8", "C"));
    assert_false(ride_ctl_utf8_locale(NULL, NULL, NULL));
    assert_false(ride_ctl_utf8_locale(NULL, NULL, "POSIX"));
}

static const char HEALTH[] = "{\"status\": \"ok\", \"master\": \"m1\", \"leader\": true}";
static const char WORKERS[] =
    "{\"workers\": [{\"state\": \"active\"}, {\"state\": \"spare\"}, {\"state\": \"dead\"}]}";

/* The master's measures: stage gray served by w1, sink by nobody yet. */
static const char *stages_answer =
    "{\"stages\": ["
    "{\"app\": \"demo\", \"stage\": \"gray\", \"partitions\": 2, \"input_fps\": 30.0,"
    " \"service_fps\": 24.5, \"busy_ratio\": 0.75, \"lag_frames\": 10,"
    " \"lag_seconds\": 0.5, \"workers\": [{\"worker\": \"w1\", \"partitions\": 2,"
    " \"service_fps\": 24.5, \"busy_ratio\": 0.75}]},"
    "{\"app\": \"demo\", \"stage\": \"sink\", \"partitions\": 1, \"input_fps\": null,"
    " \"service_fps\": null, \"busy_ratio\": null, \"lag_frames\": null,"
    " \"lag_seconds\": null, \"workers\": []}]}";

/* Two stages; stage gray has two partitions on one worker, sink one unowned. Offsets
 * count messages, per_frame of them to a frame of stage gray. */
static json_t *chunked_partitions(int committed, int lag, double per_frame)
{
    char json[1200];
    snprintf(json, sizeof json,
             "{\"partitions\": ["
             "{\"app\": \"demo\", \"stage\": \"gray\", \"partition\": 0, \"owner\": \"w1\","
             " \"epoch\": 3, \"end_offset\": 9, \"committed\": %d, \"lag\": %d,"
             " \"messages_per_frame\": %.1f},"
             "{\"app\": \"demo\", \"stage\": \"gray\", \"partition\": 1, \"owner\": \"w1\","
             " \"epoch\": 1, \"end_offset\": 9, \"committed\": 9, \"lag\": 0,"
             " \"messages_per_frame\": %.1f},"
             "{\"app\": \"demo\", \"stage\": \"sink\", \"partition\": 0, \"owner\": null,"
             " \"epoch\": 0, \"end_offset\": null, \"committed\": null, \"lag\": null,"
             " \"messages_per_frame\": null}]}",
             committed, lag, per_frame, per_frame);
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    return j;
}

/* One message per frame. */
static json_t *partitions(int committed, int lag)
{
    return chunked_partitions(committed, lag, 1.0);
}

static char *render(ride_ctl_top *t, const char *health, const char *workers, json_t *parts,
                    int64_t mono_ms, bool json, char *err, size_t errlen)
{
    json_t *h = json_loads(health, 0, NULL), *w = json_loads(workers, 0, NULL);
    json_t *st = json_loads(stages_answer, 0, NULL);
    assert_non_null(h);
    assert_non_null(w);
    assert_non_null(st);
    ride_ctl_top_answers a = {h, w, parts, st, 1795326153000, mono_ms};
    char *text = ride_ctl_top_render(t, &a, json, true, err, errlen);
    json_decref(h);
    json_decref(w);
    json_decref(st);
    json_decref(parts);
    return text;
}

static void test_text_refreshes(void **state)
{
    (void)state;
    char err[512];
    ride_ctl_top *t = ride_ctl_top_new();
    assert_non_null(t);
    char *text = render(t, HEALTH, WORKERS, partitions(100, 40), 1000, false, err, sizeof err);
    assert_non_null(text);
    free(text);
    /* Two seconds later 50 more frames are committed: 25 frames/s. */
    text = render(t, HEALTH, WORKERS, partitions(150, 10), 3000, false, err, sizeof err);
    assert_non_null(text);
    assert_string_equal(
        text,
        "ride top - leader m1 - workers 2/3 alive - 2026-11-22 05:42:33 UTC\n"
        "\n"
        "APP    STAGE   PARTITIONS   WORKERS   INPUT/S   SERVICE/S   BUSY     LAG      LAG S    "
        "LAG HISTORY\n"
        "demo   gray    2            1         30.0      24.5        75%      10       0.5      █▃\n"
        "demo   sink    1            0         <none>    <none>      <none>   <none>   <none>   "
        "<none>\n"
        "\n"
        "APP    STAGE   WORKER   PARTITIONS   SERVICE/S   BUSY\n"
        "demo   gray    w1       2            24.5        75%\n"
        "\n"
        "APP    STAGE   PARTITION   OWNER    EPOCH   LAG      FRAMES/S\n"
        "demo   gray    0           w1       3       10       25.0\n"
        "demo   gray    1           w1       1       0        0.0\n"
        "demo   sink    0           <none>   0       <none>   <none>\n");
    free(text);
    text = render(t, HEALTH, WORKERS, partitions(150, 10), 4000, true, err, sizeof err);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"stages\":[{\"app\":\"demo\",\"stage\":\"gray\","
                                 "\"partitions\":2,\"owners\":1,\"lag\":10,"
                                 "\"frames_per_s\":0.0,\"lag_history\":[40,10,10],"
                                 "\"input_fps\":30.0,\"service_fps\":24.5,\"busy_ratio\":0.75,"
                                 "\"lag_seconds\":0.5,\"workers\":[{\"worker\":\"w1\","
                                 "\"partitions\":2,\"service_fps\":24.5,"
                                 "\"busy_ratio\":0.75}]}"));
    assert_non_null(strstr(text, "\"lag_history\":[null,null,null]"));
    assert_int_equal(text[strlen(text) - 1], '\n');
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
    free(text);
    ride_ctl_top_free(t);
}

/* Offsets count Kafka messages: a frame of 49 chunks committed per second is one
 * frame/s, not 49; without a messages-per-frame figure the rate is unknown. */
static void test_rate_counts_frames(void **state)
{
    (void)state;
    char err[512];
    ride_ctl_top *t = ride_ctl_top_new();
    assert_non_null(t);
    free(render(t, HEALTH, WORKERS, chunked_partitions(98, 1, 49.0), 1000, true, err,
                sizeof err));
    char *text = render(t, HEALTH, WORKERS, chunked_partitions(196, 1, 49.0), 3000, true, err,
                        sizeof err);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"partition\":0,\"owner\":\"w1\",\"epoch\":3,\"lag\":1,"
                                 "\"frames_per_s\":1.0}"));
    assert_non_null(strstr(text, "\"lag\":1,\"frames_per_s\":1.0,\"lag_history\":[1,1]"));
    free(text);
    json_t *unknown = json_loads("{\"partitions\": [{\"app\": \"demo\", \"stage\": \"gray\", "
                                 "\"partition\": 0, \"owner\": null, \"epoch\": 0, "
                                 "\"committed\": 300, \"lag\": 0, "
                                 "\"messages_per_frame\": null}]}",
                                 0, NULL);
    text = render(t, HEALTH, WORKERS, unknown, 5000, true, err, sizeof err);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"lag\":0,\"frames_per_s\":null}"));
    free(text);
    json_t *bad = json_loads("{\"partitions\": [{\"app\": \"demo\", \"stage\": \"gray\", "
                             "\"partition\": 0, \"owner\": null, \"epoch\": 0, "
                             "\"committed\": 0, \"lag\": 0, \"messages_per_frame\": 0}]}",
                             0, NULL);
    assert_null(render(t, HEALTH, WORKERS, bad, 6000, false, err, sizeof err));
    assert_string_equal(err, "malformed answer from the control API: partitions[0]: field "
                             "'messages_per_frame': expected a positive number or null");
    ride_ctl_top_free(t);
}

/* Frames wait and the stage's workers process none: the lag never drains. */
static void test_lag_never_drains(void **state)
{
    (void)state;
    char err[512];
    const char *good = stages_answer;
    stages_answer = "{\"stages\": [{\"app\": \"demo\", \"stage\": \"gray\", "
                    "\"input_fps\": 5, \"service_fps\": 0, \"busy_ratio\": 0, "
                    "\"lag_frames\": 10, \"lag_seconds\": null, \"workers\": []}]}";
    ride_ctl_top *t = ride_ctl_top_new();
    assert_non_null(t);
    char *text = render(t, HEALTH, WORKERS, partitions(100, 10), 1000, false, err, sizeof err);
    assert_non_null(text);
    assert_non_null(strstr(text, "demo   gray    2            1         5.0       0.0         "
                                 "0%       10       inf      "));
    free(text);
    ride_ctl_top_free(t);
    stages_answer = good;
}

static void test_malformed_answers(void **state)
{
    (void)state;
    char err[512];
    ride_ctl_top *t = ride_ctl_top_new();
    assert_non_null(t);
    json_t *bad = json_loads("{\"partitions\": [{\"app\": \"demo\", \"stage\": \"gray\", "
                             "\"partition\": 0, \"owner\": 7, \"epoch\": 0, \"committed\": 0, "
                             "\"lag\": 0}]}",
                             0, NULL);
    assert_null(render(t, HEALTH, WORKERS, bad, 0, false, err, sizeof err));
    assert_string_equal(err, "malformed answer from the control API: partitions[0]: field "
                             "'owner': expected a string or null");
    bad = json_loads("{\"partitions\": [{\"app\": \"demo\", \"stage\": \"gray\", "
                     "\"partition\": 0, \"owner\": null, \"epoch\": 0, \"committed\": -4, "
                     "\"lag\": 0}]}",
                     0, NULL);
    assert_null(render(t, HEALTH, WORKERS, bad, 0, false, err, sizeof err));
    assert_non_null(strstr(err, "expected a count or null"));
    assert_null(render(t, "{\"master\": 1}", WORKERS, partitions(0, 0), 0, false, err,
                       sizeof err));
    assert_non_null(strstr(err, "malformed answer from the control API: /healthz: "));
    assert_null(render(t, HEALTH, "{\"workers\": {}}", partitions(0, 0), 0, false, err,
                       sizeof err));
    assert_string_equal(err, "malformed answer from the control API: /v1/workers: expected "
                             "{\"workers\": [...]}");
    assert_null(render(t, HEALTH, WORKERS, json_loads("{}", 0, NULL), 0, false, err,
                       sizeof err));
    assert_string_equal(err, "malformed answer from the control API: /v1/partitions: expected "
                             "{\"partitions\": [...]}");
    const char *good = stages_answer;
    stages_answer = "{\"stages\": [{\"app\": \"demo\", \"stage\": \"gray\", "
                    "\"input_fps\": -1, \"service_fps\": null, \"busy_ratio\": null, "
                    "\"lag_frames\": null, \"lag_seconds\": null, \"workers\": []}]}";
    assert_null(render(t, HEALTH, WORKERS, partitions(0, 0), 0, false, err, sizeof err));
    assert_string_equal(err, "malformed answer from the control API: stages[0]: field "
                             "'input_fps': expected a number >= 0 or null");
    stages_answer = "{\"stages\": [{\"app\": \"demo\", \"stage\": \"gray\", "
                    "\"input_fps\": 1, \"service_fps\": null, \"busy_ratio\": null, "
                    "\"lag_frames\": null, \"lag_seconds\": null, \"workers\": [{}]}]}";
    assert_null(render(t, HEALTH, WORKERS, partitions(0, 0), 0, false, err, sizeof err));
    assert_string_equal(err, "malformed answer from the control API: stages[0]: workers[0]: "
                             "field 'worker' is missing");
    stages_answer = good;
    ride_ctl_top_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparkline_scaling),
        cmocka_unit_test(test_locale),
        cmocka_unit_test(test_text_refreshes),
        cmocka_unit_test(test_rate_counts_frames),
        cmocka_unit_test(test_lag_never_drains),
        cmocka_unit_test(test_malformed_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
