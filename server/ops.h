/*
 * ops -- the operational endpoints: /v1/__heartbeat__, /v1/__lbheartbeat__,
 * /v1/__version__ (Dockerflow) and /metrics (Prometheus). They read the process's
 * gauges from status.h, encode.h and wait.h and hand them to metrics.c; no other module's
 * state is read.
 */
#ifndef HERALD_SERVER_OPS_H
#define HERALD_SERVER_OPS_H

#include "herald/http_parse.h"
#include "out.h"
#include "snapset.h"

/* Each answers GET/HEAD and returns the status sent. */
int ops_heartbeat(out *o, const http_request *req, const snapset *s, int keep_alive);
int ops_lbheartbeat(out *o, const http_request *req, int keep_alive);
int ops_version(out *o, const http_request *req, int keep_alive);
int ops_metrics(out *o, const http_request *req, const snapset *s, int keep_alive);

#endif
