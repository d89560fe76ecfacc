/*
 * monitor -- see include/herald/monitor.h for the format; the only implementation,
 * shared by the signer (build, sign, encode), the read server and clients (verify).
 *
 * JCS of the head and of each entry is written directly: their keys are fixed ASCII
 * names, so their canonical order is fixed too:
 *
 *   {"collections":N,"expires":E,"kind":"monitor","sha256":S,"timestamp":M}
 *   {"bucket":B,"collection":C,"last_modified":V,"sha256":H}
 *
 * Integers are in [0, 2^53-1] (parse refuses others), where the decimal form is also the
 * ECMAScript one. Bucket and collection go through herald_jcs_string, so a JavaScript
 * verifier gets the same bytes for any string.
 *
 * Verification never trusts the served order: it parses every entry, sorts copies of
 * the parsed entries, refuses duplicates, re-serializes and hashes. An attacker who
 * drops, adds, reorders or edits an entry changes the hash or the count.
 */
#include "herald/monitor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "herald/err.h"
#include "herald/jcs.h"

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 */

static const char *const status_names[] = {
    [HERALD_MONITOR_OK] = "ok",
    [HERALD_MONITOR_MALFORMED] = "malformed",
    [HERALD_MONITOR_UNPINNED] = "unpinned",
    [HERALD_MONITOR_HASH_MISMATCH] = "hash-mismatch",
    [HERALD_MONITOR_TIMESTAMP] = "timestamp-mismatch",
    [HERALD_MONITOR_BAD_SIGNATURE] = "bad-signature",
    [HERALD_MONITOR_EXPIRED] = "expired",
    [HERALD_MONITOR_ROLLBACK] = "rollback",
};

const char *
herald_monitor_status_name(enum herald_monitor_status st)
{
    if ((unsigned)st >= sizeof(status_names) / sizeof(status_names[0]))
        return "unknown";
    return status_names[st];
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

static int
entry_cmp(const void *a, const void *b)
{
    const herald_monitor_entry *x = a, *y = b;
    int c = strcmp(x->bucket, y->bucket);
    return c ? c : strcmp(x->collection, y->collection);
}

void
herald_monitor_sort(herald_monitor_entry *entries, size_t n)
{
    if (n > 1)
        qsort(entries, n, sizeof(*entries), entry_cmp);
}

void
herald_monitor_entries_jcs(herald_buf *out, const herald_monitor_entry *e, size_t n)
{
    herald_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            herald_buf_putc(out, ',');
        herald_buf_puts(out, "{\"bucket\":");
        herald_jcs_string(out, e[i].bucket, strlen(e[i].bucket));
        herald_buf_puts(out, ",\"collection\":");
        herald_jcs_string(out, e[i].collection, strlen(e[i].collection));
        herald_buf_puts(out, ",\"last_modified\":");
        herald_buf_put_i64(out, (long long)e[i].last_modified);
        herald_buf_puts(out, ",\"sha256\":");
        herald_jcs_string(out, e[i].sha256, strlen(e[i].sha256));
        herald_buf_putc(out, '}');
    }
    herald_buf_putc(out, ']');
}

void
herald_monitor_build(herald_monitor_head *head, herald_monitor_entry *entries, size_t n,
                     int64_t timestamp, int64_t expires)
{
    herald_buf j = HERALD_BUF_INIT;
    herald_monitor_sort(entries, n);
    herald_monitor_entries_jcs(&j, entries, n);
    memset(head, 0, sizeof(*head));
    head->timestamp = timestamp;
    head->expires = expires;
    head->collections = (int64_t)n;
    herald_crypto_sha256_hex(head->sha256, j.data, j.len);
    herald_buf_free(&j);
}

void
herald_monitor_head_jcs(herald_buf *out, const herald_monitor_head *h)
{
    herald_buf_puts(out, "{\"collections\":");
    herald_buf_put_i64(out, (long long)h->collections);
    herald_buf_puts(out, ",\"expires\":");
    herald_buf_put_i64(out, (long long)h->expires);
    herald_buf_puts(out, ",\"kind\":\"" HERALD_MONITOR_KIND "\",\"sha256\":");
    herald_jcs_string(out, h->sha256, strlen(h->sha256));
    herald_buf_puts(out, ",\"timestamp\":");
    herald_buf_put_i64(out, (long long)h->timestamp);
    herald_buf_putc(out, '}');
}

void
herald_monitor_message(herald_buf *out, const herald_monitor_head *h)
{
    /* sizeof includes the NUL: the separator byte. */
    herald_buf_append(out, HERALD_MONITOR_PREFIX, sizeof(HERALD_MONITOR_PREFIX));
    herald_monitor_head_jcs(out, h);
}

int
herald_monitor_head_parse(herald_monitor_head *out, const json_t *obj, char *err, size_t errlen)
{
    const char *kind, *sha;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj) || json_object_size(obj) != 5) {
        herald_err_set(err, errlen,
                       "monitor head must be an object with exactly the keys kind, timestamp, "
                       "expires, collections, sha256");
        goto err;
    }
    if (!(kind = herald_jcs_get_cstring(json_object_get(obj, "kind"))) ||
        strcmp(kind, HERALD_MONITOR_KIND) != 0) {
        herald_err_set(err, errlen, "monitor head.kind is not \"monitor\"");
        goto err;
    }
    if (herald_jcs_get_uint53(&out->timestamp, json_object_get(obj, "timestamp")) < 0 ||
        herald_jcs_get_uint53(&out->expires, json_object_get(obj, "expires")) < 0 ||
        herald_jcs_get_uint53(&out->collections, json_object_get(obj, "collections")) < 0) {
        herald_err_set(err, errlen,
                       "monitor head.timestamp, expires or collections missing or not an integer");
        goto err;
    }
    if (!(sha = herald_jcs_get_cstring(json_object_get(obj, "sha256"))) || !is_lower_hex64(sha)) {
        herald_err_set(err, errlen, "monitor head.sha256 missing or not 64 lowercase hex digits");
        goto err;
    }
    memcpy(out->sha256, sha, 65);
    return 0;
err:
    memset(out, 0, sizeof(*out));
    return -1;
}

json_t *
herald_monitor_sign_entry(const herald_signkey *k, const herald_monitor_head *h)
{
    herald_buf msg = HERALD_BUF_INIT;
    char sig[HERALD_SIG_B64_LEN + 1];
    json_t *entry = NULL;

    herald_monitor_message(&msg, h);
    if (herald_crypto_sign(sig, k, msg.data, msg.len) != 0)
        goto out;
    entry = json_pack("{s:s, s:s, s:s, s:{s:s, s:I, s:I, s:I, s:s}}", "mode", "ed25519", "key_id",
                      herald_crypto_signkey_public(k)->key_id, "signature", sig, "head", "kind",
                      HERALD_MONITOR_KIND, "timestamp", (json_int_t)h->timestamp, "expires",
                      (json_int_t)h->expires, "collections", (json_int_t)h->collections, "sha256",
                      h->sha256);
out:
    herald_buf_free(&msg);
    return entry;
}

int
herald_monitor_entry_parse(herald_monitor_entry *out, const json_t *obj, char *err, size_t errlen)
{
    const char *sha;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        herald_err_set(err, errlen, "monitor entry is not an object");
        return -1;
    }
    if (!(out->bucket = herald_jcs_get_cstring(json_object_get(obj, "bucket"))) ||
        !(out->collection = herald_jcs_get_cstring(json_object_get(obj, "collection")))) {
        herald_err_set(err, errlen, "monitor entry bucket or collection missing");
        return -1;
    }
    if (herald_jcs_get_uint53(&out->last_modified, json_object_get(obj, "last_modified")) < 0) {
        herald_err_set(err, errlen, "monitor entry %s/%s: last_modified not an integer",
                       out->bucket, out->collection);
        return -1;
    }
    if (!(sha = herald_jcs_get_cstring(json_object_get(obj, "sha256"))) || !is_lower_hex64(sha)) {
        herald_err_set(err, errlen, "monitor entry %s/%s: sha256 missing or malformed", out->bucket,
                       out->collection);
        return -1;
    }
    memcpy(out->sha256, sha, 65);
    return 0;
}

/* The first signature entry by one of 'keys' (in key order); its key in '*ki'. */
static const json_t *
find_entry(const json_t *signatures, const herald_pubkey *keys, size_t nkeys, size_t *ki)
{
    for (size_t k = 0; k < nkeys; k++) {
        size_t i;
        const json_t *e;
        json_array_foreach(signatures, i, e)
        {
            const char *id = herald_jcs_get_cstring(json_object_get(e, "key_id"));
            if (id && strcmp(id, keys[k].key_id) == 0) {
                *ki = k;
                return e;
            }
        }
    }
    return NULL;
}

enum herald_monitor_status
herald_monitor_verify(herald_monitor_head *head_out, const json_t *entries,
                      const json_t *signatures, int64_t served_ts, int64_t now_ms, int64_t min_ts,
                      const herald_pubkey *keys, size_t nkeys, char *err, size_t errlen)
{
    enum herald_monitor_status st = HERALD_MONITOR_MALFORMED;
    herald_monitor_entry *v = NULL;
    herald_buf j = HERALD_BUF_INIT, msg = HERALD_BUF_INIT;
    herald_monitor_head h;
    char why[200], sha[65];
    size_t ki = 0, n = 0;

    if (head_out)
        memset(head_out, 0, sizeof(*head_out));
    if (!json_is_array(entries) || !json_is_array(signatures)) {
        herald_err_set(err, errlen, "monitor entries or signatures is not an array");
        goto out;
    }
    const json_t *e = find_entry(signatures, keys, nkeys, &ki);
    if (!e) {
        st = HERALD_MONITOR_UNPINNED;
        herald_err_set(err, errlen, "no monitor signature by a pinned key");
        goto out;
    }
    const char *mode = herald_jcs_get_cstring(json_object_get(e, "mode"));
    const char *sig = herald_jcs_get_cstring(json_object_get(e, "signature"));
    if (!mode || strcmp(mode, "ed25519") != 0 || !sig) {
        herald_err_set(err, errlen, "monitor signature mode is not ed25519 or signature missing");
        goto out;
    }
    if (herald_monitor_head_parse(&h, json_object_get(e, "head"), why, sizeof(why)) < 0) {
        herald_err_set(err, errlen, "%s", why);
        goto out;
    }

    n = json_array_size(entries);
    v = calloc(n ? n : 1, sizeof(*v));
    if (!v) {
        herald_err_set(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (herald_monitor_entry_parse(&v[i], json_array_get(entries, i), why, sizeof(why)) < 0) {
            herald_err_set(err, errlen, "%s", why);
            goto out;
        }
    herald_monitor_sort(v, n);
    for (size_t i = 1; i < n; i++)
        if (entry_cmp(&v[i - 1], &v[i]) == 0) {
            herald_err_set(err, errlen, "monitor lists %s/%s twice", v[i].bucket, v[i].collection);
            goto out;
        }
    herald_monitor_entries_jcs(&j, v, n);
    herald_crypto_sha256_hex(sha, j.data, j.len);
    if (strcmp(sha, h.sha256) != 0 || h.collections != (int64_t)n) {
        st = HERALD_MONITOR_HASH_MISMATCH;
        herald_err_set(err, errlen,
                       "monitor entries (%zu) do not match head.sha256/collections (%lld)", n,
                       (long long)h.collections);
        goto out;
    }
    if (served_ts >= 0 && h.timestamp != served_ts) {
        st = HERALD_MONITOR_TIMESTAMP;
        herald_err_set(err, errlen, "monitor head.timestamp %lld is not the served timestamp %lld",
                       (long long)h.timestamp, (long long)served_ts);
        goto out;
    }
    herald_monitor_message(&msg, &h);
    if (herald_crypto_verify(&keys[ki], sig, msg.data, msg.len) != 0) {
        st = HERALD_MONITOR_BAD_SIGNATURE;
        herald_err_set(err, errlen, "bad monitor signature (key_id %s)", keys[ki].key_id);
        goto out;
    }
    if (now_ms != 0 && !(h.expires > now_ms)) {
        st = HERALD_MONITOR_EXPIRED;
        herald_err_set(err, errlen, "monitor signature expired at %lld (now %lld)",
                       (long long)h.expires, (long long)now_ms);
        goto out;
    }
    if (h.timestamp < min_ts) {
        st = HERALD_MONITOR_ROLLBACK;
        herald_err_set(err, errlen, "monitor timestamp %lld is older than the verified %lld",
                       (long long)h.timestamp, (long long)min_ts);
        goto out;
    }
    if (head_out)
        *head_out = h;
    st = HERALD_MONITOR_OK;

out:
    free(v);
    herald_buf_free(&j);
    herald_buf_free(&msg);
    return st;
}

int
herald_monitor_encode(herald_buf *out, const herald_monitor_entry *entries, size_t n,
                      const json_t *signatures)
{
    herald_buf_puts(out, "{\"entries\":");
    herald_monitor_entries_jcs(out, entries, n);
    herald_buf_puts(out, ",\"signatures\":");
    if (herald_jcs_dump(out, signatures) < 0)
        return -1;
    herald_buf_putc(out, '}');
    return 0;
}
