/*
 * info -- what a client may learn about this server before it searches:
 * GET /sources (the configured source instances, their type and whether
 * their circuit breaker lets them be asked now) and GET /session (which
 * scopes the presented API key has), so a page can draw its source toggles
 * and show the document tools only to a client allowed to write.
 *
 * Not an access control: auth.c decides every route; /session only reports
 * what auth_decide would say.  Loop thread only; nothing is owned past a
 * call.
 */
#ifndef RAGD_INFO_H
#define RAGD_INFO_H

#include "auth.h"
#include "instance.h"

struct evhttp_request;

/* Answer GET /sources: {"sources": [{"name", "type", "enabled", "weight",
 * "timeout_ms", "breaker"}]} in configuration order
 * (schemas/sources.schema.json).  The caller has checked the method and
 * the search scope. */
void info_sources(struct evhttp_request *req, const instance_set *set);

/* Answer GET /session: {"keys_required", "scopes"} for the request's
 * Authorization header (schemas/session.schema.json).  With keys
 * configured, no key gets 200 and no scopes (the page then asks for one);
 * an unknown key gets the 401 any route would give. */
void info_session(struct evhttp_request *req, const auth *a);

#endif /* RAGD_INFO_H */
