/*
 * registry -- where source types are found by name: the built-in ones, and
 * plugins loaded with dlopen().  The only place in the core that names the
 * built-in sources (vector, kb, web).
 *
 * A plugin is a shared object exporting RAGD_SOURCE_ENTRY (see
 * <ragd/source.h>).  Loaded plugins stay loaded until registry_unload_all.
 */
#ifndef RAGD_REGISTRY_H
#define RAGD_REGISTRY_H

#include <jansson.h>
#include <ragd/source.h>

#include "config.h"

/* Find the source type named by type: a built-in name; a path to a shared
 * object (when type contains '/'); or NAME, loaded from
 * plugin_dir/NAME.so.  Returns 0 with the type in *out, or -1 with a
 * message naming the plugin and the problem (cannot load, no entry point,
 * ABI version mismatch, incomplete table). */
int registry_find(const char *type, const char *plugin_dir, const ragd_source_type **out,
                  char *err, size_t errlen);

/* Unload every plugin.  Only when no instance of any of them is left. */
void registry_unload_all(void);

/* The source instances to run when the config lists none: vector and kb on
 * --db or --store, and web on --web-url (disabled when there is no URL).  embedder is
 * the store's query embedder: with the lexical "hash" stand-in the vector
 * source's fusion weight is 0, because on SciFact's training split every
 * weight above 0 lowered fused nDCG@10 (bench/tune-weights).  Returns a new
 * JSON array, or NULL on ENOMEM. */
json_t *registry_default_sources(const config *cfg, const char *embedder);

/* Fill settings an instance left out from the global flags: "db" from --db,
 * and for web instances "url" from --web-url.  Returns 0 or -1 on ENOMEM. */
int registry_fill_defaults(json_t *instance, const config *cfg);

#endif /* RAGD_REGISTRY_H */
