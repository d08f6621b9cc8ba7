/* Unit tests for docreq: the body of POST /documents, as one table of
 * cases (body, ndjson, expected outcome). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docreq.h"
#include "tap.h"

typedef struct docreq_case {
    const char *body;
    int ndjson;
    int rc;            /* 0, -1 (a field), -2 (not JSON) */
    const char *want;  /* rc 0: the normalised documents; else text the message has */
    int into;          /* rc 0 */
} docreq_case;

static const docreq_case cases[] = {
    {"{\"documents\": [{\"id\": \"a\", \"text\": \"x\"}]}", 0, 0,
     "[{\"id\":\"a\",\"text\":\"x\",\"title\":\"\",\"url\":null,\"metadata\":null}]",
     DOCREQ_KB | DOCREQ_VECTOR},
    {"{\"documents\": [{\"_id\": 12, \"text\": \"x\", \"title\": \"T\", \"url\": \"u\","
     " \"metadata\": {\"y\": [1]}}], \"into\": [\"kb\"]}", 0, 0,
     "[{\"id\":\"12\",\"text\":\"x\",\"title\":\"T\",\"url\":\"u\",\"metadata\":{\"y\":[1]}}]",
     DOCREQ_KB},
    {"{\"_id\": \"a\", \"text\": \"x\"}\n\n  \n{\"id\": \"b\", \"text\": \"y\"}\n", 1, 0,
     "[{\"id\":\"a\",\"text\":\"x\",\"title\":\"\",\"url\":null,\"metadata\":null},"
     "{\"id\":\"b\",\"text\":\"y\",\"title\":\"\",\"url\":null,\"metadata\":null}]",
     DOCREQ_KB | DOCREQ_VECTOR},
    {"{\"documents\": [{\"id\": \"a\", \"text\": \"x\"}, {\"id\": \"b\", \"text\": \" \\n\"}]}",
     0, -1, "documents[1].text: required", 0},
    {"{\"documents\": [{\"text\": \"x\"}]}", 0, -1, "documents[0].id: required", 0},
    {"{\"documents\": [{\"id\": \"\", \"text\": \"x\"}]}", 0, -1, "documents[0].id", 0},
    {"{\"documents\": [{\"id\": 1.5, \"text\": \"x\"}]}", 0, -1, "documents[0].id", 0},
    {"{\"documents\": [{\"id\": \"a\", \"text\": \"x\", \"title\": 3}]}", 0, -1,
     "documents[0].title: expected a string", 0},
    {"{\"documents\": [{\"id\": \"a\", \"text\": \"x\", \"metadata\": []}]}", 0, -1,
     "documents[0].metadata", 0},
    {"{\"documents\": [{\"id\": \"a\", \"text\": \"x\"}], \"into\": []}", 0, -1, "into:", 0},
    {"{\"documents\": [{\"id\": \"a\", \"text\": \"x\"}], \"into\": [\"web\"]}", 0, -1,
     "into[0]", 0},
    {"{\"documents\": []}", 0, -1, "documents: required", 0},
    {"[1]", 0, -1, "body: expected an object", 0},
    {"{\"documents\": [", 0, -2, "invalid JSON", 0},
    {"{\"id\": \"a\", \"text\": \"x\"}\n{oops\n", 1, -2, "documents[1]: invalid JSON", 0},
    {"{\"id\": \"a\", \"text\": \"x\"}\n[2]\n", 1, -1, "documents[1].expected an object", 0},
    {"\n \n", 1, -1, "documents: required", 0},
};

static void check(const docreq_case *c)
{
    docreq r = {0};
    char err[512] = "", *got = NULL;
    int rc = docreq_parse(c->body, strlen(c->body), c->ndjson, &r, err, sizeof err);

    if (rc == 0)
        got = json_dumps(r.docs, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ok(rc == c->rc && (rc == 0 ? got && !strcmp(got, c->want) && r.into == c->into
                               : strstr(err, c->want) != NULL && r.docs == NULL),
       "%s%s -> %d %s", c->ndjson ? "ndjson " : "", c->body, c->rc, c->want);
    if (rc != c->rc || (rc == 0 && (!got || strcmp(got, c->want))))
        printf("#   got %d: %s\n", rc, rc == 0 && got ? got : err);
    free(got);
    docreq_release(&r);
}

int main(void)
{
    char long_id[DOCREQ_MAX_ID + 64], body[DOCREQ_MAX_ID + 128], err[256];
    docreq r = {0};

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check(&cases[i]);
    memset(long_id, 'x', DOCREQ_MAX_ID + 1);
    long_id[DOCREQ_MAX_ID + 1] = '\0';
    snprintf(body, sizeof body, "{\"id\": \"%s\", \"text\": \"x\"}", long_id);
    ok(docreq_parse(body, strlen(body), 1, &r, err, sizeof err) == -1 && strstr(err, "at most"),
       "an id longer than %d bytes is refused", DOCREQ_MAX_ID);
    is_int(docreq_into_parse(docreq_into_json(DOCREQ_KB)), DOCREQ_KB, "into kb round-trips");
    is_int(docreq_into_parse(docreq_into_json(DOCREQ_KB | DOCREQ_VECTOR)),
           DOCREQ_KB | DOCREQ_VECTOR, "into both round-trips");
    is_int(docreq_into_parse("[\"web\"]"), 0, "a bad into parses as 0");
    return tap_done();
}
