/* deploy/: the systemd units pass `systemd-analyze verify` (pointed at this
 * build's programs) and a broken unit does not; each unit's command line names
 * options its program has; the sample configurations load; `cmake --install`
 * lays out programs, units, the plugin SDK headers (and no library) and a ride.pc a
 * plugin can be built with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ride_harness.h"
#include "spec/config.h"

#define ANALYZE "systemd-analyze"
#define RUN_MS 60000
#define UNIT_COUNT 3

typedef struct unit {
    const char *file;     /* in deploy/systemd */
    const char *verify;   /* the name verified (an instance of a template) */
    const char *program;  /* what ExecStart runs */
    const char *config;   /* sample in deploy/config standing in for /etc/ride/... */
    ride_daemon daemon;
} unit;

static const unit UNITS[UNIT_COUNT] = {
    {"ride-master.service", "ride-master.service", "ride-master", "master.yaml",
     RIDE_DAEMON_MASTER},
    {"ride-worker@.service", "ride-worker@1.service", "ride-worker", "worker.yaml",
     RIDE_DAEMON_WORKER},
    {"ride-producer.service", "ride-producer.service", "ride-producer", "producer.yaml",
     RIDE_DAEMON_PRODUCER},
};

/* Its directory is removed by the harness at exit. */
typedef struct fixture {
    char *dir;
} fixture;

static fixture the_fixture;

static int group_setup(void **state)
{
    if (access("/usr/bin/" ANALYZE, X_OK) != 0 && access("/bin/" ANALYZE, X_OK) != 0) {
        printf("SKIPPED: test_deploy (" ANALYZE " not installed: Debian package systemd)\n");
        exit(RIDE_TEST_SKIP);
    }
    fixture *fx = &the_fixture;
    fx->dir = ride_harness_tempdir("ride-deploy-");
    assert_non_null(fx->dir);
    *state = fx;
    return 0;
}

/* Runs argv; its exit code, its output in *out (printed, for the test log). */
static char *read_source(const char *relative)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", RIDE_SOURCE_DIR, relative);
    char *text = ride_harness_read_file(path, NULL);
    if (!text)
        fail_msg("cannot read %s", path);
    return text;
}

/* text with every `from` replaced by `to` (malloc'ed). */
static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t count = 0, flen = strlen(from), tlen = strlen(to);
    for (const char *p = strstr(text, from); p; p = strstr(p + flen, from))
        count++;
    char *out = malloc(strlen(text) + count * tlen + 1);
    assert_non_null(out);
    char *w = out;
    for (const char *p = text, *hit; *p; p = hit + flen) {
        hit = strstr(p, from);
        if (!hit) {
            strcpy(w, p);
            return out;
        }
        memcpy(w, p, (size_t)(hit - p));
        w += hit - p;
        memcpy(w, to, tlen);
        w += tlen;
    }
    *w = '\0';
    return out;
}

/* The unit as deploy/systemd has it, with /usr/bin/ replaced by this build's
 * bin directory and `edit_from` (when given) by `edit_to`, written into dir. */
static void write_unit(const char *dir, const unit *u, const char *edit_from, const char *edit_to)
{
    char relative[256], path[700];
    snprintf(relative, sizeof relative, "deploy/systemd/%s", u->file);
    char *text = read_source(relative);
    char *local = replace_all(text, "/usr/bin/", RIDE_BIN_DIR "/");
    char *edited = edit_from ? replace_all(local, edit_from, edit_to) : NULL;
    if (edit_from)
        assert_string_not_equal(edited, local);
    snprintf(path, sizeof path, "%s/%s", dir, u->file);
    assert_int_equal(ride_harness_write_file(path, edited ? edited : local), 0);
    free(edited);
    free(local);
    free(text);
}

/* True when systemd-analyze verify accepts the unit without a word: it only
 * warns about unknown keys and bad values, which must fail this check too. */
static bool verifies(fixture *fx, const char *dir, const unit *u)
{
    char name[700];
    snprintf(name, sizeof name, "%s/%s", dir, u->verify);
    const char *argv[] = {ANALYZE, "verify", "--man=no", name, NULL};
    char *out = NULL;
    int code = ride_harness_run(argv, NULL, fx->dir, NULL, RUN_MS, &out);
    bool clean = code == 0 && out && out[0] == '\0';
    free(out);
    return clean;
}

static char *unit_dir(fixture *fx, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    assert_int_equal(mkdir(path, 0700), 0);
    return strdup(path);
}

static void test_units_verify(void **state)
{
    fixture *fx = *state;
    char *dir = unit_dir(fx, "units");
    for (int i = 0; i < UNIT_COUNT; i++)
        write_unit(dir, &UNITS[i], NULL, NULL);
    for (int i = 0; i < UNIT_COUNT; i++)
        if (!verifies(fx, dir, &UNITS[i]))
            fail_msg("%s does not verify", UNITS[i].file);
    free(dir);
}

/* The check above catches what a careless edit does to a unit. */
static void test_broken_units_fail(void **state)
{
    fixture *fx = *state;
    static const struct {
        const char *from, *to;
    } breakages[] = {
        {"NoNewPrivileges=yes", "NoNewPrivilege=yes"},
        {"Restart=on-failure", "Restart=sometimes"},
        {"Type=notify", "Type=notified"},
        {"/ride-", "/missing-ride-"},
        {"[Service]", "[Servic]"},
    };
    for (size_t b = 0; b < sizeof breakages / sizeof *breakages; b++)
        for (int i = 0; i < UNIT_COUNT; i++) {
            char name[32];
            snprintf(name, sizeof name, "broken-%zu-%d", b, i);
            char *dir = unit_dir(fx, name);
            write_unit(dir, &UNITS[i], breakages[b].from, breakages[b].to);
            if (verifies(fx, dir, &UNITS[i]))
                fail_msg("%s with '%s' -> '%s' verifies", UNITS[i].file, breakages[b].from,
                         breakages[b].to);
            free(dir);
        }
}

/* Each unit's ExecStart, with a sample config for /etc/ride/..., followed by
 * --help: the program accepts every option before it (an unknown one is a usage
 * error, exit 2). */
static void test_unit_command_lines(void **state)
{
    fixture *fx = *state;
    for (int i = 0; i < UNIT_COUNT; i++) {
        const unit *u = &UNITS[i];
        char relative[256];
        snprintf(relative, sizeof relative, "deploy/systemd/%s", u->file);
        char *text = read_source(relative);
        char *line = strstr(text, "\nExecStart=/usr/bin/");
        assert_non_null(line);
        line += strlen("\nExecStart=/usr/bin/");
        line[strcspn(line, "\n")] = '\0';
        const char *argv[16];
        char program[256], config[600];
        int argc = 0;
        for (char *save = NULL, *word = strtok_r(line, " ", &save); word && argc < 14;
             word = strtok_r(NULL, " ", &save)) {
            if (argc == 0) {
                assert_string_equal(word, u->program);
                snprintf(program, sizeof program, "%s/%s", RIDE_BIN_DIR, word);
                word = program;
            } else if (strncmp(word, "/etc/ride/", 10) == 0) {
                snprintf(config, sizeof config, "%s/deploy/config/%s", RIDE_SOURCE_DIR,
                         u->config);
                word = config;
            } else if (strchr(word, '%')) {
                word = "node1-1";
            }
            argv[argc++] = word;
        }
        argv[argc++] = "--help";
        argv[argc] = NULL;
        char *out = NULL;
        assert_int_equal(ride_harness_run(argv, NULL, fx->dir, NULL, RUN_MS, &out), 0);
        assert_non_null(out);
        assert_non_null(strstr(out, "Usage: "));
        free(out);
        free(text);
    }
}

static void test_sample_configs_load(void **state)
{
    (void)state;
    for (int i = 0; i < UNIT_COUNT; i++) {
        char path[700], msg[1024];
        snprintf(path, sizeof path, "%s/deploy/config/%s", RIDE_SOURCE_DIR, UNITS[i].config);
        ride_config cfg;
        ride_parse_error err;
        if (ride_config_load(UNITS[i].daemon, path, &cfg, &err))
            fail_msg("%s", ride_parse_error_format(&err, msg, sizeof msg));
        assert_string_equal(cfg.zookeeper.connect, "zk1:2181,zk2:2181,zk3:2181/ride");
        assert_false(cfg.kafka.embedded);
        if (UNITS[i].daemon == RIDE_DAEMON_MASTER) {
            const ride_kv *kv = ride_kv_find(cfg.kafka.props, cfg.kafka.prop_count,
                                             "bootstrap.servers");
            assert_non_null(kv);
            assert_string_equal(kv->value, "kafka1:9092,kafka2:9092,kafka3:9092");
            assert_string_equal(cfg.api.token_file, "/etc/ride/api-token");
            assert_int_equal(cfg.topics.replication_factor, 3);
        } else if (UNITS[i].daemon == RIDE_DAEMON_WORKER) {
            /* The unit gives the id: one in the file would be overridden. */
            assert_null(cfg.worker.id);
            assert_int_equal(cfg.worker.label_count, 1);
        } else {
            assert_null(cfg.producer.id);
            assert_int_equal(cfg.producer.max_backlog_bytes, 0);
        }
        ride_config_free(&cfg);
    }
}

static void expect_file(const char *prefix, const char *relative)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", prefix, relative);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        fail_msg("not installed: %s", relative);
}

static const char PROGRAM_USING_SDK[] =
    "#include <stdio.h>\n"
    "#include \"ride/task.h\"\n"
    "int main(void)\n"
    "{\n"
    "    printf(\"abi %u png %d\\n\", RIDE_TASK_ABI_VERSION, (int)RIDE_ENC_PNG);\n"
    "    return 0;\n"
    "}\n";

/* The plugin SDK is all RIDE installs for programmers: two headers, no library. */
static void expect_only_sdk_headers(const char *prefix)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/include/ride", prefix);
    assert_int_equal(ride_harness_dir_entries(path, true), 2);
    snprintf(path, sizeof path, "%s/lib/libride.a", prefix);
    struct stat st;
    if (stat(path, &st) == 0)
        fail_msg("a library is installed: lib/libride.a");
}

/* A program built against the installed tree with pkg-config only. */
static void build_with_pkg_config(fixture *fx, const char *prefix)
{
    char pc_dir[700], src[700], exe[700], script[4096];
    snprintf(pc_dir, sizeof pc_dir, "%s/lib/pkgconfig", prefix);
    snprintf(src, sizeof src, "%s/uses_ride.c", fx->dir);
    snprintf(exe, sizeof exe, "%s/uses_ride", fx->dir);
    assert_int_equal(ride_harness_write_file(src, PROGRAM_USING_SDK), 0);
    snprintf(script, sizeof script,
             "set -e; export PKG_CONFIG_PATH='%s'; "
             "'%s' -Wall -Werror $(pkg-config --cflags ride) '%s' -o '%s' "
             "$(pkg-config --libs ride); env -u NOTIFY_SOCKET '%s'",
             pc_dir, RIDE_C_COMPILER, src, exe, exe);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    char *out = NULL;
    assert_int_equal(ride_harness_run(argv, NULL, fx->dir, NULL, RUN_MS, &out), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "abi 1 png 2\n"));
    free(out);
}

static void test_cmake_install_layout(void **state)
{
    fixture *fx = *state;
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/prefix", fx->dir);
    const char *install[] = {RIDE_CMAKE_COMMAND, "--install", RIDE_BUILD_DIR, "--prefix", prefix,
                             NULL};
    char *out = NULL;
    assert_int_equal(ride_harness_run(install, NULL, fx->dir, NULL, RUN_MS, &out), 0);
    free(out);
    static const char *const files[] = {
        "lib/systemd/system/ride-master.service", "lib/systemd/system/ride-worker@.service",
        "lib/systemd/system/ride-producer.service", "lib/sysusers.d/ride.conf",
        "share/ride/examples/master.yaml", "share/ride/examples/worker.yaml",
        "share/ride/examples/producer.yaml", "share/ride/examples/apps/cctv-edges.yaml",
        "share/doc/ride/deploy.md", "include/ride/task.h", "include/ride/image.h",
        "lib/pkgconfig/ride.pc",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        expect_file(prefix, files[i]);
    expect_only_sdk_headers(prefix);
    static const char *const programs[] = {"ride-master", "ride-worker", "ride-producer",
                                           "ridectl"};
    for (size_t i = 0; i < sizeof programs / sizeof *programs; i++) {
        char exe[700];
        snprintf(exe, sizeof exe, "%s/bin/%s", prefix, programs[i]);
        const char *argv[] = {exe, "--help", NULL};
        assert_int_equal(ride_harness_run(argv, NULL, fx->dir, NULL, RUN_MS, &out), 0);
        assert_non_null(strstr(out, "Usage: "));
        free(out);
    }
    /* Installed units start the installed programs. */
    char unit_path[700], want[700];
    snprintf(unit_path, sizeof unit_path, "%s/lib/systemd/system/ride-worker@.service", prefix);
    char *unit_text = ride_harness_read_file(unit_path, NULL);
    assert_non_null(unit_text);
    snprintf(want, sizeof want, "\nExecStart=%s/bin/ride-worker --config", prefix);
    assert_non_null(strstr(unit_text, want));
    free(unit_text);
    build_with_pkg_config(fx, prefix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_verify),
        cmocka_unit_test(test_broken_units_fail),
        cmocka_unit_test(test_unit_command_lines),
        cmocka_unit_test(test_sample_configs_load),
        cmocka_unit_test(test_cmake_install_layout),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
