/*
 * routes -- the Kinto HTTP API: the HTTP glue, authentication, and dispatch.
 *
 * A request goes through these steps, each possibly waiting for a worker thread or
 * Redis without blocking other requests on the argon2id work:
 *
 *   1. httpd callback: a complete request arrives as a pub_req (http.h); CORS preflight
 *      and the body size limit are answered at once.
 *   2. authentication: no credentials or unknown account -> anonymous; the admin is
 *      checked in memory; other accounts through the credential cache, or by an
 *      argon2id verification on a worker thread (accounts.h).
 *   3. principals: the groups of the user (one SUNION in Redis).
 *   4. passwords to store (account writes, also inside a batch) are hashed on a worker.
 *   5. dispatch (synchronous, one or two Redis round trips per handler), response
 *      decorations (CORS, Backoff, Alert, end of service), reply.
 *
 * POST /v1/batch runs its sub-requests through step 5 with the batch's user.
 */
#ifndef HERALD_PUB_ROUTES_H
#define HERALD_PUB_ROUTES_H

#include <stddef.h>

#include "accounts.h"
#include "auth.h"
#include "http.h"
#include "httpd.h"
#include "perms.h"
#include "settings.h"
#include "store.h"

typedef struct pub_app {
    pub_store *store;
    pub_auth *auth;
    pub_accounts *accounts;
    const pub_settings *settings;
    const char *default_host; /* "host:port" for absolute URLs when there is no Host */
} pub_app;

/* Passwords hashed for this request (account writes), looked up by value. */
typedef struct pub_hashes {
    int n;
    char **passwords;
    size_t *pwlens;
    char **hashes;
} pub_hashes;

/* One request being handled (direct or inside a batch). */
typedef struct pub_call {
    const pub_app *app;
    const pub_user *user;
    const pub_hashes *hashes;
    const pub_req *req;
    pub_resp *resp;
    int in_batch;
} pub_call;

/* The httpd request handler (takes 'req' over); 'arg' is the pub_app. */
void pub_routes_handle(pub_httpd_conn *conn, pub_req *req, void *arg);

/* Handles one request synchronously (step 5 without decorations). */
void pub_routes_dispatch(pub_call *c);

/* Resources (resources.c). 'p' is a PUB_PATH_OBJECT or PUB_PATH_LIST. */
void pub_resources_object(pub_call *c, const pub_path *p);
void pub_resources_list(pub_call *c, const pub_path *p);
/* GET /v1/permissions. */
void pub_resources_permissions(pub_call *c);

/* The stored hash for 'password' in 'h', or NULL. */
const char *pub_hashes_find(const pub_hashes *h, const char *password, size_t pwlen);

/* 401 for anonymous users, else 403. */
void pub_routes_deny(pub_call *c);
/* Answers a PUB_UNAVAILABLE/PUB_FAILED status. */
void pub_routes_status(pub_call *c, int rc);

#endif
