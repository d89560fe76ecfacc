/*
 * reply -- see reply.h.
 */
#include "reply.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <time.h>

#include "herald/kerror.h"

int pub_reply_last_status;

static void
set_json_headers(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
}

/* kerror.h knows the error reasons; a redirect is the one non-error we add. */
static const char *
reason(int status)
{
    return status == 307 ? "Temporary Redirect" : herald_kerror_reason(status);
}

static void
send_body(struct evhttp_request *req, int status, const herald_buf *body)
{
    if (body && body->len)
        evbuffer_add(evhttp_request_get_output_buffer(req), body->data, body->len);
    pub_reply_last_status = status;
    evhttp_send_reply(req, status, reason(status), NULL);
}

void
pub_reply_json(struct evhttp_request *req, int status, const herald_buf *body, long long ts)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    set_json_headers(req);
    if (ts > 0) {
        char etag[32], date[64];
        struct tm tm;
        time_t secs = (time_t)(ts / 1000);
        snprintf(etag, sizeof(etag), "\"%lld\"", ts);
        evhttp_add_header(h, "ETag", etag);
        if (gmtime_r(&secs, &tm) && strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm))
            evhttp_add_header(h, "Last-Modified", date);
    }
    send_body(req, status, body);
}

void
pub_reply_error(struct evhttp_request *req, int status, int errnum, const char *message,
                const json_t *details)
{
    herald_buf body = HERALD_BUF_INIT;
    herald_kerror_body(&body, status, errnum, message, details);
    set_json_headers(req);
    send_body(req, status, &body);
    herald_buf_free(&body);
}

void
pub_reply_invalid(struct evhttp_request *req, const char *location, const char *name,
                  const char *description)
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
    pub_reply_error(req, 400, HERALD_ERRNO_INVALID_PARAMETERS, message, details);
    json_decref(details);
}

void
pub_reply_unauthorized(struct evhttp_request *req)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                      "Basic realm=\"Realm\"");
    pub_reply_error(req, 401, HERALD_ERRNO_INVALID_AUTH_TOKEN,
                    "Please authenticate yourself to use this endpoint.", NULL);
}

void
pub_reply_missing(struct evhttp_request *req, const char *resource, const char *id)
{
    json_t *details = NULL;
    if (resource) {
        details = json_object();
        json_object_set_new(details, "id", json_string(id));
        json_object_set_new(details, "resource_name", json_string(resource));
    }
    pub_reply_error(req, 404, HERALD_ERRNO_MISSING_RESOURCE,
                    "The resource you are looking for could not be found.", details);
    json_decref(details);
}

void
pub_reply_method_not_allowed(struct evhttp_request *req)
{
    pub_reply_error(req, 405, HERALD_ERRNO_METHOD_NOT_ALLOWED,
                    "Method not allowed on this endpoint.", NULL);
}

void
pub_reply_unavailable(struct evhttp_request *req, int retry_after_seconds)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", retry_after_seconds);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
    pub_reply_error(req, 503, HERALD_ERRNO_BACKEND,
                    "Service temporary unavailable due to overloading or maintenance, please "
                    "retry later.",
                    NULL);
}

void
pub_reply_internal(struct evhttp_request *req)
{
    pub_reply_error(req, 500, HERALD_ERRNO_UNDEFINED,
                    "A programmatic error occured, developers have been informed.", NULL);
}
