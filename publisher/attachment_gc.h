/*
 * attachment_gc -- deletes attachment files no record references any more, after a
 * grace period (attachment_gc_grace_seconds, default 30 days) so that clients holding
 * an older version can still download them.
 *
 * One pass, every attachment_gc_interval_seconds on the publisher's event loop:
 *   1. the set of referenced hashes: every record of every collection in Redis (the
 *      HASHes herald:objs:*:record, read with SCAN and HGETALL): sources, review
 *      copies and destinations alike, since they are all records;
 *   2. the files of the store (castore.h): a file whose hash is referenced is dropped
 *      from the orphan table; an unreferenced one enters it with the time it was first
 *      seen so (the Redis HASH herald:attach:orphans, shared by every publisher);
 *   3. a file is deleted when it is unreferenced, has been an orphan for longer than
 *      the grace period, AND was last committed (its mtime: castore refreshes it when
 *      the same content is uploaded again) longer than the grace period ago; at most
 *      PUB_GC_MAX_DELETES per pass.
 *
 * Race with writes: steps 1 to 3 run without yielding to the event loop, so no request
 * of this publisher runs between the reference check and the unlink. An upload commits
 * its file (refreshing the mtime) before its record write, so a file an upload is about
 * to name is younger than the grace period and is kept: a write naming a file either
 * keeps it alive or (file gone long before) re-creates it by its own upload. A record
 * write that copies an existing `attachment` (a review copy) names a file that its
 * source still references at that moment.
 *
 * Metrics (GET /metrics): herald_attachment_files, herald_attachment_bytes,
 * herald_attachment_orphans_pending, herald_attachment_deleted_total.
 */
#ifndef HERALD_PUB_ATTACHMENT_GC_H
#define HERALD_PUB_ATTACHMENT_GC_H

#include <event2/event.h>
#include <stdint.h>

#include "attachment.h"
#include "store.h"

#define PUB_GC_MAX_DELETES 1000
#define PUB_GC_ORPHANS_KEY "herald:attach:orphans"

typedef struct pub_attach_gc pub_attach_gc;

/* Starts the periodic pass (first one after 'interval_s'). NULL when 'a' is NULL. */
pub_attach_gc *pub_attach_gc_start(struct event_base *base, pub_attach *a, pub_store *store,
                                   int64_t grace_s, int64_t interval_s);
void pub_attach_gc_stop(pub_attach_gc *g); /* NULL-safe */
/* One pass now ('now_ms' wall clock). Returns the files deleted, or -1 when Redis did
 * not answer (nothing deleted). */
int pub_attach_gc_run(pub_attach_gc *g, int64_t now_ms);
/* Appends the metrics above (nothing before the first pass or when off). */
void pub_attach_gc_metrics(herald_buf *out);

#endif
