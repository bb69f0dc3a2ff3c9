/* ridectl's command line: every verb and its aliases, options before and after the
 * verb, the environment's defaults, and every mistake with its own message. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "ride_test.h"

#define SERVER "--server", "http://127.0.0.1:7480"

/* Parses a NULL-terminated list of arguments (after the program name). */
static int parse_env(const ride_ctl_env *env, ride_ctl_args *out, char *err, size_t errlen,
                     const char *const *words)
{
    char *argv[32] = {(char *)"ridectl"};
    int argc = 1;
    while (words[argc - 1] != NULL) {
        assert_true(argc < 31);
        argv[argc] = (char *)words[argc - 1];
        argc++;
    }
    argv[argc] = NULL;
    err[0] = '\0';
    return ride_ctl_args_parse(argc, argv, env, out, err, errlen);
}

#define PARSE(out, err, ...) \
    parse_env(NULL, out, err, sizeof err, (const char *const[]){__VA_ARGS__, NULL})

/* The call must fail with exactly this message. */
#define EXPECT_USAGE(message, ...)                                                         \
    do {                                                                                   \
        ride_ctl_args a_;                                                                  \
        char e_[512];                                                                      \
        assert_int_equal(parse_env(NULL, &a_, e_, sizeof e_,                              \
                                   (const char *const[]){__VA_ARGS__, NULL}), -1);         \
        assert_string_equal(e_, message);                                                  \
    } while (0)

static void test_apply(void **state)
{
    (void)state;
    ride_ctl_args a;
    char err[512];
    assert_int_equal(PARSE(&a, err, "apply", "-f", "app.yaml", SERVER), 0);
    assert_int_equal(a.verb, RIDE_CTL_APPLY);
    assert_string_equal(a.file, "app.yaml");
    assert_string_equal(a.server, "http://127.0.0.1:7480");
    assert_int_equal(a.output, RIDE_CTL_OUTPUT_TABLE);
    assert_int_equal(a.timeout_ms, 10000);
    assert_int_equal(PARSE(&a, err, SERVER, "apply", "-f", "-"), 0);
    assert_string_equal(a.file, "-");
    assert_int_equal(PARSE(&a, err, SERVER, "apply", "--filename=x.yaml"), 0);
    assert_string_equal(a.file, "x.yaml");
    assert_int_equal(PARSE(&a, err, SERVER, "apply", "-fx.yaml"), 0);
    assert_string_equal(a.file, "x.yaml");
}

static void test_get_resources(void **state)
{
    (void)state;
    static const struct {
        const char *word;
        ride_ctl_resource resource;
    } cases[] = {
        {"apps", RIDE_CTL_APPS},           {"app", RIDE_CTL_APPS},
        {"application", RIDE_CTL_APPS},    {"applications", RIDE_CTL_APPS},
        {"workers", RIDE_CTL_WORKERS},     {"worker", RIDE_CTL_WORKERS},
        {"producers", RIDE_CTL_PRODUCERS}, {"producer", RIDE_CTL_PRODUCERS},
        {"partitions", RIDE_CTL_PARTITIONS}, {"partition", RIDE_CTL_PARTITIONS},
        {"parts", RIDE_CTL_PARTITIONS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ride_ctl_args a;
        char err[512];
        assert_int_equal(PARSE(&a, err, "get", cases[i].word, SERVER), 0);
        assert_int_equal(a.verb, RIDE_CTL_GET);
        assert_int_equal(a.resource, cases[i].resource);
        assert_null(a.app);
    }
}

static void test_get_partitions_of_one_app(void **state)
{
    (void)state;
    ride_ctl_args a;
    char err[512];
    assert_int_equal(PARSE(&a, err, "get", "parts", "--app", "cctv", "-o", "json", SERVER), 0);
    assert_int_equal(a.resource, RIDE_CTL_PARTITIONS);
    assert_string_equal(a.app, "cctv");
    assert_int_equal(a.output, RIDE_CTL_OUTPUT_JSON);
    assert_int_equal(PARSE(&a, err, "-ojson", "get", "partitions", "--app=cctv", SERVER), 0);
    assert_int_equal(a.output, RIDE_CTL_OUTPUT_JSON);
    assert_string_equal(a.app, "cctv");
}

static void test_describe_delete_scale_events(void **state)
{
    (void)state;
    ride_ctl_args a;
    char err[512];
    assert_int_equal(PARSE(&a, err, "describe", "app", "cctv", SERVER), 0);
    assert_int_equal(a.verb, RIDE_CTL_DESCRIBE);
    assert_string_equal(a.app, "cctv");
    assert_int_equal(PARSE(&a, err, "delete", "apps", "cctv", SERVER), 0);
    assert_int_equal(a.verb, RIDE_CTL_DELETE);
    assert_string_equal(a.app, "cctv");
    assert_int_equal(PARSE(&a, err, "scale", "cctv", "gray", "4", "--timeout", "3", SERVER), 0);
    assert_int_equal(a.verb, RIDE_CTL_SCALE);
    assert_string_equal(a.app, "cctv");
    assert_string_equal(a.stage, "gray");
    assert_int_equal(a.workers, 4);
    assert_int_equal(a.timeout_ms, 3000);
    assert_int_equal(PARSE(&a, err, "scale", "cctv", "gray", "auto", SERVER), 0);
    assert_int_equal(a.workers, RIDE_CTL_SCALE_AUTO);
    assert_int_equal(PARSE(&a, err, "events", SERVER), 0);
    assert_int_equal(a.verb, RIDE_CTL_EVENTS);
    assert_int_equal(a.limit, 0);
    assert_null(a.app);
    assert_int_equal(PARSE(&a, err, "events", "--limit", "5", "--app", "cctv", SERVER), 0);
    assert_int_equal(a.limit, 5);
    assert_string_equal(a.app, "cctv");
}

static void test_top_and_wait(void **state)
{
    (void)state;
    ride_ctl_args a;
    char err[512];
    assert_int_equal(PARSE(&a, err, "top", SERVER), 0);
    assert_int_equal(a.verb, RIDE_CTL_TOP);
    assert_int_equal(a.interval_ms, 2000);
    assert_int_equal(a.iterations, 0);
    assert_null(a.app);
    assert_int_equal(PARSE(&a, err, "top", "--app", "cctv", "--interval", "0.5", "--iterations",
                           "3", "-o", "json", SERVER),
                     0);
    assert_string_equal(a.app, "cctv");
    assert_int_equal(a.interval_ms, 500);
    assert_int_equal(a.iterations, 3);
    assert_int_equal(a.output, RIDE_CTL_OUTPUT_JSON);
    assert_int_equal(PARSE(&a, err, "top", "--interval=5s", SERVER), 0);
    assert_int_equal(a.interval_ms, 5000);
    /* --wait: --timeout bounds the wait, each request keeps the usual limit. */
    assert_int_equal(PARSE(&a, err, "apply", "-f", "x.yaml", "--wait", SERVER), 0);
    assert_true(a.wait);
    assert_int_equal(a.wait_timeout_ms, 60000);
    assert_int_equal(a.timeout_ms, 10000);
    assert_int_equal(PARSE(&a, err, "delete", "app", "cctv", "--wait", "--timeout", "90s",
                           SERVER),
                     0);
    assert_true(a.wait);
    assert_int_equal(a.wait_timeout_ms, 90000);
    assert_int_equal(a.timeout_ms, 10000);
    assert_int_equal(PARSE(&a, err, "apply", "-f", "x.yaml", "--wait", "--timeout=3", SERVER),
                     0);
    assert_int_equal(a.wait_timeout_ms, 3000);
    assert_int_equal(a.timeout_ms, 3000);
    assert_int_equal(PARSE(&a, err, "apply", "-f", "x.yaml", SERVER), 0);
    assert_false(a.wait);
    EXPECT_USAGE("unexpected argument \"x\" (usage: top [--app APP] [--interval SECONDS] "
                 "[--iterations N])",
                 "top", "x", SERVER);
    EXPECT_USAGE("option '--interval': expected seconds in 0.1..3600, got \"0.05\"", "top",
                 "--interval", "0.05", SERVER);
    EXPECT_USAGE("option '--interval': expected seconds in 0.1..3600, got \"fast\"", "top",
                 "--interval", "fast", SERVER);
    EXPECT_USAGE("option '--iterations': expected a whole number in 1..1000000, got \"0\"",
                 "top", "--iterations", "0", SERVER);
    EXPECT_USAGE("option '--interval' applies to top only", "get", "apps", "--interval", "1",
                 SERVER);
    EXPECT_USAGE("option '--iterations' applies to top only", "events", "--iterations", "1",
                 SERVER);
    EXPECT_USAGE("option '--wait' applies to apply and delete only", "scale", "cctv", "gray",
                 "2", "--wait", SERVER);
    EXPECT_USAGE("option '--wait' takes no value", "delete", "app", "a", "--wait=yes", SERVER);
    EXPECT_USAGE("option '--timeout': expected whole seconds in 1..3600, got \"60m\"", "apply",
                 "-f", "x", "--wait", "--timeout", "60m", SERVER);
    assert_non_null(strstr(ride_ctl_usage(), "top [--app APP]"));
}

static void test_help_and_version(void **state)
{
    (void)state;
    ride_ctl_args a;
    char err[512];
    assert_int_equal(PARSE(&a, err, "--help"), 0);
    assert_int_equal(a.verb, RIDE_CTL_HELP);
    assert_int_equal(PARSE(&a, err, "get", "apps", "-h"), 0);
    assert_int_equal(a.verb, RIDE_CTL_HELP);
    assert_int_equal(PARSE(&a, err, "--version"), 0);
    assert_int_equal(a.verb, RIDE_CTL_VERSION);
    assert_non_null(strstr(ride_ctl_usage(), "scale APP STAGE N"));
}

static void test_environment(void **state)
{
    (void)state;
    ride_ctl_args a;
    char err[512];
    ride_ctl_env env = {"127.0.0.1:2181/ride", NULL, "/etc/ride/token"};
    assert_int_equal(parse_env(&env, &a, err, sizeof err, (const char *const[]){"get", "apps",
                                                                                 NULL}),
                     0);
    assert_string_equal(a.zookeeper, "127.0.0.1:2181/ride");
    assert_null(a.server);
    assert_string_equal(a.token_file, "/etc/ride/token");
    /* The command line wins over every variable. */
    env.server = "http://127.0.0.1:9";
    assert_int_equal(parse_env(&env, &a, err, sizeof err,
                               (const char *const[]){"get", "apps", "--zookeeper", "h:1",
                                                     "--token-file", "t", NULL}),
                     0);
    assert_string_equal(a.zookeeper, "h:1");
    assert_null(a.server);
    assert_string_equal(a.token_file, "t");
    /* Empty variables count as unset. */
    ride_ctl_env empty = {"", "", ""};
    assert_int_equal(parse_env(&empty, &a, err, sizeof err,
                               (const char *const[]){"get", "apps", NULL}),
                     -1);
    assert_string_equal(err, "no cluster given: use --server URL or --zookeeper CONNECT "
                             "(or RIDE_SERVER / RIDE_ZOOKEEPER)");
}

static void test_option_mistakes(void **state)
{
    (void)state;
    EXPECT_USAGE("no command given", SERVER);
    EXPECT_USAGE("unknown option '--bogus'", "get", "apps", "--bogus=1");
    EXPECT_USAGE("unknown option '-x'", "-x");
    EXPECT_USAGE("option '--server' needs a value", "get", "apps", "--server");
    EXPECT_USAGE("option '--server' needs a non-empty value", "get", "apps", "--server=");
    EXPECT_USAGE("option '--help' takes no value", "--help=yes");
    EXPECT_USAGE("option '-o': expected table or json, got \"yaml\"", "-o", "yaml");
    EXPECT_USAGE("option '--output': expected table or json, got \"\"", "--output=");
    EXPECT_USAGE("option '--timeout': expected whole seconds in 1..3600, got \"0\"",
                 "--timeout", "0");
    EXPECT_USAGE("option '--timeout': expected whole seconds in 1..3600, got \"2.5\"",
                 "--timeout", "2.5");
    EXPECT_USAGE("option '-f' applies to apply only", "get", "apps", "-f", "x", SERVER);
    EXPECT_USAGE("option '--app' applies to get partitions, events and top only", "get", "workers",
                 "--app", "a", SERVER);
    EXPECT_USAGE("option '--limit' applies to events only", "get", "apps", "--limit", "3",
                 SERVER);
    EXPECT_USAGE("option '--limit': expected a whole number in 1..1000, got \"1001\"", "events",
                 "--limit", "1001", SERVER);
    EXPECT_USAGE("no cluster given: use --server URL or --zookeeper CONNECT "
                 "(or RIDE_SERVER / RIDE_ZOOKEEPER)",
                 "get", "apps");
}

static void test_verb_mistakes(void **state)
{
    (void)state;
    EXPECT_USAGE("unknown command \"create\" (expected apply, get, describe, delete, scale, "
                 "events or top)",
                 "create", SERVER);
    EXPECT_USAGE("apply needs -f FILE ('-' reads standard input)", "apply", SERVER);
    EXPECT_USAGE("unexpected argument \"x.yaml\" (usage: apply -f FILE)", "apply", "-f", "a",
                 "x.yaml", SERVER);
    EXPECT_USAGE("get needs a resource type: apps, workers, producers or partitions", "get",
                 SERVER);
    EXPECT_USAGE("unknown resource type \"pods\" (expected apps, workers, producers or "
                 "partitions)",
                 "get", "pods", SERVER);
    EXPECT_USAGE("unexpected argument \"cctv\" (get lists every resource of a type; use "
                 "'ridectl describe app NAME' for one application)",
                 "get", "apps", "cctv", SERVER);
    EXPECT_USAGE("describe needs app NAME", "describe", "app", SERVER);
    EXPECT_USAGE("describe supports applications only: describe app NAME", "describe",
                 "worker", "w1", SERVER);
    EXPECT_USAGE("unexpected argument \"x\" (usage: delete app NAME)", "delete", "app", "a",
                 "x", SERVER);
    EXPECT_USAGE("invalid application name \"Bad/Name\": expected lower-case letters, digits "
                 "and '-', at most 63 characters",
                 "delete", "app", "Bad/Name", SERVER);
    EXPECT_USAGE("scale needs APP STAGE N", "scale", "cctv", "gray", SERVER);
    EXPECT_USAGE("invalid stage name \"gr ay\": expected lower-case letters, digits and '-', "
                 "at most 63 characters",
                 "scale", "cctv", "gr ay", "2", SERVER);
    EXPECT_USAGE("scale: N must be a whole number in 0..10000 or auto, got \"-1\"", SERVER, "scale",
                 "cctv", "gray", "--", "-1");
    EXPECT_USAGE("scale: N must be a whole number in 0..10000 or auto, got \"10001\"", "scale",
                 "cctv", "gray", "10001", SERVER);
    EXPECT_USAGE("unexpected argument \"x\" (usage: events [--limit N] [--app APP])", "events",
                 "x", SERVER);
    EXPECT_USAGE("unexpected argument \"8\"", "a", "1", "2", "3", "4", "5", "6", "7", "8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_get_resources),
        cmocka_unit_test(test_get_partitions_of_one_app),
        cmocka_unit_test(test_describe_delete_scale_events),
        cmocka_unit_test(test_top_and_wait),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_option_mistakes),
        cmocka_unit_test(test_verb_mistakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
