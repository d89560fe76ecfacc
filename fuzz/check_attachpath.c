/*
 * check_attachpath -- the read server's mapping of a URL path to an attachment file
 * (herald_castore_url_hash, lib/castore.c) on an arbitrary path.
 *
 * Properties: a path is accepted only if it is exactly "/attachments/" + h0h1 + "/" +
 * the 64 lowercase hex digits of the hash it yields (so nothing but such a name can
 * reach the file system: no '.', '/', '%' or NUL), and the file path built from it is
 * "<dir>/<h0h1>/<hash>" under the store's directory.
 *
 * The same input as a media type (herald_castore_valid_type: what a read server takes
 * from an origin's "<hash>.type" and puts in a Content-Type header): accepted only if
 * it is at most HERALD_CASTORE_TYPE_MAX bytes of "type/subtype" with exactly one '/'
 * and no byte that could end or split a header (CR, LF, NUL, space, ';', ',', ':').
 *
 * The same input as a bundle path (herald_castore_url_bundle): accepted only if it is
 * "/attachments/bundles/" + a name of [A-Za-z0-9][A-Za-z0-9_-]* + ".zip", the name
 * returned is exactly that rest, and the file path built is "<dir>/bundles/<name>".
 *
 * The same input is also a request path for the publisher's admin page
 * (pub_adminpath_resolve, publisher/adminpath.c): an accepted path starts with
 * "/v1/admin/", the file name built is "<dir>/" + the rest (or "index.html"), every
 * segment of it is non-empty, starts with no '.', and holds only [A-Za-z0-9._-], and a
 * Content-Type was given; a too small output buffer refuses rather than truncates.
 */
#include "fuzz_checks.h"

#include <stdio.h>
#include <string.h>

#include "adminpath.h"
#include "herald/castore.h"

static const char *
check_adminpath(const char *path, size_t size)
{
    static const char dir[] = "/srv/admin";
    char out[512], tiny[24];
    const char *ctype;
    if (pub_adminpath_resolve(out, sizeof(out), &ctype, dir, path, size) != 0) {
        if (out[0] != '\0' || ctype)
            return "adminpath: a refused path left an output";
        return NULL;
    }
    if (!ctype)
        return "adminpath: accepted without a Content-Type";
    if (size < 10 || memcmp(path, "/v1/admin/", 10) != 0)
        return "adminpath: accepted a path outside /v1/admin/";
    const char *rel = out + sizeof(dir);
    if (strncmp(out, dir, sizeof(dir) - 1) != 0 || out[sizeof(dir) - 1] != '/')
        return "adminpath: the file is not under the directory";
    if (size == 10 ? strcmp(rel, "index.html") != 0
                   : strlen(rel) != size - 10 || memcmp(rel, path + 10, size - 10) != 0)
        return "adminpath: the file name is not the path's rest";
    for (const char *seg = rel; seg;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || seg[0] == '.')
            return "adminpath: accepted an empty, '.' or '..' segment";
        for (size_t i = 0; i < n; i++)
            if (!((seg[i] >= 'a' && seg[i] <= 'z') || (seg[i] >= 'A' && seg[i] <= 'Z') ||
                  (seg[i] >= '0' && seg[i] <= '9') || strchr("._-", seg[i])))
                return "adminpath: accepted a byte outside [A-Za-z0-9._-]";
        seg = end ? end + 1 : NULL;
    }
    if (strlen(out) >= sizeof(tiny) &&
        pub_adminpath_resolve(tiny, sizeof(tiny), &ctype, dir, path, size) == 0)
        return "adminpath: truncated into a small buffer instead of refusing";
    return NULL;
}

static const char *
check_bundlepath(const char *path, size_t size)
{
    static const char pre[] = "/attachments/bundles/";
    size_t pl = sizeof(pre) - 1;
    char name[HERALD_CASTORE_BUNDLE_NAME_MAX + 1];
    if (herald_castore_url_bundle(path, size, "/attachments/", name) != 0)
        return NULL;
    size_t n = strlen(name);
    if (size != pl + n || memcmp(path, pre, pl) != 0 || memcmp(path + pl, name, n) != 0)
        return "bundlepath: the name is not the rest of the path";
    if (n < 5 || strcmp(name + n - 4, ".zip") != 0 || name[0] == '.' || name[0] == '-' ||
        name[0] == '_')
        return "bundlepath: accepted a name without .zip or starting with '.', '-' or '_'";
    for (size_t i = 0; i + 4 < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_'))
            return "bundlepath: accepted a byte outside [A-Za-z0-9_-] before .zip";
    return NULL;
}

const char *
herald_fuzz_check_attachpath(const uint8_t *data, size_t size)
{
    const char *why = check_adminpath((const char *)data, size);
    if (why)
        return why;
    why = check_bundlepath((const char *)data, size);
    if (why)
        return why;
    char hash[HERALD_CASTORE_HASH_LEN + 1], again[200];
    const char *path = (const char *)data;
    if (herald_castore_valid_type(path, size)) {
        size_t slashes = 0;
        if (size > HERALD_CASTORE_TYPE_MAX || path[0] == '/' || path[size - 1] == '/')
            return "mediatype: accepted a type too long or without type or subtype";
        for (size_t i = 0; i < size; i++) {
            slashes += path[i] == '/';
            if (strchr("\r\n ;,:\"\t", path[i]) || (unsigned char)path[i] < 0x21 ||
                (unsigned char)path[i] > 0x7e)
                return "mediatype: accepted a byte that does not belong in a header token";
        }
        if (slashes != 1)
            return "mediatype: accepted a type without exactly one '/'";
    }
    if (herald_castore_url_hash(path, size, "/attachments/", hash) != 0)
        return NULL;
    if (strlen(hash) != HERALD_CASTORE_HASH_LEN ||
        !herald_castore_valid_hash(hash, HERALD_CASTORE_HASH_LEN))
        return "attachpath: accepted a path whose hash is not 64 lowercase hex digits";
    snprintf(again, sizeof(again), "/attachments/%.2s/%s", hash, hash);
    if (size != strlen(again) || memcmp(again, path, size) != 0)
        return "attachpath: accepted a path that is not the canonical name of its hash";
    for (size_t i = 0; i < size; i++)
        if (path[i] == '.' || path[i] == '%' || path[i] == '\0' || path[i] == '\\')
            return "attachpath: accepted a path with '.', '%', '\\\\' or NUL";
    return NULL;
}
