/*
 * registry -- built-in source types, plugins, and the default instances.
 *
 * Loading is strict and explains itself: whatever is wrong with a plugin
 * stops startup with a message that names the file and the problem, because
 * a misconfigured source silently missing from every answer is worse.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Every dlopen() handle, so they can be closed at exit. */
typedef struct registry_plugin {
    void *handle;
    struct registry_plugin *next;
} registry_plugin;

static registry_plugin *registry_plugins;

static const ragd_source_type *registry_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof registry_builtins / sizeof *registry_builtins; i++) {
        const ragd_source_type *t = registry_builtins[i]();
        if (strcmp(t->name, name) == 0)
            return t;
    }
    return NULL;
}

/* Check what a plugin's entry point returned. */
static int registry_check(const char *path, const ragd_source_type *t, char *err, size_t errlen)
{
    if (!t) {
        snprintf(err, errlen, "plugin %s: " RAGD_SOURCE_ENTRY "() returned NULL", path);
        return -1;
    }
    /* Version 2 only appended to version 1's structs and version 3 changed
     * none, so older plugins still work; fanout.c reads flags only from
     * version 2, and registry_loops_ok the loops flag only from 3. */
    if (t->abi_version < 1 || t->abi_version > RAGD_SOURCE_ABI_VERSION) {
        snprintf(err, errlen,
                 "plugin %s: built for source ABI version %d, but this ragd speaks version %d "
                 "(and loads versions 1 and 2); rebuild it against this ragd's <ragd/source.h>",
                 path, t->abi_version, RAGD_SOURCE_ABI_VERSION);
        return -1;
    }
    if (!t->name || !t->create || !t->search || !t->destroy) {
        snprintf(err, errlen,
                 "plugin %s: incomplete source table (name, create, search and destroy are required)",
                 path);
        return -1;
    }
    return 0;
}

static int registry_load(const char *path, const ragd_source_type **out, char *err, size_t errlen)
{
    registry_plugin *p;
    ragd_source_entry_fn entry;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

    if (!h) {
        snprintf(err, errlen, "plugin %s: cannot load: %s", path, dlerror());
        return -1;
    }
    *(void **)&entry = dlsym(h, RAGD_SOURCE_ENTRY);
    if (!entry) {
        snprintf(err, errlen, "plugin %s: no " RAGD_SOURCE_ENTRY "() entry point; "
                 "is it a ragd source plugin?", path);
        dlclose(h);
        return -1;
    }
    if (registry_check(path, *out = entry(), err, errlen) != 0 || !(p = malloc(sizeof *p))) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        dlclose(h);
        return -1;
    }
    p->handle = h;
    p->next = registry_plugins;
    registry_plugins = p;
    return 0;
}

int registry_find(const char *type, const char *plugin_dir, const ragd_source_type **out,
                  char *err, size_t errlen)
{
    char path[4096];

    err[0] = '\0';
    if (strchr(type, '/'))
        return registry_load(type, out, err, errlen);
    if ((*out = registry_builtin(type)))
        return 0;
    if (plugin_dir && *plugin_dir) {
        snprintf(path, sizeof path, "%s/%s.so", plugin_dir, type);
        return registry_load(path, out, err, errlen);
    }
    snprintf(err, errlen, "unknown type \"%s\" (built in: vector, kb, web; or a plugin path)",
             type);
    return -1;
}

void registry_unload_all(void)
{
    while (registry_plugins) {
        registry_plugin *p = registry_plugins;
        registry_plugins = p->next;
        dlclose(p->handle);
        free(p);
    }
}

json_t *registry_default_sources(const config *cfg, const char *embedder)
{
    return json_pack("[{ss ss sf} {ss ss} {ss ss sb}]",
                     "name", "vector", "type", "vector", "weight",
                     strcmp(embedder, "hash") == 0 ? 0.0 : 1.0,
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
