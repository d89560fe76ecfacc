/*
 * batch -- the pieces of POST /v1/batch that do not dispatch: the body checked and
 * turned into sub-requests, and each sub-response turned into its JSON entry. The
 * router (dispatch.h) runs the sub-requests through itself with the batch's user;
 * the pipeline (pipeline.h) reads the same sub-requests to find the passwords to hash
 * before dispatch.
 */
#ifndef HERALD_PUB_BATCH_H
#define HERALD_PUB_BATCH_H

#include <jansson.h>

#include "call.h"
#include "http.h"

/* Deep-merges 'from' into 'into' (objects merge, anything else is kept), as Kinto
 * merges the batch "defaults" under each request. */
void pub_batch_merge_defaults(json_t *into, const json_t *from);

/* Checks a batch body (Kinto's rules and batch_max_requests) and sets '*subs' to the
 * array of its sub-requests with the defaults merged in (json objects with method,
 * path, headers, body; a new reference). Returns 0, or -1 after replying 400. */
int pub_batch_requests(json_t **subs, pub_call *c, const json_t *body)
    __attribute__((warn_unused_result));

/* Fills 'sub' (to be freed with pub_req_free) from one entry of '*subs', inheriting
 * the batch request's headers but its Content-Length and Content-Type. */
void pub_batch_subrequest(pub_req *sub, const pub_req *parent, const json_t *r);

/* The entry of the batch response for one sub-request: {status, path, body, headers}
 * (a new reference). */
json_t *pub_batch_response(const pub_req *sub, const pub_resp *sresp);

#endif
