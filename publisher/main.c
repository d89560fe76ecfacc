/*
 * herald-publisher -- the write side of Herald: Kinto's HTTP API over Redis.
 *
 * One thread, one libevent loop (HTTP in httpd.h), one blocking Redis connection (store.h).
 * Each write is one Lua script that assigns the timestamp, stores the object and
 * appends a change event for the signer atomically; with Redis running
 * appendonly yes + appendfsync always, its reply means the write is on disk, and only
 * then does the client get its 2xx. The store warns at connect time when Redis is not
 * configured that way.
 *
 * Layers, top to bottom. A file calls only files named after it here, never one named
 * before it. httpd.c reaches the pipeline through the handler pointer main.c gives it,
 * and passes that handler a reply sink (pub_reply_sink, http.h) with each request: the
 * pipeline answers through the sink and never names httpd.
 *   program         main.c (settings, wiring, signals)
 *   connection I/O  httpd.c (sockets, framing, keep-alive, timeouts)
 *   pipeline        pipeline.c (CORS preflight, body limit, login throttle, authentication
 *                   with argon2id on worker threads, principals, password hashing,
 *                   batches handed to fairq.c, decorations, log)
 *   router          dispatch.c (path -> handler, method and Accept checks, the batch
 *                   loop), batch.c (batch body -> sub-requests; sub-responses -> JSON)
 *   handlers        endpoints.c (root, heartbeats, version, __flush__, /metrics), permissions.c
 *                   (GET /v1/permissions), list.c, object.c
 *   write           write.c (the write of one object, step by step, for list and object)
 *   request context call.c (pub_call: the request as handlers see it, and the helpers
 *                   they share: deny, status, preconditions, permissions, listing)
 *   model, services objects.c (Redis views and guarded writes), store.c (connection, Lua
 *                   scripts), accounts.c (argon2id workers, credential cache, dummy
 *                   hash), auth.c (the admin), throttle.c (failed-login throttling),
 *                   metrics.c (counters, /metrics page), schema.c (collection JSON
 *                   schemas: checks, the compiled-schema cache, validation), settings.c,
 *                   fairq.c (a batch's sub-requests one per loop turn, behind other
 *                   requests)
 *   response        reply.c (status, headers and JSON bodies of a pub_resp)
 *   values (pure)   http.c (request, response, headers), stamp.c, patch.c, perms.c,
 *                   path.c
 *
 * Settings (config.h precedence: defaults < --config FILE < environment < flags): one
 * table in settings.c, which also gives --help; docs/publisher.md lists them all.
 * The admin password comes only from the environment (HERALD_ADMIN_PASSWORD): a
 * config file is easier to leak than a process environment.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "accounts.h"
#include "admin.h"
#include "attachment.h"
#include "attachment_gc.h"
#include "bundle.h"
#include "auth.h"
#include "herald/jcs.h"
#include "herald/log.h"
#include "herald/redis.h"
#include "httpd.h"
#include "call.h"
#include "pipeline.h"
#include "fairq.h"
#include "schema.h"
#include "settings.h"
#include "store.h"
#include "throttle.h"

static int
is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/*
 * Graceful shutdown: on SIGTERM/SIGINT stop accepting connections, let every request
 * already received finish (its Redis write, an argon2id check on a worker thread, the
 * reply being flushed), then leave the loop; after DRAIN_MAX_MS, leave anyway, unless
 * batches are still running (fairq.h): each advances one sub-request per turn, and one
 * left half-applied without an answer is what a batch never was when it ran in one go,
 * so they finish first. A second signal leaves at once.
 */
#define DRAIN_MAX_MS 10000

struct drain {
    struct event_base *base;
    pub_httpd *http;
    pub_fairq *fairq;
    struct event *tick;
    int ticks;
    int told; /* the wait for batches past DRAIN_MAX_MS was logged */
};

static void
drain_tick(evutil_socket_t fd, short events, void *arg)
{
    struct drain *d = arg;
    (void)fd;
    (void)events;
    int busy = pub_httpd_busy(d->http);
    int batches = pub_fairq_pending(d->fairq);
    if (busy > 0 && ++d->ticks * 50 >= DRAIN_MAX_MS && batches > 0) {
        if (!d->told)
            herald_warn("shutdown: %d batch(es) still running after %d ms: waiting for them "
                        "(a second signal leaves now)",
                        batches, DRAIN_MAX_MS);
        d->told = 1;
    } else if (busy <= 0 || d->ticks * 50 >= DRAIN_MAX_MS) {
        if (busy > 0)
            herald_warn("shutdown: %d request(s) still unanswered after %d ms", busy, DRAIN_MAX_MS);
        event_base_loopexit(d->base, NULL);
        return;
    }
    struct timeval tv = {0, 50 * 1000};
    event_add(d->tick, &tv);
}

static void
on_signal(evutil_socket_t sig, short events, void *arg)
{
    struct drain *d = arg;
    (void)events;
    if (d->tick) {
        herald_info("signal %d again: leaving now", (int)sig);
        event_base_loopexit(d->base, NULL);
        return;
    }
    herald_info("signal %d: shutting down after %d request(s) in flight", (int)sig,
                pub_httpd_busy(d->http));
    pub_httpd_drain(d->http);
    d->tick = evtimer_new(d->base, drain_tick, d);
    if (!d->tick) {
        event_base_loopexit(d->base, NULL);
        return;
    }
    drain_tick(-1, 0, d);
}

int
main(int argc, char **argv)
{
    struct event_base *base = NULL;
    pub_httpd *http = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    struct drain drain = {0}; /* before any goto: 'done' frees its timer */
    pub_store *store = NULL;
    pub_fairq *fairq = NULL;
    pub_attach *attach = NULL;
    char *admin_dir = NULL;
    pub_attach_gc *gc = NULL;
    pub_bundle *bundles = NULL;
    pub_auth *auth = NULL;
    pub_accounts *accounts = NULL;
    pub_throttle *throttle = NULL;
    pub_metrics metrics;
    pub_settings settings;
    pub_schema *schema = NULL;
    herald_redis_url url;
    char listen_str[300];
    int rc;

    memset(&metrics, 0, sizeof(metrics));

    herald_log_init("herald-publisher", HERALD_LOG_INFO);
    rc = pub_settings_read(&settings, argc, argv);
    if (rc >= 0)
        goto done;
    rc = 1;
    herald_log_init("herald-publisher", (enum herald_log_level)settings.log_level);
    const char *host = settings.listen.host,
               *redis_url = settings.redis_url ? settings.redis_url : "";
    int port = settings.listen.port;
    if (herald_redis_parse_url(&url, redis_url) != 0) {
        herald_error("redis_url: expected redis://host[:port][/db] or "
                     "redis+sentinel://host:port[,host:port...]/master[/db], got '%s'",
                     redis_url);
        goto done;
    }
    if (settings.redis_min_replicas > 0 &&
        settings.redis_wait_timeout_ms >= settings.redis_timeout_ms) {
        herald_error("redis_wait_timeout_ms (%lld) must be below redis_timeout_ms (%lld)",
                     (long long)settings.redis_wait_timeout_ms,
                     (long long)settings.redis_timeout_ms);
        goto done;
    }
    if (sodium_init() < 0) {
        herald_error("libsodium cannot initialize");
        goto done;
    }
    const char *password = getenv("HERALD_ADMIN_PASSWORD");
    if (!password || !*password)
        herald_warn("HERALD_ADMIN_PASSWORD is not set: there is no admin account");
    auth = pub_auth_new(password, password ? strlen(password) : 0);
    if (!auth) {
        herald_error("cannot allocate guarded memory for credentials");
        goto done;
    }

    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (!base) {
        herald_error("cannot create the event loop");
        goto done;
    }
    fairq = pub_fairq_new(base);
    if (!fairq) {
        herald_error("cannot create the batch scheduler");
        goto done;
    }
    accounts = pub_accounts_new(base, (int)settings.account_workers,
                                (int)settings.account_cache_ttl_seconds, 1024);
    if (!accounts)
        goto done;
    throttle = pub_throttle_new(&settings.throttle);
    if (!throttle)
        goto done;
    store = pub_store_new(&url, (int)settings.redis_timeout_ms);
    pub_store_set_replicas(store, (int)settings.redis_min_replicas,
                           (int)settings.redis_wait_timeout_ms);
    /* Redis may start after us (or restart): requests get 503 until it answers. */
    if (pub_store_ready(store) != 0)
        herald_warn("redis %s not reachable yet; answering 503 until it is", redis_url);

    schema = pub_schema_new(&settings.schema);

    snprintf(listen_str, sizeof(listen_str), "%s:%d", host, port);
    pub_app app = {
        .store = store,
        .auth = auth,
        .accounts = accounts,
        .settings = &settings,
        .schema = schema,
        .default_host = listen_str,
        .throttle = throttle,
        .forwarded_depth = settings.throttle.forwarded_depth,
        .metrics = &metrics,
        .fairq = fairq,
    };
    admin_dir = pub_admin_dir(settings.admin_dir);
    app.admin_dir = admin_dir;
    char aerr[512];
    app.attach = attach = pub_attach_new(&settings, aerr, sizeof(aerr));
    if (!app.attach && aerr[0]) {
        herald_error("attachments_dir: %s", aerr);
        goto done;
    }
    pub_httpd_opts ho = {settings.max_body_bytes, (int)settings.idle_timeout_seconds * 1000,
                         (int)settings.header_timeout_seconds * 1000,
                         pub_attach_stream(app.attach)};
    http = pub_httpd_new(base, &ho, pub_pipeline_handle, &app);
    gc = pub_attach_gc_start(attach, &url, (int)settings.redis_timeout_ms,
                             settings.attach.gc_grace_seconds, settings.attach.gc_interval_seconds);
    bundles =
        pub_bundle_start(attach, &url, (int)settings.redis_timeout_ms,
                         settings.attach.bundle_poll_ms, settings.attach.bundle_max_size_bytes);
    if (pub_httpd_listen(http, host, port) != 0) {
        herald_error("cannot listen on %s:%d: %s", host, port, strerror(errno));
        goto done;
    }
    if (!is_loopback(host))
        herald_warn("listening on non-loopback %s: Basic auth travels in clear, put a "
                    "TLS-terminating proxy in front (docs/)",
                    host);

    drain = (struct drain){base, http, fairq, NULL, 0, 0};
    sigterm = evsignal_new(base, SIGTERM, on_signal, &drain);
    sigint = evsignal_new(base, SIGINT, on_signal, &drain);
    if (!sigterm || !sigint || event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0) {
        herald_error("cannot install signal handlers");
        goto done;
    }
    herald_info("listening on http://%s:%d/v1/ (redis %s)", host, port, redis_url);
    event_base_dispatch(base);
    rc = 0;
done:
    if (drain.tick)
        event_free(drain.tick);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    pub_httpd_free(http);
    pub_fairq_free(fairq);
    pub_bundle_stop(bundles);
    pub_attach_gc_stop(gc);
    pub_attach_free(attach);
    pub_accounts_free(accounts);
    pub_throttle_free(throttle);
    if (base)
        event_base_free(base);
    pub_store_free(store);
    pub_schema_free(schema);
    pub_auth_free(auth);
    pub_settings_free(&settings);
    free(admin_dir);
    return rc;
}
