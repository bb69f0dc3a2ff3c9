/* Every input is parsed as a manifest and as the config of one daemon (chosen by
 * the input's length, so that plain YAML seeds reach every config schema). A
 * manifest that parses must also satisfy the invariants its users rely on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/config.h"
#include "spec/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int condition)
{
    if (!condition)
        abort();
}

static void check_topology(const ride_manifest *m)
{
    size_t *position = calloc(m->stage_count, sizeof *position);
    require(position != NULL);
    for (size_t i = 0; i < m->stage_count; i++) {
        require(m->order[i] < m->stage_count);
        position[m->order[i]] = i + 1;
    }
    for (size_t s = 0; s < m->stage_count; s++) {
        const ride_stage *st = &m->stages[s];
        require(position[s] != 0 && ride_name_valid(st->name));
        require(st->input_count > 0 && st->partitions >= 1 && st->workers.max >= 1);
        require(st->workers.max >= st->workers.min);
        for (size_t i = 0; i < st->input_count; i++) {
            const ride_stage_input *in = &st->inputs[i];
            if (in->is_stage)
                require(in->index < m->stage_count && position[in->index] < position[s]);
            else
                require(in->index < m->source_count &&
                        strcmp(m->sources[in->index].name, in->name) == 0);
        }
    }
    free(position);
    require(m->source_count > 0 && m->sink.stage < m->stage_count);
    require((m->sink.type == RIDE_SINK_KAFKA) == (m->sink.topic != NULL));
    require((m->sink.type == RIDE_SINK_FILES) == (m->sink.path != NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[1024];
    ride_parse_error err;
    ride_manifest m;
    if (ride_manifest_parse("fuzz.yaml", data, size, &m, &err) == 0) {
        check_topology(&m);
        ride_manifest_free(&m);
    } else {
        require(m.arena == NULL);
        ride_parse_error_format(&err, msg, sizeof msg);
    }

    ride_config cfg;
    if (ride_config_parse((ride_daemon)(size % 3), "fuzz.yaml", data, size, &cfg, &err) == 0) {
        require(cfg.zookeeper.connect != NULL);
        ride_config_free(&cfg);
    } else {
        require(cfg.arena == NULL);
        ride_parse_error_format(&err, msg, sizeof msg);
    }
    return 0;
}
