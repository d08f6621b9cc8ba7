/*
 * utf8 -- the one UTF-8 validator of ragd, strict as RFC 3629 says.
 *
 * Text that reaches ragd (queries, request bodies, ingested files) is
 * checked here before it is stored or answered, because jansson refuses to
 * encode a string that is not UTF-8 and an invalid query would otherwise
 * fail late, as a 500.  Not for decoding or for cutting text at character
 * boundaries.
 */
#ifndef RAGD_UTF8_H
#define RAGD_UTF8_H

#include <stddef.h>

/* The length of the longest prefix of s[0..n) made of whole, well-formed
 * UTF-8 characters (RFC 3629): no stray continuation bytes, no C0, C1 or
 * F5..FF lead bytes, no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF, no sequence cut short by the end.  It also stops at a NUL
 * byte: U+0000 is well-formed, but every caller keeps text in C strings or
 * hands it to jansson, where it would cut the text short or be refused.
 *
 * So s[0..n) is valid text exactly when utf8_span(s, n) == n, and otherwise
 * the result is the offset of the first offending byte.  s need not be
 * NUL-terminated. */
size_t utf8_span(const char *s, size_t n);

#endif /* RAGD_UTF8_H */
