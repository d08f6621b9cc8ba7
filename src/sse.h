/*
 * sse -- Server-Sent Events (text/event-stream) in both directions: an
 * incremental parser for streams ragd reads (an LLM's streamed answer) and
 * a formatter for the events ragd writes to its own clients.
 *
 * The parser follows the WHATWG event-stream rules: lines end in \n, \r\n
 * or \r; a line starting with ':' is a comment; "field: value" (one space
 * after the colon dropped); data lines are joined with \n; a blank line
 * dispatches the event if it had data; an unterminated last event is never
 * dispatched.  It buffers partial lines, so input may be split anywhere
 * (inside a \r\n pair or a UTF-8 character) and callbacks still see whole
 * events.  The id and retry fields are parsed and ignored: ragd never
 * reconnects a stream.
 *
 * Not a transport: it never reads a socket.  Not thread-safe: one parser
 * belongs to one stream.
 */
#ifndef RAGD_SSE_H
#define RAGD_SSE_H

#include <stddef.h>

typedef struct sse_parser sse_parser;

/* One dispatched event.  event is its type ("message" when the stream gave
 * none); data[0..len) is its data lines joined with \n, NUL-terminated.
 * Both are borrowed for the call.  Return non-zero to stop parsing. */
typedef int (*sse_event_fn)(void *arg, const char *event, const char *data, size_t len);

/* A parser that calls fn(arg, ...) for each event, refusing any line or
 * event data longer than max_event_bytes.  Returns NULL on ENOMEM. */
sse_parser *sse_parser_new(size_t max_event_bytes, sse_event_fn fn, void *arg);

/* Parse buf[0..len), calling fn for every event it completes, in order.
 * Returns 0 when all of buf was consumed, 1 when fn asked to stop (the rest
 * of buf is not parsed), -1 when an event or line passed max_event_bytes or
 * memory ran out.  After 1 or -1 the parser is finished: later feeds parse
 * nothing and return the same value. */
int sse_parser_feed(sse_parser *p, const char *buf, size_t len);

/* Free the parser (a partial event is dropped) and set *p to NULL.  NULL
 * and a pointer to NULL are fine. */
void sse_parser_free(sse_parser **p);

/* One outgoing event: "event: NAME\n" (left out when event is NULL), then
 * one "data: " line per line of data (split on \n, \r\n or \r, so the
 * receiver gets the lines back joined with \n), then a blank line.
 * Returns a malloc'd string, or NULL on ENOMEM or when event contains a
 * line break (it would end the field). */
char *sse_format(const char *event, const char *data);

#endif /* RAGD_SSE_H */
