/* ride_test.h - helpers shared by the unit tests (cmocka). */
#ifndef RIDE_TEST_H
#define RIDE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ride/image.h"
#include "tasks/host.h"

/* Exit code CTest reports as "skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt). */
#define RIDE_TEST_SKIP 77

/* Absolute path of a file under tests/data into buf; returns buf. */
const char *ride_test_data(const char *relative, char *buf, size_t len);

/* Fills img with pseudo-random bytes from seed (every row, padding included). */
void ride_test_fill_random(ride_image *img, uint32_t seed);

/* A random image (ride_test_fill_random) whose rows carry `pad` bytes of random
 * padding, so that kernels must honour the stride. Release with ride_image_free(). */
void ride_test_random_image(ride_image *img, ride_pixel_format f, uint32_t width,
                            uint32_t height, size_t pad, uint32_t seed);

/* For tests that need a GPU: without a usable CUDA device prints one
 * "SKIPPED: <test> (<why>)" line per test and returns 1 (exit RIDE_TEST_SKIP then);
 * otherwise prints the device's name and returns 0. */
int ride_test_gpu_missing(const struct CMUnitTest *tests, size_t count);

/* The built-in task (ride_task_builtins) of this name; fails the test when there is none. */
const ride_task_descriptor *ride_test_builtin_task(const char *name);

/* Largest absolute difference between two 8-bit images of the same shape, or -1
 * when their formats or sizes differ. */
int ride_test_max_abs_diff_u8(const ride_image *a, const ride_image *b);

/* Mean absolute difference per sample between two 8-bit images of the same shape
 * (for lossy codecs). */
double ride_test_mean_abs_diff_u8(const ride_image *a, const ride_image *b);

/* Largest |a - b| over the largest |b| between two GRAY32F images of the same
 * shape (0 when both are all zeros), or -1 when their formats or sizes differ. */
double ride_test_max_rel_diff_f32(const ride_image *a, const ride_image *b);

/* A service manager's notify socket for tests of cluster/systemd.h: a datagram
 * socket bound at path (which must not exist); the fd, or -1. */
int ride_test_notify_socket(const char *path);
/* The next datagram on fd as a NUL-terminated string in buf, waiting up to
 * timeout_ms (0: only what has arrived); its length, or -1 when none came. */
int ride_test_notify_receive(int fd, int timeout_ms, char *buf, size_t len);

#endif
