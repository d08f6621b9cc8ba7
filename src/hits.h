/*
 * hits -- owned arrays of ragd_hit: the one place that copies a borrowed hit
 * and the one place that frees an owned one.
 *
 * A source hands ragd hits it still owns (borrowed for the duration of its
 * callback); whoever keeps them takes a copy here, once.  An owned hit owns
 * its four strings; an owned array owns its hits.
 */
#ifndef RAGD_HITS_H
#define RAGD_HITS_H

#include <stddef.h>

#include <ragd/source.h>

/* Copy src into dst, owning every string: a NULL id or text becomes "", a
 * NULL title or url stays NULL.  Returns 0, or -1 (ENOMEM) with dst left
 * empty (nothing to free). */
int hits_copy_one(ragd_hit *dst, const ragd_hit *src);

/* Copy src[0..n) into a new array in *out (NULL when n is 0).  Returns 0,
 * or -1 (ENOMEM) with *out NULL and nothing allocated. */
int hits_copy(const ragd_hit *src, size_t n, ragd_hit **out);

/* Free the strings of h (an owned hit) and zero it. */
void hits_release_one(ragd_hit *h);

/* Free v[0..n), each an owned hit, and the array v itself.  v may be NULL. */
void hits_release(ragd_hit *v, size_t n);

#endif /* RAGD_HITS_H */
