/*
 * output -- writing rag-eval's report, summary and run files.
 *
 * Run files are what trec_eval reads ("qid Q0 docno rank score run"); their
 * scores are the strictly decreasing ones the metrics were computed from, so
 * trec_eval on them reproduces report.json.
 */
#include "eval/output.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* mkdir -p: 0, or -1 with errno. */
static int eval_output_mkdirs(const char *path)
{
    char *p = strdup(path);
    int rc = 0;

    if (!p)
        return -1;
    for (char *c = p + 1; *c && rc == 0; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, 0777) < 0 && errno != EEXIST)
            rc = -1;
        *c = '/';
    }
    if (rc == 0 && mkdir(p, 0777) < 0 && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}

char *eval_output_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Close f; -1 (after naming path) when anything written was lost. */
static int eval_output_close(FILE *f, const char *path)
{
    int bad = ferror(f);

    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "rag-eval: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static FILE *eval_output_open(const char *path)
{
    FILE *f = path ? fopen(path, "w") : NULL;

    if (!f)
        fprintf(stderr, "rag-eval: cannot create %s: %s\n",
                path ? path : "a file", path ? strerror(errno) : "out of memory");
    return f;
}

static int eval_output_trec(const eval_session *s, const eval_run *r,
                            const char *dir)
{
    size_t n = strlen(r->name) + sizeof ".trec";
    char *name = malloc(n), *path = NULL;
    FILE *f = NULL;
    int rc = -1;

    if (!name) {
        fprintf(stderr, "rag-eval: out of memory\n");
        goto fail;
    }
    snprintf(name, n, "%s.trec", r->name);
    path = eval_output_path(dir, name);
    if (!(f = eval_output_open(path)))
        goto fail;
    for (size_t q = 0; q < s->ds->nqueries; q++)
        for (size_t i = 0; i < r->res[q].nhits; i++)
            fprintf(f, "%s Q0 %s %zu " EVAL_SCORE_FMT " %s\n", s->ds->queries[q].id,
                    r->res[q].hits[i].doc, i + 1, r->res[q].hits[i].score, r->name);
    rc = eval_output_close(f, path);
fail:
    free(path);
    free(name);
    return rc;
}

/* Percentiles, or nulls when no answer came. */
static json_t *eval_output_latency(const eval_run *r)
{
    if (!r->nlatency)
        return json_pack("{s:n, s:n, s:n}", "p50", "p95", "p99");
    return json_pack("{s:f, s:f, s:f}", "p50", r->p50, "p95", r->p95, "p99", r->p99);
}

static json_t *eval_output_run_json(const eval_run *r)
{
    return json_pack("{s:{s:f, s:f, s:f, s:f}, s:o, s:{s:I, s:I}, s:I}",
                     "metrics", "ndcg@10", r->mean.ndcg10, "recall@10", r->mean.recall10,
                     "recall@100", r->mean.recall100, "mrr@10", r->mean.mrr10,
                     "latency_ms", eval_output_latency(r),
                     "failures", "error", (json_int_t)r->nerror,
                     "timeout", (json_int_t)r->ntimeout,
                     "queries", (json_int_t)r->nanswered);
}

static json_t *eval_output_report(const eval_session *s)
{
    json_t *runs = json_object(), *doc;

    for (size_t i = 0; runs && i < s->nruns; i++)
        if (json_object_set_new(runs, s->runs[i].name, eval_output_run_json(&s->runs[i])) < 0) {
            json_decref(runs);
            return NULL;
        }
    doc = json_pack("{s:{s:s, s:s, s:I}, s:s, s:i, s:s, s:o}",
                    "dataset", "path", s->opt->dataset, "split", s->opt->split,
                    "queries", (json_int_t)s->ds->nqueries,
                    "url", s->opt->url, "k", s->opt->k, "date", s->date, "runs", runs);
    return doc;
}

static int eval_output_report_file(const eval_session *s, const char *path)
{
    json_t *doc = eval_output_report(s);
    int rc = -1;

    if (!doc) {
        fprintf(stderr, "rag-eval: out of memory\n");
        return -1;
    }
    if (json_dump_file(doc, path, JSON_INDENT(2) | JSON_REAL_PRECISION(8)) == 0)
        rc = 0;
    else
        fprintf(stderr, "rag-eval: cannot write %s\n", path);
    json_decref(doc);
    return rc;
}

void eval_output_print(const eval_session *s, FILE *f)
{
    fprintf(f, "## rag-eval: `%s` (%s)\n\n", s->opt->dataset, s->opt->split);
    fprintf(f, "- dataset: `%s`, split `%s`, %zu queries\n", s->opt->dataset,
            s->opt->split, s->ds->nqueries);
    fprintf(f, "- ragd: `%s`, k = %d\n- date: %s\n\n", s->opt->url, s->opt->k, s->date);
    fprintf(f, "| run | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | p50 ms | p99 ms |\n");
    fprintf(f, "|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < s->nruns; i++) {
        const eval_run *r = &s->runs[i];
        fprintf(f, "| %s | %.4f | %.4f | %.4f | %.4f | ", r->name, r->mean.ndcg10,
                r->mean.recall10, r->mean.recall100, r->mean.mrr10);
        if (r->nlatency)
            fprintf(f, "%.1f | %.1f |\n", r->p50, r->p99);
        else
            fprintf(f, "- | - |\n");
    }
    fprintf(f, "\nMetrics as `trec_eval -c` (MRR cut at 10), averaged over all %zu queries.\n",
            s->ds->nqueries);
    for (size_t i = 0; i < s->nruns; i++)
        if (s->runs[i].nerror || s->runs[i].ntimeout)
            fprintf(f, "- %s failures: error %zu, timeout %zu\n", s->runs[i].name,
                    s->runs[i].nerror, s->runs[i].ntimeout);
}

static int eval_output_summary(const eval_session *s, const char *path)
{
    FILE *f = eval_output_open(path);

    if (!f)
        return -1;
    eval_output_print(s, f);
    return eval_output_close(f, path);
}

int eval_output_write(const eval_session *s)
{
    char *runs = eval_output_path(s->opt->out, "runs");
    char *report = eval_output_path(s->opt->out, "report.json");
    char *summary = eval_output_path(s->opt->out, "summary.md");
    int rc = -1;

    if (!runs || !report || !summary) {
        fprintf(stderr, "rag-eval: out of memory\n");
        goto fail;
    }
    if (eval_output_mkdirs(runs) < 0) {
        fprintf(stderr, "rag-eval: cannot create %s: %s\n", runs, strerror(errno));
        goto fail;
    }
    for (size_t i = 0; i < s->nruns; i++)
        if (eval_output_trec(s, &s->runs[i], runs) < 0)
            goto fail;
    if (eval_output_report_file(s, report) < 0 || eval_output_summary(s, summary) < 0)
        goto fail;
    rc = 0;
fail:
    free(runs);
    free(report);
    free(summary);
    return rc;
}
