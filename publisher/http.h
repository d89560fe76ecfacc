/*
 * http -- the publisher's own request and response values, apart from libevent.
 *
 * Handlers take a pub_req and fill a pub_resp; only httpd.c deals with the wire. That is what lets
 * POST /v1/batch run each sub-request through exactly the same handlers as a direct request, and
 * lets a request wait for an argon2id verification on a worker thread before it is handled.
 *
 * A pub_req owns copies of everything it points to (the connection's buffers are reused by
 * the time a deferred request runs, and sub-requests come from a JSON body).
 */
#ifndef HERALD_PUB_HTTP_H
#define HERALD_PUB_HTTP_H

#include <stddef.h>

#include "herald/mem.h"

enum pub_method {
    PUB_GET = 0,
    PUB_HEAD,
    PUB_PUT,
    PUB_POST,
    PUB_PATCH,
    PUB_DELETE,
    PUB_OPTIONS,
    PUB_OTHER,
};

typedef struct pub_hdr {
    char *name;
    char *value;
} pub_hdr;

typedef struct pub_headers {
    int n;
    int cap;
    pub_hdr *v;
} pub_headers;

typedef struct pub_req {
    enum pub_method method;
    char *method_name; /* as sent, e.g. "PUT" */
    char *path;        /* not decoded, no query */
    char *query;       /* raw query string, NULL when none */
    pub_headers headers;
    char *body; /* NUL-terminated copy (the body may hold NULs: use body_len) */
    size_t body_len;
    char *host;    /* scheme://host for absolute URLs (Next-Page, root url) */
    char peer[64]; /* the connection's peer address ("" when unknown, in a batch) */
    /* A body streamed instead of buffered (httpd.h, attachment.h): its consumer's
     * result, freed with the request. */
    void *streamed;
    void (*streamed_free)(void *streamed);
    /* The head of a request whose streamed body is not read yet (httpd.h): the handler
     * answers status 100 to have the body read, or the error to refuse it. */
    int precheck;
} pub_req;

typedef struct pub_resp {
    int status;
    pub_headers headers;
    herald_buf body;
    int has_body; /* 0: no body at all (304, HEAD) */
} pub_resp;

void pub_headers_add(pub_headers *h, const char *name, const char *value);
/* Replaces every header 'name' (case-insensitive) with one 'value'. */
void pub_headers_set(pub_headers *h, const char *name, const char *value);
/* The first value of 'name' (case-insensitive), or NULL. */
const char *pub_headers_get(const pub_headers *h, const char *name);
void pub_headers_free(pub_headers *h); /* NULL-safe; reusable afterwards */

void pub_req_init(pub_req *r);
void pub_req_free(pub_req *r); /* NULL-safe */
/* Sets method (parses 'name'), path and query from a target "path?query". */
void pub_req_set_target(pub_req *r, const char *method, const char *target);
void pub_req_set_body(pub_req *r, const char *body, size_t len);
#define pub_req_header(r, name) pub_headers_get(&(r)->headers, (name))

void pub_resp_init(pub_resp *r);
void pub_resp_free(pub_resp *r); /* NULL-safe */
/* Empties the response (headers and body) for reuse. */
void pub_resp_reset(pub_resp *r);

enum pub_method pub_method_parse(const char *name);

/*
 * Where a request's reply goes. The connection layer hands one to its request handler
 * with each request, so the layers below it answer through this pointer and never name
 * the connection code (dependencies point one way: httpd -> pipeline, not back).
 * 'fn' sends 'resp' for the request of 'conn' (head: the headers only, with the
 * Content-Length a GET would have); 'conn' is not valid afterwards.
 */
typedef void (*pub_reply_fn)(void *conn, const pub_resp *resp, int head);
typedef struct pub_reply_sink {
    pub_reply_fn fn;
    void *conn;
} pub_reply_sink;

/* Called with each complete request ('req' is the callee's: it must pub_req_free it). */
typedef void (*pub_req_handler)(pub_reply_sink sink, pub_req *req, void *arg);

#endif
