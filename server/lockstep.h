/*
 * lockstep -- which (monitor, collection versions) pair the read server exposes, so that
 * a signed monitor and the collections served with it always agree.
 *
 * The signer stores a collection's snapshot, then a signed monitor naming it (during a
 * burst, naming a later one). A read server learns of each through its own notification
 * and loads blobs on worker threads, so what it has loaded and what the newest signed
 * monitor commits to drift apart, by seconds during a bulk import. Publishing each as it
 * came let a client read a monitor naming V+1 next to a changeset still at V (or the
 * reverse) and report it uncommitted. The sync now hands everything to this module and
 * publishes only the sets it builds:
 *
 *   exposed   the published set (the caller's 'cur'): a signed monitor and exactly the
 *             versions its entries name (version and records hash), or the unsigned
 *             monitor and the newest versions (3. below)
 *   staged    per collection: loaded versions not exposed yet (ascending), and whether
 *             its removal was announced while it is still exposed; each with the
 *             monotonic time it was staged
 *   monitors  the last few verified, unexpired signed monitors (newest last), their
 *             entries parsed: a server behind the signer builds V after the monitor
 *             naming V+1 arrived, and V goes out with the monitor that named it
 *
 * lockstep_decide() returns the set to publish, or NULL to keep the exposed one:
 *  1. The newest kept monitor that matches is served (older ones are then dropped; one
 *     not newer than the served monitor never is). A monitor matches when each entry's
 *     (V, H) is available -- the exposed version or a staged one newer than it -- and
 *     every exposed collection not being removed is listed (a match never hides a
 *     collection nor goes back to an older version). The
 *     monitor and the versions it names are then published together; staged versions at
 *     or below them are dropped (superseded: never exposed).
 *  2. Otherwise the exposed pair stays while every staged item is younger than the
 *     bound (server_lockstep_max_wait_seconds): versions wait for a monitor committing
 *     to them, a monitor for the versions it names.
 *  3. When the bound passes (monitor signing stopped, or a monitor names a version this
 *     server never saw), when there is no valid signed monitor, or when the exposed
 *     monitor is already unsigned: the newest versions go out with the unsigned monitor
 *     (a fallback is logged and counted). A client refuses an unsigned monitor rather
 *     than reading a pair that disagrees, and the data keeps flowing. The next monitor
 *     that matches brings back 1.
 * A bound of 0 turns lock-step off: the newest versions are published at once with the
 * newest signed monitor, which may then name other versions (the behaviour before).
 *
 * A decision equal to the exposed set publishes nothing, so long-poll waiters (woken on
 * each publish) wake only when the pair switches. Staged versions are held by reference;
 * the bound limits how long, so a few per edited collection at most.
 *
 * One thread (the sync's event loop). The counters /metrics shows are process-wide
 * relaxed atomics (lockstep_stats_read, any thread).
 */
#ifndef HERALD_SERVER_LOCKSTEP_H
#define HERALD_SERVER_LOCKSTEP_H

#include <stddef.h>
#include <stdint.h>

#include "snapset.h"

typedef struct lockstep lockstep;

/* 'bound_ms': the longest a staged item waits for a committing monitor (0: off). */
lockstep *lockstep_new(int64_t bound_ms);
void lockstep_free(lockstep *l); /* NULL-safe; releases what is staged */

/* A verified coll (the caller's reference is taken over) loaded at 'now_ms' (monotonic).
 * A version already staged is released. */
void lockstep_add(lockstep *l, coll *c, int64_t now_ms);
/* The removal of bid/cid was announced: its staged versions go; the one exposed in 'cur'
 * (if any) stays until a set without it is published. */
void lockstep_remove(lockstep *l, const snapset *cur, const char *bid, const char *cid,
                     int64_t now_ms);
/* After a full resync that listed what Redis holds: drops the staged versions of every
 * collection not exposed in 'cur' whose versions were all staged before 'before_ms' and
 * that 'listed'(bid, cid, arg) says Redis no longer holds (its removal was missed while
 * disconnected). Returns how many collections were dropped. */
size_t lockstep_drop_unlisted(lockstep *l, const snapset *cur, int64_t before_ms,
                              int (*listed)(const char *bid, const char *cid, void *arg),
                              void *arg);
/* The newest verified signed monitor ('m' NULL: none valid), at 'now_ms': it too waits at
 * most the bound for the versions it names. The body is referenced. */
void lockstep_set_monitor(lockstep *l, const snapset_monitor *m, int64_t now_ms);
/* The newest version known for bid/cid: staged, else exposed in 'cur' (0: none, or its
 * removal was announced). */
int64_t lockstep_newest(const lockstep *l, const snapset *cur, const char *bid, const char *cid);
/* That newest version's coll (not referenced; NULL: none, or its removal was announced):
 * the base a delta applies to, staged or exposed. */
coll *lockstep_newest_coll(const lockstep *l, const snapset *cur, const char *bid, const char *cid);
/* Whether the oldest staged item has waited the bound at 'now_ms' (a decision is due). */
int lockstep_due(const lockstep *l, int64_t now_ms);
/* The set to publish given the exposed 'cur' (NULL: nothing published yet), with one
 * reference for the caller; NULL to keep 'cur' (see above). */
snapset *lockstep_decide(lockstep *l, const snapset *cur, int64_t now_ms)
    __attribute__((warn_unused_result));

#define LOCKSTEP_BUCKETS 10 /* histogram of staged waits: upper bounds below */
extern const double lockstep_bucket_seconds[LOCKSTEP_BUCKETS];

typedef struct lockstep_stats {
    long long staged;      /* versions and removals waiting now */
    long long exposed;     /* staged versions exposed since start (the histogram's count) */
    long long wait_ms_sum; /* their waits */
    long long le[LOCKSTEP_BUCKETS]; /* cumulative: waits <= lockstep_bucket_seconds[i] */
    long long superseded;           /* staged versions dropped without being exposed */
    long long fallbacks;            /* times the bound passed: newest versions, unsigned monitor */
    int fallback;                   /* 1 while serving that way after a fallback */
} lockstep_stats;

/* The process-wide counters (any thread). */
void lockstep_stats_read(lockstep_stats *out);

#endif
