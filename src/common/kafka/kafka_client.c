/* kafka_client.c - the producer, the manually assigned consumer and transactions
 * (kafka/kafka.h). Every transactional call is bounded by its caller's timeout. */
#include "kafka/kafka.h"

#include "base/clock.h"
#include "base/error.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Producer ---- */

struct ride_kafka_producer {
    rd_kafka_t *rk;
    ride_kafka_delivery_fn on_delivery;
    void *ctx;
    /* Delivery reports run on the polling thread, produce calls may not. */
    atomic_uint_fast64_t errors;
};

static void delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ride_kafka_producer *p = opaque;
    if (m->err)
        atomic_fetch_add(&p->errors, 1);
    if (!p->on_delivery)
        return;
    ride_kafka_delivery d = {
        .err = m->err,
        .reason = m->err ? rd_kafka_err2str(m->err) : NULL,
        .topic = rd_kafka_topic_name(m->rkt),
        .partition = m->partition,
        .offset = m->offset,
        .possibly_written = m->err && rd_kafka_message_status(m) ==
                                          RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED};
    p->on_delivery(p->ctx, m->_private, &d);
}

ride_kafka_producer *ride_kafka_producer_new(rd_kafka_conf_t *conf,
                                             ride_kafka_delivery_fn on_delivery, void *ctx,
                                             char *err, size_t errlen)
{
    ride_kafka_producer *p = calloc(1, sizeof *p);
    if (!p) {
        rd_kafka_conf_destroy(conf);
        ride_set_error(err, errlen, "Kafka producer: out of memory");
        return NULL;
    }
    p->on_delivery = on_delivery;
    p->ctx = ctx;
    atomic_init(&p->errors, 0);
    rd_kafka_conf_set_dr_msg_cb(conf, delivery_report);
    rd_kafka_conf_set_opaque(conf, p);
    char reason[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof reason);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        ride_set_error(err, errlen, "cannot create the Kafka producer: %s", reason);
        free(p);
        return NULL;
    }
    return p;
}

void ride_kafka_producer_free(ride_kafka_producer *p)
{
    if (!p)
        return;
    rd_kafka_flush(p->rk, 5000);
    rd_kafka_destroy(p->rk);
    free(p);
}

void ride_kafka_producer_discard(ride_kafka_producer *p)
{
    if (!p)
        return;
    /* Reports of the purged messages, should destroy serve any, reach no one. */
    p->on_delivery = NULL;
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(p->rk);
    free(p);
}

rd_kafka_t *ride_kafka_producer_handle(ride_kafka_producer *p)
{
    return p->rk;
}

/* msgflags RD_KAFKA_MSG_F_COPY: librdkafka copies buf; RD_KAFKA_MSG_F_FREE: it
 * takes buf over once queued (and frees it after the delivery report). */
static rd_kafka_resp_err_t produce(ride_kafka_producer *p, const char *topic, int32_t partition,
                                   const void *buf, size_t len, int msgflags, void *opaque,
                                   char *err, size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE((void *)buf, len), RD_KAFKA_V_MSGFLAGS(msgflags),
        RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (e) {
        /* A full queue is backpressure, not a failure: the caller retries. */
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            atomic_fetch_add(&p->errors, 1);
        ride_set_error(err, errlen, "%s[%" PRId32 "]: cannot produce %zu bytes: %s", topic, partition,
                len, rd_kafka_err2str(e));
    }
    return e;
}

rd_kafka_resp_err_t ride_kafka_produce(ride_kafka_producer *p, const char *topic,
                                       int32_t partition, const void *buf, size_t len,
                                       void *opaque, char *err, size_t errlen)
{
    return produce(p, topic, partition, buf, len, RD_KAFKA_MSG_F_COPY, opaque, err, errlen);
}

/* While the queue is full, wait at most this long for delivery reports before
 * trying again (rd_kafka_poll returns as soon as it has served some). */
#define QUEUE_FULL_POLL_MS 5

static rd_kafka_resp_err_t produce_wait(ride_kafka_producer *p, const char *topic,
                                        int32_t partition, const void *buf, size_t len,
                                        int msgflags, void *opaque, int64_t deadline_ms,
                                        char *err, size_t errlen)
{
    for (;;) {
        rd_kafka_resp_err_t e =
            produce(p, topic, partition, buf, len, msgflags, opaque, err, errlen);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || ride_clock_mono_ms() >= deadline_ms)
            return e;
        rd_kafka_poll(p->rk, QUEUE_FULL_POLL_MS);
    }
}

rd_kafka_resp_err_t ride_kafka_produce_wait(ride_kafka_producer *p, const char *topic,
                                            int32_t partition, const void *buf, size_t len,
                                            void *opaque, int64_t deadline_ms, char *err,
                                            size_t errlen)
{
    return produce_wait(p, topic, partition, buf, len, RD_KAFKA_MSG_F_COPY, opaque,
                        deadline_ms, err, errlen);
}

typedef struct frame_emit {
    ride_kafka_producer *p;
    const char *topic;
    int32_t partition;
    void *opaque;
    ride_kafka_queued_fn on_queued;
    int64_t deadline_ms;
    int msgflags;     /* how librdkafka takes each message (produce) */
    char reason[256]; /* why a message was not queued */
} frame_emit;

static int emit_message(void *ctx, const uint8_t *msg, size_t len)
{
    frame_emit *fe = ctx;
    rd_kafka_resp_err_t e =
        produce_wait(fe->p, fe->topic, fe->partition, msg, len, fe->msgflags, fe->opaque,
                     fe->deadline_ms, fe->reason, sizeof fe->reason);
    /* A queue still full at the deadline is a failure to produce, counted here. */
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        atomic_fetch_add(&fe->p->errors, 1);
    if (e)
        return -1;
    if (fe->on_queued)
        fe->on_queued(fe->opaque, len);
    return 0;
}

static int frame_failed(char *err, size_t errlen, const char *topic, int32_t partition,
                        const ride_frame *f, const char *reason)
{
    ride_set_error(err, errlen, "%s[%" PRId32 "]: frame %" PRIu32 "/%" PRIu64 ": %s", topic,
                   partition, f->stream_id, f->seq, reason);
    return -1;
}

int ride_kafka_produce_frame(ride_kafka_producer *p, const char *topic, int32_t partition,
                             const ride_frame *f, const ride_frame_write_opts *opts,
                             void *opaque, ride_kafka_queued_fn on_queued, int timeout_ms,
                             char *err, size_t errlen)
{
    frame_emit fe = {p, topic, partition, opaque, on_queued, ride_clock_mono_ms() + timeout_ms,
                     RD_KAFKA_MSG_F_COPY, ""};
    char werr[256] = "";
    if (ride_frame_write(f, opts, emit_message, &fe, werr, sizeof werr) == 0)
        return 0;
    /* Kafka's reason for a refused message says more than the encoder's "emit failed". */
    return frame_failed(err, errlen, topic, partition, f, fe.reason[0] ? fe.reason : werr);
}

/* A frame's messages, encoded before any is queued, each in a buffer of its own
 * (ride_frame_write_owned) that librdkafka takes over when it is queued
 * (RD_KAFKA_MSG_F_FREE): the bytes are copied once, from the frame into the
 * message, and never again (docs/decisions.md, "One copy per produced message"). */
typedef struct kept_message {
    uint8_t *bytes; /* NULL once librdkafka owns it */
    size_t len;
} kept_message;

typedef struct encoded_frame {
    kept_message *msgs;
    size_t count, cap;
    uint64_t bytes;
} encoded_frame;

static int keep_message(void *ctx, uint8_t *msg, size_t len)
{
    encoded_frame *ef = ctx;
    if (ef->count == ef->cap) {
        size_t cap = ef->cap ? ef->cap * 2 : 4;
        kept_message *grown = realloc(ef->msgs, cap * sizeof *grown);
        if (!grown) {
            free(msg);
            return -1;
        }
        ef->msgs = grown;
        ef->cap = cap;
    }
    ef->msgs[ef->count++] = (kept_message){msg, len};
    ef->bytes += len;
    return 0;
}

/* Frees what librdkafka did not take over. */
static void encoded_frame_free(encoded_frame *ef)
{
    for (size_t i = 0; i < ef->count; i++)
        free(ef->msgs[i].bytes);
    free(ef->msgs);
}

/* Queues the kept messages in order, handing each over; -1 at the first that
 * fails (fe->reason), which stays the caller's with the ones after it. */
static int emit_kept(frame_emit *fe, encoded_frame *ef)
{
    for (size_t i = 0; i < ef->count; i++) {
        if (emit_message(fe, ef->msgs[i].bytes, ef->msgs[i].len) != 0)
            return -1;
        ef->msgs[i].bytes = NULL;
    }
    return 0;
}

int ride_kafka_produce_frame_admitted(ride_kafka_producer *p, const char *topic,
                                      int32_t partition, const ride_frame *f,
                                      const ride_frame_write_opts *opts, void *opaque,
                                      ride_kafka_queued_fn on_queued, ride_kafka_admit_fn admit,
                                      int timeout_ms, char *err, size_t errlen)
{
    encoded_frame ef = {0};
    char werr[256] = "";
    int rc = 0;
    if (ride_frame_write_owned(f, opts, keep_message, &ef, werr, sizeof werr) != 0) {
        rc = frame_failed(err, errlen, topic, partition, f, werr);
    } else if (!admit(opaque, ef.count, ef.bytes)) {
        rc = 1;
    } else {
        frame_emit fe = {p, topic, partition, opaque, on_queued,
                         ride_clock_mono_ms() + timeout_ms, RD_KAFKA_MSG_F_FREE, ""};
        if (emit_kept(&fe, &ef) != 0)
            rc = frame_failed(err, errlen, topic, partition, f, fe.reason);
    }
    encoded_frame_free(&ef);
    return rc;
}

int ride_kafka_producer_poll(ride_kafka_producer *p, int timeout_ms)
{
    return rd_kafka_poll(p->rk, timeout_ms);
}

int ride_kafka_producer_flush(ride_kafka_producer *p, int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    if (e) {
        ride_set_error(err, errlen, "Kafka producer: %d messages still undelivered after %d ms: %s",
                rd_kafka_outq_len(p->rk), timeout_ms, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int ride_kafka_producer_outstanding(ride_kafka_producer *p)
{
    return rd_kafka_outq_len(p->rk);
}

uint64_t ride_kafka_producer_errors(const ride_kafka_producer *p)
{
    return atomic_load(&((ride_kafka_producer *)p)->errors);
}

/* ---- Consumer ---- */

struct ride_kafka_consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *wake_queue; /* the consumer queue, while it signals a wake fd */
};

ride_kafka_consumer *ride_kafka_consumer_new(rd_kafka_conf_t *conf, const char *group, char *err,
                                             size_t errlen)
{
    char reason[512];
    if (!group || !group[0] ||
        rd_kafka_conf_set(conf, "group.id", group, reason, sizeof reason) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        ride_set_error(err, errlen, "Kafka consumer: invalid group \"%s\"", group ? group : "");
        return NULL;
    }
    ride_kafka_consumer *c = calloc(1, sizeof *c);
    if (!c) {
        rd_kafka_conf_destroy(conf);
        ride_set_error(err, errlen, "Kafka consumer: out of memory");
        return NULL;
    }
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof reason);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        ride_set_error(err, errlen, "cannot create the Kafka consumer for group %s: %s", group, reason);
        free(c);
        return NULL;
    }
    /* Everything (errors, logs) is served by ride_kafka_consumer_poll(). */
    rd_kafka_poll_set_consumer(c->rk);
    return c;
}

void ride_kafka_consumer_free(ride_kafka_consumer *c)
{
    if (!c)
        return;
    if (c->wake_queue) {
        rd_kafka_queue_io_event_enable(c->wake_queue, -1, NULL, 0);
        rd_kafka_queue_destroy(c->wake_queue);
    }
    /* Never joined the group, so closing leaves no group to rebalance. */
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    free(c);
}

int ride_kafka_consumer_wake_fd(ride_kafka_consumer *c, int fd)
{
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(c->rk);
    if (!q)
        return -1;
    static const char byte = 'w';
    rd_kafka_queue_io_event_enable(q, fd, &byte, 1);
    if (c->wake_queue)
        rd_kafka_queue_destroy(c->wake_queue);
    c->wake_queue = q;
    return 0;
}

rd_kafka_t *ride_kafka_consumer_handle(ride_kafka_consumer *c)
{
    return c->rk;
}

static rd_kafka_topic_partition_list_t *tp_list(const ride_kafka_tp *tps, size_t count)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++)
        rd_kafka_topic_partition_list_add(l, tps[i].topic, tps[i].partition)->offset =
            tps[i].offset;
    return l;
}

/* The first per-partition error of a list, written into err. */
static int tp_list_errors(const rd_kafka_topic_partition_list_t *l, const char *what, char *err,
                          size_t errlen)
{
    for (int i = 0; i < l->cnt; i++) {
        if (l->elems[i].err) {
            ride_set_error(err, errlen, "%s %s[%" PRId32 "]: %s", what, l->elems[i].topic,
                    l->elems[i].partition, rd_kafka_err2str(l->elems[i].err));
            return -1;
        }
    }
    return 0;
}

static int check_tps(const ride_kafka_tp *tps, size_t count, const char *what, char *err,
                     size_t errlen)
{
    if (count > INT32_MAX) {
        ride_set_error(err, errlen, "%s: too many partitions", what);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (!tps[i].topic || !tps[i].topic[0] || tps[i].partition < 0) {
            ride_set_error(err, errlen, "%s: entry %zu is not a valid topic partition", what, i);
            return -1;
        }
    }
    return 0;
}

/* Incremental (un)assignment works without a subscription: the group's
 * rebalance protocol is then "none", so neither call is refused. */
static int change_assignment(ride_kafka_consumer *c, const ride_kafka_tp *tps, size_t count,
                             int add, char *err, size_t errlen)
{
    const char *what = add ? "assign" : "unassign";
    if (check_tps(tps, count, what, err, errlen) != 0)
        return -1;
    rd_kafka_topic_partition_list_t *l = tp_list(tps, count);
    rd_kafka_error_t *e =
        add ? rd_kafka_incremental_assign(c->rk, l) : rd_kafka_incremental_unassign(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        ride_set_error(err, errlen, "Kafka consumer: %s: %s", what, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    return 0;
}

int ride_kafka_consumer_add(ride_kafka_consumer *c, const ride_kafka_tp *tps, size_t count,
                            char *err, size_t errlen)
{
    return change_assignment(c, tps, count, 1, err, errlen);
}

int ride_kafka_consumer_remove(ride_kafka_consumer *c, const ride_kafka_tp *tps, size_t count,
                               char *err, size_t errlen)
{
    return change_assignment(c, tps, count, 0, err, errlen);
}

int64_t ride_kafka_consumer_log_start(ride_kafka_consumer *c, const char *topic,
                                      int32_t partition)
{
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(c->rk, topic, partition, &low, &high))
        return -1;
    return low;
}

int ride_kafka_consumer_poll(ride_kafka_consumer *c, int timeout_ms, ride_kafka_message *msg,
                             char *err, size_t errlen)
{
    memset(msg, 0, sizeof *msg);
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (!m)
        return 0;
    if (m->err) {
        ride_set_error(err, errlen, "Kafka consumer: %s[%" PRId32 "]: %s",
                m->rkt ? rd_kafka_topic_name(m->rkt) : "-", m->partition,
                rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return -1;
    }
    msg->topic = rd_kafka_topic_name(m->rkt);
    msg->partition = m->partition;
    msg->offset = m->offset;
    msg->payload = m->payload;
    msg->len = m->len;
    msg->rkm = m;
    return 1;
}

void ride_kafka_message_release(ride_kafka_message *msg)
{
    if (msg->rkm)
        rd_kafka_message_destroy(msg->rkm);
    memset(msg, 0, sizeof *msg);
}

int ride_kafka_commit(ride_kafka_consumer *c, const ride_kafka_tp *tps, size_t count, char *err,
                      size_t errlen)
{
    if (check_tps(tps, count, "commit", err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (tps[i].offset < 0) {
            ride_set_error(err, errlen, "commit %s[%" PRId32 "]: offset %" PRId64 " is not an offset",
                    tps[i].topic, tps[i].partition, tps[i].offset);
            return -1;
        }
    }
    if (count == 0)
        return 0;
    rd_kafka_topic_partition_list_t *l = tp_list(tps, count);
    /* A synchronous rd_kafka_commit() waits for a coordinator as long as none
     * answers: with the brokers down that is the whole outage, on the caller's
     * processing thread. The answer comes to a queue of its own instead, waited
     * for up to the bound; one that comes later is dropped with the queue. */
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(c->rk, l, q, NULL, NULL);
    rd_kafka_event_t *ev = e ? NULL : rd_kafka_queue_poll(q, RIDE_KAFKA_COMMIT_TIMEOUT_MS);
    int rc = -1;
    if (e)
        ride_set_error(err, errlen, "commit: %s", rd_kafka_err2str(e));
    else if (!ev)
        ride_set_error(err, errlen, "commit: no answer within %d ms", RIDE_KAFKA_COMMIT_TIMEOUT_MS);
    else if (rd_kafka_event_error(ev))
        ride_set_error(err, errlen, "commit: %s", rd_kafka_event_error_string(ev));
    else if (rd_kafka_event_topic_partition_list(ev))
        rc = tp_list_errors(rd_kafka_event_topic_partition_list(ev), "commit", err, errlen);
    else
        rc = 0;
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int ride_kafka_committed(ride_kafka_consumer *c, ride_kafka_tp *tps, size_t count,
                         int timeout_ms, char *err, size_t errlen)
{
    if (check_tps(tps, count, "committed", err, errlen) != 0)
        return -1;
    rd_kafka_topic_partition_list_t *l = tp_list(tps, count);
    rd_kafka_resp_err_t e = rd_kafka_committed(c->rk, l, timeout_ms);
    int rc = 0;
    if (e) {
        ride_set_error(err, errlen, "committed offsets: %s", rd_kafka_err2str(e));
        rc = -1;
    } else {
        rc = tp_list_errors(l, "committed offset of", err, errlen);
    }
    /* The list keeps the caller's order: it was built from tps one by one. */
    for (int i = 0; rc == 0 && i < l->cnt; i++)
        tps[i].offset = l->elems[i].offset < 0 ? RIDE_KAFKA_OFFSET_NONE : l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* ---- Transactions ---- */

static bool is_fencing(rd_kafka_resp_err_t code)
{
    return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

/* Classifies a transactional call's error (NULL: success) and frees it. A fatal
 * error's own code says whether it was fencing. */
static ride_kafka_txn_result txn_result(ride_kafka_producer *p, rd_kafka_error_t *e,
                                        const char *what, char *err, size_t errlen)
{
    if (!e)
        return RIDE_KAFKA_TXN_OK;
    ride_kafka_txn_result r = RIDE_KAFKA_TXN_FATAL;
    if (rd_kafka_error_is_fatal(e)) {
        char reason[256];
        rd_kafka_resp_err_t code = rd_kafka_fatal_error(p->rk, reason, sizeof reason);
        if (is_fencing(code) || is_fencing(rd_kafka_error_code(e)))
            r = RIDE_KAFKA_TXN_FENCED;
    } else if (rd_kafka_error_txn_requires_abort(e)) {
        r = RIDE_KAFKA_TXN_ABORT;
    } else if (rd_kafka_error_is_retriable(e)) {
        r = RIDE_KAFKA_TXN_RETRY;
    } else if (is_fencing(rd_kafka_error_code(e))) {
        r = RIDE_KAFKA_TXN_FENCED;
    }
    ride_set_error(err, errlen, "%s: %s", what, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return r;
}

ride_kafka_txn_result ride_kafka_txn_init(ride_kafka_producer *p, int timeout_ms, char *err,
                                          size_t errlen)
{
    return txn_result(p, rd_kafka_init_transactions(p->rk, timeout_ms), "init_transactions", err,
                      errlen);
}

ride_kafka_txn_result ride_kafka_txn_begin(ride_kafka_producer *p, char *err, size_t errlen)
{
    return txn_result(p, rd_kafka_begin_transaction(p->rk), "begin_transaction", err, errlen);
}

ride_kafka_txn_result ride_kafka_txn_commit(ride_kafka_producer *p, ride_kafka_consumer *c,
                                            const ride_kafka_tp *offsets, size_t count,
                                            int timeout_ms, char *err, size_t errlen)
{
    /* librdkafka takes a negative timeout as "forever". */
    if (timeout_ms < 0)
        timeout_ms = 0;
    int64_t deadline_ms = ride_clock_mono_ms() + timeout_ms;
    if (count > 0) {
        if (check_tps(offsets, count, "send_offsets_to_transaction", err, errlen) != 0)
            return RIDE_KAFKA_TXN_FATAL;
        rd_kafka_consumer_group_metadata_t *group = rd_kafka_consumer_group_metadata(c->rk);
        rd_kafka_topic_partition_list_t *l = tp_list(offsets, count);
        rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(p->rk, l, group, timeout_ms);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_consumer_group_metadata_destroy(group);
        ride_kafka_txn_result r = txn_result(p, e, "send_offsets_to_transaction", err, errlen);
        if (r != RIDE_KAFKA_TXN_OK)
            return r;
    }
    int64_t left_ms = deadline_ms - ride_clock_mono_ms();
    return txn_result(p, rd_kafka_commit_transaction(p->rk, left_ms > 0 ? (int)left_ms : 0),
                      "commit_transaction", err, errlen);
}

ride_kafka_txn_result ride_kafka_txn_abort(ride_kafka_producer *p, int timeout_ms, char *err,
                                           size_t errlen)
{
    return txn_result(p, rd_kafka_abort_transaction(p->rk, timeout_ms), "abort_transaction", err,
                      errlen);
}
