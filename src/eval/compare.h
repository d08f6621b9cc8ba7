/*
 * compare -- `rag-eval compare BASE.json NEW.json`: the regression gate.
 */
#ifndef RAGD_EVAL_COMPARE_H
#define RAGD_EVAL_COMPARE_H

/*
 * Print, for every run present in both reports, each metric's base, new and
 * delta, marking drops larger than max_drop (absolute).  Runs present in
 * only one report are listed and not judged.  Returns the exit status: 0 no
 * metric dropped by more than max_drop, 1 some did, 2 a report is unusable
 * (unreadable, not JSON, no "runs", a metric missing or not a number).
 */
int eval_compare_main(const char *base, const char *fresh, double max_drop);

#endif /* RAGD_EVAL_COMPARE_H */
