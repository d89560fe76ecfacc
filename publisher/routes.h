/*
 * routes -- the Kinto HTTP API handlers (phase 1: root, buckets, collections, records).
 *
 * One evhttp generic callback: parse the path (path.h), find the user (auth.h), then
 * dispatch on (kind of path, method). Handlers read through one MULTI/EXEC transaction
 * and write through one Lua script (objects.h), so each request is one or two Redis
 * round trips.
 *
 * Authorization in phase 1: the admin may do everything; anonymous requests may read
 * (GET) an object or a records list when a level on its path grants read or write to
 * system.Everyone, and nothing else (401). Permissions are shown only to the admin.
 */
#ifndef HERALD_PUB_ROUTES_H
#define HERALD_PUB_ROUTES_H

#include <event2/http.h>
#include <stddef.h>

#include "auth.h"
#include "store.h"

typedef struct pub_app {
    pub_store *store;
    pub_auth *auth;
    int retry_after_seconds; /* for 503 */
    int max_json_depth;
    const char *default_host; /* "host:port" for root URLs when there is no Host header */
} pub_app;

/* The evhttp generic callback; 'arg' is the pub_app. */
void pub_routes_handle(struct evhttp_request *req, void *arg);

#endif
