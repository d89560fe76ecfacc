/*
 * delta -- incremental publishing (docs/incremental.md): the signer's per-version delta
 * and the read server's state that a delta applies to.
 *
 * Delta (value of "herald:snapdelta:<bid>/<cid>:<base>", not compressed: it is small):
 *   "HSD1" | u32be meta_len | meta | u32be records_len | records_json
 *          | u32be tombstones_len | tombstones_json
 * meta = JCS({"base":B,"bucket","bucket_data":{...},"collection","metadata":{...},
 *             "signatures":[entries of version V],"timestamp":V,"tombstones_since":C})
 * records_json    = JCS array of the live records of V whose id changed since B, sorted
 *                   by id, each exactly as it appears in V's records_json;
 * tombstones_json = JCS array of {"deleted":true,"id","last_modified"} for every id that
 *                   is no longer live (or was tombstoned again) since B, sorted by id.
 * Ids are unique across both arrays. Applying it to the state at B: drop every named id
 * from the records and the tombstones, merge in the two arrays, drop the tombstones with
 * last_modified <= C (when C > 0). The result must verify against V's signatures, which
 * are the very entries of V's full blob: no new signature is needed.
 *
 * State: one collection version as the read server needs it to apply the next delta
 * without parsing it again: its records' canonical bytes (records_json itself, with each
 * element's id, last_modified and byte range, sorted by id), its tombstones likewise, and
 * its attributes and signatures. Immutable once built; any thread may read it.
 */
#ifndef HERALD_DELTA_H
#define HERALD_DELTA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/crypto.h"
#include "herald/mem.h"
#include "herald/snapshot.h"

#define HERALD_DELTA_KEY_PREFIX "herald:snapdelta:"
#define HERALD_DELTA_TTL_MS 120000   /* a delta is kept this long (then full blobs only) */
#define HERALD_DELTA_MAX (64u << 20) /* a larger delta is refused (the full blob is used) */

/* Appends "herald:snapdelta:<bid>/<cid>:<base>". */
void herald_delta_key(herald_buf *out, const char *bid, const char *cid, int64_t base);

typedef struct herald_delta_parts {
    const char *bucket, *collection;
    int64_t base, timestamp, tombstones_since;
    const json_t *metadata, *bucket_data, *signatures;
    const char *records_json; /* JCS array, sorted by id ("[]" or NULL: none) */
    size_t records_len;
    const char *tombstones_json; /* JCS array, sorted by id ("[]" or NULL: none) */
    size_t tombstones_len;
} herald_delta_parts;

/* Appends the delta. Returns 0 or -1 (attributes that cannot be serialized). */
int herald_delta_encode(herald_buf *out, const herald_delta_parts *p)
    __attribute__((warn_unused_result));

typedef struct herald_state herald_state;

/* The state of a decoded blob (which stays the caller's). Does not verify it. NULL (and
 * 'err') when its records_json does not hold the parsed records. */
herald_state *herald_state_from_snapshot(const herald_snapshot *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The same, consuming 's' (freed, also on failure): the state keeps the blob's
 * decompressed content and uses the records' bytes there instead of copying them (a
 * cold start: one copy less of every record). */
herald_state *herald_state_take_snapshot(herald_snapshot *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The state at the delta's version: 'base' plus the delta, verified against 'keys' (as
 * herald_snapshot_verify, expiry not checked). NULL (and 'err') when the delta is
 * malformed, is not for base's collection and version, or does not verify. */
herald_state *herald_state_apply(const herald_state *base, const void *delta, size_t len,
                                 const herald_pubkey *keys, size_t nkeys, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The same without copying the records' bytes (the read server's form): the new state's
 * records kept from 'base' read base's bytes where they are, so whatever holds those
 * (the base's served listing) must outlive it until every record was re-pointed with
 * herald_state_share and herald_state_drop_text was called; it has no records array
 * text (herald_state_records_json gives NULL). The SHA-256 is taken over the pieces;
 * the verification and the result's entries are those of herald_state_apply. */
herald_state *herald_state_apply_borrowing(const herald_state *base, const void *delta, size_t len,
                                           const herald_pubkey *keys, size_t nkeys, char *err,
                                           size_t errlen) __attribute__((warn_unused_result));
/* herald_state_apply_borrowing in two steps, so that the read server can build the
 * bodies of a large version while another thread verifies it: the state as applied, NOT
 * verified (nothing of it may be served, nor 'st' be shared, before herald_state_verify
 * returned 0), then the verification (SHA-256 over the pieces, the head and the
 * signature of the first pinned key's entry). The verification only reads the state; the
 * bodies may be built from it meanwhile (herald_state_get). */
herald_state *herald_state_apply_unverified(const herald_state *base, const void *delta, size_t len,
                                            char *err, size_t errlen)
    __attribute__((warn_unused_result));
int herald_state_verify(herald_state *st, const herald_pubkey *keys, size_t nkeys, char *err,
                        size_t errlen) __attribute__((warn_unused_result));
void herald_state_free(herald_state *st); /* NULL-safe */
/* How long herald_state_apply took to build 'st' (parse and merge) and to verify it
 * (SHA-256 and Ed25519), in ns; 0 for a state built from a blob. */
void herald_state_apply_timings(const herald_state *st, int64_t *apply_ns, int64_t *verify_ns);

const char *herald_state_bucket(const herald_state *st);
const char *herald_state_collection(const herald_state *st);
int64_t herald_state_timestamp(const herald_state *st);
int64_t herald_state_tombstones_since(const herald_state *st); /* -1: not stated */
const json_t *herald_state_metadata(const herald_state *st);
const json_t *herald_state_bucket_data(const herald_state *st);
const json_t *herald_state_signatures(const herald_state *st);
int64_t herald_state_expires(const herald_state *st); /* smallest head.expires, 0: none */
/* The records' JCS array (id order) the signature covers; NULL once dropped. */
const char *herald_state_records_json(const herald_state *st, size_t *len);
/* Memory sharing (the read server keeps one copy of each record): record 'i' (id
 * order) now reads its bytes at 'bytes' -- the same bytes, which the caller keeps alive
 * as long as the state (its served listing). Once every record is shared,
 * herald_state_drop_text frees the state's own array; applying a delta needs only the
 * entries' bytes, wherever they are. */
void herald_state_share(herald_state *st, size_t i, const char *bytes);
void herald_state_drop_text(herald_state *st);
/* Appends the JCS array of the tombstones (as the full blob's tombstones_json). */
void herald_state_tombstones_json(herald_buf *out, const herald_state *st);

/* Entry 'i' (sorted by id) of the records (tomb == 0) or tombstones (tomb == 1). */
typedef struct herald_state_entry {
    const char *id;
    size_t idlen;
    int64_t lm;
    const char *json;
    size_t len;
} herald_state_entry;
size_t herald_state_count(const herald_state *st, int tomb);
/* For a state built by herald_state_apply: the index of its entry 'i' in the base's
 * same table when the entry was kept from the base (its bytes are the base entry's),
 * SIZE_MAX when it came from the delta or the state was built from a blob. The read
 * server builds the next bodies from the previous ones with it (server/snapset.c). */
size_t herald_state_origin(const herald_state *st, int tomb, size_t i);
void herald_state_get(const herald_state *st, int tomb, size_t i, herald_state_entry *e);

#endif
