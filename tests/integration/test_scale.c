/* scale: `ridectl scale` shrinks a running stage to one worker and grows it back to
 * three while frames flow: partitions move between live workers (each handed back
 * before its new owner starts), every partition keeps an owner, no frame is lost. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"

#define STREAMS 2
#define PARTITIONS 4
#define WAIT_MS 30000

static const ride_cluster_app APP = {
    .name = "sc", .fps = 30, .partitions = PARTITIONS, .max_workers = 4};

typedef struct owners_probe {
    ride_cluster_fx *fx;
    int want;
} owners_probe;

/* True when every partition of stage gray has an owner and there are `want`
 * distinct owners. */
static bool owners_are(void *ctx)
{
    owners_probe *op = ctx;
    char owners[PARTITIONS][130];
    int distinct = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        if (!*ride_cluster_fx_owner(op->fx, "sc", "gray", p, owners[p], sizeof owners[p]))
            return false;
        bool seen = false;
        for (int q = 0; q < p; q++)
            seen |= strcmp(owners[p], owners[q]) == 0;
        distinct += !seen;
    }
    return distinct == op->want;
}

/* Runs `ridectl --server API --token-file F scale sc gray N`; expects exit 0. */
static void ridectl_scale(ride_cluster_fx *fx, int workers, ride_audit_reader *r)
{
    char n[8], name[32], *out = NULL;
    snprintf(n, sizeof n, "%d", workers);
    snprintf(name, sizeof name, "ridectl-scale-%d", workers);
    const char *argv[] = {RIDE_BIN_DIR "/ridectl", "--server", fx->api, "--token-file",
                          fx->token_file, "scale", "sc", "gray", n, NULL};
    int code = ride_cluster_fx_run(fx, name, argv, &out, WAIT_MS);
    bool ok = code == 0 && out && strstr(out, "scaled to");
    free(out);
    if (!ok)
        ride_cluster_fx_fail(fx, "ridectl scale to %d failed (exit %d)", workers, code);
    owners_probe op = {fx, workers};
    if (!ride_harness_wait_until(owners_are, &op, WAIT_MS))
        ride_cluster_fx_fail(fx, "stage gray did not settle on %d owner(s)", workers);
    ride_cluster_fx_wait_sink(fx, r, 40, WAIT_MS);
}

static void test_scale(void **state)
{
    (void)state;
    ride_cluster_fx *fx = ride_cluster_fx_start("scale", 4, NULL, WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);
    owners_probe all = {fx, 4};
    if (!ride_harness_wait_until(owners_are, &all, WAIT_MS))
        ride_cluster_fx_fail(fx, "four workers do not share the four partitions");

    ride_audit_reader *r = ride_cluster_fx_reader(fx, "sc.gray.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 40, WAIT_MS);
    ridectl_scale(fx, 1, r);
    ridectl_scale(fx, 3, r);

    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("duplicates_after_scaling=%" PRIu64 "\n", duplicates);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
