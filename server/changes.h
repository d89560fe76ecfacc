/*
 * changes -- the handlers of the polling API (DESIGN.md):
 *
 *   /v1/buckets/monitor/collections/changes/changeset   monitor entries, newest first
 *   /v1/buckets/monitor/collections/changes/records     the same, legacy {"data":[...]}
 *   /v1/buckets/{bid}/collections/{cid}/changeset       a collection's changeset
 *
 * Query parameters: _since (S or "S"; records and tombstones with last_modified > S),
 * _expected (a cache key only: present and not "0" selects the long max-age, as Remote
 * Settings does for cache-busting polls), _limit (the newest N), bucket=/collection=
 * (monitor filters). Because every listing is newest first, _since and _limit are
 * prefixes of precomputed bytes (snapset.h); only the monitor filters and _limit alone
 * copy entries. A _since older than the collection's tombstone horizon gets the full
 * changeset.
 *
 * The monitor: with a verified signed monitor (snapset.h) only the unfiltered answer
 * (no _since, _limit, bucket=, collection=) is the signed body; the others are the
 * same entries without a signature (a subset cannot be checked).
 *
 * Encodings: a body precomputed per version (full changesets, the monitor, cached
 * deltas) is served in the coding Accept-Encoding prefers; bodies computed per request
 * in identity (reply.h).
 */
#ifndef HERALD_SERVER_CHANGES_H
#define HERALD_SERVER_CHANGES_H

#include <stddef.h>

#include "herald/http_parse.h"
#include "out.h"
#include "snapset.h"

/* Answers GET/HEAD of the monitor ('legacy': its records form). Returns the status. */
int changes_monitor(out *o, const http_request *req, const snapset *s, int legacy, int keep_alive);
/* Answers GET/HEAD of the changeset of 'bid'/'cid' (slices of the request path).
 * Returns the status. */
int changes_changeset(out *o, const http_request *req, const snapset *s, const char *bid, size_t bl,
                      const char *cid, size_t cl, int keep_alive);

#endif
