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
 *   connection I/O     conn.c      workers, listeners, sockets, timeouts, drain, held
 *                                  long-polls; it owns every socket (out.c writes a
 *                                  queue only to the descriptor conn.c hands it, when
 *                                  conn.c asks); it learns of a new set through the one
 *                                  hook it registers in snapset.c (a callback: snapset.c
 *                                  holds a function pointer and includes nothing above)
 *   request framing    lib/http_parse.c (herald/http_parse.h), called by conn.c
 *   router             routes.c    route of a request, 404/405/preflight, counting;
 *                                  whether a long-poll is held (the handler's own 304)
 *   handlers           changes.c   monitor and changesets (the polling API)
 *                      kinto.c     Kinto's read-only GETs
 *                      ops.c       __heartbeat__, __lbheartbeat__, __version__, /metrics
 *   response building  reply.c     status lines, errors, versioned 200/304 bodies
 *   output             out.c       the output queue (copies and references; writev to
 *                                  the descriptor its caller gives)
 *   Redis sync         sync.c      subscribe, load, verify, publish sets (called by
 *                                  main.c only; reports to status.c)
 *   counters, gauges   metrics.c   sharded counters and the /metrics page (given the
 *                                  gauges, reads no module's state)
 *                      status.c    connection count, Redis up, loaded, last update,
 *                                  the operator's Backoff (set by sync, read by reply.c)
 *   waiters            wait.c      long-poll waiters of one worker: groups by what they
 *                                  wait on, a timing wheel; the held gauge (read by
 *                                  ops.c); calls no server module
 *   data model         snapset.c   immutable snapshot sets, precomputed bodies; md5.c
 *   encoding           encode.c    gzip/zstd bodies and the background upgrade
 * Shared vocabulary, headers only: route_id.h (route ids and their metric labels).
 *
 * Configuration: defaults, then --config FILE, then HERALD_* environment variables,
 * then flags (DESIGN.md); every setting is one row of the table in settings.c.
 */
#include <event2/event.h>
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
#include "herald/crypto.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "herald/redis.h"
#include "kinto.h"
#include "loader.h"
#include "metrics.h"
#include "attach.h"
#include "settings.h"
#include "snapset.h"
#include "status.h"
#include "sync.h"

#define MAX_KEYS 16

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    herald_info("signal %d: shutting down (finishing the responses under way)", (int)sig);
    event_base_loopbreak(arg);
}

/* The public keys of 'set' into 'keys' (at most MAX_KEYS), logged. Returns 0, or -1 when
 * one is invalid, there are too many or none (logged). */
static int
read_keys(const server_settings *set, herald_pubkey keys[MAX_KEYS], size_t *nkeys)
{
    char *keylist = herald_mem_strdup(set->public_keys ? set->public_keys : "");
    char *save = NULL;
    int rc = -1;
    *nkeys = 0;
    for (char *k = strtok_r(keylist, " \t,", &save); k; k = strtok_r(NULL, " \t,", &save)) {
        if (*nkeys == MAX_KEYS) {
            herald_error("more than %d public keys", MAX_KEYS);
            goto out;
        }
        herald_pubkey *pk = &keys[*nkeys];
        if (herald_crypto_pubkey_parse(pk, k) < 0) {
            herald_error("invalid public key '%s' (43 base64url characters expected)", k);
            goto out;
        }
        herald_info("trusting public key %s (key_id %s)", pk->b64, pk->key_id);
        (*nkeys)++;
    }
    if (*nkeys == 0) {
        herald_error("no public key: give --public-key KEY (or HERALD_PUBLIC_KEYS); a read "
                     "server only serves snapshots it can verify");
        goto out;
    }
    rc = 0;
out:
    free(keylist);
    return rc;
}

/* The host name in links and Kinto's "url" (http_host, else the listen address). */
static const char *
public_host(const server_settings *set)
{
    return set->http_host ? set->http_host : set->listen.text;
}

/* Configures the data model, the handlers and compression, and publishes the empty set
 * (so "nothing yet" is served from the first request). 'public_url' receives the URL
 * kinto.c keeps a pointer to: it must live until kinto_unconfigure(). Returns 0 or -1. */
static int
configure_modules(const server_settings *set, const herald_pubkey *keys, size_t nkeys,
                  herald_buf *public_url)
{
#ifdef __GLIBC__
    /* Snapshot bodies are long-lived and large, and every version's build allocates and
     * frees large temporaries (decompressed blobs, parsed records). glibc's dynamic mmap
     * threshold would move such blocks onto the heap after the first large free, where
     * they fragment it; a fixed threshold keeps every block >= 256 KB in its own mapping,
     * returned to the system when freed. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    /* Every thread that allocates under contention gets its own arena, which keeps what
     * it freed for itself: the loader's and the compressor's churn then piles up in
     * arenas no one else reuses (docs/server.md has the figures). */
    if (set->malloc_arenas > 0)
        mallopt(M_ARENA_MAX, (int)set->malloc_arenas);
#endif
    const char *host = public_host(set);
    snapset_config sc = {host,
                         set->record_cache_expires_seconds,
                         set->record_cache_maximum_expires_seconds,
                         set->monitor_cache_expires_seconds,
                         set->monitor_cache_maximum_expires_seconds,
                         set->tombstone_horizon_seconds * 1000,
                         set->compression};
    snapset_configure(&sc);
    herald_buf_printf(public_url, "%s%s", strstr(host, "://") ? "" : "http://", host);
    kinto_config kcfg = {keys, nkeys, herald_buf_cstr(public_url), set->paginate_by};
    kinto_configure(&kcfg);
    if (set->compression && encode_start() < 0) {
        herald_error("cannot start the compression thread");
        return -1;
    }
    snapset_publish(snapset_new(NULL, 0));
    attach_opts ao = {set->attachments_dir, set->attachment_origin,
                      (int)(set->attachment_fetch_timeout_seconds * 1000)};
    return attach_configure(&ao);
}

/* Starts the worker threads and their listeners (conn.c). Returns 0 or -1 (logged). */
static int
start_workers(const server_settings *set)
{
    char port[8];
    snprintf(port, sizeof(port), "%d", set->listen.port);
    server_opts sv = {.host = set->listen.host,
                      .port = port,
                      .threads = (int)set->threads,
                      .idle_timeout_ms = (int)(set->idle_timeout_seconds * 1000),
                      .header_timeout_ms = (int)(set->header_timeout_seconds * 1000),
                      .max_conns = (int)set->max_connections,
                      .drain_timeout_ms = (int)(set->drain_timeout_seconds * 1000),
                      .long_poll_max_ms = set->long_poll_max_seconds * 1000};
    return server_start(&sv);
}

int
main(int argc, char **argv)
{
    server_settings set;
    herald_buf public_url = HERALD_BUF_INIT;
    herald_pubkey keys[MAX_KEYS];
    size_t nkeys = 0;
    struct event_base *base = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    int rc = server_settings_read(&set, argc, argv), started = 0, syncing = 0;

    if (rc >= 0)
        goto out;
    rc = 1;
    herald_log_init("herald-server", (enum herald_log_level)set.log_level);
    if (herald_crypto_init() < 0) {
        herald_error("cannot initialise libsodium");
        goto out;
    }
    sync_opts so;
    memset(&so, 0, sizeof(so));
    const char *redis = set.redis_url ? set.redis_url : "";
    if (herald_redis_parse_url(&so.url, redis) < 0) {
        herald_error("invalid redis URL '%s'", redis);
        goto out;
    }
    so.url.prefer_replica = set.prefer_replica;
    if (read_keys(&set, keys, &nkeys) < 0)
        goto out;
    so.keys = keys;
    so.nkeys = nkeys;
    so.backoff_default = (int)set.backoff_seconds;
    so.view_idle_ms = set.kinto_view_idle_seconds * 1000;
    so.lockstep_ms = set.lockstep_max_wait_seconds * 1000;
    loader_set_parallel_verify((size_t)set.parallel_verify_records);
    status_set_backoff(so.backoff_default); /* from the first response, before Redis */
    if (configure_modules(&set, keys, nkeys, &public_url) < 0)
        goto out;

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
    if (start_workers(&set) < 0)
        goto out;
    started = 1;
    if (sync_start(base, &so) < 0) {
        herald_error("cannot start the redis sync");
        goto out;
    }
    syncing = 1;
    herald_info("herald-server %s: redis %s:%d/%d, %zu public key(s), host '%s'", HERALD_VERSION,
                so.url.host, so.url.port, so.url.db, nkeys, public_host(&set));
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
    attach_unconfigure();
    metrics_free_all();
    herald_buf_free(&public_url);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (base)
        event_base_free(base);
    server_settings_free(&set);
    return rc;
}
