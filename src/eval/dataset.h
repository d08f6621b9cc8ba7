/*
 * dataset -- loading and checking a BEIR dataset for rag-eval.
 *
 * A BEIR dataset is a folder with corpus.jsonl ({"_id", "title", "text"}
 * per line), queries.jsonl ({"_id", "text"} per line) and qrels/SPLIT.tsv
 * ("query-id<TAB>corpus-id<TAB>score" after a header line).  Only the
 * queries of the split are kept, and of the corpus only the ids are read,
 * to check that every judged document exists: a corpus may be large.
 */
#ifndef RAGD_EVAL_DATASET_H
#define RAGD_EVAL_DATASET_H

#include <stddef.h>

#include "eval/metrics.h"

/* One query of the split with its judgments. */
typedef struct eval_query {
    char *id;
    char *text;
    eval_judgment *judg; /* distinct docs; judg[i].doc is owned */
    size_t njudg;
    size_t first_line; /* its first qrels line: keeps the file's order */
} eval_query;

typedef struct eval_dataset {
    eval_query *queries; /* in order of first appearance in the qrels */
    size_t nqueries;
} eval_dataset;

/*
 * Load DIR/qrels/SPLIT.tsv, the texts of its queries from DIR/queries.jsonl,
 * and check its documents against the ids of DIR/corpus.jsonl.  Returns 0,
 * or -1 after printing to stderr what is wrong: a missing file, a malformed
 * line (file:line), qrels naming unknown queries or documents (the first few
 * ids and the count).  A judgment listed twice keeps its last score, as
 * BEIR's loader does.  On failure *ds is left empty.
 */
int eval_dataset_load(const char *dir, const char *split, eval_dataset *ds);

/* Free what eval_dataset_load filled in; ds may be zeroed or NULL. */
void eval_dataset_free(eval_dataset *ds);

#endif /* RAGD_EVAL_DATASET_H */
