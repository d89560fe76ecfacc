/*
 * dispatch -- see dispatch.h.
 */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "attachment.h"
#include "batch.h"
#include "endpoints.h"
#include "herald/jcs.h"
#include "herald/kerror.h"
#include "history.h"
#include "review.h"
#include "list.h"
#include "object.h"
#include "permissions.h"
#include "reply.h"

int
pub_dispatch_batch_step(pub_call *c, pub_batch_run *b)
{
    if (!b->subs || b->next >= json_array_size(b->subs))
        return 0;
    pub_req sub;
    pub_resp sresp;
    pub_call sc = *c;
    pub_batch_subrequest(&sub, c->req, json_array_get(b->subs, b->next));
    pub_resp_init(&sresp);
    sc.req = &sub;
    sc.resp = &sresp;
    sc.in_batch = 1;
    sc.later = NULL;
    pub_dispatch(&sc);
    if (!b->responses)
        b->responses = json_array();
    json_array_append_new(b->responses, pub_batch_response(&sub, &sresp));
    pub_resp_free(&sresp);
    pub_req_free(&sub);
    b->next++;
    return b->next < json_array_size(b->subs);
}

void
pub_dispatch_batch_finish(pub_call *c, pub_batch_run *b)
{
    if (!b->responses)
        b->responses = json_array();
    pub_call_json(c, 200, json_pack("{s:O}", "responses", b->responses), 0);
    json_decref(b->responses);
    json_decref(b->subs);
    b->responses = b->subs = NULL;
}

static void
handle_batch(pub_call *c)
{
    char err[256], desc[320];
    pub_batch_run b = {NULL, NULL, 0};
    json_t *body = herald_jcs_parse(c->req->body, c->req->body_len, HERALD_JCS_STRICT,
                                    c->app->settings->max_json_depth, err, sizeof(err));
    if (!body) {
        snprintf(desc, sizeof(desc), "Invalid JSON: %s", err);
        pub_reply_invalid(c->resp, "body", NULL, desc);
        return;
    }
    int rc = pub_batch_requests(&b.subs, c, body);
    json_decref(body);
    if (rc != 0)
        return;
    if (c->later) {
        *c->later = b; /* the pipeline runs the steps and answers */
        return;
    }
    while (pub_dispatch_batch_step(c, &b))
        ;
    pub_dispatch_batch_finish(c, &b);
}

static int
is_write(enum pub_method m)
{
    return m == PUB_PUT || m == PUB_POST || m == PUB_PATCH || m == PUB_DELETE;
}

/* 1 if an Accept header (NULL: none) allows a JSON response. */
static int
accepts_json(const char *accept)
{
    if (!accept || !*accept)
        return 1;
    while (*accept) {
        while (*accept == ' ' || *accept == ',')
            accept++;
        size_t len = strcspn(accept, ",;");
        while (len > 0 && accept[len - 1] == ' ')
            len--;
        if ((len == 16 && strncasecmp(accept, "application/json", 16) == 0) ||
            (len == 3 && strncmp(accept, "*/*", 3) == 0) ||
            (len == 13 && strncasecmp(accept, "application/*", 13) == 0))
            return 1;
        accept += strcspn(accept, ",");
    }
    return 0;
}

/* Answers the paths that name no endpoint. Returns 1 when it did. */
static int
path_error(pub_call *c, const pub_path *p)
{
    switch (p->kind) {
    case PUB_PATH_REDIRECT: {
        herald_buf loc = HERALD_BUF_INIT;
        herald_buf_puts(&loc, p->redirect);
        if (c->req->query) {
            herald_buf_putc(&loc, '?');
            herald_buf_puts(&loc, c->req->query);
        }
        pub_headers_set(&c->resp->headers, "Location", herald_buf_cstr(&loc));
        pub_reply_json(c->resp, 307, NULL, 0);
        herald_buf_free(&loc);
        return 1;
    }
    case PUB_PATH_NOT_FOUND:
        pub_reply_missing(c->resp, NULL, NULL);
        return 1;
    case PUB_PATH_BAD_VERSION:
        pub_reply_error(c->resp, 404, HERALD_ERRNO_VERSION_NOT_AVAILABLE,
                        "The requested API version is not available on this server.", NULL);
        return 1;
    case PUB_PATH_BAD_ID: {
        char desc[64];
        snprintf(desc, sizeof(desc), "Invalid %s id", pub_path_name(p, p->bad_level));
        pub_reply_invalid(c->resp, "path", NULL, desc);
        return 1;
    }
    default:
        return 0;
    }
}

/* Runs the handler of 'p', an endpoint path, or answers 405/404. */
static void
route(pub_call *c, const pub_path *p)
{
    enum pub_method m = c->req->method;
    const pub_settings *s = c->app->settings;
    int get = m == PUB_GET || m == PUB_HEAD;

    switch (p->kind) {
    case PUB_PATH_ROOT:
        get ? pub_endpoints_root(c) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_HEARTBEAT:
        get ? pub_endpoints_heartbeat(c) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_LBHEARTBEAT:
        get ? pub_endpoints_lbheartbeat(c) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_VERSION:
        get ? pub_endpoints_version(c) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_METRICS:
        get ? pub_endpoints_metrics(c) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_FLUSH:
        if (!s->flush_endpoint_enabled)
            pub_reply_missing(c->resp, NULL, NULL);
        else if (m != PUB_POST)
            pub_reply_method_not_allowed(c->resp);
        else
            pub_endpoints_flush(c);
        return;
    case PUB_PATH_BATCH:
        if (c->in_batch)
            pub_reply_invalid(c->resp, "body", "path",
                              "Recursive call on /batch endpoint is forbidden.");
        else if (m != PUB_POST)
            pub_reply_method_not_allowed(c->resp);
        else
            handle_batch(c);
        return;
    case PUB_PATH_PERMISSIONS:
        get ? pub_permissions_handle(c) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_OBJECT:
        if (m == PUB_POST)
            pub_reply_method_not_allowed(c->resp);
        else
            pub_object_handle(c, p);
        return;
    case PUB_PATH_HISTORY:
        pub_history_handle(c, p);
        return;
    case PUB_PATH_SNAPSHOT:
        pub_history_snapshot(c, p);
        return;
    case PUB_PATH_LIST:
        if (m == PUB_PUT || m == PUB_PATCH)
            pub_reply_method_not_allowed(c->resp);
        else
            pub_list_handle(c, p);
        return;
    default:
        pub_reply_missing(c->resp, NULL, NULL);
        return;
    }
}

void
pub_dispatch(pub_call *c)
{
    pub_path p;
    enum pub_method m = c->req->method;

    /* The admin page is HTML for browsers: before the API's Accept and path rules. */
    if (pub_admin_handle(c))
        return;
    int attachment = pub_attach_path(&p, c->req->path);
    if (!attachment)
        pub_path_parse(&p, c->req->path);
    if (m == PUB_OTHER) {
        pub_reply_method_not_allowed(c->resp);
        return;
    }
    if (path_error(c, &p))
        return;
    if (!accepts_json(pub_req_header(c->req, "Accept"))) {
        json_t *details =
            json_pack("[{s:s,s:s,s:s}]", "location", "header", "name", "Accept", "description",
                      "Accept header should be one of ['application/json']");
        pub_reply_error(c->resp, 406, HERALD_ERRNO_INVALID_PARAMETERS,
                        "Accept header should be one of ['application/json']", details);
        json_decref(details);
        return;
    }
    if (c->app->settings->readonly && is_write(m) && p.kind != PUB_PATH_BATCH) {
        pub_reply_method_not_allowed(c->resp);
        return;
    }
    if (pub_review_refuse_target(c, &p))
        return;
    if (attachment)
        pub_attach_handle(c, &p);
    else
        route(c, &p);
}
