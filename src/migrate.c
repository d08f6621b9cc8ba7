/*
 * migrate -- `ragd migrate` (migrate.h).  The documents to copy are the
 * source's change log replayed: a document whose last entry is a put
 * exists.  Each batch of documents is one transaction of the destination,
 * so an interrupted copy leaves every document whole or absent, and
 * running it again finishes it (a put replaces).  Jobs are not copied.
 */
#include "migrate.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store.h"

#define MIGRATE_BATCH 256

static const char migrate_usage[] =
    "usage: ragd migrate --from STORE --to STORE\n"
    "\n"
    "Copy every document of one store (a file, or a postgres:// URL) into\n"
    "another, with its chunks, vectors and metadata: a SQLite store into\n"
    "PostgreSQL, or back.  Jobs are not copied.  Exit status: 0 copied,\n"
    "1 a store failed, 2 bad arguments.\n";

/* The chunks of one document, as read back. */
typedef struct migrate_doc {
    store_chunk *chunks;
    float *vecs;
    size_t n, cap, dims;
    int novec;  /* a chunk without a vector: the document has none */
    char *text; /* the chunks' texts, NUL-separated */
    size_t tlen, tcap;
} migrate_doc;

static int migrate_chunk(void *arg, const char *text, size_t len, const float *vec)
{
    migrate_doc *d = arg;

    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        store_chunk *c = realloc(d->chunks, cap * sizeof *c);
        float *v = c ? realloc(d->vecs, cap * (d->dims ? d->dims : 1) * sizeof *v) : NULL;
        if (c)
            d->chunks = c;
        if (!c || !v)
            return -1;
        d->vecs = v;
        d->cap = cap;
    }
    if (d->tlen + len + 1 > d->tcap) {
        size_t cap = (d->tlen + len + 1) * 2;
        char *t = realloc(d->text, cap);
        if (!t)
            return -1;
        d->text = t;
        d->tcap = cap;
    }
    memcpy(d->text + d->tlen, text, len);
    d->text[d->tlen + len] = '\0';
    d->chunks[d->n].len = len;
    d->chunks[d->n].text = (const char *)(uintptr_t)d->tlen; /* an offset until placed */
    d->tlen += len + 1;
    if (vec)
        memcpy(d->vecs + d->n * d->dims, vec, d->dims * sizeof *vec);
    else
        d->novec = 1;
    d->n++;
    return 0;
}

/* Copy document id from `from` to `to`.  Returns chunks copied, or -1. */
static long migrate_one(store *from, store *to, const char *id, size_t dims, char *err,
                        size_t errlen)
{
    migrate_doc d = {.dims = dims};
    store_docinfo info;
    char *f[4] = {NULL};
    store_doc sd;
    long rc = -1;
    int found = store_doc_get(from, id, &info);

    if (found <= 0) {
        snprintf(err, errlen, "%s: %s", id, found < 0 ? store_errmsg(from) : "in the log, not in the store");
        return found < 0 ? -1 : 0;
    }
    if (!(f[0] = strdup(info.id)) || !(f[1] = strdup(info.title)) ||
        (info.url && !(f[2] = strdup(info.url))) ||
        (info.metadata && !(f[3] = strdup(info.metadata)))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (store_doc_chunks(from, id, dims, migrate_chunk, &d) < 0) {
        snprintf(err, errlen, "%s: %s", id, store_errmsg(from));
        goto done;
    }
    for (size_t i = 0; i < d.n; i++)
        d.chunks[i].text = d.text + (uintptr_t)d.chunks[i].text;
    sd = (store_doc){.id = f[0], .title = f[1], .url = f[2], .metadata = f[3],
                     .chunks = d.chunks, .nchunks = d.n,
                     .vecs = dims && d.n && !d.novec ? d.vecs : NULL, .fts = 1};
    if (store_put(to, &sd) < 0) {
        snprintf(err, errlen, "%s: %s", id, store_errmsg(to));
        goto done;
    }
    rc = (long)d.n;
done:
    for (int i = 0; i < 4; i++)
        free(f[i]);
    free(d.chunks);
    free(d.vecs);
    free(d.text);
    return rc;
}

/* Every document's id, from the documents rather than the change log,
 * which may have been trimmed.  oom: an id could not be kept. */
typedef struct migrate_ids {
    json_t *ids;
    int oom;
} migrate_ids;

static int migrate_id(void *arg, const char *id)
{
    migrate_ids *m = arg;

    if (json_array_append_new(m->ids, json_string(id)) != 0)
        m->oom = 1;
    return m->oom;
}

/* Copy every document, MIGRATE_BATCH to a transaction. */
static int migrate_copy(store *from, store *to, size_t dims, char *err, size_t errlen)
{
    migrate_ids m = {json_array(), 0};
    json_t *idv;
    size_t i;
    long docs = 0, chunks = 0, n = 0;
    int rc = -1;

    if (!m.ids || store_doc_ids(from, migrate_id, &m) < 0 || m.oom) {
        snprintf(err, errlen, "cannot list the documents: %s",
                 m.ids && !m.oom ? store_errmsg(from) : "out of memory");
        goto done;
    }
    json_array_foreach(m.ids, i, idv) {
        const char *id = json_string_value(idv);
        long c;
        if (n == 0 && store_begin(to) < 0) {
            snprintf(err, errlen, "%s", store_errmsg(to));
            goto done;
        }
        if ((c = migrate_one(from, to, id, dims, err, errlen)) < 0)
            goto done;
        chunks += c;
        docs++;
        if (++n == MIGRATE_BATCH) {
            n = 0;
            if (store_commit(to) < 0) {
                snprintf(err, errlen, "%s", store_errmsg(to));
                goto done;
            }
        }
    }
    if (n && store_commit(to) < 0) {
        snprintf(err, errlen, "%s", store_errmsg(to));
        n = 0;
        goto done;
    }
    n = 0;
    printf("copied %ld documents (%ld chunks)\n", docs, chunks);
    rc = 0;
done:
    if (n)
        store_rollback(to);
    json_decref(m.ids);
    return rc;
}

/* Open both stores and declare the source's embedder to the destination. */
static int migrate_run(const char *src, const char *dst)
{
    store *from = NULL, *to = NULL;
    store_embedder e;
    char err[1024];
    int rc = 1, has;

    if (store_open(src, 0, &from, err, sizeof err) < 0 ||
        store_open(dst, 1, &to, err, sizeof err) < 0)
        goto done;
    if ((has = store_embedder_get(from, &e)) < 0) {
        snprintf(err, sizeof err, "%s: %s", src, store_errmsg(from));
        goto done;
    }
    if (has && store_embedder_use(to, &e, err, sizeof err) < 0)
        goto done;
    rc = migrate_copy(from, to, has ? e.dims : 0, err, sizeof err) < 0;
done:
    if (rc)
        fprintf(stderr, "ragd migrate: %s\n", err);
    store_close(&from);
    store_close(&to);
    return rc;
}

int migrate_main(int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *src = NULL, *dst = NULL;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(migrate_usage, stdout);
            return 0;
        }
        if (c == 'f')
            src = optarg;
        else if (c == 't')
            dst = optarg;
        else {
            fprintf(stderr, "ragd migrate: unknown option or missing value (see 'ragd migrate "
                    "--help')\n");
            return 2;
        }
    }
    if (!src || !dst || optind < argc || !strcmp(src, dst)) {
        fprintf(stderr, "ragd migrate: %s (see 'ragd migrate --help')\n",
                !src || !dst ? "--from and --to are required"
                : optind < argc ? "unexpected argument" : "--from and --to are the same store");
        return 2;
    }
    return migrate_run(src, dst);
}
