/* Unit tests for llm.  The request builder and the response, chunk, error
 * and Retry-After parsers are tested always; the asynchronous client is
 * tested on its own libevent loop against a fakeup process when the FAKEUP
 * environment variable names the fakeup binary (otherwise those tests are
 * reported as skipped). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "httpc.h"
#include "llm.h"
#include "tap.h"

#define KEY "sk-test-5ecret-key-0123456789"

/* ------------------------------------------------------- pure helpers -- */

static void test_request_body(void)
{
    llm_config cfg = {"http://x/v1", "gpt-test", KEY, 0.5, 64, 0};
    char *body = llm_request_body(&cfg, "be brief", "Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x99\x82", 1);
    json_t *root = body ? json_loads(body, 0, NULL) : NULL;
    json_t *msgs = json_object_get(root, "messages");

    ok(root != NULL, "request body is JSON");
    is_str(json_string_value(json_object_get(root, "model")), "gpt-test", "model");
    is_int(json_array_size(msgs), 2, "system and user messages");
    is_str(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system", "system first");
    is_str(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
           "Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x99\x82", "user content, UTF-8 intact");
    ok(json_real_value(json_object_get(root, "temperature")) == 0.5, "temperature sent");
    is_int(json_integer_value(json_object_get(root, "max_tokens")), 64, "max_tokens sent");
    ok(json_is_true(json_object_get(root, "stream")), "stream true");
    ok(strstr(body, KEY) == NULL, "the key is not in the body");
    json_decref(root);
    free(body);

    cfg.temperature = -1;
    cfg.max_tokens = 0;
    body = llm_request_body(&cfg, NULL, "q", 0);
    root = body ? json_loads(body, 0, NULL) : NULL;
    ok(root && !json_object_get(root, "temperature") && !json_object_get(root, "max_tokens"),
       "temperature < 0 and max_tokens <= 0 are not sent");
    is_int(json_array_size(json_object_get(root, "messages")), 1, "no system message when NULL");
    ok(json_is_false(json_object_get(root, "stream")), "stream false");
    json_decref(root);
    free(body);
    ok(llm_request_body(&cfg, NULL, "bad \xC3(", 0) == NULL, "invalid UTF-8 in the prompt: NULL");
}

static void test_parse_response(void)
{
    static const char good[] =
        "{\"id\":\"c1\",\"model\":\"m-reported\",\"choices\":[{\"index\":0,\"message\":"
        "{\"role\":\"assistant\",\"content\":\"caf\\u00e9 \xE2\x88\x91\"},\"finish_reason\":\"stop\"}]}";
    static const char null_content[] =
        "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null}}]}";
    static const char error[] = "{\"error\":{\"message\":\"model not found\",\"type\":\"x\"}}";
    static const char no_choices[] = "{\"model\":\"m\",\"choices\":[]}";
    static const char bad_content[] = "{\"choices\":[{\"message\":{\"content\":5}}]}";
    char err[256];
    llm_reply r;

    is_int(llm_parse_response(good, strlen(good), &r, err, sizeof err), 0, "whole response parses");
    is_str(r.content, "caf\xC3\xA9 \xE2\x88\x91", "content, escapes decoded");
    is_int(r.len, strlen("caf\xC3\xA9 \xE2\x88\x91"), "content length");
    is_str(r.model, "m-reported", "model as reported");
    is_str(r.finish_reason, "stop", "finish_reason");
    llm_reply_release(&r);
    is_int(llm_parse_response(null_content, strlen(null_content), &r, err, sizeof err), 0,
           "null content parses");
    ok(r.content && !*r.content && !r.model && !r.finish_reason, "null content is \"\", absent fields NULL");
    llm_reply_release(&r);
    is_int(llm_parse_response(error, strlen(error), &r, err, sizeof err), -1, "error body fails");
    is_str(err, "LLM error: model not found", "with the upstream's message");
    is_int(llm_parse_response("<html>not json</html>", 21, &r, err, sizeof err), -1, "garbage fails");
    ok(strncmp(err, "malformed JSON from LLM: ", 25) == 0, "malformed JSON: %s", err);
    is_int(llm_parse_response(no_choices, strlen(no_choices), &r, err, sizeof err), -1, "no choices fails");
    ok(strstr(err, "malformed JSON from LLM") != NULL, "as malformed: %s", err);
    is_int(llm_parse_response(bad_content, strlen(bad_content), &r, err, sizeof err), -1,
           "non-string content fails");
    is_int(llm_parse_response("{\"x\":1", 6, &r, err, sizeof err), -1, "truncated JSON fails");
    ok(r.content == NULL && r.model == NULL, "the reply is left empty on failure");
}

static void test_parse_chunk(void)
{
    static const char role[] = "{\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},"
                               "\"finish_reason\":null}]}";
    static const char piece[] = "{\"choices\":[{\"delta\":{\"content\":\"\xF0\x9F\x99\x82 [\"},"
                                "\"finish_reason\":null}]}";
    static const char fin[] = "{\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}";
    static const char usage[] = "{\"choices\":[],\"usage\":{\"total_tokens\":3}}";
    static const char error[] = "{\"error\":{\"message\":\"overloaded\"}}";
    static const char bad[] = "{\"choices\":{\"delta\":1}}";
    char err[256];
    llm_reply r;

    is_int(llm_parse_chunk("[DONE]", 6, &r, err, sizeof err), 0, "[DONE] parses");
    ok(r.done && !r.content, "[DONE] sets done");
    llm_parse_chunk(" [DONE] \n", 9, &r, err, sizeof err);
    ok(r.done, "[DONE] with white space around");
    is_int(llm_parse_chunk(role, strlen(role), &r, err, sizeof err), 0, "role chunk parses");
    ok(!r.content && r.len == 0 && !r.done, "role chunk: no content");
    is_str(r.model, "m", "role chunk: model");
    llm_reply_release(&r);
    is_int(llm_parse_chunk(piece, strlen(piece), &r, err, sizeof err), 0, "content chunk parses");
    is_str(r.content, "\xF0\x9F\x99\x82 [", "content delta");
    ok(r.finish_reason == NULL, "finish_reason null is NULL");
    llm_reply_release(&r);
    is_int(llm_parse_chunk(fin, strlen(fin), &r, err, sizeof err), 0, "finish chunk parses");
    is_str(r.finish_reason, "length", "finish_reason");
    llm_reply_release(&r);
    is_int(llm_parse_chunk(usage, strlen(usage), &r, err, sizeof err), 0, "usage chunk parses");
    ok(!r.content && !r.finish_reason, "usage chunk: nothing to keep");
    is_int(llm_parse_chunk("{\"choices\":[{\"delta\":{\"content\":\"ab", 34, &r, err, sizeof err), -1,
           "cut chunk fails");
    ok(strncmp(err, "malformed stream from LLM: ", 27) == 0, "malformed stream: %s", err);
    is_int(llm_parse_chunk(bad, strlen(bad), &r, err, sizeof err), -1, "choices not a list fails");
    is_int(llm_parse_chunk("[1,2]", 5, &r, err, sizeof err), -1, "non-object chunk fails");
    is_int(llm_parse_chunk(error, strlen(error), &r, err, sizeof err), -1, "error event fails");
    is_str(err, "LLM error: overloaded", "with its message");
}

static void test_http_error(void)
{
    char err[128], body[512];

    llm_http_error(429, "{\"error\":{\"message\":\"Rate limit reached\"}}", 42, KEY, err, sizeof err);
    is_str(err, "LLM answered HTTP 429: Rate limit reached", "HTTP error with the upstream message");
    llm_http_error(502, "<html>bad gateway</html>", 24, KEY, err, sizeof err);
    is_str(err, "LLM answered HTTP 502", "non-JSON body: status only");
    llm_http_error(500, NULL, 0, NULL, err, sizeof err);
    is_str(err, "LLM answered HTTP 500", "no body");
    llm_http_error(400, "{\"detail\":\"bad model\"}", 22, NULL, err, sizeof err);
    is_str(err, "LLM answered HTTP 400: bad model", "a detail string (vLLM)");
    llm_http_error(401, "{\"error\":\"invalid key " KEY "\"}", strlen("{\"error\":\"invalid key " KEY "\"}"),
                   KEY, err, sizeof err);
    is_str(err, "LLM answered HTTP 401: invalid key ***", "an echoed key is masked");
    /* The key straddles the end of err: no part of it may be left. */
    snprintf(body, sizeof body, "{\"error\":{\"message\":\"%.*s%s and more\"}}", 90,
             "..........................................................................................",
             KEY);
    llm_http_error(401, body, strlen(body), KEY, err, sizeof err);
    ok(strstr(err, "sk-test") == NULL, "a key cut by the buffer's end is not left: %s", err + 100);
}

static void test_retry_after(void)
{
    time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */

    is_int(llm_retry_after_ms("3", now, 30000), 3000, "Retry-After seconds");
    is_int(llm_retry_after_ms(" 2 ", now, 30000), 2000, "with white space");
    is_int(llm_retry_after_ms("0", now, 30000), 0, "zero");
    is_int(llm_retry_after_ms("120", now, 30000), 30000, "capped");
    is_int(llm_retry_after_ms("99999999999999999999", now, 30000), 30000, "huge: capped");
    is_int(llm_retry_after_ms("1.5", now, 30000), -1, "a fraction is not valid");
    is_int(llm_retry_after_ms("soon", now, 30000), -1, "garbage");
    is_int(llm_retry_after_ms(NULL, now, 30000), -1, "absent");
    is_int(llm_retry_after_ms("Tue, 14 Nov 2023 22:13:25 GMT", now, 30000), 5000, "an HTTP date");
    is_int(llm_retry_after_ms("Tue, 14 Nov 2023 22:13:00 GMT", now, 30000), 0, "a past date");
    is_int(llm_retry_after_ms("Tue, 14 Nov 2023 23:13:00 GMT", now, 30000), 30000, "a far date: capped");
}

/* --------------------------------------------------------- loop tests -- */

static struct event_base *base;
static httpc *http;
static char fake_url[128]; /* http://127.0.0.1:PORT */

/* Start fakeup on a free port; 0 with fake_url set, or -1. */
static int fake_start(const char *path, pid_t *pid)
{
    int fds[2];
    char line[256], addr[64];
    FILE *f = NULL;

    if (pipe(fds) != 0 || (*pid = fork()) < 0)
        return -1;
    if (*pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(path, path, "--listen", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if (!(f = fdopen(fds[0], "r"))) {
        close(fds[0]);
        goto fail;
    }
    /* Its one line names the port the OS picked. */
    if (!fgets(line, sizeof line, f) || sscanf(line, "fakeup listening on %63s", addr) != 1)
        goto fail;
    fclose(f);
    snprintf(fake_url, sizeof fake_url, "http://%s", addr);
    return 0;
fail:
    if (f)
        fclose(f);
    kill(*pid, SIGTERM);
    waitpid(*pid, NULL, 0);
    return -1;
}

static size_t easy_write(char *data, size_t size, size_t n, void *arg)
{
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0;
    char *nb = realloc(*buf, old + size * n + 1);

    if (!nb)
        return 0;
    memcpy(nb + old, data, size * n);
    nb[old + size * n] = '\0';
    *buf = nb;
    return size * n;
}

/* A blocking request to fakeup's control plane: the body, malloc'd. */
static char *fake_fetch(const char *path, const char *post)
{
    CURL *e = curl_easy_init();
    char url[256], *body = NULL;

    if (!e)
        return NULL;
    snprintf(url, sizeof url, "%s%s", fake_url, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, easy_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    if (post)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, post);
    if (curl_easy_perform(e) != CURLE_OK) {
        free(body);
        body = NULL;
    }
    curl_easy_cleanup(e);
    return body;
}

static void fake_control(const char *json)
{
    free(fake_fetch("/_control", json));
}

/* A counter from /stats: key, or "chat" for the chat endpoint's requests. */
static long long fake_stat(const char *key)
{
    char *body = fake_fetch("/stats", NULL);
    json_t *root = body ? json_loads(body, 0, NULL) : NULL;
    json_t *v = strcmp(key, "chat") == 0
                    ? json_object_get(json_object_get(root, "by_path"), "/v1/chat/completions")
                    : json_object_get(root, key);
    long long n = json_is_integer(v) ? json_integer_value(v) : -1;

    json_decref(root);
    free(body);
    return n;
}

/* Wait up to 2 s for a counter to reach want; its last value. */
static long long fake_stat_wait(const char *key, long long want)
{
    long long n = -1;

    for (int i = 0; i < 200 && (n = fake_stat(key)) < want; i++)
        usleep(10000);
    return n;
}

/* One call and everything seen of it. */
typedef struct run {
    /* set up */
    const char *prefix;        /* fakeup control segments before /v1 */
    const char *user;
    const char *url;           /* whole base URL instead of fake_url+prefix+"/v1" */
    int stream, max_tokens;
    int64_t deadline_ms;       /* relative */
    size_t stop_at;            /* on_token returns 1 at this token */
    size_t cancel_at;          /* llm_cancel from a timer after this token */
    size_t cancel_inside_at;   /* llm_cancel from inside on_token at this token */
    int cancel_after_ms;       /* llm_cancel from a timer this long after the start */
    int revive_on_request;     /* once fakeup saw the request: /_control reset */
    /* seen */
    llm_call *call;
    int in_start, in_cancel;
    int done, status, done_in_start, done_in_cancel, token_after_done, bad_utf8;
    char *answer, *model, *finish, *error;
    char tokens[8192];         /* the pieces, each followed by \x01 */
    size_t ntokens;
    int64_t start, elapsed;
    struct event *cancel_ev, *poll_ev;
} run;

static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] >> 6) != 2)
                return 0;
        i += k;
    }
    return 1;
}

static void run_cancel_cb(evutil_socket_t fd, short what, void *arg)
{
    run *r = arg;

    (void)fd;
    (void)what;
    if (r->done)
        return;
    r->in_cancel = 1;
    llm_cancel(r->call);
    llm_cancel(r->call); /* twice is harmless */
    r->in_cancel = 0;
}

static void run_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    static const struct timeval tick = {0, 5000};
    run *r = arg;

    (void)fd;
    (void)what;
    if (fake_stat("chat") >= 1)
        fake_control("{\"reset\":true}");
    else if (!r->done)
        evtimer_add(r->poll_ev, &tick);
}

static int run_token(void *arg, const char *piece, size_t len)
{
    static const struct timeval now = {0, 0};
    run *r = arg;
    size_t used = strlen(r->tokens);

    if (r->done)
        r->token_after_done = 1;
    if (!utf8_valid((const unsigned char *)piece, len))
        r->bad_utf8 = 1;
    snprintf(r->tokens + used, sizeof r->tokens - used, "%.*s\x01", (int)len, piece);
    r->ntokens++;
    if (r->cancel_at && r->ntokens == r->cancel_at)
        evtimer_add(r->cancel_ev, &now);
    if (r->cancel_inside_at && r->ntokens == r->cancel_inside_at) {
        llm_cancel(r->call);
        if (r->done)
            r->done_in_cancel = 1;
    }
    return r->stop_at && r->ntokens >= r->stop_at;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void run_done(void *arg, int status, const char *answer, const char *model,
                     const char *finish_reason, const char *error)
{
    run *r = arg;

    r->done_in_start |= r->in_start;
    r->done_in_cancel |= r->in_cancel;
    r->done++;
    r->status = status;
    r->answer = dup_or_null(answer);
    r->model = dup_or_null(model);
    r->finish = dup_or_null(finish_reason);
    r->error = dup_or_null(error);
    r->elapsed = clock_ms() - r->start;
    r->call = NULL;
}

/* Run r to its end on the loop.  Returns llm_start's result. */
static int run_call(run *r)
{
    static const llm_callbacks cbs = {run_token, run_done};
    char url[256];
    llm_config cfg = {url, "test-model", KEY, 0.2, r->max_tokens, 0};
    int rc;

    /* A stack buffer, scribbled over after llm_start: the call must have
     * copied it. */
    if (r->url)
        snprintf(url, sizeof url, "%s", r->url);
    else
        snprintf(url, sizeof url, "%s%s/v1", fake_url, r->prefix ? r->prefix : "");
    r->cancel_ev = evtimer_new(base, run_cancel_cb, r);
    r->poll_ev = evtimer_new(base, run_poll_cb, r);
    r->start = clock_ms();
    r->in_start = 1;
    /* Calls that are not about deadlines get one far beyond what a loaded
     * machine needs: a split stream is hundreds of tiny writes. */
    rc = llm_start(http, base, &cfg, "You are a test.", r->user ? r->user : "what is ragd?",
                   r->stream, r->start + (r->deadline_ms ? r->deadline_ms : 60000), &cbs, r,
                   &r->call);
    r->in_start = 0;
    memset(url, 'X', sizeof url - 1);
    if (rc == RAGD_OK) {
        struct timeval tv = {r->cancel_after_ms / 1000, (r->cancel_after_ms % 1000) * 1000};
        if (r->cancel_after_ms)
            evtimer_add(r->cancel_ev, &tv);
        if (r->revive_on_request)
            run_poll_cb(-1, 0, r);
        while (!r->done)
            event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(r->cancel_ev);
    event_free(r->poll_ev);
    return rc;
}

static void run_release(run *r)
{
    free(r->answer);
    free(r->model);
    free(r->finish);
    free(r->error);
}

/* The checks every call must pass, whatever its outcome. */
static void run_rules(const run *r, const char *what)
{
    ok(r->done == 1 && !r->done_in_start && !r->done_in_cancel && !r->token_after_done,
       "%s: on_done once, later, not from llm_start/llm_cancel, no token after it", what);
}

static void test_whole_and_stream(void)
{
    run whole = {.user = "what is ragd?"}, st = {.user = "what is ragd?", .stream = 1};
    run split = {.user = "what is ragd?", .stream = 1, .prefix = "/@mode=split"};

    is_int(run_call(&whole), RAGD_OK, "whole: llm_start accepts");
    run_rules(&whole, "whole");
    is_int(whole.status, RAGD_OK, "whole: RAGD_OK");
    ok(whole.answer && strncmp(whole.answer, "Fake answer about what is ragd?", 31) == 0,
       "whole: the answer (%s)", whole.answer);
    is_str(whole.model, "test-model", "whole: the reported model");
    is_str(whole.finish, "stop", "whole: finish_reason");
    is_int(whole.ntokens, 0, "whole: no on_token calls");

    run_call(&st);
    run_rules(&st, "stream");
    is_int(st.status, RAGD_OK, "stream: RAGD_OK");
    is_str(st.answer, whole.answer, "stream: the same answer as whole");
    is_str(st.finish, "stop", "stream: finish_reason");
    is_str(st.model, "test-model", "stream: the reported model");
    is_int(st.ntokens, 12, "stream: one on_token per piece");
    ok(!st.bad_utf8, "stream: every piece is whole UTF-8");
    ok(st.answer && strstr(st.answer, "caf\xC3\xA9 \xE2\x88\x91 \xF0\x9F\x99\x82"),
       "stream: multi-byte characters intact");

    run_call(&split);
    run_rules(&split, "split");
    is_int(split.status, RAGD_OK, "split stream: RAGD_OK");
    is_str(split.tokens, st.tokens, "split stream: the same pieces, byte for byte");
    is_str(split.answer, st.answer, "split stream: the same answer");
    ok(!split.bad_utf8, "split stream: no piece split inside a character");
    run_release(&whole);
    run_release(&st);
    run_release(&split);
}

static void test_options(void)
{
    run utf = {.user = "Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x99\x82 \xE2\x88\x91", .stream = 1,
               .prefix = "/@mode=split"};
    run limit = {.stream = 1, .max_tokens = 3};
    run slash = {.url = NULL};
    char url[192];

    run_call(&utf);
    is_int(utf.status, RAGD_OK, "multi-byte prompt, split stream: RAGD_OK");
    ok(utf.answer && strstr(utf.answer, "Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x99\x82 \xE2\x88\x91"),
       "the multi-byte prompt comes back intact");
    ok(!utf.bad_utf8, "and every piece is whole UTF-8");
    run_call(&limit);
    is_int(limit.ntokens, 3, "max_tokens 3: three pieces");
    is_str(limit.finish, "length", "max_tokens: finish_reason length");
    snprintf(url, sizeof url, "%s/v1/", fake_url);
    slash.url = url;
    run_call(&slash);
    is_int(slash.status, RAGD_OK, "a base URL with a trailing slash works");
    run_release(&utf);
    run_release(&limit);
    run_release(&slash);
}

static void test_retry(void)
{
    run revive = {.stream = 1, .revive_on_request = 1};
    run twice = {.deadline_ms = 3000};
    run short_429 = {.prefix = "/@mode=fail/@status=429", .deadline_ms = 200};
    run cancel_wait = {.cancel_after_ms = 100};

    fake_control("{\"reset\":true,\"reset_stats\":true,\"mode\":\"fail\",\"status\":503}");
    run_call(&revive);
    run_rules(&revive, "503 then 200");
    is_int(revive.status, RAGD_OK, "503 then 200: the retry succeeds");
    ok(revive.elapsed >= 240, "after waiting about 250 ms (%lld ms)", (long long)revive.elapsed);
    is_int(fake_stat("chat"), 2, "503 then 200: two requests");

    fake_control("{\"reset_stats\":true,\"mode\":\"fail\",\"status\":503}");
    run_call(&twice);
    is_int(twice.status, RAGD_ERR, "503 twice: RAGD_ERR");
    is_str(twice.error, "LLM answered HTTP 503: fake failure", "naming the status and the message");
    is_int(fake_stat("chat"), 2, "503: retried exactly once");

    fake_control("{\"reset_stats\":true,\"mode\":\"fail\",\"status\":503}");
    run_call(&cancel_wait);
    run_rules(&cancel_wait, "cancel in the retry wait");
    is_int(cancel_wait.status, RAGD_ECANCELED, "cancel in the retry wait: RAGD_ECANCELED");
    is_int(fake_stat("chat"), 1, "and no retry was sent");
    fake_control("{\"reset\":true,\"reset_stats\":true}");

    run_call(&short_429);
    is_int(short_429.status, RAGD_ERR, "429 with no time to retry: RAGD_ERR");
    ok(short_429.error && strstr(short_429.error, "HTTP 429"), "naming 429 (%s)", short_429.error);
    ok(short_429.elapsed < 150, "at once, not at the deadline (%lld ms)", (long long)short_429.elapsed);
    is_int(fake_stat("chat"), 1, "429: no retry");
    run_release(&revive);
    run_release(&twice);
    run_release(&cancel_wait);
    run_release(&short_429);
}

static void test_deadline(void)
{
    run slow = {.prefix = "/@delay_ms=3000", .deadline_ms = 300};
    run slow_stream = {.prefix = "/@token_delay_ms=200", .stream = 1, .deadline_ms = 500};
    run past = {.deadline_ms = -5};

    run_call(&slow);
    run_rules(&slow, "slow");
    is_int(slow.status, RAGD_ETIMEDOUT, "slow upstream: RAGD_ETIMEDOUT");
    ok(slow.elapsed >= 295 && slow.elapsed < 700, "at the deadline (%lld ms)", (long long)slow.elapsed);
    run_call(&slow_stream);
    is_int(slow_stream.status, RAGD_ETIMEDOUT, "slow stream: RAGD_ETIMEDOUT");
    ok(slow_stream.ntokens >= 1 && slow_stream.ntokens < 12, "after some tokens (%zu)", slow_stream.ntokens);
    ok(slow_stream.elapsed >= 495 && slow_stream.elapsed < 900, "at the deadline (%lld ms)",
       (long long)slow_stream.elapsed);
    fake_control("{\"reset_stats\":true}");
    run_call(&past);
    run_rules(&past, "past deadline");
    is_int(past.status, RAGD_ETIMEDOUT, "a deadline already past: RAGD_ETIMEDOUT");
    is_int(fake_stat("chat"), 0, "and no request");
    run_release(&slow);
    run_release(&slow_stream);
    run_release(&past);
}

static void test_broken_upstreams(void)
{
    run garbage = {.prefix = "/@mode=garbage"};
    run garbage_st = {.prefix = "/@mode=garbage", .stream = 1};
    run closed = {.prefix = "/@mode=stream_close", .stream = 1};
    run truncated = {.prefix = "/@mode=truncate", .stream = 1};
    run truncated_whole = {.prefix = "/@mode=truncate"};
    run reset = {.prefix = "/@mode=reset", .stream = 1};
    run fail_st = {.prefix = "/@mode=fail/@status=400", .stream = 1};
    run refused = {.url = "http://127.0.0.1:1/v1"};

    run_call(&garbage);
    is_int(garbage.status, RAGD_ERR, "garbage: RAGD_ERR");
    ok(garbage.error && strstr(garbage.error, "malformed JSON from LLM"), "garbage: %s", garbage.error);
    run_call(&garbage_st);
    is_int(garbage_st.status, RAGD_ERR, "garbage to a stream request: RAGD_ERR (%s)", garbage_st.error);
    run_call(&closed);
    run_rules(&closed, "stream_close");
    is_int(closed.status, RAGD_ERR, "stream closed early: RAGD_ERR");
    ok(closed.error && strstr(closed.error, "LLM stream ended early"), "ended early: %s", closed.error);
    ok(closed.ntokens > 0, "after some tokens (%zu)", closed.ntokens);
    run_call(&truncated);
    is_int(truncated.status, RAGD_ERR, "stream cut inside an event: RAGD_ERR (%s)", truncated.error);
    run_call(&truncated_whole);
    ok(truncated_whole.error && strstr(truncated_whole.error, "malformed JSON from LLM"),
       "whole body cut in half: %s", truncated_whole.error);
    run_call(&reset);
    is_int(reset.status, RAGD_ERR, "connection reset: RAGD_ERR (%s)", reset.error);
    run_call(&fail_st);
    is_str(fail_st.error, "LLM answered HTTP 400: fake failure", "stream request, HTTP 400: status and message");
    run_call(&refused);
    ok(refused.status == RAGD_ERR && refused.error && strstr(refused.error, "LLM request failed"),
       "connection refused: %s", refused.error);
    ok(!strstr(refused.error ? refused.error : "", KEY), "no key in the message");
    run_release(&garbage);
    run_release(&garbage_st);
    run_release(&closed);
    run_release(&truncated);
    run_release(&truncated_whole);
    run_release(&reset);
    run_release(&fail_st);
    run_release(&refused);
}

static void test_cancel(void)
{
    run timer = {.prefix = "/@token_delay_ms=50", .stream = 1, .cancel_at = 2};
    run stop = {.prefix = "/@token_delay_ms=50", .stream = 1, .stop_at = 3};
    run inside = {.prefix = "/@token_delay_ms=50", .stream = 1, .cancel_inside_at = 1};
    run hang = {.prefix = "/@mode=hang", .cancel_after_ms = 50};

    fake_control("{\"reset\":true,\"reset_stats\":true}");
    run_call(&timer);
    run_rules(&timer, "llm_cancel mid-stream");
    is_int(timer.status, RAGD_ECANCELED, "llm_cancel mid-stream: RAGD_ECANCELED");
    is_int(timer.ntokens, 2, "no token after the cancel");
    is_int(fake_stat_wait("streams_aborted", 1), 1, "fakeup saw the stream aborted");
    run_call(&stop);
    run_rules(&stop, "on_token stop");
    is_int(stop.status, RAGD_ECANCELED, "on_token returning non-zero: RAGD_ECANCELED");
    is_int(stop.ntokens, 3, "no token after the stop");
    is_int(fake_stat_wait("streams_aborted", 2), 2, "fakeup saw that stream aborted too");
    run_call(&inside);
    run_rules(&inside, "llm_cancel inside on_token");
    is_int(inside.status, RAGD_ECANCELED, "llm_cancel inside on_token: RAGD_ECANCELED");
    is_int(inside.ntokens, 1, "no token after it");
    is_int(fake_stat_wait("streams_aborted", 3), 3, "and the stream was aborted");
    run_call(&hang);
    run_rules(&hang, "cancel a hanging request");
    is_int(hang.status, RAGD_ECANCELED, "cancel a whole request: RAGD_ECANCELED");
    ok(hang.elapsed < 1000, "promptly (%lld ms)", (long long)hang.elapsed);
    is_int(fake_stat_wait("abandoned", 4), 4, "fakeup saw the client leave");
    run_release(&timer);
    run_release(&stop);
    run_release(&inside);
    run_release(&hang);
}

static void test_start_errors(void)
{
    static const llm_callbacks cbs = {run_token, run_done}, no_done = {run_token, NULL};
    llm_config cfg = {"http://127.0.0.1:1/v1", "m", NULL, -1, 0, 0}, no_url = {NULL, "m", NULL, -1, 0, 0};
    run r = {0};
    llm_call *c = NULL;

    is_int(llm_start(http, base, &no_url, NULL, "q", 0, clock_ms() + 1000, &cbs, &r, &c), RAGD_EINVAL,
           "no url: RAGD_EINVAL");
    is_int(llm_start(http, base, &cfg, NULL, NULL, 0, clock_ms() + 1000, &cbs, &r, &c), RAGD_EINVAL,
           "no user prompt: RAGD_EINVAL");
    is_int(llm_start(http, base, &cfg, NULL, "q", 0, clock_ms() + 1000, &no_done, &r, &c), RAGD_EINVAL,
           "no on_done: RAGD_EINVAL");
    is_int(llm_start(http, base, &cfg, NULL, "bad \xC3(", 0, clock_ms() + 1000, &cbs, &r, &c),
           RAGD_EINVAL, "a prompt that is not UTF-8: RAGD_EINVAL");
    is_int(httpc_active(http), 0, "no transfer left behind");
}

static int loop_tests(const char *fakeup)
{
    pid_t pid = -1;
    char err[256];
    int status;

    if (fake_start(fakeup, &pid) != 0) {
        ok(0, "fakeup (%s) starts", fakeup);
        return -1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    base = event_base_new();
    http = base ? httpc_new(base, err, sizeof err) : NULL;
    ok(http != NULL, "loop and HTTP client");
    if (http) {
        test_start_errors();
        test_whole_and_stream();
        test_options();
        test_retry();
        test_deadline();
        test_broken_upstreams();
        test_cancel();
        is_int(httpc_active(http), 0, "no transfer left behind");
    }
    httpc_free(&http);
    if (base)
        event_base_free(base);
    curl_global_cleanup();
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fakeup exits cleanly");
    return 0;
}

int main(void)
{
    const char *fakeup = getenv("FAKEUP");

    test_request_body();
    test_parse_response();
    test_parse_chunk();
    test_http_error();
    test_retry_after();
    if (fakeup && *fakeup)
        loop_tests(fakeup);
    else
        ok(1, "# SKIP loop tests: FAKEUP is not set");
    return tap_done();
}
