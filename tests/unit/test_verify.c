/*
 * test_verify -- client-side changeset verification: a full changeset, deltas merged into
 * a saved state (updates, additions, tombstones), and the ways a server could lie: omit a
 * change, roll the version back, drop signatures, name a record twice.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/snapshot.h"
#include "herald/verify.h"
#include "test_fixture.h"

#define BUCKET "main"
#define COLLECTION "certs"
#define DAY 86400000LL

static herald_signkey *key;
static herald_pubkey pub;
static herald_verify_opts opts;

static void
setup(void)
{
    cr_assert(herald_crypto_init() == 0);
    key = fixture_signkey(0xa0, 1);
    pub = *herald_crypto_signkey_public(key);
    opts = (herald_verify_opts){
        .keys = &pub, .nkeys = 1, .now_ms = 0, .bucket = BUCKET, .collection = COLLECTION};
}

static void
teardown(void)
{
    herald_crypto_signkey_free(key);
}

TestSuite(verify, .init = setup, .fini = teardown);

static json_t *
rec(const char *id, long long lm, const char *title)
{
    return json_pack("{s:s, s:I, s:s, s:f}", "id", id, "last_modified", (json_int_t)lm, "title",
                     title, "weight", 0.25);
}

static json_t *
tomb(const char *id, long long lm)
{
    return json_pack("{s:b, s:s, s:I}", "deleted", 1, "id", id, "last_modified", (json_int_t)lm);
}

/* A changeset signed over 'live' (the whole state, any order; stolen), serving 'changes'
 * (stolen) at version 'ts'. */
static json_t *
changeset(json_t *live, json_t *changes, long long ts)
{
    json_t *e = fixture_sign_records(key, BUCKET, COLLECTION, live, ts, ts + 2 * DAY, NULL);
    cr_assert_not_null(e);
    json_t *cs = json_pack("{s:{s:s, s:s, s:O, s:[o]}, s:I, s:o}", "metadata", "bucket", BUCKET,
                           "id", COLLECTION, "signature", e, "signatures", e, "timestamp",
                           (json_int_t)ts, "changes", changes);
    cr_assert_not_null(cs);
    json_decref(live);
    return cs;
}

static const char *
rec_id(const json_t *state, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(state, "records"), i), "id"));
}

/* The records of state 1, in id order (a new array). */
static json_t *
records1(void)
{
    return json_pack("[o,o,o]", rec("a", 998, "A"), rec("b", 999, "B"), rec("c", 1000, "C"));
}

/* State 1: a, b, c at version 1000. */
static json_t *
state1(void)
{
    json_t *cs = changeset(
        json_pack("[o,o,o]", rec("c", 1000, "C"), rec("a", 998, "A"), rec("b", 999, "B")),
        json_pack("[o,o,o]", rec("c", 1000, "C"), rec("b", 999, "B"), rec("a", 998, "A")), 1000);
    json_t *st = NULL;
    char err[256];
    cr_assert(herald_verify_changeset(&st, cs, NULL, &opts, err, sizeof(err)) == 0, "%s", err);
    json_decref(cs);
    return st;
}

Test(verify, full_changeset)
{
    json_t *st = state1();
    cr_assert_str_eq(json_string_value(json_object_get(st, "bucket")), BUCKET);
    cr_assert_str_eq(json_string_value(json_object_get(st, "collection")), COLLECTION);
    cr_assert_eq(json_integer_value(json_object_get(st, "timestamp")), 1000);
    cr_assert_eq(json_array_size(json_object_get(st, "records")), 3);
    cr_assert_str_eq(rec_id(st, 0), "a");
    cr_assert_str_eq(rec_id(st, 1), "b");
    cr_assert_str_eq(rec_id(st, 2), "c");
    cr_assert_eq(json_object_size(st), 4);
    json_decref(st);
}

Test(verify, full_changeset_ids_from_metadata)
{
    json_t *cs =
        changeset(json_pack("[o]", rec("a", 5, "A")), json_pack("[o]", rec("a", 5, "A")), 5);
    herald_verify_opts o = opts;
    o.bucket = NULL;
    o.collection = NULL;
    json_t *st = NULL;
    char err[256];
    cr_assert(herald_verify_changeset(&st, cs, NULL, &o, err, sizeof(err)) == 0, "%s", err);
    json_decref(st);
    /* Served for another collection than the one asked for. */
    o.collection = "other";
    cr_assert(herald_verify_changeset(&st, cs, NULL, &o, err, sizeof(err)) < 0);
    cr_assert_null(st);
    json_decref(cs);
}

Test(verify, delta_merge_with_tombstones)
{
    char err[256];
    json_t *prev = state1();
    /* Version 1005: a updated, b deleted, d added, e created and deleted since 1000. */
    json_t *cs = changeset(
        json_pack("[o,o,o]", rec("a", 1003, "A2"), rec("c", 1000, "C"), rec("d", 1004, "D")),
        json_pack("[o,o,o,o]", tomb("e", 1005), rec("d", 1004, "D"), rec("a", 1003, "A2"),
                  tomb("b", 1001)),
        1005);
    json_t *st = NULL;
    cr_assert(herald_verify_changeset(&st, cs, prev, &opts, err, sizeof(err)) == 0, "%s", err);
    cr_assert_eq(json_integer_value(json_object_get(st, "timestamp")), 1005);
    cr_assert_eq(json_array_size(json_object_get(st, "records")), 3);
    cr_assert_str_eq(rec_id(st, 0), "a");
    cr_assert_str_eq(rec_id(st, 1), "c");
    cr_assert_str_eq(rec_id(st, 2), "d");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(st, "records"), 0), "title")),
                     "A2");

    /* The saved state goes through a file: canonical JSON, read back non-strictly (numbers
     * become reals). A further delta still merges and verifies. */
    herald_buf b = HERALD_BUF_INIT;
    cr_assert(herald_jcs_dump(&b, st) == 0);
    json_t *saved = herald_jcs_parse(b.data, b.len, 0, 0, err, sizeof(err));
    cr_assert_not_null(saved, "%s", err);
    json_t *cs2 = changeset(json_pack("[o,o]", rec("c", 1000, "C"), rec("d", 1004, "D")),
                            json_pack("[o]", tomb("a", 1006)), 1006);
    json_t *st2 = NULL;
    cr_assert(herald_verify_changeset(&st2, cs2, saved, &opts, err, sizeof(err)) == 0, "%s", err);
    cr_assert_eq(json_array_size(json_object_get(st2, "records")), 2);
    cr_assert_str_eq(rec_id(st2, 0), "c");

    herald_buf_free(&b);
    json_decref(saved);
    json_decref(cs2);
    json_decref(st2);
    json_decref(st);
    json_decref(cs);
    json_decref(prev);
}

Test(verify, delta_everything_deleted)
{
    char err[256];
    json_t *prev = state1();
    json_t *cs =
        changeset(json_array(),
                  json_pack("[o,o,o]", tomb("a", 1003), tomb("b", 1002), tomb("c", 1001)), 1003);
    json_t *st = NULL;
    cr_assert(herald_verify_changeset(&st, cs, prev, &opts, err, sizeof(err)) == 0, "%s", err);
    cr_assert_eq(json_array_size(json_object_get(st, "records")), 0);
    json_decref(st);
    json_decref(cs);
    json_decref(prev);
}

Test(verify, delta_missing_change_rejected)
{
    char err[256];
    json_t *prev = state1();
    /* Signed state has b deleted, but the server omits the tombstone. */
    json_t *cs =
        changeset(json_pack("[o,o]", rec("a", 998, "A"), rec("c", 1000, "C")), json_array(), 1001);
    json_t *st = NULL;
    cr_assert(herald_verify_changeset(&st, cs, prev, &opts, err, sizeof(err)) < 0);
    cr_assert_null(st);
    json_decref(cs);

    /* Or serves an altered record. */
    cs = changeset(
        json_pack("[o,o,o]", rec("a", 1001, "A2"), rec("b", 999, "B"), rec("c", 1000, "C")),
        json_pack("[o]", rec("a", 1001, "A3")), 1001);
    cr_assert(herald_verify_changeset(&st, cs, prev, &opts, err, sizeof(err)) < 0);
    cr_assert(strstr(err, "sha256") != NULL, "%s", err);
    json_decref(cs);
    json_decref(prev);
}

Test(verify, timestamp_going_back_rejected)
{
    char err[256];
    json_t *prev = state1();
    /* A genuinely signed but older version (replay of a past state). */
    json_t *cs = changeset(records1(), json_array(), 999);
    json_t *st = NULL;
    cr_assert(herald_verify_changeset(&st, cs, prev, &opts, err, sizeof(err)) < 0);
    cr_assert(strstr(err, "older") != NULL, "%s", err);
    cr_assert_null(st);
    json_decref(cs);

    /* The same version again (nothing changed) is fine. */
    cs = changeset(records1(), json_array(), 1000);
    cr_assert(herald_verify_changeset(&st, cs, prev, &opts, err, sizeof(err)) == 0, "%s", err);
    json_decref(st);
    json_decref(cs);

    /* A re-signed version (same records, newer V) too. */
    cs = changeset(records1(), json_array(), 5000);
    cr_assert(herald_verify_changeset(&st, cs, prev, &opts, err, sizeof(err)) == 0, "%s", err);
    cr_assert_eq(json_integer_value(json_object_get(st, "timestamp")), 5000);
    json_decref(st);
    json_decref(cs);
    json_decref(prev);
}

Test(verify, served_timestamp_must_match_head)
{
    char err[256];
    json_t *cs =
        changeset(json_pack("[o]", rec("a", 5, "A")), json_pack("[o]", rec("a", 5, "A")), 5);
    json_object_set_new(cs, "timestamp", json_integer(6));
    json_t *st = NULL;
    cr_assert(herald_verify_changeset(&st, cs, NULL, &opts, err, sizeof(err)) < 0);
    json_decref(cs);
}

Test(verify, malformed_changesets_rejected)
{
    char err[256];
    json_t *st = NULL;
    json_t *cs =
        changeset(json_pack("[o]", rec("a", 5, "A")), json_pack("[o]", rec("a", 5, "A")), 5);
    json_t *c;

    c = json_deep_copy(cs);
    json_object_del(json_object_get(c, "metadata"), "signatures");
    cr_assert(herald_verify_changeset(&st, c, NULL, &opts, err, sizeof(err)) < 0);
    cr_assert(strstr(err, "signatures") != NULL, "%s", err);
    json_decref(c);

    c = json_deep_copy(cs);
    json_object_set_new(c, "timestamp", json_string("5"));
    cr_assert(herald_verify_changeset(&st, c, NULL, &opts, err, sizeof(err)) < 0);
    json_decref(c);

    c = json_deep_copy(cs);
    json_object_set_new(c, "timestamp", json_real(5.5));
    cr_assert(herald_verify_changeset(&st, c, NULL, &opts, err, sizeof(err)) < 0);
    json_decref(c);

    c = json_deep_copy(cs);
    json_object_del(c, "changes");
    cr_assert(herald_verify_changeset(&st, c, NULL, &opts, err, sizeof(err)) < 0);
    json_decref(c);

    c = json_deep_copy(cs); /* the same id twice */
    json_array_append_new(json_object_get(c, "changes"), rec("a", 4, "old"));
    cr_assert(herald_verify_changeset(&st, c, NULL, &opts, err, sizeof(err)) < 0);
    json_decref(c);

    c = json_deep_copy(cs); /* a change without an id */
    json_array_append_new(json_object_get(c, "changes"), json_pack("{s:I}", "last_modified", 4));
    cr_assert(herald_verify_changeset(&st, c, NULL, &opts, err, sizeof(err)) < 0);
    json_decref(c);

    json_t *arr = json_array();
    cr_assert(herald_verify_changeset(&st, arr, NULL, &opts, err, sizeof(err)) < 0);
    json_decref(arr);
    cr_assert_null(st);

    /* Expired, and an unpinned key. */
    herald_verify_opts o = opts;
    o.now_ms = 5 + 2 * DAY;
    cr_assert(herald_verify_changeset(&st, cs, NULL, &o, err, sizeof(err)) < 0);
    o.now_ms = 5 + 2 * DAY - 1;
    cr_assert(herald_verify_changeset(&st, cs, NULL, &o, err, sizeof(err)) == 0, "%s", err);
    json_decref(st);
    herald_pubkey other;
    cr_assert(herald_crypto_pubkey_parse(&other, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo") ==
              0);
    o = opts;
    o.keys = &other;
    cr_assert(herald_verify_changeset(&st, cs, NULL, &o, err, sizeof(err)) < 0);
    json_decref(cs);
}

Test(verify, prev_for_other_collection_rejected)
{
    char err[256];
    json_t *prev = state1();
    json_object_set_new(prev, "collection", json_string("other"));
    json_t *cs = changeset(records1(), json_array(), 1000);
    json_t *st = NULL;
    cr_assert(herald_verify_changeset(&st, cs, prev, &opts, err, sizeof(err)) < 0);
    json_decref(cs);
    json_decref(prev);
}
