/*
 * chunk -- cutting a document's text into passages for retrieval.
 *
 * A passage should be small enough to be a useful hit and to fit a context
 * budget, and should end at a natural boundary.  This module only computes
 * where the cuts go (byte spans into the caller's text); it does not copy,
 * embed or store anything, and it knows nothing about titles or ids.
 */
#ifndef RAGD_CHUNK_H
#define RAGD_CHUNK_H

#include <stddef.h>

/* Defaults used by `ragd ingest`: about a page of prose per chunk. */
#define CHUNK_TARGET 1600
#define CHUNK_MAX 2400

/* One chunk: text[off .. off+len), with no leading or trailing whitespace. */
typedef struct chunk_span {
    size_t off, len;
} chunk_span;

/* Split text[0..len) into chunks in order.
 *
 * Every chunk is at most max bytes and non-empty.  The number of chunks is
 * n = round(len / target), but at least ceil(len / max) and at least 1 (len
 * after trimming the text), and each cut aims at an equal share of what
 * remains, so 3300 bytes at target 1600 and max 2400 become two chunks of
 * about 1650, not 1600 + 1600 + 100.  Near each aim point the cut
 * prefers, in order: a paragraph break (a blank line), a sentence end ('.',
 * '?' or '!' followed by a space or newline), any ASCII whitespace; with
 * none of those within reach it cuts between two UTF-8 characters, never
 * inside one (given max >= 4, the longest UTF-8 character).  ASCII
 * whitespace around chunks is dropped, so empty or whitespace-only text
 * gives zero chunks.  The text need not be NUL-terminated.  target is
 * clamped to max.
 *
 * Returns 0 with a malloc'd array of *n spans in *spans (the caller frees
 * it; NULL when *n is 0), or -1 with errno set: EINVAL when target or max is
 * 0, ENOMEM.  On -1, *spans is NULL and *n is 0. */
int chunk_split(const char *text, size_t len, size_t target, size_t max,
                chunk_span **spans, size_t *n);

#endif /* RAGD_CHUNK_H */
