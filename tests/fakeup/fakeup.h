/*
 * fakeup.h - the inside of fakeup, the fake upstream (see the top of
 * fakeup.c for what it does and how to drive it).
 *
 * The program is a core and one file per upstream it plays:
 *   fakeup.c          main, command line, HTTP server, routing, /stats,
 *                     /healthz
 *   fakeup_text.c     UTF-8, JSON string and word helpers, strict numbers
 *   fakeup_control.c  behaviour keys: flags, /@key=value prefixes, X-Fake-*
 *                     headers and the /_control endpoint
 *   fakeup_pending.c  requests answered after their request callback
 *   fakeup_reply.c    JSON replies, errors, the padding of mode huge
 *   fakeup_fault.c    what every mode does, and the seeded fault draws
 *   fakeup_sse.c      SSE streams: pacing, split pieces, the end
 *   fakeup_searx.c    the SearxNG search API
 *   fakeup_chat.c     the OpenAI chat completions API
 *   fakeup_embed.c    the OpenAI embeddings API
 * An upstream file uses the core and nothing of another upstream. The core
 * knows the upstreams only through the route table in fakeup.c.
 *
 * Everything runs on the one loop thread. A request is answered either
 * within its request callback or through a struct fakeup_pending; whoever
 * sends the last of the reply (or closes the connection) ends the pending
 * state, so every serving function either answers or hands its request on.
 */
#ifndef FAKEUP_H
#define FAKEUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

/* Appends a string literal without counting its bytes by hand. */
#define ADD_LIT(buf, lit) evbuffer_add((buf), (lit), sizeof(lit) - 1)

enum {
	PPM = 1000000,      /* fault_rate is kept in parts per million */
	DIMS_MAX = 4096,    /* most embedding dimensions */
	N_ROUTES = 6,       /* endpoints counted in /stats by_path */
};

enum mode {
	MODE_OK, MODE_FAIL, MODE_GARBAGE, MODE_TRUNCATE, MODE_RESET, MODE_HANG,
	MODE_STREAM_CLOSE, MODE_SPLIT, MODE_SLOW, MODE_CUT, MODE_HUGE,
	MODE_STALL, MODE_DROP, MODE_COUNT
};

#define MODE_BIT(m) (1u << (m))

/* How to answer a request; see BEHAVIOUR KEYS at the top of fakeup.c. */
struct fakeup_behaviour {
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

/* The counters GET /stats shows (see the top of fakeup.c); every file
 * counts its own events, POST /_control {"reset_stats":true} zeroes them. */
struct fakeup_stats {
	unsigned long long requests;
	unsigned long long by_path[N_ROUTES + 1]; /* last: "other" */
	unsigned long long by_mode[MODE_COUNT];
	unsigned long long faults, by_fault[MODE_COUNT];
	unsigned long long streams_started, streams_completed;
	unsigned long long streams_aborted, streams_cut;
	unsigned long long abandoned, resets, drops, cuts, stalls;
	unsigned long long max_active;  /* the most requests in progress at once */
};

struct fakeup_pending;

/* An endpoint: answers req in mode b (whose fail, reset, drop and hang the
 * core has already handled) by exactly one reply, or by handing req to an
 * SSE stream. p is req's pending state, or NULL inside the request
 * callback; a reply through fakeup_reply_* or fakeup_fault_answer ends p. */
typedef void fakeup_serve_fn(struct evhttp_request *req,
                             struct fakeup_pending *p,
                             const struct fakeup_behaviour *b);

/* ---- fakeup_sse.c: the state of one SSE reply --------------------------- */

/* What happens once the SSE event being sent has gone out. */
enum fakeup_after { AFTER_NEXT, AFTER_END, AFTER_CUT, AFTER_STALL };

/* Builds SSE event number `step` into o: 0 is the head, 1..tokens carry
 * the answer's pieces, then the tail. pad bytes of padding go at the end
 * of the first piece's text. Returns true for the stream's last event. */
typedef bool fakeup_event_fn(const void *ctx, int step, struct evbuffer *o,
                             size_t pad);

struct fakeup_sse {
	struct evbuffer *ev;    /* bytes of the current event not yet sent */
	fakeup_event_fn *event;
	void *ctx;              /* the upstream's, owned: free()d with the
	                         * pending state */
	int tokens;             /* events 1..tokens carry pieces */
	int step;               /* the next event */
	unsigned split_count;   /* pieces sent so far, picks the piece size */
	enum fakeup_after after;
};

/* ---- fakeup_pending.c: requests answered later -------------------------- */

/*
 * A request that is not answered within its request callback: delayed,
 * hanging, waiting to be reset or dropped, streaming, cut or stalled. It is
 * in fakeup.pending and has a close callback on its connection until it
 * ends, so exactly one of three things frees it: the response finishes
 * (fakeup_pending_detach), the client leaves (fakeup_pending_abandon), or
 * fakeup shuts down. ST_STREAM is any reply whose body is still being
 * sent, SSE or a body about to be cut; ST_STALL a started reply that sends
 * nothing more.
 */
enum stage { ST_WAIT, ST_HANG, ST_STREAM, ST_STALL, ST_CLOSING };

typedef void fakeup_step_fn(struct fakeup_pending *p);

struct fakeup_pending {
	struct fakeup_pending *prev, *next;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *timer;    /* delay, stream pacing, deferred close */
	fakeup_step_fn *on_timer;
	struct fakeup_behaviour b;
	fakeup_serve_fn *serve; /* the endpoint that answers after a delay */
	enum stage stage;
	bool sse;               /* the reply is an SSE stream */
	struct fakeup_sse st;   /* SSE replies only */
};

/* Holds req: a new pending state in fakeup.pending, watching the client
 * leave. NULL if out of memory (nothing changed then). */
struct fakeup_pending *fakeup_pending_new(struct evhttp_request *req,
                                          const struct fakeup_behaviour *b,
                                          fakeup_serve_fn *serve);
/* Runs fn(p) ms from now, replacing what was armed before. */
void fakeup_pending_arm(struct fakeup_pending *p, int ms, fakeup_step_fn *fn);
/* Frees p while its connection lives on: the request goes back to
 * libevent, so call it before the reply's last evhttp_send_*. */
void fakeup_pending_detach(struct fakeup_pending *p);
/* The client left before the response was complete: counts it, frees p
 * and, if libevent no longer holds it, the request. */
void fakeup_pending_abandon(struct fakeup_pending *p);
/* Counts the cut on purpose of p's reply (SSE or not). */
void fakeup_pending_count_cut(const struct fakeup_pending *p);
/* Frees every pending state, at shutdown. Their requests stay with their
 * connections, which evhttp_free then frees. */
void fakeup_pending_free_all(void);

/* ---- fakeup_reply.c: replies -------------------------------------------- */

/* Fills the shared padding block; once, before serving. */
void fakeup_reply_init(void);
/* Sends fakeup.body as the whole application/json reply (only its first
 * half if half) and ends p, if the request has one. */
void fakeup_reply_json(struct evhttp_request *req, struct fakeup_pending *p,
                       int status, bool half);
/* An OpenAI-style {"error":{"message","type"}} reply. */
void fakeup_reply_error(struct evhttp_request *req, struct fakeup_pending *p,
                        int status, const char *type, const char *msg);
/* 400 invalid_request_error. */
void fakeup_reply_bad_request(struct evhttp_request *req,
                              struct fakeup_pending *p, const char *msg);
/* The request body as JSON (a new reference), or NULL for bad JSON. */
json_t *fakeup_reply_load_body(struct evhttp_request *req);
/* The same, but bad JSON has been answered 400 when it returns NULL. */
json_t *fakeup_reply_body(struct evhttp_request *req,
                          struct fakeup_pending *p);
/* Bytes of padding an endpoint's answer gets in mode b. */
size_t fakeup_reply_pad_size(const struct fakeup_behaviour *b);
/* Appends n bytes of padding, by reference to the shared block. */
void fakeup_reply_pad(struct evbuffer *o, size_t n);

/* ---- fakeup_fault.c: what the modes do ---------------------------------- */

/* Restarts the fault draws from seed. */
void fakeup_fault_seed(uint64_t seed);
/* The mode a random fault gives a request in mode b, or -1 for none. */
int fakeup_fault_draw(const struct fakeup_behaviour *b);
/* Answers req, which reached the endpoint serve, in mode b: at once, or
 * later through a pending state. */
void fakeup_fault_start(struct evhttp_request *req,
                        const struct fakeup_behaviour *b,
                        fakeup_serve_fn *serve);
/* Sends fakeup.body, an endpoint's 200 answer, damaged as b's mode says;
 * ends p (cut and stall need one and keep it until they are done). */
void fakeup_fault_answer(struct evhttp_request *req, struct fakeup_pending *p,
                         const struct fakeup_behaviour *b);
/* Damages SSE event `step`, just built into st->ev, as b's mode says, and
 * sets st->after. */
void fakeup_fault_event(const struct fakeup_behaviour *b,
                        struct fakeup_sse *st, int step);
/* Sends buf as p's last chunk, then closes the connection (FIN). */
void fakeup_fault_send_last(struct fakeup_pending *p, struct evbuffer *buf);
/* Answers every request held in mode hang as in mode ok, from its timer. */
void fakeup_fault_release(void);

/* ---- fakeup_sse.c: SSE replies ------------------------------------------ */

/* Starts a 200 text/event-stream reply to req whose events event(ctx, ...)
 * builds, `tokens` of them carrying pieces. Takes ctx (malloc()ed) in
 * every case; answers 500 if out of memory. */
void fakeup_sse_start(struct evhttp_request *req, struct fakeup_pending *p,
                      const struct fakeup_behaviour *b, fakeup_serve_fn *serve,
                      fakeup_event_fn *event, void *ctx, int tokens);

/* ---- fakeup_control.c: behaviour keys ----------------------------------- */

extern const char *const fakeup_control_mode_names[MODE_COUNT];

/* Sets key=value given as text (flag, path segment, header). Returns false
 * with a message in err for an unknown key or a bad value. */
bool fakeup_control_set(struct fakeup_behaviour *b, const char *key,
                        size_t klen, const char *val, size_t vlen, char *err,
                        size_t errsz);
/* Applies the leading /@key=value segments of path to b. Returns the rest
 * of the path ("/" if nothing is left), or NULL with a message in err. */
const char *fakeup_control_strip_prefix(const char *path,
                                        struct fakeup_behaviour *b,
                                        char *err, size_t errsz);
/* Applies X-Fake-<key> request headers to b. */
bool fakeup_control_headers(struct evhttp_request *req,
                            struct fakeup_behaviour *b, char *err,
                            size_t errsz);
/* Serves GET and POST /_control. */
void fakeup_control_serve(struct evhttp_request *req);

/* ---- fakeup_text.c: text helpers ---------------------------------------- */

/* Largest length <= max that does not split a character of valid UTF-8. */
size_t fakeup_text_utf8_cut(const char *s, size_t n, size_t max);
/* Characters of valid UTF-8 s. */
size_t fakeup_text_utf8_chars(const char *s, size_t n);
/* Byte offset of character number `chr` of valid UTF-8 s. */
size_t fakeup_text_utf8_offset(const char *s, size_t n, size_t chr);
/* Appends s as the inside of a JSON string; invalid UTF-8 becomes U+FFFD. */
void fakeup_text_json_chars(struct evbuffer *o, const char *s, size_t n);
/* Appends s as a JSON string. */
void fakeup_text_json_str(struct evbuffer *o, const char *s, size_t n);
/* ASCII letters and digits, and every non-ASCII byte. */
bool fakeup_text_is_word_byte(unsigned char c);
/* Finds the next word at or after *pos; returns its length, 0 at the end. */
size_t fakeup_text_next_word(const char *s, size_t n, size_t *pos);
int fakeup_text_count_words(const char *s, size_t n);
/* FNV-1a of the ASCII-lowercased bytes. */
uint64_t fakeup_text_hash(const char *s, size_t n);
/* Case-insensitive key comparison in which '-' and '_' are the same. */
bool fakeup_text_key_eq(const char *s, size_t n, const char *key);
/* Strict decimal integer in [min, max]. */
bool fakeup_text_parse_int(const char *s, size_t n, int min, int max,
                           int *out);
/* A fraction in 0..1 with at most six decimals, in parts per million. */
bool fakeup_text_parse_fraction(const char *s, size_t n, int *ppm);

/* ---- the upstreams: one endpoint each, in the route table of fakeup.c -- */

fakeup_serve_fn fakeup_searx_serve;  /* fakeup_searx.c: GET /search */
fakeup_serve_fn fakeup_chat_serve;   /* fakeup_chat.c: chat completions */
fakeup_serve_fn fakeup_embed_serve;  /* fakeup_embed.c: embeddings */

/* ---- fakeup.c: the process's state -------------------------------------- */

struct fakeup_state {
	struct event_base *base;
	struct evhttp *http;
	struct fakeup_behaviour startup;  /* the flags */
	struct fakeup_behaviour global;   /* the flags as /_control left them */
	struct evbuffer *body;  /* scratch for the reply being built; always
	                         * left empty, reused to avoid allocations */
	struct fakeup_pending *pending;   /* fakeup_pending.c's list */
	struct fakeup_stats stats;
	unsigned long long hanging, active, next_id;
	uint64_t seed;          /* --seed */
};

extern struct fakeup_state fakeup;

#endif
