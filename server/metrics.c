/*
 * metrics -- see metrics.h. Rendering allocates and formats freely: it runs once per
 * scrape, not per poll.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "snapset.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static metrics_shard *g_shards;

static const char *const ROUTE_NAMES[RT_COUNT] = {
#define ROUTE_NAME(id, label) [id] = label,
    SERVER_ROUTES(ROUTE_NAME)
#undef ROUTE_NAME
};
static const int STATUS_CODES[ST_COUNT] = {200, 304, 400, 404, 405, 408,
                                           414, 431, 501, 503, 505, 0};
static const char *const ENC_NAMES[ENC_COUNT] = {"identity", "gzip", "zstd"};
static const char *const STEP_NAMES[VS_COUNT] = {"fetch",  "decode", "apply",
                                                 "verify", "build",  "compress"};
/* Several writers (unlike the shards): fetch-and-add. */
static metric_counter g_step_ns[VS_COUNT], g_step_n[VS_COUNT];

void
metrics_step_add(int step, int64_t ns)
{
    if (step < 0 || step >= VS_COUNT)
        return;
    atomic_fetch_add_explicit(&g_step_ns[step], (uint64_t)(ns > 0 ? ns : 0), memory_order_relaxed);
    atomic_fetch_add_explicit(&g_step_n[step], 1, memory_order_relaxed);
}

metrics_shard *
metrics_shard_new(void)
{
    metrics_shard *m = herald_mem_calloc(1, sizeof(*m)); /* all-zero atomics are zero */
    pthread_mutex_lock(&g_lock);
    m->next = g_shards;
    g_shards = m;
    pthread_mutex_unlock(&g_lock);
    return m;
}

void
metrics_free_all(void)
{
    pthread_mutex_lock(&g_lock);
    while (g_shards) {
        metrics_shard *m = g_shards;
        g_shards = m->next;
        free(m);
    }
    pthread_mutex_unlock(&g_lock);
}

int
metrics_status_index(int status)
{
    switch (status) {
    case 200:
        return ST_200;
    case 304:
        return ST_304;
    case 400:
        return ST_400;
    case 404:
        return ST_404;
    case 405:
        return ST_405;
    case 408:
        return ST_408;
    case 414:
        return ST_414;
    case 431:
        return ST_431;
    case 501:
        return ST_501;
    case 503:
        return ST_503;
    case 505:
        return ST_505;
    default:
        return ST_OTHER;
    }
}

void
metrics_count(metrics_shard *m, int route, int status)
{
    if (m && route >= 0 && route < RT_COUNT)
        metrics_add(&m->req[route][metrics_status_index(status)], 1);
}

static uint64_t
ld(const metric_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Sums of every shard. */
typedef struct totals {
    uint64_t req[RT_COUNT][ST_COUNT];
    uint64_t enc[ENC_COUNT];
    uint64_t bytes_out;
    uint64_t conn[CE_COUNT];
} totals;

static void
sum_shards(totals *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_lock(&g_lock);
    for (const metrics_shard *m = g_shards; m; m = m->next) {
        for (int r = 0; r < RT_COUNT; r++)
            for (int s = 0; s < ST_COUNT; s++)
                t->req[r][s] += ld(&m->req[r][s]);
        for (int e = 0; e < ENC_COUNT; e++)
            t->enc[e] += ld(&m->enc[e]);
        t->bytes_out += ld(&m->bytes_out);
        for (int c = 0; c < CE_COUNT; c++)
            t->conn[c] += ld(&m->conn[c]);
    }
    pthread_mutex_unlock(&g_lock);
}

static void
help(herald_buf *out, const char *name, const char *type, const char *text)
{
    herald_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void
seconds(herald_buf *out, int64_t ms)
{
    herald_buf_printf(out, "%lld.%03lld\n", (long long)(ms / 1000), (long long)llabs(ms % 1000));
}

static void
coll_labels(herald_buf *out, const char *name, const coll *c)
{
    /* Ids match [a-zA-Z0-9][a-zA-Z0-9_-]*: nothing to escape in a label value. */
    herald_buf_printf(out, "%s{bucket=\"%s\",collection=\"%s\"} ", name, c->bid, c->cid);
}

/* Request counters and their ratios. */
static void
render_requests(herald_buf *out, const totals *t)
{
    help(out, "herald_http_requests_total", "counter", "Requests answered, by route and status.");
    for (int r = 0; r < RT_COUNT; r++)
        for (int st = 0; st < ST_COUNT; st++) {
            if (!t->req[r][st])
                continue;
            herald_buf_printf(out, "herald_http_requests_total{route=\"%s\",status=\"",
                              ROUTE_NAMES[r]);
            if (STATUS_CODES[st])
                herald_buf_printf(out, "%d", STATUS_CODES[st]);
            else
                herald_buf_puts(out, "other");
            herald_buf_printf(out, "\"} %llu\n", (unsigned long long)t->req[r][st]);
        }

    help(out, "herald_http_responses_encoded_total", "counter",
         "200 responses with a body, by Content-Encoding.");
    for (int e = 0; e < ENC_COUNT; e++)
        herald_buf_printf(out, "herald_http_responses_encoded_total{encoding=\"%s\"} %llu\n",
                          ENC_NAMES[e], (unsigned long long)t->enc[e]);

    /* Versioned routes: those answering 304 to If-None-Match. */
    static const int versioned[] = {RT_MONITOR,    RT_MONITOR_RECORDS, RT_CHANGESET, RT_BUCKET,
                                    RT_COLLECTION, RT_RECORDS,         RT_RECORD};
    uint64_t n200 = 0, n304 = 0;
    for (size_t i = 0; i < sizeof(versioned) / sizeof(versioned[0]); i++) {
        n200 += t->req[versioned[i]][ST_200];
        n304 += t->req[versioned[i]][ST_304];
    }
    help(out, "herald_http_not_modified_ratio", "gauge",
         "Share of 304 among 200 and 304 responses of versioned routes, since start.");
    herald_buf_printf(out, "herald_http_not_modified_ratio %.6f\n",
                      n200 + n304 ? (double)n304 / (double)(n200 + n304) : 0.0);
}

/* Bytes, connections, Redis and the compression thread. */
static void
render_process(herald_buf *out, const totals *t, const metrics_gauges *g, int64_t now_ms)
{
    help(out, "herald_http_response_bytes_total", "counter", "Bytes written to clients.");
    herald_buf_printf(out, "herald_http_response_bytes_total %llu\n",
                      (unsigned long long)t->bytes_out);
    help(out, "herald_http_connections", "gauge", "Open client connections.");
    herald_buf_printf(out, "herald_http_connections %d\n", g->connections);
    help(out, "herald_http_connections_accepted_total", "counter", "Connections accepted.");
    herald_buf_printf(out, "herald_http_connections_accepted_total %llu\n",
                      (unsigned long long)t->conn[CE_ACCEPTED]);
    help(out, "herald_http_connections_closed_total", "counter",
         "Connections refused (cap) or closed by the server (timeouts), by reason.");
    herald_buf_printf(out,
                      "herald_http_connections_closed_total{reason=\"cap\"} %llu\n"
                      "herald_http_connections_closed_total{reason=\"idle\"} %llu\n"
                      "herald_http_connections_closed_total{reason=\"header_timeout\"} %llu\n",
                      (unsigned long long)t->conn[CE_REJECTED_CAP],
                      (unsigned long long)t->conn[CE_CLOSED_IDLE],
                      (unsigned long long)t->conn[CE_CLOSED_HEADER_TIMEOUT]);

    help(out, "herald_long_poll_held", "gauge",
         "Requests held for Prefer: wait until their version changes or their wait ends.");
    herald_buf_printf(out, "herald_long_poll_held %lld\n", g->long_poll_held);

    help(out, "herald_redis_up", "gauge", "1 when both Redis connections are up and synced.");
    herald_buf_printf(out, "herald_redis_up %d\n", g->redis_up);
    help(out, "herald_snapshots_loaded", "gauge", "1 once a full resync has completed.");
    herald_buf_printf(out, "herald_snapshots_loaded %d\n", g->loaded);
    help(out, "herald_backoff_seconds", "gauge",
         "The Backoff header every response carries (seconds; 0: none).");
    herald_buf_printf(out, "herald_backoff_seconds %d\n", g->backoff_seconds);
    help(out, "herald_seconds_since_last_update", "gauge",
         "Seconds since the served set last changed from Redis (-1: never).");
    herald_buf_puts(out, "herald_seconds_since_last_update ");
    if (g->last_update_ms)
        seconds(out, now_ms - g->last_update_ms);
    else
        herald_buf_puts(out, "-1\n");

    help(out, "herald_encode_upgrades_total", "counter",
         "Background recompressions at the best levels: done, or skipped (superseded).");
    herald_buf_printf(out,
                      "herald_encode_upgrades_total{result=\"done\"} %llu\n"
                      "herald_encode_upgrades_total{result=\"skipped\"} %llu\n",
                      g->encode_done, g->encode_skipped);
    help(out, "herald_resync_duration_seconds", "gauge",
         "Duration of the last full resync: every stored snapshot read, verified and built "
         "(-1: none finished yet).");
    herald_buf_puts(out, "herald_resync_duration_seconds ");
    if (g->resync_ms >= 0)
        seconds(out, g->resync_ms);
    else
        herald_buf_puts(out, "-1\n");
    help(out, "herald_snapshots_invalid", "gauge",
         "Collections whose newest stored snapshot does not verify (named by __heartbeat__).");
    herald_buf_printf(out, "herald_snapshots_invalid %d\n", g->invalid);
    help(out, "herald_encode_pending", "gauge", "Bodies waiting for (or in) the upgrade.");
    herald_buf_printf(out, "herald_encode_pending %llu\n", g->encode_pending);
}

/* One gauge per served collection. */
static void
render_snapshots(herald_buf *out, const snapset *s, int64_t now_ms)
{
    size_t n = s ? s->n : 0;
    help(out, "herald_snapshots", "gauge", "Collections served.");
    herald_buf_printf(out, "herald_snapshots %zu\n", n);
    help(out, "herald_monitor_timestamp_seconds", "gauge",
         "Newest version served (monitor/changes timestamp), seconds since the epoch.");
    herald_buf_puts(out, "herald_monitor_timestamp_seconds ");
    seconds(out, s ? s->max_version : 0);
    if (!n)
        return;

    help(out, "herald_snapshot_version_timestamp_seconds", "gauge",
         "Version served (its timestamp), seconds since the epoch.");
    for (size_t i = 0; i < n; i++) {
        coll_labels(out, "herald_snapshot_version_timestamp_seconds", s->colls[i]);
        seconds(out, s->colls[i]->version);
    }
    help(out, "herald_snapshot_expires_timestamp_seconds", "gauge",
         "When the served signature expires, seconds since the epoch.");
    for (size_t i = 0; i < n; i++) {
        coll_labels(out, "herald_snapshot_expires_timestamp_seconds", s->colls[i]);
        seconds(out, s->colls[i]->expires);
    }
    help(out, "herald_snapshot_expired", "gauge",
         "1 when the served signature has expired (still served; clients decide).");
    for (size_t i = 0; i < n; i++) {
        coll_labels(out, "herald_snapshot_expired", s->colls[i]);
        herald_buf_printf(out, "%d\n", s->colls[i]->expires && s->colls[i]->expires <= now_ms);
    }
    help(out, "herald_snapshot_records", "gauge", "Live records in the served version.");
    for (size_t i = 0; i < n; i++) {
        coll_labels(out, "herald_snapshot_records", s->colls[i]);
        herald_buf_printf(out, "%lld\n", (long long)s->colls[i]->nrecords);
    }
    help(out, "herald_snapshot_update_lag_seconds", "gauge",
         "From the version's timestamp to this server serving it.");
    for (size_t i = 0; i < n; i++) {
        coll_labels(out, "herald_snapshot_update_lag_seconds", s->colls[i]);
        seconds(out, s->colls[i]->arrived - s->colls[i]->version);
    }
    size_t by_enc[ENC_COUNT] = {0};
    snapset_body_bytes(s, by_enc);
    for (size_t i = 0; i < n; i++)
        coll_body_bytes(s->colls[i], by_enc);
    help(out, "herald_served_body_bytes", "gauge",
         "Bytes of every body held to serve (changesets, _since listings, cached deltas, "
         "Kinto objects, monitor), by encoding.");
    for (int e = 0; e < ENC_COUNT; e++)
        herald_buf_printf(out, "herald_served_body_bytes{encoding=\"%s\"} %zu\n", ENC_NAMES[e],
                          by_enc[e]);
    size_t dc_enc[ENC_COUNT] = {0};
    for (size_t i = 0; i < n; i++)
        coll_delta_cache_bytes(s->colls[i], dc_enc);
    help(out, "herald_delta_cache_bytes", "gauge",
         "Bytes the _since delta caches hold of their own (a part of herald_served_body_bytes), "
         "by encoding.");
    for (int e = 0; e < ENC_COUNT; e++)
        herald_buf_printf(out, "herald_delta_cache_bytes{encoding=\"%s\"} %zu\n", ENC_NAMES[e],
                          dc_enc[e]);
    help(out, "herald_snapshot_body_bytes", "gauge", "Full changeset size, by encoding.");
    for (size_t i = 0; i < n; i++) {
        const coll *c = s->colls[i];
        for (int e = 0; e < ENC_COUNT; e++) {
            const encoded *x = e ? payload_get(c->full, e) : NULL;
            if (e && !x)
                continue;
            herald_buf_printf(out,
                              "herald_snapshot_body_bytes{bucket=\"%s\",collection=\"%s\","
                              "encoding=\"%s\"} %zu\n",
                              c->bid, c->cid, ENC_NAMES[e], e ? x->len : c->full->len);
        }
    }
}

/* Lock-step publication (lockstep.h). */
static void
render_lockstep(herald_buf *out, const snapset *s, const lockstep_stats *l)
{
    help(out, "herald_monitor_signed", "gauge",
         "1 when the monitor served is signed (it then commits to every collection served).");
    herald_buf_printf(out, "herald_monitor_signed %d\n", s && s->mon_signed);
    help(out, "herald_lockstep_staged", "gauge",
         "Loaded versions (and announced removals) waiting for a signed monitor that commits "
         "to them.");
    herald_buf_printf(out, "herald_lockstep_staged %lld\n", l->staged);
    help(out, "herald_lockstep_wait_seconds", "histogram",
         "How long each served version waited, loaded but not served, for a signed monitor "
         "committing to it.");
    for (int i = 0; i < LOCKSTEP_BUCKETS; i++)
        herald_buf_printf(out, "herald_lockstep_wait_seconds_bucket{le=\"%g\"} %lld\n",
                          lockstep_bucket_seconds[i], l->le[i]);
    herald_buf_printf(out, "herald_lockstep_wait_seconds_bucket{le=\"+Inf\"} %lld\n", l->exposed);
    herald_buf_puts(out, "herald_lockstep_wait_seconds_sum ");
    seconds(out, l->wait_ms_sum);
    herald_buf_printf(out, "herald_lockstep_wait_seconds_count %lld\n", l->exposed);
    help(out, "herald_lockstep_superseded_total", "counter",
         "Staged versions dropped unserved (a newer one was served first).");
    herald_buf_printf(out, "herald_lockstep_superseded_total %lld\n", l->superseded);
    help(out, "herald_lockstep_fallbacks_total", "counter",
         "Times no signed monitor committed to the loaded versions within "
         "server_lockstep_max_wait_seconds: the newest were served with the unsigned monitor.");
    herald_buf_printf(out, "herald_lockstep_fallbacks_total %lld\n", l->fallbacks);
    help(out, "herald_lockstep_fallback", "gauge",
         "1 while serving the newest versions unsigned after such a fallback.");
    herald_buf_printf(out, "herald_lockstep_fallback %d\n", l->fallback);
}

/* Per-version steps (metrics_step_add). */
static void
render_steps(herald_buf *out)
{
    help(out, "herald_version_step_seconds", "summary",
         "Time spent per version built, by step: fetch (GET sent to reply), decode (full "
         "blob), apply (delta), verify (SHA-256 and Ed25519), build (bodies), compress (one "
         "background job each).");
    for (int i = 0; i < VS_COUNT; i++) {
        uint64_t ns = ld(&g_step_ns[i]), n = ld(&g_step_n[i]);
        herald_buf_printf(out, "herald_version_step_seconds_sum{step=\"%s\"} %llu.%09llu\n",
                          STEP_NAMES[i], (unsigned long long)(ns / 1000000000u),
                          (unsigned long long)(ns % 1000000000u));
        herald_buf_printf(out, "herald_version_step_seconds_count{step=\"%s\"} %llu\n",
                          STEP_NAMES[i], (unsigned long long)n);
    }
}

void
metrics_render(herald_buf *out, const snapset *s, const metrics_gauges *g, int64_t now_ms)
{
    totals t;
    sum_shards(&t);
    render_requests(out, &t);
    render_process(out, &t, g, now_ms);
    render_lockstep(out, s, &g->lockstep);
    render_steps(out);
    render_snapshots(out, s, now_ms);
}
