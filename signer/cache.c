/*
 * cache -- the signer's in-memory copy of each published collection.
 *
 * Signing a collection needs its records_json: every live record's canonical bytes,
 * sorted by id. Re-reading and re-canonicalizing the whole collection for each edit
 * costs time proportional to its size on every edit (a 10k-record collection is ~4 MB
 * of JSON to transfer, parse and print). Instead the signer keeps, per collection:
 *
 *   cache_coll "bid/cid"
 *     applied = T0 ------------- the records timestamp this copy reflects
 *     live  [e0 e1 e2 ... en]    cache_entry* sorted by id; each holds id, last_modified
 *     tombs [t0 t1 ...]          and canonical bytes (records) or the tombstone's JCS
 *     records_json, sha256       rebuilt from 'live' only when it changed
 *
 * and asks Redis (signer_read.lua) only for what changed after T0, atomically with the
 * version V to publish. Every write raises the records timestamp strictly and records
 * its last_modified in the herald:mod ZSET, so "last_modified > T0" is exactly the set of
 * ids written after the copy was taken: applying those changes gives the state at V.
 *
 * Why the copy stays equal to Redis (publish.c checks the last two on every update):
 *  - only records written after T0 can differ from the copy, and the delta has them all;
 *  - a collection deleted and created again keeps its records timestamp (delete_object
 *    keeps the ts key), so its new records are all above T0 and come in the delta; the
 *    old ones that are gone come without tombstones and stay in the copy -- but then
 *    the copy has more live records than Redis, and the count check catches it. Every
 *    record Redis has is in the copy (written after T0: in the delta; before: it was
 *    there at T0 and nothing touched it since), so equal counts mean equal sets;
 *  - a records timestamp below T0 (Redis restored or flushed) makes the script return
 *    the full state; and every reconnection drops all copies (cache_drop_all), since a
 *    restarted Redis may be an older one.
 * On any doubt the copy is dropped and the next read is a full one: the cache can make
 * signing fast, never wrong.
 *
 * Changes are applied in one merge pass over the sorted array (a few changes: binary
 * search and memmove in place), so a burst of k changes to an n-record collection costs
 * O(n + k log k) pointer moves, not k re-sorts. Entries are single allocations (id and
 * bytes inline) and never shared, so freeing is unambiguous.
 */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/mem.h"

cache_entry *
cache_entry_new(const char *id, size_t idlen, int64_t lm, const char *json, size_t len)
{
    cache_entry *e = herald_mem_alloc(sizeof(*e) + idlen + 1 + len + 1);
    e->lm = lm;
    e->idlen = (uint32_t)idlen;
    e->len = len;
    memcpy(e->data, id, idlen);
    e->data[idlen] = '\0';
    e->json = e->data + idlen + 1;
    memcpy(e->json, json, len);
    e->json[len] = '\0';
    return e;
}

cache_entry *
cache_entry_tombstone(const char *id, size_t idlen, int64_t lm)
{
    /* JCS key order: deleted, id, last_modified. */
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_puts(&b, "{\"deleted\":true,\"id\":");
    herald_jcs_string(&b, id, idlen);
    herald_buf_puts(&b, ",\"last_modified\":");
    herald_buf_put_i64(&b, (long long)lm);
    herald_buf_putc(&b, '}');
    cache_entry *e = cache_entry_new(id, idlen, lm, b.data, b.len);
    herald_buf_free(&b);
    return e;
}

static int
id_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

long
cache_table_find(const cache_table *t, const char *id, size_t idlen, size_t *pos)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = id_cmp(t->v[mid]->data, t->v[mid]->idlen, id, idlen);
        if (c == 0) {
            if (pos)
                *pos = mid;
            return (long)mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return -1;
}

static void
reserve(cache_table *t, size_t n)
{
    if (n <= t->cap)
        return;
    size_t cap = t->cap ? t->cap : 16;
    while (cap < n)
        cap *= 2;
    t->v = herald_mem_realloc(t->v, cap * sizeof(*t->v));
    t->cap = cap;
}

/* One change in place: binary search, then replace, memmove-insert or memmove-remove. */
static size_t
apply_one(cache_table *t, const cache_change *ch)
{
    size_t pos;
    long at = cache_table_find(t, ch->id, ch->idlen, &pos);
    size_t where = at >= 0 ? (size_t)at : pos;
    if ((at >= 0 || ch->e) && where < t->low)
        t->low = where;
    if (at >= 0) {
        free(t->v[at]);
        if (ch->e) {
            t->v[at] = ch->e;
        } else {
            memmove(&t->v[at], &t->v[at + 1], (t->n - (size_t)at - 1) * sizeof(*t->v));
            t->n--;
        }
        return 1;
    }
    if (!ch->e)
        return 0;
    reserve(t, t->n + 1);
    memmove(&t->v[pos + 1], &t->v[pos], (t->n - pos) * sizeof(*t->v));
    t->v[pos] = ch->e;
    t->n++;
    return 1;
}

/* Changes sorted by id, then by position in the caller's array (the last one wins). */
typedef struct {
    cache_change ch;
    size_t seq;
} seq_change;

static int
seq_cmp(const void *a, const void *b)
{
    const seq_change *x = a, *y = b;
    int c = id_cmp(x->ch.id, x->ch.idlen, y->ch.id, y->ch.idlen);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t
cache_table_apply(cache_table *t, cache_change *changes, size_t n)
{
    size_t done = 0;
    /* A handful of changes (the common case: one edit) cost less in place than a pass
     * over the whole table. In order, so the last change to an id wins. */
    if (n <= 8) {
        for (size_t i = 0; i < n; i++)
            done += apply_one(t, &changes[i]);
        return done;
    }

    seq_change *sc = herald_mem_alloc(n * sizeof(*sc));
    for (size_t i = 0; i < n; i++) {
        sc[i].ch = changes[i];
        sc[i].seq = i;
    }
    qsort(sc, n, sizeof(*sc), seq_cmp);
    /* Keep the last change of each id. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n &&
            id_cmp(sc[i].ch.id, sc[i].ch.idlen, sc[i + 1].ch.id, sc[i + 1].ch.idlen) == 0) {
            free(sc[i].ch.e);
            continue;
        }
        sc[k++] = sc[i];
    }

    cache_entry **out = herald_mem_alloc((t->n + k + 1) * sizeof(*out));
    size_t i = 0, j = 0, o = 0;
    while (i < t->n || j < k) {
        int c;
        if (i == t->n)
            c = 1;
        else if (j == k)
            c = -1;
        else
            c = id_cmp(t->v[i]->data, t->v[i]->idlen, sc[j].ch.id, sc[j].ch.idlen);
        if (c < 0) {
            out[o++] = t->v[i++];
            continue;
        }
        if ((c == 0 || sc[j].ch.e) && o < t->low)
            t->low = o; /* the first entry that differs from the old array's */
        if (c == 0) {
            free(t->v[i++]);
            if (sc[j].ch.e)
                out[o++] = sc[j].ch.e;
            j++;
            done++;
        } else {
            if (sc[j].ch.e) {
                out[o++] = sc[j].ch.e;
                done++;
            }
            j++;
        }
    }
    free(t->v);
    free(sc);
    t->cap = t->n + k + 1; /* what 'out' was allocated for */
    t->v = out;
    t->n = o;
    return done;
}

size_t
cache_table_prune(cache_table *t, int64_t horizon)
{
    size_t o = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i]->lm > horizon) {
            t->v[o++] = t->v[i];
            continue;
        }
        free(t->v[i]);
        if (o < t->low)
            t->low = o;
    }
    size_t gone = t->n - o;
    t->n = o;
    return gone;
}

void
cache_table_clear(cache_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    memset(t, 0, sizeof(*t));
}

void
cache_table_json(herald_buf *out, const cache_table *t)
{
    size_t total = 2 + t->n;
    for (size_t i = 0; i < t->n; i++)
        total += t->v[i]->len;
    herald_buf_reserve(out, total);
    /* One pass of memcpy into reserved space: this runs on every signature of a changed
     * collection, over every record. */
    char *p = out->data + out->len;
    *p++ = '[';
    for (size_t i = 0; i < t->n; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, t->v[i]->json, t->v[i]->len);
        p += t->v[i]->len;
    }
    *p++ = ']';
    out->len = (size_t)(p - out->data);
}

/* ---- the process-wide set of copies ------------------------------------------------- */

/* A linear array: a signer handles tens to hundreds of collections, and one lookup per
 * signature is noise next to signing. */
static cache_coll **colls;
static size_t ncolls, capcolls;

static void
hist_entry_free(cache_hist *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->ids[i].id);
    free(h->ids);
    memset(h, 0, sizeof(*h));
}

void
cache_hist_clear(cache_coll *c)
{
    for (size_t i = 0; i < c->nhist; i++)
        hist_entry_free(&c->hist[i]);
    c->nhist = 0;
}

void
cache_hist_push(cache_coll *c, int64_t version, const cache_idlm *ids, size_t n)
{
    if (c->nhist == CACHE_HIST_MAX) {
        hist_entry_free(&c->hist[0]);
        memmove(&c->hist[0], &c->hist[1], (CACHE_HIST_MAX - 1) * sizeof(c->hist[0]));
        c->nhist--;
    }
    cache_hist *h = &c->hist[c->nhist++];
    h->version = version;
    h->n = n;
    h->ids = herald_mem_calloc(n ? n : 1, sizeof(*h->ids));
    for (size_t i = 0; i < n; i++) {
        h->ids[i].id = herald_mem_alloc(ids[i].len + 1);
        memcpy(h->ids[i].id, ids[i].id, ids[i].len);
        h->ids[i].id[ids[i].len] = '\0';
        h->ids[i].len = ids[i].len;
        h->ids[i].lm = ids[i].lm;
    }
}

static void
coll_free(cache_coll *c)
{
    if (!c)
        return;
    cache_hist_clear(c);
    free(c->member);
    cache_table_clear(&c->live);
    cache_table_clear(&c->tombs);
    herald_buf_free(&c->records_json);
    free(c->offs);
    free(c->mid);
    herald_buf_free(&c->tombs_json);
    free(c);
}

cache_coll *
cache_get(const char *member)
{
    for (size_t i = 0; i < ncolls; i++)
        if (strcmp(colls[i]->member, member) == 0)
            return colls[i];
    if (ncolls == capcolls) {
        capcolls = capcolls ? capcolls * 2 : 16;
        colls = herald_mem_realloc(colls, capcolls * sizeof(*colls));
    }
    cache_coll *c = herald_mem_calloc(1, sizeof(*c));
    c->member = herald_mem_strdup(member);
    c->applied = -1;
    c->records_dirty = 1;
    c->tombs_dirty = 1;
    colls[ncolls++] = c;
    return c;
}

void
cache_drop(const char *member)
{
    for (size_t i = 0; i < ncolls; i++)
        if (strcmp(colls[i]->member, member) == 0) {
            coll_free(colls[i]);
            colls[i] = colls[--ncolls];
            return;
        }
}

void
cache_drop_all(void)
{
    for (size_t i = 0; i < ncolls; i++)
        coll_free(colls[i]);
    free(colls);
    colls = NULL;
    ncolls = capcolls = 0;
}

/*
 * records_json and its SHA-256 again, from the first changed entry on (live.low): the
 * bytes before it are the same, and so is the hash state after any whole number of
 * CACHE_HASH_STEP bytes among them. At 100k records (18.5 MB) the whole pass took 23 ms
 * of each version's 25 (SHA-256 at ~1 GB/s here, and the copy); an edit now costs the
 * part after it: on average half, nothing for the last id, all for the first.
 */
#define CACHE_HASH_STEP (64u * 1024)

static void
records_rebuild(cache_coll *c)
{
    const cache_table *t = &c->live;
    size_t from = t->low < t->n ? t->low : t->n;
    if (c->records_json.len == 0 || c->nmid == 0)
        from = 0; /* never built (or dropped): everything */
    /* Where the rewrite starts: entry 'from' (or, past the end, the closing bracket),
     * behind the comma that precedes it; at the very start, the opening bracket. */
    size_t at = from == 0 ? 0 : c->offs[from - 1] + t->v[from - 1]->len;
    size_t total = at + 2 + t->n - from;
    for (size_t i = from; i < t->n; i++)
        total += t->v[i]->len;
    c->records_json.len = at; /* the part kept */
    herald_buf_reserve(&c->records_json, total - at);
    if (t->n + 1 > c->offs_cap) {
        c->offs_cap = t->n + 1 + t->n / 4;
        c->offs = herald_mem_realloc(c->offs, c->offs_cap * sizeof(*c->offs));
    }
    char *base = c->records_json.data, *p = base + at;
    if (from == 0)
        *p++ = '[';
    for (size_t i = from; i < t->n; i++) {
        if (i)
            *p++ = ',';
        c->offs[i] = (size_t)(p - base);
        memcpy(p, t->v[i]->json, t->v[i]->len);
        p += t->v[i]->len;
    }
    *p++ = ']';
    c->records_json.len = (size_t)(p - base);

    /* mid[j] is valid while j steps end at or before 'at'. */
    size_t len = c->records_json.len, j = at / CACHE_HASH_STEP;
    if (j >= c->nmid)
        j = c->nmid ? c->nmid - 1 : 0;
    size_t need = len / CACHE_HASH_STEP + 1;
    if (need > c->mid_cap) {
        c->mid_cap = need + need / 4;
        c->mid = herald_mem_realloc(c->mid, c->mid_cap * sizeof(*c->mid));
    }
    if (c->nmid == 0)
        herald_crypto_sha256_init(&c->mid[0]);
    herald_sha256 h = c->mid[j];
    for (size_t off = j * CACHE_HASH_STEP; off < len; off += CACHE_HASH_STEP) {
        size_t n = len - off < CACHE_HASH_STEP ? len - off : CACHE_HASH_STEP;
        herald_crypto_sha256_update(&h, base + off, n);
        if (n == CACHE_HASH_STEP)
            c->mid[++j] = h;
    }
    c->nmid = len / CACHE_HASH_STEP + 1;
    herald_crypto_sha256_final_hex(&h, c->sha256);
    c->live.low = SIZE_MAX;
}

void
cache_coll_refresh(cache_coll *c)
{
    if (c->records_dirty) {
        records_rebuild(c);
        c->records_dirty = 0;
    }
    if (c->tombs_dirty) {
        herald_buf_reset(&c->tombs_json);
        cache_table_json(&c->tombs_json, &c->tombs);
        c->tombs_dirty = 0;
    }
}
