/*
 * buf -- a growing byte buffer with a ceiling, after curl's dynbuf: every
 * append names the largest size the buffer may reach, and passing it is an
 * error the caller reports, never unbounded growth.
 */
#ifndef RAGD_BUF_H
#define RAGD_BUF_H

#include <stddef.h>

typedef struct buf {
    char *p;        /* NUL-terminated once anything was added, else NULL */
    size_t len, cap;
} buf;

/* Append s[0..n) to b, keeping it NUL-terminated.  Returns 0, or -1 (b
 * unchanged) when b would pass max bytes or memory runs out. */
int buf_add(buf *b, const char *s, size_t n, size_t max);

/* Free b's memory and empty it. */
void buf_release(buf *b);

#endif /* RAGD_BUF_H */
