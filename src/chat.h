/*
 * chat -- an OpenAI chat-completions request (POST /v1/chat/completions)
 * read as a /search request: the last user message is the query.
 *
 * Pure, like sreq: it knows nothing of sockets, so the HTTP layer only
 * checks the body size and turns a chat_req into a search.  Not a chat
 * model: earlier messages, roles other than "user" and every other OpenAI
 * field are ignored, as ragd answers each question from retrieval alone.
 */
#ifndef RAGD_CHAT_H
#define RAGD_CHAT_H

#include <stddef.h>

#include "sreq.h"

/* Longest model name kept, in bytes.  The name is echoed into the answer
 * and into every streamed chunk, so a client must not be able to make each
 * chunk as large as its request. */
#define CHAT_MODEL_MAX 256

typedef struct chat_req {
    sreq q;       /* the search: the query, everything else at its default */
    char *model;  /* owned; the "model" string cut to CHAT_MODEL_MAX bytes at a
                   * character boundary, or NULL when the body has none */
    int stream;   /* "stream": true asked for chat.completion.chunk events */
} chat_req;

/*
 * Read the JSON body[0..len).  The query is the text of the last message
 * whose role is "user": its content when that is a string, else the first
 * part of its content array with a string "text".  The query is checked
 * against lim as a /search query is (length, not blank).  A "model" that is
 * not a string and a "stream" that is not true are ignored, like every
 * other field: clients fill in fields ragd has no use for.
 *
 * Returns 0 with c filled, or -1 with e naming the field (body, messages or
 * query) and c empty.  Either way the caller calls chat_release(c).
 */
int chat_from_json(chat_req *c, const char *body, size_t len, const sreq_limits *lim,
                   sreq_error *e);

/* Free what c owns and empty it. */
void chat_release(chat_req *c);

/* Room for a completion id and its terminating NUL. */
#define CHAT_ID_SIZE 32

/* Write a new completion id, "chatcmpl-" and 16 hex digits, into
 * id[CHAT_ID_SIZE]: a per-process random part and a counter, so no two
 * replies of one server share an id and two servers rarely do.  Loop
 * thread only. */
void chat_new_id(char id[CHAT_ID_SIZE]);

#endif /* RAGD_CHAT_H */
