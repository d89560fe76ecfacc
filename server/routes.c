/*
 * routes -- see routes.h. The read API of DESIGN.md:
 *
 *   /v1/buckets/monitor/collections/changes/changeset   monitor entries, newest first
 *   /v1/buckets/monitor/collections/changes/records     the same, legacy {"data":[...]}
 *   /v1/buckets/{bid}/collections/{cid}/changeset       a collection's changeset
 *   /v1/, /v1/buckets/{bid}[/collections/{cid}[/records[/{rid}]]]   Kinto reads (kinto.c)
 *   /v1/__heartbeat__, /v1/__lbheartbeat__, /v1/__version__, /metrics
 *
 * Query parameters: _since (S or "S"; records and tombstones with last_modified > S),
 * _expected (a cache key only: present and not "0" selects the long max-age, as Remote
 * Settings does for cache-busting polls), _limit (the newest N), bucket=/collection=
 * (monitor filters). Because every listing is newest first, _since and _limit are
 * prefixes of precomputed bytes (snapset.h); only the monitor filters copy entries.
 * A _since older than the collection's tombstone horizon gets the full changeset.
 *
 * Encodings: a body precomputed per version (full changesets, the monitor, cached
 * deltas, Kinto object bodies) is served in the coding Accept-Encoding prefers
 * (http_accept_pick); bodies computed per request (filtered lists) in identity. Every versioned
 * response carries Vary: Accept-Encoding and the same strong ETag "V" whatever the coding
 * (DESIGN.md).
 *
 * Conditional requests: If-None-Match matching the version V -> 304 with the same
 * validators and caching headers and no body. Unknown paths and collections are Kinto
 * 404s (errno 111), other methods 405 (errno 115).
 *
 * Every response is counted once in the worker's metrics shard, by route and status.
 */
#include "routes.h"

#include <string.h>
#include <sys/time.h>

#include "herald/kerror.h"
#include "herald/mem.h"
#include "herald/schema.h"
#include "kinto.h"
#include "sync.h"

#define COPY_MAX 8192 /* bodies up to this size are copied: one write() beats writev() */
#define PARAM_MAX 512

#ifndef HERALD_COMMIT
#define HERALD_COMMIT "unknown"
#endif

static const char CHANGES_OPEN[] = "{\"changes\":[";
static const char DATA_OPEN[] = "{\"data\":[";
static const char DATA_CLOSE[] = "]}";
#define ENC_HEADER_LEN (sizeof("Content-Encoding: gzip\r\n") - 1) /* zstd: same length */
static const char *const ENC_HEADER[ENC_COUNT] = {
    "",
    "Content-Encoding: gzip\r\n",
    "Content-Encoding: zstd\r\n",
};

static void
out_slice(out *o, const void *p, size_t n)
{
    if (n <= COPY_MAX)
        out_copy(o, p, n);
    else
        out_ref(o, p, n);
}

void
reply_status_line(out *o, int status)
{
    out_puts(o, "HTTP/1.1 ");
    out_i64(o, status);
    out_copy(o, " ", 1);
    out_puts(o, status == 505 ? "HTTP Version Not Supported" : herald_kerror_reason(status));
    out_copy(o, "\r\n", 2);
}

void
reply_end_headers(out *o, int keep_alive)
{
    if (!keep_alive)
        out_puts(o, "Connection: close\r\n");
    else if (keep_alive == 2)
        out_puts(o, "Connection: keep-alive\r\n");
    out_copy(o, "\r\n", 2);
}

void
reply_content_length(out *o, size_t n)
{
    out_puts(o, "Content-Length: ");
    out_i64(o, (int64_t)n);
    out_copy(o, "\r\n", 2);
}

int
reply_error(out *o, int status, int errnum, const char *message, const json_t *details,
            int keep_alive, int head)
{
    herald_buf body = HERALD_BUF_INIT; /* errors are rare: an allocation is fine here */
    herald_kerror_body(&body, status, errnum, message, details);
    reply_status_line(o, status);
    out_puts(o, "Content-Type: application/json\r\n"
                "Access-Control-Allow-Origin: *\r\n"
                "Cache-Control: no-cache\r\n");
    if (status == 405)
        out_puts(o, "Allow: GET, HEAD, OPTIONS\r\n");
    reply_content_length(o, body.len);
    reply_end_headers(o, keep_alive);
    if (!head)
        out_copy(o, body.data, body.len);
    herald_buf_free(&body);
    return status;
}

void
route_error(out *o, int status)
{
    const char *msg = http_error_message(status);
    /* Kinto's errno for a request it cannot use is 107 (invalid parameters); only
     * server-side conditions get 999. */
    reply_error(o, status, status < 500 ? HERALD_ERRNO_INVALID_PARAMETERS : HERALD_ERRNO_UNDEFINED,
                msg, NULL, 0, 0);
    metrics_count(out_metrics(o), RT_INVALID, status);
}

int
reply_not_found(out *o, int keep_alive, int head, const char *resource, const char *id,
                size_t id_len)
{
    json_t *details = NULL;
    if (resource)
        details = json_pack("{s:s%,s:s}", "id", id, id_len, "resource_name", resource);
    reply_error(o, 404, HERALD_ERRNO_MISSING_RESOURCE,
                "The resource you are looking for could not be found.", details, keep_alive, head);
    json_decref(details);
    return 404;
}

/* The end of a head: Content-Length (unless 'len' is (size_t)-1), the Connection line
 * 'keep_alive' asks for, the empty line; one copy. */
static void
end_head(out *o, size_t len, int keep_alive)
{
    char buf[96], *p = buf;
    if (len != (size_t)-1) {
        memcpy(p, "Content-Length: ", 16);
        p += 16;
        char tmp[24], *t = tmp + sizeof(tmp);
        do {
            *--t = (char)('0' + len % 10);
            len /= 10;
        } while (len);
        memcpy(p, t, (size_t)(tmp + sizeof(tmp) - t));
        p += tmp + sizeof(tmp) - t;
        *p++ = '\r';
        *p++ = '\n';
    }
    if (!keep_alive) {
        memcpy(p, "Connection: close\r\n", 19);
        p += 19;
    } else if (keep_alive == 2) {
        memcpy(p, "Connection: keep-alive\r\n", 24);
        p += 24;
    }
    *p++ = '\r';
    *p++ = '\n';
    out_copy(o, buf, (size_t)(p - buf));
}

static int
not_modified(out *o, const http_request *req, const vhdr *hdr, int keep_alive)
{
    if (!req->has_if_none_match ||
        !http_etag_match_tag(req->if_none_match, hdr->etag, hdr->etag_len))
        return 0;
    out_copy(o, hdr->b.data, hdr->split);
    end_head(o, (size_t)-1, keep_alive);
    return 1;
}

int
reply_body(out *o, const http_request *req, const vhdr *hdr, const payload *b, int keep_alive)
{
    if (not_modified(o, req, hdr, keep_alive))
        return 304;
    const char *data = b->data;
    size_t len = b->len;
    int enc = ENC_IDENTITY;
    if (req->has_accept_encoding) {
        const encoded *gz = payload_get(b, ENC_GZIP), *zs = payload_get(b, ENC_ZSTD);
        unsigned avail = (gz ? HTTP_ENC_GZIP : 0) | (zs ? HTTP_ENC_ZSTD : 0);
        if (avail) {
            int pick = http_accept_pick(req->accept_encoding, avail);
            const encoded *e = pick == HTTP_ENC_ZSTD ? zs : pick == HTTP_ENC_GZIP ? gz : NULL;
            if (e) {
                enc = pick == HTTP_ENC_ZSTD ? ENC_ZSTD : ENC_GZIP;
                data = e->data;
                len = e->len;
            }
        }
    }
    out_copy(o, hdr->b.data + hdr->split, hdr->b.len - hdr->split);
    if (enc != ENC_IDENTITY)
        out_copy(o, ENC_HEADER[enc], ENC_HEADER_LEN);
    end_head(o, len, keep_alive);
    if (req->method != HTTP_METHOD_HEAD) {
        out_slice(o, data, len);
        metrics_add(&out_metrics(o)->enc[enc], 1);
    }
    return 200;
}

/* A 200 or 304 whose identity body is 'a' + 'b' + 'c' (any may be empty), slices of
 * set memory. */
static int
reply_slices(out *o, const http_request *req, const vhdr *hdr, const char *a, size_t alen,
             const char *b, size_t blen, const char *c, size_t clen, int keep_alive)
{
    if (not_modified(o, req, hdr, keep_alive))
        return 304;
    out_copy(o, hdr->b.data + hdr->split, hdr->b.len - hdr->split);
    end_head(o, alen + blen + clen, keep_alive);
    if (req->method == HTTP_METHOD_HEAD)
        return 200;
    out_slice(o, a, alen);
    out_slice(o, b, blen);
    out_slice(o, c, clen);
    metrics_add(&out_metrics(o)->enc[ENC_IDENTITY], 1);
    return 200;
}

int
reply_bytes(out *o, const http_request *req, const vhdr *hdr, const char *extra, const char *data,
            size_t len, int keep_alive)
{
    if (not_modified(o, req, hdr, keep_alive))
        return 304;
    out_copy(o, hdr->b.data + hdr->split, hdr->b.len - hdr->split);
    if (extra)
        out_puts(o, extra);
    end_head(o, len, keep_alive);
    if (req->method != HTTP_METHOD_HEAD) {
        out_copy(o, data, len); /* computed for this request: it does not outlive it */
        metrics_add(&out_metrics(o)->enc[ENC_IDENTITY], 1);
    }
    return 200;
}

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

static int
monitor(out *o, const http_request *req, const snapset *s, int legacy, int keep_alive)
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
        if (k == l->n)
            return reply_body(o, req, hdr, legacy ? s->legacy_full : s->mon_full, keep_alive);
        return reply_slices(o, req, hdr, open, open_len, l->json, listing_prefix_len(l, k), close,
                            close_len, keep_alive);
    }
    /* Filtered: copy the matching entries (rare; monitor entries are ~150 bytes). */
    herald_buf body = HERALD_BUF_INIT;
    herald_buf_append(&body, open, open_len);
    size_t kept = 0;
    for (size_t i = 0; i < k; i++) {
        const coll *c = s->colls[l->src[i]];
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

static int
changeset(out *o, const http_request *req, const snapset *s, const char *bid, size_t bl,
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
    if (cached)
        return reply_body(o, req, hdr, cached, keep_alive);
    return reply_slices(o, req, hdr, CHANGES_OPEN, sizeof(CHANGES_OPEN) - 1, l->json,
                        listing_prefix_len(l, k), c->post, c->post_len, keep_alive);
}

/* ---- operational endpoints --------------------------------------------------------- */

static int64_t
now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int
plain(out *o, const http_request *req, int status, const char *type, const char *body, size_t len,
      int keep_alive)
{
    reply_status_line(o, status);
    out_puts(o, "Content-Type: ");
    out_puts(o, type);
    out_puts(o, "\r\nCache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n");
    reply_content_length(o, len);
    reply_end_headers(o, keep_alive);
    if (req->method != HTTP_METHOD_HEAD)
        out_copy(o, body, len);
    return status;
}

/*
 * 503 while no full resync has completed, nothing is published (a server pointed at
 * the wrong Redis database must not take traffic), Redis is unreachable, or a served
 * snapshot's signature has expired (it is still served: clients decide). The body says
 * which: {"collections":N,"expired":["bid/cid",...],"redis":bool,"snapshots":bool}.
 */
static int
heartbeat(out *o, const http_request *req, const snapset *s, int keep_alive)
{
    int64_t now = now_ms();
    int redis = sync_redis_ok(), loaded = sync_loaded();
    herald_buf b = HERALD_BUF_INIT; /* a probe every few seconds: allocation is fine */
    herald_buf_printf(&b, "{\"collections\":%zu,\"expired\":[", s->n);
    size_t nexp = 0;
    if (s->min_expires && s->min_expires <= now)
        for (size_t i = 0; i < s->n; i++) {
            const coll *c = s->colls[i];
            if (!c->expires || c->expires > now)
                continue;
            if (nexp++)
                herald_buf_putc(&b, ',');
            herald_buf_putc(&b, '"');
            herald_buf_append(&b, c->bid, c->bid_len); /* ids need no escaping */
            herald_buf_putc(&b, '/');
            herald_buf_append(&b, c->cid, c->cid_len);
            herald_buf_putc(&b, '"');
        }
    int snaps = loaded && s->n > 0 && nexp == 0;
    herald_buf_printf(&b, "],\"redis\":%s,\"snapshots\":%s}", redis ? "true" : "false",
                      snaps ? "true" : "false");
    int st =
        plain(o, req, redis && snaps ? 200 : 503, "application/json", b.data, b.len, keep_alive);
    herald_buf_free(&b);
    return st;
}

static int
version_info(out *o, const http_request *req, int keep_alive)
{
    /* Dockerflow's version object. */
    static const char body[] =
        "{\"build\":\"\",\"commit\":\"" HERALD_COMMIT "\",\"name\":\"herald-server\",\"source\":"
        "\"https://github.com/herald/herald\",\"version\":\"" HERALD_VERSION "\"}";
    return plain(o, req, 200, "application/json", body, sizeof(body) - 1, keep_alive);
}

static int
metrics_page(out *o, const http_request *req, const snapset *s, int keep_alive)
{
    herald_buf b = HERALD_BUF_INIT; /* scraped every few seconds: allocation is fine */
    metrics_render(&b, s, now_ms());
    int st =
        plain(o, req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, keep_alive);
    herald_buf_free(&b);
    return st;
}

static int
preflight(out *o, int keep_alive)
{
    out_puts(o, "HTTP/1.1 200 OK\r\n"
                "Access-Control-Allow-Origin: *\r\n"
                "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
                "Access-Control-Allow-Headers: If-None-Match, Content-Type\r\n"
                "Access-Control-Max-Age: 86400\r\n"
                "Content-Length: 0\r\n");
    reply_end_headers(o, keep_alive);
    return 200;
}

/* ---- routing ----------------------------------------------------------------------- */

static int
eat(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* Reads an id up to '/' or the end; returns its length (0 if invalid). */
static size_t
take_id(const char **p, const char *end, const char **id)
{
    const char *s = *p;
    const char *q = memchr(s, '/', (size_t)(end - s));
    size_t n = (size_t)((q ? q : end) - s);
    if (!herald_schema_valid_id(s, n))
        return 0;
    *id = s;
    *p = s + n;
    return n;
}

static int
path_is(const http_request *req, const char *lit)
{
    size_t n = strlen(lit);
    return req->path.len == n && memcmp(req->path.p, lit, n) == 0;
}

/* Finds the route of 'req'; fills the ids it names. */
static int
match_route(const http_request *req, kinto_ids *ids)
{
    const char *p = req->path.p, *end = req->path.p + req->path.len;
    memset(ids, 0, sizeof(*ids));
    if (path_is(req, "/v1/buckets/monitor/collections/changes/changeset"))
        return RT_MONITOR; /* the poll: decided with one comparison */
    if (path_is(req, "/metrics"))
        return RT_METRICS;
    if (!eat(&p, end, "/v1/"))
        return RT_UNKNOWN;
    if (p == end)
        return RT_ROOT;
    if (*p == '_') {
        if (path_is(req, "/v1/__heartbeat__"))
            return RT_HEARTBEAT;
        if (path_is(req, "/v1/__lbheartbeat__"))
            return RT_LBHEARTBEAT;
        if (path_is(req, "/v1/__version__"))
            return RT_VERSION;
        return RT_UNKNOWN;
    }
    if (!eat(&p, end, "buckets/") || !(ids->bl = take_id(&p, end, &ids->bid)))
        return RT_UNKNOWN;
    if (p == end)
        return RT_BUCKET;
    if (!eat(&p, end, "/collections/") || !(ids->cl = take_id(&p, end, &ids->cid)))
        return RT_UNKNOWN;
    if (p == end)
        return RT_COLLECTION;
    int mon = ids->bl == 7 && !memcmp(ids->bid, "monitor", 7) && ids->cl == 7 &&
              !memcmp(ids->cid, "changes", 7);
    if (eat(&p, end, "/changeset"))
        return p != end ? RT_UNKNOWN : mon ? RT_MONITOR : RT_CHANGESET;
    if (!eat(&p, end, "/records"))
        return RT_UNKNOWN;
    if (p == end)
        return mon ? RT_MONITOR_RECORDS : RT_RECORDS;
    if (!eat(&p, end, "/") || !(ids->rl = take_id(&p, end, &ids->rid)) || p != end)
        return RT_UNKNOWN;
    return RT_RECORD;
}

void
route_request(out *o, const http_request *req, const snapset *s, int keep_alive)
{
    int head = req->method == HTTP_METHOD_HEAD;
    kinto_ids ids;
    int route = match_route(req, &ids);
    int st;

    if (keep_alive && req->minor == 0)
        keep_alive = 2;
    if (route == RT_UNKNOWN) {
        st = reply_not_found(o, keep_alive, head, NULL, NULL, 0);
    } else if (req->method == HTTP_METHOD_OPTIONS) {
        st = preflight(o, keep_alive);
    } else if (req->method != HTTP_METHOD_GET && req->method != HTTP_METHOD_HEAD) {
        st = reply_error(o, 405, HERALD_ERRNO_METHOD_NOT_ALLOWED,
                         "Method not allowed on this endpoint.", NULL, keep_alive, 0);
    } else {
        switch (route) {
        case RT_MONITOR:
        case RT_MONITOR_RECORDS:
            st = monitor(o, req, s, route == RT_MONITOR_RECORDS, keep_alive);
            break;
        case RT_CHANGESET:
            st = changeset(o, req, s, ids.bid, ids.bl, ids.cid, ids.cl, keep_alive);
            break;
        case RT_HEARTBEAT:
            st = heartbeat(o, req, s, keep_alive);
            break;
        case RT_LBHEARTBEAT:
            st = plain(o, req, 200, "application/json", "{}", 2, keep_alive);
            break;
        case RT_VERSION:
            st = version_info(o, req, keep_alive);
            break;
        case RT_METRICS:
            st = metrics_page(o, req, s, keep_alive);
            break;
        default:
            st = kinto_get(o, req, s, route, &ids, keep_alive);
            break;
        }
    }
    metrics_count(out_metrics(o), route, st);
}
