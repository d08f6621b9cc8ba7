/*
 * store_kb -- the kb's full-text rows as FTS5 itself tokenised them, for
 * the kb source's in-memory index (sources/kb/kb_index.c).
 *
 * The index must rank exactly as FTS5's bm25() does, so it never splits
 * text on its own: a whole build reads every (term, row) pair from FTS5's
 * own index through an fts5vocab table, and a document read after a change,
 * or a query, is split by the table's own tokenizer, found through the
 * fts5_api.  Not for ranking: that is the index's job.
 *
 * A PostgreSQL store has no FTS5 index, so each of its handles keeps a
 * private SQLite connection (a temporary database, deleted at close) whose
 * FTS5 does the splitting: a whole build copies every chunk's title and
 * text from PostgreSQL into a kb_fts table declared as the store's
 * (STORE_KB_FTS_COLUMNS), reads it through fts5vocab exactly as on a
 * SQLite store, and drops it; a document or a query goes through the same
 * tokenizer.  The tokens, row sizes and statistics are therefore FTS5's
 * own on both backends.
 */
#include "store.h"
#include "store_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

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

/* A PostgreSQL store's private copy of its full-text rows, for one build:
 * created empty, filled, read through the vocab table, then dropped. */
static const char store_kb_copy_new_sql[] =
    "DROP TABLE IF EXISTS temp.ragd_kb_vocab; DROP TABLE IF EXISTS kb_fts;"
    "CREATE VIRTUAL TABLE kb_fts USING fts5(" STORE_KB_FTS_COLUMNS "); BEGIN";
static const char store_kb_copy_ins_sql[] =
    "INSERT INTO kb_fts(rowid, title, text) VALUES(?1, ?2, ?3)";
static const char store_kb_copy_drop_sql[] =
    "DROP TABLE IF EXISTS temp.ragd_kb_vocab; DROP TABLE IF EXISTS kb_fts";

/* The table's tokenizer, created once per handle, and on a PostgreSQL
 * store the private connection it lives in (store_kb_tok_free frees
 * both, called by store_close). */
typedef struct store_kb_tok {
    sqlite3 *own;
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

static void store_kb_tok_free(void *p)
{
    store_kb_tok *t = p;

    if (t->tok)
        t->api.xDelete(t->tok);
    sqlite3_close(t->own);
    free(t);
}

/* Record msg as s's error, where store_errmsg finds it.  Returns -1. */
static int store_kb_fail(store *s, const char *msg)
{
    return store_pg_of(s) ? store_pg_fail(store_pg_of(s), msg) : store_fail_msg(s, msg);
}

/* db's last message as s's error.  Returns -1. */
static int store_kb_sqlfail(store *s, sqlite3 *db)
{
    return store_kb_fail(s, sqlite3_errmsg(db));
}

/* The process's fts5_api for connection db, or NULL. */
static fts5_api *store_kb_fts5(store *s, sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK) {
        store_kb_sqlfail(s, db);
        return NULL;
    }
    if (sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL) == SQLITE_OK)
        sqlite3_step(st);
    sqlite3_finalize(st);
    if (!api)
        store_kb_fail(s, "FTS5 is not available");
    return api;
}

/* A PostgreSQL store's private connection: a temporary database, so a
 * whole build's copy spills to disk rather than sit in memory. */
static int store_kb_own_open(store *s, store_kb_tok *t)
{
    if (sqlite3_open_v2("", &t->own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(t->own, "PRAGMA journal_mode=OFF", NULL, NULL, NULL) != SQLITE_OK)
        return store_kb_fail(s, t->own ? sqlite3_errmsg(t->own) : "out of memory");
    return 0;
}

/* s's tokenizer: the one kb_fts declares (STORE_KB_TOKENIZER: a name, then
 * its arguments), created on first use with, on a PostgreSQL store, its
 * private connection.  NULL with s's error on failure. */
static store_kb_tok *store_kb_tokenizer(store *s)
{
    store_cache *slot = store_kb_slot(s);
    const char *args[] = {STORE_KB_TOKENIZER_ARGS};
    store_kb_tok *t;
    fts5_api *api;
    void *ud = NULL;

    if (slot->p)
        return slot->p;
    if (!(t = calloc(1, sizeof *t))) {
        store_kb_fail(s, "out of memory");
        return NULL;
    }
    if ((store_pg_of(s) && store_kb_own_open(s, t) < 0) ||
        !(api = store_kb_fts5(s, t->own ? t->own : store_sqlite(s))))
        goto fail;
    if (api->xFindTokenizer(api, STORE_KB_TOKENIZER_NAME, &ud, &t->api) != SQLITE_OK ||
        t->api.xCreate(ud, args, (int)(sizeof args / sizeof *args), &t->tok) != SQLITE_OK) {
        t->tok = NULL;
        store_kb_fail(s, "cannot create the full-text tokenizer");
        goto fail;
    }
    *slot = (store_cache){t, store_kb_tok_free};
    return t;
fail:
    sqlite3_close(t->own);
    free(t);
    return NULL;
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
        return store_kb_fail(s, "text too long to tokenize");
    rc = t->api.xTokenize(t->tok, &c, flags, text ? text : "", (int)len, store_kb_token_cb);
    if (rc != SQLITE_OK && !(c.stopped && rc == SQLITE_DONE))
        return store_kb_fail(s, "the full-text tokenizer failed");
    return 0;
}

int store_kb_tokenize(store *s, const char *text, size_t len, store_kb_token_fn fn, void *arg)
{
    return store_kb_split(s, FTS5_TOKENIZE_QUERY, text, len, -1, fn, arg);
}

/* Step st to its end; rc of the last step.  db is st's connection. */
static int store_kb_finish(store *s, sqlite3 *db, sqlite3_stmt *st, int rc)
{
    if (rc != SQLITE_DONE && rc != SQLITE_OK)
        store_kb_sqlfail(s, db);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : -1;
}

/* What a PostgreSQL store's rows hand to the callers' callbacks. */
typedef struct store_kb_pgctx {
    store *s;
    store_kb_row_fn row;
    store_kb_token_fn tok;
    void *arg;
    sqlite3_stmt *ins; /* a whole build's copy, or NULL */
    int failed;
} store_kb_pgctx;

static int store_kb_pg_row(void *arg, int64_t chunk_id, const char *doc_id, const char *title,
                           size_t tlen, const char *text, size_t len)
{
    store_kb_pgctx *c = arg;

    (void)title;
    (void)tlen;
    (void)text;
    (void)len;
    return c->row(c->arg, chunk_id, doc_id);
}

int store_kb_rows(store *s, store_kb_row_fn fn, void *arg)
{
    store_kb_pgctx c = {s, fn, NULL, arg, NULL, 0};
    sqlite3 *db = store_sqlite(s);
    sqlite3_stmt *st;
    int rc;

    if (store_pg_of(s))
        return store_pg_kb_chunks(store_pg_of(s), NULL, 0, store_kb_pg_row, &c);
    if (sqlite3_prepare_v2(db, store_kb_rows_sql, -1, &st, NULL) != SQLITE_OK)
        return store_kb_sqlfail(s, db);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *doc = (const char *)sqlite3_column_text(st, 1);
        if (!doc) {
            sqlite3_finalize(st);
            return store_kb_fail(s, "a full-text row without a chunk");
        }
        if (fn(arg, sqlite3_column_int64(st, 0), doc) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    return store_kb_finish(s, db, st, rc);
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
            return store_kb_fail(s, "full-text terms out of order");
    }
    if (len + 1 > p->cap) {
        char *t = realloc(p->term, len + 1);
        if (!t)
            return store_kb_fail(s, "out of memory");
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

/* Every (term, row) pair of db's kb_fts, read through fts5vocab. */
static int store_kb_read_terms(store *s, sqlite3 *db, store_kb_term_fn fn, void *arg)
{
    store_kb_pair p = {0};
    sqlite3_stmt *st;
    int rc, stop = 0;

    if (sqlite3_exec(db, store_kb_vocab_sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_kb_sqlfail(s, db);
    if (sqlite3_prepare_v2(db, store_kb_terms_sql, -1, &st, NULL) != SQLITE_OK)
        return store_kb_sqlfail(s, db);
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
    return store_kb_finish(s, db, st, stop ? SQLITE_DONE : rc);
}

/* One chunk of a PostgreSQL store into the private copy. */
static int store_kb_copy_row(void *arg, int64_t chunk_id, const char *doc_id, const char *title,
                             size_t tlen, const char *text, size_t len)
{
    store_kb_pgctx *c = arg;

    (void)doc_id;
    if (tlen > INT32_MAX || len > INT32_MAX ||
        sqlite3_bind_int64(c->ins, 1, chunk_id) != SQLITE_OK ||
        sqlite3_bind_text(c->ins, 2, title, (int)tlen, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(c->ins, 3, text, (int)len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(c->ins) != SQLITE_DONE) {
        c->failed = 1;
        return 1;
    }
    sqlite3_reset(c->ins);
    return 0;
}

/* Copy every chunk of s (a PostgreSQL store) into db's kb_fts, declared
 * as the store's, in one transaction.  Returns 0 or -1. */
static int store_kb_copy(store *s, sqlite3 *db)
{
    store_kb_pgctx c = {s, NULL, NULL, NULL, NULL, 0};
    int rc;

    if (sqlite3_exec(db, store_kb_copy_new_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, store_kb_copy_ins_sql, -1, &c.ins, NULL) != SQLITE_OK)
        goto fail;
    rc = store_pg_kb_chunks(store_pg_of(s), NULL, 1, store_kb_copy_row, &c);
    if (c.failed)
        store_kb_sqlfail(s, db);
    sqlite3_finalize(c.ins);
    if (rc < 0 || c.failed) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    store_kb_sqlfail(s, db);
    sqlite3_finalize(c.ins);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int store_kb_terms(store *s, store_kb_term_fn fn, void *arg)
{
    store_kb_tok *t;
    int rc;

    if (!store_pg_of(s))
        return store_kb_read_terms(s, store_sqlite(s), fn, arg);
    if (!(t = store_kb_tokenizer(s)) || store_kb_copy(s, t->own) < 0)
        return -1;
    rc = store_kb_read_terms(s, t->own, fn, arg);
    /* The copy served its one build: kept, it would only go stale. */
    sqlite3_exec(t->own, store_kb_copy_drop_sql, NULL, NULL, NULL);
    return rc;
}

/* One row of a PostgreSQL store's document: the row, then its tokens. */
static int store_kb_pg_doc_row(void *arg, int64_t chunk_id, const char *doc_id,
                               const char *title, size_t tlen, const char *text, size_t len)
{
    store_kb_pgctx *c = arg;

    if (c->row(c->arg, chunk_id, doc_id) != 0)
        return 1;
    if (store_kb_split(c->s, FTS5_TOKENIZE_DOCUMENT, title, tlen, 0, c->tok, c->arg) < 0 ||
        store_kb_split(c->s, FTS5_TOKENIZE_DOCUMENT, text, len, 1, c->tok, c->arg) < 0) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

int store_kb_doc(store *s, const char *doc_id, store_kb_row_fn row, store_kb_token_fn tok,
                 void *arg)
{
    store_kb_pgctx c = {s, row, tok, arg, NULL, 0};
    sqlite3 *db = store_sqlite(s);
    sqlite3_stmt *st;
    int rc;

    if (store_pg_of(s)) {
        rc = store_pg_kb_chunks(store_pg_of(s), doc_id, 1, store_kb_pg_doc_row, &c);
        return rc < 0 || c.failed ? -1 : 0;
    }
    if (sqlite3_prepare_v2(db, store_kb_doc_sql, -1, &st, NULL) != SQLITE_OK)
        return store_kb_sqlfail(s, db);
    if (sqlite3_bind_text(st, 1, doc_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_kb_sqlfail(s, db);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (row(arg, sqlite3_column_int64(st, 0), doc_id) != 0) {
            rc = SQLITE_DONE;
            break;
        }
        for (int col = 0; col < 2; col++) {
            const char *text = (const char *)sqlite3_column_text(st, 1 + col);
            size_t len = (size_t)sqlite3_column_bytes(st, 1 + col);
            if (store_kb_split(s, FTS5_TOKENIZE_DOCUMENT, text, len, col, tok, arg) < 0) {
                sqlite3_finalize(st);
                return -1;
            }
        }
    }
    return store_kb_finish(s, db, st, rc);
}
