/*
 * adminpath -- see adminpath.h.
 */
#include "adminpath.h"

#include <stdio.h>
#include <string.h>

#define SEG_MAX 64
#define SEGS_MAX 4

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
};

int
pub_adminpath_is_admin(const char *path, size_t len)
{
    static const size_t plen = sizeof(PUB_ADMIN_PREFIX) - 1;
    if (len == plen - 1 && memcmp(path, PUB_ADMIN_PREFIX, plen - 1) == 0)
        return 1;
    return len >= plen && memcmp(path, PUB_ADMIN_PREFIX, plen) == 0;
}

static int
seg_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

/* The Content-Type of the last segment 'seg' ('len' bytes), or NULL. */
static const char *
type_of(const char *seg, size_t len)
{
    size_t dot = len;
    while (dot > 0 && seg[dot - 1] != '.')
        dot--;
    if (dot == 0)
        return NULL;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i].ext) == len - dot && memcmp(types[i].ext, seg + dot, len - dot) == 0)
            return types[i].type;
    return NULL;
}

int
pub_adminpath_resolve(char *out, size_t outlen, const char **ctype, const char *dir,
                      const char *path, size_t len)
{
    static const size_t plen = sizeof(PUB_ADMIN_PREFIX) - 1;
    const char *rel;
    size_t rlen;
    if (outlen > 0)
        out[0] = '\0';
    *ctype = NULL;
    if (len < plen || memcmp(path, PUB_ADMIN_PREFIX, plen) != 0)
        return -1;
    rel = path + plen;
    rlen = len - plen;
    if (rlen == 0) {
        rel = "index.html";
        rlen = strlen(rel);
    }
    /* Walk the segments: each non-empty, short, of the allowed bytes, no leading '.'
     * (so neither "." nor ".." nor hidden files). */
    size_t start = 0;
    int segs = 0;
    for (size_t i = 0; i <= rlen; i++) {
        if (i < rlen && rel[i] != '/') {
            if (!seg_char(rel[i]))
                return -1;
            continue;
        }
        size_t slen = i - start;
        if (slen == 0 || slen > SEG_MAX || rel[start] == '.' || ++segs > SEGS_MAX)
            return -1;
        if (i == rlen && !(*ctype = type_of(rel + start, slen)))
            return -1;
        start = i + 1;
    }
    int n = snprintf(out, outlen, "%s/%.*s", dir, (int)rlen, rel);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen > 0)
            out[0] = '\0';
        *ctype = NULL;
        return -1;
    }
    return 0;
}
