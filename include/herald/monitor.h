/*
 * monitor -- the signed monitor format (the public contract, docs/signature-format.md,
 * "Signed monitor"): one signature that commits to every published collection's version
 * and records hash at once, with a short lifetime, so a client can prove that what it
 * holds is current (TUF's timestamp role).
 *
 *   entries      = [{"bucket":B,"collection":C,"last_modified":V,"sha256":H}, ...]
 *                  sorted by bucket, then collection (byte order); H = head.sha256 of
 *                  that collection's signed snapshot at V
 *   entries_json = JCS(entries)                                          ("[]" when none)
 *   head         = {"kind":"monitor","timestamp":M,"expires":E,"collections":N,
 *                   "sha256":lowercase hex SHA-256(entries_json)}
 *   message      = "herald-monitor-v1" 0x00 JCS(head)
 *   signature    = base64url-nopad(Ed25519(message)); entry {"mode":"ed25519","key_id",
 *                  "signature","head"} per signing key, as for snapshots
 *
 * The prefix differs from the snapshot one ("herald-snapshot-v1") and the heads have
 * different keys, so neither kind of signature can pass as the other.
 *
 * Stored by the signer (value of field "body" of schema key herald:monitor:signed) as
 * JCS({"entries":[...],"signatures":[...]}): exactly what a read server needs to serve
 * and what herald_monitor_verify() checks.
 */
#ifndef HERALD_MONITOR_H
#define HERALD_MONITOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/crypto.h"
#include "herald/mem.h"

#define HERALD_MONITOR_PREFIX "herald-monitor-v1"
#define HERALD_MONITOR_KIND "monitor"

typedef struct herald_monitor_entry {
    const char *bucket;
    const char *collection;
    int64_t last_modified; /* V */
    char sha256[65];       /* H */
} herald_monitor_entry;

typedef struct herald_monitor_head {
    int64_t timestamp;   /* M */
    int64_t expires;     /* E */
    int64_t collections; /* N */
    char sha256[65];     /* S */
} herald_monitor_head;

/* Why a monitor was refused (herald_monitor_verify). */
enum herald_monitor_status {
    HERALD_MONITOR_OK = 0,
    HERALD_MONITOR_MALFORMED,     /* not the shape above (types, keys, duplicates) */
    HERALD_MONITOR_UNPINNED,      /* no signature entry by a pinned key */
    HERALD_MONITOR_HASH_MISMATCH, /* entries do not hash to head.sha256 / count */
    HERALD_MONITOR_TIMESTAMP,     /* head.timestamp is not the served timestamp */
    HERALD_MONITOR_BAD_SIGNATURE, /* the signature does not verify */
    HERALD_MONITOR_EXPIRED,       /* head.expires <= now */
    HERALD_MONITOR_ROLLBACK,      /* head.timestamp below the last verified M */
};

/* A short name for 'st' ("expired", "rollback", ...). */
const char *herald_monitor_status_name(enum herald_monitor_status st);

/* Sorts 'entries' in place (bucket, then collection, byte order). */
void herald_monitor_sort(herald_monitor_entry *entries, size_t n);
/* Appends entries_json for 'n' entries already sorted. */
void herald_monitor_entries_jcs(herald_buf *out, const herald_monitor_entry *entries, size_t n);
/* Sorts 'entries' and fills 'head' for them: collections = n, sha256 of entries_json,
 * timestamp M and expires E as given. */
void herald_monitor_build(herald_monitor_head *head, herald_monitor_entry *entries, size_t n,
                          int64_t timestamp, int64_t expires);

/* Appends JCS(head). */
void herald_monitor_head_jcs(herald_buf *out, const herald_monitor_head *h);
/* Appends the signed message: prefix, 0x00, JCS(head). */
void herald_monitor_message(herald_buf *out, const herald_monitor_head *h);
/* Reads a head object: exactly the five keys, "kind" = "monitor", integers in
 * [0, 2^53-1], sha256 64 lowercase hex digits. Returns 0 or -1 with 'err'. */
int herald_monitor_head_parse(herald_monitor_head *out, const json_t *obj, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* New reference to {"mode":"ed25519","key_id","signature","head"} for 'h' signed by 'k'
 * (NULL on failure). */
json_t *herald_monitor_sign_entry(const herald_signkey *k, const herald_monitor_head *h);

/* Reads one entry object (bucket, collection, last_modified, sha256; other members, such
 * as a served change's "id" and "host", are ignored). Strings point into 'obj'. */
int herald_monitor_entry_parse(herald_monitor_entry *out, const json_t *obj, char *err,
                               size_t errlen) __attribute__((warn_unused_result));

/*
 * Verifies a monitor as a client does: 'entries' is the array of entries as received
 * (any order; extra members ignored), 'signatures' the signatures array. Uses the entry
 * of the first of 'keys' that has one (fail closed: a bad entry for a pinned key is not
 * skipped for another), then requires, in this order: a well-formed head; entries
 * re-sorted hash to head.sha256 and number head.collections (no duplicate
 * bucket/collection); head.timestamp == 'served_ts' unless served_ts < 0; a valid
 * signature; head.expires > now_ms unless now_ms == 0; head.timestamp >= 'min_ts'.
 * The verified head goes to 'head_out' when not NULL. Returns HERALD_MONITOR_OK or the
 * reason, written into 'err'.
 */
enum herald_monitor_status herald_monitor_verify(herald_monitor_head *head_out,
                                                 const json_t *entries, const json_t *signatures,
                                                 int64_t served_ts, int64_t now_ms, int64_t min_ts,
                                                 const herald_pubkey *keys, size_t nkeys, char *err,
                                                 size_t errlen) __attribute__((warn_unused_result));

/* The stored body, JCS({"entries":entries_json,"signatures":signatures}). Returns 0 or -1
 * (signatures not representable). */
int herald_monitor_encode(herald_buf *out, const herald_monitor_entry *entries, size_t n,
                          const json_t *signatures) __attribute__((warn_unused_result));

#endif
