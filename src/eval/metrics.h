/*
 * metrics -- retrieval metrics for rag-eval, computed the way trec_eval does.
 *
 * Pure: no I/O, no allocation visible to the caller, so the unit test links
 * this module alone.  Semantics follow
 *   trec_eval -c -m ndcg_cut.10 -m recall.10,100 -m recip_rank
 * with one deliberate difference: MRR is cut at rank 10 ("MRR@10", as BEIR
 * reports it), where trec_eval's recip_rank looks at every retrieved doc.
 */
#ifndef RAGD_EVAL_METRICS_H
#define RAGD_EVAL_METRICS_H

#include <stddef.h>

/* Recall@k is tracked for k = 1..EVAL_CURVE_MAX (the chart's curves). */
#define EVAL_CURVE_MAX 100

/* One retrieved document of one query. */
typedef struct eval_hit {
    const char *doc;
    double score;
} eval_hit;

/* One qrels judgment of one query; rel > 0 means relevant, rel is the gain. */
typedef struct eval_judgment {
    const char *doc;
    int rel;
} eval_judgment;

/* The scores of one query. */
typedef struct eval_scores {
    double ndcg10, recall10, recall100, mrr10;
    double curve[EVAL_CURVE_MAX]; /* curve[i] = recall@(i+1) */
} eval_scores;

/* Running sums over queries; eval_metrics_mean turns them into averages. */
typedef struct eval_metrics_sum {
    eval_scores total;
    size_t nqueries;
} eval_metrics_sum;

/*
 * Sort hits[0..n) the way trec_eval reads a run: score descending, ties
 * broken by document id descending (strcmp, reverse lexical order) -- not by
 * the rank column of the run file.
 */
void eval_metrics_sort(eval_hit *hits, size_t n);

/*
 * Score one query.  hits[0..nhits) are its results with distinct doc ids
 * (trec_eval rejects duplicates; callers deduplicate), in any order: they
 * are sorted in place with eval_metrics_sort.  judg[0..njudg) are its qrels
 * judgments with distinct doc ids.  nhits == 0 scores 0 everywhere.  A query
 * with no relevant judgment scores 0 (recall has no denominator; trec_eval
 * does the same).  nDCG@10: gain = rel, discount log2(rank + 1), ideal DCG
 * from the query's judgments sorted by rel.
 */
void eval_metrics_query(eval_hit *hits, size_t nhits,
                        const eval_judgment *judg, size_t njudg,
                        eval_scores *out);

/* Add one query's scores to the sums. */
void eval_metrics_add(eval_metrics_sum *sum, const eval_scores *s);

/*
 * The averages of the sums over nqueries queries -- pass the number of
 * queries in the qrels split, not the number answered, to get trec_eval -c:
 * a query never added counts as 0.  nqueries == 0 gives all zeros.
 */
void eval_metrics_mean(const eval_metrics_sum *sum, size_t nqueries,
                       eval_scores *out);

#endif /* RAGD_EVAL_METRICS_H */
