/*
 * gen -- context, then the LLM or the extractive answer.
 *
 * A gen owns its context, its LLM call and its result; it frees itself
 * right after on_done returns.  The extractive path runs at once but
 * reports on a later loop iteration, so both paths keep the callback rule.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "extract.h"
#include "gen.h"
#include "host.h"

#define GEN_EXTRACT_SENTENCES 3

struct gen {
    const gen_env *env;
    gen_callbacks cb;
    void *arg;
    ctx context;
    llm_call *llm;
    int64_t start_us;
    int cancelled;
    char *answer;
    int *citations;
    size_t ncitations;
};

static int gen_cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int gen_is_valid(int n, const int *valid, size_t nvalid)
{
    for (size_t i = 0; i < nvalid; i++)
        if (valid[i] == n)
            return 1;
    return 0;
}

int gen_citations(const char *text, const int *valid, size_t nvalid, int **out)
{
    int *v = malloc((nvalid ? nvalid : 1) * sizeof *v);
    size_t n = 0;

    if (!v)
        return -1;
    for (const char *p = text; (p = strchr(p, '[')); ) {
        p++;
        /* "[3]", "[3, 4]" and "[3,4]": numbers separated by commas. */
        while (isdigit((unsigned char)*p)) {
            long x = strtol(p, (char **)&p, 10);
            if (x > 0 && x < 1000 && gen_is_valid((int)x, valid, nvalid) &&
                !gen_is_valid((int)x, v, n))
                v[n++] = (int)x;
            while (*p == ',' || *p == ' ')
                p++;
        }
    }
    qsort(v, n, sizeof *v, gen_cmp_int);
    *out = v;
    return (int)n;
}

static void gen_free(gen *g)
{
    ctx_release(&g->context);
    free(g->answer);
    free(g->citations);
    free(g);
}

const char *gen_status_name(const gen_result *r)
{
    if (r->status == RAGD_OK)
        return *r->answer ? "ok" : "empty";
    return r->status == RAGD_ETIMEDOUT ? "timeout" : "error";
}

/* Report and free.  answer (NULL unless ok) is copied; error, when the
 * answer is ok but empty, says why. */
static void gen_finish(gen *g, int status, const char *answer, const char *generator,
                       const char *model, const char *error)
{
    gen_result r = {0};
    int *valid = NULL;

    if (g->cancelled && status == RAGD_OK) {
        status = RAGD_ECANCELED;
        error = "cancelled";
    }
    if (status == RAGD_OK && !(g->answer = strdup(answer))) {
        status = RAGD_ERR;
        error = "out of memory";
    }
    if (status == RAGD_OK && g->citations == NULL) {
        int nc = -1;
        if ((valid = malloc((g->context.n + 1) * sizeof *valid))) {
            for (size_t i = 0; i < g->context.n; i++)
                valid[i] = g->context.v[i].n;
            nc = gen_citations(g->answer, valid, g->context.n, &g->citations);
        }
        free(valid);
        if (nc < 0) {
            status = RAGD_ERR;
            error = "out of memory";
        } else {
            g->ncitations = (size_t)nc;
        }
    }
    r.status = status;
    r.answer = status == RAGD_OK ? g->answer : NULL;
    r.citations = status == RAGD_OK ? g->citations : NULL;
    r.ncitations = status == RAGD_OK ? g->ncitations : 0;
    r.generator = generator;
    r.model = model;
    if (status == RAGD_OK && !*g->answer && !error)
        error = "the model returned an empty answer";
    r.error = status == RAGD_OK && *g->answer ? NULL : error;
    r.latency_ms = (double)((clock_us() - g->start_us + 50) / 100) / 10.0;
    g->cb.on_done(g->arg, &r);
    gen_free(g);
}

static int gen_llm_token(void *arg, const char *piece, size_t len)
{
    gen *g = arg;

    if (g->cancelled)
        return 1;
    return g->cb.on_token ? g->cb.on_token(g->arg, piece, len) : 0;
}

static void gen_llm_done(void *arg, int status, const char *answer, const char *model,
                         const char *finish_reason, const char *error)
{
    gen *g = arg;

    (void)finish_reason;
    g->llm = NULL;
    gen_finish(g, status, answer, "llm", model ? model : g->env->llm->model, error);
}

static int gen_start_llm(gen *g, const char *query, int stream, int64_t deadline_ms)
{
    static const llm_callbacks cbs = {gen_llm_token, gen_llm_done};
    char *block = ctx_render(&g->context), *system = NULL, *user = NULL;
    int rc = RAGD_ENOMEM;

    if (block && prompt_render(g->env->prompt, query, block, &system, &user) == 0)
        rc = llm_start(g->env->http, g->env->base, g->env->llm, system, user, stream, deadline_ms,
                       &cbs, g, &g->llm);
    free(block);
    free(system);
    free(user);
    return rc;
}

/* The extractive answer, computed at once and reported on a later loop
 * iteration; its sentences are its tokens. */
static void gen_extract_report(void *arg)
{
    gen *g = arg;
    const char *p = g->answer;

    /* Pieces end after "] ": a "sentence [n]" is one token event, or a few
     * when the sentence quotes its passage's own "[12]". */
    while (p && *p && !g->cancelled && g->cb.on_token) {
        const char *end = strstr(p, "] ");
        size_t len = end ? (size_t)(end - p) + 2 : strlen(p);
        if (g->cb.on_token(g->arg, p, len) != 0)
            g->cancelled = 1;
        p += len;
    }
    {
        char *answer = g->answer;
        const char *why = g->context.n == 0 ? "no contexts to answer from"
                          : "no sentence in the contexts matched the query";
        g->answer = NULL;
        gen_finish(g, RAGD_OK, answer, "extractive", NULL, *answer ? NULL : why);
        free(answer);
    }
}

static int gen_start_extract(gen *g, const char *query)
{
    int *cites = NULL;
    size_t ncites = 0;

    if (extract_answer(query, &g->context, GEN_EXTRACT_SENTENCES, &g->answer, &cites, &ncites) != 0)
        return RAGD_ENOMEM;
    g->citations = cites;
    g->ncitations = ncites;
    return host_defer(g->env->base, gen_extract_report, g) == 0 ? RAGD_OK : RAGD_ENOMEM;
}

int gen_start(const gen_env *env, const char *query, const ctx_source *src, size_t n, int stream,
              int64_t deadline_ms, const gen_callbacks *cb, void *arg, gen **out)
{
    gen *g = calloc(1, sizeof *g);
    int rc;

    if (!g)
        return RAGD_ENOMEM;
    g->env = env;
    g->cb = *cb;
    g->arg = arg;
    g->start_us = clock_us();
    if (ctx_build(&g->context, src, n, env->context_tokens) != 0) {
        gen_free(g);
        return RAGD_ENOMEM;
    }
    rc = env->llm ? gen_start_llm(g, query, stream, deadline_ms) : gen_start_extract(g, query);
    if (rc != RAGD_OK) {
        gen_free(g);
        return rc;
    }
    *out = g;
    return RAGD_OK;
}

void gen_pause(gen *g, int paused)
{
    if (g->llm && !g->cancelled)
        llm_pause(g->llm, paused);
}

void gen_cancel(gen *g)
{
    g->cancelled = 1;
    if (g->llm)
        llm_cancel(g->llm);
}
