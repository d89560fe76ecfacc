/*
 * snapshot -- see include/herald/snapshot.h for the format; this file is its only
 * implementation, shared by the signer (sign, encode), the read server (decode, verify)
 * and clients (verify).
 *
 * head JCS is written directly instead of building a json_t and canonicalizing it: the six
 * keys are fixed, so their order is fixed too (UTF-16 order of ASCII keys is byte order):
 *
 *   {"bucket":B,"collection":C,"expires":E,"records":N,"sha256":H,"timestamp":V}
 *
 * Integers in [-(2^53-1), 2^53-1] print as plain decimals, which is also their ECMAScript
 * form; anything outside is printed as ECMAScript would print the double it rounds to
 * (herald_jcs_number), so a JavaScript client recomputing the head gets the same bytes.
 * head_parse only accepts values in [0, 2^53-1] anyway.
 *
 * Verification fails closed: the chosen entry (the first pinned key that has one) must
 * pass every check; a bad entry for a pinned key is never skipped in favour of another.
 *
 * Blob decoding trusts nothing: exactly one zstd frame whose declared content size is at
 * most HERALD_SNAPSHOT_MAX_BLOB, every length checked against what remains, no trailing
 * bytes. The decompressed buffer is kept and records_json points into it; once the
 * tombstones have been parsed, the byte after records_json (the first byte of
 * tombstones_len, no longer needed) is overwritten with a NUL so records_json is also a C
 * string, without copying a possibly large array.
 *
 * herald_snapshot_decode_indexed skips the records' parse when the scanner (lib/jscan.c)
 * accepts records_json: a read server's cold start needs only each record's bytes, id
 * and last_modified, and the jansson tree per record was most of its time. The scanner
 * accepts a subset of what jansson does, so an indexed blob is one the parse accepts
 * with the same ids; otherwise the parse runs as before and words the error.
 */
#include "herald/snapshot.h"
#include "herald/err.h"

#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "herald/jcs.h"
#include "herald/jscan.h"

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 */
#define BLOB_MAGIC "HSB1"

struct herald_snapshot {
    char *buf; /* decompressed content; records_json points into it */
    size_t buf_len;
    json_t *meta; /* owns bucket, collection, metadata, bucket_data, signatures */
    json_t *records;
    json_t *tombstones;
    const char *bucket;
    const char *collection;
    int64_t timestamp;
    const char *records_json;
    size_t records_len;
    herald_jscan_elem *rindex; /* herald_snapshot_decode_indexed: records not parsed */
    size_t rcount;
};

static void
put_int(herald_buf *out, int64_t v)
{
    if (v >= -MAX_SAFE_INT && v <= MAX_SAFE_INT) {
        herald_buf_put_i64(out, (long long)v);
    } else {
        char tmp[40];
        int n = herald_jcs_number(tmp, (double)v);
        herald_buf_append(out, tmp, n > 0 ? (size_t)n : 0);
    }
}

void
herald_snapshot_head_jcs(herald_buf *out, const herald_head *h)
{
    herald_buf_puts(out, "{\"bucket\":");
    herald_jcs_string(out, h->bucket, strlen(h->bucket));
    herald_buf_puts(out, ",\"collection\":");
    herald_jcs_string(out, h->collection, strlen(h->collection));
    herald_buf_puts(out, ",\"expires\":");
    put_int(out, h->expires);
    herald_buf_puts(out, ",\"records\":");
    put_int(out, h->records);
    herald_buf_puts(out, ",\"sha256\":");
    herald_jcs_string(out, h->sha256, strlen(h->sha256));
    herald_buf_puts(out, ",\"timestamp\":");
    put_int(out, h->timestamp);
    herald_buf_putc(out, '}');
}

void
herald_snapshot_message(herald_buf *out, const herald_head *h)
{
    /* The prefix and its NUL separate this message from any other use of the key: no
     * JSON text starts with "herald-snapshot-v1\0". */
    herald_buf_append(out, HERALD_SNAPSHOT_PREFIX, sizeof(HERALD_SNAPSHOT_PREFIX));
    herald_snapshot_head_jcs(out, h);
}

static int
is_lower_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return i == 64;
}

int
herald_snapshot_head_parse(herald_head *out, const json_t *obj, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *sha;
    if (!json_is_object(obj)) {
        herald_err_set(err, errlen, "head is not an object");
        goto err;
    }
    if (json_object_size(obj) != 6) {
        herald_err_set(err, errlen,
                       "head must have exactly the keys bucket, collection, timestamp, "
                       "expires, records, sha256");
        goto err;
    }
    if (!(out->bucket = herald_jcs_get_cstring(json_object_get(obj, "bucket")))) {
        herald_err_set(err, errlen, "head.bucket missing or not a string");
        goto err;
    }
    if (!(out->collection = herald_jcs_get_cstring(json_object_get(obj, "collection")))) {
        herald_err_set(err, errlen, "head.collection missing or not a string");
        goto err;
    }
    if (herald_jcs_get_uint53(&out->timestamp, json_object_get(obj, "timestamp")) < 0) {
        herald_err_set(err, errlen, "head.timestamp missing or not an integer");
        goto err;
    }
    if (herald_jcs_get_uint53(&out->expires, json_object_get(obj, "expires")) < 0) {
        herald_err_set(err, errlen, "head.expires missing or not an integer");
        goto err;
    }
    if (herald_jcs_get_uint53(&out->records, json_object_get(obj, "records")) < 0) {
        herald_err_set(err, errlen, "head.records missing or not an integer");
        goto err;
    }
    if (!(sha = herald_jcs_get_cstring(json_object_get(obj, "sha256"))) || !is_lower_hex64(sha)) {
        herald_err_set(err, errlen, "head.sha256 missing or not 64 lowercase hex digits");
        goto err;
    }
    memcpy(out->sha256, sha, 65);
    return 0;

err:
    memset(out, 0, sizeof(*out));
    return -1;
}

json_t *
herald_snapshot_sign_entry(const herald_signkey *k, const herald_head *h)
{
    herald_buf msg = HERALD_BUF_INIT;
    char sig[HERALD_SIG_B64_LEN + 1];
    json_t *entry = NULL;

    herald_snapshot_message(&msg, h);
    if (herald_crypto_sign(sig, k, msg.data, msg.len) != 0)
        goto out;
    entry = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:I, s:I, s:I, s:s}}", "mode", "ed25519",
                      "key_id", herald_crypto_signkey_public(k)->key_id, "signature", sig, "head",
                      "bucket", h->bucket, "collection", h->collection, "timestamp",
                      (json_int_t)h->timestamp, "expires", (json_int_t)h->expires, "records",
                      (json_int_t)h->records, "sha256", h->sha256);

out:
    herald_buf_free(&msg);
    return entry;
}

const json_t *
herald_snapshot_find_entry(const json_t *signatures, const herald_pubkey *keys, size_t nkeys,
                           size_t *key_index)
{
    if (!json_is_array(signatures))
        return NULL;
    for (size_t k = 0; k < nkeys; k++) {
        size_t i;
        const json_t *e;
        json_array_foreach(signatures, i, e)
        {
            const char *id = herald_jcs_get_cstring(json_object_get(e, "key_id"));
            if (id && strcmp(id, keys[k].key_id) == 0) {
                if (key_index)
                    *key_index = k;
                return e;
            }
        }
    }
    return NULL;
}

int
herald_snapshot_verify(const char *records_json, size_t records_len, int64_t nrecords,
                       const json_t *signatures, const char *bucket, const char *collection,
                       int64_t timestamp, int64_t now_ms, const herald_pubkey *keys, size_t nkeys,
                       char *err, size_t errlen)
{
    char sha[65];
    herald_crypto_sha256_hex(sha, records_json, records_len);
    return herald_snapshot_verify_sha256(sha, nrecords, signatures, bucket, collection, timestamp,
                                         now_ms, keys, nkeys, err, errlen);
}

int
herald_snapshot_verify_sha256(const char sha[65], int64_t nrecords, const json_t *signatures,
                              const char *bucket, const char *collection, int64_t timestamp,
                              int64_t now_ms, const herald_pubkey *keys, size_t nkeys, char *err,
                              size_t errlen)
{
    herald_buf msg = HERALD_BUF_INIT;
    herald_head h;
    size_t ki = 0;
    char why[160];
    int rc = -1;

    if (!json_is_array(signatures)) {
        herald_err_set(err, errlen, "signatures is not an array");
        goto out;
    }
    const json_t *e = herald_snapshot_find_entry(signatures, keys, nkeys, &ki);
    if (!e) {
        herald_err_set(err, errlen, "no signature by a pinned key");
        goto out;
    }
    const char *mode = herald_jcs_get_cstring(json_object_get(e, "mode"));
    if (!mode || strcmp(mode, "ed25519") != 0) {
        herald_err_set(err, errlen, "signature mode is not ed25519");
        goto out;
    }
    const char *sig = herald_jcs_get_cstring(json_object_get(e, "signature"));
    if (!sig) {
        herald_err_set(err, errlen, "signature missing");
        goto out;
    }
    if (herald_snapshot_head_parse(&h, json_object_get(e, "head"), why, sizeof(why)) < 0) {
        herald_err_set(err, errlen, "%s", why);
        goto out;
    }
    if (!bucket || strcmp(h.bucket, bucket) != 0) {
        herald_err_set(err, errlen, "head.bucket is not the served bucket");
        goto out;
    }
    if (!collection || strcmp(h.collection, collection) != 0) {
        herald_err_set(err, errlen, "head.collection is not the served collection");
        goto out;
    }
    if (h.timestamp != timestamp) {
        herald_err_set(err, errlen, "head.timestamp %lld is not the served timestamp %lld",
                       (long long)h.timestamp, (long long)timestamp);
        goto out;
    }
    if (h.records != nrecords) {
        herald_err_set(err, errlen, "head.records %lld does not match %lld records",
                       (long long)h.records, (long long)nrecords);
        goto out;
    }
    if (strcmp(sha, h.sha256) != 0) {
        herald_err_set(err, errlen, "head.sha256 does not match the records");
        goto out;
    }
    if (now_ms != 0 && !(h.expires > now_ms)) {
        herald_err_set(err, errlen, "signature expired at %lld (now %lld)", (long long)h.expires,
                       (long long)now_ms);
        goto out;
    }
    herald_snapshot_message(&msg, &h);
    if (herald_crypto_verify(&keys[ki], sig, msg.data, msg.len) != 0) {
        herald_err_set(err, errlen, "bad signature (key_id %s)", keys[ki].key_id);
        goto out;
    }
    rc = 0;

out:
    herald_buf_free(&msg);
    return rc;
}

static void
put_u32be(herald_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    herald_buf_append(b, p, 4);
}

static uint32_t
get_u32be(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends a u32be length placeholder; returns its offset. */
static size_t
begin_section(herald_buf *b)
{
    size_t at = b->len;
    put_u32be(b, 0);
    return at;
}

/* Fills the placeholder at 'at' with the length of what follows it. */
static int
end_section(herald_buf *b, size_t at)
{
    size_t n = b->len - at - 4;
    if (n > UINT32_MAX)
        return -1;
    unsigned char *p = (unsigned char *)b->data + at;
    p[0] = (unsigned char)(n >> 24);
    p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
    return 0;
}

int
herald_snapshot_encode(herald_buf *out, const herald_snapshot_parts *p, int zstd_level)
{
    herald_buf raw = HERALD_BUF_INIT;
    int rc = -1;
    if (herald_snapshot_encode_raw(&raw, p) < 0)
        goto out;
    size_t bound = ZSTD_compressBound(raw.len);
    herald_buf_reserve(out, bound);
    size_t z = ZSTD_compress(out->data + out->len, bound, raw.data, raw.len, zstd_level);
    if (ZSTD_isError(z))
        goto out;
    out->len += z;
    rc = 0;
out:
    herald_buf_free(&raw);
    return rc;
}

int
herald_snapshot_encode_raw(herald_buf *raw, const herald_snapshot_parts *p)
{
    json_t *empty_obj = json_object();
    json_t *empty_arr = json_array();
    int rc = -1;
    size_t at;

    if (!empty_obj || !empty_arr || !p->bucket || !p->collection)
        goto out;
    herald_buf_append(raw, BLOB_MAGIC, 4);

    /* meta, keys in JCS order: bucket, bucket_data, collection, metadata, signatures,
     * timestamp, tombstones_since. */
    at = begin_section(raw);
    herald_buf_puts(raw, "{\"bucket\":");
    herald_jcs_string(raw, p->bucket, strlen(p->bucket));
    herald_buf_puts(raw, ",\"bucket_data\":");
    if (herald_jcs_dump(raw, p->bucket_data ? p->bucket_data : empty_obj) < 0)
        goto out;
    herald_buf_puts(raw, ",\"collection\":");
    herald_jcs_string(raw, p->collection, strlen(p->collection));
    herald_buf_puts(raw, ",\"metadata\":");
    if (herald_jcs_dump(raw, p->metadata ? p->metadata : empty_obj) < 0)
        goto out;
    herald_buf_puts(raw, ",\"signatures\":");
    if (herald_jcs_dump(raw, p->signatures ? p->signatures : empty_arr) < 0)
        goto out;
    herald_buf_puts(raw, ",\"timestamp\":");
    put_int(raw, p->timestamp);
    if (p->tombstones_since > 0) {
        herald_buf_puts(raw, ",\"tombstones_since\":");
        put_int(raw, p->tombstones_since);
    }
    herald_buf_putc(raw, '}');
    if (end_section(raw, at) < 0)
        goto out;

    at = begin_section(raw);
    if (p->records_json && p->records_len)
        herald_buf_append(raw, p->records_json, p->records_len);
    else
        herald_buf_puts(raw, "[]");
    if (end_section(raw, at) < 0)
        goto out;

    at = begin_section(raw);
    if (p->tombstones_json)
        herald_buf_append(raw, p->tombstones_json, p->tombstones_len);
    else if (herald_jcs_dump(raw, p->tombstones ? p->tombstones : empty_arr) < 0)
        goto out;
    if (end_section(raw, at) < 0)
        goto out;

    /* The decoder refuses anything bigger: do not store what no reader will load. */
    if (raw->len > HERALD_SNAPSHOT_MAX_BLOB)
        goto out;
    rc = 0;

out:
    json_decref(empty_obj);
    json_decref(empty_arr);
    return rc;
}

void
herald_snapshot_free(herald_snapshot *s)
{
    if (!s)
        return;
    json_decref(s->meta);
    json_decref(s->records);
    json_decref(s->tombstones);
    free(s->rindex);
    free(s->buf);
    free(s);
}

/* Takes the next u32be-length section out of [*p, end). */
static int
take_section(const char **sec, size_t *seclen, const char **p, const char *end)
{
    if ((size_t)(end - *p) < 4)
        return -1;
    uint32_t n = get_u32be((const unsigned char *)*p);
    *p += 4;
    if ((size_t)(end - *p) < n)
        return -1;
    *sec = *p;
    *seclen = n;
    *p += n;
    return 0;
}

/* Indexes records_json with the scanner (lib/jscan.c). Returns 0, or -1 when it refuses
 * the text (the caller parses it with jansson instead). */
static int
index_records(herald_snapshot *s, const char *recs, size_t len)
{
    herald_jscan it;
    herald_jscan_elem e;
    size_t cap = 16;
    int rc;
    s->rindex = herald_mem_alloc(cap * sizeof(*s->rindex));
    s->rcount = 0;
    herald_jscan_init(&it, recs, len);
    while ((rc = herald_jscan_next(&it, &e)) == 1) {
        if (!e.id) { /* jansson's path words the error */
            rc = -1;
            break;
        }
        if (s->rcount == cap) {
            cap *= 2;
            s->rindex = herald_mem_realloc(s->rindex, cap * sizeof(*s->rindex));
        }
        s->rindex[s->rcount++] = e;
    }
    if (rc < 0) {
        free(s->rindex);
        s->rindex = NULL;
        s->rcount = 0;
        return -1;
    }
    return 0;
}

static herald_snapshot *
decode(const void *blob, size_t len, int indexed, char *err, size_t errlen)
{
    herald_snapshot *s = herald_mem_calloc(1, sizeof(*s));
    char why[200];
    const char *meta, *recs, *tombs;
    size_t meta_len, tombs_len;
    int64_t ts;

    size_t frame = ZSTD_findFrameCompressedSize(blob, len);
    if (ZSTD_isError(frame) || frame != len) {
        herald_err_set(err, errlen, "blob is not exactly one zstd frame");
        goto err;
    }
    unsigned long long size = ZSTD_getFrameContentSize(blob, len);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) {
        herald_err_set(err, errlen, "blob has no declared content size");
        goto err;
    }
    if (size > HERALD_SNAPSHOT_MAX_BLOB) {
        herald_err_set(err, errlen, "blob content size %llu above the limit", size);
        goto err;
    }
    s->buf = herald_mem_alloc((size_t)size + 1);
    size_t got = ZSTD_decompress(s->buf, (size_t)size, blob, len);
    if (ZSTD_isError(got) || got != size) {
        herald_err_set(err, errlen, "blob decompression failed");
        goto err;
    }
    s->buf_len = got;
    s->buf[got] = '\0';

    const char *p = s->buf;
    const char *end = s->buf + got;
    if (got < 4 || memcmp(p, BLOB_MAGIC, 4) != 0) {
        herald_err_set(err, errlen, "blob magic is not " BLOB_MAGIC);
        goto err;
    }
    p += 4;
    if (take_section(&meta, &meta_len, &p, end) < 0 ||
        take_section(&recs, &s->records_len, &p, end) < 0 ||
        take_section(&tombs, &tombs_len, &p, end) < 0 || p != end) {
        herald_err_set(err, errlen, "blob sections truncated or followed by junk");
        goto err;
    }

    s->meta = herald_jcs_parse(meta, meta_len, 0, 0, why, sizeof(why));
    if (!s->meta) {
        herald_err_set(err, errlen, "blob meta: %s", why);
        goto err;
    }
    if (!json_is_object(s->meta) ||
        !(s->bucket = herald_jcs_get_cstring(json_object_get(s->meta, "bucket"))) ||
        !(s->collection = herald_jcs_get_cstring(json_object_get(s->meta, "collection"))) ||
        herald_jcs_get_uint53(&ts, json_object_get(s->meta, "timestamp")) < 0 ||
        !json_is_object(json_object_get(s->meta, "metadata")) ||
        !json_is_object(json_object_get(s->meta, "bucket_data")) ||
        !json_is_array(json_object_get(s->meta, "signatures"))) {
        herald_err_set(err, errlen,
                       "blob meta lacks bucket, collection, timestamp, metadata, "
                       "bucket_data or signatures");
        goto err;
    }
    s->timestamp = ts;

    if (indexed && index_records(s, recs, s->records_len) == 0)
        goto tombstones;
    s->records = herald_jcs_parse(recs, s->records_len, 0, 0, why, sizeof(why));
    if (!s->records || !json_is_array(s->records)) {
        herald_err_set(err, errlen, "blob records: %s", s->records ? "not an array" : why);
        goto err;
    }
tombstones:
    s->tombstones = herald_jcs_parse(tombs, tombs_len, 0, 0, why, sizeof(why));
    if (!s->tombstones || !json_is_array(s->tombstones)) {
        herald_err_set(err, errlen, "blob tombstones: %s", s->tombstones ? "not an array" : why);
        goto err;
    }

    /* Everything after records_json has been parsed: terminate it in place. */
    s->records_json = recs;
    s->buf[recs - s->buf + s->records_len] = '\0';
    return s;

err:
    herald_snapshot_free(s);
    return NULL;
}

herald_snapshot *
herald_snapshot_decode(const void *blob, size_t len, char *err, size_t errlen)
{
    return decode(blob, len, 0, err, errlen);
}

herald_snapshot *
herald_snapshot_decode_indexed(const void *blob, size_t len, char *err, size_t errlen)
{
    return decode(blob, len, 1, err, errlen);
}

const herald_jscan_elem *
herald_snapshot_record_index(const herald_snapshot *s, size_t *n)
{
    if (n)
        *n = s->rcount;
    return s->rindex;
}

size_t
herald_snapshot_record_count(const herald_snapshot *s)
{
    return s->rindex ? s->rcount : json_array_size(s->records);
}

const char *
herald_snapshot_bucket(const herald_snapshot *s)
{
    return s->bucket;
}

const char *
herald_snapshot_collection(const herald_snapshot *s)
{
    return s->collection;
}

int64_t
herald_snapshot_timestamp(const herald_snapshot *s)
{
    return s->timestamp;
}

int64_t
herald_snapshot_tombstones_since(const herald_snapshot *s)
{
    int64_t v;
    return herald_jcs_get_uint53(&v, json_object_get(s->meta, "tombstones_since")) == 0 ? v : -1;
}

const json_t *
herald_snapshot_metadata(const herald_snapshot *s)
{
    return json_object_get(s->meta, "metadata");
}

const json_t *
herald_snapshot_bucket_data(const herald_snapshot *s)
{
    return json_object_get(s->meta, "bucket_data");
}

const json_t *
herald_snapshot_signatures(const herald_snapshot *s)
{
    return json_object_get(s->meta, "signatures");
}

const json_t *
herald_snapshot_records(const herald_snapshot *s)
{
    return s->records;
}

const json_t *
herald_snapshot_tombstones(const herald_snapshot *s)
{
    return s->tombstones;
}

const char *
herald_snapshot_records_json(const herald_snapshot *s, size_t *len)
{
    if (len)
        *len = s->records_len;
    return s->records_json;
}

char *
herald_snapshot_take_buffer(herald_snapshot *s)
{
    char *b = s->buf;
    s->buf = NULL;
    return b;
}

int64_t
herald_snapshot_expires(const herald_snapshot *s)
{
    int64_t min = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(herald_snapshot_signatures(s), i, e)
    {
        herald_head h;
        if (herald_snapshot_head_parse(&h, json_object_get(e, "head"), NULL, 0) < 0)
            continue;
        if (min == 0 || h.expires < min)
            min = h.expires;
    }
    return min;
}

int
herald_snapshot_verify_decoded(const herald_snapshot *s, int64_t now_ms, const herald_pubkey *keys,
                               size_t nkeys, char *err, size_t errlen)
{
    return herald_snapshot_verify(s->records_json, s->records_len,
                                  (int64_t)herald_snapshot_record_count(s),
                                  herald_snapshot_signatures(s), s->bucket, s->collection,
                                  s->timestamp, now_ms, keys, nkeys, err, errlen);
}
