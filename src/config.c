/*
 * config -- parse `ragd serve` flags and the JSON config file into a config.
 *
 * Order: defaults, then the file (--config), then the other flags, so a flag
 * always wins.  The default source list (vector, kb, web) is built later by
 * the registry from what is set here.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "store.h"

const char config_serve_usage[] =
    "usage: ragd serve --db FILE [options]\n"
    "\n"
    "Serve /search over HTTP, asking every enabled source concurrently.\n"
    "\n"
    "  --db FILE          store built by 'ragd ingest' (vector + kb sources)\n"
    "  --store URL        a store in PostgreSQL (postgres://...), shared by replicas,\n"
    "                     instead of --db (vector source; see 'ragd migrate')\n"
    "  --listen HOST:PORT address to listen on (default " CONFIG_DEFAULT_LISTEN ";\n"
    "                     port 0 picks a free port, shown in the ready line)\n"
    "  --web-url URL      SearxNG base URL for the web source (default: disabled)\n"
    "  --timeout-ms N     default per-request deadline (default 1500)\n"
    "  --workers N        worker threads for SQLite work (default: one per core)\n"
    "  --loops N|auto     event loops serving HTTP, one thread each (default: auto,\n"
    "                     one per core)\n"
    "  --pin-threads      run loop i and worker i on the i-th CPU ragd may use\n"
    "                     (default: wherever the kernel puts them)\n"
    "  --embed-url URL    embeddings endpoint, when the store used --embedder openai\n"
    "  --llm-url URL      OpenAI-compatible API base URL for answers, e.g.\n"
    "                     https://api.openai.com/v1 (default: extractive answers)\n"
    "  --llm-model NAME   model to ask (default " CONFIG_DEFAULT_LLM_MODEL ")\n"
    "  --llm-temperature X  sampling temperature (default: the server's)\n"
    "  --llm-max-tokens N answer length limit (default 512)\n"
    "  --llm-timeout-ms N deadline of the LLM call, after retrieval (default 30000)\n"
    "  --context-tokens N budget of the context given to the LLM (default 3000)\n"
    "  --prompt FILE      prompt template, JSON {\"system\": ..., \"user\": ...}\n"
    "  --plugin-dir DIR   where plugin source types are found (default " RAGD_PLUGIN_DIR ")\n"
    "  --api-keys FILE    API keys and scopes, JSON {\"keys\": [{\"name\", \"key\",\n"
    "                     \"scopes\"}]}; a private file (default: none)\n"
    "  --config FILE      JSON config (schemas/config.schema.json); flags override it\n"
    "  --log-level LEVEL  error, warn, info (default) or debug\n"
    "  --access-log FILE  one JSON line per request, appended to FILE\n"
    "                     (default: stderr)\n"
    "  --log-queries      put each search's query text in the access log\n"
    "  --cors-origin ORIGIN  let browsers on ORIGIN (e.g. https://app.example)\n"
    "                     call ragd; repeatable, added to the config's list;\n"
    "                     * allows any origin (default: none)\n"
    "  --help             this text\n"
    "\n"
    "Limits (each also a config file key, with _ for -):\n"
    "  --max-connections N   client connections open at once (default: the\n"
    "                        descriptor limit less a reserve for upstreams)\n"
    "  --max-inflight N      searches at once; past it 503 + Retry-After (1024)\n"
    "  --max-headers N       bytes of request line and headers (65536)\n"
    "  --max-body-bytes N    bytes of a request body (65536)\n"
    "  --max-query-bytes N   bytes of a query (4096)\n"
    "  --max-k N             largest k a request may ask for (100)\n"
    "  --read-timeout-ms N   to read a whole request (30000)\n"
    "  --idle-timeout-ms N   between bytes read or written; idle keep-alive (60000)\n"
    "  --max-pending-input N bytes a client may send while served (65536)\n"
    "  --max-output N        unread bytes of a stream before it pauses (262144)\n"
    "  --max-upstream-bytes N  largest upstream response body (8388608)\n"
    "  --max-sse-event N     largest upstream stream event or line (1048576)\n"
    "  --max-batch-queries N queries in one /search/batch (1000)\n"
    "  --max-batch-bytes N   bytes of a POST /search/batch body (4194304)\n"
    "  --max-documents-bytes N  bytes of a POST /documents body (67108864)\n"
    "  --job-retention-s N   seconds finished jobs are kept; 0 forever (604800)\n"
    "  --change-log-keep N   newest change log entries kept; a replica further\n"
    "                        behind reloads its indexes (1000000)\n"
    "  --cache-ttl-ms N      keep /search results this long for identical\n"
    "                        searches; 0 turns the cache off (0)\n"
    "  --cache-max-bytes N   memory the result cache may hold (67108864)\n"
    "  --breaker-failures N  failures in a row that open a source's circuit\n"
    "                        breaker, unless its config says; 0 turns it off (5)\n"
    "  --hedge-share X       share of an HTTP source's requests that may be\n"
    "                        hedged, unless its config says; 0 turns it off (0.05)\n"
    "\n"
    "Environment: RAGD_EMBED_API_KEY (bearer key for the embeddings endpoint),\n"
    "RAGD_LLM_API_KEY (bearer key for the LLM API).  Keys are never logged.\n";

enum { OPT_DB = 256, OPT_LISTEN, OPT_WEB_URL, OPT_TIMEOUT, OPT_WORKERS, OPT_LOOPS, OPT_EMBED_URL,
       OPT_CONFIG, OPT_LOG_LEVEL, OPT_HELP, OPT_LLM_URL, OPT_LLM_MODEL, OPT_LLM_TEMPERATURE,
       OPT_LLM_MAX_TOKENS, OPT_CONTEXT_TOKENS, OPT_PROMPT, OPT_LLM_TIMEOUT, OPT_PLUGIN_DIR,
       OPT_MAX_BODY, OPT_MAX_QUERY, OPT_API_KEYS, OPT_ACCESS_LOG, OPT_LOG_QUERIES, OPT_CORS_ORIGIN,
       OPT_HEDGE_SHARE, OPT_STORE, OPT_PIN_THREADS,
       OPT_LIMIT /* OPT_LIMIT + i: config_limit_specs[i] */ };

/* The numeric limits, each a flag and a config file key. */
typedef struct config_limit_spec {
    const char *key;        /* file key; the flag is the same with '-' for '_' */
    size_t offset;          /* of a long in config */
    long min, max, def;
} config_limit_spec;

#define CONFIG_LIMIT(name, min, max, def) {#name, offsetof(config, name), min, max, def}
static const config_limit_spec config_limit_specs[] = {
    CONFIG_LIMIT(max_connections, 1, 1000000, 0),
    CONFIG_LIMIT(max_inflight, 1, 1000000, 1024),
    CONFIG_LIMIT(max_headers, 1024, 16L << 20, 64L << 10),
    CONFIG_LIMIT(max_k, 1, 1000, 100),
    CONFIG_LIMIT(read_timeout_ms, 100, 3600000, 30000),
    CONFIG_LIMIT(idle_timeout_ms, 100, 3600000, 60000),
    CONFIG_LIMIT(max_pending_input, 0, 16L << 20, 64L << 10),
    CONFIG_LIMIT(max_output, 1024, 1L << 30, 256L << 10),
    CONFIG_LIMIT(max_upstream_bytes, 1024, 1L << 30, 8L << 20),
    CONFIG_LIMIT(max_sse_event, 256, 64L << 20, 1L << 20),
    CONFIG_LIMIT(max_batch_queries, 1, 100000, 1000),
    CONFIG_LIMIT(max_documents_bytes, 1024, 1L << 30, 64L << 20),
    CONFIG_LIMIT(job_retention_s, 0, 10L * 365 * 86400, 7L * 86400),
    CONFIG_LIMIT(max_batch_bytes, 1024, 1L << 30, 4L << 20),
    CONFIG_LIMIT(cache_ttl_ms, 0, 86400000, 0),
    CONFIG_LIMIT(cache_max_bytes, 1024, 1L << 30, 64L << 20),
    CONFIG_LIMIT(breaker_failures, 0, 1000, 5),
    CONFIG_LIMIT(change_log_keep, 1, 1L << 40, STORE_CHANGE_LOG_KEEP),
};
#define CONFIG_NLIMITS (sizeof config_limit_specs / sizeof *config_limit_specs)

static const struct option config_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"store", required_argument, NULL, OPT_STORE},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"web-url", required_argument, NULL, OPT_WEB_URL},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"loops", required_argument, NULL, OPT_LOOPS},
    {"embed-url", required_argument, NULL, OPT_EMBED_URL},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {"llm-url", required_argument, NULL, OPT_LLM_URL},
    {"llm-model", required_argument, NULL, OPT_LLM_MODEL},
    {"llm-temperature", required_argument, NULL, OPT_LLM_TEMPERATURE},
    {"hedge-share", required_argument, NULL, OPT_HEDGE_SHARE},
    {"llm-max-tokens", required_argument, NULL, OPT_LLM_MAX_TOKENS},
    {"context-tokens", required_argument, NULL, OPT_CONTEXT_TOKENS},
    {"prompt", required_argument, NULL, OPT_PROMPT},
    {"llm-timeout-ms", required_argument, NULL, OPT_LLM_TIMEOUT},
    {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
    {"max-body-bytes", required_argument, NULL, OPT_MAX_BODY},
    {"max-query-bytes", required_argument, NULL, OPT_MAX_QUERY},
    {"api-keys", required_argument, NULL, OPT_API_KEYS},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"log-queries", no_argument, NULL, OPT_LOG_QUERIES},
    {"pin-threads", no_argument, NULL, OPT_PIN_THREADS},
    {"cors-origin", required_argument, NULL, OPT_CORS_ORIGIN},
    {"max-connections", required_argument, NULL, OPT_LIMIT + 0},
    {"max-inflight", required_argument, NULL, OPT_LIMIT + 1},
    {"max-headers", required_argument, NULL, OPT_LIMIT + 2},
    {"max-k", required_argument, NULL, OPT_LIMIT + 3},
    {"read-timeout-ms", required_argument, NULL, OPT_LIMIT + 4},
    {"idle-timeout-ms", required_argument, NULL, OPT_LIMIT + 5},
    {"max-pending-input", required_argument, NULL, OPT_LIMIT + 6},
    {"max-output", required_argument, NULL, OPT_LIMIT + 7},
    {"max-upstream-bytes", required_argument, NULL, OPT_LIMIT + 8},
    {"max-sse-event", required_argument, NULL, OPT_LIMIT + 9},
    {"max-batch-queries", required_argument, NULL, OPT_LIMIT + 10},
    {"max-documents-bytes", required_argument, NULL, OPT_LIMIT + 11},
    {"job-retention-s", required_argument, NULL, OPT_LIMIT + 12},
    {"max-batch-bytes", required_argument, NULL, OPT_LIMIT + 13},
    {"cache-ttl-ms", required_argument, NULL, OPT_LIMIT + 14},
    {"cache-max-bytes", required_argument, NULL, OPT_LIMIT + 15},
    {"breaker-failures", required_argument, NULL, OPT_LIMIT + 16},
    {"change-log-keep", required_argument, NULL, OPT_LIMIT + 17},
    {NULL, 0, NULL, 0},
};

static long *config_limit_slot(config *c, size_t i)
{
    return (long *)((char *)c + config_limit_specs[i].offset);
}

static int config_set_str(char **slot, const char *value)
{
    char *s = strdup(value);
    if (!s)
        return -1;
    free(*slot);
    *slot = s;
    return 0;
}

static int config_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int config_split_listen(const char *listen, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(listen, ':');
    const char *h = listen;
    size_t n;
    long p;

    if (!colon || config_parse_long(colon + 1, 0, 65535, &p) != 0)
        return -1;
    n = (size_t)(colon - listen);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (int)p;
    return 0;
}

static int config_file_str(json_t *v, const char *key, char **slot, char *err, size_t errlen)
{
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s: expected a string", key);
        return -1;
    }
    return config_set_str(slot, json_string_value(v));
}

static int config_file_int(json_t *v, const char *key, long min, long max, long *out,
                           char *err, size_t errlen)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(err, errlen, "%s: expected an integer from %ld to %ld", key, min, max);
        return -1;
    }
    *out = (long)json_integer_value(v);
    return 0;
}

/* Append one CORS origin to c's list.  An origin is echoed into a reply
 * header, so it must be short and printable without spaces. */
static int config_add_origin(config *c, const char *origin, char *err, size_t errlen)
{
    size_t len = strlen(origin);

    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)origin[i] <= ' ' || (unsigned char)origin[i] >= 0x7f)
            len = 0;
    }
    if (len == 0 || len > CONFIG_MAX_CORS_ORIGIN) {
        snprintf(err, errlen, "cors origin: expected 1 to %d printable characters without spaces, "
                 "like https://app.example", CONFIG_MAX_CORS_ORIGIN);
        return -1;
    }
    if (!c->cors_origins && !(c->cors_origins = json_array()))
        return -1;
    if (json_array_size(c->cors_origins) >= CONFIG_MAX_CORS_ORIGINS) {
        snprintf(err, errlen, "cors origin: at most %d origins", CONFIG_MAX_CORS_ORIGINS);
        return -1;
    }
    return json_array_append_new(c->cors_origins, json_string(origin));
}

static int config_file_origins(config *c, json_t *v, char *err, size_t errlen)
{
    size_t i;
    json_t *o;

    if (!json_is_array(v)) {
        snprintf(err, errlen, "cors_origins: expected an array of origin strings");
        return -1;
    }
    json_array_foreach(v, i, o) {
        if (!json_is_string(o)) {
            snprintf(err, errlen, "cors_origins[%zu]: expected a string", i);
            return -1;
        }
        if (config_add_origin(c, json_string_value(o), err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* When key is a limit, apply it and return 1 with *rc set (0 or -1). */
static int config_file_limit(config *c, const char *key, json_t *v, char *err, size_t errlen,
                             long *rc)
{
    for (size_t i = 0; i < CONFIG_NLIMITS; i++) {
        const config_limit_spec *l = &config_limit_specs[i];
        if (strcmp(key, l->key) == 0) {
            *rc = config_file_int(v, key, l->min, l->max, config_limit_slot(c, i), err, errlen);
            return 1;
        }
    }
    return 0;
}

/* --store URL: a database's store, which takes the place of --db (one
 * store serves a process; the store module tells the two apart). */
static int config_store_url(config *c, const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "postgres://", 11) && strncmp(url, "postgresql://", 13)) {
        snprintf(err, errlen, "store: expected postgres:// or postgresql://, got \"%.200s\"", url);
        return -1;
    }
    return config_set_str(&c->db, url);
}

static int config_store(config *c, json_t *v, char *err, size_t errlen)
{
    if (!json_is_string(v)) {
        snprintf(err, errlen, "store: expected a string");
        return -1;
    }
    return config_store_url(c, json_string_value(v), err, errlen);
}

/* Apply one top-level key of the config file. */
static int config_file_key(config *c, const char *key, json_t *v, char *err, size_t errlen)
{
    long n;

    if (!strcmp(key, "db")) return config_file_str(v, key, &c->db, err, errlen);
    if (!strcmp(key, "store")) return config_store(c, v, err, errlen);
    if (!strcmp(key, "listen")) return config_file_str(v, key, &c->listen, err, errlen);
    if (!strcmp(key, "web_url")) return config_file_str(v, key, &c->web_url, err, errlen);
    if (!strcmp(key, "embed_url")) return config_file_str(v, key, &c->embed_url, err, errlen);
    if (!strcmp(key, "llm_url")) return config_file_str(v, key, &c->llm_url, err, errlen);
    if (!strcmp(key, "llm_model")) return config_file_str(v, key, &c->llm_model, err, errlen);
    if (!strcmp(key, "prompt_file")) return config_file_str(v, key, &c->prompt_file, err, errlen);
    if (!strcmp(key, "plugin_dir")) return config_file_str(v, key, &c->plugin_dir, err, errlen);
    if (!strcmp(key, "api_keys_file")) return config_file_str(v, key, &c->api_keys_file, err, errlen);
    if (!strcmp(key, "access_log")) return config_file_str(v, key, &c->access_log, err, errlen);
    if (!strcmp(key, "log_queries") || !strcmp(key, "pin_threads")) {
        if (!json_is_boolean(v)) {
            snprintf(err, errlen, "%s: expected true or false", key);
            return -1;
        }
        *(!strcmp(key, "log_queries") ? &c->log_queries : &c->pin_threads) = json_is_true(v);
        return 0;
    }
    if (!strcmp(key, "cors_origins")) return config_file_origins(c, v, err, errlen);
    if (!strcmp(key, "timeout_ms")) {
        if (config_file_int(v, key, 1, CONFIG_MAX_TIMEOUT_MS, &n, err, errlen)) return -1;
        c->timeout_ms = (int)n;
    } else if (!strcmp(key, "workers")) {
        if (config_file_int(v, key, 1, 256, &n, err, errlen)) return -1;
        c->workers = (unsigned)n;
    } else if (!strcmp(key, "loops")) {
        if (json_is_string(v) && !strcmp(json_string_value(v), "auto"))
            n = 0;
        else if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                 json_integer_value(v) > CONFIG_MAX_LOOPS) {
            snprintf(err, errlen, "loops: expected an integer from 1 to %d, or \"auto\"",
                     CONFIG_MAX_LOOPS);
            return -1;
        } else
            n = json_integer_value(v);
        c->loops = (unsigned)n;
        c->loops_given = 1;
    } else if (!strcmp(key, "llm_max_tokens")) {
        if (config_file_int(v, key, 1, 1000000, &n, err, errlen)) return -1;
        c->llm_max_tokens = (int)n;
    } else if (!strcmp(key, "llm_timeout_ms")) {
        if (config_file_int(v, key, 1, 600000, &n, err, errlen)) return -1;
        c->llm_timeout_ms = (int)n;
    } else if (!strcmp(key, "context_tokens")) {
        if (config_file_int(v, key, 0, 1000000, &n, err, errlen)) return -1;
        c->context_tokens = (int)n;
    } else if (!strcmp(key, "llm_temperature")) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 2) {
            snprintf(err, errlen, "llm_temperature: expected a number from 0 to 2");
            return -1;
        }
        c->llm_temperature = json_number_value(v);
    } else if (!strcmp(key, "hedge_share")) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
            snprintf(err, errlen, "hedge_share: expected a number from 0 to 1");
            return -1;
        }
        c->hedge_share = json_number_value(v);
    } else if (!strcmp(key, "max_body_bytes")) {
        if (config_file_int(v, key, 1024, 16L << 20, &n, err, errlen)) return -1;
        c->max_body = (size_t)n;
    } else if (!strcmp(key, "max_query_bytes")) {
        if (config_file_int(v, key, 16, 1L << 20, &n, err, errlen)) return -1;
        c->max_query = (size_t)n;
    } else if (config_file_limit(c, key, v, err, errlen, &n)) {
        return (int)n;
    } else if (!strcmp(key, "log_level")) {
        if (!json_is_string(v) || (c->log_level = log_parse_level(json_string_value(v))) < 0) {
            snprintf(err, errlen, "log_level: expected error, warn, info or debug");
            return -1;
        }
    } else if (!strcmp(key, "sources")) {
        if (!json_is_array(v)) {
            snprintf(err, errlen, "sources: expected an array of source objects");
            return -1;
        }
        json_decref(c->sources);
        c->sources = json_deep_copy(v);
    } else {
        snprintf(err, errlen, "unknown key \"%s\"", key);
        return -1;
    }
    return 0;
}

static int config_load_file(config *c, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    const char *key;
    json_t *v;
    char why[512];
    int rc = -1;

    if (!root) {
        snprintf(err, errlen, "config %s: line %d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "config %s: expected a JSON object", path);
        goto done;
    }
    json_object_foreach(root, key, v) {
        if (config_file_key(c, key, v, why, sizeof why) != 0) {
            snprintf(err, errlen, "config %s: %s", path, why);
            goto done;
        }
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

static void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = CONFIG_DEFAULT_TIMEOUT_MS;
    c->log_level = LOG_INFO;
    c->max_body = 64 << 10;
    c->max_query = 4096;
    c->llm_temperature = -1;
    c->hedge_share = CONFIG_DEFAULT_HEDGE_SHARE;
    c->loops = CONFIG_DEFAULT_LOOPS;
    c->llm_max_tokens = CONFIG_DEFAULT_LLM_MAX_TOKENS;
    c->context_tokens = CONFIG_DEFAULT_CONTEXT_TOKENS;
    c->llm_timeout_ms = CONFIG_DEFAULT_LLM_TIMEOUT_MS;
    for (size_t i = 0; i < CONFIG_NLIMITS; i++)
        *config_limit_slot(c, i) = config_limit_specs[i].def;
}

/* Apply one command-line flag. */
/* A flag's number from 0 to max into *out.  Returns 0, or -1 naming flag. */
static int config_flag_number(const char *arg, const char *flag, double max, double *out,
                              char *err, size_t errlen)
{
    char *end;
    double v = strtod(arg, &end);

    if (end == arg || *end || !(v >= 0 && v <= max)) {
        snprintf(err, errlen, "%s: expected a number from 0 to %g, got \"%s\"", flag, max, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int config_flag(config *c, int opt, const char *arg, char *err, size_t errlen)
{
    long n;

    switch (opt) {
    case OPT_DB: return config_set_str(&c->db, arg);
    case OPT_STORE: return config_store_url(c, arg, err, errlen);
    case OPT_LISTEN: return config_set_str(&c->listen, arg);
    case OPT_WEB_URL: return config_set_str(&c->web_url, arg);
    case OPT_EMBED_URL: return config_set_str(&c->embed_url, arg);
    case OPT_CONFIG: return 0; /* loaded first, in config_from_args */
    case OPT_LLM_URL: return config_set_str(&c->llm_url, arg);
    case OPT_LLM_MODEL: return config_set_str(&c->llm_model, arg);
    case OPT_PROMPT: return config_set_str(&c->prompt_file, arg);
    case OPT_PLUGIN_DIR: return config_set_str(&c->plugin_dir, arg);
    case OPT_API_KEYS: return config_set_str(&c->api_keys_file, arg);
    case OPT_ACCESS_LOG: return config_set_str(&c->access_log, arg);
    case OPT_LOG_QUERIES: c->log_queries = 1; return 0;
    case OPT_PIN_THREADS: c->pin_threads = 1; return 0;
    case OPT_CORS_ORIGIN: return config_add_origin(c, arg, err, errlen);
    case OPT_LLM_TEMPERATURE:
        return config_flag_number(arg, "--llm-temperature", 2, &c->llm_temperature, err, errlen);
    case OPT_HEDGE_SHARE:
        return config_flag_number(arg, "--hedge-share", 1, &c->hedge_share, err, errlen);
    case OPT_LLM_MAX_TOKENS:
        if (config_parse_long(arg, 1, 1000000, &n) != 0) {
            snprintf(err, errlen, "--llm-max-tokens: expected a positive integer, got \"%s\"", arg);
            return -1;
        }
        c->llm_max_tokens = (int)n;
        return 0;
    case OPT_LLM_TIMEOUT:
        if (config_parse_long(arg, 1, 600000, &n) != 0) {
            snprintf(err, errlen, "--llm-timeout-ms: expected an integer from 1 to 600000, got \"%s\"", arg);
            return -1;
        }
        c->llm_timeout_ms = (int)n;
        return 0;
    case OPT_CONTEXT_TOKENS:
        if (config_parse_long(arg, 0, 1000000, &n) != 0) {
            snprintf(err, errlen, "--context-tokens: expected an integer >= 0, got \"%s\"", arg);
            return -1;
        }
        c->context_tokens = (int)n;
        return 0;
    case OPT_TIMEOUT:
        if (config_parse_long(arg, 1, CONFIG_MAX_TIMEOUT_MS, &n) != 0) {
            snprintf(err, errlen, "--timeout-ms: expected an integer from 1 to %d, got \"%s\"",
                     CONFIG_MAX_TIMEOUT_MS, arg);
            return -1;
        }
        c->timeout_ms = (int)n;
        return 0;
    case OPT_LOOPS:
        if (!strcmp(arg, "auto"))
            n = 0;
        else if (config_parse_long(arg, 1, CONFIG_MAX_LOOPS, &n) != 0) {
            snprintf(err, errlen, "--loops: expected an integer from 1 to %d, or auto, got \"%s\"",
                     CONFIG_MAX_LOOPS, arg);
            return -1;
        }
        c->loops = (unsigned)n;
        c->loops_given = 1;
        return 0;
    case OPT_WORKERS:
        if (config_parse_long(arg, 1, 256, &n) != 0) {
            snprintf(err, errlen, "--workers: expected an integer from 1 to 256, got \"%s\"", arg);
            return -1;
        }
        c->workers = (unsigned)n;
        return 0;
    case OPT_MAX_BODY:
    case OPT_MAX_QUERY:
        if (config_parse_long(arg, opt == OPT_MAX_BODY ? 1024 : 16,
                              opt == OPT_MAX_BODY ? 16L << 20 : 1L << 20, &n) != 0) {
            snprintf(err, errlen, "--%s: expected an integer from %ld to %ld, got \"%s\"",
                     opt == OPT_MAX_BODY ? "max-body-bytes" : "max-query-bytes",
                     opt == OPT_MAX_BODY ? 1024L : 16L, opt == OPT_MAX_BODY ? 16L << 20 : 1L << 20,
                     arg);
            return -1;
        }
        *(opt == OPT_MAX_BODY ? &c->max_body : &c->max_query) = (size_t)n;
        return 0;
    case OPT_LOG_LEVEL:
        if ((c->log_level = log_parse_level(arg)) < 0) {
            snprintf(err, errlen, "--log-level: expected error, warn, info or debug, got \"%s\"", arg);
            return -1;
        }
        return 0;
    default:
        if (opt >= OPT_LIMIT && opt < OPT_LIMIT + (int)CONFIG_NLIMITS) {
            const config_limit_spec *l = &config_limit_specs[opt - OPT_LIMIT];
            if (config_parse_long(arg, l->min, l->max, config_limit_slot(c, opt - OPT_LIMIT))) {
                char flag[32];
                snprintf(flag, sizeof flag, "%s", l->key);
                for (char *p = flag; *p; p++)
                    *p = *p == '_' ? '-' : *p;
                snprintf(err, errlen, "--%s: expected an integer from %ld to %ld, got \"%s\"",
                         flag, l->min, l->max, arg);
                return -1;
            }
            return 0;
        }
        snprintf(err, errlen, "unknown option (see 'ragd serve --help')");
        return -1;
    }
}

int config_from_args(config *c, int argc, char **argv, char *err, size_t errlen)
{
    char host[256];
    int opt, port;

    config_defaults(c);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", config_opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(config_serve_usage, stdout);
            return 1;
        }
        if (opt == '?' || opt == ':') {
            snprintf(err, errlen, "%s: unknown option or missing value (see 'ragd serve --help')",
                     argv[optind - 1]);
            return -1;
        }
        if (opt == OPT_CONFIG && config_load_file(c, optarg, err, errlen) != 0)
            return -1;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument \"%s\" (see 'ragd serve --help')", argv[optind]);
        return -1;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", config_opts, NULL)) != -1)
        if (config_flag(c, opt, optarg, err, errlen) != 0)
            return -1;
    if ((!c->listen && config_set_str(&c->listen, CONFIG_DEFAULT_LISTEN) != 0) ||
        (!c->plugin_dir && config_set_str(&c->plugin_dir, RAGD_PLUGIN_DIR) != 0) ||
        (!c->llm_model && config_set_str(&c->llm_model, CONFIG_DEFAULT_LLM_MODEL) != 0))
        return -1;
    if (c->llm_url && strncmp(c->llm_url, "http://", 7) && strncmp(c->llm_url, "https://", 8)) {
        snprintf(err, errlen, "llm url: expected http:// or https://, got \"%s\"", c->llm_url);
        return -1;
    }
    if (config_split_listen(c->listen, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "listen: expected HOST:PORT, got \"%s\"", c->listen);
        return -1;
    }
    if (!c->db && !c->sources) {
        snprintf(err, errlen, "--db FILE or --store URL is required (build one with 'ragd ingest')");
        return -1;
    }
    return 0;
}

/* Swap *a and *b when they differ (strings), noting name in changed. */
static void config_keep_str(char **next, char **running, const char *name, char *changed,
                            size_t len)
{
    char *t = *next;

    if ((*next == NULL) != (*running == NULL) || (*next && strcmp(*next, *running) != 0))
        snprintf(changed + strlen(changed), len - strlen(changed), "%s%s", *changed ? ", " : "",
                 name);
    *next = *running;
    *running = t;
}

#define CONFIG_KEEP_NUM(field, name)                                                         \
    do {                                                                                     \
        if (next->field != running->field)                                                   \
            snprintf(changed + strlen(changed), len - strlen(changed), "%s%s",               \
                     *changed ? ", " : "", name);                                            \
        next->field = running->field;                                                        \
    } while (0)

void config_keep_fixed(config *next, config *running, char *changed, size_t len)
{
    *changed = '\0';
    config_keep_str(&next->listen, &running->listen, "listen", changed, len);
    config_keep_str(&next->db, &running->db, "db", changed, len);
    config_keep_str(&next->embed_url, &running->embed_url, "embed_url", changed, len);
    config_keep_str(&next->llm_url, &running->llm_url, "llm_url", changed, len);
    config_keep_str(&next->llm_model, &running->llm_model, "llm_model", changed, len);
    config_keep_str(&next->prompt_file, &running->prompt_file, "prompt_file", changed, len);
    config_keep_str(&next->plugin_dir, &running->plugin_dir, "plugin_dir", changed, len);
    CONFIG_KEEP_NUM(workers, "workers");
    CONFIG_KEEP_NUM(loops, "loops");
    CONFIG_KEEP_NUM(pin_threads, "pin_threads");
    next->loops_given = running->loops_given;
    CONFIG_KEEP_NUM(llm_temperature, "llm_temperature");
    CONFIG_KEEP_NUM(llm_max_tokens, "llm_max_tokens");
    CONFIG_KEEP_NUM(context_tokens, "context_tokens");
    CONFIG_KEEP_NUM(max_sse_event, "max_sse_event");
    CONFIG_KEEP_NUM(job_retention_s, "job_retention_s");
    CONFIG_KEEP_NUM(change_log_keep, "change_log_keep");
}

void config_release(config *c)
{
    free(c->db);
    free(c->listen);
    free(c->web_url);
    free(c->embed_url);
    json_decref(c->sources);
    json_decref(c->cors_origins);
    free(c->llm_url);
    free(c->llm_model);
    free(c->prompt_file);
    free(c->plugin_dir);
    free(c->api_keys_file);
    free(c->access_log);
    memset(c, 0, sizeof *c);
}
