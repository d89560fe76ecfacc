/*
 * bulk_fixture -- many signed collections written to Redis at once, exactly as the signer
 * stores them, for the read server's cold-start benchmark and tests (issue 19).
 *
 * server_fixture writes one collection per process; a cold start at Remote Settings'
 * scale needs 350 or 3,500 collections in seconds, and churn of thousands of edits over
 * them. This tool keeps every collection's state in memory (per record: the version of
 * its last edit) and regenerates a collection's records deterministically from that
 * state, so an edit costs one canonicalization, one signature and one zstd encode of
 * that collection, and Redis sees pipelined SET + ZADD (+ PUBLISH) batches.
 *
 *   bulk_fixture load  --redis URL --key FILE --collections N [--records R]
 *                      [--record-bytes S] [--kind random|onecrl] [--onecrl FILE]
 *                      [--tamper I] [--notify]
 *   bulk_fixture churn --redis URL --key FILE --collections N [--records R]
 *                      [--record-bytes S] [--kind ...] [--onecrl FILE] --edits E
 *
 * Collections are bench/c00000, bench/c00001, ... Records are r0000 ... with
 * last_modified base + j; each collection's version is its newest record's. 'random'
 * payloads are random letters (compress poorly, as issue 19's data set); 'onecrl'
 * records are OneCRL's records (tests' onecrl.json) taken in turn, with their ids
 * replaced (compress well). 'churn' starts from the state 'load' wrote (same options)
 * and publishes E edits, one record each, round-robin over the collections, each a new
 * version announced on herald:snapshots; it prints the final version of each
 * collection as "bid/cid V" lines. '--tamper I' stores collection I with one byte of a
 * record changed after signing (its signature then fails).
 *
 * Exit status 0 on success; errors on stderr.
 */
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/clock.h"
#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/mem.h"
#include "herald/redis.h"
#include "herald/schema.h"
#include "herald/snapshot.h"
#include "test_fixture.h"

#define PIPELINE 64

typedef struct opts {
    long n, records, record_bytes, edits, tamper;
    int onecrl, notify;
    const json_t *crl; /* onecrl.json's records */
} opts;

static int64_t g_base;

/* Deterministic letters for (collection c, record j, generation g). */
static void
random_letters(char *p, size_t n, unsigned long long seed)
{
    unsigned long long x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (char)('a' + x % 26);
    }
    p[n] = '\0';
}

static json_t *
make_record(const opts *o, long c, long j, int64_t lm)
{
    char id[32];
    snprintf(id, sizeof(id), "r%04ld", j);
    json_t *r;
    if (o->onecrl) {
        size_t nc = json_array_size(o->crl);
        r = json_deep_copy(json_array_get(o->crl, (size_t)(c * o->records + j) % nc));
        /* an edit changes the record: enabled flips with the generation */
        json_object_set_new(r, "enabled", json_boolean(lm & 1));
    } else {
        r = json_object();
        size_t pad = o->record_bytes > 60 ? (size_t)o->record_bytes - 60 : 1;
        char *p = herald_mem_alloc(pad + 1);
        random_letters(p, pad, (unsigned long long)(c * 1000003 + j) ^ (unsigned long long)lm);
        json_object_set_new(r, "payload", json_string(p));
        free(p);
    }
    json_object_set_new(r, "id", json_string(id));
    json_object_set_new(r, "last_modified", json_integer(lm));
    return r;
}

/* Appends the SET + ZADD (+ PUBLISH) of collection 'c' with per-record versions 'lm'
 * to the pipeline. Returns the number of commands appended, or -1. */
static int
append_collection(redisContext *rc, const opts *o, const herald_signkey *key, long c,
                  const int64_t *lm, int tamper, int notify)
{
    char cid[32];
    snprintf(cid, sizeof(cid), "c%05ld", c);
    json_t *recs = json_array();
    int64_t v = 0;
    for (long j = 0; j < o->records; j++) {
        json_array_append_new(recs, make_record(o, c, j, lm[j]));
        if (lm[j] > v)
            v = lm[j];
    }
    herald_buf rj = HERALD_BUF_INIT, blob = HERALD_BUF_INIT, k = HERALD_BUF_INIT,
               m = HERALD_BUF_INIT;
    json_t *sigs = json_array(), *meta = json_object(), *tombs = json_array();
    json_t *bdata = json_pack("{s:s,s:I}", "id", "bench", "last_modified", (json_int_t)g_base);
    int rc_ = -1;
    if (fixture_records_json(&rj, recs) < 0)
        goto done;
    herald_head head;
    fixture_head(&head, "bench", cid, v, herald_clock_wall_ms() + 48LL * 3600 * 1000, rj.data,
                 rj.len, o->records);
    json_array_append_new(sigs, herald_snapshot_sign_entry(key, &head));
    if (tamper) /* a letter (inside a string: still valid JSON) changed after signing */
        for (size_t i = rj.len / 2; i < rj.len; i++)
            if (rj.data[i] >= 'c' && rj.data[i] <= 'z') {
                rj.data[i] = 'b';
                break;
            }
    herald_snapshot_parts parts = {.bucket = "bench",
                                   .collection = cid,
                                   .timestamp = v,
                                   .metadata = meta,
                                   .bucket_data = bdata,
                                   .signatures = sigs,
                                   .records_json = rj.data,
                                   .records_len = rj.len,
                                   .tombstones = tombs};
    if (herald_snapshot_encode(&blob, &parts, 3) < 0)
        goto done;
    herald_schema_snap_key(&k, "bench", cid);
    herald_schema_monitor_member(&m, "bench", cid);
    redisAppendCommand(rc, "SET %b %b", k.data, k.len, blob.data, blob.len);
    redisAppendCommand(rc, "ZADD %s %lld %b", HERALD_KEY_MONITOR, (long long)v, m.data, m.len);
    rc_ = 2;
    if (notify) {
        herald_buf_printf(&m, " %lld", (long long)v);
        redisAppendCommand(rc, "PUBLISH %s %b", HERALD_CHANNEL_SNAPSHOTS, m.data, m.len);
        rc_ = 3;
    }
done:
    json_decref(recs);
    json_decref(sigs);
    json_decref(meta);
    json_decref(tombs);
    json_decref(bdata);
    herald_buf_free(&rj);
    herald_buf_free(&blob);
    herald_buf_free(&k);
    herald_buf_free(&m);
    return rc_;
}

static int
drain(redisContext *rc, long n)
{
    for (long i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK || !r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "bulk_fixture: redis: %s\n", r ? r->str : rc->errstr);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"redis", required_argument, NULL, 'r'},
        {"key", required_argument, NULL, 'k'},
        {"collections", required_argument, NULL, 'n'},
        {"records", required_argument, NULL, 'R'},
        {"record-bytes", required_argument, NULL, 's'},
        {"kind", required_argument, NULL, 'K'},
        {"onecrl", required_argument, NULL, 'o'},
        {"edits", required_argument, NULL, 'e'},
        {"tamper", required_argument, NULL, 't'},
        {"notify", no_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    opts o = {.n = 0, .records = 80, .record_bytes = 1200, .tamper = -1};
    const char *url_s = "redis://127.0.0.1:6379/0", *keyfile = NULL, *crlfile = NULL;
    int opt;
    if (argc < 2)
        goto usage;
    const char *cmd = argv[1];
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (opt) {
        case 'r':
            url_s = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 'n':
            o.n = atol(optarg);
            break;
        case 'R':
            o.records = atol(optarg);
            break;
        case 's':
            o.record_bytes = atol(optarg);
            break;
        case 'K':
            o.onecrl = !strcmp(optarg, "onecrl");
            break;
        case 'o':
            crlfile = optarg;
            break;
        case 'e':
            o.edits = atol(optarg);
            break;
        case 't':
            o.tamper = atol(optarg);
            break;
        case 'N':
            o.notify = 1;
            break;
        default:
            goto usage;
        }
    }
    if (!keyfile || o.n <= 0 || o.records <= 0 || (o.onecrl && !crlfile) ||
        (strcmp(cmd, "load") && strcmp(cmd, "churn")))
        goto usage;
    if (herald_crypto_init() < 0)
        return 1;
    char err[256];
    herald_signkey *key = herald_crypto_signkey_load(keyfile, err, sizeof(err));
    if (!key) {
        fprintf(stderr, "bulk_fixture: %s: %s\n", keyfile, err);
        return 1;
    }
    json_t *crl = NULL;
    if (o.onecrl) {
        json_error_t je;
        crl = json_load_file(crlfile, 0, &je);
        o.crl = json_object_get(crl, "data");
        if (!json_array_size(o.crl)) {
            fprintf(stderr, "bulk_fixture: %s: no records\n", crlfile);
            return 1;
        }
    }
    herald_redis_url url;
    if (herald_redis_parse_url(&url, url_s) < 0)
        goto usage;
    redisContext *rc = herald_redis_connect(&url, 5000, err, sizeof(err));
    if (!rc) {
        fprintf(stderr, "bulk_fixture: %s\n", err);
        return 1;
    }
    /* A fixed base, so 'churn' regenerates exactly what 'load' wrote. */
    g_base = 1700000000000LL;
    int64_t *lm = herald_mem_calloc((size_t)(o.n * o.records), sizeof(int64_t));
    for (long c = 0; c < o.n; c++)
        for (long j = 0; j < o.records; j++)
            lm[c * o.records + j] = g_base + j;
    long pending = 0;
    int status = 1;
    if (!strcmp(cmd, "load")) {
        for (long c = 0; c < o.n; c++) {
            int k = append_collection(rc, &o, key, c, lm + c * o.records, c == o.tamper, o.notify);
            if (k < 0)
                goto out;
            pending += k;
            if (pending >= PIPELINE * 2) {
                if (drain(rc, pending) < 0)
                    goto out;
                pending = 0;
            }
        }
    } else {
        int64_t *ver = herald_mem_calloc((size_t)o.n, sizeof(int64_t));
        for (long c = 0; c < o.n; c++)
            ver[c] = g_base + o.records - 1;
        for (long e = 0; e < o.edits; e++) {
            long c = e % o.n, j = (e / o.n) % o.records;
            ver[c]++;
            lm[c * o.records + j] = ver[c];
            int k = append_collection(rc, &o, key, c, lm + c * o.records, 0, 1);
            if (k < 0) {
                free(ver);
                goto out;
            }
            pending += k;
            if (pending >= PIPELINE) {
                if (drain(rc, pending) < 0) {
                    free(ver);
                    goto out;
                }
                pending = 0;
            }
        }
        for (long c = 0; c < o.n; c++)
            printf("bench/c%05ld %lld\n", c, (long long)ver[c]);
        free(ver);
    }
    if (drain(rc, pending) < 0)
        goto out;
    status = 0;
out:
    free(lm);
    redisFree(rc);
    json_decref(crl);
    herald_crypto_signkey_free(key);
    return status;
usage:
    fprintf(stderr, "usage: bulk_fixture load|churn --redis URL --key FILE --collections N "
                    "[--records R] [--record-bytes S] [--kind random|onecrl] [--onecrl FILE] "
                    "[--edits E] [--tamper I] [--notify]\n");
    return 2;
}
