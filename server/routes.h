/*
 * routes -- turns one parsed request into response bytes, reading only the immutable
 * snapshot set it is given.
 *
 * Responses are appended to an 'out' (a connection's output queue, implemented in
 * conn.c): out_copy() copies small pieces (headers, short bodies) into the
 * connection's reusable write buffer; out_ref() queues a slice of set memory without
 * copying (large precomputed bodies), which makes the connection keep the set alive
 * until those bytes are written. The whole response for a poll is thus a few memcpy's
 * of prebuilt header lines plus a reference to a prebuilt body, written with one
 * write()/writev().
 */
#ifndef HERALD_SERVER_ROUTES_H
#define HERALD_SERVER_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "encode.h"
#include "herald/crypto.h"
#include "herald/http_parse.h"
#include "metrics.h"
#include "snapset.h"

typedef struct out out;

void out_copy(out *o, const void *p, size_t n);
void out_puts(out *o, const char *s);
void out_i64(out *o, int64_t v);
/* Queues 'n' bytes at 'p', which must stay valid while the current set is pinned. */
void out_ref(out *o, const void *p, size_t n);
/* The calling worker's metrics shard. */
metrics_shard *out_metrics(out *o);

typedef struct routes_config {
    const herald_pubkey *keys; /* kept by reference: listed by GET /v1/ */
    size_t nkeys;
    const char *public_url; /* e.g. "http://host:8888" (no trailing slash): Next-Page */
    long long paginate_by;  /* Kinto's paginate_by for records lists; 0 = none */
} routes_config;

/* Called once before the workers start (the strings are copied). */
void routes_configure(const routes_config *cfg);
void routes_unconfigure(void);

/* Appends the complete response to 'req' (keep_alive says whether to announce
 * Connection: close). 'set' is never NULL. */
void route_request(out *o, const http_request *req, const snapset *set, int keep_alive);

/* Appends a Kinto error response for a request that could not be parsed (or timed
 * out: 408); always announces Connection: close. */
void route_error(out *o, int status);

/* ---- shared with kinto.c ----------------------------------------------------------- */

/* 'keep_alive' as passed to the handlers: 0 closes after the response, 1 keeps the
 * connection (HTTP/1.1), 2 keeps it and says so (HTTP/1.0 keep-alive). */
void reply_status_line(out *o, int status);
void reply_end_headers(out *o, int keep_alive);
void reply_content_length(out *o, size_t n);
/* A whole Kinto error response; 'details' may be NULL. Returns 'status'. */
int reply_error(out *o, int status, int errnum, const char *message, const json_t *details,
                int keep_alive, int head);
/* A Kinto 404 for a missing object ('resource' NULL: an unknown path). Returns 404. */
int reply_not_found(out *o, int keep_alive, int head, const char *resource, const char *id,
                    size_t id_len);
/* A 200 (or a 304 when If-None-Match matches the version 'hdr' was built for) with the
 * prebuilt head 'hdr' and body 'b', in the encoding the request prefers. Returns the
 * status. */
int reply_body(out *o, const http_request *req, const vhdr *hdr, const payload *b, int keep_alive);
/* The same for a body computed for this request ('extra' header lines may be NULL). */
int reply_bytes(out *o, const http_request *req, const vhdr *hdr, const char *extra,
                const char *data, size_t len, int keep_alive);

#endif
