/*
 * instance -- the configured source instances ragd serves: each one a
 * source type plus its own config, weight, deadline and host view.
 *
 * An instance set owns its instances; each instance owns its config object
 * and its source's self (freed with type->destroy).  A disabled instance is
 * listed (so responses can say "disabled") but never created.
 */
#ifndef RAGD_INSTANCE_H
#define RAGD_INSTANCE_H

#include <stddef.h>

#include <ragd/source.h>

#include "config.h"
#include "host.h"

#define INSTANCE_NAME_MAX 32

typedef struct instance {
    char name[INSTANCE_NAME_MAX + 1];
    const ragd_source_type *type;
    json_t *config;     /* owned */
    void *self;         /* the source's instance; NULL when disabled */
    int enabled;
    double weight;      /* fusion weight, >= 0 */
    int timeout_ms;     /* own deadline; 0 means the request's */
    size_t inflight;    /* searches whose callback has not run yet */
    host_ctx hctx;      /* what host.priv points at */
    ragd_host host;
} instance;

typedef struct instance_set {
    instance *v;
    size_t n;
} instance_set;

/* Create every instance the config lists (or the defaults), in order.
 * Returns 0, or -1 with a message naming the instance and the problem. */
int instance_set_load(instance_set *set, host_services *svc, const config *cfg, char *err,
                      size_t errlen);

/* The instance called name, or NULL. */
instance *instance_set_find(instance_set *set, const char *name);

/* Searches in flight across all instances. */
size_t instance_set_inflight(const instance_set *set);

/* Destroy every instance with no search in flight and free the set.  An
 * instance whose source never called back is leaked, not destroyed under
 * its own feet; returns how many were.  */
size_t instance_set_release(instance_set *set);

#endif /* RAGD_INSTANCE_H */
