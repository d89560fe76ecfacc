/*
 * reply -- writing responses with libevent's evhttp: JSON bodies, Kinto's error JSON
 * (include/herald/kerror.h), and the headers Kinto clients rely on.
 *
 * ETag is the strong tag "<timestamp>" (Kinto clients parse it as an integer), with
 * Last-Modified from the same timestamp. Every function here sends the reply: the
 * request must not be touched afterwards.
 */
#ifndef HERALD_PUB_REPLY_H
#define HERALD_PUB_REPLY_H

#include <event2/http.h>
#include <jansson.h>

#include "herald/mem.h"

/* The status of the last reply sent (the publisher has one thread), for the access log:
 * after evhttp_send_reply the request may already be freed. */
extern int pub_reply_last_status;

/* Sends 'body' (may be NULL for none) as application/json. 'ts' > 0 adds ETag and
 * Last-Modified. */
void pub_reply_json(struct evhttp_request *req, int status, const herald_buf *body, long long ts);

/* Sends Kinto's error JSON; 'details' may be NULL (not stolen). */
void pub_reply_error(struct evhttp_request *req, int status, int errnum, const char *message,
                     const json_t *details);

/* 400 errno 107 with Kinto's details list [{"location", "name", "description"}] and
 * its message "<name> in <location>: <description>" ("<location>: <description>" when
 * 'name' is NULL). */
void pub_reply_invalid(struct evhttp_request *req, const char *location, const char *name,
                       const char *description);

/* 401 errno 104 with WWW-Authenticate: Basic realm="Realm". */
void pub_reply_unauthorized(struct evhttp_request *req);

/* 404 errno 111, with details {"id", "resource_name"} when 'resource' is not NULL. */
void pub_reply_missing(struct evhttp_request *req, const char *resource, const char *id);

/* 405 errno 115. */
void pub_reply_method_not_allowed(struct evhttp_request *req);

/* 503 errno 201 with Retry-After (Redis unreachable or not serving). */
void pub_reply_unavailable(struct evhttp_request *req, int retry_after_seconds);

/* 500 errno 999. */
void pub_reply_internal(struct evhttp_request *req);

#endif
