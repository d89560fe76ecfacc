/*
 * reply -- filling a pub_resp (http.h): JSON bodies, Kinto's error JSON
 * (include/herald/kerror.h), and the headers Kinto clients rely on.
 *
 * ETag is the strong tag "<timestamp>" (Kinto clients parse it as an integer), with
 * Last-Modified from the same timestamp.
 */
#ifndef HERALD_PUB_REPLY_H
#define HERALD_PUB_REPLY_H

#include <jansson.h>

#include "herald/mem.h"
#include "http.h"
#include "path.h"

/* Sets 'status' and the body (copied; NULL for none) as application/json. 'ts' > 0
 * adds ETag and Last-Modified. */
void pub_reply_json(pub_resp *r, int status, const herald_buf *body, long long ts);
/* Adds ETag and Last-Modified for 'ts'. */
void pub_reply_etag(pub_resp *r, long long ts);

/* Kinto's error JSON; 'details' may be NULL (not stolen). */
void pub_reply_error(pub_resp *r, int status, int errnum, const char *message,
                     const json_t *details);

/* 400 errno 107 with Kinto's details list [{"location", "name", "description"}] and
 * its message "<name> in <location>: <description>" ("<location>: <description>" when
 * 'name' is NULL). */
void pub_reply_invalid(pub_resp *r, const char *location, const char *name,
                       const char *description);

/* 401 errno 104 with WWW-Authenticate: Basic realm="Realm". */
void pub_reply_unauthorized(pub_resp *r);

/* 403 errno 121. */
void pub_reply_forbidden(pub_resp *r);

/* 404 errno 111, with details {"id", "resource_name"} when 'resource' is not NULL. */
void pub_reply_missing(pub_resp *r, const char *resource, const char *id);

/* 405 errno 115. */
void pub_reply_method_not_allowed(pub_resp *r);

/* 412 errno 114, with details {"existing": <object>} when 'existing' (JSON text) is not
 * NULL, else details {}. */
void pub_reply_precondition(pub_resp *r, const char *existing, size_t len);

/* 503 errno 201 with Retry-After (Redis unreachable or not serving). */
void pub_reply_unavailable(pub_resp *r, int retry_after_seconds);
/* 503 for a write that ran on the primary but was not confirmed by redis_min_replicas
 * replicas in time: it may or may not be kept (docs/deploy.md, "The honest 503"). */
void pub_reply_unconfirmed(pub_resp *r, int retry_after_seconds);

/* 429 errno 117 with Retry-After (too many failed logins). */
void pub_reply_too_many(pub_resp *r, int retry_after_seconds);

/* 500 errno 999. */
void pub_reply_internal(pub_resp *r);

/* Appends an object's data ('json', stored) as clients see it: an account never shows
 * its password hash. */
void pub_reply_put_data(herald_buf *out, enum pub_res res, const char *json, size_t len);

/* Appends {"data": ..., "permissions": ...}, the permissions ('perms', JSON text) only
 * when not NULL (they are shown to writers only). */
void pub_reply_put_object(herald_buf *out, enum pub_res res, const char *json, size_t len,
                          const char *perms, size_t plen);

#endif
