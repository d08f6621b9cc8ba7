/*
 * writer_json -- the /search response as one JSON document, and the pieces
 * of it that the other writers reuse (schemas/search-response.schema.json).
 */
#include <string.h>

#include "access.h"
#include "clock.h"
#include "jdump.h"
#include "writer.h"

/* A source's latency as reported: 0 for one that was never asked. */
static double writer_json_latency_ms(const fanout_slot *sl)
{
    return sl->state == FANOUT_DISABLED || sl->state == FANOUT_SKIPPED
               ? 0.0 : clock_report_ms(sl->end_us - sl->start_us);
}

/* The request's time so far, as timing_ms.total reports it. */
static double writer_json_total_ms(const writer_data *d)
{
    return clock_report_ms(clock_us() - d->t0_us);
}

json_t *writer_json_source(const fanout_slot *sl)
{
    json_t *o = json_pack("{ss sf sI}", "status", fanout_state_name(sl->state),
                          "latency_ms", writer_json_latency_ms(sl),
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
                          writer_json_total_ms(d));

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

/* ------------------------------------------------- printed directly -- */

/* Appenders for writer_json_print: each returns 0 or -1, as buf_add does. */
static int writer_json_lit(buf *b, const char *s)
{
    return buf_add(b, s, strlen(s), REPLY_MAX_JSON);
}

/* A NULL s fails, as json_pack's "s" fails on one. */
static int writer_json_str(buf *b, const char *s)
{
    return s ? jdump_str(b, s, strlen(s), REPLY_MAX_JSON) : -1;
}

/* ,"key": -- or "key": first in its object */
static int writer_json_key(buf *b, const char *key, int first)
{
    return (!first && writer_json_lit(b, ",") != 0) || writer_json_str(b, key) != 0 ||
           writer_json_lit(b, ":") != 0 ? -1 : 0;
}

static int writer_json_print_context(buf *b, size_t rank, const fuse_hit *f)
{
    const ragd_hit *h = f->hit;

    return writer_json_key(b, "rank", 1) || jdump_int(b, (json_int_t)rank, REPLY_MAX_JSON) ||
           writer_json_key(b, "source", 0) || writer_json_str(b, f->source) ||
           writer_json_key(b, "id", 0) || writer_json_str(b, h->id) ||
           writer_json_key(b, "title", 0) || writer_json_str(b, h->title ? h->title : "") ||
           writer_json_key(b, "url", 0) ||
           (h->url ? writer_json_str(b, h->url) : writer_json_lit(b, "null")) ||
           writer_json_key(b, "text", 0) || writer_json_str(b, h->text) ||
           writer_json_key(b, "score", 0) || jdump_real(b, f->score, REPLY_MAX_JSON) ? -1 : 0;
}

static int writer_json_print_source(buf *b, const fanout_slot *sl)
{
    return writer_json_str(b, sl->inst->name) || writer_json_lit(b, ":{\"status\":") ||
           writer_json_str(b, fanout_state_name(sl->state)) ||
           writer_json_key(b, "latency_ms", 0) ||
           jdump_real(b, writer_json_latency_ms(sl), REPLY_MAX_JSON) ||
           writer_json_key(b, "hits", 0) || jdump_int(b, (json_int_t)sl->nhits, REPLY_MAX_JSON) ||
           (sl->error && (writer_json_key(b, "error", 0) || writer_json_str(b, sl->error))) ||
           (sl->hedged && writer_json_lit(b, ",\"hedged\":true")) ||
           writer_json_lit(b, "}") ? -1 : 0;
}

int writer_json_print(buf *b, const writer_data *d, const char *request_id)
{
    if (d->cached || d->gen || writer_json_lit(b, "{\"query\":") || writer_json_str(b, d->query) ||
        writer_json_lit(b, ",\"contexts\":["))
        return -1;
    for (size_t i = 0; i < d->nhits; i++)
        if ((i && writer_json_lit(b, ",")) || writer_json_lit(b, "{") ||
            writer_json_print_context(b, i + 1, &d->hits[i]) || writer_json_lit(b, "}"))
            return -1;
    if (writer_json_lit(b, "],\"sources\":{"))
        return -1;
    for (size_t i = 0; i < d->nslots; i++)
        if ((i && writer_json_lit(b, ",")) || writer_json_print_source(b, d->slots[i]))
            return -1;
    return writer_json_lit(b, d->partial ? "},\"partial\":true" : "},\"partial\":false") ||
           writer_json_key(b, "timing_ms", 0) || writer_json_lit(b, "{") ||
           writer_json_key(b, "retrieval", 1) ||
           jdump_real(b, d->retrieval_ms, REPLY_MAX_JSON) || writer_json_key(b, "total", 0) ||
           jdump_real(b, writer_json_total_ms(d), REPLY_MAX_JSON) ||
           writer_json_lit(b, "}") || (d->coalesced && writer_json_lit(b, ",\"coalesced\":true")) ||
           (request_id &&
            (writer_json_key(b, "request_id", 0) || writer_json_str(b, request_id))) ||
           writer_json_lit(b, "}\n") ? -1 : 0;
}

static void writer_json_done(reply *r, const writer_data *d)
{
    buf text = {0};

    /* The common document printed straight from d, without a tree; a batch
     * item (which wants the tree), a cached document or an answer go the
     * general way, and so does a string jansson would refuse, to fail as
     * it fails there. */
    if (!r->collect && r->req &&
        writer_json_print(&text, d, access_request_id(r->req)) == 0) {
        reply_send_text(r, 200, &text);
        return;
    }
    buf_release(&text);
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
