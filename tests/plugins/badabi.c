/* badabi.c -- a test plugin built for another source ABI version: ragd must
 * refuse to load it. */
#include <ragd/source.h>

static int bad_create(const ragd_host *h, const char *n, json_t *c, void **s, char *e, size_t l)
{
    (void)h; (void)n; (void)c; (void)s; (void)e; (void)l;
    return RAGD_ERR;
}

static int bad_search(void *s, const ragd_query *q, ragd_search_cb cb, void *a, ragd_op **op)
{
    (void)s; (void)q; (void)cb; (void)a; (void)op;
    return RAGD_ERR;
}

static void bad_destroy(void *s) { (void)s; }

static const ragd_source_type bad_type = {
    42, "badabi", bad_create, bad_search, NULL, bad_destroy, 0,
};

const ragd_source_type *ragd_source_entry(void) { return &bad_type; }
