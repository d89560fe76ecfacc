/*
 * test_snapshot -- the signed snapshot format against committed known-answer vectors
 * (tests/golden/snapshot-v1, cross-checked independently by crosscheck.js there with
 * Node's own JSON and Ed25519), then every way a snapshot can be wrong: each head field
 * tampered, records altered, the wrong bucket or collection, expiry, unpinned keys, and
 * blobs that are truncated or garbage.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/snapshot.h"
#include "test_fixture.h"

#define BUCKET "main"
#define COLLECTION "certs"
#define TS 1700000000003LL
#define EXPIRES 1700172800003LL

/* Reads tests/golden/snapshot-v1/<name> (exact bytes). */
static char *
golden(const char *name, size_t *len)
{
    char root[1024], path[1200];
    fixture_source_dir(root, sizeof(root));
    snprintf(path, sizeof(path), "%s/tests/golden/snapshot-v1/%s", root, name);
    char *text = fixture_read_file(path, len);
    cr_assert_not_null(text, "cannot open %s", path);
    return text;
}

/* Sorts an array of records by id (byte order), in place. */
static void
sort_records(json_t *arr)
{
    json_t *sorted = fixture_sorted_by_id(arr);
    json_array_clear(arr);
    json_array_extend(arr, sorted);
    json_decref(sorted);
}

static char *
dump(const json_t *v, size_t *len)
{
    herald_buf b = HERALD_BUF_INIT;
    cr_assert(herald_jcs_dump(&b, v) == 0);
    return herald_buf_steal(&b, len);
}

static herald_signkey *
golden_key(void)
{
    herald_signkey *k = fixture_signkey(0, 1);
    cr_assert_not_null(k);
    return k;
}

static herald_signkey *
other_key(unsigned char fill)
{
    return fixture_signkey(fill, 0);
}

/* Fixture: the golden records, their JCS, a valid signatures array. */
static json_t *records;
static char *records_json;
static size_t records_len;
static herald_signkey *key;
static herald_pubkey pub;
static json_t *sigs;

static void
head_for(herald_head *h, const char *rj, size_t rlen, int64_t n)
{
    fixture_head(h, BUCKET, COLLECTION, TS, EXPIRES, rj, rlen, n);
}

static void
setup(void)
{
    char err[256];
    size_t len;
    cr_assert(herald_crypto_init() == 0);
    char *in = golden("records.json", &len);
    records = herald_jcs_parse(in, len, HERALD_JCS_STRICT, 0, err, sizeof(err));
    cr_assert_not_null(records, "%s", err);
    free(in);
    sort_records(records);
    records_json = dump(records, &records_len);
    key = golden_key();
    pub = *herald_crypto_signkey_public(key);
    herald_head h;
    head_for(&h, records_json, records_len, (int64_t)json_array_size(records));
    sigs = json_array();
    json_array_append_new(sigs, herald_snapshot_sign_entry(key, &h));
}

static void
teardown(void)
{
    json_decref(records);
    json_decref(sigs);
    free(records_json);
    herald_crypto_signkey_free(key);
}

TestSuite(snapshot, .init = setup, .fini = teardown);

static int
verify_with(const char *rj, size_t rlen, int64_t n, const json_t *s, const char *bucket,
            const char *collection, int64_t ts, int64_t now, const herald_pubkey *keys,
            size_t nkeys, char *err, size_t errlen)
{
    return herald_snapshot_verify(rj, rlen, n, s, bucket, collection, ts, now, keys, nkeys, err,
                                  errlen);
}

static int
verify_default(const json_t *s, char *err, size_t errlen)
{
    return verify_with(records_json, records_len, (int64_t)json_array_size(records), s, BUCKET,
                       COLLECTION, TS, TS, &pub, 1, err, errlen);
}

/* ---- known-answer vectors ---- */

Test(snapshot, golden_records_json)
{
    size_t len;
    char *want = golden("records_jcs.json", &len);
    cr_assert_eq(records_len, len);
    cr_assert(memcmp(records_json, want, len) == 0, "got %s", records_json);
    free(want);

    char sha[65];
    herald_crypto_sha256_hex(sha, records_json, records_len);
    char *want_sha = golden("sha256.txt", &len);
    cr_assert_str_eq(sha, want_sha);
    free(want_sha);
}

Test(snapshot, golden_head_message_signature)
{
    size_t len;
    herald_head h;
    head_for(&h, records_json, records_len, (int64_t)json_array_size(records));

    herald_buf hj = HERALD_BUF_INIT;
    herald_snapshot_head_jcs(&hj, &h);
    char *want = golden("head.json", &len);
    cr_assert_eq(hj.len, len);
    cr_assert(memcmp(hj.data, want, len) == 0, "got %s", herald_buf_cstr(&hj));
    free(want);
    herald_buf_free(&hj);

    herald_buf m = HERALD_BUF_INIT;
    herald_snapshot_message(&m, &h);
    char *want_hex = golden("message.hex", &len);
    cr_assert_eq(len, 2 * m.len);
    char *hex = malloc(2 * m.len + 1);
    for (size_t i = 0; i < m.len; i++)
        sprintf(hex + 2 * i, "%02x", (unsigned char)m.data[i]);
    cr_assert_str_eq(hex, want_hex);
    free(hex);
    free(want_hex);

    char sig[HERALD_SIG_B64_LEN + 1];
    cr_assert(herald_crypto_sign(sig, key, m.data, m.len) == 0);
    char *want_sig = golden("signature.txt", &len);
    cr_assert_str_eq(sig, want_sig);
    herald_buf_free(&m);

    char *want_pub = golden("public_key.txt", &len);
    cr_assert_str_eq(pub.b64, want_pub);
    char *want_id = golden("key_id.txt", &len);
    cr_assert_str_eq(pub.key_id, want_id);

    /* The entry carries the same signature and a head that parses back to 'h'. */
    const json_t *e = json_array_get(sigs, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "mode")), "ed25519");
    cr_assert_str_eq(json_string_value(json_object_get(e, "key_id")), want_id);
    cr_assert_str_eq(json_string_value(json_object_get(e, "signature")), want_sig);
    cr_assert_eq(json_object_size(e), 4);
    herald_head back;
    cr_assert(herald_snapshot_head_parse(&back, json_object_get(e, "head"), NULL, 0) == 0);
    cr_assert_str_eq(back.bucket, BUCKET);
    cr_assert_str_eq(back.collection, COLLECTION);
    cr_assert_eq(back.timestamp, TS);
    cr_assert_eq(back.expires, EXPIRES);
    cr_assert_eq(back.records, 3);
    cr_assert_str_eq(back.sha256, h.sha256);

    /* And the golden signature verifies with the golden public key alone. */
    herald_pubkey p;
    cr_assert(herald_crypto_pubkey_parse(&p, want_pub) == 0);
    char err[256];
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, COLLECTION, TS, TS, &p, 1,
                          err, sizeof(err)) == 0,
              "%s", err);
    free(want_sig);
    free(want_pub);
    free(want_id);
}

Test(snapshot, empty_state)
{
    herald_head h;
    head_for(&h, "[]", 2, 0);
    cr_assert_str_eq(h.sha256, "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945");
    json_t *s = json_array();
    json_array_append_new(s, herald_snapshot_sign_entry(key, &h));
    char err[256];
    cr_assert(verify_with("[]", 2, 0, s, BUCKET, COLLECTION, TS, TS, &pub, 1, err, sizeof(err)) ==
                  0,
              "%s", err);
    cr_assert(verify_with("[]", 2, 1, s, BUCKET, COLLECTION, TS, TS, &pub, 1, err, sizeof(err)) <
              0);
    json_decref(s);
}

/* ---- verification failures ---- */

Test(snapshot, valid_verifies)
{
    char err[256];
    cr_assert(verify_default(sigs, err, sizeof(err)) == 0, "%s", err);
    /* now_ms == 0 skips the expiry check. */
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, COLLECTION, TS, 0, &pub, 1,
                          err, sizeof(err)) == 0);
}

/* A copy of the signatures with head.<field> replaced by 'v' (stolen). */
static json_t *
with_head_field(const char *field, json_t *v)
{
    json_t *s = json_deep_copy(sigs);
    json_t *h = json_object_get(json_array_get(s, 0), "head");
    if (v)
        json_object_set_new(h, field, v);
    else
        json_object_del(h, field);
    return s;
}

Test(snapshot, head_field_tampered_rejected)
{
    char err[256];
    char other_sha[65];
    herald_crypto_sha256_hex(other_sha, "[]", 2);
    struct {
        const char *field;
        json_t *value;
    } cases[] = {
        {"bucket", json_string("other")},       {"collection", json_string("other")},
        {"timestamp", json_integer(TS + 1)},    {"timestamp", json_integer(TS - 1)},
        {"expires", json_integer(EXPIRES + 1)}, {"records", json_integer(2)},
        {"records", json_integer(4)},           {"sha256", json_string(other_sha)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *s = with_head_field(cases[i].field, cases[i].value);
        cr_assert(verify_default(s, err, sizeof(err)) < 0, "tampered %s accepted", cases[i].field);
        json_decref(s);
    }
}

Test(snapshot, head_field_tampered_consistently_breaks_signature)
{
    /* The attacker changes a head field AND serves matching data: only the signature can
     * catch it, so this proves every field is covered by it. */
    char err[256];
    json_t *s;

    s = with_head_field("bucket", json_string("evil"));
    cr_assert(verify_with(records_json, records_len, 3, s, "evil", COLLECTION, TS, TS, &pub, 1, err,
                          sizeof(err)) < 0);
    cr_assert(strstr(err, "signature") != NULL, "%s", err);
    json_decref(s);

    s = with_head_field("collection", json_string("evil"));
    cr_assert(verify_with(records_json, records_len, 3, s, BUCKET, "evil", TS, TS, &pub, 1, err,
                          sizeof(err)) < 0);
    cr_assert(strstr(err, "signature") != NULL, "%s", err);
    json_decref(s);

    s = with_head_field("timestamp", json_integer(TS + 1000));
    cr_assert(verify_with(records_json, records_len, 3, s, BUCKET, COLLECTION, TS + 1000, TS, &pub,
                          1, err, sizeof(err)) < 0);
    cr_assert(strstr(err, "signature") != NULL, "%s", err);
    json_decref(s);

    s = with_head_field("expires", json_integer(EXPIRES + 86400000));
    cr_assert(verify_default(s, err, sizeof(err)) < 0);
    cr_assert(strstr(err, "signature") != NULL, "%s", err);
    json_decref(s);

    /* Drop a record and fix records and sha256 to match. */
    json_t *fewer = json_deep_copy(records);
    json_array_remove(fewer, 0);
    size_t flen;
    char *fj = dump(fewer, &flen);
    char fsha[65];
    herald_crypto_sha256_hex(fsha, fj, flen);
    s = with_head_field("sha256", json_string(fsha));
    json_object_set_new(json_object_get(json_array_get(s, 0), "head"), "records", json_integer(2));
    cr_assert(verify_with(fj, flen, 2, s, BUCKET, COLLECTION, TS, TS, &pub, 1, err, sizeof(err)) <
              0);
    cr_assert(strstr(err, "signature") != NULL, "%s", err);
    json_decref(s);
    json_decref(fewer);
    free(fj);
}

Test(snapshot, head_shape_rejected)
{
    char err[256];
    json_t *s;
    static const char *const fields[] = {"bucket",  "collection", "timestamp",
                                         "expires", "records",    "sha256"};
    for (size_t i = 0; i < 6; i++) {
        s = with_head_field(fields[i], NULL);
        cr_assert(verify_default(s, err, sizeof(err)) < 0, "missing %s accepted", fields[i]);
        json_decref(s);
        s = with_head_field(fields[i], json_string("1"));
        if (strcmp(fields[i], "bucket") && strcmp(fields[i], "collection") &&
            strcmp(fields[i], "sha256"))
            cr_assert(verify_default(s, err, sizeof(err)) < 0, "string %s accepted", fields[i]);
        json_decref(s);
    }
    s = with_head_field("extra", json_true());
    cr_assert(verify_default(s, err, sizeof(err)) < 0);
    json_decref(s);
    s = with_head_field("timestamp", json_real((double)TS + 0.5));
    cr_assert(verify_default(s, err, sizeof(err)) < 0);
    json_decref(s);
    s = with_head_field("records", json_integer(-1));
    cr_assert(verify_default(s, err, sizeof(err)) < 0);
    json_decref(s);
    /* Uppercase hex is not the canonical spelling. */
    char upper[65];
    strcpy(upper, json_string_value(
                      json_object_get(json_object_get(json_array_get(sigs, 0), "head"), "sha256")));
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    s = with_head_field("sha256", json_string(upper));
    cr_assert(verify_default(s, err, sizeof(err)) < 0);
    json_decref(s);
    /* An integral real is accepted (non-strict parses read numbers as reals). */
    s = with_head_field("timestamp", json_real((double)TS));
    cr_assert(verify_default(s, err, sizeof(err)) == 0, "%s", err);
    json_decref(s);
}

Test(snapshot, entry_shape_rejected)
{
    char err[256];
    json_t *s = json_deep_copy(sigs);
    json_object_set_new(json_array_get(s, 0), "mode", json_string("p384ecdsa"));
    cr_assert(verify_default(s, err, sizeof(err)) < 0);
    json_decref(s);

    s = json_deep_copy(sigs);
    json_object_del(json_array_get(s, 0), "signature");
    cr_assert(verify_default(s, err, sizeof(err)) < 0);
    json_decref(s);

    s = json_deep_copy(sigs);
    json_object_set_new(json_array_get(s, 0), "signature", json_string("AAAA"));
    cr_assert(verify_default(s, err, sizeof(err)) < 0);
    json_decref(s);

    cr_assert(verify_default(json_object_get(json_array_get(sigs, 0), "head"), err, sizeof(err)) <
              0);
    json_t *empty = json_array();
    cr_assert(verify_default(empty, err, sizeof(err)) < 0);
    json_decref(empty);
    cr_assert(verify_default(NULL, err, sizeof(err)) < 0);
}

/* Replaces the records, recomputes their JCS and verifies against the fixture's
 * signatures. */
static int
verify_records(json_t *recs, int sort)
{
    char err[256];
    if (sort)
        sort_records(recs);
    size_t len;
    char *rj = dump(recs, &len);
    int rc = verify_with(rj, len, (int64_t)json_array_size(recs), sigs, BUCKET, COLLECTION, TS, TS,
                         &pub, 1, err, sizeof(err));
    free(rj);
    return rc;
}

Test(snapshot, records_tampered_rejected)
{
    json_t *r;

    r = json_deep_copy(records);
    cr_assert(verify_records(r, 0) == 0); /* control */
    json_decref(r);

    r = json_deep_copy(records);
    json_object_set_new(json_array_get(r, 0), "ratio", json_real(3.14158));
    cr_assert(verify_records(r, 0) < 0);
    json_decref(r);

    r = json_deep_copy(records);
    json_object_set_new(json_array_get(r, 1), "last_modified", json_integer(1700000000004));
    cr_assert(verify_records(r, 0) < 0);
    json_decref(r);

    r = json_deep_copy(records); /* added */
    json_array_append_new(
        r, json_pack("{s:s, s:I}", "id", "zz", "last_modified", (json_int_t)1700000000000));
    cr_assert(verify_records(r, 0) < 0);
    json_decref(r);

    r = json_deep_copy(records); /* dropped */
    json_array_remove(r, 2);
    cr_assert(verify_records(r, 0) < 0);
    json_decref(r);

    r = json_deep_copy(records); /* reordered */
    json_t *first = json_incref(json_array_get(r, 0));
    json_array_remove(r, 0);
    json_array_append_new(r, first);
    cr_assert(verify_records(r, 0) < 0);
    json_decref(r);

    r = json_deep_copy(records); /* a key added inside a nested object */
    json_object_set_new(json_object_get(json_array_get(r, 2), "nested"), "x", json_null());
    cr_assert(verify_records(r, 0) < 0);
    json_decref(r);

    /* Whitespace or any other byte of records_json matters. */
    char err[256];
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_append(&b, records_json, records_len);
    herald_buf_putc(&b, ' ');
    cr_assert(verify_with(b.data, b.len, 3, sigs, BUCKET, COLLECTION, TS, TS, &pub, 1, err,
                          sizeof(err)) < 0);
    herald_buf_free(&b);
}

Test(snapshot, wrong_bucket_or_collection_rejected)
{
    char err[256];
    cr_assert(verify_with(records_json, records_len, 3, sigs, "other", COLLECTION, TS, TS, &pub, 1,
                          err, sizeof(err)) < 0);
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, "other", TS, TS, &pub, 1, err,
                          sizeof(err)) < 0);
    cr_assert(verify_with(records_json, records_len, 3, sigs, COLLECTION, BUCKET, TS, TS, &pub, 1,
                          err, sizeof(err)) < 0);
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, COLLECTION, TS + 1, TS, &pub,
                          1, err, sizeof(err)) < 0);
}

Test(snapshot, expiry)
{
    char err[256];
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, COLLECTION, TS, EXPIRES - 1,
                          &pub, 1, err, sizeof(err)) == 0);
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, COLLECTION, TS, EXPIRES, &pub,
                          1, err, sizeof(err)) < 0);
    cr_assert(strstr(err, "expired") != NULL, "%s", err);
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, COLLECTION, TS,
                          EXPIRES + 1000, &pub, 1, err, sizeof(err)) < 0);
}

Test(snapshot, pinned_keys)
{
    char err[256];
    herald_signkey *k2 = other_key(7);
    herald_signkey *k3 = other_key(9);
    herald_pubkey keys[2];

    /* Unknown key only. */
    keys[0] = *herald_crypto_signkey_public(k2);
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, COLLECTION, TS, TS, keys, 1,
                          err, sizeof(err)) < 0);
    cr_assert(strstr(err, "pinned") != NULL, "%s", err);
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, COLLECTION, TS, TS, keys, 0,
                          err, sizeof(err)) < 0);

    /* An unknown key pinned first, the right one second. */
    keys[1] = pub;
    cr_assert(verify_with(records_json, records_len, 3, sigs, BUCKET, COLLECTION, TS, TS, keys, 2,
                          err, sizeof(err)) == 0,
              "%s", err);
    size_t ki = 99;
    cr_assert_eq(herald_snapshot_find_entry(sigs, keys, 2, &ki), json_array_get(sigs, 0));
    cr_assert_eq(ki, 1);

    /* An entry claiming our key_id but signed by another key. */
    herald_head h;
    head_for(&h, records_json, records_len, 3);
    json_t *forged = herald_snapshot_sign_entry(k2, &h);
    json_object_set_new(forged, "key_id", json_string(pub.key_id));
    json_t *s = json_array();
    json_array_append_new(s, forged);
    cr_assert(verify_with(records_json, records_len, 3, s, BUCKET, COLLECTION, TS, TS, &pub, 1, err,
                          sizeof(err)) < 0);
    json_decref(s);

    /* Two signing keys: each pinned key finds its own entry. */
    s = json_array();
    json_array_append_new(s, herald_snapshot_sign_entry(k3, &h));
    json_array_append_new(s, herald_snapshot_sign_entry(key, &h));
    keys[0] = *herald_crypto_signkey_public(k3);
    cr_assert(verify_with(records_json, records_len, 3, s, BUCKET, COLLECTION, TS, TS, keys, 1, err,
                          sizeof(err)) == 0);
    cr_assert(verify_with(records_json, records_len, 3, s, BUCKET, COLLECTION, TS, TS, &pub, 1, err,
                          sizeof(err)) == 0);

    /* Fail closed: the first pinned key's entry is bad; a good entry for the second pinned
     * key does not rescue it. */
    json_object_set_new(json_object_get(json_array_get(s, 0), "head"), "expires",
                        json_integer(EXPIRES + 1));
    keys[1] = pub;
    cr_assert(verify_with(records_json, records_len, 3, s, BUCKET, COLLECTION, TS, TS, keys, 2, err,
                          sizeof(err)) < 0);
    json_decref(s);
    herald_crypto_signkey_free(k2);
    herald_crypto_signkey_free(k3);
}

/* ---- blob ---- */

static json_t *
tombstones(void)
{
    return json_pack("[{s:b, s:s, s:I}]", "deleted", 1, "id", "gone", "last_modified",
                     (json_int_t)1699999999999);
}

static void
encode_fixture(herald_buf *blob, const char *rj, size_t rlen)
{
    json_t *meta = json_pack("{s:s, s:I, s:s, s:f}", "id", COLLECTION, "last_modified",
                             (json_int_t)1690000000000, "title", "Certificates — ✓", "w", 0.5);
    json_t *bdata = json_pack("{s:s, s:I}", "id", BUCKET, "last_modified", (json_int_t)1);
    json_t *tombs = tombstones();
    herald_snapshot_parts p = {.bucket = BUCKET,
                               .collection = COLLECTION,
                               .timestamp = TS,
                               .metadata = meta,
                               .bucket_data = bdata,
                               .signatures = sigs,
                               .records_json = rj,
                               .records_len = rlen,
                               .tombstones = tombs};
    cr_assert(herald_snapshot_encode(blob, &p, 3) == 0);
    json_decref(meta);
    json_decref(bdata);
    json_decref(tombs);
}

Test(snapshot, blob_round_trip)
{
    char err[256];
    herald_buf blob = HERALD_BUF_INIT;
    encode_fixture(&blob, records_json, records_len);

    herald_snapshot *s = herald_snapshot_decode(blob.data, blob.len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_assert_str_eq(herald_snapshot_bucket(s), BUCKET);
    cr_assert_str_eq(herald_snapshot_collection(s), COLLECTION);
    cr_assert_eq(herald_snapshot_timestamp(s), TS);
    cr_assert_eq(herald_snapshot_expires(s), EXPIRES);
    size_t len;
    const char *rj = herald_snapshot_records_json(s, &len);
    cr_assert_eq(len, records_len);
    cr_assert(memcmp(rj, records_json, len) == 0);
    cr_assert_eq(rj[len], '\0');
    cr_assert_str_eq(json_string_value(json_object_get(herald_snapshot_metadata(s), "title")),
                     "Certificates — ✓");
    cr_assert_str_eq(json_string_value(json_object_get(herald_snapshot_bucket_data(s), "id")),
                     BUCKET);
    cr_assert_eq(json_array_size(herald_snapshot_records(s)), 3);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(herald_snapshot_records(s), 0), "id")),
        "Beta");
    json_t *tombs = tombstones();
    cr_assert_eq(json_array_size(herald_snapshot_tombstones(s)), 1);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(herald_snapshot_tombstones(s), 0), "id")),
        "gone");
    const json_t *e = json_array_get(herald_snapshot_signatures(s), 0);
    cr_assert_eq(json_array_size(herald_snapshot_signatures(s)), 1);
    cr_assert_str_eq(json_string_value(json_object_get(e, "signature")),
                     json_string_value(json_object_get(json_array_get(sigs, 0), "signature")));
    json_decref(tombs);

    cr_assert(herald_snapshot_verify_decoded(s, 0, &pub, 1, err, sizeof(err)) == 0, "%s", err);
    cr_assert(herald_snapshot_verify_decoded(s, TS, &pub, 1, err, sizeof(err)) == 0, "%s", err);
    cr_assert(herald_snapshot_verify_decoded(s, EXPIRES, &pub, 1, err, sizeof(err)) < 0);

    /* Re-encoding the decoded parts gives the same blob: decode loses nothing. */
    herald_snapshot_parts p = fixture_parts_of(s);
    herald_buf again = HERALD_BUF_INIT;
    cr_assert(herald_snapshot_encode(&again, &p, 3) == 0);
    cr_assert_eq(again.len, blob.len);
    cr_assert(memcmp(again.data, blob.data, blob.len) == 0);
    herald_buf_free(&again);

    herald_snapshot_free(s);
    herald_snapshot_free(NULL);
    herald_buf_free(&blob);
}

Test(snapshot, blob_with_unsigned_records_fails_verification)
{
    char err[256];
    json_t *r = json_deep_copy(records);
    json_array_remove(r, 1);
    size_t len;
    char *rj = dump(r, &len);
    herald_buf blob = HERALD_BUF_INIT;
    encode_fixture(&blob, rj, len);
    herald_snapshot *s = herald_snapshot_decode(blob.data, blob.len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_assert(herald_snapshot_verify_decoded(s, 0, &pub, 1, err, sizeof(err)) < 0);
    herald_snapshot_free(s);
    herald_buf_free(&blob);
    json_decref(r);
    free(rj);
}

Test(snapshot, blob_empty_parts)
{
    char err[256];
    herald_buf blob = HERALD_BUF_INIT;
    herald_snapshot_parts p = {.bucket = BUCKET, .collection = COLLECTION, .timestamp = 5};
    cr_assert(herald_snapshot_encode(&blob, &p, 1) == 0);
    herald_snapshot *s = herald_snapshot_decode(blob.data, blob.len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    size_t len;
    cr_assert_str_eq(herald_snapshot_records_json(s, &len), "[]");
    cr_assert_eq(json_object_size(herald_snapshot_metadata(s)), 0);
    cr_assert_eq(json_array_size(herald_snapshot_signatures(s)), 0);
    cr_assert_eq(json_array_size(herald_snapshot_tombstones(s)), 0);
    cr_assert_eq(herald_snapshot_expires(s), 0);
    cr_assert(herald_snapshot_verify_decoded(s, 0, &pub, 1, err, sizeof(err)) < 0);
    herald_snapshot_free(s);
    herald_buf_free(&blob);
}

Test(snapshot, blob_truncated_fails_cleanly)
{
    char err[256];
    herald_buf blob = HERALD_BUF_INIT;
    encode_fixture(&blob, records_json, records_len);
    for (size_t n = 0; n < blob.len; n++) {
        herald_snapshot *s = herald_snapshot_decode(blob.data, n, err, sizeof(err));
        cr_assert_null(s, "prefix %zu decoded", n);
    }
    /* Trailing bytes after the frame. */
    herald_buf_putc(&blob, 0);
    cr_assert_null(herald_snapshot_decode(blob.data, blob.len, err, sizeof(err)));
    herald_buf_free(&blob);
}

/* Compresses 'raw' as a blob would be. */
static void
frame(herald_buf *out, const void *raw, size_t n, int with_size)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size);
    size_t bound = ZSTD_compressBound(n);
    herald_buf_reserve(out, bound);
    ZSTD_outBuffer ob = {out->data + out->len, bound, 0};
    ZSTD_inBuffer ib = {raw, n, 0};
    size_t r;
    do {
        r = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
        cr_assert(!ZSTD_isError(r));
    } while (r);
    out->len += ob.pos;
    ZSTD_freeCCtx(c);
}

static void
put_section(herald_buf *b, const char *s)
{
    size_t n = strlen(s);
    unsigned char l[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    herald_buf_append(b, l, 4);
    herald_buf_append(b, s, n);
}

/* Resets 'raw' to the magic 'magic' and the sections 'a', 'b', 'c' (NULL: left out). */
static void
raw_blob(herald_buf *raw, const char *magic, const char *a, const char *b, const char *c)
{
    herald_buf_reset(raw);
    herald_buf_append(raw, magic, 4);
    const char *sections[] = {a, b, c};
    for (size_t i = 0; i < 3 && sections[i]; i++)
        put_section(raw, sections[i]);
}

static int
decodes(const herald_buf *raw, int with_size)
{
    char err[256];
    herald_buf z = HERALD_BUF_INIT;
    frame(&z, raw->data, raw->len, with_size);
    herald_snapshot *s = herald_snapshot_decode(z.data, z.len, err, sizeof(err));
    int ok = s != NULL;
    herald_snapshot_free(s);
    herald_buf_free(&z);
    return ok;
}

#define GOOD_META                                                                                  \
    "{\"bucket\":\"b\",\"bucket_data\":{},\"collection\":\"c\",\"metadata\":{},"                   \
    "\"signatures\":[],\"timestamp\":1}"

Test(snapshot, blob_garbage_fails_cleanly)
{
    char err[256];
    cr_assert_null(herald_snapshot_decode("", 0, err, sizeof(err)));
    cr_assert_null(herald_snapshot_decode("garbage!", 8, err, sizeof(err)));
    unsigned char noise[512];
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (unsigned char)(i * 131 + 7);
    cr_assert_null(herald_snapshot_decode(noise, sizeof(noise), err, sizeof(err)));

    herald_buf raw = HERALD_BUF_INIT;
    /* Control: a minimal well-formed blob decodes, but only in a frame that declares its
     * content size: the decoder bounds its allocation before decompressing. */
    raw_blob(&raw, "HSB1", GOOD_META, "[]", "[]");
    cr_assert(decodes(&raw, 1));
    cr_assert(!decodes(&raw, 0));

    /* Trailing junk inside the frame. */
    herald_buf_putc(&raw, 'x');
    cr_assert(!decodes(&raw, 1));

    /* Wrong magic. */
    raw_blob(&raw, "HSB2", GOOD_META, "[]", "[]");
    cr_assert(!decodes(&raw, 1));

    /* A section length beyond the end. */
    raw_blob(&raw, "HSB1", GOOD_META, "[]", NULL);
    herald_buf_append(&raw, "\x7f\xff\xff\xff[]", 6);
    cr_assert(!decodes(&raw, 1));

    /* Missing section. */
    raw_blob(&raw, "HSB1", GOOD_META, "[]", NULL);
    cr_assert(!decodes(&raw, 1));

    /* Bad JSON or wrong types in each section. */
    static const char *const bad[][3] = {
        {"{", "[]", "[]"},
        {"[]", "[]", "[]"},
        {"{\"bucket\":\"b\"}", "[]", "[]"},
        {GOOD_META, "{}", "[]"},
        {GOOD_META, "[", "[]"},
        {GOOD_META, "", "[]"},
        {GOOD_META, "[]", "{}"},
        {GOOD_META, "[]", "nope"},
        {"{\"bucket\":1,\"bucket_data\":{},\"collection\":\"c\",\"metadata\":{},"
         "\"signatures\":[],\"timestamp\":1}",
         "[]", "[]"},
        {"{\"bucket\":\"b\",\"bucket_data\":{},\"collection\":\"c\",\"metadata\":[],"
         "\"signatures\":[],\"timestamp\":1}",
         "[]", "[]"},
        {"{\"bucket\":\"b\",\"bucket_data\":{},\"collection\":\"c\",\"metadata\":{},"
         "\"signatures\":{},\"timestamp\":1}",
         "[]", "[]"},
        {"{\"bucket\":\"b\",\"bucket_data\":{},\"collection\":\"c\",\"metadata\":{},"
         "\"signatures\":[],\"timestamp\":1.5}",
         "[]", "[]"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        raw_blob(&raw, "HSB1", bad[i][0], bad[i][1], bad[i][2]);
        cr_assert(!decodes(&raw, 1), "case %zu decoded", i);
    }
    herald_buf_free(&raw);
}

Test(snapshot, blob_states_the_tombstone_cutoff)
{
    /* The signer writes the horizon cut-off it applied; a blob without it (written
     * before the field existed) reads as -1, so the read server falls back to its
     * estimate. */
    char err[256];
    for (int with = 0; with < 2; with++) {
        herald_buf blob = HERALD_BUF_INIT;
        herald_snapshot_parts p = {.bucket = BUCKET,
                                   .collection = COLLECTION,
                                   .timestamp = TS,
                                   .signatures = sigs,
                                   .records_json = records_json,
                                   .records_len = records_len,
                                   .tombstones_since = with ? TS - 86400000 : 0};
        cr_assert(herald_snapshot_encode(&blob, &p, 3) == 0);
        herald_snapshot *s = herald_snapshot_decode(blob.data, blob.len, err, sizeof(err));
        cr_assert_not_null(s, "%s", err);
        cr_assert_eq(herald_snapshot_tombstones_since(s), with ? TS - 86400000 : -1);
        cr_assert(herald_snapshot_verify_decoded(s, 0, &pub, 1, err, sizeof(err)) == 0, "%s", err);
        herald_snapshot_free(s);
        herald_buf_free(&blob);
    }
}
