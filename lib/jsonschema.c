/*
 * jsonschema -- the compiler: a schema document into the node array of
 * lib/jsonschema_int.h. Validation is in lib/jsonschema_eval.c.
 *
 * Compiling runs in two passes, neither recursing through references:
 *
 *  1. scan: walks the document through the keywords that hold subschemas (and only
 *     those: a "$id" inside an "enum" is data), giving every schema object its
 *     resource (the nearest enclosing "$id", or the document) and registering the
 *     resources' absolute URIs, "$anchor"s, Draft 7 "#name" ids and "$dynamicAnchor"s.
 *     Base URIs are resolved with RFC 3986 section 5.2; a document without "$id" gets
 *     a private base so that any reference leaving it is recognisably remote.
 *  2. compile: a worklist of schema objects, each turned into a node whose keywords
 *     keep document order (python-jsonschema reports its first error in that order);
 *     each keyword goes through its entry of kwdefs[] (name, dialects, compile function).
 *     A reference is resolved to a schema object (JSON Pointer, anchor or resource) and
 *     becomes a child node index, so cycles are just indices. A reference whose
 *     document is neither this one nor a built-in meta-schema is refused: nothing is
 *     ever fetched.
 *
 * Pointer -> (resource, node) lookups go through one open-addressing hash table keyed
 * by the json_t address; the compiled object keeps a reference on the document so the
 * addresses stay valid. Bounded cost: scan depth is limited to JS_MAX_DEPTH, so are
 * the pointers to resolve; everything else is linear in the schema's size.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema_int.h"

#define DEFAULT_BASE "urn:herald:schema-root"

struct slot {
    const json_t *key;
    int resource;
    int node;
};

struct anchor {
    char *uri; /* absolute#name */
    const json_t *target;
};

struct comp {
    herald_jsonschema *s;
    struct slot *tab;
    size_t tabcap, tabn;
    struct anchor *anchors;
    size_t nanchors;
    int *work;
    size_t nwork, workcap;
    bool draft7;
    char *err;
    size_t errlen;
    bool failed;
};

static void fail(struct comp *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(struct comp *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
        /* One line whatever the schema's strings hold (a pattern or a property name
         * quoted in the reason may contain a newline or a tab). */
        for (char *p = c->err; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = ' ';
    }
}

/* ---- pointer table --------------------------------------------------------------------- */

static size_t
hash_ptr(const void *p)
{
    unsigned long long x = (unsigned long long)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static struct slot *
tab_find(struct comp *c, const json_t *key)
{
    if (!c->tabcap)
        return NULL;
    for (size_t i = hash_ptr(key) & (c->tabcap - 1);; i = (i + 1) & (c->tabcap - 1)) {
        if (c->tab[i].key == key)
            return &c->tab[i];
        if (!c->tab[i].key)
            return NULL;
    }
}

/* The first free slot for 'key' in 'tab' (capacity 'cap', a power of two). */
static size_t
tab_free_slot(const struct slot *tab, size_t cap, const json_t *key)
{
    size_t i = hash_ptr(key) & (cap - 1);
    while (tab[i].key)
        i = (i + 1) & (cap - 1);
    return i;
}

static struct slot *
tab_put(struct comp *c, const json_t *key, int resource)
{
    struct slot *sl = tab_find(c, key);
    if (sl)
        return sl;
    if ((c->tabn + 1) * 2 > c->tabcap) {
        size_t ncap = c->tabcap ? c->tabcap * 2 : 64;
        struct slot *old = c->tab;
        size_t oldcap = c->tabcap;
        c->tab = herald_mem_calloc(ncap, sizeof(*c->tab));
        c->tabcap = ncap;
        for (size_t i = 0; i < oldcap; i++) {
            if (!old[i].key)
                continue;
            c->tab[tab_free_slot(c->tab, ncap, old[i].key)] = old[i];
        }
        free(old);
    }
    size_t i = tab_free_slot(c->tab, c->tabcap, key);
    c->tab[i].key = key;
    c->tab[i].resource = resource;
    c->tab[i].node = -1;
    c->tabn++;
    return &c->tab[i];
}

/* ---- URIs (RFC 3986 section 5.2) ----------------------------------------------------- */

struct uri {
    const char *scheme, *auth, *path, *query, *frag;
    size_t nscheme, nauth, npath, nquery, nfrag;
    bool has_scheme, has_auth, has_query, has_frag;
};

static void
uri_split(struct uri *u, const char *s)
{
    memset(u, 0, sizeof(*u));
    const char *p = s;
    const char *q = p;
    while (*q && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                  (q > p && ((*q >= '0' && *q <= '9') || *q == '+' || *q == '-' || *q == '.'))))
        q++;
    if (q > p && *q == ':') {
        u->has_scheme = true;
        u->scheme = p;
        u->nscheme = (size_t)(q - p);
        p = q + 1;
    }
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        u->has_auth = true;
        u->auth = p;
        while (*p && *p != '/' && *p != '?' && *p != '#')
            p++;
        u->nauth = (size_t)(p - u->auth);
    }
    u->path = p;
    while (*p && *p != '?' && *p != '#')
        p++;
    u->npath = (size_t)(p - u->path);
    if (*p == '?') {
        u->has_query = true;
        u->query = ++p;
        while (*p && *p != '#')
            p++;
        u->nquery = (size_t)(p - u->query);
    }
    if (*p == '#') {
        u->has_frag = true;
        u->frag = p + 1;
        u->nfrag = strlen(u->frag);
    }
}

/* RFC 3986 5.2.4 on 'in' (length 'n'), appended to 'out'. */
static void
remove_dots(herald_buf *out, const char *in, size_t n)
{
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_append(&b, in, n);
    char *s = herald_buf_cstr(&b);
    size_t base = out->len;
    while (*s) {
        if (!strncmp(s, "../", 3)) {
            s += 3;
        } else if (!strncmp(s, "./", 2)) {
            s += 2;
        } else if (!strncmp(s, "/./", 3)) {
            s += 2;
        } else if (!strcmp(s, "/.")) {
            s[1] = '\0';
        } else if (!strncmp(s, "/../", 4) || !strcmp(s, "/..")) {
            if (s[3]) {
                s += 3;
            } else {
                s += 2;
                s[0] = '/';
            }
            while (out->len > base && out->data[out->len - 1] != '/')
                out->len--;
            if (out->len > base)
                out->len--;
        } else if (!strcmp(s, ".") || !strcmp(s, "..")) {
            break;
        } else {
            size_t k = (*s == '/') ? 1 : 0;
            while (s[k] && s[k] != '/')
                k++;
            herald_buf_append(out, s, k);
            s += k;
        }
    }
    herald_buf_free(&b);
}

/* "scheme:" and "//authority" of 'u', those it has. */
static void
put_scheme(herald_buf *o, const struct uri *u)
{
    if (u->has_scheme) {
        herald_buf_append(o, u->scheme, u->nscheme);
        herald_buf_putc(o, ':');
    }
}

static void
put_auth(herald_buf *o, const struct uri *u)
{
    if (u->has_auth) {
        herald_buf_puts(o, "//");
        herald_buf_append(o, u->auth, u->nauth);
    }
}

/* RFC 3986 5.2.3: relative path 'r' merged with base 'b', dots removed, onto 'o'. */
static void
merge_paths(herald_buf *o, const struct uri *b, const struct uri *r)
{
    herald_buf m = HERALD_BUF_INIT;
    if (b->has_auth && b->npath == 0) {
        herald_buf_putc(&m, '/');
    } else {
        const char *slash = NULL;
        for (size_t i = 0; i < b->npath; i++)
            if (b->path[i] == '/')
                slash = b->path + i;
        if (slash)
            herald_buf_append(&m, b->path, (size_t)(slash - b->path) + 1);
    }
    herald_buf_append(&m, r->path, r->npath);
    remove_dots(o, m.data, m.len);
    herald_buf_free(&m);
}

/* The absolute URI of 'ref' against 'base' (malloc'd), RFC 3986 5.2.2. */
static char *
uri_resolve(const char *base, const char *ref)
{
    struct uri b, r;
    uri_split(&b, base);
    uri_split(&r, ref);
    herald_buf o = HERALD_BUF_INIT;
    const struct uri *qsrc = &r; /* whose query the result keeps */
    if (r.has_scheme) {
        put_scheme(&o, &r);
        put_auth(&o, &r);
        remove_dots(&o, r.path, r.npath);
    } else if (r.has_auth) {
        put_scheme(&o, &b);
        put_auth(&o, &r);
        remove_dots(&o, r.path, r.npath);
    } else {
        put_scheme(&o, &b);
        put_auth(&o, &b);
        if (r.npath == 0) {
            herald_buf_append(&o, b.path, b.npath);
            qsrc = r.has_query ? &r : &b;
        } else if (r.path[0] == '/') {
            remove_dots(&o, r.path, r.npath);
        } else {
            merge_paths(&o, &b, &r);
        }
    }
    if (qsrc->has_query) {
        herald_buf_putc(&o, '?');
        herald_buf_append(&o, qsrc->query, qsrc->nquery);
    }
    if (r.has_frag) {
        herald_buf_putc(&o, '#');
        herald_buf_append(&o, r.frag, r.nfrag);
    }
    return herald_buf_steal(&o, NULL);
}

/* ---- scan ----------------------------------------------------------------------------- */

/* The index of the resource with absolute URI 'uri', or -1. */
static int
find_resource(const herald_jsonschema *s, const char *uri)
{
    for (size_t i = 0; i < s->nres; i++)
        if (!strcmp(s->res[i].uri, uri))
            return (int)i;
    return -1;
}

/* Registers resource 'uri' at 'root'; its index, or -1 if 'uri' names another root. */
static int
add_resource(struct comp *c, const char *uri, const json_t *root)
{
    herald_jsonschema *s = c->s;
    int known = find_resource(s, uri);
    if (known >= 0)
        return s->res[known].root == root ? known : -1;
    s->res = herald_mem_realloc(s->res, (s->nres + 1) * sizeof(*s->res));
    s->res[s->nres] = (struct resource){herald_mem_strdup(uri), root, NULL, 0};
    return (int)s->nres++;
}

static void
add_anchor(struct comp *c, const char *base, const char *name, const json_t *target)
{
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_printf(&b, "%s#%s", base, name);
    char *uri = herald_buf_steal(&b, NULL);
    for (size_t i = 0; i < c->nanchors; i++) {
        if (!strcmp(c->anchors[i].uri, uri)) {
            if (c->anchors[i].target != target)
                fail(c, "duplicate anchor '%s'", name);
            free(uri);
            return;
        }
    }
    c->anchors = herald_mem_realloc(c->anchors, (c->nanchors + 1) * sizeof(*c->anchors));
    c->anchors[c->nanchors++] = (struct anchor){uri, target};
}

/* The schema anchor 'name' of the resource at 'base' names, or NULL. */
static const json_t *
find_anchor(const struct comp *c, const char *base, const char *name)
{
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_printf(&b, "%s#%s", base, name);
    const json_t *target = NULL;
    for (size_t i = 0; i < c->nanchors && !target; i++)
        if (!strcmp(c->anchors[i].uri, herald_buf_cstr(&b)))
            target = c->anchors[i].target;
    herald_buf_free(&b);
    return target;
}

static bool
valid_anchor_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

/* Keywords whose value is a schema, an array of schemas, an object of schemas. */
static const char *const single_kws[] = {"additionalItems",
                                         "additionalProperties",
                                         "contains",
                                         "not",
                                         "if",
                                         "then",
                                         "else",
                                         "propertyNames",
                                         "unevaluatedItems",
                                         "unevaluatedProperties",
                                         "items",
                                         NULL};
static const char *const array_kws[] = {"allOf", "anyOf", "oneOf", "prefixItems", "items", NULL};
static const char *const map_kws[] = {"properties", "patternProperties", "definitions",
                                      "$defs",      "dependentSchemas",  "dependencies",
                                      NULL};

static bool
in_list(const char *const *list, const char *k)
{
    for (; *list; list++)
        if (!strcmp(*list, k))
            return true;
    return false;
}

static void scan(struct comp *c, const json_t *j, int resource, int depth);

static void
scan_children(struct comp *c, const json_t *j, int resource, int depth)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        if (in_list(single_kws, k) && (json_is_object(v) || json_is_boolean(v))) {
            scan(c, v, resource, depth + 1);
        } else if (in_list(array_kws, k) && json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v); i++)
                scan(c, json_array_get(v, i), resource, depth + 1);
        } else if (in_list(map_kws, k) && json_is_object(v)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                if (json_is_object(v2) || json_is_boolean(v2))
                    scan(c, v2, resource, depth + 1);
            }
        }
    }
}

/* Registers the anchor schema 'j' declares with keyword 'kw' ($anchor or
 * $dynamicAnchor, when a string) in the resource at 'base'; -1 after fail(). */
static int
scan_anchor(struct comp *c, const json_t *j, const char *kw, const char *base)
{
    const char *name = json_string_value(json_object_get(j, kw));
    if (!name)
        return 0;
    if (!valid_anchor_name(name)) {
        fail(c, "invalid %s '%s'", kw, name);
        return -1;
    }
    add_anchor(c, base, name, j);
    return 0;
}

static void
scan(struct comp *c, const json_t *j, int resource, int depth)
{
    if (c->failed)
        return;
    if (depth > JS_MAX_DEPTH) {
        fail(c, "schema nested deeper than %d levels", JS_MAX_DEPTH);
        return;
    }
    if (tab_find(c, j))
        return;
    if (!json_is_object(j)) {
        tab_put(c, j, resource);
        return;
    }
    const json_t *id = json_object_get(j, "$id");
    bool has_ref = json_object_get(j, "$ref") != NULL;
    const char *base = c->s->res[resource].uri;
    if (json_is_string(id) && !(c->draft7 && has_ref)) {
        char *abs = uri_resolve(base, json_string_value(id));
        char *hash = strchr(abs, '#');
        if (hash && (c->draft7 ? hash[1] && hash == abs + strlen(abs) - strlen(hash) &&
                                     json_string_value(id)[0] == '#'
                               : false)) {
            /* Draft 7 plain-name fragment: an anchor, not a new base */
            if (valid_anchor_name(hash + 1))
                add_anchor(c, base, hash + 1, j);
            free(abs);
        } else {
            if (hash) {
                if (hash[1] && !c->draft7) {
                    fail(c, "$id '%s' must not have a fragment", json_string_value(id));
                    free(abs);
                    return;
                }
                *hash = '\0';
            }
            int r = add_resource(c, abs, j);
            free(abs);
            if (r < 0) {
                fail(c, "duplicate $id '%s'", json_string_value(id));
                return;
            }
            resource = r;
            base = c->s->res[resource].uri;
        }
    }
    tab_put(c, j, resource);
    if (!c->draft7) {
        if (scan_anchor(c, j, "$anchor", base) < 0 || scan_anchor(c, j, "$dynamicAnchor", base) < 0)
            return;
        const char *d = json_string_value(json_object_get(j, "$dynamicAnchor"));
        if (d) {
            struct resource *r = &c->s->res[resource];
            r->dyn = herald_mem_realloc(r->dyn, (r->ndyn + 1) * sizeof(*r->dyn));
            r->dyn[r->ndyn++] = (struct dynanchor){herald_mem_strdup(d), -1};
        }
    }
    scan_children(c, j, resource, depth);
}

/* ---- references ----------------------------------------------------------------------- */

static int node_for(struct comp *c, const json_t *j, int resource);

/* Loads the built-in meta-schema documents on first use; returns whether 'uri' (no
 * fragment) is now a known resource. */
static bool
load_meta(struct comp *c, const char *uri)
{
    herald_jsonschema *s = c->s;
    bool known = false;
    for (const struct herald_jsonschema__meta *m = herald_jsonschema__metas; m->uri; m++)
        if (!strcmp(m->uri, uri))
            known = true;
    if (!known || s->meta)
        return known;
    s->meta = json_array();
    bool was7 = c->draft7;
    for (const struct herald_jsonschema__meta *m = herald_jsonschema__metas; m->uri; m++) {
        json_t *d = json_loads(m->text, 0, NULL);
        if (!d) {
            fail(c, "built-in meta-schema %s does not parse", m->uri);
            return false;
        }
        json_array_append_new(s->meta, d);
        c->draft7 = strstr(m->uri, "draft-07") != NULL;
        int r = add_resource(c, m->uri, d);
        if (r >= 0)
            scan(c, d, r, 0);
    }
    c->draft7 = was7;
    return true;
}

static int
percent_decode(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%') {
            int hi, lo;
            if (sscanf(p + 1, "%1x%1x", (unsigned *)&hi, (unsigned *)&lo) != 2)
                return -1;
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return 0;
}

/* The member or item of 'cur' that pointer token 'tok' (unescaped in place) names,
 * or NULL. */
static const json_t *
pointer_step(const json_t *cur, char *tok)
{
    /* unescape ~1 then ~0 */
    char *o = tok;
    for (char *q = tok; *q; q++) {
        if (q[0] == '~' && q[1] == '1')
            *o++ = '/', q++;
        else if (q[0] == '~' && q[1] == '0')
            *o++ = '~', q++;
        else
            *o++ = *q;
    }
    *o = '\0';
    if (json_is_object(cur))
        return json_object_get(cur, tok);
    if (!json_is_array(cur))
        return NULL;
    char *e;
    errno = 0;
    unsigned long idx = strtoul(tok, &e, 10);
    return (*tok && !*e && !errno && (tok[0] != '0' || !tok[1])) ? json_array_get(cur, idx) : NULL;
}

/* The value JSON Pointer fragment 'frag' ("/a/b", percent-encoded, decoded in place)
 * names under 'root', with '*r' set to the resource of the deepest schema object on
 * the way; NULL after fail(). 'ref' is for messages. */
static const json_t *
walk_pointer(struct comp *c, const char *ref, const json_t *root, char *frag, int *r)
{
    if (percent_decode(frag) < 0) {
        fail(c, "$ref '%s': bad percent-encoding", ref);
        return NULL;
    }
    const json_t *cur = root;
    char *p = frag + 1;
    int steps = 0;
    for (;;) {
        if (++steps > JS_MAX_DEPTH) {
            fail(c, "$ref '%s': pointer too long", ref);
            return NULL;
        }
        char *end = strchr(p, '/');
        if (end)
            *end = '\0';
        cur = pointer_step(cur, p);
        if (!cur)
            break;
        struct slot *sl = tab_find(c, cur);
        if (sl)
            *r = sl->resource;
        if (!end)
            break;
        p = end + 1;
    }
    if (!cur)
        fail(c, "$ref '%s': no such location in the schema", ref);
    return cur;
}

/* The schema object 'ref' (as written in a node of 'resource') names, with its resource
 * in '*res_out'; NULL after fail(). */
static const json_t *
resolve_ref(struct comp *c, const char *ref, int resource, int *res_out)
{
    herald_jsonschema *s = c->s;
    char *abs = uri_resolve(s->res[resource].uri, ref);
    char *frag = strchr(abs, '#');
    if (frag)
        *frag++ = '\0';
    const json_t *target = NULL;
    int r = find_resource(s, abs);
    if (r < 0 && load_meta(c, abs))
        r = find_resource(s, abs);
    if (r < 0) {
        /* maybe a plain-name anchor of another resource with that path (Draft 7 $id
         * "http://x/y#foo" registers base "http://x/y") */
        fail(c, "$ref '%s': remote references are not fetched (%s is not in this schema)", ref,
             abs);
        goto out;
    }
    if (!frag || !*frag) {
        target = s->res[r].root;
    } else if (frag[0] == '/') {
        target = walk_pointer(c, ref, s->res[r].root, frag, &r);
        if (!target)
            goto out;
    } else {
        target = find_anchor(c, s->res[r].uri, frag);
        if (!target) {
            fail(c, "$ref '%s': no anchor '%s' in the schema", ref, frag);
            goto out;
        }
        struct slot *sl = tab_find(c, target);
        if (sl)
            r = sl->resource;
    }
    if (!json_is_object(target) && !json_is_boolean(target)) {
        fail(c, "$ref '%s' does not point to a schema", ref);
        target = NULL;
    }
out:
    *res_out = r;
    free(abs);
    return target;
}

/* ---- compile -------------------------------------------------------------------------- */

/* The node for schema 'j' (allocated and queued on first sight). */
static int
node_for(struct comp *c, const json_t *j, int resource)
{
    struct slot *sl = tab_find(c, j);
    if (!sl) {
        scan(c, j, resource, 0);
        if (c->failed)
            return -1;
        sl = tab_find(c, j);
    }
    if (sl->node >= 0)
        return sl->node;
    herald_jsonschema *s = c->s;
    int idx = (int)s->nnodes;
    sl->node = idx; /* before the realloc: 'sl' is in the table, not the node array */
    s->nodes = herald_mem_realloc(s->nodes, (s->nnodes + 1) * sizeof(*s->nodes));
    struct node *n = &s->nodes[s->nnodes++];
    memset(n, 0, sizeof(*n));
    n->json = j;
    n->resource = sl->resource;
    n->draft7 = c->draft7;
    if (json_is_boolean(j)) {
        n->is_bool = true;
        n->bool_value = json_is_true(j);
        return idx;
    }
    if (c->nwork == c->workcap) {
        c->workcap = c->workcap ? c->workcap * 2 : 64;
        c->work = herald_mem_realloc(c->work, c->workcap * sizeof(*c->work));
    }
    c->work[c->nwork++] = idx;
    return idx;
}

static struct kw *
add_kw(struct node *n, enum kwkind kind, const char *name, const json_t *val)
{
    n->kws = herald_mem_realloc(n->kws, (n->nkws + 1) * sizeof(*n->kws));
    struct kw *k = &n->kws[n->nkws++];
    memset(k, 0, sizeof(*k));
    k->kind = kind;
    k->name = name;
    k->val = val;
    k->child = k->child2 = k->child3 = -1;
    k->n2 = -1;
    k->props_kw = k->pats_kw = -1;
    return k;
}

static bool
is_schema(const json_t *v)
{
    return json_is_object(v) || json_is_boolean(v);
}

static bool
nonneg_int(const json_t *v, long long *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9.2e18 &&
        floor(json_real_value(v)) == json_real_value(v)) {
        *out = (long long)json_real_value(v);
        return true;
    }
    return false;
}

/* ECMA-262 regular expression source -> PCRE2 source (docs/schema.md): \d and \w stay
 * ASCII as PCRE2 has them without UCP; \s and \S gain ECMAScript's Unicode white space;
 * \uXXXX, \u{...} and \xHH are handled by PCRE2_ALT_BSUX. */
#define ECMA_SPACE                                                                                 \
    "\\t\\n\\x0b\\f\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"

/* \p{Letter} and the other long general category names ECMAScript accepts and
 * PCRE2 10.42 does not: rewritten to the short names. */
static bool
long_property(herald_buf *b, const char *p)
{
    static const char *const names[][2] = {
        {"Letter", "L"},
        {"Lowercase_Letter", "Ll"},
        {"Uppercase_Letter", "Lu"},
        {"Titlecase_Letter", "Lt"},
        {"Modifier_Letter", "Lm"},
        {"Other_Letter", "Lo"},
        {"Mark", "M"},
        {"Number", "N"},
        {"Decimal_Number", "Nd"},
        {"Letter_Number", "Nl"},
        {"Other_Number", "No"},
        {"Punctuation", "P"},
        {"Symbol", "S"},
        {"Separator", "Z"},
        {"Space_Separator", "Zs"},
        {"Other", "C"},
        {"Control", "Cc"},
        {"digit", "Nd"},
    };
    const char *end = strchr(p + 3, '}');
    if (!end)
        return false;
    size_t n = (size_t)(end - (p + 3));
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i][0]) == n && !strncmp(p + 3, names[i][0], n)) {
            herald_buf_printf(b, "\\%c{%s}", p[1], names[i][1]);
            return true;
        }
    }
    return false;
}

static char *
translate_regex(const char *src)
{
    herald_buf b = HERALD_BUF_INIT;
    bool in_class = false;
    for (const char *p = src; *p; p++) {
        if (*p == '\\' && p[1]) {
            if (p[1] == 's' || p[1] == 'S') {
                if (in_class && p[1] == 's')
                    herald_buf_puts(&b, ECMA_SPACE);
                else if (in_class) /* [\S] inside a class: best effort */
                    herald_buf_puts(&b, "\\S");
                else
                    herald_buf_puts(&b, p[1] == 's' ? "[" ECMA_SPACE "]" : "[^" ECMA_SPACE "]");
            } else if ((p[1] == 'p' || p[1] == 'P') && p[2] == '{' && long_property(&b, p)) {
                p = strchr(p, '}');
                continue;
            } else {
                herald_buf_append(&b, p, 2);
            }
            p++;
            continue;
        }
        if (!in_class && *p == '[')
            in_class = true;
        else if (in_class && *p == ']')
            in_class = false;
        herald_buf_putc(&b, *p);
    }
    return herald_buf_steal(&b, NULL);
}

static pcre2_code *
compile_regex(struct comp *c, const char *src)
{
    char *t = translate_regex(src);
    int code;
    PCRE2_SIZE off;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
    pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
    pcre2_set_parens_nest_limit(cc, 250);
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)t, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX, &code, &off, cc);
    pcre2_compile_context_free(cc);
    free(t);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof(msg));
        fail(c, "'%s' is not a valid regular expression: %s", src, (const char *)msg);
    }
    return re;
}

static int
cmp_prop(const void *a, const void *b)
{
    const struct prop *x = a, *y = b;
    return herald_jsonschema__keycmp(x->key, x->keylen, y->key, y->keylen);
}

/* What the values of a keyword's object are. */
enum map_values {
    MAP_SCHEMAS, /* subschemas */
    MAP_NAMES,   /* arrays of property names */
    MAP_EITHER,  /* either, per key (Draft 7 dependencies) */
};

/* 'v' an object: fills k->props (sorted) and k->order (document order). */
static void
compile_map(struct comp *c, struct kw *k, const json_t *v, int resource, enum map_values mode)
{
    size_t n = json_object_size(v), i = 0;
    k->props = herald_mem_calloc(n ? n : 1, sizeof(*k->props));
    k->order = herald_mem_calloc(n ? n : 1, sizeof(*k->order));
    const char *key;
    size_t keylen;
    json_t *val;
    json_object_keylen_foreach((json_t *)v, key, keylen, val)
    {
        struct prop *p = &k->props[i++];
        p->key = key;
        p->keylen = keylen;
        p->child = -1;
        if (mode == MAP_SCHEMAS || (mode == MAP_EITHER && is_schema(val))) {
            if (!is_schema(val)) {
                fail(c, "%s/%s must be a schema", k->name, key);
                return;
            }
            p->child = node_for(c, val, resource);
        } else {
            if (!json_is_array(val)) {
                fail(c, "%s/%s must be an array", k->name, key);
                return;
            }
            for (size_t j = 0; j < json_array_size(val); j++)
                if (!json_is_string(json_array_get(val, j))) {
                    fail(c, "%s/%s must list strings", k->name, key);
                    return;
                }
            p->val = val;
        }
    }
    k->nprops = n;
    /* sort, keeping order[] mapping document rank -> sorted index */
    struct prop *doc = herald_mem_alloc((n ? n : 1) * sizeof(*doc));
    memcpy(doc, k->props, n * sizeof(*doc));
    qsort(k->props, n, sizeof(*k->props), cmp_prop);
    for (i = 0; i < n; i++) {
        struct prop *f = bsearch(&doc[i], k->props, n, sizeof(*k->props), cmp_prop);
        k->order[i] = (size_t)(f - k->props);
    }
    free(doc);
}

static int
schema_list(struct comp *c, struct kw *k, const json_t *v, int resource)
{
    if (!json_is_array(v) || (json_array_size(v) == 0 && k->kind != KW_PREFIXITEMS)) {
        fail(c, "%s must be a non-empty array of schemas", k->name);
        return -1;
    }
    k->nkids = json_array_size(v);
    k->kids = herald_mem_calloc(k->nkids ? k->nkids : 1, sizeof(*k->kids));
    for (size_t i = 0; i < k->nkids; i++) {
        if (!is_schema(json_array_get(v, i))) {
            fail(c, "%s/%zu must be a schema", k->name, i);
            return -1;
        }
        k->kids[i] = node_for(c, json_array_get(v, i), resource);
    }
    return 0;
}

static const char *const type_names[] = {"null",   "boolean", "object", "array",
                                         "number", "string",  "integer"};

static unsigned
type_bit(const json_t *v)
{
    if (!json_is_string(v))
        return 0;
    for (unsigned i = 0; i < 7; i++)
        if (!strcmp(json_string_value(v), type_names[i]))
            return 1u << i;
    return 0;
}

static int
find_kw(const struct node *n, enum kwkind kind)
{
    for (size_t i = 0; i < n->nkws; i++)
        if (n->kws[i].kind == kind)
            return (int)i;
    return -1;
}

/*
 * The keyword table: each keyword a node may hold, the dialects it exists in, and the
 * function that checks its value and appends its compiled form to the node. A keyword
 * absent from the table (or from the node's dialect) is an annotation: ignored.
 * Compile functions return 0, or -1 after fail(). They take the node by index: node_for()
 * may move the node array, so a struct node pointer is re-fetched after it (a struct kw
 * pointer stays valid: a node's keywords are their own allocation).
 */
struct kwdef;
typedef int kw_compile_fn(struct comp *c, int idx, const struct kwdef *d, const json_t *v);

enum { D7 = 1, D2020 = 2, ANY = D7 | D2020 };

struct kwdef {
    const char *name;
    enum kwkind kind; /* KW_NKINDS: checked only, nothing to evaluate */
    unsigned dialects;
    kw_compile_fn *compile;
    enum map_values map; /* compile_map's values, for the dependencies keywords */
};

static struct node *
node_at(struct comp *c, int idx)
{
    return &c->s->nodes[idx];
}

static struct kw *
add_def(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    return add_kw(node_at(c, idx), d->kind, d->name, v);
}

/* $ref and $dynamicRef: the target schema becomes the child. */
static int
c_ref(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!json_is_string(v)) {
        fail(c, "%s must be a string", d->name);
        return -1;
    }
    int r;
    const char *ref = json_string_value(v);
    const json_t *t = resolve_ref(c, ref, node_at(c, idx)->resource, &r);
    if (!t)
        return -1;
    int child = node_for(c, t, r);
    struct kw *k = add_def(c, idx, d, v);
    k->child = child;
    if (d->kind == KW_DYNREF) {
        /* dynamic only if the fragment is a plain name that the static target
         * declares as its $dynamicAnchor */
        const char *h = strchr(ref, '#');
        const json_t *da = json_is_object(t) ? json_object_get(t, "$dynamicAnchor") : NULL;
        if (h && h[1] && h[1] != '/' && json_is_string(da) && !strcmp(json_string_value(da), h + 1))
            k->name = json_string_value(da);
        else
            k->name = NULL;
    }
    return 0;
}

static int
c_type(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    unsigned mask = 0;
    if (json_is_string(v)) {
        mask = type_bit(v);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            unsigned b = type_bit(json_array_get(v, i));
            if (!b)
                mask = 0, i = json_array_size(v);
            else
                mask |= b;
        }
        if (json_array_size(v) == 0)
            mask = 0x80;
    }
    if (!mask) {
        fail(c, "type must be a type name or an array of them");
        return -1;
    }
    add_def(c, idx, d, v)->mask = mask & 0x7f;
    return 0;
}

static int
c_enum(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!json_is_array(v)) {
        fail(c, "enum must be an array");
        return -1;
    }
    add_def(c, idx, d, v);
    return 0;
}

static int
c_const(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    add_def(c, idx, d, v);
    return 0;
}

static int
c_multipleof(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!json_is_number(v) || !(json_number_value(v) > 0)) {
        fail(c, "multipleOf must be a number greater than 0");
        return -1;
    }
    add_def(c, idx, d, v);
    return 0;
}

/* maximum, minimum, exclusiveMaximum, exclusiveMinimum */
static int
c_bound(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!json_is_number(v)) {
        fail(c, "%s must be a number", d->name);
        return -1;
    }
    add_def(c, idx, d, v);
    return 0;
}

/* maxLength, minLength, maxItems, minItems, maxProperties, minProperties */
static int
c_size(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    long long num;
    if (!nonneg_int(v, &num)) {
        fail(c, "%s must be a non-negative integer", d->name);
        return -1;
    }
    add_def(c, idx, d, v)->n = num;
    return 0;
}

static int
c_pattern(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!json_is_string(v)) {
        fail(c, "pattern must be a string");
        return -1;
    }
    pcre2_code *re = compile_regex(c, json_string_value(v));
    if (!re)
        return -1;
    add_def(c, idx, d, v)->re = re;
    return 0;
}

static int
c_unique(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!json_is_boolean(v)) {
        fail(c, "uniqueItems must be a boolean");
        return -1;
    }
    if (json_is_true(v))
        add_def(c, idx, d, v);
    return 0;
}

static int
c_required(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    bool ok = json_is_array(v);
    for (size_t i = 0; ok && i < json_array_size(v); i++)
        ok = json_is_string(json_array_get(v, i));
    if (!ok) {
        fail(c, "required must be an array of strings");
        return -1;
    }
    add_def(c, idx, d, v);
    return 0;
}

/* dependentRequired, dependentSchemas, Draft 7 dependencies */
static int
c_deps(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!json_is_object(v)) {
        fail(c, "%s must be an object", d->name);
        return -1;
    }
    compile_map(c, add_def(c, idx, d, v), v, node_at(c, idx)->resource, d->map);
    return 0;
}

/* allOf, anyOf, oneOf, prefixItems */
static int
c_list(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    return schema_list(c, add_def(c, idx, d, v), v, node_at(c, idx)->resource);
}

/* not, propertyNames, additionalProperties, unevaluatedItems, unevaluatedProperties */
static int
c_child(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!is_schema(v)) {
        fail(c, "%s must be a schema", d->name);
        return -1;
    }
    bool uneval = d->kind == KW_UNEVALITEMS || d->kind == KW_UNEVALPROPS;
    if (uneval && node_at(c, idx)->draft7)
        return 0; /* checked, not a Draft 7 keyword */
    int child = node_for(c, v, node_at(c, idx)->resource);
    add_def(c, idx, d, v)->child = child;
    if (uneval)
        node_at(c, idx)->ann = true;
    return 0;
}

/* if, with its siblings then and else */
static int
c_if(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!is_schema(v)) {
        fail(c, "if must be a schema");
        return -1;
    }
    const json_t *j = node_at(c, idx)->json;
    const json_t *t = json_object_get(j, "then"), *e = json_object_get(j, "else");
    int res = node_at(c, idx)->resource;
    int ci = node_for(c, v, res);
    int ct = is_schema(t) ? node_for(c, t, res) : -1;
    int ce = is_schema(e) ? node_for(c, e, res) : -1;
    struct kw *k = add_def(c, idx, d, v);
    k->child = ci;
    k->child2 = ct;
    k->child3 = ce;
    return 0;
}

/* Draft 7's array-form items (prefixItems by another name), then its sibling
 * additionalItems as items from that index on. */
static int
c_items_array(struct comp *c, int idx, const json_t *v)
{
    int res = node_at(c, idx)->resource;
    if (schema_list(c, add_kw(node_at(c, idx), KW_PREFIXITEMS, "items", v), v, res) < 0)
        return -1;
    const json_t *ai = json_object_get(node_at(c, idx)->json, "additionalItems");
    if (is_schema(ai)) {
        int child = node_for(c, ai, res);
        struct kw *k = add_kw(node_at(c, idx), KW_ITEMS, "additionalItems", ai);
        k->child = child;
        k->n = (long long)json_array_size(v);
    }
    return 0;
}

/* items: from index 0, or after 2020-12's sibling prefixItems */
static int
c_items(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    bool d7 = node_at(c, idx)->draft7;
    if (d7 && json_is_array(v))
        return c_items_array(c, idx, v);
    if (!is_schema(v)) {
        fail(c, "items must be a schema");
        return -1;
    }
    int child = node_for(c, v, node_at(c, idx)->resource);
    const json_t *pi = d7 ? NULL : json_object_get(node_at(c, idx)->json, "prefixItems");
    struct kw *k = add_def(c, idx, d, v);
    k->child = child;
    k->n = json_is_array(pi) ? (long long)json_array_size(pi) : 0;
    return 0;
}

/* contains, with 2020-12's siblings minContains and maxContains */
static int
c_contains(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!is_schema(v)) {
        fail(c, "contains must be a schema");
        return -1;
    }
    int child = node_for(c, v, node_at(c, idx)->resource);
    long long mn = 1, mx = -1;
    if (!node_at(c, idx)->draft7) {
        const json_t *j = node_at(c, idx)->json;
        const json_t *a = json_object_get(j, "minContains");
        const json_t *b = json_object_get(j, "maxContains");
        if (a && !nonneg_int(a, &mn)) {
            fail(c, "minContains must be a non-negative integer");
            return -1;
        }
        if (b && !nonneg_int(b, &mx)) {
            fail(c, "maxContains must be a non-negative integer");
            return -1;
        }
    }
    struct kw *k = add_def(c, idx, d, v);
    k->child = child;
    k->n = mn;
    k->n2 = mx;
    return 0;
}

static int
c_properties(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!json_is_object(v)) {
        fail(c, "properties must be an object");
        return -1;
    }
    compile_map(c, add_def(c, idx, d, v), v, node_at(c, idx)->resource, MAP_SCHEMAS);
    return 0;
}

static int
c_patternprops(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    if (!json_is_object(v)) {
        fail(c, "patternProperties must be an object");
        return -1;
    }
    int res = node_at(c, idx)->resource;
    struct kw *k = add_def(c, idx, d, v);
    size_t np = json_object_size(v);
    k->pats = herald_mem_calloc(np ? np : 1, sizeof(*k->pats));
    const char *pk;
    json_t *pv;
    json_object_foreach((json_t *)v, pk, pv)
    {
        if (!is_schema(pv)) {
            fail(c, "patternProperties/%s must be a schema", pk);
            return -1;
        }
        struct pat *p = &k->pats[k->npats];
        p->src = pk;
        p->re = compile_regex(c, pk);
        if (!p->re)
            return -1;
        p->child = node_for(c, pv, res);
        k->npats++;
    }
    return 0;
}

/* $defs, definitions: nothing to evaluate, but each must be a schema */
static int
c_defs(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    (void)idx;
    if (!json_is_object(v)) {
        fail(c, "%s must be an object", d->name);
        return -1;
    }
    const char *dk;
    json_t *dv;
    json_object_foreach((json_t *)v, dk, dv)
    {
        if (!is_schema(dv)) {
            fail(c, "%s/%s must be a schema", d->name, dk);
            return -1;
        }
    }
    return 0;
}

/* $schema: the document's own is read by herald_jsonschema_compile; a root schema
 * reached again (the same document) must still have a string. */
static int
c_schema(struct comp *c, int idx, const struct kwdef *d, const json_t *v)
{
    (void)d;
    if (node_at(c, idx)->resource == 0 && node_at(c, idx)->json == c->s->doc &&
        !json_is_string(v)) {
        fail(c, "$schema must be a string");
        return -1;
    }
    return 0;
}

static const struct kwdef kwdefs[] = {
    {"$ref", KW_REF, ANY, c_ref, 0},
    {"$dynamicRef", KW_DYNREF, D2020, c_ref, 0},
    {"type", KW_TYPE, ANY, c_type, 0},
    {"enum", KW_ENUM, ANY, c_enum, 0},
    {"const", KW_CONST, ANY, c_const, 0},
    {"multipleOf", KW_MULTIPLEOF, ANY, c_multipleof, 0},
    {"maximum", KW_MAXIMUM, ANY, c_bound, 0},
    {"minimum", KW_MINIMUM, ANY, c_bound, 0},
    {"exclusiveMaximum", KW_EXMAXIMUM, ANY, c_bound, 0},
    {"exclusiveMinimum", KW_EXMINIMUM, ANY, c_bound, 0},
    {"maxLength", KW_MAXLENGTH, ANY, c_size, 0},
    {"minLength", KW_MINLENGTH, ANY, c_size, 0},
    {"maxItems", KW_MAXITEMS, ANY, c_size, 0},
    {"minItems", KW_MINITEMS, ANY, c_size, 0},
    {"maxProperties", KW_MAXPROPS, ANY, c_size, 0},
    {"minProperties", KW_MINPROPS, ANY, c_size, 0},
    {"pattern", KW_PATTERN, ANY, c_pattern, 0},
    {"uniqueItems", KW_UNIQUEITEMS, ANY, c_unique, 0},
    {"required", KW_REQUIRED, ANY, c_required, 0},
    {"dependentRequired", KW_DEPREQUIRED, D2020, c_deps, MAP_NAMES},
    {"dependentSchemas", KW_DEPSCHEMAS, D2020, c_deps, MAP_SCHEMAS},
    {"dependencies", KW_DEPSCHEMAS, D7, c_deps, MAP_EITHER},
    {"allOf", KW_ALLOF, ANY, c_list, 0},
    {"anyOf", KW_ANYOF, ANY, c_list, 0},
    {"oneOf", KW_ONEOF, ANY, c_list, 0},
    {"not", KW_NOT, ANY, c_child, 0},
    {"propertyNames", KW_PROPNAMES, ANY, c_child, 0},
    {"unevaluatedItems", KW_UNEVALITEMS, ANY, c_child, 0},
    {"unevaluatedProperties", KW_UNEVALPROPS, ANY, c_child, 0},
    {"additionalProperties", KW_ADDPROPS, ANY, c_child, 0},
    {"if", KW_IF, ANY, c_if, 0},
    {"prefixItems", KW_PREFIXITEMS, D2020, c_list, 0},
    {"items", KW_ITEMS, ANY, c_items, 0},
    {"contains", KW_CONTAINS, ANY, c_contains, 0},
    {"properties", KW_PROPERTIES, ANY, c_properties, 0},
    {"patternProperties", KW_PATTERNPROPS, ANY, c_patternprops, 0},
    {"$defs", KW_NKINDS, ANY, c_defs, 0},
    {"definitions", KW_NKINDS, ANY, c_defs, 0},
    {"$schema", KW_NKINDS, ANY, c_schema, 0},
};

static const struct kwdef *
find_kwdef(const char *key, bool d7)
{
    unsigned dialect = d7 ? D7 : D2020;
    for (size_t i = 0; i < sizeof(kwdefs) / sizeof(kwdefs[0]); i++)
        if ((kwdefs[i].dialects & dialect) && !strcmp(kwdefs[i].name, key))
            return &kwdefs[i];
    return NULL;
}

/* Node 'idx': its keywords compiled in document order. */
static void
compile_node(struct comp *c, int idx)
{
    const json_t *j = node_at(c, idx)->json;
    bool d7 = node_at(c, idx)->draft7;
    /* Draft 7: "$ref" overrides its siblings (python-jsonschema ignores them). */
    bool ref_only = d7 && json_object_get(j, "$ref");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        if (c->failed)
            return;
        if (ref_only && strcmp(key, "$ref"))
            continue;
        const struct kwdef *d = find_kwdef(key, d7);
        if (d && d->compile(c, idx, d, v) < 0)
            return;
    }
    /* additionalProperties needs its siblings, found once here */
    struct node *n = node_at(c, idx);
    for (size_t i = 0; i < n->nkws; i++) {
        if (n->kws[i].kind == KW_ADDPROPS) {
            n->kws[i].props_kw = find_kw(n, KW_PROPERTIES);
            n->kws[i].pats_kw = find_kw(n, KW_PATTERNPROPS);
        }
    }
}

static void
free_node(struct node *n)
{
    for (size_t i = 0; i < n->nkws; i++) {
        struct kw *k = &n->kws[i];
        pcre2_code_free(k->re);
        free(k->kids);
        free(k->props);
        free(k->order);
        for (size_t p = 0; p < k->npats; p++)
            pcre2_code_free(k->pats[p].re);
        free(k->pats);
    }
    free(n->kws);
}

void
herald_jsonschema_free(herald_jsonschema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nnodes; i++)
        free_node(&s->nodes[i]);
    free(s->nodes);
    for (size_t i = 0; i < s->nres; i++) {
        free(s->res[i].uri);
        for (size_t d = 0; d < s->res[i].ndyn; d++)
            free(s->res[i].dyn[d].name);
        free(s->res[i].dyn);
    }
    free(s->res);
    pcre2_match_context_free(s->mctx);
    json_decref(s->meta);
    json_decref(s->doc);
    free(s);
}

static bool
same_uri(const char *u, size_t ul, const char *want)
{
    return ul == strlen(want) && !strncmp(u, want, ul);
}

/* The dialect: 'dialect' unless the document's "$schema" names one; -1 after fail(). */
static int
set_dialect(struct comp *c, const json_t *schema, enum herald_jsonschema_dialect dialect)
{
    herald_jsonschema *s = c->s;
    s->dialect = dialect == HERALD_JSONSCHEMA_DRAFT7 ? HERALD_JSONSCHEMA_DRAFT7
                                                     : HERALD_JSONSCHEMA_DRAFT2020_12;
    const json_t *ms = json_is_object(schema) ? json_object_get(schema, "$schema") : NULL;
    if (!ms)
        return 0;
    const char *u = json_string_value(ms);
    if (!u) {
        fail(c, "$schema must be a string");
        return -1;
    }
    size_t ul = strlen(u);
    if (ul && u[ul - 1] == '#')
        ul--;
    if (same_uri(u, ul, "http://json-schema.org/draft-07/schema") ||
        same_uri(u, ul, "https://json-schema.org/draft-07/schema")) {
        s->dialect = HERALD_JSONSCHEMA_DRAFT7;
    } else if (same_uri(u, ul, "https://json-schema.org/draft/2020-12/schema")) {
        s->dialect = HERALD_JSONSCHEMA_DRAFT2020_12;
    } else {
        fail(c, "$schema '%s' is not supported (Draft 7 and 2020-12 are)", u);
        return -1;
    }
    return 0;
}

/* Compiles the queued nodes (and those they queue), each in its own dialect. */
static void
compile_pending(struct comp *c)
{
    while (c->nwork && !c->failed) {
        int idx = c->work[--c->nwork];
        c->draft7 = c->s->nodes[idx].draft7;
        compile_node(c, idx);
    }
}

/* Each resource's $dynamicAnchors -> their nodes; an anchor no reference reached
 * statically gets its node (and subschemas) compiled now. */
static void
bind_dynamic_anchors(struct comp *c)
{
    herald_jsonschema *s = c->s;
    for (size_t r = 0; r < s->nres; r++) {
        for (size_t d = 0; d < s->res[r].ndyn; d++) {
            const json_t *t = find_anchor(c, s->res[r].uri, s->res[r].dyn[d].name);
            struct slot *sl = t ? tab_find(c, t) : NULL;
            if (sl && sl->node >= 0)
                s->res[r].dyn[d].node = sl->node;
        }
    }
    for (size_t r = 0; r < s->nres && !c->failed; r++) {
        for (size_t d = 0; d < s->res[r].ndyn; d++) {
            if (s->res[r].dyn[d].node >= 0)
                continue;
            const json_t *t = find_anchor(c, s->res[r].uri, s->res[r].dyn[d].name);
            if (t) {
                int node = node_for(c, t, (int)r); /* may move s->res */
                s->res[r].dyn[d].node = node;
            }
            compile_pending(c);
        }
    }
}

int
herald_jsonschema_compile(herald_jsonschema **out, const json_t *schema,
                          enum herald_jsonschema_dialect dialect, char *err, size_t errlen)
{
    struct comp c;
    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    *out = NULL;
    herald_jsonschema *s = herald_mem_calloc(1, sizeof(*s));
    c.s = s;
    s->doc = json_incref((json_t *)schema);
    if (!is_schema(schema)) {
        fail(&c, "a schema must be an object or a boolean");
        goto err;
    }
    if (set_dialect(&c, schema, dialect) < 0)
        goto err;
    c.draft7 = s->dialect == HERALD_JSONSCHEMA_DRAFT7;
    s->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(s->mctx, JS_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, JS_DEPTH_LIMIT);
    add_resource(&c, DEFAULT_BASE, schema);
    scan(&c, schema, 0, 0);
    if (c.failed)
        goto err;
    if (node_for(&c, schema, 0) != 0)
        goto err;
    compile_pending(&c);
    if (c.failed)
        goto err;
    bind_dynamic_anchors(&c);
    if (c.failed)
        goto err;
    *out = s;
    s = NULL;
err:
    herald_jsonschema_free(s);
    free(c.tab);
    for (size_t i = 0; i < c.nanchors; i++)
        free(c.anchors[i].uri);
    free(c.anchors);
    free(c.work);
    return *out ? 0 : -1;
}

enum herald_jsonschema_dialect
herald_jsonschema_dialect(const herald_jsonschema *s)
{
    return s->dialect;
}

int
herald_jsonschema_check(const json_t *schema, char *err, size_t errlen)
{
    static const char draft7_uri[] = "http://json-schema.org/draft-07/schema";
    const char *text = NULL;
    for (const struct herald_jsonschema__meta *m = herald_jsonschema__metas; m->uri; m++)
        if (!strcmp(m->uri, draft7_uri))
            text = m->text;
    json_t *meta = text ? json_loads(text, 0, NULL) : NULL;
    herald_jsonschema *ms = NULL, *s = NULL;
    herald_jsonschema_errors errs = HERALD_JSONSCHEMA_ERRORS_INIT;
    int rc = -1;
    if (!meta || herald_jsonschema_compile(&ms, meta, HERALD_JSONSCHEMA_DRAFT7, err, errlen) < 0)
        goto out;
    if (herald_jsonschema_validate(ms, schema, &errs, 1) < 0) {
        /* Kinto's message: e.path.pop() + e.message, the last path element glued to
         * the description (no path: the description alone) */
        if (err && errlen && errs.n)
            snprintf(err, errlen, "%s%s", errs.v[0].path[0] ? errs.v[0].field : "",
                     errs.v[0].description);
        goto out;
    }
    if (herald_jsonschema_compile(&s, schema, HERALD_JSONSCHEMA_DEFAULT, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    herald_jsonschema_errors_free(&errs);
    herald_jsonschema_free(ms);
    herald_jsonschema_free(s);
    json_decref(meta);
    return rc;
}
