/* Manifests: the SPEC example and every shipped app parse, topological order and
 * the default sink, and each bad manifest fails with its exact line, column and
 * message. */
#include "ride_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/manifest.h"

/* SPEC section 6, verbatim: the positions asserted below refer to this text. */
static const char spec_example[] =
    "apiVersion: ride/v1\n"
    "kind: Application\n"
    "metadata: {name: cctv-edges}\n"
    "spec:\n"
    "  delivery: at-least-once          # or exactly-once (Kafka transactions)\n"
    "  sources:\n"
    "    - {name: cam1, uri: \"rtsp://127.0.0.1:8554/cam1\", fps: 30, encoding: jpeg}\n"
    "    - {name: gen, uri: \"synthetic:900x900@30\"}\n"
    "  stages:\n"
    "    - name: gray\n"
    "      input: [cam1, gen]\n"
    "      task: grayscale\n"
    "      partitions: 6\n"
    "      workers: {min: 2, max: 6, spares: 1}\n"
    "      resources: {device: cpu, threads: 2}\n"
    "    - name: sd\n"
    "      input: [gray]\n"
    "      task: stddev\n"
    "      params: {ksize: 5}\n"
    "      partitions: 6\n"
    "      workers: {min: 1, max: 6}\n"
    "      resources: {device: gpu}\n"
    "  sink: {type: files, stage: sd, path: /var/lib/ride/out, format: png}\n";

static void parse_ok(const char *text, ride_manifest *m)
{
    ride_parse_error err;
    char msg[1024];
    int rc = ride_manifest_parse("test.yaml", text, strlen(text), m, &err);
    if (rc != 0)
        fail_msg("unexpected error: %s", ride_parse_error_format(&err, msg, sizeof msg));
}

static void load_ok(const char *relative, ride_manifest *m)
{
    char path[1024], msg[1024];
    ride_parse_error err;
    if (ride_manifest_load(ride_test_data(relative, path, sizeof path), m, &err) != 0)
        fail_msg("%s", ride_parse_error_format(&err, msg, sizeof msg));
}

static void assert_pos(ride_pos pos, int line, int column)
{
    assert_int_equal(pos.line, line);
    assert_int_equal(pos.column, column);
}

static void test_spec_example(void **state)
{
    (void)state;
    ride_manifest m;
    parse_ok(spec_example, &m);
    assert_string_equal(m.file, "test.yaml");
    assert_string_equal(m.name, "cctv-edges");
    assert_int_equal(m.label_count, 0);
    assert_int_equal(m.delivery, RIDE_DELIVERY_AT_LEAST_ONCE);

    assert_int_equal(m.source_count, 2);
    const ride_source *cam = &m.sources[0];
    assert_string_equal(cam->name, "cam1");
    assert_string_equal(cam->uri, "rtsp://127.0.0.1:8554/cam1");
    assert_int_equal(cam->target.kind, RIDE_SOURCE_RTSP);
    assert_null(cam->target.path);
    assert_true(cam->fps == 30.0);
    assert_int_equal(cam->encoding, RIDE_ENC_JPEG);
    assert_int_equal(cam->quality, 90);
    assert_false(cam->loop);
    assert_int_equal(cam->pace, RIDE_PACE_SOURCE);
    assert_pos(cam->pos, 7, 7);
    assert_pos(cam->name_pos, 7, 14);
    const ride_source *gen = &m.sources[1];
    assert_string_equal(gen->name, "gen");
    assert_int_equal(gen->target.kind, RIDE_SOURCE_SYNTHETIC);
    assert_int_equal(gen->target.width, 900);
    assert_int_equal(gen->target.height, 900);
    assert_true(gen->target.fps == 30.0);
    assert_true(gen->fps == 0.0);
    assert_int_equal(gen->encoding, RIDE_ENC_RAW);

    assert_int_equal(m.stage_count, 2);
    const ride_stage *gray = &m.stages[0];
    assert_string_equal(gray->name, "gray");
    assert_string_equal(gray->task, "grayscale");
    assert_pos(gray->task_pos, 12, 13);
    assert_int_equal(gray->input_count, 2);
    assert_string_equal(gray->inputs[0].name, "cam1");
    assert_false(gray->inputs[0].is_stage);
    assert_int_equal(gray->inputs[0].index, 0);
    assert_pos(gray->inputs[0].pos, 11, 15);
    assert_string_equal(gray->inputs[1].name, "gen");
    assert_int_equal(gray->inputs[1].index, 1);
    assert_pos(gray->inputs[1].pos, 11, 21);
    assert_int_equal(gray->param_count, 0);
    assert_int_equal(gray->partitions, 6);
    assert_int_equal(gray->workers.min, 2);
    assert_int_equal(gray->workers.max, 6);
    assert_int_equal(gray->workers.spares, 1);
    assert_int_equal(gray->resources.device, RIDE_STAGE_CPU);
    assert_int_equal(gray->resources.threads, 2);
    assert_int_equal(gray->resources.gpus, 0);
    assert_int_equal(gray->resources.memory_mb, -1);
    assert_int_equal(gray->selector_count, 0);
    assert_pos(gray->pos, 10, 7);

    const ride_stage *sd = &m.stages[1];
    assert_string_equal(sd->name, "sd");
    assert_string_equal(sd->task, "stddev");
    assert_int_equal(sd->input_count, 1);
    assert_true(sd->inputs[0].is_stage);
    assert_int_equal(sd->inputs[0].index, 0);
    assert_int_equal(sd->param_count, 1);
    assert_string_equal(sd->params[0].key, "ksize");
    assert_string_equal(sd->params[0].value, "5");
    assert_pos(sd->params[0].key_pos, 19, 16);
    assert_pos(sd->params[0].value_pos, 19, 23);
    assert_int_equal(sd->workers.min, 1);
    assert_int_equal(sd->workers.max, 6);
    assert_int_equal(sd->workers.spares, 0);
    assert_int_equal(sd->resources.device, RIDE_STAGE_GPU);
    assert_int_equal(sd->resources.gpus, 1);
    assert_int_equal(sd->resources.threads, 0);

    assert_int_equal(m.order[0], 0);
    assert_int_equal(m.order[1], 1);
    assert_int_equal(m.sink.type, RIDE_SINK_FILES);
    assert_int_equal(m.sink.stage, 1);
    assert_string_equal(m.sink.path, "/var/lib/ride/out");
    assert_int_equal(m.sink.format, RIDE_ENC_PNG);
    assert_null(m.sink.topic);

    assert_ptr_equal(ride_manifest_stage(&m, "sd"), sd);
    assert_ptr_equal(ride_manifest_source(&m, "gen"), gen);
    assert_null(ride_manifest_stage(&m, "gen"));
    assert_null(ride_manifest_source(&m, "nope"));
    ride_manifest_free(&m);
    assert_null(m.arena);
    ride_manifest_free(&m);
}

/* The shipped example is the SPEC example (plus nothing else). */
static void test_shipped_example_matches_spec(void **state)
{
    (void)state;
    ride_manifest m;
    load_ok("../../config/apps/cctv-edges.yaml", &m);
    assert_string_equal(m.name, "cctv-edges");
    assert_int_equal(m.stage_count, 2);
    assert_string_equal(m.stages[1].params[0].value, "5");
    assert_pos(m.stages[1].params[0].value_pos, 19, 23);
    ride_manifest_free(&m);
}

static void test_demo_app(void **state)
{
    (void)state;
    ride_manifest m;
    load_ok("../../config/apps/demo.yaml", &m);
    assert_string_equal(m.name, "demo");
    assert_string_equal(m.labels[0].key, "purpose");
    assert_int_equal(m.source_count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(m.sources[i].target.kind, RIDE_SOURCE_SYNTHETIC);
        assert_int_equal(m.sources[i].target.width, 900);
        assert_int_equal(m.sources[i].target.height, 900);
        assert_true(m.sources[i].target.fps == 30.0);
    }
    const ride_stage *gray = ride_manifest_stage(&m, "gray");
    const ride_stage *sd = ride_manifest_stage(&m, "stddev");
    assert_non_null(gray);
    assert_non_null(sd);
    assert_string_equal(gray->task, "grayscale");
    assert_int_equal(gray->partitions, 6);
    assert_string_equal(sd->task, "stddev");
    assert_int_equal(sd->partitions, 6);
    assert_string_equal(ride_kv_find(sd->params, sd->param_count, "ksize")->value, "5");
    assert_int_equal(m.sink.type, RIDE_SINK_KAFKA);
    assert_string_equal(m.sink.topic, "demo.stddev.out");
    ride_manifest_free(&m);
}

static void test_every_shipped_app_parses(void **state)
{
    (void)state;
    char dir_path[1024];
    DIR *dir = opendir(ride_test_data("../../config/apps", dir_path, sizeof dir_path));
    assert_non_null(dir);
    size_t parsed = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        char relative[512];
        ride_manifest m;
        snprintf(relative, sizeof relative, "../../config/apps/%s", e->d_name);
        load_ok(relative, &m);
        ride_manifest_free(&m);
        parsed++;
    }
    closedir(dir);
    assert_true(parsed >= 2);
}

static void test_full_manifest(void **state)
{
    (void)state;
    ride_manifest m;
    load_ok("manifests/good/full.yaml", &m);
    assert_int_equal(m.delivery, RIDE_DELIVERY_EXACTLY_ONCE);
    assert_int_equal(m.label_count, 2);
    assert_string_equal(m.labels[1].key, "tier");
    assert_string_equal(m.labels[1].value, "2");

    const ride_source *door = ride_manifest_source(&m, "door");
    assert_int_equal(door->target.kind, RIDE_SOURCE_RTSP);
    assert_true(door->fps == 12.5);
    assert_int_equal(door->quality, 75);
    const ride_source *webcam = ride_manifest_source(&m, "webcam");
    assert_int_equal(webcam->target.kind, RIDE_SOURCE_V4L2);
    assert_string_equal(webcam->target.path, "/dev/video0");
    assert_int_equal(webcam->encoding, RIDE_ENC_PNG);
    const ride_source *archive = ride_manifest_source(&m, "archive");
    assert_int_equal(archive->target.kind, RIDE_SOURCE_VIDEO_FILE);
    assert_string_equal(archive->target.path, "/srv/video/2024-01-01.mkv");
    assert_true(archive->loop);
    assert_int_equal(archive->pace, RIDE_PACE_MAX);
    assert_int_equal(ride_manifest_source(&m, "stills")->target.kind, RIDE_SOURCE_IMAGE_DIR);
    assert_int_equal(ride_manifest_source(&m, "pattern")->target.kind, RIDE_SOURCE_IMAGE_GLOB);

    const ride_stage *detect = ride_manifest_stage(&m, "detect");
    assert_int_equal(detect->param_count, 4);
    const char *keys[] = {"cascade", "scale", "min_neighbors", "equalize"};
    const char *values[] = {"/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
                            "1.1", "3", "true"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(detect->params[i].key, keys[i]);
        assert_string_equal(detect->params[i].value, values[i]);
        assert_int_equal(detect->params[i].key_pos.line, 35 + (int)i);
        assert_int_equal(detect->params[i].key_pos.column, 9);
    }
    assert_int_equal(detect->partitions, 12);
    assert_int_equal(detect->workers.min, 0);
    assert_int_equal(detect->workers.max, 8);
    assert_int_equal(detect->workers.spares, 2);
    assert_int_equal(detect->resources.device, RIDE_STAGE_ANY);
    assert_int_equal(detect->resources.threads, 4);
    assert_int_equal(detect->resources.gpus, 1);
    assert_int_equal(detect->resources.memory_mb, 2048);
    assert_int_equal(detect->selector_count, 2);
    assert_string_equal(ride_kv_find(detect->selector, 2, "gpu")->value, "yes");

    const ride_stage *gray = ride_manifest_stage(&m, "gray");
    assert_int_equal(gray->input_count, 5);
    assert_int_equal(gray->partitions, 4096);
    assert_int_equal(gray->workers.min, 3);
    assert_int_equal(gray->workers.max, 3);
    const ride_stage *edges = ride_manifest_stage(&m, "edges");
    assert_int_equal(edges->input_count, 1);
    assert_string_equal(edges->inputs[0].name, "gray");
    assert_int_equal(edges->workers.min, 1);
    assert_int_equal(edges->workers.max, 10000);
    assert_int_equal(edges->resources.gpus, 2);

    /* gray -> edges -> detect, although detect is listed first. */
    assert_string_equal(m.stages[m.order[0]].name, "gray");
    assert_string_equal(m.stages[m.order[1]].name, "edges");
    assert_string_equal(m.stages[m.order[2]].name, "detect");
    assert_int_equal(m.sink.type, RIDE_SINK_FILES);
    assert_string_equal(m.stages[m.sink.stage].name, "detect");
    assert_int_equal(m.sink.format, RIDE_ENC_JPEG);
    assert_int_equal(m.topics.retention_ms, 3600000);
    assert_int_equal(m.topics.retention_bytes, -1);
    assert_int_equal(m.topics.segment_bytes, 16777216);
    assert_int_equal(m.topics.segment_ms, 600000);
    ride_manifest_free(&m);
}

static void test_topological_order_and_default_sink(void **state)
{
    (void)state;
    ride_manifest m;
    load_ok("manifests/good/fan-out.yaml", &m);
    const char *expected[] = {"gray", "left", "right", "blend"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(m.stages[m.order[i]].name, expected[i]);
    assert_int_equal(m.sink.type, RIDE_SINK_KAFKA);
    assert_string_equal(m.stages[m.sink.stage].name, "blend");
    assert_string_equal(m.sink.topic, "fan-out.blend.out");
    assert_null(m.sink.path);
    const ride_stage *right = ride_manifest_stage(&m, "right");
    assert_string_equal(right->params[0].value, "90");
    assert_int_equal(ride_manifest_source(&m, "b")->target.kind, RIDE_SOURCE_VIDEO_FILE);
    ride_manifest_free(&m);

    load_ok("manifests/good/minimal.yaml", &m);
    assert_int_equal(m.stages[0].input_count, 1);
    assert_string_equal(m.stages[0].inputs[0].name, "cam");
    assert_int_equal(m.stages[0].partitions, 1);
    assert_int_equal(m.stages[0].workers.min, 1);
    assert_int_equal(m.stages[0].workers.max, 1);
    assert_string_equal(m.sink.topic, "minimal.gray.out");
    /* No spec.topics: every setting is left to RIDE's defaults. */
    assert_int_equal(m.topics.retention_ms, 0);
    assert_int_equal(m.topics.retention_bytes, 0);
    assert_int_equal(m.topics.segment_bytes, 0);
    assert_int_equal(m.topics.segment_ms, 0);
    ride_manifest_free(&m);

    load_ok("manifests/good/sink-none.yaml", &m);
    assert_int_equal(m.sink.type, RIDE_SINK_NONE);
    assert_null(m.sink.topic);
    assert_true(m.sources[0].target.fps == 1000.0);
    ride_manifest_free(&m);
}

typedef struct bad_case {
    const char *file;
    int line;
    int column;
    const char *message; /* a distinctive part of the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"syntax-error.yaml", 3, 9, "invalid YAML: did not find expected ',' or ']'"},
    {"empty.yaml", 1, 1, "the manifest is empty"},
    {"null-document.yaml", 2, 1, "the manifest is empty"},
    {"top-level-sequence.yaml", 1, 1,
     "top level of the manifest: expected a mapping, got a sequence"},
    {"top-level-scalar.yaml", 1, 1, "expected a mapping, got \"hello\""},
    {"missing-apiversion.yaml", 1, 1, "missing required key 'apiVersion'"},
    {"wrong-apiversion.yaml", 1, 13, "apiVersion: expected \"ride/v1\", got \"ride/v2\""},
    {"wrong-kind.yaml", 2, 7, "kind: expected \"Application\", got \"Deployment\""},
    {"unknown-top-key.yaml", 13, 1, "unknown key 'status' in the manifest"},
    {"unknown-stage-key.yaml", 13, 7,
     "spec.stages[0]: unknown key 'partition'; expected one of name,"},
    {"duplicate-key.yaml", 13, 7, "duplicate key 'task' (first at line 12, column 7)"},
    {"missing-metadata-name.yaml", 4, 3, "metadata: missing required key 'name'"},
    {"metadata-not-mapping.yaml", 3, 11, "metadata: expected a mapping, got \"app\""},
    {"invalid-name-chars.yaml", 7, 13, "spec.sources[0].name: invalid name \"Cam_1\""},
    {"name-too-long.yaml", 4, 9, "metadata.name: longer than 63 bytes"},
    {"duplicate-source-name.yaml", 9, 13, "name \"cam\" is already used by spec.sources[0]"},
    {"stage-named-like-source.yaml", 10, 13,
     "spec.stages[0].name: name \"cam\" is already used by spec.sources[0]"},
    {"dangling-input.yaml", 11, 20, "input[1]: \"camera2\" is neither a source nor a stage"},
    {"self-loop.yaml", 11, 20, "stage cycle: gray -> gray"},
    {"cycle-2.yaml", 17, 15, "spec.stages[2].input[0]: stage cycle: a -> b -> a"},
    {"cycle-3.yaml", 17, 15, "stage cycle: a -> b -> c -> a"},
    {"partitions-zero.yaml", 13, 19, "partitions: expected an integer in 1..4096, got \"0\""},
    {"partitions-5000.yaml", 13, 19, "expected an integer in 1..4096, got \"5000\""},
    {"partitions-word.yaml", 13, 19, "expected an integer in 1..4096, got \"six\""},
    {"partitions-float.yaml", 13, 19, "expected an integer in 1..4096, got \"6.0\""},
    {"partitions-quoted.yaml", 13, 19, "got a quoted string \"6\""},
    {"partitions-huge.yaml", 13, 19, "got \"99999999999999999999\""},
    {"negative-spares.yaml", 13, 41, "workers.spares: expected an integer in 0..10000, got \"-1\""},
    {"workers-min-above-max.yaml", 15, 14, "workers.max: must be >= min (4), got 2"},
    {"bad-delivery.yaml", 6, 13,
     "expected one of at-least-once, exactly-once, got \"exactly-twice\""},
    {"bad-encoding.yaml", 9, 17, "encoding: expected one of raw, jpeg, png, got \"webp\""},
    {"quality-0.yaml", 10, 16, "quality: expected an integer in 1..100, got \"0\""},
    {"quality-101.yaml", 10, 16, "quality: expected an integer in 1..100, got \"101\""},
    {"quality-without-jpeg.yaml", 9, 16, "quality: applies only to encoding: jpeg"},
    {"synthetic-zero-width.yaml", 8, 12, "invalid synthetic uri: expected synthetic:WxH@FPS"},
    {"synthetic-zero-fps.yaml", 8, 12, "FPS must be a number in (0, 1000], got \"0\""},
    {"synthetic-garbage.yaml", 8, 12, "uri: invalid synthetic uri"},
    {"synthetic-too-wide.yaml", 8, 12, "width and height in 1..65536"},
    {"unsupported-scheme.yaml", 8, 12, "unsupported uri \"http://example.com/cam.mjpg\""},
    {"fps-zero.yaml", 9, 12, "fps: expected a number in (0, 1000], got \"0\""},
    {"loop-live-source.yaml", 9, 13, "loop: true needs a video file or image source"},
    {"bad-bool.yaml", 9, 13, "loop: expected true or false, got \"yes\""},
    {"sources-empty.yaml", 6, 12, "spec.sources: must not be empty"},
    {"stages-missing.yaml", 6, 3, "spec: missing required key 'stages'"},
    {"input-empty.yaml", 11, 14, "spec.stages[0].input: must not be empty"},
    {"input-twice.yaml", 11, 20, "input \"cam\" is listed twice"},
    {"unused-source.yaml", 9, 13, "source \"spare\" is not an input of any stage"},
    {"params-map.yaml", 17, 16, "params.ksize: expected a scalar value, got a mapping"},
    {"labels-nested.yaml", 7, 7, "metadata.labels.team: expected a scalar value, got a mapping"},
    {"bad-task-name.yaml", 12, 13, "task: invalid task name"},
    {"sink-unknown-stage.yaml", 17, 30, "spec.sink.stage: \"edges\" is not a stage"},
    {"sink-stage-is-source.yaml", 17, 17, "\"cam\" is a source; expected a stage"},
    {"sink-files-without-path.yaml", 18, 5, "spec.sink: missing required key 'path'"},
    {"sink-path-with-kafka.yaml", 17, 29, "spec.sink.path: applies only to type: files"},
    {"bad-device.yaml", 13, 27, "device: expected one of cpu, gpu, any, got \"tpu\""},
    {"gpus-on-cpu.yaml", 13, 38, "gpus: needs device: gpu or any"},
    {"anchor-alias.yaml", 10, 7, "anchors and aliases are not supported (&common)"},
    {"tag.yaml", 12, 13, "tags are not supported"},
    {"multi-document.yaml", 13, 1, "a second YAML document starts here"},
    {"invalid-utf8.yaml", 12, 15, "invalid YAML: invalid leading UTF-8 octet"},
    {"nul-in-string.yaml", 8, 12, "uri: must not contain NUL characters"},
    {"deep-nesting.yaml", 13, 43, "nested deeper than 32 levels"},
    {"topics-unknown-key.yaml", 14, 5, "spec.topics: unknown key 'retention.hours'; expected one "
                                       "of retention.ms, retention.bytes, segment.bytes, segment.ms"},
    {"topics-retention-ms-small.yaml", 14, 19,
     "spec.topics.retention.ms: expected -1 (no limit) or an integer >= 1000, got 999"},
    {"topics-retention-bytes-negative.yaml", 14, 22,
     "spec.topics.retention.bytes: expected an integer >= -1, got \"-2\""},
    {"topics-segment-bytes-unlimited.yaml", 14, 20,
     "spec.topics.segment.bytes: expected an integer in 1048576..2147483647, got \"-1\""},
    {"topics-segment-bytes-huge.yaml", 14, 20, "expected an integer in 1048576..2147483647"},
    {"topics-segment-ms-quoted.yaml", 14, 17,
     "spec.topics.segment.ms: expected an integer >= 1000, got a quoted string \"60000\""},
    {"topics-not-mapping.yaml", 13, 11, "spec.topics: expected a mapping, got \"7d\""},
};

static void test_bad_manifests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        char relative[256], path[1024], msg[1024];
        ride_manifest m;
        ride_parse_error err;
        snprintf(relative, sizeof relative, "manifests/bad/%s", c->file);
        ride_test_data(relative, path, sizeof path);
        if (ride_manifest_load(path, &m, &err) == 0)
            fail_msg("%s: parsed, expected an error", c->file);
        ride_parse_error_format(&err, msg, sizeof msg);
        if (err.line != c->line || err.column != c->column || !strstr(err.message, c->message))
            fail_msg("%s: got \"%s\", expected %d:%d: ...%s...", c->file, msg, c->line, c->column,
                     c->message);
        assert_string_equal(err.file, path);
        assert_null(m.arena);
        assert_null(m.stages);
    }
}

/* Every file in manifests/bad/ has an entry above, so none goes untested. */
static void test_bad_cases_cover_directory(void **state)
{
    (void)state;
    char dir_path[1024];
    DIR *dir = opendir(ride_test_data("manifests/bad", dir_path, sizeof dir_path));
    assert_non_null(dir);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        bool listed = false;
        for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
            listed = listed || strcmp(bad_cases[i].file, e->d_name) == 0;
        if (!listed)
            fail_msg("manifests/bad/%s has no expected error", e->d_name);
        files++;
    }
    closedir(dir);
    assert_int_equal(files, sizeof bad_cases / sizeof bad_cases[0]);
}

static void expect_error_len(const char *text, size_t len, int line, int column,
                             const char *message)
{
    ride_manifest m;
    ride_parse_error err;
    char msg[1024];
    assert_int_equal(ride_manifest_parse("inline.yaml", text, len, &m, &err), -1);
    ride_parse_error_format(&err, msg, sizeof msg);
    if (err.line != line || err.column != column || !strstr(err.message, message))
        fail_msg("got \"%s\", expected %d:%d: ...%s...", msg, line, column, message);
}

static void expect_error(const char *text, int line, int column, const char *message)
{
    expect_error_len(text, strlen(text), line, column, message);
}

#define HEAD "apiVersion: ride/v1\nkind: Application\nmetadata: {name: x}\nspec:\n"
#define ONE_SOURCE "  sources: [{name: s, uri: \"synthetic:8x8@1\"}]\n"

static void test_inline_errors(void **state)
{
    (void)state;
    expect_error("", 1, 1, "the manifest is empty");
    const char nul_input[] = "apiVersion: ride/v1\0kind: Application\n";
    expect_error_len(nul_input, sizeof nul_input - 1, 1, 20, "invalid YAML");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t, workers: {max: 0}}]\n", 6,
                 56, "expected an integer in 1..10000");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t, resources: {device: gpu, "
                                 "gpus: 0}}]\n",
                 6, 72, "device: gpu needs at least 1 gpu");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t, resources: {threads: "
                                 "2000}}]\n",
                 6, 62, "threads: expected an integer in 0..1024");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t, resources: {memory_mb: "
                                 "-5}}]\n",
                 6, 64, "memory_mb: expected an integer >= 0");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t}]\n  sink: {type: files, "
                                 "stage: a, path: /o, topic: t}\n",
                 7, 50, "topic: applies only to type: kafka");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t}]\n  sink: {topic: "
                                 "\"no/slash\"}\n",
                 7, 17, "invalid Kafka topic name");
    expect_error(HEAD
                 "  sources: [{name: s, uri: /v.mp4, pace: max}, {name: r, uri: "
                 "\"rtsp://h/x\", pace: max}]\n  stages: [{name: a, input: [s, r], task: t}]\n",
                 5, 83, "pace: max needs a video file or image source");
    expect_error(HEAD
                 "  sources: [{name: s, uri: \"\"}]\n  stages: [{name: a, input: s, task: t}]\n",
                 5, 28, "uri: must not be empty");
    expect_error(HEAD "  sources: [{name: s, uri: \"v4l2:video0\"}]\n  stages: [{name: a, input: "
                      "s, task: t}]\n",
                 5, 28, "invalid v4l2 uri");
    expect_error(HEAD "  sources: [{name: s, uri: \"rtsp://\"}]\n  stages: [{name: a, input: s, "
                      "task: t}]\n",
                 5, 28, "invalid rtsp uri");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: [s, 7], task: t}]\n  extra: 1\n", 7,
                 3, "spec: unknown key 'extra'");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: [s, {x: 1}], task: t}]\n", 6, 33,
                 "input[1]: expected a string, got a mapping");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t, ? [k] : v}]\n", 6, 43,
                 "expected a string key, got a sequence");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t, params: {k: }}]\n", 6, 53,
                 "params.k: expected a scalar value, got null");
}

/* Limits that keep a hostile manifest from costing much time or memory. */
#define ONE_STAGE ONE_SOURCE "  stages: [{name: a, input: s, task: t}]\n"

/* spec.sink.group: a Kafka consumer group id, only for a Kafka sink. */
static void test_sink_group(void **state)
{
    (void)state;
    ride_manifest m;
    parse_ok(HEAD ONE_STAGE "  sink: {group: readers.v1_A-2}\n", &m);
    assert_string_equal(m.sink.group, "readers.v1_A-2");
    assert_string_equal(m.sink.topic, "x.a.out");
    ride_manifest_free(&m);
    parse_ok(HEAD ONE_STAGE "  sink: {topic: t}\n", &m);
    assert_null(m.sink.group);
    ride_manifest_free(&m);

    char longest[sizeof HEAD ONE_STAGE + 300];
    int n = snprintf(longest, sizeof longest, HEAD ONE_STAGE "  sink: {group: %0249d}\n", 0);
    assert_true(n > 0 && (size_t)n < sizeof longest);
    parse_ok(longest, &m);
    assert_int_equal(strlen(m.sink.group), 249);
    ride_manifest_free(&m);
    snprintf(longest, sizeof longest, HEAD ONE_STAGE "  sink: {group: %0250d}\n", 0);
    expect_error(longest, 7, 17, "spec.sink.group: longer than 249 bytes");

    expect_error(HEAD ONE_STAGE "  sink: {type: files, stage: a, path: /o, group: g}\n", 7, 50,
                 "spec.sink.group: applies only to type: kafka");
    expect_error(HEAD ONE_STAGE "  sink: {type: none, group: g}\n", 7, 29,
                 "spec.sink.group: applies only to type: kafka");
    expect_error(HEAD ONE_STAGE "  sink: {group: \"a b\"}\n", 7, 17,
                 "spec.sink.group: invalid Kafka consumer group");
    expect_error(HEAD ONE_STAGE "  sink: {group: \"r/1\"}\n", 7, 17,
                 "invalid Kafka consumer group: use letters, digits, '.', '_' and '-'");
    expect_error(HEAD ONE_STAGE "  sink: {group: \"..\"}\n", 7, 17,
                 "invalid Kafka consumer group");
    expect_error(HEAD ONE_STAGE "  sink: {group: \"\"}\n", 7, 17, "must not be empty");
}

/* workers.autoscale: off by default, its defaults, its bounds. */
static void test_workers_autoscale(void **state)
{
    (void)state;
    ride_manifest m;
    parse_ok(HEAD ONE_STAGE, &m);
    const ride_stage_autoscale *a = &m.stages[0].workers.autoscale;
    assert_false(a->enabled);
    assert_true(a->headroom == 0.2 && a->drain_seconds == 30.0 && a->capacity_fps == 0.0);
    assert_int_equal(a->up_cooldown_s, 10);
    assert_int_equal(a->down_window_s, 60);
    ride_manifest_free(&m);
    parse_ok(HEAD ONE_SOURCE "  stages:\n    - {name: a, input: s, task: t, workers: {max: 3, "
                             "autoscale: {enabled: true, headroom: 0, drain_seconds: 5.5, "
                             "up_cooldown_s: 0, down_window_s: 120, capacity_fps: 2.5}}}\n",
             &m);
    a = &m.stages[0].workers.autoscale;
    assert_true(a->enabled);
    assert_true(a->headroom == 0.0 && a->drain_seconds == 5.5 && a->capacity_fps == 2.5);
    assert_int_equal(a->up_cooldown_s, 0);
    assert_int_equal(a->down_window_s, 120);
    ride_manifest_free(&m);
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t, workers: {autoscale: "
                                 "{headroom: -0.5}}}]\n",
                 6, 73, "workers.autoscale.headroom: must be in 0..10, got -0.5");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t, workers: {autoscale: "
                                 "{drain_seconds: 0}}}]\n",
                 6, 78, "drain_seconds: expected a number in (0, 86400]");
    expect_error(HEAD ONE_SOURCE "  stages: [{name: a, input: s, task: t, workers: {autoscale: "
                                 "{enable: true}}}]\n",
                 6, 63, "unknown key 'enable'");
}

static void test_size_limits(void **state)
{
    (void)state;
    size_t big = (1u << 20) + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    expect_error_len(text, big, 0, 0, "larger than 1048576 bytes");

    size_t o = (size_t)snprintf(text, big,
                                "apiVersion: ride/v1\nkind: Application\n"
                                "metadata:\n  name: x\n  labels:\n");
    for (int i = 0; i < 257; i++)
        o += (size_t)snprintf(text + o, big - o, "    k%d: v\n", i);
    expect_error(text, 6, 5, "metadata.labels: more than 256 entries");

    o = (size_t)snprintf(text, big,
                         "apiVersion: ride/v1\nkind: Application\n"
                         "metadata: {name: x}\nspec:\n  sources:\n");
    for (int i = 0; i < 1025; i++)
        o +=
            (size_t)snprintf(text + o, big - o, "    - {name: s%d, uri: \"synthetic:8x8@1\"}\n", i);
    expect_error(text, 6, 5, "spec.sources: more than 1024 items");
    free(text);
}

static void test_error_format(void **state)
{
    (void)state;
    ride_parse_error err;
    char buf[1024];
    assert_int_equal(ride_parse_fail(&err, "app.yaml", (ride_pos){12, 7}, "%s: bad %d", "k", 3),
                     -1);
    assert_string_equal(ride_parse_error_format(&err, buf, sizeof buf), "app.yaml:12:7: k: bad 3");
    ride_parse_fail(&err, "app.yaml", (ride_pos){0, 0}, "cannot open: x");
    assert_string_equal(ride_parse_error_format(&err, buf, sizeof buf), "app.yaml: cannot open: x");
    assert_string_equal(ride_parse_error_format(&err, buf, 5), "app.");
    assert_int_equal(ride_parse_fail(NULL, NULL, (ride_pos){1, 1}, "ignored"), -1);

    ride_manifest m;
    assert_int_equal(ride_manifest_parse(NULL, "", 0, &m, &err), -1);
    assert_string_equal(err.file, "<manifest>");
    assert_int_equal(ride_manifest_load("/nonexistent/app.yaml", &m, &err), -1);
    assert_int_equal(err.line, 0);
    assert_string_equal(err.file, "/nonexistent/app.yaml");
    assert_non_null(strstr(err.message, "cannot open"));
    char dir_path[1024];
    assert_int_equal(
        ride_manifest_load(ride_test_data("manifests", dir_path, sizeof dir_path), &m, &err), -1);
    assert_non_null(strstr(err.message, "cannot read"));
}

static void test_source_uris(void **state)
{
    (void)state;
    static const struct {
        const char *uri;
        ride_source_kind kind;
        const char *path;
    } good[] = {
        {"rtsp://10.0.0.1:8554/cam", RIDE_SOURCE_RTSP, NULL},
        {"rtsps://cam.local/live", RIDE_SOURCE_RTSP, NULL},
        {"v4l2:/dev/video2", RIDE_SOURCE_V4L2, "/dev/video2"},
        {"v4l2:/dev/v4l/by-id/usb-cam", RIDE_SOURCE_V4L2, "/dev/v4l/by-id/usb-cam"},
        {"file:clip.mp4", RIDE_SOURCE_VIDEO_FILE, "clip.mp4"},
        {"file:///abs/clip.MOV", RIDE_SOURCE_VIDEO_FILE, "/abs/clip.MOV"},
        {"/data/clip.avi", RIDE_SOURCE_VIDEO_FILE, "/data/clip.avi"},
        {"/data/frames/", RIDE_SOURCE_IMAGE_DIR, "/data/frames/"},
        {"frames", RIDE_SOURCE_IMAGE_DIR, "frames"},
        {"/data/f*.jpg", RIDE_SOURCE_IMAGE_GLOB, "/data/f*.jpg"},
        {"shot.JPEG", RIDE_SOURCE_IMAGE_GLOB, "shot.JPEG"},
        {"./a:b.mkv", RIDE_SOURCE_VIDEO_FILE, "./a:b.mkv"},
        {"/srv/My Videos/clip 1.mp4", RIDE_SOURCE_VIDEO_FILE, "/srv/My Videos/clip 1.mp4"},
    };
    char why[256];
    ride_source_uri out;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (ride_source_uri_parse(good[i].uri, &out, why, sizeof why) != 0)
            fail_msg("%s: %s", good[i].uri, why);
        assert_int_equal(out.kind, good[i].kind);
        if (good[i].path)
            assert_string_equal(out.path, good[i].path);
        else
            assert_null(out.path);
    }
    assert_int_equal(ride_source_uri_parse("synthetic:1920x1080@29.97", &out, why, sizeof why), 0);
    assert_int_equal(out.width, 1920);
    assert_int_equal(out.height, 1080);
    assert_true(out.fps > 29.96 && out.fps < 29.98);
    assert_int_equal(ride_source_uri_parse("synthetic:65536x1@1000", &out, why, sizeof why), 0);

    static const char *const bad[] = {
        "synthetic:0x900@30",
        "synthetic:900x900@0",
        "synthetic:900x900@1000.5",
        "synthetic:900x900",
        "synthetic:x@1",
        "synthetic:99999999999x1@1",
        "synthetic:9x9@1e3",
        "synthetic:9x9@.5",
        "synthetic:9x9@30 ",
        "http://cam/x.mjpg",
        "file://host/x.mp4",
        "file:",
        "v4l2:/dev/",
        "rtsp:///path",
        "rtsp://h/a b",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        if (ride_source_uri_parse(bad[i], &out, why, sizeof why) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_true(why[0] != '\0');
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_true(ride_name_valid("cctv-edges"));
    assert_true(ride_name_valid("a"));
    assert_true(ride_name_valid("0cam9"));
    char longest[RIDE_NAME_MAX + 2];
    memset(longest, 'a', RIDE_NAME_MAX);
    longest[RIDE_NAME_MAX] = '\0';
    assert_true(ride_name_valid(longest));
    longest[RIDE_NAME_MAX] = 'a';
    longest[RIDE_NAME_MAX + 1] = '\0';
    assert_false(ride_name_valid(longest));
    assert_false(ride_name_valid(""));
    assert_false(ride_name_valid(NULL));
    assert_false(ride_name_valid("-cam"));
    assert_false(ride_name_valid("cam-"));
    assert_false(ride_name_valid("Cam"));
    assert_false(ride_name_valid("cam.1"));
    assert_false(ride_name_valid("cam_1"));

    assert_string_equal(ride_delivery_name(RIDE_DELIVERY_EXACTLY_ONCE), "exactly-once");
    assert_string_equal(ride_source_kind_name(RIDE_SOURCE_IMAGE_GLOB), "image-glob");
    assert_string_equal(ride_encoding_name(RIDE_ENC_JPEG), "jpeg");
    assert_string_equal(ride_pace_name(RIDE_PACE_MAX), "max");
    assert_string_equal(ride_stage_device_name(RIDE_STAGE_ANY), "any");
    assert_string_equal(ride_sink_type_name(RIDE_SINK_NONE), "none");
    assert_string_equal(ride_sink_type_name((ride_sink_type)3), "invalid");
    assert_string_equal(ride_encoding_name((ride_encoding)-1), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_shipped_example_matches_spec),
        cmocka_unit_test(test_demo_app),
        cmocka_unit_test(test_every_shipped_app_parses),
        cmocka_unit_test(test_full_manifest),
        cmocka_unit_test(test_topological_order_and_default_sink),
        cmocka_unit_test(test_bad_manifests),
        cmocka_unit_test(test_bad_cases_cover_directory),
        cmocka_unit_test(test_inline_errors),
        cmocka_unit_test(test_sink_group),
        cmocka_unit_test(test_workers_autoscale),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_source_uris),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
