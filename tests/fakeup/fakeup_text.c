/*
 * fakeup_text.c - the text helpers every part of fakeup shares: UTF-8
 * boundaries, JSON string escaping that never yields invalid JSON, words
 * (for embeddings and token counts), a stable hash, key names and strict
 * numbers. Pure functions on byte ranges; nothing here allocates.
 */
#include "fakeup.h"

#include <stdio.h>

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates), or 0 if the bytes there are not one. */
static size_t fakeup_text_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], cp, min;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Largest length <= max that does not split a character of valid UTF-8. */
size_t fakeup_text_utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

size_t fakeup_text_utf8_chars(const char *s, size_t n)
{
	size_t i, chars = 0;

	for (i = 0; i < n; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	return chars;
}

/* Byte offset of character number `chr` of valid UTF-8 s. */
size_t fakeup_text_utf8_offset(const char *s, size_t n, size_t chr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chr-- == 0)
			return i;
	return n;
}

/* Appends s as the inside of a JSON string. Invalid UTF-8 becomes U+FFFD,
 * so any query string still yields valid JSON. */
void fakeup_text_json_chars(struct evbuffer *o, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, len;
	char esc[8];

	while (i < n) {
		len = fakeup_text_utf8_len(u + i, n - i);
		if (len > 1 || (len == 1 && u[i] >= 0x20 && u[i] != '"' &&
		                u[i] != '\\')) {
			i += len;
			continue;
		}
		evbuffer_add(o, s + run, i - run);
		if (len == 0)
			ADD_LIT(o, "\\ufffd");
		else if (u[i] == '"' || u[i] == '\\')
			evbuffer_add_printf(o, "\\%c", u[i]);
		else if (u[i] == '\n')
			ADD_LIT(o, "\\n");
		else {
			snprintf(esc, sizeof esc, "\\u%04x", u[i]);
			evbuffer_add(o, esc, 6);
		}
		run = ++i;
	}
	evbuffer_add(o, s + run, n - run);
}

void fakeup_text_json_str(struct evbuffer *o, const char *s, size_t n)
{
	ADD_LIT(o, "\"");
	fakeup_text_json_chars(o, s, n);
	ADD_LIT(o, "\"");
}

bool fakeup_text_is_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Finds the next word at or after *pos; returns its length, 0 at the end. */
size_t fakeup_text_next_word(const char *s, size_t n, size_t *pos)
{
	size_t i = *pos, start;

	while (i < n && !fakeup_text_is_word_byte((unsigned char)s[i]))
		i++;
	start = i;
	while (i < n && fakeup_text_is_word_byte((unsigned char)s[i]))
		i++;
	*pos = start;
	return i - start;
}

int fakeup_text_count_words(const char *s, size_t n)
{
	size_t pos = 0, len;
	int words = 0;

	while ((len = fakeup_text_next_word(s, n, &pos)) > 0) {
		words++;
		pos += len;
	}
	return words;
}

/* FNV-1a of the ASCII-lowercased bytes. */
uint64_t fakeup_text_hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 1099511628211ULL;
	}
	return h;
}

/* Case-insensitive key comparison in which '-' and '_' are the same, so
 * "Delay-Ms", "delay-ms" and "delay_ms" all name one key. */
bool fakeup_text_key_eq(const char *s, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char a = s[i] == '-' ? '_' : s[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != key[i])
			return false;
	}
	return key[n] == '\0';
}

/* Strict decimal integer in [min, max]. */
bool fakeup_text_parse_int(const char *s, size_t n, int min, int max,
                           int *out)
{
	long long v = 0;
	size_t i;

	if (n == 0 || n > 9)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = (int)v;
	return true;
}

/* A fraction in 0..1 written as digits with at most six decimals ("0.1",
 * "1", ".25"), in parts per million. */
bool fakeup_text_parse_fraction(const char *s, size_t n, int *ppm)
{
	long long whole = 0, frac = 0, scale = PPM;
	size_t i = 0, digits = 0;

	for (; i < n && s[i] >= '0' && s[i] <= '9' && i < 9; i++, digits++)
		whole = whole * 10 + (s[i] - '0');
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9' && scale > 1;
		     i++, digits++)
			frac += (s[i] - '0') * (scale /= 10);
	if (i != n || digits == 0 || whole * PPM + frac > PPM)
		return false;
	*ppm = (int)(whole * PPM + frac);
	return true;
}
