/*
 * Lock-step publication (server/lockstep.h): a signed monitor goes out only with exactly
 * the versions it commits to; versions and monitors wait for each other at most the
 * bound, then the newest versions go out with the unsigned monitor. Real colls (signed
 * snapshots through coll_new) and real signed monitors; then random sequences of loads,
 * removals and monitors checked against the invariants after every decision.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/monitor.h"
#include "herald/snapshot.h"
#include "lockstep.h"
#include "snapset.h"
#include "test_fixture.h"

#define BOUND 1000
#define DAY 86400000LL

static herald_signkey *g_key;

static void
setup(void)
{
    cr_assert_eq(herald_crypto_init(), 0);
    g_key = fixture_signkey(7, 1);
    snapset_config sc = {"cdn.example.net", 60, 3600, 30, 600, DAY, 0};
    snapset_configure(&sc);
}

static void
teardown(void)
{
    herald_crypto_signkey_free(g_key);
    snapset_unconfigure();
}

TestSuite(lockstep, .init = setup, .fini = teardown);

/* bid/cid at 'version': one record whose content is 'salt' (another salt, another hash). */
static coll *
mk(const char *cid, int64_t version, int salt)
{
    json_t *recs = json_pack("[{s:s, s:I, s:i}]", "id", "r", "last_modified", (json_int_t)version,
                             "salt", salt);
    herald_buf rj = HERALD_BUF_INIT, blob = HERALD_BUF_INIT;
    json_t *sigs = json_array();
    json_array_append_new(
        sigs, fixture_sign_records(g_key, "main", cid, recs, version, version + DAY, &rj));
    json_t *meta = json_object(), *bdata = json_pack("{s:s}", "id", "main"), *none = json_array();
    herald_snapshot_parts p = {.bucket = "main",
                               .collection = cid,
                               .timestamp = version,
                               .metadata = meta,
                               .bucket_data = bdata,
                               .signatures = sigs,
                               .records_json = rj.data,
                               .records_len = rj.len,
                               .tombstones = none};
    cr_assert_eq(herald_snapshot_encode(&blob, &p, 1), 0);
    char err[256];
    herald_snapshot *s = herald_snapshot_decode(blob.data, blob.len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    coll *c = coll_new(s, 0, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(strlen(c->sha256), 64);
    herald_buf_free(&rj);
    herald_buf_free(&blob);
    json_decref(recs);
    json_decref(sigs);
    json_decref(meta);
    json_decref(bdata);
    json_decref(none);
    return c;
}

typedef struct mon {
    json_t *body;
    snapset_monitor sm;
} mon;

/* A signed monitor at M naming the given colls (their version and records hash). */
static void
mk_mon(mon *m, int64_t ts, coll *const *colls, size_t n)
{
    herald_monitor_entry *e = calloc(n + 1, sizeof(*e));
    for (size_t i = 0; i < n; i++) {
        e[i].bucket = colls[i]->bid;
        e[i].collection = colls[i]->cid;
        e[i].last_modified = colls[i]->version;
        memcpy(e[i].sha256, colls[i]->sha256, 65);
    }
    herald_monitor_head h;
    herald_monitor_build(&h, e, n, ts, ts + DAY);
    json_t *sigs = json_array();
    json_array_append_new(sigs, herald_monitor_sign_entry(g_key, &h));
    herald_buf b = HERALD_BUF_INIT;
    cr_assert_eq(herald_monitor_encode(&b, e, n, sigs), 0);
    m->body = herald_jcs_parse(b.data, b.len, 0, 0, NULL, 0);
    cr_assert_not_null(m->body);
    m->sm = (snapset_monitor){m->body, h.timestamp, h.expires};
    herald_buf_free(&b);
    json_decref(sigs);
    free(e);
}

/* Replaces '*cur' by 'next' when a set was decided; returns whether one was. */
static int
take(snapset **cur, snapset *next)
{
    if (!next)
        return 0;
    snapset_release(*cur);
    *cur = next;
    return 1;
}

static int64_t
served(const snapset *s, const char *cid)
{
    const coll *c = s ? snapset_find(s, "main", 4, cid, strlen(cid)) : NULL;
    return c ? c->version : 0;
}

/* Every entry of a signed set names a served coll at its version and hash, and every
 * served coll is listed. */
static void
assert_consistent(const snapset *s)
{
    if (!s || !s->mon_signed)
        return;
    cr_assert_eq(s->mon_n, s->n, "as many entries as collections");
    for (size_t i = 0; i < s->monitor.n; i++) {
        const mon_key *k = &s->mon_keys[s->monitor.src[i]];
        const coll *c = snapset_find(s, k->bid, k->bid_len, k->cid, k->cid_len);
        cr_assert_not_null(c, "%s/%s listed but not served", k->bid, k->cid);
        cr_assert_eq(c->version, s->monitor.lm[i], "%s: served %lld, monitor %lld", k->cid,
                     (long long)c->version, (long long)s->monitor.lm[i]);
        const char *j = s->monitor.json + s->monitor.off[i];
        char want[80];
        snprintf(want, sizeof(want), "\"sha256\":\"%s\"", c->sha256);
        cr_assert(memmem(j, s->monitor.sz[i], want, strlen(want)), "%s: records hash", k->cid);
    }
}

Test(lockstep, monitor_ahead_waits_for_the_version_it_names)
{
    lockstep *l = lockstep_new(BOUND);
    snapset *cur = NULL;
    coll *a1 = mk("a", 1000, 1), *a2 = mk("a", 2000, 2);
    mon m1, m2;
    mk_mon(&m1, 1500, &a1, 1);
    mk_mon(&m2, 2500, &a2, 1);
    lockstep_add(l, a1, 0);
    lockstep_set_monitor(l, &m1.sm, 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    cr_assert(cur->mon_signed && cur->mon_version == 1500 && served(cur, "a") == 1000);

    lockstep_set_monitor(l, &m2.sm, 10);
    cr_assert_not(take(&cur, lockstep_decide(l, cur, 10)), "M2 names a version not loaded");
    cr_assert_eq(cur->mon_version, 1500);
    coll_ref(a2);
    lockstep_add(l, a2, 20);
    cr_assert(take(&cur, lockstep_decide(l, cur, 20)));
    cr_assert(cur->mon_signed && cur->mon_version == 2500 && served(cur, "a") == 2000);
    assert_consistent(cur);
    cr_assert_not(take(&cur, lockstep_decide(l, cur, 30)), "nothing changed: no publish");
    lockstep_stats st;
    lockstep_stats_read(&st);
    cr_assert_eq(st.staged, 0);
    snapset_release(cur);
    lockstep_free(l);
    coll_release(a2);
    json_decref(m1.body);
    json_decref(m2.body);
}

/* A server that builds versions more slowly than the signer signs them: by the time it
 * has built V, the monitor naming V was followed by one naming V+1. V goes out with the
 * monitor that named it (it waited for V+1's before, which a stream of versions kept
 * ahead of it), then V+1 with its own; a monitor older than the exposed one never goes
 * out, even when it matches what is built. */
Test(lockstep, a_server_behind_serves_each_version_with_the_monitor_that_named_it)
{
    lockstep *l = lockstep_new(BOUND);
    snapset *cur = NULL;
    coll *a[6];
    mon m[6];
    for (int i = 1; i < 6; i++) {
        a[i] = mk("a", 1000 * i, i);
        mk_mon(&m[i], 1000 * i + 500, &a[i], 1);
    }
    lockstep_add(l, a[1], 0);
    lockstep_set_monitor(l, &m[1].sm, 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    lockstep_set_monitor(l, &m[2].sm, 10);
    lockstep_set_monitor(l, &m[3].sm, 20);
    cr_assert_not(take(&cur, lockstep_decide(l, cur, 20)));
    lockstep_add(l, a[2], 30); /* built after M3 arrived */
    cr_assert(take(&cur, lockstep_decide(l, cur, 30)), "V2 goes out with M2");
    cr_assert(cur->mon_signed && cur->mon_version == 2500 && served(cur, "a") == 2000);
    assert_consistent(cur);
    lockstep_add(l, a[3], 40);
    cr_assert(take(&cur, lockstep_decide(l, cur, 40)));
    cr_assert(cur->mon_signed && cur->mon_version == 3500 && served(cur, "a") == 3000);
    assert_consistent(cur);
    /* M4 and M5 arrive; V5 is built first (a jump delta), then V4: V4 never goes out. */
    lockstep_set_monitor(l, &m[4].sm, 50);
    lockstep_set_monitor(l, &m[5].sm, 60);
    lockstep_add(l, a[5], 70);
    cr_assert(take(&cur, lockstep_decide(l, cur, 70)));
    cr_assert(cur->mon_version == 5500 && served(cur, "a") == 5000);
    lockstep_add(l, a[4], 80);
    cr_assert_not(take(&cur, lockstep_decide(l, cur, 80)), "never back to M4");
    cr_assert(cur->mon_version == 5500 && served(cur, "a") == 5000);
    lockstep_stats st;
    lockstep_stats_read(&st);
    cr_assert_eq(st.fallback, 0);
    snapset_release(cur);
    lockstep_free(l);
    for (int i = 1; i < 6; i++)
        json_decref(m[i].body);
}

Test(lockstep, version_ahead_is_staged_until_a_monitor_commits_to_it)
{
    lockstep *l = lockstep_new(BOUND);
    snapset *cur = NULL;
    coll *a1 = mk("a", 1000, 1), *a2 = mk("a", 2000, 2), *a3 = mk("a", 3000, 3);
    coll *b1 = mk("b", 1100, 1);
    coll *m1v[] = {a1}, *m3v[] = {a3, b1};
    mon m1, m2, m3;
    mk_mon(&m1, 1500, m1v, 1);
    mk_mon(&m2, 2500, &a2, 1);
    mk_mon(&m3, 3500, m3v, 2);
    lockstep_add(l, a1, 0);
    lockstep_set_monitor(l, &m1.sm, 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    coll_ref(a2);
    coll_ref(a3);
    lockstep_add(l, a2, 10);
    lockstep_add(l, a3, 10);
    lockstep_add(l, b1, 10); /* a new collection: no monitor lists it yet */
    cr_assert_not(take(&cur, lockstep_decide(l, cur, 10)));
    cr_assert_eq(served(cur, "a"), 1000);
    cr_assert_eq(served(cur, "b"), 0, "b waits for a monitor that lists it");
    lockstep_set_monitor(l, &m2.sm, 20);
    cr_assert(take(&cur, lockstep_decide(l, cur, 20)));
    cr_assert(served(cur, "a") == 2000 && served(cur, "b") == 0 && cur->mon_version == 2500);
    assert_consistent(cur);
    lockstep_set_monitor(l, &m3.sm, 30);
    cr_assert(take(&cur, lockstep_decide(l, cur, 30)));
    cr_assert(served(cur, "a") == 3000 && served(cur, "b") == 1100 && cur->mon_version == 3500);
    assert_consistent(cur);
    /* A monitor that no longer lists b, while b is served and not removed, is refused. */
    mon m4;
    mk_mon(&m4, 4500, &a3, 1);
    lockstep_set_monitor(l, &m4.sm, 40);
    cr_assert_not(take(&cur, lockstep_decide(l, cur, 40)), "never hides a collection");
    lockstep_remove(l, cur, "main", "b", 50);
    cr_assert(take(&cur, lockstep_decide(l, cur, 50)), "b's removal was announced");
    cr_assert(served(cur, "b") == 0 && cur->mon_version == 4500);
    assert_consistent(cur);
    snapset_release(cur);
    lockstep_free(l);
    coll_release(a2);
    coll_release(a3);
    json_decref(m1.body);
    json_decref(m2.body);
    json_decref(m3.body);
    json_decref(m4.body);
}

Test(lockstep, another_records_hash_does_not_match)
{
    lockstep *l = lockstep_new(BOUND);
    snapset *cur = NULL;
    coll *a1 = mk("a", 1000, 1), *a2 = mk("a", 2000, 2), *forged = mk("a", 2000, 99);
    mon m1, m2;
    mk_mon(&m1, 1500, &a1, 1);
    mk_mon(&m2, 2500, &forged, 1);
    coll_release(forged);
    lockstep_add(l, a1, 0);
    lockstep_set_monitor(l, &m1.sm, 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    lockstep_add(l, a2, 10);
    lockstep_set_monitor(l, &m2.sm, 10);
    cr_assert_not(take(&cur, lockstep_decide(l, cur, 10)), "same version, other records hash");
    cr_assert_eq(served(cur, "a"), 1000);
    snapset_release(cur);
    lockstep_free(l);
    json_decref(m1.body);
    json_decref(m2.body);
}

Test(lockstep, bound_passed_serves_the_newest_unsigned_then_back_in_step)
{
    lockstep *l = lockstep_new(BOUND);
    snapset *cur = NULL;
    coll *a1 = mk("a", 1000, 1), *a2 = mk("a", 2000, 2), *a3 = mk("a", 3000, 3);
    mon m1, m3;
    mk_mon(&m1, 1500, &a1, 1);
    mk_mon(&m3, 3500, &a3, 1);
    lockstep_add(l, a1, 0);
    lockstep_set_monitor(l, &m1.sm, 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    lockstep_stats before;
    lockstep_stats_read(&before);
    lockstep_add(l, a2, 100);
    cr_assert_not(lockstep_due(l, 100 + BOUND - 1));
    cr_assert_not(take(&cur, lockstep_decide(l, cur, 100 + BOUND - 1)));
    cr_assert(lockstep_due(l, 100 + BOUND));
    cr_assert(take(&cur, lockstep_decide(l, cur, 100 + BOUND)));
    cr_assert(!cur->mon_signed && served(cur, "a") == 2000, "newest, unsigned monitor");
    lockstep_stats st;
    lockstep_stats_read(&st);
    cr_assert_eq(st.fallbacks, before.fallbacks + 1);
    cr_assert_eq(st.fallback, 1);
    cr_assert_eq(st.staged, 0);
    coll_ref(a3);
    lockstep_add(l, a3, 2000); /* unsigned already: served at once */
    cr_assert(take(&cur, lockstep_decide(l, cur, 2000)));
    cr_assert(!cur->mon_signed && served(cur, "a") == 3000);
    lockstep_set_monitor(l, &m3.sm, 2100);
    cr_assert(take(&cur, lockstep_decide(l, cur, 2100)));
    cr_assert(cur->mon_signed && cur->mon_version == 3500 && served(cur, "a") == 3000);
    lockstep_stats_read(&st);
    cr_assert_eq(st.fallback, 0);
    snapset_release(cur);
    lockstep_free(l);
    coll_release(a3);
    json_decref(m1.body);
    json_decref(m3.body);
}

Test(lockstep, monitor_naming_what_never_loads_is_bounded_too)
{
    lockstep *l = lockstep_new(BOUND);
    snapset *cur = NULL;
    coll *a1 = mk("a", 1000, 1);
    mon m1;
    mk_mon(&m1, 1500, &a1, 1);
    coll_release(a1); /* never loaded (say its blob does not verify) */
    lockstep_set_monitor(l, &m1.sm, 0);
    cr_assert_not(take(&cur, lockstep_decide(l, cur, 10)), "first set: wait for it");
    cr_assert(lockstep_due(l, BOUND));
    cr_assert(take(&cur, lockstep_decide(l, cur, BOUND)));
    cr_assert(!cur->mon_signed && cur->n == 0);
    snapset_release(cur);
    lockstep_free(l);
    json_decref(m1.body);
}

Test(lockstep, without_a_signed_monitor_versions_go_out_at_once)
{
    lockstep *l = lockstep_new(BOUND);
    snapset *cur = NULL;
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)), "an empty first set");
    cr_assert_eq(cur->n, 0);
    lockstep_add(l, mk("a", 1000, 1), 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    cr_assert(!cur->mon_signed && served(cur, "a") == 1000);
    lockstep_remove(l, cur, "main", "a", 5);
    cr_assert_eq(lockstep_newest(l, cur, "main", "a"), 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 5)));
    cr_assert_eq(cur->n, 0);
    snapset_release(cur);
    lockstep_free(l);
}

Test(lockstep, off_serves_the_newest_with_the_newest_monitor)
{
    lockstep *l = lockstep_new(0);
    snapset *cur = NULL;
    coll *a1 = mk("a", 1000, 1);
    mon m1;
    mk_mon(&m1, 1500, &a1, 1);
    lockstep_add(l, a1, 0);
    lockstep_set_monitor(l, &m1.sm, 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    lockstep_add(l, mk("a", 2000, 2), 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    cr_assert(cur->mon_signed && cur->mon_version == 1500 && served(cur, "a") == 2000,
              "the old behaviour: they may disagree");
    snapset_release(cur);
    lockstep_free(l);
    json_decref(m1.body);
}

/* A burst with no committing monitor keeps at most a few versions of a collection (the
 * newest), and the bound still runs from the first one staged. */
Test(lockstep, a_burst_keeps_few_versions_and_the_bound_holds)
{
    lockstep *l = lockstep_new(BOUND);
    snapset *cur = NULL;
    coll *a1 = mk("a", 1000, 1);
    mon m1;
    mk_mon(&m1, 1500, &a1, 1);
    lockstep_add(l, a1, 0);
    lockstep_set_monitor(l, &m1.sm, 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    for (int i = 1; i <= 20; i++) {
        lockstep_add(l, mk("a", 1000 + 100 * i, i), 100 * i);
        cr_assert_not(take(&cur, lockstep_decide(l, cur, 100 * i)) && i * 100 < BOUND);
    }
    lockstep_stats st;
    lockstep_stats_read(&st);
    cr_assert_leq(st.staged, 4, "staged: %lld", st.staged);
    cr_assert_eq(lockstep_newest(l, cur, "main", "a"), 3000);
    cr_assert_eq(served(cur, "a"), 3000, "the bound (from the first staged at 100) passed");
    cr_assert_not(cur->mon_signed);
    snapset_release(cur);
    lockstep_free(l);
    json_decref(m1.body);
}

static int
only_a(const char *bid, const char *cid, void *arg)
{
    (void)arg;
    return !strcmp(bid, "main") && !strcmp(cid, "a");
}

/* A staged, never served collection that a resync no longer lists (its removal was missed
 * while disconnected) is dropped; one staged after the resync started is kept. */
Test(lockstep, resync_drops_staged_collections_redis_no_longer_lists)
{
    lockstep *l = lockstep_new(BOUND);
    snapset *cur = NULL;
    coll *a1 = mk("a", 1000, 1);
    mon m1;
    mk_mon(&m1, 1500, &a1, 1);
    lockstep_add(l, a1, 0);
    lockstep_set_monitor(l, &m1.sm, 0);
    cr_assert(take(&cur, lockstep_decide(l, cur, 0)));
    lockstep_add(l, mk("b", 2000, 1), 10);  /* staged, then removed while disconnected */
    lockstep_add(l, mk("c", 2100, 1), 100); /* staged after the resync's ZRANGE */
    cr_assert_eq(lockstep_drop_unlisted(l, cur, 50, only_a, NULL), 1);
    cr_assert_eq(lockstep_newest(l, cur, "main", "b"), 0);
    cr_assert_eq(lockstep_newest(l, cur, "main", "c"), 2100);
    cr_assert_eq(lockstep_newest(l, cur, "main", "a"), 1000, "served: not the resync's to drop");
    snapset_release(cur);
    lockstep_free(l);
    json_decref(m1.body);
}

/* Random loads (in order, some skipped, some late), removals and monitors as a signer
 * would sign them (each naming the stored version of every live collection at one
 * instant); after every decision: a signed set is consistent, no served version goes
 * back, and the bound holds (after a decision at 'now', nothing staged is older than
 * the bound). */
Test(lockstep, random_sequences_keep_the_invariants)
{
    enum { NC = 4, STEPS = 400 };
    const char *names[NC] = {"a", "b", "c", "d"};
    srand(14);
    int nsigned = 0, nunsigned = 0;
    for (int round = 0; round < 20; round++) {
        lockstep *l = lockstep_new(BOUND);
        snapset *cur = NULL;
        int64_t stored[NC] = {0}, last[NC] = {0}, now = 0, ts = 1000, m = 0;
        coll *latest[NC] = {0};
        mon mons[STEPS];
        size_t nmons = 0;
        for (int step = 0; step < STEPS; step++) {
            now += rand() % 200;
            int op = rand() % 10, i = rand() % NC;
            if (op < 5) { /* an edit: stored; loaded unless this server misses it */
                ts += 1 + rand() % 50;
                stored[i] = ts;
                coll_release(latest[i]);
                latest[i] = mk(names[i], ts, rand());
                if (rand() % 4) {
                    coll_ref(latest[i]);
                    lockstep_add(l, latest[i], now);
                }
            } else if (op < 6 && stored[i]) { /* a removal */
                stored[i] = 0;
                coll_release(latest[i]);
                latest[i] = NULL;
                lockstep_remove(l, cur, "main", names[i], now);
            } else if (op < 9) { /* the signer signs the current state */
                coll *v[NC];
                size_t n = 0;
                for (int k = 0; k < NC; k++)
                    if (latest[k])
                        v[n++] = latest[k];
                m = (m > ts ? m : ts) + 1;
                mk_mon(&mons[nmons], m, v, n);
                lockstep_set_monitor(l, &mons[nmons].sm, now);
                nmons++;
            }
            int switched = take(&cur, lockstep_decide(l, cur, now));
            if (switched) {
                nsigned += cur->mon_signed;
                nunsigned += !cur->mon_signed;
            }
            if (switched || rand() % 2) {
                assert_consistent(cur);
                for (int k = 0; k < NC; k++) {
                    int64_t v = served(cur, names[k]);
                    cr_assert(v == 0 || v >= last[k], "%s went back from %lld to %lld", names[k],
                              (long long)last[k], (long long)v);
                    if (v)
                        last[k] = v;
                    cr_assert(v <= stored[k] || stored[k] == 0);
                }
            }
            cr_assert_not(lockstep_due(l, now), "a decision at 'now' leaves nothing overdue");
        }
        snapset_release(cur);
        lockstep_free(l);
        for (int k = 0; k < NC; k++)
            coll_release(latest[k]);
        for (size_t k = 0; k < nmons; k++)
            json_decref(mons[k].body);
    }
    fprintf(stderr, "random: %d signed and %d unsigned sets published\n", nsigned, nunsigned);
    cr_assert_gt(nsigned, 100, "the sequences exercise matches");
    cr_assert_gt(nunsigned, 5, "and fallbacks");
}
