/* The plugin SDK as a plugin author meets it: RIDE installed with `cmake --install`,
 * examples/plugin-brighten configured and built outside the tree with only
 * `pkg-config ride`, the resulting brighten.so loaded from a worker's configured
 * plugin directory and run on a frame. A plugin anywhere else is not loaded, and
 * one built against another task ABI version is refused with the reason. The
 * example is the one docs/tasks.md prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ride_harness.h"
#include "spec/config.h"
#include "tasks/host.h"

#define RUN_MS 120000
#define PKG_CONFIG "/usr/bin/pkg-config"

/* Its directory is removed by the harness at exit. */
typedef struct fixture {
    char *dir;
    char prefix[512];     /* the installed RIDE */
    char plugin[1024];    /* brighten.so built against it */
    char future[1024];    /* brighten.so built against a header with the next ABI version */
} fixture;

static fixture the_fixture;

static void run_ok(fixture *fx, const char *const argv[], const char *const env[])
{
    if (ride_harness_run(argv, env, fx->dir, NULL, RUN_MS, NULL) != 0)
        fail_msg("%s failed", argv[0]);
}

/* Configures and builds the example against the RIDE whose ride.pc is in pc_dir. */
static void build_example(fixture *fx, const char *pc_dir, const char *build_dir)
{
    char env_path[700];
    snprintf(env_path, sizeof env_path, "PKG_CONFIG_PATH=%s", pc_dir);
    const char *env[] = {env_path, NULL};
    const char *configure[] = {RIDE_CMAKE_COMMAND, "-S", RIDE_SOURCE_DIR "/examples/plugin-brighten",
                               "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", NULL};
    run_ok(fx, configure, env);
    const char *build[] = {RIDE_CMAKE_COMMAND, "--build", build_dir, NULL};
    run_ok(fx, build, env);
}

/* A copy of the installed SDK (headers and ride.pc, which is relocatable) whose
 * task.h announces the next ABI version: what a plugin author with a newer RIDE has. */
static void make_future_sdk(fixture *fx, const char *sdk)
{
    char script[8192];
    snprintf(script, sizeof script,
             "set -e; mkdir -p '%s/lib'; cp -r '%s/include' '%s/'; "
             "cp -r '%s/lib/pkgconfig' '%s/lib/'; "
             "sed -i 's/#define RIDE_TASK_ABI_VERSION 1u/#define RIDE_TASK_ABI_VERSION 2u/' "
             "'%s/include/ride/task.h'; grep -q 'RIDE_TASK_ABI_VERSION 2u' '%s/include/ride/task.h'",
             sdk, fx->prefix, sdk, fx->prefix, sdk, sdk, sdk);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    run_ok(fx, argv, NULL);
}

static int group_setup(void **state)
{
    if (access(PKG_CONFIG, X_OK) != 0 || access(RIDE_CMAKE_COMMAND, X_OK) != 0) {
        printf("SKIPPED: test_plugin_sdk (needs " PKG_CONFIG " and " RIDE_CMAKE_COMMAND
               ": Debian packages pkg-config and cmake)\n");
        exit(RIDE_TEST_SKIP);
    }
    fixture *fx = &the_fixture;
    fx->dir = ride_harness_tempdir("ride-plugin-sdk-");
    assert_non_null(fx->dir);
    snprintf(fx->prefix, sizeof fx->prefix, "%s/prefix", fx->dir);
    const char *install[] = {RIDE_CMAKE_COMMAND, "--install", RIDE_BUILD_DIR, "--prefix",
                             fx->prefix, NULL};
    run_ok(fx, install, NULL);

    char pc_dir[768], build_dir[768], sdk[512];
    snprintf(pc_dir, sizeof pc_dir, "%s/prefix/lib/pkgconfig", fx->dir);
    snprintf(build_dir, sizeof build_dir, "%s/brighten-build", fx->dir);
    build_example(fx, pc_dir, build_dir);
    snprintf(fx->plugin, sizeof fx->plugin, "%s/brighten.so", build_dir);

    snprintf(sdk, sizeof sdk, "%s/future-sdk", fx->dir);
    make_future_sdk(fx, sdk);
    snprintf(pc_dir, sizeof pc_dir, "%s/lib/pkgconfig", sdk);
    snprintf(build_dir, sizeof build_dir, "%s/future-build", fx->dir);
    build_example(fx, pc_dir, build_dir);
    snprintf(fx->future, sizeof fx->future, "%s/brighten.so", build_dir);
    *state = fx;
    return 0;
}

static char *make_dir(fixture *fx, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    assert_int_equal(mkdir(path, 0755), 0);
    return strdup(path);
}

static void copy_file(fixture *fx, const char *from, const char *dir, const char *name)
{
    char to[900];
    snprintf(to, sizeof to, "%s/%s", dir, name);
    const char *argv[] = {"cp", from, to, NULL};
    run_ok(fx, argv, NULL);
}

/* A registry loaded as ride-worker loads it: every directory of a worker
 * configuration's worker.plugin_dirs. */
static ride_task_registry *worker_registry(const char *plugin_dir)
{
    char yaml[1024], msg[1024], err[512];
    snprintf(yaml, sizeof yaml,
             "zookeeper:\n  connect: \"127.0.0.1:2181/ride\"\nworker:\n  plugin_dirs: [%s]\n",
             plugin_dir);
    ride_config cfg;
    ride_parse_error perr;
    if (ride_config_parse(RIDE_DAEMON_WORKER, "worker.yaml", yaml, strlen(yaml), &cfg, &perr))
        fail_msg("%s", ride_parse_error_format(&perr, msg, sizeof msg));
    assert_int_equal(cfg.worker.plugin_dir_count, 1);
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    for (size_t i = 0; i < cfg.worker.plugin_dir_count; i++)
        if (ride_task_registry_load_dir(r, cfg.worker.plugin_dirs[i], err, sizeof err) < 0)
            fail_msg("%s", err);
    ride_config_free(&cfg);
    return r;
}

/* docs/tasks.md prints examples/plugin-brighten/brighten.c in full: the code a
 * reader copies is the code this test builds. */
static void test_docs_print_the_example(void **state)
{
    (void)state;
    char *doc = ride_harness_read_file(RIDE_SOURCE_DIR "/docs/tasks.md", NULL);
    char *src = ride_harness_read_file(RIDE_SOURCE_DIR "/examples/plugin-brighten/brighten.c", NULL);
    assert_non_null(doc);
    assert_non_null(src);
    if (!strstr(doc, src))
        fail_msg("docs/tasks.md does not print examples/plugin-brighten/brighten.c as it is");
    free(src);
    free(doc);
}

static void test_runs_from_configured_dir(void **state)
{
    fixture *fx = *state;
    char *dir = make_dir(fx, "plugins");
    copy_file(fx, fx->plugin, dir, "brighten.so");
    ride_task_registry *r = worker_registry(dir);
    const ride_task_descriptor *d = ride_task_find(r, "brighten");
    assert_non_null(d);

    const ride_kv kv[] = {{.key = "amount", .value = "40"}};
    ride_task_params *params = NULL;
    ride_parse_error perr;
    assert_int_equal(
        ride_task_params_parse(d, kv, 1, "app.yaml", "params", (ride_pos){1, 1}, &params, &perr), 0);
    char err[256];
    ride_task_runner *run = ride_task_runner_new(d, params, NULL, err, sizeof err);
    if (!run)
        fail_msg("%s", err);
    static const uint8_t pixels[2][3] = {{0, 100, 215}, {216, 250, 255}};
    static const uint8_t want[2][3] = {{40, 140, 255}, {255, 255, 255}};
    ride_frame in = {.stream_id = 9, .seq = 77, .capture_ns = 123};
    ride_frame out = {0};
    ride_image_wrap(&in.image, RIDE_PIX_GRAY8, 3, 2, 3, (void *)pixels);
    if (ride_task_run(run, &in, &out, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(out.image.format, RIDE_PIX_GRAY8);
    assert_int_equal(out.image.width, 3);
    assert_int_equal(out.image.height, 2);
    for (uint32_t y = 0; y < 2; y++)
        assert_memory_equal(ride_image_row(&out.image, y), want[y], 3);
    assert_int_equal(out.seq, 77);
    ride_frame_free(&out);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
    free(dir);
}

/* Next to the configured directory, in a subdirectory of it, or in the working
 * directory: none of these is searched. */
static void test_not_loaded_from_elsewhere(void **state)
{
    fixture *fx = *state;
    char *dir = make_dir(fx, "configured");
    char *nested = make_dir(fx, "configured/nested");
    copy_file(fx, fx->plugin, nested, "brighten.so");
    copy_file(fx, fx->plugin, fx->dir, "brighten.so");
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(fx->dir), 0);
    ride_task_registry *r = worker_registry(dir);
    assert_int_equal(chdir(cwd), 0);
    assert_null(ride_task_find(r, "brighten"));
    size_t builtins;
    ride_task_builtins(&builtins);
    assert_int_equal(ride_task_count(r), builtins);
    ride_task_registry_free(r);
    free(nested);
    free(dir);
}

static void test_other_abi_refused(void **state)
{
    fixture *fx = *state;
    char *dir = make_dir(fx, "future-plugins");
    copy_file(fx, fx->future, dir, "brighten.so");
    char path[900], err[1024], want[1200];
    snprintf(path, sizeof path, "%s/brighten.so", dir);
    ride_task_registry *r = ride_task_registry_new();
    assert_int_equal(ride_task_registry_load_plugin(r, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "plugin %s: does not support task ABI version %u", path,
             RIDE_TASK_ABI_VERSION);
    assert_string_equal(err, want);
    ride_task_registry_free(r);
    /* In a configured directory it is skipped (logged) and the worker goes on. */
    r = worker_registry(dir);
    assert_null(ride_task_find(r, "brighten"));
    ride_task_registry_free(r);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_print_the_example),
        cmocka_unit_test(test_runs_from_configured_dir),
        cmocka_unit_test(test_not_loaded_from_elsewhere),
        cmocka_unit_test(test_other_abi_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
