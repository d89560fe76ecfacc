/*
 * write -- see write.h. Each step of one attempt takes the attempt's state (struct
 * write) and returns 0 to go on, or -1 once it has answered.
 */
#include "write.h"

#include "attachment_rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/jcs.h"
#include "herald/kerror.h"
#include "history.h"
#include "review.h"
#include "patch.h"
#include "reply.h"
#include "schema.h"
#include "stamp.h"

#define WRITE_ATTEMPTS 5

/* ---- the body ---- */

static int
is_json_type(const char *ct, const char *want)
{
    size_t n = strlen(want);
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Checks Content-Type for a body. Returns 0 with *kind, or -1 after replying 415. */
static int
check_content_type(pub_call *c, int is_patch, enum pub_body_kind *kind)
{
    const char *ct = pub_req_header(c->req, "Content-Type");
    *kind = PUB_BODY_JSON;
    if (!ct || !*ct || is_json_type(ct, "application/json"))
        return 0;
    if (is_patch && is_json_type(ct, "application/merge-patch+json")) {
        *kind = PUB_BODY_MERGE;
        return 0;
    }
    if (is_patch && is_json_type(ct, "application/json-patch+json")) {
        *kind = PUB_BODY_JSONPATCH;
        return 0;
    }
    json_t *details =
        json_pack("[{s:s,s:s,s:s}]", "location", "header", "name", "Content-Type", "description",
                  is_patch ? "Content-Type header should be one of "
                             "['application/json', 'application/merge-patch+json', "
                             "'application/json-patch+json']"
                           : "Content-Type header should be one of "
                             "['application/json']");
    pub_reply_error(c->resp, 415, HERALD_ERRNO_INVALID_PARAMETERS,
                    is_patch ? "Content-Type header should be one of ['application/json', "
                               "'application/merge-patch+json', 'application/json-patch+json']"
                             : "Content-Type header should be one of ['application/json']",
                    details);
    json_decref(details);
    return -1;
}

/* Parses the body (strict I-JSON). Returns a new reference ({} for an empty body), or
 * NULL after replying 400. */
static json_t *
parse_body(pub_call *c)
{
    char err[256], desc[384];
    /* No body at all is an empty object (Kinto: "PUT /v1/buckets/b" creates), but a
     * body declared as JSON must be JSON, and "" is not. */
    if (c->req->body_len == 0 && !pub_req_header(c->req, "Content-Type"))
        return json_object();
    json_t *body = herald_jcs_parse(c->req->body, c->req->body_len, HERALD_JCS_STRICT,
                                    c->app->settings->max_json_depth, err, sizeof(err));
    if (!body) {
        snprintf(desc, sizeof(desc), "Invalid JSON: %s", err);
        pub_reply_invalid(c->resp, "body", NULL, desc);
    }
    return body;
}

json_t *
pub_write_body(pub_call *c, int is_patch, enum pub_body_kind *kind)
{
    if (check_content_type(c, is_patch, kind) != 0)
        return NULL;
    json_t *body = parse_body(c);
    if (!body)
        return NULL;
    if (*kind == PUB_BODY_JSONPATCH ? !json_is_array(body) : !json_is_object(body)) {
        pub_reply_invalid(c->resp, "body", NULL,
                          *kind == PUB_BODY_JSONPATCH ? "Invalid JSON Patch: should be an array"
                                                      : "Invalid JSON: the body must be an object");
        json_decref(body);
        return NULL;
    }
    return body;
}

/* ---- permissions: perm name -> set of principals (a json object used as a set:
 * principal -> true) ---- */

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The permissions of an HGETALL reply ('flat': perm, JSON array, ...). */
static json_t *
perms_from_reply(const redisReply *flat)
{
    json_t *out = json_object();
    char err[128];
    if (!flat || flat->type != REDIS_REPLY_ARRAY)
        return out;
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        json_t *list = herald_jcs_parse(flat->element[i + 1]->str, flat->element[i + 1]->len, 0, 0,
                                        err, sizeof(err));
        json_t *set = json_object();
        size_t j;
        json_t *pr;
        json_array_foreach(list, j, pr) if (json_is_string(pr))
            json_object_set_new(set, json_string_value(pr), json_true());
        json_object_set_new(out, flat->element[i]->str, set);
        json_decref(list);
    }
    return out;
}

/*
 * Replaces the permissions named in the body's "permissions" object in 'perms'.
 * Returns 0, or -1 after replying 400.
 */
static int
apply_perms_body(pub_call *c, json_t *perms, const json_t *body_perms, enum pub_res res)
{
    const char *name;
    json_t *list;
    char desc[256];
    if (!body_perms || json_is_null(body_perms))
        return 0;
    if (!json_is_object(body_perms)) {
        pub_reply_invalid(c->resp, "body", "permissions", "Should be an object");
        return -1;
    }
    json_object_foreach((json_t *)body_perms, name, list)
    {
        const char *const *names = pub_perms_names(res);
        int known = 0;
        for (int i = 0; names[i]; i++)
            known |= strcmp(names[i], name) == 0;
        if (!known) {
            snprintf(desc, sizeof(desc), "'%.64s' is not one of %s", name,
                     res == PUB_RES_BUCKET       ? "read, write, collection:create, group:create"
                     : res == PUB_RES_COLLECTION ? "read, write, record:create"
                                                 : "read, write");
            pub_reply_invalid(c->resp, "body", "permissions", desc);
            return -1;
        }
        if (!json_is_array(list)) {
            snprintf(desc, sizeof(desc), "permissions.%s", name);
            pub_reply_invalid(c->resp, "body", desc, "Should be a list of strings");
            return -1;
        }
        json_t *set = json_object();
        size_t i;
        json_t *pr;
        json_array_foreach(list, i, pr)
        {
            if (!json_is_string(pr) || json_string_length(pr) == 0 ||
                strlen(json_string_value(pr)) != json_string_length(pr)) {
                json_decref(set);
                snprintf(desc, sizeof(desc), "permissions.%s", name);
                pub_reply_invalid(c->resp, "body", desc, "Should be a list of non-empty strings");
                return -1;
            }
            json_object_set_new(set, json_string_value(pr), json_true());
        }
        json_object_set_new(perms, name, set);
    }
    return 0;
}

/* Adds 'principal' to the "write" set of 'perms'. */
static void
add_writer(json_t *perms, const char *principal)
{
    json_t *wset = json_object_get(perms, "write");
    if (!wset) {
        wset = json_object();
        json_object_set_new(perms, "write", wset);
    }
    json_object_set_new(wset, principal, json_true());
}

/* Turns 'perms' into (name, canonical JSON array) pairs, dropping empty ones, and the
 * JSON object Kinto shows. */
static void
perms_to_args(pub_args *args, herald_buf *shown, const json_t *perms)
{
    const char *name;
    json_t *set;
    const char **names = herald_mem_alloc((json_object_size(perms) + 1) * sizeof(char *));
    size_t nn = 0;
    json_object_foreach((json_t *)perms, name, set) names[nn++] = name;
    qsort(names, nn, sizeof(*names), cmp_str);
    herald_buf_putc(shown, '{');
    int first = 1;
    for (size_t k = 0; k < nn; k++) {
        set = json_object_get(perms, names[k]);
        size_t n = json_object_size(set), count = 0;
        if (n == 0)
            continue;
        const char **v = herald_mem_alloc(n * sizeof(char *));
        const char *pr;
        json_t *ignored;
        json_object_foreach(set, pr, ignored) v[count++] = pr;
        qsort(v, count, sizeof(*v), cmp_str);
        herald_buf arr = HERALD_BUF_INIT;
        herald_buf_putc(&arr, '[');
        for (size_t i = 0; i < count; i++) {
            if (i)
                herald_buf_putc(&arr, ',');
            herald_jcs_string(&arr, v[i], strlen(v[i]));
        }
        herald_buf_putc(&arr, ']');
        pub_args_adds(args, names[k]);
        pub_args_addbuf(args, &arr);
        if (!first)
            herald_buf_putc(shown, ',');
        first = 0;
        herald_jcs_string(shown, names[k], strlen(names[k]));
        herald_buf_putc(shown, ':');
        herald_buf_append(shown, arr.data, arr.len);
        herald_buf_free(&arr);
        free(v);
    }
    herald_buf_putc(shown, '}');
    free(names);
}

/* ---- data ---- */

/* Validates what a resource's data must hold. Returns 0, or -1 after replying 400. */
static int
validate_data(pub_call *c, enum pub_res res, json_t *data, int is_create_or_put)
{
    if (res == PUB_RES_GROUP) {
        json_t *m = json_object_get(data, "members");
        if (!m) {
            json_object_set_new(data, "members", json_array());
            return 0;
        }
        size_t i;
        json_t *x;
        if (!json_is_array(m))
            goto bad_members;
        json_array_foreach(m, i, x) if (!json_is_string(x) || json_string_length(x) == 0 ||
                                        strlen(json_string_value(x)) !=
                                            json_string_length(x)) goto bad_members;
        return 0;
    bad_members:
        pub_reply_invalid(c->resp, "body", "data.members", "Should be a list of strings");
        return -1;
    }
    if (res == PUB_RES_ACCOUNT) {
        json_t *pw = json_object_get(data, "password");
        if ((!pw && is_create_or_put) ||
            (pw && (!json_is_string(pw) || json_string_length(pw) == 0))) {
            pub_reply_invalid(c->resp, "body", "data.password", "Required");
            return -1;
        }
    }
    return 0;
}

/* Replaces an account's clear password by its hash (computed before dispatch).
 * Returns 0, 1 when the password changed, or -1 after replying. */
static int
hash_password(pub_call *c, json_t *data, const char *old_hash)
{
    json_t *pw = json_object_get(data, "password");
    if (!json_is_string(pw))
        return 0;
    const char *clear = json_string_value(pw);
    size_t len = json_string_length(pw);
    if (old_hash && strcmp(old_hash, clear) == 0)
        return 0; /* an unchanged hash (PATCH of other fields) */
    const char *h = pub_hashes_find(c->hashes, clear, len);
    if (!h) {
        pub_reply_internal(c->resp);
        return -1;
    }
    json_object_set_new(data, "password", json_string(h));
    return 1;
}

/* ---- one attempt ---- */

struct write {
    /* The request. */
    pub_call *c;
    const pub_path *p;
    enum pub_write_mode mode;
    enum pub_body_kind kind;
    const json_t *body;
    const pub_cond *im, *inm;
    int level;
    enum pub_res res;
    /* What was read. */
    pub_view v;
    int exists;
    long long lm;
    json_t *old;
    const char *old_hash; /* in 'old' */
    /* What is written. */
    json_t *data;
    json_t *perms;
    int pw_changed;
    pub_args pargs;
    herald_buf shown, prefix, suffix;
    pub_review_plan plan; /* a source collection of the review workflow (review.h) */
};

/* The object as it is now, and its timestamp. */
static int
write_read(struct write *w)
{
    int rc = pub_objects_fetch(&w->v, w->c->app->store, w->p, w->p->depth, 0);
    if (rc != PUB_OK) {
        pub_call_status(w->c, rc);
        return -1;
    }
    w->exists = pub_view_exists(&w->v, w->level);
    if (!w->exists)
        return 0;
    const redisReply *obj = w->v.obj[w->level];
    w->lm = pub_stamp_last_modified(obj->str, obj->len);
    w->old = pub_stamp_parse(obj->str, obj->len);
    w->old_hash = json_string_value(json_object_get(w->old, "password"));
    return 0;
}

/* Reserved ids, permissions, existence. */
static int
write_check(struct write *w)
{
    pub_call *c = w->c;
    const pub_path *p = w->p;
    int ok;
    if (w->res == PUB_RES_ACCOUNT && strcmp(p->ids[w->level], PUB_ADMIN_ACCOUNT) == 0) {
        /* The configured admin is checked in memory only: a stored "admin" could never
         * authenticate, so the id is reserved. */
        pub_reply_invalid(c->resp, "path", "id", "'admin' is reserved for the configured admin");
        return -1;
    }
    if (w->mode == PUB_WRITE_PATCH ||
        (w->mode == PUB_WRITE_PUT && w->exists && !(w->inm->present && w->inm->star)))
        ok = pub_call_allowed(c, p, &w->v, w->level, "write", w->res);
    else
        ok = pub_call_may_create(c, p, &w->v);
    /* Kinto's accounts: a user who is not an accounts administrator can only create
     * their own account (which they cannot be authenticated as yet). */
    if (ok && w->res == PUB_RES_ACCOUNT && !w->exists && c->user->id[0] && !c->user->admin &&
        !pub_user_in_list(
            c->user,
            (const char *const *)c->app->settings->grants.list[PUB_RES_ACCOUNT][PUB_PERM_WRITE]) &&
        strcmp(c->user->account, p->ids[w->level]) != 0) {
        pub_reply_invalid(c->resp, "body", "id", "Authenticated user cannot create other account");
        return -1;
    }
    if (!ok) {
        pub_call_deny(c);
        return -1;
    }
    int missing = pub_view_first_missing(&w->v);
    if (missing >= 0 && (missing < w->level || w->mode == PUB_WRITE_PATCH)) {
        pub_reply_missing(c->resp, pub_path_name(p, missing), p->ids[missing]);
        return -1;
    }
    if (w->exists && !w->old) {
        pub_reply_internal(c->resp);
        return -1;
    }
    return 0;
}

/* Preconditions (Kinto's _raise_412_if_modified); POST of an existing id. */
static int
write_precondition(struct write *w)
{
    const pub_cond *im = w->im, *inm = w->inm;
    const redisReply *obj = w->exists ? w->v.obj[w->level] : NULL;
    if ((inm->present && inm->star && w->exists) || (im->present && im->star && !w->exists) ||
        (im->present && !im->star && (!w->exists || im->ts != w->lm))) {
        pub_call_precondition(w->c, w->res, obj);
        return -1;
    }
    if (w->mode == PUB_WRITE_POST && w->exists) {
        /* Kinto: POST of an existing id answers 200 with the existing object. */
        herald_buf perms = HERALD_BUF_INIT, out = HERALD_BUF_INIT;
        int writer = pub_call_allowed(w->c, w->p, &w->v, w->level, "write", w->res);
        if (writer)
            pub_objects_perms_json(&perms, w->v.perm[w->level]);
        pub_reply_put_object(&out, w->res, obj->str, obj->len, writer ? perms.data : NULL,
                             perms.len);
        pub_reply_json(w->c->resp, 200, &out, w->lm);
        herald_buf_free(&perms);
        herald_buf_free(&out);
        return -1;
    }
    return 0;
}

/* The new data and permissions of a JSON Patch. */
static int
content_json_patch(struct write *w)
{
    char err[256];
    json_t *asbody;
    if (pub_patch_kinto(&w->data, &asbody, w->old, w->perms, pub_perms_names(w->res), w->body, err,
                        sizeof(err)) != 0) {
        pub_reply_invalid(w->c->resp, "body", NULL, err);
        return -1;
    }
    json_decref(w->perms);
    w->perms = json_object();
    int rc = apply_perms_body(w->c, w->perms, asbody, w->res);
    json_decref(asbody);
    if (rc != 0)
        return -1;
    if (!json_is_object(w->data)) {
        pub_reply_invalid(w->c->resp, "body", "data", "Should be an object");
        return -1;
    }
    return 0;
}

/* The new data and permissions of a PUT, POST, or PATCH with a JSON or merge body. */
static int
content_body(struct write *w)
{
    const json_t *bdata = json_object_get(w->body, "data");
    const json_t *bperms = json_object_get(w->body, "permissions");
    if (bdata && !json_is_object(bdata)) {
        pub_reply_invalid(w->c->resp, "body", "data", "Should be an object");
        return -1;
    }
    if (w->mode == PUB_WRITE_PATCH && !bdata && !bperms) {
        pub_reply_invalid(w->c->resp, "body", NULL, "Provide at least one of data or permissions");
        return -1;
    }
    if (w->mode == PUB_WRITE_PATCH && w->kind == PUB_BODY_MERGE) {
        w->data = json_is_object(bdata) ? pub_patch_merge(w->old, bdata) : json_deep_copy(w->old);
    } else if (w->mode == PUB_WRITE_PATCH) {
        w->data = json_deep_copy(w->old);
        if (json_is_object(bdata))
            pub_patch_shallow(w->data, bdata);
    } else {
        w->data = json_is_object(bdata) ? json_deep_copy(bdata) : json_object();
    }
    if (w->mode == PUB_WRITE_PUT && bperms && json_object_size(bperms) > 0) {
        /* PUT replaces the permissions when it names any. */
        json_decref(w->perms);
        w->perms = json_object();
    }
    return apply_perms_body(w->c, w->perms, bperms, w->res);
}

/* The new data and permissions, validated. */
static int
write_content(struct write *w)
{
    w->perms = w->exists ? perms_from_reply(w->v.perm[w->level]) : json_object();
    int rc = w->mode == PUB_WRITE_PATCH && w->kind == PUB_BODY_JSONPATCH ? content_json_patch(w)
                                                                         : content_body(w);
    if (rc != 0)
        return -1;
    if (w->res == PUB_RES_RECORD && pub_attachment_rule_check(w->c, w->old, w->data) != 0)
        return -1;
    const json_t *did = json_object_get(w->data, "id");
    const char *id = w->p->ids[w->level];
    if (did && (!json_is_string(did) || strcmp(json_string_value(did), id) != 0)) {
        pub_reply_invalid(w->c->resp, "body", "id", "Does not match existing object");
        return -1;
    }
    return validate_data(w->c, w->res, w->data, w->mode != PUB_WRITE_PATCH);
}

/* The schema attributes and, with validation on, the data against its schemas
 * (schema.h); a record validated against its collection's schema gets `schema`. */
static int
write_schema(struct write *w)
{
    const pub_path *p = w->p;
    if (pub_schema_check_attrs(w->c->resp, w->res, w->data) != 0)
        return -1;
    if (w->level < 1 || p->res[0] != PUB_RES_BUCKET || !pub_schema_enabled(w->c->app->schema))
        return 0;
    pub_schema_parents par;
    memset(&par, 0, sizeof(par));
    /* write_check answered 404 unless every ancestor exists. */
    par.bucket_id = p->ids[0];
    par.bucket_json = w->v.obj[0]->str;
    par.bucket_len = w->v.obj[0]->len;
    if (w->res == PUB_RES_RECORD) {
        par.collection_id = p->ids[1];
        par.collection_json = w->v.obj[1]->str;
        par.collection_len = w->v.obj[1]->len;
    }
    return pub_schema_validate(w->c->app->schema, w->c->resp, w->res, &par, w->data);
}

/* The review workflow's rules for a source collection: tracking fields, status
 * transitions (review.h). */
static int
write_review(struct write *w)
{
    if (w->res != PUB_RES_COLLECTION)
        return 0;
    const json_t *bdata = w->kind == PUB_BODY_JSONPATCH ? NULL : json_object_get(w->body, "data");
    return pub_review_collection(w->c, w->p, &w->v, w->exists ? w->old : NULL, bdata, w->data,
                                 w->perms, &w->plan);
}

/* What the server adds: the password hash, the writers. */
static int
write_complete(struct write *w)
{
    pub_call *c = w->c;
    if (w->res == PUB_RES_ACCOUNT) {
        w->pw_changed = hash_password(c, w->data, w->old_hash);
        if (w->pw_changed < 0)
            return -1;
    }
    /* The creator (the current user) is always among the writers, and an account may
     * always change itself. */
    if (c->user->id[0])
        add_writer(w->perms, c->user->id);
    if (w->res == PUB_RES_ACCOUNT && !w->exists) {
        char uid[PUB_USERID_MAX];
        snprintf(uid, sizeof(uid), "account:%s", w->p->ids[w->level]);
        add_writer(w->perms, uid);
    }
    perms_to_args(&w->pargs, &w->shown, w->perms);
    return 0;
}

/* The stored form and its size; an unchanged object is not rewritten (Kinto keeps its
 * timestamp). */
static int
write_encode(struct write *w)
{
    pub_call *c = w->c;
    if (pub_stamp_split(&w->prefix, &w->suffix, w->data, w->p->ids[w->level]) != 0) {
        pub_reply_invalid(c->resp, "body", "data", "Cannot be represented as canonical JSON");
        return -1;
    }
    if ((long long)(w->prefix.len + w->suffix.len + 16) > c->app->settings->max_object_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "The object is larger than max_object_bytes (%lld bytes)",
                 (long long)c->app->settings->max_object_bytes);
        pub_reply_error(c->resp, 413, HERALD_ERRNO_REQUEST_TOO_LARGE, msg, NULL);
        return -1;
    }
    if (!w->exists || w->mode != PUB_WRITE_PATCH)
        return 0;
    const redisReply *obj = w->v.obj[w->level];
    herald_buf same = HERALD_BUF_INIT, oldperms = HERALD_BUF_INIT;
    pub_stamp_join(&same, w->prefix.data, w->prefix.len, w->lm, w->suffix.data, w->suffix.len);
    pub_objects_perms_json(&oldperms, w->v.perm[w->level]);
    int unchanged = same.len == obj->len && memcmp(same.data, obj->str, same.len) == 0 &&
                    oldperms.len == w->shown.len &&
                    memcmp(oldperms.data, w->shown.data, w->shown.len) == 0;
    herald_buf_free(&same);
    herald_buf_free(&oldperms);
    if (!unchanged)
        return 0;
    herald_buf out = HERALD_BUF_INIT;
    pub_reply_put_object(&out, w->res, obj->str, obj->len, w->shown.data, w->shown.len);
    pub_reply_json(c->resp, 200, &out, w->lm);
    herald_buf_free(&out);
    return -1;
}

/* Runs the write script and answers. Returns PUB_CHANGED to be retried, else PUB_OK. */
static int
write_store(struct write *w)
{
    pub_call *c = w->c;
    const pub_path *p = w->p;
    if (w->plan.apply)
        return pub_review_apply(c, p, &w->plan, w->v.obj[w->level], &w->prefix, &w->suffix,
                                &w->pargs);
    pub_put put;
    memset(&put, 0, sizeof(put));
    put.prefix = &w->prefix;
    put.suffix = &w->suffix;
    put.perms = &w->pargs;
    put.guard = w->exists ? w->lm : 0;
    put.max_objects = w->res == PUB_RES_RECORD ? c->app->settings->storage_max_fetch_size : 0;
    pub_args hist;
    pub_args_init(&hist);
    pub_history_args(&hist, c, p, NULL);
    put.hist = &hist;
    pub_args side;
    pub_args_init(&side);
    pub_review_side_args(&side, c, p, w->res == PUB_RES_RECORD ? w->v.obj[1] : NULL);
    put.side = &side;
    int rc = pub_objects_put(&put, c->app->store, p);
    pub_args_free(&hist);
    pub_args_free(&side);
    if (rc == PUB_OK && w->plan.setup)
        pub_review_setup(c, p, &w->plan);
    if (rc == PUB_CHANGED) {
        herald_buf_free(&put.perms_json);
        return PUB_CHANGED;
    }
    if (rc == PUB_MISSING) {
        pub_reply_missing(c->resp, pub_path_name(p, put.missing_level), p->ids[put.missing_level]);
    } else if (rc == PUB_FULL) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "The collection holds the maximum number of records (storage_max_fetch_size "
                 "= %lld)",
                 (long long)c->app->settings->storage_max_fetch_size);
        /* 413 like the other size limits (Kinto has no such limit, hence no errno). */
        pub_reply_error(c->resp, 413, HERALD_ERRNO_REQUEST_TOO_LARGE, msg, NULL);
    } else if (rc != PUB_OK) {
        pub_call_status(c, rc);
    } else {
        if (w->res == PUB_RES_ACCOUNT && (w->pw_changed || !w->exists))
            pub_accounts_cache_forget(c->app->accounts, p->ids[w->level]);
        herald_buf stored = HERALD_BUF_INIT, out = HERALD_BUF_INIT;
        pub_stamp_join(&stored, w->prefix.data, w->prefix.len, put.ts, w->suffix.data,
                       w->suffix.len);
        pub_reply_put_object(&out, w->res, stored.data, stored.len, put.perms_json.data,
                             put.perms_json.len);
        pub_reply_json(c->resp, put.created ? 201 : 200, &out, put.ts);
        herald_buf_free(&stored);
        herald_buf_free(&out);
    }
    herald_buf_free(&put.perms_json);
    return PUB_OK;
}

/* One attempt. Returns PUB_CHANGED to be retried, else the reply is done. */
static int
write_once(pub_call *c, const pub_path *p, enum pub_write_mode mode, const json_t *body,
           enum pub_body_kind kind, const pub_cond *im, const pub_cond *inm)
{
    struct write w;
    int rc = PUB_OK;
    memset(&w, 0, sizeof(w));
    w.c = c;
    w.p = p;
    w.mode = mode;
    w.kind = kind;
    w.body = body;
    w.im = im;
    w.inm = inm;
    w.level = p->depth - 1;
    w.res = p->res[w.level];
    pub_args_init(&w.pargs);
    if (write_read(&w) == 0 && write_check(&w) == 0 && write_precondition(&w) == 0 &&
        write_content(&w) == 0 && write_schema(&w) == 0 && write_review(&w) == 0 &&
        write_complete(&w) == 0 && write_encode(&w) == 0)
        rc = write_store(&w);
    json_decref(w.data);
    json_decref(w.perms);
    json_decref(w.old);
    pub_args_free(&w.pargs);
    pub_view_free(&w.v);
    herald_buf_free(&w.prefix);
    herald_buf_free(&w.suffix);
    herald_buf_free(&w.shown);
    return rc;
}

void
pub_write_object(pub_call *c, const pub_path *p, enum pub_write_mode mode, const json_t *body,
                 enum pub_body_kind kind)
{
    pub_cond im, inm;
    if (pub_call_cond(&im, c, "If-Match") || pub_call_cond(&inm, c, "If-None-Match"))
        return;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        pub_resp_reset(c->resp);
        if (write_once(c, p, mode, body, kind, &im, &inm) != PUB_CHANGED)
            return;
    }
    pub_call_retry_after(c);
    pub_reply_error(c->resp, 409, HERALD_ERRNO_CONSTRAINT_VIOLATED,
                    "The object kept changing during the write; retry", NULL);
}
