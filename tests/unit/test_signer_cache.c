/*
 * test_signer_cache -- the signer's in-memory collection copy (signer/cache.c).
 *
 * Differential, as rax is tested: random batches of puts and removals (small id space so
 * ids collide, batches of 1 to 60 so both the in-place path and the merge path run,
 * duplicate ids inside a batch) are applied to the real table and to a plain reference
 * (an unsorted array searched linearly); after every batch the table must be sorted by
 * id, hold exactly the reference's entries, and print the same JSON array.
 *
 * The test links the signer's modules (herald_signer) and sees cache.h only: sortedness is
 * checked against the order cache.h promises, spelled out again here.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "herald/crypto.h"
#include "herald/mem.h"

#define IDS 97

typedef struct ref_entry {
    int present;
    int64_t lm;
    char json[64];
} ref_entry;

static void
id_of(char *out, size_t n, int i)
{
    /* Different lengths and shared prefixes: "a", "a1", "a10", "b", ... */
    snprintf(out, n, "%c%.*d", 'a' + i % 5, i % 3, i);
}

/* cache.h's order: bytes compared as memcmp does, the shorter first on a common prefix. */
static int
id_order(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static void
check_equal(const cache_table *t, const ref_entry *ref)
{
    size_t present = 0;
    for (int i = 0; i < IDS; i++)
        present += ref[i].present;
    cr_assert_eq(t->n, present, "table has %zu entries, reference %zu", t->n, present);
    for (size_t i = 1; i < t->n; i++)
        cr_assert(id_order(t->v[i - 1]->data, t->v[i - 1]->idlen, t->v[i]->data, t->v[i]->idlen) <
                      0,
                  "not sorted at %zu", i);
    for (int i = 0; i < IDS; i++) {
        char id[16];
        id_of(id, sizeof(id), i);
        long at = cache_table_find(t, id, strlen(id), NULL);
        if (!ref[i].present) {
            cr_assert_eq(at, -1, "%s should be absent", id);
            continue;
        }
        cr_assert_geq(at, 0, "%s missing", id);
        cr_assert_eq(t->v[at]->lm, ref[i].lm);
        cr_assert_str_eq(t->v[at]->json, ref[i].json);
        cr_assert_eq(t->v[at]->len, strlen(ref[i].json));
    }
}

Test(signer_cache, differential_against_reference)
{
    cache_table t = {0};
    ref_entry ref[IDS];
    memset(ref, 0, sizeof(ref));
    unsigned seed = 4242;
    int64_t lm = 1;
    for (int round = 0; round < 3000; round++) {
        size_t n = 1 + (size_t)rand_r(&seed) % (round % 3 == 0 ? 60 : 8);
        cache_change ch[64];
        char ids[64][16];
        size_t expect_changed_max = n;
        for (size_t j = 0; j < n; j++) {
            int i = rand_r(&seed) % IDS;
            id_of(ids[j], sizeof(ids[j]), i);
            if (rand_r(&seed) % 3 == 0) {
                ch[j] = (cache_change){ids[j], strlen(ids[j]), NULL};
                ref[i].present = 0;
            } else {
                char json[64];
                snprintf(json, sizeof(json), "{\"id\":\"%.15s\",\"last_modified\":%lld}", ids[j],
                         (long long)lm);
                ch[j] =
                    (cache_change){ids[j], strlen(ids[j]),
                                   cache_entry_new(ids[j], strlen(ids[j]), lm, json, strlen(json))};
                ref[i].present = 1;
                ref[i].lm = lm;
                memcpy(ref[i].json, json, strlen(json) + 1);
                lm++;
            }
        }
        size_t changed = cache_table_apply(&t, ch, n);
        cr_assert_leq(changed, expect_changed_max);
        check_equal(&t, ref);
    }

    /* The JSON array is the entries joined in id order. */
    herald_buf got = HERALD_BUF_INIT, want = HERALD_BUF_INIT;
    cache_table_json(&got, &t);
    herald_buf_putc(&want, '[');
    for (size_t i = 0; i < t.n; i++) {
        if (i)
            herald_buf_putc(&want, ',');
        herald_buf_puts(&want, t.v[i]->json);
    }
    herald_buf_putc(&want, ']');
    cr_assert_eq(got.len, want.len);
    cr_assert(memcmp(got.data, want.data, got.len) == 0);

    /* Prune drops exactly the entries at or below the horizon. */
    int64_t horizon = lm / 2;
    size_t keep = 0;
    for (int i = 0; i < IDS; i++) {
        if (ref[i].present && ref[i].lm <= horizon)
            ref[i].present = 0;
        keep += ref[i].present;
    }
    size_t before = t.n;
    cr_assert_eq(cache_table_prune(&t, horizon), before - keep);
    check_equal(&t, ref);

    herald_buf_free(&got);
    herald_buf_free(&want);
    cache_table_clear(&t);
    cr_assert_eq(t.n, 0);
    cache_table_clear(NULL);
}

Test(signer_cache, empty_table_json_and_removal_of_absent_ids)
{
    cache_table t = {0};
    herald_buf b = HERALD_BUF_INIT;
    cache_table_json(&b, &t);
    cr_assert_eq(b.len, 2);
    cr_assert(memcmp(b.data, "[]", 2) == 0);
    cache_change ch[20];
    for (int i = 0; i < 20; i++)
        ch[i] = (cache_change){"zz", 2, NULL};
    cr_assert_eq(cache_table_apply(&t, ch, 1), 0);
    cr_assert_eq(cache_table_apply(&t, ch, 20), 0);
    cr_assert_eq(t.n, 0);
    herald_buf_free(&b);
    cache_table_clear(&t);
}

Test(signer_cache, last_change_to_an_id_wins_in_both_paths)
{
    for (size_t n = 2; n <= 40; n += 38) { /* 2: in place; 40: merge */
        cache_table t = {0};
        cache_change ch[40];
        for (size_t j = 0; j < n; j++) {
            char json[32];
            snprintf(json, sizeof(json), "{\"v\":%zu}", j);
            ch[j] = (cache_change){"same", 4,
                                   cache_entry_new("same", 4, (int64_t)j, json, strlen(json))};
        }
        cache_table_apply(&t, ch, n);
        cr_assert_eq(t.n, 1);
        cr_assert_eq(t.v[0]->lm, (int64_t)(n - 1));
        /* ...including a removal after a put. */
        cache_change rm[12];
        for (int j = 0; j < 12; j++)
            rm[j] = j < 11 ? (cache_change){"other", 5, cache_entry_new("other", 5, 1, "{}", 2)}
                           : (cache_change){"same", 4, NULL};
        cache_table_apply(&t, rm, 12);
        cr_assert_eq(t.n, 1);
        cr_assert_str_eq(t.v[0]->data, "other");
        cache_table_clear(&t);
    }
}

Test(signer_cache, tombstone_entry_is_canonical)
{
    cache_entry *e = cache_entry_tombstone("r-1", 3, 1700000000123);
    cr_assert_str_eq(e->json, "{\"deleted\":true,\"id\":\"r-1\",\"last_modified\":1700000000123}");
    cr_assert_str_eq(e->data, "r-1");
    cr_assert_eq(e->lm, 1700000000123);
    free(e);
}

Test(signer_cache, collections_are_found_dropped_and_refreshed)
{
    cache_coll *a = cache_get("b/a");
    cr_assert_eq(cache_get("b/a"), a);
    cr_assert_eq(a->applied, -1);
    cache_coll *c = cache_get("b/c");
    cr_assert_neq(a, c);
    cache_change ch = {"x", 1, cache_entry_new("x", 1, 5, "{\"id\":\"x\"}", 10)};
    cache_table_apply(&a->live, &ch, 1);
    cache_coll_refresh(a);
    cr_assert_str_eq(herald_buf_cstr(&a->records_json), "[{\"id\":\"x\"}]");
    char sha[65];
    herald_crypto_sha256_hex(sha, "[{\"id\":\"x\"}]", 12);
    cr_assert_str_eq(a->sha256, sha);
    cr_assert_str_eq(herald_buf_cstr(&a->tombs_json), "[]");
    cache_drop("b/a");
    cache_coll *again = cache_get("b/a");
    cr_assert_eq(again->live.n, 0);
    cache_drop_all();
}

/* A record of 'len' bytes (at least 40) with id 'id': {"id":"...","p":"xxxx"}. */
static cache_entry *
sized_entry(const char *id, int64_t lm, size_t len, char fill)
{
    char *json = herald_mem_alloc(len + 64);
    int n = snprintf(json, len + 64, "{\"id\":\"%s\",\"p\":\"", id);
    size_t at = (size_t)n;
    while (at + 2 < len)
        json[at++] = fill;
    json[at++] = '"';
    json[at++] = '}';
    cache_entry *e = cache_entry_new(id, strlen(id), lm, json, at);
    free(json);
    return e;
}

/*
 * records_json and sha256 are rebuilt from the first changed entry only (cache.c,
 * records_rebuild): after every random batch they must equal a rebuild from nothing.
 * Batches of one edit (in place) and of up to 40 (the merge), deletions, re-creations,
 * a changed first and last id, a prune, a clear (a full read), and records of 64 KB and
 * more among small ones, so that the kept hash states (every 64 KB) are crossed by
 * changes, by entries and by the end of the array.
 */
Test(signer_cache, partial_rebuild_equals_a_full_one)
{
    srand(20261207);
    cache_coll *c = cache_get("b/partial");
    herald_buf full = HERALD_BUF_INIT;
    int64_t lm = 1;
    size_t most = 0;
    for (int round = 0; round < 400; round++) {
        int kind = rand() % 100;
        if (kind == 0) {
            cache_table_clear(&c->live); /* as a full read does */
        } else if (kind < 4) {
            cache_table_prune(&c->live, lm - 1 - rand() % 50);
        } else {
            int n = kind < 60 ? 1 : 1 + rand() % 40;
            cache_change ch[40];
            char ids[40][16];
            for (int i = 0; i < n; i++) {
                int k = rand() % 4 == 0 ? (rand() % 2 ? 0 : 2999) : rand() % 3000;
                snprintf(ids[i], sizeof(ids[i]), "r%04d", k);
                size_t len = rand() % 50 == 0 ? 65536 + (size_t)(rand() % 140000)
                                              : 40 + (size_t)(rand() % 400);
                cache_entry *e = rand() % 5 == 0
                                     ? NULL
                                     : sized_entry(ids[i], lm++, len, (char)('a' + rand() % 26));
                ch[i] = (cache_change){ids[i], strlen(ids[i]), e};
            }
            cache_table_apply(&c->live, ch, (size_t)n);
        }
        c->records_dirty = 1;
        cache_coll_refresh(c);
        herald_buf_reset(&full);
        cache_table_json(&full, &c->live);
        cr_assert_eq(c->records_json.len, full.len, "round %d: %zu bytes, a full build %zu", round,
                     c->records_json.len, full.len);
        cr_assert(memcmp(c->records_json.data, full.data, full.len) == 0, "round %d: bytes differ",
                  round);
        char sha[65];
        herald_crypto_sha256_hex(sha, full.data, full.len);
        cr_assert_str_eq(c->sha256, sha, "round %d", round);
        most = full.len > most ? full.len : most;
    }
    cr_assert_gt(most, 8u * 65536, "the array crossed few hash steps");
    herald_buf_free(&full);
    cache_drop_all();
}

/* Edits one at a time whose rewrite starts at every offset around a kept hash state (64
 * KB): records of 40 bytes, each one changed in turn across the boundary. */
Test(signer_cache, partial_rebuild_at_every_offset_near_a_hash_step)
{
    cache_coll *c = cache_get("b/step");
    char id[16];
    for (int i = 0; i < 4000; i++) {
        snprintf(id, sizeof(id), "r%04d", i);
        cache_change ch = {id, strlen(id), sized_entry(id, i + 1, 40, 'a')};
        cache_table_apply(&c->live, &ch, 1);
    }
    c->records_dirty = 1;
    cache_coll_refresh(c);
    herald_buf full = HERALD_BUF_INIT;
    for (int i = 1550; i < 1720; i++) { /* offsets 1 + 41 i: 63551 .. 70521 */
        snprintf(id, sizeof(id), "r%04d", i);
        cache_change ch = {id, strlen(id), sized_entry(id, 5000 + i, 40, 'b')};
        cache_table_apply(&c->live, &ch, 1);
        c->records_dirty = 1;
        cache_coll_refresh(c);
        herald_buf_reset(&full);
        cache_table_json(&full, &c->live);
        char sha[65];
        herald_crypto_sha256_hex(sha, full.data, full.len);
        cr_assert_str_eq(c->sha256, sha, "record %d", i);
    }
    herald_buf_free(&full);
    cache_drop_all();
}
