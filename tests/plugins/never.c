/* never.c -- a test plugin whose searches never call back and cannot be
 * cancelled: ragd must cut it off at its deadline and answer anyway. */
#include <ragd/source.h>

static int never_instance;

static int never_create(const ragd_host *h, const char *n, json_t *c, void **self, char *e, size_t l)
{
    (void)h; (void)n; (void)c; (void)e; (void)l;
    *self = &never_instance;
    return RAGD_OK;
}

static int never_search(void *s, const ragd_query *q, ragd_search_cb cb, void *a, ragd_op **op)
{
    (void)s; (void)q; (void)cb; (void)a;
    *op = NULL;
    return RAGD_OK; /* and then silence */
}

static void never_destroy(void *s) { (void)s; }

static const ragd_source_type never_type = {
    RAGD_SOURCE_ABI_VERSION, "never", never_create, never_search, NULL, never_destroy,
    RAGD_SOURCE_LOOPS, /* it keeps no state at all */
};

const ragd_source_type *ragd_source_entry(void) { return &never_type; }
