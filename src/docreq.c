/*
 * docreq -- parsing and checking the body of POST /documents (docreq.h).
 *
 * Every refusal names where it is, so a client sending thousands of
 * documents learns which one is wrong and why; nothing is queued then.
 */
#include "docreq.h"

#include <stdio.h>
#include <string.h>

static int docreq_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

/* The id of in as text into buf: "_id" or "id", a string or an integer. */
static int docreq_id(const json_t *in, char *buf, size_t buflen, char *err, size_t errlen)
{
    const char *key = json_object_get(in, "_id") ? "_id" : "id";
    const json_t *v = json_object_get(in, key);

    if (json_is_integer(v)) {
        snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        snprintf(err, errlen, "%s: required, a non-empty string", v ? key : "id");
        return -1;
    }
    if (json_string_length(v) > DOCREQ_MAX_ID || memchr(json_string_value(v), 0,
                                                         json_string_length(v))) {
        snprintf(err, errlen, "%s: at most %d bytes, without NUL", key, DOCREQ_MAX_ID);
        return -1;
    }
    snprintf(buf, buflen, "%s", json_string_value(v));
    return 0;
}

/* A string field that may be absent (def) or null (def). */
static int docreq_opt_string(const json_t *in, const char *key, json_t *def, json_t **out,
                             char *err, size_t errlen)
{
    const json_t *v = json_object_get(in, key);

    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    json_decref(def);
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s: expected a string", key);
        return -1;
    }
    *out = json_copy((json_t *)v);
    return 0;
}

json_t *docreq_doc(const json_t *in, char *err, size_t errlen)
{
    char id[DOCREQ_MAX_ID + 1];
    const json_t *text = json_object_get(in, "text"), *meta;
    json_t *title = NULL, *url = NULL;

    if (!json_is_object(in)) {
        snprintf(err, errlen, "expected an object");
        return NULL;
    }
    if (docreq_id(in, id, sizeof id, err, errlen) < 0)
        return NULL;
    if (!json_is_string(text) || docreq_blank(json_string_value(text))) {
        snprintf(err, errlen, "text: required, a non-blank string");
        return NULL;
    }
    meta = json_object_get(in, "metadata");
    if (meta && !json_is_null(meta) && !json_is_object(meta)) {
        snprintf(err, errlen, "metadata: expected an object");
        return NULL;
    }
    if (docreq_opt_string(in, "title", json_string(""), &title, err, errlen) < 0 ||
        docreq_opt_string(in, "url", json_null(), &url, err, errlen) < 0) {
        json_decref(title);
        return NULL;
    }
    return json_pack("{ss sO so so sO}", "id", id, "text", text, "title", title, "url", url,
                     "metadata", meta ? meta : json_null());
}

static int docreq_into(const json_t *v, int *into, char *err, size_t errlen)
{
    size_t i;
    const json_t *e;

    if (!v) {
        *into = DOCREQ_KB | DOCREQ_VECTOR;
        return 0;
    }
    *into = 0;
    if (!json_is_array(v) || json_array_size(v) == 0) {
        snprintf(err, errlen, "into: expected a non-empty array of \"kb\" and \"vector\"");
        return -1;
    }
    json_array_foreach(v, i, e) {
        const char *s = json_string_value(e);
        int bit = s && !strcmp(s, "kb") ? DOCREQ_KB : s && !strcmp(s, "vector") ? DOCREQ_VECTOR : 0;
        if (!bit) {
            snprintf(err, errlen, "into[%zu]: expected \"kb\" or \"vector\"", i);
            return -1;
        }
        *into |= bit;
    }
    return 0;
}

/* Normalise item i of the request into r->docs. */
static int docreq_add(docreq *r, const json_t *item, const char *where, size_t i, char *err,
                      size_t errlen)
{
    char why[256];
    json_t *d = docreq_doc(item, why, sizeof why);

    if (!d) {
        snprintf(err, errlen, "%s[%zu].%s", where, i, why);
        return -1;
    }
    if (json_array_append_new(r->docs, d) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int docreq_parse_json(docreq *r, const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je), *docs, *item;
    size_t i;
    int rc = -1;

    if (!root) {
        snprintf(err, errlen, "body: invalid JSON at line %d: %s", je.line, je.text);
        return -2;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "body: expected an object");
        goto done;
    }
    docs = json_object_get(root, "documents");
    if (!json_is_array(docs) || json_array_size(docs) == 0) {
        snprintf(err, errlen, "documents: required, a non-empty array");
        goto done;
    }
    if (docreq_into(json_object_get(root, "into"), &r->into, err, errlen) < 0)
        goto done;
    json_array_foreach(docs, i, item)
        if (docreq_add(r, item, "documents", i, err, errlen) < 0)
            goto done;
    rc = 0;
done:
    json_decref(root);
    return rc;
}

static int docreq_parse_ndjson(docreq *r, const char *body, size_t len, char *err,
                               size_t errlen)
{
    const char *p = body, *end = body + len;
    size_t i = 0;

    r->into = DOCREQ_KB | DOCREQ_VECTOR;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
        json_error_t je;
        json_t *item;
        const char *q = p;
        while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < eol) {
            if (!(item = json_loadb(p, (size_t)(eol - p), JSON_REJECT_DUPLICATES, &je))) {
                snprintf(err, errlen, "documents[%zu]: invalid JSON: %s", i, je.text);
                return -2;
            }
            if (docreq_add(r, item, "documents", i, err, errlen) < 0) {
                json_decref(item);
                return -1;
            }
            json_decref(item);
            i++;
        }
        p = eol + 1;
    }
    if (i == 0) {
        snprintf(err, errlen, "documents: required, at least one line");
        return -1;
    }
    return 0;
}

int docreq_parse(const char *body, size_t len, int ndjson, docreq *out, char *err,
                 size_t errlen)
{
    int rc;

    out->into = 0;
    if (!(out->docs = json_array())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rc = ndjson ? docreq_parse_ndjson(out, body, len, err, errlen)
                : docreq_parse_json(out, body, len, err, errlen);
    if (rc < 0)
        docreq_release(out);
    return rc;
}

const char *docreq_into_json(int into)
{
    return into == DOCREQ_KB ? "[\"kb\"]" : into == DOCREQ_VECTOR ? "[\"vector\"]"
                                                                  : "[\"kb\",\"vector\"]";
}

int docreq_into_parse(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    char err[64];
    int into = 0;

    if (docreq_into(v, &into, err, sizeof err) < 0 || !v)
        into = 0;
    json_decref(v);
    return into;
}

void docreq_release(docreq *r)
{
    json_decref(r->docs);
    r->docs = NULL;
    r->into = 0;
}
