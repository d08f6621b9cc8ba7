/*
 * run -- `rag-eval run`: ask ragd every query of a split, once per source
 * and once fused, score the answers and write the results.
 *
 * The types here are the evaluation's data model, read by the writers in
 * output.c and chart.c.
 */
#ifndef RAGD_EVAL_RUN_H
#define RAGD_EVAL_RUN_H

#include <stddef.h>

#include "eval/dataset.h"
#include "eval/metrics.h"

/* How scores are printed in run files; written scores are exactly these. */
#define EVAL_SCORE_FMT "%.12g"
/* The run that asks every source at once. */
#define EVAL_FUSED "fused"

typedef struct eval_opts {
    const char *dataset, *url, *split, *out;
    int k;
    size_t concurrency;
    int ingest;
    const char *db, *ragd;
} eval_opts;

/* One query's answer in one run. */
typedef struct eval_result {
    eval_hit *hits; /* distinct docs, ragd's order, strictly decreasing scores */
    size_t nhits;
    double latency_ms;
    int ok; /* an answer came (else: failed twice, scored as empty) */
} eval_result;

/* One run: a source on its own, or the fused result. */
typedef struct eval_run {
    char *name;
    eval_result *res; /* [nqueries], in dataset order */
    eval_scores mean; /* averaged over every query of the split */
    double p50, p95, p99;
    size_t nlatency;  /* answers the percentiles are over; 0: none */
    size_t nerror, ntimeout, nanswered;
} eval_run;

typedef struct eval_session {
    const eval_opts *opt;
    const eval_dataset *ds;
    eval_run *runs; /* the sources in ragd's order, then EVAL_FUSED */
    size_t nruns;
    char date[32];  /* UTC, ISO 8601 */
} eval_session;

/*
 * Run the whole evaluation described by opt and write opt->out.  Returns
 * the process exit status: 0 done (even with failed requests, which are
 * counted and reported), 2 on unusable input, an unreachable ragd or an
 * output that cannot be written (all explained on stderr).
 */
int eval_run_main(const eval_opts *opt);

#endif /* RAGD_EVAL_RUN_H */
