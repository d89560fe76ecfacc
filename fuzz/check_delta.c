/*
 * check_delta -- herald_state_apply (lib/delta.c, the read server's parser of the deltas
 * it fetches from Redis) on arbitrary input, against a fixed base state: a blob of four
 * records and one tombstone signed by the golden key (seed 00 01 .. 1f) at version
 * DELTA_BASE_V.
 *
 * Properties: apply never crashes and explains every refusal. When it accepts (the
 * corpus holds deltas signed with the golden key, from herald_fuzz_delta_seed): the
 * result's records_json splits into exactly its records, sorted by unique id; it
 * verifies again as a full snapshot would; no id is both a record and a tombstone; every
 * tombstone is newer than the stated cut-off; and the result, used as a base, refuses the
 * same delta again (its base is no longer the held version).
 */
#include "fuzz_checks.h"

#include <string.h>

#include "herald/crypto.h"
#include "herald/delta.h"
#include "herald/jcs.h"
#include "herald/snapshot.h"
#include "test_fixture.h"

#define DELTA_BASE_V 1700000000000LL

static herald_pubkey pub;
static herald_state *base;

/* Signature entries of 'records_json' (n records) at version v, golden key. */
static json_t *
sign(const char *records_json, size_t len, int64_t n, int64_t v)
{
    herald_signkey *k = fixture_signkey(0, 1);
    herald_head h = {"main", "certs", v, v + 86400000, n, {0}};
    herald_crypto_sha256_hex(h.sha256, records_json, len);
    json_t *sigs = json_array();
    json_array_append_new(sigs, herald_snapshot_sign_entry(k, &h));
    herald_crypto_signkey_free(k);
    return sigs;
}

static const char BASE_RECORDS[] =
    "[{\"id\":\"a\",\"last_modified\":1,\"v\":1},{\"id\":\"b\",\"last_modified\":2,\"v\":\"x,]"
    "\\\"\"},"
    "{\"id\":\"c\",\"last_modified\":3,\"n\":{\"k\":[1,{}]}},{\"id\":\"e\",\"last_modified\":5}]";

static int
setup(void)
{
    if (base)
        return 0;
    if (herald_crypto_init() != 0 || herald_crypto_pubkey_parse(&pub, HERALD_FUZZ_PUBKEY) != 0)
        return -1;
    json_t *sigs = sign(BASE_RECORDS, sizeof(BASE_RECORDS) - 1, 4, DELTA_BASE_V);
    json_t *attrs = json_object();
    const char tombs[] = "[{\"deleted\":true,\"id\":\"d\",\"last_modified\":4}]";
    herald_snapshot_parts p = {.bucket = "main",
                               .collection = "certs",
                               .timestamp = DELTA_BASE_V,
                               .metadata = attrs,
                               .bucket_data = attrs,
                               .signatures = sigs,
                               .records_json = BASE_RECORDS,
                               .records_len = sizeof(BASE_RECORDS) - 1,
                               .tombstones_json = tombs,
                               .tombstones_len = sizeof(tombs) - 1};
    herald_buf blob = HERALD_BUF_INIT;
    herald_snapshot *s = NULL;
    if (herald_snapshot_encode(&blob, &p, 1) == 0)
        s = herald_snapshot_decode(blob.data, blob.len, NULL, 0);
    if (s)
        base = herald_state_from_snapshot(s, NULL, 0);
    herald_snapshot_free(s);
    herald_buf_free(&blob);
    json_decref(sigs);
    json_decref(attrs);
    return base ? 0 : -1;
}

int
herald_fuzz_delta_seed(herald_buf *out, int which)
{
    /* 0: b replaced, c deleted, f added; 1: a re-sign with an attribute change; 2: the
     * horizon passes d's tombstone, a deleted. */
    static const char *recs[] = {
        "[{\"id\":\"b\",\"last_modified\":7,\"v\":\"y\"},{\"id\":\"f\",\"last_modified\":8}]", "[]",
        "[]"};
    static const char *tombs[] = {"[{\"deleted\":true,\"id\":\"c\",\"last_modified\":9}]", "[]",
                                  "[{\"deleted\":true,\"id\":\"a\",\"last_modified\":9}]"};
    static const char *after[] = {
        "[{\"id\":\"a\",\"last_modified\":1,\"v\":1},{\"id\":\"b\",\"last_modified\":7,\"v\":\"y\"}"
        ","
        "{\"id\":\"e\",\"last_modified\":5},{\"id\":\"f\",\"last_modified\":8}]",
        BASE_RECORDS,
        "[{\"id\":\"b\",\"last_modified\":2,\"v\":\"x,]\\\"\"},"
        "{\"id\":\"c\",\"last_modified\":3,\"n\":{\"k\":[1,{}]}},{\"id\":\"e\",\"last_modified\":5}"
        "]"};
    static const int64_t n[] = {4, 4, 3};
    if (which < 0 || which > 2 || setup() < 0)
        return -1;
    int64_t v = DELTA_BASE_V + 10;
    json_t *sigs = sign(after[which], strlen(after[which]), n[which], v);
    json_t *attrs = which == 1 ? json_pack("{s:s}", "displayFields", "v") : json_object();
    json_t *battrs = json_object();
    herald_delta_parts d = {.bucket = "main",
                            .collection = "certs",
                            .base = DELTA_BASE_V,
                            .timestamp = v,
                            .tombstones_since = which == 2 ? 4 : 0,
                            .metadata = attrs,
                            .bucket_data = battrs,
                            .signatures = sigs,
                            .records_json = recs[which],
                            .records_len = strlen(recs[which]),
                            .tombstones_json = tombs[which],
                            .tombstones_len = strlen(tombs[which])};
    int rc = herald_delta_encode(out, &d);
    json_decref(sigs);
    json_decref(attrs);
    json_decref(battrs);
    return rc;
}

static int
id_less(const herald_state_entry *a, const herald_state_entry *b)
{
    int c = memcmp(a->id, b->id, a->idlen < b->idlen ? a->idlen : b->idlen);
    return c ? c < 0 : a->idlen < b->idlen;
}

const char *
herald_fuzz_check_delta(const uint8_t *data, size_t size)
{
    char err[256] = "";
    if (setup() < 0)
        return "base state does not build";
    herald_state *st = herald_state_apply(base, data, size, &pub, 1, err, sizeof(err));
    /* The read server's form (borrowing the base's bytes) accepts exactly what this
     * does, with the same entries. */
    herald_state *bst = herald_state_apply_borrowing(base, data, size, &pub, 1, NULL, 0);
    if (!st != !bst) {
        herald_state_free(st);
        herald_state_free(bst);
        return "copying and borrowing disagree on a delta";
    }
    if (!st)
        return err[0] ? NULL : "refused without a reason";
    const char *bad = NULL;
    for (int t = 0; t < 2 && !bad; t++) {
        if (herald_state_count(st, t) != herald_state_count(bst, t))
            bad = "copying and borrowing give different counts";
        for (size_t i = 0; i < herald_state_count(st, t) && !bad; i++) {
            herald_state_entry x, y;
            herald_state_get(st, t, i, &x);
            herald_state_get(bst, t, i, &y);
            if (x.idlen != y.idlen || memcmp(x.id, y.id, x.idlen) || x.lm != y.lm ||
                x.len != y.len || memcmp(x.json, y.json, x.len))
                bad = "copying and borrowing give different entries";
        }
    }
    herald_state_free(bst);
    if (bad) {
        herald_state_free(st);
        return bad;
    }
    size_t len;
    const char *rj = herald_state_records_json(st, &len);
    json_t *arr = herald_jcs_parse(rj, len, 0, 0, NULL, 0);
    size_t nrec = herald_state_count(st, 0), ntomb = herald_state_count(st, 1);
    if (!json_is_array(arr) || json_array_size(arr) != nrec) {
        bad = "records_json does not hold the state's records";
        goto out;
    }
    for (size_t t = 0; t < 2; t++) {
        size_t cnt = t ? ntomb : nrec;
        for (size_t i = 0; i < cnt; i++) {
            herald_state_entry e, prev;
            herald_state_get(st, (int)t, i, &e);
            if (i > 0) {
                herald_state_get(st, (int)t, i - 1, &prev);
                if (!id_less(&prev, &e)) {
                    bad = "ids not sorted or repeated";
                    goto out;
                }
            }
            if (t == 0) {
                const json_t *id = json_object_get(json_array_get(arr, i), "id");
                if (!json_is_string(id) || json_string_length(id) != e.idlen ||
                    memcmp(json_string_value(id), e.id, e.idlen) != 0) {
                    bad = "a record's id is not the one in its bytes";
                    goto out;
                }
            } else {
                int64_t cut = herald_state_tombstones_since(st);
                if (cut > 0 && e.lm <= cut) {
                    bad = "a tombstone at or below the cut-off was kept";
                    goto out;
                }
                for (size_t j = 0; j < nrec; j++) {
                    herald_state_entry r;
                    herald_state_get(st, 0, j, &r);
                    if (r.idlen == e.idlen && memcmp(r.id, e.id, e.idlen) == 0) {
                        bad = "an id is both a record and a tombstone";
                        goto out;
                    }
                }
            }
        }
    }
    if (herald_snapshot_verify(rj, len, (int64_t)nrec, herald_state_signatures(st),
                               herald_state_bucket(st), herald_state_collection(st),
                               herald_state_timestamp(st), 0, &pub, 1, NULL, 0) < 0) {
        bad = "an accepted state does not verify again";
        goto out;
    }
    herald_state *again = herald_state_apply(st, data, size, &pub, 1, NULL, 0);
    if (again) {
        herald_state_free(again);
        bad = "a delta applied twice";
    }
out:
    json_decref(arr);
    herald_state_free(st);
    return bad;
}
