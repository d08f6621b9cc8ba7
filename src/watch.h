/*
 * watch -- turn writes that other processes make to a store (a `ragd
 * ingest` run beside the server) into notify.h messages, so that what this
 * process derives from the store (the result cache, the sources' indexes)
 * learns of them within one interval.
 *
 * Every interval a background pool job reads the store's last change
 * sequence number on the watch's own read-only handle; when it moved,
 * notify_publish(path) runs on the loop.  Writes made by this process are
 * published by their writer at once and seen here again later, which costs
 * subscribers one extra look at an unchanged log.
 *
 * Ownership: the caller owns the watch (watch_new / watch_free); the store
 * handle belongs to the watch and is used only inside its job, one job at
 * a time.  Loop thread only, apart from the job.
 */
#ifndef RAGD_WATCH_H
#define RAGD_WATCH_H

#include "pool.h"

struct event_base;

#define WATCH_INTERVAL_MS 1000

typedef struct watch watch;

/* Watch the store at path every interval_ms.  Returns the watch, or NULL
 * (out of memory). */
watch *watch_new(struct event_base *base, pool *p, const char *path, int interval_ms);

/* Stop watching and free *wp (NULL is fine); a job in flight frees it when
 * it comes back.  Sets *wp to NULL. */
void watch_free(watch **wp);

#endif /* RAGD_WATCH_H */
