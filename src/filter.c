/*
 * filter -- parse a metadata filter into a tree of nodes, and match it.
 *
 * Literals are not copied: the filter holds a reference to the JSON it was
 * parsed from and its conditions point into it.  Errors name the path
 * inside the filter the way a client wrote it ("filter.$or[1].year.$gte").
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

typedef enum filter_kind {
    FILTER_AND, FILTER_OR,
    FILTER_EQ, FILTER_NE, FILTER_IN, FILTER_NIN,
    FILTER_GT, FILTER_GTE, FILTER_LT, FILTER_LTE
} filter_kind;

/* One node.  AND/OR: kids[0..nkids), owned.  A condition: the key's parts
 * (one owned buffer, parts separated by NULs; npart of them; is_id when
 * the key is "id") and the operand, borrowed from the filter's JSON: a
 * scalar, or for IN/NIN an array of scalars. */
typedef struct filter_node {
    filter_kind kind;
    struct filter_node **kids;
    size_t nkids;
    char *key;
    size_t npart;
    int is_id;
    const json_t *operand;
} filter_node;

struct ragd_filter {
    json_t *spec;       /* a reference */
    filter_node *root;  /* an AND */
    int uses_id;        /* some condition is on the document id */
    unsigned refs;
};

/* A parse in progress: the path so far for messages, and the budget. */
typedef struct filter_parser {
    char path[512];
    size_t terms;
    int uses_id;
    char *err;
    size_t errlen;
} filter_parser;

static const struct {
    const char *name;
    filter_kind kind;
} filter_ops[] = {
    {"$eq", FILTER_EQ}, {"$ne", FILTER_NE}, {"$in", FILTER_IN}, {"$nin", FILTER_NIN},
    {"$gt", FILTER_GT}, {"$gte", FILTER_GTE}, {"$lt", FILTER_LT}, {"$lte", FILTER_LTE},
};
#define FILTER_NOPS (sizeof filter_ops / sizeof *filter_ops)

static void filter_node_free(filter_node *nd)
{
    if (!nd)
        return;
    for (size_t i = 0; i < nd->nkids; i++)
        filter_node_free(nd->kids[i]);
    free(nd->kids);
    free(nd->key);
    free(nd);
}

filter *filter_hold(filter *f)
{
    f->refs++;
    return f;
}

void filter_free(filter **fp)
{
    filter *f = *fp;

    *fp = NULL;
    if (!f || --f->refs > 0)
        return;
    filter_node_free(f->root);
    json_decref(f->spec);
    free(f);
}

const json_t *filter_json(const filter *f)
{
    return f->spec;
}

/* ------------------------------------------------------------ parsing -- */

static int filter_fail(filter_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int filter_fail(filter_parser *p, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->err, p->errlen, "%s: ", p->path);

    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Append ".key" or "[i]" to the path and return its old length, to restore
 * with filter_path_pop.  A path too long to keep is cut, never overrun. */
static size_t filter_path_key(filter_parser *p, const char *key)
{
    size_t n = strlen(p->path);

    snprintf(p->path + n, sizeof p->path - n, ".%.64s", key);
    return n;
}

static size_t filter_path_index(filter_parser *p, size_t i)
{
    size_t n = strlen(p->path);

    snprintf(p->path + n, sizeof p->path - n, "[%zu]", i);
    return n;
}

static void filter_path_pop(filter_parser *p, size_t n)
{
    p->path[n] = '\0';
}

static int filter_term(filter_parser *p)
{
    if (++p->terms > FILTER_MAX_TERMS)
        return filter_fail(p, "more than %d conditions and values", FILTER_MAX_TERMS);
    return 0;
}

/* A new node of kind with room for nkids children; NULL with err. */
static filter_node *filter_node_new(filter_parser *p, filter_kind kind, size_t nkids)
{
    filter_node *nd = calloc(1, sizeof *nd);

    if (nd && nkids && !(nd->kids = calloc(nkids, sizeof *nd->kids))) {
        free(nd);
        nd = NULL;
    }
    if (!nd)
        filter_fail(p, "out of memory");
    if (nd)
        nd->kind = kind;
    return nd;
}

static int filter_is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

/* Check an operator's operand; the path names the operator. */
static int filter_operand(filter_parser *p, filter_kind kind, const json_t *v)
{
    size_t i, at;
    const json_t *item;

    switch (kind) {
    case FILTER_IN:
    case FILTER_NIN:
        if (!json_is_array(v))
            return filter_fail(p, "expected an array of strings, numbers, booleans or null");
        json_array_foreach(v, i, item) {
            if (filter_term(p) != 0)
                return -1;
            if (!filter_is_scalar(item)) {
                at = filter_path_index(p, i);
                filter_fail(p, "expected a string, number, boolean or null");
                filter_path_pop(p, at);
                return -1;
            }
        }
        return 0;
    case FILTER_GT:
    case FILTER_GTE:
    case FILTER_LT:
    case FILTER_LTE:
        return json_is_number(v) || json_is_string(v)
                   ? 0 : filter_fail(p, "expected a number or string");
    default:
        return filter_is_scalar(v)
                   ? 0 : filter_fail(p, "expected a string, number, boolean or null");
    }
}

/* A condition node of kind on key, operand v. */
static filter_node *filter_leaf(filter_parser *p, filter_kind kind, const char *key,
                                const json_t *v)
{
    filter_node *nd;

    if (filter_term(p) != 0 || filter_operand(p, kind, v) != 0 ||
        !(nd = filter_node_new(p, kind, 0)))
        return NULL;
    if (!(nd->key = strdup(key))) {
        filter_node_free(nd);
        filter_fail(p, "out of memory");
        return NULL;
    }
    nd->npart = 1;
    for (char *c = nd->key; *c; c++)
        if (*c == '.') {
            *c = '\0';
            nd->npart++;
        }
    nd->is_id = strcmp(key, "id") == 0;
    p->uses_id |= nd->is_id;
    nd->operand = v;
    return nd;
}

/* The condition key: value, where value is a literal or an object of
 * operators (several are ANDed).  The path names key. */
static filter_node *filter_condition(filter_parser *p, const char *key, const json_t *value)
{
    filter_node *nd;
    const char *op;
    json_t *v;
    size_t at, i;

    if (!key[0] || key[0] == '.' || key[strlen(key) - 1] == '.' || strstr(key, ".."))
        return filter_fail(p, "a key must not be empty nor have an empty part"), NULL;
    if (!json_is_object(value)) {
        if (!filter_is_scalar(value))
            return filter_fail(p, "expected a string, number, boolean, null or an object "
                                  "of operators"), NULL;
        return filter_leaf(p, FILTER_EQ, key, value);
    }
    if (json_object_size(value) == 0)
        return filter_fail(p, "expected at least one operator"), NULL;
    if (!(nd = filter_node_new(p, FILTER_AND, json_object_size(value))))
        return NULL;
    json_object_foreach((json_t *)value, op, v) {
        at = filter_path_key(p, op);
        for (i = 0; i < FILTER_NOPS && strcmp(op, filter_ops[i].name) != 0; i++)
            ;
        if (i == FILTER_NOPS) {
            filter_fail(p, "unknown operator (expected $eq, $ne, $in, $nin, $gt, $gte, "
                           "$lt or $lte)");
            goto fail;
        }
        if (!(nd->kids[nd->nkids] = filter_leaf(p, filter_ops[i].kind, key, v)))
            goto fail;
        nd->nkids++;
        filter_path_pop(p, at);
    }
    return nd;
fail:
    filter_node_free(nd);
    return NULL;
}

static filter_node *filter_object(filter_parser *p, const json_t *obj, int depth);

/* $and or $or: a non-empty array of filter objects.  The path names it. */
static filter_node *filter_logic(filter_parser *p, filter_kind kind, const json_t *arr,
                                 int depth)
{
    filter_node *nd;
    const json_t *item;
    size_t i, at;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return filter_fail(p, "expected a non-empty array of objects"), NULL;
    if (depth >= FILTER_MAX_DEPTH)
        return filter_fail(p, "nested deeper than %d", FILTER_MAX_DEPTH), NULL;
    if (!(nd = filter_node_new(p, kind, json_array_size(arr))))
        return NULL;
    json_array_foreach(arr, i, item) {
        at = filter_path_index(p, i);
        if (!(nd->kids[i] = filter_object(p, item, depth + 1))) {
            filter_node_free(nd);
            return NULL;
        }
        nd->nkids++;
        filter_path_pop(p, at);
    }
    return nd;
}

/* An object of conditions, ANDed.  The path names the object. */
static filter_node *filter_object(filter_parser *p, const json_t *obj, int depth)
{
    filter_node *nd, *kid;
    const char *key;
    json_t *v;
    size_t at;

    if (!json_is_object(obj))
        return filter_fail(p, "expected an object"), NULL;
    if (!(nd = filter_node_new(p, FILTER_AND, json_object_size(obj))))
        return NULL;
    json_object_foreach((json_t *)obj, key, v) {
        at = filter_path_key(p, key);
        if (!strcmp(key, "$and") || !strcmp(key, "$or"))
            kid = filter_logic(p, key[1] == 'a' ? FILTER_AND : FILTER_OR, v, depth);
        else if (key[0] == '$')
            kid = (filter_fail(p, "unknown operator (expected $and, $or or a metadata key)"),
                   NULL);
        else
            kid = filter_condition(p, key, v);
        if (!kid) {
            filter_node_free(nd);
            return NULL;
        }
        nd->kids[nd->nkids++] = kid;
        filter_path_pop(p, at);
    }
    return nd;
}

int filter_parse(json_t *spec, filter **out, char *err, size_t errlen)
{
    filter_parser p = {.path = "filter", .err = err, .errlen = errlen};
    filter *f;

    *out = NULL;
    if (!(f = calloc(1, sizeof *f)))
        return filter_fail(&p, "out of memory");
    if (!(f->root = filter_object(&p, spec, 0))) {
        free(f);
        return -1;
    }
    f->spec = json_incref(spec);
    f->uses_id = p.uses_id;
    f->refs = 1;
    *out = f;
    return 0;
}

/* ----------------------------------------------------------- matching -- */

/* The value of nd's key in metadata, or NULL when missing. */
static const json_t *filter_lookup(const filter_node *nd, const json_t *metadata)
{
    const char *part = nd->key;
    const json_t *v = metadata;

    for (size_t i = 0; i < nd->npart && v; i++, part += strlen(part) + 1)
        v = json_is_object(v) ? json_object_get(v, part) : NULL;
    return v;
}

/* Order a and b when they have one type that orders (numbers, or strings
 * bytewise): <0, 0 or >0 in *cmp and 1; 0 when they do not compare. */
static int filter_order(const json_t *a, const json_t *b, int *cmp)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) {
            json_int_t x = json_integer_value(a), y = json_integer_value(b);
            *cmp = (x > y) - (x < y);
        } else {
            double x = json_number_value(a), y = json_number_value(b);
            *cmp = (x > y) - (x < y);
        }
        return 1;
    }
    if (json_is_string(a) && json_is_string(b)) {
        size_t na = json_string_length(a), nb = json_string_length(b);
        int c = memcmp(json_string_value(a), json_string_value(b), na < nb ? na : nb);
        *cmp = c ? c : (na > nb) - (na < nb);
        return 1;
    }
    return 0;
}

/* Equality without coercion. */
static int filter_equal(const json_t *a, const json_t *b)
{
    int cmp;

    if (filter_order(a, b, &cmp))
        return cmp == 0;
    if (json_is_boolean(a) && json_is_boolean(b))
        return json_is_true(a) == json_is_true(b);
    return json_is_null(a) && json_is_null(b);
}

/* Whether the scalar v satisfies the positive operator kind. */
static int filter_scalar(filter_kind kind, const json_t *v, const json_t *operand)
{
    size_t i;
    const json_t *item;
    int cmp;

    switch (kind) {
    case FILTER_EQ:
        return filter_equal(v, operand);
    case FILTER_IN:
        json_array_foreach(operand, i, item)
            if (filter_equal(v, item))
                return 1;
        return 0;
    default:
        if (!filter_order(v, operand, &cmp))
            return 0;
        return kind == FILTER_GT ? cmp > 0 : kind == FILTER_GTE ? cmp >= 0
             : kind == FILTER_LT ? cmp < 0 : cmp <= 0;
    }
}

/* A positive operator on a value that may be an array (any element). */
static int filter_value(filter_kind kind, const json_t *v, const json_t *operand)
{
    size_t i;
    const json_t *item;

    if (!v)
        return 0;
    if (!json_is_array(v))
        return filter_scalar(kind, v, operand);
    json_array_foreach(v, i, item)
        if (filter_scalar(kind, item, operand))
            return 1;
    return 0;
}

static int filter_node_match(const filter_node *nd, const json_t *id, const json_t *metadata)
{
    const json_t *v;

    switch (nd->kind) {
    case FILTER_AND:
        for (size_t i = 0; i < nd->nkids; i++)
            if (!filter_node_match(nd->kids[i], id, metadata))
                return 0;
        return 1;
    case FILTER_OR:
        for (size_t i = 0; i < nd->nkids; i++)
            if (filter_node_match(nd->kids[i], id, metadata))
                return 1;
        return 0;
    default:
        break;
    }
    v = nd->is_id ? id : filter_lookup(nd, metadata);
    if (nd->kind == FILTER_NE)
        return !filter_value(FILTER_EQ, v, nd->operand);
    if (nd->kind == FILTER_NIN)
        return !filter_value(FILTER_IN, v, nd->operand);
    return filter_value(nd->kind, v, nd->operand);
}

int filter_match(const filter *f, const char *id, const json_t *metadata)
{
    /* Conditions compare JSON values, so the id becomes one, only when a
     * condition needs it. */
    json_t *jid = f->uses_id ? json_stringn_nocheck(id, strlen(id)) : NULL;
    int m = filter_node_match(f->root, jid, json_is_object(metadata) ? metadata : NULL);

    json_decref(jid);
    return m;
}
