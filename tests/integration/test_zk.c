/* The ZooKeeper client module against a real ZooKeeper server on loopback. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness.h"
#include "cluster/zk.h"

#define WAIT_MS 5000
#define CONNECT_TIMEOUT_MS 10000

/* A session on the test server; suffix is appended to the connect string (a chroot). */
static ride_zk *open_session(const char *suffix, const char *digest)
{
    char connect[256];
    snprintf(connect, sizeof connect, "%s%s", ride_harness_zk_connect(ride_harness_zk_shared()), suffix);
    ride_zk_options opts = {.connect = connect, .connect_timeout_ms = CONNECT_TIMEOUT_MS,
                            .digest = digest};
    ride_zk *zk = NULL;
    char err[256] = "";
    ride_zk_err rc = ride_zk_connect(&opts, &zk, err, sizeof err);
    if (rc != RIDE_ZK_OK)
        fprintf(stderr, "connect %s: %s (%s)\n", connect, ride_zk_strerror(rc), err);
    assert_int_equal(rc, RIDE_ZK_OK);
    assert_non_null(zk);
    return zk;
}

static void test_chroot_is_created(void **state)
{
    (void)state;
    ride_zk *root = open_session("", NULL);
    assert_int_equal(ride_zk_exists(root, "/chroot_test", NULL), RIDE_ZK_NONODE);

    ride_zk *zk = open_session("/chroot_test/ride", NULL);
    assert_int_equal(ride_zk_state(zk), RIDE_ZK_SESSION_CONNECTED);
    assert_true(ride_zk_session_id(zk) != 0);
    assert_int_equal(ride_zk_create(zk, "/inside", "x", 1, 0, NULL, 0), RIDE_ZK_OK);
    assert_int_equal(ride_zk_exists(root, "/chroot_test/ride/inside", NULL), RIDE_ZK_OK);

    /* A second connect to an existing chroot is fine. */
    ride_zk *again = open_session("/chroot_test/ride", NULL);
    assert_int_equal(ride_zk_exists(again, "/inside", NULL), RIDE_ZK_OK);
    ride_zk_close(again);
    ride_zk_close(zk);
    assert_int_equal(ride_zk_delete_recursive(root, "/chroot_test"), RIDE_ZK_OK);
    assert_int_equal(ride_zk_exists(root, "/chroot_test", NULL), RIDE_ZK_NONODE);
    ride_zk_close(root);
}

static void test_crud(void **state)
{
    (void)state;
    ride_zk *zk = open_session("", NULL);
    char created[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_zk_create(zk, "/crud", "hello", 5, 0, created, sizeof created),
                     RIDE_ZK_OK);
    assert_string_equal(created, "/crud");
    assert_int_equal(ride_zk_create(zk, "/crud", "again", 5, 0, NULL, 0), RIDE_ZK_NODEEXISTS);
    assert_int_equal(ride_zk_create(zk, "/missing/child", NULL, 0, 0, NULL, 0), RIDE_ZK_NONODE);

    char *data = NULL;
    size_t len = 0;
    int32_t version = -2;
    assert_int_equal(ride_zk_get(zk, "/crud", &data, &len, &version), RIDE_ZK_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    assert_int_equal(version, 0);
    free(data);

    int32_t new_version = -2;
    assert_int_equal(ride_zk_set(zk, "/crud", "world!", 6, -1, &new_version), RIDE_ZK_OK);
    assert_int_equal(new_version, 1);
    assert_int_equal(ride_zk_get(zk, "/crud", &data, &len, NULL), RIDE_ZK_OK);
    assert_string_equal(data, "world!");
    free(data);

    /* A node without data reads as an empty string. */
    assert_int_equal(ride_zk_create(zk, "/crud/b", NULL, 0, 0, NULL, 0), RIDE_ZK_OK);
    assert_int_equal(ride_zk_get(zk, "/crud/b", &data, &len, NULL), RIDE_ZK_OK);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
    assert_int_equal(ride_zk_create(zk, "/crud/a", "1", 1, 0, NULL, 0), RIDE_ZK_OK);
    assert_int_equal(ride_zk_create(zk, "/crud/c", "3", 1, 0, NULL, 0), RIDE_ZK_OK);

    ride_zk_strings kids;
    assert_int_equal(ride_zk_get_children(zk, "/crud", &kids), RIDE_ZK_OK);
    assert_int_equal(kids.count, 3);
    assert_string_equal(kids.items[0], "a");
    assert_string_equal(kids.items[1], "b");
    assert_string_equal(kids.items[2], "c");
    ride_zk_strings_free(&kids);

    assert_int_equal(ride_zk_delete(zk, "/crud", -1), RIDE_ZK_NOTEMPTY);
    assert_int_equal(ride_zk_delete(zk, "/crud/a", -1), RIDE_ZK_OK);
    assert_int_equal(ride_zk_exists(zk, "/crud/a", NULL), RIDE_ZK_NONODE);
    assert_int_equal(ride_zk_get(zk, "/crud/a", &data, &len, NULL), RIDE_ZK_NONODE);
    assert_null(data);
    assert_int_equal(ride_zk_delete(zk, "/crud/a", -1), RIDE_ZK_NONODE);

    assert_int_equal(ride_zk_ensure_path(zk, "/crud/deep/er/path"), RIDE_ZK_OK);
    assert_int_equal(ride_zk_ensure_path(zk, "/crud/deep/er/path"), RIDE_ZK_OK);
    assert_int_equal(ride_zk_exists(zk, "/crud/deep/er/path", NULL), RIDE_ZK_OK);
    assert_int_equal(ride_zk_delete_recursive(zk, "/crud"), RIDE_ZK_OK);
    assert_int_equal(ride_zk_exists(zk, "/crud", NULL), RIDE_ZK_NONODE);
    assert_int_equal(ride_zk_delete_recursive(zk, "/crud"), RIDE_ZK_OK);

    /* Bad paths are refused before reaching the server. */
    assert_int_equal(ride_zk_create(zk, "relative", NULL, 0, 0, NULL, 0), RIDE_ZK_BAD_ARGUMENTS);
    assert_int_equal(ride_zk_create(zk, "/a/", NULL, 0, 0, NULL, 0), RIDE_ZK_BAD_ARGUMENTS);
    assert_int_equal(ride_zk_exists(zk, "/a//b", NULL), RIDE_ZK_BAD_ARGUMENTS);
    assert_int_equal(ride_zk_get(zk, NULL, &data, &len, NULL), RIDE_ZK_BAD_ARGUMENTS);
    assert_int_equal(ride_zk_create(zk, "/flags", NULL, 0, 8, NULL, 0), RIDE_ZK_BAD_ARGUMENTS);
    /* Ephemeral nodes cannot have children. */
    assert_int_equal(ride_zk_create(zk, "/eph", NULL, 0, RIDE_ZK_EPHEMERAL, NULL, 0), RIDE_ZK_OK);
    assert_int_equal(ride_zk_create(zk, "/eph/kid", NULL, 0, 0, NULL, 0),
                     RIDE_ZK_NO_CHILDREN_FOR_EPHEMERALS);
    ride_zk_close(zk);
}

static void test_compare_and_set(void **state)
{
    (void)state;
    ride_zk *a = open_session("", NULL);
    ride_zk *b = open_session("", NULL);
    assert_int_equal(ride_zk_create(a, "/cas", "0", 1, 0, NULL, 0), RIDE_ZK_OK);
    int32_t va, vb;
    char *data;
    assert_int_equal(ride_zk_get(a, "/cas", &data, NULL, &va), RIDE_ZK_OK);
    free(data);
    assert_int_equal(ride_zk_get(b, "/cas", &data, NULL, &vb), RIDE_ZK_OK);
    free(data);
    assert_int_equal(va, vb);

    int32_t nv;
    assert_int_equal(ride_zk_set(a, "/cas", "a", 1, va, &nv), RIDE_ZK_OK);
    assert_int_equal(nv, va + 1);
    /* b read the same version: its write must lose, and say why. */
    assert_int_equal(ride_zk_set(b, "/cas", "b", 1, vb, NULL), RIDE_ZK_BADVERSION);
    assert_string_equal(ride_zk_strerror(RIDE_ZK_BADVERSION),
                        "version mismatch (node changed meanwhile)");
    assert_int_equal(ride_zk_get(b, "/cas", &data, NULL, NULL), RIDE_ZK_OK);
    assert_string_equal(data, "a");
    free(data);
    assert_int_equal(ride_zk_delete(b, "/cas", vb), RIDE_ZK_BADVERSION);
    assert_int_equal(ride_zk_delete(b, "/cas", nv), RIDE_ZK_OK);
    ride_zk_close(a);
    ride_zk_close(b);
}

static bool node_gone(void *ctx)
{
    void **args = ctx;
    return ride_zk_exists(args[0], args[1], NULL) == RIDE_ZK_NONODE;
}

static void test_ephemeral_vanishes_with_session(void **state)
{
    (void)state;
    ride_zk *owner = open_session("", NULL);
    ride_zk *observer = open_session("", NULL);
    assert_int_equal(ride_zk_create(owner, "/eph_owner", "me", 2, RIDE_ZK_EPHEMERAL, NULL, 0),
                     RIDE_ZK_OK);
    assert_int_equal(ride_zk_exists(observer, "/eph_owner", NULL), RIDE_ZK_OK);
    ride_zk_close(owner);
    void *args[] = {observer, "/eph_owner"};
    assert_true(ride_harness_wait_until(node_gone, args, WAIT_MS));
    ride_zk_close(observer);
}

static void test_sequential_order(void **state)
{
    (void)state;
    ride_zk *zk = open_session("", NULL);
    assert_int_equal(ride_zk_ensure_path(zk, "/seq"), RIDE_ZK_OK);
    char paths[5][RIDE_ZK_PATH_MAX];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ride_zk_create(zk, "/seq/e_", "x", 1, RIDE_ZK_SEQUENTIAL, paths[i],
                                        sizeof paths[i]),
                         RIDE_ZK_OK);
        assert_int_equal(strlen(paths[i]), strlen("/seq/e_") + 10);
        if (i > 0)
            assert_true(strcmp(paths[i - 1], paths[i]) < 0);
    }
    ride_zk_strings kids;
    assert_int_equal(ride_zk_get_children(zk, "/seq", &kids), RIDE_ZK_OK);
    assert_int_equal(kids.count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(kids.items[i], paths[i] + strlen("/seq/"));
    ride_zk_strings_free(&kids);
    assert_int_equal(ride_zk_delete_recursive(zk, "/seq"), RIDE_ZK_OK);
    ride_zk_close(zk);
}

static void test_large_node(void **state)
{
    (void)state;
    ride_zk *zk = open_session("", NULL);
    size_t n = 700 * 1024;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(ride_zk_create(zk, "/large", big, n, 0, NULL, 0), RIDE_ZK_OK);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(ride_zk_get(zk, "/large", &data, &len, NULL), RIDE_ZK_OK);
    assert_int_equal(len, n);
    assert_memory_equal(data, big, n);
    assert_int_equal(data[n], '\0');
    free(data);
    free(big);
    assert_int_equal(ride_zk_create(zk, "/too_large", "x", RIDE_ZK_DATA_MAX + 1, 0, NULL, 0),
                     RIDE_ZK_TOO_LARGE);
    assert_int_equal(ride_zk_delete(zk, "/large", -1), RIDE_ZK_OK);
    ride_zk_close(zk);
}

typedef struct watch_log {
    atomic_int fired;
    atomic_int last_event;
    char path[RIDE_ZK_PATH_MAX];
} watch_log;

static void record_watch(ride_zk_event event, const char *path, void *ctx)
{
    watch_log *w = ctx;
    snprintf(w->path, sizeof w->path, "%s", path);
    atomic_store(&w->last_event, (int)event);
    atomic_fetch_add(&w->fired, 1);
}

static bool watch_fired(void *ctx) { return atomic_load(&((watch_log *)ctx)->fired) > 0; }

static void test_watches(void **state)
{
    (void)state;
    ride_zk *zk = open_session("/watch_root", NULL);
    ride_zk *other = open_session("/watch_root", NULL);
    assert_int_equal(ride_zk_create(zk, "/w", "v0", 2, 0, NULL, 0), RIDE_ZK_OK);

    watch_log data_w = {0}, kids_w = {0}, exists_w = {0}, large_w = {0};
    char *data;
    size_t len;
    int32_t version;
    assert_int_equal(ride_zk_get_watch(zk, "/w", record_watch, &data_w, &data, &len, &version),
                     RIDE_ZK_OK);
    assert_string_equal(data, "v0");
    free(data);
    ride_zk_strings kids;
    assert_int_equal(ride_zk_get_children_watch(zk, "/w", record_watch, &kids_w, &kids),
                     RIDE_ZK_OK);
    assert_int_equal(kids.count, 0);
    ride_zk_strings_free(&kids);
    assert_int_equal(ride_zk_exists_watch(zk, "/w_later", record_watch, &exists_w, NULL),
                     RIDE_ZK_NONODE);

    assert_int_equal(ride_zk_set(other, "/w", "v1", 2, version, NULL), RIDE_ZK_OK);
    assert_true(ride_harness_wait_until(watch_fired, &data_w, WAIT_MS));
    assert_int_equal(atomic_load(&data_w.last_event), RIDE_ZK_EVENT_CHANGED);
    /* The chroot is stripped from event paths. */
    assert_string_equal(data_w.path, "/w");

    assert_int_equal(ride_zk_create(other, "/w/child", NULL, 0, 0, NULL, 0), RIDE_ZK_OK);
    assert_true(ride_harness_wait_until(watch_fired, &kids_w, WAIT_MS));
    assert_int_equal(atomic_load(&kids_w.last_event), RIDE_ZK_EVENT_CHILDREN);

    assert_int_equal(ride_zk_create(other, "/w_later", NULL, 0, 0, NULL, 0), RIDE_ZK_OK);
    assert_true(ride_harness_wait_until(watch_fired, &exists_w, WAIT_MS));
    assert_int_equal(atomic_load(&exists_w.last_event), RIDE_ZK_EVENT_CREATED);

    /* A watch on a node larger than the first read buffer fires on deletion. */
    size_t n = 64 * 1024;
    char *big = calloc(1, n);
    assert_non_null(big);
    assert_int_equal(ride_zk_create(other, "/w_large", big, n, 0, NULL, 0), RIDE_ZK_OK);
    assert_int_equal(ride_zk_get_watch(zk, "/w_large", record_watch, &large_w, &data, &len, NULL),
                     RIDE_ZK_OK);
    assert_int_equal(len, n);
    assert_memory_equal(data, big, n);
    free(data);
    free(big);
    assert_int_equal(ride_zk_delete(other, "/w_large", -1), RIDE_ZK_OK);
    assert_true(ride_harness_wait_until(watch_fired, &large_w, WAIT_MS));
    assert_int_equal(atomic_load(&large_w.last_event), RIDE_ZK_EVENT_DELETED);

    /* One-shot: a second change does not fire the data watch again. Its
     * children watch is re-armed here so that there is a later event to wait for. */
    watch_log again = {0};
    assert_int_equal(ride_zk_get_children_watch(zk, "/w", record_watch, &again, &kids), RIDE_ZK_OK);
    ride_zk_strings_free(&kids);
    assert_int_equal(ride_zk_set(other, "/w", "v2", 2, -1, NULL), RIDE_ZK_OK);
    assert_int_equal(ride_zk_create(other, "/w/child2", NULL, 0, 0, NULL, 0), RIDE_ZK_OK);
    assert_true(ride_harness_wait_until(watch_fired, &again, WAIT_MS));
    assert_int_equal(atomic_load(&data_w.fired), 1);
    assert_int_equal(atomic_load(&kids_w.fired), 1);

    /* A watch that never fires is freed by ride_zk_close (ASan checks). */
    watch_log pending = {0};
    assert_int_equal(ride_zk_exists_watch(zk, "/never", record_watch, &pending, NULL),
                     RIDE_ZK_NONODE);
    assert_int_equal(ride_zk_delete_recursive(other, "/"), RIDE_ZK_OK);
    ride_zk_close(other);
    ride_zk_close(zk);
    assert_int_equal(atomic_load(&pending.fired), 0);
}

typedef struct candidate {
    ride_zk *zk;
    ride_zk_election *election;
    atomic_int became_leader;
    atomic_llong leader_at_ms;
} candidate;

static void on_leader(ride_zk_election *election, void *ctx)
{
    /* Runs on ZooKeeper's completion thread: record only, assert in the test. */
    (void)election;
    candidate *c = ctx;
    atomic_store(&c->leader_at_ms, (long long)ride_clock_mono_ms());
    atomic_fetch_add(&c->became_leader, 1);
}

static bool is_leader(void *ctx) { return atomic_load(&((candidate *)ctx)->became_leader) > 0; }

static void join(candidate *c, const char *id)
{
    c->zk = open_session("/election_test", NULL);
    char data[64];
    int n = snprintf(data, sizeof data, "{\"id\": \"%s\"}", id);
    assert_int_equal(ride_zk_election_join(c->zk, "/masters/election", data, (size_t)n, on_leader,
                                           c, &c->election),
                     RIDE_ZK_OK);
    assert_non_null(strstr(ride_zk_election_node(c->election), "/masters/election/n_"));
}

static void assert_leader_data(ride_zk *zk, const char *id)
{
    char *data = NULL;
    char node[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_zk_election_leader(zk, "/masters/election", &data, NULL, node, sizeof node),
                     RIDE_ZK_OK);
    assert_non_null(strstr(data, id));
    free(data);
}

static void test_election_takeover(void **state)
{
    (void)state;
    candidate c[3];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 3; i++)
        join(&c[i], (const char *[]){"m0", "m1", "m2"}[i]);
    assert_true(ride_harness_wait_until(is_leader, &c[0], WAIT_MS));
    ride_zk *observer = open_session("/election_test", NULL);
    assert_leader_data(observer, "m0");
    assert_true(ride_zk_election_is_leader(c[0].election));
    assert_false(ride_zk_election_is_leader(c[1].election));
    assert_false(ride_zk_election_is_leader(c[2].election));

    /* The leader's session ends: its successor (and only it) takes over. */
    long long closed_at = (long long)ride_clock_mono_ms();
    ride_zk_close(c[0].zk);
    assert_true(ride_harness_wait_until(is_leader, &c[1], WAIT_MS));
    long long takeover = atomic_load(&c[1].leader_at_ms) - closed_at;
    printf("election takeover after the leader's session closed: %lld ms\n", takeover);
    assert_true(takeover < WAIT_MS);
    assert_int_equal(atomic_load(&c[2].became_leader), 0);
    assert_leader_data(observer, "m1");

    /* A resignation also hands over. */
    assert_int_equal(ride_zk_election_resign(c[1].election), RIDE_ZK_OK);
    assert_false(ride_zk_election_is_leader(c[1].election));
    assert_true(ride_harness_wait_until(is_leader, &c[2], WAIT_MS));
    assert_leader_data(observer, "m2");
    assert_int_equal(atomic_load(&c[1].became_leader), 1);
    ride_zk_close(c[1].zk);
    ride_zk_close(c[2].zk);
    assert_int_equal(ride_zk_election_leader(observer, "/masters/election", &(char *){NULL}, NULL,
                                             NULL, 0),
                     RIDE_ZK_NONODE);
    ride_zk_close(observer);
}

static void test_election_middle_death_keeps_leader(void **state)
{
    (void)state;
    candidate c[3];
    memset(c, 0, sizeof c);
    for (int i = 0; i < 3; i++)
        join(&c[i], (const char *[]){"a", "b", "c"}[i]);
    assert_true(ride_harness_wait_until(is_leader, &c[0], WAIT_MS));

    /* The middle candidate dies: the last one now watches the leader, but the
     * leader is alive, so it must not lead. */
    char middle[RIDE_ZK_PATH_MAX];
    snprintf(middle, sizeof middle, "%s", ride_zk_election_node(c[1].election));
    ride_zk_close(c[1].zk);
    void *args[] = {c[0].zk, middle};
    assert_true(ride_harness_wait_until(node_gone, args, WAIT_MS));
    assert_false(ride_harness_wait_until(is_leader, &c[2], 500));
    assert_true(ride_zk_election_is_leader(c[0].election));

    /* ... and takes over when the leader goes. */
    ride_zk_close(c[0].zk);
    assert_true(ride_harness_wait_until(is_leader, &c[2], WAIT_MS));
    assert_int_equal(atomic_load(&c[2].became_leader), 1);
    ride_zk_close(c[2].zk);
}

static void test_connect_nothing_listening(void **state)
{
    (void)state;
    uint16_t port = ride_harness_free_port();
    assert_true(port != 0);
    char connect[64];
    snprintf(connect, sizeof connect, "127.0.0.1:%u", port);
    ride_zk_options opts = {.connect = connect, .connect_timeout_ms = 1000};
    ride_zk *zk = (ride_zk *)&opts;
    char err[256] = "";
    int64_t t0 = ride_clock_mono_ms();
    assert_int_equal(ride_zk_connect(&opts, &zk, err, sizeof err), RIDE_ZK_TIMEOUT);
    int64_t elapsed = ride_clock_mono_ms() - t0;
    assert_null(zk);
    assert_true(elapsed >= 900 && elapsed < 3000);
    assert_non_null(strstr(err, connect));
    assert_non_null(strstr(err, "1000 ms"));

    /* The chroot path fails the same way, before the chroot could be created. */
    snprintf(connect, sizeof connect, "127.0.0.1:%u/ride", port);
    t0 = ride_clock_mono_ms();
    assert_int_equal(ride_zk_connect(&opts, &zk, err, sizeof err), RIDE_ZK_TIMEOUT);
    assert_true(ride_clock_mono_ms() - t0 < 3000);
}

static void test_malformed_connect_strings(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:12a",
        ":2181", "127.0.0.1:2181/", "127.0.0.1:2181/a//b", "127.0.0.1:2181/a/../b",
        "127.0.0.1:2181/.", "/ride", "host name:2181", "[::1:2181", "[::1]2181",
        "127.0.0.1:2181,", ",127.0.0.1:2181", "127.0.0.1:2181/a\x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ride_zk_options opts = {.connect = bad[i], .connect_timeout_ms = 1000};
        ride_zk *zk = (ride_zk *)&opts;
        char err[256] = "";
        if (ride_zk_connect(&opts, &zk, err, sizeof err) != RIDE_ZK_BAD_ARGUMENTS)
            fail_msg("accepted connect string '%s'", bad[i]);
        assert_null(zk);
        assert_true(strlen(err) > 0);
    }
    ride_zk_options none = {.connect = NULL};
    ride_zk *zk;
    assert_int_equal(ride_zk_connect(&none, &zk, NULL, 0), RIDE_ZK_BAD_ARGUMENTS);
    static const char *const good[] = {"127.0.0.1:2181", "[::1]:2181/ride",
                                       "a.example:1,b-2:65535/x/y_z"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(ride_zk_parse_connect(good[i], NULL, 0), RIDE_ZK_OK);
}

static void test_digest_acl(void **state)
{
    (void)state;
    char *dir = ride_harness_tempdir("ride-zk-digest-");
    assert_non_null(dir);
    char path[512], digest[128], err[256];
    snprintf(path, sizeof path, "%s/digest", dir);
    assert_int_equal(ride_harness_write_file(path, "ride:s3cret\n"), 0);
    assert_int_equal(ride_zk_read_digest_file(path, digest, sizeof digest, err, sizeof err),
                     RIDE_ZK_OK);
    assert_string_equal(digest, "ride:s3cret");
    assert_int_equal(ride_harness_write_file(path, "no colon\n"), 0);
    assert_int_equal(ride_zk_read_digest_file(path, digest, sizeof digest, err, sizeof err),
                     RIDE_ZK_BAD_ARGUMENTS);
    assert_non_null(strstr(err, "user:password"));
    ride_harness_rmtree(dir);
    free(dir);

    ride_zk *owner = open_session("", "ride:s3cret");
    ride_zk *anonymous = open_session("", NULL);
    ride_zk *stranger = open_session("", "other:pw");
    ride_zk *peer = open_session("", "ride:s3cret");
    assert_int_equal(ride_zk_create(owner, "/secure", "secret", 6, 0, NULL, 0), RIDE_ZK_OK);
    char *data = NULL;
    assert_int_equal(ride_zk_get(anonymous, "/secure", &data, NULL, NULL), RIDE_ZK_NOAUTH);
    assert_int_equal(ride_zk_get(stranger, "/secure", &data, NULL, NULL), RIDE_ZK_NOAUTH);
    assert_int_equal(ride_zk_set(anonymous, "/secure", "x", 1, -1, NULL), RIDE_ZK_NOAUTH);
    assert_int_equal(ride_zk_get(peer, "/secure", &data, NULL, NULL), RIDE_ZK_OK);
    assert_string_equal(data, "secret");
    free(data);
    assert_int_equal(ride_zk_delete(peer, "/secure", -1), RIDE_ZK_OK);
    ride_zk_close(owner);
    ride_zk_close(anonymous);
    ride_zk_close(stranger);
    ride_zk_close(peer);
}

static void record_state(ride_zk_session_state s, void *ctx)
{
    atomic_int *seen = ctx;
    atomic_fetch_or(seen, 1 << (int)s);
}

static bool saw_connected(void *ctx)
{
    return atomic_load((atomic_int *)ctx) & (1 << RIDE_ZK_SESSION_CONNECTED);
}

static void test_session_callback(void **state)
{
    (void)state;
    atomic_int seen = 0;
    ride_zk_options opts = {.connect = ride_harness_zk_connect(ride_harness_zk_shared()),
                            .session_timeout_ms = 4000,
                            .on_session = record_state,
                            .session_ctx = &seen};
    ride_zk *zk = NULL;
    assert_int_equal(ride_zk_connect(&opts, &zk, NULL, 0), RIDE_ZK_OK);
    /* The callback runs on the completion thread, possibly just after connect returns. */
    assert_true(ride_harness_wait_until(saw_connected, &seen, WAIT_MS));
    assert_false(atomic_load(&seen) & (1 << RIDE_ZK_SESSION_EXPIRED));
    ride_zk_close(zk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_connect_strings),
        cmocka_unit_test(test_connect_nothing_listening),
        cmocka_unit_test(test_chroot_is_created),
        cmocka_unit_test(test_crud),
        cmocka_unit_test(test_compare_and_set),
        cmocka_unit_test(test_ephemeral_vanishes_with_session),
        cmocka_unit_test(test_sequential_order),
        cmocka_unit_test(test_large_node),
        cmocka_unit_test(test_watches),
        cmocka_unit_test(test_election_takeover),
        cmocka_unit_test(test_election_middle_death_keeps_leader),
        cmocka_unit_test(test_digest_acl),
        cmocka_unit_test(test_session_callback),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup, ride_harness_zk_group_teardown);
}
