/*
 * server_fixture -- stores signed snapshots in Redis exactly as herald-signer does, for
 * the read server's tests and benchmarks, without the publisher and the signer.
 *
 * Tests need snapshots the real pipeline cannot easily produce on demand: a given
 * version, tombstones at known timestamps, an expired signature, a signature by an
 * unknown key, 100 collections of 1k records in a second. This tool builds the state
 * (live records sorted by id, JCS), signs the head with lib/snapshot.c (the same code
 * the signer uses), encodes the blob, and writes what signer_store.lua writes for the
 * read servers: SET herald:snap:<bid>/<cid>, ZADD herald:monitor, PUBLISH
 * herald:snapshots "<bid>/<cid> <V>".
 *
 *   server_fixture keygen --out FILE                    prints the public key
 *   server_fixture publish --redis URL --key FILE [--key FILE...] --bucket B
 *       --collection C --version V
 *       [--records FILE]       Kinto list {"data":[...]} or an array; records keep
 *                              their ids; last_modified is reassigned: V, V-1, ...
 *                              in file order (newest first)
 *       [--generate N] [--record-bytes S]   N synthetic records of ~S bytes
 *       [--tombstones N]       N tombstones, last_modified just below the records
 *       [--expires MS]         head.expires (default: now + 48 h; negative: now + MS)
 *       [--metadata JSON]      collection attributes (default {})
 *       [--no-notify]          store without PUBLISH (a missed notification)
 *   server_fixture remove --redis URL --bucket B --collection C
 *   server_fixture verify [-q] --public-key KEY --bucket B --collection C FILE...
 *       verifies each FILE (a full changeset body) as a client does (lib/verify.c),
 *       expiry included; prints "OK FILE" (unless -q) or "FAIL FILE: reason"
 *
 * Exit status 0 on success; errors on stderr.
 */
#include <getopt.h>
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
#include "herald/verify.h"
#include "test_fixture.h"

#define MAX_KEYS 4

static int
usage(void)
{
    fprintf(stderr, "usage: server_fixture keygen --out FILE\n"
                    "       server_fixture publish --redis URL --key FILE --bucket B "
                    "--collection C --version V [--records FILE] [--generate N] "
                    "[--record-bytes S] [--tombstones N] [--expires MS] [--metadata JSON] "
                    "[--no-notify]\n"
                    "       server_fixture remove --redis URL --bucket B --collection C\n"
                    "       server_fixture verify --public-key KEY --bucket B --collection C "
                    "FILE...\n");
    return 2;
}

static int
redis_ok(redisContext *rc, redisReply *r, const char *what)
{
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "server_fixture: %s: %s\n", what, r ? r->str : rc->errstr);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/* The "verify" command. Returns the exit status. */
static int
verify_files(const char *pubkey, const char *bid, const char *cid, char **files, int nfiles,
             int quiet)
{
    herald_pubkey key;
    if (!pubkey || !bid || !cid || nfiles < 1)
        return usage();
    if (herald_crypto_pubkey_parse(&key, pubkey) < 0) {
        fprintf(stderr, "server_fixture: bad public key\n");
        return 2;
    }
    herald_verify_opts vo = {&key, 1, herald_clock_wall_ms(), bid, cid};
    int failed = 0;
    for (int i = 0; i < nfiles; i++) {
        char err[256] = "unreadable or not JSON";
        size_t len;
        char *text = fixture_read_file(files[i], &len);
        json_t *doc = text ? json_loadb(text, len, 0, NULL) : NULL, *state = NULL;
        if (doc && herald_verify_changeset(&state, doc, NULL, &vo, err, sizeof(err)) == 0) {
            if (!quiet)
                printf("OK %s\n", files[i]);
        } else {
            printf("FAIL %s: %s\n", files[i], err);
            failed++;
        }
        json_decref(state);
        json_decref(doc);
        free(text);
    }
    return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"redis", required_argument, NULL, 'r'},
        {"key", required_argument, NULL, 'k'},
        {"bucket", required_argument, NULL, 'b'},
        {"collection", required_argument, NULL, 'c'},
        {"version", required_argument, NULL, 'v'},
        {"records", required_argument, NULL, 'f'},
        {"generate", required_argument, NULL, 'g'},
        {"record-bytes", required_argument, NULL, 's'},
        {"tombstones", required_argument, NULL, 't'},
        {"expires", required_argument, NULL, 'e'},
        {"metadata", required_argument, NULL, 'm'},
        {"no-notify", no_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},
        {"public-key", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    const char *redis = "redis://127.0.0.1:6379/0", *bid = NULL, *cid = NULL, *records = NULL;
    const char *keyfiles[MAX_KEYS], *metadata = "{}", *outfile = NULL, *pubkey = NULL;
    size_t nkeyfiles = 0;
    long long version = 0, generate = 0, record_bytes = 100, ntombs = 0, expires = 0;
    int notify = 1, quiet = 0, opt, rc = 1;
    char err[256];
    herald_signkey *keys[MAX_KEYS] = {NULL};
    json_t *recs = NULL, *tombs = NULL, *meta = NULL, *sigs = NULL, *empty = NULL;
    herald_buf rj = HERALD_BUF_INIT, blob = HERALD_BUF_INIT, k = HERALD_BUF_INIT;
    herald_buf member = HERALD_BUF_INIT, msg = HERALD_BUF_INIT;
    redisContext *rcx = NULL;
    char *file = NULL;

    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    optind = 2;
    while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        switch (opt) {
        case 'q':
            quiet = 1;
            break;
        case 'r':
            redis = optarg;
            break;
        case 'k':
            if (nkeyfiles == MAX_KEYS)
                return usage();
            keyfiles[nkeyfiles++] = optarg;
            break;
        case 'b':
            bid = optarg;
            break;
        case 'c':
            cid = optarg;
            break;
        case 'v':
            version = atoll(optarg);
            break;
        case 'f':
            records = optarg;
            break;
        case 'g':
            generate = atoll(optarg);
            break;
        case 's':
            record_bytes = atoll(optarg);
            break;
        case 't':
            ntombs = atoll(optarg);
            break;
        case 'e':
            expires = atoll(optarg);
            break;
        case 'm':
            metadata = optarg;
            break;
        case 'n':
            notify = 0;
            break;
        case 'o':
            outfile = optarg;
            break;
        case 'p':
            pubkey = optarg;
            break;
        default:
            return usage();
        }
    }
    if (herald_crypto_init() < 0)
        return 1;

    if (!strcmp(cmd, "keygen")) {
        char pub[HERALD_PUBKEY_B64_LEN + 1];
        if (!outfile)
            return usage();
        if (herald_crypto_keygen(outfile, pub, err, sizeof(err)) < 0) {
            fprintf(stderr, "server_fixture: %s\n", err);
            return 1;
        }
        printf("%s\n", pub);
        return 0;
    }
    if (!strcmp(cmd, "verify"))
        return verify_files(pubkey, bid, cid, argv + optind, argc - optind, quiet);
    if (strcmp(cmd, "publish") && strcmp(cmd, "remove"))
        return usage();
    if (!bid || !cid)
        return usage();
    herald_redis_url url;
    if (herald_redis_parse_url(&url, redis) < 0) {
        fprintf(stderr, "server_fixture: bad redis URL\n");
        goto done;
    }
    rcx = herald_redis_connect(&url, 5000, err, sizeof(err));
    if (!rcx) {
        fprintf(stderr, "server_fixture: %s\n", err);
        goto done;
    }
    herald_schema_monitor_member(&member, bid, cid);
    herald_schema_snap_key(&k, bid, cid);
    if (!strcmp(cmd, "remove")) {
        herald_buf_printf(&msg, "%s 0", herald_buf_cstr(&member));
        if (redis_ok(rcx, redisCommand(rcx, "DEL %s", herald_buf_cstr(&k)), "DEL") < 0 ||
            redis_ok(rcx,
                     redisCommand(rcx, "ZREM %s %s", HERALD_KEY_MONITOR, herald_buf_cstr(&member)),
                     "ZREM") < 0 ||
            redis_ok(
                rcx,
                redisCommand(rcx, "PUBLISH %s %s", HERALD_CHANNEL_SNAPSHOTS, herald_buf_cstr(&msg)),
                "PUBLISH") < 0)
            goto done;
        rc = 0;
        goto done;
    }

    if (nkeyfiles == 0 || version <= 0)
        return usage();
    for (size_t i = 0; i < nkeyfiles; i++) {
        keys[i] = herald_crypto_signkey_load(keyfiles[i], err, sizeof(err));
        if (!keys[i]) {
            fprintf(stderr, "server_fixture: %s: %s\n", keyfiles[i], err);
            goto done;
        }
    }
    meta = json_loads(metadata, 0, NULL);
    if (!json_is_object(meta)) {
        fprintf(stderr, "server_fixture: --metadata must be a JSON object\n");
        goto done;
    }

    /* Records, newest first as given; last_modified reassigned V, V-1, ... */
    recs = json_array();
    if (records) {
        size_t len;
        file = fixture_read_file(records, &len);
        json_t *doc = file ? json_loadb(file, len, 0, NULL) : NULL;
        json_t *arr = json_is_object(doc) ? json_object_get(doc, "data") : doc;
        if (!json_is_array(arr)) {
            fprintf(stderr, "server_fixture: %s: not a JSON array or Kinto list\n", records);
            json_decref(doc);
            goto done;
        }
        json_array_extend(recs, arr);
        json_decref(doc);
    }
    for (long long i = 0; i < generate; i++) {
        char id[32];
        snprintf(id, sizeof(id), "rec-%06lld", i);
        json_t *r = json_pack("{s:s,s:I}", "id", id, "n", (json_int_t)i);
        long long pad = record_bytes - 60;
        if (pad > 0) {
            char *p = herald_mem_alloc((size_t)pad + 1);
            for (long long j = 0; j < pad; j++)
                p[j] = (char)('a' + (i * 7 + j * 13) % 26);
            p[pad] = '\0';
            json_object_set_new(r, "payload", json_string(p));
            free(p);
        }
        json_array_append_new(recs, r);
    }
    size_t n = json_array_size(recs);
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(recs, i);
        if (!json_is_string(json_object_get(r, "id"))) {
            fprintf(stderr, "server_fixture: record %zu has no string id\n", i);
            goto done;
        }
        json_object_set_new(r, "last_modified", json_integer(version - (json_int_t)i));
    }
    tombs = json_array();
    for (long long i = 0; i < ntombs; i++) {
        char id[32];
        snprintf(id, sizeof(id), "gone-%06lld", i);
        json_array_append_new(tombs,
                              json_pack("{s:b,s:s,s:I}", "deleted", 1, "id", id, "last_modified",
                                        (json_int_t)(version - (json_int_t)n - i)));
    }
    /* The signed state: live records sorted by id (byte order). */
    if (fixture_records_json(&rj, recs) < 0) {
        fprintf(stderr, "server_fixture: record cannot be canonicalized\n");
        goto done;
    }

    long long now = herald_clock_wall_ms();
    herald_head head;
    fixture_head(&head, bid, cid, version,
                 expires > 0 ? expires : now + (expires < 0 ? expires : 48LL * 3600 * 1000),
                 rj.data, rj.len, (int64_t)n);
    sigs = json_array();
    for (size_t i = 0; i < nkeyfiles; i++)
        json_array_append_new(sigs, herald_snapshot_sign_entry(keys[i], &head));
    /* As the signer stores a public bucket (an empty object means a private one). */
    empty = json_pack("{s:s, s:I}", "id", bid, "last_modified", (json_int_t)version);
    herald_snapshot_parts parts = {.bucket = bid,
                                   .collection = cid,
                                   .timestamp = version,
                                   .metadata = meta,
                                   .bucket_data = empty,
                                   .signatures = sigs,
                                   .records_json = rj.data,
                                   .records_len = rj.len,
                                   .tombstones = tombs};
    if (herald_snapshot_encode(&blob, &parts, 3) < 0) {
        fprintf(stderr, "server_fixture: encode failed\n");
        goto done;
    }
    if (redis_ok(rcx, redisCommand(rcx, "SET %s %b", herald_buf_cstr(&k), blob.data, blob.len),
                 "SET") < 0 ||
        redis_ok(rcx,
                 redisCommand(rcx, "ZADD %s %lld %s", HERALD_KEY_MONITOR, version,
                              herald_buf_cstr(&member)),
                 "ZADD") < 0)
        goto done;
    if (notify) {
        herald_buf_printf(&msg, "%s %lld", herald_buf_cstr(&member), version);
        if (redis_ok(
                rcx,
                redisCommand(rcx, "PUBLISH %s %s", HERALD_CHANNEL_SNAPSHOTS, herald_buf_cstr(&msg)),
                "PUBLISH") < 0)
            goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; i < MAX_KEYS; i++)
        herald_crypto_signkey_free(keys[i]);
    json_decref(recs);
    json_decref(tombs);
    json_decref(meta);
    json_decref(sigs);
    json_decref(empty);
    herald_buf_free(&rj);
    herald_buf_free(&blob);
    herald_buf_free(&k);
    herald_buf_free(&member);
    herald_buf_free(&msg);
    free(file);
    if (rcx)
        redisFree(rcx);
    return rc;
}
