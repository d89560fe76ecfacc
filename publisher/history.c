/*
 * history -- see history.h.
 */
#include "history.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/clock.h"
#include "herald/jcs.h"
#include "herald/kerror.h"
#include "reply.h"
#include "stamp.h"

/* The fields of an entry: filters, _sort and _fields may use only these (Kinto's
 * history schema; anything else is 400 errno 107). */
static const char *const entry_fields[] = {
    "id",     "last_modified", "action",        "resource_name", "uri",       "user_id", "date",
    "target", "bucket_id",     "collection_id", "group_id",      "record_id", NULL,
};

/* 1 if 'uri' is one of the URIs of 'list' or below one of them. */
static int
excluded_uri(const char *list, const char *uri)
{
    size_t ulen = strlen(uri), len;
    for (const char *it; (it = herald_config_list_next(&list, &len));)
        if (len <= ulen && strncmp(it, uri, len) == 0 && (uri[len] == '\0' || uri[len] == '/'))
            return 1;
    return 0;
}

static void
uuid4(char out[37])
{
    unsigned char r[16];
    randombytes_buf(r, sizeof(r));
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

int
pub_history_logged(const pub_settings *s, const char *uri, const char *user_id)
{
    return s->history_enabled && !excluded_uri(s->history_exclude_resources, uri) &&
           !herald_config_list_has(s->history_exclude_user_ids, user_id);
}

void
pub_history_args(pub_args *a, const pub_call *c, const pub_path *p, const char *user_id)
{
    const pub_settings *s = c->app->settings;
    enum pub_res res = p->res[p->depth - 1];
    herald_buf uri = HERALD_BUF_INIT;
    const char *uid = user_id ? user_id : c->user->id[0] ? c->user->id : PUB_EVERYONE;
    char id[37];

    pub_objects_uri(&uri, p, p->depth);
    int logged = s->history_enabled && p->res[0] == PUB_RES_BUCKET && res != PUB_RES_ACCOUNT &&
                 !excluded_uri(s->history_exclude_resources, herald_buf_cstr(&uri)) &&
                 !herald_config_list_has(s->history_exclude_user_ids, uid);
    uuid4(id);
    pub_args_adds(a, logged ? p->ids[0] : "");
    pub_args_adds(a, uid);
    pub_args_adds(a, id);
    pub_args_adds(a, pub_res_name[res]);
    pub_args_adds(a, res == PUB_RES_COLLECTION || res == PUB_RES_RECORD ? p->ids[1] : "");
    pub_args_adds(a, res == PUB_RES_GROUP ? p->ids[1] : res == PUB_RES_RECORD ? p->ids[2] : "");
    pub_args_addbuf(a, &uri);
    pub_args_addi(a, s->history_max_age_seconds * 1000);
    pub_args_addi(a, s->history_max_entries);
    pub_args_addi(a, herald_config_list_has(s->history_auto_trim_user_ids, uid)
                         ? s->history_auto_trim_max_count
                         : 0);
    herald_buf_free(&uri);
}

json_t *
pub_history_capability(const pub_settings *s)
{
    if (!s->history_enabled)
        return NULL;
    json_t *cap = json_pack("{s:s,s:s}", "description", "Track changes on data.", "url",
                            "https://kinto.readthedocs.io/en/latest/api/1.x/history.html");
    if (s->history_auto_trim_max_count > 0 && s->history_auto_trim_user_ids) {
        json_t *users = json_array();
        const char *l = s->history_auto_trim_user_ids;
        size_t len;
        for (const char *it; (it = herald_config_list_next(&l, &len));)
            json_array_append_new(users, json_stringn(it, len));
        json_object_set_new(cap, "auto_trim_max_count",
                            json_integer(s->history_auto_trim_max_count));
        json_object_set_new(cap, "auto_trim_user_ids", users);
    }
    if (s->history_exclude_resources) {
        json_t *ex = json_array();
        const char *l = s->history_exclude_resources, *it;
        size_t len;
        while ((it = herald_config_list_next(&l, &len))) {
            /* "/buckets/b[/collections/c|/groups/g]" -> {bucket, collection|group} */
            char buf[600];
            snprintf(buf, sizeof(buf), "%.*s", (int)(len < 599 ? len : 599), it);
            char *seg[6];
            int n = 0;
            for (char *t = strtok(buf, "/"); t && n < 6; t = strtok(NULL, "/"))
                seg[n++] = t;
            if (n >= 2 && strcmp(seg[0], "buckets") == 0) {
                json_t *o = json_pack("{s:s}", "bucket", seg[1]);
                if (n >= 4)
                    json_object_set_new(o, strcmp(seg[2], "groups") == 0 ? "group" : "collection",
                                        json_string(seg[3]));
                if (n >= 6)
                    json_object_set_new(o, "record", json_string(seg[5]));
                json_array_append_new(ex, o);
            }
        }
        json_object_set_new(cap, "excluded_resources", ex);
    }
    return cap;
}

/* ---- reading ---- */

/* The entries a user may see, with what is needed to answer. */
struct visible {
    pub_view v;      /* the bucket */
    json_t *entries; /* parsed, "__read__" removed */
    long long ts;    /* the history's timestamp (ETag) */
};

static void
visible_free(struct visible *vis)
{
    pub_view_free(&vis->v);
    json_decref(vis->entries);
    memset(vis, 0, sizeof(*vis));
}

/* 1 if one of the user's principals is in the JSON array 'arr'. */
static int
user_in_array(const pub_user *u, const json_t *arr)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        const char *s = json_string_value(x);
        for (int k = 0; s && k < u->n; k++)
            if (strcmp(u->principals[k], s) == 0)
                return 1;
    }
    return 0;
}

/* The entries of the bucket within [since, before], oldest first, as stored strings. */
static redisReply *
read_entries(pub_call *c, const char *bid, long long since, long long before)
{
    pub_args cmd;
    herald_buf k = HERALD_BUF_INIT;
    char lo[32], hi[32];
    pub_args_init(&cmd);
    pub_args_adds(&cmd, "ZRANGEBYSCORE");
    herald_buf_puts(&k, "herald:hist:");
    herald_buf_puts(&k, bid);
    pub_args_addbuf(&cmd, &k);
    snprintf(lo, sizeof(lo), "(%lld", since);
    snprintf(hi, sizeof(hi), "(%lld", before);
    pub_args_adds(&cmd, since >= 0 ? lo : "-inf");
    pub_args_adds(&cmd, before >= 0 ? hi : "+inf");
    redisReply *ids = pub_objects_command(c->app->store, &cmd);
    pub_args_free(&cmd);
    herald_buf_free(&k);
    if (!ids || ids->type != REDIS_REPLY_ARRAY || ids->elements == 0)
        return ids;
    pub_args_init(&cmd);
    pub_args_adds(&cmd, "HMGET");
    herald_buf_puts(&k, "herald:histe:");
    herald_buf_puts(&k, bid);
    pub_args_addbuf(&cmd, &k);
    for (size_t i = 0; i < ids->elements; i++)
        pub_args_add(&cmd, ids->element[i]->str, ids->element[i]->len);
    redisReply *r = pub_objects_command(c->app->store, &cmd);
    pub_args_free(&cmd);
    herald_buf_free(&k);
    freeReplyObject(ids);
    return r;
}

/* Current read permission on each entry's object for a user without bucket read:
 * 'cands' entries (parsed) -> keeps those the user may read now. Returns 0 or -1
 * (Redis unavailable). */
static int
filter_current(pub_call *c, const pub_view *bucket, json_t *cands)
{
    /* Unique URIs of collections, groups and records the entries name. */
    json_t *uris = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(cands, i, e)
    {
        pub_path p;
        herald_buf full = HERALD_BUF_INIT, part = HERALD_BUF_INIT;
        herald_buf_puts(&full, "/v1");
        herald_buf_puts(&full, json_string_value(json_object_get(e, "uri")));
        pub_path_parse(&p, herald_buf_cstr(&full));
        for (int level = 1; p.kind == PUB_PATH_OBJECT && level < p.depth; level++) {
            herald_buf_reset(&part);
            pub_objects_uri(&part, &p, level + 1);
            if (!json_object_get(uris, herald_buf_cstr(&part)))
                json_object_set_new(uris, herald_buf_cstr(&part), json_integer(0));
        }
        herald_buf_free(&full);
        herald_buf_free(&part);
    }
    size_t n = json_object_size(uris), k = 0;
    pub_args *cmds = herald_mem_calloc(n ? n : 1, sizeof(*cmds));
    const char *key;
    json_t *val;
    json_object_foreach(uris, key, val)
    {
        herald_buf pk = HERALD_BUF_INIT;
        herald_buf_puts(&pk, "herald:perm:");
        herald_buf_puts(&pk, key);
        pub_args_adds(&cmds[k], "HGETALL");
        pub_args_addbuf(&cmds[k], &pk);
        json_integer_set(val, (json_int_t)k);
        k++;
        herald_buf_free(&pk);
    }
    redisReply *r = n ? pub_store_txn(c->app->store, cmds, (int)n) : NULL;
    for (k = 0; k < n; k++)
        pub_args_free(&cmds[k]);
    free(cmds);
    if (n && (!r || r->elements != n)) {
        if (r)
            freeReplyObject(r);
        json_decref(uris);
        return -1;
    }
    json_t *kept = json_array();
    json_array_foreach(cands, i, e)
    {
        pub_path p;
        herald_buf full = HERALD_BUF_INIT, part = HERALD_BUF_INIT;
        herald_buf_puts(&full, "/v1");
        herald_buf_puts(&full, json_string_value(json_object_get(e, "uri")));
        pub_path_parse(&p, herald_buf_cstr(&full));
        if (p.kind != PUB_PATH_OBJECT) {
            herald_buf_free(&full);
            continue;
        }
        pub_permset sets[PUB_DEPTH_MAX + 1];
        const char **kv[PUB_DEPTH_MAX + 1] = {0};
        size_t *len[PUB_DEPTH_MAX + 1] = {0};
        memset(sets, 0, sizeof(sets));
        sets[0] = bucket->sets[0];
        for (int level = 1; level < p.depth; level++) {
            herald_buf_reset(&part);
            pub_objects_uri(&part, &p, level + 1);
            json_t *idx = json_object_get(uris, herald_buf_cstr(&part));
            pub_permset_from_reply(&sets[level], &kv[level], &len[level],
                                   r->element[json_integer_value(idx)]);
        }
        if (pub_perms_allowed(c->user, &c->app->settings->grants, &p, p.depth - 1, "read", sets,
                              p.res[p.depth - 1]))
            json_array_append(kept, e);
        for (int level = 0; level <= PUB_DEPTH_MAX; level++) {
            free(kv[level]);
            free(len[level]);
        }
        herald_buf_free(&full);
        herald_buf_free(&part);
    }
    json_array_clear(cands);
    json_array_extend(cands, kept);
    json_decref(kept);
    if (r)
        freeReplyObject(r);
    json_decref(uris);
    return 0;
}

/* Reads the entries the user may see. 'perm' is "read" (GET) or "write" (DELETE, which
 * needs the bucket's write). Returns 0, or -1 after replying. */
static int
collect(struct visible *out, pub_call *c, const pub_path *p, const herald_listing *q,
        const char *perm)
{
    const pub_settings *s = c->app->settings;
    memset(out, 0, sizeof(*out));
    int rc = pub_objects_fetch(&out->v, c->app->store, p, 1, 0);
    if (rc != PUB_OK) {
        pub_call_status(c, rc);
        return -1;
    }
    int all = pub_call_allowed(c, p, &out->v, 0, perm, PUB_RES_BUCKET);
    if (!pub_view_exists(&out->v, 0)) {
        if (all)
            pub_reply_missing(c->resp, "bucket", p->ids[0]);
        else
            pub_call_deny(c);
        return -1;
    }
    if (!all && strcmp(perm, "write") == 0) {
        pub_call_deny(c);
        return -1;
    }
    long long since = -1, before = -1;
    if (!herald_listing_since(q, &since))
        since = -1;
    if (!herald_listing_before(q, &before))
        before = -1;
    long long oldest = -1;
    if (s->history_max_age_seconds > 0)
        oldest = herald_clock_wall_ms() - s->history_max_age_seconds * 1000;
    if (oldest > since)
        since = oldest - 1;
    redisReply *r = read_entries(c, p->ids[0], since, before);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        pub_call_status(c, PUB_UNAVAILABLE);
        return -1;
    }
    out->entries = json_array();
    char err[128];
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue; /* trimmed meanwhile */
        json_t *e =
            herald_jcs_parse(r->element[i]->str, r->element[i]->len, 0, 0, err, sizeof(err));
        if (!json_is_object(e)) {
            json_decref(e);
            continue;
        }
        json_t *readers = json_incref(json_object_get(e, "__read__"));
        json_object_del(e, "__read__");
        if (all || user_in_array(c->user, readers))
            json_array_append(out->entries, e);
        json_decref(readers);
        json_decref(e);
    }
    freeReplyObject(r);
    if (!all && filter_current(c, &out->v, out->entries) != 0) {
        pub_call_status(c, PUB_UNAVAILABLE);
        return -1;
    }
    if (!all && json_array_size(out->entries) == 0) {
        /* Kinto: nothing to read here at all -> refused. */
        pub_call_deny(c);
        return -1;
    }
    pub_args cmd;
    herald_buf tk = HERALD_BUF_INIT;
    pub_args_init(&cmd);
    pub_args_adds(&cmd, "GET");
    herald_buf_puts(&tk, "herald:ts:/buckets/");
    herald_buf_puts(&tk, p->ids[0]);
    herald_buf_puts(&tk, ":history");
    pub_args_addbuf(&cmd, &tk);
    redisReply *t = pub_objects_command(c->app->store, &cmd);
    out->ts = t && t->type == REDIS_REPLY_STRING ? strtoll(t->str, NULL, 10) : 0;
    if (t)
        freeReplyObject(t);
    pub_args_free(&cmd);
    herald_buf_free(&tk);
    if (out->ts <= 0)
        out->ts = pub_stamp_last_modified(out->v.obj[0]->str, out->v.obj[0]->len);
    return 0;
}

static void
get_history(pub_call *c, const pub_path *p)
{
    struct visible vis;
    herald_listing *q = NULL;
    herald_listing_page page;
    herald_buf body = HERALD_BUF_INIT;
    pub_cond inm;

    memset(&page, 0, sizeof(page));
    memset(&vis, 0, sizeof(vis));
    if (pub_call_cond(&inm, c, "If-None-Match") || pub_call_listing(&q, c, entry_fields) != 0 ||
        collect(&vis, c, p, q, "read") != 0)
        goto done;
    if (inm.present && (inm.star || inm.ts == vis.ts)) {
        pub_reply_json(c->resp, 304, NULL, vis.ts);
        c->resp->has_body = 0;
        goto done;
    }
    if (herald_listing_apply(&page, q, vis.entries, NULL, HERALD_LISTING_PROJECT) != 0) {
        pub_reply_internal(c->resp);
        goto done;
    }
    herald_buf_puts(&body, "{\"data\":");
    if (herald_jcs_dump(&body, page.data) != 0) {
        pub_reply_internal(c->resp);
        goto done;
    }
    herald_buf_putc(&body, '}');
    pub_call_reply_page(c, &body, vis.ts, q, &page);
done:
    herald_listing_page_free(&page);
    herald_listing_free(q);
    visible_free(&vis);
    herald_buf_free(&body);
}

static void
delete_history(pub_call *c, const pub_path *p)
{
    struct visible vis;
    herald_listing *q = NULL;
    herald_listing_page page;
    herald_buf body = HERALD_BUF_INIT, ek = HERALD_BUF_INIT, zk = HERALD_BUF_INIT;
    pub_args cmds[2];

    memset(&page, 0, sizeof(page));
    memset(&vis, 0, sizeof(vis));
    pub_args_init(&cmds[0]);
    pub_args_init(&cmds[1]);
    if (pub_call_listing(&q, c, entry_fields) != 0 || collect(&vis, c, p, q, "write") != 0)
        goto done;
    if (herald_listing_apply(&page, q, vis.entries, NULL, 0) != 0) {
        pub_reply_internal(c->resp);
        goto done;
    }
    /* Entries never change once written: removing the ids read is exact. A
     * per-user trimming index keeps a removed id until its own trimming drops it
     * (a no-op then). */
    herald_buf_puts(&zk, "herald:hist:");
    herald_buf_puts(&zk, p->ids[0]);
    herald_buf_puts(&ek, "herald:histe:");
    herald_buf_puts(&ek, p->ids[0]);
    pub_args_adds(&cmds[0], "ZREM");
    pub_args_addbuf(&cmds[0], &zk);
    pub_args_adds(&cmds[1], "HDEL");
    pub_args_addbuf(&cmds[1], &ek);
    herald_buf_puts(&body, "{\"data\":[");
    size_t i;
    json_t *e;
    json_array_foreach(page.data, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (!id)
            continue;
        pub_args_adds(&cmds[0], id);
        pub_args_adds(&cmds[1], id);
        if (i)
            herald_buf_putc(&body, ',');
        herald_buf_puts(&body, "{\"deleted\":true,\"id\":");
        herald_jcs_string(&body, id, strlen(id));
        herald_buf_puts(&body, ",\"last_modified\":");
        herald_buf_put_i64(&body,
                           (long long)json_number_value(json_object_get(e, "last_modified")));
        herald_buf_putc(&body, '}');
    }
    herald_buf_puts(&body, "]}");
    if (cmds[0].n > 2) {
        redisReply *r = pub_store_txn(c->app->store, cmds, 2);
        if (!r) {
            pub_call_status(c, PUB_UNAVAILABLE);
            goto done;
        }
        freeReplyObject(r);
    }
    pub_reply_json(c->resp, 200, &body, vis.ts);
done:
    pub_args_free(&cmds[0]);
    pub_args_free(&cmds[1]);
    herald_listing_page_free(&page);
    herald_listing_free(q);
    visible_free(&vis);
    herald_buf_free(&body);
    herald_buf_free(&ek);
    herald_buf_free(&zk);
}

void
pub_history_handle(pub_call *c, const pub_path *p)
{
    if (!c->app->settings->history_enabled) {
        pub_reply_missing(c->resp, NULL, NULL);
        return;
    }
    switch (c->req->method) {
    case PUB_GET:
    case PUB_HEAD:
        get_history(c, p);
        return;
    case PUB_DELETE:
        delete_history(c, p);
        return;
    default:
        pub_reply_method_not_allowed(c->resp);
        return;
    }
}

static int
cmp_id(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "id"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "id"));
    return strcmp(x ? x : "", y ? y : "");
}

void
pub_history_snapshot(pub_call *c, const pub_path *p)
{
    if (!c->app->settings->history_enabled) {
        pub_reply_missing(c->resp, NULL, NULL);
        return;
    }
    if (c->req->method != PUB_GET && c->req->method != PUB_HEAD) {
        pub_reply_method_not_allowed(c->resp);
        return;
    }
    char *end = NULL;
    long long at = strtoll(p->at, &end, 10);
    if (!p->at[0] || !end || *end || at < 0 || p->at[0] == '-' || p->at[0] == '+') {
        pub_reply_invalid(c->resp, "path", "timestamp", "Invalid timestamp");
        return;
    }
    pub_view v;
    int rc = pub_objects_fetch(&v, c->app->store, p, 2, 0);
    if (rc != PUB_OK) {
        pub_call_status(c, rc);
        return;
    }
    /* Read on the bucket or the collection, now (write implies read). */
    if (!pub_call_allowed(c, p, &v, 1, "read", PUB_RES_COLLECTION)) {
        pub_view_free(&v);
        pub_call_deny(c);
        return;
    }
    redisReply *r = read_entries(c, p->ids[0], -1, -1);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        pub_view_free(&v);
        pub_call_status(c, PUB_UNAVAILABLE);
        return;
    }
    /* Replays the collection's record entries, oldest first: the state of each record
     * as of its last change at or before 'at' (record timestamps). A delete of the
     * collection itself before 'at' empties the state. */
    json_t *state = json_object();
    char err[128];
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        json_t *e =
            herald_jcs_parse(r->element[i]->str, r->element[i]->len, 0, 0, err, sizeof(err));
        const char *cid = json_string_value(json_object_get(e, "collection_id"));
        const char *res = json_string_value(json_object_get(e, "resource_name"));
        const char *action = json_string_value(json_object_get(e, "action"));
        json_t *data = json_object_get(json_object_get(e, "target"), "data");
        long long lm = (long long)json_number_value(json_object_get(data, "last_modified"));
        if (cid && res && action && strcmp(cid, p->ids[1]) == 0) {
            if (strcmp(res, "collection") == 0 && strcmp(action, "delete") == 0 &&
                (long long)json_number_value(json_object_get(e, "last_modified")) <= at) {
                json_object_clear(state);
            } else if (strcmp(res, "record") == 0 && lm <= at) {
                const char *rid = json_string_value(json_object_get(e, "record_id"));
                if (rid && strcmp(action, "delete") == 0)
                    json_object_del(state, rid);
                else if (rid && json_is_object(data))
                    json_object_set(state, rid, data);
            }
        }
        json_decref(e);
    }
    freeReplyObject(r);
    size_t n = json_object_size(state), k = 0;
    json_t **list = herald_mem_alloc((n ? n : 1) * sizeof(*list));
    const char *key;
    json_t *val;
    json_object_foreach(state, key, val) list[k++] = val;
    qsort(list, n, sizeof(*list), cmp_id);
    json_t *arr = json_array();
    for (k = 0; k < n; k++)
        json_array_append(arr, list[k]);
    free(list);
    json_decref(state);
    pub_view_free(&v);
    pub_call_json(c, 200, json_pack("{s:o}", "data", arr), at);
}
