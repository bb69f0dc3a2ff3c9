/* spec/manifest.h - application manifests: the YAML a user submits with
 * `ridectl apply -f` (SPEC section 6; every field is described in docs/manifest.md).
 *
 * Parsing checks the whole schema (types, ranges, unknown and duplicate keys) and
 * the topology (unique names, inputs that exist, no cycles, every source read by
 * a stage), and reports the first problem as a ride_parse_error with its line and
 * column. Which tasks exist is not checked here: the master checks task names and
 * params against its task registry, using the positions kept in ride_stage.
 *
 * A parsed manifest owns all its strings and arrays; ride_manifest_free() releases
 * them. It is read-only and may be shared between threads. */
#ifndef RIDE_MANIFEST_H
#define RIDE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/parse.h"
#include "ride/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Application, source and stage names are DNS labels of at most this many bytes:
 * they become parts of Kafka topic names and ZooKeeper paths. */
#define RIDE_NAME_MAX 63
/* Longest uri or path. */
#define RIDE_PATH_MAX 4096
#define RIDE_MANIFEST_MAX_SOURCES 1024
#define RIDE_MANIFEST_MAX_STAGES 256
#define RIDE_PARTITIONS_MAX 4096
#define RIDE_WORKERS_MAX 10000
#define RIDE_SYNTHETIC_MAX_DIM 65536
#define RIDE_FPS_MAX 1000.0

typedef enum ride_delivery {
    RIDE_DELIVERY_AT_LEAST_ONCE = 0,
    RIDE_DELIVERY_EXACTLY_ONCE = 1, /* Kafka transactions per partition (docs/kafka.md) */
} ride_delivery;

/* How a uri is read; see ride_source_uri_parse(). */
typedef enum ride_source_kind {
    RIDE_SOURCE_RTSP = 0,   /* rtsp://... or rtsps://... */
    RIDE_SOURCE_V4L2,       /* v4l2:/dev/... */
    RIDE_SOURCE_SYNTHETIC,  /* synthetic:WxH@FPS, generated frames */
    RIDE_SOURCE_VIDEO_FILE, /* a path with a video extension */
    RIDE_SOURCE_IMAGE_DIR,  /* a path ending in '/' or without extension */
    RIDE_SOURCE_IMAGE_GLOB, /* a path with * ? or [, or one image file */
} ride_source_kind;

/* Frame payload encoding on the wire (sources) or on disk (files sink). */
typedef enum ride_pace {
    RIDE_PACE_SOURCE = 0, /* the stream's own rate (or the source's fps) */
    RIDE_PACE_MAX,        /* as fast as the pipeline takes frames: files and images only */
} ride_pace;

typedef enum ride_stage_device {
    RIDE_STAGE_CPU = 0,
    RIDE_STAGE_GPU,
    RIDE_STAGE_ANY, /* a GPU when the worker has one, else the CPU path */
} ride_stage_device;

typedef enum ride_sink_type {
    RIDE_SINK_KAFKA = 0, /* the sink stage's output topic */
    RIDE_SINK_FILES,     /* one image file per frame under a directory */
    RIDE_SINK_NONE,      /* output discarded (benchmarks) */
} ride_sink_type;

/* What a source uri designates. */
typedef struct ride_source_uri {
    ride_source_kind kind;
    /* Device, video file, image directory or glob: points into the parsed uri
     * (after "v4l2:", "file:" or "file://"); NULL for rtsp and synthetic. */
    const char *path;
    uint32_t width;  /* synthetic only */
    uint32_t height; /* synthetic only */
    double fps;      /* synthetic only */
} ride_source_uri;

typedef struct ride_source {
    const char *name;
    const char *uri; /* as written */
    ride_source_uri target;
    double fps;          /* 0: the stream's own rate */
    ride_encoding encoding; /* default raw */
    int quality;         /* JPEG quality 1..100, default 90 */
    bool loop;           /* files and images: start over at the end */
    ride_pace pace;
    ride_pos pos; /* the source's mapping */
    ride_pos name_pos;
} ride_source;

typedef struct ride_stage_input {
    const char *name;
    bool is_stage; /* false: a source */
    size_t index;  /* into ride_manifest.stages or .sources */
    ride_pos pos;
} ride_stage_input;

/* workers.autoscale: the master sizes the group from the stage's input rate and lag
 * (docs/master.md, "Autoscaler"). */
typedef struct ride_stage_autoscale {
    bool enabled;         /* default false: the group size follows workers.max and spares */
    double headroom;      /* capacity kept above the input rate, 0..10, default 0.2 */
    double drain_seconds; /* a backlog is processed within this, (0, 86400], default 30 */
    int up_cooldown_s;    /* 0..3600, default 10 */
    int down_window_s;    /* 0..86400, default 60 */
    double capacity_fps;  /* declared frames/s of one worker until measured; 0: none */
} ride_stage_autoscale;

typedef struct ride_stage_workers {
    int min;    /* 0..10000, default 1 */
    int max;    /* >= min and >= 1; default max(min, 1) */
    int spares; /* idle workers kept ready for failover, default 0 */
    ride_stage_autoscale autoscale;
} ride_stage_workers;

typedef struct ride_stage_resources {
    ride_stage_device device; /* default cpu */
    int threads;              /* per worker, 0 = all cores (default) */
    int gpus;                 /* 0..16; default 1 with device gpu, else 0 */
    int64_t memory_mb;        /* -1 when not given */
} ride_stage_resources;

typedef struct ride_stage {
    const char *name;
    const char *task; /* identifier; checked against the task registry by the master */
    ride_pos task_pos;
    ride_stage_input *inputs;
    size_t input_count;
    ride_kv *params; /* exact text, file order, with positions */
    size_t param_count;
    int partitions; /* 1..4096, default 1 */
    ride_stage_workers workers;
    ride_stage_resources resources;
    ride_kv *selector; /* worker labels a worker must carry to run this stage */
    size_t selector_count;
    ride_pos pos; /* the stage's mapping */
    ride_pos name_pos;
} ride_stage;

typedef struct ride_sink {
    ride_sink_type type;
    size_t stage;      /* index into ride_manifest.stages */
    const char *topic; /* kafka: default "<app>.<stage>.out"; NULL otherwise */
    /* kafka: the consumer group that reads the sink topic, whose committed
     * offsets bound what the sink stage writes ahead; NULL when not given. */
    const char *group;
    const char *path;  /* files: output directory; NULL otherwise */
    ride_encoding format; /* files: default png */
} ride_sink;

/* Kafka settings of the application's topics (spec.topics), by Kafka's own names.
 * 0: not set (RIDE's default applies, docs/manifest.md); -1: no limit. */
typedef struct ride_topic_settings {
    int64_t retention_ms;    /* retention.ms: -1 or 1000.. */
    int64_t retention_bytes; /* retention.bytes, per partition: -1 or 1 MiB.. */
    int64_t segment_bytes;   /* segment.bytes: 1 MiB..2^31-1 */
    int64_t segment_ms;      /* segment.ms: 1000.. */
} ride_topic_settings;

/* RIDE's topic settings where neither the manifest nor the master's configuration
 * set them: a partition keeps at most about retention.bytes + segment.bytes on a
 * broker's disk, since Kafka deletes whole closed segments only. */
#define RIDE_TOPIC_DEFAULT_RETENTION_BYTES (256 * 1024 * 1024LL)
#define RIDE_TOPIC_DEFAULT_SEGMENT_BYTES (64 * 1024 * 1024LL)

typedef struct ride_manifest {
    const char *file; /* the name given to the parser, for later messages */
    const char *name;
    ride_kv *labels;
    size_t label_count;
    ride_delivery delivery;
    ride_source *sources; /* file order */
    size_t source_count;
    ride_stage *stages; /* file order */
    size_t stage_count;
    /* stage_count indices into stages, each stage after every stage it reads;
     * ties keep file order. */
    size_t *order;
    ride_sink sink;
    ride_topic_settings topics;
    struct ride_arena *arena; /* owns everything above */
} ride_manifest;

/* Parses len bytes of YAML. `name` (a path, "<stdin>", ...) names the input in
 * errors. Returns 0, or -1 with *err set and *m zeroed. */
int ride_manifest_parse(const char *name, const void *buf, size_t len, ride_manifest *m,
                        ride_parse_error *err);
/* Reads and parses a file (at most 1 MiB). */
int ride_manifest_load(const char *path, ride_manifest *m, ride_parse_error *err);
/* Releases everything m owns and zeroes it; safe on a zeroed manifest. */
void ride_manifest_free(ride_manifest *m);

/* The source or stage with this name, or NULL. */
const ride_source *ride_manifest_source(const ride_manifest *m, const char *name);
const ride_stage *ride_manifest_stage(const ride_manifest *m, const char *name);

/* A valid application, source or stage name: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at
 * most RIDE_NAME_MAX bytes. */
bool ride_name_valid(const char *name);

/* Classifies a source uri, as the manifest does (producers use it for sources given
 * on their command line). Returns 0, or -1 with the reason in why. out->path points
 * into uri. */
int ride_source_uri_parse(const char *uri, ride_source_uri *out, char *why, size_t len);

/* The manifest spelling of each value ("exactly-once", "jpeg", "gpu", ...);
 * "invalid" for values outside the enum. */
const char *ride_delivery_name(ride_delivery v);
const char *ride_source_kind_name(ride_source_kind v);
const char *ride_pace_name(ride_pace v);
const char *ride_stage_device_name(ride_stage_device v);
const char *ride_sink_type_name(ride_sink_type v);

#ifdef __cplusplus
}
#endif

#endif
