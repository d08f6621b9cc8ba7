/* Unit tests for the writers' JSON: the /search document built from a
 * typed search result (writer_json_*), as every format reuses it.  The
 * streamed formats are exercised end to end by t0610 and t0620. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jdump.h"
#include "tap.h"
#include "writer.h"

static instance inst_kb = {.name = "kb", .weight = 1.0};
static instance inst_web = {.name = "web", .weight = 1.0};

static ragd_hit hits_kb[] = {
    {"d1", "One", NULL, "first text", 3.5},
    {"d2", NULL, "http://x/2", "second text", 2.0},
};

static fanout_slot slot_kb = {&inst_kb, FANOUT_OK, 1000, 3500, hits_kb, 2, NULL, 0};
static fanout_slot slot_web = {&inst_web, FANOUT_TIMEOUT, 1000, 151000, NULL, 0, "deadline passed", 0};

static writer_data data(const fuse_hit *fused, size_t n, const gen_result *g)
{
    static fanout_slot *const slots[] = {&slot_kb, &slot_web};

    return (writer_data){"what is one", NULL, clock_us(), slots, 2, fused, n, 1, 12.3, g, 0, NULL, NULL};
}

static const char *get_s(json_t *o, const char *path_a, const char *path_b)
{
    json_t *v = json_object_get(o, path_a);
    if (path_b)
        v = json_object_get(v, path_b);
    return json_string_value(v);
}

static void test_body_without_generation(void)
{
    fuse_hit fused[] = {{&hits_kb[1], "kb", 0, 1, 0.5}, {&hits_kb[0], "kb", 0, 0, 0.25}};
    writer_data d = data(fused, 2, NULL);
    json_t *b = writer_json_body(&d), *c0, *c1;

    ok(b != NULL, "a body is built");
    is_str(get_s(b, "query", NULL), "what is one", "query echoed");
    c0 = json_array_get(json_object_get(b, "contexts"), 0);
    c1 = json_array_get(json_object_get(b, "contexts"), 1);
    is_int(json_array_size(json_object_get(b, "contexts")), 2, "both fused hits are contexts");
    is_int(json_integer_value(json_object_get(c0, "rank")), 1, "ranks count from 1");
    is_str(get_s(c0, "id", NULL), "d2", "in fused order");
    is_str(get_s(c0, "title", NULL), "", "a missing title is \"\"");
    is_str(get_s(c0, "url", NULL), "http://x/2", "the url is kept");
    ok(json_is_null(json_object_get(c1, "url")), "a missing url is null");
    ok(json_real_value(json_object_get(c0, "score")) == 0.5, "the fused score, not the source's");
    is_str(get_s(c0, "source", NULL), "kb", "the source's name");
    is_str(get_s(json_object_get(b, "sources"), "kb", "status"), "ok", "a source's status");
    is_str(get_s(json_object_get(b, "sources"), "web", "status"), "timeout", "a timeout");
    is_str(get_s(json_object_get(b, "sources"), "web", "error"), "deadline passed",
           "with its error");
    ok(json_real_value(json_object_get(json_object_get(json_object_get(b, "sources"), "kb"),
                                       "latency_ms")) == 2.5, "latency in ms to 0.1");
    ok(json_is_true(json_object_get(b, "partial")), "partial as given");
    ok(!json_object_get(b, "answer") && !json_object_get(b, "generation"),
       "no answer fields without generation");
    ok(!json_object_get(json_object_get(b, "timing_ms"), "generation"), "nor its timing");
    json_decref(b);
}

static void test_body_with_generation(void)
{
    fuse_hit fused[] = {{&hits_kb[0], "kb", 0, 0, 0.5}};
    int cites[] = {1};
    gen_result g = {RAGD_OK, "One it is. [1]", cites, 1, "extractive", NULL, NULL, 4.5};
    writer_data d = data(fused, 1, &g);
    json_t *b = writer_json_body(&d);

    is_str(get_s(b, "answer", NULL), "One it is. [1]", "the answer");
    is_int(json_integer_value(json_array_get(json_object_get(b, "citations"), 0)), 1,
           "its citations");
    is_str(get_s(b, "generation", "status"), "ok", "generation status");
    is_str(get_s(b, "generation", "generator"), "extractive", "and generator");
    ok(json_is_null(json_object_get(json_object_get(b, "generation"), "model")),
       "no model: null");
    ok(json_real_value(json_object_get(json_object_get(b, "timing_ms"), "generation")) == 4.5,
       "generation timing");
    json_decref(b);

    g = (gen_result){RAGD_ETIMEDOUT, NULL, NULL, 0, "llm", "m", "deadline", 9.0};
    b = writer_json_body(&d);
    ok(json_is_null(json_object_get(b, "answer")), "a failed generation answers null");
    is_int(json_array_size(json_object_get(b, "citations")), 0, "with no citations");
    is_str(get_s(b, "generation", "status"), "timeout", "status timeout");
    is_str(get_s(b, "generation", "error"), "deadline", "and the error");
    json_decref(b);
}

static void test_writers_table(void)
{
    ok(!writer_json.streams && !writer_chat.streams, "whole formats do not stream");
    ok(writer_events.streams && writer_chat_sse.streams, "event formats stream");
    ok(writer_json.done && writer_json.fail && writer_events.done && writer_events.fail &&
       writer_chat.done && writer_chat.fail && writer_chat_sse.done && writer_chat_sse.fail,
       "every writer can finish and fail");
    ok(writer_events.source && writer_events.contexts && writer_events.token,
       "events report sources, contexts and tokens");
    ok(!writer_json.token && !writer_chat.token && writer_chat_sse.token,
       "only streamed chat takes tokens among the chat and json writers");
}

/* text with its "total" timing's number cut out (the two ways of printing
 * read the clock at different moments); a new string. */
static char *without_total(const char *text)
{
    const char *at = strstr(text, "\"total\":");
    char *out = strdup(text);
    size_t skip;

    if (!at || !out)
        return out;
    at += strlen("\"total\":");
    skip = strspn(at, "0123456789.e-");
    memmove(out + (at - text), at + skip, strlen(at + skip) + 1);
    return out;
}

/* writer_json_print gives the bytes that printing the tree gives. */
static void same_as_tree(const writer_data *d, const char *request_id, const char *name)
{
    json_t *tree = writer_json_body(d);
    buf want = {0}, got = {0};
    char *w, *g;

    if (tree && request_id)
        json_object_set_new(tree, "request_id", json_string(request_id));
    ok(tree && jdump_add(&want, tree, REPLY_MAX_JSON) == 0 &&
       buf_add(&want, "\n", 1, REPLY_MAX_JSON) == 0, "%s: the tree prints", name);
    ok(writer_json_print(&got, d, request_id) == 0, "%s: printed directly", name);
    w = without_total(want.p ? want.p : "");
    g = without_total(got.p ? got.p : "");
    is_str(g, w, "%s: the same bytes", name);
    free(w);
    free(g);
    buf_release(&want);
    buf_release(&got);
    json_decref(tree);
}

static void test_print_direct(void)
{
    ragd_hit odd[] = {
        {"q\"uote\\back", "tab\there\x01", "http://x/\xc3\xa9", "line\nbreak \xe2\x82\xac \xf0\x9f\x98\x80 </script>", 1},
        {"e", "", NULL, "", 1},
    };
    fuse_hit fused[] = {{&hits_kb[1], "kb", 0, 1, 0.5}, {&hits_kb[0], "kb", 0, 0, 1.0},
                        {&odd[0], "web", 0, 0, 1e-20}, {&odd[1], "web", 0, 1, 123456789.123},
                        {&odd[0], "web", 0, 0, -2.5e300}};
    fanout_slot hedged = {&inst_web, FANOUT_OK, 1000, 2234, odd, 2, NULL, 1};
    fanout_slot off = {&inst_web, FANOUT_DISABLED, 0, 0, NULL, 0, NULL, 0};
    fanout_slot *const slots2[] = {&slot_kb, &hedged};
    fanout_slot *const slots3[] = {&off};
    writer_data d = data(fused, 5, NULL);
    buf b = {0};

    same_as_tree(&d, NULL, "every kind of hit, a timeout with its error");
    same_as_tree(&d, "req-1\"x", "with a request id");
    d.slots = slots2;
    d.partial = 0;
    d.coalesced = 1;
    same_as_tree(&d, "r", "hedged, coalesced, not partial");
    d.slots = slots3;
    d.nslots = 1;
    d.nhits = 0;
    same_as_tree(&d, NULL, "no contexts, a disabled source");

    d = data(fused, 2, NULL);
    odd[1].text = "bad \xff byte";
    fused[1].hit = &odd[1];
    ok(writer_json_print(&b, &d, NULL) == -1, "invalid UTF-8 is refused, as jansson refuses it");
    buf_release(&b);
    ok(writer_json_body(&d) == NULL, "(jansson refuses it)");
    odd[1].text = NULL;
    ok(writer_json_print(&b, &d, NULL) == -1, "a missing text is refused");
    buf_release(&b);
    odd[1].text = "";
    fused[1].score = NAN;
    ok(writer_json_print(&b, &d, NULL) == -1, "a score that is not a number is refused");
    buf_release(&b);
    fused[1].score = 1;
    d.cached = "{}";
    ok(writer_json_print(&b, &d, NULL) == -1, "a cached document goes the general way");
    buf_release(&b);
    d.cached = NULL;
    d.gen = &(gen_result){RAGD_OK, "a", NULL, 0, "extractive", NULL, NULL, 1.0};
    ok(writer_json_print(&b, &d, NULL) == -1, "so does an answer");
    buf_release(&b);
}

int main(void)
{
    test_body_without_generation();
    test_body_with_generation();
    test_writers_table();
    test_print_direct();
    return tap_done();
}
