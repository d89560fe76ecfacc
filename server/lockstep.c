/*
 * lockstep -- see lockstep.h. The staged collections are a small chained hash table
 * keyed by "bid\0cid" (a cold start stages every collection at once: thousands); each
 * key holds its versions in a short array. A decision walks the monitor's entries (one
 * lookup each in the exposed set and the table) and the exposed set (one binary search
 * each in the sorted entries): O(entries log entries), run once per loader wake-up,
 * monitor or tick that changed something.
 */
#include "lockstep.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "herald/log.h"
#include "herald/mem.h"
#include "herald/monitor.h"

const double lockstep_bucket_seconds[LOCKSTEP_BUCKETS] = {0.01, 0.05, 0.1, 0.25, 0.5,
                                                          1,    2.5,  5,   10,   30};

/* Staged versions kept per collection: a burst of a large collection must not hold one
 * copy per edit while a monitor is awaited. The oldest goes first (a monitor names the
 * newest stored version at its signing: older ones rarely match any more); its wait
 * still counts for the bound. */
#define MAX_VERSIONS 4

static struct {
    atomic_llong staged, exposed, wait_ms_sum, superseded, fallbacks;
    atomic_llong le[LOCKSTEP_BUCKETS];
    atomic_int fallback;
} G;

typedef struct stv {
    coll *c;
    int64_t at; /* monotonic ms it was staged */
} stv;

typedef struct skey {
    struct skey *next; /* hash chain */
    uint64_t hash;
    stv *v; /* ascending version; at most MAX_VERSIONS */
    size_t nv, cap;
    int64_t since; /* when its oldest version still waiting was staged (the bound's start) */
    int removed;   /* its removal was announced; still exposed */
    int64_t removed_at;
    size_t bl, cl;
    char key[]; /* bid '\0' cid '\0' */
} skey;

typedef struct ment {
    herald_monitor_entry e;
    size_t bl, cl;
} ment;

/* Verified signed monitors kept, newest last. A server that builds versions more slowly
 * than the signer signs them (a 100k-record collection during an import) had, by the
 * time it built version V, already replaced the monitor naming V by one naming V+1, and
 * so matched none of them for as long as the stream lasted. With the last few kept, V
 * goes out with the monitor that named it, and V+1 with its own once built. */
#define MAX_MONITORS 8

typedef struct lmon {
    json_t *body;
    int64_t m, e; /* its timestamp and expiry */
    int64_t at;   /* monotonic ms it was set */
    ment *ents;   /* sorted by (bucket, collection) */
    size_t nents;
} lmon;

struct lockstep {
    int64_t bound_ms;
    skey **tab;
    size_t tabsize, nkeys;
    size_t nitems;           /* staged versions + removals */
    lmon mons[MAX_MONITORS]; /* ascending timestamp: mons[nmons - 1] is the newest */
    size_t nmons;
    int fallback;      /* serving the newest versions unsigned after the bound passed */
    int64_t mon_since; /* since when the newest monitor has not matched (INT64_MAX: it has) */
};

static void
set_staged(const lockstep *l)
{
    atomic_store_explicit(&G.staged, (long long)l->nitems, memory_order_relaxed);
}

lockstep *
lockstep_new(int64_t bound_ms)
{
    lockstep *l = herald_mem_calloc(1, sizeof(*l));
    l->bound_ms = bound_ms > 0 ? bound_ms : 0;
    l->tabsize = 64;
    l->tab = herald_mem_calloc(l->tabsize, sizeof(*l->tab));
    l->mon_since = INT64_MAX;
    return l;
}

static void
key_free(skey *k)
{
    for (size_t i = 0; i < k->nv; i++)
        coll_release(k->v[i].c);
    free(k->v);
    free(k);
}

/* The newest monitor (NULL: none). */
static const lmon *
newest_mon(const lockstep *l)
{
    return l->nmons ? &l->mons[l->nmons - 1] : NULL;
}

/* Drops the 'n' oldest monitors. */
static void
drop_monitors(lockstep *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(l->mons[i].body);
        free(l->mons[i].ents);
    }
    memmove(&l->mons[0], &l->mons[n], (l->nmons - n) * sizeof(l->mons[0]));
    l->nmons -= n;
}

void
lockstep_free(lockstep *l)
{
    if (!l)
        return;
    for (size_t b = 0; b < l->tabsize; b++)
        while (l->tab[b]) {
            skey *k = l->tab[b];
            l->tab[b] = k->next;
            key_free(k);
        }
    free(l->tab);
    drop_monitors(l, l->nmons);
    atomic_store_explicit(&G.staged, 0, memory_order_relaxed);
    free(l);
}

/* ---- the table ------------------------------------------------------------------------ */

static uint64_t
hash_key(const char *bid, size_t bl, const char *cid, size_t cl)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < bl; i++)
        h = (h ^ (unsigned char)bid[i]) * 1099511628211ULL;
    h = (h ^ 0x2f) * 1099511628211ULL;
    for (size_t i = 0; i < cl; i++)
        h = (h ^ (unsigned char)cid[i]) * 1099511628211ULL;
    return h;
}

static skey *
find(const lockstep *l, const char *bid, size_t bl, const char *cid, size_t cl)
{
    uint64_t h = hash_key(bid, bl, cid, cl);
    for (skey *k = l->tab[h & (l->tabsize - 1)]; k; k = k->next)
        if (k->hash == h && k->bl == bl && k->cl == cl && !memcmp(k->key, bid, bl) &&
            !memcmp(k->key + bl + 1, cid, cl))
            return k;
    return NULL;
}

static skey *
get(lockstep *l, const char *bid, size_t bl, const char *cid, size_t cl)
{
    skey *k = find(l, bid, bl, cid, cl);
    if (k)
        return k;
    if (l->nkeys >= l->tabsize) {
        size_t n = l->tabsize * 2;
        skey **t = herald_mem_calloc(n, sizeof(*t));
        for (size_t b = 0; b < l->tabsize; b++)
            while (l->tab[b]) {
                skey *x = l->tab[b];
                l->tab[b] = x->next;
                x->next = t[x->hash & (n - 1)];
                t[x->hash & (n - 1)] = x;
            }
        free(l->tab);
        l->tab = t;
        l->tabsize = n;
    }
    k = herald_mem_calloc(1, sizeof(*k) + bl + cl + 2);
    k->hash = hash_key(bid, bl, cid, cl);
    k->bl = bl;
    k->cl = cl;
    memcpy(k->key, bid, bl);
    memcpy(k->key + bl + 1, cid, cl);
    k->next = l->tab[k->hash & (l->tabsize - 1)];
    l->tab[k->hash & (l->tabsize - 1)] = k;
    l->nkeys++;
    return k;
}

static void
unlink_key(lockstep *l, skey *k)
{
    skey **pp = &l->tab[k->hash & (l->tabsize - 1)];
    while (*pp != k)
        pp = &(*pp)->next;
    *pp = k->next;
    l->nkeys--;
    key_free(k);
}

/* ---- the counters ------------------------------------------------------------------- */

static void
count_exposed(int64_t waited_ms)
{
    if (waited_ms < 0)
        waited_ms = 0;
    atomic_fetch_add_explicit(&G.exposed, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&G.wait_ms_sum, waited_ms, memory_order_relaxed);
    for (int i = 0; i < LOCKSTEP_BUCKETS; i++)
        if ((double)waited_ms <= lockstep_bucket_seconds[i] * 1000)
            atomic_fetch_add_explicit(&G.le[i], 1, memory_order_relaxed);
}

void
lockstep_stats_read(lockstep_stats *o)
{
    o->staged = atomic_load_explicit(&G.staged, memory_order_relaxed);
    o->exposed = atomic_load_explicit(&G.exposed, memory_order_relaxed);
    o->wait_ms_sum = atomic_load_explicit(&G.wait_ms_sum, memory_order_relaxed);
    for (int i = 0; i < LOCKSTEP_BUCKETS; i++)
        o->le[i] = atomic_load_explicit(&G.le[i], memory_order_relaxed);
    o->superseded = atomic_load_explicit(&G.superseded, memory_order_relaxed);
    o->fallbacks = atomic_load_explicit(&G.fallbacks, memory_order_relaxed);
    o->fallback = atomic_load_explicit(&G.fallback, memory_order_relaxed);
}

/* ---- input -------------------------------------------------------------------------- */

void
lockstep_add(lockstep *l, coll *c, int64_t now_ms)
{
    skey *k = get(l, c->bid, c->bid_len, c->cid, c->cid_len);
    if (k->removed) {
        k->removed = 0; /* re-created after its removal: this is the newer news */
        l->nitems--;
    }
    size_t i = k->nv;
    while (i > 0 && k->v[i - 1].c->version >= c->version) {
        if (k->v[i - 1].c->version == c->version) {
            coll_release(c);
            return;
        }
        i--;
    }
    if (k->nv == MAX_VERSIONS) {
        if (i == 0) { /* older than every version kept */
            coll_release(c);
            atomic_fetch_add_explicit(&G.superseded, 1, memory_order_relaxed);
            return;
        }
        coll_release(k->v[0].c);
        atomic_fetch_add_explicit(&G.superseded, 1, memory_order_relaxed);
        memmove(&k->v[0], &k->v[1], (k->nv - 1) * sizeof(*k->v));
        k->nv--;
        l->nitems--;
        i--;
    }
    if (k->nv == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 2;
        k->v = herald_mem_realloc(k->v, k->cap * sizeof(*k->v));
    }
    if (k->nv == 0)
        k->since = now_ms;
    memmove(&k->v[i + 1], &k->v[i], (k->nv - i) * sizeof(*k->v));
    k->v[i] = (stv){c, now_ms};
    k->nv++;
    l->nitems++;
    set_staged(l);
}

void
lockstep_remove(lockstep *l, const snapset *cur, const char *bid, const char *cid, int64_t now_ms)
{
    size_t bl = strlen(bid), cl = strlen(cid);
    skey *k = get(l, bid, bl, cid, cl);
    for (size_t i = 0; i < k->nv; i++) {
        coll_release(k->v[i].c);
        atomic_fetch_add_explicit(&G.superseded, 1, memory_order_relaxed);
    }
    l->nitems -= k->nv;
    k->nv = 0;
    if (!(cur && snapset_find(cur, bid, bl, cid, cl))) {
        if (k->removed)
            l->nitems--;
        unlink_key(l, k); /* not exposed: nothing to wait for */
    } else if (!k->removed) {
        k->removed = 1;
        k->removed_at = now_ms;
        l->nitems++;
    }
    set_staged(l);
}

size_t
lockstep_drop_unlisted(lockstep *l, const snapset *cur, int64_t before_ms,
                       int (*listed)(const char *bid, const char *cid, void *arg), void *arg)
{
    size_t dropped = 0;
    for (size_t b = 0; b < l->tabsize; b++) {
        skey *k = l->tab[b], *next;
        for (; k; k = next) {
            next = k->next;
            if (!k->nv || k->v[k->nv - 1].at >= before_ms ||
                (cur && snapset_find(cur, k->key, k->bl, k->key + k->bl + 1, k->cl)) ||
                listed(k->key, k->key + k->bl + 1, arg))
                continue;
            atomic_fetch_add_explicit(&G.superseded, (long long)k->nv, memory_order_relaxed);
            l->nitems -= k->nv + (k->removed ? 1 : 0);
            unlink_key(l, k);
            dropped++;
        }
    }
    set_staged(l);
    return dropped;
}

static int
ment_cmp(const void *a, const void *b)
{
    const ment *x = a, *y = b;
    int r = strcmp(x->e.bucket, y->e.bucket);
    return r ? r : strcmp(x->e.collection, y->e.collection);
}

void
lockstep_set_monitor(lockstep *l, const snapset_monitor *m, int64_t now_ms)
{
    const lmon *top = newest_mon(l);
    if (!m || (top && m->timestamp <= top->m)) {
        /* None valid: none of the older ones either. (Not newer: the caller never
         * passes one; it would replace them all, as before.) */
        drop_monitors(l, l->nmons);
        if (!m) {
            l->mon_since = INT64_MAX;
            return;
        }
    }
    if (l->nmons == MAX_MONITORS)
        drop_monitors(l, 1);
    if (l->mon_since == INT64_MAX)
        l->mon_since = now_ms; /* until a decision finds the newest matches */
    lmon *x = &l->mons[l->nmons++];
    x->body = json_incref((json_t *)m->body);
    x->m = m->timestamp;
    x->e = m->expires;
    x->at = now_ms;
    const json_t *entries = json_object_get(m->body, "entries");
    size_t n = json_array_size(entries);
    x->ents = herald_mem_calloc(n ? n : 1, sizeof(*x->ents));
    x->nents = 0;
    for (size_t i = 0; i < n; i++) {
        ment *y = &x->ents[x->nents];
        if (herald_monitor_entry_parse(&y->e, json_array_get(entries, i), NULL, 0) < 0)
            continue; /* NEVER: verified by the caller */
        y->bl = strlen(y->e.bucket);
        y->cl = strlen(y->e.collection);
        x->nents++;
    }
    qsort(x->ents, x->nents, sizeof(*x->ents), ment_cmp);
}

coll *
lockstep_newest_coll(const lockstep *l, const snapset *cur, const char *bid, const char *cid)
{
    size_t bl = strlen(bid), cl = strlen(cid);
    const skey *k = find(l, bid, bl, cid, cl);
    if (k && k->nv)
        return k->v[k->nv - 1].c;
    if (k && k->removed)
        return NULL;
    return cur ? snapset_find(cur, bid, bl, cid, cl) : NULL;
}

int64_t
lockstep_newest(const lockstep *l, const snapset *cur, const char *bid, const char *cid)
{
    const coll *c = lockstep_newest_coll(l, cur, bid, cid);
    return c ? c->version : 0;
}

/* The monotonic time the oldest staged item was staged (INT64_MAX: none). */
static int64_t
oldest(const lockstep *l, const skey **which)
{
    int64_t t = INT64_MAX;
    for (size_t b = 0; b < l->tabsize; b++)
        for (const skey *k = l->tab[b]; k; k = k->next) {
            if (k->removed && k->removed_at < t) {
                t = k->removed_at;
                *which = k;
            }
            if (k->nv && k->since < t) {
                t = k->since;
                *which = k;
            }
        }
    return t;
}

/* Since when something has waited: the oldest staged item or the unmatched monitor. */
static int64_t
waiting_since(const lockstep *l, const skey **which)
{
    *which = NULL;
    int64_t t = l->nitems ? oldest(l, which) : INT64_MAX;
    if (l->nmons && l->mon_since < t) {
        t = l->mon_since;
        *which = NULL;
    }
    return t;
}

int
lockstep_due(const lockstep *l, int64_t now_ms)
{
    const skey *k;
    int64_t t = l->bound_ms ? waiting_since(l, &k) : INT64_MAX;
    return t != INT64_MAX && now_ms - t >= l->bound_ms;
}

/* ---- decisions ---------------------------------------------------------------------- */

static const ment *
ent_find(const lmon *mon, const char *bid, const char *cid)
{
    ment key = {.e = {.bucket = bid, .collection = cid}};
    return bsearch(&key, mon->ents, mon->nents, sizeof(*mon->ents), ment_cmp);
}

/* Whether 'next' (n colls, sorted or not) with monitor 'signed_m' (-1: unsigned) is the
 * set 'cur' already exposes. */
static int
same_as(const snapset *cur, coll *const *next, size_t n, int64_t signed_m)
{
    if (!cur || cur->n != n || cur->mon_signed != (signed_m >= 0) ||
        (signed_m >= 0 && cur->mon_version != signed_m))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (snapset_find(cur, next[i]->bid, next[i]->bid_len, next[i]->cid, next[i]->cid_len) !=
            next[i])
            return 0;
    return 1;
}

/* After a publish of 'next' (n colls): staged versions at or below the exposed one of
 * their collection go (counted as exposed or superseded), and so do removals of
 * collections no longer exposed. With 'all', everything staged goes. */
static void
settle(lockstep *l, const snapset *next, int64_t now_ms, int all)
{
    for (size_t b = 0; b < l->tabsize; b++) {
        skey *k = l->tab[b], *knext;
        for (; k; k = knext) {
            knext = k->next;
            const coll *x =
                next ? snapset_find(next, k->key, k->bl, k->key + k->bl + 1, k->cl) : NULL;
            size_t keep = 0;
            for (size_t i = 0; i < k->nv; i++) {
                coll *c = k->v[i].c;
                if (!all && (!x || c->version > x->version)) {
                    k->v[keep++] = k->v[i];
                    continue;
                }
                if (c == x)
                    count_exposed(now_ms - k->v[i].at);
                else
                    atomic_fetch_add_explicit(&G.superseded, 1, memory_order_relaxed);
                coll_release(c);
                l->nitems--;
            }
            if (keep && keep != k->nv)
                k->since = k->v[0].at; /* a version went out: the rest wait from their own */
            k->nv = keep;
            if (k->removed && (all || !x)) {
                k->removed = 0;
                l->nitems--;
            }
            if (!k->nv && !k->removed)
                unlink_key(l, k);
        }
    }
    set_staged(l);
}

/* 1. The set monitor 'mon' commits to, or NULL when it does not match (see lockstep.h).
 * '*same' is set when it matches and equals 'cur'. */
static snapset *
try_match(lockstep *l, const lmon *mon, const snapset *cur, int *same)
{
    *same = 0;
    coll **v = herald_mem_calloc(mon->nents + 1, sizeof(coll *));
    for (size_t i = 0; i < mon->nents; i++) {
        const ment *m = &mon->ents[i];
        coll *x = cur ? snapset_find(cur, m->e.bucket, m->bl, m->e.collection, m->cl) : NULL;
        int64_t exposed = x ? x->version : 0;
        if (x && (x->version != m->e.last_modified || strcmp(x->sha256, m->e.sha256)))
            x = NULL;
        const skey *k = x ? NULL : find(l, m->e.bucket, m->bl, m->e.collection, m->cl);
        for (size_t j = 0; k && j < k->nv && !x; j++) {
            coll *c = k->v[j].c;
            if (c->version == m->e.last_modified && c->version > exposed &&
                !strcmp(c->sha256, m->e.sha256))
                x = c;
        }
        if (!x)
            goto nomatch;
        v[i] = x;
    }
    for (size_t i = 0; cur && i < cur->n; i++) {
        const coll *c = cur->colls[i];
        if (ent_find(mon, c->bid, c->cid))
            continue;
        const skey *k = find(l, c->bid, c->bid_len, c->cid, c->cid_len);
        if (!k || !k->removed)
            goto nomatch; /* would hide a collection this monitor does not know yet */
    }
    if (same_as(cur, v, mon->nents, mon->m)) {
        *same = 1;
        goto nomatch;
    }
    for (size_t i = 0; i < mon->nents; i++)
        coll_ref(v[i]);
    snapset_monitor sm = {mon->body, mon->m, mon->e};
    snapset *s = snapset_new_signed(v, mon->nents, &sm);
    free(v);
    return s;
nomatch:
    free(v);
    return NULL;
}

/* 3. (and lock-step off) The newest version of every collection, with monitor 'm'
 * (NULL: unsigned); NULL when that is 'cur' already. */
static snapset *
newest_set(lockstep *l, const snapset *cur, const snapset_monitor *m)
{
    size_t ncur = cur ? cur->n : 0, n = 0;
    coll **v = herald_mem_calloc(ncur + l->nkeys + 1, sizeof(coll *));
    for (size_t i = 0; i < ncur; i++) {
        coll *c = cur->colls[i];
        const skey *k = find(l, c->bid, c->bid_len, c->cid, c->cid_len);
        if (k && k->nv && k->v[k->nv - 1].c->version > c->version)
            v[n++] = k->v[k->nv - 1].c;
        else if (!k || !k->removed)
            v[n++] = c;
    }
    for (size_t b = 0; b < l->tabsize; b++)
        for (const skey *k = l->tab[b]; k; k = k->next)
            if (k->nv && !(cur && snapset_find(cur, k->key, k->bl, k->key + k->bl + 1, k->cl)))
                v[n++] = k->v[k->nv - 1].c;
    snapset *s = NULL;
    if (!same_as(cur, v, n, m ? m->timestamp : -1)) {
        for (size_t i = 0; i < n; i++)
            coll_ref(v[i]);
        s = snapset_new_signed(v, n, m);
    }
    free(v);
    return s;
}

/* A monitor matched and nothing is overdue: the end of a fallback, if one was under way. */
static void
back_in_step(lockstep *l, int64_t m)
{
    if (l->fallback)
        herald_info("lock-step: signed monitor %lld commits to the versions served again",
                    (long long)m);
    l->fallback = 0;
    atomic_store_explicit(&G.fallback, 0, memory_order_relaxed);
}

/* 1. The newest kept monitor that matches, tried newest first: it and every older one
 * are dropped (never exposed after it), and when it is the newest the monitor no longer
 * waits. Skipped: monitors not newer than the exposed signed one (never go back), those
 * kept longer than the bound (a version they name that was not built by then is late
 * anyway), and those already expired when the newest was signed. '*matched' is set when
 * one matched (the set, or NULL when it is 'cur'), to that monitor's timestamp. */
static snapset *
match_kept(lockstep *l, const snapset *cur, int64_t now_ms, int64_t *matched)
{
    *matched = 0;
    const lmon *top = newest_mon(l);
    for (size_t i = l->nmons; i-- > 0;) {
        const lmon *mon = &l->mons[i];
        if (mon != top && ((cur && cur->mon_signed && mon->m <= cur->mon_version) ||
                           now_ms - mon->at > l->bound_ms || mon->e <= top->m))
            break;
        int same = 0;
        snapset *s = try_match(l, mon, cur, &same);
        if (!s && !same)
            continue;
        *matched = mon->m;
        if (mon == top)
            l->mon_since = INT64_MAX;
        drop_monitors(l, i); /* the older ones */
        return s;
    }
    return NULL;
}

snapset *
lockstep_decide(lockstep *l, const snapset *cur, int64_t now_ms)
{
    snapset *s = NULL, *u;
    const lmon *top = newest_mon(l);
    if (!l->bound_ms) {
        snapset_monitor sm =
            top ? (snapset_monitor){top->body, top->m, top->e} : (snapset_monitor){NULL, 0, 0};
        s = newest_set(l, cur, top ? &sm : NULL);
        settle(l, s ? s : cur, now_ms, 1);
        return s;
    }
    int64_t matched = 0;
    if (top) {
        s = match_kept(l, cur, now_ms, &matched);
        if (matched) {
            settle(l, s ? s : cur, now_ms, 0);
            if (!lockstep_due(l, now_ms)) {
                back_in_step(l, matched);
                return s; /* 1. (NULL: it is the exposed set already) */
            }
        }
    }
    /* 'base': what is exposed once 's' (a match, with items still overdue) is. */
    const snapset *base = s ? s : cur;
    const skey *k;
    int64_t t = waiting_since(l, &k);
    int late = t != INT64_MAX && now_ms - t >= l->bound_ms;
    if (top && !late && !(base && !base->mon_signed))
        return NULL; /* 2. the exposed pair stays ('s' is NULL: a match returned above) */
    if (top && late && !l->fallback) {
        if (k)
            herald_warn("lock-step: no signed monitor committed to a version of %.*s/%.*s (and "
                        "%zu other staged item(s)) within %lld ms: serving the newest versions "
                        "with the unsigned monitor",
                        (int)k->bl, k->key, (int)k->cl, k->key + k->bl + 1,
                        l->nitems ? l->nitems - 1 : 0, (long long)l->bound_ms);
        else
            herald_warn("lock-step: signed monitor %lld names versions not loaded here within "
                        "%lld ms: serving the newest versions with the unsigned monitor",
                        (long long)newest_mon(l)->m, (long long)l->bound_ms);
        l->fallback = 1;
        atomic_store_explicit(&G.fallback, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&G.fallbacks, 1, memory_order_relaxed);
    }
    l->mon_since = INT64_MAX;      /* answered: a newer monitor is tried when it comes */
    u = newest_set(l, base, NULL); /* 3. */
    settle(l, u ? u : base, now_ms, 1);
    if (s && !u)
        return s; /* NEVER: 's' is signed, 'u' would not be */
    snapset_release(s);
    return u;
}
