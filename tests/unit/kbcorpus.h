/*
 * kbcorpus -- a generated corpus for the kb index's unit tests
 * (test_kb_index.c, test_kb_topk.c): a seeded generator, so that a run is
 * repeatable; words drawn roughly by Zipf's law, so that queries mix every
 * frequency; documents of one to four chunks with a title and a metadata
 * group; and the filter rule the kb applies to a document.
 */
#ifndef RAGD_TEST_KBCORPUS_H
#define RAGD_TEST_KBCORPUS_H

#include <stdio.h>
#include <string.h>

#include <jansson.h>

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

#endif /* RAGD_TEST_KBCORPUS_H */
