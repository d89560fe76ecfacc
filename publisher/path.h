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
 *   /v1/buckets/{bid}/groups[/{gid}]                  PUB_PATH_LIST / OBJECT, depth 2
 *   /v1/accounts[/{id}]                               PUB_PATH_LIST / OBJECT, depth 1
 *   /v1/batch, /v1/permissions, /v1/__heartbeat__, /v1/__lbheartbeat__,
 *   /v1/__version__, /v1/__flush__                    one kind each
 *   /metrics (outside the API, as on the read server)  PUB_PATH_METRICS
 *   /v1/buckets/{bid}/history                         PUB_PATH_HISTORY (history.h)
 *   /v1/buckets/{bid}/snapshot/collections/{cid}@{ts} PUB_PATH_SNAPSHOT
 *
 * 'depth' is the number of levels down to the object (or the objects listed); res[L]
 * is the resource at level L and ids[0..depth-1] the ids along the way (a list has
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
    PUB_PATH_BAD_ID,      /* the tree matched but ids[bad_level] is not a valid id */
    PUB_PATH_REDIRECT,    /* 307 to 'redirect' */
    PUB_PATH_BAD_VERSION, /* /v2/...: Kinto's 404 errno 116 */
    PUB_PATH_BATCH,
    PUB_PATH_PERMISSIONS,
    PUB_PATH_HEARTBEAT,
    PUB_PATH_LBHEARTBEAT,
    PUB_PATH_VERSION,
    PUB_PATH_FLUSH,
    PUB_PATH_METRICS,
    PUB_PATH_HISTORY,  /* /v1/buckets/{bid}/history: depth 1, ids[0] */
    PUB_PATH_SNAPSHOT, /* /v1/buckets/{bid}/snapshot/collections/{cid}@{at}: depth 2 */
};

enum pub_res {
    PUB_RES_BUCKET = 0,
    PUB_RES_COLLECTION,
    PUB_RES_RECORD,
    PUB_RES_GROUP,
    PUB_RES_ACCOUNT,
    PUB_RES_COUNT,
};

typedef struct pub_path {
    enum pub_path_kind kind;
    int depth;
    int bad_level;
    enum pub_res res[PUB_DEPTH_MAX];
    char ids[PUB_DEPTH_MAX][PUB_ID_MAX + 1];
    char redirect[1024];
    char at[32]; /* PUB_PATH_SNAPSHOT: the text after '@' (checked by the handler) */
} pub_path;

/* Resource names as Kinto spells them in "details" and key names ("bucket", ...), and
 * their plural URL segments ("buckets", ...). */
extern const char *const pub_res_name[PUB_RES_COUNT];
extern const char *const pub_res_plural[PUB_RES_COUNT];

/* Parses the path part of a request target ('path', NUL-terminated, not decoded).
 * Always fills 'out' completely; returns 0 (the kind says what was found). */
int pub_path_parse(pub_path *out, const char *path);

/* The resource at 'level' of 'p', and its name. */
#define pub_path_res(p, level) ((p)->res[(level)])
#define pub_path_name(p, level) (pub_res_name[(p)->res[(level)]])

#endif
