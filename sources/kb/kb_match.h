/*
 * kb_match -- turning a user's query text into a safe FTS5 MATCH expression.
 *
 * For the kb source only: it decides which words of a query are searched and
 * guarantees that nothing the user typed reaches FTS5 as query syntax.  Not
 * a tokenizer: FTS5's own tokenizer (porter unicode61) still splits, folds
 * and stems each quoted word.
 */
#ifndef RAGD_KB_MATCH_H
#define RAGD_KB_MATCH_H

/* Most distinct words a MATCH expression holds; later words are ignored. */
#define KB_MATCH_MAX_WORDS 64

/* Build the MATCH expression for query (a NUL-terminated string; need not be
 * valid UTF-8).
 *
 * Words are maximal runs of ASCII letters and digits and of bytes >= 0x80,
 * so a UTF-8 word stays whole; bytes that are not part of a valid UTF-8
 * sequence are removed.  ASCII letters are lowercased.  English stop words
 * are dropped unless every word is one, repeated words are kept once (first
 * occurrence wins, order is kept), and at most KB_MATCH_MAX_WORDS words are
 * kept.  Each word is wrapped in double quotes and the words are joined with
 * " OR ": `"alpha" OR "beta"`.  Every other byte (quotes, parentheses, `*`,
 * `:`, `^`, `+`, `-`, `{`, `}`...) separates words, so the expression is
 * always valid FTS5 syntax and keywords such as AND, NOT or NEAR are
 * searched as plain words.
 *
 * Returns a malloc'd string the caller frees with free(): the expression, or
 * "" when the query has no word; NULL only when out of memory. */
char *kb_match_expr(const char *query);

#endif /* RAGD_KB_MATCH_H */
