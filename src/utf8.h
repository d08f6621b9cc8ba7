/*
 * utf8 -- the one UTF-8 validator of ragd, strict as RFC 3629 says.
 *
 * Text that reaches ragd (queries, request bodies, ingested files) is
 * checked here before it is stored or answered, because jansson refuses to
 * encode a string that is not UTF-8 and an invalid query would otherwise
 * fail late, as a 500.  Also the one UTF-8 decoder, for the modules that
 * look at characters (token counting, word splitting), so that every part
 * of ragd draws the line between valid and invalid text in the same place.
 * Not for cutting text at character boundaries or for case folding.
 */
#ifndef RAGD_UTF8_H
#define RAGD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* What utf8_next gives for a byte that does not start a well-formed
 * character: U+FFFD REPLACEMENT CHARACTER. */
#define UTF8_REPLACEMENT 0xFFFDu

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

/* Decode the character at s[i] (i < n; s need not be NUL-terminated) into
 * *cp and return its length in bytes, 1..4.
 *
 * When s[i] starts a character that is well-formed by utf8_span's rules
 * and lies whole inside s[0..n), *cp is its code point.  NUL is U+0000
 * here, a character like any other: the caller decides what it means.
 * Otherwise -- a stray continuation byte, a C0, C1 or F5..FF byte, an
 * overlong form, a surrogate, a code point past U+10FFFF, or a sequence cut
 * short by a bad byte or by n -- the result is 1 and *cp is
 * UTF8_REPLACEMENT: the one offending byte is skipped and decoding goes on
 * at the next, which may start a good character.  A well-formed U+FFFD is
 * 3 bytes long, so (1, UTF8_REPLACEMENT) always means an invalid byte. */
size_t utf8_next(const char *s, size_t n, size_t i, uint32_t *cp);

#endif /* RAGD_UTF8_H */
