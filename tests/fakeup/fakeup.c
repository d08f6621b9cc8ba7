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
 *   GET /search?q=TEXT&format=json        SearxNG JSON API (fakeup_searx.c)
 *   POST /v1/chat/completions, POST /chat/completions   OpenAI chat,
 *                                         whole or streamed (fakeup_chat.c)
 *   POST /v1/embeddings, POST /embeddings  OpenAI embeddings (fakeup_embed.c)
 *       The comment at the top of each file says what it answers.
 *   GET /healthz   {"ok":true} (in mode huge with a "padding" string)
 *   GET /stats     {"requests","by_path":{path:n},"by_mode":{mode:n},
 *                  "faults","by_fault":{mode:n},
 *                  "streams_started","streams_completed","streams_aborted",
 *                  "streams_cut","abandoned","resets","drops","cuts",
 *                  "stalls","hanging","active","max_active"}
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
 *       requests still in progress, right now; max_active the most
 *       requests in progress at once since the counters were last zeroed.
 *   Unknown path: 404; wrong method: 405; errors are OpenAI-style JSON
 *   {"error":{"message":...,"type":...}}. Request bodies over 1 MiB: 413.
 *
 * BUILD
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o fakeup \
 *       tests/fakeup/fakeup*.c $(pkg-config --cflags --libs libevent jansson)
 *
 * The files and who owns what: fakeup.h.
 */

#include "fakeup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/http.h>

enum {
	MAX_BODY = 1 << 20,          /* request body cap */
	MAX_HEADERS = 64 << 10,      /* request line + headers cap */
	LISTEN_BACKLOG = 1024,
};

#define DEFAULT_FAULT_MIX                                                    \
	(MODE_BIT(MODE_SLOW) | MODE_BIT(MODE_FAIL) | MODE_BIT(MODE_RESET) |      \
	 MODE_BIT(MODE_GARBAGE) | MODE_BIT(MODE_CUT))

struct fakeup_state fakeup;

static fakeup_serve_fn fakeup_serve_health;

/* Endpoints subject to behaviour and counted in /stats by_path. */
static const struct fakeup_route {
	const char *path;
	fakeup_serve_fn *serve;
	enum evhttp_cmd_type method;
	bool faults;            /* random faults may hit it */
} fakeup_routes[] = {
	{"/search", fakeup_searx_serve, EVHTTP_REQ_GET, true},
	{"/v1/chat/completions", fakeup_chat_serve, EVHTTP_REQ_POST, true},
	{"/chat/completions", fakeup_chat_serve, EVHTTP_REQ_POST, true},
	{"/v1/embeddings", fakeup_embed_serve, EVHTTP_REQ_POST, true},
	{"/embeddings", fakeup_embed_serve, EVHTTP_REQ_POST, true},
	{"/healthz", fakeup_serve_health, EVHTTP_REQ_GET, false},
};
_Static_assert(sizeof fakeup_routes / sizeof fakeup_routes[0] == N_ROUTES,
               "N_ROUTES counts the routes");

/* GET /healthz: {"ok":true}, padded in mode huge. */
static void fakeup_serve_health(struct evhttp_request *req,
                                struct fakeup_pending *p,
                                const struct fakeup_behaviour *b)
{
	ADD_LIT(fakeup.body, "{\"ok\":true");
	if (fakeup_reply_pad_size(b) > 0) {
		ADD_LIT(fakeup.body, ",\"padding\":\"");
		fakeup_reply_pad(fakeup.body, fakeup_reply_pad_size(b));
		ADD_LIT(fakeup.body, "\"");
	}
	ADD_LIT(fakeup.body, "}");
	fakeup_fault_answer(req, p, b);
}

/* ---- the control plane and routing -------------------------------------- */

static void fakeup_serve_stats(struct evhttp_request *req)
{
	const struct fakeup_stats *s = &fakeup.stats;
	struct evbuffer *o = fakeup.body;
	size_t i;

	evbuffer_add_printf(o, "{\"requests\":%llu,\"by_path\":{", s->requests);
	for (i = 0; i < N_ROUTES; i++)
		evbuffer_add_printf(o, "\"%s\":%llu,", fakeup_routes[i].path,
		                    s->by_path[i]);
	evbuffer_add_printf(o, "\"other\":%llu},\"by_mode\":{",
	                    s->by_path[N_ROUTES]);
	for (i = 0; i < MODE_COUNT; i++)
		evbuffer_add_printf(o, "%s\"%s\":%llu", i ? "," : "",
		                    fakeup_control_mode_names[i], s->by_mode[i]);
	evbuffer_add_printf(o, "},\"faults\":%llu,\"by_fault\":{", s->faults);
	for (i = 0; i < MODE_COUNT; i++)
		evbuffer_add_printf(o, "%s\"%s\":%llu", i ? "," : "",
		                    fakeup_control_mode_names[i], s->by_fault[i]);
	evbuffer_add_printf(o, "},\"streams_started\":%llu,"
	                    "\"streams_completed\":%llu,\"streams_aborted\":%llu,"
	                    "\"streams_cut\":%llu,\"abandoned\":%llu,"
	                    "\"resets\":%llu,\"drops\":%llu,\"cuts\":%llu,"
	                    "\"stalls\":%llu,\"hanging\":%llu,\"active\":%llu,\"max_active\":%llu}",
	                    s->streams_started, s->streams_completed,
	                    s->streams_aborted, s->streams_cut, s->abandoned,
	                    s->resets, s->drops, s->cuts, s->stalls, fakeup.hanging,
	                    fakeup.active, s->max_active);
	fakeup_reply_json(req, NULL, 200, false);
}

static void fakeup_method_not_allowed(struct evhttp_request *req,
                                      const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	                  allow);
	fakeup_reply_error(req, NULL, 405, "invalid_request_error",
	                   "method not allowed");
}

/* Control-plane paths: not counted, no behaviour. Returns false if path is
 * not one of them. */
static bool fakeup_serve_control_plane(struct evhttp_request *req,
                                       const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (strcmp(path, "/stats") == 0) {
		if (cmd == EVHTTP_REQ_GET)
			fakeup_serve_stats(req);
		else
			fakeup_method_not_allowed(req, "GET");
		return true;
	}
	if (strcmp(path, "/_control") == 0) {
		if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_POST)
			fakeup_control_serve(req);
		else
			fakeup_method_not_allowed(req, "GET, POST");
		return true;
	}
	return false;
}

static const struct fakeup_route *fakeup_find_route(const char *path)
{
	size_t i;

	for (i = 0; i < N_ROUTES; i++)
		if (strcmp(path, fakeup_routes[i].path) == 0)
			return &fakeup_routes[i];
	return NULL;
}

static void fakeup_on_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct fakeup_behaviour b = fakeup.global;
	const struct fakeup_route *r = NULL;
	char err[160];

	(void)arg;
	if (path == NULL) {
		fakeup_reply_bad_request(req, NULL, "bad request URI");
		return;
	}
	path = fakeup_control_strip_prefix(path, &b, err, sizeof err);
	if (path && fakeup_serve_control_plane(req, path))
		return;
	fakeup.stats.requests++;
	if (path)
		r = fakeup_find_route(path);
	fakeup.stats.by_path[r ? (size_t)(r - fakeup_routes) : N_ROUTES]++;
	if (path == NULL)
		fakeup_reply_bad_request(req, NULL, err);
	else if (r == NULL)
		fakeup_reply_error(req, NULL, 404, "invalid_request_error",
		                   "not found");
	else if (evhttp_request_get_command(req) != r->method)
		fakeup_method_not_allowed(req, r->method == EVHTTP_REQ_GET
		                                    ? "GET" : "POST");
	else if (!fakeup_control_headers(req, &b, err, sizeof err))
		fakeup_reply_bad_request(req, NULL, err);
	else {
		int fault = b.mode == MODE_OK && r->faults ? fakeup_fault_draw(&b)
		                                           : -1;

		if (fault >= 0) {
			b.mode = fault;
			fakeup.stats.faults++;
			fakeup.stats.by_fault[fault]++;
		}
		fakeup.stats.by_mode[b.mode]++;
		fakeup_fault_start(req, &b, r->serve);
	}
}

/* ---- startup and shutdown ----------------------------------------------- */

static void fakeup_usage(FILE *out)
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
static bool fakeup_parse_listen(const char *arg, char *host, size_t hostsz,
                                int *port)
{
	const char *colon = strrchr(arg, ':');
	size_t hlen = colon ? (size_t)(colon - arg) : 0;
	struct in_addr a4;
	struct in6_addr a6;

	if (colon == NULL || hlen == 0 || hlen >= hostsz ||
	    !fakeup_text_parse_int(colon + 1, strlen(colon + 1), 0, 65535,
	                           port))
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
static bool fakeup_parse_seed(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* Parses the command line into fakeup.startup, fakeup.seed and host/port;
 * false on error. */
static bool fakeup_parse_args(int argc, char **argv, char *host,
                              size_t hostsz, int *port)
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
			fakeup_usage(stdout);
			exit(0);
		}
		if (c == 'l' && !fakeup_parse_listen(optarg, host, hostsz, port)) {
			fprintf(stderr, "fakeup: --listen wants a loopback "
			        "HOST:PORT, got '%s'\n", optarg);
			return false;
		}
		if (c == 'k' &&
		    !fakeup_control_set(&fakeup.startup, opts[idx].name,
		                        strlen(opts[idx].name), optarg,
		                        strlen(optarg), err, sizeof err)) {
			fprintf(stderr, "fakeup: --%s: %s\n", opts[idx].name, err);
			return false;
		}
		if (c == 's' && !fakeup_parse_seed(optarg, &fakeup.seed)) {
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

/* Prints the "listening" line with the port the OS really bound. */
static bool fakeup_announce(struct evhttp_bound_socket *bound)
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

static void fakeup_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

/* Split mode paces 1 ms timers; libevent's default coarse monotonic clock
 * ticks once per jiffy (4 ms) and would stretch every gap to that. */
static struct event_base *fakeup_new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (cfg && event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		base = event_base_new_with_config(cfg);
	if (cfg)
		event_config_free(cfg);
	return base;
}

static bool fakeup_setup_http(const char *host, int port)
{
	struct evhttp_bound_socket *bound;

	if ((fakeup.http = evhttp_new(fakeup.base)) == NULL)
		return false;
	evhttp_set_max_body_size(fakeup.http, MAX_BODY);
	evhttp_set_max_headers_size(fakeup.http, MAX_HEADERS);
	/* Every method reaches fakeup_on_request, so wrong ones get our 405. */
	evhttp_set_allowed_methods(fakeup.http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	    EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(fakeup.http, fakeup_on_request, NULL);
	bound = evhttp_bind_socket_with_handle(fakeup.http, host,
	                                       (ev_uint16_t)port);
	if (bound == NULL) {
		fprintf(stderr, "fakeup: cannot listen on %s:%d: %s\n", host, port,
		        strerror(errno));
		return false;
	}
	/* evhttp listens with a backlog of 128; a benchmark opening many
	 * connections at once should not see SYN retries. */
	listen(evhttp_bound_socket_get_fd(bound), LISTEN_BACKLOG);
	return fakeup_announce(bound);
}

int main(int argc, char **argv)
{
	char host[INET6_ADDRSTRLEN + 3] = "127.0.0.1";
	int port = 0, rc = 1;
	struct event *sigterm = NULL, *sigint = NULL;

	fakeup.startup = (struct fakeup_behaviour){
		.mode = MODE_OK, .status = 503, .results = 5, .dims = 64,
		.tokens = 12, .slow_ms = 10000, .huge_mb = 64,
		.fault_mix = DEFAULT_FAULT_MIX,
	};
	fakeup.seed = 1;
	if (!fakeup_parse_args(argc, argv, host, sizeof host, &port))
		return 2;
	fakeup.global = fakeup.startup;
	fakeup_fault_seed(fakeup.seed);
	fakeup_reply_init();
	/* A client that vanishes mid-reply must cost a write error, not us. */
	signal(SIGPIPE, SIG_IGN);
	if ((fakeup.base = fakeup_new_base()) == NULL ||
	    (fakeup.body = evbuffer_new()) == NULL)
		goto done;
	sigterm = evsignal_new(fakeup.base, SIGTERM, fakeup_on_signal,
	                       fakeup.base);
	sigint = evsignal_new(fakeup.base, SIGINT, fakeup_on_signal, fakeup.base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL) || !fakeup_setup_http(host, port))
		goto done;
	rc = event_base_dispatch(fakeup.base) == -1;
done:
	fakeup_pending_free_all();
	if (fakeup.http)
		evhttp_free(fakeup.http);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (fakeup.body)
		evbuffer_free(fakeup.body);
	if (fakeup.base)
		event_base_free(fakeup.base);
	libevent_global_shutdown();
	return rc;
}
