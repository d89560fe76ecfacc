/*
 * endpoints -- the handlers of Kinto's endpoints that are not objects: the root
 * (server description and capabilities, with the signer's public keys), the
 * heartbeats, the version, __flush__, and /metrics. The router checks the method and whether
 * the endpoint is enabled; these only answer.
 */
#ifndef HERALD_PUB_ENDPOINTS_H
#define HERALD_PUB_ENDPOINTS_H

#include "call.h"

/* GET /v1/: the server, its settings, capabilities, and the user. */
void pub_endpoints_root(pub_call *c);
/* GET /v1/__heartbeat__: 200 when Redis answers, else 503. */
void pub_endpoints_heartbeat(pub_call *c);
/* GET /v1/__lbheartbeat__: always 200 {}. */
void pub_endpoints_lbheartbeat(pub_call *c);
/* GET /v1/__version__. */
void pub_endpoints_version(pub_call *c);
/* GET /metrics: the counters in Prometheus text form (metrics.h). */
void pub_endpoints_metrics(pub_call *c);
/* POST /v1/__flush__: deletes every object (202). */
void pub_endpoints_flush(pub_call *c);

#endif
