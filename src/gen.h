/*
 * gen -- the generation stage of a search: build the numbered context from
 * the fused contexts, then answer with the LLM (streamed or whole) or, when
 * no LLM is configured, with the built-in extractive generator.
 *
 * Follows the callback rule of ragd/source.h: gen_start returns an error
 * now and never calls back, or returns 0 and calls on_done exactly once,
 * later, on the loop thread.  on_token may run before that, never after.
 */
#ifndef RAGD_GEN_H
#define RAGD_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ctx.h"
#include "fuse.h"
#include "httpc.h"
#include "llm.h"
#include "prompt.h"

struct event_base;

/* What every generation of a server shares: made once at start by
 * gen_env_init, borrowed by each gen, freed by gen_env_release after the
 * last gen has called back. */
typedef struct gen_env {
    struct event_base *base;
    httpc *http;                  /* borrowed */
    const llm_config *llm;        /* NULL: extractive answers; else &llm_cfg */
    llm_config llm_cfg;           /* strings borrowed from the config; api_key owned */
    prompt_template prompt;
    size_t context_tokens;
} gen_env;

/* Prepare env from cfg: the prompt template (cfg->prompt_file or the
 * default) and, when cfg->llm_url is set, the LLM settings with the key
 * from $RAGD_LLM_API_KEY.  cfg and http are borrowed and must outlive env.
 * Returns 0, or -1 with a message in err (env then needs gen_env_release). */
int gen_env_init(gen_env *env, struct event_base *base, httpc *http, const config *cfg,
                 char *err, size_t errlen);

/* Free what env owns and zero it. */
void gen_env_release(gen_env *env);

typedef struct gen_result {
    int status;                   /* RAGD_OK, RAGD_ETIMEDOUT, RAGD_ECANCELED, RAGD_ERR */
    const char *answer;           /* NULL unless RAGD_OK; "" when nothing answered */
    const int *citations;         /* context ranks the answer cites, ascending */
    size_t ncitations;
    const char *generator;        /* "llm" or "extractive" */
    const char *model;            /* the model that answered, or NULL */
    const char *error;            /* set unless RAGD_OK with a non-empty answer */
    double latency_ms;
} gen_result;

/* The status of r as the API names it: "ok", "empty" (RAGD_OK, but the
 * answer is "": no sentence of the contexts matched, or the model said
 * nothing; r->error says which), "timeout" or "error". */
const char *gen_status_name(const gen_result *r);

typedef struct gen_callbacks {
    /* One piece of the answer as it is produced (complete UTF-8).  Return
     * non-zero to cancel.  May be NULL. */
    int (*on_token)(void *arg, const char *piece, size_t len);
    /* Exactly once; r is borrowed for the call. */
    void (*on_done)(void *arg, const gen_result *r);
} gen_callbacks;

typedef struct gen gen;

/* Answer query from the fused contexts hits[0..n) (best first; hits[i] is
 * context number i + 1), streaming the LLM's tokens when stream is set,
 * giving up at deadline_ms.  The hits are borrowed until on_done has run.
 * On 0, *out names the generation until on_done has run. */
int gen_start(const gen_env *env, const char *query, const fuse_hit *hits, size_t n, int stream,
              int64_t deadline_ms, const gen_callbacks *cb, void *arg, gen **out);

/* Stop a generation whose on_done has not run: on_done follows soon with
 * RAGD_ECANCELED, and an LLM transfer is aborted at once. */
void gen_cancel(gen *g);

/* Stop (paused non-zero) or restart the flow of tokens of a streamed LLM
 * answer, for backpressure from a slow client; the deadline keeps running.
 * No effect on an extractive answer, whose tokens are few and ready. */
void gen_pause(gen *g, int paused);

/* The distinct numbers cited as [n], [n][m] or [n, m] in text that are in
 * valid[0..nvalid), ascending, into a malloc'd array.  Returns the count,
 * or -1 on ENOMEM. */
int gen_citations(const char *text, const int *valid, size_t nvalid, int **out);

#endif /* RAGD_GEN_H */
