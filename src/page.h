/*
 * page -- the playground: the HTML page at / and its /app.js and /app.css,
 * built into the binary from web/ (build-aux/embed.sh), so a browser can
 * watch a search fan out, fuse and stream without anything else installed.
 *
 * The files are public, like /healthz: the page asks for an API key itself
 * when the server needs one, and every call it makes goes through the same
 * checks as any other client's.  Every file is sent with a
 * Content-Security-Policy that allows only ragd's own script, styles and
 * connections (no inline script, no eval, no other origin), and an ETag, so
 * a reload costs a 304.  Not for: serving files from disk, or anything a
 * deployment would customise.
 */
#ifndef RAGD_PAGE_H
#define RAGD_PAGE_H

struct evhttp_request;

/* The policy every page file is sent with. */
#define PAGE_CSP                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

/* Whether path names one of the page's files ("/", "/app.js", "/app.css"). */
int page_owns(const char *path);

/* Answer req, whose path page_owns: the file (GET, or HEAD), a 304 when its
 * If-None-Match names the current ETag, or a JSON 405 for another method. */
void page_serve(struct evhttp_request *req);

#endif /* RAGD_PAGE_H */
