/*
 * output -- rag-eval's result files: report.json, summary.md and the TREC
 * run files runs/<run>.trec.
 */
#ifndef RAGD_EVAL_OUTPUT_H
#define RAGD_EVAL_OUTPUT_H

#include <stdio.h>

#include "eval/run.h"

/*
 * Create s->opt->out (and runs/ in it) if needed and write report.json,
 * summary.md and one run file per run.  Returns 0, or -1 after naming the
 * file that could not be written on stderr.
 */
int eval_output_write(const eval_session *s);

/* Print the summary table (the Markdown of summary.md) to f. */
void eval_output_print(const eval_session *s, FILE *f);

/* malloc'd "DIR/NAME"; NULL when out of memory.  chart.c writes into the
 * same folder with it. */
char *eval_output_path(const char *dir, const char *name);

#endif /* RAGD_EVAL_OUTPUT_H */
