/*
 * writer_json -- the /search response as one JSON document, and the pieces
 * of it that the other writers reuse (schemas/search-response.schema.json).
 */
#include <string.h>

#include "access.h"
#include "clock.h"
#include "writer.h"

json_t *writer_json_source(const fanout_slot *sl)
{
    json_t *o = json_pack("{ss sf sI}", "status", fanout_state_name(sl->state),
                          "latency_ms",
                          sl->state == FANOUT_DISABLED || sl->state == FANOUT_SKIPPED ? 0.0
                                        : clock_report_ms(sl->end_us - sl->start_us),
                          "hits", (json_int_t)sl->nhits);

    if (o && sl->error)
        json_object_set_new(o, "error", json_string(sl->error));
    if (o && sl->hedged)
        json_object_set_new(o, "hedged", json_true());
    return o;
}

static json_t *writer_json_context(size_t rank, const fuse_hit *f)
{
    const ragd_hit *h = f->hit;

    return json_pack("{sI ss ss ss so ss sf}", "rank", (json_int_t)rank, "source", f->source,
                     "id", h->id, "title", h->title ? h->title : "",
                     "url", h->url ? json_string(h->url) : json_null(), "text", h->text,
                     "score", f->score);
}

json_t *writer_json_contexts(const writer_data *d)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < d->nhits && arr; i++)
        if (json_array_append_new(arr, writer_json_context(i + 1, &d->hits[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    return arr;
}

json_t *writer_json_sources(const writer_data *d)
{
    json_t *o = json_object();

    for (size_t i = 0; i < d->nslots && o; i++)
        if (json_object_set_new(o, d->slots[i]->inst->name,
                                writer_json_source(d->slots[i])) != 0) {
            json_decref(o);
            o = NULL;
        }
    return o;
}

json_t *writer_json_timing(const writer_data *d)
{
    json_t *t = json_pack("{sf sf}", "retrieval", d->retrieval_ms, "total",
                          clock_report_ms(clock_us() - d->t0_us));

    if (t && d->gen)
        json_object_set_new(t, "generation", json_real(d->gen->latency_ms));
    return t;
}

json_t *writer_json_generation(const writer_data *d)
{
    const gen_result *r = d->gen;
    json_t *o;

    if (!r)
        return json_null();
    o = json_pack("{ss ss sf so}", "status", gen_status_name(r), "generator", r->generator,
                  "latency_ms", r->latency_ms,
                  "model", r->model ? json_string(r->model) : json_null());
    if (o && r->error)
        json_object_set_new(o, "error", json_string(r->error));
    return o;
}

json_t *writer_json_citations(const writer_data *d)
{
    json_t *arr = json_array();

    for (size_t i = 0; d->gen && i < d->gen->ncitations && arr; i++)
        json_array_append_new(arr, json_integer(d->gen->citations[i]));
    return arr;
}

static json_t *writer_json_answer(const writer_data *d)
{
    return d->gen && d->gen->answer ? json_string(d->gen->answer) : json_null();
}

/* The stored document d->cached, said to be cached, with this request's
 * query as the client wrote it (an identical search may have spaced it
 * differently) and its timing. */
static json_t *writer_json_cached(const writer_data *d)
{
    json_t *o = json_loads(d->cached, 0, NULL);

    if (o) {
        json_object_set_new(o, "query", json_string(d->query));
        json_object_set_new(o, "cached", json_true());
        json_object_set_new(o, "timing_ms", writer_json_timing(d));
    }
    return o;
}

json_t *writer_json_body(const writer_data *d)
{
    json_t *o;

    if (d->cached)
        return writer_json_cached(d);
    o = json_pack("{ss so so sb so}", "query", d->query,
                          "contexts", writer_json_contexts(d), "sources", writer_json_sources(d),
                          "partial", d->partial, "timing_ms", writer_json_timing(d));

    if (o && d->coalesced)
        json_object_set_new(o, "coalesced", json_true());
    if (o && d->gen) {
        json_object_set_new(o, "answer", writer_json_answer(d));
        json_object_set_new(o, "citations", writer_json_citations(d));
        json_object_set_new(o, "generation", writer_json_generation(d));
    }
    return o;
}

char *writer_json_stored(const writer_data *d)
{
    json_t *o = writer_json_body(d);
    char *text = NULL;

    if (o) {
        json_object_del(o, "timing_ms");
        json_object_del(o, "coalesced");
        text = json_dumps(o, JSON_COMPACT);
    }
    json_decref(o);
    return text;
}

json_t *writer_json_request_id(json_t *body, const reply *r)
{
    const char *id = access_request_id(r->req);

    if (body && id)
        json_object_set_new(body, "request_id", json_string(id));
    return body;
}

static void writer_json_done(reply *r, const writer_data *d)
{
    reply_send_json(r, 200, writer_json_request_id(writer_json_body(d), r));
}

static void writer_json_fail(reply *r, const writer_data *d, int status, const char *code,
                             const char *message)
{
    (void)d;
    reply_send_error(r, status, code, message);
}

const writer writer_json = {
    .streams = 0,
    .done = writer_json_done,
    .fail = writer_json_fail,
};
