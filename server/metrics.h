/*
 * metrics -- request counters and the /metrics page (Prometheus text format 0.0.4).
 *
 * Counting must cost next to nothing on the poll path, so counters are sharded: each
 * worker thread owns one metrics_shard and is its only writer. A counter is bumped
 * with a relaxed load and a relaxed store (two plain moves on x86-64; no locked
 * instruction, no shared cache line), and /metrics sums the shards with relaxed loads.
 * Shards are registered once and live until exit, so rendering never races a free.
 *
 * Exported (all counters are since start):
 *   herald_http_requests_total{route,status}      requests answered
 *   herald_http_responses_encoded_total{encoding} 200s with a body, by Content-Encoding
 *   herald_http_not_modified_ratio                304s / (200s + 304s) on versioned routes
 *   herald_http_response_bytes_total              bytes written to clients
 *   herald_http_connections, herald_http_connections_accepted_total,
 *   herald_http_connections_rejected_total{reason}   (cap, idle, header timeout)
 *   herald_redis_up, herald_snapshots_loaded, herald_snapshots (collections served)
 *   herald_backoff_seconds                         the Backoff header sent now (0: none)
 *   herald_snapshot_version_timestamp_seconds{bucket,collection}   V / 1000
 *   herald_snapshot_expires_timestamp_seconds{bucket,collection}
 *   herald_snapshot_expired{bucket,collection}    1 when its signature has expired
 *   herald_snapshot_records{bucket,collection}
 *   herald_snapshot_update_lag_seconds{bucket,collection}  arrival here - V
 *   herald_snapshot_body_bytes{bucket,collection,encoding} full changeset sizes
 *   herald_monitor_timestamp_seconds               newest V
 *   herald_seconds_since_last_update               now - last set published from Redis
 *   herald_encode_upgrades_total{result}          background recompressions done/skipped
 *   herald_encode_pending                          bodies waiting for the upgrade
 *   herald_served_body_bytes{encoding}            every body held to serve (issue 19)
 *   herald_resync_duration_seconds                 the last full resync (cold start)
 *   herald_snapshots_invalid                       newest snapshots that do not verify
 *   herald_monitor_signed                          1 when the monitor served is signed
 *   herald_lockstep_staged                         versions (and removals) loaded, not served
 *   herald_lockstep_wait_seconds (histogram)       how long each version waited staged
 *   herald_lockstep_superseded_total               staged versions never served
 *   herald_lockstep_fallbacks_total, herald_lockstep_fallback   bound passed: unsigned
 */
#ifndef HERALD_SERVER_METRICS_H
#define HERALD_SERVER_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "encode.h"
#include "herald/mem.h"
#include "lockstep.h"
#include "route_id.h"

enum status_id {
    ST_200 = 0,
    ST_304,
    ST_400,
    ST_404,
    ST_405,
    ST_408,
    ST_414,
    ST_431,
    ST_501,
    ST_503,
    ST_505,
    ST_OTHER,
    ST_COUNT,
};

enum conn_event {
    CE_ACCEPTED = 0,
    CE_REJECTED_CAP,
    CE_CLOSED_IDLE,
    CE_CLOSED_HEADER_TIMEOUT,
    CE_COUNT,
};

typedef atomic_uint_fast64_t metric_counter;

typedef struct metrics_shard {
    metric_counter req[RT_COUNT][ST_COUNT];
    metric_counter enc[ENC_COUNT];
    metric_counter bytes_out;
    metric_counter conn[CE_COUNT];
    struct metrics_shard *next;
} metrics_shard;

/* Single-writer increment (see above): only the shard's owner thread calls this. */
static inline void
metrics_add(metric_counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* A new zeroed shard, registered for rendering; it lives until metrics_free_all(). */
metrics_shard *metrics_shard_new(void);
/* Frees every shard (at exit, after the workers stopped). */
void metrics_free_all(void);

int metrics_status_index(int status);
/* Counts one response: 'route' (enum route_id, route_id.h), HTTP 'status'. */
void metrics_count(metrics_shard *m, int route, int status);

/* The gauges a page shows that are not counters of the shards: given by the caller
 * (from status.h and encode.h), so this module reads no other module's state. */
typedef struct metrics_gauges {
    int connections;
    int redis_up;
    int loaded;
    long long last_update_ms; /* 0: never */
    int backoff_seconds;      /* 0: no Backoff header */
    unsigned long long encode_done, encode_skipped, encode_pending;
    long long long_poll_held; /* requests held for Prefer: wait */
    long long resync_ms;      /* the last full resync's duration; -1: none yet */
    int invalid;              /* collections whose newest snapshot does not verify */
    lockstep_stats lockstep;  /* versions staged for a committing monitor (lockstep.h) */
} metrics_gauges;

/* The read server's work per version it builds (issue 13), by step: sums and counts,
 * added by whichever thread did the step (loader workers, the sync loop, the
 * compressor), rendered as herald_version_step_seconds{step=...}. */
enum version_step {
    VS_FETCH = 0, /* GET of the delta or full blob: sent -> reply on the sync loop */
    VS_DECODE,    /* full blob: decompress and parse, index its records (state) */
    VS_APPLY,     /* delta: parse it, merge it into the base's state */
    VS_VERIFY,    /* SHA-256 over records_json and the Ed25519 check of the head */
    VS_BUILD,     /* the coll: listing, bodies, cached deltas, objects */
    VS_COMPRESS,  /* one background compression job (count: jobs, not versions) */
    VS_COUNT,
};
/* Any thread. */
void metrics_step_add(int step, int64_t ns);

struct snapset;
/* Appends the /metrics page for the set 's' (may be NULL) and the gauges 'g' at
 * 'now_ms'. */
void metrics_render(herald_buf *out, const struct snapset *s, const metrics_gauges *g,
                    int64_t now_ms);

#endif
