/*
 * docreq -- the body of POST /documents, parsed and checked: either
 * application/json {"documents": [...], "into": [...]} or
 * application/x-ndjson, one document per line.
 *
 * Pure: no I/O, no store.  A document becomes one normalised JSON object
 * {"id", "title", "text", "url", "metadata"} (title "" when absent, url and
 * metadata null), which is what a job's payload keeps (store_job_add) and
 * what the job runner reads back.  An "_id" is taken for "id" (BEIR); a
 * numeric id becomes its decimal text.
 */
#ifndef RAGD_DOCREQ_H
#define RAGD_DOCREQ_H

#include <stddef.h>

#include <jansson.h>

/* Where a document's chunks go (the "into" array). */
enum { DOCREQ_KB = 1, DOCREQ_VECTOR = 2 };

/* The longest document id accepted, in bytes. */
#define DOCREQ_MAX_ID 1024

typedef struct docreq {
    json_t *docs; /* owned: array of normalised documents */
    int into;     /* DOCREQ_KB | DOCREQ_VECTOR */
} docreq;

/* Parse body (len bytes, not necessarily NUL-terminated) as ndjson when
 * ndjson is set, else as JSON.  Returns 0 with *out (docreq_release it), or
 * -1 with a message naming the place ("documents[3].text: ...") in err
 * and *out empty, or -2 likewise when the body (or an ndjson line) is not
 * JSON at all.  An empty list is refused. */
int docreq_parse(const char *body, size_t len, int ndjson, docreq *out, char *err,
                 size_t errlen);

/* Normalise one document object (from a request, or a payload read back).
 * Returns a new object, or NULL with "FIELD: why" in err. */
json_t *docreq_doc(const json_t *in, char *err, size_t errlen);

/* The into mask as a JSON array text, e.g. ["kb","vector"] (static). */
const char *docreq_into_json(int into);

/* Parse an into JSON text (as docreq_into_json writes it); 0 if invalid. */
int docreq_into_parse(const char *text);

void docreq_release(docreq *r);

#endif /* RAGD_DOCREQ_H */
