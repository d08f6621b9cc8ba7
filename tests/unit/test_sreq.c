/* Unit tests for sreq: /search request parsing and validation. */
#include <stdlib.h>
#include <string.h>

#include "sreq.h"
#include "tap.h"

static const char *const names[] = {"vector", "kb", "web"};
static const sreq_limits lim = {64, 60000, names, 3};

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

int main(void)
{
    test_good();
    test_bad_json();
    test_query_string();
    return tap_done();
}
