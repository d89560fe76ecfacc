/*
 * path -- the publisher's URL router: turns a request path into what it names.
 *
 * Kinto's URL space is a fixed tree, so routing is a walk over '/'-separated segments
 * rather than a table of patterns:
 *
 *   /v1/                                              PUB_PATH_ROOT
 *   /v1/buckets                                       PUB_PATH_LIST, depth 1
 *   /v1/buckets/{bid}                                 PUB_PATH_OBJECT, depth 1
 *   /v1/buckets/{bid}/collections                     PUB_PATH_LIST, depth 2
 *   /v1/buckets/{bid}/collections/{cid}               PUB_PATH_OBJECT, depth 2
 *   /v1/buckets/{bid}/collections/{cid}/records       PUB_PATH_LIST, depth 3
 *   /v1/buckets/{bid}/collections/{cid}/records/{rid} PUB_PATH_OBJECT, depth 3
 *
 * 'depth' is the level of the object (or of the objects listed): 1 bucket,
 * 2 collection, 3 record; ids[0..depth-1] are the ids along the way (a list has
 * depth-1 ids). Ids are checked against ^[a-zA-Z0-9][a-zA-Z0-9_-]*$ here, so nothing
 * downstream (Redis keys, JSON output) ever sees a '/', ':', '%' or quote in one.
 *
 * Kinto redirects (307) paths without the version prefix, "/v1" and trailing slashes;
 * PUB_PATH_REDIRECT carries the target path (the caller re-attaches the query string).
 */
#ifndef HERALD_PUB_PATH_H
#define HERALD_PUB_PATH_H

#include <stddef.h>

#define PUB_DEPTH_MAX 3
#define PUB_ID_MAX 255

enum pub_path_kind {
    PUB_PATH_NOT_FOUND = 0,
    PUB_PATH_ROOT,
    PUB_PATH_LIST,
    PUB_PATH_OBJECT,
    PUB_PATH_BAD_ID,     /* the tree matched but ids[bad_level] is not a valid id */
    PUB_PATH_REDIRECT,   /* 307 to 'redirect' */
    PUB_PATH_BAD_VERSION /* /v2/...: Kinto's 404 errno 116 */
};

typedef struct pub_path {
    enum pub_path_kind kind;
    int depth;
    int bad_level;
    char ids[PUB_DEPTH_MAX][PUB_ID_MAX + 1];
    char redirect[1024];
} pub_path;

/* Resource names per level, as Kinto spells them in "details" and key names. */
extern const char *const pub_path_resource[PUB_DEPTH_MAX];
extern const char *const pub_path_plural[PUB_DEPTH_MAX];

/* Parses the path part of a request target ('path', NUL-terminated, not decoded).
 * Always fills 'out' completely; returns 0 (the kind says what was found). */
int pub_path_parse(pub_path *out, const char *path);

#endif
