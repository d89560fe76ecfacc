/*
 * httpc -- a tiny blocking HTTP/1.1 GET client (herald-signer verify, tests).
 *
 * http:// only (a client behind TLS uses a real client; this one checks what a read
 * server serves on its own port). One request per connection: it sends
 * "Accept-Encoding: identity" and "Connection: close", and reads a body delimited by
 * Content-Length, chunked transfer coding, or the end of the connection. Everything is
 * bounded: 'timeout_ms' covers the whole exchange (name lookup excepted: getaddrinfo
 * cannot be interrupted), headers are at most 64 KiB, the body at most 1 GiB.
 */
#ifndef HERALD_HTTPC_H
#define HERALD_HTTPC_H

#include <stddef.h>

#include "herald/mem.h"

#define HERALD_HTTPC_MAX_BODY (1u << 30)

/*
 * GETs 'url' ("http://host[:port][/path][?query]"; host may be "[v6addr]"). On success
 * returns 0 with the HTTP status in '*status' and the body (any status) appended to
 * 'body'. On failure (bad URL, connection, timeout, malformed or oversized response)
 * returns -1 with a one-line reason in 'err'; 'body' may hold a partial body.
 */
int herald_httpc_get(const char *url, int timeout_ms, int *status, herald_buf *body, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

#endif
