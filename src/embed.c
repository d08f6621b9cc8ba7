/*
 * embed -- turning text into L2-normalised float vectors.
 *
 * The hash embedder (a lexical stand-in for a model) and the OpenAI
 * embeddings wire format; see embed.h for what each promises.  Not for
 * choosing an embedder or for any asynchronous I/O: the server drives the
 * wire-format functions over its own HTTP client.
 */
#include "buf.h"
#include "embed.h"
#include "hash.h"
#include "mask.h"
#include "url.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Words longer than this are hashed as they are, unstemmed: nothing that
 * long is an English word with a suffix worth stripping. */
#define EMBED_WORD_MAX 64

/* Word hashes kept on the stack: a query or a default-size chunk (2400
 * bytes hold at most 800 words of two letters) never needs the heap. */
#define EMBED_STACK_WORDS 1024

#define EMBED_HTTP_TIMEOUT_S 60L

/* A response for 64 texts of 3072 dimensions is about 5 MiB of JSON. */
#define EMBED_MAX_RESPONSE (64u << 20)

/* ------------------------------------------------------------ stop words */

/* Sorted for bsearch; Lucene's English set plus common question words,
 * since queries are often questions. */
static const char *const embed_stopwords[] = {
    "a", "about", "an", "and", "are", "as", "at", "be", "been", "but", "by",
    "can", "did", "do", "does", "for", "from", "had", "has", "have", "he",
    "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "no",
    "not", "of", "on", "or", "our", "she", "so", "such", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "to", "was", "we", "were", "what", "when", "where", "which", "who", "why",
    "will", "with", "would", "you", "your",
};

/* The longest stop word, so longer words skip the search. */
#define EMBED_STOP_MAX 5

struct embed_key {
    const char *w;
    size_t len;
};

static int embed_stop_cmp(const void *k, const void *e)
{
    const struct embed_key *key = k;
    const char *s = *(const char *const *)e;
    size_t slen = strlen(s);
    int c = memcmp(key->w, s, key->len < slen ? key->len : slen);

    if (c)
        return c;
    return key->len < slen ? -1 : key->len > slen;
}

static char embed_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int embed_is_stopword(const char *w, size_t len)
{
    char buf[EMBED_STOP_MAX];
    struct embed_key key = {buf, len};

    if (len == 0 || len > EMBED_STOP_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        buf[i] = embed_lower(w[i]);
    return bsearch(&key, embed_stopwords,
                   sizeof embed_stopwords / sizeof embed_stopwords[0],
                   sizeof embed_stopwords[0], embed_stop_cmp) != NULL;
}

/* --------------------------------------------------------------- stemmer */

static int embed_ends(const char *w, size_t len, const char *suf)
{
    size_t n = strlen(suf);

    return len >= n && memcmp(w + len - n, suf, n) == 0;
}

static int embed_has_vowel(const char *w, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (strchr("aeiouy", w[i]))
            return 1;
    return 0;
}

/* Strip one plural (or -ied) ending; returns the new length.  May write
 * one byte ('y') in place. */
static size_t embed_stem_plural(char *w, size_t len)
{
    if (len > 4 && (embed_ends(w, len, "ies") || embed_ends(w, len, "ied"))) {
        w[len - 3] = 'y';
        return len - 2;
    }
    if (embed_ends(w, len, "sses") || embed_ends(w, len, "xes")
        || embed_ends(w, len, "ches") || embed_ends(w, len, "shes"))
        return len - 2;
    if (len > 3 && w[len - 1] == 's' && !strchr("sui", w[len - 2]))
        return len - 1;
    return len;
}

/* Strip -ing or -ed when a stem of 3 or more bytes with a vowel remains,
 * then undouble a final consonant ("running" -> "run"). */
static size_t embed_stem_verb(const char *w, size_t len)
{
    size_t stem;

    if (embed_ends(w, len, "ing"))
        stem = len - 3;
    else if (embed_ends(w, len, "ed"))
        stem = len - 2;
    else
        return len;
    if (stem < 3 || !embed_has_vowel(w, stem))
        return len;
    if (w[stem - 1] == w[stem - 2] && !strchr("aeiouylsz", w[stem - 1]))
        stem--;
    return stem;
}

size_t embed_stem(char *w, size_t len)
{
    return embed_stem_verb(w, embed_stem_plural(w, len));
}

/* ---------------------------------------------------------- hash embedder */

static int embed_is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Characters in a UTF-8 word: bytes that do not continue a character. */
static size_t embed_chars(const char *w, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)w[i] & 0xC0) != 0x80;
    return n;
}

int embed_term(const char *w, size_t len, uint64_t *h)
{
    char buf[EMBED_WORD_MAX];

    if (embed_chars(w, len) < 2 || embed_is_stopword(w, len))
        return 0;
    if (len > EMBED_WORD_MAX) {
        *h = hash_fnv1a_lower(w, len);
        return 1;
    }
    for (size_t i = 0; i < len; i++)
        buf[i] = embed_lower(w[i]);
    *h = hash_fnv1a(buf, embed_stem(buf, len));
    return 1;
}

static int embed_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Add hs[0..n) to out: sorting brings a word's occurrences together, so
 * each distinct hash is added once with weight 1 + ln(tf). */
static void embed_flush(uint64_t *hs, size_t n, float *out, size_t dims)
{
    qsort(hs, n, sizeof *hs, embed_u64_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && hs[j] == hs[i])
            j++;
        float w = 1.0f + logf((float)(j - i));
        out[hs[i] % dims] += (hs[i] >> 63) ? -w : w;
        i = j;
    }
}

void embed_hash(const char *text, size_t len, float *out, size_t dims)
{
    uint64_t stack[EMBED_STACK_WORDS];
    uint64_t *hs = stack;
    size_t cap = EMBED_STACK_WORDS, n = 0;
    /* Kept words are 2+ bytes with a separator between them. */
    size_t most = len / 3 + 1;

    if (dims == 0)
        return;
    memset(out, 0, dims * sizeof *out);
    if (most > cap) {
        uint64_t *big = malloc(most * sizeof *big);
        if (big) {
            hs = big;
            cap = most;
        }
    }
    for (size_t i = 0; i < len;) {
        if (!embed_is_word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && embed_is_word_byte((unsigned char)text[i]))
            i++;
        uint64_t h;
        if (!embed_term(text + start, i - start, &h))
            continue;
        if (n == cap) {
            embed_flush(hs, n, out, dims);
            n = 0;
        }
        hs[n++] = h;
    }
    embed_flush(hs, n, out, dims);
    if (hs != stack)
        free(hs);
    embed_normalize(out, dims);
}

void embed_normalize(float *v, size_t dims)
{
    double sum = 0;

    for (size_t i = 0; i < dims; i++)
        sum += (double)v[i] * v[i];
    if (sum == 0)
        return;
    double inv = 1.0 / sqrt(sum);
    for (size_t i = 0; i < dims; i++)
        v[i] = (float)(v[i] * inv);
}

/* ------------------------------------------------------- embedding input */

size_t embed_input(const char *title, const char *chunk, size_t len, char *dst)
{
    size_t t = title ? strlen(title) : 0;

    if (dst) {
        if (t) {
            memcpy(dst, title, t);
            memcpy(dst + t, "\n\n", 2);
        }
        memcpy(dst + (t ? t + 2 : 0), chunk, len);
        dst[(t ? t + 2 : 0) + len] = '\0';
    }
    return (t ? t + 2 : 0) + len;
}

/* ----------------------------------------------------- OpenAI wire format */

char *embed_openai_body(const char *model, const char *const *texts,
                        size_t n)
{
    json_t *root = json_object(), *input = json_array();
    char *body = NULL;

    if (!root || !input
        || json_object_set_new(root, "model", json_string(model)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(input, json_string(texts[i])) < 0)
            goto done;
    if (json_object_set(root, "input", input) < 0)
        goto done;
    body = json_dumps(root, JSON_COMPACT);
done:
    json_decref(input);
    json_decref(root);
    return body;
}

/* The message of an {"error":{"message":M}} or {"error":M} object, or
 * NULL. */
static const char *embed_error_message(const json_t *root)
{
    const json_t *e = json_object_get(root, "error");

    if (json_is_string(e))
        return json_string_value(e);
    e = json_object_get(e, "message");
    return json_is_string(e) ? json_string_value(e) : NULL;
}

/* Where item at position pos of "data" goes, or -1 with err set. */
static long long embed_item_index(const json_t *item, size_t pos, size_t n,
                                  const char *seen, char *err, size_t errlen)
{
    const json_t *ix = json_object_get(item, "index");
    long long i = (long long)pos;

    if (ix) {
        if (!json_is_integer(ix)) {
            snprintf(err, errlen,
                     "embedding response: data[%zu].index is not an integer",
                     pos);
            return -1;
        }
        i = json_integer_value(ix);
    }
    if (i < 0 || (unsigned long long)i >= n) {
        snprintf(err, errlen,
                 "embedding response: index %lld out of range 0..%zu", i,
                 n - 1);
        return -1;
    }
    if (seen[i]) {
        snprintf(err, errlen, "embedding response: index %lld appears twice",
                 i);
        return -1;
    }
    return i;
}

/* Copy data[pos].embedding into row `row` of *out, allocating *out for n
 * rows when the first embedding fixes *dims. */
static int embed_take_vector(const json_t *item, size_t pos, size_t row,
                             size_t n, size_t *dims, float **out, char *err,
                             size_t errlen)
{
    const json_t *vec = json_object_get(item, "embedding");
    size_t d = json_array_size(vec);

    if (!json_is_array(vec) || d == 0) {
        snprintf(err, errlen,
                 "embedding response: data[%zu].embedding is not a non-empty "
                 "array", pos);
        return -1;
    }
    if (!*out) {
        if (d > SIZE_MAX / sizeof(float) / n) {
            snprintf(err, errlen, "embedding response: too large");
            return -1;
        }
        *out = malloc(n * d * sizeof(float));
        if (!*out) {
            snprintf(err, errlen, "embedding response: out of memory");
            return -1;
        }
        *dims = d;
    } else if (d != *dims) {
        snprintf(err, errlen,
                 "embedding response: data[%zu] has %zu dimensions, "
                 "data[0] has %zu", pos, d, *dims);
        return -1;
    }
    float *dst = *out + row * d;
    for (size_t k = 0; k < d; k++) {
        const json_t *x = json_array_get(vec, k);
        if (!json_is_number(x)) {
            snprintf(err, errlen,
                     "embedding response: data[%zu].embedding[%zu] is not a "
                     "number", pos, k);
            return -1;
        }
        dst[k] = (float)json_number_value(x);
    }
    embed_normalize(dst, d);
    return 0;
}

static int embed_parse_data(const json_t *data, size_t n, size_t *dims,
                            float **out, char *err, size_t errlen)
{
    char *seen = calloc(n, 1);

    if (!seen) {
        snprintf(err, errlen, "embedding response: out of memory");
        return -1;
    }
    for (size_t pos = 0; pos < n; pos++) {
        const json_t *item = json_array_get(data, pos);
        long long i;
        if (!json_is_object(item)) {
            snprintf(err, errlen,
                     "embedding response: data[%zu] is not an object", pos);
            goto fail;
        }
        i = embed_item_index(item, pos, n, seen, err, errlen);
        if (i < 0 || embed_take_vector(item, pos, (size_t)i, n, dims, out,
                                       err, errlen) < 0)
            goto fail;
        seen[i] = 1;
    }
    free(seen);
    return 0;
fail:
    free(seen);
    return -1;
}

/* embed_openai_parse, with key (may be NULL) hidden in the messages that
 * quote the service before they are cut to fit err. */
static int embed_parse(const char *body, size_t len, size_t n, size_t *dims,
                       float **out, const char *key, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    const json_t *data;
    const char *msg;
    int ret = -1;

    *out = NULL;
    *dims = 0;
    if (!root) {
        mask_printf(err, errlen, key, "embedding response is not valid JSON: %s",
                    jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "embedding response is not a JSON object");
        goto done;
    }
    if ((msg = embed_error_message(root))) {
        mask_printf(err, errlen, key, "embedding service error: %s", msg);
        goto done;
    }
    data = json_object_get(root, "data");
    if (!json_is_array(data)) {
        snprintf(err, errlen, "embedding response has no \"data\" array");
        goto done;
    }
    if (json_array_size(data) != n) {
        snprintf(err, errlen,
                 "embedding response has %zu embeddings for %zu texts",
                 json_array_size(data), n);
        goto done;
    }
    if (n > 0 && embed_parse_data(data, n, dims, out, err, errlen) < 0) {
        free(*out);
        *out = NULL;
        *dims = 0;
        goto done;
    }
    ret = 0;
done:
    json_decref(root);
    return ret;
}

int embed_openai_parse(const char *body, size_t len, size_t n, size_t *dims,
                       float **out, char *err, size_t errlen)
{
    return embed_parse(body, len, n, dims, out, NULL, err, errlen);
}

/* ----------------------------------------------------- blocking transfer */

static size_t embed_write(char *data, size_t size, size_t nmemb, void *arg)
{
    size_t add = size * nmemb;

    /* Returning short makes curl fail the transfer with a write error. */
    return buf_add(arg, data, add, EMBED_MAX_RESPONSE) == 0 ? add : 0;
}

void embed_http_error(long status, const char *endpoint, const char *body,
                      size_t len, const char *api_key, char *err,
                      size_t errlen)
{
    json_t *root = len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *msg = json_is_object(root) ? embed_error_message(root) : NULL;
    size_t line = 0;

    /* Servers that do not copy OpenAI's error shape often use these. */
    if (!msg && json_is_string(json_object_get(root, "detail")))
        msg = json_string_value(json_object_get(root, "detail"));
    if (!msg && json_is_string(json_object_get(root, "message")))
        msg = json_string_value(json_object_get(root, "message"));

    if (msg) {
        mask_printf(err, errlen, api_key,
                    "embedding service %s returned HTTP %ld: %s", endpoint,
                    status, msg);
    } else if (len && len <= 200 && !root) {
        /* Short text: its first line. */
        while (line < len && body[line] && !strchr("\r\n", body[line]))
            line++;
        mask_printf(err, errlen, api_key,
                    "embedding service %s returned HTTP %ld: %.*s", endpoint,
                    status, (int)line, body);
    } else {
        mask_printf(err, errlen, api_key,
                    "embedding service %s returned HTTP %ld", endpoint,
                    status);
    }
    json_decref(root);
}

static struct curl_slist *embed_headers(const char *api_key)
{
    struct curl_slist *h = curl_slist_append(NULL,
                                             "Content-Type: application/json");
    struct curl_slist *h2;
    char *auth;

    if (!h || !api_key || !*api_key)
        return h;
    auth = malloc(strlen(api_key) + sizeof "Authorization: Bearer ");
    if (!auth) {
        curl_slist_free_all(h);
        return NULL;
    }
    strcpy(auth, "Authorization: Bearer ");
    strcat(auth, api_key);
    h2 = curl_slist_append(h, auth);
    free(auth);
    if (!h2) {
        curl_slist_free_all(h);
        return NULL;
    }
    return h2;
}

/* Run the POST; 0 with the status in *status, or -1 with err set. */
static int embed_post(CURL *c, const char *endpoint, const char *body,
                      struct curl_slist *hdr, buf *resp,
                      long *status, char *err, size_t errlen)
{
    char cerr[CURL_ERROR_SIZE] = "";
    CURLcode rc;

    if (curl_easy_setopt(c, CURLOPT_URL, endpoint) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, embed_write) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEDATA, resp) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_TIMEOUT, EMBED_HTTP_TIMEOUT_S) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_USERAGENT, "ragd-ingest") != CURLE_OK) {
        snprintf(err, errlen, "embedding request: cannot set up libcurl");
        return -1;
    }
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "embedding request to %s failed: %s", endpoint,
                 rc == CURLE_WRITE_ERROR ? "response too large or out of memory"
                 : *cerr ? cerr : curl_easy_strerror(rc));
        return -1;
    }
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
        snprintf(err, errlen, "embedding request to %s: no HTTP status",
                 endpoint);
        return -1;
    }
    return 0;
}

int embed_openai_sync(const char *url, const char *model, const char *api_key,
                      const char *const *texts, size_t n, size_t *dims,
                      float **out, char *err, size_t errlen)
{
    char *endpoint = url_join(url, "/embeddings");
    char *body = embed_openai_body(model, texts, n);
    struct curl_slist *hdr = embed_headers(api_key);
    buf resp = {0};
    CURL *c = curl_easy_init();
    long status = 0;
    int ret = -1;

    *out = NULL;
    *dims = 0;
    if (!endpoint || !hdr || !c) {
        snprintf(err, errlen, "embedding request: out of memory");
        goto done;
    }
    if (!body) {
        snprintf(err, errlen,
                 "embedding request: cannot encode (out of memory or text "
                 "not valid UTF-8)");
        goto done;
    }
    if (embed_post(c, endpoint, body, hdr, &resp, &status, err, errlen) < 0)
        goto done;
    if (status != 200) {
        embed_http_error(status, endpoint, resp.p, resp.len, api_key, err,
                         errlen);
        goto done;
    }
    ret = embed_parse(resp.p ? resp.p : "", resp.len, n, dims, out, api_key,
                      err, errlen);
done:
    /* The messages above that quote the service are masked already; this
     * catches a key in anything else (a URL, libcurl's words). */
    if (ret < 0)
        mask_secret(err, api_key);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdr);
    buf_release(&resp);
    free(body);
    free(endpoint);
    return ret;
}
