/*
 * batch -- see batch.h.
 */
#include "batch.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "herald/jcs.h"
#include "reply.h"

void
pub_batch_merge_defaults(json_t *into, const json_t *from)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)from, k, v)
    {
        json_t *cur = json_object_get(into, k);
        if (!cur)
            json_object_set_new(into, k, json_deep_copy(v));
        else if (json_is_object(cur) && json_is_object(v))
            pub_batch_merge_defaults(cur, v);
    }
}

static void
batch_invalid(pub_call *c, const char *name, const char *description)
{
    pub_reply_invalid(c->resp, "body", name, description);
}

int
pub_batch_requests(json_t **subs, pub_call *c, const json_t *body)
{
    char desc[128];
    const json_t *reqs = json_object_get(body, "requests");
    const json_t *defaults = json_object_get(body, "defaults");
    *subs = NULL;
    if (!json_is_object(body)) {
        batch_invalid(c, NULL, "Invalid JSON: the body must be an object");
        return -1;
    }
    if (!reqs) {
        batch_invalid(c, "requests", "Required");
        return -1;
    }
    if (!json_is_array(reqs)) {
        batch_invalid(c, "requests", "Should be an array");
        return -1;
    }
    if ((long long)json_array_size(reqs) > c->app->settings->batch_max_requests) {
        snprintf(desc, sizeof(desc), "Number of requests is limited to %lld",
                 (long long)c->app->settings->batch_max_requests);
        batch_invalid(c, "requests", desc);
        return -1;
    }
    if (defaults && !json_is_object(defaults)) {
        batch_invalid(c, "defaults", "Should be an object");
        return -1;
    }
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        char name[64];
        snprintf(name, sizeof(name), "requests.%zu", i);
        if (!json_is_object(r)) {
            batch_invalid(c, name, "Should be an object");
            goto fail;
        }
        json_t *sub = json_deep_copy(r);
        if (defaults)
            pub_batch_merge_defaults(sub, defaults);
        json_array_append_new(out, sub);
        const char *path = json_string_value(json_object_get(sub, "path"));
        const json_t *method = json_object_get(sub, "method");
        const json_t *headers = json_object_get(sub, "headers");
        snprintf(name, sizeof(name), "requests.%zu.path", i);
        if (!path) {
            batch_invalid(c, name, "Required");
            goto fail;
        }
        if (strstr(path, "/batch") &&
            (strcmp(path, "/batch") == 0 || strncmp(path, "/v1/batch", 9) == 0)) {
            batch_invalid(c, name, "Recursive call on /batch endpoint is forbidden.");
            goto fail;
        }
        snprintf(name, sizeof(name), "requests.%zu.method", i);
        if (method &&
            (!json_is_string(method) || pub_method_parse(json_string_value(method)) == PUB_OTHER)) {
            batch_invalid(c, name, "Invalid method");
            goto fail;
        }
        snprintf(name, sizeof(name), "requests.%zu.headers", i);
        if (headers && !json_is_object(headers)) {
            batch_invalid(c, name, "Should be an object");
            goto fail;
        }
    }
    *subs = out;
    return 0;
fail:
    json_decref(out);
    return -1;
}

void
pub_batch_subrequest(pub_req *sub, const pub_req *parent, const json_t *r)
{
    const char *method = json_string_value(json_object_get(r, "method"));
    const char *path = json_string_value(json_object_get(r, "path"));
    const json_t *headers = json_object_get(r, "headers");
    const json_t *body = json_object_get(r, "body");
    herald_buf target = HERALD_BUF_INIT;

    pub_req_init(sub);
    if (strncmp(path, "/v1/", 4) != 0 && strcmp(path, "/v1") != 0)
        herald_buf_puts(&target, "/v1");
    herald_buf_puts(&target, path);
    pub_req_set_target(sub, method ? method : "GET", herald_buf_cstr(&target));
    herald_buf_free(&target);
    sub->host = herald_mem_strdup(parent->host);
    for (int i = 0; i < parent->headers.n; i++) {
        const char *n = parent->headers.v[i].name;
        if (strcasecmp(n, "Content-Length") == 0 || strcasecmp(n, "Content-Type") == 0)
            continue;
        pub_headers_add(&sub->headers, n, parent->headers.v[i].value);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v) if (json_is_string(v))
        pub_headers_set(&sub->headers, k, json_string_value(v));
    if (body && !json_is_null(body)) {
        herald_buf b = HERALD_BUF_INIT;
        if (herald_jcs_dump(&b, body) == 0)
            pub_req_set_body(sub, b.data ? b.data : "", b.len);
        herald_buf_free(&b);
        if (!pub_req_header(sub, "Content-Type"))
            pub_headers_set(&sub->headers, "Content-Type", "application/json");
    }
}

json_t *
pub_batch_response(const pub_req *sub, const pub_resp *sresp)
{
    char err[256];
    json_t *out = json_object(), *hdrs = json_object(), *rbody = NULL;
    json_object_set_new(out, "status", json_integer(sresp->status));
    json_object_set_new(out, "path", json_string(sub->path));
    for (int h = 0; h < sresp->headers.n; h++)
        json_object_set_new(hdrs, sresp->headers.v[h].name, json_string(sresp->headers.v[h].value));
    if (sresp->has_body && sresp->body.len)
        rbody = herald_jcs_parse(sresp->body.data, sresp->body.len, 0, 0, err, sizeof(err));
    json_object_set_new(out, "body", rbody ? rbody : json_string(""));
    json_object_set_new(out, "headers", hdrs);
    return out;
}
