/*
 * resources -- the review workflow's resources (Remote Settings' signer.resources):
 * which collections are workspaces (sources) and where their reviewed content goes.
 *
 * The setting `signer_resources` holds one resource per line (';' also separates):
 * `source -> preview -> destination` or `source -> destination`, each URI either
 * `/buckets/b` (per bucket: every collection of the source bucket maps to the collection
 * of the same id in the preview and destination buckets) or `/buckets/b/collections/c`;
 * one resource's URIs are all of one kind, and no URI is used twice anywhere. When the
 * setting is empty and `signer_to_review_enabled` is on, the default is Remote Settings':
 * `/buckets/main-workspace -> /buckets/main-preview -> /buckets/main`.
 * `signer_to_review_disabled` lists source URIs (bucket or collection) whose review is
 * off (any writer may then approve, the two-person rule does not apply: opt-out).
 *
 * Parsed once at start (settings.c); immutable afterwards. Pure: no Redis, no HTTP.
 */
#ifndef HERALD_PUB_RESOURCES_H
#define HERALD_PUB_RESOURCES_H

#include <stddef.h>

#include "path.h"

typedef struct pub_resource {
    char src_b[PUB_ID_MAX + 1], src_c[PUB_ID_MAX + 1]; /* src_c "" : per bucket */
    char prev_b[PUB_ID_MAX + 1], prev_c[PUB_ID_MAX + 1];
    char dst_b[PUB_ID_MAX + 1], dst_c[PUB_ID_MAX + 1];
    int has_preview;
} pub_resource;

typedef struct pub_resources {
    int n;
    pub_resource *r;
    int review_enabled; /* signer_to_review_enabled */
    char *review_off;   /* signer_to_review_disabled (owned copy, may be NULL) */
} pub_resources;

/* One resource resolved for a collection: the three (bucket, collection) pairs. */
typedef struct pub_resolved {
    const char *src_b, *src_c, *prev_b, *prev_c, *dst_b, *dst_c;
    int has_preview;
    int review; /* review enabled for this source */
} pub_resolved;

/* Parses 'text' (NULL or empty: none, or the default when 'review_enabled'). Returns
 * 0, or -1 with a reason in 'err'. */
int pub_resources_parse(pub_resources *out, const char *text, int review_enabled,
                        const char *review_off, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void pub_resources_free(pub_resources *rs); /* NULL-safe */

/* 1 and '*out' when (bid, cid) is a source collection. */
int pub_resources_source(const pub_resources *rs, const char *bid, const char *cid,
                         pub_resolved *out);
/* 1 and '*out' (the resource of which it is a preview or destination) when the object
 * (bid, cid) is a preview or destination collection; with cid NULL, when the bucket is a
 * preview or destination bucket, or holds a preview or destination collection. */
int pub_resources_target(const pub_resources *rs, const char *bid, const char *cid,
                         pub_resolved *out);
/* 1 if 'bid' is the bucket of some source (per bucket or per collection). */
int pub_resources_is_source_bucket(const pub_resources *rs, const char *bid);

#endif
