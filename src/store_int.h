/*
 * store_int -- what the files of the store module share among themselves
 * (store.c, store_job.c, store_kb.c, store_pg.c).  Not for use outside
 * them: the rest of ragd speaks to the store only through store.h.
 */
#ifndef RAGD_STORE_INT_H
#define RAGD_STORE_INT_H

#include <sqlite3.h>

#include "store.h"
#include "store_pg.h"

/* The schema of the jobs tables (store_job.c), created by every writable
 * open. */
extern const char store_job_schema_sql[];

/* s's PostgreSQL handle, or NULL for a SQLite store: a function of store.h
 * passes the call on to store_pg.c when it is not NULL. */
store_pg *store_pg_of(store *s);

/* The tokenizer kb_fts is declared with, as a name and its one argument:
 * the schema and store_kb.c's tokenizer both use these, so the kb index
 * splits queries and documents exactly as FTS5 does. */
#define STORE_KB_TOKENIZER_NAME "porter"
#define STORE_KB_TOKENIZER_ARGS "unicode61"

/* kb_fts's columns and options, as the schema declares them and as a
 * PostgreSQL store's private FTS5 table (store_kb.c) copies them. */
#define STORE_KB_FTS_COLUMNS                                                             \
    "title, text, tokenize='" STORE_KB_TOKENIZER_NAME " " STORE_KB_TOKENIZER_ARGS "'"

/* s's connection, for the store's own files (NULL on a PostgreSQL store). */
sqlite3 *store_sqlite(store *s);

/* Something a file of the module keeps in a handle (store_kb.c's
 * tokenizer), with the function that frees it: store_close calls it, so
 * store.c need not know what it is. */
typedef struct store_cache {
    void *p;                     /* NULL until first used */
    void (*release)(void *p);
} store_cache;

/* Where s keeps store_kb.c's tokenizer. */
store_cache *store_kb_slot(store *s);

/* Record SQLite's message (or msg) as s's error; return -1. */
int store_fail(store *s);
int store_fail_msg(store *s, const char *msg);

/* Step st to its end and reset it.  Returns 0, or -1 (store_fail). */
int store_step(store *s, sqlite3_stmt *st);

#endif /* RAGD_STORE_INT_H */
