/*
 * vector -- the vector source: exact cosine top-k over every chunk embedding
 * in the store, reporting the best chunk of each document.
 *
 * Config: {"db": PATH (required), "refresh_ms": 1000 (0 disables),
 * "quantize": "none" | "int8", "rerank": 100, "scan_threads": cores}.
 *
 * All embeddings live in memory as one immutable snapshot that every search
 * scans in full on a worker (vectors are L2-normalised, so cosine is a dot
 * product); the winners' texts are then read from the store on that
 * worker's own read-only handle.  Every refresh_ms a worker asks the store
 * for its change log past the snapshot's sequence number and builds a new
 * snapshot from the old one: the rows of every changed document become
 * tombstones and the document's current vectors are appended, so documents
 * ingested while ragd runs become searchable without a restart, and a
 * search sees a document whole or not at all.  When tombstones pass a
 * quarter of the rows the snapshot is rebuilt from the whole store.
 *
 * The scan (vec_scan.c) runs the dot-product kernel vec_kernel picks for
 * this CPU over each segment's 64-byte-aligned matrix, and keeps the best
 * chunk of each document and the best k documents in a bounded heap, so k
 * documents come back whenever k have vectors.  With "quantize": "int8"
 * every segment also holds its rows as int8 (vec_quant.c, one scale per
 * dimension, computed when the segment is loaded); the scan reads those
 * -- a quarter of the bytes -- to pick the best "rerank" documents, whose
 * chunks are then scored exactly from the float rows, so the scores
 * returned are exact and only the choice of candidates is approximate.
 * A snapshot of at least 2 * VEC_PART_ROWS rows is scanned in parts by up
 * to scan_threads threads: the worker running the search and the
 * instance's own scan_threads - 1 helper threads (par.c).  How many is
 * decided as each scan starts (split.h): no more than there are helpers
 * waiting and cores with nothing to run, so on a busy machine the worker
 * scans alone.  The rule
 * that keeps this free of deadlock: a scan never submits to the worker
 * pool and never waits for a helper to be free -- the worker takes parts
 * itself until none is left, and waits only for parts already running.
 * With a metadata filter (RAGD_SOURCE_FILTERS) it is evaluated once per
 * document of the snapshot, against the metadata held next to the rows,
 * and the rows of documents it drops are skipped unscored: the filter
 * works before the top k is cut, and a selective one makes the scan
 * cheaper.  Not an approximate index (no graph, no clustering), and not
 * for writing the store.
 */
#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <ragd/source.h>

#include "cores.h"
#include "hits.h"
#include "notify.h"
#include "obs.h"
#include "spin.h"
#include "store.h"
#include "vec_kernel.h"
#include "par.h"
#include "split.h"
#include "vec_quant.h"
#include "vec_scan.h"

/* Alignment of the snapshot matrix and the query: a cache line, and enough
 * for any SIMD load. */
#define VEC_ALIGN 64

/* Rebuild from the whole store once more than 1/VEC_COMPACT_AT of a
 * snapshot's rows are tombstones, or once it has VEC_MAX_SEGS segments:
 * dead rows cost scan time and memory, segments cost a little locality. */
#define VEC_COMPACT_AT 4
#define VEC_MAX_SEGS 64

/* A scan is split into parts of at least VEC_PART_ROWS rows, at most one
 * per scan thread (VEC_MAX_THREADS at most): below that a thread's
 * hand-off costs more than it saves. */
#define VEC_PART_ROWS 32768
#define VEC_MAX_THREADS 64

/* A block of rows loaded together, shared by every snapshot built on it
 * and never changed after loading.  mat is n rows of dims floats in one
 * VEC_ALIGN-aligned block; row i is the embedding of chunk ids[i] of
 * document names[doc[i]], whose hash is keys[i] and metadata meta[doc[i]]
 * (an owned object, or NULL for none).  A document's rows are one run
 * (doc[] only grows).  refs counts the
 * snapshots holding it; atomic because a refresh takes references on a
 * worker while the loop drops others. */
typedef struct vector_seg {
    atomic_uint refs;
    size_t n, cap, dims;
    float *mat;
    int8_t *qmat;  /* with quantize int8: mat quantised, n * dims, aligned */
    float *scale;  /* with quantize int8: qmat's dims scales */
    int64_t *ids;
    uint64_t *keys;
    uint32_t *doc;
    char **names;
    json_t **meta;
    size_t nnames, namecap;
    int oom; /* a row could not be added while loading */
} vector_seg;

/* A snapshot: the rows of segs[0..nseg) in order, numbered across them
 * (0..nrows), less those whose bit is set in dead (ndead of them); it
 * reflects the store up to change seq.  None of it changes after it is
 * built.  refs counts its holders: the instance (for its current
 * snapshot), every scan job from submit to its done callback, and a
 * refresh from submit to done.  References are taken and dropped on the
 * loop threads (a search's embed callback and scan done callback on the
 * loop that asked; the refresh and destroy on the main loop), so refs is
 * atomic; workers only read a snapshot their job holds.  Freed at refs 0. */
typedef struct vector_snap {
    atomic_uint refs;
    size_t dims, nseg, nrows, ndead;
    vector_seg **segs;
    unsigned char *dead;
    int64_t seq;
} vector_snap;

/* A worker's lookup handle, NULL until that worker first looks up (or
 * after a failed open). */
typedef struct vector_conn {
    store *db;
} vector_conn;

/* One vector instance.  Owns everything it points to except host.
 *  - path, embedder, dims: fixed at create; workers may read them.
 *  - snap: the current snapshot (the instance holds one reference): the
 *    main loop swaps it, and a search on any loop takes a reference to it,
 *    both under snap_lock (vector_snap_get).
 *  - load_db: the dedicated loading handle.  The loop uses it at create;
 *    afterwards only the refresh job does, and at most one is in flight
 *    (refreshing set), so it is never used by two threads at once.
 *  - conns: host->nworkers lookup handles; slot i is opened and used only
 *    by worker i, so it needs no lock; destroy closes them.
 *  - timer: the refresh timer on host->base, NULL when refresh is off.
 *  - dying: destroy came while a refresh was in flight; that refresh's done
 *    callback frees the instance. */
typedef struct vector {
    const ragd_host *host;
    char name[64];            /* the instance's, for its metrics */
    char *path;
    char *embedder;
    size_t dims;
    const vec_kernel *kernel; /* the scan's dot products */
    int quantize;             /* scan int8 rows, then re-rank */
    size_t rerank;            /* documents re-ranked exactly after an int8 scan */
    unsigned scan_threads;    /* threads that share one scan, the worker's included */
    par *par;             /* scan_threads - 1 helpers; NULL with one */
    vector_snap *snap;
    spin snap_lock;
    store *load_db;
    size_t skipped;      /* bad rows in the last load, to warn once */
    int refresh_failed;  /* the last refresh failed, to warn once */
    unsigned nconns;
    vector_conn *conns;
    struct event *timer;
    notify_sub *sub;     /* the store changed in this process: refresh now */
    int refreshing, dying;
    int pending;         /* a change was told while a refresh ran */
} vector;

/* One search, from search() until its callback has run; it is also the
 * ragd_op the host may cancel.  The loop thread owns it except while the
 * scan runs on a worker; cancelled is the one field both touch.  snap is a
 * held reference from submit to done (NULL outside); q is the query vector
 * (dims floats, VEC_ALIGN-aligned); cands has room for ncap candidates;
 * npool is how many each part of the scan keeps (ncap without
 * quantisation, rerank with it).
 * hits[0..nhits) own their strings (const only because ragd_hit is the
 * host's type): at most k, one per document, best first.  Freed by
 * vector_finish right after the callback. */
typedef struct vector_job {
    vector *v;
    int k;
    const ragd_filter *filter;  /* the query's, valid until the callback; or NULL */
    unsigned char **keep;       /* with a filter, during the scan: keep[i][d] says
                                 * whether segment i's document d passes */
    ragd_search_cb cb;
    void *arg;
    atomic_int cancelled;
    vector_snap *snap;
    float *q;
    vec_cand *cands;
    size_t ncap, npool;
    int status;
    char error[256];
    ragd_hit *hits;
    size_t nhits;
    size_t vanished;   /* candidates whose chunk is gone: the snapshot is stale */
} vector_job;

/* One refresh, from the timer's submit to its done callback.  old is the
 * instance's snapshot at submit (a held reference); the worker fills the
 * rest: the new snapshot (refs 1) when the store changed, how it was made
 * (full: from the whole store; behind: because the change log was
 * trimmed past old's sequence number, from), or status and error. */
typedef struct vector_refresh {
    vector *v;
    vector_snap *old;
    vector_snap *snap;
    int full, behind;
    int64_t from;
    size_t changed, skipped;
    int status;
    char error[256];
} vector_refresh;

/* ----------------------------------------------------------- segments -- */

static void *vector_aligned_alloc(size_t bytes)
{
    return aligned_alloc(VEC_ALIGN, (bytes + VEC_ALIGN - 1) / VEC_ALIGN * VEC_ALIGN);
}

/* FNV-1a: a cheap first test before comparing document ids. */
static uint64_t vector_key(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static vector_seg *vector_seg_new(size_t dims)
{
    vector_seg *g = calloc(1, sizeof *g);

    if (!g)
        return NULL;
    atomic_init(&g->refs, 1);
    g->dims = dims;
    return g;
}

static void vector_seg_unref(vector_seg *g)
{
    if (!g)
        return;
    assert(atomic_load(&g->refs) > 0);
    if (atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    for (size_t i = 0; i < g->nnames; i++) {
        free(g->names[i]);
        if (g->meta)
            json_decref(g->meta[i]);
    }
    free(g->names);
    free(g->meta);
    free(g->mat);
    free(g->qmat);
    free(g->scale);
    free(g->ids);
    free(g->keys);
    free(g->doc);
    free(g);
}

/* Make room for cap rows.  Returns 0, or -1 when out of memory. */
static int vector_seg_reserve(vector_seg *g, size_t cap)
{
    float *mat;
    int64_t *ids;
    uint64_t *keys;
    uint32_t *doc;

    if (cap <= g->cap)
        return 0;
    if (cap > (SIZE_MAX - VEC_ALIGN) / sizeof(float) / (g->dims ? g->dims : 1) ||
        !(mat = vector_aligned_alloc(cap * g->dims * sizeof *mat)))
        return -1;
    if (g->n)
        memcpy(mat, g->mat, g->n * g->dims * sizeof *mat);
    free(g->mat);
    g->mat = mat;
    if (!(ids = realloc(g->ids, cap * sizeof *ids)))
        return -1;
    g->ids = ids;
    if (!(keys = realloc(g->keys, cap * sizeof *keys)))
        return -1;
    g->keys = keys;
    if (!(doc = realloc(g->doc, cap * sizeof *doc)))
        return -1;
    g->doc = doc;
    g->cap = cap;
    return 0;
}

/* The store's callback while loading: append one row to the segment, a
 * document's rows arriving one after another so its name is kept once.
 * Returns 0, or 1 to stop when out of memory, with g->oom set. */
static int vector_seg_add(void *arg, int64_t chunk_id, const char *doc_id, const float *vec)
{
    vector_seg *g = arg;

    if (g->n == g->cap && vector_seg_reserve(g, g->cap ? 2 * g->cap : 64) != 0)
        return g->oom = 1;
    if (!g->nnames || strcmp(g->names[g->nnames - 1], doc_id) != 0) {
        if (g->nnames == g->namecap) {
            size_t cap = g->namecap ? 2 * g->namecap : 64;
            char **p = realloc(g->names, cap * sizeof *p);
            if (!p)
                return g->oom = 1;
            g->names = p;
            g->namecap = cap;
        }
        if (!(g->names[g->nnames] = strdup(doc_id)))
            return g->oom = 1;
        g->nnames++;
    }
    assert(g->nnames <= UINT32_MAX);
    memcpy(g->mat + g->n * g->dims, vec, g->dims * sizeof *vec);
    g->ids[g->n] = chunk_id;
    g->doc[g->n] = (uint32_t)(g->nnames - 1);
    g->keys[g->n] = vector_key(doc_id);
    g->n++;
    return 0;
}

/* Read the metadata of each of g's documents, in the caller's read
 * transaction.  Unparsable metadata counts as none.  Returns 0 (out of
 * memory sets g->oom), or -1 when the store fails. */
static int vector_seg_meta(vector_seg *g, store *db)
{
    const char *json;

    if (!(g->meta = calloc(g->nnames ? g->nnames : 1, sizeof *g->meta))) {
        g->oom = 1;
        return 0;
    }
    for (size_t i = 0; i < g->nnames; i++) {
        if (store_doc_metadata(db, g->names[i], &json) < 0)
            return -1;
        if (json)
            g->meta[i] = json_loads(json, 0, NULL);
    }
    return 0;
}

/* Add the int8 copy of g's rows that an int8 scan reads, once g is loaded
 * (a segment never changes after: the copy stays true).  Out of memory
 * sets g->oom. */
static void vector_seg_quantize(vector_seg *g)
{
    if (g->oom || g->n == 0)
        return;
    if (!(g->scale = vector_aligned_alloc(g->dims * sizeof *g->scale)) ||
        !(g->qmat = vector_aligned_alloc(g->n * g->dims))) {
        g->oom = 1;
        return;
    }
    vec_quant_rows(g->mat, g->n, g->dims, g->scale, g->qmat);
}

/* ---------------------------------------------------------- snapshot -- */

/* An empty snapshot with room for nseg segments and nrows rows' bits, or
 * NULL when out of memory. */
static vector_snap *vector_snap_new(size_t dims, size_t nseg, size_t nrows)
{
    vector_snap *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->refs = 1;
    s->dims = dims;
    if (!(s->segs = calloc(nseg ? nseg : 1, sizeof *s->segs)) ||
        !(s->dead = calloc(nrows / 8 + 1, 1))) {
        free(s->segs);
        free(s);
        return NULL;
    }
    return s;
}

/* v's current snapshot, with a reference for the caller.  Any loop. */
static vector_snap *vector_snap_get(vector *v)
{
    vector_snap *s;

    spin_lock(&v->snap_lock);
    s = v->snap;
    atomic_fetch_add(&s->refs, 1);
    spin_unlock(&v->snap_lock);
    return s;
}

/* Drop one reference; frees s at the last.  s may be NULL.  Any loop. */
static void vector_snap_unref(vector_snap *s)
{
    if (!s)
        return;
    assert(atomic_load(&s->refs) > 0);
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->nseg; i++)
        vector_seg_unref(s->segs[i]);
    free(s->segs);
    free(s->dead);
    free(s);
}

/* Add segment g (s takes the caller's reference) after s's rows. */
static void vector_snap_push(vector_snap *s, vector_seg *g)
{
    s->segs[s->nseg++] = g;
    s->nrows += g->n;
}

static int vector_is_dead(const vector_snap *s, size_t row)
{
    return s->dead[row / 8] >> (row % 8) & 1;
}

static void vector_kill(vector_snap *s, size_t row)
{
    assert(row < s->nrows && !vector_is_dead(s, row));
    s->dead[row / 8] |= (unsigned char)(1u << (row % 8));
    s->ndead++;
}

/* ---------------------------------------------------------- loading -- */

/* Load the whole store into a one-segment snapshot, in one read
 * transaction so the rows and the sequence number agree.  Runs on the loop
 * at create and on a worker at refresh.  Returns 0 with *out (refs 1) and
 * *skipped, or -1 with a message in err. */
static int vector_load(const vector *v, store *db, vector_snap **out, size_t *skipped, char *err,
                    size_t errlen)
{
    vector_snap *s = NULL;
    vector_seg *g = NULL;
    size_t n;

    if (store_begin(db) != 0) {
        snprintf(err, errlen, "sqlite: %s", store_errmsg(db));
        return -1;
    }
    if (store_embedder_match(db, v->embedder, v->dims, err, errlen) != 0)
        goto fail;
    if (store_vector_count(db, &n) != 0)
        goto fail_store;
    if (!(g = vector_seg_new(v->dims)) || vector_seg_reserve(g, n) != 0 ||
        !(s = vector_snap_new(v->dims, 1, n))) {
        snprintf(err, errlen, "out of memory for %zu vectors of %zu dims", n, v->dims);
        goto fail;
    }
    if (store_vectors(db, NULL, v->dims, vector_seg_add, g, skipped) != 0 ||
        vector_seg_meta(g, db) != 0 || store_last_seq(db, &s->seq) != 0)
        goto fail_store;
    if (v->quantize)
        vector_seg_quantize(g);
    if (g->oom) {
        snprintf(err, errlen, "out of memory for %zu vectors of %zu dims", n, v->dims);
        goto fail;
    }
    if (store_commit(db) != 0)
        goto fail_store;
    vector_snap_push(s, g);
    *out = s;
    return 0;
fail_store:
    snprintf(err, errlen, "sqlite: %s", store_errmsg(db));
fail:
    store_rollback(db);
    vector_seg_unref(g);
    vector_snap_unref(s);
    return -1;
}

/* The documents changed after a snapshot: their ids, sorted by key. */
typedef struct vector_changed {
    struct vector_name { uint64_t key; char *id; } *v;
    size_t n, cap;
    int64_t seq; /* the last change seen */
    int oom;     /* a change could not be kept */
} vector_changed;

static int vector_changed_add(void *arg, int64_t seq, const char *doc_id, store_op op)
{
    vector_changed *c = arg;

    (void)op;
    c->seq = seq;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct vector_name *p = realloc(c->v, cap * sizeof *p);
        if (!p)
            return c->oom = 1;
        c->v = p;
        c->cap = cap;
    }
    if (!(c->v[c->n].id = strdup(doc_id)))
        return c->oom = 1;
    c->v[c->n++].key = vector_key(doc_id);
    return 0;
}

static int vector_name_cmp(const void *a, const void *b)
{
    const struct vector_name *x = a, *y = b;

    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Sort and drop repeated ids (a document changed twice is read once). */
static void vector_changed_unique(vector_changed *c)
{
    size_t m = 0;

    qsort(c->v, c->n, sizeof *c->v, vector_name_cmp);
    for (size_t i = 0; i < c->n; i++) {
        if (m && vector_name_cmp(&c->v[m - 1], &c->v[i]) == 0)
            free(c->v[i].id);
        else
            c->v[m++] = c->v[i];
    }
    c->n = m;
}

static int vector_changed_has(const vector_changed *c, uint64_t key, const char *id)
{
    struct vector_name k = {key, (char *)id};

    return bsearch(&k, c->v, c->n, sizeof *c->v, vector_name_cmp) != NULL;
}

static void vector_changed_release(vector_changed *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].id);
    free(c->v);
}

/* The next snapshot: old's segments and tombstones, the rows of changed
 * documents tombstoned, and g (when it has rows) appended.  Returns it
 * (refs 1; it holds its own references on the segments) or NULL. */
static vector_snap *vector_snap_next(const vector_snap *old, const vector_changed *c, vector_seg *g)
{
    vector_snap *s = vector_snap_new(old->dims, old->nseg + 1, old->nrows + g->n);
    size_t row = 0;

    if (!s)
        return NULL;
    memcpy(s->dead, old->dead, old->nrows / 8 + 1);
    s->ndead = old->ndead;
    s->seq = c->seq;
    for (size_t i = 0; i < old->nseg; i++) {
        const vector_seg *o = old->segs[i];
        atomic_fetch_add(&old->segs[i]->refs, 1);
        vector_snap_push(s, old->segs[i]);
        for (size_t r = 0; r < o->n; r++, row++)
            if (!vector_is_dead(s, row) && vector_changed_has(c, o->keys[r], o->names[o->doc[r]]))
                vector_kill(s, row);
    }
    if (g->n) {
        atomic_fetch_add(&g->refs, 1);
        vector_snap_push(s, g);
    }
    return s;
}

/* Read the changes after old's sequence number and every changed
 * document's vectors as they are now, in one read transaction, into c and
 * g.  Returns 0, STORE_BEHIND when the log was trimmed past old (nothing
 * read), or -1 with err. */
static int vector_read_changes(const vector *v, store *db, const vector_snap *old, vector_changed *c,
                            vector_seg *g, size_t *skipped, char *err, size_t errlen)
{
    size_t bad;
    int rc;

    *skipped = 0;
    c->seq = old->seq;
    if (store_begin(db) != 0)
        goto fail_store;
    if (store_embedder_match(db, v->embedder, v->dims, err, errlen) != 0)
        goto fail;
    if ((rc = store_changes(db, old->seq, vector_changed_add, c)) < 0)
        goto fail_store;
    if (rc == STORE_BEHIND) {
        store_rollback(db);
        return STORE_BEHIND;
    }
    vector_changed_unique(c);
    for (size_t i = 0; i < c->n && !c->oom && !g->oom; i++) {
        if (store_vectors(db, c->v[i].id, v->dims, vector_seg_add, g, &bad) != 0)
            goto fail_store;
        *skipped += bad;
    }
    if (!g->oom && vector_seg_meta(g, db) != 0)
        goto fail_store;
    if (v->quantize)
        vector_seg_quantize(g);
    if (c->oom || g->oom) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (store_commit(db) != 0)
        goto fail_store;
    return 0;
fail_store:
    snprintf(err, errlen, "sqlite: %s", store_errmsg(db));
fail:
    store_rollback(db);
    return -1;
}

/* Apply the changes after r->old to a new snapshot in r->snap, or rebuild
 * it from the whole store when the log cannot be applied (the store was
 * replaced by one with fewer changes, or the log was trimmed past r->old)
 * or tombstones would pass their share.  Runs on a worker with the loading
 * handle. */
static void vector_apply(vector_refresh *r, int64_t last)
{
    vector_changed c = {0};
    vector_seg *g = NULL;
    vector *v = r->v;
    int rc;

    if (last > r->old->seq && r->old->nseg < VEC_MAX_SEGS) {
        if (!(g = vector_seg_new(v->dims))) {
            snprintf(r->error, sizeof r->error, "out of memory");
            r->status = RAGD_ENOMEM;
            return;
        }
        rc = vector_read_changes(v, v->load_db, r->old, &c, g, &r->skipped, r->error,
                                 sizeof r->error);
        if (rc < 0)
            r->status = RAGD_ERR;
        else if ((r->behind = rc == STORE_BEHIND))
            r->from = r->old->seq;
        else if (!(r->snap = vector_snap_next(r->old, &c, g)))
            r->status = RAGD_ENOMEM;
        r->changed = c.n;
        vector_changed_release(&c);
        vector_seg_unref(g);
        if (r->status != RAGD_OK ||
            (!r->behind && r->snap->ndead <= r->snap->nrows / VEC_COMPACT_AT))
            return;
        vector_snap_unref(r->snap);
        r->snap = NULL;
    }
    r->full = 1;
    if (vector_load(v, v->load_db, &r->snap, &r->skipped, r->error, sizeof r->error) != 0)
        r->status = RAGD_ERR;
}

/* Open worker connection c.  Returns 0, or -1 with a message in err and c
 * left empty so a later search retries. */
static int vector_conn_open(const vector *v, vector_conn *c, char *err, size_t errlen)
{
    char why[512];

    if (store_open(v->path, 0, &c->db, why, sizeof why) == 0)
        return 0;
    /* Errors in a search reach clients: no file names. */
    snprintf(err, errlen, "sqlite: cannot open the store");
    return -1;
}

/* -------------------------------------------------------------- scan -- */

/* The snapshot's segments as vec_scan reads them, with the filter's
 * verdicts keep (or NULL): one vec_rows per segment, malloc'd, or NULL when
 * out of memory. */
static vec_rows *vector_rows(const vector_snap *s, unsigned char *const *keep)
{
    vec_rows *rows = malloc((s->nseg ? s->nseg : 1) * sizeof *rows);
    size_t base = 0;

    if (!rows)
        return NULL;
    for (size_t i = 0; i < s->nseg; i++) {
        const vector_seg *g = s->segs[i];
        rows[i] = (vec_rows){g->n, s->dims, base, g->mat, g->qmat, g->scale, g->doc,
                             keep ? keep[i] : NULL, s->ndead ? s->dead : NULL};
        base += g->n;
    }
    assert(base == s->nrows);
    return rows;
}

/* Scan rows [from, to) of the snapshot into the heap h of at most cap:
 * exactly, or through the int8 rows when the instance quantises.  Returns
 * how many were kept, or (size_t)-1 when out of memory. */
static size_t vector_scan_part(const vector *v, const vec_rows *rows, size_t nseg, size_t from,
                               size_t to, const float *q, vec_cand *h, size_t cap)
{
    if (v->quantize)
        return vec_scan_int8(v->kernel, rows, nseg, from, to, q, h, 0, cap);
    return vec_scan_exact(v->kernel, rows, nseg, from, to, q, h, 0, cap);
}

/* One scan split into parts: part p scans rows [cut[p], cut[p + 1]) into
 * the heap heaps + p * cap and leaves its size in n[p]. */
typedef struct vector_split {
    const vector *v;
    const vec_rows *rows;
    size_t nseg;
    const float *q;
    size_t cut[VEC_MAX_THREADS + 1], n[VEC_MAX_THREADS];
    vec_cand *heaps;
    size_t cap;
} vector_split;

static void vector_scan_split(void *arg, unsigned part)
{
    vector_split *sp = arg;

    sp->n[part] = vector_scan_part(sp->v, sp->rows, sp->nseg, sp->cut[part], sp->cut[part + 1],
                                   sp->q, sp->heaps + part * sp->cap, sp->cap);
}

/* How many parts a scan of nrows rows takes, started now: one per thread
 * that can run one at once (split.h), each of VEC_PART_ROWS rows at
 * least. */
static unsigned vector_nparts(const vector *v, size_t nrows)
{
    size_t n = nrows / VEC_PART_ROWS;

    if (!v->par || n < 2)
        return 1;
    return split_ways(v->par, n < v->scan_threads ? (unsigned)n : v->scan_threads);
}

/* Merge the parts' heaps into the one at heaps + nparts * cap.  Returns
 * its size, or (size_t)-1 when a part ran out of memory. */
static size_t vector_merge(vector_split *sp, unsigned nparts)
{
    vec_cand *out = sp->heaps + nparts * sp->cap;
    size_t n = 0;

    for (unsigned p = 0; p < nparts; p++) {
        if (sp->n[p] == (size_t)-1)
            return (size_t)-1;
        for (size_t i = 0; i < sp->n[p]; i++)
            n = vec_scan_offer(out, n, sp->cap, sp->heaps[p * sp->cap + i]);
    }
    return n;
}

/* Scan the job's snapshot into j->cands: the best row of each of the best
 * j->ncap documents, best first.  A large snapshot is scanned in parts,
 * this worker and the instance's scan threads each taking some, cut where
 * documents begin so that each is scored in one part.  With int8 rows the
 * best j->npool documents by estimate are re-ranked exactly last.  Returns
 * how many were kept, or (size_t)-1 when out of memory. */
static size_t vector_scan(vector_job *j)
{
    const vector_snap *s = j->snap;
    unsigned nparts = vector_nparts(j->v, s->nrows);
    vector_split sp = {j->v, vector_rows(s, j->keep), s->nseg, j->q, {0}, {0}, NULL, j->npool};
    size_t n = (size_t)-1;
    vec_cand *all;

    if (!sp.rows || !(sp.heaps = calloc((nparts + 1) * sp.cap, sizeof *sp.heaps)))
        goto done;
    for (unsigned p = 1; p < nparts; p++)
        sp.cut[p] = vec_scan_cut(sp.rows, sp.nseg, s->nrows / nparts * p);
    sp.cut[nparts] = s->nrows;
    if (nparts == 1)
        vector_scan_split(&sp, 0);
    else
        par_run(j->v->par, vector_scan_split, &sp, nparts);
    if ((n = vector_merge(&sp, nparts)) == (size_t)-1)
        goto done;
    all = sp.heaps + nparts * sp.cap;
    if (j->v->quantize)
        n = vec_scan_rerank(j->v->kernel, sp.rows, j->q, all, n, j->cands, 0, j->ncap);
    else
        memcpy(j->cands, all, n * sizeof *all);
    vec_scan_sort(j->cands, n);
done:
    free(sp.heaps);
    free((void *)sp.rows);
    return n;
}

/* ------------------------------------------------------------ lookup -- */

/* Copy s into *out: NULL for NULL.  Returns 0, or -1 when out of memory. */
static int vector_dup(const char *s, const char **out)
{
    *out = s ? strdup(s) : NULL;
    return s && !*out ? -1 : 0;
}

/* Keep the looked-up chunk as a hit unless its document already has a
 * (better) one.  Returns 0, or -1 when out of memory. */
static int vector_take_hit(vector_job *j, const store_hit *sh, float score)
{
    ragd_hit *h = &j->hits[j->nhits];

    for (size_t i = 0; i < j->nhits; i++)
        if (strcmp(j->hits[i].id, sh->doc_id) == 0)
            return 0;
    j->nhits++;
    h->score = score;
    if (vector_dup(sh->doc_id, &h->id) || vector_dup(sh->title, &h->title) ||
        vector_dup(sh->url, &h->url) || vector_dup(sh->text, &h->text))
        return -1;
    return 0;
}

/* vector_lookup's loop, inside its read transaction. */
static void vector_lookup_each(vector_job *j, vector_conn *c, size_t ncands)
{
    for (size_t i = 0; i < ncands && j->nhits < (size_t)j->k; i++) {
        store_hit sh;
        int64_t id = j->snap->segs[j->cands[i].seg]->ids[j->cands[i].row];
        int rc = store_chunk_get(c->db, id, &sh);

        if (rc < 0) {
            j->status = RAGD_ERR;
            snprintf(j->error, sizeof j->error, "sqlite: %s", store_errmsg(c->db));
            return;
        }
        if (rc == 0) {
            j->vanished++;
        } else if (vector_take_hit(j, &sh, j->cands[i].score) != 0) {
            j->status = RAGD_ENOMEM;
            snprintf(j->error, sizeof j->error, "out of memory");
            return;
        }
    }
}

/* Turn the candidates (best first) into at most k hits, one per document,
 * reading each chunk on c.  A chunk deleted since the snapshot was loaded
 * is skipped. */
static void vector_lookup(vector_job *j, vector_conn *c, size_t ncands)
{
    if (!ncands)
        return;
    /* One read transaction for all of them (store_read_begin). */
    if (store_read_begin(c->db) != 0) {
        j->status = RAGD_ERR;
        snprintf(j->error, sizeof j->error, "sqlite: %s", store_errmsg(c->db));
        return;
    }
    vector_lookup_each(j, c, ncands);
    store_read_end(c->db);
}

/* With a filter: evaluate it once per document of the snapshot, into
 * j->keep.  Returns 0, or -1 when out of memory. */
static int vector_filter(vector_job *j)
{
    const vector_snap *s = j->snap;
    const ragd_host *host = j->v->host;

    if (!(j->keep = calloc(s->nseg ? s->nseg : 1, sizeof *j->keep)))
        return -1;
    for (size_t i = 0; i < s->nseg; i++) {
        const vector_seg *g = s->segs[i];
        if (!(j->keep[i] = malloc(g->nnames ? g->nnames : 1)))
            return -1;
        for (size_t d = 0; d < g->nnames; d++)
            j->keep[i][d] = (unsigned char)host->filter_match(j->filter, g->names[d], g->meta[d]);
    }
    return 0;
}

/* The scan job's work function, on worker `worker`: touches only j, the
 * snapshot j holds (read-only) and that worker's connection slot. */
static void vector_scan_work(void *arg, unsigned worker)
{
    vector_job *j = arg;
    vector_conn *c;
    size_t n;

    if (atomic_load(&j->cancelled))
        return;
    if (worker >= j->v->nconns) {
        j->status = RAGD_ERR;
        snprintf(j->error, sizeof j->error, "worker %u out of range (%u workers)", worker,
                 j->v->nconns);
        return;
    }
    if (j->filter && vector_filter(j) != 0) {
        j->status = RAGD_ENOMEM;
        snprintf(j->error, sizeof j->error, "out of memory");
        return;
    }
    if ((n = vector_scan(j)) == (size_t)-1) {
        j->status = RAGD_ENOMEM;
        snprintf(j->error, sizeof j->error, "out of memory");
        return;
    }
    if (n == 0 || atomic_load(&j->cancelled))
        return;
    c = &j->v->conns[worker];
    if (!c->db && vector_conn_open(j->v, c, j->error, sizeof j->error) != 0) {
        j->status = RAGD_ERR;
        return;
    }
    vector_lookup(j, c, n);
}

/* ------------------------------------------------------------ search -- */

/* Free the filter's verdicts: the snapshot they were made for is held
 * until the scan is done, and no longer. */
static void vector_keep_free(vector_job *j)
{
    if (!j->keep)
        return;
    for (size_t i = 0; i < j->snap->nseg; i++)
        free(j->keep[i]);
    free(j->keep);
    j->keep = NULL;
}

static void vector_job_free(vector_job *j)
{
    hits_release(j->hits, j->nhits);
    free(j->cands);
    free(j->q);
    free(j);
}

/* Answer the host and free j: the end of every search that started.  A
 * cancelled search answers RAGD_ECANCELED whatever it had.  Loop only. */
static void vector_finish(vector_job *j, int status, const char *error)
{
    if (atomic_load(&j->cancelled))
        j->cb(j->arg, RAGD_ECANCELED, NULL, 0, "cancelled");
    else if (status != RAGD_OK)
        j->cb(j->arg, status, NULL, 0, error);
    else
        j->cb(j->arg, RAGD_OK, j->hits, j->nhits, NULL);
    vector_job_free(j);
}

static void vector_scan_done(void *arg)
{
    vector_job *j = arg;

    /* Chunks that vanished mean the store changed under this snapshot (a
     * re-ingest): refresh now rather than at the next tick. */
    if (j->vanished && j->v->timer)
        event_active(j->v->timer, EV_TIMEOUT, 0);
    vector_keep_free(j);
    vector_snap_unref(j->snap);
    j->snap = NULL;
    vector_finish(j, j->status, j->error);
}

static int vector_is_zero(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f)
            return 0;
    return 1;
}

/* The query embedding arrived (loop thread): start the scan on the current
 * snapshot, or finish now -- this is already later than search(). */
static void vector_embedded(void *arg, int status, const float *x, size_t dims, const char *error)
{
    vector_job *j = arg;
    vector *v = j->v;
    char why[sizeof j->error];
    int rc;

    if (status != RAGD_OK) {
        snprintf(why, sizeof why, "embed: %s", error ? error : "failed");
        vector_finish(j, status, why);
        return;
    }
    if (atomic_load(&j->cancelled)) {
        vector_finish(j, RAGD_ECANCELED, "cancelled");
        return;
    }
    if (dims != v->dims) {
        snprintf(why, sizeof why, "embed: the embedder gave %zu dimensions, the store has %zu",
                 dims, v->dims);
        vector_finish(j, RAGD_ERR, why);
        return;
    }
    /* No words, no direction: every cosine would be 0. */
    if (vector_is_zero(x, dims)) {
        vector_finish(j, RAGD_OK, NULL);
        return;
    }
    if (!(j->q = vector_aligned_alloc(dims * sizeof *j->q))) {
        vector_finish(j, RAGD_ENOMEM, "out of memory");
        return;
    }
    memcpy(j->q, x, dims * sizeof *j->q);
    j->snap = vector_snap_get(v);
    if ((rc = v->host->work_submit(v->host, vector_scan_work, vector_scan_done, j)) != RAGD_OK) {
        vector_snap_unref(j->snap);
        j->snap = NULL;
        vector_finish(j, rc < 0 ? rc : RAGD_ERR, "cannot queue the scan");
    }
}

static int vector_search(void *self, const ragd_query *q, ragd_search_cb cb, void *arg, ragd_op **op)
{
    vector *v = self;
    vector_job *j;
    int rc;

    if (q->k < 1)
        return RAGD_EINVAL;
    if (!(j = calloc(1, sizeof *j)))
        return RAGD_ENOMEM;
    j->v = v;
    j->k = q->k;
    j->filter = q->filter_ref;
    j->cb = cb;
    j->arg = arg;
    atomic_init(&j->cancelled, 0);
    /* Candidates are distinct documents; the spare ones stand in for chunks
     * deleted since the snapshot was loaded. */
    j->ncap = (size_t)q->k + 16;
    j->npool = v->quantize && v->rerank > j->ncap ? v->rerank : j->ncap;
    if (!(j->hits = calloc((size_t)q->k, sizeof *j->hits)) ||
        !(j->cands = calloc(j->ncap, sizeof *j->cands))) {
        vector_job_free(j);
        return RAGD_ENOMEM;
    }
    if ((rc = v->host->embed(v->host, q->text, q->deadline_ms, vector_embedded, j)) != RAGD_OK) {
        vector_job_free(j);
        return rc < 0 ? rc : RAGD_ERR;
    }
    *op = (ragd_op *)j;
    return RAGD_OK;
}

/* Takes effect when the embedding arrives or before the scan starts; a
 * running scan finishes (it takes milliseconds) and then answers
 * RAGD_ECANCELED. */
static void vector_cancel(void *self, ragd_op *op)
{
    (void)self;
    atomic_store(&((vector_job *)op)->cancelled, 1);
}

/* ----------------------------------------------------------- refresh -- */

/* Warn about skipped rows once per distinct count, not at every reload. */
static void vector_note_skipped(vector *v, size_t skipped)
{
    if (skipped && skipped != v->skipped)
        v->host->log(v->host, RAGD_LOG_WARN,
                     "%s: skipped %zu vectors that are not %zu float32 values", v->path,
                     skipped, v->dims);
    v->skipped = skipped;
}

/* The refresh work function, on a worker: touches only r, the snapshot r
 * holds (read-only) and the loading handle, which no one else uses while
 * a refresh is in flight.  Leaves r->snap NULL when nothing changed. */
static void vector_refresh_work(void *arg, unsigned worker)
{
    vector_refresh *r = arg;
    int64_t last;

    (void)worker;
    if (store_last_seq(r->v->load_db, &last) != 0) {
        snprintf(r->error, sizeof r->error, "sqlite: %s", store_errmsg(r->v->load_db));
        r->status = RAGD_ERR;
    } else if (last != r->old->seq) {
        vector_apply(r, last);
    }
}

static void vector_free(vector *v);

static void vector_told(void *arg);

/* The refresh done callback, on the loop: swap the new snapshot in (running
 * scans keep the old one until they finish), or report the failure once
 * and keep serving the old snapshot. */
static void vector_refresh_done(void *arg)
{
    vector_refresh *r = arg;
    vector *v = r->v;

    v->refreshing = 0;
    vector_snap_unref(r->old);
    if (v->dying) {
        vector_snap_unref(r->snap);
        free(r);
        vector_free(v); /* v is gone: nothing below may touch it */
        return;
    }
    if (r->status != RAGD_OK) {
        if (!v->refresh_failed)
            v->host->log(v->host, RAGD_LOG_WARN, "reload failed, still serving %zu vectors: %s",
                         v->snap->nrows - v->snap->ndead, r->error);
        v->refresh_failed = 1;
    } else if (r->snap) {
        vector_snap *old;

        assert(r->snap->dims == v->dims);
        spin_lock(&v->snap_lock);
        old = v->snap;
        v->snap = r->snap;
        spin_unlock(&v->snap_lock);
        vector_snap_unref(old);
        v->refresh_failed = 0;
        if (r->full) {
            vector_note_skipped(v, r->skipped);
            metrics_add(obs.index_loads, 1, v->name);
            if (r->behind)
                v->host->log(v->host, RAGD_LOG_WARN,
                             "further behind than the change log keeps (change %lld was"
                             " trimmed): reloaded the whole index",
                             (long long)r->from + 1);
            v->host->log(v->host, RAGD_LOG_INFO, "reloaded %zu vectors", v->snap->nrows);
        } else {
            if (r->skipped)
                vector_note_skipped(v, r->skipped);
            v->host->log(v->host, RAGD_LOG_INFO, "applied %zu changed documents: %zu vectors",
                         r->changed, v->snap->nrows - v->snap->ndead);
        }
    }
    free(r);
    if (!v->dying && v->pending)
        vector_told(v);
}

/* The refresh timer (loop thread): start a refresh unless one runs. */
static void vector_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    vector *v = arg;
    vector_refresh *r;

    (void)fd;
    (void)what;
    if (v->refreshing)
        return;
    if (!(r = calloc(1, sizeof *r))) {
        v->host->log(v->host, RAGD_LOG_WARN, "reload skipped: out of memory");
        return;
    }
    r->v = v;
    r->old = vector_snap_get(v);
    v->refreshing = 1;
    if (v->host->work_submit(v->host, vector_refresh_work, vector_refresh_done, r) != RAGD_OK) {
        v->refreshing = 0;
        vector_snap_unref(r->old);
        free(r);
        v->host->log(v->host, RAGD_LOG_WARN, "reload skipped: cannot queue it");
    }
}

/* The store was written in this process (notify.h): apply its change log
 * now, or right after the refresh that runs, which may have begun before
 * the change committed. */
static void vector_told(void *arg)
{
    vector *v = arg;

    v->pending = v->refreshing;
    if (!v->refreshing)
        vector_timer_cb(-1, 0, v);
}

/* ---------------------------------------------------------- lifetime -- */

/* Free v and all it owns.  Loop only, with no scan or refresh in flight. */
static void vector_free(vector *v)
{
    notify_unsubscribe(&v->sub);
    if (v->timer)
        event_free(v->timer);
    for (unsigned i = 0; i < v->nconns; i++)
        store_close(&v->conns[i].db);
    store_close(&v->load_db);
    vector_snap_unref(v->snap);
    par_free(&v->par);
    free(v->conns);
    free(v->embedder);
    free(v->path);
    free(v);
}

/* A refresh may still be running on a worker with the loading connection:
 * then stop the timer now and let the refresh's done callback free v. */
static void vector_destroy(void *self)
{
    vector *v = self;

    notify_unsubscribe(&v->sub);
    if (v->timer) {
        event_free(v->timer);
        v->timer = NULL;
    }
    if (v->refreshing)
        v->dying = 1;
    else
        vector_free(v);
}

/* Open the loading handle and load the first snapshot.  Returns 0, or -1
 * with a message naming the file. */
static int vector_open_store(vector *v, char *err, size_t errlen)
{
    size_t skipped;

    if (store_open(v->path, 0, &v->load_db, err, errlen) != 0 ||
        vector_load(v, v->load_db, &v->snap, &skipped, err, errlen) != 0)
        return -1;
    vector_note_skipped(v, skipped);
    metrics_add(obs.index_loads, 1, v->name);
    return 0;
}

/* Start the refresh timer, firing every ms milliseconds. */
static int vector_start_timer(vector *v, long long ms, char *err, size_t errlen)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};

    if (!(v->timer = event_new(v->host->base, -1, EV_PERSIST, vector_timer_cb, v)) ||
        event_add(v->timer, &tv) != 0) {
        snprintf(err, errlen, "cannot start the refresh timer");
        return -1;
    }
    return 0;
}

static int vector_create(const ragd_host *host, const char *name, json_t *config, void **self,
                      char *err, size_t errlen)
{
    const char *path, *quantize;
    long long refresh_ms, rerank, threads;
    long cores = (long)cores_usable();
    const vec_kernel *kernel;
    vector *v;

    if (host->cfg_string(config, "db", NULL, &path, err, errlen) ||
        host->cfg_int(config, "refresh_ms", 1000, 0, 86400000, &refresh_ms, err, errlen) ||
        host->cfg_string(config, "quantize", "none", &quantize, err, errlen) ||
        host->cfg_int(config, "rerank", 100, 1, 100000, &rerank, err, errlen) ||
        host->cfg_int(config, "scan_threads",
                      cores < 1 ? 1 : cores > VEC_MAX_THREADS ? VEC_MAX_THREADS : cores, 1,
                      VEC_MAX_THREADS, &threads, err, errlen))
        return RAGD_EINVAL;
    if (!path || !*path) {
        snprintf(err, errlen, "db: required");
        return RAGD_EINVAL;
    }
    if (strcmp(quantize, "none") != 0 && strcmp(quantize, "int8") != 0) {
        snprintf(err, errlen, "quantize: \"none\" or \"int8\"");
        return RAGD_EINVAL;
    }
    if (!(kernel = vec_kernel_pick())) {
        snprintf(err, errlen, "RAGD_VEC_KERNEL: no kernel \"%s\" that this CPU runs",
                 getenv("RAGD_VEC_KERNEL"));
        return RAGD_EINVAL;
    }
    if (host->embed_dims == 0 || !host->embedder) {
        snprintf(err, errlen, "ragd has no query embedder");
        return RAGD_EINVAL;
    }
    if (!(v = calloc(1, sizeof *v)))
        return RAGD_ENOMEM;
    v->host = host;
    snprintf(v->name, sizeof v->name, "%s", name);
    v->dims = host->embed_dims;
    v->kernel = kernel;
    v->quantize = strcmp(quantize, "int8") == 0;
    v->rerank = (size_t)rerank;
    v->scan_threads = (unsigned)threads;
    if (!(v->path = strdup(path)) || !(v->embedder = strdup(host->embedder)) ||
        !(v->conns = calloc(host->nworkers ? host->nworkers : 1, sizeof *v->conns))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    v->nconns = host->nworkers;
    if (threads > 1 && !(v->par = par_new((unsigned)threads - 1))) {
        snprintf(err, errlen, "cannot start %lld scan threads", threads);
        goto fail;
    }
    if (vector_open_store(v, err, errlen) != 0 ||
        (refresh_ms > 0 && vector_start_timer(v, refresh_ms, err, errlen) != 0))
        goto fail;
    if (!(v->sub = notify_subscribe(v->path, vector_told, v))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    host->log(host, RAGD_LOG_INFO, "%zu vectors of %zu dimensions loaded from %s (%s scan, %s kernel)",
              v->snap->nrows, v->dims, v->path, v->quantize ? "int8" : "exact", kernel->name);
    *self = v;
    return RAGD_OK;
fail:
    vector_free(v);
    return RAGD_ERR;
}

static const ragd_source_type vector_type = {
    RAGD_SOURCE_ABI_VERSION, "vector", vector_create, vector_search, vector_cancel, vector_destroy,
    RAGD_SOURCE_FILTERS | RAGD_SOURCE_LOOPS,
};

/* The vector source type, for ragd's registry of built-in sources. */
const ragd_source_type *ragd_source_vector(void)
{
    return &vector_type;
}
