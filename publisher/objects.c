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
        herald_buf_puts(out, pub_res_plural[p->res[i]]);
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
    herald_schema_list_key(out, which, herald_buf_cstr(&parent), pub_path_name(p, level));
    herald_buf_free(&parent);
}

static void
add_list_key(pub_args *a, enum herald_schema_listkey which, const pub_path *p, int level)
{
    herald_buf k = HERALD_BUF_INIT;
    list_key(&k, which, p, level);
    pub_args_addbuf(a, &k);
    herald_buf_free(&k);
}

/* Adds "herald:perm:<uri of levels 0..levels-1>[/<plural>/<child>]". */
static void
add_perm_key(pub_args *a, const pub_path *p, int levels, const char *child)
{
    herald_buf uri = HERALD_BUF_INIT, k = HERALD_BUF_INIT;
    pub_objects_uri(&uri, p, levels);
    if (child) {
        herald_buf_putc(&uri, '/');
        herald_buf_puts(&uri, pub_res_plural[p->res[levels]]);
        herald_buf_putc(&uri, '/');
        herald_buf_puts(&uri, child);
    }
    herald_schema_perm_key(&k, herald_buf_cstr(&uri));
    pub_args_addbuf(a, &k);
    herald_buf_free(&uri);
    herald_buf_free(&k);
}

void
pub_permset_from_reply(pub_permset *set, const char ***kv, size_t **len, const redisReply *flat)
{
    size_t n = flat && flat->type == REDIS_REPLY_ARRAY ? flat->elements / 2 : 0;
    *kv = herald_mem_alloc((2 * n + 1) * sizeof(char *));
    *len = herald_mem_alloc((2 * n + 1) * sizeof(size_t));
    for (size_t i = 0; i < 2 * n; i++) {
        (*kv)[i] = flat->element[i]->str ? flat->element[i]->str : "";
        (*len)[i] = flat->element[i]->len;
    }
    set->n = n;
    set->kv = *kv;
    set->len = *len;
}

void
pub_view_free(pub_view *v)
{
    if (!v)
        return;
    if (v->exec)
        freeReplyObject(v->exec);
    for (int i = 0; i <= PUB_DEPTH_MAX; i++) {
        free(v->kv_store[i]);
        free(v->len_store[i]);
    }
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
        add_perm_key(&cmds[n++], p, level + 1, NULL);
    }
    if (with_list) {
        pub_args_adds(&cmds[n], "GET");
        add_list_key(&cmds[n++], HERALD_LIST_TS, p, depth);
        pub_args_adds(&cmds[n], "HGETALL");
        add_list_key(&cmds[n++], HERALD_LIST_OBJS, p, depth);
        pub_args_adds(&cmds[n], "HGETALL");
        add_list_key(&cmds[n++], HERALD_LIST_TOMB, p, depth);
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
        pub_permset_from_reply(&v->sets[level], &v->kv_store[level], &v->len_store[level],
                               v->perm[level]);
    }
    if (with_list) {
        v->list_ts = exec->element[2 * depth];
        v->list_objs = exec->element[2 * depth + 1];
        v->list_tombs = exec->element[2 * depth + 2];
    }
    rc = PUB_OK;
done:
    for (int i = 0; i < (int)(sizeof(cmds) / sizeof(cmds[0])); i++)
        pub_args_free(&cmds[i]);
    return rc;
}

int
pub_view_exists(const pub_view *v, int level)
{
    return level < v->depth && v->obj[level] && v->obj[level]->type == REDIS_REPLY_STRING;
}

int
pub_view_first_missing(const pub_view *v)
{
    for (int level = 0; level < v->depth; level++)
        if (!pub_view_exists(v, level))
            return level;
    return -1;
}

long long
pub_view_list_ts(const pub_view *v)
{
    if (v->list_ts && v->list_ts->type == REDIS_REPLY_STRING)
        return strtoll(v->list_ts->str, NULL, 10);
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

redisReply *
pub_objects_fetch_perms(pub_store *s, const pub_path *p, int level, const char *const *ids,
                        size_t n)
{
    pub_args *cmds = herald_mem_calloc(n ? n : 1, sizeof(*cmds));
    for (size_t i = 0; i < n; i++) {
        pub_args_adds(&cmds[i], "HGETALL");
        add_perm_key(&cmds[i], p, level, ids[i]);
    }
    redisReply *r = n ? pub_store_txn(s, cmds, (int)n) : NULL;
    for (size_t i = 0; i < n; i++)
        pub_args_free(&cmds[i]);
    free(cmds);
    if (r && r->elements != n) {
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

redisReply *
pub_objects_command(pub_store *s, const pub_args *cmd)
{
    redisReply *exec = pub_store_txn(s, cmd, 1);
    if (!exec)
        return NULL;
    if (exec->elements != 1) {
        freeReplyObject(exec);
        return NULL;
    }
    /* Detach the one element from the EXEC array. */
    redisReply *r = exec->element[0];
    exec->element[0] = NULL;
    exec->elements = 0;
    freeReplyObject(exec);
    return r;
}

int
pub_objects_load_principals(pub_user *u, pub_store *s)
{
    pub_args cmd;
    pub_args_init(&cmd);
    pub_args_adds(&cmd, "SUNION");
    for (int i = 0; i < u->n; i++) {
        herald_buf k = HERALD_BUF_INIT;
        herald_buf_puts(&k, HERALD_KEY_PRINCIPALS_PREFIX);
        herald_buf_puts(&k, u->principals[i]);
        pub_args_addbuf(&cmd, &k);
        herald_buf_free(&k);
    }
    redisReply *r = pub_objects_command(s, &cmd);
    pub_args_free(&cmd);
    if (!r)
        return PUB_UNAVAILABLE;
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                pub_user_add(u, r->element[i]->str);
    freeReplyObject(r);
    return PUB_OK;
}

/* Adds the KEYS shared by both scripts. */
static void
add_common_keys(pub_args *a, const pub_path *p)
{
    int level = p->depth - 1;
    add_list_key(a, HERALD_LIST_OBJS, p, level);
    add_list_key(a, HERALD_LIST_TS, p, level);
    add_list_key(a, HERALD_LIST_MOD, p, level);
    add_list_key(a, HERALD_LIST_TOMB, p, level);
    add_perm_key(a, p, p->depth, NULL);
    pub_args_adds(a, HERALD_KEY_MONITOR);
    pub_args_adds(a, HERALD_KEY_CHANGES);
}

/* The monitor member "<bid>/<cid>" when the object is a record, else "". */
static void
add_monitor_member(pub_args *a, const pub_path *p)
{
    herald_buf m = HERALD_BUF_INIT;
    if (p->res[p->depth - 1] == PUB_RES_RECORD)
        herald_schema_monitor_member(&m, p->ids[0], p->ids[1]);
    pub_args_addbuf(a, &m);
    herald_buf_free(&m);
}

/* The change event's (bucket, collection): only buckets, collections and records
 * concern the signer. */
static void
add_event(pub_args *a, const pub_path *p)
{
    enum pub_res res = p->res[p->depth - 1];
    int signed_kind = res == PUB_RES_BUCKET || res == PUB_RES_COLLECTION || res == PUB_RES_RECORD;
    pub_args_adds(a, signed_kind ? p->ids[0] : "");
    pub_args_adds(a, signed_kind && p->depth >= 2 ? p->ids[1] : "");
}

static void
add_guard(pub_args *a, long long guard)
{
    if (guard < 0)
        pub_args_adds(a, "");
    else
        pub_args_addi(a, guard);
}

/* The history arguments, or those of "no entry". */
static void
add_hist(pub_args *a, const pub_args *hist)
{
    if (hist && hist->n == PUB_HIST_NARGS) {
        for (int i = 0; i < hist->n; i++)
            pub_args_add(a, hist->v[i], hist->len[i]);
        return;
    }
    for (int i = 0; i < PUB_HIST_NARGS; i++)
        pub_args_adds(a, i < PUB_HIST_NARGS - 3 ? "" : "0");
}

/* The side arguments, or those of "none". */
static void
add_side(pub_args *a, const pub_args *side)
{
    if (side && side->n == PUB_SIDE_NARGS) {
        for (int i = 0; i < side->n; i++)
            pub_args_add(a, side->v[i], side->len[i]);
        return;
    }
    for (int i = 0; i < PUB_SIDE_NARGS; i++)
        pub_args_adds(a, "");
}

static int
status_of_error(const redisReply *r)
{
    if (!r)
        return PUB_UNAVAILABLE;
    if (r->type == REDIS_REPLY_ERROR &&
        !strncmp(r->str, PUB_STORE_UNCONFIRMED, strlen(PUB_STORE_UNCONFIRMED)))
        return PUB_UNCONFIRMED;
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
    herald_buf uri = HERALD_BUF_INIT;
    enum pub_res res = p->res[p->depth - 1];
    int nparents = p->depth - 1, rc;
    int init_child = res == PUB_RES_BUCKET || res == PUB_RES_COLLECTION;
    redisReply *r = NULL;

    pub_args_init(&a);
    w->created = 0;
    w->ts = 0;
    w->missing_level = -1;
    herald_buf_init(&w->perms_json);

    add_common_keys(&a, p);
    for (int level = 0; level < nparents; level++)
        add_list_key(&a, HERALD_LIST_OBJS, p, level);
    if (init_child) {
        /* The child list whose timestamp starts at creation: a bucket's collections, a
         * collection's records. */
        pub_path child = *p;
        child.res[p->depth] = res == PUB_RES_BUCKET ? PUB_RES_COLLECTION : PUB_RES_RECORD;
        add_list_key(&a, HERALD_LIST_TS, &child, p->depth);
    }
    int nkeys = a.n;

    pub_objects_uri(&uri, p, p->depth);
    pub_args_adds(&a, p->ids[p->depth - 1]);
    pub_args_addbuf(&a, w->prefix);
    pub_args_addbuf(&a, w->suffix);
    add_monitor_member(&a, p);
    add_event(&a, p);
    pub_args_addbuf(&a, &uri);
    add_guard(&a, w->guard);
    pub_args_addi(&a, w->max_objects);
    pub_args_adds(&a, res == PUB_RES_GROUP ? "1" : "0");
    pub_args_addi(&a, nparents);
    pub_args_adds(&a, init_child ? "1" : "0");
    for (int level = 0; level < nparents; level++) {
        pub_args_adds(&a, pub_path_name(p, level));
        pub_args_adds(&a, p->ids[level]);
    }
    for (int i = 0; w->perms && i < w->perms->n; i++)
        pub_args_add(&a, w->perms->v[i], w->perms->len[i]);
    add_side(&a, w->side);
    add_hist(&a, w->hist);

    r = pub_store_eval(s, PUB_SCRIPT_PUT_OBJECT, nkeys, &a);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        rc = status_of_error(r);
        goto done;
    }
    switch (r->element[0]->integer) {
    case -1:
        /* {-1, resource name, id}: map the resource back to its level. */
        w->missing_level = 0;
        for (int level = 0; level < nparents; level++)
            if (r->elements > 1 && r->element[1]->type == REDIS_REPLY_STRING &&
                strcmp(r->element[1]->str, pub_path_name(p, level)) == 0)
                w->missing_level = level;
        rc = PUB_MISSING;
        goto done;
    case -2:
        rc = PUB_CHANGED;
        goto done;
    case -3:
        rc = PUB_FULL;
        goto done;
    default:
        break;
    }
    if (r->elements != 3) {
        rc = status_of_error(r);
        goto done;
    }
    w->created = r->element[0]->integer == 1;
    w->ts = r->element[1]->type == REDIS_REPLY_STRING ? strtoll(r->element[1]->str, NULL, 10) : 0;
    pub_objects_perms_json(&w->perms_json, r->element[2]);
    rc = w->ts > 0 ? PUB_OK : PUB_FAILED;
done:
    if (r)
        freeReplyObject(r);
    herald_buf_free(&uri);
    pub_args_free(&a);
    return rc;
}

int
pub_objects_delete(long long *ts, pub_store *s, const pub_path *p, long long guard,
                   const pub_args *side, const pub_args *hist)
{
    pub_args a;
    herald_buf uri = HERALD_BUF_INIT;
    redisReply *r = NULL;
    enum pub_res res = p->res[p->depth - 1];
    int rc;

    pub_args_init(&a);
    *ts = 0;
    add_common_keys(&a, p);
    pub_args_adds(&a, p->ids[p->depth - 1]);
    add_monitor_member(&a, p);
    add_event(&a, p);
    pub_args_adds(&a, res == PUB_RES_BUCKET       ? "bucket"
                      : res == PUB_RES_COLLECTION ? "collection"
                                                  : "");
    pub_objects_uri(&uri, p, p->depth);
    pub_args_addbuf(&a, &uri);
    add_guard(&a, guard);
    pub_args_adds(&a, res == PUB_RES_GROUP ? "1" : "0");
    add_side(&a, side);
    add_hist(&a, hist);

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
    if (r->element[0]->integer == -2) {
        rc = PUB_CHANGED;
        goto done;
    }
    if (r->elements < 2 || r->element[1]->type != REDIS_REPLY_STRING) {
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
