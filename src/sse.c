/*
 * sse -- the event-stream parser and formatter.
 *
 * The parser keeps three buffers: the line that is not complete yet (input
 * may stop anywhere), the event's data so far and its type.  A complete
 * line that arrives in one piece is parsed straight from the caller's
 * buffer; only a line split across feeds is copied.  A \r at the very end
 * of a feed may be the first half of \r\n, so after_cr remembers to skip a
 * \n that starts the next feed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sse.h"

/* Room for a field name and ": " on top of the data a line carries. */
#define SSE_LINE_SLACK 64

struct sse_parser {
    size_t max;      /* largest event data (and line, plus SSE_LINE_SLACK) */
    sse_event_fn fn;
    void *arg;
    buf line;    /* a line split across feeds, its first part */
    buf data;    /* the event's data lines, each followed by \n */
    buf event;   /* the event's type; empty means "message" */
    int after_cr;    /* the last feed ended in \r: skip a \n that follows */
    int seen_line;   /* a line was completed: a BOM may only start the first */
    int state;       /* 0 while parsing; 1 or -1, sticky, once finished */
};

sse_parser *sse_parser_new(size_t max_event_bytes, sse_event_fn fn, void *arg)
{
    sse_parser *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    /* Limits are compared with max plus a little: keep that from wrapping. */
    p->max = max_event_bytes < SIZE_MAX / 2 ? max_event_bytes : SIZE_MAX / 2;
    p->fn = fn;
    p->arg = arg;
    return p;
}

void sse_parser_free(sse_parser **pp)
{
    sse_parser *p = pp ? *pp : NULL;

    if (!p)
        return;
    buf_release(&p->line);
    buf_release(&p->data);
    buf_release(&p->event);
    free(p);
    *pp = NULL;
}

/* A blank line: hand over the event if it has data, then start afresh. */
static int sse_dispatch(sse_parser *p)
{
    int rc;

    if (p->data.len == 0) {
        p->event.len = 0;
        return 0;
    }
    p->data.p[--p->data.len] = '\0'; /* the \n after the last data line */
    rc = p->fn(p->arg, p->event.len ? p->event.p : "message", p->data.p, p->data.len);
    p->data.len = 0;
    p->event.len = 0;
    return rc ? 1 : 0;
}

/* One complete line, without its terminator.  0, 1 (stopped) or -1. */
static int sse_line(sse_parser *p, const char *s, size_t n)
{
    const char *colon, *value;
    size_t flen, vlen;

    if (!p->seen_line && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3; /* a byte order mark may start the stream */
        n -= 3;
    }
    p->seen_line = 1;
    if (n == 0)
        return sse_dispatch(p);
    if (s[0] == ':')
        return 0;
    colon = memchr(s, ':', n);
    flen = colon ? (size_t)(colon - s) : n;
    value = colon ? colon + 1 : s + n;
    vlen = colon ? n - flen - 1 : 0;
    if (vlen && *value == ' ') {
        value++;
        vlen--;
    }
    if (flen == 5 && memcmp(s, "event", 5) == 0) {
        p->event.len = 0;
        return buf_add(&p->event, value, vlen, p->max);
    }
    if (flen == 4 && memcmp(s, "data", 4) == 0) {
        /* max + 1: the \n that joins (or ends) the lines is not data. */
        if (buf_add(&p->data, value, vlen, p->max + 1) != 0 ||
            buf_add(&p->data, "\n", 1, p->max + 1) != 0)
            return -1;
    }
    return 0; /* id, retry and unknown fields */
}

/* s[0..n) ends a line: join it to a carried-over start, if any. */
static int sse_end_line(sse_parser *p, const char *s, size_t n)
{
    int rc;

    if (p->line.len == 0)
        return n > p->max + SSE_LINE_SLACK ? -1 : sse_line(p, s, n);
    if (buf_add(&p->line, s, n, p->max + SSE_LINE_SLACK) != 0)
        return -1;
    rc = sse_line(p, p->line.p, p->line.len);
    p->line.len = 0;
    return rc;
}

int sse_parser_feed(sse_parser *p, const char *buf, size_t len)
{
    size_t i = 0, start;

    if (p->state || len == 0)
        return p->state;
    if (p->after_cr && buf[0] == '\n')
        i = 1; /* the second half of a \r\n split across feeds */
    p->after_cr = 0;
    for (start = i; i < len; i++) {
        int rc;
        if (buf[i] != '\n' && buf[i] != '\r')
            continue;
        if ((rc = sse_end_line(p, buf + start, i - start)) != 0)
            return p->state = rc;
        if (buf[i] == '\r') {
            if (i + 1 == len)
                p->after_cr = 1;
            else if (buf[i + 1] == '\n')
                i++;
        }
        start = i + 1;
    }
    if (start < len && buf_add(&p->line, buf + start, len - start, p->max + SSE_LINE_SLACK) != 0)
        return p->state = -1;
    return 0;
}

/* The length of the line starting at s, and in *next where the one after
 * it starts (NULL after the last). */
static size_t sse_next_line(const char *s, const char **next)
{
    size_t n = strcspn(s, "\r\n");

    if (!s[n])
        *next = NULL;
    else
        *next = s + n + (s[n] == '\r' && s[n + 1] == '\n' ? 2 : 1);
    return n;
}

char *sse_format(const char *event, const char *data)
{
    size_t elen = event ? strlen(event) : 0, cap, off = 0, lines = 0;
    const char *s, *next;
    char *out;

    if (event && strpbrk(event, "\r\n"))
        return NULL;
    for (s = data; s; s = next, lines++)
        sse_next_line(s, &next);
    /* "event: " NAME "\n", per line "data: " LINE "\n", "\n", NUL */
    cap = (event ? 8 + elen : 0) + 7 * lines + strlen(data) + 2;
    if (!(out = malloc(cap)))
        return NULL;
    if (event) {
        memcpy(out, "event: ", 7);
        memcpy(out + 7, event, elen);
        out[7 + elen] = '\n';
        off = 8 + elen;
    }
    for (s = data; s; s = next) {
        size_t n = sse_next_line(s, &next);
        memcpy(out + off, "data: ", 6);
        memcpy(out + off + 6, s, n);
        off += 6 + n;
        out[off++] = '\n';
    }
    out[off++] = '\n';
    out[off] = '\0';
    return out;
}
