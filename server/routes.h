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

#include "http_parse.h"
#include "snapset.h"

typedef struct out out;

void out_copy(out *o, const void *p, size_t n);
void out_puts(out *o, const char *s);
void out_i64(out *o, int64_t v);
/* Queues 'n' bytes at 'p', which must stay valid while the current set is pinned. */
void out_ref(out *o, const void *p, size_t n);

/* Appends the complete response to 'req' (keep_alive says whether to announce
 * Connection: close). 'set' is never NULL. */
void route_request(out *o, const http_request *req, const snapset *set, int keep_alive);

/* Appends a Kinto error response for a request that could not be parsed; always
 * announces Connection: close. */
void route_error(out *o, int status);

#endif
