/* main.c - ride-producer: reads frame sources and publishes their frames to a
 * stage's input topic (docs/producer.md). This is the standalone mode: the
 * sources are given on the command line and stream ids are their positions
 * there. ZooKeeper-driven assignment by the master comes later and will feed
 * the same per-source threads.
 *
 * Threads: one per source (read, publish, log its own stats, so its reader
 * needs no lock), one serving the shared Kafka producer's delivery reports,
 * and the main thread, which waits for signals (they are blocked everywhere
 * and taken with sigtimedwait, so no work runs in a handler) and for the
 * sources to end, then flushes with a deadline and prints the summary. */
#include <errno.h>
#include "ride/clock.h"
#include <stdarg.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "publisher.h"
#include "ride/config.h"
#include "ride/kafka.h"
#include "ride/log.h"
#include "ride/manifest.h"
#include "source.h"

#define PROGRAM "ride-producer"
#define EXIT_USAGE 2
#define EXIT_RUNTIME 1

#define DEFAULT_STATS_INTERVAL_MS 10000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define FLUSH_DEADLINE_MS 10000
/* Longest a source thread blocks in one read or publish call, so that a stop
 * request is seen promptly. */
#define STEP_MS 100
/* How often the main thread looks at the sources while waiting for a signal. */
#define SUPERVISE_MS 50
#define JPEG_DEFAULT_QUALITY 90
#define MESSAGE_MIN 4096
#define MESSAGE_MAX 1000000000LL
#define BACKLOG_MAX (1LL << 40)
/* Room for Kafka's record and batch overhead above the largest frame message
 * (as RIDE's default message.max.bytes 1048576 leaves above 1000000). */
#define MESSAGE_OVERHEAD 48576
#define TOPIC_NAME_MAX 249

enum long_only_option {
    OPT_CONFIG = 256,
    OPT_BOOTSTRAP,
    OPT_TOPIC,
    OPT_PARTITIONS,
    OPT_SOURCE,
    OPT_FPS,
    OPT_ENCODING,
    OPT_QUALITY,
    OPT_PACE,
    OPT_LOOP,
    OPT_MAX_MESSAGE,
    OPT_MAX_BACKLOG,
    OPT_FRAMES,
    OPT_STATS_INTERVAL,
    OPT_CONNECT_TIMEOUT,
    OPT_LOG_LEVEL,
    OPT_HELP,
};

typedef struct options {
    const char *config_file;
    const char *bootstrap;
    const char *topic;
    int partitions; /* 0: the topic's count */
    ride_source *sources;
    size_t source_count;
    double fps;
    ride_encoding encoding;
    int quality; /* -1: not given */
    ride_pace pace;
    bool loop;
    int64_t max_message;  /* -1: from the config */
    int64_t max_backlog;  /* -1: from the config; 0: unbounded */
    uint64_t frames;      /* per source; 0: no limit */
    int64_t stats_interval_ms;
    int64_t connect_timeout_ms;
    const char *log_level;
} options;

/* State shared by every thread. */
typedef struct producer_state {
    atomic_bool stop;      /* sources stop reading */
    atomic_bool stop_poll; /* the delivery thread ends */
    atomic_int sources_running;
    ride_kafka_producer *kafka;
    int64_t stats_interval_ms;
    uint64_t frame_limit;
} producer_state;

typedef struct source_task {
    producer_state *state;
    const ride_source *src;
    uint32_t stream_id;
    ride_source_reader *reader;
    ride_publisher *publisher;
    int partitions;
    pthread_t thread;
    bool started;
    bool failed; /* written by the thread before it ends */
} source_task;

/* ---- usage ---- */

static void print_help(void)
{
    printf("Usage: " PROGRAM " [OPTIONS] --topic TOPIC --source NAME=URI [--source NAME=URI ...]\n"
           "\n"
           "Reads each source and publishes its frames round-robin over the topic's\n"
           "partitions (docs/producer.md). Stream ids are the sources' positions (0, 1, ...).\n"
           "\n"
           "  --config FILE            producer config (kafka properties, producer.* defaults)\n"
           "  --bootstrap HOST:PORT    Kafka brokers (else bootstrap.servers from the config)\n"
           "  --topic TOPIC            topic to publish to; it must exist\n"
           "  --partitions N           partitions to use (default: the topic's count)\n"
           "  --source NAME=URI        a source, as in a manifest (rtsp://, v4l2:, synthetic:WxH@FPS,\n"
           "                           video file, image directory or glob); repeatable\n"
           "  --fps F                  pace file and synthetic sources at F (0: their own rate)\n"
           "  --encoding raw|jpeg|png  payload encoding (default raw)\n"
           "  --quality Q              JPEG quality 1..100 (default 90; jpeg only)\n"
           "  --pace source|max        max: read files as fast as Kafka takes them\n"
           "  --loop                   files and images start over at the end\n"
           "  --max-message BYTES      largest Kafka message (default 1000000)\n"
           "  --max-backlog BYTES      per partition, bytes not yet delivered (default 4 MiB;\n"
           "                           0: unbounded)\n"
           "  --frames N               stop after N frames per source\n"
           "  --stats-interval-ms MS   per-source stats log period (default 10000)\n"
           "  --connect-timeout-ms MS  bound on reaching Kafka at start (default 10000)\n"
           "  --log-level LEVEL        debug, info, warn or error (default: config, else info)\n"
           "  --help                   this text\n"
           "\n"
           "Exit status: 0 clean stop, 1 runtime failure, 2 bad usage.\n");
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROGRAM ": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry '" PROGRAM " --help'.\n", stderr);
}

/* ---- option values ---- */

static bool parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s[0] || s[0] == '+' || s[0] == ' ')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_int_option(const char *name, const char *s, int64_t min, int64_t max,
                             int64_t *out)
{
    if (parse_int(s, min, max, out))
        return true;
    usage_error("%s: expected an integer in %" PRId64 "..%" PRId64 ", got \"%s\"", name, min,
                max, s);
    return false;
}

static bool parse_fps_option(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = (s[0] >= '0' && s[0] <= '9') ? strtod(s, &end) : NAN;
    if (isnan(v) || errno || *end || v < 0 || v > RIDE_FPS_MAX) {
        usage_error("--fps: expected a number in 0..%g, got \"%s\"", RIDE_FPS_MAX, s);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_name_option(const char *name, const char *s, const char *const *names,
                              int *out)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    usage_error("%s: unknown value \"%s\"", name, s);
    return false;
}

static bool topic_name_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > TOPIC_NAME_MAX || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
        return false;
    for (const char *c = t; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return false;
    return true;
}

/* NAME=URI, both checked as a manifest checks a source's name and uri. */
static bool add_source(options *o, char *arg)
{
    char *eq = strchr(arg, '=');
    if (!eq) {
        usage_error("--source: expected NAME=URI, got \"%s\"", arg);
        return false;
    }
    *eq = '\0';
    const char *name = arg, *uri = eq + 1;
    if (!ride_name_valid(name)) {
        usage_error("--source: invalid name \"%s\": expected lowercase letters, digits and "
                    "inner '-', at most %d bytes",
                    name, RIDE_NAME_MAX);
        return false;
    }
    for (size_t i = 0; i < o->source_count; i++)
        if (strcmp(o->sources[i].name, name) == 0) {
            usage_error("--source: duplicate source name \"%s\"", name);
            return false;
        }
    if (o->source_count == RIDE_MANIFEST_MAX_SOURCES) {
        usage_error("--source: more than %d sources", RIDE_MANIFEST_MAX_SOURCES);
        return false;
    }
    if (strlen(uri) > RIDE_PATH_MAX) {
        usage_error("--source %s: uri longer than %d bytes", name, RIDE_PATH_MAX);
        return false;
    }
    ride_source s = {.name = name, .uri = uri};
    char why[256];
    if (ride_source_uri_parse(uri, &s.target, why, sizeof why) != 0) {
        usage_error("--source %s: %s", name, why);
        return false;
    }
    ride_source *grown = realloc(o->sources, (o->source_count + 1) * sizeof *grown);
    if (!grown) {
        usage_error("out of memory");
        return false;
    }
    o->sources = grown;
    o->sources[o->source_count++] = s;
    return true;
}

static bool source_is_file(const ride_source *s)
{
    return s->target.kind == RIDE_SOURCE_VIDEO_FILE || s->target.kind == RIDE_SOURCE_IMAGE_DIR ||
           s->target.kind == RIDE_SOURCE_IMAGE_GLOB;
}

/* The manifest's cross-field rules, applied to every source, and the options
 * every run needs. */
static bool check_options(options *o)
{
    if (!o->topic) {
        usage_error("missing --topic");
        return false;
    }
    if (!topic_name_valid(o->topic)) {
        usage_error("--topic: invalid Kafka topic name \"%s\": expected 1..%d of [a-zA-Z0-9._-]",
                    o->topic, TOPIC_NAME_MAX);
        return false;
    }
    if (o->source_count == 0) {
        usage_error("no sources: give at least one --source NAME=URI (sources assigned through "
                    "ZooKeeper are not supported yet)");
        return false;
    }
    if (o->quality >= 0 && o->encoding != RIDE_ENC_JPEG) {
        usage_error("--quality applies only to --encoding jpeg");
        return false;
    }
    for (size_t i = 0; i < o->source_count; i++) {
        ride_source *s = &o->sources[i];
        const char *kind = ride_source_kind_name(s->target.kind);
        if (o->loop && !source_is_file(s)) {
            usage_error("--loop needs video file or image sources; source %s is %s", s->name,
                        kind);
            return false;
        }
        if (o->pace == RIDE_PACE_MAX && !source_is_file(s)) {
            usage_error("--pace max needs video file or image sources; source %s is %s (live "
                        "sources run at their own rate)",
                        s->name, kind);
            return false;
        }
        s->fps = o->fps;
        s->encoding = o->encoding;
        s->quality = o->quality >= 0 ? o->quality : JPEG_DEFAULT_QUALITY;
        s->loop = o->loop;
        s->pace = o->pace;
    }
    return true;
}

static const struct option long_options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"partitions", required_argument, NULL, OPT_PARTITIONS},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"fps", required_argument, NULL, OPT_FPS},
    {"encoding", required_argument, NULL, OPT_ENCODING},
    {"quality", required_argument, NULL, OPT_QUALITY},
    {"pace", required_argument, NULL, OPT_PACE},
    {"loop", no_argument, NULL, OPT_LOOP},
    {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
    {"max-backlog", required_argument, NULL, OPT_MAX_BACKLOG},
    {"frames", required_argument, NULL, OPT_FRAMES},
    {"stats-interval-ms", required_argument, NULL, OPT_STATS_INTERVAL},
    {"connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static bool apply_option(options *o, int opt, char *arg)
{
    static const char *const pace_names[] = {"source", "max", NULL};
    int64_t v;
    int e;
    switch (opt) {
    case OPT_CONFIG: o->config_file = arg; return true;
    case OPT_BOOTSTRAP: o->bootstrap = arg; return true;
    case OPT_TOPIC: o->topic = arg; return true;
    case OPT_PARTITIONS:
        if (!parse_int_option("--partitions", arg, 1, RIDE_KAFKA_MAX_PARTITIONS, &v))
            return false;
        o->partitions = (int)v;
        return true;
    case OPT_SOURCE: return add_source(o, arg);
    case OPT_FPS: return parse_fps_option(arg, &o->fps);
    case OPT_ENCODING:
        if (!parse_name_option("--encoding", arg, ride_encoding_names, &e))
            return false;
        o->encoding = (ride_encoding)e;
        return true;
    case OPT_QUALITY:
        if (!parse_int_option("--quality", arg, 1, 100, &v))
            return false;
        o->quality = (int)v;
        return true;
    case OPT_PACE:
        if (!parse_name_option("--pace", arg, pace_names, &e))
            return false;
        o->pace = (ride_pace)e;
        return true;
    case OPT_LOOP: o->loop = true; return true;
    case OPT_MAX_MESSAGE:
        return parse_int_option("--max-message", arg, MESSAGE_MIN, MESSAGE_MAX, &o->max_message);
    case OPT_MAX_BACKLOG:
        return parse_int_option("--max-backlog", arg, 0, BACKLOG_MAX, &o->max_backlog);
    case OPT_FRAMES:
        if (!parse_int_option("--frames", arg, 1, INT64_MAX, &v))
            return false;
        o->frames = (uint64_t)v;
        return true;
    case OPT_STATS_INTERVAL:
        return parse_int_option("--stats-interval-ms", arg, 10, 86400000, &o->stats_interval_ms);
    case OPT_CONNECT_TIMEOUT:
        return parse_int_option("--connect-timeout-ms", arg, 100, 3600000,
                                &o->connect_timeout_ms);
    case OPT_LOG_LEVEL: {
        ride_log_level level;
        if (ride_log_level_parse(arg, &level) != 0) {
            usage_error("--log-level: expected debug, info, warn or error, got \"%s\"", arg);
            return false;
        }
        o->log_level = arg;
        return true;
    }
    default: return false;
    }
}

/* Returns 0 to run, -1 for a usage error (already printed), 1 after --help. */
static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.quality = -1,
                   .max_message = -1,
                   .max_backlog = -1,
                   .stats_interval_ms = DEFAULT_STATS_INTERVAL_MS,
                   .connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS};
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
        if (opt == OPT_HELP) {
            print_help();
            return 1;
        }
        if (opt == '?') {
            usage_error("unknown option '%s'", argv[optind - 1]);
            return -1;
        }
        if (opt == ':') {
            usage_error("option '%s' needs a value", argv[optind - 1]);
            return -1;
        }
        if (!apply_option(o, opt, optarg))
            return -1;
    }
    if (optind < argc) {
        usage_error("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    return check_options(o) ? 0 : -1;
}

/* ---- configuration ---- */

/* The Kafka properties to use: the config's, without bootstrap.servers when
 * --bootstrap is given (the command line overrides the file). */
static ride_kv *kafka_props(const options *o, const ride_config *cfg, size_t *count)
{
    ride_kv *props = calloc(cfg->kafka.prop_count + 1, sizeof *props);
    if (!props)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < cfg->kafka.prop_count; i++)
        if (!(o->bootstrap && strcmp(cfg->kafka.props[i].key, "bootstrap.servers") == 0))
            props[n++] = cfg->kafka.props[i];
    *count = n;
    return props;
}

static rd_kafka_conf_t *kafka_conf(const options *o, const ride_config *cfg, size_t max_message)
{
    size_t count = 0;
    ride_kv *props = kafka_props(o, cfg, &count);
    if (!props) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return NULL;
    }
    ride_parse_error perr;
    rd_kafka_conf_t *conf = ride_kafka_conf_new(RIDE_KAFKA_PRODUCER, o->bootstrap, props, count,
                                                cfg->file, &perr);
    if (!conf) {
        char buf[1024];
        fprintf(stderr, PROGRAM ": %s\n", ride_parse_error_format(&perr, buf, sizeof buf));
        free(props);
        return NULL;
    }
    /* A larger frame message needs a larger client limit; a limit the user set
     * is left alone. */
    if (max_message > RIDE_FRAME_DEFAULT_MAX_MESSAGE &&
        !ride_kv_find(props, count, "message.max.bytes")) {
        char value[32], errstr[256];
        snprintf(value, sizeof value, "%zu", max_message + MESSAGE_OVERHEAD);
        if (rd_kafka_conf_set(conf, "message.max.bytes", value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, PROGRAM ": message.max.bytes=%s: %s\n", value, errstr);
            rd_kafka_conf_destroy(conf);
            conf = NULL;
        }
    }
    free(props);
    return conf;
}

/* ---- source threads ---- */

static void log_source_stats(const source_task *t, const ride_source_reader_stats *rs,
                             uint64_t frames_before, int64_t elapsed_ns)
{
    ride_publisher_stats ps;
    ride_publisher_stats_get(t->publisher, &ps);
    uint64_t in_flight = 0;
    for (int32_t p = 0; p < t->partitions; p++)
        in_flight += ride_publisher_in_flight(t->publisher, p);
    double fps = elapsed_ns > 0 ? (double)(rs->frames - frames_before) * 1e9 / (double)elapsed_ns
                                : 0.0;
    ride_log_info("source_stats",
                  "source=%s stream=%" PRIu32 " frames=%" PRIu64 " fps=%.2f produced=%" PRIu64
                  " delivered=%" PRIu64 " dropped_backpressure=%" PRIu64
                  " dropped_produce_failed=%" PRIu64 " dropped_delivery_failed=%" PRIu64
                  " in_flight_bytes=%" PRIu64 " late=%" PRIu64 " connected=%d reconnects=%" PRIu64,
                  t->src->name, t->stream_id, rs->frames, fps, ps.produced, ps.delivered,
                  ps.dropped[RIDE_DROP_BACKPRESSURE], ps.dropped[RIDE_DROP_PRODUCE_FAILED],
                  ps.dropped[RIDE_DROP_DELIVERY_FAILED], in_flight, rs->late, rs->connected,
                  rs->reconnects);
}

/* Live sources: one line when a stream opens and one per failed attempt or
 * broken stream (the reader retries on its own with backoff). */
static void log_connection(const source_task *t, const ride_source_reader_stats *rs,
                           int *was_connected, ride_source_read rc, const char *err)
{
    char quoted[600];
    if (rs->connected && !*was_connected)
        ride_log_info("source_connected",
                      "source=%s stream=%" PRIu32 " reconnects=%" PRIu64 " disconnects=%" PRIu64,
                      t->src->name, t->stream_id, rs->reconnects, rs->disconnects);
    else if (rc == RIDE_SOURCE_AGAIN && err[0])
        ride_log_warn("source_unavailable",
                      "source=%s stream=%" PRIu32 " connect_failures=%" PRIu64
                      " disconnects=%" PRIu64 " retry_in_ms=%" PRId64 " reason=%s",
                      t->src->name, t->stream_id, rs->connect_failures, rs->disconnects,
                      rs->last_backoff_ms, ride_log_quote(err, quoted, sizeof quoted));
    *was_connected = rs->connected;
}

/* Offers the frame; a file source that waits for room (pace max) keeps offering
 * it until there is room or the producer stops. */
static void publish_frame(source_task *t, const ride_frame *f)
{
    char err[512] = "";
    for (;;) {
        ride_publish_result r = ride_publisher_publish(t->publisher, f, STEP_MS, err, sizeof err);
        if (r == RIDE_PUBLISH_DROPPED) {
            char quoted[600];
            ride_log_debug("frame_dropped", "source=%s stream=%" PRIu32 " seq=%" PRIu64 " reason=%s",
                           t->src->name, t->stream_id, f->seq,
                           ride_log_quote(err, quoted, sizeof quoted));
        }
        if (r != RIDE_PUBLISH_FULL || atomic_load(&t->state->stop))
            return;
    }
}

static void *run_source(void *arg)
{
    source_task *t = arg;
    producer_state *st = t->state;
    ride_frame frame = {0};
    ride_source_reader_stats rs = {0};
    int connected = 0;
    int64_t stats_ns = st->stats_interval_ms * 1000000;
    int64_t stats_at = ride_clock_mono_ns();
    uint64_t frames_at_stats = 0;
    char err[512], quoted[600];
    while (!atomic_load(&st->stop) && (st->frame_limit == 0 || rs.frames < st->frame_limit)) {
        err[0] = '\0';
        ride_source_read rc = ride_source_reader_next(t->reader, &frame, STEP_MS, err, sizeof err);
        ride_source_reader_stats_get(t->reader, &rs);
        log_connection(t, &rs, &connected, rc, err);
        if (rc == RIDE_SOURCE_ERROR) {
            ride_log_error("source_failed", "source=%s stream=%" PRIu32 " reason=%s",
                           t->src->name, t->stream_id, ride_log_quote(err, quoted, sizeof quoted));
            t->failed = true;
            break;
        }
        if (rc == RIDE_SOURCE_EOF) {
            ride_log_info("source_ended", "source=%s stream=%" PRIu32 " frames=%" PRIu64,
                          t->src->name, t->stream_id, rs.frames);
            break;
        }
        if (rc == RIDE_SOURCE_FRAME)
            publish_frame(t, &frame);
        int64_t now = ride_clock_mono_ns();
        if (now - stats_at >= stats_ns) {
            log_source_stats(t, &rs, frames_at_stats, now - stats_at);
            stats_at = now;
            frames_at_stats = rs.frames;
        }
    }
    ride_frame_free(&frame);
    atomic_fetch_sub(&st->sources_running, 1);
    return NULL;
}

static void *serve_deliveries(void *arg)
{
    producer_state *st = arg;
    while (!atomic_load(&st->stop_poll))
        ride_kafka_producer_poll(st->kafka, STEP_MS);
    return NULL;
}

/* ---- signals ---- */

/* Waits up to ms for SIGINT or SIGTERM; returns the signal or 0. */
static int wait_signal(const sigset_t *set, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

/* A second signal while stopping: leave now, without flushing. */
static void exit_on_signal(const sigset_t *set, int ms)
{
    int sig = wait_signal(set, ms);
    if (!sig)
        return;
    ride_log_warn("exit_now", "signal=%s reason=\"second signal: exiting without flushing\"",
                  sig == SIGINT ? "SIGINT" : "SIGTERM");
    _exit(EXIT_RUNTIME);
}

/* ---- the run ---- */

typedef struct settings {
    size_t max_message;
    uint64_t max_backlog; /* 0: unbounded */
    const char *bootstrap;
} settings;

/* Connects, checks the topic and returns its partition count to use, or -1. */
static int resolve_partitions(ride_kafka_producer *kafka, const options *o, const char *bootstrap)
{
    char err[512];
    int count = ride_kafka_partition_count(ride_kafka_producer_handle(kafka), o->topic,
                                           (int)o->connect_timeout_ms, err, sizeof err);
    if (count < 0) {
        fprintf(stderr, PROGRAM ": cannot reach Kafka at %s within %" PRId64 " ms: %s\n",
                bootstrap, o->connect_timeout_ms, err);
        return -1;
    }
    if (count == 0) {
        fprintf(stderr,
                PROGRAM ": topic %s does not exist at %s (it is never created here: create it "
                        "first, e.g. with ridectl apply)\n",
                o->topic, bootstrap);
        return -1;
    }
    if (o->partitions > count) {
        fprintf(stderr, PROGRAM ": --partitions %d but topic %s has only %d partitions\n",
                o->partitions, o->topic, count);
        return -1;
    }
    return o->partitions ? o->partitions : count;
}

static void log_start(const options *o, const settings *s, int partitions)
{
    char quoted[600];
    ride_log_info("start",
                  "mode=standalone topic=%s partitions=%d bootstrap=%s sources=%zu encoding=%s "
                  "quality=%d pace=%s fps=%g loop=%s frames=%" PRIu64
                  " max_message_bytes=%zu max_backlog_bytes=%" PRIu64
                  " stats_interval_ms=%" PRId64 " config=%s",
                  o->topic, partitions, ride_log_quote(s->bootstrap, quoted, sizeof quoted),
                  o->source_count, ride_encoding_name(o->encoding), o->sources[0].quality,
                  ride_pace_name(o->pace), o->fps, o->loop ? "true" : "false", o->frames,
                  s->max_message, s->max_backlog, o->stats_interval_ms,
                  o->config_file ? o->config_file : "none");
}

/* Opens every source's reader and publisher; returns false after printing why. */
static bool open_sources(const options *o, const settings *s, producer_state *st,
                         int partitions, source_task *tasks)
{
    char err[512], quoted[RIDE_PATH_MAX + 8];
    for (size_t i = 0; i < o->source_count; i++) {
        source_task *t = &tasks[i];
        t->state = st;
        t->src = &o->sources[i];
        t->stream_id = (uint32_t)i;
        t->partitions = partitions;
        ride_source_reader_opts ro = {.stream_id = t->stream_id};
        t->reader = ride_source_reader_open(t->src, &ro, err, sizeof err);
        if (!t->reader) {
            fprintf(stderr, PROGRAM ": %s\n", err);
            return false;
        }
        ride_publisher_opts po = {
            .topic = o->topic,
            .partitions = partitions,
            .start_partition = (int)(i % (size_t)partitions),
            .write = {o->encoding, o->encoding == RIDE_ENC_JPEG ? t->src->quality : -1,
                      s->max_message},
            .max_backlog_bytes = s->max_backlog ? (size_t)s->max_backlog : SIZE_MAX,
            .wait_when_full = o->pace == RIDE_PACE_MAX,
        };
        t->publisher = ride_publisher_new(st->kafka, &po, err, sizeof err);
        if (!t->publisher) {
            fprintf(stderr, PROGRAM ": %s\n", err);
            return false;
        }
        ride_log_info("source_start", "source=%s stream=%" PRIu32 " kind=%s fps=%g uri=%s",
                      t->src->name, t->stream_id, ride_source_kind_name(t->src->target.kind),
                      ride_source_reader_fps(t->reader),
                      ride_log_quote(t->src->uri, quoted, sizeof quoted));
    }
    return true;
}

/* Waits for the sources to end or a signal; then stops them and waits for
 * their threads, a second signal exiting at once. */
static void supervise_sources(producer_state *st, const sigset_t *set)
{
    while (atomic_load(&st->sources_running) > 0) {
        int sig = wait_signal(set, SUPERVISE_MS);
        if (sig) {
            ride_log_info("stopping", "signal=%s flush_deadline_ms=%d",
                          sig == SIGINT ? "SIGINT" : "SIGTERM", FLUSH_DEADLINE_MS);
            break;
        }
    }
    atomic_store(&st->stop, true);
    while (atomic_load(&st->sources_running) > 0)
        exit_on_signal(set, SUPERVISE_MS);
}

/* Waits up to FLUSH_DEADLINE_MS for every queued message's delivery report
 * (served by the delivery thread); what is left then is purged and reported
 * failed. Returns true when nothing had to be purged. */
static bool flush_outstanding(producer_state *st, const sigset_t *set)
{
    int64_t deadline = ride_clock_mono_ns() + (int64_t)FLUSH_DEADLINE_MS * 1000000;
    while (ride_kafka_producer_outstanding(st->kafka) > 0 && ride_clock_mono_ns() < deadline)
        exit_on_signal(set, 10);
    atomic_store(&st->stop_poll, true);
    int left = ride_kafka_producer_outstanding(st->kafka);
    if (left == 0)
        return true;
    ride_log_error("flush_incomplete", "undelivered_messages=%d deadline_ms=%d", left,
                   FLUSH_DEADLINE_MS);
    rd_kafka_purge(ride_kafka_producer_handle(st->kafka),
                   RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    return false;
}

static void log_summary(const source_task *tasks, size_t count, int exit_code)
{
    ride_publisher_stats total = {0};
    uint64_t frames = 0;
    for (size_t i = 0; i < count; i++) {
        const source_task *t = &tasks[i];
        ride_source_reader_stats rs;
        ride_publisher_stats ps;
        ride_source_reader_stats_get(t->reader, &rs);
        ride_publisher_stats_get(t->publisher, &ps);
        ride_log_info("source_summary",
                      "source=%s stream=%" PRIu32 " frames=%" PRIu64 " offered=%" PRIu64
                      " produced=%" PRIu64 " delivered=%" PRIu64
                      " dropped_backpressure=%" PRIu64 " dropped_produce_failed=%" PRIu64
                      " dropped_delivery_failed=%" PRIu64 " late=%" PRIu64 " failed=%s",
                      t->src->name, t->stream_id, rs.frames, ps.offered, ps.produced,
                      ps.delivered, ps.dropped[RIDE_DROP_BACKPRESSURE],
                      ps.dropped[RIDE_DROP_PRODUCE_FAILED], ps.dropped[RIDE_DROP_DELIVERY_FAILED],
                      rs.late, t->failed ? "true" : "false");
        frames += rs.frames;
        total.offered += ps.offered;
        total.produced += ps.produced;
        total.delivered += ps.delivered;
        total.bytes += ps.bytes;
        for (int r = 0; r < RIDE_DROP_REASON_COUNT; r++)
            total.dropped[r] += ps.dropped[r];
    }
    ride_log_info("summary",
                  "sources=%zu frames=%" PRIu64 " offered=%" PRIu64 " produced=%" PRIu64
                  " delivered=%" PRIu64 " bytes=%" PRIu64 " dropped_backpressure=%" PRIu64
                  " dropped_produce_failed=%" PRIu64 " dropped_delivery_failed=%" PRIu64
                  " exit_code=%d",
                  count, frames, total.offered, total.produced, total.delivered, total.bytes,
                  total.dropped[RIDE_DROP_BACKPRESSURE], total.dropped[RIDE_DROP_PRODUCE_FAILED],
                  total.dropped[RIDE_DROP_DELIVERY_FAILED], exit_code);
}

/* Starts the delivery thread and one thread per source, supervises them and
 * flushes. Returns the exit code. */
static int run(producer_state *st, source_task *tasks, size_t count, const sigset_t *set)
{
    pthread_t poller;
    if (pthread_create(&poller, NULL, serve_deliveries, st) != 0) {
        fprintf(stderr, PROGRAM ": cannot start the delivery thread\n");
        return EXIT_RUNTIME;
    }
    int code = 0;
    for (size_t i = 0; i < count; i++) {
        atomic_fetch_add(&st->sources_running, 1);
        if (pthread_create(&tasks[i].thread, NULL, run_source, &tasks[i]) != 0) {
            atomic_fetch_sub(&st->sources_running, 1);
            ride_log_error("source_thread_failed", "source=%s", tasks[i].src->name);
            atomic_store(&st->stop, true);
            code = EXIT_RUNTIME;
            break;
        }
        tasks[i].started = true;
    }
    supervise_sources(st, set);
    for (size_t i = 0; i < count; i++)
        if (tasks[i].started) {
            pthread_join(tasks[i].thread, NULL);
            if (tasks[i].failed)
                code = EXIT_RUNTIME;
        }
    if (!flush_outstanding(st, set))
        code = EXIT_RUNTIME;
    pthread_join(poller, NULL);
    /* Serves the reports of anything purged, so that the summary counts it. */
    char err[256];
    ride_kafka_producer_flush(st->kafka, STEP_MS, err, sizeof err);
    log_summary(tasks, count, code);
    return code;
}

static void close_sources(source_task *tasks, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        ride_publisher_free(tasks[i].publisher);
        ride_source_reader_close(tasks[i].reader);
    }
}

/* The producer settings: built-in defaults, then the config file, then flags. */
static bool load_settings(const options *o, ride_config *cfg, settings *s)
{
    *s = (settings){RIDE_FRAME_DEFAULT_MAX_MESSAGE, RIDE_PUBLISHER_DEFAULT_BACKLOG, o->bootstrap};
    ride_log_level level = RIDE_LOG_INFO;
    if (o->config_file) {
        ride_parse_error perr;
        if (ride_config_load(RIDE_DAEMON_PRODUCER, o->config_file, cfg, &perr) != 0) {
            char buf[1024];
            usage_error("%s", ride_parse_error_format(&perr, buf, sizeof buf));
            return false;
        }
        s->max_message = (size_t)cfg->producer.message_max_bytes;
        s->max_backlog = (uint64_t)cfg->producer.max_backlog_bytes;
        level = cfg->log_level;
        if (!s->bootstrap) {
            const ride_kv *kv =
                ride_kv_find(cfg->kafka.props, cfg->kafka.prop_count, "bootstrap.servers");
            s->bootstrap = kv ? kv->value : NULL;
        }
    }
    if (!s->bootstrap) {
        usage_error("missing --bootstrap (or bootstrap.servers in the config's kafka map)");
        return false;
    }
    if (o->max_message >= 0)
        s->max_message = (size_t)o->max_message;
    if (o->max_backlog >= 0)
        s->max_backlog = (uint64_t)o->max_backlog;
    if (o->log_level)
        ride_log_level_parse(o->log_level, &level);
    ride_log_set_level(level);
    return true;
}

static int run_producer(const options *o, const settings *s, const ride_config *cfg,
                        const sigset_t *set)
{
    producer_state st = {.stats_interval_ms = o->stats_interval_ms, .frame_limit = o->frames};
    atomic_init(&st.stop, false);
    atomic_init(&st.stop_poll, false);
    atomic_init(&st.sources_running, 0);
    rd_kafka_conf_t *conf = kafka_conf(o, cfg, s->max_message);
    if (!conf)
        return EXIT_USAGE;
    char err[512];
    st.kafka = ride_kafka_producer_new(conf, ride_publisher_on_delivery, NULL, err, sizeof err);
    if (!st.kafka) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return EXIT_RUNTIME;
    }
    int code = EXIT_RUNTIME;
    int partitions = resolve_partitions(st.kafka, o, s->bootstrap);
    source_task *tasks = calloc(o->source_count, sizeof *tasks);
    if (partitions > 0 && tasks) {
        log_start(o, s, partitions);
        if (open_sources(o, s, &st, partitions, tasks))
            code = run(&st, tasks, o->source_count, set);
    }
    if (tasks)
        close_sources(tasks, o->source_count);
    free(tasks);
    ride_kafka_producer_free(st.kafka);
    return code;
}

int main(int argc, char **argv)
{
    ride_log_set_component("producer");
    options o;
    int parsed = parse_args(argc, argv, &o);
    if (parsed != 0) {
        free(o.sources);
        return parsed > 0 ? 0 : EXIT_USAGE;
    }
    /* Blocked before any thread exists (librdkafka's included), so that only
     * the main thread's sigtimedwait ever takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    ride_config cfg = {0};
    settings s;
    int code = load_settings(&o, &cfg, &s) ? run_producer(&o, &s, &cfg, &set) : EXIT_USAGE;
    ride_config_free(&cfg);
    free(o.sources);
    return code;
}
