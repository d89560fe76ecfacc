/*
 * changes -- see changes.h.
 */
#include "changes.h"

#include <stdio.h>
#include <string.h>

#include "herald/kerror.h"
#include "herald/mem.h"
#include "reply.h"

#define PARAM_MAX 512

static const char CHANGES_OPEN[] = "{\"changes\":[";
static const char DATA_OPEN[] = "{\"data\":[";
static const char DATA_CLOSE[] = "]}";

/* ---- query parameters -------------------------------------------------------------- */

typedef struct params {
    int has_since, has_limit;
    int64_t since, limit;
    int cache; /* CACHE_SHORT or CACHE_LONG */
    int has_bucket, has_collection;
    char bucket[PARAM_MAX], collection[PARAM_MAX];
    size_t bucket_len, collection_len;
} params;

static int
bad_param(out *o, const char *name, const char *desc, int keep_alive, int head)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "%s in querystring: %s", name, desc);
    json_t *details =
        json_pack("[{s:s,s:s,s:s}]", "location", "querystring", "name", name, "description", desc);
    reply_error(o, 400, HERALD_ERRNO_INVALID_PARAMETERS, msg, details, keep_alive, head);
    json_decref(details);
    return 400;
}

/* Reads the query parameters (one pass; the first of a repeated parameter counts); on
 * a bad one answers 400 and returns 400, else 0. */
static int
parse_params(out *o, const http_request *req, params *p, int keep_alive)
{
    char v[PARAM_MAX];
    size_t vl;
    int head = req->method == HTTP_METHOD_HEAD;
    int seen_expected = 0;
    http_slice rest = req->query, name, value;
    p->has_since = p->has_limit = p->has_bucket = p->has_collection = 0;
    p->cache = CACHE_SHORT;
    while (http_query_next(&rest, &name, &value)) {
#define IS(lit) (name.len == sizeof(lit) - 1 && !memcmp(name.p, lit, sizeof(lit) - 1))
        if (IS("_since") && !p->has_since) {
            if (http_query_decode(value, v, sizeof(v), &vl) < 0 ||
                http_parse_timestamp(v, vl, &p->since) < 0)
                return bad_param(o, "_since", "The value should be integer between double quotes.",
                                 keep_alive, head);
            p->has_since = 1;
        } else if (IS("_limit") && !p->has_limit) {
            if (http_query_decode(value, v, sizeof(v), &vl) < 0 ||
                http_parse_timestamp(v, vl, &p->limit) < 0 || v[0] == '"')
                return bad_param(o, "_limit", "\"_limit\" is not a number", keep_alive, head);
            p->has_limit = 1;
        } else if (IS("_expected") && !seen_expected) {
            /* Present and not "0": a cache-busting poll gets the long lifetime. */
            seen_expected = 1;
            if (http_query_decode(value, v, sizeof(v), &vl) == 0 && !(vl == 1 && v[0] == '0') &&
                !(vl == 3 && !memcmp(v, "\"0\"", 3)))
                p->cache = CACHE_LONG;
        } else if (IS("bucket") && !p->has_bucket) {
            p->has_bucket =
                http_query_decode(value, p->bucket, sizeof(p->bucket), &p->bucket_len) == 0;
        } else if (IS("collection") && !p->has_collection) {
            p->has_collection = http_query_decode(value, p->collection, sizeof(p->collection),
                                                  &p->collection_len) == 0;
        }
#undef IS
    }
    return 0;
}

/* Entries of 'l' to serve: the prefix newer than _since, cut at _limit. */
static size_t
select_count(const listing *l, const params *p)
{
    size_t k = p->has_since ? listing_count_since(l, p->since) : l->n;
    if (p->has_limit && (uint64_t)p->limit < k)
        k = (size_t)p->limit;
    return k;
}

/* ---- changesets -------------------------------------------------------------------- */

int
changes_monitor(out *o, const http_request *req, const snapset *s, int legacy, int keep_alive)
{
    params p;
    if (parse_params(o, req, &p, keep_alive))
        return 400;
    const listing *l = &s->monitor;
    const char *open = legacy ? DATA_OPEN : CHANGES_OPEN;
    size_t open_len = legacy ? sizeof(DATA_OPEN) - 1 : sizeof(CHANGES_OPEN) - 1;
    const char *close = legacy ? DATA_CLOSE : s->mon_post;
    size_t close_len = legacy ? sizeof(DATA_CLOSE) - 1 : s->mon_post_len;
    const vhdr *hdr = &s->mon_hdr[p.cache];
    size_t k = select_count(l, &p);

    if (!p.has_bucket && !p.has_collection) {
        /* The signed body only when unfiltered: a _since or _limit answer is a subset,
         * which no signature covers (served without one, from the same bytes). */
        if (k == l->n && (!s->mon_signed || legacy || (!p.has_since && !p.has_limit)))
            return reply_body(o, req, hdr, legacy ? s->legacy_full : s->mon_full, keep_alive);
        return reply_slices(o, req, hdr, open, open_len, l->json, listing_prefix_len(l, k), close,
                            close_len, keep_alive);
    }
    /* Filtered: copy the matching entries (rare; monitor entries are ~150 bytes). */
    herald_buf body = HERALD_BUF_INIT;
    herald_buf_append(&body, open, open_len);
    size_t kept = 0;
    for (size_t i = 0; i < k; i++) {
        const mon_key *c = &s->mon_keys[l->src[i]];
        if (p.has_bucket && (p.bucket_len != c->bid_len || memcmp(p.bucket, c->bid, c->bid_len)))
            continue;
        if (p.has_collection &&
            (p.collection_len != c->cid_len || memcmp(p.collection, c->cid, c->cid_len)))
            continue;
        if (kept++)
            herald_buf_putc(&body, ',');
        herald_buf_append(&body, l->json + l->off[i], l->sz[i]);
    }
    herald_buf_append(&body, close, close_len);
    int st = reply_bytes(o, req, hdr, NULL, body.data, body.len, keep_alive);
    herald_buf_free(&body);
    return st;
}

/* Whether reply_body() would serve 'b' compressed to 'req'. A cached delta is served
 * from the cache only then: its identity bytes are slices of the listing (encode.h
 * payload_new_parts), served as such. An encoding, once there, stays (the upgrader
 * only replaces it by a smaller one), so reply_body() picks one too. */
static int
picks_encoding(const http_request *req, const payload *b)
{
    unsigned avail = (payload_get(b, ENC_GZIP) ? HTTP_ENC_GZIP : 0) |
                     (payload_get(b, ENC_ZSTD) ? HTTP_ENC_ZSTD : 0);
    return avail && http_accept_pick(req->accept_encoding, avail) != 0;
}

int
changes_changeset(out *o, const http_request *req, const snapset *s, const char *bid, size_t bl,
                  const char *cid, size_t cl, int keep_alive)
{
    int head = req->method == HTTP_METHOD_HEAD;
    const coll *c = snapset_find(s, bid, bl, cid, cl);
    if (!c)
        return reply_not_found(o, keep_alive, head, "collection", cid, cl);
    params p;
    if (parse_params(o, req, &p, keep_alive))
        return 400;
    const vhdr *hdr = &c->hdr[p.cache];
    /* A _since older than the tombstone horizon could miss deletions: full changeset. */
    if (p.has_since && p.since < c->since_floor)
        p.has_since = p.has_limit = 0;
    if (!p.has_since && !p.has_limit)
        return reply_body(o, req, hdr, c->full, keep_alive);
    const listing *l = &c->delta;
    if (!p.has_since) {
        /* _limit alone: the newest N live records, tombstones excluded. */
        herald_buf body = HERALD_BUF_INIT;
        herald_buf_puts(&body, CHANGES_OPEN);
        size_t kept = 0;
        for (size_t i = 0; i < l->n && kept < (uint64_t)p.limit; i++) {
            const char *e = l->json + l->off[i];
            /* JCS puts "deleted" first in a tombstone {"deleted":true,"id",...}. */
            if (l->sz[i] > 15 && !memcmp(e, "{\"deleted\":true,", 16))
                continue;
            if (kept++)
                herald_buf_putc(&body, ',');
            herald_buf_append(&body, e, l->sz[i]);
        }
        herald_buf_append(&body, c->post, c->post_len);
        int st = reply_bytes(o, req, hdr, NULL, body.data, body.len, keep_alive);
        herald_buf_free(&body);
        return st;
    }
    size_t k = select_count(l, &p);
    const payload *cached = req->has_accept_encoding ? coll_delta_cached(c, k) : NULL;
    if (cached && (cached == c->full || picks_encoding(req, cached)))
        return reply_body(o, req, hdr, cached, keep_alive);
    return reply_slices(o, req, hdr, CHANGES_OPEN, sizeof(CHANGES_OPEN) - 1, l->json,
                        listing_prefix_len(l, k), c->post, c->post_len, keep_alive);
}
