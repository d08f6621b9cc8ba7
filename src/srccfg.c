/*
 * srccfg -- the readers a source's create() uses for its JSON config (see
 * the cfg_* entries of ragd_host in <ragd/source.h>): a missing or null key
 * takes its default, a wrong type or range is an error naming the key.
 */
#include <stdio.h>

#include "srccfg.h"

int srccfg_string(const json_t *cfg, const char *key, const char *def, const char **out,
                  char *err, size_t errlen)
{
    json_t *v = json_object_get(cfg, key);

    if (!v || json_is_null(v)) {
        *out = def;
        return RAGD_OK;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s: expected a string", key);
        return RAGD_EINVAL;
    }
    *out = json_string_value(v);
    return RAGD_OK;
}

int srccfg_int(const json_t *cfg, const char *key, long long def, long long min,
               long long max, long long *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(cfg, key);

    if (!v || json_is_null(v)) {
        *out = def;
        return RAGD_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(err, errlen, "%s: expected an integer from %lld to %lld", key, min, max);
        return RAGD_EINVAL;
    }
    *out = json_integer_value(v);
    return RAGD_OK;
}

int srccfg_number(const json_t *cfg, const char *key, double def, double *out, char *err,
                  size_t errlen)
{
    json_t *v = json_object_get(cfg, key);

    if (!v || json_is_null(v)) {
        *out = def;
        return RAGD_OK;
    }
    if (!json_is_number(v)) {
        snprintf(err, errlen, "%s: expected a number", key);
        return RAGD_EINVAL;
    }
    *out = json_number_value(v);
    return RAGD_OK;
}

int srccfg_bool(const json_t *cfg, const char *key, int def, int *out, char *err,
                size_t errlen)
{
    json_t *v = json_object_get(cfg, key);

    if (!v || json_is_null(v)) {
        *out = def;
        return RAGD_OK;
    }
    if (!json_is_boolean(v)) {
        snprintf(err, errlen, "%s: expected true or false", key);
        return RAGD_EINVAL;
    }
    *out = json_is_true(v);
    return RAGD_OK;
}
