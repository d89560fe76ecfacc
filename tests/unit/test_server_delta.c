/*
 * test_server_delta -- the read server's bodies for a version built from a delta
 * (server/snapset.c: coll_new_state with the previous version's coll, which merges the
 * delta's entries into that coll's listing and copies the rest in runs) must be, byte for
 * byte, the bodies built whole from the full blob of that version: the changeset, the
 * newest-first listing with its index (last_modified, offsets, sizes, sources), the
 * cached _since deltas, the metadata tail. Differentially, over the random edit
 * sequences of test_delta_model.h (creations, updates, deletions, re-creations, several
 * edits per version, attribute changes, re-signs, the tombstone horizon moving), each
 * version built from the one before it as the server chains them; also when the bodies
 * are written into the memory of the bodies freed before (server/encode.c's spare
 * bodies, kept while versions keep coming).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapset.h"
#include "test_delta_model.h"
#include "test_fixture.h"

#define DAY (86400LL * 1000)

static void
setup(void)
{
    cr_assert(herald_crypto_init() == 0);
    g_key = fixture_signkey(7, 3);
    cr_assert_not_null(g_key);
    /* No compression: the bodies are compared as built. */
    snapset_config sc = {"cdn.example.net", 60, 3600, 30, 600, DAY, 0};
    snapset_configure(&sc);
}

static void
teardown(void)
{
    herald_crypto_signkey_free(g_key);
    snapset_unconfigure();
}

TestSuite(server_delta, .init = setup, .fini = teardown);

/* The coll of a full blob, as the loader builds it on a cold start. */
static coll *
coll_of_blob(const herald_buf *blob, int64_t now)
{
    char err[256];
    herald_snapshot *s = herald_snapshot_decode(blob->data, blob->len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    cr_assert(herald_snapshot_verify_decoded(s, 0, herald_crypto_signkey_public(g_key), 1, err,
                                             sizeof(err)) == 0,
              "%s", err);
    herald_state *st = herald_state_take_snapshot(s, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    coll *c = coll_new_state(st, NULL, now, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(c->from_base, 0);
    return c;
}

static void
same_bytes(const char *a, size_t al, const char *b, size_t bl, const char *what, const char *ctx)
{
    cr_assert(al == bl && memcmp(a, b, al) == 0, "%s: %s differ:\n%.*s\n%.*s", ctx, what, (int)al,
              a, (int)bl, b);
}

/* The identity bytes of a cached delta: it owns none, it borrows slices (encode.h
 * payload_new_parts) of the coll's whole delta body. */
static void
parts_of(herald_buf *out, const payload *b, const char *ctx)
{
    cr_assert_null(b->data, "%s: a cached delta holds a copy of its body", ctx);
    cr_assert_not_null(b->keep, "%s", ctx);
    cr_assert_gt(b->nparts, 0, "%s", ctx);
    for (size_t i = 0; i < b->nparts; i++) {
        cr_assert(b->part[i].p >= b->keep->data &&
                      b->part[i].p + b->part[i].n <= b->keep->data + b->keep->len,
                  "%s: a slice outside the body it borrows", ctx);
        herald_buf_append(out, b->part[i].p, b->part[i].n);
    }
    cr_assert_eq(out->len, b->len, "%s", ctx);
}

/* Each cached delta of 'c' is the answer for its k: head, the listing's first k, the
 * tail; sorted by k, none twice. */
static void
check_cached(const coll *c, const char *ctx)
{
    for (size_t i = 0; i < c->ndc; i++) {
        cr_assert(i == 0 || c->dc[i - 1].k < c->dc[i].k, "%s: cached deltas not sorted", ctx);
        herald_buf d = HERALD_BUF_INIT, want = HERALD_BUF_INIT;
        parts_of(&d, c->dc[i].b, ctx);
        herald_buf_puts(&want, "{\"changes\":[");
        herald_buf_append(&want, c->delta.json, listing_prefix_len(&c->delta, c->dc[i].k));
        herald_buf_append(&want, c->post, c->post_len);
        same_bytes(d.data, d.len, want.data, want.len, "cached delta and prefix", ctx);
        herald_buf_free(&d);
        herald_buf_free(&want);
    }
}

static void
assert_same_coll(const coll *a, const coll *b, const char *ctx)
{
    cr_assert_eq(a->version, b->version, "%s", ctx);
    cr_assert_eq(a->nrecords, b->nrecords, "%s", ctx);
    cr_assert_eq(a->ntombstones, b->ntombstones, "%s", ctx);
    cr_assert_eq(a->since_floor, b->since_floor, "%s", ctx);
    cr_assert_eq(a->expires, b->expires, "%s", ctx);
    cr_assert_str_eq(a->sha256, b->sha256, "%s", ctx);
    same_bytes(a->full->data, a->full->len, b->full->data, b->full->len, "changesets", ctx);
    same_bytes(a->post, a->post_len, b->post, b->post_len, "metadata tails", ctx);
    const listing *x = &a->delta, *y = &b->delta;
    cr_assert_eq(x->n, y->n, "%s", ctx);
    cr_assert_eq(x->json_borrowed, y->json_borrowed, "%s", ctx);
    same_bytes(x->json, x->len, y->json, y->len, "listings", ctx);
    for (size_t k = 0; k < x->n; k++)
        cr_assert(x->lm[k] == y->lm[k] && x->off[k] == y->off[k] && x->sz[k] == y->sz[k] &&
                      x->src[k] == y->src[k],
                  "%s: listing entry %zu differs", ctx, k);
    /* The cached deltas may differ in which k they hold (a coll built from a previous
     * one knows the versions built before it: snapset.h); each is the answer for its k. */
    check_cached(a, ctx);
    check_cached(b, ctx);
    /* The state the next delta applies to reads the same bytes in either. */
    for (size_t i = 0; i < herald_state_count(a->state, 0); i++) {
        herald_state_entry e, f;
        herald_state_get(a->state, 0, i, &e);
        herald_state_get(b->state, 0, i, &f);
        same_bytes(e.json, e.len, f.json, f.len, "state records", ctx);
    }
}

/* Builds 12 random edit sequences of 120 versions, each from the one before it, and
 * compares each with the version built whole. With 'spares', as in a server whose
 * versions keep coming: the compression thread has work (one body held in its queue),
 * so the bodies freed as versions are replaced are kept and the next builds write into
 * their memory (encode.c, spare bodies); a 300 KB collection attribute (in every body's
 * metadata tail) makes the bodies large enough to be kept. Returns how many bodies
 * were built in a freed body's memory. */
static size_t
build_chains(int spares)
{
    const herald_pubkey *pk = herald_crypto_signkey_public(g_key);
    size_t built = 0, with_tombs = 0, pruned = 0, emptied = 0, prev_cached = 0, prev_far = 0;
    unsigned long long taken0 = encode_spares_taken();
    payload *busy = NULL;
    if (spares) {
        cr_assert_eq(encode_start(), 0);
        encode_hold(1);
        busy = payload_new(strdup("{}"), 2, 1);
    }
    for (unsigned seed = 1; seed <= 12; seed++) {
        model m;
        model_init(&m, seed);
        if (spares) {
            char *pad = malloc(300 * 1024 + 1);
            memset(pad, 'p', 300 * 1024);
            pad[300 * 1024] = '\0';
            json_object_set_new(m.attrs, "padding", json_string(pad));
            free(pad);
        }
        herald_buf blob = HERALD_BUF_INIT, delta = HERALD_BUF_INIT;
        publish(&m, &blob, &delta);
        int64_t now = m.clock;
        coll *chain = coll_of_blob(&blob, now);
        for (int step = 0; step < 120; step++) {
            /* Now and then a version of many edits (a batch signed at once). */
            for (int r = step % 15 == 7 ? 12 : 1; r > 0; r--)
                random_edits(&m);
            publish(&m, &blob, &delta);
            char err[256], ctx[64];
            snprintf(ctx, sizeof(ctx), "seed %u step %d", seed, step);
            /* Mostly as the server does (loader.c): borrowing the previous version's
             * bytes, which 'chain' (released below, before the next step reads 'next')
             * holds; every third seed copying them, which the listing compares. */
            herald_state *st = (seed % 3 ? herald_state_apply_borrowing : herald_state_apply)(
                chain->state, delta.data, delta.len, pk, 1, err, sizeof(err));
            cr_assert_not_null(st, "%s: delta refused: %s", ctx, err);
            coll *next = coll_new_state(st, chain, now, err, sizeof(err));
            cr_assert_not_null(next, "%s: %s", ctx, err);
            /* Control: the bodies were built from the previous version's. */
            cr_assert_eq(next->from_base, 1, "%s: built whole", ctx);
            coll *whole = coll_of_blob(&blob, now);
            assert_same_coll(next, whole, ctx);
            /* The previous version's _since is cached (clients ask with the version
             * they hold), however many entries this version changed. */
            size_t kp = listing_count_since(&next->delta, chain->version);
            if (chain->version >= next->since_floor &&
                !(kp == next->delta.n && next->ntombstones == 0)) {
                cr_assert_not_null(coll_delta_cached(next, kp),
                                   "%s: the previous version's delta (k=%zu) is not cached", ctx,
                                   kp);
                prev_cached++;
                prev_far += kp >= DELTA_VERSIONS;
            }
            built++;
            with_tombs += next->ntombstones > 0;
            pruned += herald_state_tombstones_since(next->state) > 0;
            emptied += next->ntombstones == 0 && chain->ntombstones > 0;
            coll_release(whole);
            coll_release(chain);
            chain = next;
        }
        coll_release(chain);
        herald_buf_free(&blob);
        herald_buf_free(&delta);
        model_free(&m);
    }
    if (spares) {
        payload_release(busy);
        encode_stop();
    }
    /* Controls: the sequences reached the cases they are meant to cover. */
    cr_assert_eq(built, 12 * 120);
    cr_assert_gt(with_tombs, 100);
    cr_assert_gt(pruned, 100);
    cr_assert_gt(emptied, 0);
    cr_assert_gt(prev_cached, 100);
    cr_assert_gt(prev_far, 0, "no version changed more than DELTA_VERSIONS entries");
    return (size_t)(encode_spares_taken() - taken0);
}

Test(server_delta, bodies_from_the_previous_version_equal_bodies_built_whole)
{
    cr_assert_eq(build_chains(0), 0);
}

Test(server_delta, bodies_built_in_freed_bodies_memory_equal_bodies_built_whole)
{
    size_t reused = build_chains(1);
    /* Control: most versions were built in a freed body's memory (some have two bodies:
     * with tombstones, the changes and the records). */
    cr_assert_gt(reused, 12 * 120 / 2, "%zu bodies of %d versions built in a freed body", reused,
                 12 * 120);
}

/* Without a state to build from (a coll from a full blob built the old way), or with a
 * base whose listing does not match the state's: built whole, the same bodies. */
Test(server_delta, a_base_that_does_not_match_builds_whole)
{
    const herald_pubkey *pk = herald_crypto_signkey_public(g_key);
    model m;
    model_init(&m, 99);
    herald_buf blob = HERALD_BUF_INIT, delta = HERALD_BUF_INIT, blob2 = HERALD_BUF_INIT,
               delta2 = HERALD_BUF_INIT;
    publish(&m, &blob, &delta);
    for (int i = 0; i < 10; i++)
        random_edits(&m);
    publish(&m, &blob2, &delta2);
    coll *base = coll_of_blob(&blob, m.clock);
    coll *other = coll_of_blob(&blob2, m.clock); /* another version's listing */
    random_edits(&m);
    random_edits(&m);
    publish(&m, &blob, &delta);
    coll *whole = coll_of_blob(&blob, m.clock);
    for (int borrow = 0; borrow < 2; borrow++) {
        char err[256];
        herald_state *st = (borrow ? herald_state_apply_borrowing : herald_state_apply)(
            other->state, delta.data, delta.len, pk, 1, err, sizeof(err));
        cr_assert_not_null(st, "%s", err);
        /* 'st' was applied to 'other': handing it 'base' instead must not be trusted
         * (borrowing, its kept records are other's bytes, compared with base's). */
        coll *c = coll_new_state(st, base, m.clock, err, sizeof(err));
        cr_assert_not_null(c, "%s", err);
        assert_same_coll(c, whole, borrow ? "mismatched base, borrowing" : "mismatched base");
        coll_release(c);
    }
    coll_release(whole);
    coll_release(base);
    coll_release(other);
    herald_buf_free(&blob);
    herald_buf_free(&delta);
    herald_buf_free(&blob2);
    herald_buf_free(&delta2);
    model_free(&m);
}
