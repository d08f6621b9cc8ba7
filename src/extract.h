/*
 * extract -- the built-in extractive "generator" used when no LLM is
 * configured: it answers with the sentences of the context that best match
 * the question, each followed by its citation.
 *
 * It never writes a word that is not in a passage, so it cannot invent
 * anything, and it cannot summarise, combine or translate either.  Pure: no
 * I/O, no loop.  Not for choosing the passages (context does that) or for
 * parsing an LLM's citations.
 */
#ifndef RAGD_EXTRACT_H
#define RAGD_EXTRACT_H

#include <stddef.h>

#include "ctx.h"

/* Longest sentence quoted whole, in bytes; longer ones are cut. */
#define EXTRACT_MAX_SENTENCE 400

/* Answer query (NUL-terminated UTF-8) from the entries of c.
 *
 * Sentences: each entry's text is split after '.', '?' or '!' followed by
 * whitespace (closing quotes and brackets stay with their sentence), after
 * a CJK full stop, question or exclamation mark, and at line ends, except
 * where a line of 50 bytes or more wraps onto one that starts in lower case
 * or with inline code ('`').  Fenced code blocks are never quoted.  A '.'
 * after "e.g", "i.e", "et al", "cf", "vs", "fig", "mr", "mrs", "ms", "dr" or
 * "prof" (any case) does not end a sentence, nor does one inside a number
 * ("3.5": no whitespace follows).  Other abbreviations do split a sentence:
 * the rule is deliberately small.
 *
 * Terms: words are runs of ASCII letters and digits and of bytes >= 0x80,
 * ASCII lowercased; words of one character and stop words
 * (embed_is_stopword) are dropped, and the rest lose one plural ending and
 * one -ing/-ed ending as the hash embedder does ("proteins" meets
 * "protein", "binding" meets "binds").
 *
 * Score of a sentence: the sum, over the distinct query terms it contains,
 * of ln(1 + S / df), where S is the number of sentences in the context and
 * df the number that contain the term (rarer terms weigh more), divided by
 * sqrt(words / 20) for a sentence of more than 20 words (so a long sentence
 * does not win only by being long).
 *
 * The answer: the max_sentences best sentences with a score > 0, best
 * first (ties: the earlier entry, then the earlier sentence), skipping one
 * whose set of words (all words, lowercased) overlaps an already picked
 * one's with Jaccard >= 0.8.  Each is written as "SENTENCE [n]", where n is
 * its entry's number, and they are joined by single spaces.  A sentence is
 * quoted as it is written, its own bracketed numbers such as "[12]" included
 * (so only the "[n]" after it is ragd's citation), except that runs of
 * whitespace become one space and a sentence longer than
 * EXTRACT_MAX_SENTENCE bytes is cut to at most that many bytes, at the last
 * space when one is in its second half, else between two UTF-8 characters
 * (text without spaces, such as Chinese), and ends with "…".
 *
 * Returns 0 with *answer malloc'd ("" when no sentence matches or
 * max_sentences is 0) and *citations a malloc'd array of the *ncitations
 * distinct numbers the answer cites, ascending (NULL when none); the caller
 * frees both.  Only numbers of entries of c are cited.  Returns -1 on ENOMEM
 * with *answer and *citations NULL and *ncitations 0. */
int extract_answer(const char *query, const ctx *c, size_t max_sentences,
                   char **answer, int **citations, size_t *ncitations);

#endif /* RAGD_EXTRACT_H */
