/*
 * compare -- diffing two report.json files metric by metric.
 *
 * A tiny tolerance on the threshold keeps a drop of exactly max_drop (say
 * 0.05 written as 0.68 -> 0.63) from failing through floating-point noise.
 */
#include "eval/compare.h"

#include <jansson.h>
#include <stdio.h>

#define EVAL_COMPARE_EPS 1e-9

static const char *const eval_compare_metrics[] = {"ndcg@10", "recall@10", "recall@100", "mrr@10"};
#define EVAL_COMPARE_NMETRICS (sizeof eval_compare_metrics / sizeof *eval_compare_metrics)

/* The "runs" object of the report at path, or NULL after saying why. */
static json_t *eval_compare_load(const char *path, json_t **doc)
{
    json_error_t err;
    json_t *runs;

    *doc = json_load_file(path, 0, &err);
    if (!*doc) {
        fprintf(stderr, "rag-eval: %s: %s\n", path, err.text);
        return NULL;
    }
    runs = json_object_get(*doc, "runs");
    if (!json_is_object(runs)) {
        fprintf(stderr, "rag-eval: %s: not a rag-eval report (no \"runs\" object)\n", path);
        return NULL;
    }
    return runs;
}

/* runs[run].metrics[metric]; -1 after naming what is missing. */
static int eval_compare_value(json_t *runs, const char *path, const char *run,
                              const char *metric, double *v)
{
    json_t *m = json_object_get(json_object_get(json_object_get(runs, run), "metrics"), metric);

    if (!json_is_number(m)) {
        fprintf(stderr, "rag-eval: %s: runs.%s.metrics.%s is missing or not a number\n",
                path, run, metric);
        return -1;
    }
    *v = json_number_value(m);
    return 0;
}

/* Compare one run; returns drops found, -1 on unusable input. */
static int eval_compare_run(json_t *base, json_t *fresh, const char *bpath,
                            const char *npath, const char *run, double max_drop)
{
    int drops = 0;

    for (size_t i = 0; i < EVAL_COMPARE_NMETRICS; i++) {
        const char *m = eval_compare_metrics[i];
        double b, n;
        if (eval_compare_value(base, bpath, run, m, &b) < 0
            || eval_compare_value(fresh, npath, run, m, &n) < 0)
            return -1;
        int drop = b - n > max_drop + EVAL_COMPARE_EPS;
        printf("%-12s %-11s %9.4f %9.4f %+9.4f%s\n", run, m, b, n, n - b,
               drop ? "  DROP" : "");
        drops += drop;
    }
    return drops;
}

/* List runs of a that b lacks. */
static void eval_compare_only(json_t *a, json_t *b, const char *apath)
{
    const char *run;
    json_t *v;

    json_object_foreach(a, run, v)
        if (!json_object_get(b, run))
            printf("%-12s only in %s, not compared\n", run, apath);
}

int eval_compare_main(const char *base, const char *fresh, double max_drop)
{
    json_t *bdoc = NULL, *ndoc = NULL, *v;
    json_t *bruns = eval_compare_load(base, &bdoc);
    json_t *nruns = bruns ? eval_compare_load(fresh, &ndoc) : NULL;
    const char *run;
    int drops = 0, compared = 0, rc = 2;

    if (!nruns)
        goto fail;
    printf("%-12s %-11s %9s %9s %9s\n", "run", "metric", "base", "new", "delta");
    json_object_foreach(bruns, run, v) {
        if (!json_object_get(nruns, run))
            continue;
        int d = eval_compare_run(bruns, nruns, base, fresh, run, max_drop);
        if (d < 0)
            goto fail;
        drops += d;
        compared++;
    }
    eval_compare_only(bruns, nruns, base);
    eval_compare_only(nruns, bruns, fresh);
    if (!compared) {
        fprintf(stderr, "rag-eval: %s and %s have no run in common\n", base, fresh);
        goto fail;
    }
    if (drops)
        printf("%d metric(s) dropped by more than %g\n", drops, max_drop);
    else
        printf("no metric dropped by more than %g\n", max_drop);
    rc = drops ? 1 : 0;
fail:
    json_decref(bdoc);
    json_decref(ndoc);
    return rc;
}
