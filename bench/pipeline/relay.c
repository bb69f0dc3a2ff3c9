/* relay.c - the transport ceiling of ride-bench-pipeline: a process of its own
 * (`ride-bench-pipeline --relay ...`, so that its CPU is read from /proc like a
 * worker's) that moves the drain's messages through the pipeline's hops with
 * librdkafka alone: no RIDE framing, assembly, tasks or bookkeeping. Each hop is a
 * thread with a consumer and a producer; it writes one message of a stage output's
 * size for each input frame, from a constant buffer (no copy). */
#include "bench_pipeline.h"
#include "kafka/kafka.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Messages one hop may have produced that the next has not read, per partition,
 * on the embedded broker: its 5 MiB partitions would delete unread ones. RIDE's
 * stages hold back in the same way (docs/kafka.md, "Backpressure"). */
#define EMBEDDED_WINDOW_PER_PARTITION 4

typedef struct relay {
    const char *bootstrap;
    bool embedded;
    int partitions;
    long frames;
    size_t out_bytes;
    uint8_t *out; /* the constant output message */
    atomic_long produced[2], consumed[2];
} relay;

typedef struct relay_hop {
    relay *r;
    int index;
    const char *in, *out;
    int per_frame; /* input messages per frame */
    int rc;
} relay_hop;

static rd_kafka_t *client(const relay *r, ride_kafka_role role)
{
    ride_parse_error perr;
    char errstr[512];
    rd_kafka_conf_t *conf =
        ride_kafka_conf_new(role, r->bootstrap, r->embedded, NULL, 0, NULL, &perr);
    if (!conf)
        return NULL;
    if (role == RIDE_KAFKA_CONSUMER &&
        rd_kafka_conf_set(conf, "group.id", "ride-bench-relay", errstr, sizeof errstr))
        return rd_kafka_conf_destroy(conf), NULL;
    rd_kafka_t *rk = rd_kafka_new(role == RIDE_KAFKA_CONSUMER ? RD_KAFKA_CONSUMER
                                                              : RD_KAFKA_PRODUCER,
                                  conf, errstr, sizeof errstr);
    if (!rk)
        fprintf(stderr, "relay: %s\n", errstr);
    return rk;
}

static int assign_all(rd_kafka_t *rk, const char *topic, int partitions)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return err ? -1 : 0;
}

/* The next hop has fallen behind by a whole window (embedded broker only). */
static bool window_full(relay *r, int index)
{
    if (!r->embedded || index + 1 >= 2)
        return false;
    return atomic_load(&r->produced[index]) - atomic_load(&r->consumed[index + 1]) >=
           (long)EMBEDDED_WINDOW_PER_PARTITION * r->partitions;
}

static int produce(rd_kafka_t *p, relay *r, const char *topic, int32_t partition)
{
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_VALUE(r->out, r->out_bytes), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err ? -1 : 0;
        rd_kafka_poll(p, 10);
    }
}

static void *run_hop(void *arg)
{
    relay_hop *h = arg;
    relay *r = h->r;
    rd_kafka_t *c = client(r, RIDE_KAFKA_CONSUMER), *p = client(r, RIDE_KAFKA_PRODUCER);
    long *seen = calloc((size_t)r->partitions, sizeof *seen);
    char err[256];
    h->rc = -1;
    if (!c || !p || !seen || assign_all(c, h->in, r->partitions))
        goto done;
    int out_partitions = ride_kafka_partition_count(p, h->out, 10000, err, sizeof err);
    if (out_partitions < 1) {
        fprintf(stderr, "relay: %s: %s\n", h->out, err);
        goto done;
    }
    long done_frames = 0;
    while (done_frames < r->frames && !ride_bench_interrupted) {
        while (window_full(r, h->index) && !ride_bench_interrupted)
            rd_kafka_poll(p, 1);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        rd_kafka_poll(p, 0);
        if (!m)
            continue;
        int32_t part = m->partition;
        bool ok = !m->err && part >= 0 && part < r->partitions;
        rd_kafka_message_destroy(m);
        if (!ok)
            continue;
        atomic_fetch_add(&r->consumed[h->index], 1);
        if (++seen[part] % h->per_frame)
            continue;
        if (produce(p, r, h->out, part % out_partitions))
            goto done;
        atomic_fetch_add(&r->produced[h->index], 1);
        done_frames++;
    }
    h->rc = rd_kafka_flush(p, 30000) ? -1 : 0;
done:
    free(seen);
    if (c) {
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
    }
    if (p)
        rd_kafka_destroy(p);
    return NULL;
}

/* --relay BOOTSTRAP EMBEDDED TOPIC1 TOPIC2 SINK PARTITIONS MESSAGES_PER_FRAME
 *         OUTPUT_BYTES FRAMES: runs both hops, then waits to be stopped, so that
 * the bench can read its CPU time when the last message is in the sink. */
int ride_bench_relay_main(int argc, char **argv)
{
    if (argc != 11) {
        fprintf(stderr, "relay: expected 9 arguments\n");
        return 2;
    }
    relay r = {.bootstrap = argv[2],
               .embedded = strcmp(argv[3], "1") == 0,
               .partitions = atoi(argv[7]),
               .out_bytes = (size_t)atol(argv[9]),
               .frames = atol(argv[10])};
    int per_frame = atoi(argv[8]);
    if (r.partitions < 1 || per_frame < 1 || r.out_bytes < 1 || r.frames < 1 ||
        !(r.out = calloc(1, r.out_bytes)))
        return 2;
    relay_hop hops[2] = {{&r, 0, argv[4], argv[5], per_frame, 0}, {&r, 1, argv[5], argv[6], 1, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, run_hop, &hops[i]))
            return 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    free(r.out);
    if (hops[0].rc || hops[1].rc)
        return 1;
    while (!ride_bench_interrupted)
        pause();
    return 0;
}

int64_t ride_bench_topic_messages(void *admin, const char *topic, int partitions)
{
    int64_t ends[64], sum = 0;
    char err[256];
    if (partitions > 64 || ride_kafka_log_offsets(admin, topic, partitions, RIDE_KAFKA_OFFSET_END,
                                                  ends, 5000, err, sizeof err))
        return -1;
    for (int p = 0; p < partitions; p++)
        sum += ends[p];
    return sum;
}
