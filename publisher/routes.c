/*
 * routes -- see routes.h.
 */
#include "routes.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "herald/jcs.h"
#include "herald/kerror.h"
#include "herald/log.h"
#include "herald/schema.h"
#include "objects.h"
#include "path.h"
#include "reply.h"

#define EXPOSE_HEADERS                                                                             \
    "Alert, Backoff, Content-Length, Content-Type, ETag, Last-Modified, Next-Page, "               \
    "Retry-After, Total-Objects, Total-Records"
#define ALLOW_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

/* A request waiting for its user, its password hashes, then its reply. */
typedef struct pub_ctx {
    pub_app *app;
    pub_httpd_conn *conn;
    pub_req req;
    pub_user user;
    pub_hashes hashes;
    int pending; /* worker jobs not back yet */
    int failed;  /* a job could not be queued */
    struct timespec t0;
} pub_ctx;

void
pub_routes_deny(pub_call *c)
{
    if (c->user->id[0])
        pub_reply_forbidden(c->resp);
    else
        pub_reply_unauthorized(c->resp);
}

void
pub_routes_status(pub_call *c, int rc)
{
    if (rc == PUB_UNAVAILABLE)
        pub_reply_unavailable(c->resp, c->app->settings->retry_after_seconds);
    else
        pub_reply_internal(c->resp);
}

const char *
pub_hashes_find(const pub_hashes *h, const char *password, size_t pwlen)
{
    for (int i = 0; h && i < h->n; i++)
        if (h->pwlens[i] == pwlen && memcmp(h->passwords[i], password, pwlen) == 0)
            return h->hashes[i];
    return NULL;
}

static void
hashes_free(pub_hashes *h)
{
    for (int i = 0; i < h->n; i++) {
        if (h->passwords[i]) {
            sodium_memzero(h->passwords[i], h->pwlens[i]);
            free(h->passwords[i]);
        }
        free(h->hashes[i]);
    }
    free(h->passwords);
    free(h->pwlens);
    free(h->hashes);
    memset(h, 0, sizeof(*h));
}

/* ---- endpoints that are not resources ---- */

static void
json_reply(pub_call *c, int status, json_t *v, long long ts)
{
    herald_buf body = HERALD_BUF_INIT;
    if (herald_jcs_dump(&body, v) != 0)
        pub_reply_internal(c->resp);
    else
        pub_reply_json(c->resp, status, &body, ts);
    herald_buf_free(&body);
    json_decref(v);
}

static json_t *
capability(const char *description, const char *url)
{
    return json_pack("{s:s,s:s}", "description", description, "url", url);
}

static void
handle_root(pub_call *c)
{
    const pub_settings *s = c->app->settings;
    json_t *root = json_object(), *settings = json_object(), *caps = json_object();
    herald_buf url = HERALD_BUF_INIT;

    herald_buf_puts(&url, c->req->host);
    herald_buf_puts(&url, "/v1/");
    json_object_set_new(root, "project_name", json_string("herald"));
    json_object_set_new(root, "project_version", json_string(HERALD_VERSION));
    json_object_set_new(root, "http_api_version", json_string("1.23"));
    json_object_set_new(root, "project_docs", json_string(s->project_docs));
    json_t *u = json_string(herald_buf_cstr(&url));
    json_object_set_new(root, "url", u ? u : json_string("/v1/"));
    json_object_set_new(settings, "batch_max_requests", json_integer(s->batch_max_requests));
    json_object_set_new(settings, "readonly", json_boolean(s->readonly));
    json_object_set_new(settings, "explicit_permissions", json_true());
    if (s->paginate_by)
        json_object_set_new(settings, "paginate_by", json_integer(s->paginate_by));
    json_object_set_new(root, "settings", settings);

    json_object_set_new(caps, "accounts",
                        capability("Manage user accounts.",
                                   "https://kinto.readthedocs.io/en/latest/api/1.x/accounts.html"));
    json_object_set_new(caps, "permissions_endpoint",
                        capability("The permissions endpoint can be used to list all user "
                                   "objects permissions.",
                                   "https://kinto.readthedocs.io/en/latest/configuration/"
                                   "settings.html#activating-the-permissions-endpoint"));
    if (s->flush_endpoint_enabled)
        json_object_set_new(caps, "flush_endpoint",
                            capability("The __flush__ endpoint can be used to remove all data "
                                       "from all backends.",
                                       "https://kinto.readthedocs.io/en/latest/configuration/"
                                       "settings.html#activating-the-flush-endpoint"));
    /* The signer's public keys, as it publishes them (schema.h herald:signer:keys). */
    json_t *signer = capability("Ed25519 signatures of every published collection "
                                "(herald-snapshot-v1).",
                                "https://github.com/herald/herald/blob/main/docs/"
                                "signature-format.md");
    json_t *keys = json_array();
    pub_args cmd;
    pub_args_init(&cmd);
    pub_args_adds(&cmd, "HGETALL");
    pub_args_adds(&cmd, HERALD_KEY_SIGNER_KEYS);
    redisReply *r = pub_objects_command(c->app->store, &cmd);
    if (r && r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            json_t *k = json_object();
            json_object_set_new(k, "key_id", json_string(r->element[i]->str));
            json_object_set_new(k, "public_key", json_string(r->element[i + 1]->str));
            json_array_append_new(keys, k);
        }
    if (r)
        freeReplyObject(r);
    pub_args_free(&cmd);
    json_object_set_new(signer, "mode", json_string("ed25519"));
    json_object_set_new(signer, "public_keys", keys);
    json_object_set_new(caps, "signer", signer);
    json_object_set_new(root, "capabilities", caps);
    if (c->user->id[0]) {
        json_t *who = json_object(), *pr = json_array();
        json_object_set_new(who, "id", json_string(c->user->id));
        for (int i = 0; i < c->user->n; i++)
            json_array_append_new(pr, json_string(c->user->principals[i]));
        json_object_set_new(who, "principals", pr);
        json_object_set_new(root, "user", who);
    }
    herald_buf_free(&url);
    json_reply(c, 200, root, 0);
}

static int
redis_ping(const pub_app *app)
{
    pub_args cmd;
    pub_args_init(&cmd);
    pub_args_adds(&cmd, "PING");
    redisReply *r = pub_objects_command(app->store, &cmd);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    pub_args_free(&cmd);
    return ok;
}

static void
handle_heartbeat(pub_call *c)
{
    int ok = redis_ping(c->app);
    json_reply(c, ok ? 200 : 503,
               json_pack("{s:b,s:b,s:b}", "storage", ok, "permission", ok, "cache", 1), 0);
}

static void
handle_flush(pub_call *c)
{
    pub_args a;
    pub_args_init(&a);
    pub_args_adds(&a, HERALD_KEY_CHANGES);
    herald_buf k = HERALD_BUF_INIT;
    herald_schema_list_key(&k, HERALD_LIST_OBJS, "", "bucket");
    pub_args_addbuf(&a, &k);
    herald_buf_free(&k);
    redisReply *r = pub_store_eval(c->app->store, PUB_SCRIPT_FLUSH, 2, &a);
    pub_args_free(&a);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        pub_routes_status(c, r && !pub_store_error_is_transient(r) ? PUB_FAILED : PUB_UNAVAILABLE);
    } else {
        pub_accounts_cache_forget(c->app->accounts, NULL);
        herald_warn("__flush__: every object deleted (%lld keys)", r->integer);
        json_reply(c, 202, json_object(), 0);
    }
    if (r)
        freeReplyObject(r);
}

/* ---- batch ---- */

/* Deep-merges 'from' into 'into' (objects merge, anything else replaces), as Kinto
 * merges the batch "defaults" under each request. */
static void
merge_defaults(json_t *into, const json_t *from)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)from, k, v)
    {
        json_t *cur = json_object_get(into, k);
        if (!cur)
            json_object_set_new(into, k, json_deep_copy(v));
        else if (json_is_object(cur) && json_is_object(v))
            merge_defaults(cur, v);
    }
}

static void
batch_invalid(pub_call *c, const char *name, const char *description)
{
    pub_reply_invalid(c->resp, "body", name, description);
}

/* Builds the sub-requests of a batch body into 'subs' (json objects with method, path,
 * headers, body). Returns 0, or -1 after replying 400. */
static int
batch_requests(json_t **subs, pub_call *c, const json_t *body)
{
    char desc[128];
    const json_t *reqs = json_object_get(body, "requests");
    const json_t *defaults = json_object_get(body, "defaults");
    *subs = NULL;
    if (!json_is_object(body)) {
        batch_invalid(c, NULL, "Invalid JSON: the body must be an object");
        return -1;
    }
    if (!reqs) {
        batch_invalid(c, "requests", "Required");
        return -1;
    }
    if (!json_is_array(reqs)) {
        batch_invalid(c, "requests", "Should be an array");
        return -1;
    }
    if ((long long)json_array_size(reqs) > c->app->settings->batch_max_requests) {
        snprintf(desc, sizeof(desc), "Number of requests is limited to %lld",
                 (long long)c->app->settings->batch_max_requests);
        batch_invalid(c, "requests", desc);
        return -1;
    }
    if (defaults && !json_is_object(defaults)) {
        batch_invalid(c, "defaults", "Should be an object");
        return -1;
    }
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        char name[64];
        snprintf(name, sizeof(name), "requests.%zu", i);
        if (!json_is_object(r)) {
            batch_invalid(c, name, "Should be an object");
            goto fail;
        }
        json_t *sub = json_deep_copy(r);
        if (defaults)
            merge_defaults(sub, defaults);
        json_array_append_new(out, sub);
        const char *path = json_string_value(json_object_get(sub, "path"));
        const json_t *method = json_object_get(sub, "method");
        const json_t *headers = json_object_get(sub, "headers");
        snprintf(name, sizeof(name), "requests.%zu.path", i);
        if (!path) {
            batch_invalid(c, name, "Required");
            goto fail;
        }
        if (strstr(path, "/batch") &&
            (strcmp(path, "/batch") == 0 || strncmp(path, "/v1/batch", 9) == 0)) {
            batch_invalid(c, name, "Recursive call on /batch endpoint is forbidden.");
            goto fail;
        }
        snprintf(name, sizeof(name), "requests.%zu.method", i);
        if (method &&
            (!json_is_string(method) || pub_method_parse(json_string_value(method)) == PUB_OTHER)) {
            batch_invalid(c, name, "Invalid method");
            goto fail;
        }
        snprintf(name, sizeof(name), "requests.%zu.headers", i);
        if (headers && !json_is_object(headers)) {
            batch_invalid(c, name, "Should be an object");
            goto fail;
        }
    }
    *subs = out;
    return 0;
fail:
    json_decref(out);
    return -1;
}

/* Fills 'sub' from one batch entry, inheriting the batch request's headers. */
static void
batch_subrequest(pub_req *sub, const pub_req *parent, const json_t *r)
{
    const char *method = json_string_value(json_object_get(r, "method"));
    const char *path = json_string_value(json_object_get(r, "path"));
    const json_t *headers = json_object_get(r, "headers");
    const json_t *body = json_object_get(r, "body");
    herald_buf target = HERALD_BUF_INIT;

    pub_req_init(sub);
    if (strncmp(path, "/v1/", 4) != 0 && strcmp(path, "/v1") != 0)
        herald_buf_puts(&target, "/v1");
    herald_buf_puts(&target, path);
    pub_req_set_target(sub, method ? method : "GET", herald_buf_cstr(&target));
    herald_buf_free(&target);
    sub->host = herald_mem_strdup(parent->host);
    for (int i = 0; i < parent->headers.n; i++) {
        const char *n = parent->headers.v[i].name;
        if (strcasecmp(n, "Content-Length") == 0 || strcasecmp(n, "Content-Type") == 0)
            continue;
        pub_headers_add(&sub->headers, n, parent->headers.v[i].value);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v) if (json_is_string(v))
        pub_headers_set(&sub->headers, k, json_string_value(v));
    if (body && !json_is_null(body)) {
        herald_buf b = HERALD_BUF_INIT;
        if (herald_jcs_dump(&b, body) == 0)
            pub_req_set_body(sub, b.data ? b.data : "", b.len);
        herald_buf_free(&b);
        if (!pub_req_header(sub, "Content-Type"))
            pub_headers_set(&sub->headers, "Content-Type", "application/json");
    }
}

static void
handle_batch(pub_call *c)
{
    char err[256], desc[320];
    json_t *subs = NULL, *responses = json_array();
    json_t *body = herald_jcs_parse(c->req->body, c->req->body_len, HERALD_JCS_STRICT,
                                    c->app->settings->max_json_depth, err, sizeof(err));
    if (!body) {
        snprintf(desc, sizeof(desc), "Invalid JSON: %s", err);
        pub_reply_invalid(c->resp, "body", NULL, desc);
        goto done;
    }
    if (batch_requests(&subs, c, body) != 0)
        goto done;
    size_t i;
    json_t *r;
    json_array_foreach(subs, i, r)
    {
        pub_req sub;
        pub_resp sresp;
        pub_call sc = *c;
        batch_subrequest(&sub, c->req, r);
        pub_resp_init(&sresp);
        sc.req = &sub;
        sc.resp = &sresp;
        sc.in_batch = 1;
        pub_routes_dispatch(&sc);

        json_t *out = json_object(), *hdrs = json_object(), *rbody = NULL;
        json_object_set_new(out, "status", json_integer(sresp.status));
        json_object_set_new(out, "path", json_string(sub.path));
        for (int h = 0; h < sresp.headers.n; h++)
            json_object_set_new(hdrs, sresp.headers.v[h].name,
                                json_string(sresp.headers.v[h].value));
        if (sresp.has_body && sresp.body.len)
            rbody = herald_jcs_parse(sresp.body.data, sresp.body.len, 0, 0, err, sizeof(err));
        json_object_set_new(out, "body", rbody ? rbody : json_string(""));
        json_object_set_new(out, "headers", hdrs);
        json_array_append_new(responses, out);
        pub_resp_free(&sresp);
        pub_req_free(&sub);
    }
    json_reply(c, 200, json_pack("{s:O}", "responses", responses), 0);
done:
    json_decref(responses);
    json_decref(subs);
    json_decref(body);
}

/* ---- dispatch ---- */

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

void
pub_routes_dispatch(pub_call *c)
{
    pub_path p;
    enum pub_method m = c->req->method;
    const pub_settings *s = c->app->settings;

    pub_path_parse(&p, c->req->path);
    if (m == PUB_OTHER) {
        pub_reply_method_not_allowed(c->resp);
        return;
    }
    switch (p.kind) {
    case PUB_PATH_REDIRECT: {
        herald_buf loc = HERALD_BUF_INIT;
        herald_buf_puts(&loc, p.redirect);
        if (c->req->query) {
            herald_buf_putc(&loc, '?');
            herald_buf_puts(&loc, c->req->query);
        }
        pub_headers_set(&c->resp->headers, "Location", herald_buf_cstr(&loc));
        pub_reply_json(c->resp, 307, NULL, 0);
        herald_buf_free(&loc);
        return;
    }
    case PUB_PATH_NOT_FOUND:
        pub_reply_missing(c->resp, NULL, NULL);
        return;
    case PUB_PATH_BAD_VERSION:
        pub_reply_error(c->resp, 404, HERALD_ERRNO_VERSION_NOT_AVAILABLE,
                        "The requested API version is not available on this server.", NULL);
        return;
    case PUB_PATH_BAD_ID: {
        char desc[64];
        snprintf(desc, sizeof(desc), "Invalid %s id", pub_path_name(&p, p.bad_level));
        pub_reply_invalid(c->resp, "path", NULL, desc);
        return;
    }
    default:
        break;
    }
    if (!accepts_json(pub_req_header(c->req, "Accept"))) {
        json_t *details =
            json_pack("[{s:s,s:s,s:s}]", "location", "header", "name", "Accept", "description",
                      "Accept header should be one of ['application/json']");
        pub_reply_error(c->resp, 406, HERALD_ERRNO_INVALID_PARAMETERS,
                        "Accept header should be one of ['application/json']", details);
        json_decref(details);
        return;
    }
    int get = m == PUB_GET || m == PUB_HEAD;
    if (s->readonly && is_write(m) && p.kind != PUB_PATH_BATCH) {
        pub_reply_method_not_allowed(c->resp);
        return;
    }
    switch (p.kind) {
    case PUB_PATH_ROOT:
        get ? handle_root(c) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_HEARTBEAT:
        get ? handle_heartbeat(c) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_LBHEARTBEAT:
        get ? json_reply(c, 200, json_object(), 0) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_VERSION:
        get ? json_reply(c, 200,
                         json_pack("{s:s,s:s,s:s,s:s}", "name", "herald", "version", HERALD_VERSION,
                                   "source", "https://github.com/herald/herald", "commit",
                                   "unknown"),
                         0)
            : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_FLUSH:
        if (!s->flush_endpoint_enabled)
            pub_reply_missing(c->resp, NULL, NULL);
        else if (m != PUB_POST)
            pub_reply_method_not_allowed(c->resp);
        else
            handle_flush(c);
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
        get ? pub_resources_permissions(c) : pub_reply_method_not_allowed(c->resp);
        return;
    case PUB_PATH_OBJECT:
        if (m == PUB_POST) {
            pub_reply_method_not_allowed(c->resp);
            return;
        }
        pub_resources_object(c, &p);
        return;
    case PUB_PATH_LIST:
        if (m == PUB_PUT || m == PUB_PATCH) {
            pub_reply_method_not_allowed(c->resp);
            return;
        }
        pub_resources_list(c, &p);
        return;
    default:
        pub_reply_missing(c->resp, NULL, NULL);
        return;
    }
}

/* ---- the HTTP glue ---- */

static void
ctx_free(pub_ctx *ctx)
{
    pub_req_free(&ctx->req);
    pub_user_free(&ctx->user);
    hashes_free(&ctx->hashes);
    free(ctx);
}

/* Seconds since the epoch of 'eos' (YYYY-MM-DD, UTC midnight). */
static time_t
eos_time(const char *eos)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(eos, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

/* CORS, Backoff, Alert: what every response carries. */
static void
decorate(const pub_app *app, const pub_req *req, pub_resp *resp)
{
    const pub_settings *s = app->settings;
    const char *origin = pub_req_header(req, "Origin");
    char v[32];
    if (origin && pub_settings_origin_allowed(s, origin)) {
        pub_headers_set(&resp->headers, "Access-Control-Allow-Origin", origin);
        pub_headers_set(&resp->headers, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
    }
    if (s->backoff > 0) {
        snprintf(v, sizeof(v), "%lld", (long long)s->backoff);
        pub_headers_set(&resp->headers, "Backoff", v);
    }
    if (s->eos) {
        json_t *alert =
            json_pack("{s:s,s:s}", "code", time(NULL) >= eos_time(s->eos) ? "hard-eol" : "soft-eol",
                      "message", s->eos_message ? s->eos_message : "");
        if (s->eos_url)
            json_object_set_new(alert, "url", json_string(s->eos_url));
        herald_buf b = HERALD_BUF_INIT;
        if (herald_jcs_dump(&b, alert) == 0)
            pub_headers_set(&resp->headers, "Alert", herald_buf_cstr(&b));
        herald_buf_free(&b);
        json_decref(alert);
    }
}

static void
send_resp(pub_ctx *ctx, pub_resp *resp)
{
    struct timespec t1;
    decorate(ctx->app, &ctx->req, resp);
    pub_httpd_reply(ctx->conn, resp, ctx->req.method == PUB_HEAD);
    ctx->conn = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    herald_info("%s %s %d %.1fms", ctx->req.method_name, ctx->req.path, resp->status,
                (double)(t1.tv_sec - ctx->t0.tv_sec) * 1e3 +
                    (double)(t1.tv_nsec - ctx->t0.tv_nsec) / 1e6);
}

/* Step 5: dispatch and reply; frees the context. */
static void
run(pub_ctx *ctx)
{
    pub_resp resp;
    pub_resp_init(&resp);
    if (ctx->failed) {
        pub_reply_unavailable(&resp, ctx->app->settings->retry_after_seconds);
    } else if (ctx->app->settings->eos && time(NULL) >= eos_time(ctx->app->settings->eos)) {
        pub_reply_error(&resp, 410, HERALD_ERRNO_SERVICE_DEPRECATED,
                        "The service you are trying to connect no longer exists at this location.",
                        NULL);
    } else {
        pub_call c = {ctx->app, &ctx->user, &ctx->hashes, &ctx->req, &resp, 0};
        pub_routes_dispatch(&c);
    }
    send_resp(ctx, &resp);
    pub_resp_free(&resp);
    ctx_free(ctx);
}

static void
on_hashed(pub_job *job, void *arg)
{
    pub_ctx *ctx = arg;
    pub_hashes *h = &ctx->hashes;
    for (int i = 0; i < h->n; i++)
        if (!h->hashes[i] && h->pwlens[i] == job->pwlen &&
            memcmp(h->passwords[i], job->password, job->pwlen) == 0) {
            h->hashes[i] = job->hash;
            job->hash = NULL;
            break;
        }
    if (!job->ok)
        ctx->failed = 1;
    pub_job_free(job);
    if (--ctx->pending == 0)
        run(ctx);
}

/* Records data.password of an account write (PUT/POST/PATCH with a JSON body). */
static void
want_hash(pub_ctx *ctx, const char *method, const char *path, const json_t *body)
{
    pub_path p;
    enum pub_method m = pub_method_parse(method);
    herald_buf full = HERALD_BUF_INIT;
    if (m != PUB_PUT && m != PUB_POST && m != PUB_PATCH)
        return;
    if (strncmp(path, "/v1/", 4) != 0)
        herald_buf_puts(&full, "/v1");
    herald_buf_puts(&full, path);
    char *q = strchr(herald_buf_cstr(&full), '?');
    if (q)
        *q = '\0';
    pub_path_parse(&p, herald_buf_cstr(&full));
    herald_buf_free(&full);
    if ((p.kind != PUB_PATH_OBJECT && p.kind != PUB_PATH_LIST) || p.res[0] != PUB_RES_ACCOUNT)
        return;
    const json_t *pw = json_object_get(json_object_get(body, "data"), "password");
    size_t i;
    json_t *op;
    if (json_is_array(body)) /* JSON Patch */
        json_array_foreach(body, i, op)
        {
            const char *path_ = json_string_value(json_object_get(op, "path"));
            if (path_ && strcmp(path_, "/data/password") == 0)
                pw = json_object_get(op, "value");
        }
    if (!json_is_string(pw) || json_string_length(pw) == 0)
        return;
    pub_hashes *h = &ctx->hashes;
    if (pub_hashes_find(h, json_string_value(pw), json_string_length(pw)))
        return;
    h->passwords = herald_mem_realloc(h->passwords, (size_t)(h->n + 1) * sizeof(char *));
    h->pwlens = herald_mem_realloc(h->pwlens, (size_t)(h->n + 1) * sizeof(size_t));
    h->hashes = herald_mem_realloc(h->hashes, (size_t)(h->n + 1) * sizeof(char *));
    h->passwords[h->n] = herald_mem_strndup(json_string_value(pw), json_string_length(pw));
    h->pwlens[h->n] = json_string_length(pw);
    h->hashes[h->n] = NULL;
    h->n++;
}

/* Step 4: the passwords this request will store are hashed on the workers. */
static void
hash_passwords(pub_ctx *ctx)
{
    char err[128];
    pub_req *r = &ctx->req;
    /* Only account writes store passwords (directly or inside a batch). */
    if (r->body_len == 0 ||
        (r->method != PUB_PUT && r->method != PUB_POST && r->method != PUB_PATCH) ||
        (strncmp(r->path, "/v1/accounts", 12) != 0 && strcmp(r->path, "/v1/batch") != 0)) {
        run(ctx);
        return;
    }
    json_t *body = herald_jcs_parse(r->body, r->body_len, HERALD_JCS_STRICT,
                                    ctx->app->settings->max_json_depth, err, sizeof(err));
    if (body) {
        if (strcmp(r->path, "/v1/batch") == 0 && json_is_array(json_object_get(body, "requests"))) {
            const json_t *defaults = json_object_get(body, "defaults");
            size_t i;
            json_t *sub;
            json_array_foreach(json_object_get(body, "requests"), i, sub)
            {
                if (!json_is_object(sub))
                    continue;
                json_t *m = json_deep_copy(sub);
                if (json_is_object(defaults))
                    merge_defaults(m, defaults);
                const char *method = json_string_value(json_object_get(m, "method"));
                const char *path = json_string_value(json_object_get(m, "path"));
                if (path)
                    want_hash(ctx, method ? method : "GET", path, json_object_get(m, "body"));
                json_decref(m);
            }
        } else {
            want_hash(ctx, r->method_name, r->path, body);
        }
        json_decref(body);
    }
    if (ctx->hashes.n == 0) {
        run(ctx);
        return;
    }
    /* Every job is queued before any can come back (callbacks run on this thread). */
    ctx->pending = 1;
    for (int i = 0; i < ctx->hashes.n; i++) {
        pub_job *job = pub_job_new(PUB_JOB_HASH, ctx->hashes.passwords[i], ctx->hashes.pwlens[i],
                                   NULL, on_hashed, ctx);
        if (pub_accounts_submit(ctx->app->accounts, job) != 0) {
            pub_job_free(job);
            ctx->failed = 1;
            continue;
        }
        ctx->pending++;
    }
    if (--ctx->pending == 0)
        run(ctx);
}

/* Step 3. */
static void
authenticated(pub_ctx *ctx)
{
    if (ctx->user.id[0] && pub_objects_load_principals(&ctx->user, ctx->app->store) != PUB_OK)
        ctx->failed = 1;
    hash_passwords(ctx);
}

static void
on_verified(pub_job *job, void *arg)
{
    pub_ctx *ctx = arg;
    /* job->arg2: the account id was stored after the password (see verify_account). */
    const char *account = job->hash ? job->hash + strlen(job->hash) + 1 : "";
    if (job->ok) {
        pub_accounts_cache_add(ctx->app->accounts, account, job->password, job->pwlen);
        pub_user_free(&ctx->user);
        pub_user_account(&ctx->user, account, 0);
    }
    pub_job_free(job);
    authenticated(ctx);
}

/* Step 2 for a stored account: reads its hash and verifies on a worker. */
static void
verify_account(pub_ctx *ctx, const char *account, const char *password, size_t pwlen)
{
    char err[128];
    pub_args cmd;
    herald_buf key = HERALD_BUF_INIT;
    pub_args_init(&cmd);
    pub_args_adds(&cmd, "HGET");
    herald_schema_list_key(&key, HERALD_LIST_OBJS, "", "account");
    pub_args_addbuf(&cmd, &key);
    pub_args_adds(&cmd, account);
    herald_buf_free(&key);
    redisReply *r = pub_objects_command(ctx->app->store, &cmd);
    pub_args_free(&cmd);
    if (!r) {
        ctx->failed = 1;
        hash_passwords(ctx);
        return;
    }
    json_t *obj = r->type == REDIS_REPLY_STRING
                      ? herald_jcs_parse(r->str, r->len, 0, 0, err, sizeof(err))
                      : NULL;
    freeReplyObject(r);
    const char *hash = json_string_value(json_object_get(obj, "password"));
    if (!hash) {
        json_decref(obj);
        authenticated(ctx); /* no such account: anonymous */
        return;
    }
    /* The job carries "hash\0account" so the callback knows whom it verified. */
    size_t hl = strlen(hash), al = strlen(account);
    char *both = herald_mem_alloc(hl + al + 2);
    memcpy(both, hash, hl + 1);
    memcpy(both + hl + 1, account, al + 1);
    pub_job *job = pub_job_new(PUB_JOB_VERIFY, password, pwlen, NULL, on_verified, ctx);
    job->hash = both;
    json_decref(obj);
    if (pub_accounts_submit(ctx->app->accounts, job) != 0) {
        pub_job_free(job);
        ctx->failed = 1;
        authenticated(ctx);
    }
}

/* Step 2. */
static void
authenticate(pub_ctx *ctx)
{
    char buf[PUB_CREDENTIALS_MAX];
    const char *user, *password;
    size_t pwlen;
    pub_user_anonymous(&ctx->user);
    if (pub_auth_parse_basic(buf, &user, &password, &pwlen,
                             pub_req_header(&ctx->req, "Authorization")) != 0) {
        sodium_memzero(buf, sizeof(buf));
        authenticated(ctx);
        return;
    }
    if (pub_auth_is_admin(ctx->app->auth, user, password, pwlen)) {
        pub_user_free(&ctx->user);
        pub_user_account(&ctx->user, PUB_ADMIN_ACCOUNT, 1);
    } else if (strcmp(user, PUB_ADMIN_ACCOUNT) != 0 && herald_schema_valid_id(user, strlen(user))) {
        if (pub_accounts_cache_check(ctx->app->accounts, user, password, pwlen)) {
            pub_user_free(&ctx->user);
            pub_user_account(&ctx->user, user, 0);
        } else {
            verify_account(ctx, user, password, pwlen);
            sodium_memzero(buf, sizeof(buf));
            return;
        }
    }
    sodium_memzero(buf, sizeof(buf));
    authenticated(ctx);
}

/* CORS preflight (OPTIONS with Origin and Access-Control-Request-Method). */
static int
preflight(pub_ctx *ctx)
{
    const char *origin = pub_req_header(&ctx->req, "Origin");
    const char *method = pub_req_header(&ctx->req, "Access-Control-Request-Method");
    const char *headers = pub_req_header(&ctx->req, "Access-Control-Request-Headers");
    pub_resp resp;
    char age[32];
    if (ctx->req.method != PUB_OPTIONS)
        return 0;
    pub_resp_init(&resp);
    if (!origin || !method || !pub_settings_origin_allowed(ctx->app->settings, origin)) {
        pub_headers_set(&resp.headers, "Allow", ALLOW_METHODS);
        pub_reply_json(&resp, 200, NULL, 0);
    } else {
        pub_reply_json(&resp, 200, NULL, 0);
        pub_headers_set(&resp.headers, "Access-Control-Allow-Origin", origin);
        pub_headers_set(&resp.headers, "Access-Control-Allow-Methods", ALLOW_METHODS);
        if (headers)
            pub_headers_set(&resp.headers, "Access-Control-Allow-Headers", headers);
        snprintf(age, sizeof(age), "%lld", (long long)ctx->app->settings->cors_max_age_seconds);
        pub_headers_set(&resp.headers, "Access-Control-Max-Age", age);
    }
    send_resp(ctx, &resp);
    pub_resp_free(&resp);
    ctx_free(ctx);
    return 1;
}

void
pub_routes_handle(pub_httpd_conn *conn, pub_req *req, void *arg)
{
    pub_app *app = arg;
    pub_ctx *ctx = herald_mem_calloc(1, sizeof(*ctx));
    clock_gettime(CLOCK_MONOTONIC, &ctx->t0);
    ctx->app = app;
    ctx->conn = conn;
    ctx->req = *req; /* taken over */
    free(req);
    const char *host = pub_req_header(&ctx->req, "Host");
    const char *proto = pub_req_header(&ctx->req, "X-Forwarded-Proto");
    herald_buf hb = HERALD_BUF_INIT;
    herald_buf_puts(&hb, proto && strcmp(proto, "https") == 0 ? "https://" : "http://");
    herald_buf_puts(&hb, host && *host && !strpbrk(host, "\"\\ /?#") ? host : app->default_host);
    ctx->req.host = herald_buf_steal(&hb, NULL);

    if (preflight(ctx))
        return;
    if ((long long)ctx->req.body_len > app->settings->max_body_bytes) {
        pub_resp resp;
        char msg[128];
        pub_resp_init(&resp);
        snprintf(msg, sizeof(msg), "Request body is larger than max_request_body_bytes (%lld)",
                 (long long)app->settings->max_body_bytes);
        pub_reply_error(&resp, 413, HERALD_ERRNO_REQUEST_TOO_LARGE, msg, NULL);
        send_resp(ctx, &resp);
        pub_resp_free(&resp);
        ctx_free(ctx);
        return;
    }
    authenticate(ctx);
}
