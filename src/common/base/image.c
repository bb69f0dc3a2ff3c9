/* image.c - the pixel-format table and host image buffers of the plugin SDK
 * (ride/image.h). Allocated pixels are 64-byte aligned and every size is checked
 * for overflow, so a shape from the wire can never wrap an allocation. */
#include "ride/image.h"

#include <stdlib.h>
#include <string.h>

typedef struct pixel_format_info {
    const char *name;
    unsigned channels;
    unsigned sample_bytes;
} pixel_format_info;

static const pixel_format_info formats[RIDE_PIX_FORMAT_COUNT] = {
    [RIDE_PIX_INVALID] = {"invalid", 0, 0},
    [RIDE_PIX_GRAY8] = {"gray8", 1, 1},
    [RIDE_PIX_BGR8] = {"bgr8", 3, 1},
    [RIDE_PIX_RGB8] = {"rgb8", 3, 1},
    [RIDE_PIX_BGRA8] = {"bgra8", 4, 1},
    [RIDE_PIX_GRAY16] = {"gray16", 1, 2},
    [RIDE_PIX_GRAY32F] = {"gray32f", 1, 4},
};

static const pixel_format_info *format_info(ride_pixel_format f)
{
    if ((unsigned)f >= RIDE_PIX_FORMAT_COUNT)
        return &formats[RIDE_PIX_INVALID];
    return &formats[f];
}

unsigned ride_pixel_channels(ride_pixel_format f) { return format_info(f)->channels; }
unsigned ride_pixel_sample_bytes(ride_pixel_format f) { return format_info(f)->sample_bytes; }
unsigned ride_pixel_bytes(ride_pixel_format f)
{
    return format_info(f)->channels * format_info(f)->sample_bytes;
}
const char *ride_pixel_format_name(ride_pixel_format f) { return format_info(f)->name; }

ride_pixel_format ride_pixel_format_from_name(const char *name)
{
    for (unsigned f = RIDE_PIX_INVALID + 1; f < RIDE_PIX_FORMAT_COUNT; f++)
        if (name && strcmp(name, formats[f].name) == 0)
            return (ride_pixel_format)f;
    return RIDE_PIX_INVALID;
}

size_t ride_image_row_bytes(ride_pixel_format f, uint32_t width)
{
    size_t row;
    if (width == 0 || width > RIDE_IMAGE_MAX_DIM || ride_pixel_bytes(f) == 0)
        return 0;
    if (__builtin_mul_overflow((size_t)width, (size_t)ride_pixel_bytes(f), &row))
        return 0;
    return row;
}

size_t ride_image_size(const ride_image *img)
{
    size_t size;
    if (__builtin_mul_overflow(img->stride, (size_t)img->height, &size))
        return 0;
    return size;
}

int ride_image_alloc(ride_image *img, ride_pixel_format f, uint32_t width, uint32_t height)
{
    memset(img, 0, sizeof *img);
    size_t row = ride_image_row_bytes(f, width);
    size_t size;
    if (row == 0 || height == 0 || height > RIDE_IMAGE_MAX_DIM ||
        __builtin_mul_overflow(row, (size_t)height, &size))
        return -1;
    size_t padded = (size + 63) & ~(size_t)63;
    if (padded < size)
        return -1;
    void *data = aligned_alloc(64, padded);
    if (!data)
        return -1;
    img->format = f;
    img->width = width;
    img->height = height;
    img->stride = row;
    img->data = data;
    img->owns_data = 1;
    return 0;
}

int ride_image_ensure(ride_image *img, ride_pixel_format f, uint32_t width, uint32_t height)
{
    if (img->owns_data && img->data && img->format == f && img->width == width &&
        img->height == height)
        return 0;
    ride_image_free(img);
    return ride_image_alloc(img, f, width, height);
}

void ride_image_wrap(ride_image *img, ride_pixel_format f, uint32_t width, uint32_t height,
                     size_t stride, void *data)
{
    img->format = f;
    img->width = width;
    img->height = height;
    img->stride = stride;
    img->data = data;
    img->owns_data = 0;
}

void ride_image_free(ride_image *img)
{
    if (img->owns_data)
        free(img->data);
    memset(img, 0, sizeof *img);
}

const char *const ride_encoding_names[] = {"raw", "jpeg", "png", NULL};

const char *ride_encoding_name(ride_encoding enc)
{
    return (unsigned)enc <= RIDE_ENC_PNG ? ride_encoding_names[enc] : "invalid";
}
