/*
 * notify -- in-process "store changed" subscriptions (notify.h): a list,
 * since a process has a handful of store readers at most.
 */
#include "notify.h"

#include <stdlib.h>
#include <string.h>

struct notify_sub {
    char *path;
    notify_fn fn;
    void *arg;
    notify_sub *next;
};

/* Loop thread only, so no lock. */
static notify_sub *notify_head;

notify_sub *notify_subscribe(const char *path, notify_fn fn, void *arg)
{
    notify_sub *s = calloc(1, sizeof *s), **tail = &notify_head;

    if (!s || !(s->path = strdup(path))) {
        free(s);
        return NULL;
    }
    s->fn = fn;
    s->arg = arg;
    while (*tail)
        tail = &(*tail)->next;
    *tail = s;
    return s;
}

void notify_unsubscribe(notify_sub **sp)
{
    notify_sub **p = &notify_head;

    if (!*sp)
        return;
    while (*p && *p != *sp)
        p = &(*p)->next;
    if (*p)
        *p = (*sp)->next;
    free((*sp)->path);
    free(*sp);
    *sp = NULL;
}

void notify_publish(const char *path)
{
    /* A subscriber's callback may unsubscribe itself, so step first. */
    for (notify_sub *s = notify_head, *next; s; s = next) {
        next = s->next;
        if (!strcmp(s->path, path))
            s->fn(s->arg);
    }
}
