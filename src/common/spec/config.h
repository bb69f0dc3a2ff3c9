/* spec/config.h - the YAML configuration files of ride-master, ride-worker and
 * ride-producer (every key is described in docs/configuration.md).
 *
 * A file is loaded for one daemon: keys of another daemon are errors, as are
 * unknown keys, wrong types and out-of-range values, reported as a ride_parse_error
 * with line and column. Absent keys take the documented defaults. A loaded config
 * owns all its strings and arrays; ride_config_free() releases them. */
#ifndef RIDE_CONFIG_H
#define RIDE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "base/parse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ride_daemon {
    RIDE_DAEMON_MASTER = 0,
    RIDE_DAEMON_WORKER,
    RIDE_DAEMON_PRODUCER,
} ride_daemon;

typedef struct ride_config_zookeeper {
    const char *connect;    /* "host:port[,host:port...][/chroot]" */
    int session_timeout_ms; /* default 6000 */
    /* File holding "user:password" for ZooKeeper digest authentication; nodes are
     * then created readable and writable by that identity only. NULL: no auth. */
    const char *digest_file;
} ride_config_zookeeper;

typedef struct ride_config_kafka {
    bool embedded; /* ride-master only: host librdkafka's mock cluster */
    /* librdkafka properties, handed to rd_kafka_conf_set() unchanged, in file order. */
    ride_kv *props;
    size_t prop_count;
} ride_config_kafka;

typedef struct ride_config_heartbeat {
    int interval_ms; /* default 500 */
    int timeout_ms;  /* ride-master only: a silent worker is failed after this; default 2000 */
} ride_config_heartbeat;

/* ride-master */
typedef struct ride_config_api {
    const char *listen;     /* default "127.0.0.1:7480" */
    const char *token_file; /* NULL: the API refuses every change */
} ride_config_api;

typedef struct ride_config_topics {
    int replication_factor; /* -1: the brokers' default */
    int64_t retention_ms;   /* default 600000 */
    int partitions_max;     /* largest partitions a stage may ask for; default 4096 */
} ride_config_topics;

/* ride-worker */
typedef enum ride_gpu_select {
    RIDE_GPUS_AUTO = 0, /* every usable CUDA device */
    RIDE_GPUS_NONE,     /* CPU only */
    RIDE_GPUS_LIST,     /* the devices in gpu_indices */
} ride_gpu_select;

/* Message and frame sizes of the worker and the producer: a Kafka message of
 * 4096..10^9 bytes (default 1000000, a frame's chunks), a frame of up to 2^34
 * bytes (the wire format's limit; default 64 MiB). */
#define RIDE_CONFIG_MESSAGE_MIN 4096
#define RIDE_CONFIG_MESSAGE_MAX 1000000000
#define RIDE_CONFIG_DEFAULT_MESSAGE 1000000
#define RIDE_CONFIG_FRAME_MAX ((int64_t)1 << 34)
#define RIDE_CONFIG_DEFAULT_FRAME ((int64_t)64 << 20)

/* worker.max_backlog_bytes not set: 4 MiB on the embedded broker, 64 MiB on a
 * real Kafka but at most a quarter of the output topic's retention.bytes
 * (docs/configuration.md). */
#define RIDE_CONFIG_BACKLOG_AUTO (-1)

typedef struct ride_config_worker {
    const char *id; /* NULL: "<hostname>-<pid>" */
    int threads;    /* 0: all cores */
    ride_kv *labels;
    size_t label_count;
    ride_gpu_select gpus;
    int *gpu_indices;
    size_t gpu_count;
    const char **plugin_dirs;
    size_t plugin_dir_count;
    /* per partition of a next stage's input: the most bytes of outputs not yet
     * read there before the worker pauses the input partition; 0 = unbounded;
     * default RIDE_CONFIG_BACKLOG_AUTO */
    int64_t max_backlog_bytes;
    /* How long the processing thread may make no progress while it has work
     * before the worker reports itself stalled and exits; default 20 s. */
    int stall_timeout_ms;
    /* largest message of an output topic (lowered to the topic's limit); default
     * 1000000 */
    int message_max_bytes;
    /* largest input frame (payload or pixels); larger ones are dropped; default 64 MiB */
    int64_t max_frame_bytes;
    /* Exactly-once stages: a partition's transaction commits after this long or
     * this many output frames, whichever comes first; defaults 100 ms and 64. */
    int transaction_interval_ms;
    int transaction_max_frames;
} ride_config_worker;

/* ride-producer */
typedef struct ride_config_producer {
    const char *id; /* NULL: "<hostname>-<pid>" */
    /* Uris only this producer can capture (local cameras and files): manifest
     * sources with one of these uris are assigned to this producer only. */
    const char **sources;
    size_t source_count;
    int64_t max_backlog_bytes; /* per partition, 0 = unbounded; default 4 MiB */
    int message_max_bytes;     /* frames above it are chunked; default 1000000 */
    int64_t max_frame_bytes;   /* larger frames (pixels) are refused; default 64 MiB */
} ride_config_producer;

typedef struct ride_config {
    ride_daemon daemon;
    const char *file;
    ride_config_zookeeper zookeeper;
    ride_config_kafka kafka;
    const char *metrics_listen; /* default 127.0.0.1:9480 / 9481 / 9482 */
    ride_log_level log_level;   /* default info */
    ride_config_heartbeat heartbeat;
    ride_config_api api;           /* ride-master */
    ride_config_topics topics;     /* ride-master */
    int embedded_kafka_brokers;    /* ride-master with kafka: embedded; default 1 */
    ride_config_worker worker;     /* ride-worker */
    ride_config_producer producer; /* ride-producer */
    struct ride_arena *arena; /* owns everything above */
} ride_config;

/* "ride-master", "ride-worker", "ride-producer". */
const char *ride_daemon_name(ride_daemon daemon);

/* Parses len bytes of YAML for `daemon`; `name` names the input in errors.
 * Returns 0, or -1 with *err set and *cfg zeroed. */
int ride_config_parse(ride_daemon daemon, const char *name, const void *buf, size_t len,
                      ride_config *cfg, ride_parse_error *err);
/* Reads and parses a file (at most 1 MiB). */
int ride_config_load(ride_daemon daemon, const char *path, ride_config *cfg, ride_parse_error *err);
/* The documented defaults, for a daemon started without a file (the ZooKeeper
 * connect string then comes from its command line); a master's Kafka is embedded.
 * cfg owns nothing; ride_config_free() is safe on it. */
void ride_config_defaults(ride_daemon daemon, ride_config *cfg);

/* Command-line values that take precedence over a config; NULL keeps the config's. */
typedef struct ride_config_overrides {
    const char *zookeeper;
    const char *metrics_listen;
    const char *log_level; /* "debug", "info", "warn" or "error" */
} ride_config_overrides;

/* Applies the overrides (the strings are not copied) and checks that a ZooKeeper
 * connect string is known. Returns 0, or -1 with a one-line reason in err. */
int ride_config_override(ride_config *cfg, const ride_config_overrides *o, char *err,
                         size_t errlen);

/* A daemon's configuration as its command line asks for it: the file when one is
 * given (else the defaults), then the overrides. Returns 0, or -1 with a one-line
 * reason in err (a parse error formatted with its file:line:column). */
int ride_config_resolve(ride_daemon daemon, const char *file, const ride_config_overrides *o,
                        ride_config *cfg, char *err, size_t errlen);

/* Releases everything cfg owns and zeroes it; safe on a zeroed config. */
void ride_config_free(ride_config *cfg);

#ifdef __cplusplus
}
#endif

#endif
