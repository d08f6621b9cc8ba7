/*
 * store_types -- the values the store's interface passes: the embedder of
 * a store's vectors, documents and chunks as put and as read, change log
 * entries, jobs, and the callbacks its reads call.
 *
 * Apart from store.h (the functions), so that a backend (store_pg.h)
 * speaks the interface's types without depending on the file that
 * dispatches to it.
 */
#ifndef RAGD_STORE_TYPES_H
#define RAGD_STORE_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The model an openai store without a recorded model was built with. */
#define STORE_OPENAI_DEFAULT_MODEL "text-embedding-3-small"

/* How a store's vectors are made. */
typedef struct store_embedder {
    char name[32];   /* "hash" or "openai"; "" when none is recorded */
    size_t dims;     /* 0: not known yet */
    char model[256]; /* openai only */
    char url[2048];  /* openai only: the API base, without trailing '/' */
} store_embedder;

/* One chunk of a document's text; not necessarily NUL-terminated. */
typedef struct store_chunk {
    const char *text;
    size_t len;
} store_chunk;

/* A document as put: everything borrowed for the call.  url and metadata
 * (JSON text) may be NULL.  vecs is NULL (no vectors) or nchunks rows of
 * the declared embedder's dims.  fts: index the chunks for full-text
 * search, under the document's title.  job: the job that writes it (0:
 * none); a PostgreSQL store skips the put when the document it has was
 * written by a later job, so that the newest job's version stays whichever
 * process commits last. */
typedef struct store_doc {
    const char *id, *title, *url, *metadata;
    const store_chunk *chunks;
    size_t nchunks;
    const float *vecs;
    int fts;
    int64_t job;
} store_doc;

typedef enum { STORE_PUT = 1, STORE_DELETE = 2 } store_op;

/* store_changes: changes after `after` were trimmed from the log. */
#define STORE_BEHIND 1

typedef int (*store_change_fn)(void *arg, int64_t seq, const char *doc_id, store_op op);

/* The change log's retention unless store_log_keep says (store.h: why). */
#define STORE_CHANGE_LOG_KEEP 1000000

typedef int (*store_vector_fn)(void *arg, int64_t chunk_id, const char *doc_id,
                               const float *vec);

/* A chunk with its document's fields; url and metadata (JSON text) may be
 * NULL. */
typedef struct store_hit {
    const char *doc_id, *title, *url, *text, *metadata;
} store_hit;

typedef int (*store_rank_fn)(void *arg, int64_t chunk_id, double score);

typedef int (*store_kb_row_fn)(void *arg, int64_t chunk_id, const char *doc_id);

typedef int (*store_kb_term_fn)(void *arg, const char *term, size_t len, int64_t chunk_id,
                                unsigned ntitle, unsigned ntext);

/* One token as FTS5 splits it (len bytes, valid during the call); column
 * is 0 (title), 1 (text), or -1 for query text.  Non-zero stops. */
typedef int (*store_kb_token_fn)(void *arg, const char *tok, size_t len, int column);

/* A document's fields as store_doc_get reads them; url and metadata may be
 * NULL.  Valid until the next call on the same handle. */
typedef struct store_docinfo {
    const char *id, *title, *url, *metadata;
    size_t nchunks;
} store_docinfo;

typedef int (*store_doc_id_fn)(void *arg, const char *id);

typedef int (*store_doc_chunk_fn)(void *arg, const char *text, size_t len, const float *vec);

/* A background job (src/job.c) as the store records it, with its payload:
 * total documents, each one JSON object, numbered from 0.  done counts the
 * documents committed so far (the documents before index done, whether put
 * or failed); a job resumes at that index.  errors is a JSON array text.
 * Times are Unix seconds, 0 for not yet. */
typedef struct store_job {
    int64_t id;
    char status[16]; /* "queued", "running", "done", "failed", "cancelled" */
    char into[64];   /* JSON array text, e.g. ["kb","vector"] */
    int64_t total, done, failed, chunks;
    char *errors;    /* owned: store_job_release frees it */
    int64_t created_at, started_at, finished_at;
} store_job;

/* Free what j owns (its errors) and zero it. */
static inline void store_job_release(store_job *j)
{
    free(j->errors);
    memset(j, 0, sizeof *j);
}

typedef int (*store_job_fn)(void *arg, const store_job *j);

typedef int (*store_job_doc_fn)(void *arg, int64_t index, const char *doc);

#endif /* RAGD_STORE_TYPES_H */
