/*
 * wait -- see wait.h.
 *
 * Memory: a waiter is embedded in its owner (48 bytes); a group is one allocation for
 * the struct and the copied key, shared by every waiter on that (collection, version).
 * The wheel is one pointer per WAIT_TICK_MS of the longest wait (60 s: 243 slots).
 * Deadlines are placed in the slot of their tick rounded up, so the sweep that first
 * sees a slot's tick sees every deadline in it as passed.
 */
#include "wait.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "herald/mem.h"

struct wait_group {
    wait_key k; /* bid, cid, etag point into 'mem' */
    uint64_t hash;
    waiter *first;
    wait_group *hnext; /* hash chain */
    char mem[];
};

struct wait_reg {
    wait_group **tab; /* power-of-two buckets */
    size_t tabsize, ngroups;
    waiter **wheel;
    size_t nslots;
    int64_t max_wait_ms;
    int64_t last_tick; /* the last tick swept; -1 before the first sweep */
    size_t count;
};

static atomic_llong g_held;

int64_t
wait_held_total(void)
{
    return (int64_t)atomic_load_explicit(&g_held, memory_order_relaxed);
}

wait_reg *
wait_reg_new(int64_t max_wait_ms)
{
    wait_reg *r = herald_mem_calloc(1, sizeof(*r));
    r->max_wait_ms = max_wait_ms > 0 ? max_wait_ms : 0;
    r->nslots = (size_t)(r->max_wait_ms / WAIT_TICK_MS) + 3;
    r->wheel = herald_mem_calloc(r->nslots, sizeof(*r->wheel));
    r->tabsize = 16;
    r->tab = herald_mem_calloc(r->tabsize, sizeof(*r->tab));
    r->last_tick = -1;
    return r;
}

void
wait_reg_free(wait_reg *r)
{
    if (!r)
        return;
    /* Never with waiters (their owners would keep dangling group pointers): take them
     * first. Groups die with their last waiter, so the table is empty too. */
    free(r->wheel);
    free(r->tab);
    free(r);
}

size_t
wait_count(const wait_reg *r)
{
    return r->count;
}

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t
key_hash(const wait_key *k)
{
    uint64_t h = fnv(14695981039346656037ULL, &k->route, sizeof(k->route));
    h = fnv(h, k->bid, k->bl);
    h = fnv(h ^ 0xff, k->cid, k->cl);
    h = fnv(h ^ 0xfe, k->etag, k->etag_len);
    return fnv(h, &k->compressed, sizeof(k->compressed));
}

/* memcmp of possibly NULL empty slices (the monitor has no bucket). */
static int
same(const char *a, const char *b, size_t n)
{
    return n == 0 || !memcmp(a, b, n);
}

static int
key_eq(const wait_key *a, const wait_key *b)
{
    return a->route == b->route && a->compressed == b->compressed && a->bl == b->bl &&
           a->cl == b->cl && a->etag_len == b->etag_len && same(a->bid, b->bid, a->bl) &&
           same(a->cid, b->cid, a->cl) && same(a->etag, b->etag, a->etag_len);
}

static void
grow(wait_reg *r)
{
    size_t n = r->tabsize * 2;
    wait_group **t = herald_mem_calloc(n, sizeof(*t));
    for (size_t i = 0; i < r->tabsize; i++) {
        wait_group *g = r->tab[i], *next;
        for (; g; g = next) {
            next = g->hnext;
            g->hnext = t[g->hash & (n - 1)];
            t[g->hash & (n - 1)] = g;
        }
    }
    free(r->tab);
    r->tab = t;
    r->tabsize = n;
}

static wait_group *
group_get(wait_reg *r, const wait_key *k)
{
    uint64_t h = key_hash(k);
    for (wait_group *g = r->tab[h & (r->tabsize - 1)]; g; g = g->hnext)
        if (g->hash == h && key_eq(&g->k, k))
            return g;
    if (r->ngroups >= r->tabsize)
        grow(r);
    wait_group *g = herald_mem_calloc(1, sizeof(*g) + k->bl + k->cl + k->etag_len + 1);
    char *m = g->mem;
    g->k = *k;
    g->k.bid = memcpy(m, k->bid ? k->bid : "", k->bl);
    g->k.cid = memcpy(m + k->bl, k->cid ? k->cid : "", k->cl);
    g->k.etag = memcpy(m + k->bl + k->cl, k->etag, k->etag_len);
    g->hash = h;
    size_t b = h & (r->tabsize - 1);
    g->hnext = r->tab[b];
    r->tab[b] = g;
    r->ngroups++;
    return g;
}

static void
group_free(wait_reg *r, wait_group *g)
{
    wait_group **pp = &r->tab[g->hash & (r->tabsize - 1)];
    while (*pp != g)
        pp = &(*pp)->hnext;
    *pp = g->hnext;
    r->ngroups--;
    free(g);
}

static int64_t
tick_up(int64_t ms)
{
    return (ms + WAIT_TICK_MS - 1) / WAIT_TICK_MS;
}

void
wait_add(wait_reg *r, waiter *w, const wait_key *k, int64_t now_ms, int64_t deadline_ms)
{
    if (deadline_ms > now_ms + r->max_wait_ms)
        deadline_ms = now_ms + r->max_wait_ms;
    wait_group *g = group_get(r, k);
    w->g = g;
    w->prev = NULL;
    w->next = g->first;
    if (g->first)
        g->first->prev = w;
    g->first = w;
    w->deadline_ms = deadline_ms;
    int64_t t = tick_up(deadline_ms);
    if (r->last_tick >= 0 && t <= r->last_tick)
        t = r->last_tick + 1; /* a slot already swept would wait a whole turn */
    w->slot = (size_t)(t % (int64_t)r->nslots);
    w->tprev = NULL;
    w->tnext = r->wheel[w->slot];
    if (w->tnext)
        w->tnext->tprev = w;
    r->wheel[w->slot] = w;
    r->count++;
    atomic_fetch_add_explicit(&g_held, 1, memory_order_relaxed);
}

static void
wheel_unlink(wait_reg *r, waiter *w)
{
    if (w->tprev)
        w->tprev->tnext = w->tnext;
    else
        r->wheel[w->slot] = w->tnext;
    if (w->tnext)
        w->tnext->tprev = w->tprev;
    w->tnext = w->tprev = NULL;
}

/* Takes 'w' out of its group (freeing the group with its last waiter) and the wheel. */
static void
detach(wait_reg *r, waiter *w)
{
    wait_group *g = w->g;
    if (w->prev)
        w->prev->next = w->next;
    else
        g->first = w->next;
    if (w->next)
        w->next->prev = w->prev;
    if (!g->first)
        group_free(r, g);
    wheel_unlink(r, w);
    w->g = NULL;
    w->next = w->prev = NULL;
    r->count--;
    atomic_fetch_sub_explicit(&g_held, 1, memory_order_relaxed);
}

void
wait_remove(wait_reg *r, waiter *w)
{
    if (w->g)
        detach(r, w);
}

waiter *
wait_take_stale(wait_reg *r, int (*stale)(const wait_key *k, void *arg), void *arg)
{
    waiter *out = NULL;
    for (size_t b = 0; b < r->tabsize; b++) {
        wait_group *g = r->tab[b], *next;
        for (; g; g = next) {
            next = g->hnext;
            if (!stale(&g->k, arg))
                continue;
            /* Detaching the last waiter frees 'g': 'next' was read before. */
            while (g->first) {
                waiter *w = g->first;
                int last = w->next == NULL;
                detach(r, w);
                w->next = out;
                out = w;
                if (last)
                    break;
            }
        }
    }
    return out;
}

waiter *
wait_take_expired(wait_reg *r, int64_t now_ms)
{
    waiter *out = NULL;
    int64_t now_tick = now_ms / WAIT_TICK_MS;
    int64_t from = r->last_tick + 1;
    if (r->last_tick < 0 || now_tick - r->last_tick > (int64_t)r->nslots)
        from = now_tick - (int64_t)r->nslots + 1; /* first sweep, or a long stall: all */
    for (int64_t t = from; t <= now_tick; t++) {
        size_t s = (size_t)(((t % (int64_t)r->nslots) + (int64_t)r->nslots) % (int64_t)r->nslots);
        waiter *w = r->wheel[s], *next;
        for (; w; w = next) {
            next = w->tnext;
            if (w->deadline_ms > now_ms)
                continue;
            detach(r, w);
            w->next = out;
            out = w;
        }
    }
    if (now_tick > r->last_tick)
        r->last_tick = now_tick;
    return out;
}

waiter *
wait_take_all(wait_reg *r)
{
    waiter *out = NULL;
    for (size_t s = 0; s < r->nslots; s++) {
        while (r->wheel[s]) {
            waiter *w = r->wheel[s];
            detach(r, w);
            w->next = out;
            out = w;
        }
    }
    return out;
}
