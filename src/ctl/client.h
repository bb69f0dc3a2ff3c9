/* client.h - how ridectl reaches the control API (docs/control-api.md): finding
 * its URL (--server, or /cluster/api in ZooKeeper), one HTTP request per call,
 * and every failure turned into one line a person can act on. */
#ifndef RIDE_CTL_CLIENT_H
#define RIDE_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "args.h"

/* How long ridectl waits for a ZooKeeper session. */
#define RIDE_CTL_ZK_CONNECT_TIMEOUT_MS 5000

typedef struct ride_ctl_client {
    char *url;   /* the API's base URL without a trailing '/' */
    char *token; /* NULL: changes go without credentials (the master answers 401) */
    int timeout_ms;
} ride_ctl_client;

/* Finds the API (args->server, else args->zookeeper) and, when `for_change` and a
 * token file is given, loads the token. Returns 0, or -1 with err filled. */
int ride_ctl_client_open(const ride_ctl_args *args, bool for_change, ride_ctl_client *c,
                         char *err, size_t errlen);
void ride_ctl_client_close(ride_ctl_client *c);

typedef struct ride_ctl_call {
    const char *method;        /* "GET", "POST", "DELETE" */
    const char *path;          /* "/v1/apps", with its query */
    const char *body;          /* NULL: none */
    size_t body_len;
    const char *content_type;  /* NULL: application/json */
    const char *manifest_name; /* sent as X-Ride-Manifest-Name when not NULL */
} ride_ctl_call;

/* One request. Returns 0 with *answer the parsed JSON object of a 2xx answer
 * (json_decref it), or -1 with err filled. */
int ride_ctl_client_call(const ride_ctl_client *c, const ride_ctl_call *call, json_t **answer,
                         char *err, size_t errlen);

/* Formats a message into err; returns -1, so that a failure reads
 * `return ride_ctl_fail(err, errlen, "...", ...)`. */
int ride_ctl_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The message for an answer with a non-2xx status: the server's {"error": ...}
 * with the status, an explanation for 401, or a note that the body held none. */
void ride_ctl_http_error(int status, const char *body, size_t len, char *err, size_t errlen);

#endif
