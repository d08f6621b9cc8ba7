/*
 * jdump -- print a JSON value the way every document ragd writes is
 * printed (REPLY_JSON_FLAGS: compact, reals with 15 significant digits),
 * byte for byte what json_dumps prints, into a bounded buffer.
 *
 * It exists for speed on the event loop: json_dumps checks every string
 * character by character as UTF-8, keeps a hash table of the containers it
 * is inside (to refuse cycles) and copies its result once more at the end.
 * Values built with jansson's checked constructors are valid UTF-8 and the
 * trees ragd builds have no cycles, so jdump copies runs of plain bytes at
 * once and writes straight into the caller's buffer.  It is not a parser,
 * and it prints no other flags than REPLY_JSON_FLAGS.
 */
#ifndef RAGD_JDUMP_H
#define RAGD_JDUMP_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

/* Append the text of v, an object or array, to b, never letting b pass max
 * bytes.  v must be acyclic and its strings valid UTF-8 (as json_string
 * makes them).  Returns 0, or -1 when v is NULL or not a container (as
 * json_dumps refuses it), b would pass max, or memory runs out; b then may
 * hold a prefix of the text, which the caller releases. */
int jdump_add(buf *b, const json_t *v, size_t max);

/* The pieces, for printing a document without building its tree first:
 * each appends what jdump_add prints for that value, never letting b pass
 * max, and returns 0 or -1 (b may then hold part of it).  jdump_str checks
 * s[0..n) as json_string does (valid UTF-8, no NUL) and refuses it
 * otherwise; jdump_real refuses NaN and the infinities, as json_real does. */
int jdump_str(buf *b, const char *s, size_t n, size_t max);
int jdump_real(buf *b, double v, size_t max);
int jdump_int(buf *b, json_int_t v, size_t max);

#endif /* RAGD_JDUMP_H */
