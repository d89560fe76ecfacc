/*
 * jsonschema_eval -- validation of an instance against a compiled schema
 * (lib/jsonschema_int.h), with python-jsonschema's error messages.
 *
 * eval() walks a node's keywords in document order. A failing keyword reports its own
 * error unless the walk is "quiet" (inside anyOf, oneOf, not, if, contains, the
 * subschema of unevaluated* / additionalProperties-as-schema in python-jsonschema's
 * wording), so the first error recorded is the first python-jsonschema yields; once
 * the caller has as many errors as it asked for, or in quiet mode, the walk stops at
 * the first failure.
 *
 * Annotations for unevaluatedProperties / unevaluatedItems (2020-12): a node carrying
 * one of them evaluates its other keywords with a `struct ann`, one mark per member of
 * the instance object (indexed through a sorted key index built once per object) and
 * per array item. In-place applicators ($ref, allOf, anyOf, oneOf, if/then/else,
 * dependentSchemas) give each subschema a fresh ann and merge it only if the
 * subschema succeeded; anyOf then evaluates every branch. Without unevaluated*
 * nothing is allocated for annotations.
 *
 * Bounds: recursion depth (JS_MAX_DEPTH), a step budget (JS_MAX_STEPS keyword
 * evaluations and value comparisons) and PCRE2's match and depth limits. Exceeding
 * one aborts the whole validation as invalid ("aborted" short-circuits every
 * applicator, so a `not` cannot turn an abort into success).
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema_int.h"

#define MAX_DESCRIPTION 8192

struct seg {
    const char *key; /* NULL: an array index */
    size_t len, idx;
};

struct okey {
    const char *k;
    size_t len;
};

struct objidx {
    size_t n;
    struct okey *keys;
};

struct ann {
    const struct objidx *oi; /* for objects */
    unsigned char *props;
    size_t nprops;
    unsigned char *items;
    size_t nitems;
};

struct ctx {
    const herald_jsonschema *s;
    pcre2_match_data *md;
    herald_jsonschema_errors *errs;
    size_t max;
    int quiet;
    int depth;
    long steps;
    bool aborted;
    const char *abort_why;
    int *dyn;
    size_t ndyn, dyncap;
    struct seg *path;
    size_t npath, pathcap;
};

static bool eval(struct ctx *c, int node, const json_t *inst, struct ann *ann);

/* ---- values ---------------------------------------------------------------------------- */

/* Exact comparison of two JSON numbers (int64 or double). */
int
herald_jsonschema__cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        long long x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    if (json_is_real(a) && json_is_real(b)) {
        double x = json_real_value(a), y = json_real_value(b);
        return (x > y) - (x < y);
    }
    int sign = 1;
    if (json_is_real(a)) {
        const json_t *t = a;
        a = b;
        b = t;
        sign = -1;
    }
    long long i = json_integer_value(a);
    double d = json_real_value(b);
    int r;
    if (d >= 9223372036854775808.0)
        r = -1;
    else if (d < -9223372036854775808.0)
        r = 1;
    else {
        double f = floor(d);
        long long fi = (long long)f;
        if (i < fi)
            r = -1;
        else if (i > fi)
            r = 1;
        else
            r = d > f ? -1 : 0;
    }
    return r * sign;
}

bool
herald_jsonschema__equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return herald_jsonschema__cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!herald_jsonschema__equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach((json_t *)a, k, kl, v)
        {
            const json_t *w = json_object_getn(b, k, kl);
            if (!w || !herald_jsonschema__equal(v, w))
                return false;
        }
        return true;
    }
    default:
        return true;
    }
}

static void
repr_string(herald_buf *b, const char *s, size_t n)
{
    char q = (memchr(s, '\'', n) && !memchr(s, '"', n)) ? '"' : '\'';
    herald_buf_putc(b, q);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == (unsigned char)q || ch == '\\') {
            herald_buf_putc(b, '\\');
            herald_buf_putc(b, (char)ch);
        } else if (ch == '\n') {
            herald_buf_puts(b, "\\n");
        } else if (ch == '\r') {
            herald_buf_puts(b, "\\r");
        } else if (ch == '\t') {
            herald_buf_puts(b, "\\t");
        } else if (ch < 0x20 || ch == 0x7f) {
            herald_buf_printf(b, "\\x%02x", ch);
        } else {
            herald_buf_putc(b, (char)ch);
        }
    }
    herald_buf_putc(b, q);
}

/* Python's repr() of a float. */
static void
repr_double(herald_buf *b, double d)
{
    if (d == 0) {
        herald_buf_puts(b, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    char s[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(s, sizeof(s), "%.*e", p - 1, d);
        if (strtod(s, NULL) == d)
            break;
    }
    /* s = [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    bool neg = s[0] == '-';
    const char *p = s + neg;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    int e = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (neg)
        herald_buf_putc(b, '-');
    if (e >= -5 && e < 16) {
        if (e < 0) {
            herald_buf_puts(b, "0.");
            for (int i = -1; i > e; i--)
                herald_buf_putc(b, '0');
            herald_buf_append(b, digits, nd);
        } else {
            for (int i = 0; i <= e; i++)
                herald_buf_putc(b, (size_t)i < nd ? digits[i] : '0');
            herald_buf_putc(b, '.');
            if ((size_t)e + 1 < nd)
                herald_buf_append(b, digits + e + 1, nd - (size_t)e - 1);
            else
                herald_buf_putc(b, '0');
        }
    } else {
        herald_buf_putc(b, digits[0]);
        if (nd > 1) {
            herald_buf_putc(b, '.');
            herald_buf_append(b, digits + 1, nd - 1);
        }
        herald_buf_printf(b, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
}

/* Python's repr() of the value json.loads would give. */
void
herald_jsonschema__repr(herald_buf *b, const json_t *v)
{
    if (b->len > MAX_DESCRIPTION)
        return;
    switch (json_typeof(v)) {
    case JSON_NULL:
        herald_buf_puts(b, "None");
        break;
    case JSON_TRUE:
        herald_buf_puts(b, "True");
        break;
    case JSON_FALSE:
        herald_buf_puts(b, "False");
        break;
    case JSON_INTEGER:
        herald_buf_put_i64(b, json_integer_value(v));
        break;
    case JSON_REAL:
        repr_double(b, json_real_value(v));
        break;
    case JSON_STRING:
        repr_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_ARRAY:
        herald_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                herald_buf_puts(b, ", ");
            herald_jsonschema__repr(b, json_array_get(v, i));
        }
        herald_buf_putc(b, ']');
        break;
    case JSON_OBJECT: {
        herald_buf_putc(b, '{');
        const char *k;
        size_t kl;
        json_t *m;
        bool first = true;
        json_object_keylen_foreach((json_t *)v, k, kl, m)
        {
            if (!first)
                herald_buf_puts(b, ", ");
            first = false;
            repr_string(b, k, kl);
            herald_buf_puts(b, ": ");
            herald_jsonschema__repr(b, m);
        }
        herald_buf_putc(b, '}');
        break;
    }
    }
}

static size_t
utf8_length(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xc0) != 0x80;
    return k;
}

static bool
is_integral(const json_t *v)
{
    return json_is_integer(v) || (json_is_real(v) && isfinite(json_real_value(v)) &&
                                  floor(json_real_value(v)) == json_real_value(v));
}

static bool
has_type(const json_t *v, unsigned mask)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return mask & T_NULL;
    case JSON_TRUE:
    case JSON_FALSE:
        return mask & T_BOOLEAN;
    case JSON_OBJECT:
        return mask & T_OBJECT;
    case JSON_ARRAY:
        return mask & T_ARRAY;
    case JSON_STRING:
        return mask & T_STRING;
    case JSON_INTEGER:
        return mask & (T_NUMBER | T_INTEGER);
    case JSON_REAL:
        return (mask & T_NUMBER) || ((mask & T_INTEGER) && is_integral(v));
    }
    return false;
}

/* x = m * 2^e with m odd (or 0). */
static void
split_binary(double x, unsigned long long *m, int *e)
{
    int ex;
    double f = frexp(fabs(x), &ex);
    /* f in [0.5, 1): scale to a 53-bit integer */
    unsigned long long mm = (unsigned long long)ldexp(f, 53);
    ex -= 53;
    while (mm && !(mm & 1)) {
        mm >>= 1;
        ex++;
    }
    *m = mm;
    *e = ex;
}

/* python-jsonschema's multipleOf: a float divisor divides in floating point and checks
 * that the quotient is integral; if the quotient overflows, it decides exactly (as
 * Fraction does). An integer divisor uses Python's %, exact for integers and fmod for a
 * float instance. */
static bool
multiple_of(const json_t *inst, const json_t *db)
{
    if (json_is_integer(db)) {
        long long d = json_integer_value(db);
        if (json_is_integer(inst)) {
            long long i = json_integer_value(inst);
            if (d == -1)
                return true;
            return i % d == 0;
        }
        double r = fmod(json_real_value(inst), (double)d);
        return r == 0;
    }
    double d = json_real_value(db);
    double x = json_number_value(inst);
    double q = x / d;
    if (isfinite(q))
        return floor(q) == q;
    if (isinf(x))
        return false;
    /* exact: x / d integral <=> mx * 2^ex / (md * 2^ed) integral, md odd */
    unsigned long long mx, md;
    int ex, ed;
    if (json_is_integer(inst)) {
        long long i = json_integer_value(inst);
        unsigned long long u = i < 0 ? 0ULL - (unsigned long long)i : (unsigned long long)i;
        ex = 0;
        while (u && !(u & 1)) {
            u >>= 1;
            ex++;
        }
        mx = u;
    } else {
        split_binary(x, &mx, &ex);
    }
    split_binary(d, &md, &ed);
    if (mx == 0)
        return true;
    return md != 0 && mx % md == 0 && ex >= ed;
}

/* ---- errors ---------------------------------------------------------------------------- */

static bool
enough(const struct ctx *c)
{
    return c->quiet || !c->errs || (c->max && c->errs->n >= c->max);
}

static void
render_path(herald_buf *b, const struct ctx *c)
{
    for (size_t i = 0; i < c->npath; i++) {
        herald_buf_putc(b, '/');
        const struct seg *sg = &c->path[i];
        if (!sg->key) {
            herald_buf_printf(b, "%zu", sg->idx);
            continue;
        }
        for (size_t j = 0; j < sg->len; j++) {
            if (sg->key[j] == '~')
                herald_buf_puts(b, "~0");
            else if (sg->key[j] == '/')
                herald_buf_puts(b, "~1");
            else
                herald_buf_putc(b, sg->key[j]);
        }
    }
}

static void report(struct ctx *c, const char *keyword, const json_t *kwval, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records an error unless quiet. In 'fmt', %s are C strings already formatted; the
 * caller builds reprs with herald_jsonschema__repr. */
static void
report(struct ctx *c, const char *keyword, const json_t *kwval, const char *fmt, ...)
{
    if (enough(c))
        return;
    herald_jsonschema_errors *e = c->errs;
    e->v = herald_mem_realloc(e->v, (e->n + 1) * sizeof(*e->v));
    herald_jsonschema_error *er = &e->v[e->n++];
    herald_buf b = HERALD_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    herald_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    er->description = herald_buf_steal(&b, NULL);
    render_path(&b, c);
    er->path = herald_buf_steal(&b, NULL);
    er->keyword = herald_mem_strdup(keyword);
    /* kinto/schema_validation.py: e.path[-1], else e.validator_value[-1], else
     * e.schema_path[-1] */
    if (c->npath) {
        const struct seg *sg = &c->path[c->npath - 1];
        if (sg->key)
            herald_buf_append(&b, sg->key, sg->len);
        else
            herald_buf_printf(&b, "%zu", sg->idx);
    } else if (json_is_array(kwval) && json_array_size(kwval)) {
        const json_t *last = json_array_get(kwval, json_array_size(kwval) - 1);
        if (json_is_string(last))
            herald_buf_append(&b, json_string_value(last), json_string_length(last));
        else
            herald_jsonschema__repr(&b, last);
    } else if (json_is_string(kwval) && json_string_length(kwval)) {
        const char *s = json_string_value(kwval);
        size_t n = json_string_length(kwval), i = n - 1;
        while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
            i--;
        herald_buf_append(&b, s + i, n - i);
    } else {
        herald_buf_puts(&b, keyword);
    }
    er->field = herald_buf_steal(&b, NULL);
}

/* A repr into a fresh string (freed by the caller). */
static char *
repr(const json_t *v)
{
    herald_buf b = HERALD_BUF_INIT;
    herald_jsonschema__repr(&b, v);
    if (b.len > MAX_DESCRIPTION) {
        b.len = MAX_DESCRIPTION;
        herald_buf_puts(&b, "...");
    }
    return herald_buf_steal(&b, NULL);
}

static bool
abort_with(struct ctx *c, const char *why)
{
    if (!c->aborted) {
        c->aborted = true;
        c->abort_why = why;
    }
    return false;
}

static bool
step(struct ctx *c)
{
    if (++c->steps > JS_MAX_STEPS)
        return abort_with(c, "validation exceeded its evaluation budget");
    return true;
}

/* ---- annotations ----------------------------------------------------------------------- */

static int
cmp_okey(const void *a, const void *b)
{
    const struct okey *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->k, y->k, n);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

static struct objidx *
objidx_new(const json_t *obj)
{
    struct objidx *oi = herald_mem_calloc(1, sizeof(*oi));
    oi->n = json_object_size(obj);
    oi->keys = herald_mem_calloc(oi->n ? oi->n : 1, sizeof(*oi->keys));
    size_t i = 0;
    const char *k;
    size_t kl;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, k, kl, v)
    {
        oi->keys[i].k = k;
        oi->keys[i].len = kl;
        i++;
    }
    qsort(oi->keys, oi->n, sizeof(*oi->keys), cmp_okey);
    return oi;
}

static long
objidx_find(const struct objidx *oi, const char *k, size_t len)
{
    struct okey key = {k, len};
    const struct okey *f = bsearch(&key, oi->keys, oi->n, sizeof(*oi->keys), cmp_okey);
    return f ? (long)(f - oi->keys) : -1;
}

static void
ann_init(struct ann *a, const json_t *inst, const struct objidx *oi)
{
    memset(a, 0, sizeof(*a));
    if (json_is_object(inst)) {
        a->oi = oi;
        a->nprops = oi->n;
        a->props = herald_mem_calloc(a->nprops ? a->nprops : 1, 1);
    } else if (json_is_array(inst)) {
        a->nitems = json_array_size(inst);
        a->items = herald_mem_calloc(a->nitems ? a->nitems : 1, 1);
    }
}

static void
ann_free(struct ann *a)
{
    free(a->props);
    free(a->items);
}

static void
ann_merge(struct ann *dst, const struct ann *src)
{
    for (size_t i = 0; i < dst->nprops; i++)
        dst->props[i] |= src->props[i];
    for (size_t i = 0; i < dst->nitems; i++)
        dst->items[i] |= src->items[i];
}

static void
mark_prop(struct ann *a, const char *k, size_t len)
{
    if (!a || !a->props)
        return;
    long i = objidx_find(a->oi, k, len);
    if (i >= 0)
        a->props[i] = 1;
}

/* Evaluates an in-place subschema; on success its annotations join 'ann'. */
static bool
eval_inplace(struct ctx *c, int node, const json_t *inst, struct ann *ann)
{
    if (!ann)
        return eval(c, node, inst, NULL);
    struct ann sub;
    ann_init(&sub, inst, ann->oi);
    bool ok = eval(c, node, inst, &sub);
    if (ok)
        ann_merge(ann, &sub);
    ann_free(&sub);
    return ok;
}

/* ---- path ------------------------------------------------------------------------------ */

static void
push_key(struct ctx *c, const char *k, size_t len)
{
    if (c->npath == c->pathcap) {
        c->pathcap = c->pathcap ? c->pathcap * 2 : 16;
        c->path = herald_mem_realloc(c->path, c->pathcap * sizeof(*c->path));
    }
    c->path[c->npath++] = (struct seg){k, len, 0};
}

static void
push_idx(struct ctx *c, size_t i)
{
    push_key(c, NULL, 0);
    c->path[c->npath - 1].idx = i;
}

static bool
eval_at_key(struct ctx *c, int node, const json_t *v, const char *k, size_t len)
{
    push_key(c, k, len);
    bool ok = eval(c, node, v, NULL);
    c->npath--;
    return ok;
}

static bool
eval_at_idx(struct ctx *c, int node, const json_t *v, size_t i)
{
    push_idx(c, i);
    bool ok = eval(c, node, v, NULL);
    c->npath--;
    return ok;
}

/* ---- keywords -------------------------------------------------------------------------- */

static bool
quiet_eval(struct ctx *c, int node, const json_t *inst, struct ann *ann)
{
    c->quiet++;
    bool ok = ann ? eval_inplace(c, node, inst, ann) : eval(c, node, inst, NULL);
    c->quiet--;
    return ok;
}

/* "'a', 'b' were" / "'a' was" over the keys of 'obj' not marked in 'extra'. */
static void
extras_msg(herald_buf *b, const json_t *obj, const unsigned char *extra, size_t n)
{
    size_t i = 0, k = 0;
    const char *key;
    size_t kl;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, key, kl, v)
    {
        if (i < n && extra[i]) {
            if (k++)
                herald_buf_puts(b, ", ");
            repr_string(b, key, kl);
        }
        i++;
    }
    herald_buf_puts(b, k == 1 ? " was" : " were");
}

static bool
match_regex(struct ctx *c, pcre2_code *re, const char *s, size_t n, bool *matched)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, c->md, c->s->mctx);
    if (rc >= 0) {
        *matched = true;
        return true;
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
        *matched = false;
        return true;
    }
    return abort_with(c, "a regular expression exceeded its match limits");
}

static bool
in_props(const struct kw *pk, const char *k, size_t len)
{
    if (!pk)
        return false;
    struct prop key = {k, len, -1, NULL};
    const struct prop *f;
    size_t lo = 0, hi = pk->nprops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        f = &pk->props[mid];
        size_t m = f->keylen < len ? f->keylen : len;
        int r = memcmp(f->key, key.key, m);
        if (!r)
            r = (f->keylen > len) - (f->keylen < len);
        if (!r)
            return true;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool
eval_kw(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
        struct ann *ann)
{
    char *r1 = NULL, *r2 = NULL;
    bool ok = true;
    if (!step(c))
        return false;
    switch (k->kind) {
    case KW_REF:
        return eval_inplace(c, k->child, inst, ann);
    case KW_DYNREF: {
        int target = k->child;
        if (k->name) {
            bool found = false;
            for (size_t i = 0; i < c->ndyn && !found; i++) {
                const struct resource *r = &c->s->res[c->dyn[i]];
                for (size_t d = 0; d < r->ndyn; d++) {
                    if (r->dyn[d].node >= 0 && !strcmp(r->dyn[d].name, k->name)) {
                        target = r->dyn[d].node;
                        found = true;
                        break;
                    }
                }
            }
        }
        return eval_inplace(c, target, inst, ann);
    }
    case KW_TYPE:
        if (has_type(inst, k->mask))
            return true;
        r1 = repr(inst);
        if (json_is_string(k->val)) {
            report(c, "type", k->val, "%s is not of type '%s'", r1, json_string_value(k->val));
        } else {
            herald_buf b = HERALD_BUF_INIT;
            for (size_t i = 0; i < json_array_size(k->val); i++) {
                if (i)
                    herald_buf_puts(&b, ", ");
                herald_jsonschema__repr(&b, json_array_get(k->val, i));
            }
            report(c, "type", k->val, "%s is not of type %s", r1, herald_buf_cstr(&b));
            herald_buf_free(&b);
        }
        ok = false;
        break;
    case KW_ENUM:
        for (size_t i = 0; i < json_array_size(k->val); i++) {
            if (!step(c))
                return false;
            if (herald_jsonschema__equal(inst, json_array_get(k->val, i)))
                return true;
        }
        r1 = repr(inst);
        r2 = repr(k->val);
        report(c, "enum", k->val, "%s is not one of %s", r1, r2);
        ok = false;
        break;
    case KW_CONST:
        if (herald_jsonschema__equal(inst, k->val))
            return true;
        r1 = repr(k->val);
        report(c, "const", k->val, "%s was expected", r1);
        ok = false;
        break;
    case KW_MULTIPLEOF:
        if (!json_is_number(inst) || multiple_of(inst, k->val))
            return true;
        r1 = repr(inst);
        r2 = repr(k->val);
        report(c, "multipleOf", k->val, "%s is not a multiple of %s", r1, r2);
        ok = false;
        break;
    case KW_MAXIMUM:
    case KW_EXMAXIMUM:
    case KW_MINIMUM:
    case KW_EXMINIMUM: {
        if (!json_is_number(inst))
            return true;
        int cmp = herald_jsonschema__cmp(inst, k->val);
        const char *what = NULL;
        if (k->kind == KW_MAXIMUM && cmp > 0)
            what = "is greater than the maximum of";
        else if (k->kind == KW_EXMAXIMUM && cmp >= 0)
            what = "is greater than or equal to the maximum of";
        else if (k->kind == KW_MINIMUM && cmp < 0)
            what = "is less than the minimum of";
        else if (k->kind == KW_EXMINIMUM && cmp <= 0)
            what = "is less than or equal to the minimum of";
        if (!what)
            return true;
        r1 = repr(inst);
        r2 = repr(k->val);
        report(c, k->name, k->val, "%s %s %s", r1, what, r2);
        ok = false;
        break;
    }
    case KW_MAXLENGTH:
    case KW_MINLENGTH: {
        if (!json_is_string(inst))
            return true;
        size_t len = utf8_length(json_string_value(inst), json_string_length(inst));
        if (k->kind == KW_MAXLENGTH ? len <= (unsigned long long)k->n
                                    : len >= (unsigned long long)k->n)
            return true;
        r1 = repr(inst);
        report(c, k->name, k->val, "%s is too %s", r1, k->kind == KW_MAXLENGTH ? "long" : "short");
        ok = false;
        break;
    }
    case KW_PATTERN: {
        if (!json_is_string(inst))
            return true;
        bool m;
        if (!match_regex(c, k->re, json_string_value(inst), json_string_length(inst), &m))
            return false;
        if (m)
            return true;
        r1 = repr(inst);
        r2 = repr(k->val);
        report(c, "pattern", k->val, "%s does not match %s", r1, r2);
        ok = false;
        break;
    }
    case KW_MAXITEMS:
    case KW_MINITEMS: {
        if (!json_is_array(inst))
            return true;
        size_t len = json_array_size(inst);
        if (k->kind == KW_MAXITEMS ? len <= (unsigned long long)k->n
                                   : len >= (unsigned long long)k->n)
            return true;
        r1 = repr(inst);
        report(c, k->name, k->val, "%s is too %s", r1, k->kind == KW_MAXITEMS ? "long" : "short");
        ok = false;
        break;
    }
    case KW_UNIQUEITEMS: {
        if (!json_is_array(inst))
            return true;
        size_t len = json_array_size(inst);
        for (size_t i = 0; i < len && ok; i++) {
            for (size_t j = i + 1; j < len; j++) {
                if (!step(c))
                    return false;
                if (herald_jsonschema__equal(json_array_get(inst, i), json_array_get(inst, j))) {
                    ok = false;
                    break;
                }
            }
        }
        if (ok)
            return true;
        r1 = repr(inst);
        report(c, "uniqueItems", k->val, "%s has non-unique elements", r1);
        break;
    }
    case KW_MAXPROPS:
    case KW_MINPROPS: {
        if (!json_is_object(inst))
            return true;
        size_t len = json_object_size(inst);
        if (k->kind == KW_MAXPROPS ? len <= (unsigned long long)k->n
                                   : len >= (unsigned long long)k->n)
            return true;
        r1 = repr(inst);
        report(c, k->name, k->val,
               k->kind == KW_MAXPROPS ? "%s has too many properties"
                                      : "%s does not have enough properties",
               r1);
        ok = false;
        break;
    }
    case KW_REQUIRED:
        if (!json_is_object(inst))
            return true;
        for (size_t i = 0; i < json_array_size(k->val); i++) {
            const json_t *name = json_array_get(k->val, i);
            if (json_object_getn(inst, json_string_value(name), json_string_length(name)))
                continue;
            ok = false;
            char *r = repr(name);
            report(c, "required", k->val, "%s is a required property", r);
            free(r);
            if (enough(c))
                break;
        }
        break;
    case KW_DEPREQUIRED:
    case KW_DEPSCHEMAS:
        if (!json_is_object(inst))
            return true;
        for (size_t o = 0; o < k->nprops; o++) {
            const struct prop *p = &k->props[k->order[o]];
            if (!json_object_getn(inst, p->key, p->keylen))
                continue;
            if (p->child >= 0) {
                if (!eval_inplace(c, p->child, inst, ann)) {
                    ok = false;
                    if (c->aborted || enough(c))
                        break;
                }
                continue;
            }
            for (size_t i = 0; i < json_array_size(p->val); i++) {
                const json_t *name = json_array_get(p->val, i);
                if (json_object_getn(inst, json_string_value(name), json_string_length(name)))
                    continue;
                ok = false;
                herald_buf pk = HERALD_BUF_INIT;
                repr_string(&pk, p->key, p->keylen);
                char *r = repr(name);
                report(c, k->name, k->val, "%s is a dependency of %s", r, herald_buf_cstr(&pk));
                free(r);
                herald_buf_free(&pk);
                if (enough(c))
                    break;
            }
            if (!ok && enough(c))
                break;
        }
        break;
    case KW_ALLOF:
        for (size_t i = 0; i < k->nkids; i++) {
            if (!eval_inplace(c, k->kids[i], inst, ann)) {
                ok = false;
                if (c->aborted || enough(c))
                    break;
            }
        }
        break;
    case KW_ANYOF: {
        bool any = false;
        for (size_t i = 0; i < k->nkids; i++) {
            if (quiet_eval(c, k->kids[i], inst, ann)) {
                any = true;
                if (!ann)
                    break;
            }
            if (c->aborted)
                return false;
        }
        if (any)
            return true;
        r1 = repr(inst);
        report(c, "anyOf", k->val, "%s is not valid under any of the given schemas", r1);
        ok = false;
        break;
    }
    case KW_ONEOF: {
        size_t matched = 0, first = 0, second = 0;
        for (size_t i = 0; i < k->nkids; i++) {
            struct ann sub;
            if (ann)
                ann_init(&sub, inst, ann->oi);
            if (quiet_eval(c, k->kids[i], inst, ann ? &sub : NULL)) {
                if (matched == 0 && ann)
                    ann_merge(ann, &sub);
                if (matched++ == 0)
                    first = i;
                else if (matched == 2)
                    second = i;
            }
            if (ann)
                ann_free(&sub);
            if (c->aborted)
                return false;
        }
        if (matched == 1)
            return true;
        r1 = repr(inst);
        if (matched == 0) {
            report(c, "oneOf", k->val, "%s is not valid under any of the given schemas", r1);
        } else {
            r2 = repr(json_array_get(k->val, first));
            char *r3 = repr(json_array_get(k->val, second));
            report(c, "oneOf", k->val, "%s is valid under each of %s, %s", r1, r2, r3);
            free(r3);
        }
        ok = false;
        break;
    }
    case KW_NOT:
        if (!quiet_eval(c, k->child, inst, NULL)) {
            return !c->aborted;
        }
        if (c->aborted)
            return false;
        r1 = repr(inst);
        r2 = repr(k->val);
        report(c, "not", k->val, "%s should not be valid under %s", r1, r2);
        ok = false;
        break;
    case KW_IF: {
        bool cond = quiet_eval(c, k->child, inst, ann);
        if (c->aborted)
            return false;
        int next = cond ? k->child2 : k->child3;
        if (next >= 0)
            ok = eval_inplace(c, next, inst, ann);
        break;
    }
    case KW_PREFIXITEMS:
        if (!json_is_array(inst))
            return true;
        for (size_t i = 0; i < k->nkids && i < json_array_size(inst); i++) {
            if (!eval_at_idx(c, k->kids[i], json_array_get(inst, i), i)) {
                ok = false;
                if (c->aborted || enough(c))
                    break;
            }
            if (ann && ann->items)
                ann->items[i] = 1;
        }
        break;
    case KW_ITEMS:
        if (!json_is_array(inst))
            return true;
        if (c->s->nodes[k->child].is_bool && !c->s->nodes[k->child].bool_value &&
            json_array_size(inst) > (size_t)k->n) {
            /* python-jsonschema's wording for items: false (and additionalItems) */
            herald_buf b = HERALD_BUF_INIT;
            size_t cnt = json_array_size(inst) - (size_t)k->n;
            for (size_t i = (size_t)k->n; i < json_array_size(inst); i++) {
                if (i > (size_t)k->n)
                    herald_buf_puts(&b, ", ");
                herald_jsonschema__repr(&b, json_array_get(inst, i));
            }
            if (!strcmp(k->name, "additionalItems") || k->n == 0)
                report(c, k->name, k->val, "Additional items are not allowed (%s %s unexpected)",
                       herald_buf_cstr(&b), cnt == 1 ? "was" : "were");
            else
                report(c, k->name, k->val, "Expected at most %lld items, but found %zu", k->n,
                       json_array_size(inst));
            herald_buf_free(&b);
            return false;
        }
        for (size_t i = (size_t)k->n; i < json_array_size(inst); i++) {
            if (!eval_at_idx(c, k->child, json_array_get(inst, i), i)) {
                ok = false;
                if (c->aborted || enough(c))
                    break;
            }
            if (ann && ann->items)
                ann->items[i] = 1;
        }
        break;
    case KW_CONTAINS: {
        if (!json_is_array(inst))
            return true;
        long long matches = 0;
        for (size_t i = 0; i < json_array_size(inst); i++) {
            if (quiet_eval(c, k->child, json_array_get(inst, i), NULL)) {
                matches++;
                if (ann && ann->items)
                    ann->items[i] = 1;
                if (k->n2 >= 0 && matches > k->n2) {
                    report(c, "maxContains", k->val,
                           "Too many items match the given schema (expected at most %lld)", k->n2);
                    return false;
                }
                if (!ann && k->n2 < 0 && matches >= k->n)
                    return true;
            }
            if (c->aborted)
                return false;
        }
        if (matches >= k->n)
            return true;
        r1 = repr(inst);
        if (n->draft7)
            report(c, "contains", k->val, "None of %s are valid under the given schema", r1);
        else if (matches == 0)
            report(c, "contains", k->val, "%s does not contain items matching the given schema",
                   r1);
        else
            report(c, "minContains", k->val,
                   "Too few items match the given schema (expected at least %lld but only %lld "
                   "matched)",
                   k->n, matches);
        ok = false;
        break;
    }
    case KW_PROPERTIES:
        if (!json_is_object(inst))
            return true;
        for (size_t o = 0; o < k->nprops; o++) {
            const struct prop *p = &k->props[k->order[o]];
            const json_t *v = json_object_getn(inst, p->key, p->keylen);
            if (!v)
                continue;
            if (!eval_at_key(c, p->child, v, p->key, p->keylen)) {
                ok = false;
                if (c->aborted || enough(c))
                    break;
            }
            mark_prop(ann, p->key, p->keylen);
        }
        break;
    case KW_PATTERNPROPS: {
        if (!json_is_object(inst))
            return true;
        for (size_t p = 0; p < k->npats && (ok || !enough(c)); p++) {
            const char *key;
            size_t kl;
            json_t *v;
            json_object_keylen_foreach((json_t *)inst, key, kl, v)
            {
                bool m;
                if (!match_regex(c, k->pats[p].re, key, kl, &m))
                    return false;
                if (!m)
                    continue;
                if (!eval_at_key(c, k->pats[p].child, v, key, kl)) {
                    ok = false;
                    if (c->aborted || enough(c))
                        break;
                }
                mark_prop(ann, key, kl);
            }
        }
        break;
    }
    case KW_ADDPROPS: {
        if (!json_is_object(inst))
            return true;
        const struct kw *pk = k->props_kw >= 0 ? &n->kws[k->props_kw] : NULL;
        const struct kw *tk = k->pats_kw >= 0 ? &n->kws[k->pats_kw] : NULL;
        size_t sz = json_object_size(inst), i = 0, nextra = 0;
        unsigned char *extra = herald_mem_calloc(sz ? sz : 1, 1);
        const char *key;
        size_t kl;
        json_t *v;
        bool is_false = c->s->nodes[k->child].is_bool && !c->s->nodes[k->child].bool_value;
        json_object_keylen_foreach((json_t *)inst, key, kl, v)
        {
            bool known = in_props(pk, key, kl);
            for (size_t p = 0; tk && !known && p < tk->npats; p++) {
                bool m;
                if (!match_regex(c, tk->pats[p].re, key, kl, &m)) {
                    free(extra);
                    return false;
                }
                known = m;
            }
            if (!known) {
                mark_prop(ann, key, kl);
                if (is_false) {
                    extra[i] = 1;
                    nextra++;
                } else if (!eval_at_key(c, k->child, v, key, kl)) {
                    ok = false;
                    if (c->aborted || enough(c))
                        break;
                }
            }
            i++;
        }
        if (nextra) {
            ok = false;
            herald_buf b = HERALD_BUF_INIT;
            if (tk) {
                /* python: sorted extras, sorted patterns */
                size_t ne = 0;
                struct okey *ks = herald_mem_calloc(nextra, sizeof(*ks));
                i = 0;
                json_object_keylen_foreach((json_t *)inst, key, kl, v)
                {
                    if (extra[i++])
                        ks[ne++] = (struct okey){key, kl};
                }
                qsort(ks, ne, sizeof(*ks), cmp_okey);
                for (size_t e = 0; e < ne; e++) {
                    if (e)
                        herald_buf_puts(&b, ", ");
                    repr_string(&b, ks[e].k, ks[e].len);
                }
                free(ks);
                herald_buf_puts(&b, ne == 1 ? " does" : " do");
                herald_buf_puts(&b, " not match any of the regexes: ");
                struct okey *ps = herald_mem_calloc(tk->npats ? tk->npats : 1, sizeof(*ps));
                for (size_t p = 0; p < tk->npats; p++)
                    ps[p] = (struct okey){tk->pats[p].src, strlen(tk->pats[p].src)};
                qsort(ps, tk->npats, sizeof(*ps), cmp_okey);
                for (size_t p = 0; p < tk->npats; p++) {
                    if (p)
                        herald_buf_puts(&b, ", ");
                    repr_string(&b, ps[p].k, ps[p].len);
                }
                free(ps);
                report(c, "additionalProperties", k->val, "%s", herald_buf_cstr(&b));
            } else {
                extras_msg(&b, inst, extra, sz);
                report(c, "additionalProperties", k->val,
                       "Additional properties are not allowed (%s unexpected)",
                       herald_buf_cstr(&b));
            }
            herald_buf_free(&b);
        }
        free(extra);
        break;
    }
    case KW_PROPNAMES: {
        if (!json_is_object(inst))
            return true;
        const char *key;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach((json_t *)inst, key, kl, v)
        {
            json_t *name = json_stringn_nocheck(key, kl);
            bool good = eval(c, k->child, name, NULL);
            json_decref(name);
            if (!good) {
                ok = false;
                if (c->aborted || enough(c))
                    break;
            }
        }
        break;
    }
    case KW_UNEVALITEMS:
    case KW_UNEVALPROPS:
        break; /* evaluated last, by eval() */
    }
    free(r1);
    free(r2);
    return ok;
}

/* unevaluatedItems / unevaluatedProperties, after every sibling marked 'ann'. */
static bool
eval_uneval(struct ctx *c, const struct kw *k, const json_t *inst, struct ann *ann)
{
    bool is_false = c->s->nodes[k->child].is_bool && !c->s->nodes[k->child].bool_value;
    bool ok = true;
    if (k->kind == KW_UNEVALPROPS && json_is_object(inst)) {
        size_t sz = json_object_size(inst), i = 0, nbad = 0;
        unsigned char *bad = herald_mem_calloc(sz ? sz : 1, 1);
        const char *key;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach((json_t *)inst, key, kl, v)
        {
            long idx = objidx_find(ann->oi, key, kl);
            if (idx >= 0 && !ann->props[idx]) {
                if (!quiet_eval(c, k->child, v, NULL)) {
                    bad[i] = 1;
                    nbad++;
                    if (c->aborted) {
                        free(bad);
                        return false;
                    }
                }
                ann->props[idx] = 1;
            }
            i++;
        }
        if (nbad) {
            herald_buf b = HERALD_BUF_INIT;
            extras_msg(&b, inst, bad, sz);
            report(c, "unevaluatedProperties", k->val,
                   is_false ? "Unevaluated properties are not allowed (%s unexpected)"
                            : "Unevaluated properties are not valid under the given schema (%s "
                              "unexpected)",
                   herald_buf_cstr(&b));
            herald_buf_free(&b);
            ok = false;
        }
        free(bad);
    } else if (k->kind == KW_UNEVALITEMS && json_is_array(inst)) {
        herald_buf b = HERALD_BUF_INIT;
        size_t nbad = 0;
        for (size_t i = 0; i < ann->nitems; i++) {
            if (ann->items[i])
                continue;
            if (!quiet_eval(c, k->child, json_array_get(inst, i), NULL)) {
                if (c->aborted) {
                    herald_buf_free(&b);
                    return false;
                }
                if (nbad++)
                    herald_buf_puts(&b, ", ");
                herald_jsonschema__repr(&b, json_array_get(inst, i));
            }
            ann->items[i] = 1;
        }
        if (nbad) {
            report(c, "unevaluatedItems", k->val,
                   is_false ? "Unevaluated items are not allowed (%s %s unexpected)"
                            : "Unevaluated items are not valid under the given schema (%s %s "
                              "unexpected)",
                   herald_buf_cstr(&b), nbad == 1 ? "was" : "were");
            ok = false;
        }
        herald_buf_free(&b);
    }
    return ok;
}

static bool
eval(struct ctx *c, int idx, const json_t *inst, struct ann *ann)
{
    const struct node *n = &c->s->nodes[idx];
    if (n->is_bool) {
        if (n->bool_value)
            return true;
        char *r = repr(inst);
        report(c, "false", NULL, "False schema does not allow %s", r);
        free(r);
        return false;
    }
    if (c->depth >= JS_MAX_DEPTH)
        return abort_with(c, "validation nested deeper than its recursion limit");
    c->depth++;
    bool pushed = false;
    if (!c->ndyn || c->dyn[c->ndyn - 1] != n->resource) {
        if (c->ndyn == c->dyncap) {
            c->dyncap = c->dyncap ? c->dyncap * 2 : 16;
            c->dyn = herald_mem_realloc(c->dyn, c->dyncap * sizeof(*c->dyn));
        }
        c->dyn[c->ndyn++] = n->resource;
        pushed = true;
    }
    struct ann own;
    struct objidx *oi = NULL;
    bool own_ann = false;
    if (n->ann && !ann && (json_is_object(inst) || json_is_array(inst))) {
        if (json_is_object(inst))
            oi = objidx_new(inst);
        ann_init(&own, inst, oi);
        ann = &own;
        own_ann = true;
    }
    bool ok = true;
    for (size_t i = 0; i < n->nkws; i++) {
        if (!eval_kw(c, n, &n->kws[i], inst, ann)) {
            ok = false;
            if (c->aborted || enough(c))
                goto out;
        }
    }
    if (n->ann && ann) {
        for (size_t i = 0; i < n->nkws; i++) {
            const struct kw *k = &n->kws[i];
            if ((k->kind == KW_UNEVALITEMS || k->kind == KW_UNEVALPROPS) &&
                !eval_uneval(c, k, inst, ann)) {
                ok = false;
                if (c->aborted || enough(c))
                    goto out;
            }
        }
    }
out:
    if (own_ann) {
        ann_free(&own);
        if (oi) {
            free(oi->keys);
            free(oi);
        }
    }
    if (pushed)
        c->ndyn--;
    c->depth--;
    return ok && !c->aborted;
}

int
herald_jsonschema_validate(const herald_jsonschema *s, const json_t *instance,
                           herald_jsonschema_errors *errors, size_t max_errors)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    c.s = s;
    c.errs = errors;
    c.max = max_errors;
    if (errors) {
        errors->n = 0;
        errors->v = NULL;
    }
    c.md = pcre2_match_data_create(1, NULL);
    bool ok = eval(&c, 0, instance, NULL);
    if (c.aborted && errors) {
        /* a bound was hit: that is the error, whatever else was found */
        int q = c.quiet;
        c.quiet = 0;
        c.npath = 0;
        c.max = 0;
        herald_jsonschema_errors_free(errors);
        report(&c, "$schema", NULL, "%s", c.abort_why);
        c.quiet = q;
    } else if (!ok && errors && errors->n == 0) {
        report(&c, "$schema", NULL, "the instance is not valid");
    }
    pcre2_match_data_free(c.md);
    free(c.dyn);
    free(c.path);
    return ok ? 0 : -1;
}

void
herald_jsonschema_errors_free(herald_jsonschema_errors *errors)
{
    if (!errors)
        return;
    for (size_t i = 0; i < errors->n; i++) {
        free(errors->v[i].description);
        free(errors->v[i].path);
        free(errors->v[i].keyword);
        free(errors->v[i].field);
    }
    free(errors->v);
    errors->n = 0;
    errors->v = NULL;
}
