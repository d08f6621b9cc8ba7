/*
 * fakeup_control.c - the behaviour keys and every way to set them: the
 * command line flags (through fakeup_control_set), /@key=value path
 * prefixes, X-Fake-* request headers, and the /_control endpoint that
 * changes the global behaviour at run time. One table of integer keys and
 * one parser per value type, so all four accept the same keys and limits.
 */
#include "fakeup.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

const char *const fakeup_control_mode_names[MODE_COUNT] = {
	"ok", "fail", "garbage", "truncate", "reset", "hang", "stream_close",
	"split", "slow", "cut", "huge", "stall", "drop",
};

/* The integer keys of struct fakeup_behaviour. */
static const struct fakeup_control_knob {
	const char *key;
	int min, max;
	size_t off;
} fakeup_control_knobs[] = {
	{"delay_ms", 0, 3600000, offsetof(struct fakeup_behaviour, delay_ms)},
	{"status", 200, 599, offsetof(struct fakeup_behaviour, status)},
	{"results", 0, 1000, offsetof(struct fakeup_behaviour, results)},
	{"dims", 1, DIMS_MAX, offsetof(struct fakeup_behaviour, dims)},
	{"token_delay_ms", 0, 60000,
	 offsetof(struct fakeup_behaviour, token_delay_ms)},
	{"tokens", 1, 1000, offsetof(struct fakeup_behaviour, tokens)},
	{"slow_ms", 0, 3600000, offsetof(struct fakeup_behaviour, slow_ms)},
	{"huge_mb", 1, 1024, offsetof(struct fakeup_behaviour, huge_mb)},
};
#define N_KNOBS (sizeof fakeup_control_knobs / sizeof fakeup_control_knobs[0])

static int fakeup_control_find_mode(const char *s, size_t n)
{
	int m;

	for (m = 0; m < MODE_COUNT; m++)
		if (fakeup_text_key_eq(s, n, fakeup_control_mode_names[m]))
			return m;
	return -1;
}

static const struct fakeup_control_knob *
fakeup_control_find_knob(const char *s, size_t n)
{
	size_t k;

	for (k = 0; k < N_KNOBS; k++)
		if (fakeup_text_key_eq(s, n, fakeup_control_knobs[k].key))
			return &fakeup_control_knobs[k];
	return NULL;
}

static bool fakeup_control_knob_set(struct fakeup_behaviour *b,
                                    const struct fakeup_control_knob *k,
                                    long long v)
{
	if (v < k->min || v > k->max)
		return false;
	*(int *)((char *)b + k->off) = (int)v;
	return true;
}

/* A comma-separated list of mode names, as a set of MODE_BIT()s. */
static bool fakeup_control_parse_mix(const char *s, size_t n, unsigned *mix,
                                     char *err, size_t errsz)
{
	unsigned set = 0;
	size_t i = 0, len;
	int m;

	while (i <= n) {
		const char *comma = memchr(s + i, ',', n - i);
		len = comma ? (size_t)(comma - (s + i)) : n - i;
		if ((m = fakeup_control_find_mode(s + i, len)) < 0) {
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

bool fakeup_control_set(struct fakeup_behaviour *b, const char *key,
                        size_t klen, const char *val, size_t vlen, char *err,
                        size_t errsz)
{
	const struct fakeup_control_knob *k;
	int v;

	if (fakeup_text_key_eq(key, klen, "mode")) {
		if ((v = fakeup_control_find_mode(val, vlen)) >= 0) {
			b->mode = v;
			return true;
		}
		snprintf(err, errsz, "unknown mode '%.*s'", (int)vlen, val);
		return false;
	}
	if (fakeup_text_key_eq(key, klen, "fault_rate")) {
		if (fakeup_text_parse_fraction(val, vlen, &b->fault_rate))
			return true;
		snprintf(err, errsz, "fault_rate must be a number in 0..1 with "
		         "at most 6 decimals");
		return false;
	}
	if (fakeup_text_key_eq(key, klen, "fault_mix"))
		return fakeup_control_parse_mix(val, vlen, &b->fault_mix, err,
		                                errsz);
	if ((k = fakeup_control_find_knob(key, klen)) == NULL) {
		snprintf(err, errsz, "unknown key '%.*s'", (int)klen, key);
		return false;
	}
	if (fakeup_text_parse_int(val, vlen, k->min, k->max, &v) &&
	    fakeup_control_knob_set(b, k, v))
		return true;
	snprintf(err, errsz, "%s must be an integer in %d..%d", k->key, k->min,
	         k->max);
	return false;
}

const char *fakeup_control_strip_prefix(const char *path,
                                        struct fakeup_behaviour *b,
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
		if (!fakeup_control_set(b, seg, (size_t)(eq - seg), eq + 1,
		                        len - (size_t)(eq - seg) - 1, err, errsz))
			return NULL;
		path = seg + len;
	}
	return path[0] ? path : "/";
}

bool fakeup_control_headers(struct evhttp_request *req,
                            struct fakeup_behaviour *b, char *err,
                            size_t errsz)
{
	static const char prefix[] = "X-Fake-";
	const size_t plen = sizeof prefix - 1;
	struct evkeyval *h;

	TAILQ_FOREACH(h, evhttp_request_get_input_headers(req), next) {
		if (strncasecmp(h->key, prefix, plen) != 0)
			continue;
		if (!fakeup_control_set(b, h->key + plen, strlen(h->key + plen),
		                        h->value, strlen(h->value), err, errsz))
			return false;
	}
	return true;
}

/* Applies one /_control key other than reset, reset_stats, release and seed
 * to b. */
static bool fakeup_control_key(struct fakeup_behaviour *b, const char *key,
                               const json_t *v)
{
	const struct fakeup_control_knob *k =
	    fakeup_control_find_knob(key, strlen(key));
	char err[160];
	int m;

	if (!strcmp(key, "mode") && json_is_string(v) &&
	    (m = fakeup_control_find_mode(json_string_value(v),
	                                  json_string_length(v))) >= 0) {
		b->mode = m;
		return true;
	}
	if (!strcmp(key, "fault_rate") && json_is_number(v) &&
	    json_number_value(v) >= 0 && json_number_value(v) <= 1) {
		b->fault_rate = (int)(json_number_value(v) * PPM + 0.5);
		return true;
	}
	if (!strcmp(key, "fault_mix") && json_is_string(v))
		return fakeup_control_parse_mix(json_string_value(v),
		                                json_string_length(v),
		                                &b->fault_mix, err, sizeof err);
	return k && json_is_integer(v) &&
	       fakeup_control_knob_set(b, k, json_integer_value(v));
}

/* Applies a /_control body to a copy of the global behaviour and commits it
 * only if the whole body is valid. */
static bool fakeup_control_apply(json_t *root, char *err, size_t errsz)
{
	struct fakeup_behaviour b = fakeup.global;
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
		b = fakeup.startup;
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "reset") || !strcmp(key, "reset_stats") ||
		    !strcmp(key, "release") || !strcmp(key, "seed"))
			continue;
		if (!fakeup_control_key(&b, key, v)) {
			snprintf(err, errsz, "bad or unknown key '%s'", key);
			return false;
		}
	}
	fakeup.global = b;
	if (json_is_true(reset))
		fakeup_fault_seed(fakeup.seed);
	if (seed)
		fakeup_fault_seed((uint64_t)json_integer_value(seed));
	if (json_is_true(reset_stats))
		memset(&fakeup.stats, 0, sizeof fakeup.stats);
	if (json_is_true(release))
		fakeup_fault_release();
	return true;
}

/* The global behaviour as GET /_control shows it. */
static void fakeup_control_put(struct evbuffer *o,
                               const struct fakeup_behaviour *b)
{
	const char *sep = "";
	size_t k;
	int m;

	evbuffer_add_printf(o, "{\"mode\":\"%s\"",
	                    fakeup_control_mode_names[b->mode]);
	for (k = 0; k < N_KNOBS; k++)
		evbuffer_add_printf(o, ",\"%s\":%d", fakeup_control_knobs[k].key,
		                    *(const int *)((const char *)b +
		                                   fakeup_control_knobs[k].off));
	evbuffer_add_printf(o, ",\"fault_rate\":%d.%06d,\"fault_mix\":\"",
	                    b->fault_rate / PPM, b->fault_rate % PPM);
	for (m = 0; m < MODE_COUNT; m++)
		if (b->fault_mix & MODE_BIT(m)) {
			evbuffer_add_printf(o, "%s%s", sep,
			                    fakeup_control_mode_names[m]);
			sep = ",";
		}
	ADD_LIT(o, "\"}");
}

void fakeup_control_serve(struct evhttp_request *req)
{
	char err[160];
	json_t *root;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		fakeup_control_put(fakeup.body, &fakeup.global);
		fakeup_reply_json(req, NULL, 200, false);
		return;
	}
	root = fakeup_reply_load_body(req);
	if (!json_is_object(root))
		fakeup_reply_bad_request(req, NULL, "body must be a JSON object");
	else if (!fakeup_control_apply(root, err, sizeof err))
		fakeup_reply_bad_request(req, NULL, err);
	else {
		ADD_LIT(fakeup.body, "{\"ok\":true}");
		fakeup_reply_json(req, NULL, 200, false);
	}
	json_decref(root);
}
