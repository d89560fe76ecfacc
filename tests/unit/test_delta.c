/*
 * test_delta -- incremental publishing (include/herald/delta.h, docs/incremental.md),
 * differentially: a model collection goes through random edit sequences (creations,
 * updates, deletions, re-creations, several edits per version, attribute changes,
 * re-signs with no change, the tombstone horizon moving past tombstones); every version
 * is encoded both as a full blob and as a delta from the version before, exactly as the
 * signer does, and the state built by applying the chain of deltas must equal, byte for
 * byte, the state decoded from the full blob. Record values are drawn to contain the
 * characters the element scanner must see through (quotes, escapes, brackets, commas,
 * non-ASCII). Full blobs are also decoded as the loader does (indexed by lib/jscan.c, no
 * tree): the same state. Then every tampering is refused: a changed record, a missing change, the
 * wrong base, another version's head, a delta for another collection, truncation.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/crypto.h"
#include "herald/delta.h"
#include "herald/jcs.h"
#include "herald/snapshot.h"
#include "test_delta_model.h"
#include "test_fixture.h"

static void assert_same_state(const herald_state *a, const herald_state *b, const char *ctx);

static herald_state *
state_of_blob(const herald_buf *blob)
{
    char err[256];
    herald_snapshot *s = herald_snapshot_decode(blob->data, blob->len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_assert(herald_snapshot_verify_decoded(s, 0, herald_crypto_signkey_public(g_key), 1, err,
                                             sizeof(err)) == 0,
              "%s", err);
    herald_state *st = herald_state_from_snapshot(s, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    herald_snapshot_free(s);
    /* The read server's cold start takes the blob's content instead of copying the
     * records (herald_state_take_snapshot): the same state, and the chains below are
     * applied to it. */
    s = herald_snapshot_decode(blob->data, blob->len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    herald_state *taken = herald_state_take_snapshot(s, err, sizeof(err));
    cr_assert_not_null(taken, "%s", err);
    assert_same_state(st, taken, "taken from the snapshot");
    /* ... and the loader decodes it indexed (lib/jscan.c, no tree for the records): the
     * signer's records are canonical, so the scanner takes them, and the state is the
     * same. */
    s = herald_snapshot_decode_indexed(blob->data, blob->len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    size_t nidx;
    cr_assert_not_null(herald_snapshot_record_index(s, &nidx), "the scanner refused the records");
    cr_assert_null(herald_snapshot_records(s));
    cr_assert_eq(nidx, herald_state_count(st, 0));
    cr_assert(herald_snapshot_verify_decoded(s, 0, herald_crypto_signkey_public(g_key), 1, err,
                                             sizeof(err)) == 0,
              "%s", err);
    herald_state *indexed = herald_state_take_snapshot(s, err, sizeof(err));
    cr_assert_not_null(indexed, "%s", err);
    assert_same_state(st, indexed, "indexed by the scanner");
    herald_state_free(indexed);
    herald_state_free(st);
    return taken;
}

static char *
jcs_of(const json_t *v)
{
    herald_buf b = HERALD_BUF_INIT;
    cr_assert(herald_jcs_dump(&b, v) == 0);
    return herald_buf_cstr(&b);
}

/* Every byte a coll is built from. */
static void
assert_same_state(const herald_state *a, const herald_state *b, const char *ctx)
{
    size_t al, bl;
    const char *ar = herald_state_records_json(a, &al), *br = herald_state_records_json(b, &bl);
    /* A borrowing state has no array text ('a' in the calls below): its entries, compared
     * byte for byte further down, are the records. */
    cr_assert(!ar || (al == bl && memcmp(ar, br, al) == 0), "%s: records_json differ:\n%.*s\n%.*s",
              ctx, (int)al, ar, (int)bl, br);
    cr_assert_not_null(br, "%s", ctx);
    herald_buf at = HERALD_BUF_INIT, bt = HERALD_BUF_INIT;
    herald_state_tombstones_json(&at, a);
    herald_state_tombstones_json(&bt, b);
    cr_assert(at.len == bt.len && memcmp(at.data, bt.data, at.len) == 0,
              "%s: tombstones differ:\n%.*s\n%.*s", ctx, (int)at.len, at.data, (int)bt.len,
              bt.data);
    herald_buf_free(&at);
    herald_buf_free(&bt);
    cr_assert_eq(herald_state_timestamp(a), herald_state_timestamp(b), "%s", ctx);
    cr_assert_eq(herald_state_tombstones_since(a), herald_state_tombstones_since(b), "%s", ctx);
    cr_assert_eq(herald_state_expires(a), herald_state_expires(b), "%s", ctx);
    cr_assert_str_eq(herald_state_bucket(a), herald_state_bucket(b));
    cr_assert_str_eq(herald_state_collection(a), herald_state_collection(b));
    const json_t *(*get[3])(const herald_state *) = {
        herald_state_metadata, herald_state_bucket_data, herald_state_signatures};
    for (int k = 0; k < 3; k++) {
        char *x = jcs_of(get[k](a)), *y = jcs_of(get[k](b));
        cr_assert_str_eq(x, y, "%s: attributes or signatures differ", ctx);
        free(x);
        free(y);
    }
    for (int t = 0; t < 2; t++) {
        cr_assert_eq(herald_state_count(a, t), herald_state_count(b, t), "%s", ctx);
        for (size_t i = 0; i < herald_state_count(a, t); i++) {
            herald_state_entry x, y;
            herald_state_get(a, t, i, &x);
            herald_state_get(b, t, i, &y);
            cr_assert(x.idlen == y.idlen && memcmp(x.id, y.id, x.idlen) == 0 && x.lm == y.lm &&
                          x.len == y.len && memcmp(x.json, y.json, x.len) == 0,
                      "%s: entry %zu of table %d differs", ctx, i, t);
        }
    }
}

static void
setup(void)
{
    cr_assert(herald_crypto_init() == 0);
    g_key = fixture_signkey(7, 3);
    cr_assert_not_null(g_key);
}

static void
teardown(void)
{
    herald_crypto_signkey_free(g_key);
}

TestSuite(delta, .init = setup, .fini = teardown);

Test(delta, chain_equals_full_blob_over_random_edits)
{
    const herald_pubkey *pk = herald_crypto_signkey_public(g_key);
    size_t applied = 0, with_tombs = 0, pruned = 0;
    for (unsigned seed = 1; seed <= 12; seed++) {
        model m;
        model_init(&m, seed);
        herald_buf blob = HERALD_BUF_INIT, delta = HERALD_BUF_INIT;
        publish(&m, &blob, &delta);
        herald_state *chain = state_of_blob(&blob);
        for (int step = 0; step < 120; step++) {
            random_edits(&m);
            publish(&m, &blob, &delta);
            char err[256], ctx[64];
            snprintf(ctx, sizeof(ctx), "seed %u step %d", seed, step);
            herald_state *next =
                herald_state_apply(chain, delta.data, delta.len, pk, 1, err, sizeof(err));
            cr_assert_not_null(next, "%s: delta refused: %s", ctx, err);
            herald_state *full = state_of_blob(&blob);
            assert_same_state(next, full, ctx);
            /* The read server's form: no copy of the kept records, the hash over the
             * pieces; the same entries, the same bytes. */
            herald_state *borrowed =
                herald_state_apply_borrowing(chain, delta.data, delta.len, pk, 1, err, sizeof(err));
            cr_assert_not_null(borrowed, "%s: delta refused when borrowing: %s", ctx, err);
            cr_assert_null(herald_state_records_json(borrowed, NULL), "%s", ctx);
            assert_same_state(borrowed, full, ctx);
            herald_state_free(borrowed);
            applied++;
            with_tombs += herald_state_count(next, 1) > 0;
            pruned += herald_state_tombstones_since(next) > 0;
            herald_state_free(full);
            herald_state_free(chain);
            chain = next;
        }
        herald_state_free(chain);
        herald_buf_free(&blob);
        herald_buf_free(&delta);
        model_free(&m);
    }
    /* Controls: the sequences did reach the cases they are meant to cover. */
    cr_assert_eq(applied, 12 * 120);
    cr_assert_gt(with_tombs, 100);
    cr_assert_gt(pruned, 100);
}

/* A state at some version, the delta to the next one, and the next full blob. */
typedef struct fixture {
    model m;
    herald_state *base;
    herald_buf blob, delta, prev_delta;
} fixture;

static void
fixture_build(fixture *f)
{
    model_init(&f->m, 99);
    herald_buf_init(&f->blob);
    herald_buf_init(&f->delta);
    herald_buf_init(&f->prev_delta);
    for (int i = 0; i < 10; i++) {
        f->m.live[i] = random_record(&f->m, i);
        f->m.changed[i] = 1;
    }
    publish(&f->m, &f->blob, &f->prev_delta);
    f->base = state_of_blob(&f->blob);
    json_decref(f->m.live[3]);
    f->m.live[3] = NULL;
    f->m.tomb[3] = ++f->m.clock;
    f->m.changed[3] = 1;
    json_decref(f->m.live[5]);
    f->m.live[5] = random_record(&f->m, 5);
    f->m.changed[5] = 1;
    f->m.live[20] = random_record(&f->m, 20);
    f->m.changed[20] = 1;
    publish(&f->m, &f->blob, &f->delta);
}

static void
fixture_free(fixture *f)
{
    herald_state_free(f->base);
    herald_buf_free(&f->blob);
    herald_buf_free(&f->delta);
    herald_buf_free(&f->prev_delta);
    model_free(&f->m);
}

static void
assert_refused(const herald_state *base, const herald_buf *d, const char *what, const char *why)
{
    /* Both forms: copying the records, and borrowing them (the read server's). */
    for (int borrow = 0; borrow < 2; borrow++) {
        char err[256] = "";
        herald_state *st = (borrow ? herald_state_apply_borrowing : herald_state_apply)(
            base, d->data, d->len, herald_crypto_signkey_public(g_key), 1, err, sizeof(err));
        cr_assert_null(st, "%s was accepted (borrowing: %d)", what, borrow);
        cr_assert(strstr(err, why) != NULL, "%s: refused for '%s', expected '%s' (borrowing: %d)",
                  what, err, why, borrow);
    }
}

Test(delta, untampered_fixture_applies)
{
    fixture f;
    fixture_build(&f);
    char err[256];
    herald_state *st = herald_state_apply(f.base, f.delta.data, f.delta.len,
                                          herald_crypto_signkey_public(g_key), 1, err, sizeof(err));
    cr_assert_not_null(st, "%s", err); /* control for the tests below */
    herald_state *full = state_of_blob(&f.blob);
    assert_same_state(st, full, "fixture");
    herald_state_free(st);
    herald_state_free(full);
    fixture_free(&f);
}

Test(delta, changed_record_is_refused)
{
    fixture f;
    fixture_build(&f);
    /* A record value starting with an ASCII letter gets another one (same length). */
    char *p = f.delta.data, *end = f.delta.data + f.delta.len;
    while ((p = memmem(p, (size_t)(end - p), "\"value\":\"", 9)) && !(p[9] >= 'a' && p[9] <= 'z'))
        p += 9;
    cr_assert_not_null(p);
    p[9] = p[9] == 'x' ? 'y' : 'x';
    assert_refused(f.base, &f.delta, "a changed record", "does not verify");
    fixture_free(&f);
}

Test(delta, missing_change_is_refused)
{
    fixture f;
    fixture_build(&f);
    /* The same delta without its tombstone: record 3 would stay live. */
    herald_buf d = HERALD_BUF_INIT;
    const unsigned char *u = (const unsigned char *)f.delta.data + 4;
    size_t mlen = (size_t)u[0] << 24 | (size_t)u[1] << 16 | (size_t)u[2] << 8 | u[3];
    const unsigned char *r = u + 4 + mlen;
    size_t rlen = (size_t)r[0] << 24 | (size_t)r[1] << 16 | (size_t)r[2] << 8 | r[3];
    herald_buf_append(&d, f.delta.data, 4 + 4 + mlen + 4 + rlen);
    herald_buf_append(&d, "\0\0\0\2[]", 6);
    assert_refused(f.base, &d, "a delta without its tombstone", "does not verify");
    herald_buf_free(&d);
    fixture_free(&f);
}

Test(delta, wrong_base_is_refused)
{
    fixture f;
    fixture_build(&f);
    /* The delta to the next version applied to the version after it. */
    char err[256];
    herald_state *next =
        herald_state_apply(f.base, f.delta.data, f.delta.len, herald_crypto_signkey_public(g_key),
                           1, err, sizeof(err));
    cr_assert_not_null(next, "%s", err);
    assert_refused(next, &f.delta, "a delta for another base", "does not apply");
    /* A base claimed to be the held version, over records it does not apply to. */
    herald_buf forged = HERALD_BUF_INIT;
    herald_buf_append(&forged, f.prev_delta.data, f.prev_delta.len);
    assert_refused(f.base, &forged, "a delta from an older base", "does not apply");
    herald_state_free(next);
    herald_buf_free(&forged);
    fixture_free(&f);
}

Test(delta, wrong_head_is_refused)
{
    fixture f;
    fixture_build(&f);
    /* Re-sign the next version with one record fewer in the head: the records are right
     * but the head (records count, sha256) is another state's. */
    model *m = &f.m;
    json_decref(m->live[20]);
    m->live[20] = NULL;
    m->tomb[20] = ++m->clock;
    m->changed[20] = 1;
    herald_buf blob2 = HERALD_BUF_INIT, delta2 = HERALD_BUF_INIT;
    m->version = herald_state_timestamp(f.base); /* the same base */
    publish(m, &blob2, &delta2);
    /* Splice delta2's meta (head of another state) onto the original record changes. */
    const unsigned char *u = (const unsigned char *)f.delta.data + 4;
    size_t mlen = (size_t)u[0] << 24 | (size_t)u[1] << 16 | (size_t)u[2] << 8 | u[3];
    const unsigned char *u2 = (const unsigned char *)delta2.data + 4;
    size_t mlen2 = (size_t)u2[0] << 24 | (size_t)u2[1] << 16 | (size_t)u2[2] << 8 | u2[3];
    herald_buf d = HERALD_BUF_INIT;
    herald_buf_append(&d, delta2.data, 4 + 4 + mlen2);
    herald_buf_append(&d, f.delta.data + 8 + mlen, f.delta.len - 8 - mlen);
    assert_refused(f.base, &d, "a delta with another state's head", "does not verify");
    herald_buf_free(&d);
    herald_buf_free(&blob2);
    herald_buf_free(&delta2);
    fixture_free(&f);
}

Test(delta, malformed_deltas_are_refused)
{
    fixture f;
    fixture_build(&f);
    herald_buf d = HERALD_BUF_INIT;
    for (size_t cut = 0; cut < f.delta.len; cut += 1 + cut / 8) {
        herald_buf_reset(&d);
        herald_buf_append(&d, f.delta.data, cut);
        char err[256];
        herald_state *st =
            herald_state_apply(f.base, d.data ? d.data : "", d.len,
                               herald_crypto_signkey_public(g_key), 1, err, sizeof(err));
        cr_assert_null(st, "a delta truncated to %zu bytes was accepted", cut);
    }
    herald_buf_reset(&d);
    herald_buf_append(&d, f.delta.data, f.delta.len);
    herald_buf_putc(&d, 'x');
    assert_refused(f.base, &d, "trailing junk", "junk");
    herald_buf_reset(&d);
    herald_buf_append(&d, f.delta.data, f.delta.len);
    memcpy(d.data, "HSB1", 4);
    assert_refused(f.base, &d, "wrong magic", "magic");
    /* Another collection's delta. */
    char *p = memmem(f.delta.data, f.delta.len, "\"collection\":\"certs\"", 20);
    cr_assert_not_null(p);
    memcpy(p + 14, "cerTs", 5);
    assert_refused(f.base, &f.delta, "another collection's delta", "is for");
    herald_buf_free(&d);
    fixture_free(&f);
}

/* Records larger than the buffer the borrowing form gathers records into before hashing
 * (64 KB, lib/delta.c records_sha256), among small ones on both sides: hashed as they
 * are, between the gathered pieces, the state verifies and equals the full blob's. */
Test(delta, records_larger_than_the_hash_buffer)
{
    const herald_pubkey *pk = herald_crypto_signkey_public(g_key);
    model m;
    model_init(&m, 5);
    herald_buf blob = HERALD_BUF_INIT, delta = HERALD_BUF_INIT;
    for (int i = 0; i < 12; i++) {
        m.live[i] = random_record(&m, i);
        m.changed[i] = 1;
    }
    publish(&m, &blob, &delta);
    herald_state *base = state_of_blob(&blob);
    size_t sizes[] = {64 * 1024 - 40, 64 * 1024, 200 * 1024};
    for (int k = 0; k < 3; k++) {
        char *big = malloc(sizes[k] + 1);
        memset(big, 'a' + k, sizes[k]);
        big[sizes[k]] = '\0';
        int i = 3 + 3 * k;
        json_object_set_new(m.live[i], "big", json_string(big));
        json_object_set_new(m.live[i], "last_modified", json_integer(++m.clock));
        m.changed[i] = 1;
        free(big);
    }
    publish(&m, &blob, &delta);
    char err[256];
    herald_state *st =
        herald_state_apply_borrowing(base, delta.data, delta.len, pk, 1, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    herald_state *full = state_of_blob(&blob);
    assert_same_state(st, full, "large records");
    herald_state_free(st);
    herald_state_free(full);
    herald_state_free(base);
    herald_buf_free(&blob);
    herald_buf_free(&delta);
    model_free(&m);
}
