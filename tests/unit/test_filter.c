/* Unit tests for filter: the conformance table (filter_cases.h) run against
 * the filter module itself, plus its limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "filter_cases.h"
#include "tap.h"

/* The ids of the table's documents that f keeps, space-separated. */
static void keeps(const filter *f, char *out, size_t outlen)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < FILTER_NDOCS; i++) {
        json_t *meta = filter_docs[i].metadata ? json_loads(filter_docs[i].metadata, 0, NULL)
                                               : NULL;
        if (filter_match(f, filter_docs[i].id, meta))
            n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? " " : "", filter_docs[i].id);
        json_decref(meta);
    }
}

static void test_table(void)
{
    for (size_t i = 0; i < FILTER_NCASES; i++) {
        const struct filter_case *c = &filter_cases[i];
        json_t *spec = json_loads(c->filter, 0, NULL);
        filter *f = NULL;
        char err[256] = "", got[256];
        int rc;

        ok(spec != NULL, "case %zu is JSON", i);
        rc = filter_parse(spec, &f, err, sizeof err);
        if (c->error) {
            ok(rc == -1 && !f, "%s is refused", c->filter);
            is_str(err, c->error, "%s: the message names the path", c->filter);
        } else {
            ok(rc == 0 && f, "%s parses", c->filter);
            if (rc != 0)
                printf("#   %s\n", err);
            else
                keeps(f, got, sizeof got);
            is_str(rc == 0 ? got : err, c->keeps, "%s keeps [%s]", c->filter, c->keeps);
        }
        filter_free(&f);
        json_decref(spec);
    }
}

static void test_limits(void)
{
    json_t *in = json_array(), *spec;
    filter *f = NULL;
    char err[256];

    for (int i = 0; i <= FILTER_MAX_TERMS; i++)
        json_array_append_new(in, json_integer(i));
    spec = json_pack("{s{so}}", "x", "$in", in);
    ok(filter_parse(spec, &f, err, sizeof err) == -1, "too many $in values are refused");
    ok(strstr(err, "filter.x.$in") != NULL, "naming the operator: %s", err);
    json_decref(spec);

    spec = json_pack("{si}", "x", 1);
    for (int i = 0; i <= FILTER_MAX_DEPTH; i++)
        spec = json_pack("{s[o]}", "$or", spec);
    ok(filter_parse(spec, &f, err, sizeof err) == -1, "nesting past the limit is refused");
    ok(strstr(err, "nested deeper") != NULL, "saying so: %s", err);
    json_decref(spec);
    filter_free(&f);
}

int main(void)
{
    test_table();
    test_limits();
    return tap_done();
}
