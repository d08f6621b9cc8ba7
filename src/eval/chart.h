/*
 * chart -- rag-eval's chart.svg: recall@k curves and latency per run.
 */
#ifndef RAGD_EVAL_CHART_H
#define RAGD_EVAL_CHART_H

#include "eval/run.h"

/*
 * Write s->opt->out/chart.svg (the folder exists: eval_output_write made
 * it): on the left recall@k for k = 1..100 per run on a log x axis, on the
 * right each run's latency as a p50-p95 box with a whisker to p99.  Plain
 * SVG: generic font families, no scripts, no external references.  Returns
 * 0, or -1 after naming the file on stderr.
 */
int eval_chart_write(const eval_session *s);

#endif /* RAGD_EVAL_CHART_H */
