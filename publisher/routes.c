/*
 * routes -- see routes.h.
 */
#include "routes.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herald/jcs.h"
#include "herald/kerror.h"
#include "herald/log.h"
#include "objects.h"
#include "path.h"
#include "reply.h"
#include "stamp.h"

/* On creation the creator gets write, as in Kinto (the admin is phase 1's only user). */
#define CREATOR_WRITE "[\"" PUB_ADMIN_USERID "\"]"
#define EVERYONE "system.Everyone"

/* Permissions a body may set, per level (Kinto's names). */
static const char *const level_perms[PUB_DEPTH_MAX][5] = {
    {"read", "write", "collection:create", "group:create", NULL},
    {"read", "write", "record:create", NULL, NULL},
    {"read", "write", NULL, NULL, NULL},
};

static int
reply_status(struct evhttp_request *req, const pub_app *app, int rc)
{
    if (rc == PUB_UNAVAILABLE)
        pub_reply_unavailable(req, app->retry_after_seconds);
    else
        pub_reply_internal(req);
    return -1;
}

/* 1 if the permission 'perm' in the HGETALL reply 'flat' lists 'principal'. */
static int
principal_listed(const redisReply *flat, const char *perm, const char *principal)
{
    char err[128];
    int found = 0;
    if (!flat || flat->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        if (strcmp(flat->element[i]->str, perm) != 0)
            continue;
        json_t *list = herald_jcs_parse(flat->element[i + 1]->str, flat->element[i + 1]->len, 0, 0,
                                        err, sizeof(err));
        size_t j;
        json_t *p;
        json_array_foreach(list, j, p)
        {
            if (json_is_string(p) && strcmp(json_string_value(p), principal) == 0)
                found = 1;
        }
        json_decref(list);
    }
    return found;
}

/* 1 if anonymous requests may read what is below levels 0..levels-1 of 'v':
 * read (or write, which implies read) for system.Everyone on any of them. */
static int
anonymous_can_read(const pub_view *v, int levels)
{
    for (int level = 0; level < levels; level++)
        if (principal_listed(v->perm[level], "read", EVERYONE) ||
            principal_listed(v->perm[level], "write", EVERYONE))
            return 1;
    return 0;
}

static void
handle_root(struct evhttp_request *req, const pub_app *app, enum pub_user user)
{
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    herald_buf url = HERALD_BUF_INIT, body = HERALD_BUF_INIT;
    json_t *root = json_object(), *settings = json_object(), *u;

    herald_buf_puts(&url, "http://");
    herald_buf_puts(&url, host && *host ? host : app->default_host);
    herald_buf_puts(&url, "/v1/");
    json_object_set_new(root, "project_name", json_string("herald"));
    json_object_set_new(root, "project_version", json_string(HERALD_VERSION));
    json_object_set_new(root, "http_api_version", json_string("1.23"));
    json_object_set_new(root, "project_docs", json_string("https://github.com/herald/herald"));
    /* json_string refuses invalid UTF-8 (a hostile Host header): fall back. */
    u = json_string(herald_buf_cstr(&url));
    if (!u) {
        herald_buf_reset(&url);
        herald_buf_printf(&url, "http://%s/v1/", app->default_host);
        u = json_string(herald_buf_cstr(&url));
    }
    json_object_set_new(root, "url", u);
    json_object_set_new(settings, "batch_max_requests", json_integer(25));
    json_object_set_new(settings, "readonly", json_false());
    json_object_set_new(settings, "explicit_permissions", json_true());
    json_object_set_new(root, "settings", settings);
    json_object_set_new(root, "capabilities", json_object());
    if (user == PUB_USER_ADMIN) {
        json_t *who = json_object();
        json_object_set_new(who, "id", json_string(PUB_ADMIN_USERID));
        json_object_set_new(who, "principals",
                            json_pack("[sss]", PUB_ADMIN_USERID, EVERYONE, "system.Authenticated"));
        json_object_set_new(root, "user", who);
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) {
        herald_buf_puts(&body, s);
        pub_reply_json(req, 200, &body, 0);
    } else {
        pub_reply_internal(req);
    }
    free(s);
    json_decref(root);
    herald_buf_free(&url);
    herald_buf_free(&body);
}

static void
handle_get_object(struct evhttp_request *req, const pub_app *app, enum pub_user user,
                  const pub_path *p)
{
    pub_view v;
    herald_buf body = HERALD_BUF_INIT;
    int rc = pub_objects_fetch(&v, app->store, p, p->depth, 0);
    if (rc != PUB_OK) {
        reply_status(req, app, rc);
        goto done;
    }
    /* Permission before existence: an anonymous client learns nothing about objects
     * it may not read. */
    if (user != PUB_USER_ADMIN && !anonymous_can_read(&v, p->depth)) {
        pub_reply_unauthorized(req);
        goto done;
    }
    int missing = pub_view_first_missing(&v);
    if (missing >= 0) {
        pub_reply_missing(req, pub_path_resource[missing], p->ids[missing]);
        goto done;
    }
    const redisReply *obj = v.obj[p->depth - 1];
    herald_buf_puts(&body, "{\"data\":");
    herald_buf_append(&body, obj->str, obj->len);
    if (user == PUB_USER_ADMIN) {
        herald_buf_puts(&body, ",\"permissions\":");
        pub_objects_perms_json(&body, v.perm[p->depth - 1]);
    }
    herald_buf_putc(&body, '}');
    pub_reply_json(req, 200, &body, pub_stamp_last_modified(obj->str, obj->len));
done:
    pub_view_free(&v);
    herald_buf_free(&body);
}

static void
handle_get_list(struct evhttp_request *req, const pub_app *app, enum pub_user user,
                const pub_path *p)
{
    pub_view v;
    herald_buf body = HERALD_BUF_INIT;
    int parents = p->depth - 1;
    int rc = pub_objects_fetch(&v, app->store, p, parents, 1);
    if (rc != PUB_OK) {
        reply_status(req, app, rc);
        goto done;
    }
    /* Phase 1: anonymous listing only below a level readable by everyone (the bucket
     * list, and per-object filtering, come with issue 3). */
    if (user != PUB_USER_ADMIN && (parents == 0 || !anonymous_can_read(&v, parents))) {
        pub_reply_unauthorized(req);
        goto done;
    }
    int missing = pub_view_first_missing(&v);
    if (missing >= 0) {
        pub_reply_missing(req, pub_path_resource[missing], p->ids[missing]);
        goto done;
    }
    if (pub_view_list_json(&body, &v) != 0) {
        pub_reply_internal(req);
        goto done;
    }
    long long ts = 0;
    if (v.list_ts && v.list_ts->type == REDIS_REPLY_STRING)
        ts = strtoll(v.list_ts->str, NULL, 10);
    pub_reply_json(req, 200, &body, ts);
done:
    pub_view_free(&v);
    herald_buf_free(&body);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the canonical JSON array of the principals in 'list' (sorted, without
 * duplicates), plus 'extra' when not NULL. Returns 0, or -1 if 'list' is not an array
 * of strings. */
static int
principals_json(herald_buf *out, const json_t *list, const char *extra)
{
    size_t n = json_array_size(list), count = 0;
    const char **v = herald_mem_alloc((n + 1) * sizeof(*v));
    int rc = -1;

    if (!json_is_array(list))
        goto done;
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(list, i);
        if (!json_is_string(s) || json_string_length(s) == 0 ||
            strlen(json_string_value(s)) != json_string_length(s))
            goto done;
        v[count++] = json_string_value(s);
    }
    if (extra)
        v[count++] = extra;
    qsort(v, count, sizeof(*v), cmp_str);
    herald_buf_putc(out, '[');
    for (size_t i = 0, written = 0; i < count; i++) {
        if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
            continue;
        if (written++)
            herald_buf_putc(out, ',');
        herald_jcs_string(out, v[i], strlen(v[i]));
    }
    herald_buf_putc(out, ']');
    rc = 0;
done:
    free(v);
    return rc;
}

static int
perm_allowed(int level, const char *name)
{
    for (int i = 0; level_perms[level][i]; i++)
        if (strcmp(level_perms[level][i], name) == 0)
            return 1;
    return 0;
}

/*
 * Reads the request body as Kinto's {"data": {...}, "permissions": {...}}. On success
 * returns 0 with *data a new reference to the data object (empty when absent) and, when
 * the body has a non-empty "permissions", the (name, JSON array) pairs in 'perms' and
 * *has_perms = 1 (the creator is always kept in write). On failure replies 400 and
 * returns -1.
 */
static int
parse_body_or_reply(json_t **data, pub_args *perms, int *has_perms, struct evhttp_request *req,
                    const pub_app *app, const pub_path *p)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char err[256], desc[384];
    json_t *body = NULL, *d, *pm;
    herald_buf arr = HERALD_BUF_INIT;
    int level = p->depth - 1;
    const char *id = p->ids[level];

    *data = NULL;
    *has_perms = 0;
    if (len == 0) {
        *data = json_object();
        return 0;
    }
    const char *raw = (const char *)evbuffer_pullup(in, -1);
    body = herald_jcs_parse(raw, len, HERALD_JCS_STRICT, app->max_json_depth, err, sizeof(err));
    if (!body) {
        snprintf(desc, sizeof(desc), "Invalid JSON: %s", err);
        pub_reply_invalid(req, "body", NULL, desc);
        goto fail;
    }
    if (!json_is_object(body)) {
        pub_reply_invalid(req, "body", NULL, "Invalid JSON: the body must be an object");
        goto fail;
    }
    d = json_object_get(body, "data");
    if (d && !json_is_null(d) && !json_is_object(d)) {
        pub_reply_invalid(req, "body", "data", "Should be an object");
        goto fail;
    }
    if (d && json_is_object(d)) {
        const json_t *bid = json_object_get(d, "id");
        if (bid && (!json_is_string(bid) || strcmp(json_string_value(bid), id) != 0)) {
            pub_reply_invalid(req, "body", "id", "Object id does not match existing object");
            goto fail;
        }
    }
    pm = json_object_get(body, "permissions");
    if (pm && !json_is_null(pm) && !json_is_object(pm)) {
        pub_reply_invalid(req, "body", "permissions", "Should be an object");
        goto fail;
    }
    /* As in Kinto, "permissions": {} (or none) keeps the existing permissions; a
     * non-empty object replaces them all. */
    if (pm && json_object_size(pm) > 0) {
        const char *name;
        json_t *list;
        int has_write = 0;
        json_object_foreach(pm, name, list)
        {
            if (!perm_allowed(level, name)) {
                snprintf(desc, sizeof(desc), "Unknown permission '%.64s' for a %s", name,
                         pub_path_resource[level]);
                pub_reply_invalid(req, "body", "permissions", desc);
                goto fail;
            }
            int is_write = strcmp(name, "write") == 0;
            herald_buf_reset(&arr);
            if (principals_json(&arr, list, is_write ? PUB_ADMIN_USERID : NULL) != 0) {
                snprintf(desc, sizeof(desc), "permissions.%s", name);
                pub_reply_invalid(req, "body", desc, "Should be a list of non-empty strings");
                goto fail;
            }
            if (json_array_size(list) == 0 && !is_write)
                continue; /* Kinto drops empty lists */
            has_write |= is_write;
            pub_args_adds(perms, name);
            pub_args_addbuf(perms, &arr);
        }
        if (!has_write) {
            pub_args_adds(perms, "write");
            pub_args_adds(perms, CREATOR_WRITE);
        }
        *has_perms = 1;
    }
    *data = d && json_is_object(d) ? json_incref(d) : json_object();
    json_decref(body);
    herald_buf_free(&arr);
    return 0;
fail:
    json_decref(body);
    herald_buf_free(&arr);
    return -1;
}

static void
handle_put(struct evhttp_request *req, const pub_app *app, enum pub_user user, const pub_path *p)
{
    json_t *data = NULL;
    pub_args perms;
    int has_perms;
    herald_buf prefix = HERALD_BUF_INIT, suffix = HERALD_BUF_INIT, body = HERALD_BUF_INIT;
    pub_put w;

    pub_args_init(&perms);
    memset(&w, 0, sizeof(w));
    if (user != PUB_USER_ADMIN) {
        pub_reply_unauthorized(req);
        goto done;
    }
    if (parse_body_or_reply(&data, &perms, &has_perms, req, app, p) != 0)
        goto done;
    if (pub_stamp_split(&prefix, &suffix, data, p->ids[p->depth - 1]) != 0) {
        pub_reply_invalid(req, "body", "data", "Cannot be represented as canonical JSON");
        goto done;
    }
    w.prefix = &prefix;
    w.suffix = &suffix;
    w.perms = has_perms ? &perms : NULL;
    w.creator_write = CREATOR_WRITE;
    int rc = pub_objects_put(&w, app->store, p);
    if (rc == PUB_MISSING) {
        pub_reply_missing(req, pub_path_resource[w.missing_level], p->ids[w.missing_level]);
        goto done;
    }
    if (rc != PUB_OK) {
        reply_status(req, app, rc);
        goto done;
    }
    herald_buf_puts(&body, "{\"data\":");
    pub_stamp_join(&body, prefix.data, prefix.len, w.ts, suffix.data, suffix.len);
    herald_buf_puts(&body, ",\"permissions\":");
    herald_buf_append(&body, w.perms_json.data, w.perms_json.len);
    herald_buf_putc(&body, '}');
    pub_reply_json(req, w.created ? 201 : 200, &body, w.ts);
done:
    json_decref(data);
    pub_args_free(&perms);
    herald_buf_free(&w.perms_json);
    herald_buf_free(&prefix);
    herald_buf_free(&suffix);
    herald_buf_free(&body);
}

static void
handle_delete(struct evhttp_request *req, const pub_app *app, enum pub_user user, const pub_path *p)
{
    pub_view v;
    herald_buf body = HERALD_BUF_INIT;
    long long ts;
    int rc;

    memset(&v, 0, sizeof(v));
    if (user != PUB_USER_ADMIN) {
        pub_reply_unauthorized(req);
        goto done;
    }
    /* The script only knows whether the object exists; reading the path first gives
     * Kinto's 404 naming the first missing level. */
    rc = pub_objects_fetch(&v, app->store, p, p->depth, 0);
    if (rc != PUB_OK) {
        reply_status(req, app, rc);
        goto done;
    }
    int missing = pub_view_first_missing(&v);
    if (missing >= 0) {
        pub_reply_missing(req, pub_path_resource[missing], p->ids[missing]);
        goto done;
    }
    rc = pub_objects_delete(&ts, app->store, p);
    if (rc == PUB_MISSING) {
        int level = p->depth - 1;
        pub_reply_missing(req, pub_path_resource[level], p->ids[level]);
        goto done;
    }
    if (rc != PUB_OK) {
        reply_status(req, app, rc);
        goto done;
    }
    herald_buf_puts(&body, "{\"data\":{\"id\":");
    herald_jcs_string(&body, p->ids[p->depth - 1], strlen(p->ids[p->depth - 1]));
    herald_buf_puts(&body, ",\"last_modified\":");
    herald_buf_put_i64(&body, ts);
    herald_buf_puts(&body, ",\"deleted\":true}}");
    pub_reply_json(req, 200, &body, ts);
done:
    pub_view_free(&v);
    herald_buf_free(&body);
}

static const char *
method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

static void
redirect(struct evhttp_request *req, const pub_path *p)
{
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    herald_buf loc = HERALD_BUF_INIT;
    herald_buf_puts(&loc, p->redirect);
    if (query) {
        herald_buf_putc(&loc, '?');
        herald_buf_puts(&loc, query);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", herald_buf_cstr(&loc));
    pub_reply_json(req, 307, NULL, 0);
    herald_buf_free(&loc);
}

void
pub_routes_handle(struct evhttp_request *req, void *arg)
{
    const pub_app *app = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    char logpath[256];
    struct timespec t0, t1;
    pub_path p;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!path || !*path)
        path = "/";
    /* Copied now: after the reply is sent the request (and 'path') may be freed. */
    snprintf(logpath, sizeof(logpath), "%s", path);
    enum pub_user user = pub_auth_check(
        app->auth, evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"));
    pub_reply_last_status = 0;
    pub_path_parse(&p, path);

    switch (p.kind) {
    case PUB_PATH_REDIRECT:
        redirect(req, &p);
        break;
    case PUB_PATH_NOT_FOUND:
        pub_reply_missing(req, NULL, NULL);
        break;
    case PUB_PATH_BAD_VERSION:
        pub_reply_error(req, 404, HERALD_ERRNO_VERSION_NOT_AVAILABLE,
                        "The requested API version is not available on this server.", NULL);
        break;
    case PUB_PATH_BAD_ID: {
        char desc[64];
        snprintf(desc, sizeof(desc), "Invalid %s id", pub_path_resource[p.bad_level]);
        pub_reply_invalid(req, "path", NULL, desc);
        break;
    }
    case PUB_PATH_ROOT:
        if (cmd == EVHTTP_REQ_GET)
            handle_root(req, app, user);
        else
            pub_reply_method_not_allowed(req);
        break;
    case PUB_PATH_LIST:
        if (cmd == EVHTTP_REQ_GET)
            handle_get_list(req, app, user, &p);
        else
            pub_reply_method_not_allowed(req);
        break;
    case PUB_PATH_OBJECT:
        if (cmd == EVHTTP_REQ_GET)
            handle_get_object(req, app, user, &p);
        else if (cmd == EVHTTP_REQ_PUT)
            handle_put(req, app, user, &p);
        else if (cmd == EVHTTP_REQ_DELETE)
            handle_delete(req, app, user, &p);
        else
            pub_reply_method_not_allowed(req);
        break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    herald_info("%s %s %d %.1fms", method_name(cmd), logpath, pub_reply_last_status,
                (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
}
