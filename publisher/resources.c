/*
 * resources -- the handlers of Kinto's objects: buckets, collections, groups, records,
 * accounts, one object (GET, HEAD, PUT, PATCH, DELETE) or a list of them (GET, HEAD,
 * POST, DELETE).
 *
 * Every handler reads first (objects.h: the path's objects and permissions in one
 * transaction), decides on that state (permissions, preconditions, the new data and
 * permissions), then writes with a guard on the state it read. If another publisher
 * changed the object in between, the script refuses (PUB_CHANGED) and the handler
 * starts over, a few times at most. Kinto's order of checks is kept: permissions
 * first (an unauthorized client learns nothing, not even whether an object exists),
 * then existence (404 naming the first missing level), then preconditions (412/304),
 * then the body (400).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "herald/jcs.h"
#include "herald/kerror.h"
#include "herald/listing.h"
#include "herald/log.h"
#include "herald/schema.h"
#include "objects.h"
#include "patch.h"
#include "reply.h"
#include "routes.h"
#include "stamp.h"

#define WRITE_ATTEMPTS 5

enum write_mode { MODE_PUT, MODE_PATCH, MODE_POST };
enum patch_kind { PATCH_JSON, PATCH_MERGE, PATCH_JSONPATCH };

/* A precondition header: absent, "*", or "<int>". */
struct cond {
    int present;
    int star;
    long long ts;
};

/* Parses If-Match / If-None-Match. Returns 0, or -1 after replying 400. */
static int
parse_cond(struct cond *out, pub_call *c, const char *name)
{
    const char *v = pub_req_header(c->req, name);
    char *end;
    memset(out, 0, sizeof(*out));
    if (!v)
        return 0;
    while (*v == ' ')
        v++;
    out->present = 1;
    if (strcmp(v, "*") == 0) {
        out->star = 1;
        return 0;
    }
    size_t len = strlen(v);
    while (len > 0 && v[len - 1] == ' ')
        len--;
    if (len >= 3 && v[0] == '"' && v[len - 1] == '"' && v[1] >= '0' && v[1] <= '9') {
        long long ts = strtoll(v + 1, &end, 10);
        if (end == v + len - 1) {
            out->ts = ts;
            return 0;
        }
    }
    char desc[128];
    snprintf(desc, sizeof(desc),
             "Invalid value for %s. The value should be integer between double quotes.", name);
    pub_reply_invalid(c->resp, "header", name, desc);
    return -1;
}

/* The resource one level below 'p' is about, and the create permission for it. */
static void
create_perm(char *out, size_t len, enum pub_res res)
{
    snprintf(out, len, "%s:create", pub_res_name[res]);
}

/* Permission 'perm' on level 'level' of the view, about resource 'context'. */
static int
allowed(pub_call *c, const pub_path *p, const pub_view *v, int level, const char *perm,
        enum pub_res context)
{
    return pub_perms_allowed(c->user, &c->app->settings->grants, p, level, perm, v->sets, context);
}

/* May the user create the object at the last level of 'p'? */
static int
may_create(pub_call *c, const pub_path *p, const pub_view *v)
{
    char perm[64];
    enum pub_res res = p->res[p->depth - 1];
    create_perm(perm, sizeof(perm), res);
    return allowed(c, p, v, p->depth - 2, perm, res);
}

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
check_content_type(pub_call *c, int is_patch, enum patch_kind *kind)
{
    const char *ct = pub_req_header(c->req, "Content-Type");
    *kind = PATCH_JSON;
    if (!ct || !*ct || is_json_type(ct, "application/json"))
        return 0;
    if (is_patch && is_json_type(ct, "application/merge-patch+json")) {
        *kind = PATCH_MERGE;
        return 0;
    }
    if (is_patch && is_json_type(ct, "application/json-patch+json")) {
        *kind = PATCH_JSONPATCH;
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

/* Parses stored JSON (canonical, trusted). */
static json_t *
parse_stored(const char *s, size_t len)
{
    char err[128];
    return herald_jcs_parse(s, len, 0, 0, err, sizeof(err));
}

/* Appends an object's data for output: accounts never show their password hash. */
static void
put_data(herald_buf *out, enum pub_res res, const char *json, size_t len)
{
    if (res != PUB_RES_ACCOUNT) {
        herald_buf_append(out, json, len);
        return;
    }
    json_t *o = parse_stored(json, len);
    json_object_del(o, "password");
    if (!o || herald_jcs_dump(out, o) != 0)
        herald_buf_puts(out, "{}");
    json_decref(o);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Permissions being computed: perm name -> set of principals (json object used as a
 * set: principal -> true). */
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
 * Replaces the permissions named in the body's "permissions" object in 'perms' (a perm
 * name -> set object). Returns 0, or -1 after replying 400.
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

/* Turns a perm -> set object into (name, canonical JSON array) pairs, dropping empty
 * ones, and the JSON object Kinto shows. */
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

/* Generates an id: UUID4 for records, else 8 characters [a-z0-9]. */
static void
generate_id(char *out, enum pub_res res)
{
    unsigned char r[16];
    randombytes_buf(r, sizeof(r));
    if (res == PUB_RES_RECORD) {
        r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
        r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                 r[13], r[14], r[15]);
        return;
    }
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    out[0] = alphabet[r[0] % 26];
    for (int i = 1; i < 8; i++)
        out[i] = alphabet[r[i] % 36];
    out[8] = '\0';
}

static long long
stored_lm(const redisReply *obj)
{
    return pub_stamp_last_modified(obj->str, obj->len);
}

/* Appends {"data": ..., "permissions": ...} (permissions only for writers). */
static void
object_body(herald_buf *out, enum pub_res res, const char *json, size_t len, const char *perms,
            size_t plen)
{
    herald_buf_puts(out, "{\"data\":");
    put_data(out, res, json, len);
    if (perms) {
        herald_buf_puts(out, ",\"permissions\":");
        herald_buf_append(out, perms, plen);
    }
    herald_buf_putc(out, '}');
}

static void
get_object(pub_call *c, const pub_path *p)
{
    pub_view v;
    herald_buf body = HERALD_BUF_INIT, perms = HERALD_BUF_INIT;
    struct cond im, inm;
    int level = p->depth - 1;
    enum pub_res res = p->res[level];

    memset(&v, 0, sizeof(v));
    if (parse_cond(&im, c, "If-Match") || parse_cond(&inm, c, "If-None-Match"))
        goto done;
    int rc = pub_objects_fetch(&v, c->app->store, p, p->depth, 0);
    if (rc != PUB_OK) {
        pub_routes_status(c, rc);
        goto done;
    }
    if (!allowed(c, p, &v, level, "read", res)) {
        pub_routes_deny(c);
        goto done;
    }
    int missing = pub_view_first_missing(&v);
    if (missing >= 0) {
        pub_reply_missing(c->resp, pub_path_name(p, missing), p->ids[missing]);
        goto done;
    }
    const redisReply *obj = v.obj[level];
    long long lm = stored_lm(obj);
    if (inm.present && (inm.star || inm.ts == lm)) {
        pub_reply_json(c->resp, 304, NULL, lm);
        c->resp->has_body = 0;
        goto done;
    }
    if (im.present && !im.star && im.ts != lm) {
        herald_buf ex = HERALD_BUF_INIT;
        put_data(&ex, res, obj->str, obj->len);
        pub_reply_precondition(c->resp, ex.data, ex.len);
        herald_buf_free(&ex);
        goto done;
    }
    int writer = allowed(c, p, &v, level, "write", res);
    if (writer)
        pub_objects_perms_json(&perms, v.perm[level]);
    object_body(&body, res, obj->str, obj->len, writer ? perms.data : NULL, perms.len);
    pub_reply_json(c->resp, 200, &body, lm);
done:
    pub_view_free(&v);
    herald_buf_free(&body);
    herald_buf_free(&perms);
}

/*
 * One attempt of a write (PUT, PATCH, POST with its id in 'p'). Returns PUB_CHANGED to
 * be retried, else the reply is done.
 */
static int
write_once(pub_call *c, const pub_path *p, enum write_mode mode, json_t *body, enum patch_kind kind,
           const struct cond *im, const struct cond *inm)
{
    pub_view v;
    int level = p->depth - 1, rc = PUB_OK, pw_changed = 0;
    enum pub_res res = p->res[level];
    json_t *data = NULL, *perms = NULL, *old = NULL;
    pub_args pargs;
    herald_buf prefix = HERALD_BUF_INIT, suffix = HERALD_BUF_INIT, shown = HERALD_BUF_INIT,
               out = HERALD_BUF_INIT;
    pub_put w;
    const char *old_hash = NULL;

    memset(&w, 0, sizeof(w));
    pub_args_init(&pargs);
    rc = pub_objects_fetch(&v, c->app->store, p, p->depth, 0);
    if (rc != PUB_OK) {
        pub_routes_status(c, rc);
        rc = PUB_OK;
        goto done;
    }
    int exists = pub_view_exists(&v, level);
    int ok;
    if (res == PUB_RES_ACCOUNT && strcmp(p->ids[level], PUB_ADMIN_ACCOUNT) == 0) {
        /* The configured admin is checked in memory only: a stored "admin" could never
         * authenticate, so the id is reserved. */
        pub_reply_invalid(c->resp, "path", "id", "'admin' is reserved for the configured admin");
        goto done;
    }
    if (mode == MODE_PATCH || (mode == MODE_PUT && exists && !(inm->present && inm->star)))
        ok = allowed(c, p, &v, level, "write", res);
    else
        ok = may_create(c, p, &v);
    /* Kinto's accounts: a user who is not an accounts administrator can only create
     * their own account (which they cannot be authenticated as yet). */
    if (ok && res == PUB_RES_ACCOUNT && !exists && c->user->id[0] && !c->user->admin &&
        !pub_user_in_list(
            c->user,
            (const char *const *)c->app->settings->grants.list[PUB_RES_ACCOUNT][PUB_PERM_WRITE]) &&
        strcmp(c->user->account, p->ids[level]) != 0) {
        pub_reply_invalid(c->resp, "body", "id", "Authenticated user cannot create other account");
        goto done;
    }
    if (!ok) {
        pub_routes_deny(c);
        goto done;
    }
    int missing = pub_view_first_missing(&v);
    if (missing >= 0 && (missing < level || mode == MODE_PATCH)) {
        pub_reply_missing(c->resp, pub_path_name(p, missing), p->ids[missing]);
        goto done;
    }
    long long lm = exists ? stored_lm(v.obj[level]) : 0;
    if (exists) {
        old = parse_stored(v.obj[level]->str, v.obj[level]->len);
        if (!old) {
            pub_reply_internal(c->resp);
            goto done;
        }
        old_hash = json_string_value(json_object_get(old, "password"));
    }
    /* Preconditions (Kinto's _raise_412_if_modified). */
    if ((inm->present && inm->star && exists) || (im->present && im->star && !exists) ||
        (im->present && !im->star && (!exists || im->ts != lm))) {
        herald_buf ex = HERALD_BUF_INIT;
        if (exists)
            put_data(&ex, res, v.obj[level]->str, v.obj[level]->len);
        pub_reply_precondition(c->resp, exists ? ex.data : NULL, ex.len);
        herald_buf_free(&ex);
        goto done;
    }
    if (mode == MODE_POST && exists) {
        /* Kinto: POST of an existing id answers 200 with the existing object. */
        herald_buf perms_shown = HERALD_BUF_INIT;
        int writer = allowed(c, p, &v, level, "write", res);
        if (writer)
            pub_objects_perms_json(&perms_shown, v.perm[level]);
        object_body(&out, res, v.obj[level]->str, v.obj[level]->len,
                    writer ? perms_shown.data : NULL, perms_shown.len);
        pub_reply_json(c->resp, 200, &out, lm);
        herald_buf_free(&perms_shown);
        goto done;
    }

    /* The new data. */
    const json_t *bdata = json_object_get(body, "data");
    const json_t *bperms = json_object_get(body, "permissions");
    perms = exists ? perms_from_reply(v.perm[level]) : json_object();
    if (mode == MODE_PATCH && kind == PATCH_JSONPATCH) {
        /* Kinto applies JSON Patch to {"data", "permissions": {perm: {principal}}}. */
        char err[256];
        json_t *doc = json_object();
        json_t *dperms = json_object();
        const char *pn;
        json_t *set;
        json_object_foreach(perms, pn, set)
        {
            json_t *m = json_object();
            const char *pr;
            json_t *ig;
            json_object_foreach(set, pr, ig) json_object_set_new(m, pr, json_string(pr));
            json_object_set_new(dperms, pn, m);
        }
        const char *const *names = pub_perms_names(res);
        for (int i = 0; names[i]; i++)
            if (!json_object_get(dperms, names[i]))
                json_object_set_new(dperms, names[i], json_object());
        json_object_set(doc, "data", old);
        json_object_set_new(doc, "permissions", dperms);
        /* Kinto: "/permissions/<perm>/<principal>" needs no value (it is the principal),
         * and clients (kinto-http) do not escape the '/' of group URIs in it: everything
         * after "/permissions/<perm>/" is the principal. */
        json_t *ops = json_deep_copy(body);
        size_t oi;
        json_t *op;
        json_array_foreach(ops, oi, op)
        {
            const char *path = json_string_value(json_object_get(op, "path"));
            const char *perm_end =
                path && strncmp(path, "/permissions/", 13) == 0 ? strchr(path + 13, '/') : NULL;
            if (!json_is_object(op) || !perm_end)
                continue;
            herald_buf principal = HERALD_BUF_INIT, fixed = HERALD_BUF_INIT;
            for (const char *ch = perm_end + 1; *ch; ch++) {
                if (ch[0] == '~' && (ch[1] == '0' || ch[1] == '1')) {
                    herald_buf_putc(&principal, ch[1] == '0' ? '~' : '/');
                    ch++;
                } else {
                    herald_buf_putc(&principal, *ch);
                }
            }
            herald_buf_append(&fixed, path, (size_t)(perm_end + 1 - path));
            for (const char *ch = herald_buf_cstr(&principal); *ch; ch++) {
                if (*ch == '~')
                    herald_buf_puts(&fixed, "~0");
                else if (*ch == '/')
                    herald_buf_puts(&fixed, "~1");
                else
                    herald_buf_putc(&fixed, *ch);
            }
            if (!json_object_get(op, "value") && principal.len > 0)
                json_object_set_new(op, "value", json_string(herald_buf_cstr(&principal)));
            json_object_set_new(op, "path", json_string(herald_buf_cstr(&fixed)));
            herald_buf_free(&principal);
            herald_buf_free(&fixed);
        }
        int prc = pub_patch_json(&doc, ops, err, sizeof(err));
        json_decref(ops);
        if (prc != 0) {
            json_decref(doc);
            pub_reply_invalid(c->resp, "body", NULL, err);
            goto done;
        }
        data = json_incref(json_object_get(doc, "data"));
        json_t *np = json_object_get(doc, "permissions");
        json_t *asbody = json_object();
        json_object_foreach(np, pn, set)
        {
            json_t *arr = json_array();
            const char *pr;
            json_t *ig;
            if (json_is_object(set))
                json_object_foreach(set, pr, ig) json_array_append_new(arr, json_string(pr));
            else if (json_is_array(set))
                json_array_extend(arr, set);
            json_object_set_new(asbody, pn, arr);
        }
        json_decref(perms);
        perms = json_object();
        rc = apply_perms_body(c, perms, asbody, res);
        json_decref(asbody);
        json_decref(doc);
        if (rc != 0) {
            rc = PUB_OK;
            goto done;
        }
        if (!json_is_object(data)) {
            pub_reply_invalid(c->resp, "body", "data", "Should be an object");
            goto done;
        }
    } else {
        if (bdata && !json_is_object(bdata)) {
            pub_reply_invalid(c->resp, "body", "data", "Should be an object");
            goto done;
        }
        if (mode == MODE_PATCH && !bdata && !bperms) {
            pub_reply_invalid(c->resp, "body", NULL, "Provide at least one of data or permissions");
            goto done;
        }
        if (mode == MODE_PATCH && kind == PATCH_MERGE)
            data = json_is_object(bdata) ? pub_patch_merge(old, bdata) : json_deep_copy(old);
        else if (mode == MODE_PATCH) {
            data = json_deep_copy(old);
            if (json_is_object(bdata))
                pub_patch_shallow(data, bdata);
        } else
            data = json_is_object(bdata) ? json_deep_copy(bdata) : json_object();
        if (mode == MODE_PUT && bperms && json_object_size(bperms) > 0) {
            /* PUT replaces the permissions when it names any. */
            json_decref(perms);
            perms = json_object();
        }
        if (apply_perms_body(c, perms, bperms, res) != 0)
            goto done;
    }
    const json_t *did = json_object_get(data, "id");
    if (did && (!json_is_string(did) || strcmp(json_string_value(did), p->ids[level]) != 0)) {
        pub_reply_invalid(c->resp, "body", "id", "Does not match existing object");
        goto done;
    }
    if (validate_data(c, res, data, mode != MODE_PATCH) != 0)
        goto done;
    if (res == PUB_RES_ACCOUNT) {
        pw_changed = hash_password(c, data, old_hash);
        if (pw_changed < 0)
            goto done;
    }
    /* The creator (the current user) is always among the writers. */
    if (c->user->id[0]) {
        json_t *wset = json_object_get(perms, "write");
        if (!wset) {
            wset = json_object();
            json_object_set_new(perms, "write", wset);
        }
        json_object_set_new(wset, c->user->id, json_true());
    }
    if (res == PUB_RES_ACCOUNT && !exists) {
        char uid[PUB_USERID_MAX];
        snprintf(uid, sizeof(uid), "account:%s", p->ids[level]);
        json_t *wset = json_object_get(perms, "write");
        if (!wset) {
            wset = json_object();
            json_object_set_new(perms, "write", wset);
        }
        json_object_set_new(wset, uid, json_true());
    }
    perms_to_args(&pargs, &shown, perms);

    if (pub_stamp_split(&prefix, &suffix, data, p->ids[level]) != 0) {
        pub_reply_invalid(c->resp, "body", "data", "Cannot be represented as canonical JSON");
        goto done;
    }
    if ((long long)(prefix.len + suffix.len + 16) > c->app->settings->max_object_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "The object is larger than max_object_bytes (%lld bytes)",
                 (long long)c->app->settings->max_object_bytes);
        pub_reply_error(c->resp, 413, HERALD_ERRNO_REQUEST_TOO_LARGE, msg, NULL);
        goto done;
    }
    /* An unchanged object is not rewritten (Kinto keeps its timestamp). */
    if (exists && mode == MODE_PATCH) {
        herald_buf same = HERALD_BUF_INIT, oldperms = HERALD_BUF_INIT;
        pub_stamp_join(&same, prefix.data, prefix.len, lm, suffix.data, suffix.len);
        pub_objects_perms_json(&oldperms, v.perm[level]);
        int unchanged =
            same.len == v.obj[level]->len && memcmp(same.data, v.obj[level]->str, same.len) == 0 &&
            oldperms.len == shown.len && memcmp(oldperms.data, shown.data, shown.len) == 0;
        herald_buf_free(&same);
        herald_buf_free(&oldperms);
        if (unchanged) {
            object_body(&out, res, v.obj[level]->str, v.obj[level]->len, shown.data, shown.len);
            pub_reply_json(c->resp, 200, &out, lm);
            goto done;
        }
    }
    w.prefix = &prefix;
    w.suffix = &suffix;
    w.perms = &pargs;
    w.guard = exists ? lm : 0;
    w.max_objects = res == PUB_RES_RECORD ? c->app->settings->storage_max_fetch_size : 0;
    rc = pub_objects_put(&w, c->app->store, p);
    if (rc == PUB_CHANGED)
        goto done;
    if (rc == PUB_MISSING) {
        pub_reply_missing(c->resp, pub_path_name(p, w.missing_level), p->ids[w.missing_level]);
        rc = PUB_OK;
        goto done;
    }
    if (rc == PUB_FULL) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "The collection holds the maximum number of records (storage_max_fetch_size "
                 "= %lld)",
                 (long long)c->app->settings->storage_max_fetch_size);
        /* 413 like the other size limits (Kinto has no such limit, hence no errno). */
        pub_reply_error(c->resp, 413, HERALD_ERRNO_REQUEST_TOO_LARGE, msg, NULL);
        rc = PUB_OK;
        goto done;
    }
    if (rc != PUB_OK) {
        pub_routes_status(c, rc);
        rc = PUB_OK;
        goto done;
    }
    if (res == PUB_RES_ACCOUNT && (pw_changed || !exists))
        pub_accounts_cache_forget(c->app->accounts, p->ids[level]);
    herald_buf stored = HERALD_BUF_INIT;
    pub_stamp_join(&stored, prefix.data, prefix.len, w.ts, suffix.data, suffix.len);
    object_body(&out, res, stored.data, stored.len, w.perms_json.data, w.perms_json.len);
    herald_buf_free(&stored);
    pub_reply_json(c->resp, w.created ? 201 : 200, &out, w.ts);
done:
    json_decref(data);
    json_decref(perms);
    json_decref(old);
    pub_args_free(&pargs);
    pub_view_free(&v);
    herald_buf_free(&w.perms_json);
    herald_buf_free(&prefix);
    herald_buf_free(&suffix);
    herald_buf_free(&shown);
    herald_buf_free(&out);
    return rc;
}

/* Kinto sends Retry-After with 409 (and 503) only. */
static void
retry_after(pub_call *c)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", c->app->settings->retry_after_seconds);
    pub_headers_set(&c->resp->headers, "Retry-After", v);
}

/* PUT, PATCH, and POST once its id is known ('p' names the object). */
static void
write_object(pub_call *c, const pub_path *p, enum write_mode mode, json_t *body,
             enum patch_kind kind)
{
    struct cond im, inm;
    if (parse_cond(&im, c, "If-Match") || parse_cond(&inm, c, "If-None-Match"))
        return;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        pub_resp_reset(c->resp);
        if (write_once(c, p, mode, body, kind, &im, &inm) != PUB_CHANGED)
            return;
    }
    retry_after(c);
    pub_reply_error(c->resp, 409, HERALD_ERRNO_CONSTRAINT_VIOLATED,
                    "The object kept changing during the write; retry", NULL);
}

static void
delete_object(pub_call *c, const pub_path *p)
{
    struct cond im;
    int level = p->depth - 1;
    enum pub_res res = p->res[level];
    if (parse_cond(&im, c, "If-Match"))
        return;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        pub_view v;
        herald_buf body = HERALD_BUF_INIT;
        long long ts;
        int again = 0;
        pub_resp_reset(c->resp);
        int rc = pub_objects_fetch(&v, c->app->store, p, p->depth, 0);
        if (rc != PUB_OK) {
            pub_routes_status(c, rc);
            return;
        }
        if (!allowed(c, p, &v, level, "write", res)) {
            pub_routes_deny(c);
            goto next;
        }
        int missing = pub_view_first_missing(&v);
        if (missing >= 0) {
            pub_reply_missing(c->resp, pub_path_name(p, missing), p->ids[missing]);
            goto next;
        }
        long long lm = stored_lm(v.obj[level]);
        if (im.present && !im.star && im.ts != lm) {
            herald_buf ex = HERALD_BUF_INIT;
            put_data(&ex, res, v.obj[level]->str, v.obj[level]->len);
            pub_reply_precondition(c->resp, ex.data, ex.len);
            herald_buf_free(&ex);
            goto next;
        }
        rc = pub_objects_delete(&ts, c->app->store, p, lm);
        if (rc == PUB_CHANGED || rc == PUB_MISSING) {
            again = 1;
            goto next;
        }
        if (rc != PUB_OK) {
            pub_routes_status(c, rc);
            goto next;
        }
        if (res == PUB_RES_ACCOUNT)
            pub_accounts_cache_forget(c->app->accounts, p->ids[level]);
        herald_buf_puts(&body, "{\"data\":{\"deleted\":true,\"id\":");
        herald_jcs_string(&body, p->ids[level], strlen(p->ids[level]));
        herald_buf_puts(&body, ",\"last_modified\":");
        herald_buf_put_i64(&body, ts);
        herald_buf_puts(&body, "}}");
        pub_reply_json(c->resp, 200, &body, ts);
    next:
        pub_view_free(&v);
        herald_buf_free(&body);
        if (!again)
            return;
    }
    retry_after(c);
    pub_reply_error(c->resp, 409, HERALD_ERRNO_CONSTRAINT_VIOLATED,
                    "The object kept changing during the delete; retry", NULL);
}

/* Checks the request's Content-Type and parses its body. NULL after a reply. */
static json_t *
body_for_write(pub_call *c, int is_patch, enum patch_kind *kind)
{
    if (check_content_type(c, is_patch, kind) != 0)
        return NULL;
    json_t *body = parse_body(c);
    if (!body)
        return NULL;
    if (*kind == PATCH_JSONPATCH ? !json_is_array(body) : !json_is_object(body)) {
        pub_reply_invalid(c->resp, "body", NULL,
                          *kind == PATCH_JSONPATCH ? "Invalid JSON Patch: should be an array"
                                                   : "Invalid JSON: the body must be an object");
        json_decref(body);
        return NULL;
    }
    return body;
}

void
pub_resources_object(pub_call *c, const pub_path *p)
{
    enum patch_kind kind;
    json_t *body;
    switch (c->req->method) {
    case PUB_GET:
    case PUB_HEAD:
        get_object(c, p);
        return;
    case PUB_PUT:
    case PUB_PATCH:
        body = body_for_write(c, c->req->method == PUB_PATCH, &kind);
        if (body)
            write_object(c, p, c->req->method == PUB_PATCH ? MODE_PATCH : MODE_PUT, body, kind);
        json_decref(body);
        return;
    case PUB_DELETE:
        delete_object(c, p);
        return;
    default:
        pub_reply_method_not_allowed(c->resp);
        return;
    }
}

/* ---- lists ---- */

/* The objects of a list the user may see ('perm' "read") or change ("write"). */
struct listed {
    pub_view v;
    json_t *records;    /* parsed live objects the user may access */
    json_t *tombstones; /* when the user may access the whole list */
    long long ts;
};

static void
listed_free(struct listed *l)
{
    pub_view_free(&l->v);
    json_decref(l->records);
    json_decref(l->tombstones);
    memset(l, 0, sizeof(*l));
}

/* Reads the list and keeps what the user may access. Returns 0, or -1 after a reply. */
static int
collect(struct listed *out, pub_call *c, const pub_path *p, const char *perm)
{
    int parents = p->depth - 1;
    enum pub_res res = p->res[parents];
    redisReply *cperms = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    int st = pub_objects_fetch(&out->v, c->app->store, p, parents, 1);
    if (st != PUB_OK) {
        pub_routes_status(c, st);
        return -1;
    }
    const redisReply *objs = out->v.list_objs, *tombs = out->v.list_tombs;
    if (!objs || objs->type != REDIS_REPLY_ARRAY || !tombs || tombs->type != REDIS_REPLY_ARRAY) {
        pub_reply_internal(c->resp);
        return -1;
    }
    int all = pub_perms_allowed(c->user, &c->app->settings->grants, p, parents - 1, perm,
                                out->v.sets, res);
    size_t n = objs->elements / 2;
    const char **ids = herald_mem_alloc((n + 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++)
        ids[i] = objs->element[2 * i]->str;
    if (!all) {
        cperms = pub_objects_fetch_perms(c->app->store, p, parents, ids, n);
        if (n && !cperms) {
            pub_reply_unavailable(c->resp, c->app->settings->retry_after_seconds);
            goto done;
        }
    }
    out->records = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!all) {
            pub_view tmp = out->v; /* borrow the ancestors' sets */
            const char **kv;
            size_t *len;
            pub_permset_from_reply(&tmp.sets[parents], &kv, &len, cperms->element[i]);
            int ok = pub_perms_allowed(c->user, &c->app->settings->grants, p, parents, perm,
                                       tmp.sets, res);
            free(kv);
            free(len);
            if (!ok)
                continue;
        }
        json_t *o = parse_stored(objs->element[2 * i + 1]->str, objs->element[2 * i + 1]->len);
        if (o)
            json_array_append_new(out->records, o);
    }
    if (!all && json_array_size(out->records) == 0) {
        /* Kinto: nothing shared, and no right to create here either -> refused. */
        char cperm[64];
        create_perm(cperm, sizeof(cperm), res);
        if (!pub_perms_allowed(c->user, &c->app->settings->grants, p, parents - 1, cperm,
                               out->v.sets, res)) {
            pub_routes_deny(c);
            goto done;
        }
    }
    int missing = pub_view_first_missing(&out->v);
    if (missing >= 0) {
        pub_reply_missing(c->resp, pub_path_name(p, missing), p->ids[missing]);
        goto done;
    }
    if (all) {
        out->tombstones = json_array();
        for (size_t i = 0; i + 1 < tombs->elements; i += 2) {
            json_t *t = json_object();
            json_object_set_new(t, "id", json_string(tombs->element[i]->str));
            json_object_set_new(t, "last_modified",
                                json_integer(strtoll(tombs->element[i + 1]->str, NULL, 10)));
            json_object_set_new(t, "deleted", json_true());
            json_array_append_new(out->tombstones, t);
        }
    }
    out->ts = pub_view_list_ts(&out->v);
    if (out->ts <= 0 && parents > 0)
        out->ts = stored_lm(out->v.obj[parents - 1]);
    rc = 0;
done:
    if (cperms)
        freeReplyObject(cperms);
    free(ids);
    if (rc != 0)
        listed_free(out);
    return rc;
}

static int
parse_listing(herald_listing **l, pub_call *c)
{
    herald_listing_error err;
    herald_listing_opts opts = {
        .paginate_by = c->app->settings->paginate_by,
        .max_fetch_size = c->app->settings->storage_max_fetch_size,
        .known_fields = NULL,
    };
    if (herald_listing_parse(l, c->req->query, &opts, &err) == 0)
        return 0;
    c->resp->status = err.status;
    pub_headers_set(&c->resp->headers, "Content-Type", "application/json");
    herald_buf_reset(&c->resp->body);
    herald_listing_error_body(&c->resp->body, &err);
    return -1;
}

/* Next-Page: the absolute URL of the page after this one, when there is one. */
static void
set_next_page(pub_call *c, const herald_listing *q, const char *token)
{
    herald_buf base = HERALD_BUF_INIT, url = HERALD_BUF_INIT;
    if (!token)
        return;
    herald_buf_puts(&base, c->req->host);
    herald_buf_puts(&base, c->req->path);
    herald_listing_next_url(&url, herald_buf_cstr(&base), c->req->query,
                            c->req->query ? strlen(c->req->query) : 0, q, token);
    pub_headers_set(&c->resp->headers, "Next-Page", herald_buf_cstr(&url));
    herald_buf_free(&base);
    herald_buf_free(&url);
}

static void
get_list(pub_call *c, const pub_path *p)
{
    struct listed l;
    herald_listing *q = NULL;
    herald_listing_page page;
    herald_buf body = HERALD_BUF_INIT;
    struct cond inm, im;
    enum pub_res res = p->res[p->depth - 1];
    char num[32];

    memset(&page, 0, sizeof(page));
    memset(&l, 0, sizeof(l));
    if (parse_cond(&im, c, "If-Match") || parse_cond(&inm, c, "If-None-Match"))
        goto done;
    if (parse_listing(&q, c) != 0)
        goto done;
    if (collect(&l, c, p, "read") != 0)
        goto done;
    if (inm.present && (inm.star || inm.ts == l.ts)) {
        pub_reply_json(c->resp, 304, NULL, l.ts);
        c->resp->has_body = 0;
        goto done;
    }
    if (im.present && !im.star && im.ts != l.ts) {
        pub_reply_precondition(c->resp, NULL, 0);
        goto done;
    }
    if (herald_listing_apply(&page, q, l.records, l.tombstones, HERALD_LISTING_PROJECT) != 0) {
        pub_reply_internal(c->resp);
        goto done;
    }
    herald_buf_puts(&body, "{\"data\":[");
    size_t i;
    json_t *o;
    json_array_foreach(page.data, i, o)
    {
        if (i)
            herald_buf_putc(&body, ',');
        if (res == PUB_RES_ACCOUNT && json_object_get(o, "password")) {
            json_t *copy = json_copy(o);
            json_object_del(copy, "password");
            if (herald_jcs_dump(&body, copy) != 0)
                herald_buf_puts(&body, "null");
            json_decref(copy);
        } else if (herald_jcs_dump(&body, o) != 0) {
            herald_buf_puts(&body, "null");
        }
    }
    herald_buf_puts(&body, "]}");
    pub_reply_json(c->resp, 200, &body, l.ts);
    snprintf(num, sizeof(num), "%lld", page.total);
    pub_headers_set(&c->resp->headers, "Total-Records", num);
    pub_headers_set(&c->resp->headers, "Total-Objects", num);
    set_next_page(c, q, page.next_token);
done:
    herald_listing_page_free(&page);
    herald_listing_free(q);
    listed_free(&l);
    herald_buf_free(&body);
}

static void
delete_list(pub_call *c, const pub_path *p)
{
    struct listed l;
    herald_listing *q = NULL;
    herald_listing_page page;
    herald_buf body = HERALD_BUF_INIT;
    long long last = 0;

    memset(&page, 0, sizeof(page));
    memset(&l, 0, sizeof(l));
    if (parse_listing(&q, c) != 0)
        goto done;
    if (collect(&l, c, p, "write") != 0)
        goto done;
    if (herald_listing_apply(&page, q, l.records, NULL, 0) != 0) {
        pub_reply_internal(c->resp);
        goto done;
    }
    herald_buf_puts(&body, "{\"data\":[");
    size_t i, written = 0;
    json_t *o;
    json_array_foreach(page.data, i, o)
    {
        const char *id = json_string_value(json_object_get(o, "id"));
        json_t *lmv = json_object_get(o, "last_modified");
        if (!id || !json_is_number(lmv))
            continue;
        pub_path one = *p;
        one.kind = PUB_PATH_OBJECT;
        snprintf(one.ids[p->depth - 1], sizeof(one.ids[0]), "%s", id);
        long long ts;
        int rc = pub_objects_delete(&ts, c->app->store, &one, (long long)json_number_value(lmv));
        if (rc == PUB_MISSING || rc == PUB_CHANGED)
            continue; /* deleted or changed meanwhile: not what the client saw */
        if (rc != PUB_OK) {
            pub_routes_status(c, rc);
            goto done;
        }
        if (p->res[p->depth - 1] == PUB_RES_ACCOUNT)
            pub_accounts_cache_forget(c->app->accounts, id);
        if (written++)
            herald_buf_putc(&body, ',');
        herald_buf_puts(&body, "{\"deleted\":true,\"id\":");
        herald_jcs_string(&body, id, strlen(id));
        herald_buf_puts(&body, ",\"last_modified\":");
        herald_buf_put_i64(&body, ts);
        herald_buf_putc(&body, '}');
        last = ts;
    }
    herald_buf_puts(&body, "]}");
    pub_reply_json(c->resp, 200, &body, last > 0 ? last : l.ts);
done:
    herald_listing_page_free(&page);
    herald_listing_free(q);
    listed_free(&l);
    herald_buf_free(&body);
}

static void
post_list(pub_call *c, const pub_path *p)
{
    enum patch_kind kind;
    json_t *body = body_for_write(c, 0, &kind);
    pub_path one = *p;
    int level = p->depth - 1;
    if (!body)
        return;
    json_t *data = json_object_get(body, "data");
    const json_t *id = json_is_object(data) ? json_object_get(data, "id") : NULL;
    one.kind = PUB_PATH_OBJECT;
    if (id) {
        const char *s = json_string_value(id);
        if (!s || !herald_schema_valid_id(s, strlen(s))) {
            pub_reply_invalid(c->resp, "body", "data.id", "Invalid id");
            goto done;
        }
        snprintf(one.ids[level], sizeof(one.ids[0]), "%s", s);
    } else if (p->res[level] == PUB_RES_ACCOUNT && c->user->account[0]) {
        /* Kinto's accounts: an authenticated POST without id is about oneself. */
        snprintf(one.ids[level], sizeof(one.ids[0]), "%s", c->user->account);
    } else {
        generate_id(one.ids[level], p->res[level]);
    }
    write_object(c, &one, MODE_POST, body, PATCH_JSON);
done:
    json_decref(body);
}

void
pub_resources_list(pub_call *c, const pub_path *p)
{
    switch (c->req->method) {
    case PUB_GET:
    case PUB_HEAD:
        get_list(c, p);
        return;
    case PUB_POST:
        post_list(c, p);
        return;
    case PUB_DELETE:
        delete_list(c, p);
        return;
    default:
        pub_reply_method_not_allowed(c->resp);
        return;
    }
}

/* ---- GET /v1/permissions ---- */

/* Adds the entry of one object ('uri' like "/buckets/b/collections/c") to 'data' when
 * the user is named in any of its permissions ('flat', HGETALL). */
static void
permissions_entry(json_t *data, const pub_user *u, const char *uri, const redisReply *flat)
{
    pub_path p;
    herald_buf full = HERALD_BUF_INIT;
    herald_buf_puts(&full, "/v1");
    herald_buf_puts(&full, uri);
    pub_path_parse(&p, herald_buf_cstr(&full));
    herald_buf_free(&full);
    if (p.kind != PUB_PATH_OBJECT || !flat || flat->type != REDIS_REPLY_ARRAY)
        return;
    json_t *perms = json_array();
    int writer = 0;
    for (size_t i = 0; i + 1 < flat->elements; i += 2)
        if (pub_user_in_json(u, flat->element[i + 1]->str, flat->element[i + 1]->len)) {
            json_array_append_new(perms, json_string(flat->element[i]->str));
            writer |= strcmp(flat->element[i]->str, "write") == 0;
        }
    if (writer) {
        /* write implies read and every create permission of the object. */
        const char *const *names = pub_perms_names(p.res[p.depth - 1]);
        for (int i = 0; names[i]; i++) {
            int have = 0;
            size_t j;
            json_t *x;
            json_array_foreach(perms, j, x) have |= strcmp(json_string_value(x), names[i]) == 0;
            if (!have)
                json_array_append_new(perms, json_string(names[i]));
        }
    }
    if (json_array_size(perms) == 0) {
        json_decref(perms);
        return;
    }
    enum pub_res res = p.res[p.depth - 1];
    json_t *e = json_object();
    json_object_set_new(e, "uri", json_string(uri));
    json_object_set_new(e, "resource_name", json_string(pub_res_name[res]));
    json_object_set_new(e, "id", json_string(p.ids[p.depth - 1]));
    if (res != PUB_RES_ACCOUNT)
        json_object_set_new(e, "bucket_id", json_string(p.ids[0]));
    if (res == PUB_RES_COLLECTION || res == PUB_RES_RECORD)
        json_object_set_new(e, "collection_id", json_string(p.ids[1]));
    if (res == PUB_RES_GROUP)
        json_object_set_new(e, "group_id", json_string(p.ids[1]));
    if (res == PUB_RES_RECORD)
        json_object_set_new(e, "record_id", json_string(p.ids[2]));
    json_object_set_new(e, "permissions", perms);
    json_array_append_new(data, e);
}

void
pub_resources_permissions(pub_call *c)
{
    /* Kinto lists the objects on which the user holds permissions. Herald scans the
     * permission keys (SCAN, so Redis keeps serving others between batches): an
     * administration endpoint, not a hot path. */
    json_t *data = json_array();
    char cursor[32] = "0";
    const size_t prefix = strlen("herald:perm:");
    do {
        pub_args cmd;
        pub_args_init(&cmd);
        pub_args_adds(&cmd, "SCAN");
        pub_args_adds(&cmd, cursor);
        pub_args_adds(&cmd, "MATCH");
        pub_args_adds(&cmd, "herald:perm:*");
        pub_args_adds(&cmd, "COUNT");
        pub_args_adds(&cmd, "1000");
        redisReply *r = pub_objects_command(c->app->store, &cmd);
        pub_args_free(&cmd);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            json_decref(data);
            pub_routes_status(c, PUB_UNAVAILABLE);
            return;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        pub_args *cmds = herald_mem_calloc(keys->elements + 1, sizeof(*cmds));
        for (size_t i = 0; i < keys->elements; i++) {
            pub_args_adds(&cmds[i], "HGETALL");
            pub_args_adds(&cmds[i], keys->element[i]->str);
        }
        redisReply *all =
            keys->elements ? pub_store_txn(c->app->store, cmds, (int)keys->elements) : NULL;
        for (size_t i = 0; all && i < keys->elements && i < all->elements; i++)
            permissions_entry(data, c->user, keys->element[i]->str + prefix, all->element[i]);
        for (size_t i = 0; i < keys->elements; i++)
            pub_args_free(&cmds[i]);
        free(cmds);
        if (all)
            freeReplyObject(all);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    /* Kinto's filters and sorting apply to the entries too (they have no timestamp, so
     * the default order falls through to the ids). */
    herald_listing *q = NULL;
    herald_listing_page page;
    memset(&page, 0, sizeof(page));
    if (parse_listing(&q, c) == 0) {
        if (herald_listing_apply(&page, q, data, NULL, HERALD_LISTING_PROJECT) != 0) {
            pub_reply_internal(c->resp);
        } else {
            herald_buf body = HERALD_BUF_INIT;
            herald_buf_puts(&body, "{\"data\":");
            if (herald_jcs_dump(&body, page.data) != 0)
                herald_buf_puts(&body, "[]");
            herald_buf_putc(&body, '}');
            pub_reply_json(c->resp, 200, &body, 0);
            set_next_page(c, q, page.next_token);
            herald_buf_free(&body);
        }
    }
    herald_listing_page_free(&page);
    herald_listing_free(q);
    json_decref(data);
}
