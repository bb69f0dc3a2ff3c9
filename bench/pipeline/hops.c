/* hops.c - where the paced mode's latency is: one reader per topic a frame passes
 * (the first stage's input, written by the producer; the second's, written by stage
 * 1; the sink, written by stage 2) records each frame's Kafka message timestamp,
 * and the frames the sink reader has read are split into hops with them:
 * producer (capture to its message), stage 1 and stage 2 (message to message, the
 * broker's transit and the queue before the stage included) and reader (the sink
 * message to the bench having the whole frame). Timestamps are CreateTime, which
 * librdkafka sets when the message is produced, in milliseconds. The readers fetch
 * whole messages: they add load to the machine, so hop latency is asked for with
 * --hop-latency and its run's other figures are not comparable with a run without. */
#include "bench_pipeline.h"
#include "kafka/kafka.h"
#include "wire/frame.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ride_bench_hop_names[HOP_COUNT] = {"producer", "stage 1", "stage 2", "reader"};

enum { TAP_FIRST, TAP_SECOND, TAP_SINK, TAP_COUNT };

typedef struct stamp {
    uint32_t stream;
    uint64_t seq;
    int64_t a, b; /* a tap: message timestamp, ms; a sink frame: capture and read, ns */
} stamp;

typedef struct stamps {
    stamp *v;
    size_t n, cap;
} stamps;

typedef struct tap {
    char topic[160];
    rd_kafka_t *rk;
    pthread_t thread;
    bool running;
    const atomic_bool *stop;
    stamps seen;
} tap;

struct hop_taps {
    atomic_bool stop;
    tap taps[TAP_COUNT];
    stamps frames; /* read at the sink in the measured window */
};

static void stamps_add(stamps *s, stamp x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        stamp *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

static int cmp_stamp(const void *a, const void *b)
{
    const stamp *x = a, *y = b;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void *run_tap(void *arg)
{
    tap *me = arg;
    while (!atomic_load(me->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(me->rk, 100);
        if (!m)
            continue;
        ride_frame_header h;
        if (!m->err && ride_frame_header_parse(m->payload, m->len, &h, NULL) == RIDE_FRAME_OK &&
            h.chunk_index == 0)
            stamps_add(&me->seen, (stamp){h.stream_id, h.seq, rd_kafka_message_timestamp(m, NULL),
                                          0});
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int open_tap(const cluster *c, tap *tp)
{
    ride_parse_error perr;
    char errstr[512];
    rd_kafka_conf_t *conf = ride_kafka_conf_new(RIDE_KAFKA_CONSUMER, c->bootstrap,
                                                c->kafka == NULL, NULL, 0, NULL, &perr);
    if (!conf || rd_kafka_conf_set(conf, "group.id", "ride-bench-hops", errstr, sizeof errstr))
        return -1;
    if (!(tp->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr)))
        return -1;
    rd_kafka_poll_set_consumer(tp->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(c->o->partitions);
    /* Frames before the measured window do not count: reading starts at the end. */
    for (int p = 0; p < c->o->partitions; p++)
        rd_kafka_topic_partition_list_add(l, tp->topic, p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_resp_err_t err = rd_kafka_assign(tp->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return err ? -1 : 0;
}

hop_taps *ride_bench_hop_taps_start(const cluster *c)
{
    hop_taps *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    ride_bench_stage_topic(c, "first", t->taps[TAP_FIRST].topic, sizeof t->taps[0].topic);
    ride_bench_stage_topic(c, "second", t->taps[TAP_SECOND].topic, sizeof t->taps[0].topic);
    snprintf(t->taps[TAP_SINK].topic, sizeof t->taps[0].topic, "%s", c->sink_topic);
    for (int i = 0; i < TAP_COUNT; i++) {
        t->taps[i].stop = &t->stop;
        if (open_tap(c, &t->taps[i]) ||
            pthread_create(&t->taps[i].thread, NULL, run_tap, &t->taps[i])) {
            fprintf(stderr, "hop latency: cannot read %s\n", t->taps[i].topic);
            ride_bench_hop_taps_finish(t, &(hop_latency){0});
            return NULL;
        }
        t->taps[i].running = true;
    }
    return t;
}

void ride_bench_hop_taps_frame(hop_taps *t, uint32_t stream, uint64_t seq, uint64_t capture_ns,
                               int64_t read_ns)
{
    stamps_add(&t->frames, (stamp){stream, seq, (int64_t)capture_ns, read_ns});
}

static const stamp *find(const stamps *s, const stamp *key)
{
    return s->n ? bsearch(key, s->v, s->n, sizeof *key, cmp_stamp) : NULL;
}

/* Each frame's hops, where every topic's reader saw it. */
static void split_hops(hop_taps *t, hop_latency *out)
{
    samples hop[HOP_COUNT] = {0};
    for (int i = 0; i < TAP_COUNT; i++)
        qsort(t->taps[i].seen.v, t->taps[i].seen.n, sizeof(stamp), cmp_stamp);
    for (size_t f = 0; f < t->frames.n; f++) {
        const stamp *fr = &t->frames.v[f];
        const stamp *s[TAP_COUNT];
        bool all = true;
        for (int i = 0; i < TAP_COUNT; i++)
            all = all && (s[i] = find(&t->taps[i].seen, fr));
        if (!all)
            continue;
        ride_bench_samples_add(&hop[HOP_PRODUCER], (double)s[TAP_FIRST]->a - fr->a / 1e6);
        ride_bench_samples_add(&hop[HOP_STAGE1], (double)(s[TAP_SECOND]->a - s[TAP_FIRST]->a));
        ride_bench_samples_add(&hop[HOP_STAGE2], (double)(s[TAP_SINK]->a - s[TAP_SECOND]->a));
        ride_bench_samples_add(&hop[HOP_READER], fr->b / 1e6 - (double)s[TAP_SINK]->a);
        out->joined++;
    }
    for (int h = 0; h < HOP_COUNT; h++) {
        out->p50_ms[h] = ride_bench_quantile(hop[h].v, hop[h].n, 0.50);
        out->p99_ms[h] = ride_bench_quantile(hop[h].v, hop[h].n, 0.99);
        free(hop[h].v);
    }
}

void ride_bench_hop_taps_finish(hop_taps *t, hop_latency *out)
{
    *out = (hop_latency){0};
    atomic_store(&t->stop, true);
    for (int i = 0; i < TAP_COUNT; i++)
        if (t->taps[i].running)
            pthread_join(t->taps[i].thread, NULL);
    split_hops(t, out);
    for (int i = 0; i < TAP_COUNT; i++) {
        if (t->taps[i].rk) {
            rd_kafka_consumer_close(t->taps[i].rk);
            rd_kafka_destroy(t->taps[i].rk);
        }
        free(t->taps[i].seen.v);
    }
    free(t->frames.v);
    free(t);
}
