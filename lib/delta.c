/*
 * delta -- see include/herald/delta.h for the format and docs/incremental.md for the
 * protocol around it.
 *
 * A state keeps each table (records, tombstones) as the JCS array text itself plus one
 * small index entry per element (id range, last_modified, byte range): the records
 * table's text IS records_json, so applying a delta is one merge of two sorted lists
 * that copies the unchanged elements' bytes, and the SHA-256 of the result is the only
 * other pass over them. Nothing of the base is parsed again. The read server's form
 * (herald_state_apply_borrowing) copies no bytes at all: the new index points at the
 * base's, and the SHA-256 is the one pass over them.
 *
 * Element boundaries, ids and last_modified come from one pass of the scanner
 * (lib/jscan.c), without a tree; when it refuses the text, jansson parses it and a scan
 * that tracks strings and nesting (canonical text has no whitespace) finds the
 * boundaries, and the two must agree on the count. The records' bytes are
 * trusted only because the result is verified: the SHA-256 of records_json is signed.
 * Tombstones are rebuilt from (id, last_modified) in canonical form, so their bytes are
 * exactly the full blob's whatever the delta holds.
 *
 * Each element is read through its own pointer ('p'), not an offset: its bytes may be
 * the table's array, a decompressed blob taken whole (herald_state_take_snapshot), or
 * the read server's served listing (herald_state_share, then herald_state_drop_text):
 * one copy of each record in a server. merge() only reads elements, wherever they are.
 */
#include "herald/delta.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/clock.h"
#include "herald/crypto.h"
#include "herald/err.h"
#include "herald/jcs.h"
#include "herald/jscan.h"

#define DELTA_MAGIC "HSD1"

typedef struct sent {
    size_t id_off; /* in the table's 'ids' (NUL-terminated) */
    size_t idlen;
    int64_t lm;
    size_t off, len; /* in the table's 'json' while it is built */
    const char *p;   /* the element's bytes: in 'json', or shared (herald_state_share) */
    size_t from;     /* herald_state_apply: its index in the base's table, SIZE_MAX if it
                      * came from the delta (or the state was not built by applying one) */
} sent;

typedef struct stable {
    sent *v;
    size_t n;
    char *json; /* "[" e1 "," e2 ... "]", NUL-terminated */
    size_t json_len;
    char *ids;
    char *owner; /* NULL: 'json' is the table's own; else what is freed (json is in it) */
} stable;

struct herald_state {
    char *bucket, *collection;
    int64_t timestamp, tsince;
    json_t *metadata, *bucket_data, *signatures;
    stable recs, tombs;
    int64_t apply_ns, verify_ns; /* herald_state_apply's steps (0: not built by it) */
};

/* ---- tables ------------------------------------------------------------------------ */

typedef struct tbuild {
    herald_buf json, ids;
    sent *v;
    size_t n, cap;
} tbuild;

static void
tb_init(tbuild *t, size_t hint_bytes, size_t hint_n)
{
    herald_buf_init(&t->json);
    herald_buf_init(&t->ids);
    herald_buf_reserve(&t->json, hint_bytes + 2);
    herald_buf_putc(&t->json, '[');
    t->cap = hint_n ? hint_n : 4;
    t->v = herald_mem_alloc(t->cap * sizeof(*t->v));
    t->n = 0;
}

/* A new entry's index (id, last_modified, length); its bytes are the caller's. */
static sent *
tb_push(tbuild *t, const char *id, size_t idlen, int64_t lm, size_t len)
{
    if (t->n == t->cap) {
        t->cap *= 2;
        t->v = herald_mem_realloc(t->v, t->cap * sizeof(*t->v));
    }
    sent *e = &t->v[t->n++];
    e->id_off = t->ids.len;
    e->idlen = idlen;
    e->lm = lm;
    e->off = 0;
    e->len = len;
    e->p = NULL;
    e->from = SIZE_MAX;
    herald_buf_append(&t->ids, id, idlen);
    herald_buf_putc(&t->ids, '\0');
    return e;
}

static void
tb_add(tbuild *t, const char *id, size_t idlen, int64_t lm, const char *json, size_t len)
{
    if (t->n)
        herald_buf_putc(&t->json, ',');
    tb_push(t, id, idlen, lm, len)->off = t->json.len;
    herald_buf_append(&t->json, json, len);
}

/* Appends a tombstone's canonical bytes to the table. */
static void
tb_add_tombstone(tbuild *t, const char *id, size_t idlen, int64_t lm)
{
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_puts(&b, "{\"deleted\":true,\"id\":");
    herald_jcs_string(&b, id, idlen);
    herald_buf_puts(&b, ",\"last_modified\":");
    herald_buf_put_i64(&b, (long long)lm);
    herald_buf_putc(&b, '}');
    tb_add(t, id, idlen, lm, b.data, b.len);
    herald_buf_free(&b);
}

static void
tb_finish(tbuild *t, stable *out)
{
    herald_buf_putc(&t->json, ']');
    herald_buf_cstr(&t->json);
    herald_buf_cstr(&t->ids);
    out->json = herald_buf_steal(&t->json, &out->json_len);
    out->ids = herald_buf_steal(&t->ids, NULL);
    out->v = t->v;
    out->n = t->n;
    for (size_t i = 0; i < out->n; i++)
        out->v[i].p = out->json + out->v[i].off;
}

static void
tb_free(tbuild *t)
{
    herald_buf_free(&t->json);
    herald_buf_free(&t->ids);
    free(t->v);
}

static void
stable_free(stable *t)
{
    free(t->v);
    free(t->owner ? t->owner : t->json);
    free(t->ids);
}

static const char *
sent_id(const stable *t, size_t i)
{
    return t->ids + t->v[i].id_off;
}

/* Byte order, shorter first on a common prefix (as the signer sorts). */
static int
id_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* ---- reading JCS arrays ------------------------------------------------------------ */

/* Finds the byte range of each element of the JSON array text 'json' (no whitespace):
 * 'off'/'len' get 'n' ranges (the caller knows n from the parsed array). Returns 0, or
 * -1 when the text does not split into exactly 'n' elements. */
static int
split_array(const char *json, size_t len, size_t n, size_t *off, size_t *lens)
{
    if (len < 2 || json[0] != '[' || json[len - 1] != ']')
        return -1;
    if (len == 2)
        return n == 0 ? 0 : -1;
    size_t i = 1, k = 0;
    for (;;) {
        size_t start = i;
        int depth = 0, in_str = 0;
        for (; i < len; i++) {
            char c = json[i];
            if (in_str) {
                if (c == '\\')
                    i++;
                else if (c == '"')
                    in_str = 0;
                continue;
            }
            if (c == '"')
                in_str = 1;
            else if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (depth == 0)
                    break;
                depth--;
            } else if (c == ',' && depth == 0)
                break;
        }
        if (i >= len || i == start || k >= n)
            return -1;
        off[k] = start;
        lens[k] = i - start;
        k++;
        if (json[i] == ']')
            return i == len - 1 && k == n ? 0 : -1;
        i++;
    }
}

static int64_t
lm_of(const json_t *r)
{
    const json_t *v = json_object_get(r, "last_modified");
    return json_is_number(v) ? (int64_t)json_number_value(v) : 0;
}

/* A scanned element's id, decoded into 'scratch' when it holds escapes. */
static const char *
elem_id(herald_buf *scratch, const herald_jscan_elem *e, size_t *len)
{
    if (!e->id_escaped) {
        *len = e->idlen;
        return e->id;
    }
    herald_buf_reset(scratch);
    herald_buf_reserve(scratch, e->idlen + 1);
    *len = herald_jscan_unescape(scratch->data, e->id, e->idlen);
    return scratch->data;
}

/*
 * Parses the records array text 'json' into a table (each element's id and
 * last_modified from the parse, its bytes from the text). With 'sorted', ids must be
 * strictly ascending. Returns 0, or -1 with 'err'.
 */
static int
read_records_tree(stable *out, const char *json, size_t len, int sorted, char *err, size_t errlen)
{
    char why[160];
    int rc = -1;
    size_t *off = NULL, *lens = NULL;
    tbuild t;
    json_t *arr = herald_jcs_parse(json, len, 0, 0, why, sizeof(why));
    tb_init(&t, len, arr ? json_array_size(arr) + 1 : 1);
    if (!arr || !json_is_array(arr)) {
        herald_err_set(err, errlen, "records: %s", arr ? "not an array" : why);
        goto out;
    }
    size_t n = json_array_size(arr);
    off = herald_mem_calloc(n + 1, sizeof(*off));
    lens = herald_mem_calloc(n + 1, sizeof(*lens));
    if (split_array(json, len, n, off, lens) < 0) {
        herald_err_set(err, errlen, "records: not a canonical array");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(arr, i);
        const json_t *id = json_object_get(r, "id");
        if (!json_is_object(r) || !json_is_string(id)) {
            herald_err_set(err, errlen, "records: element %zu has no string id", i);
            goto out;
        }
        const char *s = json_string_value(id);
        size_t sl = json_string_length(id);
        if (i > 0 && sorted &&
            id_cmp(t.ids.data + t.v[i - 1].id_off, t.v[i - 1].idlen, s, sl) >= 0) {
            herald_err_set(err, errlen, "records: ids not sorted or repeated at %zu", i);
            goto out;
        }
        tb_add(&t, s, sl, lm_of(r), json + off[i], lens[i]);
    }
    tb_finish(&t, out);
    t.v = NULL;
    rc = 0;
out:
    if (rc < 0)
        tb_free(&t);
    json_decref(arr);
    free(off);
    free(lens);
    return rc;
}

/* The same with the scanner (lib/jscan.c): no tree. When it refuses the text (or an
 * element has no id) the parse above decides and words the error; the scanner accepts
 * only what the parse accepts, with the same ids and last_modified. */
static int
read_records(stable *out, const char *json, size_t len, int sorted, char *err, size_t errlen)
{
    herald_jscan it;
    herald_jscan_elem e;
    herald_buf scratch = HERALD_BUF_INIT;
    tbuild t;
    int rc;
    tb_init(&t, len, 16);
    herald_jscan_init(&it, json, len);
    while ((rc = herald_jscan_next(&it, &e)) == 1) {
        size_t sl;
        const char *id = e.id ? elem_id(&scratch, &e, &sl) : NULL;
        if (!id) {
            rc = -1;
            break;
        }
        if (t.n > 0 && sorted &&
            id_cmp(t.ids.data + t.v[t.n - 1].id_off, t.v[t.n - 1].idlen, id, sl) >= 0) {
            herald_err_set(err, errlen, "records: ids not sorted or repeated at %zu", t.n);
            herald_buf_free(&scratch);
            tb_free(&t);
            return -1;
        }
        tb_add(&t, id, sl, e.lm, json + e.off, e.len);
    }
    herald_buf_free(&scratch);
    if (rc < 0) {
        tb_free(&t);
        return read_records_tree(out, json, len, sorted, err, errlen);
    }
    tb_finish(&t, out);
    return 0;
}

/* Tombstones from a parsed array: each {"deleted":true,"id","last_modified"}; sorted
 * strictly by id when 'sorted' (else sorted here). Returns 0, or -1 with 'err'. */
static int
tomb_cmp_json(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const json_t *xi = json_object_get(x, "id"), *yi = json_object_get(y, "id");
    return id_cmp(json_string_value(xi), json_string_length(xi), json_string_value(yi),
                  json_string_length(yi));
}

static int
read_tombstones(stable *out, const json_t *arr, int sorted, char *err, size_t errlen)
{
    size_t n = json_array_size(arr);
    const json_t **v = herald_mem_calloc(n + 1, sizeof(*v));
    tbuild t;
    int rc = -1;
    tb_init(&t, n * 64, n + 1);
    if (!json_is_array(arr)) {
        herald_err_set(err, errlen, "tombstones: not an array");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        int64_t lm;
        if (!json_is_object(e) || !json_is_string(json_object_get(e, "id")) ||
            herald_jcs_get_uint53(&lm, json_object_get(e, "last_modified")) < 0 ||
            !json_is_true(json_object_get(e, "deleted"))) {
            herald_err_set(err, errlen, "tombstones: element %zu malformed", i);
            goto out;
        }
        v[i] = e;
    }
    if (!sorted)
        qsort(v, n, sizeof(*v), tomb_cmp_json);
    for (size_t i = 0; i < n; i++) {
        const json_t *id = json_object_get(v[i], "id");
        int64_t lm = 0;
        if (herald_jcs_get_uint53(&lm, json_object_get(v[i], "last_modified")) < 0)
            goto out; /* checked above */
        if (i > 0 && tomb_cmp_json(&v[i - 1], &v[i]) >= 0) {
            herald_err_set(err, errlen, "tombstones: ids not sorted or repeated at %zu", i);
            goto out;
        }
        tb_add_tombstone(&t, json_string_value(id), json_string_length(id), lm);
    }
    tb_finish(&t, out);
    t.v = NULL;
    rc = 0;
out:
    if (rc < 0)
        tb_free(&t);
    free(v);
    return rc;
}

/* ---- states ------------------------------------------------------------------------ */

void
herald_state_free(herald_state *st)
{
    if (!st)
        return;
    free(st->bucket);
    free(st->collection);
    json_decref(st->metadata);
    json_decref(st->bucket_data);
    json_decref(st->signatures);
    stable_free(&st->recs);
    stable_free(&st->tombs);
    free(st);
}

/* With 'take', the records table is the blob's records_json where it is: entries are
 * indexed (ids, byte ranges), not copied, and the content is taken from 's' at the end. */
static herald_state *
from_snapshot(herald_snapshot *s, int take, char *err, size_t errlen)
{
    herald_state *st = herald_mem_calloc(1, sizeof(*st));
    size_t rlen, nidx;
    const char *rjson = herald_snapshot_records_json(s, &rlen);
    const json_t *records = herald_snapshot_records(s);
    /* Indexed by the scanner (herald_snapshot_decode_indexed), or parsed. */
    const herald_jscan_elem *idx = herald_snapshot_record_index(s, &nidx);
    size_t n = idx ? nidx : json_array_size(records);
    herald_buf scratch = HERALD_BUF_INIT;
    size_t *off = herald_mem_calloc(n + 1, sizeof(*off));
    size_t *lens = herald_mem_calloc(n + 1, sizeof(*lens));
    tbuild t;
    tb_init(&t, take ? 0 : rlen, n + 1);

    st->bucket = herald_mem_strdup(herald_snapshot_bucket(s));
    st->collection = herald_mem_strdup(herald_snapshot_collection(s));
    st->timestamp = herald_snapshot_timestamp(s);
    st->tsince = herald_snapshot_tombstones_since(s);
    st->metadata = json_incref((json_t *)herald_snapshot_metadata(s));
    st->bucket_data = json_incref((json_t *)herald_snapshot_bucket_data(s));
    st->signatures = json_incref((json_t *)herald_snapshot_signatures(s));

    /* The records' bytes are the blob's records_json slices: the parse gives ids. */
    if (idx) {
        for (size_t i = 0; i < n; i++) {
            off[i] = idx[i].off;
            lens[i] = idx[i].len;
        }
    } else if (split_array(rjson, rlen, n, off, lens) < 0) {
        herald_err_set(err, errlen, "records_json does not split into its %zu records", n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id;
        size_t idlen;
        int64_t lm;
        if (idx) { /* every indexed element has an id */
            id = elem_id(&scratch, &idx[i], &idlen);
            lm = idx[i].lm;
        } else {
            const json_t *r = json_array_get(records, i);
            const json_t *jid = json_object_get(r, "id");
            if (!json_is_string(jid)) {
                herald_err_set(err, errlen, "record %zu without a string id", i);
                goto fail;
            }
            id = json_string_value(jid);
            idlen = json_string_length(jid);
            lm = lm_of(r);
        }
        if (take) {
            tb_add(&t, id, idlen, lm, "", 0);
            t.v[t.n - 1].off = off[i];
            t.v[t.n - 1].len = lens[i];
        } else {
            tb_add(&t, id, idlen, lm, rjson + off[i], lens[i]);
        }
    }
    if (take) { /* rjson is NUL-terminated in place (herald_snapshot_decode) */
        herald_buf_free(&t.json);
        herald_buf_cstr(&t.ids);
        st->recs.ids = herald_buf_steal(&t.ids, NULL);
        st->recs.v = t.v;
        st->recs.n = t.n;
        st->recs.json = (char *)rjson;
        st->recs.json_len = rlen;
        st->recs.owner = herald_snapshot_take_buffer(s);
        for (size_t i = 0; i < n; i++)
            st->recs.v[i].p = rjson + off[i];
    } else {
        tb_finish(&t, &st->recs);
    }
    t.v = NULL;
    if (read_tombstones(&st->tombs, herald_snapshot_tombstones(s), 0, err, errlen) < 0)
        goto fail;
    free(off);
    free(lens);
    herald_buf_free(&scratch);
    return st;
fail:
    tb_free(&t);
    free(off);
    free(lens);
    herald_buf_free(&scratch);
    herald_state_free(st);
    return NULL;
}

herald_state *
herald_state_from_snapshot(const herald_snapshot *s, char *err, size_t errlen)
{
    return from_snapshot((herald_snapshot *)s, 0, err, errlen);
}

herald_state *
herald_state_take_snapshot(herald_snapshot *s, char *err, size_t errlen)
{
    herald_state *st = from_snapshot(s, 1, err, errlen);
    herald_snapshot_free(s);
    return st;
}

/* Reads the u32be-length section at *p (bounded by end). */
static int
take_section(const char **sec, size_t *seclen, const char **p, const char *end)
{
    if ((size_t)(end - *p) < 4)
        return -1;
    const unsigned char *u = (const unsigned char *)*p;
    size_t n = (size_t)u[0] << 24 | (size_t)u[1] << 16 | (size_t)u[2] << 8 | u[3];
    *p += 4;
    if ((size_t)(end - *p) < n)
        return -1;
    *sec = *p;
    *seclen = n;
    *p += n;
    return 0;
}

/* Whether 'id' is in the sorted table 't' at or after '*k' (advanced monotonically:
 * callers ask in ascending id order). */
static int
in_sorted(const stable *t, size_t *k, const char *id, size_t idlen)
{
    while (*k < t->n) {
        int c = id_cmp(sent_id(t, *k), t->v[*k].idlen, id, idlen);
        if (c == 0)
            return 1;
        if (c > 0)
            return 0;
        (*k)++;
    }
    return 0;
}

/*
 * Merges base table 'b' with the changes 'add' (sorted): entries of 'b' named in 'add'
 * or 'drop' are left out; with 'cut' > 0, entries with lm <= cut too.
 *
 * With 'borrow' (the records of herald_state_apply_borrowing), the same entries but no
 * element's bytes copied: a kept entry reads the base's bytes where they are (the read
 * server's served listing of the base version), a new one the delta's table, whose text
 * 'add' hands to 'out' (its owner). There is then no array text: the SHA-256 is taken
 * over the pieces (records_sha256). At 100k records this leaves out a copy of the whole
 * array (18.6 MB: its page faults and writes) per version.
 */
static void
merge(stable *out, const stable *b, stable *add, const stable *drop, int64_t cut, int borrow)
{
    tbuild t;
    tb_init(&t, borrow ? 0 : b->json_len + add->json_len, b->n + add->n + 1);
    size_t i = 0, j = 0, k = 0;
    while (i < b->n || j < add->n) {
        int c;
        if (j >= add->n)
            c = -1;
        else if (i >= b->n)
            c = 1;
        else
            c = id_cmp(sent_id(b, i), b->v[i].idlen, sent_id(add, j), add->v[j].idlen);
        const stable *src;
        size_t at;
        if (c < 0) {
            src = b;
            at = i++;
            if (in_sorted(drop, &k, sent_id(b, at), b->v[at].idlen))
                continue;
        } else {
            src = add;
            at = j++;
            if (c == 0)
                i++;
        }
        const sent *e = &src->v[at];
        if (cut > 0 && e->lm <= cut)
            continue;
        if (borrow)
            tb_push(&t, sent_id(src, at), e->idlen, e->lm, e->len)->p = e->p;
        else
            tb_add(&t, sent_id(src, at), e->idlen, e->lm, e->p, e->len);
        if (src == b)
            t.v[t.n - 1].from = at;
    }
    if (!borrow) {
        tb_finish(&t, out);
        return;
    }
    herald_buf_free(&t.json);
    herald_buf_cstr(&t.ids);
    out->ids = herald_buf_steal(&t.ids, NULL);
    out->v = t.v;
    out->n = t.n;
    out->json = NULL;
    out->json_len = 0;
    out->owner = add->owner ? add->owner : add->json;
    add->owner = add->json = NULL;
}

/* SHA-256 (hex) of the table's JCS array "[" e1 "," e2 ... "]" from its entries' bytes,
 * wherever they are. They are read in id order, scattered over the newest-first listing
 * that holds them: the entries AHEAD are prefetched, and they are gathered into a small
 * buffer hashed in large pieces, not one update per record and comma (at 100k records,
 * bench_delta_apply: 37 -> 27 ms, where hashing the same bytes in one piece takes ~20 ms
 * of CPU on this machine's SHA extensions). */
static void
records_sha256(const stable *t, char out[65])
{
    enum { STAGE = 64 * 1024, AHEAD = 8 };
    char *buf = herald_mem_alloc(STAGE);
    size_t nb = 0;
    herald_sha256 h;
    herald_crypto_sha256_init(&h);
    buf[nb++] = '[';
    for (size_t i = 0; i < t->n; i++) {
        if (i + AHEAD < t->n) {
            const char *q = t->v[i + AHEAD].p;
            for (size_t o = 0; o < t->v[i + AHEAD].len; o += 64)
                __builtin_prefetch(q + o);
        }
        size_t len = t->v[i].len + 1;
        if (nb + len > STAGE) {
            herald_crypto_sha256_update(&h, buf, nb);
            nb = 0;
        }
        if (len > STAGE) {
            if (i)
                herald_crypto_sha256_update(&h, ",", 1);
            herald_crypto_sha256_update(&h, t->v[i].p, t->v[i].len);
            continue;
        }
        if (i)
            buf[nb++] = ',';
        memcpy(buf + nb, t->v[i].p, t->v[i].len);
        nb += t->v[i].len;
    }
    if (nb + 1 > STAGE) {
        herald_crypto_sha256_update(&h, buf, nb);
        nb = 0;
    }
    buf[nb++] = ']';
    herald_crypto_sha256_update(&h, buf, nb);
    herald_crypto_sha256_final_hex(&h, out);
    free(buf);
}

int
herald_state_verify(herald_state *st, const herald_pubkey *keys, size_t nkeys, char *err,
                    size_t errlen)
{
    int64_t t1 = herald_clock_mono_ns();
    char sha[65], why[160];
    if (st->recs.json)
        herald_crypto_sha256_hex(sha, st->recs.json, st->recs.json_len);
    else
        records_sha256(&st->recs, sha);
    if (herald_snapshot_verify_sha256(sha, (int64_t)st->recs.n, st->signatures, st->bucket,
                                      st->collection, st->timestamp, 0, keys, nkeys, why,
                                      sizeof(why)) < 0) {
        herald_err_set(err, errlen, "version %lld from the delta does not verify: %s",
                       (long long)st->timestamp, why);
        return -1;
    }
    st->verify_ns = herald_clock_mono_ns() - t1;
    return 0;
}

/* 'borrow': merge() without copying the records' bytes; 'verify': verify the result
 * (else the caller does, herald_state_verify). */
static herald_state *
apply(const herald_state *base, const void *delta, size_t len, int borrow, int verify,
      const herald_pubkey *keys, size_t nkeys, char *err, size_t errlen)
{
    herald_state *st = herald_mem_calloc(1, sizeof(*st));
    int64_t t0 = herald_clock_mono_ns();
    stable drecs = {0}, dtombs = {0};
    json_t *meta = NULL, *tarr = NULL;
    const char *msec, *rsec, *tsec;
    size_t mlen, rlen, tlen;
    int64_t b, v, c;
    char why[160];
    const char *p = delta, *end = p + len;

    if (len > HERALD_DELTA_MAX || len < 4 || memcmp(p, DELTA_MAGIC, 4) != 0) {
        herald_err_set(err, errlen, "delta magic is not " DELTA_MAGIC);
        goto fail;
    }
    p += 4;
    if (take_section(&msec, &mlen, &p, end) < 0 || take_section(&rsec, &rlen, &p, end) < 0 ||
        take_section(&tsec, &tlen, &p, end) < 0 || p != end) {
        herald_err_set(err, errlen, "delta sections truncated or followed by junk");
        goto fail;
    }
    meta = herald_jcs_parse(msec, mlen, 0, 0, why, sizeof(why));
    if (!meta || !json_is_object(meta)) {
        herald_err_set(err, errlen, "delta meta: %s", meta ? "not an object" : why);
        goto fail;
    }
    const char *bid = herald_jcs_get_cstring(json_object_get(meta, "bucket"));
    const char *cid = herald_jcs_get_cstring(json_object_get(meta, "collection"));
    if (!bid || !cid || herald_jcs_get_uint53(&b, json_object_get(meta, "base")) < 0 ||
        herald_jcs_get_uint53(&v, json_object_get(meta, "timestamp")) < 0 ||
        herald_jcs_get_uint53(&c, json_object_get(meta, "tombstones_since")) < 0 ||
        !json_is_object(json_object_get(meta, "metadata")) ||
        !json_is_object(json_object_get(meta, "bucket_data")) ||
        !json_is_array(json_object_get(meta, "signatures"))) {
        herald_err_set(err, errlen, "delta meta lacks a field or has the wrong type");
        goto fail;
    }
    if (strcmp(bid, base->bucket) != 0 || strcmp(cid, base->collection) != 0) {
        herald_err_set(err, errlen, "delta is for %.100s/%.100s", bid, cid);
        goto fail;
    }
    if (b != base->timestamp || v <= b) {
        herald_err_set(err, errlen, "delta %lld -> %lld does not apply to version %lld",
                       (long long)b, (long long)v, (long long)base->timestamp);
        goto fail;
    }
    if (read_records(&drecs, rsec, rlen, 1, err, errlen) < 0)
        goto fail;
    tarr = herald_jcs_parse(tsec, tlen, 0, 0, why, sizeof(why));
    if (!tarr) {
        herald_err_set(err, errlen, "delta tombstones: %s", why);
        goto fail;
    }
    if (read_tombstones(&dtombs, tarr, 1, err, errlen) < 0)
        goto fail;
    for (size_t i = 0, k = 0; i < dtombs.n; i++)
        if (in_sorted(&drecs, &k, sent_id(&dtombs, i), dtombs.v[i].idlen)) {
            herald_err_set(err, errlen, "delta names id '%s' as record and tombstone",
                           sent_id(&dtombs, i));
            goto fail;
        }

    st->bucket = herald_mem_strdup(bid);
    st->collection = herald_mem_strdup(cid);
    st->timestamp = v;
    st->tsince = c > 0 ? c : -1;
    st->metadata = json_incref(json_object_get(meta, "metadata"));
    st->bucket_data = json_incref(json_object_get(meta, "bucket_data"));
    st->signatures = json_incref(json_object_get(meta, "signatures"));
    merge(&st->recs, &base->recs, &drecs, &dtombs, 0, borrow);
    merge(&st->tombs, &base->tombs, &dtombs, &drecs, c, 0);

    st->apply_ns = herald_clock_mono_ns() - t0;
    if (verify && herald_state_verify(st, keys, nkeys, err, errlen) < 0)
        goto fail;
    stable_free(&drecs);
    stable_free(&dtombs);
    json_decref(meta);
    json_decref(tarr);
    return st;
fail:
    stable_free(&drecs);
    stable_free(&dtombs);
    json_decref(meta);
    json_decref(tarr);
    herald_state_free(st);
    return NULL;
}

herald_state *
herald_state_apply(const herald_state *base, const void *delta, size_t len,
                   const herald_pubkey *keys, size_t nkeys, char *err, size_t errlen)
{
    return apply(base, delta, len, 0, 1, keys, nkeys, err, errlen);
}

herald_state *
herald_state_apply_borrowing(const herald_state *base, const void *delta, size_t len,
                             const herald_pubkey *keys, size_t nkeys, char *err, size_t errlen)
{
    return apply(base, delta, len, 1, 1, keys, nkeys, err, errlen);
}

herald_state *
herald_state_apply_unverified(const herald_state *base, const void *delta, size_t len, char *err,
                              size_t errlen)
{
    return apply(base, delta, len, 1, 0, NULL, 0, err, errlen);
}

/* ---- the signer's side ------------------------------------------------------------- */

void
herald_delta_key(herald_buf *out, const char *bid, const char *cid, int64_t base)
{
    herald_buf_printf(out, HERALD_DELTA_KEY_PREFIX "%s/%s:%lld", bid, cid, (long long)base);
}

static void
put_u32be(herald_buf *b, size_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    herald_buf_append(b, p, 4);
}

int
herald_delta_encode(herald_buf *out, const herald_delta_parts *p)
{
    herald_buf meta = HERALD_BUF_INIT;
    json_t *empty_obj = json_object(), *empty_arr = json_array();
    int rc = -1;
    /* Keys in JCS order: base, bucket, bucket_data, collection, metadata, signatures,
     * timestamp, tombstones_since. */
    herald_buf_puts(&meta, "{\"base\":");
    herald_buf_put_i64(&meta, (long long)p->base);
    herald_buf_puts(&meta, ",\"bucket\":");
    herald_jcs_string(&meta, p->bucket, strlen(p->bucket));
    herald_buf_puts(&meta, ",\"bucket_data\":");
    if (herald_jcs_dump(&meta, p->bucket_data ? p->bucket_data : empty_obj) < 0)
        goto out;
    herald_buf_puts(&meta, ",\"collection\":");
    herald_jcs_string(&meta, p->collection, strlen(p->collection));
    herald_buf_puts(&meta, ",\"metadata\":");
    if (herald_jcs_dump(&meta, p->metadata ? p->metadata : empty_obj) < 0)
        goto out;
    herald_buf_puts(&meta, ",\"signatures\":");
    if (herald_jcs_dump(&meta, p->signatures ? p->signatures : empty_arr) < 0)
        goto out;
    herald_buf_puts(&meta, ",\"timestamp\":");
    herald_buf_put_i64(&meta, (long long)p->timestamp);
    herald_buf_puts(&meta, ",\"tombstones_since\":");
    herald_buf_put_i64(&meta, (long long)(p->tombstones_since > 0 ? p->tombstones_since : 0));
    herald_buf_putc(&meta, '}');

    size_t rl = p->records_json ? p->records_len : 2;
    size_t tl = p->tombstones_json ? p->tombstones_len : 2;
    if (meta.len > UINT32_MAX || rl > UINT32_MAX || tl > UINT32_MAX)
        goto out;
    herald_buf_append(out, DELTA_MAGIC, 4);
    put_u32be(out, meta.len);
    herald_buf_append(out, meta.data, meta.len);
    put_u32be(out, rl);
    herald_buf_append(out, p->records_json ? p->records_json : "[]", rl);
    put_u32be(out, tl);
    herald_buf_append(out, p->tombstones_json ? p->tombstones_json : "[]", tl);
    rc = 0;
out:
    json_decref(empty_obj);
    json_decref(empty_arr);
    herald_buf_free(&meta);
    return rc;
}

/* ---- accessors --------------------------------------------------------------------- */

const char *
herald_state_bucket(const herald_state *st)
{
    return st->bucket;
}

const char *
herald_state_collection(const herald_state *st)
{
    return st->collection;
}

int64_t
herald_state_timestamp(const herald_state *st)
{
    return st->timestamp;
}

int64_t
herald_state_tombstones_since(const herald_state *st)
{
    return st->tsince;
}

const json_t *
herald_state_metadata(const herald_state *st)
{
    return st->metadata;
}

const json_t *
herald_state_bucket_data(const herald_state *st)
{
    return st->bucket_data;
}

const json_t *
herald_state_signatures(const herald_state *st)
{
    return st->signatures;
}

int64_t
herald_state_expires(const herald_state *st)
{
    int64_t min = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(st->signatures, i, e)
    {
        herald_head h;
        if (herald_snapshot_head_parse(&h, json_object_get(e, "head"), NULL, 0) < 0)
            continue;
        if (min == 0 || h.expires < min)
            min = h.expires;
    }
    return min;
}

void
herald_state_apply_timings(const herald_state *st, int64_t *apply_ns, int64_t *verify_ns)
{
    *apply_ns = st->apply_ns;
    *verify_ns = st->verify_ns;
}

size_t
herald_state_origin(const herald_state *st, int tomb, size_t i)
{
    return (tomb ? &st->tombs : &st->recs)->v[i].from;
}

void
herald_state_share(herald_state *st, size_t i, const char *bytes)
{
    st->recs.v[i].p = bytes;
}

void
herald_state_drop_text(herald_state *st)
{
    free(st->recs.owner ? st->recs.owner : st->recs.json);
    st->recs.owner = st->recs.json = NULL;
    st->recs.json_len = 0;
}

const char *
herald_state_records_json(const herald_state *st, size_t *len)
{
    if (len)
        *len = st->recs.json_len;
    return st->recs.json;
}

void
herald_state_tombstones_json(herald_buf *out, const herald_state *st)
{
    herald_buf_append(out, st->tombs.json, st->tombs.json_len);
}

size_t
herald_state_count(const herald_state *st, int tomb)
{
    return tomb ? st->tombs.n : st->recs.n;
}

void
herald_state_get(const herald_state *st, int tomb, size_t i, herald_state_entry *e)
{
    const stable *t = tomb ? &st->tombs : &st->recs;
    e->id = sent_id(t, i);
    e->idlen = t->v[i].idlen;
    e->lm = t->v[i].lm;
    e->json = t->v[i].p;
    e->len = t->v[i].len;
}
