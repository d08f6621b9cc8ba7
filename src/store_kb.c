/*
 * store_kb -- the kb's full-text rows as FTS5 itself tokenised them, for
 * the kb source's in-memory index (sources/kb/kb_index.c).
 *
 * The index must rank exactly as FTS5's bm25() does, so it never splits
 * text on its own: a whole build reads every (term, row) pair from FTS5's
 * own index through an fts5vocab table, and a document read after a change,
 * or a query, is split by the table's own tokenizer, found through the
 * fts5_api.  Not for ranking: that is the index's job.
 */
#include "store.h"
#include "store_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

/* The kb's index reads FTS5: a PostgreSQL store has none yet. */
#define STORE_KB_ON_PG(s)                                                                    \
    do {                                                                                     \
        if (store_pg_of(s))                                                                  \
            return store_pg_unsupported(store_pg_of(s), "the kb's full-text index");         \
    } while (0)

/* Every full-text row with its chunk's document, ascending.  A row without
 * a chunk would break the store's invariants: it is reported as an error
 * rather than dropped, since it still counts in FTS5's statistics. */
static const char store_kb_rows_sql[] =
    "SELECT f.rowid, c.doc_id FROM kb_fts f LEFT JOIN chunks c ON c.id = f.rowid"
    " ORDER BY f.rowid";

/* The instance view of FTS5's index: one row per token occurrence, by term,
 * then row, then column and offset.  In temp, so a read-only handle can
 * create it. */
static const char store_kb_vocab_sql[] =
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ragd_kb_vocab"
    " USING fts5vocab(main, kb_fts, instance)";
static const char store_kb_terms_sql[] = "SELECT term, doc, col FROM temp.ragd_kb_vocab";

/* A document's full-text rows, as indexed. */
static const char store_kb_doc_sql[] =
    "SELECT f.rowid, f.title, f.text FROM chunks c JOIN kb_fts f ON f.rowid = c.id"
    " WHERE c.doc_id = ?1 ORDER BY c.id";

/* The table's tokenizer, created once per handle (store_kb_release frees
 * it). */
typedef struct store_kb_tok {
    fts5_tokenizer api;
    Fts5Tokenizer *tok;
} store_kb_tok;

/* What a tokenize call hands to FTS5's callback. */
typedef struct store_kb_tokctx {
    store_kb_token_fn fn;
    void *arg;
    int column;
    int stopped;
} store_kb_tokctx;

void store_kb_release(void **slot)
{
    store_kb_tok *t = *slot;

    if (!t)
        return;
    if (t->tok)
        t->api.xDelete(t->tok);
    free(t);
    *slot = NULL;
}

/* The process's fts5_api for s's connection, or NULL. */
static fts5_api *store_kb_fts5(store *s)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(store_sqlite(s), "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK) {
        store_fail(s);
        return NULL;
    }
    if (sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL) == SQLITE_OK)
        sqlite3_step(st);
    sqlite3_finalize(st);
    if (!api)
        store_fail_msg(s, "FTS5 is not available");
    return api;
}

/* s's tokenizer: the one kb_fts declares (STORE_KB_TOKENIZER: a name, then
 * its arguments), created on first use.  NULL with s's error on failure. */
static store_kb_tok *store_kb_tokenizer(store *s)
{
    void **slot = store_kb_slot(s);
    const char *args[] = {STORE_KB_TOKENIZER_ARGS};
    store_kb_tok *t;
    fts5_api *api;
    void *ud = NULL;

    if (*slot)
        return *slot;
    if (!(api = store_kb_fts5(s)))
        return NULL;
    if (!(t = calloc(1, sizeof *t))) {
        store_fail_msg(s, "out of memory");
        return NULL;
    }
    if (api->xFindTokenizer(api, STORE_KB_TOKENIZER_NAME, &ud, &t->api) != SQLITE_OK ||
        t->api.xCreate(ud, args, (int)(sizeof args / sizeof *args), &t->tok) != SQLITE_OK) {
        free(t);
        store_fail_msg(s, "cannot create the full-text tokenizer");
        return NULL;
    }
    *slot = t;
    return t;
}

static int store_kb_token_cb(void *ctx, int tflags, const char *tok, int len, int start, int end)
{
    store_kb_tokctx *c = ctx;

    (void)start;
    (void)end;
    /* FTS5 counts only non-colocated tokens in a row's size; the index
     * follows it (this tokenizer makes none). */
    if (tflags & FTS5_TOKEN_COLOCATED)
        return SQLITE_OK;
    if (c->fn(c->arg, tok, (size_t)len, c->column) != 0) {
        c->stopped = 1;
        return SQLITE_DONE;
    }
    return SQLITE_OK;
}

/* Split text as FTS5 does for flags; tokens go to fn with column. */
static int store_kb_split(store *s, int flags, const char *text, size_t len, int column,
                          store_kb_token_fn fn, void *arg)
{
    store_kb_tok *t = store_kb_tokenizer(s);
    store_kb_tokctx c = {fn, arg, column, 0};
    int rc;

    if (!t)
        return -1;
    if (len > INT32_MAX)
        return store_fail_msg(s, "text too long to tokenize");
    rc = t->api.xTokenize(t->tok, &c, flags, text ? text : "", (int)len, store_kb_token_cb);
    if (rc != SQLITE_OK && !(c.stopped && rc == SQLITE_DONE))
        return store_fail_msg(s, "the full-text tokenizer failed");
    return 0;
}

int store_kb_tokenize(store *s, const char *text, size_t len, store_kb_token_fn fn, void *arg)
{
    STORE_KB_ON_PG(s);
    return store_kb_split(s, FTS5_TOKENIZE_QUERY, text, len, -1, fn, arg);
}

/* Step st to its end; rc of the last step. */
static int store_kb_finish(store *s, sqlite3_stmt *st, int rc)
{
    if (rc != SQLITE_DONE && rc != SQLITE_OK)
        store_fail(s);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : -1;
}

int store_kb_rows(store *s, store_kb_row_fn fn, void *arg)
{
    sqlite3_stmt *st;
    int rc;

    STORE_KB_ON_PG(s);

    if (sqlite3_prepare_v2(store_sqlite(s), store_kb_rows_sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *doc = (const char *)sqlite3_column_text(st, 1);
        if (!doc) {
            sqlite3_finalize(st);
            return store_fail_msg(s, "a full-text row without a chunk");
        }
        if (fn(arg, sqlite3_column_int64(st, 0), doc) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    return store_kb_finish(s, st, rc);
}

/* The (term, row) pair being counted by store_kb_terms. */
typedef struct store_kb_pair {
    char *term;
    size_t len, cap;
    int64_t row;
    unsigned n[2];
    int any;
} store_kb_pair;

/* Start pair p at (term, row); fails when FTS5's order is not the one the
 * index relies on (terms ascending, rows ascending within a term). */
static int store_kb_pair_start(store *s, store_kb_pair *p, const char *term, size_t len,
                               int64_t row)
{
    int cmp = 0;

    if (p->any) {
        cmp = memcmp(p->term, term, p->len < len ? p->len : len);
        if (cmp == 0)
            cmp = p->len < len ? -1 : p->len > len;
        if (cmp > 0 || (cmp == 0 && p->row >= row))
            return store_fail_msg(s, "full-text terms out of order");
    }
    if (len + 1 > p->cap) {
        char *t = realloc(p->term, len + 1);
        if (!t)
            return store_fail_msg(s, "out of memory");
        p->term = t;
        p->cap = len + 1;
    }
    memcpy(p->term, term, len);
    p->len = len;
    p->row = row;
    p->n[0] = p->n[1] = 0;
    p->any = 1;
    return 0;
}

int store_kb_terms(store *s, store_kb_term_fn fn, void *arg)
{
    sqlite3 *db = store_sqlite(s);
    store_kb_pair p = {0};
    sqlite3_stmt *st;
    int rc, stop = 0;

    STORE_KB_ON_PG(s);

    if (sqlite3_exec(db, store_kb_vocab_sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s);
    if (sqlite3_prepare_v2(db, store_kb_terms_sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s);
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *term = (const char *)sqlite3_column_text(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        int64_t row = sqlite3_column_int64(st, 1);
        const char *col = (const char *)sqlite3_column_text(st, 2);

        if (!term || !col) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (!p.any || p.row != row || p.len != len || memcmp(p.term, term, len) != 0) {
            if (p.any && (stop = fn(arg, p.term, p.len, p.row, p.n[0], p.n[1])) != 0)
                break;
            if (store_kb_pair_start(s, &p, term, len, row) < 0) {
                sqlite3_finalize(st);
                free(p.term);
                return -1;
            }
        }
        p.n[strcmp(col, "title") == 0 ? 0 : 1]++;
    }
    if (!stop && rc == SQLITE_DONE && p.any)
        stop = fn(arg, p.term, p.len, p.row, p.n[0], p.n[1]);
    free(p.term);
    return store_kb_finish(s, st, stop ? SQLITE_DONE : rc);
}

int store_kb_doc(store *s, const char *doc_id, store_kb_row_fn row, store_kb_token_fn tok,
                 void *arg)
{
    sqlite3_stmt *st;
    int rc;

    STORE_KB_ON_PG(s);
    if (sqlite3_prepare_v2(store_sqlite(s), store_kb_doc_sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s);
    if (sqlite3_bind_text(st, 1, doc_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_fail(s);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (row(arg, sqlite3_column_int64(st, 0), doc_id) != 0) {
            rc = SQLITE_DONE;
            break;
        }
        for (int c = 0; c < 2; c++) {
            const char *text = (const char *)sqlite3_column_text(st, 1 + c);
            size_t len = (size_t)sqlite3_column_bytes(st, 1 + c);
            if (store_kb_split(s, FTS5_TOKENIZE_DOCUMENT, text, len, c, tok, arg) < 0) {
                sqlite3_finalize(st);
                return -1;
            }
        }
    }
    return store_kb_finish(s, st, rc);
}
