/*
 * test_fixture -- see test_fixture.h. Written for clarity, not speed: fixtures are built
 * once per test or benchmark run.
 */
#include "test_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/clock.h"

char *
fixture_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    herald_buf b = HERALD_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        herald_buf_append(&b, chunk, n);
    fclose(fp);
    herald_buf_cstr(&b);
    return herald_buf_steal(&b, len);
}

void
fixture_source_dir(char *out, size_t outlen)
{
    const char *src = getenv("HERALD_SOURCE_DIR");
    if (src) {
        snprintf(out, outlen, "%s", src);
    } else {
        const char *f = __FILE__;
        const char *cut = strstr(f, "tests/support/");
        snprintf(out, outlen, "%.*s", cut ? (int)(cut - f) : 0, f);
        if (out[0] == '\0')
            snprintf(out, outlen, ".");
    }
    size_t n = strlen(out);
    if (n > 1 && out[n - 1] == '/')
        out[n - 1] = '\0';
}

static int
cmp_id(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
                  json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

json_t *
fixture_sorted_by_id(const json_t *records)
{
    size_t n = json_array_size(records);
    json_t **v = herald_mem_calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(records, i);
    qsort(v, n, sizeof(*v), cmp_id);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    return out;
}

int
fixture_records_json(herald_buf *out, const json_t *records)
{
    json_t *sorted = fixture_sorted_by_id(records);
    int rc = herald_jcs_dump(out, sorted);
    json_decref(sorted);
    return rc == 0 ? 0 : -1;
}

void
fixture_head(herald_head *h, const char *bucket, const char *collection, int64_t timestamp,
             int64_t expires, const char *rj, size_t rlen, int64_t n)
{
    memset(h, 0, sizeof(*h));
    h->bucket = bucket;
    h->collection = collection;
    h->timestamp = timestamp;
    h->expires = expires;
    h->records = n;
    herald_crypto_sha256_hex(h->sha256, rj, rlen);
}

herald_signkey *
fixture_signkey(unsigned char first, unsigned char step)
{
    unsigned char seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)(first + i * step);
    return herald_crypto_signkey_from_seed(seed);
}

json_t *
fixture_sign_records(const herald_signkey *k, const char *bucket, const char *collection,
                     const json_t *records, int64_t timestamp, int64_t expires, herald_buf *rj)
{
    herald_buf own = HERALD_BUF_INIT;
    herald_buf *b = rj ? rj : &own;
    json_t *e = NULL;
    herald_head h;
    herald_buf_reset(b);
    if (fixture_records_json(b, records) == 0) {
        fixture_head(&h, bucket, collection, timestamp, expires, b->data, b->len,
                     (int64_t)json_array_size(records));
        e = herald_snapshot_sign_entry(k, &h);
    }
    herald_buf_free(&own);
    return e;
}

herald_snapshot_parts
fixture_parts_of(const herald_snapshot *s)
{
    size_t rlen;
    const char *rj = herald_snapshot_records_json(s, &rlen);
    return (herald_snapshot_parts){.bucket = herald_snapshot_bucket(s),
                                   .collection = herald_snapshot_collection(s),
                                   .timestamp = herald_snapshot_timestamp(s),
                                   .metadata = herald_snapshot_metadata(s),
                                   .bucket_data = herald_snapshot_bucket_data(s),
                                   .signatures = herald_snapshot_signatures(s),
                                   .records_json = rj,
                                   .records_len = rlen,
                                   .tombstones = herald_snapshot_tombstones(s)};
}

double
fixture_mono_ms(void)
{
    return (double)herald_clock_mono_ns() / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void
fixture_sort_samples(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
}

double
fixture_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}
