/*
 * filter_cases.h -- the conformance table of metadata filters: documents,
 * and for each filter the documents it keeps (or the error it gets).
 *
 * Every engine that applies filters runs this one table: the filter module
 * itself (test_filter.c) and each source that filters inside its search
 * (test_filter_sources.c).  A new rule, or a new engine, starts here.
 */
#ifndef RAGD_TEST_FILTER_CASES_H
#define RAGD_TEST_FILTER_CASES_H

#include <stddef.h>

/* The documents: id and metadata (JSON text, or NULL for none). */
static const struct filter_doc {
    const char *id;
    const char *metadata;
} filter_docs[] = {
    {"d1", "{\"year\": 2015, \"lang\": \"en\", \"tags\": [\"bio\", \"med\"],"
           " \"a\": {\"b\": 1}, \"ok\": true, \"score\": 0.5}"},
    {"d2", "{\"year\": 2018, \"lang\": \"de\", \"tags\": [\"chem\"], \"a\": {\"b\": 2},"
           " \"ok\": false, \"score\": 1.5}"},
    {"d3", "{\"year\": \"2015\", \"lang\": \"fr\", \"tags\": \"bio\", \"a\": {\"c\": 1},"
           " \"none\": null}"},
    {"d4", "{\"year\": 2020.0, \"lang\": \"en\", \"a\": 5}"},
    {"d5", NULL},
    {"d/6 x%", "{\"lang\": \"EN\", \"year\": 1999, \"tags\": []}"},
};
#define FILTER_NDOCS (sizeof filter_docs / sizeof *filter_docs)

/* A case: the filter (JSON text) and either the ids it keeps, in table
 * order and space-separated ("" for none), or the error it gets (exactly). */
static const struct filter_case {
    const char *filter;
    const char *keeps;
    const char *error;
} filter_cases[] = {
    /* Literals are equality; conditions are ANDed; {} keeps everything. */
    {"{}", "d1 d2 d3 d4 d5 d/6 x%", NULL},
    {"{\"lang\": \"en\"}", "d1 d4", NULL},
    {"{\"lang\": \"en\", \"year\": 2015}", "d1", NULL},
    {"{\"ok\": true}", "d1", NULL},
    {"{\"ok\": false}", "d2", NULL},
    {"{\"none\": null}", "d3", NULL},
    /* Strings compare exactly: no case folding. */
    {"{\"lang\": \"En\"}", "", NULL},
    /* No coercion: 2015 is not "2015"; integers and reals are one type. */
    {"{\"year\": 2015}", "d1", NULL},
    {"{\"year\": \"2015\"}", "d3", NULL},
    {"{\"year\": 2020}", "d4", NULL},
    {"{\"ok\": 1}", "", NULL},
    {"{\"year\": {\"$gte\": 2015}}", "d1 d2 d4", NULL},
    {"{\"year\": {\"$gt\": 2015, \"$lte\": 2020}}", "d2 d4", NULL},
    {"{\"year\": {\"$lt\": 2015}}", "d/6 x%", NULL},
    {"{\"year\": {\"$gte\": \"2000\"}}", "d3", NULL},
    {"{\"score\": {\"$gt\": 1}}", "d2", NULL},
    /* Strings order bytewise. */
    {"{\"lang\": {\"$gte\": \"en\"}}", "d1 d3 d4", NULL},
    {"{\"lang\": {\"$lt\": \"en\"}}", "d2 d/6 x%", NULL},
    /* $eq, $ne, $in, $nin; a missing key matches only $ne and $nin. */
    {"{\"lang\": {\"$eq\": \"de\"}}", "d2", NULL},
    {"{\"lang\": {\"$ne\": \"en\"}}", "d2 d3 d5 d/6 x%", NULL},
    {"{\"year\": {\"$ne\": 2015}}", "d2 d3 d4 d5 d/6 x%", NULL},
    {"{\"lang\": {\"$in\": [\"en\", \"de\"]}}", "d1 d2 d4", NULL},
    {"{\"lang\": {\"$nin\": [\"en\", \"de\"]}}", "d3 d5 d/6 x%", NULL},
    {"{\"lang\": {\"$in\": []}}", "", NULL},
    {"{\"lang\": {\"$nin\": []}}", "d1 d2 d3 d4 d5 d/6 x%", NULL},
    {"{\"year\": {\"$in\": [2018, \"2015\"]}}", "d2 d3", NULL},
    {"{\"missing\": {\"$gte\": 0}}", "", NULL},
    {"{\"missing\": null}", "", NULL},
    /* A metadata array matches when any element does; $ne/$nin when none. */
    {"{\"tags\": \"bio\"}", "d1 d3", NULL},
    {"{\"tags\": {\"$in\": [\"med\", \"chem\"]}}", "d1 d2", NULL},
    {"{\"tags\": {\"$ne\": \"bio\"}}", "d2 d4 d5 d/6 x%", NULL},
    {"{\"tags\": {\"$nin\": [\"bio\", \"chem\"]}}", "d4 d5 d/6 x%", NULL},
    {"{\"tags\": {\"$gte\": \"c\"}}", "d1 d2", NULL},
    /* Dotted keys reach nested objects, and nothing else. */
    {"{\"a.b\": 1}", "d1", NULL},
    {"{\"a.b\": {\"$gte\": 1}}", "d1 d2", NULL},
    {"{\"a.b\": {\"$ne\": 1}}", "d2 d3 d4 d5 d/6 x%", NULL},
    {"{\"a.b.c\": 1}", "", NULL},
    /* "id" is the document id. */
    {"{\"id\": \"d2\"}", "d2", NULL},
    {"{\"id\": {\"$in\": [\"d1\", \"d/6 x%\"]}}", "d1 d/6 x%", NULL},
    {"{\"id\": {\"$ne\": \"d1\"}, \"lang\": \"en\"}", "d4", NULL},
    /* $and and $or take arrays of filter objects, and nest. */
    {"{\"$or\": [{\"lang\": \"de\"}, {\"year\": 2015}]}", "d1 d2", NULL},
    {"{\"$and\": [{\"lang\": \"en\"}, {\"year\": {\"$gt\": 2016}}]}", "d4", NULL},
    {"{\"$or\": [{\"lang\": \"fr\"}, {\"$and\": [{\"lang\": \"en\"}, {\"a\": 5}]}],"
     " \"year\": {\"$ne\": 1999}}", "d3 d4", NULL},
    /* Malformed filters name the path inside the filter. */
    {"[]", NULL, "filter: expected an object"},
    {"{\"year\": {\"$gte\": true}}", NULL, "filter.year.$gte: expected a number or string"},
    {"{\"year\": {\"$gte\": [1]}}", NULL, "filter.year.$gte: expected a number or string"},
    {"{\"lang\": {\"$in\": \"en\"}}", NULL,
     "filter.lang.$in: expected an array of strings, numbers, booleans or null"},
    {"{\"lang\": {\"$in\": [\"en\", {}]}}", NULL,
     "filter.lang.$in[1]: expected a string, number, boolean or null"},
    {"{\"lang\": {\"$eq\": [\"en\"]}}", NULL,
     "filter.lang.$eq: expected a string, number, boolean or null"},
    {"{\"lang\": {\"$like\": \"e%\"}}", NULL,
     "filter.lang.$like: unknown operator (expected $eq, $ne, $in, $nin, $gt, $gte, $lt or "
     "$lte)"},
    {"{\"lang\": {}}", NULL, "filter.lang: expected at least one operator"},
    {"{\"lang\": [\"en\"]}", NULL,
     "filter.lang: expected a string, number, boolean, null or an object of operators"},
    {"{\"$not\": {}}", NULL,
     "filter.$not: unknown operator (expected $and, $or or a metadata key)"},
    {"{\"$or\": []}", NULL, "filter.$or: expected a non-empty array of objects"},
    {"{\"$or\": [{\"a\": 1}, 2]}", NULL, "filter.$or[1]: expected an object"},
    {"{\"$and\": [{\"$or\": [{\"x\": {\"$gt\": null}}]}]}", NULL,
     "filter.$and[0].$or[0].x.$gt: expected a number or string"},
    {"{\"a..b\": 1}", NULL, "filter.a..b: a key must not be empty nor have an empty part"},
    {"{\"\": 1}", NULL, "filter.: a key must not be empty nor have an empty part"},
};
#define FILTER_NCASES (sizeof filter_cases / sizeof *filter_cases)

#endif /* RAGD_TEST_FILTER_CASES_H */
