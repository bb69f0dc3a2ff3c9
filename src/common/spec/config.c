/* config.c - parses the YAML configs of ride-master, ride-worker and ride-producer
 * (spec/config.h, docs/configuration.md). Defaults are set before parsing and
 * every string lives in the config's one arena, freed by ride_config_free(). */
#include "spec/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "spec/manifest.h"
#include "spec/yaml_schema.h"

#define RIDE_ID_MAX 128
#define RIDE_ZK_CONNECT_MAX 4096

static const char *const daemon_names[] = {"ride-master", "ride-worker", "ride-producer"};
static const char *const daemon_labels[] = {"ride-master config", "ride-worker config",
                                            "ride-producer config"};
static const char *const default_metrics[] = {"127.0.0.1:9480", "127.0.0.1:9481", "127.0.0.1:9482"};

static const char *const master_keys[] = {"zookeeper", "kafka",          "metrics",   "log", "api",
                                          "topics",    "embedded_kafka", "heartbeat", NULL};
static const char *const worker_keys[] = {"zookeeper", "kafka",     "metrics", "log",
                                          "worker",    "heartbeat", NULL};
static const char *const producer_keys[] = {"zookeeper", "kafka",     "metrics", "log",
                                            "producer",  "heartbeat", NULL};

/* Order of ride_log_level. */
static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};

const char *ride_daemon_name(ride_daemon daemon)
{
    return (unsigned)daemon < 3 ? daemon_names[daemon] : "invalid";
}

/* ---- addresses ------------------------------------------------------------ */

static bool port_valid(const char *s, size_t len, int min)
{
    int v = 0;
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    return v >= min && v <= 65535;
}

static bool host_char(char c, bool bracketed)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.')
        return true;
    return bracketed ? c == ':' : c == '-';
}

/* "host:port" or "[ipv6]:port" of len bytes, with a port in min_port..65535. */
static bool host_port_valid(const char *s, size_t len, int min_port)
{
    const char *colon = NULL;
    bool bracketed = len > 0 && s[0] == '[';
    const char *host = s, *host_end;
    if (bracketed) {
        const char *close = memchr(s, ']', len);
        if (!close || close + 1 >= s + len || close[1] != ':')
            return false;
        host = s + 1;
        host_end = close;
        colon = close + 1;
    } else {
        for (const char *c = s; c < s + len; c++) {
            if (*c == ':')
                colon = c;
        }
        if (!colon)
            return false;
        host_end = colon;
    }
    if (host_end == host)
        return false;
    for (const char *c = host; c < host_end; c++) {
        if (!host_char(*c, bracketed))
            return false;
    }
    return port_valid(colon + 1, (size_t)(s + len - colon - 1), min_port);
}

static bool zk_chroot_valid(const char *chroot)
{
    size_t len = strlen(chroot);
    if (len < 2 || chroot[len - 1] == '/' || strstr(chroot, "//"))
        return false;
    return !strstr(chroot, "/./") && !strstr(chroot, "/../") && strcmp(chroot + len - 2, "/.") &&
           (len < 3 || strcmp(chroot + len - 3, "/.."));
}

/* "host:port[,host:port...][/chroot]", as zookeeper_init() takes it. */
static bool zk_connect_valid(const char *connect)
{
    const char *chroot = strchr(connect, '/');
    size_t hosts_len = chroot ? (size_t)(chroot - connect) : strlen(connect);
    if (chroot && !zk_chroot_valid(chroot))
        return false;
    const char *s = connect;
    while (s <= connect + hosts_len) {
        const char *comma = memchr(s, ',', (size_t)(connect + hosts_len - s));
        const char *end = comma ? comma : connect + hosts_len;
        if (!host_port_valid(s, (size_t)(end - s), 1))
            return false;
        s = end + 1;
    }
    return true;
}

/* ---- sections ------------------------------------------------------------- */

static int get_listen(ride_yaml *y, const ride_yaml_map *map, const char *key, const char **out)
{
    if (!ride_yaml_map_get(y, map, key))
        return 0;
    if (ride_yaml_get_string(y, map, key, 0, 300, out))
        return -1;
    if (host_port_valid(*out, strlen(*out), 0))
        return 0;
    return ride_yaml_fail_key(y, map, key, "expected HOST:PORT, e.g. 127.0.0.1:9480 or [::1]:9480");
}

static int get_id(ride_yaml *y, const ride_yaml_map *map, const char **out)
{
    if (ride_yaml_get_string(y, map, "id", 0, RIDE_ID_MAX, out))
        return -1;
    if (!*out)
        return 0;
    bool ok = strcmp(*out, ".") != 0 && strcmp(*out, "..") != 0;
    for (const char *c = *out; ok && *c; c++)
        ok = host_char(*c, false) || *c == '_';
    if (ok)
        return 0;
    return ride_yaml_fail_key(y, map, "id",
                              "invalid id: use letters, digits, '.', '_' and '-' (it names a "
                              "ZooKeeper node)");
}

static int parse_zookeeper(ride_yaml *y, ride_config *cfg, const ride_yaml_map *top)
{
    static const char *const keys[] = {"connect", "session_timeout_ms", "digest_file", NULL};
    yaml_node_t *node;
    ride_yaml_map map;
    if (ride_yaml_map_require(y, top, "zookeeper", &node) ||
        ride_yaml_map_open(y, node, "zookeeper", keys, &map) ||
        ride_yaml_get_string(y, &map, "connect", RIDE_YAML_REQUIRED, RIDE_ZK_CONNECT_MAX,
                             &cfg->zookeeper.connect) ||
        ride_yaml_get_int(y, &map, "session_timeout_ms", 1000, 600000,
                          &cfg->zookeeper.session_timeout_ms) ||
        ride_yaml_get_string(y, &map, "digest_file", 0, RIDE_PATH_MAX, &cfg->zookeeper.digest_file))
        return -1;
    if (zk_connect_valid(cfg->zookeeper.connect))
        return 0;
    return ride_yaml_fail_key(
        y, &map, "connect", "expected HOST:PORT[,HOST:PORT...][/CHROOT], e.g. 127.0.0.1:2181/ride");
}

static int parse_kafka(ride_yaml *y, ride_config *cfg, const ride_yaml_map *top)
{
    static const ride_yaml_kv_rules rules = {.max_entries = 256,
                                             .key_max = 128,
                                             .value_max = 65536,
                                             .value_flags =
                                                 RIDE_YAML_MAY_BE_EMPTY | RIDE_YAML_MULTILINE};
    bool master = cfg->daemon == RIDE_DAEMON_MASTER;
    yaml_node_t *node = ride_yaml_map_get(y, top, "kafka");
    if (!node)
        return master ? ride_yaml_map_require(y, top, "kafka", &node) : 0;
    if (ride_yaml_text_is(node, "embedded")) {
        if (!master)
            return ride_yaml_fail(y, ride_yaml_pos(node), "kafka",
                                  "'embedded' is valid only in ride-master config; %s finds "
                                  "the brokers in ZooKeeper",
                                  daemon_names[cfg->daemon]);
        cfg->kafka.embedded = true;
        return 0;
    }
    if (node->type != YAML_MAPPING_NODE)
        return ride_yaml_fail_expected(y, node, "kafka",
                                       master ? "embedded or a mapping of librdkafka properties"
                                              : "a mapping of librdkafka properties");
    if (ride_yaml_kv(y, node, "kafka", &rules, &cfg->kafka.props, &cfg->kafka.prop_count))
        return -1;
    if (master && !ride_kv_find(cfg->kafka.props, cfg->kafka.prop_count, "bootstrap.servers"))
        return ride_yaml_fail(y, ride_yaml_pos(node), "kafka",
                              "missing 'bootstrap.servers' (or use kafka: embedded)");
    return 0;
}

static int parse_common(ride_yaml *y, ride_config *cfg, const ride_yaml_map *top)
{
    static const char *const metrics_keys[] = {"listen", NULL};
    static const char *const log_keys[] = {"level", NULL};
    ride_yaml_map metrics, log;
    int level = RIDE_LOG_INFO;
    if (parse_zookeeper(y, cfg, top) || parse_kafka(y, cfg, top) ||
        ride_yaml_map_open_key(y, top, "metrics", metrics_keys, &metrics) ||
        get_listen(y, &metrics, "listen", &cfg->metrics_listen) ||
        ride_yaml_map_open_key(y, top, "log", log_keys, &log) ||
        ride_yaml_get_enum(y, &log, "level", level_names, &level))
        return -1;
    cfg->log_level = (ride_log_level)level;
    return 0;
}

/* Workers and producers send a heartbeat every interval_ms; a master fails a member
 * after timeout_ms and takes interval_ms only to check it is the shorter. */
static int parse_heartbeat(ride_yaml *y, ride_config *cfg, const ride_yaml_map *top)
{
    static const char *const master_keys_hb[] = {"interval_ms", "timeout_ms", NULL};
    static const char *const member_keys_hb[] = {"interval_ms", NULL};
    bool master = cfg->daemon == RIDE_DAEMON_MASTER;
    ride_yaml_map map;
    if (ride_yaml_map_open_key(y, top, "heartbeat", master ? master_keys_hb : member_keys_hb,
                               &map) ||
        ride_yaml_get_int(y, &map, "interval_ms", 10, 60000, &cfg->heartbeat.interval_ms) ||
        ride_yaml_get_int(y, &map, "timeout_ms", 100, 600000, &cfg->heartbeat.timeout_ms))
        return -1;
    if (!master || cfg->heartbeat.timeout_ms > cfg->heartbeat.interval_ms)
        return 0;
    if (!ride_yaml_map_get(y, &map, "timeout_ms"))
        return ride_yaml_fail_key(y, &map, "interval_ms", "must be less than timeout_ms (%d)",
                                  cfg->heartbeat.timeout_ms);
    return ride_yaml_fail_key(y, &map, "timeout_ms", "must be greater than interval_ms (%d)",
                              cfg->heartbeat.interval_ms);
}

static int parse_master(ride_yaml *y, ride_config *cfg, const ride_yaml_map *top)
{
    static const char *const api_keys[] = {"listen", "token_file", NULL};
    static const char *const topic_keys[] = {"replication_factor", "retention_ms", "partitions_max",
                                             NULL};
    static const char *const embedded_keys[] = {"brokers", NULL};
    ride_yaml_map api, topics, embedded;
    if (ride_yaml_map_open_key(y, top, "api", api_keys, &api) ||
        get_listen(y, &api, "listen", &cfg->api.listen) ||
        ride_yaml_get_string(y, &api, "token_file", 0, RIDE_PATH_MAX, &cfg->api.token_file) ||
        ride_yaml_map_open_key(y, top, "topics", topic_keys, &topics) ||
        ride_yaml_get_int(y, &topics, "replication_factor", 1, 32767,
                          &cfg->topics.replication_factor) ||
        ride_yaml_get_i64(y, &topics, "retention_ms", 1000, INT64_MAX, &cfg->topics.retention_ms) ||
        ride_yaml_get_int(y, &topics, "partitions_max", 1, RIDE_PARTITIONS_MAX,
                          &cfg->topics.partitions_max) ||
        ride_yaml_map_open_key(y, top, "embedded_kafka", embedded_keys, &embedded) ||
        ride_yaml_get_int(y, &embedded, "brokers", 1, 16, &cfg->embedded_kafka_brokers))
        return -1;
    if (embedded.node && !cfg->kafka.embedded)
        return ride_yaml_fail(y, ride_yaml_pos(embedded.node), "embedded_kafka",
                              "applies only with kafka: embedded");
    /* The mock cluster cannot place more replicas than it has brokers. */
    if (cfg->kafka.embedded && cfg->topics.replication_factor > cfg->embedded_kafka_brokers)
        return ride_yaml_fail_key(y, &topics, "replication_factor",
                                  "exceeds embedded_kafka.brokers (%d)",
                                  cfg->embedded_kafka_brokers);
    return 0;
}

static int parse_gpus(ride_yaml *y, ride_config_worker *w, const yaml_node_t *node)
{
    if (!node)
        return 0;
    if (ride_yaml_text_is(node, "auto") || ride_yaml_text_is(node, "none")) {
        w->gpus = ride_yaml_text_is(node, "auto") ? RIDE_GPUS_AUTO : RIDE_GPUS_NONE;
        return 0;
    }
    if (node->type != YAML_SEQUENCE_NODE)
        return ride_yaml_fail_expected(y, node, "worker.gpus",
                                       "auto, none or a list of device indices");
    size_t n;
    if (ride_yaml_seq(y, node, "worker.gpus", 1, 64, &n))
        return -1;
    w->gpu_indices = ride_yaml_alloc(y, n, sizeof *w->gpu_indices);
    if (!w->gpu_indices)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char path[RIDE_YAML_PATH_MAX];
        const yaml_node_t *item = ride_yaml_seq_item(y, node, i);
        int64_t index;
        ride_yaml_path_index(path, sizeof path, "worker.gpus", i);
        if (ride_yaml_int(y, item, path, 0, 63, &index))
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (w->gpu_indices[j] == index)
                return ride_yaml_fail(y, ride_yaml_pos(item), path, "gpu %d is listed twice",
                                      (int)index);
        }
        w->gpu_indices[i] = (int)index;
    }
    w->gpus = RIDE_GPUS_LIST;
    w->gpu_count = n;
    return 0;
}

/* A list of strings; each passes `check` (when given), which returns a reason or NULL. */
static int parse_string_list(ride_yaml *y, const ride_yaml_map *map, const char *key,
                             size_t max_items, const char *(*check)(const char *, char *, size_t),
                             const char ***out, size_t *count)
{
    yaml_node_t *node = ride_yaml_map_get(y, map, key);
    if (!node)
        return 0;
    char path[RIDE_YAML_PATH_MAX];
    ride_yaml_path_key(path, sizeof path, map->path, key);
    size_t n;
    if (ride_yaml_seq(y, node, path, 0, max_items, &n))
        return -1;
    const char **items = ride_yaml_alloc(y, n, sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char item_path[RIDE_YAML_PATH_MAX], why[256];
        const yaml_node_t *item = ride_yaml_seq_item(y, node, i);
        ride_yaml_path_index(item_path, sizeof item_path, path, i);
        if (ride_yaml_string(y, item, item_path, 0, RIDE_PATH_MAX, &items[i]))
            return -1;
        if (check && check(items[i], why, sizeof why))
            return ride_yaml_fail(y, ride_yaml_pos(item), item_path, "%s", why);
    }
    *out = items;
    *count = n;
    return 0;
}

static const char *check_uri(const char *uri, char *why, size_t len)
{
    ride_source_uri target;
    return ride_source_uri_parse(uri, &target, why, len) ? why : NULL;
}

/* message_max_bytes and max_frame_bytes, the same for the worker and the producer. */
static int get_message_sizes(ride_yaml *y, const ride_yaml_map *map, int *message,
                             int64_t *frame)
{
    return ride_yaml_get_int(y, map, "message_max_bytes", RIDE_CONFIG_MESSAGE_MIN,
                             RIDE_CONFIG_MESSAGE_MAX, message) ||
           ride_yaml_get_i64(y, map, "max_frame_bytes", 1, RIDE_CONFIG_FRAME_MAX, frame);
}

static int parse_worker(ride_yaml *y, ride_config *cfg, const ride_yaml_map *top)
{
    static const char *const keys[] = {"id",
                                       "threads",
                                       "labels",
                                       "gpus",
                                       "plugin_dirs",
                                       "max_backlog_bytes",
                                       "message_max_bytes",
                                       "max_frame_bytes",
                                       "stall_timeout_ms",
                                       "transaction_interval_ms",
                                       "transaction_max_frames",
                                       NULL};
    ride_config_worker *w = &cfg->worker;
    ride_yaml_map map;
    if (ride_yaml_map_open_key(y, top, "worker", keys, &map) || get_id(y, &map, &w->id) ||
        ride_yaml_get_int(y, &map, "threads", 0, 1024, &w->threads) ||
        ride_yaml_get_kv(y, &map, "labels", &ride_yaml_label_rules, &w->labels, &w->label_count) ||
        parse_gpus(y, w, ride_yaml_map_get(y, &map, "gpus")) ||
        parse_string_list(y, &map, "plugin_dirs", 64, NULL, &w->plugin_dirs, &w->plugin_dir_count) ||
        ride_yaml_get_i64(y, &map, "max_backlog_bytes", 0, (int64_t)1 << 40,
                          &w->max_backlog_bytes) ||
        ride_yaml_get_int(y, &map, "stall_timeout_ms", 100, 3600000, &w->stall_timeout_ms) ||
        ride_yaml_get_int(y, &map, "transaction_interval_ms", 1, 60000,
                          &w->transaction_interval_ms) ||
        ride_yaml_get_int(y, &map, "transaction_max_frames", 1, 100000,
                          &w->transaction_max_frames) ||
        get_message_sizes(y, &map, &w->message_max_bytes, &w->max_frame_bytes))
        return -1;
    return 0;
}

static int parse_producer(ride_yaml *y, ride_config *cfg, const ride_yaml_map *top)
{
    static const char *const keys[] = {"id",
                                       "sources",
                                       "max_backlog_bytes",
                                       "message_max_bytes",
                                       "max_frame_bytes",
                                       NULL};
    ride_config_producer *p = &cfg->producer;
    ride_yaml_map map;
    if (ride_yaml_map_open_key(y, top, "producer", keys, &map) || get_id(y, &map, &p->id) ||
        parse_string_list(y, &map, "sources", RIDE_MANIFEST_MAX_SOURCES, check_uri, &p->sources,
                          &p->source_count) ||
        ride_yaml_get_i64(y, &map, "max_backlog_bytes", 0, (int64_t)1 << 40,
                          &p->max_backlog_bytes) ||
        get_message_sizes(y, &map, &p->message_max_bytes, &p->max_frame_bytes))
        return -1;
    return 0;
}

static void set_defaults(ride_config *cfg, ride_daemon daemon)
{
    cfg->daemon = daemon;
    cfg->zookeeper.session_timeout_ms = 6000;
    cfg->metrics_listen = default_metrics[daemon];
    cfg->log_level = RIDE_LOG_INFO;
    cfg->heartbeat.interval_ms = 500;
    cfg->heartbeat.timeout_ms = 2000;
    cfg->api.listen = "127.0.0.1:7480";
    cfg->topics.replication_factor = -1;
    cfg->topics.retention_ms = 600000;
    cfg->topics.partitions_max = RIDE_PARTITIONS_MAX;
    cfg->embedded_kafka_brokers = 1;
    cfg->worker.gpus = RIDE_GPUS_AUTO;
    /* Below the ~5 MB librdkafka's mock cluster keeps per partition, so that an
     * embedded cluster never deletes frames no stage has read yet. The worker's
     * budget depends on the brokers, known only once it joined (stages.c). */
    cfg->producer.max_backlog_bytes = (int64_t)4 << 20;
    cfg->worker.max_backlog_bytes = RIDE_CONFIG_BACKLOG_AUTO;
    cfg->worker.stall_timeout_ms = 20000; /* docs/decisions.md */
    cfg->worker.transaction_interval_ms = 100; /* docs/decisions.md */
    cfg->worker.transaction_max_frames = 64;
    cfg->producer.message_max_bytes = RIDE_CONFIG_DEFAULT_MESSAGE;
    cfg->worker.message_max_bytes = RIDE_CONFIG_DEFAULT_MESSAGE;
    cfg->producer.max_frame_bytes = RIDE_CONFIG_DEFAULT_FRAME;
    cfg->worker.max_frame_bytes = RIDE_CONFIG_DEFAULT_FRAME;
}

static int parse_document(ride_yaml *y, ride_config *cfg)
{
    static const char *const *const keys[] = {master_keys, worker_keys, producer_keys};
    ride_yaml_map top;
    if (ride_yaml_map_open(y, ride_yaml_root(y), "", keys[cfg->daemon], &top) ||
        parse_common(y, cfg, &top) || parse_heartbeat(y, cfg, &top))
        return -1;
    switch (cfg->daemon) {
    case RIDE_DAEMON_MASTER:
        return parse_master(y, cfg, &top);
    case RIDE_DAEMON_WORKER:
        return parse_worker(y, cfg, &top);
    default:
        return parse_producer(y, cfg, &top);
    }
}

int ride_config_parse(ride_daemon daemon, const char *name, const void *buf, size_t len,
                      ride_config *cfg, ride_parse_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    name = name ? name : "<config>";
    if ((unsigned)daemon > RIDE_DAEMON_PRODUCER)
        return ride_parse_fail(err, name, (ride_pos){0, 0}, "unknown daemon kind %d", (int)daemon);
    ride_arena *arena = ride_arena_new();
    if (!arena)
        return ride_parse_fail(err, name, (ride_pos){0, 0}, "out of memory");
    set_defaults(cfg, daemon);
    ride_yaml y;
    int rc = ride_yaml_open(&y, name, daemon_labels[daemon], buf, len, arena, err);
    if (rc == 0) {
        cfg->arena = arena;
        cfg->file = ride_yaml_strndup(&y, name, strlen(name));
        rc = cfg->file ? parse_document(&y, cfg) : -1;
        ride_yaml_close(&y);
    }
    if (rc) {
        ride_arena_free(arena);
        memset(cfg, 0, sizeof *cfg);
    }
    return rc;
}

int ride_config_load(ride_daemon daemon, const char *path, ride_config *cfg, ride_parse_error *err)
{
    char *buf;
    size_t len;
    memset(cfg, 0, sizeof *cfg);
    if (ride_yaml_read_file(path, &buf, &len, err))
        return -1;
    int rc = ride_config_parse(daemon, path, buf, len, cfg, err);
    free(buf);
    return rc;
}

void ride_config_defaults(ride_daemon daemon, ride_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    set_defaults(cfg, daemon);
    cfg->kafka.embedded = daemon == RIDE_DAEMON_MASTER;
}

int ride_config_override(ride_config *cfg, const ride_config_overrides *o, char *err,
                         size_t errlen)
{
    if (o->zookeeper)
        cfg->zookeeper.connect = o->zookeeper;
    if (o->metrics_listen)
        cfg->metrics_listen = o->metrics_listen;
    if (o->log_level && ride_log_level_parse(o->log_level, &cfg->log_level))
        return ride_set_error(err, errlen, "invalid --log-level '%s'", o->log_level);
    if (!cfg->zookeeper.connect)
        return ride_set_error(err, errlen,
                              "missing --zookeeper (or zookeeper.connect in --config)");
    return 0;
}

int ride_config_resolve(ride_daemon daemon, const char *file, const ride_config_overrides *o,
                        ride_config *cfg, char *err, size_t errlen)
{
    ride_parse_error perr;
    if (!file) {
        ride_config_defaults(daemon, cfg);
    } else if (ride_config_load(daemon, file, cfg, &perr)) {
        ride_parse_error_format(&perr, err, errlen);
        return -1;
    }
    return ride_config_override(cfg, o, err, errlen);
}

void ride_config_free(ride_config *cfg)
{
    ride_arena_free(cfg->arena);
    memset(cfg, 0, sizeof *cfg);
}
