/* Producer sources: synthetic pacing on an absolute schedule and pace max,
 * video files read back frame by frame and looping, image directories with an
 * unreadable file, globs, and a live source's reconnect backoff against a
 * closed loopback port. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include "base/clock.h"
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ride_test.h"
#include "source.h"
#include "media/opencv_c.h"
#include "media/synthetic.h"

#define W 64
#define H 48
#define STREAM 7u

/* A manifest source for uri, as the manifest parser would fill it. */
static ride_source make_source(const char *uri, ride_pace pace, bool loop)
{
    ride_source s;
    memset(&s, 0, sizeof s);
    s.name = "cam";
    s.uri = uri;
    char why[256];
    if (ride_source_uri_parse(uri, &s.target, why, sizeof why) != 0)
        fail_msg("uri %s: %s", uri, why);
    s.encoding = RIDE_ENC_RAW;
    s.quality = 90;
    s.loop = loop;
    s.pace = pace;
    return s;
}

static ride_source_reader *open_reader(const ride_source *s, const ride_source_reader_opts *o)
{
    char err[512];
    ride_source_reader *r = ride_source_reader_open(s, o, err, sizeof err);
    if (!r)
        fail_msg("open %s: %s", s->uri, err);
    return r;
}

static ride_source_read next_frame(ride_source_reader *r, ride_frame *f)
{
    char err[512] = "";
    ride_source_read rc = ride_source_reader_next(r, f, -1, err, sizeof err);
    if (rc == RIDE_SOURCE_ERROR)
        fail_msg("read: %s", err);
    return rc;
}

static void assert_synthetic(const ride_frame *f, uint32_t stream, uint64_t seq)
{
    ride_image want = {0};
    assert_int_equal(ride_synthetic_render(stream, seq, f->image.width, f->image.height, &want),
                     0);
    assert_int_equal(ride_test_max_abs_diff_u8(&f->image, &want), 0);
    ride_image_free(&want);
}

/* ---- Synthetic ---- */

static void test_synthetic_paced(void **state)
{
    (void)state;
    ride_source s = make_source("synthetic:64x48@100", RIDE_PACE_SOURCE, false);
    ride_source_reader_opts o = {.stream_id = STREAM, .first_seq = 5};
    ride_source_reader *r = open_reader(&s, &o);
    assert_true(ride_source_reader_fps(r) == 100.0);
    ride_frame f = {0};
    int64_t start = ride_clock_mono_ns();
    int n = 0;
    uint64_t before = ride_clock_wall_ns();
    while (ride_clock_mono_ns() - start < 300 * INT64_C(1000000)) {
        assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
        assert_int_equal(f.seq, 5u + (uint64_t)n);
        assert_int_equal(f.stream_id, STREAM);
        assert_true(f.capture_ns >= before && f.capture_ns <= ride_clock_wall_ns());
        assert_int_equal(f.image.format, RIDE_PIX_BGR8);
        assert_int_equal(f.image.width, W);
        assert_int_equal(f.image.height, H);
        assert_synthetic(&f, STREAM, f.seq);
        n++;
    }
    /* Slots at 0, 10, ..., 300 ms fall inside the loop. */
    assert_in_range(n, 28, 32);
    ride_source_reader_stats st;
    ride_source_reader_stats_get(r, &st);
    assert_int_equal(st.frames, (uint64_t)n);
    ride_frame_free(&f);
    ride_source_reader_close(r);
}

static void test_synthetic_fps_override_and_wait_bound(void **state)
{
    (void)state;
    ride_source s = make_source("synthetic:64x48@100", RIDE_PACE_SOURCE, false);
    s.fps = 5;
    ride_source_reader *r = open_reader(&s, NULL);
    assert_true(ride_source_reader_fps(r) == 5.0);
    ride_frame f = {0};
    assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
    /* The next frame is due in 200 ms: a 20 ms wait returns without it. */
    int64_t t0 = ride_clock_mono_ns();
    char err[256];
    assert_int_equal(ride_source_reader_next(r, &f, 20, err, sizeof err), RIDE_SOURCE_AGAIN);
    int64_t waited = ride_clock_mono_ns() - t0;
    assert_true(waited >= 15 * INT64_C(1000000) && waited < 150 * INT64_C(1000000));
    assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
    assert_int_equal(f.seq, 1);
    assert_true(ride_clock_mono_ns() - t0 >= 150 * INT64_C(1000000));
    ride_frame_free(&f);
    ride_source_reader_close(r);
}

static void test_synthetic_late_reader_reanchors(void **state)
{
    (void)state;
    ride_source s = make_source("synthetic:16x16@100", RIDE_PACE_SOURCE, false);
    ride_source_reader *r = open_reader(&s, NULL);
    ride_frame f = {0};
    assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
    /* A stalled caller: 55 ms without reading (about 5 slots missed). */
    ride_clock_sleep_until_ns(ride_clock_mono_ns() + 55 * INT64_C(1000000));
    int64_t t0 = ride_clock_mono_ns();
    for (int i = 0; i < 3; i++)
        assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
    /* No burst: after the late frame the schedule resumes at 10 ms a frame. */
    assert_true(ride_clock_mono_ns() - t0 >= 18 * INT64_C(1000000));
    assert_int_equal(f.seq, 3);
    ride_source_reader_stats st;
    ride_source_reader_stats_get(r, &st);
    assert_in_range(st.late, 3, 7);
    ride_frame_free(&f);
    ride_source_reader_close(r);
}

static void test_synthetic_pace_max(void **state)
{
    (void)state;
    ride_source s = make_source("synthetic:64x48@10", RIDE_PACE_MAX, false);
    ride_source_reader *r = open_reader(&s, NULL);
    assert_true(ride_source_reader_fps(r) == 0.0);
    ride_frame f = {0};
    int64_t start = ride_clock_mono_ns();
    for (int i = 0; i < 100; i++) {
        assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
        assert_int_equal(f.seq, (uint64_t)i);
    }
    /* Paced at 10 fps these would take 10 s. */
    assert_true(ride_clock_mono_ns() - start < 1000 * INT64_C(1000000));
    assert_synthetic(&f, 0, 99);
    ride_frame_free(&f);
    ride_source_reader_close(r);
}

/* ---- Files ---- */

typedef struct tmpdir {
    char path[64];
} tmpdir;

static void tmpdir_make(tmpdir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/ride-source-XXXXXX");
    assert_non_null(mkdtemp(d->path));
}

static void tmpdir_remove(tmpdir *d, const char *const *names, size_t count)
{
    char p[256];
    for (size_t i = 0; i < count; i++) {
        snprintf(p, sizeof p, "%s/%s", d->path, names[i]);
        unlink(p);
    }
    rmdir(d->path);
}

#define VIDEO_FRAMES 12

static void write_video(const char *path)
{
    char err[256];
    ride_cv_writer *w = ride_cv_writer_open(path, W, H, 25.0, err, sizeof err);
    if (!w)
        fail_msg("writer: %s", err);
    ride_image img = {0};
    for (uint64_t i = 0; i < VIDEO_FRAMES; i++) {
        assert_int_equal(ride_synthetic_render(1, i, W, H, &img), 0);
        if (ride_cv_writer_write(w, &img, err, sizeof err))
            fail_msg("write: %s", err);
    }
    ride_cv_writer_close(w);
    ride_image_free(&img);
}

static void test_video_file(void **state)
{
    (void)state;
    tmpdir d;
    tmpdir_make(&d);
    const char *names[] = {"clip.avi"};
    char path[256];
    snprintf(path, sizeof path, "%s/clip.avi", d.path);
    write_video(path);

    ride_source s = make_source(path, RIDE_PACE_MAX, false);
    assert_int_equal(s.target.kind, RIDE_SOURCE_VIDEO_FILE);
    ride_source_reader_opts o = {.stream_id = 3};
    ride_source_reader *r = open_reader(&s, &o);
    ride_frame f = {0};
    ride_image want = {0};
    for (uint64_t i = 0; i < VIDEO_FRAMES; i++) {
        assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
        assert_int_equal(f.seq, i);
        assert_int_equal(f.stream_id, 3);
        assert_int_equal(f.image.width, W);
        assert_int_equal(f.image.height, H);
        /* Motion-JPEG is lossy: frames match their source closely, not exactly. */
        assert_int_equal(ride_synthetic_render(1, i, W, H, &want), 0);
        assert_true(ride_test_mean_abs_diff_u8(&f.image, &want) < 12.0);
    }
    assert_int_equal(next_frame(r, &f), RIDE_SOURCE_EOF);
    ride_source_reader_close(r);

    /* Looping starts over and keeps numbering. */
    s = make_source(path, RIDE_PACE_MAX, true);
    r = open_reader(&s, NULL);
    for (uint64_t i = 0; i < 2 * VIDEO_FRAMES + 3; i++) {
        assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
        assert_int_equal(f.seq, i);
    }
    assert_int_equal(ride_synthetic_render(1, 2, W, H, &want), 0);
    assert_true(ride_test_mean_abs_diff_u8(&f.image, &want) < 12.0);
    ride_source_reader_stats st;
    ride_source_reader_stats_get(r, &st);
    assert_int_equal(st.loops, 2);
    ride_source_reader_close(r);

    /* The declared rate paces a file without an fps override. */
    s = make_source(path, RIDE_PACE_SOURCE, false);
    r = open_reader(&s, NULL);
    assert_true(ride_source_reader_fps(r) > 24.9 && ride_source_reader_fps(r) < 25.1);
    ride_source_reader_close(r);

    ride_frame_free(&f);
    ride_image_free(&want);
    tmpdir_remove(&d, names, 1);
}

static void test_missing_video_file(void **state)
{
    (void)state;
    ride_source s = make_source("/nonexistent/ride/clip.mp4", RIDE_PACE_MAX, false);
    char err[512];
    assert_null(ride_source_reader_open(&s, NULL, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ride/clip.mp4"));
}

static const char *const image_names[] = {"a.png", "b.png", "c.png", "b-junk.png", "notes.txt"};

static void write_images(const tmpdir *d)
{
    char p[256], err[256];
    ride_image img = {0};
    for (uint64_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", d->path, image_names[i]);
        assert_int_equal(ride_synthetic_render(2, i, W, H, &img), 0);
        if (ride_cv_write_file(p, &img, err, sizeof err))
            fail_msg("write %s: %s", p, err);
    }
    ride_image_free(&img);
    for (size_t i = 3; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", d->path, image_names[i]);
        FILE *fp = fopen(p, "w");
        assert_non_null(fp);
        fputs("not an image at all\n", fp);
        fclose(fp);
    }
}

static void test_image_directory(void **state)
{
    (void)state;
    tmpdir d;
    tmpdir_make(&d);
    /* Four PNG names: the one between b and c is garbage (sorted: a, b-junk, b, c). */
    write_images(&d);
    const char *names[] = {image_names[0], image_names[1], image_names[2], image_names[3]};
    char p[256];
    snprintf(p, sizeof p, "%s/%s", d.path, image_names[4]);
    unlink(p);

    char uri[128];
    snprintf(uri, sizeof uri, "%s/", d.path);
    ride_source s = make_source(uri, RIDE_PACE_MAX, false);
    assert_int_equal(s.target.kind, RIDE_SOURCE_IMAGE_DIR);
    ride_source_reader *r = open_reader(&s, NULL);
    ride_frame f = {0};
    for (uint64_t i = 0; i < 3; i++) {
        assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
        assert_int_equal(f.seq, i);
        assert_synthetic(&f, 2, i); /* PNG is lossless */
    }
    assert_int_equal(next_frame(r, &f), RIDE_SOURCE_EOF);
    ride_source_reader_stats st;
    ride_source_reader_stats_get(r, &st);
    assert_int_equal(st.frames, 3);
    assert_int_equal(st.unreadable, 1);
    ride_source_reader_close(r);

    /* Looping passes over the garbage again and counts it again. */
    s = make_source(uri, RIDE_PACE_MAX, true);
    r = open_reader(&s, NULL);
    for (uint64_t i = 0; i < 7; i++) {
        assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
        assert_synthetic(&f, 2, i % 3);
    }
    ride_source_reader_stats_get(r, &st);
    assert_int_equal(st.unreadable, 2); /* a, junk, b, c, a, junk, b */
    assert_int_equal(st.loops, 2);
    ride_source_reader_close(r);

    ride_frame_free(&f);
    tmpdir_remove(&d, names, 4);
}

static void test_image_glob_and_empty(void **state)
{
    (void)state;
    tmpdir d;
    tmpdir_make(&d);
    write_images(&d);

    char uri[128];
    snprintf(uri, sizeof uri, "%s/[abc].png", d.path);
    ride_source s = make_source(uri, RIDE_PACE_MAX, false);
    assert_int_equal(s.target.kind, RIDE_SOURCE_IMAGE_GLOB);
    ride_source_reader *r = open_reader(&s, NULL);
    ride_frame f = {0};
    for (uint64_t i = 0; i < 3; i++) {
        assert_int_equal(next_frame(r, &f), RIDE_SOURCE_FRAME);
        assert_synthetic(&f, 2, i);
    }
    assert_int_equal(next_frame(r, &f), RIDE_SOURCE_EOF);
    ride_source_reader_stats st;
    ride_source_reader_stats_get(r, &st);
    assert_int_equal(st.unreadable, 0);
    ride_source_reader_close(r);
    ride_frame_free(&f);

    char err[512];
    snprintf(uri, sizeof uri, "%s/*.jpg", d.path);
    s = make_source(uri, RIDE_PACE_MAX, false);
    assert_null(ride_source_reader_open(&s, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no files"));
    tmpdir_remove(&d, image_names, 5);
}

/* ---- Live sources ---- */

/* A loopback port nothing listens on: bound to find it, then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

#define FAILURES 7

static void test_rtsp_reconnect_backoff(void **state)
{
    (void)state;
    char uri[128];
    snprintf(uri, sizeof uri, "rtsp://127.0.0.1:%d/cam", closed_port());
    ride_source s = make_source(uri, RIDE_PACE_SOURCE, false);
    ride_source_reader_opts o = {
        .stream_id = 1, .timeout_ms = 500, .backoff_min_ms = 20, .backoff_max_ms = 160};
    ride_source_reader *r = open_reader(&s, &o);
    assert_true(ride_source_reader_fps(r) == 0.0);

    ride_frame f = {0};
    ride_source_reader_stats st;
    int64_t delays[FAILURES];
    uint64_t seen = 0;
    int64_t deadline = ride_clock_mono_ns() + 5000 * INT64_C(1000000);
    while (seen < FAILURES && ride_clock_mono_ns() < deadline) {
        char err[512] = "";
        int64_t t0 = ride_clock_mono_ns();
        assert_int_equal(ride_source_reader_next(r, &f, 50, err, sizeof err), RIDE_SOURCE_AGAIN);
        /* Never longer than the open timeout plus the wait bound. */
        assert_true(ride_clock_mono_ns() - t0 < (500 + 50 + 300) * INT64_C(1000000));
        ride_source_reader_stats_get(r, &st);
        assert_int_equal(st.connected, 0);
        if (st.connect_failures > seen) {
            assert_int_equal(st.connect_failures, seen + 1);
            assert_non_null(strstr(err, "retrying"));
            delays[seen++] = st.last_backoff_ms;
        }
    }
    assert_int_equal(seen, FAILURES);
    assert_int_equal(st.reconnects, FAILURES - 1);
    /* Equal jitter on a doubling base: [10,20], [20,40], [40,80], [80,160], then capped. */
    assert_in_range(delays[0], 10, 20);
    for (int i = 1; i < FAILURES; i++) {
        if (i <= 3)
            assert_true(delays[i] >= delays[i - 1]);
        assert_in_range(delays[i], 10, 160);
    }
    assert_in_range(delays[3], 80, 160);
    assert_in_range(delays[FAILURES - 1], 80, 160);
    assert_true(delays[3] > delays[0]);
    ride_frame_free(&f);
    ride_source_reader_close(r);
}

static void test_v4l2_missing_device(void **state)
{
    (void)state;
    ride_source s = make_source("v4l2:/dev/ride-no-such-video", RIDE_PACE_SOURCE, false);
    assert_int_equal(s.target.kind, RIDE_SOURCE_V4L2);
    ride_source_reader_opts o = {.timeout_ms = 200, .backoff_min_ms = 1000};
    ride_source_reader *r = open_reader(&s, &o);
    ride_frame f = {0};
    char err[512];
    assert_int_equal(ride_source_reader_next(r, &f, 0, err, sizeof err), RIDE_SOURCE_AGAIN);
    /* The retry is 0.5..1 s away: a zero wait returns at once without trying. */
    int64_t t0 = ride_clock_mono_ns();
    assert_int_equal(ride_source_reader_next(r, &f, 0, err, sizeof err), RIDE_SOURCE_AGAIN);
    assert_true(ride_clock_mono_ns() - t0 < 100 * INT64_C(1000000));
    ride_source_reader_stats st;
    ride_source_reader_stats_get(r, &st);
    assert_int_equal(st.connect_failures, 1);
    assert_int_equal(st.reconnects, 0);
    assert_in_range(st.last_backoff_ms, 500, 1000);
    ride_source_reader_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_paced),
        cmocka_unit_test(test_synthetic_fps_override_and_wait_bound),
        cmocka_unit_test(test_synthetic_late_reader_reanchors),
        cmocka_unit_test(test_synthetic_pace_max),
        cmocka_unit_test(test_video_file),
        cmocka_unit_test(test_missing_video_file),
        cmocka_unit_test(test_image_directory),
        cmocka_unit_test(test_image_glob_and_empty),
        cmocka_unit_test(test_rtsp_reconnect_backoff),
        cmocka_unit_test(test_v4l2_missing_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
