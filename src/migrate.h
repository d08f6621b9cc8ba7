/*
 * migrate -- `ragd migrate --from STORE --to STORE`: copy every document
 * (chunks, vectors, metadata) and the recorded embedder from one store to
 * another, a SQLite file to PostgreSQL or back.
 */
#ifndef RAGD_MIGRATE_H
#define RAGD_MIGRATE_H

/* argv[0] is "migrate".  Returns the exit status. */
int migrate_main(int argc, char **argv);

#endif /* RAGD_MIGRATE_H */
