/*
 * store -- the one SQLite file that holds ragd's documents.
 *
 * The vector source and the kb source read it; `ragd ingest` writes it.  It
 * runs in WAL mode so readers never block the writer: documents ingested
 * while ragd serves become visible to the next query of each source.
 *
 * Schema (version 1).  Invariants:
 *  - every chunk belongs to exactly one document (chunks.doc_id);
 *  - a chunk is in the vector store iff it has a row in vectors, and in the
 *    knowledge base iff it has a row in kb_fts with the same rowid;
 *  - vectors.vec is meta.embed_dims float32 values, little-endian,
 *    L2-normalised, made by the embedder named in meta.embedder;
 *  - re-ingesting a document id first deletes its chunks, vectors and kb_fts
 *    rows, all in the same transaction as the new rows.
 */
#ifndef RAGD_STORE_H
#define RAGD_STORE_H

#include <stddef.h>
#include <sqlite3.h>

#define STORE_SCHEMA_VERSION 1

#define STORE_SCHEMA_SQL                                                     \
    "CREATE TABLE IF NOT EXISTS meta("                                      \
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"                         \
    "CREATE TABLE IF NOT EXISTS docs("                                      \
    "  id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', url TEXT,"      \
    "  metadata TEXT);"                                                     \
    "CREATE TABLE IF NOT EXISTS chunks("                                    \
    "  id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, seq INTEGER NOT NULL," \
    "  text TEXT NOT NULL);"                                                \
    "CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);"              \
    "CREATE TABLE IF NOT EXISTS vectors("                                   \
    "  chunk_id INTEGER PRIMARY KEY, vec BLOB NOT NULL);"                   \
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5("                 \
    "  title, text, tokenize='porter unicode61');"

/* Open the store at path.  With writable set, creates the file and schema
 * when missing and sets WAL mode; otherwise opens read-only and fails when
 * the file or its schema is missing.  Returns 0 and the handle in *db (the
 * caller closes it with sqlite3_close), or -1 with a message in err. */
int store_open(const char *path, int writable, sqlite3 **db, char *err,
               size_t errlen);

/* Read meta.key into out (NUL-terminated, truncated to outlen).  Returns 0,
 * or -1 when the key is absent or the read failed. */
int store_meta_get(sqlite3 *db, const char *key, char *out, size_t outlen);

/* Set meta.key to value.  Returns 0 or -1. */
int store_meta_set(sqlite3 *db, const char *key, const char *value);

#endif /* RAGD_STORE_H */
