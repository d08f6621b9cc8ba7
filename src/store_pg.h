/*
 * store_pg -- the store (store.h) kept in PostgreSQL, through libpq.
 *
 * Internal to the store module: store.c opens one of these for a
 * postgres:// or postgresql:// URL and passes every call of store.h on to
 * the function of the same name here, with the same contract.  Functions
 * this backend lacks fail with "not supported on a PostgreSQL store yet".
 *
 * Every call blocks on the network: callers are worker threads (the pool),
 * never the loop.  A handle whose connection dropped reconnects at its
 * next call outside a transaction.
 */
#ifndef RAGD_STORE_PG_H
#define RAGD_STORE_PG_H

#include "store_types.h"

typedef struct store_pg store_pg;

/* Whether path names a PostgreSQL store rather than a file. */
int store_pg_is_url(const char *path);

/* Connect to url and create or check ragd's tables (ragd_meta holds the
 * schema version).  A read-only handle of a store this process has already
 * loaded vectors from opens even while the database is unreachable: its
 * chunks are served from memory and it reconnects at its next call.
 * Returns 0 with *out (store_pg_close it), or -1 with err (the URL's
 * password left out). */
int store_pg_open(const char *url, int writable, store_pg **out, char *err, size_t errlen);
void store_pg_close(store_pg **pp);
const char *store_pg_errmsg(store_pg *p);
void store_pg_interrupt(store_pg *p);
/* Whether the last failure on p was the database being unreachable. */
int store_pg_unreachable(store_pg *p);

int store_pg_begin(store_pg *p);
int store_pg_commit(store_pg *p);
void store_pg_rollback(store_pg *p);

/* The embedder rule is store.c's, the same for both backends; these are
 * what it needs of this one.  meta.key into out: 1, 0 when absent, or -1.
 * Whether any vector is stored: 1, 0, or -1.  The embedder p's puts write
 * with, and whether the store's meta already records it. */
int store_pg_meta_get(store_pg *p, const char *key, char *out, size_t outlen);
int store_pg_any_vector(store_pg *p);
void store_pg_embedder_set(store_pg *p, const store_embedder *e, int recorded);
/* The store's name for messages: its URL without a password. */
const char *store_pg_name(store_pg *p);

int store_pg_put(store_pg *p, const store_doc *d);
int store_pg_delete(store_pg *p, const char *id);
int store_pg_last_seq(store_pg *p, int64_t *seq);
int store_pg_changes(store_pg *p, int64_t after, store_change_fn fn, void *arg);
void store_pg_log_keep(store_pg *p, int64_t keep);

int store_pg_vector_count(store_pg *p, size_t *n);
int store_pg_vectors(store_pg *p, const char *doc_id, size_t dims, store_vector_fn fn, void *arg,
                     size_t *skipped);
int store_pg_chunk_get(store_pg *p, int64_t chunk_id, store_hit *h);
int store_pg_doc_metadata(store_pg *p, const char *id, const char **json);
int store_pg_doc_get(store_pg *p, const char *id, store_docinfo *d);
int store_pg_doc_ids(store_pg *p, store_doc_id_fn fn, void *arg);
int store_pg_doc_chunks(store_pg *p, const char *id, size_t dims, store_doc_chunk_fn fn,
                        void *arg);

/* For store_kb.c: every full-text row -- a chunk put with fts -- (doc_id
 * NULL) or document doc_id's, chunk
 * ids ascending, to fn(arg, chunk id, its document, and with text its
 * document's title and its text, each NUL-terminated with its length;
 * without text both NULL) until fn returns non-zero.  Strings are valid
 * during the call.  Rows stream, so a whole store is never in memory.
 * Returns 0 or -1. */
typedef int (*store_pg_kb_fn)(void *arg, int64_t chunk_id, const char *doc_id,
                              const char *title, size_t tlen, const char *text, size_t len);
int store_pg_kb_chunks(store_pg *p, const char *doc_id, int text, store_pg_kb_fn fn, void *arg);

/* Record msg as p's error (for store_kb.c's own failures); returns -1. */
int store_pg_fail(store_pg *p, const char *msg);

/* What this backend lacks: each records the message and returns -1. */
int store_pg_unsupported(store_pg *p, const char *what);

int store_pg_job_add(store_pg *p, const char *into, const char *const *docs, size_t n,
                     int64_t now, int64_t *id);
int store_pg_job_get(store_pg *p, int64_t id, store_job *j);
int store_pg_job_list(store_pg *p, int limit, store_job_fn fn, void *arg);
int store_pg_job_update(store_pg *p, const store_job *j);
int store_pg_job_docs(store_pg *p, int64_t id, int64_t from, int64_t n, store_job_doc_fn fn,
                      void *arg);
int store_pg_job_next(store_pg *p, int64_t *id);
int store_pg_job_expire(store_pg *p, int64_t before, int64_t *n);

/* The URL without its password, for messages: into out. */
void store_pg_label(const char *url, char *out, size_t outlen);

/* libpq's multi-line messages as one line, in place (for logs and JSON). */
void store_pg_oneline(char *msg);

/* A libpq notice processor that drops server notices, which libpq would
 * print to stderr. */
void store_pg_quiet(void *arg, const char *message);

/* The channel writes NOTIFY in their transaction (store_listen.c). */
#define STORE_PG_CHANNEL "ragd_changes"

#endif /* RAGD_STORE_PG_H */
