/* The HTTP server and client over loopback: routing, bearer tokens, limits,
 * keep-alive and pipelining, slow and idle clients, and stopping with connections
 * still open. */
#define _POSIX_C_SOURCE 200809L

#include "ride_test.h"
#include "base/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "http/http_client.h"

#define TOKEN "s3cret-token"

/* A server on its own loop in a thread; stop() frees it from the loop thread. */
typedef struct fixture {
    uv_loop_t loop;
    uv_async_t stop;
    ride_http_server *srv;
    pthread_t thread;
    int port;
} fixture;

static void text_handler(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    (void)req;
    ride_http_response_text(res, 200, ctx);
}

static void echo_handler(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    (void)ctx;
    size_t len;
    const char *body = ride_http_request_body(req, &len);
    json_error_t jerr;
    json_t *in = json_loadb(body, len, 0, &jerr);
    if (in == NULL) {
        ride_http_response_text(res, 400, "bad json\n");
        return;
    }
    json_t *out = json_pack("{s:o, s:s}", "echo", in, "type",
                            ride_http_request_header(req, "content-type"));
    ride_http_response_json(res, 201, out);
    json_decref(out);
}

static void query_handler(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    (void)ctx;
    char text[512];
    const char *after = ride_http_request_header(req, "X-After");
    snprintf(text, sizeof text, "path=%s query=%s after=%s", ride_http_request_path(req),
             ride_http_request_query(req), after ? after : "-");
    ride_http_response_text(res, 200, text);
}

static void admin_handler(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    (void)ctx;
    if (!ride_http_require_token(req, res, TOKEN))
        return;
    ride_http_response_text(res, 200, "changed\n");
}

static void *loop_thread(void *arg)
{
    fixture *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_stop(uv_async_t *async)
{
    fixture *f = async->data;
    ride_http_server_free(f->srv);
    uv_close((uv_handle_t *)async, NULL);
}

static void start(fixture *f, const ride_http_limits *limits)
{
    char err[256];
    memset(f, 0, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->srv = ride_http_server_new(&f->loop, "127.0.0.1:0", limits, err, sizeof err);
    assert_non_null(f->srv);
    assert_int_equal(ride_http_server_route(f->srv, "GET", "/hello", false, text_handler,
                                            "hello\n"), 0);
    assert_int_equal(ride_http_server_route(f->srv, "POST", "/echo", false, echo_handler, NULL),
                     0);
    assert_int_equal(ride_http_server_route(f->srv, "GET", "/q", true, query_handler, NULL), 0);
    assert_int_equal(ride_http_server_route(f->srv, "POST", "/admin", false, admin_handler, NULL),
                     0);
    assert_int_equal(ride_http_server_route(f->srv, "GET", "/admin", false, text_handler,
                                            "status\n"), 0);
    assert_int_equal(ride_http_server_start(f->srv, err, sizeof err), 0);
    f->port = ride_http_server_port(f->srv);
    assert_true(f->port > 0);
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
    assert_int_equal(pthread_create(&f->thread, NULL, loop_thread, f), 0);
}

/* Frees the server on its loop and proves every handle it opened was closed. */
static void stop(fixture *f)
{
    uv_async_send(&f->stop);
    pthread_join(f->thread, NULL);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void short_limits(ride_http_limits *l)
{
    ride_http_limits_default(l);
    l->max_body_bytes = 1024;
    l->max_header_bytes = 1024;
    l->idle_timeout_ms = 200;
    l->request_timeout_ms = 400;
}

static int call(const fixture *f, const char *method, const char *target, const char *token,
                const char *body, ride_http_client_response *res)
{
    char url[256], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, target);
    ride_http_client_request req = {.url = url, .method = method, .token = token,
                                    .body = body, .body_len = body ? strlen(body) : 0,
                                    .timeout_ms = 5000};
    int rc = ride_http_client_do(&req, res, err, sizeof err);
    if (rc != RIDE_HTTP_CLIENT_OK)
        print_error("%s %s: %s\n", method, target, err);
    return rc;
}

static int expect_status(const fixture *f, const char *method, const char *target,
                         const char *token, const char *body)
{
    ride_http_client_response res;
    if (call(f, method, target, token, body, &res) != RIDE_HTTP_CLIENT_OK)
        return -1;
    free(res.body);
    return res.status;
}

static int raw_connect(const fixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void raw_send(int fd, const char *data)
{
    size_t len = strlen(data);
    assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads until `until` occurs in the input (NULL: until EOF) or the deadline passes;
 * returns the byte count, -1 on timeout. */
static ssize_t raw_read(int fd, char *buf, size_t cap, const char *until, int timeout_ms)
{
    size_t len = 0;
    int64_t deadline = ride_clock_mono_ms() + timeout_ms;
    buf[0] = '\0';
    while (len + 1 < cap) {
        if (until != NULL && strstr(buf, until) != NULL)
            return (ssize_t)len;
        int64_t left = deadline - ride_clock_mono_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return until == NULL ? (ssize_t)len : -1;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return -1;
}

static void test_get_post_query(void **state)
{
    (void)state;
    fixture f;
    ride_http_client_response res;
    start(&f, NULL);

    assert_int_equal(call(&f, "GET", "/hello", NULL, NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.body, "hello\n");
    free(res.body);

    assert_int_equal(call(&f, "POST", "/echo", NULL, "{\"a\":[1,2]}", &res), 0);
    assert_int_equal(res.status, 201);
    assert_string_equal(res.body, "{\"echo\":{\"a\":[1,2]},\"type\":\"application/json\"}");
    free(res.body);

    assert_int_equal(call(&f, "GET", "/q/a%20b?x=1&y=%41", NULL, NULL, &res), 0);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.body, "path=/q/a b query=x=1&y=%41 after=-");
    free(res.body);

    assert_int_equal(expect_status(&f, "POST", "/echo", NULL, "not json"), 400);
    stop(&f);
}

static void test_404_405(void **state)
{
    (void)state;
    fixture f;
    char buf[4096];
    start(&f, NULL);
    assert_int_equal(expect_status(&f, "GET", "/nowhere", NULL, NULL), 404);
    assert_int_equal(expect_status(&f, "DELETE", "/admin", NULL, NULL), 405);

    int fd = raw_connect(&f);
    raw_send(fd, "PUT /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_true(raw_read(fd, buf, sizeof buf, NULL, 3000) > 0);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 405 "));
    assert_non_null(strstr(buf, "\r\nAllow: GET\r\n"));
    assert_non_null(strstr(buf, "\r\nContent-Length: "));
    assert_int_equal(ride_http_server_rejected(f.srv, RIDE_HTTP_REJECT_NOT_FOUND), 1);
    assert_int_equal(ride_http_server_rejected(f.srv, RIDE_HTTP_REJECT_METHOD_NOT_ALLOWED), 2);
    stop(&f);
}

static void test_token(void **state)
{
    (void)state;
    fixture f;
    char buf[4096];
    start(&f, NULL);
    assert_int_equal(expect_status(&f, "POST", "/admin", NULL, "{}"), 401);
    assert_int_equal(expect_status(&f, "POST", "/admin", "wrong", "{}"), 401);
    assert_int_equal(expect_status(&f, "POST", "/admin", TOKEN "x", "{}"), 401);
    assert_int_equal(expect_status(&f, "POST", "/admin", "s3cret-toke", "{}"), 401);
    assert_int_equal(expect_status(&f, "POST", "/admin", TOKEN, "{}"), 200);
    assert_int_equal(ride_http_server_rejected(f.srv, RIDE_HTTP_REJECT_UNAUTHORIZED), 4);

    int fd = raw_connect(&f);
    raw_send(fd, "POST /admin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic abc\r\n"
                 "Content-Length: 0\r\nConnection: close\r\n\r\n");
    assert_true(raw_read(fd, buf, sizeof buf, NULL, 3000) > 0);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 401 "));
    assert_non_null(strstr(buf, "\r\nWWW-Authenticate: Bearer\r\n"));
    stop(&f);
}

static void test_malformed_then_serves(void **state)
{
    (void)state;
    fixture f;
    char buf[4096];
    start(&f, NULL);
    static const char *const bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /hello HTTP/9.9\r\n\r\n",
        "GET http://evil/hello HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /q/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /q/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd = raw_connect(&f);
        raw_send(fd, bad[i]);
        if (raw_read(fd, buf, sizeof buf, NULL, 3000) <= 0)
            fail_msg("request %zu: no answer", i);
        close(fd);
        if (strncmp(buf, "HTTP/1.1 400 ", 13) != 0)
            fail_msg("request %zu answered: %.40s", i, buf);
        assert_int_equal(expect_status(&f, "GET", "/hello", NULL, NULL), 200);
    }
    assert_int_equal(ride_http_server_rejected(f.srv, RIDE_HTTP_REJECT_BAD_REQUEST),
                     sizeof bad / sizeof bad[0]);
    stop(&f);
}

static void test_limits(void **state)
{
    (void)state;
    fixture f;
    ride_http_limits lim;
    char body[2048], buf[4096], req[4096];
    short_limits(&lim);
    start(&f, &lim);
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    assert_int_equal(expect_status(&f, "POST", "/echo", NULL, body), 413);

    /* A chunked body gives no length up front: refused when it crosses the limit. */
    int fd = raw_connect(&f);
    raw_send(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "400\r\n");
    char chunk[1100];
    memset(chunk, 'y', 1024);
    memcpy(chunk + 1024, "\r\n400\r\n", 8);
    raw_send(fd, chunk);
    raw_send(fd, chunk);
    assert_true(raw_read(fd, buf, sizeof buf, NULL, 3000) > 0);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 413 "));

    fd = raw_connect(&f);
    snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: %.1500s\r\n\r\n", body);
    raw_send(fd, req);
    assert_true(raw_read(fd, buf, sizeof buf, NULL, 3000) > 0);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 431 "));

    fd = raw_connect(&f);
    raw_send(fd, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 120; i++)
        raw_send(fd, "A: b\r\n");
    raw_read(fd, buf, sizeof buf, NULL, 3000);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 431 "));

    assert_int_equal(ride_http_server_rejected(f.srv, RIDE_HTTP_REJECT_BODY_TOO_LARGE), 2);
    assert_int_equal(ride_http_server_rejected(f.srv, RIDE_HTTP_REJECT_HEADERS_TOO_LARGE), 2);
    assert_int_equal(expect_status(&f, "GET", "/hello", NULL, NULL), 200);
    stop(&f);
}

static void test_keepalive_pipelining_close(void **state)
{
    (void)state;
    fixture f;
    char buf[8192];
    start(&f, NULL);

    int fd = raw_connect(&f);
    raw_send(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(raw_read(fd, buf, sizeof buf, "hello\n", 3000) > 0);
    assert_null(strstr(buf, "Connection: close"));
    /* Same connection, second request; an empty header value before another header. */
    raw_send(fd, "GET /q/two HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-After: yes\r\n\r\n");
    assert_true(raw_read(fd, buf, sizeof buf, "after=yes", 3000) > 0);
    assert_non_null(strstr(buf, "path=/q/two"));
    /* Pipelined: three requests in one write, answered in order; the last closes. */
    raw_send(fd, "GET /q/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 3\r\n\r\n[7]"
                 "GET /q/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_true(raw_read(fd, buf, sizeof buf, NULL, 3000) > 0);
    close(fd);
    const char *a = strstr(buf, "path=/q/1 ");
    const char *b = strstr(buf, "{\"echo\":[7]");
    const char *c = strstr(buf, "path=/q/3 ");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a < b && b < c);
    assert_non_null(strstr(b, "Connection: close\r\n"));

    /* Connection: close on the first request: the server closes after one answer. */
    fd = raw_connect(&f);
    raw_send(fd, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                 "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(raw_read(fd, buf, sizeof buf, NULL, 3000) > 0);
    close(fd);
    assert_non_null(strstr(buf, "hello\n"));
    assert_null(strstr(strstr(buf, "hello\n"), "HTTP/1.1"));

    /* HTTP/1.0 closes by default. */
    fd = raw_connect(&f);
    raw_send(fd, "GET /hello HTTP/1.0\r\n\r\n");
    assert_true(raw_read(fd, buf, sizeof buf, NULL, 3000) > 0);
    close(fd);
    assert_non_null(strstr(buf, "hello\n"));
    stop(&f);
}

static void test_idle_and_slow_clients(void **state)
{
    (void)state;
    fixture f;
    ride_http_limits lim;
    char buf[4096];
    short_limits(&lim);
    start(&f, &lim);

    int64_t t0 = ride_clock_mono_ms();
    int fd = raw_connect(&f);
    raw_send(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    assert_true(raw_read(fd, buf, sizeof buf, NULL, 3000) >= 0);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 408 "));
    assert_true(ride_clock_mono_ms() - t0 < 2000);

    /* Trickling a byte within every idle period still hits the request timeout. */
    fd = raw_connect(&f);
    raw_send(fd, "GET /hello HTTP/1.1\r\nX-Slow: ");
    t0 = ride_clock_mono_ms();
    bool closed = false;
    while (!closed && ride_clock_mono_ms() - t0 < 3000) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) > 0) {
            closed = true;
            break;
        }
        if (send(fd, "a", 1, MSG_NOSIGNAL) != 1)
            closed = true;
    }
    assert_true(closed);
    raw_read(fd, buf, sizeof buf, NULL, 1000);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 408 "));
    assert_true(ride_clock_mono_ms() - t0 < 2000);

    /* An idle keep-alive connection is closed without an answer. */
    fd = raw_connect(&f);
    assert_int_equal(raw_read(fd, buf, sizeof buf, NULL, 3000), 0);
    close(fd);

    assert_int_equal(ride_http_server_rejected(f.srv, RIDE_HTTP_REJECT_TIMEOUT), 2);
    assert_int_equal(expect_status(&f, "GET", "/hello", NULL, NULL), 200);
    stop(&f);
}

typedef struct worker_arg {
    const fixture *f;
    int ok;
} worker_arg;

static void *client_worker(void *p)
{
    worker_arg *w = p;
    for (int i = 0; i < 20; i++) {
        ride_http_client_response res;
        char body[64];
        snprintf(body, sizeof body, "[%d]", i);
        if (call(w->f, "POST", "/echo", NULL, body, &res) != RIDE_HTTP_CLIENT_OK)
            continue;
        char expect[128];
        snprintf(expect, sizeof expect, "{\"echo\":[%d],", i);
        if (res.status == 201 && strncmp(res.body, expect, strlen(expect)) == 0)
            w->ok++;
        free(res.body);
    }
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    (void)state;
    fixture f;
    pthread_t threads[50];
    worker_arg args[50];
    start(&f, NULL);
    for (int i = 0; i < 50; i++) {
        args[i] = (worker_arg){.f = &f};
        assert_int_equal(pthread_create(&threads[i], NULL, client_worker, &args[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        pthread_join(threads[i], NULL);
        ok += args[i].ok;
    }
    assert_int_equal(ok, 50 * 20);
    stop(&f);
}

static void test_too_many_connections(void **state)
{
    (void)state;
    fixture f;
    ride_http_limits lim;
    char buf[1024];
    ride_http_limits_default(&lim);
    lim.max_connections = 2;
    start(&f, &lim);
    int a = raw_connect(&f), b = raw_connect(&f);
    /* Make sure both are accepted before the third arrives. */
    raw_send(a, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_send(b, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(raw_read(a, buf, sizeof buf, "hello\n", 3000) > 0);
    assert_true(raw_read(b, buf, sizeof buf, "hello\n", 3000) > 0);
    int c = raw_connect(&f);
    assert_true(raw_read(c, buf, sizeof buf, NULL, 3000) >= 0);
    assert_non_null(strstr(buf, "HTTP/1.1 503 "));
    close(a);
    close(b);
    close(c);
    assert_int_equal(ride_http_server_rejected(f.srv, RIDE_HTTP_REJECT_TOO_MANY_CONNECTIONS), 1);
    stop(&f);
}

static void test_stop_with_open_connections(void **state)
{
    (void)state;
    fixture f;
    char buf[1024];
    start(&f, NULL);
    int idle = raw_connect(&f);
    int partial = raw_connect(&f);
    int served = raw_connect(&f);
    raw_send(idle, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(raw_read(idle, buf, sizeof buf, "hello\n", 3000) > 0);
    raw_send(partial, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{");
    raw_send(served, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(raw_read(served, buf, sizeof buf, "hello\n", 3000) > 0);
    stop(&f);
    /* Every connection was closed by the server. */
    assert_int_equal(raw_read(idle, buf, sizeof buf, NULL, 3000), 0);
    assert_int_equal(raw_read(partial, buf, sizeof buf, NULL, 3000), 0);
    close(idle);
    close(partial);
    close(served);
}

typedef struct serve_arg {
    int listener;
    const char *answer;
    const char *extra;
} serve_arg;

/* Accepts one client, reads its request head, answers with canned bytes, closes. */
static void *serve_once(void *p)
{
    serve_arg *a = p;
    char buf[4096];
    int c = accept(a->listener, NULL, NULL);
    if (c < 0)
        return NULL;
    raw_read(c, buf, sizeof buf, "\r\n\r\n", 3000);
    send(c, a->answer, strlen(a->answer), MSG_NOSIGNAL);
    send(c, a->extra, strlen(a->extra), MSG_NOSIGNAL);
    close(c);
    return NULL;
}

static void test_client_errors(void **state)
{
    (void)state;
    char err[256];
    ride_http_client_response res;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));

    /* Bound but not listening: refused. */
    ride_http_client_request req = {.url = url, .timeout_ms = 2000};
    assert_int_equal(ride_http_client_do(&req, &res, err, sizeof err), RIDE_HTTP_CLIENT_REFUSED);
    assert_non_null(strstr(err, "refused"));
    assert_null(res.body);

    /* Listening but never answering: the deadline holds. */
    assert_int_equal(listen(s, 4), 0);
    req.timeout_ms = 200;
    int64_t t0 = ride_clock_mono_ms();
    assert_int_equal(ride_http_client_do(&req, &res, err, sizeof err), RIDE_HTTP_CLIENT_TIMEOUT);
    assert_true(ride_clock_mono_ms() - t0 < 1500);
    assert_non_null(strstr(err, "timed out"));

    /* A peer answering garbage, then one announcing a body over the limit. */
    static const char *const answers[] = {
        "SMTP ready\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    };
    static const int codes[] = {RIDE_HTTP_CLIENT_MALFORMED, RIDE_HTTP_CLIENT_TOO_LARGE,
                                RIDE_HTTP_CLIENT_TOO_LARGE, RIDE_HTTP_CLIENT_MALFORMED};
    /* A fresh listener, so the abandoned connection above is not the one answered. */
    close(s);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a.sin_port = 0;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
    assert_int_equal(listen(s, 4), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    req.timeout_ms = 3000;
    req.max_response_bytes = 1000;
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        char chunk[0x4001];
        memset(chunk, 'z', sizeof chunk - 1);
        chunk[sizeof chunk - 1] = '\0';
        /* Accept in a helper thread so the blocking client runs here. */
        serve_arg arg = {s, answers[i], i == 2 ? chunk : ""};
        pthread_t t;
        ride_http_client_response r2;
        assert_int_equal(pthread_create(&t, NULL, serve_once, &arg), 0);
        int rc = ride_http_client_do(&req, &r2, err, sizeof err);
        pthread_join(t, NULL);
        if (rc != codes[i])
            fail_msg("answer %zu: rc %d (%s)", i, rc, err);
    }
    close(s);

    req.url = "ftp://127.0.0.1/x";
    assert_int_equal(ride_http_client_do(&req, &res, err, sizeof err), RIDE_HTTP_CLIENT_BAD_URL);
    req.url = "http://127.0.0.1:99999/x";
    assert_int_equal(ride_http_client_do(&req, &res, err, sizeof err), RIDE_HTTP_CLIENT_BAD_URL);
    req.url = "http://127.0.0.1:80/x y";
    assert_int_equal(ride_http_client_do(&req, &res, err, sizeof err), RIDE_HTTP_CLIENT_BAD_URL);
    req.url = "http://127.0.0.1:80/x";
    req.token = "two words";
    assert_int_equal(ride_http_client_do(&req, &res, err, sizeof err), RIDE_HTTP_CLIENT_BAD_URL);
}

static void test_token_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/ride_http_XXXXXX", path[256], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/token", dir);
    static const struct {
        const char *content;
        const char *token;
    } cases[] = {
        {"abc123\n", "abc123"}, {"abc123\r\n\n", "abc123"}, {"", NULL},
        {"\n", NULL},           {"two words\n", NULL},      {"tab\tinside", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(cases[i].content, fp);
        fclose(fp);
        chmod(path, i == 0 ? 0644 : 0600);
        char *tok = ride_http_token_load(path, err, sizeof err);
        if (cases[i].token == NULL) {
            assert_null(tok);
            assert_non_null(strstr(err, path));
        } else {
            assert_non_null(tok);
            assert_string_equal(tok, cases[i].token);
            free(tok);
        }
    }
    unlink(path);
    assert_null(ride_http_token_load(path, err, sizeof err));
    rmdir(dir);
}

static void test_bad_config(void **state)
{
    (void)state;
    uv_loop_t loop;
    char err[256];
    uv_loop_init(&loop);
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:65536", "::1:80", "[::1]80",
                                      "host:80", ":80", "127.0.0.1:-1", "127.0.0.1:8x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(ride_http_server_new(&loop, bad[i], NULL, err, sizeof err));
        assert_non_null(strstr(err, "listen address"));
    }
    ride_http_server *srv = ride_http_server_new(&loop, "[::1]:0", NULL, err, sizeof err);
    assert_non_null(srv);
    assert_int_equal(ride_http_server_route(srv, "GET", "relative", false, text_handler, ""), -1);
    ride_http_server_free(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_post_query),
        cmocka_unit_test(test_404_405),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_malformed_then_serves),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_keepalive_pipelining_close),
        cmocka_unit_test(test_idle_and_slow_clients),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_too_many_connections),
        cmocka_unit_test(test_stop_with_open_connections),
        cmocka_unit_test(test_client_errors),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
