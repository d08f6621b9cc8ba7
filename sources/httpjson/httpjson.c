/*
 * httpjson -- a generic HTTP JSON search source: one request per query to an
 * existing search service (Elasticsearch/OpenSearch _search, Meilisearch,
 * Typesense, SearxNG, an internal API), built from a URL and body template,
 * with fields of the JSON response mapped to hits.
 *
 * For: services that answer one HTTP request with a JSON array of results.
 * Not for: paging, streaming, token-refresh flows, non-JSON answers, or
 * reordering (hits keep the upstream's order, which is taken as best first).
 *
 * A plugin: built as a shared object, loaded by ragd with dlopen(), it
 * exports only ragd_source_entry() and uses nothing but libc, jansson and
 * the ragd_host (HTTP, config readers, log).
 *
 * Config (ragd itself reads name, type, enabled, weight, timeout_ms, the
 * breaker_* and hedge_* keys, and may inject db; any other unknown key is an
 * error, so typos fail at startup):
 *   url        required; http(s) URL template: {query} is the percent-encoded
 *              query, {k} the number of hits wanted
 *   method     "GET" (default) or "POST"
 *   body       POST only, and required there: a JSON template; a string that
 *              is exactly "{query}" becomes the query string, exactly "{k}"
 *              the number k, and both are replaced inside longer strings
 *   headers    {"Name": "value" | "env:VAR"}; env: values are read from the
 *              environment at create and never logged
 *   results    dot path to the results array ("" or absent: the response)
 *   fields     dot paths inside one result: text (required), id (default:
 *              the url field), title, url, score
 *   max_response_bytes  largest response accepted, default 4 MiB
 * Path segments are object keys, or array indexes where the value is an
 * array ("data.0.items"); "" is the value itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ragd/source.h>

#define HJ_TIMEOUT_SLACK_MS 1000
#define HJ_MAX_RESPONSE_DEFAULT (4 << 20)
#define HJ_MAX_RESPONSE_LIMIT (64 << 20)
#define HJ_ERR_MAX 300

enum { HJ_ID, HJ_TITLE, HJ_TEXT, HJ_URL, HJ_SCORE, HJ_NFIELDS };

static const char *const httpjson_field_names[HJ_NFIELDS] = {"id", "title", "text", "url", "score"};

/* A dot path split once at create.  text is the path as configured (for
 * messages); seg[0..n) are its segments.  All in one allocation. */
typedef struct httpjson_path {
    const char *text;
    size_t n;
    char *seg[];
} httpjson_path;

typedef struct hj {
    const ragd_host *host;
    char *url;                    /* template */
    int post;
    json_t *body;                 /* template (a reference), NULL for GET */
    char **headers;               /* NULL-terminated "Name: value" lines;
                                   * may hold secrets: never logged */
    size_t nconf;                 /* headers[0..nconf) are the configured ones */
    httpjson_path *results;
    httpjson_path *field[HJ_NFIELDS];   /* NULL: not mapped */
    size_t max_response;
} hj;

/* One query in flight; the op handle given to ragd.  Freed once its
 * callback has run. */
typedef struct httpjson_search {
    hj *h;
    int k;
    ragd_search_cb cb;
    void *arg;
    ragd_http_xfer *xfer;
} httpjson_search;

/* Hits mapped from one response.  Strings are borrowed from the parsed
 * response, except joined texts and numeric ids: those are own[2i] (id) and
 * own[2i + 1] (text) for hit i. */
typedef struct httpjson_hits {
    ragd_hit *v;
    char **own;
    size_t n, skipped;
} httpjson_hits;

/* ------------------------------------------------------------ config -- */

/* The value of key in cfg, with JSON null read as absent (as the host's
 * cfg_* readers do). */
static json_t *httpjson_get(json_t *cfg, const char *key)
{
    json_t *v = json_object_get(cfg, key);
    return json_is_null(v) ? NULL : v;
}

static int httpjson_check_keys(json_t *cfg, char *err, size_t errlen)
{
    static const char *const known[] = {
        "name", "type", "enabled", "weight", "timeout_ms", "db", /* ragd's */
        "breaker_failures", "breaker_open_ms", "breaker_max_open_ms", "hedge_share",
        "hedge_floor_ms",
        "url", "method", "body", "headers", "results", "fields", "max_response_bytes",
    };
    const char *key;
    json_t *v;

    json_object_foreach(cfg, key, v) {
        size_t i = 0;
        while (i < sizeof known / sizeof *known && strcmp(key, known[i]) != 0)
            i++;
        if (i == sizeof known / sizeof *known) {
            snprintf(err, errlen, "%s: unknown key (known: url, method, body, headers, results, "
                     "fields, max_response_bytes)", key);
            return RAGD_EINVAL;
        }
    }
    return RAGD_OK;
}

/* Split path into *out; where names the config key in messages. */
static int httpjson_path_parse(const char *where, const char *path, httpjson_path **out, char *err,
                         size_t errlen)
{
    size_t len = strlen(path), n = len ? 1 : 0;
    httpjson_path *p;
    char *s;

    for (const char *c = path; *c; c++)
        n += *c == '.';
    if (!(p = malloc(sizeof *p + n * sizeof *p->seg + 2 * (len + 1))))
        return RAGD_ENOMEM;
    s = (char *)(p->seg + n);
    p->text = memcpy(s + len + 1, path, len + 1);
    memcpy(s, path, len + 1);
    p->n = 0;
    while (len && s) {
        p->seg[p->n++] = s;
        if ((s = strchr(s, '.')))
            *s++ = '\0';
    }
    for (size_t i = 0; i < p->n; i++)
        if (!*p->seg[i]) {
            snprintf(err, errlen, "%s: empty segment in \"%s\"", where, path);
            free(p);
            return RAGD_EINVAL;
        }
    *out = p;
    return RAGD_OK;
}

/* Is t, or any string inside it, using the {query} placeholder? */
static int httpjson_mentions_query(json_t *t)
{
    const char *key;
    json_t *v;
    size_t i;

    if (json_is_string(t))
        return strstr(json_string_value(t), "{query}") != NULL;
    json_object_foreach(t, key, v)
        if (httpjson_mentions_query(v))
            return 1;
    json_array_foreach(t, i, v)
        if (httpjson_mentions_query(v))
            return 1;
    return 0;
}

/* The URL template must be http(s), hold no raw space or control byte
 * (those are percent-encoded on the wire), and use only known placeholders:
 * a typo such as {querry} would otherwise be sent literally. */
static int httpjson_check_url(const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "url: expected an http:// or https:// URL");
        return RAGD_EINVAL;
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(err, errlen, "url: contains a space or control character (percent-encode it)");
            return RAGD_EINVAL;
        }
        if (*p == '{' && strncmp(p, "{query}", 7) != 0 && strncmp(p, "{k}", 3) != 0) {
            size_t n = strcspn(p, "}") + 1;
            snprintf(err, errlen, "url: unknown placeholder \"%.*s\" (known: {query}, {k}; "
                     "write a literal { as %%7B)", (int)(n < 24 ? n : 24), p);
            return RAGD_EINVAL;
        }
    }
    return RAGD_OK;
}

/* url, method, body and max_response_bytes. */
static int httpjson_request_config(hj *h, json_t *cfg, char *err, size_t errlen)
{
    const ragd_host *host = h->host;
    const char *url, *method;
    json_t *body = httpjson_get(cfg, "body");
    long long maxr;

    if (host->cfg_string(cfg, "url", NULL, &url, err, errlen) ||
        host->cfg_string(cfg, "method", "GET", &method, err, errlen) ||
        host->cfg_int(cfg, "max_response_bytes", HJ_MAX_RESPONSE_DEFAULT, 1024,
                      HJ_MAX_RESPONSE_LIMIT, &maxr, err, errlen))
        return RAGD_EINVAL;
    if (!url || !*url) {
        snprintf(err, errlen, "url: required");
        return RAGD_EINVAL;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        snprintf(err, errlen, "method: expected GET or POST");
        return RAGD_EINVAL;
    }
    h->post = strcmp(method, "POST") == 0;
    if (h->post != (body != NULL)) {
        snprintf(err, errlen, h->post ? "body: required with method POST"
                                      : "body: only sent with method POST");
        return RAGD_EINVAL;
    }
    if (httpjson_check_url(url, err, errlen) != RAGD_OK)
        return RAGD_EINVAL;
    if (!strstr(url, "{query}") && !(body && httpjson_mentions_query(body))) {
        snprintf(err, errlen, "%s: no {query} placeholder%s: the query would not be sent",
                 h->post ? "body" : "url", h->post ? " in body or url" : "");
        return RAGD_EINVAL;
    }
    if (!(h->url = strdup(url)))
        return RAGD_ENOMEM;
    h->body = json_incref(body);
    h->max_response = (size_t)maxr;
    return RAGD_OK;
}

/* One configured header as a malloc'd "Name: value" line in *line.  An
 * "env:VAR" value is read from the environment; messages name the
 * variable, never its value. */
static int httpjson_header_line(const char *name, json_t *v, char **line, char *err, size_t errlen)
{
    static const char tchar[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789!#$%&'*+-.^_`|~";
    const char *val = json_string_value(v), *var;

    if (!*name || name[strspn(name, tchar)]) {
        snprintf(err, errlen, "headers: \"%s\" is not a valid header name", name);
        return RAGD_EINVAL;
    }
    if (!val) {
        snprintf(err, errlen, "headers.%s: expected a string", name);
        return RAGD_EINVAL;
    }
    if (strlen(val) != json_string_length(v) || strpbrk(val, "\r\n")) {
        snprintf(err, errlen, "headers.%s: line breaks and NUL are not allowed in a value", name);
        return RAGD_EINVAL;
    }
    if (strncmp(val, "env:", 4) == 0) {
        var = val + 4;
        if (!*var) {
            snprintf(err, errlen, "headers.%s: \"env:\" needs a variable name", name);
            return RAGD_EINVAL;
        }
        if (!(val = getenv(var)) || !*val) {
            snprintf(err, errlen, "headers.%s: environment variable %s is not set or empty", name,
                     var);
            return RAGD_EINVAL;
        }
        if (strpbrk(val, "\r\n")) {
            snprintf(err, errlen, "headers.%s: environment variable %s contains a line break", name,
                     var);
            return RAGD_EINVAL;
        }
    }
    if (asprintf(line, "%s: %s", name, val) < 0) {
        *line = NULL;
        return RAGD_ENOMEM;
    }
    return RAGD_OK;
}

static int httpjson_has_header(json_t *headers, const char *name)
{
    const char *key;
    json_t *v;

    json_object_foreach(headers, key, v)
        if (strcasecmp(key, name) == 0)
            return 1;
    return 0;
}

/* The configured headers, then Accept (and Content-Type for POST) unless
 * configured: an API may want its own media type. */
static int httpjson_headers(hj *h, json_t *cfg, char *err, size_t errlen)
{
    json_t *obj = httpjson_get(cfg, "headers"), *v;
    const char *name;
    size_t n = 0;
    int rc;

    if (obj && !json_is_object(obj)) {
        snprintf(err, errlen, "headers: expected an object");
        return RAGD_EINVAL;
    }
    /* calloc'd, so the list stays NULL-terminated for destroy at any point */
    if (!(h->headers = calloc(json_object_size(obj) + 3, sizeof *h->headers)))
        return RAGD_ENOMEM;
    json_object_foreach(obj, name, v) {
        if ((rc = httpjson_header_line(name, v, &h->headers[n], err, errlen)) != RAGD_OK)
            return rc;
        n++;
    }
    h->nconf = n;
    if (!httpjson_has_header(obj, "Accept") && !(h->headers[n++] = strdup("Accept: application/json")))
        return RAGD_ENOMEM;
    if (h->post && !httpjson_has_header(obj, "Content-Type") &&
        !(h->headers[n++] = strdup("Content-Type: application/json")))
        return RAGD_ENOMEM;
    return RAGD_OK;
}

/* results and fields. */
static int httpjson_mapping(hj *h, json_t *cfg, char *err, size_t errlen)
{
    json_t *fields = httpjson_get(cfg, "fields"), *v;
    const char *results, *key;
    char where[64];
    int rc, i;

    if (h->host->cfg_string(cfg, "results", "", &results, err, errlen))
        return RAGD_EINVAL;
    if ((rc = httpjson_path_parse("results", results, &h->results, err, errlen)) != RAGD_OK)
        return rc;
    if (!json_is_object(fields)) {
        snprintf(err, errlen, fields ? "fields: expected an object" : "fields.text: required");
        return RAGD_EINVAL;
    }
    json_object_foreach(fields, key, v) {
        for (i = 0; i < HJ_NFIELDS && strcmp(key, httpjson_field_names[i]) != 0; i++)
            ;
        if (i == HJ_NFIELDS) {
            snprintf(err, errlen, "fields.%s: unknown field (known: id, title, text, url, score)",
                     key);
            return RAGD_EINVAL;
        }
        snprintf(where, sizeof where, "fields.%s", key);
        if (!json_is_string(v)) {
            snprintf(err, errlen, "%s: expected a string (a dot path)", where);
            return RAGD_EINVAL;
        }
        if ((rc = httpjson_path_parse(where, json_string_value(v), &h->field[i], err, errlen)) != RAGD_OK)
            return rc;
    }
    if (!h->field[HJ_TEXT]) {
        snprintf(err, errlen, "fields.text: required");
        return RAGD_EINVAL;
    }
    if (!h->field[HJ_ID] && !h->field[HJ_URL]) {
        snprintf(err, errlen, "fields.id: required when fields.url is not mapped");
        return RAGD_EINVAL;
    }
    return RAGD_OK;
}

static void httpjson_destroy(void *self)
{
    hj *h = self;

    if (h->headers)
        for (char **p = h->headers; *p; p++)
            free(*p);
    free(h->headers);
    free(h->url);
    json_decref(h->body);
    free(h->results);
    for (int i = 0; i < HJ_NFIELDS; i++)
        free(h->field[i]);
    free(h);
}

static int httpjson_create(const ragd_host *host, const char *name, json_t *config, void **self,
                     char *err, size_t errlen)
{
    hj *h;
    int rc;

    (void)name;
    if ((rc = httpjson_check_keys(config, err, errlen)) != RAGD_OK)
        return rc;
    if (!(h = calloc(1, sizeof *h))) {
        rc = RAGD_ENOMEM;
        goto fail;
    }
    h->host = host;
    if ((rc = httpjson_request_config(h, config, err, errlen)) != RAGD_OK ||
        (rc = httpjson_headers(h, config, err, errlen)) != RAGD_OK ||
        (rc = httpjson_mapping(h, config, err, errlen)) != RAGD_OK)
        goto fail;
    *self = h;
    return RAGD_OK;
fail:
    /* every ENOMEM return above leaves err unwritten */
    if (rc == RAGD_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (h)
        httpjson_destroy(h);
    return rc;
}

/* ----------------------------------------------------------- request -- */

/* Percent-encode s (everything but RFC 3986 unreserved bytes); malloc'd. */
static char *httpjson_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-_.~";
    char *out = malloc(strlen(s) * 3 + 1), *p = out;

    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (strchr(plain, c)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return out;
}

/* Write t[0..len) with {query} replaced by q and {k} by kstr into out (when
 * not NULL); returns the length written. */
static size_t httpjson_expand_into(char *out, const char *t, size_t len, const char *q, const char *kstr)
{
    size_t n = 0, i = 0;

    while (i < len) {
        const char *rep = t + i;
        size_t rlen = 1, skip = 1;
        if (len - i >= 7 && memcmp(t + i, "{query}", 7) == 0)
            rep = q, rlen = strlen(q), skip = 7;
        else if (len - i >= 3 && memcmp(t + i, "{k}", 3) == 0)
            rep = kstr, rlen = strlen(kstr), skip = 3;
        if (out)
            memcpy(out + n, rep, rlen);
        n += rlen;
        i += skip;
    }
    return n;
}

/* t[0..len) expanded, malloc'd and NUL-terminated, its length in *outlen. */
static char *httpjson_expand(const char *t, size_t len, const char *q, const char *kstr, size_t *outlen)
{
    size_t n = httpjson_expand_into(NULL, t, len, q, kstr);
    char *out = malloc(n + 1);

    if (!out)
        return NULL;
    httpjson_expand_into(out, t, len, q, kstr);
    out[n] = '\0';
    *outlen = n;
    return out;
}

static json_t *httpjson_fill(json_t *t, const char *q, const char *kstr, int k);

/* A template string filled in: exactly "{query}" or "{k}" become the query
 * string or the number k; otherwise both are replaced in the text.  jansson
 * escapes the result when the body is dumped, so any query is safe. */
static json_t *httpjson_fill_string(json_t *t, const char *q, const char *kstr, int k)
{
    const char *s = json_string_value(t);
    size_t len = json_string_length(t), n;
    char *x;
    json_t *v;

    if (len == 7 && memcmp(s, "{query}", 7) == 0)
        return json_string(q);
    if (len == 3 && memcmp(s, "{k}", 3) == 0)
        return json_integer(k);
    if (!memchr(s, '{', len))
        return json_incref(t);
    if (!(x = httpjson_expand(s, len, q, kstr, &n)))
        return NULL;
    v = json_stringn(x, n);
    free(x);
    return v;
}

/* A new value: template t with its placeholders filled, or NULL when out
 * of memory (the query is UTF-8, so jansson refuses nothing else). */
static json_t *httpjson_fill(json_t *t, const char *q, const char *kstr, int k)
{
    json_t *out, *v;
    const char *key;
    size_t i;

    switch (json_typeof(t)) {
    case JSON_STRING:
        return httpjson_fill_string(t, q, kstr, k);
    case JSON_OBJECT:
        if (!(out = json_object()))
            return NULL;
        json_object_foreach(t, key, v)
            if (json_object_set_new_nocheck(out, key, httpjson_fill(v, q, kstr, k)) != 0)
                goto fail;
        return out;
    case JSON_ARRAY:
        if (!(out = json_array()))
            return NULL;
        json_array_foreach(t, i, v)
            if (json_array_append_new(out, httpjson_fill(v, q, kstr, k)) != 0)
                goto fail;
        return out;
    default:
        return json_incref(t);
    }
fail:
    json_decref(out);
    return NULL;
}

/* The request URL and (for POST) body for q, malloc'd into *url and *body;
 * the caller frees both, whatever this returns. */
static int httpjson_build(const hj *h, const ragd_query *q, char **url, char **body)
{
    char kstr[16], *enc = httpjson_escape(q->text);
    json_t *b;
    size_t n;

    if (!enc)
        return RAGD_ENOMEM;
    snprintf(kstr, sizeof kstr, "%d", q->k);
    *url = httpjson_expand(h->url, strlen(h->url), enc, kstr, &n);
    free(enc);
    if (!*url)
        return RAGD_ENOMEM;
    if (!h->body)
        return RAGD_OK;
    b = httpjson_fill(h->body, q->text, kstr, q->k);
    *body = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(b);
    return *body ? RAGD_OK : RAGD_ENOMEM;
}

/* ---------------------------------------------------------- response -- */

/* The value at p inside v, or NULL.  A segment indexes an array when the
 * value there is an array and the segment is all digits. */
static json_t *httpjson_path_get(const httpjson_path *p, json_t *v)
{
    for (size_t i = 0; i < p->n && v; i++) {
        const char *s = p->seg[i];
        if (json_is_object(v))
            v = json_object_get(v, s);
        else if (json_is_array(v) && s[strspn(s, "0123456789")] == '\0')
            v = json_array_get(v, strtoul(s, NULL, 10));
        else
            v = NULL;
    }
    return v;
}

static json_t *httpjson_field(const hj *h, int f, json_t *item)
{
    return h->field[f] ? httpjson_path_get(h->field[f], item) : NULL;
}

static const char *httpjson_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_NULL: return "null";
    default: return "a boolean";
    }
}

/* The results array in root, or NULL with a message naming the path. */
static json_t *httpjson_results(const hj *h, json_t *root, char *why, size_t len)
{
    json_t *list = httpjson_path_get(h->results, root);

    if (json_is_array(list))
        return list;
    if (h->results->n == 0)
        snprintf(why, len, "results: the upstream response is %s, not an array (set results to "
                 "the path of its results array)", httpjson_kind(root));
    else if (!list)
        snprintf(why, len, "results: no \"%s\" in the upstream response", h->results->text);
    else
        snprintf(why, len, "results: \"%s\" in the upstream response is %s, not an array",
                 h->results->text, httpjson_kind(list));
    return NULL;
}

/* The strings of array a joined with " ", malloc'd into *own.  0, 1 when
 * there is no text, -1 when out of memory. */
static int httpjson_join(json_t *a, char **own)
{
    size_t i, n = 0, len;
    json_t *v;
    char *p;

    json_array_foreach(a, i, v)
        if ((len = json_string_length(v)) > 0)
            n += len + 1;
    if (n == 0)
        return 1;
    if (!(p = *own = malloc(n)))
        return -1;
    json_array_foreach(a, i, v)
        if ((len = json_string_length(v)) > 0) {
            memcpy(p, json_string_value(v), len);
            p += len;
            *p++ = ' ';
        }
    p[-1] = '\0';
    return 0;
}

/* A hit's text: a non-empty string, or an array of strings joined (search
 * engines return highlight fragments that way).  0, 1 when there is none,
 * -1 when out of memory. */
static int httpjson_text(json_t *v, char **own, const char **text)
{
    int rc;

    if (json_string_length(v) > 0) {
        *text = json_string_value(v);
        return 0;
    }
    if (!json_is_array(v))
        return 1;
    if ((rc = httpjson_join(v, own)) == 0)
        *text = *own;
    return rc;
}

/* A hit's id: a non-empty string, or a number written as a string (many
 * engines use numeric document ids).  0, 1 when there is none, -1 when out
 * of memory. */
static int httpjson_id(json_t *v, char **own, const char **id)
{
    if (json_string_length(v) > 0) {
        *id = json_string_value(v);
        return 0;
    }
    if (!json_is_number(v))
        return 1;
    if (!(*own = malloc(32)))
        return -1;
    if (json_is_integer(v))
        snprintf(*own, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (snprintf(*own, 32, "%.15g", json_real_value(v)) > 0 &&
             strtod(*own, NULL) != json_real_value(v))
        snprintf(*own, 32, "%.17g", json_real_value(v)); /* 15 digits were not exact */
    *id = *own;
    return 0;
}

/* Append item, the rank-th upstream result, to out unless it lacks a text
 * or an id.  0, or -1 when out of memory. */
static int httpjson_add(const hj *h, json_t *item, size_t rank, httpjson_hits *out)
{
    ragd_hit *hit = &out->v[out->n];
    char **own = &out->own[2 * out->n];
    json_t *id = h->field[HJ_ID] ? httpjson_field(h, HJ_ID, item) : httpjson_field(h, HJ_URL, item);
    json_t *score = httpjson_field(h, HJ_SCORE, item);
    const char *s;
    int rc;

    if ((rc = httpjson_id(id, &own[0], &hit->id)) != 0 ||
        (rc = httpjson_text(httpjson_field(h, HJ_TEXT, item), &own[1], &hit->text)) != 0) {
        /* skipped: the slots are reused by the next result */
        free(own[0]);
        free(own[1]);
        own[0] = own[1] = NULL;
        out->skipped += rc > 0;
        return rc > 0 ? 0 : -1;
    }
    s = json_string_value(httpjson_field(h, HJ_TITLE, item));
    hit->title = s ? s : "";
    s = json_string_value(httpjson_field(h, HJ_URL, item));
    hit->url = s && *s ? s : NULL;
    hit->score = json_is_number(score) ? json_number_value(score) : 1.0 / (double)(rank + 1);
    out->n++;
    return 0;
}

/* Map the first results of list to at most k hits, in upstream order. */
static int httpjson_collect(const hj *h, json_t *list, int k, httpjson_hits *out)
{
    size_t i;
    json_t *item;

    if (!(out->v = calloc((size_t)k, sizeof *out->v)) ||
        !(out->own = calloc(2 * (size_t)k, sizeof *out->own)))
        return -1;
    json_array_foreach(list, i, item) {
        if (out->n == (size_t)k)
            break;
        if (httpjson_add(h, item, i, out) != 0)
            return -1;
    }
    return 0;
}

static void httpjson_hits_release(httpjson_hits *hits, int k)
{
    if (hits->own)
        for (size_t i = 0; i < 2 * (size_t)k; i++)
            free(hits->own[i]);
    free(hits->own);
    free(hits->v);
}

/* A 200 response: parse, map and complete the search. */
static void httpjson_answer(httpjson_search *s, const char *body, size_t len)
{
    const hj *h = s->h;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr), *list;
    httpjson_hits hits = {0};
    char why[HJ_ERR_MAX];

    if (!root) {
        snprintf(why, sizeof why, "malformed JSON from upstream: %s (byte %d)", jerr.text,
                 jerr.position);
        s->cb(s->arg, RAGD_ERR, NULL, 0, why);
    } else if (!(list = httpjson_results(h, root, why, sizeof why))) {
        s->cb(s->arg, RAGD_ERR, NULL, 0, why);
    } else if (httpjson_collect(h, list, s->k, &hits) != 0) {
        s->cb(s->arg, RAGD_ENOMEM, NULL, 0, "out of memory");
    } else {
        /* a mapping that matches nothing looks like "no results": say so */
        if (hits.skipped)
            h->host->log(h->host, RAGD_LOG_DEBUG, "skipped %zu results without a text or an id",
                         hits.skipped);
        s->cb(s->arg, RAGD_OK, hits.v, hits.n, NULL);
    }
    httpjson_hits_release(&hits, s->k);
    json_decref(root);
}

/* The start of an error body, on one line, for the debug log: upstreams
 * explain a 4xx there (a bad index name, a malformed query).  Not when the
 * body holds a configured header value: an upstream may echo a credential. */
static void httpjson_log_error_body(const hj *h, long http_status, const char *body, size_t len)
{
    char line[201];
    size_t n = len < sizeof line - 1 ? len : sizeof line - 1;

    for (size_t i = 0; i < h->nconf; i++) {
        const char *v = strchr(h->headers[i], ':') + 2;
        if (*v && memmem(body, len, v, strlen(v))) {
            h->host->log(h->host, RAGD_LOG_DEBUG, "HTTP %ld (body not logged: it holds a "
                         "configured header value)", http_status);
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        line[i] = (unsigned char)body[i] < ' ' ? ' ' : body[i];
    line[n] = '\0';
    h->host->log(h->host, RAGD_LOG_DEBUG, "HTTP %ld: %s", http_status, line);
}

static void httpjson_http_done(void *arg, int status, long http_status, const char *body, size_t len,
                         const char *error)
{
    httpjson_search *s = arg;
    char why[HJ_ERR_MAX];

    if (status != RAGD_OK) {
        s->cb(s->arg, status, NULL, 0, error ? error : "request failed");
    } else if (http_status != 200) {
        httpjson_log_error_body(s->h, http_status, body, len);
        snprintf(why, sizeof why, "upstream answered HTTP %ld", http_status);
        s->cb(s->arg, RAGD_ERR, NULL, 0, why);
    } else {
        httpjson_answer(s, body, len);
    }
    free(s);
}

/* ------------------------------------------------------------ search -- */

static int httpjson_search_start(void *self, const ragd_query *q, ragd_search_cb cb, void *arg,
                           ragd_op **op)
{
    hj *h = self;
    httpjson_search *s = calloc(1, sizeof *s);
    ragd_http_request req = {0};
    int64_t left = q->deadline_ms - h->host->now_ms(h->host);
    char *url = NULL, *body = NULL;
    int rc = RAGD_ENOMEM;

    if (!s || (rc = httpjson_build(h, q, &url, &body)) != RAGD_OK)
        goto done;
    s->h = h;
    s->k = q->k;
    s->cb = cb;
    s->arg = arg;
    req.method = h->post ? "POST" : "GET";
    req.url = url;
    req.headers = (const char *const *)h->headers;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    /* ragd's own timer ends the search at its deadline; libcurl's limit is
     * only a backstop, set later so it never wins that race. */
    req.timeout_ms = (left > 1 ? (long)left : 1) + HJ_TIMEOUT_SLACK_MS;
    req.max_response = h->max_response;
    rc = h->host->http_request(h->host, &req, httpjson_http_done, s, &s->xfer);
done:
    free(url);
    free(body);
    if (rc != RAGD_OK) {
        free(s);
        return rc;
    }
    *op = (ragd_op *)s;
    return RAGD_OK;
}

/* The transfer's callback still runs, with RAGD_ECANCELED, and completes
 * the search. */
static void httpjson_cancel(void *self, ragd_op *op)
{
    hj *h = self;

    h->host->http_cancel(h->host, ((httpjson_search *)op)->xfer);
}

static const ragd_source_type httpjson_type = {
    RAGD_SOURCE_ABI_VERSION, "httpjson", httpjson_create, httpjson_search_start, httpjson_cancel, httpjson_destroy,
    RAGD_SOURCE_LOOPS,
};

const ragd_source_type *ragd_source_entry(void);

const ragd_source_type *ragd_source_entry(void)
{
    return &httpjson_type;
}
