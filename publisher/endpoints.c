/*
 * endpoints -- see endpoints.h.
 */
#include "endpoints.h"

#include "attachment.h"
#include "attachment_gc.h"
#include "bundle.h"
#include "fairq.h"

#include <time.h>

#include "herald/clock.h"
#include "herald/log.h"
#include "herald/schema.h"
#include "history.h"
#include "review.h"
#include "reply.h"

static json_t *
capability(const char *description, const char *url)
{
    return json_pack("{s:s,s:s}", "description", description, "url", url);
}

void
pub_endpoints_root(pub_call *c)
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
    if (pub_schema_enabled(c->app->schema))
        json_object_set_new(caps, "schema",
                            capability("Validates collection records with JSON schemas.",
                                       "https://kinto.readthedocs.io/en/latest/api/1.x/"
                                       "collections.html#collection-json-schema"));
    pub_attach_capability(c->app, caps);
    /* The signer's public keys, as it publishes them (schema.h herald:signer:keys): a
     * capability of Herald's own (docs/signature-format.md); "signer" is Remote
     * Settings' review workflow (review.h), which has no place for keys. */
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
    json_object_set_new(caps, "herald_signatures", signer);
    json_t *review = pub_review_capability(s);
    if (review)
        json_object_set_new(caps, "signer", review);
    json_t *history = pub_history_capability(s);
    if (history)
        json_object_set_new(caps, "history", history);
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
    pub_call_json(c, 200, root, 0);
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

void
pub_endpoints_heartbeat(pub_call *c)
{
    int ok = redis_ping(c->app);
    json_t *body = json_pack("{s:b,s:b,s:b}", "storage", ok, "permission", ok, "cache", 1);
    if (c->app->attach) { /* kinto-attachment adds its own */
        int att = pub_attach_ping(c->app->attach);
        json_object_set_new(body, "attachments", json_boolean(att));
        ok = ok && att;
    }
    pub_call_json(c, ok ? 200 : 503, body, 0);
}

void
pub_endpoints_flush(pub_call *c)
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
        pub_call_status(c, r && !pub_store_error_is_transient(r) ? PUB_FAILED : PUB_UNAVAILABLE);
    } else {
        pub_accounts_cache_forget(c->app->accounts, NULL);
        herald_warn("__flush__: every object deleted (%lld keys)", r->integer);
        pub_call_json(c, 202, json_object(), 0);
    }
    if (r)
        freeReplyObject(r);
}

void
pub_endpoints_lbheartbeat(pub_call *c)
{
    pub_call_json(c, 200, json_object(), 0);
}

void
pub_endpoints_version(pub_call *c)
{
    pub_call_json(c, 200,
                  json_pack("{s:s,s:s,s:s,s:s}", "name", "herald", "version", HERALD_VERSION,
                            "source", "https://github.com/herald/herald", "commit", "unknown"),
                  0);
}

void
pub_endpoints_metrics(pub_call *c)
{
    const pub_app *app = c->app;
    pub_metrics_gauges g = {0, 0, 0, 0, 0};
    herald_buf body = HERALD_BUF_INIT;
    if (app->accounts)
        g.queue_depth = pub_accounts_depth(app->accounts);
    if (app->throttle) {
        pub_throttle_stats st;
        pub_throttle_stats_get(app->throttle, herald_clock_mono_ms(), &st);
        g.throttle_entries = st.entries;
        g.throttle_capacity = st.capacity;
        g.throttle_evictions = st.evictions;
    }
    g.batches_queued = pub_fairq_pending(app->fairq);
    if (app->metrics)
        pub_metrics_render(&body, app->metrics, &g);
    pub_attach_gc_metrics(&body);
    pub_bundle_metrics(&body);
    pub_reply_json(c->resp, 200, &body, 0);
    pub_headers_set(&c->resp->headers, "Content-Type", "text/plain; version=0.0.4");
    herald_buf_free(&body);
}
