/*
 * serve -- the `ragd serve` command.
 */
#ifndef RAGD_SERVE_H
#define RAGD_SERVE_H

/* Run `ragd serve` with argv[0] == "serve".  Returns the exit status: 0,
 * 1 when the shutdown was not clean (an event left on the loop), 2 for a
 * usage or setup error. */
int serve_main(int argc, char **argv);

#endif /* RAGD_SERVE_H */
