/*
 * sync -- keeps the published snapshot set equal to what the signer stored in Redis.
 *
 * Runs on one event base (the main thread's), with two hiredis async connections:
 * 'sub' SUBSCRIBEd to herald:snapshots and 'cmd' for ZRANGE/GET. Once subscribed it
 * resynchronises everything (ZRANGE herald:monitor WITHSCORES, GET each blob whose
 * version differs from the one served); then each notification "<bid>/<cid> <V>"
 * fetches that one blob ("... 0" removes the collection). Subscribing before loading
 * means no notification can fall between the two. Every blob is decoded and verified
 * against the pinned public keys before it is served; one that fails is logged and the
 * previously verified version (if any) stays. A version never replaces a newer one.
 *
 * hiredis 0.14.1 has no async timeouts, so a periodic tick bounds connecting and every
 * outstanding command; on any failure both connections are dropped and re-established
 * with exponential backoff, followed by a full resync (notifications may have been
 * missed meanwhile). The served set is kept while Redis is away.
 *
 * The operator's Backoff: 'cmd' also GETs herald:backoff once connected and then every
 * 2 s (a plain SET takes effect without a PUBLISH, and a server that missed a change
 * while disconnected catches up at once). The key's integer (0 to 86400; 0: off) wins
 * while it exists; absent, the configured default applies; a malformed value is logged
 * once and ignored; while Redis is away the last value stays. The result goes to
 * status.h, where reply.c reads it.
 *
 * The signed monitor (herald/monitor.h): 'cmd' HGETs herald:monitor:signed body at each
 * resync and on each "monitor <M>" notification, verifies it against the pinned keys
 * (entries hash, signature, and an expiry at least MONITOR_MARGIN_MS away), and keeps
 * the newest that verifies. The tick drops it just before it expires: the unfiltered
 * monitor is then served unsigned until a newer one arrives. One that does not verify is
 * logged once and never served.
 *
 * Lock-step: loaded versions, removals and verified monitors all go to lockstep.h, which
 * decides each set published: a signed monitor only ever goes out with exactly the
 * versions it commits to, and a version waits (staged, not served) for a monitor that
 * commits to it, for at most lockstep_ms; after that, or without a valid signed monitor,
 * the newest versions are served with the unsigned monitor. The first set is published
 * when the first resync has finished and a decision is made (the server is then ready).
 */
#ifndef HERALD_SERVER_SYNC_H
#define HERALD_SERVER_SYNC_H

#include <event2/event.h>
#include <stddef.h>

#include "herald/crypto.h"
#include "herald/redis.h"

typedef struct sync_opts {
    herald_redis_url url;
    const herald_pubkey *keys; /* kept by reference */
    size_t nkeys;
    size_t max_collections; /* a monitor larger than this is truncated (logged) */
    int backoff_default;    /* Backoff seconds while herald:backoff is absent (0: none) */
    long long view_idle_ms; /* Kinto views unused this long are dropped (0: never) */
    long long lockstep_ms;  /* lockstep.h's bound: a loaded version waits at most this long
                               for a signed monitor committing to it (0: lock-step off) */
} sync_opts;

/* Starts syncing on 'base' (connecting happens from the event loop). Returns 0 or -1. */
int sync_start(struct event_base *base, const sync_opts *o) __attribute__((warn_unused_result));
/* Drops the connections and frees everything; call from the base's thread. */
void sync_stop(void);

/* Whether Redis is up, whether a full resync has completed and when a set was last
 * published are reported to status.h. */

#endif
