/* pipeline: a two-stage application (grayscale, then stddev) on a real cluster: one
 * master hosting the embedded Kafka, three workers, one producer with two synthetic
 * sources. Every captured frame reaches the sink exactly once (no duplicates
 * without faults) and sampled outputs equal the CPU reference bit for bit.
 * Large frames on the embedded broker: 800x500 raw sources (1,200,000-byte frames,
 * two chunks) through grayscale, where the embedded broker cannot tell its limit
 * and the configured 1,000,000-byte messages apply: every delivered frame reaches
 * the sink whole. */
#include <stdio.h>
#include <stdlib.h>

#include "ride_harness_cluster.h"
#include "kernels/kernels.h"
#include "media/synthetic.h"

#define W 160
#define H 120
#define STREAMS 2
#define SAMPLE_EVERY 10
#define WAIT_MS 30000

static const ride_cluster_app APP = {
    .name = "pipe", .fps = 40, .partitions = 6, .max_workers = 3, .stddev = true};

typedef struct reference_check {
    int checked;
    int mismatched;
} reference_check;

static void check_reference(void *ctx, const ride_frame *f, bool fresh, int64_t read_ns)
{
    (void)read_ns;
    reference_check *rc = ctx;
    if (!fresh || f->seq % SAMPLE_EVERY != 0)
        return;
    ride_image src = {0}, gray = {0}, want = {0};
    bool same = ride_synthetic_render(f->stream_id, f->seq, W, H, &src) == 0 &&
                ride_cpu_grayscale(&src, &gray, 1) == 0 &&
                ride_cpu_stddev(&gray, &want, 5, 1) == 0 &&
                ride_test_max_abs_diff_u8(&f->image, &want) == 0;
    rc->checked++;
    rc->mismatched += !same;
    ride_image_free(&src);
    ride_image_free(&gray);
    ride_image_free(&want);
}

static void test_pipeline(void **state)
{
    (void)state;
    ride_cluster_fx *fx = ride_cluster_fx_start("pipeline", 3, NULL, WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);

    /* Three workers share each stage's six partitions two by two. */
    char owner[130];
    for (int p = 0; p < 6; p++)
        assert_true(*ride_cluster_fx_owner(fx, "pipe", "gray", p, owner, sizeof owner));

    reference_check rc = {0};
    ride_audit_reader *r = ride_cluster_fx_reader(fx, "pipe.sd.out", check_reference, &rc);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 200, WAIT_MS);

    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("reference_checked=%d mismatched=%d\n", rc.checked, rc.mismatched);
    assert_int_equal(duplicates, 0);
    assert_int_equal(rc.mismatched, 0);
    assert_true(rc.checked > 0);
}

/* Raw 800x500 frames (1.2 MB) go out in two chunks of the default 1,000,000-byte
 * messages. Larger frames would not fit the embedded broker's guarantee: with two
 * sources per partition each one's share of the 4 MiB budget is 1.4 MB
 * (docs/kafka.md, "Backpressure"), and larger frames are refused at the source. */
#define BIG_W 800
#define BIG_H 500

static const ride_cluster_app BIG = {
    .name = "bigpipe", .fps = 5, .partitions = 2, .max_workers = 2, .size = "800x500"};

static void count_big_gray(void *ctx, const ride_frame *f, bool fresh, int64_t read_ns)
{
    (void)read_ns;
    if (fresh && (f->image.width != BIG_W || f->image.height != BIG_H ||
                  f->image.format != RIDE_PIX_GRAY8))
        (*(int *)ctx)++;
}

static void test_large_frames_embedded(void **state)
{
    (void)state;
    ride_cluster_fx *fx = ride_cluster_fx_start("bigpipe", 2, NULL, WAIT_MS);
    ride_cluster_fx_run_app(fx, &BIG, WAIT_MS);
    int wrong_shape = 0;
    ride_audit_reader *r = ride_cluster_fx_reader(fx, "bigpipe.gray.out", count_big_gray,
                                                  &wrong_shape);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 10, WAIT_MS);
    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    assert_int_equal(duplicates, 0);
    assert_int_equal(wrong_shape, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_large_frames_embedded),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
