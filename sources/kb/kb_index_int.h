/*
 * kb_index_int -- the layout of a kb index snapshot, shared by the files
 * that build it (kb_index.c) and search it (kb_topk.c).  Not for use
 * elsewhere: the rest of the kb speaks kb_index.h and kb_topk.h.
 */
#ifndef RAGD_KB_INDEX_INT_H
#define RAGD_KB_INDEX_INT_H

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kb_block.h"
#include "kb_index.h"

/* Postings per block: the unit of decoding and of the maximum-impact
 * bounds that let a search skip. */
#define KB_INDEX_BLOCK KB_BLOCK_MAX

/* FTS5's bm25() constants (fts5_aux.c). */
#define KB_INDEX_K1 1.2
#define KB_INDEX_B 0.75

/* One block of a term's postings: its bytes start at off in the term's
 * data, packed at width (kb_block.h); it holds n rows (1..KB_INDEX_BLOCK),
 * the last of which is last.  gmax is the highest of the term's BM25
 * frequency factors in its rows, f * (k1 + 1) / (f + k1 * (1 - b + b * D
 * / avgdl)), with the segment's own avgdl: times the IDF it bounds the
 * term's score in any row of the block, and kb_topk scales it for the
 * statistics of the moment (the factor grows at most as fast as avgdl).
 * While a segment is built, a term's data is instead, per row, a varint
 * gap and the counts' varints, packed into blocks when the term is
 * finished. */
typedef struct kb_index_block {
    uint64_t off;
    uint32_t last;
    uint16_t n;
    uint8_t width;
    double gmax;
} kb_index_block;

/* A term of one segment: its text (owned, NUL-terminated), its postings
 * (df rows, ascending, dead ones included).  The pend and open fields belong to the builder: the row being
 * counted and the block being filled. */
typedef struct kb_index_term {
    char *s;
    uint32_t len, df;
    unsigned char *data;
    size_t size, cap;
    kb_index_block *blocks;
    uint32_t nblocks, capblocks;
    int64_t pend;        /* -1: none */
    uint32_t pn[2];
    uint32_t prev;       /* the last row written */
} kb_index_term;

/* An open-addressing table from strings to indexes; slots hold index + 1
 * (0: empty), keys live in the segment. */
typedef struct kb_index_map {
    uint32_t *slot;
    size_t cap; /* a power of two; 0 before the first insert */
    size_t n;
} kb_index_map;

/* A segment: rows (row i is chunk chunk[i] of document doc[i], len[i]
 * tokens; len8[i] the same in a byte, or KB_INDEX_LEN8 when it does not
 * fit: a quarter of the table a search looks a length up in for every
 * posting it scores, which then stays in a nearer cache), documents
 * (docs[d], with their rows doc_rows[doc_off[d] .. doc_off[d+1])),
 * terms, and each row's terms (fwd[fwd_off[i] .. fwd_off[i+1]), term
 * indexes) for tombstoning.  Immutable once built; shared by snapshots,
 * refs counts them. */
typedef struct kb_index_seg {
    atomic_uint refs;
    size_t nrows, caprows;
    int64_t *chunk;
    uint32_t *len, *doc;
    uint8_t *len8;
    int64_t ntokens;
    double avgdl;         /* ntokens / nrows, for the blocks' gmax */
    size_t ndocs, capdocs;
    char **docs;
    uint32_t *doc_off, *doc_rows;
    kb_index_map docmap;
    size_t nterms, capterms;
    kb_index_term *terms;
    kb_index_map termmap;
    uint32_t *fwd_off, *fwd;
} kb_index_seg;

/* A segment as one snapshot sees it: dead is a bitmap of its rows (NULL
 * while none is dead) and ddf[t] the dead rows holding term t. */
typedef struct kb_index_part {
    kb_index_seg *seg;
    unsigned char *dead;
    size_t ndead;
    uint32_t *ddf;
} kb_index_part;

struct kb_index {
    atomic_uint refs;
    double tw, xw;        /* the column weights, as FTS5 reads them */
    int64_t seq;
    size_t nparts;
    kb_index_part *parts;
    int64_t nrows;        /* live rows: FTS5's row count */
    int64_t ntokens;      /* their tokens: FTS5's total size */
};

/* len8's mark for a length of this many tokens or more. */
#define KB_INDEX_LEN8 255

/* The length of row r of segment g, from the byte table when it holds it. */
static inline uint32_t kb_index_len(const kb_index_seg *g, uint32_t r)
{
    uint32_t l = g->len8[r];

    return l < KB_INDEX_LEN8 ? l : g->len[r];
}

/* Whether row r of part p is a tombstone. */
static inline int kb_index_is_dead(const kb_index_part *p, uint32_t r)
{
    return p->dead && (p->dead[r >> 3] >> (r & 7) & 1);
}

/* The weighted frequency FTS5 sums for a row with n0 title and n1 text
 * occurrences: one weight per occurrence, title first, in its order, so
 * that the sum rounds as FTS5's does. */
static inline double kb_index_freq(const kb_index *ix, uint32_t n0, uint32_t n1)
{
    double f = 0.0;

    if (ix->tw == 1.0 && ix->xw == 1.0)
        return (double)(n0 + n1);
    for (uint32_t i = 0; i < n0; i++)
        f += ix->tw;
    for (uint32_t i = 0; i < n1; i++)
        f += ix->xw;
    return f;
}

/* FTS5's inverse document frequency for df of nrows rows. */
static inline double kb_index_idf(int64_t nrows, int64_t df)
{
    double idf = log((nrows - df + 0.5) / (df + 0.5));

    return idf <= 0.0 ? 1e-6 : idf;
}

/* The frequency factor of BM25 that kb_index_term_score multiplies by
 * the IDF, for weighted frequency f and row length D. */
static inline double kb_index_factor(double f, double D, double avgdl)
{
    const double k1 = KB_INDEX_K1;
    const double b = KB_INDEX_B;

    return (f * (k1 + 1.0)) / (f + k1 * (1 - b + b * D / avgdl));
}

/* One phrase's term of FTS5's bm25() sum, written as fts5_aux.c writes it
 * so that it rounds the same: idf, weighted frequency f, row length D. */
static inline double kb_index_term_score(double idf, double f, double D, double avgdl)
{
    const double k1 = KB_INDEX_K1;
    const double b = KB_INDEX_B;

    return idf * ((f * (k1 + 1.0)) / (f + k1 * (1 - b + b * D / avgdl)));
}

/* The part of kb_index_term_score that depends on the row length D alone,
 * as that expression rounds it (the same operations in the same order),
 * so that a caller may compute it once per length. */
static inline double kb_index_norm(double D, double avgdl)
{
    const double k1 = KB_INDEX_K1;
    const double b = KB_INDEX_B;

    return k1 * (1 - b + b * D / avgdl);
}

/* kb_index_term_score with its length norm given: the same double when
 * norm is kb_index_norm(D, avgdl). */
static inline double kb_index_term_score_norm(double idf, double f, double norm)
{
    const double k1 = KB_INDEX_K1;

    return idf * ((f * (k1 + 1.0)) / (f + norm));
}

/* The first row block b of term t may hold. */
static inline uint32_t kb_index_base(const kb_index_term *t, uint32_t b)
{
    return b ? t->blocks[b - 1].last + 1 : 0;
}

/* Decode block b of term t's rows into rows (KB_INDEX_BLOCK); returns
 * its row count. */
static inline uint32_t kb_index_decode_rows(const kb_index_term *t, uint32_t b, uint32_t *rows)
{
    const kb_index_block *blk = &t->blocks[b];

    kb_block_rows(t->data + blk->off, blk->width, blk->n, kb_index_base(t, b), rows);
    return blk->n;
}

/* Decode block b of term t's counts into n0 (title) and n1 (text). */
static inline void kb_index_decode_counts(const kb_index_term *t, uint32_t b, uint32_t *n0,
                                          uint32_t *n1)
{
    const kb_index_block *blk = &t->blocks[b];

    kb_block_counts(t->data + blk->off, blk->width, blk->n, n0, n1);
}

/* Decode block b of term t into rows, n0, n1 (KB_INDEX_BLOCK each);
 * returns its row count. */
static inline uint32_t kb_index_decode(const kb_index_term *t, uint32_t b, uint32_t *rows,
                                       uint32_t *n0, uint32_t *n1)
{
    kb_index_decode_counts(t, b, n0, n1);
    return kb_index_decode_rows(t, b, rows);
}

/* The term index of s (len bytes) in g, or -1. */
int64_t kb_index_term_find(const kb_index_seg *g, const char *s, size_t len);

#endif /* RAGD_KB_INDEX_INT_H */
