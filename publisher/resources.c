/*
 * resources -- see resources.h.
 */
#include "resources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/mem.h"
#include "herald/schema.h"

#define DEFAULT_RESOURCES "/buckets/main-workspace -> /buckets/main-preview -> /buckets/main"

/* Parses one URI "/buckets/b[/collections/c]" (surrounding blanks allowed) into b, c.
 * Returns 1 (bucket), 2 (collection) or -1. */
static int
parse_uri(const char *s, size_t len, char *b, char *c)
{
    char buf[600], *seg[5];
    int n = 0;
    while (len && (*s == ' ' || *s == '\t' || *s == '\r')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    if (len == 0 || len >= sizeof(buf) || s[0] != '/')
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *save = NULL;
    for (char *t = strtok_r(buf + 1, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == 5)
            return -1;
        seg[n++] = t;
    }
    if ((n != 2 && n != 4) || strcmp(seg[0], "buckets") != 0 ||
        !herald_schema_valid_id(seg[1], strlen(seg[1])))
        return -1;
    snprintf(b, PUB_ID_MAX + 1, "%s", seg[1]);
    c[0] = '\0';
    if (n == 2)
        return 1;
    if (strcmp(seg[2], "collections") != 0 || !herald_schema_valid_id(seg[3], strlen(seg[3])))
        return -1;
    snprintf(c, PUB_ID_MAX + 1, "%s", seg[3]);
    return 2;
}

static int
same(const char *b1, const char *c1, const char *b2, const char *c2)
{
    return strcmp(b1, b2) == 0 && strcmp(c1, c2) == 0;
}

int
pub_resources_parse(pub_resources *out, const char *text, int review_enabled,
                    const char *review_off, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->review_enabled = review_enabled;
    out->review_off = review_off ? strdup(review_off) : NULL;
    if (!text || !*text)
        text = review_enabled ? DEFAULT_RESOURCES : "";
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, ";\n");
        char uris[3][2][PUB_ID_MAX + 1];
        int kinds[3], nu = 0;
        const char *p = line, *end = line + len;
        int blank = 1;
        for (const char *q = line; q < end; q++)
            blank &= *q == ' ' || *q == '\t' || *q == '\r';
        while (!blank && p <= end) {
            const char *arrow = strstr(p, "->");
            size_t ulen = arrow && arrow < end ? (size_t)(arrow - p) : (size_t)(end - p);
            if (nu == 3 || (kinds[nu] = parse_uri(p, ulen, uris[nu][0], uris[nu][1])) < 0) {
                snprintf(err, errlen, "signer_resources: bad resource '%.*s'", (int)len, line);
                goto fail;
            }
            nu++;
            if (!(arrow && arrow < end))
                break;
            p = arrow + 2;
        }
        if (!blank) {
            if (nu < 2 || kinds[0] != kinds[1] || (nu == 3 && kinds[2] != kinds[0])) {
                snprintf(err, errlen,
                         "signer_resources: '%.*s' needs 2 or 3 URIs of one kind "
                         "(all buckets or all collections)",
                         (int)len, line);
                goto fail;
            }
            out->r = herald_mem_realloc(out->r, (size_t)(out->n + 1) * sizeof(*out->r));
            pub_resource *r = &out->r[out->n++];
            memset(r, 0, sizeof(*r));
            memcpy(r->src_b, uris[0][0], sizeof(r->src_b));
            memcpy(r->src_c, uris[0][1], sizeof(r->src_c));
            int d = nu - 1;
            memcpy(r->dst_b, uris[d][0], sizeof(r->dst_b));
            memcpy(r->dst_c, uris[d][1], sizeof(r->dst_c));
            if (nu == 3) {
                r->has_preview = 1;
                memcpy(r->prev_b, uris[1][0], sizeof(r->prev_b));
                memcpy(r->prev_c, uris[1][1], sizeof(r->prev_c));
            }
        }
        line += len;
        if (*line)
            line++;
    }
    /* No URI twice anywhere (Remote Settings: ConfigurationError at startup). */
    for (int i = 0; i < out->n; i++) {
        const pub_resource *a = &out->r[i];
        const char *ab[3] = {a->src_b, a->prev_b, a->dst_b},
                   *ac[3] = {a->src_c, a->prev_c, a->dst_c};
        for (int j = i; j < out->n; j++) {
            const pub_resource *b = &out->r[j];
            const char *bb[3] = {b->src_b, b->prev_b, b->dst_b},
                       *bc[3] = {b->src_c, b->prev_c, b->dst_c};
            for (int x = 0; x < 3; x++)
                for (int y = 0; y < 3; y++) {
                    if ((i == j && y <= x) || !ab[x][0] || !bb[y][0])
                        continue;
                    if (same(ab[x], ac[x], bb[y], bc[y])) {
                        snprintf(err, errlen, "signer_resources: /buckets/%s%s%s is used twice",
                                 ab[x], ac[x][0] ? "/collections/" : "", ac[x]);
                        goto fail;
                    }
                }
        }
    }
    return 0;
fail:
    pub_resources_free(out);
    return -1;
}

void
pub_resources_free(pub_resources *rs)
{
    if (!rs)
        return;
    free(rs->r);
    free(rs->review_off);
    memset(rs, 0, sizeof(*rs));
}

static void
resolve(const pub_resources *rs, const pub_resource *r, const char *cid, pub_resolved *out)
{
    int per_bucket = r->src_c[0] == '\0';
    out->src_b = r->src_b;
    out->src_c = per_bucket ? cid : r->src_c;
    out->prev_b = r->prev_b;
    out->prev_c = per_bucket ? cid : r->prev_c;
    out->dst_b = r->dst_b;
    out->dst_c = per_bucket ? cid : r->dst_c;
    out->has_preview = r->has_preview;
    char ub[400], uc[700];
    snprintf(ub, sizeof(ub), "/buckets/%s", out->src_b);
    snprintf(uc, sizeof(uc), "/buckets/%s/collections/%s", out->src_b, out->src_c);
    out->review = rs->review_enabled && !herald_config_list_has(rs->review_off, ub) &&
                  !herald_config_list_has(rs->review_off, uc);
}

int
pub_resources_source(const pub_resources *rs, const char *bid, const char *cid, pub_resolved *out)
{
    /* A per-collection resource wins over a per-bucket one (Remote Settings). */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < rs->n; i++) {
            const pub_resource *r = &rs->r[i];
            if (strcmp(r->src_b, bid) != 0)
                continue;
            if ((pass == 0 && r->src_c[0] && strcmp(r->src_c, cid) == 0) ||
                (pass == 1 && !r->src_c[0])) {
                resolve(rs, r, cid, out);
                return 1;
            }
        }
    return 0;
}

int
pub_resources_target(const pub_resources *rs, const char *bid, const char *cid, pub_resolved *out)
{
    for (int i = 0; i < rs->n; i++) {
        const pub_resource *r = &rs->r[i];
        const char *b[2] = {r->prev_b, r->dst_b}, *c[2] = {r->prev_c, r->dst_c};
        for (int k = 0; k < 2; k++) {
            if (!b[k][0] || strcmp(b[k], bid) != 0)
                continue;
            if (!c[k][0]) { /* per bucket: the whole bucket and every collection */
                resolve(rs, r, cid ? cid : "{collection}", out);
                return 1;
            }
            if (!cid || strcmp(c[k], cid) == 0) {
                resolve(rs, r, c[k], out);
                out->src_c = r->src_c;
                return 1;
            }
        }
    }
    return 0;
}

int
pub_resources_is_source_bucket(const pub_resources *rs, const char *bid)
{
    for (int i = 0; i < rs->n; i++)
        if (strcmp(rs->r[i].src_b, bid) == 0)
            return 1;
    return 0;
}
