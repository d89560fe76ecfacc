/*
 * call -- one request being handled, as every handler sees it, and the small helpers
 * they share.
 *
 * A pub_call is the request context of the handler layer: the application (store,
 * settings, accounts), the authenticated user, the passwords already hashed for this
 * request, the request, and the response being built. The pipeline (pipeline.h) fills
 * it once authentication and hashing are done; the router (dispatch.h) hands it to a
 * handler; a handler answers only through 'resp' (reply.h), never through the socket.
 * A batch builds one pub_call per sub-request, with its own req and resp.
 *
 * Nothing here calls a handler: this file sits below every handler and above the data
 * model (objects.h) and the response builders (reply.h).
 */
#ifndef HERALD_PUB_CALL_H
#define HERALD_PUB_CALL_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>

#include "accounts.h"
#include "auth.h"
#include "herald/listing.h"
#include "http.h"
#include "metrics.h"
#include "objects.h"
#include "path.h"
#include "perms.h"
#include "schema.h"
#include "settings.h"
#include "store.h"
#include "throttle.h"

typedef struct pub_app {
    pub_store *store;
    pub_auth *auth;
    pub_accounts *accounts;
    const pub_settings *settings;
    pub_schema *schema;        /* collection JSON schemas (NULL: validation off) */
    const char *default_host;  /* "host:port" for absolute URLs when there is no Host */
    pub_throttle *throttle;    /* failed logins (the pipeline's) */
    int forwarded_depth;       /* trusted X-Forwarded-For entries (throttle.h) */
    pub_metrics *metrics;      /* counted by the pipeline, shown by GET /metrics */
    struct pub_attach *attach; /* attachment files (attachment.h); NULL: off */
    const char *admin_dir;     /* the admin page's files (admin.h); NULL: off */
    struct pub_fairq
        *fairq; /* runs batches one sub-request per loop turn (fairq.h); NULL: at once */
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
    int attachment_write; /* the attachment endpoint's own write (attachment_rule.h) */
    /* Set by the pipeline when it can run a batch's sub-requests later, one per turn of
     * the event loop (fairq.h): POST /v1/batch then only checks the body and leaves the
     * sub-requests here, answering nothing yet (dispatch.h). NULL: a batch runs at once. */
    struct pub_batch_run *later;
} pub_call;

/* The stored hash for 'password' in 'h' (NULL-safe), or NULL. */
const char *pub_hashes_find(const pub_hashes *h, const char *password, size_t pwlen);

/* 401 for anonymous users, else 403. */
void pub_call_deny(pub_call *c);
/* Answers a PUB_UNAVAILABLE (503) or PUB_FAILED (500) status. */
void pub_call_status(pub_call *c, int rc);
/* Replies 'status' with the canonical JSON of 'v' (stolen), or 500. */
void pub_call_json(pub_call *c, int status, json_t *v, long long ts);
/* Sets Retry-After (Kinto sends it with 409 and 503 only). */
void pub_call_retry_after(pub_call *c);
/* 412 with the object as it is ('obj' the stored JSON, or NULL when it does not
 * exist); an account's password hash is not shown. */
void pub_call_precondition(pub_call *c, enum pub_res res, const redisReply *obj);

/* A precondition header: absent, "*", or "<int>". */
typedef struct pub_cond {
    int present;
    int star;
    long long ts;
} pub_cond;

/* Parses the If-Match / If-None-Match header 'name'. Returns 0, or -1 after replying
 * 400. */
int pub_call_cond(pub_cond *out, pub_call *c, const char *name);

/* May the user hold 'perm' on level 'level' of 'v', about resource 'context'? */
int pub_call_allowed(const pub_call *c, const pub_path *p, const pub_view *v, int level,
                     const char *perm, enum pub_res context);
/* Writes "<resource>:create", the permission to create a 'res' one level down. */
void pub_call_create_perm(char *out, size_t len, enum pub_res res);
/* May the user create the object at the last level of 'p'? */
int pub_call_may_create(const pub_call *c, const pub_path *p, const pub_view *v);

/* Parses the query string as Kinto's filters, sorting and pagination; 'known_fields'
 * (NULL-terminated; NULL: any field) are the only fields filters and sorting may name.
 * Returns 0, or -1 after replying 400. */
int pub_call_listing(herald_listing **l, pub_call *c, const char *const *known_fields);
/* Replies 200 with one page of a plural listing: 'body', ETag/Last-Modified from 'ts',
 * Total-Records and Total-Objects from the page's total, Next-Page when there is one. */
void pub_call_reply_page(pub_call *c, herald_buf *body, long long ts, const herald_listing *q,
                         const herald_listing_page *page);
/* Sets Next-Page, the absolute URL of the page after this one, when 'token' is not
 * NULL. */
void pub_call_next_page(pub_call *c, const herald_listing *q, const char *token);

#endif
