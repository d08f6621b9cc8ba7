/*
 * url -- joining an API's base URL and an endpoint path.
 *
 * Users write base URLs with or without a trailing slash ("http://h/v1/",
 * "http://h/v1"); both must reach the same endpoint.
 */
#ifndef RAGD_URL_H
#define RAGD_URL_H

/* base + path with base's trailing slashes dropped; path starts with '/'.
 * Returns a malloc'd string (the caller frees it), or NULL on ENOMEM. */
char *url_join(const char *base, const char *path);

#endif /* RAGD_URL_H */
