/*
 * herald-server -- the read server: serves verified snapshots from memory.
 *
 * Threads:
 *   main      parses the configuration, then runs one event base with the Redis sync
 *             (sync.c: subscribe, load, verify, publish sets) and the signal handlers;
 *   workers   N event bases, each with its own SO_REUSEPORT listener (conn.c), reading
 *             only the published immutable snapshot set (snapset.c).
 * An empty set is published before the workers start, so from the first request
 * unknown collections are 404 and monitor/changes is an empty list, while
 * __heartbeat__ answers 503 until Redis is reachable and the first resync is done.
 *
 * Layers, top to bottom. A file calls only files of the layers below it (never one of
 * its own layer, never one above); everything but this file is the static library
 * herald_server, which the unit tests link.
 *   program            main.c      configuration, wiring, signals
 *   connection I/O     conn.c      workers, listeners, sockets, timeouts, drain; the
 *                                  only file that reads or writes a socket
 *   request framing    lib/http_parse.c (herald/http_parse.h), called by conn.c
 *   router             routes.c    route of a request, 404/405/preflight, counting
 *   handlers           changes.c   monitor and changesets (the polling API)
 *                      kinto.c     Kinto's read-only GETs
 *                      ops.c       __heartbeat__, __lbheartbeat__, __version__, /metrics
 *   response building  reply.c     status lines, errors, versioned 200/304 bodies
 *   output             out.c       the output queue (copies and references, writev)
 *   Redis sync         sync.c      subscribe, load, verify, publish sets (called by
 *                                  main.c only; reports to status.c)
 *   counters, gauges   metrics.c   sharded counters and the /metrics page (given the
 *                                  gauges, reads no module's state)
 *                      status.c    connection count, Redis up, loaded, last update
 *   data model         snapset.c   immutable snapshot sets, precomputed bodies; md5.c
 *   encoding           encode.c    gzip/zstd bodies and the background upgrade
 * Shared vocabulary, headers only: route_id.h (route ids and their metric labels).
 *
 * Configuration: defaults, then --config FILE, then HERALD_* environment variables,
 * then flags (DESIGN.md). Settings: server_listen, redis_url, public_keys (space
 * separated), server_threads, http_host, log_level, server_idle_timeout_seconds,
 * server_header_timeout_seconds, server_max_connections, server_drain_timeout_seconds,
 * server_compression (on/off),
 * tombstone_horizon_seconds (the signer's), paginate_by, record_cache_expires_seconds,
 * record_cache_maximum_expires_seconds, monitor.changes.record_cache_expires_seconds,
 * monitor.changes.record_cache_maximum_expires_seconds.
 */
#include <event2/event.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "encode.h"
#include "herald/config.h"
#include "herald/crypto.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "herald/redis.h"
#include "kinto.h"
#include "metrics.h"
#include "snapset.h"
#include "sync.h"

#define MAX_KEYS 16

static const char *const env_names[] = {
    "server_listen",
    "redis_url",
    "public_keys",
    "server_threads",
    "http_host",
    "log_level",
    "server_idle_timeout_seconds",
    "server_header_timeout_seconds",
    "server_max_connections",
    "server_drain_timeout_seconds",
    "server_compression",
    "tombstone_horizon_seconds",
    "paginate_by",
    "record_cache_expires_seconds",
    "record_cache_maximum_expires_seconds",
    "monitor.changes.record_cache_expires_seconds",
    "monitor.changes.record_cache_maximum_expires_seconds",
    NULL,
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: herald-server [options]\n"
               "  --listen HOST:PORT    address to serve on (HERALD_SERVER_LISTEN;\n"
               "                        default 127.0.0.1:8888)\n"
               "  --redis URL           redis://host:port/db (HERALD_REDIS_URL;\n"
               "                        default redis://127.0.0.1:6379/0)\n"
               "  --public-key KEY      a signer public key (base64url, 43 characters);\n"
               "                        repeatable (HERALD_PUBLIC_KEYS, space separated).\n"
               "                        Required: only snapshots verified by one are served\n"
               "  --threads N           worker threads (HERALD_SERVER_THREADS; default: cores)\n"
               "  --public-host NAME    host of monitor/changes entries (HERALD_HTTP_HOST;\n"
               "                        default: the listen address)\n"
               "  --config FILE         key = value settings file; also:\n"
               "                        server_idle_timeout_seconds (60),\n"
               "                        server_header_timeout_seconds (10),\n"
               "                        server_max_connections (50000),\n"
               "                        server_drain_timeout_seconds (10: on SIGTERM, the\n"
               "                        longest wait for responses being written),\n"
               "                        server_compression (true: gzip and zstd bodies),\n"
               "                        tombstone_horizon_seconds (2592000, as the signer),\n"
               "                        paginate_by (0: none), record_cache_expires_seconds,\n"
               "                        record_cache_maximum_expires_seconds, and the same\n"
               "                        two prefixed with monitor.changes.\n"
               "  --log-level LEVEL     debug, info, warn or error (HERALD_LOG_LEVEL)\n"
               "  --help                this text\n");
}

/* Splits "host:port" or "[v6]:port" into 'host' and 'port'. Returns 0 or -1. */
static int
split_listen(const char *s, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -1;
        if ((size_t)(rb - s - 1) >= hostlen)
            return -1;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= hostlen || colon == s)
            return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    const char *p = colon + 1;
    if (!*p || strlen(p) >= portlen || strspn(p, "0123456789") != strlen(p) || atoi(p) > 65535)
        return -1;
    strcpy(port, p);
    return 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    herald_info("signal %d: shutting down (finishing the responses under way)", (int)sig);
    event_base_loopbreak(arg);
}

static int
get_int(const herald_config *cfg, const char *name, int64_t def, int64_t min, int64_t max,
        int64_t *value)
{
    if (herald_config_get_int(cfg, name, def, value) < 0 || *value < min || *value > max) {
        fprintf(stderr, "herald-server: %s must be an integer in [%lld, %lld]\n", name,
                (long long)min, (long long)max);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"redis", required_argument, NULL, 'r'},
        {"public-key", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 't'},
        {"public-host", required_argument, NULL, 'H'},
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    herald_config *cfg = herald_config_new(), *flags = herald_config_new();
    herald_buf keys_flag = HERALD_BUF_INIT, public_url = HERALD_BUF_INIT;
    const char *config_file = NULL;
    herald_pubkey keys[MAX_KEYS];
    size_t nkeys = 0;
    char *keylist = NULL;
    struct event_base *base = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    int rc = 1, started = 0, syncing = 0;
    char err[512];
    int opt;

    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            herald_config_set(flags, "server_listen", optarg);
            break;
        case 'r':
            herald_config_set(flags, "redis_url", optarg);
            break;
        case 'k':
            if (keys_flag.len)
                herald_buf_putc(&keys_flag, ' ');
            herald_buf_puts(&keys_flag, optarg);
            herald_config_set(flags, "public_keys", herald_buf_cstr(&keys_flag));
            break;
        case 't':
            herald_config_set(flags, "server_threads", optarg);
            break;
        case 'H':
            herald_config_set(flags, "http_host", optarg);
            break;
        case 'c':
            config_file = optarg;
            break;
        case 'L':
            herald_config_set(flags, "log_level", optarg);
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            rc = 2;
            goto out;
        }
    }
    if (optind < argc) {
        usage(stderr);
        rc = 2;
        goto out;
    }
    if (config_file && herald_config_load_file(cfg, config_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "herald-server: %s\n", err);
        goto out;
    }
    herald_config_load_env(cfg, env_names);
    herald_config_merge(cfg, flags);

    int level = herald_log_parse_level(herald_config_get(cfg, "log_level", "info"));
    if (level < 0) {
        fprintf(stderr, "herald-server: unknown log_level\n");
        goto out;
    }
    herald_log_init("herald-server", (enum herald_log_level)level);
    if (herald_crypto_init() < 0) {
        herald_error("cannot initialise libsodium");
        goto out;
    }

    char host[256], port[8];
    const char *listen = herald_config_get(cfg, "server_listen", "127.0.0.1:8888");
    if (split_listen(listen, host, sizeof(host), port, sizeof(port)) < 0) {
        herald_error("invalid listen address '%s' (HOST:PORT)", listen);
        goto out;
    }
    sync_opts so;
    memset(&so, 0, sizeof(so));
    const char *redis = herald_config_get(cfg, "redis_url", "redis://127.0.0.1:6379/0");
    if (herald_redis_parse_url(&so.url, redis) < 0) {
        herald_error("invalid redis URL '%s'", redis);
        goto out;
    }

    keylist = herald_mem_strdup(herald_config_get(cfg, "public_keys", ""));
    char *save = NULL;
    for (char *k = strtok_r(keylist, " \t,", &save); k; k = strtok_r(NULL, " \t,", &save)) {
        if (nkeys == MAX_KEYS) {
            herald_error("more than %d public keys", MAX_KEYS);
            goto out;
        }
        if (herald_crypto_pubkey_parse(&keys[nkeys], k) < 0) {
            herald_error("invalid public key '%s' (43 base64url characters expected)", k);
            goto out;
        }
        herald_info("trusting public key %s (key_id %s)", keys[nkeys].b64, keys[nkeys].key_id);
        nkeys++;
    }
    if (nkeys == 0) {
        herald_error("no public key: give --public-key KEY (or HERALD_PUBLIC_KEYS); a read "
                     "server only serves snapshots it can verify");
        goto out;
    }
    so.keys = keys;
    so.nkeys = nkeys;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t threads, idle, hdrto, maxconns, drain, cdef, cmax, mdef, mmax, horizon, paginate;
    if (get_int(cfg, "server_threads", cores > 0 ? cores : 1, 1, 256, &threads) < 0 ||
        get_int(cfg, "server_idle_timeout_seconds", 60, 1, 86400, &idle) < 0 ||
        get_int(cfg, "server_header_timeout_seconds", 10, 1, 3600, &hdrto) < 0 ||
        get_int(cfg, "tombstone_horizon_seconds", 2592000, 1, 100LL * 365 * 86400, &horizon) < 0 ||
        get_int(cfg, "paginate_by", 0, 0, 1000000, &paginate) < 0 ||
        get_int(cfg, "server_max_connections", 50000, 1, 10000000, &maxconns) < 0 ||
        get_int(cfg, "server_drain_timeout_seconds", 10, 0, 3600, &drain) < 0 ||
        get_int(cfg, "record_cache_expires_seconds", 60, 0, INT32_MAX, &cdef) < 0 ||
        get_int(cfg, "record_cache_maximum_expires_seconds", 3600, 0, INT32_MAX, &cmax) < 0 ||
        get_int(cfg, "monitor.changes.record_cache_expires_seconds", 60, 0, INT32_MAX, &mdef) < 0 ||
        get_int(cfg, "monitor.changes.record_cache_maximum_expires_seconds", 3600, 0, INT32_MAX,
                &mmax) < 0)
        goto out;

#ifdef __GLIBC__
    /* Snapshot bodies are long-lived and large, and every version's build allocates and
     * frees large temporaries (decompressed blobs, parsed records). glibc's dynamic mmap
     * threshold would move such blocks onto the heap after the first large free, where
     * they fragment it; a fixed threshold keeps every block >= 256 KB in its own mapping,
     * returned to the system when freed. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    const char *comp = herald_config_get(cfg, "server_compression", "true");
    int compress = !strcmp(comp, "true") || !strcmp(comp, "1") || !strcmp(comp, "on");
    if (!compress && strcmp(comp, "false") && strcmp(comp, "0") && strcmp(comp, "off")) {
        herald_error("server_compression must be true or false");
        goto out;
    }
    const char *public_host = herald_config_get(cfg, "http_host", listen);
    snapset_config sc = {public_host, cdef, cmax, mdef, mmax, horizon * 1000, compress};
    snapset_configure(&sc);
    herald_buf_printf(&public_url, "%s%s", strstr(public_host, "://") ? "" : "http://",
                      public_host);
    kinto_config kcfg = {keys, nkeys, herald_buf_cstr(&public_url), paginate};
    kinto_configure(&kcfg);
    if (compress && encode_start() < 0) {
        herald_error("cannot start the compression thread");
        goto out;
    }
    snapset_publish(snapset_new(NULL, 0)); /* serve "nothing yet" from the first request */

    signal(SIGPIPE, SIG_IGN); /* a client closing early must not kill the server */
    base = event_base_new();
    if (!base) {
        herald_error("event_base_new failed");
        goto out;
    }
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigterm || !sigint || event_add(sigterm, NULL) < 0 || event_add(sigint, NULL) < 0) {
        herald_error("cannot install signal handlers");
        goto out;
    }

    server_opts sv = {.host = host,
                      .port = port,
                      .threads = (int)threads,
                      .idle_timeout_ms = (int)(idle * 1000),
                      .header_timeout_ms = (int)(hdrto * 1000),
                      .max_conns = (int)maxconns,
                      .drain_timeout_ms = (int)(drain * 1000)};
    if (server_start(&sv) < 0)
        goto out;
    started = 1;
    if (sync_start(base, &so) < 0) {
        herald_error("cannot start the redis sync");
        goto out;
    }
    syncing = 1;
    herald_info("herald-server %s: redis %s:%d/%d, %zu public key(s), host '%s'", HERALD_VERSION,
                so.url.host, so.url.port, so.url.db, nkeys, sc.host);
    event_base_dispatch(base);
    rc = 0;
out:
    if (started)
        server_stop();
    if (syncing)
        sync_stop();
    encode_stop();
    snapset_publish(NULL);
    snapset_unconfigure();
    kinto_unconfigure();
    metrics_free_all();
    herald_buf_free(&public_url);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (base)
        event_base_free(base);
    free(keylist);
    herald_buf_free(&keys_flag);
    herald_config_free(cfg);
    herald_config_free(flags);
    return rc;
}
