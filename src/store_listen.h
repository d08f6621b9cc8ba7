/*
 * store_listen -- the change feed of a PostgreSQL store: "the store at URL
 * changed", told by the database the moment another process commits.
 *
 * A dedicated connection LISTENs on the channel every write NOTIFYs in its
 * transaction (store_pg.c); the loop watches its socket and, on each
 * notification, calls notify_publish(url), so what this process derives
 * from the store (the vector source's snapshot, the result cache) applies
 * the change log at once.  Connecting is blocking libpq work and runs on
 * the worker pool; reading notifications never blocks (the socket is
 * readable when the loop asks).  A dropped connection is retried with
 * backoff; every (re)connect publishes once, since writes made while no
 * one listened were told to no one: readers catch up from the log.
 *
 * Ownership: the caller owns the listener (new/free).  Loop thread only,
 * apart from its connect job.
 */
#ifndef RAGD_STORE_LISTEN_H
#define RAGD_STORE_LISTEN_H

#include "pool.h"

struct event_base;

typedef struct store_listen store_listen;

/* The feed's state, for /readyz. */
typedef enum {
    STORE_LISTEN_STARTING, /* not connected yet */
    STORE_LISTEN_LIVE,     /* listening, caught up at connect */
    STORE_LISTEN_LOST      /* was live; the database is unreachable now */
} store_listen_state;

/* Listen to the store at url (a postgres:// URL).  Returns the listener
 * (connecting in the background), or NULL (out of memory). */
store_listen *store_listen_new(struct event_base *base, pool *p, const char *url);

/* Stop and free *lp (NULL is fine); set it to NULL.  A connect still
 * running finishes on its worker and is closed then. */
void store_listen_free(store_listen **lp);

store_listen_state store_listen_get_state(const store_listen *l);

#endif /* RAGD_STORE_LISTEN_H */
