/*
 * herald/client.h -- a client that syncs collections from a Herald read server (or a CDN
 * in front of one) and only ever hands the application data it has verified.
 *
 * A client object follows a set of collections. herald_client_sync() polls the monitor
 * (GET /v1/buckets/monitor/collections/changes/changeset?_expected=0), and for each
 * followed collection whose version moved fetches
 * .../buckets/B/collections/C/changeset?_expected=V&_since=L (L: the version it holds),
 * merges the delta into its verified copy, recomputes the canonical bytes (RFC 8785) and
 * checks them against a signature by one of the pinned Ed25519 keys: bucket, collection,
 * version, record count, SHA-256, expiry, and a version never below the last verified one
 * (docs/signature-format.md). On any failure it refetches the full changeset once; if
 * that fails too it keeps the last verified copy and reports the error.
 *
 * State lives in 'state_dir', one JSON file per collection plus client.json, each written
 * atomically (temporary file, fsync, rename, fsync of the directory), and is re-verified
 * (signature and hash, not expiry) when loaded: a file torn, truncated or edited on disk
 * is ignored as if absent. A collection with no state is seeded from 'dump_dir' (a
 * packaged changeset, B--C.json) without any request.
 *
 * Threads: one client object may be used from several threads. herald_client_sync() and
 * herald_client_attachment() are serialized per client (so at most one request is in
 * flight per collection); readers (herald_client_records(), _info()) never wait for the
 * network. There is no global state beyond libcurl's and libsodium's one-time
 * initialization, which herald_client_new() performs once (pthread_once).
 *
 * Freshness (issue 14): each sync first verifies the signed monitor (herald/monitor.h,
 * docs/signature-format.md "Signed monitor"): a signature by a pinned key, the entries'
 * hash, an expiry in the future, and an M never below the last verified one (kept in
 * client.json across runs). Each followed collection must then be at exactly the version
 * V and records hash H that monitor names: behind, it is fetched and the result must be
 * V and H (else EUNCOMMITTED, the last verified copy kept); a collection the monitor does
 * not list is ENOTFOUND. When every followed collection matched, the client can state
 * "everything I hold was current as of a monitor signed at most T ago"
 * (herald_client_freshness_get()). A monitor that does not verify fails the whole sync
 * with its reason (EKEY, EEXPIRED, EROLLBACK, EINVALID) and no collection is fetched.
 *
 * Long-poll (herald_client_watch()): a loop that waits on the monitor with If-None-Match
 * and "Prefer: wait=N" (docs/server.md) on a connection of its own, and runs each new
 * monitor it is answered through exactly the same checks as herald_client_sync(), so a
 * change reaches the application (on_change) only once verified.
 */
#ifndef HERALD_CLIENT_H
#define HERALD_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum herald_client_status {
    HERALD_CLIENT_OK = 0,
    HERALD_CLIENT_EUSAGE,       /* bad argument or configuration */
    HERALD_CLIENT_ENETWORK,     /* connection, timeout, TLS, or an HTTP error status */
    HERALD_CLIENT_EBACKOFF,     /* the server asked to wait (Backoff, Retry-After): no request */
    HERALD_CLIENT_EPARSE,       /* the body is not the JSON a changeset must be */
    HERALD_CLIENT_EKEY,         /* no signature by a pinned key (or mode not ed25519) */
    HERALD_CLIENT_EEXPIRED,     /* the signature's expires is in the past */
    HERALD_CLIENT_EROLLBACK,    /* an older version than the last verified one */
    HERALD_CLIENT_EINVALID,     /* hash, count, bucket, collection, version or signature */
    HERALD_CLIENT_ENOTFOUND,    /* collection, record or attachment not published */
    HERALD_CLIENT_ESTORAGE,     /* the state directory could not be written */
    HERALD_CLIENT_EATTACHMENT,  /* downloaded file has the wrong size or SHA-256 */
    HERALD_CLIENT_EUNCOMMITTED, /* a collection's version or hash is not the one the
                                   verified monitor names (mix-and-match, stale copy) */
} herald_client_status;

/* A constant English name for 's' ("ok", "network", "expired", ...). */
const char *herald_client_strerror(herald_client_status s);

/* Returns nonzero to keep 'record' (a JSON object) in what herald_client_records()
 * returns. The stored, verified state always holds every record. */
typedef int (*herald_client_filter_fn)(const json_t *record, void *arg);
/* Called (from the thread running herald_client_sync()) after a collection's new verified
 * state is stored, with its new version. Must not call herald_client_sync(). */
typedef void (*herald_client_changed_fn)(const char *bucket, const char *collection,
                                         int64_t version, void *arg);

typedef struct herald_client_config {
    const char *server_url;         /* ".../v1", http or https; NULL: no network */
    const char *const *public_keys; /* base64url Ed25519 keys, in order of preference */
    size_t npublic_keys;
    const char *state_dir;   /* created if missing */
    const char *dump_dir;    /* optional: B--C.json full changesets to seed from */
    long connect_timeout_ms; /* 0: 10 s */
    long timeout_ms;         /* whole request, 0: 60 s */
    int max_retries;         /* transient failures retried with jitter; <0: 0, 0: 2 */
    long retry_base_ms;      /* first retry waits up to this (doubling); 0: 250 ms */
    size_t max_body_bytes;   /* larger answers are refused; 0: 256 MiB */
    herald_client_filter_fn filter;
    void *filter_arg;
    herald_client_changed_fn on_change;
    void *on_change_arg;
    const char *ca_file; /* optional CA bundle for https */
} herald_client_config;

typedef struct herald_client herald_client;

/* Creates a client (loads client.json; no request). NULL on error, reason in 'err'. */
herald_client *herald_client_new(const herald_client_config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void herald_client_free(herald_client *c); /* NULL-safe */

/* Follows bucket/collection: loads its verified state from state_dir, else from dump_dir
 * (verified against the pinned keys; expiry not checked for a packaged dump). Makes no
 * request. Returns OK (also when nothing was found: it is then fetched by the next sync),
 * EUSAGE for a bad name. */
herald_client_status herald_client_follow(herald_client *c, const char *bucket,
                                          const char *collection);

/*
 * One poll: the monitor, then each followed collection whose version moved. Returns OK
 * when every followed collection is verified at the version the monitor announced, or
 * the first error met (each collection's own outcome is in herald_client_info()). While a
 * Backoff or Retry-After period runs, returns EBACKOFF without any request.
 */
herald_client_status herald_client_sync(herald_client *c);

/*
 * Long-poll. Called after each monitor answer the watch acted on (a sync: 'status' as
 * herald_client_sync() would return it, 'monitor_version' the served M or 0, 'error' the
 * reason or ""). Return nonzero to end the watch. Runs on the watching thread.
 */
typedef int (*herald_client_watch_fn)(herald_client_status status, int64_t monitor_version,
                                      const char *error, void *arg);

typedef struct herald_client_watch_opts {
    int wait_s;          /* Prefer: wait=N, 0: 60 (keep it below every idle timeout on the way) */
    long poll_ms;        /* when nothing holds requests (no Preference-Applied): 0: 60 s */
    int64_t duration_ms; /* end the watch after this long, 0: never */
    herald_client_watch_fn on_sync;
    void *arg;
} herald_client_watch_opts;

/*
 * Watches the monitor until on_sync returns nonzero, duration_ms passes, or
 * herald_client_watch_stop() is called: the first request is an ordinary poll (a sync);
 * each later one carries If-None-Match with the last verified monitor's ETag and is held
 * by the server until the monitor changes (200: synced as herald_client_sync() does,
 * on_change called for each collection that moved, once verified) or wait_s passes
 * (304: asked again at once). A server or proxy that does not hold requests (its 304
 * carries no Preference-Applied) is polled every poll_ms; once requests were held, an
 * unheld 304 (a server shutting down) is retried like a failure. After a failure
 * (network, a restarting server, a monitor or changeset that does not verify) it waits a
 * jittered, doubling delay (retry_base_ms, up to 30 s) and asks again with the ETag of
 * the last monitor it acted on successfully (a newer monitor is answered at once);
 * Backoff and Retry-After are honoured. The last
 * verified copy is kept through any failure. Uses a connection of its own, so
 * herald_client_sync() and herald_client_attachment() may run meanwhile from other
 * threads. Returns OK when it ended as asked, EUSAGE without a server_url, ENETWORK if
 * no connection handle could be made.
 */
herald_client_status herald_client_watch(herald_client *c, const herald_client_watch_opts *o);

/* Ends a running herald_client_watch() within about a second (it aborts the held request);
 * a call while no watch runs has no effect on a later one.
 * Thread-safe and async-signal-safe: may be called from a signal handler. */
void herald_client_watch_stop(herald_client *c);

typedef struct herald_client_info {
    int64_t version;                  /* last verified version, 0 if none */
    int64_t expires;                  /* its signature's expiry (ms), 0 if none */
    size_t records;                   /* number of records in the verified state (unfiltered) */
    int from_dump;                    /* the state came from dump_dir and was not synced since */
    herald_client_status last_status; /* outcome of the last sync of this collection */
    char last_error[256];             /* its reason, "" if OK */
} herald_client_info;

/* Fills 'out' for a followed collection; ENOTFOUND if it is not followed. */
herald_client_status herald_client_info_get(herald_client *c, const char *bucket,
                                            const char *collection, herald_client_info *out);

/* A new reference to the verified records (sorted by id, filtered), or NULL if the
 * collection is not followed or has no verified state yet. */
json_t *herald_client_records(herald_client *c, const char *bucket, const char *collection)
    __attribute__((warn_unused_result));

/* Milliseconds until a sync may make a request again (0: now). */
int64_t herald_client_backoff_ms(herald_client *c);

typedef struct herald_client_freshness {
    int64_t monitor_timestamp; /* M of the last verified monitor, 0 if none */
    int64_t monitor_expires;   /* its expiry (ms) */
    /* 1 when the last sync verified the monitor and found every followed collection at
     * the version and hash it names: what the client holds was then current as of a
     * monitor signed at most (now - monitor_timestamp) ms ago. */
    int all_committed;
    int64_t checked_at; /* when that last sync ran (ms since the epoch), 0 if never */
} herald_client_freshness;

/* Fills 'out' (no request). */
void herald_client_freshness_get(herald_client *c, herald_client_freshness *out);

typedef struct herald_client_stats {
    uint64_t requests;       /* HTTP requests made */
    uint64_t bytes_received; /* body bytes as received (compressed) */
    uint64_t verify_failures;
} herald_client_stats;
void herald_client_stats_get(herald_client *c, herald_client_stats *out);

/*
 * Attachments: the file of record 'record_id' (its "attachment": {location, hash, size,
 * ...}), downloaded from the server's capabilities.attachments.base_url + location into
 * state_dir/attachments/<hash>, and handed over only once its size and SHA-256 match the
 * verified record. Writes the local path into 'path' (PATH_MAX is enough). A cached file
 * is re-hashed before it is handed over.
 */
herald_client_status herald_client_attachment(herald_client *c, const char *bucket,
                                              const char *collection, const char *record_id,
                                              char *path, size_t pathlen);
/* Deletes cached attachment files that no record of a followed collection references.
 * Returns the number deleted, or -1. herald_client_sync() calls it after a change. */
int herald_client_attachments_prune(herald_client *c);

/*
 * Stateless check, the core of a sync (and what the shared test vectors drive):
 * verifies 'changeset' (a parsed changeset body) merged into 'prev' (a verified state as
 * herald_client_verify returns it, or NULL for a full changeset) for bucket/collection
 * with the given keys at time 'now_ms' (0: skip expiry), refusing (EROLLBACK) a version
 * older than 'min_version' or than prev's. On OK '*state_out' receives a
 * new state {"bucket","collection","timestamp","records","signatures","expires"}; on
 * error it is NULL and 'err' says why.
 */
herald_client_status herald_client_verify(json_t **state_out, const json_t *changeset,
                                          const json_t *prev, int64_t min_version,
                                          const char *bucket, const char *collection,
                                          const char *const *public_keys, size_t nkeys,
                                          int64_t now_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
