/*
 * snapshot -- the signed snapshot format (the public contract, docs/signature-format.md)
 * and the blob the signer stores in Redis for the read servers.
 *
 * Signature (exact, shared by the signer, the read server and clients):
 *   records_json = JCS([live records sorted by id, byte order])     ("[]" when empty)
 *   sha256       = lowercase hex SHA-256(records_json)
 *   head         = {"bucket","collection","timestamp":V,"expires":E,"records":N,"sha256"}
 *   message      = "herald-snapshot-v1" 0x00 JCS(head)
 *   signature    = base64url-nopad(Ed25519(message))
 *   entry        = {"mode":"ed25519","key_id","signature","head"}  (one per signing key)
 *
 * Stored blob (value of schema key "herald:snap:<bid>/<cid>"): one zstd frame whose
 * content is
 *   "HSB1" | u32be meta_len | meta | u32be records_len | records_json
 *          | u32be tombstones_len | tombstones_json
 * where meta = JCS({"bucket","collection","timestamp":V,"metadata":{collection
 * attributes},"bucket_data":{bucket attributes},"signatures":[entries],
 * "tombstones_since":C}) and tombstones_json = JCS([{"deleted":true,"id",
 * "last_modified"}, ...]): every tombstone with last_modified > C, the signer's
 * horizon cut-off (absent in blobs written before it was added: readers then estimate).
 * records_json is kept as the exact signed bytes so verification is a hash and a signature check,
 * never a re-canonicalization.
 */
#ifndef HERALD_SNAPSHOT_H
#define HERALD_SNAPSHOT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/crypto.h"
#include "herald/jscan.h"
#include "herald/mem.h"

#define HERALD_SNAPSHOT_PREFIX "herald-snapshot-v1"
#define HERALD_SNAPSHOT_MAX_BLOB (1u << 30) /* decompressed size limit */

typedef struct herald_head {
    const char *bucket;
    const char *collection;
    int64_t timestamp;
    int64_t expires;
    int64_t records;
    char sha256[65];
} herald_head;

/* Appends JCS(head). */
void herald_snapshot_head_jcs(herald_buf *out, const herald_head *h);
/* Appends the signed message: prefix, 0x00, JCS(head). */
void herald_snapshot_message(herald_buf *out, const herald_head *h);
/* Reads a head object, requiring exactly the six keys with the right types (integers
 * may be integral reals). Strings point into 'obj' (valid while it lives). */
int herald_snapshot_head_parse(herald_head *out, const json_t *obj, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* New reference to {"mode":"ed25519","key_id","signature","head"} for 'h' signed by 'k'. */
json_t *herald_snapshot_sign_entry(const herald_signkey *k, const herald_head *h);

/*
 * Checks a state against a signatures array, as a client does: finds an entry whose
 * key_id is one of 'keys' (the first pinned key that has one), and requires its head to
 * have bucket, collection and timestamp equal to the expected ones, records == 'nrecords',
 * sha256 == SHA-256(records_json), expires > now_ms (skipped when now_ms == 0), and a
 * valid signature. Returns 0 or -1 with the reason in 'err'.
 */
int herald_snapshot_verify(const char *records_json, size_t records_len, int64_t nrecords,
                           const json_t *signatures, const char *bucket, const char *collection,
                           int64_t timestamp, int64_t now_ms, const herald_pubkey *keys,
                           size_t nkeys, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The same with the records' SHA-256 (lowercase hex) computed by the caller, who has
 * them in pieces (herald_state_apply_borrowing). */
int herald_snapshot_verify_sha256(const char sha[65], int64_t nrecords, const json_t *signatures,
                                  const char *bucket, const char *collection, int64_t timestamp,
                                  int64_t now_ms, const herald_pubkey *keys, size_t nkeys,
                                  char *err, size_t errlen) __attribute__((warn_unused_result));

/* The entry herald_snapshot_verify() checks: the first of 'keys' (in order) whose key_id
 * appears in 'signatures'; its index goes to '*key_index' when not NULL. NULL if none. */
const json_t *herald_snapshot_find_entry(const json_t *signatures, const herald_pubkey *keys,
                                         size_t nkeys, size_t *key_index);

typedef struct herald_snapshot_parts {
    const char *bucket;
    const char *collection;
    int64_t timestamp;
    const json_t *metadata;    /* collection attributes (Kinto data object) */
    const json_t *bucket_data; /* bucket attributes */
    const json_t *signatures;  /* array of entries */
    const char *records_json;  /* JCS array, sorted by id */
    size_t records_len;
    const json_t *tombstones; /* array of {"deleted":true,"id","last_modified"} */
    /* Alternatively the tombstones already serialized as one JCS array (the signer keeps
     * them that way): used when not NULL, and then 'tombstones' is ignored. */
    const char *tombstones_json;
    size_t tombstones_len;
    int64_t tombstones_since; /* the cut-off C above; 0: not stated */
} herald_snapshot_parts;

/* Appends the zstd-compressed blob. Returns 0 or -1 (compression failure). */
int herald_snapshot_encode(herald_buf *out, const herald_snapshot_parts *p, int zstd_level)
    __attribute__((warn_unused_result));
/* The same, uncompressed: the content herald_snapshot_encode compresses into one zstd
 * frame, appended to 'raw' (the signer compresses it on another thread). Returns 0, or
 * -1 when it cannot be serialized or would exceed HERALD_SNAPSHOT_MAX_BLOB. */
int herald_snapshot_encode_raw(herald_buf *raw, const herald_snapshot_parts *p)
    __attribute__((warn_unused_result));

typedef struct herald_snapshot herald_snapshot; /* a decoded blob; immutable */

/* Decodes (decompresses, splits, parses) a blob. Does NOT verify signatures. */
herald_snapshot *herald_snapshot_decode(const void *blob, size_t len, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The same, for a caller that needs of each record only its bytes, id and last_modified
 * (the read server's loader): when the scanner (herald/jscan.h) accepts records_json,
 * the records are indexed instead of parsed, herald_snapshot_records() is NULL and
 * herald_snapshot_record_index() gives them; otherwise they are parsed as above. */
herald_snapshot *herald_snapshot_decode_indexed(const void *blob, size_t len, char *err,
                                                size_t errlen) __attribute__((warn_unused_result));
void herald_snapshot_free(herald_snapshot *s); /* NULL-safe */

const char *herald_snapshot_bucket(const herald_snapshot *s);
const char *herald_snapshot_collection(const herald_snapshot *s);
int64_t herald_snapshot_timestamp(const herald_snapshot *s);
/* The tombstone cut-off C, or -1 when the blob does not state it. */
int64_t herald_snapshot_tombstones_since(const herald_snapshot *s);
const json_t *herald_snapshot_metadata(const herald_snapshot *s);    /* object */
const json_t *herald_snapshot_bucket_data(const herald_snapshot *s); /* object */
const json_t *herald_snapshot_signatures(const herald_snapshot *s);  /* array */
const json_t *herald_snapshot_records(const herald_snapshot *s);     /* array, by id */
/* The records as the scanner indexed them (offsets in records_json, each with an id);
 * NULL when they were parsed instead. */
const herald_jscan_elem *herald_snapshot_record_index(const herald_snapshot *s, size_t *n);
size_t herald_snapshot_record_count(const herald_snapshot *s);      /* either way */
const json_t *herald_snapshot_tombstones(const herald_snapshot *s); /* array */
const char *herald_snapshot_records_json(const herald_snapshot *s, size_t *len);
/* Hands the decompressed content (which records_json points into) to the caller, who
 * frees it; the snapshot's records_json is valid only while the caller keeps it.
 * herald_state_take_snapshot: the records' bytes are used where they are. */
char *herald_snapshot_take_buffer(herald_snapshot *s);
/* Smallest head.expires among the signature entries (0 if none). */
int64_t herald_snapshot_expires(const herald_snapshot *s);

/* herald_snapshot_verify() on a decoded blob (now_ms == 0: expiry not checked). */
int herald_snapshot_verify_decoded(const herald_snapshot *s, int64_t now_ms,
                                   const herald_pubkey *keys, size_t nkeys, char *err,
                                   size_t errlen) __attribute__((warn_unused_result));

#endif
