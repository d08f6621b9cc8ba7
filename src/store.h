/*
 * store -- the one file that holds ragd's documents, and the only module
 * that knows how it is laid out.
 *
 * `ragd ingest` writes it; the vector and kb sources and the query embedder
 * read it.  The interface speaks documents, chunks, vectors and change
 * sequence numbers, never tables or SQL, so that another backend can stand
 * behind it.  A store is a SQLite file in WAL mode (readers never block the
 * writer, and documents ingested while ragd serves are visible to the next
 * read), or a PostgreSQL database named by a postgres:// URL (store_pg.h),
 * which several ragd processes share.  The kb's ranked full-text search
 * (store_kb_rank) is SQLite's FTS5 bm25() with FTS5 MATCH syntax: it exists
 * only in the SQLite backend; the kb index's reads (store_kb_*) exist in
 * both.
 *
 * Invariants of a store:
 *  - every chunk belongs to exactly one document;
 *  - a chunk has at most one vector and at most one full-text entry;
 *  - every vector has the recorded embedder's dims, float32, L2-normalised;
 *  - putting a document replaces all it had (chunks, vectors, full-text
 *    entries) in one transaction;
 *  - every put and every delete appends one entry to the change log in the
 *    transaction that makes it, so the log after sequence N is exactly what
 *    changed since a reader saw N.  Sequence numbers only grow.
 *
 * Threads: a handle is used by one thread at a time (one handle per worker
 * thread; a handle may move between threads between uses).  The one
 * exception is store_interrupt.  Pointers a read hands out are valid until
 * the next call on the same handle.
 */
#ifndef RAGD_STORE_H
#define RAGD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store_types.h"

typedef struct store store;

/* ------------------------------------------------------------ opening -- */

/* Once per process, before any store is opened and before other threads
 * start: the storage library's process-wide settings. */
void store_process_init(void);

/* Open the store at path: a file, or a postgres:// or postgresql:// URL
 * (a database, whose tables ragd creates when they are missing).  Writable: create the file when missing and
 * upgrade a store written by an older ragd in place.  Read-only: fail when
 * the file is missing or not a ragd store; an older store is upgraded in
 * place when its file can be written, else refused with a message naming
 * the command that upgrades it.  Returns 0 with *out (close it with
 * store_close), or -1 with a message naming path in err. */
int store_open(const char *path, int writable, store **out, char *err, size_t errlen);

/* Whether path names a database (a postgres:// or postgresql:// URL)
 * rather than a file. */
int store_is_url(const char *path);

/* Close *sp (NULL is fine) and set *sp to NULL.  A transaction still open
 * is rolled back. */
void store_close(store **sp);

/* The message of the last failed call on s.  Owned by s; valid until the
 * next call on s. */
const char *store_errmsg(store *s);

/* Whether the last failed call on s failed because the store was
 * unreachable (a PostgreSQL store whose database is down), so the caller
 * can say "try again later" rather than report an internal error. */
int store_unreachable(store *s);

/* Stop the read running on s as soon as possible: it fails with an
 * "interrupted" error.  The one call that may come from another thread
 * while s is in use; a call when nothing runs may be forgotten. */
void store_interrupt(store *s);

/* ----------------------------------------------------- transactions -- */

/* Group several writes into one transaction (a writable handle), or
 * several reads into one consistent view (a read-only handle).  Without
 * one, every put and delete is its own transaction.  Return 0 or -1. */
int store_begin(store *s);
int store_commit(store *s);
/* Undo everything since store_begin; nothing to undo is fine. */
void store_rollback(store *s);

/* ------------------------------------------------------------ embedder -- */

/* Read the recorded embedder into *e; an openai store without a recorded
 * model reports STORE_OPENAI_DEFAULT_MODEL.  Returns 1, 0 when none is
 * recorded (*e zeroed), or -1 (store_errmsg). */
int store_embedder_get(store *s, store_embedder *e);

/* A writer declares the embedder its vectors come from (dims 0 while
 * unknown; declare again once known).  Refused when the store's vectors
 * were made otherwise: another embedder, another openai model, or another
 * number of dims.  The first put that has vectors records e in the store,
 * in its transaction.  Returns 0, or -1 with the message in err. */
int store_embedder_use(store *s, const store_embedder *e, char *err, size_t errlen);

/* A reader checks that the store's vectors, if it has any, were made by
 * the embedder named name with dims dims, since vectors of two embedders
 * cannot be compared.  Returns 0, or -1 with a message naming the file in
 * err. */
int store_embedder_match(store *s, const char *name, size_t dims, char *err, size_t errlen);

/* ------------------------------------------------------------- writing -- */

/* Insert d, or replace the document with its id and everything it had,
 * and log a put.  Returns 0, or -1 (store_errmsg; inside store_begin, the
 * caller rolls back). */
int store_put(store *s, const store_doc *d);

/* Delete the document id and everything it had, and log a delete.
 * Returns 1, 0 when there is no such document (nothing logged), or -1. */
int store_delete(store *s, const char *id);

/* ----------------------------------------------------------- change log -- */

/* The sequence number of the latest change, 0 for none.  Returns 0 with
 * *seq, or -1. */
int store_last_seq(store *s, int64_t *seq);

/* Call fn for every change after seq, oldest first, until fn returns
 * non-zero.  doc_id is valid during the call only.  Returns 0 (also when
 * fn stopped); STORE_BEHIND when changes after `after` were trimmed from
 * the log (store_log_keep), so that the log can no longer bring a reader
 * at `after` up to date: fn is not called and the reader reloads from the
 * store; or -1. */
int store_changes(store *s, int64_t after, store_change_fn fn, void *arg);

/* The change log's retention: a writable handle keeps the newest keep
 * entries (>= 1) and, after each commit that logged a change, deletes the
 * older ones in a transaction of its own.  A reader further behind than
 * that is told (STORE_BEHIND) and reloads.  A million entries (tens of
 * MB) outlast a replica's restart under any write rate ragd sustains, and
 * past that many changes a reload costs no more than replaying them. */
void store_log_keep(store *s, int64_t keep);

/* ------------------------------------------------------------- reading -- */

/* How many chunks have a vector.  Returns 0 with *n, or -1. */
int store_vector_count(store *s, size_t *n);

/* Call fn with every chunk's vector (of document doc_id, or of all
 * documents when it is NULL), a document's chunks one after another, until
 * fn returns non-zero.  vec holds dims floats, valid during the call only.
 * A stored vector that is not dims floats is not passed but counted in
 * *skipped.  Returns 0 (also when fn stopped), or -1. */
int store_vectors(store *s, const char *doc_id, size_t dims, store_vector_fn fn, void *arg,
                  size_t *skipped);

/* Several reads as one read transaction: store_read_begin, the reads
 * (calls of this section), store_read_end.  Outside a transaction every
 * statement is a transaction of its own, and on SQLite each one takes and
 * drops the WAL's read lock: two fcntl calls on the shared-memory file
 * (one kernel lock for every thread) and a mutex shared by the process's
 * connections.  Ten hits read one by one cost ten of those; inside one
 * transaction they cost one, and the reads see one moment of the store.
 * Not inside store_begin's transaction.  On PostgreSQL both do nothing.
 * store_read_begin returns 0, or -1 (store_errmsg). */
int store_read_begin(store *s);

/* End store_read_begin's transaction (also after a failed read). */
void store_read_end(store *s);

/* Look up chunk chunk_id.  Returns 1 with *h (valid until the next call on
 * s), 0 when there is no such chunk (any more), or -1. */
int store_chunk_get(store *s, int64_t chunk_id, store_hit *h);

/* The metadata (JSON text) of document id.  Returns 1 with *json (NULL
 * when the document has none; valid until the next call on s), 0 when
 * there is no such document, or -1. */
int store_doc_metadata(store *s, const char *id, const char **json);

/* SQLite-only: ready s for store_kb_rank with the BM25 weights of the
 * title and text columns (>= 0).  Fails when the store has no full-text
 * index.  Returns 0 or -1. */
int store_kb_prepare(store *s, double title_weight, double text_weight);

/* SQLite-only: every chunk that matches the FTS5 MATCH expression match
 * (the caller makes it safe: see sources/kb/kb_match.h), ranked by FTS5's
 * bm25(), best first: fn gets each chunk's id and score (minus bm25(),
 * higher is better) until it returns non-zero.  Ranking costs the same
 * whether fn stops early or not; reading each chunk (store_chunk_get, on
 * the same handle, from inside fn) is what costs per row, so a caller
 * reads only the rows it keeps.  Needs store_kb_prepare.  Returns 0 or
 * -1. */
int store_kb_rank(store *s, const char *match, store_rank_fn fn, void *arg);

/* For the kb's in-memory index (sources/kb/kb_index.c): the full-text rows
 * and their tokens exactly as FTS5 holds them, so that the index ranks as
 * store_kb_rank does.  Column 0 is the title, 1 the text.  On both
 * backends: a PostgreSQL store's text is split by FTS5 all the same, in a
 * private SQLite connection (store_kb.c). */

/* Call fn with every full-text row's chunk id and document, chunk ids
 * ascending, until it returns non-zero.  Returns 0 or -1. */
int store_kb_rows(store *s, store_kb_row_fn fn, void *arg);

/* Call fn with every (term, row) pair of the full-text index -- the term
 * (len bytes, not NUL-terminated, valid during the call), the row's chunk
 * id and how often the term occurs in its title and text -- terms in byte
 * order, rows ascending within a term, until fn returns non-zero.  Read
 * from FTS5's own index (on PostgreSQL, of a private copy made for the
 * call).  Returns 0 or -1. */
int store_kb_terms(store *s, store_kb_term_fn fn, void *arg);

/* Document doc_id's full-text rows, chunk ids ascending: row(arg, chunk
 * id, doc_id) for each, then tok for each token of its title and then of
 * its text.  Returns 0 (none is fine) or -1. */
int store_kb_doc(store *s, const char *doc_id, store_kb_row_fn row, store_kb_token_fn tok,
                 void *arg);

/* Split query text into tokens as FTS5 splits a quoted MATCH phrase.
 * Returns 0 or -1. */
int store_kb_tokenize(store *s, const char *text, size_t len, store_kb_token_fn fn, void *arg);

/* ---------------------------------------------------------- documents -- */

/* Look up document id.  Returns 1 with *d, 0 when there is none, or -1. */
int store_doc_get(store *s, const char *id, store_docinfo *d);

/* Call fn with every document's id (valid during the call), until it
 * returns non-zero.  Returns 0 (also when fn stopped), or -1. */
int store_doc_ids(store *s, store_doc_id_fn fn, void *arg);

/* Call fn with every chunk of document id, in order, until it returns
 * non-zero: its text (len bytes, valid during the call) and its vector (dims
 * floats, or NULL when it has none).  For copying a store (ragd migrate).
 * Returns 0 (also when fn stopped), or -1. */
int store_doc_chunks(store *s, const char *id, size_t dims, store_doc_chunk_fn fn, void *arg);

/* --------------------------------------------------------------- jobs -- */

/* Record a queued job with its n documents (JSON texts, borrowed) in one
 * transaction.  Returns 0 with *id, or -1. */
int store_job_add(store *s, const char *into, const char *const *docs, size_t n, int64_t now,
                  int64_t *id);

/* Read job id into *j (release it).  Returns 1, 0 when there is none, or
 * -1. */
int store_job_get(store *s, int64_t id, store_job *j);

/* Call fn with the latest `limit` jobs, newest first, until it returns
 * non-zero; j is valid during the call.  Returns 0 or -1. */
int store_job_list(store *s, int limit, store_job_fn fn, void *arg);

/* Write j's status, counters, errors and times (the job must exist).
 * Inside store_begin it commits with the documents it counts.  Returns 0
 * or -1. */
int store_job_update(store *s, const store_job *j);

/* Call fn with documents [from, from+n) of job id, in order, until it
 * returns non-zero; doc is valid during the call.  Returns 0 or -1. */
int store_job_docs(store *s, int64_t id, int64_t from, int64_t n, store_job_doc_fn fn,
                   void *arg);

/* The oldest job still running or queued.  Returns 1 with *id, 0, or -1. */
int store_job_next(store *s, int64_t *id);

/* Delete the finished jobs (and their payloads) that finished before
 * `before`.  Returns 0 with *n deleted, or -1. */
int store_job_expire(store *s, int64_t before, int64_t *n);

#endif /* RAGD_STORE_H */
