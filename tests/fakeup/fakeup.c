/*
 * fakeup - fake upstream HTTP server: the test and benchmark double for
 * ragd's upstreams (a SearxNG instance, an OpenAI-compatible chat completion
 * service and an OpenAI-compatible embedding service).
 *
 * It speaks the real wire formats, answers deterministically, and can be told
 * to be slow, fail, send garbage, truncated, cut or huge bodies, stall,
 * reset or drop connections or hang -- always, or on a seeded random share
 * of requests -- so integration tests and soak runs can drive ragd through
 * every upstream failure. It is one libevent evhttp loop in one thread with
 * no blocking calls and no sleeps (delays are evtimers), so it is not the
 * bottleneck of a benchmark. A refused connection needs no mode: point the
 * client at a port nothing listens on.
 *
 * COMMAND LINE
 *   fakeup [--listen HOST:PORT] [--mode MODE] [--delay-ms N] [--status N]
 *          [--results N] [--dims N] [--token-delay-ms N] [--tokens N]
 *          [--slow-ms N] [--huge-mb N] [--fault-rate X] [--fault-mix LIST]
 *          [--seed N] [--help]
 *
 *   --listen HOST:PORT  loopback address to listen on, default 127.0.0.1:0
 *                       (port 0: the OS picks one). HOST is 127.x.x.x,
 *                       localhost, ::1 or [::1]; other hosts are refused.
 *   --seed N            seed of the fault draws (default 1), 0..2^64-1.
 *   the other flags     set the startup global behaviour (keys below).
 *
 *   Once listening, fakeup prints exactly one line to stdout (and flushes):
 *       fakeup listening on 127.0.0.1:PORT
 *   Bad arguments: a message on stderr, exit status 2.
 *   SIGTERM / SIGINT: everything is freed, exit status 0.
 *
 * BEHAVIOUR KEYS          range        default
 *   mode                  see MODES    ok
 *   delay_ms              0..3600000   0      wait before the response starts
 *   status                200..599     503    HTTP status sent in mode fail
 *   results               0..1000      5      search results per query
 *   dims                  1..4096      64     embedding dimensions
 *   token_delay_ms        0..60000     0      gap between streamed SSE events
 *   tokens                1..1000      12     pieces the chat answer is cut into
 *   slow_ms               0..3600000   10000  extra wait of mode slow
 *   huge_mb               1..1024      64     MiB of padding in mode huge
 *   fault_rate            0..1         0      share of requests given a fault
 *                                             (at most 6 decimals)
 *   fault_mix             modes        slow,fail,reset,garbage,cut
 *                                             what a fault is drawn from
 *
 * RANDOM FAULTS
 *   A request whose mode is ok after the control layers below gets, with
 *   probability fault_rate, a mode drawn uniformly from fault_mix instead
 *   (any modes, comma-separated). The draws come from one generator seeded
 *   by --seed, in the order requests arrive, so a run with the same seed and
 *   the same request order faults the same requests. /healthz is never
 *   faulted. POST /_control {"seed":N} restarts the generator; {"reset":true}
 *   restarts it from the startup seed.
 *
 * CONTROL LAYERS (per request, a later layer overrides an earlier one)
 *   1. Global behaviour: the flags, changed at run time by
 *        POST /_control {"mode":"fail","delay_ms":300,"status":503,...}
 *      (any subset of the keys; fault_rate a number, fault_mix a string
 *      like "fail,reset"). {"reset":true} restores the startup flags
 *      (applied before the other keys of the same body), {"reset_stats":true}
 *      zeroes the counters, {"release":true} answers every request held in
 *      mode hang now, as in mode ok (so a test can hold upstream calls
 *      until it has seen them, then let them finish). Answer 200
 *      {"ok":true}; bad JSON, an unknown key or a bad value: 400 and nothing
 *      changes. GET /_control shows the current global behaviour.
 *   2. Path prefix segments /@key=value before the endpoint path, any number:
 *        GET /@mode=fail/@status=502/search?q=x&format=json
 *        POST /@delay_ms=300/v1/chat/completions
 *      so one fakeup serves several differently-behaving "upstreams": give a
 *      client the base URL http://127.0.0.1:PORT/@delay_ms=300.
 *   3. Request headers X-Fake-Mode, X-Fake-Delay-Ms, X-Fake-Status, and
 *      likewise X-Fake-Results, -Dims, -Token-Delay-Ms, -Tokens, -Slow-Ms,
 *      -Huge-Mb, -Fault-Rate, -Fault-Mix.
 *   Keys match case-insensitively and '-' may be written for '_'. An unknown
 *   key or bad value in a prefix or header is answered 400.
 *
 * MODES
 *   ok            the normal answer.
 *   slow          the normal answer, slow_ms later (on top of delay_ms).
 *   fail          HTTP `status` with
 *                 {"error":{"message":"fake failure","type":"server_error"}}.
 *   garbage       200, Content-Type application/json, body
 *                 <html>not json</html>. Chat streams: the role event, then
 *                 the event "data: <html>not json</html>", then the rest of
 *                 the stream and [DONE].
 *   truncate      200 with the valid JSON body cut in half (a complete HTTP
 *                 message whose JSON is short). Chat streams: the role event
 *                 and two token events, then an event whose JSON is cut in
 *                 the middle, then the connection is closed without [DONE].
 *   cut           200 whose Content-Length promises the whole body; half of
 *                 it is sent, then the connection is closed (FIN), so the
 *                 HTTP message itself is short. Chat streams: as truncate.
 *   huge          200 with the normal answer padded by huge_mb MiB of
 *                 text inside one JSON string: the first search result's
 *                 content, the chat message, the embeddings' model name.
 *                 Chat streams: the first token event carries the padding,
 *                 so one SSE line is that long; the stream then goes on to
 *                 [DONE].
 *   stall         200 whose Content-Length promises the whole body; half of
 *                 it is sent, then nothing until the client leaves. Chat
 *                 streams: the role event and two token events, then
 *                 nothing until the client leaves.
 *   reset         the request is read, then the connection is aborted with a
 *                 TCP RST; nothing is sent.
 *   drop          the request is read, then the connection is closed (FIN);
 *                 nothing is sent.
 *   hang          no answer: the request is held until the client leaves.
 *   stream_close  chat streams: tokens/2 token events, then the connection is
 *                 closed without [DONE]. Elsewhere the same as ok.
 *   split         chat streams: every SSE event is sent in 1 to 3 byte HTTP
 *                 chunks about 1 ms apart, so lines, JSON objects and UTF-8
 *                 sequences are split across reads; the reassembled stream
 *                 is byte-for-byte the ok stream. Elsewhere the same as ok.
 *   delay_ms applies before the response starts in every mode. A request
 *   the endpoint rejects (400, 403) gets its error in every mode but fail,
 *   reset, drop and hang.
 *   Modes and delays apply to the endpoints below, /healthz included, but
 *   not to /stats, /_control or 404/405 answers.
 *
 * ENDPOINTS (paths after removing the control prefixes)
 *   GET /search?q=TEXT&format=json        SearxNG JSON API
 *       {"query","number_of_results","results":[{"url","title","content",
 *       "engine":"fake","engines","positions","score","category":"general"}],
 *       "answers":[],"suggestions":[],"unresponsive_engines":[]} with
 *       `results` results and decreasing scores. The same q always gives the
 *       same answer; URLs are https://example.org/<slug of q>/<i>. No or an
 *       empty q: 400. format missing or not json: 403, as SearxNG answers a
 *       format it does not serve.
 *   POST /v1/chat/completions, POST /chat/completions   OpenAI chat
 *       Request: "model" and "messages" [{role, content}] are required;
 *       optional "stream", "stream_options":{"include_usage"}, "max_tokens",
 *       "temperature". Bad JSON or fields: 400 (invalid_request_error).
 *       The answer is "Fake answer about <first 60 bytes of the last user
 *       message, cut at a UTF-8 boundary> — café ∑ 🙂 [1]." (deliberately
 *       multi-byte), cut into `tokens` pieces at UTF-8 boundaries (fewer if
 *       the answer has fewer characters). max_tokens keeps only that many
 *       pieces and makes finish_reason "length".
 *       Whole: a chat.completion object with usage. Stream ("stream":true):
 *       text/event-stream, chunked; a role chunk, one chat.completion.chunk
 *       per piece, a chunk with empty delta and the finish_reason, the usage
 *       chunk if asked, then "data: [DONE]". Events are token_delay_ms apart
 *       (0: separate chunks on consecutive loop iterations).
 *   POST /v1/embeddings, POST /embeddings  OpenAI embeddings
 *       {"model", "input": string | [strings], "dimensions"?, and
 *       "encoding_format"? which must be "float"}. Vectors have `dims` (or
 *       "dimensions") floats: lowercase words (runs of ASCII letters and
 *       digits and of non-ASCII bytes) are feature-hashed with a sign into
 *       the dimensions and the vector is L2-normalised, so texts sharing
 *       words have a positive cosine. A text without words gets the unit
 *       vector (1,0,...). Bad input: 400.
 *   GET /healthz   {"ok":true} (in mode huge with a "padding" string)
 *   GET /stats     {"requests","by_path":{path:n},"by_mode":{mode:n},
 *                  "faults","by_fault":{mode:n},
 *                  "streams_started","streams_completed","streams_aborted",
 *                  "streams_cut","abandoned","resets","drops","cuts",
 *                  "stalls","hanging","active"}
 *       requests counts every request except /stats and /_control; by_path
 *       keys are the endpoint paths above plus "other" (unknown paths and bad
 *       prefixes); by_mode counts requests that reached an endpoint, by the
 *       mode they were given (random faults included). faults counts the
 *       random fault draws that hit, by_fault the mode each one drew.
 *       streams_started counts SSE replies begun; each ends as completed
 *       ([DONE] sent), aborted (the client left before [DONE]) or cut
 *       (closed on purpose by stream_close, truncate or cut). abandoned
 *       counts requests whose client left before the response was complete
 *       (delayed, hanging, stalled or streaming). resets and drops count
 *       connections reset or closed instead of an answer, cuts the non-SSE
 *       bodies cut short on purpose, stalls the replies that went quiet.
 *       hanging and active are the requests held in mode hang and all
 *       requests still in progress, right now.
 *   Unknown path: 404; wrong method: 405; errors are OpenAI-style JSON
 *   {"error":{"message":...,"type":...}}. Request bodies over 1 MiB: 413.
 *
 * BUILD
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o fakeup \
 *       tests/fakeup/fakeup.c $(pkg-config --cflags --libs libevent jansson)
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

/* Appends a string literal without counting its bytes by hand. */
#define ADD_LIT(buf, lit) evbuffer_add((buf), (lit), sizeof(lit) - 1)

enum {
	MAX_BODY = 1 << 20,          /* request body cap */
	MAX_HEADERS = 64 << 10,      /* request line + headers cap */
	LISTEN_BACKLOG = 1024,
	SPLIT_GAP_MS = 1,            /* gap between the pieces of a split event */
	SLUG_MAX = 40,
	QUOTE_MAX = 60,              /* bytes of the user message in the answer */
	MODEL_MAX = 256,             /* longest model name echoed in streams */
	ANSWER_MAX = 160,            /* prefix + QUOTE_MAX + suffix, with room */
	TRUNCATE_TOKENS = 2,         /* token events before the cut event */
	PAD_BLOCK = 1 << 20,         /* bytes of the shared padding block */
	PPM = 1000000,               /* fault_rate is kept in parts per million */
	MAX_INPUTS = 2048,           /* embedding inputs per request */
	MAX_EMBED_FLOATS = 1 << 20,  /* inputs x dims per request */
	DIMS_MAX = 4096,
};

enum mode {
	MODE_OK, MODE_FAIL, MODE_GARBAGE, MODE_TRUNCATE, MODE_RESET, MODE_HANG,
	MODE_STREAM_CLOSE, MODE_SPLIT, MODE_SLOW, MODE_CUT, MODE_HUGE,
	MODE_STALL, MODE_DROP, MODE_COUNT
};

static const char *const mode_names[MODE_COUNT] = {
	"ok", "fail", "garbage", "truncate", "reset", "hang", "stream_close",
	"split", "slow", "cut", "huge", "stall", "drop",
};

#define MODE_BIT(m) (1u << (m))
#define DEFAULT_FAULT_MIX                                                    \
	(MODE_BIT(MODE_SLOW) | MODE_BIT(MODE_FAIL) | MODE_BIT(MODE_RESET) |      \
	 MODE_BIT(MODE_GARBAGE) | MODE_BIT(MODE_CUT))

/* How to answer a request; see BEHAVIOUR KEYS. */
struct behaviour {
	int mode;
	int delay_ms;
	int status;
	int results;
	int dims;
	int token_delay_ms;
	int tokens;
	int slow_ms;
	int huge_mb;
	int fault_rate;         /* parts per million */
	unsigned fault_mix;     /* MODE_BIT()s */
};

/* The integer keys of struct behaviour, so that flags, path segments,
 * headers and /_control share one parser and one set of limits. */
static const struct knob {
	const char *key;
	int min, max;
	size_t off;
} knobs[] = {
	{"delay_ms", 0, 3600000, offsetof(struct behaviour, delay_ms)},
	{"status", 200, 599, offsetof(struct behaviour, status)},
	{"results", 0, 1000, offsetof(struct behaviour, results)},
	{"dims", 1, DIMS_MAX, offsetof(struct behaviour, dims)},
	{"token_delay_ms", 0, 60000, offsetof(struct behaviour, token_delay_ms)},
	{"tokens", 1, 1000, offsetof(struct behaviour, tokens)},
	{"slow_ms", 0, 3600000, offsetof(struct behaviour, slow_ms)},
	{"huge_mb", 1, 1024, offsetof(struct behaviour, huge_mb)},
};
#define N_KNOBS (sizeof knobs / sizeof knobs[0])

enum kind { K_SEARCH, K_CHAT, K_EMBED, K_HEALTH };

/* Endpoints subject to behaviour and counted in /stats by_path. */
static const struct route {
	const char *path;
	enum kind kind;
	enum evhttp_cmd_type method;
} routes[] = {
	{"/search", K_SEARCH, EVHTTP_REQ_GET},
	{"/v1/chat/completions", K_CHAT, EVHTTP_REQ_POST},
	{"/chat/completions", K_CHAT, EVHTTP_REQ_POST},
	{"/v1/embeddings", K_EMBED, EVHTTP_REQ_POST},
	{"/embeddings", K_EMBED, EVHTTP_REQ_POST},
	{"/healthz", K_HEALTH, EVHTTP_REQ_GET},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

struct stats {
	unsigned long long requests;
	unsigned long long by_path[N_ROUTES + 1]; /* last: "other" */
	unsigned long long by_mode[MODE_COUNT];
	unsigned long long faults, by_fault[MODE_COUNT];
	unsigned long long streams_started, streams_completed;
	unsigned long long streams_aborted, streams_cut;
	unsigned long long abandoned, resets, drops, cuts, stalls;
};

/* A parsed chat completion request, reduced to what the answer needs. */
struct chat {
	char model[MODEL_MAX + 1];
	char answer[ANSWER_MAX];
	size_t answer_len;
	int pieces;        /* pieces to send (after max_tokens) */
	int all_pieces;    /* pieces the whole answer has */
	int prompt_tokens;
	bool stream;
	bool include_usage;
};

/* What happens once the SSE event being sent has gone out. */
enum after { AFTER_NEXT, AFTER_END, AFTER_CUT, AFTER_STALL };

struct stream {
	struct chat chat;
	struct evbuffer *ev;    /* bytes of the current event not yet sent */
	unsigned long long id;
	long long created;
	int step;               /* next event: 0 role, 1..n pieces, then tail */
	unsigned split_count;   /* pieces sent so far, picks the piece size */
	enum after after;
};

/*
 * A request that is not answered within its request callback: delayed,
 * hanging, waiting to be reset or dropped, streaming, cut or stalled. It is
 * in g.pending and has our close callback on its connection until it ends,
 * so exactly one of three things frees it: the response finishes
 * (pending_detach), the client leaves (on_client_close), or fakeup shuts
 * down. ST_STREAM is any reply whose body is still being sent, SSE or a
 * body about to be cut; ST_STALL a started reply that sends nothing more.
 */
enum stage { ST_WAIT, ST_HANG, ST_STREAM, ST_STALL, ST_CLOSING };

struct pending {
	struct pending *prev, *next;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *timer;    /* delay, stream pacing, deferred close */
	struct behaviour b;
	enum kind kind;
	enum stage stage;
	bool sse;               /* the reply is an SSE stream */
	struct stream st;       /* SSE replies only */
};

static struct {
	struct event_base *base;
	struct evhttp *http;
	struct behaviour startup, global;
	struct evbuffer *body;  /* scratch for the reply being built; always
	                         * left empty, reused to avoid allocations */
	struct pending *pending;
	struct stats stats;
	unsigned long long hanging, active, next_id;
	uint64_t seed, rng;     /* startup seed, fault generator state */
} g;

/* The padding of mode huge: readable ASCII that needs no JSON escaping,
 * added to replies by reference so a huge body costs no copies. */
static char pad_block[PAD_BLOCK];

/* The answer is the user's words between these; the tail has 2, 3 and 4
 * byte UTF-8 characters on purpose (this file is UTF-8). */
static const char ANSWER_HEAD[] = "Fake answer about ";
static const char ANSWER_TAIL[] = " — café ∑ 🙂 [1].";

/* ---- small text helpers ------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates), or 0 if the bytes there are not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], cp, min;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Largest length <= max that does not split a character of valid UTF-8. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static size_t utf8_chars(const char *s, size_t n)
{
	size_t i, chars = 0;

	for (i = 0; i < n; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	return chars;
}

/* Byte offset of character number `chr` of valid UTF-8 s. */
static size_t utf8_offset(const char *s, size_t n, size_t chr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chr-- == 0)
			return i;
	return n;
}

/* Appends s as the inside of a JSON string. Invalid UTF-8 becomes U+FFFD,
 * so any query string still yields valid JSON. */
static void put_json_chars(struct evbuffer *o, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, len;
	char esc[8];

	while (i < n) {
		len = utf8_len(u + i, n - i);
		if (len > 1 || (len == 1 && u[i] >= 0x20 && u[i] != '"' &&
		                u[i] != '\\')) {
			i += len;
			continue;
		}
		evbuffer_add(o, s + run, i - run);
		if (len == 0)
			ADD_LIT(o, "\\ufffd");
		else if (u[i] == '"' || u[i] == '\\')
			evbuffer_add_printf(o, "\\%c", u[i]);
		else if (u[i] == '\n')
			ADD_LIT(o, "\\n");
		else {
			snprintf(esc, sizeof esc, "\\u%04x", u[i]);
			evbuffer_add(o, esc, 6);
		}
		run = ++i;
	}
	evbuffer_add(o, s + run, n - run);
}

static void put_json_str(struct evbuffer *o, const char *s, size_t n)
{
	ADD_LIT(o, "\"");
	put_json_chars(o, s, n);
	ADD_LIT(o, "\"");
}

static bool is_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Finds the next word at or after *pos; returns its length, 0 at the end. */
static size_t next_word(const char *s, size_t n, size_t *pos)
{
	size_t i = *pos, start;

	while (i < n && !is_word_byte((unsigned char)s[i]))
		i++;
	start = i;
	while (i < n && is_word_byte((unsigned char)s[i]))
		i++;
	*pos = start;
	return i - start;
}

static int count_words(const char *s, size_t n)
{
	size_t pos = 0, len;
	int words = 0;

	while ((len = next_word(s, n, &pos)) > 0) {
		words++;
		pos += len;
	}
	return words;
}

/* FNV-1a of the ASCII-lowercased bytes. */
static uint64_t hash_lower(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 1099511628211ULL;
	}
	return h;
}

/* Case-insensitive key comparison in which '-' and '_' are the same, so
 * "Delay-Ms", "delay-ms" and "delay_ms" all name one key. */
static bool key_eq(const char *s, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char a = s[i] == '-' ? '_' : s[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != key[i])
			return false;
	}
	return key[n] == '\0';
}

/* Strict decimal integer in [min, max]. */
static bool parse_int(const char *s, size_t n, int min, int max, int *out)
{
	long long v = 0;
	size_t i;

	if (n == 0 || n > 9)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = (int)v;
	return true;
}

/* A fraction in 0..1 written as digits with at most six decimals ("0.1",
 * "1", ".25"), in parts per million. */
static bool parse_fraction(const char *s, size_t n, int *ppm)
{
	long long whole = 0, frac = 0, scale = PPM;
	size_t i = 0, digits = 0;

	for (; i < n && s[i] >= '0' && s[i] <= '9' && i < 9; i++, digits++)
		whole = whole * 10 + (s[i] - '0');
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9' && scale > 1;
		     i++, digits++)
			frac += (s[i] - '0') * (scale /= 10);
	if (i != n || digits == 0 || whole * PPM + frac > PPM)
		return false;
	*ppm = (int)(whole * PPM + frac);
	return true;
}

static int find_mode(const char *s, size_t n);

/* A comma-separated list of mode names, as a set of MODE_BIT()s. */
static bool parse_mix(const char *s, size_t n, unsigned *mix, char *err,
                      size_t errsz)
{
	unsigned set = 0;
	size_t i = 0, len;
	int m;

	while (i <= n) {
		const char *comma = memchr(s + i, ',', n - i);
		len = comma ? (size_t)(comma - (s + i)) : n - i;
		if ((m = find_mode(s + i, len)) < 0) {
			snprintf(err, errsz, "fault_mix: unknown mode '%.*s'",
			         (int)len, s + i);
			return false;
		}
		set |= MODE_BIT(m);
		i += len + 1;
	}
	*mix = set;
	return true;
}

/* splitmix64: small, fast and good enough to spread faults evenly; what
 * matters here is that a seed replays the same draws. */
static uint64_t rng_next(void)
{
	uint64_t z = (g.rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The mode a random fault gives this request, or -1 for none. */
static int draw_fault(const struct behaviour *b)
{
	unsigned n = 0, k;
	int m;

	if (b->fault_rate == 0 || b->fault_mix == 0 ||
	    rng_next() % PPM >= (uint64_t)b->fault_rate)
		return -1;
	for (m = 0; m < MODE_COUNT; m++)
		n += (b->fault_mix & MODE_BIT(m)) != 0;
	k = (unsigned)(rng_next() % n);
	for (m = 0; m < MODE_COUNT; m++)
		if ((b->fault_mix & MODE_BIT(m)) && k-- == 0)
			break;
	return m;
}

/* ---- behaviour ---------------------------------------------------------- */

static int find_mode(const char *s, size_t n)
{
	int m;

	for (m = 0; m < MODE_COUNT; m++)
		if (key_eq(s, n, mode_names[m]))
			return m;
	return -1;
}

static const struct knob *find_knob(const char *s, size_t n)
{
	size_t k;

	for (k = 0; k < N_KNOBS; k++)
		if (key_eq(s, n, knobs[k].key))
			return &knobs[k];
	return NULL;
}

static bool knob_set(struct behaviour *b, const struct knob *k, long long v)
{
	if (v < k->min || v > k->max)
		return false;
	*(int *)((char *)b + k->off) = (int)v;
	return true;
}

/* Sets key=value given as text (flag, path segment, header). Returns false
 * with a message in err for an unknown key or a bad value. */
static bool behaviour_set(struct behaviour *b, const char *key, size_t klen,
                          const char *val, size_t vlen, char *err,
                          size_t errsz)
{
	const struct knob *k;
	int v;

	if (key_eq(key, klen, "mode")) {
		if ((v = find_mode(val, vlen)) >= 0) {
			b->mode = v;
			return true;
		}
		snprintf(err, errsz, "unknown mode '%.*s'", (int)vlen, val);
		return false;
	}
	if (key_eq(key, klen, "fault_rate")) {
		if (parse_fraction(val, vlen, &b->fault_rate))
			return true;
		snprintf(err, errsz, "fault_rate must be a number in 0..1 with "
		         "at most 6 decimals");
		return false;
	}
	if (key_eq(key, klen, "fault_mix"))
		return parse_mix(val, vlen, &b->fault_mix, err, errsz);
	if ((k = find_knob(key, klen)) == NULL) {
		snprintf(err, errsz, "unknown key '%.*s'", (int)klen, key);
		return false;
	}
	if (parse_int(val, vlen, k->min, k->max, &v) && knob_set(b, k, v))
		return true;
	snprintf(err, errsz, "%s must be an integer in %d..%d", k->key, k->min,
	         k->max);
	return false;
}

/* Applies the leading /@key=value segments of path to b. Returns the rest
 * of the path ("/" if nothing is left), or NULL with a message in err. */
static const char *strip_prefix(const char *path, struct behaviour *b,
                                char *err, size_t errsz)
{
	while (path[0] == '/' && path[1] == '@') {
		const char *seg = path + 2;
		size_t len = strcspn(seg, "/");
		const char *eq = memchr(seg, '=', len);

		if (eq == NULL) {
			snprintf(err, errsz, "bad prefix segment '/@%.*s'",
			         (int)len, seg);
			return NULL;
		}
		if (!behaviour_set(b, seg, (size_t)(eq - seg), eq + 1,
		                   len - (size_t)(eq - seg) - 1, err, errsz))
			return NULL;
		path = seg + len;
	}
	return path[0] ? path : "/";
}

/* Applies X-Fake-<key> request headers to b. */
static bool apply_headers(struct evhttp_request *req, struct behaviour *b,
                          char *err, size_t errsz)
{
	static const char prefix[] = "X-Fake-";
	const size_t plen = sizeof prefix - 1;
	struct evkeyval *h;

	TAILQ_FOREACH(h, evhttp_request_get_input_headers(req), next) {
		if (strncasecmp(h->key, prefix, plen) != 0)
			continue;
		if (!behaviour_set(b, h->key + plen, strlen(h->key + plen),
		                   h->value, strlen(h->value), err, errsz))
			return false;
	}
	return true;
}

static void timer_arm(struct pending *p, int ms);

/* Answers every request held in mode hang as in mode ok, from its timer
 * (not inside this /_control request's callback). */
static void release_hanging(void)
{
	struct pending *p;

	for (p = g.pending; p; p = p->next) {
		if (p->stage != ST_HANG)
			continue;
		p->stage = ST_WAIT;
		p->b.mode = MODE_OK;
		g.hanging--;
		timer_arm(p, 0);
	}
}

/* Applies one /_control key other than reset, reset_stats, release and seed
 * to b. */
static bool control_key(struct behaviour *b, const char *key, const json_t *v)
{
	const struct knob *k = find_knob(key, strlen(key));
	char err[160];
	int m;

	if (!strcmp(key, "mode") && json_is_string(v) &&
	    (m = find_mode(json_string_value(v), json_string_length(v))) >= 0) {
		b->mode = m;
		return true;
	}
	if (!strcmp(key, "fault_rate") && json_is_number(v) &&
	    json_number_value(v) >= 0 && json_number_value(v) <= 1) {
		b->fault_rate = (int)(json_number_value(v) * PPM + 0.5);
		return true;
	}
	if (!strcmp(key, "fault_mix") && json_is_string(v))
		return parse_mix(json_string_value(v), json_string_length(v),
		                 &b->fault_mix, err, sizeof err);
	return k && json_is_integer(v) && knob_set(b, k, json_integer_value(v));
}

/* Applies a /_control body to a copy of the global behaviour and commits it
 * only if the whole body is valid. */
static bool control_apply(json_t *root, char *err, size_t errsz)
{
	struct behaviour b = g.global;
	const json_t *reset = json_object_get(root, "reset");
	const json_t *reset_stats = json_object_get(root, "reset_stats");
	const json_t *release = json_object_get(root, "release");
	const json_t *seed = json_object_get(root, "seed");
	const char *key;
	json_t *v;

	if ((reset && !json_is_boolean(reset)) ||
	    (reset_stats && !json_is_boolean(reset_stats)) ||
	    (release && !json_is_boolean(release))) {
		snprintf(err, errsz, "reset, reset_stats and release must be "
		         "booleans");
		return false;
	}
	if (seed && (!json_is_integer(seed) || json_integer_value(seed) < 0)) {
		snprintf(err, errsz, "seed must be a non-negative integer");
		return false;
	}
	if (json_is_true(reset))
		b = g.startup;
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "reset") || !strcmp(key, "reset_stats") ||
		    !strcmp(key, "release") || !strcmp(key, "seed"))
			continue;
		if (!control_key(&b, key, v)) {
			snprintf(err, errsz, "bad or unknown key '%s'", key);
			return false;
		}
	}
	g.global = b;
	if (json_is_true(reset))
		g.rng = g.seed;
	if (seed)
		g.rng = (uint64_t)json_integer_value(seed);
	if (json_is_true(reset_stats))
		memset(&g.stats, 0, sizeof g.stats);
	if (json_is_true(release))
		release_hanging();
	return true;
}

/* ---- replies ------------------------------------------------------------ */

static void pending_detach(struct pending *p);

/* Sends g.body as the whole reply (only its first half with cut) and ends
 * p, if the request has one. */
static void send_body(struct evhttp_request *req, struct pending *p,
                      int status, const char *ctype, bool cut)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	size_t len = evbuffer_get_length(g.body);

	evbuffer_remove_buffer(g.body, out, cut ? len / 2 : len);
	evbuffer_drain(g.body, evbuffer_get_length(g.body));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "Content-Type", ctype);
	/* The request goes back to libevent, which frees it (and maybe the
	 * connection) once the reply is written: drop our close callback and
	 * state first. */
	if (p)
		pending_detach(p);
	evhttp_send_reply(req, status, NULL, NULL);
}

static void send_json(struct evhttp_request *req, struct pending *p,
                      int status, bool cut)
{
	send_body(req, p, status, "application/json", cut);
}

static void send_error(struct evhttp_request *req, struct pending *p,
                       int status, const char *type, const char *msg)
{
	ADD_LIT(g.body, "{\"error\":{\"message\":");
	put_json_str(g.body, msg, strlen(msg));
	evbuffer_add_printf(g.body, ",\"type\":\"%s\"}}", type);
	send_json(req, p, status, false);
}

static void send_bad_request(struct evhttp_request *req, struct pending *p,
                             const char *msg)
{
	send_error(req, p, 400, "invalid_request_error", msg);
}

/* Appends n bytes of padding, by reference to the shared block. */
static void put_pad(struct evbuffer *o, size_t n)
{
	size_t k;

	for (; n > 0; n -= k) {
		k = n < PAD_BLOCK ? n : PAD_BLOCK;
		evbuffer_add_reference(o, pad_block, k, NULL, NULL);
	}
}

/* Bytes of padding an endpoint's answer gets in mode b. */
static size_t pad_size(const struct behaviour *b)
{
	return b->mode == MODE_HUGE ? (size_t)b->huge_mb << 20 : 0;
}

static void on_cut_flushed(struct evhttp_connection *evcon, void *arg);

/* Promises g.body with its Content-Length and sends the first half of it;
 * then the connection is closed once that half is out (cut), or nothing
 * more happens until the client leaves (stall). p must exist. */
static void send_partial(struct evhttp_request *req, struct pending *p,
                         bool cut)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	size_t len = evbuffer_get_length(g.body);
	struct evbuffer *half = evbuffer_new();
	char clen[24];

	if (half == NULL) {
		evbuffer_drain(g.body, len);
		send_error(req, p, 500, "server_error", "out of memory");
		return;
	}
	evbuffer_remove_buffer(g.body, half, len / 2);
	evbuffer_drain(g.body, evbuffer_get_length(g.body));
	snprintf(clen, sizeof clen, "%zu", len);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Content-Length", clen);
	evhttp_send_reply_start(req, 200, NULL);
	if (cut) {
		p->stage = ST_STREAM;
		evhttp_send_reply_chunk_with_cb(req, half, on_cut_flushed, p);
	} else {
		p->stage = ST_STALL;
		g.stats.stalls++;
		evhttp_send_reply_chunk(req, half);
	}
	evbuffer_free(half);
}

/* Sends g.body, an endpoint's 200 answer, damaged as the mode says. */
static void send_answer(struct evhttp_request *req, struct pending *p,
                        const struct behaviour *b)
{
	switch (b->mode) {
	case MODE_GARBAGE:
		evbuffer_drain(g.body, evbuffer_get_length(g.body));
		ADD_LIT(g.body, "<html>not json</html>");
		break;
	case MODE_CUT:
	case MODE_STALL:
		send_partial(req, p, b->mode == MODE_CUT);
		return;
	}
	send_json(req, p, 200, b->mode == MODE_TRUNCATE);
}

/* ---- pending requests --------------------------------------------------- */

static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_client_close(struct evhttp_connection *evcon, void *arg);

/*
 * Once libevent has read a whole request it stops reading the connection,
 * so while we hold a request without having started the reply it would not
 * notice the client leaving. Reading with no read callback, exactly what
 * libevent itself does while it writes a reply, lets EOF reach evhttp's
 * error callback, which detaches the request from the connection and frees
 * the connection, calling our close callback. Bytes the client sends
 * meanwhile (a pipelined request) wait in the input buffer, where libevent
 * picks them up after the reply.
 */
static void watch_client_close(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	bufferevent_data_cb writecb;
	bufferevent_event_cb eventcb;
	void *arg;

	bufferevent_getcb(bev, NULL, &writecb, &eventcb, &arg);
	bufferevent_setcb(bev, NULL, writecb, eventcb, arg);
	bufferevent_enable(bev, EV_READ);
}

static struct pending *pending_new(struct evhttp_request *req,
                                   const struct behaviour *b, enum kind kind)
{
	struct pending *p = calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	if ((p->timer = evtimer_new(g.base, on_timer, p)) == NULL) {
		free(p);
		return NULL;
	}
	p->req = req;
	p->evcon = evhttp_request_get_connection(req);
	p->b = *b;
	p->kind = kind;
	p->stage = ST_WAIT;
	p->next = g.pending;
	if (g.pending)
		g.pending->prev = p;
	g.pending = p;
	g.active++;
	evhttp_connection_set_closecb(p->evcon, on_client_close, p);
	watch_client_close(p->evcon);
	return p;
}

/* Frees p and what it owns; the request and connection are not p's. */
static void pending_free(struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		g.pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (p->stage == ST_HANG)
		g.hanging--;
	g.active--;
	event_free(p->timer);
	if (p->st.ev)
		evbuffer_free(p->st.ev);
	free(p);
}

/* Ends p while its connection lives on: the request goes back to libevent. */
static void pending_detach(struct pending *p)
{
	evhttp_connection_set_closecb(p->evcon, NULL, NULL);
	pending_free(p);
}

/* The client left before the response was complete. */
static void pending_abandon(struct pending *p)
{
	if (p->stage == ST_CLOSING) {
		/* it was being cut anyway */
		if (p->sse)
			g.stats.streams_cut++;
		else
			g.stats.cuts++;
	} else {
		g.stats.abandoned++;
		if (p->sse)
			g.stats.streams_aborted++;
	}
	/* A request evhttp detached from its dying connection is ours to free;
	 * one still attached is freed with the connection. */
	if (evhttp_request_get_connection(p->req) == NULL)
		evhttp_request_free(p->req);
	pending_free(p);
}

static void on_client_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	pending_abandon(arg);
}

static void timer_arm(struct pending *p, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(p->timer, &tv);
}

/* Closes the connection without an answer and frees it: with a FIN
 * (drop), or aborted with an RST (reset). SO_LINGER {1, 0} makes the final
 * close() reset the connection, but evhttp_connection_free calls
 * shutdown(SHUT_WR) before closing, which sends a FIN first and clients
 * then see a clean EOF. Dissolving the connection with connect(AF_UNSPEC)
 * (see connect(2)) sends the RST at once and leaves nothing for shutdown to
 * send. Runs from p's timer, never inside the request callback, so
 * libevent is not in the middle of using the connection. */
static void reset_connection(struct pending *p, bool rst)
{
	struct evhttp_connection *evcon = p->evcon;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	evutil_socket_t fd = bufferevent_getfd(bev);
	struct linger lg = {1, 0};
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};

	if (rst)
		g.stats.resets++;
	else
		g.stats.drops++;
	pending_detach(p);
	if (rst && fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		connect(fd, &unspec, sizeof unspec);
	}
	evhttp_connection_free(evcon);
}

/* ---- search ------------------------------------------------------------- */

/* Lowercase ASCII words of q joined by '-', at most SLUG_MAX bytes; a q
 * without such words gets a hash so its URLs are still its own. */
static void make_slug(const char *q, char *slug)
{
	const char *s;
	size_t n = 0;
	bool dash = false;

	for (s = q; *s && n < SLUG_MAX; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x80 || !is_word_byte(c)) {
			dash = n > 0;
			continue;
		}
		if (dash && n + 2 > SLUG_MAX)
			break;
		if (dash)
			slug[n++] = '-';
		dash = false;
		slug[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	slug[n] = '\0';
	if (n == 0)
		snprintf(slug, SLUG_MAX + 1, "q-%08x",
		         (unsigned)(hash_lower(q, strlen(q)) & 0xffffffffu));
}

/* A SearxNG answer with n results; pad bytes of padding end the first
 * result's content. */
static void put_search(struct evbuffer *o, const char *q, int n, size_t pad)
{
	char slug[SLUG_MAX + 1];
	size_t qlen = strlen(q);
	int i;

	make_slug(q, slug);
	ADD_LIT(o, "{\"query\":");
	put_json_str(o, q, qlen);
	evbuffer_add_printf(o, ",\"number_of_results\":%d,\"results\":[", n);
	for (i = 1; i <= n; i++) {
		evbuffer_add_printf(o, "%s{\"url\":\"https://example.org/%s/%d\","
		                    "\"title\":\"Title %d about ",
		                    i > 1 ? "," : "", slug, i, i);
		put_json_chars(o, q, qlen);
		evbuffer_add_printf(o, "\",\"content\":\"Result %d is a fake "
		                    "page about ", i);
		put_json_chars(o, q, qlen);
		ADD_LIT(o, ". It explains ");
		put_json_chars(o, q, qlen);
		ADD_LIT(o, " for testing.");
		if (i == 1)
			put_pad(o, pad);
		evbuffer_add_printf(o, "\",\"engine\":\"fake\","
		                    "\"engines\":[\"fake\"],\"positions\":[%d],"
		                    "\"score\":%.6f,\"category\":\"general\"}",
		                    i, 1.0 / i);
	}
	evbuffer_add_printf(o, "],\"answers\":[],\"suggestions\":[],"
	                    "\"unresponsive_engines\":[]}");
}

static void serve_search(struct evhttp_request *req, struct pending *p,
                         const struct behaviour *b)
{
	const char *query =
	    evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params;
	const char *q, *format;

	if (evhttp_parse_query_str(query ? query : "", &params) != 0) {
		send_bad_request(req, p, "malformed query string");
		return;
	}
	q = evhttp_find_header(&params, "q");
	format = evhttp_find_header(&params, "format");
	if (q == NULL || *q == '\0')
		send_bad_request(req, p, "missing q");
	else if (format == NULL || strcmp(format, "json") != 0)
		send_error(req, p, 403, "forbidden", "format must be json");
	else {
		put_search(g.body, q, b->results, pad_size(b));
		send_answer(req, p, b);
	}
	evhttp_clear_headers(&params);
}

/* ---- chat completions --------------------------------------------------- */

/* Parses the request body as JSON; NULL on bad JSON. */
static json_t *load_body(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const unsigned char *data = evbuffer_pullup(in, -1);

	if (data == NULL)
		return NULL;
	return json_loadb((const char *)data, len, 0, NULL);
}

/* Iterates over the texts of a message content, which is a string or an
 * array of parts like {"type":"text","text":...}: returns the next one at
 * or after *i and moves *i past it, or NULL at the end. */
static const json_t *next_text(const json_t *content, size_t *i)
{
	const json_t *text;

	if (json_is_string(content))
		return (*i)++ == 0 ? content : NULL;
	while (*i < json_array_size(content)) {
		text = json_object_get(json_array_get(content, (*i)++), "text");
		if (json_is_string(text))
			return text;
	}
	return NULL;
}

/* Copies the start of a content's text into buf, at most cap bytes. */
static size_t content_text(const json_t *content, char *buf, size_t cap)
{
	const json_t *t;
	size_t i = 0, n, len = 0;

	while (len < cap && (t = next_text(content, &i)) != NULL) {
		n = json_string_length(t);
		n = n < cap - len ? n : cap - len;
		memcpy(buf + len, json_string_value(t), n);
		len += n;
	}
	return len;
}

static int content_words(const json_t *content)
{
	const json_t *t;
	size_t i = 0;
	int words = 0;

	while ((t = next_text(content, &i)) != NULL)
		words += count_words(json_string_value(t), json_string_length(t));
	return words;
}

/* Checks "messages", counts prompt words and copies the start of the last
 * user message into quote. Returns an error message or NULL. */
static const char *parse_messages(const json_t *msgs, struct chat *c,
                                  char *quote, size_t *qlen)
{
	const json_t *m, *content, *role;
	size_t i;

	if (!json_is_array(msgs) || json_array_size(msgs) == 0)
		return "messages must be a non-empty array";
	json_array_foreach(msgs, i, m) {
		role = json_object_get(m, "role");
		content = json_object_get(m, "content");
		if (!json_is_string(role))
			return "every message needs a string role";
		if (!json_is_string(content) && !json_is_array(content) &&
		    !json_is_null(content))
			return "message content must be a string or an array";
		c->prompt_tokens += content_words(content);
		/* QUOTE_MAX + 3 bytes, so utf8_cut can see where the
		 * character at QUOTE_MAX starts. */
		if (strcmp(json_string_value(role), "user") == 0)
			*qlen = content_text(content, quote, QUOTE_MAX + 3);
	}
	*qlen = utf8_cut(quote, *qlen, QUOTE_MAX);
	return NULL;
}

/* Checks the optional fields. Returns an error message or NULL. */
static const char *parse_options(const json_t *root, struct chat *c,
                                 int tokens)
{
	const json_t *stream = json_object_get(root, "stream");
	const json_t *opts = json_object_get(root, "stream_options");
	const json_t *max = json_object_get(root, "max_tokens");
	const json_t *temp = json_object_get(root, "temperature");
	size_t chars = utf8_chars(c->answer, c->answer_len);

	if (stream && !json_is_boolean(stream))
		return "stream must be a boolean";
	if (opts && !json_is_object(opts) && !json_is_null(opts))
		return "stream_options must be an object";
	if (max && !json_is_null(max) &&
	    (!json_is_integer(max) || json_integer_value(max) < 1))
		return "max_tokens must be a positive integer";
	if (temp && !json_is_null(temp) &&
	    (!json_is_number(temp) || json_number_value(temp) < 0 ||
	     json_number_value(temp) > 2))
		return "temperature must be a number in 0..2";
	c->stream = json_is_true(stream);
	c->include_usage = json_is_true(json_object_get(opts, "include_usage"));
	c->all_pieces = (size_t)tokens < chars ? tokens : (int)chars;
	c->pieces = c->all_pieces;
	if (json_is_integer(max) && json_integer_value(max) < c->pieces)
		c->pieces = (int)json_integer_value(max);
	return NULL;
}

static const char *parse_chat(const json_t *root, struct chat *c, int tokens)
{
	const json_t *model = json_object_get(root, "model");
	char quote[QUOTE_MAX + 3];
	size_t qlen = 0, mlen;
	const char *err;

	if (!json_is_object(root))
		return "body must be a JSON object";
	if (!json_is_string(model) || json_string_length(model) == 0)
		return "you must provide a model parameter";
	mlen = json_string_length(model);
	mlen = utf8_cut(json_string_value(model), mlen, MODEL_MAX);
	memcpy(c->model, json_string_value(model), mlen);
	c->model[mlen] = '\0';
	if ((err = parse_messages(json_object_get(root, "messages"), c, quote,
	                          &qlen)) != NULL)
		return err;
	c->answer_len = 0;
	memcpy(c->answer, ANSWER_HEAD, sizeof ANSWER_HEAD - 1);
	c->answer_len += sizeof ANSWER_HEAD - 1;
	memcpy(c->answer + c->answer_len, quote, qlen);
	c->answer_len += qlen;
	memcpy(c->answer + c->answer_len, ANSWER_TAIL, sizeof ANSWER_TAIL - 1);
	c->answer_len += sizeof ANSWER_TAIL - 1;
	return parse_options(root, c, tokens);
}

/* Byte range of piece k: the answer's characters dealt evenly over
 * all_pieces, so every piece is non-empty and ends on a UTF-8 boundary. */
static void piece_span(const struct chat *c, int k, size_t *start,
                       size_t *end)
{
	size_t chars = utf8_chars(c->answer, c->answer_len);
	size_t n = (size_t)c->all_pieces, i = (size_t)k;

	*start = utf8_offset(c->answer, c->answer_len, i * chars / n);
	*end = utf8_offset(c->answer, c->answer_len, (i + 1) * chars / n);
}

static const char *finish_reason(const struct chat *c)
{
	return c->pieces < c->all_pieces ? "length" : "stop";
}

static void put_usage(struct evbuffer *o, const struct chat *c)
{
	evbuffer_add_printf(o, "\"usage\":{\"prompt_tokens\":%d,"
	                    "\"completion_tokens\":%d,\"total_tokens\":%d}",
	                    c->prompt_tokens, c->pieces,
	                    c->prompt_tokens + c->pieces);
}

/* A whole chat completion; pad bytes of padding end the message. */
static void put_completion(struct evbuffer *o, const struct chat *c,
                           size_t pad)
{
	size_t start, end;

	piece_span(c, c->pieces - 1, &start, &end);
	evbuffer_add_printf(o, "{\"id\":\"chatcmpl-fake-%llu\",\"object\":"
	                    "\"chat.completion\",\"created\":%lld,\"model\":",
	                    ++g.next_id, (long long)time(NULL));
	put_json_str(o, c->model, strlen(c->model));
	ADD_LIT(o, ",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	             "\"assistant\",\"content\":\"");
	put_json_chars(o, c->answer, end);
	put_pad(o, pad);
	ADD_LIT(o, "\"");
	evbuffer_add_printf(o, "},\"logprobs\":null,\"finish_reason\":\"%s\"}],",
	                    finish_reason(c));
	put_usage(o, c);
	ADD_LIT(o, "}");
}

static void stream_begin(struct evhttp_request *req, struct pending *p,
                         const struct behaviour *b, const struct chat *c);

static void serve_chat(struct evhttp_request *req, struct pending *p,
                       const struct behaviour *b)
{
	json_t *root = load_body(req);
	struct chat c = {.prompt_tokens = 0};
	const char *err;

	if (root == NULL) {
		send_bad_request(req, p, "request body is not valid JSON");
		return;
	}
	err = parse_chat(root, &c, b->tokens);
	json_decref(root);
	if (err)
		send_bad_request(req, p, err);
	else if (c.stream)
		stream_begin(req, p, b, &c);
	else {
		put_completion(g.body, &c, pad_size(b));
		send_answer(req, p, b);
	}
}

/* ---- chat streaming ----------------------------------------------------- */

static void put_chunk_head(struct evbuffer *o, const struct stream *st)
{
	evbuffer_add_printf(o, "data: {\"id\":\"chatcmpl-fake-%llu\",\"object\":"
	                    "\"chat.completion.chunk\",\"created\":%lld,"
	                    "\"model\":", st->id, st->created);
	put_json_str(o, st->chat.model, strlen(st->chat.model));
	ADD_LIT(o, ",\"choices\":");
}

/* Builds SSE event number `step` into st->ev and sets st->after; pad bytes
 * of padding end the first token's text. */
static void build_event(struct stream *st, int step, size_t pad)
{
	const struct chat *c = &st->chat;
	struct evbuffer *o = st->ev;
	size_t start, end;

	st->after = AFTER_NEXT;
	if (step > c->pieces + 1 + c->include_usage) {
		ADD_LIT(o, "data: [DONE]\n\n");
		st->after = AFTER_END;
		return;
	}
	put_chunk_head(o, st);
	if (step == 0) {
		evbuffer_add_printf(o, "[{\"index\":0,\"delta\":{\"role\":"
		                    "\"assistant\"},\"finish_reason\":null}]");
	} else if (step <= c->pieces) {
		piece_span(c, step - 1, &start, &end);
		ADD_LIT(o, "[{\"index\":0,\"delta\":{\"content\":\"");
		put_json_chars(o, c->answer + start, end - start);
		if (step == 1)
			put_pad(o, pad);
		evbuffer_add_printf(o, "\"},\"finish_reason\":null}]");
	} else if (step == c->pieces + 1) {
		evbuffer_add_printf(o, "[{\"index\":0,\"delta\":{},"
		                    "\"finish_reason\":\"%s\"}]", finish_reason(c));
	} else {
		ADD_LIT(o, "[],");
		put_usage(o, c);
	}
	ADD_LIT(o, "}\n\n");
}

/* Keeps the first half of st->ev: a data line cut inside its JSON. */
static void cut_event(struct stream *st)
{
	size_t half = evbuffer_get_length(st->ev) / 2;

	evbuffer_remove_buffer(st->ev, g.body, half);
	evbuffer_drain(st->ev, evbuffer_get_length(st->ev));
	evbuffer_add_buffer(st->ev, g.body);
}

/* Builds the next event, applying the modes that damage a stream. */
static void next_event(struct pending *p)
{
	struct stream *st = &p->st;
	int step = st->step++;
	int cut_at = st->chat.pieces < TRUNCATE_TOKENS ? st->chat.pieces
	                                               : TRUNCATE_TOKENS;

	build_event(st, step, pad_size(&p->b));
	switch (p->b.mode) {
	case MODE_STREAM_CLOSE:
		if (step == st->chat.pieces / 2)
			st->after = AFTER_CUT;
		break;
	case MODE_TRUNCATE:
	case MODE_CUT:
		if (step == 1 + cut_at) {
			cut_event(st);
			st->after = AFTER_CUT;
		}
		break;
	case MODE_GARBAGE:
		if (step == 1) {
			evbuffer_drain(st->ev, evbuffer_get_length(st->ev));
			ADD_LIT(st->ev, "data: <html>not json</html>\n\n");
		}
		break;
	case MODE_STALL:
		if (step == cut_at)
			st->after = AFTER_STALL;
		break;
	}
}

/* The last bytes before a deliberate close have been written: close the
 * connection from a timer, outside libevent's write callback. */
static void on_cut_flushed(struct evhttp_connection *evcon, void *arg)
{
	struct pending *p = arg;

	(void)evcon;
	if (p->stage == ST_STREAM) {
		p->stage = ST_CLOSING;
		timer_arm(p, 0);
	}
}

/* Closes the connection in the middle of the reply (FIN). */
static void stream_cut(struct pending *p)
{
	struct evhttp_connection *evcon = p->evcon;

	if (p->sse)
		g.stats.streams_cut++;
	else
		g.stats.cuts++;
	pending_detach(p);
	evhttp_connection_free(evcon);
}

static void stream_end(struct pending *p)
{
	struct evhttp_request *req = p->req;

	g.stats.streams_completed++;
	pending_detach(p);
	evhttp_send_reply_end(req);
}

/* Sends the next piece of the stream and schedules the one after. */
static void stream_tick(struct pending *p)
{
	struct stream *st = &p->st;
	size_t left, n;

	/* Before each chunk, make sure the client is still there. Our close
	 * callback normally ends p as soon as it leaves; this also covers a
	 * request libevent detached from its connection without calling it. */
	if (evhttp_request_get_connection(p->req) == NULL) {
		pending_abandon(p);
		return;
	}
	if (evbuffer_get_length(st->ev) == 0)
		next_event(p);
	left = evbuffer_get_length(st->ev);
	n = p->b.mode == MODE_SPLIT ? 1 + st->split_count++ % 3 : left;
	evbuffer_remove_buffer(st->ev, g.body, n < left ? n : left);
	left = evbuffer_get_length(st->ev);
	if (left == 0 && st->after == AFTER_CUT) {
		evhttp_send_reply_chunk_with_cb(p->req, g.body, on_cut_flushed, p);
		return;
	}
	evhttp_send_reply_chunk(p->req, g.body);
	if (left > 0) {
		timer_arm(p, SPLIT_GAP_MS);
	} else if (st->after == AFTER_END) {
		stream_end(p);
	} else if (st->after == AFTER_STALL) {
		p->stage = ST_STALL;
		g.stats.stalls++;
	} else {
		timer_arm(p, p->b.token_delay_ms);
	}
}

/* Small SSE writes must leave at once: with Nagle's algorithm they would
 * wait for the client's delayed ACKs and be merged. */
static void set_nodelay(struct evhttp_connection *evcon)
{
	evutil_socket_t fd =
	    bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	int one = 1;

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void stream_begin(struct evhttp_request *req, struct pending *p,
                         const struct behaviour *b, const struct chat *c)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (p == NULL && (p = pending_new(req, b, K_CHAT)) == NULL)
		goto fail;
	if ((p->st.ev = evbuffer_new()) == NULL)
		goto fail;
	p->stage = ST_STREAM;
	p->sse = true;
	p->st.chat = *c;
	p->st.id = ++g.next_id;
	p->st.created = (long long)time(NULL);
	g.stats.streams_started++;
	set_nodelay(p->evcon);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_send_reply_start(req, 200, NULL);
	stream_tick(p);
	return;
fail:
	send_error(req, p, 500, "server_error", "out of memory");
}

/* ---- embeddings --------------------------------------------------------- */

/* Square root by Newton's method, as the build links no libm. For x >= 1,
 * starting from x the iterates decrease monotonically to sqrt(x). */
static double sqrt_newton(double x)
{
	double y = x, next;

	while ((next = 0.5 * (y + x / y)) < y)
		y = next;
	return y;
}

static void put_vector(struct evbuffer *o, const char *s, size_t n,
                       int dims)
{
	double v[DIMS_MAX], norm2 = 0, norm;
	size_t pos = 0, len;
	int i;

	for (i = 0; i < dims; i++)
		v[i] = 0;
	while ((len = next_word(s, n, &pos)) > 0) {
		uint64_t h = hash_lower(s + pos, len);
		v[h % (uint64_t)dims] += (h >> 63) ? -1.0 : 1.0;
		pos += len;
	}
	for (i = 0; i < dims; i++)
		norm2 += v[i] * v[i];
	if (norm2 == 0) {
		v[0] = 1;
		norm2 = 1;
	}
	norm = sqrt_newton(norm2);
	ADD_LIT(o, "[");
	for (i = 0; i < dims; i++)
		evbuffer_add_printf(o, "%s%.7f", i ? "," : "", v[i] / norm);
	ADD_LIT(o, "]");
}

/* Checks "dimensions" and "encoding_format". Returns an error or NULL. */
static const char *parse_embed_options(const json_t *root, int *dims)
{
	const json_t *d = json_object_get(root, "dimensions");
	const json_t *fmt = json_object_get(root, "encoding_format");

	if (fmt && !json_is_null(fmt) &&
	    !(json_is_string(fmt) && !strcmp(json_string_value(fmt), "float")))
		return "encoding_format must be \"float\"";
	if (d && !json_is_null(d)) {
		if (!json_is_integer(d) || json_integer_value(d) < 1 ||
		    json_integer_value(d) > DIMS_MAX)
			return "dimensions must be an integer in 1..4096";
		*dims = (int)json_integer_value(d);
	}
	return NULL;
}

/* Checks an embeddings request; on success *inputs is its input as an
 * array (a new reference, NULL if out of memory) and *dims the dimensions.
 * Returns an error message or NULL. */
static const char *parse_embed(const json_t *root, int *dims,
                               json_t **inputs)
{
	json_t *input = json_object_get(root, "input");
	size_t i, count = json_is_string(input) ? 1 : json_array_size(input);
	const json_t *s;
	const char *err;

	if (!json_is_object(root))
		return "body must be a JSON object";
	if (!json_is_string(json_object_get(root, "model")))
		return "you must provide a model parameter";
	if ((err = parse_embed_options(root, dims)) != NULL)
		return err;
	if (count == 0 || count > MAX_INPUTS)
		return "input must be a string or an array of 1..2048 strings";
	if (count * (size_t)*dims > MAX_EMBED_FLOATS)
		return "too many floats: inputs x dimensions must be <= 2^20";
	json_array_foreach(input, i, s)
		if (!json_is_string(s))
			return "input must be a string or an array of strings";
	*inputs = json_is_string(input) ? json_pack("[O]", input)
	                                : json_incref(input);
	return NULL;
}

/* An embeddings answer; pad bytes of padding end the model name. */
static void put_embeddings(struct evbuffer *o, const json_t *model,
                           const json_t *inputs, int dims, size_t pad)
{
	const json_t *s;
	size_t i;
	int words = 0;

	ADD_LIT(o, "{\"object\":\"list\",\"data\":[");
	json_array_foreach(inputs, i, s) {
		evbuffer_add_printf(o, "%s{\"object\":\"embedding\",\"index\":%zu,"
		                    "\"embedding\":", i ? "," : "", i);
		put_vector(o, json_string_value(s), json_string_length(s), dims);
		ADD_LIT(o, "}");
		words += count_words(json_string_value(s), json_string_length(s));
	}
	ADD_LIT(o, "],\"model\":\"");
	put_json_chars(o, json_string_value(model), json_string_length(model));
	put_pad(o, pad);
	evbuffer_add_printf(o, "\",\"usage\":{\"prompt_tokens\":%d,"
	                    "\"total_tokens\":%d}}", words, words);
}

static void serve_embed(struct evhttp_request *req, struct pending *p,
                        const struct behaviour *b)
{
	json_t *root = load_body(req), *inputs = NULL;
	int dims = b->dims;
	const char *err;

	if (root == NULL) {
		send_bad_request(req, p, "request body is not valid JSON");
		return;
	}
	if ((err = parse_embed(root, &dims, &inputs)) != NULL)
		send_bad_request(req, p, err);
	else if (inputs == NULL)
		send_error(req, p, 500, "server_error", "out of memory");
	else {
		put_embeddings(g.body, json_object_get(root, "model"), inputs,
		               dims, pad_size(b));
		send_answer(req, p, b);
	}
	json_decref(inputs);
	json_decref(root);
}

/* ---- dispatch ----------------------------------------------------------- */

/* Answers req now that any delay is over; p is its pending state, or NULL
 * when answering from the request callback. */
static void respond(struct evhttp_request *req, struct pending *p,
                    const struct behaviour *beh, enum kind kind)
{
	const struct behaviour b = *beh; /* beh may live in p, freed below */

	/* start() gives every mode that needs one a pending state. */
	switch (b.mode) {
	case MODE_FAIL:
		send_error(req, p, b.status, "server_error", "fake failure");
		return;
	case MODE_RESET:
	case MODE_DROP:
		reset_connection(p, b.mode == MODE_RESET);
		return;
	case MODE_HANG:
		p->stage = ST_HANG;
		g.hanging++;
		return;
	}
	switch (kind) {
	case K_SEARCH:
		serve_search(req, p, &b);
		break;
	case K_CHAT:
		serve_chat(req, p, &b);
		break;
	case K_EMBED:
		serve_embed(req, p, &b);
		break;
	case K_HEALTH:
		ADD_LIT(g.body, "{\"ok\":true");
		if (pad_size(&b) > 0) {
			ADD_LIT(g.body, ",\"padding\":\"");
			put_pad(g.body, pad_size(&b));
			ADD_LIT(g.body, "\"");
		}
		ADD_LIT(g.body, "}");
		send_answer(req, p, &b);
		break;
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	switch (p->stage) {
	case ST_WAIT:
		respond(p->req, p, &p->b, p->kind);
		break;
	case ST_STREAM:
		stream_tick(p);
		break;
	case ST_CLOSING:
		stream_cut(p);
		break;
	case ST_HANG:
	case ST_STALL:
		break;
	}
}

/* Answers at once, or holds the request: a delay, a hang, a reset or drop
 * (which must not run inside the request callback), and the replies that
 * outlive it (cut, stall) all wait for p's timer. */
static void start(struct evhttp_request *req, const struct behaviour *b,
                  enum kind kind)
{
	int wait = b->delay_ms + (b->mode == MODE_SLOW ? b->slow_ms : 0);
	struct pending *p;

	if (wait == 0 && b->mode != MODE_RESET && b->mode != MODE_DROP &&
	    b->mode != MODE_HANG && b->mode != MODE_CUT &&
	    b->mode != MODE_STALL) {
		respond(req, NULL, b, kind);
		return;
	}
	if ((p = pending_new(req, b, kind)) == NULL) {
		send_error(req, NULL, 500, "server_error", "out of memory");
		return;
	}
	timer_arm(p, wait);
}

static void serve_stats(struct evhttp_request *req)
{
	const struct stats *s = &g.stats;
	struct evbuffer *o = g.body;
	size_t i;

	evbuffer_add_printf(o, "{\"requests\":%llu,\"by_path\":{", s->requests);
	for (i = 0; i < N_ROUTES; i++)
		evbuffer_add_printf(o, "\"%s\":%llu,", routes[i].path,
		                    s->by_path[i]);
	evbuffer_add_printf(o, "\"other\":%llu},\"by_mode\":{",
	                    s->by_path[N_ROUTES]);
	for (i = 0; i < MODE_COUNT; i++)
		evbuffer_add_printf(o, "%s\"%s\":%llu", i ? "," : "",
		                    mode_names[i], s->by_mode[i]);
	evbuffer_add_printf(o, "},\"faults\":%llu,\"by_fault\":{", s->faults);
	for (i = 0; i < MODE_COUNT; i++)
		evbuffer_add_printf(o, "%s\"%s\":%llu", i ? "," : "",
		                    mode_names[i], s->by_fault[i]);
	evbuffer_add_printf(o, "},\"streams_started\":%llu,"
	                    "\"streams_completed\":%llu,\"streams_aborted\":%llu,"
	                    "\"streams_cut\":%llu,\"abandoned\":%llu,"
	                    "\"resets\":%llu,\"drops\":%llu,\"cuts\":%llu,"
	                    "\"stalls\":%llu,\"hanging\":%llu,\"active\":%llu}",
	                    s->streams_started, s->streams_completed,
	                    s->streams_aborted, s->streams_cut, s->abandoned,
	                    s->resets, s->drops, s->cuts, s->stalls, g.hanging,
	                    g.active);
	send_json(req, NULL, 200, false);
}

static void put_behaviour(struct evbuffer *o, const struct behaviour *b)
{
	const char *sep = "";
	size_t k;
	int m;

	evbuffer_add_printf(o, "{\"mode\":\"%s\"", mode_names[b->mode]);
	for (k = 0; k < N_KNOBS; k++)
		evbuffer_add_printf(o, ",\"%s\":%d", knobs[k].key,
		                    *(const int *)((const char *)b + knobs[k].off));
	evbuffer_add_printf(o, ",\"fault_rate\":%d.%06d,\"fault_mix\":\"",
	                    b->fault_rate / PPM, b->fault_rate % PPM);
	for (m = 0; m < MODE_COUNT; m++)
		if (b->fault_mix & MODE_BIT(m)) {
			evbuffer_add_printf(o, "%s%s", sep, mode_names[m]);
			sep = ",";
		}
	ADD_LIT(o, "\"}");
}

static void serve_control(struct evhttp_request *req)
{
	char err[160];
	json_t *root;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		put_behaviour(g.body, &g.global);
		send_json(req, NULL, 200, false);
		return;
	}
	root = load_body(req);
	if (!json_is_object(root))
		send_bad_request(req, NULL, "body must be a JSON object");
	else if (!control_apply(root, err, sizeof err))
		send_bad_request(req, NULL, err);
	else {
		ADD_LIT(g.body, "{\"ok\":true}");
		send_json(req, NULL, 200, false);
	}
	json_decref(root);
}

static void send_method_not_allowed(struct evhttp_request *req,
                                    const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	                  allow);
	send_error(req, NULL, 405, "invalid_request_error",
	           "method not allowed");
}

/* Control-plane paths: not counted, no behaviour. Returns false if path is
 * not one of them. */
static bool serve_control_plane(struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (strcmp(path, "/stats") == 0) {
		if (cmd == EVHTTP_REQ_GET)
			serve_stats(req);
		else
			send_method_not_allowed(req, "GET");
		return true;
	}
	if (strcmp(path, "/_control") == 0) {
		if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_POST)
			serve_control(req);
		else
			send_method_not_allowed(req, "GET, POST");
		return true;
	}
	return false;
}

static const struct route *find_route(const char *path)
{
	size_t i;

	for (i = 0; i < N_ROUTES; i++)
		if (strcmp(path, routes[i].path) == 0)
			return &routes[i];
	return NULL;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct behaviour b = g.global;
	const struct route *r = NULL;
	char err[160];

	(void)arg;
	if (path == NULL) {
		send_bad_request(req, NULL, "bad request URI");
		return;
	}
	path = strip_prefix(path, &b, err, sizeof err);
	if (path && serve_control_plane(req, path))
		return;
	g.stats.requests++;
	if (path)
		r = find_route(path);
	g.stats.by_path[r ? (size_t)(r - routes) : N_ROUTES]++;
	if (path == NULL)
		send_bad_request(req, NULL, err);
	else if (r == NULL)
		send_error(req, NULL, 404, "invalid_request_error", "not found");
	else if (evhttp_request_get_command(req) != r->method)
		send_method_not_allowed(req, r->method == EVHTTP_REQ_GET ? "GET"
		                                                          : "POST");
	else if (!apply_headers(req, &b, err, sizeof err))
		send_bad_request(req, NULL, err);
	else {
		int fault = b.mode == MODE_OK && r->kind != K_HEALTH
		                ? draw_fault(&b) : -1;

		if (fault >= 0) {
			b.mode = fault;
			g.stats.faults++;
			g.stats.by_fault[fault]++;
		}
		g.stats.by_mode[b.mode]++;
		start(req, &b, r->kind);
	}
}

/* ---- startup and shutdown ----------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: fakeup [--listen HOST:PORT] [--mode MODE] [--delay-ms N]\n"
	        "              [--status N] [--results N] [--dims N]\n"
	        "              [--token-delay-ms N] [--tokens N] [--slow-ms N]\n"
	        "              [--huge-mb N] [--fault-rate X] [--fault-mix LIST]\n"
	        "              [--seed N] [--help]\n"
	        "Fake SearxNG / OpenAI chat / OpenAI embeddings upstream for\n"
	        "ragd tests. HOST must be a loopback address (default\n"
	        "127.0.0.1:0). MODE: ok slow fail garbage truncate cut huge\n"
	        "stall reset drop hang stream_close split. --fault-rate X gives\n"
	        "that share of requests a mode drawn from --fault-mix (modes,\n"
	        "comma-separated), seeded by --seed. See the comment at the top\n"
	        "of fakeup.c.\n");
}

/* Splits HOST:PORT, accepting only loopback hosts. */
static bool parse_listen(const char *arg, char *host, size_t hostsz,
                         int *port)
{
	const char *colon = strrchr(arg, ':');
	size_t hlen = colon ? (size_t)(colon - arg) : 0;
	struct in_addr a4;
	struct in6_addr a6;

	if (colon == NULL || hlen == 0 || hlen >= hostsz ||
	    !parse_int(colon + 1, strlen(colon + 1), 0, 65535, port))
		return false;
	if (arg[0] == '[' && arg[hlen - 1] == ']') {
		arg++;
		hlen -= 2;
	}
	memcpy(host, arg, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, hostsz, "127.0.0.1");
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 &&
	       IN6_IS_ADDR_LOOPBACK(&a6);
}

/* Strict decimal uint64. */
static bool parse_seed(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* Parses the command line into g.startup and host/port; false on error. */
static bool parse_args(int argc, char **argv, char *host, size_t hostsz,
                       int *port)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"mode", required_argument, NULL, 'k'},
		{"delay-ms", required_argument, NULL, 'k'},
		{"status", required_argument, NULL, 'k'},
		{"results", required_argument, NULL, 'k'},
		{"dims", required_argument, NULL, 'k'},
		{"token-delay-ms", required_argument, NULL, 'k'},
		{"tokens", required_argument, NULL, 'k'},
		{"slow-ms", required_argument, NULL, 'k'},
		{"huge-mb", required_argument, NULL, 'k'},
		{"fault-rate", required_argument, NULL, 'k'},
		{"fault-mix", required_argument, NULL, 'k'},
		{"seed", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	char err[160];
	int c, idx;

	while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == 'l' && !parse_listen(optarg, host, hostsz, port)) {
			fprintf(stderr, "fakeup: --listen wants a loopback "
			        "HOST:PORT, got '%s'\n", optarg);
			return false;
		}
		if (c == 'k' &&
		    !behaviour_set(&g.startup, opts[idx].name,
		                   strlen(opts[idx].name), optarg, strlen(optarg),
		                   err, sizeof err)) {
			fprintf(stderr, "fakeup: --%s: %s\n", opts[idx].name, err);
			return false;
		}
		if (c == 's' && !parse_seed(optarg, &g.seed)) {
			fprintf(stderr, "fakeup: --seed wants an integer in "
			        "0..2^64-1, got '%s'\n", optarg);
			return false;
		}
		if (c == '?')
			return false;
	}
	if (optind < argc) {
		fprintf(stderr, "fakeup: unexpected argument '%s'\n", argv[optind]);
		return false;
	}
	return true;
}

static void fill_pad(void)
{
	static const char words[] = "padding ";
	size_t i;

	for (i = 0; i < PAD_BLOCK; i++)
		pad_block[i] = words[i % (sizeof words - 1)];
}

/* Prints the "listening" line with the port the OS really bound. */
static bool announce(struct evhttp_bound_socket *bound)
{
	evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char ip[INET6_ADDRSTRLEN];
	const void *addr;
	int port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		addr = &s6->sin6_addr;
		port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		addr = &s4->sin_addr;
		port = ntohs(s4->sin_port);
	}
	if (inet_ntop(ss.ss_family, addr, ip, sizeof ip) == NULL)
		return false;
	printf(ss.ss_family == AF_INET6 ? "fakeup listening on [%s]:%d\n"
	                                : "fakeup listening on %s:%d\n",
	       ip, port);
	return fflush(stdout) == 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

/* Ends every held request. Their requests stay with their connections,
 * which evhttp_free then frees. */
static void free_pending(void)
{
	while (g.pending)
		pending_detach(g.pending);
}

/* Split mode paces 1 ms timers; libevent's default coarse monotonic clock
 * ticks once per jiffy (4 ms) and would stretch every gap to that. */
static struct event_base *new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (cfg && event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		base = event_base_new_with_config(cfg);
	if (cfg)
		event_config_free(cfg);
	return base;
}

static bool setup_http(const char *host, int port)
{
	struct evhttp_bound_socket *bound;

	if ((g.http = evhttp_new(g.base)) == NULL)
		return false;
	evhttp_set_max_body_size(g.http, MAX_BODY);
	evhttp_set_max_headers_size(g.http, MAX_HEADERS);
	/* Every method reaches on_request, so wrong ones get our 405. */
	evhttp_set_allowed_methods(g.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(g.http, on_request, NULL);
	bound = evhttp_bind_socket_with_handle(g.http, host, (ev_uint16_t)port);
	if (bound == NULL) {
		fprintf(stderr, "fakeup: cannot listen on %s:%d: %s\n", host, port,
		        strerror(errno));
		return false;
	}
	/* evhttp listens with a backlog of 128; a benchmark opening many
	 * connections at once should not see SYN retries. */
	listen(evhttp_bound_socket_get_fd(bound), LISTEN_BACKLOG);
	return announce(bound);
}

int main(int argc, char **argv)
{
	char host[INET6_ADDRSTRLEN + 3] = "127.0.0.1";
	int port = 0, rc = 1;
	struct event *sigterm = NULL, *sigint = NULL;

	g.startup = (struct behaviour){
		.mode = MODE_OK, .status = 503, .results = 5, .dims = 64,
		.tokens = 12, .slow_ms = 10000, .huge_mb = 64,
		.fault_mix = DEFAULT_FAULT_MIX,
	};
	g.seed = 1;
	if (!parse_args(argc, argv, host, sizeof host, &port))
		return 2;
	g.global = g.startup;
	g.rng = g.seed;
	fill_pad();
	/* A client that vanishes mid-reply must cost a write error, not us. */
	signal(SIGPIPE, SIG_IGN);
	if ((g.base = new_base()) == NULL || (g.body = evbuffer_new()) == NULL)
		goto done;
	sigterm = evsignal_new(g.base, SIGTERM, on_signal, g.base);
	sigint = evsignal_new(g.base, SIGINT, on_signal, g.base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL) || !setup_http(host, port))
		goto done;
	rc = event_base_dispatch(g.base) == -1;
done:
	free_pending();
	if (g.http)
		evhttp_free(g.http);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (g.body)
		evbuffer_free(g.body);
	if (g.base)
		event_base_free(g.base);
	libevent_global_shutdown();
	return rc;
}
