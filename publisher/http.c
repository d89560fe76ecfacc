/*
 * http -- see http.h.
 */
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
pub_headers_add(pub_headers *h, const char *name, const char *value)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->v = herald_mem_realloc(h->v, (size_t)h->cap * sizeof(*h->v));
    }
    h->v[h->n].name = herald_mem_strdup(name);
    h->v[h->n].value = herald_mem_strdup(value);
    h->n++;
}

void
pub_headers_set(pub_headers *h, const char *name, const char *value)
{
    int j = 0;
    for (int i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) == 0) {
            free(h->v[i].name);
            free(h->v[i].value);
            continue;
        }
        h->v[j++] = h->v[i];
    }
    h->n = j;
    pub_headers_add(h, name, value);
}

const char *
pub_headers_get(const pub_headers *h, const char *name)
{
    for (int i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0)
            return h->v[i].value;
    return NULL;
}

void
pub_headers_free(pub_headers *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    memset(h, 0, sizeof(*h));
}

void
pub_req_init(pub_req *r)
{
    memset(r, 0, sizeof(*r));
}

void
pub_req_free(pub_req *r)
{
    if (!r)
        return;
    free(r->method_name);
    free(r->path);
    free(r->query);
    free(r->body);
    free(r->host);
    if (r->streamed && r->streamed_free)
        r->streamed_free(r->streamed);
    pub_headers_free(&r->headers);
    memset(r, 0, sizeof(*r));
}

enum pub_method
pub_method_parse(const char *name)
{
    static const char *const names[] = {"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"};
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (strcasecmp(name, names[i]) == 0)
            return (enum pub_method)i;
    return PUB_OTHER;
}

void
pub_req_set_target(pub_req *r, const char *method, const char *target)
{
    const char *q = strchr(target, '?');
    free(r->method_name);
    free(r->path);
    free(r->query);
    r->method_name = herald_mem_strdup(method);
    for (char *c = r->method_name; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    r->method = pub_method_parse(method);
    r->path = q ? herald_mem_strndup(target, (size_t)(q - target)) : herald_mem_strdup(target);
    r->query = q ? herald_mem_strdup(q + 1) : NULL;
}

void
pub_req_set_body(pub_req *r, const char *body, size_t len)
{
    free(r->body);
    r->body = herald_mem_alloc(len + 1);
    if (len)
        memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->body_len = len;
}

void
pub_resp_init(pub_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->has_body = 1;
}

void
pub_resp_free(pub_resp *r)
{
    if (!r)
        return;
    pub_headers_free(&r->headers);
    herald_buf_free(&r->body);
    memset(r, 0, sizeof(*r));
}

void
pub_resp_reset(pub_resp *r)
{
    pub_headers_free(&r->headers);
    herald_buf_reset(&r->body);
    r->status = 0;
    r->has_body = 1;
}
