/* topics.c - the leader's topics on a real Kafka, created and grown through the
 * Admin API on a thread of its own. A broker that is down or refuses the
 * credentials makes every request wait for its whole timeout; on the libuv loop
 * that wait would hold the control API, heartbeats and failover with it. The loop
 * asks and reads the last answer; the thread works through what is asked and
 * retries a failure after RETRY_MS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"
#include "base/clock.h"
#include "base/log.h"

#define CREATE_TIMEOUT_MS 10000
#define RETRY_MS 2000

typedef enum topic_state { TOPIC_PENDING, TOPIC_READY, TOPIC_FAILED } topic_state;

typedef struct topic_entry {
    ride_kafka_topic_spec spec; /* owned: spec_copy() */
    topic_state state;
    int64_t retry_at_ms; /* TOPIC_FAILED: when the thread tries again */
    char error[512];
} topic_entry;

struct ride_master_topics {
    const ride_config *cfg;
    ride_master_thread th;
    /* under mu */
    char *bootstrap;
    topic_entry *entries;
    size_t entry_count;
    /* the thread's own */
    char *connected_to;
    rd_kafka_t *admin;
};

/* The caller's configs are built in the same order every pass. */
static bool same_spec(const ride_kafka_topic_spec *a, const ride_kafka_topic_spec *b)
{
    if (a->partitions != b->partitions || a->replication_factor != b->replication_factor ||
        a->grow != b->grow || a->config_count != b->config_count)
        return false;
    for (size_t i = 0; i < a->config_count; i++)
        if (strcmp(a->configs[i].key, b->configs[i].key) != 0 ||
            strcmp(a->configs[i].value, b->configs[i].value) != 0)
            return false;
    return true;
}

static void spec_free(ride_kafka_topic_spec *spec)
{
    ride_kv *kv = (ride_kv *)spec->configs;
    for (size_t i = 0; i < spec->config_count; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
    free((char *)spec->name);
    *spec = (ride_kafka_topic_spec){0};
}

/* A copy of spec that owns its strings; -1 when out of memory. */
static int spec_copy(const ride_kafka_topic_spec *spec, ride_kafka_topic_spec *out)
{
    *out = *spec;
    out->name = strdup(spec->name);
    ride_kv *kv = calloc(spec->config_count ? spec->config_count : 1, sizeof *kv);
    out->configs = kv;
    bool ok = out->name && kv;
    for (size_t i = 0; ok && i < spec->config_count; i++) {
        kv[i].key = strdup(spec->configs[i].key);
        kv[i].value = strdup(spec->configs[i].value);
        ok = kv[i].key && kv[i].value;
    }
    if (!ok) {
        out->config_count = kv ? out->config_count : 0;
        spec_free(out);
        return -1;
    }
    return 0;
}

static void forget_entries(ride_master_topics *t)
{
    for (size_t i = 0; i < t->entry_count; i++)
        spec_free(&t->entries[i].spec);
    free(t->entries);
    t->entries = NULL;
    t->entry_count = 0;
}

/* Called with mu held. */
static topic_entry *find_entry(ride_master_topics *t, const char *name)
{
    for (size_t i = 0; i < t->entry_count; i++)
        if (strcmp(t->entries[i].spec.name, name) == 0)
            return &t->entries[i];
    return NULL;
}

/* Called with mu held; NULL when out of memory. */
static topic_entry *add_entry(ride_master_topics *t, const ride_kafka_topic_spec *spec)
{
    ride_kafka_topic_spec copy;
    if (spec_copy(spec, &copy))
        return NULL;
    topic_entry *grown = realloc(t->entries, (t->entry_count + 1) * sizeof *grown);
    if (!grown) {
        spec_free(&copy);
        return NULL;
    }
    t->entries = grown;
    topic_entry *e = &grown[t->entry_count++];
    *e = (topic_entry){.spec = copy, .state = TOPIC_PENDING};
    return e;
}

/* Called with mu held: the question changed, the answer is stale. */
static void ask_again(topic_entry *e, const ride_kafka_topic_spec *spec)
{
    ride_kafka_topic_spec copy;
    if (spec_copy(spec, &copy))
        return;
    spec_free(&e->spec);
    *e = (topic_entry){.spec = copy, .state = TOPIC_PENDING};
}

/* Called with mu held: a new bootstrap makes every answer stale. */
static int use_bootstrap(ride_master_topics *t, const char *bootstrap)
{
    if (t->bootstrap && strcmp(t->bootstrap, bootstrap) == 0)
        return 0;
    char *copy = strdup(bootstrap);
    if (!copy)
        return -1;
    free(t->bootstrap);
    t->bootstrap = copy;
    forget_entries(t);
    return 0;
}

int ride_master_topics_ready(ride_master_topics *t, const char *bootstrap,
                             const ride_kafka_topic_spec *spec, char *err, size_t errlen)
{
    int ready = 0;
    pthread_mutex_lock(&t->th.mu);
    if (use_bootstrap(t, bootstrap) == 0) {
        topic_entry *e = find_entry(t, spec->name);
        if (e && !same_spec(&e->spec, spec)) {
            ask_again(e, spec);
        } else if (!e) {
            e = add_entry(t, spec);
        }
        if (e && !same_spec(&e->spec, spec))
            ready = 0; /* out of memory for the new question: asked next pass */
        else if (e && e->state == TOPIC_READY)
            ready = 1;
        else if (e && e->state == TOPIC_FAILED) {
            snprintf(err, errlen, "%s", e->error);
            ready = -1;
        }
        ride_master_thread_wake(&t->th);
    }
    pthread_mutex_unlock(&t->th.mu);
    return ready;
}

static void drop_admin(ride_master_topics *t)
{
    if (t->admin)
        rd_kafka_destroy(t->admin);
    t->admin = NULL;
    free(t->connected_to);
    t->connected_to = NULL;
}

static bool connect_to(ride_master_topics *t, const char *bootstrap)
{
    if (t->connected_to && strcmp(t->connected_to, bootstrap) == 0)
        return true;
    drop_admin(t);
    if (!(t->admin = ride_master_kafka_admin(t->cfg, bootstrap)))
        return false;
    t->connected_to = strdup(bootstrap);
    return t->connected_to != NULL;
}

/* The next topic to work on, copied out (spec_free, free the bootstrap), or
 * false. Called with mu held. */
static bool next_request(ride_master_topics *t, ride_kafka_topic_spec *out, char **bootstrap)
{
    int64_t now = ride_clock_mono_ms();
    for (size_t i = 0; i < t->entry_count; i++) {
        topic_entry *e = &t->entries[i];
        if (e->state == TOPIC_READY || (e->state == TOPIC_FAILED && e->retry_at_ms > now))
            continue;
        if (spec_copy(&e->spec, out))
            return false;
        if ((*bootstrap = strdup(t->bootstrap)))
            return true;
        spec_free(out);
        return false;
    }
    return false;
}

/* Stores the outcome unless the question changed while the thread was asking
 * Kafka. Called with mu held. */
static void record(ride_master_topics *t, const char *bootstrap, const ride_kafka_topic_spec *spec,
                   int rc, const char *error)
{
    topic_entry *e = t->bootstrap && strcmp(t->bootstrap, bootstrap) == 0
                         ? find_entry(t, spec->name)
                         : NULL;
    if (!e || !same_spec(&e->spec, spec))
        return;
    if (rc == 0) {
        e->state = TOPIC_READY;
        return;
    }
    bool changed = e->state != TOPIC_FAILED || strcmp(e->error, error) != 0;
    e->state = TOPIC_FAILED;
    e->retry_at_ms = ride_clock_mono_ms() + RETRY_MS;
    snprintf(e->error, sizeof e->error, "%s", error);
    if (changed)
        ride_log_error("topic_not_created", "topic=%s error=%s", spec->name,
                       ride_log_quote(error, (char[600]){0}, 600));
}

/* "Broker transport failure" alone does not say that the broker refused the
 * credentials: the error the clients reported meanwhile does. */
static void explain(char *err, size_t errlen)
{
    char why[256];
    size_t used = strlen(err);
    if (used && ride_kafka_recent_error(CREATE_TIMEOUT_MS + RETRY_MS, why, sizeof why) &&
        !strstr(err, why))
        snprintf(err + used, errlen - used, " (Kafka: %s)", why);
}

static void ensure_one(ride_master_topics *t, const char *bootstrap,
                       const ride_kafka_topic_spec *spec)
{
    char err[512] = "";
    int rc = -1;
    if (!connect_to(t, bootstrap))
        snprintf(err, sizeof err, "no Kafka client for %s (see the kafka_config_failed line)",
                 bootstrap);
    else
        rc = ride_kafka_topic_ensure(NULL, t->admin, spec, CREATE_TIMEOUT_MS, err, sizeof err);
    explain(err, sizeof err);
    if (rc == 0)
        ride_log_info("topic_ready", "topic=%s partitions=%d", spec->name, spec->partitions);
    pthread_mutex_lock(&t->th.mu);
    record(t, bootstrap, spec, rc, err);
    pthread_mutex_unlock(&t->th.mu);
}

static void *topics_thread(void *arg)
{
    ride_master_topics *t = arg;
    pthread_mutex_lock(&t->th.mu);
    while (!t->th.stop) {
        ride_kafka_topic_spec spec;
        char *bootstrap = NULL;
        if (!next_request(t, &spec, &bootstrap)) {
            ride_master_thread_wait(&t->th, RETRY_MS);
            continue;
        }
        pthread_mutex_unlock(&t->th.mu);
        ensure_one(t, bootstrap, &spec);
        spec_free(&spec);
        free(bootstrap);
        pthread_mutex_lock(&t->th.mu);
    }
    pthread_mutex_unlock(&t->th.mu);
    drop_admin(t);
    return NULL;
}

ride_master_topics *ride_master_topics_start(const ride_config *cfg, char *err, size_t errlen)
{
    ride_master_topics *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->cfg = cfg;
    if (ride_master_thread_start(&t->th, topics_thread, t)) {
        snprintf(err, errlen, "cannot start the topics thread");
        free(t);
        return NULL;
    }
    return t;
}

void ride_master_topics_stop(ride_master_topics *t)
{
    if (!t)
        return;
    ride_master_thread_stop(&t->th);
    forget_entries(t);
    free(t->bootstrap);
    free(t);
}
