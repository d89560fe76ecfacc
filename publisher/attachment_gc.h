/*
 * attachment_gc -- deletes attachment files no record references any more, after a
 * grace period (attachment_gc_grace_seconds, default 30 days) so that clients holding
 * an older version can still download them.
 *
 * One pass, every attachment_gc_interval_seconds, on a thread of its own with its own
 * Redis connection (never the event loop: a pass over a large store reads every record
 * and lists every file, seconds of work that would stall every request):
 *   1. the set of referenced hashes: every record of every collection in Redis (the
 *      HASHes herald:objs:*:record, read with SCAN and HVALS): sources, review
 *      copies and destinations alike, since they are all records;
 *   2. the files of the store (castore.h): a file whose hash is referenced is dropped
 *      from the orphan table; an unreferenced one enters it with the time it was first
 *      seen so (the Redis HASH herald:attach:orphans, shared by every publisher; its
 *      changes are sent in batches, one HSET/HDEL per 512 files, not one fsync'd
 *      command per file); entries whose file is gone are dropped;
 *   3. a file is deleted when it is unreferenced, has been an orphan for longer than
 *      the grace period, AND was last committed (its mtime: castore refreshes it when
 *      the same content is uploaded again) longer than the grace period ago; at most
 *      PUB_GC_MAX_DELETES per pass.
 *
 * Race with writes (requests run on the event loop while a pass runs):
 *   - an upload pins its file in the store atomically with its commit
 *     (herald_castore_commit_pin: the commit refreshes the mtime or renames the file
 *     into place, under the store's mutex) and unpins it once its record write is
 *     done; herald_castore_remove_older checks pins and mtime under the same mutex. So a
 *     file an upload names is never deleted between the commit and the record write,
 *     however long that takes (if it was deleted just before, the commit re-creates it);
 *     after the write the record references it;
 *   - any record naming a file resets its orphan entry at the next pass, so a file is
 *     deleted only if no pass saw it referenced during a whole grace period. A record
 *     the scan of this pass missed was written during the pass: a review copy names a
 *     file its source references (seen by every pass since the source's upload, so
 *     never an orphan that old); a client PUT naming the hash of a file unreferenced for
 *     the whole grace period is a record written just after the file's deletion, the
 *     same outcome as when the pass runs an instant earlier, as it always could.
 *
 * Metrics (GET /metrics): herald_attachment_files, herald_attachment_bytes,
 * herald_attachment_orphans_pending, herald_attachment_deleted_total.
 */
#ifndef HERALD_PUB_ATTACHMENT_GC_H
#define HERALD_PUB_ATTACHMENT_GC_H

#include <stdint.h>

#include "attachment.h"
#include "herald/mem.h"
#include "herald/redis.h"

#define PUB_GC_MAX_DELETES 1000
#define PUB_GC_ORPHANS_KEY "herald:attach:orphans"

typedef struct pub_attach_gc pub_attach_gc;

/* Starts the thread of periodic passes (first one after 'interval_s'), with its own
 * Redis connection to 'url'. NULL when 'a' is NULL or on failure (logged). */
pub_attach_gc *pub_attach_gc_start(pub_attach *a, const herald_redis_url *url, int timeout_ms,
                                   int64_t grace_s, int64_t interval_s);
void pub_attach_gc_stop(pub_attach_gc *g); /* NULL-safe; joins the thread */
/* One pass now ('now_ms' wall clock), on the calling thread (the GC's own). Returns
 * the files deleted, or -1 when Redis did not answer (nothing deleted). */
int pub_attach_gc_run(pub_attach_gc *g, int64_t now_ms);
/* Appends the metrics above (nothing before the first pass or when off). */
void pub_attach_gc_metrics(herald_buf *out);

#endif
