/*
 * kinto -- Kinto's read-only GETs of published objects, so Kinto clients (kinto-http,
 * kinto.js) can read from a read server:
 *
 *   GET /v1/                                          capabilities, incl. the signer's
 *                                                     public keys this server trusts
 *   GET /v1/buckets/{bid}                             {"data": bucket attributes}
 *   GET /v1/buckets/{bid}/collections/{cid}           {"data": collection attributes}
 *   GET /v1/buckets/{bid}/collections/{cid}/records   Kinto list: filters, _sort,
 *        _limit, _since/_before, _fields, _token and Next-Page (lib/listing.c, the same
 *        code as the publisher), Total-Records/Total-Objects
 *   GET /v1/buckets/{bid}/collections/{cid}/records/{rid}   {"data": record}
 *
 * Only what a read server has is served: published collections (and the buckets that
 * hold one), as signed in their current snapshot; never permissions, groups or
 * accounts. ETags are Kinto's: an object's last_modified, a records list's the records
 * timestamp (the version V); If-None-Match answers 304.
 *
 * Object bodies are precomputed per version (snapset.c). A records list needs parsed
 * records; they are parsed from the precomputed entries on the first records request
 * for a version (the kview, a coll_view of snapset.h), under a lock, and shared read-only
 * afterwards: polls never pay for it, and a version nobody lists costs nothing.
 */
#ifndef HERALD_SERVER_KINTO_H
#define HERALD_SERVER_KINTO_H

#include <stddef.h>

#include "herald/crypto.h"
#include "herald/http_parse.h"
#include "snapset.h"

#include "out.h"

typedef struct kinto_config {
    const herald_pubkey *keys; /* kept by reference: listed by GET /v1/ */
    size_t nkeys;
    const char *public_url; /* e.g. "http://host:8888" (no trailing slash): Next-Page */
    long long paginate_by;  /* Kinto's paginate_by for records lists; 0 = none */
} kinto_config;

/* Called once before the workers start (the strings are copied). */
void kinto_configure(const kinto_config *cfg);
void kinto_unconfigure(void);

typedef struct kinto_ids {
    const char *bid, *cid, *rid; /* slices of the request path */
    size_t bl, cl, rl;
} kinto_ids;

/* Answers GET/HEAD for 'route' (RT_ROOT, RT_BUCKET, RT_COLLECTION, RT_RECORDS,
 * RT_RECORD of route_id.h). Returns the status sent. */
int kinto_get(out *o, const http_request *req, const snapset *s, int route, const kinto_ids *ids,
              int keep_alive);

#endif
