/*
 * patch -- see patch.h. JSON Pointers (RFC 6901) are resolved segment by segment with
 * the "~1" -> "/" and "~0" -> "~" unescaping; "-" appends to an array.
 */
#include "patch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/mem.h"

void
pub_patch_shallow(json_t *target, const json_t *patch)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v) json_object_set(target, k, v);
}

json_t *
pub_patch_merge(json_t *target, const json_t *patch)
{
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(out, k);
            continue;
        }
        json_t *merged = pub_patch_merge(json_object_get(out, k), v);
        json_object_set_new(out, k, merged);
    }
    return out;
}

/* Splits a JSON Pointer into unescaped segments. Returns the count, or -1. */
static int
split_pointer(char ***out, const char *ptr)
{
    char **segs = NULL;
    int n = 0;
    if (*ptr == '\0') {
        *out = NULL;
        return 0;
    }
    if (*ptr != '/')
        return -1;
    while (*ptr == '/') {
        const char *start = ++ptr;
        while (*ptr && *ptr != '/')
            ptr++;
        herald_buf b = HERALD_BUF_INIT;
        for (const char *c = start; c < ptr; c++) {
            if (*c == '~' && c + 1 < ptr && (c[1] == '0' || c[1] == '1')) {
                herald_buf_putc(&b, c[1] == '0' ? '~' : '/');
                c++;
            } else if (*c == '~') {
                herald_buf_free(&b);
                goto fail;
            } else {
                herald_buf_putc(&b, *c);
            }
        }
        segs = herald_mem_realloc(segs, (size_t)(n + 1) * sizeof(char *));
        herald_buf_cstr(&b);
        segs[n++] = herald_buf_steal(&b, NULL);
    }
    *out = segs;
    return n;
fail:
    for (int i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
    return -1;
}

static void
free_segs(char **segs, int n)
{
    for (int i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
}

/* Array index of 'seg' in an array of 'size' (size itself for "-" when 'append'). */
static long
array_index(const char *seg, size_t size, int append)
{
    char *end;
    if (append && strcmp(seg, "-") == 0)
        return (long)size;
    if (!*seg || (seg[0] == '0' && seg[1]) || seg[0] < '0' || seg[0] > '9')
        return -1;
    long i = strtol(seg, &end, 10);
    if (*end || i < 0 || (size_t)i > size || (!append && (size_t)i == size))
        return -1;
    return i;
}

/* The value at segs[0..n-1] of 'doc' (borrowed), or NULL. */
static json_t *
resolve(json_t *doc, char **segs, int n)
{
    for (int i = 0; i < n && doc; i++) {
        if (json_is_object(doc))
            doc = json_object_get(doc, segs[i]);
        else if (json_is_array(doc)) {
            long idx = array_index(segs[i], json_array_size(doc), 0);
            doc = idx < 0 ? NULL : json_array_get(doc, (size_t)idx);
        } else
            doc = NULL;
    }
    return doc;
}

/* Adds (or replaces, when 'replace') 'value' (stolen) at the pointer. */
static int
put_at(json_t **doc, char **segs, int n, json_t *value, int replace)
{
    if (n == 0) {
        json_decref(*doc);
        *doc = value;
        return 0;
    }
    json_t *parent = resolve(*doc, segs, n - 1);
    const char *last = segs[n - 1];
    if (json_is_object(parent)) {
        if (replace && !json_object_get(parent, last))
            goto fail;
        return json_object_set_new(parent, last, value) == 0 ? 0 : -1;
    }
    if (json_is_array(parent)) {
        long idx = array_index(last, json_array_size(parent), !replace);
        if (idx < 0)
            goto fail;
        if (replace)
            return json_array_set_new(parent, (size_t)idx, value) == 0 ? 0 : -1;
        return json_array_insert_new(parent, (size_t)idx, value) == 0 ? 0 : -1;
    }
fail:
    json_decref(value);
    return -1;
}

/* Removes the value at the pointer; returns it (new reference) or NULL. */
static json_t *
take_at(json_t *doc, char **segs, int n)
{
    if (n == 0)
        return NULL;
    json_t *parent = resolve(doc, segs, n - 1), *v;
    const char *last = segs[n - 1];
    if (json_is_object(parent)) {
        v = json_object_get(parent, last);
        if (!v)
            return NULL;
        json_incref(v);
        json_object_del(parent, last);
        return v;
    }
    if (json_is_array(parent)) {
        long idx = array_index(last, json_array_size(parent), 0);
        if (idx < 0)
            return NULL;
        v = json_incref(json_array_get(parent, (size_t)idx));
        json_array_remove(parent, (size_t)idx);
        return v;
    }
    return NULL;
}

int
pub_patch_json(json_t **doc, const json_t *ops, char *err, size_t errlen)
{
    size_t i;
    json_t *op;
    if (!json_is_array(ops)) {
        snprintf(err, errlen, "a JSON Patch must be an array of operations");
        return -1;
    }
    json_array_foreach(ops, i, op)
    {
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *from = json_string_value(json_object_get(op, "from"));
        json_t *value = json_object_get(op, "value");
        char **segs = NULL, **fsegs = NULL;
        int n, fn = 0, rc = -1;
        if (!json_is_object(op) || !name || !path) {
            snprintf(err, errlen, "operation %zu: needs \"op\" and \"path\"", i);
            return -1;
        }
        n = split_pointer(&segs, path);
        if (n < 0) {
            snprintf(err, errlen, "operation %zu: invalid pointer '%.100s'", i, path);
            return -1;
        }
        if (strcmp(name, "add") == 0 || strcmp(name, "replace") == 0) {
            if (value)
                rc = put_at(doc, segs, n, json_deep_copy(value), name[0] == 'r');
        } else if (strcmp(name, "remove") == 0) {
            json_t *v = take_at(*doc, segs, n);
            rc = v ? 0 : -1;
            json_decref(v);
        } else if (strcmp(name, "test") == 0) {
            json_t *v = resolve(*doc, segs, n);
            rc = v && value && json_equal(v, value) ? 0 : -1;
        } else if ((strcmp(name, "move") == 0 || strcmp(name, "copy") == 0) && from &&
                   (fn = split_pointer(&fsegs, from)) >= 0) {
            json_t *v;
            if (name[0] == 'm') {
                /* A location cannot be moved into one of its children. */
                size_t fl = strlen(from);
                if (strncmp(path, from, fl) == 0 && path[fl] == '/')
                    v = NULL;
                else
                    v = take_at(*doc, fsegs, fn);
            } else {
                json_t *src = resolve(*doc, fsegs, fn);
                v = src ? json_deep_copy(src) : NULL;
            }
            rc = v ? put_at(doc, segs, n, v, 0) : -1;
        }
        if (rc != 0)
            snprintf(err, errlen, "operation %zu (%.20s %.100s) cannot be applied", i, name, path);
        free_segs(segs, n);
        free_segs(fsegs, fn > 0 ? fn : 0);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The document Kinto patches: {"data", "permissions": {perm: {principal: principal}}}. */
static json_t *
kinto_document(const json_t *data, const json_t *perms, const char *const *names)
{
    json_t *doc = json_object(), *dperms = json_object();
    const char *pn;
    json_t *set;
    json_object_foreach((json_t *)perms, pn, set)
    {
        json_t *m = json_object();
        const char *pr;
        json_t *ig;
        json_object_foreach(set, pr, ig) json_object_set_new(m, pr, json_string(pr));
        json_object_set_new(dperms, pn, m);
    }
    for (int i = 0; names[i]; i++)
        if (!json_object_get(dperms, names[i]))
            json_object_set_new(dperms, names[i], json_object());
    json_object_set_new(doc, "data", json_deep_copy(data));
    json_object_set_new(doc, "permissions", dperms);
    return doc;
}

/* Rewrites one "/permissions/<perm>/<principal>" operation (see pub_patch_kinto):
 * the principal is escaped as one JSON Pointer segment and is the default value. */
static void
kinto_permission_op(json_t *op)
{
    const char *path = json_string_value(json_object_get(op, "path"));
    const char *perm_end =
        path && strncmp(path, "/permissions/", 13) == 0 ? strchr(path + 13, '/') : NULL;
    if (!json_is_object(op) || !perm_end)
        return;
    herald_buf principal = HERALD_BUF_INIT, fixed = HERALD_BUF_INIT;
    for (const char *ch = perm_end + 1; *ch; ch++) {
        if (ch[0] == '~' && (ch[1] == '0' || ch[1] == '1')) {
            herald_buf_putc(&principal, ch[1] == '0' ? '~' : '/');
            ch++;
        } else {
            herald_buf_putc(&principal, *ch);
        }
    }
    herald_buf_append(&fixed, path, (size_t)(perm_end + 1 - path));
    for (const char *ch = herald_buf_cstr(&principal); *ch; ch++) {
        if (*ch == '~')
            herald_buf_puts(&fixed, "~0");
        else if (*ch == '/')
            herald_buf_puts(&fixed, "~1");
        else
            herald_buf_putc(&fixed, *ch);
    }
    if (!json_object_get(op, "value") && principal.len > 0)
        json_object_set_new(op, "value", json_string(herald_buf_cstr(&principal)));
    json_object_set_new(op, "path", json_string(herald_buf_cstr(&fixed)));
    herald_buf_free(&principal);
    herald_buf_free(&fixed);
}

int
pub_patch_kinto(json_t **data_out, json_t **perms_out, const json_t *data, const json_t *perms,
                const char *const *names, const json_t *ops, char *err, size_t errlen)
{
    json_t *doc = kinto_document(data, perms, names);
    json_t *fixed = json_deep_copy(ops);
    size_t oi;
    json_t *op;
    *data_out = *perms_out = NULL;
    json_array_foreach(fixed, oi, op) kinto_permission_op(op);
    int rc = pub_patch_json(&doc, fixed, err, errlen);
    json_decref(fixed);
    if (rc != 0) {
        json_decref(doc);
        return -1;
    }
    const char *pn;
    json_t *set, *asbody = json_object();
    json_object_foreach(json_object_get(doc, "permissions"), pn, set)
    {
        json_t *arr = json_array();
        const char *pr;
        json_t *ig;
        if (json_is_object(set))
            json_object_foreach(set, pr, ig) json_array_append_new(arr, json_string(pr));
        else if (json_is_array(set))
            json_array_extend(arr, set);
        json_object_set_new(asbody, pn, arr);
    }
    *data_out = json_incref(json_object_get(doc, "data"));
    *perms_out = asbody;
    json_decref(doc);
    return 0;
}
