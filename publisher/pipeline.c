/*
 * pipeline -- see pipeline.h.
 */
#include "pipeline.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "batch.h"
#include "dispatch.h"
#include "fairq.h"
#include "herald/clock.h"
#include "herald/jcs.h"
#include "herald/kerror.h"
#include "herald/log.h"
#include "herald/schema.h"
#include "reply.h"

#define EXPOSE_HEADERS                                                                             \
    "Alert, Backoff, Content-Length, Content-Type, ETag, Last-Modified, Next-Page, "               \
    "Retry-After, Total-Objects, Total-Records"
#define ALLOW_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

/* A request waiting for its user, its password hashes, then its reply. */
typedef struct pub_ctx {
    pub_app *app;
    pub_reply_sink sink; /* where the reply goes; .conn is NULL once sent */
    pub_req req;
    pub_user user;
    pub_hashes hashes;
    int pending;         /* worker jobs not back yet */
    int failed;          /* a job could not be queued */
    int64_t t0_ns;       /* herald_clock_mono_ns() when the request arrived */
    char *login;         /* the user name of a login charged to the throttle, until settled */
    int dummy;           /* the verification runs against the dummy hash (no such account) */
    char client[64];     /* the client address (throttle.h) */
    pub_batch_run batch; /* a batch whose sub-requests run in steps (fairq.h) */
    pub_resp resp;       /* its response, built by the last step */
} pub_ctx;

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

static void
ctx_free(pub_ctx *ctx)
{
    free(ctx->login);
    json_decref(ctx->batch.subs);
    json_decref(ctx->batch.responses);
    pub_resp_free(&ctx->resp);
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

/* Counts a finished argon2id job (its queue wait and run time). */
static void
count_job(const pub_app *app, const pub_job *job)
{
    double wait = (double)(job->started_us - job->queued_us) / 1e6;
    double run = (double)(job->finished_us - job->started_us) / 1e6;
    pub_metrics_job(app->metrics, job->kind == PUB_JOB_VERIFY, wait > 0 ? wait : 0,
                    run > 0 ? run : 0);
}

/*
 * Settles the login charged to the throttle: 'ok' 1 (right password), 0 (wrong, or no
 * such account), -1 (not verified: Redis or the queue failed). Counts it, and logs
 * repeated failures (rate-limited; the account and address, never the password).
 */
static void
settle(pub_ctx *ctx, int ok)
{
    const pub_app *app = ctx->app;
    pub_throttle_result r;
    if (!ctx->login)
        return;
    long long now = herald_clock_mono_ms();
    pub_throttle_done(app->throttle, ctx->login, ctx->client, ok, now, &r);
    if (ok == 1)
        app->metrics->logins[PUB_LOGIN_SUCCESS]++;
    else if (ok == 0)
        app->metrics->logins[PUB_LOGIN_FAILURE]++;
    long long suppressed = 0;
    if (ok == 0 && r.wait_ms > 0 && pub_throttle_log_ok(app->throttle, now, &suppressed)) {
        /* A name that cannot be an account may hold anything (a password typed in the
         * wrong field): it is not written. */
        int named = strcmp(ctx->login, PUB_ADMIN_ACCOUNT) == 0 ||
                    herald_schema_valid_id(ctx->login, strlen(ctx->login));
        herald_warn("login: repeated failures for account %s%s%s from %s (%d from this address "
                    "for it, %d in all); its next attempt waits %.1f s (%lld similar lines "
                    "suppressed)",
                    named ? "'" : "", named ? ctx->login : "(not a valid account name)",
                    named ? "'" : "", ctx->client, r.pair_failures, r.address_failures,
                    (double)r.wait_ms / 1000.0, suppressed);
    }
    free(ctx->login);
    ctx->login = NULL;
}

static void
send_resp(pub_ctx *ctx, pub_resp *resp)
{
    decorate(ctx->app, &ctx->req, resp);
    pub_metrics_response(ctx->app->metrics, resp->status);
    ctx->sink.fn(ctx->sink.conn, resp, ctx->req.method == PUB_HEAD);
    ctx->sink.conn = NULL;
    herald_info("%s %s %d %.1fms", ctx->req.method_name, ctx->req.path, resp->status,
                (double)(herald_clock_mono_ns() - ctx->t0_ns) / 1e6);
}

/* One sub-request of a scheduled batch (fairq.h); the last one also answers the batch and
 * frees the context. */
static int
batch_step(void *arg)
{
    pub_ctx *ctx = arg;
    pub_call c = {ctx->app, &ctx->user, &ctx->hashes, &ctx->req, &ctx->resp, 0, 0, NULL};
    if (pub_dispatch_batch_step(&c, &ctx->batch))
        return 1;
    pub_dispatch_batch_finish(&c, &ctx->batch);
    send_resp(ctx, &ctx->resp);
    ctx_free(ctx);
    return 0;
}

/* A batch still queued when the program leaves without draining (a second signal): its
 * connection is already closed (main.c frees httpd first), only the context is freed. */
static void
batch_drop(void *arg)
{
    ctx_free(arg);
}

/* Step 5: dispatch and reply; frees the context. A valid batch is only checked here: its
 * sub-requests run later, one per turn of the loop, behind other requests (fairq.h). */
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
        pub_call c = {ctx->app,
                      &ctx->user,
                      &ctx->hashes,
                      &ctx->req,
                      &resp,
                      0,
                      0,
                      ctx->app->fairq ? &ctx->batch : NULL};
        pub_dispatch(&c);
        if (ctx->batch.subs) {
            /* Nothing is in 'resp' yet: the last step builds the answer in ctx->resp. */
            pub_resp_free(&resp);
            if (pub_fairq_add(ctx->app->fairq, batch_step, batch_drop, ctx) != 0)
                while (batch_step(ctx))
                    ;
            return;
        }
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
    count_job(ctx->app, job);
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
                    pub_batch_merge_defaults(m, defaults);
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
            ctx->app->metrics->queue_full++;
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
    int ok = job->ok && !ctx->dummy;
    count_job(ctx->app, job);
    settle(ctx, ok);
    if (ok) {
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
        settle(ctx, -1);
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
        /* No such account: the same argon2id work as a wrong password (accounts.h). */
        ctx->dummy = 1;
        hash = pub_accounts_dummy_hash(ctx->app->accounts);
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
        ctx->app->metrics->queue_full++;
        settle(ctx, -1);
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
    /* Every login, whatever the account, passes the throttle before any verification
     * (also the credential cache: a cached password is no free guess). */
    pub_throttle_client(ctx->client, sizeof(ctx->client), &ctx->req, ctx->app->forwarded_depth);
    int wait = pub_throttle_check(ctx->app->throttle, user, ctx->client, herald_clock_mono_ms());
    if (wait > 0) {
        pub_resp resp;
        sodium_memzero(buf, sizeof(buf));
        ctx->app->metrics->logins[PUB_LOGIN_THROTTLED]++;
        pub_resp_init(&resp);
        pub_reply_too_many(&resp, wait);
        send_resp(ctx, &resp);
        pub_resp_free(&resp);
        ctx_free(ctx);
        return;
    }
    ctx->login = herald_mem_strdup(user);
    if (pub_auth_is_admin(ctx->app->auth, user, password, pwlen)) {
        settle(ctx, 1);
        pub_user_free(&ctx->user);
        pub_user_account(&ctx->user, PUB_ADMIN_ACCOUNT, 1);
    } else if (strcmp(user, PUB_ADMIN_ACCOUNT) != 0 && herald_schema_valid_id(user, strlen(user))) {
        if (pub_accounts_cache_check(ctx->app->accounts, user, password, pwlen)) {
            settle(ctx, 1);
            pub_user_free(&ctx->user);
            pub_user_account(&ctx->user, user, 0);
        } else {
            verify_account(ctx, user, password, pwlen);
            sodium_memzero(buf, sizeof(buf));
            return;
        }
    } else {
        settle(ctx, 0); /* the admin's wrong password, or a name no account can have */
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
pub_pipeline_handle(pub_reply_sink sink, pub_req *req, void *arg)
{
    pub_app *app = arg;
    pub_ctx *ctx = herald_mem_calloc(1, sizeof(*ctx));
    ctx->t0_ns = herald_clock_mono_ns();
    pub_resp_init(&ctx->resp);
    ctx->app = app;
    ctx->sink = sink;
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
