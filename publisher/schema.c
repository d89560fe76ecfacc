/*
 * schema -- see schema.h. The cache is a small array scanned linearly: it holds the
 * schemas of the collections being edited (tens), a scan compares 64-bit hashes first,
 * and it costs far less than one validation. An entry also remembers that a version
 * has no schema, so a collection without one costs a lookup and no parse.
 */
#include "schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/jsonschema.h"
#include "herald/kerror.h"
#include "herald/mem.h"
#include "reply.h"
#include "stamp.h"

/* The data fields Kinto removes before validating (besides "id"). */
static const char *const RECORD_IGNORED[] = {"last_modified", "schema", NULL};
static const char *const OBJECT_IGNORED[] = {"last_modified", NULL};

struct entry {
    uint64_t hash; /* of key; 0 for a free slot */
    char *key;     /* "attr\nbucket\ncollection" */
    long long version;
    unsigned long long used;
    int present;   /* the attribute exists in that version */
    int ignore_id; /* "id" is removed from the data (not in the schema's properties) */
    const char *const *ignored;
    json_t *schema; /* as compiled: `required` without the ignored fields */
    herald_jsonschema *compiled;
    char *error; /* why it does not compile (present, compiled NULL) */
};

struct pub_schema {
    int enabled;
    size_t n;
    struct entry *v;
    unsigned long long tick;
};

pub_schema *
pub_schema_new(const pub_schema_opts *o)
{
    pub_schema_opts def = PUB_SCHEMA_OPTS_DEFAULT;
    if (!o)
        o = &def;
    pub_schema *s = herald_mem_calloc(1, sizeof(*s));
    s->enabled = o->enabled;
    s->n = o->cache_size > 0 ? (size_t)o->cache_size : 1;
    s->v = herald_mem_calloc(s->n, sizeof(*s->v));
    return s;
}

static void
entry_clear(struct entry *e)
{
    free(e->key);
    json_decref(e->schema);
    herald_jsonschema_free(e->compiled);
    free(e->error);
    memset(e, 0, sizeof(*e));
}

void
pub_schema_free(pub_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        entry_clear(&s->v[i]);
    free(s->v);
    free(s);
}

int
pub_schema_enabled(const pub_schema *s)
{
    return s && s->enabled;
}

size_t
pub_schema_cached(const pub_schema *s)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->n; i++)
        n += s->v[i].compiled != NULL;
    return n;
}

/* ---- replies ---- */

static void reply_invalid(pub_resp *r, json_t *name, const char *description);

/* The attributes a resource may hold. */
static const char *const *
attrs_of(enum pub_res res)
{
    static const char *const bucket[] = {"record:schema", "collection:schema", "group:schema",
                                         NULL};
    static const char *const collection[] = {"schema", NULL};
    static const char *const none[] = {NULL};
    return res == PUB_RES_BUCKET ? bucket : res == PUB_RES_COLLECTION ? collection : none;
}

int
pub_schema_check_attrs(pub_resp *r, enum pub_res res, const json_t *data)
{
    const char *const *attrs = attrs_of(res);
    char err[512], name[64];
    for (int i = 0; attrs[i]; i++) {
        const json_t *v = json_object_get(data, attrs[i]);
        if (!v)
            continue;
        snprintf(name, sizeof(name), "data.%s", attrs[i]);
        if (!json_is_object(v)) {
            /* colander's Mapping, which Kinto's JSONSchemaMapping is. */
            char *text = json_is_string(v) ? herald_mem_strdup(json_string_value(v))
                                           : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf(err, sizeof(err),
                     "\"%.200s\" is not a mapping type: Does not implement dict-like "
                     "functionality.",
                     text ? text : "?");
            free(text);
            reply_invalid(r, json_string(name), err);
            return -1;
        }
        /* Kinto skips the check of an empty mapping: it removes validation. */
        if (json_object_size(v) == 0)
            continue;
        if (herald_jsonschema_check(v, err, sizeof(err)) != 0) {
            reply_invalid(r, json_string(name), err);
            return -1;
        }
    }
    return 0;
}

/* Kinto's raise_invalid(name=..., description=...): the message is the description
 * when it contains the name, else "<name> in body: <description>". 'name' is stolen. */
static void
reply_invalid(pub_resp *r, json_t *name, const char *description)
{
    herald_buf msg = HERALD_BUF_INIT;
    char num[32];
    const char *ns = json_string_value(name);
    if (json_is_integer(name)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(name));
        ns = num;
    }
    if (!ns)
        ns = "";
    if (strstr(description, ns))
        herald_buf_puts(&msg, description);
    else
        herald_buf_printf(&msg, "%s in body: %s", ns, description);
    json_t *desc = json_string(description);
    json_t *m = json_string(herald_buf_cstr(&msg));
    /* Kinto's json_error_handler says "Invalid parameters" where its generic 400 says
     * "Bad Request" (reply.h), so this body is built here. */
    json_t *err =
        json_pack("{s:i,s:i,s:s,s:o,s:[{s:s,s:o,s:o}]}", "code", 400, "errno",
                  HERALD_ERRNO_INVALID_PARAMETERS, "error", "Invalid parameters", "message",
                  m ? m : json_string("invalid"), "details", "location", "body", "name",
                  name ? name : json_null(), "description", desc ? desc : json_string("invalid"));
    herald_buf out = HERALD_BUF_INIT;
    char *text = err ? json_dumps(err, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (text) {
        herald_buf_puts(&out, text);
        pub_reply_json(r, 400, &out, 0);
    } else {
        pub_reply_internal(r);
    }
    free(text);
    json_decref(err);
    herald_buf_free(&out);
    herald_buf_free(&msg);
}

/* The value at JSON Pointer 'ptr' (its first 'len' bytes) in 'doc', or NULL. */
static const json_t *
pointer_get(const json_t *doc, const char *ptr, size_t len)
{
    size_t i = 0;
    char tok[256];
    while (doc && i < len) {
        if (ptr[i] != '/')
            return NULL;
        i++;
        size_t t = 0;
        while (i < len && ptr[i] != '/' && t + 1 < sizeof(tok)) {
            if (ptr[i] == '~' && i + 1 < len) {
                tok[t++] = ptr[i + 1] == '1' ? '/' : '~';
                i += 2;
            } else {
                tok[t++] = ptr[i++];
            }
        }
        tok[t] = '\0';
        if (json_is_object(doc))
            doc = json_object_get(doc, tok);
        else if (json_is_array(doc))
            doc = json_array_get(doc, strtoul(tok, NULL, 10));
        else
            return NULL;
    }
    return doc;
}

/* The name Kinto reports: python-jsonschema's path element is an int for an array
 * index, so the JSON has a number there. */
static json_t *
error_name(const herald_jsonschema_error *e, const json_t *inst)
{
    const char *slash = e->path ? strrchr(e->path, '/') : NULL;
    if (slash && json_is_array(pointer_get(inst, e->path, (size_t)(slash - e->path))))
        return json_integer(strtoll(e->field, NULL, 10));
    json_t *n = json_string(e->field ? e->field : "");
    return n ? n : json_string("schema");
}

/* ---- the cache ---- */

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

static int
is_ignored(const struct entry *e, const char *field)
{
    if (e->ignore_id && strcmp(field, "id") == 0)
        return 1;
    for (int i = 0; e->ignored[i]; i++)
        if (strcmp(field, e->ignored[i]) == 0)
            return 1;
    return 0;
}

/* Fills 'e' from the attribute 'attr' of the stored object 'json': Kinto's
 * validate_schema, which drops the ignored fields from the schema's `required`. */
static void
entry_build(struct entry *e, const char *attr, const char *json, size_t len)
{
    char err[512];
    json_t *obj = pub_stamp_parse(json, len);
    json_t *schema = json_object_get(obj, attr);
    e->present = schema != NULL;
    if (!schema)
        goto done;
    if (!json_is_object(schema)) {
        /* Stored before the attributes were checked. */
        e->error = herald_mem_strdup("the schema is not an object");
        goto done;
    }
    json_t *props = json_object_get(schema, "properties");
    e->ignore_id = !(json_is_object(props) && json_object_get(props, "id"));
    e->schema = json_copy(schema);
    json_t *req = json_object_get(schema, "required");
    if (json_is_array(req)) {
        json_t *kept = json_array();
        size_t i;
        json_t *f;
        json_array_foreach(req, i, f)
        {
            if (!json_is_string(f) || !is_ignored(e, json_string_value(f)))
                json_array_append(kept, f);
        }
        if (json_array_size(kept))
            json_object_set(e->schema, "required", kept);
        else
            json_object_del(e->schema, "required");
        json_decref(kept);
    }
    if (herald_jsonschema_compile(&e->compiled, e->schema, HERALD_JSONSCHEMA_DEFAULT, err,
                                  sizeof(err)) != 0)
        e->error = herald_mem_strdup(err);
done:
    json_decref(obj);
}

/* The cache entry for 'attr' of the object 'json' (version its last_modified),
 * built on a miss. */
static const struct entry *
lookup(pub_schema *s, const char *attr, const char *bucket, const char *collection,
       const char *json, size_t len, int record)
{
    herald_buf key = HERALD_BUF_INIT;
    herald_buf_printf(&key, "%s\n%s\n%s", attr, bucket, collection ? collection : "");
    const char *k = herald_buf_cstr(&key);
    uint64_t h = fnv1a(k);
    long long version = pub_stamp_last_modified(json, len);
    struct entry *same = NULL, *victim = &s->v[0];
    for (size_t i = 0; i < s->n; i++) {
        struct entry *e = &s->v[i];
        if (e->hash == h && strcmp(e->key, k) == 0) {
            same = e;
            break;
        }
        if (!e->hash || (victim->hash && e->used < victim->used))
            victim = e;
    }
    struct entry *e = same ? same : victim;
    if (!same || e->version != version) {
        /* A new version replaces the old one's entry; else the least recently used. */
        entry_clear(e);
        e->hash = h;
        e->key = herald_buf_steal(&key, NULL);
        e->version = version;
        e->ignored = record ? RECORD_IGNORED : OBJECT_IGNORED;
        entry_build(e, attr, json, len);
    }
    e->used = ++s->tick;
    herald_buf_free(&key);
    return e;
}

/* Validates 'data' against entry 'e' (present). Returns 0, or -1 after replying. */
static int
validate_one(pub_resp *r, const struct entry *e, const json_t *data)
{
    if (!e->compiled) {
        /* Kinto answers a RefResolutionError at validation time this way. */
        reply_invalid(r, json_string("schema"), e->error ? e->error : "invalid schema");
        return -1;
    }
    json_t *inst = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)data, k, v)
    {
        if (!is_ignored(e, k))
            json_object_set(inst, k, v);
    }
    herald_jsonschema_errors errs = HERALD_JSONSCHEMA_ERRORS_INIT;
    int rc = herald_jsonschema_validate(e->compiled, inst, &errs, 1);
    if (rc != 0) {
        const herald_jsonschema_error *first = errs.n ? &errs.v[0] : NULL;
        if (first)
            reply_invalid(r, error_name(first, inst),
                          first->description ? first->description : "invalid");
        else
            reply_invalid(r, json_string("schema"), "invalid");
    }
    herald_jsonschema_errors_free(&errs);
    json_decref(inst);
    return rc == 0 ? 0 : -1;
}

int
pub_schema_validate(pub_schema *s, pub_resp *r, enum pub_res res, const pub_schema_parents *parents,
                    json_t *data)
{
    const char *battr = res == PUB_RES_RECORD       ? "record:schema"
                        : res == PUB_RES_COLLECTION ? "collection:schema"
                        : res == PUB_RES_GROUP      ? "group:schema"
                                                    : NULL;
    if (!pub_schema_enabled(s) || !battr || !parents->bucket_json)
        return 0;
    int record = res == PUB_RES_RECORD;
    if (record && parents->collection_json) {
        /* The collection's schema first, as Kinto does. */
        const struct entry *e = lookup(s, "schema", parents->bucket_id, parents->collection_id,
                                       parents->collection_json, parents->collection_len, 1);
        if (e->present) {
            if (validate_one(r, e, data) != 0)
                return -1;
            json_object_set_new(data, "schema", json_integer(e->version));
        }
    }
    const struct entry *b = lookup(s, battr, parents->bucket_id, NULL, parents->bucket_json,
                                   parents->bucket_len, record);
    if (b->present && validate_one(r, b, data) != 0)
        return -1;
    return 0;
}
