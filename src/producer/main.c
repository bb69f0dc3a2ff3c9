/* main.c - ride-producer: reads frame sources and publishes their frames to a
 * stage's input topic (docs/producer.md). Two modes share the per-source threads
 * of runner.h:
 *
 * - command-line (standalone) mode, here: the sources are given with --source and
 *   stream ids are their positions there. Threads: one per source, one serving
 *   the shared Kafka producer's delivery reports, and the main thread, which
 *   waits for signals (they are blocked everywhere and taken with sigtimedwait,
 *   so no work runs in a handler) and for the sources to end, then flushes with
 *   a deadline and prints the summary;
 * - cluster mode (no --source, a --config): cluster_mode.h. */
#include <errno.h>
#include "base/clock.h"
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

#include "cluster_mode.h"
#include "publisher.h"
#include "runner.h"
#include "base/log.h"
#include "kafka/kafka.h"
#include "spec/config.h"
#include "spec/manifest.h"

#define PROGRAM "ride-producer"
#define EXIT_USAGE 2
#define EXIT_RUNTIME 1
/* Frames read that did not reach Kafka: refused or failed, not backpressure. */
#define EXIT_UNDELIVERED 3

#define DEFAULT_STATS_INTERVAL_MS 10000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define FLUSH_DEADLINE_MS 10000
/* How often the main thread looks at the sources while waiting for a signal. */
#define SUPERVISE_MS 50
#define JPEG_DEFAULT_QUALITY 90
#define BACKLOG_MAX (1LL << 40)
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
    OPT_MAX_FRAME,
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
    int64_t max_frame;    /* -1: from the config */
    int64_t max_backlog;  /* -1: from the config; 0: unbounded */
    uint64_t frames;      /* per source; 0: no limit */
    int64_t stats_interval_ms;
    int64_t connect_timeout_ms;
    const char *log_level;
    /* The first option given that only command-line mode takes, or NULL. */
    const char *standalone_option;
} options;

/* ---- usage ---- */

static void print_help(void)
{
    printf("Usage: " PROGRAM " [OPTIONS] --topic TOPIC --source NAME=URI [--source NAME=URI ...]\n"
           "       " PROGRAM " -c FILE [--log-level LEVEL] [--stats-interval-ms MS]\n"
           "\n"
           "Reads each source and publishes its frames round-robin over the topic's\n"
           "partitions (docs/producer.md). Stream ids are the sources' positions (0, 1, ...).\n"
           "Without --source it runs in cluster mode: it joins the cluster named by the\n"
           "config's zookeeper.connect and runs the sources the master assigns it.\n"
           "\n"
           "  -c, --config FILE        producer config (kafka properties, producer.* defaults;\n"
           "                           cluster mode: everything)\n"
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
           "  --max-message BYTES      largest Kafka message (default 1000000; lowered to\n"
           "                           what the topic's brokers take)\n"
           "  --max-frame BYTES        larger frames (pixels) are refused (default 64 MiB)\n"
           "  --max-backlog BYTES      per partition, bytes not yet delivered (default 4 MiB;\n"
           "                           0: unbounded)\n"
           "  --frames N               stop after N frames per source\n"
           "  --stats-interval-ms MS   per-source stats log period (default 10000)\n"
           "  --connect-timeout-ms MS  bound on reaching Kafka at start (default 10000)\n"
           "  --log-level LEVEL        debug, info, warn or error (default: config, else info)\n"
           "  --help                   this text\n"
           "\n"
           "Exit status: 0 clean stop, 1 runtime failure, 2 bad usage, 3 frames read\n"
           "could not be delivered.\n");
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

static bool parse_int_option(const char *name, const char *s, int64_t min, int64_t max,
                             int64_t *out)
{
    if (ride_parse_int64(s, RIDE_PARSE_MINUS, min, max, out))
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

/* Cluster mode: the config gives everything, the assignment the sources. */
static bool check_cluster_options(const options *o)
{
    if (!o->config_file) {
        usage_error("missing --source NAME=URI (command-line mode) or --config FILE (cluster "
                    "mode)");
        return false;
    }
    if (o->standalone_option) {
        usage_error("--%s needs --source: in cluster mode the sources and their settings come "
                    "from the assignment",
                    o->standalone_option);
        return false;
    }
    return true;
}

/* The manifest's cross-field rules, applied to every source, and the options
 * every run needs. */
static bool check_options(options *o)
{
    if (o->source_count == 0)
        return check_cluster_options(o);
    if (!o->topic) {
        usage_error("missing --topic");
        return false;
    }
    if (!topic_name_valid(o->topic)) {
        usage_error("--topic: invalid Kafka topic name \"%s\": expected 1..%d of [a-zA-Z0-9._-]",
                    o->topic, TOPIC_NAME_MAX);
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
    {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
    {"max-backlog", required_argument, NULL, OPT_MAX_BACKLOG},
    {"frames", required_argument, NULL, OPT_FRAMES},
    {"stats-interval-ms", required_argument, NULL, OPT_STATS_INTERVAL},
    {"connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Remembers the first option that only command-line mode takes. */
static void note_standalone_option(options *o, int opt)
{
    if (o->standalone_option || opt == OPT_CONFIG || opt == OPT_SOURCE || opt == OPT_LOG_LEVEL ||
        opt == OPT_STATS_INTERVAL)
        return;
    for (const struct option *lo = long_options; lo->name; lo++)
        if (lo->val == opt)
            o->standalone_option = lo->name;
}

static bool apply_option(options *o, int opt, char *arg)
{
    static const char *const pace_names[] = {"source", "max", NULL};
    int64_t v;
    int e;
    if (opt == 'c')
        opt = OPT_CONFIG;
    note_standalone_option(o, opt);
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
        return parse_int_option("--max-message", arg, RIDE_CONFIG_MESSAGE_MIN,
                                RIDE_CONFIG_MESSAGE_MAX, &o->max_message);
    case OPT_MAX_FRAME:
        return parse_int_option("--max-frame", arg, 1, RIDE_CONFIG_FRAME_MAX, &o->max_frame);
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
                   .max_frame = -1,
                   .max_backlog = -1,
                   .stats_interval_ms = DEFAULT_STATS_INTERVAL_MS,
                   .connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS};
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":c:", long_options, NULL)) != -1) {
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

static bool load_config(const char *file, ride_config *cfg)
{
    ride_parse_error perr;
    if (ride_config_load(RIDE_DAEMON_PRODUCER, file, cfg, &perr) == 0)
        return true;
    char buf[1024];
    usage_error("%s", ride_parse_error_format(&perr, buf, sizeof buf));
    return false;
}

/* --log-level wins over the config's level (checked when parsed). */
static void set_log_level(const options *o, ride_log_level level)
{
    if (o->log_level)
        ride_log_level_parse(o->log_level, &level);
    ride_log_set_level(level);
}

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
    char err[1024];
    rd_kafka_conf_t *conf =
        ride_frame_sink_conf(o->bootstrap, false, props, count, cfg->file, max_message, err,
                             sizeof err);
    if (!conf)
        fprintf(stderr, PROGRAM ": %s\n", err);
    free(props);
    return conf;
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
static void exit_on_signal(void *ctx, int ms)
{
    int sig = wait_signal(ctx, ms);
    if (!sig)
        return;
    ride_log_warn("exit_now", "signal=%s reason=\"second signal: exiting without flushing\"",
                  sig == SIGINT ? "SIGINT" : "SIGTERM");
    _exit(EXIT_RUNTIME);
}

/* ---- the run ---- */

typedef struct settings {
    size_t max_message;
    uint64_t max_frame;
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
                  " max_message_bytes=%zu max_frame_bytes=%" PRIu64 " max_backlog_bytes=%" PRIu64
                  " stats_interval_ms=%" PRId64 " config=%s",
                  o->topic, partitions, ride_log_quote(s->bootstrap, quoted, sizeof quoted),
                  o->source_count, ride_encoding_name(o->encoding), o->sources[0].quality,
                  ride_pace_name(o->pace), o->fps, o->loop ? "true" : "false", o->frames,
                  s->max_message, s->max_frame, s->max_backlog, o->stats_interval_ms,
                  o->config_file ? o->config_file : "none");
}

/* Opens every source's reader and publisher before any is read, so that a bad
 * source stops the run before anything is published; false after printing why. */
static bool open_sources(const options *o, const settings *s, ride_frame_sink *sink,
                         int partitions, ride_source_runner **runners)
{
    char err[512];
    for (size_t i = 0; i < o->source_count; i++) {
        ride_source_runner_opts ro = {
            .src = &o->sources[i],
            .stream_id = (uint32_t)i,
            .topic = o->topic,
            .partitions = partitions,
            .max_message = s->max_message,
            .max_frame = s->max_frame,
            .max_backlog = s->max_backlog,
            .frame_limit = o->frames,
            .stats_interval_ms = o->stats_interval_ms,
        };
        runners[i] = ride_source_runner_open(sink, &ro, err, sizeof err);
        if (!runners[i]) {
            fprintf(stderr, PROGRAM ": %s\n", err);
            return false;
        }
    }
    return true;
}

static bool any_running(ride_source_runner *const *runners, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (ride_source_runner_running(runners[i]))
            return true;
    return false;
}

/* Waits for the sources to end or a signal; then stops them and waits for
 * their threads, a second signal exiting at once. */
static void supervise_sources(ride_source_runner **runners, size_t count, sigset_t *set)
{
    while (any_running(runners, count)) {
        int sig = wait_signal(set, SUPERVISE_MS);
        if (sig) {
            ride_log_info("stopping", "signal=%s flush_deadline_ms=%d",
                          sig == SIGINT ? "SIGINT" : "SIGTERM", FLUSH_DEADLINE_MS);
            break;
        }
    }
    for (size_t i = 0; i < count; i++)
        ride_source_runner_request_stop(runners[i]);
    while (any_running(runners, count))
        exit_on_signal(set, SUPERVISE_MS);
}

/* Frames read that Kafka did not take: refused, failed to queue, or failed in
 * delivery. Backpressure drops are the policy for live sources, not failures. */
static uint64_t undelivered(const ride_publisher_stats *st)
{
    return st->dropped[RIDE_DROP_PRODUCE_FAILED] + st->dropped[RIDE_DROP_DELIVERY_FAILED] +
           st->dropped[RIDE_DROP_DELIVERY_UNKNOWN];
}

/* Starts one thread per source, supervises them and flushes. Returns the exit code. */
static int run(ride_frame_sink *sink, ride_source_runner **runners, size_t count, sigset_t *set)
{
    int code = 0;
    for (size_t i = 0; i < count; i++)
        if (!ride_source_runner_start(runners[i])) {
            code = EXIT_RUNTIME;
            break;
        }
    supervise_sources(runners, count, set);
    ride_source_totals totals = {0};
    for (size_t i = 0; i < count; i++) {
        ride_source_runner_join(runners[i]);
        if (ride_source_runner_failed(runners[i]))
            code = EXIT_RUNTIME;
    }
    if (ride_frame_sink_flush(sink, FLUSH_DEADLINE_MS, exit_on_signal, set) > 0)
        code = EXIT_RUNTIME;
    for (size_t i = 0; i < count; i++)
        ride_source_runner_log_summary(runners[i], &totals);
    if (code == 0 && undelivered(&totals.pub) > 0)
        code = EXIT_UNDELIVERED;
    ride_source_totals_log(&totals, code);
    return code;
}

/* The producer settings: built-in defaults, then the config file, then flags. */
static bool load_settings(const options *o, ride_config *cfg, settings *s)
{
    *s = (settings){RIDE_FRAME_DEFAULT_MAX_MESSAGE, (uint64_t)RIDE_CONFIG_DEFAULT_FRAME,
                    RIDE_PUBLISHER_DEFAULT_BACKLOG, o->bootstrap};
    ride_log_level level = RIDE_LOG_INFO;
    if (o->config_file) {
        if (!load_config(o->config_file, cfg))
            return false;
        s->max_message = (size_t)cfg->producer.message_max_bytes;
        s->max_frame = (uint64_t)cfg->producer.max_frame_bytes;
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
    if (o->max_frame >= 0)
        s->max_frame = (uint64_t)o->max_frame;
    if (o->max_backlog >= 0)
        s->max_backlog = (uint64_t)o->max_backlog;
    set_log_level(o, level);
    return true;
}

static int run_producer(const options *o, const settings *s, const ride_config *cfg,
                        sigset_t *set)
{
    rd_kafka_conf_t *conf = kafka_conf(o, cfg, s->max_message);
    if (!conf)
        return EXIT_USAGE;
    char err[512];
    ride_frame_sink *sink = ride_frame_sink_new(conf, err, sizeof err);
    if (!sink) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return EXIT_RUNTIME;
    }
    int code = EXIT_RUNTIME;
    int partitions = resolve_partitions(ride_frame_sink_producer(sink), o, s->bootstrap);
    ride_source_runner **runners = calloc(o->source_count, sizeof *runners);
    if (partitions > 0 && runners) {
        log_start(o, s, partitions);
        if (open_sources(o, s, sink, partitions, runners))
            code = run(sink, runners, o->source_count, set);
    }
    for (size_t i = 0; runners && i < o->source_count; i++)
        ride_source_runner_free(runners[i]);
    free(runners);
    ride_frame_sink_free(sink);
    return code;
}

static int run_standalone(const options *o, ride_config *cfg)
{
    /* Blocked before any thread exists (librdkafka's included), so that only
     * the main thread's sigtimedwait ever takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    settings s;
    return load_settings(o, cfg, &s) ? run_producer(o, &s, cfg, &set) : EXIT_USAGE;
}

static int run_cluster(const options *o, ride_config *cfg)
{
    if (!load_config(o->config_file, cfg))
        return EXIT_USAGE;
    set_log_level(o, cfg->log_level);
    if (!cfg->zookeeper.connect) {
        usage_error("cluster mode needs zookeeper.connect in %s", o->config_file);
        return EXIT_USAGE;
    }
    return ride_producer_cluster_run(cfg, o->stats_interval_ms);
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
    ride_config cfg = {0};
    int code = o.source_count ? run_standalone(&o, &cfg) : run_cluster(&o, &cfg);
    ride_config_free(&cfg);
    free(o.sources);
    return code;
}
