/*
 * ingest -- the `ragd ingest` command: loading documents into the store.
 *
 * Reads BEIR-style JSONL corpora and Markdown/text files (ingest_read.h),
 * splits documents into chunks (chunk.h), embeds the chunks (embed.h) and
 * puts the documents into the store (store.h) in batched transactions.  It
 * is a one-shot command-line tool: not for use inside the server, which
 * only reads the store.
 */
#ifndef RAGD_INGEST_H
#define RAGD_INGEST_H

/* Run `ragd ingest`; argv[0] is "ingest", argv[argc] is NULL.  argv may be
 * permuted (getopt_long).
 *
 *   ragd ingest --db FILE [--into vector,kb] [--embedder hash|openai]
 *               [--embed-url URL] [--embed-model NAME] [--batch N] INPUT...
 *   ragd ingest --db FILE --migrate
 *
 * --migrate upgrades a store written by an older ragd in place and exits
 * (store.h; any writable open does the same before ingesting).
 *
 * INPUT is a .jsonl corpus (one object per line: "_id" or "id", a string or
 * a number; "text", required; optional "title", "url", "metadata"), a .txt
 * or .md file (one document: id = the path as given, title = its first
 * "# " heading outside code fences, else the file's base name), or a
 * directory (every .md and .txt file below it, sorted by path; symbolic
 * links to directories are not followed).  Text files must be valid UTF-8.
 *
 * Each document's text is split into chunks numbered from seq 0.  "kb" gets
 * each chunk in kb_fts (title, text) with rowid = chunks.id; "vector" gets
 * the embedding of the document title, a blank line and the chunk text,
 * since a chunk's title usually names what the chunk is about.  A document
 * with empty text is stored with no chunks.  Re-ingesting an id replaces the
 * document in the same transaction.  The first ingest that writes vectors
 * records meta embedder, embed_dims and, for openai, embed_model and
 * embed_url; later ingests that write vectors must use the same embedder
 * (and model).  Ingests with --into kb alone neither check nor record them.
 *
 * Malformed lines and unreadable files are reported on stderr ("FILE:LINE:
 * why") and skipped.  On success prints "ingested D documents, C chunks, S
 * skipped in T s" on stdout.  Returns the exit status: 0 on success (even
 * with skips; also for --help), 2 for unusable arguments or input (with a
 * one-line message on stderr), 1 for a failure during the run (SQLite,
 * embedding service), in which case the batch in flight is rolled back and
 * earlier batches stay committed. */
int ingest_main(int argc, char **argv);

#endif /* RAGD_INGEST_H */
