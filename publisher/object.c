/*
 * object -- see object.h.
 */
#include "object.h"

#include <string.h>

#include "herald/jcs.h"
#include "herald/kerror.h"
#include "history.h"
#include "review.h"
#include "reply.h"
#include "stamp.h"
#include "write.h"

#define DELETE_ATTEMPTS 5

/* Fetches the view of the object at 'p' into 'v', then checks, in this order, that the
 * fetch worked, that the caller may 'action' ("read", "write") the object and that every
 * level of the path exists. Returns 0, or -1 once the error reply is made. 'v' is to be
 * freed with pub_view_free() either way. */
static int
fetch_allowed(pub_view *v, pub_call *c, const pub_path *p, const char *action)
{
    int level = p->depth - 1;
    int rc = pub_objects_fetch(v, c->app->store, p, p->depth, 0);
    if (rc != PUB_OK) {
        pub_call_status(c, rc);
        return -1;
    }
    if (!pub_call_allowed(c, p, v, level, action, p->res[level])) {
        pub_call_deny(c);
        return -1;
    }
    int missing = pub_view_first_missing(v);
    if (missing >= 0) {
        pub_reply_missing(c->resp, pub_path_name(p, missing), p->ids[missing]);
        return -1;
    }
    return 0;
}

static void
get_object(pub_call *c, const pub_path *p)
{
    pub_view v;
    herald_buf body = HERALD_BUF_INIT, perms = HERALD_BUF_INIT;
    pub_cond im, inm;
    int level = p->depth - 1;
    enum pub_res res = p->res[level];

    memset(&v, 0, sizeof(v));
    if (pub_call_cond(&im, c, "If-Match") || pub_call_cond(&inm, c, "If-None-Match"))
        goto done;
    if (fetch_allowed(&v, c, p, "read") != 0)
        goto done;
    const redisReply *obj = v.obj[level];
    long long lm = pub_stamp_last_modified(obj->str, obj->len);
    if (inm.present && (inm.star || inm.ts == lm)) {
        pub_reply_json(c->resp, 304, NULL, lm);
        c->resp->has_body = 0;
        goto done;
    }
    if (im.present && !im.star && im.ts != lm) {
        pub_call_precondition(c, res, obj);
        goto done;
    }
    int writer = pub_call_allowed(c, p, &v, level, "write", res);
    if (writer)
        pub_objects_perms_json(&perms, v.perm[level]);
    pub_reply_put_object(&body, res, obj->str, obj->len, writer ? perms.data : NULL, perms.len);
    pub_reply_json(c->resp, 200, &body, lm);
done:
    pub_view_free(&v);
    herald_buf_free(&body);
    herald_buf_free(&perms);
}

/* One attempt of a delete. Returns 1 to be retried (the object changed), else 0 once
 * the reply is done. */
static int
delete_once(pub_call *c, const pub_path *p, const pub_cond *im)
{
    pub_view v;
    herald_buf body = HERALD_BUF_INIT;
    long long ts;
    int level = p->depth - 1, again = 0;
    enum pub_res res = p->res[level];

    if (fetch_allowed(&v, c, p, "write") != 0)
        goto done;
    long long lm = pub_stamp_last_modified(v.obj[level]->str, v.obj[level]->len);
    if (im->present && !im->star && im->ts != lm) {
        pub_call_precondition(c, res, v.obj[level]);
        goto done;
    }
    pub_args hist;
    pub_args_init(&hist);
    pub_history_args(&hist, c, p, NULL);
    pub_args side;
    pub_args_init(&side);
    pub_review_side_args(&side, c, p, res == PUB_RES_RECORD ? v.obj[1] : NULL);
    int rc = pub_objects_delete(&ts, c->app->store, p, lm, &side, &hist);
    pub_args_free(&hist);
    pub_args_free(&side);
    if (rc == PUB_CHANGED || rc == PUB_MISSING) {
        again = 1;
        goto done;
    }
    if (rc != PUB_OK) {
        pub_call_status(c, rc);
        goto done;
    }
    if (res == PUB_RES_ACCOUNT)
        pub_accounts_cache_forget(c->app->accounts, p->ids[level]);
    herald_buf_puts(&body, "{\"data\":{\"deleted\":true,\"id\":");
    herald_jcs_string(&body, p->ids[level], strlen(p->ids[level]));
    herald_buf_puts(&body, ",\"last_modified\":");
    herald_buf_put_i64(&body, ts);
    herald_buf_puts(&body, "}}");
    pub_reply_json(c->resp, 200, &body, ts);
done:
    pub_view_free(&v);
    herald_buf_free(&body);
    return again;
}

static void
delete_object(pub_call *c, const pub_path *p)
{
    pub_cond im;
    if (pub_call_cond(&im, c, "If-Match"))
        return;
    for (int attempt = 0; attempt < DELETE_ATTEMPTS; attempt++) {
        pub_resp_reset(c->resp);
        if (!delete_once(c, p, &im))
            return;
    }
    pub_call_retry_after(c);
    pub_reply_error(c->resp, 409, HERALD_ERRNO_CONSTRAINT_VIOLATED,
                    "The object kept changing during the delete; retry", NULL);
}

void
pub_object_handle(pub_call *c, const pub_path *p)
{
    enum pub_body_kind kind;
    json_t *body;
    switch (c->req->method) {
    case PUB_GET:
    case PUB_HEAD:
        get_object(c, p);
        return;
    case PUB_PUT:
    case PUB_PATCH:
        body = pub_write_body(c, c->req->method == PUB_PATCH, &kind);
        if (body)
            pub_write_object(c, p, c->req->method == PUB_PATCH ? PUB_WRITE_PATCH : PUB_WRITE_PUT,
                             body, kind);
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
