/*
 * verify -- see include/herald/verify.h: a client's check of a changeset.
 *
 * The merge is done in a json object keyed by record id (jansson's hash table): start
 * from the saved state's records, then apply every change. Ids are unique in a changeset
 * (the server sends the latest version of each record once); a changeset naming an id
 * twice is refused rather than resolved by position, since "newest first" would make the
 * naive order apply the older version last.
 *
 * The merged records are then sorted by id (byte order, strcmp), canonicalized with
 * herald_jcs_dump and checked with herald_snapshot_verify(): the client re-derives the
 * exact signed bytes itself, so anything the server dropped, added, reordered or altered
 * changes the hash.
 */
#include "herald/verify.h"
#include "herald/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"
#include "herald/mem.h"
#include "herald/snapshot.h"

/* An integral number within +-(2^53-1): a json integer or an integral real (non-strict
 * herald_jcs_parse reads every number as a real). */
static int
get_int(int64_t *out, const json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < -9007199254740991LL || i > 9007199254740991LL)
            return -1;
        *out = (int64_t)i;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(fabs(d) <= 9007199254740991.0) || d != floor(d))
            return -1;
        *out = (int64_t)d;
        return 0;
    }
    return -1;
}

static const char *
record_id(const json_t *r)
{
    const json_t *id = json_object_get(r, "id");
    if (!json_is_string(id) || json_string_length(id) == 0 ||
        strlen(json_string_value(id)) != json_string_length(id))
        return NULL;
    return json_string_value(id);
}

static int
cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What a changeset says, checked for shape (the references point into it). */
typedef struct changeset_view {
    const json_t *sigs, *changes;
    const char *bucket, *collection; /* from opts when given, else from the metadata */
    int64_t ts;
} changeset_view;

static int
read_changeset(changeset_view *v, const json_t *changeset, const herald_verify_opts *opts,
               char *err, size_t errlen)
{
    if (!json_is_object(changeset)) {
        herald_err_set(err, errlen, "changeset is not an object");
        return -1;
    }
    const json_t *meta = json_object_get(changeset, "metadata");
    v->sigs = json_object_get(meta, "signatures");
    if (!json_is_object(meta) || !json_is_array(v->sigs)) {
        herald_err_set(err, errlen, "changeset has no metadata.signatures");
        return -1;
    }
    if (get_int(&v->ts, json_object_get(changeset, "timestamp")) < 0) {
        herald_err_set(err, errlen, "changeset timestamp is not an integer");
        return -1;
    }
    v->changes = json_object_get(changeset, "changes");
    if (!json_is_array(v->changes)) {
        herald_err_set(err, errlen, "changeset has no changes array");
        return -1;
    }
    v->bucket = opts->bucket;
    v->collection = opts->collection;
    if (!v->bucket)
        v->bucket = json_string_value(json_object_get(meta, "bucket"));
    if (!v->collection)
        v->collection = json_string_value(json_object_get(meta, "id"));
    if (!v->bucket || !v->collection) {
        herald_err_set(err, errlen, "bucket or collection unknown");
        return -1;
    }
    return 0;
}

/* Puts the records of the saved state 'prev' (of the same collection, not newer) into
 * 'byid'. Returns 0 or -1. */
static int
load_prev(json_t *byid, const json_t *prev, const changeset_view *v, char *err, size_t errlen)
{
    const char *pb = json_string_value(json_object_get(prev, "bucket"));
    const char *pc = json_string_value(json_object_get(prev, "collection"));
    const json_t *precs = json_object_get(prev, "records");
    int64_t prev_ts = 0;
    size_t i;
    const json_t *r;
    if (!json_is_object(prev) || !pb || !pc || strcmp(pb, v->bucket) != 0 ||
        strcmp(pc, v->collection) != 0) {
        herald_err_set(err, errlen, "saved state is for another collection");
        return -1;
    }
    if (get_int(&prev_ts, json_object_get(prev, "timestamp")) < 0 || !json_is_array(precs)) {
        herald_err_set(err, errlen, "saved state is malformed");
        return -1;
    }
    if (v->ts < prev_ts) {
        herald_err_set(err, errlen, "changeset timestamp %lld is older than the saved %lld",
                       (long long)v->ts, (long long)prev_ts);
        return -1;
    }
    json_array_foreach(precs, i, r)
    {
        const char *id = record_id(r);
        if (!json_is_object(r) || !id) {
            herald_err_set(err, errlen, "saved state has a record without an id");
            return -1;
        }
        json_object_set(byid, id, (json_t *)r);
    }
    return 0;
}

/* Applies the changes (each id at most once; a tombstone removes) to 'byid'. Returns 0 or
 * -1. */
static int
apply_changes(json_t *byid, const json_t *changes, char *err, size_t errlen)
{
    json_t *seen = json_object();
    size_t i;
    const json_t *r;
    int rc = -1;
    if (!seen) {
        herald_err_set(err, errlen, "out of memory");
        return -1;
    }
    json_array_foreach(changes, i, r)
    {
        const char *id = record_id(r);
        if (!json_is_object(r) || !id) {
            herald_err_set(err, errlen, "change %zu has no id", i);
            goto out;
        }
        if (json_object_get(seen, id)) {
            herald_err_set(err, errlen, "changeset names id '%s' twice", id);
            goto out;
        }
        json_object_set_new(seen, id, json_true());
        if (json_is_true(json_object_get(r, "deleted")))
            json_object_del(byid, id);
        else
            json_object_set(byid, id, (json_t *)r);
    }
    rc = 0;
out:
    json_decref(seen);
    return rc;
}

/* Appends the records of 'byid' to 'sorted' in id order (what the signature covers). */
static void
sort_records(json_t *sorted, json_t *byid)
{
    const char **keys = herald_mem_calloc(json_object_size(byid) + 1, sizeof(*keys));
    const char *k;
    json_t *val;
    size_t nk = 0;
    json_object_foreach(byid, k, val)
    {
        keys[nk++] = k;
    }
    qsort(keys, nk, sizeof(*keys), cmp_keys);
    for (size_t i = 0; i < nk; i++)
        json_array_append(sorted, json_object_get(byid, keys[i]));
    free(keys);
}

int
herald_verify_changeset(json_t **state_out, const json_t *changeset, const json_t *prev,
                        const herald_verify_opts *opts, char *err, size_t errlen)
{
    json_t *byid = json_object();
    json_t *sorted = json_array();
    herald_buf rj = HERALD_BUF_INIT;
    changeset_view v;
    int rc = -1;
    char why[256];

    *state_out = NULL;
    if (!byid || !sorted) {
        herald_err_set(err, errlen, "out of memory");
        goto out;
    }
    if (read_changeset(&v, changeset, opts, err, errlen) < 0 ||
        (prev && load_prev(byid, prev, &v, err, errlen) < 0) ||
        apply_changes(byid, v.changes, err, errlen) < 0)
        goto out;
    sort_records(sorted, byid);
    if (herald_jcs_dump(&rj, sorted) < 0) {
        herald_err_set(err, errlen, "records cannot be canonicalized");
        goto out;
    }
    if (herald_snapshot_verify(herald_buf_cstr(&rj), rj.len, (int64_t)json_array_size(sorted),
                               v.sigs, v.bucket, v.collection, v.ts, opts->now_ms, opts->keys,
                               opts->nkeys, why, sizeof(why)) < 0) {
        herald_err_set(err, errlen, "%s", why);
        goto out;
    }
    *state_out = json_pack("{s:s, s:s, s:I, s:O}", "bucket", v.bucket, "collection", v.collection,
                           "timestamp", (json_int_t)v.ts, "records", sorted);
    if (!*state_out) {
        herald_err_set(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    herald_buf_free(&rj);
    json_decref(byid);
    json_decref(sorted);
    return rc;
}
