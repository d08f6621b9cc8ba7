/*
 * srccfg -- config readers for sources, as the host hands them out
 * (ragd_host.cfg_string and friends).  Pure: the fuzz targets and unit
 * tests link it as it is.
 *
 * Each reads cfg[key]: absent or null gives def; a value of another type
 * (or, for integers, outside min..max) is RAGD_EINVAL with "KEY: expected
 * ..." in err.  Returns RAGD_OK or RAGD_EINVAL.  A string is borrowed from
 * cfg.
 */
#ifndef RAGD_SRCCFG_H
#define RAGD_SRCCFG_H

#include <stddef.h>

#include <jansson.h>
#include <ragd/source.h>

int srccfg_string(const json_t *cfg, const char *key, const char *def, const char **out,
                  char *err, size_t errlen);
int srccfg_int(const json_t *cfg, const char *key, long long def, long long min, long long max,
               long long *out, char *err, size_t errlen);
int srccfg_number(const json_t *cfg, const char *key, double def, double *out, char *err,
                  size_t errlen);
int srccfg_bool(const json_t *cfg, const char *key, int def, int *out, char *err, size_t errlen);

#endif /* RAGD_SRCCFG_H */
