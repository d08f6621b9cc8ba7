/* Unit tests for sreq: /search request parsing and validation. */
#include <stdlib.h>
#include <string.h>

#include "sreq.h"
#include "tap.h"

static const char *const names[] = {"vector", "kb", "web"};
static const sreq_limits lim = {64, 60000, names, 3, 100};

static int json(const char *body, sreq *r, sreq_error *e)
{
    return sreq_from_json(r, body, strlen(body), &lim, e);
}

/* Expect body to be rejected with status and code, the message naming field. */
static void rejects(const char *body, int status, const char *code, const char *field)
{
    sreq r;
    sreq_error e = {0};

    int good = json(body, &r, &e) == -1 && e.status == status && strcmp(e.code, code) == 0 &&
               strstr(e.message, field) != NULL;

    ok(good, "rejects %s with %d %s naming %s", body, status, code, field);
    if (!good && e.code)
        printf("#   got %d %s: %s\n", e.status, e.code, e.message);
    sreq_release(&r);
}

static void test_good(void)
{
    sreq r;
    sreq_error e;

    ok(json("{\"query\":\"what is rrf\"}", &r, &e) == 0, "minimal request parses");
    is_str(r.query, "what is rrf", "query kept");
    is_int(r.k, SREQ_K_DEFAULT, "k defaults to 8");
    is_int(r.nsources, 0, "no sources means all");
    sreq_release(&r);

    ok(json("{\"query\":\"q\",\"k\":100,\"sources\":[\"kb\",\"web\",\"kb\"],\"timeout_ms\":250,"
            "\"generate\":false}", &r, &e) == 0, "full request parses");
    is_int(r.k, 100, "k = 100 accepted");
    is_int(r.nsources, 2, "a source named twice counts once");
    is_str(r.sources[1], "web", "sources kept in order");
    is_int(r.timeout_ms, 250, "timeout_ms kept");
    sreq_release(&r);
}

static void test_bad_json(void)
{
    rejects("{\"query\":", 400, "invalid_json", "body");
    rejects("[1,2]", 400, "invalid_json", "object");
    rejects("{\"query\":\"a\",\"query\":\"b\"}", 400, "invalid_json", "duplicate");
    rejects("{}", 400, "missing_field", "query");
    rejects("{\"query\":\"\"}", 400, "missing_field", "query");
    rejects("{\"query\":\"  \\n \"}", 400, "missing_field", "query");
    rejects("{\"query\":5}", 400, "invalid_field", "query");
    rejects("{\"query\":\"q\",\"k\":0}", 400, "invalid_field", "k");
    rejects("{\"query\":\"q\",\"k\":101}", 400, "invalid_field", "k");
    rejects("{\"query\":\"q\",\"k\":\"8\"}", 400, "invalid_field", "k");
    rejects("{\"query\":\"q\",\"k\":2.5}", 400, "invalid_field", "k");
    rejects("{\"query\":\"q\",\"sources\":[\"nope\"]}", 400, "unknown_source", "nope");
    rejects("{\"query\":\"q\",\"sources\":[]}", 400, "invalid_field", "sources");
    rejects("{\"query\":\"q\",\"sources\":\"kb\"}", 400, "invalid_field", "sources");
    rejects("{\"query\":\"q\",\"sources\":[1]}", 400, "invalid_field", "sources[0]");
    rejects("{\"query\":\"q\",\"timeout_ms\":0}", 400, "invalid_field", "timeout_ms");
    rejects("{\"query\":\"q\",\"timeout_ms\":60001}", 400, "invalid_field", "timeout_ms");
    rejects("{\"query\":\"q\",\"generate\":\"yes\"}", 400, "invalid_field", "generate");
    rejects("{\"query\":\"q\",\"sorces\":[\"kb\"]}", 400, "unknown_field", "sorces");
    rejects("{\"query\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
            413, "query_too_long", "query");
    rejects("{\"query\":\"a\\u0000b\"}", 400, "invalid_json", "body");
    rejects("{\"query\":\"\\ud800\"}", 400, "invalid_json", "body");
}

/* Bodies that are not UTF-8 are refused before jansson reads them, with
 * where the bad byte is. */
static void test_body_utf8(void)
{
    static const struct {
        const char *body, *message, *what;
    } bad[] = {
        {"{\"query\":\"\xED\xA0\x80\"}", "body: not valid UTF-8 (byte 10)", "a surrogate"},
        {"{\"query\":\"\xF4\x90\x80\x80\"}", "body: not valid UTF-8 (byte 10)", "past U+10FFFF"},
        {"{\"query\":\"ab\xE0\x80\x80\"}", "body: not valid UTF-8 (byte 12)", "an overlong form"},
    };
    sreq r;
    sreq_error e;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ok(json(bad[i].body, &r, &e) == -1 && e.status == 400 &&
           strcmp(e.code, "invalid_json") == 0 && strcmp(e.message, bad[i].message) == 0,
           "a body with %s: \"%s\"", bad[i].what, bad[i].message);
        sreq_release(&r);
    }
}

static void test_empty_body(void)
{
    sreq r;
    sreq_error e = {0};

    rejects("", 400, "invalid_json", "body: empty");
    ok(json(" \r\n\t", &r, &e) == -1 && e.status == 400 && strcmp(e.code, "invalid_json") == 0 &&
       strcmp(e.message, "body: empty") == 0, "a body of whitespace: body: empty");
    sreq_release(&r);
    ok(sreq_from_json(&r, NULL, 0, &lim, &e) == -1 && e.status == 400 &&
       strcmp(e.message, "body: empty") == 0, "no body at all: body: empty");
    sreq_release(&r);
}

/* Query string, then what the 400's message must start with. */
static const struct {
    const char *qs, *message;
} repeated[] = {
    {"q=a&q=b", "q: given more than once"},
    {"q=a&query=b", "query: given more than once (also as q)"},
    {"query=a&q=b", "q: given more than once (also as query)"},
    {"query=a&query=a", "query: given more than once"},
    {"q=a&k=1&k=2", "k: given more than once"},
    {"k=1&q=a&k=1", "k: given more than once"},
    {"q=a&timeout_ms=5&timeout_ms=6", "timeout_ms: given more than once"},
    {"q=a&sources=kb&sources=web", "sources: given more than once"},
    {"q=a&generate=0&generate=1", "generate: given more than once"},
    {"q=a&stream=0&stream=0", "stream: given more than once"},
};

static void test_query_repeated(void)
{
    sreq r;
    sreq_error e;

    for (size_t i = 0; i < sizeof repeated / sizeof *repeated; i++) {
        int rc = sreq_from_query(&r, repeated[i].qs, &lim, &e);
        int good = rc == -1 && e.status == 400 && strcmp(e.code, "invalid_field") == 0 &&
                   strcmp(e.message, repeated[i].message) == 0;
        ok(good, "GET %s: 400 \"%s\"", repeated[i].qs, repeated[i].message);
        if (!good && rc == -1)
            printf("#   got %d %s: %s\n", e.status, e.code, e.message);
        sreq_release(&r);
    }
}

/* Percent-encoded queries that are not UTF-8: a 400 naming the query. */
static void test_query_utf8(void)
{
    static const char *const bad[] = {
        "q=%ED%A0%80",     /* a surrogate */
        "q=%E0%80%80",     /* overlong */
        "q=%F4%90%80%80",  /* past U+10FFFF */
        "q=%C0%AF",        /* C0 lead */
        "q=%F5%80%80%80",  /* F5 lead */
        "q=ab%E2%82",      /* cut short */
        "q=%80",           /* stray continuation */
    };
    sreq r;
    sreq_error e;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ok(sreq_from_query(&r, bad[i], &lim, &e) == -1 && e.status == 400 &&
           strcmp(e.code, "invalid_field") == 0 && strstr(e.message, "query: not valid UTF-8"),
           "GET %s: 400 naming the query", bad[i]);
        sreq_release(&r);
    }
    ok(sreq_from_query(&r, "q=%F4%8F%BF%BF%EF%BF%BF", &lim, &e) == 0 &&
       strcmp(r.query, "\xF4\x8F\xBF\xBF\xEF\xBF\xBF") == 0, "U+10FFFF and U+FFFF are a query");
    sreq_release(&r);
}

static void test_query_string(void)
{
    sreq r;
    sreq_error e = {0};

    ok(sreq_from_query(&r, "q=hello%20world&k=3&sources=kb,vector", &lim, &e) == 0,
       "GET parameters parse");
    is_str(r.query, "hello world", "q is URL-decoded");
    is_int(r.k, 3, "k from the query string");
    is_int(r.nsources, 2, "sources split on commas");
    sreq_release(&r);

    ok(sreq_from_query(&r, "q=a+b", &lim, &e) == 0, "GET with + parses");
    is_str(r.query, "a b", "+ in a query string is a space");
    sreq_release(&r);

    ok(sreq_from_query(&r, "k=3", &lim, &e) == -1 && e.status == 400 && strstr(e.message, "q"),
       "GET without q is rejected naming q");
    sreq_release(&r);
    ok(sreq_from_query(&r, NULL, &lim, &e) == -1 && e.status == 400, "GET with no query string");
    sreq_release(&r);
    ok(sreq_from_query(&r, "q=a&k=abc", &lim, &e) == -1 && strstr(e.message, "k"),
       "GET with k=abc names k");
    sreq_release(&r);
    ok(sreq_from_query(&r, "q=a&sources=kb,zzz", &lim, &e) == -1 &&
       strcmp(e.code, "unknown_source") == 0, "GET with an unknown source");
    sreq_release(&r);
    ok(sreq_from_query(&r, "q=%ff%fe", &lim, &e) == -1 && strstr(e.message, "UTF-8"),
       "GET with invalid UTF-8 is rejected");
    sreq_release(&r);
}

/* "filter" is parsed into the request (the rules are test_filter's); a bad
 * one is a 400 naming the path inside it. */
static void test_filter(void)
{
    sreq r;
    sreq_error e;
    json_t *meta = json_pack("{si}", "year", 2016);

    ok(json("{\"query\":\"q\",\"filter\":{\"year\":{\"$gte\":2015}}}", &r, &e) == 0,
       "a filter parses");
    ok(r.filter && filter_match(r.filter, "d", meta) == 1,
       "and is kept, parsed");
    sreq_release(&r);
    json_decref(meta);
    ok(r.filter == NULL, "sreq_release drops it");
    ok(json("{\"query\":\"q\"}", &r, &e) == 0 && r.filter == NULL, "no filter: none");
    sreq_release(&r);
    rejects("{\"query\":\"q\",\"filter\":{\"year\":{\"$gte\":true}}}", 400, "invalid_field",
            "filter.year.$gte: expected a number or string");
    rejects("{\"query\":\"q\",\"filter\":[]}", 400, "invalid_field", "filter: expected an object");
    ok(sreq_from_query(&r, "q=x&filter=%7B%22lang%22%3A%22en%22%7D", &lim, &e) == 0 && r.filter,
       "filter=JSON in a query string");
    sreq_release(&r);
    ok(sreq_from_query(&r, "q=x&filter=%7B", &lim, &e) == -1 && e.status == 400 &&
       strstr(e.message, "filter: not valid JSON"), "a query string filter that is not JSON");
    sreq_release(&r);
}

int main(void)
{
    test_good();
    test_bad_json();
    test_body_utf8();
    test_empty_body();
    test_query_string();
    test_query_repeated();
    test_query_utf8();
    test_filter();
    return tap_done();
}
