/*
 * metrics -- nDCG@10, Recall@10/100, MRR@10 and the recall curve, with
 * trec_eval's ordering and averaging rules (see metrics.h).
 *
 * Judgments per query are few (a handful in BEIR), so relevance lookups are
 * a linear scan: simpler than a hash and never the bottleneck next to HTTP.
 */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_NDCG_CUT 10
#define EVAL_MRR_CUT 10

static int eval_metrics_cmp(const void *a, const void *b)
{
    const eval_hit *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(y->doc, x->doc); /* trec_eval: docno descending */
}

void eval_metrics_sort(eval_hit *hits, size_t n)
{
    if (n > 1)
        qsort(hits, n, sizeof *hits, eval_metrics_cmp);
}

/* The rel of doc in judg, 0 when unjudged. */
static int eval_metrics_rel(const char *doc, const eval_judgment *judg,
                            size_t njudg)
{
    for (size_t i = 0; i < njudg; i++)
        if (strcmp(judg[i].doc, doc) == 0)
            return judg[i].rel;
    return 0;
}

/* Ideal DCG@10: the ten largest rels, kept sorted by insertion. */
static double eval_metrics_idcg(const eval_judgment *judg, size_t njudg)
{
    int top[EVAL_NDCG_CUT];
    size_t ntop = 0;
    double idcg = 0;

    for (size_t i = 0; i < njudg; i++) {
        int r = judg[i].rel;
        size_t j;
        if (r <= 0)
            continue;
        if (ntop == EVAL_NDCG_CUT) {
            if (r <= top[EVAL_NDCG_CUT - 1])
                continue;
            j = EVAL_NDCG_CUT - 1; /* full: the smallest falls off */
        } else {
            j = ntop++;
        }
        for (; j > 0 && top[j - 1] < r; j--)
            top[j] = top[j - 1];
        top[j] = r;
    }
    for (size_t i = 0; i < ntop; i++)
        idcg += top[i] / log2((double)i + 2);
    return idcg;
}

static size_t eval_metrics_nrel(const eval_judgment *judg, size_t njudg)
{
    size_t n = 0;

    for (size_t i = 0; i < njudg; i++)
        n += judg[i].rel > 0;
    return n;
}

void eval_metrics_query(eval_hit *hits, size_t nhits,
                        const eval_judgment *judg, size_t njudg,
                        eval_scores *out)
{
    size_t nrel = eval_metrics_nrel(judg, njudg), found = 0;
    double dcg = 0, idcg = eval_metrics_idcg(judg, njudg);

    memset(out, 0, sizeof *out);
    eval_metrics_sort(hits, nhits);
    for (size_t i = 0; i < nhits && i < EVAL_CURVE_MAX; i++) {
        int rel = eval_metrics_rel(hits[i].doc, judg, njudg);
        if (rel > 0) {
            found++;
            if (i < EVAL_NDCG_CUT)
                dcg += rel / log2((double)i + 2);
            if (i < EVAL_MRR_CUT && out->mrr10 == 0)
                out->mrr10 = 1.0 / (double)(i + 1);
        }
        if (nrel)
            out->curve[i] = (double)found / (double)nrel;
    }
    /* Past the last hit recall stays where it got to. */
    for (size_t i = nhits; i > 0 && i < EVAL_CURVE_MAX; i++)
        out->curve[i] = out->curve[i - 1];
    out->recall10 = out->curve[9];
    out->recall100 = out->curve[99];
    out->ndcg10 = idcg > 0 ? dcg / idcg : 0;
}

void eval_metrics_add(eval_metrics_sum *sum, const eval_scores *s)
{
    sum->total.ndcg10 += s->ndcg10;
    sum->total.recall10 += s->recall10;
    sum->total.recall100 += s->recall100;
    sum->total.mrr10 += s->mrr10;
    for (size_t i = 0; i < EVAL_CURVE_MAX; i++)
        sum->total.curve[i] += s->curve[i];
    sum->nqueries++;
}

void eval_metrics_mean(const eval_metrics_sum *sum, size_t nqueries,
                       eval_scores *out)
{
    double d = (double)nqueries;

    memset(out, 0, sizeof *out);
    if (!nqueries)
        return;
    out->ndcg10 = sum->total.ndcg10 / d;
    out->recall10 = sum->total.recall10 / d;
    out->recall100 = sum->total.recall100 / d;
    out->mrr10 = sum->total.mrr10 / d;
    for (size_t i = 0; i < EVAL_CURVE_MAX; i++)
        out->curve[i] = sum->total.curve[i] / d;
}
