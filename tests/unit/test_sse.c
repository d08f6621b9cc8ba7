/* Unit tests for sse: the parser (WHATWG line and field rules, input split
 * anywhere, size limit, stopping) and sse_format. */
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "tap.h"

/* Every event a parser dispatched, as "event=data|" records. */
typedef struct rec {
    char log[4096];
    size_t n;        /* events seen */
    size_t stop_at;  /* ask to stop after this many events; 0: never */
} rec;

static int rec_event(void *arg, const char *event, const char *data, size_t len)
{
    rec *r = arg;
    size_t used = strlen(r->log);

    if (strlen(data) != len)
        snprintf(r->log + used, sizeof r->log - used, "BADLEN|");
    else
        snprintf(r->log + used, sizeof r->log - used, "%s=%s|", event, data);
    r->n++;
    return r->stop_at && r->n >= r->stop_at;
}

/* Parse s in pieces of the given sizes (cycled; {0} means one piece). */
static int parse_pieces(const char *s, size_t len, const size_t *sizes, size_t nsizes, rec *r)
{
    sse_parser *p = sse_parser_new(1024, rec_event, r);
    size_t off = 0, i = 0;
    int rc = 0;

    if (!p)
        return -2;
    while (off < len && rc == 0) {
        size_t n = sizes[i++ % nsizes];
        if (n == 0 || n > len - off)
            n = len - off;
        rc = sse_parser_feed(p, s + off, n);
        off += n;
    }
    sse_parser_free(&p);
    return rc;
}

/* A stream exercising every rule, and the events it must give. */
static const char stream[] =
    "\xEF\xBB\xBF: a comment, after a byte order mark\n"
    "data: first\n"
    "\n"
    "event: update\r\n"
    "data: two\r\n"
    "data:  lines, one space kept\r\n"
    "id: 7\r\n"
    "retry: 1000\r\n"
    "\r\n"
    "event: lonely\n"
    "\n"
    "data\n"
    "\n"
    "data:caf\xC3\xA9 \xE2\x88\x91 \xF0\x9F\x99\x82\r"
    ":\r"
    "unknown: field\r"
    "\r"
    "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n"
    "\n"
    "data: never dispatched: no blank line\n";
static const char events[] =
    "message=first|"
    "update=two\n lines, one space kept|"
    "message=|"
    "message=caf\xC3\xA9 \xE2\x88\x91 \xF0\x9F\x99\x82|"
    "message={\"choices\":[{\"delta\":{\"content\":\"x\"}}]}|";

static void test_split_anywhere(void)
{
    static const size_t whole[] = {0}, bytes[] = {1}, mixed[] = {2, 1, 3, 5, 1, 7};
    size_t len = sizeof stream - 1, sizes[8];
    rec r;
    int same = 1;

    memset(&r, 0, sizeof r);
    is_int(parse_pieces(stream, len, whole, 1, &r), 0, "recorded stream in one piece parses");
    is_str(r.log, events, "one piece: the expected events");
    memset(&r, 0, sizeof r);
    parse_pieces(stream, len, bytes, 1, &r);
    is_str(r.log, events, "byte by byte: the same events");
    memset(&r, 0, sizeof r);
    parse_pieces(stream, len, mixed, 6, &r);
    is_str(r.log, events, "fixed mixed chunking: the same events");
    srand(42);
    for (int round = 0; round < 500 && same; round++) {
        for (size_t i = 0; i < 8; i++)
            sizes[i] = 1 + (size_t)rand() % 12;
        memset(&r, 0, sizeof r);
        parse_pieces(stream, len, sizes, 8, &r);
        same = strcmp(r.log, events) == 0;
        if (!same)
            printf("# round %d gave %s\n", round, r.log);
    }
    ok(same, "500 random chunkings: the same events");
    /* Every split point of the stream into two pieces. */
    same = 1;
    for (size_t cut = 1; cut < len && same; cut++) {
        size_t two[2] = {cut, 0};
        memset(&r, 0, sizeof r);
        parse_pieces(stream, len, two, 2, &r);
        same = strcmp(r.log, events) == 0;
    }
    ok(same, "every two-piece split: the same events");
}

/* Feed each string of v in turn, NULL-terminated; the events logged. */
static void feed_all(const char *const *v, size_t max, rec *r, int *last_rc)
{
    sse_parser *p = sse_parser_new(max, rec_event, r);

    *last_rc = -2;
    for (; p && *v; v++)
        *last_rc = sse_parser_feed(p, *v, strlen(*v));
    sse_parser_free(&p);
}

static void test_line_ends(void)
{
    const char *crlf[] = {"data: a\r", "\ndata: b\r", "\n\r", "\n", NULL};
    const char *cr[] = {"data: x\rdata: y\r\r", NULL};
    const char *cr_then_text[] = {"data: x\r", "data: y\r", "\r", NULL};
    rec r;
    int rc;

    memset(&r, 0, sizeof r);
    feed_all(crlf, 64, &r, &rc);
    is_str(r.log, "message=a\nb|", "\\r\\n split across feeds is one line end");
    memset(&r, 0, sizeof r);
    feed_all(cr, 64, &r, &rc);
    is_str(r.log, "message=x\ny|", "\\r alone ends lines");
    memset(&r, 0, sizeof r);
    feed_all(cr_then_text, 64, &r, &rc);
    is_str(r.log, "message=x\ny|", "\\r at a feed's end followed by text");
}

static void test_fields(void)
{
    const char *comments[] = {": ping\n", ":\n", "data: 1\n", ": between\n", "\n", NULL};
    const char *types[] = {"event: a\ndata: 1\n\ndata: 2\n\n", NULL};
    const char *no_data[] = {"event: a\n\n", "data: 2\n\n", NULL};
    const char *empty_type[] = {"event: a\nevent:\ndata: 3\n\n", NULL};
    const char *no_space[] = {"data:tight\ndata:\n\n", NULL};
    const char *bom_split[] = {"\xEF", "\xBB\xBF", "data: z\n\n", "\xEF\xBB\xBF" "data: w\n\n", NULL};
    const char *eof[] = {"data: x\n", NULL};
    rec r;
    int rc;

    memset(&r, 0, sizeof r);
    feed_all(comments, 64, &r, &rc);
    is_str(r.log, "message=1|", "comments are ignored");
    memset(&r, 0, sizeof r);
    feed_all(types, 64, &r, &rc);
    is_str(r.log, "a=1|message=2|", "event names, reset after each dispatch");
    memset(&r, 0, sizeof r);
    feed_all(no_data, 64, &r, &rc);
    is_str(r.log, "message=2|", "an event without data is not dispatched, and its name is dropped");
    memset(&r, 0, sizeof r);
    feed_all(empty_type, 64, &r, &rc);
    is_str(r.log, "message=3|", "an empty event name means message");
    memset(&r, 0, sizeof r);
    feed_all(no_space, 64, &r, &rc);
    is_str(r.log, "message=tight\n|", "no space after the colon; an empty data line adds a line");
    memset(&r, 0, sizeof r);
    feed_all(bom_split, 64, &r, &rc);
    /* A BOM only at the start: later it is part of the field name. */
    is_str(r.log, "message=z|", "a BOM split across feeds is dropped, only at the start");
    memset(&r, 0, sizeof r);
    feed_all(eof, 64, &r, &rc);
    is_int(r.n, 0, "an unterminated event at EOF is not dispatched");
}

static void test_limits(void)
{
    const char *exact[] = {"data: 12345678\n\n", NULL};
    const char *over[] = {"data: 123456789\n\n", "data: 1\n\n", NULL};
    const char *lines[] = {"data: 1234\n", "data: 1234\n\n", NULL};
    char big[200];
    const char *long_line[] = {big, NULL};
    rec r;
    int rc;

    memset(&r, 0, sizeof r);
    feed_all(exact, 8, &r, &rc);
    ok(rc == 0 && r.n == 1, "an event of exactly max bytes is accepted");
    memset(&r, 0, sizeof r);
    feed_all(over, 8, &r, &rc);
    ok(rc == -1 && r.n == 0, "an event over max: -1, and -1 again on the next feed");
    memset(&r, 0, sizeof r);
    feed_all(lines, 8, &r, &rc);
    ok(rc == -1 && r.n == 0, "data lines joined over max: -1");
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memset(&r, 0, sizeof r);
    feed_all(long_line, 8, &r, &rc);
    is_int(rc, -1, "an unterminated line far over max: -1 before its end");
}

static void test_stop(void)
{
    static const char two[] = "data: 1\n\ndata: 2\n\n";
    sse_parser *p;
    rec r;

    memset(&r, 0, sizeof r);
    r.stop_at = 1;
    p = sse_parser_new(64, rec_event, &r);
    is_int(sse_parser_feed(p, two, sizeof two - 1), 1, "the callback's non-zero stops: 1");
    is_str(r.log, "message=1|", "no event after the stop");
    is_int(sse_parser_feed(p, "data: 3\n\n", 9), 1, "a stopped parser stays stopped");
    is_int(r.n, 1, "and dispatches nothing more");
    sse_parser_free(&p);
    ok(p == NULL, "sse_parser_free clears the pointer");
    sse_parser_free(&p);
    sse_parser_free(NULL);
}

static void test_format(void)
{
    char *s;
    rec r;
    int rc;

    s = sse_format("update", "a\nb");
    is_str(s, "event: update\ndata: a\ndata: b\n\n", "sse_format: event line and one data line per line");
    free(s);
    s = sse_format(NULL, "{\"x\":1}");
    is_str(s, "data: {\"x\":1}\n\n", "sse_format without an event name");
    free(s);
    s = sse_format(NULL, "");
    is_str(s, "data: \n\n", "sse_format of empty data");
    free(s);
    ok(sse_format("bad\nname", "x") == NULL, "a line break in the event name is refused");
    s = sse_format("token", "line1\nline2\r\nline3\rline4\n");
    {
        const char *v[] = {s, NULL};
        memset(&r, 0, sizeof r);
        feed_all(v, 256, &r, &rc);
    }
    is_str(r.log, "token=line1\nline2\nline3\nline4\n|", "round trip: the lines come back joined with \\n");
    free(s);
    s = sse_format(NULL, "");
    {
        const char *v[] = {s, NULL};
        memset(&r, 0, sizeof r);
        feed_all(v, 256, &r, &rc);
    }
    is_str(r.log, "message=|", "round trip of empty data: one empty event");
    free(s);
}

int main(void)
{
    test_split_anywhere();
    test_line_ends();
    test_fields();
    test_limits();
    test_stop();
    test_format();
    return tap_done();
}
