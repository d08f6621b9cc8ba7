/*
 * vec_scan -- top-k documents by dot product over rows held in memory:
 * the exact scan, the int8 scan that picks candidates, and the float
 * re-rank of those candidates.
 *
 * Rows come in segments (vec_rows); a document's rows are one run in one
 * segment, so the scan keeps the best row of each run and offers it to a
 * bounded min-heap of documents: no sort of all scores.  Rows are numbered
 * across segments (a segment's base is the number of its row 0), and a
 * range of those numbers can be scanned on its own, so one scan splits
 * into parts (vec_scan_cut keeps a document in one part) whose heaps merge
 * with vec_scan_offer.  Ties in score go to the lower row number, so the
 * result does not depend on how the scan was split.  Nothing here
 * allocates but vec_scan_int8's query buffer; nothing here owns the rows.
 */
#ifndef RAGD_VEC_SCAN_H
#define RAGD_VEC_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "vec_kernel.h"

/* One segment's rows as the scan reads them (all borrowed):
 *  - f: n rows of dims floats, row r at f + r * dims;
 *  - q, scale: the rows quantised to int8 by vec_quant_rows, or NULL;
 *  - doc: each row's document number; a document's rows are one run;
 *  - keep: per document number, 0 to skip its rows; NULL keeps all;
 *  - dead: tombstone bits numbered across segments (row r is bit
 *    base + r), 1 to skip the row; NULL when none is set. */
typedef struct vec_rows {
    size_t n, dims, base;
    const float *f;
    const int8_t *q;
    const float *scale;
    const uint32_t *doc;
    const unsigned char *keep;
    const unsigned char *dead;
} vec_rows;

/* A document found by the scan: its score, its segment, the row that
 * scored it and its run of rows [first, end) in that segment. */
typedef struct vec_cand {
    float score;
    uint32_t seg, row, first, end;
} vec_cand;

/* The first row number at or after at where a document's run begins (or
 * the end of the rows): a boundary that splits no document. */
size_t vec_scan_cut(const vec_rows *segs, size_t nseg, size_t at);

/* Offer c to the min-heap h[0..n) of at most cap (root: the worst kept).
 * Returns the new n. */
size_t vec_scan_offer(vec_cand *h, size_t n, size_t cap, vec_cand c);

/* Score rows [from, to) exactly against q (dims floats) with kernel k,
 * offering each document's best row to the heap h[0..n) of at most cap.
 * Returns the new n. */
size_t vec_scan_exact(const vec_kernel *k, const vec_rows *segs, size_t nseg, size_t from,
                      size_t to, const float *q, vec_cand *h, size_t n, size_t cap);

/* The same through the int8 rows (every segment must have them): scores
 * are estimates, for vec_scan_rerank.  Returns the new n, or (size_t)-1
 * when out of memory. */
size_t vec_scan_int8(const vec_kernel *k, const vec_rows *segs, size_t nseg, size_t from,
                     size_t to, const float *q, vec_cand *h, size_t n, size_t cap);

/* Score the runs of the candidates c[0..nc) exactly and offer each
 * document's best row to the heap h[0..n) of at most cap (h and c must not
 * overlap).  Returns the new n. */
size_t vec_scan_rerank(const vec_kernel *k, const vec_rows *segs, const float *q,
                       const vec_cand *c, size_t nc, vec_cand *h, size_t n, size_t cap);

/* Sort the heap h[0..n) best first, in place. */
void vec_scan_sort(vec_cand *h, size_t n);

#endif /* RAGD_VEC_SCAN_H */
