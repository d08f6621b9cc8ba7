/*
 * kbcorpus -- a generated corpus for the kb index's unit tests
 * (test_kb_index.c, test_kb_topk.c): a seeded generator, so that a run is
 * repeatable; words drawn roughly by Zipf's law, so that queries mix every
 * frequency; documents of one to four chunks with a title and a metadata
 * group; the filter rule the kb applies to a document; and answers to
 * compare: the FTS5 path's (the reference) and the index's.
 */
#ifndef RAGD_TEST_KBCORPUS_H
#define RAGD_TEST_KBCORPUS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "../../sources/kb/kb_index.h"
#include "../../sources/kb/kb_topk.h"
#include "filter.h"
#include "store.h"

typedef struct kbcorpus {
    unsigned long long rng;       /* the generator's state; its seed first */
    char (*words)[16];            /* words[0..nwords), the caller's */
    unsigned nwords;
    unsigned title_span;          /* a title has 1 + rnd(title_span) words */
    unsigned text_min, text_span; /* a chunk text_min + rnd(text_span) */
} kbcorpus;

/* A number in [0, n). */
static inline unsigned kbcorpus_rnd(kbcorpus *c, unsigned n)
{
    c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((c->rng >> 33) % n);
}

/* A word, common ones far more often. */
static inline const char *kbcorpus_word(kbcorpus *c)
{
    unsigned r = kbcorpus_rnd(c, c->nwords);

    return c->words[kbcorpus_rnd(c, r + 1)];
}

/* Append n words to buf (of size cap). */
static inline void kbcorpus_words_into(kbcorpus *c, char *buf, size_t cap, unsigned n)
{
    size_t off = strlen(buf);

    for (unsigned i = 0; i < n && off + 20 < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%s", off ? " " : "", kbcorpus_word(c));
}

/* Put document number d ("doc<d>") with fresh content.  Returns store_put's. */
static inline int kbcorpus_put(kbcorpus *c, store *s, unsigned d)
{
    char id[32], meta[64], title[256] = "", text[4][2048];
    store_chunk chunks[4];
    unsigned n = 1 + kbcorpus_rnd(c, 4);
    store_doc doc = {.id = id, .title = title, .metadata = meta, .chunks = chunks,
                     .nchunks = n, .fts = 1};

    snprintf(id, sizeof id, "doc%u", d);
    snprintf(meta, sizeof meta, "{\"g\": %u}", kbcorpus_rnd(c, 3));
    kbcorpus_words_into(c, title, sizeof title, 1 + kbcorpus_rnd(c, c->title_span));
    for (unsigned i = 0; i < n; i++) {
        text[i][0] = '\0';
        kbcorpus_words_into(c, text[i], sizeof text[i],
                            c->text_min + kbcorpus_rnd(c, c->text_span));
        chunks[i] = (store_chunk){text[i], strlen(text[i])};
    }
    return store_put(s, &doc);
}

/* Whether flt (NULL: none) keeps the document id with metadata (JSON text
 * or NULL), as the kb decides. */
static inline int kbcorpus_keeps(const filter *flt, const char *id, const char *metadata)
{
    json_t *meta = metadata ? json_loads(metadata, 0, NULL) : NULL;
    int keep = !flt || filter_match(flt, id, meta);

    json_decref(meta);
    return keep;
}

/* ------------------------------------------------------- the answers -- */

#define KBCORPUS_KMAX 100

/* The top documents of one query, best first: each one's best chunk. */
typedef struct kbcorpus_answer {
    size_t n;
    char ids[KBCORPUS_KMAX + 1][32];
    double scores[KBCORPUS_KMAX + 1];
    int64_t chunks[KBCORPUS_KMAX + 1];
} kbcorpus_answer;

typedef struct kbcorpus_ask {
    store *db;
    const filter *flt;
    kbcorpus_answer *a;
    size_t k;
} kbcorpus_ask;

/* The FTS5 path's walk (sources/kb/kb.c kb_take_hit). */
static inline int kbcorpus_fts5_take(void *arg, int64_t chunk_id, double score)
{
    kbcorpus_ask *w = arg;
    store_hit h;

    if (store_chunk_get(w->db, chunk_id, &h) <= 0)
        return 1;
    for (size_t i = 0; i < w->a->n; i++)
        if (!strcmp(w->a->ids[i], h.doc_id))
            return 0;
    if (!kbcorpus_keeps(w->flt, h.doc_id, h.metadata))
        return 0;
    snprintf(w->a->ids[w->a->n], sizeof w->a->ids[0], "%s", h.doc_id);
    w->a->chunks[w->a->n] = chunk_id;
    w->a->scores[w->a->n++] = score;
    return w->a->n >= w->k;
}

/* The reference: FTS5's top k (<= KBCORPUS_KMAX + 1) documents for match
 * among those flt keeps, in *a.  Returns store_kb_rank's. */
static inline int kbcorpus_fts5(store *db, const char *match, const filter *flt, size_t k,
                                kbcorpus_answer *a)
{
    kbcorpus_ask w = {db, flt, a, k};

    memset(a, 0, sizeof *a);
    return store_kb_rank(db, match, kbcorpus_fts5_take, &w);
}

static inline int kbcorpus_index_keeps(void *arg, const char *doc_id)
{
    kbcorpus_ask *c = arg;
    const char *meta;
    int rc = store_doc_metadata(c->db, doc_id, &meta);

    return rc <= 0 ? rc : kbcorpus_keeps(c->flt, doc_id, meta);
}

/* The index's answer for the same, split as sp says (NULL: one thread).
 * Returns 0, or -1 (printed). */
static inline int kbcorpus_index(const kb_index *ix, store *db, const char *match,
                                 const filter *flt, size_t k, const kb_topk_split *sp,
                                 kbcorpus_answer *a)
{
    kb_topk_hit hits[KBCORPUS_KMAX + 1];
    kbcorpus_ask c = {db, flt, a, k};
    char err[256];
    size_t n;
    int rc = kb_topk_search(ix, db, match, k, flt ? kbcorpus_index_keeps : NULL, &c, sp, hits,
                            &n, err, sizeof err);

    memset(a, 0, sizeof *a);
    if (rc != 0) {
        printf("# search: %d %s\n", rc, rc == -1 ? err : "");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(a->ids[i], sizeof a->ids[0], "%s", hits[i].doc_id);
        a->scores[i] = hits[i].score;
        a->chunks[i] = hits[i].chunk_id;
    }
    a->n = n;
    return 0;
}

static inline int kbcorpus_tie(double x, double y)
{
    return fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y));
}

static inline int kbcorpus_tied_near(const kbcorpus_answer *a, size_t i)
{
    return (i > 0 && kbcorpus_tie(a->scores[i], a->scores[i - 1])) ||
           (i + 1 < a->n && kbcorpus_tie(a->scores[i], a->scores[i + 1]));
}

/* Whether got's first n equal ref's up to ties (both asked for more than
 * n, so that a tie at the cut shows). */
static inline int kbcorpus_same_up_to_ties(const kbcorpus_answer *ref, const kbcorpus_answer *got,
                                           size_t n)
{
    size_t m = ref->n < n ? ref->n : n;

    if (m != (got->n < n ? got->n : n))
        return 0;
    for (size_t i = 0; i < m; i++) {
        if (!kbcorpus_tie(ref->scores[i], got->scores[i]))
            return 0;
        if (strcmp(ref->ids[i], got->ids[i]) && !kbcorpus_tied_near(ref, i) &&
            !kbcorpus_tied_near(got, i))
            return 0;
    }
    return 1;
}

/* Whether two of the index's answers are one: documents, chunks, scores
 * to the bit, order. */
static inline int kbcorpus_same_exactly(const kbcorpus_answer *a, const kbcorpus_answer *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->ids[i], b->ids[i]) || a->scores[i] != b->scores[i] ||
            a->chunks[i] != b->chunks[i])
            return 0;
    return 1;
}

#endif /* RAGD_TEST_KBCORPUS_H */
