/* The filter conformance table (filter_cases.h) run against every source
 * that filters: a store is built from the table's documents, and each
 * case's filter must make kb and vector return exactly the documents it
 * keeps.  Also: k documents come back when a few documents' many chunks
 * outrank the rest (the top k is cut per document, not per chunk). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <ragd/source.h>

#include "clock.h"
#include "defer.h"
#include "embed.h"
#include "filter.h"
#include "filter_cases.h"
#include "srccfg.h"
#include "store.h"
#include "tap.h"

const ragd_source_type *ragd_source_kb(void);
const ragd_source_type *ragd_source_vector(void);

static struct event_base *base;
static json_t *configs; /* every source's config, alive until the end */

/* ------------------------------------------------------------ a host -- */

static int64_t t_now_ms(const ragd_host *h)
{
    (void)h;
    return clock_ms();
}

static void t_log(const ragd_host *h, int level, const char *fmt, ...)
{
    va_list ap;

    (void)h;
    (void)level;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* Work runs at once (one worker: this thread); its done callback later. */
static int t_work_submit(const ragd_host *h, ragd_work_fn work, ragd_work_done_fn done,
                         void *arg)
{
    (void)h;
    work(arg, 0);
    return defer_call(base, done, arg) == 0 ? RAGD_OK : RAGD_ENOMEM;
}

typedef struct t_embedding {
    ragd_embed_cb cb;
    void *arg;
    float vec[EMBED_HASH_DIMS];
} t_embedding;

static void t_embedded(void *arg)
{
    t_embedding *e = arg;

    e->cb(e->arg, RAGD_OK, e->vec, EMBED_HASH_DIMS, NULL);
    free(e);
}

static int t_embed(const ragd_host *h, const char *text, int64_t deadline_ms, ragd_embed_cb cb,
                   void *arg)
{
    t_embedding *e = malloc(sizeof *e);

    (void)h;
    (void)deadline_ms;
    if (!e)
        return RAGD_ENOMEM;
    e->cb = cb;
    e->arg = arg;
    embed_hash(text, strlen(text), e->vec, EMBED_HASH_DIMS);
    if (defer_call(base, t_embedded, e) != 0) {
        free(e);
        return RAGD_ENOMEM;
    }
    return RAGD_OK;
}

static ragd_host host = {
    .abi_version = RAGD_SOURCE_ABI_VERSION, .nworkers = 1, .embedder = "hash",
    .embed_dims = EMBED_HASH_DIMS, .now_ms = t_now_ms, .log = t_log,
    .work_submit = t_work_submit, .embed = t_embed, .cfg_string = srccfg_string,
    .cfg_int = srccfg_int, .cfg_number = srccfg_number, .cfg_bool = srccfg_bool,
    .filter_match = filter_match,
};

/* ----------------------------------------------------------- a store -- */

/* Put document id with metadata and n chunks of text, embedded. */
static int put(store *s, const char *id, const char *metadata, const char *text, size_t n)
{
    store_chunk *chunks = calloc(n, sizeof *chunks);
    float *vecs = calloc(n * EMBED_HASH_DIMS, sizeof *vecs);
    store_doc d = {.id = id, .title = id, .metadata = metadata, .chunks = chunks,
                   .nchunks = n, .vecs = vecs, .fts = 1};
    int rc = -1;

    if (chunks && vecs) {
        for (size_t i = 0; i < n; i++) {
            chunks[i] = (store_chunk){text, strlen(text)};
            embed_hash(text, strlen(text), vecs + i * EMBED_HASH_DIMS, EMBED_HASH_DIMS);
        }
        rc = store_put(s, &d);
    }
    free(chunks);
    free(vecs);
    return rc;
}

/* A store at path holding the table's documents, or (crowded) documents
 * of which two have many chunks that outrank all the others. */
static int build(const char *path, int crowded)
{
    store_embedder e = {.name = "hash", .dims = EMBED_HASH_DIMS};
    store *s = NULL;
    char err[512], id[16];
    int rc = 0;

    if (store_open(path, 1, &s, err, sizeof err) != 0 ||
        store_embedder_use(s, &e, err, sizeof err) != 0) {
        printf("# %s\n", err);
        store_close(&s);
        return -1;
    }
    if (crowded) {
        rc |= put(s, "many1", NULL, "alpha alpha alpha beta", 60);
        rc |= put(s, "many2", NULL, "alpha alpha alpha gamma", 60);
        for (int i = 0; i < 10; i++) {
            snprintf(id, sizeof id, "few%d", i);
            rc |= put(s, id, i % 2 ? "{\"odd\": true}" : NULL,
                      "alpha and many other words that dilute it", 1);
        }
    } else {
        for (size_t i = 0; i < FILTER_NDOCS; i++)
            rc |= put(s, filter_docs[i].id, filter_docs[i].metadata, "alpha document", 2);
    }
    store_close(&s);
    return rc;
}

/* ----------------------------------------------------------- searches -- */

typedef struct result {
    int done, status;
    char ids[FILTER_NDOCS][32]; /* the first hits' ids */
    size_t n;
    char order[512]; /* ids as returned, space-separated */
} result;

static void on_result(void *arg, int status, const ragd_hit *hits, size_t n, const char *error)
{
    result *r = arg;
    size_t off = 0;

    r->done++;
    r->status = status;
    if (status != RAGD_OK)
        printf("# search failed: %s\n", error ? error : "?");
    for (size_t i = 0; i < n; i++) {
        if (i < FILTER_NDOCS)
            snprintf(r->ids[i], sizeof r->ids[i], "%s", hits[i].id);
        off += (size_t)snprintf(r->order + off, sizeof r->order - off, "%s%s", i ? " " : "",
                                hits[i].id);
    }
    r->n = n;
}

/* Search source self of type t for query with filter flt (or NULL), k. */
static void run(const ragd_source_type *t, void *self, const char *query, filter *flt, int k,
                result *r)
{
    ragd_query q = {query, k, clock_ms() + 5000, flt ? filter_json(flt) : NULL, flt};
    ragd_op *op = NULL;

    memset(r, 0, sizeof *r);
    if (t->search(self, &q, on_result, r, &op) != RAGD_OK)
        return;
    event_base_dispatch(base);
}

/* The returned ids that are in the table, in table order. */
static void in_table_order(const result *r, char *out, size_t outlen)
{
    size_t off = 0;

    out[0] = '\0';
    for (size_t d = 0; d < FILTER_NDOCS; d++)
        for (size_t i = 0; i < r->n && i < FILTER_NDOCS; i++)
            if (!strcmp(r->ids[i], filter_docs[d].id))
                off += (size_t)snprintf(out + off, outlen - off, "%s%s", off ? " " : "",
                                        filter_docs[d].id);
}

static void conformance(const ragd_source_type *t, void *self)
{
    for (size_t i = 0; i < FILTER_NCASES; i++) {
        const struct filter_case *c = &filter_cases[i];
        json_t *spec;
        filter *flt = NULL;
        char err[256], got[512];
        result r;

        if (c->error)
            continue;
        spec = json_loads(c->filter, 0, NULL);
        if (filter_parse(spec, &flt, err, sizeof err) != 0)
            printf("# %s\n", err);
        run(t, self, "alpha", flt, 20, &r);
        in_table_order(&r, got, sizeof got);
        ok(r.done == 1 && r.status == RAGD_OK, "%s: %s answered once", t->name, c->filter);
        is_str(got, c->keeps, "%s: %s keeps [%s]", t->name, c->filter, c->keeps);
        filter_free(&flt);
        json_decref(spec);
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Two documents with 60 chunks each outrank ten with one: k = 5 still
 * gets five documents, and with a filter that keeps five of the ten, all
 * five. */
static void crowded(const ragd_source_type *t, void *self)
{
    json_t *spec = json_pack("{sb}", "odd", 1);
    filter *flt = NULL;
    char err[64];
    result r;

    run(t, self, "alpha", NULL, 5, &r);
    is_int(r.n, 5, "%s: k documents although two have 120 of the best chunks", t->name);
    ok(!strncmp(r.order, "many", 4), "%s: the crowding documents first (%s)", t->name, r.order);
    ok(filter_parse(spec, &flt, err, sizeof err) == 0, "crowded: filter parsed");
    run(t, self, "alpha", flt, 5, &r);
    qsort(r.ids, r.n < FILTER_NDOCS ? r.n : FILTER_NDOCS, sizeof r.ids[0], by_name);
    is_int(r.n, 5, "%s: k documents with a filter too", t->name);
    ok(r.n == 5 && !strcmp(r.ids[0], "few1") && !strcmp(r.ids[4], "few9"),
       "%s: the five the filter keeps, none of the crowding ones", t->name);
    filter_free(&flt);
    json_decref(spec);
}

/* Create a source of type t on the store at path (with engine, for the
 * kb: both of its engines must pass; the vector source scanning int8 rows
 * when int8 is set); NULL on failure. */
static void *create(const ragd_source_type *t, const char *engine, const char *path, int int8)
{
    json_t *cfg = json_pack("{ss si}", "db", path, "refresh_ms", 0);
    void *self = NULL;
    char err[512];

    if (engine)
        json_object_set_new(cfg, "engine", json_string(engine));
    if (int8)
        json_object_set_new(cfg, "quantize", json_string("int8"));
    if (t->create(&host, t->name, cfg, &self, err, sizeof err) != RAGD_OK)
        printf("# %s: %s\n", t->name, err);
    /* The config must outlive the instance: keep it with the test. */
    json_array_append_new(configs, cfg);
    return self;
}

int main(void)
{
    /* Each engine of the kb; the vector source exact, then int8 with its
     * re-rank. */
    const ragd_source_type *types[] = {ragd_source_kb(), ragd_source_kb(), ragd_source_vector(),
                                       ragd_source_vector()};
    const char *engines[] = {"index", "fts5", NULL, NULL};
    char dir[] = "/tmp/test_filter_sources.XXXXXX", table[128], crowd[128];

    store_process_init();
    base = event_base_new();
    host.base = base;
    configs = json_array();
    if (!base || !mkdtemp(dir)) {
        printf("Bail out! no event loop or temporary directory\n");
        return 1;
    }
    snprintf(table, sizeof table, "%s/table.db", dir);
    snprintf(crowd, sizeof crowd, "%s/crowded.db", dir);
    ok(build(table, 0) == 0, "a store of the table's documents");
    ok(build(crowd, 1) == 0, "a store of crowding documents");
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        const ragd_source_type *t = types[i];
        void *a = create(t, engines[i], table, i == 3), *b = create(t, engines[i], crowd, i == 3);

        ok(t->flags & RAGD_SOURCE_FILTERS, "%s declares that it filters", t->name);
        ok(a && b, "%s: created on both stores", t->name);
        if (a)
            conformance(t, a);
        if (b)
            crowded(t, b);
        if (a)
            t->destroy(a);
        if (b)
            t->destroy(b);
    }
    json_decref(configs);
    event_base_free(base);
    snprintf(table, sizeof table, "rm -rf '%s'", dir);
    if (system(table) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
