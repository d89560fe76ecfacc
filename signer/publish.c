/*
 * publish -- one collection: read a consistent state, sign it, store it, announce it.
 *
 * The state and the version V come from one Lua script (lib/lua/signer_read.lua), so the
 * snapshot is never torn across concurrent writes and V is above every record in it.
 * The snapshot is stored by another script with compare-and-set on V
 * (signer_store.lua): a slower signer can never replace a newer snapshot. Nothing here
 * acknowledges stream events; the caller does that only after this returns STORED,
 * UNCHANGED or REMOVED, so a crash at any point leaves the event pending and the work
 * is redone on restart.
 *
 * Records are re-canonicalized (parsed and dumped with JCS) rather than trusted as
 * stored: what is signed must be exactly what a client recomputes, even if something
 * other than the publisher wrote to Redis.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herald/jcs.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "herald/schema.h"
#include "herald/snapshot.h"
#include "signer.h"

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
load_one(redisContext *rc, const char *script, char out[41])
{
    redisReply *r = redisCommand(rc, "SCRIPT LOAD %s", script);
    int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok)
        memcpy(out, r->str, 41);
    else
        herald_error("SCRIPT LOAD failed: %s",
                     r && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

int
signer_load_scripts(signer_ctx *s)
{
    if (load_one(s->rc, herald_lua_signer_read, s->sha_read) < 0 ||
        load_one(s->rc, herald_lua_signer_store, s->sha_store) < 0 ||
        load_one(s->rc, herald_lua_signer_remove, s->sha_remove) < 0)
        return -1;
    return 0;
}

/* EVALSHA with 'nkeys' keys then args; reloads the scripts once on NOSCRIPT (Redis was
 * restarted or flushed its script cache). */
static redisReply *
evalsha(signer_ctx *s, const char *sha, int argc, const char **argv, const size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        argv[1] = sha;
        redisReply *r = redisCommandArgv(s->rc, argc, argv, lens);
        if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 &&
            attempt == 0) {
            freeReplyObject(r);
            if (signer_load_scripts(s) < 0)
                return NULL;
            continue;
        }
        return r;
    }
    return NULL;
}

struct rec {
    const char *id;
    size_t idlen;
    const char *json;
    size_t len;
};

static int
rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    size_t n = x->idlen < y->idlen ? x->idlen : y->idlen;
    int c = memcmp(x->id, y->id, n);
    if (c)
        return c;
    return x->idlen < y->idlen ? -1 : x->idlen > y->idlen;
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

static enum signer_result
remove_collection(signer_ctx *s, const char *member, const char *snapkey)
{
    const char *argv[] = {"EVALSHA",
                          NULL,
                          "4",
                          snapkey,
                          HERALD_KEY_MONITOR,
                          HERALD_KEY_MONITOR_SRC,
                          HERALD_KEY_MONITOR_EXPIRES,
                          member,
                          HERALD_CHANNEL_SNAPSHOTS};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = i == 1 ? 40 : strlen(argv[i]);
    redisReply *r = evalsha(s, s->sha_remove, 9, argv, lens);
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

enum signer_result
signer_publish_collection(signer_ctx *s, const char *bid, const char *cid, int force)
{
    enum signer_result res = SIGNER_ERROR;
    herald_buf k[9], member = HERALD_BUF_INIT, snapkey = HERALD_BUF_INIT;
    herald_buf records = HERALD_BUF_INIT, blob = HERALD_BUF_INIT, uri = HERALD_BUF_INIT;
    redisReply *r = NULL, *st = NULL;
    struct rec *recs = NULL;
    json_t *bucket = NULL, *coll = NULL, *tombs = NULL, *sigs = NULL;
    char horizon[24], *stamp = NULL;
    int64_t t0 = now_ms();

    for (int i = 0; i < 9; i++)
        herald_buf_init(&k[i]);
    herald_buf_printf(&uri, "/buckets/%s/collections/%s", bid, cid);
    herald_schema_list_key(&k[0], HERALD_LIST_OBJS, herald_buf_cstr(&uri), "record");
    herald_schema_list_key(&k[1], HERALD_LIST_TS, herald_buf_cstr(&uri), "record");
    herald_schema_list_key(&k[2], HERALD_LIST_TOMB, herald_buf_cstr(&uri), "record");
    herald_buf_puts(&k[3], HERALD_KEY_MONITOR);
    herald_buf_reset(&uri);
    herald_buf_printf(&uri, "/buckets/%s", bid);
    herald_schema_list_key(&k[4], HERALD_LIST_OBJS, herald_buf_cstr(&uri), "collection");
    herald_schema_list_key(&k[5], HERALD_LIST_OBJS, "", "bucket");
    herald_schema_perm_key(&k[6], herald_buf_cstr(&uri));
    herald_buf_printf(&uri, "/collections/%s", cid);
    herald_schema_perm_key(&k[7], herald_buf_cstr(&uri));
    herald_buf_puts(&k[8], HERALD_KEY_MONITOR_SRC);
    herald_schema_monitor_member(&member, bid, cid);
    herald_schema_snap_key(&snapkey, bid, cid);
    snprintf(horizon, sizeof(horizon), "%lld", (long long)(t0 - s->horizon_ms));

    const char *argv[20] = {"EVALSHA", NULL, "9"};
    size_t lens[20];
    int argc = 3;
    for (int i = 0; i < 9; i++)
        argv[argc++] = herald_buf_cstr(&k[i]);
    argv[argc++] = bid;
    argv[argc++] = cid;
    argv[argc++] = herald_buf_cstr(&member);
    argv[argc++] = horizon;
    argv[argc++] = force ? "1" : "0";
    for (int i = 0; i < argc; i++)
        lens[i] = i == 1 ? 40 : strlen(argv[i]);
    r = evalsha(s, s->sha_read, argc, argv, lens);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        herald_error("read %s: %s", herald_buf_cstr(&member),
                     r && r->type == REDIS_REPLY_ERROR ? r->str : s->rc->errstr);
        goto done;
    }
    const char *status = r->element[0]->str;
    if (strcmp(status, "gone") == 0 || strcmp(status, "unpublished") == 0) {
        res = remove_collection(s, herald_buf_cstr(&member), herald_buf_cstr(&snapkey));
        goto done;
    }
    if (strcmp(status, "unchanged") == 0) {
        res = SIGNER_UNCHANGED;
        goto done;
    }
    if (strcmp(status, "ok") != 0 || r->elements != 7) {
        herald_error("read %s: unexpected reply", herald_buf_cstr(&member));
        goto done;
    }
    int64_t version = strtoll(r->element[1]->str, NULL, 10);
    bucket = parse_stored(r->element[2]->str, r->element[2]->len, "bucket");
    coll = parse_stored(r->element[3]->str, r->element[3]->len, "collection");
    if (!bucket || !coll)
        goto done;
    stamp = r->element[6]->str;

    /* Records: sort by id (byte order), canonicalize, join. */
    redisReply *flat = r->element[4];
    size_t n = flat->elements / 2;
    recs = herald_mem_calloc(n ? n : 1, sizeof(*recs));
    for (size_t i = 0; i < n; i++) {
        recs[i].id = flat->element[2 * i]->str;
        recs[i].idlen = flat->element[2 * i]->len;
        recs[i].json = flat->element[2 * i + 1]->str;
        recs[i].len = flat->element[2 * i + 1]->len;
    }
    qsort(recs, n, sizeof(*recs), rec_cmp);
    herald_buf_putc(&records, '[');
    for (size_t i = 0; i < n; i++) {
        json_t *v = parse_stored(recs[i].json, recs[i].len, "record");
        if (!v)
            goto done;
        if (i)
            herald_buf_putc(&records, ',');
        int rc = herald_jcs_dump(&records, v);
        json_decref(v);
        if (rc < 0) {
            herald_error("record %.*s cannot be canonicalized", (int)recs[i].idlen, recs[i].id);
            goto done;
        }
    }
    herald_buf_putc(&records, ']');

    tombs = json_array();
    redisReply *tflat = r->element[5];
    for (size_t i = 0; i + 1 < tflat->elements; i += 2) {
        json_t *t =
            json_pack("{s:b, s:s, s:I}", "deleted", 1, "id", tflat->element[i]->str,
                      "last_modified", (json_int_t)strtoll(tflat->element[i + 1]->str, NULL, 10));
        json_array_append_new(tombs, t);
    }

    herald_head head = {bid, cid, version, t0 + s->lifetime_ms, (int64_t)n, {0}};
    herald_crypto_sha256_hex(head.sha256, records.data, records.len);
    sigs = json_array();
    for (size_t i = 0; i < s->nkeys; i++)
        json_array_append_new(sigs, herald_snapshot_sign_entry(s->keys[i], &head));

    herald_snapshot_parts parts = {bid,  cid,          version,     coll, bucket,
                                   sigs, records.data, records.len, tombs};
    if (herald_snapshot_encode(&blob, &parts, s->zstd_level) < 0) {
        herald_error("encode %s: compression failed", herald_buf_cstr(&member));
        goto done;
    }

    char vstr[24], estr[24];
    snprintf(vstr, sizeof(vstr), "%lld", (long long)version);
    snprintf(estr, sizeof(estr), "%lld", (long long)head.expires);
    const char *sargv[] = {"EVALSHA",
                           NULL,
                           "4",
                           herald_buf_cstr(&snapkey),
                           HERALD_KEY_MONITOR,
                           HERALD_KEY_MONITOR_SRC,
                           HERALD_KEY_MONITOR_EXPIRES,
                           herald_buf_cstr(&member),
                           vstr,
                           blob.data,
                           HERALD_CHANNEL_SNAPSHOTS,
                           stamp,
                           estr};
    size_t slens[13];
    for (int i = 0; i < 13; i++)
        slens[i] = i == 1 ? 40 : i == 9 ? blob.len : strlen(sargv[i]);
    st = evalsha(s, s->sha_store, 13, sargv, slens);
    if (!st || st->type != REDIS_REPLY_INTEGER) {
        herald_error("store %s: %s", herald_buf_cstr(&member),
                     st && st->type == REDIS_REPLY_ERROR ? st->str : s->rc->errstr);
        goto done;
    }
    if (st->integer) {
        herald_info("signed %s version=%lld records=%zu bytes=%zu blob=%zu in %lld ms",
                    herald_buf_cstr(&member), (long long)version, n, records.len, blob.len,
                    (long long)(now_ms() - t0));
        res = SIGNER_STORED;
    } else {
        herald_info("%s version=%lld not stored: a newer one is published",
                    herald_buf_cstr(&member), (long long)version);
        res = SIGNER_UNCHANGED;
    }

done:
    if (st)
        freeReplyObject(st);
    if (r)
        freeReplyObject(r);
    free(recs);
    json_decref(bucket);
    json_decref(coll);
    json_decref(tombs);
    json_decref(sigs);
    for (int i = 0; i < 9; i++)
        herald_buf_free(&k[i]);
    herald_buf_free(&member);
    herald_buf_free(&snapkey);
    herald_buf_free(&records);
    herald_buf_free(&blob);
    herald_buf_free(&uri);
    return res;
}
