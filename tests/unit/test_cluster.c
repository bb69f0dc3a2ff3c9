/* ZooKeeper node formats: paths, encode/decode round trips of every node kind,
 * encoders that refuse invalid nodes, and decoders that reject malformed data with
 * one exact message each and count the rejection. */
#include "ride_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/zk.h"
#include "kernels/gpu.h"

#define ERR_LEN 1024

/* ---- helpers ---------------------------------------------------------------------- */

static void assert_str_eq_or_null(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_kv_equal(const ride_kv *a, size_t na, const ride_kv *b, size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].key, b[i].key);
        assert_string_equal(a[i].value, b[i].value);
    }
}

/* Decoding `json` as a node of this type must fail with exactly `want`, count one
 * rejection, and leave the struct zeroed. */
#define EXPECT_REJECT(type, kind, node, json, want)                                          \
    do {                                                                                     \
        ride_cluster_##type v_;                                                              \
        char err_[ERR_LEN] = "";                                                             \
        uint64_t before_ = ride_cluster_bad_data_total(kind);                                \
        int rc_ = ride_cluster_##type##_decode(node, json, strlen(json), &v_, err_,          \
                                               sizeof err_);                                 \
        assert_int_equal(rc_, -1);                                                           \
        assert_string_equal(err_, want);                                                     \
        assert_int_equal(ride_cluster_bad_data_total(kind), before_ + 1);                    \
        assert_null(v_.mem);                                                                 \
    } while (0)

/* The same for data jansson itself refuses: the message starts with the node and
 * "not valid JSON", then jansson's own words (asserted only by a phrase, as its exact
 * wording and columns are jansson's). */
#define EXPECT_NOT_JSON(type, kind, node, json, phrase)                                      \
    do {                                                                                     \
        ride_cluster_##type v_;                                                              \
        char err_[ERR_LEN] = "";                                                             \
        uint64_t before_ = ride_cluster_bad_data_total(kind);                                \
        int rc_ = ride_cluster_##type##_decode(node, json, strlen(json), &v_, err_,          \
                                               sizeof err_);                                 \
        assert_int_equal(rc_, -1);                                                           \
        assert_true(strncmp(err_, node ": not valid JSON: ", strlen(node) + 18) == 0);       \
        assert_non_null(strstr(err_, phrase));                                               \
        assert_int_equal(ride_cluster_bad_data_total(kind), before_ + 1);                    \
        assert_null(v_.mem);                                                                 \
    } while (0)

/* ---- paths ---------------------------------------------------------------------------- */

static void test_paths(void **state)
{
    (void)state;
    char buf[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_cluster_path_worker(buf, sizeof buf, "w-1.a_B"), 0);
    assert_string_equal(buf, "/workers/w-1.a_B");
    assert_int_equal(ride_cluster_path_producer(buf, sizeof buf, "p1"), 0);
    assert_string_equal(buf, "/producers/p1");
    assert_int_equal(ride_cluster_path_heartbeat(buf, sizeof buf, "w1"), 0);
    assert_string_equal(buf, "/heartbeats/w1");
    assert_int_equal(ride_cluster_path_assignment(buf, sizeof buf, "w1"), 0);
    assert_string_equal(buf, "/assignments/w1");
    assert_int_equal(ride_cluster_path_app(buf, sizeof buf, "cctv"), 0);
    assert_string_equal(buf, "/apps/cctv");
    assert_int_equal(ride_cluster_path_app_state(buf, sizeof buf, "cctv"), 0);
    assert_string_equal(buf, "/apps/cctv/state");
    assert_int_equal(ride_cluster_path_app_partitions(buf, sizeof buf, "cctv"), 0);
    assert_string_equal(buf, "/apps/cctv/partitions");
    assert_int_equal(ride_cluster_path_stage_partitions(buf, sizeof buf, "cctv", "gray"), 0);
    assert_string_equal(buf, "/apps/cctv/partitions/gray");
    assert_int_equal(ride_cluster_path_partition(buf, sizeof buf, "cctv", "gray", 4095), 0);
    assert_string_equal(buf, "/apps/cctv/partitions/gray/4095");
    assert_int_equal(ride_cluster_path_app_sources(buf, sizeof buf, "cctv"), 0);
    assert_string_equal(buf, "/apps/cctv/sources");
    assert_int_equal(ride_cluster_path_source(buf, sizeof buf, "cctv", "cam1"), 0);
    assert_string_equal(buf, "/apps/cctv/sources/cam1");
}

static void expect_einval(int rc, const char *buf)
{
    assert_int_equal(rc, -1);
    assert_int_equal(errno, EINVAL);
    assert_string_equal(buf, "");
}

static void test_paths_reject(void **state)
{
    (void)state;
    char buf[RIDE_ZK_PATH_MAX];
    char long_id[RIDE_MEMBER_ID_MAX + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';

    expect_einval(ride_cluster_path_worker(buf, sizeof buf, ""), buf);
    expect_einval(ride_cluster_path_worker(buf, sizeof buf, NULL), buf);
    expect_einval(ride_cluster_path_worker(buf, sizeof buf, "a/b"), buf);
    expect_einval(ride_cluster_path_worker(buf, sizeof buf, ".."), buf);
    expect_einval(ride_cluster_path_producer(buf, sizeof buf, "w 1"), buf);
    expect_einval(ride_cluster_path_heartbeat(buf, sizeof buf, long_id), buf);
    long_id[RIDE_MEMBER_ID_MAX] = '\0';
    assert_int_equal(ride_cluster_path_heartbeat(buf, sizeof buf, long_id), 0);
    expect_einval(ride_cluster_path_app(buf, sizeof buf, "Cctv"), buf);
    expect_einval(ride_cluster_path_app_state(buf, sizeof buf, "-a"), buf);
    expect_einval(ride_cluster_path_stage_partitions(buf, sizeof buf, "a", "b_c"), buf);
    expect_einval(ride_cluster_path_partition(buf, sizeof buf, "a", "b", 4096), buf);
    expect_einval(ride_cluster_path_partition(buf, sizeof buf, "a", "b", -1), buf);
    expect_einval(ride_cluster_path_source(buf, sizeof buf, "a", "../x"), buf);

    /* "/workers/w1" needs 12 bytes with its NUL. */
    char small[12];
    assert_int_equal(ride_cluster_path_worker(small, sizeof small, "w1"), 0);
    assert_int_equal(ride_cluster_path_worker(small, sizeof small, "w12"), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_string_equal(small, "");
    char tiny[8];
    assert_int_equal(ride_cluster_path_partition(tiny, sizeof tiny, "a", "b", 1), -1);
    assert_int_equal(errno, ENAMETOOLONG);
}

/* ---- round trips ------------------------------------------------------------------------ */

static void test_roundtrip_small_nodes(void **state)
{
    (void)state;
    char err[ERR_LEN];

    ride_cluster_kafka k = {.bootstrap_servers = "127.0.0.1:9092,127.0.0.1:9093", .embedded = true};
    char *text = ride_cluster_kafka_encode(&k, err, sizeof err);
    assert_non_null(text);
    assert_string_equal(text, "{\"bootstrap_servers\":\"127.0.0.1:9092,127.0.0.1:9093\","
                              "\"embedded\":true}");
    ride_cluster_kafka k2;
    assert_int_equal(ride_cluster_kafka_decode("/cluster/kafka", text, strlen(text), &k2, err,
                                               sizeof err), 0);
    assert_string_equal(k2.bootstrap_servers, k.bootstrap_servers);
    assert_true(k2.embedded);
    ride_cluster_kafka_free(&k2);
    assert_null(k2.bootstrap_servers);
    free(text);

    ride_cluster_api a = {.url = "http://127.0.0.1:7480", .master = "m1"};
    text = ride_cluster_api_encode(&a, err, sizeof err);
    assert_string_equal(text, "{\"url\":\"http://127.0.0.1:7480\",\"master\":\"m1\"}");
    ride_cluster_api a2;
    assert_int_equal(ride_cluster_api_decode("/cluster/api", text, strlen(text), &a2, err,
                                             sizeof err), 0);
    assert_string_equal(a2.url, a.url);
    assert_string_equal(a2.master, a.master);
    assert_null(a2.liveness);
    ride_cluster_api_free(&a2);
    free(text);
    a.liveness = "127.0.0.1:40123";
    text = ride_cluster_api_encode(&a, err, sizeof err);
    assert_string_equal(text, "{\"url\":\"http://127.0.0.1:7480\",\"master\":\"m1\","
                              "\"liveness\":\"127.0.0.1:40123\"}");
    assert_int_equal(ride_cluster_api_decode("/cluster/api", text, strlen(text), &a2, err,
                                             sizeof err), 0);
    assert_string_equal(a2.liveness, a.liveness);
    ride_cluster_api_free(&a2);
    free(text);

    ride_cluster_candidate c = {.id = "master-2"};
    text = ride_cluster_candidate_encode(&c, err, sizeof err);
    assert_string_equal(text, "{\"id\":\"master-2\"}");
    ride_cluster_candidate c2;
    assert_int_equal(ride_cluster_candidate_decode("/masters/election/n_0000000001", text,
                                                   strlen(text), &c2, err, sizeof err), 0);
    assert_string_equal(c2.id, "master-2");
    ride_cluster_candidate_free(&c2);
    free(text);

    int64_t g = -5;
    text = ride_cluster_generation_encode(9007199254740993LL, err, sizeof err);
    assert_string_equal(text, "9007199254740993");
    assert_int_equal(ride_cluster_generation_decode("/cluster/generation", text, strlen(text), &g,
                                                    err, sizeof err), 0);
    assert_int_equal(g, 9007199254740993LL);
    free(text);
    text = ride_cluster_generation_encode(0, err, sizeof err);
    assert_int_equal(ride_cluster_generation_decode("/cluster/generation", text, strlen(text), &g,
                                                    err, sizeof err), 0);
    assert_int_equal(g, 0);
    free(text);
    assert_null(ride_cluster_generation_encode(-1, err, sizeof err));

    ride_cluster_app_state s = {.phase = RIDE_APP_DELETING, .generation = 3, .created_ms = 1000,
                                .updated_ms = 2000, .message = "draining \"gray\" \xc3\xa9"};
    text = ride_cluster_app_state_encode(&s, err, sizeof err);
    assert_non_null(text);
    ride_cluster_app_state s2;
    assert_int_equal(ride_cluster_app_state_decode("/apps/a/state", text, strlen(text), &s2, err,
                                                   sizeof err), 0);
    assert_int_equal(s2.phase, RIDE_APP_DELETING);
    assert_int_equal(s2.generation, 3);
    assert_int_equal(s2.created_ms, 1000);
    assert_int_equal(s2.updated_ms, 2000);
    assert_string_equal(s2.message, s.message);
    ride_cluster_app_state_free(&s2);
    free(text);

    ride_cluster_partition_owner o = {.owner = "w7", .epoch = 42};
    text = ride_cluster_partition_owner_encode(&o, err, sizeof err);
    assert_string_equal(text, "{\"owner\":\"w7\",\"epoch\":42}");
    ride_cluster_partition_owner o2;
    assert_int_equal(ride_cluster_partition_owner_decode("/apps/a/partitions/s/0", text,
                                                         strlen(text), &o2, err, sizeof err), 0);
    assert_string_equal(o2.owner, "w7");
    assert_int_equal(o2.epoch, 42);
    ride_cluster_partition_owner_free(&o2);
    free(text);

    ride_cluster_source_owner so = {.producer = "p1", .epoch = 0, .stream_id = UINT32_MAX};
    text = ride_cluster_source_owner_encode(&so, err, sizeof err);
    assert_string_equal(text, "{\"producer\":\"p1\",\"epoch\":0,\"stream_id\":4294967295}");
    ride_cluster_source_owner so2;
    assert_int_equal(ride_cluster_source_owner_decode("/apps/a/sources/cam", text, strlen(text),
                                                      &so2, err, sizeof err), 0);
    assert_string_equal(so2.producer, "p1");
    assert_int_equal(so2.stream_id, UINT32_MAX);
    ride_cluster_source_owner_free(&so2);
    free(text);

    ride_cluster_event e = {.ts_ms = 5, .type = "partition_moved", .app = "a", .stage = "s",
                            .partition = 3, .member = "w2", .message = "from w1"};
    text = ride_cluster_event_encode(&e, err, sizeof err);
    ride_cluster_event e2;
    assert_int_equal(ride_cluster_event_decode("/events/e_0000000001", text, strlen(text), &e2,
                                               err, sizeof err), 0);
    assert_int_equal(e2.ts_ms, 5);
    assert_string_equal(e2.type, e.type);
    assert_string_equal(e2.app, "a");
    assert_string_equal(e2.stage, "s");
    assert_int_equal(e2.partition, 3);
    assert_string_equal(e2.member, "w2");
    assert_string_equal(e2.message, "from w1");
    ride_cluster_event_free(&e2);
    free(text);

    /* An event about no partition: the optional fields are left out and come back empty. */
    ride_cluster_event lead = {.ts_ms = 1, .type = "leader_elected", .partition = -1,
                               .member = "m1"};
    text = ride_cluster_event_encode(&lead, err, sizeof err);
    assert_string_equal(text,
                        "{\"ts_ms\":1,\"type\":\"leader_elected\",\"member\":\"m1\","
                        "\"message\":\"\"}");
    assert_int_equal(ride_cluster_event_decode("/events/e_1", text, strlen(text), &e2, err,
                                               sizeof err), 0);
    assert_null(e2.app);
    assert_null(e2.stage);
    assert_int_equal(e2.partition, -1);
    ride_cluster_event_free(&e2);
    free(text);
}

static void test_roundtrip_members(void **state)
{
    (void)state;
    char err[ERR_LEN];
    ride_cluster_gpu gpus[] = {
        {.index = 0, .name = "NVIDIA H100 80GB HBM3", .memory_mb = 81559,
         .compute_capability = "9.0"},
        {.index = 1, .name = "NVIDIA A10", .memory_mb = 22731, .compute_capability = "8.6"},
    };
    ride_kv labels[] = {{.key = "zone", .value = "a"}, {.key = "rack", .value = ""}};
    const char *tasks[] = {"blur", "edges"};
    ride_cluster_worker w = {.id = "w1", .host = "node-1", .pid = 1234, .version = "0.1.0",
                             .cores = 16, .memory_mb = 131072, .gpus = gpus, .gpu_count = 2,
                             .labels = labels, .label_count = 2, .plugin_tasks = tasks,
                             .plugin_task_count = 2};
    char *text = ride_cluster_worker_encode(&w, err, sizeof err);
    assert_non_null(text);
    /* Key order is the struct's, so the encoding is stable. */
    assert_true(strncmp(text, "{\"id\":\"w1\",\"host\":\"node-1\",\"pid\":1234,", 37) == 0);
    ride_cluster_worker w2;
    assert_int_equal(ride_cluster_worker_decode("/workers/w1", text, strlen(text), &w2, err,
                                                sizeof err), 0);
    assert_string_equal(w2.id, "w1");
    assert_string_equal(w2.host, "node-1");
    assert_int_equal(w2.pid, 1234);
    assert_string_equal(w2.version, "0.1.0");
    assert_int_equal(w2.cores, 16);
    assert_int_equal(w2.memory_mb, 131072);
    assert_int_equal(w2.gpu_count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(w2.gpus[i].index, gpus[i].index);
        assert_string_equal(w2.gpus[i].name, gpus[i].name);
        assert_int_equal(w2.gpus[i].memory_mb, gpus[i].memory_mb);
        assert_string_equal(w2.gpus[i].compute_capability, gpus[i].compute_capability);
    }
    assert_kv_equal(w2.labels, w2.label_count, labels, 2);
    assert_int_equal(w2.plugin_task_count, 2);
    assert_string_equal(w2.plugin_tasks[1], "edges");
    char *again = ride_cluster_worker_encode(&w2, err, sizeof err);
    assert_string_equal(again, text);
    free(again);
    ride_cluster_worker_free(&w2);
    free(text);

    const char *local[] = {"v4l2:/dev/video0", "/data/clips/a.mp4"};
    ride_cluster_producer p = {.id = "p1", .host = "edge", .pid = 7, .version = "0.1.0",
                               .local_sources = local, .local_source_count = 2,
                               .labels = labels, .label_count = 1};
    text = ride_cluster_producer_encode(&p, err, sizeof err);
    assert_non_null(text);
    ride_cluster_producer p2;
    assert_int_equal(ride_cluster_producer_decode("/producers/p1", text, strlen(text), &p2, err,
                                                  sizeof err), 0);
    assert_string_equal(p2.id, "p1");
    assert_string_equal(p2.host, "edge");
    assert_int_equal(p2.pid, 7);
    assert_int_equal(p2.local_source_count, 2);
    assert_string_equal(p2.local_sources[0], local[0]);
    assert_string_equal(p2.local_sources[1], local[1]);
    assert_kv_equal(p2.labels, p2.label_count, labels, 1);
    ride_cluster_producer_free(&p2);
    free(text);
}

static void test_roundtrip_heartbeat(void **state)
{
    (void)state;
    char err[ERR_LEN];
    ride_cluster_hb_partition parts[] = {
        {.app = "a", .stage = "gray", .partition = 0, .epoch = 3, .position = 100,
         .committed = 98, .frames_processed = 1000, .messages_written = 3000, .busy_ms = 0},
        {.app = "a", .stage = "sd", .partition = 4095, .epoch = 0, .position = -1,
         .committed = -1, .frames_processed = 0, .busy_ms = 12345},
    };
    ride_cluster_hb_source sources[] = {
        {.app = "a", .source = "cam1", .epoch = 2, .frames_produced = 77, .frames_dropped = 1,
         .messages_produced = 231},
    };
    ride_cluster_heartbeat h = {.ts_ms = 1700000000000, .partitions = parts, .partition_count = 2,
                                .sources = sources, .source_count = 1, .stalled_ms = 2500};
    char *text = ride_cluster_heartbeat_encode(&h, err, sizeof err);
    assert_non_null(text);
    ride_cluster_heartbeat h2;
    assert_int_equal(ride_cluster_heartbeat_decode("/heartbeats/w1", text, strlen(text), &h2,
                                                   err, sizeof err), 0);
    assert_int_equal(h2.ts_ms, h.ts_ms);
    assert_int_equal(h2.stalled_ms, 2500);
    assert_int_equal(h2.partition_count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(h2.partitions[i].app, parts[i].app);
        assert_string_equal(h2.partitions[i].stage, parts[i].stage);
        assert_int_equal(h2.partitions[i].partition, parts[i].partition);
        assert_int_equal(h2.partitions[i].epoch, parts[i].epoch);
        assert_int_equal(h2.partitions[i].position, parts[i].position);
        assert_int_equal(h2.partitions[i].committed, parts[i].committed);
        assert_int_equal(h2.partitions[i].frames_processed, parts[i].frames_processed);
        assert_int_equal(h2.partitions[i].messages_written, parts[i].messages_written);
        assert_int_equal(h2.partitions[i].busy_ms, parts[i].busy_ms);
    }
    assert_int_equal(h2.source_count, 1);
    assert_string_equal(h2.sources[0].source, "cam1");
    assert_int_equal(h2.sources[0].epoch, 2);
    assert_int_equal(h2.sources[0].frames_produced, 77);
    assert_int_equal(h2.sources[0].frames_dropped, 1);
    assert_int_equal(h2.sources[0].messages_produced, 231);
    ride_cluster_heartbeat_free(&h2);
    free(text);

    /* A member that does not report busy_ms (older, or it sets -1): unknown. */
    parts[0].busy_ms = -1;
    text = ride_cluster_heartbeat_encode(&h, err, sizeof err);
    assert_non_null(text);
    assert_null(strstr(text, "\"busy_ms\":-1"));
    assert_int_equal(ride_cluster_heartbeat_decode("/heartbeats/w1", text, strlen(text), &h2,
                                                   err, sizeof err), 0);
    assert_int_equal(h2.partitions[0].busy_ms, -1);
    assert_int_equal(h2.partitions[1].busy_ms, 12345);
    ride_cluster_heartbeat_free(&h2);
    free(text);
    const char old[] = "{\"ts_ms\":1,\"partitions\":[{\"app\":\"a\",\"stage\":\"g\","
                       "\"partition\":0,\"epoch\":1,\"position\":5,\"committed\":5,"
                       "\"frames_processed\":5}],\"sources\":[]}";
    assert_int_equal(
        ride_cluster_heartbeat_decode("/heartbeats/w1", old, strlen(old), &h2, err, sizeof err), 0);
    assert_int_equal(h2.partitions[0].busy_ms, -1);
    ride_cluster_heartbeat_free(&h2);
    const char negative[] = "{\"ts_ms\":1,\"partitions\":[{\"app\":\"a\",\"stage\":\"g\","
                            "\"partition\":0,\"epoch\":1,\"position\":5,\"committed\":5,"
                            "\"frames_processed\":5,\"busy_ms\":-2}],\"sources\":[]}";
    assert_int_equal(ride_cluster_heartbeat_decode("/heartbeats/w1", negative, strlen(negative),
                                                   &h2, err, sizeof err), -1);

    /* An idle member's heartbeat. */
    ride_cluster_heartbeat idle = {.ts_ms = 1};
    text = ride_cluster_heartbeat_encode(&idle, err, sizeof err);
    assert_string_equal(text, "{\"ts_ms\":1,\"partitions\":[],\"sources\":[]}");
    free(text);
}

static void test_roundtrip_assignment(void **state)
{
    (void)state;
    char err[ERR_LEN];
    ride_kv params[] = {{.key = "ksize", .value = "5"}};
    ride_cluster_partition_task parts[] = {
        {.app = "cctv", .stage = "gray", .partition = 2, .epoch = 9,
         .input_topic = "ride.cctv.gray",
         .output_topic = "ride.cctv.sd", .output_partitions = 6, .output_group = "ride.cctv.sd",
         .output_format = RIDE_ENC_PNG, .group = "ride.cctv.gray",
         .delivery = RIDE_DELIVERY_EXACTLY_ONCE, .task = "grayscale", .device = RIDE_STAGE_CPU,
         .threads = 2},
        {.app = "cctv", .stage = "sd", .partition = 0, .epoch = 1, .input_topic = "ride.cctv.sd",
         .output_path = "/var/lib/ride/out", .output_format = RIDE_ENC_JPEG,
         .group = "ride.cctv.sd", .task = "stddev", .params = params, .param_count = 1,
         .device = RIDE_STAGE_ANY},
        {.app = "cctv", .stage = "last", .partition = 1, .epoch = 1,
         .input_topic = "ride.cctv.last", .output_format = RIDE_ENC_PNG,
         .group = "ride.cctv.last", .task = "stddev",
         .device = RIDE_STAGE_GPU},
    };
    ride_cluster_source_task sources[] = {
        {.app = "cctv", .source = "cam1", .epoch = 4, .stream_id = 17,
         .uri = "rtsp://127.0.0.1:8554/cam1", .fps = 12.5, .encoding = RIDE_ENC_JPEG,
         .quality = 85, .loop = true, .pace = RIDE_PACE_MAX, .topic = "ride.cctv.gray",
         .partitions = 6},
    };
    ride_cluster_assignment a = {.generation = 5, .epoch = 12, .partitions = parts,
                                 .partition_count = 3, .sources = sources, .source_count = 1};
    char *text = ride_cluster_assignment_encode(&a, err, sizeof err);
    assert_non_null(text);
    ride_cluster_assignment b;
    assert_int_equal(ride_cluster_assignment_decode("/assignments/w1", text, strlen(text), &b,
                                                    err, sizeof err), 0);
    assert_int_equal(b.generation, 5);
    assert_int_equal(b.epoch, 12);
    assert_int_equal(b.partition_count, 3);
    for (size_t i = 0; i < 3; i++) {
        const ride_cluster_partition_task *x = &parts[i], *y = &b.partitions[i];
        assert_string_equal(y->app, x->app);
        assert_string_equal(y->stage, x->stage);
        assert_int_equal(y->partition, x->partition);
        assert_int_equal(y->epoch, x->epoch);
        assert_string_equal(y->input_topic, x->input_topic);
        assert_str_eq_or_null(y->output_topic, x->output_topic);
        assert_int_equal(y->output_partitions, x->output_partitions);
        assert_str_eq_or_null(y->output_group, x->output_group);
        assert_str_eq_or_null(y->output_path, x->output_path);
        assert_int_equal(y->output_format, x->output_format);
        assert_string_equal(y->group, x->group);
        assert_int_equal(y->delivery, x->delivery);
        assert_string_equal(y->task, x->task);
        assert_kv_equal(y->params, y->param_count, x->params, x->param_count);
        assert_int_equal(y->device, x->device);
        assert_int_equal(y->threads, x->threads);
    }
    assert_int_equal(b.source_count, 1);
    const ride_cluster_source_task *s = &b.sources[0];
    assert_string_equal(s->app, "cctv");
    assert_string_equal(s->source, "cam1");
    assert_int_equal(s->epoch, 4);
    assert_int_equal(s->stream_id, 17);
    assert_string_equal(s->uri, sources[0].uri);
    assert_true(s->fps == 12.5);
    assert_int_equal(s->encoding, RIDE_ENC_JPEG);
    assert_int_equal(s->quality, 85);
    assert_true(s->loop);
    assert_int_equal(s->pace, RIDE_PACE_MAX);
    assert_string_equal(s->topic, "ride.cctv.gray");
    assert_int_equal(s->partitions, 6);
    char *again = ride_cluster_assignment_encode(&b, err, sizeof err);
    assert_string_equal(again, text);
    free(again);
    ride_cluster_assignment_free(&b);
    free(text);
}

/* The assignment example of docs/architecture.md ("Node formats"), as printed there. */
static const char documented_assignment[] =
    "{\"generation\": 5, \"epoch\": 12,\n"
    " \"partitions\": [{\"app\": \"cctv\", \"stage\": \"gray\", \"partition\": 2, \"epoch\": 9,\n"
    "                 \"input_topic\": \"ride.cctv.gray\", \"output_topic\": \"ride.cctv.sd\",\n"
    "                 \"output_partitions\": 6, \"group\": \"ride.cctv.gray\",\n"
    "                 \"delivery\": \"at-least-once\", \"task\": \"grayscale\", \"params\": {},\n"
    "                 \"device\": \"cpu\", \"threads\": 2},\n"
    "                {\"app\": \"cctv\", \"stage\": \"sd\", \"partition\": 0, \"epoch\": 1,\n"
    "                 \"input_topic\": \"ride.cctv.sd\", \"output_path\": \"/var/lib/ride/out\",\n"
    "                 \"output_format\": \"png\", \"group\": \"ride.cctv.sd\",\n"
    "                 \"delivery\": \"at-least-once\", \"task\": \"stddev\", \"params\": {\"ksize\": \"5\"},\n"
    "                 \"device\": \"any\", \"threads\": 0}],\n"
    " \"sources\": [{\"app\": \"cctv\", \"source\": \"cam1\", \"epoch\": 4, \"stream_id\": 17,\n"
    "              \"uri\": \"rtsp://127.0.0.1:8554/cam1\", \"fps\": 12.5, \"encoding\": \"jpeg\",\n"
    "              \"quality\": 85, \"loop\": false, \"pace\": \"source\", \"topic\": \"ride.cctv.gray\",\n"
    "              \"partitions\": 6}]}\n";

static void test_documented_assignment(void **state)
{
    (void)state;
    char err[ERR_LEN];
    ride_cluster_assignment a;
    assert_int_equal(ride_cluster_assignment_decode("/assignments/w1", documented_assignment,
                                                    strlen(documented_assignment), &a, err,
                                                    sizeof err), 0);
    assert_int_equal(a.partition_count, 2);
    assert_null(a.partitions[1].output_topic);
    assert_string_equal(a.partitions[1].params[0].value, "5");
    assert_int_equal(a.sources[0].pace, RIDE_PACE_SOURCE);
    ride_cluster_assignment_free(&a);
}

/* ---- encoders refuse what readers would reject ------------------------------------------- */

static void test_encode_refuses_invalid(void **state)
{
    (void)state;
    char err[ERR_LEN];
    ride_cluster_partition_owner o = {.owner = "", .epoch = 1};
    assert_null(ride_cluster_partition_owner_encode(&o, err, sizeof err));
    assert_string_equal(err, "partition_owner: field 'owner': expected a member id "
                             "([A-Za-z0-9._-], at most 128 bytes)");
    ride_cluster_kafka k = {.bootstrap_servers = NULL};
    assert_null(ride_cluster_kafka_encode(&k, err, sizeof err));
    assert_string_equal(err, "kafka: field 'bootstrap_servers': expected a non-empty string of "
                             "at most 4096 bytes");
    ride_cluster_worker w = {.id = "w1", .host = "h", .pid = 1, .version = "1", .cores = 0,
                             .memory_mb = 1};
    assert_null(ride_cluster_worker_encode(&w, err, sizeof err));
    assert_string_equal(err, "worker: field 'cores': expected an integer in 1..1048576");
    ride_cluster_app_state s = {.phase = (ride_app_phase)7, .message = ""};
    assert_null(ride_cluster_app_state_encode(&s, err, sizeof err));
    assert_string_equal(err, "app_state: field 'phase': expected one of \"pending\", "
                             "\"running\", \"deleting\"");
    /* Not UTF-8. */
    ride_cluster_event e = {.type = "x", .partition = -1, .message = "\xff"};
    assert_null(ride_cluster_event_encode(&e, err, sizeof err));
    assert_string_equal(err, "event: field 'message': expected a string of at most 4096 bytes");
    assert_null(ride_cluster_kafka_encode(NULL, err, sizeof err));
}

/* ---- malformed data ------------------------------------------------------------------------- */

static const char worker_ok_prefix[] =
    "{\"id\":\"w1\",\"host\":\"h\",\"pid\":1,\"version\":\"0.1.0\",";

static void test_malformed_generic(void **state)
{
    (void)state;
    EXPECT_NOT_JSON(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "owner=w1", "'[' or '{' expected");
    EXPECT_REJECT(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "[\"w1\", 3]", "/apps/a/partitions/s/1: expected a JSON object");
    EXPECT_REJECT(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":\"w1\"}", "/apps/a/partitions/s/1: field 'epoch': missing");
    EXPECT_REJECT(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":\"w1\",\"epoch\":-1}",
                  "/apps/a/partitions/s/1: field 'epoch': expected an integer >= 0");
    EXPECT_REJECT(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":\"w1\",\"epoch\":\"3\"}",
                  "/apps/a/partitions/s/1: field 'epoch': expected an integer >= 0");
    EXPECT_REJECT(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":\"w1\",\"epoch\":1.5}",
                  "/apps/a/partitions/s/1: field 'epoch': expected an integer >= 0");
    EXPECT_REJECT(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":\"\",\"epoch\":1}",
                  "/apps/a/partitions/s/1: field 'owner': expected a member id "
                  "([A-Za-z0-9._-], at most 128 bytes)");
    EXPECT_REJECT(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":{\"a\":[[[{}]]]},\"epoch\":1}",
                  "/apps/a/partitions/s/1: field 'owner': expected a member id "
                  "([A-Za-z0-9._-], at most 128 bytes)");
    EXPECT_NOT_JSON(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":\"w1\",\"epoch\":1,\"epoch\":2}", "duplicate object key");
    EXPECT_NOT_JSON(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":\"w\\u0000x\",\"epoch\":1}", "\\u0000 is not allowed");
    EXPECT_NOT_JSON(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":\"w1\",\"epoch\":99999999999999999999}", "too big integer");
    EXPECT_NOT_JSON(partition_owner, RIDE_CLUSTER_PARTITION_OWNER, "/apps/a/partitions/s/1",
                  "{\"owner\":\"w1\",\"epoch\":1} trailing", "end of file expected");

    /* Invalid UTF-8 inside a string. */
    EXPECT_NOT_JSON(api, RIDE_CLUSTER_API, "/cluster/api",
                  "{\"url\":\"http://h\xc3\x28\",\"master\":\"m\"}", "unable to decode byte 0xc3");

    /* No data at all (a node created empty). */
    ride_cluster_api v;
    char err[ERR_LEN];
    uint64_t before = ride_cluster_bad_data_total(RIDE_CLUSTER_API);
    assert_int_equal(ride_cluster_api_decode("/cluster/api", NULL, 0, &v, err, sizeof err), -1);
    assert_string_equal(err, "/cluster/api: no data (expected JSON)");
    assert_int_equal(ride_cluster_bad_data_total(RIDE_CLUSTER_API), before + 1);

    /* Nesting beyond jansson's depth limit is refused by the parser, without recursion. */
    size_t depth = 5000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    assert_int_equal(ride_cluster_api_decode("/cluster/api", deep, strlen(deep), &v, err,
                                             sizeof err), -1);
    assert_non_null(strstr(err, "maximum parsing depth"));
    free(deep);

    /* More than ZooKeeper can hold. */
    size_t huge_len = RIDE_ZK_DATA_MAX + 1;
    char *huge = malloc(huge_len);
    memset(huge, ' ', huge_len);
    assert_int_equal(ride_cluster_api_decode("/cluster/api", huge, huge_len, &v, err, sizeof err),
                     -1);
    assert_string_equal(err, "/cluster/api: 1048577 bytes of data, more than 1048576");
    free(huge);
}

static void test_malformed_fields(void **state)
{
    (void)state;
    /* One byte more than the 4096 a text field may hold. */
    char huge_string[4098];
    memset(huge_string, 'x', 4097);
    huge_string[4097] = '\0';
    char json[16384];

    snprintf(json, sizeof json, "{\"bootstrap_servers\":\"%s\",\"embedded\":false}", huge_string);
    EXPECT_REJECT(kafka, RIDE_CLUSTER_KAFKA, "/cluster/kafka", json,
                  "/cluster/kafka: field 'bootstrap_servers': expected a non-empty string of at "
                  "most 4096 bytes");
    EXPECT_REJECT(kafka, RIDE_CLUSTER_KAFKA, "/cluster/kafka",
                  "{\"bootstrap_servers\":\"h:1\",\"embedded\":1}",
                  "/cluster/kafka: field 'embedded': expected true or false");
    EXPECT_REJECT(api, RIDE_CLUSTER_API, "/cluster/api",
                  "{\"url\":\"ftp://h\",\"master\":\"m\"}",
                  "/cluster/api: field 'url': expected an http:// or https:// url of at most "
                  "4096 bytes");
    EXPECT_REJECT(candidate, RIDE_CLUSTER_CANDIDATE, "/masters/election/n_0000000003",
                  "{\"id\":null}",
                  "/masters/election/n_0000000003: field 'id': expected a member id "
                  "([A-Za-z0-9._-], at most 128 bytes)");

    snprintf(json, sizeof json, "%s\"cores\":0,\"memory_mb\":1,\"gpus\":[],\"labels\":{},"
             "\"plugin_tasks\":[]}", worker_ok_prefix);
    EXPECT_REJECT(worker, RIDE_CLUSTER_WORKER, "/workers/w1", json,
                  "/workers/w1: field 'cores': expected an integer in 1..1048576");
    snprintf(json, sizeof json, "%s\"cores\":2,\"memory_mb\":1,\"gpus\":[{\"index\":0,"
             "\"name\":\"g\",\"memory_mb\":1,\"compute_capability\":\"9\"}],\"labels\":{},"
             "\"plugin_tasks\":[]}", worker_ok_prefix);
    EXPECT_REJECT(worker, RIDE_CLUSTER_WORKER, "/workers/w1", json,
                  "/workers/w1: field 'gpus[0].compute_capability': expected a compute "
                  "capability like \"9.0\"");
    snprintf(json, sizeof json, "%s\"cores\":2,\"memory_mb\":1,\"gpus\":[7],\"labels\":{},"
             "\"plugin_tasks\":[]}", worker_ok_prefix);
    EXPECT_REJECT(worker, RIDE_CLUSTER_WORKER, "/workers/w1", json,
                  "/workers/w1: field 'gpus[0]': expected an object");
    snprintf(json, sizeof json, "%s\"cores\":2,\"memory_mb\":1,\"gpus\":[],"
             "\"labels\":{\"zone\":5},\"plugin_tasks\":[]}", worker_ok_prefix);
    EXPECT_REJECT(worker, RIDE_CLUSTER_WORKER, "/workers/w1", json,
                  "/workers/w1: field 'labels.zone': expected a string of at most 4096 bytes");
    snprintf(json, sizeof json, "%s\"cores\":2,\"memory_mb\":1,\"gpus\":[],\"labels\":[],"
             "\"plugin_tasks\":[]}", worker_ok_prefix);
    EXPECT_REJECT(worker, RIDE_CLUSTER_WORKER, "/workers/w1", json,
                  "/workers/w1: field 'labels': expected an object of at most 65536 strings");
    snprintf(json, sizeof json, "%s\"cores\":2,\"memory_mb\":1,\"gpus\":[],\"labels\":{},"
             "\"plugin_tasks\":[\"a\",\"\"]}", worker_ok_prefix);
    EXPECT_REJECT(worker, RIDE_CLUSTER_WORKER, "/workers/w1", json,
                  "/workers/w1: field 'plugin_tasks[1]': expected a non-empty string of at most "
                  "256 bytes");
    snprintf(json, sizeof json, "%s\"cores\":2,\"memory_mb\":1,\"gpus\":{},\"labels\":{},"
             "\"plugin_tasks\":[]}", worker_ok_prefix);
    EXPECT_REJECT(worker, RIDE_CLUSTER_WORKER, "/workers/w1", json,
                  "/workers/w1: field 'gpus': expected an array of at most 65536 elements");

    EXPECT_REJECT(producer, RIDE_CLUSTER_PRODUCER, "/producers/p1",
                  "{\"id\":\"p1\",\"host\":\"h\",\"pid\":0,\"version\":\"1\"}",
                  "/producers/p1: field 'pid': expected an integer in 1..2147483647");

    EXPECT_REJECT(heartbeat, RIDE_CLUSTER_HEARTBEAT, "/heartbeats/w1",
                  "{\"ts_ms\":1,\"partitions\":[{\"app\":\"a\",\"stage\":\"s\",\"partition\":5000,"
                  "\"epoch\":0,\"position\":0,\"committed\":0,\"frames_processed\":0}],"
                  "\"sources\":[]}",
                  "/heartbeats/w1: field 'partitions[0].partition': expected an integer in "
                  "0..4095");
    EXPECT_REJECT(heartbeat, RIDE_CLUSTER_HEARTBEAT, "/heartbeats/w1",
                  "{\"ts_ms\":1,\"partitions\":[],\"sources\":[{\"app\":\"a\",\"source\":\"Cam\","
                  "\"epoch\":0,\"frames_produced\":0,\"frames_dropped\":0}]}",
                  "/heartbeats/w1: field 'sources[0].source': expected a name (lowercase letters, "
                  "digits and '-', at most 63 bytes)");
    EXPECT_REJECT(heartbeat, RIDE_CLUSTER_HEARTBEAT, "/heartbeats/w1",
                  "{\"ts_ms\":1,\"partitions\":[{\"app\":\"a\",\"stage\":\"s\",\"partition\":1,"
                  "\"epoch\":0,\"position\":-2,\"committed\":0,\"frames_processed\":0}],"
                  "\"sources\":[]}",
                  "/heartbeats/w1: field 'partitions[0].position': expected an integer >= -1");
    EXPECT_REJECT(heartbeat, RIDE_CLUSTER_HEARTBEAT, "/heartbeats/w1",
                  "{\"ts_ms\":1,\"partitions\":[],\"sources\":[],\"stalled_ms\":-5}",
                  "/heartbeats/w1: field 'stalled_ms': expected an integer >= 0");

    EXPECT_REJECT(app_state, RIDE_CLUSTER_APP_STATE, "/apps/a/state",
                  "{\"phase\":\"stopped\",\"generation\":1,\"created_ms\":0,\"updated_ms\":0,"
                  "\"message\":\"\"}",
                  "/apps/a/state: field 'phase': expected one of \"pending\", \"running\", "
                  "\"deleting\"");
    EXPECT_REJECT(source_owner, RIDE_CLUSTER_SOURCE_ASSIGNMENT, "/apps/a/sources/cam",
                  "{\"producer\":\"p1\",\"epoch\":0,\"stream_id\":4294967296}",
                  "/apps/a/sources/cam: field 'stream_id': expected an integer in "
                  "0..4294967295");
    EXPECT_REJECT(event, RIDE_CLUSTER_EVENT, "/events/e_0000000009",
                  "{\"ts_ms\":1,\"type\":\"x\",\"partition\":-1}",
                  "/events/e_0000000009: field 'partition': expected an integer in 0..4095");

    static const char part_head[] =
        "{\"generation\":1,\"epoch\":1,\"sources\":[],\"partitions\":[{\"app\":\"a\","
        "\"stage\":\"s\",\"partition\":0,\"epoch\":1,\"input_topic\":\"ride.a.s\",";
    snprintf(json, sizeof json, "%s\"output_topic\":\"o\",\"output_path\":\"/x\"}]}",
             part_head);
    EXPECT_REJECT(assignment, RIDE_CLUSTER_ASSIGNMENT, "/assignments/w1", json,
                  "/assignments/w1: field 'partitions[0].output_path': not allowed with "
                  "'output_topic'");
    snprintf(json, sizeof json, "%s\"output_group\":\"g\"}]}", part_head);
    EXPECT_REJECT(assignment, RIDE_CLUSTER_ASSIGNMENT, "/assignments/w1", json,
                  "/assignments/w1: field 'partitions[0].output_group': only allowed with "
                  "'output_topic'");
    snprintf(json, sizeof json, "%s\"output_topic\":\"bad topic\"}]}", part_head);
    EXPECT_REJECT(assignment, RIDE_CLUSTER_ASSIGNMENT, "/assignments/w1", json,
                  "/assignments/w1: field 'partitions[0].output_topic': expected a Kafka topic "
                  "name ([A-Za-z0-9._-], at most 249 bytes)");
    snprintf(json, sizeof json, "%s\"group\":\"g\",\"delivery\":\"at-least-once\",\"task\":\"t\","
             "\"params\":{\"k\":\"v\"},\"device\":\"tpu\"}]}", part_head);
    EXPECT_REJECT(assignment, RIDE_CLUSTER_ASSIGNMENT, "/assignments/w1", json,
                  "/assignments/w1: field 'partitions[0].device': expected one of \"cpu\", "
                  "\"gpu\", \"any\"");
    EXPECT_REJECT(assignment, RIDE_CLUSTER_ASSIGNMENT, "/assignments/w1",
                  "{\"generation\":1,\"epoch\":1,\"partitions\":[],\"sources\":[{\"app\":\"a\","
                  "\"source\":\"c\",\"epoch\":1,\"stream_id\":1,\"uri\":\"synthetic:8x8@1\","
                  "\"fps\":1001,\"encoding\":\"raw\",\"quality\":90,\"loop\":false,"
                  "\"pace\":\"source\",\"topic\":\"ride.a.s\",\"partitions\":1}]}",
                  "/assignments/w1: field 'sources[0].fps': expected a number in 0..1000");

    /* Generation text. */
    int64_t g = 7;
    char err[ERR_LEN];
    static const char *const bad_generations[] = {"-1", "01", " 1", "1\n", "12a", "",
                                                  "9223372036854775808", "{}"};
    for (size_t i = 0; i < sizeof bad_generations / sizeof *bad_generations; i++) {
        uint64_t before = ride_cluster_bad_data_total(RIDE_CLUSTER_GENERATION);
        assert_int_equal(ride_cluster_generation_decode("/cluster/generation", bad_generations[i],
                                                        strlen(bad_generations[i]), &g, err,
                                                        sizeof err), -1);
        assert_string_equal(err, "/cluster/generation: expected a decimal generation >= 0 "
                                 "(digits only)");
        assert_int_equal(ride_cluster_bad_data_total(RIDE_CLUSTER_GENERATION), before + 1);
    }
    assert_int_equal(ride_cluster_generation_decode("/cluster/generation", "9223372036854775807",
                                                    19, &g, err, sizeof err), 0);
    assert_int_equal(g, INT64_MAX);
}

static void test_unknown_keys_ignored(void **state)
{
    (void)state;
    char err[ERR_LEN];
    uint64_t before = ride_cluster_bad_data_total(RIDE_CLUSTER_PARTITION_OWNER);
    static const char newer[] = "{\"owner\":\"w1\",\"lease\":{\"until\":[1,2,{\"x\":null}]},"
                                "\"epoch\":4,\"zone\":\"b\"}";
    ride_cluster_partition_owner o;
    assert_int_equal(ride_cluster_partition_owner_decode("/apps/a/partitions/s/1", newer,
                                                         strlen(newer), &o, err, sizeof err), 0);
    assert_string_equal(o.owner, "w1");
    assert_int_equal(o.epoch, 4);
    ride_cluster_partition_owner_free(&o);
    assert_int_equal(ride_cluster_bad_data_total(RIDE_CLUSTER_PARTITION_OWNER), before);

    static const char hb[] = "{\"ts_ms\":1,\"cpu\":0.5,\"partitions\":[{\"app\":\"a\",\"stage\":"
                             "\"s\",\"partition\":1,\"epoch\":0,\"position\":0,\"committed\":0,"
                             "\"frames_processed\":0,\"lag\":3}],\"sources\":[]}";
    ride_cluster_heartbeat h;
    assert_int_equal(ride_cluster_heartbeat_decode("/heartbeats/w1", hb, strlen(hb), &h, err,
                                                   sizeof err), 0);
    assert_int_equal(h.partition_count, 1);
    /* A member that does not report message counts yet: none. */
    assert_int_equal(h.partitions[0].messages_written, 0);
    /* Nor stalls: not stalled. */
    assert_int_equal(h.stalled_ms, 0);
    ride_cluster_heartbeat_free(&h);
}

static void test_counters(void **state)
{
    (void)state;
    assert_string_equal(ride_cluster_kind_name(RIDE_CLUSTER_WORKER), "worker");
    assert_string_equal(ride_cluster_kind_name(RIDE_CLUSTER_PARTITION_OWNER), "partition_owner");
    assert_string_equal(ride_cluster_kind_name(RIDE_CLUSTER_KIND_COUNT), "unknown");
    assert_int_equal(ride_cluster_bad_data_total(RIDE_CLUSTER_KIND_COUNT), 0);
    uint64_t workers = ride_cluster_bad_data_total(RIDE_CLUSTER_WORKER);
    uint64_t events = ride_cluster_bad_data_total(RIDE_CLUSTER_EVENT);
    EXPECT_REJECT(worker, RIDE_CLUSTER_WORKER, "/workers/w9", "{}",
                  "/workers/w9: field 'id': missing");
    /* Only the kind that was rejected moves. */
    assert_int_equal(ride_cluster_bad_data_total(RIDE_CLUSTER_WORKER), workers + 1);
    assert_int_equal(ride_cluster_bad_data_total(RIDE_CLUSTER_EVENT), events);
}

/* ---- stored manifest ------------------------------------------------------------------------ */

static const char manifest_text[] =
    "apiVersion: ride/v1\n"
    "kind: Application\n"
    "metadata: {name: cctv}\n"
    "spec:\n"
    "  sources:\n"
    "    - {name: gen, uri: \"synthetic:64x64@30\"}\n"
    "  stages:\n"
    "    - {name: gray, input: [gen], task: grayscale}\n";

static void test_app_manifest(void **state)
{
    (void)state;
    char err[ERR_LEN];
    ride_manifest m;
    assert_int_equal(ride_cluster_app_manifest_parse("cctv", manifest_text, strlen(manifest_text),
                                                     &m, err, sizeof err), 0);
    assert_string_equal(m.name, "cctv");
    assert_string_equal(m.file, "zk:/apps/cctv");
    ride_manifest_free(&m);

    uint64_t before = ride_cluster_bad_data_total(RIDE_CLUSTER_APP);
    static const char corrupt[] = "apiVersion: ride/v1\nkind: [\n";
    assert_int_equal(ride_cluster_app_manifest_parse("cctv", corrupt, strlen(corrupt), &m, err,
                                                     sizeof err), -1);
    assert_true(strncmp(err, "zk:/apps/cctv:", 14) == 0);
    assert_int_equal(ride_cluster_bad_data_total(RIDE_CLUSTER_APP), before + 1);

    /* Stored under another application's name. */
    assert_int_equal(ride_cluster_app_manifest_parse("other", manifest_text,
                                                     strlen(manifest_text), &m, err, sizeof err),
                     -1);
    assert_string_equal(err, "zk:/apps/other: the manifest is named \"cctv\"");
    assert_int_equal(ride_cluster_app_manifest_parse("Bad", manifest_text, strlen(manifest_text),
                                                     &m, err, sizeof err), -1);
    assert_int_equal(ride_cluster_bad_data_total(RIDE_CLUSTER_APP), before + 3);
}

/* ---- local capabilities ------------------------------------------------------------- */

static void test_worker_local(void **state)
{
    (void)state;
    char err[ERR_LEN];
    ride_cluster_worker w;
    assert_int_equal(ride_cluster_worker_local("w-local", &w, err, sizeof err), 0);
    assert_string_equal(w.id, "w-local");
    assert_true(w.cores >= 1);
    assert_true(w.memory_mb > 0);
    assert_true(w.pid >= 1);
    assert_true(strlen(w.host) > 0);
    assert_true(strlen(w.version) > 0);
    /* This build machine has no GPU (or RIDE is built without CUDA). */
    if (ride_gpu_device_count(NULL, 0) == 0)
        assert_int_equal(w.gpu_count, 0);
    for (size_t i = 0; i < w.gpu_count; i++) {
        assert_true(w.gpus[i].memory_mb > 0);
        assert_non_null(strchr(w.gpus[i].compute_capability, '.'));
    }
    /* What it fills is publishable as is. */
    char *text = ride_cluster_worker_encode(&w, err, sizeof err);
    assert_non_null(text);
    free(text);
    ride_cluster_worker_free(&w);
    assert_null(w.id);

    assert_int_equal(ride_cluster_worker_local("bad id", &w, err, sizeof err), -1);
    assert_null(w.mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_paths_reject),
        cmocka_unit_test(test_roundtrip_small_nodes),
        cmocka_unit_test(test_roundtrip_members),
        cmocka_unit_test(test_roundtrip_heartbeat),
        cmocka_unit_test(test_roundtrip_assignment),
        cmocka_unit_test(test_documented_assignment),
        cmocka_unit_test(test_encode_refuses_invalid),
        cmocka_unit_test(test_malformed_generic),
        cmocka_unit_test(test_malformed_fields),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_app_manifest),
        cmocka_unit_test(test_worker_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
