/* ride_test.c - helpers shared by the unit tests: test data paths, random images,
 * image comparisons, a NOTIFY_SOCKET listener, built-in task lookup and GPU skips. */
#include "ride_test.h"

#include <math.h>
#include "kernels/gpu.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const char *ride_test_data(const char *relative, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", RIDE_TEST_DATA_DIR, relative);
    return buf;
}

void ride_test_fill_random(ride_image *img, uint32_t seed)
{
    uint32_t x = seed ? seed : 0x9e3779b9u;
    size_t size = ride_image_size(img);
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        img->data[i] = (uint8_t)(x >> 24);
    }
}

void ride_test_random_image(ride_image *img, ride_pixel_format f, uint32_t width,
                            uint32_t height, size_t pad, uint32_t seed)
{
    size_t stride = ride_image_row_bytes(f, width) + pad;
    void *data = malloc(stride * height);
    assert_non_null(data);
    ride_image_wrap(img, f, width, height, stride, data);
    img->owns_data = 1;
    ride_test_fill_random(img, seed);
}

int ride_test_max_abs_diff_u8(const ride_image *a, const ride_image *b)
{
    if (a->format != b->format || a->width != b->width || a->height != b->height ||
        ride_pixel_sample_bytes(a->format) != 1)
        return -1;
    size_t row = ride_image_row_bytes(a->format, a->width);
    int worst = 0;
    for (uint32_t y = 0; y < a->height; y++) {
        const uint8_t *pa = ride_image_row(a, y), *pb = ride_image_row(b, y);
        for (size_t i = 0; i < row; i++) {
            int d = abs((int)pa[i] - (int)pb[i]);
            if (d > worst)
                worst = d;
        }
    }
    return worst;
}

double ride_test_mean_abs_diff_u8(const ride_image *a, const ride_image *b)
{
    size_t row = ride_image_row_bytes(a->format, a->width);
    double sum = 0;
    for (uint32_t y = 0; y < a->height; y++) {
        const uint8_t *pa = ride_image_row(a, y), *pb = ride_image_row(b, y);
        for (size_t i = 0; i < row; i++)
            sum += abs((int)pa[i] - (int)pb[i]);
    }
    return sum / ((double)row * a->height);
}

static float f32_at(const ride_image *img, uint32_t x, uint32_t y)
{
    float v;
    memcpy(&v, ride_image_row(img, y) + (size_t)x * sizeof v, sizeof v);
    return v;
}

double ride_test_max_rel_diff_f32(const ride_image *a, const ride_image *b)
{
    if (a->format != RIDE_PIX_GRAY32F || b->format != RIDE_PIX_GRAY32F || a->width != b->width ||
        a->height != b->height)
        return -1;
    double peak = 0, worst = 0;
    for (uint32_t y = 0; y < b->height; y++)
        for (uint32_t x = 0; x < b->width; x++) {
            peak = fmax(peak, fabs(f32_at(b, x, y)));
            worst = fmax(worst, fabs((double)f32_at(a, x, y) - f32_at(b, x, y)));
        }
    return peak > 0 ? worst / peak : worst;
}

int ride_test_notify_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int ride_test_notify_receive(int fd, int timeout_ms, char *buf, size_t len)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (len == 0 || poll(&p, 1, timeout_ms) != 1)
        return -1;
    ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}

const ride_task_descriptor *ride_test_builtin_task(const char *name)
{
    size_t count = 0;
    const ride_task_descriptor *const *all = ride_task_builtins(&count);
    for (size_t i = 0; i < count; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    fail_msg("no built-in task %s", name);
    return NULL;
}

int ride_test_gpu_missing(const struct CMUnitTest *tests, size_t count)
{
    char why[256];
    if (ride_gpu_device_count(why, sizeof why) == 0) {
        for (size_t i = 0; i < count; i++)
            printf("SKIPPED: %s (%s)\n", tests[i].name, why);
        return 1;
    }
    char name[256];
    if (ride_gpu_device_name(0, name, sizeof name) == 0)
        printf("CUDA device 0: %s\n", name);
    return 0;
}
