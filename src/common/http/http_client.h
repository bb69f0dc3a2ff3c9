/* http/http_client.h - a blocking HTTP/1.1 client for ridectl and tests.
 *
 * One request per connection (it sends "Connection: close"), plain sockets with
 * poll(): no event loop needed, safe to call from any number of threads at once. */
#ifndef RIDE_HTTP_CLIENT_H
#define RIDE_HTTP_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ride_http_client_error {
    RIDE_HTTP_CLIENT_OK = 0,
    RIDE_HTTP_CLIENT_BAD_URL = -1,       /* not http://HOST:PORT/PATH, or a bad argument */
    RIDE_HTTP_CLIENT_RESOLVE = -2,       /* the host name does not resolve */
    RIDE_HTTP_CLIENT_REFUSED = -3,       /* connection refused */
    RIDE_HTTP_CLIENT_TIMEOUT = -4,       /* the deadline passed */
    RIDE_HTTP_CLIENT_IO = -5,            /* any other socket error, or closed early */
    RIDE_HTTP_CLIENT_MALFORMED = -6,     /* the response is not valid HTTP */
    RIDE_HTTP_CLIENT_TOO_LARGE = -7,     /* the response body exceeds max_response_bytes */
    RIDE_HTTP_CLIENT_NO_MEMORY = -8,
} ride_http_client_error;

typedef struct ride_http_client_request {
    const char *url;           /* "http://127.0.0.1:7480/apps?x=1", "http://[::1]:80/" */
    const char *method;        /* NULL: GET */
    const char *token;         /* NULL: no Authorization header; else "Bearer <token>" */
    const char *body;          /* NULL: no body */
    size_t body_len;
    const char *content_type;  /* sent with a body; NULL: application/json */
    int timeout_ms;            /* whole exchange, connect included; <= 0: 10 s */
    size_t max_response_bytes; /* 0: 16 MiB */
    /* NULL, or a NULL-terminated list of extra "Name: value" header lines (no CR or LF). */
    const char *const *headers;
} ride_http_client_request;

typedef struct ride_http_client_response {
    int status;
    char *body; /* malloc'd, NUL-terminated (may hold NULs); free() it */
    size_t body_len;
} ride_http_client_response;

/* Performs the request. Returns RIDE_HTTP_CLIENT_OK with any HTTP status in
 * res->status, or a negative ride_http_client_error with a message in err (and
 * res->body NULL). Host names are resolved with getaddrinfo outside the deadline. */
int ride_http_client_do(const ride_http_client_request *req, ride_http_client_response *res,
                        char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
