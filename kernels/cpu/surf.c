/* SURF on the CPU: integral image, box-filter Hessian layers octave by octave,
 * 3 x 3 x 3 maxima with quadratic interpolation, ranking, then orientation and
 * descriptor per keypoint. Rows and keypoints are spread over OpenMP threads; the
 * arithmetic of each step lives in kernels/surf_core.h, shared with the CUDA
 * kernel. */
#include "kernels/kernels.h"

#include "cpu_internal.h"
#include "../surf_core.h"

#include <stdlib.h>
#include <string.h>

/* The 9 x 9 pattern (x0, y0, x1, y1, weight) of OpenCV's SURF: Dxx, Dyy, Dxy. */
static const int pattern_dxx[3][5] = {{0, 2, 3, 7, 1}, {3, 2, 6, 7, -2}, {6, 2, 9, 7, 1}};
static const int pattern_dyy[3][5] = {{2, 0, 7, 3, 1}, {2, 3, 7, 6, -2}, {2, 6, 7, 9, 1}};
static const int pattern_dxy[4][5] = {
    {1, 1, 4, 4, 1}, {5, 1, 8, 4, -1}, {1, 5, 4, 8, -1}, {5, 5, 8, 8, 1}};

/* round(c * size / 9) in integers (never a tie: size is a multiple of 3). */
static int scale_coord(int c, int size)
{
    return (2 * c * size + SURF_BASE_SIZE) / (2 * SURF_BASE_SIZE);
}

static void scale_pattern(const int (*src)[5], int n, int size, surf_box *dst)
{
    for (int k = 0; k < n; k++) {
        surf_box *b = &dst[k];
        b->x0 = scale_coord(src[k][0], size);
        b->y0 = scale_coord(src[k][1], size);
        b->x1 = scale_coord(src[k][2], size);
        b->y1 = scale_coord(src[k][3], size);
        b->weight = (float)src[k][4] / ((float)(b->x1 - b->x0) * (float)(b->y1 - b->y0));
    }
}

static void layer_of_size(surf_layer *l, int size, int step, int width, int height)
{
    memset(l, 0, sizeof *l);
    l->size = size;
    l->step = step;
    l->margin = size / 2 / step;
    l->rows = height / step;
    l->cols = width / step;
    l->first_row = l->first_col = l->margin;
    l->last_row = height >= size ? l->margin + (height - size) / step : l->margin - 1;
    l->last_col = width >= size ? l->margin + (width - size) / step : l->margin - 1;
    scale_pattern(pattern_dxx, 3, size, l->dxx);
    scale_pattern(pattern_dyy, 3, size, l->dyy);
    scale_pattern(pattern_dxy, 4, size, l->dxy);
}

void ride_surf_layer_make(surf_layer *l, int octave, int layer, int width, int height)
{
    layer_of_size(l, (SURF_BASE_SIZE + SURF_SIZE_STEP * layer) << octave, 1 << octave, width,
                  height);
}

static int point_order(const void *pa, const void *pb)
{
    const surf_point *a = pa, *b = pb;
    if (a->response != b->response)
        return a->response > b->response ? -1 : 1;
    if (a->y != b->y)
        return a->y < b->y ? -1 : 1;
    if (a->x != b->x)
        return a->x < b->x ? -1 : 1;
    return (a->size > b->size) - (a->size < b->size);
}

size_t ride_surf_rank(surf_point *points, size_t count, size_t max)
{
    if (count > 1)
        qsort(points, count, sizeof *points, point_order);
    return count < max ? count : max;
}

void ride_surf_header(float *row, size_t count, uint32_t width, uint32_t height)
{
    memset(row, 0, RIDE_SURF_COLUMNS * sizeof *row);
    row[0] = (float)count;
    row[1] = (float)RIDE_SURF_DESC_LEN;
    row[2] = (float)width;
    row[3] = (float)height;
}

int ride_surf_params_valid(const ride_surf_params *p)
{
    return p && p->hessian_threshold >= 0.0f && p->hessian_threshold <= 1e30f &&
           p->octaves >= 1 && p->octaves <= RIDE_SURF_MAX_OCTAVES && p->intervals >= 1 &&
           p->intervals <= RIDE_SURF_MAX_INTERVALS && p->max_keypoints >= 1 &&
           p->max_keypoints <= RIDE_SURF_MAX_KEYPOINTS;
}

/* ---- integral image ------------------------------------------------------ */

/* (width + 1) x (height + 1) running sums, modulo 2^32 (see surf_core.h). */
static uint32_t *integral_image(const ride_image *src, int nthreads)
{
    const size_t w = src->width, h = src->height, stride = w + 1;
    uint32_t *sum = calloc(stride * (h + 1), sizeof *sum);
    if (!sum)
        return NULL;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t y = 0; y < h; y++) {
        const uint8_t *in = ride_image_row(src, (uint32_t)y);
        uint32_t *out = sum + (y + 1) * stride;
        uint32_t acc = 0;
        for (size_t x = 0; x < w; x++)
            out[x + 1] = acc += in[x];
    }
    const int chunks = ride_cpu_band_count(nthreads, (uint32_t)stride);
#pragma omp parallel for num_threads(chunks) schedule(static)
    for (int c = 0; c < chunks; c++) {
        const size_t x0 = ride_cpu_band_start(c, chunks, (uint32_t)stride);
        const size_t x1 = ride_cpu_band_start(c + 1, chunks, (uint32_t)stride);
        for (size_t y = 1; y <= h; y++)
            for (size_t x = x0; x < x1; x++)
                sum[y * stride + x] += sum[(y - 1) * stride + x];
    }
    return sum;
}

/* One box filter's response along n cells of a grid row, step pixels apart, the
 * first with its filter's corner at (x, y): surf_filter's sums in its order, so
 * the results are bit for bit those of the GPU's per-cell code. The integral
 * image is read along rows, which vectorizes. */
RIDE_CPU_CLONES
static void filter_run(const uint32_t *sum, size_t stride, int x, int y, int step, int n,
                       const surf_box *b, int boxes, float *restrict r)
{
    for (int i = 0; i < n; i++)
        r[i] = 0.0f;
    for (int k = 0; k < boxes; k++) {
        const uint32_t *top = sum + (size_t)(y + b[k].y0) * stride;
        const uint32_t *bottom = sum + (size_t)(y + b[k].y1) * stride;
        const size_t x0 = (size_t)(x + b[k].x0), x1 = (size_t)(x + b[k].x1);
        const float w = b[k].weight;
        for (int i = 0; i < n; i++) {
            const size_t at = (size_t)i * (size_t)step;
            r[i] += w * (float)(bottom[x1 + at] - top[x1 + at] - bottom[x0 + at] + top[x0 + at]);
        }
    }
}

/* surf_hessian's determinant and trace for n cells from their box responses. */
RIDE_CPU_CLONES
static void hessian_run(const float *restrict dxx, const float *restrict dyy,
                        const float *restrict dxy, int n, float *restrict det,
                        float *restrict trace)
{
    for (int i = 0; i < n; i++) {
        det[i] = dxx[i] * dyy[i] - 0.81f * dxy[i] * dxy[i];
        trace[i] = dxx[i] + dyy[i];
    }
}

/* Grid row r of a layer; scratch holds 3 x cols floats. */
static void fill_row(const uint32_t *sum, size_t stride, const surf_layer *l, int r, float *det,
                     float *trace, float *scratch)
{
    memset(det, 0, (size_t)l->cols * sizeof *det);
    memset(trace, 0, (size_t)l->cols * sizeof *trace);
    if (r < l->first_row || r > l->last_row || l->last_col < l->first_col)
        return;
    const int n = l->last_col - l->first_col + 1;
    const int x = (l->first_col - l->margin) * l->step, y = (r - l->margin) * l->step;
    float *dxx = scratch, *dyy = scratch + l->cols, *dxy = scratch + 2 * (size_t)l->cols;
    filter_run(sum, stride, x, y, l->step, n, l->dxx, 3, dxx);
    filter_run(sum, stride, x, y, l->step, n, l->dyy, 3, dyy);
    filter_run(sum, stride, x, y, l->step, n, l->dxy, 4, dxy);
    hessian_run(dxx, dyy, dxy, n, det + l->first_col, trace + l->first_col);
}

/* Every cell of a layer, in bands of rows; -1 when the scratch rows cannot be had. */
static int fill_layer(const uint32_t *sum, size_t stride, const surf_layer *l, float *det,
                      float *trace, int nthreads)
{
    int bands = ride_cpu_band_count(nthreads, (uint32_t)l->rows);
    float *scratch = malloc((size_t)bands * 3 * (size_t)l->cols * sizeof *scratch);
    if (!scratch)
        return -1;
#pragma omp parallel for num_threads(bands) schedule(static)
    for (int b = 0; b < bands; b++) {
        const int end = (int)ride_cpu_band_start(b + 1, bands, (uint32_t)l->rows);
        for (int r = (int)ride_cpu_band_start(b, bands, (uint32_t)l->rows); r < end; r++) {
            const size_t at = (size_t)r * (size_t)l->cols;
            fill_row(sum, stride, l, r, det + at, trace + at,
                     scratch + (size_t)b * 3 * (size_t)l->cols);
        }
    }
    free(scratch);
    return 0;
}

int ride_cpu_surf_hessian(const ride_image *src, uint32_t size, ride_image *det,
                          ride_image *trace, int threads)
{
    int nthreads = ride_cpu_threads(threads);
    if (nthreads < 1 || !ride_cpu_image_valid(src) || src->format != RIDE_PIX_GRAY8 ||
        size < SURF_BASE_SIZE || size % 3 != 0 || size > RIDE_IMAGE_MAX_DIM || !det || !trace ||
        det == trace || !ride_cpu_output_distinct(src, det) ||
        !ride_cpu_output_distinct(src, trace) ||
        ride_image_ensure(det, RIDE_PIX_GRAY32F, src->width, src->height) != 0 ||
        ride_image_ensure(trace, RIDE_PIX_GRAY32F, src->width, src->height) != 0)
        return -1;
    uint32_t *sum = integral_image(src, nthreads);
    const size_t cells = (size_t)src->width * src->height;
    float *d = malloc(cells * sizeof *d), *t = malloc(cells * sizeof *t);
    if (!sum || !d || !t) {
        free(sum);
        free(d);
        free(t);
        return -1;
    }
    surf_layer l;
    layer_of_size(&l, (int)size, 1, (int)src->width, (int)src->height);
    int rc = fill_layer(sum, (size_t)src->width + 1, &l, d, t, nthreads);
    for (uint32_t y = 0; rc == 0 && y < src->height; y++) {
        memcpy(ride_image_row(det, y), d + (size_t)y * src->width, src->width * sizeof *d);
        memcpy(ride_image_row(trace, y), t + (size_t)y * src->width, src->width * sizeof *t);
    }
    free(sum);
    free(d);
    free(t);
    return rc;
}

/* ---- detection ----------------------------------------------------------- */

/* A growable array of points. */
typedef struct point_list {
    surf_point *items;
    size_t count, capacity;
} point_list;

/* Room for `needed` points, doubling. */
static int list_reserve(point_list *list, size_t needed)
{
    size_t cap = list->capacity ? list->capacity : 256;
    while (cap < needed)
        cap *= 2;
    if (cap == list->capacity)
        return 0;
    surf_point *items = realloc(list->items, cap * sizeof *items);
    if (!items)
        return -1;
    list->items = items;
    list->capacity = cap;
    return 0;
}

static int list_push(point_list *list, const surf_point *p)
{
    if (list_reserve(list, list->count + 1) != 0)
        return -1;
    list->items[list->count++] = *p;
    return 0;
}

static int list_append(point_list *dst, const point_list *src)
{
    if (src->count == 0)
        return 0;
    if (list_reserve(dst, dst->count + src->count) != 0)
        return -1;
    memcpy(dst->items + dst->count, src->items, src->count * sizeof *src->items);
    dst->count += src->count;
    return 0;
}

/* One octave's layers: intervals + 2 of them, each rows x cols determinants and traces. */
typedef struct octave_layers {
    surf_layer layer[RIDE_SURF_MAX_INTERVALS + 2];
    float *det, *trace; /* layer k at k * cells */
    size_t cells;
} octave_layers;

/* Maxima of middle layer m of an octave, appended to found. */
static int find_maxima(const octave_layers *o, int m, float threshold, point_list *found,
                       int nthreads)
{
    const surf_layer *l = &o->layer[m - 1];
    const float *const dets[3] = {o->det + (size_t)(m - 1) * o->cells, o->det + (size_t)m * o->cells,
                                  o->det + (size_t)(m + 1) * o->cells};
    const float *trace = o->trace + (size_t)m * o->cells;
    const int bands = ride_cpu_band_count(nthreads, (uint32_t)l[1].rows);
    point_list *per_band = calloc((size_t)bands, sizeof *per_band);
    if (!per_band)
        return -1;
    int failed = 0;
#pragma omp parallel for num_threads(bands) schedule(static) reduction(| : failed)
    for (int b = 0; b < bands; b++) {
        const int r0 = (int)ride_cpu_band_start(b, bands, (uint32_t)l[1].rows);
        const int r1 = (int)ride_cpu_band_start(b + 1, bands, (uint32_t)l[1].rows);
        surf_point p;
        for (int r = r0; r < r1; r++)
            for (int c = 0; c < l[1].cols; c++)
                if (surf_keypoint_at(l, dets, trace, threshold, r, c, &p))
                    failed |= list_push(&per_band[b], &p) != 0;
    }
    for (int b = 0; b < bands; b++) {
        if (!failed)
            failed = list_append(found, &per_band[b]) != 0;
        free(per_band[b].items);
    }
    free(per_band);
    return failed ? -1 : 0;
}

static int detect(const uint32_t *sum, const ride_image *src, const ride_surf_params *p,
                  point_list *found, int nthreads)
{
    const int w = (int)src->width, h = (int)src->height, nl = p->intervals + 2;
    octave_layers o;
    o.cells = (size_t)w * (size_t)h;
    o.det = malloc((size_t)nl * o.cells * sizeof *o.det);
    o.trace = malloc((size_t)nl * o.cells * sizeof *o.trace);
    int rc = o.det && o.trace ? 0 : -1;
    for (int oct = 0; rc == 0 && oct < p->octaves; oct++) {
        ride_surf_layer_make(&o.layer[nl - 1], oct, nl - 1, w, h);
        if (o.layer[nl - 1].size > w || o.layer[nl - 1].size > h)
            break;
        for (int k = 0; rc == 0 && k < nl; k++) {
            ride_surf_layer_make(&o.layer[k], oct, k, w, h);
            rc = fill_layer(sum, (size_t)w + 1, &o.layer[k], o.det + (size_t)k * o.cells,
                            o.trace + (size_t)k * o.cells, nthreads);
        }
        for (int m = 1; rc == 0 && m <= p->intervals; m++)
            rc = find_maxima(&o, m, p->hessian_threshold, found, nthreads);
    }
    free(o.det);
    free(o.trace);
    return rc;
}

/* ---- orientation and descriptor ------------------------------------------ */

static float orientation(const uint32_t *sum, size_t stride, int w, int h, const surf_point *p)
{
    float gx[SURF_ORI_SAMPLES], gy[SURF_ORI_SAMPLES], angle[SURF_ORI_SAMPLES];
    float sx[SURF_ORI_WINDOWS], sy[SURF_ORI_WINDOWS];
    for (int k = 0; k < SURF_ORI_SAMPLES; k++)
        surf_ori_sample(sum, stride, w, h, p, k, &gx[k], &gy[k], &angle[k]);
    for (int k = 0; k < SURF_ORI_WINDOWS; k++)
        surf_ori_window(gx, gy, angle, k, &sx[k], &sy[k]);
    return surf_ori_pick(sx, sy);
}

static void describe(const uint32_t *sum, size_t stride, int w, int h, const surf_point *p,
                     float angle, float *desc)
{
    float du[SURF_PATCH * SURF_PATCH], dv[SURF_PATCH * SURF_PATCH];
    const float c = cosf(angle), n = sinf(angle);
    for (int i = 0; i < SURF_PATCH; i++)
        for (int j = 0; j < SURF_PATCH; j++)
            surf_desc_sample(sum, stride, w, h, p, c, n, i, j, &du[i * SURF_PATCH + j],
                             &dv[i * SURF_PATCH + j]);
    for (int r = 0; r < 16; r++)
        surf_desc_subregion(du, dv, r, desc + 4 * r);
    const float inv = surf_desc_inverse_norm(desc);
    for (int k = 0; k < RIDE_SURF_DESC_LEN; k++)
        desc[k] *= inv;
}

static void write_rows(const uint32_t *sum, const ride_image *src, const surf_point *pts,
                       size_t count, int upright, ride_image *dst, int nthreads)
{
    const int w = (int)src->width, h = (int)src->height;
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 16)
    for (size_t k = 0; k < count; k++) {
        float *row = (float *)ride_image_row(dst, (uint32_t)(k + 1));
        const surf_point *p = &pts[k];
        const float angle = upright ? 0.0f : orientation(sum, (size_t)w + 1, w, h, p);
        row[RIDE_SURF_COL_X] = p->x;
        row[RIDE_SURF_COL_Y] = p->y;
        row[RIDE_SURF_COL_SIZE] = p->size;
        row[RIDE_SURF_COL_ANGLE] = angle;
        row[RIDE_SURF_COL_RESPONSE] = p->response;
        row[RIDE_SURF_COL_LAPLACIAN] = p->laplacian;
        describe(sum, (size_t)w + 1, w, h, p, angle, row + RIDE_SURF_COL_DESC);
    }
}

int ride_cpu_surf(const ride_image *src, const ride_surf_params *p, ride_image *dst, int threads)
{
    int nthreads = ride_cpu_threads(threads);
    if (nthreads < 1 || !ride_surf_params_valid(p) || !ride_cpu_image_valid(src) ||
        src->format != RIDE_PIX_GRAY8 || !ride_cpu_output_distinct(src, dst))
        return -1;
    uint32_t *sum = integral_image(src, nthreads);
    if (!sum)
        return -1;
    point_list found = {0};
    int rc = detect(sum, src, p, &found, nthreads);
    if (rc == 0) {
        size_t kept = ride_surf_rank(found.items, found.count, p->max_keypoints);
        rc = ride_image_ensure(dst, RIDE_PIX_GRAY32F, RIDE_SURF_COLUMNS, (uint32_t)kept + 1);
        if (rc == 0) {
            ride_surf_header((float *)ride_image_row(dst, 0), kept, src->width, src->height);
            write_rows(sum, src, found.items, kept, p->upright, dst, nthreads);
        }
    }
    free(found.items);
    free(sum);
    return rc == 0 ? 0 : -1;
}
