/*
 * kinto -- see kinto.h.
 *
 * The kview of a coll is built lazily through coll_view_acquire() (snapset.h), which
 * owns the locking; each handler holds a reference while it reads it, and the view is
 * freed with the destructor it carries once the coll dropped it (idle) or was freed.
 */
#include "kinto.h"

#include <stdlib.h>
#include <string.h>

#include "herald/clock.h"
#include "herald/jcs.h"
#include "herald/kerror.h"
#include "herald/listing.h"
#include "herald/mem.h"
#include "reply.h"
#include "route_id.h"

struct kview {
    coll_view base;      /* first: the coll frees it through base.free */
    json_t *owner;       /* array holding every parsed entry */
    const json_t **recs; /* live records, sorted by id (byte order) */
    size_t nrec;
    const json_t **tombs; /* tombstones */
    size_t ntomb;
};

static kinto_config g_rc;
static char *g_url;
static herald_buf g_root;

/* GET /v1/: Kinto's root, for a read-only server. */
static void
build_root(void)
{
    json_t *keys = json_array();
    for (size_t i = 0; i < g_rc.nkeys; i++)
        json_array_append_new(keys, json_pack("{s:s,s:s}", "key_id", g_rc.keys[i].key_id,
                                              "public_key", g_rc.keys[i].b64));
    json_t *settings = json_pack("{s:b}", "readonly", 1);
    if (g_rc.paginate_by)
        json_object_set_new(settings, "paginate_by", json_integer(g_rc.paginate_by));
    herald_buf url = HERALD_BUF_INIT;
    herald_buf_printf(&url, "%s/v1/", g_url);
    json_t *root = json_pack(
        "{s:{s:{s:s,s:s,s:o,s:s}},s:s,s:s,s:s,s:s,s:o,s:s}", "capabilities", "herald_signatures",
        "description", "Ed25519 signatures of every published collection (herald-snapshot-v1).",
        "mode", "ed25519", "public_keys", keys, "url",
        "https://github.com/herald/herald/blob/main/docs/signature-format.md", "http_api_version",
        "1.23", "project_docs", "https://github.com/herald/herald/blob/main/docs/server.md",
        "project_name", "herald", "project_version", HERALD_VERSION, "settings", settings, "url",
        herald_buf_cstr(&url));
    herald_buf_reset(&g_root);
    if (!root || herald_jcs_dump(&g_root, root) < 0) {
        herald_buf_reset(&g_root);
        herald_buf_puts(&g_root, "{}");
    }
    json_decref(root);
    herald_buf_free(&url);
}

void
kinto_configure(const kinto_config *cfg)
{
    free(g_url);
    g_url = herald_mem_strdup(cfg->public_url ? cfg->public_url : "");
    g_rc = *cfg;
    g_rc.public_url = g_url;
    build_root();
}

void
kinto_unconfigure(void)
{
    free(g_url);
    g_url = NULL;
    herald_buf_free(&g_root);
    memset(&g_rc, 0, sizeof(g_rc));
}

/* ---- parsed records ---------------------------------------------------------------- */

static void
view_free(coll_view *base)
{
    struct kview *v = (struct kview *)base;
    json_decref(v->owner);
    free(v->recs);
    free(v->tombs);
    free(v);
}

static int
by_id(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(const json_t *const *)a, "id")),
                  json_string_value(json_object_get(*(const json_t *const *)b, "id")));
}

/* Parses the entries of c->delta (records and tombstones, JCS) into a kview. */
static coll_view *
view_build(const coll *c)
{
    const listing *l = &c->delta;
    struct kview *v = herald_mem_calloc(1, sizeof(*v));
    v->base.free = view_free;
    v->owner = json_array();
    v->recs = herald_mem_calloc(l->n + 1, sizeof(*v->recs));
    v->tombs = herald_mem_calloc(l->n + 1, sizeof(*v->tombs));
    for (size_t i = 0; i < l->n; i++) {
        /* Our own serialization of records the signer canonicalized: it parses. */
        json_t *e = json_loadb(l->json + l->off[i], l->sz[i], JSON_DECODE_ANY, NULL);
        if (!json_is_object(e) || !json_is_string(json_object_get(e, "id"))) {
            json_decref(e);
            continue;
        }
        json_array_append_new(v->owner, e);
        if (json_is_true(json_object_get(e, "deleted")))
            v->tombs[v->ntomb++] = e;
        else
            v->recs[v->nrec++] = e;
    }
    qsort(v->recs, v->nrec, sizeof(*v->recs), by_id);
    return &v->base;
}

/* The parsed view of 'c', with a reference: view_release() it. */
static const struct kview *
view_get(const coll *c)
{
    return (const struct kview *)coll_view_acquire(c, view_build, herald_clock_wall_ms());
}

static void
view_release(const struct kview *v)
{
    coll_view_release(v ? &v->base : NULL);
}

/* ---- handlers ---------------------------------------------------------------------- */

static int
root(out *o, const http_request *req, int keep_alive)
{
    return reply_plain(o, req, 200, "application/json", g_root.data, g_root.len, keep_alive);
}

static int
bucket(out *o, const http_request *req, const snapset *s, const kinto_ids *ids, int keep_alive)
{
    size_t i = snapset_bucket_start(s, ids->bid, ids->bl);
    if (i == s->n)
        return reply_not_found(o, keep_alive, req->method == HTTP_METHOD_HEAD, "bucket", ids->bid,
                               ids->bl);
    /* Each collection's snapshot carries the bucket as it was when it was signed: the
     * newest one wins. */
    const coll *best = NULL;
    for (; i < s->n && s->colls[i]->bid_len == ids->bl &&
           !memcmp(s->colls[i]->bid, ids->bid, ids->bl);
         i++)
        if (s->colls[i]->bucket_obj && (!best || s->colls[i]->bucket_lm > best->bucket_lm))
            best = s->colls[i];
    if (!best) /* only collections of it are public, not the bucket */
        return reply_not_found(o, keep_alive, req->method == HTTP_METHOD_HEAD, "bucket", ids->bid,
                               ids->bl);
    return reply_body(o, req, &best->bucket_hdr, best->bucket_obj, keep_alive);
}

static int
records(out *o, const http_request *req, const coll *c, int keep_alive)
{
    int head = req->method == HTTP_METHOD_HEAD;
    const vhdr *hdr = &c->hdr[CACHE_SHORT];
    /* A 304 needs no listing at all. */
    if (req->has_if_none_match && http_etag_match(req->if_none_match, c->version))
        return reply_bytes(o, req, hdr, NULL, NULL, 0, keep_alive);

    herald_listing *l = NULL;
    herald_listing_error err;
    herald_listing_opts opts = {g_rc.paginate_by, 0, NULL};
    if (herald_listing_parse_len(&l, req->query.p, req->query.len, &opts, &err) < 0) {
        json_t *details = herald_listing_error_details(&err);
        int st = reply_error(o, err.status, err.errnum, err.message, details, keep_alive, head);
        json_decref(details);
        return st;
    }
    const struct kview *v = view_get(c);
    herald_listing_page page;
    herald_buf body = HERALD_BUF_INIT, extra = HERALD_BUF_INIT;
    int st;
    if (herald_listing_apply_v(&page, l, v->recs, v->nrec, v->tombs, v->ntomb,
                               HERALD_LISTING_PROJECT) < 0) {
        st = reply_error(o, 500, HERALD_ERRNO_UNDEFINED, NULL, NULL, keep_alive, head);
        goto done;
    }
    herald_buf_puts(&body, "{\"data\":");
    if (herald_jcs_dump(&body, page.data) < 0) { /* records are I-JSON: cannot happen */
        st = reply_error(o, 500, HERALD_ERRNO_UNDEFINED, NULL, NULL, keep_alive, head);
        goto done;
    }
    herald_buf_putc(&body, '}');
    herald_buf_printf(&extra, "Total-Records: %lld\r\nTotal-Objects: %lld\r\n", page.total,
                      page.total);
    if (page.next_token) {
        herald_buf url = HERALD_BUF_INIT;
        herald_buf_printf(&url, "%s/v1/buckets/%s/collections/%s/records", g_url, c->bid, c->cid);
        herald_buf_puts(&extra, "Next-Page: ");
        herald_listing_next_url(&extra, herald_buf_cstr(&url), req->query.p, req->query.len, l,
                                page.next_token);
        herald_buf_puts(&extra, "\r\n");
        herald_buf_free(&url);
    }
    st = reply_bytes(o, req, hdr, herald_buf_cstr(&extra), body.data, body.len, keep_alive);
done:
    herald_listing_page_free(&page);
    view_release(v);
    herald_listing_free(l);
    herald_buf_free(&body);
    herald_buf_free(&extra);
    return st;
}

static int
record(out *o, const http_request *req, const coll *c, const kinto_ids *ids, int keep_alive)
{
    const struct kview *v = view_get(c);
    size_t lo = 0, hi = v->nrec;
    const json_t *found = NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *id = json_string_value(json_object_get(v->recs[mid], "id"));
        size_t idl = strlen(id), n = idl < ids->rl ? idl : ids->rl;
        int r = memcmp(id, ids->rid, n);
        if (r == 0)
            r = (idl > ids->rl) - (idl < ids->rl);
        if (r == 0) {
            found = v->recs[mid];
            break;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!found) {
        view_release(v);
        return reply_not_found(o, keep_alive, req->method == HTTP_METHOD_HEAD, "record", ids->rid,
                               ids->rl);
    }
    json_int_t lm = json_integer_value(json_object_get(found, "last_modified"));
    vhdr hdr;
    memset(&hdr, 0, sizeof(hdr));
    herald_buf body = HERALD_BUF_INIT;
    vhdr_build(&hdr, (int64_t)lm, snapset_cache_default());
    herald_buf_puts(&body, "{\"data\":");
    int st;
    if (herald_jcs_dump(&body, found) < 0) {
        st = reply_error(o, 500, HERALD_ERRNO_UNDEFINED, NULL, NULL, keep_alive, 0);
    } else {
        herald_buf_putc(&body, '}');
        st = reply_bytes(o, req, &hdr, NULL, body.data, body.len, keep_alive);
    }
    vhdr_free(&hdr);
    herald_buf_free(&body);
    view_release(v);
    return st;
}

int
kinto_get(out *o, const http_request *req, const snapset *s, int route, const kinto_ids *ids,
          int keep_alive)
{
    int head = req->method == HTTP_METHOD_HEAD;
    if (route == RT_ROOT)
        return root(o, req, keep_alive);
    if (route == RT_BUCKET)
        return bucket(o, req, s, ids, keep_alive);
    const coll *c = snapset_find(s, ids->bid, ids->bl, ids->cid, ids->cl);
    if (!c) {
        if (snapset_bucket_start(s, ids->bid, ids->bl) == s->n)
            return reply_not_found(o, keep_alive, head, "bucket", ids->bid, ids->bl);
        return reply_not_found(o, keep_alive, head, "collection", ids->cid, ids->cl);
    }
    switch (route) {
    case RT_COLLECTION:
        return reply_body(o, req, &c->obj_hdr, c->obj, keep_alive);
    case RT_RECORDS:
        return records(o, req, c, keep_alive);
    case RT_RECORD:
        return record(o, req, c, ids, keep_alive);
    default:
        return reply_not_found(o, keep_alive, head, NULL, NULL, 0);
    }
}
