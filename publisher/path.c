/*
 * path -- see path.h. A path is split into at most 8 segments in place in a copy;
 * anything longer or with empty segments ("//") is simply not in Kinto's tree (404).
 */
#include "path.h"

#include <stdio.h>
#include <string.h>

#include "herald/schema.h"

const char *const pub_res_name[PUB_RES_COUNT] = {"bucket", "collection", "record", "group",
                                                 "account"};
const char *const pub_res_plural[PUB_RES_COUNT] = {"buckets", "collections", "records", "groups",
                                                   "accounts"};

#define MAX_SEGMENTS 8

/* The endpoints that are not resources, under /v1/. */
static const struct {
    const char *name;
    enum pub_path_kind kind;
} special[] = {
    {"batch", PUB_PATH_BATCH},
    {"permissions", PUB_PATH_PERMISSIONS},
    {"__heartbeat__", PUB_PATH_HEARTBEAT},
    {"__lbheartbeat__", PUB_PATH_LBHEARTBEAT},
    {"__version__", PUB_PATH_VERSION},
    {"__flush__", PUB_PATH_FLUSH},
};

/* Kinto answers 307 for "/v1" and for trailing slashes; the target must stay inside
 * our own buffer, so an absurdly long path is a 404 instead. */
static int
set_redirect(pub_path *out, const char *prefix, const char *path, size_t len)
{
    int n = snprintf(out->redirect, sizeof(out->redirect), "%s%.*s", prefix, (int)len, path);
    if (n < 0 || (size_t)n >= sizeof(out->redirect))
        return 0;
    out->kind = PUB_PATH_REDIRECT;
    return 0;
}

/* The history plugin's endpoints (history.h). Returns 1 when 'seg' names one (or a bad
 * id in one). */
static int
history_paths(pub_path *out, char **seg, int nseg)
{
    if (nseg < 3 || strcmp(seg[0], "buckets") != 0)
        return 0;
    int history = nseg == 3 && strcmp(seg[2], "history") == 0;
    int snapshot = nseg == 5 && strcmp(seg[2], "snapshot") == 0 &&
                   strcmp(seg[3], "collections") == 0 && strchr(seg[4], '@');
    if (!history && !snapshot)
        return 0;
    out->res[0] = PUB_RES_BUCKET;
    out->depth = 1;
    if (!herald_schema_valid_id(seg[1], strlen(seg[1]))) {
        out->kind = PUB_PATH_BAD_ID;
        out->bad_level = 0;
        return 1;
    }
    snprintf(out->ids[0], sizeof(out->ids[0]), "%s", seg[1]);
    if (history) {
        out->kind = PUB_PATH_HISTORY;
        return 1;
    }
    char *at = strchr(seg[4], '@');
    *at++ = '\0';
    out->res[1] = PUB_RES_COLLECTION;
    out->depth = 2;
    if (!herald_schema_valid_id(seg[4], strlen(seg[4]))) {
        out->kind = PUB_PATH_BAD_ID;
        out->bad_level = 1;
        return 1;
    }
    snprintf(out->ids[1], sizeof(out->ids[1]), "%s", seg[4]);
    snprintf(out->at, sizeof(out->at), "%s", at);
    out->kind = PUB_PATH_SNAPSHOT;
    return 1;
}

/* The resource a segment names below 'parent' (-1 for the root), or -1. */
static int
child_res(int parent, const char *seg)
{
    switch (parent) {
    case -1:
        if (strcmp(seg, "buckets") == 0)
            return PUB_RES_BUCKET;
        if (strcmp(seg, "accounts") == 0)
            return PUB_RES_ACCOUNT;
        return -1;
    case PUB_RES_BUCKET:
        if (strcmp(seg, "collections") == 0)
            return PUB_RES_COLLECTION;
        if (strcmp(seg, "groups") == 0)
            return PUB_RES_GROUP;
        return -1;
    case PUB_RES_COLLECTION:
        return strcmp(seg, "records") == 0 ? PUB_RES_RECORD : -1;
    default:
        return -1;
    }
}

int
pub_path_parse(pub_path *out, const char *path)
{
    char copy[2048];
    char *seg[MAX_SEGMENTS];
    int nseg = 0;
    size_t len = strlen(path);

    memset(out, 0, sizeof(*out));
    out->kind = PUB_PATH_NOT_FOUND;
    if (len == 0 || path[0] != '/' || len >= sizeof(copy))
        return 0;
    if (strcmp(path, "/metrics") == 0) {
        out->kind = PUB_PATH_METRICS;
        return 0;
    }
    if (strcmp(path, "/v1") == 0)
        return set_redirect(out, "", "/v1/", 4);
    if (strcmp(path, "/v1/") == 0) {
        out->kind = PUB_PATH_ROOT;
        return 0;
    }
    if (strncmp(path, "/v1/", 4) != 0) {
        /* "/v2/..." is another API version; "/buckets/..." lacks the prefix. */
        if (path[1] == 'v' && path[2] >= '0' && path[2] <= '9') {
            out->kind = PUB_PATH_BAD_VERSION;
            return 0;
        }
        if (strcmp(path, "/") == 0)
            return set_redirect(out, "", "/v1/", 4);
        return set_redirect(out, "/v1", path, len);
    }
    if (path[len - 1] == '/')
        return set_redirect(out, "", path, len - 1);
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
        if (strcmp(path + 4, special[i].name) == 0) {
            out->kind = special[i].kind;
            return 0;
        }

    memcpy(copy, path + 4, len - 4 + 1);
    for (char *p = copy; p;) {
        if (nseg == MAX_SEGMENTS)
            return 0;
        seg[nseg++] = p;
        p = strchr(p, '/');
        if (p)
            *p++ = '\0';
    }
    if (history_paths(out, seg, nseg))
        return 0;
    /* Segments alternate: plural name, id, plural name, id, ... A bad id only
     * matters once the whole path is known to be in the tree: otherwise it is a 404. */
    int level = 0, bad = -1, parent = -1;
    for (int i = 0; i < nseg; i += 2, level++) {
        int res = level < PUB_DEPTH_MAX ? child_res(parent, seg[i]) : -1;
        if (res < 0)
            return 0;
        out->res[level] = (enum pub_res)res;
        parent = res;
        if (i + 1 == nseg) {
            out->kind = bad >= 0 ? PUB_PATH_BAD_ID : PUB_PATH_LIST;
            out->bad_level = bad;
            out->depth = level + 1;
            return 0;
        }
        const char *id = seg[i + 1];
        size_t idlen = strlen(id);
        if (idlen == 0)
            return 0;
        if (!herald_schema_valid_id(id, idlen)) {
            if (bad < 0)
                bad = level;
            continue;
        }
        memcpy(out->ids[level], id, idlen + 1);
    }
    out->depth = level;
    out->bad_level = bad;
    out->kind = bad >= 0 ? PUB_PATH_BAD_ID : PUB_PATH_OBJECT;
    return 0;
}
