/*
 * mask -- keeping a secret (an upstream's API key) out of the messages
 * ragd writes.
 *
 * Services echo a bad key back in their error messages, and those messages
 * reach logs, HTTP clients and the ingest CLI's output.  Every message that
 * may carry upstream text passes through here before it leaves the module
 * that knows the key.  A message is masked whole before it is cut to fit a
 * buffer, so cutting never leaves part of a key behind.  Not for secrets
 * the upstream transforms (escapes, abbreviates) before echoing them.
 */
#ifndef RAGD_MASK_H
#define RAGD_MASK_H

#include <stdarg.h>
#include <stddef.h>

/* Hide secret (if not NULL or empty) in the NUL-terminated s, in place:
 * every occurrence becomes "***" (a secret shorter than 3 bytes becomes as
 * many '*'), and so does a tail of s of 4 or more bytes that is the start
 * of secret -- what a message cut to fit a buffer may leave of it.  s only
 * shrinks. */
void mask_secret(char *s, const char *secret);

/* snprintf(out, outlen, fmt, ...) with secret hidden as mask_secret does,
 * in the whole message before it is cut to fit out: a key that the cut
 * would have split is never partly shown.  (Should memory run out for the
 * whole message, the cut one is masked instead, which can leave up to 3
 * bytes of a split key.)  outlen 0 writes nothing. */
void mask_printf(char *out, size_t outlen, const char *secret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* mask_printf with a va_list. */
void mask_vprintf(char *out, size_t outlen, const char *secret, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif /* RAGD_MASK_H */
