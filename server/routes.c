/*
 * routes -- see routes.h. The read API of DESIGN.md:
 *
 *   /v1/buckets/monitor/collections/changes/changeset   monitor entries, newest first
 *   /v1/buckets/monitor/collections/changes/records     the same, legacy {"data":[...]}
 *   /v1/buckets/{bid}/collections/{cid}/changeset       a collection's changeset
 *   /v1/__heartbeat__, /v1/__lbheartbeat__
 *
 * Query parameters: _since (S or "S"; records and tombstones with last_modified > S),
 * _expected (a cache key only: present and not "0" selects the long max-age, as Remote
 * Settings does for cache-busting polls), _limit (the newest N), bucket=/collection=
 * (monitor filters). Because every listing is newest first, _since and _limit are
 * prefixes of precomputed bytes (snapset.h); only the monitor filters copy entries.
 *
 * Conditional requests: If-None-Match matching the version V -> 304 with the same
 * validators and caching headers and no body; the ETag is the same strong "V" for every
 * representation (DESIGN.md). Unknown paths and collections are Kinto 404s (errno 111),
 * other methods 405 (errno 115).
 */
#include "routes.h"

#include <string.h>
#include <sys/time.h>

#include "herald/kerror.h"
#include "herald/mem.h"
#include "herald/schema.h"
#include "sync.h"

#define COPY_MAX 8192 /* bodies up to this size are copied: one write() beats writev() */
#define PARAM_MAX 512

static const char CHANGES_OPEN[] = "{\"changes\":[";
static const char DATA_OPEN[] = "{\"data\":[";
static const char DATA_CLOSE[] = "]}";

static void
out_slice(out *o, const void *p, size_t n)
{
    if (n <= COPY_MAX)
        out_copy(o, p, n);
    else
        out_ref(o, p, n);
}

static void
status_line(out *o, int status)
{
    out_puts(o, "HTTP/1.1 ");
    out_i64(o, status);
    out_copy(o, " ", 1);
    out_puts(o, status == 505 ? "HTTP Version Not Supported" : herald_kerror_reason(status));
    out_copy(o, "\r\n", 2);
}

/* 'keep_alive': 0 closes after this response, 1 keeps the connection (HTTP/1.1
 * default), 2 keeps it and says so (an HTTP/1.0 client asked for keep-alive). */
static void
end_headers(out *o, int keep_alive)
{
    if (!keep_alive)
        out_puts(o, "Connection: close\r\n");
    else if (keep_alive == 2)
        out_puts(o, "Connection: keep-alive\r\n");
    out_copy(o, "\r\n", 2);
}

static void
content_length(out *o, size_t n)
{
    out_puts(o, "Content-Length: ");
    out_i64(o, (int64_t)n);
    out_copy(o, "\r\n", 2);
}

/* A whole error response. 'details' may be NULL. */
static void
send_error(out *o, int status, int errnum, const char *message, const json_t *details,
           int keep_alive, int head)
{
    herald_buf body = HERALD_BUF_INIT; /* errors are rare: an allocation is fine here */
    herald_kerror_body(&body, status, errnum, message, details);
    status_line(o, status);
    out_puts(o, "Content-Type: application/json\r\n"
                "Access-Control-Allow-Origin: *\r\n"
                "Cache-Control: no-cache\r\n");
    if (status == 405)
        out_puts(o, "Allow: GET, HEAD, OPTIONS\r\n");
    content_length(o, body.len);
    end_headers(o, keep_alive);
    if (!head)
        out_copy(o, body.data, body.len);
    herald_buf_free(&body);
}

void
route_error(out *o, int status)
{
    const char *msg = status == 414   ? "Request line too long"
                      : status == 431 ? "Request header fields too large"
                      : status == 505 ? "HTTP version not supported"
                      : status == 501 ? "Transfer-Encoding is not supported"
                                      : "Malformed request";
    send_error(o, status, HERALD_ERRNO_UNDEFINED, msg, NULL, 0, 0);
}

static void
not_found(out *o, int keep_alive, int head, const char *resource, const char *id)
{
    json_t *details = NULL;
    if (resource)
        details = json_pack("{s:s,s:s}", "id", id, "resource_name", resource);
    send_error(o, 404, HERALD_ERRNO_MISSING_RESOURCE,
               "The resource you are looking for could not be found.", details, keep_alive, head);
    json_decref(details);
}

/* A 200 or 304 for a versioned resource: 'hdr' holds its prebuilt header lines.
 * Body: 'a' + 'b' + 'c' (any may be empty). */
static void
send_versioned(out *o, const http_request *req, int64_t version, const herald_buf *hdr,
               const char *a, size_t alen, const char *b, size_t blen, const char *c, size_t clen,
               int keep_alive)
{
    if (req->has_if_none_match && http_etag_match(req->if_none_match, version)) {
        out_puts(o, "HTTP/1.1 304 Not Modified\r\n");
        out_copy(o, hdr->data, hdr->len);
        end_headers(o, keep_alive);
        return;
    }
    out_puts(o, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
    out_copy(o, hdr->data, hdr->len);
    content_length(o, alen + blen + clen);
    end_headers(o, keep_alive);
    if (req->method == HTTP_METHOD_HEAD)
        return;
    out_slice(o, a, alen);
    out_slice(o, b, blen);
    out_slice(o, c, clen);
}

typedef struct params {
    int has_since, has_limit;
    int64_t since, limit;
    int cache; /* CACHE_SHORT or CACHE_LONG */
    int has_bucket, has_collection;
    char bucket[PARAM_MAX], collection[PARAM_MAX];
    size_t bucket_len, collection_len;
} params;

static void
bad_param(out *o, const char *name, const char *desc, int keep_alive, int head)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "%s in querystring: %s", name, desc);
    json_t *details =
        json_pack("[{s:s,s:s,s:s}]", "location", "querystring", "name", name, "description", desc);
    send_error(o, 400, HERALD_ERRNO_INVALID_PARAMETERS, msg, details, keep_alive, head);
    json_decref(details);
}

/* Reads the query parameters; on a bad one answers 400 and returns -1. */
static int
parse_params(out *o, const http_request *req, params *p, int keep_alive)
{
    char v[PARAM_MAX];
    size_t vl;
    int head = req->method == HTTP_METHOD_HEAD;
    int r;
    memset(p, 0, sizeof(*p));
    p->cache = CACHE_SHORT;
    if (req->query.len == 0)
        return 0;
    r = http_query_param(req->query, "_since", v, sizeof(v), &vl);
    if (r != 0) {
        if (r < 0 || http_parse_timestamp(v, vl, &p->since) < 0) {
            bad_param(o, "_since", "The value should be integer between double quotes.", keep_alive,
                      head);
            return -1;
        }
        p->has_since = 1;
    }
    r = http_query_param(req->query, "_limit", v, sizeof(v), &vl);
    if (r != 0) {
        if (r < 0 || http_parse_timestamp(v, vl, &p->limit) < 0 || v[0] == '"') {
            bad_param(o, "_limit", "\"_limit\" is not a number", keep_alive, head);
            return -1;
        }
        p->has_limit = 1;
    }
    r = http_query_param(req->query, "_expected", v, sizeof(v), &vl);
    if (r > 0 && !(vl == 1 && v[0] == '0') && !(vl == 3 && !memcmp(v, "\"0\"", 3)))
        p->cache = CACHE_LONG;
    r = http_query_param(req->query, "bucket", p->bucket, sizeof(p->bucket), &p->bucket_len);
    p->has_bucket = r > 0;
    r = http_query_param(req->query, "collection", p->collection, sizeof(p->collection),
                         &p->collection_len);
    p->has_collection = r > 0;
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

static void
monitor(out *o, const http_request *req, const snapset *s, int legacy, int keep_alive)
{
    params p;
    if (parse_params(o, req, &p, keep_alive) < 0)
        return;
    const listing *l = &s->monitor;
    const char *open = legacy ? DATA_OPEN : CHANGES_OPEN;
    size_t open_len = legacy ? sizeof(DATA_OPEN) - 1 : sizeof(CHANGES_OPEN) - 1;
    const char *close = legacy ? DATA_CLOSE : s->mon_post;
    size_t close_len = legacy ? sizeof(DATA_CLOSE) - 1 : s->mon_post_len;
    const herald_buf *hdr = &s->mon_hdr[p.cache];
    size_t k = select_count(l, &p);

    if (!p.has_bucket && !p.has_collection) {
        if (k == l->n) {
            const char *full = legacy ? s->legacy_full : s->mon_full;
            size_t full_len = legacy ? s->legacy_full_len : s->mon_full_len;
            send_versioned(o, req, s->max_version, hdr, full, full_len, NULL, 0, NULL, 0,
                           keep_alive);
        } else {
            send_versioned(o, req, s->max_version, hdr, open, open_len, l->json,
                           listing_prefix_len(l, k), close, close_len, keep_alive);
        }
        return;
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
    send_versioned(o, req, s->max_version, hdr, body.data, body.len, NULL, 0, NULL, 0, keep_alive);
    herald_buf_free(&body);
}

static void
collection(out *o, const http_request *req, const snapset *s, const char *bid, size_t bl,
           const char *cid, size_t cl, int keep_alive)
{
    int head = req->method == HTTP_METHOD_HEAD;
    const coll *c = snapset_find(s, bid, bl, cid, cl);
    if (!c) {
        char id[256];
        snprintf(id, sizeof(id), "%.*s", (int)cl, cid);
        not_found(o, keep_alive, head, "collection", id);
        return;
    }
    params p;
    if (parse_params(o, req, &p, keep_alive) < 0)
        return;
    const herald_buf *hdr = &c->hdr[p.cache];
    if (!p.has_since && !p.has_limit) {
        send_versioned(o, req, c->version, hdr, c->full, c->full_len, NULL, 0, NULL, 0, keep_alive);
        return;
    }
    const listing *l = &c->delta;
    size_t k = select_count(l, &p);
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
        send_versioned(o, req, c->version, hdr, body.data, body.len, NULL, 0, NULL, 0, keep_alive);
        herald_buf_free(&body);
        return;
    }
    send_versioned(o, req, c->version, hdr, CHANGES_OPEN, sizeof(CHANGES_OPEN) - 1, l->json,
                   listing_prefix_len(l, k), c->post, c->post_len, keep_alive);
}

static void
heartbeat(out *o, const http_request *req, const snapset *s, int keep_alive)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t now = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    int redis = sync_redis_ok();
    int snaps = sync_loaded() && (s->min_expires == 0 || s->min_expires > now);
    const char *body = redis && snaps ? "{\"redis\":true,\"snapshots\":true}"
                       : redis        ? "{\"redis\":true,\"snapshots\":false}"
                       : snaps        ? "{\"redis\":false,\"snapshots\":true}"
                                      : "{\"redis\":false,\"snapshots\":false}";
    status_line(o, redis && snaps ? 200 : 503);
    out_puts(o, "Content-Type: application/json\r\nCache-Control: no-cache\r\n"
                "Access-Control-Allow-Origin: *\r\n");
    content_length(o, strlen(body));
    end_headers(o, keep_alive);
    if (req->method != HTTP_METHOD_HEAD)
        out_puts(o, body);
}

static void
simple_json(out *o, const http_request *req, const char *body, int keep_alive)
{
    out_puts(o, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                "Cache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n");
    content_length(o, strlen(body));
    end_headers(o, keep_alive);
    if (req->method != HTTP_METHOD_HEAD)
        out_puts(o, body);
}

static void
preflight(out *o, int keep_alive)
{
    out_puts(o, "HTTP/1.1 200 OK\r\n"
                "Access-Control-Allow-Origin: *\r\n"
                "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
                "Access-Control-Allow-Headers: If-None-Match, Content-Type\r\n"
                "Access-Control-Max-Age: 86400\r\n"
                "Content-Length: 0\r\n");
    end_headers(o, keep_alive);
}

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

void
route_request(out *o, const http_request *req, const snapset *s, int keep_alive)
{
    const char *p = req->path.p, *end = req->path.p + req->path.len;
    int head = req->method == HTTP_METHOD_HEAD;
    enum { R_NONE, R_MONITOR, R_LEGACY, R_COLL, R_HEARTBEAT, R_LB } route = R_NONE;
    const char *bid = NULL, *cid = NULL;
    size_t bl = 0, cl = 0;

    if (keep_alive && req->minor == 0)
        keep_alive = 2;
    if (eat(&p, end, "/v1/")) {
        if (eat(&p, end, "buckets/") && (bl = take_id(&p, end, &bid)) &&
            eat(&p, end, "/collections/") && (cl = take_id(&p, end, &cid))) {
            int monitor_changes =
                bl == 7 && !memcmp(bid, "monitor", 7) && cl == 7 && !memcmp(cid, "changes", 7);
            if (eat(&p, end, "/changeset") && p == end)
                route = monitor_changes ? R_MONITOR : R_COLL;
            else if (monitor_changes && eat(&p, end, "/records") && p == end)
                route = R_LEGACY;
        } else if (req->path.len == 17 && !memcmp(req->path.p, "/v1/__heartbeat__", 17)) {
            route = R_HEARTBEAT;
        } else if (req->path.len == 19 && !memcmp(req->path.p, "/v1/__lbheartbeat__", 19)) {
            route = R_LB;
        }
    }
    if (route == R_NONE) {
        not_found(o, keep_alive, head, NULL, NULL);
        return;
    }
    if (req->method == HTTP_METHOD_OPTIONS) {
        preflight(o, keep_alive);
        return;
    }
    if (req->method != HTTP_METHOD_GET && req->method != HTTP_METHOD_HEAD) {
        send_error(o, 405, HERALD_ERRNO_METHOD_NOT_ALLOWED, "Method not allowed on this endpoint.",
                   NULL, keep_alive, 0);
        return;
    }
    switch (route) {
    case R_MONITOR:
    case R_LEGACY:
        monitor(o, req, s, route == R_LEGACY, keep_alive);
        break;
    case R_COLL:
        collection(o, req, s, bid, bl, cid, cl, keep_alive);
        break;
    case R_HEARTBEAT:
        heartbeat(o, req, s, keep_alive);
        break;
    case R_LB:
        simple_json(o, req, "{}", keep_alive);
        break;
    default:
        break;
    }
}
