/*
 * fakeup_chat.c - plays an OpenAI-compatible chat completion service:
 * POST /v1/chat/completions (and /chat/completions), whole or streamed as
 * server-sent events, as ragd's LLM client calls it.
 *
 *   Request: "model" and "messages" [{role, content}] are required;
 *   optional "stream", "stream_options":{"include_usage"}, "max_tokens",
 *   "temperature". Bad JSON or fields: 400 (invalid_request_error).
 *   The answer is "Fake answer about <first 60 bytes of the last user
 *   message, cut at a UTF-8 boundary> — café ∑ 🙂 [1]." (deliberately
 *   multi-byte), cut into `tokens` pieces at UTF-8 boundaries (fewer if
 *   the answer has fewer characters). max_tokens keeps only that many
 *   pieces and makes finish_reason "length".
 *   Whole: a chat.completion object with usage. Stream ("stream":true):
 *   text/event-stream, chunked; a role chunk, one chat.completion.chunk
 *   per piece, a chunk with empty delta and the finish_reason, the usage
 *   chunk if asked, then "data: [DONE]". Events are token_delay_ms apart
 *   (0: separate chunks on consecutive loop iterations). Mode huge pads
 *   the message (whole) or the first piece (stream).
 */
#include "fakeup.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	QUOTE_MAX = 60,     /* bytes of the user message in the answer */
	MODEL_MAX = 256,    /* longest model name echoed in streams */
	ANSWER_MAX = 160,   /* prefix + QUOTE_MAX + suffix, with room */
};

/* A parsed chat completion request, reduced to what the answer needs. */
struct fakeup_chat {
	char model[MODEL_MAX + 1];
	char answer[ANSWER_MAX];
	size_t answer_len;
	int pieces;        /* pieces to send (after max_tokens) */
	int all_pieces;    /* pieces the whole answer has */
	int prompt_tokens;
	bool stream;
	bool include_usage;
};

/* What a stream's events are built from; the stream owns it. */
struct fakeup_chat_stream {
	struct fakeup_chat chat;
	unsigned long long id;
	long long created;
};

/* The answer is the user's words between these; the tail has 2, 3 and 4
 * byte UTF-8 characters on purpose (this file is UTF-8). */
static const char ANSWER_HEAD[] = "Fake answer about ";
static const char ANSWER_TAIL[] = " — café ∑ 🙂 [1].";

/* Iterates over the texts of a message content, which is a string or an
 * array of parts like {"type":"text","text":...}: returns the next one at
 * or after *i and moves *i past it, or NULL at the end. */
static const json_t *fakeup_chat_next_text(const json_t *content, size_t *i)
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
static size_t fakeup_chat_content_text(const json_t *content, char *buf,
                                       size_t cap)
{
	const json_t *t;
	size_t i = 0, n, len = 0;

	while (len < cap && (t = fakeup_chat_next_text(content, &i)) != NULL) {
		n = json_string_length(t);
		n = n < cap - len ? n : cap - len;
		memcpy(buf + len, json_string_value(t), n);
		len += n;
	}
	return len;
}

static int fakeup_chat_content_words(const json_t *content)
{
	const json_t *t;
	size_t i = 0;
	int words = 0;

	while ((t = fakeup_chat_next_text(content, &i)) != NULL)
		words += fakeup_text_count_words(json_string_value(t),
		                                 json_string_length(t));
	return words;
}

/* Checks "messages", counts prompt words and copies the start of the last
 * user message into quote. Returns an error message or NULL. */
static const char *fakeup_chat_parse_messages(const json_t *msgs,
                                              struct fakeup_chat *c,
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
		c->prompt_tokens += fakeup_chat_content_words(content);
		/* QUOTE_MAX + 3 bytes, so fakeup_text_utf8_cut can see where
		 * the character at QUOTE_MAX starts. */
		if (strcmp(json_string_value(role), "user") == 0)
			*qlen = fakeup_chat_content_text(content, quote,
			                                 QUOTE_MAX + 3);
	}
	*qlen = fakeup_text_utf8_cut(quote, *qlen, QUOTE_MAX);
	return NULL;
}

/* Checks the optional fields. Returns an error message or NULL. */
static const char *fakeup_chat_parse_options(const json_t *root,
                                             struct fakeup_chat *c,
                                             int tokens)
{
	const json_t *stream = json_object_get(root, "stream");
	const json_t *opts = json_object_get(root, "stream_options");
	const json_t *max = json_object_get(root, "max_tokens");
	const json_t *temp = json_object_get(root, "temperature");
	size_t chars = fakeup_text_utf8_chars(c->answer, c->answer_len);

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

static const char *fakeup_chat_parse(const json_t *root,
                                     struct fakeup_chat *c, int tokens)
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
	mlen = fakeup_text_utf8_cut(json_string_value(model), mlen, MODEL_MAX);
	memcpy(c->model, json_string_value(model), mlen);
	c->model[mlen] = '\0';
	err = fakeup_chat_parse_messages(json_object_get(root, "messages"), c,
	                                 quote, &qlen);
	if (err != NULL)
		return err;
	c->answer_len = 0;
	memcpy(c->answer, ANSWER_HEAD, sizeof ANSWER_HEAD - 1);
	c->answer_len += sizeof ANSWER_HEAD - 1;
	memcpy(c->answer + c->answer_len, quote, qlen);
	c->answer_len += qlen;
	memcpy(c->answer + c->answer_len, ANSWER_TAIL, sizeof ANSWER_TAIL - 1);
	c->answer_len += sizeof ANSWER_TAIL - 1;
	return fakeup_chat_parse_options(root, c, tokens);
}

/* Byte range of piece k: the answer's characters dealt evenly over
 * all_pieces, so every piece is non-empty and ends on a UTF-8 boundary. */
static void fakeup_chat_piece_span(const struct fakeup_chat *c, int k,
                                   size_t *start, size_t *end)
{
	size_t chars = fakeup_text_utf8_chars(c->answer, c->answer_len);
	size_t n = (size_t)c->all_pieces, i = (size_t)k;

	*start = fakeup_text_utf8_offset(c->answer, c->answer_len,
	                                 i * chars / n);
	*end = fakeup_text_utf8_offset(c->answer, c->answer_len,
	                               (i + 1) * chars / n);
}

static const char *fakeup_chat_finish_reason(const struct fakeup_chat *c)
{
	return c->pieces < c->all_pieces ? "length" : "stop";
}

static void fakeup_chat_put_usage(struct evbuffer *o,
                                  const struct fakeup_chat *c)
{
	evbuffer_add_printf(o, "\"usage\":{\"prompt_tokens\":%d,"
	                    "\"completion_tokens\":%d,\"total_tokens\":%d}",
	                    c->prompt_tokens, c->pieces,
	                    c->prompt_tokens + c->pieces);
}

/* A whole chat completion; pad bytes of padding end the message. */
static void fakeup_chat_put_completion(struct evbuffer *o,
                                       const struct fakeup_chat *c, size_t pad)
{
	size_t start, end;

	fakeup_chat_piece_span(c, c->pieces - 1, &start, &end);
	evbuffer_add_printf(o, "{\"id\":\"chatcmpl-fake-%llu\",\"object\":"
	                    "\"chat.completion\",\"created\":%lld,\"model\":",
	                    ++fakeup.next_id, (long long)time(NULL));
	fakeup_text_json_str(o, c->model, strlen(c->model));
	ADD_LIT(o, ",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	             "\"assistant\",\"content\":\"");
	fakeup_text_json_chars(o, c->answer, end);
	fakeup_reply_pad(o, pad);
	ADD_LIT(o, "\"");
	evbuffer_add_printf(o, "},\"logprobs\":null,\"finish_reason\":\"%s\"}],",
	                    fakeup_chat_finish_reason(c));
	fakeup_chat_put_usage(o, c);
	ADD_LIT(o, "}");
}

static void fakeup_chat_put_chunk_head(struct evbuffer *o,
                                       const struct fakeup_chat_stream *st)
{
	evbuffer_add_printf(o, "data: {\"id\":\"chatcmpl-fake-%llu\",\"object\":"
	                    "\"chat.completion.chunk\",\"created\":%lld,"
	                    "\"model\":", st->id, st->created);
	fakeup_text_json_str(o, st->chat.model, strlen(st->chat.model));
	ADD_LIT(o, ",\"choices\":");
}

/* Builds SSE event number `step` (a fakeup_event_fn); pad bytes of
 * padding end the first token's text. */
static bool fakeup_chat_event(const void *ctx, int step, struct evbuffer *o,
                              size_t pad)
{
	const struct fakeup_chat_stream *st = ctx;
	const struct fakeup_chat *c = &st->chat;
	size_t start, end;

	if (step > c->pieces + 1 + c->include_usage) {
		ADD_LIT(o, "data: [DONE]\n\n");
		return true;
	}
	fakeup_chat_put_chunk_head(o, st);
	if (step == 0) {
		evbuffer_add_printf(o, "[{\"index\":0,\"delta\":{\"role\":"
		                    "\"assistant\"},\"finish_reason\":null}]");
	} else if (step <= c->pieces) {
		fakeup_chat_piece_span(c, step - 1, &start, &end);
		ADD_LIT(o, "[{\"index\":0,\"delta\":{\"content\":\"");
		fakeup_text_json_chars(o, c->answer + start, end - start);
		if (step == 1)
			fakeup_reply_pad(o, pad);
		evbuffer_add_printf(o, "\"},\"finish_reason\":null}]");
	} else if (step == c->pieces + 1) {
		evbuffer_add_printf(o, "[{\"index\":0,\"delta\":{},"
		                    "\"finish_reason\":\"%s\"}]",
		                    fakeup_chat_finish_reason(c));
	} else {
		ADD_LIT(o, "[],");
		fakeup_chat_put_usage(o, c);
	}
	ADD_LIT(o, "}\n\n");
	return false;
}

/* Hands req to an SSE stream of c's answer. */
static void fakeup_chat_start_stream(struct evhttp_request *req,
                                     struct fakeup_pending *p,
                                     const struct fakeup_behaviour *b,
                                     const struct fakeup_chat *c)
{
	struct fakeup_chat_stream *st = malloc(sizeof *st);

	if (st == NULL) {
		fakeup_reply_error(req, p, 500, "server_error", "out of memory");
		return;
	}
	st->chat = *c;
	st->id = ++fakeup.next_id;
	st->created = (long long)time(NULL);
	fakeup_sse_start(req, p, b, fakeup_chat_serve, fakeup_chat_event, st,
	                 c->pieces);
}

void fakeup_chat_serve(struct evhttp_request *req, struct fakeup_pending *p,
                       const struct fakeup_behaviour *b)
{
	json_t *root = fakeup_reply_body(req, p);
	struct fakeup_chat c = {.prompt_tokens = 0};
	const char *err;

	if (root == NULL)
		return;
	err = fakeup_chat_parse(root, &c, b->tokens);
	json_decref(root);
	if (err)
		fakeup_reply_bad_request(req, p, err);
	else if (c.stream)
		fakeup_chat_start_stream(req, p, b, &c);
	else {
		fakeup_chat_put_completion(fakeup.body, &c,
		                           fakeup_reply_pad_size(b));
		fakeup_fault_answer(req, p, b);
	}
}
