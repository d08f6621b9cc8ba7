/*
 * instance -- load, look up and release source instances.
 *
 * Retired instances (out of their set, still held by a search) sit on one
 * list on the loop thread until instance_reap finds them unreferenced.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "log.h"
#include "registry.h"

static instance *instance_retired;

static int instance_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > INSTANCE_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* Read the integer key (absent: *out unchanged) in lo..hi. */
static int instance_int(instance *in, const char *key, int64_t lo, int64_t hi, int64_t *out,
                        char *err, size_t errlen)
{
    json_t *v = json_object_get(in->config, key);

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errlen, "source %s: %s: expected an integer from %lld to %lld", in->name,
                 key, (long long)lo, (long long)hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* The circuit breaker's keys: breaker_failures (0 turns it off),
 * breaker_open_ms, breaker_max_open_ms. */
static int instance_breaker(instance *in, const config *cfg, char *err, size_t errlen)
{
    int64_t failures = cfg->breaker_failures, open_ms = BREAKER_DEFAULT_OPEN_MS,
            max_ms = BREAKER_DEFAULT_MAX_OPEN_MS;

    if (instance_int(in, "breaker_failures", 0, 1000, &failures, err, errlen) ||
        instance_int(in, "breaker_open_ms", 1, BREAKER_MAX_MS, &open_ms, err, errlen) ||
        instance_int(in, "breaker_max_open_ms", 1, BREAKER_MAX_MS, &max_ms, err, errlen))
        return -1;
    if (max_ms < open_ms) {
        if (json_object_get(in->config, "breaker_max_open_ms")) {
            snprintf(err, errlen, "source %s: breaker_max_open_ms: must be at least "
                     "breaker_open_ms", in->name);
            return -1;
        }
        max_ms = open_ms;
    }
    breaker_init(&in->brk, in->name, (int)failures, open_ms, max_ms);
    return 0;
}

/* The hedging keys: hedge_share (0 turns it off), hedge_floor_ms. */
static int instance_hedge(instance *in, const config *cfg, char *err, size_t errlen)
{
    json_t *v = json_object_get(in->config, "hedge_share");
    double share = cfg->hedge_share;
    int64_t floor_ms = HEDGE_DEFAULT_FLOOR_MS;

    if (v && (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)) {
        snprintf(err, errlen, "source %s: hedge_share: expected a number from 0 to 1", in->name);
        return -1;
    }
    if (v)
        share = json_number_value(v);
    if (instance_int(in, "hedge_floor_ms", 0, CONFIG_MAX_TIMEOUT_MS, &floor_ms, err, errlen))
        return -1;
    hedge_init(&in->hg, in->name, share, floor_ms);
    return 0;
}

/* Read the keys every instance has, whatever its type. */
static int instance_common(instance *in, instance_set *set, size_t idx, const config *cfg,
                           char *err, size_t errlen)
{
    json_t *c = in->config, *v;
    char why[768];
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *type = json_string_value(json_object_get(c, "type"));

    if (!name || !instance_name_ok(name)) {
        snprintf(err, errlen, "sources[%zu].name: expected 1-%d letters, digits, '_' or '-'",
                 idx, INSTANCE_NAME_MAX);
        return -1;
    }
    if (instance_set_find(set, name)) {
        snprintf(err, errlen, "sources[%zu].name: \"%s\" is used twice", idx, name);
        return -1;
    }
    snprintf(in->name, sizeof in->name, "%s", name);
    if (!type) {
        snprintf(err, errlen, "source %s: type: required", name);
        return -1;
    }
    if (registry_find(type, cfg->plugin_dir, &in->type, why, sizeof why) != 0) {
        snprintf(err, errlen, "source %s: %s", name, why);
        return -1;
    }
    in->enabled = 1;
    in->weight = 1.0;
    if ((v = json_object_get(c, "enabled")) && !json_is_boolean(v)) {
        snprintf(err, errlen, "source %s: enabled: expected true or false", name);
        return -1;
    }
    if (v)
        in->enabled = json_is_true(v);
    if ((v = json_object_get(c, "weight")) && (!json_is_number(v) || json_number_value(v) < 0)) {
        snprintf(err, errlen, "source %s: weight: expected a number >= 0", name);
        return -1;
    }
    if (v)
        in->weight = json_number_value(v);
    if ((v = json_object_get(c, "timeout_ms")) &&
        (!json_is_integer(v) || json_integer_value(v) < 1 ||
         json_integer_value(v) > CONFIG_MAX_TIMEOUT_MS)) {
        snprintf(err, errlen, "source %s: timeout_ms: expected an integer from 1 to %d", name,
                 CONFIG_MAX_TIMEOUT_MS);
        return -1;
    }
    if (v)
        in->timeout_ms = (int)json_integer_value(v);
    if (instance_hedge(in, cfg, err, errlen) != 0)
        return -1;
    return instance_breaker(in, cfg, err, errlen);
}

static int instance_create(instance *in, host_services *svc, char *err, size_t errlen)
{
    char why[512] = "";

    in->hctx.svc = svc;
    in->hctx.name = in->name;
    in->hctx.hg = &in->hg;
    host_init(&in->host, &in->hctx);
    breaker_export(&in->brk);
    if (!in->enabled)
        return 0;
    if (in->type->create(&in->host, in->name, in->config, &in->self, why, sizeof why) != RAGD_OK) {
        snprintf(err, errlen, "source %s (%s): %s", in->name, in->type->name,
                 why[0] ? why : "failed to start");
        return -1;
    }
    return 0;
}

/* Whether a and b configure the same source, apart from the keys a reload
 * may change in place (those the source itself never reads). */
static int instance_same(const json_t *a, const json_t *b)
{
    static const char *const live[] = {"weight", "timeout_ms"};
    json_t *x = json_copy((json_t *)a), *y = json_copy((json_t *)b);
    int same;

    for (size_t i = 0; x && y && i < sizeof live / sizeof *live; i++) {
        json_object_del(x, live[i]);
        json_object_del(y, live[i]);
    }
    same = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

/* The instance of old that the parsed candidate in can stay, or NULL.
 * Its weight and deadline are to take in's values, but only once the
 * reload commits (instance_set_commit): until then searches on every loop
 * go on reading the old ones, and a reload that fails leaves them. */
static instance *instance_keep(const instance_set *old, instance *in)
{
    instance *o = old ? instance_set_find((instance_set *)old, in->name) : NULL;

    if (!o || o->type != in->type || o->enabled != in->enabled ||
        !instance_same(o->config, in->config))
        return NULL;
    o->next.weight = in->weight;
    o->next.timeout_ms = in->timeout_ms;
    o->next.timeout_given = json_object_get(in->config, "timeout_ms") != NULL;
    instance_ref(o);
    o->sets++;
    return o;
}

void instance_set_commit(instance_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        instance *in = set->v[i];
        if (in->sets < 2) /* made by this reload, not kept from the last */
            continue;
        in->weight = in->next.weight;
        in->timeout_ms = in->next.timeout_ms;
        json_object_set_new(in->config, "weight", json_real(in->weight));
        if (in->next.timeout_given)
            json_object_set_new(in->config, "timeout_ms", json_integer(in->timeout_ms));
        else
            json_object_del(in->config, "timeout_ms");
    }
}

int instance_set_load(instance_set *set, host_services *svc, const config *cfg, char *err,
                      size_t errlen)
{
    return instance_set_reload(set, NULL, svc, cfg, err, errlen);
}

int instance_set_reload(instance_set *set, const instance_set *old, host_services *svc,
                        const config *cfg, char *err, size_t errlen)
{
    json_t *list = cfg->sources ? json_incref(cfg->sources) : registry_default_sources(cfg, svc->embedder);
    size_t i;
    json_t *item;
    int rc = -1;

    memset(set, 0, sizeof *set);
    if (!list || !(set->v = calloc(json_array_size(list) + 1, sizeof *set->v))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    json_array_foreach(list, i, item) {
        instance *in, *kept;
        if (!json_is_object(item)) {
            snprintf(err, errlen, "sources[%zu]: expected an object", i);
            goto done;
        }
        if (!(in = calloc(1, sizeof *in)) || !(in->config = json_deep_copy(item)) ||
            registry_fill_defaults(in->config, cfg) != 0) {
            if (in)
                json_decref(in->config);
            free(in);
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        if (instance_common(in, set, i, cfg, err, errlen) != 0) {
            json_decref(in->config);
            free(in);
            goto done;
        }
        if ((kept = instance_keep(old, in))) {
            json_decref(in->config);
            free(in);
            set->v[set->n++] = kept;
            continue;
        }
        in->refs = 1;
        in->sets = 1;
        set->v[set->n++] = in;
        if (instance_create(in, svc, err, errlen) != 0)
            goto done;
    }
    rc = 0;
done:
    json_decref(list);
    return rc;
}

instance *instance_set_find(instance_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i]->name, name) == 0)
            return set->v[i];
    return NULL;
}

const instance *instance_set_single_loop(const instance_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        const instance *in = set->v[i];
        if (in->enabled &&
            (in->type->abi_version < 3 || !(in->type->flags & RAGD_SOURCE_LOOPS)))
            return in;
    }
    return NULL;
}

size_t instance_set_inflight(const instance_set *set)
{
    size_t n = 0;

    for (size_t i = 0; i < set->n; i++)
        n += set->v[i]->inflight;
    return n;
}

static void instance_destroy(instance *in)
{
    assert(in->refs == 0 && in->inflight == 0);
    if (in->self)
        in->type->destroy(in->self);
    json_decref(in->config);
    free(in);
}

void instance_ref(instance *in)
{
    in->refs++;
}

void instance_unref(instance *in)
{
    assert(in->refs > 0);
    in->refs--;
}

void instance_set_release(instance_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        instance *in = set->v[i];
        assert(in->sets > 0);
        in->sets--;
        instance_unref(in);
        if (in->refs == 0) {
            instance_destroy(in);
        } else if (in->sets == 0) {
            in->next_retired = instance_retired;
            instance_retired = in;
        }
    }
    free(set->v);
    memset(set, 0, sizeof *set);
}

size_t instance_reap(int warn)
{
    size_t held = 0;

    for (instance **pp = &instance_retired; *pp; ) {
        instance *in = *pp;
        if (in->refs == 0) {
            *pp = in->next_retired;
            instance_destroy(in);
            continue;
        }
        if (warn)
            log_msg(LOG_WARN, "source %s: %zu searches never called back; not destroying it",
                    in->name, in->inflight);
        held++;
        pp = &in->next_retired;
    }
    return held;
}
