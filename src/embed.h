/*
 * embed -- turning text into L2-normalised float vectors.
 *
 * Two embedders: "hash", a deterministic feature-hashing bag of words that
 * needs no model and runs in microseconds, and "openai", any service that
 * speaks the OpenAI embeddings API.  The hash embedder is a lexical stand-in
 * for a real embedding model: texts score as similar when they share words
 * (after lowercasing, stop-word removal and light stemming), never because
 * they mean the same thing in different words.
 *
 * For the openai embedder this module builds request bodies and parses
 * responses as pure functions, so the server can drive them over its own
 * asynchronous HTTP client; embed_openai_sync() adds a blocking libcurl
 * transfer for the ingest CLI only.  Not for choosing an embedder from a
 * database's meta table: the caller does that.
 */
#ifndef RAGD_EMBED_H
#define RAGD_EMBED_H

#include <stddef.h>
#include <stdint.h>

/* Dimensions of the hash embedder as `ragd ingest` and the server use it. */
#define EMBED_HASH_DIMS 384

/* Embed text[0..len) (UTF-8, need not be NUL-terminated) into out[0..dims)
 * with the hash embedder.
 *
 * Words are maximal runs of ASCII letters and digits and of bytes >= 0x80,
 * so a UTF-8 word stays whole; ASCII letters are lowercased.  Words of one
 * character and stop words (embed_is_stopword) are dropped, and the rest
 * lose one plural ending (-ies -> -y, -ied -> -y, -sses -> -ss, -xes,
 * -ches, -shes -> drop "es", -s -> drop "s" unless after s, u or i) and then
 * one verb ending (-ing, -ed, when at least 3 bytes holding a vowel remain;
 * a doubled final consonant other than l, s, z is then undoubled), so
 * "studies"/"study" and "binding"/"binds"/"bind" meet, and "based"/"base" do
 * not.  Words longer than 64 bytes are hashed as they are.  Each distinct
 * word w with count tf adds sign(w) * (1 + ln tf) at index h(w) % dims,
 * where h is 64-bit FNV-1a and sign(w) is - when h's top bit is set.  The
 * vector is then L2-normalised.  A text without words gives the zero
 * vector, whose cosine (dot product) with anything is 0.
 *
 * Deterministic across runs and machines.  Allocates nothing for texts up
 * to a few kilobytes; a longer text needs one buffer for its words, and if
 * that allocation fails term counts are kept per block of words instead.
 * Thread-safe. */
void embed_hash(const char *text, size_t len, float *out, size_t dims);

/* Whether w[0..len) is one of the hash embedder's English stop words
 * ("the", "of", "and", ...), compared ASCII case-insensitively.  Returns 1
 * or 0.  Exposed so other modules (query term extraction) drop the same
 * words. */
int embed_is_stopword(const char *w, size_t len);

/* Scale v[0..dims) to unit L2 norm in place; a zero vector stays zero. */
void embed_normalize(float *v, size_t dims);

/* The hash embedder's light stemmer, shared so that other modules match
 * words the way retrieval does: strips one plural ending, then -ing/-ed,
 * from the lowercase word w[0..len) in place (may write one byte) and
 * returns the stem's length. */
size_t embed_stem(char *w, size_t len);

/* The term the hash embedder counts word w[0..len) as, shared so that
 * other modules match words exactly as retrieval does: returns 0 when the
 * word is dropped (one character, or a stop word), else 1 with the 64-bit
 * FNV-1a hash of the lowercased, stemmed word in *h. */
int embed_term(const char *w, size_t len, uint64_t *h);

/* The text a chunk of a document is embedded as: "TITLE\n\nCHUNK", or
 * just CHUNK when title is NULL or empty.  One definition, so that `ragd
 * ingest` and the server's jobs embed the same text.  chunk[0..len) need
 * not be NUL-terminated.  When dst is not NULL, writes the text there,
 * NUL-terminated (dst holds the returned length + 1 bytes).  Returns the
 * text's length. */
size_t embed_input(const char *title, const char *chunk, size_t len, char *dst);

/* The JSON body of an OpenAI embeddings request:
 * {"model":MODEL,"input":[TEXT,...]} for texts[0..n).  Returns a
 * malloc'd NUL-terminated string the caller frees with free(), or NULL when
 * out of memory or when model or a text is not valid UTF-8. */
char *embed_openai_body(const char *model, const char *const *texts,
                        size_t n);

/* Parse an OpenAI embeddings response body[0..len) that answers a request
 * for n texts: {"data":[{"index":I,"embedding":[...]},...]}.  Each embedding
 * is placed by its "index" (by its position when "index" is absent), so
 * out-of-order answers are fine; there must be exactly n, indexes 0..n-1
 * each once, all with the same number of dimensions (>= 1), all numbers.
 * Each vector is L2-normalised.
 *
 * Returns 0 with *dims set and a malloc'd array of n * dims floats in *out
 * (row i is text i; the caller frees it; NULL when n is 0), or -1 with a
 * message in err (malformed JSON, an {"error":{"message":...}} object, no
 * "data" array, wrong count, bad index, non-numeric value, dimension
 * mismatch, out of memory) and *out NULL. */
int embed_openai_parse(const char *body, size_t len, size_t n, size_t *dims,
                       float **out, char *err, size_t errlen);

/* The message for an embeddings service's non-200 answer: "embedding
 * service ENDPOINT returned HTTP STATUS", plus ": MESSAGE" when body[0..len)
 * (need not be NUL-terminated; NULL when len is 0) carries one (OpenAI's
 * {"error":{"message"}} or "error" string, or a "detail" or "message"
 * string) or, when it is not JSON, its first line if it is at most 200
 * bytes long.  api_key (if not NULL or empty) is hidden as mask_secret
 * (mask.h) hides it, in the whole message before it is cut to fit err. */
void embed_http_error(long status, const char *endpoint, const char *body,
                      size_t len, const char *api_key, char *err,
                      size_t errlen);

/* Embed texts[0..n) with an OpenAI-compatible service, blocking: POST
 * {url}/embeddings (trailing slashes of url ignored) with body
 * embed_openai_body(model, ...), a 60 s limit, and the header
 * "Authorization: Bearer KEY" only when api_key is neither NULL nor empty.
 *
 * Returns 0 with *dims and *out as embed_openai_parse gives them, or -1 with
 * a message in err: the transfer failure, or the HTTP status (when not 200)
 * with the service's own error message when it sent one, or the parse
 * failure.  The key never appears in err, even when the service echoes it,
 * nor does part of it when the message is cut to fit (mask.h).
 * For the ingest CLI only: it blocks and may run curl's global init, which
 * is not thread-safe. */
int embed_openai_sync(const char *url, const char *model, const char *api_key,
                      const char *const *texts, size_t n, size_t *dims,
                      float **out, char *err, size_t errlen);

#endif /* RAGD_EMBED_H */
