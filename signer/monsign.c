/*
 * monsign -- the signed monitor (herald/monitor.h): one signature over every published
 * collection's version V and head sha256 H, re-signed whenever an entry changes and when
 * half of its lifetime (monitor_signature_lifetime_seconds) has passed.
 *
 *   MULTI: GET herald:monitor:gen, ZRANGE herald:monitor WITHSCORES,
 *          HGETALL herald:monitor:sha, HMGET herald:monitor:signed timestamp expires gen
 *        |   (one consistent read)
 *        v
 *   nothing to do when the stored monitor was built at this generation and more than
 *   half of its lifetime remains
 *        |
 *        v
 *   entries (B, C, V, H), M = max(now, stored M + 1, every V), E = now + lifetime,
 *   one signature per key, body JCS {"entries","signatures"}
 *        |
 *        v
 *   signer_monitor.lua: refuses when the generation moved (a snapshot was stored or
 *   removed meanwhile: rebuild) or a monitor with M' >= M is stored; else stores and
 *   PUBLISHes "monitor <M>" on herald:snapshots
 *
 * The generation counter is incremented by signer_store.lua and signer_remove.lua in the
 * same script as the change, so a stored monitor always names exactly the entries of
 * herald:monitor at some instant, and a slower signer can never store one built from
 * older entries with a newer M. H comes from herald:monitor:sha, written with V by the
 * same store; a collection stored before that hash existed (an upgrade) has its H read
 * from its blob's signatures instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/clock.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "herald/monitor.h"
#include "herald/redis.h"
#include "herald/schema.h"
#include "herald/snapshot.h"
#include "signer.h"

#define MAX_ATTEMPTS 4

/* H of 'member' at version 'v' from its stored blob: the head.sha256 of a signature
 * whose head.timestamp is v. Returns 0 or -1. */
static int
sha_from_blob(signer_ctx *s, const char *member, int64_t v, char out[65])
{
    herald_buf key = HERALD_BUF_INIT;
    const char *slash = strchr(member, '/');
    herald_buf b = HERALD_BUF_INIT, c = HERALD_BUF_INIT;
    herald_buf_append(&b, member, (size_t)(slash - member));
    herald_buf_puts(&c, slash + 1);
    herald_schema_snap_key(&key, herald_buf_cstr(&b), herald_buf_cstr(&c));
    herald_buf_free(&b);
    herald_buf_free(&c);
    redisReply *r = redisCommand(s->rc, "GET %b", key.data, key.len);
    herald_buf_free(&key);
    int rc = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        char err[200];
        herald_snapshot *snap = herald_snapshot_decode(r->str, r->len, err, sizeof(err));
        size_t i;
        const json_t *e;
        if (snap)
            json_array_foreach(herald_snapshot_signatures(snap), i, e)
            {
                herald_head h;
                if (herald_snapshot_head_parse(&h, json_object_get(e, "head"), NULL, 0) == 0 &&
                    h.timestamp == v) {
                    memcpy(out, h.sha256, 65);
                    rc = 0;
                    break;
                }
            }
        herald_snapshot_free(snap);
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

static int64_t
reply_i64(const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    if (r && r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    return 0;
}

/* One attempt. Returns 1 when done (stored, or nothing to do), 0 to try again (the
 * entries moved, or a newer monitor appeared), -1 on a Redis failure. */
static int
attempt(signer_ctx *s, int64_t now)
{
    redisReply *rep[6] = {0};
    herald_monitor_entry *entries = NULL;
    char(*shas)[65] = NULL;
    json_t *sigs = json_array(), *shamap = json_object();
    herald_buf body = HERALD_BUF_INIT;
    redisReply *st = NULL;
    int rc = -1;
    size_t n = 0;

    redisAppendCommand(s->rc, "MULTI");
    redisAppendCommand(s->rc, "GET %s", HERALD_KEY_MONITOR_GEN);
    redisAppendCommand(s->rc, "ZRANGE %s 0 -1 WITHSCORES", HERALD_KEY_MONITOR);
    redisAppendCommand(s->rc, "HGETALL %s", HERALD_KEY_MONITOR_SHA);
    redisAppendCommand(s->rc, "HMGET %s timestamp expires gen", HERALD_KEY_MONITOR_SIGNED);
    redisAppendCommand(s->rc, "EXEC");
    for (int i = 0; i < 6; i++)
        if (redisGetReply(s->rc, (void **)&rep[i]) != REDIS_OK || !rep[i] ||
            rep[i]->type == REDIS_REPLY_ERROR) {
            herald_error("monitor read: %s",
                         rep[i] && rep[i]->type == REDIS_REPLY_ERROR ? rep[i]->str : s->rc->errstr);
            goto out;
        }
    redisReply *x = rep[5];
    if (x->type != REDIS_REPLY_ARRAY || x->elements != 4 ||
        x->element[1]->type != REDIS_REPLY_ARRAY || x->element[1]->elements % 2 ||
        x->element[2]->type != REDIS_REPLY_ARRAY || x->element[3]->type != REDIS_REPLY_ARRAY ||
        x->element[3]->elements != 3) {
        herald_error("monitor read: unexpected reply");
        goto out;
    }
    const redisReply *gen = x->element[0], *zr = x->element[1], *hs = x->element[2],
                     *cur = x->element[3];
    char genstr[32];
    snprintf(genstr, sizeof(genstr), "%s", gen->type == REDIS_REPLY_STRING ? gen->str : "0");
    int64_t cur_m = reply_i64(cur->element[0]), cur_e = reply_i64(cur->element[1]);
    int have = cur->element[2]->type == REDIS_REPLY_STRING;
    if (have && strcmp(cur->element[2]->str, genstr) == 0 &&
        cur_e - now > s->monitor_lifetime_ms / 2) {
        s->monitor_check_at = cur_e - s->monitor_lifetime_ms / 2;
        rc = 1;
        goto out;
    }

    /* H by member: a hash table, not a scan per entry (thousands of collections). */
    for (size_t j = 0; j + 1 < hs->elements; j += 2)
        if (hs->element[j]->type == REDIS_REPLY_STRING &&
            hs->element[j + 1]->type == REDIS_REPLY_STRING)
            json_object_set_new(shamap, hs->element[j]->str, json_string(hs->element[j + 1]->str));
    n = zr->elements / 2;
    entries = herald_mem_calloc(n + 1, sizeof(*entries));
    shas = herald_mem_calloc(n + 1, sizeof(*shas));
    int64_t m = now > cur_m + 1 ? now : cur_m + 1;
    for (size_t i = 0; i < n; i++) {
        const char *member = zr->element[2 * i]->str;
        const char *slash = strchr(member, '/');
        int64_t v = reply_i64(zr->element[2 * i + 1]);
        if (!slash) {
            herald_error("monitor: malformed member '%s'", member);
            rc = 1; /* nothing a retry fixes; the next check tries again */
            s->monitor_check_at = now + 10000;
            goto out;
        }
        if (v > m)
            m = v;
        const char *h = json_string_value(json_object_get(shamap, member));
        if (h && strlen(h) == 64) {
            memcpy(shas[i], h, 65);
        } else if (sha_from_blob(s, member, v, shas[i]) < 0) {
            herald_warn("monitor: no head sha256 for %s at %lld yet; retrying", member,
                        (long long)v);
            rc = 0;
            goto out;
        }
        /* Split "B/C" in place: the reply is ours until freed below. */
        zr->element[2 * i]->str[slash - member] = '\0';
        entries[i].bucket = member;
        entries[i].collection = slash + 1;
        entries[i].last_modified = v;
        memcpy(entries[i].sha256, shas[i], 65);
    }

    herald_monitor_head head;
    herald_monitor_build(&head, entries, n, m, now + s->monitor_lifetime_ms);
    for (size_t i = 0; i < s->nkeys; i++) {
        json_t *e = herald_monitor_sign_entry(s->keys[i], &head);
        if (!e) {
            herald_error("monitor: signing failed");
            goto out;
        }
        json_array_append_new(sigs, e);
    }
    if (herald_monitor_encode(&body, entries, n, sigs) < 0) {
        herald_error("monitor: encoding failed");
        goto out;
    }
    char ms[24], es[24];
    snprintf(ms, sizeof(ms), "%lld", (long long)head.timestamp);
    snprintf(es, sizeof(es), "%lld", (long long)head.expires);
    const char *argv[] = {
        "EVALSHA", NULL,   "2",       HERALD_KEY_MONITOR_SIGNED, HERALD_KEY_MONITOR_GEN, ms,
        es,        genstr, body.data, HERALD_CHANNEL_SNAPSHOTS};
    size_t lens[10];
    for (int i = 2; i < 10; i++)
        lens[i] = i == 8 ? body.len : strlen(argv[i]);
    st = herald_redis_script_eval(s->rc, s->sha_monitor, herald_lua_signer_monitor, 10, argv, lens);
    if (!st || st->type != REDIS_REPLY_INTEGER) {
        herald_error("monitor store: %s",
                     st && st->type == REDIS_REPLY_ERROR ? st->str : s->rc->errstr);
        goto out;
    }
    if (st->integer == 1) {
        herald_info("signed monitor timestamp=%lld collections=%zu expires=%lld", (long long)m, n,
                    (long long)head.expires);
        s->monitor_check_at = head.expires - s->monitor_lifetime_ms / 2;
        rc = 1;
    } else {
        rc = 0; /* entries moved or a newer one was stored: look again */
    }

out:
    for (int i = 0; i < 6; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    if (st)
        freeReplyObject(st);
    free(entries);
    free(shas);
    json_decref(sigs);
    json_decref(shamap);
    herald_buf_free(&body);
    return rc;
}

int
signer_monitor_refresh(signer_ctx *s, int now_flag)
{
    int64_t now = herald_clock_wall_ms();
    if (!now_flag && now < s->monitor_check_at)
        return 0;
    for (int i = 0; i < MAX_ATTEMPTS; i++) {
        int r = attempt(s, herald_clock_wall_ms());
        if (r < 0)
            return -1;
        if (r > 0)
            return 0;
    }
    s->monitor_check_at = now + 1000; /* busy: the loop looks again in a second */
    return 0;
}
