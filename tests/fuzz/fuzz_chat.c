/*
 * fuzz_chat -- the chat-completions request reader, chat_from_json.
 *
 * Besides the sanitizers, it checks what the HTTP layer relies on: a model
 * name within CHAT_MODEL_MAX bytes that is still valid UTF-8 (it is echoed
 * through jansson, which refuses anything else), and an error that names
 * its field.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "chat.h"
#include "fuzz.h"

static const char *const fuzz_names[] = {"vector", "kb", "web"};
static const sreq_limits fuzz_lim = {4096, 60000, fuzz_names, 3, 100};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chat_req c;
    sreq_error e = {0};
    json_t *echo;

    if (chat_from_json(&c, (const char *)data, size, &fuzz_lim, &e) == 0) {
        fuzz_check(c.q.query && *c.q.query && strlen(c.q.query) <= fuzz_lim.max_query);
        fuzz_check(c.q.k == SREQ_K_DEFAULT && c.q.nsources == 0 && c.q.generate == 1);
        fuzz_check(c.stream == 0 || c.stream == 1);
        if (c.model) {
            fuzz_check(strlen(c.model) <= CHAT_MODEL_MAX);
            /* what the streamed chunks do with it */
            echo = json_string(c.model);
            fuzz_check(echo != NULL);
            json_decref(echo);
        }
    } else {
        fuzz_check(c.q.query == NULL && c.model == NULL);
        fuzz_check(e.status >= 400 && e.status < 600 && e.code);
        fuzz_check(!strncmp(e.message, "body:", 5) || !strncmp(e.message, "messages:", 9) ||
                   !strncmp(e.message, "query:", 6));
    }
    chat_release(&c);
    return 0;
}
