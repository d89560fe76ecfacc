/*
 * bundle -- attachment bundles, as Remote Settings' clients use them to fetch every
 * attachment of a collection in one request on first sync (docs/attachments.md).
 *
 * When a published collection's metadata has `attachment.bundle: true`, the zip
 * <attachments_dir>/bundles/<bid>--<cid>.zip holds, for every record of the signed
 * version that has an `attachment`, the entries "<id>.meta.json" (the record as
 * signed, JCS) and "<id>" (the file's bytes): the layout of Remote Settings'
 * cronjobs/src/commands/build_bundles.py, which Gecko's and application-services'
 * clients read. Read servers serve it at {base_url}bundles/<bid>--<cid>.zip.
 *
 * Who builds it: a thread of the publisher with its own Redis connection, so neither a
 * zip of tens of MB nor Redis round trips ever run on the event loop. It polls the
 * signed versions (the ZSET herald:monitor) every 'poll_ms'; for each collection whose
 * version changed it reads the signed snapshot (herald:snap:<bid>/<cid>), so the bundle
 * holds what clients verify, never unsigned edits. It rebuilds only when the records
 * with attachments changed (a SHA-256 over their JCS), and removes the bundle when the
 * flag is off, no record has an attachment, the files add up to more than 'max_bytes'
 * (Remote Settings' BUNDLE_MAX_SIZE_BYTES, 20 MB: a client then downloads files one
 * by one, as it does without a bundle), or the collection is no longer published.
 *
 * A bundle is not signed: clients check each file against its signed record's hash
 * and size, as for single downloads. The files come from the store by their hash (the
 * GC never deletes a referenced file, and bundles/ is not a fan-out directory it lists).
 * A file missing from the store (a publisher whose directory is not the uploaders')
 * makes that version's bundle fail (logged, the old bundle is removed); the next
 * version retries. Writing is atomic (castore.h): temp file, fsync, rename.
 */
#ifndef HERALD_PUB_BUNDLE_H
#define HERALD_PUB_BUNDLE_H

#include <stdint.h>

#include "attachment.h"
#include "herald/mem.h"
#include "herald/redis.h"

typedef struct pub_bundle pub_bundle;

/* Starts the thread. NULL when 'a' is NULL (attachments off) or on failure (logged). */
pub_bundle *pub_bundle_start(pub_attach *a, const herald_redis_url *url, int timeout_ms,
                             int64_t poll_ms, int64_t max_bytes);
void pub_bundle_stop(pub_bundle *b); /* NULL-safe; joins the thread */
/* Appends herald_attachment_bundles (bundles present) and
 * herald_attachment_bundle_builds_total (nothing when off). */
void pub_bundle_metrics(herald_buf *out);

#endif
