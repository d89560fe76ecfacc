/*
 * gen_corpus -- writes the seed corpora of the snapshot and changeset targets: real
 * blobs and changesets signed with the golden key (tests/golden/snapshot-v1, seed
 * 00 01 .. 1f), built with herald_snapshot_encode / herald_snapshot_sign_entry from the
 * golden records and slices of OneCRL.
 *
 *   gen_corpus <tests/golden/snapshot-v1/records.json> <onecrl.json> <fuzz/corpus>
 *
 * Writes <corpus>/snapshot/<name>.zst (the blob as stored in Redis), <name>.raw (its
 * decompressed content, which the target compresses itself) and
 * <corpus>/changeset/<name>.json (a changeset, or [delta, saved state]). Output is
 * deterministic (Ed25519 signatures are), so re-running it does not churn the corpus.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "fuzz_checks.h"
#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/snapshot.h"
#include "test_fixture.h"

#define DAY 86400000LL

static herald_signkey *golden, *other;

static void
die(const char *what)
{
    fprintf(stderr, "gen_corpus: %s\n", what);
    exit(1);
}

static json_t *
load(const char *path)
{
    char err[256];
    size_t len;
    char *text = fixture_read_file(path, &len);
    if (!text)
        die(path);
    json_t *v = herald_jcs_parse(text, len, HERALD_JCS_STRICT, 0, err, sizeof(err));
    if (!v)
        die(err);
    free(text);
    return v;
}

static void
write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(p, 1, n, fp) != n || fclose(fp) != 0)
        die(path);
}

static json_t *
sign(const herald_signkey *k, const json_t *live, const char *b, const char *c, long long ts,
     long long expires, herald_buf *rj)
{
    json_t *e = fixture_sign_records(k, b, c, live, ts, expires, rj);
    if (!e)
        die("dump");
    return e;
}

static void
snapshot_seed(const char *dir, const char *name, const json_t *live, const json_t *tombs,
              long long ts, int variant)
{
    herald_buf rj = HERALD_BUF_INIT, blob = HERALD_BUF_INIT;
    json_t *sigs = json_array();
    long long expires = variant == 2 ? ts - 1 : ts + 2 * DAY;
    if (variant == 1 || variant == 3)
        json_array_append_new(sigs, sign(other, live, "main", "certs", ts, expires, &rj));
    if (variant != 3)
        json_array_append_new(sigs, sign(golden, live, "main", "certs", ts, expires, &rj));
    json_t *meta = json_pack("{s:s, s:I, s:s, s:O}", "id", "certs", "last_modified", (json_int_t)ts,
                             "displayFields", "issuerName", "signatures", sigs);
    json_t *bdata = json_pack("{s:s, s:I}", "id", "main", "last_modified", (json_int_t)ts - 5);
    herald_snapshot_parts p = {.bucket = "main",
                               .collection = "certs",
                               .timestamp = ts,
                               .metadata = meta,
                               .bucket_data = bdata,
                               .signatures = sigs,
                               .records_json = rj.data,
                               .records_len = rj.len,
                               .tombstones = tombs};
    if (herald_snapshot_encode(&blob, &p, 3) != 0)
        die("encode");
    char fn[256];
    snprintf(fn, sizeof(fn), "%s.zst", name);
    write_file(dir, fn, blob.data, blob.len);
    unsigned long long raw_len = ZSTD_getFrameContentSize(blob.data, blob.len);
    char *raw = malloc(raw_len);
    if (ZSTD_decompress(raw, raw_len, blob.data, blob.len) != raw_len)
        die("decompress");
    snprintf(fn, sizeof(fn), "%s.raw", name);
    write_file(dir, fn, raw, raw_len);
    free(raw);
    json_decref(sigs);
    json_decref(meta);
    json_decref(bdata);
    herald_buf_free(&rj);
    herald_buf_free(&blob);
}

/* {"metadata":{...,"signatures":[...]},"timestamp":ts,"changes":changes}, signed over
 * 'live'. */
static json_t *
changeset(const herald_signkey *k, const json_t *live, const json_t *changes, long long ts)
{
    herald_buf rj = HERALD_BUF_INIT;
    json_t *e = sign(k, live, "main", "certs", ts, ts + 2 * DAY, &rj);
    json_t *cs = json_pack("{s:{s:s, s:s, s:I, s:O, s:[o]}, s:I, s:O}", "metadata", "bucket",
                           "main", "id", "certs", "last_modified", (json_int_t)ts, "signature", e,
                           "signatures", e, "timestamp", (json_int_t)ts, "changes", changes);
    herald_buf_free(&rj);
    if (!cs)
        die("changeset");
    return cs;
}

static void
write_json(const char *dir, const char *name, const json_t *v)
{
    herald_buf b = HERALD_BUF_INIT;
    if (herald_jcs_dump(&b, v) != 0)
        die("dump");
    write_file(dir, name, b.data, b.len);
    herald_buf_free(&b);
}

static long long
max_lm(const json_t *recs)
{
    long long m = 0;
    size_t i;
    const json_t *r;
    json_array_foreach(recs, i, r)
    {
        long long lm = (long long)json_number_value(json_object_get(r, "last_modified"));
        if (lm > m)
            m = lm;
    }
    return m;
}

static void
changeset_seeds(const char *dir, const char *name, const json_t *live, long long ts)
{
    char fn[256];
    /* Full changeset, and one signed by a key that is not pinned. */
    json_t *cs = changeset(golden, live, live, ts);
    snprintf(fn, sizeof(fn), "%s-full.json", name);
    write_json(dir, fn, cs);
    json_decref(cs);
    cs = changeset(other, live, live, ts);
    snprintf(fn, sizeof(fn), "%s-otherkey.json", name);
    write_json(dir, fn, cs);
    json_decref(cs);

    /* A delta over a saved state: the state holds all but the first record and an extra
     * one that the delta deletes; the delta adds the first record back. */
    size_t n = json_array_size(live);
    if (n == 0)
        return;
    json_t *prev_recs = json_array();
    for (size_t i = 1; i < n; i++)
        json_array_append(prev_recs, json_array_get(live, i));
    json_array_append_new(prev_recs, json_pack("{s:s, s:I, s:s}", "id", "zz-gone", "last_modified",
                                               (json_int_t)ts - 7, "note", "deleted later"));
    json_t *prev =
        json_pack("{s:s, s:s, s:I, s:o}", "bucket", "main", "collection", "certs", "timestamp",
                  (json_int_t)ts - 3, "records", fixture_sorted_by_id(prev_recs));
    json_t *changes = json_pack("[O, {s:b, s:s, s:I}]", json_array_get(live, 0), "deleted", 1, "id",
                                "zz-gone", "last_modified", (json_int_t)ts);
    cs = changeset(golden, live, changes, ts);
    json_t *pair = json_pack("[o, o]", cs, prev);
    snprintf(fn, sizeof(fn), "%s-delta.json", name);
    write_json(dir, fn, pair);
    json_decref(pair);
    json_decref(changes);
    json_decref(prev_recs);
}

/* Records of 'all' at the given indexes. */
static json_t *
pick(const json_t *all, const size_t *idx, size_t n)
{
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, json_array_get(all, idx[i]));
    return out;
}

/* Index of the first OneCRL record whose details.name is not ASCII. */
static size_t
first_non_ascii(const json_t *all)
{
    size_t i;
    const json_t *r;
    json_array_foreach(all, i, r)
    {
        const char *s = json_string_value(json_object_get(json_object_get(r, "details"), "name"));
        for (; s && *s; s++)
            if ((unsigned char)*s >= 0x80)
                return i;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 4)
        die("usage: gen_corpus <golden records.json> <onecrl.json> <fuzz/corpus>");
    if (herald_crypto_init() != 0)
        die("crypto init");
    golden = fixture_signkey(0, 1);
    other = fixture_signkey(0x5a, 0);
    if (strcmp(herald_crypto_signkey_public(golden)->b64, HERALD_FUZZ_PUBKEY) != 0)
        die("golden key mismatch");

    char sdir[1024], cdir[1024];
    snprintf(sdir, sizeof(sdir), "%s/snapshot", argv[3]);
    snprintf(cdir, sizeof(cdir), "%s/changeset", argv[3]);

    json_t *gold = load(argv[1]);
    json_t *crl = load(argv[2]);
    const json_t *all = json_object_get(crl, "data");
    size_t na = first_non_ascii(all);
    const size_t one[] = {0}, four[] = {3, 1, 2, 0}, mixed[] = {na, 10, 100, 1000, 1642};

    json_t *sets[] = {json_incref(gold), json_array(), pick(all, one, 1), pick(all, four, 4),
                      pick(all, mixed, 5)};
    const char *names[] = {"golden", "empty", "onecrl1", "onecrl4", "onecrl5"};
    json_t *tombs = json_pack("[{s:b, s:s, s:I}, {s:b, s:s, s:I}]", "deleted", 1, "id", "0a1b-gone",
                              "last_modified", (json_int_t)1699999999999LL, "deleted", 1, "id",
                              "zz-gone", "last_modified", (json_int_t)1700000000001LL);
    json_t *no_tombs = json_array();
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        long long ts = i == 0 ? 1700000000003LL : (i == 1 ? 1700000000100LL : max_lm(sets[i]));
        char name[64];
        static const char *const variants[] = {"signed", "twokeys", "expired", "otherkey"};
        for (int v = 0; v < 4; v++) {
            if (v > 0 && i != 0 && i != 3)
                continue; /* all variants for two sets keep the corpus small */
            snprintf(name, sizeof(name), "%s-%s", names[i], variants[v]);
            snapshot_seed(sdir, name, sets[i], i % 2 ? no_tombs : tombs, ts, v);
        }
        changeset_seeds(cdir, names[i], sets[i], ts);
        json_decref(sets[i]);
    }
    for (int d = 0; d < 3; d++) { /* the delta target's seeds (check_delta.c) */
        char path[1100];
        herald_buf b = HERALD_BUF_INIT;
        if (herald_fuzz_delta_seed(&b, d) != 0)
            die("delta seed");
        snprintf(path, sizeof(path), "%s/delta/seed-%d", argv[3], d);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
            die("cannot write a delta seed");
        herald_buf_free(&b);
    }
    json_decref(tombs);
    json_decref(no_tombs);
    json_decref(gold);
    json_decref(crl);
    herald_crypto_signkey_free(golden);
    herald_crypto_signkey_free(other);
    return 0;
}
