/* media/synthetic.h - the synthetic camera: `synthetic:WxH@FPS` sources.
 *
 * A frame is a pure function of (stream id, sequence number, width, height):
 * the same arguments give the same BGR8 bytes on any machine (integer
 * arithmetic only, no global random state), so tests and consumers can
 * recompute any frame. Frames hold moving gradients, moving flat shapes (zero
 * local variance inside, sharp edges), a moving checkerboard (high local
 * variance) and per-pixel noise from a counter-based hash of (stream, seq, x, y). */
#ifndef RIDE_SYNTHETIC_H
#define RIDE_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#include "ride/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RIDE_SYNTHETIC_SCHEME "synthetic:"
#define RIDE_SYNTHETIC_MAX_FPS 1000.0

typedef struct ride_synthetic_spec {
    uint32_t width;  /* 1..RIDE_IMAGE_MAX_DIM */
    uint32_t height; /* 1..RIDE_IMAGE_MAX_DIM */
    double fps;      /* (0, RIDE_SYNTHETIC_MAX_FPS] */
} ride_synthetic_spec;

/* Parses `synthetic:WxH@FPS` exactly: W and H decimal without sign or leading
 * zero, FPS decimal digits with an optional fraction (at most 6 digits), nothing
 * after it. Returns 0, or -1 with the reason in why (when not NULL). */
int ride_synthetic_parse(const char *uri, ride_synthetic_spec *out, char *why, size_t whylen);

/* Renders frame `seq` of stream `stream_id` into out as BGR8 width x height,
 * allocating through ride_image_ensure() (once, when out is kept between frames).
 * Returns 0, or -1 on bad dimensions or allocation failure. */
int ride_synthetic_render(uint64_t stream_id, uint64_t seq, uint32_t width, uint32_t height,
                          ride_image *out);

/* Renders into a caller-provided BGR8 image (any stride, e.g. ride_image_wrap()
 * over a message buffer); the frame takes dst's size. Never allocates.
 * Returns 0, or -1 when dst is not a valid BGR8 image. */
int ride_synthetic_render_into(uint64_t stream_id, uint64_t seq, const ride_image *dst);

#ifdef __cplusplus
}
#endif

#endif
