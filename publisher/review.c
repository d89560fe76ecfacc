/*
 * review -- see review.h.
 */
#include "review.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herald/jcs.h"
#include "herald/kerror.h"
#include "herald/log.h"
#include "history.h"
#include "reply.h"
#include "stamp.h"

/* Kinto's INVALID_POSTED_DATA (kerror.h has no name for it yet). */
#define ERRNO_INVALID_POSTED_DATA 109

static const char *const tracking[8][2] = {
    {"last_edit_by", "LAST_EDIT_BY"},
    {"last_edit_date", "LAST_EDIT_DATE"},
    {"last_review_request_by", "LAST_REVIEW_REQUEST_BY"},
    {"last_review_request_date", "LAST_REVIEW_REQUEST_DATE"},
    {"last_review_by", "LAST_REVIEW_BY"},
    {"last_review_date", "LAST_REVIEW_DATE"},
    {"last_signature_by", "LAST_SIGNATURE_BY"},
    {"last_signature_date", "LAST_SIGNATURE_DATE"},
};

static const char *const statuses[] = {"work-in-progress", "to-review", "to-sign", "to-resign",
                                       "to-rollback",      "signed",    NULL};

/* ISO-8601 UTC with microseconds and "+00:00" (Remote Settings' tracking dates). */
static void
iso_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000));
}

static const char *
user_id(const pub_call *c)
{
    return c->user->id[0] ? c->user->id : PUB_EVERYONE;
}

/* 1 if the user is a member of group 'gid' of bucket 'bid' (its principals). */
static int
in_group(const pub_call *c, const char *bid, const char *cid, const char *suffix)
{
    char uri[700];
    snprintf(uri, sizeof(uri), "/buckets/%s/groups/%s-%s", bid, cid, suffix);
    for (int i = 0; i < c->user->n; i++)
        if (strcmp(c->user->principals[i], uri) == 0)
            return 1;
    return 0;
}

/* ---- capability ---- */

static json_t *
coll_ref(const char *b, const char *c)
{
    return json_pack("{s:s,s:o}", "bucket", b, "collection", c[0] ? json_string(c) : json_null());
}

json_t *
pub_review_capability(const pub_settings *s)
{
    const pub_resources *rs = &s->resources;
    if (rs->n == 0)
        return NULL;
    json_t *list = json_array();
    for (int i = 0; i < rs->n; i++) {
        const pub_resource *r = &rs->r[i];
        json_t *o = json_object();
        json_object_set_new(o, "source", coll_ref(r->src_b, r->src_c));
        if (r->has_preview)
            json_object_set_new(o, "preview", coll_ref(r->prev_b, r->prev_c));
        json_object_set_new(o, "destination", coll_ref(r->dst_b, r->dst_c));
        pub_resolved res;
        if (pub_resources_source(rs, r->src_b, r->src_c[0] ? r->src_c : "x", &res) &&
            res.review != rs->review_enabled)
            json_object_set_new(o, "to_review_enabled", json_boolean(res.review));
        json_array_append_new(list, o);
    }
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:b,s:s,s:s,s:b}", "description",
                     "Digital signatures for integrity and authenticity of records.", "url",
                     "https://github.com/mozilla/remote-settings/tree/main/kinto-remote-settings",
                     "version", HERALD_VERSION, "resources", list, "plugin_userid", PUB_REVIEW_USER,
                     "plugin_user_id", PUB_REVIEW_USER, "group_check_enabled", 1, "editors_group",
                     "{collection_id}-editors", "reviewers_group", "{collection_id}-reviewers",
                     "to_review_enabled", rs->review_enabled);
}

/* ---- preview and destination: the workflow's only ---- */

int
pub_review_refuse_target(pub_call *c, const pub_path *p)
{
    const pub_resources *rs = &c->app->settings->resources;
    enum pub_method m = c->req->method;
    if (rs->n == 0 || !(m == PUB_PUT || m == PUB_PATCH || m == PUB_POST || m == PUB_DELETE))
        return 0;
    if ((p->kind != PUB_PATH_OBJECT && p->kind != PUB_PATH_LIST) || p->res[0] != PUB_RES_BUCKET)
        return 0;
    /* Groups of a destination bucket change no published content. */
    if (p->depth >= 2 && p->res[1] == PUB_RES_GROUP)
        return 0;
    pub_resolved r;
    const char *cid = NULL;
    if (p->depth >= 3 || (p->depth == 2 && p->kind == PUB_PATH_OBJECT))
        cid = p->ids[1];
    if (!pub_resources_target(rs, p->ids[0], cid, &r))
        return 0;
    char msg[1024];
    if (r.src_c && r.src_c[0] && strcmp(r.src_c, "{collection}") != 0)
        snprintf(msg, sizeof(msg),
                 "/buckets/%s%s%s is published by the review workflow only: edit "
                 "/buckets/%s/collections/%s instead",
                 p->ids[0], cid ? "/collections/" : "", cid ? cid : "", r.src_b, r.src_c);
    else
        snprintf(msg, sizeof(msg),
                 "/buckets/%s%s%s is published by the review workflow only: edit "
                 "/buckets/%s%s%s instead",
                 p->ids[0], cid ? "/collections/" : "", cid ? cid : "", r.src_b,
                 cid ? "/collections/" : "", cid ? cid : "");
    pub_reply_error(c->resp, 403, HERALD_ERRNO_FORBIDDEN, msg, NULL);
    return 1;
}

/* ---- the source's status on record edits ---- */

/* The stored form of 'data' (a collection) as prefix/suffix. Returns 0 or -1. */
static int
split(herald_buf *prefix, herald_buf *suffix, json_t *data, const char *id)
{
    return pub_stamp_split(prefix, suffix, data, id);
}

void
pub_review_side_args(pub_args *a, const pub_call *c, const pub_path *p, const redisReply *coll)
{
    const pub_resources *rs = &c->app->settings->resources;
    pub_resolved r;
    herald_buf prefix = HERALD_BUF_INIT, suffix = HERALD_BUF_INIT;
    json_t *data = NULL;
    if (rs->n && p->depth == 3 && p->res[2] == PUB_RES_RECORD && coll &&
        coll->type == REDIS_REPLY_STRING && pub_resources_source(rs, p->ids[0], p->ids[1], &r) &&
        (data = pub_stamp_parse(coll->str, coll->len)) != NULL) {
        char now[96];
        iso_now(now, sizeof(now));
        json_object_set_new(data, "status", json_string("work-in-progress"));
        json_object_set_new(data, "last_edit_by", json_string(user_id(c)));
        json_object_set_new(data, "last_edit_date", json_string(now));
        if (split(&prefix, &suffix, data, p->ids[1]) == 0) {
            pub_args_adds(a, p->ids[0]);
            pub_args_adds(a, p->ids[1]);
            pub_args_add(a, coll->str, coll->len);
            pub_args_addbuf(a, &prefix);
            pub_args_addbuf(a, &suffix);
            json_decref(data);
            herald_buf_free(&prefix);
            herald_buf_free(&suffix);
            return;
        }
    }
    json_decref(data);
    herald_buf_free(&prefix);
    herald_buf_free(&suffix);
    for (int i = 0; i < PUB_SIDE_NARGS; i++)
        pub_args_adds(a, "");
}

/* ---- collection writes: tracking fields and transitions ---- */

static int
refuse(pub_call *c, int status, int errnum, const char *msg)
{
    pub_reply_error(c->resp, status, errnum, msg, NULL);
    return -1;
}

static const char *
str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int
pub_review_collection(pub_call *c, const pub_path *p, const pub_view *v, const json_t *old,
                      const json_t *bdata, json_t *data, json_t *perms, pub_review_plan *plan)
{
    const pub_resources *rs = &c->app->settings->resources;
    char msg[512], now[96];
    memset(plan, 0, sizeof(*plan));
    if (rs->n == 0 || p->depth != 2 || p->res[1] != PUB_RES_COLLECTION ||
        !pub_resources_source(rs, p->ids[0], p->ids[1], &plan->r))
        return 0;
    plan->source = 1;
    const char *cid = p->ids[1];
    iso_now(now, sizeof(now));

    /* The tracking fields are the server's: no add, change or removal. */
    for (int i = 0; i < 8; i++) {
        const json_t *a = old ? json_object_get(old, tracking[i][0]) : NULL;
        const json_t *b = json_object_get(data, tracking[i][0]);
        if ((a || b) && !(a && b && json_equal((json_t *)a, (json_t *)b))) {
            snprintf(msg, sizeof(msg), "Cannot change <TRACKING_FIELDS.%s: '%s'>", tracking[i][1],
                     tracking[i][0]);
            return refuse(c, 400, ERRNO_INVALID_POSTED_DATA, msg);
        }
    }

    if (!old) {
        /* A new source: its groups must be creatable by the creator. */
        if (!pub_call_allowed(c, p, v, 0, "group:create", PUB_RES_GROUP)) {
            snprintf(msg, sizeof(msg),
                     "Cannot create collection without `group:create` on bucket '%s': "
                     "editors/reviewers groups cannot be set up.",
                     p->ids[0]);
            return refuse(c, 403, HERALD_ERRNO_FORBIDDEN, msg);
        }
        const char *st = str_of(data, "status");
        if (json_object_get(data, "status") && (!st || strcmp(st, "signed") != 0)) {
            /* Any other status on creation is a transition of nothing. */
            snprintf(msg, sizeof(msg), "Invalid status '%s'", st ? st : "");
            return refuse(c, 400, ERRNO_INVALID_POSTED_DATA, msg);
        }
        json_object_set_new(data, "status", json_string("signed"));
        json_object_set_new(data, "last_signature_by", json_string(PUB_REVIEW_USER));
        json_object_set_new(data, "last_signature_date", json_string(now));
        json_t *w = json_object_get(perms, "write");
        if (!w) {
            w = json_object();
            json_object_set_new(perms, "write", w);
        }
        char uri[700];
        snprintf(uri, sizeof(uri), "/buckets/%s/groups/%s-editors", p->ids[0], cid);
        json_object_set_new(w, uri, json_true());
        snprintf(uri, sizeof(uri), "/buckets/%s/groups/%s-reviewers", p->ids[0], cid);
        json_object_set_new(w, uri, json_true());
        plan->setup = 1;
        return 0;
    }

    const char *olds = str_of(old, "status");
    const json_t *reqv = json_object_get(data, "status");
    const char *req = json_string_value(reqv);
    snprintf(plan->old_status, sizeof(plan->old_status), "%s", olds ? olds : "");
    if (olds && req && strcmp(olds, req) == 0)
        return 0; /* same status: no checks, no effects */
    if (!reqv || json_is_null(reqv)) {
        if (!olds)
            return 0;
        return refuse(c, 400, ERRNO_INVALID_POSTED_DATA, "Cannot remove status");
    }
    int known = 0;
    for (int i = 0; req && statuses[i]; i++)
        known |= strcmp(statuses[i], req) == 0;
    if (!known) {
        snprintf(msg, sizeof(msg), "Invalid status '%.200s'", req ? req : "");
        return refuse(c, 400, ERRNO_INVALID_POSTED_DATA, msg);
    }
    snprintf(plan->requested, sizeof(plan->requested), "%s", req);
    int review = plan->r.review;
    int was_signed = olds && strcmp(olds, "signed") == 0;
    const char *uid = user_id(c);

    if (strcmp(req, "signed") == 0)
        return refuse(c, 400, ERRNO_INVALID_POSTED_DATA, "Cannot set status to 'signed'");
    if (strcmp(req, "work-in-progress") == 0)
        return 0;
    if (strcmp(req, "to-review") == 0) {
        if (review && !in_group(c, p->ids[0], cid, "editors")) {
            snprintf(msg, sizeof(msg), "Not in %s-editors group", cid);
            return refuse(c, 403, HERALD_ERRNO_FORBIDDEN, msg);
        }
        json_object_set_new(data, "last_review_request_by", json_string(uid));
        json_object_set_new(data, "last_review_request_date", json_string(now));
        const json_t *given = bdata ? json_object_get(bdata, "last_editor_comment") : NULL;
        if (!given)
            json_object_set_new(data, "last_editor_comment", json_string(""));
        plan->apply = plan->r.has_preview;
        return 0;
    }
    if (strcmp(req, "to-sign") == 0) {
        if (was_signed)
            return refuse(c, 400, ERRNO_INVALID_POSTED_DATA, "Collection already signed");
        if (review) {
            if (!in_group(c, p->ids[0], cid, "reviewers")) {
                snprintf(msg, sizeof(msg), "Not in %s-reviewers group", cid);
                return refuse(c, 403, HERALD_ERRNO_FORBIDDEN, msg);
            }
            if (!olds || strcmp(olds, "to-review") != 0)
                return refuse(c, 400, ERRNO_INVALID_POSTED_DATA, "Collection not under review");
            const char *requester = str_of(old, "last_review_request_by");
            if (requester && strcmp(requester, uid) == 0)
                return refuse(c, 403, HERALD_ERRNO_FORBIDDEN, "Last editor cannot review");
        }
        json_object_set_new(data, "status", json_string("signed"));
        json_object_set_new(data, "last_review_by", json_string(uid));
        json_object_set_new(data, "last_review_date", json_string(now));
        json_object_set_new(data, "last_signature_by", json_string(uid));
        json_object_set_new(data, "last_signature_date", json_string(now));
        plan->apply = 1;
        return 0;
    }
    if (strcmp(req, "to-resign") == 0) {
        if (olds)
            json_object_set_new(data, "status", json_string(olds));
        else
            json_object_del(data, "status");
        json_object_set_new(data, "last_signature_by", json_string(uid));
        json_object_set_new(data, "last_signature_date", json_string(now));
        plan->apply = 1;
        return 0;
    }
    /* to-rollback */
    if (was_signed)
        return refuse(c, 400, ERRNO_INVALID_POSTED_DATA, "Collection has no work-in-progress");
    json_object_set_new(data, "status", json_string("signed"));
    json_object_set_new(data, "last_editor_comment", json_string(""));
    json_object_set_new(data, "last_reviewer_comment", json_string(""));
    json_object_set_new(data, "last_edit_by", json_string(uid));
    json_object_set_new(data, "last_edit_date", json_string(now));
    plan->apply = 1;
    return 0;
}

/* ---- applying a transition ---- */

/* The span of the top-level last_modified value in a stored object (canonical JSON):
 * [*start, *end). Returns 0, or -1 when absent. */
static int
lm_span(const char *s, size_t len, size_t *start, size_t *end)
{
    static const char key[] = "\"last_modified\":";
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (depth == 1 && ch == '"' && len - i >= sizeof(key) - 1 &&
            memcmp(s + i, key, sizeof(key) - 1) == 0) {
            size_t j = i + sizeof(key) - 1, k = j;
            while (k < len && ((s[k] >= '0' && s[k] <= '9') || s[k] == '-'))
                k++;
            *start = j;
            *end = k;
            return 0;
        }
        if (ch == '"')
            in_str = 1;
        else if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']')
            depth--;
    }
    return -1;
}

/* 1 if two stored records are equal but for their last_modified. */
static int
same_record(const redisReply *a, const redisReply *b)
{
    size_t as, ae, bs, be;
    if (lm_span(a->str, a->len, &as, &ae) || lm_span(b->str, b->len, &bs, &be))
        return 0;
    return as == bs && memcmp(a->str, b->str, as) == 0 && a->len - ae == b->len - be &&
           memcmp(a->str + ae, b->str + be, a->len - ae) == 0;
}

/* The records list of (b, c): HGETALL objs and the timestamp, read together. */
struct list {
    pub_view v;
    const redisReply *objs;
    char ts[32];
};

static int
read_list(struct list *l, pub_call *c, const char *b, const char *cid)
{
    pub_path p;
    memset(&p, 0, sizeof(p));
    p.kind = PUB_PATH_LIST;
    p.depth = 2;
    p.res[0] = PUB_RES_BUCKET;
    p.res[1] = PUB_RES_COLLECTION;
    p.res[2] = PUB_RES_RECORD;
    snprintf(p.ids[0], sizeof(p.ids[0]), "%s", b);
    snprintf(p.ids[1], sizeof(p.ids[1]), "%s", cid);
    memset(l, 0, sizeof(*l));
    int rc = pub_objects_fetch(&l->v, c->app->store, &p, 2, 1);
    if (rc != PUB_OK)
        return rc;
    l->objs = l->v.list_objs;
    if (!l->objs || l->objs->type != REDIS_REPLY_ARRAY)
        return PUB_FAILED;
    snprintf(l->ts, sizeof(l->ts), "%s",
             l->v.list_ts && l->v.list_ts->type == REDIS_REPLY_STRING ? l->v.list_ts->str : "0");
    return PUB_OK;
}

/* The stored record 'id' of 'l', or NULL. */
static const redisReply *
find(const struct list *l, const char *id)
{
    for (size_t i = 0; i + 1 < l->objs->elements; i += 2)
        if (strcmp(l->objs->element[i]->str, id) == 0)
            return l->objs->element[i + 1];
    return NULL;
}

/* Appends one op making list 'to' (b, c) hold the records of 'from' ('from' NULL: no
 * copy, only an event). */
static void
add_op(pub_args *a, pub_call *c, const char *b, const char *cid, const struct list *to,
       const struct list *from, int event)
{
    char uri[700];
    snprintf(uri, sizeof(uri), "/buckets/%s/collections/%s", b, cid);
    pub_args_adds(a, b);
    pub_args_adds(a, cid);
    pub_args_adds(a, to->ts);
    pub_args_adds(a, pub_history_logged(c->app->settings, uri, PUB_REVIEW_USER) ? "1" : "0");
    pub_args_adds(a, "1");
    pub_args_adds(a, event ? "1" : "0");
    pub_args ups, dels;
    pub_args_init(&ups);
    pub_args_init(&dels);
    int nup = 0, ndel = 0;
    if (from) {
        for (size_t i = 0; i + 1 < from->objs->elements; i += 2) {
            const redisReply *id = from->objs->element[i], *rec = from->objs->element[i + 1];
            const redisReply *cur = find(to, id->str);
            size_t s, e;
            if ((cur && same_record(cur, rec)) || lm_span(rec->str, rec->len, &s, &e) != 0)
                continue;
            pub_args_add(&ups, id->str, id->len);
            pub_args_add(&ups, rec->str, s);
            pub_args_add(&ups, rec->str + e, rec->len - e);
            nup++;
        }
        for (size_t i = 0; i + 1 < to->objs->elements; i += 2) {
            const redisReply *id = to->objs->element[i];
            if (!find(from, id->str)) {
                pub_args_add(&dels, id->str, id->len);
                ndel++;
            }
        }
    }
    pub_args_addi(a, nup);
    pub_args_addi(a, ndel);
    for (int i = 0; i < ups.n; i++)
        pub_args_add(a, ups.v[i], ups.len[i]);
    for (int i = 0; i < dels.n; i++)
        pub_args_add(a, dels.v[i], dels.len[i]);
    pub_args_free(&ups);
    pub_args_free(&dels);
}

int
pub_review_apply(pub_call *c, const pub_path *p, const pub_review_plan *plan,
                 const redisReply *old_json, const herald_buf *prefix, const herald_buf *suffix,
                 const pub_args *perms)
{
    const pub_resolved *r = &plan->r;
    struct list src, prev, dst;
    pub_args a, hist;
    int rc = PUB_OK, nops = 0;
    redisReply *reply = NULL;
    memset(&src, 0, sizeof(src));
    memset(&prev, 0, sizeof(prev));
    memset(&dst, 0, sizeof(dst));
    pub_args_init(&a);
    pub_args_init(&hist);

    int st = read_list(&src, c, p->ids[0], p->ids[1]);
    if (st == PUB_OK && r->has_preview)
        st = read_list(&prev, c, r->prev_b, r->prev_c);
    if (st == PUB_OK)
        st = read_list(&dst, c, r->dst_b, r->dst_c);
    if (st != PUB_OK) {
        pub_call_status(c, st);
        goto done;
    }
    pub_args ops;
    pub_args_init(&ops);
    const char *req = plan->requested;
    if (strcmp(req, "to-review") == 0) {
        add_op(&ops, c, r->prev_b, r->prev_c, &prev, &src, 1);
        nops = 1;
    } else if (strcmp(req, "to-sign") == 0) {
        if (r->has_preview) {
            add_op(&ops, c, r->prev_b, r->prev_c, &prev, &src, 1);
            nops++;
        }
        add_op(&ops, c, r->dst_b, r->dst_c, &dst, &src, 1);
        nops++;
    } else if (strcmp(req, "to-resign") == 0) {
        add_op(&ops, c, r->dst_b, r->dst_c, &dst, NULL, 1);
        nops++;
        if (r->has_preview) {
            add_op(&ops, c, r->prev_b, r->prev_c, &prev, NULL, 1);
            nops++;
        }
    } else { /* to-rollback */
        add_op(&ops, c, p->ids[0], p->ids[1], &src, &dst, 0);
        nops++;
        if (r->has_preview) {
            add_op(&ops, c, r->prev_b, r->prev_c, &prev, &dst, 1);
            nops++;
        }
    }

    char eid[37];
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof(rnd));
    snprintf(eid, sizeof(eid), "%02x%02x%02x%02x-%02x%02x-4%01x%02x-%02x%02x-%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6] & 0x0f, rnd[7], (rnd[8] & 0x3f) | 0x80,
             rnd[9], rnd[10], rnd[11]);
    pub_args_adds(&a, p->ids[0]);
    pub_args_adds(&a, p->ids[1]);
    pub_args_add(&a, old_json->str, old_json->len);
    pub_args_addbuf(&a, prefix);
    pub_args_addbuf(&a, suffix);
    pub_args_adds(&a, PUB_REVIEW_USER);
    pub_args_adds(&a, eid);
    pub_args_addi(&a, perms->n / 2);
    for (int i = 0; i < perms->n; i++)
        pub_args_add(&a, perms->v[i], perms->len[i]);
    pub_args_addi(&a, nops);
    for (int i = 0; i < ops.n; i++)
        pub_args_add(&a, ops.v[i], ops.len[i]);
    pub_args_free(&ops);
    pub_history_args(&hist, c, p, NULL);
    for (int i = 0; i < hist.n; i++)
        pub_args_add(&a, hist.v[i], hist.len[i]);

    reply = pub_store_eval(c->app->store, PUB_SCRIPT_REVIEW_APPLY, 0, &a);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        if (reply && reply->type == REDIS_REPLY_ERROR && !pub_store_error_is_transient(reply))
            herald_error("review_apply: %s", reply->str);
        pub_call_status(c, !reply || pub_store_error_is_transient(reply) ? PUB_UNAVAILABLE
                                                                         : PUB_FAILED);
        goto done;
    }
    if (reply->element[0]->integer == -2) {
        rc = PUB_CHANGED;
        goto done;
    }
    if (reply->elements != 3 || reply->element[1]->type != REDIS_REPLY_STRING) {
        pub_call_status(c, PUB_FAILED);
        goto done;
    }
    long long ts = strtoll(reply->element[1]->str, NULL, 10);
    herald_buf stored = HERALD_BUF_INIT, pj = HERALD_BUF_INIT, out = HERALD_BUF_INIT;
    pub_stamp_join(&stored, prefix->data, prefix->len, ts, suffix->data, suffix->len);
    pub_objects_perms_json(&pj, reply->element[2]);
    pub_reply_put_object(&out, PUB_RES_COLLECTION, stored.data, stored.len, pj.data, pj.len);
    pub_reply_json(c->resp, 200, &out, ts);
    herald_buf_free(&stored);
    herald_buf_free(&pj);
    herald_buf_free(&out);
done:
    if (reply)
        freeReplyObject(reply);
    pub_view_free(&src.v);
    pub_view_free(&prev.v);
    pub_view_free(&dst.v);
    pub_args_free(&a);
    pub_args_free(&hist);
    return rc;
}

/* ---- a new source: groups, preview, destination ---- */

/* Creates the object 'p' with 'data' (stolen) and the one permission 'perm' granted to
 * 'who', unless it exists (existing objects are untouched). */
static void
create_missing(pub_call *c, const pub_path *p, json_t *data, const char *perm, const char *who)
{
    herald_buf prefix = HERALD_BUF_INIT, suffix = HERALD_BUF_INIT, arr = HERALD_BUF_INIT;
    pub_args perms, hist;
    pub_args_init(&perms);
    pub_args_init(&hist);
    if (pub_stamp_split(&prefix, &suffix, data, p->ids[p->depth - 1]) != 0)
        goto done;
    herald_buf_putc(&arr, '[');
    herald_jcs_string(&arr, who, strlen(who));
    herald_buf_putc(&arr, ']');
    pub_args_adds(&perms, perm);
    pub_args_addbuf(&perms, &arr);
    pub_history_args(&hist, c, p, PUB_REVIEW_USER);
    pub_put put;
    memset(&put, 0, sizeof(put));
    put.prefix = &prefix;
    put.suffix = &suffix;
    put.perms = &perms;
    put.guard = 0; /* only when missing */
    put.hist = &hist;
    int rc = pub_objects_put(&put, c->app->store, p);
    if (rc != PUB_OK && rc != PUB_CHANGED)
        herald_warn("review: could not create a %s of the workflow (%d)",
                    pub_res_name[p->res[p->depth - 1]], rc);
    herald_buf_free(&put.perms_json);
done:
    json_decref(data);
    herald_buf_free(&prefix);
    herald_buf_free(&suffix);
    herald_buf_free(&arr);
    pub_args_free(&perms);
    pub_args_free(&hist);
}

static void
path2(pub_path *p, const char *b, enum pub_res res, const char *id)
{
    memset(p, 0, sizeof(*p));
    p->kind = PUB_PATH_OBJECT;
    p->res[0] = PUB_RES_BUCKET;
    snprintf(p->ids[0], sizeof(p->ids[0]), "%s", b);
    p->depth = id ? 2 : 1;
    if (id) {
        p->res[1] = res;
        snprintf(p->ids[1], sizeof(p->ids[1]), "%s", id);
    }
}

void
pub_review_setup(pub_call *c, const pub_path *p, const pub_review_plan *plan)
{
    const char *uid = user_id(c), *cid = p->ids[1];
    char gid[PUB_ID_MAX + 16];
    pub_path q;
    snprintf(gid, sizeof(gid), "%s-editors", cid);
    if (strlen(gid) <= PUB_ID_MAX) {
        path2(&q, p->ids[0], PUB_RES_GROUP, gid);
        create_missing(c, &q, json_pack("{s:[s]}", "members", uid), "write", uid);
    }
    snprintf(gid, sizeof(gid), "%s-reviewers", cid);
    if (strlen(gid) <= PUB_ID_MAX) {
        path2(&q, p->ids[0], PUB_RES_GROUP, gid);
        create_missing(c, &q, json_pack("{s:[]}", "members"), "write", uid);
    }
    /* Preview and destination: buckets writable by the workflow only (the router
     * refuses every direct write there), collections published (read: everyone). */
    const pub_resolved *r = &plan->r;
    for (int k = 0; k < 2; k++) {
        const char *b = k ? r->dst_b : r->prev_b, *cc = k ? r->dst_c : r->prev_c;
        if (!k && !r->has_preview)
            continue;
        path2(&q, b, PUB_RES_BUCKET, NULL);
        create_missing(c, &q, json_object(), "write", PUB_REVIEW_USER);
        path2(&q, b, PUB_RES_COLLECTION, cc);
        create_missing(c, &q, json_object(), "read", PUB_EVERYONE);
    }
}
