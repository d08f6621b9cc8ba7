/*
 * chat -- reading an OpenAI chat-completions request as a search.
 *
 * The body is parsed once and the query taken from the parsed messages: it
 * is never written back out as a /search body to be parsed again, so no
 * byte of a message can change meaning on the way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "chat.h"

void chat_release(chat_req *c)
{
    sreq_release(&c->q);
    free(c->model);
    memset(c, 0, sizeof *c);
}

void chat_new_id(char id[CHAT_ID_SIZE])
{
    static uint32_t seed, counter;

    /* Seeded once from the clock and the pid: unguessable is not needed,
     * only that restarts and neighbouring servers differ. */
    if (!seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec * 2654435761u ^ (uint32_t)getpid()) | 1u;
    }
    snprintf(id, CHAT_ID_SIZE, "chatcmpl-%08x%08x", (unsigned)seed, (unsigned)++counter);
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
    if (sreq_from_text(&c->q, json_string_value(text), json_string_length(text), lim, e) != 0)
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
