/*
 * instance -- the configured source instances ragd serves: each one a
 * source type plus its own config, weight, deadline and host view.
 *
 * Instances are reference-counted: the set holds one reference, and so does
 * every search slot that uses the instance (fanout.c), from the moment it
 * asks the instance until the source has called back.  Releasing the set
 * therefore never frees an instance a late callback still needs: such an
 * instance is retired, and instance_reap destroys it once its last
 * reference is gone.  An instance owns its config object and its source's
 * self (freed with type->destroy) and its circuit breaker.  A disabled instance is listed (so
 * responses can say "disabled") but never created.
 */
#ifndef RAGD_INSTANCE_H
#define RAGD_INSTANCE_H

#include <stdatomic.h>
#include <stddef.h>

#include <ragd/source.h>

#include "breaker.h"
#include "config.h"
#include "host.h"
#include "log.h"

#define INSTANCE_NAME_MAX 32

typedef struct instance {
    char name[INSTANCE_NAME_MAX + 1];
    const ragd_source_type *type;
    json_t *config;     /* owned */
    void *self;         /* the source's instance; NULL when disabled */
    int enabled;
    double weight;      /* fusion weight, >= 0 */
    int timeout_ms;     /* own deadline; 0 means the request's */
    atomic_size_t inflight; /* searches whose callback has not run yet (any loop) */
    atomic_uint refs;   /* its sets', plus one per search slot holding it */
    unsigned sets;      /* sets listing it (two while a reload keeps it); changed
                         * only while the other loops are parked (serve.c) */
    breaker brk;        /* whether it may be asked now (fanout.c) */
    struct {            /* what a reload that keeps it will set (instance_keep) */
        double weight;
        int timeout_ms;
        int timeout_given;
    } next;
    hedge hg;           /* hedging of its HTTP requests (host.c) */
    log_limit fixlog;   /* fanout's warnings about its broken answers (any loop) */
    host_ctx hctx;      /* what host.priv points at */
    ragd_host host;
    struct instance *next_retired;  /* on the retired list once out of its set */
} instance;

typedef struct instance_set {
    instance **v;       /* owned references */
    size_t n;
} instance_set;

/* Create every instance the config lists (or the defaults), in order.
 * Returns 0, or -1 with a message naming the instance and the problem. */
int instance_set_load(instance_set *set, host_services *svc, const config *cfg, char *err,
                      size_t errlen);

/* The same for a config reload: an instance of old whose config is
 * unchanged, apart from its weight and timeout_ms, is kept (one more
 * reference, same source, same breaker), those two to change when the
 * reload commits (instance_set_commit); the others are created anew.  old
 * is not changed otherwise, so searches may go on using it; on failure
 * set holds what was made so far, for instance_set_release. */
int instance_set_reload(instance_set *set, const instance_set *old, host_services *svc,
                        const config *cfg, char *err, size_t errlen);

/* A reload commits: each instance set kept from the running set (listed
 * by both) takes the weight and timeout_ms of the new config.  Main loop,
 * with the other loops parked. */
void instance_set_commit(instance_set *set);

/* The instance called name, or NULL. */
instance *instance_set_find(instance_set *set, const char *name);

/* The first enabled instance whose source may not serve on several event
 * loops (it lacks RAGD_SOURCE_LOOPS: a plugin built for source ABI 1 or
 * 2, or one that does not declare it), or NULL when all may. */
const instance *instance_set_single_loop(const instance_set *set);

/* Searches in flight across all instances. */
size_t instance_set_inflight(const instance_set *set);

/* Take and drop a reference.  Dropping the last one never destroys the
 * instance on the spot (the caller may be inside the source's own
 * callback): a retired instance waits for instance_reap. */
void instance_ref(instance *in);
void instance_unref(instance *in);

/* Drop the set's references and free the set: an instance nobody else
 * holds is destroyed now, one still held by a search is retired. */
void instance_set_release(instance_set *set);

/* Destroy every retired instance that no search holds any more.  Returns
 * how many retired instances are still held (searches in flight, or at
 * shutdown a source that never called back): those are left alone, not
 * destroyed under their own feet, and named in the log when warn. */
size_t instance_reap(int warn);

#endif /* RAGD_INSTANCE_H */
