/*
 * permissions -- see permissions.h.
 *
 * Kinto (kinto/views/permissions.py) builds the list from three sources, and so does
 * Herald:
 *   1. the permissions stored on objects (herald:perm:<uri>) that name the user;
 *   2. the settings grants (pub_grants, perms.h) that name the user:
 *      bucket_create_principals and account_create_principals give the imaginary
 *      "root" object {"uri": "/", "resource_name": "root"} the permission
 *      "bucket:create" / "account:create"; the read and write grants of buckets,
 *      collections and groups, and collection_create_principals,
 *      group_create_principals (on each bucket) and record_create_principals (on each
 *      collection) are listed on every existing object they cover, as Kinto lists them
 *      (records are never expanded: Kinto does not either);
 *   3. Herald's built-in admin (HERALD_ADMIN_PASSWORD), a superuser (perms.h): it
 *      is listed as holding everything from 2 (root bucket:create and
 *      account:create, write on every bucket, collection and group), which is what
 *      Kinto Admin reads to offer "Create bucket" and the edit screens.
 * A "write" then implies "read" and every create permission of that object (Kinto's
 * descending inheritance tree, restricted to the object itself).
 */
#include "permissions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"
#include "herald/listing.h"
#include "herald/schema.h"
#include "reply.h"

/* Adds 'perm' to the set of 'uri' in 'byuri' (uri -> object used as a set). */
static void
grant(json_t *byuri, const char *uri, const char *perm)
{
    json_t *set = json_object_get(byuri, uri);
    if (!set) {
        set = json_object();
        json_object_set_new(byuri, uri, set);
    }
    json_object_set_new(set, perm, json_true());
}

/* 1 if the settings (or the admin's superuser status) give 'u' permission 'kind' on
 * every object of kind 'res'. */
static int
from_settings(const pub_user *u, const pub_grants *g, enum pub_res res, enum pub_perm_kind kind)
{
    if (u->admin)
        return kind == PUB_PERM_CREATE ? res != PUB_RES_RECORD : kind == PUB_PERM_WRITE;
    return pub_user_in_list(u, (const char *const *)g->list[res][kind]);
}

/* The ids of the list (parent, res) (HKEYS), or NULL when Redis did not answer. */
static redisReply *
list_ids(pub_call *c, const char *parent, const char *res)
{
    pub_args cmd;
    herald_buf key = HERALD_BUF_INIT;
    pub_args_init(&cmd);
    pub_args_adds(&cmd, "HKEYS");
    herald_schema_list_key(&key, HERALD_LIST_OBJS, parent, res);
    pub_args_addbuf(&cmd, &key);
    herald_buf_free(&key);
    redisReply *r = pub_objects_command(c->app->store, &cmd);
    pub_args_free(&cmd);
    if (r && r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

/* Adds source 2 and 3 above to 'byuri'. Returns 0, or -1 when Redis did not answer. */
static int
settings_entries(pub_call *c, json_t *byuri)
{
    const pub_user *u = c->user;
    const pub_grants *g = &c->app->settings->grants;
    if (from_settings(u, g, PUB_RES_BUCKET, PUB_PERM_CREATE))
        grant(byuri, "/", "bucket:create");
    if (from_settings(u, g, PUB_RES_ACCOUNT, PUB_PERM_CREATE))
        grant(byuri, "/", "account:create");

    static const char *const kind_name[PUB_PERM_KINDS] = {"read", "write", NULL};
    int bucket[PUB_PERM_KINDS], coll[PUB_PERM_KINDS], group[PUB_PERM_KINDS];
    int any_bucket = 0, any_child = 0;
    for (int k = 0; k < PUB_PERM_KINDS; k++) {
        bucket[k] = from_settings(u, g, PUB_RES_BUCKET, k);
        coll[k] = from_settings(u, g, PUB_RES_COLLECTION, k);
        group[k] = from_settings(u, g, PUB_RES_GROUP, k);
    }
    /* Creating a collection or a group is a permission on the bucket; creating a
     * record one on the collection. */
    int rec_create = from_settings(u, g, PUB_RES_RECORD, PUB_PERM_CREATE);
    any_bucket = bucket[PUB_PERM_READ] || bucket[PUB_PERM_WRITE] || coll[PUB_PERM_CREATE] ||
                 group[PUB_PERM_CREATE];
    any_child = coll[PUB_PERM_READ] || coll[PUB_PERM_WRITE] || rec_create || group[PUB_PERM_READ] ||
                group[PUB_PERM_WRITE];
    if (!any_bucket && !any_child)
        return 0;

    redisReply *buckets = list_ids(c, "", "bucket");
    if (!buckets)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < buckets->elements && rc == 0; i++) {
        char uri[16 + PUB_ID_MAX];
        snprintf(uri, sizeof(uri), "/buckets/%s", buckets->element[i]->str);
        for (int k = 0; k < PUB_PERM_CREATE; k++)
            if (bucket[k])
                grant(byuri, uri, kind_name[k]);
        if (coll[PUB_PERM_CREATE])
            grant(byuri, uri, "collection:create");
        if (group[PUB_PERM_CREATE])
            grant(byuri, uri, "group:create");
        if (!any_child)
            continue;
        static const enum pub_res kids[] = {PUB_RES_COLLECTION, PUB_RES_GROUP};
        for (size_t j = 0; j < 2 && rc == 0; j++) {
            const int *kp = kids[j] == PUB_RES_COLLECTION ? coll : group;
            int create = kids[j] == PUB_RES_COLLECTION && rec_create;
            if (!kp[PUB_PERM_READ] && !kp[PUB_PERM_WRITE] && !create)
                continue;
            redisReply *ids = list_ids(c, uri, pub_res_name[kids[j]]);
            if (!ids) {
                rc = -1;
                break;
            }
            for (size_t n = 0; n < ids->elements; n++) {
                char kid[48 + 2 * PUB_ID_MAX];
                snprintf(kid, sizeof(kid), "%s/%s/%s", uri, pub_res_plural[kids[j]],
                         ids->element[n]->str);
                for (int k = 0; k < PUB_PERM_CREATE; k++)
                    if (kp[k])
                        grant(byuri, kid, kind_name[k]);
                if (create)
                    grant(byuri, kid, "record:create");
            }
            freeReplyObject(ids);
        }
    }
    freeReplyObject(buckets);
    return rc;
}

/* Adds the permissions naming the user in one object's stored set ('flat', HGETALL of
 * the object 'uri'). */
static void
stored_entry(json_t *byuri, const pub_user *u, const char *uri, const redisReply *flat)
{
    if (!flat || flat->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < flat->elements; i += 2)
        if (pub_user_in_json(u, flat->element[i + 1]->str, flat->element[i + 1]->len))
            grant(byuri, uri, flat->element[i]->str);
}

/* Appends the entry of 'uri' (permissions 'set') to 'data', as Kinto shows it. */
static void
append_entry(json_t *data, const char *uri, json_t *set)
{
    json_t *e = json_object();
    if (strcmp(uri, "/") == 0) {
        json_object_set_new(e, "uri", json_string(uri));
        json_object_set_new(e, "resource_name", json_string("root"));
    } else {
        pub_path p;
        herald_buf full = HERALD_BUF_INIT;
        herald_buf_puts(&full, "/v1");
        herald_buf_puts(&full, uri);
        pub_path_parse(&p, herald_buf_cstr(&full));
        herald_buf_free(&full);
        if (p.kind != PUB_PATH_OBJECT) {
            json_decref(e);
            return;
        }
        enum pub_res res = p.res[p.depth - 1];
        if (json_object_get(set, "write")) {
            /* write implies read and every create permission of the object. */
            const char *const *names = pub_perms_names(res);
            for (int i = 0; names[i]; i++)
                json_object_set_new(set, names[i], json_true());
        }
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
    }
    json_t *perms = json_array();
    const char *name;
    json_t *v;
    json_object_foreach(set, name, v) json_array_append_new(perms, json_string(name));
    json_object_set_new(e, "permissions", perms);
    json_array_append_new(data, e);
}

/* Scans the stored permissions (source 1) into 'byuri'. Returns 0, or -1 when Redis
 * did not answer. */
static int
stored_entries(pub_call *c, json_t *byuri)
{
    /* SCAN, so Redis keeps serving others between batches: an administration
     * endpoint, not a hot path. */
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
            return -1;
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
            stored_entry(byuri, c->user, keys->element[i]->str + prefix, all->element[i]);
        for (size_t i = 0; i < keys->elements; i++)
            pub_args_free(&cmds[i]);
        free(cmds);
        if (all)
            freeReplyObject(all);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

void
pub_permissions_handle(pub_call *c)
{
    json_t *byuri = json_object();
    json_t *data = json_array();
    if (stored_entries(c, byuri) != 0 || settings_entries(c, byuri) != 0) {
        json_decref(byuri);
        json_decref(data);
        pub_call_status(c, PUB_UNAVAILABLE);
        return;
    }
    const char *uri;
    json_t *set;
    json_object_foreach(byuri, uri, set) append_entry(data, uri, set);
    json_decref(byuri);
    /* Kinto's filters and sorting apply to the entries too (they have no timestamp, so
     * the default order falls through to the ids). */
    herald_listing *q = NULL;
    herald_listing_page page;
    memset(&page, 0, sizeof(page));
    if (pub_call_listing(&q, c, NULL) == 0) {
        if (herald_listing_apply(&page, q, data, NULL, HERALD_LISTING_PROJECT) != 0) {
            pub_reply_internal(c->resp);
        } else {
            herald_buf body = HERALD_BUF_INIT;
            herald_buf_puts(&body, "{\"data\":");
            if (herald_jcs_dump(&body, page.data) != 0)
                herald_buf_puts(&body, "[]");
            herald_buf_putc(&body, '}');
            pub_reply_json(c->resp, 200, &body, 0);
            pub_call_next_page(c, q, page.next_token);
            herald_buf_free(&body);
        }
    }
    herald_listing_page_free(&page);
    herald_listing_free(q);
    json_decref(data);
}
