/* test_linalg_util.h - what the matmul and fft tests share: random GRAY8 frames
 * with padded rows and the matmul tolerance. */
#ifndef RIDE_TEST_LINALG_UTIL_H
#define RIDE_TEST_LINALG_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "ride_test.h"

/* Every matmul comparison: each element within this much of the largest |element|
 * (float sums in different orders). */
#define MATMUL_REL_TOL 1e-5

typedef struct shape {
    uint32_t width;
    uint32_t height;
} shape;

/* A random GRAY8 frame with `pad` bytes after every row, so that kernels honour
 * the stride; release with free_frame. */
static inline void make_frame(ride_image *img, shape s, size_t pad, uint32_t seed)
{
    size_t stride = s.width + pad;
    uint8_t *data = malloc(stride * s.height);
    assert_non_null(data);
    ride_image_wrap(img, RIDE_PIX_GRAY8, s.width, s.height, stride, data);
    ride_test_fill_random(img, seed);
}

static inline void free_frame(ride_image *img)
{
    free(img->data);
    memset(img, 0, sizeof *img);
}

static inline void assert_close_f32(const ride_image *got, const ride_image *want)
{
    double rel = ride_test_max_rel_diff_f32(got, want);
    if (rel < 0 || rel > MATMUL_REL_TOL)
        fail_msg("%ux%u: relative difference %g", want->width, want->height, rel);
}

#endif
