/*
 * config -- `ragd serve` settings from flags and an optional JSON file.
 *
 * The file is described by schemas/config.schema.json; every flag overrides
 * the file's value.  Secrets are not configuration: upstream API keys come
 * only from environment variables and client API keys from their own
 * private file (api_keys_file names it), so a config file can be shared and
 * logged.
 */
#ifndef RAGD_CONFIG_H
#define RAGD_CONFIG_H

#include <stddef.h>
#include <jansson.h>

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8080"
#define CONFIG_DEFAULT_TIMEOUT_MS 1500
#define CONFIG_MAX_TIMEOUT_MS 60000
#define CONFIG_DEFAULT_CONTEXT_TOKENS 3000
#define CONFIG_DEFAULT_LLM_MODEL "gpt-4o-mini"
#define CONFIG_DEFAULT_LLM_MAX_TOKENS 512
#define CONFIG_DEFAULT_LLM_TIMEOUT_MS 30000
/* At most one request in twenty is hedged, so a slow upstream sees at most
 * 5% more load. */
#define CONFIG_DEFAULT_HEDGE_SHARE 0.05
#define CONFIG_MAX_LOOPS 64
/* Event loops when neither --loops nor the file says: 0 is one per core
 * ("auto"). */
#define CONFIG_DEFAULT_LOOPS 0

typedef struct config {
    char *db;           /* store file, or NULL */
    char *listen;       /* "HOST:PORT" */
    char *web_url;      /* SearxNG base URL, or NULL: web disabled */
    char *embed_url;    /* overrides the store's recorded embeddings URL */
    int timeout_ms;     /* default per-request deadline */
    unsigned workers;   /* worker threads; 0 means one per core */
    unsigned loops;     /* event loops serving HTTP; 0 means one per core */
    int loops_given;    /* whether loops was set (flag or file), not defaulted */
    int log_level;
    size_t max_body;    /* largest accepted request body, bytes */
    size_t max_query;   /* longest accepted query, bytes */
    json_t *sources;    /* array of source instance objects (owned) */
    char *llm_url;      /* OpenAI-compatible base URL, or NULL: extractive answers */
    char *llm_model;
    double llm_temperature;   /* < 0: not sent */
    int llm_max_tokens;
    int llm_timeout_ms; /* the generation's own deadline, after retrieval */
    int context_tokens; /* budget of the context sent to the LLM */
    char *prompt_file;  /* prompt template, or NULL for the built-in one */
    char *plugin_dir;   /* where source types that are not built in are found */
    char *api_keys_file; /* API keys and their scopes (auth.h), or NULL: none */
    char *access_log;   /* the access log's file, or NULL: stderr */
    int log_queries;    /* put query texts in the access log */
    int pin_threads;    /* loop i and worker i on the i-th CPU (pin.h) */
    /* Limits on what clients and upstreams control (config_limit_specs). */
    long max_connections;    /* open at once; 0: derived from RLIMIT_NOFILE */
    long max_inflight;       /* searches at once; past it, 503 with Retry-After */
    long max_headers;        /* request line and headers, bytes */
    long read_timeout_ms;    /* to read a whole request, headers and body */
    long idle_timeout_ms;    /* between bytes read or written; keep-alive idle */
    long max_pending_input;  /* bytes a client may send while its request is served */
    long max_output;         /* unread bytes of a streamed reply before generation pauses */
    long max_k;              /* largest k a request may ask for */
    long max_upstream_bytes; /* largest response body taken from an upstream */
    long max_sse_event;      /* largest event (and line) of an upstream stream */
    long max_batch_queries;  /* most queries in one /search/batch */
    long max_documents_bytes; /* largest POST /documents body */
    long max_batch_bytes;    /* largest POST /search/batch body */
    long job_retention_s;    /* how long finished jobs and their payloads are kept */
    long change_log_keep;    /* newest change log entries writers keep (store_log_keep) */
    long cache_ttl_ms;       /* life of a cached /search result; 0: no cache */
    long cache_max_bytes;    /* memory the result cache may hold */
    long breaker_failures;   /* instances' breaker_failures unless set; 0: off */
    double hedge_share;      /* instances' hedge_share unless set; 0: off */
    json_t *cors_origins;    /* array of origin strings browsers may call from (owned), or NULL */
} config;

/* The most CORS origins, and the longest one in bytes. */
#define CONFIG_MAX_CORS_ORIGINS 64
#define CONFIG_MAX_CORS_ORIGIN 256

/* Fill c from `ragd serve` arguments (argv[0] is "serve").  Returns 0 on
 * success, 1 when --help was printed, or -1 with a message naming the
 * problem in err.  The caller releases c with config_release either way. */
int config_from_args(config *c, int argc, char **argv, char *err, size_t errlen);

/* For a reload: give next the running values of the settings that need
 * a restart (the listen address, the store, the embedder, the LLM and the
 * prompt, the plugin directory, the worker count, and the limits the LLM
 * client and the jobs took at start), so next describes what will run.
 * Strings move between the two (running gets next's, to be freed with it).
 * changed (len bytes) lists the settings next wanted to change: ""
 * when none. */
void config_keep_fixed(config *next, config *running, char *changed, size_t len);

/* Free what c owns; c may then be reused. */
void config_release(config *c);

/* Split "HOST:PORT" (HOST may be "[v6]") into host and port.  Returns 0 or -1. */
int config_split_listen(const char *listen, char *host, size_t hostlen, int *port);

/* The `ragd serve` usage text. */
extern const char config_serve_usage[];

#endif /* RAGD_CONFIG_H */
