/*
 * test_server_wait -- the long-poll waiter registry (server/wait.c), differentially:
 * random operations (add on one of a few keys with a random deadline, remove, take the
 * waiters of stale keys, advance the clock and take the expired ones, take all) on the
 * real registry and on a plain reference (an array of flags and deadlines), failing on
 * any difference in what is taken, in the count and in the process-wide gauge. Plus the
 * boundaries: a deadline is taken at the first sweep at or after it, never before; the
 * cap; a key made of different bucket/collection splits is a different key.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wait.h"

#define N 300
#define NKEYS 6

typedef struct item {
    waiter w;
    int in;     /* reference: registered */
    int key;    /* reference: its key */
    int64_t dl; /* reference: its deadline, capped */
    int taken;  /* set when a take returned it */
} item;

static item g_items[N];

static const wait_key KEYS[NKEYS] = {
    {1, "", 0, "", 0, "100", 3, 0},
    {1, "", 0, "", 0, "101", 3, 0},
    {2, "b", 1, "c", 1, "100", 3, 0},
    {2, "bc", 2, "", 0, "100", 3, 0},
    {2, "b", 1, "c", 1, "7", 1, 0},
    {1, "", 0, "", 0, "100", 3, 1}, /* differs from the first by the encoding only */
};

static uint64_t g_rng = 88172645463325252ULL;
static uint64_t
rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static int g_stale[NKEYS];

static int
key_index(const wait_key *k)
{
    for (int i = 0; i < NKEYS; i++)
        if (k->route == KEYS[i].route && k->compressed == KEYS[i].compressed &&
            k->bl == KEYS[i].bl && k->cl == KEYS[i].cl && k->etag_len == KEYS[i].etag_len &&
            !memcmp(k->bid, KEYS[i].bid, k->bl) && !memcmp(k->cid, KEYS[i].cid, k->cl) &&
            !memcmp(k->etag, KEYS[i].etag, k->etag_len))
            return i;
    cr_assert_fail("a group key that was never added");
    return -1;
}

static int
is_stale(const wait_key *k, void *arg)
{
    (void)arg;
    return g_stale[key_index(k)];
}

/* Marks the items of 'list' taken; fails on one taken twice or not registered. */
static void
mark(waiter *list)
{
    for (waiter *x = list; x; x = x->next) {
        item *it = (item *)x;
        cr_assert(it->in, "taken but not registered");
        cr_assert(!it->taken, "taken twice");
        cr_assert_null(x->g, "a taken waiter still points at its group");
        it->taken = 1;
    }
}

Test(wait, differential_against_a_reference)
{
    const int64_t max_ms = 5000;
    wait_reg *r = wait_reg_new(max_ms);
    int64_t now = 1000000;
    int64_t gauge0 = wait_held_total();
    memset(g_items, 0, sizeof(g_items));
    for (int step = 0; step < 20000; step++) {
        int op = (int)(rnd() % 100);
        item *it = &g_items[rnd() % N];
        if (op < 45) {
            if (it->in)
                continue;
            it->key = (int)(rnd() % NKEYS);
            int64_t dl = now + (int64_t)(rnd() % 8000); /* beyond the cap too */
            wait_add(r, &it->w, &KEYS[it->key], now, dl);
            it->dl = dl < now + max_ms ? dl : now + max_ms;
            it->in = 1;
        } else if (op < 60) {
            wait_remove(r, &it->w); /* also when not registered: a no-op */
            it->in = 0;
        } else if (op < 70) {
            for (int k = 0; k < NKEYS; k++)
                g_stale[k] = (int)(rnd() % 3 == 0);
            for (int i = 0; i < N; i++)
                g_items[i].taken = 0;
            mark(wait_take_stale(r, is_stale, NULL));
            for (int i = 0; i < N; i++) {
                item *x = &g_items[i];
                cr_assert_eq(x->taken, x->in && g_stale[x->key], "stale take differs (item %d)", i);
                if (x->taken)
                    x->in = 0;
            }
        } else if (op < 98) {
            now += (int64_t)(rnd() % 700);
            for (int i = 0; i < N; i++)
                g_items[i].taken = 0;
            mark(wait_take_expired(r, now));
            /* Taken: every deadline passed, to the sweep's resolution (never early). */
            for (int i = 0; i < N; i++) {
                item *x = &g_items[i];
                if (x->taken) {
                    cr_assert_leq(x->dl, now, "taken before its deadline");
                    x->in = 0;
                } else if (x->in) {
                    cr_assert_gt(x->dl, now - WAIT_TICK_MS, "left behind past its deadline");
                }
            }
        } else {
            for (int i = 0; i < N; i++)
                g_items[i].taken = 0;
            mark(wait_take_all(r));
            for (int i = 0; i < N; i++) {
                cr_assert_eq(g_items[i].taken, g_items[i].in);
                g_items[i].in = 0;
            }
        }
        size_t in = 0;
        for (int i = 0; i < N; i++)
            in += (size_t)g_items[i].in;
        cr_assert_eq(wait_count(r), in, "count differs at step %d", step);
        cr_assert_eq(wait_held_total() - gauge0, (int64_t)in, "gauge differs at step %d", step);
    }
    mark(wait_take_all(r));
    cr_assert_eq(wait_count(r), 0);
    wait_reg_free(r);
}

Test(wait, deadline_boundaries)
{
    wait_reg *r = wait_reg_new(60000);
    item a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    int64_t t0 = 10 * WAIT_TICK_MS;
    cr_assert_null(wait_take_expired(r, t0)); /* the first sweep */
    wait_add(r, &a.w, &KEYS[0], t0, t0 + 1000);
    wait_add(r, &b.w, &KEYS[0], t0, t0 + 1001); /* rounded up to the next tick */
    cr_assert_null(wait_take_expired(r, t0 + 999));
    waiter *x = wait_take_expired(r, t0 + 1000);
    cr_assert_eq(x, &a.w);
    cr_assert_null(x->next);
    cr_assert_null(wait_take_expired(r, t0 + 1000 + WAIT_TICK_MS - 1));
    cr_assert_eq(wait_take_expired(r, t0 + 1000 + WAIT_TICK_MS), &b.w);
    /* A deadline already past when added is taken by the next sweep, not a turn later. */
    wait_add(r, &a.w, &KEYS[1], t0 + 5000, t0);
    cr_assert_eq(wait_take_expired(r, t0 + 5000 + WAIT_TICK_MS), &a.w);
    /* Groups: one stale key takes only its own waiters; the group is then gone. */
    wait_add(r, &a.w, &KEYS[2], t0, t0 + 3000);
    wait_add(r, &b.w, &KEYS[3], t0, t0 + 3000); /* "bc"/"" is not "b"/"c" */
    memset(g_stale, 0, sizeof(g_stale));
    g_stale[2] = 1;
    x = wait_take_stale(r, is_stale, NULL);
    cr_assert_eq(x, &a.w);
    cr_assert_null(x->next);
    cr_assert_eq(wait_count(r), 1);
    wait_remove(r, &b.w);
    cr_assert_eq(wait_count(r), 0);
    wait_reg_free(r);
}
