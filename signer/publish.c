/*
 * publish -- one collection: read what changed, update the in-memory copy, sign it,
 * store it, announce it.
 *
 *   signer_read.lua(since = copy's records timestamp)   one atomic script: V, attributes,
 *        |                                              records/tombstones changed since
 *        v
 *   cache.c: apply the changes to the sorted copy, check its record count against Redis
 *        |   (mismatch or no copy: read the full state instead)
 *        v
 *   records_json (rebuilt only if records changed), SHA-256, head, one Ed25519
 *   signature per key, zstd blob
 *        |
 *        v
 *   signer_store.lua: compare-and-set on V, monitor entries, PUBLISH
 *
 * The state and V come from one Lua script, so the snapshot is never torn across
 * concurrent writes and V is above every record in it. The store is compare-and-set on
 * V: a slower signer can never replace a newer snapshot. Nothing here acknowledges
 * stream events; the caller does that only after this returns STORED, UNCHANGED or
 * REMOVED, so a crash at any point leaves the event pending and the work is redone on
 * restart (from a full read: the copy lives in memory only).
 *
 * Records are re-canonicalized (parsed and dumped with JCS) when they enter the copy
 * rather than trusted as stored: what is signed must be exactly what a client
 * recomputes, even if something other than the publisher wrote to Redis. Their
 * canonical bytes are then reused until the record changes; a full read reuses them too
 * when the stored bytes are identical to the canonical bytes already checked.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blobz.h"
#include "cache.h"
#include "herald/clock.h"
#include "herald/delta.h"
#include "herald/jcs.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "herald/redis.h"
#include "herald/schema.h"
#include "herald/snapshot.h"
#include "signer.h"

#define NKEYS_READ 11
/* The zstd level of a full blob stored with a delta: the read servers that follow use
 * the delta, so the blob is stored and announced at once and recompressed later.
 * Measured (zstd -b, benchmarks/results/edit_served.md): level -5 is no faster than 1 on
 * the synthetic records (500-900 MB/s either way) and its output is 7 times larger
 * (163 KB against 22 KB at 10k records: more for Redis to write and fsync per version);
 * on OneCRL it is twice as fast as 1 but 54 % larger. Level 1 it is. */
#define FAST_ZSTD_LEVEL 1

extern const char herald_lua_signer_recompress[];

/* Fractional milliseconds: the timings logged at debug level are often below 1 ms. */
static double
mono_ms(void)
{
    return (double)herald_clock_mono_ns() / 1e6;
}

int
signer_load_scripts(signer_ctx *s)
{
    char err[256];
    if (herald_redis_script_load(s->rc, herald_lua_signer_read, s->sha_read, err, sizeof(err)) <
            0 ||
        herald_redis_script_load(s->rc, herald_lua_signer_store, s->sha_store, err, sizeof(err)) <
            0 ||
        herald_redis_script_load(s->rc, herald_lua_signer_remove, s->sha_remove, err, sizeof(err)) <
            0 ||
        herald_redis_script_load(s->rc, herald_lua_signer_monitor, s->sha_monitor, err,
                                 sizeof(err)) < 0 ||
        herald_redis_script_load(s->rc, herald_lua_signer_recompress, s->sha_recompress, err,
                                 sizeof(err)) < 0) {
        herald_error("%s", err);
        return -1;
    }
    return 0;
}

static json_t *
parse_stored(const char *data, size_t len, const char *what)
{
    char err[160];
    json_t *v = herald_jcs_parse(data, len, 0, 0, err, sizeof(err));
    if (!v || !json_is_object(v)) {
        herald_error("stored %s is not a JSON object: %s", what, v ? "wrong type" : err);
        json_decref(v);
        return NULL;
    }
    return v;
}

/*
 * The cache entry for the stored record 'id' = 'raw': its canonical bytes and
 * last_modified. 'old' is the copy's entry for the same id, if any: when the stored
 * bytes are exactly its canonical bytes they need no second look. Returns NULL (and
 * logs) for a record that is not a JSON object with this id and an integral
 * last_modified, or cannot be canonicalized.
 */
static cache_entry *
record_entry(const char *member, const redisReply *id, const redisReply *raw,
             const cache_entry *old)
{
    if (old && old->len == raw->len && memcmp(old->json, raw->str, raw->len) == 0)
        return cache_entry_new(id->str, id->len, old->lm, raw->str, raw->len);

    herald_buf canon = HERALD_BUF_INIT;
    cache_entry *e = NULL;
    json_t *v = parse_stored(raw->str, raw->len, "record");
    if (!v)
        goto out;
    const json_t *jid = json_object_get(v, "id");
    const json_t *jlm = json_object_get(v, "last_modified");
    if (!json_is_string(jid) || json_string_length(jid) != id->len ||
        memcmp(json_string_value(jid), id->str, id->len) != 0) {
        herald_error("%s: record %s has a different id in its data", member, id->str);
        goto out;
    }
    if (!json_is_number(jlm)) {
        herald_error("%s: record %s has no last_modified", member, id->str);
        goto out;
    }
    if (herald_jcs_dump(&canon, v) < 0) {
        herald_error("%s: record %s cannot be canonicalized", member, id->str);
        goto out;
    }
    e = cache_entry_new(id->str, id->len, (int64_t)json_number_value(jlm), canon.data, canon.len);

out:
    json_decref(v);
    herald_buf_free(&canon);
    return e;
}

static void
free_changes(cache_change *ch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ch[i].e);
}

/*
 * Updates the copy 'c' with the records ('recs': id, json, ...) and tombstones ('tombs':
 * id, lm, ...) of a signer_read reply of kind 'full' or 'delta'. A full state replaces
 * the copy. Returns 0, or -1 when a record cannot be signed (the copy is then left as it
 * was: every new entry is built before any is applied).
 *
 * Both tables are updated: a record written removes its tombstone, a tombstone removes
 * its record. In a full state ids are disjoint between records and tombstones (the
 * write scripts keep them so); were one in both, the tombstone would win.
 */
static int
apply_reply(cache_coll *c, int full, const redisReply *recs, const redisReply *tombs)
{
    size_t nr = recs->elements / 2, nt = tombs->elements / 2;
    /* live changes: nr records, plus nt removals; tombstone changes: nt entries, plus nr
     * removals (a record written again is no longer deleted). */
    cache_change *lch = herald_mem_calloc(nr + nt + 1, sizeof(*lch));
    cache_change *tch = herald_mem_calloc(nr + nt + 1, sizeof(*tch));
    size_t nl = 0, ntc = 0;
    int rc = -1;

    for (size_t i = 0; i < nr; i++) {
        const redisReply *id = recs->element[2 * i], *raw = recs->element[2 * i + 1];
        if (id->type != REDIS_REPLY_STRING || raw->type != REDIS_REPLY_STRING ||
            !herald_schema_valid_id(id->str, id->len)) {
            herald_error("%s: malformed record in the read reply", c->member);
            goto out;
        }
        long at = cache_table_find(&c->live, id->str, id->len, NULL);
        cache_entry *e = record_entry(c->member, id, raw, at >= 0 ? c->live.v[at] : NULL);
        if (!e)
            goto out;
        lch[nl++] = (cache_change){id->str, id->len, e};
        tch[ntc++] = (cache_change){id->str, id->len, NULL};
    }
    for (size_t i = 0; i < nt; i++) {
        const redisReply *id = tombs->element[2 * i];
        int64_t lm;
        if (id->type != REDIS_REPLY_STRING || !herald_schema_valid_id(id->str, id->len) ||
            herald_schema_reply_i64(&lm, tombs->element[2 * i + 1]) < 0) {
            herald_error("%s: malformed tombstone in the read reply", c->member);
            goto out;
        }
        cache_entry *e = cache_entry_tombstone(id->str, id->len, lm);
        tch[ntc++] = (cache_change){id->str, id->len, e};
        lch[nl++] = (cache_change){id->str, id->len, NULL};
    }

    if (full) {
        cache_table_clear(&c->live);
        cache_table_clear(&c->tombs);
        c->records_dirty = c->tombs_dirty = 1;
    }
    /* Every change names its id by pointing into the reply, which outlives this. */
    if (cache_table_apply(&c->live, lch, nl))
        c->records_dirty = 1;
    nl = 0; /* owned by the table now */
    if (cache_table_apply(&c->tombs, tch, ntc))
        c->tombs_dirty = 1;
    ntc = 0;
    rc = 0;

out:
    free_changes(lch, nl);
    free_changes(tch, ntc);
    free(lch);
    free(tch);
    return rc;
}

static enum signer_result
remove_collection(signer_ctx *s, const char *member, const char *snapkey)
{
    const char *argv[] = {"EVALSHA",
                          NULL,
                          "7",
                          snapkey,
                          HERALD_KEY_MONITOR,
                          HERALD_KEY_MONITOR_SRC,
                          HERALD_KEY_MONITOR_EXPIRES,
                          HERALD_KEY_MONITOR_SHA,
                          HERALD_KEY_MONITOR_GEN,
                          SIGNER_KEY_BLOB_PENDING,
                          member,
                          HERALD_CHANNEL_SNAPSHOTS};
    size_t lens[12];
    for (int i = 2; i < 12; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r =
        herald_redis_script_eval(s->rc, s->sha_remove, herald_lua_signer_remove, 12, argv, lens);
    enum signer_result res = SIGNER_ERROR;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        res = r->integer ? SIGNER_REMOVED : SIGNER_UNCHANGED;
        if (r->integer)
            herald_info("removed %s from the read servers", member);
    } else {
        herald_error("remove %s: %s", member, r ? r->str : s->rc->errstr);
    }
    if (r)
        freeReplyObject(r);
    return res;
}

/* ---- deferred recompression ------------------------------------------------------ */

typedef struct pending_blob {
    char *member;
    int64_t version;
} pending_blob;

static pending_blob *g_pending;
static size_t g_npending, g_cap_pending;

/* Remembers that 'member' was stored at 'version' with the fast level (the newest
 * version replaces an older one: only it is worth recompressing). */
static void
recompress_note(const char *member, int64_t version)
{
    for (size_t i = 0; i < g_npending; i++)
        if (strcmp(g_pending[i].member, member) == 0) {
            g_pending[i].version = version;
            return;
        }
    if (g_npending == g_cap_pending) {
        g_cap_pending = g_cap_pending ? 2 * g_cap_pending : 8;
        g_pending = herald_mem_realloc(g_pending, g_cap_pending * sizeof(*g_pending));
    }
    g_pending[g_npending++] = (pending_blob){herald_mem_strdup(member), version};
}

static int blob_job(signer_ctx *s, signer_blobz_job *j);

int
signer_recompress_one(signer_ctx *s)
{
    if (g_npending == 0)
        return 0;
    pending_blob p = g_pending[--g_npending];
    herald_buf key = HERALD_BUF_INIT;
    int rc = 1;
    const char *slash = strchr(p.member, '/');
    char bid[256];
    size_t bl = slash ? (size_t)(slash - p.member) : 0;
    if (!slash || bl >= sizeof(bid))
        goto out;
    memcpy(bid, p.member, bl);
    bid[bl] = '\0';
    herald_schema_snap_key(&key, bid, slash + 1);
    redisReply *r = redisCommand(s->rc, "GET %b", key.data, key.len);
    if (!r) {
        rc = -1;
        goto out;
    }
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        goto out; /* removed meanwhile */
    }
    signer_blobz_job *j = herald_mem_calloc(1, sizeof(*j));
    j->kind = BLOBZ_RECOMPRESS;
    j->member = herald_mem_strdup(p.member);
    j->snapkey = herald_mem_strdup(herald_buf_cstr(&key));
    j->version = p.version;
    j->level = s->zstd_level;
    herald_buf_append(&j->in, r->str, r->len);
    freeReplyObject(r);
    if (blob_job(s, j) < 0)
        rc = -1;
out:
    free(p.member);
    herald_buf_free(&key);
    return rc;
}

/* ---- the full blob after the announcement ------------------------------------------ */

/*
 * A version stored with a delta is announced (signer_store.lua: deltas, monitor entries,
 * PUBLISH) without its full blob, which costs the most (zstd of the whole records_json:
 * 10 of 18.5 ms per version at 10k records). The blob follows once the batch is stored
 * and its signed monitor written (signer_blobs_flush, called by consume.c), with a
 * compare-and-set on the version (signer_recompress.lua) and a second PUBLISH.
 *
 * What a read server finds meanwhile: the previous blob, which verifies for the previous
 * version; from it the deltas lead to the new one (the jump deltas lead from any of the
 * last 8 versions), and the second PUBLISH makes a server that loaded that older blob
 * (cold start, or a chain that fell back to the blob) look again. A blob never claims
 * a version it does not hold: it is only ever written whole, for the version it was
 * built from.
 *
 * Crash safety: the store script records the version in herald:snap:pending (member ->
 * V) and the blob's store removes it; while it is there, signer_read.lua treats the
 * collection as changed, so the next signer to look (an event, the periodic sweep, a
 * restart) signs it again, from a full read after a restart: stored with its blob.
 *
 * The pending entry keeps references to what was signed, not the records: they are the
 * copy's records_json, unchanged until the copy is published again. Under a backlog
 * (consume.c sets s->blob_defer_ms) a pending blob may wait that long: a newer version of
 * the collection supersedes it (with N versions pending only the newest blob is built,
 * as for the idle recompression), so an import does not compress the whole collection
 * for every version, between the versions an urgent edit waits for. The read servers
 * that follow use the deltas; one that loads the older blob meanwhile catches up by the
 * jump deltas, whose bases are the last 8 versions (the wait is bounded in time, not in
 * versions: see BLOB_DEFER_MS in consume.c). Otherwise, and once the wait is over, a
 * member's pending blob is stored before its copy changes (signer_publish_collection).
 * A superseded entry whose newer version was not stored with a later blob (stored whole,
 * refused, failed) is dropped at the flush: later_store finds the copy moved on.
 */
typedef struct later_blob {
    char *member, *bid, *cid, *snapkey;
    int64_t version;
    json_t *sigs, *coll, *bucket;
    int64_t since; /* monotonic ms: when the oldest version it stands for was announced */
    int large;     /* records_json of at least s->large_blob_bytes: LARGE_BLOB_DEFER_MS */
} later_blob;

/* The blob of a large collection waits LARGE_BLOB_DEFER_MS for a newer version to
 * supersede it even without a backlog. At 100k records (18.5 MB) each blob costs ~10 ms
 * of copying in the signer's loop and 20-35 ms of zstd on the compressor thread; with
 * edits one at a time, one every ~65 ms, that was a core's third taken from the read
 * servers building the next version on a small host, and the next edit waited for the
 * end of the previous blob. A read server starting meanwhile finds a blob at most that
 * old, and the jump deltas lead on from it, as under a backlog. Large: records_json of at
 * least signer_large_blob_bytes (4 MB; ~20k records of 200 bytes). */
#define LARGE_BLOB_DEFER_MS 500

/* How long 'b' may wait in all: s->blob_defer_ms (consume.c: under a backlog), and at
 * least LARGE_BLOB_DEFER_MS for a large collection's. */
static int64_t
later_wait_ms(const signer_ctx *s, const later_blob *b)
{
    int64_t defer_ms = s->blob_defer_ms;
    return b->large && defer_ms < LARGE_BLOB_DEFER_MS ? LARGE_BLOB_DEFER_MS : defer_ms;
}

static later_blob *g_later;
static size_t g_nlater, g_cap_later;

static void
later_free(later_blob *b)
{
    free(b->member);
    free(b->bid);
    free(b->cid);
    free(b->snapkey);
    json_decref(b->sigs);
    json_decref(b->coll);
    json_decref(b->bucket);
}

static void
blob_later(const char *member, const char *bid, const char *cid, const char *snapkey,
           int64_t version, json_t *sigs, const json_t *coll, const json_t *bucket, int large)
{
    int64_t since = herald_clock_mono_ms();
    for (size_t i = 0; i < g_nlater; i++)
        if (strcmp(g_later[i].member, member) == 0) {
            since = g_later[i].since; /* superseded: the newest blob only, as late as that */
            later_free(&g_later[i]);
            g_later[i] = g_later[--g_nlater];
            break;
        }
    if (g_nlater == g_cap_later) {
        g_cap_later = g_cap_later ? 2 * g_cap_later : 8;
        g_later = herald_mem_realloc(g_later, g_cap_later * sizeof(*g_later));
    }
    g_later[g_nlater++] = (later_blob){herald_mem_strdup(member),
                                       herald_mem_strdup(bid),
                                       herald_mem_strdup(cid),
                                       herald_mem_strdup(snapkey),
                                       version,
                                       json_incref(sigs),
                                       json_incref((json_t *)coll),
                                       json_incref((json_t *)bucket),
                                       since,
                                       large};
}

/* Stores a compressed blob of 'member' at 'version' with the compare-and-set script
 * (only if 'version' is still the stored one), announcing it again when 'channel' is set;
 * 'fast': compressed below the configured level (recompressed when idle). Returns 0, or
 * -1 on a Redis failure. */
static int
store_blob(signer_ctx *s, const char *snapkey, const char *member, int64_t version,
           const herald_buf *blob, const char *channel, int fast, double zstd_ms)
{
    double t1 = mono_ms();
    char vstr[24];
    snprintf(vstr, sizeof(vstr), "%lld", (long long)version);
    const char *argv[] = {
        "EVALSHA", NULL, "3",        snapkey, HERALD_KEY_MONITOR, SIGNER_KEY_BLOB_PENDING,
        member,    vstr, blob->data, channel};
    size_t lens[10];
    for (int i = 2; i < 10; i++)
        lens[i] = i == 8 ? blob->len : strlen(argv[i]);
    redisReply *r = herald_redis_script_eval(s->rc, s->sha_recompress, herald_lua_signer_recompress,
                                             10, argv, lens);
    int rc = r ? 0 : -1;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer) {
        if (channel[0])
            herald_info("blob %s version=%lld stored after its announcement: %zu bytes (zstd "
                        "%.1f ms, store %.1f)",
                        member, (long long)version, blob->len, zstd_ms, mono_ms() - t1);
        else
            herald_debug("%s version=%lld recompressed: %zu bytes", member, (long long)version,
                         blob->len);
        if (fast)
            recompress_note(member, version);
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        herald_error("store the blob of %s: %s", member, r->str);
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Stores the result of a compression job (a failed one is logged) and frees it.
 * Returns 0, or -1 on a Redis failure. */
static int
store_job(signer_ctx *s, signer_blobz_job *j)
{
    int rc = 0;
    if (j->ok) {
        int later = j->kind == BLOBZ_LATER;
        rc = store_blob(s, j->snapkey, j->member, j->version, &j->out,
                        later ? HERALD_CHANNEL_SNAPSHOTS : "", later && j->level != s->zstd_level,
                        j->zstd_ms);
    } else {
        herald_error("compress the blob of %s version %lld failed", j->member,
                     (long long)j->version);
    }
    signer_blobz_job_free(j);
    return rc;
}

/* Hands 'j' to the compressor thread (signer_blobs_collect stores it), or without one
 * compresses and stores it here. Returns 0, or -1 on a Redis failure. */
static int
blob_job(signer_ctx *s, signer_blobz_job *j)
{
    if (signer_blobz_running()) {
        signer_blobz_submit(j);
        return 0;
    }
    signer_blobz_run(j);
    return store_job(s, j);
}

/* Compresses and stores the blob of 'b' if its copy is still at that version (blob_job:
 * the job gets a copy of the content, which changes with the copy's next version).
 * Returns 0, or -1 on a Redis failure. */
static int
later_store(signer_ctx *s, const later_blob *b)
{
    cache_coll *c = cache_get(b->member);
    if (c->stored != b->version)
        return 0; /* the copy moved on or was dropped: herald:snap:pending stays, re-sign */
    int level = s->zstd_level > FAST_ZSTD_LEVEL ? FAST_ZSTD_LEVEL : s->zstd_level;
    herald_snapshot_parts parts = {.bucket = b->bid,
                                   .collection = b->cid,
                                   .timestamp = b->version,
                                   .metadata = b->coll,
                                   .bucket_data = b->bucket,
                                   .signatures = b->sigs,
                                   .records_json = c->records_json.data,
                                   .records_len = c->records_json.len,
                                   .tombstones_json = c->tombs_json.data,
                                   .tombstones_len = c->tombs_json.len,
                                   .tombstones_since = c->tombs_cutoff};
    signer_blobz_job *j = herald_mem_calloc(1, sizeof(*j));
    if (herald_snapshot_encode_raw(&j->in, &parts) < 0) {
        herald_error("encode %s: cannot serialize", b->member);
        signer_blobz_job_free(j);
        return 0; /* pending stays: the next look signs it again */
    }
    j->kind = BLOBZ_LATER;
    j->member = herald_mem_strdup(b->member);
    j->snapkey = herald_mem_strdup(b->snapkey);
    j->version = b->version;
    j->level = level;
    return blob_job(s, j);
}

int
signer_blobs_collect(signer_ctx *s)
{
    int rc = 0;
    signer_blobz_job *j;
    while ((j = signer_blobz_done()) != NULL) {
        if (rc == 0)
            rc = store_job(s, j);
        else
            signer_blobz_job_free(j);
    }
    return rc;
}

int
signer_blobs_flush(signer_ctx *s, int all)
{
    int rc = 0;
    int64_t now = herald_clock_mono_ms();
    size_t kept = 0;
    for (size_t i = 0; i < g_nlater; i++) {
        if (rc == 0 && !all && now - g_later[i].since < later_wait_ms(s, &g_later[i])) {
            g_later[kept++] = g_later[i];
            continue;
        }
        if (rc == 0 && later_store(s, &g_later[i]) < 0)
            rc = -1;
        later_free(&g_later[i]);
    }
    g_nlater = kept;
    return rc;
}

/* The version whose blob is waiting for 'member', or 0. */
static int64_t
later_version(const char *member)
{
    for (size_t i = 0; i < g_nlater; i++)
        if (strcmp(g_later[i].member, member) == 0)
            return g_later[i].version;
    return 0;
}

size_t
signer_blobs_waiting(void)
{
    return g_nlater;
}

int64_t
signer_blobs_due_in(const signer_ctx *s)
{
    int64_t now = herald_clock_mono_ms(), soonest = INT64_MAX;
    for (size_t i = 0; i < g_nlater; i++) {
        int64_t due = g_later[i].since + later_wait_ms(s, &g_later[i]) - now;
        soonest = due < soonest ? due : soonest;
    }
    return soonest < 0 ? 0 : soonest;
}

/* Before the copy of 'member' changes: stores its pending blob, if any, unless it may
 * still wait (later_wait_ms since 'since'), when the version about to be stored
 * supersedes it. A blob on the compressor thread is waited for and stored first: once
 * the next version is stored, the compare-and-set refuses it, and the collection's blob
 * would stay at an older version for as long as its versions kept coming (the thread
 * only overlaps the compression with the time until the next write). */
static int blob_flush_later(signer_ctx *s, const char *member);

static int
blob_flush_member(signer_ctx *s, const char *member)
{
    int rc = blob_flush_later(s, member);
    if (rc == 0 && signer_blobz_running()) {
        signer_blobz_wait_member(member, BLOBZ_LATER);
        rc = signer_blobs_collect(s);
    }
    return rc;
}

static int
blob_flush_later(signer_ctx *s, const char *member)
{
    for (size_t i = 0; i < g_nlater; i++)
        if (strcmp(g_later[i].member, member) == 0) {
            if (herald_clock_mono_ms() - g_later[i].since < later_wait_ms(s, &g_later[i]))
                return 0;
            later_blob b = g_later[i];
            g_later[i] = g_later[--g_nlater];
            int rc = later_store(s, &b);
            later_free(&b);
            return rc;
        }
    return 0;
}

typedef cache_idlm changed_id;

/* By id (byte order), then the newest change first (the largest tombstone time; a write,
 * -1, sorts last among equal ids but is only used when the id is live anyway). */
static int
changed_cmp(const void *a, const void *b)
{
    const changed_id *x = a, *y = b;
    int c = memcmp(x->id, y->id, x->len < y->len ? x->len : y->len);
    if (c)
        return c;
    if (x->len != y->len)
        return (x->len > y->len) - (x->len < y->len);
    return (x->lm < y->lm) - (x->lm > y->lm);
}

/* The ids the read reply 'rr' names (pointing into it), in '*n'. */
static changed_id *
reply_ids(const herald_read_reply *rr, size_t *n)
{
    size_t nr = rr->records->elements / 2, nt = rr->tombstones->elements / 2;
    changed_id *ids = herald_mem_calloc(nr + nt + 1, sizeof(*ids));
    *n = 0;
    for (size_t i = 0; i < nr; i++) {
        const redisReply *id = rr->records->element[2 * i];
        ids[(*n)++] = (changed_id){(char *)id->str, id->len, -1};
    }
    for (size_t i = 0; i < nt; i++) {
        const redisReply *id = rr->tombstones->element[2 * i];
        int64_t lm = 0;
        if (herald_schema_reply_i64(&lm, rr->tombstones->element[2 * i + 1]) < 0)
            lm = 0; /* apply_reply() refused such a reply before */
        ids[(*n)++] = (changed_id){(char *)id->str, id->len, lm};
    }
    return ids;
}

/*
 * The delta from version 'base' to the copy as it is now (include/herald/delta.h): every
 * id of 'ids' (n, any order, repeats allowed: all ids changed since 'base'), as its live
 * record, its tombstone, or (a tombstone already past the horizon) a tombstone with the
 * newest time 'ids' gives it, which the reader drops again with tombstones_since.
 * Returns 0 or -1.
 */
static int
build_delta(herald_buf *out, const cache_coll *c, const changed_id *in, size_t n, int64_t base,
            const herald_snapshot_parts *parts)
{
    changed_id *ids = herald_mem_calloc(n + 1, sizeof(*ids));
    herald_buf recs = HERALD_BUF_INIT, tombs = HERALD_BUF_INIT;
    memcpy(ids, in, n * sizeof(*ids));
    qsort(ids, n, sizeof(*ids), changed_cmp);
    herald_buf_putc(&recs, '[');
    herald_buf_putc(&tombs, '[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && ids[i - 1].len == ids[i].len &&
            memcmp(ids[i - 1].id, ids[i].id, ids[i].len) == 0)
            continue; /* the first of equal ids is the newest change */
        long at = cache_table_find(&c->live, ids[i].id, ids[i].len, NULL);
        if (at >= 0) {
            if (recs.len > 1)
                herald_buf_putc(&recs, ',');
            herald_buf_append(&recs, c->live.v[at]->json, c->live.v[at]->len);
            continue;
        }
        if (tombs.len > 1)
            herald_buf_putc(&tombs, ',');
        at = cache_table_find(&c->tombs, ids[i].id, ids[i].len, NULL);
        if (at >= 0) {
            herald_buf_append(&tombs, c->tombs.v[at]->json, c->tombs.v[at]->len);
        } else {
            cache_entry *e =
                cache_entry_tombstone(ids[i].id, ids[i].len, ids[i].lm < 0 ? 0 : ids[i].lm);
            herald_buf_append(&tombs, e->json, e->len);
            free(e);
        }
    }
    herald_buf_putc(&recs, ']');
    herald_buf_putc(&tombs, ']');
    herald_delta_parts d = {.bucket = parts->bucket,
                            .collection = parts->collection,
                            .base = base,
                            .timestamp = parts->timestamp,
                            .tombstones_since = parts->tombstones_since,
                            .metadata = parts->metadata,
                            .bucket_data = parts->bucket_data,
                            .signatures = parts->signatures,
                            .records_json = recs.data,
                            .records_len = recs.len,
                            .tombstones_json = tombs.data,
                            .tombstones_len = tombs.len};
    int rc = herald_delta_encode(out, &d);
    herald_buf_free(&recs);
    herald_buf_free(&tombs);
    free(ids);
    return rc;
}

/* ---- jump deltas ----------------------------------------------------------------- */

/* Deltas written per version beyond the one from the previous version: from each of the
 * last stored versions straight to the new one, while their bytes together stay below
 * JUMP_BUDGET (a bulk import changes many records per version; a read server further
 * behind than that loads the full blob). */
#define JUMP_BUDGET (512u << 10)

typedef struct delta_out {
    int64_t base;
    herald_buf key, data;
} delta_out;

/*
 * The deltas to store with version 'parts->timestamp' (docs/incremental.md): from 'base'
 * (the previous stored version, changed by 'cur', n ids) and, when the copy's history
 * reaches back, from each older stored version it remembers (the union of the changes
 * since), newest base first. Returns how many were built in 'out' (CACHE_HIST_MAX + 1
 * entries); 0 when there is no base.
 */
static size_t
build_deltas(delta_out *out, const cache_coll *c, const char *bid, const char *cid, int64_t base,
             const changed_id *cur, size_t n, const herald_snapshot_parts *parts)
{
    if (base <= 0 || base >= parts->timestamp)
        return 0;
    int chained = c->nhist > 0 && c->hist[c->nhist - 1].version == base;
    size_t cap = n + 1, nacc = n, nd = 0, total = 0;
    changed_id *acc = herald_mem_alloc(cap * sizeof(*acc));
    memcpy(acc, cur, n * sizeof(*acc));
    for (size_t k = 0; k < (chained ? c->nhist : 1); k++) {
        /* k = 0: from 'base'; k > 0: from hist[nhist - 1 - k], adding what changed after it. */
        if (k > 0) {
            const cache_hist *after = &c->hist[c->nhist - k];
            if (nacc + after->n > cap) {
                cap = 2 * (nacc + after->n);
                acc = herald_mem_realloc(acc, cap * sizeof(*acc));
            }
            memcpy(acc + nacc, after->ids, after->n * sizeof(*acc));
            nacc += after->n;
        }
        int64_t from = k ? c->hist[c->nhist - 1 - k].version : base;
        delta_out *d = &out[nd];
        herald_buf_init(&d->key);
        herald_buf_init(&d->data);
        d->base = from;
        if (build_delta(&d->data, c, acc, nacc, from, parts) < 0) {
            herald_warn("%s: delta from %lld cannot be encoded", c->member, (long long)from);
            herald_buf_free(&d->data);
            break;
        }
        if (k > 0 && total + d->data.len > JUMP_BUDGET) {
            herald_buf_free(&d->data);
            break;
        }
        total += d->data.len;
        herald_delta_key(&d->key, bid, cid, from);
        nd++;
    }
    free(acc);
    return nd;
}

/* Signs and stores the copy 'c' as version 'version'; with 'base' != 0, also the deltas
 * from version 'base' (what 'rr' changed) and from the older versions the copy's history
 * remembers (jump deltas). */
static enum signer_result
sign_and_store(signer_ctx *s, cache_coll *c, const char *bid, const char *cid, const char *snapkey,
               int64_t version, const json_t *bucket, const json_t *coll, const char *stamp,
               int64_t t0, const double tm[4], const char *kind, const signer_ack *ack, int *acked,
               const herald_read_reply *rr, int64_t base)
{
    enum signer_result res = SIGNER_ERROR;
    herald_buf blob = HERALD_BUF_INIT;
    delta_out deltas[CACHE_HIST_MAX + 1];
    size_t nd = 0, ncur = 0, dbytes = 0;
    changed_id *cur = reply_ids(rr, &ncur);
    redisReply *st = NULL;
    json_t *sigs = json_array();

    herald_head head = {bid, cid, version, t0 + s->lifetime_ms, (int64_t)c->live.n, {0}};
    memcpy(head.sha256, c->sha256, sizeof(head.sha256));
    for (size_t i = 0; i < s->nkeys; i++) {
        json_t *e = herald_snapshot_sign_entry(s->keys[i], &head);
        if (!e) {
            herald_error("%s: signing failed", c->member);
            goto done;
        }
        json_array_append_new(sigs, e);
    }

    herald_snapshot_parts parts = {.bucket = bid,
                                   .collection = cid,
                                   .timestamp = version,
                                   .metadata = coll,
                                   .bucket_data = bucket,
                                   .signatures = sigs,
                                   .records_json = c->records_json.data,
                                   .records_len = c->records_json.len,
                                   .tombstones_json = c->tombs_json.data,
                                   .tombstones_len = c->tombs_json.len,
                                   .tombstones_since = c->tombs_cutoff};
    double m_signed = mono_ms();
    nd = build_deltas(deltas, c, bid, cid, base, cur, ncur, &parts);
    double m_deltas = mono_ms();
    for (size_t i = 0; i < nd; i++)
        dbytes += deltas[i].data.len;
    /* With a delta the full blob follows the announcement (blob_later); without one
     * (a first store, after a restart or a lost compare-and-set) every read server needs
     * the blob, so it is stored with the version. */
    int later = nd > 0;
    int level = nd && s->zstd_level > FAST_ZSTD_LEVEL ? FAST_ZSTD_LEVEL : s->zstd_level;
    if (!later && herald_snapshot_encode(&blob, &parts, level) < 0) {
        herald_error("encode %s: compression failed", c->member);
        goto done;
    }
    char ttl[24], ndstr[24];
    snprintf(ttl, sizeof(ttl), "%d", HERALD_DELTA_TTL_MS);
    snprintf(ndstr, sizeof(ndstr), "%zu", nd);

    char vstr[24], estr[24], nkeys[24];
    snprintf(vstr, sizeof(vstr), "%lld", (long long)version);
    snprintf(estr, sizeof(estr), "%lld", (long long)head.expires);
    snprintf(nkeys, sizeof(nkeys), "%zu", 8 + nd);
    size_t nack = ack ? ack->n : 0, max = 23 + 2 * nd + nack;
    const char **sargv = herald_mem_alloc(max * sizeof(*sargv));
    size_t *slens = herald_mem_alloc(max * sizeof(*slens));
    int sargc = 0, blob_at, deltas_at;
    sargv[sargc++] = "EVALSHA";
    sargv[sargc++] = NULL;
    sargv[sargc++] = nkeys;
    sargv[sargc++] = snapkey;
    sargv[sargc++] = HERALD_KEY_MONITOR;
    sargv[sargc++] = HERALD_KEY_MONITOR_SRC;
    sargv[sargc++] = HERALD_KEY_MONITOR_EXPIRES;
    sargv[sargc++] = HERALD_KEY_CHANGES;
    sargv[sargc++] = HERALD_KEY_MONITOR_SHA;
    sargv[sargc++] = HERALD_KEY_MONITOR_GEN;
    sargv[sargc++] = SIGNER_KEY_BLOB_PENDING;
    for (size_t i = 0; i < nd; i++)
        sargv[sargc++] = herald_buf_cstr(&deltas[i].key);
    sargv[sargc++] = c->member;
    sargv[sargc++] = vstr;
    blob_at = sargc;
    sargv[sargc++] = later ? "" : blob.data; /* "": the blob follows (blob_later) */
    sargv[sargc++] = HERALD_CHANNEL_SNAPSHOTS;
    sargv[sargc++] = stamp;
    sargv[sargc++] = estr;
    sargv[sargc++] = HERALD_GROUP_SIGNERS;
    sargv[sargc++] = head.sha256;
    sargv[sargc++] = ndstr;
    sargv[sargc++] = ttl;
    deltas_at = sargc;
    for (size_t i = 0; i < nd; i++)
        sargv[sargc++] = deltas[i].data.data;
    for (size_t i = 0; i < nack; i++)
        sargv[sargc++] = ack->ids[i];
    for (int i = 2; i < sargc; i++)
        slens[i] = i == blob_at                                ? blob.len
                   : i >= deltas_at && i < deltas_at + (int)nd ? deltas[i - deltas_at].data.len
                                                               : strlen(sargv[i]);
    double m_encoded = mono_ms();
    st =
        herald_redis_script_eval(s->rc, s->sha_store, herald_lua_signer_store, sargc, sargv, slens);
    free(sargv);
    free(slens);
    if (!st || st->type != REDIS_REPLY_INTEGER) {
        herald_error("store %s: %s", c->member,
                     st && st->type == REDIS_REPLY_ERROR ? st->str : s->rc->errstr);
        goto done;
    }
    *acked = nack > 0;
    if (st->integer) {
        double end = mono_ms();
        /* read: the script (and a cold copy's chunked fill); apply: canonicalise the
         * changed records into the copy; hash: records_json + SHA-256; sign: the heads;
         * deltas: encode them; zstd: the full blob; store: the store script, which also
         * announces (PUBLISH). */
        herald_info("signed %s version=%lld records=%zu bytes=%zu blob=%zu delta=%zu deltas=%zu in "
                    "%.1f ms (%s read %.1f, apply %.1f, hash %.1f, sign %.1f, deltas %.1f, zstd "
                    "%.1f, store %.1f)",
                    c->member, (long long)version, c->live.n, c->records_json.len, blob.len,
                    nd ? deltas[0].data.len : 0, nd, end - tm[0], kind, tm[1] - tm[0],
                    tm[2] - tm[1], tm[3] - tm[2], m_signed - tm[3], m_deltas - m_signed,
                    m_encoded - m_deltas, end - m_encoded);
        (void)dbytes;
        res = SIGNER_STORED;
        c->stored = version;
        /* The history grows only along an unbroken chain of stored versions; the first
         * entry's ids are never used (they lead to it from an unknown version), and
         * after a full read they would be every record. */
        if (nd && c->nhist && c->hist[c->nhist - 1].version == base) {
            cache_hist_push(c, version, cur, ncur);
        } else {
            cache_hist_clear(c);
            cache_hist_push(c, version, NULL, 0);
        }
        if (later)
            blob_later(c->member, bid, cid, snapkey, version, sigs, coll, bucket,
                       (int64_t)c->records_json.len >= s->large_blob_bytes);
        else if (level != s->zstd_level)
            recompress_note(c->member, version);
    } else {
        herald_info("%s version=%lld not stored: a newer one is published", c->member,
                    (long long)version);
        res = SIGNER_UNCHANGED;
    }

done:
    if (res != SIGNER_STORED)
        cache_hist_clear(c);
    if (st)
        freeReplyObject(st);
    json_decref(sigs);
    herald_buf_free(&blob);
    for (size_t i = 0; i < nd; i++) {
        herald_buf_free(&deltas[i].key);
        herald_buf_free(&deltas[i].data);
    }
    free(cur);
    return res;
}

/* One attempt. Sets '*again' when the copy turned out stale after a delta (it has been
 * dropped: the next attempt reads the full state). */
/* Runs signer_read.lua for bid/cid ('member' = "bid/cid"): the changes since 'since' (0:
 * the full state), tombstones newer than t0 - horizon. Returns the reply to free, or NULL
 * when the connection failed. */
static redisReply *
read_state(signer_ctx *s, const char *bid, const char *cid, const char *member, int64_t since,
           int64_t t0, int force)
{
    herald_buf k[NKEYS_READ], uri = HERALD_BUF_INIT;
    char horizon[24], since_s[24];
    for (int i = 0; i < NKEYS_READ; i++)
        herald_buf_init(&k[i]);
    herald_buf_printf(&uri, "/buckets/%s/collections/%s", bid, cid);
    herald_schema_list_key(&k[0], HERALD_LIST_OBJS, herald_buf_cstr(&uri), "record");
    herald_schema_list_key(&k[1], HERALD_LIST_TS, herald_buf_cstr(&uri), "record");
    herald_schema_list_key(&k[2], HERALD_LIST_TOMB, herald_buf_cstr(&uri), "record");
    herald_buf_puts(&k[3], HERALD_KEY_MONITOR);
    herald_schema_list_key(&k[9], HERALD_LIST_MOD, herald_buf_cstr(&uri), "record");
    herald_buf_reset(&uri);
    herald_buf_printf(&uri, "/buckets/%s", bid);
    herald_schema_list_key(&k[4], HERALD_LIST_OBJS, herald_buf_cstr(&uri), "collection");
    herald_schema_list_key(&k[5], HERALD_LIST_OBJS, "", "bucket");
    herald_schema_perm_key(&k[6], herald_buf_cstr(&uri));
    herald_buf_printf(&uri, "/collections/%s", cid);
    herald_schema_perm_key(&k[7], herald_buf_cstr(&uri));
    herald_buf_puts(&k[8], HERALD_KEY_MONITOR_SRC);
    herald_buf_puts(&k[10], SIGNER_KEY_BLOB_PENDING);
    snprintf(horizon, sizeof(horizon), "%lld", (long long)(t0 - s->horizon_ms));
    snprintf(since_s, sizeof(since_s), "%lld", (long long)since);

    const char *argv[3 + NKEYS_READ + 8] = {"EVALSHA", NULL, "11"};
    size_t lens[3 + NKEYS_READ + 8];
    char held[24];
    snprintf(held, sizeof(held), "%lld", (long long)later_version(member));
    int argc = 3;
    for (int i = 0; i < NKEYS_READ; i++)
        argv[argc++] = herald_buf_cstr(&k[i]);
    argv[argc++] = bid;
    argv[argc++] = cid;
    argv[argc++] = member;
    argv[argc++] = horizon;
    argv[argc++] = force ? "1" : "0";
    argv[argc++] = since_s;
    argv[argc++] = s->keyset;
    argv[argc++] = held;
    for (int i = 2; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r =
        herald_redis_script_eval(s->rc, s->sha_read, herald_lua_signer_read, argc, argv, lens);
    for (int i = 0; i < NKEYS_READ; i++)
        herald_buf_free(&k[i]);
    herald_buf_free(&uri);
    return r;
}

/* Applies what the read returned to the copy 'c' and drops the tombstones past the
 * horizon. Returns 0, or -1 when the copy cannot be trusted (the caller drops it) with
 * '*res' set: SIGNER_INVALID for data that cannot be signed, SIGNER_ERROR for a record
 * count that disagrees with Redis, when '*again' says whether a full read should follow. */
static int
update_copy(signer_ctx *s, cache_coll *c, const herald_read_reply *rr, int64_t t0,
            enum signer_result *res, int *again)
{
    if (apply_reply(c, rr->full, rr->records, rr->tombstones) < 0) {
        *res = SIGNER_INVALID;
        return -1;
    }
    if ((int64_t)c->live.n != rr->live) {
        /* See cache.c: after a delta this means records vanished without tombstones
         * (the collection was deleted and created again). After a full read it cannot
         * happen (one script); refuse rather than sign something unexplained. */
        herald_warn("%s: copy has %zu records, Redis %lld after a %s read", c->member, c->live.n,
                    (long long)rr->live, rr->full ? "full" : "delta");
        *res = SIGNER_ERROR;
        *again = !rr->full;
        return -1;
    }
    c->applied = rr->version;
    /* The read above dropped tombstones at or below t0 - horizon; the cut-off never
     * moves back (a clock stepping back must not claim tombstones we dropped). */
    if (t0 - s->horizon_ms > c->tombs_cutoff)
        c->tombs_cutoff = t0 - s->horizon_ms;
    if (cache_table_prune(&c->tombs, c->tombs_cutoff))
        c->tombs_dirty = 1;
    return 0;
}

/* ---- cold start in bounded chunks ---------------------------------------------------- */

#define PREFILL_CHUNK 1000 /* HSCAN COUNT: each call returns about this many entries */

/* Appends one HSCAN chunk of 'key' from 'cursor' to 'out' (the reply, to free); updates
 * 'cursor'. Returns 0 or -1. */
static int
scan_chunk(signer_ctx *s, const herald_buf *key, char cursor[32], redisReply **out)
{
    redisReply *r =
        redisCommand(s->rc, "HSCAN %b %s COUNT %d", key->data, key->len, cursor, PREFILL_CHUNK);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= 32 ||
        r->element[1]->type != REDIS_REPLY_ARRAY || r->element[1]->elements % 2) {
        herald_error("HSCAN %s: %s", key->data,
                     r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        if (r)
            freeReplyObject(r);
        return -1;
    }
    memcpy(cursor, r->element[0]->str, r->element[0]->len);
    cursor[r->element[0]->len] = '\0';
    *out = r;
    return 0;
}

/*
 * A new copy of a collection, filled without one long Lua script: the records timestamp
 * T0 first, then HSCAN of the records and of the tombstones in chunks of ~PREFILL_CHUNK
 * (Redis serves other clients between them), applied as if read at T0. What the scan
 * saw of writes made during it does not matter: every such write has last_modified >
 * T0, so the signer_read.lua delta since T0 that follows (atomic, and small) brings each
 * of those ids to its state at V, and its live-count check catches anything else
 * (then the copy is dropped and read again). Returns 0 (also when there is nothing to
 * prefill), or -1 on a Redis failure or a record that cannot be signed.
 */
static int
prefill_copy(signer_ctx *s, cache_coll *c, const char *bid, const char *cid, int64_t t0)
{
    herald_buf uri = HERALD_BUF_INIT, objs = HERALD_BUF_INIT, ts = HERALD_BUF_INIT,
               tomb = HERALD_BUF_INIT;
    cache_change *lch = NULL, *tch = NULL;
    char **ids = NULL;
    size_t nl = 0, nt = 0, nids = 0, cap = 0, tcap = 0, icap = 0;
    int rc = -1;
    int64_t T0 = 0;
    herald_buf_printf(&uri, "/buckets/%s/collections/%s", bid, cid);
    herald_schema_list_key(&objs, HERALD_LIST_OBJS, uri.data, "record");
    herald_schema_list_key(&ts, HERALD_LIST_TS, uri.data, "record");
    herald_schema_list_key(&tomb, HERALD_LIST_TOMB, uri.data, "record");
    redisReply *r = redisCommand(s->rc, "GET %b", ts.data, ts.len);
    if (!r)
        goto out;
    if (r->type != REDIS_REPLY_STRING || herald_schema_reply_i64(&T0, r) < 0 || T0 <= 0) {
        freeReplyObject(r);
        rc = 0; /* nothing written yet: the script's read is small */
        goto out;
    }
    freeReplyObject(r);
    for (int pass = 0; pass < 2; pass++) {
        char cursor[32] = "0";
        do {
            if (scan_chunk(s, pass ? &tomb : &objs, cursor, &r) < 0)
                goto out;
            const redisReply *kv = r->element[1];
            for (size_t i = 0; i + 1 < kv->elements; i += 2) {
                const redisReply *id = kv->element[i], *val = kv->element[i + 1];
                int64_t lm;
                if (id->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING ||
                    !herald_schema_valid_id(id->str, id->len))
                    continue; /* not a record of ours: the delta read decides */
                cache_entry *e;
                if (pass == 0) {
                    e = record_entry(c->member, id, val, NULL);
                    if (!e) {
                        freeReplyObject(r);
                        goto out;
                    }
                } else {
                    if (herald_schema_reply_i64(&lm, val) < 0 || lm <= t0 - s->horizon_ms)
                        continue;
                    e = cache_entry_tombstone(id->str, id->len, lm);
                }
                if (nids == icap) {
                    icap = icap ? 2 * icap : 1024;
                    ids = herald_mem_realloc(ids, icap * sizeof(*ids));
                }
                ids[nids] = herald_mem_alloc(id->len + 1);
                memcpy(ids[nids], id->str, id->len + 1);
                cache_change **v = pass ? &tch : &lch;
                size_t *n = pass ? &nt : &nl, *cp = pass ? &tcap : &cap;
                if (*n == *cp) {
                    *cp = *cp ? 2 * *cp : 1024;
                    *v = herald_mem_realloc(*v, *cp * sizeof(**v));
                }
                (*v)[(*n)++] = (cache_change){ids[nids], id->len, e};
                nids++;
            }
            freeReplyObject(r);
        } while (strcmp(cursor, "0") != 0);
    }
    cache_table_apply(&c->live, lch, nl);
    cache_table_apply(&c->tombs, tch, nt);
    nl = nt = 0; /* owned by the tables */
    c->records_dirty = c->tombs_dirty = 1;
    c->applied = T0;
    rc = 0;
out:
    free_changes(lch, nl);
    free_changes(tch, nt);
    free(lch);
    free(tch);
    for (size_t i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    herald_buf_free(&uri);
    herald_buf_free(&objs);
    herald_buf_free(&ts);
    herald_buf_free(&tomb);
    return rc;
}

static enum signer_result
publish_once(signer_ctx *s, const char *bid, const char *cid, int force, const signer_ack *ack,
             int *acked, int *again)
{
    enum signer_result res = SIGNER_ERROR;
    herald_buf member = HERALD_BUF_INIT, snapkey = HERALD_BUF_INIT;
    json_t *bucket = NULL, *coll = NULL;
    int64_t t0 = herald_clock_wall_ms();
    double tm[4]; /* start, read, applied, hashed: for the log line */
    tm[0] = mono_ms();

    *again = 0;
    herald_schema_monitor_member(&member, bid, cid);
    herald_schema_snap_key(&snapkey, bid, cid);
    cache_coll *c = cache_get(herald_buf_cstr(&member));
    redisReply *r = NULL;
    /* A new copy (cache_get starts it at applied = -1; testing for 0 here, as before,
     * never ran the chunked fill, so a cold start read everything in one script). */
    if (c->applied < 0 && c->live.n == 0 && c->tombs.n == 0 &&
        prefill_copy(s, c, bid, cid, t0) < 0) {
        cache_drop(herald_buf_cstr(&member));
        goto done;
    }
    r = read_state(s, bid, cid, herald_buf_cstr(&member), c->applied, t0, force);
    tm[1] = mono_ms();
    if (!r || r->type == REDIS_REPLY_ERROR) {
        herald_error("read %s: %s", c->member,
                     r && r->type == REDIS_REPLY_ERROR ? r->str : s->rc->errstr);
        goto done;
    }
    herald_read_reply rr;
    if (herald_schema_read_reply(&rr, r) < 0) {
        herald_error("read %s: unexpected reply", c->member);
        goto done;
    }
    if (rr.status == HERALD_READ_GONE || rr.status == HERALD_READ_UNPUBLISHED) {
        cache_drop(herald_buf_cstr(&member));
        res = remove_collection(s, herald_buf_cstr(&member), herald_buf_cstr(&snapkey));
        goto done;
    }
    if (rr.status == HERALD_READ_UNCHANGED) {
        res = SIGNER_UNCHANGED;
        goto done;
    }
    bucket = parse_stored(rr.bucket_json, rr.bucket_len, "bucket");
    coll = parse_stored(rr.collection_json, rr.collection_len, "collection");
    if (!bucket || !coll) {
        cache_drop(herald_buf_cstr(&member));
        res = SIGNER_INVALID;
        goto done;
    }
    /* Whatever happens below, the changes read now are applied to the copy; only a
     * successful store makes them the base of the next delta. */
    int64_t base = rr.full ? 0 : c->stored;
    c->stored = 0;
    if (update_copy(s, c, &rr, t0, &res, again) < 0) {
        cache_drop(herald_buf_cstr(&member));
        goto done;
    }
    tm[2] = mono_ms();
    cache_coll_refresh(c);
    tm[3] = mono_ms();
    res = sign_and_store(s, c, bid, cid, herald_buf_cstr(&snapkey), rr.version, bucket, coll,
                         rr.stamp, t0, tm, rr.full ? "full" : "delta", ack, acked, &rr, base);
done:
    if (r)
        freeReplyObject(r);
    json_decref(bucket);
    json_decref(coll);
    herald_buf_free(&member);
    herald_buf_free(&snapkey);
    return res;
}

enum signer_result
signer_publish_collection(signer_ctx *s, const char *bid, const char *cid, int force,
                          const signer_ack *ack, int *acked)
{
    int again = 0, dummy = 0;
    if (!acked)
        acked = &dummy;
    *acked = 0;
    herald_buf member = HERALD_BUF_INIT;
    herald_schema_monitor_member(&member, bid, cid);
    int flushed = blob_flush_member(s, herald_buf_cstr(&member));
    herald_buf_free(&member);
    if (flushed < 0)
        return SIGNER_ERROR;
    enum signer_result res = publish_once(s, bid, cid, force, ack, acked, &again);
    if (again)
        res = publish_once(s, bid, cid, force, ack, acked, &again);
    return res;
}

void
signer_forget_all(void)
{
    for (size_t i = 0; i < g_nlater; i++)
        later_free(&g_later[i]); /* herald:snap:pending has them signed again */
    g_nlater = 0;
    cache_drop_all();
    while (g_npending)
        free(g_pending[--g_npending].member);
    free(g_pending);
    g_pending = NULL;
    g_cap_pending = 0;
}
