/*
 * ops -- see ops.h. Probes and scrapes come every few seconds, not per poll: they
 * allocate freely.
 */
#include "ops.h"

#include "encode.h"
#include "herald/clock.h"
#include "herald/mem.h"
#include "metrics.h"
#include "reply.h"
#include "status.h"
#include "wait.h"

#ifndef HERALD_COMMIT
#define HERALD_COMMIT "unknown"
#endif

/*
 * 503 while no full resync has completed, nothing is published (a server pointed at
 * the wrong Redis database must not take traffic), Redis is unreachable, or a served
 * snapshot's signature has expired (it is still served: clients decide), or the newest
 * stored snapshot of a collection does not verify (its last verified version, if any, is
 * still served). The body says which: {"collections":N,"expired":["bid/cid",...],
 * "invalid":["bid/cid",...],"redis":bool,"snapshots":bool}.
 */
int
ops_heartbeat(out *o, const http_request *req, const snapset *s, int keep_alive)
{
    int64_t now = herald_clock_wall_ms(); /* expiry times are wall-clock */
    server_status now_st;
    status_read(&now_st);
    int redis = now_st.redis_ok, loaded = now_st.loaded;
    herald_buf b = HERALD_BUF_INIT; /* a probe every few seconds: allocation is fine */
    herald_buf_printf(&b, "{\"collections\":%zu,\"expired\":[", s->n);
    size_t nexp = 0;
    if (s->min_expires && s->min_expires <= now)
        for (size_t i = 0; i < s->n; i++) {
            const coll *c = s->colls[i];
            if (!c->expires || c->expires > now)
                continue;
            if (nexp++)
                herald_buf_putc(&b, ',');
            herald_buf_putc(&b, '"');
            herald_buf_append(&b, c->bid, c->bid_len); /* ids need no escaping */
            herald_buf_putc(&b, '/');
            herald_buf_append(&b, c->cid, c->cid_len);
            herald_buf_putc(&b, '"');
        }
    herald_buf_puts(&b, "],\"invalid\":[");
    size_t ninvalid = status_invalid_list(&b);
    int snaps = loaded && s->n > 0 && nexp == 0 && ninvalid == 0;
    herald_buf_printf(&b, "],\"redis\":%s,\"snapshots\":%s}", redis ? "true" : "false",
                      snaps ? "true" : "false");
    int st = reply_plain(o, req, redis && snaps ? 200 : 503, "application/json", b.data, b.len,
                         keep_alive);
    herald_buf_free(&b);
    return st;
}

int
ops_version(out *o, const http_request *req, int keep_alive)
{
    /* Dockerflow's version object. */
    static const char body[] =
        "{\"build\":\"\",\"commit\":\"" HERALD_COMMIT "\",\"name\":\"herald-server\",\"source\":"
        "\"https://github.com/herald/herald\",\"version\":\"" HERALD_VERSION "\"}";
    return reply_plain(o, req, 200, "application/json", body, sizeof(body) - 1, keep_alive);
}

int
ops_metrics(out *o, const http_request *req, const snapset *s, int keep_alive)
{
    herald_buf b = HERALD_BUF_INIT; /* scraped every few seconds: allocation is fine */
    server_status now_st;
    metrics_gauges g;
    status_read(&now_st);
    g.connections = now_st.connections;
    g.redis_up = now_st.redis_ok;
    g.loaded = now_st.loaded;
    g.last_update_ms = now_st.last_update_ms;
    g.backoff_seconds = now_st.backoff_seconds;
    g.resync_ms = now_st.resync_ms;
    g.invalid = now_st.invalid;
    encode_stats(&g.encode_done, &g.encode_skipped, &g.encode_pending);
    g.long_poll_held = wait_held_total();
    lockstep_stats_read(&g.lockstep);
    metrics_render(&b, s, &g, herald_clock_wall_ms());
    int st = reply_plain(o, req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len,
                         keep_alive);
    herald_buf_free(&b);
    return st;
}

int
ops_lbheartbeat(out *o, const http_request *req, int keep_alive)
{
    return reply_plain(o, req, 200, "application/json", "{}", 2, keep_alive);
}
