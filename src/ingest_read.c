/*
 * ingest_read -- reading `ragd ingest`'s inputs into documents.
 *
 * JSONL is read line by line, so a corpus of any size streams through one
 * batch; a text file is read whole, as it is one document.  What cannot be
 * read is reported and skipped, never fatal: only running out of memory or
 * a read error in the middle of a file stops the run.
 */
#include "ingest_read.h"

#include "utf8.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define INGEST_READ_MAX_LINE (16u << 20)
#define INGEST_READ_MAX_FILE (64u << 20)

/* Report one skipped line or file through the sink. */
static void ingest_read_skip(const ingest_read_sink *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ingest_read_skip(const ingest_read_sink *k, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    k->skip(k->arg, msg);
}

/* Stop the run with a fatal error; returns -1. */
static int ingest_read_fail(const ingest_read_sink *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int ingest_read_fail(const ingest_read_sink *k, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return k->fail(k->arg, msg);
}

static int ingest_read_has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);

    return n > e && strcasecmp(path + n - e, ext) == 0;
}

static int ingest_read_is_text_file(const char *path)
{
    return ingest_read_has_ext(path, ".md") || ingest_read_has_ext(path, ".txt");
}

int ingest_read_accepts(const char *path)
{
    return ingest_read_has_ext(path, ".jsonl") || ingest_read_is_text_file(path);
}

void ingest_read_doc_release(ingest_read_doc *d)
{
    free(d->id);
    free(d->title);
    free(d->url);
    free(d->metadata);
    free(d->text);
    memset(d, 0, sizeof *d);
}

/* --------------------------------------------------------------- JSONL -- */

static int ingest_read_is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(" \t\r\n\f\v", s[i]))
            return 0;
    return 1;
}

/* Why text[0..n) is no document, or NULL when it is one: a document
 * without words would only be found by its title, and is most likely a
 * mistake in the input. */
static const char *ingest_read_no_text(const char *text, size_t n)
{
    if (n == 0)
        return "empty";
    return ingest_read_is_blank(text, n) ? "only whitespace" : NULL;
}

/* The document id of a JSONL object as a malloc'd string.  Returns 1 with
 * the id, 0 with why in msg, or -1 when out of memory. */
static int ingest_read_json_id(const json_t *obj, char **id, char *msg,
                          size_t msglen)
{
    const char *key = json_object_get(obj, "_id") ? "_id" : "id";
    const json_t *v = json_object_get(obj, key);
    char num[32];
    double x;

    if (!v) {
        snprintf(msg, msglen, "missing \"_id\"");
        return 0;
    }
    if (json_is_string(v)) {
        if (json_string_length(v) == 0) {
            snprintf(msg, msglen, "empty \"%s\"", key);
            return 0;
        }
        *id = strdup(json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        *id = strdup(num);
    } else if (json_is_real(v) && (x = json_real_value(v)) > -0x1p53
               && x < 0x1p53 && x == (double)(long long)x) {
        /* 1e3 parses as a real; its decimal string is still "1000". */
        snprintf(num, sizeof num, "%lld", (long long)x);
        *id = strdup(num);
    } else {
        snprintf(msg, msglen, "\"%s\" is not a string or an integer", key);
        return 0;
    }
    return *id ? 1 : -1;
}

/* An optional string member: NULL when absent or null.  Returns 1, or 0
 * with why in msg when it is something else. */
static int ingest_read_json_opt_string(const json_t *obj, const char *key,
                                  const char **out, char *msg, size_t msglen)
{
    const json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return 1;
    if (!json_is_string(v)) {
        snprintf(msg, msglen, "\"%s\" is not a string", key);
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

/* Fill d from one parsed JSONL object.  Returns 1, 0 with why in msg, or
 * -1 when out of memory. */
static int ingest_read_json_doc(const json_t *obj, ingest_read_doc *d, char *msg,
                           size_t msglen)
{
    const json_t *text = json_object_get(obj, "text");
    const json_t *meta = json_object_get(obj, "metadata");
    const char *title, *url, *why;
    int rc;

    if (!json_is_object(obj)) {
        snprintf(msg, msglen, "not a JSON object");
        return 0;
    }
    if (!text) {
        snprintf(msg, msglen, "missing \"text\"");
        return 0;
    }
    if (!json_is_string(text)) {
        snprintf(msg, msglen, "\"text\" is not a string");
        return 0;
    }
    if ((why = ingest_read_no_text(json_string_value(text), json_string_length(text)))) {
        snprintf(msg, msglen, "\"text\" is %s", why);
        return 0;
    }
    if (!ingest_read_json_opt_string(obj, "title", &title, msg, msglen)
        || !ingest_read_json_opt_string(obj, "url", &url, msg, msglen))
        return 0;
    if ((rc = ingest_read_json_id(obj, &d->id, msg, msglen)) <= 0)
        return rc;
    d->text_len = json_string_length(text);
    d->text = strdup(json_string_value(text));
    d->title = strdup(title ? title : "");
    d->url = url ? strdup(url) : NULL;
    d->metadata = meta ? json_dumps(meta, JSON_COMPACT | JSON_ENCODE_ANY)
                       : NULL;
    if (!d->text || !d->title || (url && !d->url) || (meta && !d->metadata))
        return -1;
    return 1;
}

/* One JSONL line (without its newline): skipped with a report when
 * malformed, else handed to the sink. */
static int ingest_read_line(const ingest_read_sink *k, const char *path, size_t lineno,
                       const char *line, size_t len)
{
    ingest_read_doc d = {0};
    json_error_t jerr;
    json_t *obj;
    char msg[256];
    int rc;

    if (ingest_read_is_blank(line, len))
        return 0;
    if (!(obj = json_loadb(line, len, 0, &jerr))) {
        ingest_read_skip(k, "%s:%zu: invalid JSON: %s", path, lineno, jerr.text);
        return 0;
    }
    rc = ingest_read_json_doc(obj, &d, msg, sizeof msg);
    json_decref(obj);
    if (rc == 1)
        return k->add(k->arg, &d);
    ingest_read_doc_release(&d);
    if (rc < 0)
        return ingest_read_fail(k, "out of memory");
    ingest_read_skip(k, "%s:%zu: %s", path, lineno, msg);
    return 0;
}

static int ingest_read_jsonl(const ingest_read_sink *k, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = 0;

    if (!f) {
        ingest_read_skip(k, "%s: %s", path, strerror(errno));
        return 0;
    }
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)n;
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len > INGEST_READ_MAX_LINE) {
            ingest_read_skip(k, "%s:%zu: line longer than 16 MiB", path, lineno);
            /* Give the huge buffer back rather than keep it all run. */
            free(line);
            line = NULL;
            cap = 0;
            continue;
        }
        rc = ingest_read_line(k, path, lineno, line, len);
    }
    /* getline also stops on a read error or ENOMEM, not only at EOF. */
    if (rc == 0 && !feof(f))
        rc = ingest_read_fail(k, "%s: read error: %s", path,
                         strerror(errno));
    free(line);
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------- text files -- */

/* The first "# " heading of Markdown text outside ``` or ~~~ fences, as a
 * malloc'd string, or NULL (also when out of memory: the caller then
 * falls back to the base name). */
static char *ingest_read_heading(const char *text, size_t len)
{
    int fenced = 0;

    for (size_t i = 0; i < len;) {
        const char *l = text + i;
        size_t n = strcspn(l, "\n");
        i += n + 1;
        if (n >= 3 && (!strncmp(l, "```", 3) || !strncmp(l, "~~~", 3)))
            fenced = !fenced;
        if (fenced || n < 2 || strncmp(l, "# ", 2) != 0)
            continue;
        const char *h = l + 2, *e = l + n;
        while (h < e && strchr(" \t", *h))
            h++;
        while (e > h && strchr(" \t\r", e[-1]))
            e--;
        if (e > h)
            return strndup(h, (size_t)(e - h));
    }
    return NULL;
}

/* Read path whole into a malloc'd NUL-terminated buffer.  Returns 0, or -1
 * with why in msg. */
static int ingest_read_slurp(const char *path, char **out, size_t *len, char *msg,
                        size_t msglen)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    char *buf = NULL;

    *out = NULL;
    if (!f || fstat(fileno(f), &sb) != 0) {
        snprintf(msg, msglen, "%s", strerror(errno));
        goto fail;
    }
    if (sb.st_size > (off_t)INGEST_READ_MAX_FILE) {
        snprintf(msg, msglen, "larger than 64 MiB");
        goto fail;
    }
    if (!(buf = malloc((size_t)sb.st_size + 1))) {
        snprintf(msg, msglen, "out of memory");
        goto fail;
    }
    *len = fread(buf, 1, (size_t)sb.st_size, f);
    if (ferror(f)) {
        snprintf(msg, msglen, "read error: %s", strerror(errno));
        goto fail;
    }
    buf[*len] = '\0';
    fclose(f);
    *out = buf;
    return 0;
fail:
    free(buf);
    if (f)
        fclose(f);
    return -1;
}

/* One .txt or .md file as one document; skipped with a report when it
 * cannot be read or is not UTF-8 text. */
static int ingest_read_text_file(const ingest_read_sink *k, const char *path)
{
    ingest_read_doc d = {0};
    const char *base = strrchr(path, '/');
    const char *why;
    char msg[256];
    char *buf;
    size_t len, bad;

    if (ingest_read_slurp(path, &buf, &len, msg, sizeof msg) < 0) {
        ingest_read_skip(k, "%s: %s", path, msg);
        return 0;
    }
    /* What jansson accepts when the server sends the text back as JSON. */
    if ((bad = utf8_span(buf, len)) != len) {
        free(buf);
        ingest_read_skip(k, "%s: not UTF-8 text (byte %zu)", path, bad);
        return 0;
    }
    /* A byte-order mark is not text; drop it. */
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
        memmove(buf, buf + 3, len - 2);
        len -= 3;
    }
    if ((why = ingest_read_no_text(buf, len))) {
        free(buf);
        ingest_read_skip(k, "%s: %s", path, why);
        return 0;
    }
    d.text = buf;
    d.text_len = len;
    d.id = strdup(path);
    d.title = ingest_read_heading(buf, len);
    if (!d.title)
        d.title = strdup(base ? base + 1 : path);
    if (!d.id || !d.title) {
        ingest_read_doc_release(&d);
        return ingest_read_fail(k, "out of memory");
    }
    return k->add(k->arg, &d);
}

/* ----------------------------------------------------------- directories -- */

typedef struct ingest_read_paths {
    char **v;
    size_t n, cap;
} ingest_read_paths;

static int ingest_read_paths_push(ingest_read_paths *p, char *s)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = s;
    return 0;
}

static void ingest_read_paths_release(ingest_read_paths *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Collect the .md/.txt files below dir into p.  A subdirectory that cannot
 * be read is reported and skipped; returns -1 only when out of memory. */
static int ingest_read_walk(const ingest_read_sink *k, const char *dir, ingest_read_paths *p)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;

    if (!d) {
        ingest_read_skip(k, "%s: %s", dir, strerror(errno));
        return 0;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        struct stat sb;
        char *path;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            rc = -1;
            break;
        }
        /* lstat first: a link to a directory could loop, so links are
         * followed only to files. */
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            rc = ingest_read_walk(k, path, p);
            free(path);
        } else if (ingest_read_is_text_file(path) && stat(path, &sb) == 0
                   && S_ISREG(sb.st_mode)) {
            if ((rc = ingest_read_paths_push(p, path)) < 0)
                free(path);
        } else {
            free(path);
        }
    }
    closedir(d);
    return rc;
}

static int ingest_read_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ingest_read_dir(const ingest_read_sink *k, const char *dir)
{
    ingest_read_paths p = {0};
    char *root = strdup(dir);
    size_t n;
    int rc = 0;

    if (!root)
        return ingest_read_fail(k, "out of memory");
    /* "docs/" and "docs" give the same ids. */
    n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        root[--n] = '\0';
    if (ingest_read_walk(k, root, &p) < 0)
        rc = ingest_read_fail(k, "out of memory");
    else
        qsort(p.v, p.n, sizeof *p.v, ingest_read_strcmp);
    for (size_t i = 0; rc == 0 && i < p.n; i++)
        rc = ingest_read_text_file(k, p.v[i]);
    ingest_read_paths_release(&p);
    free(root);
    return rc;
}

int ingest_read_input(const ingest_read_sink *k, const char *path)
{
    struct stat sb;

    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return ingest_read_dir(k, path);
    if (ingest_read_has_ext(path, ".jsonl"))
        return ingest_read_jsonl(k, path);
    return ingest_read_text_file(k, path);
}

