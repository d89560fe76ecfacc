/*
 * permissions -- see permissions.h.
 */
#include "permissions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"
#include "herald/listing.h"
#include "reply.h"

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
pub_permissions_handle(pub_call *c)
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
            pub_call_status(c, PUB_UNAVAILABLE);
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
    if (pub_call_listing(&q, c) == 0) {
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
