/*
 * list -- see list.h.
 */
#include "list.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"
#include "herald/listing.h"
#include "herald/schema.h"
#include "history.h"
#include "review.h"
#include "review.h"
#include "reply.h"
#include "stamp.h"
#include "write.h"

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
        pub_call_status(c, st);
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
        json_t *o = pub_stamp_parse(objs->element[2 * i + 1]->str, objs->element[2 * i + 1]->len);
        if (o)
            json_array_append_new(out->records, o);
    }
    if (!all && json_array_size(out->records) == 0) {
        /* Kinto: nothing shared, and no right to create here either -> refused. */
        char cperm[64];
        pub_call_create_perm(cperm, sizeof(cperm), res);
        if (!pub_perms_allowed(c->user, &c->app->settings->grants, p, parents - 1, cperm,
                               out->v.sets, res)) {
            pub_call_deny(c);
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
        out->ts =
            pub_stamp_last_modified(out->v.obj[parents - 1]->str, out->v.obj[parents - 1]->len);
    rc = 0;
done:
    if (cperms)
        freeReplyObject(cperms);
    free(ids);
    if (rc != 0)
        listed_free(out);
    return rc;
}

static void
get_list(pub_call *c, const pub_path *p)
{
    struct listed l;
    herald_listing *q = NULL;
    herald_listing_page page;
    herald_buf body = HERALD_BUF_INIT;
    pub_cond inm, im;
    enum pub_res res = p->res[p->depth - 1];

    memset(&page, 0, sizeof(page));
    memset(&l, 0, sizeof(l));
    if (pub_call_cond(&im, c, "If-Match") || pub_call_cond(&inm, c, "If-None-Match"))
        goto done;
    if (pub_call_listing(&q, c, NULL) != 0)
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
    pub_call_reply_page(c, &body, l.ts, q, &page);
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
    if (pub_call_listing(&q, c, NULL) != 0)
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
        pub_args hist;
        pub_args_init(&hist);
        pub_history_args(&hist, c, &one, NULL);
        pub_args side;
        pub_args_init(&side);
        pub_review_side_args(&side, c, &one,
                             one.res[one.depth - 1] == PUB_RES_RECORD ? l.v.obj[1] : NULL);
        int rc = pub_objects_delete(&ts, c->app->store, &one, (long long)json_number_value(lmv),
                                    &side, &hist);
        pub_args_free(&hist);
        pub_args_free(&side);
        if (rc == PUB_MISSING || rc == PUB_CHANGED)
            continue; /* deleted or changed meanwhile: not what the client saw */
        if (rc != PUB_OK) {
            pub_call_status(c, rc);
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
    enum pub_body_kind kind;
    json_t *body = pub_write_body(c, 0, &kind);
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
    pub_write_object(c, &one, PUB_WRITE_POST, body, kind);
done:
    json_decref(body);
}

void
pub_list_handle(pub_call *c, const pub_path *p)
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
