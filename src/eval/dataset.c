/*
 * dataset -- reading BEIR files line by line with exact error positions.
 *
 * The qrels are read first (they say which queries matter), then sorted by
 * query id so queries.jsonl and corpus.jsonl can be matched against them by
 * binary search in one pass each, holding nothing else in memory.
 */
#include "eval/dataset.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* How many unknown ids an error names before "and N more". */
#define EVAL_DS_NAME_MAX 5

/* One qrels line. */
typedef struct eval_dataset_row {
    char *qid, *doc;
    int rel;
    size_t line;
} eval_dataset_row;

typedef struct eval_dataset_rows {
    eval_dataset_row *v;
    size_t n, cap;
} eval_dataset_rows;

/* A line reader that counts lines and strips the line end. */
typedef struct eval_dataset_file {
    FILE *f;
    const char *path;
    char *line;
    size_t cap, lineno;
} eval_dataset_file;

static int eval_dataset_open(eval_dataset_file *r, const char *path)
{
    struct stat st;

    memset(r, 0, sizeof *r);
    r->path = path;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "rag-eval: %s: is a directory, expected a file\n", path);
        return -1;
    }
    r->f = fopen(path, "r");
    if (!r->f) {
        fprintf(stderr, "rag-eval: %s: %s (is this a BEIR dataset folder?)\n",
                path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The next line without its line end; NULL at the end or on error. */
static char *eval_dataset_next(eval_dataset_file *r)
{
    ssize_t n = getline(&r->line, &r->cap, r->f);

    if (n < 0)
        return NULL;
    r->lineno++;
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
        r->line[--n] = '\0';
    return r->line;
}

/* Close; -1 when the stream had a read error. */
static int eval_dataset_close(eval_dataset_file *r)
{
    int bad = r->f && ferror(r->f);

    if (bad)
        fprintf(stderr, "rag-eval: %s: read error\n", r->path);
    if (r->f)
        fclose(r->f);
    free(r->line);
    memset(r, 0, sizeof *r);
    return bad ? -1 : 0;
}

static int eval_dataset_blank(const char *s)
{
    return s[strspn(s, " \t")] == '\0';
}

static char *eval_dataset_path(const char *dir, const char *a, const char *b)
{
    size_t n = strlen(dir) + strlen(a) + (b ? strlen(b) : 0) + 2;
    char *p = malloc(n);

    if (!p) {
        fprintf(stderr, "rag-eval: out of memory\n");
        return NULL;
    }
    snprintf(p, n, "%s/%s%s", dir, a, b ? b : "");
    return p;
}

/* Parse "qid doc score" (tabs or spaces); 0 ok, -1 malformed. */
static int eval_dataset_split_qrel(char *line, char **f)
{
    char *save = NULL, *end;
    int n = 0;

    for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
        if (n++ < 3)
            f[n - 1] = t;
    if (n != 3)
        return -1;
    errno = 0;
    long v = strtol(f[2], &end, 10);
    if (errno || *end || end == f[2] || v < -1000000 || v > 1000000)
        return -1;
    return 0;
}

static int eval_dataset_push_row(eval_dataset_rows *rows, char **f, size_t line)
{
    eval_dataset_row *r;

    if (rows->n == rows->cap) {
        size_t cap = rows->cap ? rows->cap * 2 : 256;
        eval_dataset_row *v = realloc(rows->v, cap * sizeof *v);
        if (!v)
            return -1;
        rows->v = v;
        rows->cap = cap;
    }
    r = &rows->v[rows->n];
    r->qid = strdup(f[0]);
    r->doc = strdup(f[1]);
    r->rel = (int)strtol(f[2], NULL, 10);
    r->line = line;
    if (!r->qid || !r->doc) {
        free(r->qid);
        free(r->doc);
        return -1;
    }
    rows->n++;
    return 0;
}

static void eval_dataset_rows_free(eval_dataset_rows *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        free(rows->v[i].qid);
        free(rows->v[i].doc);
    }
    free(rows->v);
    memset(rows, 0, sizeof *rows);
}

/* Read every judgment line.  The first line is the header unless its score
 * field is a number (a headerless file loses nothing). */
static int eval_dataset_read_qrels(const char *path, eval_dataset_rows *rows)
{
    eval_dataset_file r;
    char *line, *f[3];

    if (eval_dataset_open(&r, path) < 0)
        return -1;
    while ((line = eval_dataset_next(&r))) {
        if (eval_dataset_blank(line))
            continue;
        char *copy = strdup(line);
        if (!copy)
            goto oom;
        int bad = eval_dataset_split_qrel(copy, f);
        if (bad && r.lineno == 1) {
            free(copy);
            continue;
        }
        if (bad) {
            fprintf(stderr, "rag-eval: %s:%zu: malformed qrels line, expected "
                    "\"query-id<TAB>corpus-id<TAB>integer score\": %.80s\n",
                    path, r.lineno, line);
            free(copy);
            goto fail;
        }
        int pushed = eval_dataset_push_row(rows, f, r.lineno);
        free(copy);
        if (pushed < 0)
            goto oom;
    }
    if (eval_dataset_close(&r) < 0)
        return -1;
    if (rows->n == 0) {
        fprintf(stderr, "rag-eval: %s: no judgments\n", path);
        return -1;
    }
    return 0;
oom:
    fprintf(stderr, "rag-eval: out of memory\n");
fail:
    eval_dataset_close(&r);
    return -1;
}

static int eval_dataset_cmp_row(const void *a, const void *b)
{
    const eval_dataset_row *x = a, *y = b;
    int c = strcmp(x->qid, y->qid);

    if (!c)
        c = strcmp(x->doc, y->doc);
    if (!c)
        c = x->line < y->line ? -1 : x->line > y->line;
    return c;
}

/* Move the judgments of rows[from..to) (one query, sorted by doc) into q,
 * keeping the last line of a doc judged twice. */
static int eval_dataset_make_query(eval_dataset_rows *rows, size_t from, size_t to,
                              eval_query *q)
{
    memset(q, 0, sizeof *q);
    q->judg = calloc(to - from, sizeof *q->judg);
    if (!q->judg)
        return -1;
    q->first_line = rows->v[from].line;
    q->id = rows->v[from].qid;
    rows->v[from].qid = NULL;
    for (size_t i = from; i < to; i++) {
        eval_dataset_row *r = &rows->v[i];
        if (r->line < q->first_line)
            q->first_line = r->line;
        if (i + 1 < to && strcmp(r->doc, rows->v[i + 1].doc) == 0)
            continue;
        q->judg[q->njudg].doc = r->doc;
        q->judg[q->njudg++].rel = r->rel;
        r->doc = NULL;
    }
    return 0;
}

/* Group the sorted rows into queries, sorted by id. */
static int eval_dataset_group(eval_dataset_rows *rows, eval_dataset *ds)
{
    size_t n = 0;

    qsort(rows->v, rows->n, sizeof *rows->v, eval_dataset_cmp_row);
    ds->queries = calloc(rows->n, sizeof *ds->queries);
    if (!ds->queries)
        return -1;
    for (size_t i = 0, j; i < rows->n; i = j) {
        for (j = i + 1; j < rows->n && strcmp(rows->v[j].qid, rows->v[i].qid) == 0; j++)
            ;
        if (eval_dataset_make_query(rows, i, j, &ds->queries[n]) < 0)
            return -1;
        ds->nqueries = ++n;
    }
    return 0;
}

static int eval_dataset_cmp_qid(const void *key, const void *elem)
{
    return strcmp(key, ((const eval_query *)elem)->id);
}

/* The string member name of a parsed line, or an error at file:line. */
static const char *eval_dataset_member(json_t *o, const char *name,
                                  const eval_dataset_file *r)
{
    json_t *v = json_object_get(o, name);

    if (!json_is_string(v)) {
        fprintf(stderr, "rag-eval: %s:%zu: missing string \"%s\"\n", r->path,
                r->lineno, name);
        return NULL;
    }
    return json_string_value(v);
}

/* Parse one JSON-lines object; NULL after naming file:line. */
static json_t *eval_dataset_parse(const char *line, const eval_dataset_file *r)
{
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);

    if (!o || !json_is_object(o)) {
        fprintf(stderr, "rag-eval: %s:%zu: not a JSON object: %s\n", r->path,
                r->lineno, o ? "another JSON value" : err.text);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Take the text of every query of the split from queries.jsonl. */
static int eval_dataset_read_queries(const char *path, eval_dataset *ds)
{
    eval_dataset_file r;
    char *line;

    if (eval_dataset_open(&r, path) < 0)
        return -1;
    while ((line = eval_dataset_next(&r))) {
        if (eval_dataset_blank(line))
            continue;
        json_t *o = eval_dataset_parse(line, &r);
        const char *id = o ? eval_dataset_member(o, "_id", &r) : NULL;
        const char *text = id ? eval_dataset_member(o, "text", &r) : NULL;
        if (!text) {
            json_decref(o);
            goto fail;
        }
        eval_query *q = bsearch(id, ds->queries, ds->nqueries,
                                sizeof *q, eval_dataset_cmp_qid);
        if (q && !q->text && !(q->text = strdup(text))) {
            json_decref(o);
            fprintf(stderr, "rag-eval: out of memory\n");
            goto fail;
        }
        json_decref(o);
    }
    return eval_dataset_close(&r);
fail:
    eval_dataset_close(&r);
    return -1;
}

/* Name the first few of the n unknown ids. */
static void eval_dataset_name_unknown(const char *what, const char *path,
                                 const char **ids, size_t n)
{
    fprintf(stderr, "rag-eval: %s names %zu %s", path, n, what);
    for (size_t i = 0; i < n && i < EVAL_DS_NAME_MAX; i++)
        fprintf(stderr, "%s\"%s\"", i ? ", " : ": ", ids[i]);
    if (n > EVAL_DS_NAME_MAX)
        fprintf(stderr, " and %zu more", n - EVAL_DS_NAME_MAX);
    fprintf(stderr, "\n");
}

static int eval_dataset_check_queries(const eval_dataset *ds, const char *qrels,
                                 const char *queries)
{
    const char **ids = malloc(ds->nqueries * sizeof *ids);
    size_t n = 0;
    char what[64 + 4096];

    if (!ids) {
        fprintf(stderr, "rag-eval: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < ds->nqueries; i++)
        if (!ds->queries[i].text)
            ids[n++] = ds->queries[i].id;
    snprintf(what, sizeof what, "query ids not in %s", queries);
    if (n)
        eval_dataset_name_unknown(what, qrels, ids, n);
    free(ids);
    return n ? -1 : 0;
}

/* Judged doc ids, sorted and distinct, with a found flag each. */
typedef struct eval_dataset_doc {
    const char *id;
    int found;
} eval_dataset_doc;

static int eval_dataset_cmp_doc(const void *a, const void *b)
{
    return strcmp(((const eval_dataset_doc *)a)->id, ((const eval_dataset_doc *)b)->id);
}

static int eval_dataset_cmp_doc_key(const void *key, const void *elem)
{
    return strcmp(key, ((const eval_dataset_doc *)elem)->id);
}

static eval_dataset_doc *eval_dataset_judged_docs(const eval_dataset *ds, size_t *n)
{
    size_t total = 0, k = 0;
    eval_dataset_doc *d;

    for (size_t i = 0; i < ds->nqueries; i++)
        total += ds->queries[i].njudg;
    d = calloc(total ? total : 1, sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < ds->nqueries; i++)
        for (size_t j = 0; j < ds->queries[i].njudg; j++)
            d[k++].id = ds->queries[i].judg[j].doc;
    qsort(d, total, sizeof *d, eval_dataset_cmp_doc);
    *n = 0;
    for (size_t i = 0; i < total; i++)
        if (*n == 0 || strcmp(d[*n - 1].id, d[i].id))
            d[(*n)++] = d[i];
    return d;
}

/* Mark the judged docs that corpus.jsonl holds; -1 on a malformed line. */
static int eval_dataset_scan_corpus(const char *path, eval_dataset_doc *docs, size_t n)
{
    eval_dataset_file r;
    char *line;

    if (eval_dataset_open(&r, path) < 0)
        return -1;
    while ((line = eval_dataset_next(&r))) {
        if (eval_dataset_blank(line))
            continue;
        json_t *o = eval_dataset_parse(line, &r);
        const char *id = o ? eval_dataset_member(o, "_id", &r) : NULL;
        if (!id) {
            json_decref(o);
            eval_dataset_close(&r);
            return -1;
        }
        eval_dataset_doc *d = bsearch(id, docs, n, sizeof *d, eval_dataset_cmp_doc_key);
        if (d)
            d->found = 1;
        json_decref(o);
    }
    return eval_dataset_close(&r);
}

static int eval_dataset_check_docs(const eval_dataset *ds, const char *qrels,
                              const char *corpus)
{
    size_t n = 0, nmissing = 0;
    eval_dataset_doc *docs = eval_dataset_judged_docs(ds, &n);
    const char **missing = NULL;
    char what[64 + 4096];
    int rc = -1;

    if (!docs || !(missing = malloc((n ? n : 1) * sizeof *missing))) {
        fprintf(stderr, "rag-eval: out of memory\n");
        goto fail;
    }
    if (eval_dataset_scan_corpus(corpus, docs, n) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!docs[i].found)
            missing[nmissing++] = docs[i].id;
    snprintf(what, sizeof what, "document ids not in %s", corpus);
    if (nmissing)
        eval_dataset_name_unknown(what, qrels, missing, nmissing);
    else
        rc = 0;
fail:
    free(missing);
    free(docs);
    return rc;
}

static int eval_dataset_cmp_first_line(const void *a, const void *b)
{
    const eval_query *x = a, *y = b;

    return x->first_line < y->first_line ? -1 : x->first_line > y->first_line;
}

int eval_dataset_load(const char *dir, const char *split, eval_dataset *ds)
{
    eval_dataset_rows rows = {0};
    char *qrels = eval_dataset_path(dir, "qrels/", split);
    char *queries = eval_dataset_path(dir, "queries.jsonl", NULL);
    char *corpus = eval_dataset_path(dir, "corpus.jsonl", NULL);
    char *tsv = NULL;
    int rc = -1;

    memset(ds, 0, sizeof *ds);
    if (!qrels || !queries || !corpus)
        goto fail;
    tsv = malloc(strlen(qrels) + 5);
    if (!tsv) {
        fprintf(stderr, "rag-eval: out of memory\n");
        goto fail;
    }
    sprintf(tsv, "%s.tsv", qrels);
    if (eval_dataset_read_qrels(tsv, &rows) < 0)
        goto fail;
    if (eval_dataset_group(&rows, ds) < 0) {
        fprintf(stderr, "rag-eval: out of memory\n");
        goto fail;
    }
    if (eval_dataset_read_queries(queries, ds) < 0
        || eval_dataset_check_queries(ds, tsv, queries) < 0
        || eval_dataset_check_docs(ds, tsv, corpus) < 0)
        goto fail;
    qsort(ds->queries, ds->nqueries, sizeof *ds->queries, eval_dataset_cmp_first_line);
    rc = 0;
fail:
    if (rc < 0)
        eval_dataset_free(ds);
    eval_dataset_rows_free(&rows);
    free(tsv);
    free(qrels);
    free(queries);
    free(corpus);
    return rc;
}

void eval_dataset_free(eval_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->nqueries; i++) {
        eval_query *q = &ds->queries[i];
        for (size_t j = 0; j < q->njudg; j++)
            free((char *)q->judg[j].doc);
        free(q->judg);
        free(q->id);
        free(q->text);
    }
    free(ds->queries);
    memset(ds, 0, sizeof *ds);
}
