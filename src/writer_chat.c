/*
 * writer_chat -- the answer as an OpenAI chat completion, whole or streamed
 * as completion chunks ending in "data: [DONE]", so an OpenAI client library
 * can talk to ragd.  ragd's own response rides along under "ragd" (whole)
 * and the cited contexts under "citations".
 *
 * "usage" is ragd's own approximation (ctx_count_tokens), not a model's
 * tokenizer: the prompt is the query and the fused contexts, the completion
 * the answer.
 */
#include <string.h>
#include <time.h>

#include "ctx.h"
#include "writer.h"

static const char *writer_chat_model(const writer_data *d)
{
    return d->model ? d->model : "ragd";
}

/* Every chunk of one stream carries the same id, set once per request. */
static const char *writer_chat_id(const writer_data *d)
{
    return d->id ? d->id : "chatcmpl-ragd";
}

/* {"prompt_tokens","completion_tokens","total_tokens"}, counted as
 * ctx_count_tokens counts: the prompt is the query and every fused
 * context, the completion the answer (empty when there is none). */
static json_t *writer_chat_usage(const writer_data *d, const char *answer)
{
    size_t prompt = ctx_count_tokens(d->query, strlen(d->query));
    size_t completion = ctx_count_tokens(answer, strlen(answer));

    for (size_t i = 0; i < d->nhits; i++)
        prompt += ctx_count_tokens(d->hits[i].hit->text, strlen(d->hits[i].hit->text));
    return json_pack("{sI sI sI}", "prompt_tokens", (json_int_t)prompt, "completion_tokens",
                     (json_int_t)completion, "total_tokens", (json_int_t)(prompt + completion));
}

/* The contexts the answer cites, as chat clients get them. */
static json_t *writer_chat_citations(const writer_data *d)
{
    json_t *out = json_array();

    for (size_t i = 0; d->gen && i < d->gen->ncitations && out; i++) {
        int n = d->gen->citations[i];
        const fuse_hit *f = &d->hits[n - 1];
        json_array_append_new(out, json_pack("{si ss ss so ss}", "n", n, "id", f->hit->id,
                                             "title", f->hit->title ? f->hit->title : "",
                                             "url", f->hit->url ? json_string(f->hit->url)
                                                                : json_null(),
                                             "source", f->source));
    }
    return out;
}

static json_t *writer_chat_body(const writer_data *d)
{
    const char *status = d->gen ? gen_status_name(d->gen) : NULL;
    /* An empty answer is still an answer: the chat client gets "" and stop. */
    int ok = status && (strcmp(status, "ok") == 0 || strcmp(status, "empty") == 0);
    const char *answer = ok ? d->gen->answer : "";

    return json_pack("{ss ss sI ss s[{sI s{ss ss} ss}] so so so}",
                     "id", writer_chat_id(d), "object", "chat.completion",
                     "created", (json_int_t)time(NULL), "model", writer_chat_model(d),
                     "choices", "index", (json_int_t)0, "message", "role", "assistant",
                     "content", answer, "finish_reason", ok ? "stop" : "error",
                     "usage", writer_chat_usage(d, answer),
                     "citations", writer_chat_citations(d),
                     "ragd", writer_json_body(d));
}

static void writer_chat_done(reply *r, const writer_data *d)
{
    json_t *body = writer_chat_body(d);

    writer_json_request_id(json_object_get(body, "ragd"), r);
    reply_send_json(r, 200, body);
}

static void writer_chat_fail(reply *r, const writer_data *d, int status, const char *code,
                             const char *message)
{
    (void)d;
    reply_send_error(r, status, code, message);
}

const writer writer_chat = {
    .streams = 0,
    .done = writer_chat_done,
    .fail = writer_chat_fail,
};

/* -------------------------------------------------------- streamed -- */

static void writer_chat_sse_start(reply *r, const writer_data *d)
{
    (void)d;
    reply_stream_start(r);
}

static void writer_chat_sse_token(reply *r, const writer_data *d, const char *piece, size_t len)
{
    reply_stream_event(r, NULL, json_pack("{ss ss sI ss s[{sI s{ss%} sn}]}",
                                          "id", writer_chat_id(d), "object", "chat.completion.chunk",
                                          "created", (json_int_t)time(NULL),
                                          "model", writer_chat_model(d), "choices",
                                          "index", (json_int_t)0, "delta", "content", piece, len,
                                          "finish_reason"));
}

static void writer_chat_sse_done(reply *r, const writer_data *d)
{
    static const char done[] = "data: [DONE]\n\n";

    reply_stream_event(r, NULL, json_pack("{ss ss sI ss s[{sI s{} ss}] so}",
                                          "id", writer_chat_id(d), "object", "chat.completion.chunk",
                                          "created", (json_int_t)time(NULL),
                                          "model", writer_chat_model(d), "choices",
                                          "index", (json_int_t)0, "delta", "finish_reason", "stop",
                                          "citations", writer_chat_citations(d)));
    reply_stream_send(r, done, sizeof done - 1);
    reply_stream_end(r);
}

static void writer_chat_sse_fail(reply *r, const writer_data *d, int status, const char *code,
                                 const char *message)
{
    (void)d;
    (void)status;
    reply_stream_event(r, NULL, json_pack("{ss ss}", "code", code, "message", message));
    reply_stream_end(r);
}

const writer writer_chat_sse = {
    .streams = 1,
    .start = writer_chat_sse_start,
    .token = writer_chat_sse_token,
    .done = writer_chat_sse_done,
    .fail = writer_chat_sse_fail,
};
