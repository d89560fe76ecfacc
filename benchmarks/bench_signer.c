/*
 * bench_signer -- edit-to-signed-and-stored latency of a running herald-signer, and the
 * zstd ratio and time per level on a real collection.
 *
 *   bench_signer --redis URL [--data onecrl.json] [--sizes 100,1000,10000,100000]
 *                [--edits N] [--bucket B] [--zstd-only]
 *
 * Needs (starts nothing itself): a Redis at URL and a herald-signer consuming it. The
 * wrapper benchmarks/bench_signer.sh starts both on a free port, in a temporary
 * directory, with the same Redis settings as production (append-only file, fsync on
 * every write), and runs this.
 *
 * Latency, per collection size N: a published collection "B/cN" is filled with N
 * records built from the OneCRL records (--data; copied with new ids beyond its 1,643),
 * written with the publisher's own Lua script (herald_lua_put_object, same KEYS/ARGV
 * as publisher/), so the signer sees exactly what a real write produces. Once the signer
 * has published the whole collection, each of --edits edits changes one random record
 * and is timed from just before the write is sent to Redis until the signer announces
 * (PUBLISH on herald:snapshots) a stored snapshot whose version covers it. Edits are
 * sequential, so each one is a whole round: stream -> read delta -> sign -> zstd ->
 * compare-and-set store -> announce. Reported: p50, p99, max, and the blob size.
 *
 * zstd: the collection's records_json exactly as signed (the OneCRL records sorted by id,
 * canonical JSON) is compressed at levels 1, 3, 6, 9 and 19; reported: ratio, best time
 * of several runs, throughput, and decompression time.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/mem.h"
#include "herald/redis.h"
#include "herald/schema.h"
#include "test_fixture.h"

/* A last_modified no real record has: the canonical body is split around it into the
 * prefix and suffix put_object.lua expects. */
#define LM_SENTINEL "4503599627370495"

static void
die(const char *what, const char *why)
{
    fprintf(stderr, "bench_signer: %s: %s\n", what, why);
    exit(1);
}

static json_t *
load_records(const char *path)
{
    char err[200];
    size_t len;
    char *text = fixture_read_file(path, &len);
    if (!text)
        die(path, "cannot open");
    json_t *doc = herald_jcs_parse(text, len, 0, 0, err, sizeof(err));
    free(text);
    if (!doc)
        die(path, err);
    json_t *data = json_incref(json_object_get(doc, "data"));
    json_decref(doc);
    if (!json_is_array(data) || json_array_size(data) == 0)
        die(path, "no \"data\" array");
    return data;
}

/* ---- zstd per level ---------------------------------------------------------------- */

static void
bench_zstd(const json_t *records)
{
    size_t n = json_array_size(records);
    herald_buf rj = HERALD_BUF_INIT;
    if (fixture_records_json(&rj, records) < 0)
        die("records", "cannot canonicalize");

    char sha[65];
    double t0 = fixture_mono_ms();
    for (int i = 0; i < 20; i++)
        herald_crypto_sha256_hex(sha, rj.data, rj.len);
    double sha_ms = (fixture_mono_ms() - t0) / 20;

    printf("\nzstd on records_json of %zu OneCRL records (%zu bytes canonical; SHA-256 %.2f ms, "
           "%.0f MB/s)\n",
           n, rj.len, sha_ms, (double)rj.len / 1e3 / sha_ms);
    printf("%-6s %10s %7s %10s %10s %12s\n", "level", "bytes", "ratio", "comp ms", "comp MB/s",
           "decomp ms");
    static const int levels[] = {1, 3, 6, 9, 19};
    size_t bound = ZSTD_compressBound(rj.len);
    char *out = herald_mem_alloc(bound), *back = herald_mem_alloc(rj.len);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        double best = 1e18, dbest = 1e18;
        size_t z = 0;
        /* Best of several runs (at least 3, about 300 ms in all): the least disturbed. */
        double start = fixture_mono_ms();
        for (int run = 0; run < 3 || (fixture_mono_ms() - start < 300 && run < 200); run++) {
            double a = fixture_mono_ms();
            z = ZSTD_compressCCtx(cc, out, bound, rj.data, rj.len, levels[l]);
            double b = fixture_mono_ms();
            if (ZSTD_isError(z))
                die("zstd", ZSTD_getErrorName(z));
            size_t d = ZSTD_decompressDCtx(dc, back, rj.len, out, z);
            double c = fixture_mono_ms();
            if (ZSTD_isError(d) || d != rj.len || memcmp(back, rj.data, d) != 0)
                die("zstd", "round trip failed");
            best = b - a < best ? b - a : best;
            dbest = c - b < dbest ? c - b : dbest;
        }
        printf("%-6d %10zu %7.2f %10.2f %10.0f %12.2f\n", levels[l], z, (double)rj.len / (double)z,
               best, (double)rj.len / 1e3 / best, dbest);
    }
    ZSTD_freeCCtx(cc);
    ZSTD_freeDCtx(dc);
    free(out);
    free(back);
    herald_buf_free(&rj);
}

/* ---- writes through put_object.lua ---------------------------------------------------- */

typedef struct writer {
    redisContext *rc;
    char sha[41];
    const char *bucket;
} writer;

/* Splits the canonical form of 'obj' (whose last_modified is LM_SENTINEL) into the two
 * halves put_object.lua joins around the timestamp. */
static void
split_body(herald_buf *prefix, herald_buf *suffix, json_t *obj)
{
    herald_buf b = HERALD_BUF_INIT;
    json_object_set_new(obj, "last_modified", json_integer(4503599627370495LL));
    if (herald_jcs_dump(&b, obj) < 0)
        die("record", "cannot canonicalize");
    const char *mark = "\"last_modified\":" LM_SENTINEL;
    char *at = strstr(herald_buf_cstr(&b), mark);
    if (!at)
        die("record", "no last_modified");
    size_t head = (size_t)(at - b.data) + strlen("\"last_modified\":");
    herald_buf_append(prefix, b.data, head);
    herald_buf_puts(suffix, at + strlen(mark));
    herald_buf_free(&b);
}

/*
 * Queues one put_object call (pipelined; read the reply with redisGetReply). 'kind' is
 * 0 for the bucket, 1 for a collection, 2 for a record. KEYS and ARGV as documented at
 * the top of lib/lua/put_object.lua.
 */
static void
append_put(writer *w, int kind, const char *cid, const char *id, json_t *obj)
{
    herald_buf k[9], parent = HERALD_BUF_INIT, uri = HERALD_BUF_INIT, member = HERALD_BUF_INIT;
    herald_buf prefix = HERALD_BUF_INIT, suffix = HERALD_BUF_INIT;
    const char *res = kind == 0 ? "bucket" : kind == 1 ? "collection" : "record";
    for (int i = 0; i < 9; i++)
        herald_buf_init(&k[i]);
    if (kind >= 1)
        herald_buf_printf(&parent, "/buckets/%s", w->bucket);
    if (kind == 2)
        herald_buf_printf(&parent, "/collections/%s", cid);
    herald_buf_printf(&uri, "%s/%ss/%s", herald_buf_cstr(&parent), res, id);
    herald_schema_list_key(&k[0], HERALD_LIST_OBJS, herald_buf_cstr(&parent), res);
    herald_schema_list_key(&k[1], HERALD_LIST_TS, herald_buf_cstr(&parent), res);
    herald_schema_list_key(&k[2], HERALD_LIST_MOD, herald_buf_cstr(&parent), res);
    herald_schema_list_key(&k[3], HERALD_LIST_TOMB, herald_buf_cstr(&parent), res);
    herald_schema_perm_key(&k[4], herald_buf_cstr(&uri));
    if (kind == 2)
        herald_schema_monitor_member(&member, w->bucket, cid);
    split_body(&prefix, &suffix, obj);

    const char *argv[64];
    int argc = 0, nkeys = 7;
    argv[argc++] = "EVALSHA";
    argv[argc++] = w->sha;
    argv[argc++] = NULL; /* number of keys, below */
    for (int i = 0; i < 5; i++)
        argv[argc++] = herald_buf_cstr(&k[i]);
    argv[argc++] = HERALD_KEY_MONITOR;
    argv[argc++] = HERALD_KEY_CHANGES;
    /* Ancestors (existence checks), then the child timestamp key to initialize. */
    if (kind >= 1) {
        herald_schema_list_key(&k[5], HERALD_LIST_OBJS, "", "bucket");
        argv[argc++] = herald_buf_cstr(&k[5]);
        nkeys++;
    }
    if (kind == 2) {
        herald_buf p = HERALD_BUF_INIT;
        herald_buf_printf(&p, "/buckets/%s", w->bucket);
        herald_schema_list_key(&k[6], HERALD_LIST_OBJS, herald_buf_cstr(&p), "collection");
        herald_buf_free(&p);
        argv[argc++] = herald_buf_cstr(&k[6]);
        nkeys++;
    }
    if (kind <= 1) {
        herald_buf c = HERALD_BUF_INIT;
        if (kind == 0)
            herald_buf_printf(&c, "/buckets/%s", id);
        else
            herald_buf_printf(&c, "/buckets/%s/collections/%s", w->bucket, id);
        herald_schema_list_key(&k[7], HERALD_LIST_TS, herald_buf_cstr(&c),
                               kind == 0 ? "collection" : "record");
        herald_buf_free(&c);
        argv[argc++] = herald_buf_cstr(&k[7]);
        nkeys++;
    }
    char nk[8];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[2] = nk;
    argv[argc++] = id;
    argv[argc++] = herald_buf_cstr(&prefix);
    argv[argc++] = herald_buf_cstr(&suffix);
    argv[argc++] = herald_buf_cstr(&member);
    argv[argc++] = w->bucket;            /* change event: bucket */
    argv[argc++] = kind == 0 ? "" : cid; /* change event: collection */
    argv[argc++] = herald_buf_cstr(&uri);
    argv[argc++] = ""; /* no guard */
    argv[argc++] = "0";
    argv[argc++] = "0";                                     /* not a group */
    argv[argc++] = kind == 0 ? "0" : kind == 1 ? "1" : "2"; /* ancestors */
    argv[argc++] = kind <= 1 ? "1" : "0";                   /* initialize child ts */
    if (kind >= 1) {
        argv[argc++] = "bucket";
        argv[argc++] = w->bucket;
    }
    if (kind == 2) {
        argv[argc++] = "collection";
        argv[argc++] = cid;
    }
    if (kind == 0) { /* published: readable by everyone */
        argv[argc++] = "read";
        argv[argc++] = "[\"system.Everyone\"]";
        argv[argc++] = "write";
        argv[argc++] = "[\"account:admin\"]";
    }
    /* Side and history arguments (lib/lua/common.lua herald_side_take, herald_hist_take):
     * none, no entry. */
    for (int i = 0; i < 15; i++)
        argv[argc++] = i < 12 ? "" : "0";
    argv[argc++] = "99999999999999"; /* the publisher's write deadline: none here */
    size_t lens[64];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisAppendCommandArgv(w->rc, argc, argv, lens);
    for (int i = 0; i < 9; i++)
        herald_buf_free(&k[i]);
    herald_buf_free(&parent);
    herald_buf_free(&uri);
    herald_buf_free(&member);
    herald_buf_free(&prefix);
    herald_buf_free(&suffix);
}

/* Reads one put_object reply; returns the write's timestamp. */
static long long
read_put(writer *w)
{
    redisReply *r = NULL;
    if (redisGetReply(w->rc, (void **)&r) != REDIS_OK || !r)
        die("redis", w->rc->errstr);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer < 0 ||
        r->element[1]->type != REDIS_REPLY_STRING)
        die("put_object", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    long long ts = strtoll(r->element[1]->str, NULL, 10);
    freeReplyObject(r);
    return ts;
}

/* Record 'i' of a collection: OneCRL record i % n, with a new id for copies. */
static json_t *
make_record(const json_t *records, size_t i, char *id, size_t idlen)
{
    size_t n = json_array_size(records);
    json_t *r = json_deep_copy(json_array_get(records, i % n));
    const char *orig = json_string_value(json_object_get(r, "id"));
    if (i < n)
        snprintf(id, idlen, "%s", orig);
    else
        snprintf(id, idlen, "%s-%zu", orig, i / n);
    json_object_set_new(r, "id", json_string(id));
    return r;
}

static long long
monitor_version(redisContext *rc, const char *member)
{
    redisReply *r = redisCommand(rc, "ZSCORE %s %s", HERALD_KEY_MONITOR, member);
    long long v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    if (r)
        freeReplyObject(r);
    return v;
}

static void
bench_latency(writer *w, redisContext *sub, const json_t *records, size_t size, int edits)
{
    char cid[32], member[128], id[128];
    snprintf(cid, sizeof(cid), "c%zu", size);
    snprintf(member, sizeof(member), "%s/%s", w->bucket, cid);

    /* Fill: pipelined, at most 512 writes in flight. */
    double t0 = fixture_mono_ms();
    json_t *c = json_pack("{s:s}", "id", cid);
    append_put(w, 1, cid, cid, c);
    json_decref(c);
    read_put(w);
    long long last = 0;
    size_t sent = 0, got = 0;
    while (got < size) {
        while (sent < size && sent - got < 512) {
            json_t *r = make_record(records, sent, id, sizeof(id));
            append_put(w, 2, cid, id, r);
            json_decref(r);
            sent++;
        }
        last = read_put(w);
        got++;
    }
    double t1 = fixture_mono_ms();
    while (monitor_version(w->rc, member) < last) {
        if (fixture_mono_ms() - t1 > 600000)
            die(member, "the signer did not publish the filled collection within 10 minutes");
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    double t2 = fixture_mono_ms();

    double *lat = herald_mem_alloc((size_t)edits * sizeof(*lat));
    unsigned seed = (unsigned)size;
    for (int e = 0; e < edits; e++) {
        size_t i = (size_t)rand_r(&seed) % size;
        json_t *r = make_record(records, i, id, sizeof(id));
        json_t *details = json_object_get(r, "details");
        char why[64];
        snprintf(why, sizeof(why), "bench edit %d", e);
        if (json_is_object(details))
            json_object_set_new(details, "why", json_string(why));
        else
            json_object_set_new(r, "why", json_string(why));
        double a = fixture_mono_ms();
        append_put(w, 2, cid, id, r);
        json_decref(r);
        long long ts = read_put(w);
        /* Wait for the announcement of a version covering this write. */
        for (;;) {
            redisReply *m = NULL;
            if (redisGetReply(sub, (void **)&m) != REDIS_OK || !m)
                die("subscription", sub->errstr);
            int done = 0;
            if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
                m->element[2]->type == REDIS_REPLY_STRING) {
                const char *msg = m->element[2]->str;
                size_t ml = strlen(member);
                if (strncmp(msg, member, ml) == 0 && msg[ml] == ' ' &&
                    strtoll(msg + ml + 1, NULL, 10) >= ts)
                    done = 1;
            }
            freeReplyObject(m);
            if (done)
                break;
        }
        lat[e] = fixture_mono_ms() - a;
    }
    fixture_sort_samples(lat, (size_t)edits);
    double sum = 0;
    for (int e = 0; e < edits; e++)
        sum += lat[e];
    redisReply *bl = redisCommand(w->rc, "STRLEN herald:snap:%s", member);
    long long blob = bl && bl->type == REDIS_REPLY_INTEGER ? bl->integer : -1;
    if (bl)
        freeReplyObject(bl);
    printf("%8zu %6d %8.2f %8.2f %8.2f %8.2f %10lld %9.1f %9.1f\n", size, edits,
           fixture_percentile(lat, (size_t)edits, 0.5),
           fixture_percentile(lat, (size_t)edits, 0.99), lat[edits - 1], sum / edits, blob, t1 - t0,
           t2 - t1);
    fflush(stdout);
    free(lat);
}

int
main(int argc, char **argv)
{
    const char *url = "redis://127.0.0.1:6379/0", *data = "../shared/data/onecrl.json";
    const char *sizes = "100,1000,10000,100000", *bucket = "bench";
    int edits = 200, zstd_only = 0;
    static const struct option opts[] = {
        {"redis", required_argument, NULL, 'r'},  {"data", required_argument, NULL, 'd'},
        {"sizes", required_argument, NULL, 's'},  {"edits", required_argument, NULL, 'e'},
        {"bucket", required_argument, NULL, 'b'}, {"zstd-only", no_argument, NULL, 'z'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            url = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 's':
            sizes = optarg;
            break;
        case 'e':
            edits = atoi(optarg);
            break;
        case 'b':
            bucket = optarg;
            break;
        case 'z':
            zstd_only = 1;
            break;
        default:
            fprintf(stderr, "usage: bench_signer --redis URL [--data onecrl.json] "
                            "[--sizes 100,1000,...] [--edits N] [--bucket B] [--zstd-only]\n"
                            "Needs a Redis at URL with a herald-signer consuming it "
                            "(benchmarks/bench_signer.sh starts both).\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (edits < 1 || herald_crypto_init() < 0)
        die("setup", "bad --edits or libsodium failed");
    json_t *records = load_records(data);

    if (!zstd_only) {
        herald_redis_url u;
        char err[256];
        if (herald_redis_parse_url(&u, url) < 0)
            die(url, "bad Redis URL");
        writer w = {.bucket = bucket};
        w.rc = herald_redis_connect(&u, 60000, err, sizeof(err));
        redisContext *sub = herald_redis_connect(&u, 60000, err, sizeof(err));
        if (!w.rc || !sub)
            die("redis", err);
        redisReply *r = redisCommand(w.rc, "SCRIPT LOAD %s", herald_lua_put_object);
        if (!r || r->type != REDIS_REPLY_STRING)
            die("SCRIPT LOAD", r ? r->str : w.rc->errstr);
        snprintf(w.sha, sizeof(w.sha), "%s", r->str);
        freeReplyObject(r);
        r = redisCommand(sub, "SUBSCRIBE %s", HERALD_CHANNEL_SNAPSHOTS);
        if (!r)
            die("SUBSCRIBE", sub->errstr);
        freeReplyObject(r);

        json_t *b = json_pack("{s:s}", "id", bucket);
        append_put(&w, 0, NULL, bucket, b);
        json_decref(b);
        read_put(&w);

        printf("edit-to-signed-and-stored latency (ms), one edit at a time, records from %s\n",
               data);
        printf("%8s %6s %8s %8s %8s %8s %10s %9s %9s\n", "records", "edits", "p50", "p99", "max",
               "mean", "blob", "fill ms", "catchup");
        for (const char *p = sizes; *p;) {
            char *end;
            long n = strtol(p, &end, 10);
            if (n <= 0 || end == p)
                die(sizes, "bad --sizes");
            /* 100k-record rounds take ~0.3 s each: fewer of them. */
            int k = n >= 100000 && edits > 50 ? 50 : edits;
            bench_latency(&w, sub, records, (size_t)n, k);
            p = *end == ',' ? end + 1 : end;
        }
        redisFree(w.rc);
        redisFree(sub);
    }
    bench_zstd(records);
    json_decref(records);
    return 0;
}
