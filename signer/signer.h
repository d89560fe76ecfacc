/*
 * signer -- internal interface between the signer's stream consumer (consume.c) and the
 * code that builds, signs and stores one collection's snapshot (publish.c).
 */
#ifndef HERALD_SIGNER_SIGNER_H
#define HERALD_SIGNER_SIGNER_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "herald/crypto.h"

/* HASH member -> V: version V of the collection was stored and announced, its full blob
 * not yet (publish.c); signer_read.lua signs such a collection again. */
#define SIGNER_KEY_BLOB_PENDING "herald:snap:pending"

typedef struct signer_ctx {
    redisContext *rc;
    herald_signkey **keys;
    size_t nkeys;
    int64_t lifetime_ms;      /* head.expires = signing time + this */
    int64_t resign_before_ms; /* re-sign when less than this remains */
    int64_t horizon_ms;       /* tombstones older than this are dropped */
    int zstd_level;
    int64_t sweep_ms;            /* period of the full check (re-sign, repair) */
    int64_t claim_idle_ms;       /* reclaim other consumers' entries pending this long */
    int64_t monitor_lifetime_ms; /* the signed monitor's lifetime (re-signed at half) */
    int64_t monitor_check_at;    /* wall ms: when the signed monitor needs a look */
    char sha_read[41], sha_store[41], sha_remove[41], sha_monitor[41]; /* script SHA-1s */
    char sha_recompress[41];
    char *keyset; /* the key ids, comma-separated (signer_read.lua ARGV[7]) */
    /* How long a full blob announced later may wait, superseded by newer versions of its
     * collection (consume.c: under a backlog only; 0: stored after each batch, except a
     * large collection's, publish.c LARGE_BLOB_DEFER_MS). */
    int64_t blob_defer_ms;
    /* records_json bytes from which a blob waits LARGE_BLOB_DEFER_MS in any case
     * (publish.c; signer_large_blob_bytes) */
    int64_t large_blob_bytes;
} signer_ctx;

enum signer_result {
    SIGNER_STORED,    /* a new snapshot was stored and announced */
    SIGNER_UNCHANGED, /* nothing to do: already published as is, or a newer one is */
    SIGNER_REMOVED,   /* the collection was taken off the read servers */
    SIGNER_INVALID,   /* the stored data cannot be signed (logged); the sweep retries */
    SIGNER_ERROR,     /* Redis or internal failure: retry later */
};

/* Loads the Lua scripts into Redis (after every reconnect). */
int signer_load_scripts(signer_ctx *s);
/* Stream entries to acknowledge together with a snapshot store (signer_store.lua). */
typedef struct signer_ack {
    const char **ids;
    size_t n;
} signer_ack;

/* Brings the published snapshot of bid/cid up to date; 'force' re-signs unchanged data.
 * Everything up to the records timestamp it read is covered when this returns STORED,
 * UNCHANGED or REMOVED (the caller may then acknowledge the events). When 'ack' is not
 * NULL and a snapshot is stored (or found superseded by a newer one), its entries are
 * acknowledged and deleted in the same atomic script, and '*acked' is set to 1. */
enum signer_result signer_publish_collection(signer_ctx *s, const char *bid, const char *cid,
                                             int force, const signer_ack *ack, int *acked);
/* Brings the signed monitor (herald/monitor.h, key herald:monitor:signed) up to date
 * with herald:monitor: signs and stores a new one when the entries changed since the
 * stored one was built, when half its lifetime has passed, or when there is none. Unless
 * 'now' is set, does nothing before s->monitor_check_at. Returns 0, or -1 on a Redis
 * failure (the caller reconnects). */
int signer_monitor_refresh(signer_ctx *s, int now);

/* Recompresses, at the configured level, one blob that was stored with the fast level
 * (a version with a delta is announced before its full blob is compressed well: see
 * docs/incremental.md), newest version per collection only. Call when idle. Returns 1
 * when it did one, 0 when none was pending, -1 on a Redis failure. */
int signer_recompress_one(signer_ctx *s);

/* Stores the full blobs of the versions stored and announced without one (publish.c, "the
 * full blob after the announcement"), except those announced less than s->blob_defer_ms
 * ago, or less than LARGE_BLOB_DEFER_MS for a large collection; 'all': every one, at
 * once (a stop). Call after each batch, once its signed monitor is written. Returns 0, or
 * -1 on a Redis failure. */
int signer_blobs_flush(signer_ctx *s, int all);
/* How many full blobs are waiting (signer_blobs_flush). */
size_t signer_blobs_waiting(void);
/* In how many ms the first waiting blob is due, with s->blob_defer_ms (0: now). */
int64_t signer_blobs_due_in(const signer_ctx *s);
/* Stores the blobs the compressor thread (blobz.h) has finished: call between batches.
 * Returns 0, or -1 on a Redis failure. */
int signer_blobs_collect(signer_ctx *s);

/* Drops every in-memory copy (after a reconnection: Redis may be an older one now). */
void signer_forget_all(void);

#endif
