/*
 * check_snapshot -- snapshot blobs (lib/snapshot.c) and client changeset verification
 * (lib/verify.c) on arbitrary input, against the golden public key.
 *
 * snapshot: the input is a blob as stored in Redis (one zstd frame). Mutated zstd
 * rarely decompresses, so an input starting with the content magic "HSB1" is taken as
 * the decompressed content and compressed here first: the corpus holds both forms.
 * Properties: decode returns a snapshot or NULL with a reason; a decoded snapshot's
 * accessors are consistent (records_json is NUL-terminated at its length, records and
 * tombstones are arrays); verify_decoded returns 0/-1 with a reason, and when it accepts,
 * the signed records_json is the canonical dump of the parsed records (what clients
 * re-derive); encoding the decoded parts again and decoding that gives the same
 * snapshot (bucket, collection, timestamp, records_json bytes, canonical meta and
 * tombstones) and the same verdict.
 *
 * changeset: the input is a response body (parsed strict, as `herald-signer verify`
 * does), or a JSON array [changeset, saved state] (parsed non-strict, so numbers are
 * reals as in a saved state file). Verified with and without the saved state, with the
 * bucket and collection pinned (main/certs) or taken from the metadata. Properties: on
 * failure no state and a reason; on success the state's records are sorted by id with
 * unique ids, its timestamp is the changeset's, and the state verifies again both as a
 * full changeset (its records as the changes) and as a delta of itself.
 */
#include "fuzz_checks.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/snapshot.h"
#include "herald/verify.h"
#include "test_fixture.h"

static herald_pubkey pub;
static int pub_ready;

static int
load_key(void)
{
    if (pub_ready)
        return 0;
    if (herald_crypto_init() != 0 || herald_crypto_pubkey_parse(&pub, HERALD_FUZZ_PUBKEY) != 0)
        return -1;
    pub_ready = 1;
    return 0;
}

/* Canonical form of 'v' into 'b' (reset first); -1 if it cannot be dumped. */
static int
canon(herald_buf *b, const json_t *v)
{
    herald_buf_reset(b);
    return herald_jcs_dump(b, v);
}

static const char *
check_decoded(const herald_snapshot *s, int *verified)
{
    char err[256] = "";
    size_t rlen = 0;
    const char *rj = herald_snapshot_records_json(s, &rlen);
    if (!rj || rj[rlen] != '\0')
        return "snapshot: records_json is not NUL-terminated at its length";
    if (!herald_snapshot_bucket(s) || !herald_snapshot_collection(s))
        return "snapshot: decoded without bucket or collection";
    if (!json_is_array(herald_snapshot_records(s)) ||
        !json_is_array(herald_snapshot_tombstones(s)) ||
        !json_is_array(herald_snapshot_signatures(s)) ||
        !json_is_object(herald_snapshot_metadata(s)) ||
        !json_is_object(herald_snapshot_bucket_data(s)))
        return "snapshot: decoded parts have the wrong types";
    if (herald_snapshot_expires(s) < 0)
        return "snapshot: negative expiry";
    int rc = herald_snapshot_verify_decoded(s, 0, &pub, 1, err, sizeof(err));
    if (rc != 0 && (rc != -1 || err[0] == '\0'))
        return "snapshot: verify failed without a reason";
    *verified = rc == 0;
    if (rc == 0) {
        herald_buf b = HERALD_BUF_INIT;
        int same = canon(&b, herald_snapshot_records(s)) == 0 && b.len == rlen &&
                   memcmp(b.data, rj, rlen) == 0;
        herald_buf_free(&b);
        if (!same)
            return "snapshot: verified records_json is not the canonical form of the records";
    }
    /* An expiry check never turns a rejection into an acceptance. */
    int rc2 = herald_snapshot_verify_decoded(s, 1, &pub, 1, err, sizeof(err));
    if (rc2 == 0 && rc != 0)
        return "snapshot: verify with an expiry check accepted what plain verify refused";
    return NULL;
}

static const char *
check_roundtrip(const herald_snapshot *s, int verified)
{
    const char *why = NULL;
    herald_buf blob = HERALD_BUF_INIT, a = HERALD_BUF_INIT, b = HERALD_BUF_INIT;
    herald_snapshot *t = NULL;
    herald_snapshot_parts parts = fixture_parts_of(s);
    if (herald_snapshot_encode(&blob, &parts, 1) != 0) {
        why = "snapshot: a decoded snapshot does not encode";
        goto out;
    }
    char err[256];
    t = herald_snapshot_decode(blob.data, blob.len, err, sizeof(err));
    if (!t) {
        why = "snapshot: decode(encode(decode(x))) failed";
        goto out;
    }
    size_t tlen;
    const char *trj = herald_snapshot_records_json(t, &tlen);
    if (strcmp(herald_snapshot_bucket(s), herald_snapshot_bucket(t)) != 0 ||
        strcmp(herald_snapshot_collection(s), herald_snapshot_collection(t)) != 0 ||
        herald_snapshot_timestamp(s) != herald_snapshot_timestamp(t) || tlen != parts.records_len ||
        memcmp(trj, parts.records_json, tlen) != 0) {
        why = "snapshot: re-encoding changed bucket, collection, timestamp or records";
        goto out;
    }
    const json_t *pairs[][2] = {
        {herald_snapshot_metadata(s), herald_snapshot_metadata(t)},
        {herald_snapshot_bucket_data(s), herald_snapshot_bucket_data(t)},
        {herald_snapshot_signatures(s), herald_snapshot_signatures(t)},
        {herald_snapshot_tombstones(s), herald_snapshot_tombstones(t)},
        {herald_snapshot_records(s), herald_snapshot_records(t)},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        if (canon(&a, pairs[i][0]) != 0 || canon(&b, pairs[i][1]) != 0 || a.len != b.len ||
            memcmp(a.data, b.data, a.len) != 0) {
            why = "snapshot: re-encoding changed metadata, signatures or tombstones";
            goto out;
        }
    }
    int v2 = herald_snapshot_verify_decoded(t, 0, &pub, 1, err, sizeof(err)) == 0;
    if (v2 != verified)
        why = "snapshot: re-encoding changed the verification verdict";
out:
    herald_snapshot_free(t);
    herald_buf_free(&blob);
    herald_buf_free(&a);
    herald_buf_free(&b);
    return why;
}

const char *
herald_fuzz_check_snapshot(const uint8_t *data, size_t size)
{
    char err[256] = "";
    const char *why = NULL;
    void *z = NULL;
    const void *blob = data;
    size_t len = size;
    if (load_key() < 0)
        return "snapshot: cannot load the golden public key";
    if (size >= 4 && memcmp(data, "HSB1", 4) == 0) {
        size_t bound = ZSTD_compressBound(size);
        z = malloc(bound);
        len = ZSTD_compress(z, bound, data, size, 1);
        if (ZSTD_isError(len)) {
            free(z);
            return "snapshot: zstd cannot compress the raw content";
        }
        blob = z;
    }
    herald_snapshot *s = herald_snapshot_decode(blob, len, err, sizeof(err));
    if (!s) {
        if (err[0] == '\0')
            why = "snapshot: decode failed without a reason";
    } else {
        int verified = 0;
        why = check_decoded(s, &verified);
        if (!why)
            why = check_roundtrip(s, verified);
    }
    herald_snapshot_free(s);
    free(z);
    return why;
}

/* ---- changeset -------------------------------------------------------------------------- */

static const char *
check_state(const json_t *state, const json_t *changeset)
{
    const json_t *recs = json_object_get(state, "records");
    if (!json_is_object(state) || !json_is_array(recs) ||
        !json_is_string(json_object_get(state, "bucket")) ||
        !json_is_string(json_object_get(state, "collection")))
        return "changeset: accepted state lacks bucket, collection or records";
    if (json_number_value(json_object_get(state, "timestamp")) !=
        json_number_value(json_object_get(changeset, "timestamp")))
        return "changeset: state timestamp is not the changeset's";
    const char *prev = NULL;
    size_t i;
    const json_t *r;
    json_array_foreach(recs, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        if (!id)
            return "changeset: accepted state has a record without an id";
        if (json_is_true(json_object_get(r, "deleted")))
            return "changeset: accepted state kept a tombstone";
        if (prev && strcmp(prev, id) >= 0)
            return "changeset: state records are not sorted by unique id";
        prev = id;
    }
    return NULL;
}

/* The accepted 'state' must verify again: as a full changeset and as its own delta. */
static const char *
check_reverify(const json_t *state, const json_t *changeset, const herald_verify_opts *o)
{
    const char *why = NULL;
    char err[256];
    json_t *st2 = NULL, *st3 = NULL;
    json_t *full = json_pack("{s:O, s:O, s:O}", "metadata", json_object_get(changeset, "metadata"),
                             "timestamp", json_object_get(changeset, "timestamp"), "changes",
                             json_object_get(state, "records"));
    herald_buf a = HERALD_BUF_INIT, b = HERALD_BUF_INIT;
    if (!full)
        return "changeset: cannot rebuild a full changeset";
    if (herald_verify_changeset(&st2, full, NULL, o, err, sizeof(err)) != 0) {
        why = "changeset: the accepted state does not verify as a full changeset";
        goto out;
    }
    if (herald_verify_changeset(&st3, changeset, state, o, err, sizeof(err)) != 0) {
        why = "changeset: re-applying the changeset to its own result fails";
        goto out;
    }
    if (canon(&a, state) != 0 || canon(&b, st2) != 0 || a.len != b.len ||
        memcmp(a.data, b.data, a.len) != 0) {
        why = "changeset: the full changeset of a state verifies to another state";
        goto out;
    }
    if (canon(&b, st3) != 0 || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        why = "changeset: re-applying a changeset changed the state";
out:
    json_decref(full);
    json_decref(st2);
    json_decref(st3);
    herald_buf_free(&a);
    herald_buf_free(&b);
    return why;
}

static const char *
verify_one(const json_t *cs, const json_t *prev, const herald_verify_opts *o)
{
    char err[256] = "";
    json_t *state = (json_t *)1; /* must be reset to NULL on failure */
    const char *why = NULL;
    int rc = herald_verify_changeset(&state, cs, prev, o, err, sizeof(err));
    if (rc != 0) {
        if (rc != -1 || state != NULL || err[0] == '\0')
            return "changeset: a failure left a state or no reason";
        return NULL;
    }
    if (!state)
        return "changeset: success without a state";
    why = check_state(state, cs);
    if (!why)
        why = check_reverify(state, cs, o);
    json_decref(state);
    return why;
}

const char *
herald_fuzz_check_changeset(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    if (load_key() < 0)
        return "changeset: cannot load the golden public key";
    json_t *v = herald_jcs_parse((const char *)data, size, HERALD_JCS_STRICT, 0, NULL, 0);
    const json_t *cs = v, *prev = NULL;
    if (!v || json_is_array(v)) {
        json_decref(v);
        v = herald_jcs_parse((const char *)data, size, 0, 0, NULL, 0);
        if (!json_is_array(v)) {
            json_decref(v);
            return NULL;
        }
        cs = json_array_get(v, 0);
        prev = json_array_get(v, 1);
    }
    const herald_verify_opts pinned = {&pub, 1, 0, "main", "certs"};
    const herald_verify_opts from_meta = {&pub, 1, 1700000000003LL, NULL, NULL};
    why = verify_one(cs, NULL, &pinned);
    if (!why)
        why = verify_one(cs, NULL, &from_meta);
    if (!why && prev)
        why = verify_one(cs, prev, &pinned);
    if (!why && prev)
        why = verify_one(cs, prev, &from_meta);
    json_decref(v);
    return why;
}
