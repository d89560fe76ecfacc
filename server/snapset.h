/*
 * snapset -- what the read server serves: immutable, reference-counted snapshot sets.
 *
 * Memory layout (everything below a set is read-only once published):
 *
 *   g_current ──▶ snapset (refs, generation)
 *                 ├─ colls[]: coll* sorted by (bucket, collection) ── binary search
 *                 ├─ monitor: listing of {"bucket","collection","host","id",
 *                 │           "last_modified"[,"sha256"]} entries, newest first: the
 *                 │           signed monitor's entries when one is given
 *                 │           (snapset_new_signed), else one per served coll
 *                 └─ monitor bodies (changeset form and legacy {"data":[...]} form)
 *
 *   coll (refs: shared by every set that serves this version of the collection)
 *   ├─ hdr[2]: prebuilt header lines (ETag, Last-Modified, Cache-Control, Vary, CORS)
 *   │          for the two cache lifetimes (plain / with _expected)
 *   ├─ full:   payload (encode.h): the whole changeset {"changes":[records newest first],
 *   │          "metadata":{...},"timestamp":V} in identity, gzip and zstd
 *   ├─ delta:  a listing of records AND tombstones newest first, plus 'post'
 *   │          (],"metadata":...,"timestamp":V}); without tombstones its bytes are
 *   │          those of 'full' (shared, not copied). Because a listing is newest first,
 *   │          the answer to _since=S is always a prefix of it: the body is
 *   │          {"changes":[ + delta.json[0 .. end of the last entry newer than S) + post,
 *   │          three slices of immutable memory found by one binary search.
 *   ├─ delta_body: with tombstones, {"changes":[ + delta.json + post in one buffer
 *   │          (delta.json is a slice of it); without, 'full' is that buffer
 *   ├─ dcache: the same delta bodies compressed, for the newest few prefix lengths k
 *   │          (see below), bounded in bytes; their identity is no copy but two
 *   │          slices of that buffer (encode.h payload_new_parts), each cached body
 *   │          holding a reference to it.
 *   ├─ obj, bucket_obj: Kinto GET bodies {"data":{attributes}} of the collection and
 *   │          of its bucket (kinto.c), with their header lines
 *   └─ view:   parsed records for Kinto's records list (filters, sort), built on first
 *              use only (kinto.c, through coll_view_acquire) and dropped when unused for
 *              server_kinto_view_idle_seconds: most servers never need them.
 *
 * Delta cache: the body for _since=S depends only on k = the number of entries newer
 * than S, so it is cached by k, not by S. Clients ask with S = a version they verified.
 * The versions this server built before this one ('recent', carried from version to
 * version) give their k first: one version may hold many entries of different
 * last_modified (the signer signs a batch of writes at once), so the first boundaries
 * between entries alone did not reach the previous version after a batch of more than
 * DELTA_VERSIONS writes. The remaining slots go to those first boundaries, newest first,
 * which cover the latest versions of single edits -- including those published before
 * this server started. Identity answers for every k are slices of 'delta' (no cache needed); only
 * compressed answers need the cache, and a k outside it is answered in identity.
 *
 * Tombstone horizon: the signer keeps tombstones newer than (its clock - horizon), so a
 * delta for an S older than that could miss deletions; such a _since gets the full
 * changeset instead ('since_floor' = the cut-off the signer wrote into the blob; for
 * older blobs, arrival time here - horizon, never earlier than the signer's cut-off on
 * one clock because the blob was signed before it arrived).
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

#include <jansson.h>

#include "encode.h"
#include "herald/delta.h"
#include "herald/mem.h"
#include "herald/snapshot.h"

#define DELTA_VERSIONS 16           /* compressed deltas cached per collection */
#define DELTA_CACHE_MIN (64 * 1024) /* cache budget: max(this, full body size) bytes */

typedef struct listing {
    char *json; /* entries joined by ',' */
    size_t len;
    int json_borrowed; /* json points into another buffer (the full body): not freed */
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

/* A versioned response's prebuilt head, without Content-Length and the final CRLF:
 * b[0 .. split) is the 304's, b[split .. len) the 200's (each a status line and the
 * same header lines), so either is one copy. */
typedef struct vhdr {
    herald_buf b;
    size_t split;
    char etag[24]; /* the version in decimal: If-None-Match is compared with it */
    size_t etag_len;
} vhdr;

typedef struct delta_cached {
    size_t k;   /* entries of 'delta' in the payload */
    payload *b; /* {"changes":[first k entries],"metadata":...,"timestamp":V} */
} delta_cached;

typedef struct coll {
    atomic_int refs;
    char *bid, *cid;
    size_t bid_len, cid_len;
    int64_t version;
    int64_t expires;                /* smallest head.expires */
    int64_t arrived;                /* ms since the epoch when this server built it */
    int64_t since_floor;            /* a _since below this gets the full changeset */
    int64_t recent[DELTA_VERSIONS]; /* versions of this collection this server built
                                     * before this one, newest first (delta cache) */
    size_t nrecent;
    char sha256[65]; /* head.sha256 (records hash) of the verified signature; "" if none */
    vhdr hdr[2];     /* header lines, per cache lifetime */
    payload *full;
    listing delta;
    payload *delta_body; /* with tombstones: {"changes":[ + delta.json + post, which
                          * delta.json is a slice of; without: NULL ('full' is that) */
    size_t ntombstones;
    char *post;
    size_t post_len;
    delta_cached *dc; /* sorted by k */
    size_t ndc;
    size_t dc_bytes; /* identity bytes of the cached bodies (slices, not copies: the
                      * bound limits what is compressed and kept compressed) */
    int64_t nrecords;
    payload *obj, *bucket_obj; /* {"data":{...}} of the collection, of its bucket */
    int64_t obj_lm, bucket_lm; /* their last_modified (ETag) */
    vhdr obj_hdr, bucket_hdr;
    _Atomic(struct coll_view *) view; /* NULL until needed; dropped when idle (see below) */
    herald_state *state;              /* what the next version's delta applies to (NULL: full blob
                                       * only); its records' bytes are those of 'delta' */
    /* How long this version's steps took on the loader (ns; 0: not done), for the log
     * line that reports it (metrics.h, enum version_step). */
    int64_t t_decode_ns, t_apply_ns, t_verify_ns, t_build_ns;
    int from_base; /* 1: its bodies were built from the previous version's (coll_new_state) */
} coll;

/*
 * A derived form of a coll built on first use by a reader (kinto.c's parsed records),
 * then shared read-only. The coll holds one reference and each reader one while it
 * uses it; the last reference frees it through its own 'free' pointer, so the data model
 * needs to know nothing of its builder. Embed it as the first member of the real
 * structure. A view unused for a while is dropped (coll_view_drop_idle, from the sync's
 * tick): most collections are never read through Kinto's API, and a parsed view costs
 * several times the bytes of the records it parses.
 */
typedef struct coll_view {
    void (*free)(struct coll_view *v);
    atomic_int refs;
    atomic_llong last_used; /* ms since the epoch */
} coll_view;

/* The view of 'c', built with 'build' on the first call, with a reference for the caller
 * (coll_view_release() it when done). Takes a mutex: Kinto reads are rare next to polls.
 * Any thread. */
const coll_view *coll_view_acquire(const coll *c, coll_view *(*build)(const coll *c),
                                   int64_t now_ms);
void coll_view_release(const coll_view *v); /* NULL-safe */
/* Drops the coll's reference to its view if unused since 'now_ms' - 'idle_ms' (readers
 * holding it keep it alive until they release it). Returns 1 when dropped. */
int coll_view_drop_idle(const coll *c, int64_t now_ms, int64_t idle_ms);

/* Adds the bytes of every body 'c' serves, by encoding, to 'by_enc': the full changeset,
 * the _since listing when it is not a slice of the full body, the cached deltas, the
 * Kinto objects (what /metrics reports as herald_served_body_bytes). */
void coll_body_bytes(const coll *c, size_t by_enc[ENC_COUNT]);
/* The same for the set's own bodies (monitor/changes in both forms). */
struct snapset;
void snapset_body_bytes(const struct snapset *s, size_t by_enc[ENC_COUNT]);

/* Adds the bytes the delta cache of 'c' holds, by encoding, to 'by_enc' (a part of
 * coll_body_bytes(); /metrics reports it as herald_delta_cache_bytes). */
void coll_delta_cache_bytes(const coll *c, size_t by_enc[ENC_COUNT]);
/* The cached delta body holding the first 'k' entries, or NULL. */
const payload *coll_delta_cached(const coll *c, size_t k);

typedef struct snapset_config {
    const char *host;             /* monitor entries' "host" and id */
    int64_t cache_default;        /* collection max-age without cache_expires */
    int64_t cache_maximum;        /* max-age with _expected (cache busting) */
    int64_t monitor_cache;        /* monitor/changes max-age */
    int64_t monitor_maximum;      /* monitor/changes max-age with _expected */
    int64_t tombstone_horizon_ms; /* the signer's tombstone_horizon_seconds * 1000 */
    int compress;                 /* 0: identity only */
} snapset_config;

/* The pinned keys (kept by reference; NULL: none): coll_new() takes a coll's records
 * hash from the signature entry of the first of them, the one the loader verified. */
void snapset_set_keys(const herald_pubkey *keys, size_t nkeys);
/* Must be called once before any coll_new() (the config is copied). */
void snapset_configure(const snapset_config *cfg);
/* Frees the copied configuration (at exit, after the last set is released). */
void snapset_unconfigure(void);

/* Builds a coll from a decoded, verified snapshot (which is freed: the coll keeps only
 * precomputed bytes) that arrived at 'now_ms'. Returns NULL (and frees 's') if it
 * cannot be represented. */
coll *coll_new(herald_snapshot *s, int64_t now_ms, char *err, size_t errlen);
/* The same from a verified state (herald/delta.h), which the coll keeps (freed with it,
 * or at once on failure): docs/incremental.md. The state's records then read their
 * bytes in the coll's listing (one copy of each record) and its own array is dropped. */
/* 'base' (may be NULL): the coll whose state 'st' was built from by
 * herald_state_apply or herald_state_apply_borrowing (whose borrowed bytes must live
 * until this returns: 'st' reads the new listing's then); its bodies are then reused (the delta's
 * entries merged into its listing, the rest copied in runs) instead of sorting and copying every
 * entry, with the same bytes; anything unexpected builds them whole. */
coll *coll_new_state(herald_state *st, const coll *base, int64_t now_ms, char *err, size_t errlen);
/* coll_new_state in two steps: the coll built from 'st' (only read: another thread may
 * verify it meanwhile; NULL and 'err' on failure, 'st' still the caller's), then 'st'
 * handed to it (its records pointed at the coll's listing, its own text dropped). A coll
 * not adopted yet is released with coll_release and serves nothing. */
coll *coll_build_state(const herald_state *st, const coll *base, int64_t now_ms, char *err,
                       size_t errlen);
void coll_adopt_state(coll *c, herald_state *st);
void coll_ref(coll *c);
void coll_release(coll *c); /* NULL-safe */

/* A verified signed monitor (herald/monitor.h) for snapset_new_signed(): 'body' is the
 * stored {"entries":[...],"signatures":[...]}, already verified by the caller against
 * the pinned keys, with its head's M and E. Owned by the caller. */
typedef struct snapset_monitor {
    const json_t *body;
    int64_t timestamp; /* M */
    int64_t expires;   /* E */
} snapset_monitor;

/* The bucket and collection of a monitor entry (filters bucket=/collection=). */
typedef struct mon_key {
    char *bid, *cid;
    size_t bid_len, cid_len;
} mon_key;

typedef struct snapset {
    atomic_int refs;
    size_t n;
    coll **colls; /* sorted by (bid, cid) */
    int64_t max_version;
    int64_t min_expires; /* 0 when empty */
    listing monitor;
    vhdr mon_hdr[2];
    payload *mon_full; /* {"changes":[...all...],"metadata":{"bucket":"monitor"},"timestamp":M} */
    char *mon_post;    /* ],"metadata":{"bucket":"monitor"},"timestamp":M} */
    size_t mon_post_len;
    payload *legacy_full; /* {"data":[...]} */
    /* With a signed monitor the monitor listing is its entries (each also carries
     * "sha256"), its version is M, and mon_full's metadata carries "signature" and
     * "signatures"; without one, the listing is the served colls and the version their
     * max_version (no signature). mon_keys[l.src[i]] names listing entry i either way. */
    int mon_signed;
    int64_t mon_version; /* the monitor's ETag and timestamp */
    int64_t mon_expires; /* the signed monitor's E (0: unsigned) */
    mon_key *mon_keys;
    size_t mon_n;
} snapset;

/* Takes ownership of the 'n' references in 'colls' (the array itself is copied).
 * Duplicated keys are a caller bug. */
snapset *snapset_new(coll *const *colls, size_t n);
/* The same, serving the verified signed monitor 'm' (NULL: unsigned, as snapset_new). */
snapset *snapset_new_signed(coll *const *colls, size_t n, const snapset_monitor *m);
void snapset_ref(snapset *s);
void snapset_release(snapset *s); /* NULL-safe */
coll *snapset_find(const snapset *s, const char *bid, size_t bid_len, const char *cid,
                   size_t cid_len);

/* Replaces the published set (takes the caller's reference). */
void snapset_publish(snapset *s);
/* 'fn' (NULL: none) is called on the publishing thread after every snapset_publish():
 * the connection layer wakes its workers' long-poll waiters with it. Set it from the
 * thread that publishes. */
void snapset_on_publish(void (*fn)(void));
/* New reference to the published set, or NULL before the first publish. */
snapset *snapset_acquire(void);
/* Changes whenever a set is published; cheap to poll. */
uint64_t snapset_generation(void);

/* Builds the header blocks of a versioned response: the status line (304, or 200 with
 * Content-Type) and the lines both carry (ETag "'version'", Last-Modified,
 * Cache-Control max-age, Vary, CORS). */
void vhdr_build(vhdr *h, int64_t version, int64_t max_age);
void vhdr_free(vhdr *h);
/* The configured record_cache_expires_seconds. */
int64_t snapset_cache_default(void);
/* Index of the first coll of bucket 'bid' in s->colls (s->n when none). */
size_t snapset_bucket_start(const snapset *s, const char *bid, size_t bid_len);

#endif
