/*
 * kb_index -- the kb's in-memory inverted index: BM25 exactly as FTS5's
 * bm25() scores it, over postings compressed in blocks, kept current from
 * the store's change log.
 *
 * An index is an immutable snapshot: segments of postings (each shared by
 * every snapshot built on it) with tombstones for rows changed since, plus
 * the exact global statistics FTS5 ranks with (rows, tokens, and each
 * term's document frequency net of tombstones), so scores equal FTS5's.
 * It is derived from the store and rebuilt from it at will; never the
 * only copy of anything.  Searching is kb_topk.c's job.
 *
 * Threads: a snapshot is read by any number of threads at once; its
 * reference count is atomic, so a snapshot may be held and dropped from
 * any thread.
 */
#ifndef RAGD_KB_INDEX_H
#define RAGD_KB_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct kb_index kb_index;

/* Build a one-segment snapshot of the whole store, read in one read
 * transaction on db, scoring with the BM25 weights of the title and text
 * columns (>= 0).  Returns 0 with *out (one reference, the caller's), or
 * -1 with a message in err. */
int kb_index_load(store *db, double title_weight, double text_weight, kb_index **out,
                  char *err, size_t errlen);

/* Apply the store's changes since old was made: the rows of every changed
 * document are tombstoned and its current rows become a new small segment;
 * past a threshold segments are merged (kb_index_merge's policy).  old is
 * not changed.  Returns 0 with *out (a new snapshot, one reference; NULL
 * when nothing changed) and *changed (documents); STORE_BEHIND when the
 * store's change log was trimmed past old, so that only kb_index_load can
 * bring it up to date; or -1 with err. */
int kb_index_refresh(store *db, const kb_index *old, kb_index **out, size_t *changed,
                     char *err, size_t errlen);

/* Take one more reference on ix. */
void kb_index_hold(kb_index *ix);

/* Drop one reference on *ixp (NULL is fine), freeing it at the last, and
 * set *ixp to NULL. */
void kb_index_drop(kb_index **ixp);

/* What a snapshot holds, for logs and benchmarks. */
typedef struct kb_index_info {
    int64_t seq;        /* the change it reflects the store up to */
    size_t rows, dead;  /* live rows (FTS5's row count) and tombstones */
    size_t parts, terms;
    size_t bytes;       /* memory held, roughly */
} kb_index_info;

void kb_index_info_get(const kb_index *ix, kb_index_info *info);

#endif /* RAGD_KB_INDEX_H */
