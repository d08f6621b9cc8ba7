/*
 * fakeup_embed.c - plays an OpenAI-compatible embedding service:
 * POST /v1/embeddings (and /embeddings), as ragd's embedding client calls
 * it.
 *
 *   {"model", "input": string | [strings], "dimensions"?, and
 *   "encoding_format"? which must be "float"}. Vectors have `dims` (or
 *   "dimensions") floats: lowercase words (runs of ASCII letters and
 *   digits and of non-ASCII bytes) are feature-hashed with a sign into the
 *   dimensions and the vector is L2-normalised, so texts sharing words
 *   have a positive cosine. A text without words gets the unit vector
 *   (1,0,...). Bad input: 400. Mode huge pads the model name.
 */
#include "fakeup.h"

#include <string.h>

enum {
	MAX_INPUTS = 2048,           /* embedding inputs per request */
	MAX_EMBED_FLOATS = 1 << 20,  /* inputs x dims per request */
};

/* Square root by Newton's method, as the build links no libm. For x >= 1,
 * starting from x the iterates decrease monotonically to sqrt(x). */
static double fakeup_embed_sqrt(double x)
{
	double y = x, next;

	while ((next = 0.5 * (y + x / y)) < y)
		y = next;
	return y;
}

/* The feature-hashed, L2-normalised vector of text s. */
static void fakeup_embed_put_vector(struct evbuffer *o, const char *s,
                                    size_t n, int dims)
{
	double v[DIMS_MAX], norm2 = 0, norm;
	size_t pos = 0, len;
	int i;

	for (i = 0; i < dims; i++)
		v[i] = 0;
	while ((len = fakeup_text_next_word(s, n, &pos)) > 0) {
		uint64_t h = fakeup_text_hash(s + pos, len);
		v[h % (uint64_t)dims] += (h >> 63) ? -1.0 : 1.0;
		pos += len;
	}
	for (i = 0; i < dims; i++)
		norm2 += v[i] * v[i];
	if (norm2 == 0) {
		v[0] = 1;
		norm2 = 1;
	}
	norm = fakeup_embed_sqrt(norm2);
	ADD_LIT(o, "[");
	for (i = 0; i < dims; i++)
		evbuffer_add_printf(o, "%s%.7f", i ? "," : "", v[i] / norm);
	ADD_LIT(o, "]");
}

/* Checks "dimensions" and "encoding_format". Returns an error or NULL. */
static const char *fakeup_embed_parse_options(const json_t *root, int *dims)
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
static const char *fakeup_embed_parse(const json_t *root, int *dims,
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
	if ((err = fakeup_embed_parse_options(root, dims)) != NULL)
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
static void fakeup_embed_put(struct evbuffer *o, const json_t *model,
                             const json_t *inputs, int dims, size_t pad)
{
	const json_t *s;
	size_t i;
	int words = 0;

	ADD_LIT(o, "{\"object\":\"list\",\"data\":[");
	json_array_foreach(inputs, i, s) {
		evbuffer_add_printf(o, "%s{\"object\":\"embedding\",\"index\":%zu,"
		                    "\"embedding\":", i ? "," : "", i);
		fakeup_embed_put_vector(o, json_string_value(s),
		                        json_string_length(s), dims);
		ADD_LIT(o, "}");
		words += fakeup_text_count_words(json_string_value(s),
		                                 json_string_length(s));
	}
	ADD_LIT(o, "],\"model\":\"");
	fakeup_text_json_chars(o, json_string_value(model),
	                       json_string_length(model));
	fakeup_reply_pad(o, pad);
	evbuffer_add_printf(o, "\",\"usage\":{\"prompt_tokens\":%d,"
	                    "\"total_tokens\":%d}}", words, words);
}

void fakeup_embed_serve(struct evhttp_request *req, struct fakeup_pending *p,
                        const struct fakeup_behaviour *b)
{
	json_t *root = fakeup_reply_body(req, p), *inputs = NULL;
	int dims = b->dims;
	const char *err;

	if (root == NULL)
		return;
	if ((err = fakeup_embed_parse(root, &dims, &inputs)) != NULL)
		fakeup_reply_bad_request(req, p, err);
	else if (inputs == NULL)
		fakeup_reply_error(req, p, 500, "server_error", "out of memory");
	else {
		fakeup_embed_put(fakeup.body, json_object_get(root, "model"),
		                 inputs, dims, fakeup_reply_pad_size(b));
		fakeup_fault_answer(req, p, b);
	}
	json_decref(inputs);
	json_decref(root);
}
