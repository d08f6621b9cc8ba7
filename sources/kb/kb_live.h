/*
 * kb_live -- a kb index kept current while ragd serves: the current
 * snapshot, and its refresh from the store's change log on the worker
 * pool, every refresh_ms and whenever this process writes the store.
 *
 * Loop thread only, except that snapshots (kb_index.h) may be searched and
 * dropped anywhere.  Searches hold the snapshot they started on; a refresh
 * swaps a new one in without waiting for them.
 */
#ifndef RAGD_KB_LIVE_H
#define RAGD_KB_LIVE_H

#include <ragd/source.h>

#include "kb_index.h"

typedef struct kb_live kb_live;

/* Load the index of the store at path (the BM25 column weights, >= 0),
 * on the loop, and keep it current: every refresh_ms milliseconds (0:
 * only when told) and on every in-process write (notify.h).  A refresh
 * that finds the change log trimmed past the index loads it whole again,
 * counted in ragd_source_index_loads_total under the instance's name
 * (copied).  Returns 0 with *out, or -1 with a message naming the file in
 * err. */
int kb_live_new(const ragd_host *host, const char *name, const char *path,
                double title_weight, double text_weight, long long refresh_ms, kb_live **out,
                char *err, size_t errlen);

/* The current snapshot, held for the caller (kb_index_drop it). */
kb_index *kb_live_get(kb_live *l);

/* Stop refreshing and free *lp (NULL is fine), or have the refresh in
 * flight free it when it ends; sets *lp to NULL. */
void kb_live_free(kb_live **lp);

#endif /* RAGD_KB_LIVE_H */
