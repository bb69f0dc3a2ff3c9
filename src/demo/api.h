/* api.h - the few control API calls the demo makes (docs/control-api.md), with
 * every answer validated before use. */
#ifndef RIDE_DEMO_API_H
#define RIDE_DEMO_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"

/* One row of GET /v1/partitions; offsets are -1 where the API says null. */
typedef struct demo_partition {
    char stage[64];
    int partition;
    char owner[RIDE_MEMBER_ID_MAX + 1]; /* "" when unowned */
    int64_t end_offset;
    int64_t committed;
} demo_partition;

#define DEMO_PARTITIONS_MAX 256

/* GET base+path answered 200 with a JSON object: returns it (json_decref), else
 * NULL with the reason in err. */
json_t *demo_api_get(const char *base, const char *path, char *err, size_t errlen);
/* POST /v1/apps with the manifest text; 0 with the result ("created", ...) in
 * result, or -1 with the API's error in err. */
int demo_api_apply(const char *base, const char *token, const char *yaml, size_t len,
                   char *result, size_t resultlen, char *err, size_t errlen);
/* The partitions of app: fills up to DEMO_PARTITIONS_MAX rows of out, returns how
 * many, or -1 with err filled. */
int demo_api_partitions(const char *base, const char *app, demo_partition *out, char *err,
                        size_t errlen);

#endif
