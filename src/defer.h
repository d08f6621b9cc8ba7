/*
 * defer -- run a function on a later iteration of the event loop.
 *
 * The callback rule of ragd (an asynchronous call never calls back from
 * inside itself) needs this whenever an answer is ready at once: the
 * extractive generator, the built-in hash embedder.  A loop utility, so
 * that modules below the host need not include it.
 */
#ifndef RAGD_DEFER_H
#define RAGD_DEFER_H

struct event_base;

/* Run fn(arg) once, on a later iteration of base's loop.  Returns 0, or -1
 * (ENOMEM) and fn never runs. */
int defer_call(struct event_base *base, void (*fn)(void *), void *arg);

#endif /* RAGD_DEFER_H */
