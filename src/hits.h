/*
 * hits -- owned arrays of ragd_hit: the one place that copies a borrowed hit
 * and the one place that frees an owned one.
 *
 * A source hands ragd hits it still owns (borrowed for the duration of its
 * callback); whoever keeps them takes a copy here, once, and the copy is
 * where a broken source's hits are made safe to keep and to print: at most
 * the k asked for, valid UTF-8, each string within its limit.  An owned hit
 * owns its four strings; an owned array owns its hits.
 */
#ifndef RAGD_HITS_H
#define RAGD_HITS_H

#include <stddef.h>

#include <ragd/source.h>

/* The most bytes hits_copy keeps of a hit's text, and of its id, title
 * and url.  A chunk ragd ingests is at most 2,400 bytes and a web snippet
 * a few hundred: these bound what a broken source can make ragd hold and
 * reply per hit. */
#define HITS_TEXT_MAX 65536
#define HITS_FIELD_MAX 8192

/* What hits_copy changed to make a source's hits fit to keep, so that
 * the caller can say so: hits past max left out, strings that were not
 * valid UTF-8 (each offending byte is replaced by U+FFFD, as jansson
 * refuses to print them and the whole reply would fail), strings cut to
 * their limit (at a character boundary). */
typedef struct hits_fixes {
    size_t dropped, repaired, cut;
} hits_fixes;

/* The most bytes of a source's error message that ragd keeps. */
#define HITS_ERROR_MAX 1024

/* An owned copy of s (NULL for NULL), valid UTF-8 and at most max bytes,
 * counted in *fx as hits_copy_one counts its strings; NULL also when out
 * of memory (*oom set). */
char *hits_string(const char *s, size_t max, hits_fixes *fx, int *oom);

/* Copy src into dst, owning every string: a NULL id or text becomes "", a
 * NULL title or url stays NULL, and every string is made valid UTF-8 and
 * cut to its limit, counted in *fx.  Returns 0, or -1 (ENOMEM) with dst
 * left empty (nothing to free). */
int hits_copy_one(ragd_hit *dst, const ragd_hit *src, hits_fixes *fx);

/* Copy the first max of src[0..n) (all when n <= max) into a new array
 * in *out (NULL when none), their number in *nout, with hits_copy_one;
 * *fx says what changed (zeroed first).  Returns 0, or -1 (ENOMEM) with
 * *out NULL and nothing allocated. */
int hits_copy(const ragd_hit *src, size_t n, size_t max, ragd_hit **out, size_t *nout,
              hits_fixes *fx);

/* Free the strings of h (an owned hit) and zero it. */
void hits_release_one(ragd_hit *h);

/* Free v[0..n), each an owned hit, and the array v itself.  v may be NULL. */
void hits_release(ragd_hit *v, size_t n);

#endif /* RAGD_HITS_H */
