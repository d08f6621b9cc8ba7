/*
 * pin -- where ragd's loop and worker threads run: with --pin-threads
 * (config "pin_threads"), event loop i and worker i each on the i-th CPU
 * of the CPUs the process was given (counting round when there are more
 * threads than CPUs); without it, wherever the kernel puts them.
 *
 * Why: a loop hands each search's blocking work to a worker and takes the
 * result back, twice per search.  Left to itself the kernel tends to pull
 * the woken thread onto the waker's CPU and to move threads between CPUs
 * as loads shift, so loops and workers queue for one CPU while another has
 * time, and a search's data moves between caches.  Pinned, loop i and
 * worker i share CPU i and nothing moves.  It is not the default: two
 * pinned processes given the same CPUs pile onto the same ones, and a
 * pinned thread cannot escape a CPU that something else keeps busy.
 *
 * Threads that split one scan (par.c) are started by pinned threads but
 * are meant for idle CPUs: they take back the whole set (pin_release_self).
 * Everything here is process-wide and set once, at startup.
 */
#ifndef RAGD_PIN_H
#define RAGD_PIN_H

#include <stddef.h>

/* Turn pinning on or off for the threads that ask from now on,
 * remembering the CPUs the process may run on now.  The main thread, at
 * startup, before any loop, worker or split thread starts.  Returns 0, or
 * -1 with a message in err (pinning asked for, and the CPUs cannot be
 * read). */
int pin_setup(int on, char *err, size_t errlen);

/* With pinning on, run the calling thread on the i-th remembered CPU
 * (i modulo their number) and return that CPU's number; -1 when pinning
 * is off or the kernel refused (the thread then runs where it did). */
int pin_self(unsigned i);

/* With pinning on, let the calling thread run on every remembered CPU
 * again (a thread started by a pinned one inherits its single CPU). */
void pin_release_self(void);

/* The number of remembered CPUs, 0 when pinning is off. */
unsigned pin_count(void);

#endif /* RAGD_PIN_H */
