/* assign.c - the assignment planner; the rules and the algorithm are described in
 * docs/assignment.md.
 *
 * Every choice is made from sorted data with total orders that end in an id, so
 * the plan never depends on the order of the input arrays. */
#include "assign.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One worker as the planner sees it while placing a stage. */
typedef struct candidate {
    size_t worker;  /* index into planner.workers */
    int tier;       /* 0: active member, 1: spare member, 2: free */
    int owned;      /* partitions of this stage it owns now */
    int spare_elsewhere;
    int load;
    int cores;
    const char *id;
} candidate;

/* A worker's membership of one stage group, before and after. */
typedef struct membership {
    const char *worker;
    ride_assign_role old_role;
    ride_assign_role new_role;
} membership;

/* A partition an active worker owns now: lag decides which ones it gives away. */
typedef struct held {
    size_t worker;
    int64_t lag;
    int partition;
} held;

typedef struct planner {
    const ride_assign_input *in;
    const ride_assign_worker **workers; /* sorted by id */
    size_t worker_count;
    const ride_assign_stage **stages; /* sorted by (app, stage) */
    const ride_assign_owner **owners; /* sorted by (app, stage, partition) */
    const ride_assign_member **members; /* sorted by (app, stage, worker) */
    int *load;            /* per worker: partitions owned, current then planned */
    int *spare_count;     /* per worker: spare memberships in the current state */
    ride_assign_plan *plan;
    size_t member_cap;
    size_t change_cap;
    char *err;
    size_t errlen;
} planner;

/* Scratch arrays of one stage, sized for the largest stage and reused. */
typedef struct scratch {
    const char **cur_owner; /* per partition: the owner's name now, or NULL */
    int64_t *cur_epoch;
    long *cur_worker;       /* per partition: index of a known owner, or -1 */
    const char **new_owner;
    bool *eligible;         /* per worker */
    ride_assign_role *role; /* per worker: role in the group now */
    int *owned;             /* per worker: partitions of this stage owned now */
    int *quota;             /* per worker: partitions it owns in the plan */
    int *kept;
    candidate *cands;
    held *helds;
    membership *ships;
    size_t ship_cap;
} scratch;

static void fail(planner *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(planner *pl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (pl->errlen > 0)
        vsnprintf(pl->err, pl->errlen, fmt, ap);
    va_end(ap);
}

static int str_cmp_null(const char *a, const char *b)
{
    if (!a || !b)
        return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

static int stage_key_cmp(const char *app_a, const char *stage_a, const char *app_b,
                         const char *stage_b)
{
    int c = strcmp(app_a, app_b);
    return c ? c : strcmp(stage_a, stage_b);
}

static int worker_ptr_cmp(const void *a, const void *b)
{
    return strcmp((*(const ride_assign_worker *const *)a)->id,
                  (*(const ride_assign_worker *const *)b)->id);
}

static int stage_ptr_cmp(const void *a, const void *b)
{
    const ride_assign_stage *x = *(const ride_assign_stage *const *)a;
    const ride_assign_stage *y = *(const ride_assign_stage *const *)b;
    return stage_key_cmp(x->app, x->stage, y->app, y->stage);
}

static int owner_ptr_cmp(const void *a, const void *b)
{
    const ride_assign_owner *x = *(const ride_assign_owner *const *)a;
    const ride_assign_owner *y = *(const ride_assign_owner *const *)b;
    int c = stage_key_cmp(x->app, x->stage, y->app, y->stage);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static int member_ptr_cmp(const void *a, const void *b)
{
    const ride_assign_member *x = *(const ride_assign_member *const *)a;
    const ride_assign_member *y = *(const ride_assign_member *const *)b;
    int c = stage_key_cmp(x->app, x->stage, y->app, y->stage);
    return c ? c : strcmp(x->worker, y->worker);
}

#define CMP_INT(a, b) (((a) > (b)) - ((a) < (b)))

/* Active members first, those owning the most first (keeping them moves the
 * least); then spares (the failover path); then free workers, those not reserved
 * as spares elsewhere and least loaded first, so load spreads over the cluster. */
static int candidate_cmp(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    int c = CMP_INT(x->tier, y->tier);
    if (!c)
        c = CMP_INT(y->owned, x->owned);
    if (!c)
        c = CMP_INT(x->spare_elsewhere, y->spare_elsewhere);
    if (!c)
        c = CMP_INT(x->load, y->load);
    if (!c)
        c = CMP_INT(y->cores, x->cores);
    return c ? c : strcmp(x->id, y->id);
}

static int membership_cmp(const void *a, const void *b)
{
    return strcmp(((const membership *)a)->worker, ((const membership *)b)->worker);
}

/* Grouped by worker; within a worker the least lagging partitions first: they are
 * the ones it keeps, so an overloaded worker hands its backlog to a fresher one. */
static int held_cmp(const void *a, const void *b)
{
    const held *x = a, *y = b;
    int c = CMP_INT(x->worker, y->worker);
    if (!c)
        c = CMP_INT(x->lag, y->lag);
    return c ? c : CMP_INT(x->partition, y->partition);
}

static long worker_index(const planner *pl, const char *id)
{
    ride_assign_worker key = {.id = id};
    const ride_assign_worker *kp = &key;
    const ride_assign_worker **hit =
        bsearch(&kp, pl->workers, pl->worker_count, sizeof(*pl->workers), worker_ptr_cmp);
    return hit ? (long)(hit - pl->workers) : -1;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = n;
    return 0;
}

/* ---- validation ------------------------------------------------------------------ */

static bool kv_valid(const ride_kv *kv, size_t count)
{
    if (count > 0 && !kv)
        return false;
    for (size_t i = 0; i < count; i++)
        if (!kv[i].key || !kv[i].value)
            return false;
    return true;
}

static int check_workers(planner *pl)
{
    for (size_t i = 0; i < pl->worker_count; i++) {
        const ride_assign_worker *w = pl->workers[i];
        if (!w->id || w->gpus < 0 || !kv_valid(w->labels, w->label_count)) {
            fail(pl, "worker %zu: missing id, negative gpus or an incomplete label", i);
            return -1;
        }
    }
    qsort(pl->workers, pl->worker_count, sizeof(*pl->workers), worker_ptr_cmp);
    for (size_t i = 1; i < pl->worker_count; i++)
        if (!strcmp(pl->workers[i - 1]->id, pl->workers[i]->id)) {
            fail(pl, "worker '%s' is listed twice", pl->workers[i]->id);
            return -1;
        }
    return 0;
}

static int check_stages(planner *pl, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const ride_assign_stage *s = pl->stages[i];
        if (!s->app || !s->stage) {
            fail(pl, "stage %zu: missing application or stage name", i);
            return -1;
        }
        const ride_stage_workers *w = &s->workers;
        bool bad_bounds = w->min < 0 || w->min > RIDE_WORKERS_MAX || w->max < 1 ||
                          w->max < w->min || w->max > RIDE_WORKERS_MAX || w->spares < 0 ||
                          w->spares > RIDE_WORKERS_MAX;
        if (s->partitions < 1 || s->partitions > RIDE_PARTITIONS_MAX || bad_bounds ||
            s->target < 0 || s->gpus < 0 || s->device < RIDE_STAGE_CPU ||
            s->device > RIDE_STAGE_ANY || !kv_valid(s->selector, s->selector_count)) {
            fail(pl,
                 "stage %s/%s: partitions, workers {min, max, spares}, target, gpus, "
                 "device or selector out of range",
                 s->app, s->stage);
            return -1;
        }
    }
    qsort(pl->stages, count, sizeof(*pl->stages), stage_ptr_cmp);
    for (size_t i = 1; i < count; i++)
        if (!stage_ptr_cmp(&pl->stages[i - 1], &pl->stages[i])) {
            fail(pl, "stage %s/%s is listed twice", pl->stages[i]->app, pl->stages[i]->stage);
            return -1;
        }
    return 0;
}

static int check_owners(planner *pl, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const ride_assign_owner *o = pl->owners[i];
        if (!o->app || !o->stage || o->partition < 0 || o->partition >= RIDE_PARTITIONS_MAX ||
            o->epoch < 0 || o->epoch == INT64_MAX) {
            fail(pl, "owner record %zu: missing name, partition or epoch out of range", i);
            return -1;
        }
    }
    qsort(pl->owners, count, sizeof(*pl->owners), owner_ptr_cmp);
    for (size_t i = 1; i < count; i++)
        if (!owner_ptr_cmp(&pl->owners[i - 1], &pl->owners[i])) {
            fail(pl, "two owner records for %s/%s/%d", pl->owners[i]->app,
                 pl->owners[i]->stage, pl->owners[i]->partition);
            return -1;
        }
    return 0;
}

static int check_members(planner *pl, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const ride_assign_member *m = pl->members[i];
        if (!m->app || !m->stage || !m->worker ||
            (m->role != RIDE_ASSIGN_ACTIVE && m->role != RIDE_ASSIGN_SPARE)) {
            fail(pl, "member record %zu: missing name or role neither active nor spare", i);
            return -1;
        }
    }
    qsort(pl->members, count, sizeof(*pl->members), member_ptr_cmp);
    return 0;
}

/* ---- one stage ----------------------------------------------------------------------- */

static bool worker_eligible(const ride_assign_worker *w, const ride_assign_stage *s)
{
    if (!w->alive)
        return false;
    if (s->device == RIDE_STAGE_GPU && w->gpus < (s->gpus > 1 ? s->gpus : 1))
        return false;
    for (size_t i = 0; i < s->selector_count; i++) {
        const ride_kv *l = ride_kv_find(w->labels, w->label_count, s->selector[i].key);
        if (!l || strcmp(l->value, s->selector[i].value))
            return false;
    }
    return true;
}

/* The first owner (member) record of the stage in the sorted records. */
static size_t lower_bound_owner(const planner *pl, const ride_assign_stage *s)
{
    size_t lo = 0, hi = pl->in->owner_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ride_assign_owner *o = pl->owners[mid];
        if (stage_key_cmp(o->app, o->stage, s->app, s->stage) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t lower_bound_member(const planner *pl, const ride_assign_stage *s)
{
    size_t lo = 0, hi = pl->in->member_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ride_assign_member *m = pl->members[mid];
        if (stage_key_cmp(m->app, m->stage, s->app, s->stage) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool same_stage(const char *app, const char *stage, const ride_assign_stage *s)
{
    return !strcmp(app, s->app) && !strcmp(stage, s->stage);
}

/* ACTIVE outranks SPARE: a worker recorded as both serves the stage. */
static ride_assign_role role_merge(ride_assign_role a, ride_assign_role b)
{
    if (a == RIDE_ASSIGN_ACTIVE || b == RIDE_ASSIGN_ACTIVE)
        return RIDE_ASSIGN_ACTIVE;
    return a == RIDE_ASSIGN_SPARE || b == RIDE_ASSIGN_SPARE ? RIDE_ASSIGN_SPARE
                                                            : RIDE_ASSIGN_NONE;
}

static int ship_add(scratch *sc, size_t *n, const char *worker, ride_assign_role old_role,
                    ride_assign_role new_role)
{
    if (grow((void **)&sc->ships, &sc->ship_cap, *n + 1, sizeof(*sc->ships)))
        return -1;
    sc->ships[(*n)++] = (membership){worker, old_role, new_role};
    return 0;
}

/* Sorts by worker and folds duplicates into one entry. */
static size_t ships_fold(scratch *sc, size_t n)
{
    if (n == 0)
        return 0;
    qsort(sc->ships, n, sizeof(*sc->ships), membership_cmp);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out > 0 && !strcmp(sc->ships[out - 1].worker, sc->ships[i].worker)) {
            membership *m = &sc->ships[out - 1];
            m->old_role = role_merge(m->old_role, sc->ships[i].old_role);
            m->new_role = role_merge(m->new_role, sc->ships[i].new_role);
        } else {
            sc->ships[out++] = sc->ships[i];
        }
    }
    return out;
}

/* Reads the stage's current owners and members into the scratch arrays; returns
 * the number of folded memberships in sc->ships, or -1 (out of memory). */
static long read_current(planner *pl, const ride_assign_stage *s, scratch *sc)
{
    int parts = s->partitions;
    for (int p = 0; p < parts; p++) {
        sc->cur_owner[p] = NULL;
        sc->cur_epoch[p] = 0;
        sc->cur_worker[p] = -1;
    }
    for (size_t w = 0; w < pl->worker_count; w++) {
        sc->role[w] = RIDE_ASSIGN_NONE;
        sc->owned[w] = 0;
    }
    size_t n = 0;
    for (size_t i = lower_bound_owner(pl, s); i < pl->in->owner_count; i++) {
        const ride_assign_owner *o = pl->owners[i];
        if (!same_stage(o->app, o->stage, s))
            break;
        if (o->partition >= parts)
            continue;
        sc->cur_owner[o->partition] = o->owner;
        sc->cur_epoch[o->partition] = o->epoch;
        if (!o->owner)
            continue;
        long w = worker_index(pl, o->owner);
        sc->cur_worker[o->partition] = w;
        if (w >= 0)
            sc->owned[w]++;
        if (ship_add(sc, &n, o->owner, RIDE_ASSIGN_ACTIVE, RIDE_ASSIGN_NONE))
            return -1;
    }
    for (size_t i = lower_bound_member(pl, s); i < pl->in->member_count; i++) {
        const ride_assign_member *m = pl->members[i];
        if (!same_stage(m->app, m->stage, s))
            break;
        if (ship_add(sc, &n, m->worker, m->role, RIDE_ASSIGN_NONE))
            return -1;
    }
    n = ships_fold(sc, n);
    for (size_t i = 0; i < n; i++) {
        long w = worker_index(pl, sc->ships[i].worker);
        if (w >= 0)
            sc->role[w] = sc->ships[i].old_role;
    }
    return (long)n;
}

static void issue_add(planner *pl, const ride_assign_stage *s, bool unplaced, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void issue_add(planner *pl, const ride_assign_stage *s, bool unplaced, const char *fmt,
                     ...)
{
    ride_assign_issue *is = &pl->plan->issues[pl->plan->issue_count++];
    is->app = s->app;
    is->stage = s->stage;
    is->unplaced = unplaced;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->reason, sizeof(is->reason), fmt, ap);
    va_end(ap);
}

/* Says why no worker is eligible: the most specific unmet requirement. */
static void report_unplaced(planner *pl, const ride_assign_stage *s)
{
    size_t alive = 0, gpu = 0;
    for (size_t w = 0; w < pl->worker_count; w++) {
        const ride_assign_worker *wk = pl->workers[w];
        if (!wk->alive)
            continue;
        alive++;
        if (s->device != RIDE_STAGE_GPU || wk->gpus >= (s->gpus > 1 ? s->gpus : 1))
            gpu++;
    }
    if (alive == 0)
        issue_add(pl, s, true, "no alive worker");
    else if (gpu == 0)
        issue_add(pl, s, true, "no alive worker has %d GPU(s)", s->gpus > 1 ? s->gpus : 1);
    else
        issue_add(pl, s, true, "no alive worker matches the selector (%zu label(s))",
                  s->selector_count);
}

/* Active workers wanted: the target, or the current size (grown to the eligible
 * workers beyond the spares with fill), within [min, max], then within the
 * partitions (an active worker owns at least one) and the eligible. */
static int group_size(const ride_assign_stage *s, size_t current, size_t eligible)
{
    long n = s->target > 0 ? s->target : (long)current;
    long spare_room = (long)eligible - s->workers.spares;
    if (s->target <= 0 && s->fill && spare_room > n)
        n = spare_room;
    long lo = s->workers.min > 1 ? s->workers.min : 1;
    if (n < lo)
        n = lo;
    if (n > s->workers.max)
        n = s->workers.max;
    if (n > s->partitions)
        n = s->partitions;
    if (n > (long)eligible)
        n = (long)eligible;
    return (int)n;
}

/* Gives every partition an owner among the first `active` candidates: each gets
 * its share (partitions / active, one more for the first partitions % active in
 * candidate order, i.e. those owning the most now), keeps what it owns up to that
 * share and takes the partitions left over in partition order. */
static void distribute(planner *pl, const ride_assign_stage *s, scratch *sc, int active)
{
    int parts = s->partitions;
    for (size_t w = 0; w < pl->worker_count; w++)
        sc->quota[w] = sc->kept[w] = 0;
    for (int i = 0; i < active; i++)
        sc->quota[sc->cands[i].worker] = parts / active + (i < parts % active);
    size_t nh = 0;
    for (int p = 0; p < parts; p++) {
        sc->new_owner[p] = NULL;
        long w = sc->cur_worker[p];
        if (w >= 0 && sc->quota[w] > 0)
            sc->helds[nh++] = (held){(size_t)w, s->lag ? s->lag[p] : 0, p};
    }
    qsort(sc->helds, nh, sizeof(*sc->helds), held_cmp);
    for (size_t i = 0; i < nh; i++) {
        size_t w = sc->helds[i].worker;
        if (sc->kept[w] < sc->quota[w]) {
            sc->kept[w]++;
            sc->new_owner[sc->helds[i].partition] = pl->workers[w]->id;
        }
    }
    /* The partitions left over go to the workers below their share in id order
     * (worker indices follow ids). */
    size_t w = 0;
    for (int p = 0; p < parts; p++) {
        if (sc->new_owner[p])
            continue;
        while (sc->kept[w] >= sc->quota[w])
            w++;
        sc->kept[w]++;
        sc->new_owner[p] = pl->workers[w]->id;
    }
}

static void emit_owners(planner *pl, const ride_assign_stage *s, scratch *sc)
{
    ride_assign_plan *plan = pl->plan;
    for (int p = 0; p < s->partitions; p++) {
        bool changed = str_cmp_null(sc->cur_owner[p], sc->new_owner[p]) != 0;
        int64_t epoch = sc->cur_epoch[p] + (changed ? 1 : 0);
        plan->owners[plan->owner_count++] =
            (ride_assign_owner){s->app, s->stage, p, sc->new_owner[p], epoch};
        if (changed)
            plan->moves[plan->move_count++] = (ride_assign_move){
                s->app, s->stage, p, sc->cur_owner[p], sc->new_owner[p], epoch};
        long old = sc->cur_worker[p];
        if (old >= 0)
            pl->load[old]--;
    }
    for (size_t w = 0; w < pl->worker_count; w++)
        pl->load[w] += sc->kept[w];
}

static int emit_members(planner *pl, const ride_assign_stage *s, scratch *sc, size_t nship)
{
    ride_assign_plan *plan = pl->plan;
    size_t n = nship;
    for (size_t i = 0; i < n; i++)
        sc->ships[i].new_role = RIDE_ASSIGN_NONE;
    for (size_t w = 0; w < pl->worker_count; w++) {
        ride_assign_role r = sc->quota[w] > 0 ? RIDE_ASSIGN_ACTIVE : sc->role[w];
        if (r != RIDE_ASSIGN_NONE && ship_add(sc, &n, pl->workers[w]->id, RIDE_ASSIGN_NONE, r))
            return -1;
    }
    n = ships_fold(sc, n);
    if (grow((void **)&plan->members, &pl->member_cap, plan->member_count + n,
             sizeof(*plan->members)) ||
        grow((void **)&plan->member_changes, &pl->change_cap, plan->member_change_count + n,
             sizeof(*plan->member_changes)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const membership *m = &sc->ships[i];
        if (m->new_role != RIDE_ASSIGN_NONE)
            plan->members[plan->member_count++] =
                (ride_assign_member){s->app, s->stage, m->worker, m->new_role};
        if (m->new_role != m->old_role)
            plan->member_changes[plan->member_change_count++] =
                (ride_assign_member_change){s->app, s->stage, m->worker, m->old_role,
                                            m->new_role};
    }
    return 0;
}

/* Places one stage: chooses its active workers and spares, distributes its
 * partitions and appends the results to the plan. */
static int place_stage(planner *pl, const ride_assign_stage *s, scratch *sc)
{
    long nship = read_current(pl, s, sc);
    if (nship < 0)
        return -1;
    size_t current = 0;
    for (long i = 0; i < nship; i++)
        current += sc->ships[i].old_role == RIDE_ASSIGN_ACTIVE;

    size_t nc = 0;
    for (size_t w = 0; w < pl->worker_count; w++) {
        sc->eligible[w] = worker_eligible(pl->workers[w], s);
        if (!sc->eligible[w])
            continue;
        int tier = sc->role[w] == RIDE_ASSIGN_ACTIVE ? 0 : sc->role[w] == RIDE_ASSIGN_SPARE ? 1 : 2;
        int spare_else = pl->spare_count[w] - (sc->role[w] == RIDE_ASSIGN_SPARE);
        sc->cands[nc++] = (candidate){w,        tier, sc->owned[w], spare_else, pl->load[w],
                                      pl->workers[w]->cores, pl->workers[w]->id};
    }
    qsort(sc->cands, nc, sizeof(*sc->cands), candidate_cmp);

    int active = group_size(s, current, nc);
    if (active == 0) {
        for (int p = 0; p < s->partitions; p++)
            sc->new_owner[p] = NULL;
        for (size_t w = 0; w < pl->worker_count; w++)
            sc->quota[w] = sc->kept[w] = 0;
        report_unplaced(pl, s);
    } else {
        distribute(pl, s, sc, active);
        int floor = s->workers.min < s->partitions ? s->workers.min : s->partitions;
        if (active < floor)
            issue_add(pl, s, false, "%d active worker(s) below the minimum of %d: %zu eligible",
                      active, floor, nc);
    }

    /* Spares: the current spares first (a stable reserve), then the others in
     * candidate order; none of them owns anything in this stage. */
    for (size_t w = 0; w < pl->worker_count; w++)
        sc->role[w] = RIDE_ASSIGN_NONE;
    int spares = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = (size_t)active; i < nc && spares < s->workers.spares; i++) {
            bool was_spare = sc->cands[i].tier == 1;
            if (was_spare == (pass == 0)) {
                sc->role[sc->cands[i].worker] = RIDE_ASSIGN_SPARE;
                spares++;
            }
        }

    emit_owners(pl, s, sc);
    return emit_members(pl, s, sc, (size_t)nship);
}
/* ---- the plan ---------------------------------------------------------------------- */

static void scratch_free(scratch *sc)
{
    free(sc->cur_owner);
    free(sc->cur_epoch);
    free(sc->cur_worker);
    free(sc->new_owner);
    free(sc->eligible);
    free(sc->role);
    free(sc->owned);
    free(sc->quota);
    free(sc->kept);
    free(sc->cands);
    free(sc->helds);
    free(sc->ships);
}

static int scratch_alloc(scratch *sc, size_t parts, size_t workers)
{
    size_t w = workers ? workers : 1;
    sc->cur_owner = calloc(parts, sizeof(*sc->cur_owner));
    sc->cur_epoch = calloc(parts, sizeof(*sc->cur_epoch));
    sc->cur_worker = calloc(parts, sizeof(*sc->cur_worker));
    sc->new_owner = calloc(parts, sizeof(*sc->new_owner));
    sc->helds = calloc(parts, sizeof(*sc->helds));
    sc->eligible = calloc(w, sizeof(*sc->eligible));
    sc->role = calloc(w, sizeof(*sc->role));
    sc->owned = calloc(w, sizeof(*sc->owned));
    sc->quota = calloc(w, sizeof(*sc->quota));
    sc->kept = calloc(w, sizeof(*sc->kept));
    sc->cands = calloc(w, sizeof(*sc->cands));
    return sc->cur_owner && sc->cur_epoch && sc->cur_worker && sc->new_owner && sc->helds &&
                   sc->eligible && sc->role && sc->owned && sc->quota && sc->kept && sc->cands
               ? 0
               : -1;
}

/* Loads as they are now: partitions of listed stages, and spare memberships. */
static void count_current(planner *pl)
{
    const ride_assign_input *in = pl->in;
    for (size_t i = 0; i < in->owner_count; i++) {
        const ride_assign_owner *o = &in->owners[i];
        if (!o->owner)
            continue;
        ride_assign_stage key = {.app = o->app, .stage = o->stage};
        const ride_assign_stage *kp = &key;
        const ride_assign_stage **s = bsearch(&kp, pl->stages, in->stage_count,
                                              sizeof(*pl->stages), stage_ptr_cmp);
        long w = worker_index(pl, o->owner);
        if (s && w >= 0 && o->partition < (*s)->partitions)
            pl->load[w]++;
    }
    for (size_t i = 0; i < in->member_count; i++) {
        long w = worker_index(pl, in->members[i].worker);
        if (w >= 0 && in->members[i].role == RIDE_ASSIGN_SPARE)
            pl->spare_count[w]++;
    }
}

static int plan_arrays(planner *pl, size_t total_parts)
{
    ride_assign_plan *plan = pl->plan;
    size_t stages = pl->in->stage_count;
    plan->owners = calloc(total_parts ? total_parts : 1, sizeof(*plan->owners));
    plan->moves = calloc(total_parts ? total_parts : 1, sizeof(*plan->moves));
    plan->issues = calloc(stages ? stages : 1, sizeof(*plan->issues));
    return plan->owners && plan->moves && plan->issues ? 0 : -1;
}

static int input_arrays(planner *pl)
{
    const ride_assign_input *in = pl->in;
    size_t w = in->worker_count ? in->worker_count : 1;
    pl->workers = calloc(w, sizeof(*pl->workers));
    pl->stages = calloc(in->stage_count ? in->stage_count : 1, sizeof(*pl->stages));
    pl->owners = calloc(in->owner_count ? in->owner_count : 1, sizeof(*pl->owners));
    pl->members = calloc(in->member_count ? in->member_count : 1, sizeof(*pl->members));
    pl->load = calloc(w, sizeof(*pl->load));
    pl->spare_count = calloc(w, sizeof(*pl->spare_count));
    if (!pl->workers || !pl->stages || !pl->owners || !pl->members || !pl->load ||
        !pl->spare_count)
        return -1;
    for (size_t i = 0; i < in->worker_count; i++)
        pl->workers[i] = &in->workers[i];
    for (size_t i = 0; i < in->stage_count; i++)
        pl->stages[i] = &in->stages[i];
    for (size_t i = 0; i < in->owner_count; i++)
        pl->owners[i] = &in->owners[i];
    for (size_t i = 0; i < in->member_count; i++)
        pl->members[i] = &in->members[i];
    return 0;
}

static bool arrays_present(const ride_assign_input *in)
{
    return (in->worker_count == 0 || in->workers) && (in->stage_count == 0 || in->stages) &&
           (in->owner_count == 0 || in->owners) && (in->member_count == 0 || in->members);
}

static int compute(planner *pl)
{
    const ride_assign_input *in = pl->in;
    if (input_arrays(pl)) {
        fail(pl, "out of memory");
        return -1;
    }
    if (check_workers(pl) || check_stages(pl, in->stage_count) ||
        check_owners(pl, in->owner_count) || check_members(pl, in->member_count))
        return -1;
    count_current(pl);
    size_t total = 0, largest = 1;
    for (size_t i = 0; i < in->stage_count; i++) {
        size_t p = (size_t)pl->stages[i]->partitions;
        total += p;
        if (p > largest)
            largest = p;
    }
    scratch sc = {0};
    int rc = plan_arrays(pl, total) || scratch_alloc(&sc, largest, pl->worker_count) ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < in->stage_count; i++)
        rc = place_stage(pl, pl->stages[i], &sc);
    scratch_free(&sc);
    if (rc)
        fail(pl, "out of memory");
    return rc;
}

int ride_assign_plan_compute(const ride_assign_input *in, ride_assign_plan *plan, char *err,
                             size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    if (!plan)
        return -1;
    memset(plan, 0, sizeof(*plan));
    planner pl = {.in = in, .plan = plan, .err = err, .errlen = errlen};
    if (!in || !arrays_present(in)) {
        fail(&pl, "no input, or a count without its array");
        return -1;
    }
    pl.worker_count = in->worker_count;
    int rc = compute(&pl);
    free(pl.workers);
    free(pl.stages);
    free(pl.owners);
    free(pl.members);
    free(pl.load);
    free(pl.spare_count);
    if (rc)
        ride_assign_plan_free(plan);
    return rc;
}

void ride_assign_plan_free(ride_assign_plan *plan)
{
    if (!plan)
        return;
    free(plan->owners);
    free(plan->members);
    free(plan->moves);
    free(plan->member_changes);
    free(plan->issues);
    memset(plan, 0, sizeof(*plan));
}

const char *ride_assign_role_name(ride_assign_role role)
{
    switch (role) {
    case RIDE_ASSIGN_NONE:
        return "none";
    case RIDE_ASSIGN_ACTIVE:
        return "active";
    case RIDE_ASSIGN_SPARE:
        return "spare";
    }
    return "invalid";
}
