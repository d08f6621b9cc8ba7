/*
 * prompt -- the template that turns a question and its numbered context
 * into the system and user messages sent to the LLM.
 *
 * A template has a system part and a user part; in each, {query} is
 * replaced by the question and {context} by the block ctx_render makes.
 * Any other {name} is kept as written.  Not for building the context, for
 * talking to the LLM, or for extracting citations from its answer.
 */
#ifndef RAGD_PROMPT_H
#define RAGD_PROMPT_H

#include <stddef.h>

typedef struct prompt_template {
    char *system;
    char *user;
} prompt_template;

/* Fill t with ragd's built-in template: answer only from the numbered
 * context, cite every claim as [n], say so when the context does not hold
 * the answer, answer in the question's language.  Returns 0, or -1 on
 * ENOMEM with t empty.  Free with prompt_release. */
int prompt_default(prompt_template *t);

/* Fill t from the JSON file at path: {"system": "...", "user": "..."}.
 * Both keys are required strings, no other key is allowed (a misspelt key
 * would otherwise be silently ignored), and {query} and {context} must each
 * appear in at least one of the two parts, since a template without them
 * would never show the model the question or the passages.
 *
 * Returns 0, or -1 with t empty and a message in err[0..errlen) naming the
 * file and what is wrong: the file cannot be read, a JSON syntax error (with
 * its line and column), a missing key, a key that is not a string (with the
 * key's line), an unknown key, a missing placeholder, out of memory.  Free t
 * with prompt_release. */
int prompt_load(prompt_template *t, const char *path, char *err, size_t errlen);

/* Render t for query and context (NUL-terminated UTF-8) into malloc'd
 * *system and *user, which the caller frees.  Placeholders are replaced in
 * one pass over the template, so a {context} or {query} written inside the
 * query or the context is not expanded.  Returns 0, or -1 on ENOMEM with
 * *system and *user NULL. */
int prompt_render(const prompt_template *t, const char *query, const char *context,
                  char **system, char **user);

/* Free what t owns and leave it empty.  t itself is not freed. */
void prompt_release(prompt_template *t);

#endif /* RAGD_PROMPT_H */
