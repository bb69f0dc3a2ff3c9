/* The Debian package of this build (cpack -G DEB): its control fields (name,
 * library dependencies from dpkg-shlibdeps, the postinst that creates the ride
 * user), its layout extracted with dpkg-deb -x (programs, units exactly as in
 * deploy/systemd, sysusers file, examples, the plugin SDK headers, ride.pc), and the
 * extracted programs running --help. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ride_harness.h"

#define RUN_MS 120000

/* Its directory is removed by the harness at exit. */
typedef struct fixture {
    char *dir;
    char deb[700];
    char root[700];
} fixture;

static fixture the_fixture;

static bool installed(const char *program)
{
    char path[256];
    snprintf(path, sizeof path, "/usr/bin/%s", program);
    return access(path, X_OK) == 0;
}

static void find_deb(fixture *fx, const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int found = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "ride_", 5) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".deb") == 0) {
            snprintf(fx->deb, sizeof fx->deb, "%s/%s", dir, e->d_name);
            found++;
        }
    }
    closedir(d);
    assert_int_equal(found, 1);
}

/* Builds the package once for every test of this file. */
static int group_setup(void **state)
{
    static const char *const tools[] = {"dpkg-deb", "dpkg-shlibdeps"};
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++)
        if (!installed(tools[i])) {
            printf("SKIPPED: test_package (%s not installed: Debian package dpkg-dev)\n",
                   tools[i]);
            exit(RIDE_TEST_SKIP);
        }
    fixture *fx = &the_fixture;
    fx->dir = ride_harness_tempdir("ride-package-");
    assert_non_null(fx->dir);
    char out_dir[600];
    snprintf(out_dir, sizeof out_dir, "%s/out", fx->dir);
    const char *cpack[] = {RIDE_CPACK_COMMAND, "--config", RIDE_BUILD_DIR "/CPackConfig.cmake",
                           "-G", "DEB", "-B", out_dir, NULL};
    char *out = NULL;
    int64_t start = ride_clock_mono_ms();
    assert_int_equal(ride_harness_run(cpack, NULL, fx->dir, NULL, RUN_MS, &out), 0);
    free(out);
    printf("package_build_ms=%lld\n", (long long)(ride_clock_mono_ms() - start));
    find_deb(fx, out_dir);
    snprintf(fx->root, sizeof fx->root, "%s/root", fx->dir);
    const char *extract[] = {"dpkg-deb", "-x", fx->deb, fx->root, NULL};
    assert_int_equal(ride_harness_run(extract, NULL, fx->dir, NULL, RUN_MS, &out), 0);
    free(out);
    *state = fx;
    return 0;
}

static char *control_field(fixture *fx, const char *field)
{
    const char *argv[] = {"dpkg-deb", "--field", fx->deb, field, NULL};
    char *out = NULL;
    assert_int_equal(ride_harness_run(argv, NULL, fx->dir, NULL, RUN_MS, &out), 0);
    assert_non_null(out);
    return out;
}

static void test_control_fields(void **state)
{
    fixture *fx = *state;
    char *name = control_field(fx, "Package");
    assert_string_equal(name, "ride\n");
    free(name);
    char *depends = control_field(fx, "Depends");
    static const char *const needed[] = {
        "systemd",        "librdkafka1",      "libuv1",        "libjansson4",
        "libzookeeper-mt2", "libsystemd0",    "libyaml-0-2",   "libisal2",
        "libopencv-core", "libopencv-videoio", "libopencv-imgcodecs", "libgomp1",
        "libopencv-objdetect", "opencv-data",
    };
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++)
        if (!strstr(depends, needed[i]))
            fail_msg("Depends lacks %s: %s", needed[i], depends);
    free(depends);
    const char *argv[] = {"dpkg-deb", "--info", fx->deb, "postinst", NULL};
    char *postinst = NULL;
    assert_int_equal(ride_harness_run(argv, NULL, fx->dir, NULL, RUN_MS, &postinst), 0);
    assert_non_null(strstr(postinst, "systemd-sysusers ride.conf"));
    free(postinst);
}

static void expect_same_as_source(fixture *fx, const char *packaged, const char *source)
{
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/%s", fx->root, packaged);
    snprintf(b, sizeof b, "%s/%s", RIDE_SOURCE_DIR, source);
    char *pa = ride_harness_read_file(a, NULL), *pb = ride_harness_read_file(b, NULL);
    if (!pa)
        fail_msg("not in the package: %s", packaged);
    assert_non_null(pb);
    assert_string_equal(pa, pb);
    free(pa);
    free(pb);
}

static void test_layout(void **state)
{
    fixture *fx = *state;
    static const char *const units[] = {"ride-master.service", "ride-worker@.service",
                                        "ride-producer.service"};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        char packaged[256], source[256];
        snprintf(packaged, sizeof packaged, "usr/lib/systemd/system/%s", units[i]);
        snprintf(source, sizeof source, "deploy/systemd/%s", units[i]);
        expect_same_as_source(fx, packaged, source);
    }
    expect_same_as_source(fx, "usr/lib/sysusers.d/ride.conf", "deploy/systemd/ride.conf");
    expect_same_as_source(fx, "usr/share/ride/examples/master.yaml", "deploy/config/master.yaml");
    expect_same_as_source(fx, "usr/share/ride/grafana/ride.json", "deploy/grafana/ride.json");
    expect_same_as_source(fx, "usr/share/ride/prometheus/prometheus.yml",
                          "deploy/prometheus/prometheus.yml");
    expect_same_as_source(fx, "usr/share/ride/examples/worker.yaml", "deploy/config/worker.yaml");
    expect_same_as_source(fx, "usr/share/ride/examples/producer.yaml",
                          "deploy/config/producer.yaml");
    expect_same_as_source(fx, "usr/share/ride/examples/apps/cctv-edges.yaml",
                          "config/apps/cctv-edges.yaml");
    expect_same_as_source(fx, "usr/share/doc/ride/deploy.md", "deploy/README.md");
    expect_same_as_source(fx, "usr/include/ride/task.h", "include/ride/task.h");
    expect_same_as_source(fx, "usr/include/ride/image.h", "include/ride/image.h");
    static const char *const others[] = {"usr/lib/pkgconfig/ride.pc"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", fx->root, others[i]);
        if (stat(path, &st) != 0 || st.st_size == 0)
            fail_msg("not in the package: %s", others[i]);
    }
}

static void test_programs_run(void **state)
{
    fixture *fx = *state;
    static const char *const programs[] = {"ride-master", "ride-worker", "ride-producer",
                                           "ridectl"};
    for (size_t i = 0; i < sizeof programs / sizeof *programs; i++) {
        char exe[1024];
        snprintf(exe, sizeof exe, "%s/usr/bin/%s", fx->root, programs[i]);
        const char *argv[] = {exe, "--help", NULL};
        char *out = NULL;
        assert_int_equal(ride_harness_run(argv, NULL, fx->dir, NULL, RUN_MS, &out), 0);
        assert_non_null(strstr(out, "Usage: "));
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_fields),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_programs_run),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
