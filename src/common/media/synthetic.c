/* Synthetic camera frames. Everything is integer arithmetic on fixed-width
 * unsigned types, so a frame's bytes do not depend on the compiler, the CPU or
 * floating-point settings. */
#include "media/synthetic.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The per-pixel loop is compiled for AVX-512 and AVX2 next to the x86-64
 * baseline and picked at load time (function multiversioning): vectorised, it
 * renders several times faster. Integer arithmetic gives the same bytes on every
 * version. */
#if defined(__x86_64__) && defined(__GNUC__)
#define SYNTH_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SYNTH_CLONES
#endif

/* ---- parsing ---------------------------------------------------------------- */

/* Fraction digits beyond this are not a frame rate anyone means. */
#define SYNTH_FPS_MAX_DECIMALS 6

static int synth_fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int synth_fail(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A dimension: decimal digits, no leading zero, 1..RIDE_IMAGE_MAX_DIM. */
static int parse_dimension(const char **s, uint32_t *out)
{
    const char *p = *s;
    uint32_t v = 0;
    if (!is_digit(*p) || *p == '0')
        return -1;
    for (; is_digit(*p); p++) {
        v = v * 10 + (uint32_t)(*p - '0');
        if (v > RIDE_IMAGE_MAX_DIM)
            return -1;
    }
    *out = v;
    *s = p;
    return 0;
}

/* digits [ '.' digits ], integer part without a leading zero unless it is "0";
 * done by hand because strtod() also takes signs, exponents, hex, "inf", "nan"
 * and follows the locale's decimal point. */
static int parse_fps(const char *p, double *out)
{
    uint32_t whole = 0, frac = 0, scale = 1;
    if (!is_digit(*p) || (p[0] == '0' && is_digit(p[1])))
        return -1;
    for (; is_digit(*p); p++) {
        whole = whole * 10 + (uint32_t)(*p - '0');
        if (whole > (uint32_t)RIDE_SYNTHETIC_MAX_FPS)
            return -1;
    }
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return -1;
        for (int n = 0; is_digit(*p); p++, n++) {
            if (n == SYNTH_FPS_MAX_DECIMALS)
                return -1;
            frac = frac * 10 + (uint32_t)(*p - '0');
            scale *= 10;
        }
    }
    if (*p != '\0')
        return -1;
    double fps = whole + (double)frac / scale;
    if (!(fps > 0.0 && fps <= RIDE_SYNTHETIC_MAX_FPS))
        return -1;
    *out = fps;
    return 0;
}

int ride_synthetic_parse(const char *uri, ride_synthetic_spec *out, char *why, size_t whylen)
{
    static const char scheme[] = RIDE_SYNTHETIC_SCHEME;
    if (!uri || !out || strncmp(uri, scheme, sizeof scheme - 1) != 0)
        return synth_fail(why, whylen, "not a synthetic source (expected synthetic:WxH@FPS)");
    const char *p = uri + sizeof scheme - 1;
    ride_synthetic_spec spec;
    if (parse_dimension(&p, &spec.width) != 0)
        return synth_fail(why, whylen, "width: expected an integer in 1..%u", RIDE_IMAGE_MAX_DIM);
    if (*p++ != 'x')
        return synth_fail(why, whylen, "expected 'x' after the width");
    if (parse_dimension(&p, &spec.height) != 0)
        return synth_fail(why, whylen, "height: expected an integer in 1..%u", RIDE_IMAGE_MAX_DIM);
    if (*p++ != '@')
        return synth_fail(why, whylen, "expected '@' after the height");
    if (parse_fps(p, &spec.fps) != 0)
        return synth_fail(why, whylen,
                          "fps: expected a decimal number in (0, %g] with at most %d decimals "
                          "and nothing after it",
                          RIDE_SYNTHETIC_MAX_FPS, SYNTH_FPS_MAX_DECIMALS);
    *out = spec;
    return 0;
}

/* ---- rendering -------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Per-pixel noise hash: a 32-bit finaliser (two multiplies) keeps rendering
 * cheap. Its counter is a row key (a 64-bit hash of stream, frame and row)
 * plus the column. */
static inline uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* Parameters drawn from a stream's own counter, so that streams look different. */
typedef struct synth_params {
    uint64_t state;
} synth_params;

static uint32_t param(synth_params *p, uint32_t below)
{
    p->state += 1;
    return (uint32_t)(splitmix64(p->state) % below);
}

/* Position on a path that bounces between 0 and len - 1. */
static uint32_t bounce(uint64_t t, uint32_t len)
{
    if (len == 1)
        return 0;
    uint64_t period = 2 * (uint64_t)len - 2;
    uint64_t m = t % period;
    return (uint32_t)(m < len ? m : period - m);
}

static uint32_t isqrt32(uint32_t v)
{
    uint32_t root = 0, bit = 1u << 30;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= root + bit) {
            v -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

typedef struct synth_rect {
    int64_t x0, y0, x1, y1; /* half-open, may reach outside the frame */
    uint8_t colour[3];
} synth_rect;

typedef struct synth_frame {
    uint32_t width, height;
    uint32_t grad_x[3], grad_y[3]; /* 16.16 gradient phase steps per column and row */
    uint32_t phase[3];
    uint64_t noise_key;
    int64_t disc_x, disc_y, disc_r;
    uint8_t disc_colour[3];
    synth_rect bar;
    synth_rect board;      /* checkerboard, colours alternate between dark and light */
    uint8_t board_light[3];
    unsigned board_shift;  /* log2 of the cell size */
    uint32_t board_scroll;
} synth_frame;

static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }
static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

static void random_colour(synth_params *p, uint8_t out[3], uint32_t base, uint32_t range)
{
    for (int c = 0; c < 3; c++)
        out[c] = (uint8_t)(base + param(p, range));
}

static void synth_setup(synth_frame *f, uint64_t stream_id, uint64_t seq, uint32_t w, uint32_t h)
{
    synth_params p = {splitmix64(stream_id ^ 0x5249444553594e54u)};
    uint32_t small = min_u32(w, h);
    uint32_t speed = 1 + small / 200;

    f->width = w;
    f->height = h;
    for (int c = 0; c < 3; c++) {
        /* Half to one and a half triangle periods (512 phase units) across the frame. */
        f->grad_x[c] = ((256 + param(&p, 512)) << 16) / w;
        f->grad_y[c] = ((256 + param(&p, 512)) << 16) / h;
        f->phase[c] = (uint32_t)(param(&p, 512) + seq * (1 + param(&p, 4)));
    }
    f->noise_key = splitmix64(p.state ^ splitmix64(seq));

    f->disc_r = max_u32(1, small / 6);
    f->disc_x = bounce(param(&p, 1u << 20) + seq * (speed + param(&p, 3)), w);
    f->disc_y = bounce(param(&p, 1u << 20) + seq * (speed + param(&p, 3)), h);
    random_colour(&p, f->disc_colour, 0, 256);

    int64_t bar_w = max_u32(1, w / 4), bar_h = max_u32(1, h / 8);
    f->bar.x0 = (int64_t)bounce(param(&p, 1u << 20) + seq * (speed + param(&p, 3)), w) - bar_w / 2;
    f->bar.y0 = param(&p, h);
    f->bar.x1 = f->bar.x0 + bar_w;
    f->bar.y1 = f->bar.y0 + bar_h;
    random_colour(&p, f->bar.colour, 0, 256);

    uint32_t board = max_u32(1, small / 4);
    f->board_shift = 0;
    while ((2u << f->board_shift) <= board / 6)
        f->board_shift++;
    f->board.x0 = param(&p, w);
    f->board.y0 = (int64_t)bounce(param(&p, 1u << 20) + seq * speed, h) - board / 2;
    f->board.x1 = f->board.x0 + board;
    f->board.y1 = f->board.y0 + board;
    random_colour(&p, f->board.colour, 0, 64);
    random_colour(&p, f->board_light, 192, 64);
    f->board_scroll = (uint32_t)seq;
}

static inline uint8_t add_noise(uint32_t v, uint32_t h)
{
    int32_t n = (int32_t)v + (int32_t)(h & 31) - 16;
    return (uint8_t)(n < 0 ? 0 : n > 255 ? 255 : n);
}

/* Triangle wave of a 9-bit phase: 0..255 and back, without jumps. */
static inline uint32_t triangle(uint32_t p)
{
    return (p & 255) ^ ((0u - ((p >> 8) & 1)) & 255);
}

SYNTH_CLONES
static void background_row(const synth_frame *f, uint32_t y, uint8_t *restrict row)
{
    uint32_t ry[3], key = (uint32_t)splitmix64(f->noise_key + y);
    for (int c = 0; c < 3; c++)
        ry[c] = y * f->grad_y[c];
    for (uint32_t x = 0; x < f->width; x++) {
        uint32_t h = hash32(key + x);
        for (int c = 0; c < 3; c++) {
            uint32_t v = triangle(((x * f->grad_x[c] + ry[c]) >> 16) + f->phase[c]);
            row[3 * (size_t)x + c] = add_noise(v, h >> (8 * c));
        }
    }
}

/* Clips [x0, x1) to the row; 0 when nothing is left. */
static int clip_span(const synth_frame *f, int64_t x0, int64_t x1, uint32_t *a, uint32_t *b)
{
    if (x0 < 0)
        x0 = 0;
    if (x1 > (int64_t)f->width)
        x1 = f->width;
    if (x0 >= x1)
        return 0;
    *a = (uint32_t)x0;
    *b = (uint32_t)x1;
    return 1;
}

static void fill_span(uint8_t *row, uint32_t a, uint32_t b, const uint8_t colour[3])
{
    for (uint32_t x = a; x < b; x++)
        memcpy(row + 3 * (size_t)x, colour, 3);
}

static void bar_row(const synth_frame *f, int64_t y, uint8_t *row)
{
    uint32_t a, b;
    if (y >= f->bar.y0 && y < f->bar.y1 && clip_span(f, f->bar.x0, f->bar.x1, &a, &b))
        fill_span(row, a, b, f->bar.colour);
}

static void disc_row(const synth_frame *f, int64_t y, uint8_t *row)
{
    int64_t dy = y - f->disc_y;
    if (dy < -f->disc_r || dy > f->disc_r)
        return;
    int64_t half = isqrt32((uint32_t)(f->disc_r * f->disc_r - dy * dy));
    uint32_t a, b;
    if (clip_span(f, f->disc_x - half, f->disc_x + half + 1, &a, &b))
        fill_span(row, a, b, f->disc_colour);
}

static void board_row(const synth_frame *f, int64_t y, uint8_t *row)
{
    uint32_t a, b;
    if (y < f->board.y0 || y >= f->board.y1 || !clip_span(f, f->board.x0, f->board.x1, &a, &b))
        return;
    uint32_t cell_y = (uint32_t)(y - f->board.y0) >> f->board_shift;
    for (uint32_t x = a; x < b; x++) {
        uint32_t cell_x = ((uint32_t)(x - f->board.x0) + f->board_scroll) >> f->board_shift;
        memcpy(row + 3 * (size_t)x, (cell_x + cell_y) & 1 ? f->board_light : f->board.colour, 3);
    }
}

int ride_synthetic_render_into(uint64_t stream_id, uint64_t seq, const ride_image *dst)
{
    if (!dst || !dst->data || dst->format != RIDE_PIX_BGR8 || dst->height == 0 ||
        dst->height > RIDE_IMAGE_MAX_DIM)
        return -1;
    size_t row_bytes = ride_image_row_bytes(dst->format, dst->width);
    if (row_bytes == 0 || dst->stride < row_bytes || ride_image_size(dst) == 0)
        return -1;
    synth_frame f;
    synth_setup(&f, stream_id, seq, dst->width, dst->height);
    for (uint32_t y = 0; y < dst->height; y++) {
        uint8_t *row = ride_image_row(dst, y);
        background_row(&f, y, row);
        bar_row(&f, y, row);
        disc_row(&f, y, row);
        board_row(&f, y, row);
    }
    return 0;
}

int ride_synthetic_render(uint64_t stream_id, uint64_t seq, uint32_t width, uint32_t height,
                          ride_image *out)
{
    if (!out || ride_image_ensure(out, RIDE_PIX_BGR8, width, height) != 0)
        return -1;
    return ride_synthetic_render_into(stream_id, seq, out);
}
