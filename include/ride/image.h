/* ride/image.h - an image in host memory: pixel format, size, row stride, pixels.
 *
 * Pixels are interleaved, rows are `stride` bytes apart (stride >= row bytes),
 * multi-byte samples are little-endian. Colour images are BGR order, as OpenCV. */
#ifndef RIDE_IMAGE_H
#define RIDE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values are part of the wire format (docs/wire-format.md): never renumber. */
typedef enum ride_pixel_format {
    RIDE_PIX_INVALID = 0,
    RIDE_PIX_GRAY8 = 1,
    RIDE_PIX_BGR8 = 2,
    RIDE_PIX_RGB8 = 3,
    RIDE_PIX_BGRA8 = 4,
    RIDE_PIX_GRAY16 = 5,
    RIDE_PIX_GRAY32F = 6,
    RIDE_PIX_FORMAT_COUNT
} ride_pixel_format;

/* How an image travels as a frame payload (wire/frame.h) and how a task asks
 * for its output to travel (ride/task.h). Values are part of the wire format: never renumber. */
typedef enum ride_encoding {
    RIDE_ENC_RAW = 0,
    RIDE_ENC_JPEG = 1,
    RIDE_ENC_PNG = 2,
} ride_encoding;

/* Encoding names indexed by value ("raw", "jpeg", "png"), NULL-terminated: the
 * spellings manifests and command lines accept. */
extern const char *const ride_encoding_names[];
/* The name of an encoding, or "invalid". */
const char *ride_encoding_name(ride_encoding enc);

/* Largest width or height RIDE accepts anywhere (a 24160x25720 frame fits). */
#define RIDE_IMAGE_MAX_DIM 65536u

typedef struct ride_image {
    ride_pixel_format format;
    uint32_t width;
    uint32_t height;
    size_t stride;  /* bytes from one row to the next */
    uint8_t *data;
    int owns_data;  /* ride_image_free() releases data only when set */
} ride_image;

/* Channels of a format (0 for an invalid one). */
unsigned ride_pixel_channels(ride_pixel_format f);
/* Bytes per sample of one channel (0 for an invalid one). */
unsigned ride_pixel_sample_bytes(ride_pixel_format f);
/* Bytes per pixel (channels x sample bytes). */
unsigned ride_pixel_bytes(ride_pixel_format f);
/* Stable lower-case name ("gray8", "bgr8", ...), or "invalid". */
const char *ride_pixel_format_name(ride_pixel_format f);
/* Parses a name as returned by ride_pixel_format_name(); RIDE_PIX_INVALID if unknown. */
ride_pixel_format ride_pixel_format_from_name(const char *name);

/* Minimal stride of a row: width x pixel bytes. Returns 0 on overflow or bad input. */
size_t ride_image_row_bytes(ride_pixel_format f, uint32_t width);
/* stride x height, or 0 when it would overflow size_t. */
size_t ride_image_size(const ride_image *img);

/* Allocates a tightly packed image (stride = row bytes, 64-byte aligned).
 * Returns 0, or -1 with the image zeroed on bad dimensions or allocation failure. */
int ride_image_alloc(ride_image *img, ride_pixel_format f, uint32_t width, uint32_t height);
/* Reuses img's buffer when it is already owned, big enough and of the same shape;
 * reallocates otherwise. For per-frame output buffers. */
int ride_image_ensure(ride_image *img, ride_pixel_format f, uint32_t width, uint32_t height);
/* Points img at caller-owned pixels (ride_image_free() will not free them). */
void ride_image_wrap(ride_image *img, ride_pixel_format f, uint32_t width, uint32_t height,
                     size_t stride, void *data);
void ride_image_free(ride_image *img);

static inline uint8_t *ride_image_row(const ride_image *img, uint32_t y)
{
    return img->data + (size_t)y * img->stride;
}

#ifdef __cplusplus
}
#endif

#endif
