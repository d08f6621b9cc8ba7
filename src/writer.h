/*
 * writer -- how a search's answer is written: one writer per output format,
 * behind one small table, so the search itself never asks which format its
 * client wanted.
 *
 *   writer_json      /search, one JSON document
 *   writer_events    /search as Server-Sent Events, each stage as it completes
 *   writer_chat      /v1/chat/completions, one OpenAI chat completion
 *   writer_chat_sse  /v1/chat/completions, streamed completion chunks
 *
 * The JSON is made here and only here, from the typed result of the search
 * (writer_data), and sent through the request's reply.  A writer keeps no
 * state of its own.
 */
#ifndef RAGD_WRITER_H
#define RAGD_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "fanout.h"
#include "fuse.h"
#include "gen.h"
#include "reply.h"

/* What a search has to say, as far as it got: borrowed from the search for
 * the duration of each writer call. */
typedef struct writer_data {
    const char *query;
    const char *model;             /* the model a chat client named, or NULL */
    int64_t t0_us;                 /* when the request arrived */
    fanout_slot *const *slots;     /* every source asked, in order (after retrieval) */
    size_t nslots;
    const fuse_hit *hits;          /* the fused contexts, best first */
    size_t nhits;
    int partial;                   /* a source failed or timed out */
    double retrieval_ms;
    const gen_result *gen;         /* NULL unless an answer was generated */
    int coalesced;                 /* answered from an identical search's fan-out */
    const char *id;                /* the chat completion's id, or NULL */
    const char *cached;            /* a stored document (writer_json_stored) to answer
                                    * instead, or NULL */
} writer_data;

typedef struct writer {
    int streams;  /* the reply is streamed: tokens are wanted as they come */
    /* The request was accepted; retrieval starts. */
    void (*start)(reply *r, const writer_data *d);
    /* One source settled (d->slots not yet set). */
    void (*source)(reply *r, const writer_data *d, const fanout_slot *sl);
    /* Retrieval is over: d has slots, hits, partial, retrieval_ms. */
    void (*contexts)(reply *r, const writer_data *d);
    /* One piece of the answer, as the generator produced it. */
    void (*token)(reply *r, const writer_data *d, const char *piece, size_t len);
    /* Everything is known: write the rest and end the reply. */
    void (*done)(reply *r, const writer_data *d);
    /* End the reply with an error (status is used only if nothing was sent). */
    void (*fail)(reply *r, const writer_data *d, int status, const char *code, const char *message);
} writer;

extern const writer writer_json, writer_events, writer_chat, writer_chat_sse;

/* Pieces of the /search document that the other formats reuse
 * (writer_json.c).  Each returns a new reference, or NULL on ENOMEM. */
json_t *writer_json_source(const fanout_slot *sl);
json_t *writer_json_contexts(const writer_data *d);
json_t *writer_json_sources(const writer_data *d);
json_t *writer_json_timing(const writer_data *d);
json_t *writer_json_generation(const writer_data *d);
json_t *writer_json_citations(const writer_data *d);
json_t *writer_json_body(const writer_data *d);

/* Append to b the /search document of d (without an answer, not from
 * the cache) with request_id (NULL: none) and a newline: the bytes that
 * printing writer_json_body plus its request_id gives, without building
 * the tree.  Returns 0, or -1 when d has an answer or a cached document,
 * a string is not valid UTF-8, a number is not finite, or memory runs out;
 * b may then hold part of it, which the caller releases. */
int writer_json_print(buf *b, const writer_data *d, const char *request_id);

/* The /search document of d as the result cache keeps it (a new string
 * the caller frees): without timing_ms, request_id or coalesced, which
 * belong to one request.  NULL on ENOMEM. */
char *writer_json_stored(const writer_data *d);

/* Add "request_id" to body (a /search document) when r answers an HTTP
 * request: the id of its X-Request-Id header.  Returns body (may be NULL). */
json_t *writer_json_request_id(json_t *body, const reply *r);

#endif /* RAGD_WRITER_H */
