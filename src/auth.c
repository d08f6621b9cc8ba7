/*
 * auth -- API keys and scopes (see auth.h).
 *
 * A presented key is compared with every configured key, each comparison
 * touching every byte, so neither which key matched nor how much of one
 * did shows in the time taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/http.h>
#include <jansson.h>

#include "auth.h"
#include "reply.h"

typedef struct auth_key {
    char *name;
    char *key;
    size_t len;
    unsigned scopes;          /* auth_scope bits */
} auth_key;

struct auth {
    auth_key *keys;
    size_t n;
    int loopback;             /* ragd listens on a loopback address */
};

static const struct {
    const char *name;
    auth_scope scope;
} auth_scopes[] = {{"search", AUTH_SEARCH}, {"write", AUTH_WRITE}, {"admin", AUTH_ADMIN}};
#define AUTH_NSCOPES (sizeof auth_scopes / sizeof *auth_scopes)

void auth_free(auth **ap)
{
    auth *a = *ap;

    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->keys[i].name);
        if (a->keys[i].key)
            explicit_bzero(a->keys[i].key, a->keys[i].len);
        free(a->keys[i].key);
    }
    free(a->keys);
    free(a);
    *ap = NULL;
}

/* ------------------------------------------------------------- load -- */

static int auth_entry_scopes(auth_key *k, size_t i, json_t *v, char *err, size_t errlen)
{
    size_t j, s;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) == 0) {
        snprintf(err, errlen, "keys[%zu].scopes: must be a non-empty array of search, write, admin", i);
        return -1;
    }
    json_array_foreach(v, j, item) {
        for (s = 0; s < AUTH_NSCOPES; s++)
            if (json_is_string(item) && !strcmp(json_string_value(item), auth_scopes[s].name))
                break;
        if (s == AUTH_NSCOPES) {
            snprintf(err, errlen, "keys[%zu].scopes[%zu]: must be \"search\", \"write\" or \"admin\"",
                     i, j);
            return -1;
        }
        k->scopes |= auth_scopes[s].scope;
    }
    return 0;
}

/* A non-empty string field of entry i without spaces or control bytes. */
static int auth_entry_string(json_t *e, size_t i, const char *field, char **out, char *err,
                             size_t errlen)
{
    json_t *v = json_object_get(e, field);
    const char *s = json_string_value(v);

    if (!v) {
        snprintf(err, errlen, "keys[%zu].%s: required", i, field);
        return -1;
    }
    if (!s || !*s || strlen(s) != json_string_length(v) || strpbrk(s, " \t\r\n")) {
        snprintf(err, errlen, "keys[%zu].%s: must be a non-empty string without spaces", i, field);
        return -1;
    }
    if (!(*out = strdup(s))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int auth_entry(auth *a, size_t i, json_t *e, char *err, size_t errlen)
{
    auth_key *k = &a->keys[i];
    const char *field;
    json_t *v;

    if (!json_is_object(e)) {
        snprintf(err, errlen, "keys[%zu]: must be an object {\"name\", \"key\", \"scopes\"}", i);
        return -1;
    }
    json_object_foreach(e, field, v)
        if (strcmp(field, "name") && strcmp(field, "key") && strcmp(field, "scopes")) {
            snprintf(err, errlen, "keys[%zu].%.64s: unknown field", i, field);
            return -1;
        }
    if (auth_entry_string(e, i, "name", &k->name, err, errlen) != 0 ||
        auth_entry_string(e, i, "key", &k->key, err, errlen) != 0)
        return -1;
    k->len = strlen(k->key);
    for (size_t j = 0; j < i; j++)
        if (!strcmp(a->keys[j].key, k->key)) {
            snprintf(err, errlen, "keys[%zu].key: the same key as keys[%zu]", i, j);
            return -1;
        }
    if (!json_object_get(e, "scopes")) {
        snprintf(err, errlen, "keys[%zu].scopes: required", i);
        return -1;
    }
    return auth_entry_scopes(k, i, json_object_get(e, "scopes"), err, errlen);
}

static int auth_from_json(auth *a, json_t *root, char *err, size_t errlen)
{
    json_t *keys = json_object_get(root, "keys");
    const char *field;
    json_t *v;

    if (!json_is_object(root)) {
        snprintf(err, errlen, "must be a JSON object {\"keys\": [...]}");
        return -1;
    }
    json_object_foreach(root, field, v)
        if (strcmp(field, "keys")) {
            snprintf(err, errlen, "%.64s: unknown field", field);
            return -1;
        }
    if (!json_is_array(keys) || json_array_size(keys) == 0) {
        snprintf(err, errlen, "keys: must be a non-empty array of {\"name\", \"key\", \"scopes\"}");
        return -1;
    }
    if (!(a->keys = calloc(json_array_size(keys), sizeof *a->keys))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(keys); i++) {
        a->n = i + 1; /* so auth_free frees a half-read entry */
        if (auth_entry(a, i, json_array_get(keys, i), err, errlen) != 0)
            return -1;
    }
    return 0;
}

int auth_parse(auth **out, const char *text, size_t len, char *err, size_t errlen)
{
    auth *a = calloc(1, sizeof *a);
    json_error_t jerr;
    json_t *root = NULL;

    *out = NULL;
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
        snprintf(err, errlen, "line %d: %s", jerr.line, jerr.text);
        goto fail;
    }
    if (auth_from_json(a, root, err, errlen) != 0)
        goto fail;
    json_decref(root);
    *out = a;
    return 0;
fail:
    json_decref(root);
    auth_free(&a);
    return -1;
}

/* Read the whole of fd, a private file, into a malloc'd buffer. */
static char *auth_read(int fd, const char *path, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    char *text = NULL;
    ssize_t got;

    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "api keys %s: %s", path, strerror(errno));
        return NULL;
    }
    if (st.st_mode & (S_IRGRP | S_IROTH)) {
        snprintf(err, errlen, "api keys %s: readable by other users (mode %04o); keys must be "
                 "private: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
        snprintf(err, errlen, "api keys %s: not a regular file of at most 1 MiB", path);
        return NULL;
    }
    if (!(text = malloc((size_t)st.st_size + 1))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (*len = 0; *len < (size_t)st.st_size; *len += (size_t)got)
        if ((got = read(fd, text + *len, (size_t)st.st_size - *len)) <= 0) {
            snprintf(err, errlen, "api keys %s: cannot read: %s", path,
                     got < 0 ? strerror(errno) : "file shrank");
            free(text);
            return NULL;
        }
    return text;
}

int auth_load(auth **out, const char *path, char *err, size_t errlen)
{
    char why[384];
    char *text;
    size_t len = 0;
    int fd, rc;

    *out = NULL;
    if (!path) {
        if (!(*out = calloc(1, sizeof **out))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "api keys %s: %s", path, strerror(errno));
        return -1;
    }
    text = auth_read(fd, path, &len, err, errlen);
    close(fd);
    if (!text)
        return -1;
    if ((rc = auth_parse(out, text, len, why, sizeof why)) != 0)
        snprintf(err, errlen, "api keys %s: %s", path, why);
    explicit_bzero(text, len);
    free(text);
    return rc;
}

/* ----------------------------------------------------------- listen -- */

int auth_listens_loopback(const auth *a)
{
    return a->loopback;
}

int auth_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

void auth_set_listen(auth *a, const struct sockaddr *bound)
{
    a->loopback = auth_is_loopback(bound);
}

/* ----------------------------------------------------------- decide -- */

/* Whether a[0..alen) equals b[0..blen), in time that depends on alen only. */
static int auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char d = alen != blen;

    for (size_t i = 0; i < alen; i++)
        d |= (unsigned char)a[i] ^ (unsigned char)(i < blen ? b[i] : 0);
    return d == 0;
}

static const char *auth_scope_name(auth_scope s)
{
    for (size_t i = 0; i < AUTH_NSCOPES; i++)
        if (auth_scopes[i].scope == s)
            return auth_scopes[i].name;
    return "?";
}

static int auth_verdict_set(auth_verdict *v, int status, const char *code, const char *fmt,
                            const char *arg)
{
    v->status = status;
    v->code = code;
    snprintf(v->message, sizeof v->message, fmt, arg);
    return status;
}

/* With no keys: search is open; write only on a loopback listen address. */
static int auth_decide_open(const auth *a, auth_scope need, auth_verdict *v)
{
    if (need == AUTH_SEARCH || (need == AUTH_WRITE && a->loopback))
        return auth_verdict_set(v, 0, NULL, "%s", "");
    return auth_verdict_set(v, 403, "forbidden",
                            "the %s endpoints need API keys when ragd listens on a non-loopback "
                            "address: give keys with this scope in --api-keys FILE "
                            "(api_keys_file in the config file)", auth_scope_name(need));
}

int auth_decide(const auth *a, const char *authorization, auth_scope need, auth_verdict *v)
{
    const char *key;
    unsigned scopes = 0;
    int found = 0;

    if (a->n == 0)
        return auth_decide_open(a, need, v);
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return auth_verdict_set(v, 401, "unauthorized", "%s",
                                "this endpoint needs an API key: send Authorization: Bearer <key>");
    for (key = authorization + 7; *key == ' '; key++)
        ;
    for (size_t i = 0; i < a->n; i++) {
        int eq = auth_equal(a->keys[i].key, a->keys[i].len, key, strlen(key));
        found |= eq;
        scopes |= a->keys[i].scopes & (0u - (unsigned)eq);
    }
    if (!found)
        return auth_verdict_set(v, 401, "unauthorized", "%s", "unknown API key");
    if (!(scopes & need))
        return auth_verdict_set(v, 403, "forbidden", "this API key lacks the \"%s\" scope",
                                auth_scope_name(need));
    return auth_verdict_set(v, 0, NULL, "%s", "");
}

int auth_check(const auth *a, struct evhttp_request *req, auth_scope need)
{
    auth_verdict v;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

    if (auth_decide(a, h, need, &v) == 0)
        return 0;
    if (v.status == 401)
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
    reply_error(req, v.status, v.code, v.message);
    return -1;
}
