/*
 * test_signer_blob -- the signer's way of building a snapshot blob: records_json and the
 * tombstones already serialized (herald_snapshot_parts.tombstones_json, kept by the
 * signer's in-memory copy) instead of a json_t array. The blob must decode to the same
 * parts and verify, exactly as one built from json_t tombstones.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cache.h"
#include "herald/crypto.h"
#include "herald/snapshot.h"

static cache_entry *
rec(const char *id, int64_t lm, const char *json)
{
    return cache_entry_new(id, strlen(id), lm, json, strlen(json));
}

Test(signer_blob, serialized_tombstones_round_trip)
{
    cr_assert(herald_crypto_init() == 0);
    unsigned char seed[32] = {7};
    herald_signkey *k = herald_crypto_signkey_from_seed(seed);
    cr_assert(k);

    cache_table live = {0}, tombs = {0};
    cache_change ch[3] = {
        {"b", 1, rec("b", 12, "{\"id\":\"b\",\"last_modified\":12}")},
        {"a", 1, rec("a", 11, "{\"id\":\"a\",\"last_modified\":11,\"x\":\"\u00e9\"}")},
        {"c", 1, NULL},
    };
    cache_table_apply(&live, ch, 3);
    cache_change tc[2] = {{"c", 1, cache_entry_tombstone("c", 1, 13)},
                          {"d-1", 3, cache_entry_tombstone("d-1", 3, 9)}};
    cache_table_apply(&tombs, tc, 2);
    herald_buf rj = HERALD_BUF_INIT, tj = HERALD_BUF_INIT;
    cache_table_json(&rj, &live);
    cache_table_json(&tj, &tombs);

    herald_head h = {"bk", "co", 13, 99999999999999, (int64_t)live.n, {0}};
    herald_crypto_sha256_hex(h.sha256, rj.data, rj.len);
    json_t *sigs = json_pack("[o]", herald_snapshot_sign_entry(k, &h));
    json_t *meta = json_pack("{s:s}", "id", "co");
    herald_snapshot_parts p = {.bucket = "bk",
                               .collection = "co",
                               .timestamp = 13,
                               .metadata = meta,
                               .signatures = sigs,
                               .records_json = rj.data,
                               .records_len = rj.len,
                               .tombstones_json = tj.data,
                               .tombstones_len = tj.len};
    herald_buf blob = HERALD_BUF_INIT;
    cr_assert(herald_snapshot_encode(&blob, &p, 3) == 0);

    char err[200];
    herald_snapshot *s = herald_snapshot_decode(blob.data, blob.len, err, sizeof(err));
    cr_assert(s, "%s", err);
    size_t len;
    const char *got = herald_snapshot_records_json(s, &len);
    cr_assert_eq(len, rj.len);
    cr_assert(memcmp(got, rj.data, len) == 0);
    cr_assert_eq(json_array_size(herald_snapshot_records(s)), 2);
    const json_t *t = herald_snapshot_tombstones(s);
    cr_assert_eq(json_array_size(t), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "id")), "c");
    cr_assert(json_is_true(json_object_get(json_array_get(t, 1), "deleted")));
    cr_assert_eq(json_number_value(json_object_get(json_array_get(t, 1), "last_modified")), 9);
    const herald_pubkey *pk = herald_crypto_signkey_public(k);
    cr_assert(herald_snapshot_verify_decoded(s, 0, pk, 1, err, sizeof(err)) == 0, "%s", err);

    herald_snapshot_free(s);
    herald_buf_free(&blob);
    herald_buf_free(&rj);
    herald_buf_free(&tj);
    json_decref(sigs);
    json_decref(meta);
    cache_table_clear(&live);
    cache_table_clear(&tombs);
    herald_crypto_signkey_free(k);
}
