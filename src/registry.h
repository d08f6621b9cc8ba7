/*
 * registry -- where source types are found by name.  The only place in the
 * core that names the built-in sources (vector, kb, web).
 */
#ifndef RAGD_REGISTRY_H
#define RAGD_REGISTRY_H

#include <jansson.h>
#include <ragd/source.h>

#include "config.h"

/* The source type called name, or NULL when there is none. */
const ragd_source_type *registry_find(const char *name);

/* The source instances to run when the config lists none: vector and kb on
 * --db, and web on --web-url (disabled when there is no URL).  Returns a new
 * JSON array, or NULL on ENOMEM. */
json_t *registry_default_sources(const config *cfg);

/* Fill settings an instance left out from the global flags: "db" from --db,
 * and for web instances "url" from --web-url.  Returns 0 or -1 on ENOMEM. */
int registry_fill_defaults(json_t *instance, const config *cfg);

#endif /* RAGD_REGISTRY_H */
