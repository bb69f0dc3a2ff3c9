/* http_client.c - blocking HTTP/1.1 client: poll() deadlines, llhttp responses. */
#define _POSIX_C_SOURCE 200809L

#include "http/http_client.h"

#include "base/buffer.h"
#include "base/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <llhttp.h>

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_RESPONSE (16u << 20)
#define HOST_MAX 256
#define REQUEST_HEAD_MAX 8192

typedef struct parsed_url {
    char host[HOST_MAX];
    char port[6];
    const char *target; /* "/path?query" inside the caller's URL */
    bool ipv6;
} parsed_url;

typedef struct response_state {
    ride_buffer body;
    size_t max;
    bool too_large;
    bool no_memory;
    bool done;
    int status;
} response_state;

static int fail(char *err, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, int code, const char *fmt, ...)
{
    if (err != NULL && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int parse_url(const char *url, parsed_url *out)
{
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return -1;
    const char *host = url + sizeof scheme - 1;
    const char *host_end, *port;
    out->ipv6 = host[0] == '[';
    if (out->ipv6) {
        host++;
        host_end = strchr(host, ']');
        if (host_end == NULL)
            return -1;
        port = host_end + 1;
    } else {
        host_end = host + strcspn(host, ":/?#");
        port = host_end;
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len >= sizeof out->host)
        return -1;
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    const char *rest = port;
    if (*port == ':') {
        port++;
        size_t n = strspn(port, "0123456789");
        if (n == 0 || n >= sizeof out->port || strtol(port, NULL, 10) > 65535 ||
            strtol(port, NULL, 10) == 0)
            return -1;
        memcpy(out->port, port, n);
        out->port[n] = '\0';
        rest = port + n;
    } else {
        strcpy(out->port, "80");
    }
    if (*rest != '\0' && *rest != '/' && *rest != '?')
        return -1;
    out->target = rest;
    for (const char *c = rest; *c; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return -1;
    }
    return 0;
}

/* Waits for `events` on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - ride_clock_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (n > 0)
            return 1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static int connect_one(const struct addrinfo *ai, int64_t deadline, int *fd_out, char *err,
                       size_t err_len)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    if (fd < 0)
        return fail(err, err_len, RIDE_HTTP_CLIENT_IO, "socket: %s", strerror(errno));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return fail(err, err_len, e == ECONNREFUSED ? RIDE_HTTP_CLIENT_REFUSED : RIDE_HTTP_CLIENT_IO,
                    "connect: %s", strerror(e));
    }
    int ready = wait_fd(fd, POLLOUT, deadline);
    if (ready <= 0) {
        close(fd);
        return ready == 0 ? fail(err, err_len, RIDE_HTTP_CLIENT_TIMEOUT, "connect timed out")
                          : fail(err, err_len, RIDE_HTTP_CLIENT_IO, "poll: %s", strerror(errno));
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr != 0) {
        close(fd);
        return fail(err, err_len,
                    soerr == ECONNREFUSED ? RIDE_HTTP_CLIENT_REFUSED : RIDE_HTTP_CLIENT_IO,
                    "connect: %s", strerror(soerr));
    }
    *fd_out = fd;
    return RIDE_HTTP_CLIENT_OK;
}

static int connect_to(const parsed_url *u, int64_t deadline, int *fd, char *err,
                      size_t err_len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(u->host, u->port, &hints, &list);
    if (rc != 0)
        return fail(err, err_len, RIDE_HTTP_CLIENT_RESOLVE, "cannot resolve %s: %s", u->host,
                    gai_strerror(rc));
    rc = RIDE_HTTP_CLIENT_IO;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        rc = connect_one(ai, deadline, fd, err, err_len);
        if (rc == RIDE_HTTP_CLIENT_OK || rc == RIDE_HTTP_CLIENT_TIMEOUT)
            break;
    }
    freeaddrinfo(list);
    return rc;
}

static int send_all(int fd, const char *data, size_t len, int64_t deadline, char *err,
                    size_t err_len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int ready = wait_fd(fd, POLLOUT, deadline);
            if (ready == 0)
                return fail(err, err_len, RIDE_HTTP_CLIENT_TIMEOUT, "send timed out");
            if (ready < 0)
                return fail(err, err_len, RIDE_HTTP_CLIENT_IO, "poll: %s", strerror(errno));
            continue;
        }
        return fail(err, err_len, RIDE_HTTP_CLIENT_IO, "send: %s",
                    n < 0 ? strerror(errno) : "connection closed");
    }
    return RIDE_HTTP_CLIENT_OK;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    response_state *st = p->data;
    if (ride_buffer_append(&st->body, at, len, st->max) == 0)
        return 0;
    if (errno == EMSGSIZE)
        st->too_large = true;
    else
        st->no_memory = true;
    return -1;
}

static int on_headers_complete(llhttp_t *p)
{
    response_state *st = p->data;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > st->max) {
        st->too_large = true;
        return -1;
    }
    return 0;
}

/* Interim (1xx) responses are skipped; the first final one ends the exchange. */
static int on_message_complete(llhttp_t *p)
{
    response_state *st = p->data;
    int status = llhttp_get_status_code(p);
    if (status < 200) {
        ride_buffer_clear(&st->body);
        return 0;
    }
    st->status = status;
    st->done = true;
    return HPE_PAUSED;
}

static int parse_error(const response_state *st, const llhttp_t *p, char *err, size_t err_len)
{
    if (st->too_large)
        return fail(err, err_len, RIDE_HTTP_CLIENT_TOO_LARGE,
                    "response body larger than %zu bytes", st->max);
    if (st->no_memory)
        return fail(err, err_len, RIDE_HTTP_CLIENT_NO_MEMORY, "out of memory");
    return fail(err, err_len, RIDE_HTTP_CLIENT_MALFORMED, "malformed response: %s",
                llhttp_get_error_reason(p) ? llhttp_get_error_reason(p) : "truncated");
}

static int receive_response(int fd, response_state *st, int64_t deadline, char *err,
                            size_t err_len)
{
    llhttp_settings_t settings;
    llhttp_t parser;
    llhttp_settings_init(&settings);
    settings.on_body = on_body;
    settings.on_headers_complete = on_headers_complete;
    settings.on_message_complete = on_message_complete;
    llhttp_init(&parser, HTTP_RESPONSE, &settings);
    parser.data = st;
    char buf[16384];
    while (!st->done) {
        int ready = wait_fd(fd, POLLIN, deadline);
        if (ready == 0)
            return fail(err, err_len, RIDE_HTTP_CLIENT_TIMEOUT, "response timed out");
        if (ready < 0)
            return fail(err, err_len, RIDE_HTTP_CLIENT_IO, "poll: %s", strerror(errno));
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n < 0)
            return fail(err, err_len, RIDE_HTTP_CLIENT_IO, "recv: %s", strerror(errno));
        llhttp_errno_t e = n == 0 ? llhttp_finish(&parser)
                                  : llhttp_execute(&parser, buf, (size_t)n);
        if (e != HPE_OK && e != HPE_PAUSED)
            return parse_error(st, &parser, err, err_len);
        if (n == 0 && !st->done)
            return fail(err, err_len, RIDE_HTTP_CLIENT_MALFORMED,
                        "connection closed before a complete response");
    }
    return RIDE_HTTP_CLIENT_OK;
}

/* Joins the caller's "Name: value" lines, each ending in CRLF; -1 when a line lacks
 * a name or holds CR or LF (header injection), or when they do not fit. */
static int format_extra_headers(const char *const *headers, char *out, size_t len)
{
    size_t used = 0;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        const char *line = headers[i];
        const char *colon = strchr(line, ':');
        if (colon == NULL || colon == line || strpbrk(line, "\r\n") != NULL)
            return -1;
        int n = snprintf(out + used, len - used, "%s\r\n", line);
        if (n < 0 || (size_t)n >= len - used)
            return -1;
        used += (size_t)n;
    }
    return 0;
}

static int format_head(const ride_http_client_request *req, const parsed_url *u, char *head,
                       size_t len)
{
    const char *method = req->method ? req->method : "GET";
    char auth[REQUEST_HEAD_MAX / 2] = "";
    char body_headers[256] = "";
    char extra[REQUEST_HEAD_MAX / 4] = "";
    if (format_extra_headers(req->headers, extra, sizeof extra) != 0)
        return -1;
    if (req->token != NULL &&
        (size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", req->token) >=
            sizeof auth)
        return -1;
    if (req->body != NULL)
        snprintf(body_headers, sizeof body_headers,
                 "Content-Type: %s\r\nContent-Length: %zu\r\n",
                 req->content_type ? req->content_type : "application/json", req->body_len);
    int n = snprintf(head, len,
                     "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: ride\r\n"
                     "Accept: */*\r\nConnection: close\r\n%s%s%s\r\n",
                     method, u->target[0] == '/' ? u->target : "/", u->ipv6 ? "[" : "",
                     u->host, u->ipv6 ? "]" : "", u->port, auth, body_headers, extra);
    if (n < 0 || (size_t)n >= len)
        return -1;
    /* Header injection through any argument would otherwise go out verbatim. */
    for (const char *c = method; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || *c == '-'))
            return -1;
    }
    for (const char *c = req->token ? req->token : ""; *c; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return -1;
    }
    if (req->content_type != NULL && strpbrk(req->content_type, "\r\n") != NULL)
        return -1;
    return n;
}

int ride_http_client_do(const ride_http_client_request *req, ride_http_client_response *res,
                        char *err, size_t err_len)
{
    parsed_url u;
    char head[REQUEST_HEAD_MAX];
    if (res == NULL)
        return fail(err, err_len, RIDE_HTTP_CLIENT_BAD_URL, "no response given");
    res->status = 0;
    res->body = NULL;
    res->body_len = 0;
    if (req == NULL || req->url == NULL || parse_url(req->url, &u) != 0)
        return fail(err, err_len, RIDE_HTTP_CLIENT_BAD_URL,
                    "invalid URL \"%s\" (expected http://HOST:PORT/PATH)",
                    req && req->url ? req->url : "(null)");
    int head_len = format_head(req, &u, head, sizeof head);
    if (head_len < 0)
        return fail(err, err_len, RIDE_HTTP_CLIENT_BAD_URL,
                    "invalid method, token, content type or header");
    int64_t deadline = ride_clock_mono_ms() + (req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
    int fd = -1;
    int rc = connect_to(&u, deadline, &fd, err, err_len);
    if (rc != RIDE_HTTP_CLIENT_OK)
        return rc;
    response_state st = {.max = req->max_response_bytes ? req->max_response_bytes
                                                         : DEFAULT_MAX_RESPONSE};
    rc = send_all(fd, head, (size_t)head_len, deadline, err, err_len);
    if (rc == RIDE_HTTP_CLIENT_OK && req->body != NULL)
        rc = send_all(fd, req->body, req->body_len, deadline, err, err_len);
    /* A server refusing the request (413) may close before the body is all sent;
     * its answer is still worth reading. */
    if (rc == RIDE_HTTP_CLIENT_OK || rc == RIDE_HTTP_CLIENT_IO) {
        int send_rc = rc;
        rc = receive_response(fd, &st, deadline, err, err_len);
        if (rc != RIDE_HTTP_CLIENT_OK && send_rc != RIDE_HTTP_CLIENT_OK)
            rc = send_rc;
    }
    close(fd);
    /* Appending nothing allocates an empty body: the caller always gets a string. */
    if (rc == RIDE_HTTP_CLIENT_OK && ride_buffer_append(&st.body, "", 0, st.max) != 0)
        rc = fail(err, err_len, RIDE_HTTP_CLIENT_NO_MEMORY, "out of memory");
    if (rc != RIDE_HTTP_CLIENT_OK) {
        ride_buffer_free(&st.body);
        return rc;
    }
    res->status = st.status;
    res->body = st.body.data;
    res->body_len = st.body.len;
    return RIDE_HTTP_CLIENT_OK;
}
