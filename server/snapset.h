/*
 * snapset -- what the read server serves: immutable, reference-counted snapshot sets.
 *
 * Memory layout (everything below a set is read-only once published):
 *
 *   g_current ──▶ snapset (refs, generation)
 *                 ├─ colls[]: coll* sorted by (bucket, collection) ── binary search
 *                 ├─ monitor: listing of {"bucket","collection","host","id",
 *                 │           "last_modified"} entries, newest first
 *                 └─ monitor bodies (changeset form and legacy {"data":[...]} form)
 *
 *   coll (refs: shared by every set that serves this version of the collection)
 *   ├─ hdr[2]: prebuilt header lines (ETag, Last-Modified, Cache-Control, Vary, CORS)
 *   │          for the two cache lifetimes (plain / with _expected)
 *   ├─ full:   the whole changeset body {"changes":[records newest first],
 *   │          "metadata":{...},"timestamp":V}
 *   └─ delta:  a listing of records AND tombstones newest first, plus 'post'
 *              (],"metadata":...,"timestamp":V}). Because a listing is newest first,
 *              the answer to _since=S is always a prefix of it: the body is
 *              {"changes":[ + delta.json[0 .. end of the last entry newer than S) + post,
 *              three slices of immutable memory found by one binary search.
 *
 * A listing stores its entries' JSON joined by ',' in one buffer, with each entry's
 * last_modified and byte range, so both prefixes (_since, _limit) and filters
 * (bucket=/collection= on the monitor) are slices or memcpy's of ready bytes.
 *
 * Threads: the sync thread builds colls and sets and publishes a set with
 * snapset_publish(); workers notice a new generation with one relaxed atomic load per
 * request and take a reference under a mutex only when it changed. A coll or set is
 * freed by whichever thread drops its last reference.
 */
#ifndef HERALD_SERVER_SNAPSET_H
#define HERALD_SERVER_SNAPSET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/mem.h"
#include "herald/snapshot.h"

typedef struct listing {
    char *json; /* entries joined by ',' */
    size_t len;
    size_t n;
    int64_t *lm; /* last_modified, non-increasing */
    size_t *off; /* entry i is json[off[i] .. off[i] + sz[i]) */
    size_t *sz;
    size_t *src; /* entry i was source item src[i] (e.g. index in snapset.colls) */
} listing;

/* Number of leading entries with last_modified > since. */
size_t listing_count_since(const listing *l, int64_t since);
/* Byte length of the first 'k' entries including the commas between them. */
size_t listing_prefix_len(const listing *l, size_t k);

enum { CACHE_SHORT = 0, CACHE_LONG = 1 };

typedef struct coll {
    atomic_int refs;
    char *bid, *cid;
    size_t bid_len, cid_len;
    int64_t version;
    int64_t expires;   /* smallest head.expires */
    herald_buf hdr[2]; /* header lines, per cache lifetime */
    char *full;
    size_t full_len;
    listing delta;
    char *post;
    size_t post_len;
    int64_t nrecords;
} coll;

typedef struct snapset_config {
    const char *host;        /* monitor entries' "host" and id */
    int64_t cache_default;   /* collection max-age without cache_expires */
    int64_t cache_maximum;   /* max-age with _expected (cache busting) */
    int64_t monitor_cache;   /* monitor/changes max-age */
    int64_t monitor_maximum; /* monitor/changes max-age with _expected */
} snapset_config;

/* Must be called once before any coll_new() (the config is copied). */
void snapset_configure(const snapset_config *cfg);
/* Frees the copied configuration (at exit, after the last set is released). */
void snapset_unconfigure(void);

/* Builds a coll from a decoded, verified snapshot (which is freed: the coll keeps only
 * precomputed bytes). Returns NULL (and frees 's') if it cannot be represented. */
coll *coll_new(herald_snapshot *s, char *err, size_t errlen);
void coll_ref(coll *c);
void coll_release(coll *c); /* NULL-safe */

typedef struct snapset {
    atomic_int refs;
    size_t n;
    coll **colls; /* sorted by (bid, cid) */
    int64_t max_version;
    int64_t min_expires; /* 0 when empty */
    listing monitor;
    herald_buf mon_hdr[2];
    char *mon_full; /* {"changes":[...all...],"metadata":{"bucket":"monitor"},"timestamp":M} */
    size_t mon_full_len;
    char *mon_post; /* ],"metadata":{"bucket":"monitor"},"timestamp":M} */
    size_t mon_post_len;
    char *legacy_full; /* {"data":[...]} */
    size_t legacy_full_len;
} snapset;

/* Takes ownership of the 'n' references in 'colls' (the array itself is copied).
 * Duplicated keys are a caller bug. */
snapset *snapset_new(coll *const *colls, size_t n);
void snapset_ref(snapset *s);
void snapset_release(snapset *s); /* NULL-safe */
coll *snapset_find(const snapset *s, const char *bid, size_t bid_len, const char *cid,
                   size_t cid_len);

/* Replaces the published set (takes the caller's reference). */
void snapset_publish(snapset *s);
/* New reference to the published set, or NULL before the first publish. */
snapset *snapset_acquire(void);
/* Changes whenever a set is published; cheap to poll. */
uint64_t snapset_generation(void);

/* Appends an HTTP-date (RFC 9110 5.6.7) for 'ms' milliseconds since the epoch. */
void http_date(herald_buf *out, int64_t ms);

#endif
