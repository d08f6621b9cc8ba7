/*
 * kb_topk -- the k best documents of a query on a kb index snapshot,
 * ranked exactly as the FTS5 path ranks them (store_kb_rank): BM25 as
 * FTS5's bm25() computes it, a document scored by its best chunk.
 *
 * Block-max MaxScore over the snapshot's blocks: terms whose bounds
 * together cannot lift a chunk into the top k are only looked up, never
 * walked, and runs of rows whose blocks' bounds fall short are skipped
 * undecoded.  Not for query syntax: it takes kb_match's expression.
 *
 * A costly query's walk may be split: each segment's rows are cut into
 * ranges, each range walked into its own top k on a thread of a par
 * set (the caller's among them), the ranges sharing the best k-th score
 * any of them has reached to prune by, and the parts' top k merged.  The
 * answer is the unsplit walk's, bit for bit and in the same order.
 */
#ifndef RAGD_KB_TOPK_H
#define RAGD_KB_TOPK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kb_index.h"
#include "store.h"
#include "par.h" /* the helper threads a split walk runs on */

/* A result: the best chunk of a document and its score (minus FTS5's
 * bm25(): higher is better).  doc_id belongs to the snapshot searched. */
typedef struct kb_topk_hit {
    int64_t chunk_id;
    double score;
    const char *doc_id;
} kb_topk_hit;

/* Whether document doc_id may be a result: 1 yes, 0 no, -1 error (the
 * search stops and fails). */
typedef int (*kb_topk_keep_fn)(void *arg, const char *doc_id);

/* The query has a phrase FTS5 splits into other than one token: the index
 * holds no positions, so the caller ranks it the FTS5 way. */
#define KB_TOPK_FALLBACK (-2)

/* How a search may be split.  par: the helper threads (NULL: never
 * split), shared with other searches; nparts: the ranges of a split walk
 * (< 2: never split); min_cost: split only a query whose terms hold at
 * least this many rows in all (the sum of their document frequencies);
 * adapt: 0 walks a costly query in nparts ranges always (tests, benches),
 * 1 in as many as split_ways allows when it starts, up to nparts -- one,
 * unsplit, when no helper is waiting or no core is free; nsplit (NULL:
 * not counted) counts the walks that were split. */
typedef struct kb_topk_split {
    par *par;
    unsigned nparts;
    int64_t min_cost;
    int adapt;
    _Atomic unsigned long *nsplit;
} kb_topk_split;

/* The default min_cost: below it, a walk takes about a millisecond or
 * less, and a split would cost more than it saves. */
#define KB_TOPK_SPLIT_COST 200000

/* Rank the chunks of ix that match match (kb_match_expr's `"w1" OR "w2"
 * ...`), keeping the best chunk of each document that keep accepts (keep
 * NULL: every document), and write the best k documents, best first, to
 * hits (room for k).  db is a handle on the same store, used only to split
 * the query with FTS5's tokenizer.  Ties order by chunk id.  split (NULL:
 * one thread) may split the walk; keep is then called from other threads
 * too, but never from two at once.  Returns 0 with *nhits,
 * KB_TOPK_FALLBACK, or -1 with a message in err. */
int kb_topk_search(const kb_index *ix, store *db, const char *match, size_t k,
                   kb_topk_keep_fn keep, void *arg, const kb_topk_split *split,
                   kb_topk_hit *hits, size_t *nhits, char *err, size_t errlen);

#endif /* RAGD_KB_TOPK_H */
