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
 */
#include "fuzz_checks.h"

#include <stdio.h>
#include <string.h>

#include "herald/castore.h"

const char *
herald_fuzz_check_attachpath(const uint8_t *data, size_t size)
{
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
