// opencv_c.cpp - the thin extern "C" shim over OpenCV. No OpenCV type or
// exception crosses into C: Mats wrap ride_image buffers, errors become -1.
#include "media/opencv_c.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <opencv2/videoio.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

struct ride_cv_capture {
    cv::VideoCapture cap;
    cv::Mat frame;
};

struct ride_cv_cascade {
    cv::CascadeClassifier classifier;
    cv::Mat gray;                 // colour input converted, reused between frames
    std::vector<cv::Rect> found;  // detectMultiScale's output, reused
    std::vector<ride_cv_rect> rects;
};

struct ride_cv_writer {
    cv::VideoWriter writer;
    uint32_t width, height;
};

namespace {

void set_err(char *err, size_t errlen, const char *what, const char *detail = nullptr)
{
    if (!err || errlen == 0)
        return;
    if (detail)
        std::snprintf(err, errlen, "%s: %s", what, detail);
    else
        std::snprintf(err, errlen, "%s", what);
}

int mat_type(ride_pixel_format f)
{
    switch (f) {
    case RIDE_PIX_GRAY8: return CV_8UC1;
    case RIDE_PIX_BGR8:
    case RIDE_PIX_RGB8: return CV_8UC3;
    case RIDE_PIX_BGRA8: return CV_8UC4;
    case RIDE_PIX_GRAY16: return CV_16UC1;
    case RIDE_PIX_GRAY32F: return CV_32FC1;
    default: return -1;
    }
}

// A Mat header over the image's pixels: no copy.
cv::Mat wrap(const ride_image *img)
{
    return cv::Mat((int)img->height, (int)img->width, mat_type(img->format), img->data,
                   img->stride);
}

bool wrappable(const ride_image *img)
{
    return img && img->data && mat_type(img->format) >= 0 && img->width > 0 && img->height > 0;
}

// Copies a Mat into out (reallocated only when its shape changes).
int mat_to_image(const cv::Mat &m, ride_pixel_format f, ride_image *out)
{
    if (ride_image_ensure(out, f, (uint32_t)m.cols, (uint32_t)m.rows) != 0)
        return -1;
    m.copyTo(wrap(out));
    return 0;
}

// A separate success flag: IMREAD_UNCHANGED itself is -1.
bool imread_flags(ride_pixel_format want, int *flags)
{
    switch (want) {
    case RIDE_PIX_GRAY8: *flags = cv::IMREAD_GRAYSCALE; return true;
    case RIDE_PIX_BGR8: *flags = cv::IMREAD_COLOR; return true;
    case RIDE_PIX_BGRA8: *flags = cv::IMREAD_UNCHANGED; return true;
    case RIDE_PIX_GRAY16: *flags = cv::IMREAD_ANYDEPTH; return true;
    default: return false;
    }
}

// Replaces flags by the IMREAD_REDUCED_* mode of a 1/scale JPEG decode, which
// OpenCV has for colour and grey targets only.
bool reduced_flags(unsigned scale, ride_pixel_format want, int *flags)
{
    static const int colour[] = {cv::IMREAD_REDUCED_COLOR_2, cv::IMREAD_REDUCED_COLOR_4,
                                 cv::IMREAD_REDUCED_COLOR_8};
    static const int grey[] = {cv::IMREAD_REDUCED_GRAYSCALE_2, cv::IMREAD_REDUCED_GRAYSCALE_4,
                               cv::IMREAD_REDUCED_GRAYSCALE_8};
    if (scale == 1)
        return true;
    int step = scale == 2 ? 0 : scale == 4 ? 1 : scale == 8 ? 2 : -1;
    if (step < 0 || (want != RIDE_PIX_BGR8 && want != RIDE_PIX_GRAY8))
        return false;
    *flags = want == RIDE_PIX_BGR8 ? colour[step] : grey[step];
    return true;
}

// Brings whatever imdecode/imread produced to the requested format.
int to_format(const cv::Mat &m, ride_pixel_format want, ride_image *out, char *err, size_t errlen)
{
    cv::Mat conv;
    if (want == RIDE_PIX_BGRA8 && m.type() != CV_8UC4) {
        if (m.depth() != CV_8U) {
            set_err(err, errlen, "image is not 8-bit");
            return -1;
        }
        cv::cvtColor(m, conv, m.channels() == 1 ? cv::COLOR_GRAY2BGRA : cv::COLOR_BGR2BGRA);
    } else if (want == RIDE_PIX_GRAY16 && m.type() != CV_16UC1) {
        set_err(err, errlen, "image is not 16-bit single-channel");
        return -1;
    } else {
        conv = m;
    }
    if (conv.type() != mat_type(want)) {
        set_err(err, errlen, "decoded image has an unexpected type");
        return -1;
    }
    if (mat_to_image(conv, want, out) != 0) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint32_t be16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }

bool png_dimensions(const uint8_t *b, size_t len, uint32_t *w, uint32_t *h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 24 || std::memcmp(b, sig, 8) != 0 || std::memcmp(b + 12, "IHDR", 4) != 0)
        return false;
    *w = be32(b + 16);
    *h = be32(b + 20);
    return true;
}

bool is_jpeg_sof(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

// Walks JPEG marker segments up to the first start-of-frame, which holds the size.
bool jpeg_dimensions(const uint8_t *b, size_t len, uint32_t *w, uint32_t *h)
{
    if (len < 4 || b[0] != 0xFF || b[1] != 0xD8)
        return false;
    size_t i = 2;
    while (i + 4 <= len) {
        if (b[i] != 0xFF)
            return false;
        uint8_t marker = b[i + 1];
        if (marker == 0xFF) {  // fill byte
            i++;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length
            i += 2;
            continue;
        }
        size_t seglen = be16(b + i + 2);
        if (seglen < 2)
            return false;
        if (is_jpeg_sof(marker)) {
            if (i + 9 > len)
                return false;
            *h = be16(b + i + 5);
            *w = be16(b + i + 7);
            return true;
        }
        i += 2 + seglen;
    }
    return false;
}

}  // namespace

extern "C" {

int ride_cv_encode(const ride_image *img, ride_cv_codec codec, int quality, uint8_t **out,
                   size_t *out_len, char *err, size_t errlen)
{
    if (!out || !out_len) {
        set_err(err, errlen, "encode: no output buffer");
        return -1;
    }
    *out = nullptr;
    *out_len = 0;
    if (!wrappable(img) || img->format == RIDE_PIX_GRAY32F || img->format == RIDE_PIX_RGB8 ||
        (codec == RIDE_CV_JPEG && img->format == RIDE_PIX_GRAY16)) {
        set_err(err, errlen, "encode: unsupported image format for this codec",
                ride_pixel_format_name(img ? img->format : RIDE_PIX_INVALID));
        return -1;
    }
    try {
        std::vector<int> params;
        const char *ext = codec == RIDE_CV_JPEG ? ".jpg" : ".png";
        if (codec == RIDE_CV_JPEG && quality >= 1 && quality <= 100)
            params = {cv::IMWRITE_JPEG_QUALITY, quality};
        else if (codec == RIDE_CV_PNG && quality >= 0 && quality <= 9)
            params = {cv::IMWRITE_PNG_COMPRESSION, quality};
        std::vector<uint8_t> buf;
        if (!cv::imencode(ext, wrap(img), buf, params)) {
            set_err(err, errlen, "encode: OpenCV refused the image");
            return -1;
        }
        *out = static_cast<uint8_t *>(std::malloc(buf.size() ? buf.size() : 1));
        if (!*out) {
            set_err(err, errlen, "encode: out of memory");
            return -1;
        }
        std::memcpy(*out, buf.data(), buf.size());
        *out_len = buf.size();
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, "encode", e.what());
        return -1;
    }
}

int ride_cv_decode(const uint8_t *buf, size_t len, ride_pixel_format want, uint64_t max_pixels,
                   ride_image *out, char *err, size_t errlen)
{
    return ride_cv_decode_scaled(buf, len, want, 1, max_pixels, out, err, errlen);
}

int ride_cv_decode_scaled(const uint8_t *buf, size_t len, ride_pixel_format want,
                          unsigned scale, uint64_t max_pixels, ride_image *out, char *err,
                          size_t errlen)
{
    uint32_t w = 0, h = 0;
    if (!out) {
        set_err(err, errlen, "decode: no output image");
        return -1;
    }
    bool png = buf && png_dimensions(buf, len, &w, &h);
    if (!buf || (!png && !jpeg_dimensions(buf, len, &w, &h))) {
        set_err(err, errlen, "decode: payload is not a PNG or JPEG image");
        return -1;
    }
    if (w == 0 || h == 0 || w > RIDE_IMAGE_MAX_DIM || h > RIDE_IMAGE_MAX_DIM ||
        (uint64_t)w * h > max_pixels) {
        set_err(err, errlen, "decode: encoded image dimensions out of range");
        return -1;
    }
    int flags;
    if (!imread_flags(want, &flags) || len > (size_t)INT32_MAX ||
        !reduced_flags(png ? 1 : scale, want, &flags)) {
        set_err(err, errlen, "decode: unsupported target format, scale or payload size");
        return -1;
    }
    try {
        cv::Mat m = cv::imdecode(cv::Mat(1, (int)len, CV_8UC1, const_cast<uint8_t *>(buf)), flags);
        if (m.empty()) {
            set_err(err, errlen, "decode: corrupt or truncated image");
            return -1;
        }
        return to_format(m, want, out, err, errlen);
    } catch (const std::exception &e) {
        set_err(err, errlen, "decode", e.what());
        return -1;
    }
}

int ride_cv_read_file(const char *path, ride_pixel_format want, ride_image *out, char *err,
                      size_t errlen)
{
    int flags;
    if (!path || !out) {
        set_err(err, errlen, "read: no path or output image");
        return -1;
    }
    if (!imread_flags(want, &flags)) {
        set_err(err, errlen, "read: unsupported target format");
        return -1;
    }
    try {
        cv::Mat m = cv::imread(path, flags);
        if (m.empty()) {
            set_err(err, errlen, "read: cannot read image", path);
            return -1;
        }
        return to_format(m, want, out, err, errlen);
    } catch (const std::exception &e) {
        set_err(err, errlen, "read", e.what());
        return -1;
    }
}

int ride_cv_write_file(const char *path, const ride_image *img, char *err, size_t errlen)
{
    if (!path || !wrappable(img)) {
        set_err(err, errlen, "write: no path or invalid image");
        return -1;
    }
    try {
        if (!cv::imwrite(path, wrap(img))) {
            set_err(err, errlen, "write: cannot write image", path);
            return -1;
        }
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, "write", e.what());
        return -1;
    }
}

int ride_cv_resize(const ride_image *src, ride_image *dst, ride_cv_interp interp, char *err,
                   size_t errlen)
{
    if (!wrappable(src) || !wrappable(dst) || src->format != dst->format) {
        set_err(err, errlen, "resize: invalid images");
        return -1;
    }
    try {
        cv::Mat d = wrap(dst);
        cv::resize(wrap(src), d, d.size(), 0, 0, (int)interp);
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, "resize", e.what());
        return -1;
    }
}

ride_cv_capture *ride_cv_capture_open(const char *uri, int timeout_ms, char *err, size_t errlen)
{
    if (!uri) {
        set_err(err, errlen, "capture: no URI");
        return nullptr;
    }
    ride_cv_capture *c = nullptr;
    try {
        c = new ride_cv_capture();
        std::vector<int> params;
        if (timeout_ms > 0)
            params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv::CAP_PROP_READ_TIMEOUT_MSEC,
                      timeout_ms};
        bool ok;
        if (std::strncmp(uri, "v4l2:", 5) == 0)
            ok = c->cap.open(uri + 5, cv::CAP_V4L2);
        else if (std::strncmp(uri, "rtsp://", 7) == 0 || std::strncmp(uri, "rtsps://", 8) == 0)
            ok = c->cap.open(uri, cv::CAP_FFMPEG, params);
        else
            ok = c->cap.open(uri, cv::CAP_ANY);
        if (!ok || !c->cap.isOpened()) {
            set_err(err, errlen, "capture: cannot open", uri);
            delete c;
            return nullptr;
        }
        return c;
    } catch (const std::exception &e) {
        set_err(err, errlen, "capture", e.what());
        delete c;
        return nullptr;
    }
}

int ride_cv_capture_read(ride_cv_capture *cap, ride_image *out, char *err, size_t errlen)
{
    if (!cap || !out) {
        set_err(err, errlen, "capture: no capture or output image");
        return -1;
    }
    try {
        if (!cap->cap.read(cap->frame) || cap->frame.empty())
            return 0;
        cv::Mat bgr;
        if (cap->frame.type() == CV_8UC3)
            bgr = cap->frame;
        else if (cap->frame.type() == CV_8UC1)
            cv::cvtColor(cap->frame, bgr, cv::COLOR_GRAY2BGR);
        else if (cap->frame.type() == CV_8UC4)
            cv::cvtColor(cap->frame, bgr, cv::COLOR_BGRA2BGR);
        else {
            set_err(err, errlen, "capture: unsupported frame type");
            return -1;
        }
        if (mat_to_image(bgr, RIDE_PIX_BGR8, out) != 0) {
            set_err(err, errlen, "capture: out of memory");
            return -1;
        }
        return 1;
    } catch (const std::exception &e) {
        set_err(err, errlen, "capture", e.what());
        return -1;
    }
}

double ride_cv_capture_fps(const ride_cv_capture *cap)
{
    if (!cap)
        return 0;
    try {
        double fps = cap->cap.get(cv::CAP_PROP_FPS);
        return fps > 0 && fps < 1000 ? fps : 0;
    } catch (const std::exception &) {
        return 0;
    }
}

void ride_cv_capture_close(ride_cv_capture *cap) { delete cap; }

ride_cv_writer *ride_cv_writer_open(const char *path, uint32_t width, uint32_t height, double fps,
                                    char *err, size_t errlen)
{
    if (!path || width == 0 || height == 0 || width > RIDE_IMAGE_MAX_DIM ||
        height > RIDE_IMAGE_MAX_DIM || !(fps > 0)) {
        set_err(err, errlen, "writer: invalid path, size or frame rate");
        return nullptr;
    }
    ride_cv_writer *w = nullptr;
    try {
        w = new ride_cv_writer();
        w->width = width;
        w->height = height;
        if (!w->writer.open(path, cv::CAP_OPENCV_MJPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'),
                            fps, cv::Size((int)width, (int)height), true) ||
            !w->writer.isOpened()) {
            set_err(err, errlen, "writer: cannot open", path);
            delete w;
            return nullptr;
        }
        return w;
    } catch (const std::exception &e) {
        set_err(err, errlen, "writer", e.what());
        delete w;
        return nullptr;
    }
}

int ride_cv_writer_write(ride_cv_writer *w, const ride_image *frame, char *err, size_t errlen)
{
    if (!w || !wrappable(frame) || frame->format != RIDE_PIX_BGR8 || frame->width != w->width ||
        frame->height != w->height) {
        set_err(err, errlen, "writer: frame is not BGR8 of the video's size");
        return -1;
    }
    try {
        w->writer.write(wrap(frame));
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, "writer", e.what());
        return -1;
    }
}

void ride_cv_writer_close(ride_cv_writer *w)
{
    if (!w)
        return;
    try {
        w->writer.release();
    } catch (const std::exception &) {
        // Closing has no error channel: a failed final write leaves a short file,
        // which the reader reports.
    }
    delete w;
}

namespace {

cv::Size side_size(int side) { return side > 0 ? cv::Size(side, side) : cv::Size(); }

void detect(cv::CascadeClassifier &c, const cv::Mat &gray, const ride_cv_detect_opts *o,
            std::vector<cv::Rect> &found)
{
    c.detectMultiScale(gray, found, o->scale_factor, o->min_neighbors, 0,
                       side_size(o->min_size), side_size(o->max_size));
}

// The conversion to gray that detectMultiScale expects, or -1 for gray itself.
int gray_conversion(ride_pixel_format f)
{
    switch (f) {
    case RIDE_PIX_BGR8: return cv::COLOR_BGR2GRAY;
    case RIDE_PIX_RGB8: return cv::COLOR_RGB2GRAY;
    case RIDE_PIX_BGRA8: return cv::COLOR_BGRA2GRAY;
    default: return -1;
    }
}

}  // namespace

ride_cv_cascade *ride_cv_cascade_load(const char *path, char *err, size_t errlen)
{
    if (!path) {
        set_err(err, errlen, "no cascade file given");
        return nullptr;
    }
    try {
        std::unique_ptr<ride_cv_cascade> c(new ride_cv_cascade);
        if (c->classifier.load(path) && !c->classifier.empty())
            return c.release();
        set_err(err, errlen, "not a cascade classifier file OpenCV can load");
    } catch (const std::exception &) {
        // OpenCV's own text is a multi-line trace of its parser: the file is simply
        // not a cascade.
        set_err(err, errlen, "not a cascade classifier file OpenCV can load");
    }
    return nullptr;
}

int ride_cv_cascade_detect(ride_cv_cascade *c, const ride_image *img,
                           const ride_cv_detect_opts *opts, const ride_cv_rect **rects,
                           size_t *count, char *err, size_t errlen)
{
    if (!c || !opts || !rects || !count || !wrappable(img) ||
        (img->format != RIDE_PIX_GRAY8 && gray_conversion(img->format) < 0)) {
        set_err(err, errlen, "cascade detection takes a gray8, bgr8, rgb8 or bgra8 image");
        return -1;
    }
    try {
        const cv::Mat src = wrap(img);
        if (img->format != RIDE_PIX_GRAY8)
            cv::cvtColor(src, c->gray, gray_conversion(img->format));
        detect(c->classifier, img->format == RIDE_PIX_GRAY8 ? src : c->gray, opts, c->found);
        c->rects.resize(c->found.size());
        for (size_t i = 0; i < c->found.size(); i++) {
            const cv::Rect &r = c->found[i];
            c->rects[i] = ride_cv_rect{r.x, r.y, r.width, r.height};
        }
        *rects = c->rects.data();
        *count = c->rects.size();
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, "cascade detection failed", e.what());
        return -1;
    }
}

void ride_cv_cascade_free(ride_cv_cascade *c) { delete c; }

const char *ride_cv_version(void) { return CV_VERSION; }

void ride_cv_set_threads(int threads) { cv::setNumThreads(threads); }

int ride_cv_ref_grayscale(const ride_image *src, ride_image *dst)
{
    if (!wrappable(src) || !dst)
        return -1;
    int code;
    switch (src->format) {
    case RIDE_PIX_BGR8: code = cv::COLOR_BGR2GRAY; break;
    case RIDE_PIX_RGB8: code = cv::COLOR_RGB2GRAY; break;
    case RIDE_PIX_BGRA8: code = cv::COLOR_BGRA2GRAY; break;
    default: return -1;
    }
    try {
        if (ride_image_ensure(dst, RIDE_PIX_GRAY8, src->width, src->height) != 0)
            return -1;
        cv::Mat d = wrap(dst);
        cv::cvtColor(wrap(src), d, code);
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

int ride_cv_ref_stddev(const ride_image *src, int ksize, ride_image *dst)
{
    if (!wrappable(src) || !dst || ride_pixel_sample_bytes(src->format) != 1 || ksize < 1)
        return -1;
    try {
        unsigned ch = ride_pixel_channels(src->format);
        cv::Mat x;
        wrap(src).convertTo(x, CV_MAKETYPE(CV_32F, (int)ch));
        cv::Mat mean, sqmean;
        cv::Size k(ksize, ksize);
        cv::boxFilter(x, mean, CV_32F, k, cv::Point(-1, -1), true, cv::BORDER_REFLECT_101);
        cv::boxFilter(x.mul(x), sqmean, CV_32F, k, cv::Point(-1, -1), true,
                      cv::BORDER_REFLECT_101);
        cv::Mat var = sqmean - mean.mul(mean);
        cv::max(var, 0.0, var);
        cv::Mat sd;
        cv::sqrt(var, sd);
        if (ride_image_ensure(dst, RIDE_PIX_GRAY32F, src->width * ch, src->height) != 0)
            return -1;
        sd.reshape(1, (int)src->height).copyTo(wrap(dst));
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

int ride_cv_ref_matmul(const ride_image *src, const float *matrix, uint32_t cols,
                       ride_image *dst)
{
    if (!wrappable(src) || src->format != RIDE_PIX_GRAY8 || !dst)
        return -1;
    try {
        cv::Mat f;
        wrap(src).convertTo(f, CV_32F);
        cv::Mat r;
        if (matrix)
            cv::gemm(f, cv::Mat((int)src->width, (int)cols, CV_32F, const_cast<float *>(matrix)),
                     1.0, cv::noArray(), 0.0, r);
        else
            cv::gemm(f, f, 1.0, cv::noArray(), 0.0, r, cv::GEMM_2_T);
        return mat_to_image(r, RIDE_PIX_GRAY32F, dst);
    } catch (const std::exception &) {
        return -1;
    }
}

int ride_cv_ref_gaussian(const ride_image *src, int ksize, double sigma, ride_image *dst)
{
    if (!wrappable(src) || !dst || ride_pixel_sample_bytes(src->format) != 1)
        return -1;
    try {
        if (ride_image_ensure(dst, src->format, src->width, src->height) != 0)
            return -1;
        cv::Mat d = wrap(dst);
        cv::GaussianBlur(wrap(src), d, cv::Size(ksize, ksize), sigma, sigma,
                         cv::BORDER_REFLECT_101);
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

int ride_cv_ref_spectrum(const ride_image *src, int log_scale, ride_image *dst)
{
    if (!wrappable(src) || src->format != RIDE_PIX_GRAY8 || !dst)
        return -1;
    try {
        cv::Mat f, spectrum, planes[2], mag;
        wrap(src).convertTo(f, CV_32F);
        cv::dft(f, spectrum, cv::DFT_COMPLEX_OUTPUT);
        cv::split(spectrum, planes);
        cv::magnitude(planes[0], planes[1], mag);
        if (log_scale) {
            mag += cv::Scalar::all(1);
            cv::log(mag, mag);
        }
        // fftshift for any size: frequency 0 moves to (cols / 2, rows / 2).
        const int h = mag.rows, w = mag.cols;
        cv::Mat shifted(h, w, CV_32F);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                shifted.at<float>(y, x) = mag.at<float>((y + h - h / 2) % h, (x + w - w / 2) % w);
        cv::Mat out;
        cv::normalize(shifted, out, 0, 255, cv::NORM_MINMAX, CV_8U);
        return mat_to_image(out, RIDE_PIX_GRAY8, dst);
    } catch (const std::exception &) {
        return -1;
    }
}

int ride_cv_ref_sobel(const ride_image *src, int ksize, ride_image *dst)
{
    if (!wrappable(src) || !dst || src->format != RIDE_PIX_GRAY8)
        return -1;
    try {
        cv::Mat dx, dy, ax, ay;
        cv::Sobel(wrap(src), dx, CV_16S, 1, 0, ksize, 1, 0, cv::BORDER_REFLECT_101);
        cv::Sobel(wrap(src), dy, CV_16S, 0, 1, ksize, 1, 0, cv::BORDER_REFLECT_101);
        cv::convertScaleAbs(dx, ax);
        cv::convertScaleAbs(dy, ay);
        if (ride_image_ensure(dst, RIDE_PIX_GRAY8, src->width, src->height) != 0)
            return -1;
        cv::Mat d = wrap(dst);
        cv::add(ax, ay, d);
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

int ride_cv_ref_filter2d(const ride_image *src, const float *kernel, int ksize, ride_image *dst)
{
    if (!wrappable(src) || !kernel || ksize < 1 || !dst || src->format != RIDE_PIX_GRAY8)
        return -1;
    try {
        const cv::Mat k(ksize, ksize, CV_32F, const_cast<float *>(kernel));
        cv::Mat in;
        wrap(src).convertTo(in, CV_32F);
        if (ride_image_ensure(dst, RIDE_PIX_GRAY32F, src->width, src->height) != 0)
            return -1;
        cv::Mat d = wrap(dst);
        cv::filter2D(in, d, CV_32F, k, cv::Point(ksize / 2, ksize / 2), 0, cv::BORDER_REFLECT_101);
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

int ride_cv_ref_warp_affine(const ride_image *src, const double m[6], uint32_t width,
                            uint32_t height, ride_image *dst)
{
    if (!wrappable(src) || !m || !dst || src->format != RIDE_PIX_GRAY8)
        return -1;
    try {
        const cv::Mat t(2, 3, CV_64F, const_cast<double *>(m));
        if (ride_image_ensure(dst, RIDE_PIX_GRAY8, width, height) != 0)
            return -1;
        cv::Mat d = wrap(dst);
        cv::warpAffine(wrap(src), d, t, d.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

}  // extern "C"

int ride_cv_ref_detect(const char *cascade_path, const ride_image *gray,
                       const ride_cv_detect_opts *opts, ride_cv_rect *out, size_t cap,
                       size_t *count)
{
    if (!cascade_path || !wrappable(gray) || gray->format != RIDE_PIX_GRAY8 || !opts || !count)
        return -1;
    try {
        cv::CascadeClassifier c(cascade_path);
        if (c.empty())
            return -1;
        std::vector<cv::Rect> found;
        c.detectMultiScale(wrap(gray), found, opts->scale_factor, opts->min_neighbors, 0,
                           opts->min_size > 0 ? cv::Size(opts->min_size, opts->min_size)
                                              : cv::Size(),
                           opts->max_size > 0 ? cv::Size(opts->max_size, opts->max_size)
                                              : cv::Size());
        for (size_t i = 0; i < found.size() && i < cap; i++)
            out[i] = ride_cv_rect{found[i].x, found[i].y, found[i].width, found[i].height};
        *count = found.size();
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}
