/* Unit tests for chat: an OpenAI chat-completions body read as a search. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "tap.h"

static const char *const names[] = {"vector", "kb", "web"};
static const sreq_limits lim = {64, 60000, names, 3, 100};

static int parse(const char *body, chat_req *c, sreq_error *e)
{
    return chat_from_json(c, body, strlen(body), &lim, e);
}

/* Expect body to be rejected with status and code, the message naming field. */
static void rejects(const char *body, int status, const char *code, const char *field)
{
    chat_req c;
    sreq_error e = {0};
    int good = parse(body, &c, &e) == -1 && e.status == status && strcmp(e.code, code) == 0 &&
               strstr(e.message, field) != NULL;

    ok(good, "rejects %s with %d %s naming %s", body, status, code, field);
    if (!good && e.code)
        printf("#   got %d %s: %s\n", e.status, e.code, e.message);
    ok(c.q.query == NULL && c.model == NULL, "and leaves the request empty");
    chat_release(&c);
}

static void test_last_user_message(void)
{
    chat_req c;
    sreq_error e;

    ok(parse("{\"model\":\"ragd\",\"messages\":[{\"role\":\"user\",\"content\":\"coffee\"},"
             "{\"role\":\"assistant\",\"content\":\"?\"},"
             "{\"role\":\"user\",\"content\":\"what causes ocean tides\"}]}", &c, &e) == 0,
       "a conversation parses");
    is_str(c.q.query, "what causes ocean tides", "the last user message is the query");
    is_str(c.model, "ragd", "model kept");
    is_int(c.stream, 0, "not streamed by default");
    is_int(c.q.k, SREQ_K_DEFAULT, "k at its default");
    is_int(c.q.generate, 1, "an answer is generated");
    is_int(c.q.nsources, 0, "every source is asked");
    is_int(c.q.timeout_ms, 0, "the server's deadline applies");
    chat_release(&c);
    ok(c.q.query == NULL && c.model == NULL, "chat_release empties the request");

    ok(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"first\"},"
             "{\"role\":\"system\",\"content\":\"later system text\"}]}", &c, &e) == 0,
       "messages after the last user message are skipped");
    is_str(c.q.query, "first", "the user message is the query");
    ok(c.model == NULL, "no model: NULL");
    chat_release(&c);
}

static void test_content_parts(void)
{
    chat_req c;
    sreq_error e;

    ok(parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"},"
             "{\"type\":\"text\",\"text\":\"volcano lava\"},{\"type\":\"text\",\"text\":\"x\"}]}]}",
             &c, &e) == 0, "content as an array of parts");
    is_str(c.q.query, "volcano lava", "the first text part is the query");
    chat_release(&c);

    ok(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"earlier\"},"
             "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]},"
             "{\"role\":\"user\",\"content\":42}]}", &c, &e) == 0,
       "user messages without text are passed over");
    is_str(c.q.query, "earlier", "the last user message with a text is the query");
    chat_release(&c);
}

static void test_stream_and_model(void)
{
    chat_req c;
    sreq_error e;
    char body[1024], model[400];

    ok(parse("{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}", &c, &e) == 0,
       "stream: true parses");
    is_int(c.stream, 1, "stream set");
    is_int(c.q.stream, 0, "the search itself is not the stream: the chat chunks are");
    chat_release(&c);

    ok(parse("{\"stream\":\"yes\",\"model\":7,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}",
             &c, &e) == 0, "a non-boolean stream and a non-string model are ignored");
    ok(c.stream == 0 && c.model == NULL, "and left at their defaults");
    chat_release(&c);

    memset(model, 'm', 300);
    model[300] = '\0';
    snprintf(body, sizeof body, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"q\"}]}", model);
    ok(parse(body, &c, &e) == 0, "a long model name is accepted");
    is_int(strlen(c.model), CHAT_MODEL_MAX, "and cut to CHAT_MODEL_MAX bytes");
    chat_release(&c);

    /* 255 ASCII bytes then a 2-byte character that would straddle the cap */
    memset(model, 'm', 255);
    strcpy(model + 255, "\xC3\xA9tail");
    snprintf(body, sizeof body, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"q\"}]}", model);
    ok(parse(body, &c, &e) == 0, "a model with a character across the cap parses");
    is_int(strlen(c.model), 255, "the cut does not split the character");
    chat_release(&c);
}

static void test_rejected(void)
{
    char body[256];

    rejects("{\"messages\":", 400, "invalid_json", "body");
    rejects("[]", 400, "invalid_json", "body");
    rejects("{}", 400, "invalid_field", "messages");
    rejects("{\"messages\":{}}", 400, "invalid_field", "messages");
    rejects("{\"messages\":[]}", 400, "invalid_field", "messages");
    rejects("{\"messages\":[{\"role\":\"system\",\"content\":\"hi\"}]}", 400, "invalid_field",
            "messages");
    rejects("{\"messages\":[{\"content\":\"no role\"}]}", 400, "invalid_field", "messages");
    rejects("{\"messages\":[{\"role\":\"user\",\"content\":\" \\n\\t \"}]}", 400,
            "missing_field", "query");
    rejects("{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}", 400,
            "invalid_json", "body");
    rejects("{\"messages\":[{\"role\":\"user\",\"content\":\"\xC3\x28\"}]}", 400,
            "invalid_json", "body");
    snprintf(body, sizeof body, "{\"messages\":[{\"role\":\"user\",\"content\":\"%065d\"}]}", 0);
    rejects(body, 413, "query_too_long", "query");
    rejects("{\"model\":\"ragd\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", 400,
            "missing_field", "query");
}

int main(void)
{
    test_last_user_message();
    test_content_parts();
    test_stream_and_model();
    test_rejected();
    return tap_done();
}
