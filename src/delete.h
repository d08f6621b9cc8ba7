/*
 * delete -- the `ragd delete` command: remove documents from a store, as
 * DELETE /documents/<id> does over HTTP.
 */
#ifndef RAGD_DELETE_H
#define RAGD_DELETE_H

/* Run `ragd delete --db FILE ID...`; argv[0] is "delete".  Deletes each
 * document (with its chunks, vectors and full-text rows; a running ragd's
 * sources see it gone at their next read) and prints "deleted ID" or
 * "not found: ID" for each.  Returns the exit status: 0 when every id was
 * deleted, 1 when one was not found or the store failed, 2 for bad usage
 * (with a message on stderr). */
int delete_main(int argc, char **argv);

#endif /* RAGD_DELETE_H */
