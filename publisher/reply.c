/*
 * reply -- see reply.h.
 */
#include "reply.h"

#include <stdio.h>

#include "herald/httpdate.h"
#include "herald/jcs.h"
#include "herald/kerror.h"
#include "stamp.h"

void
pub_reply_etag(pub_resp *r, long long ts)
{
    char etag[32], date[HERALD_HTTPDATE_LEN + 1];
    snprintf(etag, sizeof(etag), "\"%lld\"", ts);
    pub_headers_set(&r->headers, "ETag", etag);
    herald_httpdate_format(date, ts / 1000);
    pub_headers_set(&r->headers, "Last-Modified", date);
}

void
pub_reply_json(pub_resp *r, int status, const herald_buf *body, long long ts)
{
    r->status = status;
    pub_headers_set(&r->headers, "Content-Type", "application/json");
    if (ts > 0)
        pub_reply_etag(r, ts);
    herald_buf_reset(&r->body);
    if (body && body->len)
        herald_buf_append(&r->body, body->data, body->len);
}

void
pub_reply_error(pub_resp *r, int status, int errnum, const char *message, const json_t *details)
{
    r->status = status;
    pub_headers_set(&r->headers, "Content-Type", "application/json");
    herald_buf_reset(&r->body);
    herald_kerror_body(&r->body, status, errnum, message, details);
}

void
pub_reply_invalid(pub_resp *r, const char *location, const char *name, const char *description)
{
    char message[1024];
    json_t *details = json_array(), *d = json_object();
    json_object_set_new(d, "location", json_string(location));
    json_object_set_new(d, "name", name ? json_string(name) : json_null());
    /* json_string refuses invalid UTF-8; descriptions quote our own text only. */
    json_t *desc = json_string(description);
    json_object_set_new(d, "description", desc ? desc : json_string("invalid"));
    json_array_append_new(details, d);
    if (name)
        snprintf(message, sizeof(message), "%s in %s: %s", name, location, description);
    else
        snprintf(message, sizeof(message), "%s: %s", location, description);
    pub_reply_error(r, 400, HERALD_ERRNO_INVALID_PARAMETERS, message, details);
    json_decref(details);
}

void
pub_reply_unauthorized(pub_resp *r)
{
    pub_headers_set(&r->headers, "WWW-Authenticate", "Basic realm=\"Realm\"");
    pub_reply_error(r, 401, HERALD_ERRNO_MISSING_AUTH_TOKEN,
                    "Please authenticate yourself to use this endpoint.", NULL);
}

void
pub_reply_forbidden(pub_resp *r)
{
    pub_reply_error(r, 403, HERALD_ERRNO_FORBIDDEN, "This user cannot access this resource.", NULL);
}

void
pub_reply_missing(pub_resp *r, const char *resource, const char *id)
{
    json_t *details = NULL;
    if (resource) {
        details = json_object();
        json_object_set_new(details, "id", json_string(id));
        json_object_set_new(details, "resource_name", json_string(resource));
    }
    pub_reply_error(r, 404, HERALD_ERRNO_MISSING_RESOURCE,
                    "The resource you are looking for could not be found.", details);
    json_decref(details);
}

void
pub_reply_method_not_allowed(pub_resp *r)
{
    pub_reply_error(r, 405, HERALD_ERRNO_METHOD_NOT_ALLOWED, "Method not allowed on this endpoint.",
                    NULL);
}

void
pub_reply_precondition(pub_resp *r, const char *existing, size_t len)
{
    char err[128];
    json_t *details = json_object();
    if (existing) {
        json_t *obj = herald_jcs_parse(existing, len, 0, 0, err, sizeof(err));
        if (obj)
            json_object_set_new(details, "existing", obj);
    }
    pub_reply_error(r, 412, HERALD_ERRNO_MODIFIED_MEANWHILE, "Resource was modified meanwhile",
                    details);
    json_decref(details);
}

static void
set_retry_after(pub_resp *r, int seconds)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", seconds);
    pub_headers_set(&r->headers, "Retry-After", v);
}

void
pub_reply_unavailable(pub_resp *r, int retry_after_seconds)
{
    set_retry_after(r, retry_after_seconds);
    pub_reply_error(r, 503, HERALD_ERRNO_BACKEND,
                    "Service temporary unavailable due to overloading or maintenance, please "
                    "retry later.",
                    NULL);
}

void
pub_reply_unconfirmed(pub_resp *r, int retry_after_seconds)
{
    set_retry_after(r, retry_after_seconds);
    pub_reply_error(r, 503, HERALD_ERRNO_BACKEND,
                    "The write was not confirmed by enough Redis replicas in time: it may or may "
                    "not be kept. Read the object again, or retry with If-Match, later.",
                    NULL);
}

void
pub_reply_too_many(pub_resp *r, int retry_after_seconds)
{
    set_retry_after(r, retry_after_seconds);
    pub_reply_error(r, 429, HERALD_ERRNO_CLIENT_REACHED_CAPACITY,
                    "Client has sent too many requests", NULL);
}

void
pub_reply_internal(pub_resp *r)
{
    pub_reply_error(r, 500, HERALD_ERRNO_UNDEFINED,
                    "A programmatic error occured, developers have been informed.", NULL);
}

void
pub_reply_put_data(herald_buf *out, enum pub_res res, const char *json, size_t len)
{
    if (res != PUB_RES_ACCOUNT) {
        herald_buf_append(out, json, len);
        return;
    }
    json_t *o = pub_stamp_parse(json, len);
    json_object_del(o, "password");
    if (!o || herald_jcs_dump(out, o) != 0)
        herald_buf_puts(out, "{}");
    json_decref(o);
}

void
pub_reply_put_object(herald_buf *out, enum pub_res res, const char *json, size_t len,
                     const char *perms, size_t plen)
{
    herald_buf_puts(out, "{\"data\":");
    pub_reply_put_data(out, res, json, len);
    if (perms) {
        herald_buf_puts(out, ",\"permissions\":");
        herald_buf_append(out, perms, plen);
    }
    herald_buf_putc(out, '}');
}
