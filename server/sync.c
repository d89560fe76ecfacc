/*
 * sync -- see sync.h for the protocol. Implementation notes:
 *
 *  - Everything here runs on one thread (the base's), so the state is plain globals in
 *    one struct; the three values workers read (Redis up, loaded, last update) are
 *    reported to status.h.
 *  - hiredis calls every pending callback with reply == NULL when a context goes away;
 *    each callback checks for NULL and for a stale 'epoch' (a reply for a connection
 *    that has since been replaced) before touching anything.
 *  - Contexts are never freed from inside their own callbacks: failures only schedule
 *    'reset_ev', which runs from the event loop, frees both contexts (their pending
 *    callbacks then see NULL) and arms a reconnect after the backoff delay.
 *  - A resync batches all its results into one new set, published once, so a worker
 *    sees either the state before the resync or after it, never a partial load.
 *  - The Backoff poll is one GET on 'cmd' at a time, counted in 'inflight' like every
 *    command, so a Redis that stops answering it is caught by the same timeout.
 */
#include "sync.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/backoff.h"
#include "herald/clock.h"
#include "herald/delta.h"
#include "herald/jcs.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "herald/monitor.h"
#include "herald/schema.h"
#include "herald/sentinel.h"
#include "herald/snapshot.h"
#include "loader.h"
#include "encode.h"
#include "lockstep.h"
#include "metrics.h"
#include "snapset.h"
#include "status.h"

#define CONNECT_TIMEOUT_MS 5000
#define REPLY_TIMEOUT_MS 20000 /* a GET of a large blob on a busy Redis can be slow */
#define PING_INTERVAL_MS 5000
#define TICK_MS 250
#define BACKOFF_POLL_MS 2000 /* how soon a change to herald:backoff is seen */
#define BACKOFF_MAX 86400    /* as server_backoff_seconds */
#define VIEW_SWEEP_MS 1000   /* how often idle Kinto views are looked for */

struct resync;

static struct {
    struct event_base *base;
    sync_opts o;
    redisAsyncContext *cmd, *sub;
    int cmd_up, sub_up;
    uint64_t epoch; /* incremented on every (re)connect */
    struct event *tick_ev, *reset_ev;
    /* Monotonic times (herald_clock_mono_ms): durations are not fooled by a clock step. */
    long long connect_started, last_reply, last_ping, retry_at;
    int inflight; /* commands sent on 'cmd' and not yet answered */
    herald_backoff backoff;
    snapset *cur; /* our reference to the set we published last */
    struct resync *rs;
    int stopping;
    int reset_pending;
    int loaded;                   /* a full resync has completed (also reported to status.h) */
    int backoff_secs;             /* the Backoff header's seconds, reported to status.h */
    int backoff_pending;          /* a GET herald:backoff is unanswered on 'cmd' */
    long long backoff_at;         /* monotonic time of the last GET herald:backoff */
    char backoff_bad[24];         /* the malformed value last logged, so it is logged once */
    herald_sentinel_watch *watch; /* +switch-master (Sentinel only), polled every tick */
    long long resync_started;     /* monotonic ms of the ZRANGE of the resync under way */
    long long views_swept;        /* monotonic ms of the last sweep of idle Kinto views */
    int loader_up;
    coll **batch; /* verified notifications finished in one loader wake-up */
    size_t nbatch, batch_cap;
    /* The newest verified, unexpired signed monitor (NULL: none; the unsigned monitor
     * is served), its M and E; M of the last one refused (logged once). */
    json_t *mon_body;
    int64_t mon_m, mon_e, mon_refused;
    int mon_pending; /* an HGET of it is unanswered on 'cmd' */
    int mon_again;   /* announced again meanwhile: HGET once more after it */
    lockstep *ls;    /* what is loaded and not yet published (lockstep.h) */
    int resynced;    /* the first full resync has finished: sets may be published */
} S;

static void
request_reset(const char *why)
{
    if (S.stopping || S.reset_pending)
        return; /* one failure often reports twice (both connections) */
    S.reset_pending = 1;
    herald_warn("redis: %s; reconnecting", why);
    status_set_redis_ok(0);
    event_active(S.reset_ev, EV_TIMEOUT, 0);
}

/* The prologue of every reply on 'cmd': 0 for a reply to ignore (NULL: the context is
 * going away; or from a context since replaced), else the reply is counted as answered
 * (the timeout in on_tick counts from the last one) and 1. */
static int
cmd_reply(const redisAsyncContext *ac, const void *reply)
{
    if (!reply || ac != S.cmd)
        return 0;
    S.inflight--;
    S.last_reply = herald_clock_mono_ms();
    return 1;
}

/* ---- building and publishing sets ------------------------------------------------- */

/* Splits "bid/cid" into its two valid ids. Returns 0 or -1. */
static int
split_key(const char *key, size_t len, char *bid, char *cid)
{
    const char *slash = memchr(key, '/', len);
    if (!slash)
        return -1;
    size_t bl = (size_t)(slash - key), cl = len - bl - 1;
    if (!herald_schema_valid_id(key, bl) || !herald_schema_valid_id(slash + 1, cl))
        return -1;
    memcpy(bid, key, bl);
    bid[bl] = '\0';
    memcpy(cid, slash + 1, cl);
    cid[cl] = '\0';
    return 0;
}

/* The newest version known of bid/cid: loaded (published or staged), 0 if none. */
static int64_t
newest(const char *bid, const char *cid)
{
    return lockstep_newest(S.ls, S.cur, bid, cid);
}

/* The newest verified coll of bid/cid, staged or served: a delta's base. */
static coll *
cur_find(const char *bid, const char *cid)
{
    return lockstep_newest_coll(S.ls, S.cur, bid, cid);
}

/*
 * Publishes what lockstep.h decides from everything loaded and the newest signed monitor:
 * a signed monitor with exactly the versions it names, or (bound passed, no valid signed
 * monitor) the newest versions with the unsigned one; nothing when that is what is
 * served. Nothing before the first resync has finished, and the server is ready
 * (status.h) from the first set published after it.
 */
static void
reconcile(void)
{
    if (!S.resynced || S.stopping)
        return;
    snapset *s = lockstep_decide(S.ls, S.cur, herald_clock_mono_ms());
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        const coll *c = s->colls[i];
        if (!S.cur || snapset_find(S.cur, c->bid, c->bid_len, c->cid, c->cid_len) != c)
            herald_info("serving %s/%s version %lld (%lld records)", c->bid, c->cid,
                        (long long)c->version, (long long)c->nrecords);
    }
    if (s->mon_signed && (!S.cur || S.cur->mon_version != s->mon_version))
        herald_info("serving signed monitor %lld (%zu collections)", (long long)s->mon_version,
                    s->n);
    snapset_ref(s);
    snapset_release(S.cur);
    S.cur = s;
    snapset_publish(s);
    status_set_last_update(herald_clock_wall_ms());
    if (!S.loaded) {
        S.loaded = 1;
        status_set_loaded();
    }
}

enum { JOB_FETCH = 1, JOB_RESYNC = 2, JOB_DELTA = 3 };

/*
 * Hands the blob in 'r' for "bid/cid" to the loader (loader.h: decoded, verified and
 * built on a worker thread; the result comes back in on_loaded()). The reply is freed by
 * hiredis when its callback returns, so the bytes are copied. Returns 0, or -1 when 'r'
 * holds no blob (logged): the collection was removed between the listing and the GET.
 */
static int
submit_blob(const char *bid, const char *cid, const redisReply *r, int kind, void *owner,
            size_t index, int64_t want, int tries)
{
    if (!r || r->type != REDIS_REPLY_STRING) {
        herald_warn("snapshot %s/%s: no blob in redis", bid, cid);
        return -1;
    }
    load_job *j = herald_mem_calloc(1, sizeof(*j));
    strcpy(j->bid, bid);
    strcpy(j->cid, cid);
    j->len = (size_t)r->len;
    j->blob = herald_mem_alloc(j->len ? j->len : 1);
    memcpy(j->blob, r->str, j->len);
    j->kind = kind;
    j->owner = owner;
    j->index = index;
    j->want = want;
    j->tries = tries;
    j->epoch = S.epoch;
    loader_submit(j);
    return 0;
}

/* Logs the outcome of a job and records whether its collection has an unservable
 * newest snapshot (status.h, __heartbeat__). */
static void
report_job(const load_job *j)
{
    if (j->verdict == LOAD_INVALID) {
        if (j->unverified)
            herald_error("snapshot %s/%s version %lld does not verify: %s; not served", j->bid,
                         j->cid, (long long)j->version, j->err);
        else
            herald_error("snapshot %s/%s: %s; not served", j->bid, j->cid, j->err);
        status_set_invalid(j->bid, j->cid, 1);
    } else if (j->verdict == LOAD_OK) {
        status_set_invalid(j->bid, j->cid, 0);
    } else if (j->verdict == LOAD_NOT_NEWER) {
        herald_debug("snapshot %s/%s %lld: already serving a version at least as new", j->bid,
                     j->cid, (long long)j->version);
    }
}

/* ---- notifications ----------------------------------------------------------------- */

typedef struct fetch {
    uint64_t epoch;
    char bid[256], cid[256];
    int64_t sent_ns; /* the fetch step (metrics.h) */
    int64_t want;    /* the version announced (0: none to wait for) */
    int tries;       /* full GETs so far while catching up (catch_up) */
} fetch;

static void
on_fetch(redisAsyncContext *ac, void *reply, void *priv)
{
    fetch *f = priv;
    if (f->epoch != S.epoch || !cmd_reply(ac, reply))
        goto out;
    metrics_step_add(VS_FETCH, herald_clock_mono_ns() - f->sent_ns);
    (void)submit_blob(f->bid, f->cid, reply, JOB_FETCH, NULL, 0, f->want, f->tries);
out:
    free(f);
}

static void
send_get(const char *bid, const char *cid, redisCallbackFn *cb, void *priv)
{
    herald_buf key = HERALD_BUF_INIT;
    herald_schema_snap_key(&key, bid, cid);
    if (S.inflight == 0)
        S.last_reply =
            herald_clock_mono_ms(); /* the timeout counts from the oldest unanswered send */
    S.inflight++;
    redisAsyncCommand(S.cmd, cb, priv, "GET %b", key.data, key.len);
    herald_buf_free(&key);
}

/* ---- incremental publishing (docs/incremental.md) ---------------------------------- */

/*
 * When a notification names a version newer than the one served and the served coll has
 * a state, the delta from the served version is fetched (GET herald:snapdelta:B/C:<N>)
 * and applied by the loader instead of the full blob. One chain per collection: while
 * one is under way, newer notifications only raise its 'want', and each finished step
 * fetches the delta from the version it built until 'want' is reached, for at most
 * CHAIN_MAX_STEPS steps: further behind (a burst, an import), the newest full blob is
 * loaded instead, once, rather than a whole coll built per version (no backlog). Anything
 * missing or refused ends the chain with a GET of the full blob, as before.
 */
#define CHAIN_MAX_STEPS 4 /* deltas applied in a row before the newest full blob instead */

/*
 * Catching up before serving. The signer announces a version with its deltas and stores
 * the full blob after (docs/incremental.md, "Storing the full blob later"), so a blob
 * read for a collection this server does not serve yet -- at a cold start, or on the
 * first notification of a collection -- may be older than the version already announced
 * (the resync's ZRANGE score, the notification's version). Clients may hold that newer
 * version, from this server before a restart or from another one: serving the older blob
 * would send them back in time. So such a blob is never exposed as it is; it is the base
 * of a delta chain (a "hold" chain) toward the announced version, whose result alone is
 * served (the jump delta gets there in one step). When no delta leads there, the full blob
 * is read again every CATCHUP_RETRY_MS, at most CATCHUP_TRIES times (its blob follows the
 * announcement within BLOB_DEFER_MS, or a restarted signer signs it again); after that the
 * collection waits, unserved, for its next announcement. A resync waits for its hold
 * chains' first outcome, so __heartbeat__ reports ready only once they are served or have
 * failed once. Collections already served go forward as before (never back: lockstep).
 */
#define CATCHUP_RETRY_MS 200
#define CATCHUP_TRIES 25

struct resync;
static void resync_unref(struct resync *rs);
static void resync_deliver(struct resync *rs, size_t idx, coll *c);

typedef struct dchain {
    char bid[256], cid[256];
    int64_t want;
    int steps;        /* deltas applied so far */
    int64_t fetch_ns; /* the last delta's GET (for the log line) */
    /* A hold chain (catch_up): only a result at 'want' or newer is served. */
    int hold;
    int tries;         /* full GETs so far (a retry after a failure is the next) */
    struct resync *rs; /* a resync waiting for it (one count of its 'pending'), or NULL */
    size_t idx;        /* the resync's item */
    struct dchain *next;
} dchain;

typedef struct dfetch {
    uint64_t epoch;
    char bid[256], cid[256];
    coll *base; /* a reference */
    int64_t sent_ns;
} dfetch;

static dchain *g_chains;

static void batch_add(coll *c);

static dchain **
chain_at(const char *bid, const char *cid)
{
    dchain **at = &g_chains;
    while (*at && (strcmp((*at)->bid, bid) || strcmp((*at)->cid, cid)))
        at = &(*at)->next;
    return at;
}

/* Ends the chain of bid/cid; a resync waiting for it goes on without it. */
static void
chain_end(const char *bid, const char *cid)
{
    dchain **at = chain_at(bid, cid), *ch = *at;
    if (ch) {
        *at = ch->next;
        struct resync *rs = ch->rs;
        free(ch);
        if (rs)
            resync_unref(rs);
    }
}

/* GET of the full blob of bid/cid; 'want' > 0: the version announced, which it must reach
 * before it is served if the collection is not served yet (catch_up). */
static void
fetch_full(const char *bid, const char *cid, int64_t want, int tries)
{
    if (!S.cmd || !S.cmd_up)
        return;
    fetch *f = herald_mem_calloc(1, sizeof(*f));
    f->epoch = S.epoch;
    strcpy(f->bid, bid);
    strcpy(f->cid, cid);
    f->sent_ns = herald_clock_mono_ns();
    f->want = want;
    f->tries = tries;
    send_get(bid, cid, on_fetch, f);
}

typedef struct retry {
    uint64_t epoch;
    char bid[256], cid[256];
    int64_t want;
    int tries;
    struct event *ev;
    struct retry *next;
} retry;

static retry *g_retries; /* armed, so that sync_stop frees them */

static void
retry_free(retry *r)
{
    retry **at = &g_retries;
    while (*at != r)
        at = &(*at)->next;
    *at = r->next;
    event_free(r->ev);
    free(r);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    retry *r = arg;
    if (r->epoch == S.epoch && !S.stopping && newest(r->bid, r->cid) < r->want &&
        !*chain_at(r->bid, r->cid))
        fetch_full(r->bid, r->cid, r->want, r->tries);
    retry_free(r);
}

/* A hold chain that could not reach its version: ends it, and reads the full blob again
 * in a while, unless it was read CATCHUP_TRIES times already. */
static void
hold_failed(dchain *ch, const char *why)
{
    char bid[256], cid[256];
    strcpy(bid, ch->bid);
    strcpy(cid, ch->cid);
    int64_t want = ch->want;
    int tries = ch->tries + 1;
    chain_end(bid, cid);
    if (S.stopping)
        return;
    if (tries >= CATCHUP_TRIES) {
        herald_warn("%s/%s: its stored blob is still older than version %lld, announced (%s): "
                    "not served until its next announcement",
                    bid, cid, (long long)want, why);
        return;
    }
    herald_debug("%s/%s: no way to version %lld yet (%s): reading the blob again in %d ms", bid,
                 cid, (long long)want, why, CATCHUP_RETRY_MS);
    retry *r = herald_mem_calloc(1, sizeof(*r));
    r->epoch = S.epoch;
    strcpy(r->bid, bid);
    strcpy(r->cid, cid);
    r->want = want;
    r->tries = tries;
    r->ev = evtimer_new(S.base, on_retry, r);
    r->next = g_retries;
    g_retries = r;
    struct timeval tv = {0, CATCHUP_RETRY_MS * 1000};
    evtimer_add(r->ev, &tv);
}

static void
on_delta(redisAsyncContext *ac, void *reply, void *priv)
{
    dfetch *f = priv;
    redisReply *r = reply;
    if (f->epoch != S.epoch || !cmd_reply(ac, r) || S.stopping) {
        chain_end(f->bid, f->cid);
        coll_release(f->base);
        free(f);
        return;
    }
    dchain *ch = *chain_at(f->bid, f->cid);
    if (r->type != REDIS_REPLY_STRING || (size_t)r->len > HERALD_DELTA_MAX) {
        herald_debug("no delta from %s/%s %lld: fetching the full blob", f->bid, f->cid,
                     (long long)f->base->version);
        coll_release(f->base);
        if (ch && ch->hold) {
            hold_failed(ch, "no delta from the blob's version");
        } else {
            chain_end(f->bid, f->cid);
            fetch_full(f->bid, f->cid, 0, 0);
        }
        free(f);
        return;
    }
    int64_t fetch_ns = herald_clock_mono_ns() - f->sent_ns;
    metrics_step_add(VS_FETCH, fetch_ns);
    if (ch)
        ch->fetch_ns = fetch_ns;
    load_job *j = herald_mem_calloc(1, sizeof(*j));
    strcpy(j->bid, f->bid);
    strcpy(j->cid, f->cid);
    j->len = (size_t)r->len;
    j->blob = herald_mem_alloc(j->len ? j->len : 1);
    memcpy(j->blob, r->str, j->len);
    j->base = f->base; /* the reference moves to the job */
    j->kind = JOB_DELTA;
    j->epoch = S.epoch;
    loader_submit(j);
    free(f);
}

/* GET of the delta from 'base' (a reference, taken over). */
static void
send_delta_get(coll *base)
{
    herald_buf key = HERALD_BUF_INIT;
    dfetch *f = herald_mem_calloc(1, sizeof(*f));
    f->epoch = S.epoch;
    strcpy(f->bid, base->bid);
    strcpy(f->cid, base->cid);
    f->base = base;
    f->sent_ns = herald_clock_mono_ns();
    herald_delta_key(&key, base->bid, base->cid, base->version);
    if (S.inflight == 0)
        S.last_reply = herald_clock_mono_ms();
    S.inflight++;
    redisAsyncCommand(S.cmd, on_delta, f, "GET %b", key.data, key.len);
    herald_buf_free(&key);
}

/* A notification of version 'v' for a collection served as 'old': starts or extends a
 * delta chain. Returns 0 when the full blob must be fetched instead. */
static int
incr_notify(coll *old, int64_t v)
{
    if (!old || !old->state)
        return 0;
    dchain **at = chain_at(old->bid, old->cid);
    if (*at) {
        if ((*at)->want < v)
            (*at)->want = v;
        return 1;
    }
    dchain *ch = herald_mem_calloc(1, sizeof(*ch));
    strcpy(ch->bid, old->bid);
    strcpy(ch->cid, old->cid);
    ch->want = v;
    *at = ch;
    coll_ref(old);
    send_delta_get(old);
    return 1;
}

/* The removal of bid/cid was announced: a catch-up under way serves nothing (its chain
 * can reach no version now: it ends at its next step) and no retry reads its blob. */
static void
catch_up_cancel(const char *bid, const char *cid)
{
    dchain *ch = *chain_at(bid, cid);
    if (ch && ch->hold)
        ch->want = INT64_MAX;
    for (retry *r = g_retries, *next; r; r = next) {
        next = r->next;
        if (!strcmp(r->bid, bid) && !strcmp(r->cid, cid))
            retry_free(r);
    }
}

/* Whether the verified full blob of job 'j' must catch up before it is served: older than
 * the version announced when it was asked for, for a collection not served yet. */
static int
behind(const load_job *j)
{
    return !S.stopping && j->c && j->c->version < j->want && newest(j->bid, j->cid) == 0;
}

/* Starts a hold chain from 'base' (a verified coll not served; the reference is taken
 * over) toward 'want'. 'rs' (NULL: none) waits for it, its count kept until the chain
 * ends; 'tries': full GETs so far. */
static void
catch_up(coll *base, int64_t want, struct resync *rs, size_t idx, int tries)
{
    dchain **at = chain_at(base->bid, base->cid);
    if (*at) { /* one under way (a notification's fetch raced the resync's) */
        if ((*at)->want < want)
            (*at)->want = want;
        coll_release(base);
        if (rs)
            resync_unref(rs);
        return;
    }
    herald_log(tries ? HERALD_LOG_DEBUG : HERALD_LOG_INFO,
               "%s/%s: the stored blob is version %lld, %lld is announced: catching up before "
               "serving it",
               base->bid, base->cid, (long long)base->version, (long long)want);
    dchain *ch = herald_mem_calloc(1, sizeof(*ch));
    strcpy(ch->bid, base->bid);
    strcpy(ch->cid, base->cid);
    ch->want = want;
    ch->hold = 1;
    ch->tries = tries;
    ch->rs = rs;
    ch->idx = idx;
    *at = ch;
    if (!base->state || !S.cmd || !S.cmd_up) {
        coll_release(base);
        hold_failed(ch, base->state ? "redis is down" : "no state to apply a delta to");
        return;
    }
    send_delta_get(base);
}

/* The loader's result for a delta job (on_loaded). */
static void
incr_loaded(load_job *j)
{
    dchain *ch = *chain_at(j->bid, j->cid);
    int64_t want = ch ? ch->want : 0;
    if (S.stopping || j->verdict == LOAD_CANCELLED) {
        coll_release(j->c);
        chain_end(j->bid, j->cid);
        return;
    }
    if (j->verdict == LOAD_OK) {
        report_job(j);
        const coll *c = j->c;
        herald_info("%s/%s version %lld built from a delta in %.2f ms (fetch %.2f, apply %.2f, "
                    "verify %.2f, build %.2f%s)",
                    j->bid, j->cid, (long long)j->version,
                    (c->t_apply_ns + c->t_verify_ns + c->t_build_ns + (ch ? ch->fetch_ns : 0)) /
                        1e6,
                    (ch ? ch->fetch_ns : 0) / 1e6, c->t_apply_ns / 1e6, c->t_verify_ns / 1e6,
                    c->t_build_ns / 1e6, c->from_base ? " from the previous bodies" : "");
        if (ch && ch->hold) {
            if (j->c->version >= want) { /* caught up: served (with the resync, if one waits) */
                if (ch->rs) {
                    struct resync *rs = ch->rs;
                    ch->rs = NULL;
                    resync_deliver(rs, ch->idx, j->c);
                    chain_end(j->bid, j->cid);
                    resync_unref(rs);
                } else {
                    chain_end(j->bid, j->cid);
                    batch_add(j->c);
                }
            } else if (j->epoch == S.epoch && S.cmd && S.cmd_up && ++ch->steps < CHAIN_MAX_STEPS) {
                send_delta_get(j->c); /* still behind: on from there, nothing served */
            } else {
                coll_release(j->c);
                hold_failed(ch, "too many steps");
            }
            return;
        }
        if (j->epoch == S.epoch && ch && want > j->c->version && S.cmd && S.cmd_up &&
            ++ch->steps < CHAIN_MAX_STEPS) {
            coll_ref(j->c);
            send_delta_get(j->c);
        } else {
            chain_end(j->bid, j->cid);
            /* Far behind (a burst, an import): every step would build a whole coll; the
             * newest full blob gets there in one. */
            if (want > j->c->version)
                fetch_full(j->bid, j->cid, 0, 0);
        }
        batch_add(j->c);
        return;
    }
    if (ch && ch->hold) {
        hold_failed(ch, j->verdict == LOAD_INVALID ? j->err : "delta not applied");
        return;
    }
    chain_end(j->bid, j->cid);
    if (j->verdict == LOAD_INVALID)
        herald_warn("delta for %s/%s refused (%s): fetching the full blob", j->bid, j->cid, j->err);
    coll *old = cur_find(j->bid, j->cid);
    if (j->verdict == LOAD_INVALID || !old || old->version < want)
        fetch_full(j->bid, j->cid, 0, 0);
}

/* ---- the signed monitor ------------------------------------------------------------ */

/* A signed monitor stops being served this long before it expires: the tick that drops
 * it runs every TICK_MS, and clients' clocks may be a little ahead. */
#define MONITOR_MARGIN_MS (TICK_MS + 1000)

static void fetch_monitor(void);

/* The stored signed monitor in 'r' (HGET's reply): verified, kept if newer, handed to
 * lock-step. */
static void
monitor_reply(const redisReply *r)
{
    if (r->type == REDIS_REPLY_NIL) {
        herald_debug("no signed monitor in redis yet");
        return;
    }
    if (r->type != REDIS_REPLY_STRING) {
        herald_warn("HGET %s: unexpected reply", HERALD_KEY_MONITOR_SIGNED);
        return;
    }
    char err[256];
    json_t *body = herald_jcs_parse(r->str, (size_t)r->len, 0, 0, err, sizeof(err));
    herald_monitor_head h;
    enum herald_monitor_status st = HERALD_MONITOR_MALFORMED;
    if (body)
        st = herald_monitor_verify(
            &h, json_object_get(body, "entries"), json_object_get(body, "signatures"), -1,
            herald_clock_wall_ms() + MONITOR_MARGIN_MS, 0, S.o.keys, S.o.nkeys, err, sizeof(err));
    if (st != HERALD_MONITOR_OK) {
        /* The stored one is refused: keep serving the current one while it is valid. */
        json_t *sig =
            json_object_get(json_array_get(json_object_get(body, "signatures"), 0), "head");
        int64_t m = (int64_t)json_number_value(json_object_get(sig, "timestamp"));
        if (m != S.mon_refused)
            herald_error("signed monitor %lld does not verify (%s): %s; not served", (long long)m,
                         herald_monitor_status_name(st), err);
        S.mon_refused = m;
        json_decref(body);
        return;
    }
    if (S.mon_body && h.timestamp <= S.mon_m) {
        json_decref(body); /* not newer than the one served: never go back */
        return;
    }
    json_decref(S.mon_body);
    S.mon_body = body;
    S.mon_m = h.timestamp;
    S.mon_e = h.expires;
    herald_info("signed monitor %lld verified (%lld collections, expires %lld)",
                (long long)h.timestamp, (long long)h.collections, (long long)h.expires);
    snapset_monitor sm = {S.mon_body, S.mon_m, S.mon_e};
    lockstep_set_monitor(S.ls, &sm, herald_clock_mono_ms());
    reconcile();
}

static void
on_monitor(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    redisReply *r = reply;
    if (!cmd_reply(ac, r))
        return;
    S.mon_pending = 0;
    monitor_reply(r);
    if (S.mon_again) {
        /* Announced while this HGET was under way: it may have read the older one, and
         * lock-step waits for the newer (a dropped announcement stalled a version until
         * the bound). */
        S.mon_again = 0;
        fetch_monitor();
    }
}

static void
fetch_monitor(void)
{
    if (!S.cmd || !S.cmd_up)
        return;
    if (S.mon_pending) {
        S.mon_again = 1; /* one more HGET when this one is answered */
        return;
    }
    S.mon_pending = 1;
    if (S.inflight == 0)
        S.last_reply = herald_clock_mono_ms();
    S.inflight++;
    redisAsyncCommand(S.cmd, on_monitor, NULL, "HGET %s body", HERALD_KEY_MONITOR_SIGNED);
}

/* Drops the signed monitor when it is about to expire (on every tick). */
static void
expire_monitor(void)
{
    if (!S.mon_body || herald_clock_wall_ms() + MONITOR_MARGIN_MS < S.mon_e)
        return;
    herald_warn("signed monitor %lld expires at %lld and no newer one arrived: serving the "
                "unsigned monitor",
                (long long)S.mon_m, (long long)S.mon_e);
    json_decref(S.mon_body);
    S.mon_body = NULL;
    S.mon_m = S.mon_e = 0;
    lockstep_set_monitor(S.ls, NULL, 0);
    reconcile();
}

static void
on_message(const char *msg, size_t len)
{
    if (len > 8 && memcmp(msg, "monitor ", 8) == 0) {
        fetch_monitor();
        return;
    }
    char bid[256], cid[256];
    const char *sp = memchr(msg, ' ', len);
    char *end;
    long long v;
    if (!sp || split_key(msg, (size_t)(sp - msg), bid, cid) < 0)
        goto bad;
    char num[24];
    size_t nl = len - (size_t)(sp - msg) - 1;
    if (nl == 0 || nl >= sizeof(num))
        goto bad;
    memcpy(num, sp + 1, nl);
    num[nl] = '\0';
    v = strtoll(num, &end, 10);
    if (*end || v < 0)
        goto bad;

    int64_t have = newest(bid, cid);
    if (v == 0) {
        catch_up_cancel(bid, cid);
        if (have) {
            herald_info("collection %s/%s removed", bid, cid);
            lockstep_remove(S.ls, S.cur, bid, cid, herald_clock_mono_ms());
            reconcile();
        }
        status_set_invalid(bid, cid, 0);
        return;
    }
    if (have >= v)
        return;
    if (!S.cmd || !S.cmd_up)
        return; /* the resync after reconnecting will pick it up */
    if (incr_notify(cur_find(bid, cid), v))
        return;
    fetch_full(bid, cid, v, 0);
    return;
bad:
    herald_warn("ignoring malformed notification '%.*s'", (int)(len > 200 ? 200 : len), msg);
}

/* ---- the operator's Backoff ------------------------------------------------------- */

static void
set_backoff(int seconds, const char *from)
{
    S.backoff_bad[0] = '\0';
    if (seconds == S.backoff_secs)
        return;
    S.backoff_secs = seconds;
    status_set_backoff(seconds);
    if (seconds)
        herald_info("Backoff: %d s on every response (%s)", seconds, from);
    else
        herald_info("no Backoff header any more (%s)", from);
}

/* The value of herald:backoff in 'r' (a string of 1 to 5 digits, at most BACKOFF_MAX).
 * Returns it, or -1 when malformed. */
static int
parse_backoff(const redisReply *r)
{
    if (r->type != REDIS_REPLY_STRING || r->len < 1 || r->len > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9')
            return -1;
        v = v * 10 + (r->str[i] - '0');
    }
    return v <= BACKOFF_MAX ? v : -1;
}

static void
on_backoff(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    redisReply *r = reply;
    if (!cmd_reply(ac, r))
        return;
    S.backoff_pending = 0;
    if (r->type == REDIS_REPLY_NIL) {
        set_backoff(S.o.backoff_default, HERALD_KEY_BACKOFF " absent: the setting");
        return;
    }
    int v = parse_backoff(r);
    if (v >= 0) {
        set_backoff(v, HERALD_KEY_BACKOFF);
        return;
    }
    char shown[sizeof(S.backoff_bad)];
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_ERROR)
        snprintf(shown, sizeof(shown), "%.*s", (int)r->len, r->str);
    else
        snprintf(shown, sizeof(shown), "(reply type %d)", r->type);
    if (strcmp(shown, S.backoff_bad)) {
        memcpy(S.backoff_bad, shown, sizeof(shown));
        herald_warn("%s: '%s' is not 0 to %d seconds; keeping Backoff %d", HERALD_KEY_BACKOFF,
                    shown, BACKOFF_MAX, S.backoff_secs);
    }
}

/* Sends GET herald:backoff unless one is unanswered or 'cmd' is not up. */
static void
poll_backoff(long long now)
{
    if (!S.cmd || !S.cmd_up || S.backoff_pending)
        return;
    S.backoff_pending = 1;
    S.backoff_at = now;
    if (S.inflight == 0)
        S.last_reply = now;
    S.inflight++;
    redisAsyncCommand(S.cmd, on_backoff, NULL, "GET %s", HERALD_KEY_BACKOFF);
}

/* ---- full resync ------------------------------------------------------------------- */

typedef struct rs_item {
    char bid[256], cid[256];
    int64_t version;
    coll *loaded;
} rs_item;

typedef struct resync {
    uint64_t epoch;
    int pending; /* ZRANGE + GETs not yet answered (callbacks hold the struct) */
    int aborted;
    size_t n;
    rs_item *items;
    rs_item *gone; /* served at ZRANGE time but absent from the monitor */
    size_t ngone;
} resync;

typedef struct rs_get {
    resync *rs;
    size_t i;
} rs_get;

static void
resync_free(resync *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        coll_release(rs->items[i].loaded);
    free(rs->items);
    free(rs->gone);
    if (S.rs == rs)
        S.rs = NULL;
    free(rs);
}

static int
rs_item_cmp(const void *a, const void *b)
{
    const rs_item *x = a, *y = b;
    int r = strcmp(x->bid, y->bid);
    return r ? r : strcmp(x->cid, y->cid);
}

/* Whether the resync's ZRANGE listed bid/cid (its items are sorted by then). */
static int
rs_listed(const char *bid, const char *cid, void *arg)
{
    const resync *rs = arg;
    rs_item key;
    snprintf(key.bid, sizeof(key.bid), "%s", bid);
    snprintf(key.cid, sizeof(key.cid), "%s", cid);
    return bsearch(&key, rs->items, rs->n, sizeof(rs_item), rs_item_cmp) != NULL;
}

static void
resync_finish(resync *rs)
{
    size_t nadd = 0, ndrop = 0;
    long long now = herald_clock_mono_ms();
    for (size_t i = 0; i < rs->n; i++) {
        rs_item *it = &rs->items[i];
        if (!it->loaded)
            continue;
        if (newest(it->bid, it->cid) >= it->loaded->version)
            continue; /* a notification got a newer one meanwhile */
        lockstep_add(S.ls, it->loaded, now);
        it->loaded = NULL;
        nadd++;
    }
    for (size_t i = 0; i < rs->ngone; i++) {
        status_set_invalid(rs->gone[i].bid, rs->gone[i].cid, 0);
        /* Only if no notification re-created it since the ZRANGE. */
        if (newest(rs->gone[i].bid, rs->gone[i].cid) == rs->gone[i].version) {
            lockstep_remove(S.ls, S.cur, rs->gone[i].bid, rs->gone[i].cid, now);
            ndrop++;
        }
    }
    /* Staged (never served) collections Redis no longer lists: removed while this server
     * was disconnected. Those staged since the ZRANGE may be re-creations: kept. */
    qsort(rs->items, rs->n, sizeof(rs_item), rs_item_cmp);
    ndrop += lockstep_drop_unlisted(S.ls, S.cur, S.resync_started, rs_listed, rs);
    if (!S.resynced)
        encode_hold(0); /* everything loaded and verified: compress now (sync_start) */
    S.resynced = 1;
    reconcile();
    long long took = herald_clock_mono_ms() - S.resync_started;
    status_set_resync_ms(took);
    herald_info("resync done in %lld ms: %zu collections in the monitor, %zu updated, %zu "
                "removed, %zu served%s",
                took, rs->n, nadd, ndrop, S.cur ? S.cur->n : 0,
                S.loaded ? "" : " (waiting for a signed monitor that commits to them)");
    status_set_redis_ok(S.cmd_up && S.sub_up);
    herald_backoff_reset(&S.backoff);
}

/* The verified coll 'c' (the reference is taken over) for the resync's item 'idx'. */
static void
resync_deliver(resync *rs, size_t idx, coll *c)
{
    coll_release(rs->items[idx].loaded);
    rs->items[idx].loaded = c; /* released with the resync if unused */
}

static void
resync_unref(resync *rs)
{
    if (--rs->pending > 0)
        return;
    if (!rs->aborted && rs->epoch == S.epoch)
        resync_finish(rs);
    resync_free(rs);
}

/* Queues a verified coll from a notification for the set published at the end of this
 * loader wake-up, keeping only the newest per collection. */
static void
batch_add(coll *c)
{
    for (size_t i = 0; i < S.nbatch; i++) {
        coll *b = S.batch[i];
        if (b->bid_len == c->bid_len && b->cid_len == c->cid_len && !strcmp(b->bid, c->bid) &&
            !strcmp(b->cid, c->cid)) {
            if (b->version >= c->version) {
                coll_release(c);
            } else {
                coll_release(b);
                S.batch[i] = c;
            }
            return;
        }
    }
    if (S.nbatch == S.batch_cap) {
        S.batch_cap = S.batch_cap ? 2 * S.batch_cap : 16;
        S.batch = herald_mem_realloc(S.batch, S.batch_cap * sizeof(coll *));
    }
    S.batch[S.nbatch++] = c;
}

/* Publishes the batch: one new set for every notification verified in one wake-up,
 * minus what is no longer newer than the served version (a resync may have published a
 * newer one meanwhile). */
static void
batch_publish(void)
{
    size_t n = 0;
    long long now = herald_clock_mono_ms();
    for (size_t i = 0; i < S.nbatch; i++) {
        coll *c = S.batch[i];
        if (S.stopping || newest(c->bid, c->cid) >= c->version) {
            coll_release(c);
            continue;
        }
        herald_debug("loaded %s/%s version %lld (%lld records; decode %.2f, apply %.2f, verify "
                     "%.2f, build %.2f ms)",
                     c->bid, c->cid, (long long)c->version, (long long)c->nrecords,
                     c->t_decode_ns / 1e6, c->t_apply_ns / 1e6, c->t_verify_ns / 1e6,
                     c->t_build_ns / 1e6);
        lockstep_add(S.ls, c, now);
        n++;
    }
    S.nbatch = 0;
    if (n)
        reconcile();
}

/* The loader's report (loader.h), on the event loop: one finished job, or NULL once all
 * the jobs finished by this wake-up have been reported. */
static void
on_loaded(load_job *j)
{
    if (!j) {
        batch_publish();
        return;
    }
    if (j->kind == JOB_DELTA) {
        incr_loaded(j);
        free(j);
        return;
    }
    if (!S.stopping)
        report_job(j);
    if (j->kind == JOB_RESYNC) {
        resync *rs = j->owner;
        if (j->verdict == LOAD_OK && behind(j) && !rs->aborted && rs->epoch == S.epoch) {
            catch_up(j->c, j->want, rs, j->index, 0); /* the chain holds the resync's count */
        } else {
            if (j->verdict == LOAD_OK)
                resync_deliver(rs, j->index, j->c);
            resync_unref(rs);
        }
    } else if (j->verdict == LOAD_OK) {
        if (behind(j))
            catch_up(j->c, j->want, NULL, 0, j->tries);
        else
            batch_add(j->c);
    }
    free(j);
}

static void
on_rs_get(redisAsyncContext *ac, void *reply, void *priv)
{
    rs_get *g = priv;
    resync *rs = g->rs;
    if (rs->epoch != S.epoch || !cmd_reply(ac, reply)) {
        rs->aborted = 1;
    } else {
        rs_item *it = &rs->items[g->i];
        if (submit_blob(it->bid, it->cid, reply, JOB_RESYNC, rs, g->i, it->version, 0) == 0) {
            free(g);
            return; /* the loader's result releases the resync's count (on_loaded) */
        }
    }
    free(g);
    resync_unref(rs);
}

static void
on_zrange(redisAsyncContext *ac, void *reply, void *priv)
{
    resync *rs = priv;
    redisReply *r = reply;
    if (rs->epoch != S.epoch || !cmd_reply(ac, r)) {
        rs->aborted = 1;
        goto out;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        herald_error("ZRANGE %s: unexpected reply", HERALD_KEY_MONITOR);
        rs->aborted = 1;
        request_reset("unexpected ZRANGE reply");
        goto out;
    }
    size_t n = r->elements / 2;
    if (n > S.o.max_collections) {
        herald_error("%zu collections in the monitor; serving the first %zu", n,
                     S.o.max_collections);
        n = S.o.max_collections;
    }
    rs->items = herald_mem_calloc(n + 1, sizeof(rs_item));
    for (size_t i = 0; i < n; i++) {
        const redisReply *m = r->element[2 * i], *sc = r->element[2 * i + 1];
        rs_item *it = &rs->items[rs->n];
        if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING ||
            split_key(m->str, (size_t)m->len, it->bid, it->cid) < 0) {
            herald_warn("ignoring malformed monitor entry");
            continue;
        }
        it->version = strtoll(sc->str, NULL, 10);
        rs->n++;
        if (newest(it->bid, it->cid) >= it->version)
            continue; /* already loaded that version (or a newer one) */
        rs_get *g = herald_mem_calloc(1, sizeof(*g));
        g->rs = rs;
        g->i = rs->n - 1;
        rs->pending++;
        send_get(it->bid, it->cid, on_rs_get, g);
    }
    /* Served collections that the monitor no longer lists. */
    size_t ncur = S.cur ? S.cur->n : 0;
    rs->gone = herald_mem_calloc(ncur + 1, sizeof(rs_item));
    for (size_t i = 0; i < ncur; i++) {
        coll *c = S.cur->colls[i];
        int found = 0;
        for (size_t j = 0; j < rs->n && !found; j++)
            found = !strcmp(rs->items[j].bid, c->bid) && !strcmp(rs->items[j].cid, c->cid);
        if (!found) {
            /* Copied: S.cur (and 'c') may be gone by the time the resync finishes. */
            rs_item *g = &rs->gone[rs->ngone++];
            memcpy(g->bid, c->bid, c->bid_len + 1);
            memcpy(g->cid, c->cid, c->cid_len + 1);
            g->version = c->version;
        }
    }
out:
    resync_unref(rs);
}

static void
start_resync(void)
{
    if (S.rs)
        S.rs->aborted = 1; /* a newer resync supersedes it */
    resync *rs = herald_mem_calloc(1, sizeof(*rs));
    rs->epoch = S.epoch;
    rs->pending = 1;
    S.rs = rs;
    S.resync_started = herald_clock_mono_ms();
    if (S.inflight == 0)
        S.last_reply = herald_clock_mono_ms();
    S.inflight++;
    redisAsyncCommand(S.cmd, on_zrange, rs, "ZRANGE %s 0 -1 WITHSCORES", HERALD_KEY_MONITOR);
    fetch_monitor();
}

/* ---- connections ------------------------------------------------------------------- */

static void
on_sub(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    redisReply *r = reply;
    if (!r || ac != S.sub)
        return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        request_reset("unexpected reply on the subscription");
        return;
    }
    const char *kind = r->element[0]->str;
    if (!strcmp(kind, "subscribe")) {
        S.sub_up = 1;
        herald_info("redis: subscribed to %s; resyncing", HERALD_CHANNEL_SNAPSHOTS);
        start_resync();
    } else if (!strcmp(kind, "message") && r->element[2]->type == REDIS_REPLY_STRING) {
        on_message(r->element[2]->str, (size_t)r->element[2]->len);
    }
}

static void
on_select(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    redisReply *r = reply;
    if (!cmd_reply(ac, r))
        return;
    if (r->type == REDIS_REPLY_ERROR)
        request_reset("SELECT failed");
}

static void
on_ping(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    (void)cmd_reply(ac, reply);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    if (ac != S.cmd && ac != S.sub)
        return; /* a context drop_all() is freeing */
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        if (ac == S.cmd)
            S.cmd = NULL;
        if (ac == S.sub)
            S.sub = NULL;
        request_reset(ac->errstr[0] ? ac->errstr : "cannot connect");
        return;
    }
    redisEnableKeepAlive((redisContext *)&ac->c);
    if (ac == S.cmd) {
        S.cmd_up = 1;
        poll_backoff(herald_clock_mono_ms()); /* a restarted server learns it at once */
    }
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    if (ac != S.cmd && ac != S.sub)
        return; /* freed by drop_all(): already handled */
    if (ac == S.cmd)
        S.cmd = NULL;
    if (ac == S.sub)
        S.sub = NULL;
    request_reset(ac->errstr[0] ? ac->errstr : "connection closed");
}

/* Both contexts of one connect go to the same node: through Sentinel, the one
 * connect_all() found (herald/sentinel.h; a replica when redis_prefer_replica). */
static herald_sentinel_addr node;

static redisAsyncContext *
open_ctx(void)
{
    redisAsyncContext *ac = redisAsyncConnect(node.host, node.port);
    if (!ac)
        return NULL;
    if (ac->err) {
        herald_warn("redis %s:%d: %s", node.host, node.port, ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    redisLibeventAttach(ac, S.base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

static void
connect_all(void)
{
    S.epoch++;
    S.cmd_up = S.sub_up = 0;
    S.inflight = 0;
    S.backoff_pending = 0;
    S.mon_pending = S.mon_again = 0;
    S.connect_started = herald_clock_mono_ms();
    if (S.o.url.sentinel.n) {
        /* Blocking, each sentinel bounded: this thread serves no request. The ROLE probe
         * makes sure a sentinel's stale answer is not followed. */
        char err[512];
        if (herald_sentinel_resolve(&node, &S.o.url.sentinel, S.o.url.prefer_replica, 1, 1000, err,
                                    sizeof(err)) != 0) {
            request_reset(err);
            return;
        }
        herald_info("redis: %s is %s:%d", S.o.url.host, node.host, node.port);
    } else {
        snprintf(node.host, sizeof(node.host), "%s", S.o.url.host);
        node.port = S.o.url.port;
    }
    S.cmd = open_ctx();
    S.sub = S.cmd ? open_ctx() : NULL;
    if (!S.cmd || !S.sub) {
        request_reset("cannot create a connection");
        return;
    }
    if (S.o.url.db) {
        S.inflight++;
        redisAsyncCommand(S.cmd, on_select, NULL, "SELECT %d", S.o.url.db);
    }
    redisAsyncCommand(S.sub, on_sub, NULL, "SUBSCRIBE %s", HERALD_CHANNEL_SNAPSHOTS);
}

static void
drop_all(void)
{
    S.epoch++; /* callbacks run by the frees below see a stale epoch */
    redisAsyncContext *c = S.cmd, *s = S.sub;
    S.cmd = S.sub = NULL;
    S.cmd_up = S.sub_up = 0;
    S.inflight = 0;
    S.backoff_pending = 0;
    S.mon_pending = S.mon_again = 0;
    if (c)
        redisAsyncFree(c);
    if (s)
        redisAsyncFree(s);
}

static void
on_reset(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    drop_all();
    S.reset_pending = 0;
    S.retry_at = herald_clock_mono_ms() + herald_backoff_next(&S.backoff);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    long long now = herald_clock_mono_ms();
    if (S.watch && herald_sentinel_watch_poll(S.watch) && (S.cmd || S.sub)) {
        request_reset("sentinel announced a new primary");
        return;
    }
    if (!S.cmd && !S.sub) {
        if (now >= S.retry_at)
            connect_all();
        return;
    }
    if ((!S.cmd_up || !S.sub_up) && now - S.connect_started > CONNECT_TIMEOUT_MS) {
        request_reset("connect timed out");
        return;
    }
    if (S.inflight > 0 && now - S.last_reply > REPLY_TIMEOUT_MS) {
        request_reset("command timed out");
        return;
    }
    if (now - S.backoff_at >= BACKOFF_POLL_MS)
        poll_backoff(now);
    if (S.loaded)
        expire_monitor();
    if (lockstep_due(S.ls, herald_clock_mono_ms()))
        reconcile(); /* the bound passed: lockstep.h, 3. */
    if (S.o.view_idle_ms > 0 && S.cur && now - S.views_swept >= VIEW_SWEEP_MS) {
        /* Parsed Kinto views nobody asked for lately go (snapset.h): built again on use. */
        S.views_swept = now;
        long long wall = herald_clock_wall_ms();
        size_t dropped = 0;
        for (size_t i = 0; i < S.cur->n; i++)
            dropped += (size_t)coll_view_drop_idle(S.cur->colls[i], wall, S.o.view_idle_ms);
        if (dropped)
            herald_debug("dropped %zu idle Kinto view(s)", dropped);
    }
    if (S.cmd_up && S.inflight == 0 && now - S.last_ping > PING_INTERVAL_MS) {
        S.last_ping = now;
        S.last_reply = now;
        S.inflight++;
        redisAsyncCommand(S.cmd, on_ping, NULL, "PING");
    }
}

int
sync_start(struct event_base *base, const sync_opts *o)
{
    memset(&S, 0, sizeof(S));
    S.base = base;
    S.o = *o;
    if (!S.o.max_collections)
        S.o.max_collections = 100000;
    S.backoff = (herald_backoff)HERALD_BACKOFF_INIT;
    S.cur = snapset_acquire();
    S.ls = lockstep_new(S.o.lockstep_ms);
    /* A cold start: the cores load and verify (what __heartbeat__ waits for) before
     * they compress; identity is served meanwhile (encode.h). */
    encode_hold(1);
    snapset_set_keys(S.o.keys, S.o.nkeys);
    if (S.o.url.sentinel.n)
        S.watch = herald_sentinel_watch_new(&S.o.url.sentinel);
    S.backoff_secs = S.o.backoff_default;
    status_set_backoff(S.backoff_secs);
    S.reset_ev = event_new(base, -1, 0, on_reset, NULL);
    S.tick_ev = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, TICK_MS * 1000};
    if (!S.reset_ev || !S.tick_ev || event_add(S.tick_ev, &tv) < 0)
        goto fail;
    if (loader_start(base, 0, S.o.keys, S.o.nkeys, on_loaded) < 0)
        goto fail;
    S.loader_up = 1;
    connect_all();
    return 0;
fail:
    sync_stop();
    return -1;
}

void
sync_stop(void)
{
    S.stopping = 1;
    encode_hold(0);
    drop_all();
    if (S.loader_up)
        loader_stop(); /* reports every job left: resyncs are freed, colls released */
    S.loader_up = 0;
    free(S.batch);
    S.batch = NULL;
    S.batch_cap = 0;
    if (S.tick_ev)
        event_free(S.tick_ev);
    if (S.reset_ev)
        event_free(S.reset_ev);
    S.tick_ev = S.reset_ev = NULL;
    herald_sentinel_watch_free(S.watch);
    S.watch = NULL;
    snapset_release(S.cur);
    S.cur = NULL;
    lockstep_free(S.ls);
    S.ls = NULL;
    json_decref(S.mon_body);
    S.mon_body = NULL;
    while (g_chains)
        chain_end(g_chains->bid, g_chains->cid);
    while (g_retries)
        retry_free(g_retries);
}
