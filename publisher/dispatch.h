/*
 * dispatch -- the router: picks the handler of a request and runs it.
 *
 * Synchronous: the pipeline (pipeline.h) calls it once the user is known and the
 * passwords to store are hashed; a handler answers in c->resp with one or two Redis
 * round trips. Paths that are no endpoint (redirects, 404, a bad version or id), an
 * Accept without JSON, a method the endpoint lacks, and writes on a read-only server
 * are answered here. POST /v1/batch runs its sub-requests through the router again,
 * each with its own request and response and the batch's user (batch.h): at once, or
 * one per step when the pipeline schedules them (fairq.h).
 */
#ifndef HERALD_PUB_DISPATCH_H
#define HERALD_PUB_DISPATCH_H

#include <jansson.h>
#include <stddef.h>

#include "call.h"

/* Answers 'c' (c->resp), without the decorations every response gets (CORS, Backoff,
 * Alert: the pipeline adds them). With c->later set, a valid batch is not answered:
 * c->later->subs is set instead, and the caller runs the steps below. */
void pub_dispatch(pub_call *c);

/* A batch left to run step by step (call.h, fairq.h). Zeroed before pub_dispatch. */
typedef struct pub_batch_run {
    json_t *subs;      /* the sub-requests, defaults merged (NULL: the batch was answered) */
    json_t *responses; /* the entries of those run so far */
    size_t next;       /* the next sub-request to run */
} pub_batch_run;

/* Runs the next sub-request of 'b' for 'c', the batch's own call (its user, request and
 * response). Returns 1 while sub-requests remain, else 0. */
int pub_dispatch_batch_step(pub_call *c, pub_batch_run *b);
/* Answers 'c' with the responses of 'b' and frees what 'b' holds. */
void pub_dispatch_batch_finish(pub_call *c, pub_batch_run *b);

#endif
