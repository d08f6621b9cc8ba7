/*
 * fuzz_sse -- the event-stream parser and formatter (src/sse.h).
 *
 * The parser promises that input may be split anywhere and callbacks still
 * see the same whole events, so each input is parsed twice, in one piece
 * and in pieces, and both runs must dispatch the same events and end the
 * same way.  The formatter promises that what it writes parses back to the
 * same event, so the input is also formatted and parsed again.
 *
 * Input: byte 0 picks the event size limit, byte 1 the piece size, the rest
 * is the stream.  An event named "stop" asks the parser to stop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse.h"

/* What a run dispatched: a count and a hash of every event and its data. */
typedef struct fuzz_log {
    size_t n;
    uint64_t hash;
    char *last_event, *last_data; /* the last event, for the round trip */
    size_t last_len;
} fuzz_log;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fuzz_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static int fuzz_on_event(void *arg, const char *event, const char *data, size_t len)
{
    fuzz_log *log = arg;

    /* not *event: a type holding a NUL byte reaches C as a cut string */
    fuzz_check(event && !strpbrk(event, "\r\n"));
    fuzz_check(data[len] == '\0' && !memchr(data, '\r', len));
    log->n++;
    log->hash = fuzz_fnv(log->hash, event, strlen(event) + 1);
    log->hash = fuzz_fnv(log->hash, data, len + 1);
    free(log->last_event);
    free(log->last_data);
    log->last_event = fuzz_strndup(event, strlen(event));
    log->last_data = fuzz_strndup(data, len);
    log->last_len = len;
    return strcmp(event, "stop") == 0;
}

/* Parse s[0..n) in pieces of at most piece bytes (0: one piece). */
static int fuzz_parse(const char *s, size_t n, size_t max, size_t piece, fuzz_log *log)
{
    sse_parser *p = sse_parser_new(max, fuzz_on_event, log);
    size_t off = 0;
    int rc = 0;

    fuzz_check(p != NULL);
    if (piece == 0)
        piece = n ? n : 1;
    while (off < n) {
        size_t len = n - off < piece ? n - off : piece;
        rc = sse_parser_feed(p, s + off, len);
        off += len;
        if (rc != 0) {
            /* finished: later feeds must parse nothing and say the same */
            fuzz_check(sse_parser_feed(p, "data: x\n\n", 9) == rc);
            break;
        }
    }
    sse_parser_free(&p);
    fuzz_check(p == NULL);
    return rc;
}

static void fuzz_log_release(fuzz_log *log)
{
    free(log->last_event);
    free(log->last_data);
}

/* sse_format(event, text) must parse back to one event with text's line
 * breaks turned into \n. */
static void fuzz_round_trip(const char *event, const char *text)
{
    char *out = sse_format(event, text), *want = fuzz_strndup(text, strlen(text)), *w = want;
    fuzz_log log = {0};

    if (event && strpbrk(event, "\r\n")) {
        fuzz_check(out == NULL);
        free(want);
        return;
    }
    fuzz_check(out != NULL);
    for (const char *t = text; *t; t++) {
        if (*t == '\r' && t[1] == '\n')
            t++;
        *w++ = *t == '\r' ? '\n' : *t;
    }
    *w = '\0';
    fuzz_check(fuzz_parse(out, strlen(out), strlen(out) + 1, 0, &log) == 0);
    fuzz_check(log.n == 1);
    fuzz_check(strcmp(log.last_event, event && *event ? event : "message") == 0);
    fuzz_check(strcmp(log.last_data, want) == 0);
    fuzz_log_release(&log);
    free(want);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const events[] = {NULL, "message", "answer", "", "con\ntexts"};
    fuzz_log whole = {0}, split = {0};
    const char *s = (const char *)data + 2;
    size_t n, max, piece;
    char *text;
    int rc;

    if (size < 2)
        return 0;
    n = size - 2;
    max = (size_t)data[0] * 4;
    piece = 1 + data[1] % 17;
    rc = fuzz_parse(s, n, max, 0, &whole);
    fuzz_check(fuzz_parse(s, n, max, piece, &split) == rc);
    fuzz_check(whole.n == split.n && whole.hash == split.hash);
    fuzz_log_release(&whole);
    fuzz_log_release(&split);

    text = fuzz_strndup(s, n);
    fuzz_round_trip(events[data[0] % 5], text);
    free(text);
    return 0;
}
