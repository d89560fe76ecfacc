/*
 * signer -- internal interface between the signer's stream consumer (main.c) and the
 * code that builds, signs and stores one collection's snapshot (publish.c).
 */
#ifndef HERALD_SIGNER_SIGNER_H
#define HERALD_SIGNER_SIGNER_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "herald/crypto.h"

typedef struct signer_ctx {
    redisContext *rc;
    herald_signkey **keys;
    size_t nkeys;
    int64_t lifetime_ms;     /* head.expires = signing time + this */
    int64_t resign_before_ms; /* re-sign when less than this remains */
    int64_t horizon_ms;      /* tombstones older than this are dropped */
    int zstd_level;
    int64_t sweep_ms; /* period of the full check (re-sign, repair) */
    char sha_read[41], sha_store[41], sha_remove[41]; /* loaded script SHA-1s */
} signer_ctx;

enum signer_result {
    SIGNER_STORED,    /* a new snapshot was stored and announced */
    SIGNER_UNCHANGED, /* nothing to do: already published as is, or a newer one is */
    SIGNER_REMOVED,   /* the collection was taken off the read servers */
    SIGNER_ERROR,     /* Redis or internal failure: retry later */
};

/* Loads the Lua scripts into Redis (after every reconnect). */
int signer_load_scripts(signer_ctx *s);
/* Brings the published snapshot of bid/cid up to date; 'force' re-signs unchanged data. */
enum signer_result signer_publish_collection(signer_ctx *s, const char *bid, const char *cid,
                                             int force);

#endif
