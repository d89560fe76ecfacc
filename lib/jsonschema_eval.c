/*
 * jsonschema_eval -- validation of an instance against a compiled schema
 * (lib/jsonschema_int.h), with python-jsonschema's error messages.
 *
 * eval() walks a node's keywords in document order, each through kw_eval[] (one
 * function per keyword or keyword family, indexed by kind). A failing keyword reports its own
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
 * evaluations and value comparisons), PCRE2's match and depth limits, and a regex budget
 * per validation bounding the matches' total work (match_regex). Exceeding
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
    pcre2_match_context *mctx; /* per validation: its match limit varies (match_regex) */
    size_t regex_left;         /* what is left of JS_REGEX_BUDGET */
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

/* The reprs of the items of array 'arr' from index 'from' on, joined by ", ". */
static void
repr_items(herald_buf *b, const json_t *arr, size_t from)
{
    for (size_t i = from; i < json_array_size(arr); i++) {
        if (i > from)
            herald_buf_puts(b, ", ");
        herald_jsonschema__repr(b, json_array_get(arr, i));
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
        repr_items(b, v, 0);
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
    return herald_jsonschema__keycmp(x->k, x->len, y->k, y->len);
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

/*
 * One function per keyword or keyword family, all of type kw_fn, reached through
 * kw_eval[] indexed by the keyword's kind. Each returns whether the instance passed;
 * a failing keyword reports its error (report() stays silent when quiet or when the
 * caller has enough), and a keyword that evaluates several subschemas keeps going
 * after a failure only while more errors are wanted (stop()).
 */
typedef bool kw_fn(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
                   struct ann *ann);

/* After a failure: whether the caller wants no more errors (or validation aborted). */
static bool
stop(const struct ctx *c)
{
    return c->aborted || enough(c);
}

static bool
is_false_schema(const struct ctx *c, int node)
{
    return c->s->nodes[node].is_bool && !c->s->nodes[node].bool_value;
}

/* Reports "<repr of 'a'><text><repr of 'b'>" ('b' may be NULL: nothing after 'text');
 * the reprs are built only when the error is kept. Returns false. */
static bool
fail_repr(struct ctx *c, const char *keyword, const json_t *kwval, const json_t *a,
          const char *text, const json_t *b)
{
    if (enough(c))
        return false;
    char *ra = repr(a), *rb = b ? repr(b) : NULL;
    report(c, keyword, kwval, "%s%s%s", ra, text, rb ? rb : "");
    free(ra);
    free(rb);
    return false;
}

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

/* Sorts 'ks' and appends their string reprs joined by ", " (python's sorted()). */
static void
sorted_keys_msg(herald_buf *b, struct okey *ks, size_t n)
{
    qsort(ks, n, sizeof(*ks), cmp_okey);
    for (size_t i = 0; i < n; i++) {
        if (i)
            herald_buf_puts(b, ", ");
        repr_string(b, ks[i].k, ks[i].len);
    }
}

/*
 * Regex cost. PCRE2 cannot say how many steps a match used, only stop one at a given match
 * limit, so each validation has a regex budget (JS_REGEX_BUDGET) charged with the limits it
 * grants rather than the steps used: a match first runs with a small limit, JS_REGEX_QUICK
 * plus the subject's length (the scan over the subject costs that much even without
 * backtracking), and only a match that hits it is rerun with min(JS_MATCH_LIMIT, what is left),
 * charged in full. Every grant is charged before the match runs and none exceeds what is
 * left, so the backtracking work of all the matches of one validation is at most the budget
 * whatever the schema and instance; when it runs out, or a rerun hits its limit, the
 * validation stops with the match-limit error. The match context is the schema's (depth
 * limit) copied once per validation, since the schema is shared and its limit changes here.
 */
static bool
match_regex(struct ctx *c, pcre2_code *re, const char *s, size_t n, bool *matched)
{
    const char *why = "a regular expression exceeded its match limits";
    if (!c->mctx && !(c->mctx = pcre2_match_context_copy(c->s->mctx)))
        return abort_with(c, "out of memory");
    size_t full = c->regex_left < JS_MATCH_LIMIT ? c->regex_left : JS_MATCH_LIMIT;
    size_t grant = JS_REGEX_QUICK + n < full ? JS_REGEX_QUICK + n : full;
    int rc = PCRE2_ERROR_MATCHLIMIT;
    while (grant > 0) {
        c->regex_left -= grant;
        pcre2_set_match_limit(c->mctx, (uint32_t)grant);
        rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, c->md, c->mctx);
        if (rc != PCRE2_ERROR_MATCHLIMIT || grant == full)
            break;
        /* the quick limit was too small: once more with the full one */
        grant = full = c->regex_left < JS_MATCH_LIMIT ? c->regex_left : JS_MATCH_LIMIT;
    }
    if (rc >= 0) {
        *matched = true;
        return true;
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
        *matched = false;
        return true;
    }
    return abort_with(c, why);
}

/* Whether 'properties' keyword 'pk' (NULL: none) names key 'k'. */
static bool
in_props(const struct kw *pk, const char *k, size_t len)
{
    if (!pk)
        return false;
    size_t lo = 0, hi = pk->nprops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct prop *f = &pk->props[mid];
        int r = herald_jsonschema__keycmp(f->key, f->keylen, k, len);
        if (!r)
            return true;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* -- references -- */

static bool
kw_ref(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst, struct ann *ann)
{
    (void)n;
    return eval_inplace(c, k->child, inst, ann);
}

/* $dynamicRef: the outermost resource on the dynamic path that declares the anchor,
 * else the static target. */
static bool
kw_dynref(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
          struct ann *ann)
{
    (void)n;
    if (k->name) {
        for (size_t i = 0; i < c->ndyn; i++) {
            const struct resource *r = &c->s->res[c->dyn[i]];
            for (size_t d = 0; d < r->ndyn; d++)
                if (r->dyn[d].node >= 0 && !strcmp(r->dyn[d].name, k->name))
                    return eval_inplace(c, r->dyn[d].node, inst, ann);
        }
    }
    return eval_inplace(c, k->child, inst, ann);
}

/* -- any instance -- */

static bool
kw_type(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
        struct ann *ann)
{
    (void)n, (void)ann;
    if (has_type(inst, k->mask))
        return true;
    if (enough(c))
        return false;
    herald_buf b = HERALD_BUF_INIT;
    if (json_is_string(k->val))
        herald_buf_printf(&b, "'%s'", json_string_value(k->val));
    else
        repr_items(&b, k->val, 0);
    char *r = repr(inst);
    report(c, "type", k->val, "%s is not of type %s", r, herald_buf_cstr(&b));
    free(r);
    herald_buf_free(&b);
    return false;
}

static bool
kw_enum(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
        struct ann *ann)
{
    (void)n, (void)ann;
    for (size_t i = 0; i < json_array_size(k->val); i++) {
        if (!step(c))
            return false;
        if (herald_jsonschema__equal(inst, json_array_get(k->val, i)))
            return true;
    }
    return fail_repr(c, "enum", k->val, inst, " is not one of ", k->val);
}

static bool
kw_const(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
         struct ann *ann)
{
    (void)n, (void)ann;
    return herald_jsonschema__equal(inst, k->val) ||
           fail_repr(c, "const", k->val, k->val, " was expected", NULL);
}

/* -- numbers -- */

static bool
kw_multipleof(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
              struct ann *ann)
{
    (void)n, (void)ann;
    return !json_is_number(inst) || multiple_of(inst, k->val) ||
           fail_repr(c, "multipleOf", k->val, inst, " is not a multiple of ", k->val);
}

/* maximum, exclusiveMaximum, minimum, exclusiveMinimum */
static bool
kw_bound(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
         struct ann *ann)
{
    (void)n, (void)ann;
    if (!json_is_number(inst))
        return true;
    int cmp = herald_jsonschema__cmp(inst, k->val);
    switch (k->kind) {
    case KW_MAXIMUM:
        return cmp <= 0 ||
               fail_repr(c, k->name, k->val, inst, " is greater than the maximum of ", k->val);
    case KW_EXMAXIMUM:
        return cmp < 0 || fail_repr(c, k->name, k->val, inst,
                                    " is greater than or equal to the maximum of ", k->val);
    case KW_MINIMUM:
        return cmp >= 0 ||
               fail_repr(c, k->name, k->val, inst, " is less than the minimum of ", k->val);
    default:
        return cmp > 0 || fail_repr(c, k->name, k->val, inst,
                                    " is less than or equal to the minimum of ", k->val);
    }
}

/* -- sizes: maxLength, minLength, maxItems, minItems, maxProperties, minProperties -- */

static bool
kw_size(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
        struct ann *ann)
{
    (void)n, (void)ann;
    size_t len;
    bool max = k->kind == KW_MAXLENGTH || k->kind == KW_MAXITEMS || k->kind == KW_MAXPROPS;
    if (k->kind == KW_MAXLENGTH || k->kind == KW_MINLENGTH) {
        if (!json_is_string(inst))
            return true;
        len = utf8_length(json_string_value(inst), json_string_length(inst));
    } else if (k->kind == KW_MAXITEMS || k->kind == KW_MINITEMS) {
        if (!json_is_array(inst))
            return true;
        len = json_array_size(inst);
    } else {
        if (!json_is_object(inst))
            return true;
        len = json_object_size(inst);
    }
    if (max ? len <= (unsigned long long)k->n : len >= (unsigned long long)k->n)
        return true;
    if (json_is_object(inst))
        return fail_repr(c, k->name, k->val, inst,
                         max ? " has too many properties" : " does not have enough properties",
                         NULL);
    return fail_repr(c, k->name, k->val, inst, max ? " is too long" : " is too short", NULL);
}

/* -- strings -- */

static bool
kw_pattern(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
           struct ann *ann)
{
    (void)n, (void)ann;
    if (!json_is_string(inst))
        return true;
    bool m;
    if (!match_regex(c, k->re, json_string_value(inst), json_string_length(inst), &m))
        return false;
    return m || fail_repr(c, "pattern", k->val, inst, " does not match ", k->val);
}

/* -- arrays -- */

static bool
kw_unique(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
          struct ann *ann)
{
    (void)n, (void)ann;
    if (!json_is_array(inst))
        return true;
    size_t len = json_array_size(inst);
    for (size_t i = 0; i < len; i++) {
        for (size_t j = i + 1; j < len; j++) {
            if (!step(c))
                return false;
            if (herald_jsonschema__equal(json_array_get(inst, i), json_array_get(inst, j)))
                return fail_repr(c, "uniqueItems", k->val, inst, " has non-unique elements", NULL);
        }
    }
    return true;
}

/* Items 'from' to 'to' - 1 of 'inst', each against kids[i] (or 'child' when 'kids' is
 * NULL), marked evaluated. */
static bool
each_item(struct ctx *c, const json_t *inst, const int *kids, int child, size_t from, size_t to,
          struct ann *ann)
{
    bool ok = true;
    for (size_t i = from; i < to; i++) {
        if (!eval_at_idx(c, kids ? kids[i] : child, json_array_get(inst, i), i)) {
            ok = false;
            if (stop(c))
                break;
        }
        if (ann && ann->items)
            ann->items[i] = 1;
    }
    return ok;
}

/* prefixItems (and Draft 7's array-form items) */
static bool
kw_prefixitems(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
               struct ann *ann)
{
    (void)n;
    if (!json_is_array(inst))
        return true;
    size_t to = json_array_size(inst) < k->nkids ? json_array_size(inst) : k->nkids;
    return each_item(c, inst, k->kids, -1, 0, to, ann);
}

/* python-jsonschema's wording for items: false past k->n items (and additionalItems). */
static bool
items_false(struct ctx *c, const struct kw *k, const json_t *inst)
{
    if (enough(c))
        return false;
    size_t size = json_array_size(inst), from = (size_t)k->n;
    if (strcmp(k->name, "additionalItems") && k->n != 0) {
        report(c, k->name, k->val, "Expected at most %lld items, but found %zu", k->n, size);
        return false;
    }
    herald_buf b = HERALD_BUF_INIT;
    repr_items(&b, inst, from);
    report(c, k->name, k->val, "Additional items are not allowed (%s %s unexpected)",
           herald_buf_cstr(&b), size - from == 1 ? "was" : "were");
    herald_buf_free(&b);
    return false;
}

/* items (and Draft 7's additionalItems): every item from index k->n on */
static bool
kw_items(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
         struct ann *ann)
{
    (void)n;
    if (!json_is_array(inst))
        return true;
    size_t size = json_array_size(inst);
    if (is_false_schema(c, k->child) && size > (size_t)k->n)
        return items_false(c, k, inst);
    return each_item(c, inst, NULL, k->child, (size_t)k->n, size, ann);
}

static bool
kw_contains(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
            struct ann *ann)
{
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
    if (n->draft7) {
        if (!enough(c)) {
            char *r = repr(inst);
            report(c, "contains", k->val, "None of %s are valid under the given schema", r);
            free(r);
        }
        return false;
    }
    if (matches == 0)
        return fail_repr(c, "contains", k->val, inst,
                         " does not contain items matching the given schema", NULL);
    report(c, "minContains", k->val,
           "Too few items match the given schema (expected at least %lld but only %lld "
           "matched)",
           k->n, matches);
    return false;
}

/* -- objects -- */

static bool
kw_required(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
            struct ann *ann)
{
    (void)n, (void)ann;
    if (!json_is_object(inst))
        return true;
    bool ok = true;
    for (size_t i = 0; i < json_array_size(k->val); i++) {
        const json_t *name = json_array_get(k->val, i);
        if (json_object_getn(inst, json_string_value(name), json_string_length(name)))
            continue;
        ok = fail_repr(c, "required", k->val, name, " is a required property", NULL);
        if (enough(c))
            break;
    }
    return ok;
}

/* The names of p->val missing from 'inst', each "a dependency of" p->key. */
static bool
dep_required(struct ctx *c, const struct kw *k, const struct prop *p, const json_t *inst)
{
    bool ok = true;
    for (size_t i = 0; i < json_array_size(p->val); i++) {
        const json_t *name = json_array_get(p->val, i);
        if (json_object_getn(inst, json_string_value(name), json_string_length(name)))
            continue;
        ok = false;
        if (enough(c))
            break;
        herald_buf pk = HERALD_BUF_INIT;
        repr_string(&pk, p->key, p->keylen);
        char *r = repr(name);
        report(c, k->name, k->val, "%s is a dependency of %s", r, herald_buf_cstr(&pk));
        free(r);
        herald_buf_free(&pk);
        if (enough(c))
            break;
    }
    return ok;
}

/* dependentRequired, dependentSchemas, Draft 7 dependencies (either, per key) */
static bool
kw_dependencies(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
                struct ann *ann)
{
    (void)n;
    if (!json_is_object(inst))
        return true;
    bool ok = true;
    for (size_t o = 0; o < k->nprops; o++) {
        const struct prop *p = &k->props[k->order[o]];
        if (!json_object_getn(inst, p->key, p->keylen))
            continue;
        if (p->child >= 0 ? !eval_inplace(c, p->child, inst, ann) : !dep_required(c, k, p, inst)) {
            ok = false;
            if (stop(c))
                break;
        }
    }
    return ok;
}

static bool
kw_properties(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
              struct ann *ann)
{
    (void)n;
    if (!json_is_object(inst))
        return true;
    bool ok = true;
    for (size_t o = 0; o < k->nprops; o++) {
        const struct prop *p = &k->props[k->order[o]];
        const json_t *v = json_object_getn(inst, p->key, p->keylen);
        if (!v)
            continue;
        if (!eval_at_key(c, p->child, v, p->key, p->keylen)) {
            ok = false;
            if (stop(c))
                break;
        }
        mark_prop(ann, p->key, p->keylen);
    }
    return ok;
}

static bool
kw_patternprops(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
                struct ann *ann)
{
    (void)n;
    if (!json_is_object(inst))
        return true;
    bool ok = true;
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
                if (stop(c))
                    break;
            }
            mark_prop(ann, key, kl);
        }
    }
    return ok;
}

/* Whether 'key' is named by 'properties' keyword 'pk' or matched by 'patternProperties'
 * keyword 'tk' (either NULL: absent), in '*known'; false if a match aborted. */
static bool
known_prop(struct ctx *c, const struct kw *pk, const struct kw *tk, const char *key, size_t kl,
           bool *known)
{
    *known = in_props(pk, key, kl);
    for (size_t p = 0; tk && !*known && p < tk->npats; p++)
        if (!match_regex(c, tk->pats[p].re, key, kl, known))
            return false;
    return true;
}

/* additionalProperties: false's error over the keys of 'inst' marked in 'extra'. With
 * patternProperties, python-jsonschema lists the sorted extras and sorted patterns. */
static void
addprops_msg(struct ctx *c, const struct kw *k, const struct kw *tk, const json_t *inst,
             const unsigned char *extra, size_t nextra)
{
    if (enough(c))
        return;
    herald_buf b = HERALD_BUF_INIT;
    if (!tk) {
        extras_msg(&b, inst, extra, json_object_size(inst));
        report(c, "additionalProperties", k->val,
               "Additional properties are not allowed (%s unexpected)", herald_buf_cstr(&b));
        herald_buf_free(&b);
        return;
    }
    size_t ne = 0, i = 0;
    struct okey *ks = herald_mem_calloc(nextra, sizeof(*ks));
    const char *key;
    size_t kl;
    json_t *v;
    json_object_keylen_foreach((json_t *)inst, key, kl, v)
    {
        if (extra[i++])
            ks[ne++] = (struct okey){key, kl};
    }
    sorted_keys_msg(&b, ks, ne);
    free(ks);
    herald_buf_puts(&b, ne == 1 ? " does" : " do");
    herald_buf_puts(&b, " not match any of the regexes: ");
    struct okey *ps = herald_mem_calloc(tk->npats ? tk->npats : 1, sizeof(*ps));
    for (size_t p = 0; p < tk->npats; p++)
        ps[p] = (struct okey){tk->pats[p].src, strlen(tk->pats[p].src)};
    sorted_keys_msg(&b, ps, tk->npats);
    free(ps);
    report(c, "additionalProperties", k->val, "%s", herald_buf_cstr(&b));
    herald_buf_free(&b);
}

static bool
kw_addprops(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
            struct ann *ann)
{
    if (!json_is_object(inst))
        return true;
    const struct kw *pk = k->props_kw >= 0 ? &n->kws[k->props_kw] : NULL;
    const struct kw *tk = k->pats_kw >= 0 ? &n->kws[k->pats_kw] : NULL;
    size_t sz = json_object_size(inst), i = 0, nextra = 0;
    unsigned char *extra = herald_mem_calloc(sz ? sz : 1, 1);
    bool is_false = is_false_schema(c, k->child), ok = true;
    const char *key;
    size_t kl;
    json_t *v;
    json_object_keylen_foreach((json_t *)inst, key, kl, v)
    {
        bool known;
        if (!known_prop(c, pk, tk, key, kl, &known)) {
            free(extra);
            return false;
        }
        if (!known) {
            mark_prop(ann, key, kl);
            if (is_false) {
                extra[i] = 1;
                nextra++;
            } else if (!eval_at_key(c, k->child, v, key, kl)) {
                ok = false;
                if (stop(c))
                    break;
            }
        }
        i++;
    }
    if (nextra) {
        ok = false;
        addprops_msg(c, k, tk, inst, extra, nextra);
    }
    free(extra);
    return ok;
}

static bool
kw_propnames(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
             struct ann *ann)
{
    (void)n, (void)ann;
    if (!json_is_object(inst))
        return true;
    bool ok = true;
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
            if (stop(c))
                break;
        }
    }
    return ok;
}

/* -- applicators -- */

static bool
kw_allof(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
         struct ann *ann)
{
    (void)n;
    bool ok = true;
    for (size_t i = 0; i < k->nkids; i++) {
        if (!eval_inplace(c, k->kids[i], inst, ann)) {
            ok = false;
            if (stop(c))
                break;
        }
    }
    return ok;
}

/* anyOf: with annotations wanted, every branch (each that passes adds its own). */
static bool
kw_anyof(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
         struct ann *ann)
{
    (void)n;
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
    return any || fail_repr(c, "anyOf", k->val, inst,
                            " is not valid under any of the given schemas", NULL);
}

/* oneOf: only the first passing branch's annotations count. */
static bool
kw_oneof(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
         struct ann *ann)
{
    (void)n;
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
    if (matched == 0)
        return fail_repr(c, "oneOf", k->val, inst, " is not valid under any of the given schemas",
                         NULL);
    if (enough(c))
        return false;
    char *r1 = repr(inst), *r2 = repr(json_array_get(k->val, first)),
         *r3 = repr(json_array_get(k->val, second));
    report(c, "oneOf", k->val, "%s is valid under each of %s, %s", r1, r2, r3);
    free(r1);
    free(r2);
    free(r3);
    return false;
}

static bool
kw_not(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst, struct ann *ann)
{
    (void)n, (void)ann;
    if (!quiet_eval(c, k->child, inst, NULL))
        return !c->aborted;
    if (c->aborted)
        return false;
    return fail_repr(c, "not", k->val, inst, " should not be valid under ", k->val);
}

static bool
kw_if(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst, struct ann *ann)
{
    (void)n;
    bool cond = quiet_eval(c, k->child, inst, ann);
    if (c->aborted)
        return false;
    int next = cond ? k->child2 : k->child3;
    return next < 0 || eval_inplace(c, next, inst, ann);
}

/* unevaluatedItems / unevaluatedProperties: evaluated last, by eval(). */
static bool
kw_later(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
         struct ann *ann)
{
    (void)c, (void)n, (void)k, (void)inst, (void)ann;
    return true;
}

/* The evaluator of each keyword kind. */
static kw_fn *const kw_eval[KW_NKINDS] = {
    [KW_REF] = kw_ref,
    [KW_DYNREF] = kw_dynref,
    [KW_TYPE] = kw_type,
    [KW_ENUM] = kw_enum,
    [KW_CONST] = kw_const,
    [KW_MULTIPLEOF] = kw_multipleof,
    [KW_MAXIMUM] = kw_bound,
    [KW_EXMAXIMUM] = kw_bound,
    [KW_MINIMUM] = kw_bound,
    [KW_EXMINIMUM] = kw_bound,
    [KW_MAXLENGTH] = kw_size,
    [KW_MINLENGTH] = kw_size,
    [KW_PATTERN] = kw_pattern,
    [KW_MAXITEMS] = kw_size,
    [KW_MINITEMS] = kw_size,
    [KW_UNIQUEITEMS] = kw_unique,
    [KW_MAXPROPS] = kw_size,
    [KW_MINPROPS] = kw_size,
    [KW_REQUIRED] = kw_required,
    [KW_DEPREQUIRED] = kw_dependencies,
    [KW_DEPSCHEMAS] = kw_dependencies,
    [KW_ALLOF] = kw_allof,
    [KW_ANYOF] = kw_anyof,
    [KW_ONEOF] = kw_oneof,
    [KW_NOT] = kw_not,
    [KW_IF] = kw_if,
    [KW_PREFIXITEMS] = kw_prefixitems,
    [KW_ITEMS] = kw_items,
    [KW_CONTAINS] = kw_contains,
    [KW_PROPERTIES] = kw_properties,
    [KW_PATTERNPROPS] = kw_patternprops,
    [KW_ADDPROPS] = kw_addprops,
    [KW_PROPNAMES] = kw_propnames,
    [KW_UNEVALITEMS] = kw_later,
    [KW_UNEVALPROPS] = kw_later,
};

/* unevaluatedProperties, after every sibling marked 'ann'. */
static bool
uneval_props(struct ctx *c, const struct kw *k, const json_t *inst, struct ann *ann)
{
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
               is_false_schema(c, k->child)
                   ? "Unevaluated properties are not allowed (%s unexpected)"
                   : "Unevaluated properties are not valid under the given schema (%s "
                     "unexpected)",
               herald_buf_cstr(&b));
        herald_buf_free(&b);
    }
    free(bad);
    return nbad == 0;
}

/* unevaluatedItems, after every sibling marked 'ann'. */
static bool
uneval_items(struct ctx *c, const struct kw *k, const json_t *inst, struct ann *ann)
{
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
    if (nbad)
        report(c, "unevaluatedItems", k->val,
               is_false_schema(c, k->child)
                   ? "Unevaluated items are not allowed (%s %s unexpected)"
                   : "Unevaluated items are not valid under the given schema (%s %s "
                     "unexpected)",
               herald_buf_cstr(&b), nbad == 1 ? "was" : "were");
    herald_buf_free(&b);
    return nbad == 0;
}

static bool
eval_uneval(struct ctx *c, const struct kw *k, const json_t *inst, struct ann *ann)
{
    if (k->kind == KW_UNEVALPROPS && json_is_object(inst))
        return uneval_props(c, k, inst, ann);
    if (k->kind == KW_UNEVALITEMS && json_is_array(inst))
        return uneval_items(c, k, inst, ann);
    return true;
}

/* One keyword of node 'n' (the dispatch: kw_eval[] by kind), counted against the budget. */
static bool
eval_kw(struct ctx *c, const struct node *n, const struct kw *k, const json_t *inst,
        struct ann *ann)
{
    if (!step(c))
        return false;
    return kw_eval[k->kind](c, n, k, inst, ann);
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
    c.regex_left = JS_REGEX_BUDGET;
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
    pcre2_match_context_free(c.mctx);
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
