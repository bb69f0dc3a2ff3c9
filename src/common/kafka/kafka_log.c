/* kafka_log.c - librdkafka's log lines and errors in RIDE's log (kafka/kafka.h).
 * A broker that refuses the credentials, or is down, makes every client of the
 * process report the same thing at every reconnect, each twice (a log line and an
 * error): warnings and errors pass at most once per cause (the text, whoever
 * reports it) and interval, process-wide, and the next line that passes says how
 * many were held back. */
#include "kafka/kafka.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/failure_log.h"
#include "base/log.h"

#define CAUSE_MAX RIDE_FAILURE_LOG_CAUSE_MAX
#define CAUSE_SLOTS 64

static pthread_mutex_t causes_lock = PTHREAD_MUTEX_INITIALIZER;
static ride_failure_cause cause_slots[CAUSE_SLOTS];
static ride_cause_table causes = {cause_slots, CAUSE_SLOTS, 0}; /* under causes_lock */
static char latest_error[CAUSE_MAX];                            /* likewise */
static int64_t latest_error_ms;

/* A leading "[thrd:NAME]: " (librdkafka's log lines name their thread) or
 * "PROTO://HOST:PORT/ID: " (a broker's messages name it), or NULL. */
static const char *after_source(const char *text)
{
    const char *colon = strstr(text, ": ");
    if (!colon)
        return NULL;
    const char *scheme = strstr(text, "://");
    bool thread = text[0] == '[' && colon > text && colon[-1] == ']';
    return thread || (scheme && scheme < colon) ? colon + 2 : NULL;
}

/* Neither where a message comes from nor the time and state a connection failed
 * in, " (after 3ms in state AUTH_REQ[, N identical error(s) suppressed])", is
 * part of what went wrong, and both vary between reconnects and brokers. */
size_t ride_kafka_error_cause(const char *reason, char *buf, size_t len)
{
    const char *text = reason ? reason : "";
    for (const char *next; (next = after_source(text));)
        text = next;
    const char *after = strstr(text, " (after ");
    int text_len = after ? (int)(after - text) : (int)strlen(text);
    int n = snprintf(buf, len, "%.*s", text_len, text);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static void note_error(const char *cause)
{
    pthread_mutex_lock(&causes_lock);
    snprintf(latest_error, sizeof latest_error, "%s", cause);
    latest_error_ms = ride_clock_mono_ms();
    pthread_mutex_unlock(&causes_lock);
}

bool ride_kafka_recent_error(int within_ms, char *buf, size_t len)
{
    pthread_mutex_lock(&causes_lock);
    bool recent = latest_error[0] && ride_clock_mono_ms() - latest_error_ms <= within_ms;
    if (recent)
        snprintf(buf, len, "%s", latest_error);
    pthread_mutex_unlock(&causes_lock);
    return recent;
}

bool ride_kafka_cause_pass(const char *cause, int interval_ms, uint64_t *suppressed)
{
    pthread_mutex_lock(&causes_lock);
    bool pass = ride_cause_pass(&causes, cause, interval_ms, suppressed);
    pthread_mutex_unlock(&causes_lock);
    return pass;
}

static ride_log_level ride_level(int syslog_level)
{
    return syslog_level <= 3   ? RIDE_LOG_ERROR
           : syslog_level == 4 ? RIDE_LOG_WARN
           : syslog_level <= 6 ? RIDE_LOG_INFO
                               : RIDE_LOG_DEBUG;
}

/* librdkafka's log lines (syslog levels) go to RIDE's structured log. */
static void log_to_ride(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    ride_log_level rl = ride_level(level);
    uint64_t suppressed = 0;
    char cause[CAUSE_MAX];
    ride_kafka_error_cause(buf, cause, sizeof cause);
    if (rl == RIDE_LOG_ERROR)
        note_error(cause);
    if (rl >= RIDE_LOG_WARN &&
        !ride_kafka_cause_pass(cause, RIDE_KAFKA_ERROR_LOG_INTERVAL_MS, &suppressed))
        return;
    char q[512];
    ride_log(rl, "kafka_log", "client=%s facility=%s message=%s suppressed=%llu",
             rd_kafka_name(rk), fac, ride_log_quote(buf, q, sizeof q),
             (unsigned long long)suppressed);
}

/* Errors librdkafka reports outside any request (a broker down, credentials
 * refused, a fatal producer error); the client keeps retrying by itself. */
static void error_to_ride(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    char fatal[512] = "";
    if (err == RD_KAFKA_RESP_ERR__FATAL)
        rd_kafka_fatal_error(rk, fatal, sizeof fatal);
    const char *text = fatal[0] ? fatal : reason;
    uint64_t suppressed = 0;
    char cause[CAUSE_MAX];
    ride_kafka_error_cause(text, cause, sizeof cause);
    note_error(cause);
    if (!ride_kafka_cause_pass(cause, RIDE_KAFKA_ERROR_LOG_INTERVAL_MS, &suppressed))
        return;
    char q[512];
    ride_log_error("kafka_error", "client=%s code=%s fatal=%s error=%s suppressed=%llu",
                   rd_kafka_name(rk), rd_kafka_err2name(err), fatal[0] ? "true" : "false",
                   ride_log_quote(text, q, sizeof q), (unsigned long long)suppressed);
}

void ride_kafka_conf_set_logging(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_log_cb(conf, log_to_ride);
    rd_kafka_conf_set_error_cb(conf, error_to_ride);
}
