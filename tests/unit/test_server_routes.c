/*
 * test_server_routes -- the read server's responses (server/routes.c and the handlers,
 * reply.c, out.c, snapset.c, encode.c, metrics.c, status.c: the real modules, linked
 * from herald_server) without client sockets: snapshots are built in memory, turned
 * into collections and sets as the sync thread does, requests parsed by the real parser
 * are answered into a real output queue, and the queue is written to a temporary file
 * with out_write(), as conn.c writes it to a socket.
 *
 *  - _since is checked differentially: random collections (records, tombstones, ties
 *    in last_modified) and random S against a plain reference (filter lm > S, sort),
 *    in identity and in every cached compressed delta, decoded;
 *  - headers, conditional requests, _expected, _limit, the tombstone horizon, HEAD,
 *    the monitor and its filters, errors, heartbeat (unhealthy and healthy), version,
 *    metrics;
 *  - the operator's Backoff on every kind of response while set (versioned 200, 304,
 *    HEAD, deltas, errors, heartbeats, preflight, Kinto reads), on none while 0, and in
 *    /metrics.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "herald/clock.h"
#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/monitor.h"
#include "herald/snapshot.h"
#include "kinto.h"
#include "metrics.h"
#include "out.h"
#include "routes.h"
#include "snapset.h"
#include "status.h"
#include "test_decode.h"

/* ---- fixtures ---------------------------------------------------------------------- */

static herald_signkey *g_key;
static out *g_out;   /* the real output queue, counting into a registered shard */
static FILE *g_sink; /* what g_out is written to, as conn.c writes it to a socket */

static void
setup(void)
{
    cr_assert_eq(herald_crypto_init(), 0);
    unsigned char seed[32] = {1, 2, 3};
    g_key = herald_crypto_signkey_from_seed(seed);
    snapset_config sc = {"cdn.example.net", 60, 3600, 30, 600, 86400LL * 1000, 1};
    snapset_configure(&sc);
    kinto_config kc = {herald_crypto_signkey_public(g_key), 1, "http://cdn.example.net", 0};
    kinto_configure(&kc);
    g_out = out_new(metrics_shard_new());
    g_sink = tmpfile();
    cr_assert_not_null(g_sink);
}

static void
teardown(void)
{
    out_free(g_out);
    fclose(g_sink);
    metrics_free_all();
    herald_crypto_signkey_free(g_key);
    snapset_unconfigure();
    kinto_unconfigure();
}

/* Writes everything g_out holds (out_write, the server's path) and reads it back into
 * 'dst'. */
static void
drain(herald_buf *dst)
{
    int fd = fileno(g_sink);
    cr_assert_eq(ftruncate(fd, 0), 0);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    size_t n = out_pending(g_out);
    cr_assert_eq(out_write(g_out, fd), 0, "a file takes every byte");
    cr_assert_eq(out_pending(g_out), 0);
    out_reset(g_out);
    herald_buf_reserve(dst, n + 1);
    cr_assert_eq(pread(fd, dst->data + dst->len, n, 0), (ssize_t)n);
    dst->len += n;
}

static int
id_cmp(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
                  json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

/* A signed snapshot of 'records' (array; any order) and 'tombs' (NULL: none) at
 * 'version'. The arguments are borrowed. */
static herald_snapshot *
make_snapshot(const char *bid, const char *cid, int64_t version, json_t *records, json_t *tombs,
              json_t *meta)
{
    size_t n = json_array_size(records);
    json_t **v = calloc(n + 1, sizeof(json_t *));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(records, i);
    qsort(v, n, sizeof(*v), id_cmp);
    herald_buf rj = HERALD_BUF_INIT, blob = HERALD_BUF_INIT;
    herald_buf_putc(&rj, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            herald_buf_putc(&rj, ',');
        cr_assert_eq(herald_jcs_dump(&rj, v[i]), 0);
    }
    herald_buf_putc(&rj, ']');
    free(v);
    herald_head head = {bid, cid, version, version + 86400000, (int64_t)n, {0}};
    herald_crypto_sha256_hex(head.sha256, rj.data, rj.len);
    json_t *sigs = json_array();
    json_array_append_new(sigs, herald_snapshot_sign_entry(g_key, &head));
    json_t *empty = json_object(), *none = json_array();
    /* As the signer stores a public bucket (an empty object means a private one). */
    json_t *bdata = json_pack("{s:s, s:I}", "id", bid, "last_modified", (json_int_t)version);
    herald_snapshot_parts parts = {.bucket = bid,
                                   .collection = cid,
                                   .timestamp = version,
                                   .metadata = meta ? meta : empty,
                                   .bucket_data = bdata,
                                   .signatures = sigs,
                                   .records_json = rj.data,
                                   .records_len = rj.len,
                                   .tombstones = tombs ? tombs : none};
    cr_assert_eq(herald_snapshot_encode(&blob, &parts, 1), 0);
    char err[256];
    herald_snapshot *s = herald_snapshot_decode(blob.data, blob.len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    herald_buf_free(&rj);
    herald_buf_free(&blob);
    json_decref(sigs);
    json_decref(bdata);
    json_decref(empty);
    json_decref(none);
    return s;
}

static coll *
make_coll(const char *bid, const char *cid, int64_t version, json_t *records, json_t *tombs,
          json_t *meta, int64_t now)
{
    char err[256];
    coll *c =
        coll_new(make_snapshot(bid, cid, version, records, tombs, meta), now, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    return c;
}

/* ---- requests and responses -------------------------------------------------------- */

typedef struct resp {
    int status;
    char head[8192]; /* status line and headers, NUL-terminated */
    herald_buf body; /* decoded when Content-Encoding was used */
    size_t wire_len; /* body bytes on the wire */
} resp;

/* The value of header 'name' in 'r' (static buffer), or NULL. */
static const char *
hdr(const resp *r, const char *name)
{
    static char v[1024];
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (!strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *s = line + nl + 1;
            while (*s == ' ')
                s++;
            const char *e = strstr(s, "\r\n");
            snprintf(v, sizeof(v), "%.*s", (int)(e - s), s);
            return v;
        }
    }
    return NULL;
}

/* Parses the first response in 'b' (consumed). */
static void
parse_resp(resp *r, herald_buf *b, int head_request)
{
    memset(r, 0, sizeof(*r));
    char *end = strstr(b->data ? herald_buf_cstr(b) : "", "\r\n\r\n");
    cr_assert_not_null(end, "no complete response in [%s]", b->data ? b->data : "");
    size_t hl = (size_t)(end - b->data) + 2;
    cr_assert_lt(hl, sizeof(r->head));
    memcpy(r->head, b->data, hl);
    r->head[hl] = '\0';
    cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
    const char *cl = hdr(r, "Content-Length");
    size_t len = cl ? strtoul(cl, NULL, 10) : 0;
    size_t body_len = head_request || r->status == 304 ? 0 : len;
    size_t total = hl + 2 + body_len;
    cr_assert_geq(b->len, total);
    const char *body = b->data + hl + 2;
    r->wire_len = body_len;
    const char *ce = hdr(r, "Content-Encoding");
    if (ce && !strcmp(ce, "gzip")) {
        cr_assert_eq(gunzip(&r->body, body, body_len), 0);
    } else if (ce && !strcmp(ce, "zstd")) {
        unsigned long long n = ZSTD_getFrameContentSize(body, body_len);
        cr_assert(n != ZSTD_CONTENTSIZE_ERROR && n != ZSTD_CONTENTSIZE_UNKNOWN);
        herald_buf_reserve(&r->body, (size_t)n + 1);
        cr_assert_eq(ZSTD_decompress(r->body.data, (size_t)n + 1, body, body_len), n);
        r->body.len = (size_t)n;
    } else {
        cr_assert_null(ce);
        herald_buf_append(&r->body, body, body_len);
    }
    herald_buf_cstr(&r->body);
    memmove(b->data, b->data + total, b->len - total);
    b->len -= total;
}

/* Answers 'raw' (a whole request head) from 's' and parses the response. */
static void
request(resp *r, const snapset *s, const char *raw)
{
    static const http_limits lim = {.max_request_line = HTTP_DEFAULT_MAX_REQUEST_LINE,
                                    .max_head = HTTP_DEFAULT_MAX_HEAD};
    http_request req;
    ssize_t n = http_parse_request(&req, raw, strlen(raw), &lim);
    cr_assert_eq(n, (ssize_t)strlen(raw));
    herald_buf wire = HERALD_BUF_INIT;
    route_request(g_out, &req, s, req.keep_alive);
    drain(&wire);
    parse_resp(r, &wire, req.method == HTTP_METHOD_HEAD);
    cr_assert_eq(wire.len, 0, "one response per request");
    herald_buf_free(&wire);
}

static void
get(resp *r, const snapset *s, const char *target, const char *extra)
{
    char raw[4096];
    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n", target, extra ? extra : "");
    request(r, s, raw);
}

static void
resp_free(resp *r)
{
    herald_buf_free(&r->body);
}

static json_t *
body_json(const resp *r)
{
    json_error_t e;
    json_t *v = json_loadb(r->body.data, r->body.len, 0, &e);
    cr_assert_not_null(v, "body is not JSON: %s [%.200s]", e.text, r->body.data);
    return v;
}

/* ---- tests ------------------------------------------------------------------------- */

TestSuite(routes, .init = setup, .fini = teardown);

static json_t *
rec(const char *id, int64_t lm)
{
    return json_pack("{s:s,s:I,s:s}", "id", id, "last_modified", (json_int_t)lm, "title",
                     "a record with some text so that bodies compress");
}

static snapset *
simple_set(int64_t now)
{
    json_t *recs = json_array(), *tombs = json_array();
    json_array_append_new(recs, rec("b", 1000));
    json_array_append_new(recs, rec("a", 3000));
    json_array_append_new(recs, rec("c", 2000));
    json_array_append_new(tombs, json_pack("{s:b,s:s,s:I}", "deleted", 1, "id", "z",
                                           "last_modified", (json_int_t)2500));
    json_t *meta = json_pack("{s:s,s:i}", "displayName", "Certs", "cache_expires", 120);
    coll *c = make_coll("main", "certs", 3000, recs, tombs, meta, now);
    coll *d = make_coll("main", "addons", 5000, NULL, NULL, NULL, now);
    json_decref(recs);
    json_decref(tombs);
    json_decref(meta);
    coll *v[2] = {c, d};
    return snapset_new(v, 2);
}

#define NOW 50000000LL /* arrival time: the horizon floor, NOW - 1 day, is negative */

Test(routes, full_changeset_and_headers)
{
    snapset *s = simple_set(NOW);
    resp r;
    get(&r, s, "/v1/buckets/main/collections/certs/changeset", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "ETag"), "\"3000\"");
    cr_assert_str_eq(hdr(&r, "Content-Type"), "application/json");
    cr_assert_str_eq(hdr(&r, "Cache-Control"), "max-age=120");
    cr_assert_str_eq(hdr(&r, "Vary"), "Accept-Encoding");
    cr_assert_str_eq(hdr(&r, "Access-Control-Allow-Origin"), "*");
    cr_assert_str_eq(hdr(&r, "Last-Modified"), "Thu, 01 Jan 1970 00:00:03 GMT");
    json_t *j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "timestamp")), 3000);
    json_t *ch = json_object_get(j, "changes");
    cr_assert_eq(json_array_size(ch), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ch, 0), "id")), "a");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ch, 1), "id")), "c");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ch, 2), "id")), "b");
    json_t *m = json_object_get(j, "metadata");
    cr_assert_str_eq(json_string_value(json_object_get(m, "displayName")), "Certs");
    cr_assert_str_eq(json_string_value(json_object_get(m, "bucket")), "main");
    cr_assert(json_equal(json_object_get(m, "signature"),
                         json_array_get(json_object_get(m, "signatures"), 0)));
    json_decref(j);
    resp_free(&r);

    /* _expected selects the long lifetime (max of cache_expires and the maximum). */
    get(&r, s, "/v1/buckets/main/collections/certs/changeset?_expected=3000", NULL);
    cr_assert_str_eq(hdr(&r, "Cache-Control"), "max-age=3600");
    resp_free(&r);
    get(&r, s, "/v1/buckets/main/collections/certs/changeset?_expected=0", NULL);
    cr_assert_str_eq(hdr(&r, "Cache-Control"), "max-age=120");
    resp_free(&r);
    get(&r, s, "/v1/buckets/main/collections/addons/changeset", NULL);
    cr_assert_str_eq(hdr(&r, "Cache-Control"), "max-age=60", "server default");
    static const char empty[] =
        "{\"changes\":[],\"metadata\":{\"bucket\":\"main\",\"signature\":{\"head\":{\"bucket\":"
        "\"main\",\"collection\":\"addons\",\"expires\":86405000,\"records\":0,\"sha256\":"
        "\"4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945\",\"timestamp\":5000},"
        "\"key_id\":\"";
    cr_assert_eq(strncmp(r.body.data, empty, sizeof(empty) - 1), 0, "%s", r.body.data);
    resp_free(&r);
    snapset_release(s);
}

Test(routes, conditional_requests)
{
    snapset *s = simple_set(NOW);
    static const struct {
        const char *inm;
        int status;
    } cases[] = {
        {"\"3000\"", 304}, {"W/\"3000\"", 304}, {"\"1\", \"3000\"", 304}, {"*", 304},
        {"\"2999\"", 200}, {"3000", 200},       {"\"30000\"", 200},       {"W/\"1\", x", 200},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char h[128];
        snprintf(h, sizeof(h), "If-None-Match: %s\r\nAccept-Encoding: zstd\r\n", cases[i].inm);
        resp r;
        get(&r, s, "/v1/buckets/main/collections/certs/changeset?_since=1500", h);
        cr_assert_eq(r.status, cases[i].status, "If-None-Match: %s", cases[i].inm);
        cr_assert_str_eq(hdr(&r, "ETag"), "\"3000\"");
        cr_assert_str_eq(hdr(&r, "Vary"), "Accept-Encoding");
        cr_assert_not_null(hdr(&r, "Cache-Control"));
        cr_assert_not_null(hdr(&r, "Last-Modified"));
        if (r.status == 304) {
            cr_assert_eq(r.wire_len, 0);
            cr_assert_null(hdr(&r, "Content-Encoding"));
        }
        resp_free(&r);
    }
    /* The monitor's ETag is the newest version. */
    resp r;
    get(&r, s, "/v1/buckets/monitor/collections/changes/changeset?_expected=5000",
        "If-None-Match: \"5000\"\r\n");
    cr_assert_eq(r.status, 304);
    cr_assert_str_eq(hdr(&r, "Cache-Control"), "max-age=600");
    resp_free(&r);
    snapset_release(s);
}

Test(routes, since_limit_and_horizon)
{
    snapset *s = simple_set(NOW);
    resp r;
    get(&r, s, "/v1/buckets/main/collections/certs/changeset?_since=%221500%22", NULL);
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    json_t *ch = json_object_get(j, "changes");
    cr_assert_eq(json_array_size(ch), 3, "a, z (tombstone), c");
    cr_assert(json_is_true(json_object_get(json_array_get(ch, 1), "deleted")));
    json_decref(j);
    resp_free(&r);

    get(&r, s, "/v1/buckets/main/collections/certs/changeset?_since=1500&_limit=1", NULL);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "changes")), 1);
    json_decref(j);
    resp_free(&r);

    get(&r, s, "/v1/buckets/main/collections/certs/changeset?_limit=2", NULL);
    j = body_json(&r);
    ch = json_object_get(j, "changes");
    cr_assert_eq(json_array_size(ch), 2, "the newest two live records");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ch, 1), "id")), "c");
    json_decref(j);
    resp_free(&r);

    get(&r, s, "/v1/buckets/main/collections/certs/changeset?_since=abc", NULL);
    cr_assert_eq(r.status, 400);
    resp_free(&r);
    get(&r, s,
        "/v1/buckets/main/collections/certs/changeset?_limit=%22"
        "2%22",
        NULL);
    cr_assert_eq(r.status, 400);
    resp_free(&r);
    snapset_release(s);

    /* Arrived at 2 days + 2 s: the horizon (1 day) floor is at 1 day + 2 s, so any
     * _since below it gets the full changeset, tombstones left out. */
    s = simple_set(2 * 86400000LL + 2000);
    herald_buf full = HERALD_BUF_INIT;
    get(&r, s, "/v1/buckets/main/collections/certs/changeset", NULL);
    herald_buf_append(&full, r.body.data, r.body.len);
    resp_free(&r);
    get(&r, s, "/v1/buckets/main/collections/certs/changeset?_since=1500&_limit=1", NULL);
    cr_assert_eq(r.body.len, full.len);
    cr_assert_eq(memcmp(r.body.data, full.data, full.len), 0);
    resp_free(&r);
    herald_buf_free(&full);
    snapset_release(s);
}

Test(routes, head_options_errors)
{
    snapset *s = simple_set(NOW);
    resp r, g;
    request(&r, s, "HEAD /v1/buckets/main/collections/certs/changeset HTTP/1.1\r\nHost: t\r\n\r\n");
    get(&g, s, "/v1/buckets/main/collections/certs/changeset", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.wire_len, 0);
    cr_assert_eq(strtoul(hdr(&r, "Content-Length"), NULL, 10), g.body.len);
    resp_free(&r);
    resp_free(&g);

    request(&r, s,
            "OPTIONS /v1/buckets/main/collections/certs/changeset HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "Access-Control-Allow-Methods"), "GET, HEAD, OPTIONS");
    resp_free(&r);

    request(&r, s, "POST /v1/buckets/main/collections/certs/changeset HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(r.status, 405);
    json_t *j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "errno")), 115);
    json_decref(j);
    resp_free(&r);

    get(&r, s, "/v1/buckets/main/collections/nope/changeset", NULL);
    cr_assert_eq(r.status, 404);
    j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "errno")), 111);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "details"), "id")),
                     "nope");
    json_decref(j);
    resp_free(&r);

    static const char *const unknown[] = {"/",
                                          "/v1",
                                          "/v2/",
                                          "/v1/buckets/main/groups/g",
                                          "/v1/buckets/main/collections/certs/changesetx",
                                          "/v1/buckets/a%20b",
                                          "/v1/__heartbeat__/x"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        get(&r, s, unknown[i], NULL);
        cr_assert_eq(r.status, 404, "%s", unknown[i]);
        resp_free(&r);
    }

    /* HTTP/1.0 keep-alive is announced; Connection: close is honoured. */
    request(&r, s, "GET /v1/__lbheartbeat__ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert_str_eq(hdr(&r, "Connection"), "keep-alive");
    resp_free(&r);
    request(&r, s, "GET /v1/__lbheartbeat__ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    cr_assert_str_eq(hdr(&r, "Connection"), "close");
    resp_free(&r);
    snapset_release(s);
}

Test(routes, encodings_decode_to_identity)
{
    /* A collection large enough that every coding is smaller than identity. */
    json_t *recs = json_array();
    for (int i = 0; i < 300; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%03d", i);
        json_array_append_new(recs, rec(id, 10000 + i));
    }
    coll *c = make_coll("main", "big", 10299, recs, NULL, NULL, NOW);
    json_decref(recs);
    snapset *s = snapset_new(&c, 1);
    static const char *const targets[] = {
        "/v1/buckets/main/collections/big/changeset",
        "/v1/buckets/main/collections/big/changeset?_since=10290",
        "/v1/buckets/main/collections/big/changeset?_since=10298",
        "/v1/buckets/main/collections/big/changeset?_since=10299",
        "/v1/buckets/monitor/collections/changes/changeset",
        "/v1/buckets/monitor/collections/changes/records",
    };
    static const struct {
        const char *ae, *want;
    } codings[] = {
        {"gzip", "gzip"},
        {"zstd", "zstd"},
        {"gzip, deflate, br, zstd", "zstd"},
        {"gzip;q=1, zstd;q=0.1", "gzip"},
        {"identity", NULL},
        {"br", NULL},
    };
    for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
        resp id;
        get(&id, s, targets[t], NULL);
        cr_assert_eq(id.status, 200);
        cr_assert_null(hdr(&id, "Content-Encoding"));
        for (size_t k = 0; k < sizeof(codings) / sizeof(codings[0]); k++) {
            char h[128];
            snprintf(h, sizeof(h), "Accept-Encoding: %s\r\n", codings[k].ae);
            resp r;
            get(&r, s, targets[t], h);
            const char *ce = hdr(&r, "Content-Encoding");
            /* The monitor of one collection is too small to gain from compression. */
            if (codings[k].want && strstr(targets[t], "/big/")) {
                cr_assert_not_null(ce, "%s with %s", targets[t], codings[k].ae);
                cr_assert_str_eq(ce, codings[k].want);
                cr_assert_lt(r.wire_len, id.body.len);
            } else if (!codings[k].want) {
                cr_assert_null(ce);
            }
            cr_assert_str_eq(hdr(&r, "ETag"), "\"10299\"");
            cr_assert_str_eq(hdr(&r, "Vary"), "Accept-Encoding");
            cr_assert_eq(r.body.len, id.body.len, "%s with %s", targets[t], codings[k].ae);
            cr_assert_eq(memcmp(r.body.data, id.body.data, id.body.len), 0);
            resp_free(&r);
        }
        resp_free(&id);
    }
    snapset_release(s);
}

/* Reference for _since: entries with lm > S, newest first, ties by id. */
static int
ref_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t lx = json_integer_value(json_object_get(x, "last_modified"));
    json_int_t ly = json_integer_value(json_object_get(y, "last_modified"));
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "id")),
                  json_string_value(json_object_get(y, "id")));
}

Test(routes, since_matches_a_reference_on_random_collections)
{
    unsigned seed = 42;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff)
    for (int round = 0; round < 40; round++) {
        size_t nrec = RND() % 60, ntomb = RND() % 10;
        int64_t base = 1000000, spread = 1 + RND() % 200; /* small spread: many ties */
        json_t *recs = json_array(), *tombs = json_array(), *all = json_array();
        int64_t version = base;
        for (size_t i = 0; i < nrec + ntomb; i++) {
            char id[24];
            snprintf(id, sizeof(id), "%c%03zu", i < nrec ? 'r' : 't', i);
            int64_t lm = base + RND() % spread;
            version = lm > version ? lm : version;
            json_t *e = i < nrec ? rec(id, lm)
                                 : json_pack("{s:b,s:s,s:I}", "deleted", 1, "id", id,
                                             "last_modified", (json_int_t)lm);
            json_array_append(i < nrec ? recs : tombs, e);
            json_array_append_new(all, e);
        }
        version += RND() % 3; /* sometimes a re-sign above every entry */
        coll *c = make_coll("b", "c", version, recs, tombs, NULL, NOW);
        snapset *s = snapset_new(&c, 1);
        size_t n = json_array_size(all);
        json_t **sorted = calloc(n + 1, sizeof(json_t *));
        for (size_t i = 0; i < n; i++)
            sorted[i] = json_array_get(all, i);
        qsort(sorted, n, sizeof(*sorted), ref_cmp);

        for (int q = 0; q < 12; q++) {
            int64_t since = base - 2 + RND() % (spread + 4);
            char target[128];
            snprintf(target, sizeof(target), "/v1/buckets/b/collections/c/changeset?_since=%lld",
                     (long long)since);
            for (int enc = 0; enc < 3; enc++) {
                resp r;
                get(&r, s, target,
                    enc == 0   ? NULL
                    : enc == 1 ? "Accept-Encoding: gzip\r\n"
                               : "Accept-Encoding: zstd\r\n");
                cr_assert_eq(r.status, 200);
                json_t *j = body_json(&r);
                json_t *ch = json_object_get(j, "changes");
                size_t k = 0;
                for (size_t i = 0; i < n; i++) {
                    if (json_integer_value(json_object_get(sorted[i], "last_modified")) <= since)
                        continue;
                    cr_assert(json_equal(json_array_get(ch, k), sorted[i]),
                              "round %d since %lld: entry %zu differs", round, (long long)since, k);
                    k++;
                }
                cr_assert_eq(json_array_size(ch), k, "round %d since %lld", round,
                             (long long)since);
                cr_assert_eq(json_integer_value(json_object_get(j, "timestamp")), version);
                json_decref(j);
                resp_free(&r);
            }
        }
        free(sorted);
        json_decref(recs);
        json_decref(tombs);
        json_decref(all);
        snapset_release(s);
    }
}

/* The _since answers are byte for byte {"changes":[ + the JCS of the entries newer than
 * S, newest first, joined by ',' + the changeset's tail, in identity and decoded from
 * every coding, for every S between two entries: the cached deltas hold no identity
 * copy (encode.h payload_new_parts: slices of the coll's listing), their compressed
 * forms are built from those slices, and a client that takes no coding of them gets the
 * slices. Records and tombstones with ties, on the calling thread's compression and on
 * the upgrader's (best levels), including k = every entry with tombstones (cached when
 * the collection has few versions). */
Test(routes, since_bodies_are_the_prefix_bytes_in_every_coding)
{
    static const char *const codings[] = {NULL, "gzip", "zstd", "gzip, zstd", "br", "identity"};
    size_t from_cache = 0, answers = 0;
    for (int up = 0; up < 2; up++) {
        if (up)
            cr_assert_eq(encode_start(), 0);
        for (int shape = 0; shape < 2; shape++) {
            /* shape 0: 400 entries, many versions (only the newest are cached);
             * shape 1: 12 entries, every boundary cached, k = n included. */
            size_t nrec = shape ? 9 : 360, ntomb = shape ? 3 : 40;
            json_t *recs = json_array(), *tombs = json_array(), *all = json_array();
            int64_t version = 0;
            for (size_t i = 0; i < nrec + ntomb; i++) {
                char id[24];
                snprintf(id, sizeof(id), "%c%03zu", i < nrec ? 'r' : 't', i);
                int64_t lm = 20000 + (int64_t)((i * 7919) % (nrec + ntomb)) / 2; /* ties */
                version = lm > version ? lm : version;
                json_t *e = i < nrec ? rec(id, lm)
                                     : json_pack("{s:b,s:s,s:I}", "deleted", 1, "id", id,
                                                 "last_modified", (json_int_t)lm);
                json_array_append(i < nrec ? recs : tombs, e);
                json_array_append_new(all, e);
            }
            coll *c = make_coll("b", "c", version, recs, tombs, NULL, NOW);
            snapset *s = snapset_new(&c, 1);
            if (up)
                encode_drain();
            size_t n = json_array_size(all);
            json_t **sorted = calloc(n + 1, sizeof(json_t *));
            for (size_t i = 0; i < n; i++)
                sorted[i] = json_array_get(all, i);
            qsort(sorted, n, sizeof(*sorted), ref_cmp);
            /* The tail, from the full changeset as served: after its last record. */
            resp full;
            get(&full, s, "/v1/buckets/b/collections/c/changeset", NULL);
            const char *tail = strstr(full.body.data, "],\"metadata\":");
            cr_assert_not_null(tail);
            for (int64_t since = 20000 - 1; since <= version; since++) {
                herald_buf want = HERALD_BUF_INIT;
                herald_buf_puts(&want, "{\"changes\":[");
                size_t k = 0;
                for (size_t i = 0; i < n; i++) {
                    if (json_integer_value(json_object_get(sorted[i], "last_modified")) <= since)
                        continue;
                    if (k++)
                        herald_buf_putc(&want, ',');
                    cr_assert_eq(herald_jcs_dump(&want, sorted[i]), 0);
                }
                herald_buf_puts(&want, tail);
                const payload *cached = coll_delta_cached(c, k);
                char target[128];
                snprintf(target, sizeof(target),
                         "/v1/buckets/b/collections/c/changeset?_since=%lld", (long long)since);
                for (size_t e = 0; e < sizeof(codings) / sizeof(codings[0]); e++) {
                    char h[64];
                    snprintf(h, sizeof(h), "Accept-Encoding: %s\r\n", codings[e]);
                    resp r;
                    get(&r, s, target, codings[e] ? h : NULL);
                    cr_assert_eq(r.status, 200);
                    cr_assert(r.body.len == want.len && !memcmp(r.body.data, want.data, want.len),
                              "up %d shape %d since %lld (k %zu) %s:\n%s\n%s", up, shape,
                              (long long)since, k, codings[e] ? codings[e] : "-", r.body.data,
                              want.data);
                    const char *ce = hdr(&r, "Content-Encoding");
                    /* Control: a cached delta is served compressed to whoever takes it. */
                    if (cached && codings[e] && strcmp(codings[e], "br") &&
                        strcmp(codings[e], "identity")) {
                        cr_assert_not_null(ce, "since %lld k %zu %s", (long long)since, k,
                                           codings[e]);
                        from_cache++;
                    } else if (!cached || !codings[e] || !strcmp(codings[e], "br") ||
                               !strcmp(codings[e], "identity")) {
                        cr_assert_null(ce);
                    }
                    answers++;
                    resp_free(&r);
                }
                herald_buf_free(&want);
            }
            /* Control: shape 1 caches the whole listing with its tombstones. */
            if (shape)
                cr_assert_not_null(coll_delta_cached(c, n));
            resp_free(&full);
            free(sorted);
            json_decref(recs);
            json_decref(tombs);
            json_decref(all);
            snapset_release(s);
        }
        if (up)
            encode_stop();
    }
    cr_assert_gt(from_cache, 100, "compressed answers from the cache: %zu of %zu", from_cache,
                 answers);
}

Test(routes, delta_cache_is_bounded_and_hit_for_recent_versions)
{
    json_t *recs = json_array();
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%03d", i);
        json_array_append_new(recs, rec(id, 5000 + i));
    }
    coll *c = make_coll("b", "c", 5199, recs, NULL, NULL, NOW);
    json_decref(recs);
    cr_assert_eq(c->ndc, DELTA_VERSIONS);
    cr_assert_leq(c->dc_bytes, c->full->len > DELTA_CACHE_MIN ? c->full->len : DELTA_CACHE_MIN);
    for (size_t k = 0; k < DELTA_VERSIONS; k++)
        cr_assert_not_null(coll_delta_cached(c, k), "k=%zu", k);
    cr_assert_null(coll_delta_cached(c, DELTA_VERSIONS + 1));
    cr_assert_eq(coll_delta_cached(c, 200), c->full, "all records, no tombstones: the full body");
    coll_release(c);
}

Test(routes, monitor_and_filters)
{
    snapset *s = simple_set(NOW);
    resp r;
    get(&r, s, "/v1/buckets/monitor/collections/changes/changeset", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "ETag"), "\"5000\"");
    cr_assert_str_eq(hdr(&r, "Cache-Control"), "max-age=30");
    json_t *j = body_json(&r);
    json_t *ch = json_object_get(j, "changes");
    cr_assert_eq(json_array_size(ch), 2);
    json_t *first = json_array_get(ch, 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "collection")), "addons");
    cr_assert_str_eq(json_string_value(json_object_get(first, "host")), "cdn.example.net");
    cr_assert_eq(strlen(json_string_value(json_object_get(first, "id"))), 36);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "metadata"), "bucket")),
                     "monitor");
    json_decref(j);
    resp_free(&r);

    get(&r, s, "/v1/buckets/monitor/collections/changes/changeset?_since=4000", NULL);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "changes")), 1);
    json_decref(j);
    resp_free(&r);
    get(&r, s, "/v1/buckets/monitor/collections/changes/changeset?collection=certs", NULL);
    j = body_json(&r);
    ch = json_object_get(j, "changes");
    cr_assert_eq(json_array_size(ch), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(ch, 0), "last_modified")), 3000);
    json_decref(j);
    resp_free(&r);
    get(&r, s, "/v1/buckets/monitor/collections/changes/changeset?bucket=other", NULL);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "changes")), 0);
    json_decref(j);
    resp_free(&r);
    get(&r, s, "/v1/buckets/monitor/collections/changes/records", NULL);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "data")), 2);
    json_decref(j);
    resp_free(&r);
    snapset_release(s);

    /* Nothing published yet: an empty list, 404 for collections. */
    s = snapset_new(NULL, 0);
    get(&r, s, "/v1/buckets/monitor/collections/changes/changeset", NULL);
    cr_assert_str_eq(r.body.data, "{\"changes\":[],\"metadata\":{\"bucket\":\"monitor\"},"
                                  "\"timestamp\":0}");
    resp_free(&r);
    snapset_release(s);
}

Test(routes, operational_endpoints)
{
    snapset *s = simple_set(NOW);
    resp r;
    /* No Redis sync ran in this process: not loaded, Redis down, and both snapshots
     * (expiring at version + 1 day, in 1970) have expired. */
    get(&r, s, "/v1/__heartbeat__", NULL);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(
        r.body.data,
        "{\"collections\":2,\"expired\":[\"main/addons\",\"main/certs\"],\"invalid\":[],"
        "\"redis\":false,\"snapshots\":false}");
    cr_assert_str_eq(hdr(&r, "Cache-Control"), "no-cache");
    resp_free(&r);
    get(&r, s, "/v1/__lbheartbeat__", NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    get(&r, s, "/v1/__version__", NULL);
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "version")), HERALD_VERSION);
    cr_assert_not_null(json_object_get(j, "commit"));
    cr_assert_not_null(json_object_get(j, "source"));
    json_decref(j);
    resp_free(&r);

    get(&r, s, "/v1/buckets/main/collections/certs/changeset", "If-None-Match: \"3000\"\r\n");
    resp_free(&r);
    get(&r, s, "/metrics", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    static const char *const lines[] = {
        "herald_http_requests_total{route=\"heartbeat\",status=\"503\"} 1\n",
        "herald_http_requests_total{route=\"changeset\",status=\"304\"} 1\n",
        "herald_http_requests_total{route=\"version\",status=\"200\"} 1\n",
        "herald_http_not_modified_ratio 1.000000\n",
        "herald_snapshots 2\n",
        "herald_redis_up 0\n",
        "herald_seconds_since_last_update -1\n",
        "herald_monitor_timestamp_seconds 5.000\n",
        "herald_snapshot_version_timestamp_seconds{bucket=\"main\",collection=\"certs\"} 3.000\n",
        "herald_snapshot_expired{bucket=\"main\",collection=\"certs\"} 1\n",
        "herald_snapshot_records{bucket=\"main\",collection=\"certs\"} 3\n",
        "herald_snapshot_update_lag_seconds{bucket=\"main\",collection=\"certs\"} 49997.000\n",
        "herald_snapshot_body_bytes{bucket=\"main\",collection=\"certs\",encoding=\"identity\"} ",
        "# TYPE herald_http_response_bytes_total counter\n",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        cr_assert_not_null(strstr(r.body.data, lines[i]), "missing: %s", lines[i]);
    resp_free(&r);
    snapset_release(s);
}

/* A set of one collection signed now (its signature expires in a day, see
 * make_snapshot), as a healthy server holds. */
static snapset *
fresh_set(void)
{
    int64_t now = herald_clock_wall_ms();
    json_t *recs = json_array();
    json_array_append_new(recs, rec("a", now - 1000));
    coll *c = make_coll("main", "certs", now, recs, NULL, NULL, now);
    json_decref(recs);
    return snapset_new(&c, 1);
}

Test(routes, heartbeat_healthy_and_each_cause)
{
    snapset *s = fresh_set();
    resp r;
    /* Loaded, Redis up, a fresh signature: the one 200. */
    status_set_loaded();
    status_set_redis_ok(1);
    get(&r, s, "/v1/__heartbeat__", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, "{\"collections\":1,\"expired\":[],\"invalid\":[],\"redis\":true,"
                                  "\"snapshots\":true}");
    cr_assert_str_eq(hdr(&r, "Cache-Control"), "no-cache");
    resp_free(&r);
    /* HEAD: the same status, no body. */
    request(&r, s, "HEAD /v1/__heartbeat__ HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body.len, 0);
    resp_free(&r);

    /* Redis lost: 503, the snapshots still good. */
    status_set_redis_ok(0);
    get(&r, s, "/v1/__heartbeat__", NULL);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body.data,
                     "{\"collections\":1,\"expired\":[],\"invalid\":[],\"redis\":false,"
                     "\"snapshots\":true}");
    resp_free(&r);

    /* Redis back but nothing published: 503 (a server on the wrong database). */
    status_set_redis_ok(1);
    snapset *empty = snapset_new(NULL, 0);
    get(&r, empty, "/v1/__heartbeat__", NULL);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body.data, "{\"collections\":0,\"expired\":[],\"invalid\":[],\"redis\":true,"
                                  "\"snapshots\":false}");
    resp_free(&r);
    snapset_release(empty);

    /* A collection whose newest stored snapshot does not verify: 503, named; served
     * again once a later version verifies. */
    status_set_invalid("main", "addons", 1);
    get(&r, s, "/v1/__heartbeat__", NULL);
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body.data, "{\"collections\":1,\"expired\":[],\"invalid\":"
                                  "[\"main/addons\"],\"redis\":true,\"snapshots\":false}");
    resp_free(&r);
    get(&r, s, "/metrics", NULL);
    cr_assert_not_null(strstr(r.body.data, "herald_snapshots_invalid 1\n"));
    resp_free(&r);
    status_set_invalid("main", "addons", 0);
    get(&r, s, "/v1/__heartbeat__", NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);

    /* /metrics shows the same gauges, given by status.c. */
    status_set_last_update(1);
    get(&r, s, "/metrics", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body.data, "herald_redis_up 1\n"));
    cr_assert_not_null(strstr(r.body.data, "herald_snapshots_loaded 1\n"));
    cr_assert_null(strstr(r.body.data, "herald_seconds_since_last_update -1\n"));
    cr_assert_not_null(strstr(r.body.data, "herald_http_requests_total{route=\"heartbeat\","
                                           "status=\"200\"} 3\n"));
    cr_assert_not_null(strstr(r.body.data, "herald_http_requests_total{route=\"heartbeat\","
                                           "status=\"503\"} 3\n"));
    resp_free(&r);
    snapset_release(s);
}

/* ---- Backoff ----------------------------------------------------------------------- */

/* One request of each kind of response: versioned (prebuilt heads: full, compressed,
 * delta, 304, HEAD), computed bodies, errors and the unversioned operational answers. */
static const struct {
    const char *raw;
    int status;
    int versioned; /* exposes Backoff with the prebuilt list, not a line of its own */
} kinds[] = {
    {"GET /v1/buckets/main/collections/certs/changeset HTTP/1.1\r\nHost: t\r\n\r\n", 200, 1},
    {"GET /v1/buckets/main/collections/certs/changeset HTTP/1.1\r\nHost: t\r\n"
     "Accept-Encoding: zstd\r\n\r\n",
     200, 1},
    {"GET /v1/buckets/main/collections/certs/changeset?_since=1500 HTTP/1.1\r\nHost: t\r\n\r\n",
     200, 1},
    {"GET /v1/buckets/main/collections/certs/changeset?_since=1500&_limit=1 HTTP/1.1\r\n"
     "Host: t\r\n\r\n",
     200, 1},
    {"GET /v1/buckets/main/collections/certs/changeset HTTP/1.1\r\nHost: t\r\n"
     "If-None-Match: \"3000\"\r\n\r\n",
     304, 1},
    {"HEAD /v1/buckets/main/collections/certs/changeset HTTP/1.1\r\nHost: t\r\n\r\n", 200, 1},
    {"GET /v1/buckets/monitor/collections/changes/changeset HTTP/1.1\r\nHost: t\r\n"
     "Connection: close\r\n\r\n",
     200, 1},
    {"GET /v1/buckets/monitor/collections/changes/changeset HTTP/1.1\r\nHost: t\r\n"
     "If-None-Match: \"5000\"\r\n\r\n",
     304, 1},
    {"GET /v1/buckets/main/collections/certs HTTP/1.1\r\nHost: t\r\n\r\n", 200, 1},
    {"GET /v1/buckets/main/collections/certs/records HTTP/1.1\r\nHost: t\r\n\r\n", 200, 1},
    {"GET /v1/buckets/main/collections/certs/records/a HTTP/1.1\r\nHost: t\r\n\r\n", 200, 1},
    {"GET /v1/buckets/main/collections/certs/changeset?_since=abc HTTP/1.1\r\nHost: t\r\n\r\n", 400,
     0},
    {"GET /v1/buckets/main/collections/nope/changeset HTTP/1.1\r\nHost: t\r\n\r\n", 404, 0},
    {"POST /v1/buckets/main/collections/certs/changeset HTTP/1.1\r\nHost: t\r\n\r\n", 405, 0},
    {"OPTIONS /v1/buckets/main/collections/certs/changeset HTTP/1.1\r\nHost: t\r\n\r\n", 200, 0},
    {"GET /v1/__heartbeat__ HTTP/1.1\r\nHost: t\r\n\r\n", 503, 0},
    {"GET /v1/__lbheartbeat__ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, 0},
    {"GET /v1/__version__ HTTP/1.1\r\nHost: t\r\n\r\n", 200, 0},
    {"GET /v1/ HTTP/1.1\r\nHost: t\r\n\r\n", 200, 0},
    {"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", 200, 0},
};

/* Every kind of response with Backoff 'secs' (0: none): the header, its CORS exposure,
 * and the rest of the head intact. */
static void
check_backoff_everywhere(const snapset *s, int secs)
{
    char want[16];
    snprintf(want, sizeof(want), "%d", secs);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        resp r;
        request(&r, s, kinds[i].raw);
        cr_assert_eq(r.status, kinds[i].status, "%s", kinds[i].raw);
        const char *b = hdr(&r, "Backoff");
        if (!secs) {
            cr_assert_null(b, "Backoff while off: %s", r.head);
        } else {
            cr_assert_not_null(b, "no Backoff: %s", r.head);
            cr_assert_str_eq(b, want, "%s", r.head);
            const char *ex = hdr(&r, "Access-Control-Expose-Headers");
            cr_assert(ex && strstr(ex, "Backoff"), "Backoff not exposed: %s", r.head);
            if (!kinds[i].versioned)
                cr_assert_str_eq(ex, "Backoff");
        }
        /* The head around it is unchanged: one Backoff line at most, a blank line. */
        const char *first = strstr(r.head, "\r\nBackoff: ");
        cr_assert(!first || !strstr(first + 2, "\r\nBackoff: "), "%s", r.head);
        if (strstr(kinds[i].raw, "Connection: close"))
            cr_assert_str_eq(hdr(&r, "Connection"), "close");
        if (strstr(kinds[i].raw, "HTTP/1.0"))
            cr_assert_str_eq(hdr(&r, "Connection"), "keep-alive");
        if (r.status == 304)
            cr_assert_eq(r.wire_len, 0);
        else if (!strncmp(kinds[i].raw, "GET", 3))
            cr_assert_gt(r.body.len, 0, "%s", kinds[i].raw);
        resp_free(&r);
    }
}

Test(routes, backoff_on_every_response_while_set)
{
    snapset *s = simple_set(NOW);
    resp r;
    check_backoff_everywhere(s, 0);
    get(&r, s, "/metrics", NULL);
    cr_assert_not_null(strstr(r.body.data, "# TYPE herald_backoff_seconds gauge\n"));
    cr_assert_not_null(strstr(r.body.data, "herald_backoff_seconds 0\n"));
    resp_free(&r);

    status_set_backoff(30);
    check_backoff_everywhere(s, 30);
    get(&r, s, "/metrics", NULL);
    cr_assert_not_null(strstr(r.body.data, "herald_backoff_seconds 30\n"));
    resp_free(&r);

    /* The largest value fits the versioned head's buffer, a 304 and a long body. */
    status_set_backoff(2147483647);
    check_backoff_everywhere(s, 2147483647);

    /* Cleared: gone from every response, the heads as before. */
    status_set_backoff(-5);
    check_backoff_everywhere(s, 0);
    get(&r, s, "/metrics", NULL);
    cr_assert_not_null(strstr(r.body.data, "herald_backoff_seconds 0\n"));
    resp_free(&r);
    snapset_release(s);
}

/* ---- Kinto read-only GETs ---------------------------------------------------------- */

static const char *
ids_of(const json_t *arr)
{
    static char buf[256];
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, json_string_value(json_object_get(json_array_get(arr, i), "id")));
    }
    return buf;
}

Test(routes, kinto_root_bucket_collection)
{
    snapset *s = simple_set(NOW);
    resp r;
    get(&r, s, "/v1/", NULL);
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    json_t *signer = json_object_get(json_object_get(j, "capabilities"), "herald_signatures");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(signer, "public_keys"), 0), "public_key")),
                     herald_crypto_signkey_public(g_key)->b64);
    cr_assert(json_is_true(json_object_get(json_object_get(j, "settings"), "readonly")));
    cr_assert_str_eq(json_string_value(json_object_get(j, "url")), "http://cdn.example.net/v1/");
    json_decref(j);
    resp_free(&r);

    get(&r, s, "/v1/buckets/main", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "ETag"), "\"5000\"", "the newest snapshot's bucket");
    cr_assert_str_eq(r.body.data, "{\"data\":{\"id\":\"main\",\"last_modified\":5000}}");
    resp_free(&r);
    get(&r, s, "/v1/buckets/main", "If-None-Match: \"5000\"\r\n");
    cr_assert_eq(r.status, 304);
    resp_free(&r);
    get(&r, s, "/v1/buckets/other", NULL);
    cr_assert_eq(r.status, 404);
    j = body_json(&r);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "details"), "resource_name")),
        "bucket");
    json_decref(j);
    resp_free(&r);

    get(&r, s, "/v1/buckets/main/collections/certs", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "ETag"), "\"3000\"");
    j = body_json(&r);
    json_t *d = json_object_get(j, "data");
    cr_assert_str_eq(json_string_value(json_object_get(d, "displayName")), "Certs");
    cr_assert_str_eq(json_string_value(json_object_get(d, "id")), "certs");
    cr_assert_null(json_object_get(j, "permissions"));
    json_decref(j);
    resp_free(&r);
    get(&r, s, "/v1/buckets/main/collections/nope", NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    get(&r, s, "/v1/buckets/nope/collections/certs/records", NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    snapset_release(s);
}

Test(routes, kinto_view_built_on_use_dropped_when_idle)
{
    /* The parsed records exist only once a Kinto read needed them, go when unused for
     * the idle time, and are built again, with the same answers, on the next read. */
    snapset *s = simple_set(NOW);
    const coll *c = snapset_find(s, "main", 4, "certs", 5);
    const char *url = "/v1/buckets/main/collections/certs/records";
    cr_assert_null(atomic_load(&c->view), "no view before a Kinto read");
    resp r;
    get(&r, s, url, NULL);
    cr_assert_eq(r.status, 200);
    char *first = strdup(r.body.data);
    resp_free(&r);
    cr_assert_not_null(atomic_load(&c->view));
    int64_t now = herald_clock_wall_ms();
    cr_assert_eq(coll_view_drop_idle(c, now, 60000), 0, "used just now: kept");
    cr_assert_not_null(atomic_load(&c->view));
    /* A reader holding the view keeps it alive while the coll drops it. */
    const coll_view *held = coll_view_acquire(c, NULL, now); /* built: 'build' unused */
    cr_assert_eq(coll_view_drop_idle(c, now + 61000, 60000), 1, "idle: dropped");
    cr_assert_null(atomic_load(&c->view));
    cr_assert_eq(atomic_load(&held->refs), 1, "only the reader's reference left");
    coll_view_release(held);
    get(&r, s, url, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, first, "rebuilt: the same answer");
    resp_free(&r);
    cr_assert_not_null(atomic_load(&c->view));
    free(first);
    snapset_release(s);
}

Test(routes, kinto_records_list_and_record)
{
    snapset *s = simple_set(NOW);
    resp r;
    const char *base = "/v1/buckets/main/collections/certs/records";
    char t[512];
    get(&r, s, base, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "ETag"), "\"3000\"");
    cr_assert_str_eq(hdr(&r, "Total-Records"), "3");
    cr_assert_null(hdr(&r, "Next-Page"));
    json_t *j = body_json(&r);
    cr_assert_str_eq(ids_of(json_object_get(j, "data")), "a,c,b", "newest first");
    json_decref(j);
    resp_free(&r);

    snprintf(t, sizeof(t), "%s?_sort=id", base);
    get(&r, s, t, NULL);
    j = body_json(&r);
    cr_assert_str_eq(ids_of(json_object_get(j, "data")), "a,b,c");
    json_decref(j);
    resp_free(&r);

    snprintf(t, sizeof(t), "%s?_since=1500", base);
    get(&r, s, t, NULL);
    j = body_json(&r);
    cr_assert_str_eq(ids_of(json_object_get(j, "data")), "a,z,c", "tombstones with _since");
    json_decref(j);
    resp_free(&r);

    snprintf(t, sizeof(t), "%s?gt_last_modified=1000&_fields=title", base);
    get(&r, s, t, NULL);
    cr_assert_str_eq(hdr(&r, "Total-Records"), "2");
    j = body_json(&r);
    cr_assert_eq(json_object_size(json_array_get(json_object_get(j, "data"), 0)), 3,
                 "id, last_modified, title");
    json_decref(j);
    resp_free(&r);

    /* Pagination: follow Next-Page until the end. */
    snprintf(t, sizeof(t), "%s?_limit=1&_sort=-id", base);
    herald_buf seen = HERALD_BUF_INIT;
    for (int page = 0; page < 5; page++) {
        get(&r, s, t, NULL);
        cr_assert_eq(r.status, 200);
        j = body_json(&r);
        herald_buf_puts(&seen, ids_of(json_object_get(j, "data")));
        json_decref(j);
        const char *next = hdr(&r, "Next-Page");
        if (!next) {
            resp_free(&r);
            break;
        }
        const char *prefix = "http://cdn.example.net";
        cr_assert_eq(strncmp(next, prefix, strlen(prefix)), 0, "%s", next);
        snprintf(t, sizeof(t), "%s", next + strlen(prefix));
        resp_free(&r);
    }
    cr_assert_str_eq(herald_buf_cstr(&seen), "cba");
    herald_buf_free(&seen);

    snprintf(t, sizeof(t), "%s?_since=abc", base);
    get(&r, s, t, NULL);
    cr_assert_eq(r.status, 400);
    j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "errno")), 107);
    json_decref(j);
    resp_free(&r);

    get(&r, s, base, "If-None-Match: \"3000\"\r\n");
    cr_assert_eq(r.status, 304);
    resp_free(&r);

    snprintf(t, sizeof(t), "%s/c", base);
    get(&r, s, t, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "ETag"), "\"2000\"");
    j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "id")), "c");
    json_decref(j);
    resp_free(&r);
    get(&r, s, t, "If-None-Match: \"2000\"\r\n");
    cr_assert_eq(r.status, 304);
    resp_free(&r);
    snprintf(t, sizeof(t), "%s/z", base);
    get(&r, s, t, NULL);
    cr_assert_eq(r.status, 404, "a tombstone is not a record");
    j = body_json(&r);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "details"), "resource_name")),
        "record");
    json_decref(j);
    resp_free(&r);
    snapset_release(s);
}

/* The signed monitor (snapset_new_signed): the unfiltered changeset carries the
 * signatures, timestamp and ETag M, and entries with sha256, and verifies with
 * lib/monitor.c as a client does; subsets (_since, filters) carry no signature. */
Test(routes, signed_monitor_served_unfiltered_only)
{
    snapset *base = simple_set(NOW);
    herald_monitor_entry e[2] = {
        {"main", "certs", 3000, "1111111111111111111111111111111111111111111111111111111111111111"},
        {"main", "addons", 5000,
         "2222222222222222222222222222222222222222222222222222222222222222"}};
    herald_monitor_head h;
    herald_monitor_build(&h, e, 2, 6000, NOW + 3600000);
    json_t *sigs = json_array();
    json_array_append_new(sigs, herald_monitor_sign_entry(g_key, &h));
    herald_buf b = HERALD_BUF_INIT;
    cr_assert_eq(herald_monitor_encode(&b, e, 2, sigs), 0);
    json_t *body = herald_jcs_parse(b.data, b.len, 0, 0, NULL, 0);
    cr_assert_not_null(body);
    snapset_monitor sm = {body, h.timestamp, h.expires};
    for (size_t i = 0; i < base->n; i++)
        coll_ref(base->colls[i]);
    snapset *s = snapset_new_signed(base->colls, base->n, &sm);
    snapset_release(base);

    resp r;
    get(&r, s, "/v1/buckets/monitor/collections/changes/changeset?_expected=6000", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "ETag"), "\"6000\"");
    json_t *j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "timestamp")), 6000);
    json_t *meta = json_object_get(j, "metadata");
    cr_assert(json_equal(json_object_get(meta, "signature"),
                         json_array_get(json_object_get(meta, "signatures"), 0)));
    json_t *ch = json_object_get(j, "changes");
    cr_assert_eq(json_array_size(ch), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ch, 0), "collection")),
                     "addons", "newest first");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ch, 0), "sha256")),
                     "2222222222222222222222222222222222222222222222222222222222222222");
    herald_monitor_head got;
    char err[256];
    cr_assert_eq(herald_monitor_verify(&got, ch, json_object_get(meta, "signatures"), 6000, NOW,
                                       6000, herald_crypto_signkey_public(g_key), 1, err,
                                       sizeof(err)),
                 HERALD_MONITOR_OK, "%s", err);
    json_decref(j);
    resp_free(&r);

    get(&r, s, "/v1/buckets/monitor/collections/changes/changeset", "If-None-Match: \"6000\"\r\n");
    cr_assert_eq(r.status, 304);
    resp_free(&r);

    const char *subsets[] = {"?_since=4000", "?collection=certs", "?bucket=main", "?_limit=1",
                             "?_since=0"};
    for (size_t i = 0; i < sizeof(subsets) / sizeof(subsets[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "/v1/buckets/monitor/collections/changes/changeset%s",
                 subsets[i]);
        get(&r, s, path, NULL);
        j = body_json(&r);
        meta = json_object_get(j, "metadata");
        cr_assert_null(json_object_get(meta, "signatures"), "%s carries no signature", subsets[i]);
        cr_assert_null(json_object_get(meta, "signature"), "%s", subsets[i]);
        cr_assert_eq(json_integer_value(json_object_get(j, "timestamp")), 6000, "%s", subsets[i]);
        cr_assert_not_null(
            json_object_get(json_array_get(json_object_get(j, "changes"), 0), "sha256"), "%s",
            subsets[i]);
        json_decref(j);
        resp_free(&r);
    }
    get(&r, s, "/v1/buckets/monitor/collections/changes/changeset?collection=certs", NULL);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "changes")), 1);
    json_decref(j);
    resp_free(&r);
    get(&r, s, "/v1/buckets/monitor/collections/changes/records", NULL);
    j = body_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "data")), 2);
    cr_assert_null(json_object_get(j, "metadata"));
    json_decref(j);
    resp_free(&r);

    snapset_release(s);
    json_decref(body);
    json_decref(sigs);
    herald_buf_free(&b);
}
