/*
 * gen -- context, then the LLM or the extractive answer.
 *
 * A gen owns its context, its LLM call and its result; it frees itself
 * right after on_done returns.  The extractive path runs at once but
 * reports on a later loop iteration, so both paths keep the callback rule.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "extract.h"
#include "defer.h"
#include "gen.h"

#define GEN_EXTRACT_SENTENCES 3

struct gen {
    const gen_env *env;
    gen_callbacks cb;
    void *arg;
    ctx_source *src;      /* the contexts as ctx sees them; strings borrowed */
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
    free(g->src);
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
    r.latency_ms = clock_report_ms(clock_us() - g->start_us);
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

    if (block && prompt_render(&g->env->prompt, query, block, &system, &user) == 0)
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
    return defer_call(g->env->base, gen_extract_report, g) == 0 ? RAGD_OK : RAGD_ENOMEM;
}

/* The fused contexts as ctx sees them, numbered by rank. */
static ctx_source *gen_sources(const fuse_hit *hits, size_t n)
{
    ctx_source *v = calloc(n + 1, sizeof *v);

    for (size_t i = 0; v && i < n; i++)
        v[i] = (ctx_source){(int)i + 1, hits[i].source, hits[i].hit->id, hits[i].hit->title,
                            hits[i].hit->url, hits[i].hit->text};
    return v;
}

int gen_start(const gen_env *env, const char *query, const fuse_hit *hits, size_t n, int stream,
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
    if (!(g->src = gen_sources(hits, n)) || ctx_build(&g->context, g->src, n, env->context_tokens) != 0) {
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

int gen_env_init(gen_env *env, struct event_base *base, httpc *http, const config *cfg,
                 char *err, size_t errlen)
{
    const char *key = getenv("RAGD_LLM_API_KEY");

    memset(env, 0, sizeof *env);
    env->base = base;
    env->http = http;
    env->context_tokens = (size_t)cfg->context_tokens;
    if (cfg->prompt_file ? prompt_load(&env->prompt, cfg->prompt_file, err, errlen) != 0
                         : prompt_default(&env->prompt) != 0) {
        if (!cfg->prompt_file)
            snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!cfg->llm_url)
        return 0;
    env->llm_cfg.url = cfg->llm_url;
    env->llm_cfg.model = cfg->llm_model;
    env->llm_cfg.temperature = cfg->llm_temperature;
    env->llm_cfg.max_tokens = cfg->llm_max_tokens;
    env->llm_cfg.max_event = (size_t)cfg->max_sse_event;
    if (key && *key && !(env->llm_cfg.api_key = strdup(key))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    env->llm = &env->llm_cfg;
    return 0;
}

void gen_env_release(gen_env *env)
{
    free((char *)env->llm_cfg.api_key);
    prompt_release(&env->prompt);
    memset(env, 0, sizeof *env);
}
