/*
 * chat -- reading an OpenAI chat-completions request as a search.
 *
 * The body is parsed once and the query taken from the parsed messages: it
 * is never written back out as a /search body to be parsed again, so no
 * byte of a message can change meaning on the way.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chat.h"

void chat_release(chat_req *c)
{
    sreq_release(&c->q);
    free(c->model);
    memset(c, 0, sizeof *c);
}

/* The string holding the text of the last user message, or NULL. */
static json_t *chat_last_user_text(json_t *messages)
{
    for (size_t i = json_array_size(messages); i-- > 0; ) {
        json_t *m = json_array_get(messages, i), *content = json_object_get(m, "content");
        const char *role = json_string_value(json_object_get(m, "role"));

        if (!role || strcmp(role, "user") != 0)
            continue;
        if (json_is_string(content))
            return content;
        for (size_t j = 0; j < json_array_size(content); j++) {
            json_t *text = json_object_get(json_array_get(content, j), "text");
            if (json_is_string(text))
                return text;
        }
    }
    return NULL;
}

/* r as sreq_from_json makes it from {"query": TEXT}: the defaults and the
 * query, checked against lim.  The text comes from jansson, which refuses
 * malformed UTF-8 and \u0000, so only the length and blankness are left to
 * check.  Same contract as sreq_from_json. */
static int chat_search(sreq *r, json_t *text, const sreq_limits *lim, sreq_error *e)
{
    const char *q = json_string_value(text);
    size_t n = json_string_length(text);

    memset(r, 0, sizeof *r);
    r->k = SREQ_K_DEFAULT;
    r->generate = 1;
    if (n > lim->max_query)
        return sreq_fail(e, 413, "query_too_long", "query: %zu bytes, the limit is %zu",
                         n, lim->max_query);
    if (q[strspn(q, " \t\r\n")] == '\0')
        return sreq_fail(e, 400, "missing_field", "query: must not be empty");
    if (!(r->query = strndup(q, n)))
        return sreq_fail(e, 500, "internal", "out of memory");
    return 0;
}

/* s cut to at most max bytes without splitting a UTF-8 character (s is
 * valid UTF-8, as jansson gave it); malloc'd, NULL when out of memory. */
static char *chat_cut(const char *s, size_t n, size_t max)
{
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return strndup(s, n);
}

int chat_from_json(chat_req *c, const char *body, size_t len, const sreq_limits *lim,
                   sreq_error *e)
{
    json_t *root, *text, *model;
    int rc = -1;

    memset(c, 0, sizeof *c);
    if (sreq_load_body(body, len, &root, e) != 0)
        return -1;
    if (!(text = chat_last_user_text(json_object_get(root, "messages")))) {
        sreq_fail(e, 400, "invalid_field",
                  "messages: must be an array with at least one user message");
        goto done;
    }
    if (chat_search(&c->q, text, lim, e) != 0)
        goto done;
    model = json_object_get(root, "model");
    if (json_is_string(model) &&
        !(c->model = chat_cut(json_string_value(model), json_string_length(model),
                              CHAT_MODEL_MAX))) {
        sreq_fail(e, 500, "internal", "out of memory");
        goto done;
    }
    c->stream = json_is_true(json_object_get(root, "stream"));
    rc = 0;
done:
    json_decref(root);
    if (rc != 0)
        chat_release(c);
    return rc;
}
