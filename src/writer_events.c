/*
 * writer_events -- /search as Server-Sent Events: a "source" event as each
 * source settles, "contexts" when retrieval is over, a "token" per piece of
 * the answer, then "done"; or an "error" event that ends the stream
 * (schemas/sse-events.schema.json).
 */
#include "writer.h"

static void writer_events_start(reply *r, const writer_data *d)
{
    (void)d;
    reply_stream_start(r);
}

static void writer_events_source(reply *r, const writer_data *d, const fanout_slot *sl)
{
    json_t *ev = writer_json_source(sl);

    (void)d;
    if (ev)
        json_object_set_new(ev, "name", json_string(sl->inst->name));
    reply_stream_event(r, "source", ev);
}

static void writer_events_contexts(reply *r, const writer_data *d)
{
    reply_stream_event(r, "contexts",
                       json_pack("{so so sb s{sf}}", "contexts", writer_json_contexts(d),
                                 "sources", writer_json_sources(d), "partial", d->partial,
                                 "timing_ms", "retrieval", d->retrieval_ms));
}

static void writer_events_token(reply *r, const writer_data *d, const char *piece, size_t len)
{
    (void)d;
    reply_stream_event(r, "token", json_pack("{ss%}", "text", piece, len));
}

/* A failed generation is reported as an error event before "done". */
static void writer_events_done(reply *r, const writer_data *d)
{
    const gen_result *g = d->gen;

    if (g && g->status != RAGD_OK)
        reply_stream_event(r, "error", json_pack("{ss ss ss}", "stage", "generation", "code",
                                                 g->status == RAGD_ETIMEDOUT ? "timeout" : "failed",
                                                 "message", g->error ? g->error : "failed"));
    reply_stream_event(r, "done", json_pack("{so so so sb so}", "answer",
                                            g && g->answer ? json_string(g->answer) : json_null(),
                                            "citations", writer_json_citations(d),
                                            "generation", writer_json_generation(d),
                                            "partial", d->partial,
                                            "timing_ms", writer_json_timing(d)));
    reply_stream_end(r);
}

static void writer_events_fail(reply *r, const writer_data *d, int status, const char *code,
                               const char *message)
{
    (void)d;
    (void)status;
    reply_stream_event(r, "error", json_pack("{ss ss}", "code", code, "message", message));
    reply_stream_end(r);
}

const writer writer_events = {
    .streams = 1,
    .start = writer_events_start,
    .source = writer_events_source,
    .contexts = writer_events_contexts,
    .token = writer_events_token,
    .done = writer_events_done,
    .fail = writer_events_fail,
};
