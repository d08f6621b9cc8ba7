/* noentry.c -- a test shared object with no ragd_source_entry: ragd must
 * refuse to load it. */
int noentry_answer(void);
int noentry_answer(void) { return 42; }
