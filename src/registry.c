/*
 * registry -- the built-in source types and the default instance list.
 */
#include <string.h>

#include "registry.h"

const ragd_source_type *ragd_source_vector(void);
const ragd_source_type *ragd_source_kb(void);
const ragd_source_type *ragd_source_web(void);

static const ragd_source_type *(*const registry_builtins[])(void) = {
    ragd_source_vector,
    ragd_source_kb,
    ragd_source_web,
};

const ragd_source_type *registry_find(const char *name)
{
    for (size_t i = 0; i < sizeof registry_builtins / sizeof *registry_builtins; i++) {
        const ragd_source_type *t = registry_builtins[i]();
        if (strcmp(t->name, name) == 0)
            return t;
    }
    return NULL;
}

json_t *registry_default_sources(const config *cfg)
{
    return json_pack("[{ss ss} {ss ss} {ss ss sb}]",
                     "name", "vector", "type", "vector",
                     "name", "kb", "type", "kb",
                     "name", "web", "type", "web", "enabled", cfg->web_url != NULL);
}

int registry_fill_defaults(json_t *instance, const config *cfg)
{
    const char *type = json_string_value(json_object_get(instance, "type"));

    if (cfg->db && !json_object_get(instance, "db") &&
        json_object_set_new(instance, "db", json_string(cfg->db)) != 0)
        return -1;
    if (type && strcmp(type, "web") == 0 && cfg->web_url && !json_object_get(instance, "url") &&
        json_object_set_new(instance, "url", json_string(cfg->web_url)) != 0)
        return -1;
    return 0;
}
