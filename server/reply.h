/*
 * reply -- response building: the one way handlers answer. Every function appends a
 * whole response (or, for the three header helpers, part of one) to an output queue
 * (out.h); none sees a socket.
 *
 * Versioned responses use the head a collection prebuilt per version (vhdr,
 * snapset.h): a 304 when If-None-Match matches, else the 200 head, the
 * Content-Encoding the request prefers among the codings precomputed, Content-Length,
 * and the body, copied when small and referenced in set memory when large (one write()
 * beats writev() for small ones). Every 200 with a body is counted by encoding in the
 * queue's metrics shard.
 *
 * 'keep_alive' as passed to every function: 0 closes after the response (Connection:
 * close), 1 keeps the connection (HTTP/1.1), 2 keeps it and says so (HTTP/1.0
 * keep-alive). 'head' (or a HEAD request) leaves the body out.
 */
#ifndef HERALD_SERVER_REPLY_H
#define HERALD_SERVER_REPLY_H

#include <jansson.h>
#include <stddef.h>

#include "encode.h"
#include "herald/http_parse.h"
#include "out.h"
#include "snapset.h"

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
/* The same for an identity body 'a' + 'b' + 'c' (any may be empty), slices of set
 * memory. */
int reply_slices(out *o, const http_request *req, const vhdr *hdr, const char *a, size_t alen,
                 const char *b, size_t blen, const char *c, size_t clen, int keep_alive);
/* The same for a body computed for this request ('extra' header lines may be NULL). */
int reply_bytes(out *o, const http_request *req, const vhdr *hdr, const char *extra,
                const char *data, size_t len, int keep_alive);

/* An unversioned response (no-cache, CORS) with Content-Type 'type' and a body copied
 * from 'body'. Returns 'status'. */
int reply_plain(out *o, const http_request *req, int status, const char *type, const char *body,
                size_t len, int keep_alive);
/* The answer to a CORS preflight (OPTIONS). Returns 200. */
int reply_preflight(out *o, int keep_alive);

#endif
