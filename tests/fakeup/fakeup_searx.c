/*
 * fakeup_searx.c - plays a SearxNG instance: its JSON search API,
 * GET /search?q=TEXT&format=json, as ragd's web source calls it.
 *
 *   {"query","number_of_results","results":[{"url","title","content",
 *   "engine":"fake","engines","positions","score","category":"general"}],
 *   "answers":[],"suggestions":[],"unresponsive_engines":[]} with `results`
 *   results and decreasing scores. The same q always gives the same answer;
 *   URLs are https://example.org/<slug of q>/<i>. No or an empty q: 400.
 *   format missing or not json: 403, as SearxNG answers a format it does
 *   not serve. Mode huge pads the first result's content.
 */
#include "fakeup.h"

#include <stdio.h>
#include <string.h>

#include <event2/keyvalq_struct.h>

enum { SLUG_MAX = 40 };

/* Lowercase ASCII words of q joined by '-', at most SLUG_MAX bytes; a q
 * without such words gets a hash so its URLs are still its own. */
static void fakeup_searx_slug(const char *q, char *slug)
{
	const char *s;
	size_t n = 0;
	bool dash = false;

	for (s = q; *s && n < SLUG_MAX; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x80 || !fakeup_text_is_word_byte(c)) {
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
		         (unsigned)(fakeup_text_hash(q, strlen(q)) & 0xffffffffu));
}

/* A SearxNG answer with n results; pad bytes of padding end the first
 * result's content. */
static void fakeup_searx_put(struct evbuffer *o, const char *q, int n,
                             size_t pad)
{
	char slug[SLUG_MAX + 1];
	size_t qlen = strlen(q);
	int i;

	fakeup_searx_slug(q, slug);
	ADD_LIT(o, "{\"query\":");
	fakeup_text_json_str(o, q, qlen);
	evbuffer_add_printf(o, ",\"number_of_results\":%d,\"results\":[", n);
	for (i = 1; i <= n; i++) {
		evbuffer_add_printf(o, "%s{\"url\":\"https://example.org/%s/%d\","
		                    "\"title\":\"Title %d about ",
		                    i > 1 ? "," : "", slug, i, i);
		fakeup_text_json_chars(o, q, qlen);
		evbuffer_add_printf(o, "\",\"content\":\"Result %d is a fake "
		                    "page about ", i);
		fakeup_text_json_chars(o, q, qlen);
		ADD_LIT(o, ". It explains ");
		fakeup_text_json_chars(o, q, qlen);
		ADD_LIT(o, " for testing.");
		if (i == 1)
			fakeup_reply_pad(o, pad);
		evbuffer_add_printf(o, "\",\"engine\":\"fake\","
		                    "\"engines\":[\"fake\"],\"positions\":[%d],"
		                    "\"score\":%.6f,\"category\":\"general\"}",
		                    i, 1.0 / i);
	}
	evbuffer_add_printf(o, "],\"answers\":[],\"suggestions\":[],"
	                    "\"unresponsive_engines\":[]}");
}

void fakeup_searx_serve(struct evhttp_request *req, struct fakeup_pending *p,
                        const struct fakeup_behaviour *b)
{
	const char *query =
	    evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params;
	const char *q, *format;

	if (evhttp_parse_query_str(query ? query : "", &params) != 0) {
		fakeup_reply_bad_request(req, p, "malformed query string");
		return;
	}
	q = evhttp_find_header(&params, "q");
	format = evhttp_find_header(&params, "format");
	if (q == NULL || *q == '\0')
		fakeup_reply_bad_request(req, p, "missing q");
	else if (format == NULL || strcmp(format, "json") != 0)
		fakeup_reply_error(req, p, 403, "forbidden", "format must be json");
	else {
		fakeup_searx_put(fakeup.body, q, b->results,
		                 fakeup_reply_pad_size(b));
		fakeup_fault_answer(req, p, b);
	}
	evhttp_clear_headers(&params);
}
