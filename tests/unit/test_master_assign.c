/* test_master_assign.c - the assignment planner: exact plans for the basic cases,
 * independence from the input order, and invariants over random scenarios. */
#include "ride_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assign.h"

#define MAX_WORKERS 16
#define MAX_STAGES 6
#define MAX_OWNERS 512
#define MAX_MEMBERS 256

static const char *const IDS[MAX_WORKERS] = {"w1",  "w2",  "w3",  "w4",  "w5",  "w6",
                                             "w7",  "w8",  "w9",  "w10", "w11", "w12",
                                             "w13", "w14", "w15", "w16"};
static const char *const STAGE_NAMES[MAX_STAGES] = {"s0", "s1", "s2", "s3", "s4", "s5"};
static const ride_kv EAST[] = {{.key = "zone", .value = "east"}};
static const ride_kv WEST[] = {{.key = "zone", .value = "west"}};

/* An input with room for everything, and the plan computed from it. */
typedef struct scenario {
    ride_assign_worker workers[MAX_WORKERS];
    ride_assign_stage stages[MAX_STAGES];
    ride_assign_owner owners[MAX_OWNERS];
    ride_assign_member members[MAX_MEMBERS];
    ride_assign_input in;
    ride_assign_plan plan;
} scenario;

static void add_worker(scenario *sc, const char *id, int gpus, const ride_kv *label)
{
    ride_assign_worker *w = &sc->workers[sc->in.worker_count++];
    *w = (ride_assign_worker){.id = id, .cores = 8, .gpus = gpus, .alive = true};
    if (label) {
        w->labels = label;
        w->label_count = 1;
    }
}

static ride_assign_stage *add_stage(scenario *sc, const char *stage, int partitions, int min,
                                    int max, int spares)
{
    ride_assign_stage *s = &sc->stages[sc->in.stage_count++];
    *s = (ride_assign_stage){.app = "cctv",
                             .stage = stage,
                             .partitions = partitions,
                             .workers = {min, max, spares},
                             .device = RIDE_STAGE_CPU};
    return s;
}

static ride_assign_worker *worker(scenario *sc, const char *id)
{
    for (size_t i = 0; i < sc->in.worker_count; i++)
        if (!strcmp(sc->workers[i].id, id))
            return &sc->workers[i];
    fail_msg("no worker %s", id);
    return NULL;
}

static void plan_ok(scenario *sc)
{
    char err[256];
    sc->in.workers = sc->workers;
    sc->in.stages = sc->stages;
    sc->in.owners = sc->owners;
    sc->in.members = sc->members;
    int rc = ride_assign_plan_compute(&sc->in, &sc->plan, err, sizeof(err));
    if (rc)
        fail_msg("plan failed: %s", err);
}

/* The plan becomes the current state; the previous plan is released. */
static void adopt(scenario *sc)
{
    assert_true(sc->plan.owner_count <= MAX_OWNERS && sc->plan.member_count <= MAX_MEMBERS);
    sc->in.owner_count = sc->plan.owner_count;
    for (size_t i = 0; i < sc->plan.owner_count; i++)
        sc->owners[i] = sc->plan.owners[i];
    sc->in.member_count = sc->plan.member_count;
    for (size_t i = 0; i < sc->plan.member_count; i++)
        sc->members[i] = sc->plan.members[i];
    ride_assign_plan_free(&sc->plan);
}

/* The plan's owners of one stage as "owner:epoch owner:epoch ...", "-" for none. */
static const char *owners_of(const scenario *sc, const char *stage, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sc->plan.owner_count; i++) {
        const ride_assign_owner *o = &sc->plan.owners[i];
        if (strcmp(o->stage, stage))
            continue;
        n += (size_t)snprintf(buf + n, len - n, "%s%s:%lld", n ? " " : "",
                              o->owner ? o->owner : "-", (long long)o->epoch);
    }
    return buf;
}

/* The plan's members of one stage as "w1 w2 | w4" (active | spare). */
static const char *members_of(const scenario *sc, const char *stage, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int role = RIDE_ASSIGN_ACTIVE; role <= RIDE_ASSIGN_SPARE; role++) {
        if (role == RIDE_ASSIGN_SPARE)
            n += (size_t)snprintf(buf + n, len - n, "%s", n ? " |" : "|");
        for (size_t i = 0; i < sc->plan.member_count; i++) {
            const ride_assign_member *m = &sc->plan.members[i];
            if (!strcmp(m->stage, stage) && (int)m->role == role)
                n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", m->worker);
        }
    }
    return buf;
}

static void expect(const scenario *sc, const char *stage, const char *owners,
                   const char *members)
{
    char buf[1024];
    assert_string_equal(owners_of(sc, stage, buf, sizeof(buf)), owners);
    assert_string_equal(members_of(sc, stage, buf, sizeof(buf)), members);
}

/* ---- exact plans ----------------------------------------------------------------- */

static void test_three_workers_six_partitions(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    add_worker(sc, "w3", 0, NULL);
    add_worker(sc, "w1", 0, NULL);
    add_worker(sc, "w2", 0, NULL);
    add_stage(sc, "gray", 6, 3, 3, 0);
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w2:1 w2:1 w3:1 w3:1", "w1 w2 w3 |");
    assert_int_equal(sc->plan.move_count, 6);
    assert_null(sc->plan.moves[0].from);
    assert_string_equal(sc->plan.moves[0].to, "w1");
    assert_int_equal(sc->plan.member_change_count, 3);
    assert_int_equal(sc->plan.issue_count, 0);
    adopt(sc);
    plan_ok(sc);
    assert_int_equal(sc->plan.move_count, 0);
    assert_int_equal(sc->plan.member_change_count, 0);
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_dead_worker_fails_over_to_spare(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    for (int i = 0; i < 5; i++)
        add_worker(sc, IDS[i], 0, NULL);
    add_stage(sc, "gray", 6, 3, 3, 1);
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w2:1 w2:1 w3:1 w3:1", "w1 w2 w3 | w4");
    adopt(sc);

    /* A free worker that sorts first does not take the spare's place. */
    add_worker(sc, "w0", 0, NULL);
    worker(sc, "w2")->alive = false;
    plan_ok(sc);
    /* Only w2's partitions move, to the spare, and only their epochs grow; a free
     * worker becomes the new spare. */
    expect(sc, "gray", "w1:1 w1:1 w4:2 w4:2 w3:1 w3:1", "w1 w3 w4 | w0");
    assert_int_equal(sc->plan.move_count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(sc->plan.moves[i].from, "w2");
        assert_string_equal(sc->plan.moves[i].to, "w4");
        assert_int_equal(sc->plan.moves[i].epoch, 2);
    }
    const ride_assign_member_change *c = sc->plan.member_changes;
    assert_int_equal(sc->plan.member_change_count, 3);
    assert_string_equal(c[0].worker, "w0");
    assert_int_equal(c[0].from, RIDE_ASSIGN_NONE);
    assert_int_equal(c[0].to, RIDE_ASSIGN_SPARE);
    assert_string_equal(c[1].worker, "w2");
    assert_int_equal(c[1].from, RIDE_ASSIGN_ACTIVE);
    assert_int_equal(c[1].to, RIDE_ASSIGN_NONE);
    assert_string_equal(c[2].worker, "w4");
    assert_int_equal(c[2].from, RIDE_ASSIGN_SPARE);
    assert_int_equal(c[2].to, RIDE_ASSIGN_ACTIVE);
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_joining_worker_moves_minimum(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    for (int i = 0; i < 3; i++)
        add_worker(sc, IDS[i], 0, NULL);
    add_stage(sc, "gray", 6, 4, 4, 0);
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w2:1 w2:1 w3:1 w3:1", "w1 w2 w3 |");
    assert_int_equal(sc->plan.issue_count, 1);
    assert_false(sc->plan.issues[0].unplaced);
    adopt(sc);

    add_worker(sc, "w4", 0, NULL);
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w2:1 w2:1 w3:1 w4:2", "w1 w2 w3 w4 |");
    assert_int_equal(sc->plan.move_count, 1);
    assert_int_equal(sc->plan.issue_count, 0);
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_lagging_partition_moves_first(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    for (int i = 0; i < 2; i++)
        add_worker(sc, IDS[i], 0, NULL);
    ride_assign_stage *s = add_stage(sc, "gray", 4, 2, 2, 0);
    sc->owners[0] = (ride_assign_owner){"cctv", "gray", 0, "w1", 5};
    sc->owners[1] = (ride_assign_owner){"cctv", "gray", 1, "w1", 5};
    sc->owners[2] = (ride_assign_owner){"cctv", "gray", 2, "w1", 5};
    sc->owners[3] = (ride_assign_owner){"cctv", "gray", 3, "w1", 5};
    sc->in.owner_count = 4;
    static const int64_t lag[4] = {10, 900, 20, 800};
    s->lag = lag;
    plan_ok(sc);
    expect(sc, "gray", "w1:5 w2:6 w1:5 w2:6", "w1 w2 |");
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_min_max_and_target(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    for (int i = 0; i < 5; i++)
        add_worker(sc, IDS[i], 0, NULL);
    ride_assign_stage *s = add_stage(sc, "gray", 6, 2, 3, 0);
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w1:1 w2:1 w2:1 w2:1", "w1 w2 |");
    ride_assign_plan_free(&sc->plan);

    s->target = 10;
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w2:1 w2:1 w3:1 w3:1", "w1 w2 w3 |");
    ride_assign_plan_free(&sc->plan);

    /* An active worker owns at least one partition. */
    s->partitions = 2;
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w2:1", "w1 w2 |");
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_scale_out_and_in(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    for (int i = 0; i < 4; i++)
        add_worker(sc, IDS[i], 0, NULL);
    ride_assign_stage *s = add_stage(sc, "gray", 8, 1, 4, 0);
    s->target = 2;
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w1:1 w1:1 w2:1 w2:1 w2:1 w2:1", "w1 w2 |");
    adopt(sc);

    s->target = 4;
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w3:2 w3:2 w2:1 w2:1 w4:2 w4:2", "w1 w2 w3 w4 |");
    assert_int_equal(sc->plan.move_count, 4);
    adopt(sc);

    /* With no target the group keeps its size. */
    s->target = 0;
    plan_ok(sc);
    assert_int_equal(sc->plan.move_count, 0);
    ride_assign_plan_free(&sc->plan);

    s->target = 2;
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w1:3 w1:3 w2:1 w2:1 w2:3 w2:3", "w1 w2 |");
    assert_int_equal(sc->plan.move_count, 4);
    assert_int_equal(sc->plan.member_change_count, 2);
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_fill_uses_every_worker_but_spares(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    for (int i = 0; i < 4; i++)
        add_worker(sc, IDS[i], 0, NULL);
    add_stage(sc, "gray", 6, 1, 6, 1)->fill = true;
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w2:1 w2:1 w3:1 w3:1", "w1 w2 w3 | w4");
    adopt(sc);

    /* A dead active worker is replaced by the spare, the group keeps its size. */
    worker(sc, "w2")->alive = false;
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w4:2 w4:2 w3:1 w3:1", "w1 w3 w4 |");
    adopt(sc);

    /* A joining worker first becomes the spare; with the next one the group grows:
     * the spare (ready) joins the work and the newcomer is the new spare. */
    add_worker(sc, "w5", 0, NULL);
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w4:2 w4:2 w3:1 w3:1", "w1 w3 w4 | w5");
    adopt(sc);
    add_worker(sc, "w6", 0, NULL);
    plan_ok(sc);
    assert_int_equal(sc->plan.move_count, 1);
    expect(sc, "gray", "w1:1 w1:1 w4:2 w5:3 w3:1 w3:1", "w1 w3 w4 w5 | w6");
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_spares_kept_idle(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    for (int i = 0; i < 5; i++)
        add_worker(sc, IDS[i], 0, NULL);
    add_stage(sc, "gray", 4, 2, 2, 2);
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w2:1 w2:1", "w1 w2 | w3 w4");
    adopt(sc);
    /* A new worker does not displace the spares in place. */
    add_worker(sc, "w0", 0, NULL);
    plan_ok(sc);
    expect(sc, "gray", "w1:1 w1:1 w2:1 w2:1", "w1 w2 | w3 w4");
    assert_int_equal(sc->plan.member_change_count, 0);
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_gpu_and_selector(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    add_worker(sc, "w1", 0, EAST);
    add_worker(sc, "w2", 1, WEST);
    add_worker(sc, "w3", 2, EAST);
    add_worker(sc, "w4", 0, WEST);
    ride_assign_stage *gpu = add_stage(sc, "detect", 4, 2, 2, 0);
    gpu->device = RIDE_STAGE_GPU;
    ride_assign_stage *east = add_stage(sc, "gray", 2, 2, 2, 0);
    east->selector = EAST;
    east->selector_count = 1;
    ride_assign_stage *big = add_stage(sc, "huge", 2, 1, 1, 0);
    big->device = RIDE_STAGE_GPU;
    big->gpus = 2;
    plan_ok(sc);
    expect(sc, "detect", "w2:1 w2:1 w3:1 w3:1", "w2 w3 |");
    expect(sc, "gray", "w1:1 w3:1", "w1 w3 |");
    expect(sc, "huge", "w3:1 w3:1", "w3 |");
    adopt(sc);

    /* A relabelled worker is no longer eligible and loses its partition. */
    worker(sc, "w1")->labels = WEST;
    plan_ok(sc);
    expect(sc, "gray", "w3:2 w3:1", "w3 |");
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_no_eligible_worker(void **state)
{
    (void)state;
    scenario *sc = calloc(1, sizeof(*sc));
    add_worker(sc, "w1", 1, NULL);
    ride_assign_stage *s = add_stage(sc, "detect", 2, 1, 1, 0);
    s->device = RIDE_STAGE_GPU;
    plan_ok(sc);
    expect(sc, "detect", "w1:1 w1:1", "w1 |");
    adopt(sc);

    worker(sc, "w1")->gpus = 0;
    plan_ok(sc);
    expect(sc, "detect", "-:2 -:2", "|");
    assert_int_equal(sc->plan.issue_count, 1);
    assert_true(sc->plan.issues[0].unplaced);
    assert_string_equal(sc->plan.issues[0].stage, "detect");
    assert_non_null(strstr(sc->plan.issues[0].reason, "GPU"));
    assert_int_equal(sc->plan.move_count, 2);
    assert_null(sc->plan.moves[0].to);
    adopt(sc);

    /* Unowned stays unowned without further epoch changes. */
    plan_ok(sc);
    expect(sc, "detect", "-:2 -:2", "|");
    assert_int_equal(sc->plan.move_count, 0);
    ride_assign_plan_free(&sc->plan);

    worker(sc, "w1")->alive = false;
    plan_ok(sc);
    assert_non_null(strstr(sc->plan.issues[0].reason, "no alive worker"));
    ride_assign_plan_free(&sc->plan);
    free(sc);
}

static void test_invalid_input(void **state)
{
    (void)state;
    char err[256];
    scenario *sc = calloc(1, sizeof(*sc));
    add_worker(sc, "w1", 0, NULL);
    add_worker(sc, "w1", 0, NULL);
    add_stage(sc, "gray", 2, 1, 1, 0);
    sc->in.workers = sc->workers;
    sc->in.stages = sc->stages;
    assert_int_equal(ride_assign_plan_compute(&sc->in, &sc->plan, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
    assert_null(sc->plan.owners);

    sc->workers[1].id = "w2";
    sc->owners[0] = (ride_assign_owner){"cctv", "gray", 0, "w1", 1};
    sc->owners[1] = (ride_assign_owner){"cctv", "gray", 0, "w2", 1};
    sc->in.owners = sc->owners;
    sc->in.owner_count = 2;
    assert_int_equal(ride_assign_plan_compute(&sc->in, &sc->plan, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "two owner records"));

    sc->owners[1].partition = 1;
    sc->owners[1].epoch = -1;
    assert_int_equal(ride_assign_plan_compute(&sc->in, &sc->plan, err, sizeof(err)), -1);
    sc->in.owner_count = 0;
    sc->stages[0].workers.max = 0;
    assert_int_equal(ride_assign_plan_compute(&sc->in, &sc->plan, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cctv/gray"));
    sc->stages[0].workers.max = 1;
    sc->in.workers = NULL;
    assert_int_equal(ride_assign_plan_compute(&sc->in, &sc->plan, err, sizeof(err)), -1);
    assert_int_equal(ride_assign_plan_compute(NULL, &sc->plan, err, sizeof(err)), -1);
    free(sc);
}

/* ---- random scenarios ------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33) % n;
}

static void random_scenario(scenario *sc)
{
    memset(sc, 0, sizeof(*sc));
    size_t nw = rnd(MAX_WORKERS + 1);
    for (size_t i = 0; i < nw; i++) {
        add_worker(sc, IDS[i], (int)rnd(3) == 0 ? (int)rnd(3) : 0,
                   rnd(3) == 0 ? NULL : rnd(2) ? EAST : WEST);
        sc->workers[i].alive = rnd(5) != 0;
        sc->workers[i].cores = 1 + (int)rnd(4);
    }
    size_t ns = 1 + rnd(4);
    for (size_t i = 0; i < ns; i++) {
        int min = (int)rnd(4);
        int max = min + (int)rnd(3);
        ride_assign_stage *s = add_stage(sc, STAGE_NAMES[i], 1 + (int)rnd(12), min,
                                         max > 0 ? max : 1, (int)rnd(3));
        s->app = rnd(2) ? "cctv" : "lab";
        s->device = (ride_stage_device)rnd(3);
        s->target = rnd(3) == 0 ? (int)rnd(5) : 0;
        if (rnd(4) == 0) {
            s->selector = rnd(2) ? EAST : WEST;
            s->selector_count = 1;
        }
    }
    /* A current state that may be anything the input format allows: owners that
     * are dead, unknown or ineligible, partitions beyond the count, odd members. */
    for (size_t i = 0; i < ns; i++)
        for (int p = 0; p < 14; p++)
            if (rnd(3) != 0 && sc->in.owner_count < MAX_OWNERS)
                sc->owners[sc->in.owner_count++] = (ride_assign_owner){
                    sc->stages[i].app, sc->stages[i].stage, p,
                    rnd(8) == 0 ? NULL : rnd(10) == 0 ? "ghost" : IDS[rnd(MAX_WORKERS)],
                    (int64_t)rnd(6)};
    size_t nm = rnd(12);
    for (size_t i = 0; i < nm; i++) {
        const ride_assign_stage *s = &sc->stages[rnd((uint32_t)ns)];
        sc->members[sc->in.member_count++] = (ride_assign_member){
            s->app, s->stage, IDS[rnd(MAX_WORKERS)],
            rnd(2) ? RIDE_ASSIGN_ACTIVE : RIDE_ASSIGN_SPARE};
    }
}

static bool eligible(const ride_assign_worker *w, const ride_assign_stage *s)
{
    if (!w->alive)
        return false;
    if (s->device == RIDE_STAGE_GPU && w->gpus < (s->gpus > 1 ? s->gpus : 1))
        return false;
    if (s->selector_count == 0)
        return true;
    return w->label_count == 1 && !strcmp(w->labels[0].value, s->selector[0].value);
}

static const ride_assign_worker *find_worker(const ride_assign_input *in, const char *id)
{
    for (size_t i = 0; i < in->worker_count; i++)
        if (!strcmp(in->workers[i].id, id))
            return &in->workers[i];
    return NULL;
}

static const ride_assign_owner *current_owner(const ride_assign_input *in,
                                              const ride_assign_owner *o)
{
    for (size_t i = 0; i < in->owner_count; i++) {
        const ride_assign_owner *c = &in->owners[i];
        if (!strcmp(c->app, o->app) && !strcmp(c->stage, o->stage) &&
            c->partition == o->partition)
            return c;
    }
    return NULL;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static int int_desc(const void *a, const void *b)
{
    return *(const int *)b - *(const int *)a;
}

/* Given the plan's active workers, the fewest moves that balance the stage: each
 * active worker keeps at most its share, the larger shares going to those owning
 * the most now. The plan must achieve exactly that. */
static void check_minimum_moves(const scenario *sc, const ride_assign_stage *s)
{
    int cur[MAX_WORKERS], n = 0;
    for (size_t i = 0; i < sc->plan.member_count; i++) {
        const ride_assign_member *m = &sc->plan.members[i];
        if (strcmp(m->app, s->app) || strcmp(m->stage, s->stage) ||
            m->role != RIDE_ASSIGN_ACTIVE)
            continue;
        cur[n] = 0;
        for (size_t j = 0; j < sc->in.owner_count; j++) {
            const ride_assign_owner *o = &sc->in.owners[j];
            cur[n] += !strcmp(o->app, s->app) && !strcmp(o->stage, s->stage) &&
                      o->partition < s->partitions && same_str(o->owner, m->worker);
        }
        n++;
    }
    if (n == 0)
        return;
    qsort(cur, (size_t)n, sizeof(*cur), int_desc);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int share = s->partitions / n + (i < s->partitions % n);
        kept += cur[i] < share ? cur[i] : share;
    }
    int moves = 0;
    for (size_t i = 0; i < sc->plan.move_count; i++)
        moves += !strcmp(sc->plan.moves[i].app, s->app) &&
                 !strcmp(sc->plan.moves[i].stage, s->stage);
    assert_int_equal(moves, s->partitions - kept);
}

static void check_stage(const scenario *sc, const ride_assign_stage *s)
{
    const ride_assign_input *in = &sc->in;
    const ride_assign_plan *plan = &sc->plan;
    int n_eligible = 0;
    for (size_t i = 0; i < in->worker_count; i++)
        n_eligible += eligible(&in->workers[i], s);

    int owned[MAX_WORKERS] = {0};
    int parts = 0;
    for (size_t i = 0; i < plan->owner_count; i++) {
        const ride_assign_owner *o = &plan->owners[i];
        if (strcmp(o->app, s->app) || strcmp(o->stage, s->stage))
            continue;
        assert_int_equal(o->partition, parts++);
        const ride_assign_owner *cur = current_owner(in, o);
        const char *cur_name = cur ? cur->owner : NULL;
        int64_t cur_epoch = cur ? cur->epoch : 0;
        assert_int_equal(o->epoch, cur_epoch + !same_str(cur_name, o->owner));
        if (n_eligible == 0) {
            assert_null(o->owner);
            continue;
        }
        assert_non_null(o->owner);
        const ride_assign_worker *w = find_worker(in, o->owner);
        assert_non_null(w);
        assert_true(eligible(w, s));
        owned[w - in->workers]++;
    }
    assert_int_equal(parts, s->partitions);

    int active = 0, spares = 0, lo = 1 << 30, hi = 0;
    for (size_t i = 0; i < plan->member_count; i++) {
        const ride_assign_member *m = &plan->members[i];
        if (strcmp(m->app, s->app) || strcmp(m->stage, s->stage))
            continue;
        const ride_assign_worker *w = find_worker(in, m->worker);
        assert_non_null(w);
        assert_true(eligible(w, s));
        int k = owned[w - in->workers];
        if (m->role == RIDE_ASSIGN_SPARE) {
            spares++;
            assert_int_equal(k, 0);
            continue;
        }
        active++;
        assert_true(k >= 1);
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    int total_owners = 0;
    for (int i = 0; i < MAX_WORKERS; i++)
        total_owners += owned[i] > 0;
    assert_int_equal(active, total_owners);
    if (active > 0)
        assert_true(hi - lo <= 1);
    int floor = s->workers.min > 1 ? s->workers.min : 1;
    floor = floor < s->partitions ? floor : s->partitions;
    floor = floor < n_eligible ? floor : n_eligible;
    assert_true(active >= floor && active <= s->workers.max);
    assert_true(spares <= s->workers.spares);
    /* Spares are recruited whenever an eligible worker is left over. */
    assert_true(spares == s->workers.spares || active + spares == n_eligible);
}

static void check_invariants(const scenario *sc)
{
    size_t moves = 0;
    for (size_t i = 0; i < sc->in.stage_count; i++) {
        check_stage(sc, &sc->stages[i]);
        check_minimum_moves(sc, &sc->stages[i]);
    }
    for (size_t i = 0; i < sc->plan.owner_count; i++) {
        const ride_assign_owner *cur = current_owner(&sc->in, &sc->plan.owners[i]);
        moves += !same_str(cur ? cur->owner : NULL, sc->plan.owners[i].owner);
    }
    assert_int_equal(sc->plan.move_count, moves);
}

/* Two plans are equal field by field (strings by content). */
static void assert_plans_equal(const ride_assign_plan *a, const ride_assign_plan *b)
{
    assert_int_equal(a->owner_count, b->owner_count);
    for (size_t i = 0; i < a->owner_count; i++) {
        assert_string_equal(a->owners[i].stage, b->owners[i].stage);
        assert_int_equal(a->owners[i].partition, b->owners[i].partition);
        assert_true(same_str(a->owners[i].owner, b->owners[i].owner));
        assert_int_equal(a->owners[i].epoch, b->owners[i].epoch);
    }
    assert_int_equal(a->member_count, b->member_count);
    for (size_t i = 0; i < a->member_count; i++) {
        assert_string_equal(a->members[i].stage, b->members[i].stage);
        assert_string_equal(a->members[i].worker, b->members[i].worker);
        assert_int_equal(a->members[i].role, b->members[i].role);
    }
    assert_int_equal(a->move_count, b->move_count);
    for (size_t i = 0; i < a->move_count; i++) {
        assert_int_equal(a->moves[i].partition, b->moves[i].partition);
        assert_true(same_str(a->moves[i].from, b->moves[i].from));
        assert_true(same_str(a->moves[i].to, b->moves[i].to));
    }
    assert_int_equal(a->member_change_count, b->member_change_count);
    assert_int_equal(a->issue_count, b->issue_count);
    for (size_t i = 0; i < a->issue_count; i++)
        assert_string_equal(a->issues[i].reason, b->issues[i].reason);
}

#define SHUFFLE(arr, n)                                                                    \
    do {                                                                                   \
        for (size_t i_ = (n); i_ > 1; i_--) {                                              \
            size_t j_ = rnd((uint32_t)i_);                                                 \
            __typeof__((arr)[0]) t_ = (arr)[i_ - 1];                                       \
            (arr)[i_ - 1] = (arr)[j_];                                                     \
            (arr)[j_] = t_;                                                                \
        }                                                                                  \
    } while (0)

static void test_shuffled_input_same_plan(void **state)
{
    (void)state;
    scenario *a = malloc(sizeof(*a));
    scenario *b = malloc(sizeof(*b));
    rng_state = 7;
    for (int round = 0; round < 300; round++) {
        random_scenario(a);
        plan_ok(a);
        memcpy(b, a, sizeof(*b));
        memset(&b->plan, 0, sizeof(b->plan));
        SHUFFLE(b->workers, b->in.worker_count);
        SHUFFLE(b->stages, b->in.stage_count);
        SHUFFLE(b->owners, b->in.owner_count);
        SHUFFLE(b->members, b->in.member_count);
        plan_ok(b);
        assert_plans_equal(&a->plan, &b->plan);
        ride_assign_plan_free(&a->plan);
        ride_assign_plan_free(&b->plan);
    }
    free(a);
    free(b);
}

static void test_random_invariants(void **state)
{
    (void)state;
    scenario *sc = malloc(sizeof(*sc));
    rng_state = 20261122;
    for (int round = 0; round < 2000; round++) {
        random_scenario(sc);
        plan_ok(sc);
        check_invariants(sc);
        /* Some change later: workers die or come back, a stage rescales. */
        for (int step = 0; step < 2; step++) {
            adopt(sc);
            plan_ok(sc);
            assert_int_equal(sc->plan.move_count, 0);
            assert_int_equal(sc->plan.member_change_count, 0);
            check_invariants(sc);
            adopt(sc);
            if (sc->in.worker_count > 0)
                sc->workers[rnd((uint32_t)sc->in.worker_count)].alive ^= true;
            ride_assign_stage *s = &sc->stages[rnd((uint32_t)sc->in.stage_count)];
            s->target = (int)rnd(5);
            s->partitions = 1 + (int)rnd(12);
            plan_ok(sc);
            check_invariants(sc);
        }
        ride_assign_plan_free(&sc->plan);
    }
    free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_workers_six_partitions),
        cmocka_unit_test(test_dead_worker_fails_over_to_spare),
        cmocka_unit_test(test_joining_worker_moves_minimum),
        cmocka_unit_test(test_lagging_partition_moves_first),
        cmocka_unit_test(test_min_max_and_target),
        cmocka_unit_test(test_scale_out_and_in),
        cmocka_unit_test(test_fill_uses_every_worker_but_spares),
        cmocka_unit_test(test_spares_kept_idle),
        cmocka_unit_test(test_gpu_and_selector),
        cmocka_unit_test(test_no_eligible_worker),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_shuffled_input_same_plan),
        cmocka_unit_test(test_random_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
