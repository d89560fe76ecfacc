/*
 * snapset -- see snapset.h for the layout. Building is done once per version on the
 * sync thread and may allocate freely; reading (workers) never allocates.
 */
#include "snapset.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/httpdate.h"
#include "herald/jcs.h"
#include "herald/monitor.h"
#include "md5.h"

static snapset_config g_cfg = {"", 60, 3600, 60, 3600, 30LL * 86400 * 1000, 1};
static char *g_host;

static const herald_pubkey *g_keys;
static size_t g_nkeys;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_view_lock = PTHREAD_MUTEX_INITIALIZER;
static snapset *g_current;
static atomic_uint_fast64_t g_generation;
static void (*g_on_publish)(void); /* the only hook: conn.c wakes long-poll waiters */

void
snapset_configure(const snapset_config *cfg)
{
    free(g_host);
    g_host = herald_mem_strdup(cfg->host ? cfg->host : "");
    g_cfg = *cfg;
    g_cfg.host = g_host;
}

void
snapset_set_keys(const herald_pubkey *keys, size_t nkeys)
{
    g_keys = keys;
    g_nkeys = keys ? nkeys : 0;
}

void
snapset_unconfigure(void)
{
    free(g_host);
    g_host = NULL;
    g_cfg.host = "";
}

/* ---- listings ---------------------------------------------------------------------- */

typedef struct entry_src {
    int64_t lm;
    size_t idx;      /* position in the caller's source order */
    const char *key; /* tie-break: ascending, for a deterministic order */
    size_t key_len;
    herald_buf json;   /* the entry's bytes, owned; or, when 'bytes' is set: */
    const char *bytes; /* borrowed bytes (a state's records), 'len' long */
    size_t len;
} entry_src;

static const char *
entry_bytes(const entry_src *e, size_t *len)
{
    if (e->bytes) {
        *len = e->len;
        return e->bytes;
    }
    *len = e->json.len;
    return e->json.data;
}

static int
entry_cmp(const void *a, const void *b)
{
    const entry_src *x = a, *y = b;
    if (x->lm != y->lm)
        return x->lm > y->lm ? -1 : 1;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Sorts 'src' newest first and appends it, joined by ',', to 'b' ('l' gets the entries'
 * offsets from where they start in 'b' but no bytes); frees the entries' buffers. The
 * space is reserved once: bodies are built in place, without regrowing copies. */
static void
listing_build_into(listing *l, entry_src *src, size_t n, herald_buf *b)
{
    qsort(src, n, sizeof(*src), entry_cmp);
    size_t base = b->len, total = n;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        (void)entry_bytes(&src[i], &len);
        total += len;
    }
    herald_buf_reserve(b, total + 1);
    l->n = n;
    l->lm = herald_mem_calloc(n ? n : 1, sizeof(int64_t));
    l->off = herald_mem_calloc(n ? n : 1, sizeof(size_t));
    l->sz = herald_mem_calloc(n ? n : 1, sizeof(size_t));
    l->src = herald_mem_calloc(n ? n : 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *bytes = entry_bytes(&src[i], &len);
        l->src[i] = src[i].idx;
        if (i)
            herald_buf_putc(b, ',');
        l->lm[i] = src[i].lm;
        l->off[i] = b->len - base;
        l->sz[i] = len;
        herald_buf_append(b, bytes, len);
        herald_buf_free(&src[i].json);
    }
    l->len = b->len - base;
    l->json = NULL;
    l->json_borrowed = 0;
}

/* Sorts 'src' newest first and joins it into 'l' (its own buffer); frees the entries'
 * buffers. */
static void
listing_build(listing *l, entry_src *src, size_t n)
{
    herald_buf b = HERALD_BUF_INIT;
    listing_build_into(l, src, n, &b);
    herald_buf_cstr(&b);
    l->json = herald_buf_steal(&b, NULL);
}

static void
listing_free(listing *l)
{
    if (!l->json_borrowed)
        free(l->json);
    free(l->lm);
    free(l->off);
    free(l->sz);
    free(l->src);
    memset(l, 0, sizeof(*l));
}

size_t
listing_count_since(const listing *l, int64_t since)
{
    /* lm is non-increasing: find the first index with lm <= since. */
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->lm[mid] > since)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t
listing_prefix_len(const listing *l, size_t k)
{
    return k == 0 ? 0 : l->off[k - 1] + l->sz[k - 1];
}

/* ---- headers ----------------------------------------------------------------------- */

int64_t
snapset_cache_default(void)
{
    return g_cfg.cache_default;
}

/* The header lines every versioned response (200 and 304) carries. */
static void
hdr_lines(herald_buf *dst, int64_t version, int64_t max_age)
{
    herald_buf_puts(dst, "ETag: \"");
    herald_buf_put_i64(dst, version);
    herald_buf_puts(dst, "\"\r\nLast-Modified: ");
    char date[HERALD_HTTPDATE_LEN + 1];
    herald_buf_append(dst, date, (size_t)herald_httpdate_format(date, version / 1000));
    herald_buf_puts(dst, "\r\nCache-Control: max-age=");
    herald_buf_put_i64(dst, max_age);
    herald_buf_puts(dst, "\r\nVary: Accept-Encoding\r\n"
                         "Access-Control-Allow-Origin: *\r\n"
                         "Access-Control-Expose-Headers: Content-Length, Expires, Alert, "
                         "Retry-After, Last-Modified, Total-Records, ETag, Pragma, "
                         "Cache-Control, Backoff, Next-Page\r\n");
}

void
vhdr_build(vhdr *h, int64_t version, int64_t max_age)
{
    herald_buf_reset(&h->b);
    h->etag_len = (size_t)snprintf(h->etag, sizeof(h->etag), "%lld", (long long)version);
    herald_buf_puts(&h->b, "HTTP/1.1 304 Not Modified\r\n");
    hdr_lines(&h->b, version, max_age);
    h->split = h->b.len;
    herald_buf_puts(&h->b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
    hdr_lines(&h->b, version, max_age);
}

void
vhdr_free(vhdr *h)
{
    herald_buf_free(&h->b);
    h->split = 0;
}

/* ---- collections ------------------------------------------------------------------- */

static int64_t
num_field(const json_t *obj, const char *name, int64_t def)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_number(v) ? (int64_t)json_number_value(v) : def;
}

static void
coll_free(coll *c)
{
    free(c->bid);
    free(c->cid);
    vhdr_free(&c->hdr[0]);
    vhdr_free(&c->hdr[1]);
    payload_release(c->full);
    listing_free(&c->delta);
    payload_release(c->delta_body); /* after the listing, which may point into it */
    free(c->post);
    for (size_t i = 0; i < c->ndc; i++)
        payload_release(c->dc[i].b);
    free(c->dc);
    payload_release(c->obj);
    payload_release(c->bucket_obj);
    vhdr_free(&c->obj_hdr);
    vhdr_free(&c->bucket_hdr);
    coll_view_release(atomic_load_explicit(&c->view, memory_order_acquire));
    herald_state_free(c->state);
    free(c);
}

/* {"data":{...}} of a Kinto object: its attributes with "id" and "last_modified" (added
 * when the stored object lacks them). Sets '*lm'. Returns NULL if it cannot be
 * serialized. */
static payload *
object_body(const json_t *attrs, const char *id, int64_t fallback_lm, int64_t *lm)
{
    json_t *o = json_is_object(attrs) ? json_deep_copy(attrs) : json_object();
    if (!json_is_string(json_object_get(o, "id")))
        json_object_set_new(o, "id", json_string(id));
    *lm = num_field(o, "last_modified", -1);
    if (*lm < 0) {
        *lm = fallback_lm;
        json_object_set_new(o, "last_modified", json_integer(fallback_lm));
    }
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_puts(&b, "{\"data\":");
    int rc = herald_jcs_dump(&b, o);
    herald_buf_putc(&b, '}');
    json_decref(o);
    if (rc < 0) {
        herald_buf_free(&b);
        return NULL;
    }
    return payload_from_buf(&b, g_cfg.compress);
}

/* Fills the delta cache, within the byte budget: bodies for the _since of the versions
 * built here before this one, then for the first prefix boundaries (k = 0, then each k
 * where last_modified changes), DELTA_VERSIONS in all (snapset.h). Each is borrowed
 * (encode.h payload_new_parts): two slices of the whole delta body, its head and first
 * k entries, and its post; only the compressed forms are the cache's own bytes. */
static void
build_delta_cache(coll *c)
{
    const listing *l = &c->delta;
    payload *whole = c->delta_body ? c->delta_body : c->full;
    size_t head_len = sizeof("{\"changes\":[") - 1;
    size_t budget = c->full->len > DELTA_CACHE_MIN ? c->full->len : DELTA_CACHE_MIN;
    /* The k's to cache, in order of preference: the versions built here before, then
     * the first boundaries between entries (see snapset.h). */
    size_t ks[DELTA_VERSIONS], nk = 0, bk = 0; /* bk: the next boundary to look at */
    for (size_t i = 0; nk < DELTA_VERSIONS; i++) {
        size_t k;
        if (i < c->nrecent) {
            if (c->recent[i] < c->since_floor)
                continue; /* such a _since gets the full changeset */
            k = listing_count_since(l, c->recent[i]);
        } else {
            while (bk > 0 && bk < l->n && l->lm[bk] == l->lm[bk - 1])
                bk++; /* not a boundary: no _since gives this k */
            if (bk > l->n)
                break;
            k = bk++;
        }
        if (k == l->n && c->ntombstones == 0)
            continue; /* the full body already is that answer (see coll_delta_cached) */
        size_t size = head_len + listing_prefix_len(l, k) + c->post_len, dup = 0;
        for (size_t m = 0; m < nk && !dup; m++)
            dup = ks[m] == k;
        if (dup || c->dc_bytes + size > budget)
            continue;
        ks[nk++] = k;
        c->dc_bytes += size;
    }
    for (size_t a = 1; a < nk; a++) /* sorted by k, for coll_delta_cached's search */
        for (size_t b = a; b > 0 && ks[b - 1] > ks[b]; b--) {
            size_t t = ks[b];
            ks[b] = ks[b - 1];
            ks[b - 1] = t;
        }
    c->dc = herald_mem_calloc(DELTA_VERSIONS, sizeof(*c->dc));
    for (size_t m = 0; m < nk; m++) {
        size_t plen = listing_prefix_len(l, ks[m]);
        body_part parts[2] = {{whole->data, head_len + plen},
                              {whole->data + whole->len - c->post_len, c->post_len}};
        c->dc[c->ndc].k = ks[m];
        c->dc[c->ndc].b = payload_new_parts(whole, parts, 2, g_cfg.compress);
        c->ndc++;
    }
}

const payload *
coll_delta_cached(const coll *c, size_t k)
{
    if (k == c->delta.n && c->ntombstones == 0)
        return c->full; /* every record and no tombstone: byte for byte the full payload */
    size_t lo = 0, hi = c->ndc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->dc[mid].k == k)
            return c->dc[mid].b;
        if (c->dc[mid].k < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void
payload_bytes(const payload *b, size_t by_enc[ENC_COUNT])
{
    if (!b)
        return;
    if (!b->keep) /* a borrowed body's identity bytes are another's */
        by_enc[ENC_IDENTITY] += b->len;
    for (int e = ENC_GZIP; e < ENC_COUNT; e++) {
        const encoded *x = payload_get(b, e);
        if (x)
            by_enc[e] += x->len;
    }
}

void
coll_delta_cache_bytes(const coll *c, size_t by_enc[ENC_COUNT])
{
    for (size_t i = 0; i < c->ndc; i++)
        payload_bytes(c->dc[i].b, by_enc);
}

void
coll_body_bytes(const coll *c, size_t by_enc[ENC_COUNT])
{
    payload_bytes(c->full, by_enc);
    if (!c->delta.json_borrowed)
        by_enc[ENC_IDENTITY] += c->delta.len;
    payload_bytes(c->delta_body, by_enc);
    by_enc[ENC_IDENTITY] += c->post_len;
    coll_delta_cache_bytes(c, by_enc);
    payload_bytes(c->obj, by_enc);
    payload_bytes(c->bucket_obj, by_enc);
}

void
snapset_body_bytes(const snapset *s, size_t by_enc[ENC_COUNT])
{
    by_enc[ENC_IDENTITY] += s->monitor.len + s->mon_post_len;
    payload_bytes(s->mon_full, by_enc);
    payload_bytes(s->legacy_full, by_enc);
}

const coll_view *
coll_view_acquire(const coll *c, coll_view *(*build)(const coll *c), int64_t now_ms)
{
    /* Under the lock, so that a view cannot be dropped between loading the pointer and
     * taking the reference. */
    _Atomic(coll_view *) *slot = (_Atomic(coll_view *) *)&c->view;
    pthread_mutex_lock(&g_view_lock);
    coll_view *v = atomic_load_explicit(slot, memory_order_acquire);
    if (!v) {
        v = build(c);
        atomic_init(&v->refs, 1); /* the coll's */
        atomic_store_explicit(slot, v, memory_order_release);
    }
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    atomic_store_explicit(&v->last_used, now_ms, memory_order_relaxed);
    pthread_mutex_unlock(&g_view_lock);
    return v;
}

void
coll_view_release(const coll_view *cv)
{
    coll_view *v = (coll_view *)cv;
    if (v && atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1)
        v->free(v);
}

int
coll_view_drop_idle(const coll *c, int64_t now_ms, int64_t idle_ms)
{
    _Atomic(coll_view *) *slot = (_Atomic(coll_view *) *)&c->view;
    if (!atomic_load_explicit(slot, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&g_view_lock);
    coll_view *v = atomic_load_explicit(slot, memory_order_acquire);
    if (v && now_ms - atomic_load_explicit(&v->last_used, memory_order_relaxed) >= idle_ms)
        atomic_store_explicit(slot, NULL, memory_order_release);
    else
        v = NULL;
    pthread_mutex_unlock(&g_view_lock);
    coll_view_release(v);
    return v != NULL;
}

/* c->post: ],"metadata":{collection attributes, bucket, signature(s)},"timestamp":V}.
 * Returns 0, or -1 with 'err' set. */
static int
build_post(coll *c, const json_t *attrs, const json_t *sigs, char *err, size_t errlen)
{
    json_t *meta = json_object();
    herald_buf b = HERALD_BUF_INIT;
    /* jansson's setters take references only, so casting away const changes nothing
     * shared. */
    json_object_update(meta, (json_t *)attrs);
    json_object_set_new(meta, "bucket", json_string(c->bid));
    if (json_array_size(sigs) > 0)
        json_object_set(meta, "signature", json_array_get(sigs, 0));
    json_object_set(meta, "signatures", (json_t *)sigs);
    herald_buf_puts(&b, "],\"metadata\":");
    int rc = herald_jcs_dump(&b, meta);
    json_decref(meta);
    if (rc < 0) {
        snprintf(err, errlen, "metadata cannot be serialized");
        herald_buf_free(&b);
        return -1;
    }
    herald_buf_puts(&b, ",\"timestamp\":");
    herald_buf_put_i64(&b, c->version);
    herald_buf_putc(&b, '}');
    herald_buf_cstr(&b);
    c->post_len = b.len;
    c->post = herald_buf_steal(&b, NULL);
    return 0;
}

/* The Kinto object bodies of the collection and its bucket, and every prebuilt head.
 * Returns 0, or -1 with 'err' set. */
static int
build_objects(coll *c, const json_t *attrs, const json_t *bdata, char *err, size_t errlen)
{
    c->obj = object_body(attrs, c->cid, c->version, &c->obj_lm);
    /* An empty bucket object: the bucket is not public (signer_read.lua), only this
     * collection is; GET of the bucket is then 404, as for any unpublished object. */
    c->bucket_obj =
        json_object_size(bdata) == 0 ? NULL : object_body(bdata, c->bid, c->version, &c->bucket_lm);
    if (!c->obj || (json_object_size(bdata) != 0 && !c->bucket_obj)) {
        snprintf(err, errlen, "collection or bucket attributes cannot be serialized");
        return -1;
    }
    vhdr_build(&c->obj_hdr, c->obj_lm, g_cfg.cache_default);
    vhdr_build(&c->bucket_hdr, c->bucket_lm, g_cfg.cache_default);

    int64_t max_age = num_field(attrs, "cache_expires", -1);
    if (max_age < 0)
        max_age = g_cfg.cache_default;
    vhdr_build(&c->hdr[CACHE_SHORT], c->version, max_age);
    vhdr_build(&c->hdr[CACHE_LONG], c->version,
               max_age > g_cfg.cache_maximum ? max_age : g_cfg.cache_maximum);
    return 0;
}

/* Records then tombstones, each serialized once: 'nrec' + 'ntomb' entries. Returns
 * them, or NULL with 'err' set. */
static entry_src *
serialize_entries(const json_t *records, size_t nrec, const json_t *tombs, size_t ntomb, char *err,
                  size_t errlen)
{
    entry_src *src = herald_mem_calloc(nrec + ntomb + 1, sizeof(*src));
    for (size_t i = 0; i < nrec + ntomb; i++) {
        const json_t *r = i < nrec ? json_array_get(records, i) : json_array_get(tombs, i - nrec);
        const json_t *id = json_object_get(r, "id");
        if (!json_is_string(id)) {
            snprintf(err, errlen, "record without a string id");
            goto fail;
        }
        entry_src *e = &src[i];
        e->lm = num_field(r, "last_modified", 0);
        e->key = json_string_value(id);
        e->key_len = json_string_length(id);
        if (herald_jcs_dump(&e->json, r) < 0) {
            snprintf(err, errlen, "record '%s' cannot be serialized", e->key);
            goto fail;
        }
    }
    return src;
fail:
    for (size_t i = 0; i < nrec + ntomb; i++)
        herald_buf_free(&src[i].json);
    free(src);
    return NULL;
}

/* c->delta_body from 'b' ({"changes":[ + the listing + post): never served whole
 * (its identity is served as slices, and its compressed forms are those of the
 * delta cache), so not compressed; the listing's bytes are a slice of it. */
static void
set_delta_body(coll *c, herald_buf *b)
{
    static const char head[] = "{\"changes\":[";
    c->delta_body = payload_from_buf(b, 0);
    c->delta.json = c->delta_body->data + sizeof(head) - 1;
    c->delta.json_borrowed = 1;
}

/* c->full (live records only) and c->delta (records and tombstones) from the 'n'
 * entries of 'src', of which the first 'nrec' are records (their buffers are freed).
 * Without tombstones the delta listing has the same entries in the same order, so its
 * bytes are the full body's (no second copy of the collection); otherwise a listing of
 * the records is built first. */
static void
build_bodies(coll *c, entry_src *src, size_t n, size_t nrec)
{
    herald_buf b = HERALD_BUF_INIT;
    static const char head[] = "{\"changes\":[";
    herald_buf_reserve(&b, sizeof(head) + c->post_len);
    herald_buf_puts(&b, head);
    if (n == nrec) {
        /* Built in the body itself: the listing is a slice of it. */
        listing_build_into(&c->delta, src, n, &b);
        herald_buf_append(&b, c->post, c->post_len);
        c->full = payload_from_buf(&b, g_cfg.compress);
        c->delta.json = c->full->data + sizeof(head) - 1;
        c->delta.json_borrowed = 1;
        return;
    }
    listing full;
    entry_src *recs = herald_mem_calloc(nrec + 1, sizeof(*recs));
    for (size_t i = 0; i < nrec; i++) { /* the same bytes, borrowed */
        recs[i] = src[i];
        herald_buf_init(&recs[i].json);
        recs[i].bytes = entry_bytes(&src[i], &recs[i].len);
    }
    listing_build_into(&full, recs, nrec, &b);
    free(recs);
    herald_buf_append(&b, c->post, c->post_len);
    c->full = payload_from_buf(&b, g_cfg.compress);
    listing_free(&full);
    /* The listing with tombstones, built in the whole delta body (head + listing +
     * post), which the cached deltas slice. */
    herald_buf_reserve(&b, sizeof(head) + c->post_len);
    herald_buf_puts(&b, head);
    listing_build_into(&c->delta, src, n, &b);
    herald_buf_append(&b, c->post, c->post_len);
    set_delta_body(c, &b);
}

/* ---- bodies from the previous version's (incremental publishing) ------------------ */

/* A run of consecutive entries [rs, re) of the base listing, waiting to be copied to
 * 'b' as one block (their bytes and the commas between them are contiguous there). */
typedef struct run {
    size_t rs, re;
    size_t out0; /* the output index of its first entry */
} run;

static void
run_flush(run *r, herald_buf *b, size_t b0, listing *l, const listing *from)
{
    if (r->rs == r->re)
        return;
    if (b->len > b0)
        herald_buf_putc(b, ',');
    size_t start = from->off[r->rs], end = from->off[r->re - 1] + from->sz[r->re - 1];
    size_t at = b->len - b0;
    herald_buf_append(b, from->json + start, end - start);
    for (size_t k = r->rs; k < r->re; k++)
        l->off[r->out0 + k - r->rs] = at + (from->off[k] - start);
    r->rs = r->re = 0;
}

static void
listing_alloc(listing *l, size_t n)
{
    memset(l, 0, sizeof(*l));
    l->n = n;
    l->lm = herald_mem_calloc(n ? n : 1, sizeof(int64_t));
    l->off = herald_mem_calloc(n ? n : 1, sizeof(size_t));
    l->sz = herald_mem_calloc(n ? n : 1, sizeof(size_t));
    l->src = herald_mem_calloc(n ? n : 1, sizeof(size_t));
}

/*
 * The listing of the entries of 'st' (records then tombstones, numbered as
 * coll_new_state does) appended to 'b', newest first, from the base coll's listing:
 * the few entries that came from the delta are sorted and merged into the base's order,
 * the base's entries are copied in runs, those the delta replaced or dropped left out.
 * The same listing as listing_build_into() sorting every entry: the order is total
 * (last_modified descending, then id), and a kept entry's bytes and last_modified are the
 * base's. Returns 0, or -1 when anything does not add up (the caller builds it whole).
 */
static int
listing_from_base(listing *l, herald_buf *b, size_t tail, const coll *base, const herald_state *st)
{
    const listing *from = &base->delta;
    const herald_state *bst = base->state;
    size_t nrec = herald_state_count(st, 0), ntomb = herald_state_count(st, 1);
    size_t brec = herald_state_count(bst, 0), btomb = herald_state_count(bst, 1);
    size_t n = nrec + ntomb, nch = 0, b0 = b->len;
    if (!from->json || from->n != brec + btomb)
        return -1;
    size_t *inv = herald_mem_alloc((from->n + 1) * sizeof(*inv));
    entry_src *ch = herald_mem_calloc(n + 1, sizeof(*ch));
    for (size_t k = 0; k < from->n; k++)
        inv[k] = SIZE_MAX;
    size_t changed_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        int tomb = i >= nrec;
        size_t o = herald_state_origin(st, tomb, tomb ? i - nrec : i);
        if (o == SIZE_MAX) {
            herald_state_entry e;
            herald_state_get(st, tomb, tomb ? i - nrec : i, &e);
            ch[nch] = (entry_src){.lm = e.lm, .idx = i, .key = e.id, .key_len = e.idlen};
            ch[nch].bytes = e.json;
            ch[nch].len = e.len;
            changed_bytes += e.len + 1;
            nch++;
        } else if (o < (tomb ? btomb : brec)) {
            inv[tomb ? brec + o : o] = i;
        } else {
            goto fail;
        }
    }
    qsort(ch, nch, sizeof(*ch), entry_cmp);
    listing_alloc(l, n);
    herald_buf_reserve(b, from->len + changed_bytes + 1 + tail);
    size_t out = 0, ci = 0;
    run r = {0, 0, 0};
    for (size_t k = 0; k <= from->n; k++) {
        size_t ni = SIZE_MAX;
        entry_src kept = {0};
        if (k < from->n) {
            size_t s = from->src[k];
            if (s >= from->n || (ni = inv[s]) == SIZE_MAX)
                continue;      /* replaced or dropped by the delta */
            inv[s] = SIZE_MAX; /* each base entry once */
            /* The bytes served are those the new version verified. A state built by
             * herald_state_apply_borrowing read (and hashed) these very bytes: the same
             * memory, nothing to compare. Otherwise (a copy) they are compared, whatever
             * 'base' is. */
            herald_state_entry ne;
            herald_state_get(st, ni >= nrec, ni >= nrec ? ni - nrec : ni, &ne);
            const char *old = from->json + from->off[k];
            if (ne.len != from->sz[k] || ne.lm != from->lm[k] || (ni >= nrec) != (s >= brec) ||
                (ne.json != old && memcmp(ne.json, old, ne.len) != 0))
                goto fail;
            kept = (entry_src){.lm = ne.lm, .key = ne.id, .key_len = ne.idlen};
        }
        /* The changed entries that go before this one (all that are left at the end). */
        while (ci < nch && (k == from->n || entry_cmp(&ch[ci], &kept) < 0)) {
            run_flush(&r, b, b0, l, from);
            if (b->len > b0)
                herald_buf_putc(b, ',');
            l->lm[out] = ch[ci].lm;
            l->src[out] = ch[ci].idx;
            l->off[out] = b->len - b0;
            l->sz[out] = ch[ci].len;
            herald_buf_append(b, ch[ci].bytes, ch[ci].len);
            out++;
            ci++;
        }
        if (k == from->n)
            break;
        if (r.rs == r.re || r.re != k) {
            run_flush(&r, b, b0, l, from);
            r = (run){k, k, out};
        }
        r.re = k + 1;
        l->lm[out] = from->lm[k];
        l->src[out] = ni;
        l->sz[out] = from->sz[k];
        out++;
    }
    run_flush(&r, b, b0, l, from);
    if (out != n)
        goto fail;
    l->len = b->len - b0;
    free(inv);
    free(ch);
    return 0;
fail:
    free(inv);
    free(ch);
    listing_free(l);
    b->len = b0;
    return -1;
}

/* Gives 'b' (empty) the memory of a body freed during this burst of versions, of about
 * 'size' bytes, when encode.c kept one (payload_spare_take): its pages are mapped
 * already, and writing 22 MB into fresh ones took half of a 100k-record build. */
static void
body_buf(herald_buf *b, size_t size)
{
    size_t len;
    char *p = payload_spare_take(size, &len);
    if (p)
        herald_buf_adopt(b, p, len);
}

/* build_bodies() for a version built from a delta on 'base' (see listing_from_base).
 * Returns 0, or -1 (nothing built) when the caller must build them whole. */
static int
build_bodies_from(coll *c, const coll *base, const herald_state *st, size_t nrec)
{
    static const char head[] = "{\"changes\":[";
    herald_buf b = HERALD_BUF_INIT;
    if (!base || !base->state)
        return -1;
    body_buf(&b, (base->delta_body ? base->delta_body : base->full)->len);
    if (herald_state_count(st, 1) == 0) {
        herald_buf_puts(&b, head);
        if (listing_from_base(&c->delta, &b, c->post_len + 1, base, st) < 0) {
            herald_buf_free(&b);
            return -1;
        }
        herald_buf_append(&b, c->post, c->post_len);
        c->full = payload_from_buf(&b, g_cfg.compress);
        c->delta.json = c->full->data + sizeof(head) - 1;
        c->delta.json_borrowed = 1;
        return 0;
    }
    herald_buf_puts(&b, head);
    if (listing_from_base(&c->delta, &b, c->post_len + 1, base, st) < 0) {
        herald_buf_free(&b);
        return -1;
    }
    herald_buf_append(&b, c->post, c->post_len);
    set_delta_body(c, &b);
    /* The full body: the records of that listing, in its order, copied in runs. */
    const listing *l = &c->delta;
    body_buf(&b, base->full->len);
    herald_buf_reserve(&b, sizeof(head) + l->len + c->post_len);
    herald_buf_puts(&b, head);
    size_t b0 = b.len;
    for (size_t k = 0; k < l->n;) {
        if (l->src[k] >= nrec) {
            k++;
            continue;
        }
        size_t e = k + 1;
        while (e < l->n && l->src[e] < nrec)
            e++;
        if (b.len > b0)
            herald_buf_putc(&b, ',');
        herald_buf_append(&b, l->json + l->off[k], l->off[e - 1] + l->sz[e - 1] - l->off[k]);
        k = e;
    }
    herald_buf_append(&b, c->post, c->post_len);
    c->full = payload_from_buf(&b, g_cfg.compress);
    return 0;
}

/* c->sha256: the records hash the signed monitor names for this version, from the
 * signature entry the loader verified (the first pinned key's), else the first entry
 * (unit tests configure no keys). */
static void
records_hash(coll *c, const json_t *sigs)
{
    const json_t *e = g_nkeys ? herald_snapshot_find_entry(sigs, g_keys, g_nkeys, NULL) : NULL;
    if (!e)
        e = json_array_get(sigs, 0);
    herald_head h;
    if (e && herald_snapshot_head_parse(&h, json_object_get(e, "head"), NULL, 0) == 0)
        memcpy(c->sha256, h.sha256, sizeof(c->sha256));
}

coll *
coll_new(herald_snapshot *s, int64_t now_ms, char *err, size_t errlen)
{
    coll *c = herald_mem_calloc(1, sizeof(*c));
    const json_t *records = herald_snapshot_records(s);
    const json_t *tombs = herald_snapshot_tombstones(s);
    size_t nrec = json_array_size(records), ntomb = json_array_size(tombs);

    atomic_init(&c->refs, 1);
    atomic_init(&c->view, NULL);
    c->bid = herald_mem_strdup(herald_snapshot_bucket(s));
    c->cid = herald_mem_strdup(herald_snapshot_collection(s));
    c->bid_len = strlen(c->bid);
    c->cid_len = strlen(c->cid);
    c->version = herald_snapshot_timestamp(s);
    c->expires = herald_snapshot_expires(s);
    c->nrecords = (int64_t)nrec;
    c->ntombstones = ntomb;
    c->arrived = now_ms;
    /* The signer states which tombstones it dropped; for older blobs, estimate from
     * the arrival time (later than the signer's, so on the safe side, unless clocks
     * differ between hosts). */
    int64_t cut = herald_snapshot_tombstones_since(s);
    c->since_floor = cut >= 0 ? cut : now_ms - g_cfg.tombstone_horizon_ms;

    records_hash(c, herald_snapshot_signatures(s));
    if (build_post(c, herald_snapshot_metadata(s), herald_snapshot_signatures(s), err, errlen) <
            0 ||
        build_objects(c, herald_snapshot_metadata(s), herald_snapshot_bucket_data(s), err, errlen) <
            0)
        goto fail;
    entry_src *src = serialize_entries(records, nrec, tombs, ntomb, err, errlen);
    if (!src)
        goto fail;
    build_bodies(c, src, nrec + ntomb, nrec);
    free(src);
    build_delta_cache(c);
    herald_snapshot_free(s);
    return c;
fail:
    herald_snapshot_free(s);
    coll_free(c);
    return NULL;
}

/* Incremental publishing (docs/incremental.md): the same coll as coll_new() would
 * build from the full blob of this version, from a state (herald/delta.h) whose records'
 * bytes are the signed ones, so nothing is parsed; the coll keeps the state for the next
 * delta. */
coll *
coll_build_state(const herald_state *st, const coll *base, int64_t now_ms, char *err, size_t errlen)
{
    coll *c = herald_mem_calloc(1, sizeof(*c));
    size_t nrec = herald_state_count(st, 0), ntomb = herald_state_count(st, 1);

    atomic_init(&c->refs, 1);
    atomic_init(&c->view, NULL);
    c->bid = herald_mem_strdup(herald_state_bucket(st));
    c->cid = herald_mem_strdup(herald_state_collection(st));
    c->bid_len = strlen(c->bid);
    c->cid_len = strlen(c->cid);
    c->version = herald_state_timestamp(st);
    if (base && base->version < c->version) {
        c->recent[c->nrecent++] = base->version;
        for (size_t i = 0; i < base->nrecent && c->nrecent < DELTA_VERSIONS; i++)
            c->recent[c->nrecent++] = base->recent[i];
    }
    c->expires = herald_state_expires(st);
    c->nrecords = (int64_t)nrec;
    c->ntombstones = ntomb;
    c->arrived = now_ms;
    int64_t cut = herald_state_tombstones_since(st);
    c->since_floor = cut >= 0 ? cut : now_ms - g_cfg.tombstone_horizon_ms;
    records_hash(c, herald_state_signatures(st));
    if (build_post(c, herald_state_metadata(st), herald_state_signatures(st), err, errlen) < 0 ||
        build_objects(c, herald_state_metadata(st), herald_state_bucket_data(st), err, errlen) < 0)
        goto fail;
    c->from_base = build_bodies_from(c, base, st, nrec) == 0;
    if (!c->from_base) {
        entry_src *src = herald_mem_calloc(nrec + ntomb + 1, sizeof(*src));
        for (size_t i = 0; i < nrec + ntomb; i++) {
            herald_state_entry e;
            herald_state_get(st, i >= nrec, i < nrec ? i : i - nrec, &e);
            src[i].lm = e.lm;
            src[i].key = e.id;
            src[i].key_len = e.idlen;
            herald_buf_init(&src[i].json);
            src[i].bytes = e.json; /* the state's bytes: it outlives the build */
            src[i].len = e.len;
            src[i].idx = i;
        }
        build_bodies(c, src, nrec + ntomb, nrec);
        free(src);
    }
    build_delta_cache(c);
    return c;
fail:
    coll_free(c);
    return NULL;
}

void
coll_adopt_state(coll *c, herald_state *st)
{
    /* One copy of each record: the state (for the next delta) reads the served
     * listing's bytes, which live as long as the coll, and drops its own. */
    size_t nrec = herald_state_count(st, 0);
    for (size_t k = 0; k < c->delta.n; k++)
        if (c->delta.src[k] < nrec)
            herald_state_share(st, c->delta.src[k], c->delta.json + c->delta.off[k]);
    herald_state_drop_text(st);
    c->state = st;
}

coll *
coll_new_state(herald_state *st, const coll *base, int64_t now_ms, char *err, size_t errlen)
{
    coll *c = coll_build_state(st, base, now_ms, err, errlen);
    if (!c) {
        herald_state_free(st);
        return NULL;
    }
    coll_adopt_state(c, st);
    return c;
}

void
coll_ref(coll *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void
coll_release(coll *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        coll_free(c);
}

/* ---- sets -------------------------------------------------------------------------- */

static int
key_cmp(const char *ab, size_t abl, const char *ac, size_t acl, const char *bb, size_t bbl,
        const char *bc, size_t bcl)
{
    size_t n = abl < bbl ? abl : bbl;
    int r = memcmp(ab, bb, n);
    if (r || abl != bbl)
        return r ? r : (abl < bbl ? -1 : 1);
    n = acl < bcl ? acl : bcl;
    r = memcmp(ac, bc, n);
    if (r || acl != bcl)
        return r ? r : (acl < bcl ? -1 : 1);
    return 0;
}

static int
coll_cmp(const void *a, const void *b)
{
    const coll *x = *(coll *const *)a, *y = *(coll *const *)b;
    return key_cmp(x->bid, x->bid_len, x->cid, x->cid_len, y->bid, y->bid_len, y->cid, y->cid_len);
}

/* One monitor entry's JSON: {"bucket","collection","host","id","last_modified"[,"sha256"]}
 * (JCS key order), with Remote Settings' id = UUID(md5(host + "/buckets/B/collections/C")). */
static void
monitor_entry_json(herald_buf *j, herald_buf *uri, const char *bid, size_t bl, const char *cid,
                   size_t cl, int64_t lm, const char *sha)
{
    herald_buf_reset(uri);
    herald_buf_printf(uri, "%s/buckets/%.*s/collections/%.*s", g_cfg.host, (int)bl, bid, (int)cl,
                      cid);
    char id[37];
    md5_uuid(id, uri->data, uri->len);
    herald_buf_puts(j, "{\"bucket\":");
    herald_jcs_string(j, bid, bl);
    herald_buf_puts(j, ",\"collection\":");
    herald_jcs_string(j, cid, cl);
    herald_buf_puts(j, ",\"host\":");
    herald_jcs_string(j, g_cfg.host, strlen(g_cfg.host));
    herald_buf_puts(j, ",\"id\":\"");
    herald_buf_puts(j, id);
    herald_buf_puts(j, "\",\"last_modified\":");
    herald_buf_put_i64(j, lm);
    if (sha) {
        herald_buf_puts(j, ",\"sha256\":");
        herald_jcs_string(j, sha, strlen(sha));
    }
    herald_buf_putc(j, '}');
}

static void
mon_key_set(mon_key *k, const char *bid, size_t bl, const char *cid, size_t cl)
{
    k->bid = herald_mem_alloc(bl + 1);
    memcpy(k->bid, bid, bl);
    k->bid[bl] = '\0';
    k->bid_len = bl;
    k->cid = herald_mem_alloc(cl + 1);
    memcpy(k->cid, cid, cl);
    k->cid[cl] = '\0';
    k->cid_len = cl;
}

/* The monitor listing from the signed monitor's entries (already verified, so every
 * entry is well formed). Returns the number of entries. */
static size_t
signed_entries(snapset *s, const snapset_monitor *m, entry_src **out)
{
    const json_t *entries = json_object_get(m->body, "entries");
    size_t n = json_array_size(entries);
    entry_src *src = herald_mem_calloc(n ? n : 1, sizeof(*src));
    s->mon_keys = herald_mem_calloc(n ? n : 1, sizeof(mon_key));
    herald_buf uri = HERALD_BUF_INIT;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        herald_monitor_entry e;
        if (herald_monitor_entry_parse(&e, json_array_get(entries, i), NULL, 0) < 0)
            continue; /* NEVER: verified by the caller */
        size_t bl = strlen(e.bucket), cl = strlen(e.collection);
        mon_key_set(&s->mon_keys[k], e.bucket, bl, e.collection, cl);
        entry_src *es = &src[k];
        es->idx = k;
        es->lm = e.last_modified;
        es->key = s->mon_keys[k].bid;
        es->key_len = bl;
        monitor_entry_json(&es->json, &uri, e.bucket, bl, e.collection, cl, e.last_modified,
                           e.sha256);
        k++;
    }
    herald_buf_free(&uri);
    *out = src;
    return k;
}

snapset *
snapset_new(coll *const *colls, size_t n)
{
    return snapset_new_signed(colls, n, NULL);
}

snapset *
snapset_new_signed(coll *const *colls, size_t n, const snapset_monitor *m)
{
    snapset *s = herald_mem_calloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->n = n;
    s->colls = herald_mem_calloc(n ? n : 1, sizeof(coll *));
    if (n)
        memcpy(s->colls, colls, n * sizeof(coll *));
    qsort(s->colls, n, sizeof(coll *), coll_cmp);

    for (size_t i = 0; i < n; i++) {
        const coll *c = s->colls[i];
        if (c->version > s->max_version)
            s->max_version = c->version;
        if (c->expires && (!s->min_expires || c->expires < s->min_expires))
            s->min_expires = c->expires;
    }

    entry_src *src;
    size_t nent;
    if (m) {
        s->mon_signed = 1;
        s->mon_version = m->timestamp;
        s->mon_expires = m->expires;
        nent = signed_entries(s, m, &src);
    } else {
        s->mon_version = s->max_version;
        nent = n;
        src = herald_mem_calloc(n ? n : 1, sizeof(*src));
        s->mon_keys = herald_mem_calloc(n ? n : 1, sizeof(mon_key));
        herald_buf uri = HERALD_BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            const coll *c = s->colls[i];
            mon_key_set(&s->mon_keys[i], c->bid, c->bid_len, c->cid, c->cid_len);
            entry_src *e = &src[i];
            e->idx = i;
            e->lm = c->version;
            e->key = c->bid; /* tie-break by bucket then position: good enough, stable */
            e->key_len = c->bid_len;
            monitor_entry_json(&e->json, &uri, c->bid, c->bid_len, c->cid, c->cid_len, c->version,
                               NULL);
        }
        herald_buf_free(&uri);
    }
    s->mon_n = nent;
    listing_build(&s->monitor, src, nent);
    free(src);

    herald_buf b = HERALD_BUF_INIT;
    herald_buf_puts(&b, "],\"metadata\":{\"bucket\":\"monitor\"},\"timestamp\":");
    herald_buf_put_i64(&b, s->mon_version);
    herald_buf_putc(&b, '}');
    herald_buf_cstr(&b);
    s->mon_post_len = b.len;
    s->mon_post = herald_buf_steal(&b, NULL);

    herald_buf_puts(&b, "{\"changes\":[");
    herald_buf_append(&b, s->monitor.json, s->monitor.len);
    if (m) {
        /* The signed form: metadata carries the signatures (JCS key order: bucket,
         * signature, signatures). */
        const json_t *sigs = json_object_get(m->body, "signatures");
        herald_buf_puts(&b, "],\"metadata\":{\"bucket\":\"monitor\",\"signature\":");
        int ok = herald_jcs_dump(&b, json_array_get(sigs, 0)) == 0;
        herald_buf_puts(&b, ",\"signatures\":");
        ok = herald_jcs_dump(&b, sigs) == 0 && ok;
        (void)ok; /* NEVER false: parsed from canonical JSON and verified */
        herald_buf_puts(&b, "},\"timestamp\":");
        herald_buf_put_i64(&b, s->mon_version);
        herald_buf_putc(&b, '}');
    } else {
        herald_buf_append(&b, s->mon_post, s->mon_post_len);
    }
    s->mon_full = payload_from_buf(&b, g_cfg.compress);

    herald_buf_puts(&b, "{\"data\":[");
    herald_buf_append(&b, s->monitor.json, s->monitor.len);
    herald_buf_puts(&b, "]}");
    s->legacy_full = payload_from_buf(&b, g_cfg.compress);

    vhdr_build(&s->mon_hdr[CACHE_SHORT], s->mon_version, g_cfg.monitor_cache);
    vhdr_build(&s->mon_hdr[CACHE_LONG], s->mon_version, g_cfg.monitor_maximum);
    return s;
}

void
snapset_ref(snapset *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void
snapset_release(snapset *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        coll_release(s->colls[i]);
    free(s->colls);
    listing_free(&s->monitor);
    for (size_t i = 0; i < s->mon_n; i++) {
        free(s->mon_keys[i].bid);
        free(s->mon_keys[i].cid);
    }
    free(s->mon_keys);
    vhdr_free(&s->mon_hdr[0]);
    vhdr_free(&s->mon_hdr[1]);
    payload_release(s->mon_full);
    free(s->mon_post);
    payload_release(s->legacy_full);
    free(s);
}

size_t
snapset_bucket_start(const snapset *s, const char *bid, size_t bid_len)
{
    /* Lower bound of (bid, "") in the (bid, cid) order. */
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const coll *c = s->colls[mid];
        if (key_cmp(c->bid, c->bid_len, "", 0, bid, bid_len, "", 0) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->colls[lo]->bid_len == bid_len && !memcmp(s->colls[lo]->bid, bid, bid_len)
               ? lo
               : s->n;
}

coll *
snapset_find(const snapset *s, const char *bid, size_t bid_len, const char *cid, size_t cid_len)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const coll *c = s->colls[mid];
        int r = key_cmp(c->bid, c->bid_len, c->cid, c->cid_len, bid, bid_len, cid, cid_len);
        if (r == 0)
            return s->colls[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void
snapset_publish(snapset *s)
{
    pthread_mutex_lock(&g_lock);
    snapset *old = g_current;
    g_current = s;
    atomic_fetch_add_explicit(&g_generation, 1, memory_order_release);
    pthread_mutex_unlock(&g_lock);
    snapset_release(old);
    if (g_on_publish)
        g_on_publish();
}

void
snapset_on_publish(void (*fn)(void))
{
    g_on_publish = fn;
}

snapset *
snapset_acquire(void)
{
    pthread_mutex_lock(&g_lock);
    snapset *s = g_current;
    if (s)
        snapset_ref(s);
    pthread_mutex_unlock(&g_lock);
    return s;
}

uint64_t
snapset_generation(void)
{
    return atomic_load_explicit(&g_generation, memory_order_acquire);
}
