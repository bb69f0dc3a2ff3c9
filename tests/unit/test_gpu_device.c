/* ride_gpu_device_peak_bandwidth: plausible figures for every CUDA device, and
 * refusals for devices that do not exist (also in builds and on machines without
 * CUDA). */
#include "ride_test.h"

#include "kernels/gpu.h"

#include <stdio.h>

static void peak_bandwidth_refuses_missing_devices(void **state)
{
    (void)state;
    int count = ride_gpu_device_count(NULL, 0);
    double peak = -7;
    assert_int_equal(ride_gpu_device_peak_bandwidth(-1, &peak), -1);
    assert_int_equal(ride_gpu_device_peak_bandwidth(count, &peak), -1);
    assert_true(peak == -7);
    assert_int_equal(ride_gpu_device_peak_bandwidth(0, NULL), -1);
}

/* Memory clock x bus width x 2 of any CUDA card of the last decade lies between
 * 50 GB/s and 20 TB/s (an H100 SXM: 2.6 GHz x 5120 bits x 2 = 3.35 TB/s). */
static void peak_bandwidth_is_plausible(void **state)
{
    (void)state;
    int count = ride_gpu_device_count(NULL, 0);
    for (int i = 0; i < count; i++) {
        double peak = 0;
        char name[256];
        assert_int_equal(ride_gpu_device_peak_bandwidth(i, &peak), 0);
        assert_int_equal(ride_gpu_device_name(i, name, sizeof name), 0);
        printf("CUDA device %d: %s, peak memory bandwidth %.1f GB/s\n", i, name, peak / 1e9);
        assert_true(peak >= 50e9 && peak <= 20e12);
    }
}

int main(void)
{
    const struct CMUnitTest always[] = {
        cmocka_unit_test(peak_bandwidth_refuses_missing_devices),
    };
    const struct CMUnitTest with_gpu[] = {
        cmocka_unit_test(peak_bandwidth_is_plausible),
    };
    int failed = cmocka_run_group_tests_name("without a device", always, NULL, NULL);
    if (ride_test_gpu_missing(with_gpu, sizeof with_gpu / sizeof with_gpu[0]))
        return failed;
    return failed + cmocka_run_group_tests_name("with a device", with_gpu, NULL, NULL);
}
