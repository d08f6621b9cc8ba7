/*
 * test_embed -- unit tests for the hash embedder and the OpenAI embeddings
 * wire format (body building, response parsing, error messages).  Not a
 * test of embed_openai_sync's transfer, which needs a server: the
 * integration tests drive that against the fake upstream.
 */
#include "embed.h"
#include "tap.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define D EMBED_HASH_DIMS

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;

    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static double cosine(const char *x, const char *y)
{
    float a[D], b[D];

    embed_hash(x, strlen(x), a, D);
    embed_hash(y, strlen(y), b, D);
    return dot(a, b, D);
}

/* Whether x and y embed to exactly the same vector. */
static int same(const char *x, const char *y)
{
    float a[D], b[D];

    embed_hash(x, strlen(x), a, D);
    embed_hash(y, strlen(y), b, D);
    return memcmp(a, b, sizeof a) == 0;
}

static int is_zero(const char *x)
{
    float a[D];

    embed_hash(x, strlen(x), a, D);
    for (size_t i = 0; i < D; i++)
        if (a[i] != 0)
            return 0;
    return 1;
}

static void test_hash(void)
{
    const char *t = "Protein folding determines the function of enzymes.";
    float a[D];

    ok(same(t, t), "the hash embedder is deterministic");
    embed_hash(t, strlen(t), a, D);
    ok(fabs(sqrt(dot(a, a, D)) - 1.0) < 1e-5, "its vectors have norm 1");
    ok(cosine("protein folding in cells", "cells need protein") > 0.3,
       "texts sharing words have a clearly positive cosine (%.3f)",
       cosine("protein folding in cells", "cells need protein"));
    ok(fabs(cosine("protein folding enzyme", "galaxy telescope orbit")) < 1e-6,
       "texts without shared words have cosine 0 (%.3g)",
       cosine("protein folding enzyme", "galaxy telescope orbit"));
    ok(same("the protein of a cell", "protein cell"),
       "stop words and one-letter words are ignored");
    ok(embed_is_stopword("The", 3) && embed_is_stopword("which", 5)
           && embed_is_stopword("a", 1),
       "embed_is_stopword knows the, which and a, in any case");
    ok(!embed_is_stopword("protein", 7) && !embed_is_stopword("th", 2)
           && !embed_is_stopword("", 0),
       "embed_is_stopword rejects ordinary words, prefixes and nothing");
    ok(same("PROTEIN Folding", "protein folding"), "case does not matter");
    ok(is_zero("") && is_zero("  ,;!? ") && is_zero("a b c the of"),
       "a text without words embeds to the zero vector");
    ok(same("studies", "study") && same("binding", "bind")
           && same("cells", "cell") && same("running", "run")
           && same("treated", "treat"),
       "plural and verb endings are stripped");
    ok(!same("virus", "viru") && !same("class", "clas"),
       "-us and -ss words keep their s");
    ok(!same("caf\xC3\xA9", "caf") && same("caf \xC3\xA9", "caf"),
       "a UTF-8 word stays whole, and a lone UTF-8 letter is dropped");
    ok(!same("protein protein cell", "protein cell")
           && cosine("protein protein cell", "protein cell") > 0.9,
       "term frequency counts, damped");
}

/* Known answers: vectors stored by `ragd ingest` are compared with query
 * vectors made later, maybe by another build, so the terms' hashes, and
 * where and with what weight they land, must never change. */
static void test_hash_known(void)
{
    static const struct {
        const char *word;
        uint64_t h;
    } terms[] = {
        {"Proteins", 0x6ee1a108663c6a80ULL},  /* FNV-1a of "protein" */
        {"studies", 0x9bbcd2ada7e94c0eULL},   /* of "study" */
        {"caf\xC3\xA9", 0x48e8823acfa40d89ULL},
        /* Past 64 bytes: lowercased on the fly, not stemmed. */
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
         "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0x3cdc0e6b8ad4984dULL},
    };
    static const struct {
        size_t i;
        float v;
    } want[] = {
        {0, 0x1.2556eep-1f}, {53, 0x1.5a808cp-2f}, {134, 0x1.5a808cp-2f},
        {137, 0x1.5a808cp-2f}, {138, -0x1.2556eep-1f},
    };
    const char *t = "Protein folding determines the function of enzymes; proteins fold.";
    float a[D];
    size_t k = 0, bad = 0;

    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        uint64_t h = 0;
        ok(embed_term(terms[i].word, strlen(terms[i].word), &h) == 1 && h == terms[i].h,
           "embed_term(\"%.12s\") is 0x%016llx", terms[i].word, (unsigned long long)h);
    }
    embed_hash(t, strlen(t), a, D);
    for (size_t i = 0; i < D; i++) {
        if (k < sizeof want / sizeof want[0] && want[k].i == i)
            bad += fabsf(a[i] - want[k++].v) > 1e-6f;
        else
            bad += a[i] != 0;
    }
    ok(bad == 0 && k == sizeof want / sizeof want[0],
       "a known sentence embeds to its known vector (%zu components differ)", bad);
}

static void test_hash_long(void)
{
    size_t len = 200000;
    char *t = malloc(len);
    float a[D], b[16];

    if (!t)
        return;
    /* 25000 words: more than the stack buffer holds. */
    for (size_t i = 0; i < len; i += 8)
        memcpy(t + i, i % 16 ? "abcdef  " : "zyxwvu  ", 8);
    for (size_t i = 0; i < len; i += 64)
        t[i + 2] = (char)('a' + (i / 64) % 26);
    embed_hash(t, len, a, D);
    ok(fabs(sqrt(dot(a, a, D)) - 1.0) < 1e-5,
       "a 200 kB text embeds to a unit vector");
    embed_hash(t, len, b, 16);
    ok(fabs(sqrt(dot(b, b, 16)) - 1.0) < 1e-5, "so does a 16-dim embedding");
    free(t);
}

static void test_normalize(void)
{
    float v[3] = {3, 4, 0}, z[2] = {0, 0};

    embed_normalize(v, 3);
    ok(fabsf(v[0] - 0.6f) < 1e-6 && fabsf(v[1] - 0.8f) < 1e-6 && v[2] == 0,
       "embed_normalize scales to unit length");
    embed_normalize(z, 2);
    ok(z[0] == 0 && z[1] == 0, "a zero vector stays zero");
}

/* Parse body for n texts; returns the status and keeps err. */
static int parse(const char *body, size_t n, size_t *dims, float **out,
                 char *err)
{
    return embed_openai_parse(body, strlen(body), n, dims, out, err, 256);
}

static void test_parse_good(void)
{
    char err[256] = "";
    size_t dims = 0;
    float *out = NULL;

    is_int(parse("{\"data\":[{\"index\":0,\"embedding\":[3,4,0]},"
                 "{\"index\":1,\"embedding\":[0,0,2.5]}],\"model\":\"m\"}",
                 2, &dims, &out, err), 0, "a good response parses");
    is_int(dims, 3, "with its dimensions");
    ok(out && fabsf(out[0] - 0.6f) < 1e-6 && fabsf(out[1] - 0.8f) < 1e-6
           && fabsf(out[5] - 1.0f) < 1e-6,
       "and normalised rows in order");
    free(out);

    is_int(parse("{\"data\":[{\"index\":1,\"embedding\":[0,1]},"
                 "{\"index\":2,\"embedding\":[1,1]},"
                 "{\"index\":0,\"embedding\":[1,0]}]}",
                 3, &dims, &out, err), 0, "an out-of-order response parses");
    ok(out && out[0] == 1 && out[1] == 0 && out[2] == 0 && out[3] == 1
           && fabsf(out[4] - out[5]) < 1e-6 && out[4] > 0.7f,
       "each embedding lands at its index");
    free(out);
}

static void test_parse_bad(void)
{
    static const struct {
        const char *body, *want, *what;
    } cases[] = {
        {"{\"data\":[", "JSON", "malformed JSON"},
        {"[1,2]", "object", "a JSON array"},
        {"{\"error\":{\"message\":\"model not found\",\"type\":\"x\"}}",
         "model not found", "an error object"},
        {"{\"object\":\"list\"}", "data", "no data"},
        {"{\"data\":[{\"index\":0,\"embedding\":[1,2]}]}", "1 embeddings",
         "the wrong count"},
        {"{\"data\":[{\"index\":0,\"embedding\":[1,\"x\"]},"
         "{\"index\":1,\"embedding\":[1,2]}]}", "not a number",
         "a non-numeric value"},
        {"{\"data\":[{\"index\":0,\"embedding\":[1,2]},"
         "{\"index\":1,\"embedding\":[1,2,3]}]}", "dimensions",
         "a dimension mismatch"},
        {"{\"data\":[{\"index\":0,\"embedding\":[1,2]},"
         "{\"index\":0,\"embedding\":[1,2]}]}", "twice", "a repeated index"},
        {"{\"data\":[{\"index\":0,\"embedding\":[1,2]},"
         "{\"index\":7,\"embedding\":[1,2]}]}", "range",
         "an index out of range"},
        {"{\"data\":[{\"index\":0,\"embedding\":[]},"
         "{\"index\":1,\"embedding\":[]}]}", "non-empty",
         "empty embeddings"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        size_t dims = 99;
        float *out = (float *)&dims;
        int rc = parse(cases[i].body, 2, &dims, &out, err);
        ok(rc == -1 && out == NULL && strstr(err, cases[i].want),
           "%s is refused with a message (%s)", cases[i].what, err);
    }
}

static void test_body(void)
{
    const char *texts[] = {"first text", "caf\xC3\xA9 \"quoted\"\n"};
    const char *bad[] = {"\xFF\xFE"};
    char *body = embed_openai_body("text-embedding-3-small", texts, 2);
    json_t *root = body ? json_loads(body, 0, NULL) : NULL;
    json_t *input = json_object_get(root, "input");

    ok(root != NULL, "the request body is JSON");
    is_str(json_string_value(json_object_get(root, "model")),
           "text-embedding-3-small", "with the model");
    is_int(json_array_size(input), 2, "and one input per text");
    is_str(json_string_value(json_array_get(input, 1)), texts[1],
           "texts survive quoting and UTF-8");
    json_decref(root);
    free(body);
    ok(embed_openai_body("m", bad, 1) == NULL,
       "invalid UTF-8 gives no body");
}

static void test_input(void)
{
    char buf[64];

    is_int(embed_input("Cats", "purring feline sleeps", 7, NULL), 13,
           "the length of TITLE\n\nCHUNK, without writing");
    is_int(embed_input("Cats", "purring feline sleeps", 7, buf), 13, "the same when written");
    is_str(buf, "Cats\n\npurring", "a titled chunk is TITLE, a blank line, the chunk");
    is_int(embed_input("", "purring", 7, buf), 7, "an empty title adds nothing");
    is_str(buf, "purring", "so the chunk stands alone");
    embed_input(NULL, "abc", 2, buf);
    is_str(buf, "ab", "a NULL title is no title, and only len bytes of the chunk are taken");
}

#define KEY "sk-emb-5ecret-key-0123456789"

/* Whether s shows any run of 4 or more consecutive bytes of KEY. */
static int shows_key(const char *s)
{
    char run[5] = "";

    for (size_t i = 0; i + 4 <= sizeof KEY - 1; i++) {
        memcpy(run, KEY + i, 4);
        if (strstr(s, run))
            return 1;
    }
    return 0;
}

static void test_http_error(void)
{
    static const char dots[] = "................................................................"
                               "................................................................";
    const char *ep = "http://e/v1/embeddings";
    char err[96], body[512];
    size_t shown = 0;
    const char *slow = "{\"error\":{\"message\":\"slow down\"}}";

    embed_http_error(429, ep, slow, strlen(slow), KEY, err, sizeof err);
    is_str(err, "embedding service http://e/v1/embeddings returned HTTP 429: slow down",
           "HTTP error with the service's message");
    embed_http_error(400, ep, "{\"detail\":\"bad model\"}", 22, NULL, err, sizeof err);
    is_str(err, "embedding service http://e/v1/embeddings returned HTTP 400: bad model",
           "a detail string");
    embed_http_error(502, ep, "Bad Gateway\r\nmore", 18, NULL, err, sizeof err);
    is_str(err, "embedding service http://e/v1/embeddings returned HTTP 502: Bad Gateway",
           "short text: its first line");
    embed_http_error(502, ep, "Bad Gateway", 3, NULL, err, sizeof err);
    is_str(err, "embedding service http://e/v1/embeddings returned HTTP 502: Bad",
           "only len bytes of the body are read");
    embed_http_error(500, ep, NULL, 0, KEY, err, sizeof err);
    is_str(err, "embedding service http://e/v1/embeddings returned HTTP 500", "no body");
    embed_http_error(401, ep, "{\"error\":\"invalid key " KEY "\"}",
                     strlen("{\"error\":\"invalid key " KEY "\"}"), KEY, err, sizeof err);
    is_str(err, "embedding service http://e/v1/embeddings returned HTTP 401: invalid key ***",
           "an echoed key is masked");
    /* The key at every position around the end of err. */
    for (int at = 0; at <= 60; at++) {
        snprintf(body, sizeof body, "{\"error\":{\"message\":\"%.*s%s and more\"}}", at, dots, KEY);
        embed_http_error(401, ep, body, strlen(body), KEY, err, sizeof err);
        shown += shows_key(err) || strstr(err, "sk-") != NULL;
    }
    is_int(shown, 0, "a key cut by the end of err leaves no part of itself");
}

int main(void)
{
    test_hash();
    test_hash_known();
    test_hash_long();
    test_normalize();
    test_parse_good();
    test_parse_bad();
    test_body();
    test_input();
    test_http_error();
    return tap_done();
}
