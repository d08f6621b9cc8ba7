/*
 * test_eval_metrics -- rag-eval's metrics against hand-computed values.
 *
 * trec_eval is not packaged for Debian, so each expected value is derived
 * in a comment from the definitions trec_eval uses (ndcg_cut.10, recall.10,
 * recall.100, recip_rank cut at 10, -c averaging).  Links metrics.c alone.
 */
#include <math.h>
#include <stdio.h>

#include "eval/metrics.h"
#include "tap.h"

#define near(got, want, ...) ok(fabs((got) - (want)) < 1e-9, __VA_ARGS__)

/* Ties sort by docno descending: b, a (both 1.0), then c. */
static void test_ties(void)
{
    eval_hit h[] = {{"a", 1.0}, {"c", 0.5}, {"b", 1.0}};
    eval_judgment j[] = {{"a", 1}};
    eval_scores s;

    eval_metrics_sort(h, 3);
    is_str(h[0].doc, "b", "tie: higher docno first");
    is_str(h[1].doc, "a", "tie: then the lower docno");
    is_str(h[2].doc, "c", "lower score last");
    /* a at rank 2: MRR 1/2; nDCG = (1/log2 3) / (1/log2 2) = 0.6309297536 */
    eval_metrics_query(h, 3, j, 1, &s);
    near(s.mrr10, 0.5, "tie broken against the relevant doc: MRR@10 = 1/2");
    near(s.ndcg10, 1 / log2(3.0), "tie: nDCG@10 = 1/log2(3) = 0.6309");
    near(s.recall10, 1.0, "tie: recall@10 = 1");
}

/* No results: everything 0. */
static void test_no_results(void)
{
    eval_judgment j[] = {{"a", 1}, {"b", 2}};
    eval_scores s;

    eval_metrics_query(NULL, 0, j, 2, &s);
    ok(s.ndcg10 == 0 && s.recall10 == 0 && s.recall100 == 0 && s.mrr10 == 0,
       "no results: all metrics 0");
    ok(s.curve[0] == 0 && s.curve[99] == 0, "no results: curve 0");
}

/* Two hits, three relevant docs: recall stays at 1/3 up to k = 100. */
static void test_fewer_than_k(void)
{
    eval_hit h[] = {{"x", 3}, {"y", 2}};
    eval_judgment j[] = {{"x", 1}, {"z", 1}, {"w", 1}};
    eval_scores s;

    eval_metrics_query(h, 2, j, 3, &s);
    near(s.recall10, 1.0 / 3, "fewer hits than k: recall@10 = 1/3");
    near(s.recall100, 1.0 / 3, "fewer hits than k: recall@100 = 1/3");
    near(s.curve[0], 1.0 / 3, "curve: recall@1 = 1/3");
    near(s.curve[57], 1.0 / 3, "curve: recall@58 holds at 1/3");
    /* DCG = 1; IDCG = 1 + 1/log2 3 + 1/log2 4 */
    near(s.ndcg10, 1 / (1 + 1 / log2(3.0) + 0.5), "fewer hits: ideal still from all judgments");
}

/*
 * Graded: ranked d1 (rel 1), d2 (rel 2), d3 (unjudged); d4 (rel 3) missed.
 * DCG = 1/log2 2 + 2/log2 3 = 2.2618595; IDCG = 3 + 2/log2 3 + 1/log2 4
 * = 4.7618595; nDCG@10 = 0.4749950106.
 */
static void test_graded(void)
{
    eval_hit h[] = {{"d1", 0.9}, {"d2", 0.8}, {"d3", 0.7}};
    eval_judgment j[] = {{"d1", 1}, {"d2", 2}, {"d4", 3}, {"d5", 0}};
    eval_scores s;

    eval_metrics_query(h, 3, j, 4, &s);
    near(s.ndcg10, 0.4749950106150897, "graded nDCG@10 = 0.474995");
    near(s.recall10, 2.0 / 3, "rel 0 judgments are not relevant: recall@10 = 2/3");
    near(s.mrr10, 1.0, "MRR@10 = 1");
}

/* Twelve relevant docs retrieved first: the ideal keeps only the top 10. */
static void test_ideal_cut(void)
{
    static const char *ids[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"};
    eval_hit h[12];
    eval_judgment j[12];
    eval_scores s;

    for (int i = 0; i < 12; i++) {
        h[i] = (eval_hit){ids[i], 100.0 - i};
        j[i] = (eval_judgment){ids[i], 1};
    }
    eval_metrics_query(h, 12, j, 12, &s);
    near(s.ndcg10, 1.0, "more than 10 relevant: perfect ranking gives nDCG@10 = 1");
    near(s.recall10, 10.0 / 12, "recall@10 = 10/12");
}

/* First relevant at rank 11: MRR@10 = 0 (trec_eval's uncut recip_rank would
 * say 1/11); relevant at 11, 100 and 101 of 3: recall@100 = 2/3. */
static void test_cuts(void)
{
    static char names[150][16];
    eval_hit h[150];
    eval_judgment j[] = {{"r011", 1}, {"r100", 1}, {"r101", 1}};
    eval_scores s;

    for (int i = 0; i < 150; i++) {
        snprintf(names[i], sizeof names[i], "r%03d", i + 1);
        h[i] = (eval_hit){names[i], 1000.0 - i};
    }
    eval_metrics_query(h, 150, j, 3, &s);
    near(s.mrr10, 0.0, "MRR cut at 10: relevant at rank 11 scores 0");
    near(s.ndcg10, 0.0, "nDCG@10 sees nothing past rank 10");
    near(s.recall10, 0.0, "recall@10 = 0");
    near(s.recall100, 2.0 / 3, "recall@100 counts ranks 1..100: 2/3");
    near(s.curve[10], 1.0 / 3, "curve: recall@11 = 1/3");
}

/* A query with only rel-0 judgments has no relevant doc: scores 0. */
static void test_no_relevant(void)
{
    eval_hit h[] = {{"a", 1}};
    eval_judgment j[] = {{"a", 0}};
    eval_scores s;

    eval_metrics_query(h, 1, j, 1, &s);
    ok(s.ndcg10 == 0 && s.recall10 == 0 && s.recall100 == 0 && s.mrr10 == 0,
       "no relevant judgment: all metrics 0");
}

/* -c: q1 perfect (1.0), q2 unanswered (never added): mean over 2 = 0.5. */
static void test_average_all(void)
{
    eval_hit h[] = {{"a", 1}};
    eval_judgment j[] = {{"a", 1}};
    eval_metrics_sum sum = {0};
    eval_scores s, m;

    eval_metrics_query(h, 1, j, 1, &s);
    eval_metrics_add(&sum, &s);
    eval_metrics_mean(&sum, 2, &m);
    near(m.ndcg10, 0.5, "-c: an unanswered query counts as 0 in the mean");
    near(m.mrr10, 0.5, "-c: MRR@10 mean 0.5");
    near(m.curve[0], 0.5, "-c: curve mean 0.5");
    eval_metrics_mean(&sum, 0, &m);
    ok(m.ndcg10 == 0, "no queries: mean 0, no division by zero");
}

/* Ties on a real case: q with a relevant doc "m1" tied with "m2": m2 first,
 * so nDCG = (1/log2 3 + 1/log2 5) / (1 + 1/log2 3) for rels m1, m3 at
 * ranks 2 and 4 = 0.6509209298. */
static void test_ties_ndcg(void)
{
    eval_hit h[] = {{"m1", 0.5}, {"m2", 0.5}, {"m4", 0.4}, {"m3", 0.3}};
    eval_judgment j[] = {{"m1", 1}, {"m3", 1}};
    eval_scores s;

    eval_metrics_query(h, 4, j, 2, &s);
    near(s.ndcg10, 0.6509209298071326, "tied pair: nDCG@10 = 0.650921");
}

int main(void)
{
    test_ties();
    test_no_results();
    test_fewer_than_k();
    test_graded();
    test_ideal_cut();
    test_cuts();
    test_no_relevant();
    test_average_all();
    test_ties_ndcg();
    return tap_done();
}
