/*
 * routes -- see routes.h. The paths:
 *
 *   /v1/buckets/monitor/collections/changes/changeset   the poll (changes.c)
 *   /v1/buckets/monitor/collections/changes/records     its legacy form (changes.c)
 *   /v1/buckets/{bid}/collections/{cid}/changeset       a changeset (changes.c)
 *   /v1/, /v1/buckets/{bid}[/collections/{cid}[/records[/{rid}]]]   Kinto reads (kinto.c)
 *   /v1/__heartbeat__, /v1/__lbheartbeat__, /v1/__version__, /metrics   (ops.c)
 *   /attachments/<h0h1>/<sha256>                          attachment files (attach.c)
 *
 * Unknown paths and collections are Kinto 404s (errno 111), other methods 405 (errno
 * 115).
 */
#include "routes.h"

#include <string.h>

#include "changes.h"
#include "herald/kerror.h"
#include "herald/schema.h"
#include "kinto.h"
#include "metrics.h"
#include "ops.h"
#include "reply.h"
#include "route_id.h"

void
route_error(out *o, int status)
{
    reply_error(o, status, herald_kerror_protocol_errno(status), http_error_message(status), NULL,
                0, 0);
    metrics_count(out_metrics(o), RT_INVALID, status);
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

/* Answers 'req' (route 'route', ids 'ids') into 'o'; returns the status. */
static int
dispatch(out *o, const http_request *req, const snapset *s, int keep_alive, int route,
         const kinto_ids *ids)
{
    int head = req->method == HTTP_METHOD_HEAD;
    int st;

    if (keep_alive && req->minor == 0)
        keep_alive = 2;
    if (route == RT_UNKNOWN) {
        st = reply_not_found(o, keep_alive, head, NULL, NULL, 0);
    } else if (req->method == HTTP_METHOD_OPTIONS) {
        st = reply_preflight(o, keep_alive);
    } else if (req->method != HTTP_METHOD_GET && req->method != HTTP_METHOD_HEAD) {
        st = reply_error(o, 405, HERALD_ERRNO_METHOD_NOT_ALLOWED,
                         "Method not allowed on this endpoint.", NULL, keep_alive, 0);
    } else {
        switch (route) {
        case RT_MONITOR:
        case RT_MONITOR_RECORDS:
            st = changes_monitor(o, req, s, route == RT_MONITOR_RECORDS, keep_alive);
            break;
        case RT_CHANGESET:
            st = changes_changeset(o, req, s, ids->bid, ids->bl, ids->cid, ids->cl, keep_alive);
            break;
        case RT_HEARTBEAT:
            st = ops_heartbeat(o, req, s, keep_alive);
            break;
        case RT_LBHEARTBEAT:
            st = ops_lbheartbeat(o, req, keep_alive);
            break;
        case RT_VERSION:
            st = ops_version(o, req, keep_alive);
            break;
        case RT_METRICS:
            st = ops_metrics(o, req, s, keep_alive);
            break;
        default:
            st = kinto_get(o, req, s, route, ids, keep_alive);
            break;
        }
    }
    return st;
}

void
route_request(out *o, const http_request *req, const snapset *s, int keep_alive)
{
    kinto_ids ids;
    int route = match_route(req, &ids);
    metrics_count(out_metrics(o), route, dispatch(o, req, s, keep_alive, route, &ids));
}

int
route_request_or_hold(out *o, const http_request *req, const snapset *s, int keep_alive,
                      wait_key *k)
{
    kinto_ids ids;
    int route = match_route(req, &ids);
    int may_hold = req->prefer_wait > 0 && req->method == HTTP_METHOD_GET &&
                   req->has_if_none_match && (route == RT_MONITOR || route == RT_CHANGESET);
    out_mark mark = out_mark_get(o);
    int st = dispatch(o, req, s, keep_alive, route, &ids);
    if (!may_hold || st != 304) {
        metrics_count(out_metrics(o), route, st);
        return 0;
    }
    /* The handler's 304 is the proof that the version named is current: take it back
     * and hold the request instead (counted when it is answered). */
    out_truncate(o, &mark);
    memset(k, 0, sizeof(*k));
    k->route = route;
    const vhdr *h = &s->mon_hdr[0];
    if (route == RT_CHANGESET) {
        const coll *c = snapset_find(s, ids.bid, ids.bl, ids.cid, ids.cl);
        if (!c) { /* cannot be: the 304 came from it */
            route_request(o, req, s, keep_alive);
            return 0;
        }
        h = &c->hdr[0];
        k->bid = ids.bid;
        k->bl = ids.bl;
        k->cid = ids.cid;
        k->cl = ids.cl;
    }
    k->etag = h->etag;
    k->etag_len = h->etag_len;
    k->compressed = req->has_accept_encoding && http_accept_encodings(req->accept_encoding) != 0;
    return 1;
}

int
route_wait_stale(const wait_key *k, const snapset *s)
{
    const vhdr *h = &s->mon_hdr[0];
    const payload *body = s->mon_full;
    if (k->route == RT_CHANGESET) {
        const coll *c = snapset_find(s, k->bid, k->bl, k->cid, k->cl);
        if (!c)
            return 1;
        h = &c->hdr[0];
        body = c->full;
    }
    if (h->etag_len == k->etag_len && memcmp(h->etag, k->etag, k->etag_len) == 0)
        return 0;
    /* A new version: answered once its body is compressed (encode.h payload_ready();
     * the upgrader wakes us), unless this client takes identity anyway. The deadline
     * still holds: a request whose wait ends first gets what is served then. */
    return !k->compressed || !body || payload_ready(body);
}

void
route_attachment(out *o, const http_request *req, const char *head, size_t head_len, int keep_alive,
                 attach_body *file)
{
    int st;
    file->fd = -1;
    if (keep_alive && req->minor == 0)
        keep_alive = 2;
    if (req->method == HTTP_METHOD_OPTIONS)
        st = reply_preflight(o, keep_alive);
    else if (req->method != HTTP_METHOD_GET && req->method != HTTP_METHOD_HEAD)
        st = reply_error(o, 405, HERALD_ERRNO_METHOD_NOT_ALLOWED,
                         "Method not allowed on this endpoint.", NULL, keep_alive, 0);
    else
        st = attach_serve(o, req, head, head_len, keep_alive, file);
    if (st != 0) /* 0: held for a fetch (attach.h), counted when answered */
        metrics_count(out_metrics(o), RT_ATTACHMENT, st);
}
