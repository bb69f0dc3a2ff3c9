/* ride-demo: a whole RIDE cluster on one machine. It starts ZooKeeper, a master
 * hosting the embedded Kafka cluster, four workers and a producer as separate
 * processes; applies the demo manifest through the control API; kills one active
 * worker with SIGKILL halfway through and measures the failover; audits the sink
 * topic by sequence number; prints a summary, writes output images and stops
 * everything it started. Exit status 0 only when no produced frame was lost. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "launch_process.h"
#include "launch_zookeeper.h"
#include "metrics_scrape.h"
#include "audit.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/openmp_env.h"
#include "cluster/cluster.h"
#include "cluster/zk.h"
#include "media/opencv_c.h"
#include "spec/manifest.h"

#define WORKERS 4
#define STREAMS_MAX 16
#define CHROOT "/ride-demo"
#define STEP_MS 50
#define START_TIMEOUT_MS 30000
#define FAILOVER_TIMEOUT_MS 30000
#define DRAIN_TIMEOUT_MS 30000
#define DRAIN_IDLE_MS 5000
#define STOP_GRACE_MS 15000
#define SCRAPE_INTERVAL_MS 500
#define PNG_EVERY 300

typedef struct options {
    const char *manifest;
    const char *out;
    int seconds;
} options;

/* Per stream: what the producer reported, what reached the sink, the last frame. */
typedef struct stream_stats {
    uint32_t id;
    char source[64];
    uint64_t produced, delivered, dropped;
    bool reported;
    ride_image last;
    uint64_t last_seq;
    bool have_last;
} stream_stats;

typedef struct failover {
    char victim[RIDE_MEMBER_ID_MAX + 1];
    int64_t kill_ns;
    demo_partition moved[DEMO_PARTITIONS_MAX]; /* the victim's, at the kill */
    int moved_count;
    int64_t reassigned_ns; /* every moved partition has a live owner: 0 until then */
    int64_t resumed_ns;    /* ... and committed past its offset at the kill */
    char new_owners[256];
} failover;

typedef struct demo {
    options opt;
    char bin_dir[PATH_MAX];
    char work[64]; /* temp dir: ZooKeeper data, configs, token */
    char logs[PATH_MAX];
    char zk_connect[64];
    char api[256];
    char bootstrap[512];
    bool embedded;
    char token[65];
    ride_manifest manifest;
    char *manifest_text;
    size_t manifest_len;
    ride_launch_proc *zk, *master, *producer, *workers[WORKERS];
    char worker_ids[WORKERS][16];
    ride_zk *zkc;
    ride_audit_reader *sink;
    stream_stats streams[STREAMS_MAX];
    size_t stream_count;
    size_t pngs;
    demo_metrics metrics;
    failover fo;
    int64_t run_start_ns, run_end_ns;
} demo;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int64_t now_ns(void) { return ride_clock_mono_ns(); }

static double secs(int64_t ns) { return (double)ns / 1e9; }

static void sleep_ms(int ms) { ride_clock_sleep_until_ns(now_ns() + (int64_t)ms * 1000000LL); }

/* ---- options ---- */

static void usage(FILE *to)
{
    fprintf(to,
            "Usage: ride-demo [--manifest FILE] [--out DIR] [--seconds N]\n"
            "Runs a RIDE cluster on this machine: ZooKeeper, a master with the embedded\n"
            "Kafka cluster, %d workers (one kept as a spare) and a producer; applies the\n"
            "manifest, kills one worker with SIGKILL halfway through, prints a summary.\n"
            "  --manifest FILE  application manifest (default %s)\n"
            "  --out DIR        output images and daemon logs (default demo-output)\n"
            "  --seconds N      how long the sources run, 6..3600 (default 20)\n",
            WORKERS, RIDE_DEMO_MANIFEST);
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {{"manifest", required_argument, NULL, 'm'},
                                          {"out", required_argument, NULL, 'o'},
                                          {"seconds", required_argument, NULL, 's'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    *o = (options){.manifest = RIDE_DEMO_MANIFEST, .out = "demo-output", .seconds = 20};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        char *end = NULL;
        long v;
        switch (c) {
        case 'm': o->manifest = optarg; break;
        case 'o': o->out = optarg; break;
        case 's':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 6 || v > 3600) {
                fprintf(stderr, "ride-demo: --seconds: expected 6..3600, got '%s'\n", optarg);
                return 2;
            }
            o->seconds = (int)v;
            break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ride-demo: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

/* ---- files ---- */

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok && chmod(path, mode) == 0 ? 0 : -1;
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *grown = realloc(buf, cap = cap ? 2 * cap : 65536);
            if (!grown)
                break;
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    bool ok = !ferror(f) && buf;
    fclose(f);
    if (!ok) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void remove_tree(const char *path)
{
    if (path[0] == '\0')
        return;
    /* The work dir holds ZooKeeper's data tree: let rm walk it. */
    char *argv[] = {"/bin/rm", "-rf", (char *)(uintptr_t)path, NULL};
    ride_launch_proc *p = ride_launch_spawn((const char *const *)argv, NULL, NULL);
    ride_launch_stop(p, 10000);
}

/* Output images of an earlier run would mix with this run's. */
static void remove_old_images(const char *dir)
{
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof pattern, "%s/stream-*.png", dir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
    globfree(&g);
}

static char *log_path(const demo *d, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s.log", d->logs, name);
    unlink(buf);
    return buf;
}

/* ---- starting the daemons ---- */

static int find_binaries(demo *d)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(d->bin_dir, sizeof d->bin_dir, "%s", dirname(self));
    static const char *const names[] = {"ride-master", "ride-worker", "ride-producer"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", d->bin_dir, names[i]);
        if (access(path, X_OK) != 0) {
            fprintf(stderr, "ride-demo: %s is missing: build every target first\n", path);
            return -1;
        }
    }
    return 0;
}

static ride_launch_proc *spawn_daemon(demo *d, const char *binary, const char *log_name,
                                      const char *const args[])
{
    char path[PATH_MAX + 32], logp[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", d->bin_dir, binary);
    const char *argv[16] = {path};
    size_t n = 1;
    while (args[n - 1] && n < 15) {
        argv[n] = args[n - 1];
        n++;
    }
    return ride_launch_spawn(argv, NULL, log_path(d, log_name, logp, sizeof logp));
}

static int make_token(demo *d, char *path, size_t len)
{
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(d->token + 2 * i, 3, "%02x", raw[i]);
    snprintf(path, len, "%s/api-token", d->work);
    return write_text(path, d->token, 0600);
}

/* Reads and decodes a node the master publishes under the chroot. */
static bool read_cluster_node(demo *d, const char *node, bool api)
{
    char path[128], *data = NULL, err[256];
    size_t len = 0;
    snprintf(path, sizeof path, CHROOT "%s", node);
    if (ride_zk_get(d->zkc, path, &data, &len, NULL) != RIDE_ZK_OK)
        return false;
    bool ok = false;
    if (api) {
        ride_cluster_api v;
        if (ride_cluster_api_decode(path, data, len, &v, err, sizeof err) == 0) {
            snprintf(d->api, sizeof d->api, "%s", v.url);
            ride_cluster_api_free(&v);
            ok = true;
        }
    } else {
        ride_cluster_kafka v;
        if (ride_cluster_kafka_decode(path, data, len, &v, err, sizeof err) == 0) {
            snprintf(d->bootstrap, sizeof d->bootstrap, "%s", v.bootstrap_servers);
            d->embedded = v.embedded;
            ride_cluster_kafka_free(&v);
            ok = true;
        }
    }
    if (!ok)
        fprintf(stderr, "ride-demo: %s\n", err);
    free(data);
    return ok;
}

/* Polls cond every STEP_MS until it holds, the deadline passes, a daemon of the
 * demo dies or the user interrupts. */
static bool wait_for(demo *d, bool (*cond)(demo *), int timeout_ms, const char *what)
{
    int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000LL;
    while (!interrupted) {
        if (cond(d))
            return true;
        if (!ride_launch_alive(d->master)) {
            fprintf(stderr, "ride-demo: ride-master exited while waiting for %s (see %s)\n",
                    what, d->logs);
            return false;
        }
        if (now_ns() >= deadline) {
            fprintf(stderr, "ride-demo: no %s within %d s (logs in %s)\n", what,
                    timeout_ms / 1000, d->logs);
            return false;
        }
        sleep_ms(STEP_MS);
    }
    return false;
}

static bool master_published(demo *d)
{
    return read_cluster_node(d, RIDE_CLUSTER_PATH_API, true) &&
           read_cluster_node(d, RIDE_CLUSTER_PATH_KAFKA, false);
}

static int start_zookeeper(demo *d)
{
    char dir[PATH_MAX], logp[PATH_MAX + 64], err[512];
    snprintf(dir, sizeof dir, "%s/zookeeper", d->work);
    uint16_t port = 0;
    if (mkdir_p(dir) != 0 ||
        !(d->zk = ride_launch_zookeeper_start(dir, log_path(d, "zookeeper", logp, sizeof logp),
                                              START_TIMEOUT_MS, &port, err, sizeof err))) {
        fprintf(stderr, "ride-demo: %s\n", err);
        return -1;
    }
    snprintf(d->zk_connect, sizeof d->zk_connect, "127.0.0.1:%u" CHROOT, port);
    char plain[32];
    snprintf(plain, sizeof plain, "127.0.0.1:%u", port);
    ride_zk_options zo = {.connect = plain};
    if (ride_zk_connect(&zo, &d->zkc, err, sizeof err) != RIDE_ZK_OK ||
        ride_zk_ensure_path(d->zkc, CHROOT) != RIDE_ZK_OK) {
        fprintf(stderr, "ride-demo: ZooKeeper at %s: %s\n", plain, err);
        return -1;
    }
    printf("zookeeper   127.0.0.1:%u (chroot " CHROOT ")\n", port);
    return 0;
}

static int start_master(demo *d)
{
    char token_path[PATH_MAX];
    if (make_token(d, token_path, sizeof token_path) != 0) {
        fprintf(stderr, "ride-demo: cannot write the API token in %s\n", d->work);
        return -1;
    }
    const char *args[] = {"--zookeeper", d->zk_connect, "--id", "m1", "--api-listen",
                          "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--token-file",
                          token_path, NULL};
    if (!(d->master = spawn_daemon(d, "ride-master", "master", args)) ||
        !wait_for(d, master_published, START_TIMEOUT_MS, "control API and Kafka in ZooKeeper"))
        return -1;
    printf("ride-master m1 (pid %d): control API %s, embedded Kafka %s\n",
           (int)ride_launch_pid(d->master), d->api, d->bootstrap);
    return 0;
}

static int count_members(demo *d, const char *path, const char *key, const char *state)
{
    char err[512];
    json_t *doc = demo_api_get(d->api, path, err, sizeof err);
    if (!doc)
        return -1;
    const json_t *rows = json_object_get(doc, key);
    int n = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        const char *s = json_string_value(json_object_get(json_array_get(rows, i), "state"));
        n += s && (!state || strcmp(s, state) != 0);
    }
    json_decref(doc);
    return n;
}

static bool members_registered(demo *d)
{
    return count_members(d, "/v1/workers", "workers", "dead") == WORKERS &&
           count_members(d, "/v1/producers", "producers", "dead") == 1;
}

static int start_members(demo *d)
{
    char producer_cfg[PATH_MAX], text[512];
    for (int i = 0; i < WORKERS; i++) {
        snprintf(d->worker_ids[i], sizeof d->worker_ids[i], "worker-%d", i + 1);
        const char *args[] = {"--zookeeper", d->zk_connect, "--id", d->worker_ids[i],
                              "--metrics-listen", "127.0.0.1:0", NULL};
        if (!(d->workers[i] = spawn_daemon(d, "ride-worker", d->worker_ids[i], args)))
            return -1;
    }
    snprintf(producer_cfg, sizeof producer_cfg, "%s/producer.yaml", d->work);
    snprintf(text, sizeof text,
             "zookeeper:\n  connect: \"%s\"\nproducer:\n  id: producer-1\n"
             "metrics:\n  listen: \"127.0.0.1:0\"\n",
             d->zk_connect);
    const char *args[] = {"-c", producer_cfg, NULL};
    if (write_text(producer_cfg, text, 0644) != 0 ||
        !(d->producer = spawn_daemon(d, "ride-producer", "producer-1", args)))
        return -1;
    if (!wait_for(d, members_registered, START_TIMEOUT_MS, "registration of every member"))
        return -1;
    printf("ride-worker worker-1..worker-%d and ride-producer producer-1 registered\n", WORKERS);
    return 0;
}

/* ---- the application ---- */

static int load_manifest(demo *d)
{
    ride_parse_error perr;
    char msg[1024];
    if (ride_manifest_load(d->opt.manifest, &d->manifest, &perr) != 0) {
        fprintf(stderr, "ride-demo: %s\n", ride_parse_error_format(&perr, msg, sizeof msg));
        return -1;
    }
    if (d->manifest.sink.type != RIDE_SINK_KAFKA) {
        fprintf(stderr, "ride-demo: %s: the demo audits a Kafka sink (sink: {type: kafka})\n",
                d->opt.manifest);
        return -1;
    }
    d->manifest_text = read_text(d->opt.manifest, &d->manifest_len);
    return d->manifest_text ? 0 : -1;
}

static int total_partitions(const demo *d)
{
    int n = 0;
    for (size_t i = 0; i < d->manifest.stage_count; i++)
        n += d->manifest.stages[i].partitions;
    return n;
}

static bool all_partitions_owned(demo *d)
{
    static demo_partition parts[DEMO_PARTITIONS_MAX];
    char err[512];
    int n = demo_api_partitions(d->api, d->manifest.name, parts, err, sizeof err);
    if (n != total_partitions(d))
        return false;
    for (int i = 0; i < n; i++)
        if (parts[i].owner[0] == '\0')
            return false;
    return true;
}

static void print_groups(demo *d)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "/v1/apps/%s", d->manifest.name);
    json_t *doc = demo_api_get(d->api, path, err, sizeof err);
    const json_t *stages = json_object_get(doc, "stages");
    for (size_t i = 0; i < json_array_size(stages); i++) {
        const json_t *s = json_array_get(stages, i);
        char active[256] = "", spare[256] = "";
        const char *keys[] = {"active", "spare"};
        char *bufs[] = {active, spare};
        for (int k = 0; k < 2; k++) {
            const json_t *ids = json_object_get(s, keys[k]);
            for (size_t j = 0; j < json_array_size(ids); j++) {
                const char *id = json_string_value(json_array_get(ids, j));
                size_t used = strlen(bufs[k]);
                snprintf(bufs[k] + used, 256 - used, "%s%s", j ? " " : "", id ? id : "?");
            }
        }
        const char *name = json_string_value(json_object_get(s, "name"));
        printf("  stage %-8s active [%s]  spare [%s]\n", name ? name : "?", active,
               spare[0] ? spare : "none");
    }
    json_decref(doc);
}

static void remember_frame(void *ctx, const ride_frame *f, bool fresh, int64_t read_ns);

static bool sink_open(demo *d)
{
    char err[512];
    /* Reading as the sink's group (when the manifest names one) makes the last
     * stage wait for the demo rather than outrun it on the embedded broker. */
    ride_audit_options ao = {.bootstrap = d->bootstrap, .embedded = d->embedded,
                             .topic = d->manifest.sink.topic, .group = d->manifest.sink.group,
                             .on_frame = remember_frame, .ctx = d};
    d->sink = ride_audit_reader_new(&ao, err, sizeof err);
    return d->sink != NULL;
}

static int apply_app(demo *d)
{
    char result[64], err[1024];
    if (demo_api_apply(d->api, d->token, d->manifest_text, d->manifest_len, result,
                       sizeof result, err, sizeof err) != 0) {
        fprintf(stderr, "ride-demo: apply %s: %s\n", d->opt.manifest, err);
        return -1;
    }
    printf("applied %s: application '%s' %s\n", d->opt.manifest, d->manifest.name, result);
    if (!wait_for(d, all_partitions_owned, START_TIMEOUT_MS, "owner for every partition") ||
        !wait_for(d, sink_open, START_TIMEOUT_MS, "sink topic"))
        return -1;
    print_groups(d);
    return 0;
}

/* ---- the sink ---- */

static stream_stats *stream_for(demo *d, uint32_t id)
{
    for (size_t i = 0; i < d->stream_count; i++)
        if (d->streams[i].id == id)
            return &d->streams[i];
    if (d->stream_count == STREAMS_MAX)
        return NULL;
    stream_stats *s = &d->streams[d->stream_count++];
    s->id = id;
    return s;
}

static void write_image(demo *d, const ride_image *img, uint32_t stream, const char *tag)
{
    char path[PATH_MAX], err[256];
    snprintf(path, sizeof path, "%s/stream-%" PRIu32 "-%s.png", d->opt.out, stream, tag);
    if (ride_cv_write_file(path, img, err, sizeof err) == 0)
        d->pngs++;
    else
        fprintf(stderr, "ride-demo: %s: %s\n", path, err);
}

/* Keeps the newest frame of each stream for the final images, and writes every
 * PNG_EVERY-th one as the run goes. */
static void remember_frame(void *ctx, const ride_frame *f, bool fresh, int64_t read_ns)
{
    (void)read_ns;
    demo *d = ctx;
    stream_stats *s = stream_for(d, f->stream_id);
    if (!fresh || !s || (s->have_last && f->seq < s->last_seq))
        return;
    const ride_image *src = &f->image;
    if (ride_image_ensure(&s->last, src->format, src->width, src->height) != 0)
        return;
    size_t row = ride_image_row_bytes(src->format, src->width);
    for (uint32_t y = 0; y < src->height; y++)
        memcpy(ride_image_row(&s->last, y), ride_image_row(src, y), row);
    s->last_seq = f->seq;
    s->have_last = true;
    if (f->seq % PNG_EVERY == 0) {
        char tag[32];
        snprintf(tag, sizeof tag, "seq%06" PRIu64, f->seq);
        write_image(d, src, f->stream_id, tag);
    }
}

static int poll_sink(demo *d, int timeout_ms)
{
    char err[512];
    if (ride_audit_reader_poll(d->sink, timeout_ms, 0, err, sizeof err) < 0) {
        fprintf(stderr, "ride-demo: reading %s: %s\n", d->manifest.sink.topic, err);
        return -1;
    }
    return 0;
}

/* ---- the failover ---- */

/* The worker owning the most partitions: the kill then moves the most work. */
static const demo_partition *pick_victim(const demo_partition *parts, int n, int *owned)
{
    const demo_partition *best = NULL;
    *owned = 0;
    for (int i = 0; i < n; i++) {
        int count = 0;
        for (int j = 0; j < n; j++)
            count += strcmp(parts[i].owner, parts[j].owner) == 0;
        if (parts[i].owner[0] && count > *owned) {
            *owned = count;
            best = &parts[i];
        }
    }
    return best;
}

static ride_launch_proc *worker_proc(demo *d, const char *id)
{
    for (int i = 0; i < WORKERS; i++)
        if (strcmp(d->worker_ids[i], id) == 0)
            return d->workers[i];
    return NULL;
}

static int kill_victim(demo *d, const demo_partition *parts, int n)
{
    failover *fo = &d->fo;
    int owned = 0;
    const demo_partition *v = pick_victim(parts, n, &owned);
    ride_launch_proc *p = v ? worker_proc(d, v->owner) : NULL;
    if (!p) {
        fprintf(stderr, "ride-demo: no worker owns a partition at half time\n");
        return -1;
    }
    snprintf(fo->victim, sizeof fo->victim, "%s", v->owner);
    for (int i = 0; i < n; i++)
        if (strcmp(parts[i].owner, fo->victim) == 0)
            fo->moved[fo->moved_count++] = parts[i];
    /* Its frame counters die with it: take them as they are now. */
    demo_metrics_scrape(&d->metrics);
    ride_launch_signal(p, SIGKILL);
    fo->kill_ns = now_ns();
    printf("t=%5.1fs  SIGKILL %s (pid %d), owner of %d partition(s)\n",
           secs(fo->kill_ns - d->run_start_ns), fo->victim, (int)ride_launch_pid(p), owned);
    return 0;
}

static const demo_partition *find_partition(const demo_partition *parts, int n,
                                            const demo_partition *want)
{
    for (int i = 0; i < n; i++)
        if (parts[i].partition == want->partition && strcmp(parts[i].stage, want->stage) == 0)
            return &parts[i];
    return NULL;
}

static void append_owner(char *list, size_t len, const char *id)
{
    const char *hit = strstr(list, id);
    size_t idlen = strlen(id);
    if (hit && (hit[idlen] == '\0' || hit[idlen] == ' '))
        return;
    size_t used = strlen(list);
    snprintf(list + used, len - used, "%s%s", used ? " " : "", id);
}

/* Failover is over when every partition the victim owned has a live owner and
 * that owner has committed a frame there: the pipeline really runs again. */
static void track_failover(demo *d, const demo_partition *parts, int n)
{
    failover *fo = &d->fo;
    if (fo->kill_ns == 0 || fo->resumed_ns)
        return;
    bool reassigned = true, resumed = true;
    fo->new_owners[0] = '\0';
    for (int i = 0; i < fo->moved_count; i++) {
        const demo_partition *p = find_partition(parts, n, &fo->moved[i]);
        bool moved = p && p->owner[0] && strcmp(p->owner, fo->victim) != 0;
        reassigned = reassigned && moved;
        resumed = resumed && moved && p->committed > fo->moved[i].committed;
        if (moved)
            append_owner(fo->new_owners, sizeof fo->new_owners, p->owner);
    }
    if (reassigned && !fo->reassigned_ns) {
        fo->reassigned_ns = now_ns();
        printf("t=%5.1fs  %s's partitions reassigned to [%s]\n",
               secs(fo->reassigned_ns - d->run_start_ns), fo->victim, fo->new_owners);
    }
    if (resumed) {
        fo->resumed_ns = now_ns();
        printf("t=%5.1fs  every moved partition committed a new frame: failover took %.2f s\n",
               secs(fo->resumed_ns - d->run_start_ns), secs(fo->resumed_ns - fo->kill_ns));
    }
}

/* ---- the run ---- */

static void print_progress(demo *d, int64_t t)
{
    ride_seqtrack_stream tot;
    ride_seqtrack_totals(ride_audit_reader_seqs(d->sink), &tot);
    /* A gap is a frame the producer dropped (counted in its summary) or one not
     * at the sink yet; only the end tells them apart. */
    printf("t=%5.1fs  frames at the sink: %" PRIu64 " (sequence gaps so far: %" PRIu64 ")\n",
           secs(t - d->run_start_ns), tot.unique, tot.missing);
}

/* One step of the live phase: read the sink, watch the partitions, scrape the
 * workers now and then. Returns -1 on a fatal error. */
static int run_step(demo *d, int64_t *next_scrape)
{
    static demo_partition parts[DEMO_PARTITIONS_MAX];
    char err[512];
    if (poll_sink(d, STEP_MS) != 0)
        return -1;
    int n = demo_api_partitions(d->api, d->manifest.name, parts, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "ride-demo: %s\n", err);
        return ride_launch_alive(d->master) ? 0 : -1;
    }
    int64_t t = now_ns();
    if (d->fo.kill_ns == 0 && t >= d->run_start_ns + (int64_t)d->opt.seconds * 500000000LL &&
        kill_victim(d, parts, n) != 0)
        return -1;
    track_failover(d, parts, n);
    if (t >= *next_scrape) {
        demo_metrics_scrape(&d->metrics);
        *next_scrape = t + SCRAPE_INTERVAL_MS * 1000000LL;
    }
    return 0;
}

static int run(demo *d)
{
    d->run_start_ns = now_ns();
    int64_t end = d->run_start_ns + (int64_t)d->opt.seconds * 1000000000LL;
    int64_t next_scrape = 0, next_progress = d->run_start_ns + 5000000000LL;
    while (!interrupted && now_ns() < end) {
        if (run_step(d, &next_scrape) != 0)
            return -1;
        if (now_ns() >= next_progress) {
            print_progress(d, now_ns());
            next_progress += 5000000000LL;
        }
    }
    return interrupted ? -1 : 0;
}

/* ---- the producer's report ---- */

static bool field_u64(const char *line, size_t len, const char *key, uint64_t *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *hit = memmem(line, len, pat, strlen(pat));
    if (!hit)
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(hit + strlen(pat), &end, 10);
    if (errno || end == hit + strlen(pat))
        return false;
    *out = v;
    return true;
}

/* The producer logs one source_summary line per source at its stop: what it
 * produced and what Kafka confirmed delivered, by stream. */
static int read_producer_report(demo *d)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/producer-1.log", d->logs);
    char *log = read_text(path, NULL);
    if (!log)
        return -1;
    int found = 0;
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        uint64_t stream, produced, delivered, bp, pf, df, du;
        if (memmem(line, len, " event=source_summary ", 22) &&
            field_u64(line, len, "stream", &stream) && stream <= UINT32_MAX &&
            field_u64(line, len, "produced", &produced) &&
            field_u64(line, len, "delivered", &delivered) &&
            field_u64(line, len, "dropped_backpressure", &bp) &&
            field_u64(line, len, "dropped_produce_failed", &pf) &&
            field_u64(line, len, "dropped_delivery_failed", &df) &&
            field_u64(line, len, "dropped_delivery_unknown", &du)) {
            stream_stats *s = stream_for(d, (uint32_t)stream);
            const char *src = memmem(line, len, " source=", 8);
            if (s) {
                s->produced += produced;
                s->delivered += delivered;
                s->dropped += bp + pf + df + du;
                s->reported = true;
                if (src)
                    sscanf(src + 8, "%63s", s->source);
                found++;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(log);
    return found > 0 ? 0 : -1;
}

static int stop_producer(demo *d)
{
    ride_launch_signal(d->producer, SIGTERM);
    d->run_end_ns = now_ns();
    /* The sink keeps flowing while the producer flushes. */
    int64_t deadline = d->run_end_ns + (int64_t)STOP_GRACE_MS * 1000000LL;
    while (ride_launch_alive(d->producer) && now_ns() < deadline && !interrupted)
        if (poll_sink(d, STEP_MS) != 0)
            return -1;
    int status = ride_launch_stop(d->producer, 1000);
    d->producer = NULL;
    printf("t=%5.1fs  producer stopped (%s)\n", secs(now_ns() - d->run_start_ns),
           status == 0 ? "clean" : "unclean: see its log");
    if (read_producer_report(d) != 0) {
        fprintf(stderr, "ride-demo: no source_summary in the producer's log (%s)\n", d->logs);
        return -1;
    }
    return 0;
}

static bool sink_complete(demo *d)
{
    const ride_seqtrack *t = ride_audit_reader_seqs(d->sink);
    for (size_t i = 0; i < d->stream_count; i++) {
        const stream_stats *s = &d->streams[i];
        ride_seqtrack_stream st[STREAMS_MAX];
        size_t n = ride_seqtrack_streams(t, st, STREAMS_MAX);
        uint64_t unique = 0;
        for (size_t j = 0; j < n && j < STREAMS_MAX; j++)
            if (st[j].stream == s->id)
                unique = st[j].unique;
        if (s->reported && unique < s->produced)
            return false;
    }
    return true;
}

static uint64_t sink_frames(const demo *d)
{
    ride_seqtrack_stream tot;
    ride_seqtrack_totals(ride_audit_reader_seqs(d->sink), &tot);
    return tot.unique + tot.duplicates;
}

/* Waits until the sink holds every produced frame, still watching the failover.
 * Gives up after DRAIN_TIMEOUT_MS, or once no frame came for DRAIN_IDLE_MS (a
 * frame the broker deleted unread never comes): the summary shows what is missing. */
static int drain(demo *d)
{
    int64_t deadline = now_ns() + (int64_t)DRAIN_TIMEOUT_MS * 1000000LL;
    int64_t next_scrape = 0, last_news = now_ns();
    uint64_t seen = sink_frames(d);
    while (!interrupted && now_ns() < deadline && now_ns() - last_news < DRAIN_IDLE_MS * 1000000LL &&
           !(sink_complete(d) && d->fo.resumed_ns)) {
        if (run_step(d, &next_scrape) != 0)
            return -1;
        if (sink_frames(d) != seen) {
            seen = sink_frames(d);
            last_news = now_ns();
        }
    }
    demo_metrics_scrape(&d->metrics);
    return interrupted ? -1 : 0;
}

/* ---- the summary ---- */

static int print_summary(demo *d)
{
    const ride_seqtrack *t = ride_audit_reader_seqs(d->sink);
    ride_seqtrack_stream st[STREAMS_MAX];
    size_t n = ride_seqtrack_streams(t, st, STREAMS_MAX);
    uint64_t lost_total = 0;
    double run_s = secs(d->run_end_ns - d->run_start_ns);
    printf("\n==== RIDE demo summary (%.1f s of sources, sink topic %s) ====\n", run_s,
           d->manifest.sink.topic);
    printf("%-8s %6s %10s %10s %8s %11s %6s\n", "source", "stream", "produced", "at sink",
           "lost", "duplicates", "drops");
    for (size_t i = 0; i < d->stream_count; i++) {
        const stream_stats *s = &d->streams[i];
        ride_seqtrack_stream got = {0};
        for (size_t j = 0; j < n && j < STREAMS_MAX; j++)
            if (st[j].stream == s->id)
                got = st[j];
        /* Sequence numbers start at 0: every one below produced must be at the sink. */
        uint64_t lost = s->produced > got.unique ? s->produced - got.unique : 0;
        lost_total += lost;
        printf("%-8s %6" PRIu32 " %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %11" PRIu64
               " %6" PRIu64 "\n",
               s->source[0] ? s->source : "?", s->id, s->produced, got.unique, lost,
               got.duplicates, s->dropped);
    }
    printf("(produced: frames the producer queued to Kafka, from its own summary; drops: frames\n"
           " it counted as dropped with a reason; at sink: distinct sequence numbers read from\n"
           " the sink topic; lost = produced - at sink)\n");
    if (d->fo.resumed_ns)
        printf("failover: %s killed; partitions reassigned after %.2f s, processing again "
               "(first new commit on every moved partition) after %.2f s, on [%s]\n",
               d->fo.victim, secs(d->fo.reassigned_ns - d->fo.kill_ns),
               secs(d->fo.resumed_ns - d->fo.kill_ns), d->fo.new_owners);
    else
        printf("failover: %s killed; its partitions did NOT resume within the run\n",
               d->fo.victim[0] ? d->fo.victim : "no worker");
    for (size_t i = 0; i < d->manifest.stage_count; i++) {
        const char *stage = d->manifest.stages[i].name;
        uint64_t frames = demo_metrics_stage_frames(&d->metrics, stage);
        printf("stage %-8s %8" PRIu64 " frames processed, %6.1f frames/s\n", stage, frames,
               run_s > 0 ? (double)frames / secs(now_ns() - d->run_start_ns) : 0.0);
    }
    printf("(frames processed: the workers' ride_frames_processed_total, re-processing after\n"
           " the failover included; frames/s over the whole run, drain included)\n");
    printf("latency capture -> sink: p50 %.1f ms, p99 %.1f ms; rejected sink messages %" PRIu64
           "\n",
           ride_audit_reader_latency_ms(d->sink, 0.5), ride_audit_reader_latency_ms(d->sink, 0.99),
           ride_audit_reader_rejected(d->sink));
    for (size_t i = 0; i < d->stream_count; i++)
        if (d->streams[i].have_last)
            write_image(d, &d->streams[i].last, d->streams[i].id, "last");
    printf("output: %zu PNG file(s) in %s/, daemon logs in %s/\n", d->pngs, d->opt.out, d->logs);
    bool ok = lost_total == 0 && d->fo.resumed_ns != 0;
    printf("result: %s\n", ok ? "OK, nothing lost" : "FAILED");
    return ok ? 0 : 1;
}

/* ---- setup and teardown ---- */

static int prepare(demo *d)
{
    snprintf(d->work, sizeof d->work, "/tmp/ride-demo-XXXXXX");
    snprintf(d->logs, sizeof d->logs, "%s/logs", d->opt.out);
    if (!mkdtemp(d->work)) {
        d->work[0] = '\0';
        fprintf(stderr, "ride-demo: cannot create a temp dir: %s\n", strerror(errno));
        return -1;
    }
    if (mkdir_p(d->logs) != 0) {
        fprintf(stderr, "ride-demo: cannot create %s: %s\n", d->logs, strerror(errno));
        return -1;
    }
    remove_old_images(d->opt.out);
    d->metrics.logs = d->logs;
    return 0;
}

static void stop_all(demo *d)
{
    for (int i = 0; i < WORKERS; i++)
        if (d->workers[i])
            ride_launch_signal(d->workers[i], SIGTERM);
    ride_launch_stop(d->producer, STOP_GRACE_MS);
    /* Before the broker goes, or its client would log every failed reconnect. */
    ride_audit_reader_free(d->sink);
    d->sink = NULL;
    for (int i = 0; i < WORKERS; i++)
        ride_launch_stop(d->workers[i], STOP_GRACE_MS);
    ride_launch_stop(d->master, STOP_GRACE_MS);
    ride_zk_close(d->zkc);
    ride_launch_stop(d->zk, STOP_GRACE_MS);
    remove_tree(d->work);
    for (size_t i = 0; i < d->stream_count; i++)
        ride_image_free(&d->streams[i].last);
    ride_manifest_free(&d->manifest);
    free(d->manifest_text);
}

static void install_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int main(int argc, char **argv)
{
    static demo d;
    int rc = parse_options(argc, argv, &d.opt);
    if (rc)
        return rc == 1 ? 0 : rc;
    /* The workers it starts inherit the setting. */
    ride_openmp_wait_passively(argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    install_signals();
    /* Warnings of the demo's own Kafka client (an offset reset when the broker
     * deleted frames unread) would bury the progress lines; the summary counts them. */
    ride_log_set_level(RIDE_LOG_ERROR);
    ride_zk_set_client_log_level(RIDE_LOG_ERROR);
    demo_metrics_init(&d.metrics, d.worker_ids, WORKERS);
    rc = 1;
    if (find_binaries(&d) == 0 && load_manifest(&d) == 0 && prepare(&d) == 0 &&
        start_zookeeper(&d) == 0 && start_master(&d) == 0 && start_members(&d) == 0 &&
        apply_app(&d) == 0 && run(&d) == 0 && stop_producer(&d) == 0 && drain(&d) == 0)
        rc = print_summary(&d);
    printf("stopping every process the demo started\n");
    stop_all(&d);
    demo_metrics_free(&d.metrics);
    return interrupted ? 130 : rc;
}
