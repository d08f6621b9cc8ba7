/*
 * ingest_read -- the input readers of `ragd ingest`: BEIR-style JSONL
 * corpora, .txt/.md files and directories of them, turned into documents.
 *
 * A reader hands each document to its sink and reports each line or file
 * it skips; it neither chunks, embeds nor writes (ingest.c does that).
 * The input rules are those of ingest_main (ingest.h).
 */
#ifndef RAGD_INGEST_READ_H
#define RAGD_INGEST_READ_H

#include <stddef.h>

/* A document as read; every string is owned (url and metadata may be NULL;
 * metadata is JSON text).  text holds text_len bytes and a NUL. */
typedef struct ingest_read_doc {
    char *id, *title, *url, *metadata, *text;
    size_t text_len;
} ingest_read_doc;

/* Where documents go.  add takes d's strings (d is zeroed after) and
 * returns 0 to go on or -1 to stop the run.  skip reports one skipped line
 * or file ("FILE:LINE: why").  fail records a fatal error and returns -1. */
typedef struct ingest_read_sink {
    int (*add)(void *arg, ingest_read_doc *d);
    void (*skip)(void *arg, const char *msg);
    int (*fail)(void *arg, const char *msg);
    void *arg;
} ingest_read_sink;

/* Whether path names a file of a kind ingest reads (.jsonl, .txt, .md). */
int ingest_read_accepts(const char *path);

/* Read the input at path (a file or a directory) into k.  Returns 0, or -1
 * when the sink or a fatal error stopped the run. */
int ingest_read_input(const ingest_read_sink *k, const char *path);

/* Free d's strings and zero it. */
void ingest_read_doc_release(ingest_read_doc *d);

#endif /* RAGD_INGEST_READ_H */
