/*
 * objects -- see objects.h.
 */
#include "objects.h"

#include <stdlib.h>
#include <string.h>

#include "herald/log.h"
#include "herald/schema.h"

void
pub_objects_uri(herald_buf *out, const pub_path *p, int levels)
{
    for (int i = 0; i < levels; i++) {
        herald_buf_putc(out, '/');
        herald_buf_puts(out, pub_path_plural[i]);
        herald_buf_putc(out, '/');
        herald_buf_puts(out, p->ids[i]);
    }
}

/* Appends the key of one part of the list that holds level 'level' of 'p'. */
static void
list_key(herald_buf *out, enum herald_schema_listkey which, const pub_path *p, int level)
{
    herald_buf parent = HERALD_BUF_INIT;
    pub_objects_uri(&parent, p, level);
    herald_schema_list_key(out, which, herald_buf_cstr(&parent), pub_path_resource[level]);
    herald_buf_free(&parent);
}

static void
perm_key(herald_buf *out, const pub_path *p, int levels)
{
    herald_buf uri = HERALD_BUF_INIT;
    pub_objects_uri(&uri, p, levels);
    herald_schema_perm_key(out, herald_buf_cstr(&uri));
    herald_buf_free(&uri);
}

static void
add_list_key(pub_args *a, enum herald_schema_listkey which, const pub_path *p, int level)
{
    herald_buf k = HERALD_BUF_INIT;
    list_key(&k, which, p, level);
    pub_args_addbuf(a, &k);
    herald_buf_free(&k);
}

static void
add_perm_key(pub_args *a, const pub_path *p, int levels)
{
    herald_buf k = HERALD_BUF_INIT;
    perm_key(&k, p, levels);
    pub_args_addbuf(a, &k);
    herald_buf_free(&k);
}

void
pub_view_free(pub_view *v)
{
    if (!v)
        return;
    if (v->exec)
        freeReplyObject(v->exec);
    memset(v, 0, sizeof(*v));
}

int
pub_objects_fetch(pub_view *v, pub_store *s, const pub_path *p, int depth, int with_list)
{
    pub_args cmds[2 * PUB_DEPTH_MAX + 3];
    int n = 0, rc = PUB_UNAVAILABLE;

    memset(v, 0, sizeof(*v));
    for (int i = 0; i < (int)(sizeof(cmds) / sizeof(cmds[0])); i++)
        pub_args_init(&cmds[i]);
    for (int level = 0; level < depth; level++) {
        pub_args_adds(&cmds[n], "HGET");
        add_list_key(&cmds[n], HERALD_LIST_OBJS, p, level);
        pub_args_adds(&cmds[n++], p->ids[level]);
        pub_args_adds(&cmds[n], "HGETALL");
        add_perm_key(&cmds[n++], p, level + 1);
    }
    if (with_list) {
        pub_args_adds(&cmds[n], "GET");
        add_list_key(&cmds[n++], HERALD_LIST_TS, p, depth);
        pub_args_adds(&cmds[n], "ZREVRANGE");
        add_list_key(&cmds[n], HERALD_LIST_MOD, p, depth);
        pub_args_adds(&cmds[n], "0");
        pub_args_adds(&cmds[n++], "-1");
        pub_args_adds(&cmds[n], "HGETALL");
        add_list_key(&cmds[n++], HERALD_LIST_OBJS, p, depth);
    }

    redisReply *exec = pub_store_txn(s, cmds, n);
    if (!exec)
        goto done;
    if (exec->elements != (size_t)n) {
        freeReplyObject(exec);
        rc = PUB_FAILED;
        goto done;
    }
    v->exec = exec;
    v->depth = depth;
    for (int level = 0; level < depth; level++) {
        v->obj[level] = exec->element[2 * level];
        v->perm[level] = exec->element[2 * level + 1];
    }
    if (with_list) {
        v->list_ts = exec->element[2 * depth];
        v->list_order = exec->element[2 * depth + 1];
        v->list_objs = exec->element[2 * depth + 2];
    }
    rc = PUB_OK;
done:
    for (int i = 0; i < (int)(sizeof(cmds) / sizeof(cmds[0])); i++)
        pub_args_free(&cmds[i]);
    return rc;
}

int
pub_view_first_missing(const pub_view *v)
{
    for (int level = 0; level < v->depth; level++)
        if (!v->obj[level] || v->obj[level]->type != REDIS_REPLY_STRING)
            return level;
    return -1;
}

struct pair {
    const char *id;
    const redisReply *json;
};

static int
pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pair *)a)->id, ((const struct pair *)b)->id);
}

int
pub_view_list_json(herald_buf *out, const pub_view *v)
{
    const redisReply *order = v->list_order, *objs = v->list_objs;
    struct pair *pairs = NULL;
    size_t npairs;
    int first = 1;

    if (!order || !objs || order->type != REDIS_REPLY_ARRAY || objs->type != REDIS_REPLY_ARRAY ||
        objs->elements % 2 != 0)
        return -1;
    /* The mod ZSET gives the order (every write in a list has its own timestamp, so
     * there are no ties) and includes tombstones; the objs HASH gives the live
     * objects. Sorting the hash's pairs by id makes the join O(n log n). */
    npairs = objs->elements / 2;
    pairs = herald_mem_alloc((npairs ? npairs : 1) * sizeof(*pairs));
    for (size_t i = 0; i < npairs; i++) {
        pairs[i].id = objs->element[2 * i]->str;
        pairs[i].json = objs->element[2 * i + 1];
    }
    qsort(pairs, npairs, sizeof(*pairs), pair_cmp);
    herald_buf_puts(out, "{\"data\":[");
    for (size_t i = 0; i < order->elements; i++) {
        struct pair key = {order->element[i]->str, NULL};
        const struct pair *hit = bsearch(&key, pairs, npairs, sizeof(*pairs), pair_cmp);
        if (!hit)
            continue; /* a tombstone */
        if (!first)
            herald_buf_putc(out, ',');
        herald_buf_append(out, hit->json->str, hit->json->len);
        first = 0;
    }
    herald_buf_puts(out, "]}");
    free(pairs);
    return 0;
}

void
pub_objects_perms_json(herald_buf *out, const redisReply *flat)
{
    herald_buf_putc(out, '{');
    if (flat && flat->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < flat->elements; i += 2) {
            if (i)
                herald_buf_putc(out, ',');
            /* Names and values were validated and canonicalized on the way in. */
            herald_buf_putc(out, '"');
            herald_buf_append(out, flat->element[i]->str, flat->element[i]->len);
            herald_buf_puts(out, "\":");
            herald_buf_append(out, flat->element[i + 1]->str, flat->element[i + 1]->len);
        }
    }
    herald_buf_putc(out, '}');
}

/* Adds the KEYS and the change-event ARGV shared by both scripts. */
static void
add_common_keys(pub_args *a, const pub_path *p)
{
    int level = p->depth - 1;
    add_list_key(a, HERALD_LIST_OBJS, p, level);
    add_list_key(a, HERALD_LIST_TS, p, level);
    add_list_key(a, HERALD_LIST_MOD, p, level);
    add_list_key(a, HERALD_LIST_TOMB, p, level);
    add_perm_key(a, p, p->depth);
    pub_args_adds(a, HERALD_KEY_MONITOR);
    pub_args_adds(a, HERALD_KEY_CHANGES);
}

/* The monitor member "<bid>/<cid>" when the object is a record, else "". */
static void
add_monitor_member(pub_args *a, const pub_path *p)
{
    herald_buf m = HERALD_BUF_INIT;
    if (p->depth == 3)
        herald_schema_monitor_member(&m, p->ids[0], p->ids[1]);
    pub_args_addbuf(a, &m);
    herald_buf_free(&m);
}

static int
status_of_error(const redisReply *r)
{
    if (!r)
        return PUB_UNAVAILABLE;
    if (pub_store_error_is_transient(r)) {
        herald_warn("redis: %s", r->str);
        return PUB_UNAVAILABLE;
    }
    herald_error("redis script: %s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    return PUB_FAILED;
}

int
pub_objects_put(pub_put *w, pub_store *s, const pub_path *p)
{
    pub_args a;
    int nparents = p->depth - 1, init_child = p->depth <= 2, rc;
    redisReply *r = NULL;

    pub_args_init(&a);
    w->created = 0;
    w->ts = 0;
    w->missing_level = -1;
    herald_buf_init(&w->perms_json);

    add_common_keys(&a, p);
    for (int level = 0; level < nparents; level++)
        add_list_key(&a, HERALD_LIST_OBJS, p, level);
    if (init_child)
        add_list_key(&a, HERALD_LIST_TS, p, p->depth);
    int nkeys = a.n;

    pub_args_adds(&a, p->ids[p->depth - 1]);
    pub_args_addbuf(&a, w->prefix);
    pub_args_addbuf(&a, w->suffix);
    add_monitor_member(&a, p);
    pub_args_adds(&a, p->ids[0]);
    pub_args_adds(&a, p->depth >= 2 ? p->ids[1] : "");
    pub_args_adds(&a, w->perms ? "replace" : "keep");
    pub_args_adds(&a, w->creator_write);
    pub_args_addi(&a, nparents);
    pub_args_adds(&a, init_child ? "1" : "0");
    for (int level = 0; level < nparents; level++) {
        pub_args_adds(&a, pub_path_resource[level]);
        pub_args_adds(&a, p->ids[level]);
    }
    if (w->perms)
        for (int i = 0; i < w->perms->n; i++)
            pub_args_add(&a, w->perms->v[i], w->perms->len[i]);

    r = pub_store_eval(s, PUB_SCRIPT_PUT_OBJECT, nkeys, &a);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        rc = status_of_error(r);
        goto done;
    }
    if (r->element[0]->integer < 0) {
        /* {-1, resource name, id}: map the resource back to its level. */
        w->missing_level = 0;
        for (int level = 0; level < nparents; level++)
            if (r->element[1]->type == REDIS_REPLY_STRING &&
                strcmp(r->element[1]->str, pub_path_resource[level]) == 0)
                w->missing_level = level;
        rc = PUB_MISSING;
        goto done;
    }
    w->created = r->element[0]->integer == 1;
    w->ts = r->element[1]->type == REDIS_REPLY_STRING ? strtoll(r->element[1]->str, NULL, 10) : 0;
    pub_objects_perms_json(&w->perms_json, r->element[2]);
    rc = w->ts > 0 ? PUB_OK : PUB_FAILED;
done:
    if (r)
        freeReplyObject(r);
    pub_args_free(&a);
    return rc;
}

int
pub_objects_delete(long long *ts, pub_store *s, const pub_path *p)
{
    static const char *const cascade[] = {"bucket", "collection", ""};
    pub_args a;
    herald_buf uri = HERALD_BUF_INIT;
    redisReply *r = NULL;
    int rc;

    pub_args_init(&a);
    *ts = 0;
    add_common_keys(&a, p);
    pub_args_adds(&a, p->ids[p->depth - 1]);
    add_monitor_member(&a, p);
    pub_args_adds(&a, p->ids[0]);
    pub_args_adds(&a, p->depth >= 2 ? p->ids[1] : "");
    pub_args_adds(&a, cascade[p->depth - 1]);
    pub_objects_uri(&uri, p, p->depth);
    pub_args_addbuf(&a, &uri);

    r = pub_store_eval(s, PUB_SCRIPT_DELETE_OBJECT, 7, &a);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        rc = status_of_error(r);
        goto done;
    }
    if (r->element[0]->integer == 0) {
        rc = PUB_MISSING;
        goto done;
    }
    if (r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING) {
        rc = status_of_error(r);
        goto done;
    }
    *ts = strtoll(r->element[1]->str, NULL, 10);
    rc = PUB_OK;
done:
    if (r)
        freeReplyObject(r);
    herald_buf_free(&uri);
    pub_args_free(&a);
    return rc;
}
