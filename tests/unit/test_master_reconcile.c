/* test_master_reconcile.c - the leader's decisions (src/master/reconcile.h): each
 * step's changes and events from a hand-built picture of the cluster, with no
 * ZooKeeper or Kafka. */
#include "ride_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile.h"

#define MAX_MEMBERS 8
#define MAX_APPS 2

/* One stage of two partitions, at most two active workers and one spare, read
 * from one synthetic source. */
#define TWO_PARTITIONS_YAML \
    "apiVersion: ride/v1\n" \
    "kind: Application\n" \
    "metadata:\n" \
    "  name: cctv\n" \
    "spec:\n" \
    "  sources:\n" \
    "    - name: cam\n" \
    "      uri: synthetic:64x48@10\n" \
    "  stages:\n" \
    "    - name: gray\n" \
    "      input: cam\n" \
    "      task: grayscale\n" \
    "      partitions: 2\n" \
    "      workers: {min: 1, max: 2, spares: 1}\n"
static const char TWO_PARTITIONS[] = TWO_PARTITIONS_YAML;
/* The same, its sink naming the consumer group that reads it. */
static const char SINK_GROUP[] = TWO_PARTITIONS_YAML "  sink: {group: cctv.readers}\n";

/* Only workers labelled zone=east may run its stage. */
static const char EAST_ONLY[] = "apiVersion: ride/v1\n"
                                "kind: Application\n"
                                "metadata:\n"
                                "  name: east\n"
                                "spec:\n"
                                "  sources:\n"
                                "    - name: cam\n"
                                "      uri: synthetic:64x48@10\n"
                                "  stages:\n"
                                "    - name: gray\n"
                                "      input: cam\n"
                                "      task: grayscale\n"
                                "      selector: {zone: east}\n";

typedef struct cluster {
    ride_master_member members[MAX_MEMBERS];
    char ids[MAX_MEMBERS][16];
    const char *local[MAX_MEMBERS][1];
    size_t member_count;
    ride_master_app *apps[MAX_APPS];
    size_t app_count;
    ride_master_assignment assignments[MAX_MEMBERS];
    size_t assignment_count;
    int64_t now_ms;
    ride_reconcile_plan plan;
} cluster;

static ride_master_member *add_member(cluster *c, const char *id, bool worker, bool alive)
{
    size_t i = c->member_count++;
    ride_master_member *mb = &c->members[i];
    snprintf(c->ids[i], sizeof c->ids[i], "%s", id);
    *mb = (ride_master_member){.id = c->ids[i], .is_worker = worker, .alive = alive,
                               .present = true};
    if (worker) {
        mb->worker.id = c->ids[i];
        mb->worker.cores = 4;
    } else {
        mb->producer.id = c->ids[i];
    }
    return mb;
}

static void add_worker(cluster *c, const char *id, bool alive)
{
    add_member(c, id, true, alive);
}

/* A producer that lists `local` (or nothing, NULL) as a source only it can read. */
static void add_producer(cluster *c, const char *id, bool alive, const char *local)
{
    ride_master_member *mb = add_member(c, id, false, alive);
    if (local) {
        c->local[c->member_count - 1][0] = local;
        mb->producer.local_sources = c->local[c->member_count - 1];
        mb->producer.local_source_count = 1;
    }
}

static ride_master_app *add_app(cluster *c, const char *yaml, ride_app_phase phase,
                                bool topics_ready)
{
    ride_manifest man;
    ride_parse_error perr;
    size_t len = strlen(yaml);
    assert_int_equal(ride_manifest_parse("test", yaml, len, &man, &perr), 0);
    ride_master_app *a = ride_master_app_new(man.name, yaml, len, &man);
    assert_non_null(a);
    a->phase = phase;
    a->topics_ready = topics_ready;
    c->apps[c->app_count++] = a;
    return a;
}

/* A running application with its topics ready. */
static ride_master_app *running_app(cluster *c, const char *yaml)
{
    return add_app(c, yaml, RIDE_APP_RUNNING, true);
}

static void set_owner(ride_master_app *a, int p, const char *owner, int64_t epoch)
{
    ride_master_partition *part = &a->stages[0].parts[p];
    free(part->owner);
    part->owner = owner ? strdup(owner) : NULL;
    part->epoch = epoch;
    part->granted = true;
    part->stored = true;
}

static char **id_list(const char *a, const char *b, size_t *count)
{
    char **ids = calloc(2, sizeof *ids);
    assert_non_null(ids);
    *count = 0;
    if (a)
        ids[(*count)++] = strdup(a);
    if (b)
        ids[(*count)++] = strdup(b);
    return ids;
}

static void set_group(ride_master_app *a, const char *active1, const char *active2,
                      const char *spare)
{
    ride_master_stage *s = &a->stages[0];
    s->active = id_list(active1, active2, &s->active_count);
    s->spare = id_list(spare, NULL, &s->spare_count);
}

static void set_producer(ride_master_app *a, const char *producer, int64_t epoch)
{
    a->sources[0].producer = producer ? strdup(producer) : NULL;
    a->sources[0].epoch = epoch;
    a->sources[0].stored = true;
}

static void add_record(cluster *c, const char *member, int64_t epoch)
{
    c->assignments[c->assignment_count++] =
        (ride_master_assignment){.member = strdup(member), .epoch = epoch, .exists = true};
}

static ride_reconcile_view view(cluster *c)
{
    return (ride_reconcile_view){.apps = (const ride_master_app *const *)c->apps,
                                 .app_count = c->app_count,
                                 .members = c->members,
                                 .member_count = c->member_count,
                                 .assignments = c->assignments,
                                 .assignment_count = c->assignment_count,
                                 .generation = 7,
                                 .now_ms = c->now_ms};
}

static void cluster_free(cluster *c)
{
    for (size_t i = 0; i < c->app_count; i++)
        ride_master_app_free(c->apps[i]);
    for (size_t i = 0; i < c->assignment_count; i++) {
        free(c->assignments[i].member);
        free(c->assignments[i].key);
    }
    ride_reconcile_plan_free(&c->plan);
    free(c);
}

static cluster *cluster_new(void)
{
    cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->now_ms = 100000;
    return c;
}

static void partitions(cluster *c)
{
    char err[256] = "";
    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_partitions_step(&v, &c->plan, err, sizeof err), 0);
}

static const ride_reconcile_change *nth(cluster *c, size_t i, ride_reconcile_kind kind)
{
    assert_true(i < c->plan.count);
    assert_int_equal(c->plan.changes[i].kind, kind);
    return &c->plan.changes[i];
}

static size_t count_kind(const cluster *c, ride_reconcile_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < c->plan.count; i++)
        n += c->plan.changes[i].kind == kind;
    return n;
}

static void assert_event(const ride_reconcile_change *ch, const char *type, const char *member,
                         const char *message)
{
    assert_non_null(ch->event.type);
    assert_string_equal(ch->event.type, type);
    if (member)
        assert_string_equal(ch->event.member, member);
    else
        assert_null(ch->event.member);
    assert_string_equal(ch->event.message, message);
}

/* ---- topics ---- */

static void test_topics_ready_runs_pending_app(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_app(c, TWO_PARTITIONS, RIDE_APP_PENDING, false);
    ride_reconcile_topics t[] = {{.ready = 1}};
    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_topics_step(&v, t, &c->plan), 0);
    assert_int_equal(c->plan.count, 1);
    const ride_reconcile_change *ch = nth(c, 0, RIDE_RECONCILE_TOPICS_READY);
    assert_true(ch->running);
    assert_int_equal(ch->app, 0);
    assert_event(ch, "app_running", NULL, "topics ready");
    assert_string_equal(ch->event.app, "cctv");
    cluster_free(c);
}

static void test_topics_pending_changes_nothing(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_app(c, TWO_PARTITIONS, RIDE_APP_PENDING, false);
    ride_reconcile_topics t[] = {{.ready = 0}};
    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_topics_step(&v, t, &c->plan), 0);
    assert_int_equal(c->plan.count, 0);
    cluster_free(c);
}

static void test_topics_error_sets_message_once(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    ride_master_app *a = add_app(c, TWO_PARTITIONS, RIDE_APP_PENDING, false);
    ride_reconcile_topics t[] = {{.ready = -1, .error = "broker down"}};
    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_topics_step(&v, t, &c->plan), 0);
    assert_int_equal(c->plan.count, 1);
    assert_string_equal(nth(c, 0, RIDE_RECONCILE_APP_MESSAGE)->text, "broker down");
    assert_null(c->plan.changes[0].event.type);

    ride_reconcile_plan_free(&c->plan);
    free(a->message);
    a->message = strdup("broker down");
    assert_int_equal(ride_reconcile_topics_step(&v, t, &c->plan), 0);
    assert_int_equal(c->plan.count, 0);
    cluster_free(c);
}

static void test_topics_skip_ready_and_deleting_apps(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    running_app(c, TWO_PARTITIONS);
    add_app(c, EAST_ONLY, RIDE_APP_DELETING, false);
    assert_false(ride_reconcile_wants_topics(c->apps[0]));
    assert_false(ride_reconcile_wants_topics(c->apps[1]));
    ride_reconcile_topics t[] = {{.ready = 1}, {.ready = 1}};
    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_topics_step(&v, t, &c->plan), 0);
    assert_int_equal(c->plan.count, 0);
    cluster_free(c);
}

static void test_topics_ready_on_running_app_is_silent(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    /* A new leader loads a running application before its topics are checked. */
    add_app(c, TWO_PARTITIONS, RIDE_APP_RUNNING, false);
    ride_reconcile_topics t[] = {{.ready = 1}};
    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_topics_step(&v, t, &c->plan), 0);
    assert_int_equal(c->plan.count, 1);
    const ride_reconcile_change *ch = nth(c, 0, RIDE_RECONCILE_TOPICS_READY);
    assert_false(ch->running);
    assert_null(ch->event.type);
    cluster_free(c);
}

/* ---- partitions ---- */

static void test_new_app_gets_owners_and_group(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    add_worker(c, "w2", true);
    running_app(c, TWO_PARTITIONS);
    partitions(c);
    assert_int_equal(c->plan.count, 3); /* placed as before: no issue event */
    for (int i = 0; i < 2; i++) {
        const ride_reconcile_change *ch = nth(c, (size_t)i, RIDE_RECONCILE_PARTITION_OWNER);
        assert_int_equal(ch->app, 0);
        assert_int_equal(ch->stage, 0);
        assert_int_equal(ch->partition, i);
        assert_int_equal(ch->epoch, 1);
        assert_null(ch->releasing);
        assert_false(ch->failover);
        assert_non_null(ch->text);
        assert_event(ch, "partition_assigned", ch->text, "epoch 1");
        assert_string_equal(ch->event.app, "cctv");
        assert_string_equal(ch->event.stage, "gray");
        assert_int_equal(ch->event.partition, i);
    }
    /* One of the two is held as the stage's spare: the other runs both partitions. */
    const ride_reconcile_change *g = nth(c, 2, RIDE_RECONCILE_STAGE_GROUP);
    assert_int_equal(g->active_count, 1);
    assert_int_equal(g->spare_count, 1);
    assert_string_equal(c->plan.changes[0].text, g->active[0]);
    assert_string_equal(c->plan.changes[1].text, g->active[0]);
    assert_string_not_equal(g->spare[0], g->active[0]);
    cluster_free(c);
}

/* A worker whose heartbeat reports its processing thread stalled: still registered,
 * heartbeats fresh, yet failed over like a dead one, and the event says why. */
static void stall(ride_master_member *mb, int64_t stalled_ms)
{
    mb->hb_known = true;
    mb->hb.stalled_ms = stalled_ms;
}

/* w1, not alive, owned partition 0 at epoch 4 and w2 owns partition 1; w3 is the
 * stage's spare. Planned: partition 0 moves to w3 at epoch 5 at once (w1 is
 * fenced by the epoch, not waited for), the event naming why. */
static void w1_fails_over_to_w3(cluster *c, bool w1_stalled, const char *event_message)
{
    add_worker(c, "w1", false);
    if (w1_stalled)
        stall(&c->members[0], 2500);
    add_worker(c, "w2", true);
    add_worker(c, "w3", true);
    ride_master_app *a = running_app(c, TWO_PARTITIONS);
    set_owner(a, 0, "w1", 4);
    set_owner(a, 1, "w2", 2);
    set_group(a, "w1", "w2", "w3");
    partitions(c);
    const ride_reconcile_change *mv = nth(c, 0, RIDE_RECONCILE_PARTITION_OWNER);
    assert_int_equal(mv->partition, 0);
    assert_string_equal(mv->text, "w3");
    assert_int_equal(mv->epoch, 5);
    assert_true(mv->failover);
    assert_null(mv->releasing);
    assert_event(mv, "partition_failover", "w3", event_message);
    assert_int_equal(count_kind(c, RIDE_RECONCILE_PARTITION_OWNER), 1);
}

static void test_dead_worker_fails_over_to_spare(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    w1_fails_over_to_w3(c, false, "from w1 (failed), epoch 5");
    const ride_reconcile_change *g = nth(c, 1, RIDE_RECONCILE_STAGE_GROUP);
    assert_int_equal(g->active_count, 2);
    assert_string_equal(g->active[0], "w2");
    assert_string_equal(g->active[1], "w3");
    assert_int_equal(g->spare_count, 0);
    cluster_free(c);
}

static void test_liveness_fails_stalled_worker(void **state)
{
    (void)state;
    ride_master_member mb = {.present = true, .hb_changed_ms = 10000};
    assert_true(ride_reconcile_member_alive(&mb, 11000, 2000));
    assert_false(ride_reconcile_member_alive(&mb, 12001, 2000));
    mb.hb_known = true;
    assert_false(ride_reconcile_member_stalled(&mb));
    assert_true(ride_reconcile_member_alive(&mb, 11000, 2000));
    stall(&mb, 2500);
    assert_true(ride_reconcile_member_stalled(&mb));
    assert_false(ride_reconcile_member_alive(&mb, 11000, 2000));
    /* Its restart's first heartbeat reports no stall: alive again. */
    mb.hb.stalled_ms = 0;
    assert_true(ride_reconcile_member_alive(&mb, 11000, 2000));
    mb.present = false;
    assert_false(ride_reconcile_member_alive(&mb, 11000, 2000));
}

static void test_stalled_worker_fails_over_to_spare(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    w1_fails_over_to_w3(c, true, "from w1 (stalled), epoch 5");
    cluster_free(c);
}

static void test_live_owner_hands_over(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    add_worker(c, "w2", true);
    add_worker(c, "w3", true);
    ride_master_app *a = running_app(c, TWO_PARTITIONS);
    set_owner(a, 0, "w1", 1);
    set_owner(a, 1, "w1", 1);
    set_group(a, "w1", NULL, NULL);
    partitions(c);
    assert_int_equal(count_kind(c, RIDE_RECONCILE_PARTITION_OWNER), 1);
    const ride_reconcile_change *mv = nth(c, 0, RIDE_RECONCILE_PARTITION_OWNER);
    assert_non_null(mv->text);
    assert_string_not_equal(mv->text, "w1");
    assert_non_null(mv->releasing);
    assert_string_equal(mv->releasing, "w1");
    assert_false(mv->failover);
    assert_int_equal(mv->epoch, 2);
    assert_int_equal(mv->release_deadline_ms, c->now_ms + RIDE_MASTER_RELEASE_TIMEOUT_MS);
    assert_event(mv, "partition_moved", mv->text, "from w1 (rebalance), epoch 2");
    const ride_reconcile_change *g = nth(c, 1, RIDE_RECONCILE_STAGE_GROUP);
    assert_int_equal(g->active_count, 2);
    assert_int_equal(g->spare_count, 1);
    cluster_free(c);
}

static void test_no_eligible_worker_unowns_and_degrades(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    ride_master_app *a = running_app(c, EAST_ONLY);
    set_owner(a, 0, "w1", 3);
    set_group(a, "w1", NULL, NULL);
    partitions(c);
    const ride_reconcile_change *mv = nth(c, 0, RIDE_RECONCILE_PARTITION_OWNER);
    assert_null(mv->text);
    assert_event(mv, "partition_unowned", "w1", "no eligible worker");
    const ride_reconcile_change *g = nth(c, 1, RIDE_RECONCILE_STAGE_GROUP);
    assert_int_equal(g->active_count, 0);
    const ride_reconcile_change *issue = nth(c, 2, RIDE_RECONCILE_STAGE_ISSUE);
    assert_true(issue->issue[0] != '\0');
    assert_string_equal(issue->event.type, "stage_degraded");
    assert_string_equal(issue->event.message, issue->issue);

    /* Reported once: the same complaint next pass is no event. */
    snprintf(a->stages[0].issue, sizeof a->stages[0].issue, "%s", issue->issue);
    set_owner(a, 0, NULL, 4);
    ride_reconcile_plan_free(&c->plan);
    partitions(c);
    assert_int_equal(count_kind(c, RIDE_RECONCILE_STAGE_ISSUE), 0);
    assert_int_equal(count_kind(c, RIDE_RECONCILE_PARTITION_OWNER), 0);

    /* An east worker joins: placed again, and said so. */
    ride_master_member *east = add_member(c, "w2", true, true);
    static ride_kv zone[] = {{.key = "zone", .value = "east"}};
    east->worker.labels = zone;
    east->worker.label_count = 1;
    ride_reconcile_plan_free(&c->plan);
    partitions(c);
    mv = nth(c, 0, RIDE_RECONCILE_PARTITION_OWNER);
    assert_string_equal(mv->text, "w2");
    assert_int_equal(mv->epoch, 5);
    assert_string_equal(nth(c, 2, RIDE_RECONCILE_STAGE_ISSUE)->event.type, "stage_placed");
    cluster_free(c);
}

static void test_inactive_apps_are_not_placed(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    add_app(c, TWO_PARTITIONS, RIDE_APP_PENDING, false);
    add_app(c, EAST_ONLY, RIDE_APP_DELETING, true);
    partitions(c);
    assert_int_equal(c->plan.count, 0);
    cluster_free(c);
}

/* A new leader's check of a running application's topics is pending: the
 * owners it took over keep their partitions meanwhile. */
static void test_running_app_keeps_owners_while_topics_pending(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    ride_master_app *a = add_app(c, TWO_PARTITIONS, RIDE_APP_RUNNING, false);
    a->topics_exist = true;
    set_owner(a, 0, "w1", 1);
    set_owner(a, 1, "w1", 1);
    assert_true(ride_reconcile_app_active(a));
    partitions(c);
    for (size_t i = 0; i < c->plan.count; i++)
        assert_int_not_equal(c->plan.changes[i].kind, RIDE_RECONCILE_PARTITION_OWNER);
    a->topics_exist = false;
    assert_false(ride_reconcile_app_active(a));
    cluster_free(c);
}

/* ---- releases ---- */

/* w1 hands partition 0 over to w2; w2 owns partition 1. */
static ride_master_app *handing_over(cluster *c)
{
    add_worker(c, "w1", true);
    add_worker(c, "w2", true);
    ride_master_app *a = running_app(c, TWO_PARTITIONS);
    set_owner(a, 0, "w2", 2);
    set_owner(a, 1, "w2", 1);
    ride_master_partition *p0 = &a->stages[0].parts[0];
    p0->releasing = strdup("w1");
    p0->granted = false;
    p0->release_deadline_ms = c->now_ms + 1000;
    return a;
}

static void releases(cluster *c, const ride_reconcile_heartbeat *hbs, size_t n)
{
    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_releases_step(&v, hbs, n, &c->plan), 0);
}

static void test_release_waits_while_old_owner_runs(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    handing_over(c);
    ride_cluster_hb_partition running[] = {{.app = "cctv", .stage = "gray", .partition = 0}};
    ride_cluster_heartbeat hb = {.partitions = running, .partition_count = 1};
    ride_reconcile_heartbeat hbs[] = {{"w1", &hb}};
    releases(c, hbs, 1);
    assert_int_equal(c->plan.count, 0);
    cluster_free(c);
}

static void test_release_done_once_old_owner_lets_go(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    handing_over(c);
    ride_cluster_hb_partition other[] = {{.app = "cctv", .stage = "gray", .partition = 1}};
    ride_cluster_heartbeat hb = {.partitions = other, .partition_count = 1};
    ride_reconcile_heartbeat hbs[] = {{"w1", &hb}};
    releases(c, hbs, 1);
    assert_int_equal(c->plan.count, 1);
    const ride_reconcile_change *ch = nth(c, 0, RIDE_RECONCILE_RELEASE_DONE);
    assert_int_equal(ch->partition, 0);
    assert_false(ch->timed_out);
    assert_null(ch->event.type);
    cluster_free(c);
}

static void test_release_times_out(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    handing_over(c);
    c->now_ms += 1000;
    ride_cluster_hb_partition running[] = {{.app = "cctv", .stage = "gray", .partition = 0}};
    ride_cluster_heartbeat hb = {.partitions = running, .partition_count = 1};
    ride_reconcile_heartbeat hbs[] = {{"w1", &hb}};
    releases(c, hbs, 1);
    assert_int_equal(c->plan.count, 1);
    assert_true(nth(c, 0, RIDE_RECONCILE_RELEASE_DONE)->timed_out);
    cluster_free(c);
}

static void test_release_done_when_old_owner_dies(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    handing_over(c);
    c->members[0].alive = false;
    ride_cluster_hb_partition running[] = {{.app = "cctv", .stage = "gray", .partition = 0}};
    ride_cluster_heartbeat hb = {.partitions = running, .partition_count = 1};
    ride_reconcile_heartbeat hbs[] = {{"w1", &hb}};
    releases(c, hbs, 1);
    assert_int_equal(c->plan.count, 1);
    assert_false(nth(c, 0, RIDE_RECONCILE_RELEASE_DONE)->timed_out);
    cluster_free(c);
}

static void test_unstored_owner_is_stored_again(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    ride_master_app *a = running_app(c, TWO_PARTITIONS);
    set_owner(a, 0, "w1", 1);
    set_owner(a, 1, "w1", 1);
    a->stages[0].parts[1].stored = false;
    releases(c, NULL, 0);
    assert_int_equal(c->plan.count, 1);
    assert_int_equal(nth(c, 0, RIDE_RECONCILE_PARTITION_STORE)->partition, 1);
    cluster_free(c);
}

/* ---- sources ---- */

static void sources(cluster *c)
{
    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_sources_step(&v, &c->plan), 0);
}

static void test_source_goes_to_least_loaded_producer(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_producer(c, "p2", true, NULL);
    add_producer(c, "p1", true, NULL);
    running_app(c, TWO_PARTITIONS);
    ride_master_app *b = running_app(c, EAST_ONLY);
    set_producer(b, "p1", 0);
    c->apps[0]->sources[0].epoch = 2;
    sources(c);
    assert_int_equal(c->plan.count, 1);
    const ride_reconcile_change *ch = nth(c, 0, RIDE_RECONCILE_SOURCE_OWNER);
    assert_int_equal(ch->app, 0);
    assert_string_equal(ch->text, "p2");
    assert_int_equal(ch->epoch, 3);
    assert_event(ch, "source_assigned", "p2", "source cam, epoch 3");
    cluster_free(c);
}

static void test_sources_of_one_pass_spread(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_producer(c, "p1", true, NULL);
    add_producer(c, "p2", true, NULL);
    running_app(c, TWO_PARTITIONS);
    running_app(c, EAST_ONLY);
    sources(c);
    assert_int_equal(c->plan.count, 2);
    assert_string_equal(nth(c, 0, RIDE_RECONCILE_SOURCE_OWNER)->text, "p1");
    assert_string_equal(nth(c, 1, RIDE_RECONCILE_SOURCE_OWNER)->text, "p2");
    cluster_free(c);
}

static void test_local_source_prefers_listing_producer(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_producer(c, "p1", true, NULL);
    add_producer(c, "p2", true, "synthetic:64x48@10");
    running_app(c, TWO_PARTITIONS);
    sources(c);
    assert_string_equal(nth(c, 0, RIDE_RECONCILE_SOURCE_OWNER)->text, "p2");
    cluster_free(c);
}

static void test_dead_producer_source_moves(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_producer(c, "p1", false, NULL);
    add_producer(c, "p2", true, NULL);
    ride_master_app *a = running_app(c, TWO_PARTITIONS);
    set_producer(a, "p1", 4);
    sources(c);
    const ride_reconcile_change *ch = nth(c, 0, RIDE_RECONCILE_SOURCE_OWNER);
    assert_string_equal(ch->text, "p2");
    assert_int_equal(ch->epoch, 5);
    assert_event(ch, "source_moved", "p2", "source cam from p1 (failed), epoch 5");

    c->members[1].alive = false;
    ride_reconcile_plan_free(&c->plan);
    sources(c);
    ch = nth(c, 0, RIDE_RECONCILE_SOURCE_OWNER);
    assert_null(ch->text);
    assert_event(ch, "source_unassigned", "p1", "source cam: no live producer");
    cluster_free(c);
}

static void test_live_producer_keeps_source(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_producer(c, "p1", true, NULL);
    add_producer(c, "p2", true, "synthetic:64x48@10");
    ride_master_app *a = running_app(c, TWO_PARTITIONS);
    set_producer(a, "p1", 1);
    sources(c);
    assert_int_equal(c->plan.count, 0);
    a->sources[0].stored = false;
    sources(c);
    assert_int_equal(c->plan.count, 1);
    assert_int_equal(nth(c, 0, RIDE_RECONCILE_SOURCE_STORE)->source, 0);
    cluster_free(c);
}

/* ---- assignments ---- */

static void assignments(cluster *c)
{
    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_assignments_step(&v, &c->plan), 0);
}

static ride_cluster_assignment decode(const char *json)
{
    ride_cluster_assignment as;
    char err[256];
    assert_int_equal(ride_cluster_assignment_decode("test", json, strlen(json), &as, err,
                                                    sizeof err),
                     0);
    return as;
}

static void test_assignment_lists_granted_partitions(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    ride_master_app *a = handing_over(c);
    add_producer(c, "p1", true, NULL);
    set_producer(a, "p1", 3);
    add_record(c, "w1", 0);
    add_record(c, "w2", 4);
    add_record(c, "p1", 0);
    assignments(c);
    assert_int_equal(c->plan.count, 3);

    /* The old owner's assignment drops the partition it hands over. */
    const ride_reconcile_change *w1 = nth(c, 0, RIDE_RECONCILE_ASSIGNMENT_WRITE);
    assert_int_equal(w1->record, 0);
    assert_int_equal(w1->partition_count, 0);
    assert_int_equal(w1->epoch, 1);

    const ride_reconcile_change *w2 = nth(c, 1, RIDE_RECONCILE_ASSIGNMENT_WRITE);
    assert_int_equal(w2->record, 1);
    assert_int_equal(w2->epoch, 5);
    assert_int_equal(w2->partition_count, 1); /* partition 0 waits for w1 to let go */
    ride_cluster_assignment as = decode(w2->text);
    assert_int_equal(as.generation, 7);
    assert_int_equal(as.epoch, 5);
    assert_int_equal(as.partition_count, 1);
    assert_int_equal(as.partitions[0].partition, 1);
    assert_string_equal(as.partitions[0].input_topic, "ride.cctv.gray");
    ride_cluster_assignment_free(&as);
    as = decode(w2->key);
    assert_int_equal(as.generation, 0);
    assert_int_equal(as.epoch, 0);
    ride_cluster_assignment_free(&as);

    const ride_reconcile_change *p1 = nth(c, 2, RIDE_RECONCILE_ASSIGNMENT_WRITE);
    assert_int_equal(p1->record, 2);
    assert_int_equal(p1->source_count, 1);
    as = decode(p1->text);
    assert_int_equal(as.sources[0].epoch, 3);
    assert_string_equal(as.sources[0].topic, "ride.cctv.gray");
    assert_int_equal(as.sources[0].partitions, 2);
    ride_cluster_assignment_free(&as);
    cluster_free(c);
}

static void test_unchanged_assignment_is_not_rewritten(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    ride_master_app *a = running_app(c, TWO_PARTITIONS);
    set_owner(a, 0, "w1", 1);
    set_owner(a, 1, "w1", 1);
    add_record(c, "w1", 2);
    assignments(c);
    assert_int_equal(c->plan.count, 1);
    c->assignments[0].key = strdup(nth(c, 0, RIDE_RECONCILE_ASSIGNMENT_WRITE)->key);
    c->assignments[0].epoch = 3;
    ride_reconcile_plan_free(&c->plan);
    assignments(c);
    assert_int_equal(c->plan.count, 0);

    /* A new epoch of one partition is new content. */
    a->stages[0].parts[1].epoch = 2;
    assignments(c);
    assert_int_equal(c->plan.count, 1);
    assert_int_equal(nth(c, 0, RIDE_RECONCILE_ASSIGNMENT_WRITE)->epoch, 4);
    cluster_free(c);
}

/* The sink stage's entries name the sink's group (one writer per sink partition)
 * when the manifest gives one, and no group otherwise. */
static void expect_sink_output(const char *yaml, const char *group, int writers)
{
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    ride_master_app *a = running_app(c, yaml);
    set_owner(a, 0, "w1", 1);
    set_owner(a, 1, "w1", 1);
    add_record(c, "w1", 2);
    assignments(c);
    assert_int_equal(c->plan.count, 1);
    ride_cluster_assignment as = decode(nth(c, 0, RIDE_RECONCILE_ASSIGNMENT_WRITE)->text);
    assert_int_equal(as.partition_count, 2);
    for (size_t i = 0; i < as.partition_count; i++) {
        const ride_cluster_partition_task *t = &as.partitions[i];
        assert_string_equal(t->output_topic, "cctv.gray.out");
        assert_int_equal(t->output_partitions, 2);
        if (group)
            assert_string_equal(t->output_group, group);
        else
            assert_null(t->output_group);
        assert_int_equal(t->output_writers, writers);
    }
    ride_cluster_assignment_free(&as);
    cluster_free(c);
}

static void test_sink_group_bounds_sink_stage(void **state)
{
    (void)state;
    expect_sink_output(SINK_GROUP, "cctv.readers", 1);
    expect_sink_output(TWO_PARTITIONS, NULL, 0);
}

static void test_departed_member_loses_assignment(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w2", true);
    add_record(c, "gone1", 1);
    add_record(c, "w2", 1);
    add_record(c, "gone2", 1);
    assignments(c);
    /* w2's first write, then the departed, highest record first. */
    assert_int_equal(c->plan.count, 3);
    assert_int_equal(nth(c, 0, RIDE_RECONCILE_ASSIGNMENT_WRITE)->record, 1);
    assert_int_equal(nth(c, 1, RIDE_RECONCILE_ASSIGNMENT_DELETE)->record, 2);
    assert_int_equal(nth(c, 2, RIDE_RECONCILE_ASSIGNMENT_DELETE)->record, 0);
    cluster_free(c);
}

static void test_member_without_record_is_skipped(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    assignments(c);
    assert_int_equal(c->plan.count, 0);
    cluster_free(c);
}

/* ---- deletion ---- */

static void test_deleting_app_is_removed_and_unassigned(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    running_app(c, TWO_PARTITIONS);
    ride_master_app *gone = running_app(c, EAST_ONLY);
    set_owner(gone, 0, "w1", 1);
    set_owner(c->apps[0], 0, "w1", 1);
    gone->phase = RIDE_APP_DELETING;
    add_record(c, "w1", 1);

    ride_reconcile_view v = view(c);
    assert_int_equal(ride_reconcile_deletions_step(&v, &c->plan), 0);
    assert_int_equal(c->plan.count, 1);
    const ride_reconcile_change *del = nth(c, 0, RIDE_RECONCILE_APP_DELETE);
    assert_int_equal(del->app, 1);
    assert_event(del, "app_deleted", NULL, "");
    assert_string_equal(del->event.app, "east");

    /* Its partition is out of the worker's assignment already. */
    ride_reconcile_plan_free(&c->plan);
    assignments(c);
    ride_cluster_assignment as = decode(nth(c, 0, RIDE_RECONCILE_ASSIGNMENT_WRITE)->text);
    assert_int_equal(as.partition_count, 1);
    assert_string_equal(as.partitions[0].app, "cctv");
    ride_cluster_assignment_free(&as);
    cluster_free(c);
}

/* ---- a settled cluster ---- */

static void test_settled_cluster_changes_nothing(void **state)
{
    (void)state;
    cluster *c = cluster_new();
    add_worker(c, "w1", true);
    add_worker(c, "w2", true);
    add_producer(c, "p1", true, NULL);
    ride_master_app *a = running_app(c, TWO_PARTITIONS);
    set_owner(a, 0, "w1", 1);
    set_owner(a, 1, "w2", 1);
    set_group(a, "w1", "w2", NULL);
    set_producer(a, "p1", 1);
    for (size_t i = 0; i < c->member_count; i++)
        add_record(c, c->members[i].id, 1);
    assignments(c);
    assert_int_equal(c->plan.count, 3);
    for (size_t i = 0; i < 3; i++)
        c->assignments[i].key = strdup(c->plan.changes[i].key);
    ride_reconcile_plan_free(&c->plan);

    ride_reconcile_view v = view(c);
    ride_reconcile_topics t[] = {{.ready = 1}};
    assert_int_equal(ride_reconcile_topics_step(&v, t, &c->plan), 0);
    partitions(c);
    /* The planner always restates the group; nothing else changes. */
    assert_int_equal(c->plan.count, 1);
    const ride_reconcile_change *g = nth(c, 0, RIDE_RECONCILE_STAGE_GROUP);
    assert_int_equal(g->active_count, 2);
    ride_reconcile_plan_free(&c->plan);
    releases(c, NULL, 0);
    sources(c);
    assignments(c);
    assert_int_equal(ride_reconcile_deletions_step(&v, &c->plan), 0);
    assert_int_equal(c->plan.count, 0);
    cluster_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics_ready_runs_pending_app),
        cmocka_unit_test(test_topics_pending_changes_nothing),
        cmocka_unit_test(test_topics_error_sets_message_once),
        cmocka_unit_test(test_topics_skip_ready_and_deleting_apps),
        cmocka_unit_test(test_topics_ready_on_running_app_is_silent),
        cmocka_unit_test(test_running_app_keeps_owners_while_topics_pending),
        cmocka_unit_test(test_new_app_gets_owners_and_group),
        cmocka_unit_test(test_dead_worker_fails_over_to_spare),
        cmocka_unit_test(test_liveness_fails_stalled_worker),
        cmocka_unit_test(test_stalled_worker_fails_over_to_spare),
        cmocka_unit_test(test_live_owner_hands_over),
        cmocka_unit_test(test_no_eligible_worker_unowns_and_degrades),
        cmocka_unit_test(test_inactive_apps_are_not_placed),
        cmocka_unit_test(test_release_waits_while_old_owner_runs),
        cmocka_unit_test(test_release_done_once_old_owner_lets_go),
        cmocka_unit_test(test_release_times_out),
        cmocka_unit_test(test_release_done_when_old_owner_dies),
        cmocka_unit_test(test_unstored_owner_is_stored_again),
        cmocka_unit_test(test_source_goes_to_least_loaded_producer),
        cmocka_unit_test(test_sources_of_one_pass_spread),
        cmocka_unit_test(test_local_source_prefers_listing_producer),
        cmocka_unit_test(test_dead_producer_source_moves),
        cmocka_unit_test(test_live_producer_keeps_source),
        cmocka_unit_test(test_unchanged_assignment_is_not_rewritten),
        cmocka_unit_test(test_sink_group_bounds_sink_stage),
        cmocka_unit_test(test_assignment_lists_granted_partitions),
        cmocka_unit_test(test_departed_member_loses_assignment),
        cmocka_unit_test(test_member_without_record_is_skipped),
        cmocka_unit_test(test_deleting_app_is_removed_and_unassigned),
        cmocka_unit_test(test_settled_cluster_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
