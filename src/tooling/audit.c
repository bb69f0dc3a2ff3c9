/* audit.c - sequence accounting of the frames in a topic (audit.h).
 *
 * Per stream a growable bitmap indexed by sequence number: tests, demos and
 * benchmarks see at most millions of frames per stream, so a bit per number is
 * both the simplest and the smallest exact record. */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "base/clock.h"
#include "base/error.h"
#include "kafka/kafka.h"

#define DEFAULT_MAX_FRAME (256u << 20)
#define MAX_SEQ_TRACKED (1ull << 32)

typedef struct stream_bits {
    uint32_t stream;
    uint8_t *bits;
    uint64_t cap_bits;
    ride_seqtrack_stream st;
} stream_bits;

struct ride_seqtrack {
    stream_bits *streams;
    size_t count;
};

ride_seqtrack *ride_seqtrack_new(void) { return calloc(1, sizeof(ride_seqtrack)); }

void ride_seqtrack_free(ride_seqtrack *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++)
        free(t->streams[i].bits);
    free(t->streams);
    free(t);
}

static stream_bits *find_stream(const ride_seqtrack *t, uint32_t stream)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->streams[i].stream == stream)
            return &t->streams[i];
    return NULL;
}

static stream_bits *add_stream(ride_seqtrack *t, uint32_t stream)
{
    stream_bits *grown = realloc(t->streams, (t->count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    t->streams = grown;
    stream_bits *s = &grown[t->count++];
    memset(s, 0, sizeof *s);
    s->stream = stream;
    s->st.stream = stream;
    return s;
}

static int ensure_bits(stream_bits *s, uint64_t seq)
{
    if (seq < s->cap_bits)
        return 0;
    uint64_t cap = s->cap_bits ? s->cap_bits : 1024;
    while (cap <= seq)
        cap *= 2;
    uint8_t *bits = realloc(s->bits, cap / 8);
    if (!bits)
        return -1;
    memset(bits + s->cap_bits / 8, 0, (cap - s->cap_bits) / 8);
    s->bits = bits;
    s->cap_bits = cap;
    return 0;
}

int ride_seqtrack_add(ride_seqtrack *t, uint32_t stream, uint64_t seq)
{
    stream_bits *s = find_stream(t, stream);
    if (seq >= MAX_SEQ_TRACKED || (!s && !(s = add_stream(t, stream))) || ensure_bits(s, seq))
        return -1;
    uint8_t mask = (uint8_t)(1u << (seq % 8));
    if (s->bits[seq / 8] & mask) {
        s->st.duplicates++;
        return 0;
    }
    s->bits[seq / 8] |= mask;
    if (s->st.unique == 0 || seq < s->st.first_seq)
        s->st.first_seq = seq;
    if (s->st.unique == 0 || seq > s->st.last_seq)
        s->st.last_seq = seq;
    s->st.unique++;
    s->st.missing = s->st.last_seq - s->st.first_seq + 1 - s->st.unique;
    return 1;
}

bool ride_seqtrack_has(const ride_seqtrack *t, uint32_t stream, uint64_t seq)
{
    const stream_bits *s = find_stream(t, stream);
    return s && seq < s->cap_bits && (s->bits[seq / 8] & (1u << (seq % 8)));
}

static int stream_cmp(const void *a, const void *b)
{
    uint32_t x = ((const ride_seqtrack_stream *)a)->stream;
    uint32_t y = ((const ride_seqtrack_stream *)b)->stream;
    return (x > y) - (x < y);
}

size_t ride_seqtrack_streams(const ride_seqtrack *t, ride_seqtrack_stream *out, size_t cap)
{
    size_t n = t->count < cap ? t->count : cap;
    for (size_t i = 0; i < n; i++)
        out[i] = t->streams[i].st;
    if (n == t->count)
        qsort(out, n, sizeof *out, stream_cmp);
    return t->count;
}

void ride_seqtrack_totals(const ride_seqtrack *t, ride_seqtrack_stream *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < t->count; i++) {
        out->unique += t->streams[i].st.unique;
        out->duplicates += t->streams[i].st.duplicates;
        out->missing += t->streams[i].st.missing;
    }
}

/* ---- the reader ---- */

struct ride_audit_reader {
    ride_audit_options opts;
    ride_kafka_consumer *consumer;
    ride_frame_assembler **as;
    int partitions;
    int64_t *next; /* per partition: the offset after the last message read, or -1 */
    bool unsaved;  /* read since the last commit */
    ride_frame frame;
    ride_seqtrack *seqs;
    uint64_t rejected;
    double *latencies;
    size_t latency_count;
    size_t latency_cap;
};

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    (void)r;
    ((ride_audit_reader *)ctx)->rejected++;
}

static int subscribe(ride_audit_reader *r, char *err, size_t errlen)
{
    ride_kafka_tp *tps = calloc((size_t)r->partitions, sizeof *tps);
    if (!tps) {
        ride_set_error(err, errlen, "out of memory");
        return -1;
    }
    int64_t start = r->opts.from_end ? RD_KAFKA_OFFSET_END : RIDE_KAFKA_OFFSET_BEGINNING;
    for (int p = 0; p < r->partitions; p++)
        tps[p] = (ride_kafka_tp){r->opts.topic, p, start};
    int rc = ride_kafka_consumer_add(r->consumer, tps, (size_t)r->partitions, err, errlen);
    free(tps);
    return rc;
}

ride_audit_reader *ride_audit_reader_new(const ride_audit_options *opts, char *err,
                                         size_t errlen)
{
    if (!opts || !opts->bootstrap || !opts->topic) {
        ride_set_error(err, errlen, "audit reader: bootstrap and topic are required");
        return NULL;
    }
    ride_audit_reader *r = calloc(1, sizeof *r);
    ride_parse_error perr;
    rd_kafka_conf_t *conf =
        r ? ride_kafka_conf_new(RIDE_KAFKA_CONSUMER, opts->bootstrap, opts->embedded, opts->props,
                                 opts->prop_count, NULL, &perr) : NULL;
    if (!conf) {
        ride_set_error(err, errlen, "audit reader: cannot configure Kafka");
        free(r);
        return NULL;
    }
    r->opts = *opts;
    if (!r->opts.max_frame_bytes)
        r->opts.max_frame_bytes = DEFAULT_MAX_FRAME;
    r->seqs = ride_seqtrack_new();
    r->consumer = ride_kafka_consumer_new(conf, opts->group ? opts->group : "ride.audit", err,
                                          errlen);
    if (!r->seqs || !r->consumer)
        goto fail;
    r->partitions = ride_kafka_partition_count(ride_kafka_consumer_handle(r->consumer),
                                               opts->topic, 5000, err, errlen);
    if (r->partitions <= 0) {
        if (r->partitions == 0)
            ride_set_error(err, errlen, "audit reader: topic %s does not exist", opts->topic);
        goto fail;
    }
    if (!(r->as = calloc((size_t)r->partitions, sizeof *r->as)) ||
        !(r->next = malloc((size_t)r->partitions * sizeof *r->next)))
        goto fail;
    for (int p = 0; p < r->partitions; p++)
        r->next[p] = -1;
    for (int p = 0; p < r->partitions; p++)
        if (!(r->as[p] = ride_frame_assembler_new(r->opts.max_frame_bytes, count_reject, r)))
            goto fail;
    if (subscribe(r, err, errlen) == 0)
        return r;
fail:
    ride_audit_reader_free(r);
    return NULL;
}

/* The partitions read so far into out (room for every partition), each at the
 * offset after its last message read; returns how many. */
static size_t read_positions(const ride_audit_reader *r, ride_kafka_tp *out)
{
    size_t n = 0;
    for (int p = 0; p < r->partitions; p++)
        if (r->next[p] >= 0)
            out[n++] = (ride_kafka_tp){r->opts.topic, p, r->next[p]};
    return n;
}

static void commit_async(ride_audit_reader *r, const ride_kafka_tp *tps, size_t n)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, tps[i].topic, tps[i].partition)->offset =
            tps[i].offset;
    rd_kafka_commit(ride_kafka_consumer_handle(r->consumer), list, 1);
    rd_kafka_topic_partition_list_destroy(list);
}

/* A failed commit only leaves the group further behind: the next one catches
 * up, and the sink stage waits meanwhile rather than losing anything. The
 * waiting one is bounded (RIDE_KAFKA_COMMIT_TIMEOUT_MS), brokers down or not. */
static void commit_read(ride_audit_reader *r, bool wait)
{
    if (!r->opts.group || (!wait && !r->unsaved))
        return;
    ride_kafka_tp *tps = malloc((size_t)r->partitions * sizeof *tps);
    size_t n = tps ? read_positions(r, tps) : 0;
    char err[256];
    if (n && wait)
        ride_kafka_commit(r->consumer, tps, n, err, sizeof err);
    else if (n)
        commit_async(r, tps, n);
    free(tps);
    r->unsaved = false;
}

void ride_audit_reader_free(ride_audit_reader *r)
{
    if (!r)
        return;
    if (r->consumer && r->next)
        commit_read(r, true);
    for (int p = 0; r->as && p < r->partitions; p++)
        ride_frame_assembler_free(r->as[p]);
    free(r->as);
    free(r->next);
    ride_kafka_consumer_free(r->consumer);
    ride_frame_free(&r->frame);
    ride_seqtrack_free(r->seqs);
    free(r->latencies);
    free(r);
}

static void record_latency(ride_audit_reader *r, int64_t read_ns)
{
    if (r->latency_count == r->latency_cap) {
        size_t cap = r->latency_cap ? r->latency_cap * 2 : 1024;
        double *grown = realloc(r->latencies, cap * sizeof *grown);
        if (!grown)
            return;
        r->latencies = grown;
        r->latency_cap = cap;
    }
    r->latencies[r->latency_count++] = (double)(read_ns - (int64_t)r->frame.capture_ns) / 1e6;
}

static int take_message(ride_audit_reader *r, const ride_kafka_message *m)
{
    if (m->partition < 0 || m->partition >= r->partitions)
        return 0;
    r->next[m->partition] = m->offset + 1;
    r->unsaved = true;
    if (ride_frame_assembler_push(r->as[m->partition], m->payload, m->len, &r->frame) !=
        RIDE_FRAME_OK)
        return 0;
    int64_t now = (int64_t)ride_clock_wall_ns();
    int fresh = ride_seqtrack_add(r->seqs, r->frame.stream_id, r->frame.seq);
    if (fresh > 0)
        record_latency(r, now);
    if (r->opts.on_frame)
        r->opts.on_frame(r->opts.ctx, &r->frame, fresh > 0, now);
    return 1;
}

int ride_audit_reader_poll(ride_audit_reader *r, int timeout_ms, int max_frames, char *err,
                           size_t errlen)
{
    int64_t deadline = ride_clock_mono_ms() + timeout_ms;
    int frames = 0;
    for (;;) {
        int64_t left = deadline - ride_clock_mono_ms();
        if (left <= 0 || (max_frames > 0 && frames >= max_frames)) {
            commit_read(r, false);
            return frames;
        }
        ride_kafka_message m;
        int rc = ride_kafka_consumer_poll(r->consumer, left > 50 ? 50 : (int)left, &m, err,
                                          errlen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        frames += take_message(r, &m);
        ride_kafka_message_release(&m);
    }
}

const ride_seqtrack *ride_audit_reader_seqs(const ride_audit_reader *r) { return r->seqs; }

uint64_t ride_audit_reader_rejected(const ride_audit_reader *r) { return r->rejected; }

static int double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ride_audit_reader_latency_ms(const ride_audit_reader *r, double q)
{
    if (r->latency_count == 0)
        return -1;
    double *sorted = malloc(r->latency_count * sizeof *sorted);
    if (!sorted)
        return -1;
    memcpy(sorted, r->latencies, r->latency_count * sizeof *sorted);
    qsort(sorted, r->latency_count, sizeof *sorted, double_cmp);
    size_t rank = (size_t)(q * (double)r->latency_count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > r->latency_count)
        rank = r->latency_count;
    double v = sorted[rank - 1];
    free(sorted);
    return v;
}
