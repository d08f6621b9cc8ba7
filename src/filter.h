/*
 * filter -- metadata filters: a search's "filter" object parsed into a
 * typed tree, and that tree evaluated against one document.
 *
 * A filter is an object of conditions, all of which must hold.  A
 * condition's key names a metadata field ("a.b" reaches nested objects;
 * "id" is the document id) and its value is either a literal (equality) or
 * an object of operators: $eq $ne $in $nin $gt $gte $lt $lte.  "$and" and
 * "$or" take arrays of such objects.  Matching rules:
 *  - values of different JSON types never compare equal or ordered (no
 *    coercion: 2015 is not "2015"); integers and reals are one type;
 *  - a missing key never matches $eq, $in or a range, and matches $ne and
 *    $nin ($ne is "not $eq", $nin "not $in");
 *  - a metadata array matches $eq, $in and the ranges when any element
 *    does (so $ne and $nin only when none does);
 *  - ranges order numbers, or strings bytewise.
 * The rules are pinned by one table of cases, tests/unit/filter_cases.h,
 * that every engine applying filters runs.
 *
 * Pure: no I/O, no globals; a parsed filter is immutable and may be
 * evaluated from any thread at once.  A search shares its filter with each
 * source asked, for as long as that source's search runs, hence the
 * reference count.
 */
#ifndef RAGD_FILTER_H
#define RAGD_FILTER_H

#include <stddef.h>

#include <jansson.h>

/* Limits on what a client can make us build: conditions plus $in/$nin
 * values, and the nesting of $and/$or. */
#define FILTER_MAX_TERMS 1024
#define FILTER_MAX_DEPTH 16

/* The ABI's ragd_filter (include/ragd/source.h) is this type, so a source
 * gets the parsed filter as it is. */
typedef struct ragd_filter filter;

/* Parse spec (the request's "filter" value).  Returns 0 with *out (one
 * reference: drop it with filter_free; it holds its own reference to spec, which must not be
 * changed afterwards), or -1 with err naming the path inside the filter,
 * e.g. "filter.year.$gte: expected a number or string". */
int filter_parse(json_t *spec, filter **out, char *err, size_t errlen);

/* The JSON the filter was parsed from (borrowed from f). */
const json_t *filter_json(const filter *f);

/* Whether the document id with metadata (an object, or NULL for none)
 * satisfies f: 1 or 0. */
int filter_match(const filter *f, const char *id, const json_t *metadata);

/* Take one more reference on f; returns f.  References are counted
 * without atomics: take and drop them on one thread (ragd's loop), while
 * any thread may match. */
filter *filter_hold(filter *f);

/* Drop the reference *fp (NULL is fine), freeing the filter at the last,
 * and set *fp to NULL. */
void filter_free(filter **fp);

#endif /* RAGD_FILTER_H */
