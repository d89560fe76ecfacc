/*
 * routes -- the router: names the route of one parsed request, applies what every
 * route shares (404 for unknown paths, the CORS preflight, 405 for methods other than
 * GET/HEAD/OPTIONS) and hands the request to its handler:
 *
 *   changes.c   the monitor and collection changesets (the polling API)
 *   kinto.c     Kinto's read-only GETs (/v1/, buckets, collections, records)
 *   ops.c       __heartbeat__, __lbheartbeat__, __version__, /metrics
 *
 * Every response is counted once in the output queue's metrics shard, by route
 * (route_id.h) and status. The router reads only the immutable snapshot set it is
 * given and writes only into the output queue: it never sees a socket.
 */
#ifndef HERALD_SERVER_ROUTES_H
#define HERALD_SERVER_ROUTES_H

#include "attach.h"
#include "herald/http_parse.h"
#include "out.h"
#include "snapset.h"
#include "wait.h"

/* Appends the complete response to 'req' (keep_alive says whether to announce
 * Connection: close). 'set' is never NULL. */
void route_request(out *o, const http_request *req, const snapset *set, int keep_alive);

/*
 * Long-poll (RFC 7240): when 'req' is a GET with Prefer: wait=N (N > 0) of the monitor
 * changeset or of a collection changeset, and its answer now would be a 304 (its
 * If-None-Match names the current version), appends nothing, fills 'k' (slices of
 * 'req' and of 's', to be copied) and returns 1: the caller holds the request and
 * later answers it with route_request(). Otherwise answers it like route_request()
 * and returns 0. The decision is the handler's own 304, so a request is held exactly
 * when an immediate answer would say "not modified" (bad parameters, unknown
 * collections and changed versions are answered at once).
 */
int route_request_or_hold(out *o, const http_request *req, const snapset *set, int keep_alive,
                          wait_key *k);
/* 1 when the version 'k' waits on is no longer the current one in 's' (or its
 * collection is gone), 0 while it is. */
int route_wait_stale(const wait_key *k, const snapset *s);
/* Answers a request for an attachment file (attach.h): the head into 'o', the body to
 * send into 'file'. 'head' is the request's raw head. */
void route_attachment(out *o, const http_request *req, const char *head, size_t head_len,
                      int keep_alive, attach_body *file);

/* Appends a Kinto error response for a request that could not be parsed (or timed
 * out: 408); always announces Connection: close. */
void route_error(out *o, int status);

#endif
