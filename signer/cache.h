/*
 * cache -- the signer's in-memory copy of each published collection: every live record's
 * canonical bytes and every tombstone, sorted by id, and the records_json/SHA-256 built
 * from them. See cache.c for how it is kept equal to Redis.
 */
#ifndef HERALD_SIGNER_CACHE_H
#define HERALD_SIGNER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "herald/mem.h"

/* One record (canonical JSON) or tombstone ({"deleted":true,"id","last_modified"}), with
 * its id and last_modified. Immutable once built; owned by exactly one table. */
typedef struct cache_entry {
    int64_t lm;
    uint32_t idlen; /* ids are at most 255 bytes */
    size_t len;
    char *json;  /* points into data, after the id and its NUL */
    char data[]; /* id, NUL, json, NUL */
} cache_entry;

/* Entries sorted by id, byte order (memcmp, shorter first on a common prefix). */
typedef struct cache_table {
    cache_entry **v;
    size_t n, cap;
    /* The lowest index whose entry changed (replaced, inserted, removed: the entries from
     * there on may differ) since the owner last set it to SIZE_MAX; 0 when new or
     * cleared. cache_coll_refresh rebuilds records_json from there only. */
    size_t low;
} cache_table;

/* A change to apply to a table: 'e' replaces (or adds) the entry with its id; e == NULL
 * removes the entry with id 'id' (then 'id' must stay valid during cache_table_apply). */
typedef struct cache_change {
    const char *id;
    size_t idlen;
    cache_entry *e;
} cache_change;

/* An id changed between two stored versions: 'lm' is its tombstone's last_modified when
 * it was deleted, -1 when it was written. */
typedef struct cache_idlm {
    char *id;
    size_t len;
    int64_t lm;
} cache_idlm;

/* A stored version and the ids changed since the stored version before it (see
 * docs/incremental.md, "Jump deltas"). */
typedef struct cache_hist {
    int64_t version;
    cache_idlm *ids;
    size_t n;
} cache_hist;

#define CACHE_HIST_MAX 8 /* stored versions remembered per copy (bases of jump deltas) */

typedef struct cache_coll {
    char *member;     /* "bid/cid" */
    int64_t applied;  /* the records timestamp the tables reflect (Redis state at it) */
    cache_table live; /* live records */
    cache_table tombs;
    herald_buf records_json; /* JCS array of 'live', valid when !records_dirty */
    char sha256[65];         /* of records_json */
    int records_dirty;
    /* What lets cache_coll_refresh redo only the part of records_json after the first
     * changed record: where each entry of 'live' starts in it (offs[i]), and the SHA-256
     * state after each CACHE_HASH_STEP bytes of it (mid[j]: after j steps). */
    size_t *offs, offs_cap;
    struct herald_sha256 *mid;
    size_t nmid, mid_cap;
    herald_buf tombs_json; /* JCS array of 'tombs', valid when !tombs_dirty */
    int tombs_dirty;
    int64_t tombs_cutoff; /* tombstones with last_modified <= this are gone (horizon) */
    /* The version this copy was last stored as, when every change applied since is in
     * the next read (0: unknown, the next version gets no delta). */
    int64_t stored;
    /* The last stored versions, oldest first, each with what changed since the one
     * before: hist[nhist - 1].version == stored while every step is known. */
    cache_hist hist[CACHE_HIST_MAX];
    size_t nhist;
} cache_coll;

/* A new entry (aborts on out-of-memory like every herald_mem_* allocation). */
cache_entry *cache_entry_new(const char *id, size_t idlen, int64_t lm, const char *json,
                             size_t len);
/* The tombstone entry {"deleted":true,"id":id,"last_modified":lm}. */
cache_entry *cache_entry_tombstone(const char *id, size_t idlen, int64_t lm);

/* Index of the entry with 'id', or -1; '*pos' (when not NULL) receives where it is or
 * would be inserted. */
long cache_table_find(const cache_table *t, const char *id, size_t idlen, size_t *pos);
/* Applies 'n' changes (any order; for one id the last change wins) in one merge pass:
 * O(table + n log n). Takes ownership of every change's entry (replaced entries and the
 * entries of superseded changes are freed). Returns the number
 * of entries added, replaced or removed. */
size_t cache_table_apply(cache_table *t, cache_change *changes, size_t n);
/* Removes (and frees) the entries with lm <= 'horizon'; returns how many. */
size_t cache_table_prune(cache_table *t, int64_t horizon);
/* Frees every entry and the array; the table is empty and reusable. NULL-safe. */
void cache_table_clear(cache_table *t);
/* Appends the JCS array of the table's entries ("[" e1 "," e2 ... "]"). */
void cache_table_json(herald_buf *out, const cache_table *t);

/* The collection "bid/cid" in the process-wide cache, created empty when absent. */
cache_coll *cache_get(const char *member);
/* Forgets one collection (deleted, unpublished, or its copy is no longer trusted). */
void cache_drop(const char *member);
/* Forgets every collection (after a reconnection: Redis may have been restored). */
void cache_drop_all(void);
/* Forgets the history of stored versions (no jump delta until the next store). */
void cache_hist_clear(cache_coll *c);
/* Appends stored version 'version', reached by changing the 'n' ids 'ids' (copied) from
 * the last one in the history (the oldest is dropped when full). */
void cache_hist_push(cache_coll *c, int64_t version, const cache_idlm *ids, size_t n);

/* Brings records_json, sha256 and tombs_json up to date after changes. */
void cache_coll_refresh(cache_coll *c);

#endif
