/*
 * bench_delta_apply -- the read server's work per version built from a delta, alone: no
 * Redis, no signer, no other process, so the figures do not depend on what else runs.
 *
 *   bench_delta_apply [RECORDS (default 100000)] [VERSIONS (default 40)]
 *
 * A collection of RECORDS synthetic records (~190 bytes each, random ids, so id order
 * and newest-first order are unrelated, as with UUIDs) is built from its full blob as a
 * cold start does; then VERSIONS versions of one edited record each are built from their
 * deltas as server/loader.c does (herald_state_apply_borrowing, then coll_new_state
 * with the previous coll). Prints the median, p90 and max of each step (ms): apply (parse
 * and merge the delta), verify (SHA-256 of the records and Ed25519), build (listing,
 * bodies, cached deltas; not compression: it runs on another thread).
 * Setting up each version (the signer's side: joining and hashing the records) is not
 * timed. As in the server (server/main.c), blocks of 256 KB or more are mappings of
 * their own, and the compression thread runs (encode.h; its work is not timed, but
 * it holds the freed bodies a build reuses).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "herald/clock.h"
#include "herald/crypto.h"
#include "herald/delta.h"
#include "herald/snapshot.h"
#include "snapset.h"
#include "test_fixture.h"

#define BID "main"
#define CID "bench"

typedef struct rec {
    char id[33];
    char *json;
    size_t len;
} rec;

static int
rec_cmp(const void *a, const void *b)
{
    return strcmp(((const rec *)a)->id, ((const rec *)b)->id);
}

static void
rec_set(rec *r, int64_t lm, unsigned salt)
{
    char value[141];
    for (size_t i = 0; i < sizeof(value) - 1; i++)
        value[i] = (char)('a' + (salt + i * 7) % 26);
    value[sizeof(value) - 1] = '\0';
    free(r->json);
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_printf(&b, "{\"id\":\"%s\",\"last_modified\":%lld,\"value\":\"%s\"}", r->id,
                      (long long)lm, value);
    r->len = b.len;
    r->json = herald_buf_steal(&b, NULL);
}

static void
join(herald_buf *out, const rec *v, size_t n)
{
    herald_buf_reset(out);
    herald_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            herald_buf_putc(out, ',');
        herald_buf_append(out, v[i].json, v[i].len);
    }
    herald_buf_putc(out, ']');
}

static json_t *
sign(const herald_signkey *k, const herald_buf *rj, size_t n, int64_t version)
{
    herald_head h = {BID, CID, version, version + 86400000, (int64_t)n, {0}};
    herald_crypto_sha256_hex(h.sha256, rj->data, rj->len);
    json_t *sigs = json_array();
    json_array_append_new(sigs, herald_snapshot_sign_entry(k, &h));
    return sigs;
}

static int
dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
report(const char *name, double *v, size_t n)
{
    qsort(v, n, sizeof(*v), dbl_cmp);
    printf("| %-7s | %8.2f | %8.2f | %8.2f |\n", name, v[n / 2], v[n * 9 / 10], v[n - 1]);
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    size_t versions = argc > 2 ? strtoul(argv[2], NULL, 10) : 40;
    if (n == 0 || versions == 0 || herald_crypto_init() != 0)
        return 2;
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    herald_signkey *key = fixture_signkey(7, 3);
    herald_pubkey pub = *herald_crypto_signkey_public(key);
    snapset_config cfg = {"", 60, 3600, 60, 3600, 30LL * 86400 * 1000, 1};
    snapset_configure(&cfg);
    if (encode_start() < 0)
        return 1;
    snapset_set_keys(&pub, 1);

    srand(7);
    rec *v = calloc(n, sizeof(*v));
    int64_t clock = 1700000000000;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 32; k++)
            v[i].id[k] = "0123456789abcdef"[rand() % 16];
        rec_set(&v[i], ++clock, (unsigned)rand());
    }
    qsort(v, n, sizeof(*v), rec_cmp);

    json_t *meta = json_object(), *bdata = json_pack("{s:s}", "id", BID);
    herald_buf rj = HERALD_BUF_INIT, blob = HERALD_BUF_INIT, delta = HERALD_BUF_INIT;
    join(&rj, v, n);
    int64_t version = ++clock;
    json_t *sigs = sign(key, &rj, n, version);
    herald_snapshot_parts p = {.bucket = BID,
                               .collection = CID,
                               .timestamp = version,
                               .metadata = meta,
                               .bucket_data = bdata,
                               .signatures = sigs,
                               .records_json = rj.data,
                               .records_len = rj.len,
                               .tombstones_json = "[]",
                               .tombstones_len = 2};
    char err[256];
    if (herald_snapshot_encode(&blob, &p, 1) < 0)
        return 1;
    json_decref(sigs);
    herald_snapshot *s = herald_snapshot_decode_indexed(blob.data, blob.len, err, sizeof(err));
    herald_state *st = s ? herald_state_take_snapshot(s, err, sizeof(err)) : NULL;
    coll *c = st ? coll_new_state(st, NULL, herald_clock_wall_ms(), err, sizeof(err)) : NULL;
    if (!c) {
        fprintf(stderr, "bench_delta_apply: cold start: %s\n", err);
        return 1;
    }
    printf("%zu records, records_json %.1f MB, %zu versions of one edit each\n\n", n,
           (double)rj.len / 1e6, versions);

    double *ta = calloc(versions, sizeof(double)), *tv = calloc(versions, sizeof(double)),
           *tb = calloc(versions, sizeof(double)), *tt = calloc(versions, sizeof(double));
    for (size_t k = 0; k < versions; k++) {
        /* The signer's side (not timed): one record changed, the new version signed. */
        size_t i = (size_t)rand() % n;
        int64_t base = version;
        version = ++clock;
        rec_set(&v[i], version, (unsigned)rand());
        join(&rj, v, n);
        sigs = sign(key, &rj, n, version);
        herald_buf drecs = HERALD_BUF_INIT;
        herald_buf_putc(&drecs, '[');
        herald_buf_append(&drecs, v[i].json, v[i].len);
        herald_buf_putc(&drecs, ']');
        herald_delta_parts d = {.bucket = BID,
                                .collection = CID,
                                .base = base,
                                .timestamp = version,
                                .metadata = meta,
                                .bucket_data = bdata,
                                .signatures = sigs,
                                .records_json = drecs.data,
                                .records_len = drecs.len,
                                .tombstones_json = "[]",
                                .tombstones_len = 2};
        herald_buf_reset(&delta);
        if (herald_delta_encode(&delta, &d) < 0)
            return 1;
        json_decref(sigs);
        herald_buf_free(&drecs);

        /* The read server's side, as server/loader.c's run_delta. */
        int64_t t0 = herald_clock_mono_ns();
        herald_state *next = herald_state_apply_borrowing(c->state, delta.data, delta.len, &pub, 1,
                                                          err, sizeof(err));
        if (!next) {
            fprintf(stderr, "bench_delta_apply: delta refused: %s\n", err);
            return 1;
        }
        int64_t apply_ns, verify_ns, t1 = herald_clock_mono_ns();
        herald_state_apply_timings(next, &apply_ns, &verify_ns);
        coll *nc = coll_new_state(next, c, herald_clock_wall_ms(), err, sizeof(err));
        int64_t t2 = herald_clock_mono_ns();
        if (!nc || !nc->from_base) {
            fprintf(stderr, "bench_delta_apply: build: %s\n", nc ? "built whole" : err);
            return 1;
        }
        coll_release(c);
        c = nc;
        ta[k] = (double)apply_ns / 1e6;
        tv[k] = (double)verify_ns / 1e6;
        tb[k] = (double)(t2 - t1) / 1e6;
        tt[k] = (double)(t2 - t0) / 1e6;
    }
    printf("| step    | p50 (ms) | p90 (ms) | max (ms) |\n|---|---|---|---|\n");
    report("apply", ta, versions);
    report("verify", tv, versions);
    report("build", tb, versions);
    report("total", tt, versions);

    coll_release(c);
    encode_stop();
    for (size_t i = 0; i < n; i++)
        free(v[i].json);
    free(v);
    free(ta);
    free(tv);
    free(tb);
    free(tt);
    json_decref(meta);
    json_decref(bdata);
    herald_buf_free(&rj);
    herald_buf_free(&blob);
    herald_buf_free(&delta);
    herald_crypto_signkey_free(key);
    snapset_unconfigure();
    return 0;
}
