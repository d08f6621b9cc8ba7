/*
 * run -- the `rag-eval run` pipeline: load, (ingest), probe, query, score,
 * write.
 *
 * Each response is reduced on arrival to what scoring needs (doc ids,
 * scores, one latency, source statuses) so memory stays proportional to
 * queries x k, not to response sizes.
 */
#include "url.h"
#include "eval/run.h"

#include "eval/chart.h"
#include "eval/client.h"
#include "eval/output.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Per attempt: generous, since a slow answer is still an answer to score. */
#define EVAL_RUN_TIMEOUT_MS 60000L
/* After --ingest: a running ragd's vector source notices a changed store
 * only at its next refresh (refresh_ms, 1000 by default) and until then
 * answers from its old snapshot, whose re-ingested chunks are gone -- empty
 * results.  Waiting two refresh periods lets it catch up. */
#define EVAL_RUN_SETTLE_MS 2000L
/* Characters of an error body quoted in messages. */
#define EVAL_RUN_QUOTE 200

/* `ragd ingest --db DB DIR/corpus.jsonl`, waited for; 0 when it succeeded. */
static int eval_run_ingest(const eval_opts *o)
{
    const char *ragd = o->ragd ? o->ragd : "ragd";
    size_t n = strlen(o->dataset) + sizeof "/corpus.jsonl";
    char *corpus = malloc(n);
    int status = 0;
    pid_t pid;

    if (!corpus) {
        fprintf(stderr, "rag-eval: out of memory\n");
        return -1;
    }
    snprintf(corpus, n, "%s/corpus.jsonl", o->dataset);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        execlp(ragd, ragd, "ingest", "--db", o->db, corpus, (char *)NULL);
        fprintf(stderr, "rag-eval: cannot run %s: %m\n", ragd);
        _exit(127);
    }
    free(corpus);
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        fprintf(stderr, "rag-eval: cannot run %s: %m\n", ragd);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "rag-eval: %s ingest --db %s failed\n", ragd, o->db);
        return -1;
    }
    nanosleep(&(struct timespec){EVAL_RUN_SETTLE_MS / 1000, EVAL_RUN_SETTLE_MS % 1000 * 1000000L}, NULL);
    return 0;
}

/* The request body for query q, asking only source (NULL: all sources). */
static char *eval_run_body(const eval_session *s, size_t q, const char *source)
{
    json_t *b = json_pack("{s:s, s:i, s:b}", "query", s->ds->queries[q].text,
                          "k", s->opt->k, "generate", 0);
    char *text = NULL;

    if (b && source
        && json_object_set_new(b, "sources", json_pack("[s]", source)) < 0)
        goto fail;
    if (b)
        text = json_dumps(b, JSON_COMPACT);
fail:
    json_decref(b);
    return text;
}

/* Requests are interleaved run by run so every run sees the same load. */
static char *eval_run_make(void *arg, size_t i)
{
    eval_session *s = arg;
    const eval_run *r = &s->runs[i % s->nruns];

    return eval_run_body(s, i / s->nruns,
                         strcmp(r->name, EVAL_FUSED) ? r->name : NULL);
}

static int eval_run_has(const eval_hit *h, size_t n, const char *doc)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(h[i].doc, doc) == 0)
            return 1;
    return 0;
}

/* Round the score to what a run file prints, then step below prev if it
 * does not print strictly lower: the written order must be ragd's order. */
static double eval_run_strict(double score, int first, double prev)
{
    char buf[64];
    double step = fabs(prev) * 1e-11 + 1e-300;

    snprintf(buf, sizeof buf, EVAL_SCORE_FMT, score);
    score = strtod(buf, NULL);
    while (!first && score >= prev) {
        snprintf(buf, sizeof buf, EVAL_SCORE_FMT, prev - step);
        score = strtod(buf, NULL);
        step *= 2;
    }
    return score;
}

/* contexts[] to distinct hits, at most k; -1 when malformed or no memory. */
static int eval_run_hits(json_t *ctxs, int k, eval_result *res)
{
    size_t i;
    json_t *c;

    if (!json_is_array(ctxs))
        return -1;
    res->hits = calloc(json_array_size(ctxs) + 1, sizeof *res->hits);
    if (!res->hits)
        return -1;
    json_array_foreach(ctxs, i, c) {
        json_t *id = json_object_get(c, "id"), *sc = json_object_get(c, "score");
        if (!json_is_string(id) || !json_is_number(sc))
            return -1;
        if (res->nhits >= (size_t)k || eval_run_has(res->hits, res->nhits, json_string_value(id)))
            continue;
        eval_hit *h = &res->hits[res->nhits];
        if (!(h->doc = strdup(json_string_value(id))))
            return -1;
        h->score = eval_run_strict(json_number_value(sc), res->nhits == 0,
                                   res->nhits ? h[-1].score : 0);
        res->nhits++;
    }
    return 0;
}

static void eval_run_result_free(eval_result *res)
{
    for (size_t i = 0; res->hits && i < res->nhits; i++)
        free((char *)res->hits[i].doc);
    free(res->hits);
    memset(res, 0, sizeof *res);
}

/* The latency this run is measured by: the source's own, or the total. */
static int eval_run_latency(json_t *resp, const char *name, double *ms)
{
    json_t *v = strcmp(name, EVAL_FUSED)
                    ? json_object_get(json_object_get(json_object_get(resp, "sources"), name), "latency_ms")
                    : json_object_get(json_object_get(resp, "timing_ms"), "total");

    if (!json_is_number(v))
        return -1;
    *ms = json_number_value(v);
    return 0;
}

/* From a fused answer: count each source's error and timeout. */
static void eval_run_statuses(eval_session *s, json_t *resp)
{
    json_t *srcs = json_object_get(resp, "sources");

    for (size_t i = 0; i < s->nruns; i++) {
        json_t *st = json_object_get(json_object_get(srcs, s->runs[i].name), "status");
        const char *v = json_is_string(st) ? json_string_value(st) : "";
        s->runs[i].nerror += strcmp(v, "error") == 0;
        s->runs[i].ntimeout += strcmp(v, "timeout") == 0;
    }
}

/* Parse one answer into res; -1 when it is not a usable /search answer. */
static int eval_run_parse(eval_session *s, eval_run *run, const eval_client_resp *r,
                          eval_result *res)
{
    json_t *resp;

    if (r->status != 200)
        return -1;
    resp = json_loadb(r->body, r->len, 0, NULL);
    if (!resp || eval_run_hits(json_object_get(resp, "contexts"), s->opt->k, res) < 0
        || eval_run_latency(resp, run->name, &res->latency_ms) < 0) {
        json_decref(resp);
        eval_run_result_free(res);
        return -1;
    }
    if (strcmp(run->name, EVAL_FUSED) == 0)
        eval_run_statuses(s, resp);
    json_decref(resp);
    res->ok = 1;
    run->nanswered++;
    return 0;
}

/* Say which request failed for good and why (the progress line, if any,
 * is cleared first). */
static void eval_run_report_failure(const eval_run *run, const char *qid,
                                    const eval_client_resp *r)
{
    fprintf(stderr, "%srag-eval: %s, query %s: failed twice (", isatty(2) ? "\r\033[K" : "",
            run->name, qid);
    if (r->err)
        fprintf(stderr, "%s", r->err);
    else if (r->status != 200)
        fprintf(stderr, "HTTP %ld", r->status);
    else
        fprintf(stderr, "not a /search answer");
    fprintf(stderr, "), scored as empty\n");
}

/* The client's callback: keep the answer, or count it failed on its last try. */
static int eval_run_done(void *arg, size_t i, const eval_client_resp *r)
{
    eval_session *s = arg;
    eval_run *run = &s->runs[i % s->nruns];
    eval_result *res = &run->res[i / s->nruns];

    if (eval_run_parse(s, run, r, res) == 0)
        return 0;
    if (r->last && strcmp(run->name, EVAL_FUSED) == 0) {
        if (r->err && strstr(r->err, "imed out"))
            run->ntimeout++;
        else
            run->nerror++;
    }
    if (r->last)
        eval_run_report_failure(run, s->ds->queries[i / s->nruns].id, r);
    return -1;
}

/* Nearest-rank percentile of the sorted v[0..n). */
static double eval_run_pct(const double *v, size_t n, double p)
{
    size_t r = (size_t)ceil(p / 100.0 * (double)n);

    return v[r ? r - 1 : 0];
}

static int eval_run_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Metrics (trec_eval -c: averaged over every query) and latency percentiles. */
static int eval_run_score(eval_session *s, eval_run *run)
{
    size_t nq = s->ds->nqueries;
    double *lat = malloc((nq ? nq : 1) * sizeof *lat);
    eval_metrics_sum sum = {0};
    eval_scores one;

    if (!lat)
        return -1;
    run->nlatency = 0;
    for (size_t q = 0; q < nq; q++) {
        const eval_query *dq = &s->ds->queries[q];
        eval_result *res = &run->res[q];
        eval_metrics_query(res->hits, res->nhits, dq->judg, dq->njudg, &one);
        eval_metrics_add(&sum, &one);
        if (res->ok)
            lat[run->nlatency++] = res->latency_ms;
    }
    eval_metrics_mean(&sum, nq, &run->mean);
    qsort(lat, run->nlatency, sizeof *lat, eval_run_cmp_double);
    if (run->nlatency) {
        run->p50 = eval_run_pct(lat, run->nlatency, 50);
        run->p95 = eval_run_pct(lat, run->nlatency, 95);
        run->p99 = eval_run_pct(lat, run->nlatency, 99);
    }
    free(lat);
    return 0;
}

static int eval_run_add(eval_session *s, const char *name)
{
    eval_run *v = realloc(s->runs, (s->nruns + 1) * sizeof *v);

    if (!v)
        return -1;
    s->runs = v;
    memset(&v[s->nruns], 0, sizeof *v);
    v[s->nruns].name = strdup(name);
    v[s->nruns].res = calloc(s->ds->nqueries ? s->ds->nqueries : 1, sizeof *v->res);
    s->nruns++;
    return v[s->nruns - 1].name && v[s->nruns - 1].res ? 0 : -1;
}

/* Probe state: the first answer, or why there was none. */
typedef struct eval_probe {
    const eval_session *s;
    json_t *resp;
    char why[512];
} eval_probe;

static char *eval_run_probe_body(void *arg, size_t i)
{
    eval_probe *p = arg;

    (void)i;
    return eval_run_body(p->s, 0, NULL);
}

static int eval_run_probe_done(void *arg, size_t i, const eval_client_resp *r)
{
    eval_probe *p = arg;

    (void)i;
    if (r->err)
        snprintf(p->why, sizeof p->why, "%s", r->err);
    else if (r->status != 200)
        snprintf(p->why, sizeof p->why, "HTTP %ld: %.*s", r->status,
                 EVAL_RUN_QUOTE, r->body);
    else if (!(p->resp = json_loadb(r->body, r->len, 0, NULL))
             || !json_is_object(json_object_get(p->resp, "sources")))
        snprintf(p->why, sizeof p->why, "not a /search answer: %.*s",
                 EVAL_RUN_QUOTE, r->body);
    else
        return 0;
    json_decref(p->resp);
    p->resp = NULL;
    return -1;
}

/* Ask once without sources; the runs are its enabled sources plus fused. */
static int eval_run_probe(eval_session *s, const char *endpoint)
{
    eval_probe p = {.s = s};
    eval_client c = {.url = endpoint, .concurrency = 1,
                     .timeout_ms = EVAL_RUN_TIMEOUT_MS, .body = eval_run_probe_body,
                     .done = eval_run_probe_done, .ctx = &p};
    const char *name;
    json_t *v;
    int rc = -1;

    if (eval_client_run(&c, 1) < 0)
        return -1;
    if (!p.resp) {
        fprintf(stderr, "rag-eval: cannot use ragd at %s: %s\n", endpoint, p.why);
        return -1;
    }
    json_object_foreach(json_object_get(p.resp, "sources"), name, v) {
        json_t *st = json_object_get(v, "status");
        if (json_is_string(st) && strcmp(json_string_value(st), "disabled") == 0)
            continue;
        if (eval_run_add(s, name) < 0)
            goto oom;
    }
    if (eval_run_add(s, EVAL_FUSED) < 0)
        goto oom;
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "rag-eval: out of memory\n");
done:
    json_decref(p.resp);
    return rc;
}

static void eval_run_session_free(eval_session *s)
{
    for (size_t i = 0; i < s->nruns; i++) {
        for (size_t q = 0; s->runs[i].res && q < s->ds->nqueries; q++)
            eval_run_result_free(&s->runs[i].res[q]);
        free(s->runs[i].res);
        free(s->runs[i].name);
    }
    free(s->runs);
    s->runs = NULL;
    s->nruns = 0;
}

/* Every query through every run, then the scores. */
static int eval_run_all(eval_session *s, const char *endpoint)
{
    eval_client c = {.url = endpoint, .concurrency = s->opt->concurrency,
                     .timeout_ms = EVAL_RUN_TIMEOUT_MS, .progress = isatty(2),
                     .body = eval_run_make, .done = eval_run_done, .ctx = s};

    if (eval_client_run(&c, s->ds->nqueries * s->nruns) < 0)
        return -1;
    for (size_t i = 0; i < s->nruns; i++)
        if (eval_run_score(s, &s->runs[i]) < 0) {
            fprintf(stderr, "rag-eval: out of memory\n");
            return -1;
        }
    return 0;
}

static void eval_run_date(eval_session *s)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(s->date, sizeof s->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int eval_run_main(const eval_opts *opt)
{
    eval_dataset ds;
    eval_session s = {.opt = opt, .ds = &ds};
    char *endpoint = NULL;
    int rc = 2;

    if (eval_dataset_load(opt->dataset, opt->split, &ds) < 0)
        return 2;
    if (opt->ingest && eval_run_ingest(opt) < 0)
        goto fail;
    if (!(endpoint = url_join(opt->url, "/search"))) {
        fprintf(stderr, "rag-eval: out of memory\n");
        goto fail;
    }
    eval_run_date(&s);
    if (eval_run_probe(&s, endpoint) < 0 || eval_run_all(&s, endpoint) < 0
        || eval_output_write(&s) < 0 || eval_chart_write(&s) < 0)
        goto fail;
    eval_output_print(&s, stdout);
    rc = 0;
fail:
    eval_run_session_free(&s);
    eval_dataset_free(&ds);
    free(endpoint);
    return rc;
}
