/*
 * pipeline -- a request from the HTTP engine to its reply, through the steps that may
 * wait for a worker thread or Redis without blocking other requests on the argon2id
 * work:
 *
 *   1. request handler: a complete request arrives as a pub_req (http.h); CORS preflight
 *      and the body size limit are answered at once.
 *   2. authentication: no credentials or unknown account -> anonymous; the admin is
 *      checked in memory; other accounts through the credential cache, or by an
 *      argon2id verification on a worker thread (accounts.h).
 *   3. principals: the groups of the user (one SUNION in Redis).
 *   4. passwords to store (account writes, also inside a batch) are hashed on a worker.
 *   5. dispatch (dispatch.h, synchronous), then the decorations every response carries
 *      (CORS, Backoff, Alert, end of service), reply and access log. A batch is only
 *      checked here: its sub-requests run one per turn of the event loop (fairq.h), so a
 *      request that arrives meanwhile waits for one sub-request, not for whole batches.
 *
 * The request context of steps 1-4 (pub_ctx) lives here only; step 5 sees a pub_call
 * (call.h).
 */
#ifndef HERALD_PUB_PIPELINE_H
#define HERALD_PUB_PIPELINE_H

#include "call.h"
#include "http.h"

/* A pub_req_handler (http.h): takes 'req' over and answers through 'sink'; 'arg' is
 * the pub_app. */
void pub_pipeline_handle(pub_reply_sink sink, pub_req *req, void *arg);

#endif
