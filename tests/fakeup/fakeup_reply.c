/*
 * fakeup_reply.c - the one way fakeup sends a JSON reply, its errors in
 * the OpenAI style every upstream shares, request bodies read as JSON, and
 * the padding of mode huge. How a mode damages a reply is fakeup_fault.c's
 * business, not this file's.
 */
#include "fakeup.h"

#include <string.h>

enum { PAD_BLOCK = 1 << 20 };   /* bytes of the shared padding block */

/* The padding of mode huge: readable ASCII that needs no JSON escaping,
 * added to replies by reference so a huge body costs no copies. */
static char fakeup_reply_pad_block[PAD_BLOCK];

void fakeup_reply_init(void)
{
	static const char words[] = "padding ";
	size_t i;

	for (i = 0; i < PAD_BLOCK; i++)
		fakeup_reply_pad_block[i] = words[i % (sizeof words - 1)];
}

void fakeup_reply_json(struct evhttp_request *req, struct fakeup_pending *p,
                       int status, bool half)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	size_t len = evbuffer_get_length(fakeup.body);

	evbuffer_remove_buffer(fakeup.body, out, half ? len / 2 : len);
	evbuffer_drain(fakeup.body, evbuffer_get_length(fakeup.body));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "Content-Type", "application/json");
	/* The request goes back to libevent, which frees it (and maybe the
	 * connection) once the reply is written: drop our close callback and
	 * state first. */
	if (p)
		fakeup_pending_detach(p);
	evhttp_send_reply(req, status, NULL, NULL);
}

void fakeup_reply_error(struct evhttp_request *req, struct fakeup_pending *p,
                        int status, const char *type, const char *msg)
{
	ADD_LIT(fakeup.body, "{\"error\":{\"message\":");
	fakeup_text_json_str(fakeup.body, msg, strlen(msg));
	evbuffer_add_printf(fakeup.body, ",\"type\":\"%s\"}}", type);
	fakeup_reply_json(req, p, status, false);
}

void fakeup_reply_bad_request(struct evhttp_request *req,
                              struct fakeup_pending *p, const char *msg)
{
	fakeup_reply_error(req, p, 400, "invalid_request_error", msg);
}

json_t *fakeup_reply_load_body(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const unsigned char *data = evbuffer_pullup(in, -1);

	if (data == NULL)
		return NULL;
	return json_loadb((const char *)data, len, 0, NULL);
}

json_t *fakeup_reply_body(struct evhttp_request *req,
                          struct fakeup_pending *p)
{
	json_t *root = fakeup_reply_load_body(req);

	if (root == NULL)
		fakeup_reply_bad_request(req, p, "request body is not valid JSON");
	return root;
}

size_t fakeup_reply_pad_size(const struct fakeup_behaviour *b)
{
	return b->mode == MODE_HUGE ? (size_t)b->huge_mb << 20 : 0;
}

void fakeup_reply_pad(struct evbuffer *o, size_t n)
{
	size_t k;

	for (; n > 0; n -= k) {
		k = n < PAD_BLOCK ? n : PAD_BLOCK;
		evbuffer_add_reference(o, fakeup_reply_pad_block, k, NULL, NULL);
	}
}
