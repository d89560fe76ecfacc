/*
 * call -- see call.h.
 */
#include "call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"
#include "reply.h"

const char *
pub_hashes_find(const pub_hashes *h, const char *password, size_t pwlen)
{
    for (int i = 0; h && i < h->n; i++)
        if (h->pwlens[i] == pwlen && memcmp(h->passwords[i], password, pwlen) == 0)
            return h->hashes[i];
    return NULL;
}

void
pub_call_deny(pub_call *c)
{
    if (c->user->id[0])
        pub_reply_forbidden(c->resp);
    else
        pub_reply_unauthorized(c->resp);
}

void
pub_call_status(pub_call *c, int rc)
{
    if (rc == PUB_UNAVAILABLE)
        pub_reply_unavailable(c->resp, c->app->settings->retry_after_seconds);
    else if (rc == PUB_UNCONFIRMED)
        pub_reply_unconfirmed(c->resp, c->app->settings->retry_after_seconds);
    else
        pub_reply_internal(c->resp);
}

void
pub_call_json(pub_call *c, int status, json_t *v, long long ts)
{
    herald_buf body = HERALD_BUF_INIT;
    if (herald_jcs_dump(&body, v) != 0)
        pub_reply_internal(c->resp);
    else
        pub_reply_json(c->resp, status, &body, ts);
    herald_buf_free(&body);
    json_decref(v);
}

void
pub_call_retry_after(pub_call *c)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", c->app->settings->retry_after_seconds);
    pub_headers_set(&c->resp->headers, "Retry-After", v);
}

void
pub_call_precondition(pub_call *c, enum pub_res res, const redisReply *obj)
{
    herald_buf ex = HERALD_BUF_INIT;
    if (obj)
        pub_reply_put_data(&ex, res, obj->str, obj->len);
    pub_reply_precondition(c->resp, obj ? ex.data : NULL, ex.len);
    herald_buf_free(&ex);
}

int
pub_call_cond(pub_cond *out, pub_call *c, const char *name)
{
    const char *v = pub_req_header(c->req, name);
    char *end;
    memset(out, 0, sizeof(*out));
    if (!v)
        return 0;
    while (*v == ' ')
        v++;
    out->present = 1;
    if (strcmp(v, "*") == 0) {
        out->star = 1;
        return 0;
    }
    size_t len = strlen(v);
    while (len > 0 && v[len - 1] == ' ')
        len--;
    if (len >= 3 && v[0] == '"' && v[len - 1] == '"' && v[1] >= '0' && v[1] <= '9') {
        long long ts = strtoll(v + 1, &end, 10);
        if (end == v + len - 1) {
            out->ts = ts;
            return 0;
        }
    }
    char desc[128];
    snprintf(desc, sizeof(desc),
             "Invalid value for %s. The value should be integer between double quotes.", name);
    pub_reply_invalid(c->resp, "header", name, desc);
    return -1;
}

int
pub_call_allowed(const pub_call *c, const pub_path *p, const pub_view *v, int level,
                 const char *perm, enum pub_res context)
{
    return pub_perms_allowed(c->user, &c->app->settings->grants, p, level, perm, v->sets, context);
}

void
pub_call_create_perm(char *out, size_t len, enum pub_res res)
{
    snprintf(out, len, "%s:create", pub_res_name[res]);
}

int
pub_call_may_create(const pub_call *c, const pub_path *p, const pub_view *v)
{
    char perm[64];
    enum pub_res res = p->res[p->depth - 1];
    pub_call_create_perm(perm, sizeof(perm), res);
    return pub_call_allowed(c, p, v, p->depth - 2, perm, res);
}

int
pub_call_listing(herald_listing **l, pub_call *c, const char *const *known_fields)
{
    herald_listing_error err;
    herald_listing_opts opts = {
        .paginate_by = c->app->settings->paginate_by,
        .max_fetch_size = c->app->settings->storage_max_fetch_size,
        .known_fields = known_fields,
    };
    if (herald_listing_parse(l, c->req->query, &opts, &err) == 0)
        return 0;
    c->resp->status = err.status;
    pub_headers_set(&c->resp->headers, "Content-Type", "application/json");
    herald_buf_reset(&c->resp->body);
    herald_listing_error_body(&c->resp->body, &err);
    return -1;
}

void
pub_call_next_page(pub_call *c, const herald_listing *q, const char *token)
{
    herald_buf base = HERALD_BUF_INIT, url = HERALD_BUF_INIT;
    if (!token)
        return;
    herald_buf_puts(&base, c->req->host);
    herald_buf_puts(&base, c->req->path);
    herald_listing_next_url(&url, herald_buf_cstr(&base), c->req->query,
                            c->req->query ? strlen(c->req->query) : 0, q, token);
    pub_headers_set(&c->resp->headers, "Next-Page", herald_buf_cstr(&url));
    herald_buf_free(&base);
    herald_buf_free(&url);
}

void
pub_call_reply_page(pub_call *c, herald_buf *body, long long ts, const herald_listing *q,
                    const herald_listing_page *page)
{
    char num[32];
    pub_reply_json(c->resp, 200, body, ts);
    snprintf(num, sizeof(num), "%lld", (long long)page->total);
    pub_headers_set(&c->resp->headers, "Total-Records", num);
    pub_headers_set(&c->resp->headers, "Total-Objects", num);
    pub_call_next_page(c, q, page->next_token);
}
