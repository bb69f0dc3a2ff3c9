/* separable.h - exact integer separable filtering of 8-bit images over row bands,
 * borders BORDER_REFLECT_101, shared by the gaussian and Sobel CPU kernels (not
 * public). Each output row is filtered down the columns first, then along the
 * row, a chunk of it at a time; the sums are exact, so the order does not change
 * the result. */
#ifndef RIDE_SEPARABLE_H
#define RIDE_SEPARABLE_H

#include "ride/image.h"

#include <stdint.h>

/* An odd number of taps, centred on the output sample. */
typedef struct ride_sep_taps {
    const int32_t *taps;
    uint32_t count;
} ride_sep_taps;

/* Turns `samples` filtered samples of a row (a chunk of it) into output bytes. */
typedef void (*ride_sep_finish_fn)(const int32_t *const *rows, uint8_t *out, size_t samples);

/* Up to two filters (vertical taps, then horizontal taps) run over every row of
 * src; `finish` combines their int32 results into dst's row. dst must already
 * have src's size and channels. Each filter's column sums of 8-bit samples must
 * fit 16 bits, unsigned or signed (every gaussian and Sobel kernel does): they
 * are kept in 16-bit lanes. 0, or -1 on allocation failure or wider sums. */
int ride_sep_run(const ride_image *src, ride_image *dst, const ride_sep_taps (*filters)[2],
                 int filter_count, ride_sep_finish_fn finish, int threads);

#endif
