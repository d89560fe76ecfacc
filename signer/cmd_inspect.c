/*
 * inspect -- "herald-signer inspect": print the snapshots stored in Redis, as the read
 * servers load them, one JSON line each.
 *
 *   herald-signer inspect [--redis URL] [--public-key KEY ...] [--follow] [B/C ...]
 *
 * Without --follow: every published collection (herald:monitor), or the ones named.
 * With --follow: subscribes to herald:snapshots and prints each snapshot as soon as it is
 * announced ("B/C V"), fetched on a second connection; a removal ("B/C 0") prints
 * {"bucket","collection","removed":true}. Runs until killed or Redis goes away. A
 * snapshot replaced before it could be fetched is printed in its newer version (its own
 * "timestamp" says which), so a consumer must not assume it sees every version.
 *
 * The signed monitor (herald/monitor.h) is printed after the snapshots when no
 * collection is named, or alone when "monitor" is named, and with --follow on each
 * "monitor <M>" announcement (unless only collections are named), as
 * {"kind":"monitor","timestamp":M,"expires":E,"collections":N,"entries":[...],
 * "signatures":[...],"gen","verified" (with --public-key: true, or the reason; expiry
 * IS checked here, since a monitor is short-lived)} or {"kind":"monitor","missing":true}.
 *
 * Each snapshot line: {"bucket","collection","timestamp","announced" (--follow: the V of the
 * message), "blob_follows" (--follow: true when V, or a newer version, was stored and announced
 * before its full blob, which is announced again once stored; the blob printed may then
 * be an older one),
 * "expires", "monitor" (the version herald:monitor holds), "metadata",
 * "signatures", "records", "tombstones", "blob_bytes", "verified" (with --public-key:
 * true, or the reason it failed; expiry not checked)}. Used by operators to see what is
 * published, and by tests to check every snapshot against Redis.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/clock.h"
#include "herald/mem.h"
#include "herald/monitor.h"
#include "herald/redis.h"
#include "herald/schema.h"
#include "herald/snapshot.h"

#define MAX_KEYS 16

typedef struct inspect_args {
    herald_pubkey keys[MAX_KEYS];
    size_t nkeys;
} inspect_args;

static void
usage(FILE *f)
{
    fprintf(f, "usage: herald-signer inspect [--redis URL] [--public-key KEY ...] [--follow] "
               "[BUCKET/COLLECTION ...]\n");
}

static void print_json_line(const json_t *out);

/* Prints one snapshot line for 'member'; returns 0, or -1 on a Redis failure. */
static int
print_one(redisContext *rc, const inspect_args *a, const char *member, long long announced)
{
    /* One MULTI: the blob, the monitor's version and herald:snap:pending at one instant. */
    redisAppendCommand(rc, "MULTI");
    redisAppendCommand(rc, "GET herald:snap:%s", member);
    redisAppendCommand(rc, "ZSCORE %s %s", HERALD_KEY_MONITOR, member);
    redisAppendCommand(rc, "HGET herald:snap:pending %s", member);
    redisAppendCommand(rc, "EXEC");
    redisReply *x = NULL;
    int ok = 1;
    for (int i = 0; i < 5 && ok; i++) {
        redisReply *q = NULL;
        if (redisGetReply(rc, (void **)&q) != REDIS_OK || !q)
            ok = 0;
        else if (i == 4)
            x = q;
        else
            freeReplyObject(q);
    }
    if (!ok || !x || x->type != REDIS_REPLY_ARRAY || x->elements != 3) {
        fprintf(stderr, "herald-signer inspect: redis: %s\n", rc->err ? rc->errstr : "MULTI");
        if (x)
            freeReplyObject(x);
        return -1;
    }
    const redisReply *r = x->element[0], *m = x->element[1], *p = x->element[2];
    json_t *out = NULL;
    const char *slash = strchr(member, '/');
    if (r->type != REDIS_REPLY_STRING) {
        out = json_pack("{s:s%, s:s, s:b}", "bucket", member, (size_t)(slash ? slash - member : 0),
                        "collection", slash ? slash + 1 : "", "missing", 1);
    } else {
        char err[256];
        herald_snapshot *s = herald_snapshot_decode(r->str, (size_t)r->len, err, sizeof(err));
        if (!s) {
            out = json_pack("{s:s, s:s}", "member", member, "error", err);
        } else {
            out = json_pack(
                "{s:s, s:s, s:I, s:I, s:O, s:O, s:O, s:O, s:I}", "bucket",
                herald_snapshot_bucket(s), "collection", herald_snapshot_collection(s), "timestamp",
                (json_int_t)herald_snapshot_timestamp(s), "expires",
                (json_int_t)herald_snapshot_expires(s), "metadata", herald_snapshot_metadata(s),
                "signatures", herald_snapshot_signatures(s), "records", herald_snapshot_records(s),
                "tombstones", herald_snapshot_tombstones(s), "blob_bytes", (json_int_t)r->len);
            if (herald_snapshot_tombstones_since(s) >= 0)
                json_object_set_new(out, "tombstones_since",
                                    json_integer(herald_snapshot_tombstones_since(s)));
            if (a->nkeys) {
                if (herald_snapshot_verify_decoded(s, 0, a->keys, a->nkeys, err, sizeof(err)) == 0)
                    json_object_set_new(out, "verified", json_true());
                else
                    json_object_set_new(out, "verified", json_string(err));
            }
            herald_snapshot_free(s);
        }
    }
    if (announced >= 0)
        json_object_set_new(out, "announced", json_integer(announced));
    /* A blob at least as new as the announced version follows (the signer stores a
     * version with deltas first: docs/incremental.md; with two signers a newer version
     * may have superseded it already), announced again once stored. */
    if (announced >= 0 && p->type == REDIS_REPLY_STRING && strtoll(p->str, NULL, 10) >= announced)
        json_object_set_new(out, "blob_follows", json_true());
    json_object_set_new(
        out, "monitor",
        json_integer(m->type == REDIS_REPLY_STRING ? strtoll(m->str, NULL, 10) : 0));
    print_json_line(out);
    json_decref(out);
    freeReplyObject(x);
    return 0;
}

static void
print_json_line(const json_t *out)
{
    herald_buf line = HERALD_BUF_INIT;
    if (herald_jcs_dump(&line, out) == 0) {
        herald_buf_putc(&line, '\n');
        fwrite(line.data, 1, line.len, stdout);
        fflush(stdout);
    }
    herald_buf_free(&line);
}

/* Prints the signed monitor line; returns 0, or -1 on a Redis failure. */
static int
print_monitor(redisContext *rc, const inspect_args *a)
{
    redisReply *r = redisCommand(rc, "HMGET %s body gen", HERALD_KEY_MONITOR_SIGNED);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        fprintf(stderr, "herald-signer inspect: redis: %s\n", rc->errstr);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    json_t *out = json_pack("{s:s}", "kind", "monitor");
    const redisReply *b = r->element[0];
    char err[256];
    json_t *body = b->type == REDIS_REPLY_STRING
                       ? herald_jcs_parse(b->str, (size_t)b->len, 0, 0, err, sizeof(err))
                       : NULL;
    if (b->type != REDIS_REPLY_STRING) {
        json_object_set_new(out, "missing", json_true());
    } else if (!body) {
        json_object_set_new(out, "error", json_string(err));
    } else {
        json_t *sigs = json_object_get(body, "signatures");
        herald_monitor_head h;
        if (herald_monitor_head_parse(&h, json_object_get(json_array_get(sigs, 0), "head"), err,
                                      sizeof(err)) == 0) {
            json_object_set_new(out, "timestamp", json_integer(h.timestamp));
            json_object_set_new(out, "expires", json_integer(h.expires));
            json_object_set_new(out, "collections", json_integer(h.collections));
        }
        json_object_set(out, "entries", json_object_get(body, "entries"));
        json_object_set(out, "signatures", sigs);
        if (r->element[1]->type == REDIS_REPLY_STRING)
            json_object_set_new(out, "gen", json_integer(strtoll(r->element[1]->str, NULL, 10)));
        if (a->nkeys) {
            enum herald_monitor_status st = herald_monitor_verify(
                NULL, json_object_get(body, "entries"), sigs, -1, herald_clock_wall_ms(), 0,
                a->keys, a->nkeys, err, sizeof(err));
            json_object_set_new(out, "verified",
                                st == HERALD_MONITOR_OK ? json_true() : json_string(err));
        }
    }
    print_json_line(out);
    json_decref(out);
    json_decref(body);
    freeReplyObject(r);
    return 0;
}

static int
follow(redisContext *sub, redisContext *rc, const inspect_args *a, char **only, int nonly)
{
    redisReply *r = redisCommand(sub, "SUBSCRIBE %s", HERALD_CHANNEL_SNAPSHOTS);
    if (!r) {
        fprintf(stderr, "herald-signer inspect: redis: %s\n", sub->errstr);
        return 1;
    }
    freeReplyObject(r);
    for (;;) {
        redisReply *msg = NULL;
        if (redisGetReply(sub, (void **)&msg) != REDIS_OK || !msg) {
            fprintf(stderr, "herald-signer inspect: redis: %s\n", sub->errstr);
            return 1;
        }
        if (msg->type == REDIS_REPLY_ARRAY && msg->elements == 3 &&
            msg->element[2]->type == REDIS_REPLY_STRING) {
            char member[600];
            long long v = -1;
            const char *text = msg->element[2]->str;
            const char *sp = strrchr(text, ' ');
            if (sp && (size_t)(sp - text) < sizeof(member)) {
                memcpy(member, text, (size_t)(sp - text));
                member[sp - text] = '\0';
                v = strtoll(sp + 1, NULL, 10);
            }
            int wanted = nonly == 0;
            for (int i = 0; i < nonly && !wanted; i++)
                wanted = strcmp(only[i], member) == 0;
            if (sp && wanted && strcmp(member, "monitor") == 0) {
                if (print_monitor(rc, a) < 0) {
                    freeReplyObject(msg);
                    return 1;
                }
            } else if (sp && wanted) {
                if (v == 0) {
                    const char *slash = strchr(member, '/');
                    printf("{\"bucket\":\"%.*s\",\"collection\":\"%s\",\"removed\":true}\n",
                           (int)(slash ? slash - member : 0), member, slash ? slash + 1 : "");
                    fflush(stdout);
                } else if (print_one(rc, a, member, v) < 0) {
                    freeReplyObject(msg);
                    return 1;
                }
            }
        }
        freeReplyObject(msg);
    }
}

int
herald_signer_cmd_inspect(int argc, char **argv)
{
    const char *url = getenv("HERALD_REDIS_URL");
    int do_follow = 0, rc = 1;
    inspect_args a;
    memset(&a, 0, sizeof(a));
    static const struct option opts[] = {{"redis", required_argument, NULL, 'r'},
                                         {"public-key", required_argument, NULL, 'k'},
                                         {"follow", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            url = optarg;
            break;
        case 'k':
            if (a.nkeys == MAX_KEYS || herald_crypto_pubkey_parse(&a.keys[a.nkeys], optarg) < 0) {
                fprintf(stderr, "herald-signer inspect: bad or too many --public-key\n");
                return 2;
            }
            a.nkeys++;
            break;
        case 'f':
            do_follow = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (herald_crypto_init() < 0)
        return 1;
    herald_redis_url u;
    char err[256];
    if (herald_redis_parse_url(&u, url ? url : "redis://127.0.0.1:6379/0") < 0) {
        fprintf(stderr, "herald-signer inspect: bad Redis URL\n");
        return 2;
    }
    redisContext *r = herald_redis_connect(&u, 10000, err, sizeof(err));
    redisContext *sub = NULL;
    redisReply *list = NULL;
    if (!r) {
        fprintf(stderr, "herald-signer inspect: %s\n", err);
        goto out;
    }
    if (do_follow) {
        sub = herald_redis_connect(&u, 10000, err, sizeof(err));
        if (!sub) {
            fprintf(stderr, "herald-signer inspect: %s\n", err);
            goto out;
        }
        /* Messages may be far apart: no read timeout on the subscription. */
        struct timeval none = {0, 0};
        redisSetTimeout(sub, none);
        rc = follow(sub, r, &a, argv + optind, argc - optind);
        goto out;
    }
    if (optind < argc) {
        for (int i = optind; i < argc; i++)
            if ((strcmp(argv[i], "monitor") == 0 ? print_monitor(r, &a)
                                                 : print_one(r, &a, argv[i], -1)) < 0)
                goto out;
        rc = 0;
        goto out;
    }
    list = redisCommand(r, "ZRANGE %s 0 -1", HERALD_KEY_MONITOR);
    if (!list || list->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "herald-signer inspect: redis: %s\n", r->errstr);
        goto out;
    }
    for (size_t i = 0; i < list->elements; i++)
        if (print_one(r, &a, list->element[i]->str, -1) < 0)
            goto out;
    if (print_monitor(r, &a) < 0)
        goto out;
    rc = 0;

out:
    if (list)
        freeReplyObject(list);
    if (r)
        redisFree(r);
    if (sub)
        redisFree(sub);
    return rc;
}
