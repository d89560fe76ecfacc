/*
 * dispatch -- the router: picks the handler of a request and runs it.
 *
 * Synchronous: the pipeline (pipeline.h) calls it once the user is known and the
 * passwords to store are hashed; a handler answers in c->resp with one or two Redis
 * round trips. Paths that are no endpoint (redirects, 404, a bad version or id), an
 * Accept without JSON, a method the endpoint lacks, and writes on a read-only server
 * are answered here. POST /v1/batch runs its sub-requests through the router again,
 * each with its own request and response and the batch's user (batch.h).
 */
#ifndef HERALD_PUB_DISPATCH_H
#define HERALD_PUB_DISPATCH_H

#include "call.h"

/* Answers 'c' (c->resp), without the decorations every response gets (CORS, Backoff,
 * Alert: the pipeline adds them). */
void pub_dispatch(pub_call *c);

#endif
