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
 * before it; httpd.c reaches the pipeline through the handler pointer main.c gives it.
 *   program         main.c (settings, wiring, signals)
 *   connection I/O  httpd.c (sockets, framing, keep-alive, timeouts)
 *   pipeline        pipeline.c (CORS preflight, body limit, authentication with argon2id
 *                   on worker threads, principals, password hashing, decorations, log)
 *   router          dispatch.c (path -> handler, method and Accept checks, the batch
 *                   loop), batch.c (batch body -> sub-requests; sub-responses -> JSON)
 *   handlers        endpoints.c (root, heartbeats, version, __flush__), permissions.c
 *                   (GET /v1/permissions), list.c, object.c
 *   write           write.c (the write of one object, step by step, for list and object)
 *   request context call.c (pub_call: the request as handlers see it, and the helpers
 *                   they share: deny, status, preconditions, permissions, listing)
 *   model, services objects.c (Redis views and guarded writes), store.c (connection, Lua
 *                   scripts), accounts.c (argon2id workers, credential cache), auth.c
 *                   (the admin), schema.c (collection JSON schemas: checks, the
 *                   compiled-schema cache, validation), settings.c
 *   response        reply.c (status, headers and JSON bodies of a pub_resp)
 *   values (pure)   http.c (request, response, headers), stamp.c, patch.c, perms.c,
 *                   path.c
 *
 * Settings (config.h precedence: defaults < --config FILE < environment < flags):
 *   publisher_listen     HERALD_PUBLISHER_LISTEN  --listen HOST:PORT (127.0.0.1:8889)
 *   redis_url            HERALD_REDIS_URL         --redis URL (redis://127.0.0.1:6379/0)
 *   redis_timeout_ms     HERALD_REDIS_TIMEOUT_MS  connect and command timeout (5000)
 *   log_level            HERALD_LOG_LEVEL         debug, info, warn, error (info)
 * and Kinto's settings (settings.h; docs/publisher.md lists them all).
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
#include "auth.h"
#include "herald/config.h"
#include "herald/jcs.h"
#include "herald/log.h"
#include "herald/redis.h"
#include "httpd.h"
#include "call.h"
#include "pipeline.h"
#include "schema.h"
#include "settings.h"
#include "store.h"

#define DEFAULT_LISTEN "127.0.0.1:8889"
#define DEFAULT_REDIS "redis://127.0.0.1:6379/0"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: herald-publisher [--listen HOST:PORT] [--redis URL] [--config FILE]\n"
            "\n"
            "Kinto HTTP API (1.23) for editors; stores everything in Redis.\n"
            "\n"
            "  --listen HOST:PORT  address to serve on (HERALD_PUBLISHER_LISTEN, default %s)\n"
            "  --redis URL         redis://host[:port][/db] (HERALD_REDIS_URL, default %s)\n"
            "  --config FILE       'key = value' settings (Kinto names, '#' comments)\n"
            "  --NAME VALUE        any setting NAME (e.g. --paginate-by 100)\n"
            "  --help              this text\n"
            "\n"
            "Environment: HERALD_ADMIN_PASSWORD is the password of the account 'admin'\n"
            "(HTTP Basic auth), which may do everything. Every setting NAME of the config\n"
            "file can also be given as HERALD_<NAME> (docs/publisher.md).\n"
            "\n"
            "Redis must run with appendonly yes and appendfsync always: a write is\n"
            "acknowledged when Redis replies, which is then after its fsync.\n"
            "Basic auth travels in clear: put a TLS-terminating proxy in front.\n",
            DEFAULT_LISTEN, DEFAULT_REDIS);
}

/* Splits "HOST:PORT" or "[V6]:PORT". Returns 0 or -1. */
static int
parse_listen(char *host, size_t hostlen, int *port, const char *s)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hl;
    char *end;
    if (!colon)
        return -1;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p <= 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

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
 * reply being flushed), then leave the loop; after DRAIN_MAX_MS, leave anyway. A second
 * signal leaves at once.
 */
#define DRAIN_MAX_MS 10000

struct drain {
    struct event_base *base;
    pub_httpd *http;
    struct event *tick;
    int ticks;
};

static void
drain_tick(evutil_socket_t fd, short events, void *arg)
{
    struct drain *d = arg;
    (void)fd;
    (void)events;
    int busy = pub_httpd_busy(d->http);
    if (busy <= 0 || ++d->ticks * 50 >= DRAIN_MAX_MS) {
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

/* Parses the command line into 'flags'. Returns 0, 1 for --help, -1 on error. */
static int
parse_args(herald_config *flags, const char **config_file, int argc, char **argv)
{
    char setting[128];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *name = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--listen") == 0)
            name = "publisher_listen";
        else if (strcmp(a, "--redis") == 0)
            name = "redis_url";
        else if (strcmp(a, "--config") == 0)
            name = "";
        else if (strncmp(a, "--", 2) == 0 && strlen(a) < sizeof(setting)) {
            /* Any setting as a flag: --paginate-by 10 or --paginate_by 10. */
            snprintf(setting, sizeof(setting), "%s", a + 2);
            for (char *c = setting; *c; c++)
                if (*c == '-')
                    *c = '_';
            for (int k = 0; pub_settings_names[k]; k++)
                if (strcmp(pub_settings_names[k], setting) == 0)
                    name = setting;
        }
        if (!name) {
            fprintf(stderr, "herald-publisher: unknown argument '%s' (see --help)\n", a);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "herald-publisher: %s needs a value\n", a);
            return -1;
        }
        if (*name)
            herald_config_set(flags, name, argv[++i]);
        else
            *config_file = argv[++i];
    }
    return 0;
}

int
main(int argc, char **argv)
{
    herald_config *cfg = herald_config_new(), *flags = herald_config_new();
    const char *config_file = NULL;
    struct event_base *base = NULL;
    pub_httpd *http = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    struct drain drain = {0}; /* before any goto: 'done' frees its timer */
    pub_store *store = NULL;
    pub_auth *auth = NULL;
    pub_accounts *accounts = NULL;
    pub_settings settings;
    pub_schema *schema = NULL;
    herald_redis_url url;
    char err[512], host[256], listen_str[300];
    int port, rc = 1;
    int64_t timeout_ms;

    memset(&settings, 0, sizeof(settings));

    herald_log_init("herald-publisher", HERALD_LOG_INFO);
    switch (parse_args(flags, &config_file, argc, argv)) {
    case 1:
        usage(stdout);
        rc = 0;
        goto done;
    case -1:
        rc = 2;
        goto done;
    default:
        break;
    }
    if (config_file && herald_config_load_file(cfg, config_file, err, sizeof(err)) != 0) {
        herald_error("config: %s", err);
        goto done;
    }
    herald_config_load_env(cfg, pub_settings_names);
    herald_config_merge(cfg, flags);

    const char *level = herald_config_get(cfg, "log_level", "info");
    int lvl = herald_log_parse_level(level);
    if (lvl < 0) {
        herald_error("log_level: unknown level '%s'", level);
        goto done;
    }
    herald_log_init("herald-publisher", (enum herald_log_level)lvl);
    const char *listen_at = herald_config_get(cfg, "publisher_listen", DEFAULT_LISTEN);
    if (parse_listen(host, sizeof(host), &port, listen_at) != 0) {
        herald_error("listen: expected HOST:PORT, got '%s'", listen_at);
        goto done;
    }
    const char *redis_url = herald_config_get(cfg, "redis_url", DEFAULT_REDIS);
    if (herald_redis_parse_url(&url, redis_url) != 0) {
        herald_error("redis_url: expected redis://host[:port][/db], got '%s'", redis_url);
        goto done;
    }
    if (herald_config_get_int(cfg, "redis_timeout_ms", 5000, &timeout_ms) != 0 || timeout_ms < 10 ||
        timeout_ms > 600000) {
        herald_error("redis_timeout_ms: expected an integer from 10 to 600000");
        goto done;
    }
    if (pub_settings_load(&settings, cfg, err, sizeof(err)) != 0) {
        herald_error("config: %s", err);
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
    accounts = pub_accounts_new(base, (int)settings.account_workers,
                                (int)settings.account_cache_ttl_seconds, 1024);
    if (!accounts)
        goto done;
    store = pub_store_new(&url, (int)timeout_ms);
    /* Redis may start after us (or restart): requests get 503 until it answers. */
    if (pub_store_ready(store) != 0)
        herald_warn("redis %s not reachable yet; answering 503 until it is", redis_url);

    /* Collection JSON schemas (schema.h). experimental_collection_schema_validation
     * comes from the environment only until it joins the settings table. */
    pub_schema_opts schema_opts = PUB_SCHEMA_OPTS_DEFAULT;
    if (pub_schema_opts_enable(&schema_opts,
                               getenv("HERALD_EXPERIMENTAL_COLLECTION_SCHEMA_VALIDATION")) != 0) {
        herald_error("experimental_collection_schema_validation: expected true or false");
        goto done;
    }
    schema = pub_schema_new(&schema_opts);

    snprintf(listen_str, sizeof(listen_str), "%s:%d", host, port);
    pub_app app = {
        .store = store,
        .auth = auth,
        .accounts = accounts,
        .settings = &settings,
        .schema = schema,
        .default_host = listen_str,
    };
    pub_httpd_opts ho = {settings.max_body_bytes, (int)settings.idle_timeout_seconds * 1000,
                         (int)settings.header_timeout_seconds * 1000};
    http = pub_httpd_new(base, &ho, pub_pipeline_handle, &app);
    if (pub_httpd_listen(http, host, port) != 0) {
        herald_error("cannot listen on %s:%d: %s", host, port, strerror(errno));
        goto done;
    }
    if (!is_loopback(host))
        herald_warn("listening on non-loopback %s: Basic auth travels in clear, put a "
                    "TLS-terminating proxy in front (docs/)",
                    host);

    drain = (struct drain){base, http, NULL, 0};
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
    pub_accounts_free(accounts);
    if (base)
        event_base_free(base);
    pub_store_free(store);
    pub_schema_free(schema);
    pub_auth_free(auth);
    pub_settings_free(&settings);
    herald_config_free(cfg);
    herald_config_free(flags);
    return rc;
}
