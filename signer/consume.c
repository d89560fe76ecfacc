/*
 * consume -- the signer's stream consumer: reads herald:changes through the consumer
 * group, reduces each batch of events to the collections it touches, has each signed
 * (publish.c) and acknowledges the events once every one of them is stored. It also runs
 * the periodic sweep (re-publish, remove, re-sign what expires soon) and takes over the
 * entries of dead consumers (XAUTOCLAIM). The protocol is described in main.c.
 *
 * Layering: main.c (settings, keys, signals) -> consume.c -> publish.c -> cache.c; the
 * one-shot subcommands (cmd_*.c) sit beside consume.c and call only lib/.
 */
#include "consume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "herald/backoff.h"
#include "herald/clock.h"
#include "herald/log.h"
#include "herald/schema.h"
#include "blobz.h"

/* A batch of touched collections, deduplicated ("bid/cid" strings). */
typedef struct touched {
    char **items;
    size_t n, cap;
} touched;

static void
touched_add(touched *t, const char *bid, const char *cid)
{
    herald_buf m = HERALD_BUF_INIT;
    herald_schema_monitor_member(&m, bid, cid);
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i], m.data) == 0) {
            herald_buf_free(&m);
            return;
        }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->items = herald_mem_realloc(t->items, t->cap * sizeof(char *));
    }
    t->items[t->n++] = herald_buf_steal(&m, NULL);
}

static void
touched_clear(touched *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i]);
    t->n = 0;
}

/* Adds every collection of bucket 'bid', existing or still published. */
static int
touch_bucket(signer_ctx *s, touched *t, const char *bid)
{
    herald_buf key = HERALD_BUF_INIT, uri = HERALD_BUF_INIT;
    herald_buf_printf(&uri, "/buckets/%s", bid);
    herald_schema_list_key(&key, HERALD_LIST_OBJS, uri.data, "collection");
    redisReply *r = redisCommand(s->rc, "HKEYS %s", herald_buf_cstr(&key));
    redisReply *m = r ? redisCommand(s->rc, "ZRANGE %s 0 -1", HERALD_KEY_MONITOR) : NULL;
    int ok = r && r->type == REDIS_REPLY_ARRAY && m && m->type == REDIS_REPLY_ARRAY;
    if (ok) {
        for (size_t i = 0; i < r->elements; i++)
            touched_add(t, bid, r->element[i]->str);
        size_t blen = strlen(bid);
        for (size_t i = 0; i < m->elements; i++) {
            const char *mem = m->element[i]->str;
            if (strncmp(mem, bid, blen) == 0 && mem[blen] == '/')
                touched_add(t, bid, mem + blen + 1);
        }
    }
    if (r)
        freeReplyObject(r);
    if (m)
        freeReplyObject(m);
    herald_buf_free(&key);
    herald_buf_free(&uri);
    return ok ? 0 : -1;
}

/* Signs every touched collection; returns 0 when all succeeded. 'ack' (may be NULL) is
 * handed to the last one, so the events are acknowledged atomically with its store once
 * every other collection has been stored; '*acked' (may be NULL) says whether that
 * happened (otherwise the caller acknowledges them itself). */
static int
process_touched(signer_ctx *s, touched *t, int force, const signer_ack *ack, int *acked)
{
    int failed = 0;
    if (acked)
        *acked = 0;
    for (size_t i = 0; i < t->n && !failed; i++) {
        char *slash = strchr(t->items[i], '/');
        if (!slash)
            continue;
        *slash = '\0';
        /* SIGNER_INVALID counts as done: the collection cannot be signed until its data
         * changes, which brings a new event; the sweep also retries it every period.
         * Holding the event back would block every other collection behind it. */
        int last = i + 1 == t->n;
        if (signer_publish_collection(s, t->items[i], slash + 1, force, last ? ack : NULL,
                                      last ? acked : NULL) == SIGNER_ERROR)
            failed = 1;
        *slash = '/';
    }
    return failed ? -1 : 0;
}

/* The periodic sweep: every bucket's collections, plus every published collection. */
static int
sweep(signer_ctx *s)
{
    touched t = {0};
    herald_buf key = HERALD_BUF_INIT;
    herald_schema_list_key(&key, HERALD_LIST_OBJS, "", "bucket");
    redisReply *r = redisCommand(s->rc, "HKEYS %s", herald_buf_cstr(&key));
    redisReply *m = r ? redisCommand(s->rc, "ZRANGE %s 0 -1", HERALD_KEY_MONITOR) : NULL;
    int rc = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && m && m->type == REDIS_REPLY_ARRAY) {
        rc = 0;
        for (size_t i = 0; i < r->elements && rc == 0; i++)
            rc = touch_bucket(s, &t, r->element[i]->str);
        for (size_t i = 0; i < m->elements; i++) {
            char *slash = strchr(m->element[i]->str, '/');
            if (slash) {
                *slash = '\0';
                touched_add(&t, m->element[i]->str, slash + 1);
            }
        }
        if (rc == 0)
            rc = process_touched(s, &t, 0, NULL, NULL);
    }
    if (r)
        freeReplyObject(r);
    if (m)
        freeReplyObject(m);
    touched_clear(&t);
    /* Freshness: re-sign (as a new version over the same records) what expires soon. */
    if (rc == 0) {
        redisReply *e =
            redisCommand(s->rc, "ZRANGEBYSCORE %s -inf %lld", HERALD_KEY_MONITOR_EXPIRES,
                         (long long)(herald_clock_wall_ms() + s->resign_before_ms));
        if (!e || e->type != REDIS_REPLY_ARRAY) {
            rc = -1;
        } else {
            for (size_t i = 0; i < e->elements; i++) {
                char *slash = strchr(e->element[i]->str, '/');
                if (slash) {
                    *slash = '\0';
                    touched_add(&t, e->element[i]->str, slash + 1);
                }
            }
            rc = process_touched(s, &t, 1, NULL, NULL);
        }
        if (e)
            freeReplyObject(e);
        touched_clear(&t);
    }
    free(t.items);
    herald_buf_free(&key);
    return rc;
}

/* Handles one XREADGROUP/XAUTOCLAIM list of entries; acks and deletes them when every
 * collection they touch has been processed. Returns the number of entries, or -1. */
static int
handle_entries(signer_ctx *s, redisReply *entries)
{
    touched t = {0};
    int rc = 0;
    size_t n = 0;
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            continue; /* a deleted entry still pending: XAUTOCLAIM drops it */
        const char *b = NULL, *c = NULL;
        redisReply *f = e->element[1];
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (strcmp(f->element[j]->str, "b") == 0)
                b = f->element[j + 1]->str;
            else if (strcmp(f->element[j]->str, "c") == 0)
                c = f->element[j + 1]->str;
        }
        if (!b || !herald_schema_valid_id(b, strlen(b)))
            continue;
        if (c && *c)
            touched_add(&t, b, c);
        else if (touch_bucket(s, &t, b) < 0)
            rc = -1;
    }
    const char **ids = herald_mem_calloc(entries->elements + 1, sizeof(char *));
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        const char *id = e->type == REDIS_REPLY_ARRAY && e->elements >= 1 ? e->element[0]->str
                         : e->type == REDIS_REPLY_STRING                  ? e->str
                                                                          : NULL;
        if (id)
            ids[n++] = id;
    }
    signer_ack ack = {ids, n};
    int acked = 0;
    if (rc == 0)
        rc = process_touched(s, &t, 0, &ack, &acked);
    if (rc == 0 && n && !acked) {
        /* XACK then XDEL, pipelined (one round trip, one fsync): consumed entries leave
         * the stream. */
        const char **argv = herald_mem_calloc(n + 3, sizeof(char *));
        argv[0] = "XACK";
        argv[1] = HERALD_KEY_CHANGES;
        argv[2] = HERALD_GROUP_SIGNERS;
        memcpy(argv + 3, ids, n * sizeof(char *));
        redisAppendCommandArgv(s->rc, (int)(3 + n), argv, NULL);
        argv[1] = "XDEL"; /* argv + 1 = XDEL herald:changes ids... */
        argv[2] = HERALD_KEY_CHANGES;
        redisAppendCommandArgv(s->rc, (int)(2 + n), argv + 1, NULL);
        for (int k = 0; k < 2; k++) {
            redisReply *a = NULL;
            if (redisGetReply(s->rc, (void **)&a) != REDIS_OK || !a || a->type == REDIS_REPLY_ERROR)
                rc = -1;
            if (a)
                freeReplyObject(a);
            if (rc < 0)
                break;
        }
        free(argv);
    }
    free(ids);
    touched_clear(&t);
    free(t.items);
    return rc < 0 ? -1 : (int)entries->elements;
}

static int
ensure_group(signer_ctx *s)
{
    /* From ID 0: events written before the first signer ever ran are signed too. */
    redisReply *r = redisCommand(s->rc, "XGROUP CREATE %s %s 0 MKSTREAM", HERALD_KEY_CHANGES,
                                 HERALD_GROUP_SIGNERS);
    int ok = r && (r->type == REDIS_REPLY_STATUS ||
                   (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) == 0));
    if (!ok)
        herald_error("XGROUP CREATE: %s", r ? r->str : s->rc->errstr);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Publishes the active public keys (key_id -> base64url) for the publisher's and the
 * read servers' capabilities.signer. The hash is replaced as a whole (MULTI/EXEC), so a
 * retired key disappears when the signer restarts without it. */
static int
publish_keys(signer_ctx *s)
{
    int ok = 1;
    redisAppendCommand(s->rc, "MULTI");
    redisAppendCommand(s->rc, "DEL %s", HERALD_KEY_SIGNER_KEYS);
    for (size_t i = 0; i < s->nkeys; i++) {
        const herald_pubkey *pk = herald_crypto_signkey_public(s->keys[i]);
        redisAppendCommand(s->rc, "HSET %s %s %s", HERALD_KEY_SIGNER_KEYS, pk->key_id, pk->b64);
    }
    redisAppendCommand(s->rc, "EXEC");
    for (size_t i = 0; i < s->nkeys + 3; i++) {
        redisReply *r = NULL;
        if (redisGetReply(s->rc, (void **)&r) != REDIS_OK) {
            ok = 0;
            break;
        }
        if (!r || r->type == REDIS_REPLY_ERROR ||
            (i == s->nkeys + 2 && r->type != REDIS_REPLY_ARRAY))
            ok = 0;
        if (r)
            freeReplyObject(r);
    }
    return ok ? 0 : -1;
}

/* Takes over the entries other consumers (dead signers) left pending for longer than
 * claim_idle_ms, and handles them like new ones. Follows XAUTOCLAIM's cursor through the
 * whole pending list. Returns 0, or -1 on a Redis failure. */
static int
reclaim(signer_ctx *s, const char *consumer)
{
    char cursor[64] = "0-0";
    for (int round = 0; round < 1000; round++) {
        redisReply *c =
            redisCommand(s->rc, "XAUTOCLAIM %s %s %s %lld %s COUNT 256", HERALD_KEY_CHANGES,
                         HERALD_GROUP_SIGNERS, consumer, (long long)s->claim_idle_ms, cursor);
        if (!c || c->type != REDIS_REPLY_ARRAY || c->elements < 2 ||
            c->element[0]->type != REDIS_REPLY_STRING) {
            herald_error("XAUTOCLAIM: %s",
                         c && c->type == REDIS_REPLY_ERROR ? c->str : s->rc->errstr);
            if (c)
                freeReplyObject(c);
            return -1;
        }
        if (c->element[1]->elements)
            herald_info("reclaimed %zu pending events", c->element[1]->elements);
        int rc = handle_entries(s, c->element[1]);
        snprintf(cursor, sizeof(cursor), "%s", c->element[0]->str);
        freeReplyObject(c);
        if (rc < 0)
            return -1;
        if (strcmp(cursor, "0-0") == 0)
            break;
    }
    return 0;
}

/*
 * Pacing under a backlog. A read server serves a version only together with a signed
 * monitor naming it (lock-step, docs/server.md), and it kept only the newest monitor.
 * When the signer stores versions of a collection faster than a read server builds them
 * (a bulk import: a version every few ms), every monitor names a version the server has
 * not built yet, and by the time it has, a newer monitor names a newer one: measured,
 * nothing was served for 3-9 s in a row during a 10k-record import. So while writes come
 * in faster than versions are published (a backlog: several entries in one read, or one
 * written before the previous batch was published; not a lone edit, written after it),
 * it starts a batch no sooner than PACE_FACTOR times the previous batch's duration after
 * that one started (within PACE_MIN_MS..PACE_MAX_MS): everything written meanwhile goes
 * into one version, the read servers get time to build it (one jump delta, publish.c)
 * before the next one, and a lone urgent edit is signed at once.
 *
 * The factor was 3. Since lock-step keeps the last 8 monitors, a server a version behind
 * still serves it, and 2 (a batch, then as long again for the read servers, which take
 * about as long to build it) is enough: in bench_edit_served.sh at 10k records the p99 of
 * an edit during the import went from 51-53 ms (3 runs) to 38-51 (5 runs, median 40).
 * An edit written during the window waits for its end, up to twice a batch.
 */
#define PACE_FACTOR 2

/* Redis's clock in ms (TIME), the clock of the stream's entry IDs; -1 on a failure. */
static int64_t
redis_time_ms(signer_ctx *s)
{
    redisReply *r = redisCommand(s->rc, "TIME");
    int64_t ms = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING)
        ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
             strtoll(r->element[1]->str, NULL, 10) / 1000;
    else
        herald_error("TIME: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : s->rc->errstr);
    if (r)
        freeReplyObject(r);
    return ms;
}

/* When the first of 'entries' (an XREADGROUP list) was written: its ID's ms part; -1. */
static int64_t
entry_ms(const redisReply *entries)
{
    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
        return -1;
    const redisReply *e = entries->element[0];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return -1;
    return strtoll(e->element[0]->str, NULL, 10);
}

/* How long, under a backlog, the full blob of a version announced with its deltas may
 * wait for a newer version to supersede it (publish.c): during an import only the newest
 * blob every half second is compressed (at 10k records, 10 ms of zstd per version that
 * otherwise sits between two batches). Bounded so that a read server starting cold
 * meanwhile finds a blob a few versions old, from which the jump deltas (bases: the last
 * 8 versions) lead on; and every blob still waiting is stored as soon as the backlog
 * ends, or the signer stops. */
#define BLOB_DEFER_MS 500
#define PACE_MIN_MS 20
#define BLOBZ_POLL_MS 20
#define PACE_MAX_MS 200

int
signer_consume_run(signer_ctx *s, const herald_redis_url *url, const char *consumer,
                   volatile sig_atomic_t *stopping)
{
    herald_backoff backoff = HERALD_BACKOFF_INIT;
    if (signer_blobz_start() < 0)
        herald_warn("no compressor thread: full blobs are compressed between batches");
    while (!*stopping) {
        char err[256];
        signer_forget_all();
        s->blob_defer_ms = 0;
        s->rc = herald_redis_connect(url, 5000, err, sizeof(err));
        if (!s->rc || signer_load_scripts(s) < 0 || ensure_group(s) < 0 || publish_keys(s) < 0 ||
            sweep(s) < 0 || signer_monitor_refresh(s, 1) < 0 || signer_blobs_flush(s, 1) < 0) {
            herald_warn("redis not ready (%s); retrying in %d ms", s->rc ? "setup failed" : err,
                        herald_backoff_peek(&backoff));
            goto retry;
        }
        herald_info("connected to redis %s:%d as consumer %s", url->host, url->port, consumer);
        herald_backoff_reset(&backoff);
        const char *next_id = "0"; /* first our own pending entries, then new ones */
        int64_t last_sweep = herald_clock_mono_ms(), last_claim = 0;
        int backlog = 0;
        double batch_start = 0, batch_ms = 0;
        int64_t batch_end_ms = -1; /* Redis's clock when the last batch was published */
        while (!*stopping) {
            if (herald_clock_mono_ms() - last_claim >
                (s->claim_idle_ms < 10000 ? s->claim_idle_ms : 10000)) {
                last_claim = herald_clock_mono_ms();
                if (reclaim(s, consumer) < 0 || signer_monitor_refresh(s, 1) < 0 ||
                    signer_blobs_flush(s, 0) < 0 || signer_blobs_collect(s) < 0)
                    break;
            }
            if (herald_clock_mono_ms() - last_sweep > s->sweep_ms) {
                last_sweep = herald_clock_mono_ms();
                if (sweep(s) < 0 || signer_monitor_refresh(s, 1) < 0 ||
                    signer_blobs_flush(s, 0) < 0 || signer_blobs_collect(s) < 0)
                    break;
            }
            if (backlog) {
                double pace = PACE_FACTOR * batch_ms;
                pace = pace < PACE_MIN_MS ? PACE_MIN_MS : pace > PACE_MAX_MS ? PACE_MAX_MS : pace;
                double wait = batch_start + pace - (double)herald_clock_mono_ns() / 1e6;
                if (wait > 0)
                    usleep((useconds_t)(wait * 1000));
            }
            /* While the compressor thread works, wake up now and then to store what it
             * finished (BLOBZ_POLL_MS); new entries wake the read at once anyway. With
             * blobs waiting under a backlog, no wait for new entries: none means the
             * backlog is over, and the blobs are stored at once; without one (a large
             * collection's blob, publish.c), until the first is due. */
            int block_ms = signer_blobz_pending() ? BLOBZ_POLL_MS : 1000;
            if (signer_blobs_waiting()) {
                int64_t due = backlog ? 1 : signer_blobs_due_in(s);
                block_ms = due < 1 ? 1 : due < block_ms ? (int)due : block_ms;
            }
            redisReply *r =
                redisCommand(s->rc,
                             "XREADGROUP GROUP %s %s COUNT 512 BLOCK %d "
                             "STREAMS %s %s",
                             HERALD_GROUP_SIGNERS, consumer, block_ms, HERALD_KEY_CHANGES, next_id);
            double read_end = (double)herald_clock_mono_ns() / 1e6;
            if (!r || r->type == REDIS_REPLY_ERROR) {
                herald_error("XREADGROUP: %s", r ? r->str : s->rc->errstr);
                if (r)
                    freeReplyObject(r);
                break;
            }
            int handled = 0;
            int64_t first_ms = -1;
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2) {
                first_ms = entry_ms(r->element[0]->element[1]);
                handled = handle_entries(s, r->element[0]->element[1]);
            }
            freeReplyObject(r);
            if (handled < 0)
                break;
            /* Several entries at once, or one written while the previous batch was being
             * published: writes arrive faster than versions are published. Not one that
             * merely waited for the signer's chores after a batch (storing a blob): with
             * edits one at a time, each written once the previous version is served, that
             * test (an entry already there when the read started) held for every edit at
             * 100k records, and each waited for the pacing, ~20 ms. */
            backlog = handled > 1 || (handled == 1 && first_ms >= 0 && first_ms < batch_end_ms);
            if (handled > 0) {
                batch_start = read_end;
                batch_ms = (double)herald_clock_mono_ns() / 1e6 - read_end;
                if ((batch_end_ms = redis_time_ms(s)) < 0)
                    break;
            }
            /* After a batch: its stores changed the entries (the generation tells); else
             * only when half the monitor's lifetime has passed. */
            if (signer_monitor_refresh(s, handled > 0) < 0)
                break;
            /* Then the full blobs of the versions just announced without them (publish.c):
             * the deltas and the signed monitor are what the read servers wait for. Under
             * a backlog a blob waits up to BLOB_DEFER_MS, superseded by newer versions. */
            s->blob_defer_ms = backlog ? BLOB_DEFER_MS : 0;
            if (signer_blobs_flush(s, 0) < 0 || signer_blobs_collect(s) < 0)
                break;
            if (handled == 0 && next_id[0] == '0')
                next_id = ">"; /* no more pending entries of ours */
            /* Idle (nothing arrived for a whole BLOCK): recompress a blob that was stored
             * fast with its delta (publish.c). */
            if (handled == 0 && block_ms == 1000 && signer_recompress_one(s) < 0)
                break;
        }
        /* Stopping: the blobs still waiting (a backlog, or a large collection's) are stored
         * now rather than signed again by the next signer (herald:snap:pending). */
        if (*stopping && s->rc && signer_blobs_flush(s, 1) == 0) {
            signer_blobz_wait();
            (void)signer_blobs_collect(s);
        }
    retry:
        if (s->rc) {
            redisFree(s->rc);
            s->rc = NULL;
        }
        int delay_ms = herald_backoff_next(&backoff);
        for (int waited = 0; waited < delay_ms && !*stopping; waited += 50)
            usleep(50 * 1000);
    }
    herald_info("stopping");
    signer_blobz_stop();
    signer_forget_all();
    return 0;
}
