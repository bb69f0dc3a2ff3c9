/* test_master_lag.c - the master's lag in frames: the mean messages per frame of a
 * stage's input topic from its writers' heartbeats (the producers' sources, the
 * upstream stage's partitions), and Kafka message counts converted with it. */
#include "ride_test.h"

#include <string.h>

#include "master.h"

/* cam0 and cam1 into stage gray, gray into stage sd, sd into a Kafka sink. */
static const char TWO_STAGES[] = "apiVersion: ride/v1\n"
                                 "kind: Application\n"
                                 "metadata:\n"
                                 "  name: cctv\n"
                                 "spec:\n"
                                 "  sources:\n"
                                 "    - {name: cam0, uri: \"synthetic:64x48@10\"}\n"
                                 "    - {name: cam1, uri: \"synthetic:64x48@10\"}\n"
                                 "  stages:\n"
                                 "    - {name: gray, input: [cam0, cam1], task: grayscale,"
                                 " partitions: 2}\n"
                                 "    - {name: sd, input: [gray], task: stddev, partitions: 2}\n"
                                 "  sink: {type: kafka, stage: sd}\n";

static void test_frames_of(void **state)
{
    (void)state;
    assert_int_equal(ride_master_frames_of(0, 0), 0);   /* nothing waits: known anyway */
    assert_int_equal(ride_master_frames_of(0, 49), 0);
    assert_int_equal(ride_master_frames_of(-1, 49), -1); /* offsets unknown */
    assert_int_equal(ride_master_frames_of(98, 0), -1);  /* frame size unknown */
    assert_int_equal(ride_master_frames_of(98, 49), 2);
    assert_int_equal(ride_master_frames_of(100, 4), 25);
    assert_int_equal(ride_master_frames_of(101, 4), 25); /* nearest frame */
    assert_int_equal(ride_master_frames_of(103, 4), 26);
    assert_int_equal(ride_master_frames_of(1, 49), 1);   /* part of a frame waits */
    assert_int_equal(ride_master_frames_of(7, 1), 7);    /* unchunked: messages are frames */
    assert_int_equal(ride_master_frames_of(5, 1.25), 4);
}

static ride_manifest parse(void)
{
    ride_manifest man;
    ride_parse_error perr;
    assert_int_equal(ride_manifest_parse("test", TWO_STAGES, strlen(TWO_STAGES), &man, &perr), 0);
    return man;
}

static void test_count_written(void **state)
{
    (void)state;
    ride_manifest man = parse();
    const ride_stage *gray = &man.stages[0], *sd = &man.stages[1];
    ride_cluster_hb_source sources[] = {
        {.app = "cctv", .source = "cam0", .frames_produced = 10, .messages_produced = 30},
        {.app = "cctv", .source = "cam1", .frames_produced = 10, .messages_produced = 50},
        /* Another application's source of the same name. */
        {.app = "other", .source = "cam0", .frames_produced = 100, .messages_produced = 100},
        /* A producer that does not report messages. */
        {.app = "cctv", .source = "cam1", .frames_produced = 5},
    };
    ride_cluster_hb_partition parts[] = {
        {.app = "cctv", .stage = "gray", .partition = 0, .frames_processed = 7,
         .messages_written = 7},
        {.app = "cctv", .stage = "gray", .partition = 1, .frames_processed = 3,
         .messages_written = 6},
        /* The last stage writes to the sink, no stage's input. */
        {.app = "cctv", .stage = "sd", .partition = 0, .frames_processed = 9,
         .messages_written = 9},
    };
    ride_cluster_heartbeat hb = {.sources = sources, .source_count = 4, .partitions = parts,
                                 .partition_count = 3};
    ride_master_written w = {0, 0};
    ride_master_count_written(&hb, "cctv", &man, gray, &w);
    assert_int_equal(w.frames, 20);
    assert_int_equal(w.messages, 80);
    assert_true(ride_master_messages_per_frame(&w) == 4.0);
    w = (ride_master_written){0, 0};
    ride_master_count_written(&hb, "cctv", &man, sd, &w);
    assert_int_equal(w.frames, 10);
    assert_int_equal(w.messages, 13);
    assert_true(ride_master_messages_per_frame(&w) == 1.3);
    w = (ride_master_written){0, 0};
    assert_true(ride_master_messages_per_frame(&w) == 0);
    ride_manifest_free(&man);
}

/* The stage keeps the figure of the writers it last heard from once they are gone. */
static void test_measure_keeps_the_last_figure(void **state)
{
    (void)state;
    ride_manifest man = parse();
    ride_master_app *a = ride_master_app_new("cctv", TWO_STAGES, strlen(TWO_STAGES), &man);
    assert_non_null(a);
    ride_master_app *apps[] = {a};
    ride_cluster_hb_source sources[] = {
        {.app = "cctv", .source = "cam0", .frames_produced = 4, .messages_produced = 196},
    };
    ride_master_member producer = {.id = "p1", .hb_known = true,
                                   .hb = {.sources = sources, .source_count = 1}};
    ride_master m = {.apps = apps, .app_count = 1, .members = &producer, .member_count = 1};
    ride_master_measure_frames(&m);
    assert_true(a->stages[0].messages_per_frame == 49.0);
    assert_true(a->stages[1].messages_per_frame == 0); /* no worker wrote into sd yet */

    m.member_count = 0;
    ride_master_measure_frames(&m);
    assert_true(a->stages[0].messages_per_frame == 49.0);
    ride_master_figures f = ride_master_lag_figures(NULL, "cctv", "gray", 0, 49.0);
    assert_int_equal(f.lag, -1);
    assert_int_equal(f.lag_messages, -1);
    ride_master_app_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_of),
        cmocka_unit_test(test_count_written),
        cmocka_unit_test(test_measure_keeps_the_last_figure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
