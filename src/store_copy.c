/*
 * store_copy -- listing the documents (store_doc_ids) and reading one
 * back whole (store_doc_chunks), which copying a store from one backend to
 * another needs (src/migrate.c).
 *
 * Part of the store module: the SQLite half is here, the PostgreSQL half
 * in store_pg.c.  A copy is rare, so the statement is prepared per call.
 */
#include "store.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

int store_doc_chunks(store *s, const char *id, size_t dims, store_doc_chunk_fn fn, void *arg)
{
    sqlite3_stmt *st = NULL;
    float *vec = NULL;
    int rc;

    if (store_pg_of(s))
        return store_pg_doc_chunks(store_pg_of(s), id, dims, fn, arg);
    if (!(vec = malloc((dims ? dims : 1) * sizeof *vec)))
        return store_fail_msg(s, "out of memory");
    if (sqlite3_prepare_v2(store_sqlite(s), "SELECT c.text, v.vec FROM chunks c LEFT JOIN"
                           " vectors v ON v.chunk_id = c.id WHERE c.doc_id = ?1 ORDER BY c.seq",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = store_fail(s);
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *b = sqlite3_column_blob(st, 1);
        const char *text = (const char *)sqlite3_column_text(st, 0);
        int has = b && dims && (size_t)sqlite3_column_bytes(st, 1) == dims * 4;
        for (size_t i = 0; has && i < dims; i++) {
            uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                         (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
            memcpy(&vec[i], &u, 4);
        }
        if (fn(arg, text ? text : "", (size_t)sqlite3_column_bytes(st, 0), has ? vec : NULL)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : store_fail(s);
done:
    sqlite3_finalize(st);
    free(vec);
    return rc;
}

int store_doc_ids(store *s, store_doc_id_fn fn, void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (store_pg_of(s))
        return store_pg_doc_ids(store_pg_of(s), fn, arg);
    if (sqlite3_prepare_v2(store_sqlite(s), "SELECT id FROM docs ORDER BY rowid", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = store_fail(s);
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (id && fn(arg, id)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : store_fail(s);
done:
    sqlite3_finalize(st);
    return rc;
}
