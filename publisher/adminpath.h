/*
 * adminpath -- which file of the admin page's directory a request path names, if any.
 *
 * The admin page (admin.h) is a handful of static files served at /v1/admin/. A request
 * path is mapped to a file by syntax alone, never by asking the file system whether a
 * name "stays inside" (no realpath, no "..": a name that could leave the directory is
 * refused before any path is built):
 *
 *   /v1/admin/                 -> <dir>/index.html
 *   /v1/admin/<seg>[/<seg>...] -> <dir>/<seg>/<seg>...
 *
 * where every segment is 1 to 64 bytes of [A-Za-z0-9._-] not starting with '.', there
 * are at most 4 of them, and the last ends with an extension of the table in
 * adminpath.c (html, css, js, mjs, svg, png, ico, json, txt), which gives the
 * Content-Type. The path is taken as sent (not percent-decoded): '%' is refused, so an
 * encoded '/' or '.' never reaches the file system either. Pure string work, fuzzed
 * (fuzz/check_attachpath.c).
 */
#ifndef HERALD_PUB_ADMINPATH_H
#define HERALD_PUB_ADMINPATH_H

#include <stddef.h>

#define PUB_ADMIN_PREFIX "/v1/admin/"

/* 1 if 'path' is the admin page's ("/v1/admin" or below "/v1/admin/"), else 0. */
int pub_adminpath_is_admin(const char *path, size_t len);

/*
 * Maps the request path 'path' ('len' bytes, not NUL-terminated) to the file under
 * 'dir': writes "<dir>/<relative name>" to 'out' ('outlen' bytes) and its Content-Type
 * to '*ctype' (a static string). Returns 0, or -1 when the path names no servable file
 * (not under PUB_ADMIN_PREFIX, a refused segment or extension, or 'out' too small);
 * 'out' is then "".
 */
int pub_adminpath_resolve(char *out, size_t outlen, const char **ctype, const char *dir,
                          const char *path, size_t len) __attribute__((warn_unused_result));

#endif
