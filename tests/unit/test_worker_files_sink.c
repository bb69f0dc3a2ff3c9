/* The worker's files sink: names sort by sequence and are unique per frame,
 * files appear whole and decode to the frame written, a frame written twice
 * leaves one file, a frame's metadata lands beside its image as a .json file, a
 * frame that cannot be encoded is rejected, and a directory
 * that cannot be created fails the write without leaving anything behind until
 * the problem is fixed. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files_sink.h"
#include "pipeline.h"
#include "ride_test.h"
#include "media/opencv_c.h"

typedef struct fixture {
    char dir[64];
    char out[128];
    ride_frame frame;
    char err[512];
} fixture;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ride-files-sink-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->out, sizeof fx->out, "%s/out/stage", fx->dir);
    assert_int_equal(ride_image_alloc(&fx->frame.image, RIDE_PIX_GRAY8, 37, 23), 0);
    ride_test_fill_random(&fx->frame.image, 7);
    fx->frame.stream_id = 17;
    fx->frame.seq = 42;
    fx->frame.capture_ns = 123456789;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    ride_frame_free(&fx->frame);
    free(fx);
    return 0;
}

/* Names of the entries of dir (hidden ones included), sorted, joined by ','. */
static void list_dir(const char *dir, char *buf, size_t len)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            size_t used = strlen(buf);
            snprintf(buf + used, len - used, "%s%s", used ? "," : "", name);
        }
        free(names[i]);
    }
    free(names);
}

static ride_files_sink *sink_in(fixture *fx, ride_encoding format)
{
    ride_files_sink *s = ride_files_sink_new(fx->out, format, fx->err, sizeof fx->err);
    if (!s)
        fail_msg("sink: %s", fx->err);
    return s;
}

static void test_name(void **state)
{
    (void)state;
    char buf[RIDE_FILES_SINK_NAME_MAX + 1];
    assert_int_equal(ride_files_sink_name(17, 42, RIDE_ENC_PNG, buf, sizeof buf), 0);
    assert_string_equal(buf, "17/00000000000000000042.png");
    assert_int_equal(ride_files_sink_name(0, 0, RIDE_ENC_JPEG, buf, sizeof buf), 0);
    assert_string_equal(buf, "0/00000000000000000000.jpg");
    assert_int_equal(ride_files_sink_name(UINT32_MAX, UINT64_MAX, RIDE_ENC_PNG, buf, sizeof buf), 0);
    assert_string_equal(buf, "4294967295/18446744073709551615.png");
    assert_int_equal(strlen(buf), RIDE_FILES_SINK_NAME_MAX);
    assert_int_equal(ride_files_sink_name(UINT32_MAX, UINT64_MAX, RIDE_ENC_PNG, buf, sizeof buf - 1),
                     -1);
    assert_int_equal(ride_files_sink_name(1, 1, (ride_encoding)7, buf, sizeof buf), -1);
}

/* Names sort as their sequence numbers do, across every digit count. */
static void test_name_sorts_by_sequence(void **state)
{
    (void)state;
    const uint64_t seqs[] = {0, 1, 9, 10, 99, 100, 4294967295u, 4294967296u, UINT64_MAX / 2,
                             UINT64_MAX};
    char prev[RIDE_FILES_SINK_NAME_MAX + 1] = "";
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        char cur[RIDE_FILES_SINK_NAME_MAX + 1];
        assert_int_equal(ride_files_sink_name(3, seqs[i], RIDE_ENC_RAW, cur, sizeof cur), 0);
        if (i > 0)
            assert_true(strcmp(prev, cur) < 0);
        memcpy(prev, cur, sizeof cur);
    }
    char other[RIDE_FILES_SINK_NAME_MAX + 1];
    assert_int_equal(ride_files_sink_name(4, seqs[0], RIDE_ENC_RAW, other, sizeof other), 0);
    assert_string_not_equal(prev, other);
}

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(ride_files_sink_reason(ENOSPC), "no_space");
    assert_string_equal(ride_files_sink_reason(EDQUOT), "no_space");
    assert_string_equal(ride_files_sink_reason(EACCES), "permission");
    assert_string_equal(ride_files_sink_reason(EROFS), "permission");
    assert_string_equal(ride_files_sink_reason(ENOTDIR), "path");
    assert_string_equal(ride_files_sink_reason(ENOENT), "path");
    assert_string_equal(ride_files_sink_reason(EIO), "io");
    assert_string_equal(ride_files_sink_reason(0), "encode");
}

static void test_relative_path_refused(void **state)
{
    fixture *fx = *state;
    assert_null(ride_files_sink_new("out/frames", RIDE_ENC_PNG, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "not absolute"));
    assert_null(ride_files_sink_new(fx->out, (ride_encoding)9, fx->err, sizeof fx->err));
}

/* A PNG decodes to the frame's pixels; writing it again replaces it: one file,
 * the latest content, no temporary left. */
static void test_png_written_once_and_replaced(void **state)
{
    fixture *fx = *state;
    ride_files_sink *s = sink_in(fx, RIDE_ENC_PNG);
    const char *reason = "unset";
    assert_int_equal(ride_files_sink_write(s, 2, &fx->frame, &reason, fx->err, sizeof fx->err),
                     RIDE_PIPELINE_SINK_WRITTEN);
    assert_null(reason);
    ride_test_fill_random(&fx->frame.image, 8);
    assert_int_equal(ride_files_sink_write(s, 2, &fx->frame, &reason, fx->err, sizeof fx->err),
                     RIDE_PIPELINE_SINK_WRITTEN);
    char path[256], listing[512];
    snprintf(path, sizeof path, "%s/17", fx->out);
    list_dir(path, listing, sizeof listing);
    assert_string_equal(listing, "00000000000000000042.png");
    snprintf(path, sizeof path, "%s/17/00000000000000000042.png", fx->out);
    ride_image back = {0};
    assert_int_equal(ride_cv_read_file(path, RIDE_PIX_GRAY8, &back, fx->err, sizeof fx->err), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&back, &fx->frame.image), 0);
    ride_image_free(&back);
    ride_files_sink_free(s);
}

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    (void)r;
    (*(int *)ctx)++;
}

/* A raw file is one wire-format message: header, then the pixel rows. */
static void test_raw_is_a_wire_frame(void **state)
{
    fixture *fx = *state;
    ride_files_sink *s = sink_in(fx, RIDE_ENC_RAW);
    const char *reason;
    assert_int_equal(ride_files_sink_write(s, 0, &fx->frame, &reason, fx->err, sizeof fx->err),
                     RIDE_PIPELINE_SINK_WRITTEN);
    ride_files_sink_free(s);
    char path[256];
    snprintf(path, sizeof path, "%s/17/00000000000000000042.raw", fx->out);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(len, RIDE_FRAME_HEADER_LEN + 37 * 23);
    int rejected = 0;
    ride_frame_assembler *a = ride_frame_assembler_new(1u << 20, count_reject, &rejected);
    assert_non_null(a);
    ride_frame back = {0};
    assert_int_equal(ride_frame_assembler_push(a, buf, len, &back), RIDE_FRAME_OK);
    assert_int_equal(back.stream_id, 17);
    assert_int_equal(back.seq, 42);
    assert_int_equal(back.capture_ns, 123456789);
    assert_int_equal(ride_test_max_abs_diff_u8(&back.image, &fx->frame.image), 0);
    assert_int_equal(rejected, 0);
    ride_frame_free(&back);
    ride_frame_assembler_free(a);
}

static const char faces[] = "{\"faces\":[{\"x\":3,\"y\":4,\"width\":10,\"height\":12}]}";

/* The whole content of a small file. */
static size_t read_small(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s: %s", path, strerror(errno));
    size_t len = fread(buf, 1, cap, f);
    fclose(f);
    return len;
}

/* Writes the fixture's frame, with metadata json (or none), through a new sink. */
static void write_with_metadata(fixture *fx, ride_encoding format, const char *json)
{
    assert_int_equal(ride_frame_set_metadata(&fx->frame, json, json ? strlen(json) : 0, NULL, 0),
                     0);
    ride_files_sink *s = sink_in(fx, format);
    const char *reason;
    assert_int_equal(ride_files_sink_write(s, 1, &fx->frame, &reason, fx->err, sizeof fx->err),
                     RIDE_PIPELINE_SINK_WRITTEN);
    ride_files_sink_free(s);
}

/* A frame's metadata lands beside its image as <seq>.json, the text as sent;
 * the image is unchanged by it; a frame without metadata gets no sidecar. */
static void test_metadata_sidecar_beside_the_image(void **state)
{
    fixture *fx = *state;
    write_with_metadata(fx, RIDE_ENC_PNG, faces);
    fx->frame.seq = 43;
    write_with_metadata(fx, RIDE_ENC_PNG, NULL);
    char path[256], listing[512];
    snprintf(path, sizeof path, "%s/17", fx->out);
    list_dir(path, listing, sizeof listing);
    assert_string_equal(listing, "00000000000000000042.json,00000000000000000042.png,"
                                 "00000000000000000043.png");
    uint8_t buf[512];
    snprintf(path, sizeof path, "%s/17/00000000000000000042.json", fx->out);
    size_t len = read_small(path, buf, sizeof buf);
    assert_int_equal(len, strlen(faces));
    assert_memory_equal(buf, faces, len);
    snprintf(path, sizeof path, "%s/17/00000000000000000042.png", fx->out);
    ride_image back = {0};
    assert_int_equal(ride_cv_read_file(path, RIDE_PIX_GRAY8, &back, fx->err, sizeof fx->err), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&back, &fx->frame.image), 0);
    ride_image_free(&back);
}

/* A raw file is the wire message, so its header carries the metadata too. */
static void test_raw_file_keeps_metadata_in_its_header(void **state)
{
    fixture *fx = *state;
    write_with_metadata(fx, RIDE_ENC_RAW, faces);
    char path[256];
    snprintf(path, sizeof path, "%s/17/00000000000000000042.raw", fx->out);
    uint8_t buf[4096];
    size_t len = read_small(path, buf, sizeof buf);
    assert_int_equal(len, RIDE_FRAME_METADATA_OFFSET + strlen(faces) + 37 * 23);
    int rejected = 0;
    ride_frame_assembler *a = ride_frame_assembler_new(1u << 20, count_reject, &rejected);
    ride_frame back = {0};
    assert_int_equal(ride_frame_assembler_push(a, buf, len, &back), RIDE_FRAME_OK);
    assert_string_equal(back.metadata, faces);
    assert_int_equal(ride_test_max_abs_diff_u8(&back.image, &fx->frame.image), 0);
    ride_frame_free(&back);
    ride_frame_assembler_free(a);
}

/* JPEG cannot carry float pixels: the frame is rejected for good, nothing is left. */
static void test_unencodable_frame_rejected(void **state)
{
    fixture *fx = *state;
    ride_frame f = {.stream_id = 1, .seq = 2};
    assert_int_equal(ride_image_alloc(&f.image, RIDE_PIX_GRAY32F, 8, 8), 0);
    memset(f.image.data, 0, ride_image_size(&f.image));
    ride_files_sink *s = sink_in(fx, RIDE_ENC_JPEG);
    const char *reason = NULL;
    assert_int_equal(ride_files_sink_write(s, 1, &f, &reason, fx->err, sizeof fx->err),
                     RIDE_PIPELINE_SINK_REJECTED);
    assert_string_equal(reason, "encode");
    char path[256], listing[512];
    snprintf(path, sizeof path, "%s/1", fx->out);
    list_dir(path, listing, sizeof listing);
    assert_string_equal(listing, "");
    ride_files_sink_free(s);
    ride_frame_free(&f);
}

/* A regular file where the directory should be: the write fails (even as root),
 * nothing is created, and once the file is gone the next write succeeds. */
static void test_uncreatable_directory_fails_until_fixed(void **state)
{
    fixture *fx = *state;
    char blocker[128];
    snprintf(blocker, sizeof blocker, "%s/out", fx->dir);
    FILE *f = fopen(blocker, "w");
    assert_non_null(f);
    fclose(f);
    ride_files_sink *s = sink_in(fx, RIDE_ENC_PNG);
    const char *reason = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ride_files_sink_write(s, 0, &fx->frame, &reason, fx->err, sizeof fx->err),
                         RIDE_PIPELINE_SINK_FAILED);
        assert_string_equal(reason, "path");
        assert_non_null(strstr(fx->err, strerror(ENOTDIR)));
    }
    assert_int_equal(unlink(blocker), 0);
    assert_int_equal(ride_files_sink_write(s, 0, &fx->frame, &reason, fx->err, sizeof fx->err),
                     RIDE_PIPELINE_SINK_WRITTEN);
    assert_null(reason);
    char path[256];
    snprintf(path, sizeof path, "%s/17/00000000000000000042.png", fx->out);
    assert_int_equal(access(path, R_OK), 0);
    ride_files_sink_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_name_sorts_by_sequence),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test_setup_teardown(test_relative_path_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_png_written_once_and_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_is_a_wire_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_sidecar_beside_the_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_file_keeps_metadata_in_its_header, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unencodable_frame_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uncreatable_directory_fails_until_fixed, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
