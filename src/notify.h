/*
 * notify -- "the store at PATH changed", told within the process.
 *
 * The job runner (job.c) publishes after each transaction it commits; a
 * reader of that store (the vector source) subscribes and applies the
 * store's change log at once instead of at its next refresh tick.  No
 * polling, no reload: the message carries only the path, and the reader
 * reads what changed from the store itself.
 *
 * Loop thread only.  A subscription is owned by its subscriber, which ends
 * it (notify_unsubscribe) before the arg it registered is freed.
 */
#ifndef RAGD_NOTIFY_H
#define RAGD_NOTIFY_H

typedef void (*notify_fn)(void *arg);

typedef struct notify_sub notify_sub;

/* Call fn(arg) on every notify_publish(path) from now on.  Returns the
 * subscription, or NULL (out of memory). */
notify_sub *notify_subscribe(const char *path, notify_fn fn, void *arg);

/* End *sp (NULL is fine) and set it to NULL. */
void notify_unsubscribe(notify_sub **sp);

/* Tell every subscriber of path, in the order they subscribed. */
void notify_publish(const char *path);

#endif /* RAGD_NOTIFY_H */
