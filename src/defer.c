/*
 * defer -- one-shot zero-delay timers (see defer.h).
 */
#include <stdlib.h>

#include <event2/event.h>

#include "defer.h"

typedef struct defer_item {
    void (*fn)(void *);
    void *arg;
} defer_item;

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
    defer_item d = *(defer_item *)arg;

    (void)fd;
    (void)what;
    free(arg);
    d.fn(d.arg);
}

int defer_call(struct event_base *base, void (*fn)(void *), void *arg)
{
    static const struct timeval now = {0, 0};
    defer_item *d = malloc(sizeof *d);

    if (!d)
        return -1;
    d->fn = fn;
    d->arg = arg;
    if (event_base_once(base, -1, EV_TIMEOUT, defer_cb, d, &now) != 0) {
        free(d);
        return -1;
    }
    return 0;
}
